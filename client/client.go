// Package client talks to jobstatus over HTTP: an MIS reads and waits for
// jobs through the public API, a worker service creates and finishes them
// through the write API. It depends on the standard library only, so other
// modules can import it without pulling in the service.
//
// Credentials given to a Client are sent in headers only and never appear
// in its errors or in its formatted value.
package client

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Status is a job's state.
type Status string

const (
	// StatusPending is a job still being processed.
	StatusPending Status = "PENDING"
	// StatusDone is a job that succeeded; its Links name what it produced.
	StatusDone Status = "DONE"
	// StatusFailed is a job that failed; its Error says why.
	StatusFailed Status = "FAILED"
)

// Terminal reports whether the status is final (DONE or FAILED).
func (s Status) Terminal() bool { return s == StatusDone || s == StatusFailed }

// Link points at a resource a finished job produced.
type Link struct {
	Entity string `json:"entity"`
	Href   string `json:"href"`
}

// Failure says why a job failed.
type Failure struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// Job is an asynchronous composition job.
type Job struct {
	ID     string    `json:"id"`
	Status Status    `json:"status"`
	ETA    time.Time `json:"eta"`
	Links  []Link    `json:"links"`
	Error  *Failure  `json:"error,omitempty"`
}

// Defaults of New.
const (
	// DefaultPreferWait is how long Wait asks the server to hold each request.
	DefaultPreferWait = 25 * time.Second
	// DefaultMinBackoff is the first backoff after a 429, 503 or network error.
	DefaultMinBackoff = 500 * time.Millisecond
	// DefaultMaxBackoff caps the backoff; a server's Retry-After may exceed it.
	DefaultMaxBackoff = 30 * time.Second
)

// secret holds a credential and formats as "[redacted]".
type secret string

func (secret) String() string   { return "[redacted]" }
func (secret) GoString() string { return `"[redacted]"` }

// Client calls one jobstatus listener: the public API (Get, Wait) or the
// write API (Create, Complete, Fail, GetAny). It is safe for concurrent use.
type Client struct {
	base       *url.URL
	http       *http.Client
	token      func(context.Context) (string, error)
	apiKey     secret
	preferWait time.Duration
	minBackoff time.Duration
	maxBackoff time.Duration
	sleep      func(context.Context, time.Duration) error
	jitter     func(time.Duration) time.Duration
	userAgent  string
	onRetry    func(failures int, err error)
}

// Option configures a Client.
type Option func(*Client)

// WithToken sends token as "Authorization: Bearer".
func WithToken(token string) Option {
	s := secret(token)
	return func(c *Client) {
		c.token = func(context.Context) (string, error) { return string(s), nil }
	}
}

// WithTokenFunc asks fn for the bearer token before every request, so a
// caller can refresh tokens that expire during a long Wait.
func WithTokenFunc(fn func(context.Context) (string, error)) Option {
	return func(c *Client) { c.token = fn }
}

// WithAPIKey sends key as the "api-key" header (public API only).
func WithAPIKey(key string) Option { return func(c *Client) { c.apiKey = secret(key) } }

// WithHTTPClient replaces http.DefaultClient. Its Timeout, if any, must
// exceed the preferred wait.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// WithPreferWait sets how long Wait asks the server to hold each request
// ("Prefer: wait"); zero sends no Prefer header and polls.
func WithPreferWait(d time.Duration) Option { return func(c *Client) { c.preferWait = d } }

// WithBackoff sets the first and the largest backoff after a 429, 503 or
// network error; each consecutive one doubles it, with jitter.
func WithBackoff(minimum, maximum time.Duration) Option {
	return func(c *Client) { c.minBackoff, c.maxBackoff = minimum, maximum }
}

// WithSleep replaces how the client waits between requests; sleep must
// return ctx.Err() as soon as ctx ends. Tests pass a fake clock here.
func WithSleep(sleep func(ctx context.Context, d time.Duration) error) Option {
	return func(c *Client) { c.sleep = sleep }
}

// WithJitter replaces the random extra delay added to a backoff of d; it
// must return a value in [0, d]. Tests pass a fixed one.
func WithJitter(jitter func(d time.Duration) time.Duration) Option {
	return func(c *Client) { c.jitter = jitter }
}

// WithRetryHook calls fn each time Wait meets a transient failure (no
// answer, or a 429, 502, 503 or 504) and is about to retry, and each time
// Watch is about to reconnect, with the count of consecutive failures and
// what went wrong, so a caller can say why it is still waiting. fn runs on
// Wait's or Watch's goroutine.
func WithRetryHook(fn func(failures int, err error)) Option {
	return func(c *Client) { c.onRetry = fn }
}

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// New returns a Client for the listener at baseURL (http or https, e.g.
// "https://jobstatus.example" or "http://127.0.0.1:8081" for the write API).
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		// Not quoted: a base URL may carry a password in its userinfo.
		return nil, errors.New("client: base url must be an http or https URL without query")
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	c := &Client{
		base:       u,
		http:       http.DefaultClient,
		preferWait: DefaultPreferWait,
		minBackoff: DefaultMinBackoff,
		maxBackoff: DefaultMaxBackoff,
		sleep:      sleepContext,
		jitter:     func(d time.Duration) time.Duration { return rand.N(d + 1) },
		userAgent:  "jobstatus-client/1",
	}
	for _, o := range opts {
		o(c)
	}
	switch {
	case c.http == nil || c.sleep == nil || c.jitter == nil:
		return nil, errors.New("client: nil http client, sleep or jitter")
	case c.preferWait < 0 || c.minBackoff <= 0 || c.maxBackoff < c.minBackoff:
		return nil, errors.New("client: prefer wait must be >= 0 and backoff 0 < min <= max")
	}
	return c, nil
}

// String describes the client without its credentials.
func (c *Client) String() string { return "jobstatus client for " + c.base.Redacted() }

// GoString is String, so %#v cannot print credentials either.
func (c *Client) GoString() string { return c.String() }

func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

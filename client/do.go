package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxBody caps how much of an answer the client reads.
const maxBody = 1 << 20

// answer is one response, read and closed.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// send makes one request to path (escaped, under the base URL, with an
// optional "?query"). body, when not nil, is sent as JSON. Only the
// transport's failure is an error; any status is an answer.
func (c *Client) send(ctx context.Context, method, path string, header http.Header, body any) (answer, error) {
	var rd io.Reader
	if body != nil {
		buf, err := json.Marshal(body)
		if err != nil {
			return answer{}, fmt.Errorf("client: encode request: %w", err)
		}
		rd = bytes.NewReader(buf)
		header = header.Clone()
		if header == nil {
			header = http.Header{}
		}
		header.Set("Content-Type", "application/json")
	}
	req, err := c.newRequest(ctx, method, path, header, rd)
	if err != nil {
		return answer{}, err
	}
	res, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return answer{}, ctx.Err()
		}
		// url.Error names the URL only; the credentials are in headers.
		return answer{}, &transportError{op: method + " " + path, err: errors.Unwrap(err)}
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, maxBody))
	if err != nil {
		if ctx.Err() != nil {
			return answer{}, ctx.Err()
		}
		return answer{}, &transportError{op: "read answer to " + method + " " + path, err: err}
	}
	return answer{status: res.StatusCode, header: res.Header, body: raw}, nil
}

// newRequest builds a request to path (escaped, with an optional
// "?query") carrying the client's credentials; Accept is JSON unless
// header says otherwise.
func (c *Client) newRequest(ctx context.Context, method, path string, header http.Header, rd io.Reader) (*http.Request, error) {
	path, query, _ := strings.Cut(path, "?")
	u := *c.base
	u.RawPath = c.base.EscapedPath() + path
	u.RawQuery = query
	var err error
	if u.Path, err = url.PathUnescape(u.RawPath); err != nil {
		return nil, fmt.Errorf("client: bad path: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, fmt.Errorf("client: build request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("User-Agent", c.userAgent)
	if c.token != nil {
		token, err := c.token(ctx)
		if err != nil {
			return nil, fmt.Errorf("client: get token: %w", err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if c.apiKey != "" {
		req.Header.Set("Api-Key", string(c.apiKey))
	}
	return req, nil
}

// transportError is a request that got no answer: worth retrying.
type transportError struct {
	op  string
	err error
}

func (e *transportError) Error() string { return "client: " + e.op + ": " + e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

// job decodes a job envelope.
func (a answer) job() (Job, error) {
	var env struct {
		Data *Job `json:"data"`
	}
	if err := json.Unmarshal(a.body, &env); err != nil || env.Data == nil || env.Data.ID == "" {
		return Job{}, fmt.Errorf("client: answer %d is not a job envelope", a.status)
	}
	return *env.Data, nil
}

// err turns an error answer into an *Error.
func (a answer) err() error {
	var env struct {
		Error struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
	}
	e := &Error{Status: a.status, RetryAfter: retryAfter(a.header, time.Now())}
	if json.Unmarshal(a.body, &env) == nil && env.Error.Type != "" {
		e.Type, e.Message = env.Error.Type, env.Error.Message
	} else {
		e.Message = http.StatusText(a.status)
	}
	return e
}

// retryAfter reads Retry-After in seconds or as an HTTP date; zero when
// absent or unreadable.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if strings.TrimLeft(v, "0123456789") == "" { // delta-seconds: digits only (RFC 9110 section 10.2.3)
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil { // digits only, so too large: the largest wait
			n = math.MaxInt32
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// jobPath escapes id into path.
func jobPath(prefix, id, suffix string) (string, error) {
	if id == "" {
		return "", fmt.Errorf("client: empty job id: %w", ErrInvalid)
	}
	return prefix + url.PathEscape(id) + suffix, nil
}

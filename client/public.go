package client

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"
)

// PublicJobPath is the public status endpoint, followed by the job id.
const PublicJobPath = "/patients/composition/job/"

// Get reads a job once through the public API (needs WithToken and
// WithAPIKey). Error answers are *Error.
func (c *Client) Get(ctx context.Context, id string) (Job, error) {
	return c.jobAt(ctx, http.MethodGet, PublicJobPath, id, "", nil)
}

// Wait returns the job once it is DONE or FAILED, polling the public API
// the way the service asks to be polled: each request asks the server to
// hold it ("Prefer: wait") and carries the last ETag ("If-None-Match"); a
// PENDING answer is followed by a pause of its Retry-After (the least
// backoff when it carries none and was not held); a 429, a 503, a
// 502, a 504 or a network error by a growing, jittered backoff that is never
// shorter than the server's Retry-After. Any other error answer ends Wait
// with an *Error. When ctx ends, Wait returns ctx.Err() at once, whether it
// is waiting on the server or pausing.
func (c *Client) Wait(ctx context.Context, id string) (Job, error) {
	path, err := jobPath(PublicJobPath, id, "")
	if err != nil {
		return Job{}, err
	}
	var (
		etag     string
		failures int // consecutive transient failures, for the backoff
	)
	for {
		if err := ctx.Err(); err != nil {
			return Job{}, err
		}
		header := http.Header{}
		if c.preferWait > 0 {
			header.Set("Prefer", "wait="+strconv.Itoa(max(1, int(c.preferWait/time.Second))))
		}
		if etag != "" {
			header.Set("If-None-Match", etag)
		}
		a, err := c.send(ctx, http.MethodGet, path, header, nil)
		var pause time.Duration
		var transport *transportError
		switch {
		case errors.As(err, &transport):
			failures++
			pause = c.backoff(failures, 0)
		case err != nil: // the context ended, or no token
			return Job{}, err
		case a.status == http.StatusOK:
			job, err := a.job()
			if err != nil {
				return Job{}, err
			}
			if job.Status.Terminal() {
				return job, nil
			}
			etag, failures = a.header.Get("ETag"), 0
			pause = c.pending(a.header)
		case a.status == http.StatusNotModified && etag != "":
			// Still the PENDING job we saw.
			failures = 0
			pause = c.pending(a.header)
		case a.status == http.StatusTooManyRequests, a.status == http.StatusServiceUnavailable,
			a.status == http.StatusBadGateway, a.status == http.StatusGatewayTimeout:
			failures++
			pause = c.backoff(failures, retryAfter(a.header, time.Now()))
			err = a.err()
		default:
			return Job{}, a.err()
		}
		if failures > 0 && err != nil && c.onRetry != nil {
			c.onRetry(failures, err)
		}
		if pause > 0 {
			if err := c.sleep(ctx, pause); err != nil {
				return Job{}, err
			}
		}
	}
}

// pending is the pause after a PENDING answer: none when the server held
// the request (Preference-Applied: it waited for a change already, so the
// next request is held again at once), else the answer's Retry-After, and
// the least backoff when it has none (the service always sends one, but a
// proxy may drop it: polling again at once, Wait sent thousands of
// requests a second).
func (c *Client) pending(h http.Header) time.Duration {
	if h.Get("Preference-Applied") != "" {
		return 0
	}
	if d := retryAfter(h, time.Now()); d > 0 {
		return d
	}
	return c.minBackoff
}

// backoff is the pause after the n-th consecutive transient failure: an
// exponential step from minBackoff, capped at maxBackoff, never below the
// server's hint, plus jitter of up to half of it.
func (c *Client) backoff(n int, hint time.Duration) time.Duration {
	step := c.minBackoff
	for i := 1; i < n && step < c.maxBackoff; i++ {
		step *= 2
	}
	step = max(min(step, c.maxBackoff), hint)
	return step + c.jitter(step/2)
}

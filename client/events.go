package client

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Paths of the listing and of the event stream.
const (
	JobsPath   = "/patients/composition/jobs"
	EventsPath = "/patients/composition/jobs/events"
)

// Change is one item of Watch: a change of one of the caller's jobs, or a
// Reset saying changes were missed (the client's last id is past the
// service's retention): List the jobs again.
type Change struct {
	// ID is the change's position; pass the last one seen to Watch to resume.
	ID string `json:"id"`
	// Event is the status the change gave the job, or "reset".
	Event string `json:"event"`
	// Reset is true for the reset event, which carries no job.
	Reset bool `json:"reset,omitempty"`
	// Job is the job as the status endpoint shows it, at that status.
	Job *Job `json:"job,omitempty"`
}

// Watch streams the caller's job changes (public API, Server-Sent Events)
// after lastEventID ("" for live changes only). It reconnects by itself
// after a network error, a 429, a 5xx or the end of a stream, with
// Last-Event-ID and a growing, jittered backoff (never shorter than the
// server's retry: or Retry-After), so the sequence has every change once
// and in order. It ends when ctx ends (without an error) or on an answer
// that retrying cannot fix (401, 403, 400): then the last item is that
// *Error. Before each reconnect it calls the retry hook (WithRetryHook)
// with the failure, ErrStreamEnded when the service ended the stream.
// Stop ranging to close the stream.
func (c *Client) Watch(ctx context.Context, lastEventID string) iter.Seq2[Change, error] {
	return func(yield func(Change, error) bool) {
		last := lastEventID
		failures := 0
		hint := time.Duration(0)
		for ctx.Err() == nil {
			got, err := c.stream(ctx, last, &hint, func(ch Change) bool {
				last = ch.ID
				return yield(ch, nil)
			})
			var e *Error
			switch {
			case errors.Is(err, errStopped) || ctx.Err() != nil:
				return
			case errors.As(err, &e) && !retryable(e.Status):
				yield(Change{}, err)
				return
			case got:
				failures = 0 // it streamed: start the backoff over
			}
			failures++
			wait := c.backoff(failures, hint)
			if e != nil {
				wait = max(wait, e.RetryAfter)
			}
			if c.onRetry != nil {
				if err == nil {
					err = ErrStreamEnded
				}
				c.onRetry(failures, err)
			}
			if c.sleep(ctx, wait) != nil {
				return
			}
		}
	}
}

// ErrStreamEnded is what Watch tells the retry hook (WithRetryHook) when
// the service ended a stream (shutdown, a lagging stream, an expired
// token) and Watch reconnects.
var ErrStreamEnded = errors.New("client: the service ended the stream")

// errStopped is the consumer leaving the range loop.
var errStopped = errors.New("client: watch stopped")

func retryable(status int) bool {
	return status == http.StatusTooManyRequests || status >= 500
}

// stream reads one connection until it ends; got says whether any frame
// came. hint receives the server's retry: value.
func (c *Client) stream(ctx context.Context, last string, hint *time.Duration, emit func(Change) bool) (got bool, err error) {
	header := http.Header{"Accept": {"text/event-stream"}}
	if last != "" {
		header.Set("Last-Event-ID", last)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := c.newRequest(ctx, http.MethodGet, EventsPath, header, nil)
	if err != nil {
		return false, err
	}
	res, err := c.http.Do(req)
	if err != nil {
		return false, &transportError{op: "GET " + EventsPath, err: errors.Unwrap(err)}
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(io.LimitReader(res.Body, maxBody))
		return false, answer{status: res.StatusCode, header: res.Header, body: raw}.err()
	}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 0, 4096), maxBody)
	var id, event, data string
	for sc.Scan() {
		got = true
		line := sc.Text()
		if line != "" {
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "id":
				id = value
			case "event":
				event = value
			case "data":
				data = value
			case "retry":
				if d, ok := sseRetry(value); ok {
					*hint = d
				}
			}
			continue
		}
		if event == "" {
			continue // a heartbeat or a retry
		}
		ch := Change{ID: id, Event: event, Reset: event == "reset"}
		if !ch.Reset {
			var j Job
			if err := json.Unmarshal([]byte(data), &j); err != nil {
				return got, fmt.Errorf("client: event %s: %w", id, err)
			}
			ch.Job = &j
		}
		event, data = "", ""
		if !emit(ch) {
			return got, errStopped
		}
	}
	if err := sc.Err(); err != nil && ctx.Err() == nil {
		return got, &transportError{op: "read " + EventsPath, err: err}
	}
	return got, nil
}

// ListFilter selects jobs for List; zero fields select everything.
type ListFilter struct {
	Status      Status
	CreatedFrom time.Time // inclusive
	CreatedTo   time.Time // exclusive
	PageSize    int       // zero: the service's default
	PageToken   string    // a previous page's NextPageToken
}

// JobPage is one page of List.
type JobPage struct {
	Jobs []Job
	// Unreadable are the ids of the page's jobs the service cannot read
	// now (rows an operator wrote by hand against its rules): they are not
	// in Jobs, and polling one answers *Error with Status 500 until the
	// operator fixes its row.
	Unreadable []string
	// NextPageToken asks for the next page; empty on the last one.
	NextPageToken string
}

// List returns one page of the caller's jobs, newest first (public API).
// Error answers are *Error.
func (c *Client) List(ctx context.Context, f ListFilter) (JobPage, error) {
	q := url.Values{}
	if f.Status != "" {
		q.Set("status", string(f.Status))
	}
	if !f.CreatedFrom.IsZero() {
		q.Set("created_from", f.CreatedFrom.UTC().Format(time.RFC3339Nano))
	}
	if !f.CreatedTo.IsZero() {
		q.Set("created_to", f.CreatedTo.UTC().Format(time.RFC3339Nano))
	}
	if f.PageSize > 0 {
		q.Set("page_size", strconv.Itoa(f.PageSize))
	}
	if f.PageToken != "" {
		q.Set("page_token", f.PageToken)
	}
	path := JobsPath
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	a, err := c.send(ctx, http.MethodGet, path, nil, nil)
	if err != nil {
		return JobPage{}, err
	}
	if a.status != http.StatusOK {
		return JobPage{}, a.err()
	}
	var env struct {
		Data []Job `json:"data"`
		Meta struct {
			NextPageToken string   `json:"next_page_token"`
			Unreadable    []string `json:"unreadable"`
		} `json:"meta"`
	}
	if err := json.Unmarshal(a.body, &env); err != nil || env.Data == nil {
		return JobPage{}, fmt.Errorf("client: answer %d is not a job list", a.status)
	}
	return JobPage{Jobs: env.Data, Unreadable: env.Meta.Unreadable, NextPageToken: env.Meta.NextPageToken}, nil
}

// ListAll yields every job matching f, page after page; an error ends it.
// The jobs the service cannot read (JobPage.Unreadable) are not yielded:
// List names them.
func (c *Client) ListAll(ctx context.Context, f ListFilter) iter.Seq2[Job, error] {
	return func(yield func(Job, error) bool) {
		for {
			page, err := c.List(ctx, f)
			if err != nil {
				yield(Job{}, err)
				return
			}
			for _, j := range page.Jobs {
				if !yield(j, nil) {
					return
				}
			}
			if page.NextPageToken == "" {
				return
			}
			f.PageToken = page.NextPageToken
		}
	}
}

// sseRetry reads a retry: field: milliseconds, ASCII digits only, or the
// field is ignored (the Server-Sent Events standard), as is a value too
// large to represent.
func sseRetry(value string) (time.Duration, bool) {
	if value == "" || strings.TrimLeft(value, "0123456789") != "" {
		return 0, false
	}
	ms, err := strconv.ParseInt(value, 10, 64)
	if err != nil || ms > int64(math.MaxInt64/time.Millisecond) {
		return 0, false
	}
	return time.Duration(ms) * time.Millisecond, true
}

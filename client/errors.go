package client

import (
	"errors"
	"net/http"
	"strconv"
	"time"
)

// Sentinels for errors.Is on an *Error.
var (
	// ErrInvalid is a 400: the id or the request broke a rule.
	ErrInvalid = errors.New("jobstatus: invalid request")
	// ErrUnauthorized is a 401: credentials missing, invalid or unknown.
	ErrUnauthorized = errors.New("jobstatus: unauthorized")
	// ErrForbidden is a 403: the token lacks the scope this API needs.
	ErrForbidden = errors.New("jobstatus: forbidden")
	// ErrNotFound is a 404: no such job, or not the caller's.
	ErrNotFound = errors.New("jobstatus: not found")
	// ErrConflict is a 409: the job already finished another way.
	ErrConflict = errors.New("jobstatus: conflict")
	// ErrRateLimited is a 429: too many requests; Wait retries these.
	ErrRateLimited = errors.New("jobstatus: rate limited")
	// ErrUnavailable is a 503: the service is busy or its store is down;
	// Wait retries these.
	ErrUnavailable = errors.New("jobstatus: unavailable")
)

// Error is an error answer of the service: its status and the envelope's
// error type and message.
type Error struct {
	Status  int    // HTTP status
	Type    string // the envelope's error.type, e.g. "not_found"
	Message string // the envelope's error.message, safe to show
	// RetryAfter is the server's Retry-After hint, zero when absent.
	RetryAfter time.Duration
}

// Error implements error.
func (e *Error) Error() string {
	s := "jobstatus: " + strconv.Itoa(e.Status)
	if e.Type != "" {
		s += " " + e.Type
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Is matches the sentinel of e's status.
func (e *Error) Is(target error) bool {
	switch e.Status {
	case http.StatusBadRequest:
		return target == ErrInvalid
	case http.StatusUnauthorized:
		return target == ErrUnauthorized
	case http.StatusForbidden:
		return target == ErrForbidden
	case http.StatusNotFound:
		return target == ErrNotFound
	case http.StatusConflict:
		return target == ErrConflict
	case http.StatusTooManyRequests:
		return target == ErrRateLimited
	case http.StatusServiceUnavailable:
		return target == ErrUnavailable
	}
	return false
}

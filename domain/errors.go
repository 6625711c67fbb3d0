package domain

import (
	"errors"
	"fmt"
	"time"
)

// ErrNotFound means the job does not exist, or is not visible to the caller:
// the two are deliberately indistinguishable.
var ErrNotFound = errors.New("job not found")

// ErrConflict means a terminal job was asked to end differently from how it
// already ended.
var ErrConflict = errors.New("job already finished with a different outcome")

// ErrIdempotencyKeyReused means an idempotency key that named a pending
// job was sent again with a different request.
var ErrIdempotencyKeyReused = errors.New("idempotency key reused with a different request")

// ErrAlreadyExists means a job with the same id exists already.
var ErrAlreadyExists = errors.New("job already exists")

// ErrUnavailable means a dependency (the store) could not answer in time; the
// request may succeed if retried.
var ErrUnavailable = errors.New("store unavailable")

// UnreadableJobError says a store holds a job it cannot read as one: a
// row written by hand (hand-written SQL) that breaks the service's rules,
// such as links of another shape or a time that is no date or lies
// outside ValidTime. ClientID is the job's owner, so that a caller who
// may not see the job still gets ErrNotFound. Field names what cannot be
// read as the store calls it ("eta", "links"); Reason says why, for logs.
type UnreadableJobError struct {
	ID       ID
	ClientID string
	Field    string
	Reason   string
}

// Error implements error.
func (e *UnreadableJobError) Error() string {
	return fmt.Sprintf("job %s cannot be read: %s: %s", e.ID, e.Field, e.Reason)
}

// ValidationError reports input that breaks a rule.
type ValidationError struct {
	Field  string
	Reason string
}

// Error implements error.
func (e *ValidationError) Error() string {
	return fmt.Sprintf("invalid %s: %s", e.Field, e.Reason)
}

// Credential names which credential failed authentication.
type Credential string

const (
	// CredentialToken is the bearer access token.
	CredentialToken Credential = "token"
	// CredentialAPIKey is the MIS client's api-key.
	CredentialAPIKey Credential = "api-key"
)

// AuthError means the caller could not be authenticated. Reason is for logs
// and metrics only; clients learn no more than which credential was refused.
type AuthError struct {
	Credential Credential
	Reason     string
}

// Error implements error.
func (e *AuthError) Error() string {
	return fmt.Sprintf("invalid %s: %s", e.Credential, e.Reason)
}

// ForbiddenError means an authenticated caller lacks a scope.
type ForbiddenError struct {
	MissingScopes []string
}

// Error implements error.
func (e *ForbiddenError) Error() string {
	return fmt.Sprintf("missing scopes %v", e.MissingScopes)
}

// RateLimitedError means the client sent more requests than it may; it
// may try again after RetryAfter.
type RateLimitedError struct {
	ClientID   string
	RetryAfter time.Duration
}

// Error implements error.
func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("client %s is over its rate limit; retry after %s", e.ClientID, e.RetryAfter)
}

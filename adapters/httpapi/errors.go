package httpapi

import (
	"errors"
	nethttp "net/http"
	"strings"
	"time"

	"github.com/jobstatus/jobstatus/domain"
)

// Error types and messages, as docs/http-api.md lists them.
const (
	typeValidation   = "validation_failed"
	typeAccessDenied = "access_denied"
	typeForbidden    = "forbidden"
	typeNotFound     = "not_found"
	typeMethod       = "method_not_allowed"
	typeTooLarge     = "request_too_large"
	typeInternal     = "internal_error"
	typeUnavailable  = "service_unavailable"
	typeRateLimited  = "too_many_requests"
	typeConflict     = "conflict"
	typeKeyReused    = "idempotency_key_reused"
	typePrecondition = "precondition_failed"

	msgInvalidToken  = "Invalid access token"
	msgInvalidAPIKey = "Invalid api-key"
	msgTaskNotFound  = "Task not found"
	msgNoRoute       = "Resource not found"
	msgBadID         = "asyncJobId must be a UUID"
	msgMalformed     = "Request is malformed"
	msgForbidden     = "Your scope does not allow to access this resource. Missing allowances: "
	msgTooLarge      = "Request headers are too large"
	msgInternal      = "Internal server error"
	msgUnavailable   = "Service is temporarily unavailable, retry later"
	msgBusy          = "Service is busy, retry later"
	msgRateLimited   = "Rate limit exceeded, retry later"
	msgPrecondition  = "Precondition failed"
)

// errorTable is every error answer of the public API: status, type and
// message, where {method} and {scopes} stand for what the request filled in.
// docs/http-api.md's status table is tested against it, and a test sends a
// request for each row.
var errorTable = []problem{
	{status: nethttp.StatusBadRequest, kind: typeValidation, message: msgBadID},
	{status: nethttp.StatusBadRequest, kind: typeValidation, message: msgMalformed},
	{status: nethttp.StatusUnauthorized, kind: typeAccessDenied, message: msgInvalidToken},
	{status: nethttp.StatusUnauthorized, kind: typeAccessDenied, message: msgInvalidAPIKey},
	{status: nethttp.StatusForbidden, kind: typeForbidden, message: msgForbidden + "{scopes}"},
	{status: nethttp.StatusNotFound, kind: typeNotFound, message: msgTaskNotFound},
	{status: nethttp.StatusNotFound, kind: typeNotFound, message: msgNoRoute},
	{status: nethttp.StatusMethodNotAllowed, kind: typeMethod, message: "Method {method} is not allowed"},
	{status: nethttp.StatusPreconditionFailed, kind: typePrecondition, message: msgPrecondition},
	{status: nethttp.StatusTooManyRequests, kind: typeRateLimited, message: msgRateLimited},
	{status: nethttp.StatusRequestHeaderFieldsTooLarge, kind: typeTooLarge, message: msgTooLarge},
	{status: nethttp.StatusInternalServerError, kind: typeInternal, message: msgInternal},
	{status: nethttp.StatusServiceUnavailable, kind: typeUnavailable, message: msgUnavailable},
	{status: nethttp.StatusServiceUnavailable, kind: typeUnavailable, message: msgBusy},
}

// problem is an error as the client will see it.
type problem struct {
	status     int
	kind       string
	message    string
	retryAfter time.Duration // for 429; 503 always says retryAfterUnavailable
	scope      string        // for 403: the missing scopes, space-separated
}

// retryAfterUnavailable is what a 503 tells clients to wait, in seconds.
const retryAfterUnavailable = 1

// classify maps an error to what the client sees. It is the one place where
// domain errors become HTTP statuses; anything unknown is a 500 whose text
// never leaves the server.
func classify(err error) problem {
	var (
		authErr  *domain.AuthError
		forbid   *domain.ForbiddenError
		validErr *domain.ValidationError
		limited  *domain.RateLimitedError
	)
	switch {
	case errors.As(err, &limited):
		return problem{status: nethttp.StatusTooManyRequests, kind: typeRateLimited, message: msgRateLimited, retryAfter: limited.RetryAfter}
	case errors.As(err, &authErr):
		msg := msgInvalidToken
		if authErr.Credential == domain.CredentialAPIKey {
			msg = msgInvalidAPIKey
		}
		return problem{status: nethttp.StatusUnauthorized, kind: typeAccessDenied, message: msg}
	case errors.As(err, &forbid):
		return problem{status: nethttp.StatusForbidden, kind: typeForbidden, message: forbiddenMessage(forbid.MissingScopes),
			scope: strings.Join(forbid.MissingScopes, " ")}
	case errors.As(err, &validErr):
		return problem{status: nethttp.StatusBadRequest, kind: typeValidation, message: validationMessage(validErr)}
	case errors.Is(err, domain.ErrConflict):
		return problem{status: nethttp.StatusConflict, kind: typeConflict, message: "Job already finished with a different outcome"}
	case errors.Is(err, domain.ErrIdempotencyKeyReused):
		return problem{status: nethttp.StatusConflict, kind: typeKeyReused, message: "Idempotency-Key was used for a different request"}
	case errors.Is(err, domain.ErrNotFound):
		return problem{status: nethttp.StatusNotFound, kind: typeNotFound, message: msgTaskNotFound}
	case errors.Is(err, domain.ErrUnavailable):
		return problem{status: nethttp.StatusServiceUnavailable, kind: typeUnavailable, message: msgUnavailable}
	}
	return problem{status: nethttp.StatusInternalServerError, kind: typeInternal, message: msgInternal}
}

func forbiddenMessage(missing []string) string {
	msg := msgForbidden
	for i, s := range missing {
		if i > 0 {
			msg += ", "
		}
		msg += s
	}
	return msg
}

func validationMessage(e *domain.ValidationError) string {
	if e.Field == "asyncJobId" { // the public path parameter
		return msgBadID
	}
	if e.Field == "" || e == errMalformed {
		return msgMalformed
	}
	// Field and Reason are written by the service, never copied from input
	// beyond a field name the caller sent.
	return "Invalid " + e.Field + ": " + e.Reason
}

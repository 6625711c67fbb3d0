package http

import (
	"encoding/json"
	"errors"
	nethttp "net/http"
	"strconv"

	"github.com/jobstatus/jobstatus/domain"
)

// Meta is the envelope's description of the response.
type Meta struct {
	Code      int    `json:"code"`
	URL       string `json:"url"`
	Type      string `json:"type"`
	RequestID string `json:"request_id"`
}

// JobData is a job as clients see it.
type JobData struct {
	ID     string          `json:"id"`
	Status domain.Status   `json:"status"`
	ETA    string          `json:"eta"`
	Links  []domain.Link   `json:"links"`
	Error  *domain.Failure `json:"error,omitempty"`
}

// ErrorData says what went wrong, in words safe to show to anyone.
type ErrorData struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

type jobEnvelope struct {
	Data JobData `json:"data"`
	Meta Meta    `json:"meta"`
}

type errorEnvelope struct {
	Error ErrorData `json:"error"`
	Meta  Meta      `json:"meta"`
}

// etaLayout is RFC 3339 in UTC with milliseconds, as the registry writes it.
const etaLayout = "2006-01-02T15:04:05.000Z07:00"

func toJobData(j domain.Job) JobData {
	links := j.Links
	if links == nil {
		links = []domain.Link{}
	}
	d := JobData{ID: j.ID.String(), Status: j.Status, ETA: j.ETA.UTC().Format(etaLayout), Links: links}
	if j.Status == domain.StatusFailed {
		d.Error = j.Failure
	}
	return d
}

// Error types and messages (SPEC.md).
const (
	typeValidation   = "validation_failed"
	typeAccessDenied = "access_denied"
	typeForbidden    = "forbidden"
	typeNotFound     = "not_found"
	typeMethod       = "method_not_allowed"
	typeTooLarge     = "request_too_large"
	typeInternal     = "internal_error"
	typeUnavailable  = "service_unavailable"

	msgInvalidToken  = "Invalid access token"
	msgInvalidAPIKey = "Invalid api-key"
	msgTaskNotFound  = "Task not found"
)

// problem is an error as the client will see it.
type problem struct {
	status  int
	kind    string
	message string
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
	)
	switch {
	case errors.As(err, &authErr):
		msg := msgInvalidToken
		if authErr.Credential == domain.CredentialAPIKey {
			msg = msgInvalidAPIKey
		}
		return problem{nethttp.StatusUnauthorized, typeAccessDenied, msg}
	case errors.As(err, &forbid):
		return problem{nethttp.StatusForbidden, typeForbidden, forbiddenMessage(forbid.MissingScopes)}
	case errors.As(err, &validErr):
		return problem{nethttp.StatusBadRequest, typeValidation, validationMessage(validErr)}
	case errors.Is(err, domain.ErrNotFound):
		return problem{nethttp.StatusNotFound, typeNotFound, msgTaskNotFound}
	case errors.Is(err, domain.ErrUnavailable):
		return problem{nethttp.StatusServiceUnavailable, typeUnavailable, "Service is temporarily unavailable, retry later"}
	}
	return problem{nethttp.StatusInternalServerError, typeInternal, "Internal server error"}
}

func forbiddenMessage(missing []string) string {
	msg := "Your scope does not allow to access this resource. Missing allowances: "
	for i, s := range missing {
		if i > 0 {
			msg += ", "
		}
		msg += s
	}
	return msg
}

func validationMessage(e *domain.ValidationError) string {
	if e.Field == "asyncJobId" {
		return "asyncJobId must be a UUID"
	}
	return "Request is malformed"
}

// write sends body as the JSON envelope with status. HEAD gets the same
// headers and no body.
func write(w nethttp.ResponseWriter, r *nethttp.Request, status int, body any) {
	buf, err := json.Marshal(body)
	if err != nil {
		// Cannot happen for the envelope types; answer something valid anyway.
		status = nethttp.StatusInternalServerError
		buf = []byte(`{"error":{"type":"internal_error","message":"Internal server error"}}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(buf)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	if r.Method != nethttp.MethodHead {
		_, _ = w.Write(buf)
	}
}

func meta(r *nethttp.Request, status int) Meta {
	return Meta{Code: status, URL: r.URL.EscapedPath(), Type: "object", RequestID: RequestIDFrom(r.Context())}
}

func writeJob(w nethttp.ResponseWriter, r *nethttp.Request, j domain.Job) {
	w.Header().Set("Cache-Control", "no-store")
	write(w, r, nethttp.StatusOK, jobEnvelope{Data: toJobData(j), Meta: meta(r, nethttp.StatusOK)})
}

func writeProblem(w nethttp.ResponseWriter, r *nethttp.Request, p problem) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	switch p.status {
	case nethttp.StatusUnauthorized:
		h.Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	case nethttp.StatusForbidden:
		h.Set("WWW-Authenticate", `Bearer error="insufficient_scope", scope="`+domain.ScopeCompositionRead+`"`)
	case nethttp.StatusServiceUnavailable:
		h.Set("Retry-After", strconv.Itoa(retryAfterUnavailable))
	case nethttp.StatusMethodNotAllowed:
		h.Set("Allow", "GET, HEAD")
	}
	write(w, r, p.status, errorEnvelope{Error: ErrorData{Type: p.kind, Message: p.message}, Meta: meta(r, p.status)})
}

package httpapi

import (
	"encoding/json"
	"errors"
	nethttp "net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jobstatus/jobstatus/app"

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
	ID     string        `json:"id"`
	Status domain.Status `json:"status"`
	ETA    string        `json:"eta"`
	Links  []LinkData    `json:"links"`
	Error  *FailureData  `json:"error,omitempty"`
}

// LinkData is a link as clients see it.
type LinkData struct {
	Entity string `json:"entity"`
	Href   string `json:"href"`
}

// FailureData is why a job failed, as clients see it.
type FailureData struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// ErrorData says what went wrong, in words safe to show to anyone.
type ErrorData struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

type errorEnvelope struct {
	Error ErrorData `json:"error"`
	Meta  Meta      `json:"meta"`
}

// etaLayout is RFC 3339 in UTC with milliseconds, as the registry writes it.
const etaLayout = "2006-01-02T15:04:05.000Z07:00"

func toJobData(j domain.Job) JobData {
	links := make([]LinkData, len(j.Links))
	for i, l := range j.Links {
		links[i] = LinkData{Entity: l.Entity, Href: l.Href}
	}
	d := JobData{ID: j.ID.String(), Status: j.Status, ETA: j.ETA.UTC().Format(etaLayout), Links: links}
	if j.Status == domain.StatusFailed && j.Failure != nil {
		d.Error = &FailureData{Code: j.Failure.Code, Message: j.Failure.Message}
	}
	return d
}

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

// write sends body as the JSON envelope with status. HEAD gets the same
// headers and no body.
func write(w nethttp.ResponseWriter, r *nethttp.Request, status int, body any) {
	buf, err := json.Marshal(body)
	if err != nil {
		// Cannot happen for the envelope types; answer something valid anyway.
		status = nethttp.StatusInternalServerError
		buf = []byte(`{"error":{"type":"internal_error","message":"Internal server error"}}`)
	}
	writeRaw(w, r, status, buf)
}

func writeRaw(w nethttp.ResponseWriter, r *nethttp.Request, status int, buf []byte) {
	h := w.Header()
	h["Content-Type"] = contentTypeJSON
	h["Content-Length"] = decimal(len(buf))
	h["X-Content-Type-Options"] = noSniff
	w.WriteHeader(status)
	if r.Method != nethttp.MethodHead {
		_, _ = w.Write(buf)
	}
}

// Header values every JSON answer carries, shared: a header map only ever
// replaces its values, never changes them in place.
var (
	contentTypeJSON = []string{"application/json"}
	noSniff         = []string{"nosniff"}
)

// decimals are header values of numbers under 4 096, each made once, when
// first needed: the Content-Length of every answer of the status route and
// the Retry-After of pending jobs.
var decimals [4 << 10]atomic.Pointer[[]string]

// decimal returns the header value of n.
func decimal(n int) []string {
	if n < 0 || n >= len(decimals) {
		return []string{strconv.Itoa(n)}
	}
	if v := decimals[n].Load(); v != nil {
		return *v
	}
	v := []string{strconv.Itoa(n)}
	decimals[n].Store(&v)
	return v
}

func meta(r *nethttp.Request, status int) Meta {
	return Meta{Code: status, URL: r.URL.EscapedPath(), Type: "object", RequestID: RequestIDFrom(r.Context())}
}

// writeJob answers 200 with the job, 304 when the caller already holds
// this representation, or 412 when its precondition fails (conditional
// headers, RFC 9110 §13.2.2). The weak ETag names the job's version and
// presented eta: meta differs per request. The job's part of the answer is
// pre-encoded (answers); only meta is encoded per request.
func writeJob(w nethttp.ResponseWriter, r *nethttp.Request, st app.JobStatus, enc *answers) {
	ans, err := enc.of(st.Job)
	if err != nil {
		writeProblem(w, r, problem{status: nethttp.StatusInternalServerError, kind: typeInternal, message: msgInternal})
		return
	}
	h := w.Header()
	h["Etag"] = ans.etagValue
	if ans.lastModifiedValue != nil {
		h["Last-Modified"] = ans.lastModifiedValue
	}
	h["Cache-Control"] = ans.cacheControlValue
	if !st.Job.Status.Terminal() {
		h["Retry-After"] = decimal(int(st.RetryAfter.Seconds()))
	}
	if st.Waited > 0 {
		h["Preference-Applied"] = []string{"wait=" + strconv.Itoa(int(st.Waited.Seconds()))}
	}
	switch evaluate(r, ans.etag, ans.modified, ans.hasModified) {
	case notModified:
		w.WriteHeader(nethttp.StatusNotModified)
		return
	case failed:
		for _, k := range []string{"ETag", "Last-Modified", "Retry-After", "Preference-Applied"} {
			h.Del(k)
		}
		writeProblem(w, r, problem{status: nethttp.StatusPreconditionFailed, kind: typePrecondition, message: msgPrecondition})
		return
	}
	// Per request only meta's url and request id: appended, not encoded
	// by reflection (TestJobBodyIsTheEnvelope holds it to the JSON
	// encoding of the same envelope).
	bp := bodies.Get().(*[]byte)
	body := append((*bp)[:0], ans.head...)
	body = appendJSONString(body, r.URL.EscapedPath())
	body = append(body, `,"type":"object","request_id":`...)
	body = appendJSONString(body, RequestIDFrom(r.Context()))
	body = append(body, "}}"...)
	writeRaw(w, r, nethttp.StatusOK, body)
	if cap(body) <= 4<<10 {
		*bp = body
		bodies.Put(bp)
	}
}

// bodies are buffers for 200 bodies: the ResponseWriter copies what it is
// given, so a buffer is reused once written.
var bodies = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// appendJSONString appends s as a JSON string, exactly as encoding/json
// writes it (HTML characters escaped too); strings of plain printable
// ASCII, every path and request id the service answers, take no
// reflection.
func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s) // a string always encodes
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

func writeProblem(w nethttp.ResponseWriter, r *nethttp.Request, p problem) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	switch p.status {
	case nethttp.StatusUnauthorized:
		h.Set("WWW-Authenticate", bearerChallenge(r, p.message == msgInvalidAPIKey))
	case nethttp.StatusForbidden:
		scope := p.scope
		if scope == "" {
			scope = domain.ScopeCompositionRead
		}
		h.Set("WWW-Authenticate", `Bearer error="insufficient_scope", scope="`+scope+`"`)
	case nethttp.StatusServiceUnavailable:
		h.Set("Retry-After", strconv.Itoa(retryAfterUnavailable))
	case nethttp.StatusTooManyRequests:
		h.Set("Retry-After", strconv.Itoa(max(1, int((p.retryAfter+time.Second-1)/time.Second))))
	}
	write(w, r, p.status, errorEnvelope{Error: ErrorData{Type: p.kind, Message: p.message}, Meta: meta(r, p.status)})
}

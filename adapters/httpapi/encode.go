package httpapi

import (
	"encoding/json"
	nethttp "net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jobstatus/jobstatus/app"
	"github.com/jobstatus/jobstatus/domain"
)

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

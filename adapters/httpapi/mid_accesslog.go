package httpapi

import (
	"context"
	nethttp "net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
)

// maxUserAgent is the most of a User-Agent header a log line carries.
const maxUserAgent = 256

// accessLog writes one line per request. It never logs credentials: method,
// path, status, duration, remote address, user agent, client id, request id
// and, when the request is traced, its trace and span ids. Successful
// answers (2xx, 304) are sampled one in sampleSuccess (1: every one, 0:
// none); errors are never sampled. A request whose handler aborted
// (http.ErrAbortHandler) has no line.
func accessLog(logger *zap.Logger, sampleSuccess int) Middleware {
	var n atomic.Uint64
	return func(next nethttp.Handler) nethttp.Handler {
		return nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
			start := time.Now()
			rec := recorder(w)
			next.ServeHTTP(rec, r)
			status := rec.code()
			sendNow(rec, status)
			if success(status) && !sampled(&n, sampleSuccess) {
				return
			}
			ce := logger.Check(zap.InfoLevel, "request")
			if ce == nil {
				return // info is off: nothing to build
			}
			var clientID string
			if info := infoFrom(r.Context()); info != nil {
				clientID = info.clientID
			}
			ua := first(r.Header, hdrUserAgent)
			if len(ua) > maxUserAgent {
				ua = ua[:maxUserAgent]
			}
			fp := lineFields.Get().(*[accessFields]zap.Field)
			ce.Write(append(appendRequestFields(fp[:0], r.Context()),
				zap.String("method", r.Method),
				zap.String("path", r.URL.EscapedPath()),
				zap.Int("status", status),
				zap.Duration("duration", time.Since(start)),
				zap.String("remote_addr", r.RemoteAddr),
				zap.String("user_agent", ua),
				zap.String("client_id", clientID),
			)...)
			*fp = [accessFields]zap.Field{} // keep no request's strings alive
			lineFields.Put(fp)
		})
	}
}

// lineFields hold an access-log line's fields while zap encodes them
// (before Write returns): 640 bytes a logged request would otherwise
// allocate, about 15 % of the bytes a poll allocates.
var lineFields = sync.Pool{New: func() any { return new([accessFields]zap.Field) }}

// sendNow sends a complete answer before its access-log line is built:
// the line's encoding, and a wait for the log's lock while another request
// writes its line, are then no part of the client's latency. net/http would
// send it only after the handler chain returns. Only an answer whose length
// is declared (or which has no body) is sent early: flushing any other
// would turn it into a chunked one.
func sendNow(w *statusRecorder, status int) {
	if !w.wrote {
		return
	}
	if _, ok := w.Header()["Content-Length"]; !ok && status != nethttp.StatusNotModified && status != nethttp.StatusNoContent {
		return
	}
	if f, ok := w.ResponseWriter.(nethttp.Flusher); ok {
		f.Flush()
	}
}

// success is an answer whose log line may be sampled.
func success(status int) bool {
	return status >= 200 && status < 300 || status == nethttp.StatusNotModified
}

// sampled counts one successful answer and says whether it is logged.
func sampled(n *atomic.Uint64, every int) bool {
	if every <= 0 {
		return false
	}
	return (n.Add(1)-1)%uint64(every) == 0
}

// requestFields are the fields every log line about a request carries: its
// request id and, when it is traced, the trace and span ids.
func requestFields(ctx context.Context) []zap.Field {
	return appendRequestFields(make([]zap.Field, 0, accessFields), ctx)
}

// accessFields is how many fields an access log line has at most.
const accessFields = 10

func appendRequestFields(fields []zap.Field, ctx context.Context) []zap.Field {
	fields = append(fields, zap.String("request_id", RequestIDFrom(ctx)))
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		fields = append(fields, zap.String("trace_id", sc.TraceID().String()), zap.String("span_id", sc.SpanID().String()))
	}
	return fields
}

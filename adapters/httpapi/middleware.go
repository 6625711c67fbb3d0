package httpapi

import (
	"context"
	"crypto/rand"
	"fmt"
	nethttp "net/http"
	"runtime/debug"
	"time"

	"go.uber.org/zap"
)

// HeaderLimit is the most request-header bytes the service reads (SPEC.md).
const HeaderLimit = 16 << 10

type ctxKey struct{}

// requestInfo travels in the request context so the access log can say who
// asked, once the handler knows.
type requestInfo struct {
	id       string
	clientID string
	route    string
}

// unmatched is the route label of requests no route took.
const unmatched = "unmatched"

func setRoute(ctx context.Context, route string) {
	if info, ok := ctx.Value(ctxKey{}).(*requestInfo); ok {
		info.route = route
	}
}

// RequestIDFrom returns the request id set by the middleware, or "".
func RequestIDFrom(ctx context.Context) string {
	if info, ok := ctx.Value(ctxKey{}).(*requestInfo); ok {
		return info.id
	}
	return ""
}

func setClientID(ctx context.Context, id string) {
	if info, ok := ctx.Value(ctxKey{}).(*requestInfo); ok {
		info.clientID = id
	}
}

// validRequestID accepts a caller's X-Request-ID only if it is short and made
// of safe characters, so it cannot inject into logs.
func validRequestID(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// statusRecorder remembers the status for the access log.
type statusRecorder struct {
	nethttp.ResponseWriter
	status int
	wrote  bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if !s.wrote {
		s.status, s.wrote = nethttp.StatusOK, true
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (s *statusRecorder) Unwrap() nethttp.ResponseWriter { return s.ResponseWriter }

// observe assigns the request id, recovers panics into a 500 envelope and
// writes one access-log line per request. It never logs credentials: only
// method, path, status, duration, client id and request id.
func observe(logger *zap.Logger, obs Observer, next nethttp.Handler) nethttp.Handler {
	return nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		start := time.Now()
		info := &requestInfo{id: r.Header.Get("X-Request-ID"), route: unmatched}
		if !validRequestID(info.id) {
			info.id = newRequestID()
		}
		r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, info))
		w.Header().Set("X-Request-ID", info.id)
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == nethttp.ErrAbortHandler {
					panic(v)
				}
				logger.Error("panic serving request",
					zap.String("request_id", info.id), zap.Any("panic", v), zap.ByteString("stack", debug.Stack()))
				if !rec.wrote {
					writeProblem(rec, r, problem{status: nethttp.StatusInternalServerError, kind: typeInternal, message: "Internal server error"})
				}
			}
			took := time.Since(start)
			obs.ObserveRequest(info.route, r.Method, rec.status, took)
			logger.Info("request",
				zap.String("method", r.Method),
				zap.String("path", r.URL.EscapedPath()),
				zap.Int("status", rec.status),
				zap.Duration("duration", took),
				zap.String("client_id", info.clientID),
				zap.String("request_id", info.id),
			)
		}()
		next.ServeHTTP(rec, r)
	})
}

// limitHeaders answers 431 with the JSON envelope when the request's headers
// exceed HeaderLimit. The server's own MaxHeaderBytes sits above this limit
// so the service, not net/http, writes the answer.
func limitHeaders(next nethttp.Handler) nethttp.Handler {
	return nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		size := len(r.Method) + len(r.RequestURI) + len(r.Proto) + 4
		for name, values := range r.Header {
			for _, v := range values {
				size += len(name) + len(v) + 4
			}
		}
		if size > HeaderLimit {
			writeProblem(w, r, problem{status: nethttp.StatusRequestHeaderFieldsTooLarge, kind: typeTooLarge, message: "Request headers are too large"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// limitInFlight answers 503 at once when n requests are already being
// served: under overload, fast refusals beat a queue that times out.
func limitInFlight(n int, next nethttp.Handler) nethttp.Handler {
	if n <= 0 {
		return next
	}
	slots := make(chan struct{}, n)
	return nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		select {
		case slots <- struct{}{}:
			defer func() { <-slots }()
			next.ServeHTTP(w, r)
		default:
			writeProblem(w, r, problem{status: nethttp.StatusServiceUnavailable, kind: typeUnavailable, message: "Service is busy, retry later"})
		}
	})
}

package httpapi

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	nethttp "net/http"

	"github.com/jobstatus/jobstatus/domain"
)

type ctxKey struct{}

// requestInfo is the request's context: its parent's, plus the request id
// for the envelope and the logs and what the middleware learn as the
// request goes (route template, client id) for the access log and the
// metrics. What every request needs comes in this one allocation: the
// context value, the X-Request-ID header value and the status recorder.
type requestInfo struct {
	context.Context
	id       string
	clientID string
	route    string
	idValue  [1]string // the X-Request-ID header's value
	rec      statusRecorder
}

// Value implements context.Context: the info itself under ctxKey.
func (i *requestInfo) Value(key any) any {
	if key == (ctxKey{}) {
		return i
	}
	return i.Context.Value(key)
}

// requestID takes the caller's X-Request-ID when it is safe, or makes one,
// echoes it in the response and puts the request's info in its context.
func requestID(next nethttp.Handler) nethttp.Handler {
	return nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		info := &requestInfo{Context: r.Context(), id: first(r.Header, hdrRequestID), route: unmatched}
		if !validRequestID(info.id) {
			info.id = newRequestID()
		}
		info.idValue[0] = info.id
		w.Header()[hdrRequestID] = info.idValue[:]
		info.rec.ResponseWriter = w
		next.ServeHTTP(&info.rec, r.WithContext(info))
	})
}

func infoFrom(ctx context.Context) *requestInfo {
	if info, ok := ctx.(*requestInfo); ok {
		return info
	}
	info, _ := ctx.Value(ctxKey{}).(*requestInfo)
	return info
}

// RequestIDFrom returns the request id set by the middleware, or "".
func RequestIDFrom(ctx context.Context) string {
	if info := infoFrom(ctx); info != nil {
		return info.id
	}
	return ""
}

// setClientID tells the access log who asked, once the handler knows.
func setClientID(ctx context.Context, id string) {
	if info := infoFrom(ctx); info != nil {
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

// newRequestID returns a random RFC 9562 UUID, version 4. A request id
// must be unique, not unguessable (it names a request in the logs and
// grants nothing), so its bits come from math/rand/v2's generator
// (ChaCha8, per thread, seeded by the runtime) rather than crypto/rand,
// which cost each request about 0.2 µs.
func newRequestID() string {
	var u [16]byte
	binary.LittleEndian.PutUint64(u[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(u[8:], rand.Uint64())
	return string(domain.IDFromBits(u))
}

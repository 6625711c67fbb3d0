package httpapi

import (
	nethttp "net/http"
	"time"

	"go.uber.org/zap"
)

// accessLog writes one line per request. It never logs credentials: only
// method, path, status, duration, client id and request id. A request whose
// handler aborted (http.ErrAbortHandler) has no line.
func accessLog(logger *zap.Logger) Middleware {
	return func(next nethttp.Handler) nethttp.Handler {
		return nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
			start := time.Now()
			rec := recorder(w)
			next.ServeHTTP(rec, r)
			var clientID, id string
			if info := infoFrom(r.Context()); info != nil {
				clientID, id = info.clientID, info.id
			}
			logger.Info("request",
				zap.String("method", r.Method),
				zap.String("path", r.URL.EscapedPath()),
				zap.Int("status", rec.status),
				zap.Duration("duration", time.Since(start)),
				zap.String("client_id", clientID),
				zap.String("request_id", id),
			)
		})
	}
}

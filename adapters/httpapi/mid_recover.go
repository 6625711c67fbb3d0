package httpapi

import (
	nethttp "net/http"
	"runtime/debug"

	"go.uber.org/zap"
)

// recoverPanics turns a panic into a logged stack and a 500 envelope (when
// nothing was written yet) whose text says nothing of the panic.
// http.ErrAbortHandler keeps its meaning: it is panicked again.
func recoverPanics(logger *zap.Logger) Middleware {
	return func(next nethttp.Handler) nethttp.Handler {
		return nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
			rec := recorder(w)
			defer func() {
				v := recover()
				if v == nil {
					return
				}
				if v == nethttp.ErrAbortHandler {
					panic(v)
				}
				logger.Error("panic serving request",
					append(requestFields(r.Context()), zap.Any("panic", v), zap.ByteString("stack", debug.Stack()))...)
				if !rec.wrote {
					writeProblem(rec, r, problem{status: nethttp.StatusInternalServerError, kind: typeInternal, message: msgInternal})
				}
			}()
			next.ServeHTTP(rec, r)
		})
	}
}

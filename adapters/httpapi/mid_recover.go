package httpapi

import (
	nethttp "net/http"
	"runtime/debug"

	"go.uber.org/zap"
)

// recoverPanics turns a panic into a logged stack and a 500 envelope whose
// text says nothing of the panic. When part of the answer was written
// already, it logs the stack and aborts the answer (http.ErrAbortHandler:
// the access log and the metrics then have no line for it, as for any
// aborted request). http.ErrAbortHandler keeps its meaning: it is panicked
// again.
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
				if rec.wrote {
					// Part of the answer is out (or buffered): returning would
					// have net/http frame it as complete (a Content-Length it
					// computes, or a last chunk). Cut the connection instead,
					// so the client sees a broken answer, not a short one.
					panic(nethttp.ErrAbortHandler)
				}
				writeProblem(rec, r, problem{status: nethttp.StatusInternalServerError, kind: typeInternal, message: msgInternal})
			}()
			next.ServeHTTP(rec, r)
		})
	}
}

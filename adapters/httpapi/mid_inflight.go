package httpapi

import nethttp "net/http"

// limitInFlight answers 503 at once when n requests are already being
// served: under overload, fast refusals beat a queue that times out. n <= 0
// means no cap.
func limitInFlight(d dispatcher, n int) Middleware {
	return func(next nethttp.Handler) nethttp.Handler {
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
				d.label(r)
				writeProblem(w, r, problem{status: nethttp.StatusServiceUnavailable, kind: typeUnavailable, message: msgBusy})
			}
		})
	}
}

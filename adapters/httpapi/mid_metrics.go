package httpapi

import (
	nethttp "net/http"
	"time"
)

// metrics tells obs the route template, method, status and duration of
// every request.
func metrics(obs Observer) Middleware {
	return func(next nethttp.Handler) nethttp.Handler {
		return nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
			start := time.Now()
			rec := recorder(w)
			next.ServeHTTP(rec, r)
			route := unmatched
			if info := infoFrom(r.Context()); info != nil {
				route = info.route
			}
			obs.ObserveRequest(route, r.Method, rec.status, time.Since(start))
		})
	}
}

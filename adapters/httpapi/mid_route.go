package httpapi

import (
	nethttp "net/http"

	"github.com/gorilla/mux"
)

// unmatched is the route label of requests no route took (404, 405, and
// refusals before the router).
const unmatched = "unmatched"

// routeLabel records the template of the route gorilla/mux matched, the
// label of the access log and the metrics. mux runs it only on a match.
func routeLabel(next nethttp.Handler) nethttp.Handler {
	return nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		if info := infoFrom(r.Context()); info != nil {
			if tmpl, err := mux.CurrentRoute(r).GetPathTemplate(); err == nil {
				info.route = tmpl
			}
		}
		next.ServeHTTP(w, r)
	})
}

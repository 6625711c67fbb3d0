package httpapi

import (
	nethttp "net/http"
	"time"
)

// metrics tells obs the route template, method, status and duration of
// every request, and whether Prefer: wait held it (its answer carries
// Preference-Applied). Every label value comes from a closed set: route
// templates or "unmatched", the standard methods or "other", and the
// status codes net/http can write.
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
			held := rec.Header().Get("Preference-Applied") != ""
			obs.ObserveRequest(route, MethodLabel(r.Method), rec.code(), time.Since(start), held)
		})
	}
}

// otherMethod is the label of every method outside RFC 9110's and PATCH.
const otherMethod = "other"

// MethodLabel maps a request method to a closed set of label values: the
// methods of RFC 9110 section 9 and PATCH as they are, anything else
// "other", so a client cannot add series by inventing methods.
func MethodLabel(m string) string {
	switch m {
	case nethttp.MethodGet, nethttp.MethodHead, nethttp.MethodPost, nethttp.MethodPut, nethttp.MethodPatch,
		nethttp.MethodDelete, nethttp.MethodConnect, nethttp.MethodOptions, nethttp.MethodTrace:
		return m
	}
	return otherMethod
}

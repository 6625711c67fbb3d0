package httpapi

import (
	"errors"
	nethttp "net/http"
	"slices"
	"strings"

	"github.com/gorilla/mux"
)

// unmatched is the route label of requests whose path no route has (404,
// and refusals of such paths before the router).
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

// labelRoute records the template of the route whose path matches r even
// when its method does not (405) or when a middleware refuses r before the
// router sees it (431, 503), so those answers are counted under the route
// their path belongs to rather than "unmatched".
func labelRoute(router *mux.Router, r *nethttp.Request) {
	info := infoFrom(r.Context())
	if info == nil || info.route != unmatched {
		return
	}
	_ = router.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		var m mux.RouteMatch
		if !route.Match(r, &m) && !errors.Is(m.MatchErr, mux.ErrMethodMismatch) {
			return nil
		}
		if tmpl, err := route.GetPathTemplate(); err == nil {
			info.route = tmpl
			return errFound
		}
		return nil
	})
}

// allowHeader sets Allow on a 405 to the methods of the resource r
// targets (RFC 9110 section 15.5.6): every route whose path matches r,
// whatever its method, gives its methods. A path such as
// /internal/jobs/complete is the {id} resource, not the complete action.
func allowHeader(router *mux.Router, next nethttp.Handler) nethttp.Handler {
	return nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		var allow []string
		_ = router.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
			var m mux.RouteMatch
			if route.Match(r, &m) || errors.Is(m.MatchErr, mux.ErrMethodMismatch) {
				methods, _ := route.GetMethods()
				allow = append(allow, methods...)
			}
			return nil
		})
		slices.SortFunc(allow, func(a, b string) int { return methodRank(a) - methodRank(b) })
		w.Header().Set("Allow", strings.Join(slices.Compact(allow), ", "))
		next.ServeHTTP(w, r)
	})
}

// methodRank orders methods as RFC 9110 section 9 lists them.
func methodRank(m string) int {
	if i := slices.Index([]string{"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}, m); i >= 0 {
		return i
	}
	return 100
}

// errFound ends a walk of the routes at the first match.
var errFound = errors.New("found")

// labelled wraps a refusal handler so it labels its answer with labelRoute.
func labelled(router *mux.Router, h nethttp.Handler) nethttp.Handler {
	return nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		labelRoute(router, r)
		h.ServeHTTP(w, r)
	})
}

// pathVar is the segment of r's encoded path after prefix, when the path
// is prefix and one non-empty segment, read as the router reads it
// (encoded, uncleaned: UseEncodedPath, SkipClean), so exactly what the
// router's {name} would match.
func pathVar(r *nethttp.Request, prefix string) (string, bool) {
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), prefix)
	if !ok || rest == "" || strings.IndexByte(rest, '/') >= 0 {
		return "", false
	}
	return rest, true
}

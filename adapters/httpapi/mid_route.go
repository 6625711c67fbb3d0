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

// dispatcher is a listener's one router: it serves each request and labels
// it with the template of its route, the label of the access log and the
// metrics. label alone is for middleware that refuses a request before the
// router sees it (431, 503), so the refusal counts under the route its
// path belongs to rather than "unmatched".
type dispatcher interface {
	nethttp.Handler
	label(r *nethttp.Request)
}

// setRoute records template as r's route label.
func setRoute(r *nethttp.Request, template string) {
	if info := infoFrom(r.Context()); info != nil {
		info.route = template
	}
}

// route is one entry of a routing table: its template, which is its label,
// the methods it serves (the Allow of its 405) and its handler.
type route struct {
	template string
	methods  []string
	serve    nethttp.HandlerFunc
	prefix   string // the template up to its variable; "" for a fixed path
	allow    string // the Allow header of its 405 (RFC 9110 section 15.5.6)
}

// table routes a listener whose templates are fixed paths or a fixed
// prefix and one trailing {variable}: the public API. It matches the path
// as sent, encoded and uncleaned, exactly as gorilla/mux configured with
// UseEncodedPath and SkipClean does (TestTableAnswersLikeGorillaMux), and
// a {variable} is one non-empty segment, as mux's default pattern. It is
// the public API's one dispatcher instead of gorilla/mux because nearly
// every request there is a status poll, and mux costs each poll about 4 µs
// and 9 allocations more in process (docs/architecture.md); the write API
// and the admin listener, with little traffic, keep gorilla/mux.
type table struct {
	routes           []route
	notFound         nethttp.Handler
	methodNotAllowed nethttp.Handler
}

// newTable returns a table of routes; a template may end in one {name}.
func newTable(notFound, methodNotAllowed nethttp.Handler, routes ...route) *table {
	for i, rt := range routes {
		if open := strings.IndexByte(rt.template, '{'); open >= 0 {
			if !strings.HasSuffix(rt.template, "}") || strings.Count(rt.template, "{") != 1 || strings.Contains(rt.template[open:], "/") {
				panic("httpapi: a table route ends in one {variable}: " + rt.template)
			}
			routes[i].prefix = rt.template[:open]
		}
		allow := slices.Clone(rt.methods)
		slices.SortFunc(allow, func(a, b string) int { return methodRank(a) - methodRank(b) })
		routes[i].allow = strings.Join(allow, ", ")
	}
	return &table{routes: routes, notFound: notFound, methodNotAllowed: methodNotAllowed}
}

// match returns the route whose template r's path fits, whatever the
// method, or nil.
func (t *table) match(r *nethttp.Request) *route {
	path := r.URL.EscapedPath()
	for i := range t.routes {
		rt := &t.routes[i]
		if rt.prefix == "" {
			if path == rt.template {
				return rt
			}
		} else if _, ok := pathVar(r, rt.prefix); ok {
			return rt
		}
	}
	return nil
}

// ServeHTTP labels r with its route and serves it, or answers 404 (no
// route has its path) or 405 (its route has not its method).
func (t *table) ServeHTTP(w nethttp.ResponseWriter, r *nethttp.Request) {
	rt := t.match(r)
	switch {
	case rt == nil:
		t.notFound.ServeHTTP(w, r)
	case !slices.Contains(rt.methods, r.Method):
		setRoute(r, rt.template)
		w.Header().Set("Allow", rt.allow)
		t.methodNotAllowed.ServeHTTP(w, r)
	default:
		setRoute(r, rt.template)
		rt.serve(w, r)
	}
}

// label implements dispatcher.
func (t *table) label(r *nethttp.Request) {
	if rt := t.match(r); rt != nil {
		setRoute(r, rt.template)
	}
}

// muxDispatcher is gorilla/mux as a dispatcher: the route label comes from
// the matched route's template, for a 405 too, which carries Allow.
type muxDispatcher struct{ *mux.Router }

// newMuxDispatcher makes r label what it routes and answer a method its
// path's routes do not serve with 405 and Allow.
func newMuxDispatcher(r *mux.Router) muxDispatcher {
	r.Use(routeLabel)
	allow := allowHeader(r, nethttp.HandlerFunc(methodNotAllowed))
	r.MethodNotAllowedHandler = nethttp.HandlerFunc(func(w nethttp.ResponseWriter, req *nethttp.Request) {
		labelRoute(r, req)
		allow.ServeHTTP(w, req)
	})
	return muxDispatcher{r}
}

// label implements dispatcher.
func (d muxDispatcher) label(r *nethttp.Request) { labelRoute(d.Router, r) }

// routeLabel records the template of the route gorilla/mux matched. mux
// runs it only on a match.
func routeLabel(next nethttp.Handler) nethttp.Handler {
	return nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		if tmpl, err := mux.CurrentRoute(r).GetPathTemplate(); err == nil {
			setRoute(r, tmpl)
		}
		next.ServeHTTP(w, r)
	})
}

// labelRoute records the template of the route whose path matches r even
// when its method does not (405) or when a middleware refuses r before the
// router sees it (431, 503).
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

// pathVar is the segment of r's encoded path after prefix, when the path
// is prefix and one non-empty segment, read as the router reads it
// (encoded, uncleaned), so exactly what a {name} would match.
func pathVar(r *nethttp.Request, prefix string) (string, bool) {
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), prefix)
	if !ok || rest == "" || strings.IndexByte(rest, '/') >= 0 {
		return "", false
	}
	return rest, true
}

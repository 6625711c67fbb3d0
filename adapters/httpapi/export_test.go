package httpapi

import (
	nethttp "net/http"

	"github.com/gorilla/mux"
	"go.uber.org/zap"

	"github.com/jobstatus/jobstatus/app"
)

// StatusJobID is the asyncJobId the status handler reads from r.
var StatusJobID = statusJobID

// NewMuxReferenceHandler is the public API with gorilla/mux, configured as
// the other listeners' routers, routing the same table: what the table
// must answer alike.
func NewMuxReferenceHandler(a *app.Public, logger *zap.Logger, cfg HandlerConfig, obs Observer) nethttp.Handler {
	h, t := newPublic(a, logger, cfg, obs)
	r := muxOf(t)
	r.NotFoundHandler = t.notFound
	return edge(newMuxDispatcher(r), logger, obs, h.edgeConfig())
}

// PublicTable is the public API's routing table with read serving the
// status route, for the routing benchmark.
func PublicTable(read nethttp.HandlerFunc) nethttp.Handler {
	return benchTable(read)
}

// PublicMux is gorilla/mux, as the other listeners configure it, routing
// the public API's table with read serving the status route.
func PublicMux(read nethttp.HandlerFunc) nethttp.Handler {
	return muxOf(benchTable(read))
}

// muxOf is gorilla/mux as the other listeners configure it, routing t.
func muxOf(t *table) *mux.Router {
	r := mux.NewRouter()
	r.SkipClean(true)
	r.UseEncodedPath()
	for _, rt := range t.routes {
		r.HandleFunc(rt.template, rt.serve).Methods(rt.methods...)
	}
	return r
}

// benchTable is the public routes, read serving the status route and the
// others nothing.
func benchTable(read nethttp.HandlerFunc) *table {
	t := (&Handler{}).publicRoutes()
	for i := range t.routes {
		t.routes[i].serve = func(nethttp.ResponseWriter, *nethttp.Request) {}
		if t.routes[i].template == JobPath {
			t.routes[i].serve = read
		}
	}
	return t
}

// PreferredWait is the wait a request's Prefer headers ask for.
var PreferredWait = preferredWait

// Edge wraps h in the middleware every listener shares, as its only route.
func Edge(h nethttp.Handler, logger *zap.Logger) nethttp.Handler {
	return edge(onlyRoute{h}, logger, NopObserver{}, edgeConfig{sampleSuccess: 1})
}

// onlyRoute is a dispatcher serving every request with one handler.
type onlyRoute struct{ nethttp.Handler }

func (onlyRoute) label(*nethttp.Request) {}

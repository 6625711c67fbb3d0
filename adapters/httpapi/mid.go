package httpapi

import (
	nethttp "net/http"

	"github.com/gorilla/mux"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
)

// HeaderLimit is the most request-header bytes the service reads.
const HeaderLimit = 16 << 10

// Middleware wraps a handler with one concern: each lives in its own mid_*.go
// file, in the order edge applies them.
type Middleware func(nethttp.Handler) nethttp.Handler

// chain applies mws around h, the first outermost.
func chain(h nethttp.Handler, mws ...Middleware) nethttp.Handler {
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return h
}

// edgeConfig tunes the middleware edge applies.
type edgeConfig struct {
	maxInFlight   int                  // in-flight cap, 0: none
	sampleSuccess int                  // log one in N successful answers
	tracer        trace.TracerProvider // nil: no spans
}

// edge wraps a router with the middleware every listener of this adapter
// shares. The request id comes first so that every answer, even a refusal,
// carries it; recovery sits inside the access log and the metrics so a
// panic is counted and logged as the 500 it became. The route label comes
// from the router's matched template (routeLabel, a mux middleware), so no
// handler sets it; refusals of a known path (405, 431, 503) are labelled
// with its template too (labelRoute).
func edge(r *mux.Router, logger *zap.Logger, obs Observer, cfg edgeConfig) nethttp.Handler {
	r.Use(routeLabel)
	r.MethodNotAllowedHandler = labelled(r, allowHeader(r, nethttp.HandlerFunc(methodNotAllowed)))
	return chain(r,
		requestID,
		serverSpan(cfg.tracer),
		accessLog(logger, cfg.sampleSuccess),
		metrics(obs),
		recoverPanics(logger),
		limitInFlight(r, cfg.maxInFlight),
		limitHeaders(r),
	)
}

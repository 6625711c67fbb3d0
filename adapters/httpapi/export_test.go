package httpapi

import (
	nethttp "net/http"

	"go.uber.org/zap"

	"github.com/jobstatus/jobstatus/app"
)

// NewRouterOnlyHandler is NewHandler with every request, status polls
// included, matched by gorilla/mux: what the hot route must answer alike.
func NewRouterOnlyHandler(a *app.Public, logger *zap.Logger, cfg HandlerConfig, obs Observer) nethttp.Handler {
	return newHandler(a, logger, cfg, obs, false)
}

// HotRoute is the status route's dispatch before the router, for the
// routing benchmark: serve gets the polls, router everything else.
func HotRoute(serve nethttp.HandlerFunc, router nethttp.Handler) nethttp.Handler {
	return hotRoute(&hot{prefix: jobPrefix, template: JobPath, serve: serve}, router)
}

// StatusJobID is the asyncJobId the status handler reads from r.
var StatusJobID = statusJobID

// PreferredWait is the wait a request's Prefer headers ask for.
var PreferredWait = preferredWait

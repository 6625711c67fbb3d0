package httpapi

import (
	"context"
	"encoding/json"
	nethttp "net/http"
	"time"

	"github.com/gorilla/mux"
	"go.uber.org/zap"
)

// Check is one readiness condition. Fn returns a short description of
// what is ready (for example "3 keys") or an error saying what is not.
type Check struct {
	Name string
	Fn   func(ctx context.Context) (string, error)
}

// Routes of the admin listener.
const (
	HealthzPath = "/healthz"
	ReadyzPath  = "/readyz"
	MetricsPath = "/metrics"
)

// NewAdminHandler serves the operations endpoints, meant for a private
// listener: /healthz (the process answers), /readyz (every check passes;
// 503 naming what does not), /metrics. Like the other listeners, every
// answer — an unknown path or method included — carries a request id, an
// access-log line and a metric, and a refusal is the JSON envelope. It
// panics on nil deps.
func NewAdminHandler(checks []Check, metrics nethttp.Handler, logger *zap.Logger, obs Observer) nethttp.Handler {
	if metrics == nil || logger == nil || obs == nil {
		panic("httpapi: nil dependency for NewAdminHandler")
	}
	r := mux.NewRouter()
	r.SkipClean(true)
	r.UseEncodedPath()
	get := []string{nethttp.MethodGet, nethttp.MethodHead}
	r.HandleFunc(HealthzPath, func(w nethttp.ResponseWriter, _ *nethttp.Request) {
		writeAdmin(w, nethttp.StatusOK, map[string]any{"status": "ok"})
	}).Methods(get...)
	r.HandleFunc(ReadyzPath, func(w nethttp.ResponseWriter, r *nethttp.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		status, results := nethttp.StatusOK, map[string]string{}
		for _, c := range checks {
			detail, err := c.Fn(ctx)
			if err != nil {
				status = nethttp.StatusServiceUnavailable
				results[c.Name] = "not ready: " + err.Error()
				continue
			}
			results[c.Name] = "ok"
			if detail != "" {
				results[c.Name] = "ok: " + detail
			}
		}
		word := "ready"
		if status != nethttp.StatusOK {
			word = "not ready"
		}
		writeAdmin(w, status, map[string]any{"status": word, "checks": results})
	}).Methods(get...)
	r.Handle(MetricsPath, metrics).Methods(get...)
	r.NotFoundHandler = nethttp.HandlerFunc(noRoute)
	return edge(r, logger, obs, edgeConfig{sampleSuccess: 1})
}

func writeAdmin(w nethttp.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

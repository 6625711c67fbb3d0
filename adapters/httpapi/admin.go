package httpapi

import (
	"context"
	"encoding/json"
	nethttp "net/http"
	"time"
)

// Check is one readiness condition. Fn returns a short description of
// what is ready (for example "3 keys") or an error saying what is not.
type Check struct {
	Name string
	Fn   func(ctx context.Context) (string, error)
}

// NewAdminHandler serves the operations endpoints, meant for a private
// listener: /healthz (the process answers), /readyz (every check passes;
// 503 naming what does not), /metrics.
func NewAdminHandler(checks []Check, metrics nethttp.Handler) nethttp.Handler {
	mux := nethttp.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w nethttp.ResponseWriter, _ *nethttp.Request) {
		writeAdmin(w, nethttp.StatusOK, map[string]any{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w nethttp.ResponseWriter, r *nethttp.Request) {
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
	})
	mux.Handle("GET /metrics", metrics)
	return mux
}

func writeAdmin(w nethttp.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

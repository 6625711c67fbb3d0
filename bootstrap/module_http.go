package bootstrap

import (
	"context"
	nethttp "net/http"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/jobstatus/jobstatus/adapters/httpapi"
	"github.com/jobstatus/jobstatus/app"
)

// HTTPModule serves the public API for the lifetime of the app.
var HTTPModule = fx.Module("http",
	fx.Provide(
		func(cfg Config, tp trace.TracerProvider) httpapi.HandlerConfig {
			return httpapi.HandlerConfig{TerminalMaxAge: cfg.Cache.TerminalMaxAge, MaxInFlight: cfg.HTTP.MaxInFlight,
				LogSampleSuccess: cfg.Log.SampleSuccess, Tracer: tp,
				StreamHeartbeat: cfg.Events.Heartbeat, StreamRetry: cfg.Events.Retry, EncodedAnswers: cfg.Cache.Jobs,
				AuthLeeway: cfg.Auth.Leeway}
		},
		httpapi.NewHandler,
		newHTTPServer,
		collector(func(changes *app.Changes) prometheus.Collector {
			return gaugeFunc("waiters", "Requests held waiting for a job to change.", nil, func() float64 { return float64(changes.Waiting()) })
		}),
	),
	fx.Invoke(startHTTP),
)

func newHTTPServer(cfg Config, h nethttp.Handler, logger *zap.Logger) *httpapi.Server {
	return httpapi.NewServer(httpapi.ServerConfig{
		Addr:              cfg.HTTP.Addr,
		ReadHeaderTimeout: cfg.HTTP.ReadHeaderTimeout,
		ReadTimeout:       cfg.HTTP.ReadTimeout,
		WriteTimeout:      cfg.HTTP.WriteTimeout,
		IdleTimeout:       cfg.HTTP.IdleTimeout,
	}, h, logger.Named("http"))
}

func startHTTP(lc fx.Lifecycle, s *httpapi.Server, changes *app.Changes, feed *app.EventFeed, cfg Config) {
	lc.Append(fx.Hook{
		OnStart: s.Start,
		OnStop: func(ctx context.Context) error {
			// Held requests answer with the current state at once, so
			// the drain below does not wait out their timers.
			changes.Close()
			// Event streams end with a reconnect hint, likewise.
			feed.Close()
			ctx, cancel := context.WithTimeout(ctx, cfg.HTTP.ShutdownTimeout)
			defer cancel()
			return s.Stop(ctx)
		},
	})
}

package bootstrap

import (
	"context"
	nethttp "net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"
	"go.uber.org/zap"

	"github.com/jobstatus/jobstatus/adapters/apikey"
	"github.com/jobstatus/jobstatus/adapters/httpapi"
	"github.com/jobstatus/jobstatus/adapters/jobcache"
	"github.com/jobstatus/jobstatus/adapters/jwtauth"
	"github.com/jobstatus/jobstatus/adapters/memory"
	"github.com/jobstatus/jobstatus/adapters/metrics"
	"github.com/jobstatus/jobstatus/app"
	"github.com/jobstatus/jobstatus/ports"
)

// store is the repository of the configured store, before caching.
type store struct{ ports.JobRepository }

// ClockModule provides the wall clock.
var ClockModule = fx.Module("clock",
	fx.Provide(func() ports.Clock { return ports.ClockFunc(time.Now) }),
)

// ChangesModule provides the hub that wakes waiting requests.
var ChangesModule = fx.Module("changes",
	fx.Provide(func(cfg Config) *app.Changes { return app.NewChanges(cfg.Polling.MaxWaiters) }),
)

// MemoryModule binds the in-memory store; it tells waiters of changes itself.
var MemoryModule = fx.Module("memory",
	fx.Provide(
		func(ch *app.Changes) *memory.Jobs { return memory.NewJobs(memory.OnChange(ch.Publish)) },
		func(j *memory.Jobs) store { return store{j} },
		func(j *memory.Jobs) ports.DurationSource { return j },
		func(j *memory.Jobs) ports.JobMaintenance { return j },
		func(j *memory.Jobs) ports.ReportSource { return j },
		func() storeReadiness {
			return func(context.Context) (string, error) { return "in-memory store", nil }
		},
	),
)

// CacheModule serves finished jobs from memory, in front of any store, and
// counts transitions on the way in.
var CacheModule = fx.Module("jobcache",
	fx.Provide(
		func(s store, cfg Config) (*jobcache.Repository, error) {
			return jobcache.New(s.JobRepository, cfg.Cache.Jobs)
		},
		func(c *jobcache.Repository, m *metrics.Metrics) ports.JobRepository { return m.Jobs(c) },
	),
	fx.Invoke(func(c *jobcache.Repository, m *metrics.Metrics) {
		jobs := prometheus.Labels{"cache": "jobs"}
		m.CounterFunc("cache_hits_total", "Cache hits.", jobs, func() float64 { return float64(c.Stats().Hits) })
		m.CounterFunc("cache_misses_total", "Cache misses.", jobs, func() float64 { return float64(c.Stats().Misses) })
		m.GaugeFunc("cache_entries", "Entries in the cache.", jobs, func() float64 { return float64(c.Stats().Len) })
	}),
)

// AuthModule binds the JWT verifier and the api-key file to their ports.
var AuthModule = fx.Module("auth",
	fx.Provide(
		newVerifier,
		func(v *jwtauth.Verifier) ports.TokenVerifier { return v },
		fx.Annotate(newClientStore, fx.As(new(ports.ClientStore))),
	),
)

// MetricsModule provides the Prometheus metrics and binds them as the HTTP
// adapter's observer.
var MetricsModule = fx.Module("metrics",
	fx.Provide(
		metrics.New,
		func(m *metrics.Metrics) httpapi.Observer { return m },
	),
	fx.Invoke(func(m *metrics.Metrics, v *jwtauth.Verifier, changes *app.Changes) {
		tokens := prometheus.Labels{"cache": "tokens"}
		m.CounterFunc("cache_hits_total", "Cache hits.", tokens, func() float64 { h, _ := v.CacheStats(); return float64(h) })
		m.CounterFunc("cache_misses_total", "Cache misses.", tokens, func() float64 { _, x := v.CacheStats(); return float64(x) })
		m.GaugeFunc("waiters", "Requests held waiting for a job to change.", nil, func() float64 { return float64(changes.Waiting()) })
	}),
)

// storeReadiness says whether the store answers.
type storeReadiness func(ctx context.Context) (string, error)

// AdminModule serves /healthz, /readyz and /metrics on the admin listener.
var AdminModule = fx.Module("admin",
	fx.Invoke(func(lc fx.Lifecycle, cfg Config, m *metrics.Metrics, v *jwtauth.Verifier, ready storeReadiness, logger *zap.Logger) {
		if cfg.AdminAddr == "" {
			return
		}
		checks := []httpapi.Check{{Name: "store", Fn: ready}, {Name: "keys", Fn: v.Ready}}
		srv := httpapi.NewServer(httpapi.ServerConfig{
			Addr: cfg.AdminAddr, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
			WriteTimeout: 30 * time.Second, IdleTimeout: time.Minute,
		}, httpapi.NewAdminHandler(checks, m.Handler()), logger.Named("admin"))
		lc.Append(fx.Hook{OnStart: srv.Start, OnStop: srv.Stop})
	}),
)

// ServiceAppModule provides the use cases with authentication, for serving,
// and keeps the eta estimate fresh from the store.
var ServiceAppModule = fx.Module("app",
	fx.Provide(
		fx.Annotate(newRateLimiter, fx.As(new(ports.RateLimiter))),
		func(jobs ports.JobRepository, tokens ports.TokenVerifier, clients ports.ClientStore, limits ports.RateLimiter,
			clock ports.Clock, durations ports.DurationSource, maintenance ports.JobMaintenance, changes *app.Changes,
			cfg Config) *app.Application {
			return app.New(app.Deps{Jobs: jobs, Tokens: tokens, Clients: clients, Limits: limits, Clock: clock,
				Durations: durations, Maintenance: maintenance, Changes: changes, ETA: etaConfig(cfg), Polling: pollingConfig(cfg)})
		},
	),
	fx.Invoke(refreshETA, sweepStale),
)

// ToolAppModule provides the use cases without authentication, for the
// in-process job commands and batch tools.
var ToolAppModule = fx.Module("app",
	fx.Provide(func(jobs ports.JobRepository, durations ports.DurationSource, maintenance ports.JobMaintenance,
		reports ports.ReportSource, clock ports.Clock, cfg Config) *app.Application {
		return app.New(app.Deps{Jobs: jobs, Clock: clock, Durations: durations, Maintenance: maintenance, Reports: reports,
			ETA: etaConfig(cfg), Polling: pollingConfig(cfg)})
	}),
)

// HTTPModule serves the public API for the lifetime of the app.
var HTTPModule = fx.Module("http",
	fx.Provide(
		func(cfg Config) httpapi.HandlerConfig {
			return httpapi.HandlerConfig{TerminalMaxAge: cfg.Cache.TerminalMaxAge, MaxInFlight: cfg.HTTP.MaxInFlight}
		},
		httpapi.NewHandler,
		newHTTPServer,
	),
	fx.Invoke(func(lc fx.Lifecycle, s *httpapi.Server, changes *app.Changes, cfg Config) {
		lc.Append(fx.Hook{
			OnStart: s.Start,
			OnStop: func(ctx context.Context) error {
				// Held requests answer with the current state at once, so
				// the drain below does not wait out their timers.
				changes.Close()
				ctx, cancel := context.WithTimeout(ctx, cfg.HTTP.ShutdownTimeout)
				defer cancel()
				return s.Stop(ctx)
			},
		})
	}),
)

// StoreModule chooses the store: PostgreSQL when a database URL is set,
// memory otherwise. Swapping stores is this one decision.
func StoreModule(cfg Config) fx.Option {
	if cfg.Database.URL != "" {
		return PostgresModule
	}
	return MemoryModule
}

// baseOptions are shared by every app: config, logging, clock.
func baseOptions(cfg Config, logger *zap.Logger) fx.Option {
	return fx.Options(
		fx.Supply(cfg, logger),
		fx.WithLogger(func() fxevent.Logger { return newFxLogger(logger) }),
		ClockModule,
		ChangesModule,
	)
}

// ServeOptions is the module graph of `jobstatus serve`.
func ServeOptions(cfg Config, logger *zap.Logger) fx.Option {
	opts := []fx.Option{
		baseOptions(cfg, logger),
		StoreModule(cfg),
		CacheModule,
		AuthModule,
		MetricsModule,
		ServiceAppModule,
		HTTPModule,
		AdminModule,
		fx.StopTimeout(cfg.HTTP.ShutdownTimeout + 5*time.Second),
	}
	if cfg.Database.URL != "" {
		opts = append(opts, ListenerModule, PoolMetricsModule)
	}
	return fx.Options(opts...)
}

// ToolOptions is the module graph of the in-process commands (jobs, report).
func ToolOptions(cfg Config, logger *zap.Logger) fx.Option {
	return fx.Options(
		baseOptions(cfg, logger),
		StoreModule(cfg),
		fx.Provide(func(s store) ports.JobRepository { return s.JobRepository }),
		ToolAppModule,
	)
}

func etaConfig(cfg Config) app.ETAConfig {
	return app.ETAConfig{Default: cfg.ETA.Default, Percentile: cfg.ETA.Percentile, Window: cfg.ETA.Window,
		MinSamples: cfg.ETA.MinSamples, Min: time.Second, Max: time.Hour}
}

func pollingConfig(cfg Config) app.PollingConfig {
	return app.PollingConfig{MaxWait: cfg.Polling.MaxWait, MaxRetryAfter: cfg.Polling.MaxRetryAfter}
}

// every runs fn now and then every interval for the app's lifetime, in one
// goroutine that stops with the app.
func every(lc fx.Lifecycle, interval time.Duration, fn func(context.Context)) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error {
			go func() {
				defer close(done)
				ticker := time.NewTicker(interval)
				defer ticker.Stop()
				for {
					fn(ctx)
					select {
					case <-ctx.Done():
						return
					case <-ticker.C:
					}
				}
			}()
			return nil
		},
		OnStop: func(context.Context) error {
			cancel()
			<-done
			return nil
		},
	})
}

// refreshETA reloads the eta history from the store in the background, so
// the estimate follows what other instances and workers see.
func refreshETA(lc fx.Lifecycle, a *app.Application, cfg Config, logger *zap.Logger) {
	every(lc, cfg.ETA.Refresh, func(ctx context.Context) {
		if err := a.ETA.Refresh(ctx); err != nil && ctx.Err() == nil {
			logger.Warn("eta history not refreshed", zap.Error(err))
		}
	})
}

// sweepStale fails jobs left PENDING past the deadline. Several instances
// may run it: the store lets one sweep at a time.
func sweepStale(lc fx.Lifecycle, a *app.Application, cfg Config, logger *zap.Logger, m *metrics.Metrics) {
	if cfg.Sweeper.Interval <= 0 {
		return
	}
	every(lc, cfg.Sweeper.Interval, func(ctx context.Context) {
		n, err := a.SweepStale.Handle(ctx, app.SweepStale{PendingTimeout: cfg.Sweeper.PendingTimeout, Batch: cfg.Sweeper.Batch})
		m.StaleJobsFailed(n)
		switch {
		case err != nil && ctx.Err() == nil:
			logger.Warn("stale job sweep failed", zap.Int("failed_jobs", n), zap.Error(err))
		case n > 0:
			logger.Info("stale jobs failed", zap.Int("jobs", n), zap.Duration("pending_timeout", cfg.Sweeper.PendingTimeout))
		}
	})
}

func newVerifier(lc fx.Lifecycle, cfg Config, logger *zap.Logger) (*jwtauth.Verifier, error) {
	v, err := jwtauth.NewVerifier(jwtauth.Config{
		Issuer:                 cfg.Auth.Issuer,
		Audience:               cfg.Auth.Audience,
		Algorithms:             cfg.Auth.Algorithms,
		Leeway:                 cfg.Auth.Leeway,
		JWKSFile:               cfg.Auth.JWKSFile,
		JWKSURL:                cfg.Auth.JWKSURL,
		JWKSRefresh:            cfg.Auth.JWKSRefresh,
		JWKSUnknownKIDInterval: cfg.Auth.JWKSUnknownKIDInterval,
		CacheSize:              cfg.Cache.Tokens,
	}, logger.Named("jwt"))
	if err != nil {
		return nil, err
	}
	lc.Append(fx.StopHook(v.Close))
	return v, nil
}

func newClientStore(cfg Config, logger *zap.Logger) (*apikey.Store, error) {
	s, err := apikey.Load(cfg.APIKeysFile)
	if err != nil {
		return nil, err
	}
	logger.Info("api keys loaded", zap.Int("clients", s.Len()))
	return s, nil
}

func newHTTPServer(cfg Config, h nethttp.Handler, logger *zap.Logger) *httpapi.Server {
	return httpapi.NewServer(httpapi.ServerConfig{
		Addr:              cfg.HTTP.Addr,
		ReadHeaderTimeout: cfg.HTTP.ReadHeaderTimeout,
		ReadTimeout:       cfg.HTTP.ReadTimeout,
		WriteTimeout:      cfg.HTTP.WriteTimeout,
		IdleTimeout:       cfg.HTTP.IdleTimeout,
	}, h, logger.Named("http"))
}

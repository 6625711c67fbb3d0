package bootstrap

import (
	"context"
	nethttp "net/http"
	"time"

	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"
	"go.uber.org/zap"

	"github.com/jobstatus/jobstatus/adapters/apikey"
	httpadapter "github.com/jobstatus/jobstatus/adapters/http"
	"github.com/jobstatus/jobstatus/adapters/jwt"
	"github.com/jobstatus/jobstatus/adapters/memory"
	"github.com/jobstatus/jobstatus/app"
	"github.com/jobstatus/jobstatus/ports"
)

// ClockModule provides the wall clock.
var ClockModule = fx.Module("clock",
	fx.Provide(func() ports.Clock { return ports.ClockFunc(time.Now) }),
)

// MemoryModule binds the in-memory store to ports.JobRepository.
var MemoryModule = fx.Module("memory",
	fx.Provide(fx.Annotate(memory.NewJobs, fx.As(new(ports.JobRepository)))),
)

// AuthModule binds the JWT verifier and the api-key file to their ports.
var AuthModule = fx.Module("auth",
	fx.Provide(
		fx.Annotate(newVerifier, fx.As(new(ports.TokenVerifier))),
		fx.Annotate(newClientStore, fx.As(new(ports.ClientStore))),
	),
)

// ServiceAppModule provides the use cases with authentication, for serving.
var ServiceAppModule = fx.Module("app",
	fx.Provide(func(jobs ports.JobRepository, tokens ports.TokenVerifier, clients ports.ClientStore, clock ports.Clock) *app.Application {
		return app.New(app.Deps{Jobs: jobs, Tokens: tokens, Clients: clients, Clock: clock})
	}),
)

// ToolAppModule provides the use cases without authentication, for the
// in-process job commands and batch tools.
var ToolAppModule = fx.Module("app",
	fx.Provide(func(jobs ports.JobRepository, clock ports.Clock) *app.Application {
		return app.New(app.Deps{Jobs: jobs, Clock: clock})
	}),
)

// HTTPModule serves the public API for the lifetime of the app.
var HTTPModule = fx.Module("http",
	fx.Provide(
		httpadapter.NewHandler,
		newHTTPServer,
	),
	fx.Invoke(func(lc fx.Lifecycle, s *httpadapter.Server, cfg Config) {
		lc.Append(fx.Hook{
			OnStart: s.Start,
			OnStop: func(ctx context.Context) error {
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
		fx.WithLogger(func() fxevent.Logger {
			l := &fxevent.ZapLogger{Logger: logger.Named("fx")}
			l.UseLogLevel(zap.DebugLevel)
			return l
		}),
		ClockModule,
	)
}

// ServeOptions is the module graph of `jobstatus serve`.
func ServeOptions(cfg Config, logger *zap.Logger) fx.Option {
	return fx.Options(
		baseOptions(cfg, logger),
		StoreModule(cfg),
		AuthModule,
		ServiceAppModule,
		HTTPModule,
		fx.StopTimeout(cfg.HTTP.ShutdownTimeout+5*time.Second),
	)
}

// ToolOptions is the module graph of the in-process commands (jobs, report).
func ToolOptions(cfg Config, logger *zap.Logger) fx.Option {
	return fx.Options(
		baseOptions(cfg, logger),
		StoreModule(cfg),
		ToolAppModule,
	)
}

func newVerifier(lc fx.Lifecycle, cfg Config, logger *zap.Logger) (*jwt.Verifier, error) {
	v, err := jwt.NewVerifier(jwt.Config{
		Issuer:                 cfg.Auth.Issuer,
		Audience:               cfg.Auth.Audience,
		Algorithms:             cfg.Auth.Algorithms,
		Leeway:                 cfg.Auth.Leeway,
		JWKSFile:               cfg.Auth.JWKSFile,
		JWKSURL:                cfg.Auth.JWKSURL,
		JWKSRefresh:            cfg.Auth.JWKSRefresh,
		JWKSUnknownKIDInterval: cfg.Auth.JWKSUnknownKIDInterval,
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

func newHTTPServer(cfg Config, h nethttp.Handler, logger *zap.Logger) *httpadapter.Server {
	return httpadapter.NewServer(httpadapter.ServerConfig{
		Addr:              cfg.HTTP.Addr,
		ReadHeaderTimeout: cfg.HTTP.ReadHeaderTimeout,
		ReadTimeout:       cfg.HTTP.ReadTimeout,
		WriteTimeout:      cfg.HTTP.WriteTimeout,
		IdleTimeout:       cfg.HTTP.IdleTimeout,
	}, h, logger.Named("http"))
}

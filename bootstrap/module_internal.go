package bootstrap

import (
	"context"
	"net"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/jobstatus/jobstatus/adapters/httpapi"
	"github.com/jobstatus/jobstatus/app"
	"github.com/jobstatus/jobstatus/ports"
)

// InternalListener is the write API for workers on its own listener, or
// nothing when JOBSTATUS_INTERNAL_ADDR or JOBSTATUS_INTERNAL_WRITERS is
// empty (see WriteAPIListens).
type InternalListener struct {
	srv *httpapi.Server // nil when disabled
}

// Addr returns the bound address once started; nil when disabled.
func (l *InternalListener) Addr() net.Addr {
	if l.srv == nil {
		return nil
	}
	return l.srv.Addr()
}

// internalParams are what the write API needs.
type internalParams struct {
	fx.In
	Config   Config
	Operator *app.Operator
	Tokens   ports.TokenVerifier
	Observer httpapi.Observer
	Logger   *zap.Logger
}

// InternalModule serves the write API for workers (POST /internal/jobs…)
// on JOBSTATUS_INTERNAL_ADDR for the lifetime of the app, with the public
// listener's timeouts and graceful shutdown. Tokens are checked by the
// same verifier as on the public API.
var InternalModule = fx.Module("internal",
	fx.Provide(newInternalListener),
	fx.Invoke(startInternal),
)

// WriteAPIListens is the rule of the write API's listener: it opens only
// when it has an address and somebody may write. With no writers every
// write would be refused, so a listener would only hold a port: two
// instances on one host with the defaults would collide on 127.0.0.1:8081
// for nothing. serve --dev always has its demo writer.
func WriteAPIListens(c InternalConfig) bool {
	return c.Addr != "" && len(c.Writers) > 0
}

func newInternalListener(p internalParams) (*InternalListener, error) {
	cfg := p.Config
	logger := p.Logger.Named("internal")
	if !WriteAPIListens(cfg.Internal) {
		if cfg.Internal.Addr != "" {
			logger.Info("write API off: JOBSTATUS_INTERNAL_WRITERS is empty, so nobody may write and no listener is opened",
				zap.String("addr", cfg.Internal.Addr))
		}
		return &InternalListener{}, nil
	}
	h, err := httpapi.NewInternalHandler(p.Operator, p.Tokens, logger,
		httpapi.InternalConfig{Writers: cfg.Internal.Writers, MaxBodyBytes: int64(cfg.Internal.MaxBodyBytes)}, p.Observer)
	if err != nil {
		return nil, err
	}
	srv := httpapi.NewServer(httpapi.ServerConfig{
		Addr:              cfg.Internal.Addr,
		ReadHeaderTimeout: cfg.HTTP.ReadHeaderTimeout,
		ReadTimeout:       cfg.HTTP.ReadTimeout,
		WriteTimeout:      cfg.HTTP.WriteTimeout,
		IdleTimeout:       cfg.HTTP.IdleTimeout,
	}, h, logger)
	return &InternalListener{srv: srv}, nil
}

// startInternal serves until the app stops; requests in flight then have
// the public listener's shutdown time to finish.
func startInternal(lc fx.Lifecycle, l *InternalListener, cfg Config) {
	if l.srv == nil {
		return
	}
	lc.Append(fx.Hook{
		OnStart: l.srv.Start,
		OnStop: func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, cfg.HTTP.ShutdownTimeout)
			defer cancel()
			return l.srv.Stop(ctx)
		},
	})
}

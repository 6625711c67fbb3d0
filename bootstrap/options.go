package bootstrap

import (
	"time"

	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"
	"go.uber.org/zap"
)

// baseOptions are shared by every app: config, logging, clock.
func baseOptions(cfg Config, logger *zap.Logger) fx.Option {
	return fx.Options(
		fx.Supply(cfg, logger),
		fx.WithLogger(func() fxevent.Logger { return newFxLogger(logger) }),
		ClockModule,
		TracingModule,
	)
}

// ServeOptions is the module graph of `jobstatus serve`. `serve --dev`
// extends it (devOptions) instead of repeating it.
func ServeOptions(cfg Config, logger *zap.Logger) fx.Option {
	return fx.Options(
		serveCore(cfg, logger),
		AuthModule,
	)
}

// serveCore is everything serve needs but authentication, which --dev
// replaces with its own.
func serveCore(cfg Config, logger *zap.Logger) fx.Option {
	return fx.Options(
		baseOptions(cfg, logger),
		fx.Supply(servePool(cfg)),
		storeServing(cfg), // first: the listener's connection before the pool's
		StoreModule(cfg),
		CacheDecorator,
		OperatorModule,
		PublicModule,
		EventsModule,
		BackgroundModule,
		MetricsModule,
		HTTPModule,
		InternalModule,
		AdminModule,
		fx.StopTimeout(cfg.HTTP.ShutdownTimeout+5*time.Second),
	)
}

// ToolOptions is the module graph of the in-process commands (jobs,
// report): the store and the operators' use cases, no cache, no HTTP.
func ToolOptions(cfg Config, logger *zap.Logger) fx.Option {
	return fx.Options(
		baseOptions(cfg, logger),
		fx.Supply(toolPool(cfg)),
		StoreModule(cfg),
		OperatorModule,
	)
}

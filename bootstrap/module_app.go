package bootstrap

import (
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/jobstatus/jobstatus/app"
	"github.com/jobstatus/jobstatus/ports"
)

// Bounds of any eta estimate: a second at least, an hour at most.
const (
	etaFloor   = time.Second
	etaCeiling = time.Hour
)

// ClockModule provides the wall clock.
var ClockModule = fx.Module("clock",
	fx.Provide(func() ports.Clock { return ports.ClockFunc(time.Now) }),
)

// OperatorModule provides the operators' use cases, and the estimator and
// change hub they share with the public ones.
var OperatorModule = fx.Module("operator",
	fx.Provide(
		func(cfg Config) (*app.Changes, error) {
			return app.NewChanges(cfg.Polling.MaxWaiters, app.StalenessBound(cfg.Events.StalenessBound))
		},
		func(cfg Config, durations ports.DurationSource) (*app.ETA, error) {
			return app.NewETA(app.ETAConfig{Default: cfg.ETA.Default, Percentile: cfg.ETA.Percentile, Window: cfg.ETA.Window,
				MinSamples: cfg.ETA.MinSamples, Min: etaFloor, Max: etaCeiling}, durations)
		},
		newOperator,
	),
)

// operatorParams are what the operators' use cases need.
type operatorParams struct {
	fx.In
	Config      Config
	Jobs        ports.JobRepository
	Maintenance ports.JobMaintenance
	Reports     ports.ReportSource
	Clock       ports.Clock
	ETA         *app.ETA
}

func newOperator(p operatorParams) (*app.Operator, error) {
	return app.NewOperator(app.OperatorDeps{Jobs: p.Jobs, Maintenance: p.Maintenance, Reports: p.Reports,
		Clock: p.Clock, ETA: p.ETA, Batch: p.Config.Sweeper.Batch})
}

// PublicModule provides what the public API may call, with the per-client
// rate limit.
var PublicModule = fx.Module("public",
	fx.Provide(
		fx.Annotate(newRateLimiter, fx.As(new(ports.RateLimiter))),
		newPublic,
	),
)

// publicParams are what the public use cases need.
type publicParams struct {
	fx.In
	Config  Config
	Jobs    ports.JobRepository
	Tokens  ports.TokenVerifier
	Clients ports.ClientStore
	Limits  ports.RateLimiter
	Clock   ports.Clock
	ETA     *app.ETA
	Changes *app.Changes
	Lister  ports.JobLister
	Feed    *app.EventFeed
}

func newPublic(p publicParams) (*app.Public, error) {
	return app.NewPublic(app.PublicDeps{Jobs: p.Jobs, Tokens: p.Tokens, Clients: p.Clients, Limits: p.Limits,
		Clock: p.Clock, ETA: p.ETA, Changes: p.Changes, Lister: p.Lister, Feed: p.Feed,
		List:    app.ListConfig{DefaultPageSize: p.Config.List.DefaultPageSize, MaxPageSize: p.Config.List.MaxPageSize},
		Polling: app.PollingConfig{MaxWait: p.Config.Polling.MaxWait, MaxRetryAfter: p.Config.Polling.MaxRetryAfter}})
}

// BackgroundModule runs the background services of app for the lifetime
// of the service: the eta refresher always, the stale-job sweeper unless
// its interval is zero. It only appends their lifecycle hooks.
var BackgroundModule = fx.Module("background",
	fx.Provide(newETARefresher),
	fx.Invoke(
		func(lc fx.Lifecycle, r *app.ETARefresher) { lc.Append(fx.Hook{OnStart: r.Start, OnStop: r.Stop}) },
		startSweeper,
	),
)

func newETARefresher(cfg Config, eta *app.ETA, logger *zap.Logger) (*app.ETARefresher, error) {
	return app.NewETARefresher(app.ETARefresherConfig{Interval: cfg.ETA.Refresh}, eta, func(err error) {
		logger.Warn("eta history not refreshed", zap.Error(err))
	})
}

// sweepObserver counts swept jobs; the metrics adapter is one.
type sweepObserver interface {
	StaleJobsFailed(n int)
}

// sweeperParams are what the sweeper needs.
type sweeperParams struct {
	fx.In
	Lifecycle fx.Lifecycle
	Config    Config
	Operator  *app.Operator
	Observer  sweepObserver
	Logger    *zap.Logger
}

func startSweeper(p sweeperParams) error {
	cfg := p.Config.Sweeper
	if cfg.Interval <= 0 { // disabled
		return nil
	}
	s, err := app.NewSweeper(app.SweeperConfig{Interval: cfg.Interval, PendingTimeout: cfg.PendingTimeout}, p.Operator.SweepStale,
		func(r app.SweepResult) {
			p.Observer.StaleJobsFailed(r.Jobs)
			switch {
			case r.Err != nil:
				p.Logger.Warn("stale job sweep failed", zap.Int("failed_jobs", r.Jobs), zap.Error(r.Err))
			case r.Jobs > 0:
				p.Logger.Info("stale jobs failed", zap.Int("jobs", r.Jobs), zap.Duration("pending_timeout", cfg.PendingTimeout))
			}
		})
	if err != nil {
		return err
	}
	p.Lifecycle.Append(fx.Hook{OnStart: s.Start, OnStop: s.Stop})
	return nil
}

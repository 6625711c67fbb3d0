package bootstrap

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/jobstatus/jobstatus/adapters/httpapi"
	"github.com/jobstatus/jobstatus/adapters/jobcache"
	"github.com/jobstatus/jobstatus/adapters/postgres"
	"github.com/jobstatus/jobstatus/app"
	"github.com/jobstatus/jobstatus/ports"
)

// EventsModule provides the change feed, the instance's one reader of
// the store's change log, feeding the read model, the waiters and the
// event streams, and runs it, with the retention of the log, for the
// lifetime of the service. Its metrics and readiness say whether it
// vouches for the read model (within its staleness bound).
var EventsModule = fx.Module("events",
	fx.Provide(
		newEventFeed,
		collector(func(feed *app.EventFeed) prometheus.Collector {
			return gaugeFunc("event_streams", "Event streams held open.", nil, func() float64 { return float64(feed.Streams()) })
		}),
		collector(func(feed *app.EventFeed, model *jobcache.Model, cfg Config) prometheus.Collector {
			return feedCollector(feed, model, cfg.Events.StalenessBound)
		}),
		// Said, not failed: every instance falls behind together (a bulk
		// change takes each feed tens of seconds), and an instance reading
		// through still answers correctly; taking them all out of service
		// would turn that into an outage. jobstatus_feed_up alerts on it.
		readiness(func(model *jobcache.Model) httpapi.Check {
			return httpapi.Check{Name: "feed", Fn: func(context.Context) (string, error) {
				if !model.Fresh() {
					return "behind its staleness bound: polls read through to the store", nil
				}
				return "within its staleness bound", nil
			}}
		}),
	),
	fx.Invoke(startEvents),
)

// feedParams are what the feed needs.
type feedParams struct {
	fx.In
	Config Config
	Log    feedLog
	Model  *jobcache.Model
	Hub    *app.Changes
}

// newEventFeed builds the feed; it applies each batch to the read model
// first, then to the waiters, so a waiter that reads after its wake-up
// reads the newer state from memory.
func newEventFeed(p feedParams) (*app.EventFeed, error) {
	c := p.Config.Events
	feed, err := app.NewEventFeed(p.Log, app.FeedConfig{MaxStreams: c.MaxStreams, MaxStreamsPerClient: c.MaxStreamsPerClient,
		Poll: c.Poll, ReadTimeout: c.StalenessBound / 2, Batch: c.Batch, Buffer: c.Buffer}, p.Model, p.Hub)
	if err != nil {
		return nil, err
	}
	return feed, nil
}

// feedCollector exports the feed's figures: whether it vouches for the
// read model, how far behind the log's head it is, its position, resets.
func feedCollector(feed *app.EventFeed, model *jobcache.Model, bound time.Duration) prometheus.Collector {
	return collectorSet{
		gaugeFunc("feed_up", "1 while the change feed vouches for the read model (read the log's head within its staleness bound).", nil,
			func() float64 {
				if model.Fresh() {
					return 1
				}
				return 0
			}),
		gaugeFunc("feed_lag_seconds", "Seconds since the change feed last read the log's head (-1: never).", nil,
			func() float64 { return feed.Stats().Lag.Seconds() }),
		gaugeFunc("feed_staleness_bound_seconds", "The change feed's staleness bound.", nil,
			func() float64 { return bound.Seconds() }),
		gaugeFunc("feed_position", "The last change log position the feed applied.", nil,
			func() float64 { return float64(feed.Stats().Position) }),
		counterFunc("feed_resets_total", "Times the read model dropped everything: changes lost to retention, or a truncate.", nil,
			func() float64 { return float64(model.Stats().Resets) }),
		counterFunc("feed_read_failures_total", "Reads of the change log that failed (the feed retries from its position).", nil,
			func() float64 { return float64(feed.Stats().Failures) }),
	}
}

// collectorSet is several collectors as one.
type collectorSet []prometheus.Collector

// Describe implements prometheus.Collector.
func (cs collectorSet) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range cs {
		c.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (cs collectorSet) Collect(ch chan<- prometheus.Metric) {
	for _, c := range cs {
		c.Collect(ch)
	}
}

// eventsParams are what the feed's and the retention's lifecycles need.
type eventsParams struct {
	fx.In
	Lifecycle fx.Lifecycle
	Config    Config
	Feed      *app.EventFeed
	Log       ports.EventLog
	Clock     ports.Clock
	Logger    *zap.Logger
}

func startEvents(p eventsParams) error {
	c := p.Config.Events
	r, err := app.NewEventRetention(app.EventRetentionConfig{Interval: c.RetentionInterval, Retention: c.Retention, Batch: c.Batch},
		p.Log, p.Clock, func(res app.RetentionResult) {
			switch {
			case res.Err != nil:
				p.Logger.Warn("job event retention failed", zap.Int("deleted", res.Events), zap.Error(res.Err))
			case res.Events > 0:
				p.Logger.Info("job events past retention deleted", zap.Int("events", res.Events))
			}
		})
	if err != nil {
		return err
	}
	p.Lifecycle.Append(fx.Hook{OnStart: p.Feed.Start, OnStop: p.Feed.Stop})
	p.Lifecycle.Append(fx.Hook{OnStart: r.Start, OnStop: r.Stop})
	return nil
}

// DoorbellModule rings the feed whenever PostgreSQL's change log moves,
// whichever instance or command made the change, on a connection of its
// own (outside the pool). The feed does not depend on it: its heartbeat
// reads the log every events.poll, so a lost or stalled doorbell delays a
// change by that much at most.
var DoorbellModule = fx.Module("pgdoorbell",
	fx.Invoke(func(lc fx.Lifecycle, cfg Config, feed *app.EventFeed, logger *zap.Logger) {
		var ln *postgres.LogListener
		lc.Append(fx.Hook{
			OnStart: func(context.Context) (err error) {
				ln, err = postgres.ListenLog(cfg.Database.URL, feed.Kick, logger.Named("pgdoorbell"))
				return err
			},
			OnStop: func(ctx context.Context) error {
				if ln == nil {
					return nil
				}
				return closeLogged(logger, "doorbell listener", func() error { return ln.Close(ctx) })
			},
		})
	}),
)

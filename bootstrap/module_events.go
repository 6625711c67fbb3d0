package bootstrap

import (
	"context"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/jobstatus/jobstatus/adapters/postgres"
	"github.com/jobstatus/jobstatus/app"
	"github.com/jobstatus/jobstatus/ports"
)

// eventKick lets the memory store tell the event feed of a change although
// the feed is built after the store (the feed reads the store's log).
type eventKick struct{ fn atomic.Pointer[func()] }

// Kick calls the registered function, if any.
func (k *eventKick) Kick() {
	if fn := k.fn.Load(); fn != nil {
		(*fn)()
	}
}

// EventsModule provides the change feed of the event stream and runs it,
// with the retention of the event log, for the lifetime of the service.
var EventsModule = fx.Module("events",
	fx.Provide(
		newEventFeed,
		collector(func(feed *app.EventFeed) prometheus.Collector {
			return gaugeFunc("event_streams", "Event streams held open.", nil, func() float64 { return float64(feed.Streams()) })
		}),
	),
	fx.Invoke(startEvents),
)

// feedParams are what the feed needs; Kick is there with the memory store.
type feedParams struct {
	fx.In
	Config Config
	Log    ports.EventLog
	Kick   *eventKick `optional:"true"`
}

func newEventFeed(p feedParams) (*app.EventFeed, error) {
	c := p.Config.Events
	feed, err := app.NewEventFeed(p.Log, app.FeedConfig{MaxStreams: c.MaxStreams, MaxStreamsPerClient: c.MaxStreamsPerClient,
		Poll: c.Poll, Batch: c.Batch, Buffer: c.Buffer})
	if err != nil {
		return nil, err
	}
	if p.Kick != nil {
		fn := feed.Kick
		p.Kick.fn.Store(&fn)
	}
	return feed, nil
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

// EventsListenerModule tells the feed of every event PostgreSQL announces,
// whichever instance or command made the change.
var EventsListenerModule = fx.Module("pgeventlistener",
	fx.Invoke(func(lc fx.Lifecycle, cfg Config, feed *app.EventFeed, logger *zap.Logger) {
		var ln *postgres.EventsListener
		lc.Append(fx.Hook{
			OnStart: func(context.Context) (err error) {
				ln, err = postgres.ListenEvents(cfg.Database.URL, feed.Kick, logger.Named("pgeventlistener"))
				return err
			},
			OnStop: func(ctx context.Context) error {
				if ln == nil {
					return nil
				}
				return closeLogged(logger, "event listener", func() error { return ln.Close(ctx) })
			},
		})
	}),
)

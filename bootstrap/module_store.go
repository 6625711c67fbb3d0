package bootstrap

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"

	"github.com/jobstatus/jobstatus/adapters/httpapi"
	"github.com/jobstatus/jobstatus/adapters/jobcache"
	"github.com/jobstatus/jobstatus/adapters/memory"
	"github.com/jobstatus/jobstatus/adapters/metrics"
	"github.com/jobstatus/jobstatus/app"
	"github.com/jobstatus/jobstatus/ports"
)

// StoreModule chooses the store: PostgreSQL when a database URL is set,
// memory otherwise. Swapping stores is this one decision; each store
// binds itself to every port it implements.
func StoreModule(cfg Config) fx.Option {
	if cfg.Database.URL != "" {
		return fx.Options(PostgresModule, readModelModule)
	}
	return fx.Options(MemoryModule, readModelModule)
}

// readModelModule provides the read model, a projection of the store's
// change log fed by the change feed (EventsModule).
var readModelModule = fx.Module("readmodel", fx.Provide(
	func(cfg Config) (*jobcache.Model, error) {
		return jobcache.NewModel(jobcache.Config{MaxEntries: cfg.Cache.Jobs, MaxBytes: cfg.Cache.JobsBytes,
			StalenessBound: cfg.Events.StalenessBound})
	},
))

// storeServing is what a store needs only while serving: a doorbell that
// rings the change feed when the log moves, PostgreSQL's listener or the
// memory store itself.
func storeServing(cfg Config) fx.Option {
	if cfg.Database.URL != "" {
		return DoorbellModule
	}
	return fx.Invoke(func(j *memory.Jobs, feed *app.EventFeed) { j.SetDoorbell(feed.Kick) })
}

// MemoryModule binds the in-memory store; it rings the feed itself.
var MemoryModule = fx.Module("memory",
	fx.Provide(
		fx.Annotate(memory.NewJobs, storePorts...),
		func(j *memory.Jobs) feedLog { return feedLog{j} },
		readiness(func() httpapi.Check {
			return httpapi.Check{Name: "store", Fn: func(context.Context) (string, error) { return "in-memory store", nil }}
		}),
	),
)

// feedLog is the change log the feed reads: the memory store itself, or
// PostgreSQL on a pool of the feed's own (newFeedLog).
type feedLog struct{ app.FeedLog }

// storePorts binds a job store to itself and to every port a store
// implements, the same for every store.
var storePorts = []fx.Annotation{
	fx.As(fx.Self()),
	fx.As(new(ports.JobRepository)),
	fx.As(new(ports.DurationSource)),
	fx.As(new(ports.JobMaintenance)),
	fx.As(new(ports.ReportSource)),
	fx.As(new(ports.EventLog)),
	fx.As(new(jobcache.Store)),
	fx.As(new(ports.JobLister)),
}

// readiness contributes a check to /readyz (group "readiness").
func readiness(constructor any) any {
	return fx.Annotate(constructor, fx.ResultTags(`group:"readiness"`))
}

// collector contributes a collector to /metrics (group "collectors").
func collector(constructor any) any {
	return fx.Annotate(constructor, fx.ResultTags(`group:"collectors"`))
}

// CacheDecorator serves jobs from the read model, in front of whichever
// store ports.JobRepository is, counts job transitions on the way in, and
// contributes the cache's collectors. It is a root-level decoration, so
// every consumer of the port gets it (a type is decorated once per scope,
// hence the counting here too).
var CacheDecorator = fx.Decorate(
	fx.Annotate(decorateJobs,
		fx.ParamTags(``, ``, ``, `group:"collectors"`),
		fx.ResultTags(``, `group:"collectors"`)),
)

func decorateJobs(store jobcache.Store, model *jobcache.Model, m *metrics.Metrics, collectors []prometheus.Collector) (ports.JobRepository, []prometheus.Collector, error) {
	c, err := jobcache.New(store, model)
	if err != nil {
		return nil, nil, err
	}
	jobs := prometheus.Labels{"cache": "jobs"}
	stat := func(f func(jobcache.Stats) float64) func() float64 { return func() float64 { return f(model.Stats()) } }
	return m.Jobs(c), append(collectors,
		counterFunc("cache_hits_total", "Cache hits.", jobs, stat(func(s jobcache.Stats) float64 { return float64(s.Hits) })),
		counterFunc("cache_misses_total", "Cache misses.", jobs, stat(func(s jobcache.Stats) float64 { return float64(s.Misses) })),
		counterFunc("cache_bypassed_total", "Reads sent to the store because the change feed was behind its staleness bound.", jobs,
			stat(func(s jobcache.Stats) float64 { return float64(s.Bypassed) })),
		counterFunc("cache_fallbacks_total", "Finished jobs answered from memory while the store was unavailable.", jobs,
			stat(func(s jobcache.Stats) float64 { return float64(s.Fallbacks) })),
		gaugeFunc("cache_entries", "Entries in the cache.", jobs, stat(func(s jobcache.Stats) float64 { return float64(s.Len) })),
		gaugeFunc("cache_bytes", "Estimated memory taken by the cache's entries.", jobs, stat(func(s jobcache.Stats) float64 { return float64(s.Bytes) })),
	), nil
}

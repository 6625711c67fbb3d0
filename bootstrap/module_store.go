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
		return PostgresModule
	}
	return MemoryModule
}

// storeServing is what a store needs only while serving: PostgreSQL's
// notification listener; the memory store wakes waiters itself.
func storeServing(cfg Config) fx.Option {
	if cfg.Database.URL != "" {
		return fx.Options(ListenerModule, EventsListenerModule)
	}
	return fx.Options()
}

// MemoryModule binds the in-memory store; it tells waiters of changes itself.
var MemoryModule = fx.Module("memory",
	fx.Provide(
		func() *eventKick { return &eventKick{} },
		fx.Annotate(
			func(ch *app.Changes, k *eventKick) *memory.Jobs {
				return memory.NewJobs(memory.OnChange(ch.Publish), memory.OnEvent(k.Kick))
			},
			fx.As(fx.Self()),
			fx.As(new(ports.JobRepository)),
			fx.As(new(ports.DurationSource)),
			fx.As(new(ports.JobMaintenance)),
			fx.As(new(ports.ReportSource)),
			fx.As(new(ports.EventLog)),
			fx.As(new(ports.JobLister)),
		),
		readiness(func() httpapi.Check {
			return httpapi.Check{Name: "store", Fn: func(context.Context) (string, error) { return "in-memory store", nil }}
		}),
	),
)

// readiness contributes a check to /readyz (group "readiness").
func readiness(constructor any) any {
	return fx.Annotate(constructor, fx.ResultTags(`group:"readiness"`))
}

// collector contributes a collector to /metrics (group "collectors").
func collector(constructor any) any {
	return fx.Annotate(constructor, fx.ResultTags(`group:"collectors"`))
}

// CacheDecorator serves finished jobs from memory, in front of whichever
// store ports.JobRepository is, counts job transitions on the way in, and
// contributes the cache's collectors. It is a root-level decoration, so
// every consumer of the port gets it (a type is decorated once per scope,
// hence the counting here too).
var CacheDecorator = fx.Decorate(
	fx.Annotate(decorateJobs,
		fx.ParamTags(``, ``, ``, `group:"collectors"`),
		fx.ResultTags(``, `group:"collectors"`)),
)

func decorateJobs(store ports.JobRepository, cfg Config, m *metrics.Metrics, collectors []prometheus.Collector) (ports.JobRepository, []prometheus.Collector, error) {
	c, err := jobcache.New(store, cfg.Cache.Jobs)
	if err != nil {
		return nil, nil, err
	}
	jobs := prometheus.Labels{"cache": "jobs"}
	return m.Jobs(c), append(collectors,
		counterFunc("cache_hits_total", "Cache hits.", jobs, func() float64 { return float64(c.Stats().Hits) }),
		counterFunc("cache_misses_total", "Cache misses.", jobs, func() float64 { return float64(c.Stats().Misses) }),
		gaugeFunc("cache_entries", "Entries in the cache.", jobs, func() float64 { return float64(c.Stats().Len) }),
	), nil
}

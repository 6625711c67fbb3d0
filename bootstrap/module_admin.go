package bootstrap

import (
	"cmp"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/jobstatus/jobstatus/adapters/httpapi"
	"github.com/jobstatus/jobstatus/adapters/metrics"
)

// metricsNamespace prefixes the collectors the modules contribute, as the
// metrics adapter prefixes its own.
const metricsNamespace = "jobstatus"

// MetricsModule provides the Prometheus metrics, bound as the HTTP
// adapter's observer and the sweeper's.
var MetricsModule = fx.Module("metrics",
	fx.Provide(
		fx.Annotate(metrics.New,
			fx.As(fx.Self()),
			fx.As(new(httpapi.Observer)),
			fx.As(new(sweepObserver)),
		),
	),
)

func counterFunc(name, help string, labels prometheus.Labels, fn func() float64) prometheus.Collector {
	return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: metricsNamespace, Name: name, Help: help, ConstLabels: labels}, fn)
}

func gaugeFunc(name, help string, labels prometheus.Labels, fn func() float64) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: metricsNamespace, Name: name, Help: help, ConstLabels: labels}, fn)
}

// adminParams are what the admin listener serves: the readiness checks and
// the collectors every module contributed, and the metrics.
type adminParams struct {
	fx.In
	Lifecycle  fx.Lifecycle
	Config     Config
	Metrics    *metrics.Metrics
	Checks     []httpapi.Check        `group:"readiness"`
	Collectors []prometheus.Collector `group:"collectors"`
	Logger     *zap.Logger
}

// AdminModule serves /healthz, /readyz and /metrics on the admin listener.
var AdminModule = fx.Module("admin",
	fx.Invoke(startAdmin),
)

func startAdmin(p adminParams) error {
	if p.Config.AdminAddr == "" {
		return nil
	}
	if err := registerAll(p.Metrics.Registry(), p.Collectors); err != nil {
		return err
	}
	checks := slices.SortedFunc(slices.Values(p.Checks), func(a, b httpapi.Check) int { return cmp.Compare(a.Name, b.Name) })
	srv := httpapi.NewServer(httpapi.ServerConfig{
		Addr: p.Config.AdminAddr, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: time.Minute,
	}, httpapi.NewAdminHandler(checks, p.Metrics.Handler(), p.Logger.Named("admin"), p.Metrics), p.Logger.Named("admin"))
	p.Lifecycle.Append(fx.Hook{OnStart: srv.Start, OnStop: srv.Stop})
	return nil
}

func registerAll(reg prometheus.Registerer, cs []prometheus.Collector) error {
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

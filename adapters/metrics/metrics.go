// Package metrics exports the service's Prometheus metrics: requests by
// route and status, authentication failures by reason, job transitions by
// outcome, swept stale jobs, and whatever gauges the composition root
// registers (caches, waiters, database pool).
package metrics

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
)

const namespace = "jobstatus"

// Metrics holds the collectors. Its methods are safe for concurrent use.
type Metrics struct {
	reg          *prometheus.Registry
	requests     *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	held         *prometheus.HistogramVec
	authFailures *prometheus.CounterVec
	transitions  *prometheus.CounterVec
	stale        prometheus.Counter
	// series keeps the request series already resolved (requestKey →
	// requestSeries): every label value comes from a closed set, so it
	// stays small, and a request costs one lookup, not three label hashes.
	series sync.Map
}

type requestKey struct {
	route, method string
	status        int
	held          bool
}

type requestSeries struct {
	count   prometheus.Counter
	latency prometheus.Observer // held or not, as the key says
}

// New returns metrics registered on a fresh registry, with the Go runtime
// and process collectors.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "http_requests_total", Help: "HTTP requests by route, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "http_request_duration_seconds",
			Help:    "HTTP request latency by route and status, requests held by Prefer: wait excluded.",
			Buckets: LatencyBuckets,
		}, []string{"route", "status"}),
		held: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "http_held_request_duration_seconds",
			Help:    "Latency of requests held by Prefer: wait, by route and status.",
			Buckets: HeldBuckets,
		}, []string{"route", "status"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "auth_failures_total", Help: "Refused credentials by credential and reason.",
		}, []string{"credential", "reason"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "job_transitions_total",
			Help: "Job finish attempts in this process by outcome: done, failed, repeated, conflict.",
		}, []string{"outcome"}),
		stale: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "stale_jobs_failed_total", Help: "PENDING jobs failed by the sweeper for timing out.",
		}),
	}
	for _, o := range Outcomes {
		m.transitions.WithLabelValues(o) // every outcome exported from the start, at 0
	}
	reg.MustRegister(m.requests, m.latency, m.held, m.authFailures, m.transitions, m.stale, buildInfo(),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// LatencyBuckets resolve the service's real latencies: a cached answer
// takes tens of microseconds, a database round trip a millisecond or more.
var LatencyBuckets = []float64{
	.00001, .000025, .00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10,
}

// HeldBuckets cover requests held by Prefer: wait, up to the longest hold.
var HeldBuckets = []float64{.001, .01, .1, .5, 1, 2.5, 5, 10, 15, 20, 30, 60}

// Outcomes are the values of jobstatus_job_transitions_total's label.
var Outcomes = []string{"done", "failed", "repeated", "conflict", "timed_out"}

// buildInfo is jobstatus_build_info{version,commit,goversion} 1, read from
// the build information the Go toolchain embeds.
func buildInfo() prometheus.Collector {
	version, commit := "unknown", "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && s.Value != "" {
				commit = s.Value
			}
		}
	}
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: namespace, Name: "build_info", Help: "Always 1; the labels say which build is running.",
	}, []string{"version", "commit", "goversion"})
	g.WithLabelValues(version, commit, runtime.Version()).Set(1)
	return g
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Registry is where more collectors may be registered.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// ObserveRequest records one HTTP request: a request held by Prefer: wait
// goes to its own histogram, so holds of seconds do not hide the latency
// of the others. The HTTP adapter gives label values from closed sets only.
func (m *Metrics) ObserveRequest(route, method string, status int, d time.Duration, held bool) {
	key := requestKey{route: route, method: method, status: status, held: held}
	v, ok := m.series.Load(key)
	if !ok {
		s := strconv.Itoa(status)
		rs := requestSeries{count: m.requests.WithLabelValues(route, method, s)}
		if held { // a held request has no series of the other histogram
			rs.latency = m.held.WithLabelValues(route, s)
		} else {
			rs.latency = m.latency.WithLabelValues(route, s)
		}
		v, _ = m.series.LoadOrStore(key, rs)
	}
	rs := v.(requestSeries)
	rs.count.Inc()
	rs.latency.Observe(d.Seconds())
}

// AuthFailure records a refused credential.
func (m *Metrics) AuthFailure(credential, reason string) {
	m.authFailures.WithLabelValues(credential, reason).Inc()
}

// StaleJobsFailed records jobs failed by the sweeper.
func (m *Metrics) StaleJobsFailed(n int) {
	if n > 0 {
		m.stale.Add(float64(n))
		m.transitions.WithLabelValues("timed_out").Add(float64(n))
	}
}

// GaugeFunc registers a gauge read from fn at scrape time.
func (m *Metrics) GaugeFunc(name, help string, labels prometheus.Labels, fn func() float64) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: namespace, Name: name, Help: help, ConstLabels: labels,
	}, fn))
}

// CounterFunc registers a counter read from fn at scrape time.
func (m *Metrics) CounterFunc(name, help string, labels prometheus.Labels, fn func() float64) {
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Namespace: namespace, Name: name, Help: help, ConstLabels: labels,
	}, fn))
}

// Store is what Repository wraps: a job repository that says at which
// log position it read. Both ports pass through: the status use case
// reads through GetAt when its repository has it, and compares the
// changes a held request is handed with that position.
type Store interface {
	ports.JobRepository
	ports.SnapshotReader
}

// Repository counts the outcomes of Finish on the repository it wraps.
type Repository struct {
	Store
	m *Metrics
}

// Jobs wraps next so every finish is counted.
func (m *Metrics) Jobs(next Store) *Repository {
	return &Repository{Store: next, m: m}
}

// Finish implements ports.JobRepository.
func (r *Repository) Finish(ctx context.Context, id domain.ID, o domain.Outcome) (domain.Job, bool, error) {
	j, changed, err := r.Store.Finish(ctx, id, o)
	switch {
	case err == nil && changed && o.Status == domain.StatusDone:
		r.m.transitions.WithLabelValues("done").Inc()
	case err == nil && changed:
		r.m.transitions.WithLabelValues("failed").Inc()
	case err == nil:
		r.m.transitions.WithLabelValues("repeated").Inc()
	case errors.Is(err, domain.ErrConflict):
		r.m.transitions.WithLabelValues("conflict").Inc()
	}
	return j, changed, err
}

var (
	_ ports.JobRepository  = (*Repository)(nil)
	_ ports.SnapshotReader = (*Repository)(nil)
)

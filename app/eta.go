package app

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/jobstatus/jobstatus/ports"
)

// ETAConfig tunes the estimator.
type ETAConfig struct {
	Default    time.Duration // used until MinSamples durations are known
	Percentile float64       // e.g. 0.9: nine jobs in ten finish within the estimate
	Window     int           // how many recent durations count
	MinSamples int
	Min, Max   time.Duration // bounds of any estimate
}

// DefaultETAConfig returns sensible defaults.
func DefaultETAConfig() ETAConfig {
	return ETAConfig{Default: DefaultETA, Percentile: 0.9, Window: 500, MinSamples: 20, Min: time.Second, Max: time.Hour}
}

// ETA estimates how long a new job will take from how long recent jobs
// actually took: a high percentile over a sliding window of completion
// durations, or the configured default while there is too little data.
type ETA struct {
	cfg    ETAConfig
	source ports.DurationSource

	mu      sync.Mutex
	recent  []time.Duration // ring buffer, oldest overwritten first
	next    int
	cached  time.Duration
	changed bool
}

// NewETA returns an estimator; source may be nil (in-process observations
// only).
func NewETA(cfg ETAConfig, source ports.DurationSource) *ETA {
	if cfg.Window <= 0 {
		cfg.Window = 1
	}
	if cfg.Percentile <= 0 || cfg.Percentile > 1 {
		cfg.Percentile = 0.9
	}
	return &ETA{cfg: cfg, source: source, cached: clamp(cfg.Default, cfg.Min, cfg.Max)}
}

// Observe records how long a finished job took.
func (e *ETA) Observe(d time.Duration) {
	if d < 0 {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.add(d)
}

func (e *ETA) add(d time.Duration) {
	if len(e.recent) < e.cfg.Window {
		e.recent = append(e.recent, d)
	} else {
		e.recent[e.next] = d
		e.next = (e.next + 1) % e.cfg.Window
	}
	e.changed = true
}

// Refresh replaces the window with the store's most recent durations, so
// every instance (and every one-shot command) estimates from the same
// history.
func (e *ETA) Refresh(ctx context.Context) error {
	if e.source == nil {
		return nil
	}
	ds, err := e.source.RecentDurations(ctx, e.cfg.Window)
	if err != nil {
		return fmt.Errorf("refresh eta history: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.recent, e.next = e.recent[:0], 0
	for i := len(ds) - 1; i >= 0; i-- { // oldest first
		e.add(ds[i])
	}
	e.changed = true
	return nil
}

// Estimate returns the expected duration of a new job.
func (e *ETA) Estimate() time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.changed {
		return e.cached
	}
	e.changed = false
	if len(e.recent) < e.cfg.MinSamples {
		e.cached = clamp(e.cfg.Default, e.cfg.Min, e.cfg.Max)
		return e.cached
	}
	sorted := slices.Clone(e.recent)
	slices.Sort(sorted)
	// Nearest-rank percentile.
	rank := int(math.Ceil(e.cfg.Percentile*float64(len(sorted)))) - 1
	rank = max(0, min(rank, len(sorted)-1))
	e.cached = clamp(sorted[rank], e.cfg.Min, e.cfg.Max)
	return e.cached
}

// Samples returns how many durations the estimate rests on.
func (e *ETA) Samples() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.recent)
}

func clamp(d, lo, hi time.Duration) time.Duration {
	if lo > 0 && d < lo {
		return lo
	}
	if hi > 0 && d > hi {
		return hi
	}
	return d
}

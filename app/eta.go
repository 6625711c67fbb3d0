package app

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/jobstatus/jobstatus/ports"
)

// ETAConfig tunes the estimator. Every field is required; bootstrap's
// configuration holds the defaults.
type ETAConfig struct {
	Default    time.Duration // used until MinSamples durations are known
	Percentile float64       // e.g. 0.9: nine jobs in ten finish within the estimate
	Window     int           // how many recent durations count
	MinSamples int           // at least 1
	Min, Max   time.Duration // bounds of any estimate
}

// Validate refuses zero and negative settings.
func (c ETAConfig) Validate() error {
	var errs []error
	if c.Default <= 0 {
		errs = append(errs, fmt.Errorf("default must be positive, got %s", c.Default))
	}
	if c.Percentile <= 0 || c.Percentile > 1 {
		errs = append(errs, fmt.Errorf("percentile must be in (0, 1], got %g", c.Percentile))
	}
	if c.Window <= 0 {
		errs = append(errs, fmt.Errorf("window must be positive, got %d", c.Window))
	}
	if c.MinSamples <= 0 || c.MinSamples > c.Window {
		errs = append(errs, fmt.Errorf("min samples must be in [1, window], got %d", c.MinSamples))
	}
	if c.Min <= 0 || c.Max < c.Min {
		errs = append(errs, fmt.Errorf("bounds must satisfy 0 < min <= max, got %s and %s", c.Min, c.Max))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("app: eta: %w", err)
	}
	return nil
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

// NewETA returns an estimator that Refresh fills from source, or an error
// for an invalid cfg or a nil source.
func NewETA(cfg ETAConfig, source ports.DurationSource) (*ETA, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if source == nil {
		return nil, missing("ETA", "a duration source")
	}
	return &ETA{cfg: cfg, source: source, cached: clamp(cfg.Default, cfg.Min, cfg.Max)}, nil
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

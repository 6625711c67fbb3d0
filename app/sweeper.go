package app

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// SweeperConfig tunes the Sweeper. Every field is required; bootstrap's
// configuration holds the defaults.
type SweeperConfig struct {
	// Interval is how often the sweeper runs.
	Interval time.Duration
	// PendingTimeout is how long a job may stay PENDING after its creation.
	PendingTimeout time.Duration
}

// Validate refuses zero and negative settings.
func (c SweeperConfig) Validate() error {
	var errs []error
	if c.Interval <= 0 {
		errs = append(errs, fmt.Errorf("interval must be positive, got %s", c.Interval))
	}
	if c.PendingTimeout <= 0 {
		errs = append(errs, fmt.Errorf("pending timeout must be positive, got %s", c.PendingTimeout))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("app: sweeper: %w", err)
	}
	return nil
}

// SweepResult is what one run of the sweeper did.
type SweepResult struct {
	Jobs int   // jobs failed as timed out
	Err  error // nil when the run completed
}

// SweeperTestSignals lets tests wait for a run instead of sleeping. Its
// channels are nil, and nothing is sent, unless Init is called.
type SweeperTestSignals struct {
	Swept chan SweepResult // one value per run
}

// Init makes the channels; call it before Start.
func (s *SweeperTestSignals) Init() { s.Swept = make(chan SweepResult, 16) }

// Sweeper is the background service that fails jobs left PENDING past
// their deadline, every Interval. Several instances may run one: the store
// lets one sweep at a time.
type Sweeper struct {
	// TestSignals is for tests only.
	TestSignals SweeperTestSignals

	cfg    SweeperConfig
	sweep  SweepStaleHandler
	report func(SweepResult)
	loop   loop
}

// NewSweeper returns a Sweeper, or an error for an invalid cfg, an unwired
// sweep handler or a nil report. report is called after every run (the
// composition root logs and counts there).
func NewSweeper(cfg SweeperConfig, sweep SweepStaleHandler, report func(SweepResult)) (*Sweeper, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if sweep.m.store == nil {
		return nil, missing("Sweeper", "a sweep handler")
	}
	if report == nil {
		return nil, missing("Sweeper", "a report callback")
	}
	s := &Sweeper{cfg: cfg, sweep: sweep, report: report}
	s.loop = loop{interval: cfg.Interval, step: func(ctx context.Context) { s.runOnce(ctx) }}
	return s, nil
}

// Start runs the sweeper now and then every interval, until Stop.
func (s *Sweeper) Start(ctx context.Context) error { return s.loop.start(ctx) }

// Stop ends the sweeper and waits for a run in progress, at most until ctx
// ends.
func (s *Sweeper) Stop(ctx context.Context) error { return s.loop.stop(ctx) }

func (s *Sweeper) runOnce(ctx context.Context) SweepResult {
	n, err := s.sweep.Handle(ctx, SweepStale{PendingTimeout: s.cfg.PendingTimeout})
	res := SweepResult{Jobs: n, Err: err}
	if ctx.Err() != nil && err != nil {
		res.Err = nil // stopped mid-run: not a failure
	}
	s.report(res)
	signal(s.TestSignals.Swept, res)
	return res
}

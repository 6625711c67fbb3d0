package app

import (
	"context"
	"fmt"
	"time"
)

// ETARefresherConfig tunes the ETARefresher.
type ETARefresherConfig struct {
	// Interval is how often the history is reloaded; it must be positive.
	Interval time.Duration
}

// Validate refuses zero and negative settings.
func (c ETARefresherConfig) Validate() error {
	if c.Interval <= 0 {
		return fmt.Errorf("app: eta refresher: interval must be positive, got %s", c.Interval)
	}
	return nil
}

// ETARefresherTestSignals lets tests wait for a run instead of sleeping.
// Its channels are nil, and nothing is sent, unless Init is called.
type ETARefresherTestSignals struct {
	Refreshed chan error // one value per run: nil, or why it failed
}

// Init makes the channels; call it before Start.
func (s *ETARefresherTestSignals) Init() { s.Refreshed = make(chan error, 16) }

// ETARefresher is the background service that reloads the eta history from
// the store, so the estimate follows what other instances and workers see.
type ETARefresher struct {
	// TestSignals is for tests only.
	TestSignals ETARefresherTestSignals

	eta    *ETA
	report func(error)
	loop   loop
}

// NewETARefresher returns an ETARefresher, or an error for an invalid cfg
// or a nil dependency. report is called with the error of each failed run.
func NewETARefresher(cfg ETARefresherConfig, eta *ETA, report func(error)) (*ETARefresher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if eta == nil {
		return nil, missing("ETARefresher", "an eta estimator")
	}
	if report == nil {
		return nil, missing("ETARefresher", "a report callback")
	}
	r := &ETARefresher{eta: eta, report: report}
	r.loop = loop{interval: cfg.Interval, step: func(ctx context.Context) { r.runOnce(ctx) }}
	return r, nil
}

// Start refreshes now and then every interval, until Stop.
func (r *ETARefresher) Start(ctx context.Context) error { return r.loop.start(ctx) }

// Stop ends the refresher and waits for a run in progress, at most until
// ctx ends.
func (r *ETARefresher) Stop(ctx context.Context) error { return r.loop.stop(ctx) }

func (r *ETARefresher) runOnce(ctx context.Context) error {
	err := r.eta.Refresh(ctx)
	if err != nil && ctx.Err() == nil {
		r.report(err)
	}
	signal(r.TestSignals.Refreshed, err)
	return err
}

package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jobstatus/jobstatus/ports"
)

// EventRetentionConfig tunes EventRetention. Every field is required.
type EventRetentionConfig struct {
	Interval  time.Duration // how often old events are deleted
	Retention time.Duration // how long an event is kept
	Batch     int           // events deleted per statement
}

// Validate refuses zero and negative settings.
func (c EventRetentionConfig) Validate() error {
	if c.Interval <= 0 || c.Retention <= 0 || c.Batch <= 0 {
		return fmt.Errorf("app: event retention: interval, retention and batch must be positive, got %s, %s, %d",
			c.Interval, c.Retention, c.Batch)
	}
	return nil
}

// RetentionResult is what one run of EventRetention did.
type RetentionResult struct {
	Events int   // events deleted
	Err    error // nil when the run completed
}

// EventRetention is the background service that deletes events older than
// the retention, in batches, every Interval.
type EventRetention struct {
	cfg    EventRetentionConfig
	log    ports.EventLog
	clock  ports.Clock
	report func(RetentionResult)
	loop   loop
}

// NewEventRetention returns an EventRetention, or an error for an invalid
// cfg or a nil dependency.
func NewEventRetention(cfg EventRetentionConfig, log ports.EventLog, clock ports.Clock, report func(RetentionResult)) (*EventRetention, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil || clock == nil || report == nil {
		return nil, missing("EventRetention", "an event log, a clock and a report callback")
	}
	r := &EventRetention{cfg: cfg, log: log, clock: clock, report: report}
	r.loop = loop{interval: cfg.Interval, step: func(ctx context.Context) { r.RunOnce(ctx) }}
	return r, nil
}

// Start runs the service now and then every interval, until Stop.
func (r *EventRetention) Start(ctx context.Context) error { return r.loop.start(ctx) }

// Stop ends the service and waits for a run in progress, at most until ctx ends.
func (r *EventRetention) Stop(ctx context.Context) error { return r.loop.stop(ctx) }

// RunOnce deletes every event older than the retention, a batch at a time.
func (r *EventRetention) RunOnce(ctx context.Context) RetentionResult {
	before := r.clock.Now().Add(-r.cfg.Retention)
	var res RetentionResult
	for ctx.Err() == nil {
		n, err := r.log.DeleteEventsBefore(ctx, before, r.cfg.Batch)
		res.Events += n
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				res.Err = err
			}
			break
		}
		if n < r.cfg.Batch {
			break
		}
	}
	r.report(res)
	return res
}

package app

import (
	"context"
	"errors"
	"time"

	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
)

// DefaultBatch is how many rows one maintenance statement touches, so no
// statement holds locks for long.
const DefaultBatch = 1000

// inBatches calls step until it touches fewer than batch rows, fails, or
// ctx ends, and returns how many rows it touched in all.
func inBatches(ctx context.Context, batch int, step func(batch int) (int, error)) (int, error) {
	if batch <= 0 {
		batch = DefaultBatch
	}
	total := 0
	for {
		n, err := step(batch)
		total += n
		if err != nil || n < batch {
			return total, err
		}
		if err := ctx.Err(); err != nil {
			return total, errors.Join(err, errors.New("interrupted between batches"))
		}
	}
}

// SweepStale fails jobs still PENDING longer than PendingTimeout after
// their creation, with code 504 "job timed out".
type SweepStale struct {
	PendingTimeout time.Duration
	Batch          int
}

// SweepStaleHandler handles SweepStale.
type SweepStaleHandler struct {
	store ports.JobMaintenance
	clock ports.Clock
}

// NewSweepStaleHandler returns a SweepStaleHandler; it panics on nil deps.
func NewSweepStaleHandler(store ports.JobMaintenance, clock ports.Clock) SweepStaleHandler {
	if store == nil || clock == nil {
		panic("app: nil dependency for SweepStaleHandler")
	}
	return SweepStaleHandler{store: store, clock: clock}
}

// Handle sweeps in batches until none is left, and returns how many jobs
// it failed.
func (h SweepStaleHandler) Handle(ctx context.Context, c SweepStale) (int, error) {
	if c.PendingTimeout <= 0 {
		return 0, &domain.ValidationError{Field: "pending_timeout", Reason: "must be positive"}
	}
	now := h.clock.Now()
	return inBatches(ctx, c.Batch, func(batch int) (int, error) {
		return h.store.FailPendingCreatedBefore(ctx, now.Add(-c.PendingTimeout), domain.TimedOut(now), batch)
	})
}

// PurgeJobs deletes finished jobs older than OlderThan (by finish time).
type PurgeJobs struct {
	OlderThan time.Duration
	DryRun    bool
	Batch     int
}

// PurgeJobsHandler handles PurgeJobs.
type PurgeJobsHandler struct {
	store ports.JobMaintenance
	clock ports.Clock
}

// NewPurgeJobsHandler returns a PurgeJobsHandler; it panics on nil deps.
func NewPurgeJobsHandler(store ports.JobMaintenance, clock ports.Clock) PurgeJobsHandler {
	if store == nil || clock == nil {
		panic("app: nil dependency for PurgeJobsHandler")
	}
	return PurgeJobsHandler{store: store, clock: clock}
}

// Handle deletes in batches (or, with DryRun, counts) and returns how many.
// Pending jobs are never purged.
func (h PurgeJobsHandler) Handle(ctx context.Context, c PurgeJobs) (int, error) {
	if c.OlderThan <= 0 {
		return 0, &domain.ValidationError{Field: "older-than", Reason: "must be positive"}
	}
	before := h.clock.Now().Add(-c.OlderThan)
	if c.DryRun { // counts every match; the limit does not apply
		return h.store.DeleteFinishedBefore(ctx, before, c.Batch, true)
	}
	return inBatches(ctx, c.Batch, func(batch int) (int, error) {
		return h.store.DeleteFinishedBefore(ctx, before, batch, false)
	})
}

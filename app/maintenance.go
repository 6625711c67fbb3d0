package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
)

// inBatches calls step until it touches fewer than batch rows, fails, or
// ctx ends, and returns how many rows it touched in all.
func inBatches(ctx context.Context, batch int, step func(batch int) (int, error)) (int, error) {
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

// maintenance is what the sweep and the purge share: the store, the clock
// and the batch size.
type maintenance struct {
	store ports.JobMaintenance
	clock ports.Clock
	batch int
}

func newMaintenance(what string, store ports.JobMaintenance, clock ports.Clock, batch int) (maintenance, error) {
	switch {
	case store == nil:
		return maintenance{}, missing(what, "a maintenance store")
	case clock == nil:
		return maintenance{}, missing(what, "a clock")
	case batch <= 0:
		return maintenance{}, fmt.Errorf("app: %s: batch must be positive, got %d", what, batch)
	}
	return maintenance{store: store, clock: clock, batch: batch}, nil
}

// SweepStale fails jobs still PENDING longer than PendingTimeout after
// their creation, with code 504 "job timed out".
type SweepStale struct {
	PendingTimeout time.Duration
}

// SweepStaleHandler handles SweepStale.
type SweepStaleHandler struct{ m maintenance }

// NewSweepStaleHandler returns a SweepStaleHandler, or an error for a nil
// dependency or a batch that is not positive.
func NewSweepStaleHandler(store ports.JobMaintenance, clock ports.Clock, batch int) (SweepStaleHandler, error) {
	m, err := newMaintenance("SweepStaleHandler", store, clock, batch)
	return SweepStaleHandler{m: m}, err
}

// Handle sweeps in batches until none is left, and returns how many jobs
// it failed. The failure time goes through the domain like every other
// outcome's, so swept jobs carry the same precision.
func (h SweepStaleHandler) Handle(ctx context.Context, c SweepStale) (int, error) {
	if h.m.store == nil {
		return 0, errUnwired
	}
	if c.PendingTimeout <= 0 {
		return 0, &domain.ValidationError{Field: "pending_timeout", Reason: "must be positive"}
	}
	now := h.m.clock.Now()
	outcome := domain.TimedOut(now)
	return inBatches(ctx, h.m.batch, func(batch int) (int, error) {
		return h.m.store.FailPendingCreatedBefore(ctx, now.Add(-c.PendingTimeout), outcome, batch)
	})
}

// PurgeJobs deletes finished jobs older than OlderThan (by finish time);
// with DryRun it only counts them.
type PurgeJobs struct {
	OlderThan time.Duration
	DryRun    bool
}

// PurgeJobsHandler handles PurgeJobs.
type PurgeJobsHandler struct{ m maintenance }

// NewPurgeJobsHandler returns a PurgeJobsHandler, or an error for a nil
// dependency or a batch that is not positive.
func NewPurgeJobsHandler(store ports.JobMaintenance, clock ports.Clock, batch int) (PurgeJobsHandler, error) {
	m, err := newMaintenance("PurgeJobsHandler", store, clock, batch)
	return PurgeJobsHandler{m: m}, err
}

// Handle deletes in batches (or, with DryRun, counts) and returns how many.
// Pending jobs are never purged.
func (h PurgeJobsHandler) Handle(ctx context.Context, c PurgeJobs) (int, error) {
	if h.m.store == nil {
		return 0, errUnwired
	}
	if c.OlderThan <= 0 {
		return 0, &domain.ValidationError{Field: "older-than", Reason: "must be positive"}
	}
	before := h.m.clock.Now().Add(-c.OlderThan)
	if c.DryRun {
		return h.m.store.CountFinishedBefore(ctx, before)
	}
	return inBatches(ctx, h.m.batch, func(batch int) (int, error) {
		return h.m.store.DeleteFinishedBefore(ctx, before, batch)
	})
}

package postgres

import (
	"context"
	"errors"
	"math"
	"time"

	"github.com/jobstatus/jobstatus/domain"
)

// sweepLock is the advisory lock that lets one instance sweep at a time.
const sweepLock int64 = 0x6a6f6273_73776570 // "jobsswep"

// maintenanceTimeouts is how many query timeouts a maintenance batch may
// take: it touches many rows, not one.
const maintenanceTimeouts = 4

// staleParams select and fail a batch of stale jobs.
type staleParams struct {
	Lock         int64     `db:"lock"`
	Before       time.Time `db:"before"`
	ErrorCode    int       `db:"error_code"`
	ErrorMessage string    `db:"error_message"`
	At           time.Time `db:"at"`
	Limit        int       `db:"limit"`
}

const (
	qTryLock   = `SELECT pg_try_advisory_xact_lock(:lock)`
	qFailStale = `UPDATE async_jobs
		SET status = 'FAILED', error_code = :error_code, error_message = :error_message, updated_at = :at, finished_at = :at
		WHERE id IN (
			SELECT id FROM async_jobs WHERE status = 'PENDING' AND created_at < :before
			ORDER BY created_at LIMIT :limit FOR UPDATE SKIP LOCKED
		) AND status = 'PENDING'`
)

// FailPendingCreatedBefore implements ports.JobMaintenance. Each batch runs
// in a transaction holding a transaction-level advisory lock; an instance
// that cannot take it sweeps nothing this round.
func (s *Jobs) FailPendingCreatedBefore(ctx context.Context, before time.Time, o domain.Outcome, limit int) (int, error) {
	if o.Failure == nil {
		return 0, errors.New("fail stale jobs: the outcome must be a failure")
	}
	ctx, cancel := context.WithTimeout(ctx, maintenanceTimeouts*s.timeout)
	defer cancel()
	p := staleParams{Lock: sweepLock, Before: before, ErrorCode: o.Failure.Code, ErrorMessage: o.Failure.Message,
		At: domain.Timestamp(o.At), Limit: limit}
	n := 0
	err := s.inTx(ctx, func(tx *Jobs) error {
		var locked bool
		if err := tx.get(ctx, &locked, qTryLock, p); err != nil || !locked {
			return err
		}
		var err error
		n, err = tx.exec(ctx, qFailStale, p)
		return err
	})
	if err != nil {
		return 0, translate(ctx, "fail stale jobs", err)
	}
	return n, nil
}

// finishedParams select finished jobs by finish time.
type finishedParams struct {
	Before time.Time `db:"before"`
	Limit  int       `db:"limit"`
}

const qCountFinished = `SELECT count(*) FROM async_jobs WHERE finished_at < :before`

// CountFinishedBefore implements ports.JobMaintenance.
func (s *Jobs) CountFinishedBefore(ctx context.Context, before time.Time) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, maintenanceTimeouts*s.timeout)
	defer cancel()
	var n int
	if err := s.get(ctx, &n, qCountFinished, finishedParams{Before: before}); err != nil {
		return 0, translate(ctx, "count finished jobs", err)
	}
	return n, nil
}

const qDeleteFinished = `DELETE FROM async_jobs WHERE id IN (
	SELECT id FROM async_jobs WHERE finished_at < :before LIMIT :limit FOR UPDATE SKIP LOCKED)`

// DeleteFinishedBefore implements ports.JobMaintenance: one short batch per
// call, so no statement holds many row locks for long.
func (s *Jobs) DeleteFinishedBefore(ctx context.Context, before time.Time, limit int) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, maintenanceTimeouts*s.timeout)
	defer cancel()
	n, err := s.exec(ctx, qDeleteFinished, finishedParams{Before: before, Limit: limit})
	if err != nil {
		return 0, translate(ctx, "delete finished jobs", err)
	}
	return n, nil
}

// qRecentDurations leaves out times that are no date ('infinity', written
// by hand): PostgreSQL cannot subtract them, and
// one such job among the newest failed every refresh of the estimate.
const qRecentDurations = `SELECT CAST(EXTRACT(EPOCH FROM finished_at - created_at) AS float8)
	FROM async_jobs WHERE finished_at IS NOT NULL AND status = 'DONE' AND isfinite(finished_at) AND isfinite(created_at)
	ORDER BY finished_at DESC LIMIT :limit`

// RecentDurations implements ports.DurationSource, newest first.
func (s *Jobs) RecentDurations(ctx context.Context, limit int) ([]time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var secs []float64
	if err := s.selectAll(ctx, &secs, qRecentDurations, finishedParams{Limit: limit}); err != nil {
		return nil, translate(ctx, "recent durations", err)
	}
	out := make([]time.Duration, len(secs))
	for i, v := range secs {
		out[i] = seconds(v)
	}
	return out, nil
}

// seconds converts a duration in seconds, as PostgreSQL computes them,
// saturated at what a time.Duration holds (about 292 years; a job
// finished centuries after its creation, by hand, came out negative).
func seconds(v float64) time.Duration {
	ns := v * float64(time.Second)
	switch {
	case ns >= math.MaxInt64:
		return math.MaxInt64
	case ns <= math.MinInt64:
		return math.MinInt64
	}
	return time.Duration(ns)
}

package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/lib/pq"

	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
)

// sweepLock is the advisory lock that lets one instance sweep at a time.
const sweepLock int64 = 0x6a6f6273_73776570 // "jobsswep"

const qFailStale = `UPDATE async_jobs
	SET status = 'FAILED', error_code = $2, error_message = $3, updated_at = $4, finished_at = $4
	WHERE id IN (
		SELECT id FROM async_jobs WHERE status = 'PENDING' AND created_at < $1
		ORDER BY created_at LIMIT $5 FOR UPDATE SKIP LOCKED
	) AND status = 'PENDING'`

// FailPendingCreatedBefore implements ports.JobMaintenance. Each batch runs
// in a transaction holding a transaction-level advisory lock; an instance
// that cannot take it sweeps nothing this round.
func (s *Jobs) FailPendingCreatedBefore(ctx context.Context, before time.Time, o domain.Outcome, limit int) (int, error) {
	if o.Failure == nil {
		return 0, fmt.Errorf("fail stale jobs: the outcome must be a failure")
	}
	ctx, cancel := context.WithTimeout(ctx, 4*s.timeout)
	defer cancel()
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return 0, translate(ctx, "fail stale jobs", err)
	}
	defer func() { _ = tx.Rollback() }()
	var locked bool
	if err := tx.GetContext(ctx, &locked, `SELECT pg_try_advisory_xact_lock($1)`, sweepLock); err != nil {
		return 0, translate(ctx, "fail stale jobs", err)
	}
	if !locked {
		return 0, nil
	}
	res, err := tx.ExecContext(ctx, qFailStale, before, o.Failure.Code, o.Failure.Message, o.At, limit)
	if err != nil {
		return 0, translate(ctx, "fail stale jobs", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, translate(ctx, "fail stale jobs", err)
	}
	return int(n), nil
}

const (
	qCountFinished  = `SELECT count(*) FROM async_jobs WHERE finished_at < $1`
	qDeleteFinished = `DELETE FROM async_jobs WHERE id IN (
		SELECT id FROM async_jobs WHERE finished_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`
)

// DeleteFinishedBefore implements ports.JobMaintenance: one short batch per
// call, so no statement holds many row locks for long.
func (s *Jobs) DeleteFinishedBefore(ctx context.Context, before time.Time, limit int, dryRun bool) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 4*s.timeout)
	defer cancel()
	if dryRun {
		var n int
		if err := s.db.GetContext(ctx, &n, qCountFinished, before); err != nil {
			return 0, translate(ctx, "count finished jobs", err)
		}
		return n, nil
	}
	res, err := s.db.ExecContext(ctx, qDeleteFinished, before, limit)
	if err != nil {
		return 0, translate(ctx, "delete finished jobs", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

const (
	// The client filter is "$3 = ” OR client_id = $3" so one prepared
	// plan serves both; reports are rare and scan by the created_at index.
	qDailyCounts = `SELECT (created_at AT TIME ZONE 'UTC')::date AS day, client_id, status, count(*) AS jobs
		FROM async_jobs WHERE created_at >= $1 AND created_at < $2 AND ($3 = '' OR client_id = $3)
		GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`
	qTimeToDone = `SELECT percentile_cont($4::float8[]) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM finished_at - created_at)),
		count(*) FROM async_jobs
		WHERE status = 'DONE' AND created_at >= $1 AND created_at < $2 AND ($3 = '' OR client_id = $3)`
	qTopFailures = `SELECT error_code, mode() WITHIN GROUP (ORDER BY error_message) AS message, count(*) AS jobs
		FROM async_jobs
		WHERE status = 'FAILED' AND created_at >= $1 AND created_at < $2 AND ($3 = '' OR client_id = $3)
		GROUP BY error_code ORDER BY jobs DESC, error_code LIMIT $4`
)

// reportTimeout bounds report queries, which may scan millions of rows.
const reportTimeout = 10 * time.Minute

// DailyCounts implements ports.ReportSource, row by row from the cursor.
func (s *Jobs) DailyCounts(ctx context.Context, f ports.ReportFilter, fn func(ports.DailyCount) error) error {
	ctx, cancel := context.WithTimeout(ctx, reportTimeout)
	defer cancel()
	rows, err := s.db.QueryxContext(ctx, qDailyCounts, f.From, f.To, f.ClientID)
	if err != nil {
		return translate(ctx, "daily counts", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r struct {
			Day      time.Time `db:"day"`
			ClientID string    `db:"client_id"`
			Status   string    `db:"status"`
			Jobs     int64     `db:"jobs"`
		}
		if err := rows.StructScan(&r); err != nil {
			return fmt.Errorf("daily counts: %w", err)
		}
		day := time.Date(r.Day.Year(), r.Day.Month(), r.Day.Day(), 0, 0, 0, 0, time.UTC)
		if err := fn(ports.DailyCount{Day: day, ClientID: r.ClientID, Status: domain.Status(r.Status), Jobs: r.Jobs}); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return translate(ctx, "daily counts", err)
	}
	return nil
}

// TimeToDone implements ports.ReportSource.
func (s *Jobs) TimeToDone(ctx context.Context, f ports.ReportFilter, qs []float64) ([]time.Duration, int64, error) {
	ctx, cancel := context.WithTimeout(ctx, reportTimeout)
	defer cancel()
	var secs pq.Float64Array
	var n int64
	if err := s.db.QueryRowxContext(ctx, qTimeToDone, f.From, f.To, f.ClientID, pq.Float64Array(qs)).Scan(&secs, &n); err != nil {
		return nil, 0, translate(ctx, "time to done", err)
	}
	out := make([]time.Duration, len(qs))
	for i := range out {
		if i < len(secs) {
			out[i] = time.Duration(secs[i] * float64(time.Second))
		}
	}
	return out, n, nil
}

// TopFailures implements ports.ReportSource.
func (s *Jobs) TopFailures(ctx context.Context, f ports.ReportFilter, limit int) ([]ports.FailureCount, error) {
	ctx, cancel := context.WithTimeout(ctx, reportTimeout)
	defer cancel()
	var rows []struct {
		Code    int    `db:"error_code"`
		Message string `db:"message"`
		Jobs    int64  `db:"jobs"`
	}
	if err := s.db.SelectContext(ctx, &rows, qTopFailures, f.From, f.To, f.ClientID, limit); err != nil {
		return nil, translate(ctx, "top failures", err)
	}
	out := make([]ports.FailureCount, len(rows))
	for i, r := range rows {
		out[i] = ports.FailureCount{Code: r.Code, Message: r.Message, Jobs: r.Jobs}
	}
	return out, nil
}

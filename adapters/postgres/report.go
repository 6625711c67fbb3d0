package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/lib/pq"

	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
)

// reportTimeout bounds report queries, which may scan millions of rows.
const reportTimeout = 10 * time.Minute

// reportParams select the jobs of a report. The client filter is
// "(:client_id = ” OR client_id = :client_id)" so one plan serves both;
// reports are rare and scan by the created_at index.
type reportParams struct {
	From      time.Time       `db:"from"`
	To        time.Time       `db:"to"`
	ClientID  string          `db:"client_id"`
	Quantiles pq.Float64Array `db:"quantiles"`
	Limit     int             `db:"limit"`
}

func paramsOf(f ports.ReportFilter) reportParams {
	return reportParams{From: f.From, To: f.To, ClientID: f.ClientID}
}

// dailyRow is one row of qDailyCounts.
type dailyRow struct {
	Day      time.Time `db:"day"`
	ClientID string    `db:"client_id"`
	Status   string    `db:"status"`
	Jobs     int64     `db:"jobs"`
}

func (r dailyRow) toPort() ports.DailyCount {
	day := time.Date(r.Day.Year(), r.Day.Month(), r.Day.Day(), 0, 0, 0, 0, time.UTC)
	return ports.DailyCount{Day: day, ClientID: r.ClientID, Status: domain.Status(r.Status), Jobs: r.Jobs}
}

const qDailyCounts = `SELECT CAST(created_at AT TIME ZONE 'UTC' AS date) AS day, client_id, status, count(*) AS jobs
	FROM async_jobs WHERE created_at >= :from AND created_at < :to AND (:client_id = '' OR client_id = :client_id)
	GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`

// DailyCounts implements ports.ReportSource, row by row from the cursor.
func (s *Jobs) DailyCounts(ctx context.Context, f ports.ReportFilter, fn func(ports.DailyCount) error) error {
	ctx, cancel := context.WithTimeout(ctx, reportTimeout)
	defer cancel()
	query, args, err := s.db.BindNamed(qDailyCounts, paramsOf(f))
	if err != nil {
		return err
	}
	rows, err := s.db.QueryxContext(ctx, query, args...)
	if err != nil {
		return translate(ctx, "daily counts", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r dailyRow
		if err := rows.StructScan(&r); err != nil {
			return fmt.Errorf("daily counts: %w", err)
		}
		if err := fn(r.toPort()); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return translate(ctx, "daily counts", err)
	}
	return nil
}

// timeToDoneRow is the one row of qTimeToDone.
type timeToDoneRow struct {
	Seconds pq.Float64Array `db:"seconds"`
	Jobs    int64           `db:"jobs"`
}

// qTimeToDone leaves out a finish time that is no date ('infinity',
// written by hand): PostgreSQL cannot subtract
// it, and it failed the whole report.
const qTimeToDone = `SELECT percentile_cont(CAST(:quantiles AS float8[]))
		WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM finished_at - created_at)) AS seconds,
	count(*) AS jobs FROM async_jobs
	WHERE status = 'DONE' AND created_at >= :from AND created_at < :to AND (:client_id = '' OR client_id = :client_id)
	  AND isfinite(finished_at)`

// TimeToDone implements ports.ReportSource.
func (s *Jobs) TimeToDone(ctx context.Context, f ports.ReportFilter, qs []float64) ([]time.Duration, int64, error) {
	ctx, cancel := context.WithTimeout(ctx, reportTimeout)
	defer cancel()
	p := paramsOf(f)
	p.Quantiles = qs
	var r timeToDoneRow
	if err := s.get(ctx, &r, qTimeToDone, p); err != nil {
		return nil, 0, translate(ctx, "time to done", err)
	}
	out := make([]time.Duration, len(qs))
	for i := range out {
		if i < len(r.Seconds) {
			out[i] = seconds(r.Seconds[i])
		}
	}
	return out, r.Jobs, nil
}

// failureRow is one row of qTopFailures.
type failureRow struct {
	Code    int    `db:"error_code"`
	Message string `db:"message"`
	Jobs    int64  `db:"jobs"`
}

const qTopFailures = `SELECT error_code, mode() WITHIN GROUP (ORDER BY error_message) AS message, count(*) AS jobs
	FROM async_jobs
	WHERE status = 'FAILED' AND created_at >= :from AND created_at < :to AND (:client_id = '' OR client_id = :client_id)
	GROUP BY error_code ORDER BY jobs DESC, error_code LIMIT :limit`

// TopFailures implements ports.ReportSource.
func (s *Jobs) TopFailures(ctx context.Context, f ports.ReportFilter, limit int) ([]ports.FailureCount, error) {
	ctx, cancel := context.WithTimeout(ctx, reportTimeout)
	defer cancel()
	p := paramsOf(f)
	p.Limit = limit
	var rows []failureRow
	if err := s.selectAll(ctx, &rows, qTopFailures, p); err != nil {
		return nil, translate(ctx, "top failures", err)
	}
	out := make([]ports.FailureCount, len(rows))
	for i, r := range rows {
		out[i] = ports.FailureCount{Code: r.Code, Message: r.Message, Jobs: r.Jobs}
	}
	return out, nil
}

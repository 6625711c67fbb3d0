package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
)

// eventRow is an event with the job as that change left it: its own
// snapshot, or, for an event written before snapshots (migration 00008),
// the job's row as it is now.
type eventRow struct {
	Position    int64  `db:"position"`
	EventStatus string `db:"event_status"`
	jobRow
}

type eventsParams struct {
	ClientID string `db:"client_id"`
	After    int64  `db:"after"`
	Limit    int    `db:"limit"`
}

// qEventColumns read the event's snapshot (e.eta is NULL only in events
// from before snapshots: then the join supplies the job as it is now).
// The id and owner are always the event's own, so replay follows neither
// a later change of owner nor a purge. Events are the log's entries
// marked event (an entry from before 00009 has no mark: it is one).
const qEventColumns = `SELECT e.position, e.status AS event_status,
		e.job_id AS id, e.client_id, NULL AS idempotency_key,
		CASE WHEN e.eta IS NULL THEN j.status ELSE e.status END AS status,
		coalesce(e.eta, j.eta) AS eta,
		CASE WHEN e.eta IS NULL THEN j.links ELSE e.links END AS links,
		CASE WHEN e.eta IS NULL THEN j.error_code ELSE e.error_code END AS error_code,
		CASE WHEN e.eta IS NULL THEN j.error_message ELSE e.error_message END AS error_message,
		CASE WHEN e.eta IS NULL THEN j.created_at ELSE e.occurred_at END AS created_at,
		CASE WHEN e.eta IS NULL THEN j.updated_at ELSE e.occurred_at END AS updated_at,
		CASE WHEN e.eta IS NULL THEN j.finished_at END AS finished_at,
		coalesce(j.version, 0) AS version
	FROM async_job_events e LEFT JOIN async_jobs j ON e.op IS NULL AND e.eta IS NULL AND j.id = e.job_id`

// An event without a snapshot whose job was purged since is skipped: it
// has nothing to show.
var (
	qEventsAfter = qEventColumns + `
		WHERE e.position > :after AND e.event IS NOT FALSE AND (e.eta IS NOT NULL OR j.id IS NOT NULL)
		ORDER BY e.position LIMIT :limit`
	qClientEventsAfter = qEventColumns + `
		WHERE e.client_id = :client_id AND e.position > :after AND e.event IS NOT FALSE
		  AND (e.eta IS NOT NULL OR j.id IS NOT NULL)
		ORDER BY e.position LIMIT :limit`
)

// EventsAfter implements ports.EventLog.
func (s *Jobs) EventsAfter(ctx context.Context, clientID string, after int64, limit int) ([]ports.JobEvent, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	q := qEventsAfter
	if clientID != "" {
		q = qClientEventsAfter
	}
	for {
		var rows []eventRow
		if err := s.selectAll(ctx, &rows, q, eventsParams{ClientID: clientID, After: after, Limit: limit}); err != nil {
			return nil, translate(ctx, "read job events", err)
		}
		out := make([]ports.JobEvent, 0, len(rows))
		for _, r := range rows {
			j, err := r.toDomain()
			if err != nil {
				continue // a state written by hand that the service cannot show (ChangeUnreadable): not replayed
			}
			out = append(out, ports.JobEvent{Position: r.Position, ClientID: j.ClientID, Status: domain.Status(r.EventStatus), Job: j})
		}
		// A full batch of events it cannot show is no end of the log: an
		// empty answer ends a replay, which would skip every event after
		// them. Read on past them.
		if len(out) > 0 || len(rows) == 0 || len(rows) < limit {
			return out, nil
		}
		after = rows[len(rows)-1].Position
	}
}

// qHead is the log's head as a snapshot sees it, from the head row h
// (migration 00011): writers move the row only when their last position
// is headWindow or more past it, so every committed position is below
// h.position + headWindow, and positions commit in order, so the last
// one the snapshot sees in the window has every earlier one visible
// before it. The window keeps the scan off the entries of a bulk
// statement still in progress (an unbounded max(position) would walk
// every one of them).
const qHead = `greatest(h.position, (SELECT max(e.position) FROM async_job_events e
		WHERE e.position > h.position AND e.position <= h.position + ` + headWindow + `))`

// headWindow is 00011's: a writer moves the head row when it is this far
// behind.
const headWindow = "256"

// LastPosition implements ports.LogPositions: the head, in one statement.
func (s *Jobs) LastPosition(ctx context.Context) (int64, error) {
	return s.position(ctx, "read the log's head", `SELECT `+qHead+` FROM async_job_events_head h`)
}

// Horizon implements ports.EventLog.
func (s *Jobs) Horizon(ctx context.Context) (int64, error) {
	return s.position(ctx, "read event horizon", `SELECT position FROM async_job_events_horizon`)
}

func (s *Jobs) position(ctx context.Context, op, q string) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var n int64
	if err := s.db.QueryRowxContext(ctx, q).Scan(&n); err != nil {
		return 0, translate(ctx, op, err)
	}
	return n, nil
}

type deleteEventsParams struct {
	Before time.Time `db:"before"`
	Limit  int       `db:"limit"`
}

// qDeleteEvents removes the oldest entries of the log (events or not) and
// moves the horizon past them in one statement, and the head row (qHead
// finds the head in a window above the row: it must not fall behind the
// entries that are left). What it deletes was committed, and every
// position before it.
const qDeleteEvents = `WITH gone AS (
		DELETE FROM async_job_events WHERE position IN (
			SELECT position FROM async_job_events WHERE occurred_at < :before ORDER BY position LIMIT :limit)
		RETURNING position),
	moved AS (
		UPDATE async_job_events_horizon SET position = greatest(position, (SELECT max(position) FROM gone))
		WHERE EXISTS (SELECT 1 FROM gone)),
	head AS (
		UPDATE async_job_events_head SET position = greatest(position, (SELECT max(position) FROM gone))
		WHERE EXISTS (SELECT 1 FROM gone))
	SELECT count(*) FROM gone`

// DeleteEventsBefore implements ports.EventLog.
func (s *Jobs) DeleteEventsBefore(ctx context.Context, before time.Time, limit int) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var n int
	if err := s.get(ctx, &n, qDeleteEvents, deleteEventsParams{Before: before, Limit: limit}); err != nil {
		return 0, translate(ctx, "delete job events", err)
	}
	return n, nil
}

type listParams struct {
	ClientID    string    `db:"client_id"`
	Status      string    `db:"status"`
	CreatedFrom time.Time `db:"created_from"`
	CreatedTo   time.Time `db:"created_to"`
	AfterAt     time.Time `db:"after_at"`
	AfterID     string    `db:"after_id"`
	Limit       int       `db:"limit"`
}

// qList walks async_jobs_client_created_idx from the cursor: a row
// comparison on (created_at, id) matches the index's order, so a page
// costs the same however many jobs the client has.
const qList = `SELECT ` + columns + ` FROM async_jobs
	WHERE client_id = :client_id
	  AND (:status = '' OR status = :status)
	  AND created_at >= :created_from AND created_at < :created_to
	  AND (created_at, id) < (:after_at, CAST(:after_id AS uuid))
	ORDER BY created_at DESC, id DESC
	LIMIT :limit`

// The bounds used for filters the caller left out: every time a job may
// carry (domain.ValidTime), listMax just past the last, as created_to is
// exclusive.
var (
	listMin = domain.EarliestTime
	listMax = domain.LatestTime.Add(time.Nanosecond)
	maxUUID = "ffffffff-ffff-ffff-ffff-ffffffffffff"
)

// ListJobs implements ports.JobLister.
func (s *Jobs) ListJobs(ctx context.Context, q ports.JobListQuery) ([]ports.ListedJob, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	p := listParams{ClientID: q.ClientID, Status: string(q.Status), CreatedFrom: listMin, CreatedTo: listMax,
		AfterAt: listMax, AfterID: maxUUID, Limit: q.Limit}
	if !q.CreatedFrom.IsZero() {
		p.CreatedFrom = q.CreatedFrom
	}
	if !q.CreatedTo.IsZero() {
		p.CreatedTo = q.CreatedTo
	}
	if q.After != nil {
		p.AfterAt, p.AfterID = q.After.CreatedAt, q.After.ID.String()
	}
	var rows []jobRow
	if err := s.selectAll(ctx, &rows, qList, p); err != nil {
		return nil, translate(ctx, "list jobs", err)
	}
	out := make([]ports.ListedJob, len(rows))
	for i, r := range rows {
		j, err := r.toDomain()
		var unreadable *domain.UnreadableJobError
		switch {
		case errors.As(err, &unreadable):
			// Listed by created_at, so it holds a time within the bounds.
			created, _ := r.CreatedAt.read()
			out[i] = ports.ListedJob{Job: domain.Job{ID: unreadable.ID, ClientID: r.ClientID, CreatedAt: created}, Unreadable: unreadable}
		case err != nil:
			return nil, err
		default:
			out[i] = ports.ListedJob{Job: j}
		}
	}
	return out, nil
}

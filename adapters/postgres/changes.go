package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
)

// The log's operations, as the triggers of migrations 00009, 00011 and 00012 write them.
const (
	opPut      = "P"
	opDelete   = "D"
	opTruncate = "T"
)

// changeRow is one entry of the log: a put with the job as it left it, a
// delete with the id and owner the job had, or a truncate.
type changeRow struct {
	Position int64  `db:"position"`
	Op       string `db:"op"`
	Event    bool   `db:"event"`
	Horizon  int64  `db:"horizon"` // the log's, as of the same read
	jobRow
}

// qChanges reads the log, and only the log: the jobs table is never
// touched, so the feed keeps vouching for memory while something holds a
// lock on it (a locked table does not change). An entry written before
// 00009 (op NULL) is a put and a stream event, read from the snapshot
// 00008 gave it; one written before 00008 has none (eta NULL) and is
// skipped: every such entry lies before the head a feed starts from. A
// delete or truncate has no job columns: they are filled with
// placeholders never read. A put's version is the job's (its own column
// since 00012; before, the position was the version). Every row carries
// the horizon as of the same snapshot.
const qChanges = `SELECT e.position, coalesce(e.op, 'P') AS op, coalesce(e.event, true) AS event,
		coalesce(e.job_id, '00000000-0000-0000-0000-000000000000') AS id, coalesce(e.client_id, '') AS client_id,
		e.idempotency_key, coalesce(e.status, '') AS status, coalesce(e.eta, 'epoch') AS eta,
		coalesce(e.links, '[]') AS links, e.error_code, e.error_message,
		coalesce(e.created_at, e.occurred_at) AS created_at, coalesce(e.updated_at, e.occurred_at) AS updated_at,
		CASE WHEN e.op IS NULL AND e.status <> 'PENDING' THEN e.occurred_at ELSE e.finished_at END AS finished_at,
		coalesce(e.version, e.position) AS version,
		(SELECT position FROM async_job_events_horizon) AS horizon
	FROM async_job_events e
	WHERE e.position > :after AND (e.op IS NOT NULL OR e.eta IS NOT NULL)
	ORDER BY e.position LIMIT :limit`

type changesParams struct {
	After int64 `db:"after"`
	Limit int   `db:"limit"`
}

// ChangesAfter implements ports.ChangeLog: one statement when it finds
// changes (their rows carry the horizon), a second for the horizon when
// it finds none.
func (s *Jobs) ChangesAfter(ctx context.Context, after int64, limit int) ([]ports.Change, int64, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var rows []changeRow
	if err := s.selectAll(ctx, &rows, qChanges, changesParams{After: after, Limit: limit}); err != nil {
		return nil, 0, translate(ctx, "read job changes", err)
	}
	if len(rows) == 0 {
		horizon, err := s.Horizon(ctx)
		return nil, horizon, err
	}
	out := make([]ports.Change, 0, len(rows))
	for _, r := range rows {
		c, err := r.toPort()
		if err != nil {
			return nil, 0, err
		}
		out = append(out, c)
	}
	return out, rows[0].Horizon, nil
}

func (r changeRow) toPort() (ports.Change, error) {
	c := ports.Change{Position: r.Position, Event: r.Event}
	switch r.Op {
	case opPut:
		j, err := r.toDomain()
		if err != nil {
			// A state the table accepts but the service cannot represent
			// (links of another shape, written by hand): the feed goes on,
			// and whoever needs the job reads it. Not a stream event.
			c.Op, c.ID, c.Event = ports.ChangeUnreadable, domain.ID(strings.ToLower(r.ID)), false
			c.Job = domain.Job{ID: c.ID, ClientID: r.ClientID}
			return c, nil
		}
		c.Op, c.ID, c.Job = ports.ChangePut, j.ID, j
	case opDelete:
		c.Op, c.ID = ports.ChangeDelete, domain.ID(strings.ToLower(r.ID))
		c.Job = domain.Job{ID: c.ID, ClientID: r.ClientID}
	case opTruncate:
		c.Op = ports.ChangeTruncate
	default:
		return ports.Change{}, fmt.Errorf("job change %d: unknown operation %q", r.Position, r.Op)
	}
	return c, nil
}

// The log's ports, as the feed and the read model use them.
var (
	_ ports.ChangeLog      = (*Jobs)(nil)
	_ ports.SnapshotReader = (*Jobs)(nil)
	_ ports.EventLog       = (*Jobs)(nil)
)

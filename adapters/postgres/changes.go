package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
)

// The log's operations, as migration 00009's triggers write them.
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
	jobRow
}

// qChanges reads the log. An entry written before 00009 (op NULL) is a put
// and a stream event; one written before 00008 too has no snapshot (eta
// NULL) and is read with the job's row as it is now, or skipped when the
// job is gone. A delete or truncate has no job columns: they are filled
// with placeholders never read.
const qChanges = `SELECT e.position, coalesce(e.op, 'P') AS op, coalesce(e.event, true) AS event,
		coalesce(e.job_id, '00000000-0000-0000-0000-000000000000') AS id, coalesce(e.client_id, '') AS client_id,
		CASE WHEN e.eta IS NULL THEN j.idempotency_key ELSE e.idempotency_key END AS idempotency_key,
		coalesce(CASE WHEN e.eta IS NULL THEN j.status END, e.status, '') AS status,
		coalesce(e.eta, j.eta, 'epoch') AS eta,
		coalesce(CASE WHEN e.eta IS NULL THEN j.links ELSE e.links END, '[]') AS links,
		CASE WHEN e.eta IS NULL THEN j.error_code ELSE e.error_code END AS error_code,
		CASE WHEN e.eta IS NULL THEN j.error_message ELSE e.error_message END AS error_message,
		coalesce(CASE WHEN e.eta IS NULL THEN j.created_at ELSE e.created_at END, e.occurred_at) AS created_at,
		coalesce(CASE WHEN e.eta IS NULL THEN j.updated_at ELSE e.updated_at END, e.occurred_at) AS updated_at,
		CASE WHEN e.eta IS NULL THEN j.finished_at ELSE e.finished_at END AS finished_at,
		e.position AS version
	FROM async_job_events e LEFT JOIN async_jobs j ON e.op IS NULL AND e.eta IS NULL AND j.id = e.job_id
	WHERE e.position > :after AND (e.op IS NOT NULL OR e.eta IS NOT NULL OR j.id IS NOT NULL)
	ORDER BY e.position LIMIT :limit`

type changesParams struct {
	After int64 `db:"after"`
	Limit int   `db:"limit"`
}

// ChangesAfter implements ports.ChangeLog.
func (s *Jobs) ChangesAfter(ctx context.Context, after int64, limit int) ([]ports.Change, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var rows []changeRow
	if err := s.selectAll(ctx, &rows, qChanges, changesParams{After: after, Limit: limit}); err != nil {
		return nil, translate(ctx, "read job changes", err)
	}
	out := make([]ports.Change, 0, len(rows))
	for _, r := range rows {
		c, err := r.toPort()
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

func (r changeRow) toPort() (ports.Change, error) {
	c := ports.Change{Position: r.Position, Event: r.Event}
	switch r.Op {
	case opPut:
		j, err := r.toDomain()
		if err != nil {
			return ports.Change{}, fmt.Errorf("job change %d: %w", r.Position, err)
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

package ports

import (
	"context"
	"time"

	"github.com/jobstatus/jobstatus/domain"
)

// ChangeOp says what a change did to a job.
type ChangeOp uint8

const (
	// ChangePut created the job or changed a field the API shows (status,
	// eta, links, error, owner); Change.Job is the job as it left it.
	ChangePut ChangeOp = iota + 1
	// ChangeDelete removed the job (a purge, the sweeper, hand-written
	// SQL, or an UPDATE that moved it to another id).
	ChangeDelete
	// ChangeTruncate removed every job at once.
	ChangeTruncate
	// ChangeUnreadable changed the job to a state the log's reader cannot
	// represent (hand-written SQL stored what the table's checks allow but
	// the service does not): whoever needs the job reads it from the store.
	ChangeUnreadable
)

// Change is one entry of the change log. Its Position is both its place
// in the log and, for a put, the version of the job it left: positions
// grow with commit order, so a reader of "positions after p" never sees a
// position before one committed earlier, and never skips one.
type Change struct {
	Position int64
	Op       ChangeOp
	// ID is the job changed; empty for ChangeTruncate.
	ID domain.ID
	// Job is the job as a put left it (Version == Position); for a delete
	// only its ID and ClientID (the owner it had) are set.
	Job domain.Job
	// Event says the change is one the change stream shows its client: a
	// job created, or its status changed.
	Event bool
}

// ChangeLog is the store's one record of every change of every job, in
// commit order, kept for a retention period.
type ChangeLog interface {
	// ChangesAfter returns at most limit changes with a position above
	// after, in position order, and the log's horizon (LogPositions) as
	// of the same read: a horizon above after says retention may have
	// taken changes before the first one returned.
	ChangesAfter(ctx context.Context, after int64, limit int) (changes []Change, horizon int64, err error)
	LogPositions
}

// SnapshotReader reads a job together with the log position of the
// snapshot it was read at: every change up to that position is reflected
// in the answer, none after it. A job that does not exist is
// domain.ErrNotFound, with the position all the same. A job's version is
// no position (PostgreSQL takes it before its change's position): only
// positions order changes. The status use case reads through GetAt when
// its repository has it (the read model does), and a decorator of a
// repository must then decorate both.
type SnapshotReader interface {
	GetAt(ctx context.Context, id domain.ID) (job domain.Job, at int64, err error)
}

// ChangeBatch is what the change feed hands its projections (the read
// model, the waiters, the streams): the changes after the previous
// batch's Through, in position order.
type ChangeBatch struct {
	Changes []Change
	// Through is the position up to which every change has been handed
	// over, in this batch or an earlier one (at least the last change's).
	Through int64
	// Reset says changes up to Through may have been missed (the feed
	// starts, or retention deleted changes it had not read): whatever was
	// derived from earlier changes must be dropped.
	Reset bool
	// CaughtUp, when not zero, is when the read that ended this batch
	// began: the log then held nothing after Through. It is the feed's
	// heartbeat; a batch with no changes may carry it alone.
	CaughtUp time.Time
}

// ChangeSink is a projection of the change log.
type ChangeSink interface {
	// Apply hands over the next batch, from one goroutine at a time.
	Apply(ChangeBatch)
}

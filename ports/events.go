package ports

import (
	"context"
	"time"

	"github.com/jobstatus/jobstatus/domain"
)

// JobEvent is one change of one job at a position of the global change
// order: the job as that change left it (id, status, eta, links and error,
// what the status endpoint answers; its times are the change's), and the
// client that owned it then. It stays so after the job is purged or
// changes owner. A store whose older events lack that snapshot gives the
// job as it is now; Status is always the status the change gave it.
type JobEvent struct {
	Position int64
	ClientID string
	Status   domain.Status
	Job      domain.Job
}

// LogPositions are the bounds of the change log.
type LogPositions interface {
	// LastPosition returns the position of the newest committed change
	// (the log's head), 0 if none.
	LastPosition(ctx context.Context) (int64, error)
	// Horizon returns the highest position retention has deleted: a reader
	// that last saw a position below it may have missed changes.
	Horizon(ctx context.Context) (int64, error)
}

// EventLog is the change stream's view of the change log: the changes
// its clients see (Change.Event: a job created or its status changed),
// kept for a retention period. Positions grow with commit order: a reader
// that asks for positions after the last one it saw never misses one
// committed later.
type EventLog interface {
	// EventsAfter returns at most limit events with a position above
	// after, in position order: every client's when clientID is empty,
	// else that client's only. It answers none only when no event follows
	// after (a reader stops there): events it cannot show (a state
	// written by hand, ChangeUnreadable) are passed over, not answered as
	// an empty batch.
	EventsAfter(ctx context.Context, clientID string, after int64, limit int) ([]JobEvent, error)
	LogPositions
	// DeleteEventsBefore removes at most limit of the oldest events that
	// occurred before the given time and returns how many it removed.
	DeleteEventsBefore(ctx context.Context, before time.Time, limit int) (int, error)
}

// JobCursor is where a page of a listing ends: the last job's creation
// time and id.
type JobCursor struct {
	CreatedAt time.Time
	ID        domain.ID
}

// JobListQuery selects one page of a client's jobs, newest first
// (created_at, then id, descending).
type JobListQuery struct {
	ClientID    string
	Status      domain.Status // empty: any
	CreatedFrom time.Time     // zero: no lower bound; inclusive; at domain.Precision (the use case rounds up)
	CreatedTo   time.Time     // zero: no upper bound; exclusive; at domain.Precision (the use case rounds up)
	After       *JobCursor    // nil: the first page
	Limit       int
}

// ListedJob is one job of a listing: the job, or, for one the store holds
// but cannot read, why (Unreadable) and where it stands in the listing
// (of Job only ID, ClientID and CreatedAt are set).
type ListedJob struct {
	Job        domain.Job
	Unreadable *domain.UnreadableJobError
}

// JobLister lists a client's jobs.
type JobLister interface {
	// ListJobs returns at most q.Limit jobs matching q, newest first. A
	// job the store cannot read is one of them (ListedJob.Unreadable),
	// not a failed listing: it would hide every other job of its client.
	ListJobs(ctx context.Context, q JobListQuery) ([]ListedJob, error)
}

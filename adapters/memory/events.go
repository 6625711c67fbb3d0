package memory

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
)

// changeLog is the in-memory change log: every change the store makes,
// in the order it made them, under the store's lock.
type changeLog struct {
	entries []logged
	head    int64 // the last position given
	horizon int64 // the highest position retention deleted
}

// logged is a change and when it was made (for retention).
type logged struct {
	change ports.Change
	at     time.Time
}

// append gives c the next position and records it (the store's write
// lock held, so positions follow the order of the changes).
func (l *changeLog) append(c ports.Change, at time.Time) {
	l.head++
	c.Position = l.head
	l.entries = append(l.entries, logged{change: c, at: at})
}

// after returns the index of the first entry above position p.
func (l *changeLog) after(p int64) int {
	i, _ := slices.BinarySearchFunc(l.entries, p+1, func(e logged, p int64) int { return cmp.Compare(e.change.Position, p) })
	return i
}

// ChangesAfter implements ports.ChangeLog.
func (s *Jobs) ChangesAfter(ctx context.Context, after int64, limit int) ([]ports.Change, int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	entries := s.log.entries[s.log.after(after):]
	out := make([]ports.Change, 0, min(limit, len(entries)))
	for _, e := range entries[:min(limit, len(entries))] {
		c := e.change
		c.Job = clone(c.Job)
		out = append(out, c)
	}
	return out, s.log.horizon, nil
}

// EventsAfter implements ports.EventLog: the changes the stream shows.
func (s *Jobs) EventsAfter(ctx context.Context, clientID string, after int64, limit int) ([]ports.JobEvent, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []ports.JobEvent
	for _, e := range s.log.entries[s.log.after(after):] {
		if len(out) >= limit {
			break
		}
		c := e.change
		if c.Event && (clientID == "" || c.Job.ClientID == clientID) {
			out = append(out, ports.JobEvent{Position: c.Position, ClientID: c.Job.ClientID, Status: c.Job.Status, Job: clone(c.Job)})
		}
	}
	return out, nil
}

// LastPosition implements ports.LogPositions.
func (s *Jobs) LastPosition(ctx context.Context) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.log.head, nil
}

// Horizon implements ports.LogPositions.
func (s *Jobs) Horizon(ctx context.Context) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.log.horizon, nil
}

// DeleteEventsBefore implements ports.EventLog: retention of the log.
func (s *Jobs) DeleteEventsBefore(ctx context.Context, before time.Time, limit int) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	l := &s.log
	n := 0
	for n < len(l.entries) && n < limit && l.entries[n].at.Before(before) {
		l.horizon = l.entries[n].change.Position
		n++
	}
	l.entries = slices.Delete(l.entries, 0, n)
	return n, nil
}

// ListJobs implements ports.JobLister. It scans every job: the memory
// store is for development and tests.
func (s *Jobs) ListJobs(ctx context.Context, q ports.JobListQuery) ([]ports.ListedJob, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	var out []ports.ListedJob
	for _, j := range s.jobs {
		if listed(j, q) {
			out = append(out, ports.ListedJob{Job: clone(j)})
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b ports.ListedJob) int {
		return newestFirst(a.Job.CreatedAt, a.Job.ID, b.Job.CreatedAt, b.Job.ID)
	})
	return out[:min(len(out), q.Limit)], nil
}

// newestFirst orders by (created_at, id) descending.
func newestFirst(at1 time.Time, id1 domain.ID, at2 time.Time, id2 domain.ID) int {
	if c := at2.Compare(at1); c != 0 {
		return c
	}
	switch {
	case id1 > id2:
		return -1
	case id1 < id2:
		return 1
	}
	return 0
}

func listed(j domain.Job, q ports.JobListQuery) bool {
	switch {
	case j.ClientID != q.ClientID,
		q.Status != "" && j.Status != q.Status,
		!q.CreatedFrom.IsZero() && j.CreatedAt.Before(q.CreatedFrom),
		!q.CreatedTo.IsZero() && !j.CreatedAt.Before(q.CreatedTo):
		return false
	}
	return q.After == nil || newestFirst(q.After.CreatedAt, q.After.ID, j.CreatedAt, j.ID) < 0
}

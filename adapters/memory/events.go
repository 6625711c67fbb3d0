package memory

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
)

// OnEvent registers fn to be told, outside any lock, that the event log
// grew: the event feed's Kick.
func OnEvent(fn func()) Option {
	return func(j *Jobs) { j.events.notify = fn }
}

// eventLog is the in-memory ports.EventLog: every change the store makes,
// in the order it made them.
type eventLog struct {
	mu      sync.Mutex
	events  []loggedEvent
	next    int64
	horizon int64
	notify  func()
}

// loggedEvent is a change with the job as it left it, so replay shows it
// after the job is purged.
type loggedEvent struct {
	position int64
	job      domain.Job
	at       time.Time
}

// record appends a change of job; call it with the store's write lock
// held, so positions follow the order of the changes.
func (l *eventLog) record(job domain.Job, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.next++
	l.events = append(l.events, loggedEvent{position: l.next, job: clone(job), at: at})
}

func (l *eventLog) told() {
	if l.notify != nil {
		l.notify()
	}
}

// EventsAfter implements ports.EventLog.
func (s *Jobs) EventsAfter(ctx context.Context, clientID string, after int64, limit int) ([]ports.JobEvent, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.events.mu.Lock()
	i, _ := slices.BinarySearchFunc(s.events.events, after+1, func(e loggedEvent, p int64) int { return cmp.Compare(e.position, p) })
	var picked []loggedEvent
	for _, e := range s.events.events[i:] {
		if len(picked) >= limit {
			break
		}
		if clientID == "" || e.job.ClientID == clientID {
			picked = append(picked, e)
		}
	}
	s.events.mu.Unlock()
	out := make([]ports.JobEvent, 0, len(picked))
	for _, e := range picked {
		out = append(out, ports.JobEvent{Position: e.position, ClientID: e.job.ClientID, Status: e.job.Status, Job: clone(e.job)})
	}
	return out, nil
}

// LastPosition implements ports.EventLog.
func (s *Jobs) LastPosition(ctx context.Context) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.events.mu.Lock()
	defer s.events.mu.Unlock()
	return s.events.next, nil
}

// Horizon implements ports.EventLog.
func (s *Jobs) Horizon(ctx context.Context) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.events.mu.Lock()
	defer s.events.mu.Unlock()
	return s.events.horizon, nil
}

// DeleteEventsBefore implements ports.EventLog.
func (s *Jobs) DeleteEventsBefore(ctx context.Context, before time.Time, limit int) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.events.mu.Lock()
	defer s.events.mu.Unlock()
	n := 0
	for n < len(s.events.events) && n < limit && s.events.events[n].at.Before(before) {
		s.events.horizon = s.events.events[n].position
		n++
	}
	s.events.events = slices.Delete(s.events.events, 0, n)
	return n, nil
}

// ListJobs implements ports.JobLister. It scans every job: the memory
// store is for development and tests.
func (s *Jobs) ListJobs(ctx context.Context, q ports.JobListQuery) ([]domain.Job, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	var out []domain.Job
	for _, j := range s.jobs {
		if listed(j, q) {
			out = append(out, clone(j))
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b domain.Job) int { return newestFirst(a.CreatedAt, a.ID, b.CreatedAt, b.ID) })
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

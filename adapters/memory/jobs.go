// Package memory is an in-process JobRepository: for development, demos and
// tests. Jobs live only as long as the process. Like the PostgreSQL store,
// it records every change in one change log, whose position is the
// changed job's version, and reads say at which position they read.
package memory

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
)

// Jobs is a JobRepository kept in a map, with its change log. It is safe
// for concurrent use.
type Jobs struct {
	mu       sync.RWMutex
	jobs     map[domain.ID]domain.Job
	log      changeLog
	doorbell atomic.Pointer[func()]
	now      func() time.Time
}

// NewJobs returns an empty store.
func NewJobs() *Jobs {
	return &Jobs{jobs: make(map[domain.ID]domain.Job), now: time.Now}
}

// SetDoorbell registers fn to be told, outside any lock, that the change
// log moved: the change feed's Kick, as PostgreSQL's NOTIFY is. The feed
// reads the store, so it is built after it and rings in afterwards.
func (s *Jobs) SetDoorbell(fn func()) { s.doorbell.Store(&fn) }

// Get implements ports.JobRepository.
func (s *Jobs) Get(ctx context.Context, id domain.ID) (domain.Job, error) {
	j, _, err := s.GetAt(ctx, id)
	return j, err
}

// GetAt implements ports.SnapshotReader.
func (s *Jobs) GetAt(ctx context.Context, id domain.ID) (domain.Job, int64, error) {
	if err := ctx.Err(); err != nil {
		return domain.Job{}, 0, err
	}
	s.mu.RLock()
	job, ok := s.jobs[id]
	at := s.log.head
	s.mu.RUnlock()
	if !ok {
		return domain.Job{}, at, fmt.Errorf("job %s: %w", id, domain.ErrNotFound)
	}
	return clone(job), at, nil
}

// Create implements ports.JobRepository.
func (s *Jobs) Create(ctx context.Context, job domain.Job) (domain.Job, bool, error) {
	if err := ctx.Err(); err != nil {
		return domain.Job{}, false, err
	}
	s.mu.Lock()
	if job.IdempotencyKey != "" {
		for _, j := range s.jobs {
			if j.ClientID == job.ClientID && j.IdempotencyKey == job.IdempotencyKey && j.Status == domain.StatusPending {
				s.mu.Unlock()
				return clone(j), false, nil
			}
		}
	}
	if _, ok := s.jobs[job.ID]; ok {
		s.mu.Unlock()
		return domain.Job{}, false, domain.ErrAlreadyExists
	}
	stored := s.put(job, true)
	s.mu.Unlock()
	s.ring()
	return stored, true, nil
}

// Finish implements ports.JobRepository.
func (s *Jobs) Finish(ctx context.Context, id domain.ID, o domain.Outcome) (domain.Job, bool, error) {
	if err := ctx.Err(); err != nil {
		return domain.Job{}, false, err
	}
	s.mu.Lock()
	job, ok := s.jobs[id]
	if !ok {
		s.mu.Unlock()
		return domain.Job{}, false, domain.ErrNotFound
	}
	next, changed, err := job.Finish(o)
	if err != nil {
		s.mu.Unlock()
		return clone(job), false, err
	}
	if !changed {
		s.mu.Unlock()
		return clone(next), false, nil
	}
	next = s.put(next, true)
	s.mu.Unlock()
	s.ring()
	return next, true, nil
}

// Put stores job as it is, created or replaced, like hand-written SQL
// would (an owner or eta changed, an outcome rewritten): for tests and
// demos. It returns the job at its new version.
func (s *Jobs) Put(job domain.Job) domain.Job {
	s.mu.Lock()
	old, existed := s.jobs[job.ID]
	stored := s.put(job, !existed || old.Status != job.Status)
	s.mu.Unlock()
	s.ring()
	return stored
}

// Delete removes the job with id, if there is one, like hand-written SQL
// would: for tests and demos. It reports whether there was one.
func (s *Jobs) Delete(id domain.ID) bool {
	s.mu.Lock()
	ok := s.delete(id)
	s.mu.Unlock()
	if ok {
		s.ring()
	}
	return ok
}

// Truncate removes every job at once, like TRUNCATE: for tests.
func (s *Jobs) Truncate() {
	s.mu.Lock()
	clear(s.jobs)
	s.log.append(ports.Change{Op: ports.ChangeTruncate}, s.now())
	s.mu.Unlock()
	s.ring()
}

// put records job under the next position, which becomes its version;
// event says whether the change stream shows it (mu held).
func (s *Jobs) put(job domain.Job, event bool) domain.Job {
	job = clone(job)
	job.Version = s.log.head + 1
	s.jobs[job.ID] = job
	s.log.append(ports.Change{Op: ports.ChangePut, ID: job.ID, Job: clone(job), Event: event}, s.now())
	return clone(job)
}

// delete removes id and records it (mu held).
func (s *Jobs) delete(id domain.ID) bool {
	j, ok := s.jobs[id]
	if !ok {
		return false
	}
	delete(s.jobs, id)
	s.log.append(ports.Change{Op: ports.ChangeDelete, ID: id, Job: domain.Job{ID: id, ClientID: j.ClientID}}, s.now())
	return true
}

// ring tells the doorbell, outside any lock, that the log moved.
func (s *Jobs) ring() {
	if fn := s.doorbell.Load(); fn != nil {
		(*fn)()
	}
}

// RecentDurations implements ports.DurationSource: how long the most
// recently finished DONE jobs took, newest first.
func (s *Jobs) RecentDurations(ctx context.Context, limit int) ([]time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	done := make([]domain.Job, 0, len(s.jobs))
	for _, j := range s.jobs {
		if j.Status == domain.StatusDone && j.FinishedAt != nil {
			done = append(done, j)
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(done, func(a, b domain.Job) int { return b.FinishedAt.Compare(*a.FinishedAt) })
	out := make([]time.Duration, 0, min(limit, len(done)))
	for _, j := range done[:min(limit, len(done))] {
		out = append(out, j.FinishedAt.Sub(j.CreatedAt))
	}
	return out, nil
}

// FailPendingCreatedBefore implements ports.JobMaintenance.
func (s *Jobs) FailPendingCreatedBefore(ctx context.Context, before time.Time, o domain.Outcome, limit int) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	n := 0
	s.mu.Lock()
	for _, j := range s.jobs {
		if n >= limit {
			break
		}
		if j.Status != domain.StatusPending || !j.CreatedAt.Before(before) {
			continue
		}
		next, ok, err := j.Finish(o)
		if err != nil || !ok {
			continue
		}
		s.put(next, true)
		n++
	}
	s.mu.Unlock()
	if n > 0 {
		s.ring()
	}
	return n, nil
}

// CountFinishedBefore implements ports.JobMaintenance.
func (s *Jobs) CountFinishedBefore(ctx context.Context, before time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	n := 0
	for _, j := range s.jobs {
		if finishedBefore(j, before) {
			n++
		}
	}
	return n, nil
}

// DeleteFinishedBefore implements ports.JobMaintenance.
func (s *Jobs) DeleteFinishedBefore(ctx context.Context, before time.Time, limit int) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	n := 0
	s.mu.Lock()
	for id, j := range s.jobs {
		if n >= limit {
			break
		}
		if finishedBefore(j, before) && s.delete(id) {
			n++
		}
	}
	s.mu.Unlock()
	if n > 0 {
		s.ring()
	}
	return n, nil
}

func finishedBefore(j domain.Job, before time.Time) bool {
	return j.FinishedAt != nil && j.FinishedAt.Before(before)
}

// clone copies the job's slices and pointers so callers cannot alias
// stored state; the domain's Normalize does exactly that.
func clone(j domain.Job) domain.Job { return j.Normalize() }

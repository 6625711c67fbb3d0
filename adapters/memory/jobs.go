// Package memory is an in-process JobRepository: for development, demos and
// tests. Jobs live only as long as the process.
package memory

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
)

// Jobs is a JobRepository kept in a map. It is safe for concurrent use.
type Jobs struct {
	mu       sync.RWMutex
	jobs     map[domain.ID]domain.Job
	version  int64 // the last version given to a change; under mu
	onChange func(ports.JobChange)
	events   eventLog
}

// Option configures Jobs.
type Option func(*Jobs)

// OnChange registers fn to be told, outside any lock, of every change
// (create, finish, delete) with its version, like PostgreSQL's trigger.
func OnChange(fn func(ports.JobChange)) Option {
	return func(j *Jobs) { j.onChange = fn }
}

// NewJobs returns an empty store.
func NewJobs(opts ...Option) *Jobs {
	j := &Jobs{jobs: make(map[domain.ID]domain.Job)}
	for _, o := range opts {
		o(j)
	}
	return j
}

// Get implements ports.JobRepository.
func (s *Jobs) Get(ctx context.Context, id domain.ID) (domain.Job, error) {
	if err := ctx.Err(); err != nil {
		return domain.Job{}, err
	}
	s.mu.RLock()
	job, ok := s.jobs[id]
	s.mu.RUnlock()
	if !ok {
		return domain.Job{}, domain.ErrNotFound
	}
	return clone(job), nil
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
	stored := s.store(job)
	s.events.record(stored, time.Now())
	s.mu.Unlock()
	s.events.told()
	s.publish([]ports.JobChange{changeOf(stored)})
	return clone(stored), true, nil
}

// store records job under a new version; the caller holds mu.
func (s *Jobs) store(job domain.Job) domain.Job {
	s.version++
	job = clone(job)
	job.Version = s.version
	s.jobs[job.ID] = job
	return job
}

// changeOf is the change that stored job.
func changeOf(job domain.Job) ports.JobChange {
	j := clone(job)
	return ports.JobChange{ID: job.ID, Version: job.Version, Job: &j}
}

// publish tells the change listener, outside any lock.
func (s *Jobs) publish(changes []ports.JobChange) {
	if s.onChange == nil {
		return
	}
	for _, c := range changes {
		s.onChange(c)
	}
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
	next = s.store(next)
	s.events.record(next, time.Now())
	s.mu.Unlock()
	s.events.told()
	s.publish([]ports.JobChange{changeOf(next)})
	return clone(next), true, nil
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
	var changes []ports.JobChange
	s.mu.Lock()
	for _, j := range s.jobs {
		if len(changes) >= limit {
			break
		}
		if j.Status != domain.StatusPending || !j.CreatedAt.Before(before) {
			continue
		}
		next, ok, err := j.Finish(o)
		if err != nil || !ok {
			continue
		}
		stored := s.store(next)
		s.events.record(stored, time.Now())
		changes = append(changes, changeOf(stored))
	}
	s.mu.Unlock()
	if len(changes) > 0 {
		s.events.told()
	}
	s.publish(changes)
	return len(changes), nil
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
	var changes []ports.JobChange
	s.mu.Lock()
	for id, j := range s.jobs {
		if len(changes) >= limit {
			break
		}
		if finishedBefore(j, before) {
			delete(s.jobs, id)
			s.version++ // a delete gets a version of its own, as in PostgreSQL
			changes = append(changes, ports.JobChange{ID: id, Version: s.version, Deleted: true})
		}
	}
	s.mu.Unlock()
	s.publish(changes)
	return len(changes), nil
}

func finishedBefore(j domain.Job, before time.Time) bool {
	return j.FinishedAt != nil && j.FinishedAt.Before(before)
}

// clone copies the job's slices and pointers so callers cannot alias
// stored state; the domain's Normalize does exactly that.
func clone(j domain.Job) domain.Job { return j.Normalize() }

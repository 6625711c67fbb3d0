// Package memory is an in-process JobRepository: for development, demos and
// tests. Jobs live only as long as the process.
package memory

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/jobstatus/jobstatus/domain"
)

// Jobs is a JobRepository kept in a map. It is safe for concurrent use.
type Jobs struct {
	mu       sync.RWMutex
	jobs     map[domain.ID]domain.Job
	onChange func(domain.ID)
	events   eventLog
}

// Option configures Jobs.
type Option func(*Jobs)

// OnChange registers fn to be told, outside any lock, when a job changes.
func OnChange(fn func(domain.ID)) Option {
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
	defer s.mu.Unlock()
	if job.IdempotencyKey != "" {
		for _, j := range s.jobs {
			if j.ClientID == job.ClientID && j.IdempotencyKey == job.IdempotencyKey && j.Status == domain.StatusPending {
				return clone(j), false, nil
			}
		}
	}
	if _, ok := s.jobs[job.ID]; ok {
		return domain.Job{}, false, domain.ErrAlreadyExists
	}
	s.jobs[job.ID] = clone(job)
	s.events.record(job, time.Now())
	s.events.told() // a kick never blocks, so it may come under the lock
	return clone(job), true, nil
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
	if changed {
		s.jobs[id] = clone(next)
		s.events.record(next, time.Now())
	}
	s.mu.Unlock()
	if changed {
		s.events.told()
	}
	if changed && s.onChange != nil {
		s.onChange(id)
	}
	return clone(next), changed, nil
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
	var changed []domain.ID
	s.mu.Lock()
	for id, j := range s.jobs {
		if len(changed) >= limit {
			break
		}
		if j.Status != domain.StatusPending || !j.CreatedAt.Before(before) {
			continue
		}
		next, ok, err := j.Finish(o)
		if err != nil || !ok {
			continue
		}
		s.jobs[id] = next
		s.events.record(next, time.Now())
		changed = append(changed, id)
	}
	s.mu.Unlock()
	if len(changed) > 0 {
		s.events.told()
	}
	if s.onChange != nil {
		for _, id := range changed {
			s.onChange(id)
		}
	}
	return len(changed), nil
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
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for id, j := range s.jobs {
		if n >= limit {
			break
		}
		if finishedBefore(j, before) {
			delete(s.jobs, id)
			n++
		}
	}
	return n, nil
}

func finishedBefore(j domain.Job, before time.Time) bool {
	return j.FinishedAt != nil && j.FinishedAt.Before(before)
}

// clone copies the job's slices and pointers so callers cannot alias
// stored state; the domain's Normalize does exactly that.
func clone(j domain.Job) domain.Job { return j.Normalize() }

// Package memory is an in-process JobRepository: for development, demos and
// tests. Jobs live only as long as the process.
package memory

import (
	"context"
	"slices"
	"sync"

	"github.com/jobstatus/jobstatus/domain"
)

// Jobs is a JobRepository kept in a map. It is safe for concurrent use.
type Jobs struct {
	mu   sync.RWMutex
	jobs map[domain.ID]domain.Job
}

// NewJobs returns an empty store.
func NewJobs() *Jobs {
	return &Jobs{jobs: make(map[domain.ID]domain.Job)}
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
func (s *Jobs) Create(ctx context.Context, job domain.Job) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.jobs[job.ID]; ok {
		return domain.ErrAlreadyExists
	}
	s.jobs[job.ID] = clone(job)
	return nil
}

// Finish implements ports.JobRepository.
func (s *Jobs) Finish(ctx context.Context, id domain.ID, o domain.Outcome) (domain.Job, bool, error) {
	if err := ctx.Err(); err != nil {
		return domain.Job{}, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	job, ok := s.jobs[id]
	if !ok {
		return domain.Job{}, false, domain.ErrNotFound
	}
	next, changed, err := job.Finish(o)
	if err != nil {
		return clone(job), false, err
	}
	if changed {
		s.jobs[id] = clone(next)
	}
	return clone(next), changed, nil
}

// clone copies the job's slices and pointers so callers cannot alias stored state.
func clone(j domain.Job) domain.Job {
	j.Links = slices.Clone(j.Links)
	if j.Links == nil {
		j.Links = []domain.Link{}
	}
	if j.Failure != nil {
		f := *j.Failure
		j.Failure = &f
	}
	if j.FinishedAt != nil {
		t := *j.FinishedAt
		j.FinishedAt = &t
	}
	return j
}

// Package jobcache keeps finished jobs in memory. DONE and FAILED jobs never
// change, so once read they are served without touching the store. It
// decorates any ports.JobRepository and is bounded by entry count.
package jobcache

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
)

// Repository is a ports.JobRepository that answers Get for finished jobs
// from a bounded LRU cache.
type Repository struct {
	next   ports.JobRepository
	cache  *lru.Cache[domain.ID, domain.Job]
	hits   atomic.Uint64
	misses atomic.Uint64
}

// New wraps next with a cache of at most size finished jobs; size must be
// positive and next not nil.
func New(next ports.JobRepository, size int) (*Repository, error) {
	if next == nil {
		return nil, errors.New("jobcache: no repository to decorate")
	}
	if size <= 0 {
		return nil, fmt.Errorf("jobcache: size must be positive, got %d", size)
	}
	c, err := lru.New[domain.ID, domain.Job](size)
	if err != nil {
		return nil, fmt.Errorf("jobcache: %w", err)
	}
	return &Repository{next: next, cache: c}, nil
}

// Get implements ports.JobRepository. The returned job is shared with the
// cache: callers treat jobs as values and never modify their slices.
func (r *Repository) Get(ctx context.Context, id domain.ID) (domain.Job, error) {
	if j, ok := r.cache.Get(id); ok {
		r.hits.Add(1)
		return j, nil
	}
	r.misses.Add(1)
	j, err := r.next.Get(ctx, id)
	if err == nil && j.Status.Terminal() {
		r.cache.Add(id, j)
	}
	return j, err
}

// Create implements ports.JobRepository.
func (r *Repository) Create(ctx context.Context, job domain.Job) (domain.Job, bool, error) {
	return r.next.Create(ctx, job)
}

// Finish implements ports.JobRepository; the finished job is cached.
func (r *Repository) Finish(ctx context.Context, id domain.ID, o domain.Outcome) (domain.Job, bool, error) {
	j, changed, err := r.next.Finish(ctx, id, o)
	if err == nil && j.Status.Terminal() {
		r.cache.Add(id, j)
	}
	return j, changed, err
}

// Stats reports cache hits, misses and size.
type Stats struct {
	Hits, Misses uint64
	Len          int
}

// Stats returns the counters so far.
func (r *Repository) Stats() Stats {
	return Stats{Hits: r.hits.Load(), Misses: r.misses.Load(), Len: r.cache.Len()}
}

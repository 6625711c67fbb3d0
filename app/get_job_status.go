package app

import (
	"context"

	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
)

// GetJobStatus asks for one job on behalf of an authenticated principal.
type GetJobStatus struct {
	Principal domain.Principal
	ID        string // as the caller sent it; validated here
}

// GetJobStatusHandler answers GetJobStatus.
type GetJobStatusHandler struct {
	jobs ports.JobRepository
}

// NewGetJobStatusHandler returns a GetJobStatusHandler; it panics on nil deps.
func NewGetJobStatusHandler(jobs ports.JobRepository) GetJobStatusHandler {
	if jobs == nil {
		panic("app: nil dependency for GetJobStatusHandler")
	}
	return GetJobStatusHandler{jobs: jobs}
}

// Handle checks scope, then id format, then looks the job up. A job that
// belongs to another client is reported as domain.ErrNotFound, so a caller
// cannot learn that it exists.
func (h GetJobStatusHandler) Handle(ctx context.Context, q GetJobStatus) (domain.Job, error) {
	if err := q.Principal.Require(domain.ScopeCompositionRead); err != nil {
		return domain.Job{}, err
	}
	id, err := domain.ParseID(q.ID)
	if err != nil {
		return domain.Job{}, err
	}
	job, err := h.jobs.Get(ctx, id)
	if err != nil {
		return domain.Job{}, err
	}
	if !job.VisibleTo(q.Principal.ClientID) {
		return domain.Job{}, domain.ErrNotFound
	}
	return job, nil
}

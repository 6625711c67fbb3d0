package app

import (
	"context"

	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
)

// GetJob reads a job with no caller check: for operators' tools only.
type GetJob struct {
	ID string
}

// GetJobHandler handles GetJob.
type GetJobHandler struct {
	jobs ports.JobRepository
}

// NewGetJobHandler returns a GetJobHandler, or an error for a nil
// dependency.
func NewGetJobHandler(jobs ports.JobRepository) (GetJobHandler, error) {
	if jobs == nil {
		return GetJobHandler{}, missing("GetJobHandler", "a job repository")
	}
	return GetJobHandler{jobs: jobs}, nil
}

// Handle returns the job.
func (h GetJobHandler) Handle(ctx context.Context, q GetJob) (domain.Job, error) {
	if h.jobs == nil {
		return domain.Job{}, errUnwired
	}
	id, err := domain.ParseID(q.ID)
	if err != nil {
		return domain.Job{}, err
	}
	return h.jobs.Get(ctx, id)
}

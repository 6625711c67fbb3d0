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

// NewGetJobHandler returns a GetJobHandler; it panics on nil deps.
func NewGetJobHandler(jobs ports.JobRepository) GetJobHandler {
	if jobs == nil {
		panic("app: nil dependency for GetJobHandler")
	}
	return GetJobHandler{jobs: jobs}
}

// Handle returns the job.
func (h GetJobHandler) Handle(ctx context.Context, q GetJob) (domain.Job, error) {
	id, err := domain.ParseID(q.ID)
	if err != nil {
		return domain.Job{}, err
	}
	return h.jobs.Get(ctx, id)
}

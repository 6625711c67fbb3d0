package app

import (
	"context"

	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
)

// FailJob moves a PENDING job to FAILED.
type FailJob struct {
	ID      string
	Code    int
	Message string
}

// FailJobHandler handles FailJob.
type FailJobHandler struct {
	jobs  ports.JobRepository
	clock ports.Clock
}

// NewFailJobHandler returns a FailJobHandler, or an error for a nil
// dependency.
func NewFailJobHandler(jobs ports.JobRepository, clock ports.Clock) (FailJobHandler, error) {
	if err := need("FailJobHandler", jobs, clock); err != nil {
		return FailJobHandler{}, err
	}
	return FailJobHandler{jobs: jobs, clock: clock}, nil
}

// Handle fails the job. Failing an already FAILED job with the same code and
// message is a no-op; any other finished job gives domain.ErrConflict.
func (h FailJobHandler) Handle(ctx context.Context, c FailJob) (domain.Job, error) {
	if h.jobs == nil {
		return domain.Job{}, errUnwired
	}
	id, err := domain.ParseID(c.ID)
	if err != nil {
		return domain.Job{}, err
	}
	outcome, err := domain.Failed(c.Code, c.Message, h.clock.Now())
	if err != nil {
		return domain.Job{}, err
	}
	job, _, err := h.jobs.Finish(ctx, id, outcome)
	return job, err
}

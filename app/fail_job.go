package app

import (
	"context"
	"time"

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

// NewFailJobHandler returns a FailJobHandler; it panics on nil deps.
func NewFailJobHandler(jobs ports.JobRepository, clock ports.Clock) FailJobHandler {
	if jobs == nil || clock == nil {
		panic("app: nil dependency for FailJobHandler")
	}
	return FailJobHandler{jobs: jobs, clock: clock}
}

// Handle fails the job. Failing an already FAILED job with the same code and
// message is a no-op; any other finished job gives domain.ErrConflict.
func (h FailJobHandler) Handle(ctx context.Context, c FailJob) (domain.Job, error) {
	id, err := domain.ParseID(c.ID)
	if err != nil {
		return domain.Job{}, err
	}
	outcome, err := domain.Failed(c.Code, c.Message, h.clock.Now().Truncate(time.Microsecond))
	if err != nil {
		return domain.Job{}, err
	}
	job, _, err := h.jobs.Finish(ctx, id, outcome)
	return job, err
}

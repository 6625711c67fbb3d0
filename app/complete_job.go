package app

import (
	"context"

	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
)

// CompleteJob moves a PENDING job to DONE.
type CompleteJob struct {
	ID    string
	Links []domain.Link
}

// CompleteJobHandler handles CompleteJob.
type CompleteJobHandler struct {
	jobs  ports.JobRepository
	clock ports.Clock
	eta   *ETA
}

// NewCompleteJobHandler returns a CompleteJobHandler, or an error for a nil
// dependency.
func NewCompleteJobHandler(jobs ports.JobRepository, clock ports.Clock, eta *ETA) (CompleteJobHandler, error) {
	if err := needETA("CompleteJobHandler", jobs, clock, eta); err != nil {
		return CompleteJobHandler{}, err
	}
	return CompleteJobHandler{jobs: jobs, clock: clock, eta: eta}, nil
}

// Handle completes the job. Completing an already DONE job with the same
// links is a no-op; any other finished job gives domain.ErrConflict.
func (h CompleteJobHandler) Handle(ctx context.Context, c CompleteJob) (domain.Job, error) {
	if h.jobs == nil {
		return domain.Job{}, errUnwired
	}
	id, err := domain.ParseID(c.ID)
	if err != nil {
		return domain.Job{}, err
	}
	outcome, err := domain.Done(c.Links, h.clock.Now())
	if err != nil {
		return domain.Job{}, err
	}
	job, changed, err := h.jobs.Finish(ctx, id, outcome)
	if err == nil && changed {
		h.eta.Observe(outcome.At.Sub(job.CreatedAt))
	}
	return job, err
}

package app

import (
	"context"
	"time"

	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
)

// DefaultETA is how far ahead a job's eta lies when the caller names none.
const DefaultETA = 30 * time.Second

// CreateJob starts a PENDING job for a client.
type CreateJob struct {
	ClientID string
	ID       string        // optional; a random id when empty
	ETA      time.Duration // optional; DefaultETA when zero
}

// CreateJobHandler handles CreateJob.
type CreateJobHandler struct {
	jobs  ports.JobRepository
	clock ports.Clock
}

// NewCreateJobHandler returns a CreateJobHandler; it panics on nil deps.
func NewCreateJobHandler(jobs ports.JobRepository, clock ports.Clock) CreateJobHandler {
	if jobs == nil || clock == nil {
		panic("app: nil dependency for CreateJobHandler")
	}
	return CreateJobHandler{jobs: jobs, clock: clock}
}

// Handle creates and stores the job.
func (h CreateJobHandler) Handle(ctx context.Context, c CreateJob) (domain.Job, error) {
	id := domain.NewID()
	if c.ID != "" {
		parsed, err := domain.ParseID(c.ID)
		if err != nil {
			return domain.Job{}, &domain.ValidationError{Field: "id", Reason: "must be a UUID"}
		}
		id = parsed
	}
	if c.ETA < 0 {
		return domain.Job{}, &domain.ValidationError{Field: "eta", Reason: "must not be negative"}
	}
	eta := c.ETA
	if eta == 0 {
		eta = DefaultETA
	}
	now := h.clock.Now().UTC().Truncate(time.Microsecond)
	job, err := domain.New(domain.NewParams{ID: id, ClientID: c.ClientID, ETA: now.Add(eta), Now: now})
	if err != nil {
		return domain.Job{}, err
	}
	if err := h.jobs.Create(ctx, job); err != nil {
		return domain.Job{}, err
	}
	return job, nil
}

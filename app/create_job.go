package app

import (
	"context"
	"time"

	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
)

// CreateJob starts a PENDING job for a client.
type CreateJob struct {
	ClientID string
	// IdempotencyKey, when set, dedupes repeats: while the client's job with
	// this key is PENDING, creating again returns that job.
	IdempotencyKey string
	ID             string        // optional; a random id when empty
	ETA            time.Duration // optional; estimated from recent jobs when zero, else domain.CheckETA's
}

// CreateJobHandler handles CreateJob.
type CreateJobHandler struct {
	jobs  ports.JobRepository
	clock ports.Clock
	eta   *ETA
}

// NewCreateJobHandler returns a CreateJobHandler, or an error for a nil
// dependency.
func NewCreateJobHandler(jobs ports.JobRepository, clock ports.Clock, eta *ETA) (CreateJobHandler, error) {
	if err := needETA("CreateJobHandler", jobs, clock, eta); err != nil {
		return CreateJobHandler{}, err
	}
	return CreateJobHandler{jobs: jobs, clock: clock, eta: eta}, nil
}

// Handle creates and stores the job.
func (h CreateJobHandler) Handle(ctx context.Context, c CreateJob) (domain.Job, error) {
	if h.jobs == nil {
		return domain.Job{}, errUnwired
	}
	id := domain.NewID()
	if c.ID != "" {
		parsed, err := domain.ParseID(c.ID)
		if err != nil {
			return domain.Job{}, &domain.ValidationError{Field: "id", Reason: "must be a UUID"}
		}
		id = parsed
	}
	eta := c.ETA
	if eta == 0 {
		eta = h.eta.Estimate()
	} else if err := domain.CheckETA(eta); err != nil {
		return domain.Job{}, err
	}
	now := h.clock.Now()
	job, err := domain.New(domain.NewParams{ID: id, ClientID: c.ClientID, IdempotencyKey: c.IdempotencyKey,
		ETA: now.Add(eta), Now: now})
	if err != nil {
		return domain.Job{}, err
	}
	stored, _, err := h.jobs.Create(ctx, job)
	if err != nil {
		return domain.Job{}, err
	}
	if stored.ID != job.ID && c.ETA > 0 && !sameETA(stored, c.ETA) {
		// The key's job was made by another request (client_id is part of
		// the key, so only the eta can differ): not a repeat.
		return domain.Job{}, domain.ErrIdempotencyKeyReused
	}
	return stored, nil
}

// sameETA says whether job was created with eta, up to the precision its
// times are stored with.
func sameETA(job domain.Job, eta time.Duration) bool {
	d := job.ETA.Sub(job.CreatedAt) - eta
	return d > -domain.Precision && d < domain.Precision
}

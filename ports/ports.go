// Package ports declares what the use cases need from the outside world.
// Adapters implement these interfaces; the application depends only on them.
package ports

import (
	"context"
	"time"

	"github.com/jobstatus/jobstatus/domain"
)

// JobRepository stores jobs. Implementations translate their own failures
// into domain errors: domain.ErrNotFound for a missing job,
// domain.ErrAlreadyExists for a duplicate id, domain.ErrUnavailable when the
// store cannot answer in time.
type JobRepository interface {
	// Get returns the job with id.
	Get(ctx context.Context, id domain.ID) (domain.Job, error)
	// Create stores a new job.
	Create(ctx context.Context, job domain.Job) error
	// Finish applies the outcome atomically, following domain.Job.Finish:
	// exactly one of several concurrent, different outcomes wins, the others
	// get domain.ErrConflict.
	Finish(ctx context.Context, id domain.ID, outcome domain.Outcome) (job domain.Job, changed bool, err error)
}

// DurationSource reports how long recently finished jobs took, newest
// first, so that new jobs get a realistic eta.
type DurationSource interface {
	RecentDurations(ctx context.Context, limit int) ([]time.Duration, error)
}

// TokenVerifier checks a bearer access token and returns the claims it carries.
// Any failure is a *domain.AuthError for domain.CredentialToken.
type TokenVerifier interface {
	Verify(ctx context.Context, token string) (domain.Principal, error)
}

// ClientStore finds the MIS client an api-key belongs to. An unknown key is a
// *domain.AuthError for domain.CredentialAPIKey.
type ClientStore interface {
	ClientByAPIKey(ctx context.Context, apiKey string) (domain.Client, error)
}

// Clock tells the time; tests replace it.
type Clock interface {
	Now() time.Time
}

// ClockFunc adapts a function to Clock.
type ClockFunc func() time.Time

// Now implements Clock.
func (f ClockFunc) Now() time.Time { return f() }

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
	// Create stores a new job. When the job has an idempotency key and the
	// same client has a PENDING job with that key, nothing is stored: that
	// job is returned with created false.
	Create(ctx context.Context, job domain.Job) (stored domain.Job, created bool, err error)
	// Finish applies the outcome atomically, following domain.Job.Finish:
	// exactly one of several concurrent, different outcomes wins, the others
	// get domain.ErrConflict.
	Finish(ctx context.Context, id domain.ID, outcome domain.Outcome) (job domain.Job, changed bool, err error)
}

// JobMaintenance is what operators' background work needs from the store.
type JobMaintenance interface {
	// FailPendingCreatedBefore applies outcome to at most limit PENDING jobs
	// created before the given time and returns how many changed. With
	// several instances only one runs it at a time.
	FailPendingCreatedBefore(ctx context.Context, before time.Time, outcome domain.Outcome, limit int) (int, error)
	// CountFinishedBefore counts the DONE or FAILED jobs that finished
	// before the given time (all of them, not a batch).
	CountFinishedBefore(ctx context.Context, before time.Time) (int, error)
	// DeleteFinishedBefore removes at most limit DONE or FAILED jobs that
	// finished before the given time and returns how many it removed.
	DeleteFinishedBefore(ctx context.Context, before time.Time, limit int) (int, error)
}

// ReportFilter selects the jobs a report covers: created in [From, To),
// optionally of one client.
type ReportFilter struct {
	From, To time.Time
	ClientID string
}

// DailyCount is one row of the jobs-per-day report.
type DailyCount struct {
	Day      time.Time
	ClientID string
	Status   domain.Status
	Jobs     int64
}

// FailureCount is how often a failure code occurred.
type FailureCount struct {
	Code    int
	Message string // the most frequent message of that code
	Jobs    int64
}

// ReportSource reads aggregates for reports. Implementations stream:
// memory stays constant however many jobs match.
type ReportSource interface {
	// DailyCounts calls fn for each (day, client, status) in order.
	DailyCounts(ctx context.Context, f ReportFilter, fn func(DailyCount) error) error
	// TimeToDone returns the given quantiles (0..1) of created→finished
	// durations of DONE jobs, and how many jobs they cover.
	TimeToDone(ctx context.Context, f ReportFilter, quantiles []float64) ([]time.Duration, int64, error)
	// TopFailures returns the most frequent failure codes, most frequent first.
	TopFailures(ctx context.Context, f ReportFilter, limit int) ([]FailureCount, error)
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

// RateLimiter decides whether a client may make one more request now; if
// not, it says how long to wait.
type RateLimiter interface {
	Allow(clientID string) (ok bool, retryAfter time.Duration)
}

// Unlimited is a RateLimiter that allows every request.
type Unlimited struct{}

// Allow implements RateLimiter.
func (Unlimited) Allow(string) (bool, time.Duration) { return true, 0 }

// Clock tells the time; tests replace it.
type Clock interface {
	Now() time.Time
}

// ClockFunc adapts a function to Clock.
type ClockFunc func() time.Time

// Now implements Clock.
func (f ClockFunc) Now() time.Time { return f() }

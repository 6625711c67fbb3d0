// Package app holds the use cases. It depends only on domain and ports, so it
// runs the same behind HTTP, in a command-line tool or in a batch job.
package app

import "github.com/jobstatus/jobstatus/ports"

// Application groups the use cases.
type Application struct {
	// ETA estimates new jobs' duration; refresh it periodically from the store.
	ETA *ETA
	// Changes is the hub waiting requests subscribe to.
	Changes *Changes

	Authenticate AuthenticateHandler
	GetJobStatus GetJobStatusHandler
	GetJob       GetJobHandler
	CreateJob    CreateJobHandler
	CompleteJob  CompleteJobHandler
	FailJob      FailJobHandler
	// Set only when Deps.Maintenance / Deps.Reports are given.
	SweepStale SweepStaleHandler
	PurgeJobs  PurgeJobsHandler
	Report     ReportHandler
}

// Deps are the ports the use cases need, and their tuning.
type Deps struct {
	Jobs    ports.JobRepository
	Tokens  ports.TokenVerifier
	Clients ports.ClientStore
	Clock   ports.Clock
	// Limits is the per-client rate limit; nil means none.
	Limits ports.RateLimiter
	// Durations feeds the eta estimator; nil means in-process history only.
	Durations ports.DurationSource
	// Maintenance and Reports are optional: tools that sweep, purge or
	// report need them.
	Maintenance ports.JobMaintenance
	Reports     ports.ReportSource
	// Changes wakes waiting requests; nil means a hub of DefaultMaxWaiters.
	Changes *Changes
	// ETA and Polling are zero for defaults.
	ETA     ETAConfig
	Polling PollingConfig
}

// DefaultMaxWaiters bounds waiting requests when Deps.Changes is nil.
const DefaultMaxWaiters = 10000

// New wires every use case to deps. Tokens and Clients may be nil for tools
// that never authenticate (the jobs commands); Authenticate then panics if
// called.
func New(d Deps) *Application {
	if d.ETA == (ETAConfig{}) {
		d.ETA = DefaultETAConfig()
	}
	if d.Polling == (PollingConfig{}) {
		d.Polling = DefaultPollingConfig()
	}
	if d.Changes == nil {
		d.Changes = NewChanges(DefaultMaxWaiters)
	}
	eta := NewETA(d.ETA, d.Durations)
	a := &Application{
		ETA:          eta,
		Changes:      d.Changes,
		GetJobStatus: NewGetJobStatusHandler(d.Jobs, d.Clock, eta, d.Changes, d.Polling),
		GetJob:       NewGetJobHandler(d.Jobs),
		CreateJob:    NewCreateJobHandler(d.Jobs, d.Clock, eta),
		CompleteJob:  NewCompleteJobHandler(d.Jobs, d.Clock, eta),
		FailJob:      NewFailJobHandler(d.Jobs, d.Clock),
	}
	if d.Maintenance != nil {
		a.SweepStale = NewSweepStaleHandler(d.Maintenance, d.Clock)
		a.PurgeJobs = NewPurgeJobsHandler(d.Maintenance, d.Clock)
	}
	if d.Reports != nil {
		a.Report = NewReportHandler(d.Reports)
	}
	if d.Tokens != nil && d.Clients != nil {
		a.Authenticate = NewAuthenticateHandler(d.Tokens, d.Clients, d.Limits)
	}
	return a
}

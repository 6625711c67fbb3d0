// Package app holds the use cases. It depends only on domain and ports, so it
// runs the same behind HTTP, in a command-line tool or in a batch job.
//
// The use cases are split by who may call them: Public is what the public
// API may reach (authenticate, read a job with the ownership check);
// Operator is what workers, commands and background services may do
// (create, finish, read any job, sweep, purge, report). An adapter that
// holds only a Public cannot read a job unchecked by accident.
package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/jobstatus/jobstatus/ports"
)

// errUnwired is what a handler built as a zero value answers, instead of
// panicking: use its constructor.
var errUnwired = errors.New("app: use case not wired: build it with its constructor")

// missing names a nil dependency of constructor what.
func missing(what, dep string) error {
	return fmt.Errorf("app: %s needs %s", what, dep)
}

// Public is what the public API may call.
type Public struct {
	Authenticate AuthenticateHandler
	GetJobStatus GetJobStatusHandler
	ListJobs     ListJobsHandler
	WatchEvents  WatchEventsHandler
}

// PublicDeps are what Public needs; every field is required.
type PublicDeps struct {
	Jobs    ports.JobRepository
	Tokens  ports.TokenVerifier
	Clients ports.ClientStore
	Limits  ports.RateLimiter // ports.Unlimited when no limit applies
	Clock   ports.Clock
	ETA     *ETA
	Changes *Changes
	Polling PollingConfig
	Lister  ports.JobLister
	Feed    *EventFeed
	List    ListConfig
}

// NewPublic wires the public use cases; it returns an error naming the
// first missing dependency or invalid setting.
func NewPublic(d PublicDeps) (*Public, error) {
	auth, err := NewAuthenticateHandler(d.Tokens, d.Clients, d.Limits)
	if err != nil {
		return nil, err
	}
	status, err := NewGetJobStatusHandler(d.Jobs, d.Clock, d.ETA, d.Changes, d.Polling)
	if err != nil {
		return nil, err
	}
	list, err := NewListJobsHandler(d.Lister, d.List)
	if err != nil {
		return nil, err
	}
	watch, err := NewWatchEventsHandler(d.Feed)
	if err != nil {
		return nil, err
	}
	return &Public{Authenticate: auth, GetJobStatus: status, ListJobs: list, WatchEvents: watch}, nil
}

// Operator is what workers, operators' commands and background services
// may call. Nothing here checks who owns a job.
type Operator struct {
	CreateJob   CreateJobHandler
	CompleteJob CompleteJobHandler
	FailJob     FailJobHandler
	GetJob      GetJobHandler
	SweepStale  SweepStaleHandler
	PurgeJobs   PurgeJobsHandler
	Report      ReportHandler

	eta *ETA
}

// RefreshETA reloads the eta history from the store, so that a one-shot
// command estimates new jobs from the same history as the service.
func (o *Operator) RefreshETA(ctx context.Context) error {
	if o.eta == nil {
		return errUnwired
	}
	return o.eta.Refresh(ctx)
}

// OperatorDeps are what Operator needs; every field is required.
type OperatorDeps struct {
	Jobs        ports.JobRepository
	Maintenance ports.JobMaintenance
	Reports     ports.ReportSource
	Clock       ports.Clock
	ETA         *ETA
	// Batch is how many rows one maintenance statement touches, so that
	// no statement holds locks for long.
	Batch int
}

// NewOperator wires the operators' use cases; it returns an error naming
// the first missing dependency or invalid setting.
func NewOperator(d OperatorDeps) (*Operator, error) {
	var (
		o    Operator
		errs []error
		err  error
	)
	o.CreateJob, err = NewCreateJobHandler(d.Jobs, d.Clock, d.ETA)
	errs = append(errs, err)
	o.CompleteJob, err = NewCompleteJobHandler(d.Jobs, d.Clock, d.ETA)
	errs = append(errs, err)
	o.FailJob, err = NewFailJobHandler(d.Jobs, d.Clock)
	errs = append(errs, err)
	o.GetJob, err = NewGetJobHandler(d.Jobs)
	errs = append(errs, err)
	o.SweepStale, err = NewSweepStaleHandler(d.Maintenance, d.Clock, d.Batch)
	errs = append(errs, err)
	o.PurgeJobs, err = NewPurgeJobsHandler(d.Maintenance, d.Clock, d.Batch)
	errs = append(errs, err)
	o.Report, err = NewReportHandler(d.Reports)
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	o.eta = d.ETA
	return &o, nil
}

// need returns an error naming the first nil among the dependencies most
// use cases take: a repository and a clock.
func need(what string, jobs ports.JobRepository, clock ports.Clock) error {
	switch {
	case jobs == nil:
		return missing(what, "a job repository")
	case clock == nil:
		return missing(what, "a clock")
	}
	return nil
}

// needETA is need for the use cases that also estimate etas.
func needETA(what string, jobs ports.JobRepository, clock ports.Clock, eta *ETA) error {
	if eta == nil {
		return missing(what, "an eta estimator")
	}
	return need(what, jobs, clock)
}

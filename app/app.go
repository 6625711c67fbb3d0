// Package app holds the use cases. It depends only on domain and ports, so it
// runs the same behind HTTP, in a command-line tool or in a batch job.
package app

import "github.com/jobstatus/jobstatus/ports"

// Application groups the use cases.
type Application struct {
	Authenticate AuthenticateHandler
	GetJobStatus GetJobStatusHandler
	GetJob       GetJobHandler
	CreateJob    CreateJobHandler
	CompleteJob  CompleteJobHandler
	FailJob      FailJobHandler
}

// Deps are the ports the use cases need.
type Deps struct {
	Jobs    ports.JobRepository
	Tokens  ports.TokenVerifier
	Clients ports.ClientStore
	Clock   ports.Clock
}

// New wires every use case to deps. Tokens and Clients may be nil for tools
// that never authenticate (the jobs commands); Authenticate then panics if
// called.
func New(d Deps) *Application {
	a := &Application{
		GetJobStatus: NewGetJobStatusHandler(d.Jobs),
		GetJob:       NewGetJobHandler(d.Jobs),
		CreateJob:    NewCreateJobHandler(d.Jobs, d.Clock),
		CompleteJob:  NewCompleteJobHandler(d.Jobs, d.Clock),
		FailJob:      NewFailJobHandler(d.Jobs, d.Clock),
	}
	if d.Tokens != nil && d.Clients != nil {
		a.Authenticate = NewAuthenticateHandler(d.Tokens, d.Clients)
	}
	return a
}

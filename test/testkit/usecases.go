package testkit

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/adapters/memory"
	"github.com/jobstatus/jobstatus/app"
	"github.com/jobstatus/jobstatus/ports"
)

// UseCases is both halves of the application over one store: handlers get
// Public (or Operator, for the write API), tests set up jobs through
// Operator.
type UseCases struct {
	*app.Public
	*app.Operator
	Changes *app.Changes
	Feed    *app.EventFeed // not started: tests that stream start it
}

// NewUseCases wires the use cases over repo with test-sized settings.
// Maintenance and reports run on an empty store of their own: callers of
// this helper never sweep, purge or report. changes may be nil for a hub of
// 100 waiters; limits nil for no limit.
func NewUseCases(tb testing.TB, repo ports.JobRepository, tokens ports.TokenVerifier, clients ports.ClientStore,
	limits ports.RateLimiter, changes *app.Changes) UseCases {
	tb.Helper()
	var err error
	if changes == nil {
		changes, err = app.NewChanges(100)
		require.NoError(tb, err)
	}
	if limits == nil {
		limits = ports.Unlimited{}
	}
	side := memory.NewJobs()
	clock := ports.ClockFunc(time.Now)
	eta, err := app.NewETA(app.ETAConfig{Default: 30 * time.Second, Percentile: 0.9, Window: 100, MinSamples: 10,
		Min: time.Second, Max: time.Hour}, side)
	require.NoError(tb, err)
	// The listing and the event log are the repository's when it has them.
	var (
		lister ports.JobLister = side
		log    ports.EventLog  = side
	)
	if l, ok := repo.(ports.JobLister); ok {
		lister = l
	}
	if l, ok := repo.(ports.EventLog); ok {
		log = l
	}
	feed, err := app.NewEventFeed(log, app.FeedConfig{MaxStreams: 100, MaxStreamsPerClient: 10, Poll: 50 * time.Millisecond, Batch: 100, Buffer: 100})
	require.NoError(tb, err)
	pub, err := app.NewPublic(app.PublicDeps{Jobs: repo, Tokens: tokens, Clients: clients, Limits: limits, Clock: clock,
		ETA: eta, Changes: changes, Polling: app.PollingConfig{MaxWait: 30 * time.Second, MaxRetryAfter: 30 * time.Second},
		Lister: lister, Feed: feed, List: app.ListConfig{DefaultPageSize: 50, MaxPageSize: 500}})
	require.NoError(tb, err)
	op, err := app.NewOperator(app.OperatorDeps{Jobs: repo, Maintenance: side, Reports: side, Clock: clock, ETA: eta, Batch: 100})
	require.NoError(tb, err)
	return UseCases{Public: pub, Operator: op, Changes: changes, Feed: feed}
}

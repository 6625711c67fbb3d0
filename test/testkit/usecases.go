package testkit

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/adapters/jobcache"
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
	// Feed reads the repository's change log (a store of its own when the
	// repository has none) and feeds the waiters and the streams; it runs
	// until the test ends.
	Feed *app.EventFeed
}

// doorbell is what a store rings when its change log moves.
type doorbell interface{ SetDoorbell(func()) }

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
	// The listing and the change log are the repository's when it has them.
	var (
		lister ports.JobLister = side
		log    app.FeedLog     = side
		ring   doorbell        = side
	)
	if l, ok := repo.(ports.JobLister); ok {
		lister = l
	}
	if l, ok := repo.(app.FeedLog); ok {
		log = l
	}
	if d, ok := repo.(doorbell); ok {
		ring = d
	}
	feed, err := app.NewEventFeed(log, app.FeedConfig{MaxStreams: 100, MaxStreamsPerClient: 10, Poll: 50 * time.Millisecond,
		ReadTimeout: time.Second, Batch: 100, Buffer: 100}, changes)
	require.NoError(tb, err)
	ring.SetDoorbell(feed.Kick)
	require.NoError(tb, feed.Start(context.Background()))
	tb.Cleanup(func() { _ = feed.Stop(context.Background()) })
	pub, err := app.NewPublic(app.PublicDeps{Jobs: repo, Tokens: tokens, Clients: clients, Limits: limits, Clock: clock,
		ETA: eta, Changes: changes, Polling: app.PollingConfig{MaxWait: 30 * time.Second, MaxRetryAfter: 30 * time.Second},
		Lister: lister, Feed: feed, List: app.ListConfig{DefaultPageSize: 50, MaxPageSize: 500}})
	require.NoError(tb, err)
	op, err := app.NewOperator(app.OperatorDeps{Jobs: repo, Maintenance: side, Reports: side, Clock: clock, ETA: eta, Batch: 100})
	require.NoError(tb, err)
	return UseCases{Public: pub, Operator: op, Changes: changes, Feed: feed}
}

// ReadModel puts a read model in front of store, fed by a change feed of
// its own (heartbeat 10 ms) until the test ends, as the service wires it.
func ReadModel(tb testing.TB, store *memory.Jobs) *jobcache.Repository {
	tb.Helper()
	model, err := jobcache.NewModel(jobcache.Config{MaxEntries: 1000, MaxBytes: 1 << 20, StalenessBound: time.Hour})
	require.NoError(tb, err)
	repo, err := jobcache.New(store, model)
	require.NoError(tb, err)
	feed, err := app.NewEventFeed(store, app.FeedConfig{MaxStreams: 1, MaxStreamsPerClient: 1, Poll: 10 * time.Millisecond,
		ReadTimeout: time.Second, Batch: 100, Buffer: 1}, model)
	require.NoError(tb, err)
	require.NoError(tb, feed.Start(context.Background()))
	tb.Cleanup(func() { _ = feed.Stop(context.Background()) })
	return repo
}

package app_test

// Reviewer's test (branch brk): a held request that began while the feed
// was live never notices the feed falling behind.

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/adapters/memory"
	"github.com/jobstatus/jobstatus/app"
	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
	"github.com/jobstatus/jobstatus/test/testkit"
)

// TestAWaiterHeldWhileTheFeedWasLiveRereadsOnceItFallsBehind: wait picks
// its fallback poll once, when it (re)subscribes: with the feed live at
// that moment it takes no poll, and if the feed then stalls (its
// heartbeat older than the bound) the change is never handed over, so the
// request sleeps through it until its whole wait ends, though the
// documented promise (docs/read-model.md, invariant 7) is that held
// requests re-read every second while the feed is behind.
func TestAWaiterHeldWhileTheFeedWasLiveRereadsOnceItFallsBehind(t *testing.T) {
	t.Parallel()
	changes, err := app.NewChanges(10, app.StalenessBound(100*time.Millisecond))
	require.NoError(t, err)
	jobs := &countingJobs{Jobs: memory.NewJobs()}
	est, err := app.NewETA(testETA, jobs)
	require.NoError(t, err)
	clock := ports.ClockFunc(time.Now)
	pub, err := app.NewPublic(app.PublicDeps{Jobs: jobs, Tokens: fakeTokens{}, Clients: fakeClients{}, Limits: ports.Unlimited{},
		Clock: clock, ETA: est, Changes: changes, Polling: app.PollingConfig{MaxWait: 20 * time.Second, MaxRetryAfter: 30 * time.Second},
		Lister: jobs.Jobs, Feed: mustFeed(t, jobs.Jobs), List: app.ListConfig{DefaultPageSize: 2, MaxPageSize: 3}})
	require.NoError(t, err)
	op, err := app.NewOperator(app.OperatorDeps{Jobs: jobs, Maintenance: jobs, Reports: jobs, Clock: clock, ETA: est, Batch: 10})
	require.NoError(t, err)
	b := &waitBundle{pub: pub, op: op, jobs: jobs, changes: changes}

	j, err := op.CreateJob.Handle(context.Background(), app.CreateJob{ClientID: reader.ClientID})
	require.NoError(t, err)
	changes.Apply(ports.ChangeBatch{CaughtUp: time.Now()}) // a heartbeat: live
	answer := b.held(t, j.ID)                              // parked while live: no poll
	// The feed stalls: no more heartbeats; the bound passes.
	testkit.Eventually(t, 10*time.Second, func() bool { return !changes.IsLive() }, "the feed is behind its bound")
	b.complete(t, j.ID) // never handed over: the feed is stalled

	select {
	case st := <-answer:
		require.Equal(t, domain.StatusDone, st.Job.Status)
	case <-time.After(15 * time.Second): // 15 FallbackIntervals; the wait is 20 s
		t.Fatal("the held request slept through the change while the feed was behind its bound")
	}
}

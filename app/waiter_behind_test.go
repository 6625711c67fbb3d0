package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/app"
	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
	"github.com/jobstatus/jobstatus/test/testkit"
)

// TestAWaiterHeldWhileTheFeedWasLiveRereadsOnceItFallsBehind: a request
// held while the feed vouched for memory notices within a second when the
// feed falls behind its bound (no heartbeat) and reads its job again, so a
// change the stalled feed never hands over still answers it
// (docs/read-model.md, invariant 7). Found by a reviewer: the fallback
// was chosen once per subscription.
func TestAWaiterHeldWhileTheFeedWasLiveRereadsOnceItFallsBehind(t *testing.T) {
	t.Parallel()
	b := waitSetup(t, false, app.StalenessBound(100*time.Millisecond)) // no feed: heartbeats by hand
	changes, op := b.changes, b.op

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

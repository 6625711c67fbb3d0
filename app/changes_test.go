package app_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/app"
	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
)

// closed reports whether c is closed, without waiting.
func closed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// TestChanges: the hub takes a waiter out when it wakes it, so the
// waiter's Cancel has nothing left to do (and takes no lock: ten thousand
// held requests woken at once do not queue on the hub to leave it), while
// a waiter that was not woken still leaves by its Cancel.
func TestChanges(t *testing.T) {
	t.Parallel()

	type testBundle struct{ a, b domain.ID }
	setup := func(t *testing.T) (*app.Changes, *testBundle) {
		t.Helper()
		c, err := app.NewChanges(10)
		require.NoError(t, err)
		return c, &testBundle{a: domain.NewID(), b: domain.NewID()}
	}
	put := func(id domain.ID, pos int64) ports.ChangeBatch {
		return ports.ChangeBatch{Changes: []ports.Change{{Position: pos, Op: ports.ChangePut, ID: id,
			Job: domain.Job{ID: id, Version: pos, Status: domain.StatusDone}}}, Through: pos}
	}

	t.Run("WokenWaitersLeaveTheHubWhenWoken", func(t *testing.T) {
		t.Parallel()
		c, b := setup(t)
		var subs []app.Subscription
		for range 3 {
			s, ok := c.Subscribe(b.a, 1)
			require.True(t, ok)
			subs = append(subs, s)
		}
		other, ok := c.Subscribe(b.b, 1)
		require.True(t, ok)
		require.Equal(t, 4, c.Waiting())

		c.Apply(put(b.a, 2))
		require.Equal(t, 1, c.Waiting(), "the woken waiters left before their Cancel")
		for _, s := range subs {
			require.True(t, closed(s.C))
			ch, ok := s.Change()
			require.True(t, ok)
			require.Equal(t, b.a, ch.Job.ID, "each waiter is handed its own job's change")
			require.Equal(t, int64(2), ch.Position)
			s.Cancel()
		}
		require.Equal(t, 1, c.Waiting(), "a woken waiter's Cancel removes nothing more")
		require.False(t, closed(other.C), "a waiter of another job is not woken")
		other.Cancel()
		require.Equal(t, 0, c.Waiting())
	})

	t.Run("AWaiterHoldingTheChangeStaysUntilItsCancel", func(t *testing.T) {
		t.Parallel()
		c, b := setup(t)
		s, ok := c.Subscribe(b.a, 2)
		require.True(t, ok)
		c.Apply(put(b.a, 2)) // no newer than what it holds
		require.False(t, closed(s.C))
		require.Equal(t, 1, c.Waiting())
		s.Cancel()
		require.Equal(t, 0, c.Waiting())
		c.Apply(put(b.a, 3)) // after its Cancel: nobody to wake
		require.False(t, closed(s.C))
	})

	t.Run("FreesItsPlaceForTheNextWaiterOnWakeUp", func(t *testing.T) {
		t.Parallel()
		c, err := app.NewChanges(1)
		require.NoError(t, err)
		id := domain.NewID()
		s, ok := c.Subscribe(id, 1)
		require.True(t, ok)
		_, ok = c.Subscribe(id, 1)
		require.False(t, ok, "full")
		c.Apply(put(id, 2))
		again, ok := c.Subscribe(id, 2)
		require.True(t, ok, "the woken waiter's place is free")
		s.Cancel()
		require.Equal(t, 1, c.Waiting(), "the old subscription's Cancel does not remove the new one")
		again.Cancel()
		require.Equal(t, 0, c.Waiting())
	})

	t.Run("TruncateAndCloseWakeEveryoneWithoutAChange", func(t *testing.T) {
		t.Parallel()
		c, b := setup(t)
		s1, _ := c.Subscribe(b.a, 1)
		s2, _ := c.Subscribe(b.b, 1)
		c.Apply(ports.ChangeBatch{Changes: []ports.Change{{Position: 5, Op: ports.ChangeTruncate}}, Through: 5})
		require.Equal(t, 0, c.Waiting())
		for _, s := range []app.Subscription{s1, s2} {
			require.True(t, closed(s.C))
			_, ok := s.Change()
			require.False(t, ok, "nothing to hand over: the waiter re-reads")
			s.Cancel()
		}
		s3, ok := c.Subscribe(b.a, 1)
		require.True(t, ok)
		c.Close()
		require.True(t, closed(s3.C))
		require.Equal(t, 0, c.Waiting())
		s3.Cancel()
		require.Equal(t, 0, c.Waiting())
		_, ok = c.Subscribe(b.a, 1)
		require.False(t, ok, "closed")
	})

	t.Run("TellsItsWaitersWhenTheFeedFallsBehindItsBound", func(t *testing.T) {
		t.Parallel()
		c, err := app.NewChanges(10, app.StalenessBound(50*time.Millisecond))
		require.NoError(t, err)
		id := domain.NewID()
		c.Apply(ports.ChangeBatch{CaughtUp: time.Now()}) // a heartbeat: live
		s, ok := c.Subscribe(id, 1)
		require.True(t, ok)
		select {
		case <-s.Behind:
		case <-time.After(10 * time.Second):
			t.Fatal("the feed fell behind its bound and the waiter was not told")
		}
		require.False(t, c.IsLive())
		require.False(t, closed(s.C), "falling behind is not a change")
		s.Cancel()

		// Subscribed while behind: told only when it falls behind again.
		again, ok := c.Subscribe(id, 1)
		require.True(t, ok)
		require.False(t, closed(again.Behind))
		c.Apply(ports.ChangeBatch{CaughtUp: time.Now()}) // back
		select {
		case <-again.Behind:
		case <-time.After(10 * time.Second):
			t.Fatal("the feed fell behind a second time and the waiter was not told")
		}
		again.Cancel()
	})

	t.Run("DoesNotTellWaitersWhileTheFeedVouches", func(t *testing.T) {
		t.Parallel()
		c, b := setup(t) // the default bound, a second, and a heartbeat that stays within it for an hour
		c.Apply(ports.ChangeBatch{CaughtUp: time.Now().Add(time.Hour)})
		s, ok := c.Subscribe(b.a, 1)
		require.True(t, ok)
		require.True(t, c.IsLive())
		require.False(t, closed(s.Behind))
		c.Close() // stops the watch
		require.False(t, closed(s.Behind))
	})
}

package app_test

import (
	"context"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/adapters/memory"
	"github.com/jobstatus/jobstatus/app"
	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
	"github.com/jobstatus/jobstatus/test/testkit"
)

var t0 = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

func TestETAEstimate(t *testing.T) {
	t.Parallel()
	cfg := app.ETAConfig{Default: 30 * time.Second, Percentile: 0.9, Window: 10, MinSamples: 5, Min: time.Second, Max: time.Hour}
	newETA := func(t *testing.T, src ports.DurationSource) *app.ETA {
		t.Helper()
		e, err := app.NewETA(cfg, src)
		require.NoError(t, err)
		return e
	}

	t.Run("DefaultUntilEnoughSamples", func(t *testing.T) {
		t.Parallel()
		e := newETA(t, durations(nil))
		for range 4 {
			e.Observe(2 * time.Second)
		}
		require.Equal(t, 30*time.Second, e.Estimate())
		e.Observe(2 * time.Second)
		require.Equal(t, 2*time.Second, e.Estimate())
	})
	t.Run("HighPercentileOfTheWindow", func(t *testing.T) {
		t.Parallel()
		e := newETA(t, durations(nil))
		for i := 1; i <= 10; i++ {
			e.Observe(time.Duration(i) * time.Second)
		}
		require.Equal(t, 9*time.Second, e.Estimate(), "nearest-rank p90 of 1..10s")
		// The window slides: ten fast jobs push the slow ones out.
		for range 10 {
			e.Observe(3 * time.Second)
		}
		require.Equal(t, 3*time.Second, e.Estimate())
		require.Equal(t, 10, e.Samples())
	})
	t.Run("Bounded", func(t *testing.T) {
		t.Parallel()
		e := newETA(t, durations(nil))
		for range 5 {
			e.Observe(time.Millisecond)
		}
		require.Equal(t, time.Second, e.Estimate())
		for range 10 {
			e.Observe(48 * time.Hour)
		}
		require.Equal(t, time.Hour, e.Estimate())
	})
	t.Run("RefreshFromStore", func(t *testing.T) {
		t.Parallel()
		src := durations{5 * time.Second, 5 * time.Second, 5 * time.Second, 5 * time.Second, 5 * time.Second, 7 * time.Second}
		e := newETA(t, src)
		require.NoError(t, e.Refresh(context.Background()))
		require.Equal(t, 7*time.Second, e.Estimate())
	})
}

type durations []time.Duration

func (d durations) RecentDurations(context.Context, int) ([]time.Duration, error) { return d, nil }

// pollBundle wires the use cases to a memory store whose changes reach the hub.
func pollSetup(t *testing.T, maxWaiters int) (services, *fakeClock) {
	t.Helper()
	clock := &fakeClock{now: t0}
	changes, err := app.NewChanges(maxWaiters, app.StalenessBound(time.Hour))
	require.NoError(t, err)
	repo := memory.NewJobs()
	runFeed(t, repo, changes)
	a, _ := wire(t, repo, clock, changes,
		app.ETAConfig{Default: 40 * time.Second, Percentile: 0.9, Window: 100, MinSamples: 3, Min: time.Second, Max: time.Hour},
		app.PollingConfig{MaxWait: 5 * time.Second, MaxRetryAfter: 30 * time.Second})
	return a, clock
}

func TestCreatedETAFollowsHistory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, clock := pollSetup(t, 10)
	j, err := a.CreateJob.Handle(ctx, app.CreateJob{ClientID: "mis-alpha"})
	require.NoError(t, err)
	require.Equal(t, t0.Add(40*time.Second), j.ETA, "default while there is no history")

	for _, took := range []time.Duration{4 * time.Second, 6 * time.Second, 12 * time.Second} {
		j, err := a.CreateJob.Handle(ctx, app.CreateJob{ClientID: "mis-alpha"})
		require.NoError(t, err)
		clock.Advance(took)
		_, err = a.CompleteJob.Handle(ctx, app.CompleteJob{ID: j.ID.String(), Links: []domain.Link{{Entity: "composition", Href: "/c"}}})
		require.NoError(t, err)
	}
	j, err = a.CreateJob.Handle(ctx, app.CreateJob{ClientID: "mis-alpha"})
	require.NoError(t, err)
	require.Equal(t, clock.Now().Add(12*time.Second), j.ETA, "p90 of 4s, 6s, 12s")
}

func TestPollingHints(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, clock := pollSetup(t, 10)
	j, err := a.CreateJob.Handle(ctx, app.CreateJob{ClientID: "mis-alpha", ETA: 90 * time.Second})
	require.NoError(t, err)
	get := func() app.JobStatus {
		st, err := a.GetJobStatus.Handle(ctx, app.GetJobStatus{Principal: reader, ID: j.ID.String()})
		require.NoError(t, err)
		return st
	}

	require.Equal(t, 30*time.Second, get().RetryAfter, "capped at MaxRetryAfter")
	clock.Advance(80 * time.Second)
	require.Equal(t, 10*time.Second, get().RetryAfter, "the time left until eta")
	clock.Advance(9*time.Second + 500*time.Millisecond)
	require.Equal(t, time.Second, get().RetryAfter, "rounded up, at least one second")

	clock.Advance(time.Minute) // overdue by 59.5 s: eta + 2 steps of MaxRetryAfter
	st := get()
	require.Equal(t, t0.Add(150*time.Second), st.Job.ETA, "an overdue job gets a re-estimated eta, not a past date")
	require.Equal(t, time.Second, st.RetryAfter)
	clock.Advance(300 * time.Millisecond)
	require.Equal(t, st.Job.ETA, get().Job.ETA, "the re-estimate stays put until it is due")
	clock.Advance(time.Second)
	require.Equal(t, t0.Add(180*time.Second), get().Job.ETA, "then moves one step on")

	_, err = a.FailJob.Handle(ctx, app.FailJob{ID: j.ID.String(), Code: 500, Message: "x"})
	require.NoError(t, err)
	st = get()
	require.Zero(t, st.RetryAfter, "no polling hint for a finished job")
	require.Equal(t, t0.Add(90*time.Second), st.Job.ETA, "a finished job keeps its eta")
}

// TestPollingHintsForEtasOnlySQLCanStore: async_jobs takes any eta, and
// hand-written SQL may store one centuries away, beyond what a
// time.Duration holds (about 292 years). An eta 18 000 years ahead got
// Retry-After 1 (the saturated Sub overflowed when rounded up), and one
// 2 000 years behind was presented 292 years further in the past (k·step
// overflowed). Both answer as any eta does.
func TestPollingHintsForEtasOnlySQLCanStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := &fakeClock{now: t0}
	changes, err := app.NewChanges(10, app.StalenessBound(time.Hour))
	require.NoError(t, err)
	repo := memory.NewJobs()
	runFeed(t, repo, changes)
	const step = 30 * time.Second
	a, _ := wire(t, repo, clock, changes,
		app.ETAConfig{Default: 40 * time.Second, Percentile: 0.9, Window: 100, MinSamples: 3, Min: time.Second, Max: time.Hour},
		app.PollingConfig{MaxWait: 5 * time.Second, MaxRetryAfter: step})
	get := func(eta time.Time) app.JobStatus {
		j, _, err := repo.Create(ctx, domain.Job{ID: domain.NewID(), ClientID: "mis-alpha", Status: domain.StatusPending,
			ETA: eta, CreatedAt: t0, UpdatedAt: t0})
		require.NoError(t, err)
		st, err := a.GetJobStatus.Handle(ctx, app.GetJobStatus{Principal: reader, ID: j.ID.String()})
		require.NoError(t, err)
		return st
	}

	ahead := time.Date(20000, 1, 1, 0, 0, 0, 0, time.UTC)
	st := get(ahead)
	require.Equal(t, ahead, st.Job.ETA)
	require.Equal(t, step, st.RetryAfter, "capped at MaxRetryAfter")

	behind := time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC) // 1 BC
	st = get(behind)
	require.True(t, st.Job.ETA.After(clock.Now()), "presented %s: it lies ahead", st.Job.ETA)
	require.False(t, st.Job.ETA.After(clock.Now().Add(step)), "presented %s: within one step", st.Job.ETA)
	require.Zero(t, (st.Job.ETA.UnixMicro()-behind.UnixMicro())%step.Microseconds(), "whole steps after the eta")
	require.Equal(t, app.Overdue(behind, clock.Now(), step), st.Job.ETA)
	require.GreaterOrEqual(t, st.RetryAfter, time.Second)
	require.LessOrEqual(t, st.RetryAfter, step)
}

// TestOverdueForAnyStep: Overdue presents an eta that has passed as that
// eta plus whole steps, the first ahead of now, for any step and any eta
// a time.Time holds. A step over half a time.Duration's range once made
// its catch-up chunk zero, and the loop never ended.
func TestOverdueForAnyStep(t *testing.T) {
	t.Parallel()
	now := t0
	steps := []time.Duration{time.Second, 30 * time.Second, 24 * time.Hour, math.MaxInt64 / 2, math.MaxInt64/2 + 1, math.MaxInt64}
	etas := []time.Time{now, now.Add(-time.Nanosecond), now.Add(-time.Minute), time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-4712, 1, 1, 0, 0, 0, 0, time.UTC)}
	for _, step := range steps {
		for _, eta := range etas {
			done := make(chan time.Time, 1)
			go func() { done <- app.Overdue(eta, now, step) }()
			select {
			case got := <-done:
				require.True(t, got.After(now), "step %s, eta %s: presented %s, not ahead", step, eta, got)
				require.False(t, got.Sub(now) > step, "step %s, eta %s: presented %s, more than a step ahead", step, eta, got)
				if step < math.MaxInt64/2 { // whole steps after the eta, where the microseconds can say so
					require.Zero(t, (got.UnixMicro()-eta.UnixMicro())%step.Microseconds(), "step %s, eta %s: presented %s", step, eta, got)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("step %s, eta %s: Overdue did not return", step, eta)
			}
		}
	}
	ahead := now.Add(time.Minute)
	require.Equal(t, ahead, app.Overdue(ahead, now, time.Second), "an eta ahead is kept")
}

func TestWaitForChange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("ReturnsWhenTheJobFinishes", func(t *testing.T) {
		t.Parallel()
		a, _ := pollSetup(t, 10)
		j, err := a.CreateJob.Handle(ctx, app.CreateJob{ClientID: "mis-alpha"})
		require.NoError(t, err)
		go func() { // completes the job once the request below is parked
			if testkit.Within(10*time.Second, func() bool { return a.Changes.Waiting() > 0 }) {
				_, _ = a.CompleteJob.Handle(ctx, app.CompleteJob{ID: j.ID.String(), Links: []domain.Link{{Entity: "composition", Href: "/c"}}})
			}
		}()
		start := time.Now()
		st, err := a.GetJobStatus.Handle(ctx, app.GetJobStatus{Principal: reader, ID: j.ID.String(), Wait: 20 * time.Second})
		require.NoError(t, err)
		require.Equal(t, domain.StatusDone, st.Job.Status)
		require.Equal(t, 5*time.Second, st.Waited, "the wait is capped")
		require.Less(t, time.Since(start), 4*time.Second, "answered on the change, well before the wait ends")
		require.Zero(t, a.Changes.Waiting())
	})
	t.Run("TimesOutWithCurrentState", func(t *testing.T) {
		t.Parallel()
		a, _ := pollSetup(t, 10)
		j, err := a.CreateJob.Handle(ctx, app.CreateJob{ClientID: "mis-alpha"})
		require.NoError(t, err)
		st, err := a.GetJobStatus.Handle(ctx, app.GetJobStatus{Principal: reader, ID: j.ID.String(), Wait: time.Second})
		require.NoError(t, err)
		require.Equal(t, domain.StatusPending, st.Job.Status)
		require.Equal(t, time.Second, st.Waited)
		require.Zero(t, a.Changes.Waiting())
	})
	t.Run("FinishedJobsDoNotWait", func(t *testing.T) {
		t.Parallel()
		a, _ := pollSetup(t, 10)
		j, err := a.CreateJob.Handle(ctx, app.CreateJob{ClientID: "mis-alpha"})
		require.NoError(t, err)
		_, err = a.FailJob.Handle(ctx, app.FailJob{ID: j.ID.String(), Code: 1, Message: "x"})
		require.NoError(t, err)
		st, err := a.GetJobStatus.Handle(ctx, app.GetJobStatus{Principal: reader, ID: j.ID.String(), Wait: 20 * time.Second})
		require.NoError(t, err)
		require.Zero(t, st.Waited)
	})
	t.Run("OthersJobIsNotFoundBeforeWaiting", func(t *testing.T) {
		t.Parallel()
		a, _ := pollSetup(t, 10)
		j, err := a.CreateJob.Handle(ctx, app.CreateJob{ClientID: "mis-beta"})
		require.NoError(t, err)
		_, err = a.GetJobStatus.Handle(ctx, app.GetJobStatus{Principal: reader, ID: j.ID.String(), Wait: 20 * time.Second})
		require.ErrorIs(t, err, domain.ErrNotFound)
		require.Zero(t, a.Changes.Waiting())
	})
	t.Run("WaiterLimitHolds", func(t *testing.T) {
		t.Parallel()
		a, _ := pollSetup(t, 2)
		j, err := a.CreateJob.Handle(ctx, app.CreateJob{ClientID: "mis-alpha"})
		require.NoError(t, err)
		waitCtx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _ = a.GetJobStatus.Handle(waitCtx, app.GetJobStatus{Principal: reader, ID: j.ID.String(), Wait: 5 * time.Second})
			}()
		}
		require.Eventually(t, func() bool { return a.Changes.Waiting() == 2 }, 5*time.Second, time.Millisecond)
		start := time.Now()
		st, err := a.GetJobStatus.Handle(ctx, app.GetJobStatus{Principal: reader, ID: j.ID.String(), Wait: 5 * time.Second})
		require.NoError(t, err)
		require.Zero(t, st.Waited, "a third waiter is answered at once, without claiming the wait")
		require.Less(t, time.Since(start), 2*time.Second)
		require.Equal(t, 2, a.Changes.Waiting())
		cancel() // dropped clients free their waiters at once
		wg.Wait()
		require.Zero(t, a.Changes.Waiting())
	})
	t.Run("ShutdownReleasesWaiters", func(t *testing.T) {
		t.Parallel()
		a, _ := pollSetup(t, 10)
		j, err := a.CreateJob.Handle(ctx, app.CreateJob{ClientID: "mis-alpha"})
		require.NoError(t, err)
		done := make(chan app.JobStatus)
		go func() {
			st, _ := a.GetJobStatus.Handle(ctx, app.GetJobStatus{Principal: reader, ID: j.ID.String(), Wait: 5 * time.Second})
			done <- st
		}()
		require.Eventually(t, func() bool { return a.Changes.Waiting() == 1 }, 5*time.Second, time.Millisecond)
		a.Changes.Close()
		select {
		case st := <-done:
			require.Equal(t, domain.StatusPending, st.Job.Status, "answered with the current state")
		case <-time.After(3 * time.Second):
			t.Fatal("a held request was not released at shutdown")
		}
	})
}

var _ ports.DurationSource = durations(nil)

package app_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/adapters/memory"
	"github.com/jobstatus/jobstatus/app"
	"github.com/jobstatus/jobstatus/domain"
)

// recv waits for one value on ch, failing the test after a deadline.
func recv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("no signal from the service")
		var zero T
		return zero
	}
}

func TestSweeper(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	setupSweeper := func(t *testing.T) (*app.Sweeper, *testBundle, chan app.SweepResult) {
		t.Helper()
		_, b := setup(t)
		// A clock with nanoseconds, as time.Now has on Linux.
		b.clock.now = b.clock.now.Add(123456789 * time.Nanosecond)
		reports := make(chan app.SweepResult, 16)
		s, err := app.NewSweeper(app.SweeperConfig{Interval: time.Hour, PendingTimeout: time.Minute}, b.operator.SweepStale,
			func(r app.SweepResult) { reports <- r })
		require.NoError(t, err)
		s.TestSignals.Init()
		t.Cleanup(func() { require.NoError(t, s.Stop(ctx)) })
		return s, b, reports
	}

	t.Run("FailsStaleJobsAtTheDomainsPrecision", func(t *testing.T) {
		t.Parallel()
		s, b, reports := setupSweeper(t)
		var stale []domain.ID
		for range 5 { // more than one batch (2)
			j, err := b.operator.CreateJob.Handle(ctx, app.CreateJob{ClientID: "mis-alpha"})
			require.NoError(t, err)
			stale = append(stale, j.ID)
		}
		b.clock.Advance(2 * time.Minute)
		fresh, err := b.operator.CreateJob.Handle(ctx, app.CreateJob{ClientID: "mis-alpha"})
		require.NoError(t, err)

		require.NoError(t, s.Start(ctx))
		res := recv(t, s.TestSignals.Swept)
		require.NoError(t, res.Err)
		require.Equal(t, 5, res.Jobs)
		require.Equal(t, res, recv(t, reports), "the report callback sees every run")

		for _, id := range stale {
			j, err := b.repo.Get(ctx, id)
			require.NoError(t, err)
			require.Equal(t, domain.StatusFailed, j.Status)
			require.Equal(t, domain.Timeout, *j.Failure)
			// The defect: the sweeper stored nanoseconds where every use
			// case stores microseconds.
			require.Equal(t, domain.Timestamp(b.clock.Now()), *j.FinishedAt)
			require.Zero(t, j.FinishedAt.Nanosecond()%int(time.Microsecond), "finished at %s", j.FinishedAt.Format(time.RFC3339Nano))
		}
		j, err := b.repo.Get(ctx, fresh.ID)
		require.NoError(t, err)
		require.Equal(t, domain.StatusPending, j.Status)
	})

	t.Run("SweepsAndUseCasesAgreeOnPrecision", func(t *testing.T) {
		t.Parallel()
		s, b, _ := setupSweeper(t)
		swept, err := b.operator.CreateJob.Handle(ctx, app.CreateJob{ClientID: "mis-alpha"})
		require.NoError(t, err)
		failed, err := b.operator.CreateJob.Handle(ctx, app.CreateJob{ClientID: "mis-alpha"})
		require.NoError(t, err)
		b.clock.Advance(2 * time.Minute)
		failed, err = b.operator.FailJob.Handle(ctx, app.FailJob{ID: failed.ID.String(), Code: 504, Message: "job timed out"})
		require.NoError(t, err)
		require.NoError(t, s.Start(ctx))
		require.Equal(t, 1, recv(t, s.TestSignals.Swept).Jobs)
		got, err := b.repo.Get(ctx, swept.ID)
		require.NoError(t, err)
		require.Equal(t, *failed.FinishedAt, *got.FinishedAt, "failing by hand and by the sweeper record the same time")
	})

	t.Run("StopsWithoutStart", func(t *testing.T) {
		t.Parallel()
		s, _, _ := setupSweeper(t)
		require.NoError(t, s.Stop(ctx))
	})

	t.Run("StartsOnce", func(t *testing.T) {
		t.Parallel()
		s, _, _ := setupSweeper(t)
		require.NoError(t, s.Start(ctx))
		require.Error(t, s.Start(ctx))
	})

	t.Run("RefusesInvalidConfig", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t)
		report := func(app.SweepResult) {}
		for name, cfg := range map[string]app.SweeperConfig{
			"ZeroInterval":           {PendingTimeout: time.Minute},
			"NegativeInterval":       {Interval: -time.Second, PendingTimeout: time.Minute},
			"ZeroPendingTimeout":     {Interval: time.Minute},
			"NegativePendingTimeout": {Interval: time.Minute, PendingTimeout: -time.Minute},
		} {
			_, err := app.NewSweeper(cfg, b.operator.SweepStale, report)
			require.Error(t, err, name)
		}
		valid := app.SweeperConfig{Interval: time.Minute, PendingTimeout: time.Minute}
		_, err := app.NewSweeper(valid, app.SweepStaleHandler{}, report)
		require.Error(t, err, "unwired handler")
		_, err = app.NewSweeper(valid, b.operator.SweepStale, nil)
		require.Error(t, err, "no report callback")
	})
}

// failingDurations is a duration source that always fails.
type failingDurations struct{}

func (failingDurations) RecentDurations(context.Context, int) ([]time.Duration, error) {
	return nil, errors.New("store down")
}

func TestETARefresher(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := app.ETAConfig{Default: 30 * time.Second, Percentile: 0.9, Window: 10, MinSamples: 1, Min: time.Second, Max: time.Hour}

	t.Run("LoadsHistoryOnStart", func(t *testing.T) {
		t.Parallel()
		est, err := app.NewETA(cfg, durations{7 * time.Second})
		require.NoError(t, err)
		r, err := app.NewETARefresher(app.ETARefresherConfig{Interval: time.Hour}, est, func(error) { t.Error("no failure expected") })
		require.NoError(t, err)
		r.TestSignals.Init()
		require.NoError(t, r.Start(ctx))
		require.NoError(t, recv(t, r.TestSignals.Refreshed))
		require.NoError(t, r.Stop(ctx))
		require.Equal(t, 7*time.Second, est.Estimate())
	})

	t.Run("ReportsFailures", func(t *testing.T) {
		t.Parallel()
		est, err := app.NewETA(cfg, failingDurations{})
		require.NoError(t, err)
		reported := make(chan error, 4)
		r, err := app.NewETARefresher(app.ETARefresherConfig{Interval: time.Hour}, est, func(err error) { reported <- err })
		require.NoError(t, err)
		r.TestSignals.Init()
		require.NoError(t, r.Start(ctx))
		require.Error(t, recv(t, r.TestSignals.Refreshed))
		require.ErrorContains(t, recv(t, reported), "store down")
		require.NoError(t, r.Stop(ctx))
	})

	t.Run("RefusesInvalidConfig", func(t *testing.T) {
		t.Parallel()
		est, err := app.NewETA(cfg, memory.NewJobs())
		require.NoError(t, err)
		_, err = app.NewETARefresher(app.ETARefresherConfig{}, est, func(error) {})
		require.Error(t, err)
		_, err = app.NewETARefresher(app.ETARefresherConfig{Interval: -time.Second}, est, func(error) {})
		require.Error(t, err)
		_, err = app.NewETARefresher(app.ETARefresherConfig{Interval: time.Second}, nil, func(error) {})
		require.Error(t, err)
	})
}

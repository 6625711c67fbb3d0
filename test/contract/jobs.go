// Package contract holds the one behavioural suite every ports.JobRepository
// must pass; each implementation's tests run it against a fresh store.
package contract

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
)

// Factory returns an empty (or at least isolated) repository for one test.
type Factory func(t *testing.T) ports.JobRepository

var t0 = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

func newJob(t *testing.T, client string) domain.Job {
	t.Helper()
	j, err := domain.New(domain.NewParams{ID: domain.NewID(), ClientID: client, ETA: t0.Add(90 * time.Second), Now: t0})
	require.NoError(t, err)
	return j
}

// create stores j and requires that it was stored as given.
func create(t *testing.T, repo ports.JobRepository, j domain.Job) {
	t.Helper()
	stored, created, err := repo.Create(context.Background(), j)
	require.NoError(t, err)
	require.True(t, created)
	require.Positive(t, stored.Version, "a stored job has a version")
	require.Equal(t, j, unversioned(stored))
}

// unversioned is j without the version its store gave it, to compare with
// the job as it was built.
func unversioned(j domain.Job) domain.Job {
	j.Version = 0
	return j
}

func links(href string) []domain.Link {
	return []domain.Link{{Entity: domain.CompositionEntity, Href: href}}
}

func mustDone(t *testing.T, href string, at time.Time) domain.Outcome {
	t.Helper()
	o, err := domain.Done(links(href), at)
	require.NoError(t, err)
	return o
}

func mustFailed(t *testing.T, code int, msg string, at time.Time) domain.Outcome {
	t.Helper()
	o, err := domain.Failed(code, msg, at)
	require.NoError(t, err)
	return o
}

// JobRepository runs the contract against repositories made by newRepo.
func JobRepository(t *testing.T, newRepo Factory) {
	ctx := context.Background()

	t.Run("GetMissingIsNotFound", func(t *testing.T) {
		t.Parallel()
		_, err := newRepo(t).Get(ctx, domain.NewID())
		require.ErrorIs(t, err, domain.ErrNotFound)
	})

	t.Run("CreateThenGetRoundTrips", func(t *testing.T) {
		t.Parallel()
		repo := newRepo(t)
		j := newJob(t, "mis-alpha")
		create(t, repo, j)
		got, err := repo.Get(ctx, j.ID)
		require.NoError(t, err)
		require.Equal(t, j, unversioned(got))
	})

	t.Run("VersionsGrowWithEveryChange", func(t *testing.T) {
		t.Parallel()
		repo := newRepo(t)
		a, b := newJob(t, "mis-alpha"), newJob(t, "mis-alpha")
		sa, _, err := repo.Create(ctx, a)
		require.NoError(t, err)
		sb, _, err := repo.Create(ctx, b)
		require.NoError(t, err)
		require.Greater(t, sb.Version, sa.Version, "one sequence for every job")
		done, _, err := repo.Finish(ctx, a.ID, mustDone(t, "/c", t0))
		require.NoError(t, err)
		require.Greater(t, done.Version, sb.Version)
		again, changed, err := repo.Finish(ctx, a.ID, mustDone(t, "/c", t0))
		require.NoError(t, err)
		require.False(t, changed)
		require.Equal(t, done.Version, again.Version, "a no-op is no change")
		got, err := repo.Get(ctx, a.ID)
		require.NoError(t, err)
		require.Equal(t, done.Version, got.Version)
	})

	t.Run("IdempotentCreateReturnsThePendingJob", func(t *testing.T) {
		t.Parallel()
		repo := newRepo(t)
		first := newJob(t, "mis-alpha")
		first.IdempotencyKey = "req-1"
		create(t, repo, first)

		again := newJob(t, "mis-alpha")
		again.IdempotencyKey = "req-1"
		stored, created, err := repo.Create(ctx, again)
		require.NoError(t, err)
		require.False(t, created)
		require.Equal(t, first, unversioned(stored), "the pending job with the same key comes back")
		_, err = repo.Get(ctx, again.ID)
		require.ErrorIs(t, err, domain.ErrNotFound, "no second job was stored")

		other := newJob(t, "mis-beta")
		other.IdempotencyKey = "req-1"
		create(t, repo, other) // keys are per client

		// Once the first job finished, the same key starts a new job.
		_, _, err = repo.Finish(ctx, first.ID, mustDone(t, "/c", t0))
		require.NoError(t, err)
		create(t, repo, again)
	})

	t.Run("TimesRoundTripAtTheDomainsPrecision", func(t *testing.T) {
		t.Parallel()
		repo := newRepo(t)
		at := t0.Add(987654821 * time.Nanosecond) // PostgreSQL would round .821 up
		j, err := domain.New(domain.NewParams{ID: domain.NewID(), ClientID: "mis-alpha", ETA: at.Add(time.Minute), Now: at})
		require.NoError(t, err)
		create(t, repo, j)
		got, err := repo.Get(ctx, j.ID)
		require.NoError(t, err)
		require.Equal(t, j, unversioned(got))
		// An outcome built by hand, not through domain.Done/Failed, still
		// finishes at the domain's precision in every store.
		raw := domain.Outcome{Status: domain.StatusDone, Links: links("/c"), At: at.Add(time.Second)}
		finished, changed, err := repo.Finish(ctx, j.ID, raw)
		require.NoError(t, err)
		require.True(t, changed)
		require.Equal(t, domain.Timestamp(raw.At), *finished.FinishedAt)
		got, err = repo.Get(ctx, j.ID)
		require.NoError(t, err)
		require.Equal(t, finished, got)
	})

	t.Run("CreateDuplicateIsRejected", func(t *testing.T) {
		t.Parallel()
		repo := newRepo(t)
		j := newJob(t, "mis-alpha")
		create(t, repo, j)
		j2 := newJob(t, "mis-beta")
		j2.ID = j.ID
		_, _, err := repo.Create(ctx, j2)
		require.ErrorIs(t, err, domain.ErrAlreadyExists)
		got, err := repo.Get(ctx, j.ID)
		require.NoError(t, err)
		require.Equal(t, "mis-alpha", got.ClientID, "the first job must survive")
	})

	t.Run("FinishMissingIsNotFound", func(t *testing.T) {
		t.Parallel()
		_, _, err := newRepo(t).Finish(ctx, domain.NewID(), mustDone(t, "/x", t0))
		require.ErrorIs(t, err, domain.ErrNotFound)
	})

	t.Run("PendingToDone", func(t *testing.T) {
		t.Parallel()
		repo := newRepo(t)
		j := newJob(t, "mis-alpha")
		create(t, repo, j)
		at := t0.Add(time.Minute)
		got, changed, err := repo.Finish(ctx, j.ID, mustDone(t, "/patients/p/encounter/e/composition/c", at))
		require.NoError(t, err)
		require.True(t, changed)
		require.Equal(t, domain.StatusDone, got.Status)
		require.Equal(t, links("/patients/p/encounter/e/composition/c"), got.Links)
		require.Nil(t, got.Failure)
		require.NotNil(t, got.FinishedAt)
		require.True(t, got.FinishedAt.Equal(at))
		stored, err := repo.Get(ctx, j.ID)
		require.NoError(t, err)
		require.Equal(t, got, stored)
	})

	t.Run("PendingToFailed", func(t *testing.T) {
		t.Parallel()
		repo := newRepo(t)
		j := newJob(t, "mis-alpha")
		create(t, repo, j)
		got, changed, err := repo.Finish(ctx, j.ID, mustFailed(t, 422, "signature is not valid", t0.Add(time.Minute)))
		require.NoError(t, err)
		require.True(t, changed)
		require.Equal(t, domain.StatusFailed, got.Status)
		require.Equal(t, &domain.Failure{Code: 422, Message: "signature is not valid"}, got.Failure)
		require.Empty(t, got.Links)
		stored, err := repo.Get(ctx, j.ID)
		require.NoError(t, err)
		require.Equal(t, got, stored)
	})

	terminal := []struct {
		name   string
		first  func(t *testing.T) domain.Outcome
		second func(t *testing.T) domain.Outcome
		err    error
	}{
		{"DoneRepeatIsNoop", func(t *testing.T) domain.Outcome { return mustDone(t, "/a", t0) },
			func(t *testing.T) domain.Outcome { return mustDone(t, "/a", t0.Add(time.Hour)) }, nil},
		{"DoneOtherLinksConflict", func(t *testing.T) domain.Outcome { return mustDone(t, "/a", t0) },
			func(t *testing.T) domain.Outcome { return mustDone(t, "/b", t0) }, domain.ErrConflict},
		{"DoneThenFailConflicts", func(t *testing.T) domain.Outcome { return mustDone(t, "/a", t0) },
			func(t *testing.T) domain.Outcome { return mustFailed(t, 500, "x", t0) }, domain.ErrConflict},
		{"FailedRepeatIsNoop", func(t *testing.T) domain.Outcome { return mustFailed(t, 500, "x", t0) },
			func(t *testing.T) domain.Outcome { return mustFailed(t, 500, "x", t0.Add(time.Hour)) }, nil},
		{"FailedOtherReasonConflicts", func(t *testing.T) domain.Outcome { return mustFailed(t, 500, "x", t0) },
			func(t *testing.T) domain.Outcome { return mustFailed(t, 500, "y", t0) }, domain.ErrConflict},
		{"FailedThenDoneConflicts", func(t *testing.T) domain.Outcome { return mustFailed(t, 500, "x", t0) },
			func(t *testing.T) domain.Outcome { return mustDone(t, "/a", t0) }, domain.ErrConflict},
	}
	for _, tt := range terminal {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			repo := newRepo(t)
			j := newJob(t, "mis-alpha")
			create(t, repo, j)
			first, changed, err := repo.Finish(ctx, j.ID, tt.first(t))
			require.NoError(t, err)
			require.True(t, changed)
			got, changed, err := repo.Finish(ctx, j.ID, tt.second(t))
			require.ErrorIs(t, err, tt.err)
			require.False(t, changed)
			stored, err := repo.Get(ctx, j.ID)
			require.NoError(t, err)
			require.Equal(t, first, stored, "a finished job never changes")
			if tt.err == nil {
				require.Equal(t, first, got)
			}
		})
	}

	t.Run("RacingOutcomesHaveExactlyOneWinner", func(t *testing.T) {
		t.Parallel()
		repo := newRepo(t)
		const jobs, workers = 8, 16
		ids := make([]domain.ID, jobs)
		for i := range ids {
			j := newJob(t, "mis-alpha")
			create(t, repo, j)
			ids[i] = j.ID
		}
		type result struct {
			job     int
			outcome domain.Outcome
			changed bool
			err     error
		}
		results := make(chan result, jobs*workers)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for i, id := range ids {
					// Every worker brings a different outcome; half complete, half fail.
					var o domain.Outcome
					if w%2 == 0 {
						o = mustDone(t, fmt.Sprintf("/patients/p/encounter/e/composition/%d", w), t0)
					} else {
						o = mustFailed(t, 500+w, "worker failed", t0)
					}
					_, changed, err := repo.Finish(ctx, id, o)
					results <- result{job: i, outcome: o, changed: changed, err: err}
				}
			}()
		}
		close(start)
		wg.Wait()
		close(results)
		winners := make([]*domain.Outcome, jobs)
		conflicts := make([]int, jobs)
		for r := range results {
			switch {
			case r.changed:
				require.NoError(t, r.err)
				require.Nil(t, winners[r.job], "job %d changed twice", r.job)
				o := r.outcome
				winners[r.job] = &o
			default:
				require.ErrorIs(t, r.err, domain.ErrConflict)
				conflicts[r.job]++
			}
		}
		for i, id := range ids {
			require.NotNil(t, winners[i], "job %d has no winner", i)
			require.Equal(t, workers-1, conflicts[i], "job %d: every loser gets a conflict", i)
			stored, err := repo.Get(ctx, id)
			require.NoError(t, err)
			require.Equal(t, winners[i].Status, stored.Status)
			if stored.Status == domain.StatusDone {
				require.Equal(t, winners[i].Links, stored.Links)
			} else {
				require.Equal(t, winners[i].Failure, stored.Failure)
			}
		}
	})

}

// jobAt returns a job of client created at the given time.
func jobAt(t *testing.T, client string, created time.Time) domain.Job {
	t.Helper()
	j, err := domain.New(domain.NewParams{ID: domain.NewID(), ClientID: client, ETA: created.Add(time.Minute), Now: created})
	require.NoError(t, err)
	return j
}

// Maintenance runs the contract of ports.JobMaintenance: the stale-job
// sweep and the retention purge.
func Maintenance(t *testing.T, newRepo Factory) {
	ctx := context.Background()
	asMaintenance := func(t *testing.T, repo ports.JobRepository) ports.JobMaintenance {
		m, ok := repo.(ports.JobMaintenance)
		require.True(t, ok, "%T must implement ports.JobMaintenance", repo)
		return m
	}

	t.Run("FailsOnlyOldPendingJobsInBatches", func(t *testing.T) {
		t.Parallel()
		repo := newRepo(t)
		m := asMaintenance(t, repo)
		var old []domain.ID
		for range 5 {
			j := jobAt(t, "mis-alpha", t0.Add(-2*time.Hour))
			create(t, repo, j)
			old = append(old, j.ID)
		}
		fresh := jobAt(t, "mis-alpha", t0)
		create(t, repo, fresh)
		oldDone := jobAt(t, "mis-alpha", t0.Add(-3*time.Hour))
		create(t, repo, oldDone)
		_, _, err := repo.Finish(ctx, oldDone.ID, mustDone(t, "/c", t0.Add(-3*time.Hour)))
		require.NoError(t, err)

		var counts []int
		for {
			n, err := m.FailPendingCreatedBefore(ctx, t0.Add(-time.Hour), domain.TimedOut(t0), 2)
			require.NoError(t, err)
			counts = append(counts, n)
			if n < 2 {
				break
			}
		}
		require.Equal(t, []int{2, 2, 1}, counts)
		for _, id := range old {
			j, err := repo.Get(ctx, id)
			require.NoError(t, err)
			require.Equal(t, domain.StatusFailed, j.Status)
			require.Equal(t, &domain.Failure{Code: 504, Message: "job timed out"}, j.Failure)
		}
		j, err := repo.Get(ctx, fresh.ID)
		require.NoError(t, err)
		require.Equal(t, domain.StatusPending, j.Status, "a recent job is left alone")
		j, err = repo.Get(ctx, oldDone.ID)
		require.NoError(t, err)
		require.Equal(t, domain.StatusDone, j.Status, "a finished job is never swept")
	})

	t.Run("TwoSweepersNeverDoubleAJob", func(t *testing.T) {
		t.Parallel()
		repo := newRepo(t)
		m := asMaintenance(t, repo)
		const n = 40
		for range n {
			create(t, repo, jobAt(t, "mis-alpha", t0.Add(-2*time.Hour)))
		}
		var wg sync.WaitGroup
		totals := make([]int, 2)
		for i := range totals {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 100 {
					got, err := m.FailPendingCreatedBefore(ctx, t0.Add(-time.Hour), domain.TimedOut(t0), 3)
					if err != nil {
						t.Errorf("sweeper %d: %v", i, err)
						return
					}
					totals[i] += got
				}
			}()
		}
		wg.Wait()
		require.Equal(t, n, totals[0]+totals[1], "every stale job failed exactly once")
	})

	t.Run("PurgesOnlyOldFinishedJobs", func(t *testing.T) {
		t.Parallel()
		repo := newRepo(t)
		m := asMaintenance(t, repo)
		var oldFinished []domain.ID
		for i := range 5 {
			j := jobAt(t, "mis-alpha", t0.Add(-72*time.Hour))
			create(t, repo, j)
			o := mustDone(t, "/c", t0.Add(-48*time.Hour))
			if i%2 == 1 {
				o = mustFailed(t, 500, "x", t0.Add(-48*time.Hour))
			}
			_, _, err := repo.Finish(ctx, j.ID, o)
			require.NoError(t, err)
			oldFinished = append(oldFinished, j.ID)
		}
		recent := jobAt(t, "mis-alpha", t0.Add(-2*time.Hour))
		create(t, repo, recent)
		_, _, err := repo.Finish(ctx, recent.ID, mustDone(t, "/c", t0.Add(-time.Hour)))
		require.NoError(t, err)
		oldPending := jobAt(t, "mis-alpha", t0.Add(-100*time.Hour))
		create(t, repo, oldPending)

		n, err := m.CountFinishedBefore(ctx, t0.Add(-24*time.Hour))
		require.NoError(t, err)
		require.Equal(t, 5, n, "counting counts everything, not a batch")
		for _, id := range oldFinished {
			_, err := repo.Get(ctx, id)
			require.NoError(t, err, "counting deletes nothing")
		}

		var counts []int
		for {
			n, err := m.DeleteFinishedBefore(ctx, t0.Add(-24*time.Hour), 2)
			require.NoError(t, err)
			counts = append(counts, n)
			if n < 2 {
				break
			}
		}
		require.Equal(t, []int{2, 2, 1}, counts)
		for _, id := range oldFinished {
			_, err := repo.Get(ctx, id)
			require.ErrorIs(t, err, domain.ErrNotFound)
		}
		_, err = repo.Get(ctx, recent.ID)
		require.NoError(t, err)
		_, err = repo.Get(ctx, oldPending.ID)
		require.NoError(t, err, "pending jobs are never purged")
	})

	// A purge deletes jobs, not their retained events: replay from 0 still
	// gives every change, each with the job as that change left it.
	t.Run("PurgeKeepsRetainedEventsForReplay", func(t *testing.T) {
		t.Parallel()
		repo := newRepo(t)
		m := asMaintenance(t, repo)
		log, ok := repo.(ports.EventLog)
		require.True(t, ok, "%T must implement ports.EventLog", repo)
		done, failed := jobAt(t, "mis-alpha", t0.Add(-72*time.Hour)), jobAt(t, "mis-alpha", t0.Add(-72*time.Hour))
		theirs := jobAt(t, "mis-beta", t0.Add(-72*time.Hour))
		for _, j := range []domain.Job{done, theirs, failed} {
			create(t, repo, j)
		}
		_, _, err := repo.Finish(ctx, done.ID, mustDone(t, "/c/1", t0.Add(-48*time.Hour)))
		require.NoError(t, err)
		_, _, err = repo.Finish(ctx, failed.ID, mustFailed(t, 422, "rejected", t0.Add(-48*time.Hour)))
		require.NoError(t, err)
		n, err := m.DeleteFinishedBefore(ctx, t0.Add(-24*time.Hour), 10)
		require.NoError(t, err)
		require.Equal(t, 2, n)

		events, err := log.EventsAfter(ctx, "mis-alpha", 0, 10)
		require.NoError(t, err)
		type shown struct {
			ID      domain.ID
			Client  string
			Event   domain.Status
			Status  domain.Status
			ETA     time.Time
			Links   []domain.Link
			Failure *domain.Failure
		}
		var got []shown
		for _, e := range events {
			got = append(got, shown{e.Job.ID, e.ClientID, e.Status, e.Job.Status, e.Job.ETA.UTC(), e.Job.Links, e.Job.Failure})
		}
		eta := t0.Add(-72 * time.Hour).Add(time.Minute)
		require.Equal(t, []shown{
			{done.ID, "mis-alpha", domain.StatusPending, domain.StatusPending, eta, []domain.Link{}, nil},
			{failed.ID, "mis-alpha", domain.StatusPending, domain.StatusPending, eta, []domain.Link{}, nil},
			{done.ID, "mis-alpha", domain.StatusDone, domain.StatusDone, eta, links("/c/1"), nil},
			{failed.ID, "mis-alpha", domain.StatusFailed, domain.StatusFailed, eta, []domain.Link{}, &domain.Failure{Code: 422, Message: "rejected"}},
		}, got, "every retained change of the purged jobs, in order, as each change left the job")
		for i := 1; i < len(events); i++ {
			require.Less(t, events[i-1].Position, events[i].Position)
		}
	})
}

// Reports runs the contract of ports.ReportSource on known data.
func Reports(t *testing.T, newRepo Factory) {
	ctx := context.Background()
	repo := newRepo(t)
	src, ok := repo.(ports.ReportSource)
	require.True(t, ok, "%T must implement ports.ReportSource", repo)

	day1 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	day2 := day1.Add(24 * time.Hour)
	add := func(client string, created time.Time, outcome func(created time.Time) domain.Outcome) {
		j := jobAt(t, client, created)
		create(t, repo, j)
		if outcome != nil {
			_, _, err := repo.Finish(ctx, j.ID, outcome(created))
			require.NoError(t, err)
		}
	}
	done := func(took time.Duration) func(time.Time) domain.Outcome {
		return func(created time.Time) domain.Outcome { return mustDone(t, "/c", created.Add(took)) }
	}
	failed := func(code int, msg string) func(time.Time) domain.Outcome {
		return func(created time.Time) domain.Outcome { return mustFailed(t, code, msg, created.Add(time.Second)) }
	}
	// Day 1: alpha has 4 DONE (10, 20, 30, 40 s) and 1 PENDING; beta 2 FAILED 422, 1 FAILED 500.
	for i, took := range []time.Duration{10, 20, 30, 40} {
		add("mis-alpha", day1.Add(time.Duration(i)*time.Hour), done(took*time.Second))
	}
	add("mis-alpha", day1.Add(5*time.Hour), nil)
	add("mis-beta", day1.Add(time.Hour), failed(422, "bad signature"))
	add("mis-beta", day1.Add(2*time.Hour), failed(422, "bad signature"))
	add("mis-beta", day1.Add(3*time.Hour), failed(500, "registry error"))
	// Day 2: alpha 1 DONE (100 s) and 1 FAILED 422 with another message.
	add("mis-alpha", day2.Add(time.Hour), done(100*time.Second))
	add("mis-alpha", day2.Add(2*time.Hour), failed(422, "expired certificate"))
	// Outside the range: day 3.
	add("mis-alpha", day2.Add(30*time.Hour), done(time.Hour))

	all := ports.ReportFilter{From: day1, To: day2.Add(24 * time.Hour)}
	var rows []ports.DailyCount
	require.NoError(t, src.DailyCounts(ctx, all, func(r ports.DailyCount) error { rows = append(rows, r); return nil }))
	require.Equal(t, []ports.DailyCount{
		{Day: day1, ClientID: "mis-alpha", Status: domain.StatusDone, Jobs: 4},
		{Day: day1, ClientID: "mis-alpha", Status: domain.StatusPending, Jobs: 1},
		{Day: day1, ClientID: "mis-beta", Status: domain.StatusFailed, Jobs: 3},
		{Day: day2, ClientID: "mis-alpha", Status: domain.StatusDone, Jobs: 1},
		{Day: day2, ClientID: "mis-alpha", Status: domain.StatusFailed, Jobs: 1},
	}, rows)
	require.Len(t, rows, 5, "day 3 is outside the range")

	qs, n, err := src.TimeToDone(ctx, all, []float64{0.5, 0.9, 0.99})
	require.NoError(t, err)
	require.Equal(t, int64(5), n)
	// Durations 10, 20, 30, 40, 100 s; linear interpolation between ranks.
	require.Len(t, qs, 3)
	for i, want := range []time.Duration{30 * time.Second, 76 * time.Second, 97600 * time.Millisecond} {
		require.InDelta(t, want.Seconds(), qs[i].Seconds(), 0.001, "quantile %d", i)
	}

	top, err := src.TopFailures(ctx, all, 10)
	require.NoError(t, err)
	require.Equal(t, []ports.FailureCount{
		{Code: 422, Message: "bad signature", Jobs: 3},
		{Code: 500, Message: "registry error", Jobs: 1},
	}, top)

	beta := all
	beta.ClientID = "mis-beta"
	rows = nil
	require.NoError(t, src.DailyCounts(ctx, beta, func(r ports.DailyCount) error { rows = append(rows, r); return nil }))
	require.Equal(t, []ports.DailyCount{{Day: day1, ClientID: "mis-beta", Status: domain.StatusFailed, Jobs: 3}}, rows)
}

// Durations runs the contract of ports.DurationSource.
func Durations(t *testing.T, newRepo Factory) {
	ctx := context.Background()
	t.Run("RecentDurationsNewestDoneFirst", func(t *testing.T) {
		t.Parallel()
		repo := newRepo(t)
		src, ok := repo.(ports.DurationSource)
		require.True(t, ok, "%T must implement ports.DurationSource", repo)
		for i, took := range []time.Duration{3 * time.Second, 5 * time.Second, 7 * time.Second} {
			j := newJob(t, "mis-alpha")
			create(t, repo, j)
			_, _, err := repo.Finish(ctx, j.ID, mustDone(t, "/c", t0.Add(took).Add(time.Duration(i)*time.Hour)))
			require.NoError(t, err)
		}
		failed := newJob(t, "mis-alpha")
		create(t, repo, failed)
		_, _, err := repo.Finish(ctx, failed.ID, mustFailed(t, 500, "x", t0.Add(48*time.Hour)))
		require.NoError(t, err)

		got, err := src.RecentDurations(ctx, 2)
		require.NoError(t, err)
		// Finished at t0+7s+2h and t0+5s+1h: durations from the shared creation time t0.
		require.Equal(t, []time.Duration{7*time.Second + 2*time.Hour, 5*time.Second + time.Hour}, got)
	})
}

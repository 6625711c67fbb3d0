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
		require.NoError(t, repo.Create(ctx, j))
		got, err := repo.Get(ctx, j.ID)
		require.NoError(t, err)
		require.Equal(t, j, got)
	})

	t.Run("CreateDuplicateIsRejected", func(t *testing.T) {
		t.Parallel()
		repo := newRepo(t)
		j := newJob(t, "mis-alpha")
		require.NoError(t, repo.Create(ctx, j))
		j2 := newJob(t, "mis-beta")
		j2.ID = j.ID
		require.ErrorIs(t, repo.Create(ctx, j2), domain.ErrAlreadyExists)
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
		require.NoError(t, repo.Create(ctx, j))
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
		require.NoError(t, repo.Create(ctx, j))
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
			require.NoError(t, repo.Create(ctx, j))
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

	t.Run("RecentDurationsNewestDoneFirst", func(t *testing.T) {
		t.Parallel()
		repo := newRepo(t)
		src, ok := repo.(ports.DurationSource)
		if !ok {
			t.Skip("repository does not report durations")
		}
		for i, took := range []time.Duration{3 * time.Second, 5 * time.Second, 7 * time.Second} {
			j := newJob(t, "mis-alpha")
			require.NoError(t, repo.Create(ctx, j))
			_, _, err := repo.Finish(ctx, j.ID, mustDone(t, "/c", t0.Add(took).Add(time.Duration(i)*time.Hour)))
			require.NoError(t, err)
		}
		failed := newJob(t, "mis-alpha")
		require.NoError(t, repo.Create(ctx, failed))
		_, _, err := repo.Finish(ctx, failed.ID, mustFailed(t, 500, "x", t0.Add(48*time.Hour)))
		require.NoError(t, err)

		got, err := src.RecentDurations(ctx, 2)
		require.NoError(t, err)
		// Finished at t0+7s+2h and t0+5s+1h: durations from the shared creation time t0.
		require.Equal(t, []time.Duration{7*time.Second + 2*time.Hour, 5*time.Second + time.Hour}, got)
	})

	t.Run("RacingOutcomesHaveExactlyOneWinner", func(t *testing.T) {
		t.Parallel()
		repo := newRepo(t)
		const jobs, workers = 8, 16
		ids := make([]domain.ID, jobs)
		for i := range ids {
			j := newJob(t, "mis-alpha")
			require.NoError(t, repo.Create(ctx, j))
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

package contract

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
)

// logStore is a repository with its change log, as the feed and the read
// model use it.
type logStore interface {
	ports.JobRepository
	ports.JobMaintenance
	ports.ChangeLog
	ports.SnapshotReader
	ports.EventLog
	ports.JobLister
}

// ChangeLog runs the contract of ports.ChangeLog and ports.SnapshotReader
// (and the EventLog's view of the same log): every write of the
// repository is one entry at a growing position, at or above the version
// of the job it left (PostgreSQL takes the version first and the position
// at the end of the statement, in commit order; the memory store takes
// both at once); a read says the position it was read at.
func ChangeLog(t *testing.T, newRepo Factory) {
	ctx := context.Background()
	setup := func(t *testing.T) logStore {
		t.Helper()
		repo := newRepo(t)
		s, ok := repo.(logStore)
		require.True(t, ok, "%T must implement the change log's ports", repo)
		return s
	}
	changes := func(t *testing.T, s logStore, after int64) []ports.Change {
		t.Helper()
		cs, _, err := s.ChangesAfter(ctx, after, 1000)
		require.NoError(t, err)
		last := after
		for _, c := range cs {
			require.Greater(t, c.Position, last, "in position order")
			last = c.Position
		}
		head, err := s.LastPosition(ctx)
		require.NoError(t, err)
		require.Equal(t, last, head, "the head is the last change")
		return cs
	}
	// requirePut checks that c is a put leaving the job as the store now
	// has it.
	requirePut := func(t *testing.T, s logStore, c ports.Change, event bool) {
		t.Helper()
		require.Equal(t, ports.ChangePut, c.Op)
		require.Equal(t, event, c.Event)
		require.LessOrEqual(t, c.Job.Version, c.Position, "a put's version is taken no later than its position")
		now, err := s.Get(ctx, c.ID)
		require.NoError(t, err)
		require.Equal(t, now, c.Job)
	}

	t.Run("CreateAndFinishArePutsOfTheirVersions", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		j := newJob(t, "mis-alpha")
		created, _, err := s.Create(ctx, j)
		require.NoError(t, err)
		cs := changes(t, s, 0)
		require.Len(t, cs, 1)
		require.Equal(t, created.Version, cs[0].Job.Version)
		requirePut(t, s, cs[0], true)

		done, _, err := s.Finish(ctx, j.ID, mustDone(t, "/c", t0.Add(time.Minute)))
		require.NoError(t, err)
		cs = changes(t, s, cs[0].Position)
		require.Len(t, cs, 1)
		require.Equal(t, done.Version, cs[0].Job.Version)
		require.Greater(t, done.Version, created.Version, "a job's versions grow")
		requirePut(t, s, cs[0], true)
	})

	t.Run("RepeatedCreateAndFinishLogNothing", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		j := newJob(t, "mis-alpha")
		j.IdempotencyKey = "k"
		for range 2 {
			again := j
			again.ID = domain.NewID() // a repeated request: the same key, another id
			_, _, err := s.Create(ctx, again)
			require.NoError(t, err)
		}
		stored, err := s.ListJobs(ctx, ports.JobListQuery{ClientID: "mis-alpha", Limit: 10})
		require.NoError(t, err)
		require.Len(t, stored, 1)
		for range 2 {
			_, _, err = s.Finish(ctx, stored[0].Job.ID, mustDone(t, "/c", t0.Add(time.Minute)))
			require.NoError(t, err)
		}
		cs := changes(t, s, 0)
		require.Len(t, cs, 2, "one creation, one status change")
		requirePut(t, s, cs[1], true)
	})

	t.Run("SweepIsAStatusChange", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		j := jobAt(t, "mis-alpha", t0.Add(-2*time.Hour))
		create(t, s, j)
		head := changes(t, s, 0)[0].Position
		n, err := s.FailPendingCreatedBefore(ctx, t0.Add(-time.Hour), domain.TimedOut(t0), 10)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		cs := changes(t, s, head)
		require.Len(t, cs, 1)
		requirePut(t, s, cs[0], true)
		require.Equal(t, domain.StatusFailed, cs[0].Job.Status)
	})

	t.Run("PurgeIsADeleteWithTheOwner", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		j := newJob(t, "mis-alpha")
		create(t, s, j)
		_, _, err := s.Finish(ctx, j.ID, mustDone(t, "/c", t0.Add(time.Minute)))
		require.NoError(t, err)
		head := changes(t, s, 0)[1].Position
		n, err := s.DeleteFinishedBefore(ctx, t0.Add(time.Hour), 10)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		cs := changes(t, s, head)
		require.Len(t, cs, 1)
		got := cs[0]
		got.Job = got.Job.Normalize() // a store may give an empty or a nil list of links
		require.Equal(t, ports.Change{Position: got.Position, Op: ports.ChangeDelete, ID: j.ID,
			Job: domain.Job{ID: j.ID, ClientID: "mis-alpha"}.Normalize()}, got)

		events, err := s.EventsAfter(ctx, "", 0, 10)
		require.NoError(t, err)
		require.Len(t, events, 2, "the stream shows the creation and the status change, not the purge")
	})

	t.Run("ChangesAfterReadsInBoundedBatches", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		var want []domain.ID
		for range 5 {
			j := newJob(t, "mis-alpha")
			create(t, s, j)
			want = append(want, j.ID)
		}
		var got []domain.ID
		after := int64(0)
		for {
			cs, _, err := s.ChangesAfter(ctx, after, 2)
			require.NoError(t, err)
			require.LessOrEqual(t, len(cs), 2)
			if len(cs) == 0 {
				break
			}
			for _, c := range cs {
				got = append(got, c.ID)
				after = c.Position
			}
		}
		require.Equal(t, want, got)
	})

	t.Run("ChangesComeWithTheHorizon", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		for range 3 {
			create(t, s, newJob(t, "mis-alpha"))
		}
		cs, horizon, err := s.ChangesAfter(ctx, 0, 10)
		require.NoError(t, err)
		require.Len(t, cs, 3)
		require.Zero(t, horizon, "nothing retained away yet")

		n, err := s.DeleteEventsBefore(ctx, time.Now().Add(time.Hour), 1)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		want, err := s.Horizon(ctx)
		require.NoError(t, err)
		require.Equal(t, cs[0].Position, want)
		rest, horizon, err := s.ChangesAfter(ctx, 0, 10)
		require.NoError(t, err)
		require.Equal(t, cs[1:], rest)
		require.Equal(t, want, horizon, "a reader from 0 learns that retention took changes")
		none, horizon, err := s.ChangesAfter(ctx, cs[2].Position, 10)
		require.NoError(t, err)
		require.Empty(t, none)
		require.Equal(t, want, horizon, "with no change to read too")
	})

	t.Run("GetAtSaysItsPosition", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		_, at, err := s.GetAt(ctx, domain.NewID())
		require.ErrorIs(t, err, domain.ErrNotFound)
		require.Zero(t, at, "nothing logged yet")

		j := newJob(t, "mis-alpha")
		create(t, s, j)
		other := newJob(t, "mis-beta")
		create(t, s, other)
		head, err := s.LastPosition(ctx)
		require.NoError(t, err)
		got, at, err := s.GetAt(ctx, j.ID)
		require.NoError(t, err)
		want, err := s.Get(ctx, j.ID)
		require.NoError(t, err)
		require.Equal(t, want, got)
		require.Equal(t, head, at, "read at the head, past the job's own version")
		require.Less(t, got.Version, at)

		_, at, err = s.GetAt(ctx, domain.NewID())
		require.ErrorIs(t, err, domain.ErrNotFound)
		require.Equal(t, head, at, "a job not there is not there at a position too")
	})
}

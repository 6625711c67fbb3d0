package jobcache_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/adapters/jobcache"
	"github.com/jobstatus/jobstatus/adapters/memory"
	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
)

// flood404 polls n ids that do not exist (each leaves a tombstone).
func flood404(t *testing.T, repo *jobcache.Repository, n int) {
	t.Helper()
	for range n {
		_, err := repo.Get(context.Background(), domain.NewID())
		require.ErrorIs(t, err, domain.ErrNotFound)
	}
}

// TestALateNotificationAfterItsTombstoneWasDropped: the store already
// shows v2, the notifications of v1 and v2 are on their way (in order). P1 is answered v2. The job's entry is pushed out
// and its tombstone dropped (1100 polls of ids that do not exist). Then
// v1's notification arrives: with nothing left of the job, it is older
// than the tombstone dropped in its bucket, so it is not kept, and P2
// (begun after P1's answer) is answered v2.
func TestALateNotificationAfterItsTombstoneWasDropped(t *testing.T) {
	for _, tc := range []struct {
		name string
		// after P1: how the job's entry disappears
		evict bool
	}{{"evicted then dropped", true}, {"refused fill tombstone dropped", false}} {
		t.Run(tc.name, func(t *testing.T) {
			m, s, repo := newLagRepo(t, 1, true)
			id := domain.NewID()
			v1, v2 := pendingJob(id, 1), doneJob(id, 2)
			s.set(id, &v2) // v1 and v2 committed; neither notification arrived

			var a got
			if tc.evict {
				a = <-goGet(repo, id) // P1, kept
			} else {
				flood404(t, repo, 1100) // tombstones at their bound
				rel, read := s.hold(1101, true)
				p1 := goGet(repo, id)
				<-read
				flood404(t, repo, 1) // one tombstone dropped while P1 reads: its fill is refused
				close(rel)
				a = <-p1
			}
			require.NoError(t, a.err)
			require.EqualValues(t, 2, a.job.Version)
			if tc.evict {
				y := pendingJob(domain.NewID(), 3)
				s.set(y.ID, &y)
				_, err := repo.Get(context.Background(), y.ID) // pushes id out: tombstone floor 2
				require.NoError(t, err)
			}
			flood404(t, repo, 1100) // id's tombstone is dropped

			m.Changed(ports.JobChange{ID: id, Version: 1, Job: &v1}) // late, in order
			b := <-goGet(repo, id)                                   // P2
			m.Changed(ports.JobChange{ID: id, Version: 2, Job: &v2})
			require.NoError(t, b.err)
			require.GreaterOrEqual(t, b.job.Version, a.job.Version,
				"P2 (begun after P1 answered %s v%d) answered %s v%d", a.job.Status, a.job.Version, b.job.Status, b.job.Version)
		})
	}
}

// downLagStore is a lagStore that can be made unreachable.
type downLagStore struct {
	*lagStore
	down atomic.Bool
}

func (s *downLagStore) Get(ctx context.Context, id domain.ID) (domain.Job, error) {
	if s.down.Load() {
		return domain.Job{}, domain.ErrUnavailable
	}
	return s.lagStore.Get(ctx, id)
}

// TestFallbackGoesWithALiveReadsAnswer: a poll A begun while live reads
// 404 (the job was purged; its notification is late), then the listener
// drops (Live(false)) before A's answer is recorded: the fallback was
// taken with the job DONE (its DONE notification had arrived meanwhile).
// A's answer drops the fallback, so when the store goes away B, begun
// after A answered 404, is not answered DONE.
func TestFallbackGoesWithALiveReadsAnswer(t *testing.T) {
	m, err := jobcache.NewModel(jobcache.Config{MaxEntries: 10, MaxBytes: 1 << 20, Live: true})
	require.NoError(t, err)
	s := &downLagStore{lagStore: newLagStore()}
	repo, err := jobcache.New(s, m)
	require.NoError(t, err)
	id := domain.NewID()
	done := doneJob(id, 5) // store: created, finished, purged (v6); notifications late

	rel, read := s.hold(1, true)
	pa := goGet(repo, id) // A: miss, reads 404, slow to come back
	<-read
	m.Changed(ports.JobChange{ID: id, Version: 5, Job: &done}) // DONE's notification arrives
	m.Live(false)                                              // listener lost: fallback {id: DONE}
	close(rel)
	a := <-pa
	require.ErrorIs(t, a.err, domain.ErrNotFound, "A")

	s.down.Store(true)
	b := <-goGet(repo, id)
	require.Error(t, b.err, "B (begun after A answered 404) answered %s v%d", b.job.Status, b.job.Version)
}

// TestMemoryStorePublishesOutOfOrder: the same with the memory store
// alone (no listener, nothing lost): Create's publish (outside the store's
// lock) is descheduled; Finish publishes v2, which is cached and polled
// (P1 DONE). The job is pushed out and its tombstone dropped by 404 polls;
// then Create's publish runs, and P2 is still answered DONE.
func TestMemoryStorePublishesOutOfOrder(t *testing.T) {
	ctx := context.Background()
	m, err := jobcache.NewModel(jobcache.Config{MaxEntries: 1, MaxBytes: 1 << 20, Live: true})
	require.NoError(t, err)
	gate := make(chan struct{})
	var gated atomic.Bool
	mem := memory.NewJobs(memory.OnChange(func(c ports.JobChange) {
		if c.Job != nil && c.Job.Status == domain.StatusPending && c.Job.ClientID == "late" && gated.CompareAndSwap(false, true) {
			<-gate // the creating goroutine is descheduled before publishing
		}
		m.Changed(c)
	}))
	repo, err := jobcache.New(mem, m)
	require.NoError(t, err)
	now := time.Now()
	x, err := domain.New(domain.NewParams{ID: domain.NewID(), ClientID: "late", ETA: now, Now: now})
	require.NoError(t, err)
	created := make(chan struct{})
	go func() { defer close(created); _, _, _ = mem.Create(ctx, x) }()
	require.Eventually(t, func() bool { _, err := mem.Get(ctx, x.ID); return err == nil }, 5*time.Second, time.Millisecond)
	o, err := domain.Done([]domain.Link{{Entity: "composition", Href: "/x"}}, now)
	require.NoError(t, err)
	_, _, err = mem.Finish(ctx, x.ID, o) // publishes v2 at once
	require.NoError(t, err)
	a, err := repo.Get(ctx, x.ID) // P1: hit, DONE
	require.NoError(t, err)
	y, err := domain.New(domain.NewParams{ID: domain.NewID(), ClientID: "c", ETA: now, Now: now})
	require.NoError(t, err)
	_, _, err = mem.Create(ctx, y) // pushes x out (MaxEntries 1)
	require.NoError(t, err)
	flood404(t, repo, 1100) // x's tombstone dropped
	close(gate)
	<-created
	b, err := repo.Get(ctx, x.ID) // P2
	require.NoError(t, err)
	require.Equal(t, domain.StatusDone, b.Status, "P2 (after P1 answered %s v%d) answered %s v%d", a.Status, a.Version, b.Status, b.Version)
}

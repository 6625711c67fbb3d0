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

// TestAStaleChangeLetsNoLaterStaleRowIn: a late notification judged stale
// (older than its bucket's dropped floor) leaves a tombstone at its own
// version; the next late notification, also older than what was served,
// is not kept as a row either.
func TestAStaleChangeLetsNoLaterStaleRowIn(t *testing.T) {
	m, s, repo := newLagRepo(t, 1, true)
	id := domain.NewID()
	v1, v2, v3 := pendingJob(id, 1), pendingJob(id, 2), doneJob(id, 3)
	s.set(id, &v3) // v1, v2, v3 committed; notifications on their way, in order

	a := <-goGet(repo, id) // P1: DONE v3, kept
	require.NoError(t, a.err)
	require.EqualValues(t, 3, a.job.Version)
	y := pendingJob(domain.NewID(), 4)
	s.set(y.ID, &y)
	_, err := repo.Get(context.Background(), y.ID) // pushes id out: tombstone floor 3
	require.NoError(t, err)
	flood404(t, repo, 1100) // id's tombstone dropped: dropFloor of its bucket >= 3

	m.Changed(ports.JobChange{ID: id, Version: 1, Job: &v1}) // stale: tombstone(id, 1)
	m.Changed(ports.JobChange{ID: id, Version: 2, Job: &v2}) // 2 >= 1: kept as a row
	b := <-goGet(repo, id)                                   // P2
	m.Changed(ports.JobChange{ID: id, Version: 3, Job: &v3})
	require.NoError(t, b.err)
	require.GreaterOrEqual(t, b.job.Version, a.job.Version,
		"P2 (begun after P1 answered %s v%d) answered %s v%d", a.job.Status, a.job.Version, b.job.Status, b.job.Version)
}

// TestANotFoundTombstoneKeepsTheDroppedFloor: a 404 answered for a job
// with no entry leaves a tombstone; the job's late PENDING notification,
// older than the job's dropped tombstone, is still not kept though the job
// now has an entry (it was answered DONE, then 404).
func TestANotFoundTombstoneKeepsTheDroppedFloor(t *testing.T) {
	m, s, repo := newLagRepo(t, 1, true)
	id := domain.NewID()
	v1, v2 := pendingJob(id, 1), doneJob(id, 2)
	s.set(id, &v2) // created, finished; notifications late

	a := <-goGet(repo, id) // P0: DONE v2
	require.NoError(t, a.err)
	y := pendingJob(domain.NewID(), 3)
	s.set(y.ID, &y)
	_, err := repo.Get(context.Background(), y.ID) // pushes id out
	require.NoError(t, err)
	flood404(t, repo, 1100) // id's tombstone dropped (dropFloor >= 2)

	s.set(id, nil) // purged (v4), its notification late too
	p1 := <-goGet(repo, id)
	require.ErrorIs(t, p1.err, domain.ErrNotFound) // P1: 404 -> tombstone(id, 0)

	m.Changed(ports.JobChange{ID: id, Version: 1, Job: &v1}) // late; e != nil so no stale check
	b := <-goGet(repo, id)                                   // P2
	require.ErrorIs(t, b.err, domain.ErrNotFound,
		"P2 (after P0 DONE v2 and P1 404) answered %s v%d", b.job.Status, b.job.Version)
}

// TestLateNotificationsAfterTheModelForgot: Live(false) and Live(true) in
// the middle of the stream (the listener does that on a TRUNCATE or an
// unreadable notification, and goes on delivering what is queued behind
// it) forget every entry; a queued notification of an older state than
// one already answered is not kept as a row.
func TestLateNotificationsAfterTheModelForgot(t *testing.T) {
	m, s, repo := newLagRepo(t, 10, true)
	id := domain.NewID()
	v1, v2 := pendingJob(id, 1), doneJob(id, 2)
	s.set(id, &v2) // committed after the unreadable notification's commit

	a := <-goGet(repo, id) // P1: DONE v2 (filled)
	require.NoError(t, a.err)
	m.Live(false) // unreadable notification processed
	m.Live(true)
	m.Changed(ports.JobChange{ID: id, Version: 1, Job: &v1}) // next in the stream
	b := <-goGet(repo, id)                                   // P2
	require.NoError(t, b.err)
	require.GreaterOrEqual(t, b.job.Version, a.job.Version,
		"P2 (begun after P1 answered %s v%d) answered %s v%d", a.job.Status, a.job.Version, b.job.Status, b.job.Version)
}

// TestLateNotificationsAfterReadingThrough: the same through the
// read-through window (between LISTEN and Live(true) reads go to the store):
// a change committed before what a read-through answered, notified after
// Live(true), is not kept as a row.
func TestLateNotificationsAfterReadingThrough(t *testing.T) {
	m, s, repo := newLagRepo(t, 10, false)
	id := domain.NewID()
	v1, v2 := pendingJob(id, 1), doneJob(id, 2)
	s.set(id, &v2) // v1, v2 committed after LISTEN

	a := <-goGet(repo, id) // P1, read through: DONE v2
	require.NoError(t, a.err)
	m.Live(true)
	m.Changed(ports.JobChange{ID: id, Version: 1, Job: &v1})
	b := <-goGet(repo, id)
	require.NoError(t, b.err)
	require.GreaterOrEqual(t, b.job.Version, a.job.Version,
		"P2 (begun after P1 answered %s v%d) answered %s v%d", a.job.Status, a.job.Version, b.job.Status, b.job.Version)
}

// TestMemoryStorePurgeThenLateCreate: the same with the memory store alone
// (no listener, nothing lost): the publishes of Create and of the purge are
// descheduled; after DONE and then 404, the late Create's PENDING row is
// not kept.
func TestMemoryStorePurgeThenLateCreate(t *testing.T) {
	ctx := context.Background()
	m, err := jobcache.NewModel(jobcache.Config{MaxEntries: 1, MaxBytes: 1 << 20, Live: true})
	require.NoError(t, err)
	createGate, purgeGate := make(chan struct{}), make(chan struct{})
	var createGated, purgeGated atomic.Bool
	mem := memory.NewJobs(memory.OnChange(func(c ports.JobChange) {
		if c.Job != nil && c.Job.Status == domain.StatusPending && c.Job.ClientID == "late" && createGated.CompareAndSwap(false, true) {
			<-createGate
		}
		if c.Deleted && purgeGated.CompareAndSwap(false, true) {
			<-purgeGate
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
	_, _, err = mem.Finish(ctx, x.ID, o)
	require.NoError(t, err)
	a, err := repo.Get(ctx, x.ID) // P0: DONE
	require.NoError(t, err)
	y, err := domain.New(domain.NewParams{ID: domain.NewID(), ClientID: "c", ETA: now, Now: now})
	require.NoError(t, err)
	_, _, err = mem.Create(ctx, y) // pushes x out
	require.NoError(t, err)
	flood404(t, repo, 1100) // x's tombstone dropped
	purged := make(chan struct{})
	go func() { defer close(purged); _, _ = mem.DeleteFinishedBefore(ctx, now.Add(time.Hour), 10) }()
	require.Eventually(t, func() bool { _, err := mem.Get(ctx, x.ID); return err != nil }, 5*time.Second, time.Millisecond)
	_, err = repo.Get(ctx, x.ID) // P1: 404
	require.ErrorIs(t, err, domain.ErrNotFound)
	close(createGate)
	<-created
	b, err := repo.Get(ctx, x.ID) // P2
	close(purgeGate)
	<-purged
	require.ErrorIs(t, err, domain.ErrNotFound, "P2 (after P0 %s v%d, P1 404) answered %s v%d", a.Status, a.Version, b.Status, b.Version)
}

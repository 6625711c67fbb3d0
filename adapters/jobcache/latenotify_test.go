package jobcache_test

// Late notifications: the store already shows a change whose notification
// has not reached the model yet (PostgreSQL's NOTIFY after the commit, the
// memory store's publish after its lock). No poll may then be answered an
// older state than a poll that completed before it began.

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/adapters/jobcache"
	"github.com/jobstatus/jobstatus/adapters/memory"
	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
)

// lagStore holds one state per job and applies changes at once, like a
// database commit; the change's notification is delivered separately (by
// the test), as PostgreSQL's NOTIFY and the memory store's publish (made
// outside its lock) are. Reads can be held before or after they read.
type lagStore struct {
	mu     sync.Mutex
	jobs   map[domain.ID]*domain.Job // nil: not found (deleted)
	reads  atomic.Int64
	before map[int64]chan struct{} // read n waits on it before reading
	after  map[int64]chan struct{} // read n waits on it after reading
	read   map[int64]chan struct{} // closed when read n has read
}

func newLagStore() *lagStore {
	return &lagStore{jobs: map[domain.ID]*domain.Job{}, before: map[int64]chan struct{}{},
		after: map[int64]chan struct{}{}, read: map[int64]chan struct{}{}}
}

// hold makes read n wait before (or after) reading until the returned
// channel is closed; the second channel is closed once it has read.
func (s *lagStore) hold(n int64, afterRead bool) (release, hasRead chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	release, hasRead = make(chan struct{}), make(chan struct{})
	if afterRead {
		s.after[n] = release
	} else {
		s.before[n] = release
	}
	s.read[n] = hasRead
	return release, hasRead
}

// newLagRepo returns a model bounded to maxEntries (and 1 MiB), a lagStore
// and the repository of both.
func newLagRepo(t *testing.T, maxEntries int, live bool) (*jobcache.Model, *lagStore, *jobcache.Repository) {
	t.Helper()
	m, err := jobcache.NewModel(jobcache.Config{MaxEntries: maxEntries, MaxBytes: 1 << 20, Live: live})
	require.NoError(t, err)
	s := newLagStore()
	repo, err := jobcache.New(s, m)
	require.NoError(t, err)
	return m, s, repo
}

func (s *lagStore) set(id domain.ID, j *domain.Job) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jobs[id] = j
}

func (s *lagStore) Get(_ context.Context, id domain.ID) (domain.Job, error) {
	n := s.reads.Add(1)
	s.mu.Lock()
	before, after, hasRead := s.before[n], s.after[n], s.read[n]
	s.mu.Unlock()
	if before != nil {
		<-before
	}
	s.mu.Lock()
	j := s.jobs[id]
	s.mu.Unlock()
	if hasRead != nil {
		close(hasRead)
	}
	if after != nil {
		<-after
	}
	if j == nil {
		return domain.Job{}, domain.ErrNotFound
	}
	return *j, nil
}

func (s *lagStore) Create(context.Context, domain.Job) (domain.Job, bool, error) {
	return domain.Job{}, false, errors.New("not used")
}

func (s *lagStore) Finish(context.Context, domain.ID, domain.Outcome) (domain.Job, bool, error) {
	return domain.Job{}, false, errors.New("not used")
}

type got struct {
	job domain.Job
	err error
}

func goGet(repo *jobcache.Repository, id domain.ID) chan got {
	ch := make(chan got, 1)
	go func() { j, err := repo.Get(context.Background(), id); ch <- got{j, err} }()
	return ch
}

func doneJob(id domain.ID, version int64) domain.Job {
	j := pendingJob(id, version)
	j.Status = domain.StatusDone
	j.Links = []domain.Link{{Entity: "composition", Href: "/x"}}
	return j
}

// TestFallbackGoesOnceTheStoreAnswers: notifications are down
// (Live(false)), the store still answers; the job is purged and a poll
// answers 404. Then the store becomes unreachable: the next poll must not
// answer the purged job as DONE.
func TestFallbackGoesOnceTheStoreAnswers(t *testing.T) {
	ctx := context.Background()
	b := setup(t, bounds)
	done := b.finish(t, b.create(t).ID)
	_, err := b.repo.Get(ctx, done.ID) // cached (DONE)
	require.NoError(t, err)

	b.model.Live(false) // listener connection lost; the pool still works
	_, err = b.mem.DeleteFinishedBefore(ctx, b.now.Add(time.Hour), 10)
	require.NoError(t, err)
	_, err = b.repo.Get(ctx, done.ID)
	require.ErrorIs(t, err, domain.ErrNotFound, "poll 1: the store says it is purged")

	b.store.down.Store(true) // then the database goes away too
	j, err := b.repo.Get(ctx, done.ID)
	require.Error(t, err, "poll 2 (after poll 1 answered 404) answered %s version %d", j.Status, j.Version)
}

// TestLateNotifications: a poll P1 looks up its job, then reads it from the
// store only after an older read G of the same job has read it (and G is
// slow to come back); in between, a newer state is committed whose
// notification has not arrived. P1 is answered the newer state (or 404,
// for a purge), the model cannot keep it; then G comes back, and a poll P2
// begun after P1's answer (or while G is still in flight, joining) must not
// be answered the older state.
func TestLateNotifications(t *testing.T) {
	for _, tc := range []struct {
		name       string
		maxEntries int
		before     func(id domain.ID) domain.Job
		// between runs after P1's lookup and before G's.
		between func(m *jobcache.Model, id domain.ID)
		newer   func(id domain.ID) *domain.Job // nil: purged
		// joining: P2 begins while G is in flight.
		joining bool
	}{
		{
			name: "fill refused: the listener reconnected", maxEntries: 10,
			before:  func(id domain.ID) domain.Job { return pendingJob(id, 1) },
			between: func(m *jobcache.Model, _ domain.ID) { m.Live(false); m.Live(true) },
			newer:   func(id domain.ID) *domain.Job { j := doneJob(id, 2); return &j },
		},
		{
			name: "fill refused: the listener reconnected, joining", maxEntries: 10, joining: true,
			before:  func(id domain.ID) domain.Job { return pendingJob(id, 1) },
			between: func(m *jobcache.Model, _ domain.ID) { m.Live(false); m.Live(true) },
			newer:   func(id domain.ID) *domain.Job { j := doneJob(id, 2); return &j },
		},
		{
			name: "fill refused: tombstones dropped", maxEntries: 1,
			before: func(id domain.ID) domain.Job { return pendingJob(id, 1) },
			between: func(m *jobcache.Model, _ domain.ID) {
				// Other jobs come and go: enough tombstones are dropped that
				// some share the job's bucket (all but surely: each of the
				// 4 096 buckets misses 49 000 drops with odds of e^-12).
				for i := range 50_000 {
					o := pendingJob(domain.NewID(), int64(100+i))
					m.Changed(ports.JobChange{ID: o.ID, Version: o.Version, Job: &o})
				}
			},
			newer: func(id domain.ID) *domain.Job { j := doneJob(id, 100_000); return &j },
		},
		{
			name: "purged after a change without its row", maxEntries: 10,
			before: func(id domain.ID) domain.Job { return doneJob(id, 5) },
			between: func(m *jobcache.Model, id domain.ID) {
				m.Changed(ports.JobChange{ID: id, Version: 5}) // tombstone at 5
			},
			newer: func(domain.ID) *domain.Job { return nil },
		},
		{
			name: "purged after an eviction", maxEntries: 1,
			before: func(id domain.ID) domain.Job { return doneJob(id, 5) },
			between: func(m *jobcache.Model, id domain.ID) {
				j := doneJob(id, 5)
				m.Changed(ports.JobChange{ID: id, Version: 5, Job: &j})
				other := pendingJob(domain.NewID(), 6)
				m.Changed(ports.JobChange{ID: other.ID, Version: 6, Job: &other}) // pushes it out
			},
			newer: func(domain.ID) *domain.Job { return nil },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, s, repo := newLagRepo(t, tc.maxEntries, true)
			id := domain.NewID()
			old := tc.before(id)
			s.set(id, &old)

			rel1, _ := s.hold(1, false) // P1 looks up now, reads later
			p1 := goGet(repo, id)
			require.Eventually(t, func() bool { return s.reads.Load() == 1 }, 5*time.Second, time.Millisecond)
			tc.between(m, id)
			rel2, read2 := s.hold(2, true) // G reads the older state now, comes back later
			g := goGet(repo, id)
			<-read2
			newer := tc.newer(id)
			s.set(id, newer) // committed; its notification is on its way

			// answeredNewer checks an answer is the newer state, or later.
			answeredNewer := func(who string, a got) {
				t.Helper()
				if newer == nil {
					require.ErrorIs(t, a.err, domain.ErrNotFound, "%s answered %s v%d", who, a.job.Status, a.job.Version)
					return
				}
				require.NoError(t, a.err)
				require.GreaterOrEqual(t, a.job.Version, newer.Version, "%s", who)
			}
			close(rel1)
			answeredNewer("P1", <-p1)
			var p2 chan got
			if tc.joining {
				p2 = goGet(repo, id)
				time.Sleep(50 * time.Millisecond) // time to join G, if it could
			}
			close(rel2)
			<-g
			if !tc.joining {
				p2 = goGet(repo, id)
			}
			answeredNewer("P2, begun after P1's answer,", <-p2)
		})
	}
}

// heldRepo delegates to a real store; read n can be held before or after
// it reads (a slow query, a descheduled goroutine).
type heldRepo struct {
	ports.JobRepository
	reads  atomic.Int64
	mu     sync.Mutex
	before map[int64]chan struct{}
	after  map[int64]chan struct{}
	read   map[int64]chan struct{}
}

func (h *heldRepo) hold(n int64, afterRead bool) (release, hasRead chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	release, hasRead = make(chan struct{}), make(chan struct{})
	if afterRead {
		h.after[n] = release
	} else {
		h.before[n] = release
	}
	h.read[n] = hasRead
	return release, hasRead
}

func (h *heldRepo) Get(ctx context.Context, id domain.ID) (domain.Job, error) {
	n := h.reads.Add(1)
	h.mu.Lock()
	before, after, hasRead := h.before[n], h.after[n], h.read[n]
	h.mu.Unlock()
	if before != nil {
		<-before
	}
	j, err := h.JobRepository.Get(ctx, id)
	if hasRead != nil {
		close(hasRead)
	}
	if after != nil {
		<-after
	}
	return j, err
}

// TestLateNotificationMemoryStoreFinish: the real memory store (which
// publishes its changes outside its lock), real Create/Finish, no
// notification lost: only the Finish's publish is late by a scheduling
// delay, and a read's fill is refused because unrelated tombstones were
// dropped meanwhile. A poll answered DONE is followed by one answered
// PENDING.
func TestLateNotificationMemoryStoreFinish(t *testing.T) {
	ctx := context.Background()
	m, err := jobcache.NewModel(jobcache.Config{MaxEntries: 1, MaxBytes: 1 << 20, Live: true})
	require.NoError(t, err)
	var lateID atomic.Value
	lateID.Store(domain.ID(""))
	publishGate := make(chan struct{})
	mem := memoryWithGate(m, &lateID, publishGate)
	h := &heldRepo{JobRepository: mem, before: map[int64]chan struct{}{}, after: map[int64]chan struct{}{}, read: map[int64]chan struct{}{}}
	repo, err := jobcache.New(h, m)
	require.NoError(t, err)
	now := time.Now()
	newJob := func() domain.Job {
		j, err := domain.New(domain.NewParams{ID: domain.NewID(), ClientID: "c", ETA: now, Now: now})
		require.NoError(t, err)
		j, _, err = mem.Create(ctx, j)
		require.NoError(t, err)
		return j
	}
	x := newJob()
	for range 1100 { // x is pushed out, its tombstone dropped
		newJob()
	}

	rel1, _ := h.hold(1, false) // P1 looks up x now; its query runs later
	p1 := goGet(repo, x.ID)
	require.Eventually(t, func() bool { return h.reads.Load() == 1 }, 5*time.Second, time.Millisecond)
	for range 50_000 { // more jobs come: tombstones dropped, some in x's bucket (odds e^-12 of none)
		newJob()
	}
	rel2, read2 := h.hold(2, true) // G reads x PENDING, slow to come back
	g := goGet(repo, x.ID)
	<-read2

	lateID.Store(x.ID) // the Finish's publish (outside the store's lock) is descheduled
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		o, err := domain.Done([]domain.Link{{Entity: "composition", Href: "/x"}}, now)
		if err == nil {
			_, _, err = mem.Finish(ctx, x.ID, o)
		}
		if err != nil {
			t.Error(err)
		}
	}()
	require.Eventually(t, func() bool {
		j, err := mem.Get(ctx, x.ID)
		return err == nil && j.Status == domain.StatusDone
	}, 5*time.Second, time.Millisecond)

	close(rel1)
	a := <-p1
	require.NoError(t, a.err)
	require.Equal(t, domain.StatusDone, a.job.Status, "P1 answered DONE")
	close(rel2)
	<-g
	b := <-goGet(repo, x.ID)
	close(publishGate)
	<-finished
	require.NoError(t, b.err)
	require.Equal(t, domain.StatusDone, b.job.Status, "P2, after P1 answered DONE v%d, answered %s v%d", a.job.Version, b.job.Status, b.job.Version)
}

// memoryWithGate is the memory store publishing to m, except that the
// publish of a change of *late (once set) waits for gate.
func memoryWithGate(m *jobcache.Model, late *atomic.Value, gate chan struct{}) *memory.Jobs {
	return memory.NewJobs(memory.OnChange(func(c ports.JobChange) {
		if id := late.Load().(domain.ID); id != "" && c.ID == id {
			<-gate
		}
		m.Changed(c)
	}))
}

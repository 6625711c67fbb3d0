package jobcache_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/adapters/jobcache"
	"github.com/jobstatus/jobstatus/adapters/memory"
	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
	"github.com/jobstatus/jobstatus/test/contract"
)

// mustModel returns a live model of at most entries jobs and 1 MiB.
func mustModel(entries int) *jobcache.Model {
	m, err := jobcache.NewModel(jobcache.Config{MaxEntries: entries, MaxBytes: 1 << 20, Live: true})
	if err != nil {
		panic(err)
	}
	return m
}

func TestContract(t *testing.T) {
	t.Parallel()
	contract.JobRepository(t, func(*testing.T) ports.JobRepository {
		m := mustModel(100)
		r, err := jobcache.New(memory.NewJobs(memory.OnChange(m.Changed)), m)
		require.NoError(t, err)
		return r
	})
}

// countingRepo counts Gets that reach the store.
type countingRepo struct {
	ports.JobRepository
	gets atomic.Int64
	down atomic.Bool
}

func (c *countingRepo) Get(ctx context.Context, id domain.ID) (domain.Job, error) {
	c.gets.Add(1)
	if c.down.Load() {
		return domain.Job{}, domain.ErrUnavailable
	}
	return c.JobRepository.Get(ctx, id)
}

// testBundle is a memory store behind a read model, with the store's
// changes going to the model, as bootstrap wires them.
type testBundle struct {
	store *countingRepo
	mem   *memory.Jobs
	model *jobcache.Model
	repo  *jobcache.Repository
	now   time.Time
}

func setup(t *testing.T, cfg jobcache.Config, opts ...jobcache.Option) *testBundle {
	t.Helper()
	m, err := jobcache.NewModel(cfg)
	require.NoError(t, err)
	mem := memory.NewJobs(memory.OnChange(m.Changed))
	store := &countingRepo{JobRepository: mem}
	r, err := jobcache.New(store, m, opts...)
	require.NoError(t, err)
	return &testBundle{store: store, mem: mem, model: m, repo: r, now: time.Now()}
}

func (b *testBundle) create(t *testing.T) domain.Job {
	t.Helper()
	j, err := domain.New(domain.NewParams{ID: domain.NewID(), ClientID: "c", ETA: b.now, Now: b.now})
	require.NoError(t, err)
	j, _, err = b.mem.Create(context.Background(), j) // behind the cache's back: only the change tells it
	require.NoError(t, err)
	return j
}

func (b *testBundle) finish(t *testing.T, id domain.ID) domain.Job {
	t.Helper()
	o, err := domain.Done([]domain.Link{{Entity: "composition", Href: "/x"}}, b.now)
	require.NoError(t, err)
	j, _, err := b.mem.Finish(context.Background(), id, o)
	require.NoError(t, err)
	return j
}

var bounds = jobcache.Config{MaxEntries: 100, MaxBytes: 1 << 20, Live: true}

func TestEveryJobIsServedFromMemory(t *testing.T) {
	t.Parallel()
	b := setup(t, bounds)
	ctx := context.Background()
	pending, done := b.create(t), b.create(t)
	b.finish(t, done.ID)

	for range 3 {
		j, err := b.repo.Get(ctx, pending.ID)
		require.NoError(t, err)
		require.Equal(t, domain.StatusPending, j.Status)
		j, err = b.repo.Get(ctx, done.ID)
		require.NoError(t, err)
		require.Equal(t, domain.StatusDone, j.Status)
	}
	require.Zero(t, b.store.gets.Load(), "the changes brought both jobs: no read at all")

	b.store.down.Store(true)
	_, err := b.repo.Get(ctx, pending.ID)
	require.NoError(t, err, "served with the store down")
}

func TestChangesApplyByVersion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name   string
		change func(b *testBundle, old, cur domain.Job) ports.JobChange
		want   domain.Status // after the change; "" means not found
		reads  int64         // reads of the store the next Get costs
	}{
		{"OlderStateIsIgnored", func(_ *testBundle, old, cur domain.Job) ports.JobChange {
			return ports.JobChange{ID: old.ID, Version: old.Version, Job: &old}
		}, domain.StatusDone, 0},
		{"RepeatedChangeIsIgnored", func(_ *testBundle, _, cur domain.Job) ports.JobChange {
			return ports.JobChange{ID: cur.ID, Version: cur.Version, Job: &cur}
		}, domain.StatusDone, 0},
		{"NewerChangeWithoutStateIsReadOnce", func(_ *testBundle, _, cur domain.Job) ports.JobChange {
			return ports.JobChange{ID: cur.ID, Version: cur.Version + 1}
		}, domain.StatusDone, 1},
		{"DeleteEvictsAtOnce", func(b *testBundle, _, cur domain.Job) ports.JobChange {
			n, err := b.mem.DeleteFinishedBefore(ctx, b.now.Add(time.Hour), 10) // publishes the delete itself
			if err != nil || n != 1 {
				panic("purge did not delete the job")
			}
			return ports.JobChange{ID: cur.ID, Version: cur.Version - 1} // a stale one on top: ignored
		}, "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, bounds)
			old := b.create(t)
			cur := b.finish(t, old.ID)
			require.Greater(t, cur.Version, old.Version)
			b.model.Changed(tt.change(b, old, cur))
			before := b.store.gets.Load()
			j, err := b.repo.Get(ctx, old.ID)
			if tt.want == "" {
				require.ErrorIs(t, err, domain.ErrNotFound)
			} else {
				require.NoError(t, err)
				require.Equal(t, tt.want, j.Status)
			}
			require.Equal(t, tt.reads, b.store.gets.Load()-before)
		})
	}
}

func TestReadRacingAChangeNeverKeepsTheOlderState(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var b *testBundle
	var once sync.Once
	var id domain.ID
	b = setup(t, bounds, jobcache.BeforeFill(func(read domain.Job) {
		if read.Status != domain.StatusPending {
			return
		}
		// The read got PENDING; before it reaches the model, the job
		// finishes and its change (without state) is applied.
		once.Do(func() {
			done := b.finish(t, id)
			b.model.Changed(ports.JobChange{ID: id, Version: done.Version})
		})
	}))
	pending := b.create(t)
	id = pending.ID
	b.model.Live(false) // drop what the create's change brought
	b.model.Live(true)

	j, err := b.repo.Get(ctx, id)
	require.NoError(t, err)
	require.Equal(t, domain.StatusPending, j.Status, "the racing read answers what it read")
	j, err = b.repo.Get(ctx, id)
	require.NoError(t, err)
	require.Equal(t, domain.StatusDone, j.Status, "but never kept it over the newer state")
}

func TestNotificationsDownReadsThrough(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, bounds)
	j := b.create(t)
	b.model.Live(false)
	for range 3 {
		_, err := b.repo.Get(ctx, j.ID)
		require.NoError(t, err)
	}
	require.Equal(t, int64(3), b.store.gets.Load(), "nothing is vouched for while down")
	require.Zero(t, b.model.Stats().Len)

	b.model.Live(true)
	for range 3 {
		_, err := b.repo.Get(ctx, j.ID)
		require.NoError(t, err)
	}
	require.Equal(t, int64(4), b.store.gets.Load(), "back: read once, then from memory")
}

func TestBounded(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     jobcache.Config
		maxLen  int
		maxSize int64
	}{
		{"Entries", jobcache.Config{MaxEntries: 10, MaxBytes: 1 << 20, Live: true}, 10, 1 << 20},
		{"Bytes", jobcache.Config{MaxEntries: 1000, MaxBytes: 4000, Live: true}, 1000, 4000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tt.cfg)
			for range 50 {
				b.finish(t, b.create(t).ID)
			}
			st := b.model.Stats()
			require.LessOrEqual(t, st.Len, tt.maxLen)
			require.LessOrEqual(t, st.Bytes, tt.maxSize)
			require.Positive(t, st.Len)
		})
	}
}

func TestEvictedJobIsNotBroughtBackByAnOlderRead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var b *testBundle
	var evict sync.Once
	b = setup(t, jobcache.Config{MaxEntries: 1, MaxBytes: 1 << 20, Live: true}, jobcache.BeforeFill(func(read domain.Job) {
		evict.Do(func() {
			// While the read is on its way, the job changes and is pushed
			// out by another one: its tombstone still refuses the read.
			b.finish(t, read.ID)
			b.create(t)
		})
	}))
	j := b.create(t)
	b.model.Live(false)
	b.model.Live(true)
	_, err := b.repo.Get(ctx, j.ID)
	require.NoError(t, err)
	got, err := b.repo.Get(ctx, j.ID)
	require.NoError(t, err)
	require.Equal(t, domain.StatusDone, got.Status)
}

func TestNewRefusesInvalidSettings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  jobcache.Config
	}{
		{"ZeroEntries", jobcache.Config{MaxEntries: 0, MaxBytes: 1}},
		{"NegativeEntries", jobcache.Config{MaxEntries: -3, MaxBytes: 1}},
		{"ZeroBytes", jobcache.Config{MaxEntries: 1, MaxBytes: 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := jobcache.NewModel(tt.cfg)
			require.Error(t, err)
		})
	}
	_, err := jobcache.New(nil, mustModel(1))
	require.Error(t, err)
	_, err = jobcache.New(memory.NewJobs(), nil)
	require.Error(t, err)
}

// TestFinishedJobsAnswerWhileTheStoreIsAway: with notifications down, a
// finished job held before answers only when the store cannot; a pending
// one never does, and nothing survives the notifications coming back.
func TestFinishedJobsAnswerWhileTheStoreIsAway(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, bounds)
	pending := b.create(t)
	done := b.finish(t, b.create(t).ID)
	for _, id := range []domain.ID{pending.ID, done.ID} {
		_, err := b.repo.Get(ctx, id)
		require.NoError(t, err)
	}
	b.model.Live(false)
	b.store.down.Store(true)
	j, err := b.repo.Get(ctx, done.ID)
	require.NoError(t, err)
	require.Equal(t, domain.StatusDone, j.Status)
	_, err = b.repo.Get(ctx, pending.ID)
	require.ErrorIs(t, err, domain.ErrUnavailable, "a pending job may have changed")

	b.store.down.Store(false)
	_, err = b.mem.DeleteFinishedBefore(ctx, b.now.Add(time.Hour), 10) // purged while notifications are down
	require.NoError(t, err)
	_, err = b.repo.Get(ctx, done.ID)
	require.ErrorIs(t, err, domain.ErrNotFound, "the store answers: it wins")

	b.model.Live(true)
	b.store.down.Store(true)
	_, err = b.repo.Get(ctx, done.ID)
	require.ErrorIs(t, err, domain.ErrUnavailable, "back live, nothing of before is kept")
}

// TestPolledJobsStayWhileOthersGo: eviction spares the jobs read since they
// came (second chance) though a hit only marks its job: a job polled again
// survives the jobs added after it, those not polled go first, oldest first.
func TestPolledJobsStayWhileOthersGo(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const size = 64
	b := setup(t, jobcache.Config{MaxEntries: size, MaxBytes: 1 << 20, Live: true})
	jobs := make([]domain.Job, size)
	for i := range jobs {
		jobs[i] = b.create(t) // each change puts the job in the model
	}
	poll := func(j domain.Job) (hit bool) {
		before := b.model.Stats().Hits
		_, err := b.repo.Get(ctx, j.ID)
		require.NoError(t, err)
		return b.model.Stats().Hits == before+1
	}
	for i := range 3 { // the oldest three, polled again: to the front
		require.True(t, poll(jobs[i]))
		require.True(t, poll(jobs[i]), "a second hit right after: served, already marked")
	}
	for range size / 2 {
		b.create(t) // half the model's worth of new jobs pushes out the oldest unpolled
	}
	for i := range 3 {
		require.True(t, poll(jobs[i]), "job %d was polled: it stays", i)
	}
	require.False(t, poll(jobs[3]), "job 3 was not polled since it came: it went first")
	require.True(t, poll(jobs[3]), "read again, job 3 is kept again")
	require.Equal(t, size, b.model.Stats().Len)
	require.True(t, poll(jobs[4+size/2]), "it pushed out no younger job than the oldest unpolled")
	require.False(t, poll(jobs[3+size/2]), "but that one")
}

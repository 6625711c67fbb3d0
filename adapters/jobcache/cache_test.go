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

const bound = time.Second

// countingStore counts the reads that reach the store, and can be made
// unavailable.
type countingStore struct {
	*memory.Jobs
	gets atomic.Int64
	down atomic.Bool
}

func (c *countingStore) GetAt(ctx context.Context, id domain.ID) (domain.Job, int64, error) {
	c.gets.Add(1)
	if c.down.Load() {
		return domain.Job{}, 0, domain.ErrUnavailable
	}
	return c.Jobs.GetAt(ctx, id)
}

// testBundle is a memory store behind a read model, with a feed the test
// steps by hand (feed), as the change feed would.
type testBundle struct {
	store *countingStore
	model *jobcache.Model
	repo  *jobcache.Repository
	clock *fakeClock
	// applied is the feed's position.
	applied int64
}

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func setup(t *testing.T, cfg jobcache.Config) *testBundle {
	t.Helper()
	if cfg.StalenessBound == 0 {
		cfg.StalenessBound = bound
	}
	m, err := jobcache.NewModel(cfg)
	require.NoError(t, err)
	clock := &fakeClock{now: time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)}
	jobcache.SetClock(m, clock.Now)
	store := &countingStore{Jobs: memory.NewJobs()}
	r, err := jobcache.New(store, m)
	require.NoError(t, err)
	b := &testBundle{store: store, model: m, repo: r, clock: clock}
	b.feed(t)
	return b
}

// feed reads every change after the feed's position and applies it, as
// one caught-up batch.
func (b *testBundle) feed(t *testing.T) {
	t.Helper()
	start := b.clock.Now()
	changes, _, err := b.store.ChangesAfter(context.Background(), b.applied, 1<<20)
	require.NoError(t, err)
	batch := ports.ChangeBatch{Changes: changes, Through: b.applied, CaughtUp: start}
	if n := len(changes); n > 0 {
		batch.Through = changes[n-1].Position
	}
	b.model.Apply(batch)
	b.applied = batch.Through
}

func (b *testBundle) create(t *testing.T) domain.Job {
	t.Helper()
	now := b.clock.Now()
	j, err := domain.New(domain.NewParams{ID: domain.NewID(), ClientID: "c", ETA: now, Now: now})
	require.NoError(t, err)
	j, _, err = b.store.Create(context.Background(), j) // behind the model's back: only the feed tells it
	require.NoError(t, err)
	return j
}

// polled creates a job and polls it once, so the model holds it.
func (b *testBundle) polled(t *testing.T) domain.Job {
	t.Helper()
	j := b.create(t)
	_, err := b.get(t, j.ID)
	require.NoError(t, err)
	return j
}

func (b *testBundle) finish(t *testing.T, id domain.ID) domain.Job {
	t.Helper()
	o, err := domain.Failed(500, "x", b.clock.Now())
	require.NoError(t, err)
	j, _, err := b.store.Finish(context.Background(), id, o)
	require.NoError(t, err)
	return j
}

func (b *testBundle) get(t *testing.T, id domain.ID) (domain.Job, error) {
	t.Helper()
	return b.repo.Get(context.Background(), id)
}

func TestContract(t *testing.T) {
	t.Parallel()
	contract.JobRepository(t, func(t *testing.T) ports.JobRepository {
		return setup(t, jobcache.Config{MaxEntries: 100, MaxBytes: 1 << 20}).repo
	})
}

func TestReadModel(t *testing.T) {
	t.Parallel()

	t.Run("ServesAPolledJobFromMemoryWhileTheFeedIsWithinItsBound", func(t *testing.T) {
		t.Parallel()
		b := setup(t, jobcache.Config{MaxEntries: 10, MaxBytes: 1 << 20})
		j := b.create(t)
		b.feed(t)
		for range 3 {
			got, err := b.get(t, j.ID)
			require.NoError(t, err)
			require.Equal(t, j.Version, got.Version)
		}
		require.EqualValues(t, 1, b.store.gets.Load(), "the first poll reads, the others are hits")
		require.EqualValues(t, 2, b.model.Stats().Hits)
	})

	t.Run("AppliesTheFeedsChangesToPolledJobs", func(t *testing.T) {
		t.Parallel()
		b := setup(t, jobcache.Config{MaxEntries: 10, MaxBytes: 1 << 20})
		j := b.polled(t)
		done := b.finish(t, j.ID)
		b.feed(t)
		got, err := b.get(t, j.ID)
		require.NoError(t, err)
		require.Equal(t, domain.StatusFailed, got.Status)
		require.Equal(t, done.Version, got.Version)
		require.EqualValues(t, 1, b.store.gets.Load(), "the change came with its state: no read")
	})

	t.Run("KeepsOnlyPolledJobs", func(t *testing.T) {
		t.Parallel()
		b := setup(t, jobcache.Config{MaxEntries: 10, MaxBytes: 1 << 20})
		for range 5 {
			b.finish(t, b.create(t).ID)
		}
		b.feed(t)
		require.Zero(t, b.model.Stats().Len, "changes of jobs no one polled are not kept")
	})

	t.Run("ReadsThroughPastTheStalenessBound", func(t *testing.T) {
		t.Parallel()
		b := setup(t, jobcache.Config{MaxEntries: 10, MaxBytes: 1 << 20})
		j := b.polled(t)
		b.finish(t, j.ID) // the feed is stalled: it never reads this
		b.clock.advance(bound + time.Millisecond)
		require.False(t, b.model.Fresh())
		got, err := b.get(t, j.ID)
		require.NoError(t, err)
		require.Equal(t, domain.StatusFailed, got.Status, "past the bound the store answers")
		require.EqualValues(t, 1, b.model.Stats().Bypassed)

		b.feed(t) // caught up again
		require.True(t, b.model.Fresh())
		got, err = b.get(t, j.ID)
		require.NoError(t, err)
		require.Equal(t, domain.StatusFailed, got.Status)
	})

	t.Run("DoesNotKeepAnAnswerOlderThanWhatTheFeedApplied", func(t *testing.T) {
		t.Parallel()
		b := setup(t, jobcache.Config{MaxEntries: 10, MaxBytes: 1 << 20})
		j := b.create(t)
		old, at, err := b.store.Jobs.GetAt(context.Background(), j.ID) // a read begins
		require.NoError(t, err)
		b.finish(t, j.ID)
		b.feed(t) // the feed applies the change before the read ends
		jobcache.Observe(b.model, j.ID, &old, at)
		require.Zero(t, b.model.Stats().Len, "served to its caller, never kept")
	})

	t.Run("RemembersThatAJobDoesNotExist", func(t *testing.T) {
		t.Parallel()
		b := setup(t, jobcache.Config{MaxEntries: 10, MaxBytes: 1 << 20})
		j := b.polled(t)
		require.True(t, b.store.Delete(j.ID))
		b.feed(t)
		for range 2 {
			_, err := b.get(t, j.ID)
			require.ErrorIs(t, err, domain.ErrNotFound)
		}
		missing := domain.NewID()
		for range 2 {
			_, err := b.get(t, missing)
			require.ErrorIs(t, err, domain.ErrNotFound)
		}
		require.EqualValues(t, 2, b.store.gets.Load(), "the deleted job from the feed, the missing one read once")
	})

	t.Run("ATruncateDropsEverything", func(t *testing.T) {
		t.Parallel()
		b := setup(t, jobcache.Config{MaxEntries: 10, MaxBytes: 1 << 20})
		j := b.polled(t)
		b.store.Truncate()
		b.feed(t)
		require.Zero(t, b.model.Stats().Len)
		_, err := b.get(t, j.ID)
		require.ErrorIs(t, err, domain.ErrNotFound)
	})

	t.Run("ATruncateLetsNoOlderReadBackIn", func(t *testing.T) {
		t.Parallel()
		// Found by TestReadModelAgainstTheLog: an entry read ahead of the
		// feed, then dropped by a truncate the feed applies later, must
		// still refuse a read older than it.
		b := setup(t, jobcache.Config{MaxEntries: 10, MaxBytes: 1 << 20})
		j := b.create(t)
		b.feed(t)
		b.store.Truncate()
		_, absentAt, err := b.store.Jobs.GetAt(context.Background(), j.ID) // a read begins: not found
		require.ErrorIs(t, err, domain.ErrNotFound)
		b.store.Put(j)             // re-created
		got, err := b.get(t, j.ID) // read ahead of the feed: kept, answered
		require.NoError(t, err)
		truncate, _, err := b.store.ChangesAfter(context.Background(), b.applied, 1) // the feed applies the truncate only
		require.NoError(t, err)
		require.Equal(t, ports.ChangeTruncate, truncate[0].Op)
		b.model.Apply(ports.ChangeBatch{Changes: truncate, Through: truncate[0].Position, CaughtUp: b.clock.Now()})
		jobcache.Observe(b.model, j.ID, nil, absentAt) // the older read ends
		again, err := b.get(t, j.ID)
		require.NoError(t, err, "not found was answered before the job came back, and must not be kept")
		require.Equal(t, got.Version, again.Version)
	})

	t.Run("ForgetsAJobWhoseNewStateIsUnreadable", func(t *testing.T) {
		t.Parallel()
		b := setup(t, jobcache.Config{MaxEntries: 10, MaxBytes: 1 << 20})
		j := b.create(t)
		old, oldAt, err := b.store.Jobs.GetAt(context.Background(), j.ID) // a read begins
		require.NoError(t, err)
		_, err = b.get(t, j.ID)
		require.NoError(t, err)
		head, err := b.store.LastPosition(context.Background())
		require.NoError(t, err)
		b.model.Apply(ports.ChangeBatch{Changes: []ports.Change{{Position: head + 1, Op: ports.ChangeUnreadable, ID: j.ID}},
			Through: head + 1, CaughtUp: b.clock.Now()})
		require.Zero(t, b.model.Stats().Len, "the store says what the job is now")
		jobcache.Observe(b.model, j.ID, &old, oldAt)
		require.Zero(t, b.model.Stats().Len, "and no older read comes back")
	})

	t.Run("StaysWithinItsBoundsAndSparesPolledJobs", func(t *testing.T) {
		t.Parallel()
		b := setup(t, jobcache.Config{MaxEntries: 3, MaxBytes: 1 << 20})
		hot := b.create(t)
		b.feed(t)
		for range 20 {
			_, err := b.get(t, hot.ID)
			require.NoError(t, err)
			_, err = b.get(t, b.create(t).ID)
			require.NoError(t, err)
			require.LessOrEqual(t, b.model.Stats().Len, 3)
		}
		before := b.store.gets.Load()
		_, err := b.get(t, hot.ID)
		require.NoError(t, err)
		require.Equal(t, before, b.store.gets.Load(), "a job polled all along stays")
	})

	t.Run("StaysWithinItsBytes", func(t *testing.T) {
		t.Parallel()
		b := setup(t, jobcache.Config{MaxEntries: 1000, MaxBytes: 4096})
		for range 50 {
			_, err := b.get(t, b.create(t).ID)
			require.NoError(t, err)
			require.LessOrEqual(t, b.model.Stats().Bytes, int64(4096))
		}
	})

	t.Run("AnswersAFinishedJobItHoldsWhileTheStoreIsUnavailable", func(t *testing.T) {
		t.Parallel()
		b := setup(t, jobcache.Config{MaxEntries: 10, MaxBytes: 1 << 20})
		done := b.create(t)
		b.finish(t, done.ID)
		pending := b.create(t)
		for _, id := range []domain.ID{done.ID, pending.ID} {
			_, err := b.get(t, id)
			require.NoError(t, err)
		}
		b.clock.advance(bound + time.Millisecond) // the feed cannot vouch for memory
		b.store.down.Store(true)
		got, err := b.get(t, done.ID)
		require.NoError(t, err)
		require.Equal(t, domain.StatusFailed, got.Status)
		_, err = b.get(t, pending.ID)
		require.ErrorIs(t, err, domain.ErrUnavailable, "a pending job may have changed: 503")
		require.EqualValues(t, 1, b.model.Stats().Fallbacks)
	})

	t.Run("KeepsItsOwnWrites", func(t *testing.T) {
		t.Parallel()
		b := setup(t, jobcache.Config{MaxEntries: 10, MaxBytes: 1 << 20})
		now := b.clock.Now()
		j, err := domain.New(domain.NewParams{ID: domain.NewID(), ClientID: "c", ETA: now, Now: now})
		require.NoError(t, err)
		_, _, err = b.repo.Create(context.Background(), j)
		require.NoError(t, err)
		_, err = b.get(t, j.ID)
		require.NoError(t, err)
		require.EqualValues(t, 1, b.store.gets.Load(), "a created job is not kept as written: the first poll reads it")
		o, err := domain.Failed(500, "x", now)
		require.NoError(t, err)
		_, _, err = b.repo.Finish(context.Background(), j.ID, o)
		require.NoError(t, err)
		require.EqualValues(t, 2, b.store.gets.Load(), "a polled job is read back once finished")
		got, err := b.get(t, j.ID)
		require.NoError(t, err)
		require.Equal(t, domain.StatusFailed, got.Status, "read your own write before the feed brings it")
		require.EqualValues(t, 2, b.store.gets.Load(), "then answered from memory")

		other, err := domain.New(domain.NewParams{ID: domain.NewID(), ClientID: "c", ETA: now, Now: now})
		require.NoError(t, err)
		_, _, err = b.repo.Create(context.Background(), other)
		require.NoError(t, err)
		_, _, err = b.repo.Finish(context.Background(), other.ID, o)
		require.NoError(t, err)
		require.EqualValues(t, 2, b.store.gets.Load(), "a job nobody polled here is not read back")
	})
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]jobcache.Config{
		"NoEntries":    {MaxEntries: 0, MaxBytes: 1, StalenessBound: time.Second},
		"NoBytes":      {MaxEntries: 1, MaxBytes: 0, StalenessBound: time.Second},
		"NoStaleness":  {MaxEntries: 1, MaxBytes: 1},
		"NegativeAll":  {MaxEntries: -1, MaxBytes: -1, StalenessBound: -1},
		"NegativeTime": {MaxEntries: 1, MaxBytes: 1, StalenessBound: -time.Second},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := jobcache.NewModel(cfg)
			require.Error(t, err)
		})
	}
	_, err := jobcache.New(nil, nil)
	require.Error(t, err)
}

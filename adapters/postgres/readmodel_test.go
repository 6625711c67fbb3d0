package postgres_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/jobstatus/jobstatus/adapters/postgres"
	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
	"github.com/jobstatus/jobstatus/test/pgtest"
)

// collector is a ports.JobChanges that keeps the changes of the jobs it
// was told to watch (the channel is shared by every schema of the
// package's database).
type collector struct {
	mu      sync.Mutex
	watch   map[domain.ID]bool
	changes chan ports.JobChange
}

func (c *collector) Changed(ch ports.JobChange) {
	c.mu.Lock()
	ok := c.watch[ch.ID]
	c.mu.Unlock()
	if ok {
		c.changes <- ch
	}
}

func (*collector) Live(bool) {}

func (c *collector) add(id domain.ID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.watch[id] = true
}

func (c *collector) next(t *testing.T) ports.JobChange {
	t.Helper()
	select {
	case ch := <-c.changes:
		return ch
	case <-time.After(10 * time.Second):
		t.Fatal("no notification")
		return ports.JobChange{}
	}
}

// TestNotificationsCarryVersionAndRow: every insert, update and delete is
// announced with its version, and the new row when it fits, so a reader
// needs no query.
func TestNotificationsCarryVersionAndRow(t *testing.T) {
	t.Parallel()
	jobs, url := newJobs(t, 5*time.Second)
	ctx := context.Background()
	c := &collector{watch: map[domain.ID]bool{}, changes: make(chan ports.JobChange, 10)}
	ln, err := postgres.Listen(url, c, zap.NewNop())
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close(ctx) })
	select {
	case <-ln.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("listener never listened")
	}

	now := time.Now()
	j, err := domain.New(domain.NewParams{ID: domain.NewID(), ClientID: "c", ETA: now, Now: now})
	require.NoError(t, err)
	c.add(j.ID)
	created, _, err := jobs.Create(ctx, j)
	require.NoError(t, err)
	ch := c.next(t)
	require.Equal(t, ports.JobChange{ID: j.ID, Version: created.Version, Job: &created}, ch, "insert: the row itself")

	o, err := domain.Done([]domain.Link{{Entity: "composition", Href: "/c"}}, now)
	require.NoError(t, err)
	done, _, err := jobs.Finish(ctx, j.ID, o)
	require.NoError(t, err)
	ch = c.next(t)
	require.Equal(t, ports.JobChange{ID: j.ID, Version: done.Version, Job: &done}, ch, "update: the new row")
	require.Greater(t, done.Version, created.Version)

	n, err := jobs.DeleteFinishedBefore(ctx, now.Add(time.Hour), 10)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	ch = c.next(t)
	require.True(t, ch.Deleted)
	require.Nil(t, ch.Job)
	require.Greater(t, ch.Version, done.Version, "a delete gets a version of its own")

	// A row too large for a notification is announced without it.
	big, err := domain.New(domain.NewParams{ID: domain.NewID(), ClientID: "c", ETA: now, Now: now})
	require.NoError(t, err)
	c.add(big.ID)
	_, _, err = jobs.Create(ctx, big)
	require.NoError(t, err)
	_ = c.next(t)
	failed, err := domain.Failed(500, strings.Repeat("x", 8000), now)
	require.NoError(t, err)
	stored, _, err := jobs.Finish(ctx, big.ID, failed)
	require.NoError(t, err)
	ch = c.next(t)
	require.Equal(t, ports.JobChange{ID: big.ID, Version: stored.Version}, ch, "too large: id and version only")
}

// TestColumnTypeChangeUnderLoad: a migration that changes a column's type
// invalidates the prepared statement on every pooled connection
// ("cached plan must not change result type"); reads re-prepare and retry
// once instead of failing until the connections are recycled.
func TestColumnTypeChangeUnderLoad(t *testing.T) {
	t.Parallel()
	jobs, url := newJobs(t, 5*time.Second)
	ctx := context.Background()
	now := time.Now()
	j, err := domain.New(domain.NewParams{ID: domain.NewID(), ClientID: "c", ETA: now, Now: now})
	require.NoError(t, err)
	_, _, err = jobs.Create(ctx, j)
	require.NoError(t, err)

	var reads, unavailable atomic.Int64
	var failure atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				_, err := jobs.Get(ctx, j.ID)
				reads.Add(1)
				switch {
				case err == nil:
				case errors.Is(err, domain.ErrUnavailable):
					unavailable.Add(1) // a 503 with Retry-After at worst
				default:
					failure.CompareAndSwap(nil, err.Error())
				}
			}
		}()
	}
	readsReached := func(n int64) bool { return reads.Load() >= n }
	require.Eventually(t, func() bool { return readsReached(200) }, 10*time.Second, time.Millisecond, "load is running")

	db, err := postgres.Open(url, pgtest.Pool(1))
	require.NoError(t, err)
	defer db.Close()
	for _, typ := range []string{"varchar(2000)", "text", "varchar(3000)"} {
		_, err = db.ExecContext(ctx, "ALTER TABLE async_jobs ALTER COLUMN error_message TYPE "+typ)
		require.NoError(t, err)
		at := reads.Load()
		require.Eventually(t, func() bool { return readsReached(at + 200) }, 10*time.Second, time.Millisecond, "reads go on after the change")
	}
	close(stop)
	wg.Wait()
	require.Nil(t, failure.Load(), "no read may fail as a fault (a 500)")
	t.Logf("%d reads, %d unavailable", reads.Load(), unavailable.Load())
}

// liveRecorder records the listener's Live calls.
type liveRecorder struct {
	collector
	lives chan bool
}

func (l *liveRecorder) Live(b bool) { l.lives <- b }

// TestTruncateResetsReaders: TRUNCATE fires no row trigger; it is announced
// once, and the listener tells its sink that nothing derived before holds.
func TestTruncateResetsReaders(t *testing.T) {
	t.Parallel()
	_, url := newJobs(t, 5*time.Second)
	ctx := context.Background()
	rec := &liveRecorder{collector: collector{watch: map[domain.ID]bool{}, changes: make(chan ports.JobChange, 1)}, lives: make(chan bool, 10)}
	ln, err := postgres.Listen(url, rec, zap.NewNop())
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close(ctx) })
	require.True(t, <-rec.lives, "listening")

	db, err := postgres.Open(url, pgtest.Pool(1))
	require.NoError(t, err)
	defer db.Close()
	_, err = db.ExecContext(ctx, "TRUNCATE async_jobs")
	require.NoError(t, err)
	for _, want := range []bool{false, true} {
		select {
		case got := <-rec.lives:
			require.Equal(t, want, got)
		case <-time.After(10 * time.Second):
			t.Fatal("the truncate was not announced")
		}
	}
}

// TestVersionMigrationBackfillsExistingRows: migration 00004 versions the
// rows already in the table (in batches), makes the column NOT NULL, and
// new writes get versions above every backfilled one.
func TestVersionMigrationBackfillsExistingRows(t *testing.T) {
	t.Parallel()
	pgtest.Skip(t, pg)
	ctx := context.Background()
	db, err := postgres.Open(pg.URL(pg.BareSchema(t)), pgtest.Pool(2))
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, postgres.MigrateTo(ctx, db, 3))
	const rows = 12345 // more than two batches
	_, err = db.ExecContext(ctx, `INSERT INTO async_jobs (id, client_id, status, eta, created_at, updated_at)
		SELECT md5('m' || g)::uuid, 'c', 'PENDING', now(), now(), now() FROM generate_series(1, $1) g`, rows)
	require.NoError(t, err)

	_, err = postgres.Migrate(ctx, db)
	require.NoError(t, err)
	var st struct {
		Null     int    `db:"nulls"`
		Distinct int    `db:"versions"`
		Max      int64  `db:"max"`
		Nullable string `db:"nullable"`
	}
	require.NoError(t, db.GetContext(ctx, &st, `SELECT count(*) FILTER (WHERE version IS NULL) AS nulls,
		count(DISTINCT version) AS versions, max(version) AS max,
		(SELECT is_nullable FROM information_schema.columns WHERE table_schema = current_schema()
			AND table_name = 'async_jobs' AND column_name = 'version') AS nullable
		FROM async_jobs`))
	require.Zero(t, st.Null)
	require.Equal(t, rows, st.Distinct, "one version per row")
	require.Equal(t, "NO", st.Nullable)

	jobs, err := postgres.NewJobs(db, 5*time.Second)
	require.NoError(t, err)
	defer jobs.Close()
	now := time.Now()
	j, err := domain.New(domain.NewParams{ID: domain.NewID(), ClientID: "c", ETA: now, Now: now})
	require.NoError(t, err)
	stored, _, err := jobs.Create(ctx, j)
	require.NoError(t, err)
	require.Greater(t, stored.Version, st.Max)
}

// TestIDChangeAnnouncesTheOldIDDeleted: an UPDATE that moves a job to
// another id is announced as the new row and as a delete of the old id
// (with a later version of its own), so no reader keeps serving the old
// id; an owner change is announced with the new owner.
func TestIDChangeAnnouncesTheOldIDDeleted(t *testing.T) {
	t.Parallel()
	jobs, url := newJobs(t, 5*time.Second)
	db, err := postgres.Open(url, pgtest.Pool(2))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	ctx := context.Background()
	c := &collector{watch: map[domain.ID]bool{}, changes: make(chan ports.JobChange, 10)}
	ln, err := postgres.Listen(url, c, zap.NewNop())
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close(ctx) })
	select {
	case <-ln.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("listener never listened")
	}

	now := time.Now()
	j, err := domain.New(domain.NewParams{ID: domain.NewID(), ClientID: "c", ETA: now, Now: now})
	require.NoError(t, err)
	moved := domain.NewID()
	c.add(j.ID)
	c.add(moved)
	_, _, err = jobs.Create(ctx, j)
	require.NoError(t, err)
	_ = c.next(t)

	_, err = db.ExecContext(ctx, `UPDATE async_jobs SET id = $1 WHERE id = $2`, moved.String(), j.ID.String())
	require.NoError(t, err)
	now1, err := jobs.Get(ctx, moved)
	require.NoError(t, err)
	got := c.next(t)
	require.Equal(t, ports.JobChange{ID: moved, Version: now1.Version, Job: &now1}, got, "the new id: its row")
	got = c.next(t)
	require.Equal(t, j.ID, got.ID)
	require.True(t, got.Deleted, "the old id: gone")
	require.Nil(t, got.Job)
	require.Greater(t, got.Version, now1.Version, "a version of its own")

	_, err = db.ExecContext(ctx, `UPDATE async_jobs SET client_id = 'other' WHERE id = $1`, moved.String())
	require.NoError(t, err)
	got = c.next(t)
	require.False(t, got.Deleted)
	require.NotNil(t, got.Job)
	require.Equal(t, "other", got.Job.ClientID, "an owner change carries the new owner")
	select {
	case extra := <-c.changes:
		t.Fatalf("an update that keeps the id is announced once, got also %+v", extra)
	default:
	}
}

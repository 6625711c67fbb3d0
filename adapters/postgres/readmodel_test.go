package postgres_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/adapters/postgres"
	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/test/pgtest"
)

// TestColumnTypeChangeUnderLoad: a migration that changes a column's type
// invalidates the prepared statements (Get's and GetAt's) on every pooled
// connection ("cached plan must not change result type"); reads
// re-prepare and retry once instead of failing until the connections are
// recycled.
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
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				var err error
				if i%2 == 0 { // both hot statements
					_, err = jobs.Get(ctx, j.ID)
				} else {
					_, _, err = jobs.GetAt(ctx, j.ID)
				}
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

// TestVersionMigrationBackfillsExistingRows: migration 00004 versions the
// rows already in the table (in batches), makes the column NOT NULL, and
// new writes get versions above every backfilled one.
func TestVersionMigrationBackfillsExistingRows(t *testing.T) {
	t.Parallel()
	pgtest.Skip(t, pg)
	ctx := context.Background()
	db := openBare(t, 2)
	require.NoError(t, postgres.MigrateTo(ctx, db, 3))
	const rows = 12345 // more than two batches
	_, err := db.ExecContext(ctx, `INSERT INTO async_jobs (id, client_id, status, eta, created_at, updated_at)
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

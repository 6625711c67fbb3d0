package postgres_test

import (
	"context"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/adapters/postgres"
	"github.com/jobstatus/jobstatus/app"
	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
	"github.com/jobstatus/jobstatus/test/contract"
	"github.com/jobstatus/jobstatus/test/pgtest"
)

var pg *pgtest.Postgres

func TestMain(m *testing.M) {
	os.Exit(pgtest.Main(m, func(p *pgtest.Postgres) int {
		pg = p
		return m.Run()
	}))
}

// newJobs returns a repository on a fresh schema of the package's container.
func newJobs(t *testing.T, timeout time.Duration) (*postgres.Jobs, string) {
	t.Helper()
	pgtest.Skip(t, pg)
	url := pg.Schema(t)
	db, err := postgres.Open(url, pgtest.Pool(20))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	jobs, err := postgres.NewJobs(db, timeout)
	require.NoError(t, err)
	t.Cleanup(func() { _ = jobs.Close() })
	return jobs, url
}

// TestOpenRefusesInvalidPools: a pool with more idle than open connections
// made serve hang at start warming it; a negative one panicked.
func TestOpenRefusesInvalidPools(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(*postgres.PoolConfig)
	}{
		{"IdleAboveOpen", func(p *postgres.PoolConfig) { p.MaxIdleConns = p.MaxOpenConns * 2 }},
		{"NegativeIdle", func(p *postgres.PoolConfig) { p.MaxIdleConns = -3 }},
		{"ZeroOpen", func(p *postgres.PoolConfig) { p.MaxOpenConns, p.MaxIdleConns = 0, 0 }},
		{"NegativeLifetime", func(p *postgres.PoolConfig) { p.ConnMaxLifetime = -time.Minute }},
		{"ZeroLifetime", func(p *postgres.PoolConfig) { p.ConnMaxLifetime = 0 }},
		{"ZeroIdleTime", func(p *postgres.PoolConfig) { p.ConnMaxIdleTime = 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := pgtest.Pool(16)
			tt.mutate(&cfg)
			_, err := postgres.Open("postgres://u:p@127.0.0.1:1/db", cfg)
			require.Error(t, err)
		})
	}
	db, err := postgres.Open("postgres://u:p@127.0.0.1:1/db", pgtest.Pool(16))
	require.NoError(t, err)
	require.NoError(t, db.Close())
}

func TestNewJobsRefusesInvalidSettings(t *testing.T) {
	t.Parallel()
	_, err := postgres.NewJobs(nil, time.Second)
	require.Error(t, err)
	db, err := postgres.Open("postgres://u:p@127.0.0.1:1/db", pgtest.Pool(1))
	require.NoError(t, err)
	defer db.Close()
	for _, timeout := range []time.Duration{0, -time.Second} {
		_, err := postgres.NewJobs(db, timeout)
		require.Error(t, err, "timeout %s", timeout)
	}
}

func TestJobsContract(t *testing.T) {
	t.Parallel()
	newRepo := func(t *testing.T) ports.JobRepository {
		jobs, _ := newJobs(t, 5*time.Second)
		return jobs
	}
	t.Run("Repository", func(t *testing.T) { t.Parallel(); contract.JobRepository(t, newRepo) })
	t.Run("Durations", func(t *testing.T) { t.Parallel(); contract.Durations(t, newRepo) })
	t.Run("Maintenance", func(t *testing.T) { t.Parallel(); contract.Maintenance(t, newRepo) })
	t.Run("Reports", func(t *testing.T) { t.Parallel(); contract.Reports(t, newRepo) })
	t.Run("CreationFilters", func(t *testing.T) { t.Parallel(); contract.CreationFilters(t, newRepo) })
	t.Run("PagesThroughAnyCreationYear", func(t *testing.T) { t.Parallel(); contract.PagesThroughAnyCreationYear(t, newRepo) })
	t.Run("ChangeLog", func(t *testing.T) { t.Parallel(); contract.ChangeLog(t, newRepo) })
}

func TestMigrateIsIdempotent(t *testing.T) {
	t.Parallel()
	_, url := newJobs(t, time.Second)
	db, err := postgres.Open(url, pgtest.Pool(1))
	require.NoError(t, err)
	defer db.Close()
	res, err := postgres.Migrate(context.Background(), db)
	require.NoError(t, err)
	require.Empty(t, res.Applied, "a second run applies nothing")
	require.GreaterOrEqual(t, res.Current, int64(2))
}

func TestSchemaRefusesImpossibleRows(t *testing.T) {
	t.Parallel()
	_, url := newJobs(t, time.Second)
	db, err := postgres.Open(url, pgtest.Pool(1))
	require.NoError(t, err)
	defer db.Close()
	bad := []string{
		`INSERT INTO async_jobs (id, client_id, status, eta, created_at, updated_at) VALUES (gen_random_uuid(), 'c', 'pending', now(), now(), now())`,
		`INSERT INTO async_jobs (id, client_id, status, eta, created_at, updated_at, finished_at) VALUES (gen_random_uuid(), 'c', 'DONE', now(), now(), now(), now())`,
		`INSERT INTO async_jobs (id, client_id, status, eta, created_at, updated_at, finished_at) VALUES (gen_random_uuid(), 'c', 'FAILED', now(), now(), now(), now())`,
		`INSERT INTO async_jobs (id, client_id, status, eta, created_at, updated_at) VALUES (gen_random_uuid(), '', 'PENDING', now(), now(), now())`,
	}
	for _, q := range bad {
		_, err := db.ExecContext(context.Background(), q)
		require.Error(t, err, q)
	}
}

func TestStoreFaultsAreUnavailable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("QueryPastDeadline", func(t *testing.T) {
		t.Parallel()
		jobs, url := newJobs(t, 300*time.Millisecond)
		// Another session holds the table: the lookup waits past its deadline.
		db, err := postgres.Open(url, pgtest.Pool(1))
		require.NoError(t, err)
		defer db.Close()
		tx, err := db.BeginTx(ctx, nil)
		require.NoError(t, err)
		defer func() { _ = tx.Rollback() }()
		_, err = tx.ExecContext(ctx, "LOCK TABLE async_jobs IN ACCESS EXCLUSIVE MODE")
		require.NoError(t, err)
		_, err = jobs.Get(ctx, domain.NewID())
		require.ErrorIs(t, err, domain.ErrUnavailable)
	})

	t.Run("NothingListening", func(t *testing.T) {
		t.Parallel()
		port, err := pgtest.FreePort()
		require.NoError(t, err)
		db, err := postgres.Open("postgres://u:p@127.0.0.1:"+strconv.Itoa(port)+"/db?sslmode=disable&connect_timeout=1", pgtest.Pool(2))
		require.NoError(t, err)
		defer db.Close()
		jobs, err := postgres.NewJobs(db, time.Second)
		require.NoError(t, err)
		_, err = jobs.Get(ctx, domain.NewID())
		require.ErrorIs(t, err, domain.ErrUnavailable)
		_, _, err = jobs.Finish(ctx, domain.NewID(), domain.Outcome{Status: domain.StatusDone})
		require.ErrorIs(t, err, domain.ErrUnavailable)
		require.ErrorIs(t, jobs.Ping(ctx), domain.ErrUnavailable)
	})

	// A table that is not there (dropped, or never migrated) is the
	// operator's to fix: a 503 the client retries, not a 500.
	t.Run("MissingTableIsUnavailable", func(t *testing.T) {
		t.Parallel()
		jobs, url := newJobs(t, time.Second)
		db, err := postgres.Open(url, pgtest.Pool(1))
		require.NoError(t, err)
		defer db.Close()
		_, err = db.ExecContext(ctx, "DROP TABLE async_jobs")
		require.NoError(t, err)
		_, err = jobs.Get(ctx, domain.NewID())
		require.ErrorIs(t, err, domain.ErrUnavailable)
		require.NotErrorIs(t, err, domain.ErrNotFound)
	})
}

// TestTwoInstancesSweep runs the sweep use case from two instances, each
// with its own pool, on the same jobs: each stale job fails exactly once.
func TestTwoInstancesSweep(t *testing.T) {
	t.Parallel()
	first, url := newJobs(t, 5*time.Second)
	db, err := postgres.Open(url, pgtest.Pool(4))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	second, err := postgres.NewJobs(db, 5*time.Second)
	require.NoError(t, err)
	ctx := context.Background()
	old := time.Now().Add(-2 * time.Hour)
	const n = 500
	for range n {
		j, err := domain.New(domain.NewParams{ID: domain.NewID(), ClientID: "c", ETA: old, Now: old})
		require.NoError(t, err)
		_, _, err = first.Create(ctx, j)
		require.NoError(t, err)
	}
	clock := ports.ClockFunc(time.Now)
	var sweepers []app.SweepStaleHandler
	for _, store := range []*postgres.Jobs{first, second} {
		s, err := app.NewSweepStaleHandler(store, clock, 25)
		require.NoError(t, err)
		sweepers = append(sweepers, s)
	}
	counts := make([]int, len(sweepers))
	var wg sync.WaitGroup
	for i, s := range sweepers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 { // keep trying while the other holds the lock
				got, err := s.Handle(ctx, app.SweepStale{PendingTimeout: time.Hour})
				if err != nil {
					t.Errorf("sweeper %d: %v", i, err)
					return
				}
				counts[i] += got
			}
		}()
	}
	wg.Wait()
	require.Equal(t, n, counts[0]+counts[1], "every stale job failed exactly once (%v)", counts)
	var left int
	require.NoError(t, db.GetContext(ctx, &left, `SELECT count(*) FROM async_jobs WHERE status = 'PENDING'`))
	require.Zero(t, left)
}

// TestWithTxRunsInTheCallersTransaction: a transaction passed in holds
// every write until the caller commits.
func TestWithTxRunsInTheCallersTransaction(t *testing.T) {
	t.Parallel()
	jobs, url := newJobs(t, 5*time.Second)
	ctx := context.Background()
	db, err := postgres.Open(url, pgtest.Pool(2))
	require.NoError(t, err)
	defer db.Close()
	now := time.Now()
	newJob := func() domain.Job {
		j, err := domain.New(domain.NewParams{ID: domain.NewID(), ClientID: "c", ETA: now, Now: now})
		require.NoError(t, err)
		return j
	}
	tests := []struct {
		name    string
		commit  bool
		visible bool
	}{
		{"RolledBack", false, false},
		{"Committed", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tx, err := db.BeginTxx(ctx, nil)
			require.NoError(t, err)
			inTx := jobs.WithTx(tx)
			j := newJob()
			_, created, err := inTx.Create(ctx, j)
			require.NoError(t, err)
			require.True(t, created)
			got, err := inTx.Get(ctx, j.ID)
			require.NoError(t, err, "the transaction sees its own write")
			got.Version = 0
			require.Equal(t, j, got)
			n, err := inTx.FailPendingCreatedBefore(ctx, now.Add(time.Hour), domain.TimedOut(now), 10)
			require.NoError(t, err)
			require.Equal(t, 1, n, "the sweep runs inside the caller's transaction")
			if tt.commit {
				require.NoError(t, tx.Commit())
			} else {
				require.NoError(t, tx.Rollback())
			}
			_, err = jobs.Get(ctx, j.ID)
			if tt.visible {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, domain.ErrNotFound)
			}
		})
	}
}

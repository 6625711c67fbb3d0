package postgres_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/adapters/postgres"
	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
	"github.com/jobstatus/jobstatus/test/pgtest"
)

// TestMisconfiguredDatabaseIsUnavailable: a database that does not exist,
// credentials it refuses and a schema never migrated are the operator's to
// fix; the service answers 503 meanwhile, never 500.
func TestMisconfiguredDatabaseIsUnavailable(t *testing.T) {
	t.Parallel()
	pgtest.Skip(t, pg)
	with := func(edit func(u *url.URL)) string {
		u, err := url.Parse(pg.URL(""))
		require.NoError(t, err)
		edit(u)
		return u.String()
	}
	tests := []struct {
		name string
		url  func() string
	}{
		{"MissingDatabase", func() string { return with(func(u *url.URL) { u.Path = "/no_such_database" }) }},
		{"WrongPassword", func() string {
			return with(func(u *url.URL) { u.User = url.UserPassword(u.User.Username(), "wrong") })
		}},
		{"UnknownUser", func() string { return with(func(u *url.URL) { u.User = url.UserPassword("nobody", "x") }) }},
		{"NotMigrated", func() string { return pg.URL(pg.BareSchema(t)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db, err := postgres.Open(tt.url(), pgtest.Pool(2))
			require.NoError(t, err)
			t.Cleanup(func() { _ = db.Close() })
			jobs, err := postgres.NewJobs(db, 5*time.Second)
			require.NoError(t, err)
			t.Cleanup(func() { _ = jobs.Close() })
			ctx := context.Background()
			_, err = jobs.Get(ctx, domain.NewID())
			require.ErrorIs(t, err, domain.ErrUnavailable)
			_, _, err = jobs.Create(ctx, domain.Job{ID: domain.NewID(), ClientID: "mis-alpha", Status: domain.StatusPending,
				ETA: time.Now(), CreatedAt: time.Now(), UpdatedAt: time.Now()})
			require.ErrorIs(t, err, domain.ErrUnavailable)
			_, err = jobs.ListJobs(ctx, ports.JobListQuery{ClientID: "mis-alpha", Limit: 10})
			require.ErrorIs(t, err, domain.ErrUnavailable)
			_, err = jobs.EventsAfter(ctx, "", 0, 10)
			require.ErrorIs(t, err, domain.ErrUnavailable)
		})
	}
}

// TestReadOnlySessionIsNotKept: a connection opened while the database
// could not write (default_transaction_read_only, as a standby reached
// during a failover) refused every write with 25006 for as long as the
// pool kept it, up to conn_max_lifetime, after the database could write
// again. The refused write is unavailable; the connection is discarded,
// and the next write, on a new one, goes through.
func TestReadOnlySessionIsNotKept(t *testing.T) {
	t.Parallel()
	pgtest.Skip(t, pg)
	url, name := pg.Database(t)
	admin, err := postgres.Open(pg.URL(""), pgtest.Pool(1))
	require.NoError(t, err)
	t.Cleanup(func() { _ = admin.Close() })
	ctx := context.Background()
	_, err = admin.ExecContext(ctx, "ALTER DATABASE "+name+" SET default_transaction_read_only = on")
	require.NoError(t, err)
	db, err := postgres.Open(url, pgtest.Pool(1)) // one connection, opened read-only
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	jobs, err := postgres.NewJobs(db, 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { _ = jobs.Close() })
	job := func() domain.Job {
		now := time.Now()
		return domain.Job{ID: domain.NewID(), ClientID: "mis-alpha", Status: domain.StatusPending,
			ETA: now.Add(time.Minute), CreatedAt: now, UpdatedAt: now}
	}
	_, _, err = jobs.Create(ctx, job())
	require.ErrorIs(t, err, domain.ErrUnavailable)
	_, err = admin.ExecContext(ctx, "ALTER DATABASE "+name+" RESET default_transaction_read_only")
	require.NoError(t, err)
	_, created, err := jobs.Create(ctx, job())
	require.NoError(t, err, "the database writes again: so must the store")
	require.True(t, created)
}

// TestStandbySessionIsNotKept: on a hot standby (a server a failover left
// in recovery) every transaction's BEGIN READ WRITE fails with 0A000,
// not 25006, and the connection that met it stayed pooled, a session to
// the standby, until a plain write failed. The refused write is
// unavailable, the connection is discarded, and once the server can write
// (promoted here) the next write goes through.
func TestStandbySessionIsNotKept(t *testing.T) {
	pgtest.Skip(t, pg)
	ctx := context.Background()
	srv := preparedOnOwnServer(t, func(own *pgtest.Postgres) string { return own.URL("") }, 1)
	require.NoError(t, srv.pg.RestartAsStandby(ctx))
	backend := func() (pid int) {
		t.Helper()
		// The first statement after the restart may meet the old session's
		// closed socket: the pool then opens a new one.
		require.Eventually(t, func() bool {
			return srv.db.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&pid) == nil
		}, time.Minute, 50*time.Millisecond)
		return pid
	}
	var inRecovery bool
	require.NoError(t, srv.db.QueryRowContext(ctx, "SELECT pg_is_in_recovery()").Scan(&inRecovery))
	require.True(t, inRecovery, "the server is a standby")
	sweep := func() error { // the one write in a transaction: BEGIN READ WRITE
		_, err := srv.jobs.FailPendingCreatedBefore(ctx, time.Now(), domain.Outcome{Status: domain.StatusFailed, At: time.Now(),
			Failure: &domain.Failure{Code: 504, Message: "stale"}}, 10)
		return err
	}

	standby := backend()
	err := sweep()
	require.ErrorIs(t, err, domain.ErrUnavailable)
	var pqErr *pq.Error
	require.ErrorAs(t, err, &pqErr)
	require.Equal(t, "0A000", string(pqErr.Code), "refused at BEGIN READ WRITE: %v", err)
	require.NotEqual(t, standby, backend(), "the session that could not write was kept")

	var promoted bool
	require.NoError(t, srv.db.QueryRowContext(ctx, "SELECT pg_promote()").Scan(&promoted))
	require.True(t, promoted)
	require.NoError(t, sweep(), "the database writes again: so must the store")
	got, err := srv.jobs.Get(ctx, srv.job.ID)
	require.NoError(t, err)
	require.Equal(t, domain.StatusFailed, got.Status)
}

// TestFrozenServerIsUnavailable: a server that accepts TCP but never
// answers (docker pause) held every statement until it came back, past its
// query timeout, and shutdown with it. Each statement now fails with
// ErrUnavailable by its deadline, closing does not wait on the server, and
// the store works again once the server runs.
func TestFrozenServerIsUnavailable(t *testing.T) {
	pgtest.Skip(t, pg)
	ctx := context.Background()
	srv := preparedOnOwnServer(t, func(own *pgtest.Postgres) string { return own.URL("") }, 4)
	own, db, jobs, created := srv.pg, srv.db, srv.jobs, srv.job

	require.NoError(t, own.Pause(ctx))
	paused := true
	t.Cleanup(func() {
		if paused {
			_ = own.Unpause(context.Background())
		}
	})
	statements := []struct {
		name string
		run  func(context.Context) error
	}{
		{"FailPendingCreatedBefore", func(ctx context.Context) error { // first, on a connection the pool holds: BEGIN is sent before lib/pq watches the context
			_, err := jobs.FailPendingCreatedBefore(ctx, time.Now(), domain.Outcome{Status: domain.StatusFailed, At: time.Now(),
				Failure: &domain.Failure{Code: 504, Message: "stale"}}, 10)
			return err
		}},
		{"Get", func(ctx context.Context) error { _, err := jobs.Get(ctx, created.ID); return err }},
		{"Create", func(ctx context.Context) error {
			_, _, err := jobs.Create(ctx, domain.Job{ID: domain.NewID(), ClientID: "mis-alpha", Status: domain.StatusPending,
				ETA: time.Now(), CreatedAt: time.Now(), UpdatedAt: time.Now()})
			return err
		}},
		{"Finish", func(ctx context.Context) error {
			_, _, err := jobs.Finish(ctx, created.ID, domain.Outcome{Status: domain.StatusFailed, At: time.Now(),
				Failure: &domain.Failure{Code: 500, Message: "x"}})
			return err
		}},
		{"ListJobs", func(ctx context.Context) error {
			_, err := jobs.ListJobs(ctx, ports.JobListQuery{ClientID: "mis-alpha", Limit: 10})
			return err
		}},
		{"EventsAfter", func(ctx context.Context) error { _, err := jobs.EventsAfter(ctx, "", 0, 10); return err }},
		{"LastPosition", func(ctx context.Context) error { _, err := jobs.LastPosition(ctx); return err }},
		{"DeleteFinishedBefore", func(ctx context.Context) error { _, err := jobs.DeleteFinishedBefore(ctx, time.Now(), 10); return err }},
		{"RecentDurations", func(ctx context.Context) error { _, err := jobs.RecentDurations(ctx, 10); return err }},
		{"Ping", jobs.Ping},
		{"DailyCounts", func(ctx context.Context) error { // no timeout of its own short of minutes: the caller's
			ctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			return jobs.DailyCounts(ctx, ports.ReportFilter{From: time.Now().Add(-time.Hour), To: time.Now()},
				func(ports.DailyCount) error { return nil })
		}},
		{"ReadSchema", func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			_, err := postgres.ReadSchema(ctx, db)
			if err != nil && ctx.Err() != nil {
				return domain.ErrUnavailable // readiness reads the schema with its own deadline
			}
			return err
		}},
	}
	// More rounds than the pool has connections: a statement that gave up
	// must not keep its connection.
	for round := range 3 {
		for _, st := range statements {
			done := make(chan error, 1)
			go func() { done <- st.run(ctx) }()
			select {
			case err := <-done:
				require.ErrorIs(t, err, domain.ErrUnavailable, "round %d: %s", round, st.name)
			case <-time.After(time.Minute):
				t.Fatalf("round %d: %s still waits on the frozen server", round, st.name)
			}
		}
	}

	require.NoError(t, own.Unpause(ctx))
	paused = false
	require.Eventually(t, func() bool {
		j, err := jobs.Get(ctx, created.ID)
		return err == nil && j.ID == created.ID
	}, time.Minute, 50*time.Millisecond, "works again once the server runs")

	// Closing while frozen returns, though the server never answers.
	require.NoError(t, own.Pause(ctx))
	paused = true
	closed := make(chan struct{})
	go func() {
		_ = jobs.Close()
		_ = postgres.Close(db)
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(time.Minute):
		t.Fatal("closing waits on the frozen server")
	}
}

// ownServer is a PostgreSQL of a test's own (to pause or stop) and a
// store on it with one pending job.
type ownServer struct {
	pg   *pgtest.Postgres
	db   *sqlx.DB
	jobs *postgres.Jobs
	job  domain.Job
}

// preparedOnOwnServer starts a PostgreSQL of the test's own, migrated,
// with a store of conns connections whose statements time out after
// 300 ms, and one pending job read once, so the poll's statement is
// prepared on the pool. url gives the store's URL from the server.
func preparedOnOwnServer(t *testing.T, url func(own *pgtest.Postgres) string, conns int) ownServer {
	t.Helper()
	ctx := context.Background()
	own, err := pgtest.Start(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { _ = own.Terminate() })
	db, err := postgres.Open(url(own), pgtest.Pool(conns))
	require.NoError(t, err)
	_, err = postgres.Migrate(ctx, db)
	require.NoError(t, err)
	jobs, err := postgres.NewJobs(db, 300*time.Millisecond)
	require.NoError(t, err)
	created, _, err := jobs.Create(ctx, domain.Job{ID: domain.NewID(), ClientID: "mis-alpha", Status: domain.StatusPending,
		ETA: time.Now(), CreatedAt: time.Now(), UpdatedAt: time.Now()})
	require.NoError(t, err)
	_, err = jobs.Get(ctx, created.ID) // the hot-path statement is prepared
	require.NoError(t, err)
	return ownServer{pg: own, db: db, jobs: jobs, job: created}
}

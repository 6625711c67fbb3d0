package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/adapters/postgres"
	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/test/pgtest"
)

// TestCancelRequest: when a statement's context ends, lib/pq sends the
// server a cancel request on a new connection and reads that connection
// until the server closes it; for a prepared statement (the poll's hot
// path) the statement waits for that read before it returns. A frozen
// server never closes it, so every prepared statement on a pooled
// connection answered its caller the cancel wait (5 s) past its deadline.
func TestCancelRequest(t *testing.T) {
	pgtest.Skip(t, pg)

	// Waiting on the cancel request would outlast the test by far: without
	// connect_timeout the cancel wait bounds it, with one connect_timeout.
	for name, timeout := range map[string]string{"WithoutConnectTimeout": "", "WithConnectTimeout": "&connect_timeout=600"} {
		t.Run("PreparedStatementEndsByItsDeadlineOnAFrozenServer"+name, func(t *testing.T) {
			frozenPreparedStatement(t, timeout)
		})
	}
	t.Run("StatementPastItsDeadlineIsCancelledOnTheServer", func(t *testing.T) {
		ctx := context.Background()
		db, err := postgres.Open(pg.URL(pg.Schema(t)), pgtest.Pool(2))
		require.NoError(t, err)
		t.Cleanup(func() { _ = db.Close() })
		const sleep = "SELECT pg_sleep(120) AS cancel_test"
		for _, prepared := range []bool{true, false} {
			short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			if prepared {
				stmt, err := db.PreparexContext(ctx, sleep)
				require.NoError(t, err)
				_, err = stmt.ExecContext(short)
				require.Error(t, err)
				_ = stmt.Close()
			} else {
				_, err = db.ExecContext(short, sleep)
				require.Error(t, err)
			}
			cancel()
			// The server got the cancel request: the statement stops there
			// long before its two minutes, though its connection is gone.
			require.Eventually(t, func() bool {
				var running int
				err := db.GetContext(ctx, &running,
					`SELECT count(*) FROM pg_stat_activity WHERE query = $1 AND state = 'active'`, sleep)
				return err == nil && running == 0
			}, 30*time.Second, 50*time.Millisecond, "prepared=%v: the statement still runs on the server", prepared)
		}
	})
}

// frozenPreparedStatement runs the hot-path statement, prepared, against a
// paused server, with connectTimeout ("&connect_timeout=N" or "") in its URL.
func frozenPreparedStatement(t *testing.T, connectTimeout string) {
	ctx := context.Background()
	postgres.SetCancelWait(t, 10*time.Minute)
	// The poll's statement prepared on the pool's one connection.
	srv := preparedOnOwnServer(t, func(own *pgtest.Postgres) string {
		return strings.Replace(own.URL(""), "&connect_timeout=5", connectTimeout, 1)
	}, 1)
	own, jobs, created := srv.pg, srv.jobs, srv.job

	require.NoError(t, own.Pause(ctx))
	t.Cleanup(func() { _ = own.Unpause(context.Background()) })
	done := make(chan error, 1)
	go func() { _, err := jobs.Get(ctx, created.ID); done <- err }()
	select {
	case err := <-done:
		require.ErrorIs(t, err, domain.ErrUnavailable)
	case <-time.After(time.Minute):
		t.Fatal("the prepared statement waits on its cancel request to the frozen server")
	}
}

package e2e

import (
	"context"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/adapters/postgres"
	"github.com/jobstatus/jobstatus/test/pgtest"
	"github.com/jobstatus/jobstatus/test/testkit"
)

// TestCommandsUseASmallPool: while a one-shot command runs, it holds at
// most two PostgreSQL backends (it once filled a 16-connection serving
// pool, and 30 concurrent `jobs create` exhausted max_connections). The
// command is held in the middle by a lock on the jobs table, and its
// backends are counted by application_name.
func TestCommandsUseASmallPool(t *testing.T) {
	t.Parallel()
	pgtest.Skip(t, pg)
	ctx := context.Background()
	url := pg.Schema(t)
	db, err := postgres.Open(url, pgtest.Pool(2))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })

	tests := []struct {
		name string
		args []string
	}{
		{"JobsCreate", []string{"jobs", "create", "--client", testkit.ClientA}},
		{"Report", []string{"report", "--from", "2026-01-01", "--to", "2026-12-31", "--format", "csv"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := "jobstatus-pool-" + strings.ToLower(tt.name)
			tx, err := db.BeginTx(ctx, nil)
			require.NoError(t, err)
			_, err = tx.ExecContext(ctx, "LOCK TABLE async_jobs IN ACCESS EXCLUSIVE MODE")
			require.NoError(t, err)

			cmd := exec.Command(bin, tt.args...)
			cmd.Env = []string{"JOBSTATUS_DATABASE_URL=" + url + "&application_name=" + app}
			require.NoError(t, cmd.Start())
			var waiting, open int
			testkit.Eventually(t, 20*time.Second, func() bool {
				require.NoError(t, db.QueryRowContext(ctx, `SELECT count(*) FILTER (WHERE wait_event_type = 'Lock'), count(*)
					FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&waiting, &open))
				return waiting > 0
			}, "the command waits for the lock")
			// Let a pool that fills itself at start show itself.
			testkit.Within(time.Second, func() bool {
				var n int
				_ = db.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&n)
				open = max(open, n)
				return n > 2
			})
			require.NoError(t, tx.Rollback())
			require.NoError(t, cmd.Wait())
			require.LessOrEqual(t, open, 2, "backends the command held")
		})
	}
}

// TestCleanStopAfterDatabaseRestart: SIGTERM right after PostgreSQL
// restarted under the service, and while it is down, exits 0 (it once
// exited 1 with "broken pipe" from closing dead idle connections).
func TestCleanStopAfterDatabaseRestart(t *testing.T) {
	t.Parallel()
	pgtest.Skip(t, pg)
	tests := []struct {
		name    string
		restart bool
	}{
		{"AfterRestart", true},
		{"WhileDown", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			own := ownPostgres(t)
			kit := testkit.New(t)
			dbEnv := []string{"JOBSTATUS_DATABASE_URL=" + own.URL(""), "JOBSTATUS_DATABASE_QUERY_TIMEOUT=1s"}
			svc := serve(t, append(dbEnv, authEnv(kit)...), "--migrate")
			job := mustJob(t, jobstatus(t, dbEnv, "jobs", "create", "--client", testkit.ClientA))
			h := creds(kit.Token(testkit.ClientA), testkit.KeyA)
			require.Equal(t, 200, get(t, svc, "GET", jobPath(job.ID), h).Status)

			require.NoError(t, own.Kill(ctx))
			if tt.restart {
				require.NoError(t, own.Restart(ctx))
			}
			require.NoError(t, svc.Terminate(30*time.Second), "stderr:\n%s", svc.Stderr.String())
		})
	}
}

// TestConnectionsAreNamed: every connection serve opens is named in
// pg_stat_activity — its pool "jobstatus", the change feed's
// "jobstatus-feed", the doorbell's "jobstatus-listener" — when the URL
// names none (the pool's were once unnamed), so an operator can tell
// them apart from anything else on the database.
func TestConnectionsAreNamed(t *testing.T) {
	t.Parallel()
	pgtest.Skip(t, pg)
	kit := testkit.New(t)
	url, name := pg.Database(t)
	admin := adminAddr(t)
	serve(t, append([]string{"JOBSTATUS_DATABASE_URL=" + url, "JOBSTATUS_ADMIN_ADDR=" + admin}, authEnv(kit)...))
	db, err := postgres.Open(url, pgtest.Pool(1))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	want := []string{"jobstatus", "jobstatus-feed", "jobstatus-listener"}
	var names []string
	testkit.Eventually(t, 20*time.Second, func() bool {
		names = names[:0]
		require.NoError(t, db.SelectContext(context.Background(), &names, `SELECT DISTINCT application_name FROM pg_stat_activity
			WHERE datname = $1 AND pid <> pg_backend_pid() ORDER BY 1`, name))
		return slices.Equal(names, want)
	}, "the service's connections named %v", want)
	require.Equal(t, want, names)
}

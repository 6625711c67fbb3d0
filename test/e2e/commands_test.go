package e2e

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/test/pgtest"
	"github.com/jobstatus/jobstatus/test/testkit"
)

// TestJobCommands drives `jobstatus jobs …` as a subprocess: the use cases
// run in-process against PostgreSQL, with no HTTP.
func TestJobCommands(t *testing.T) {
	t.Parallel()
	pgtest.Skip(t, pg)
	env := []string{"JOBSTATUS_DATABASE_URL=" + pg.Schema(t)}
	const id = "5c0e7b0e-9f7a-4d4e-9a51-0b6a3b1d2c3e"

	created := mustJob(t, jobstatus(t, env, "jobs", "create", "--client", "mis-alpha", "--id", "5C0E7B0E-9F7A-4D4E-9A51-0B6A3B1D2C3E", "--eta", "90s"))
	require.Equal(t, id, created.ID)
	require.Equal(t, "mis-alpha", created.ClientID)
	require.Equal(t, "PENDING", created.Status)
	require.WithinDuration(t, time.Now().Add(90*time.Second), created.ETA, 30*time.Second)

	got := mustJob(t, jobstatus(t, env, "jobs", "get", id))
	require.Equal(t, created.ID, got.ID)

	done := mustJob(t, jobstatus(t, env, "jobs", "complete", id,
		"--link", "composition=/patients/p/encounter/e/composition/c", "--link", "encounter=/patients/p/encounter/e"))
	require.Equal(t, "DONE", done.Status)
	require.Len(t, done.Links, 2)

	again := mustJob(t, jobstatus(t, env, "jobs", "complete", id,
		"--link", "composition=/patients/p/encounter/e/composition/c", "--link", "encounter=/patients/p/encounter/e"))
	require.Equal(t, done.Links, again.Links, "repeating the outcome is a no-op")

	failures := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"DuplicateID", []string{"jobs", "create", "--client", "mis-alpha", "--id", id}, 1, "exists already"},
		{"FailAfterDone", []string{"jobs", "fail", id, "--code", "500", "--message", "late"}, 1, "different outcome"},
		{"UnknownID", []string{"jobs", "get", "00000000-0000-4000-8000-000000000000"}, 1, "job not found"},
		{"CompleteUnknown", []string{"jobs", "complete", "00000000-0000-4000-8000-000000000000", "--link", "composition=/x"}, 1, "job not found"},
		{"MalformedID", []string{"jobs", "get", "not-a-uuid"}, 2, "want a UUID"},
		{"MalformedLink", []string{"jobs", "complete", id, "--link", "composition"}, 2, "ENTITY=HREF"},
		{"RelativeHref", []string{"jobs", "complete", id, "--link", "composition=relative"}, 2, "absolute path"},
		{"MissingLink", []string{"jobs", "complete", id}, 2, "link"},
		{"MissingClient", []string{"jobs", "create"}, 2, "client"},
		{"MissingMessage", []string{"jobs", "fail", id, "--code", "500"}, 2, "message"},
		{"ZeroCode", []string{"jobs", "fail", id, "--code", "0", "--message", "x"}, 2, "--code is required: 1 to 999"},
		{"NegativeCode", []string{"jobs", "fail", id, "--code", "-5", "--message", "x"}, 2, "--code must be 1 to 999, got -5"},
		{"ClientWithSpace", []string{"jobs", "create", "--client", "bad id!"}, 2, "invalid client: must be 1 to 255 visible ASCII"},
		{"BadETA", []string{"jobs", "create", "--client", "c", "--eta", "soon"}, 2, "eta"},
		{"NegativeETA", []string{"jobs", "create", "--client", "c", "--eta", "-5s"}, 2, "at most 24h"},
		{"ETAOverADay", []string{"jobs", "create", "--client", "c", "--eta", "48h"}, 2, "invalid eta: must be a positive duration such as 30s, at most 24h"},
	}
	for _, f := range failures {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			r := jobstatus(t, env, f.args...)
			require.Equal(t, f.code, r.code, "stdout %s stderr %s", r.stdout, r.stderr)
			require.Contains(t, r.stderr, f.msg)
			require.Empty(t, r.stdout)
		})
	}

	t.Run("FailPending", func(t *testing.T) {
		t.Parallel()
		j := mustJob(t, jobstatus(t, env, "jobs", "create", "--client", "mis-beta"))
		f := mustJob(t, jobstatus(t, env, "jobs", "fail", j.ID, "--code", "504", "--message", "job timed out"))
		require.Equal(t, "FAILED", f.Status)
		require.Equal(t, 504, f.Error.Code)
		require.Equal(t, "job timed out", f.Error.Message)
	})

	// Against a reachable database more idle than open connections once
	// made a command wait out the 15 s start timeout for connections the
	// pool could never open, and a negative count panicked.
	for _, bad := range []struct{ value, want string }{
		{"32", "jobstatus: configuration: JOBSTATUS_DATABASE_MAX_IDLE_CONNS (database.max_idle_conns) must not exceed " +
			"JOBSTATUS_DATABASE_MAX_OPEN_CONNS (database.max_open_conns) = 16; got 32\n"},
		{"-3", "jobstatus: configuration: JOBSTATUS_DATABASE_MAX_IDLE_CONNS (database.max_idle_conns) must not be negative; got -3\n"},
	} {
		t.Run("IdleConns"+bad.value, func(t *testing.T) {
			t.Parallel()
			for _, args := range [][]string{{"jobs", "get", id}, {"migrate"}} {
				r := jobstatus(t, append(env, "JOBSTATUS_DATABASE_MAX_IDLE_CONNS="+bad.value), args...)
				require.Equal(t, 1, r.code, r.stderr)
				require.Equal(t, bad.want, r.stderr)
				require.Empty(t, r.stdout)
			}
		})
	}

	t.Run("UnreachableDatabase", func(t *testing.T) {
		t.Parallel()
		r := jobstatus(t, []string{"JOBSTATUS_DATABASE_URL=postgres://u:p@127.0.0.1:" + strconv.Itoa(testkit.FreePort(t)) + "/db?sslmode=disable&connect_timeout=1"},
			"jobs", "get", id)
		require.Equal(t, 1, r.code)
		require.Contains(t, r.stderr, "database unavailable")
	})
}

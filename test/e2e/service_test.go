package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/adapters/postgres"
	"github.com/jobstatus/jobstatus/test/pgtest"
	"github.com/jobstatus/jobstatus/test/testkit"
)

// TestBlackBox is the operator's path: migrate, create a job in each state
// with the job commands, serve with production configuration, and check
// every answer docs/http-api.md describes.
func TestBlackBox(t *testing.T) {
	t.Parallel()
	pgtest.Skip(t, pg)
	kit := testkit.New(t)
	dbURL := pg.URL(pg.BareSchema(t))
	dbEnv := []string{"JOBSTATUS_DATABASE_URL=" + dbURL}

	m := jobstatus(t, dbEnv, "migrate")
	require.Equal(t, 0, m.code, m.stderr)
	require.Contains(t, m.stdout, `"applied": [`+"\n    1,")
	m = jobstatus(t, dbEnv, "migrate")
	require.Equal(t, 0, m.code, m.stderr)
	require.Contains(t, m.stdout, `"applied": []`, "a second run applies nothing")

	pending := mustJob(t, jobstatus(t, dbEnv, "jobs", "create", "--client", testkit.ClientA, "--eta", "2m"))
	require.Equal(t, "PENDING", pending.Status)
	done := mustJob(t, jobstatus(t, dbEnv, "jobs", "create", "--client", testkit.ClientA))
	href := "/patients/p1/encounter/e1/composition/c1"
	done = mustJob(t, jobstatus(t, dbEnv, "jobs", "complete", done.ID, "--link", "composition="+href))
	require.Equal(t, "DONE", done.Status)
	failed := mustJob(t, jobstatus(t, dbEnv, "jobs", "create", "--client", testkit.ClientA))
	failed = mustJob(t, jobstatus(t, dbEnv, "jobs", "fail", failed.ID, "--code", "422", "--message", "Signature is not valid"))
	require.Equal(t, "FAILED", failed.Status)
	theirs := mustJob(t, jobstatus(t, dbEnv, "jobs", "create", "--client", testkit.ClientB))

	svc := serve(t, append(dbEnv, authEnv(kit)...))

	// A token minted by the token command, like an operator would.
	tok := jobstatus(t, authEnv(kit), "token", "--key", kit.KeyPEM, "--client", testkit.ClientA)
	require.Equal(t, 0, tok.code, tok.stderr)
	token := strings.TrimSpace(tok.stdout)
	good := creds(token, testkit.KeyA)

	t.Run("200Pending", func(t *testing.T) {
		r := get(t, svc, "GET", jobPath(pending.ID), good)
		require.Equal(t, 200, r.Status, string(r.Raw))
		data := r.Body["data"].(map[string]any)
		require.Equal(t, "PENDING", data["status"])
		require.Equal(t, pending.ETA.UTC().Format("2006-01-02T15:04:05.000Z"), data["eta"])
		require.Equal(t, []any{}, data["links"])
		require.Equal(t, jobPath(pending.ID), r.Body["meta"].(map[string]any)["url"])
	})
	t.Run("200Done", func(t *testing.T) {
		r := get(t, svc, "GET", jobPath(strings.ToUpper(done.ID)), good)
		require.Equal(t, 200, r.Status, string(r.Raw))
		data := r.Body["data"].(map[string]any)
		require.Equal(t, done.ID, data["id"])
		require.Equal(t, []any{map[string]any{"entity": "composition", "href": href}}, data["links"])
	})
	t.Run("200Failed", func(t *testing.T) {
		r := get(t, svc, "GET", jobPath(failed.ID), good)
		require.Equal(t, 200, r.Status, string(r.Raw))
		require.Equal(t, map[string]any{"code": float64(422), "message": "Signature is not valid"},
			r.Body["data"].(map[string]any)["error"])
	})
	t.Run("HeadHasNoBody", func(t *testing.T) {
		r := get(t, svc, "HEAD", jobPath(done.ID), good)
		require.Equal(t, 200, r.Status)
		require.Empty(t, string(r.Raw))
	})
	t.Run("400", func(t *testing.T) {
		r := get(t, svc, "GET", jobPath("{"+done.ID+"}"), good)
		require.Equal(t, 400, r.Status, string(r.Raw))
		require.Equal(t, "validation_failed", r.ErrorType())
	})
	t.Run("401", func(t *testing.T) {
		for name, h := range map[string]http.Header{
			"NoToken":      {"Api-Key": {testkit.KeyA}},
			"BadToken":     creds(token+"x", testkit.KeyA),
			"NoKey":        {"Authorization": {"Bearer " + token}},
			"UnknownKey":   creds(token, "nope"),
			"OtherClients": creds(token, testkit.KeyB),
		} {
			r := get(t, svc, "GET", jobPath(done.ID), h)
			require.Equal(t, 401, r.Status, name)
			require.Equal(t, "access_denied", r.ErrorType(), name)
			require.Contains(t, r.Header.Get("WWW-Authenticate"), "Bearer", name)
		}
	})
	t.Run("403", func(t *testing.T) {
		noScope := jobstatus(t, authEnv(kit), "token", "--key", kit.KeyPEM, "--client", testkit.ClientA, "--scope", "composition:create")
		require.Equal(t, 0, noScope.code)
		r := get(t, svc, "GET", jobPath(done.ID), creds(strings.TrimSpace(noScope.stdout), testkit.KeyA))
		require.Equal(t, 403, r.Status, string(r.Raw))
		require.Equal(t, "Your scope does not allow to access this resource. Missing allowances: composition:read", r.ErrorMessage())
	})
	t.Run("404", func(t *testing.T) {
		r := get(t, svc, "GET", jobPath("00000000-0000-4000-8000-000000000000"), good)
		require.Equal(t, 404, r.Status)
		require.Equal(t, "Task not found", r.ErrorMessage())
		r = get(t, svc, "GET", jobPath(theirs.ID), good)
		require.Equal(t, 404, r.Status, "another client's job is not found")
		require.Equal(t, "Task not found", r.ErrorMessage())
		r = get(t, svc, "GET", jobPath(theirs.ID), creds(kit.Token(testkit.ClientB), testkit.KeyB))
		require.Equal(t, 200, r.Status, "but its owner sees it")
	})
	t.Run("405", func(t *testing.T) {
		r := get(t, svc, "DELETE", jobPath(done.ID), good)
		require.Equal(t, 405, r.Status)
		require.Equal(t, "method_not_allowed", r.ErrorType())
	})
	t.Run("431", func(t *testing.T) {
		h := creds(token, testkit.KeyA)
		h.Set("X-Pad", strings.Repeat("p", 20<<10))
		r := get(t, svc, "GET", jobPath(done.ID), h)
		require.Equal(t, 431, r.Status)
		require.Equal(t, "request_too_large", r.ErrorType())
	})
	t.Run("NoSecretsInLogs", func(t *testing.T) {
		logs := svc.Stderr.String()
		require.NotContains(t, logs, token)
		require.NotContains(t, logs, testkit.KeyA)
		require.NotContains(t, logs, "jobstatus-test", "the database password")
	})
}

// TestBrokenSchemaIs500 serves from a schema that lost a column the
// queries name: a genuine internal fault, answered with a 500 that names
// nothing internal. (A schema not migrated at all is a 503 until someone
// migrates: TestUnmigratedDatabase.)
func TestBrokenSchemaIs500(t *testing.T) {
	t.Parallel()
	pgtest.Skip(t, pg)
	kit := testkit.New(t)
	url := pg.Schema(t)
	db, err := postgres.Open(url, pgtest.Pool(1))
	require.NoError(t, err)
	_, err = db.Exec("ALTER TABLE async_jobs DROP COLUMN error_message CASCADE")
	require.NoError(t, err)
	require.NoError(t, db.Close())
	env := append([]string{"JOBSTATUS_DATABASE_URL=" + url}, authEnv(kit)...)
	svc := serve(t, env)
	r := get(t, svc, "GET", jobPath("00000000-0000-4000-8000-000000000000"), creds(kit.Token(testkit.ClientA), testkit.KeyA))
	require.Equal(t, 500, r.Status, string(r.Raw))
	require.Equal(t, "internal_error", r.ErrorType())
	require.NotContains(t, string(r.Raw), "async_jobs")
	require.NotContains(t, string(r.Raw), "pq")
}

// TestDatabaseRestart stops PostgreSQL under a running service: answers
// turn into 503 with Retry-After, and back into 200 once it is up again,
// with no restart of the service.
func TestDatabaseRestart(t *testing.T) {
	t.Parallel()
	pgtest.Skip(t, pg)
	ctx := context.Background()
	own := ownPostgres(t)
	kit := testkit.New(t)
	dbEnv := []string{"JOBSTATUS_DATABASE_URL=" + own.URL(""), "JOBSTATUS_DATABASE_QUERY_TIMEOUT=1s"}

	// serve --migrate prepares a fresh database itself.
	svc := serve(t, append(dbEnv, authEnv(kit)...), "--migrate")
	job := mustJob(t, jobstatus(t, dbEnv, "jobs", "create", "--client", testkit.ClientA))
	finished := mustJob(t, jobstatus(t, dbEnv, "jobs", "create", "--client", testkit.ClientA))
	mustJob(t, jobstatus(t, dbEnv, "jobs", "fail", finished.ID, "--code", "500", "--message", "x"))
	h := creds(kit.Token(testkit.ClientA), testkit.KeyA)
	require.Equal(t, 200, get(t, svc, "GET", jobPath(job.ID), h).Status)
	require.Equal(t, 200, get(t, svc, "GET", jobPath(finished.ID), h).Status)

	require.NoError(t, own.Stop(ctx))
	r := eventually(t, 20*time.Second, func() testkit.Reply { return get(t, svc, "GET", jobPath(job.ID), h) },
		func(r testkit.Reply) bool { return r.Status != 200 })
	require.Equal(t, 503, r.Status, string(r.Raw))
	require.Equal(t, "service_unavailable", r.ErrorType())
	require.NotEmpty(t, r.Header.Get("Retry-After"))
	cached := get(t, svc, "GET", jobPath(finished.ID), h)
	require.Equal(t, 200, cached.Status, "a finished job is served from memory with the database down")
	require.Equal(t, "FAILED", cached.Body["data"].(map[string]any)["status"])

	require.NoError(t, own.Restart(ctx))
	r = eventually(t, 30*time.Second, func() testkit.Reply { return get(t, svc, "GET", jobPath(job.ID), h) },
		func(r testkit.Reply) bool { return r.Status == 200 })
	require.Equal(t, 200, r.Status, string(r.Raw))
	require.Equal(t, "PENDING", r.Body["data"].(map[string]any)["status"])
}

// eventually polls get until ok says yes or the deadline passes, and
// returns the last testkit.Reply; it never passes a 500 silently.
func eventually(t *testing.T, within time.Duration, get func() testkit.Reply, ok func(testkit.Reply) bool) testkit.Reply {
	t.Helper()
	var r testkit.Reply
	testkit.Within(within, func() bool {
		r = get()
		require.NotEqual(t, 500, r.Status, "never a 500 while the database is away: %s", r.Raw)
		return ok(r)
	})
	return r
}

// TestWaitForChangeAcrossProcesses holds a request with Prefer: wait=20 and
// completes the job from another process: PostgreSQL's NOTIFY wakes the
// waiter, which answers DONE well before its wait ends.
func TestWaitForChangeAcrossProcesses(t *testing.T) {
	t.Parallel()
	pgtest.Skip(t, pg)
	kit := testkit.New(t)
	dbEnv := []string{"JOBSTATUS_DATABASE_URL=" + pg.Schema(t)}
	admin := adminAddr(t)
	svc := serve(t, append(append(dbEnv, "JOBSTATUS_ADMIN_ADDR="+admin), authEnv(kit)...))
	job := mustJob(t, jobstatus(t, dbEnv, "jobs", "create", "--client", testkit.ClientA))

	h := creds(kit.Token(testkit.ClientA), testkit.KeyA)
	h.Set("Prefer", "wait=20")
	type answer struct {
		r    testkit.Reply
		took time.Duration
	}
	got := make(chan answer, 1)
	start := time.Now()
	go func() {
		r := get(t, svc, "GET", jobPath(job.ID), h)
		got <- answer{r, time.Since(start)}
	}()
	awaitWaiters(t, admin, 1)
	mustJob(t, jobstatus(t, dbEnv, "jobs", "complete", job.ID, "--link", "composition=/patients/p/encounter/e/composition/c"))

	select {
	case a := <-got:
		require.Equal(t, 200, a.r.Status, string(a.r.Raw))
		require.Equal(t, "DONE", a.r.Body["data"].(map[string]any)["status"])
		require.Equal(t, "wait=20", a.r.Header.Get("Preference-Applied"))
		require.Less(t, a.took, 15*time.Second, "woken by the change, not by the end of the wait")
	case <-time.After(25 * time.Second):
		t.Fatal("the held request never answered")
	}
}

package e2e

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/adapters/postgres"
	"github.com/jobstatus/jobstatus/test/pgtest"
	"github.com/jobstatus/jobstatus/test/testkit"
)

// adminGet fetches a path of the admin listener.
func adminGet(t *testing.T, addr, path string) (int, string) {
	t.Helper()
	res, err := http.Get("http://" + addr + path)
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, string(body)
}

// adminAddr is a free loopback address for the admin listener.
func adminAddr(t *testing.T) string { return "127.0.0.1:" + strconv.Itoa(testkit.FreePort(t)) }

// awaitWaiters waits until the service holds n requests waiting for a
// change (the jobstatus_waiters gauge): the signal that they are parked.
func awaitWaiters(t *testing.T, admin string, n int) {
	t.Helper()
	want := "\njobstatus_waiters " + strconv.Itoa(n) + "\n"
	testkit.Eventually(t, 20*time.Second, func() bool {
		_, body := adminGet(t, admin, "/metrics")
		return strings.Contains(body, want)
	}, "%d requests waiting", n)
}

// TestOperations runs the service as operators do: the admin listener's
// health, readiness and metrics, the stale-job sweeper, the OpenAPI document.
func TestOperations(t *testing.T) {
	t.Parallel()
	pgtest.Skip(t, pg)
	kit := testkit.New(t)
	dbEnv := []string{"JOBSTATUS_DATABASE_URL=" + pg.Schema(t)}
	admin := adminAddr(t)
	env := append(append([]string{}, dbEnv...), authEnv(kit)...)
	env = append(env, "JOBSTATUS_ADMIN_ADDR="+admin,
		"JOBSTATUS_SWEEPER_INTERVAL=200ms", "JOBSTATUS_SWEEPER_PENDING_TIMEOUT=2s")
	svc := serve(t, env)

	code, body := adminGet(t, admin, "/healthz")
	require.Equal(t, 200, code)
	require.JSONEq(t, `{"status":"ok"}`, body)
	code, body = adminGet(t, admin, "/readyz")
	require.Equal(t, 200, code, body)
	require.Contains(t, body, `"store":"ok: database answers"`)
	require.Contains(t, body, `"keys":"ok: 3 verification keys"`)

	// Traffic for every metric family: 200s, a 401, a held request, a cache hit.
	h := creds(kit.Token(testkit.ClientA), testkit.KeyA)
	done := mustJob(t, jobstatus(t, dbEnv, "jobs", "create", "--client", testkit.ClientA))
	mustJob(t, jobstatus(t, dbEnv, "jobs", "complete", done.ID, "--link", "composition=/c"))
	for range 3 {
		require.Equal(t, 200, get(t, svc, "GET", jobPath(done.ID), h).Status)
	}
	require.Equal(t, 401, get(t, svc, "GET", jobPath(done.ID), creds("x.y.z", testkit.KeyA)).Status)
	stale := mustJob(t, jobstatus(t, dbEnv, "jobs", "create", "--client", testkit.ClientA))
	wait := creds(kit.Token(testkit.ClientA), testkit.KeyA)
	wait.Set("Prefer", "wait=10")
	// The sweeper fails the job after 2 s; the held request sees it happen.
	r := get(t, svc, "GET", jobPath(stale.ID), wait)
	require.Equal(t, 200, r.Status)
	require.Equal(t, "FAILED", r.Body["data"].(map[string]any)["status"])
	require.Equal(t, map[string]any{"code": float64(504), "message": "job timed out"}, r.Body["data"].(map[string]any)["error"])

	res, err := http.Get(svc.URL + "/openapi.yaml")
	require.NoError(t, err)
	spec, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.Equal(t, 200, res.StatusCode)
	require.Equal(t, "application/yaml", res.Header.Get("Content-Type"))
	require.Contains(t, string(spec), "openapi: 3.0.3")

	// The held request may see the sweeper's change (through the
	// notification) before the sweeper has counted its batch.
	testkit.Eventually(t, 10*time.Second, func() bool {
		code, body = adminGet(t, admin, "/metrics")
		return code == 200 && strings.Contains(body, "jobstatus_stale_jobs_failed_total 1")
	}, "the sweeper's count on /metrics")
	for _, family := range []string{
		`jobstatus_http_requests_total{method="GET",route="/patients/composition/job/{asyncJobId}",status="200"} 4`,
		`jobstatus_http_requests_total{method="GET",route="/patients/composition/job/{asyncJobId}",status="401"} 1`,
		`jobstatus_http_request_duration_seconds_bucket{route="/patients/composition/job/{asyncJobId}",status="200"`,
		`jobstatus_auth_failures_total{credential="token",reason="malformed"} 1`,
		`jobstatus_cache_hits_total{cache="jobs"}`,
		`jobstatus_cache_bytes{cache="jobs"}`,
		`jobstatus_feed_up 1`,
		`jobstatus_cache_misses_total{cache="jobs"}`,
		`jobstatus_cache_hits_total{cache="tokens"}`,
		`jobstatus_cache_misses_total{cache="tokens"}`,
		`jobstatus_cache_entries{cache="jobs"}`,
		`jobstatus_waiters 0`,
		`jobstatus_stale_jobs_failed_total 1`,
		`jobstatus_job_transitions_total{outcome="timed_out"} 1`,
		`go_sql_open_connections{db_name="jobstatus"}`,
		`go_sql_wait_count_total{db_name="jobstatus"}`,
		`process_resident_memory_bytes`,
	} {
		require.Contains(t, body, family)
	}
}

// TestReadinessFollowsTheDatabase stops PostgreSQL under the service:
// readiness turns 503 naming the store, and back to 200.
func TestReadinessFollowsTheDatabase(t *testing.T) {
	t.Parallel()
	pgtest.Skip(t, pg)
	ctx := context.Background()
	own := ownPostgres(t)
	kit := testkit.New(t)
	admin := adminAddr(t)
	serve(t, append([]string{"JOBSTATUS_DATABASE_URL=" + own.URL(""), "JOBSTATUS_ADMIN_ADDR=" + admin}, authEnv(kit)...), "--migrate")

	code, _ := adminGet(t, admin, "/readyz")
	require.Equal(t, 200, code)
	require.NoError(t, own.Stop(ctx))
	code, body := adminGet(t, admin, "/readyz")
	require.Equal(t, 503, code)
	require.Contains(t, body, `"store":"not ready: database unreachable"`)
	require.NotContains(t, body, "jobstatus-test", "no password in the readiness answer")
	code, _ = adminGet(t, admin, "/healthz")
	require.Equal(t, 200, code, "alive, though not ready")
	require.NoError(t, own.Restart(ctx))
	testkit.Eventually(t, 30*time.Second, func() bool {
		code, _ = adminGet(t, admin, "/readyz")
		return code == 200
	}, "ready again once the database is back")
}

// TestReport runs `jobstatus report` on known data and compares the exact
// output of every format.
func TestReport(t *testing.T) {
	t.Parallel()
	pgtest.Skip(t, pg)
	url := pg.Schema(t)
	db, err := postgres.Open(url, pgtest.Pool(1))
	require.NoError(t, err)
	defer db.Close()
	_, err = db.Exec(`INSERT INTO async_jobs (id, client_id, status, eta, links, error_code, error_message, created_at, updated_at, finished_at)
	SELECT gen_random_uuid(), client, status, created, links, code, msg, created, created, created + took
	FROM (VALUES
		('mis-alpha', 'DONE',    '2026-11-01 08:00Z'::timestamptz, interval '10 s', NULL::int, NULL),
		('mis-alpha', 'DONE',    '2026-11-01 09:00Z', interval '20 s', NULL, NULL),
		('mis-alpha', 'DONE',    '2026-11-01 10:00Z', interval '30 s', NULL, NULL),
		('mis-alpha', 'DONE',    '2026-11-02 10:00Z', interval '40 s', NULL, NULL),
		('mis-alpha', 'DONE',    '2026-11-02 11:00Z', interval '100 s', NULL, NULL),
		('mis-alpha', 'PENDING', '2026-11-02 12:00Z', NULL, NULL, NULL),
		('mis-beta',  'FAILED',  '2026-11-01 08:00Z', interval '1 s', 422, 'Signature is not valid'),
		('mis-beta',  'FAILED',  '2026-11-01 09:00Z', interval '1 s', 422, 'Signature is not valid'),
		('mis-beta',  'FAILED',  '2026-11-02 09:00Z', interval '1 s', 500, 'Registry unavailable'),
		('mis-beta',  'DONE',    '2026-11-03 09:00Z', interval '5 s', NULL, NULL)
	) AS v(client, status, created, took, code, msg),
	LATERAL (SELECT CASE WHEN status = 'DONE' THEN '[{"entity":"composition","href":"/c"}]'::jsonb ELSE '[]'::jsonb END AS links) l`)
	require.NoError(t, err)
	env := []string{"JOBSTATUS_DATABASE_URL=" + url}
	run := func(args ...string) string {
		r := jobstatus(t, env, append([]string{"report", "--from", "2026-11-01", "--to", "2026-11-02"}, args...)...)
		require.Equal(t, 0, r.code, r.stderr)
		require.Empty(t, r.stderr, "no progress output when stderr is not a terminal")
		return r.stdout
	}

	require.Equal(t, `DAY         CLIENT                    STATUS         JOBS
2026-11-01  mis-alpha                 DONE              3
2026-11-01  mis-beta                  FAILED            2
2026-11-02  mis-alpha                 DONE              2
2026-11-02  mis-alpha                 PENDING           1
2026-11-02  mis-beta                  FAILED            1

Time to DONE over 5 jobs: p50 30.000s  p90 76.000s  p99 97.600s

Top failures:
  CODE        JOBS  MESSAGE
   422           2  Signature is not valid
   500           1  Registry unavailable
`, run())

	require.Equal(t, `kind,day,client_id,status,failure_code,failure_message,percentile,value
jobs,2026-11-01,mis-alpha,DONE,,,,3
jobs,2026-11-01,mis-beta,FAILED,,,,2
jobs,2026-11-02,mis-alpha,DONE,,,,2
jobs,2026-11-02,mis-alpha,PENDING,,,,1
jobs,2026-11-02,mis-beta,FAILED,,,,1
done_jobs,,,,,,,5
time_to_done_seconds,,,,,,50,30.000
time_to_done_seconds,,,,,,90,76.000
time_to_done_seconds,,,,,,99,97.600
failures,,,,422,Signature is not valid,,2
failures,,,,500,Registry unavailable,,1
`, run("--format", "csv"))

	require.Equal(t, `{"from":"2026-11-01","to":"2026-11-02","daily":[
{"day":"2026-11-01","client_id":"mis-alpha","status":"DONE","jobs":3},
{"day":"2026-11-01","client_id":"mis-beta","status":"FAILED","jobs":2},
{"day":"2026-11-02","client_id":"mis-alpha","status":"DONE","jobs":2},
{"day":"2026-11-02","client_id":"mis-alpha","status":"PENDING","jobs":1},
{"day":"2026-11-02","client_id":"mis-beta","status":"FAILED","jobs":1}
],"done_jobs":5,"time_to_done_seconds":{"p50":30,"p90":76,"p99":97.6},"top_failures":[{"code":422,"message":"Signature is not valid","jobs":2},{"code":500,"message":"Registry unavailable","jobs":1}]}
`, run("--format", "json"))

	beta := run("--client", "mis-beta", "--format", "csv")
	require.NotContains(t, beta, "mis-alpha")
	require.Contains(t, beta, "done_jobs,,,,,,,0")

	for _, bad := range [][]string{{"--format", "xml"}, {"--from", "yesterday"}} {
		r := jobstatus(t, env, append([]string{"report", "--from", "2026-11-01", "--to", "2026-11-02"}, bad...)...)
		require.Equal(t, 2, r.code, strings.Join(bad, " "))
	}
	r := jobstatus(t, env, "report", "--from", "2026-11-03", "--to", "2026-11-01")
	require.Equal(t, 2, r.code)
	require.Contains(t, r.stderr, "must not be before from")
}

// TestIdempotentCreateAndPurgeCommands covers the repeat-safe create and the
// retention purge as operators run them.
func TestIdempotentCreateAndPurgeCommands(t *testing.T) {
	t.Parallel()
	pgtest.Skip(t, pg)
	env := []string{"JOBSTATUS_DATABASE_URL=" + pg.Schema(t)}
	first := mustJob(t, jobstatus(t, env, "jobs", "create", "--client", "mis-alpha", "--idempotency-key", "sign-42"))
	again := mustJob(t, jobstatus(t, env, "jobs", "create", "--client", "mis-alpha", "--idempotency-key", "sign-42"))
	require.Equal(t, first.ID, again.ID, "the same pending job comes back")
	other := mustJob(t, jobstatus(t, env, "jobs", "create", "--client", "mis-beta", "--idempotency-key", "sign-42"))
	require.NotEqual(t, first.ID, other.ID, "keys belong to one client")

	mustJob(t, jobstatus(t, env, "jobs", "fail", first.ID, "--code", "500", "--message", "x"))
	next := mustJob(t, jobstatus(t, env, "jobs", "create", "--client", "mis-alpha", "--idempotency-key", "sign-42"))
	require.NotEqual(t, first.ID, next.ID, "after the job finished, the key starts a new one")

	r := jobstatus(t, env, "jobs", "purge", "--older-than", "1h", "--dry-run")
	require.Equal(t, 0, r.code, r.stderr)
	require.JSONEq(t, `{"dry_run": true, "jobs": 0}`, r.stdout, "the failed job is too recent")
	r = jobstatus(t, env, "jobs", "purge", "--older-than", "1ms")
	require.Equal(t, 0, r.code, r.stderr)
	require.JSONEq(t, `{"dry_run": false, "jobs": 1}`, r.stdout)
	r = jobstatus(t, env, "jobs", "get", first.ID)
	require.Equal(t, 1, r.code)
	mustJob(t, jobstatus(t, env, "jobs", "get", next.ID)) // pending jobs stay
	r = jobstatus(t, env, "jobs", "purge")
	require.Equal(t, 2, r.code)
}

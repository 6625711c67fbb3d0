package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/adapters/postgres"
	"github.com/jobstatus/jobstatus/test/pgtest"
	"github.com/jobstatus/jobstatus/test/testkit"
)

// TestNothingLeaks drives every error path of the real binary with debug
// logging on, then checks that no token, api-key, password or SQL text
// appears in its logs or in any response body. Only a 12-digit hash prefix
// of a refused token may be logged.
func TestNothingLeaks(t *testing.T) {
	t.Parallel()
	pgtest.Skip(t, pg)
	kit := testkit.New(t)
	url := pg.Schema(t)
	cfgFile := filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(cfgFile, []byte("rate_limit:\n  clients:\n    mis-beta: {rps: 0.001, burst: 1}\n"), 0o600))
	env := append([]string{"JOBSTATUS_DATABASE_URL=" + url, "JOBSTATUS_LOG_LEVEL=debug", "JOBSTATUS_CONFIG=" + cfgFile,
		"JOBSTATUS_DATABASE_QUERY_TIMEOUT=300ms"}, authEnv(kit)...)
	svc := serve(t, env)
	job := mustJob(t, jobstatus(t, []string{"JOBSTATUS_DATABASE_URL=" + url}, "jobs", "create", "--client", testkit.ClientA))

	var secrets []string
	var bodies []string
	send := func(method, path string, h http.Header) int {
		secrets = append(secrets, strings.TrimPrefix(h.Get("Authorization"), "Bearer "), h.Get("Api-Key"))
		r := get(t, svc, method, path, h)
		bodies = append(bodies, string(r.Raw))
		return r.Status
	}
	good := creds(kit.Token(testkit.ClientA), testkit.KeyA)
	seen := map[int]bool{}
	for _, bad := range kit.BadTokens() {
		if len(bad.Token) > 20 {
			seen[send("GET", jobPath(job.ID), creds(bad.Token, testkit.KeyA))] = true
		}
	}
	seen[send("GET", jobPath(job.ID), creds(kit.Token(testkit.ClientA), "wrong-"+testkit.KeyA))] = true
	seen[send("GET", jobPath(job.ID), creds(kit.Token(testkit.ClientB), testkit.KeyA))] = true
	noScope := testkit.Claims(testkit.ClientA)
	noScope["scope"] = "composition:create"
	seen[send("GET", jobPath(job.ID), creds(kit.Sign(kit.Header(), noScope), testkit.KeyA))] = true
	seen[send("GET", jobPath("not-a-uuid"), good)] = true
	seen[send("GET", jobPath("00000000-0000-4000-8000-000000000000"), good)] = true
	seen[send("DELETE", jobPath(job.ID), good)] = true
	big := creds(kit.Token(testkit.ClientA), testkit.KeyA)
	big.Set("X-Pad", strings.Repeat("p", 20<<10))
	seen[send("GET", jobPath(job.ID), big)] = true
	beta := creds(kit.Token(testkit.ClientB), testkit.KeyB)
	send("GET", jobPath(job.ID), beta)
	seen[send("GET", jobPath(job.ID), beta)] = true // over its limit

	db, err := postgres.Open(url, pgtest.Pool(1))
	require.NoError(t, err)
	defer db.Close()
	tx, err := db.Begin()
	require.NoError(t, err)
	_, err = tx.Exec("LOCK TABLE async_jobs IN ACCESS EXCLUSIVE MODE")
	require.NoError(t, err)
	// Jobs the service knows are answered from memory: these two ask for
	// one it has never seen, so they reach the database.
	unseen := jobPath("00000000-0000-4000-8000-00000000aaaa")
	seen[send("GET", unseen, good)] = true // 503: statement timed out
	require.NoError(t, tx.Rollback())
	_, err = db.Exec("ALTER TABLE async_jobs DROP COLUMN error_message CASCADE")
	require.NoError(t, err)
	seen[send("GET", unseen, good)] = true // 500: a column the query names is gone

	for _, code := range []int{400, 401, 403, 404, 405, 429, 431, 500, 503} {
		require.True(t, seen[code], "no request produced %d: %v", code, seen)
	}

	_ = svc.Terminate(20 * time.Second)
	logs := svc.Stderr.String()
	require.Contains(t, logs, `"token_sha256":"`, "refused tokens are identified by a hash prefix")
	sql := regexp.MustCompile(`(?i)\b(select|insert|update|delete)\s+(\w+|\*)\s+(from|into|set)\b|async_jobs\s+(where|set)`)
	for _, text := range append([]string{logs}, bodies...) {
		for _, s := range secrets {
			if len(s) >= 8 {
				require.NotContains(t, text, s)
			}
		}
		require.NotContains(t, text, "jobstatus-test", "the database password")
		require.False(t, sql.MatchString(text), "SQL text leaked: %s", sql.FindString(text))
	}
	for _, b := range bodies {
		require.NotContains(t, b, "pq:")
		require.NotContains(t, b, "goroutine")
	}
}

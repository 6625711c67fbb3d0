package e2e

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/test/pgtest"
	"github.com/jobstatus/jobstatus/test/testkit"
)

// TestFrozenDatabase freezes PostgreSQL under the real binary (docker
// pause: the kernel still accepts connections, nothing answers). Requests
// that need the database were held until it came back, and SIGTERM exited
// 1; now they get 503 with Retry-After, /readyz says 503, and SIGTERM
// during the freeze exits 0.
func TestFrozenDatabase(t *testing.T) {
	t.Parallel()
	pgtest.Skip(t, pg)
	own := ownPostgres(t)
	kit := testkit.New(t)
	dbEnv := []string{"JOBSTATUS_DATABASE_URL=" + own.URL("")}
	migrated := jobstatus(t, dbEnv, "migrate")
	require.Equal(t, 0, migrated.code, migrated.stderr)
	admin := adminAddr(t)
	svc := serve(t, append(append(dbEnv, authEnv(kit)...), "JOBSTATUS_RATE_LIMIT_RPS=0", "JOBSTATUS_ADMIN_ADDR="+admin,
		"JOBSTATUS_DATABASE_QUERY_TIMEOUT=500ms"))
	code, body := adminGet(t, admin, "/readyz")
	require.Equal(t, http.StatusOK, code, body)

	ctx := context.Background()
	require.NoError(t, own.Pause(ctx))
	t.Cleanup(func() { _ = own.Unpause(context.Background()) })
	for range 3 { // more than once: a request that gave up does not leave the next one waiting
		r := get(t, svc, "GET", jobPath(domain.NewID().String()), creds(kit.Token(testkit.ClientA), testkit.KeyA))
		require.Equal(t, http.StatusServiceUnavailable, r.Status, string(r.Raw))
		require.NotEmpty(t, r.Header.Get("Retry-After"))
		require.Contains(t, string(r.Raw), `"service_unavailable"`)
	}
	code, body = adminGet(t, admin, "/readyz")
	require.Equal(t, http.StatusServiceUnavailable, code, body)

	require.NoError(t, svc.Terminate(60*time.Second), "SIGTERM during the freeze exits 0:\n%s", svc.Stderr.String())
}

// TestUnmigratedDatabase: a schema never migrated (undefined_table) is a
// 503 with Retry-After until someone runs jobstatus migrate, not a 500.
func TestUnmigratedDatabase(t *testing.T) {
	t.Parallel()
	pgtest.Skip(t, pg)
	kit := testkit.New(t)
	svc := serve(t, append(authEnv(kit), "JOBSTATUS_DATABASE_URL="+pg.URL(pg.BareSchema(t)), "JOBSTATUS_RATE_LIMIT_RPS=0"))
	r := get(t, svc, "GET", jobPath(domain.NewID().String()), creds(kit.Token(testkit.ClientA), testkit.KeyA))
	require.Equal(t, http.StatusServiceUnavailable, r.Status, string(r.Raw))
	require.NotEmpty(t, r.Header.Get("Retry-After"))
}

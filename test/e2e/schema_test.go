package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/adapters/postgres"
	"github.com/jobstatus/jobstatus/test/pgtest"
	"github.com/jobstatus/jobstatus/test/testkit"
)

// schemaStatus is what `migrate status` prints.
type schemaStatus struct {
	Version  int64   `json:"version"`
	Expected int64   `json:"expected"`
	Applied  []int64 `json:"applied"`
	Pending  []int64 `json:"pending"`
	State    string  `json:"state"`
}

func migrateStatus(t *testing.T, env []string) schemaStatus {
	t.Helper()
	r := jobstatus(t, env, "migrate", "status")
	require.Equal(t, 0, r.code, r.stderr)
	var s schemaStatus
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &s), r.stdout)
	return s
}

// TestSchemaAwareness: against a database never migrated, /readyz is 503
// naming the version found and the one needed (once it said ready and
// every request answered 500), and serve logs the same at start; `migrate
// status` prints applied and pending versions; `migrate` refuses a
// database newer than itself with exit 1 and a sentence (once it reported
// success).
func TestSchemaAwareness(t *testing.T) {
	t.Parallel()
	pgtest.Skip(t, pg)
	kit := testkit.New(t)
	url := pg.URL(pg.BareSchema(t))
	env := []string{"JOBSTATUS_DATABASE_URL=" + url}
	versions := postgres.EmbeddedVersions()
	need := versions[len(versions)-1]
	notReady := fmt.Sprintf("schema version 0, this binary needs %d: run jobstatus migrate", need)

	s := migrateStatus(t, env)
	require.Equal(t, schemaStatus{Version: 0, Expected: need, Applied: []int64{}, Pending: versions, State: notReady}, s)

	admin := adminAddr(t)
	svc := serve(t, append(append([]string{"JOBSTATUS_ADMIN_ADDR=" + admin}, env...), authEnv(kit)...))
	code, body := adminGet(t, admin, "/readyz")
	require.Equal(t, 503, code, body)
	require.Contains(t, body, `"schema":"not ready: `+notReady+`"`)
	testkit.Eventually(t, 10*time.Second, func() bool { return strings.Contains(svc.Stderr.String(), notReady) },
		"serve logs the schema state at start")

	m := jobstatus(t, env, "migrate")
	require.Equal(t, 0, m.code, m.stderr)
	s = migrateStatus(t, env)
	require.Equal(t, schemaStatus{Version: need, Expected: need, Applied: versions, Pending: []int64{},
		State: fmt.Sprintf("schema version %d, as this binary needs", need)}, s)
	// Ready once the change feed has read the new log (its heartbeat).
	testkit.Eventually(t, 10*time.Second, func() bool {
		code, body = adminGet(t, admin, "/readyz")
		return code == 200
	}, "ready once migrated")

	// A newer binary migrated this database: this one refuses to touch it.
	db, err := postgres.Open(url, pgtest.Pool(1))
	require.NoError(t, err)
	defer db.Close()
	_, err = db.ExecContext(context.Background(), `INSERT INTO goose_db_version (version_id, is_applied) VALUES ($1, true)`, need+1)
	require.NoError(t, err)
	m = jobstatus(t, env, "migrate")
	require.Equal(t, 1, m.code, m.stdout)
	require.Equal(t, fmt.Sprintf("jobstatus: database schema is newer than this binary: the database is at version %d, this binary knows up to %d; run a newer jobstatus\n", need+1, need), m.stderr)
	require.Empty(t, m.stdout)
	s = migrateStatus(t, env)
	require.Equal(t, need+1, s.Version)
	require.Empty(t, s.Pending)
	code, body = adminGet(t, admin, "/readyz")
	require.Equal(t, 200, code, "a newer schema serves (rolling upgrade): %s", body)
}

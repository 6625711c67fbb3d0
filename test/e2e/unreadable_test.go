package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/adapters/postgres"
	"github.com/jobstatus/jobstatus/test/pgtest"
	"github.com/jobstatus/jobstatus/test/testkit"
)

// TestJobsTheServiceCannotRead runs the binary on a table where an
// operator's SQL left two jobs the service cannot read (an eta of
// 'infinity', links of numbers: nothing in the schema refuses such
// values). Each fails alone: its owner's poll answers 500, anyone
// else's 404, the listing answers the owner's other jobs and names it in
// meta.unreadable, the log names the job and the column, and `jobs get`
// says which column. Before, the eta failed the owner's whole listing
// with 500 and the change feed stopped at it on every instance.
func TestJobsTheServiceCannotRead(t *testing.T) {
	t.Parallel()
	pgtest.Skip(t, pg)
	kit := testkit.New(t)
	url := pg.Schema(t)
	dbEnv := []string{"JOBSTATUS_DATABASE_URL=" + url}
	create := func(client string) string {
		return mustJob(t, jobstatus(t, dbEnv, "jobs", "create", "--client", client)).ID
	}
	older, badEta, badLinks, newer := create(testkit.ClientA), create(testkit.ClientA), create(testkit.ClientB), create(testkit.ClientA)
	db, err := postgres.Open(url, pgtest.Pool(1))
	require.NoError(t, err)
	defer db.Close()
	pgtest.WriteUnchecked(t, db,
		`UPDATE async_jobs SET eta = 'infinity' WHERE id = '`+badEta+`'`,
		`UPDATE async_jobs SET links = '[1]' WHERE id = '`+badLinks+`'`)
	svc := serve(t, append(append([]string{}, dbEnv...), authEnv(kit)...))
	alpha, beta := creds(kit.Token(testkit.ClientA), testkit.KeyA), creds(kit.Token(testkit.ClientB), testkit.KeyB)

	for _, tt := range []struct {
		name, id string
		owner    bool
		status   int
	}{
		{"OwnersPollOfTheEta", badEta, true, 500},
		{"OthersPollOfTheEta", badEta, false, 404},
		{"OwnersPollOfTheLinks", badLinks, true, 500},
		{"OthersPollOfTheLinks", badLinks, false, 404},
	} {
		h := alpha
		if (tt.id == badLinks) == tt.owner {
			h = beta
		}
		r := get(t, svc, "GET", jobPath(tt.id), h)
		require.Equal(t, tt.status, r.Status, "%s: %s", tt.name, r.Raw)
		require.NotContains(t, string(r.Raw), "infinity", tt.name)
	}

	r := get(t, svc, "GET", "/patients/composition/jobs", alpha)
	require.Equal(t, 200, r.Status, string(r.Raw))
	var page struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
		Meta struct {
			Unreadable []string `json:"unreadable"`
		} `json:"meta"`
	}
	require.NoError(t, json.Unmarshal(r.Raw, &page))
	require.Len(t, page.Data, 2)
	require.Equal(t, []string{newer, older}, []string{page.Data[0].ID, page.Data[1].ID})
	require.Equal(t, []string{badEta}, page.Meta.Unreadable)

	testkit.Eventually(t, 10*time.Second, func() bool {
		for _, line := range strings.Split(svc.Stderr.String(), "\n") {
			var entry map[string]any
			if json.Unmarshal([]byte(line), &entry) == nil && entry["job_id"] == badEta && entry["column"] == "eta" {
				return true
			}
		}
		return false
	}, "a log line names the job and the column")

	got := jobstatus(t, dbEnv, "jobs", "get", badEta)
	require.Equal(t, 1, got.code, got.stderr)
	require.Contains(t, got.stderr, badEta)
	require.Contains(t, got.stderr, "eta")
}

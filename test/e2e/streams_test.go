package e2e

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/client"
	"github.com/jobstatus/jobstatus/test/pgtest"
	"github.com/jobstatus/jobstatus/test/testkit"
)

// TestStreamAcrossServeProcesses: two `jobstatus serve` processes on one
// database. Changes made by the jobs command reach a client watching A, in
// order, and only its own; disconnected, it resumes on B with its last id
// and gets exactly what it missed; A shuts down cleanly with a stream open.
func TestStreamAcrossServeProcesses(t *testing.T) {
	t.Parallel()
	pgtest.Skip(t, pg)
	kit := testkit.New(t)
	dbEnv := []string{"JOBSTATUS_DATABASE_URL=" + pg.URL(pg.BareSchema(t))}
	m := jobstatus(t, dbEnv, "migrate")
	require.Equal(t, 0, m.code, m.stderr)
	env := append(append(dbEnv, authEnv(kit)...), "JOBSTATUS_EVENTS_POLL=1h", "JOBSTATUS_EVENTS_STALENESS_BOUND=2h") // only the doorbell wakes the feeds
	a, b := serve(t, env), serve(t, env)
	watcher := func(p *testkit.Process) *client.Client {
		c, err := client.New(p.URL, client.WithToken(kit.Token(testkit.ClientA)), client.WithAPIKey(testkit.KeyA),
			client.WithBackoff(20*time.Millisecond, 200*time.Millisecond))
		require.NoError(t, err)
		return c
	}

	w := testkit.Watch(watcher(a), "0")
	first := mustJob(t, jobstatus(t, dbEnv, "jobs", "create", "--client", testkit.ClientA))
	w.WaitFor(t, 1)
	mustJob(t, jobstatus(t, dbEnv, "jobs", "create", "--client", testkit.ClientB))
	mustJob(t, jobstatus(t, dbEnv, "jobs", "complete", first.ID, "--link", "composition=/patients/p/encounter/e/composition/c"))
	got := w.WaitFor(t, 2)
	require.Equal(t, first.ID, got[1].Job.ID)
	require.Equal(t, "DONE", got[1].Event, "live from another process, through PostgreSQL")
	before := w.Stop()
	require.Len(t, before, 2, "nothing of mis-beta's")

	var want []string
	for range 5 {
		j := mustJob(t, jobstatus(t, dbEnv, "jobs", "create", "--client", testkit.ClientA))
		want = append(want, j.ID+"/PENDING")
		mustJob(t, jobstatus(t, dbEnv, "jobs", "fail", j.ID, "--code", "422", "--message", "Signature is not valid"))
		want = append(want, j.ID+"/FAILED")
	}
	again := testkit.Watch(watcher(b), before[1].ID)
	resumed := again.WaitFor(t, len(want))
	var order []string
	for _, ch := range resumed {
		order = append(order, ch.Job.ID+"/"+ch.Event)
	}
	require.Equal(t, want, order)

	// A shuts down with a stream open: the stream ends, so the drain
	// completes and serve exits 0 (a stream still held when the shutdown
	// timeout passes makes serve exit 1).
	held := testkit.Watch(watcher(a), "")
	testkit.Eventually(t, 30*time.Second, func() bool {
		r := get(t, a, "GET", "/patients/composition/jobs?page_size=1", creds(kit.Token(testkit.ClientA), testkit.KeyA))
		return r.Status == 200
	}, "A answers")
	require.NoError(t, a.Terminate(40*time.Second), a.Stderr.String())
	held.Stop()
	require.Len(t, again.Stop(), len(want), "nothing repeated")
}

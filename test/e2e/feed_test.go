package e2e

import (
	"context"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/adapters/postgres"
	"github.com/jobstatus/jobstatus/test/pgtest"
	"github.com/jobstatus/jobstatus/test/testkit"
)

// staleness is the service's default JOBSTATUS_EVENTS_STALENESS_BOUND.
const staleness = time.Second

// TestStalledFeedStaysWithinItsBound stops, with SIGSTOP, the PostgreSQL
// backends of an instance's change feed and doorbell — their connections
// stay open and silent, as a half-open connection through a NAT or a load
// balancer does — and finishes a job the instance holds in memory. Every
// poll that begins more than the staleness bound after the change was
// acknowledged answers it (docs/read-model.md, invariant 2); once the
// backends run again, the feed vouches for memory again.
func TestStalledFeedStaysWithinItsBound(t *testing.T) {
	t.Parallel()
	pgtest.Skip(t, pg)
	kit := testkit.New(t)
	url := pg.Schema(t)
	tag := "stall-" + strings.ToLower(rand.Text()[:8])
	admin := adminAddr(t)
	svc := serve(t, append([]string{"JOBSTATUS_DATABASE_URL=" + url + "&application_name=" + tag, "JOBSTATUS_ADMIN_ADDR=" + admin,
		"JOBSTATUS_RATE_LIMIT_RPS=0"}, authEnv(kit)...)) // the test polls as fast as it can
	testkit.Eventually(t, 20*time.Second, func() bool {
		code, body := adminGet(t, admin, "/readyz")
		return code == 200 && strings.Contains(body, `"feed":"ok`)
	}, "the feed vouches for memory")

	h := creds(kit.Token(testkit.ClientA), testkit.KeyA)
	job := mustJob(t, jobstatus(t, []string{"JOBSTATUS_DATABASE_URL=" + url}, "jobs", "create", "--client", testkit.ClientA))
	require.Equal(t, "PENDING", status(get(t, svc, "GET", jobPath(job.ID), h)), "now held in memory")

	db, err := postgres.Open(url, pgtest.Pool(1))
	require.NoError(t, err)
	defer db.Close()
	ctx := context.Background()
	// The feed's pool connects when the feed first reads the log, which
	// the doorbell of the create above starts but need not have finished:
	// wait until both the pool's and the doorbell's backends are there.
	var pids []int
	testkit.Eventually(t, 10*time.Second, func() bool {
		var backends []struct {
			PID  int    `db:"pid"`
			Name string `db:"application_name"`
		}
		require.NoError(t, db.SelectContext(ctx, &backends,
			`SELECT pid, application_name FROM pg_stat_activity WHERE application_name IN ($1, $2)`, tag+"-feed", tag+"-listener"))
		pids = pids[:0]
		names := map[string]bool{}
		for _, b := range backends {
			pids = append(pids, b.PID)
			names[b.Name] = true
		}
		return len(names) == 2
	}, "the feed's pool and the doorbell, each on connections of its own")
	for _, pid := range pids {
		require.NoError(t, pg.Signal(ctx, pid, "STOP"))
	}
	defer func() {
		for _, pid := range pids {
			_ = pg.Signal(context.Background(), pid, "CONT")
		}
	}()

	_, err = db.ExecContext(ctx, `UPDATE async_jobs SET status = 'DONE', links = '[{"entity":"composition","href":"/patients/p/encounter/e/composition/c"}]',
		finished_at = now(), updated_at = now() WHERE id = $1`, job.ID)
	require.NoError(t, err)
	acked := time.Now()

	var stale, polls int
	for time.Since(acked) < 3*staleness {
		began := time.Now()
		r := get(t, svc, "GET", jobPath(job.ID), h)
		got := status(r)
		polls++
		if began.Sub(acked) > staleness {
			require.Equal(t, "DONE", got, "a poll begun %s after the change was acknowledged: %d %s", began.Sub(acked), r.Status, r.Raw)
		} else if got != "DONE" {
			stale++
		}
	}
	t.Logf("%d polls; %d answered the older state, all within %s of the change", polls, stale, staleness)

	for _, pid := range pids {
		require.NoError(t, pg.Signal(ctx, pid, "CONT"))
	}
	testkit.Eventually(t, 20*time.Second, func() bool {
		_, body := adminGet(t, admin, "/metrics")
		return strings.Contains(body, "\njobstatus_feed_up 1\n")
	}, "the feed vouches for memory again")
	require.Equal(t, "DONE", status(get(t, svc, "GET", jobPath(job.ID), h)))
}

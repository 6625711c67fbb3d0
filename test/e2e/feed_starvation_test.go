package e2e

import (
	"context"
	"crypto/rand"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/adapters/postgres"
	"github.com/jobstatus/jobstatus/test/pgtest"
	"github.com/jobstatus/jobstatus/test/testkit"
)

// TestStreamReplaysDoNotStarveTheFeed: the feed reads the log's changes
// on a pool of its own (FeedPoolConns), and the streams' replays run on the
// store's pool: two clients resuming their streams while their replay is
// slow (a transaction holds a lock on async_jobs, which the replay's query
// joins and the feed's does not) leave the feed reading, and the instance
// keeps vouching for memory. (Found by a reviewer: the replays ran on the
// feed's pool and took both its connections.)
func TestStreamReplaysDoNotStarveTheFeed(t *testing.T) {
	t.Parallel()
	pgtest.Skip(t, pg)
	kit := testkit.New(t)
	url := pg.Schema(t)
	tag := "starve-" + strings.ToLower(rand.Text()[:8])
	admin := adminAddr(t)
	svc := serve(t, append([]string{"JOBSTATUS_DATABASE_URL=" + url + "&application_name=" + tag, "JOBSTATUS_ADMIN_ADDR=" + admin,
		"JOBSTATUS_RATE_LIMIT_RPS=0", "JOBSTATUS_DATABASE_QUERY_TIMEOUT=15s"}, authEnv(kit)...))
	feedOK := func() bool {
		code, body := adminGet(t, admin, "/readyz")
		return code == 200 && strings.Contains(body, `"feed":"ok`)
	}
	testkit.Eventually(t, 20*time.Second, feedOK, "the feed vouches for memory")
	for range 3 {
		mustJob(t, jobstatus(t, []string{"JOBSTATUS_DATABASE_URL=" + url}, "jobs", "create", "--client", testkit.ClientA))
	}

	db, err := postgres.Open(url, pgtest.Pool(2)) // the locking transaction and a look at pg_stat_activity
	require.NoError(t, err)
	defer db.Close()
	ctx := context.Background()
	tx, err := db.BeginTxx(ctx, nil)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback() }()
	_, err = tx.ExecContext(ctx, "LOCK TABLE async_jobs IN ACCESS EXCLUSIVE MODE")
	require.NoError(t, err)

	// The lock alone: the feed reads only the log and stays within its bound.
	for start := time.Now(); time.Since(start) < 3*staleness; {
		require.True(t, feedOK(), "a lock on async_jobs alone must not stop the feed")
	}

	// Two clients resume their streams: their replays wait on the lock.
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range 2 {
		req, err := http.NewRequestWithContext(sctx, http.MethodGet, svc.URL+"/patients/composition/jobs/events", nil)
		require.NoError(t, err)
		req.Header = creds(kit.Token(testkit.ClientA), testkit.KeyA)
		req.Header.Set("Accept", "text/event-stream")
		req.Header.Set("Last-Event-ID", "0")
		go func() {
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Logf("stream: %v", err)
				return
			}
			defer resp.Body.Close()
			_, _ = io.Copy(io.Discard, resp.Body) // held open until the test ends
		}()
	}
	testkit.Eventually(t, 10*time.Second, func() bool {
		var n int
		_ = db.GetContext(ctx, &n, `SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`, tag)
		return n == 2
	}, "both replays wait on the lock, on the store's connections (not the feed's)")

	for start := time.Now(); time.Since(start) < 3*staleness; {
		code, body := adminGet(t, admin, "/readyz")
		require.True(t, code == 200 && strings.Contains(body, `"feed":"ok`),
			"two stream replays took the feed's pool: the instance no longer vouches for memory: %d %s", code, body)
	}
}

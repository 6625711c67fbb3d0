package e2e

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/test/pgtest"
	"github.com/jobstatus/jobstatus/test/testkit"
)

// TestGracefulShutdown sends SIGTERM to the real binary under load, with
// requests held by Prefer: wait: every request already sent is answered
// (held ones with the current state), none gets a reset or a 5xx, and the
// process exits 0 well before the held requests' own timeout.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	pgtest.Skip(t, pg)
	kit := testkit.New(t)
	dbEnv := []string{"JOBSTATUS_DATABASE_URL=" + pg.Schema(t)}
	admin := adminAddr(t)
	svc := serve(t, append(append(dbEnv, authEnv(kit)...), "JOBSTATUS_RATE_LIMIT_RPS=0", "JOBSTATUS_ADMIN_ADDR="+admin))
	pending := mustJob(t, jobstatus(t, dbEnv, "jobs", "create", "--client", testkit.ClientA))
	done := mustJob(t, jobstatus(t, dbEnv, "jobs", "create", "--client", testkit.ClientA))
	mustJob(t, jobstatus(t, dbEnv, "jobs", "complete", done.ID, "--link", "composition=/c"))
	token := kit.Token(testkit.ClientA)

	do := func(c *http.Client, id string, wait bool) (int, string, error) {
		req, _ := http.NewRequest("GET", svc.URL+jobPath(id), nil)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("api-key", testkit.KeyA)
		if wait {
			req.Header.Set("Prefer", "wait=30")
		}
		res, err := c.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		return res.StatusCode, string(body), err
	}

	var (
		terminated atomic.Bool
		mu         sync.Mutex
		problems   []string
		answered   atomic.Int64
		refused    atomic.Int64
		wg         sync.WaitGroup
	)
	record := func(status int, err error, sentBefore bool) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err != nil && errors.Is(err, syscall.ECONNREFUSED):
			// Dialled after the listener closed: refused at once, which a
			// client or balancer retries elsewhere; never a reset.
			refused.Add(1)
		case err != nil:
			problems = append(problems, fmt.Sprintf("sent before SIGTERM=%v: %v", sentBefore, err))
		case status >= 500:
			problems = append(problems, fmt.Sprintf("status %d", status))
		default:
			answered.Add(1)
		}
	}
	// Pollers on a finished job, on their own keep-alive connections.
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Transport: &http.Transport{}, Timeout: 20 * time.Second}
			for {
				before := !terminated.Load()
				status, _, err := do(c, done.ID, false)
				record(status, err, before)
				if !before || err != nil {
					return
				}
			}
		}()
	}
	// Held requests on the pending job.
	held := make(chan string, 3)
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Transport: &http.Transport{}, Timeout: 40 * time.Second}
			status, body, err := do(c, pending.ID, true)
			record(status, err, true)
			if err == nil && status == 200 {
				held <- body
			}
		}()
	}
	// Load running (some answers in) and the three held requests parked.
	testkit.Eventually(t, 20*time.Second, func() bool { return answered.Load() >= 6 }, "pollers answered")
	awaitWaiters(t, admin, 3)
	start := time.Now()
	terminated.Store(true)
	require.NoError(t, svc.Terminate(30*time.Second), "stopped in time with exit status 0:\n%s", svc.Stderr.String())
	took := time.Since(start)
	wg.Wait()
	close(held)

	mu.Lock()
	defer mu.Unlock()
	require.Empty(t, problems)
	require.Positive(t, answered.Load())
	require.Len(t, held, 3, "every held request was answered")
	for body := range held {
		require.Contains(t, body, `"status":"PENDING"`, "held requests get the current state")
	}
	require.Less(t, took, 15*time.Second, "held requests do not delay the shutdown to their 30 s wait")
	t.Logf("answered %d, refused after close %d, shutdown took %s", answered.Load(), refused.Load(), took)
}

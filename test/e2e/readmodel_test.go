package e2e

import (
	"context"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/adapters/postgres"
	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/test/pgtest"
	"github.com/jobstatus/jobstatus/test/testkit"
)

// instance is one of several `jobstatus serve` processes on one database.
type instance struct {
	svc   *testkit.Process
	admin string
}

func status(r testkit.Reply) string {
	data, _ := r.Body["data"].(map[string]any)
	s, _ := data["status"].(string)
	return s
}

// TestThreeInstances runs three service processes on one PostgreSQL. A job
// finished with the jobs command is seen by polls, and wakes Prefer: wait
// waiters, on all three; a purge turns it into 404 on all three; a killed
// doorbell (LISTEN) connection never leaves an instance answering the
// older state: the feed's heartbeat reads the log all the same.
// The delays from change to visibility are logged, not asserted.
func TestThreeInstances(t *testing.T) {
	t.Parallel()
	pgtest.Skip(t, pg)
	kit := testkit.New(t)
	url := pg.Schema(t)
	dbEnv := []string{"JOBSTATUS_DATABASE_URL=" + url}
	tag := "e2e-" + strings.ToLower(rand.Text()[:10]) // names this test's listeners in pg_stat_activity
	var all []instance
	for range 3 {
		admin := adminAddr(t)
		env := append([]string{"JOBSTATUS_DATABASE_URL=" + url + "&application_name=" + tag, "JOBSTATUS_ADMIN_ADDR=" + admin}, authEnv(kit)...)
		all = append(all, instance{serve(t, env), admin})
	}
	for _, in := range all {
		testkit.Eventually(t, 20*time.Second, func() bool {
			code, body := adminGet(t, in.admin, "/readyz")
			return code == 200 && strings.Contains(body, `"feed":"ok`)
		}, "instance ready, its feed within its bound")
	}
	h := creds(kit.Token(testkit.ClientA), testkit.KeyA)
	poll := func(in instance, id string) testkit.Reply { return get(t, in.svc, "GET", jobPath(id), h) }
	create := func() string {
		job := mustJob(t, jobstatus(t, dbEnv, "jobs", "create", "--client", testkit.ClientA))
		for _, in := range all {
			require.Equal(t, "PENDING", status(poll(in, job.ID)), "every instance now holds it in memory")
		}
		return job.ID
	}
	complete := func(id string) time.Time {
		mustJob(t, jobstatus(t, dbEnv, "jobs", "complete", id, "--link", "composition=/patients/p/encounter/e/composition/c"))
		return time.Now()
	}

	t.Run("WaitersOnEveryInstanceWake", func(t *testing.T) {
		id := create()
		wait := creds(kit.Token(testkit.ClientA), testkit.KeyA)
		wait.Set("Prefer", "wait=20")
		type answer struct {
			n  int
			r  testkit.Reply
			at time.Time
		}
		answers := make(chan answer, len(all))
		for n, in := range all {
			go func() {
				r := testkit.Do(t, nil, "GET", in.svc.URL+jobPath(id), wait, nil)
				answers <- answer{n, r, time.Now()}
			}()
		}
		for _, in := range all {
			awaitWaiters(t, in.admin, 1)
		}
		changed := complete(id)
		for range all {
			select {
			case a := <-answers:
				require.Equal(t, 200, a.r.Status, string(a.r.Raw))
				require.Equal(t, "DONE", status(a.r))
				require.Equal(t, "wait=20", a.r.Header.Get("Preference-Applied"))
				t.Logf("instance %d: held request answered %s after the jobs command exited", a.n, a.at.Sub(changed))
			case <-time.After(25 * time.Second):
				t.Fatal("a held request never answered")
			}
		}
		for n, in := range all {
			require.Equal(t, "DONE", status(poll(in, id)), "instance %d: a poll after the wake-up sees the change", n)
		}
	})

	var purgedID string
	t.Run("PollsOnEveryInstanceSeeTheChange", func(t *testing.T) {
		id := create()
		changed := complete(id)
		for n, in := range all {
			r := eventually(t, 10*time.Second, func() testkit.Reply { return poll(in, id) },
				func(r testkit.Reply) bool { return status(r) == "DONE" })
			require.Equal(t, "DONE", status(r))
			t.Logf("instance %d: change visible to polls %s after the jobs command exited", n, time.Since(changed))
		}
		purgedID = id
	})

	t.Run("PurgeIs404OnEveryInstance", func(t *testing.T) {
		r := jobstatus(t, dbEnv, "jobs", "purge", "--older-than", "1ms")
		require.Equal(t, 0, r.code, r.stderr)
		purged := time.Now()
		for n, in := range all {
			got := eventually(t, 10*time.Second, func() testkit.Reply { return poll(in, purgedID) },
				func(r testkit.Reply) bool { return r.Status == 404 })
			require.Equal(t, 404, got.Status)
			t.Logf("instance %d: purge visible (404) %s after the purge command exited", n, time.Since(purged))
			require.Equal(t, 404, poll(in, purgedID).Status, "and it stays gone")
		}
	})

	t.Run("KilledDoorbellLeavesNoStaleAnswer", func(t *testing.T) {
		id := create()
		db, err := postgres.Open(url, pgtest.Pool(1))
		require.NoError(t, err)
		defer db.Close()
		var killed int
		require.NoError(t, db.GetContext(context.Background(), &killed,
			`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`, tag+"-listener"))
		require.Equal(t, len(all), killed, "one doorbell per instance, outside the pool")
		changed := complete(id) // possibly while the listeners are away
		for n, in := range all {
			r := eventually(t, 10*time.Second, func() testkit.Reply { return poll(in, id) },
				func(r testkit.Reply) bool { return status(r) == "DONE" })
			require.Equal(t, "DONE", status(r), "instance %d never serves the older state for good", n)
			t.Logf("instance %d: change after a killed listener visible %s after the command exited", n, time.Since(changed))
			for range 5 {
				require.Equal(t, "DONE", status(poll(in, id)), "and never goes back to it")
			}
			testkit.Eventually(t, 20*time.Second, func() bool {
				_, body := adminGet(t, in.admin, "/metrics")
				return strings.Contains(body, "\njobstatus_feed_up 1\n")
			}, "the feed vouches for memory")
		}
	})

	// Hand-written SQL that moves a job to another id or owner: every
	// instance holding the job in memory stops serving it where it was.
	t.Run("RowsMovedInSQL", func(t *testing.T) {
		db, err := postgres.Open(url, pgtest.Pool(1))
		require.NoError(t, err)
		defer db.Close()
		tests := []struct {
			name  string
			move  string // SQL with $1 the job's id and $2 a fresh id
			moved bool   // the fresh id is 200 to its owner
		}{
			{"IDChanged", `UPDATE async_jobs SET id = $2 WHERE id = $1`, true},
			{"OwnerChanged", `UPDATE async_jobs SET client_id = 'mis-other' WHERE id = $1 AND $2 <> ''`, false},
			{"OwnerAndIDChanged", `UPDATE async_jobs SET id = $2, client_id = 'mis-other' WHERE id = $1`, false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				id := create() // and every instance has it in memory
				fresh := domain.NewID().String()
				_, err := db.ExecContext(context.Background(), tt.move, id, fresh)
				require.NoError(t, err)
				for n, in := range all {
					r := eventually(t, 10*time.Second, func() testkit.Reply { return poll(in, id) },
						func(r testkit.Reply) bool { return r.Status == 404 })
					require.Equal(t, 404, r.Status, "instance %d: the old place is gone", n)
					require.Equal(t, 404, poll(in, id).Status, "instance %d: and stays gone", n)
					want := 404
					if tt.moved {
						want = 200
					}
					require.Equal(t, want, poll(in, fresh).Status, "instance %d: the new id", n)
				}
			})
		}
	})
}

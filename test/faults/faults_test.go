// Package faults runs the service in-process against PostgreSQL in a
// container and breaks the database under it: slow statements, a crash and
// a restart under load. Answers must be 200 or 503 with Retry-After, never
// a 500 or a hang, the service must recover by itself, and stopping it must
// leave no goroutine behind.
package faults

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/goleak"
	"go.uber.org/zap"

	"github.com/jobstatus/jobstatus/adapters/postgres"
	"github.com/jobstatus/jobstatus/app"
	"github.com/jobstatus/jobstatus/bootstrap"
	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/test/pgtest"
	"github.com/jobstatus/jobstatus/test/testkit"
)

var pg *pgtest.Postgres

func TestMain(m *testing.M) {
	os.Exit(pgtest.Main(m, func(p *pgtest.Postgres) int {
		pg = p
		return m.Run()
	}))
}

// service is the whole serve graph, in this process.
type service struct {
	url string
	app *app.Operator
	fx  *fx.App
	kit *testkit.Kit
}

func start(t *testing.T, dbURL string, queryTimeout time.Duration) *service {
	t.Helper()
	kit := testkit.New(t)
	cfg := bootstrap.DefaultConfig()
	cfg.HTTP.Addr = "127.0.0.1:" + strconv.Itoa(testkit.FreePort(t))
	cfg.AdminAddr, cfg.Internal.Addr = "", ""
	cfg.Database.URL = dbURL
	cfg.Database.QueryTimeout = queryTimeout
	cfg.Auth.JWKSFile, cfg.Auth.Issuer, cfg.Auth.Audience, cfg.APIKeysFile = kit.JWKSFile, testkit.Issuer, testkit.Audience, kit.KeysFile
	cfg.RateLimit.RPS = 0
	require.NoError(t, cfg.Validate(bootstrap.ModeServe))
	s := &service{url: "http://" + cfg.HTTP.Addr, kit: kit}
	s.fx = fx.New(bootstrap.ServeOptions(cfg, zap.NewNop()), fx.Populate(&s.app), fx.NopLogger)
	require.NoError(t, s.fx.Err())
	require.NoError(t, s.fx.Start(context.Background()))
	return s
}

// noLeaks fails if goroutines started since before are still running after
// a grace period: lib/pq's listener ends its reconnect sleep (at most 2 s)
// before it notices it was closed.
func noLeaks(t *testing.T, before goleak.Option) {
	t.Helper()
	testkit.Within(10*time.Second, func() bool { return goleak.Find(before) == nil })
	goleak.VerifyNone(t, before)
}

func (s *service) stop(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, s.fx.Stop(ctx))
}

// client has its own connections, closed when the test ends.
func client(t *testing.T) *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 16}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func (s *service) get(c *http.Client, id domain.ID) (int, http.Header, error) {
	req, _ := http.NewRequest("GET", s.url+"/patients/composition/job/"+id.String(), nil)
	req.Header.Set("Authorization", "Bearer "+s.kit.Token(testkit.ClientA))
	req.Header.Set("api-key", testkit.KeyA)
	res, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode, res.Header, nil
}

func TestSlowDatabaseIs503(t *testing.T) {
	pgtest.Skip(t, pg)
	before := goleak.IgnoreCurrent()
	url := pg.Schema(t)
	s := start(t, url, 300*time.Millisecond)
	ctx := context.Background()
	db, err := postgres.Open(url, pgtest.Pool(1))
	require.NoError(t, err)
	// The job is created with a generous deadline of the test's own (a
	// first write compiles the change log's triggers, slow under -race),
	// then polled until the service holds it.
	own, err := postgres.NewJobs(db, 10*time.Second)
	require.NoError(t, err)
	j, err := domain.New(domain.NewParams{ID: domain.NewID(), ClientID: testkit.ClientA, ETA: time.Now().Add(time.Minute), Now: time.Now()})
	require.NoError(t, err)
	job, _, err := own.Create(ctx, j)
	require.NoError(t, err)
	require.NoError(t, own.Close())
	c := client(t)
	testkit.Eventually(t, 10*time.Second, func() bool { status, _, err := s.get(c, job.ID); return err == nil && status == 200 },
		"the service holds the job")

	// Another session holds the table: every lookup sleeps past its deadline.
	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = tx.Rollback() }) // before the schema is dropped, even when an assertion fails
	_, err = tx.ExecContext(ctx, "LOCK TABLE async_jobs IN ACCESS EXCLUSIVE MODE")
	require.NoError(t, err)
	// Jobs the service knows are answered from memory; a lookup of one it
	// has never seen reaches the locked table.
	unseen := domain.NewID()
	for range 5 {
		began := time.Now()
		status, h, err := s.get(c, unseen)
		require.NoError(t, err)
		require.Equal(t, 503, status)
		require.Equal(t, "1", h.Get("Retry-After"))
		require.Less(t, time.Since(began), 5*time.Second, "answered by the deadline, not held by the lock")
	}
	status, _, err := s.get(c, job.ID)
	require.NoError(t, err)
	require.Equal(t, 200, status, "a job the service holds is answered from memory meanwhile")
	require.NoError(t, tx.Rollback())
	status, _, err = s.get(c, unseen)
	require.NoError(t, err)
	require.Equal(t, 404, status, "recovered once the lock is gone")
	require.NoError(t, db.Close())
	c.CloseIdleConnections()
	s.stop(t)
	noLeaks(t, before)
}

func TestDatabaseCrashUnderLoad(t *testing.T) {
	pgtest.Skip(t, pg)
	ctx := context.Background()
	own, err := pgtest.Start(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { _ = own.Terminate() })
	before := goleak.IgnoreCurrent()

	dbURL := own.URL("")
	db, err := postgres.Open(dbURL, pgtest.Pool(1))
	require.NoError(t, err)
	_, err = postgres.Migrate(ctx, db)
	require.NoError(t, err)
	require.NoError(t, db.Close())

	s := start(t, dbURL, time.Second)
	pending, err := s.app.CreateJob.Handle(ctx, app.CreateJob{ClientID: testkit.ClientA})
	require.NoError(t, err)
	done, err := s.app.CreateJob.Handle(ctx, app.CreateJob{ClientID: testkit.ClientA})
	require.NoError(t, err)
	_, err = s.app.FailJob.Handle(ctx, app.FailJob{ID: done.ID.String(), Code: 500, Message: "x"})
	require.NoError(t, err)

	var (
		stop     atomic.Bool
		mu       sync.Mutex
		statuses = map[int]int{}
		problems []string
		wg       sync.WaitGroup
	)
	count := func(status int) int {
		mu.Lock()
		defer mu.Unlock()
		return statuses[status]
	}
	c := client(t)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := pending.ID
			if w%2 == 1 {
				id = done.ID
			}
			pace := time.NewTicker(5 * time.Millisecond) // steady load, not a busy loop
			defer pace.Stop()
			for ; !stop.Load(); <-pace.C {
				status, h, err := s.get(c, id)
				mu.Lock()
				switch {
				case err != nil:
					problems = append(problems, err.Error())
				case status == 503 && h.Get("Retry-After") == "":
					problems = append(problems, "503 without Retry-After")
				case status != 200 && status != 503:
					problems = append(problems, fmt.Sprintf("status %d", status))
				}
				statuses[status]++
				mu.Unlock()
			}
		}()
	}
	// Each step waits for what the load sees, not for a fixed time.
	testkit.Eventually(t, 10*time.Second, func() bool { return count(200) >= 40 }, "load running before the crash")
	// pgtest runs PostgreSQL with synchronous_commit=off: the last commits
	// are in its memory until the WAL writer's next round. A checkpoint
	// writes them out, so the crash loses no job this test relies on.
	db, err = postgres.Open(dbURL, pgtest.Pool(1))
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, "CHECKPOINT")
	require.NoError(t, err)
	require.NoError(t, db.Close())
	require.NoError(t, own.Kill(ctx))
	testkit.Eventually(t, 20*time.Second, func() bool { return count(503) >= 8 }, "the crash is visible to clients")
	require.NoError(t, own.Restart(ctx))
	testkit.Eventually(t, 30*time.Second, func() bool {
		status, _, err := s.get(c, pending.ID)
		return err == nil && status == 200
	}, "the service did not recover by itself")
	recovered := count(200)
	testkit.Eventually(t, 10*time.Second, func() bool { return count(200) >= recovered+40 }, "load served again after recovery")
	stop.Store(true)
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	require.Empty(t, problems, "only 200 and 503 with Retry-After; statuses %v", statuses)
	require.Positive(t, statuses[503], "the crash was visible: %v", statuses)
	require.Positive(t, statuses[200], "%v", statuses)
	t.Logf("statuses during the crash: %v", statuses)

	c.CloseIdleConnections()
	s.stop(t)
	noLeaks(t, before)
}

// TestFrozenDatabaseIs503: PostgreSQL frozen (docker pause: connections
// are accepted, nothing answers) held a lookup until it came back, and
// stopping the service with it. Now lookups get 503 with Retry-After by
// their deadline, the service stops during the freeze, and once the server
// runs again nothing the freeze started is left running.
func TestFrozenDatabaseIs503(t *testing.T) {
	pgtest.Skip(t, pg)
	ctx := context.Background()
	own, err := pgtest.Start(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { _ = own.Terminate() })
	before := goleak.IgnoreCurrent()
	db, err := postgres.Open(own.URL(""), pgtest.Pool(1))
	require.NoError(t, err)
	_, err = postgres.Migrate(ctx, db)
	require.NoError(t, err)
	require.NoError(t, db.Close())

	s := start(t, own.URL(""), 300*time.Millisecond)
	c := client(t)
	status, _, err := s.get(c, domain.NewID())
	require.NoError(t, err)
	require.Equal(t, 404, status)

	require.NoError(t, own.Pause(ctx))
	paused := true
	t.Cleanup(func() {
		if paused {
			_ = own.Unpause(context.Background())
		}
	})
	for range 4 { // one after another: a lookup that gave up leaves the next nothing to wait on
		status, h, err := s.get(c, domain.NewID())
		require.NoError(t, err, "answered, not held until the client gives up")
		require.Equal(t, 503, status)
		require.Equal(t, "1", h.Get("Retry-After"))
	}
	c.CloseIdleConnections()
	s.stop(t)
	require.NoError(t, own.Unpause(ctx))
	paused = false
	noLeaks(t, before)
}

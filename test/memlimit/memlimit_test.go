// Package memlimit runs the jobstatus image in a container with a memory
// limit (docker run --memory) against PostgreSQL on loopback and puts it
// through the loads that grow its memory: steady polling, the default cap
// of requests held by Prefer: wait, the default cap of event streams, and
// a 10⁶-row insert. After each load the container must not have been
// OOM-killed and must still answer /readyz; the peak RSS of each load is
// logged against the limit.
package memlimit

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/lib/pq"
	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/test/pgtest"
	"github.com/jobstatus/jobstatus/test/testkit"
)

// limitMiB is the container's memory limit: the 256 MiB. The loads
// run one at a time and poll few distinct jobs, so the caches stay far
// below their defaults; docs/operations.md has the budget with every
// structure full (640 MiB).
const limitMiB = 256

// Defaults of the caps the loads fill (bootstrap.DefaultConfig; the test
// reads them back from the service's /metrics while they are full).
const (
	maxWaiters = 4096
	maxStreams = 2048
)

var pg *pgtest.Postgres

func TestMain(m *testing.M) {
	os.Exit(pgtest.Main(m, func(p *pgtest.Postgres) int {
		pg = p
		return m.Run()
	}))
}

// service is the jobstatus container under test.
type service struct {
	id            string // container id
	public, admin string // base URLs on loopback
	kit           *testkit.Kit
	db            *sql.DB
}

// image returns the image to run: JOBSTATUS_IMAGE when set (make
// image-smoke builds jobstatus:latest), otherwise one built here from the
// Dockerfile, removed when the test ends.
func image(t *testing.T) string {
	t.Helper()
	if img := os.Getenv("JOBSTATUS_IMAGE"); img != "" {
		return img
	}
	ctxDir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(ctxDir, "bin"), 0o755))
	build := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(ctxDir, "bin", "jobstatus"), "github.com/jobstatus/jobstatus/cmd/jobstatus")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	certs, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(ctxDir, "bin", "ca-certificates.crt"), certs, 0o644))
	dockerfile, err := os.ReadFile("../../Dockerfile")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), dockerfile, 0o644))
	tag := fmt.Sprintf("jobstatus-memlimit:%d", time.Now().UnixNano())
	out, err = exec.Command("docker", "build", "-q", "-t", tag, ctxDir).CombinedOutput()
	require.NoError(t, err, "docker build: %s", out)
	t.Cleanup(func() { _ = exec.Command("docker", "rmi", "-f", tag).Run() })
	return tag
}

func docker(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	require.NoError(t, err, "docker %s: %s", strings.Join(args, " "), out)
	return strings.TrimSpace(string(out))
}

func freeAddr(t *testing.T) string {
	t.Helper()
	port, err := pgtest.FreePort()
	require.NoError(t, err)
	return "127.0.0.1:" + strconv.Itoa(port)
}

// start migrates the database with the image and runs the service with
// --memory=limitMiB, host networking and loopback listeners. The rate
// limit is off and one client may hold every stream: the loads come from
// one client, and what is measured is memory, not fairness.
func start(t *testing.T) *service {
	t.Helper()
	img := image(t)
	kit := testkit.New(t)
	// The container runs as 65532: give it readable copies of the files.
	files := t.TempDir()
	require.NoError(t, os.Chmod(files, 0o755))
	for src, name := range map[string]string{kit.JWKSFile: "jwks.json", kit.KeysFile: "clients.yaml"} {
		raw, err := os.ReadFile(src)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(files, name), raw, 0o644))
	}
	url := pg.URL("")
	docker(t, "run", "--rm", "--network", "host", "-e", "JOBSTATUS_DATABASE_URL="+url, img, "migrate")

	public, admin := freeAddr(t), freeAddr(t)
	id := docker(t, "run", "-d", "--network", "host", "--memory", fmt.Sprintf("%dm", limitMiB), "--memory-swap", fmt.Sprintf("%dm", limitMiB),
		"--label", "org.testcontainers=true", "-v", files+":/work:ro",
		"-e", "JOBSTATUS_HTTP_ADDR="+public, "-e", "JOBSTATUS_ADMIN_ADDR="+admin, "-e", "JOBSTATUS_INTERNAL_ADDR=",
		"-e", "JOBSTATUS_DATABASE_URL="+url, "-e", "JOBSTATUS_AUTH_JWKS_FILE=/work/jwks.json", "-e", "JOBSTATUS_API_KEYS_FILE=/work/clients.yaml",
		"-e", "JOBSTATUS_AUTH_ISSUER="+testkit.Issuer, "-e", "JOBSTATUS_AUTH_AUDIENCE="+testkit.Audience,
		"-e", "JOBSTATUS_RATE_LIMIT_RPS=0", "-e", fmt.Sprintf("JOBSTATUS_EVENTS_MAX_STREAMS_PER_CLIENT=%d", maxStreams),
		"-e", "JOBSTATUS_LOG_SAMPLE_SUCCESS=0", img)
	t.Cleanup(func() {
		if t.Failed() {
			logs, _ := exec.Command("docker", "logs", "--tail", "30", id).CombinedOutput()
			t.Logf("service log, last lines:\n%s", logs)
		}
		_ = exec.Command("docker", "rm", "-f", id).Run()
	})
	db, err := sql.Open("postgres", url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	s := &service{id: id, public: "http://" + public, admin: "http://" + admin, kit: kit, db: db}
	s.requireAlive(t, "start")
	// The service read the container's limit from its cgroup and took 80 %
	// of it as the Go runtime's soft limit.
	limit := float64(limitMiB << 20)
	line := fmt.Sprintf(`"msg":"memory","limit_source":"cgroup","gogc":100,"gogc_source":"default","go_memory_limit_bytes":%d,"container_limit_bytes":%d`,
		int64(limit*0.8), limitMiB<<20)
	// The log is written out every second.
	require.True(t, testkit.Within(10*time.Second, func() bool { return strings.Contains(docker(t, "logs", id), line) }),
		"the service logs %s", line)
	return s
}

// requireAlive: the container runs, was not OOM-killed, /readyz answers
// 200 and Docker reports it healthy, within deadlines.
func (s *service) requireAlive(t *testing.T, after string) {
	t.Helper()
	ready := testkit.Within(60*time.Second, func() bool {
		res, err := http.Get(s.admin + "/readyz")
		if err != nil {
			return false
		}
		_ = res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
	state := docker(t, "inspect", "-f", "{{.State.Running}} {{.State.OOMKilled}} {{.State.ExitCode}} {{.RestartCount}}", s.id)
	require.Equal(t, "true false 0 0", state, "after %s: running, OOMKilled, exit code, restarts", after)
	require.True(t, ready, "after %s: /readyz answers 200", after)
	// The image's HEALTHCHECK (jobstatus healthcheck, every 10 s) agrees.
	var health string
	healthy := testkit.Within(60*time.Second, func() bool {
		health = docker(t, "inspect", "-f", "{{.State.Health.Status}}", s.id)
		return health == "healthy"
	})
	require.True(t, healthy, "after %s: docker says the container is %s", after, health)
}

// pid is the container's main process as this machine sees it, or 0
// when this machine does not see it (its cgroup does not name the
// container: the engine runs in a VM).
func (s *service) pid(t *testing.T) int {
	t.Helper()
	pid, err := strconv.Atoi(docker(t, "inspect", "-f", "{{.State.Pid}}", s.id))
	require.NoError(t, err)
	cgroup, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil || !strings.Contains(string(cgroup), s.id) {
		return 0
	}
	return pid
}

// resetPeak starts a new peak-RSS measurement of the service's process
// (clear_refs 5 resets VmHWM to the current RSS). Where the engine runs
// its containers out of this machine's sight (Docker Desktop's VM) there
// is nothing to reset: the loads run all the same, unmeasured.
func (s *service) resetPeak(t *testing.T) {
	t.Helper()
	err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", s.pid(t)), []byte("5"), 0)
	if err != nil && !os.IsNotExist(err) && !os.IsPermission(err) {
		require.NoError(t, err)
	}
}

// peakMiB returns VmHWM, the peak RSS since resetPeak, and VmRSS, in MiB;
// -1 when the process cannot be seen from here.
func (s *service) peakMiB(t *testing.T) (peak, now float64) {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", s.pid(t)))
	if os.IsNotExist(err) || os.IsPermission(err) {
		return -1, -1
	}
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 3 && (fields[0] == "VmHWM:" || fields[0] == "VmRSS:") {
			kb, err := strconv.ParseFloat(fields[1], 64)
			require.NoError(t, err)
			if fields[0] == "VmHWM:" {
				peak = kb / 1024
			} else {
				now = kb / 1024
			}
		}
	}
	return peak, now
}

// settle returns once the peak RSS has not grown for 10 s (what a change
// left for the service to digest is digested), or after 3 minutes.
func (s *service) settle(t *testing.T) {
	t.Helper()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	deadline := time.After(3 * time.Minute)
	last, since := -1.0, time.Now()
	for time.Since(since) < 10*time.Second {
		select {
		case <-deadline:
			t.Logf("peak RSS still growing after 3 minutes")
			return
		case <-tick.C:
		}
		if state := docker(t, "inspect", "-f", "{{.State.Running}}", s.id); state != "true" {
			return // requireAlive says how it ended
		}
		if peak, _ := s.peakMiB(t); peak != last {
			last, since = peak, time.Now()
		}
	}
}

// metric returns the value of an unlabelled gauge on /metrics.
func (s *service) metric(t *testing.T, name string) float64 {
	t.Helper()
	res, err := http.Get(s.admin + "/metrics")
	require.NoError(t, err)
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			require.NoError(t, err)
			return f
		}
	}
	t.Fatalf("/metrics has no %s", name)
	return 0
}

// insertJobs inserts n PENDING jobs of ClientA in one statement and
// returns up to keep of their ids.
func (s *service) insertJobs(t *testing.T, n, keep int) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	_, err := s.db.ExecContext(ctx, `INSERT INTO async_jobs (id, client_id, status, eta, created_at, updated_at)
		SELECT gen_random_uuid(), $1, 'PENDING', now() + interval '10 minutes', now(), now() FROM generate_series(1, $2)`, testkit.ClientA, n)
	require.NoError(t, err)
	rows, err := s.db.QueryContext(ctx, `SELECT id FROM async_jobs WHERE status = 'PENDING' ORDER BY created_at DESC LIMIT $1`, keep)
	require.NoError(t, err)
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		require.NoError(t, rows.Scan(&id))
		ids = append(ids, id)
	}
	require.NoError(t, rows.Err())
	return ids
}

// client is an HTTP client with a connection per request in flight.
func client() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext}}
}

// poll sends polls of ids from workers goroutines for d and returns how
// many answered 200.
func (s *service) poll(t *testing.T, ids []string, workers int, d time.Duration) int64 {
	t.Helper()
	auth := testkit.Auth(s.kit.Token(testkit.ClientA), testkit.KeyA)
	c := client()
	var ok atomic.Int64
	var wg sync.WaitGroup
	end := time.Now().Add(d)
	for w := range workers {
		wg.Go(func() {
			for i := w; time.Now().Before(end); i += workers {
				req, _ := http.NewRequest(http.MethodGet, s.public+testkit.JobPath(ids[i%len(ids)]), nil)
				req.Header = auth.Clone()
				res, err := c.Do(req)
				if err != nil {
					continue
				}
				_, _ = io.Copy(io.Discard, res.Body)
				_ = res.Body.Close()
				if res.StatusCode == http.StatusOK {
					ok.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return ok.Load()
}

// hold opens n requests of path with extra headers and returns once the
// gauge says the service holds all of them; release ends them and waits
// until the gauge is back to 0.
func (s *service) hold(t *testing.T, n int, path func(i int) string, extra http.Header, gauge string) (release func()) {
	t.Helper()
	auth := testkit.Auth(s.kit.Token(testkit.ClientA), testkit.KeyA)
	for k, v := range extra {
		auth[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := client()
	var wg sync.WaitGroup
	var refused atomic.Int64
	for i := range n {
		wg.Go(func() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.public+path(i), nil)
			req.Header = auth.Clone()
			res, err := c.Do(req)
			if err != nil {
				return
			}
			if res.StatusCode != http.StatusOK {
				refused.Add(1)
			}
			_, _ = io.Copy(io.Discard, res.Body)
			_ = res.Body.Close()
		})
	}
	held := testkit.Within(3*time.Minute, func() bool { return s.metric(t, gauge) == float64(n) || refused.Load() > 0 })
	require.Zero(t, refused.Load(), "requests refused while opening %d", n)
	require.True(t, held, "%s reaches %d (at %v)", gauge, n, s.metric(t, gauge))
	return func() {
		cancel()
		wg.Wait()
		require.True(t, testkit.Within(time.Minute, func() bool { return s.metric(t, gauge) == 0 }), "%s back to 0", gauge)
	}
}

// TestSurvivesItsLoadsWithinTheMemoryLimit: the image under --memory
// survives steady polling, the default cap of held Prefer: wait requests,
// the default cap of event streams and a 10⁶-row insert, without an OOM
// kill and still ready; each load's peak RSS is logged against the limit.
func TestSurvivesItsLoadsWithinTheMemoryLimit(t *testing.T) {
	pgtest.Skip(t, pg)
	s := start(t)
	ids := s.insertJobs(t, 10_000, maxWaiters)
	require.Len(t, ids, maxWaiters)
	report := func(load string) {
		peak, now := s.peakMiB(t)
		t.Logf("%-34s peak RSS %6.1f MiB of the %d MiB limit (%4.1f %%), RSS after %6.1f MiB", load, peak, limitMiB, 100*peak/limitMiB, now)
	}

	t.Run("SteadyPolling", func(t *testing.T) {
		s.resetPeak(t)
		answered := s.poll(t, ids, 32, 20*time.Second)
		require.Positive(t, answered)
		s.requireAlive(t, "steady polling")
		report(fmt.Sprintf("steady polling (%d polls)", answered))
	})
	t.Run("HeldRequestsAtTheirCap", func(t *testing.T) {
		s.resetPeak(t)
		release := s.hold(t, maxWaiters, func(i int) string { return testkit.JobPath(ids[i]) },
			http.Header{"Prefer": {"wait=25"}}, "jobstatus_waiters")
		s.requireAlive(t, "holding the waiters")
		report(fmt.Sprintf("%d held Prefer: wait requests", maxWaiters))
		release()
	})
	t.Run("StreamsAtTheirCap", func(t *testing.T) {
		s.resetPeak(t)
		release := s.hold(t, maxStreams, func(int) string { return "/patients/composition/jobs/events" }, nil, "jobstatus_event_streams")
		s.insertJobs(t, 1000, 0) // changes every stream carries
		s.requireAlive(t, "holding the streams")
		report(fmt.Sprintf("%d event streams", maxStreams))
		release()
	})
	t.Run("BulkInsert", func(t *testing.T) {
		s.resetPeak(t)
		bulk := s.insertJobs(t, 1_000_000, 10_000)
		answered := s.poll(t, bulk, 32, 30*time.Second)
		require.Positive(t, answered)
		s.settle(t)
		s.requireAlive(t, "a 10⁶-row insert")
		report("10⁶-row insert, then polling")
	})
}

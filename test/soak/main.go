// Command soak drives `jobstatus serve` with mixed traffic at a fixed rate
// for a long time (SOAK_DURATION, default 10m), crashes and restarts
// PostgreSQL in the middle, and checks that the service's RSS and goroutine
// count end where they started (±10 %). Run it with `make soak`.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jobstatus/jobstatus/adapters/apikey"
	"github.com/jobstatus/jobstatus/adapters/jwtauth"
	"github.com/jobstatus/jobstatus/adapters/postgres"
	"github.com/jobstatus/jobstatus/test/pgtest"
	"github.com/jobstatus/jobstatus/test/testkit"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

func env(name string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

func run() error {
	duration := env("SOAK_DURATION", 10*time.Minute)
	rate, _ := strconv.Atoi(os.Getenv("SOAK_RATE"))
	if rate <= 0 {
		rate = 300
	}
	ctx := context.Background()
	pg, err := pgtest.Start(ctx)
	if err != nil {
		return err
	}
	defer pg.Terminate()
	dbURL := pg.URL("")
	db, err := postgres.Open(dbURL, postgres.PoolConfig{MaxOpenConns: 2})
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := postgres.Migrate(ctx, db); err != nil {
		return err
	}

	dir, err := os.MkdirTemp("", "jobstatus-soak-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "jobstatus")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/jobstatus/jobstatus/cmd/jobstatus").CombinedOutput(); err != nil {
		return fmt.Errorf("build: %v: %s", err, out)
	}
	key, err := jwtauth.GenerateKey("RS256")
	if err != nil {
		return err
	}
	signer, _ := jwtauth.NewSigner(key)
	jwks, _ := signer.JWKS()
	if err := os.WriteFile(filepath.Join(dir, "jwks.json"), jwks, 0o600); err != nil {
		return err
	}
	clients := "clients:\n  - id: mis-soak\n    key_sha256: " + apikey.Digest("soak-key") + "\n"
	if err := os.WriteFile(filepath.Join(dir, "clients.yaml"), []byte(clients), 0o600); err != nil {
		return err
	}
	token, err := signer.Mint(jwtauth.TokenParams{Issuer: "https://auth.soak", Audience: "jobstatus", Subject: "s",
		ClientID: "mis-soak", Scopes: []string{"composition:read"}, TTL: duration + time.Hour})
	if err != nil {
		return err
	}

	// Jobs: 80 % finished, 20 % pending; a writer keeps finishing and adding.
	if _, err := db.Exec(`INSERT INTO async_jobs (id, client_id, status, eta, links, error_code, error_message, created_at, updated_at, finished_at)
		SELECT md5('soak' || g)::uuid, 'mis-soak', CASE WHEN g % 5 = 0 THEN 'PENDING' ELSE 'DONE' END, now(),
		CASE WHEN g % 5 = 0 THEN '[]'::jsonb ELSE '[{"entity":"composition","href":"/c"}]'::jsonb END, NULL, NULL,
		now(), now(), CASE WHEN g % 5 = 0 THEN NULL ELSE now() END FROM generate_series(1, 5000) g`); err != nil {
		return err
	}
	var ids []string
	if err := db.Select(&ids, `SELECT id::text FROM async_jobs`); err != nil {
		return err
	}

	port, _ := pgtest.FreePort()
	adminPort, _ := pgtest.FreePort()
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	admin := "http://127.0.0.1:" + strconv.Itoa(adminPort)
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), "JOBSTATUS_HTTP_ADDR=127.0.0.1:"+strconv.Itoa(port), "JOBSTATUS_INTERNAL_ADDR=", "JOBSTATUS_ADMIN_ADDR=127.0.0.1:"+strconv.Itoa(adminPort),
		"JOBSTATUS_DATABASE_URL="+dbURL, "JOBSTATUS_AUTH_JWKS_FILE="+filepath.Join(dir, "jwks.json"),
		"JOBSTATUS_API_KEYS_FILE="+filepath.Join(dir, "clients.yaml"), "JOBSTATUS_AUTH_ISSUER=https://auth.soak",
		"JOBSTATUS_AUTH_AUDIENCE=jobstatus", "JOBSTATUS_LOG_LEVEL=warn", "JOBSTATUS_RATE_LIMIT_RPS=0",
		"JOBSTATUS_SWEEPER_INTERVAL=10s", "JOBSTATUS_SWEEPER_PENDING_TIMEOUT=5m")
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() }()
	if err := waitReady(admin); err != nil {
		return err
	}

	var (
		mu       sync.Mutex
		statuses = map[string]int{}
		total    atomic.Int64
		dropped  atomic.Int64
	)
	count := func(k string) { mu.Lock(); statuses[k]++; mu.Unlock() }
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 15 * time.Second}
	work := make(chan int, 256)
	var workers sync.WaitGroup
	for range 64 {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for n := range work {
				id := ids[rand.IntN(len(ids))]
				req, _ := http.NewRequest("GET", base+"/patients/composition/job/"+id, nil)
				req.Header.Set("api-key", "soak-key")
				switch {
				case n%50 == 0: // a bad token
					req.Header.Set("Authorization", "Bearer "+token+"x")
				case n%50 == 1: // a missing job
					req.URL.Path = "/patients/composition/job/00000000-0000-4000-8000-000000000000"
					req.Header.Set("Authorization", "Bearer "+token)
				case n%20 == 2: // a held poll
					req.Header.Set("Authorization", "Bearer "+token)
					req.Header.Set("Prefer", "wait=2")
				default:
					req.Header.Set("Authorization", "Bearer "+token)
				}
				res, err := client.Do(req)
				total.Add(1)
				if err != nil {
					count("transport error")
					continue
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				count(strconv.Itoa(res.StatusCode))
			}
		}()
	}
	// The writer: finishes pending jobs and adds new ones, through SQL, so the
	// trigger notifies the service like any other writer would.
	stopWriter := make(chan struct{})
	var writer sync.WaitGroup
	writer.Add(1)
	go func() {
		defer writer.Done()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stopWriter:
				return
			case <-t.C:
				_, _ = db.Exec(`UPDATE async_jobs SET status='DONE', links='[{"entity":"composition","href":"/c"}]',
					updated_at=now(), finished_at=now() WHERE id IN (SELECT id FROM async_jobs WHERE status='PENDING' LIMIT 2)`)
				_, _ = db.Exec(`INSERT INTO async_jobs (id, client_id, status, eta, links, created_at, updated_at)
					VALUES (gen_random_uuid(), 'mis-soak', 'PENDING', now(), '[]', now(), now())`)
			}
		}
	}()

	load := func(d time.Duration) {
		interval := time.Second / time.Duration(rate)
		t := time.NewTicker(interval)
		defer t.Stop()
		end := time.Now().Add(d)
		n := 0
		for time.Now().Before(end) {
			<-t.C
			select {
			case work <- n:
			default:
				dropped.Add(1)
			}
			n++
		}
	}
	sample := func() (rssMiB float64, goroutines int, err error) {
		// Wait for the held polls to finish and close the client's idle
		// connections, so the count is not about how many keep-alive
		// connections are open; then wait for the count to settle.
		if !testkit.Within(30*time.Second, func() bool {
			n, err := metric(admin, "jobstatus_waiters")
			return err == nil && n == 0
		}) {
			return 0, 0, errors.New("held polls did not finish")
		}
		client.CloseIdleConnections()
		last, same := -1, 0
		testkit.Within(10*time.Second, func() bool {
			n, err := metric(admin, "go_goroutines")
			if err != nil || n != last {
				last, same = n, 0
				return false
			}
			same++
			return same >= 10 // unchanged for 10 polls in a row
		})
		rssMiB, err = rss(cmd.Process.Pid)
		if err != nil {
			return 0, 0, err
		}
		goroutines, err = metric(admin, "go_goroutines")
		return rssMiB, goroutines, err
	}

	warmup := min(60*time.Second, duration/5)
	fmt.Printf("soak: %s at %d req/s, PostgreSQL crash and restart half-way\n", duration, rate)
	load(warmup)
	rss0, g0, err := sample()
	if err != nil {
		return err
	}
	maxRSS := rss0
	half := (duration - warmup) / 2
	step := 30 * time.Second
	for elapsed := time.Duration(0); elapsed < half; elapsed += step {
		load(min(step, half-elapsed))
		if r, err := rss(cmd.Process.Pid); err == nil && r > maxRSS {
			maxRSS = r
		}
	}
	fmt.Println("soak: killing PostgreSQL")
	if err := pg.Kill(ctx); err != nil {
		return err
	}
	load(5 * time.Second)
	if err := pg.Restart(ctx); err != nil {
		return err
	}
	fmt.Println("soak: PostgreSQL back")
	for elapsed := 5 * time.Second; elapsed < half; elapsed += step {
		load(min(step, half-elapsed))
		if r, err := rss(cmd.Process.Pid); err == nil && r > maxRSS {
			maxRSS = r
		}
	}
	rss1, g1, err := sample()
	if err != nil {
		return err
	}
	close(work)
	workers.Wait()
	close(stopWriter)
	writer.Wait()

	keys := make([]string, 0, len(statuses))
	for k := range statuses {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Printf("requests: %d (dropped by the load generator: %d)\n", total.Load(), dropped.Load())
	for _, k := range keys {
		fmt.Printf("  %-16s %d\n", k, statuses[k])
	}
	fmt.Printf("RSS: start %.1f MiB, end %.1f MiB, max %.1f MiB\n", rss0, rss1, maxRSS)
	fmt.Printf("goroutines: start %d, end %d\n", g0, g1)

	var problems []string
	if statuses["500"] > 0 || statuses["transport error"] > 0 {
		problems = append(problems, "500s or transport errors")
	}
	if rss1 > rss0*1.10 {
		problems = append(problems, fmt.Sprintf("RSS grew %.0f %%", 100*(rss1/rss0-1)))
	}
	if float64(g1) > float64(g0)*1.10 {
		problems = append(problems, fmt.Sprintf("goroutines grew from %d to %d", g0, g1))
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err == nil {
		if _, err := cmd.Process.Wait(); err != nil {
			problems = append(problems, "exit: "+err.Error())
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	fmt.Println("soak: ok")
	return nil
}

func waitReady(admin string) error {
	ready := testkit.Within(30*time.Second, func() bool {
		res, err := http.Get(admin + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == 200
	})
	if !ready {
		return errors.New("service not ready")
	}
	return nil
}

func rss(pid int) (float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	m := regexp.MustCompile(`VmRSS:\s+(\d+) kB`).FindSubmatch(data)
	if m == nil {
		return 0, errors.New("no VmRSS")
	}
	kb, _ := strconv.Atoi(string(m[1]))
	return float64(kb) / 1024, nil
}

func metric(admin, name string) (int, error) {
	res, err := http.Get(admin + "/metrics")
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	m := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindSubmatch(body)
	if m == nil {
		return 0, fmt.Errorf("metric %s not found", name)
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	return int(v), err
}

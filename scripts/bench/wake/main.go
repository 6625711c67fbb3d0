// Command wake measures how fast a change reaches held requests: it adds
// -jobs PENDING jobs to the database, holds -waiters `Prefer: wait`
// requests spread evenly over them (each with its owner's token and
// api-key), waits until the service's jobstatus_waiters gauge says they are
// all held, finishes every job in one UPDATE statement and times each held
// request to the first bytes of its DONE answer, from the start of that
// statement (the statement's own time included, which only overstates) and,
// for reference, from its return (after the commit: answers that arrive
// before it count as 0, which may understate). It prints
//
//	WAKE waiters=N jobs=M statement_ms=S p50_ms=A p99_ms=B max_ms=C commit_p50_ms=D commit_p99_ms=E done=F other=O store_reads=R
//
// (other counts answers that were not a DONE 200; store_reads the read
// model's misses while they were answered: reads of PostgreSQL the wake-up
// caused). With -release instead of -db it runs the same against the bare
// handler, the floor. Loopback only.
package main

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lib/pq"

	"github.com/jobstatus/jobstatus/domain"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "wake:", err)
		os.Exit(1)
	}
}

type cred struct{ client, token, key string }

func run() error {
	var (
		base, metrics, dbURL, credsFile string
		jobs, waiters, wait             int
	)
	flag.StringVar(&base, "url", "", "service base URL (loopback)")
	flag.StringVar(&metrics, "metrics", "", "service /metrics URL (loopback)")
	flag.StringVar(&dbURL, "db", "", "PostgreSQL URL of the service's database (loopback)")
	var release string
	flag.StringVar(&release, "release", "", "instead of -db: the bare handler's /release URL, the floor run (loopback)")
	flag.StringVar(&credsFile, "creds", "", `file of "client token api-key" lines`)
	flag.IntVar(&jobs, "jobs", 1000, "pending jobs to finish in one statement")
	flag.IntVar(&waiters, "waiters", 10000, "requests held, spread over the jobs")
	flag.IntVar(&wait, "wait", 30, "seconds asked for in Prefer: wait")
	var profile, pprofURL string
	flag.StringVar(&profile, "profile", "", "with -pprof: write the service's CPU profile and execution trace of the burst to this path prefix")
	flag.StringVar(&pprofURL, "pprof", "", "the service's net/http/pprof base URL (loopback; a benchpprof build)")
	flag.Parse()
	trigger := dbURL
	if release != "" {
		trigger = release
	}
	urls := []string{base, metrics, trigger}
	if profile != "" {
		urls = append(urls, pprofURL)
	}
	for _, u := range urls {
		if err := loopback(u); err != nil {
			return err
		}
	}
	creds, err := readCreds(credsFile)
	if err != nil {
		return err
	}
	ids := make([]string, jobs)
	owner := make([]cred, jobs)
	for i := range ids {
		ids[i], owner[i] = domain.NewID().String(), creds[i%len(creds)]
	}
	finish := func() error { // the floor run: the bare handler answers what it holds
		res, err := http.Get(release)
		if err != nil {
			return err
		}
		return res.Body.Close()
	}
	if release == "" {
		if finish, err = addJobs(dbURL, ids, owner); err != nil {
			return err
		}
	}

	// Each held request is a plain TCP connection with its request written
	// once; its answer is timed when its first bytes arrive. A cheap client
	// (no HTTP client machinery, no JSON decoding before the timestamp)
	// keeps the client's own work out of the service's figure as far as
	// two shared cores allow.
	host := strings.TrimPrefix(base, "http://")
	type answer struct {
		at time.Time
		ok bool
	}
	answers := make([]answer, waiters)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	keep := func(c net.Conn) { mu.Lock(); conns = append(conns, c); mu.Unlock() }
	var failures sync.Map // error text → count, for the message when too few are held
	failed := func(err error) {
		n, _ := failures.LoadOrStore(err.Error(), new(atomic.Int64))
		n.(*atomic.Int64).Add(1)
	}
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}()
	for n := range waiters {
		i := n % jobs
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := []byte("GET /patients/composition/job/" + ids[i] + " HTTP/1.1\r\nHost: " + host +
				"\r\nAuthorization: Bearer " + owner[i].token + "\r\napi-key: " + owner[i].key +
				"\r\nPrefer: wait=" + strconv.Itoa(wait) + "\r\n\r\n")
			for attempt := 0; attempt < 20; attempt++ { // a burst of new connections may be refused: try again
				at, status, body, err := hold(host, req, time.Duration(wait+10)*time.Second, keep)
				if err == nil && status == http.StatusServiceUnavailable {
					err = errors.New("503")
				}
				if err != nil {
					failed(err)
					time.Sleep(100 * time.Millisecond)
					continue
				}
				answers[n] = answer{at: at, ok: status == http.StatusOK && strings.Contains(body, `"status":"DONE"`)}
				return
			}
		}()
		if n%500 == 499 {
			time.Sleep(20 * time.Millisecond) // spread the connection burst over the accept queue
		}
	}
	held := time.Now()
	for {
		n, err := gauge(metrics, "jobstatus_waiters")
		if err == nil && n >= waiters {
			break
		}
		if time.Since(held) > time.Duration(wait-5)*time.Second {
			var seen []string
			failures.Range(func(k, v any) bool {
				seen = append(seen, fmt.Sprintf("%dx %s", v.(*atomic.Int64).Load(), k))
				return len(seen) < 5
			})
			return fmt.Errorf("only %d of %d requests held; failed attempts: %s", n, waiters, strings.Join(seen, "; "))
		}
		time.Sleep(50 * time.Millisecond)
	}

	const misses = `jobstatus_cache_misses_total{cache="jobs"}` // reads of the store by the read model
	missesBefore, missesErr := gauge(metrics, misses)
	profiled := new(sync.WaitGroup)
	if profile != "" {
		profiled = capture(pprofURL, profile)
	}
	start := time.Now()
	if err := finish(); err != nil {
		return fmt.Errorf("finish jobs: %w", err)
	}
	committed := time.Now()
	wg.Wait()
	profiled.Wait()

	var fromStart, fromCommit []time.Duration
	other := 0
	for _, a := range answers {
		if !a.ok {
			other++
			continue
		}
		fromStart = append(fromStart, a.at.Sub(start))
		fromCommit = append(fromCommit, max(0, a.at.Sub(committed)))
	}
	reads := "n/a" // the floor has no store
	if after, err := gauge(metrics, misses); err == nil && missesErr == nil {
		reads = strconv.Itoa(after - missesBefore)
	}
	if len(fromStart) == 0 {
		return errors.New("no held request answered DONE")
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	pct := func(lat []time.Duration, p float64) float64 {
		slices.Sort(lat)
		return ms(lat[int(p*float64(len(lat)-1))])
	}
	fmt.Printf("WAKE waiters=%d jobs=%d statement_ms=%.1f p50_ms=%.1f p99_ms=%.1f max_ms=%.1f commit_p50_ms=%.1f commit_p99_ms=%.1f done=%d other=%d store_reads=%s\n",
		waiters, jobs, ms(committed.Sub(start)), pct(fromStart, 0.5), pct(fromStart, 0.99), pct(fromStart, 1),
		pct(fromCommit, 0.5), pct(fromCommit, 0.99), len(fromStart), other, reads)
	return nil
}

// capture starts a CPU profile and an execution trace of the next two
// seconds on the service's pprof listener, writing them to prefix.cpu and
// prefix.trace; it returns once both have had time to start.
func capture(base, prefix string) *sync.WaitGroup {
	wg := new(sync.WaitGroup)
	for path, suffix := range map[string]string{"/bench/profile?seconds=2": ".cpu", "/debug/pprof/trace?seconds=2": ".trace"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := http.Get(base + path)
			if err != nil {
				fmt.Fprintln(os.Stderr, "wake: profile:", err)
				return
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			_ = os.WriteFile(prefix+suffix, b, 0o644)
		}()
	}
	if out := os.Getenv("WAKE_PERF"); out != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = exec.Command("perf", "record", "-a", "-F", "1999", "-o", prefix+".perf", "--", "sleep", "1").Run()
		}()
	}
	time.Sleep(200 * time.Millisecond)
	return wg
}

// addJobs adds PENDING jobs with ids for their owners, and returns what
// finishes them all in one statement.
func addJobs(dbURL string, ids []string, owner []cred) (finish func() error, _ error) {
	db, err := sql.Open("postgres", dbURL)
	if err != nil {
		return nil, err
	}
	clients := make([]string, len(owner))
	for i := range owner {
		clients[i] = owner[i].client
	}
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `INSERT INTO async_jobs (id, client_id, status, eta, created_at, updated_at)
		SELECT id::uuid, client, 'PENDING', now() + interval '1 hour', now(), now()
		FROM unnest($1::text[], $2::text[]) AS t(id, client)`, pq.Array(ids), pq.Array(clients)); err != nil {
		db.Close()
		return nil, fmt.Errorf("add jobs: %w", err)
	}
	// One connection, opened now, so that the statement is all the finish costs.
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return func() error {
		defer db.Close()
		_, err := db.ExecContext(ctx, `UPDATE async_jobs SET status = 'DONE', updated_at = now(), finished_at = now(),
			links = jsonb_build_array(jsonb_build_object('entity', 'composition', 'href', '/patients/p/encounter/e/composition/' || id))
			WHERE id = ANY($1::uuid[])`, pq.Array(ids))
		return err
	}, nil
}

// hold sends req on a new connection and reads the whole answer; at is
// when its first bytes arrived. keep is handed the connection at once: it
// is left open, as closing it while other answers are still on their way
// would add the closes' work to theirs. A connection that failed or was
// refused (503) is closed before the caller tries again, or retries would
// pile up open descriptors until none is left.
func hold(host string, req []byte, timeout time.Duration, keep func(net.Conn)) (at time.Time, status int, body string, err error) {
	conn, err := net.DialTimeout("tcp", host, 5*time.Second)
	if err != nil {
		return at, 0, "", err
	}
	defer func() {
		if err != nil || status == http.StatusServiceUnavailable {
			conn.Close()
		}
	}()
	keep(conn)
	_ = conn.SetDeadline(time.Now().Add(timeout))
	if _, err := conn.Write(req); err != nil {
		return at, 0, "", err
	}
	br := bufio.NewReader(conn)
	if _, err := br.Peek(1); err != nil {
		return at, 0, "", err
	}
	at = time.Now()
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		return at, 0, "", err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return at, res.StatusCode, string(b), nil
}

func readCreds(path string) ([]cred, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []cred
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for sc.Scan() {
		if p := strings.Fields(sc.Text()); len(p) == 3 {
			out = append(out, cred{p[0], p[1], p[2]})
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no credentials in " + path)
	}
	return out, sc.Err()
}

// gauge reads one unlabelled metric from a Prometheus text page.
func gauge(metricsURL, name string) (int, error) {
	res, err := http.Get(metricsURL)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			return int(f), err
		}
	}
	return 0, errors.New(name + " not found")
}

// loopback refuses any URL whose host is not a loopback address.
func loopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" {
		return errors.New("every URL is required and must name a loopback host")
	}
	ip := net.ParseIP(u.Hostname())
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%s is not a loopback address", u.Hostname())
	}
	return nil
}

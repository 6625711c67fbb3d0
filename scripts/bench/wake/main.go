// Command wake measures how fast a change reaches held requests: it adds
// -jobs PENDING jobs to the database, holds -waiters `Prefer: wait`
// requests spread evenly over them (each with its owner's token and
// api-key), waits until the service's jobstatus_waiters gauge says they are
// all held, finishes every job in one UPDATE statement and times each held
// request from the start of that statement to its DONE answer. It prints
//
//	WAKE waiters=N jobs=M statement_ms=S p50_ms=A p99_ms=B max_ms=C done=D other=O
//
// (other counts answers that were not a DONE 200). Loopback only.
package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
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
	flag.StringVar(&credsFile, "creds", "", `file of "client token api-key" lines`)
	flag.IntVar(&jobs, "jobs", 1000, "pending jobs to finish in one statement")
	flag.IntVar(&waiters, "waiters", 10000, "requests held, spread over the jobs")
	flag.IntVar(&wait, "wait", 30, "seconds asked for in Prefer: wait")
	flag.Parse()
	for _, u := range []string{base, metrics, dbURL} {
		if err := loopback(u); err != nil {
			return err
		}
	}
	creds, err := readCreds(credsFile)
	if err != nil {
		return err
	}
	db, err := sql.Open("postgres", dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx := context.Background()

	ids := make([]string, jobs)
	owner := make([]cred, jobs)
	for i := range ids {
		ids[i], owner[i] = domain.NewID().String(), creds[i%len(creds)]
	}
	clients := make([]string, jobs)
	for i := range owner {
		clients[i] = owner[i].client
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO async_jobs (id, client_id, status, eta, created_at, updated_at)
		SELECT id::uuid, client, 'PENDING', now() + interval '1 hour', now(), now()
		FROM unnest($1::text[], $2::text[]) AS t(id, client)`, pq.Array(ids), pq.Array(clients)); err != nil {
		return fmt.Errorf("add jobs: %w", err)
	}

	transport := &http.Transport{MaxIdleConnsPerHost: waiters, MaxConnsPerHost: 0, DisableCompression: true}
	client := &http.Client{Transport: transport, Timeout: time.Duration(wait+10) * time.Second}
	type answer struct {
		at time.Time
		ok bool
	}
	answers := make([]answer, waiters)
	var wg sync.WaitGroup
	for n := range waiters {
		i := n % jobs
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodGet, base+"/patients/composition/job/"+ids[i], nil)
			req.Header.Set("Authorization", "Bearer "+owner[i].token)
			req.Header.Set("api-key", owner[i].key)
			req.Header.Set("Prefer", "wait="+strconv.Itoa(wait))
			for attempt := 0; ; attempt++ { // a burst of new connections may be refused: try again
				res, err := client.Do(req)
				if err != nil {
					if attempt < 20 {
						time.Sleep(100 * time.Millisecond)
						continue
					}
					return
				}
				body, _ := io.ReadAll(res.Body)
				res.Body.Close()
				at := time.Now()
				if res.StatusCode == http.StatusServiceUnavailable && attempt < 20 {
					time.Sleep(100 * time.Millisecond)
					continue
				}
				var env struct {
					Data struct {
						Status string `json:"status"`
					} `json:"data"`
				}
				_ = json.Unmarshal(body, &env)
				answers[n] = answer{at: at, ok: res.StatusCode == http.StatusOK && env.Data.Status == "DONE"}
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
			return fmt.Errorf("only %d of %d requests held", n, waiters)
		}
		time.Sleep(50 * time.Millisecond)
	}

	start := time.Now()
	if _, err := db.ExecContext(ctx, `UPDATE async_jobs SET status = 'DONE', updated_at = now(), finished_at = now(),
		links = jsonb_build_array(jsonb_build_object('entity', 'composition', 'href', '/patients/p/encounter/e/composition/' || id))
		WHERE id = ANY($1::uuid[])`, pq.Array(ids)); err != nil {
		return fmt.Errorf("finish jobs: %w", err)
	}
	statement := time.Since(start)
	wg.Wait()

	var lat []time.Duration
	other := 0
	for _, a := range answers {
		if !a.ok {
			other++
			continue
		}
		lat = append(lat, a.at.Sub(start))
	}
	if len(lat) == 0 {
		return errors.New("no held request answered DONE")
	}
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	fmt.Printf("WAKE waiters=%d jobs=%d statement_ms=%.1f p50_ms=%.1f p99_ms=%.1f max_ms=%.1f done=%d other=%d\n",
		waiters, jobs, float64(statement.Microseconds())/1000, pct(0.5), pct(0.99), pct(1), len(lat), other)
	return nil
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

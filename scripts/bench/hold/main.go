// Command hold measures what a held `Prefer: wait` request costs the
// service: it reads the service's RSS, opens -n requests with
// "Prefer: wait=S" on pending jobs (each with its owner's token and
// api-key), waits until the service's jobstatus_waiters gauge says they are
// all held, reads the RSS again and prints
//
//	HELD waiters=N rss_before_kib=A rss_after_kib=B per_request_bytes=C seconds=T answered=M failed=F
//
// (answered and failed count requests that ended before the measurement,
// none should; retried counts 503s from a store swamped by the burst, sent
// again a second later), then hangs up every request and exits. Loopback only.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "hold:", err)
		os.Exit(1)
	}
}

type options struct {
	base, metrics, ids, creds string
	pid, n, wait              int
	timeout                   time.Duration
}

func run() error {
	var o options
	flag.StringVar(&o.base, "url", "", "service base URL (loopback)")
	flag.StringVar(&o.metrics, "metrics", "", "service /metrics URL (loopback)")
	flag.StringVar(&o.ids, "ids", "", `file of "id client" lines: the pending jobs to wait on`)
	flag.StringVar(&o.creds, "creds", "", `file of "client token api-key" lines`)
	flag.IntVar(&o.pid, "pid", 0, "service process id, for its RSS")
	flag.IntVar(&o.n, "n", 10000, "requests to hold")
	flag.IntVar(&o.wait, "wait", 30, "seconds asked for in Prefer: wait")
	flag.DurationVar(&o.timeout, "timeout", 28*time.Second, "give up when not all are held by then")
	flag.Parse()
	for _, u := range []string{o.base, o.metrics} {
		if err := loopback(u); err != nil {
			return err
		}
	}
	if o.pid <= 0 || o.n <= 0 {
		return errors.New("-pid and -n are required")
	}
	jobs, err := readJobs(o.ids, o.creds)
	if err != nil {
		return err
	}

	before, err := rssKiB(o.pid)
	if err != nil {
		return err
	}
	start := time.Now()
	var answered, failed, retried atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	client := &http.Client{Transport: &http.Transport{
		MaxIdleConnsPerHost: o.n, DisableCompression: true,
		DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	}}
	// At most 256 requests are being sent at once, so the listen backlog
	// never overflows into SYN retries.
	sending := make(chan struct{}, 256)
	for i := range o.n {
		j := jobs[i%len(jobs)]
		sending <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var once sync.Once
			release := func() { once.Do(func() { <-sending }) }
			defer release()
			trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { release() }}
			for ctx.Err() == nil {
				status, err := hold(httptrace.WithClientTrace(ctx, trace), client, o.base, j, o.wait)
				switch {
				case ctx.Err() != nil:
					return
				case err != nil:
					failed.Add(1)
					fmt.Fprintln(os.Stderr, "hold: request:", err)
					return
				case status == http.StatusServiceUnavailable:
					// A burst of held requests queues on the store;
					// the ones it turned away come back a little later.
					retried.Add(1)
					release()
					select {
					case <-ctx.Done():
					case <-time.After(time.Second + time.Duration(rand.N(1000))*time.Millisecond):
					}
				default:
					answered.Add(1)
					return
				}
			}
		}()
	}

	held, err := awaitWaiters(ctx, o.metrics, o.n, o.timeout)
	if err != nil {
		return err
	}
	after, err := rssKiB(o.pid)
	if err != nil {
		return err
	}
	fmt.Printf("HELD waiters=%d rss_before_kib=%d rss_after_kib=%d per_request_bytes=%d seconds=%.1f answered=%d failed=%d retried=%d\n",
		held, before, after, (after-before)*1024/int64(max(held, 1)), time.Since(start).Seconds(), answered.Load(), failed.Load(), retried.Load())
	if held < o.n {
		return fmt.Errorf("only %d of %d requests were held after %s", held, o.n, o.timeout)
	}
	return nil
}

type job struct{ id, token, key string }

// hold sends one held request and returns its status once answered.
func hold(ctx context.Context, client *http.Client, base string, j job, wait int) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/patients/composition/job/"+j.id, nil)
	if err != nil {
		return 0, fmt.Errorf("new request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+j.token)
	req.Header.Set("api-key", j.key)
	req.Header.Set("Prefer", "wait="+strconv.Itoa(wait))
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("get job: %w", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// readJobs joins the ids with their owners' credentials.
func readJobs(idsFile, credsFile string) ([]job, error) {
	creds := map[string][2]string{}
	if err := eachLine(credsFile, func(f []string) {
		if len(f) == 3 {
			creds[f[0]] = [2]string{f[1], f[2]}
		}
	}); err != nil {
		return nil, err
	}
	var jobs []job
	if err := eachLine(idsFile, func(f []string) {
		if c, ok := creds[f[len(f)-1]]; ok && len(f) == 2 {
			jobs = append(jobs, job{id: f[0], token: c[0], key: c[1]})
		}
	}); err != nil {
		return nil, err
	}
	if len(jobs) == 0 {
		return nil, fmt.Errorf("%s: no job with known credentials", idsFile)
	}
	return jobs, nil
}

func eachLine(name string, fn func([]string)) error {
	f, err := os.Open(name)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for sc.Scan() {
		fn(strings.Fields(sc.Text()))
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	return nil
}

// awaitWaiters polls the jobstatus_waiters gauge until it reaches n or the
// timeout passes, and returns the last value seen.
func awaitWaiters(ctx context.Context, metricsURL string, n int, timeout time.Duration) (int, error) {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	last := 0
	for {
		if v, err := gauge(ctx, metricsURL, "jobstatus_waiters"); err == nil {
			last = v
		}
		if last >= n || time.Now().After(deadline) {
			return last, nil
		}
		select {
		case <-ctx.Done():
			return last, fmt.Errorf("await waiters: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

func gauge(ctx context.Context, metricsURL, name string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, metricsURL, nil)
	if err != nil {
		return 0, fmt.Errorf("metrics request: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("get metrics: %w", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return 0, fmt.Errorf("parse %s: %w", name, err)
			}
			return int(f), nil
		}
	}
	return 0, fmt.Errorf("metric %s not found", name)
}

// rssKiB reads VmRSS of pid.
func rssKiB(pid int) (int64, error) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, fmt.Errorf("read process status: %w", err)
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kib, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parse VmRSS: %w", err)
			}
			return kib, nil
		}
	}
	return 0, errors.New("no VmRSS in process status")
}

// loopback refuses any URL whose host is not a loopback address.
func loopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" {
		return fmt.Errorf("bad URL %q", raw)
	}
	if ip := net.ParseIP(u.Hostname()); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%s: only loopback addresses are allowed", raw)
	}
	return nil
}

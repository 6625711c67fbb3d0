// Command writeapi measures the write API's throughput: -clients workers,
// each creating a job (POST /internal/jobs) and finishing it
// (POST /internal/jobs/{id}/complete) in turn, as fast as the service
// answers, for -duration, with the client package. It prints
//
//	WRITEAPI clients=N seconds=S jobs=J jobs_per_s=R errors=E
//
// where jobs counts jobs created and finished (the same unit as pgbench's
// transactions in writes.sh) and errors the calls that failed. Loopback
// only.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jobstatus/jobstatus/client"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "writeapi:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		base, token, owner string
		clients            int
		duration           time.Duration
	)
	flag.StringVar(&base, "url", "", "the write API's base URL (loopback)")
	flag.StringVar(&token, "token", "", "a writer's token (scope composition_job:write)")
	flag.StringVar(&owner, "owner", "mis-writes", "the MIS client that owns the jobs")
	flag.IntVar(&clients, "clients", 8, "concurrent workers")
	flag.DurationVar(&duration, "duration", 10*time.Second, "how long to write")
	flag.Parse()
	if err := loopback(base); err != nil {
		return err
	}
	if token == "" || clients < 1 || duration <= 0 {
		return errors.New("-token, -clients >= 1 and -duration > 0 are required")
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}, Timeout: 30 * time.Second}
	c, err := client.New(base, client.WithToken(token), client.WithHTTPClient(hc))
	if err != nil {
		return err
	}
	links := []client.Link{{Entity: "composition", Href: "/c"}}

	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()
	var jobs, failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				j, _, err := c.Create(ctx, client.CreateParams{ClientID: owner, ETA: 30 * time.Second})
				if err == nil {
					_, err = c.Complete(ctx, j.ID, links...)
				}
				switch {
				case err == nil:
					jobs.Add(1)
				case ctx.Err() == nil:
					failed.Add(1)
					if failed.Load() == 1 {
						fmt.Fprintln(os.Stderr, "writeapi: first error:", err)
					}
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	fmt.Printf("WRITEAPI clients=%d seconds=%.1f jobs=%d jobs_per_s=%.1f errors=%d\n",
		clients, elapsed, jobs.Load(), float64(jobs.Load())/elapsed, failed.Load())
	return nil
}

// loopback refuses any URL whose host is not a loopback address.
func loopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("-url %q: not an absolute URL", raw)
	}
	ip := net.ParseIP(u.Hostname())
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-url %q: loopback addresses only", raw)
	}
	return nil
}

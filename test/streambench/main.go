// Command streambench measures what held connections cost the service:
// N event streams against N held "Prefer: wait" polls, on the real
// handler and server over the memory store. The clients run in a child
// process, so the figures are the server's alone.
//
//	go run ./test/streambench -n 1000
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/jobstatus/jobstatus/adapters/httpapi"
	"github.com/jobstatus/jobstatus/adapters/memory"
	"github.com/jobstatus/jobstatus/app"
	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
)

const (
	client = "mis-alpha"
	token  = "bench-token"
	apiKey = "bench-key"
)

type tokens struct{}

func (tokens) Verify(context.Context, string) (domain.Principal, error) {
	return domain.Principal{ClientID: client, Scopes: []string{domain.ScopeCompositionRead}, ExpiresAt: time.Now().Add(time.Hour)}, nil
}

type clients struct{}

func (clients) ClientByAPIKey(context.Context, string) (domain.Client, error) {
	return domain.Client{ID: client}, nil
}

func main() {
	n := flag.Int("n", 1000, "connections of each kind")
	child := flag.String("child", "", "internal: hold connections of this kind (streams or polls) to -url")
	url := flag.String("url", "", "internal: the server")
	ids := flag.String("ids", "", "internal: job ids for polls, comma-separated")
	flag.Parse()
	if *child != "" {
		hold(*child, *url, *n, strings.Split(*ids, ","))
		return
	}
	if err := run(*n); err != nil {
		fmt.Fprintln(os.Stderr, "streambench:", err)
		os.Exit(1)
	}
}

func run(n int) error {
	changes, err := app.NewChanges(2 * n)
	if err != nil {
		return err
	}
	repo := memory.NewJobs()
	feed, err := app.NewEventFeed(repo, app.FeedConfig{MaxStreams: 2 * n, MaxStreamsPerClient: 2 * n, Poll: 250 * time.Millisecond,
		ReadTimeout: 500 * time.Millisecond, Batch: 1000, Buffer: 256}, changes)
	if err != nil {
		return err
	}
	repo.SetDoorbell(feed.Kick)
	eta, err := app.NewETA(app.ETAConfig{Default: time.Hour, Percentile: 0.9, Window: 10, MinSamples: 1, Min: time.Second, Max: time.Hour}, repo)
	if err != nil {
		return err
	}
	pub, err := app.NewPublic(app.PublicDeps{Jobs: repo, Tokens: tokens{}, Clients: clients{}, Limits: ports.Unlimited{},
		Clock: ports.ClockFunc(time.Now), ETA: eta, Changes: changes, Polling: app.PollingConfig{MaxWait: time.Minute, MaxRetryAfter: time.Minute},
		Lister: repo, Feed: feed, List: app.ListConfig{DefaultPageSize: 50, MaxPageSize: 500}})
	if err != nil {
		return err
	}
	if err := feed.Start(context.Background()); err != nil {
		return err
	}
	var ids []string
	for range n {
		j, err := domain.New(domain.NewParams{ID: domain.NewID(), ClientID: client, ETA: time.Now().Add(time.Hour), Now: time.Now()})
		if err != nil {
			return err
		}
		if _, _, err := repo.Create(context.Background(), j); err != nil {
			return err
		}
		ids = append(ids, j.ID.String())
	}
	cfg := httpapi.DefaultServerConfig()
	cfg.Addr, cfg.WriteTimeout = "127.0.0.1:0", 2*time.Minute
	h := httpapi.DefaultHandlerConfig()
	h.MaxInFlight = 0
	srv := httpapi.NewServer(cfg, httpapi.NewHandler(pub, zap.NewNop(), h, httpapi.NopObserver{}), zap.NewNop())
	if err := srv.Start(context.Background()); err != nil {
		return err
	}
	base := "http://" + srv.Addr().String()

	fmt.Printf("streambench: %d connections of each kind, %s/%s, %d CPUs\n", n, runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
	measure := func(kind string, held func() int) (float64, error) {
		before := usage()
		cmd := exec.Command(os.Args[0], "-child", kind, "-url", base, "-n", strconv.Itoa(n), "-ids", strings.Join(ids, ","))
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			return 0, err
		}
		defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
		deadline := time.Now().Add(2 * time.Minute)
		for held() < n {
			if time.Now().After(deadline) {
				return 0, fmt.Errorf("%s: only %d of %d held", kind, held(), n)
			}
			time.Sleep(50 * time.Millisecond) // polling a counter in a benchmark program, not ordering a test
		}
		after := usage()
		per := float64(after-before) / float64(n)
		fmt.Printf("  %-7s held %d: server heap+stacks %+.1f MiB, %.1f KiB per connection\n", kind, n, float64(after-before)/(1<<20), per/1024)
		return per, nil
	}
	stream, err := measure("streams", feed.Streams)
	if err != nil {
		return err
	}
	// Let the stream connections close before the polls.
	for feed.Streams() > 0 {
		time.Sleep(50 * time.Millisecond)
	}
	poll, err := measure("polls", changes.Waiting)
	if err != nil {
		return err
	}
	fmt.Printf("  one stream watches every job of its client; the held polls it replaces for 100 jobs cost %.0f KiB, the stream %.1f KiB (%.0fx less)\n",
		100*poll/1024, stream/1024, 100*poll/stream)
	fmt.Printf("  %d clients: %d streams = %.1f MiB, against %d held polls = %.1f MiB\n",
		n, n, float64(n)*stream/(1<<20), 100*n, 100*float64(n)*poll/(1<<20))
	return nil
}

// usage is the server's live heap and goroutine stacks after a collection.
func usage() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse + m.StackInuse)
}

// hold opens n connections of kind and keeps them until killed.
func hold(kind, base string, n int, ids []string) {
	tr := &http.Transport{MaxIdleConnsPerHost: -1, DisableCompression: true}
	hc := &http.Client{Transport: tr}
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			path := httpapi.EventsPath
			if kind == "polls" {
				path = "/patients/composition/job/" + ids[i%len(ids)]
			}
			req, _ := http.NewRequest(http.MethodGet, base+path, nil)
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Api-Key", apiKey)
			if kind == "polls" {
				req.Header.Set("Prefer", "wait=60")
			}
			res, err := hc.Do(req)
			if err != nil {
				fmt.Fprintln(os.Stderr, "streambench child:", err)
				return
			}
			defer res.Body.Close()
			sc := bufio.NewScanner(res.Body)
			for sc.Scan() {
			}
		}(i)
	}
	wg.Wait()
}

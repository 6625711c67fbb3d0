// Command bare is the HTTP ceiling of `make bench`: plain net/http with one
// handler that answers every request with the same JSON body, sized like the
// service's typical 200 answer. It reads no header and does no work, so the
// service's throughput against it shows what the service's own per-request
// work costs. It listens on loopback only and prints the address it bound.
//
// It is also the floor of the wake-up run (scripts/bench/wake): a request
// with a Prefer header is held until GET /release, then answered like any
// other; GET /held says how many are held, as the service's metrics page
// says it (jobstatus_waiters N). /release works once per process: after it
// nothing is held any more.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof" // on -pprof's listener only: the measured handler is srv's
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bare:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:0", "listen address (loopback)")
	size := flag.Int("size", 260, "body size in bytes")
	pprofAddr := flag.String("pprof", "", "serve net/http/pprof on this loopback address too (make bench's CPU profile)")
	flag.Parse()
	body, err := fixedBody(*size)
	if err != nil {
		return err
	}
	if err := loopbackOnly("addr", *addr); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if *pprofAddr != "" {
		if err := servePprof(*pprofAddr); err != nil {
			return err
		}
	}
	length := strconv.Itoa(len(body))
	var (
		held     atomic.Int64
		release  = make(chan struct{})
		released sync.Once
	)
	srv := &http.Server{
		ReadHeaderTimeout: 5 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch {
			case r.URL.Path == "/release":
				released.Do(func() { close(release) })
				return
			case r.URL.Path == "/held":
				fmt.Fprintf(w, "jobstatus_waiters %d\n", held.Load())
				return
			case r.Header.Get("Prefer") != "":
				held.Add(1)
				select {
				case <-release:
				case <-r.Context().Done():
				}
				held.Add(-1)
			}
			h := w.Header()
			h["Content-Type"] = []string{"application/json"}
			h["Content-Length"] = []string{length}
			_, _ = w.Write(body)
		}),
	}
	fmt.Println(ln.Addr().String())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// servePprof serves net/http/pprof (http.DefaultServeMux) on a loopback
// address of its own, apart from the measured server.
func servePprof(addr string) error {
	if err := loopbackOnly("pprof", addr); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on -pprof: %w", err)
	}
	go func() { _ = http.Serve(ln, nil) }()
	return nil
}

// loopbackOnly refuses the address of flag -name unless its host is a
// loopback IP.
func loopbackOnly(name, addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("parse -%s: %w", name, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-%s %s: only loopback addresses are allowed", name, addr)
	}
	return nil
}

// fixedBody returns a JSON envelope of exactly size bytes, padded in a
// field nobody reads.
func fixedBody(size int) ([]byte, error) {
	const head, tail = `{"data":{"status":"DONE"},"meta":{"pad":"`, `"}}`
	pad := size - len(head) - len(tail)
	if pad < 0 {
		return nil, fmt.Errorf("-size %d: at least %d bytes", size, len(head)+len(tail))
	}
	return []byte(head + strings.Repeat("x", pad) + tail), nil
}

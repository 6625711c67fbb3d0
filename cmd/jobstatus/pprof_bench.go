//go:build benchpprof

// The benchpprof build of jobstatus serves net/http/pprof on
// BENCH_PPROF_ADDR (loopback), for scripts/bench/wake.sh with
// BENCH_WAKE_PROFILE; /bench/profile is a CPU profile sampled at 2 kHz
// instead of 100 Hz, for bursts of a few hundred milliseconds.
package main

import (
	"net/http"
	_ "net/http/pprof" // the benchpprof build only
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"time"
)

func init() {
	addr := os.Getenv("BENCH_PPROF_ADDR")
	if addr == "" {
		return
	}
	http.HandleFunc("/bench/profile", func(w http.ResponseWriter, r *http.Request) {
		secs, err := strconv.Atoi(r.URL.Query().Get("seconds"))
		if err != nil || secs <= 0 {
			secs = 2
		}
		runtime.SetCPUProfileRate(2000) // StartCPUProfile keeps a rate already set
		if err := pprof.StartCPUProfile(w); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		time.Sleep(time.Duration(secs) * time.Second)
		pprof.StopCPUProfile()
	})
	go func() { _ = http.ListenAndServe(addr, nil) }()
}

package bootstrap

import (
	"errors"
	"math"
	"runtime/debug"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"go.uber.org/zap"
)

// DefaultGCPercent is the garbage collector's target while serving, unless
// the environment sets GOGC: Go's own 100 %, a collection each time the
// heap has doubled what is live. It was 400 %, for 4–5 % more polls per
// second in one load run, with a heap that may reach five times the live
// one and nothing to stop it: a 10⁶-row change took a service to 700 MiB
// and a 256 MiB container to an OOM kill. The heap is now bounded by the
// soft memory limit (MemoryLimitRatio of the container's limit), and at
// 100 % it stays near twice the live heap below that limit instead of
// floating up to it: RSS then tracks what is live, and a burst (a bulk
// change, every held request at once) meets a heap with room to grow
// rather than one already at the limit, where the collector would take up
// to half the CPU when the service is busiest. docs/operations.md,
// "Memory", has the budget.
const DefaultGCPercent = 100

// MemoryLimitRatio is the share of the container's memory limit (cgroup
// v2 memory.max or v1 memory.limit_in_bytes) that serve gives the Go
// runtime as its soft limit (GOMEMLIMIT), unless the environment sets
// GOMEMLIMIT. The rest is for what the runtime does not count: the
// kernel's socket buffers of held connections, which the cgroup charges
// to the container, and the binary's own pages.
const MemoryLimitRatio = 0.8

// memorySettings is what tuneMemory chose, for the start-up log line.
type memorySettings struct {
	GCPercent   int    // the GC target in force
	GCSource    string // "GOGC" (environment) or "default"
	Limit       int64  // the Go runtime's soft limit in force, math.MaxInt64 for none
	LimitSource string // "GOMEMLIMIT", "cgroup", or "none"
	Container   uint64 // the container's limit read from the cgroup; 0 unknown
	Err         error  // why the cgroup could not be read, if it could not
}

// tuneMemory applies DefaultGCPercent unless environ sets GOGC,
// and sets the Go runtime's soft memory limit to MemoryLimitRatio of the
// limit containerLimit reports, unless the environment sets GOMEMLIMIT (the
// runtime has applied either already) or there is no limit.
func tuneMemory(environ []string, containerLimit memlimit.Provider) memorySettings {
	s := memorySettings{GCSource: "GOGC"}
	if !envSet(environ, "GOGC") {
		debug.SetGCPercent(DefaultGCPercent)
		s.GCSource = "default"
	}
	s.GCPercent = debug.SetGCPercent(-1)
	debug.SetGCPercent(s.GCPercent)

	switch limit, err := containerLimit(); {
	case err == nil:
		s.Container = limit
	case !errors.Is(err, memlimit.ErrNoLimit):
		s.Err = err
	}
	s.LimitSource = "none"
	switch {
	case envSet(environ, "GOMEMLIMIT"):
		s.LimitSource = "GOMEMLIMIT"
	case s.Container > 0:
		debug.SetMemoryLimit(int64(min(float64(s.Container)*MemoryLimitRatio, math.MaxInt64)))
		s.LimitSource = "cgroup"
	}
	s.Limit = debug.SetMemoryLimit(-1)
	return s
}

// log writes the start-up line that says which memory limit and GC target
// the service runs with, and where they come from (limit_source "none":
// bounded by the GC target only, see docs/operations.md, Memory).
func (s memorySettings) log(logger *zap.Logger) {
	fields := []zap.Field{
		zap.String("limit_source", s.LimitSource),
		zap.Int("gogc", s.GCPercent), zap.String("gogc_source", s.GCSource),
	}
	if s.Limit != math.MaxInt64 {
		fields = append(fields, zap.Int64("go_memory_limit_bytes", s.Limit))
	}
	if s.Container > 0 {
		fields = append(fields, zap.Uint64("container_limit_bytes", s.Container))
	}
	if s.Err != nil {
		logger.Warn("container memory limit unreadable, no soft limit set from it", zap.Error(s.Err))
	}
	logger.Info("memory", fields...)
}

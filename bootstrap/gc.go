package bootstrap

import "runtime/debug"

// DefaultGCPercent is the garbage collector's target while serving, unless
// the environment sets GOGC: a collection starts when the heap has grown by
// 400 % of what is live, not Go's 100 %. Nearly every allocation of the
// service dies with its request, while the live heap (read model, caches)
// is small and steady, so collections were frequent and each one marked
// the same live heap again: about a tenth of the CPU under load. At 400 %
// they are a fifth as frequent, for a heap that may reach five times the
// live one (some 40 MB live → 200 MB). `make bench` measured it: 4–5 % more
// polls per second at 64 connections. GOGC, and GOMEMLIMIT, still apply as
// the Go runtime documents them.
const DefaultGCPercent = 400

// tuneGC applies DefaultGCPercent unless environ sets GOGC (the runtime
// has applied that already). It reports whether it set it.
func tuneGC(environ []string) bool {
	if envSet(environ, "GOGC") {
		return false
	}
	debug.SetGCPercent(DefaultGCPercent)
	return true
}

#!/usr/bin/env bash
# overhead.sh — part of `make bench`: runs BenchmarkOverhead
# (adapters/httpapi/overhead_bench_test.go) OVERHEAD_COUNT times and prints
# what access logging, metrics, routing and authentication each cost per
# request, in process (no socket): the median of the runs.
set -euo pipefail
cd "$(dirname "$0")/../.."

COUNT="${OVERHEAD_COUNT:-5}"
BENCHTIME="${OVERHEAD_BENCHTIME:-1s}"
out="$(go test -run '^$' -bench '^BenchmarkOverhead$' -benchmem -count "$COUNT" -benchtime "$BENCHTIME" ./adapters/httpapi)"
echo "$out" | grep '^Benchmark' >&2

echo "$out" | awk '
# value of the field before unit, or "" when the line has no such unit
function unit(u,   i) { for (i = 3; i <= NF; i++) if ($i == u) return $(i - 1); return "" }
function median(name,   n, i, j, t, v) {
	n = count[name]
	for (i = 1; i <= n; i++) v[i] = vals[name, i]
	for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
	return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
/^BenchmarkOverhead\// {
	name = $1; sub(/^BenchmarkOverhead\/part=/, "", name); sub(/-[0-9]+$/, "", name)
	v = unit("extra-ns/req"); if (v == "") v = unit("ns/op")
	vals[name, ++count[name]] = v
	if (unit("allocs/op") != "") allocs[name] = unit("allocs/op")
}
function row(label, name) {
	if (!(name in count)) { print "overhead: missing benchmark part=" name > "/dev/stderr"; failed = 1; return }
	printf "%-62s %8.0f ns\n", label, median(name)
}
END {
	print ""
	print "Per-request overhead, in process, median of the runs (a poll of a finished job, cached token):"
	row("whole handler (access log, metrics, routing, auth, job, JSON)", "handler")
	row("  access logging (handler with it minus without it)", "access-log")
	row("  metrics (handler with them minus without them)", "metrics")
	row("  routing (the public API routing table)", "routing")
	row("  routing by gorilla/mux alone, same routes (the other listeners)", "routing-mux")
	row("  dispatch by gorilla/mux instead of the table (whole handler)", "dispatch")
	row("  authentication, cached token (api-key digest + token cache)", "authentication-cached-token")
	row("authentication on a token-cache miss (RS256 verify)", "authentication-RS256-verify")
	exit failed
}'

#!/usr/bin/env bash
# overhead.sh — part of `make bench`: runs BenchmarkOverhead
# (adapters/httpapi/overhead_bench_test.go) OVERHEAD_COUNT times and prints
# what access logging, metrics, routing and authentication each cost per
# request, in process (no socket), taking each sub-benchmark's fastest run.
set -euo pipefail
cd "$(dirname "$0")/../.."

COUNT="${OVERHEAD_COUNT:-3}"
BENCHTIME="${OVERHEAD_BENCHTIME:-1s}"
out="$(go test -run '^$' -bench '^BenchmarkOverhead$' -benchmem -count "$COUNT" -benchtime "$BENCHTIME" ./adapters/httpapi)"
echo "$out" | grep '^Benchmark' >&2

echo "$out" | awk '
/^BenchmarkOverhead\// {
	name = $1; sub(/^BenchmarkOverhead\//, "", name); sub(/-[0-9]+$/, "", name)
	if (!(name in ns) || $3 < ns[name]) { ns[name] = $3; allocs[name] = $7 }
}
function row(label, v, a) { printf "%-58s %9.0f ns %s\n", label, v, a }
END {
	need = "handler=full handler=no-access-log handler=no-metrics handler=neither part=routing part=authentication-cached-token part=authentication-RS256-verify"
	n = split(need, names, " ")
	for (i = 1; i <= n; i++) if (!(names[i] in ns)) { print "overhead: missing benchmark " names[i] > "/dev/stderr"; exit 1 }
	print ""
	print "Per-request overhead, in process (fastest of the runs; a poll of a finished job):"
	row("whole handler: access log + metrics + routing + auth + job", ns["handler=full"], "(" allocs["handler=full"] " allocs)")
	row("  access logging (full - no access log)", ns["handler=full"] - ns["handler=no-access-log"], "")
	row("  metrics (full - no metrics)", ns["handler=full"] - ns["handler=no-metrics"], "")
	row("  routing (the router alone, to a handler reading the id)", ns["part=routing"], "")
	row("  authentication, cached token (api-key digest + token cache)", ns["part=authentication-cached-token"], "")
	row("  rest: envelope, JSON, ETag, job lookup, middleware", ns["handler=neither"] - ns["part=routing"] - ns["part=authentication-cached-token"], "")
	row("authentication on a token-cache miss (RS256 verify)", ns["part=authentication-RS256-verify"], "")
}'

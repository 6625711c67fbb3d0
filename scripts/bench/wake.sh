#!/usr/bin/env bash
# wake.sh — the wake-up run of `make bench`: PostgreSQL (the test image,
# host networking, loopback), `jobstatus serve` with production auth and its
# waiter caps raised, then scripts/bench/wake: BENCH_WAKE_WAITERS (10 000)
# `Prefer: wait` requests held on BENCH_WAKE_JOBS (1 000) pending jobs, all
# finished by one UPDATE statement; prints change-to-response p50/p99.
# The floor is the same run against the bare handler (scripts/bench/bare),
# which holds the same requests and answers them all at once when told: what
# 10 000 answers cost on this machine with no service work at all. The
# target: the service's p99 at most 1.1 times the floor's. BENCH_WAKE_ROUNDS
# (5) rounds each run the floor and then the service, each on a fresh
# process; the verdict is the median of the rounds' ratios.
# BENCH_WAKE_PROFILE=DIR builds the service with net/http/pprof (build tag
# benchpprof; never the figures to record) and writes a CPU profile and an
# execution trace of each round's burst to DIR. Everything stays on
# 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/../.."

WAITERS="${BENCH_WAKE_WAITERS:-10000}"
JOBS="${BENCH_WAKE_JOBS:-1000}"
ROUNDS="${BENCH_WAKE_ROUNDS:-5}"
PROFILE="${BENCH_WAKE_PROFILE:-}"
IMAGE="${TEST_POSTGRES_IMAGE:-jobstatus-postgres:15-r2}" # never scripts/test-env.sh here: it removes every test container
WORK="$(mktemp -d /tmp/jobstatus-wake.XXXXXX)"
CTR=""
SVC_PID=""
BARE_PID=""

log() { echo "wake: $*" >&2; }
cleanup() {
	for pid in $SVC_PID $BARE_PID; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
	if [ -n "$CTR" ]; then docker rm -f "$CTR" >/dev/null 2>&1 || true; fi
	rm -rf "$WORK"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

PGPORT="$(free_port)"
CTR="$(docker run -d --network host --label jobstatus.bench=wake \
	-e POSTGRES_USER=bench -e POSTGRES_PASSWORD=bench -e POSTGRES_DB=bench -e PGPORT="$PGPORT" \
	"$IMAGE" postgres -c listen_addresses=127.0.0.1 -c max_connections=100 -c synchronous_commit=off -c fsync=off)"
for _ in $(seq 1 120); do
	if docker exec "$CTR" psql -q -h 127.0.0.1 -p "$PGPORT" -U bench -d bench -c 'select 1' >/dev/null 2>&1; then break; fi
	sleep 0.5
done
DB_URL="postgres://bench:bench@127.0.0.1:$PGPORT/bench?sslmode=disable"

go build ${PROFILE:+-tags benchpprof} -o "$WORK/jobstatus" ./cmd/jobstatus
[ -z "$PROFILE" ] || mkdir -p "$PROFILE"
go build -o "$WORK/wake" ./scripts/bench/wake
go build -o "$WORK/bare" ./scripts/bench/bare
# The image's first start initialises the database with a server of its own
# that answers and then stops: a select that succeeds may have met that one,
# so migrate is tried until the real server takes it.
for attempt in $(seq 1 60); do
	if JOBSTATUS_DATABASE_URL="$DB_URL" "$WORK/jobstatus" migrate >/dev/null 2>"$WORK/migrate.err"; then break; fi
	[ "$attempt" -lt 60 ] || { cat "$WORK/migrate.err" >&2; exit 1; }
	sleep 0.5
done
"$WORK/jobstatus" keygen --alg RS256 --key-out "$WORK/key.pem" --jwks-out "$WORK/jwks.json" >/dev/null
echo "clients:" >"$WORK/clients.yaml"; : >"$WORK/creds"
for i in 0 1 2 3; do
	key="wake-key-$i-$RANDOM$RANDOM"
	printf '  - id: mis-wake-%s\n    key_sha256: %s\n' "$i" "$(printf '%s' "$key" | sha256sum | cut -d' ' -f1)" >>"$WORK/clients.yaml"
	token="$(JOBSTATUS_AUTH_ISSUER=https://auth.bench JOBSTATUS_AUTH_AUDIENCE=jobstatus \
		"$WORK/jobstatus" token --key "$WORK/key.pem" --client "mis-wake-$i" --ttl 1h)"
	echo "mis-wake-$i $token $key" >>"$WORK/creds"
done

# One round is the old single run: the floor (the bare handler holds the
# same requests, then answers them all), then the service, each on its own
# fresh process; the service's jobs are new each round. Rounds alternate the
# two so that the machine's drift (two cores shared with whatever else
# runs) falls on both alike, and the verdict is the median over rounds of
# each round's ratio: one burst of 10 000 answers is a few hundred
# milliseconds, at the mercy of one stray scheduling hiccup.
field() { sed -n "s/.* $2=\([0-9.]*\).*/\1/p" <<<" $1"; }
median() { sort -n | awk '{v[NR] = $1} END {if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
floor_round() {
	"$WORK/bare" -size 400 >"$WORK/bare.addr" &
	BARE_PID=$!
	for _ in $(seq 1 100); do [ -s "$WORK/bare.addr" ] && break; sleep 0.1; done
	local bare="http://$(head -1 "$WORK/bare.addr")"
	local status=0
	"$WORK/wake" -url "$bare" -metrics "$bare/held" -release "$bare/release" -creds "$WORK/creds" -jobs "$JOBS" -waiters "$WAITERS" || status=$?
	kill "$BARE_PID" 2>/dev/null || true; wait "$BARE_PID" 2>/dev/null || true; BARE_PID=""
	: >"$WORK/bare.addr"
	return "$status"
}
service_round() {
	local port admin pprof status=0
	port="$(free_port)"; admin="$(free_port)"; pprof="$(free_port)"
	JOBSTATUS_HTTP_ADDR="127.0.0.1:$port" JOBSTATUS_ADMIN_ADDR="127.0.0.1:$admin" JOBSTATUS_DATABASE_URL="$DB_URL" \
	JOBSTATUS_AUTH_JWKS_FILE="$WORK/jwks.json" JOBSTATUS_API_KEYS_FILE="$WORK/clients.yaml" \
	JOBSTATUS_AUTH_ISSUER=https://auth.bench JOBSTATUS_AUTH_AUDIENCE=jobstatus JOBSTATUS_RATE_LIMIT_RPS=0 \
	JOBSTATUS_POLLING_MAX_WAITERS=$((WAITERS + 100)) JOBSTATUS_EVENTS_MAX_STREAMS=64 JOBSTATUS_HTTP_MAX_IN_FLIGHT=$((WAITERS + 1000)) JOBSTATUS_LOG_LEVEL=warn \
	BENCH_PPROF_ADDR="${PROFILE:+127.0.0.1:$pprof}" \
		"$WORK/jobstatus" serve 2>>"$WORK/serve.log" &
	SVC_PID=$!
	for _ in $(seq 1 100); do
		if curl -fs "http://127.0.0.1:$admin/readyz" >/dev/null 2>&1; then break; fi
		sleep 0.1
	done
	"$WORK/wake" -url "http://127.0.0.1:$port" -metrics "http://127.0.0.1:$admin/metrics" -db "$DB_URL" \
		-creds "$WORK/creds" -jobs "$JOBS" -waiters "$WAITERS" ${PROFILE:+-profile "$PROFILE/round$1" -pprof "http://127.0.0.1:$pprof"} || status=$?
	kill "$SVC_PID" 2>/dev/null || true; wait "$SVC_PID" 2>/dev/null || true; SVC_PID=""
	return "$status"
}

echo
echo "wake-up, $(date -u +%Y-%m-%d): $WAITERS Prefer: wait requests held on $JOBS pending jobs, all finished in one statement, $ROUNDS rounds"
echo "answers timed to their first byte from the start of the statement (floor: of the release); $(nproc) cores shared by client, server and PostgreSQL"
printf '%-44s %9s %9s %9s\n' "" "p50 ms" "p99 ms" "max ms"
ratios=""; floors=""; svcs=""; done_all=""; bounds=""; owns=""
for round in $(seq 1 "$ROUNDS"); do
	log "round $round of $ROUNDS, floor: holding $WAITERS requests on the bare handler, then answering them all at once"
	floor="$(floor_round)" || { echo "wake: floor run failed" >&2; exit 1; }
	log "round $round of $ROUNDS: holding $WAITERS requests on $JOBS jobs, then finishing the jobs in one statement"
	svc="$(service_round "$round")" || { echo "wake: service run failed; its log:" >&2; tail -20 "$WORK/serve.log" >&2; exit 1; }
	printf '%-44s %9s %9s %9s\n' "round $round floor: bare handler answering all" "$(field "$floor" p50_ms)" "$(field "$floor" p99_ms)" "$(field "$floor" max_ms)"
	printf '%-44s %9s %9s %9s   (statement %s ms; from its return p99 %s ms)\n' "round $round jobstatus: change to response" "$(field "$svc" p50_ms)" "$(field "$svc" p99_ms)" "$(field "$svc" max_ms)" \
		"$(field "$svc" statement_ms)" "$(field "$svc" commit_p99_ms)"
	echo "  answers DONE: $(field "$svc" done) of $WAITERS (other: $(field "$svc" other)); reads of PostgreSQL while answering: $(field "$svc" store_reads)"
	p99="$(field "$svc" p99_ms)"; floor_p99="$(field "$floor" p99_ms)"
	[ "$(field "$svc" done)" = "$WAITERS" ] || done_all=no
	if [ -n "$p99" ] && [ -n "$floor_p99" ]; then
		ratios="$ratios $(awk -v a="$p99" -v b="$floor_p99" 'BEGIN {printf "%.3f", a / b}')"
		floors="$floors $floor_p99"; svcs="$svcs $p99"
		bounds="$bounds $(awk -v s="$(field "$svc" statement_ms)" -v b="$floor_p99" 'BEGIN {printf "%.3f", (s + b) / b}')"
		owns="$owns $(awk -v a="$(field "$svc" commit_p99_ms)" -v b="$floor_p99" 'BEGIN {printf "%.3f", a / b}')"
	fi
done
ratio="$(tr ' ' '\n' <<<"$ratios" | grep . | median)"
floor_med="$(tr ' ' '\n' <<<"$floors" | grep . | median)"; svc_med="$(tr ' ' '\n' <<<"$svcs" | grep . | median)"
verdict=met
awk -v r="${ratio:-none}" 'BEGIN {exit !(r != "none" && r + 0 <= 1.1)}' || verdict=MISSED
[ -z "$done_all" ] || verdict="MISSED (not every answer DONE)"
printf 'median of %s rounds: jobstatus p99 %s ms, floor p99 %s ms; per-round ratios%s\n' "$ROUNDS" "${svc_med:-none}" "${floor_med:-none}" "$ratios"
# What the statement alone leaves of the target: a service that answered
# every request as fast as the bare handler, the moment the statement
# returned, would still be (statement + floor p99) / floor p99 from the
# statement's start; the p99 from its return is the service's own part.
printf 'the statement alone: (statement + floor p99) / floor p99, median %.2f; per round%s\n' \
	"$(tr ' ' '\n' <<<"$bounds" | grep . | median)" "$bounds"
printf 'jobstatus p99 from the statement'"'"'s return / floor p99, median %.2f; per round%s\n' \
	"$(tr ' ' '\n' <<<"$owns" | grep . | median)" "$owns"
printf 'jobstatus p99 / floor p99, median of the rounds = %.2f, target <= 1.1: %s\n' "${ratio:-0}" "$verdict"

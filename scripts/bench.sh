#!/usr/bin/env bash
# bench.sh — the load run of `make bench`. On one machine, in one run,
# against one PostgreSQL and one jobs table, it measures three yardsticks
# and the service:
#
#   pgbench   `pgbench -M prepared -f select.sql`: the service's own select
#             (same columns) on async_jobs by its uuid key, over TCP loopback
#             like the service, no transaction log during the throughput run;
#   bare      a net/http handler (scripts/bench/bare) answering a fixed JSON
#             body as large as the service's average 200 answer, driven by
#             the same wrk script with the same headers;
#   jobstatus `jobstatus serve` with production auth (RS256 JWKS file,
#             api-key file), rate limit lifted, access logs on;
#
# at 16 and 64 connections, polling a working set of ids that is 80 %
# finished / 20 % pending. It prints req/s, p50, p99, the ratios against
# their targets, the service's RSS at 10^4 and 10^6 jobs, its peak RSS
# while one statement inserts, updates, then deletes BENCH_BULK (10^6) jobs, and the memory a
# `Prefer: wait` request costs while held (10 000 held at once), and what
# two defaults cost: at 64 connections each round also polls an instance
# started with GOGC=400 (the GC target), one with
# JOBSTATUS_LOG_SAMPLE_SUCCESS=0 (an access-log line for every answer) and
# one with both; and where the CPU goes: a CPU profile of
# the bare handler and of a benchpprof build of the service at 64
# connections, in CPU microseconds a request by kind of work
# (scripts/bench/where.awk).
# Everything listens on and talks to 127.0.0.1.
#
# Environment: BENCH_JOBS (10^6), BENCH_SMALL_JOBS (10^4), BENCH_WORKING_SET
# (10^4), BENCH_DURATION (15s), BENCH_WARMUP (3s), BENCH_HELD (10000),
# BENCH_ROUNDS (3): rounds of the three runs per connection count, taken in
# turn, each figure the median of its rounds (load on a shared machine
# swings between minutes); the ratios at 64 connections are also checked
# round by round (bare and jobstatus run back to back), BENCH_STRICT=1 to
# exit 1 when a target is missed.
set -euo pipefail
cd "$(dirname "$0")/.."

JOBS="${BENCH_JOBS:-1000000}"
SMALL="${BENCH_SMALL_JOBS:-10000}"
WORKING_SET="${BENCH_WORKING_SET:-10000}"
DURATION="${BENCH_DURATION:-15s}"
WARMUP="${BENCH_WARMUP:-3s}"
HELD="${BENCH_HELD:-10000}"
ROUNDS="${BENCH_ROUNDS:-3}"
STRICT="${BENCH_STRICT:-0}"
IMAGE="${TEST_POSTGRES_IMAGE:-jobstatus-postgres:15-r2}"
# The working set is ids number (n * STRIDE) mod table size + 1 for n < its
# size: spread over the whole table, computable by pgbench, and 80/20 like
# the table whenever the table size is a multiple of 10.
STRIDE=7919

log() { echo "bench: $*" >&2; }
die() { log "$*"; exit 1; }

secs() { [[ "$1" =~ ^([0-9]+)s$ ]] || die "durations are whole seconds like 15s, not '$1'"; echo "${BASH_REMATCH[1]}"; }
DURATION_S="$(secs "$DURATION")"
WARMUP_S="$(secs "$WARMUP")"
for n in "$JOBS" "$SMALL"; do
	[ $((n % 10)) = 0 ] && [ $((n % STRIDE)) != 0 ] || die "job counts must be multiples of 10 (and not of $STRIDE): $n"
done
[ "$WORKING_SET" -le "$SMALL" ] && [ "$SMALL" -lt "$JOBS" ] || die "need BENCH_WORKING_SET <= BENCH_SMALL_JOBS < BENCH_JOBS"

LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"
WORK="$(mktemp -d /tmp/jobstatus-bench.XXXXXX)"
CTR=""
SVC_PID=""
BARE_PID=""
OTHER_PIDS=()

stop_pid() { # stop_pid PID: SIGTERM, then wait for it
	if [ -n "$1" ]; then kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; fi
}
stop_other() { # every instance start_other started
	local p
	for p in "${OTHER_PIDS[@]}"; do stop_pid "$p"; done
	OTHER_PIDS=()
}
cleanup() {
	stop_pid "$SVC_PID"
	stop_pid "$BARE_PID"
	stop_other
	if [ -n "$CTR" ]; then docker rm -f "$CTR" >/dev/null 2>&1 || true; fi
	rm -rf "$WORK"
}
trap cleanup EXIT

need() { # need COMMAND DEBIAN-PACKAGE
	command -v "$1" >/dev/null 2>&1 && return
	log "installing $2"
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2"; } >/dev/null 2>&1 ||
		die "cannot install $2; install it and run again"
}
need wrk wrk
need pgbench postgresql-client
need curl curl
need psql postgresql-client

# The PostgreSQL image of the tests. test-env.sh is called only when the
# engine or the image is missing: it also removes other runs' test containers.
if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
	IMAGE="$(scripts/test-env.sh)"
fi
# Containers of earlier bench runs that were killed before their cleanup.
for c in $(docker ps -aq --filter label=jobstatus.bench 2>/dev/null); do
	owner="$(docker inspect -f '{{index .Config.Labels "jobstatus.bench"}}' "$c" 2>/dev/null || true)"
	if [ -n "$owner" ] && ! kill -0 "$owner" 2>/dev/null; then docker rm -f "$c" >/dev/null 2>&1 || true; fi
done

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
	echo $((20000 + RANDOM % 20000)); }

PGPORT="$(free_port)"
log "starting PostgreSQL ($IMAGE) on 127.0.0.1:$PGPORT"
CTR="$(docker run -d --network host --label jobstatus.bench=$$ --stop-signal SIGINT \
	-e POSTGRES_USER=bench -e POSTGRES_PASSWORD=bench -e POSTGRES_DB=bench -e PGPORT="$PGPORT" \
	"$IMAGE" postgres -c listen_addresses=127.0.0.1 -c max_connections=300 -c shared_buffers=512MB \
	-c synchronous_commit=off -c fsync=off -c full_page_writes=off -c jit=off)"
export PGHOST=127.0.0.1 PGPORT PGUSER=bench PGPASSWORD=bench PGDATABASE=bench
sql() { command psql -X -v ON_ERROR_STOP=1 -q "$@"; }
for _ in $(seq 1 120); do
	if sql -c 'select 1' >/dev/null 2>&1; then break; fi
	sleep 0.5
done
sql -c 'select 1' >/dev/null || die "PostgreSQL did not start"
DB_URL="postgres://bench:bench@127.0.0.1:$PGPORT/bench?sslmode=disable"

log "building jobstatus and the bench tools"
go build -o "$WORK/jobstatus" ./cmd/jobstatus
# The same service with net/http/pprof (build tag benchpprof), for the CPU
# profile only: never the figures of the runs above it.
go build -tags benchpprof -o "$WORK/jobstatus-pprof" ./cmd/jobstatus
go build -o "$WORK/" ./scripts/bench/bare ./scripts/bench/hold
JOBSTATUS="$WORK/jobstatus"
JOBSTATUS_DATABASE_URL="$DB_URL" "$JOBSTATUS" migrate >/dev/null

# Credentials: one RS256 key pair, four clients with their own api-keys and tokens.
"$JOBSTATUS" keygen --alg RS256 --key-out "$WORK/key.pem" --jwks-out "$WORK/jwks.json" >/dev/null
echo "clients:" >"$WORK/clients.yaml"
: >"$WORK/creds"
for i in 0 1 2 3; do
	key="bench-key-$i-$RANDOM$RANDOM"
	digest="$(printf '%s' "$key" | sha256sum | cut -d' ' -f1)"
	printf '  - id: mis-bench-%s\n    key_sha256: %s\n' "$i" "$digest" >>"$WORK/clients.yaml"
	token="$(JOBSTATUS_AUTH_ISSUER=https://auth.bench JOBSTATUS_AUTH_AUDIENCE=jobstatus \
		"$JOBSTATUS" token --key "$WORK/key.pem" --client "mis-bench-$i" --ttl 2h)"
	echo "mis-bench-$i $token $key" >>"$WORK/creds"
done

seed() { # seed FROM TO: jobs number FROM..TO; g % 10: 0-1 pending, 2-8 done, 9 failed
	sql <<SQL
INSERT INTO async_jobs (id, client_id, status, eta, links, error_code, error_message, created_at, updated_at, finished_at)
SELECT md5('job' || g)::uuid, 'mis-bench-' || (g % 4),
       CASE WHEN g % 10 < 2 THEN 'PENDING' WHEN g % 10 < 9 THEN 'DONE' ELSE 'FAILED' END,
       now() + interval '30 seconds',
       CASE WHEN g % 10 BETWEEN 2 AND 8 THEN jsonb_build_array(jsonb_build_object('entity', 'composition',
            'href', '/patients/' || md5('p' || g)::uuid || '/encounter/' || md5('e' || g)::uuid || '/composition/' || md5('c' || g)::uuid))
            ELSE '[]'::jsonb END,
       CASE WHEN g % 10 = 9 THEN 422 END, CASE WHEN g % 10 = 9 THEN 'Composition signature is not valid' END,
       now() - interval '1 minute', now(), CASE WHEN g % 10 >= 2 THEN now() END
FROM generate_series($1, $2) g;
VACUUM ANALYZE async_jobs;
SQL
}

working_set() { # working_set TABLE-SIZE: "id client status" lines of the polled jobs
	sql -At -F' ' -c "SELECT j.id, j.client_id, j.status FROM generate_series(0, $WORKING_SET - 1) n
		JOIN async_jobs j ON j.id = md5('job' || ((n::bigint * $STRIDE) % $1 + 1))::uuid" >"$WORK/ws"
	[ "$(wc -l <"$WORK/ws")" = "$WORKING_SET" ] || die "working set: only $(wc -l <"$WORK/ws") of $WORKING_SET ids found"
	cut -d' ' -f1,2 "$WORK/ws" >"$WORK/ids"
	grep ' PENDING$' "$WORK/ws" | cut -d' ' -f1,2 >"$WORK/pending"
	log "working set: $WORKING_SET ids of $1: $(cut -d' ' -f3 "$WORK/ws" | sort | uniq -c | awk '{printf "%s %s ", $1, $2}')"
}

# serve PORT ADMIN: the service as measured, in place of the shell that
# runs it (so that $! is the service's own pid). Info-level
# access logs are encoded and written, to /dev/null by start_service. The
# waiter and in-flight caps are raised only so that the held-request
# measurement fits (no event stream is opened); they cost nothing per request.
# SERVE_ENV adds variables (the GC comparison's GOGC=400).
serve() {
	exec env ${SERVE_ENV:-} JOBSTATUS_HTTP_ADDR="127.0.0.1:$1" JOBSTATUS_INTERNAL_ADDR= JOBSTATUS_ADMIN_ADDR="127.0.0.1:$2" JOBSTATUS_DATABASE_URL="$DB_URL" \
	JOBSTATUS_AUTH_JWKS_FILE="$WORK/jwks.json" JOBSTATUS_API_KEYS_FILE="$WORK/clients.yaml" \
	JOBSTATUS_AUTH_ISSUER=https://auth.bench JOBSTATUS_AUTH_AUDIENCE=jobstatus \
	JOBSTATUS_LOG_LEVEL=info JOBSTATUS_RATE_LIMIT_RPS=0 JOBSTATUS_EVENTS_MAX_STREAMS=64 \
	JOBSTATUS_POLLING_MAX_WAITERS=$((HELD + 100)) JOBSTATUS_HTTP_MAX_IN_FLIGHT=$((HELD + 2000)) \
		"$JOBSTATUS" serve
}

# ready ADMIN-PORT: waits up to 10 s for an instance's /readyz.
ready() {
	for _ in $(seq 1 100); do
		if curl -fs -o /dev/null "http://127.0.0.1:$1/readyz"; then return 0; fi
		sleep 0.1
	done
	return 1
}

start_service() {
	local port admin
	port="$(free_port)"; admin="$(free_port)"
	SVC_URL="http://127.0.0.1:$port"
	SVC_METRICS="http://127.0.0.1:$admin/metrics"
	serve "$port" "$admin" 2>/dev/null &
	SVC_PID=$!
	if ready "$admin"; then return; fi
	stop_service
	log "the service did not become ready; what it says when started again:"
	timeout 5 bash -c "$(declare -f serve); $(declare -p DB_URL WORK HELD JOBSTATUS); serve $port $admin" 2>&1 | tail -3 >&2 || true
	die "service did not become ready"
}

stop_service() { stop_pid "$SVC_PID"; SVC_PID=""; }

# start_other ENV [BINARY]: another instance, the same as the service but
# for ENV (and BINARY), idle but when measured; OTHER_URL is its address.
# stop_other (above) stops every one started.
start_other() {
	local port admin
	port="$(free_port)"; admin="$(free_port)"
	OTHER_URL="http://127.0.0.1:$port"
	JOBSTATUS="${2:-$JOBSTATUS}" SERVE_ENV="$1" serve "$port" "$admin" 2>/dev/null &
	OTHER_PIDS+=($!)
	ready "$admin" || die "the instance with $1 did not become ready"
}

start_bare() { # start_bare BODY-BYTES
	BARE_PPROF="http://127.0.0.1:$(free_port)"
	"$WORK/bare" -size "$1" -pprof "${BARE_PPROF#http://}" >"$WORK/bare.addr" &
	BARE_PID=$!
	for _ in $(seq 1 100); do
		if [ -s "$WORK/bare.addr" ]; then BARE_URL="http://$(head -1 "$WORK/bare.addr")"; return; fi
		sleep 0.1
	done
	die "bare handler did not start"
}

rss_mib() { awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$SVC_PID/status"; }

load() { # load URL CONNECTIONS DURATION -> "RESULT rps=… p50_us=… p99_us=… errors=… non2xx=…"
	BENCH_IDS="$WORK/ids" BENCH_CREDS="$WORK/creds" \
		wrk -t2 -c"$2" -d"$3" --timeout 5s -s scripts/bench/polls.lua "$1" | grep '^RESULT'
}

field() { sed -n "s/.*$2=\([0-9.]*\).*/\1/p" <<<"$1"; }

check() { # fail on transport errors or non-2xx answers
	if [ "$(field "$1" errors)" != 0 ] || [ "$(field "$1" non2xx)" != 0 ]; then
		die "errors during the run: $1"
	fi
}

# body_bytes: the service's 200 body for one job of each status in the
# working set, averaged with the working set's weights.
body_bytes() {
	local total=0 status id client token key size count
	for status in DONE FAILED PENDING; do
		count="$(grep -c " $status\$" "$WORK/ws" || true)"
		[ "$count" -gt 0 ] || continue
		read -r id client _ < <(grep " $status\$" "$WORK/ws" | head -1)
		read -r _ token key < <(grep "^$client " "$WORK/creds")
		size="$(curl -fs -o /dev/null -w '%{size_download}' "$SVC_URL/patients/composition/job/$id" \
			-H "Authorization: Bearer $token" -H "api-key: $key")"
		log "a $status answer has a $size-byte body"
		total=$((total + size * count))
	done
	echo $((total / WORKING_SET))
}

# pgbench runs the service's select with the service's columns (read from
# the repository's source, so they stay the same). The id is computed from
# the working-set number inside the statement: one index lookup on
# async_jobs per transaction and nothing else (an id table would add a
# second lookup per transaction).
columns="$(sed -n 's/^const columns = `\(.*\)`$/\1/p' adapters/postgres/jobs.go)"
if [ -z "$columns" ]; then
	columns="id, client_id, idempotency_key, status, eta, links, error_code, error_message, created_at, updated_at, finished_at"
	log "could not read the service's columns from adapters/postgres/jobs.go; using: $columns"
fi
pgbench_script() { # pgbench_script TABLE-SIZE
	cat >"$WORK/select.sql" <<SQL
\\set n random(0, $WORKING_SET - 1)
\\set g (:n * $STRIDE) % $1 + 1
SELECT $columns FROM async_jobs WHERE id = md5('job' || CAST(:g AS text))::uuid;
SQL
}
pgb() { # pgb CLIENTS SECONDS [pgbench options…]
	local c="$1" s="$2"; shift 2
	pgbench -n -M prepared -f "$WORK/select.sql" -c "$c" -j 2 -T "$s" "$@" 2>"$WORK/pgbench.err" || {
		cat "$WORK/pgbench.err" >&2; die "pgbench failed"
	}
}
pgb_tps() { # pgb_tps CLIENTS -> tps, from a run without transaction log
	pgb "$1" "$DURATION_S" | sed -n 's/^tps = \([0-9.]*\).*/\1/p'
}
pgb_latency() { # pgb_latency CLIENTS -> "p50_us p99_us", from a separate run logging 1 in 10 transactions
	rm -f "$WORK"/pgblog*
	pgb "$1" "$DURATION_S" -l --sampling-rate=0.1 --log-prefix="$WORK/pgblog" >/dev/null
	cat "$WORK"/pgblog* | awk '{print $3}' | sort -n |
		awk '{a[NR]=$1} END {printf "%d %d\n", a[int(NR*0.5)], a[int(NR*0.99)]}'
}

# --- 10^4 jobs: the service's RSS after a 64-connection run -----------------
log "seeding $SMALL jobs"
seed 1 "$SMALL"
working_set "$SMALL"
start_service
load "$SVC_URL" 64 "$WARMUP" >/dev/null
small="$(load "$SVC_URL" 64 "$DURATION")"; check "$small"
rss_small="$(rss_mib)"
stop_service

# --- 10^6 jobs: the yardsticks and the service, in turn ---------------------
log "seeding up to $JOBS jobs"
seed $((SMALL + 1)) "$JOBS"
working_set "$JOBS"
pgbench_script "$JOBS"
start_service
BODY="$(body_bytes)"
log "bare handler: fixed $BODY-byte body (the working set's average 200 body)"
start_bare "$BODY"
# What two defaults cost in throughput, measured in the same rounds as
# the service: the GC target (Go's 100 %, chosen for a steady heap) and an
# access-log line for every successful answer (log.sample_success 1, the
# contract's default); then the service without either.
VARIANTS=(gc400 nolog neither)
declare -A VARIANT_ENV=([gc400]="GOGC=400" [nolog]="JOBSTATUS_LOG_SAMPLE_SUCCESS=0"
	[neither]="GOGC=400 JOBSTATUS_LOG_SAMPLE_SUCCESS=0")
declare -A VARIANT_URL
for v in "${VARIANTS[@]}"; do
	start_other "${VARIANT_ENV[$v]}"
	VARIANT_URL[$v]="$OTHER_URL"
done

log "warming up"
pgb 64 "$WARMUP_S" >/dev/null
load "$BARE_URL" 64 "$WARMUP" >/dev/null
load "$SVC_URL" 64 "$WARMUP" >/dev/null
for v in "${VARIANTS[@]}"; do load "${VARIANT_URL[$v]}" 64 "$WARMUP" >/dev/null; done

declare -A R
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
round_rps=(); round_p99=() # each round's ratios at 64 connections, bare and jobstatus back to back
declare -A VT V9 # 64 connections, the variants, after the default in each round: space-separated figures
for c in 16 64; do
	pt=(); p5=(); p9=(); bt=(); b5=(); b9=(); st=(); s5=(); s9=()
	for round in $(seq 1 "$ROUNDS"); do
		log "$c connections, round $round of $ROUNDS: pgbench (throughput, then latency), bare handler, jobstatus$([ "$c" = 64 ] && echo ", then with GOGC=400, without success lines, with neither default")"
		pt+=("$(pgb_tps "$c")")
		read -r a b <<<"$(pgb_latency "$c")"; p5+=("$a"); p9+=("$b")
		out="$(load "$BARE_URL" "$c" "$DURATION")"; check "$out"
		bt+=("$(field "$out" rps)"); b5+=("$(field "$out" p50_us)"); b9+=("$(field "$out" p99_us)")
		out="$(load "$SVC_URL" "$c" "$DURATION")"; check "$out"
		st+=("$(field "$out" rps)"); s5+=("$(field "$out" p50_us)"); s9+=("$(field "$out" p99_us)")
		if [ "$c" = 64 ]; then
			round_rps+=("$(awk -v a="${st[-1]}" -v b="${bt[-1]}" 'BEGIN {printf "%.2f", a/b}')")
			round_p99+=("$(awk -v a="${s9[-1]}" -v b="${b9[-1]}" 'BEGIN {printf "%.2f", a/b}')")
			for v in "${VARIANTS[@]}"; do
				out="$(load "${VARIANT_URL[$v]}" "$c" "$DURATION")"; check "$out"
				VT[$v]+=" $(field "$out" rps)"; V9[$v]+=" $(field "$out" p99_us)"
			done
		fi
	done
	R[pg_tps_$c]="$(median "${pt[@]}")"; R[pg_p50_$c]="$(median "${p5[@]}")"; R[pg_p99_$c]="$(median "${p9[@]}")"
	R[bare_rps_$c]="$(median "${bt[@]}")"; R[bare_p50_$c]="$(median "${b5[@]}")"; R[bare_p99_$c]="$(median "${b9[@]}")"
	R[svc_rps_$c]="$(median "${st[@]}")"; R[svc_p50_$c]="$(median "${s5[@]}")"; R[svc_p99_$c]="$(median "${s9[@]}")"
done
rss_large="$(rss_mib)"
stop_other

# --- where the CPU goes: a CPU profile of each at 64 connections -----------
# One more run each of the bare handler and of the benchpprof build of the
# service (same settings, started for it), profiled for PROF_S seconds in
# the middle of the run; scripts/bench/where.awk sorts the samples by kind
# of work, and the table divides each kind by the requests answered while
# profiled: CPU microseconds a request.
PROF_S=$((DURATION_S > 6 ? DURATION_S - 4 : 2))
profiled() { # profiled URL PPROF-URL BINARY KINDS-FILE: prints the run's req/s
	local out c
	( sleep 2; curl -fs -o "$WORK/cpu.pprof" "$2/debug/pprof/profile?seconds=$PROF_S" ) &
	c=$!
	out="$(load "$1" 64 "$DURATION")"; check "$out"
	wait "$c" || die "no CPU profile from $2"
	go tool pprof -traces "$3" "$WORK/cpu.pprof" 2>/dev/null | awk -v tsv=1 -f scripts/bench/where.awk >"$4" || die "no samples in the profile of $1"
	field "$out" rps
}
log "CPU profiles at 64 connections: bare handler, then jobstatus (benchpprof build)"
prof_bare_rps="$(profiled "$BARE_URL" "$BARE_PPROF" "$WORK/bare" "$WORK/kinds.bare")"
stop_pid "$BARE_PID"; BARE_PID=""
pprof_debug="$(free_port)"
start_other "BENCH_PPROF_ADDR=127.0.0.1:$pprof_debug" "$WORK/jobstatus-pprof"
load "$OTHER_URL" 64 "$WARMUP" >/dev/null
prof_svc_rps="$(profiled "$OTHER_URL" "http://127.0.0.1:$pprof_debug" "$WORK/jobstatus-pprof" "$WORK/kinds.svc")"
stop_other
for v in "${VARIANTS[@]}"; do
	# shellcheck disable=SC2086 # the figures are space-separated numbers
	R[${v}_rps_64]="$(median ${VT[$v]})"; R[${v}_p99_64]="$(median ${V9[$v]})"
done

log "holding $HELD Prefer: wait=30 requests on pending jobs"
held="$("$WORK/hold" -url "$SVC_URL" -metrics "$SVC_METRICS" -ids "$WORK/pending" -creds "$WORK/creds" \
	-pid "$SVC_PID" -n "$HELD" -wait 30)" || log "not every request was held: $held"
held="$(grep '^HELD' <<<"$held" || echo "HELD waiters=0")"
stop_service

# --- bulk changes: one statement changing BULK jobs, while serving -----------
# The steady RSS is taken after a poll run; the peak is the highest RSS
# sampled every 100 ms from the statement's start until the feed has
# applied it (jobstatus_feed_position reaches the log's head).
BULK="${BENCH_BULK:-$JOBS}"
feed_position() { curl -fs "$SVC_METRICS" | awk '$1 == "jobstatus_feed_position" {printf "%d", $2}'; }
bulk() { # bulk LABEL SQL: "peak_mib seconds" of the statement and its application
	local peak head t0
	peak="$(rss_mib)"; t0="$(date +%s.%N)"
	sql -c "$2" &
	local q=$!
	while kill -0 "$q" 2>/dev/null; do peak="$(awk -v a="$peak" -v b="$(rss_mib)" 'BEGIN {print (b > a) ? b : a}')"; sleep 0.1; done
	wait "$q" || die "bulk $1 failed"
	head="$(sql -At -c 'SELECT position FROM async_job_events_head')"
	for _ in $(seq 1 3000); do
		peak="$(awk -v a="$peak" -v b="$(rss_mib)" 'BEGIN {print (b > a) ? b : a}')"
		[ "$(feed_position)" -ge "$head" ] 2>/dev/null && break
		sleep 0.1
	done
	echo "$peak $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b-a}')"
}
log "bulk changes: $BULK jobs inserted, updated, deleted in one statement each, while serving"
start_service
load "$SVC_URL" 64 "$WARMUP" >/dev/null
rss_steady="$(rss_mib)"
read -r bulk_insert_peak bulk_insert_s <<<"$(bulk insert "INSERT INTO async_jobs (id, client_id, status, eta, links, created_at, updated_at)
	SELECT md5('bulk' || g)::uuid, 'mis-bench-0', 'PENDING', now() + interval '1 hour', '[]', now(), now() FROM generate_series(1, $BULK) g")"
read -r bulk_update_peak bulk_update_s <<<"$(bulk update "UPDATE async_jobs SET status = 'FAILED', error_code = 500, error_message = 'bulk',
	finished_at = now(), updated_at = now() WHERE client_id = 'mis-bench-0' AND id IN (SELECT md5('bulk' || g)::uuid FROM generate_series(1, $BULK) g)")"
read -r bulk_delete_peak bulk_delete_s <<<"$(bulk delete "DELETE FROM async_jobs WHERE id IN (SELECT md5('bulk' || g)::uuid FROM generate_series(1, $BULK) g)")"
stop_service

# --- the table ----------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a/b}'; }
ms() { awk -v u="$1" 'BEGIN {printf "%.2f", u/1000}'; }
missed=0
target() { # target LABEL VALUE OP GOAL [SHOWN-VALUE]: one line, "met" or "MISSED"
	local verdict=met
	if ! awk -v v="$2" -v t="$4" -v op="$3" 'BEGIN {exit !((op == ">=" && v >= t) || (op == "<=" && v <= t))}'; then
		verdict=MISSED; missed=$((missed + 1))
	fi
	printf '%-58s %8s   target %s %-5s %s\n' "$1" "${5:-$2}" "$3" "$4" "$verdict"
}

echo
echo "jobstatus load run, $(date -u +%Y-%m-%d): $JOBS jobs (80 % finished), working set $WORKING_SET ids (80 % finished / 20 % pending),"
echo "$(nproc) cores shared by wrk/pgbench, PostgreSQL and the server; $DURATION per run, median of $ROUNDS round(s); everything on 127.0.0.1;"
echo "load average at the start $LOAD_START, at the end $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews every figure)"
printf '%-50s %10s %9s %9s\n' "" "req/s" "p50 ms" "p99 ms"
for c in 16 64; do
	printf '%-50s %10.0f %9s %9s\n' "pgbench -M prepared, service's select, $c conns" "${R[pg_tps_$c]}" "$(ms "${R[pg_p50_$c]}")" "$(ms "${R[pg_p99_$c]}")"
	printf '%-50s %10.0f %9s %9s\n' "bare net/http, $BODY-byte body, $c conns" "${R[bare_rps_$c]}" "$(ms "${R[bare_p50_$c]}")" "$(ms "${R[bare_p99_$c]}")"
	printf '%-50s %10.0f %9s %9s\n' "jobstatus, $c conns" "${R[svc_rps_$c]}" "$(ms "${R[svc_p50_$c]}")" "$(ms "${R[svc_p99_$c]}")"
done
echo
r1="$(ratio "${R[svc_rps_16]}" "${R[pg_tps_16]}")"
r2="$(ratio "${R[svc_rps_64]}" "${R[pg_tps_64]}")"
r3="$(ratio "${R[svc_rps_64]}" "${R[bare_rps_64]}")"
r4="$(ratio "${R[svc_p99_64]}" "${R[bare_p99_64]}")"
r5="$(ratio "${R[svc_p99_16]}" "${R[bare_p99_16]}")"
target "jobstatus / pgbench, 16 conns" "$r1" '>=' 1.0
target "jobstatus / pgbench, 64 conns" "$r2" '>=' 1.0
target "jobstatus / bare, 64 conns" "$r3" '>=' 0.7
target "jobstatus p99 / bare p99, 64 conns" "$r4" '<=' 2
printf '%-58s %8s   (for reference)\n' "jobstatus p99 / bare p99, 16 conns" "$r5"
printf '%-58s %8s   (what the default GC target costs; GOGC=400: %.0f req/s, %s of bare, p99 %s ms)\n' \
	"jobstatus GOGC 100 (default) / GOGC=400, 64 conns" "$(ratio "${R[svc_rps_64]}" "${R[gc400_rps_64]}")" \
	"${R[gc400_rps_64]}" "$(ratio "${R[gc400_rps_64]}" "${R[bare_rps_64]}")" "$(ms "${R[gc400_p99_64]}")"
printf '%-58s %8s   (what a line for every answer costs; without: %.0f req/s, %s of bare, p99 %s ms)\n' \
	"jobstatus success lines (default) / none, 64 conns" "$(ratio "${R[svc_rps_64]}" "${R[nolog_rps_64]}")" \
	"${R[nolog_rps_64]}" "$(ratio "${R[nolog_rps_64]}" "${R[bare_rps_64]}")" "$(ms "${R[nolog_p99_64]}")"
printf '%-58s %8s   (p99 %s of bare; GOGC=400, no success lines: %.0f req/s)\n' \
	"jobstatus with neither default / bare, 64 conns" "$(ratio "${R[neither_rps_64]}" "${R[bare_rps_64]}")" \
	"$(ratio "${R[neither_p99_64]}" "${R[bare_p99_64]}")" "${R[neither_rps_64]}"
for i in "${!round_rps[@]}"; do
	target "round $((i + 1)) of $ROUNDS: jobstatus / bare, 64 conns" "${round_rps[$i]}" '>=' 0.7
	target "round $((i + 1)) of $ROUNDS: jobstatus p99 / bare p99, 64 conns" "${round_p99[$i]}" '<=' 2
done
change="$(awk -v a="$rss_small" -v b="$rss_large" 'BEGIN {printf "%.1f", (b-a)*100/a}')"
target "RSS: ${rss_small} MiB at $SMALL jobs, ${rss_large} MiB at $JOBS jobs" \
	"$(awk -v c="$change" 'BEGIN {print (c < 0 ? -c : c)}')" '<=' 10 "${change} %"
printf '%-58s %8s   (RSS %s -> %s KiB, %s held after %s s; %s answered early, %s failed, %s 503s sent again)\n' \
	"memory per held Prefer: wait request" \
	"$(awk -v b="$(field "$held" per_request_bytes)" 'BEGIN {printf "%.1f KiB", b/1024}')" \
	"$(field "$held" rss_before_kib)" "$(field "$held" rss_after_kib)" "$(field "$held" waiters)" \
	"$(field "$held" seconds)" "$(field "$held" answered)" "$(field "$held" failed)" "$(field "$held" retried)"
echo "jobstatus at 64 conns on $SMALL jobs (for the RSS): $(field "$small" rps) req/s"
for op in insert update delete; do
	peak_var="bulk_${op}_peak"; s_var="bulk_${op}_s"
	target "peak RSS / steady (${rss_steady} MiB), one statement: $op $BULK jobs" \
		"$(ratio "${!peak_var}" "$rss_steady")" '<=' 2 "$(ratio "${!peak_var}" "$rss_steady") (${!peak_var} MiB, ${!s_var} s)"
done
echo
echo "where the CPU goes at 64 connections: CPU microseconds a request, by kind of work (CPU profiles of ${PROF_S} s"
echo "in the middle of one run each: jobstatus $prof_svc_rps req/s (a benchpprof build), bare $prof_bare_rps req/s; the rest of"
echo "the machine's CPU is wrk's and PostgreSQL's):"
awk -F'\t' -v svc="$prof_svc_rps" -v bare="$prof_bare_rps" -v secs="$PROF_S" '
	FNR == 1 { file++ }
	{ k[$1] = 1; v[file, $1] = $2 }
	END {
		n = 0
		for (x in k) o[++n] = x
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[1, o[j]] > v[1, o[i]]) { t = o[i]; o[i] = o[j]; o[j] = t }
		printf "%-50s %10s %10s %10s\n", "", "jobstatus", "bare", "more"
		for (i = 1; i <= n; i++) {
			a = v[1, o[i]] * 1000 / (svc * secs); b = v[2, o[i]] * 1000 / (bare * secs)
			ta += a; tb += b
			printf "%-50s %10.2f %10.2f %10.2f\n", o[i], a, b, a - b
		}
		printf "%-50s %10.2f %10.2f %10.2f\n", "total", ta, tb, ta - tb
	}' "$WORK/kinds.svc" "$WORK/kinds.bare"
if [ "$missed" -gt 0 ]; then
	echo "targets missed: $missed"
	if [ "$STRICT" = 1 ]; then exit 1; fi
fi

#!/usr/bin/env bash
# bench.sh — the load run of `make bench`. It starts PostgreSQL (the test
# image, host networking, loopback), fills it with jobs (80 % finished,
# 20 % pending), measures `pgbench -S -M prepared` on the same database,
# then drives `jobstatus serve` with wrk at 16 and 64 connections using real
# tokens and api-keys, and prints req/s, p50/p99, the service/pgbench ratio
# and the service's RSS at 10^4 and 10^6 jobs. Everything stays on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

JOBS="${BENCH_JOBS:-1000000}"
SMALL="${BENCH_SMALL_JOBS:-10000}"
WORKING_SET="${BENCH_WORKING_SET:-10000}"
DURATION="${BENCH_DURATION:-15s}"
WARMUP="${BENCH_WARMUP:-5s}"
WORK="$(mktemp -d /tmp/jobstatus-bench.XXXXXX)"
CTR=""
SVC_PID=""

log() { echo "bench: $*" >&2; }

cleanup() {
	if [ -n "$SVC_PID" ]; then kill "$SVC_PID" 2>/dev/null || true; wait "$SVC_PID" 2>/dev/null || true; fi
	if [ -n "$CTR" ]; then docker rm -f "$CTR" >/dev/null 2>&1 || true; fi
	rm -rf "$WORK"
}
trap cleanup EXIT

if ! command -v wrk >/dev/null 2>&1; then
	log "installing wrk"
	apt-get update -qq >/dev/null 2>&1 || true
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null 2>&1
fi
IMAGE="$(scripts/test-env.sh)"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
	echo $((20000 + RANDOM % 20000)); }

PGPORT="$(free_port)"
log "starting PostgreSQL ($IMAGE) on 127.0.0.1:$PGPORT"
CTR="$(docker run -d --network host --label org.testcontainers=true --stop-signal SIGINT \
	-e POSTGRES_USER=bench -e POSTGRES_PASSWORD=bench -e POSTGRES_DB=bench -e PGPORT="$PGPORT" \
	"$IMAGE" postgres -c listen_addresses=127.0.0.1 -c max_connections=300 -c shared_buffers=512MB \
	-c synchronous_commit=off -c fsync=off -c full_page_writes=off -c jit=off)"
psql() { docker exec -i "$CTR" psql -v ON_ERROR_STOP=1 -q -p "$PGPORT" -U bench -d bench "$@"; }
for _ in $(seq 1 120); do
	if docker exec "$CTR" pg_isready -q -h 127.0.0.1 -p "$PGPORT" 2>/dev/null && psql -c 'select 1' >/dev/null 2>&1; then break; fi
	sleep 0.5
done
DB_URL="postgres://bench:bench@127.0.0.1:$PGPORT/bench?sslmode=disable"

log "building jobstatus"
go build -o "$WORK/jobstatus" ./cmd/jobstatus
JOBSTATUS="$WORK/jobstatus"
JOBSTATUS_DATABASE_URL="$DB_URL" "$JOBSTATUS" migrate >/dev/null

# Credentials: one key pair, four clients with their own api-keys and tokens.
"$JOBSTATUS" keygen --alg RS256 --key-out "$WORK/key.pem" --jwks-out "$WORK/jwks.json" >/dev/null
: >"$WORK/clients.yaml"; : >"$WORK/creds"
echo "clients:" >>"$WORK/clients.yaml"
for i in 0 1 2 3; do
	key="bench-key-$i-$RANDOM$RANDOM"
	digest="$(printf '%s' "$key" | sha256sum | cut -d' ' -f1)"
	printf '  - id: mis-bench-%s\n    key_sha256: %s\n' "$i" "$digest" >>"$WORK/clients.yaml"
	token="$(JOBSTATUS_AUTH_ISSUER=https://auth.bench JOBSTATUS_AUTH_AUDIENCE=jobstatus \
		"$JOBSTATUS" token --key "$WORK/key.pem" --client "mis-bench-$i" --ttl 2h)"
	echo "mis-bench-$i $token $key" >>"$WORK/creds"
done

seed() { # seed FROM TO: jobs number FROM..TO, 20 % pending, 70 % done, 10 % failed
	psql <<SQL
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
ANALYZE async_jobs;
SQL
}

working_set() { # the jobs clinics are polling: a random sample, 80/20 as in the table
	psql -At -F' ' -c "SELECT id, client_id FROM async_jobs ORDER BY random() LIMIT $WORKING_SET" >"$WORK/ids"
}

start_service() {
	local port; port="$(free_port)"
	SVC_URL="http://127.0.0.1:$port"
	JOBSTATUS_HTTP_ADDR="127.0.0.1:$port" JOBSTATUS_ADMIN_ADDR=127.0.0.1:0 JOBSTATUS_DATABASE_URL="$DB_URL" \
	JOBSTATUS_AUTH_JWKS_FILE="$WORK/jwks.json" JOBSTATUS_API_KEYS_FILE="$WORK/clients.yaml" \
	JOBSTATUS_AUTH_ISSUER=https://auth.bench JOBSTATUS_AUTH_AUDIENCE=jobstatus \
	JOBSTATUS_LOG_LEVEL=info JOBSTATUS_RATE_LIMIT_RPS=0 \
		"$JOBSTATUS" serve 2>/dev/null &  # info-level access logs are written, to /dev/null
	SVC_PID=$!
	for _ in $(seq 1 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return; fi
		sleep 0.1
	done
	log "service did not start (run it by hand to see why)"; exit 1
}

stop_service() { kill "$SVC_PID"; wait "$SVC_PID" || true; SVC_PID=""; }

rss_mib() { awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$SVC_PID/status"; }

load() { # load CONNECTIONS DURATION -> RESULT line
	BENCH_IDS="$WORK/ids" BENCH_CREDS="$WORK/creds" \
		wrk -t2 -c"$1" -d"$2" --timeout 5s -s scripts/bench/polls.lua "$SVC_URL" | grep '^RESULT'
}

field() { sed -n "s/.*$2=\([0-9.]*\).*/\1/p" <<<"$1"; }

check() { # fail on transport errors or non-2xx answers
	if [ "$(field "$1" errors)" != 0 ] || [ "$(field "$1" non2xx)" != 0 ]; then
		log "errors during the run: $1"; exit 1
	fi
}

log "seeding $SMALL jobs"
seed 1 "$SMALL"
working_set
start_service
load 64 "$WARMUP" >/dev/null
small="$(load 64 "$DURATION")"; check "$small"
rss_small="$(rss_mib)"
stop_service

log "seeding up to $JOBS jobs"
seed $((SMALL + 1)) "$JOBS"
working_set

log "pgbench -S -M prepared (primary-key select) on the same database"
docker exec "$CTR" pgbench -i -q -s 10 -p "$PGPORT" -U bench bench >/dev/null 2>&1
pgb() { # pgb CLIENTS -> "tps p50_us p99_us"
	docker exec "$CTR" sh -c "rm -f /tmp/pgb*; cd /tmp && pgbench -S -M prepared -c $1 -j 2 -T ${DURATION%s} \
		-l --sampling-rate=0.1 --log-prefix=pgb -p $PGPORT -U bench bench 2>/dev/null | sed -n 's/^tps = \([0-9.]*\).*/\1/p';
		cat /tmp/pgb* | awk '{print \$3}' | sort -n | awk '{a[NR]=\$1} END {printf \"%d %d\n\", a[int(NR*0.5)], a[int(NR*0.99)]}'" | paste -sd' '
}
pg16="$(pgb 16)"
pg64="$(pgb 64)"

start_service
load 64 "$WARMUP" >/dev/null
s16="$(load 16 "$DURATION")"; check "$s16"
s64="$(load 64 "$DURATION")"; check "$s64"
rss_large="$(rss_mib)"
stop_service

read -r pg16_tps pg16_p50 pg16_p99 <<<"$pg16"
read -r pg64_tps pg64_p50 pg64_p99 <<<"$pg64"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a/b}'; }
ms() { awk -v u="$1" 'BEGIN {printf "%.2f", u/1000}'; }

echo
echo "jobstatus load run: $JOBS jobs (80 % finished), working set $WORKING_SET jobs, $(nproc) cores, $DURATION per run"
printf '%-34s %10s %10s %10s\n' "" "req/s" "p50 ms" "p99 ms"
printf '%-34s %10.0f %10s %10s\n' "pgbench -S -M prepared, 16 conns" "$pg16_tps" "$(ms "$pg16_p50")" "$(ms "$pg16_p99")"
printf '%-34s %10.0f %10s %10s\n' "pgbench -S -M prepared, 64 conns" "$pg64_tps" "$(ms "$pg64_p50")" "$(ms "$pg64_p99")"
printf '%-34s %10s %10s %10s\n' "jobstatus, 16 conns" "$(field "$s16" rps)" "$(ms "$(field "$s16" p50_us)")" "$(ms "$(field "$s16" p99_us)")"
printf '%-34s %10s %10s %10s\n' "jobstatus, 64 conns" "$(field "$s64" rps)" "$(ms "$(field "$s64" p50_us)")" "$(ms "$(field "$s64" p99_us)")"
echo "ratio jobstatus/pgbench at 16 conns: $(ratio "$(field "$s16" rps)" "$pg16_tps")"
echo "ratio jobstatus/pgbench at 64 conns: $(ratio "$(field "$s64" rps)" "$pg64_tps")   (target >= 1.00)"
echo "service RSS after 64-conn load: ${rss_small} MiB at $SMALL jobs, ${rss_large} MiB at $JOBS jobs"

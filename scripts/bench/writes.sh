#!/usr/bin/env bash
# writes.sh — what the change log costs a writer. PostgreSQL (the test
# image, host networking, loopback), two databases: one migrated to the
# latest schema by `jobstatus migrate` (the change log, migrations 00009 and
# after), one to 00008 (the three triggers before it: a version, a NOTIFY
# with the row, an event for a status change). Jobs are created and
# finished — one INSERT, then one UPDATE to DONE — by BENCH_WRITES_CLIENTS
# clients for BENCH_WRITES_DURATION seconds, four ways:
#   log        pgbench, plain SQL, the latest schema with its triggers on;
#   bare       pgbench, the same table with every trigger disabled
#              (ALTER TABLE async_jobs DISABLE TRIGGER USER);
#   00008      pgbench, the schema before the change log, its triggers on;
#   write API  scripts/bench/writeapi through `jobstatus serve`'s write API
#              (POST /internal/jobs, then .../complete), the latest schema;
# in turn, BENCH_WRITES_ROUNDS times (the machine's noise falls on all four
# alike), and prints each round, the medians and the ratios of the
# medians: the log against bare (its cost), against 00008 (target >= 1: no
# worse than the triggers it replaced) and the write API against bare.
# Then one statement inserting BENCH_WRITES_BULK jobs, with the log and bare.
#
# 00008's schema is applied with psql (the Up sections, as goose runs them).
# Never scripts/test-env.sh here: it removes every test container.
set -euo pipefail
cd "$(dirname "$0")/../.."

CLIENTS="${BENCH_WRITES_CLIENTS:-8}"
DURATION="${BENCH_WRITES_DURATION:-10}"
ROUNDS="${BENCH_WRITES_ROUNDS:-3}"
BULK="${BENCH_WRITES_BULK:-100000}"
IMAGE="${TEST_POSTGRES_IMAGE:-jobstatus-postgres:15-r2}"
WORK="$(mktemp -d /tmp/jobstatus-writes.XXXXXX)"
CTR=""
SVC_PID=""

log() { echo "writes: $*" >&2; }
cleanup() {
	if [ -n "$SVC_PID" ]; then kill "$SVC_PID" 2>/dev/null || true; wait "$SVC_PID" 2>/dev/null || true; fi
	if [ -n "$CTR" ]; then docker rm -f "$CTR" >/dev/null 2>&1 || true; fi
	rm -rf "$WORK"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

docker image inspect "$IMAGE" >/dev/null || { log "no image $IMAGE: run scripts/test-env.sh first"; exit 1; }
go build -o "$WORK/jobstatus" ./cmd/jobstatus
go build -o "$WORK/writeapi" ./scripts/bench/writeapi
PGPORT="$(free_port)"
log "starting PostgreSQL ($IMAGE) on 127.0.0.1:$PGPORT"
# Labelled with this script's PID, as scripts/bench.sh labels its own: a
# run of it elsewhere removes only containers whose owner has exited.
CTR="$(docker run -d --network host --label jobstatus.bench=$$ --stop-signal SIGINT \
	-e POSTGRES_USER=bench -e POSTGRES_PASSWORD=bench -e POSTGRES_DB=bench -e PGPORT="$PGPORT" \
	"$IMAGE" postgres -c listen_addresses=127.0.0.1 -c shared_buffers=256MB \
	-c synchronous_commit=off -c fsync=off -c full_page_writes=off -c jit=off -c max_wal_size=4GB)"
psql() { # psql DATABASE ARGS...
	local db="$1"
	shift
	docker exec -i -e PGOPTIONS='-c client_min_messages=warning' "$CTR" psql -v ON_ERROR_STOP=1 -q -X -p "$PGPORT" -U bench -d "$db" "$@"
}
for _ in $(seq 1 120); do
	if psql bench -c 'select 1' >/dev/null 2>&1; then break; fi
	sleep 0.5
done
psql bench -c 'CREATE DATABASE bench8' >/dev/null
DB_URL="postgres://bench:bench@127.0.0.1:$PGPORT/bench?sslmode=disable"

# migrate8 DATABASE: the Up section of every migration up to 00008, in
# order, each in one transaction as goose runs it, or statement by
# statement for those marked NO TRANSACTION (00003/00006 build indexes
# concurrently, 00004 commits inside a DO block).
migrate8() {
	local f n
	for f in adapters/postgres/migrations/*.sql; do
		n="$(basename "$f" | cut -d_ -f1)"
		[ "$((10#$n))" -le 8 ] || continue
		# goose runs a migration in one transaction unless it says not to.
		local one=-1
		if grep -q '^-- +goose NO TRANSACTION' "$f"; then one=""; fi
		awk '/^-- \+goose Down/ { exit } /^-- \+goose Up/ { up = 1; next } up' "$f" |
			grep -v '^-- +goose' | psql "$1" $one >/dev/null
	done
}
JOBSTATUS_DATABASE_URL="$DB_URL" "$WORK/jobstatus" migrate >/dev/null
migrate8 bench8
log "migrated bench to $(ls adapters/postgres/migrations/*.sql | sed 's|.*/||; s|_.*||' | sort -n | tail -1), bench8 to 00008"

cat >"$WORK/write.sql" <<'SQL'
\set n random(1, 1000000000)
INSERT INTO async_jobs (id, client_id, status, eta, created_at, updated_at)
  VALUES (md5(:client_id || '-' || :n)::uuid, 'mis-' || (:n % 100), 'PENDING', now(), now(), now())
  ON CONFLICT DO NOTHING;
UPDATE async_jobs SET status = 'DONE', links = '[{"entity":"composition","href":"/c"}]', updated_at = now(), finished_at = now()
  WHERE id = md5(:client_id || '-' || :n)::uuid AND status = 'PENDING';
SQL
docker cp "$WORK/write.sql" "$CTR:/tmp/write.sql" >/dev/null

# The service for the write API: production auth, one writer, no rate limit.
"$WORK/jobstatus" keygen --alg RS256 --key-out "$WORK/key.pem" --jwks-out "$WORK/jwks.json" >/dev/null
printf 'clients:\n  - id: mis-writes\n    key_sha256: %s\n' "$(printf 'writes-%s' "$RANDOM$RANDOM" | sha256sum | cut -d' ' -f1)" >"$WORK/clients.yaml"
TOKEN="$(JOBSTATUS_AUTH_ISSUER=https://auth.bench JOBSTATUS_AUTH_AUDIENCE=jobstatus \
	"$WORK/jobstatus" token --key "$WORK/key.pem" --client worker-bench --scope composition_job:write --ttl 1h)"
# api: jobs created and finished per second through the write API, the
# service started for the run and stopped after it (so the SQL runs have
# no listener and no feed beside them). Run in this shell, not $(...), so
# that cleanup knows the service.
api() {
	local port admin out
	port="$(free_port)"; admin="$(free_port)"
	JOBSTATUS_HTTP_ADDR="127.0.0.1:$(free_port)" JOBSTATUS_ADMIN_ADDR="127.0.0.1:$admin" JOBSTATUS_DATABASE_URL="$DB_URL" \
	JOBSTATUS_INTERNAL_ADDR="127.0.0.1:$port" JOBSTATUS_INTERNAL_WRITERS=worker-bench \
	JOBSTATUS_AUTH_JWKS_FILE="$WORK/jwks.json" JOBSTATUS_API_KEYS_FILE="$WORK/clients.yaml" \
	JOBSTATUS_AUTH_ISSUER=https://auth.bench JOBSTATUS_AUTH_AUDIENCE=jobstatus JOBSTATUS_RATE_LIMIT_RPS=0 JOBSTATUS_LOG_LEVEL=warn \
		"$WORK/jobstatus" serve 2>>"$WORK/serve.log" &
	SVC_PID=$!
	for _ in $(seq 1 100); do
		if curl -fs "http://127.0.0.1:$admin/readyz" >/dev/null 2>&1; then break; fi
		sleep 0.1
	done
	out="$("$WORK/writeapi" -url "http://127.0.0.1:$port" -token "$TOKEN" -clients "$CLIENTS" -duration "${DURATION}s")" ||
		{ log "write API run failed; the service said:"; tail -20 "$WORK/serve.log" >&2; return 1; }
	kill "$SVC_PID"; wait "$SVC_PID" 2>/dev/null || true; SVC_PID=""
	sed -n 's/.* jobs_per_s=\([0-9.]*\).*/\1/p' <<<"$out"
	grep -q ' errors=0$' <<<"$out" || log "write API: $out"
}

# tps DATABASE: jobs created and finished per second through plain SQL.
tps() {
	docker exec -i "$CTR" pgbench -n -p "$PGPORT" -U bench -c "$CLIENTS" -j 2 -T "$DURATION" -f /tmp/write.sql "$1" 2>&1 |
		awk '/^tps/ { print $3; found = 1 } /error|ERROR|abort/ { print > "/dev/stderr" } END { exit !found }'
}
reset() { psql "$1" -c 'TRUNCATE async_jobs, async_job_events' >/dev/null; }
triggers() { psql bench -c "ALTER TABLE async_jobs $1 TRIGGER USER" >/dev/null; }

: >"$WORK/rounds"
for r in $(seq 1 "$ROUNDS"); do
	log "round $r of $ROUNDS: log, bare, 00008, write API; $CLIENTS clients, ${DURATION}s each"
	LOG_TPS="$(tps bench)"
	LOGGED="$(psql bench -At -c 'SELECT count(*) FROM async_job_events')"
	reset bench
	triggers DISABLE
	BARE_TPS="$(tps bench)"
	reset bench
	triggers ENABLE
	OLD_TPS="$(tps bench8)"
	reset bench8
	api >"$WORK/api"
	API_TPS="$(cat "$WORK/api")"
	reset bench
	echo "$r $LOG_TPS $BARE_TPS $OLD_TPS $API_TPS $LOGGED" >>"$WORK/rounds"
done

# bulk ENABLE|DISABLE: seconds for one statement inserting BULK jobs.
bulk() {
	reset bench
	triggers "$1"
	psql bench -At <<SQL | awk '/^Time:/ { printf "%.3f\n", $2 / 1000 }'
\timing on
INSERT INTO async_jobs (id, client_id, status, eta, created_at, updated_at)
  SELECT gen_random_uuid(), 'mis-bulk', 'PENDING', now(), now(), now() FROM generate_series(1, $BULK);
SQL
}
log "bulk: one statement inserting $BULK jobs"
BULK_BARE="$(bulk DISABLE)"
BULK_LOG="$(bulk ENABLE)"
BULK_LOGGED="$(psql bench -At -c "SELECT count(*) FROM async_job_events WHERE client_id = 'mis-bulk'")"

echo "== jobs created and finished per second, $CLIENTS clients, ${DURATION}s a run, $ROUNDS rounds taking turns"
echo "   (log, bare, 00008: pgbench, plain SQL; write API: the service, the latest schema)"
awk '
	function median(a, n,   i, j, t) {
		for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	BEGIN { printf "%-8s %10s %10s %10s %10s   %9s %11s %9s\n", "round", "log", "bare", "00008", "write API", "log/bare", "log/00008", "API/bare" }
	{
		n++; l[n] = $2; b[n] = $3; o[n] = $4; w[n] = $5; entries = $6
		printf "%-8s %10.1f %10.1f %10.1f %10.1f   %9.2f %11.2f %9.2f\n", $1, $2, $3, $4, $5, $2 / $3, $2 / $4, $5 / $3
	}
	END {
		ml = median(l, n); mb = median(b, n); mo = median(o, n); mw = median(w, n)
		printf "%-8s %10.1f %10.1f %10.1f %10.1f   %9.2f %11.2f %9.2f\n", "median", ml, mb, mo, mw, ml / mb, ml / mo, mw / mb
		printf "log / bare:       %.2f  (the change log'"'"'s cost on plain SQL; last log run wrote %d entries)\n", ml / mb, entries
		verdict = "MISSED"; if (ml >= mo) verdict = "met"
		printf "log / 00008:      %.2f  (against the three triggers before it; target >= 1: %s)\n", ml / mo, verdict
		printf "write API / bare: %.2f  (the whole service path against bare SQL)\n", mw / mb
		printf "write API / log:  %.2f  (the service'"'"'s own cost above the SQL it runs)\n", mw / ml
	}' "$WORK/rounds"
echo "== one statement inserting $BULK jobs"
printf 'log  %8.3f s   (%s log entries)\nbare %8.3f s\n' "$BULK_LOG" "$BULK_LOGGED" "$BULK_BARE"
awk -v l="$BULK_LOG" -v b="$BULK_BARE" 'BEGIN { if (l > 0) printf "bare / log: %.2f\n", b / l }'

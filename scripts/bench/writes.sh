#!/usr/bin/env bash
# writes.sh — what the change log costs a writer. PostgreSQL (the test
# image, host networking, loopback), two databases: one migrated to the
# latest schema (the change log, migration 00009), one to 00008 (the three
# triggers before it: a version, a NOTIFY with the row, an event for a
# status change). pgbench then creates and finishes jobs through plain SQL
# (one INSERT, one UPDATE to DONE per transaction, BENCH_WRITES_CLIENTS
# clients for BENCH_WRITES_DURATION seconds) three times:
#   log       the latest schema, its triggers on;
#   bare      the same table with every trigger disabled
#             (ALTER TABLE async_jobs DISABLE TRIGGER USER);
#   00008     the schema before the change log, its triggers on;
# and prints jobs created and finished per second for each, the log's
# figure against bare (the log's cost as a ratio) and against 00008. Then
# one statement inserting BENCH_WRITES_BULK jobs, with the log and bare.
#
# The migrations' Up sections are applied with psql (no Go build needed).
# Never scripts/test-env.sh here: it removes every test container.
set -euo pipefail
cd "$(dirname "$0")/../.."

CLIENTS="${BENCH_WRITES_CLIENTS:-8}"
DURATION="${BENCH_WRITES_DURATION:-10}"
BULK="${BENCH_WRITES_BULK:-100000}"
IMAGE="${TEST_POSTGRES_IMAGE:-jobstatus-postgres:15-r2}"
WORK="$(mktemp -d /tmp/jobstatus-writes.XXXXXX)"
CTR=""

log() { echo "writes: $*" >&2; }
cleanup() {
	if [ -n "$CTR" ]; then docker rm -f "$CTR" >/dev/null 2>&1 || true; fi
	rm -rf "$WORK"
}
trap cleanup EXIT

docker image inspect "$IMAGE" >/dev/null || { log "no image $IMAGE: run scripts/test-env.sh first"; exit 1; }
PGPORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
log "starting PostgreSQL ($IMAGE) on 127.0.0.1:$PGPORT"
CTR="$(docker run -d --network host --label jobstatus.bench=writes --stop-signal SIGINT \
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

# migrate DATABASE LAST: the Up section of every migration up to LAST, in
# order, each in one transaction as goose runs it, or statement by
# statement for those marked NO TRANSACTION (00003/00006 build indexes
# concurrently, 00004 commits inside a DO block).
migrate() {
	local f n
	for f in adapters/postgres/migrations/*.sql; do
		n="$(basename "$f" | cut -d_ -f1)"
		[ "$((10#$n))" -le "$2" ] || continue
		# goose runs a migration in one transaction unless it says not to.
		local one=-1
		if grep -q '^-- +goose NO TRANSACTION' "$f"; then one=""; fi
		awk '/^-- \+goose Down/ { exit } /^-- \+goose Up/ { up = 1; next } up' "$f" |
			grep -v '^-- +goose' | psql "$1" $one >/dev/null
	done
}
LATEST="$(ls adapters/postgres/migrations/*.sql | sed 's|.*/||; s|_.*||' | sort -n | tail -1)"
migrate bench "$((10#$LATEST))"
migrate bench8 8
log "migrated bench to $LATEST, bench8 to 00008"

cat >"$WORK/write.sql" <<'SQL'
\set n random(1, 1000000000)
INSERT INTO async_jobs (id, client_id, status, eta, created_at, updated_at)
  VALUES (md5(:client_id || '-' || :n)::uuid, 'mis-' || (:n % 100), 'PENDING', now(), now(), now())
  ON CONFLICT DO NOTHING;
UPDATE async_jobs SET status = 'DONE', links = '[{"entity":"composition","href":"/c"}]', updated_at = now(), finished_at = now()
  WHERE id = md5(:client_id || '-' || :n)::uuid AND status = 'PENDING';
SQL
docker cp "$WORK/write.sql" "$CTR:/tmp/write.sql" >/dev/null

# tps DATABASE: jobs created and finished per second.
tps() {
	docker exec -i "$CTR" pgbench -n -p "$PGPORT" -U bench -c "$CLIENTS" -j 2 -T "$DURATION" -f /tmp/write.sql "$1" 2>&1 |
		awk '/^tps/ { print $3; found = 1 } /error|ERROR|abort/ { print > "/dev/stderr" } END { exit !found }'
}
reset() { psql "$1" -c 'TRUNCATE async_jobs, async_job_events' >/dev/null; }

log "log: create + finish, $CLIENTS clients, ${DURATION}s"
LOG_TPS="$(tps bench)"
LOGGED="$(psql bench -At -c 'SELECT count(*) FROM async_job_events')"
reset bench
psql bench -c 'ALTER TABLE async_jobs DISABLE TRIGGER USER' >/dev/null
log "bare: the same, every trigger disabled"
BARE_TPS="$(tps bench)"
reset bench
psql bench -c 'ALTER TABLE async_jobs ENABLE TRIGGER USER' >/dev/null
log "00008: the same under the three triggers before the change log"
OLD_TPS="$(tps bench8)"

# bulk ENABLE|DISABLE: seconds for one statement inserting BULK jobs.
bulk() {
	reset bench
	psql bench -c "ALTER TABLE async_jobs $1 TRIGGER USER" >/dev/null
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

echo "== jobs created and finished per second (plain SQL, $CLIENTS clients, ${DURATION}s)"
printf '%-8s %10.1f /s   (%s log entries)\n' log "$LOG_TPS" "$LOGGED"
printf '%-8s %10.1f /s\n' bare "$BARE_TPS"
printf '%-8s %10.1f /s\n' 00008 "$OLD_TPS"
awk -v l="$LOG_TPS" -v b="$BARE_TPS" -v o="$OLD_TPS" 'BEGIN {
	printf "log / bare:  %.2f  (the change log'"'"'s cost)\n", l / b
	printf "log / 00008: %.2f  (against the three triggers before it; >= 1 is no worse)\n", l / o
}'
echo "== one statement inserting $BULK jobs"
printf 'log  %8.3f s   (%s log entries)\nbare %8.3f s\n' "$BULK_LOG" "$BULK_LOGGED" "$BULK_BARE"
awk -v l="$BULK_LOG" -v b="$BULK_BARE" 'BEGIN { if (l > 0) printf "bare / log: %.2f\n", b / l }'

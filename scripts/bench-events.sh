#!/usr/bin/env bash
# bench-events.sh — what the listing costs in PostgreSQL. It starts
# PostgreSQL (the test image, host networking, loopback), migrates, then
# prints EXPLAIN ANALYZE of a list page (first and deep) for a client with
# 10^3 jobs in the table, then BENCH_LIST_JOBS (default 10^7), a quarter of
# them the listed client's. (The change log's write cost is measured by
# scripts/bench/writes.sh, part of make bench.)
# Seeding 10^7 rows takes minutes; BENCH_LIST_JOBS=1000000 is quicker.
set -euo pipefail
cd "$(dirname "$0")/.."

LARGE="${BENCH_LIST_JOBS:-10000000}"
WORK="$(mktemp -d /tmp/jobstatus-bench-events.XXXXXX)"
CTR=""
log() { echo "bench-events: $*" >&2; }
cleanup() {
	if [ -n "$CTR" ]; then docker rm -f "$CTR" >/dev/null 2>&1 || true; fi
	rm -rf "$WORK"
}
trap cleanup EXIT

# The test image must exist (make test-env builds it). scripts/test-env.sh is
# not called: it removes every test container on the engine, also those of
# test runs in progress.
IMAGE="${TEST_POSTGRES_IMAGE:-jobstatus-postgres:15-r2}"
docker image inspect "$IMAGE" >/dev/null || { log "no image $IMAGE: run scripts/test-env.sh first"; exit 1; }
PGPORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
log "starting PostgreSQL ($IMAGE) on 127.0.0.1:$PGPORT"
CTR="$(docker run -d --network host --label jobstatus.bench=events --stop-signal SIGINT \
	-e POSTGRES_USER=bench -e POSTGRES_PASSWORD=bench -e POSTGRES_DB=bench -e PGPORT="$PGPORT" \
	"$IMAGE" postgres -c listen_addresses=127.0.0.1 -c shared_buffers=512MB -c maintenance_work_mem=512MB \
	-c synchronous_commit=off -c fsync=off -c full_page_writes=off -c jit=off -c max_wal_size=8GB)"
psql() { docker exec -i "$CTR" psql -v ON_ERROR_STOP=1 -q -p "$PGPORT" -U bench -d bench "$@"; }
for _ in $(seq 1 120); do
	if docker exec "$CTR" pg_isready -q -h 127.0.0.1 -p "$PGPORT" 2>/dev/null && psql -c 'select 1' >/dev/null 2>&1; then break; fi
	sleep 0.5
done
JOBSTATUS_DATABASE_URL="postgres://bench:bench@127.0.0.1:$PGPORT/bench?sslmode=disable" go run ./cmd/jobstatus migrate >/dev/null

# The write cost of the change log's triggers is scripts/bench/writes.sh's
# (part of make bench). Seeding bypasses the triggers (it is a bulk load).
seed() { # seed FROM TO: a quarter of the jobs are mis-list's, 0.1 % mis-rare's; some share a second
	psql <<SQL
INSERT INTO async_jobs (id, client_id, status, eta, links, created_at, updated_at, finished_at)
SELECT md5('job' || g)::uuid,
       CASE WHEN g % 4 = 0 THEN 'mis-list' WHEN g % 1000 = 1 THEN 'mis-rare' ELSE 'mis-other-' || (g % 4) END, 'DONE', now(),
       '[{"entity":"composition","href":"/c"}]',
       timestamptz '2026-01-01' + (g / 3) * interval '1 second', now(), now()
FROM generate_series($1, $2) g;
ANALYZE async_jobs;
SQL
}
page() { # page LABEL CLIENT: EXPLAIN ANALYZE of the client's first page and of a page half-way down
	local total mid
	total="$(psql -At -c "SELECT count(*) FROM async_jobs WHERE client_id = '$2'")"
	mid="$(psql -At -F, -c "SELECT created_at, id FROM async_jobs WHERE client_id = '$2' ORDER BY created_at DESC, id DESC OFFSET $((total / 2)) LIMIT 1")"
	local at="${mid%%,*}" id="${mid##*,}"
	for cursor in "timestamptz '9999-01-01', 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid" "timestamptz '$at', '$id'::uuid"; do
		echo "-- $1 jobs in the table, $total of them $2's; cursor ($cursor)"
		# The listing's statement (adapters/postgres/events.go, qList), page_size 50.
		psql -c "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT id, client_id, idempotency_key, status, eta, links, error_code,
			error_message, created_at, updated_at, finished_at FROM async_jobs
			WHERE client_id = '$2' AND ('' = '' OR status = '')
			  AND created_at >= timestamptz '0001-01-01' AND created_at < timestamptz '9999-01-01'
			  AND (created_at, id) < ($cursor)
			ORDER BY created_at DESC, id DESC LIMIT 51" | grep -E 'Index|Limit|Execution|Seq'
	done
}
psql -c 'ALTER TABLE async_jobs DISABLE TRIGGER USER'
echo "== a list page"
seed 1 1000
page "10^3" mis-list
page "10^3" mis-rare
start=$(date +%s)
seed 1001 "$LARGE"
log "seeded $LARGE jobs in $(( $(date +%s) - start ))s"
page "$LARGE" mis-list
page "$LARGE" mis-rare

#!/usr/bin/env bash
# checks.sh — what migration 00013's checks cost an INSERT. PostgreSQL (the
# test image, host networking, loopback), one database migrated to the
# latest schema by `jobstatus migrate`. One statement inserts
# BENCH_CHECKS_ROWS jobs (INSERT ... SELECT generate_series, as
# scripts/bench/writes.sh's bulk insert), in two shapes:
#   pending  the seed's rows: PENDING, no links, no idempotency key;
#   done     DONE with one composition link and an idempotency key (every
#            check has something to look at: two jsonpath queries over one
#            link, the client id's and the key's regular expressions);
# each way with the checks (as migrated) and without (00013's NOT VALID
# checks dropped), with the change log's triggers on (what every write
# pays) and off (the bare INSERT, where the checks' share shows most). The
# four take turns, the order reversed every other round, for
# BENCH_CHECKS_ROUNDS rounds; the table is emptied before each insert.
# Prints each round, the medians and the ratios of the medians.
#
# Never scripts/test-env.sh here: it removes every test container.
set -euo pipefail
cd "$(dirname "$0")/../.."

ROWS="${BENCH_CHECKS_ROWS:-200000}"
ROUNDS="${BENCH_CHECKS_ROUNDS:-3}"
IMAGE="${TEST_POSTGRES_IMAGE:-jobstatus-postgres:15-r2}"
WORK="$(mktemp -d /tmp/jobstatus-checks.XXXXXX)"
CTR=""

log() { echo "checks: $*" >&2; }
cleanup() {
	if [ -n "$CTR" ]; then docker rm -f "$CTR" >/dev/null 2>&1 || true; fi
	rm -rf "$WORK"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

docker image inspect "$IMAGE" >/dev/null || { log "no image $IMAGE: run scripts/test-env.sh first"; exit 1; }
go build -o "$WORK/jobstatus" ./cmd/jobstatus
PGPORT="$(free_port)"
log "starting PostgreSQL ($IMAGE) on 127.0.0.1:$PGPORT"
# Labelled with this script's PID, as scripts/bench.sh labels its own.
CTR="$(docker run -d --network host --label jobstatus.bench=$$ --stop-signal SIGINT \
	-e POSTGRES_USER=bench -e POSTGRES_PASSWORD=bench -e POSTGRES_DB=bench -e PGPORT="$PGPORT" \
	"$IMAGE" postgres -c listen_addresses=127.0.0.1 -c shared_buffers=256MB \
	-c synchronous_commit=off -c fsync=off -c full_page_writes=off -c jit=off -c max_wal_size=4GB)"
psql() {
	docker exec -i -e PGOPTIONS='-c client_min_messages=warning' "$CTR" psql -v ON_ERROR_STOP=1 -q -X -p "$PGPORT" -U bench -d bench "$@"
}
for _ in $(seq 1 120); do
	if psql -c 'select 1' >/dev/null 2>&1; then break; fi
	sleep 0.5
done
JOBSTATUS_DATABASE_URL="postgres://bench:bench@127.0.0.1:$PGPORT/bench?sslmode=disable" "$WORK/jobstatus" migrate >/dev/null

# The checks as migrated, to drop and add back word for word.
psql -At -c "SELECT format('ALTER TABLE async_jobs ADD CONSTRAINT %I %s;', conname, pg_get_constraintdef(oid))
	FROM pg_constraint WHERE conrelid = 'async_jobs'::regclass AND contype = 'c' AND NOT convalidated ORDER BY conname" >"$WORK/add.sql"
sed 's/^\(ALTER TABLE async_jobs\) ADD \(CONSTRAINT [^ ]*\) .*/\1 DROP \2;/' "$WORK/add.sql" >"$WORK/drop.sql"
[ -s "$WORK/add.sql" ] || { log "the latest schema has no NOT VALID checks on async_jobs"; exit 1; }
log "$(wc -l <"$WORK/add.sql") checks: $(sed 's/.*CONSTRAINT \([^ ]*\) .*/\1/' "$WORK/add.sql" | paste -sd' ')"
CHECKS=on

# set_checks on|off
set_checks() {
	[ "$1" = "$CHECKS" ] && return
	if [ "$1" = on ]; then psql <"$WORK/add.sql" >/dev/null; else psql <"$WORK/drop.sql" >/dev/null; fi
	CHECKS="$1"
}

# insert SHAPE TRIGGERS: seconds for one statement inserting ROWS jobs.
insert() {
	local values
	case "$1" in
	pending) values="gen_random_uuid(), 'mis-bulk', NULL, 'PENDING', now(), '[]', now(), now(), NULL" ;;
	done) values="gen_random_uuid(), 'mis-bulk', 'key-' || g, 'DONE', now(),
		'[{\"entity\": \"composition\", \"href\": \"/patients/p/encounter/e/composition/c\"}]', now(), now(), now()" ;;
	esac
	psql -c 'TRUNCATE async_jobs, async_job_events' -c "ALTER TABLE async_jobs $2 TRIGGER USER" -c CHECKPOINT >/dev/null
	psql -At <<SQL | awk '/^Time:/ { printf "%.3f\n", $2 / 1000 }'
\timing on
INSERT INTO async_jobs (id, client_id, idempotency_key, status, eta, links, created_at, updated_at, finished_at)
  SELECT $values FROM generate_series(1, $ROWS) g;
SQL
}

RUNS=("pending on ENABLE" "pending off ENABLE" "done on ENABLE" "done off ENABLE"
	"pending on DISABLE" "pending off DISABLE" "done on DISABLE" "done off DISABLE")
: >"$WORK/rounds"
for r in $(seq 1 "$ROUNDS"); do
	log "round $r of $ROUNDS: ${#RUNS[@]} inserts of $ROWS jobs"
	order=("${RUNS[@]}")
	if [ $((r % 2)) -eq 0 ]; then
		order=()
		for ((i = ${#RUNS[@]} - 1; i >= 0; i--)); do order+=("${RUNS[$i]}"); done
	fi
	for run in "${order[@]}"; do
		read -r shape checks triggers <<<"$run"
		set_checks "$checks" # here, not in insert's subshell: CHECKS must stay set
		echo "$r $run $(insert "$shape" "$triggers")" >>"$WORK/rounds"
	done
done
set_checks on

echo "== one statement inserting $ROWS jobs, seconds; with 00013's checks and without, $ROUNDS rounds taking turns"
echo "   (log: the change log's triggers on, as every write; bare: every trigger off)"
awk '
	function median(a, n,   i, j, t) {
		for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	{ key = $2 " " ($4 == "ENABLE" ? "log" : "bare"); t[key, $3, $1] = $5; rounds[$1] = 1; keys[key] = 1 }
	END {
		printf "%-14s %-6s %10s %10s %9s\n", "rows", "round", "checks", "none", "ratio"
		split("pending log,done log,pending bare,done bare", order, ",")
		for (k = 1; k <= 4; k++) {
			key = order[k]; n = 0
			for (r = 1; (r in rounds); r++) {
				n++; on[n] = t[key, "on", r]; off[n] = t[key, "off", r]
				printf "%-14s %-6s %10.3f %10.3f %9.3f\n", key, r, on[n], off[n], on[n] / off[n]
			}
			mon = median(on, n); moff = median(off, n)
			printf "%-14s %-6s %10.3f %10.3f %9.3f\n", key, "median", mon, moff, mon / moff
			summary = summary sprintf("%-14s checks / none: %.3f  (%+.1f %%)\n", key, mon / moff, (mon / moff - 1) * 100)
		}
		printf "%s", summary
	}' "$WORK/rounds"

#!/usr/bin/env bash
# db.sh [stop] — `make db` and `make db-stop`: a throwaway PostgreSQL for
# trying jobstatus by hand, started the way the tests start theirs: the
# tests' image (TEST_POSTGRES_IMAGE), host networking, a free port on
# 127.0.0.1, listening on loopback only. It prints the one line to paste
# (or to eval) on stdout, everything else on stderr:
#
#   export JOBSTATUS_DATABASE_URL='postgres://jobstatus:jobstatus@127.0.0.1:PORT/jobstatus?sslmode=disable'
#
# Run again, it prints the line of the container already running. The
# container is named DB_CONTAINER (jobstatus-db) and labelled
# jobstatus.db, not org.testcontainers=true, so the tests' cleanup
# (scripts/test-env.sh --cleanup) leaves it alone; `db.sh stop` removes it
# and its data.
set -euo pipefail
cd "$(dirname "$0")/.."

NAME="${DB_CONTAINER:-jobstatus-db}"
IMAGE="${TEST_POSTGRES_IMAGE:-jobstatus-postgres:15-r2}"
log() { echo "db: $*" >&2; }
die() { log "$*"; exit 1; }
url() { echo "export JOBSTATUS_DATABASE_URL='postgres://jobstatus:jobstatus@127.0.0.1:$1/jobstatus?sslmode=disable'"; }

if [ "${1:-}" = stop ]; then
	if command -v docker >/dev/null 2>&1 && docker inspect "$NAME" >/dev/null 2>&1; then
		docker rm -f "$NAME" >/dev/null
		log "removed $NAME"
	else
		log "no container $NAME: nothing to stop"
	fi
	exit 0
fi
[ -z "${1:-}" ] || die "usage: db.sh [stop]"

# The engine and the image of the tests; test-env.sh runs only when one is
# missing (it installs and starts Docker, builds the image, and removes
# containers killed test runs left behind).
if ! docker info >/dev/null 2>&1 || ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
	log "preparing the Docker engine and the image $IMAGE (scripts/test-env.sh)"
	IMAGE="$(TEST_POSTGRES_IMAGE="$IMAGE" scripts/test-env.sh)"
fi

port_of() { docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$NAME" | sed -n 's/^PGPORT=//p'; }
ready() { docker exec -e PGPASSWORD=jobstatus "$NAME" psql -h 127.0.0.1 -p "$1" -U jobstatus -d jobstatus -Atqc 'select 1' >/dev/null 2>&1; }

if [ "$(docker inspect -f '{{.State.Running}}' "$NAME" 2>/dev/null)" = true ]; then
	port="$(port_of)"
	if ready "$port"; then
		log "$NAME already runs on 127.0.0.1:$port (make db-stop removes it)"
		url "$port"
		exit 0
	fi
fi
docker rm -f "$NAME" >/dev/null 2>&1 || true

# A free loopback port: one nothing answers on; if PostgreSQL still cannot
# bind it (taken in between), the container exits and another is tried.
for attempt in 1 2 3 4 5; do
	port=$((20000 + RANDOM % 20000))
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
		continue
	fi
	docker run -d --name "$NAME" --label jobstatus.db=1 --network host \
		-e POSTGRES_USER=jobstatus -e POSTGRES_PASSWORD=jobstatus -e POSTGRES_DB=jobstatus -e PGPORT="$port" \
		"$IMAGE" postgres -c listen_addresses=127.0.0.1 -c fsync=off >/dev/null
	for _ in $(seq 1 300); do
		if ready "$port"; then
			log "PostgreSQL in container $NAME on 127.0.0.1:$port; paste the line below, or run eval \"\$(make db)\"; make db-stop removes it"
			url "$port"
			exit 0
		fi
		[ "$(docker inspect -f '{{.State.Running}}' "$NAME" 2>/dev/null)" = true ] || break
		sleep 0.2
	done
	log "attempt $attempt on port $port failed: $(docker logs --tail 3 "$NAME" 2>&1 | tr '\n' ' ')"
	docker rm -f "$NAME" >/dev/null 2>&1 || true
done
die "PostgreSQL did not start; see the lines above"

#!/usr/bin/env bash
# image-smoke.sh IMAGE — runs the jobstatus image with host networking
# against PostgreSQL on loopback: migrate, create a job, serve, and ask the
# status endpoint for it. Everything it starts, it removes.
set -euo pipefail
IMAGE="${1:-jobstatus:latest}"
cd "$(dirname "$0")/.."
PG_IMAGE="$(scripts/test-env.sh)"
WORK="$(mktemp -d /tmp/jobstatus-smoke.XXXXXX)"
chmod 0777 "$WORK"
PG="" SVC=""
cleanup() {
	[ -n "$SVC" ] && docker rm -f "$SVC" >/dev/null 2>&1 || true
	[ -n "$PG" ] && docker rm -f "$PG" >/dev/null 2>&1 || true
	rm -rf "$WORK"
}
trap cleanup EXIT
port() { echo $((30000 + RANDOM % 20000)); }
PGPORT="$(port)" HTTPPORT="$(port)" ADMINPORT="$(port)"

PG="$(docker run -d --network host --label org.testcontainers=true -e POSTGRES_USER=js -e POSTGRES_PASSWORD=js \
	-e POSTGRES_DB=js -e PGPORT="$PGPORT" "$PG_IMAGE" postgres -c listen_addresses=127.0.0.1)"
for _ in $(seq 1 100); do
	docker exec "$PG" pg_isready -q -h 127.0.0.1 -p "$PGPORT" 2>/dev/null && break
	sleep 0.3
done
sleep 1 # the init server restarts once

run() { docker run --rm --network host -v "$WORK:/work" -e JOBSTATUS_DATABASE_URL="postgres://js:js@127.0.0.1:$PGPORT/js?sslmode=disable" \
	-e JOBSTATUS_AUTH_ISSUER=https://auth.smoke -e JOBSTATUS_AUTH_AUDIENCE=jobstatus "$IMAGE" "$@"; }
run migrate >/dev/null
run keygen --key-out /work/key.pem --jwks-out /work/jwks.json >/dev/null
printf 'clients:\n  - id: mis-smoke\n    key_sha256: %s\n' "$(printf smoke-key | sha256sum | cut -d' ' -f1)" >"$WORK/clients.yaml"
id="$(run jobs create --client mis-smoke | sed -n 's/.*"id": "\(.*\)".*/\1/p')"
token="$(run token --key /work/key.pem --client mis-smoke)"

SVC="$(docker run -d --network host -v "$WORK:/work:ro" \
	-e JOBSTATUS_HTTP_ADDR="127.0.0.1:$HTTPPORT" -e JOBSTATUS_INTERNAL_ADDR= -e JOBSTATUS_ADMIN_ADDR="127.0.0.1:$ADMINPORT" \
	-e JOBSTATUS_DATABASE_URL="postgres://js:js@127.0.0.1:$PGPORT/js?sslmode=disable" \
	-e JOBSTATUS_AUTH_JWKS_FILE=/work/jwks.json -e JOBSTATUS_API_KEYS_FILE=/work/clients.yaml \
	-e JOBSTATUS_AUTH_ISSUER=https://auth.smoke -e JOBSTATUS_AUTH_AUDIENCE=jobstatus "$IMAGE")"
for _ in $(seq 1 50); do
	curl -fs "http://127.0.0.1:$ADMINPORT/readyz" >/dev/null 2>&1 && break
	sleep 0.2
done
user="$(docker inspect -f '{{.Config.User}}' "$SVC")"
answer="$(curl -s -w ' %{http_code}' "http://127.0.0.1:$HTTPPORT/patients/composition/job/$id" \
	-H "Authorization: Bearer $token" -H 'api-key: smoke-key')"
echo "image $IMAGE (user $user, $(docker image inspect -f '{{.Size}}' "$IMAGE") bytes): $answer"
case "$answer" in
*'"status":"PENDING"'*' 200') echo "image-smoke: ok" ;;
*) echo "image-smoke: unexpected answer"; docker logs "$SVC" 2>&1 | tail -20; exit 1 ;;
esac

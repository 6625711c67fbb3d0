#!/bin/bash
# A small stand-in for the official postgres image's entrypoint: it honours
# POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB, PGPORT and
# /docker-entrypoint-initdb.d/*.sql, so tests run unchanged on either image.
set -euo pipefail

if [ "${1:-}" != postgres ]; then
	exec "$@"
fi

: "${PGDATA:=/var/lib/postgresql/data}"
: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
export PGDATA

if [ ! -s "$PGDATA/PG_VERSION" ]; then
	trap 'exit 143' TERM INT
	pwfile="$(mktemp)"
	printf '%s\n' "${POSTGRES_PASSWORD:-postgres}" >"$pwfile"
	initdb --username="$POSTGRES_USER" --pwfile="$pwfile" --auth-local=trust \
		--auth-host=scram-sha-256 --encoding=UTF8 --no-sync >/dev/null
	rm -f "$pwfile"
	{
		echo "host all all 127.0.0.1/32 scram-sha-256"
		echo "host all all ::1/128 scram-sha-256"
		echo "host all all all scram-sha-256"
	} >>"$PGDATA/pg_hba.conf"

	# A temporary socket-only server creates the database and runs init scripts.
	pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -c fsync=off" -w start
	if [ "$POSTGRES_DB" != postgres ]; then
		psql -v ON_ERROR_STOP=1 --username="$POSTGRES_USER" --dbname=postgres \
			-c "CREATE DATABASE \"$POSTGRES_DB\"" >/dev/null
	fi
	for f in /docker-entrypoint-initdb.d/*; do
		case "$f" in
		*.sql) psql -v ON_ERROR_STOP=1 --username="$POSTGRES_USER" --dbname="$POSTGRES_DB" -f "$f" >/dev/null ;;
		*.sh) . "$f" ;;
		esac
	done
	pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
	trap - TERM INT
	echo "PostgreSQL init process complete; ready for start up."
fi

exec "$@"

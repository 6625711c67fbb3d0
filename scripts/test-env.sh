#!/usr/bin/env bash
# test-env.sh prepares what the integration tests need, idempotently:
# a Docker engine that answers and a PostgreSQL image named by
# TEST_POSTGRES_IMAGE. With a registry the image is pulled; without one it is
# built from Debian packages: machines without a registry cannot pull one.
set -euo pipefail

IMAGE="${TEST_POSTGRES_IMAGE:-jobstatus-postgres:15-r2}"
STATE_DIR="${JOBSTATUS_TEST_STATE:-/var/tmp/jobstatus-test}"
mkdir -p "$STATE_DIR"

log() { echo "test-env: $*" >&2; }

need_root() {
	if [ "$(id -u)" != 0 ]; then
		log "cannot install '$1' without root; install it and run again"
		exit 1
	fi
}

apt_install() {
	need_root "$*"
	if [ ! -f "$STATE_DIR/apt-updated" ]; then
		apt-get update -qq >"$STATE_DIR/apt.log" 2>&1 || { log "apt-get update failed; see $STATE_DIR/apt.log"; exit 1; }
		touch "$STATE_DIR/apt-updated"
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >>"$STATE_DIR/apt.log" 2>&1 || {
		log "apt-get install $* failed; see $STATE_DIR/apt.log"
		exit 1
	}
}

engine_up() { docker info >/dev/null 2>&1; }

ensure_engine() {
	if engine_up; then
		return
	fi
	if ! command -v dockerd >/dev/null 2>&1; then
		log "installing Docker engine (docker.io)"
		apt_install docker.io
	fi
	log "starting dockerd"
	local driver
	for driver in overlay2 vfs; do
		nohup dockerd --storage-driver="$driver" >"$STATE_DIR/dockerd.log" 2>&1 &
		echo $! >"$STATE_DIR/dockerd.pid"
		for _ in $(seq 1 60); do
			if engine_up; then
				log "dockerd ready ($driver)"
				return
			fi
			if ! kill -0 "$(cat "$STATE_DIR/dockerd.pid")" 2>/dev/null; then
				break
			fi
			sleep 0.5
		done
		log "dockerd with $driver did not come up; see $STATE_DIR/dockerd.log"
		kill "$(cat "$STATE_DIR/dockerd.pid")" 2>/dev/null || true
		sleep 1
	done
	exit 1
}

build_image() {
	if ! command -v debootstrap >/dev/null 2>&1; then
		log "installing debootstrap"
		apt_install debootstrap
	fi
	local root="$STATE_DIR/rootfs"
	rm -rf "$root"
	log "building $IMAGE from Debian packages (about a minute)"
	debootstrap --variant=minbase --include=postgresql-15 bookworm "$root" \
		http://deb.debian.org/debian >"$STATE_DIR/debootstrap.log" 2>&1 || {
		log "debootstrap failed; see $STATE_DIR/debootstrap.log"
		exit 1
	}
	# Slim it: docs, locales, apt lists, JIT, and Debian's pre-created cluster.
	rm -rf "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
		"$root"/usr/share/locale/* "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* \
		"$root"/usr/lib/postgresql/15/lib/bitcode "$root"/usr/lib/postgresql/15/lib/llvmjit* \
		"$root"/usr/lib/x86_64-linux-gnu/libLLVM* \
		"$root"/var/lib/postgresql/15 "$root"/etc/postgresql/15
	install -m 0755 "$(dirname "$0")/postgres-entrypoint.sh" "$root/usr/local/bin/docker-entrypoint.sh"
	mkdir -p "$root/var/lib/postgresql/data" "$root/var/run/postgresql" "$root/docker-entrypoint-initdb.d"
	chroot "$root" chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql
	tar --numeric-owner -C "$root" -c . | docker import \
		-c 'ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		-c 'ENV PGDATA=/var/lib/postgresql/data' \
		-c 'ENV LANG=C.UTF-8' \
		-c 'USER postgres' \
		-c 'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]' \
		-c 'CMD ["postgres"]' - "$IMAGE" >&2
	rm -rf "$root"
	log "built $IMAGE"
}

ensure_image() {
	if docker image inspect "$IMAGE" >/dev/null 2>&1; then
		return
	fi
	if docker pull "$IMAGE" >/dev/null 2>&1; then
		return
	fi
	build_image
}

# Containers left behind by a killed test run.
remove_leftovers() {
	local ids
	ids="$(docker ps -aq --filter label=org.testcontainers=true || true)"
	if [ -n "$ids" ]; then
		log "removing leftover test containers"
		# shellcheck disable=SC2086
		docker rm -f $ids >/dev/null 2>&1 || true
	fi
}

# promtool (Debian's prometheus package) checks and unit-tests the alerting
# rules in deploy/prometheus. Only the binary is taken from the package:
# installing the package would also start a Prometheus server.
ensure_promtool() {
	if command -v promtool >/dev/null 2>&1; then
		return
	fi
	need_root promtool
	log "installing promtool (from Debian's prometheus package)"
	if [ ! -f "$STATE_DIR/apt-updated" ]; then
		apt-get update -qq >"$STATE_DIR/apt.log" 2>&1 || { log "apt-get update failed; see $STATE_DIR/apt.log"; exit 1; }
		touch "$STATE_DIR/apt-updated"
	fi
	local dir="$STATE_DIR/prometheus-deb"
	rm -rf "$dir"
	mkdir -p "$dir"
	(cd "$dir" && apt-get download prometheus >>"$STATE_DIR/apt.log" 2>&1) || {
		log "apt-get download prometheus failed; see $STATE_DIR/apt.log"
		exit 1
	}
	dpkg-deb -x "$dir"/prometheus_*.deb "$dir/root"
	install -m 0755 "$dir/root/usr/bin/promtool" /usr/local/bin/promtool
	rm -rf "$dir"
	promtool --version >/dev/null
}

if [ "${1:-}" = "--promtool" ]; then
	# Only promtool: the deploy checks need no container.
	ensure_promtool
	exit 0
fi

if [ "${1:-}" = "--cleanup" ]; then
	# After a run, also a failed or killed one: nothing of ours stays behind.
	if engine_up; then
		remove_leftovers
	fi
	exit 0
fi

ensure_engine
ensure_image
ensure_promtool
remove_leftovers
echo "$IMAGE"

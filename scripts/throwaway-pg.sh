#!/usr/bin/env bash
# throwaway-pg.sh -- start or stop a throwaway PostgreSQL 15 for tests and
# the quick start.  It listens on 127.0.0.1 only, with scram-sha-256 over
# TCP and trust on its private unix socket directory.  initdb refuses to run
# as root, so as root the cluster belongs to the "postgres" system user.
#
#   throwaway-pg.sh start DIR PORT   initdb DIR (if new) and start on PORT
#   throwaway-pg.sh stop DIR         stop it (fast shutdown) by its pid
#   throwaway-pg.sh psql DIR [ARGS]  psql as superuser over the unix socket
#
# PG_MAX_CONNECTIONS (default 300) sets max_connections for a start.
set -euo pipefail

PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
[ -x "$PGBIN/initdb" ] || { echo "throwaway-pg: no PostgreSQL server binaries (apt-get install postgresql-15)" >&2; exit 1; }

as_owner() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start DIR PORT | stop DIR | psql DIR [ARGS]" >&2; exit 2; }

case "$cmd" in
start)
	port=${3:?port}
	mkdir -p "$dir"
	[ "$(id -u)" = 0 ] && chown postgres: "$dir"
	if [ ! -f "$dir/data/PG_VERSION" ]; then
		as_owner "$PGBIN/initdb" -D "$dir/data" -U postgres -E UTF8 --no-locale \
			--auth-local=trust --auth-host=scram-sha-256 >"$dir/initdb.log" 2>&1 ||
			{ cat "$dir/initdb.log" >&2; exit 1; }
	fi
	as_owner "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
		-o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir -c max_connections=${PG_MAX_CONNECTIONS:-300} -c fsync=off -c shared_buffers=64MB" \
		start >/dev/null || { tail -20 "$dir/postgres.log" >&2; exit 1; }
	;;
stop)
	if [ -f "$dir/data/postmaster.pid" ]; then
		as_owner "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null || true
	fi
	;;
psql)
	shift 2
	port=$(sed -n 4p "$dir/data/postmaster.pid")
	as_owner "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U postgres -d postgres "$@"
	;;
*)
	echo "usage: $0 start DIR PORT | stop DIR | psql DIR [ARGS]" >&2
	exit 2
	;;
esac

#!/usr/bin/env bash
# run.sh -- the quick start: install what is missing, build, and run pgperf.
#
#   run.sh                       start a throwaway PostgreSQL and put pgperf
#                                in front of it; prints the DATABASE_URL
#   run.sh --upstream URL [...]  put pgperf in front of an existing server
#   run.sh CONFIG.ini [...]      run with a configuration file
#
# Everything after the first argument is passed to pgperf.  Ctrl-C stops
# pgperf and the throwaway PostgreSQL.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/deps.sh" test
build=$("$root/scripts/build.sh" Release)

if [ $# -gt 0 ]; then
	exec "$build/pgperf" "$@"
fi

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pgport=55432
while ! port_free $pgport; do pgport=$((pgport + 1)); done
listen=${PGPERF_PORT:-6432}
while ! port_free "$listen"; do listen=$((listen + 1)); done
http=${PGPERF_HTTP_PORT:-9187}
while ! port_free "$http" || [ "$http" = "$listen" ]; do http=$((http + 1)); done

dir=$(mktemp -d /tmp/pgperf-quickstart.XXXXXX)
chmod 755 "$dir"
password=$(openssl rand -hex 12)
cleanup() {
	[ -n "${pid:-}" ] && kill -INT "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	"$root/scripts/throwaway-pg.sh" stop "$dir/pg"
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# a port nothing answers on may still be the local end of a connection
# (55432 lies in the kernel's ephemeral range): it cannot be bound, so
# on "Address already in use" the next free port is tried
for try in 1 2 3 4 5; do
	echo "run: starting a throwaway PostgreSQL 15 on 127.0.0.1:$pgport" >&2
	rm -f "$dir/pg/postgres.log" # pg_ctl appends: only this try's errors
	"$root/scripts/throwaway-pg.sh" start "$dir/pg" $pgport 2>"$dir/start.err" && break
	if [ "$try" = 5 ] || ! grep -q "Address already in use" "$dir/start.err"; then
		cat "$dir/start.err" >&2
		exit 1
	fi
	echo "run: 127.0.0.1:$pgport is taken; trying the next port" >&2
	pgport=$((pgport + 1))
	while ! port_free $pgport; do pgport=$((pgport + 1)); done
done
# HypoPG lets index advice check a suggestion with the planner
"$root/scripts/throwaway-pg.sh" psql "$dir/pg" \
	-c "create role app login password '$password'" -c "create database app owner app" \
	-c "\\c app" -c "create extension if not exists hypopg" >/dev/null
# the metrics endpoint, on loopback only; the URL's user reads the console
# as a stats user (the quick start names no admin)
cat >"$dir/pgperf.ini" <<INI
[pgperf]
http_listen_addr = 127.0.0.1
http_listen_port = $http
INI

url="postgresql://app:$password@127.0.0.1:$listen/app"
cat <<MSG

  PostgreSQL 15 (throwaway) on 127.0.0.1:$pgport, data in $dir/pg
  pgperf listening on 127.0.0.1:$listen

  DATABASE_URL=$url

  Next, in another terminal:

    export DATABASE_URL=$url
    psql "\$DATABASE_URL"

    # a small shop on SQLAlchemy: an N+1, a missing index, a cacheable query
    $root/scripts/demo.sh

    # what pgperf found (with the fix), its figures, the report
    $build/pgperf-ctl findings
    $build/pgperf-ctl stats
    $build/pgperf-ctl report
    curl -s http://127.0.0.1:$http/metrics

  Ctrl-C stops pgperf and the throwaway PostgreSQL.

MSG
# a session of its own, as a service would have: with the kernel's autogroup
# scheduling, a load generator started from this terminal would otherwise
# share pgperf's scheduling group and starve PostgreSQL (docs/performance.md)
PGPERF_UPSTREAM="postgresql://app:$password@127.0.0.1:$pgport/app" \
	setsid "$build/pgperf" "$dir/pgperf.ini" \
	--listen "127.0.0.1:$listen" &
pid=$!
wait "$pid"

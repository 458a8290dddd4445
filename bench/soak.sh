#!/usr/bin/env bash
# soak.sh -- run pgbench through pgperf for a while and sample pgperf's RSS
# and open descriptors every SAMPLE seconds; after warm-up both should stay
# flat.  Prints one line per sample and a summary of the drift.  pgperf
# runs in transaction mode with analysis and the Redis result cache on
# (cache_mode = auto, a Redis of its own): pgbench's transactions
# invalidate on every commit, its reconnecting select-only clients churn
# logins, and two more clients repeat reads of a small table no one
# writes, so hits and fills run all along.  CACHE=off runs without Redis.
#   bench/soak.sh [MINUTES] [CLIENTS] [SAMPLE_SECONDS]   default 30 16 10
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
minutes=${1:-30}
clients=${2:-16}
every=${3:-10}
"$root/scripts/deps.sh" test
cache=${CACHE:-auto}
build=$("$root/scripts/build.sh" Release)
work=$(mktemp -d /tmp/pgperf-soak.XXXXXX)
chmod 755 "$work"
free_port() { local p=$1; while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done; echo "$p"; }
pgport=$(free_port 27100)
xport=$(free_port 27200)
"$root/scripts/throwaway-pg.sh" start "$work/pg" "$pgport"
trap '{ [ -z "${xpid:-}" ] || kill -INT "$xpid" 2>/dev/null; }; [ -f "$work/redis.pid" ] && kill "$(cat "$work/redis.pid")" 2>/dev/null; sleep 0.5; "$root/scripts/throwaway-pg.sh" stop "$work/pg"; rm -rf "$work"' EXIT
rport=$(free_port 27300)
if [ "$cache" != off ]; then
	redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no \
		--daemonize yes --pidfile "$work/redis.pid" --logfile "$work/redis.log"
fi
"$root/scripts/throwaway-pg.sh" psql "$work/pg" \
	-c "create role soak login password 'soak-secret'" -c "create database soak owner soak"
printf '"soak" "soak-secret"\n' >"$work/users.txt"
chmod 600 "$work/users.txt"
cat >"$work/pgperf.ini" <<INI
[databases]
soak = host=127.0.0.1 port=$pgport dbname=soak
[pgperf]
listen_port = $xport
auth_file = users.txt
default_pool_size = 20
pool_mode = transaction
max_client_conn = 1000
server_tls_sslmode = disable
log_level = warning
admin_users = soak
INI
if [ "$cache" != off ]; then
	printf 'redis_url = redis://127.0.0.1:%s/0\ncache_mode = %s\ncache_auto_min_calls = 2\n' \
		"$rport" "$cache" >>"$work/pgperf.ini"
fi
setsid "$build/pgperf" "$work/pgperf.ini" &
xpid=$!
sleep 0.5
export PGPASSWORD=soak-secret
url="host=127.0.0.1 port=$xport user=soak dbname=soak"
pgbench -i -q -s 5 "$url" >/dev/null 2>&1
psql -X -q "$url" -c "create table soak_hot(k int primary key, v text)" \
	-c "insert into soak_hot select g, 'v' || g from generate_series(1, 10) g"
printf '\\set k random(1, 10)\nselect v from soak_hot where k = :k;\n' >"$work/hot.sql"
# -C reconnects for every transaction: logins, resets and frees churn too
pgbench -n -c "$clients" -j 2 -T $((minutes * 60)) "$url" >"$work/pgbench.out" 2>&1 &
bpid=$!
pgbench -n -C -c 2 -j 1 -T $((minutes * 60)) -S "$url" >"$work/pgbench-C.out" 2>&1 &
cpid=$!
pgbench -n -c 2 -j 1 -T $((minutes * 60)) -f "$work/hot.sql" "$url" >"$work/pgbench-hot.out" 2>&1 &
hpid=$!
printf '%8s %10s %6s\n' seconds rss_kB fds
start=$(date +%s)
first_rss=""
while kill -0 "$bpid" 2>/dev/null; do
	now=$(( $(date +%s) - start ))
	rss=$(awk '/VmRSS/ {print $2}' "/proc/$xpid/status")
	fds=$(ls "/proc/$xpid/fd" | wc -l)
	printf '%8d %10d %6d\n' "$now" "$rss" "$fds"
	# warm-up: the first minute (or a fifth of the run) is not judged
	if [ -z "$first_rss" ] && [ "$now" -ge $(( minutes * 12 < 60 ? minutes * 12 : 60 )) ]; then
		first_rss=$rss
		first_fds=$fds
	fi
	last_rss=$rss
	last_fds=$fds
	sleep "$every"
done
wait "$cpid" || true
wait "$hpid" || true
grep -E "tps|failed" "$work/pgbench.out" "$work/pgbench-C.out" "$work/pgbench-hot.out" || true
psql -X "host=127.0.0.1 port=$xport user=soak dbname=pgperf" -c "SHOW CACHE" 2>/dev/null | head -5 || true
echo "after warm-up: RSS ${first_rss:-?} -> ${last_rss:-?} kB, descriptors ${first_fds:-?} -> ${last_fds:-?}"

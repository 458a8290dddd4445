#!/usr/bin/env bash
# test_fleet.sh -- several pgperf processes as one system through the Redis
# they share (issue 20): three processes on one port (so_reuseport), each
# with its own peer_id and unix socket, redis_url set (so fleet = on),
# stats_period = 1, fleet_lease_ttl = 2 and max_db_connections = 20 for
# the whole fleet.  The fleet view lists the three; 200 clients x 50
# transactions run with PostgreSQL never seeing more than 20 connections;
# pgperf-ctl --fleet queries equals the sum over the processes and what
# the clients sent (tests/clients/fleet_view.py); /fleet/metrics and
# /fleet/findings say the same; max_user_connections holds for the fleet
# too; a reload changing cache_namespace on one process does not take it
# out of the fleet; a process killed under load is marked
# stale and its lease expires while the others serve; a database whose
# lease Redis refuses falls back to the share; with Redis gone the
# processes keep to an even share and serve on.  Prints "N passed,
# N failed".
set -uo pipefail

. "${PGPERF_ITEST_ENV:?run through ctest}"
. "$(dirname "$0")/lib.sh"
command -v redis-server >/dev/null || { echo "redis-server is not installed"; exit 1; }
rport=$((27400 + $$ % 500))
while (exec 3<>"/dev/tcp/127.0.0.1/$rport") 2>/dev/null; do rport=$((rport + 1)); done
itest_init fleet 18000 "pool_mode = transaction
admin_users = app
so_reuseport = 1
min_pool_size = 0
server_idle_timeout = 1
max_db_connections = 20
redis_url = redis://127.0.0.1:$rport/0
stats_period = 1
fleet_lease_ttl = 2"
redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no \
	--daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
wait_for 5 redis-cli -p "$rport" ping >/dev/null 2>&1
# a second database under the same limit, for the refused lease below
itest_add_db pgdb "host=127.0.0.1 port=$PG_PORT dbname=postgres"
src="$(cd "$(dirname "$0")/../clients" && pwd)"
http_port=$((port + 1))
while (exec 3<>"/dev/tcp/127.0.0.1/$http_port") 2>/dev/null; do http_port=$((http_port + 1)); done
pids=()
for n in 1 2 3; do
	mkdir -p "$dir/s$n"
	{
		cat "$dir/pgperf.ini"
		echo "peer_id = $n"
		echo "unix_socket_dir = $dir/s$n"
		[ "$n" = 1 ] && echo "http_listen_port = $http_port"
	} >"$dir/pgperf-$n.ini"
	"$PGPERF_BIN" "$dir/pgperf-$n.ini" >"$dir/pgperf-$n.log" 2>&1 &
	pids+=($!)
done
cleanup() {
	kill -INT "${pids[@]}" 2>/dev/null
	[ -f "$dir/redis.pid" ] && kill "$(cat "$dir/redis.pid")" 2>/dev/null
}
trap cleanup EXIT
pid1=${pids[0]} pid2=${pids[1]} pid3=${pids[2]}
for n in 1 2 3; do
	wait_for 10 test -S "$dir/s$n/.s.PGSQL.$port" || echo "process $n did not start: $(tail -3 "$dir/pgperf-$n.log")"
done
ctl=$(dirname "$PGPERF_BIN")/pgperf-ctl
lease_key="pgperf:fleet:lease:db:127.0.0.1:$PG_PORT/appdb"
export PGPASSWORD=app-secret src port dir pid1 pid2 pid3 PG_PORT ctl rport http_port lease_key

console() { # unix socket dir, command
	psql -X -qAt -F '|' "host=$1 port=$port user=app dbname=pgperf" -c "$2"
}
export -f console

members() {
	# SHOW FLEET on process 2 lists all three, none stale
	wait_for 10 bash -c '[ "$(console "$dir/s2" "show fleet" | grep -c "|no|[yn]")" = 3 ]' ||
		{ console "$dir/s2" "show fleet"; return 1; }
	console "$dir/s2" "show fleet" | cut -d'|' -f1,2,9,10 | tr '\n' ' '
	echo
}
load_and_sum() {
	cd "$src" || return 1
	/usr/bin/python3 fleet_view.py load "$port" "$PG_PORT" 200 50 20 || return 1
	/usr/bin/python3 fleet_view.py sum "$port" "$ctl" "$dir/s1" "$dir/s2" "$dir/s3" 10000
}
fleet_findings() {
	curl -sf "http://127.0.0.1:$http_port/fleet/findings" | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
fl = d["instance"]["fleet"]
assert fl["processes"] == 3 and fl["stale"] == [], fl
q = [x for x in d["queries"] if "fleet_probe" in x["query"]]
assert len(q) == 1 and q[0]["calls"] == 10000, q
print("/fleet/findings: %d members, the probe %d calls over %d processes"
      % (len(fl["members"]), q[0]["calls"], q[0]["processes"]))'
}
fleet_http() {
	local m
	m=$(curl -sf "http://127.0.0.1:$http_port/fleet/metrics") || return 1
	echo "$m" | grep -q '^pgperf_fleet_members 3$' || { echo "$m" | grep fleet; return 1; }
	echo "$m" | grep -q '^pgperf_fleet_member_up{member="3"} 1$' || return 1
	echo "$m" | grep -q '^pgperf_query_duration_seconds_count{fingerprint=' || return 1
	# process 1's view catches up with every record within a period or two
	wait_for 10 fleet_findings >/dev/null 2>&1
	fleet_findings
}
fleet_slow() {
	curl -sf "http://127.0.0.1:$http_port/fleet/findings" | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
f = [x for x in d["findings"] if x.get("kind") == "slow_query" and
     "fleet_slow_probe" in json.dumps(x)]
assert f, "no slow_query finding for the probe"
print("/fleet/findings: slow_query for the probe (%s)" % f[0].get("severity"))'
}
thresholds() {
	# the view judges with the asking process's thresholds: process 1
	# reloads with slow_query_ms = 1 (the others keep 100), and 12 calls
	# of 5 ms, spread over the three, make a slow query in its view
	local i rc=0
	sed -i 's/^peer_id = 1$/peer_id = 1\nslow_query_ms = 1/' "$dir/pgperf-1.ini"
	kill -HUP "$pid1"
	sleep 0.5
	for i in $(seq 12); do
		psql -X -qAt "host=127.0.0.1 port=$port user=app dbname=appdb" \
			-c "select pg_sleep(0.005) as fleet_slow_probe" >/dev/null || { rc=1; break; }
	done
	if [ "$rc" = 0 ]; then
		wait_for 10 fleet_slow >/dev/null 2>&1
		fleet_slow
		rc=$?
	fi
	sed -i '/^slow_query_ms = 1$/d' "$dir/pgperf-1.ini"
	kill -HUP "$pid1"
	return $rc
}
user_limit() {
	# max_user_connections = 8 for the fleet instead, by reload
	local n
	for n in 1 2 3; do
		sed -i 's/^max_db_connections = 20$/max_db_connections = 0\nmax_user_connections = 8/' "$dir/pgperf-$n.ini"
	done
	kill -HUP "$pid1" "$pid2" "$pid3"
	sleep 1
	cd "$src" && /usr/bin/python3 fleet_view.py load "$port" "$PG_PORT" 100 20 8 || return 1
	for n in 1 2 3; do
		sed -i 's/^max_db_connections = 0$/max_db_connections = 20/; /^max_user_connections = 8$/d' "$dir/pgperf-$n.ini"
	done
	kill -HUP "$pid1" "$pid2" "$pid3"
	sleep 1
}
ns_reload() {
	# a reload that changes cache_namespace on process 1 alone leaves it
	# in the fleet (its lease stays under the old keys) until restart
	sed -i 's/^peer_id = 1$/peer_id = 1\ncache_namespace = elsewhere/' "$dir/pgperf-1.ini"
	kill -HUP "$pid1"
	sleep 2
	sed -i '/^cache_namespace = elsewhere$/d' "$dir/pgperf-1.ini"
	redis-cli -p "$rport" hkeys "$lease_key" | grep -qx 1 ||
		{ echo "process 1's lease left $lease_key: $(redis-cli -p "$rport" hkeys "$lease_key" | tr '\n' ' ')"; return 1; }
	[ -z "$(redis-cli -p "$rport" --scan --pattern 'pgperf:fleet:elsewhere:*')" ] ||
		{ echo "keys under the new namespace: $(redis-cli -p "$rport" --scan --pattern 'pgperf:fleet:elsewhere:*' | tr '\n' ' ')"; return 1; }
	grep -q "take effect for the fleet at restart" "$dir/pgperf-1.log" || { echo "not logged"; return 1; }
	kill -HUP "$pid1"
	echo "after a reload with another cache_namespace, process 1 kept its lease in $lease_key and logged that the change waits for a restart"
}
killed() {
	# load over the shared port while process 3 is killed: the clients
	# on 1 and 2 carry on; then the view marks 3 stale and its lease on
	# server connections is gone from Redis
	cd "$src" || return 1
	/usr/bin/python3 fleet_view.py load "$port" "$PG_PORT" 20 2000 20 &
	local lp=$!
	sleep 1
	kill -KILL "$pid3"
	wait "$lp" && { echo "no client was on process 3"; }
	for i in $(seq 20); do
		psql -X -qAt "host=127.0.0.1 port=$port user=app dbname=appdb" -c "select $i" >/dev/null || return 1
	done
	wait_for 10 bash -c 'console "$dir/s1" "show fleet" | grep -q "^3|3|.*|yes|no$"' ||
		{ console "$dir/s1" "show fleet"; return 1; }
	console "$dir/s1" "show fleet queries" | grep fleet_probe | grep -q '|3|3$' ||
		{ console "$dir/s1" "show fleet queries" | grep fleet_probe; return 1; }
	wait_for 10 bash -c '! redis-cli -p "$rport" hkeys "$lease_key" | grep -qx 3' ||
		{ redis-cli -p "$rport" hgetall "$lease_key"; return 1; }
	curl -sf "http://127.0.0.1:$http_port/fleet/metrics" | grep -q '^pgperf_fleet_member_up{member="3"} 0$' || return 1
	echo "process 3 killed: 20 of 20 new connections served, SHOW FLEET marks it stale, its lease is gone ($(redis-cli -p "$rport" hkeys "$lease_key" | tr '\n' ' '))"
}
refused() {
	# Redis refuses the leases of one database (its key is outside what
	# the ACL allows) while it grants the other's: after a lease's life
	# without one, that database's clients get the even share
	local t0 took rc
	redis-cli -p "$rport" acl setuser default resetkeys '~pgperf:fleet:m:*' \
		'~pgperf:fleet:members' "~$lease_key" '~pgperf:fleet:lease:user:*' >/dev/null || return 1
	t0=$(date +%s%N)
	timeout 10 psql -X -qAt "host=$dir/s1 port=$port user=app dbname=pgdb" -c "select 'served'" >"$dir/refused" 2>&1
	rc=$?
	took=$((($(date +%s%N) - t0) / 1000000))
	redis-cli -p "$rport" acl setuser default allkeys >/dev/null
	[ "$rc" = 0 ] && grep -qx served "$dir/refused" || { echo "not served within 10 s (rc $rc): $(cat "$dir/refused")"; return 1; }
	grep -q "NOPERM" "$dir/pgperf-1.log" || { echo "no refusal was logged"; return 1; }
	echo "a database whose lease Redis refuses was served after ${took} ms, on the even share"
}
redis_gone() {
	# Redis stops while clients run: the leases run out and each process
	# keeps to 20 / 2 live, with no client waiting for that
	cd "$src" || return 1
	/usr/bin/python3 fleet_view.py steady "$port" 6 300 >"$dir/steady" 2>&1 &
	local sp=$!
	sleep 1
	kill "$(cat "$dir/redis.pid")"
	wait "$sp" || { cat "$dir/steady"; return 1; }
	cat "$dir/steady"
	# the leases have run out: 10 clients at once fit in either
	# process's share (20 / 2 live), so none waits for a server.  The
	# idle servers of the steady load go first (server_idle_timeout = 1),
	# so the pools must open them; one client waiting for another's
	# second would take 2 s, over the 1.6 s allowed
	sleep 2.5
	/usr/bin/python3 fleet_view.py burst "$port" 10 1.0 1.6 || return 1
	/usr/bin/python3 fleet_view.py load "$port" "$PG_PORT" 50 50 20 || return 1
	console "$dir/s1" "show fleet" >/dev/null || return 1
	echo "Redis stopped under load: no client waited over 0.3 s; 10 clients at once were served without waiting; then 50 clients x 50 transactions within the limit; SHOW FLEET still answers"
}
export -f members load_and_sum fleet_findings fleet_http fleet_slow thresholds user_limit ns_reload killed refused redis_gone
CHECK_SHOW_LAST=1 check "the fleet view lists three processes" members
check "200 clients x 50 transactions within max_db_connections = 20 fleet-wide; --fleet queries is the sum" load_and_sum
sed 's/^/    /' "$dir/out" | tail -2
CHECK_SHOW_LAST=1 check "/fleet/metrics and /fleet/findings" fleet_http
CHECK_SHOW_LAST=1 check "the view's findings use this process's thresholds (slow_query_ms by reload)" thresholds
check "max_user_connections = 8 for the fleet (by reload)" user_limit
sed 's/^/    /' "$dir/out" | tail -1
CHECK_SHOW_LAST=1 check "cache_namespace changed by reload on one process: it stays in the fleet" ns_reload
CHECK_SHOW_LAST=1 check "a process killed under load: stale in the view, its lease expires, the others serve" killed
CHECK_SHOW_LAST=1 check "a lease Redis refuses for one database: its clients get the share" refused
CHECK_SHOW_LAST=1 check "Redis gone: leases fall back to shares, clients are served" redis_gone
sed 's/^/    /' "$dir/out" | grep -E "steady|burst"
wait "$pid3" 2>/dev/null
stop_processes "1:${pids[0]}" "2:${pids[1]}"
[ -f "$dir/redis.pid" ] && kill "$(cat "$dir/redis.pid")" 2>/dev/null
trap - EXIT
itest_summary

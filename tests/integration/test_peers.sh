#!/usr/bin/env bash
# test_peers.sh -- several pgperf processes as one (issue 20, first part):
# three processes share one TCP port (so_reuseport) and know each other
# ([peers], peer_id); each also listens on a unix socket of its own, which
# [peers] names.  A cancel reaches its query whichever process receives
# it, a cancel naming an unknown peer is dropped, and a cancel for a
# client still waiting for a server connection takes its request off the
# queue with 57014 (tests/clients/peers.py); under 200 clients every cancel
# sent to the shared port reaches its own query and no other, and when one
# process is killed the others serve every new connection
# (tests/clients/fleet_load.py); a server connection pgperf closes counts
# against the limit until its backend has gone (tests/clients/close_wait.py).
# Prints "N passed, N failed".
set -uo pipefail

. "${PGPERF_ITEST_ENV:?run through ctest}"
. "$(dirname "$0")/lib.sh"
itest_init peers 17000 "pool_mode = transaction
admin_users = app
so_reuseport = 1
min_pool_size = 0
server_idle_timeout = 1"
itest_add_db appdb_one "host=127.0.0.1 port=$PG_PORT dbname=appdb pool_size=1 min_pool_size=0"
src="$(cd "$(dirname "$0")/../clients" && pwd)"
pids=()
for n in 1 2 3; do
	mkdir -p "$dir/s$n"
	{
		cat "$dir/pgperf.ini"
		echo "peer_id = $n"
		echo "unix_socket_dir = $dir/s$n"
		echo "[peers]"
		echo "1 = host=$dir/s1 port=$port"
		echo "2 = host=$dir/s2 port=$port"
		echo "3 = host=$dir/s3 port=$port"
	} >"$dir/pgperf-$n.ini"
	"$PGPERF_BIN" "$dir/pgperf-$n.ini" >"$dir/pgperf-$n.log" 2>&1 &
	pids+=($!)
done
trap 'kill -INT "${pids[@]}" 2>/dev/null' EXIT
pid1=${pids[0]} pid2=${pids[1]} pid3=${pids[2]}
for n in 1 2 3; do
	wait_for 10 test -S "$dir/s$n/.s.PGSQL.$port" || echo "process $n did not start: $(tail -3 "$dir/pgperf-$n.log")"
done
export PGPASSWORD=app-secret src port dir PGPERF_BIN pid1 pid2 pid3 PG_PORT

both_listen() {
	# a second process on the port is refused without so_reuseport
	sed '/^so_reuseport/d; /^peer_id/d; s/^unix_socket_dir = .*/unix_socket_dir =/' \
		"$dir/pgperf-1.ini" >"$dir/plain.ini"
	sed -i '/^\[peers\]/,$d' "$dir/plain.ini"
	timeout 5 "$PGPERF_BIN" "$dir/plain.ini" >"$dir/plain.log" 2>&1
	grep -q "cannot listen" "$dir/plain.log" || { cat "$dir/plain.log"; return 1; }
	echo "without so_reuseport a third process is refused: $(grep -o 'cannot listen.*' "$dir/plain.log")"
}
peers() {
	cd "$src" && /usr/bin/python3 peers.py "$port" "$dir/s1" "$dir/s2" "$dir/pgperf-1.log" "$dir/s3"
}
fleet_load() {
	# max_db_connections = 6 for the fleet: 2 per process.  Applied by
	# reload, once the servers of the checks before have idled out.
	local n
	for n in 1 2 3; do
		sed -i 's/^min_pool_size = 0$/min_pool_size = 0\nmax_db_connections = 6/' "$dir/pgperf-$n.ini"
	done
	sleep 2
	kill -HUP "$pid1" "$pid2" "$pid3"
	sleep 1
	cd "$src" && /usr/bin/python3 fleet_load.py "$port" "$dir/s1" "$dir/s2" "$dir/s3" "$PG_PORT"
}
# a server connection pgperf closes counts until its backend has gone:
# process 1 (share 2 of 6) never lets PostgreSQL see a third
close_wait() {
	cd "$src" && /usr/bin/python3 close_wait.py "$port" "$dir/s1" "$PG_PORT" 2
}
# process 3 killed: the other two take every new connection
survivors() {
	kill -KILL "$pid3"
	sleep 0.5 # its listening socket closes as it dies
	for i in $(seq 30); do
		psql -X -qAt "host=127.0.0.1 port=$port user=app dbname=appdb" -c "select $i" >/dev/null || return 1
	done
	echo "after process 3 was killed, 30 of 30 new connections were served"
}
export -f both_listen peers fleet_load close_wait survivors
CHECK_SHOW_LAST=1 check "so_reuseport: a process without it cannot share the port" both_listen
check "processes share a port: connections spread, cancels routed by peer, waiting requests canceled" peers
sed 's/^/    /' "$dir/out" | head -8
check "three processes: 200 clients x 50 transactions within max_db_connections; 50 cancels over the shared port" fleet_load
sed 's/^/    /' "$dir/out" | head -4
CHECK_SHOW_LAST=1 check "a closed server connection counts until its backend has gone" close_wait
CHECK_SHOW_LAST=1 check "a process killed: the others serve every new connection" survivors
wait "$pid3" 2>/dev/null
stop_processes "1:${pids[0]}" "2:${pids[1]}"
trap - EXIT
itest_summary

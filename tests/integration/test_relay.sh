#!/usr/bin/env bash
# test_relay.sh -- what readers of the analysis cost the clients: nothing.
# pgperf runs with an analyzer made slow on purpose (each batch of events
# sleeps 300 ms, PGPERF_TEST_SLOW_ANALYZER_MS), as one busy or stuck would
# be.  While a pgbench client runs, SHOW QUERIES, SHOW FINDINGS, /metrics
# and /findings are read over and over: no transaction of the client may
# take 150 ms or more (the readers used to spin on the I/O thread for up
# to 200 ms each), and every reader still sees every statement that
# completed before it asked.  Prints "N passed, N failed".
set -uo pipefail

. "${PGPERF_ITEST_ENV:?run through ctest}"
. "$(dirname "$0")/lib.sh"
itest_init relay 30000 "pool_mode = transaction
admin_users = app
min_pool_size = 0"
itest_http
export PGPERF_TEST_SLOW_ANALYZER_MS=300
start_pgperf "$dir/pgperf.log"
unset PGPERF_TEST_SLOW_ANALYZER_MS

export PGPASSWORD=app-secret
url="host=127.0.0.1 port=$port user=app dbname=appdb sslmode=disable"
admin="host=127.0.0.1 port=$port user=app dbname=pgperf"
export url admin dir http_port

readers_never_stall_clients() {
	local bpid n tx slow mx
	printf 'select 1;\n' >"$dir/one.sql"
	# 100 transactions a second for 4 s: the slow analyzer (64 events per
	# 300 ms) keeps up, but is behind whenever a reader asks
	(cd "$dir" && exec pgbench -n -f one.sql -c 2 -j 1 -T 4 -R 100 -l --log-prefix=relay "$url" >"$dir/pgbench.out" 2>&1) &
	bpid=$!
	sleep 0.5
	for n in $(seq 6); do
		psql -X -q -At "$admin" -c "SHOW QUERIES" >/dev/null || return 1
		curl -sf -o /dev/null "http://127.0.0.1:$http_port/metrics" || return 1
		psql -X -q -At "$admin" -c "SHOW FINDINGS" >/dev/null || return 1
		curl -sf -o /dev/null "http://127.0.0.1:$http_port/findings" || return 1
	done
	wait "$bpid" || { cat "$dir/pgbench.out"; return 1; }
	tx=$(awk -F': ' '/number of transactions actually processed/ {print $2+0}' "$dir/pgbench.out")
	slow=$(cat "$dir"/relay.* | awk '$3 >= 150000' | wc -l)
	mx=$(cat "$dir"/relay.* | awk 'BEGIN {m = 0} $3 > m {m = $3} END {print m}')
	echo "transactions $tx, slowest ${mx} us, $slow at 150 ms or more"
	[ "${tx:-0}" -gt 200 ] && [ "$slow" = 0 ]
}
export -f readers_never_stall_clients
check "readers of the analysis never stall a client" readers_never_stall_clients

readers_see_what_completed() {
	# every `select 1` pgbench finished is counted, however far behind
	# the analyzer was when SHOW QUERIES asked
	local tx calls
	tx=$(awk -F': ' '/number of transactions actually processed/ {print $2+0}' "$dir/pgbench.out")
	calls=$(psql -X -At -F'|' "$admin" -c "SHOW QUERIES" | awk -F'|' '$2 ~ /^select \$1/ {print $3}')
	echo "pgbench: $tx transactions; SHOW QUERIES: ${calls:-none}"
	[ -n "$tx" ] && [ "${calls:-0}" = "$tx" ]
}
export -f readers_see_what_completed
check "a reader sees every statement completed before it asked" readers_see_what_completed

other_commands_do_not_wait() {
	# SHOW POOLS and SHOW STATS do not read the analysis: answered at once
	# even while it is behind (psql's \timing: the round trip alone)
	local times
	printf 'select 1;\n' >"$dir/one.sql"
	(cd "$dir" && exec pgbench -n -f one.sql -c 1 -j 1 -T 2 "$url" >/dev/null 2>&1) &
	sleep 0.5
	times=$(psql -X -q "$admin" -c '\timing on' -c "SHOW POOLS" -c "SHOW STATS" |
		awk '/^Time:/ {print $2}')
	wait
	echo "round trips (ms): $times"
	[ "$(echo "$times" | wc -w)" = 2 ] &&
		echo "$times" | awk '$1 >= 100 {bad = 1} END {exit bad}'
}
export -f other_commands_do_not_wait
check "commands that do not read the analysis do not wait for it" other_commands_do_not_wait

stop_pgperf
itest_summary

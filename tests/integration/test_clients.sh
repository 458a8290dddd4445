#!/usr/bin/env bash
# test_clients.sh -- real client programs through pgperf: psql (several
# statements in one query, an error then ROLLBACK, \copy both ways) and
# pgbench in simple, extended and prepared modes with zero failed
# transactions.  Prints "N passed, N failed".
set -uo pipefail

. "${PGPERF_ITEST_ENV:?run through ctest}"
dir="$WORK_DIR/clients-$$"
mkdir -p "$dir"
# below the ephemeral range (32768+), where outgoing connections take ports
port=$(( 28000 + $$ % 1000 ))
while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
printf '"app" "app-secret"\n' >"$dir/users.txt"
chmod 600 "$dir/users.txt"
cat >"$dir/pgperf.ini" <<INI
[databases]
appdb = host=127.0.0.1 port=$PG_PORT dbname=appdb
[pgperf]
listen_addr = 127.0.0.1
listen_port = $port
auth_file = users.txt
server_tls_sslmode = disable
INI
start_pgperf() { # log file
	log=$1
	"$PGPERF_BIN" "$dir/pgperf.ini" >"$log" 2>&1 &
	pid=$!
	trap 'kill -INT $pid 2>/dev/null' EXIT
	for _ in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
		sleep 0.05
	done
}
start_pgperf "$dir/pgperf.log"

export PGPASSWORD=app-secret
url="host=127.0.0.1 port=$port user=app dbname=appdb"
passed=0
failed=0
check() { # name, command...
	local name=$1
	shift
	if "$@" >"$dir/out" 2>&1; then
		passed=$((passed + 1))
		echo "ok: $name"
	else
		failed=$((failed + 1))
		echo "FAILED: $name"
		sed 's/^/    /' "$dir/out"
	fi
}

multi_statement() {
	local out
	out=$(psql -X -At "$url" -c "create temp table m(a int); insert into m values (1),(2),(3); select sum(a) from m" | tail -1) &&
		[ "$out" = "6" ]
}
error_then_rollback() {
	local out
	out=$(psql -X -At "$url" <<'SQL' 2>&1
begin;
select 1/0;
select 'not run';
rollback;
select 'after rollback';
SQL
)
	echo "$out"
	grep -q "division by zero" <<<"$out" &&
		grep -q "current transaction is aborted" <<<"$out" &&
		grep -q "after rollback" <<<"$out"
}
psql_copy() {
	seq 1 15000 | sed 's/$/\tname/' >"$dir/in.tsv"
	psql -X -q "$url" -v ON_ERROR_STOP=1 <<SQL &&
create table if not exists copytest(id int, name text);
truncate copytest;
\copy copytest from '$dir/in.tsv'
\copy copytest to '$dir/out.tsv'
SQL
		cmp "$dir/in.tsv" "$dir/out.tsv"
}
pgbench_mode() { # mode [clients]
	local out
	out=$(pgbench -n -M "$1" -c "${2:-8}" -j 2 -T 4 "$url" 2>&1)
	echo "$out"
	grep -q "number of failed transactions: 0 " <<<"$out"
}

check "psql: several statements in one query" multi_statement
check "psql: error, then ROLLBACK" error_then_rollback
check "psql: \\copy in and out of 15000 rows" psql_copy
check "pgbench -i" pgbench -i -q -s 1 "$url"
for mode in simple extended prepared; do
	check "pgbench -M $mode: 0 failed transactions" pgbench_mode "$mode"
done

stop_pgperf() {
	kill -INT "$pid"
	wait "$pid"
	rc=$?
	trap - EXIT
	if [ "$rc" = 0 ]; then passed=$((passed + 1)); echo "ok: pgperf exited cleanly"
	else failed=$((failed + 1)); echo "FAILED: pgperf exit status $rc"; tail -20 "$log"; fi
}
stop_pgperf

# the same pgbench runs in transaction mode, twice back to back
cat >>"$dir/pgperf.ini" <<INI
pool_mode = transaction
default_pool_size = 20
INI
start_pgperf "$dir/pgperf-txn.log"
for round in 1 2; do
	for mode in simple extended prepared; do
		check "transaction mode, round $round: pgbench -M $mode: 0 failed transactions" pgbench_mode "$mode"
	done
done
stop_pgperf

# more prepared-statement clients than server connections: none is pinned
sed -i 's/^default_pool_size = 20$/default_pool_size = 4\nmin_pool_size = 2\nquery_wait_timeout = 3/' "$dir/pgperf.ini"
start_pgperf "$dir/pgperf-txn4.log"
check "transaction mode, pool of 4: pgbench -M prepared -c 16: 0 failed transactions" pgbench_mode prepared 16
stop_pgperf
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]

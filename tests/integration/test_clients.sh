#!/usr/bin/env bash
# test_clients.sh -- real client programs through pgperf: psql (several
# statements in one query, an error then ROLLBACK, \copy both ways) and
# pgbench in simple, extended and prepared modes with zero failed
# transactions.  Prints "N passed, N failed".
set -uo pipefail

. "${PGPERF_ITEST_ENV:?run through ctest}"
. "$(dirname "$0")/lib.sh"
itest_init clients 28000
start_pgperf "$dir/pgperf.log"

export PGPASSWORD=app-secret
url="host=127.0.0.1 port=$port user=app dbname=appdb"
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
pgbench_mode() { # mode [clients] [threads]
	local out rc
	out=$(pgbench -n -M "$1" -c "${2:-8}" -j "${3:-2}" -T 4 "$url" 2>&1)
	rc=$?
	echo "$out"
	# an aborted client is not a failed transaction: pgbench exits 2
	[ "$rc" = 0 ] && grep -q "number of failed transactions: 0 " <<<"$out" &&
		! grep -q "aborted" <<<"$out"
}

export -f multi_statement error_then_rollback psql_copy pgbench_mode
export url dir
check "psql: several statements in one query" multi_statement
check "psql: error, then ROLLBACK" error_then_rollback
check "psql: \\copy in and out of 15000 rows" psql_copy
check "pgbench -i" pgbench -i -q -s 1 "$url"
for mode in simple extended prepared; do
	check "pgbench -M $mode: 0 failed transactions" pgbench_mode "$mode"
done

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
# one pgbench thread for 48 clients: its synchronous PQprepare() for a client
# without a server must not wait behind clients that hold all four
check "transaction mode, pool of 4: pgbench -M prepared -c 48 -j 1: 0 failed transactions" pgbench_mode prepared 48 1
stop_pgperf
itest_summary

#!/usr/bin/env bash
# test_index.sh -- index advice end to end through pgperf, verified by the
# planner with HypoPG (installed in the fixture's database): on tables of
# 150,000 rows a hot query on an unindexed column and a join on an
# unindexed foreign key each yield one suggestion with the right DDL and a
# verified cost drop; an indexed column, a tiny table and a boolean column
# yield none; after the suggested index is created, the finding reports the
# measured improvement.  Prints "N passed, N failed".
set -uo pipefail

. "${PGPERF_ITEST_ENV:?run through ctest}"
src="$(cd "$(dirname "$0")/../clients" && pwd)"
. "$(dirname "$0")/lib.sh"
itest_init index 31000 "pool_mode = transaction
admin_users = app"
itest_http
start_pgperf "$dir/pgperf.log"

export PGPASSWORD=app-secret
url="host=127.0.0.1 port=$port user=app dbname=appdb"
admin="host=127.0.0.1 port=$port user=app dbname=pgperf"
ctl="$PGPERF_CTL -h 127.0.0.1 -p $port -U app"
py=/usr/bin/python3
export url admin ctl py src dir http_port

setup() {
	psql -X -q -v ON_ERROR_STOP=1 "$url" <<'SQL'
drop table if exists ix_events, ix_small, ix_orders, ix_customers cascade;
create table ix_events(id serial primary key, user_id int, flag bool, payload text);
insert into ix_events(user_id, flag, payload)
  select g % 5000, g % 2 = 0, 'p' || g from generate_series(1, 150000) g;
create table ix_small(id serial primary key, val int);
insert into ix_small(val) select g from generate_series(1, 100) g;
create table ix_customers(id serial primary key, name text);
insert into ix_customers(name) select 'c' || g from generate_series(1, 20000) g;
create table ix_orders(id serial primary key,
  customer_id int references ix_customers(id), total int);
insert into ix_orders(customer_id, total)
  select 1 + g % 20000, g from generate_series(1, 150000) g;
analyze ix_events, ix_small, ix_customers, ix_orders;
SQL
}
# N statements, one psql session, values 1..N
run() { # count, sql with %s for the value
	for i in $(seq "$1"); do printf "$2;\n" "$((i * 37))"; done | psql -X -q -v ON_ERROR_STOP=1 -o /dev/null "$url"
}
reset() { psql -X -q "$admin" -c "RESET STATS"; }
checked() {
	curl -sf "http://127.0.0.1:$http_port/metrics" | awk '$1 == "pgperf_index_advice_checked_total" {print $2}'
}
# wait until index advice has looked at N fingerprints since RESET
wait_checked() { # n
	for _ in $(seq 60); do
		[ "$(checked)" -ge "$1" ] 2>/dev/null && return 0
		sleep 0.5
	done
	echo "index advice checked $(checked), want $1"
	return 1
}
findings() { $ctl findings --json >"$dir/$1.json"; }

hot_and_join() {
	reset &&
		run 30 "select id, payload from ix_events where user_id = %s" &&
		run 5 "insert into ix_events(user_id, flag, payload) values (%s, true, 'w')" &&
		run 10 "select count(*) from ix_events where flag = true and %s > 0" &&
		run 30 "select o.id, o.total from ix_customers c join ix_orders o on o.customer_id = c.id where c.id = %s" &&
		wait_checked 3 && findings hot &&
		$py "$src/check_index.py" "$dir/hot.json" expect ix_events:user_id ix_orders:customer_id
}
indexed_tiny() {
	reset &&
		run 30 "select payload from ix_events where id = %s" &&
		run 30 "select id from ix_small where val = %s" &&
		wait_checked 2 && findings none &&
		$py "$src/check_index.py" "$dir/none.json" none
}
after_index() {
	reset &&
		run 20 "select id, payload from ix_events where user_id = %s" &&
		wait_checked 1 &&
		psql -X -q "$url" -c "create index ix_events_user on ix_events (user_id)" &&
		for _ in $(seq 40); do
			run 20 "select id, payload from ix_events where user_id = %s"
			findings after
			$py "$src/check_index.py" "$dir/after.json" after ix_events:user_id >"$dir/after.out" 2>&1 &&
				{ cat "$dir/after.out"; return 0; }
			sleep 0.5
		done
	cat "$dir/after.out"
	return 1
}
export -f setup run reset checked wait_checked findings hot_and_join indexed_tiny after_index

check "setup: 150,000-row tables" setup
CHECK_SHOW_LAST=1 check "hot unindexed column and unindexed FK join: suggested, verified" hot_and_join
check "indexed column, tiny table, boolean column: nothing suggested" indexed_tiny
CHECK_SHOW_LAST=1 check "the index created: measured improvement, kept" after_index
echo "---- pgperf-ctl findings (hot workload)"
$py -c 'import json,sys; [print(f["suggestion"]["summary"]) for f in json.load(open(sys.argv[1]))["findings"] if f["kind"] == "missing_index"]' "$dir/hot.json" 2>/dev/null
psql -X -q "$url" -c "drop table if exists ix_events, ix_small, ix_orders, ix_customers cascade" >/dev/null 2>&1
stop_pgperf
itest_summary

#!/usr/bin/env bash
# test_report.sh -- the findings export and the performance report end to
# end.  A real workload through pgperf (transaction mode, a pool of 3) has
# an N+1, a hot query on an unindexed column, a slow statement, a session
# SET (pinning) and more clients than servers; its export must validate
# against docs/findings.schema.json and carry each finding, with a report
# whose recommendations name them.  Marks bracket an index created between
# two windows and the metrics show it; a pgbench run bracketed by load-test
# marks is reported; the service levels list their breaches; a restart
# keeps findings, statistics and marks; a corrupt state file is set aside
# and pgperf starts anyway.  Prints "N passed, N failed".
set -uo pipefail

. "${PGPERF_ITEST_ENV:?run through ctest}"
src="$(cd "$(dirname "$0")/../clients" && pwd)"
schema="$(cd "$(dirname "$0")/../../docs" && pwd)/findings.schema.json"
. "$(dirname "$0")/lib.sh"
itest_init report 24000 "pool_mode = transaction
admin_users = app
default_pool_size = 3
min_pool_size = 1
slow_query_ms = 100
state_file = state.bin
state_save_interval = 1"
itest_http
start_pgperf "$dir/pgperf.log"

export PGPASSWORD=app-secret
url="host=127.0.0.1 port=$port user=app dbname=appdb"
direct="host=127.0.0.1 port=$PG_PORT user=app dbname=appdb"
ctl="$PGPERF_CTL -h 127.0.0.1 -p $port -U app"
py=/usr/bin/python3
export url direct ctl py src dir schema http_port port

setup() {
	psql -X -q -v ON_ERROR_STOP=1 "$direct" <<'SQL'
drop table if exists rp_events, rp_orders, rp_items cascade;
create table rp_events(id serial primary key, user_id int, payload text);
insert into rp_events(user_id, payload)
  select g % 5000, repeat('p', 40) || g from generate_series(1, 200000) g;
create table rp_orders(id int primary key, customer_id int);
insert into rp_orders select c * 100 + k, c from generate_series(1, 20) c,
  generate_series(1, 8) k;
create table rp_items(id serial primary key,
  order_id int references rp_orders(id), sku text);
insert into rp_items(order_id, sku) select o.id, 'sku' || k from rp_orders o,
  generate_series(1, 3) k;
create index on rp_items(order_id);
analyze rp_events, rp_orders, rp_items;
SQL
}
# N statements in one psql session, values 1..N
run() { # count, sql with %s for the value
	for i in $(seq "$1"); do printf "$2;\n" "$((i * 37))"; done | psql -X -q -v ON_ERROR_STOP=1 -o /dev/null "$url"
}
export_to() { $ctl report --json >"$dir/$1.json"; }
has_kinds() { # file, kinds...
	local f=$1
	shift
	$py "$src/check_report.py" "$schema" "$dir/$f.json" findings "$@" >"$dir/kinds.out" 2>&1
}

workload() {
	# N+1: one request per transaction, a parent and a child per row
	for c in $(seq 6); do
		echo "begin; select id from rp_orders where customer_id = $c order by id /*route='%2Forders'*/;"
		for k in $(seq 8); do echo "select id, sku from rp_items where order_id = $((c * 100 + k)) /*route='%2Forders'*/;"; done
		echo "commit;"
	done | psql -X -q -v ON_ERROR_STOP=1 -o /dev/null "$url" &&
		run 110 "select id, payload from rp_events where user_id = %s" &&
		# one value asked again and again with no write between: what a
		# cache would answer (cacheable_query)
		for _ in $(seq 40); do echo "select count(*) from rp_events where user_id = 74;"; done |
		psql -X -q -v ON_ERROR_STOP=1 -o /dev/null "$url" &&
		run 5 "select pg_sleep(0.12), %s" &&
		psql -X -q -o /dev/null "$url" -c "create temp table rp_tmp(x int)" -c "select 1" &&
		{
			for _ in $(seq 6); do psql -X -q -o /dev/null "$url" -c "begin" -c "select pg_sleep(0.3)" -c "commit" & done
			wait
		} &&
		for _ in $(seq 60); do
			export_to first
			has_kinds first n_plus_one missing_index cacheable_query slow_query pooling_hazard pool_saturation &&
				{ cat "$dir/kinds.out"; return 0; }
			sleep 0.5
		done
	cat "$dir/kinds.out"
	return 1
}
index_between_marks() {
	$ctl mark baseline &&
		run 40 "select id, payload from rp_events where user_id = %s" &&
		psql -X -q "$direct" -c "create index rp_events_user on rp_events (user_id)" &&
		$ctl mark index-created &&
		run 40 "select id, payload from rp_events where user_id = %s" &&
		export_to marks &&
		$py "$src/check_report.py" "$schema" "$dir/marks.json" marks
}
index_applied() {
	# the advisor looks for its index every 5 s, then measures 10 calls
	for _ in $(seq 40); do
		run 12 "select id, payload from rp_events where user_id = %s"
		export_to optimized
		$py "$src/check_report.py" "$schema" "$dir/optimized.json" optimized >"$dir/opt.out" 2>&1 &&
			{ cat "$dir/opt.out"; return 0; }
		sleep 0.5
	done
	cat "$dir/opt.out"
	return 1
}
load_test() {
	printf 'select id, sku from rp_items where order_id = 101;\n' >"$dir/read.sql"
	$ctl mark --load-test start read-only &&
		PGAPPNAME=pgbench pgbench -n -f "$dir/read.sql" -c 4 -T 3 "$url" >"$dir/pgbench.out" 2>&1 &&
		$ctl mark --load-test stop &&
		export_to load &&
		$py "$src/check_report.py" "$schema" "$dir/load.json" load 4 3
}
standards() {
	$py "$src/check_report.py" "$schema" "$dir/load.json" standards
}
outputs() {
	# the same document over HTTP, and the text report
	curl -sf "http://127.0.0.1:$http_port/report" >"$dir/http.json" &&
		curl -sf "http://127.0.0.1:$http_port/findings" >"$dir/http2.json" &&
		$py "$src/check_report.py" "$schema" "$dir/http.json" findings n_plus_one missing_index &&
		$py "$src/check_report.py" "$schema" "$dir/http2.json" findings n_plus_one &&
		$ctl report >"$dir/report.txt" &&
		grep -q "^Recommendations" "$dir/report.txt" &&
		grep -q "n_plus_one" "$dir/report.txt" &&
		grep -q 'Load test "read-only" (pgbench)' "$dir/report.txt" &&
		grep -q "pool_size.*BREACHED" "$dir/report.txt" &&
		psql -X -At "host=127.0.0.1 port=$port user=app dbname=pgperf" -c "SHOW FINDINGS" | grep -q "pool_saturation"
}

mark_errors() {
	# bad marks get an error with its SQLSTATE and change nothing
	local adm="host=127.0.0.1 port=$port user=app dbname=pgperf" n0 n1
	n0=$($ctl report --json | $py -c 'import json,sys; print(len(json.load(sys.stdin)["marks"]))')
	psql -X -At "$adm" -c '\set VERBOSITY verbose' -c "MARK" 2>&1 | grep -q "ERROR:  42601" &&
		psql -X -At "$adm" -c '\set VERBOSITY verbose' -c "MARK '$(printf 'x%.0s' $(seq 70))'" 2>&1 | grep -q "ERROR:  22023" &&
		psql -X -At "$adm" -c '\set VERBOSITY verbose' -c "MARK LOAD TEST SOON" 2>&1 | grep -q "ERROR:  42601" &&
		! $ctl mark 2>/dev/null && ! $ctl mark --load-test later x 2>/dev/null &&
		n1=$($ctl report --json | $py -c 'import json,sys; print(len(json.load(sys.stdin)["marks"]))') &&
		[ "$n0" = "$n1" ]
}
# restarts happen here in the main shell, which owns $pid; check only reads
restart_keeps() {
	# before any client of the pool is back (the pools' counters return
	# with the I/O thread's first tick after the load), and after one is
	local ok=1
	for _ in $(seq 20); do
		export_to after-restart
		if $py "$src/check_report.py" "$schema" "$dir/after-restart.json" kept "$dir/before-restart.json" >"$dir/kept.out" 2>&1; then
			ok=0
			break
		fi
		sleep 0.5
	done
	cat "$dir/kept.out"
	[ "$ok" = 0 ] &&
		grep -q "state file .* loaded" "$dir/pgperf2.log" &&
		psql -X -At "$url" -c "select 1" >/dev/null &&
		export_to after-client &&
		$py "$src/check_report.py" "$schema" "$dir/after-client.json" kept "$dir/before-restart.json"
}
corrupt_survived() {
	psql -X -At "$url" -c "select 41 + 1" | grep -qx 42 &&
		grep -q "state file .* cannot be used .* set aside as .*corrupt-" "$dir/pgperf3.log" &&
		ls "$dir"/state.bin.corrupt-* >/dev/null &&
		wait_for 10 bash -c "head -c 8 '$dir/state.bin' | grep -q PGPERFST" &&
		$ctl report --json >"$dir/fresh.json" &&
		$py -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d["window"]["statements"] <= 2 else 1)' "$dir/fresh.json"
}
restart() { # log
	kill -INT "$pid"
	wait "$pid"
	start_pgperf "$1"
}

export -f setup run export_to has_kinds workload index_between_marks index_applied load_test standards outputs mark_errors restart_keeps corrupt_survived

check "setup: tables" setup
CHECK_SHOW_LAST=1 check "a real run: every kind found, schema valid, recommendations name them" workload
CHECK_SHOW_LAST=1 check "marks bracket an index: metrics before/after show it" index_between_marks
CHECK_SHOW_LAST=1 check "the index appears among optimizations_applied" index_applied
CHECK_SHOW_LAST=1 check "a pgbench run between load-test marks is reported" load_test
CHECK_SHOW_LAST=1 check "service levels: the breaches are listed" standards
check "HTTP /report and /findings, pgperf-ctl report, SHOW FINDINGS" outputs
check "bad marks: 42601/22023, pgperf-ctl usage errors, nothing recorded" mark_errors
export_to before-restart
restart "$dir/pgperf2.log"
CHECK_SHOW_LAST=1 check "a restart keeps findings, statistics and marks" restart_keeps
kill -INT "$pid"
wait "$pid"
head -c 64 /dev/urandom >"$dir/state.bin"
start_pgperf "$dir/pgperf3.log"
check "a corrupt state file is set aside and pgperf starts" corrupt_survived
echo "---- pgperf-ctl report"
cat "$dir/report.txt" 2>/dev/null
psql -X -q "$direct" -c "drop table if exists rp_events, rp_orders, rp_items cascade" >/dev/null 2>&1
stop_pgperf
itest_summary

#!/usr/bin/env bash
# test_stats.sh -- statement statistics end to end: a known workload (4
# shapes x 5 literal variants x simple and extended protocol, in
# transaction mode) yields exactly 4 fingerprints with the right calls and
# rows in SHOW QUERIES, pgperf-ctl queries --json and /queries; /metrics
# parses as Prometheus text; RESET STATS empties; analysis = off stops
# counting.  Prints "N passed, N failed".
set -uo pipefail

. "${PGPERF_ITEST_ENV:?run through ctest}"
src="$(cd "$(dirname "$0")/../clients" && pwd)"
. "$(dirname "$0")/lib.sh"
itest_init stats 29000 "pool_mode = transaction
admin_users = app"
itest_http
start_pgperf "$dir/pgperf.log"

export PGPASSWORD=app-secret
url="host=127.0.0.1 port=$port user=app dbname=appdb"
admin="host=127.0.0.1 port=$port user=app dbname=pgperf"
ctl="$PGPERF_CTL -h 127.0.0.1 -p $port -U app"
py=/usr/bin/python3
export url admin ctl py src dir http_port port PGPERF_CTL

setup() {
	psql -X -q -v ON_ERROR_STOP=1 "$url" <<'SQL'
drop table if exists statt;
create table statt(a int primary key, b text);
insert into statt select g, 'x' from generate_series(1, 100) g;
SQL
	psql -X -q "$admin" -c "RESET STATS"
	[ "$(psql -X -At "$admin" -c "SHOW QUERIES" | wc -l)" = 0 ]
}
workload() {
	$py "$src/stats_workload.py" "postgresql://app:app-secret@127.0.0.1:$port/appdb?sslmode=disable"
}
show_queries() {
	local n
	psql -X "$admin" -c "SHOW QUERIES"
	n=$(psql -X -At "$admin" -c "SHOW QUERIES" | wc -l)
	[ "$n" = 4 ]
}
ctl_queries() {
	$ctl queries --json >"$dir/q.json" && $py "$src/check_stats.py" ctl "$dir/q.json"
}
ctl_sorted() {
	# --sort calls --limit 2: two rows; --sort p99: the largest p99 first
	$ctl queries --sort calls --limit 2 --json | $py -c 'import json,sys; r=json.load(sys.stdin); assert len(r) == 2, r' &&
		$ctl queries --sort p99 --json | $py -c 'import json,sys; r=[float(x["p99_ms"]) for x in json.load(sys.stdin)]; assert r == sorted(r, reverse=True), r' &&
		$ctl stats | tee "$dir/stats.txt" && grep -q "Statements: 40 calls" "$dir/stats.txt"
}
http_checks() {
	$py "$src/check_stats.py" http "http://127.0.0.1:$http_port"
}
show_stats() {
	# PgBouncer's columns; 40 statements, 40 transactions (autocommit)
	psql -X "$admin" -c "SHOW STATS" &&
		[ "$(psql -X -At -F' ' "$admin" -c "SHOW STATS" | awk '$1 == "appdb" {print $2, $3}')" = "40 40" ]
}
errors_by_client() {
	! psql -X -q "$url" -c "select 1/0" 2>/dev/null &&
		$py "$src/check_stats.py" errors "http://127.0.0.1:$http_port"
}
cacheable() {
	# a hot read-only query with the cache off: a cacheable_query finding
	for i in $(seq 150); do echo "select b from statt where a = $((i % 10 + 1));"; done |
		psql -X -q -o /dev/null "$url" &&
		$ctl findings --json | $py -c '
import json, sys
f = [x for x in json.load(sys.stdin)["findings"] if x["kind"] == "cacheable_query"]
assert any("statt" in x["tables"] and x["evidence"]["calls"] >= 150 for x in f), f
print(f[0]["suggestion"]["summary"])'
}
reset_empties() {
	psql -X -q "$admin" -c "RESET STATS" &&
		[ "$(psql -X -At "$admin" -c "SHOW QUERIES" | wc -l)" = 0 ]
}
queries_counted() {
	psql -X -At -F' ' "$admin" -c "SHOW STATS" | awk '$1 == "appdb" {print $3}'
}
analysis_off() {
	local q0 q1
	sed -i 's/^analysis = .*//' "$dir/pgperf.ini" && echo "analysis = off" >>"$dir/pgperf.ini" &&
		psql -X -q "$admin" -c "RELOAD" &&
		q0=$(queries_counted) &&
		psql -X -q "$url" -c "select 1" -c "select 2" &&
		q1=$(queries_counted) &&
		echo "SHOW STATS total_query_count: $q0 -> $q1" &&
		[ "$(psql -X -At "$admin" -c "SHOW QUERIES" | wc -l)" = 0 ] &&
		[ "$q1" = $((q0 + 2)) ]
}
bad_ctl() {
	# clear errors: nothing listening, and a wrong user
	! $PGPERF_CTL -h 127.0.0.1 -p 1 queries 2>"$dir/err1" &&
		grep -q "cannot reach the admin console" "$dir/err1" &&
		! PGPASSWORD=wrong $ctl queries 2>"$dir/err2" &&
		grep -q "refused the login" "$dir/err2"
}
export -f cacheable queries_counted setup workload show_queries ctl_queries ctl_sorted http_checks show_stats errors_by_client reset_empties analysis_off bad_ctl

check "setup and RESET STATS" setup
check "workload: 4 shapes x 5 values x simple and extended" workload
check "SHOW QUERIES: 4 fingerprints" show_queries
CHECK_SHOW_LAST=1 check "pgperf-ctl queries --json: calls, rows, percentiles" ctl_queries
check "pgperf-ctl queries --sort/--limit, pgperf-ctl stats" ctl_sorted
CHECK_SHOW_LAST=1 check "HTTP /queries, /metrics (Prometheus), /healthz" http_checks
check "SHOW STATS: 40 transactions, 40 queries" show_stats
CHECK_SHOW_LAST=1 check "an error: by SQLSTATE and by client" errors_by_client
CHECK_SHOW_LAST=1 check "cache off: a hot read-only query is a cacheable_query finding" cacheable
check "RESET STATS empties SHOW QUERIES" reset_empties
CHECK_SHOW_LAST=1 check "analysis = off (RELOAD): no fingerprints, SHOW STATS still counts" analysis_off
check "pgperf-ctl: clear errors" bad_ctl
stop_pgperf

# the same workload in session mode, where named statements are not renamed
sed -i 's/^pool_mode = transaction$/pool_mode = session/; s/^analysis = off$/analysis = on/' "$dir/pgperf.ini"
echo "http_auth_token = s3cret-token" >>"$dir/pgperf.ini"
start_pgperf "$dir/pgperf-session.log"
check "session mode: setup" setup
check "session mode: workload" workload
CHECK_SHOW_LAST=1 check "session mode: pgperf-ctl queries --json" ctl_queries
bearer_token() {
	local base="http://127.0.0.1:$http_port"
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/metrics")" = 401 ] &&
		[ "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer wrong' "$base/queries")" = 401 ] &&
		[ "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer s3cret-token' "$base/metrics")" = 200 ] &&
		[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/healthz")" = 200 ] &&
		! grep -q s3cret-token "$dir/pgperf-session.log"
}
export -f bearer_token
check "http_auth_token: 401 without the bearer token, 200 with it; /healthz open" bearer_token
stop_pgperf
itest_summary

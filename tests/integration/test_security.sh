#!/usr/bin/env bash
# test_security.sh -- what the security review (issue 18) asked to show:
#   - no secret (http_auth_token, the Redis password, a [databases]
#     password) is shown to a stats user or anyone else: SHOW CONFIG,
#     SHOW DATABASES, pgperf-ctl config, /report, /findings, the log;
#   - no literal value of a statement PostgreSQL's parser rejects reaches
#     SHOW QUERIES, /queries, /findings, /report or the state file.
# Prints "N passed, N failed".
set -uo pipefail

. "${PGPERF_ITEST_ENV:?run through ctest}"
. "$(dirname "$0")/lib.sh"
itest_init security 35000 "pool_mode = transaction
admin_users = app
stats_users = stats
http_auth_token = tok-SECRET-4711
cache_mode = rules
cache_rules = table:nothing=60
redis_url = redis//:redispw-SECRET@127.0.0.1:1/0"
printf '"stats" "stats-pw"\n' >>"$dir/users.txt"
# a database whose server password is in the config
sed -i "s|^appdb = .*|&\nsecretdb = host=127.0.0.1 port=$PG_PORT dbname=appdb user=app password=dbpw-SECRET|" "$dir/pgperf.ini"
echo "state_file = $dir/state.bin" >>"$dir/pgperf.ini"
itest_http
start_pgperf "$dir/pgperf.log"

export PGPASSWORD=app-secret
url="host=127.0.0.1 port=$port user=app dbname=appdb"
stats="host=127.0.0.1 port=$port user=stats password=stats-pw dbname=pgperf"
ctl="$PGPERF_CTL -h 127.0.0.1 -p $port -U stats"
export url stats ctl dir http_port port

secrets_hidden() {
	local out="$dir/shown.txt"
	: >"$out"
	psql -X -At "$stats" -c "SHOW CONFIG" >>"$out" || return 1
	psql -X -At "$stats" -c "SHOW DATABASES" >>"$out" || return 1
	PGPASSWORD=stats-pw $ctl config >>"$out" 2>&1 || return 1
	for p in report findings queries metrics; do
		curl -sf -H "Authorization: Bearer tok-SECRET-4711" "http://127.0.0.1:$http_port/$p" >>"$out" || return 1
	done
	grep -q "http_auth_token" "$out" || { echo "SHOW CONFIG lists no http_auth_token"; return 1; }
	if grep -n "SECRET" "$out" "$dir/pgperf.log"; then
		return 1
	fi
	echo "SHOW CONFIG, SHOW DATABASES, pgperf-ctl config, HTTP and the log: no secret"
}
literals_masked() {
	# statements the parser rejects, carrying personal data
	psql -X -q "$url" -c "selec name from people where email = 'jane.doe@example.com'" 2>/dev/null
	psql -X -q "$url" -c "select * frm people where ssn = '078-05-1120' and card = 4111111111111111" 2>/dev/null
	sleep 0.3
	local out="$dir/exports.txt"
	psql -X -At "host=127.0.0.1 port=$port user=app dbname=pgperf" -c "SHOW QUERIES" >"$out" || return 1
	for p in queries findings report; do
		curl -sf -H "Authorization: Bearer tok-SECRET-4711" "http://127.0.0.1:$http_port/$p" >>"$out" || return 1
	done
	grep -q "selec name from people" "$out" || { echo "the statement is not listed at all"; return 1; }
	if grep -n "jane.doe\|078-05-1120\|4111111111111111" "$out"; then
		return 1
	fi
	grep "selec name from people" "$out" | head -1
}
state_file_masked() {
	# the state file is written at exit: checked after stop_pgperf
	[ -f "$dir/state.bin" ] || { echo "no state file"; return 1; }
	if grep -a -c "jane.doe\|078-05-1120\|4111111111111111" "$dir/state.bin"; then
		return 1
	fi
	echo "state file: no literal of a rejected statement"
}
export -f secrets_hidden literals_masked state_file_masked
CHECK_SHOW_LAST=1 check "no secret shown to a stats user, over HTTP or in the log" secrets_hidden
CHECK_SHOW_LAST=1 check "a statement the parser rejects is listed without its literals" literals_masked
stop_pgperf
CHECK_SHOW_LAST=1 check "the state file keeps no literal of it either" state_file_masked
itest_summary

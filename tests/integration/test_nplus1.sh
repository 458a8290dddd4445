#!/usr/bin/env bash
# test_nplus1.sh -- N+1 detection end to end through pgperf (transaction
# mode), with real ORMs on Debian's python3-sqlalchemy and python3-django
# (psycopg2: the simple protocol, values inlined) and a plain libpq program
# (the extended protocol, text and binary parameters).  Each workload runs
# once without and once with sqlcommenter tags; the lazy-loading endpoints
# must be flagged with the right relation and fix, the eager-loading ones
# (selectinload, prefetch_related, select_related) must not.  Prints the
# findings, then "N passed, N failed".
set -uo pipefail

. "${PGPERF_ITEST_ENV:?run through ctest}"
src="$(cd "$(dirname "$0")/../clients" && pwd)"
. "$(dirname "$0")/lib.sh"
itest_init nplus1 30000 "pool_mode = transaction
admin_users = app"
itest_http
start_pgperf "$dir/pgperf.log"

export PGPASSWORD=app-secret
admin="host=127.0.0.1 port=$port user=app dbname=pgperf"
ctl="$PGPERF_CTL -h 127.0.0.1 -p $port -U app"
sa_url="postgresql+psycopg2://app:app-secret@127.0.0.1:$port/appdb?sslmode=disable"
libpq="host=127.0.0.1 port=$port user=app dbname=appdb sslmode=disable"
libpq_bin="$(dirname "$PGPERF_BIN")/tests/nplus1_libpq"
py=/usr/bin/python3
export admin ctl sa_url libpq libpq_bin py src dir port http_port PGPERF_CTL

reset() { psql -X -q "$admin" -c "RESET STATS"; }
# findings of the requests just made (they end after request_idle_gap_ms)
findings() { # name
	sleep 0.4 && $ctl findings --json >"$dir/$1.json" && $ctl findings >"$dir/$1.txt"
}
setup() {
	$py "$src/nplus1_sqlalchemy.py" "$sa_url" setup &&
		$py "$src/nplus1_django.py" 127.0.0.1 "$port" setup
}
sqlalchemy() { # [--sqlcommenter]
	local name=sqlalchemy${1:+-tagged}
	reset && $py "$src/nplus1_sqlalchemy.py" "$sa_url" run ${1:-} &&
		findings "$name" &&
		$py "$src/check_findings.py" sqlalchemy "$dir/$name.json" ${1:+--routes}
}
sqlalchemy_routes() {
	$ctl requests --json >"$dir/requests-sa.json" &&
		$py "$src/check_findings.py" requests "$dir/requests-sa.json" /orders/lazy=3 /orders/eager=0
}
django() { # [--sqlcommenter]
	local name=django${1:+-tagged}
	reset && $py "$src/nplus1_django.py" 127.0.0.1 "$port" run ${1:-} &&
		findings "$name" &&
		$py "$src/check_findings.py" django "$dir/$name.json" ${1:+--routes}
}
django_routes() {
	$ctl requests --json >"$dir/requests-dj.json" &&
		$py "$src/check_findings.py" requests "$dir/requests-dj.json" \
			/orders/items=3 /orders/customers=3 /orders/prefetch=0 /orders/select_related=0
}
libpq_run() { # text|binary
	reset && "$libpq_bin" "$libpq" "$1" 3 &&
		findings "libpq-$1" &&
		$py "$src/check_findings.py" libpq "$dir/libpq-$1.json"
}
outputs_agree() {
	# SHOW FINDINGS, pgperf-ctl and HTTP /findings list the same findings
	local a b c
	a=$(psql -X -At "$admin" -c "SHOW FINDINGS" | wc -l)
	b=$($py -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["findings"]))' "$dir/libpq-binary.json")
	c=$(curl -sf "http://127.0.0.1:$http_port/findings" | $py -c 'import json,sys; print(len(json.load(sys.stdin)["findings"]))')
	echo "SHOW FINDINGS $a, pgperf-ctl $b, /findings $c"
	[ "$a" -ge 1 ] && [ "$a" = "$b" ] && [ "$b" = "$c" ] &&
		curl -sf "http://127.0.0.1:$http_port/metrics" >"$dir/metrics.txt" &&
		grep -q '^pgperf_findings{kind="n_plus_one",severity="high"} 1$' "$dir/metrics.txt" &&
		grep -q '^pgperf_request_nplus1_total{route="(untagged)"} 3$' "$dir/metrics.txt"
}
threshold() {
	# nplus1_min_repeats above the burst (12 children): nothing flagged
	echo "nplus1_min_repeats = 13" >>"$dir/pgperf.ini" &&
		psql -X -q "$admin" -c "RELOAD" && reset &&
		"$libpq_bin" "$libpq" text 2 && sleep 0.4 &&
		[ "$($ctl findings --json | $py -c 'import json,sys; print(sum(f["kind"] == "n_plus_one" for f in json.load(sys.stdin)["findings"]))')" = 0 ]
}
export -f reset findings setup sqlalchemy sqlalchemy_routes django django_routes libpq_run outputs_agree threshold

check "setup: SQLAlchemy and Django schemas" setup
CHECK_SHOW_LAST=1 check "SQLAlchemy lazy loading flagged, selectinload not" sqlalchemy
CHECK_SHOW_LAST=1 check "SQLAlchemy with sqlcommenter: flagged per route" sqlalchemy --sqlcommenter
CHECK_SHOW_LAST=1 check "SHOW REQUESTS: N+1 requests per route (SQLAlchemy)" sqlalchemy_routes
CHECK_SHOW_LAST=1 check "Django lazy FK and reverse FK flagged, prefetch/select_related not" django
CHECK_SHOW_LAST=1 check "Django with sqlcommenter: flagged per route" django --sqlcommenter
CHECK_SHOW_LAST=1 check "SHOW REQUESTS: N+1 requests per route (Django)" django_routes
CHECK_SHOW_LAST=1 check "libpq extended protocol, text parameters" libpq_run text
CHECK_SHOW_LAST=1 check "libpq extended protocol, binary parameters and results" libpq_run binary
CHECK_SHOW_LAST=1 check "SHOW FINDINGS, pgperf-ctl findings, /findings and /metrics agree" outputs_agree
check "nplus1_min_repeats (RELOAD) raises the threshold" threshold
for f in sqlalchemy-tagged django-tagged libpq-binary; do
	echo "---- pgperf-ctl findings after $f"
	cat "$dir/$f.txt" 2>/dev/null
done
stop_pgperf
itest_summary

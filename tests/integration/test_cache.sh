#!/usr/bin/env bash
# test_cache.sh -- the Redis result cache end to end: a real Redis
# (started here, on loopback, stopped by its PID) shared by two pgperf
# instances in front of the fixture's PostgreSQL.  Cached reads hit; a
# write through either instance is seen at once through both; read your
# writes inside a transaction; a rolled-back write changes nothing;
# volatile functions run every time; sessions with different TimeZone
# get different entries; Redis killed under load gives zero client errors
# and hits resume when it is back.  Prints "N passed, N failed".
set -uo pipefail

. "${PGPERF_ITEST_ENV:?run through ctest}"
src="$(cd "$(dirname "$0")/../clients" && pwd)"
. "$(dirname "$0")/lib.sh"
command -v redis-server >/dev/null || { echo "redis-server is not installed"; exit 1; }
rport=$((26400 + $$ % 500))
while (exec 3<>"/dev/tcp/127.0.0.1/$rport") 2>/dev/null; do rport=$((rport + 1)); done
itest_init cache 21000 "pool_mode = transaction
admin_users = app
redis_url = redis://127.0.0.1:$rport/0
cache_mode = rules
cache_rules = table:cache_t=60
redis_timeout_ms = 100"
itest_http
start_redis() {
	redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no \
		--daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
	for _ in $(seq 50); do
		redis-cli -p "$rport" ping >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}
stop_redis() {
	[ -f "$dir/redis.pid" ] && kill "$(cat "$dir/redis.pid")" 2>/dev/null
	for _ in $(seq 50); do
		redis-cli -p "$rport" ping >/dev/null 2>&1 || return 0
		sleep 0.1
	done
}
start_redis
# a second pgperf sharing the Redis
port_a=$port
start_pgperf "$dir/pgperf-a.log"
pid_a=$pid
port_b=$((port_a + 7))
while (exec 3<>"/dev/tcp/127.0.0.1/$port_b") 2>/dev/null; do port_b=$((port_b + 1)); done
# B caches by itself (cache_mode = auto), A by its rule
sed -e "s/^listen_port = .*/listen_port = $port_b/" -e "/^http_listen_port/d" \
	-e "s/^cache_mode = .*/cache_mode = auto/" -e "/^cache_rules/d" "$dir/pgperf.ini" >"$dir/pgperf-b.ini"
echo "cache_auto_min_calls = 3" >>"$dir/pgperf-b.ini"
"$PGPERF_BIN" "$dir/pgperf-b.ini" >"$dir/pgperf-b.log" 2>&1 &
pid_b=$!
trap 'kill -INT $pid_a $pid_b 2>/dev/null; stop_redis' EXIT
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port_b") 2>/dev/null && break; sleep 0.05; done

export PGPASSWORD=app-secret
ua="host=127.0.0.1 port=$port_a user=app dbname=appdb"
ub="host=127.0.0.1 port=$port_b user=app dbname=appdb"
admin_a="host=127.0.0.1 port=$port_a user=app dbname=pgperf"
admin_b="host=127.0.0.1 port=$port_b user=app dbname=pgperf"
py=/usr/bin/python3
export ua ub admin_a admin_b py src dir rport port_a port_b http_port

# N reads of one key in one session; prints the distinct answers
reads() { # url n k
	for _ in $(seq "$2"); do echo "select v from cache_t where k = $3;"; done |
		psql -X -At "$1" | sort -u | tr '\n' ' '
}
hits() { psql -X -At -F' ' "$admin_a" -c "SHOW CACHE" | awk '$1 == "total" {print $2}'; }
setup() {
	psql -X -q -v ON_ERROR_STOP=1 "$ua" <<'SQL'
drop table if exists cache_t;
create table cache_t(k int primary key, v text, ts timestamptz default '2026-01-01 12:00:00+00');
insert into cache_t(k, v) select g, 'v' || g from generate_series(1, 10) g;
SQL
	# once, so that the analyzer knows the shapes
	reads "$ua" 2 1 >/dev/null && reads "$ub" 2 1 >/dev/null && sleep 0.5
}
hit() {
	local h0 h1 got
	h0=$(hits)
	got=$(reads "$ua" 6 2)
	h1=$(hits)
	echo "answers: $got; hits $h0 -> $h1"
	[ "$got" = "v2 " ] && [ "$h1" -ge $((h0 + 4)) ] &&
		# and counted for the rule that chose them
		[ "$(psql -X -At -F' ' "$admin_a" -c "SHOW CACHE" | awk '$1 == "rule" && $2 == "table:cache_t=60" {print $3}')" -ge 4 ]
}
write_seen() { # the writer's instance, the other
	reads "$ua" 3 3 >/dev/null && reads "$ub" 3 3 >/dev/null &&
		psql -X -q "$ua" -c "update cache_t set v = 'new3' where k = 3" &&
		[ "$(reads "$ua" 2 3)" = "new3 " ] && [ "$(reads "$ub" 2 3)" = "new3 " ] &&
		psql -X -q "$ub" -c "update cache_t set v = 'v3' where k = 3" &&
		[ "$(reads "$ua" 2 3)" = "v3 " ] && [ "$(reads "$ub" 2 3)" = "v3 " ]
}
insert_delete() {
	local q="select count(*) from cache_t where k > 0"
	for _ in 1 2 3; do echo "$q;"; done | psql -X -At "$ua" >/dev/null &&
		psql -X -q "$ub" -c "insert into cache_t(k, v) values (11, 'v11')" &&
		[ "$(psql -X -At "$ua" -c "$q")" = 11 ] &&
		psql -X -q "$ua" -c "delete from cache_t where k = 11" &&
		[ "$(psql -X -At "$ub" -c "$q")" = 10 ] && [ "$(psql -X -At "$ua" -c "$q")" = 10 ]
}
in_transaction() {
	reads "$ua" 3 4 >/dev/null &&
		[ "$(psql -X -q -At "$ua" <<'SQL'
begin;
update cache_t set v = 'mine' where k = 4;
select v from cache_t where k = 4;
commit;
SQL
)" = "mine" ] && [ "$(reads "$ub" 2 4)" = "mine " ] &&
		psql -X -q "$ua" -c "update cache_t set v = 'v4' where k = 4"
}
rolled_back() {
	reads "$ua" 3 5 >/dev/null &&
		psql -X -q "$ua" -c "begin" -c "update cache_t set v = 'gone' where k = 5" -c "rollback" &&
		[ "$(reads "$ua" 2 5)" = "v5 " ] && [ "$(reads "$ub" 2 5)" = "v5 " ]
}
volatile() {
	local n
	n=$(for _ in $(seq 6); do echo "select random() from cache_t where k = 1;"; done |
		psql -X -At "$ua" | sort -u | wc -l)
	echo "distinct random() values: $n of 6"
	[ "$n" = 6 ]
}
timezone() {
	local utc tokyo
	utc=$(printf 'set timezone = %s;\nselect ts from cache_t where k = 6;\nselect ts from cache_t where k = 6;\nselect ts from cache_t where k = 6;\n' "'UTC'" | psql -X -q -At "$ua" | sort -u | tr '\n' ' ')
	tokyo=$(printf 'set timezone = %s;\nselect ts from cache_t where k = 6;\nselect ts from cache_t where k = 6;\nselect ts from cache_t where k = 6;\n' "'Asia/Tokyo'" | psql -X -q -At "$ua" | sort -u | tr '\n' ' ')
	echo "UTC: $utc Tokyo: $tokyo"
	[ "$utc" = "2026-01-01 12:00:00+00 " ] && [ "$tokyo" = "2026-01-01 21:00:00+09 " ]
}
redis_killed() {
	local h0 h1
	$py "$src/cache_load.py" "postgresql://app:app-secret@127.0.0.1:$port_a/appdb?sslmode=disable" 3000 >"$dir/load.out" 2>&1 &
	local lp=$!
	sleep 0.5
	stop_redis
	sleep 1
	start_redis
	wait $lp || { cat "$dir/load.out"; return 1; }
	cat "$dir/load.out"
	sleep 1.5 # the breaker probes again after a second
	h0=$(hits)
	reads "$ua" 4 7 >/dev/null
	reads "$ua" 4 7 >/dev/null
	h1=$(hits)
	echo "after Redis came back: hits $h0 -> $h1"
	[ "$h1" -gt "$h0" ] && grep -q "unusable" "$dir/pgperf-a.log"
}
extended() {
	local h0 h1
	h0=$(hits)
	$py "$src/cache_extended.py" "host=127.0.0.1 port=$port_a user=app dbname=appdb password=app-secret" \
		"host=127.0.0.1 port=$port_b user=app dbname=appdb password=app-secret" || return 1
	h1=$(hits)
	echo "hits $h0 -> $h1"
	[ "$h1" -ge $((h0 + 6)) ]
}
redis_stalled() {
	# Redis stops answering without closing its connections (SIGSTOP):
	# reads and writes go on, each waiting at most redis_timeout_ms once
	local rp t0 t1 got
	rp=$(cat "$dir/redis.pid")
	kill -STOP "$rp" || return 1
	t0=$(date +%s%N)
	got=$(reads "$ua" 5 2)
	psql -X -q "$ua" -c "update cache_t set v = 'v2' where k = 2" || { kill -CONT "$rp"; return 1; }
	t1=$(date +%s%N)
	kill -CONT "$rp"
	echo "with Redis stopped: answers $got in $(((t1 - t0) / 1000000)) ms"
	[ "$got" = "v2 " ] && [ $(((t1 - t0) / 1000000)) -lt 5000 ]
}
auto_mode() {
	# B has no rule: a hot, repeating read gets cached; reads that never
	# repeat (no hit potential) do not
	local h0 h1 h2
	hb() { psql -X -At -F' ' "$admin_b" -c "SHOW CACHE" | awk '$1 == "total" {print $2}'; }
	reads "$ub" 2 9 >/dev/null && sleep 0.3 && h0=$(hb) &&
		reads "$ub" 10 9 >/dev/null && h1=$(hb) &&
		for i in $(seq 10); do echo "select k from cache_t where v = 'v$i';"; done | psql -X -q -At "$ub" >/dev/null &&
		for i in $(seq 10); do echo "select k from cache_t where v = 'v$i';"; done | psql -X -q -At "$ub" >/dev/null &&
		h2=$(hb) && echo "auto: hits $h0 -> $h1 (repeating), -> $h2 (never repeating within 8)" &&
		[ "$h1" -ge $((h0 + 5)) ] && [ "$h2" = "$h1" ]
}
auto_writes() {
	# B has no rule: a read repeated, but with its table written between
	# every two runs, has no hit potential: it is not cached, so it is
	# not even looked up (no misses, no fills: no wasted Redis work)
	local m0 m1
	mb() { psql -X -At -F' ' "$admin_b" -c "SHOW CACHE" | awk '$1 == "total" {print $3}'; }
	m0=$(mb)
	for _ in $(seq 12); do
		echo "select v, k from cache_t where k = 8;"
		echo "update cache_t set v = v where k = 8;"
	done | psql -X -q -At "$ub" >/dev/null || return 1
	m1=$(mb)
	echo "auto: misses $m0 -> $m1 for a read whose table is written between repeats"
	[ "$m1" = "$m0" ]
}
metrics() {
	# the cache's counters in /metrics agree with SHOW CACHE
	curl -sf "http://127.0.0.1:$http_port/metrics" >"$dir/metrics.txt" &&
		grep -q '^pgperf_cache_redis_up 1$' "$dir/metrics.txt" &&
		[ "$(awk '$1 == "pgperf_cache_hits_total" {print $2}' "$dir/metrics.txt")" = "$(hits)" ]
}
export -f redis_stalled auto_mode auto_writes extended metrics reads hits setup hit write_seen insert_delete in_transaction rolled_back volatile timezone redis_killed start_redis stop_redis
export rport dir
check "setup" setup
CHECK_SHOW_LAST=1 check "a cached read hits, same answer" hit
check "UPDATE through either instance: seen at once through both" write_seen
check "INSERT and DELETE through the other instance: seen at once" insert_delete
check "read your writes inside a transaction" in_transaction
check "a rolled-back write changes nothing" rolled_back
CHECK_SHOW_LAST=1 check "volatile functions run every time" volatile
CHECK_SHOW_LAST=1 check "different TimeZone, different entries" timezone
CHECK_SHOW_LAST=1 check "Redis killed and restarted under load: no client error, hits resume" redis_killed
CHECK_SHOW_LAST=1 check "extended protocol, text and binary: hits, right after a write" extended
check "/metrics: the cache's counters" metrics
CHECK_SHOW_LAST=1 check "cache_mode = auto: hot repeating reads cached, non-repeating not" auto_mode
CHECK_SHOW_LAST=1 check "cache_mode = auto: repeats with a write between them are no hit potential" auto_writes
CHECK_SHOW_LAST=1 check "Redis stalled (SIGSTOP): answers from PostgreSQL, no error, no hang" redis_stalled
psql -X "$admin_a" -c "SHOW CACHE"
kill -INT "$pid_b"
wait "$pid_b"
trap 'stop_redis' EXIT
pid=$pid_a
stop_pgperf
stop_redis
trap - EXIT
itest_summary

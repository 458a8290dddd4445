#!/usr/bin/env bash
# test_cache_truth.sh -- the result cache never serves a row it should not.
# A real Redis (started here, on loopback, stopped by its PID) and two
# pgperf instances sharing it, in transaction mode with table rules:
#   - analysis switched off (and on again) by RELOAD, and a second
#     instance with analysis = off: writes are still invalidated;
#   - a row-level-security policy on a setting given as a startup option:
#     each tenant gets its own rows; a setting spelled in another case
#     (Search_Path) is a setting all the same;
#   - two [databases] names for one database invalidate each other;
#   - Redis refusing writes (maxmemory 1, noeviction) during an UPDATE: no
#     stale read, and hits come back once Redis takes writes again.
# Prints "N passed, N failed".
set -uo pipefail

. "${PGPERF_ITEST_ENV:?run through ctest}"
. "$(dirname "$0")/lib.sh"
command -v redis-server >/dev/null || { echo "redis-server is not installed"; exit 1; }
rport=$((27400 + $$ % 500))
while (exec 3<>"/dev/tcp/127.0.0.1/$rport") 2>/dev/null; do rport=$((rport + 1)); done
itest_init truth 23000 "pool_mode = transaction
admin_users = app
redis_url = redis://127.0.0.1:$rport/0
cache_mode = rules
cache_rules = table:kv=300,table:tenant_t=300,table:st=300
redis_timeout_ms = 200"
# a second name for the same database
sed -i "s|^appdb = .*|&\nappdb2 = host=127.0.0.1 port=$PG_PORT dbname=appdb|" "$dir/pgperf.ini"
redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no \
	--daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
for _ in $(seq 50); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.1; done
stop_redis() { [ -f "$dir/redis.pid" ] && kill "$(cat "$dir/redis.pid")" 2>/dev/null; }
start_pgperf "$dir/pgperf-a.log"
pid_a=$pid
port_a=$port
# B: the same rules, analysis off
port_b=$((port_a + 7))
while (exec 3<>"/dev/tcp/127.0.0.1/$port_b") 2>/dev/null; do port_b=$((port_b + 1)); done
sed -e "s/^listen_port = .*/listen_port = $port_b/" "$dir/pgperf.ini" >"$dir/pgperf-b.ini"
echo "analysis = off" >>"$dir/pgperf-b.ini"
"$PGPERF_BIN" "$dir/pgperf-b.ini" >"$dir/pgperf-b.log" 2>&1 &
pid_b=$!
trap 'kill -INT $pid_a $pid_b 2>/dev/null; stop_redis' EXIT
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port_b") 2>/dev/null && break; sleep 0.05; done

export PGPASSWORD=app-secret
ua="host=127.0.0.1 port=$port_a user=app dbname=appdb"
ua2="host=127.0.0.1 port=$port_a user=app dbname=appdb2"
ub="host=127.0.0.1 port=$port_b user=app dbname=appdb"
admin_a="host=127.0.0.1 port=$port_a user=app dbname=pgperf"
export ua ua2 ub admin_a dir rport port_a

# N reads in one session; prints the distinct answers
reads() { # url n sql
	for _ in $(seq "$2"); do echo "$3;"; done | psql -X -At "$1" | sort -u | tr '\n' ' '
}
hits() { psql -X -At -F' ' "$admin_a" -c "SHOW CACHE" | awk '$1 == "total" {print $2}'; }
kv() { reads "$1" "$2" "select v from kv where k = 1"; }

setup() {
	psql -X -q -v ON_ERROR_STOP=1 "$ua" <<'SQL'
drop table if exists kv, tenant_t;
drop schema if exists sa cascade;
drop schema if exists sb cascade;
create table kv(k int primary key, v text);
insert into kv values (1, 'old');
create table tenant_t(tenant int, v text);
insert into tenant_t values (1, 'one-a'), (1, 'one-b'), (2, 'two-a');
alter table tenant_t enable row level security;
alter table tenant_t force row level security;
create policy by_tenant on tenant_t
	using (tenant = current_setting('app.tenant_id')::int);
create schema sa;
create schema sb;
create table sa.st(v text);
create table sb.st(v text);
insert into sa.st values ('schema a');
insert into sb.st values ('schema b');
SQL
	# the analyzer learns the shapes
	kv "$ua" 2 >/dev/null && kv "$ub" 2 >/dev/null && sleep 0.5
}

# a cached value, a write through `writer`, then the reader must see it
write_then_read() { # reader writer value
	local h0 h1 got
	kv "$1" 3 >/dev/null
	h0=$(hits)
	kv "$1" 3 >/dev/null
	h1=$(hits)
	psql -X -q "$2" -c "update kv set v = '$3' where k = 1" || return 1
	got=$(kv "$1" 2)
	echo "hits before the write: $h0 -> $h1; read after it: $got"
	[ "$got" = "$3 " ]
}
reload_analysis_off() {
	local ok=0
	write_then_read "$ua" "$ua" a1 || ok=1
	echo "analysis = off" >>"$dir/pgperf.ini"
	psql -X -q "$admin_a" -c "RELOAD" || return 1
	write_then_read "$ua" "$ua" a2 || ok=1
	sed -i '/^analysis = off$/d' "$dir/pgperf.ini"
	psql -X -q "$admin_a" -c "RELOAD" || return 1
	write_then_read "$ua" "$ua" a3 || ok=1
	return $ok
}
other_instance_analysis_off() {
	write_then_read "$ua" "$ub" b1 && write_then_read "$ub" "$ua" b2
}
tenant() {
	local one two
	one=$(PGOPTIONS='-c app.tenant_id=1' reads "$ua" 6 "select v from tenant_t order by v")
	two=$(PGOPTIONS='-c app.tenant_id=2' reads "$ua" 6 "select v from tenant_t order by v")
	echo "tenant 1: $one; tenant 2: $two"
	[ "$one" = "one-a one-b " ] && [ "$two" = "two-a " ]
}
setting_case() {
	local a b
	a=$(PGOPTIONS='-c Search_Path=sa' reads "$ua" 6 "select v from st")
	b=$(PGOPTIONS='-c SEARCH_PATH=sb' reads "$ua" 6 "select v from st")
	echo "Search_Path=sa: $a; SEARCH_PATH=sb: $b"
	[ "$a" = "schema a " ] && [ "$b" = "schema b " ]
}
aliases() {
	write_then_read "$ua" "$ua2" c1 && write_then_read "$ua2" "$ua" c2
}
redis_refuses_writes() {
	local h0 h1 got
	kv "$ua" 3 >/dev/null
	redis-cli -p "$rport" config set maxmemory-policy noeviction >/dev/null &&
		redis-cli -p "$rport" config set maxmemory 1 >/dev/null || return 1
	psql -X -q "$ua" -c "update kv set v = 'oom' where k = 1" || return 1
	got=$(kv "$ua" 3)
	redis-cli -p "$rport" config set maxmemory 0 >/dev/null
	echo "read while Redis refused the invalidation: $got"
	[ "$got" = "oom " ] || return 1
	# once Redis takes writes again the database is served again
	sleep 2.5
	kv "$ua" 2 >/dev/null
	h0=$(hits)
	got=$(kv "$ua" 3)
	h1=$(hits)
	echo "after: $got, hits $h0 -> $h1"
	[ "$got" = "oom " ] && [ "$h1" -gt "$h0" ]
}
export -f reads hits kv setup write_then_read reload_analysis_off other_instance_analysis_off tenant setting_case aliases redis_refuses_writes
check "setup" setup
CHECK_SHOW_LAST=1 check "analysis off and on again by RELOAD: every write invalidated" reload_analysis_off
CHECK_SHOW_LAST=1 check "a second instance with analysis = off: writes seen both ways" other_instance_analysis_off
CHECK_SHOW_LAST=1 check "row-level security on a startup setting: each tenant its own rows" tenant
CHECK_SHOW_LAST=1 check "a setting spelled in another case is keyed all the same" setting_case
CHECK_SHOW_LAST=1 check "two [databases] names for one database invalidate each other" aliases
CHECK_SHOW_LAST=1 check "Redis refusing writes (OOM): no stale read, hits come back" redis_refuses_writes
psql -X "$admin_a" -c "SHOW CACHE" | head -5
kill -INT "$pid_b"
wait "$pid_b"
trap 'stop_redis' EXIT
pid=$pid_a
stop_pgperf
stop_redis
trap - EXIT
itest_summary

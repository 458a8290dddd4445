#!/usr/bin/env bash
# cache.sh -- a hot read query answered from a cache: direct PostgreSQL,
# pgpool-II with its in-memory query cache, and pgperf with the Redis
# cache, in one run, interleaved round by round.  The query is an
# aggregate over 300,000 rows (milliseconds directly), with one of ten
# values, at 16 clients; simple and extended protocol.  Also: a statement
# that is not cached, through pgperf with the cache on and off, and the
# latency a hit adds over one Redis round trip.  Prints figures and
# ratios; never fails a test run.
#
#   bench/cache.sh [SECONDS_PER_RUN] [ROUNDS] [CLIENTS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-10}
rounds=${2:-2}
clients=${3:-16}
"$root/scripts/deps.sh" bench
for p in redis-server pgpool2; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		{ echo "cache.sh: needs $p (scripts/deps.sh bench installs it)" >&2; exit 1; }
done
build=$("$root/scripts/build.sh" Release)

work=$(mktemp -d /tmp/pgperf-cache.XXXXXX)
chmod 755 "$work"
free_port() { local p=$1; while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done; echo "$p"; }
pgport=$(free_port 26800)
"$root/scripts/throwaway-pg.sh" start "$work/pg" "$pgport"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
	[ -f "$work/pgpool.pid" ] && kill -INT "$(tr -d '\0' <"$work/pgpool.pid")" 2>/dev/null || true
	[ -f "$work/redis.pid" ] && kill "$(cat "$work/redis.pid")" 2>/dev/null || true
	sleep 0.5
	"$root/scripts/throwaway-pg.sh" stop "$work/pg"
	rm -rf "$work"
}
trap cleanup EXIT
# the bench role logs in without a password over loopback, so that
# pgpool-II needs no password file of its own
hba="$work/pg/data/pg_hba.conf"
{ echo "host all bench 127.0.0.1/32 trust"; cat "$hba"; } >"$hba.new" && mv "$hba.new" "$hba"
[ "$(id -u)" = 0 ] && chown postgres: "$hba"
"$root/scripts/throwaway-pg.sh" psql "$work/pg" \
	-c "create role bench login password 'bench-secret'" -c "create database bench owner bench" \
	-c "select pg_reload_conf()" >/dev/null
psql -X -q "host=127.0.0.1 port=$pgport user=bench dbname=bench" <<'SQL'
create table hot(id serial primary key, grp int, x int);
insert into hot(grp, x) select g % 10, g % 1000 from generate_series(1, 300000) g;
analyze hot;
create table cold(id int primary key, x int);
insert into cold select g, g from generate_series(1, 10000) g;
SQL

# Redis and pgperf
rport=$(free_port 26900)
redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no \
	--daemonize yes --pidfile "$work/redis.pid" --logfile "$work/redis.log"
printf '"bench" "bench-secret"\n' >"$work/users.txt"
chmod 600 "$work/users.txt"
start_pgperf() { # port cache_mode
	cat >"$work/pgperf-$2.ini" <<INI
[databases]
bench = host=127.0.0.1 port=$pgport dbname=bench
[pgperf]
listen_port = $1
auth_file = users.txt
pool_mode = transaction
default_pool_size = 20
min_pool_size = 0
server_tls_sslmode = disable
log_level = warning
max_client_conn = 1000
admin_users = bench
redis_url = redis://127.0.0.1:$rport/0
cache_mode = $2
cache_rules = table:hot=600
INI
	[ "$2" = off ] && sed -i '/^redis_url\|^cache_rules/d' "$work/pgperf-$2.ini"
	setsid "$build/pgperf" "$work/pgperf-$2.ini" >"$work/pgperf-$2.log" 2>&1 &
	pids+=("$!")
}
xport=$(free_port 27000)
start_pgperf "$xport" rules
oport=$(free_port 27100)
start_pgperf "$oport" off

# pgpool-II with its shared-memory query cache
gport=$(free_port 27200)
mkdir -p "$work/oiddir"
touch "$work/pcp.conf"
cat >"$work/pgpool.conf" <<CONF
backend_clustering_mode = 'raw'
listen_addresses = '127.0.0.1'
port = $gport
unix_socket_directories = '$work'
pcp_listen_addresses = ''
pcp_socket_dir = '$work'
backend_hostname0 = '127.0.0.1'
backend_port0 = $pgport
backend_weight0 = 1
backend_flag0 = 'DISALLOW_TO_FAILOVER'
num_init_children = 32
max_pool = 2
connection_cache = on
load_balance_mode = off
health_check_period = 0
sr_check_period = 0
enable_pool_hba = off
failover_on_backend_error = off
memory_cache_enabled = on
memqcache_method = 'shmem'
memqcache_total_size = 64MB
memqcache_max_num_cache = 100000
memqcache_expire = 600
memqcache_oiddir = '$work/oiddir'
pid_file_name = '$work/pgpool.pid'
logdir = '$work'
CONF
pgpool -n -f "$work/pgpool.conf" -F "$work/pcp.conf" >"$work/pgpool.log" 2>&1 &
pids+=("$!")
for _ in $(seq 100); do
	(exec 3<>"/dev/tcp/127.0.0.1/$gport") 2>/dev/null && (exec 3<>"/dev/tcp/127.0.0.1/$xport") 2>/dev/null && break
	sleep 0.1
done
sleep 1

cat >"$work/hot.sql" <<'SQL'
\set g random(0, 9)
select count(*), avg(x) from hot where grp = :g;
SQL
cat >"$work/cold.sql" <<'SQL'
\set i random(1, 10000)
select x from cold where id = :i;
SQL
export PGPASSWORD=bench-secret
run() { # port mode script -> tps
	pgbench -n -M "$2" -c "$clients" -j 2 -T "$secs" -f "$3" \
		"host=127.0.0.1 port=$1 user=bench dbname=bench sslmode=disable" 2>&1 |
		awk '/^tps =/ {t=$3} END {printf "%.0f\n", t+0}'
}
# warm the caches (each of the ten values once, plus the shapes)
for port in "$xport" "$gport"; do
	for i in 1 2 3; do pgbench -n -M simple -c 2 -T 2 -f "$work/hot.sql" \
		"host=127.0.0.1 port=$port user=bench dbname=bench sslmode=disable" >/dev/null 2>&1 || true; done
done

printf '\n%-9s | %9s %9s %9s | %8s %8s %8s\n' mode direct pgpool pgperf "pool/dir" "pgp/dir" "pgp/pool"
for mode in simple extended; do
	d=0 g=0 x=0
	for _ in $(seq "$rounds"); do
		d=$((d + $(run "$pgport" "$mode" "$work/hot.sql")))
		g=$((g + $(run "$gport" "$mode" "$work/hot.sql")))
		x=$((x + $(run "$xport" "$mode" "$work/hot.sql")))
	done
	awk -v m="$mode" -v d="$d" -v g="$g" -v x="$x" -v r="$rounds" 'BEGIN {
		d /= r; g /= r; x /= r
		printf "%-9s | %9.0f %9.0f %9.0f | %8.1f %8.1f %8.2f\n", m, d, g, x,
			(d ? g/d : 0), (d ? x/d : 0), (g ? x/g : 0) }'
done

# statements that are not cached: cache on vs off
on=0 off=0
for _ in $(seq "$rounds"); do
	on=$((on + $(run "$xport" simple "$work/cold.sql")))
	off=$((off + $(run "$oport" simple "$work/cold.sql")))
done
awk -v a="$on" -v b="$off" 'BEGIN { printf "\nnot cached (primary-key reads of another table), simple: cache on %.0f tps, off %.0f tps: %.3f\n", a, b, (b ? a/b : 0) }'

# one client: a hit's latency against a Redis round trip
hit=$(pgbench -n -M simple -c 1 -T "$secs" -f "$work/hot.sql" \
	"host=127.0.0.1 port=$xport user=bench dbname=bench sslmode=disable" 2>&1 | awk '/^latency average/ {print $4}')
# one Redis round trip from one client, as redis-benchmark measures it
rps=$(redis-benchmark -p "$rport" -t ping -n 20000 -c 1 -q 2>/dev/null | tr '\r' '\n' |
	awk '/PING_INLINE/ {for (i = 1; i <= NF; i++) if ($i ~ /^[0-9.]+$/) {print $i; exit}}')
nohit=$(pgbench -n -M simple -c 1 -T "$secs" -f "$work/cold.sql" \
	"host=127.0.0.1 port=$oport user=bench dbname=bench sslmode=disable" 2>&1 | awk '/^latency average/ {print $4}')
awk -v h="$hit" -v r="$rps" -v n="$nohit" 'BEGIN {
	rtt = (r ? 1000 / r : 0)
	printf "one client: a hit takes %.3f ms through pgperf; a primary-key read through pgperf without the cache %.3f ms; one Redis round trip (redis-benchmark PING, 1 client) %.3f ms; hit - (pk read + round trip) = %+.0f us\n", h, n, rtt, (h - n - rtt) * 1000 }'
psql -X "host=127.0.0.1 port=$xport user=bench dbname=pgperf" -c "SHOW CACHE" 2>/dev/null | head -6 || true
printf '\ntps: mean of %s round(s) of %s s at %s clients; pgperf and pgpool-II both in front of the same PostgreSQL\n' "$rounds" "$secs" "$clients"

#!/usr/bin/env bash
# fleet.sh -- one pgperf process against two sharing a port (so_reuseport,
# [peers]) and against PgBouncer: pgbench -S through each, interleaved
# round by round, on one throwaway PostgreSQL reached over its unix socket,
# all in transaction mode with 20 server connections in total (the pair:
# 10 each), with PostgreSQL reached directly (over TCP) for reference.
# Per run: tps, p99, p99.9 and max latency and the count of transactions
# over 100 ms (of those that ended in the run's last SECONDS), and the
# proxies' CPU microseconds per transaction (all processes and threads,
# from /proc/PID/task/*/schedstat).  Benchmarks print figures; they never
# fail a test run.  On a 2-core machine PostgreSQL and pgbench take most of the
# CPU, so a second process shows mostly what it costs, not what it gains:
# the "cache" workload therefore has the proxy do the work -- a hot
# aggregate (one of ten groups of a 300,000-row table) that the Redis
# result cache answers (cache_rules = table:hot=600), so PostgreSQL is
# barely asked -- and shows how tps grows from one process to two.  Both
# pgperf set-ups share the Redis, so the fleet is on (its records every
# stats_period cost nothing measurable).
#
#   bench/fleet.sh [SECONDS] [ROUNDS] [CLIENT_COUNTS] [WORKLOADS]
#   bench/fleet.sh 5 3 "64 256" "select cache"     (the defaults)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-5}
rounds=${2:-3}
clients=${3:-"64 256"}
workloads=${4:-"select cache"}
"$root/scripts/deps.sh" bench
build=$("$root/scripts/build.sh" Release)

work=$(mktemp -d /tmp/pgperf-fleet.XXXXXX)
chmod 755 "$work"
free_port() { local p=$1; while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done; echo "$p"; }
pgport=$(free_port 26600)
# room for 256 clients straight to PostgreSQL beside the proxies' pools
PG_MAX_CONNECTIONS=400 "$root/scripts/throwaway-pg.sh" start "$work/pg" "$pgport"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
	[ -f "$work/redis.pid" ] && kill "$(cat "$work/redis.pid")" 2>/dev/null || true
	sleep 0.5
	"$root/scripts/throwaway-pg.sh" stop "$work/pg"
	rm -rf "$work"
}
trap cleanup EXIT
"$root/scripts/throwaway-pg.sh" psql "$work/pg" \
	-c "create role bench login password 'bench-secret'" -c "create database bench owner bench"
sock="$work/pg"
export PGPASSWORD=bench-secret
pgbench -i -q -s 10 "host=$sock port=$pgport user=bench dbname=bench" >/dev/null 2>&1
psql -X -q "host=$sock port=$pgport user=bench dbname=bench" <<'SQL'
create table hot(id serial primary key, grp int, x int);
insert into hot(grp, x) select g % 10, g % 1000 from generate_series(1, 300000) g;
analyze hot;
SQL
printf '\\set g random(0, 9)\nselect sum(x) from hot where grp = :g;\n' >"$work/cache.sql"
rport=$(free_port 26650)
redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no \
	--daemonize yes --pidfile "$work/redis.pid" --logfile "$work/redis.log"
for _ in $(seq 50); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.1; done

# PgBouncer (as the postgres user when root: it refuses to run as root)
bport=$(free_port 26700)
mkdir -p "$work/bouncer"
printf '"bench" "bench-secret"\n' >"$work/bouncer/users.txt"
chmod 600 "$work/bouncer/users.txt"
cat >"$work/bouncer/pgbouncer.ini" <<INI
[databases]
bench = host=$sock port=$pgport dbname=bench
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $bport
auth_type = scram-sha-256
auth_file = $work/bouncer/users.txt
pool_mode = transaction
default_pool_size = 20
max_client_conn = 2000
logfile = $work/bouncer/pgbouncer.log
pidfile = $work/bouncer/pgbouncer.pid
unix_socket_dir =
INI
as_bouncer=()
if [ "$(id -u)" = 0 ]; then
	chown -R postgres: "$work/bouncer"
	as_bouncer=(runuser -u postgres --)
fi
setsid "${as_bouncer[@]}" pgbouncer "$work/bouncer/pgbouncer.ini" >/dev/null 2>&1 &
for _ in $(seq 50); do [ -s "$work/bouncer/pgbouncer.pid" ] && break; sleep 0.1; done
bpid=$(cat "$work/bouncer/pgbouncer.pid")
pids+=("$bpid")

printf '"bench" "bench-secret"\n' >"$work/users.txt"
chmod 600 "$work/users.txt"
base() { # port pool_size
	cat <<INI
[databases]
bench = host=$sock port=$pgport dbname=bench
[pgperf]
listen_port = $1
auth_file = $work/users.txt
pool_mode = transaction
default_pool_size = $2
min_pool_size = 0
server_tls_sslmode = disable
log_level = warning
max_client_conn = 2000
redis_url = redis://127.0.0.1:$rport/0
cache_mode = rules
cache_rules = table:hot=600
INI
}
start() { # config -> pid
	setsid "$build/pgperf" "$1" >"$1.log" 2>&1 &
	echo $!
}
# one process
oport=$(free_port 26800)
base "$oport" 20 >"$work/one.ini"
one=$(start "$work/one.ini")
pids+=("$one")
# two processes on one port
tport=$(free_port 26900)
pair=()
for n in 1 2; do
	mkdir -p "$work/s$n"
	{
		base "$tport" 10
		printf 'so_reuseport = 1\npeer_id = %d\nunix_socket_dir = %s\n' "$n" "$work/s$n"
		printf '[peers]\n1 = host=%s port=%d\n2 = host=%s port=%d\n' "$work/s1" "$tport" "$work/s2" "$tport"
	} >"$work/pair$n.ini"
	p=$(start "$work/pair$n.ini")
	pair+=("$p")
	pids+=("$p")
done
for port in "$oport" "$tport"; do
	for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
done

cpu_ns() { # pids...: nanoseconds on CPU, all threads of all
	local p
	for p in "$@"; do cat /proc/"$p"/task/*/schedstat 2>/dev/null; done |
		awk '{s += $1} END {printf "%.0f\n", s}'
}
run() { # port clients pids... -> "tps p99 p99.9 max slow cpu_us" ($workload)
	local port=$1 c=$2 out c0 c1 all what=(-S)
	shift 2
	[ "$workload" = cache ] && what=(-f "$work/cache.sql")
	rm -f "$work"/lat.*
	c0=$(cpu_ns "$@")
	out=$(cd "$work" && pgbench -n "${what[@]}" -c "$c" -j 2 -T "$((secs + ${extra:-0}))" -l --log-prefix=lat \
		"host=127.0.0.1 port=$port user=bench dbname=bench sslmode=disable" 2>&1) || true
	c1=$(cpu_ns "$@")
	all=$(cat "$work"/lat.* 2>/dev/null | wc -l)
	# latencies of the transactions that ended in the last $secs seconds
	# (column 5 and 6: when each ended), so that a longer run (direct's)
	# is judged over a window as long as the others'
	cat "$work"/lat.* 2>/dev/null |
		awk -v secs="$secs" '{ t[NR] = $5 + $6 / 1e6; l[NR] = $3; if (t[NR] > m) m = t[NR] }
			END { for (i = 1; i <= NR; i++) if (t[i] > m - secs) print l[i] }' |
		sort -n | awk -v out="$out" -v cpu=$((c1 - c0)) -v all="$all" '
		{ v[NR] = $1; if ($1 > 100000) slow++ }
		END {
			n = NR; tps = 0
			split(out, lines, "\n")
			for (i in lines) if (lines[i] ~ /^tps =/) { split(lines[i], f, " "); tps = f[3] }
			if (!n) { print "0 0 0 0 0 0"; exit }
			printf "%.0f %.3f %.3f %.3f %d %.2f\n", tps, v[int(n*0.99+0.999)]/1000,
				v[int(n*0.999+0.999)]/1000, v[n]/1000, slow + 0, cpu/1000/all }'
}

printf 'transaction mode, 20 server connections in all; %s s per run, %s rounds\n' "$secs" "$rounds"
printf '%-6s %4s %5s %-12s | %7s %8s %8s %8s %5s | %7s\n' load c round set-up tps p99_ms p99.9_ms max_ms slow cpu_us
results="$work/results"
: >"$results"
for workload in $workloads; do
for c in $clients; do
	run "$bport" "$c" "$bpid" >/dev/null # warm-up
	run "$oport" "$c" "$one" >/dev/null
	run "$tport" "$c" "${pair[@]}" >/dev/null
	for r in $(seq "$rounds"); do
		# the order turns each round: no set-up always runs first
		case $((r % 4)) in
		1) order="pgbouncer pgperf pgperf-x2 direct" ;;
		2) order="pgperf pgperf-x2 direct pgbouncer" ;;
		3) order="pgperf-x2 direct pgbouncer pgperf" ;;
		0) order="direct pgbouncer pgperf pgperf-x2" ;;
		esac
		for who in $order; do
			case $who in
			pgbouncer) line=$(run "$bport" "$c" "$bpid") ;;
			pgperf) line=$(run "$oport" "$c" "$one") ;;
			pgperf-x2) line=$(run "$tport" "$c" "${pair[@]}") ;;
			direct)
				# a backend and a SCRAM exchange per client take
				# about 5 s for 256 of them, inside -T (tps leaves
				# that time out): room for it; the tails count the
				# last $secs s only, as long as the others' runs
				line=$(extra=10 run "$pgport" "$c") ;;
			esac
			echo "$workload/$c $r $who $line" >>"$results"
			read -r tps p99 p999 mx slow cpu <<<"$line"
			[ "$who" = direct ] && cpu=- # no proxy
			printf '%-6s %4s %5s %-12s | %7s %8s %8s %8s %5s | %7s\n' "$workload" "$c" "$r" "$who" \
				"$tps" "$p99" "$p999" "$mx" "$slow" "$cpu"
		done
	done
done
done
printf '\nPer load (tps, cpu: median of rounds; ratio: to PgBouncer; /direct: to PostgreSQL without a proxy;\n'
printf 'x2/x1: two pgperf processes to one; p99.9 and max: worst round; slow: transactions over 100 ms, all rounds)\n'
printf '%-11s %-12s | %7s %6s %7s %6s | %8s %8s %5s | %7s\n' load/c set-up tps ratio /direct x2/x1 p99.9_ms max_ms slow cpu_us
awk '
function median(s,   a, n, i, j, t) {
	n = split(s, a, " ")
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{
	k = $1; w = $3; ks[k] = 1
	tps[k, w] = tps[k, w] " " $4; cpu[k, w] = cpu[k, w] " " $9
	if ($6 > p999[k, w]) p999[k, w] = $6
	if ($7 > mx[k, w]) mx[k, w] = $7
	slow[k, w] += $8
}
END {
	split("pgbouncer pgperf pgperf-x2 direct", who, " ")
	for (k in ks) {
		b = median(tps[k, "pgbouncer"]); d = median(tps[k, "direct"]); one = median(tps[k, "pgperf"])
		for (i = 1; i <= 4; i++) {
			w = who[i]; t = median(tps[k, w])
			printf "%-11s %-12s | %7.0f %6.3f %7.3f %6s | %8.3f %8.3f %5d | %7s\n", k, w, t,
				b ? t / b : 0, d ? t / d : 0,
				w == "pgperf-x2" && one ? sprintf("%.2f", t / one) : "",
				p999[k, w], mx[k, w], slow[k, w],
				w == "direct" ? "-" : sprintf("%.2f", median(cpu[k, w]))
		}
	}
}' "$results" | sort -k1,1 -s

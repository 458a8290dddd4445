#!/usr/bin/env bash
# analysis.sh -- what statement statistics cost, and whether their
# percentiles are right.  One throwaway PostgreSQL, two pgperf instances
# (analysis = on and off, transaction mode, pool of 20), pgbench -S
# alternating between them round by round (on, off, on, off, ...) so that
# drift hits both alike.  Prints tps per round, the on/off ratio, each
# instance's CPU per 1,000 queries, and pgperf's p50/p95/p99 for the
# SELECT against the same percentiles of pgbench's own per-transaction
# log.  Benchmarks print figures; they never fail a test run.
#
#   bench/analysis.sh [SECONDS_PER_RUN] [CLIENTS] [ROUNDS] [MODE]
#   bench/analysis.sh 10 64 3 simple
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-10}
clients=${2:-64}
rounds=${3:-3}
mode=${4:-simple}
"$root/scripts/deps.sh" bench
build=$("$root/scripts/build.sh" Release)

work=$(mktemp -d /tmp/pgperf-analysis.XXXXXX)
chmod 755 "$work"
free_port() { local p=$1; while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done; echo "$p"; }
pgport=$(free_port 26500)
"$root/scripts/throwaway-pg.sh" start "$work/pg" "$pgport"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
	sleep 0.5
	"$root/scripts/throwaway-pg.sh" stop "$work/pg"
	rm -rf "$work"
}
trap cleanup EXIT
"$root/scripts/throwaway-pg.sh" psql "$work/pg" \
	-c "create role bench login password 'bench-secret'" -c "create database bench owner bench"
printf '"bench" "bench-secret"\n' >"$work/users.txt"
chmod 600 "$work/users.txt"

start() { # name analysis -> port
	local p
	p=$(free_port "$1")
	cat >"$work/pgperf-$2.ini" <<INI
[databases]
bench = host=127.0.0.1 port=$pgport dbname=bench
[pgperf]
listen_port = $p
auth_file = users.txt
admin_users = bench
pool_mode = transaction
default_pool_size = 20
min_pool_size = 0
server_tls_sslmode = disable
log_level = warning
max_client_conn = 1000
analysis = $2
INI
	setsid "$build/pgperf" "$work/pgperf-$2.ini" >"$work/pgperf-$2.log" 2>&1 &
	echo "$p $!"
}
# start runs in a subshell: the pids are recorded here, for cleanup
read -r on_port on_pid < <(start 26600 on)
read -r off_port off_pid < <(start 26700 off)
pids+=("$on_pid" "$off_pid")
sleep 0.5

export PGPASSWORD=bench-secret
pgbench -i -q -s 10 "host=127.0.0.1 port=$pgport user=bench dbname=bench" >/dev/null 2>&1
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
admin_on="host=127.0.0.1 port=$on_port user=bench dbname=pgperf"

run() { # port log-prefix -> "tps transactions"
	local out
	out=$(cd "$work" && pgbench -n -S -M "$mode" -c "$clients" -j 2 -T "$secs" ${2:+-l --log-prefix="$2"} \
		"host=127.0.0.1 port=$1 user=bench dbname=bench sslmode=disable" 2>&1) || true
	awk '/^tps =/ {tps=$3} /number of transactions actually processed/ {split($0,a,": "); n=a[2]}
	     END {printf "%s %s\n", tps+0, n+0}' <<<"$out"
}

# warm up both: server connections, the analyzer's shapes
run "$on_port" "" >/dev/null
run "$off_port" "" >/dev/null
printf '\n%5s | %9s %9s | %6s | %8s %8s\n' round "on_tps" "off_tps" "on/off" "on_cpu" "off_cpu"
son=0 soff=0
for r in $(seq "$rounds"); do
	psql -X -q "$admin_on" -c "RESET STATS"
	rm -f "$work"/plog*
	c0=$(cpu_ticks "$on_pid")
	read -r ton non < <(run "$on_port" plog)
	c1=$(cpu_ticks "$on_pid")
	d0=$(cpu_ticks "$off_pid")
	read -r toff noff < <(run "$off_port" "")
	d1=$(cpu_ticks "$off_pid")
	awk -v r="$r" -v a="$ton" -v b="$toff" -v ca=$((c1 - c0)) -v cb=$((d1 - d0)) -v na="$non" -v nb="$noff" -v hz="$hz" \
		'BEGIN { printf "%5d | %9.0f %9.0f | %6.3f | %8.2f %8.2f\n", r, a, b, (b ? a/b : 0),
			(na ? ca*1000/hz*1000/na : 0), (nb ? cb*1000/hz*1000/nb : 0) }'
	son=$(awk -v s="$son" -v a="$ton" 'BEGIN {print s + a}')
	soff=$(awk -v s="$soff" -v a="$toff" 'BEGIN {print s + a}')
done
awk -v a="$son" -v b="$soff" -v r="$rounds" 'BEGIN { printf "mean  | %9.0f %9.0f | %6.3f |   (analysis on / off; target >= 0.95)\n", a/r, b/r, (b ? a/b : 0) }'

# percentiles of the last "on" round: pgbench's log (microseconds, third
# field) against what pgperf reports for the SELECT
printf '\nlatency of pgbench -S through pgperf, last round (ms):\n'
cat "$work"/plog* | awk '{print $3}' | sort -n | awk '{v[NR]=$1} END {
	n = NR; if (!n) exit
	printf "  pgbench (client side): p50 %.3f  p95 %.3f  p99 %.3f  (%d transactions)\n",
		v[int(n*0.50+0.999)]/1000, v[int(n*0.95+0.999)]/1000, v[int(n*0.99+0.999)]/1000, n }'
psql -X -At -F'|' "$admin_on" -c "SHOW QUERIES" | awk -F'|' '$2 ~ /pgbench_accounts/ {
	printf "  pgperf (proxy side):   p50 %s  p95 %s  p99 %s  (%s calls; plus %.3f ms mean wait for a server)\n",
		$8, $9, $10, $3, ($3 ? $13 / $3 : 0) }'
printf '\npgperf measures from the request reaching it to the reply leaving it;\npgbench adds its own side of loopback and scheduling, so it reads higher.\n'

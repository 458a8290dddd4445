#!/usr/bin/env bash
# compare.sh -- pgbench against direct PostgreSQL, PgBouncer and pgperf in
# one run, on one throwaway PostgreSQL, interleaved round by round (direct,
# PgBouncer, pgperf; direct, PgBouncer, pgperf; ...) so that drift on a
# shared machine hits all three alike.  Prints, per workload, protocol mode
# and client count: transactions per second (mean of the rounds), ratios,
# average latency, the latency each proxy adds over direct, and each
# proxy's CPU milliseconds per 1,000 queries (from /proc).  Benchmarks print
# figures; they never fail a test run.
#
#   bench/compare.sh [SECONDS_PER_RUN] [CLIENT_COUNTS] [MODES] [SCALE] [POOL_MODE] [ROUNDS]
#   bench/compare.sh 10 "1 16 64 256" "simple extended prepared" 10 transaction 2
#
# POOL_MODE session (default): both proxies get a pool larger than the
# client count, so they relay rather than queue.  POOL_MODE transaction:
# both get a pool of 20, the point of transaction pooling.  Read the
# ratios, not the absolute numbers, and repeat a run before believing a
# small difference.  A PgBouncer cell of 0 tps means every transaction
# failed (PgBouncer 1.18 cannot run -M prepared in transaction mode).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-10}
clients=${2:-"1 16 64"}
modes=${3:-"simple extended prepared"}
scale=${4:-10}
pool_mode=${5:-session}
rounds=${6:-1}
pool_size=100
[ "$pool_mode" = transaction ] && pool_size=20
"$root/scripts/deps.sh" bench
build=$("$root/scripts/build.sh" Release)

work=$(mktemp -d /tmp/pgperf-bench.XXXXXX)
chmod 755 "$work"
free_port() { local p=$1; while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done; echo "$p"; }
# ports below the ephemeral range (32768+)
pgport=$(free_port 26100)
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

# PgBouncer (it refuses to run as root)
bport=$(free_port 26200)
mkdir -p "$work/bouncer"
printf '"bench" "bench-secret"\n' >"$work/users.txt"
chmod 600 "$work/users.txt"
cat >"$work/pgbouncer.ini" <<INI
[databases]
bench = host=127.0.0.1 port=$pgport dbname=bench
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $bport
auth_type = scram-sha-256
auth_file = $work/users.txt
pool_mode = $pool_mode
default_pool_size = $pool_size
max_client_conn = 1000
logfile = $work/bouncer/pgbouncer.log
pidfile = $work/bouncer/pgbouncer.pid
unix_socket_dir =
INI
if [ "$(id -u)" = 0 ]; then
	cp "$work/users.txt" "$work/bouncer/users.txt"
	sed -i "s|auth_file = .*|auth_file = $work/bouncer/users.txt|" "$work/pgbouncer.ini"
	cp "$work/pgbouncer.ini" "$work/bouncer/"
	chown -R postgres: "$work/bouncer"
	runuser -u postgres -- pgbouncer -d "$work/bouncer/pgbouncer.ini"
else
	cp "$work/pgbouncer.ini" "$work/bouncer/"
	pgbouncer -d "$work/bouncer/pgbouncer.ini"
fi
for _ in $(seq 50); do [ -s "$work/bouncer/pgbouncer.pid" ] && break; sleep 0.1; done
bpid=$(cat "$work/bouncer/pgbouncer.pid")
pids+=("$bpid")

# pgperf
xport=$(free_port 26300)
cat >"$work/pgperf.ini" <<INI
[databases]
bench = host=127.0.0.1 port=$pgport dbname=bench
[pgperf]
listen_port = $xport
auth_file = users.txt
pool_mode = $pool_mode
default_pool_size = $pool_size
min_pool_size = 0
server_tls_sslmode = disable
log_level = warning
max_client_conn = 1000
INI
setsid "$build/pgperf" "$work/pgperf.ini" &
xpid=$!
pids+=("$xpid")
sleep 0.5

export PGPASSWORD=bench-secret
pgbench -i -q -s "$scale" "host=127.0.0.1 port=$pgport user=bench dbname=bench" >/dev/null 2>&1

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

run() { # port mode clients script-flag -> "tps latency_ms transactions"
	local out
	out=$(pgbench -n -M "$2" -c "$3" -j "$(( $3 < 2 ? 1 : 2 ))" -T "$secs" $4 \
		"host=127.0.0.1 port=$1 user=bench dbname=bench sslmode=disable" 2>&1) || true
	awk '/^tps =/ {tps=$3} /^latency average/ {lat=$4} /number of transactions actually processed/ {split($0,a,": "); n=a[2]}
	     END {printf "%s %s %s\n", tps+0, lat+0, n+0}' <<<"$out"
}

printf '\n%-12s %-9s %4s | %9s %9s %9s | %7s %7s %7s | %8s %8s %8s | %7s %7s | %8s %8s\n' \
	workload mode c "direct" "pgbouncer" "pgperf" "bnc/dir" "pgp/dir" "pgp/bnc" \
	"lat_dir" "lat_bnc" "lat_pgp" "+us_bnc" "+us_pgp" "bnc_cpu" "pgp_cpu"
for workload in select-only tpcb-like; do
	flag=""
	per_txn=7 # BEGIN, 3 UPDATEs, SELECT, INSERT, END
	[ "$workload" = select-only ] && flag="-S" && per_txn=1
	for mode in $modes; do
		for c in $clients; do
			sums="0 0 0 0 0 0 0 0 0 0"
			for _ in $(seq "$rounds"); do
				read -r dt dl _ < <(run "$pgport" "$mode" "$c" "$flag")
				b0=$(cpu_ticks "$bpid")
				read -r bt bl bn < <(run "$bport" "$mode" "$c" "$flag")
				b1=$(cpu_ticks "$bpid")
				x0=$(cpu_ticks "$xpid")
				read -r xt xl xn < <(run "$xport" "$mode" "$c" "$flag")
				x1=$(cpu_ticks "$xpid")
				sums=$(awk -v s="$sums" -v r="$dt $bt $xt $dl $bl $xl $((b1 - b0)) $((x1 - x0)) $bn $xn" \
					'BEGIN { n = split(s, a); split(r, b); for (i = 1; i <= n; i++) printf "%s ", a[i] + b[i] }')
			done
			awk -v w="$workload" -v m="$mode" -v c="$c" -v s="$sums" -v r="$rounds" \
				-v hz="$hz" -v q="$per_txn" 'BEGIN {
				split(s, a); dt = a[1]/r; bt = a[2]/r; xt = a[3]/r
				dl = a[4]/r; bl = a[5]/r; xl = a[6]/r
				bq = a[9] * q; xq = a[10] * q
				printf "%-12s %-9s %4d | %9.0f %9.0f %9.0f | %7.2f %7.2f %7.2f | %8.3f %8.3f %8.3f | %7.0f %7.0f | %8.2f %8.2f\n",
					w, m, c, dt, bt, xt, (dt ? bt/dt : 0), (dt ? xt/dt : 0), (bt ? xt/bt : 0),
					dl, bl, xl, (bl - dl) * 1000, (xl - dl) * 1000,
					(bq ? a[7]*1000/hz*1000/bq : 0), (xq ? a[8]*1000/hz*1000/xq : 0) }'
		done
	done
done
printf '\ntps: mean of %s round(s) of %s s; lat_* = average latency in ms; +us_* = latency added over direct, in microseconds (meaningful at 1 client); *_cpu = proxy CPU ms per 1,000 queries; scale %s, %s pooling, pool %s\n' "$rounds" "$secs" "$scale" "$pool_mode" "$pool_size"

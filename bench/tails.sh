#!/usr/bin/env bash
# tails.sh -- pgperf against PgBouncer, tails and not only means: pgbench
# with per-transaction logs (-l) through each proxy, interleaved round by
# round on one throwaway PostgreSQL reached over its unix socket, both
# proxies in transaction mode with a pool of 20.  Per run it prints tps,
# p50, p99, p99.9 and max latency, the count of transactions over 100 ms,
# and the proxy's CPU microseconds per transaction (all its threads, from
# /proc/PID/task/*/schedstat).  A third run per round repeats pgperf while
# /metrics and /findings are scraped every 100 ms, to show what monitoring
# costs the clients.  pgperf runs with analysis on (the default).
# Benchmarks print figures; they never fail a test run.
#
#   bench/tails.sh [SECONDS] [ROUNDS] [CLIENT_COUNTS] [MODES]
#   bench/tails.sh 5 5 "16 64" "simple extended"        (the defaults)
#
# Each proxy runs in a session of its own (setsid), as a service would
# under systemd or with --daemon.  SAME_SESSION=1 instead starts both in
# the session of the load generator, which with the kernel's autogroup
# scheduling (CONFIG_SCHED_AUTOGROUP, on in most distributions) makes
# pgbench and the proxy one scheduling group: PostgreSQL's backends then
# starve behind it on one CPU for 0.1-1.5 s at a time, whichever proxy it
# is (see docs/performance.md).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-5}
rounds=${2:-5}
clients=${3:-"16 64"}
modes=${4:-"simple extended"}
same_session=${SAME_SESSION:-0}
scrape=${SCRAPE:-1}
"$root/scripts/deps.sh" bench
build=$("$root/scripts/build.sh" Release)

work=$(mktemp -d /tmp/pgperf-tails.XXXXXX)
chmod 755 "$work"
free_port() { local p=$1; while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done; echo "$p"; }
pgport=$(free_port 26800)
"$root/scripts/throwaway-pg.sh" start "$work/pg" "$pgport"
pids=()
scraper=""
cleanup() {
	[ -z "$scraper" ] || kill "$scraper" 2>/dev/null || true
	kill -TERM "${bpid:-}" 2>/dev/null || true
	for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
	sleep 0.5
	"$root/scripts/throwaway-pg.sh" stop "$work/pg"
	rm -rf "$work"
}
trap cleanup EXIT
"$root/scripts/throwaway-pg.sh" psql "$work/pg" \
	-c "create role bench login password 'bench-secret'" -c "create database bench owner bench"
sock="$work/pg"
new_session=setsid
[ "$same_session" = 1 ] && new_session=""

# PgBouncer: as the postgres user when root (it refuses to run as root)
bport=$(free_port 26900)
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
max_client_conn = 1000
logfile = $work/bouncer/pgbouncer.log
pidfile = $work/bouncer/pgbouncer.pid
unix_socket_dir =
INI
as_bouncer=()
if [ "$(id -u)" = 0 ]; then
	chown -R postgres: "$work/bouncer"
	as_bouncer=(runuser -u postgres --)
fi
# no -d: pgbouncer's own daemonizing would give it a session whatever
# SAME_SESSION says
$new_session "${as_bouncer[@]}" pgbouncer "$work/bouncer/pgbouncer.ini" >/dev/null 2>&1 &
for _ in $(seq 50); do [ -s "$work/bouncer/pgbouncer.pid" ] && break; sleep 0.1; done
bpid=$(cat "$work/bouncer/pgbouncer.pid")
pids+=("$bpid")

# pgperf
xport=$(free_port 27000)
hport=$(free_port 27050)
printf '"bench" "bench-secret"\n' >"$work/users.txt"
chmod 600 "$work/users.txt"
cat >"$work/pgperf.ini" <<INI
[databases]
bench = host=$sock port=$pgport dbname=bench
[pgperf]
listen_port = $xport
auth_file = users.txt
pool_mode = transaction
default_pool_size = 20
server_tls_sslmode = disable
log_level = warning
max_client_conn = 1000
http_listen_port = $hport
analysis = on
INI
$new_session "$build/pgperf" "$work/pgperf.ini" >"$work/pgperf.log" 2>&1 &
pgpid=$!
pids+=("$pgpid")
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$xport") 2>/dev/null && break; sleep 0.1; done
xpid=$(pgrep -f -n "$build/pgperf $work/pgperf.ini" || echo "$pgpid")
[ "$xpid" = "$pgpid" ] || pids+=("$xpid")

export PGPASSWORD=bench-secret
pgbench -i -q -s 10 "host=$sock port=$pgport user=bench dbname=bench" >/dev/null 2>&1

# nanoseconds on CPU, all threads
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%.0f\n", s}'; }

run() { # port mode clients pid -> "tps p50 p99 p999 max over100 cpu_us_per_txn" (latency in ms)
	local out c0 c1
	rm -f "$work"/lat.*
	c0=$(cpu_ns "$4")
	out=$(cd "$work" && pgbench -n -S -M "$2" -c "$3" -j 2 -T "$secs" -l --log-prefix=lat \
		"host=127.0.0.1 port=$1 user=bench dbname=bench sslmode=disable" 2>&1) || true
	c1=$(cpu_ns "$4")
	cat "$work"/lat.* 2>/dev/null | awk '{print $3}' | sort -n | awk -v out="$out" -v cpu=$((c1 - c0)) '
		{ v[NR] = $1; if ($1 > 100000) slow++ }
		END {
			n = NR; tps = 0
			split(out, lines, "\n")
			for (i in lines) if (lines[i] ~ /^tps =/) { split(lines[i], f, " "); tps = f[3] }
			if (!n) { print "0 0 0 0 0 0 0"; exit }
			printf "%.0f %.3f %.3f %.3f %.3f %d %.2f\n", tps, v[int(n*0.50+0.999)]/1000,
				v[int(n*0.99+0.999)]/1000, v[int(n*0.999+0.999)]/1000, v[n]/1000, slow + 0, cpu/1000/n }'
}

scrape_start() {
	# one keep-alive connection, as Prometheus scrapes: spawning curl
	# twice every 100 ms would itself take CPU from the run on 2 cores
	python3 - "$hport" "$((secs + 5))" <<'PY' &
import http.client, sys, time
port, secs = int(sys.argv[1]), float(sys.argv[2])
end = time.time() + secs
c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
while time.time() < end:
    for path in ("/metrics", "/findings"):
        c.request("GET", path)
        r = c.getresponse()
        r.read()
    time.sleep(0.1)
PY
	scraper=$!
}
scrape_stop() {
	kill "$scraper" 2>/dev/null || true
	wait "$scraper" 2>/dev/null || true
	scraper=""
}

printf 'PostgreSQL over its unix socket; transaction mode, pool 20; %s s per run, %s rounds; proxies in %s\n' \
	"$secs" "$rounds" "$([ "$same_session" = 1 ] && echo "pgbench's session" || echo "sessions of their own")"
printf '%-8s %3s %5s %-13s | %7s %7s %7s %8s %8s %5s | %7s\n' mode c round proxy tps p50_ms p99_ms p99.9_ms max_ms "slow" "cpu_us"
results="$work/results"
: >"$results"
for mode in $modes; do
	for c in $clients; do
		# warm-up: server connections, the analyzer's shapes
		run "$bport" "$mode" "$c" "$bpid" >/dev/null
		run "$xport" "$mode" "$c" "$xpid" >/dev/null
		for r in $(seq "$rounds"); do
			order="pgbouncer pgperf"
			[ $((r % 2)) = 0 ] && order="pgperf pgbouncer"
			[ "$scrape" = 1 ] && order="$order pgperf+scrape"
			for who in $order; do
				case $who in
				pgbouncer) line=$(run "$bport" "$mode" "$c" "$bpid") ;;
				pgperf) line=$(run "$xport" "$mode" "$c" "$xpid") ;;
				pgperf+scrape)
					scrape_start
					line=$(run "$xport" "$mode" "$c" "$xpid")
					scrape_stop
					;;
				esac
				echo "$mode $c $r $who $line" >>"$results"
				read -r tps p50 p99 p999 mx slow cpu <<<"$line"
				printf '%-8s %3s %5s %-13s | %7s %7s %7s %8s %8s %5s | %7s\n' "$mode" "$c" "$r" "$who" \
					"$tps" "$p50" "$p99" "$p999" "$mx" "$slow" "$cpu"
			done
		done
	done
done

printf '\nSummary per workload (tps and cpu: median of rounds; p99.9 and max: worst round; slow: transactions over 100 ms, all rounds)\n'
printf '%-8s %3s | %8s %8s %6s | %9s %9s | %8s %8s | %5s %5s | %7s %7s | %7s\n' mode c \
	bnc_tps pgp_tps ratio bnc_p99.9 pgp_p99.9 bnc_max pgp_max bslow pslow bnc_cpu pgp_cpu scrape%
awk '
function median(s,   a, n, i, j, t) {
	if (s == "") return ""
	n = split(s, a, " ")
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{
	k = $1 " " $2; keys[k] = 1; w = $4
	tps[k, w] = tps[k, w] " " $5
	if ($8 > p999[k, w]) p999[k, w] = $8
	if ($9 > mx[k, w]) mx[k, w] = $9
	slow[k, w] += $10
	cpu[k, w] = cpu[k, w] " " $11
}
END {
	for (k in keys) {
		split(k, kk, " ")
		b = median(tps[k, "pgbouncer"]); x = median(tps[k, "pgperf"]); s = median(tps[k, "pgperf+scrape"])
		printf "%-8s %3s | %8.0f %8.0f %6.3f | %9.3f %9.3f | %8.2f %8.2f | %5d %5d | %7.2f %7.2f | %7s\n",
			kk[1], kk[2], b, x, (b ? x / b : 0), p999[k, "pgbouncer"], p999[k, "pgperf"],
			mx[k, "pgbouncer"], mx[k, "pgperf"], slow[k, "pgbouncer"], slow[k, "pgperf"],
			median(cpu[k, "pgbouncer"]), median(cpu[k, "pgperf"]),
			(s != "" && x ? sprintf("%+.1f", (s - x) * 100 / x) : "-")
	}
}' "$results" | sort
printf '\ntargets (issue 16): ratio >= 1.05; pgp_p99.9 <= 1.5 x bnc_p99.9; pslow = 0 and pgp_max <= 50 ms where bnc_max <= 10 ms;\n'
printf 'pgp_cpu <= bnc_cpu (microseconds of proxy CPU per transaction); |scrape%%| <= 5 (tps change while /metrics and /findings are read every 100 ms)\n'

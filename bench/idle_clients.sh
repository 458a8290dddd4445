#!/usr/bin/env bash
# idle_clients.sh -- memory per idle client.  Opens N client connections
# through pgperf in transaction mode (pool of 20: idle clients hold no
# server connection), each running one query, then leaves them idle and
# reads pgperf's RSS and descriptors from /proc before and after.
# Prints bytes per idle client.  Never part of the tests.
#   bench/idle_clients.sh [N]   default 10000
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-10000}
"$root/scripts/deps.sh" test
build=$("$root/scripts/build.sh" Release)
work=$(mktemp -d /tmp/pgperf-idle.XXXXXX)
chmod 755 "$work"
free_port() { local p=$1; while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done; echo "$p"; }
pgport=$(free_port 27300)
xport=$(free_port 27400)
"$root/scripts/throwaway-pg.sh" start "$work/pg" "$pgport"
trap '{ [ -z "${xpid:-}" ] || kill -INT "$xpid" 2>/dev/null; }; sleep 0.5; "$root/scripts/throwaway-pg.sh" stop "$work/pg"; rm -rf "$work"' EXIT
"$root/scripts/throwaway-pg.sh" psql "$work/pg" \
	-c "create role idle login password 'idle-secret'" -c "create database idle owner idle"
printf '"idle" "idle-secret"\n' >"$work/users.txt"
chmod 600 "$work/users.txt"
cat >"$work/pgperf.ini" <<INI
[databases]
idle = host=127.0.0.1 port=$pgport dbname=idle
[pgperf]
listen_port = $xport
auth_file = users.txt
pool_mode = transaction
default_pool_size = 20
max_client_conn = $((n + 100))
server_tls_sslmode = disable
log_level = warning
INI
# pgperf and the client program each need a descriptor per client
want=$((n + 1000))
hard=$(ulimit -Hn)
[ "$hard" != unlimited ] && [ "$hard" -lt "$want" ] && { echo "idle_clients.sh: the open-files limit ($hard) is below $want" >&2; exit 1; }
ulimit -n "$want"
setsid "$build/pgperf" "$work/pgperf.ini" &
xpid=$!
sleep 0.5
rss() { awk '/^VmRSS/ {print $2}' "/proc/$xpid/status"; }
fds() { ls "/proc/$xpid/fd" | wc -l; }
r0=$(rss)
f0=$(fds)
/usr/bin/python3 - "$xport" "$n" "$work" <<'PY' &
import os, sys, time
import psycopg2
port, n, work = sys.argv[1], int(sys.argv[2]), sys.argv[3]
conns = []
t0 = time.time()
for i in range(n):
    c = psycopg2.connect(host="127.0.0.1", port=port, user="idle",
                         password="idle-secret", dbname="idle")
    c.autocommit = True
    c.cursor().execute("select 1")
    conns.append(c)
print(f"{n} clients logged in and ran a query in {time.time() - t0:.1f} s", flush=True)
open(os.path.join(work, "ready"), "w").close()
while not os.path.exists(os.path.join(work, "done")):
    time.sleep(0.2)
PY
pyid=$!
while [ ! -e "$work/ready" ]; do
	kill -0 "$pyid" 2>/dev/null || { echo "the client program failed" >&2; exit 1; }
	sleep 0.5
done
sleep 1
r1=$(rss)
f1=$(fds)
touch "$work/done"
wait "$pyid"
awk -v n="$n" -v r0="$r0" -v r1="$r1" -v f0="$f0" -v f1="$f1" 'BEGIN {
	printf "pgperf RSS: %d kB before, %d kB with %d idle clients: %.0f bytes per idle client\n", r0, r1, n, (r1 - r0) * 1024 / n
	printf "descriptors: %d before, %d after (%.2f per client)\n", f0, f1, (f1 - f0) / n }'

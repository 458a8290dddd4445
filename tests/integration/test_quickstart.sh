#!/usr/bin/env bash
# test_quickstart.sh -- the first five minutes, as a new user lives them
# (issue 19): scripts/run.sh from a clean copy of the tree (it installs
# nothing here but builds from scratch), on a free port; the DATABASE_URL
# it prints works with psql; `pgperf-ctl stats` works with only
# DATABASE_URL set; the /metrics address it prints answers; scripts/demo.sh
# against it finds the N+1 (with its fix), the index (checked with the
# planner) and the cacheable query; SIGINT to run.sh leaves nothing
# running.  It does not use the suite's PostgreSQL or pgperf.
# Prints "N passed, N failed".
set -uo pipefail

. "${PGPERF_ITEST_ENV:?run through ctest}"
. "$(dirname "$0")/lib.sh"
passed=0
failed=0
dir="$WORK_DIR/quickstart-$$"
copy="$dir/tree"
mkdir -p "$copy"
free_port() { # from
	local p=$1
	while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done
	echo "$p"
}
port=$(free_port $((19000 + $$ % 500)))
http=$(free_port $((port + 1)))
# what a clone has: the tracked files (and new ones not yet committed)
(cd "$ROOT_DIR" && git ls-files -z --cached --others --exclude-standard |
	tar --null -T - -cf -) | tar -xf - -C "$copy"

# 55432, run.sh's first choice for its PostgreSQL, lies in the kernel's
# ephemeral range: held as the local end of a connection (as a busy
# machine's clients may hold it), it answers no connect yet cannot be
# bound, and run.sh must move on to the next port
/usr/bin/python3 -c '
import os, socket, time
l = socket.socket()
l.bind(("127.0.0.1", 0))
l.listen()
h = socket.socket()
try:
    h.bind(("127.0.0.1", 55432))
except OSError:
    raise SystemExit(0)  # taken already: run.sh skips it anyway
h.connect(l.getsockname())
print("held", flush=True)
parent = os.getppid()
for _ in range(960):  # until released, or this test is gone
    if os.getppid() != parent:
        break
    time.sleep(1)
' >"$dir/held" 2>&1 &
holder=$!
for _ in $(seq 50); do [ -s "$dir/held" ] || ! kill -0 $holder 2>/dev/null && break; sleep 0.1; done
set -m # run.sh as a job of its own, so that SIGINT reaches it as Ctrl-C would
PGPERF_PORT=$port PGPERF_HTTP_PORT=$http "$copy/scripts/run.sh" >"$dir/run.out" 2>&1 &
run=$!
set +m
trap 'kill -INT $run 2>/dev/null; [ -n "$holder" ] && kill $holder 2>/dev/null' EXIT
export dir copy run port http

started() {
	local t0=$SECONDS
	until grep -q "^  DATABASE_URL=" "$dir/run.out"; do
		kill -0 "$run" 2>/dev/null || { cat "$dir/run.out"; return 1; }
		[ $((SECONDS - t0)) -lt 900 ] || { echo "no DATABASE_URL after 900 s"; return 1; }
		sleep 0.5
	done
	echo "started in $((SECONDS - t0)) s"
}
url() { sed -n 's/^  DATABASE_URL=//p' "$dir/run.out" | head -1; }
psql_through() {
	local u
	u=$(url)
	grep -q "127.0.0.1:$port/" <<<"$u" || { echo "not on the free port: $u"; return 1; }
	psql -X -At "$u" -c "select 'through pgperf'" | grep -qx "through pgperf"
}
ctl_stats() {
	# nothing but DATABASE_URL: no PG* variables, no options
	env -i PATH="$PATH" DATABASE_URL="$(url)" "$copy/build-release/pgperf-ctl" stats >"$dir/stats.txt" || { cat "$dir/stats.txt"; return 1; }
	grep -Eq "^Statements: [1-9][0-9]* calls" "$dir/stats.txt" || { cat "$dir/stats.txt"; return 1; }
}
printed_next() {
	local m
	for want in "export DATABASE_URL=" "pgperf-ctl stats" "pgperf-ctl findings" "pgperf-ctl report" "scripts/demo.sh"; do
		grep -qF -- "$want" "$dir/run.out" || { echo "run.sh does not print: $want"; return 1; }
	done
	m=$(grep -o "http://127.0.0.1:[0-9]*/metrics" "$dir/run.out" | head -1)
	[ "$m" = "http://127.0.0.1:$http/metrics" ] || { echo "metrics address: $m"; return 1; }
	curl -sf "$m" | grep -q "^pgperf_"
}
demo() {
	local t0=$SECONDS
	DATABASE_URL="$(url)" "$copy/scripts/demo.sh" >"$dir/demo.out" 2>&1 || { cat "$dir/demo.out"; return 1; }
	echo "demo took $((SECONDS - t0)) s"
	[ $((SECONDS - t0)) -lt 60 ] || { echo "the demo took a minute or more"; return 1; }
	env -i PATH="$PATH" DATABASE_URL="$(url)" "$copy/build-release/pgperf-ctl" findings --json >"$dir/findings.json" &&
		/usr/bin/python3 - "$dir/findings.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
by = {}
for f in doc["findings"]:
    by.setdefault(f["kind"], []).append(f)
n1 = [f for f in by.get("n_plus_one", [])
      if f["relation"]["text"] == "demo_orders.id -> demo_order_items.order_id"]
assert n1 and n1[0]["status"] == "proven", by.get("n_plus_one")
assert "selectinload" in n1[0]["suggestion"]["sqlalchemy"], n1[0]["suggestion"]
ix = [f for f in by.get("missing_index", []) if f["table"] == "demo_customers"]
assert ix and ix[0]["columns"] == ["email"], by.get("missing_index")
assert ix[0]["status"] == "suggested", ix[0]  # verified with HypoPG
cq = [f for f in by.get("cacheable_query", []) if "demo_products" in f["tables"]]
assert cq, by.get("cacheable_query")
assert not by.get("pool_saturation"), by["pool_saturation"]  # nothing waited
print("n_plus_one proven, index on demo_customers(email) verified, "
      "cacheable demo_products read")
PY
}
stopped() {
	local pgdir
	pgdir=$(sed -n 's/.*data in \(.*\)\/pg$/\1/p' "$dir/run.out" | head -1)
	kill -INT "$run"
	wait "$run"
	trap - EXIT
	if pgrep -f "$copy/" >/dev/null || pgrep -f "${pgdir:-/nonexistent}" >/dev/null; then
		pgrep -af "$copy/|${pgdir:-/nonexistent}"
		echo "left running"
		return 1
	fi
	[ -n "$pgdir" ] && [ ! -e "$pgdir" ] || { echo "left behind: $pgdir"; return 1; }
	! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "port $port still open"; return 1; }
}
export -f started url psql_through ctl_stats printed_next demo stopped

ITEST_TIMEOUT=960 CHECK_SHOW_LAST=1 check "run.sh from a clean copy prints a DATABASE_URL" started
if grep -qx held "$dir/held"; then
	check "run.sh's PostgreSQL moved past 55432, which a connection held" \
		grep -q "PostgreSQL 15 (throwaway) on 127.0.0.1:5543[3-9]" "$dir/run.out"
fi
kill $holder 2>/dev/null
wait $holder 2>/dev/null
holder=
if [ "$failed" = 0 ]; then
	check "psql through the printed URL, on the free port" psql_through
	check "pgperf-ctl stats with only DATABASE_URL set" ctl_stats
	check "run.sh prints the next commands and a working /metrics address" printed_next
	CHECK_SHOW_LAST=1 check "demo.sh: N+1 with its fix, verified index, cacheable query, in under a minute" demo
fi
# stopped() waits for run.sh, so it runs here, not in check's subshell
if stopped >"$dir/out" 2>&1; then
	passed=$((passed + 1)); echo "ok: SIGINT stops run.sh; nothing left running"
else
	failed=$((failed + 1)); echo "FAILED: SIGINT stops run.sh"; sed 's/^/    /' "$dir/out"
fi
[ "$failed" = 0 ] && rm -rf "$dir"
itest_summary

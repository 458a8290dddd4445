#!/usr/bin/env bash
# demo.sh -- what pgperf finds in an ORM's traffic, in under a minute.
#
# With DATABASE_URL set to a running pgperf (as run.sh prints it) it uses
# that; without, it starts the quick start itself (run.sh) and stops it at
# the end.  It loads a small shop (tables demo_*), serves 30 requests the
# way SQLAlchemy applications often do -- a lookup by an unindexed column,
# lazy loading that makes an N+1, a catalog read repeated on every request
# -- then prints `pgperf-ctl findings`: the N+1 with its eager-loading fix,
# the index (checked with the planner), the cacheable query.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
ctl=$root/build-release/pgperf-ctl

if [ -z "${DATABASE_URL:-}" ]; then
	echo "demo: no DATABASE_URL: starting the quick start (scripts/run.sh)"
	log=$(mktemp /tmp/pgperf-demo.XXXXXX)
	set -m # run.sh in a job of its own: SIGINT stops it as Ctrl-C would
	"$root/scripts/run.sh" >"$log" 2>&1 &
	run=$!
	set +m
	trap 'kill -INT $run 2>/dev/null; wait $run 2>/dev/null; rm -f "$log"' EXIT
	for _ in $(seq 1200); do # a first build takes a few minutes
		grep -q "^  DATABASE_URL=" "$log" && break
		kill -0 $run 2>/dev/null || { cat "$log"; exit 1; }
		sleep 0.5
	done
	DATABASE_URL=$(sed -n 's/^  DATABASE_URL=//p' "$log" | head -1)
	[ -n "$DATABASE_URL" ] || { cat "$log"; echo "demo: run.sh printed no DATABASE_URL"; exit 1; }
	export DATABASE_URL
fi
[ -x "$ctl" ] || "$root/scripts/build.sh" Release >/dev/null

/usr/bin/python3 "$root/scripts/demo_shop.py" "$DATABASE_URL"

# the last request's findings settle within a second or two
kinds="n_plus_one missing_index cacheable_query"
for _ in $(seq 60); do
	json=$("$ctl" findings --json 2>/dev/null || true)
	missing=""
	for k in $kinds; do
		grep -q "\"kind\": *\"$k\"" <<<"$json" || missing="$missing $k"
	done
	[ -z "$missing" ] && break
	sleep 0.5
done
echo
echo "demo: pgperf-ctl findings"
echo
"$ctl" findings
[ -z "$missing" ] || { echo "demo: not found:$missing" >&2; exit 1; }

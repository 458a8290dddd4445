#!/usr/bin/env bash
# test.sh -- install what is missing, build, and run every test: the unit
# and integration tests on a Debug build (warnings are errors), then again
# on the ASan+UBSan build, then each fuzz target briefly.  The integration
# tests start their own PostgreSQL on a free loopback port.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/deps.sh" test

status=0
run_suite() { # build type
	local dir
	echo "== $1 build"
	dir=$("$root/scripts/build.sh" "$1")
	echo "== $1 tests"
	(cd "$dir" && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --output-on-failure --timeout 600) || status=1
}
run_suite Debug
run_suite Asan
if [ -x "$root/tests/fuzz/run.sh" ]; then
	echo "== fuzz smoke"
	"$root/tests/fuzz/run.sh" 10 || status=1
fi
exit $status

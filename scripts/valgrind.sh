#!/usr/bin/env bash
# valgrind.sh -- run the integration tests with every pgperf under
# valgrind memcheck (leaks, invalid reads and writes, uninitialised
# values).  A memcheck error makes pgperf exit with status 99, which the
# tests report as a failed clean exit.  Slow: a few minutes.
#   valgrind.sh [ctest -R regex]   default: protocol|badinput|auth_tls
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/deps.sh" test
command -v valgrind >/dev/null || { echo "valgrind.sh: apt-get install valgrind" >&2; exit 1; }
dir=$("$root/scripts/build.sh" Debug)
export PGPERF_WRAPPER="valgrind --quiet --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect --log-file=$dir/itest/valgrind-%p.log"
cd "$dir"
status=0
ctest --output-on-failure --timeout 1200 -R "itest_setup|itest_teardown|integration_(${1:-protocol|badinput|auth_tls})" || status=1
for f in "$dir"/itest/valgrind-*.log; do
	[ -s "$f" ] && { echo "== $f"; cat "$f"; status=1; }
done
[ $status = 0 ] && echo "valgrind: clean"
exit $status

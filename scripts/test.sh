#!/usr/bin/env bash
# test.sh -- install what is missing, build, and run every test: the unit
# and integration tests on a Debug build (warnings are errors), then again
# on the ASan+UBSan build, then each fuzz target briefly.  The integration
# tests start their own PostgreSQL on a free loopback port.  The C sources
# must match .clang-format.  Ends with one
# line "summary: N passed, N failed" over all of it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/deps.sh" test

passed=0
failed=0
count_ctest() { # ctest output file
	local line total bad
	line=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$1" | tail -1)
	if [ -z "$line" ]; then
		failed=$((failed + 1))
		return
	fi
	total=$(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$line")
	bad=$(sed -E 's/.*passed, ([0-9]+) tests? failed.*/\1/' <<<"$line")
	passed=$((passed + total - bad))
	failed=$((failed + bad))
}
run_suite() { # build type
	local dir log
	echo "== $1 build"
	if ! dir=$("$root/scripts/build.sh" "$1"); then
		echo "$1 build failed"
		failed=$((failed + 1))
		return
	fi
	echo "== $1 tests"
	log="$dir/ctest.log"
	(cd "$dir" && ASAN_OPTIONS=detect_leaks=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --output-on-failure --timeout 600) 2>&1 | tee "$log" || true
	count_ctest "$log"
}
echo "== format (.clang-format)"
if (cd "$root" && git ls-files '*.c' '*.h' | xargs clang-format --dry-run --Werror) >/dev/null 2>&1; then
	echo "format: ok"
	passed=$((passed + 1))
else
	echo "format: FAILED; run: git ls-files '*.c' '*.h' | xargs clang-format -i"
	failed=$((failed + 1))
fi
run_suite Debug
run_suite Asan
# run.sh and the benchmarks use the Release build: it must build cleanly too
echo "== Release build"
if "$root/scripts/build.sh" Release >/dev/null; then
	echo "release build: ok"
	passed=$((passed + 1))
else
	echo "release build: FAILED"
	failed=$((failed + 1))
fi
echo "== fuzz smoke"
while read -r line; do
	echo "$line"
	case "$line" in
	*": ok,"*) passed=$((passed + 1)) ;;
	*FAILED*) failed=$((failed + 1)) ;;
	esac
done < <("$root/tests/fuzz/run.sh" 10 2>&1 || true)
echo "summary: $passed passed, $failed failed"
[ "$failed" = 0 ]

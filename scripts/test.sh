#!/usr/bin/env bash
# test.sh -- install what is missing, build, and run every test: the unit
# and integration tests on a Debug build (warnings are errors), then again
# on the ASan+UBSan build, then each fuzz target briefly.  The integration
# tests start their own PostgreSQL on a free loopback port.  The C sources
# must match .clang-format.
#
# One line per stage with its time; when a test fails, its last lines and
# where its whole output is.  Ends with one line "summary: N passed, N
# failed" over all of it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/deps.sh" test

passed=0
failed=0
t_all=$SECONDS
took() { # start seconds
	local s=$((SECONDS - $1))
	printf '%dm%02ds' $((s / 60)) $((s % 60))
}
# A failed test's output as ctest --output-on-failure logged it: the lines
# after its result line, up to the next test's start.
show_failure() { # ctest log, test name
	echo "---- $2: last lines ----"
	awk -v name="$2" '
		$0 ~ "Test +#[0-9]+: " name " " && $0 ~ /\*\*\*|Failed|Timeout/ { on = 1; next }
		on && /^ *Start +[0-9]+: / { on = 0 }
		on { print }' "$1" | grep -v '^$' | tail -40
	echo "----"
}
run_suite() { # build type
	local dir log t0 line total bad name
	t0=$SECONDS
	if ! dir=$("$root/scripts/build.sh" "$1"); then
		echo "$1 build: FAILED ($(took "$t0"))"
		failed=$((failed + 1))
		return
	fi
	echo "$1 build: ok ($(took "$t0"))"
	t0=$SECONDS
	log="$dir/ctest.log"
	echo "$1 tests: running (about 5 minutes; progress in ${log#"$root"/})"
	(cd "$dir" && ASAN_OPTIONS=detect_leaks=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --output-on-failure --timeout 1200) >"$log" 2>&1 || true
	line=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -1 || true)
	if [ -z "$line" ]; then
		echo "$1 tests: ctest did not finish ($(took "$t0")); full log: $log"
		tail -20 "$log"
		failed=$((failed + 1))
		return
	fi
	total=$(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$line")
	bad=$(sed -E 's/.*passed, ([0-9]+) tests? failed.*/\1/' <<<"$line")
	passed=$((passed + total - bad))
	failed=$((failed + bad))
	if [ "$bad" = 0 ]; then
		echo "$1 tests: $total/$total passed ($(took "$t0"))"
		return
	fi
	echo "$1 tests: $bad of $total FAILED ($(took "$t0")); full log: $log"
	sed -n '/The following tests FAILED:/,$p' "$log" |
		sed -nE 's/^[[:space:]]*[0-9]+ - ([^ ]+) .*/\1/p' | while read -r name; do
		show_failure "$log" "$name"
	done
}

t0=$SECONDS
if (cd "$root" && git ls-files '*.c' '*.h' | xargs clang-format --dry-run --Werror) >/dev/null 2>&1; then
	echo "format: ok ($(took "$t0"))"
	passed=$((passed + 1))
else
	echo "format: FAILED; run: git ls-files '*.c' '*.h' | xargs clang-format -i"
	failed=$((failed + 1))
fi
# the include arrows between folders (docs/ARCHITECTURE.md, "Map")
if arrows=$(python3 "$root/scripts/check_arrows.py" 2>&1); then
	echo "include arrows: ok"
	passed=$((passed + 1))
else
	echo "include arrows: FAILED"
	sed 's/^/    /' <<<"$arrows"
	failed=$((failed + 1))
fi
run_suite Debug
run_suite Asan
# run.sh and the benchmarks use the Release build: it must build cleanly too
t0=$SECONDS
if "$root/scripts/build.sh" Release >/dev/null; then
	echo "Release build: ok ($(took "$t0"))"
	passed=$((passed + 1))
else
	echo "Release build: FAILED ($(took "$t0"))"
	failed=$((failed + 1))
fi
t0=$SECONDS
fuzz_ok=0
fuzz_bad=0
while read -r line; do
	case "$line" in
	*": ok,"*) fuzz_ok=$((fuzz_ok + 1)) ;;
	*FAILED*) fuzz_bad=$((fuzz_bad + 1)); echo "$line" ;;
	*) echo "    $line" ;; # a failed target's last lines
	esac
done < <("$root/tests/fuzz/run.sh" 10 2>&1 || true)
passed=$((passed + fuzz_ok))
failed=$((failed + fuzz_bad))
if [ "$fuzz_bad" = 0 ] && [ "$fuzz_ok" -gt 0 ]; then
	echo "fuzz smoke: $fuzz_ok targets ok ($(took "$t0"))"
else
	[ "$fuzz_ok" -gt 0 ] || { echo "fuzz smoke: no target ran"; failed=$((failed + 1)); }
	echo "fuzz smoke: $fuzz_bad FAILED ($(took "$t0"))"
fi
echo "summary: $passed passed, $failed failed ($(took "$t_all"))"
[ "$failed" = 0 ]

#!/usr/bin/env bash
# run.sh -- build the libFuzzer targets with clang (ASan+UBSan) and run
# each for SECONDS (default 60), starting from the seed corpora in
# tests/fuzz/corpus/.  New inputs go to build-fuzz/corpus-*, not the repo.
# Prints executions per target; exits non-zero if any target crashed.
#   run.sh [SECONDS]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-60}
dir="$root/build-fuzz"
CC=clang cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=Asan -DPGPERF_FUZZ=ON >/dev/null
cmake --build "$dir" -j"$(nproc)" --target fuzz_startup fuzz_messages fuzz_scram fuzz_config fuzz_sqlscan fuzz_shape fuzz_values fuzz_blob fuzz_state fuzz_prepared fuzz_fleet >/dev/null
status=0
for t in startup messages scram config sqlscan shape values blob state prepared fleet; do
	case $t in
	startup) seeds=startup ;;
	messages) seeds=client_msg ;;
	scram) seeds=scram_server ;;
	config) seeds=config ;;
	sqlscan) seeds=sqlscan ;;
	shape) seeds=shape ;;
	values) seeds=values ;;
	blob) seeds=blob ;;
	state) seeds=state ;;
	prepared) seeds=prepared ;;
	fleet) seeds=fleet ;;
	esac
	work="$dir/corpus-$t"
	mkdir -p "$work"
	if "$dir/fuzz_$t" -max_total_time="$secs" -max_len=4096 -timeout=5 \
		-artifact_prefix="$dir/crash-$t-" "$work" "$root/tests/fuzz/corpus/$seeds" \
		>"$dir/fuzz-$t.log" 2>&1; then
		execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$dir/fuzz-$t.log" | grep -o '[0-9]*$' || true)
		[ -n "$execs" ] || execs=$(grep -Eo '^#[0-9]+' "$dir/fuzz-$t.log" | tail -1 | tr -d '#')
		echo "fuzz_$t: ok, ${execs:-?} executions in ${secs}s"
	else
		echo "fuzz_$t: FAILED (see $dir/fuzz-$t.log)"
		tail -30 "$dir/fuzz-$t.log"
		status=1
	fi
done
exit $status

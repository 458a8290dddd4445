#!/usr/bin/env bash
# build.sh -- configure and build one build type into build-TYPE/.
#   build.sh [Debug|Release|RelWithDebInfo|Asan] [extra cmake args]
# Prints the build directory on stdout; what it does and how far along it
# is goes to stderr (a percentage on a terminal), and the compiler's output
# only when the build fails.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
type=${1:-Release}
shift || true
dir="$root/build-$(echo "$type" | tr '[:upper:]' '[:lower:]')"
t0=$SECONDS
mkdir -p "$dir"
log="$dir/build.log"
echo "build: $type in ${dir#"$root"/} (the first build takes a minute or two)" >&2
if ! cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE="$type" -DPGPERF_WERROR=ON "$@" >"$log" 2>&1; then
	tail -30 "$log" >&2
	echo "build: $type: cmake failed; full log: $log" >&2
	exit 1
fi
last=""
set +e
cmake --build "$dir" -j"$(nproc)" 2>&1 | tee -a "$log" | while IFS= read -r line; do
	if [[ $line =~ ^\[\ *([0-9]+)%\] ]] && [ -t 2 ]; then
		pct=${BASH_REMATCH[1]}
		[ "$pct" != "$last" ] && printf '\rbuild: %s %3s%%' "$type" "$pct" >&2
		last=$pct
	fi
done
rc=${PIPESTATUS[0]}
set -e
[ -t 2 ] && printf '\r' >&2
if [ "$rc" != 0 ]; then
	grep -E "error|warning|Error" "$log" | tail -30 >&2
	echo "build: $type FAILED; full log: $log" >&2
	exit 1
fi
echo "build: $type done in $((SECONDS - t0)) s" >&2
echo "$dir"

#!/usr/bin/env bash
# build.sh -- configure and build one build type into build-TYPE/.
#   build.sh [Debug|Release|RelWithDebInfo|Asan] [extra cmake args]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
type=${1:-Release}
shift || true
dir="$root/build-$(echo "$type" | tr '[:upper:]' '[:lower:]')"
cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE="$type" -DPGPERF_WERROR=ON "$@" >/dev/null
cmake --build "$dir" -j"$(nproc)" >/dev/null
echo "$dir"

#!/usr/bin/env bash
# deps.sh -- install the Debian 12 packages pgperf needs, if any are
# missing.  Needs root or sudo only when something has to be installed.
#
#   deps.sh build   compiler, CMake and the libraries
#   deps.sh test    build + PostgreSQL 15 and the client tools for tests
#   deps.sh bench   test + PgBouncer for side-by-side benchmarks
set -euo pipefail

build_pkgs=(build-essential cmake pkg-config libevent-dev libpq-dev libpg-query-dev
	libprotobuf-c-dev libhiredis-dev libssl-dev libidn-dev libcmocka-dev openssl)
# client libraries the transaction-mode tests drive through pgperf
client_pkgs=(python3-psycopg2 python3-psycopg python3-asyncpg ruby-pg libpostgresql-jdbc-java
	python3-sqlalchemy python3-django python3-jsonschema)
test_pkgs=(postgresql-15 postgresql-client-15 postgresql-15-hypopg redis-server clang clang-format curl python3-prometheus-client
	"${client_pkgs[@]}")
bench_pkgs=(pgbouncer pgpool2)

want=("${build_pkgs[@]}")
case "${1:-build}" in
build) ;;
test) want+=("${test_pkgs[@]}") ;;
bench) want+=("${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
*) echo "usage: $0 build|test|bench" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# a JDK and Node.js may come from elsewhere (nodesource, a JDK tarball):
# install Debian's only when the commands are missing
if [ "${1:-build}" != build ]; then
	command -v javac >/dev/null || missing+=(default-jdk-headless)
	command -v npm >/dev/null || missing+=(nodejs npm)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: ${#missing[@]} Debian packages missing: ${missing[*]}"
sudo=""
if [ "$(id -u)" != 0 ]; then
	command -v sudo >/dev/null || { echo "deps: need root or sudo to install ${missing[*]}" >&2; exit 1; }
	sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
t0=$SECONDS
echo "deps: apt-get update"
$sudo apt-get update -qq
# how many packages that makes with their dependencies, for the progress
total=$(apt-get install -s --no-install-recommends "${missing[@]}" 2>/dev/null | grep -c '^Inst ' || true)
echo "deps: installing $total packages (a few minutes on a fresh machine)"
log=$(mktemp /tmp/pgperf-deps.XXXXXX)
n=0
step=$(((total + 9) / 10))
[ "$step" -gt 0 ] || step=1
set +e
$sudo apt-get install -y --no-install-recommends -o Dpkg::Use-Pty=0 "${missing[@]}" 2>&1 |
	tee "$log" | while IFS= read -r line; do
	case "$line" in
	"Setting up "*)
		n=$((n + 1))
		[ $((n % step)) = 0 ] && echo "deps: set up $n/$total"
		;;
	esac
done
rc=${PIPESTATUS[0]}
set -e
if [ "$rc" != 0 ]; then
	tail -20 "$log" >&2
	echo "deps: apt-get install failed; full log: $log" >&2
	exit 1
fi
rm -f "$log"
echo "deps: done in $((SECONDS - t0)) s"
# Debian starts a cluster of its own on 5432 when it installs the server;
# pgperf's tests and quick start use their own throwaway clusters instead.
# Likewise Redis (6379) and pgpool-II: the tests and benchmarks start their
# own on loopback, so Debian's services are stopped if they were started.
for svc in redis-server pgpool2; do
	case " ${missing[*]} " in
	*" $svc "*) $sudo service "$svc" stop >/dev/null 2>&1 || true ;;
	esac
done

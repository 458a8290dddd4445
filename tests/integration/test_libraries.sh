#!/usr/bin/env bash
# test_libraries.sh -- real client libraries through pgperf in transaction
# mode (pool of 20): psycopg2, psycopg 3, asyncpg, PostgreSQL JDBC, ruby-pg
# and node-pg.  Each program (tests/clients/) opens several connections
# that share server connections, uses one statement name for different SQL
# on each, and checks every result.  Prints "N passed, N failed".
set -uo pipefail

. "${PGPERF_ITEST_ENV:?run through ctest}"
src="$(cd "$(dirname "$0")/../clients" && pwd)"
dir="$WORK_DIR/libraries-$$"
mkdir -p "$dir"
port=$(( 29000 + $$ % 1000 ))
while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
printf '"app" "app-secret"\n' >"$dir/users.txt"
chmod 600 "$dir/users.txt"
cat >"$dir/pgperf.ini" <<INI
[databases]
appdb = host=127.0.0.1 port=$PG_PORT dbname=appdb
[pgperf]
listen_addr = 127.0.0.1
listen_port = $port
auth_file = users.txt
server_tls_sslmode = disable
pool_mode = transaction
default_pool_size = 20
query_wait_timeout = 10
INI
"$PGPERF_BIN" "$dir/pgperf.ini" >"$dir/pgperf.log" 2>&1 &
pid=$!
trap 'kill -INT $pid 2>/dev/null' EXIT
for _ in $(seq 100); do
	(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
	sleep 0.05
done

export PGPERF_DSN="postgresql://app:app-secret@127.0.0.1:$port/appdb?sslmode=disable"
export PGPERF_JDBC_URL="jdbc:postgresql://127.0.0.1:$port/appdb?user=app&password=app-secret&sslmode=disable&prepareThreshold=5"
passed=0
failed=0
check() { # name, command...
	local name=$1
	shift
	if timeout 120 bash -c '"$@"' check "$@" >"$dir/out" 2>&1; then
		passed=$((passed + 1))
		echo "ok: $name: $(tail -1 "$dir/out")"
	else
		failed=$((failed + 1))
		echo "FAILED: $name"
		sed 's/^/    /' "$dir/out" | tail -30
	fi
}
# Debian's modules live with Debian's python, whatever else is on PATH
py=/usr/bin/python3

java_test() {
	javac -d "$dir/java" -cp /usr/share/java/postgresql.jar "$src/JdbcTest.java" &&
		java -cp "$dir/java:/usr/share/java/postgresql.jar" JdbcTest
}
node_test() {
	# node-pg is not packaged by Debian: fetched from the npm registry once
	local nd="$WORK_DIR/node-pg"
	if [ ! -d "$nd/node_modules/pg" ]; then
		mkdir -p "$nd"
		(cd "$nd" && { npm install --silent --no-audit --no-fund pg@8 ||
			npm install --silent --no-audit --no-fund pg@8; }) || return 1
	fi
	NODE_PATH="$nd/node_modules" node "$src/node_pg_test.js"
}

export -f java_test node_test
export src dir WORK_DIR
check "psycopg2" "$py" "$src/psycopg2_test.py"
check "psycopg 3, prepare_threshold=0" "$py" "$src/psycopg3_test.py"
check "asyncpg" "$py" "$src/asyncpg_test.py"
check "JDBC, prepareThreshold=5" java_test
check "ruby-pg, prepare" ruby "$src/ruby_pg_test.rb"
check "node-pg, named queries" node_test

kill -INT "$pid"
wait "$pid"
rc=$?
trap - EXIT
if [ "$rc" = 0 ]; then passed=$((passed + 1)); echo "ok: pgperf exited cleanly"
else failed=$((failed + 1)); echo "FAILED: pgperf exit status $rc"; tail -20 "$dir/pgperf.log"; fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]

#!/usr/bin/env bash
# test_libraries.sh -- real client libraries through pgperf in transaction
# mode (pool of 20): psycopg2, psycopg 3, asyncpg, PostgreSQL JDBC, ruby-pg
# and node-pg.  Each program (tests/clients/) opens several connections
# that share server connections, uses one statement name for different SQL
# on each, and checks every result.  Prints "N passed, N failed".
set -uo pipefail

. "${PGPERF_ITEST_ENV:?run through ctest}"
src="$(cd "$(dirname "$0")/../clients" && pwd)"
. "$(dirname "$0")/lib.sh"
itest_init libraries 29000 "pool_mode = transaction
default_pool_size = 20
query_wait_timeout = 10"
start_pgperf "$dir/pgperf.log"

export PGPERF_DSN="postgresql://app:app-secret@127.0.0.1:$port/appdb?sslmode=disable"
export PGPERF_JDBC_URL="jdbc:postgresql://127.0.0.1:$port/appdb?user=app&password=app-secret&sslmode=disable&prepareThreshold=5"
CHECK_SHOW_LAST=1 # each program ends with its version and what it saw
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

stop_pgperf
itest_summary

#!/usr/bin/env bash
# test_hold.sh -- PAUSE that waits, SUSPEND, KILL, DISABLE/ENABLE,
# RECONNECT, WAIT_CLOSE and SIGUSR1/SIGUSR2, with PgBouncer's meanings
# (issue 22).  The checks are in tests/clients/hold.py (psycopg2).
# Prints "N passed, N failed".
set -uo pipefail

. "${PGPERF_ITEST_ENV:?run through ctest}"
. "$(dirname "$0")/lib.sh"
itest_init hold 20000 "pool_mode = session
admin_users = app"
itest_add_db appdb_tx "host=127.0.0.1 port=$PG_PORT dbname=appdb pool_mode=transaction"
start_pgperf "$dir/pgperf.log"
src="$(cd "$(dirname "$0")/../clients" && pwd)"
export PGPASSWORD=app-secret src port pid

hold_commands() {
	/usr/bin/python3 "$src/hold.py" "$port" "$pid"
}
export -f hold_commands
check "PAUSE, SUSPEND, KILL, DISABLE, RECONNECT, WAIT_CLOSE, SIGUSR1/2" hold_commands
sed 's/^/    /' "$dir/out" | grep '^    ok: '
stop_pgperf
itest_summary

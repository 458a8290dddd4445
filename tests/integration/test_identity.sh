#!/usr/bin/env bash
# test_identity.sh -- clients see their backend as it is (issue 22): in
# session mode the pid a client is told is its backend's own
# (pg_backend_pid(), notifications) and cancels with it still work; in
# transaction mode a notification names the client that sent it; a
# connection that sends a Terminate instead of a startup packet is closed
# unanswered, as PostgreSQL does, and counted; a client may start TLS with
# its first byte (PostgreSQL 17's direct TLS) when it names ALPN postgresql.
# Prints "N passed, N failed".
set -uo pipefail

. "${PGPERF_ITEST_ENV:?run through ctest}"
. "$(dirname "$0")/lib.sh"
itest_init identity 25000 "pool_mode = session
client_tls_sslmode = allow
client_tls_cert_file = $TLS_CERT
client_tls_key_file = $TLS_KEY"
itest_http
itest_add_db appdb_tx "host=127.0.0.1 port=$PG_PORT dbname=appdb pool_mode=transaction"
start_pgperf "$dir/pgperf.log"
src="$(cd "$(dirname "$0")/../clients" && pwd)"
export PGPASSWORD=app-secret src port http_port

session_pids() {
	/usr/bin/python3 "$src/identity.py" "host=127.0.0.1 port=$port user=app dbname=appdb" session
}
transaction_pids() {
	/usr/bin/python3 "$src/identity.py" "host=127.0.0.1 port=$port user=app dbname=appdb_tx" transaction
}
direct_tls() {
	cd "$src" && python3 direct_tls.py "$port" app app-secret appdb
}
terminate_first() {
	python3 - "$port" <<'PY' || return 1
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"X\0\0\0\4")  # Terminate, before any startup packet
got = s.recv(100)
print("answer: %r" % got)
sys.exit(0 if got == b"" else 1)
PY
	curl -sf "http://127.0.0.1:$http_port/metrics" >"$dir/metrics.txt" &&
		grep '^pgperf_client_closes_total{reason="bad_startup"} 1$' "$dir/metrics.txt" &&
		grep "^pgperf_startup_errors_total 1$" "$dir/metrics.txt"
}
export -f session_pids transaction_pids direct_tls terminate_first
CHECK_SHOW_LAST=1 check "session mode: the backend's own pid, in notifications too; cancels work" session_pids
CHECK_SHOW_LAST=1 check "transaction mode: notifications name their sending client, pinned or not" transaction_pids
CHECK_SHOW_LAST=1 check "direct TLS (sslnegotiation=direct): a login with ALPN postgresql; none without" direct_tls
CHECK_SHOW_LAST=1 check "Terminate before a startup packet: closed unanswered, counted" terminate_first
stop_pgperf
itest_summary

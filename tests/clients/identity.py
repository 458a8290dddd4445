"""identity.py DSN -- what a client may rely on about its backend through
pgperf in session mode: the pid in BackendKeyData is the backend's own
(pg_backend_pid(), pg_stat_activity and the pid of a notification it
sends agree), and a cancel sent with it still cancels only that client's
query.  Prints one line per check; exits 1 on the first that fails."""
import os
import select
import sys
import threading
import time

import psycopg2
import psycopg2.extensions

dsn = sys.argv[1]
a = psycopg2.connect(dsn)
b = psycopg2.connect(dsn)
for c in (a, b):
    c.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
cur = a.cursor()
cur.execute("select pg_backend_pid()")
real = cur.fetchone()[0]
print("backend_pid %d, pg_backend_pid() %d" % (a.info.backend_pid, real))
assert a.info.backend_pid == real, "the pid told is not the backend's"
assert a.info.backend_pid != b.info.backend_pid

# b listens, a notifies: the notification names a's pid
b.cursor().execute("listen identity_ch")
cur.execute("notify identity_ch, 'hello'")
deadline = time.time() + 5
while not b.notifies and time.time() < deadline:
    select.select([b], [], [], 0.5)
    b.poll()
assert b.notifies, "no notification"
n = b.notifies.pop(0)
print("notification from pid %d, payload %s" % (n.pid, n.payload))
assert n.pid == a.info.backend_pid and n.payload == "hello"

# a cancel with the real pid cancels a's query, and not b's
def cancel_soon():
    time.sleep(0.5)
    a.cancel()
t = threading.Thread(target=cancel_soon)
t.start()
t0 = time.time()
try:
    cur.execute("select pg_sleep(5)")
    print("not cancelled")
    sys.exit(1)
except psycopg2.extensions.QueryCanceledError:
    print("cancelled after %.1f s" % (time.time() - t0))
t.join()
bc = b.cursor()
bc.execute("select 42")
assert bc.fetchone()[0] == 42
print("ok")

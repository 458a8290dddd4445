"""close_wait.py PORT DIR PG_PORT LIMIT -- a server connection closed by
pgperf still counts against max_db_connections until its backend has
gone.  The process on unix socket DIR may open LIMIT server connections
to appdb (its share).  LIMIT clients run pg_sleep; one of them leaves
mid-query, so pgperf closes that server connection, but PostgreSQL runs
the sleep to its end before it reads the Terminate.  Another client's
query must wait for that: PostgreSQL, sampled every 10 ms, never sees
more than LIMIT backends in appdb, and the waiting query is served."""
import socket
import sys
import threading
import time

import loadlib
import pgwire

port, d, pg_port, limit = (int(sys.argv[1]), sys.argv[2], int(sys.argv[3]),
                           int(sys.argv[4]))
PASSWORD = "app-secret"
SLEEP = 1.5


def login():
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(30)
    s.connect("%s/.s.PGSQL.%d" % (d, port))
    pgwire.scram_login(s, "app", PASSWORD, "appdb")
    return s


peak, stop, seen = [0], threading.Event(), []


def watch():
    c, cur = loadlib.postgres(pg_port)
    while not stop.is_set():
        cur.execute("select pid, state, left(query, 30) from "
                    "pg_stat_activity where datname = 'appdb' and "
                    "application_name <> 'pgperf analyzer'")
        rows = cur.fetchall()
        if len(rows) > peak[0]:
            peak[0], seen[:] = len(rows), rows
        time.sleep(0.01)
    c.close()


def quiet():
    """Wait for the servers of checks before to idle out, everywhere."""
    c, cur = loadlib.postgres(pg_port)
    for _ in range(100):
        cur.execute("select count(*) from pg_stat_activity where datname = "
                    "'appdb' and application_name <> 'pgperf analyzer'")
        if cur.fetchone()[0] == 0:
            break
        time.sleep(0.1)
    c.close()


quiet()
sleepers = [login() for _ in range(limit)]
waiter = login()  # logged in before the slots fill
w = threading.Thread(target=watch)
w.start()
try:
    for s in sleepers:
        pgwire.send(s, b"Q", b"select pg_sleep(%.1f)\0" % SLEEP)
    time.sleep(0.4)
    t0 = time.time()
    sleepers[0].close()  # leaves mid-query: its server connection closes
    time.sleep(0.1)
    rows, state = pgwire.query(waiter, "select 'served'")
    took = time.time() - t0
    time.sleep(0.3)
finally:
    stop.set()
    w.join()
print("close_wait: the waiting query got %s after %.2f s; PostgreSQL saw "
      "at most %d backends in appdb (limit %d)" %
      (rows, took, peak[0], limit))
assert rows == ["served"] and state is None, (rows, state)
assert peak[0] <= limit, "more than the limit: %s" % seen
for s in sleepers[1:] + [waiter]:
    s.close()

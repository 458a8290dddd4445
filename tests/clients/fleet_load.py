"""fleet_load.py PORT DIR1 DIR2 DIR3 PG_PORT -- three pgperf processes on
one port (so_reuseport, [peers], max_db_connections = 6) under load; one
line per check, exits non-zero on the first that fails:
  load     200 clients x 50 transactions over the shared port, 0 errors;
           PostgreSQL never sees more than 6 connections to appdb from
           the three (2 each)
  cancels  50 CancelRequests sent on new connections to the shared port
           (the kernel spreads them over the processes) each cancel their
           own client's query, and a bystander's query on every process
           is never canceled
  (the shell test then kills a process and checks the others serve)"""
import socket
import sys
import threading
import time

import loadlib
import pgwire

port, dirs, pg_port = int(sys.argv[1]), sys.argv[2:5], int(sys.argv[5])
PASSWORD = "app-secret"


def tcp():
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    return s


def unix(d):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(60)
    s.connect("%s/.s.PGSQL.%d" % (d, port))
    return s


# load: 200 clients x 50 transactions
done, errors, peak, secs = loadlib.load(port, pg_port, 200, 50)
print("load: %d clients x 50 transactions in %.1f s, %d errors %s; "
      "PostgreSQL saw at most %d connections to appdb" %
      (done, secs, len(errors), errors[:3], peak))
assert done == 200 and not errors
assert peak <= 6, "more than max_db_connections from the three: %s" % \
    loadlib.load.at_peak

# bystanders: a long query on each process, which no cancel may reach
by = []
for d in dirs:
    s = unix(d)
    pgwire.scram_login(s, "app", PASSWORD, "appdb")
    pgwire.send(s, b"Q", b"select pg_sleep(60)\0")
    by.append(s)

landed = {}
for i in range(50):
    s = tcp()
    pid, key = pgwire.scram_login(s, "app", PASSWORD, "appdb")
    landed[key >> 24] = landed.get(key >> 24, 0) + 1
    res = {}
    t = threading.Thread(target=lambda: res.update(
        r=pgwire.query(s, "select pg_sleep(10)")))
    t.start()
    time.sleep(0.15)
    c = tcp()
    pgwire.cancel_request(c, pid, key)
    c.recv(1)
    c.close()
    t.join(5)
    assert not t.is_alive(), "cancel %d did not reach its query" % i
    assert res["r"][1] == "57014", "cancel %d: %s" % (i, res["r"])
    s.close()
# the bystanders still run: nothing is waiting for them to read yet
for s in by:
    s.settimeout(0.2)
    try:
        got = s.recv(1)
        raise AssertionError("a bystander's query ended: %r" % got)
    except socket.timeout:
        pass
    s.close()
print("cancels: 50 of 50 canceled their own query (clients on peers %s); "
      "3 bystanders untouched" % sorted(landed.items()))
assert len(landed) >= 2, "the kernel put every client on one process"
# PostgreSQL does not notice a client gone during pg_sleep: end the
# bystanders' backends, so that later tests do not count them
loadlib.terminate(pg_port, "select pg_sleep(60)")

"""peers.py PORT DIR1 DIR2 LOG1 [DIR...] -- pgperf processes as one (issue
20): all listen on 127.0.0.1:PORT (so_reuseport) and each on a unix socket
of its own (DIR1, DIR2, ...), with peer_id 1, 2, ... and all in [peers].
Checks, one line each; exits non-zero on the first that fails:
  reuseport  40 TCP connections are spread over all the processes
  peer       a cancel sent to process 2 for a query on process 1 cancels it
  dropped    a cancel naming a peer not in [peers] is dropped, harming none
  waiting    a cancel for a client waiting for a server connection takes its
             request off the queue with 57014; the client goes on"""
import socket
import sys
import threading
import time

import psycopg2

import pgwire

port, dir1, dir2, log1 = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
alldirs = [dir1, dir2] + sys.argv[5:]
PASSWORD = "app-secret"


def unix(d):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(30)
    s.connect("%s/.s.PGSQL.%d" % (d, port))
    return s


def login(d, db="appdb"):
    s = unix(d)
    return s, pgwire.scram_login(s, "app", PASSWORD, db)


def cancel_via(d, pid, key):
    s = unix(d)
    pgwire.cancel_request(s, pid, key)
    s.recv(1)  # pgperf closes it once handled
    s.close()


def admin_count(d):
    """Clients of appdb that process d has now (its admin console)."""
    c = psycopg2.connect(host=d, port=port, user="app", password=PASSWORD,
                         dbname="pgperf")
    c.autocommit = True
    cur = c.cursor()
    cur.execute("SHOW CLIENTS")
    cols = [x[0] for x in cur.description]
    n = sum(1 for r in cur.fetchall() if r[cols.index("database")] == "appdb")
    c.close()
    return n


# reuseport: the kernel spreads connections over both listeners
conns = [psycopg2.connect(host="127.0.0.1", port=port, user="app",
                          password=PASSWORD, dbname="appdb")
         for _ in range(40)]
for c in conns:
    c.autocommit = True  # no transaction left open to hold a server
    c.cursor().execute("select 1")
counts = [admin_count(d) for d in alldirs]
print("reuseport: 40 connections, %s on processes 1..%d" %
      (" + ".join(map(str, counts)), len(counts)))
assert min(counts) > 0 and sum(counts) == 40, "not spread over all"
for c in conns:
    c.close()

# peer: the key names process 1; process 2 forwards the cancel there
a, (pid, key) = login(dir1)
assert key >> 24 == 1, "the key does not name peer 1: %08x" % key
result = {}
t = threading.Thread(target=lambda: result.update(
    r=pgwire.query(a, "select pg_sleep(20)")))
t0 = time.time()
t.start()
time.sleep(0.5)
cancel_via(dir2, pid, key)
t.join(10)
took = time.time() - t0
assert not t.is_alive(), "the query was not canceled"
print("peer: canceled through process 2 in %.2f s: %s" % (took, result["r"][1]))
assert result["r"][1] == "57014" and took < 5

# dropped: a key naming peer 9, which is not configured
b, (bpid, bkey) = login(dir1)
cancel_via(dir1, bpid, (9 << 24) | (bkey & 0xffffff))
rows, state = pgwire.query(b, "select pg_sleep(1.5), 'done'")
assert state is None, "a cancel for peer 9 reached another client: %s" % state
deadline = time.time() + 5
while "cancel request for peer 9 dropped" not in open(log1).read():
    assert time.time() < deadline, "no log line for the dropped cancel"
    time.sleep(0.1)
print("dropped: a cancel for peer 9 changed nothing and was logged")

# waiting: appdb_one has one server; c holds it in a transaction, d waits
c, _ = login(dir1, "appdb_one")
d, (dpid, dkey) = login(dir1, "appdb_one")  # logins take the server too
assert pgwire.query(c, "begin")[1] is None
assert pgwire.query(c, "select 1")[1] is None
pgwire.send(d, b"Q", b"select 2\0")
time.sleep(0.5)  # queued behind c
t0 = time.time()
cancel_via(dir2, dpid, dkey)
# the answer to the Query sent above
state = None
while True:
    typ, p = pgwire.recv_msg(d)
    if typ == b"E":
        state = [f[1:].decode() for f in p.split(b"\0") if f[:1] == b"C"][0]
    if typ == b"Z":
        break
took = time.time() - t0
print("waiting: the queued request failed with %s after %.2f s" % (state, took))
assert state == "57014" and took < 3, "the waiting request was not canceled"
assert pgwire.query(c, "commit")[1] is None
rows, state = pgwire.query(d, "select 3")
assert rows == ["3"] and state is None, (rows, state)
print("waiting: then its next query ran: %s" % rows)

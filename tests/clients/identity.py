"""identity.py DSN MODE -- what a client may rely on about its backend's
pid through pgperf.  MODE "session": the pid in BackendKeyData is the
backend's own (pg_backend_pid() agrees).  Both modes: a notification names
the connection that sent it (conn.info.backend_pid of the sender), whether
sender and listener are pinned to a server or not, and a cancel sent with
the pid a client was told cancels only that client's query.  Prints one line
per check; exits non-zero on the first that fails."""
import select
import sys
import threading
import time

import psycopg2
import psycopg2.extensions

dsn, mode = sys.argv[1], sys.argv[2]


def connect():
    c = psycopg2.connect(dsn)
    c.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
    return c


def one(conn, sql):
    cur = conn.cursor()
    cur.execute(sql)
    return cur.fetchone()[0] if cur.description else None


def wait_notify(conn, what):
    deadline = time.time() + 5
    while not conn.notifies and time.time() < deadline:
        select.select([conn], [], [], 0.5)
        conn.poll()
    assert conn.notifies, "no notification: " + what
    return conn.notifies.pop(0)


a, b, c = connect(), connect(), connect()
pids = {x.info.backend_pid for x in (a, b, c)}
assert len(pids) == 3, "two clients were told the same pid"
if mode == "session":
    real = one(a, "select pg_backend_pid()")
    print("backend_pid %d, pg_backend_pid() %d" % (a.info.backend_pid, real))
    assert a.info.backend_pid == real, "the pid told is not the backend's"

# a and b listen (pinned in transaction mode); each hears the other and
# itself by the pid it was told
one(a, "listen identity_ch")
one(b, "listen identity_ch")
for sender, listener in ((a, b), (b, a), (a, a)):
    payload = "from %d" % sender.info.backend_pid
    one(sender, "notify identity_ch, '%s'" % payload)
    n = wait_notify(listener, payload)
    print("pinned: notification from pid %d (sender %d), payload %s" %
          (n.pid, sender.info.backend_pid, n.payload))
    assert n.pid == sender.info.backend_pid and n.payload == payload
    for x in (a, b):  # the other one heard it too; drop it
        if x is not listener:
            wait_notify(x, "copy of " + payload)

# c never listens: in transaction mode its server goes back to the pool
# after each statement; pg_notify() and NOTIFY alike name it
for i, sql in enumerate(("select pg_notify('identity_ch', 'c%d')",
                         "notify identity_ch, 'c%d'")):
    one(c, "select 1")  # another transaction first
    one(c, sql % i)
    for x in (a, b):
        n = wait_notify(x, "from c")
        print("unpinned: notification from pid %d (sender %d), payload %s" %
              (n.pid, c.info.backend_pid, n.payload))
        assert n.pid == c.info.backend_pid and n.payload == "c%d" % i

# a trigger-free notification inside an explicit transaction
cur = c.cursor()
c.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_READ_COMMITTED)
cur.execute("select 1")
cur.execute("notify identity_ch, 'in a transaction'")
c.commit()
c.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
n = wait_notify(b, "transaction")
assert n.pid == c.info.backend_pid, "transaction: pid %d" % n.pid
wait_notify(a, "transaction copy")
print("in a transaction: from pid %d" % n.pid)


# a cancel with the pid told cancels a's query, and not b's
def cancel_soon():
    time.sleep(0.5)
    a.cancel()


t = threading.Thread(target=cancel_soon)
t.start()
t0 = time.time()
try:
    one(a, "select pg_sleep(5)")
    print("not cancelled")
    sys.exit(1)
except psycopg2.extensions.QueryCanceledError:
    print("cancelled after %.1f s" % (time.time() - t0))
t.join()
assert one(b, "select 42") == 42
print("ok")

"""loadlib.py -- the load the fleet tests share: many psycopg2 clients
over one port, each running its transactions, while PostgreSQL's own
count of connections to appdb is sampled every 20 ms."""
import threading
import time

import psycopg2

PASSWORD = "app-secret"


def postgres(pg_port):
    """A connection straight to PostgreSQL's postgres database (not appdb,
    so it is not among what the checks count), autocommit, and its
    cursor."""
    c = psycopg2.connect(host="127.0.0.1", port=pg_port, user="app",
                         password=PASSWORD, dbname="postgres")
    c.autocommit = True
    return c, c.cursor()


def load(port, pg_port, clients, xacts, sql="select %s", with_side=None):
    """Run CLIENTS x XACTS transactions of `sql` (one %s, an int, read
    back); return (clients done, errors, most connections PostgreSQL saw
    to appdb at once, seconds).  The count leaves out the analyzer's own
    catalog connections (application_name "pgperf analyzer"), which no
    pool limit covers; `with_side`, a list, gets the most seen with them."""
    errors, done = [], [0]
    lock = threading.Lock()
    peak, stop = [0], threading.Event()
    side = [0]
    at_peak = []

    def client():
        try:
            c = psycopg2.connect(host="127.0.0.1", port=port, user="app",
                                 password=PASSWORD, dbname="appdb")
            c.autocommit = True
            cur = c.cursor()
            for i in range(xacts):
                cur.execute(sql, (i,))
                assert cur.fetchone()[0] == i
            c.close()
            with lock:
                done[0] += 1
        except Exception as e:  # noqa: BLE001 -- counted and shown
            with lock:
                errors.append(repr(e))

    def watch():
        c, cur = postgres(pg_port)
        while not stop.is_set():
            cur.execute("select pid, application_name, state, "
                        "now() - backend_start, left(query, 40) "
                        "from pg_stat_activity where datname = 'appdb'")
            rows = cur.fetchall()
            pools = [r for r in rows if r[1] != "pgperf analyzer"]
            if len(pools) > peak[0]:
                peak[0] = len(pools)
                at_peak[:] = pools
            side[0] = max(side[0], len(rows))
            time.sleep(0.02)
        c.close()

    w = threading.Thread(target=watch)
    w.start()
    t0 = time.time()
    ts = [threading.Thread(target=client) for _ in range(clients)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    stop.set()
    w.join()
    if with_side is not None:
        with_side.append(side[0])
    load.at_peak = at_peak  # the backends seen at the peak, for a failure
    return done[0], errors, peak[0], time.time() - t0


def terminate(pg_port, query):
    """End the backends running `query` and wait until they are gone."""
    c, cur = postgres(pg_port)
    cur.execute("select pg_terminate_backend(pid) from pg_stat_activity "
                "where query = %s", (query,))
    for _ in range(50):
        cur.execute("select count(*) from pg_stat_activity "
                    "where query = %s", (query,))
        if cur.fetchone()[0] == 0:
            break
        time.sleep(0.1)
    c.close()

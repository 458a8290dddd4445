"""hold.py PORT PGPERF_PID -- the console commands that hold traffic back
(PAUSE, RESUME, SUSPEND, KILL, DISABLE/ENABLE, RECONNECT, WAIT_CLOSE) and
SIGUSR1/SIGUSR2, as PgBouncer's users rely on them.  pgperf listens on PORT
with `appdb` in session mode and `appdb_tx` in transaction mode, user `app`
in admin_users.  Each check prints one line; the first that fails exits 1.

"Has not finished" is asserted after WAIT seconds: the event it waits for is
the absence of an answer, which only time can show.  Everything else polls
for its condition with a deadline."""
import os
import signal
import sys
import threading
import time

import psycopg2
import psycopg2.extensions

port, pgperf_pid = int(sys.argv[1]), int(sys.argv[2])
WAIT = 0.7
DEADLINE = 10


def dsn(db):
    return "host=127.0.0.1 port=%d user=app dbname=%s" % (port, db)


def connect(db, autocommit=True):
    c = psycopg2.connect(dsn(db))
    if autocommit:
        c.set_isolation_level(
            psycopg2.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
    return c


def console():
    return connect("pgperf")


def run(conn, sql):
    cur = conn.cursor()
    cur.execute(sql)
    return cur.fetchall() if cur.description else None


class Background:
    """Run fn() in a thread; .done tells whether it returned."""

    def __init__(self, fn):
        self.result = self.error = None
        self.finished = threading.Event()

        def body():
            try:
                self.result = fn()
            except Exception as e:  # noqa: BLE001 - reported by the checks
                self.error = e
            self.finished.set()
        self.thread = threading.Thread(target=body, daemon=True)
        self.thread.start()

    def still_running(self, what):
        assert not self.finished.wait(WAIT), \
            "%s finished already (%r %r)" % (what, self.result, self.error)

    def wait(self, what):
        assert self.finished.wait(DEADLINE), what + " never finished"
        if self.error:
            raise self.error
        return self.result


def until(cond, what):
    deadline = time.time() + DEADLINE
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError("never: " + what)


def show(what):
    """The rows of a console SHOW, as dicts by column name."""
    adm = console()
    cur = adm.cursor()
    cur.execute("show " + what)
    cols = [d[0] for d in cur.description]
    rows = [dict(zip(cols, r)) for r in cur.fetchall()]
    adm.close()
    return rows


def pool_row(db):
    for r in show("pools"):
        if r["database"] == db and r["user"] == "app":
            return r
    return {}


def db_row(db):
    return [r for r in show("databases") if r["name"] == db][0]


def waiting(db):
    return int(pool_row(db).get("cl_waiting", 0)) >= 1


def check(name, fn):
    t0 = time.time()
    fn()
    print("ok: %s (%.1f s)" % (name, time.time() - t0))


def pause_waits_for_commit():
    app = connect("appdb_tx", autocommit=False)
    run(app, "select 1")  # a transaction is open
    adm = console()
    pause = Background(lambda: run(adm, "PAUSE"))
    pause.still_running("PAUSE with a transaction open")
    app.commit()
    pause.wait("PAUSE after the commit")
    # the pool has no server connection left
    assert int(pool_row("appdb_tx").get("sv_active", 0)) == 0
    assert int(pool_row("appdb_tx").get("sv_idle", 0)) == 0
    app.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
    q = Background(lambda: run(app, "select 'after resume'"))
    q.still_running("a query while paused")
    until(lambda: waiting("appdb_tx"), "the query counted as waiting")
    assert db_row("appdb_tx")["paused"] == "1"
    run(console(), "RESUME")
    assert q.wait("the query after RESUME") == [("after resume",)]
    assert db_row("appdb_tx")["paused"] == "0"
    app.close()


def pause_session_waits_for_client():
    app = connect("appdb")
    run(app, "select 1")
    adm = console()
    pause = Background(lambda: run(adm, "PAUSE appdb"))
    pause.still_running("PAUSE appdb with a session client")
    # the other database is not paused
    other = connect("appdb_tx")
    assert run(other, "select 7") == [(7,)]
    other.close()
    app.close()
    pause.wait("PAUSE appdb after the client left")
    assert db_row("appdb")["paused"] == "1"
    assert db_row("appdb_tx")["paused"] == "0"
    # a new login waits for RESUME
    late = Background(lambda: run(connect("appdb"), "select 'late'"))
    late.still_running("a login to a paused database")
    run(console(), "RESUME appdb")
    assert late.wait("the login after RESUME") == [("late",)]


def resume_cancels_waiting_pause():
    app = connect("appdb_tx", autocommit=False)
    run(app, "select 1")
    pause = Background(lambda: run(console(), "PAUSE"))
    pause.still_running("PAUSE")
    run(console(), "RESUME")
    try:
        pause.wait("PAUSE after RESUME")
        raise AssertionError("PAUSE succeeded though RESUME came first")
    except psycopg2.Error as e:
        assert e.pgcode == "57014", e.pgcode
    app.commit()
    app.close()


def kill_db():
    victim = connect("appdb_tx")
    run(victim, "select 1")
    run(console(), "KILL appdb_tx")
    try:
        run(victim, "select 1")
        raise AssertionError("a killed client still works")
    except psycopg2.OperationalError as e:
        assert "KILL" in str(e) or e.pgcode in (None, "57P01"), str(e)
    late = Background(lambda: run(connect("appdb_tx"), "select 'k'"))
    late.still_running("a login to a killed database")
    run(console(), "RESUME appdb_tx")
    assert late.wait("the login after RESUME") == [("k",)]


def closes():
    """SHOW CLOSES counts each close by side and reason."""
    got = {(r["side"], r["reason"]): int(r["closed"]) for r in show("closes")}
    for want in (("client", "admin"),        # KILL
                 ("server", "admin"),        # PAUSE, KILL
                 ("server", "close_needed"),  # RECONNECT
                 ("client", "terminate")):   # every psycopg2 close()
        assert got.get(want, 0) >= 1, (want, got)
    assert got[("client", "protocol_error")] == 0, got


def disable_enable():
    run(console(), "DISABLE appdb_tx")
    assert db_row("appdb_tx")["disabled"] == "1"
    try:
        connect("appdb_tx")
        raise AssertionError("a disabled database let a client in")
    except psycopg2.OperationalError as e:
        assert "not currently accepting" in str(e), str(e)
    run(console(), "ENABLE appdb_tx")
    assert run(connect("appdb_tx"), "select 3") == [(3,)]


def reconnect_wait_close():
    app = connect("appdb_tx", autocommit=False)
    before = run(app, "select pg_backend_pid()")[0][0]
    run(console(), "RECONNECT appdb_tx")  # answers at once
    wc = Background(lambda: run(console(), "WAIT_CLOSE appdb_tx"))
    wc.still_running("WAIT_CLOSE with a transaction open")
    app.commit()
    wc.wait("WAIT_CLOSE after the commit")
    app.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
    after = run(app, "select pg_backend_pid()")[0][0]
    assert after != before, "the old server connection was reused"
    app.close()


def suspend_resume():
    app = connect("appdb_tx")
    run(app, "select 1")
    run(console(), "SUSPEND")
    q = Background(lambda: run(app, "select 'unsuspended'"))
    q.still_running("a query while suspended")
    run(console(), "RESUME")
    assert q.wait("the query after RESUME") == [("unsuspended",)]
    app.close()


def signals():
    app = connect("appdb_tx")
    run(app, "select 1")
    os.kill(pgperf_pid, signal.SIGUSR1)
    until(lambda: db_row("appdb_tx")["paused"] == "1", "SIGUSR1 pauses")
    q = Background(lambda: run(app, "select 'usr2'"))
    q.still_running("a query after SIGUSR1")
    os.kill(pgperf_pid, signal.SIGUSR2)
    assert q.wait("the query after SIGUSR2") == [("usr2",)]
    app.close()


def errors():
    adm = console()
    for sql, state in (("RESUME", "55000"), ("KILL", "42601"),
                       ("PAUSE nosuchdb", "3D000"),
                       ("SUSPEND appdb", "42601")):
        try:
            run(adm, sql)
            raise AssertionError(sql + " succeeded")
        except psycopg2.Error as e:
            assert e.pgcode == state, (sql, e.pgcode, str(e))


check("PAUSE answers only after the open transaction commits; queries "
      "wait until RESUME", pause_waits_for_commit)
check("PAUSE db waits for a session client to leave; other databases go "
      "on; logins wait", pause_session_waits_for_client)
check("RESUME cancels a waiting PAUSE (57014)", resume_cancels_waiting_pause)
check("KILL db closes its clients; new ones wait for RESUME", kill_db)
check("DISABLE refuses logins (55000), ENABLE lets them in", disable_enable)
check("RECONNECT replaces servers as released; WAIT_CLOSE waits for it",
      reconnect_wait_close)
check("SUSPEND stops relaying until RESUME", suspend_resume)
check("SIGUSR1 pauses, SIGUSR2 resumes", signals)
check("clear errors for misuse", errors)
check("SHOW CLOSES counts closes by side and reason", closes)
print("ok")

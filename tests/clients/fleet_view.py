"""fleet_view.py -- checks of the fleet view and its leases (issue 20),
run by tests/integration/test_fleet.sh against three pgperf processes
sharing one port, one Redis and max_db_connections = 20.

  fleet_view.py load PORT PG_PORT CLIENTS XACTS LIMIT
      CLIENTS clients x XACTS transactions over the shared port, 0 errors;
      PostgreSQL never sees more than LIMIT connections to appdb
  fleet_view.py steady PORT SECONDS MAX_MS
      20 clients run transactions for SECONDS (meanwhile the shell test
      stops Redis): 0 errors, and none waits longer than MAX_MS; each
      client pauses 2 ms between transactions (see PACE_S)
  fleet_view.py burst PORT CLIENTS SLEEP MAX_S
      CLIENTS clients run pg_sleep(SLEEP) at the same moment: every one is
      done within MAX_S (none waited for a server connection, when MAX_S
      is well under twice SLEEP)
  fleet_view.py sum PORT CTL DIR1 DIR2 ... EXPECTED
      pgperf-ctl --fleet queries --json shows the probe's calls equal to
      the sum of SHOW QUERIES over the processes (each asked on its own
      unix socket) and to EXPECTED, the number the clients sent
One line per check; exits non-zero when one fails."""
import json
import math
import os
import subprocess
import sys
import time

import psycopg2

import loadlib

PASSWORD = "app-secret"
PROBE = "fleet_probe"
# steady's clients pause this long between transactions, so that the CPU
# is not saturated and a tail means a client waited in pgperf, not that
# two cores were busy (without the pause, the slowest of 20 saturating
# threads reached 195-330 ms with Redis left alone)
PACE_S = 0.002


def connect(port, host="127.0.0.1", **kw):
    """A connection as the tests' app user, in autocommit."""
    c = psycopg2.connect(host=host, port=port, user="app", password=PASSWORD,
                         dbname="appdb", **kw)
    c.autocommit = True
    return c


def join_by(ts, deadline):
    """Join the (daemon) threads until `deadline`; how many still run."""
    for t in ts:
        t.join(max(0.0, deadline - time.time()))
    return sum(1 for t in ts if t.is_alive())


def load(port, pg_port, clients, xacts, limit):
    side = []
    done, errors, peak, secs = loadlib.load(
        port, pg_port, clients, xacts, "select %s::int as " + PROBE, side)
    print("load: %d clients x %d transactions in %.1f s, %d errors %s; "
          "PostgreSQL saw at most %d connections to appdb from the pools "
          "(limit %d; %d with the analyzers' own)" %
          (done, xacts, secs, len(errors), errors[:3], peak, limit, side[0]))
    assert done == clients and not errors
    assert peak <= limit, "more than max_db_connections from the fleet: %s" % \
        loadlib.load.at_peak


def steady(port, seconds, max_ms):
    import threading
    errors, lat, slow = [], [], []
    lock = threading.Lock()
    start = time.time()
    end = start + seconds

    def client():
        try:
            c = connect(port)
            cur = c.cursor()
            while time.time() < end:
                t0 = time.time()
                cur.execute("select 1")
                cur.fetchone()
                dt = time.time() - t0
                with lock:
                    lat.append(dt)
                    if dt > 0.1:
                        slow.append((t0 - start, dt))
                time.sleep(PACE_S)
            c.close()
        except Exception as e:  # noqa: BLE001 -- counted and shown
            with lock:
                errors.append(repr(e))

    ts = [threading.Thread(target=client, daemon=True) for _ in range(20)]
    for t in ts:
        t.start()
    stuck = join_by(ts, end + max_ms / 1000.0 + 5)
    with lock:
        lat = sorted(lat)
        errors = list(errors)
    worst = lat[-1] if lat else 0.0
    p999 = lat[math.ceil(len(lat) * 0.999) - 1] if lat else 0.0
    print("steady: %d transactions in %d s, %d errors %s, %d clients still "
          "in a transaction at the end, p99.9 %.0f ms, %d over 100 ms, the "
          "slowest %.0f ms (at most %d)" %
          (len(lat), seconds, len(errors), errors[:3], stuck, p999 * 1000,
           len(slow), worst * 1000, max_ms), flush=True)
    for t0, dt in sorted(slow, key=lambda x: -x[1])[:5]:
        print("  slow: started at %.3f s (%.3f wall), took %.0f ms" %
              (t0, start + t0, dt * 1000), flush=True)
    if stuck:
        os._exit(1)  # their connections are still in use: leave them
    assert not errors
    assert worst * 1000 <= max_ms, "clients stalled"


def burst(port, clients, sleep_s, max_s):
    """CLIENTS clients, connected first, each run pg_sleep(SLEEP_S) at the
    same moment: every one must be done within MAX_S, so none waited for
    a server (the pools could open what they needed at once)."""
    import threading
    conns = []
    for _ in range(clients):
        # a login waits for a server too: bounded, so that a pool that
        # may open none fails the check instead of hanging it
        try:
            c = connect(port, connect_timeout=int(max_s + 5))
        except psycopg2.OperationalError as e:
            print("burst: a login was not served within %.0f s: %s" %
                  (max_s + 5, str(e).strip()))
            sys.exit(1)
        conns.append(c)
    took, errors = [], []
    lock = threading.Lock()
    go = threading.Barrier(clients)

    def client(c):
        try:
            cur = c.cursor()
            go.wait(max_s + 4)  # within the deadline below
            t0 = time.time()
            cur.execute("select pg_sleep(%s)", (sleep_s,))
            dt = time.time() - t0
            with lock:
                took.append(dt)
        except Exception as e:  # noqa: BLE001 -- counted and shown
            with lock:
                errors.append(repr(e))

    ts = [threading.Thread(target=client, args=(c,), daemon=True)
          for c in conns]
    for t in ts:
        t.start()
    stuck = join_by(ts, time.time() + max_s + 5)
    with lock:
        took = sorted(took)
        errors = list(errors)
    print("burst: %d clients ran pg_sleep(%.1f) at once, %d errors %s, %d "
          "still waiting after %.0f s; the fastest took %.0f ms, the "
          "slowest %.0f ms (at most %.0f)" %
          (clients, sleep_s, len(errors), errors[:3], stuck, max_s + 5,
           took[0] * 1000 if took else 0, took[-1] * 1000 if took else 0,
           max_s * 1000), flush=True)
    if stuck:
        os._exit(1)  # their connections are still in use: leave them
    for c in conns:
        c.close()
    assert not errors
    assert took[-1] <= max_s, "clients waited"


def probe_calls(rows):
    """The probe's calls in rows of SHOW QUERIES (dicts)."""
    return sum(int(r["calls"]) for r in rows if PROBE in r["query"])


def show_queries(d, port):
    c = psycopg2.connect(host=d, port=port, user="app", password=PASSWORD,
                         dbname="pgperf")
    c.autocommit = True
    cur = c.cursor()
    cur.execute("SHOW QUERIES")
    names = [x[0] for x in cur.description]
    rows = [dict(zip(names, r)) for r in cur.fetchall()]
    c.close()
    return rows


def fleet_sum(port, ctl, dirs, expected):
    per = [probe_calls(show_queries(d, port)) for d in dirs]
    env = {"PGPASSWORD": PASSWORD, "PATH": "/usr/bin:/bin"}
    # the view is merged every stats_period from records published every
    # stats_period: wait until it has caught up, at most 15 s
    deadline = time.time() + 15
    while True:
        out = subprocess.run(
            [ctl, "-h", "127.0.0.1", "-p", str(port), "-U", "app", "--fleet",
             "queries", "--json"], capture_output=True, text=True, env=env,
            timeout=10)
        assert out.returncode == 0, out.stderr
        rows = json.loads(out.stdout)
        fleet = probe_calls(rows)
        if fleet == expected or time.time() > deadline:
            break
        time.sleep(0.5)
    probe = [r for r in rows if PROBE in r["query"]]
    print("fleet queries: %d calls of the probe; the processes say %s "
          "(sum %d); the clients sent %d; processes column %s" %
          (fleet, per, sum(per), expected,
           [r["processes"] for r in probe]))
    assert sum(per) == expected, "the processes lost statements"
    assert fleet == expected, "the fleet view is not the sum"
    assert len(probe) == 1, "one fingerprint, merged"
    assert int(probe[0]["processes"]) == sum(1 for n in per if n), \
        "the row does not say how many processes it covers"
    assert probe[0]["stale"] == "", "no process is stale yet"


if sys.argv[1] == "load":
    load(*[int(x) for x in sys.argv[2:7]])
elif sys.argv[1] == "steady":
    steady(*[int(x) for x in sys.argv[2:5]])
elif sys.argv[1] == "burst":
    burst(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]),
          float(sys.argv[5]))
elif sys.argv[1] == "sum":
    fleet_sum(int(sys.argv[2]), sys.argv[3], sys.argv[4:-1],
              int(sys.argv[-1]))
else:
    sys.exit("usage: see the docstring")

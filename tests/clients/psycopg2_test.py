"""psycopg2 through pgperf in transaction mode: client-side parameters,
implicit transactions, per-connection settings kept across transactions,
and a temp table within a session."""
import os

import psycopg2

N = 4
conns = [psycopg2.connect(os.environ["PGPERF_DSN"]) for _ in range(N)]
for i, c in enumerate(conns):
    cur = c.cursor()
    cur.execute(f"set timezone = 'UTC+{i}'")
    c.commit()
for rnd in range(5):
    for i, c in enumerate(conns):
        cur = c.cursor()
        cur.execute("select %s::int + %s", (rnd, i))
        assert cur.fetchone()[0] == rnd + i
        cur.execute("show timezone")
        assert cur.fetchone()[0] == f"UTC+{i}"
        c.commit()
c = conns[0]
cur = c.cursor()
cur.execute("create temp table t(x int)")
cur.execute("insert into t values (1), (2)")
c.commit()
cur.execute("select count(*) from t")
assert cur.fetchone()[0] == 2
c.commit()
for c in conns:
    c.close()
print(f"psycopg2 {psycopg2.__version__.split()[0]}: ok")

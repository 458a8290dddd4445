"""psycopg 3 through pgperf in transaction mode: with prepare_threshold=0
every connection names its statements _pg3_0, _pg3_1, ... so the names
collide across connections while the SQL differs.  Exits non-zero on any
wrong result."""
import os
import sys

import psycopg

N = 6
conns = [psycopg.connect(os.environ["PGPERF_DSN"], autocommit=True,
                         prepare_threshold=0) for _ in range(N)]
pids = set()
for rnd in range(10):
    for i, c in enumerate(conns):
        # the same statement text position, different SQL per connection
        got = c.execute(f"select %s::int + {i * 1000}", (rnd,)).fetchone()[0]
        assert got == i * 1000 + rnd, (i, rnd, got)
        with c.transaction():
            got = c.execute(f"select %s::text || '-{i}'", (str(rnd),)).fetchone()[0]
            assert got == f"{rnd}-{i}", got
        pids.add(c.execute("select pg_backend_pid()").fetchone()[0])
# prepared on the server for real, under pgperf's names
n = conns[0].execute("select count(*) from pg_prepared_statements "
                     "where name like 'pgperf%%'").fetchone()[0]
assert n >= 1, n
# per-connection settings survive across transactions
for i, c in enumerate(conns):
    c.execute(f"set timezone = 'UTC+{i}'")
    c.execute(f"set search_path = s{i}, public")
for i, c in enumerate(conns):
    assert c.execute("show timezone").fetchone()[0] == f"UTC+{i}"
    assert c.execute("show search_path").fetchone()[0] == f"s{i}, public"
for c in conns:
    c.close()
assert len(pids) < N, f"connections did not share servers: {pids}"
print(f"psycopg {psycopg.__version__}: ok ({len(pids)} server connections for {N} clients)")

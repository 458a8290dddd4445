"""A known workload for test_stats.sh: 4 statement shapes, 5 literal
variants each, sent once with values inlined (simple protocol, psycopg2)
and once as parameters (extended protocol, psycopg 3, prepared after two
uses).  Every statement runs in autocommit, so nothing else is sent."""
import sys

import psycopg
import psycopg2

dsn = sys.argv[1]
SHAPES = [
    ("SELECT a, b FROM statt WHERE a = {0}", "SELECT a, b FROM statt WHERE a = %s"),
    ("SELECT count(*) FROM statt WHERE a < {0}", "SELECT count(*) FROM statt WHERE a < %s"),
    ("UPDATE statt SET b = 'w' || '{0}' WHERE a = {0}", "UPDATE statt SET b = 'w' || %s WHERE a = %s"),
    ("SELECT a FROM statt WHERE a BETWEEN {0} AND {0} + 2",
     "SELECT a FROM statt WHERE a BETWEEN %s AND %s + 2"),
]
VALUES = [3, 11, 27, 42, 60]

simple = psycopg2.connect(dsn)
simple.autocommit = True
cur = simple.cursor()
for inline, _ in SHAPES:
    for v in VALUES:
        cur.execute(inline.format(v))
simple.close()

ext = psycopg.connect(dsn, autocommit=True, prepare_threshold=2)
for _, param in SHAPES:
    for v in VALUES:
        ext.execute(param, (v,) * param.count("%s"))
ext.close()
print("workload done")

#!/usr/bin/python3
"""cache_extended.py -- the result cache with the extended protocol
(psycopg 3: unnamed Parse, Bind, Describe, Execute, Sync), text and
binary: every answer must be right, before and after an UPDATE made
through the other instance.

    cache_extended.py URL_A URL_B    exit 1 on a wrong answer
"""
import sys
import time

import psycopg

a = psycopg.connect(sys.argv[1], autocommit=True)
b = psycopg.connect(sys.argv[2], autocommit=True)


def read(conn, binary):
    with conn.cursor(binary=binary) as cur:
        cur.execute("select v, k from cache_t where k = %s", (8,))
        return cur.fetchone()


# the first of a shape goes to PostgreSQL while the analyzer parses it
read(a, False)
read(a, True)
time.sleep(0.3)
for binary in (False, True):
    for _ in range(5):
        got = read(a, binary)
        assert got == ("v8", 8), (binary, got)
b.execute("update cache_t set v = %s where k = %s", ("ext8", 8))
for binary in (False, True):
    for conn in (a, b):
        got = read(conn, binary)
        assert got == ("ext8", 8), (binary, got)
b.execute("update cache_t set v = %s where k = %s", ("v8", 8))
assert read(a, True) == ("v8", 8)
print("extended protocol: text and binary answers right, before and after a write")

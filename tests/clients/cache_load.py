#!/usr/bin/python3
"""cache_load.py -- a bounded load of cacheable reads through pgperf, for
the result-cache integration test: 4 connections (psycopg2, autocommit,
simple protocol) each run N reads of cache_t, checking every answer
against the table's known contents.

    cache_load.py URL N    prints "reads R errors E wrong W"; exit 1 if E or W
"""
import sys
import threading

import psycopg2

url, n = sys.argv[1], int(sys.argv[2])
counts = {"reads": 0, "errors": 0, "wrong": 0}
lock = threading.Lock()


def worker(w):
    try:
        conn = psycopg2.connect(url)
        conn.autocommit = True
        cur = conn.cursor()
    except Exception as e:  # a failed connection is an error too
        with lock:
            counts["errors"] += n
        print("connect:", e, file=sys.stderr)
        return
    for i in range(n):
        k = 1 + (i + w) % 10
        try:
            cur.execute("select v from cache_t where k = %s", (k,))
            row = cur.fetchone()
            ok = row is not None and row[0] == "v%d" % k
            with lock:
                counts["reads"] += 1
                counts["wrong"] += 0 if ok else 1
        except Exception as e:
            with lock:
                counts["errors"] += 1
            print("read:", e, file=sys.stderr)
            try:
                conn = psycopg2.connect(url)
                conn.autocommit = True
                cur = conn.cursor()
            except Exception:
                pass
    conn.close()


threads = [threading.Thread(target=worker, args=(w,)) for w in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("reads %(reads)d errors %(errors)d wrong %(wrong)d" % counts)
sys.exit(1 if counts["errors"] or counts["wrong"] else 0)

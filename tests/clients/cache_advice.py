#!/usr/bin/python3
"""cache_advice.py -- an ORM-shaped workload for the cache advice
(test_cache_advice.sh), through pgperf with psycopg2.

  cache_advice.py DSN setup      tables and rows
  cache_advice.py DSN run        the workload
  cache_advice.py check EXPORT   the findings: exits 1 with the reason

The workload has:
  - a catalog query run 60 times with one value, a write to its table
    after every sixth run (10 writes): most runs could come from a cache;
  - requests that each read 35 orders and then each order's items one by
    one (an N+1, about 1,000 distinct order ids, most of the time): their
    values hardly repeat, so a cache would not help; eager loading does;
  - a request that reads a customer's orders, inserts an order and reads
    them again: the re-read is not redundant.
"""
import json
import sys

import psycopg2


def setup(dsn):
    c = psycopg2.connect(dsn)
    c.autocommit = True
    cur = c.cursor()
    cur.execute("""
        drop table if exists adv_cat, adv_item, adv_order;
        create table adv_cat(k int primary key, v text);
        insert into adv_cat select g, 'label ' || g from generate_series(1, 10) g;
        create table adv_order(id int primary key, customer int);
        insert into adv_order select g, g % 50 from generate_series(1, 1100) g;
        create table adv_item(id serial primary key, order_id int, sku text);
        insert into adv_item(order_id, sku)
            select o, 'sku-' || i from generate_series(1, 1100) o, generate_series(1, 2) i;
        create index on adv_item(order_id);
    """)
    c.close()


def run(dsn):
    c = psycopg2.connect(dsn)
    cur = c.cursor()
    # the catalog query: one value, a write to its table every sixth run
    for i in range(60):
        cur.execute("select v from adv_cat where k = %s", (1,))
        cur.fetchall()
        c.commit()
        if i % 6 == 5:
            cur.execute("update adv_cat set v = v where k = %s", (2,))
            c.commit()
    # N+1: each request (a transaction) reads 35 orders, then their items
    for r in range(30):
        first = 1 + r * 35
        cur.execute("select id from adv_order where id between %s and %s order by id",
                    (first, first + 34))
        for (oid,) in cur.fetchall():
            cur.execute("select id, sku from adv_item where order_id = %s", (oid,))
            cur.fetchall()
        c.commit()
    # read, write, read again in one request: not redundant
    for _ in range(3):
        cur.execute("select id from adv_order where customer = %s order by id", (7,))
        cur.fetchall()
        cur.execute("insert into adv_order values ((select max(id) + 1 from adv_order), 7)")
        cur.execute("select id from adv_order where customer = %s order by id", (7,))
        cur.fetchall()
        c.commit()
    c.close()


def check(path):
    with open(path) as f:
        doc = json.load(f)
    found = doc["findings"]
    def about(kind, table):
        return [f for f in found if f["kind"] == kind and table in f["query"]]
    cq_cat = about("cacheable_query", "adv_cat")
    cq_item = about("cacheable_query", "adv_item")
    seq_item = about("sequential_queries", "adv_item")
    rq_order = about("redundant_query", "adv_order")
    n1 = about("n_plus_one", "adv_item")
    print("cacheable: %s; n_plus_one on items: %d; related: %s" % (
        [f["query"] for f in found if f["kind"] == "cacheable_query"], len(n1),
        [r["kind"] for f in n1 for r in f.get("related", [])]))
    if not cq_cat:
        sys.exit("FAILED: the repeated catalog query is not found cacheable")
    ev = cq_cat[0]["evidence"]
    if ev["repeats_within_ttl"] < 40 or ev["hit_ratio_pct"] < 60:
        sys.exit("FAILED: catalog query's hit potential: %s" % ev)
    if cq_item:
        sys.exit("FAILED: the N+1 child is called cacheable: %s" % cq_item[0]["suggestion"])
    if not n1:
        sys.exit("FAILED: no N+1 finding on the items")
    if seq_item:
        sys.exit("FAILED: sequential_queries advice next to the N+1: %s" % seq_item[0]["id"])
    if rq_order:
        sys.exit("FAILED: a re-read after a write called redundant: %s" % rq_order[0]["evidence"])


def main():
    if sys.argv[1] == "check":
        check(sys.argv[2])
    elif sys.argv[2] == "setup":
        setup(sys.argv[1])
    else:
        run(sys.argv[1])


if __name__ == "__main__":
    main()

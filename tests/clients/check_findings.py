#!/usr/bin/python3
"""check_findings.py -- assertions on pgperf's findings export for the N+1
integration test.

    check_findings.py sqlalchemy|django|libpq FINDINGS.json [--routes]
    check_findings.py requests REQUESTS.json ROUTE=NPLUS1_REQUESTS...

Prints the findings it checked; exits non-zero with the reason on the
first failed assertion.
"""
import json
import sys


def nplus1(doc):
    return [f for f in doc["findings"] if f["kind"] == "n_plus_one"]


def show(fs):
    for f in fs:
        rel = (f.get("relation") or {}).get("text", "-")
        print("%s %s %s: %s" % (f["severity"], f["kind"], f.get("status", ""), rel))
        print("   parent: %s" % f.get("parent_query"))
        print("   child:  %s" % f["query"])
        print("   fix:    %s" % f["suggestion"]["summary"])


def common(doc, raw):
    assert doc["version"] == 1, doc["version"]
    for f in doc["findings"]:
        for key in ("id", "kind", "severity", "tables", "query", "evidence", "suggestion"):
            assert key in f, (key, f)
    # only normalized queries: none of the literal values of the workload
    for literal in ("sku-", "customer 1", "'s1'", "c10"):
        assert literal not in raw, "literal %r in the export" % literal


def expect(f, parent, child, kind, routes, **hints):
    rel = f["relation"]
    assert f["status"] == "proven", f
    assert f["severity"] == "high", f
    assert rel["parent"] == parent and rel["child"] == child, rel
    assert rel["type"] == kind, rel
    assert rel["from_catalog"] is True, rel
    for orm, want in hints.items():
        assert f["suggestion"][orm] == want, (orm, f["suggestion"][orm], want)
    assert "= ANY($" in f["suggestion"]["batched_query"], f["suggestion"]
    assert f["evidence"]["requests"] == 3, f["evidence"]
    if routes is not None:
        assert f["evidence"]["routes"] == routes, f["evidence"]["routes"]


def main():
    mode, path = sys.argv[1], sys.argv[2]
    raw = open(path).read()
    doc = json.loads(raw)
    if mode == "requests":
        got = {r["route"]: int(r["nplus1_requests"]) for r in doc}
        for want in sys.argv[3:]:
            route, n = want.split("=")
            assert got.get(route) == int(n), (route, got)
        print("requests:", got)
        return
    routes = "--routes" in sys.argv
    common(doc, raw)
    fs = nplus1(doc)
    show(doc["findings"])
    if mode in ("sqlalchemy", "libpq"):
        assert len(fs) == 1, "want one n_plus_one, got %d" % len(fs)
        f = fs[0]
        assert set(f["tables"]) == {"orders", "order_items"}, f["tables"]
        assert f["evidence"]["max_repeats"] == 12, f["evidence"]
        expect(f, "orders.id", "order_items.order_id", "one_to_many",
               ["/orders/lazy"] if routes else None,
               sqlalchemy="selectinload(Order.order_items)",
               django="Order.objects.prefetch_related('orderitem_set')",
               rails="Order.includes(:order_items)")
    elif mode == "django":
        assert len(fs) == 2, "want two n_plus_one, got %d" % len(fs)
        items = [f for f in fs if "shop_orderitem" in f["tables"]]
        custs = [f for f in fs if "shop_customer" in f["tables"]]
        assert len(items) == 1 and len(custs) == 1, fs
        expect(items[0], "shop_order.id", "shop_orderitem.order_id", "one_to_many",
               ["/orders/items"] if routes else None,
               django="Order.objects.prefetch_related('orderitem_set')")
        expect(custs[0], "shop_order.customer_id", "shop_customer.id", "many_to_one",
               ["/orders/customers"] if routes else None,
               django="Order.objects.select_related('customer')",
               sqlalchemy="joinedload(Order.customer)",
               rails="Order.includes(:customer)")
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()

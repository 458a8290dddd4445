#!/usr/bin/python3
"""check_report.py -- checks on pgperf's findings export (test_report.sh).

  check_report.py SCHEMA EXPORT.json findings KIND...
      the export validates against the schema; it holds a finding of each
      KIND; the report names the bottleneck, and its recommendations name
      every n_plus_one, missing_index and cacheable_query finding
  check_report.py SCHEMA EXPORT.json marks
      metrics compare the windows around the latest mark: after the index
      the p95 fell to a third or less, and improvement says so
  check_report.py SCHEMA EXPORT.json optimized
      optimizations_applied lists the index that appeared
  check_report.py SCHEMA EXPORT.json load CLIENTS SECONDS
      load_test_results: pgbench, CLIENTS connections, about SECONDS long
  check_report.py SCHEMA EXPORT.json standards
      the service-level breaches name the small pool and the N+1 route
      (/orders: 11 statements per request)
  check_report.py SCHEMA EXPORT.json kept OLD.json
      every finding (the pools' too) and mark of OLD is still there
Prints one line about what it found; exits 1 with the reason otherwise.
"""
import json
import sys

import jsonschema


def fail(msg):
    print("FAILED:", msg)
    sys.exit(1)


def load(schema_path, path):
    with open(schema_path) as f:
        schema = json.load(f)
    with open(path) as f:
        doc = json.load(f)
    jsonschema.Draft7Validator.check_schema(schema)
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(doc),
                    key=lambda e: list(e.path))
    for e in errors[:5]:
        print("schema:", list(e.path), e.message[:300])
    if errors:
        fail("%d schema violations" % len(errors))
    return doc


def by_kind(doc):
    kinds = {}
    for f in doc["findings"]:
        kinds.setdefault(f["kind"], []).append(f)
    return kinds


def findings(doc, want):
    kinds = by_kind(doc)
    missing = [k for k in want if k not in kinds]
    if missing:
        fail("no %s finding; have %s" % (missing, sorted(kinds)))
    rep = doc["report"]
    recs = {r["finding_id"] for r in rep["recommendations"]}
    for k in ("n_plus_one", "missing_index", "cacheable_query"):
        for f in kinds.get(k, []):
            if f.get("status") in ("kept", "measuring"):
                continue  # done already: an optimization, not a to-do
            if f["id"] not in recs:
                fail("recommendations do not name %s %s" % (k, f["id"]))
    prios = [r["priority"] for r in rep["recommendations"]]
    if prios != list(range(1, len(prios) + 1)):
        fail("priorities are not 1..n: %s" % prios)
    a = rep["analysis"]
    if a["bottleneck_type"] == "none" or not a["root_cause"]:
        fail("no bottleneck named: %s" % a)
    if a.get("finding_id") not in {f["id"] for f in doc["findings"]}:
        fail("the bottleneck is not one of the findings")
    for ps in kinds.get("pool_saturation", []):
        lt = ps["evidence"]["longest_transactions"]
        if not lt or "pg_sleep" not in (lt[0]["slowest_query"] or ""):
            fail("the longest transaction's slowest query: %s" % lt)
    n1 = kinds["n_plus_one"][0]
    if n1["status"] != "proven":
        fail("the N+1 is %s, not proven" % n1["status"])
    if "/orders" not in n1["evidence"]["routes"] or \
            "/orders" not in a["affected_endpoints"]:
        fail("route /orders not among the N+1's routes (%s) or the "
             "affected endpoints (%s)" % (n1["evidence"]["routes"],
                                         a["affected_endpoints"]))
    print("schema ok; %d findings (%s); bottleneck %s: %s" %
          (len(doc["findings"]), ", ".join(sorted(kinds)),
           a["bottleneck_type"], a["root_cause"]))


def marks(doc):
    m = doc["report"]["metrics"]
    b, a, imp = m["before"], m["after"], m["improvement"]
    if not b or not a or not imp:
        fail("no before/after: %s" % m)
    if b["to_mark"] != "index-created" or a["from_mark"] != "index-created":
        fail("windows not around the latest mark: %s / %s" %
             (b["to_mark"], a["from_mark"]))
    if b["from_mark"] != "baseline":
        fail("before does not start at the previous mark: %s" %
             b["from_mark"])
    if not (a["p95_ms"] * 3 <= b["p95_ms"]):
        fail("p95 %.3f ms -> %.3f ms: not the index's effect" %
             (b["p95_ms"], a["p95_ms"]))
    if imp["p95_pct"] < 60:
        fail("improvement.p95_pct %.1f" % imp["p95_pct"])
    ev = [q for q in m["queries"] if "rp_events" in q["query"]]
    if not ev or ev[0]["after"]["mean_ms"] * 3 > ev[0]["before"]["mean_ms"] \
            or ev[0]["before"]["calls"] != 40 or ev[0]["after"]["calls"] != 40:
        fail("the indexed query's before/after: %s" % ev)
    print("p95 %.3f ms -> %.3f ms (%.1f%% better), %d and %d statements" %
          (b["p95_ms"], a["p95_ms"], imp["p95_pct"], b["statements"],
           a["statements"]))


def optimized(doc):
    idx = [o for o in doc["report"]["optimizations_applied"]
           if o["type"] == "index"]
    if not idx or "rp_events" not in idx[0]["description"]:
        fail("no index among optimizations_applied: %s" %
             doc["report"]["optimizations_applied"])
    print("%s: %s" % (idx[0]["description"], idx[0]["impact"]))


def load_test(doc, clients, secs):
    lt = doc["report"]["load_test_results"]
    if not lt:
        fail("no load_test_results")
    if lt["tool"] != "pgbench" or lt["scenario"] != "read-only":
        fail("tool %s, scenario %s" % (lt["tool"], lt["scenario"]))
    if lt["running"] or lt["concurrency"] != clients:
        fail("running %s, concurrency %d" % (lt["running"],
                                             lt["concurrency"]))
    if not (secs * 0.8 <= lt["duration_s"] <= secs + 5):
        fail("duration %.1f s" % lt["duration_s"])
    if lt["throughput_rps"] <= 0 or lt["error_rate"] != 0:
        fail("throughput %.1f, error rate %f" % (lt["throughput_rps"],
                                                 lt["error_rate"]))
    print("pgbench: %d clients, %.1f s, %.0f statements/s, p95 %.3f ms" %
          (lt["concurrency"], lt["duration_s"], lt["throughput_rps"],
           lt["p95_ms"]))


def standards(doc):
    st = doc["report"]["standards"]
    br = {(b["standard"], b["subject"]) for b in st["breaches"]}
    if ("pool_size", "appdb/app") not in br:
        fail("pool_size 3 not a breach: %s" % sorted(br))
    if ("queries_per_request", "/orders") not in br:
        fail("the N+1 route's 11 statements per request not a breach: %s"
             % sorted(br))
    if st["passed"]:
        fail("passed with breaches")
    print("breaches: %s" % ", ".join("%s %s" % b for b in sorted(br)))


def kept(doc, old_path):
    with open(old_path) as f:
        old = json.load(f)
    want = {f["id"] for f in old["findings"]}
    have = {f["id"] for f in doc["findings"]}
    if not want or want - have:
        fail("lost across the restart: %s" % sorted(want - have))
    # the pools' counters came back too, with the long transaction's text
    sat = [f for f in doc["findings"] if f["kind"] == "pool_saturation"]
    old_sat = [f for f in old["findings"] if f["kind"] == "pool_saturation"]
    if not sat or sat[0]["evidence"]["waits"] < old_sat[0]["evidence"]["waits"]:
        fail("pool_saturation's waits lost: %s" % sat)
    lt = sat[0]["evidence"]["longest_transactions"]
    if not lt or "pg_sleep" not in (lt[0]["slowest_query"] or ""):
        fail("the longest transaction's text lost: %s" % lt)
    if [m["name"] for m in old["marks"]] != [m["name"] for m in doc["marks"]]:
        fail("marks lost")
    oq = {q["fingerprint"]: q["calls"] for q in old["queries"]}
    nq = {q["fingerprint"]: q["calls"] for q in doc["queries"]}
    short = [fp for fp, c in oq.items() if nq.get(fp, 0) < c]
    if short:
        fail("statistics lost for %s" % short[:3])
    print("%d findings, %d marks and %d fingerprints kept" %
          (len(want), len(doc["marks"]), len(oq)))


def main():
    schema, path, what = sys.argv[1], sys.argv[2], sys.argv[3]
    doc = load(schema, path)
    if what == "findings":
        findings(doc, sys.argv[4:])
    elif what == "marks":
        marks(doc)
    elif what == "optimized":
        optimized(doc)
    elif what == "load":
        load_test(doc, int(sys.argv[4]), float(sys.argv[5]))
    elif what == "standards":
        standards(doc)
    elif what == "kept":
        kept(doc, sys.argv[4])
    else:
        fail("unknown check " + what)


main()

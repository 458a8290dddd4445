"""Checks for test_stats.sh: what pgperf-ctl, /queries and /metrics say
about the workload of stats_workload.py."""
import json
import sys
import urllib.request

EXPECTED = {  # normalized text prefix -> (calls, rows)
    "SELECT a, b FROM statt WHERE a = $1": (10, 10),
    "SELECT count(*) FROM statt WHERE a < $1": (10, 10),
    "UPDATE statt SET b = ": (10, 10),
    "SELECT a FROM statt WHERE a BETWEEN $1 AND $2 + $3": (10, 30),
}


def match(rows, key):
    text_key = "query"
    found = [r for r in rows if r[text_key].startswith(key)]
    assert len(found) == 1, f"{key!r}: {len(found)} entries in {[r[text_key] for r in rows]}"
    return found[0]


def check_queries(rows, where):
    assert len(rows) == len(EXPECTED), f"{where}: {len(rows)} fingerprints, want {len(EXPECTED)}: {[r['query'] for r in rows]}"
    for key, (calls, nrows) in EXPECTED.items():
        r = match(rows, key)
        assert r["calls"] == calls, f"{where} {key}: calls {r['calls']}, want {calls}"
        assert r["rows"] == nrows, f"{where} {key}: rows {r['rows']}, want {nrows}"
        assert r["errors"] == 0, f"{where} {key}: errors {r['errors']}"
        p = [float(r[k]) for k in ("min_ms", "p50_ms", "p95_ms", "p99_ms", "max_ms")]
        assert p == sorted(p), f"{where} {key}: percentiles out of order {p}"
        assert p[-1] > 0, f"{where} {key}: no latency"


def main():
    what, arg = sys.argv[1], sys.argv[2]
    if what == "ctl":  # pgperf-ctl queries --json output in a file
        rows = json.load(open(arg))
        check_queries(rows, "pgperf-ctl")
        print("pgperf-ctl queries --json: 4 fingerprints, calls and rows right")
    elif what == "http":  # base URL
        doc = json.load(urllib.request.urlopen(arg + "/queries"))
        assert doc["version"] == 1, doc.get("version")
        check_queries(doc["queries"], "/queries")
        health = urllib.request.urlopen(arg + "/healthz").read()
        assert health == b"ok\n", health
        from prometheus_client.parser import text_string_to_metric_families
        text = urllib.request.urlopen(arg + "/metrics").read().decode()
        fams = {f.name: f for f in text_string_to_metric_families(text)}
        hist = fams["pgperf_query_duration_seconds"]
        counts = {s.labels["fingerprint"]: s.value for s in hist.samples
                  if s.name.endswith("_count")}
        assert sorted(counts.values()) == [10, 10, 10, 10], counts
        for s in hist.samples:  # cumulative buckets end at the count
            if s.name.endswith("_bucket") and s.labels["le"] == "+Inf":
                assert s.value == counts[s.labels["fingerprint"]]
        assert fams["pgperf_up"].samples[0].value == 1
        q = [s.value for s in fams["pgperf_queries"].samples]
        assert sum(q) >= 40, q
        print(f"/metrics parses ({len(fams)} families), /queries and /healthz right")
    elif what == "errors":  # base URL, after psql ran "select 1/0"
        doc = json.load(urllib.request.urlopen(arg + "/queries"))
        r = match(doc["queries"], "select $1/$2")
        assert r["errors"] == 1 and r["errors_by_sqlstate"] == {"22012": 1}, r
        by = r["by_client"]
        assert len(by) == 1 and by[0]["application_name"] == "psql" and \
            by[0]["database"] == "appdb" and by[0]["user"] == "app" and \
            by[0]["errors"] == 1, by
        w = match(doc["queries"], "SELECT a, b FROM statt")["by_client"]
        assert sum(b["calls"] for b in w) == 10, w
        print("errors by SQLSTATE and per (database, user, application) right")
    else:
        raise SystemExit("usage: check_stats.py ctl FILE | http URL | errors URL")


main()

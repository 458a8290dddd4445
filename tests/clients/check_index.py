#!/usr/bin/python3
"""check_index.py -- assertions on missing_index findings for the index
advice integration test.

    check_index.py FINDINGS.json expect TABLE:COL[,COL]...   exactly these
    check_index.py FINDINGS.json none                        none at all
    check_index.py FINDINGS.json after TABLE:COL             measured, kept

Prints the findings; exits non-zero with the reason on a failed check.
"""
import json
import sys


def main():
    doc = json.load(open(sys.argv[1]))
    mode = sys.argv[2]
    ix = [f for f in doc["findings"] if f["kind"] == "missing_index"]
    for f in ix:
        print("%s %s %s: %s" % (f["severity"], f["kind"], f["status"], f["suggestion"]["summary"]))
    if mode == "none":
        assert not ix, "want no missing_index, got %d" % len(ix)
        return
    want = {}
    for arg in sys.argv[3:]:
        table, cols = arg.split(":")
        want[table] = cols.split(",")
    got = {f["table"]: f for f in ix}
    if mode == "expect":
        assert sorted(got) == sorted(want), (sorted(got), sorted(want))
        for table, cols in want.items():
            f = got[table]
            assert f["columns"] == cols, (table, f["columns"], cols)
            ddl = "CREATE INDEX CONCURRENTLY ON %s (%s)" % (table, ", ".join(cols))
            assert f["ddl"] == ddl, (f["ddl"], ddl)
            assert f["verified"] is True and f["status"] == "suggested", f
            ev = f["evidence"]
            assert ev["cost_after"] <= ev["cost_before"] * 0.5, ev
            assert ev["table_rows"] >= 10000, ev
            assert ev["fingerprints"] and ev["fingerprints"][0]["calls"] >= 5, ev
            assert "$1" in f["query"], f["query"]  # normalized, no values
        # the inserts into ix_events are its cost
        assert got["ix_events"]["evidence"]["table_writes"] == 5, got["ix_events"]["evidence"]
    elif mode == "after":
        (table, cols), = want.items()
        f = got[table]
        assert f["columns"] == cols, f
        assert f["status"] == "kept", f["status"]
        a = f["after"]
        assert a["calls_after"] >= 10 and a["improvement"] > 2, a
        print("measured: %.3f ms -> %.3f ms (%.1fx)" % (a["mean_ms_before"], a["mean_ms_after"], a["improvement"]))
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()

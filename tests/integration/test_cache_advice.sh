#!/usr/bin/env bash
# test_cache_advice.sh -- the cache advice names exactly what would hit.
# An ORM-shaped workload (tests/clients/cache_advice.py) through pgperf
# with the cache off: a catalog query whose value repeats between writes
# is found cacheable, with its hit potential; the child of an N+1, whose
# values hardly repeat, is not, and no sequential_queries advice stands
# beside the N+1's own; a re-read after a write in the same request is not
# called redundant.  The export still validates against its schema.
# Prints "N passed, N failed".
set -uo pipefail

. "${PGPERF_ITEST_ENV:?run through ctest}"
src="$(cd "$(dirname "$0")/../clients" && pwd)"
schema="$(cd "$(dirname "$0")/../../docs" && pwd)/findings.schema.json"
. "$(dirname "$0")/lib.sh"
itest_init advice 22000 "pool_mode = transaction
admin_users = app
sequential_min_ms = 0
index_advice = off"
start_pgperf "$dir/pgperf.log"

export PGPASSWORD=app-secret
dsn="postgresql://app:app-secret@127.0.0.1:$port/appdb?sslmode=disable"
ctl="$PGPERF_CTL -h 127.0.0.1 -p $port -U app"
py=/usr/bin/python3
export dsn ctl py src dir schema

workload() {
	$py "$src/cache_advice.py" "$dsn" setup && $py "$src/cache_advice.py" "$dsn" run &&
		sleep 0.5 && $ctl findings --json >"$dir/export.json"
}
advice() { $py "$src/cache_advice.py" check "$dir/export.json"; }
schema_ok() {
	$py - "$schema" "$dir/export.json" <<'PY'
import json, sys
import jsonschema
schema, doc = (json.load(open(p)) for p in sys.argv[1:3])
errors = list(jsonschema.Draft7Validator(schema).iter_errors(doc))
for e in errors[:5]:
    print(list(e.path), e.message)
sys.exit(1 if errors else 0)
PY
}
export -f workload advice schema_ok
check "the ORM-shaped workload runs" workload
CHECK_SHOW_LAST=1 check "cacheable: the repeating query, not the N+1 child; one finding per root cause" advice
CHECK_SHOW_LAST=1 check "the export validates against the schema" schema_ok
stop_pgperf
itest_summary

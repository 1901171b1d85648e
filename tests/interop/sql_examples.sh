#!/bin/sh
# examples/sql over a demo-sized lake (20,000 events).  DuckDB 1.4.4 with
# its delta extension (from the duckdb-ext-delta wheel, offline) runs every
# examples/sql/duckdb file: the seven original views and the time-travel
# view answer, and DuckDB's version 0 of a gold table holds the rows that
# ps-silver --dump --version-as-of 0 prints.  Synapse serverless SQL cannot
# run here: tests/interop/synapse_check.py checks examples/sql/synapse
# against the documented rules (batches, DELTA external tables and
# OPENROWSET) and against the real Delta schemas of the same lake.
. "$(dirname "$0")/../lib.sh"
PY=$("$TOP/scripts/pyenv.sh" delta) || { echo "FAIL - no Python venv with duckdb and its delta extension"; exit 1; }
INTEROP=$TOP/tests/interop
export INTEROP
cd "$TMPD" || exit 1

ps-simulate -m realistic --count 20000 --seed 7 --start 2026-01-01T00:00:00Z 2>/dev/null |
	ps-bronze -L lake --ingest-time 2026-06-01T00:00:00Z 2>/dev/null |
	ps-silver -L lake 2>/dev/null |
	ps-gold -L lake --now 2026-01-09T12:00:00Z --commit-records 5000 >/dev/null 2>gold.err

cat >duck.py <<'PY'
import os, sys
sys.path.insert(0, os.environ["INTEROP"])
from delta_check import duck
sql, lake = sys.argv[1], sys.argv[2]
os.chdir(lake)
con = duck()
for f in sorted(os.listdir(sql)):
    con.execute(open(os.path.join(sql, f)).read())
for v in ["bed_occupancy", "bed_turnover_rate", "patient_demographics",
          "avg_treatment_duration", "patient_volume_trend",
          "department_inflow", "overstay_patients",
          "census_since_first_commit"]:
    n = con.execute("SELECT count(*) FROM %s" % v).fetchone()[0]
    print(v, n)
    if n == 0:
        sys.exit("%s is empty" % v)
for d, h, c in con.execute("SELECT department, hospital_id, census_first "
                           "FROM census_since_first_commit ORDER BY ALL"
                           ).fetchall():
    print("v0", d, h, c)
sys.stdout.flush()
os._exit(0)
PY

check 'DuckDB runs examples/sql/duckdb: the seven views and time travel answer' '
	"$PY" duck.py "$TOP/examples/sql/duckdb" lake >duck.out &&
	grep -c "^[a-z_]* [1-9]" duck.out | grep -qx 8
'

check 'DuckDB at version 0 of kpi_occupancy = ps-silver --dump --version-as-of 0' '
	test "$(ls lake/gold/kpi_occupancy/_delta_log/*.json | wc -l)" -gt 1 &&
	ps-silver --dump --version-as-of 0 lake/gold/kpi_occupancy |
		jq -r "\"v0 \(.department) \(.hospital_id) \(.census)\"" | sort >ours &&
	grep "^v0 " duck.out | sort | cmp - ours
'

check 'examples/sql/synapse: batches, DELTA tables and columns against the lake' '
	python3 "$INTEROP/synapse_check.py" "$TOP/examples/sql/synapse" lake
'

done_testing

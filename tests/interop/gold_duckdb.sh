#!/bin/sh
# ps-gold's KPI tables against an independent oracle: DuckDB (from PyPI)
# runs examples/sql/duckdb/*.sql over the same lake, computing every KPI
# and the SCD2 patient dimension from silver (the clean records) with the
# definitions of ps-gold(1), and the result must equal what ps-gold
# maintained incrementally (doubles to 1e-9 relative) -- on clean data and
# on dirty data (late, duplicated, unknown departments, lost discharges,
# cancelled admissions and discharges: HL7 A11, A13).
. "$(dirname "$0")/../lib.sh"
PY=$("$TOP/scripts/pyenv.sh" delta) || { echo "FAIL - no Python venv with duckdb and its delta extension"; exit 1; }
T=2026-06-01T00:00:00Z
NOW=2026-01-09T15:30:00Z
INTEROP=$TOP/tests/interop
export INTEROP
cd "$TMPD" || exit 1

ps-simulate -m realistic --count 60000 --seed 5 --start 2026-01-01T00:00:00Z 2>/dev/null |
	ps-bronze -L lake --ingest-time $T 2>/dev/null |
	ps-silver -L lake 2>/dev/null |
	ps-gold -L lake --now $NOW --commit-records 7000 >kpi.ndjson 2>gold.err
ps-simulate -m realistic --count 60000 --seed 6 --start 2026-01-01T00:00:00Z \
	--dirty none --dirty late=2%,duplicate=2%,unknown_department=1%,discharge_before_admission=1%,future_admission=1%,invalid_age=1% 2>/dev/null |
	add_cancels |
	ps-bronze -L dirty --ingest-time $T 2>/dev/null |
	ps-silver -L dirty 2>/dev/null |
	ps-gold -L dirty --now $NOW --commit-records 5000 >/dev/null 2>dirty.err

cat >oracle.py <<'PY'
import math, os, sys
sys.path.insert(0, os.environ["INTEROP"])
from delta_check import duck
sql, lake = sys.argv[1], sys.argv[2]
os.chdir(lake)
con = duck()
for f in sorted(os.listdir(sql)):
    con.execute(open(os.path.join(sql, f)).read())
tables = ["occupancy", "occupancy_hospital", "inflow", "waiting", "ed",
          "los", "volume", "overstay", "demographics", "bed_turnover"]
def same(a, b):
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is b
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return a == b
bad = 0
for t in tables:
    desc = con.execute(
        f"DESCRIBE SELECT * FROM delta_scan('gold/kpi_{t}')").fetchall()
    # timestamps as text (no pytz needed), everything else as is
    sel = ", ".join(f"CAST({r[0]} AS VARCHAR) AS {r[0]}"
                    if "TIME" in r[1] or "DATE" in r[1] else r[0]
                    for r in desc)
    ours = con.execute(f"SELECT {sel} FROM delta_scan('gold/kpi_{t}') ORDER BY ALL").fetchall()
    theirs = con.execute(f"SELECT {sel} FROM o_{t} ORDER BY ALL").fetchall()
    ok = len(ours) == len(theirs) and len(ours) > 0 and all(
        len(x) == len(y) and all(same(a, b) for a, b in zip(x, y))
        for x, y in zip(ours, theirs))
    print(("ok" if ok else "DIFF"), t, len(ours), len(theirs))
    if not ok:
        bad += 1
        for x, y in zip(ours, theirs):
            if x != y:
                print("  ps-gold:", x); print("  duckdb: ", y); break
# the SCD2 dimension, row for row (surrogate keys apart), and its keys
dim = "patient_id, version, gender, age_band, effective_from, effective_to, is_current, last_seen"
sel = ", ".join(f"CAST({c} AS VARCHAR)" if "effective" in c or "seen" in c else c for c in dim.split(", "))
ours = con.execute(f"SELECT {sel} FROM dim_patient ORDER BY ALL").fetchall()
theirs = con.execute(f"SELECT {sel} FROM o_dim_patient ORDER BY ALL").fetchall()
ok = ours == theirs and len(ours) > 0
print(("ok" if ok else "DIFF"), "dim_patient", len(ours), len(theirs))
if not ok:
    bad += 1
    for x, y in zip(ours, theirs):
        if x != y:
            print("  ps-gold:", x); print("  duckdb: ", y); break
dup = con.execute("SELECT count(*) - count(DISTINCT patient_sk) FROM dim_patient").fetchone()[0]
orphans = con.execute("""SELECT count(*) FROM fact_patient_flow f
    LEFT JOIN dim_patient p ON p.patient_sk = f.patient_sk
    WHERE p.patient_sk IS NULL OR f.admission_time < p.effective_from AND p.version > 1
       OR f.admission_time >= p.effective_to""").fetchone()[0]
print(("ok" if dup == 0 and orphans == 0 else "BAD"), "keys: repeated", dup, "facts off their version", orphans)
bad += dup != 0 or orphans != 0
for v in ["bed_occupancy", "bed_turnover_rate", "patient_demographics",
          "avg_treatment_duration", "patient_volume_trend",
          "department_inflow", "overstay_patients"]:
    n = con.execute(f"SELECT count(*) FROM {v}").fetchone()[0]
    print(("ok" if n > 0 else "EMPTY"), v, n)
    bad += n == 0
missing = con.execute("SELECT count(*) FROM o_encounters_missing").fetchone()[0]
print(("ok" if missing == 0 else "MISSING"), "encounters", missing)
bad += missing != 0
present, cancelled = con.execute("SELECT (SELECT count(*) FROM o_cancelled_present), (SELECT count(*) FROM o_cancelled)").fetchone()
print(("ok" if present == 0 else "PRESENT"), "cancelled encounters", cancelled, "with a fact row", present)
bad += present != 0 or (lake == "dirty" and cancelled == 0)
sys.exit(1 if bad else 0)
PY

check 'the pipeline built a gold lake with several commits' '
	grep -q "commits=[1-9][0-9]*" gold.err &&
	! grep -q "commits=1 " gold.err &&
	[ -d lake/gold/kpi_waiting/_delta_log ]'

check 'every KPI table equals the DuckDB recomputation from silver' '
	"$PY" oracle.py "$TOP/examples/sql/duckdb" lake'

check 'the same on dirty data' '
	"$PY" oracle.py "$TOP/examples/sql/duckdb" dirty'

check 'the NDJSON snapshot of the last commit matches the KPI tables' '
	last=$(tail -n 1 kpi.ndjson | sed -n "s/.*\"as_of\":\"\\([^\"]*\\)\".*/\\1/p") &&
	[ "$last" = "$NOW" ] &&
	n=$(grep -c "\"kpi\":\"occupancy\"" kpi.ndjson) &&
	rows=$(ps-silver --dump lake/gold/kpi_occupancy | wc -l) &&
	[ $((n % rows)) -eq 0 ] && [ $n -gt $rows ]'

done_testing

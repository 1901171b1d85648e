"""Compare the numbers a browser read on the ps-dash page with the lake.

    python dash_compare.py LAKE PAGE.json NOW [before|after] [SQLDIR]

Every element with data-k="TABLE|KEY...|COLUMN" is checked against an
independent reading of the lake: KPI tables with pyarrow, the original
views and the per-department trends with DuckDB SQL
(examples/sql/duckdb/01_tables.sql and 02_original_views.sql, with the
Delta extension: run it with scripts/pyenv.sh delta), quarantine
reasons with gzip + json.  The text on the page must equal the value
formatted with as many decimals as the page shows ("-" for no value).
Prints one line per mismatch; exit 1 when any, or when a key is unknown.
"""
import glob
import gzip
import json
import math
import os
import sys
from datetime import datetime, timezone

import pyarrow.parquet as pq

lake, page_json, now_s = sys.argv[1:4]
part = sys.argv[4] if len(sys.argv) > 4 else None
sqldir = sys.argv[5] if len(sys.argv) > 5 else None
page = json.load(open(page_json))
if part:
    page = page[part]
values = page["values"]
now = datetime.fromisoformat(now_s.replace("Z", "+00:00"))


def active(table_dir):
    """The data files of the latest version of a Delta table, from its
    log (the adds not removed since), independently of lib/delta; a
    directory without a log: every Parquet file under it."""
    log = os.path.join(table_dir, "_delta_log")
    if not os.path.isdir(log):
        return sorted(f for f in glob.glob(os.path.join(table_dir, "**", "*.parquet"),
                                           recursive=True)
                      if "/_" not in f and "/." not in f)
    files = set()
    for j in sorted(glob.glob(os.path.join(log, "*.json"))):
        for line in open(j):
            a = json.loads(line)
            if "add" in a:
                files.add(a["add"]["path"])
            elif "remove" in a:
                files.discard(a["remove"]["path"])
    return sorted(os.path.join(table_dir, f) for f in files)


def table(name):
    rows = []
    for f in active(os.path.join(lake, "gold", name)):
        rows.extend(pq.read_table(f).to_pylist())
    return rows


def key_of(row, cols):
    out = []
    for c in cols:
        v = row[c]
        if hasattr(v, "isoformat"):
            v = v.isoformat()[:10]
        out.append(str(v))
    return "|".join(out)


KEYS = {
    "kpi_occupancy": ["department", "hospital_id"],
    "kpi_waiting": ["department", "hospital_id"],
    "kpi_los": ["department", "gender"],
    "kpi_volume": ["admission_date", "gender"],
    "kpi_ed": ["department", "hospital_id"],
}
expected = {}
for name, cols in KEYS.items():
    for r in table(name):
        k = key_of(r, cols)
        for c, v in r.items():
            expected[f"{name}|{k}|{c}"] = v

hosp = table("kpi_occupancy_hospital")
occ = table("kpi_occupancy")
census = sum(r["census"] for r in hosp)
beds = sum(r["beds"] for r in hosp)
expected["tile|network|census"] = census
expected["tile|network|beds"] = beds
expected["tile|network|occupancy_pct"] = 100.0 * census / beds if beds else None
if occ and "waiting" in occ[0]:
    expected["tile|network|waiting_for_bed"] = sum(r["waiting"] or 0 for r in occ)
expected["tile|network|ed_arrivals_last_hour"] = sum(
    r["inflow_last_hour"] for r in occ if r["department"] == "Emergency")

# The original views and the per-department trends, in DuckDB with its
# Delta extension (01_tables.sql reads the gold tables with delta_scan).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "interop"))
from delta_check import duck  # noqa: E402

con = duck()
cwd = os.getcwd()
os.chdir(lake)
if sqldir:
    for f in ("01_tables.sql", "02_original_views.sql"):
        con.execute(open(os.path.join(sqldir, f)).read())
    for view, cols in (("bed_occupancy", ["gender"]),
                       ("bed_turnover_rate", ["gender"]),
                       ("patient_demographics", ["gender"]),
                       ("avg_treatment_duration", ["department", "gender"]),
                       ("department_inflow", ["department", "gender"]),
                       ("overstay_patients", ["department", "gender"])):
        res = con.execute(f"SELECT * FROM {view}")
        names = [d[0] for d in res.description]
        for row in res.fetchall():
            r = dict(zip(names, row))
            k = key_of(r, cols)
            for c, v in r.items():
                expected[f"{view}|{k}|{c}"] = v
    q = f"""
        WITH f AS (SELECT * FROM fact_patient_flow),
        w AS (SELECT department, count(waiting_minutes) n,
                     quantile_cont(waiting_minutes, 0.5) m,
                     quantile_cont(waiting_minutes, 0.9) p
              FROM f WHERE admission_time > TIMESTAMPTZ '{now_s}' - INTERVAL 7 DAY
                       AND admission_time <= TIMESTAMPTZ '{now_s}'
              GROUP BY department),
        l AS (SELECT department, count(*) n,
                     quantile_cont(epoch(discharge_time - admission_time) / 3600, 0.5) m,
                     quantile_cont(epoch(discharge_time - admission_time) / 3600, 0.9) p
              FROM f WHERE discharge_time > TIMESTAMPTZ '{now_s}' - INTERVAL 7 DAY
                       AND discharge_time <= TIMESTAMPTZ '{now_s}'
              GROUP BY department)
        SELECT d.department, w.n, w.m, w.p, l.n, l.m, l.p
        FROM (SELECT DISTINCT department FROM f) d
        LEFT JOIN w USING (department) LEFT JOIN l USING (department)"""
    for dep, wn, wm, wp, ln, lm, lp in con.execute(q).fetchall():
        wn, ln = wn or 0, ln or 0
        expected[f"fact|{dep}|waits"] = wn
        expected[f"fact|{dep}|wait_median"] = wm if wn >= 20 else None
        expected[f"fact|{dep}|wait_p90"] = wp if wn >= 20 else None
        expected[f"fact|{dep}|discharges"] = ln
        expected[f"fact|{dep}|los_median"] = lm if ln >= 20 else None
        expected[f"fact|{dep}|los_p90"] = lp if ln >= 20 else None
    kept, flagged, late = con.execute("""
        SELECT count(*), count(flags), count(*) FILTER (WHERE event_time < m - INTERVAL 5 MINUTE)
        FROM (SELECT flags, event_time, max(event_time) OVER (PARTITION BY source ORDER BY position
                     ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) m FROM silver)""").fetchall()[0]
    expected["quality|silver|kept"] = kept
    expected["quality|silver|flagged"] = flagged
    expected["quality|silver|late"] = late
    # silver's commit point: the txn actions of its Delta log
    pos = {}
    for f in glob.glob("silver/admissions/_delta_log/0*.json"):
        for line in open(f):
            a = json.loads(line)
            if "txn" in a:
                pos[a["txn"]["appId"]] = max(pos.get(a["txn"]["appId"], -1), a["txn"]["version"])
    expected["quality|silver|records_in"] = sum(v + 1 for v in pos.values())
os.chdir(cwd)

reasons = {}
nquar = 0
for f in glob.glob(os.path.join(lake, "quarantine", "*", "*", "*.ndjson.gz")):
    for line in gzip.open(f, "rt"):
        line = line.strip()
        if not line:
            continue
        nquar += 1
        for r in json.loads(line).get("reasons", []):
            reasons[r] = reasons.get(r, 0) + 1
for r, n in reasons.items():
    expected[f"quarantine|{r}|records"] = n
expected["quality|silver|quarantined"] = nquar
if "quality|silver|records_in" in expected:
    expected["quality|silver|duplicates"] = (expected["quality|silver|records_in"] -
                                             expected["quality|silver|kept"] - nquar)

SKIP = ("tile|network|waiting_for_bed", "tile|network|alerts_")  # when gold has no count
bad = checked = 0
for k, text in sorted(values.items()):
    if k not in expected:
        if k.startswith(SKIP):
            continue
        print(f"unknown key on the page: {k} = {text}")
        bad += 1
        continue
    v = expected[k]
    if v is None or (isinstance(v, float) and math.isnan(v)):
        want = "\u2013"
    else:
        dec = len(text.split(".")[1]) if "." in text else 0
        want = f"{float(v):.{dec}f}"
    checked += 1
    if want != text:
        print(f"{k}: page {text!r}, lake {want!r} ({v!r})")
        bad += 1
print(f"compare: {checked} numbers checked, {bad} differ")
if checked < 50:
    print("compare: too few numbers on the page")
    bad += 1
sys.exit(1 if bad else 0)

#!/bin/bash
# Independent readers of the silver files ps-silver writes: pyarrow and
# DuckDB (from PyPI, through scripts/pyenv.sh) read every partition with
# the documented types, the same rows and values as `ps-silver --dump`
# and stdout, admission_date (the partition column, which the data files
# do not hold: Delta) read from the hive partition path, the schema
# version is in the key-value metadata, and a file with a newer optional
# column reads together with older files (union by name).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
export LC_ALL=C PS_LOG_TS=0
unset PS_LAKE
py=$("$top/scripts/pyenv.sh") || { echo "FAIL: scripts/pyenv.sh" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$top/bin/ps-simulate" -q --seed 9 --count 3000 --model realistic \
	>"$tmp/events"
# plus the nasty corpus rules: unknown fields, flags, nulls, unicode
cat "$top/tests/data/nasty/schema_evolution.ndjson" \
	"$top/tests/data/nasty/dirty_kinds.ndjson" >>"$tmp/events"
for codec in zstd gzip none; do
	"$top/bin/ps-silver" -q -L "$tmp/$codec" --input events --codec "$codec" \
		--now 2026-01-02T00:00:00Z --flush-records 700 \
		<"$tmp/events" >"$tmp/$codec.out" || {
		echo "FAIL: ps-silver --codec $codec" >&2; exit 1; }
	"$top/bin/ps-silver" --dump "$tmp/$codec/silver" >"$tmp/$codec.dump"
done

"$py" - "$tmp" <<'EOF'
import glob, json, os, sys
import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

tmp = sys.argv[1]
failures = 0
passes = 0


def check(what, cond):
    global failures, passes
    if cond:
        passes += 1
        print("ok - " + what)
    else:
        failures += 1
        print("FAIL - " + what)


TYPES = {
    "source": pa.string(), "position": pa.int64(),
    "ingest_time": pa.timestamp("us", tz="UTC"), "event_id": pa.string(),
    "encounter_id": pa.string(), "event_type": pa.string(),
    "event_time": pa.timestamp("us", tz="UTC"), "patient_id": pa.string(),
    "gender": pa.string(), "age": pa.int32(), "age_band": pa.string(),
    "department": pa.string(), "hospital_id": pa.int32(),
    "bed_id": pa.int32(), "arrival_time": pa.timestamp("us", tz="UTC"),
    "admission_time": pa.timestamp("us", tz="UTC"),
    "discharge_time": pa.timestamp("us", tz="UTC"),
    "admission_date": pa.date32(), "los_hours": pa.float64(),
    "wait_minutes": pa.float64(), "triage_level": pa.int32(),
    "unknown_department": pa.bool_(), "flags": pa.string(),
    "extra": pa.string(),
}


def iso(v):
    if v is None:
        return None
    s = v.strftime("%Y-%m-%dT%H:%M:%S")
    if v.microsecond:
        s += ".%06d" % v.microsecond
    return s + "Z"


def norm(row):
    out = {}
    for k, v in row.items():
        if isinstance(v, float) and v == int(v) and abs(v) < 1e15:
            v = int(v)
        if hasattr(v, "hour"):
            v = iso(v)
        elif hasattr(v, "isoformat"):
            v = v.isoformat()
        out[k] = v
    return out


for codec in ("zstd", "gzip", "none"):
    files = sorted(glob.glob(f"{tmp}/{codec}/silver/admissions/*/*.parquet"))
    check(f"{codec}: files written", len(files) > 1)
    dump = [json.loads(l) for l in open(f"{tmp}/{codec}.dump")]
    out = [json.loads(l) for l in open(f"{tmp}/{codec}.out")]
    key = lambda r: (r["source"], r["position"])
    check(f"{codec}: stdout and --dump hold the same rows",
          sorted(dump, key=key) == sorted(out, key=key))
    rows = []
    bad_types = []
    for f in files:
        t = pq.read_table(f)
        for name, typ in TYPES.items():
            if name == "admission_date":
                if name in t.schema.names:
                    bad_types.append((f, "partition column in the file"))
            elif name not in t.schema.names or t.schema.field(name).type != typ:
                bad_types.append((f, name))
        md = pq.read_metadata(f).metadata
        if md.get(b"pulsestream.schema") != b"silver/1":
            bad_types.append((f, "metadata"))
        comp = pq.read_metadata(f).row_group(0).column(0).compression
        want = {"zstd": "ZSTD", "gzip": "GZIP", "none": "UNCOMPRESSED"}[codec]
        if comp != want:
            bad_types.append((f, "codec " + comp))
        part = os.path.basename(os.path.dirname(f)).split("=")[1]
        for r in t.to_pylist():
            r["admission_date"] = part
            rows.append(norm(r))
    check(f"{codec}: pyarrow sees every documented type and metadata "
          f"{bad_types[:3]}", not bad_types)
    check(f"{codec}: pyarrow rows equal ps-silver's ({len(rows)} rows)",
          sorted(rows, key=key) == sorted(dump, key=key))

    con = duckdb.connect()
    glob_ = f"{tmp}/{codec}/silver/admissions/*/*.parquet"
    hive = "hive_partitioning=true, hive_types={'admission_date': DATE}"
    n, dates, ok_part = con.execute(f"""
        select count(*), count(distinct admission_date),
               bool_and(admission_date = cast(admission_time as date))
        from read_parquet('{glob_}', {hive})""").fetchone()
    check(f"{codec}: DuckDB counts {n} rows", n == len(dump))
    check(f"{codec}: DuckDB's hive partition is the admission time's date",
          ok_part and dates == len({r["admission_date"] for r in dump}))
    tz = con.execute(f"""select typeof(admission_time), typeof(admission_date),
        typeof(unknown_department) from read_parquet('{glob_}', {hive})
        limit 1""").fetchone()
    check(f"{codec}: DuckDB types {tz}",
          tz == ("TIMESTAMP WITH TIME ZONE", "DATE", "BOOLEAN"))
    s = con.execute(f"""select sum(los_hours), count(wait_minutes),
        count(*) filter (where flags like '%unknown_department%')
        from read_parquet('{glob_}')""").fetchone()
    los = sum(r["los_hours"] or 0 for r in dump)
    waits = sum(1 for r in dump if r["wait_minutes"] is not None)
    unk = sum(1 for r in dump if r["flags"] and "unknown_department" in r["flags"])
    check(f"{codec}: DuckDB aggregates equal ps-silver's",
          abs(s[0] - los) < 1e-6 * max(1, los) and s[1] == waits and s[2] == unk)

# Schema evolution: a newer file with one more optional column is read
# together with the older files, the column null for old rows.
f0 = sorted(glob.glob(f"{tmp}/zstd/silver/admissions/*/*.parquet"))[0]
t = pq.read_table(f0)
t2 = t.append_column("insurance", pa.array(["AOK"] * t.num_rows, pa.string()))
pq.write_table(t2, f"{tmp}/newer.parquet")
con = duckdb.connect()
n, ins = con.execute(f"""select count(*), count(insurance) from read_parquet(
    ['{f0}', '{tmp}/newer.parquet'], union_by_name=true)""").fetchone()
check("a newer optional column reads with older files (union by name)",
      n == 2 * t.num_rows and ins == t.num_rows)
print(f"silver_readers: {passes} passed, {failures} failed")
sys.exit(1 if failures else 0)
EOF

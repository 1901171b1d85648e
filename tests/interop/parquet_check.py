#!/usr/bin/env python3
"""Independent checks of lib/parquet with pyarrow and DuckDB.

Used by tests/interop/parquet_*.sh (run with the venv of scripts/pyenv.sh):

  gen N SEED                 NDJSON rows of SCHEMA on stdout (extremes first)
  check FILE ROWS [KV=V...]  read FILE with pyarrow and DuckDB; compare every
                             value, type, statistic and key-value entry to
                             ROWS (the NDJSON pqtool wrote it from)
  pywrite ROWS DIR           write ROWS with pyarrow (and DuckDB) in many
                             variants; print the file names
  compare ROWS DUMP          compare `pqtool dump` output with ROWS

Every check prints "ok ..." or "FAIL ..."; the exit status is 1 on failure.
"""
import datetime as dt
import json
import math
import random
import sys

SCHEMA = ("i32:int32,i32n:int32?,i64:int64,i64n:int64?,f:double,fn:double?,"
          "b:bool,bn:bool?,s:string,sn:string?,d:date,dn:date?,"
          "ts:timestamp,tsn:timestamp?")
COLS = [(c.split(":")[0], c.split(":")[1].rstrip("?"), c.endswith("?"))
        for c in SCHEMA.split(",")]
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
DMIN, DMAX = -719162, 2932896          # 0001-01-01, 9999-12-31
TMIN, TMAX = DMIN * 86400 * 10**6, (DMAX + 1) * 86400 * 10**6 - 1
WORDS = ["", "a", "ICU", "Emergency", "héllo wörld", "日本語テキスト",
         "emoji 🏥🚑", "quote \" backslash \\ tab \t nl \n", "ctl \u0001",
         "combining é", "z" * 300, "Ωmega", "\u00ff", "A", "zz"]
failures = 0


def fail(msg):
    global failures
    failures += 1
    print("FAIL " + msg)


def iso_ts(us):
    t = EPOCH + dt.timedelta(microseconds=us)
    return "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ" % (
        t.year, t.month, t.day, t.hour, t.minute, t.second, t.microsecond)


def iso_date(days):
    d = dt.date(1970, 1, 1) + dt.timedelta(days=days)
    return "%04d-%02d-%02d" % (d.year, d.month, d.day)


def gen(n, seed):
    rnd = random.Random(seed)
    ext = {
        "i32": [-2**31, 2**31 - 1, 0, -1],
        "i64": [-2**63, 2**63 - 1, 0, -1],
        "f": [-0.0, 1.7976931348623157e308, -5e-324, float("nan"),
              float("inf"), float("-inf"), 0.1],
        "d": [DMIN, DMAX, -1, 0, -25567],
        "ts": [TMIN, TMAX, -1, 0, -2208988800000000 + 1],
        "s": ["", "z" * 300, "\u00ff"],
        "b": [True, False],
    }
    for i in range(n):
        row = {}
        for name, typ, nullable in COLS:
            base = name.rstrip("n") if nullable else name
            if nullable and rnd.random() < 0.2:
                if rnd.random() < 0.5:
                    row[name] = None
                continue                # missing key = null
            if i < len(ext[base]) and not nullable:
                v = ext[base][i]
            elif base == "i32":
                v = rnd.randint(-2**31, 2**31 - 1)
            elif base == "i64":
                v = rnd.choice([rnd.randint(-2**63, 2**63 - 1),
                                rnd.randint(-50, 50)])
            elif base == "f":
                v = rnd.choice([rnd.uniform(-1e6, 1e6), float(i % 7),
                                rnd.gauss(0, 1e-3)])
            elif base == "b":
                v = rnd.random() < 0.5
            elif base == "s":
                v = rnd.choice(WORDS + ["w%d" % rnd.randint(0, 60)])
            elif base == "d":
                v = rnd.randint(-30000, 30000)
            else:
                v = rnd.randint(-2**50, 2**51)
            row[name] = v
        print(json.dumps(encode(row), ensure_ascii=False))


def encode(row):
    out = {}
    for name, typ, _ in COLS:
        if name not in row:
            continue
        v = row[name]
        if v is None:
            out[name] = None
        elif typ == "double" and not math.isfinite(v):
            out[name] = "NaN" if math.isnan(v) else (
                "Infinity" if v > 0 else "-Infinity")
        elif typ == "date":
            out[name] = iso_date(v)
        elif typ == "timestamp":
            out[name] = iso_ts(v)
        else:
            out[name] = v
    return out


def parse_ts(s):
    if isinstance(s, int):
        return s
    t = dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    return (t - EPOCH) // dt.timedelta(microseconds=1)


def parse_date(s):
    if isinstance(s, int):
        return s
    return (dt.date.fromisoformat(s) - dt.date(1970, 1, 1)).days


def load_rows(path):
    """Rows as {col: canonical value}: ints, float, bool, str, None."""
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            j = json.loads(line)
            row = {}
            for name, typ, _ in COLS:
                v = j.get(name)
                if v is None:
                    row[name] = None
                elif typ == "double":
                    row[name] = float(v) if not isinstance(v, str) else {
                        "NaN": math.nan, "Infinity": math.inf,
                        "-Infinity": -math.inf}[v]
                elif typ == "date":
                    row[name] = parse_date(v)
                elif typ == "timestamp":
                    row[name] = parse_ts(v)
                else:
                    row[name] = v
            rows.append(row)
    return rows


def same(a, b):
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        a, b = float(a), float(b)
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return a == b and type(a) is type(b)


def compare_columns(label, rows, got):
    """got: {col: list of canonical values}."""
    bad = 0
    for name, _, _ in COLS:
        vals = got.get(name)
        if vals is None or len(vals) != len(rows):
            fail("%s: column %s: %s values, want %d" % (
                label, name, None if vals is None else len(vals),
                len(rows)))
            bad += 1
            continue
        for i, r in enumerate(rows):
            if not same(r[name], vals[i]):
                fail("%s: row %d column %s: got %r want %r" % (
                    label, i, name, vals[i], r[name]))
                bad += 1
                break
    if not bad:
        print("ok %s: %d rows x %d columns equal" % (
            label, len(rows), len(COLS)))


def pyarrow_values(table):
    import pyarrow as pa
    got = {}
    for name, typ, _ in COLS:
        col = table.column(name)
        if typ == "timestamp":
            col = col.cast(pa.int64())
        elif typ == "date":
            col = col.cast(pa.int32())
        got[name] = col.to_pylist()
    return got


EXPECT_TYPES = {"int32": "int32", "int64": "int64", "double": "double",
                "bool": "bool", "string": "string", "date": "date32[day]",
                "timestamp": "timestamp[us, tz=UTC]"}


def stat_key(typ, v):
    if typ == "string":
        return v.encode("utf-8")
    if typ == "bool":
        return int(v)
    return v


def to_canon(typ, v):
    if typ == "timestamp" and isinstance(v, dt.datetime):
        return (v - EPOCH) // dt.timedelta(microseconds=1)
    if typ == "date" and isinstance(v, dt.date):
        return (v - dt.date(1970, 1, 1)).days
    return v


def check(path, rows_path, kvs):
    import duckdb
    import pyarrow.parquet as pq
    rows = load_rows(rows_path)
    pf = pq.ParquetFile(path)
    md = pf.metadata
    table = pf.read()
    # types and nullability as pyarrow sees them
    for name, typ, nullable in COLS:
        field = table.schema.field(name)
        if str(field.type) != EXPECT_TYPES[typ] or \
                field.nullable != nullable:
            fail("pyarrow type of %s: %s nullable=%s, want %s %s" % (
                name, field.type, field.nullable, EXPECT_TYPES[typ],
                nullable))
    print("ok pyarrow types: %s" % ", ".join(
        str(table.schema.field(n).type) for n, _, _ in COLS[::2]))
    if md.num_rows != len(rows):
        fail("num_rows %d, want %d" % (md.num_rows, len(rows)))
    if not md.created_by.startswith("pulsestream version "):
        fail("created_by %r" % md.created_by)
    meta = {k.decode(): v.decode() for k, v in
            (md.metadata or {}).items()}
    for kv in kvs:
        k, v = kv.split("=", 1)
        if meta.get(k) != v:
            fail("key_value %s = %r, want %r" % (k, meta.get(k), v))
    compare_columns("pyarrow", rows, pyarrow_values(table))
    # statistics of every row group and column
    start = 0
    nstats = 0
    for g in range(md.num_row_groups):
        rg = md.row_group(g)
        part = rows[start:start + rg.num_rows]
        start += rg.num_rows
        for ci, (name, typ, _) in enumerate(COLS):
            st = rg.column(ci).statistics
            vals = [r[name] for r in part]
            nulls = sum(v is None for v in vals)
            real = [v for v in vals if v is not None and not (
                isinstance(v, float) and math.isnan(v))]
            if st is None or st.null_count != nulls:
                fail("rg %d %s: null_count %s, want %d" % (
                    g, name, st and st.null_count, nulls))
                continue
            if not real:
                if st.has_min_max:
                    fail("rg %d %s: min/max on no values" % (g, name))
                continue
            want_min = min(real, key=lambda v: stat_key(typ, v))
            want_max = max(real, key=lambda v: stat_key(typ, v))
            gmin, gmax = to_canon(typ, st.min), to_canon(typ, st.max)
            if not st.has_min_max or gmin != want_min or \
                    gmax != want_max:
                fail("rg %d %s: min/max %r/%r, want %r/%r" % (
                    g, name, gmin, gmax, want_min, want_max))
            nstats += 1
    print("ok pyarrow statistics: %d row groups, %d min/max checked" % (
        md.num_row_groups, nstats))
    # DuckDB, with its own reader
    sel = []
    for name, typ, _ in COLS:
        q = '"%s"' % name
        if typ == "timestamp":
            sel.append("epoch_us(%s)" % q)
        elif typ == "date":
            sel.append("(%s - DATE '1970-01-01')" % q)
        else:
            sel.append(q)
    con = duckdb.connect()
    res = con.execute("SELECT %s FROM read_parquet(?)" % ", ".join(sel),
                      [path]).fetchall()
    got = {name: [r[i] for r in res] for i, (name, _, _) in
           enumerate(COLS)}
    compare_columns("duckdb", rows, got)
    types = dict(con.execute(
        "SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM "
        "read_parquet(?))", [path]).fetchall())
    want = {"int32": "INTEGER", "int64": "BIGINT", "double": "DOUBLE",
            "bool": "BOOLEAN", "string": "VARCHAR", "date": "DATE",
            "timestamp": "TIMESTAMP WITH TIME ZONE"}
    for name, typ, _ in COLS:
        if types.get(name) != want[typ]:
            fail("duckdb type of %s: %s, want %s" % (name, types.get(name),
                                                      want[typ]))
    print("ok duckdb types")


def pywrite(rows_path, out):
    import duckdb
    import pyarrow as pa
    import pyarrow.parquet as pq
    rows = load_rows(rows_path)
    arrays, fields = [], []
    for name, typ, nullable in COLS:
        vals = [r[name] for r in rows]
        if typ == "timestamp":
            t = pa.timestamp("us", tz="UTC")
        elif typ == "date":
            t = pa.date32()
        else:
            t = {"int32": pa.int32(), "int64": pa.int64(),
                 "double": pa.float64(), "bool": pa.bool_(),
                 "string": pa.string()}[typ]
        arrays.append(pa.array(vals, type=t))
        fields.append(pa.field(name, t, nullable=nullable))
    table = pa.Table.from_arrays(arrays, schema=pa.schema(fields))
    names = []
    for codec in ("none", "gzip", "zstd"):
        for dic in (True, False):
            for dpv in ("1.0", "2.0"):
                f = "%s/py-%s-%s-v%s.parquet" % (
                    out, codec, "dict" if dic else "plain", dpv[0])
                pq.write_table(table, f, compression=codec,
                               use_dictionary=dic, data_page_version=dpv,
                               row_group_size=700, data_page_size=4096,
                               write_statistics=True)
                names.append(f)
    # millisecond / nanosecond timestamps and float32 map to our types
    f = "%s/py-units.parquet" % out
    ms = pa.array([None if r["tsn"] is None else r["tsn"] // 1000 * 1000
                   for r in rows], type=pa.int64())
    pq.write_table(pa.table({
        "ts_ms": ms.cast(pa.timestamp("ms", tz="UTC"), safe=False)
        if False else pa.array([None if v is None else v // 1000
                                for v in ms.to_pylist()],
                               type=pa.timestamp("ms", tz="UTC")),
        "ts_ns": pa.array([None if v is None else v * 1000
                           for v in ms.to_pylist()],
                          type=pa.timestamp("ns", tz="UTC")),
        "f32": pa.array([None if r["i32n"] is None else
                         float(r["i32n"] % 1000) / 4 for r in rows],
                        type=pa.float32()),
    }), f, compression="zstd")
    names.append(f)
    # DuckDB as a second, independent writer
    con = duckdb.connect()
    con.register("t", table)
    for codec in ("uncompressed", "gzip", "zstd"):
        f = "%s/duckdb-%s.parquet" % (out, codec)
        con.execute("COPY t TO '%s' (FORMAT parquet, COMPRESSION %s, "
                    "ROW_GROUP_SIZE 1000)" % (f, codec))
        names.append(f)
    print("\n".join(names))


def compare(rows_path, dump_path, units=False):
    rows = load_rows(rows_path)
    got = {name: [] for name, _, _ in COLS}
    extra = {"ts_ms": [], "ts_ns": [], "f32": []}
    with open(dump_path, encoding="utf-8") as f:
        for line in f:
            j = json.loads(line)
            if units:
                for k in extra:
                    extra[k].append(j.get(k, "missing"))
                continue
            if list(j.keys()) != [n for n, _, _ in COLS]:
                fail("%s: keys %s" % (dump_path, list(j.keys())))
                return
            for name, typ, _ in COLS:
                v = j[name]
                if v is not None and typ == "timestamp":
                    v = parse_ts(v)
                elif v is not None and typ == "date":
                    v = parse_date(v)
                elif v is not None and typ == "double":
                    v = float(v)
                got[name].append(v)
    if units:
        want_ms = [None if r["tsn"] is None else r["tsn"] // 1000 * 1000
                   for r in rows]
        ok = [parse_ts(v) if v is not None else None
              for v in extra["ts_ms"]] == want_ms and \
            [parse_ts(v) if v is not None else None
             for v in extra["ts_ns"]] == want_ms and \
            extra["f32"] == [None if r["i32n"] is None else
                             float(r["i32n"] % 1000) / 4 for r in rows]
        if ok:
            print("ok %s: ms/ns timestamps and float32 read back" %
                  dump_path)
        else:
            fail("%s: ms/ns timestamps or float32 differ" % dump_path)
        return
    # pqtool writes non-finite doubles as null
    for r in rows:
        for name, typ, _ in COLS:
            if typ == "double" and r[name] is not None and \
                    not math.isfinite(r[name]):
                r[name] = None
            if typ == "double" and r[name] == 0:
                r[name] = 0.0           # JSON has no -0
    for name, typ, _ in COLS:
        if typ == "double":
            got[name] = [None if v is None else (0.0 if v == 0 else v)
                         for v in got[name]]
    compare_columns(dump_path.rsplit("/", 1)[-1], rows, got)


def main():
    cmd = sys.argv[1]
    if cmd == "gen":
        gen(int(sys.argv[2]), int(sys.argv[3]))
    elif cmd == "check":
        check(sys.argv[2], sys.argv[3], sys.argv[4:])
    elif cmd == "pywrite":
        pywrite(sys.argv[2], sys.argv[3])
    elif cmd == "compare":
        compare(sys.argv[2], sys.argv[3], len(sys.argv) > 4)
    else:
        sys.exit("unknown command " + cmd)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()

#!/bin/sh
# Interop: files written by pyarrow (uncompressed/gzip/zstd, dictionary and
# plain, data page v1 and v2, ms/ns timestamps, float32) and by DuckDB are
# read by lib/parquet (`pqtool dump`), which must reproduce every value.
# Also: corrupt and truncated files give a one-line error, never a crash.
set -u
export LC_ALL=C PS_LOG_TS=0
root=$(cd "$(dirname "$0")/../.." && pwd)
pqtool=${PQTOOL:-$root/build/tests/pqtool}
check=$root/tests/interop/parquet_check.py
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ps-pq-read.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

[ -x "$pqtool" ] || { echo "parquet_read: $pqtool missing (make $pqtool)" >&2; exit 1; }
py=$("$root/scripts/pyenv.sh") || { echo "parquet_read: no pyarrow/duckdb venv" >&2; exit 1; }

pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
ko() { fail=$((fail + 1)); echo "not ok - $1"; }

"$py" "$check" gen 3000 11 >"$tmp/rows.ndjson" || { echo "gen failed" >&2; exit 1; }
mkdir "$tmp/files"
"$py" "$check" pywrite "$tmp/rows.ndjson" "$tmp/files" >"$tmp/list" ||
	{ echo "parquet_read: pyarrow/duckdb could not write" >&2; exit 1; }
[ "$(wc -l <"$tmp/list")" -ge 16 ] || { echo "parquet_read: too few files" >&2; exit 1; }

while read -r f; do
	name=$(basename "$f")
	if ! "$pqtool" dump "$f" >"$tmp/dump" 2>"$tmp/err"; then
		ko "$name: pqtool dump failed: $(cat "$tmp/err")"
		continue
	fi
	case $name in
	*units*) mode=units ;;
	*) mode= ;;
	esac
	# shellcheck disable=SC2086
	if "$py" "$check" compare "$tmp/rows.ndjson" "$tmp/dump" $mode >"$tmp/out" 2>&1; then
		ok "$name: $(cat "$tmp/out")"
	else
		ko "$name"
		sed 's/^/    /' "$tmp/out"
	fi
done <"$tmp/list"

# `pqtool meta` reports pyarrow's statistics as pyarrow itself reads them.
f=$(grep 'py-zstd-dict-v2' "$tmp/list")
"$pqtool" meta "$f" >"$tmp/meta.json"
if "$py" - "$f" "$tmp/meta.json" <<'PY'
import json, sys, pyarrow.parquet as pq
md = pq.ParquetFile(sys.argv[1]).metadata
me = json.load(open(sys.argv[2]))
assert me["rows"] == md.num_rows, "rows"
assert len(me["row_groups"]) == md.num_row_groups, "row groups"
for g, rg in enumerate(me["row_groups"]):
    assert rg["rows"] == md.row_group(g).num_rows
    for c, col in enumerate(rg["columns"]):
        st = md.row_group(g).column(c).statistics
        assert col["null_count"] == st.null_count, (g, c)
        if col["name"] in ("i32", "i64", "i32n", "i64n", "s", "sn", "b"):
            assert col["min"] == st.min and col["max"] == st.max, (g, c)
PY
then
	ok "pqtool meta statistics equal pyarrow's"
else
	ko "pqtool meta statistics differ from pyarrow's"
fi

# The comparison must be able to fail.
sed '1s/"i32": -2147483648/"i32": -2147483647/' "$tmp/rows.ndjson" >"$tmp/bad.ndjson"
"$pqtool" dump "$(head -1 "$tmp/list")" >"$tmp/dump"
if cmp -s "$tmp/rows.ndjson" "$tmp/bad.ndjson"; then
	ko "negative control: could not alter the input"
elif "$py" "$check" compare "$tmp/bad.ndjson" "$tmp/dump" >/dev/null 2>&1; then
	ko "negative control: a changed value went unnoticed"
else
	ok "negative control: a changed value is caught"
fi

# Truncated and corrupted pyarrow files: exit 65 with one line, no crash.
f=$(grep 'py-gzip-dict-v1' "$tmp/list")
size=$(wc -c <"$f")
bad=0
for n in 0 1 4 11 12 100 1000 $((size / 2)) $((size - 9)) $((size - 8)) $((size - 1)); do
	head -c "$n" "$f" >"$tmp/cut.parquet"
	"$pqtool" dump "$tmp/cut.parquet" >/dev/null 2>"$tmp/err"
	rc=$?
	if [ "$rc" -ne 65 ] || [ "$(wc -l <"$tmp/err")" -ne 1 ]; then
		echo "    truncated to $n: exit $rc: $(cat "$tmp/err")"
		bad=1
	fi
done
[ "$bad" -eq 0 ] && ok "truncated files: exit 65, one-line error" ||
	ko "truncated files"
"$py" - "$f" "$tmp" <<'PY'
import random, sys
data = open(sys.argv[1], "rb").read()
rnd = random.Random(5)
for k in range(200):
    m = bytearray(data)
    for _ in range(rnd.randint(1, 8)):
        m[rnd.randrange(4, len(m) - 4)] = rnd.randrange(256)
    open("%s/fuzz%03d.parquet" % (sys.argv[2], k), "wb").write(m)
PY
bad=0
for g in "$tmp"/fuzz*.parquet; do
	"$pqtool" dump "$g" >/dev/null 2>"$tmp/err"
	rc=$?
	if [ "$rc" -ne 0 ] && { [ "$rc" -ne 65 ] || [ "$(wc -l <"$tmp/err")" -ne 1 ]; }; then
		echo "    $(basename "$g"): exit $rc: $(head -c 300 "$tmp/err")"
		bad=1
	fi
done
[ "$bad" -eq 0 ] && ok "200 corrupted files: exit 0 or 65, never a crash" ||
	ko "corrupted files"
printf 'not parquet at all\n' >"$tmp/junk.parquet"
"$pqtool" dump "$tmp/junk.parquet" 2>"$tmp/err"
rc=$?
if [ "$rc" -eq 65 ] && grep -q 'magic missing' "$tmp/err"; then
	ok "not a Parquet file: $(cat "$tmp/err")"
else
	ko "not a Parquet file: exit $rc: $(cat "$tmp/err")"
fi

# What lies outside the subset is refused with a clear one-line reason.
"$py" - "$tmp" <<'PY' || ko "pyarrow could not write the unsupported files"
import sys, pyarrow as pa, pyarrow.parquet as pq
d = sys.argv[1]
t = pa.table({"i64": pa.array(range(100), type=pa.int64())})
pq.write_table(t, d + "/delta.parquet", use_dictionary=False, compression="none",
               column_encoding={"i64": "DELTA_BINARY_PACKED"})
pq.write_table(t, d + "/snappy.parquet", compression="snappy")
import decimal
pq.write_table(pa.table({"d": pa.array([decimal.Decimal("1.25")],
                                        type=pa.decimal128(5, 2))}),
               d + "/decimal.parquet", compression="none")
pq.write_table(pa.table({"x": pa.array([1, 2], type=pa.int64())}).cast(
    pa.schema([("x", pa.timestamp("ns"))])), d + "/int96.parquet",
    use_deprecated_int96_timestamps=True)
PY
while IFS='|' read -r name want; do
	"$pqtool" dump "$tmp/$name.parquet" >/dev/null 2>"$tmp/err"
	rc=$?
	if [ "$rc" -eq 65 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] &&
		grep -q "$want" "$tmp/err"; then
		ok "$name: $(cat "$tmp/err")"
	else
		ko "$name: exit $rc: $(cat "$tmp/err") (want '$want')"
	fi
done <<'CASES'
delta|unsupported encoding DELTA_BINARY_PACKED
snappy|unsupported codec snappy
decimal|unsupported column type
int96|unsupported column type INT96
CASES

echo "parquet_read: $pass passed, $fail failed"
[ "$fail" -eq 0 ]

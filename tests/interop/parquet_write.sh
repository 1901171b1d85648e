#!/bin/sh
# Interop: files written by lib/parquet (through build/tests/pqtool) are
# read by pyarrow and DuckDB, which must see every value, type, statistic
# and key-value entry of the input.  Needs scripts/pyenv.sh (PyPI).
set -u
export LC_ALL=C PS_LOG_TS=0
root=$(cd "$(dirname "$0")/../.." && pwd)
pqtool=${PQTOOL:-$root/build/tests/pqtool}
check=$root/tests/interop/parquet_check.py
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ps-pq-write.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

[ -x "$pqtool" ] || { echo "parquet_write: $pqtool missing (make $pqtool)" >&2; exit 1; }
py=$("$root/scripts/pyenv.sh") || { echo "parquet_write: no pyarrow/duckdb venv" >&2; exit 1; }
schema=$("$py" -c "import sys; sys.path.insert(0, '$root/tests/interop'); import parquet_check; print(parquet_check.SCHEMA)")

pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
ko() { fail=$((fail + 1)); echo "not ok - $1"; }

"$py" "$check" gen 3000 7 >"$tmp/rows.ndjson" || { echo "gen failed" >&2; exit 1; }

# name | pqtool options
while IFS='|' read -r name opts; do
	f=$tmp/$name.parquet
	# shellcheck disable=SC2086
	if ! "$pqtool" write "$f" --schema "$schema" $opts \
		--kv pulsestream.schema_version=1 \
		--kv "pulsestream.source_range=stdin:test/1-3000" \
		<"$tmp/rows.ndjson" 2>"$tmp/err"; then
		ko "$name: pqtool write failed: $(cat "$tmp/err")"
		continue
	fi
	if "$py" "$check" check "$f" "$tmp/rows.ndjson" \
		pulsestream.schema_version=1 \
		"pulsestream.source_range=stdin:test/1-3000" >"$tmp/out" 2>&1; then
		ok "$name: $(grep -c '^ok' "$tmp/out") checks (pyarrow + duckdb)"
	else
		ko "$name"
		sed 's/^/    /' "$tmp/out"
	fi
done <<'CASES'
none-dict|--codec none
none-plain|--codec none --no-dict
gzip-dict|--codec gzip
gzip-plain|--codec gzip --no-dict
zstd-dict|--codec zstd
zstd-plain|--codec zstd --no-dict
zstd-level19-groups|--codec zstd --level 19 --row-group-bytes 40000
gzip-groups-small-pages|--codec gzip --row-group-bytes 20000 --page-bytes 512
dict-fallback|--codec zstd --dict-max-bytes 3000 --page-bytes 2000
CASES

# The checker must notice a single wrong value (a test that can fail).
f=$tmp/none-dict.parquet
sed '1s/"i32": -2147483648/"i32": -2147483647/' "$tmp/rows.ndjson" >"$tmp/bad.ndjson"
if cmp -s "$tmp/rows.ndjson" "$tmp/bad.ndjson"; then
	ko "negative control: could not alter the input"
elif "$py" "$check" check "$f" "$tmp/bad.ndjson" >"$tmp/out" 2>&1; then
	ko "negative control: a changed value went unnoticed"
else
	ok "negative control: a changed value is caught"
fi

# An empty file (schema only) is readable too.
if "$pqtool" write "$tmp/empty.parquet" --schema "$schema" </dev/null &&
	"$py" -c "
import pyarrow.parquet as pq, duckdb, sys
t = pq.read_table(sys.argv[1])
n = duckdb.connect().execute('SELECT count(*) FROM read_parquet(?)', [sys.argv[1]]).fetchone()[0]
assert t.num_rows == 0 and t.num_columns == 14 and n == 0
" "$tmp/empty.parquet"; then
	ok "zero-row file"
else
	ko "zero-row file"
fi

echo "parquet_write: $pass passed, $fail failed"
[ "$fail" -eq 0 ]

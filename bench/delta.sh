#!/bin/sh
# lib/delta: log replay of a table with 10,000 commits (one add and one txn
# each), from the JSON commits alone and from a checkpoint; anchor:
# deltalake (delta-rs) loading the same table in the same run.  Then the
# cost of one commit (a one-file append with its txn, snapshot load and
# stats included, as a fresh process) on a young table,
# against deltalake's write_deltalake of the same row.
# BENCH_DELTA_COMMITS=N changes the number of commits.
. "$(dirname "$0")/lib.sh"
dt=${DELTATOOL:-$TOP/build/tests/deltatool}
pqtool=${PQTOOL:-$TOP/build/tests/pqtool}
[ -x "$dt" ] || { echo "bench: $dt missing (make $dt)" >&2; exit 1; }
py=$("$TOP/scripts/pyenv.sh" delta) || exit 1
C=${BENCH_DELTA_COMMITS:-10000}
T=$BENCH_TMP/delta
now=1790000000000

echo "== lib/delta (log of $C commits)"
"$dt" create "$T" --schema "id:int64,name:string?,day:date" --partition day \
	--now $now >/dev/null || exit 1
# Commits 1..C as a writer would leave them (the data files are not read
# by a log replay).
awk -v c="$C" -v now=$now -v dir="$T/_delta_log" 'BEGIN {
	for (v = 1; v <= c; v++) {
		f = sprintf("%s/%020d.json", dir, v)
		printf "{\"commitInfo\":{\"timestamp\":%d,\"operation\":\"WRITE\"}}\n", now + v >f
		printf "{\"txn\":{\"appId\":\"silver:kafka:admissions/%d\",\"version\":%d}}\n", v % 6, v * 100 >f
		printf "{\"add\":{\"path\":\"day=2026-01-%02d/part-%d.parquet\",\"partitionValues\":{\"day\":\"2026-01-%02d\"},\"size\":%d,\"modificationTime\":%d,\"dataChange\":true,\"stats\":\"{\\\"numRecords\\\":100,\\\"minValues\\\":{\\\"id\\\":%d},\\\"maxValues\\\":{\\\"id\\\":%d},\\\"nullCount\\\":{\\\"id\\\":0}}\"}}\n", v % 28 + 1, v, v % 28 + 1, 5000 + v, now + v, v * 100, v * 100 + 99 >f
		close(f)
	}
}' || exit 1
cat >"$BENCH_TMP/dl_load.py" <<'PY'
import sys, deltalake as dl
t = dl.DeltaTable(sys.argv[1])
n = len(t.get_add_actions(flatten=True))
assert t.version() == int(sys.argv[2]) and n == int(sys.argv[2]), (t.version(), n)
PY
measure "replay, JSON commits only (commits/s)" "$C" \
	"'$dt' snapshot '$T' >'$BENCH_TMP/snap.json'"
json=$RATE
grep -q "\"version\":$C," "$BENCH_TMP/snap.json" || { echo "bench: bad snapshot" >&2; exit 1; }
measure "anchor: deltalake load, JSON only" "$C" "'$py' '$BENCH_TMP/dl_load.py' '$T' $C"
echo "replay without checkpoint vs deltalake: $(ratio "$json" "$RATE")"
"$dt" checkpoint "$T" "$C" --now $now || exit 1
ls -l "$T/_delta_log/$(printf %020d "$C").checkpoint.parquet" | awk '{ printf "  checkpoint: %d bytes\n", $5 }'
measure "replay from the checkpoint (commits/s)" "$C" \
	"'$dt' snapshot '$T' >'$BENCH_TMP/snap2.json'"
cp=$RATE
cmp -s "$BENCH_TMP/snap.json" "$BENCH_TMP/snap2.json" ||
	sed 's/"checkpoint":[-0-9]*//' "$BENCH_TMP/snap.json" >"$BENCH_TMP/a" &&
	sed 's/"checkpoint":[-0-9]*//' "$BENCH_TMP/snap2.json" >"$BENCH_TMP/b" &&
	cmp -s "$BENCH_TMP/a" "$BENCH_TMP/b" || { echo "bench: checkpoint snapshot differs" >&2; exit 1; }
measure "anchor: deltalake load, from the checkpoint" "$C" "'$py' '$BENCH_TMP/dl_load.py' '$T' $C"
echo "replay from checkpoint vs deltalake: $(ratio "$cp" "$RATE"); vs JSON only: $(ratio "$cp" "$json")"

# One commit = one process on a young table (the replay cost is measured
# above): load the snapshot, read the data file's footer for stats, write
# the commit (fsync, link, fsync of the directory).
K=50
T=$BENCH_TMP/delta-commits
"$dt" create "$T" --schema "id:int64,name:string?,day:date" --partition day \
	--now $now >/dev/null || exit 1
mkdir -p "$T/day=2026-02-01"
printf '{"id":1,"name":"x"}\n' | "$pqtool" write "$T/day=2026-02-01/one.parquet" \
	--schema "id:int64,name:string?" || exit 1
i=0
while [ $i -lt $K ]; do
	cp "$T/day=2026-02-01/one.parquet" "$T/day=2026-02-01/b$i.parquet"
	i=$((i + 1))
done
cat >"$BENCH_TMP/commits.sh" <<SH
i=0
while [ \$i -lt $K ]; do
	'$dt' append '$T' --pv day=2026-02-01 --txn bench=\$i --checkpoint-interval 0 \
		day=2026-02-01/b\$i.parquet >/dev/null || exit 1
	i=\$((i + 1))
done
SH
measure "commits (one file + txn each, commits/s)" "$K" "sh '$BENCH_TMP/commits.sh'"
awk -v r="$RATE" 'BEGIN { printf "  commit cost: %.1f ms per batch (process start included)\n", 1000 / r }'
ours=$RATE
cat >"$BENCH_TMP/dl_commits.py" <<'PY'
import sys, datetime, pyarrow as pa, deltalake as dl
path, k = sys.argv[1], int(sys.argv[2])
schema = pa.schema([("id", pa.int64(), False), ("name", pa.string()),
                    ("day", pa.date32(), False)])
for i in range(k):
    t = pa.table({"id": [i], "name": ["x"], "day": [datetime.date(2026, 2, 1)]},
                 schema=schema)
    dl.write_deltalake(path, t, mode="append", partition_by=["day"],
                       commit_properties=dl.CommitProperties(
                           app_transactions=[dl.Transaction("dl", i)]))
PY
cp -r "$T" "$BENCH_TMP/delta-dl"
measure "anchor: deltalake write_deltalake, one process" "$K" \
	"'$py' '$BENCH_TMP/dl_commits.py' '$BENCH_TMP/delta-dl' $K"
awk -v r="$RATE" 'BEGIN { printf "  deltalake: %.1f ms per batch (one process for all)\n", 1000 / r }'
echo "commits vs deltalake: $(ratio "$ours" "$RATE")"

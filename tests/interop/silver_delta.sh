#!/bin/sh
# The silver table of a real pipeline run is a Delta table that deltalake
# (delta-rs) and DuckDB's delta extension read, and it stays one when
# ps-silver is killed (SIGKILL) between its data files and the log commit,
# or between a log commit and the checkpoint due after it (lib/stage.h,
# PS_TEST_STOP points "commit" and "checkpoint" of a test build): the
# readers see exactly the rows ps-silver printed (what it committed), and
# the restart neither loses nor duplicates a row (the rows of a batch
# committed but not printed when it was killed are not printed again:
# ps-gold reads them from the table).  An older lake (silver
# files and a checkpoint, no _delta_log) is refused by readers and
# converted by the next ps-silver run.
. "$(dirname "$0")/../lib.sh"
TB=$TOP/build/test-bin
T=2026-06-01T00:00:00Z
[ -x "$TB/ps-silver" ] || { echo "FAIL - $TB/ps-silver missing (make $TB/ps-silver)"; exit 1; }
py=$("$TOP/scripts/pyenv.sh" delta) || { echo "silver_delta: no deltalake venv" >&2; exit 1; }
cd "$TMPD" || exit 1

# keys TABLE: "source position admission_date" of every row deltalake
# reads, sorted; and the same from DuckDB's delta_scan (both must agree,
# no row twice).  admission_date, the partition column, is not in the data
# files: both take it from the add actions' partitionValues.
cat >keys.py <<'EOF'
import os, sys
sys.path.insert(0, os.path.join(sys.argv[1], "tests", "interop"))
import delta_check as d
import deltalake

t = deltalake.DeltaTable(sys.argv[2])
a = t.to_pyarrow_table(columns=["source", "position", "admission_date"])
dl = sorted("%s %d %s" % (r["source"], r["position"],
                          r["admission_date"].isoformat())
            for r in a.to_pylist())
con = d.duck()
dk = sorted("%s %d %s" % r for r in con.sql(
    "select source, position, admission_date::varchar from delta_scan('%s')"
    % sys.argv[2]).fetchall())
if dl != dk:
    d.fail("deltalake and DuckDB disagree: %d / %d rows" % (len(dl), len(dk)))
if len(set(r.rsplit(" ", 1)[0] for r in dl)) != len(dl):
    d.fail("a row twice")
print("\n".join(dl))
EOF
keys() { "$py" keys.py "$TOP" "$1/silver/admissions"; }
printed() { jq -r '"\(.source) \(.position) \(.admission_date)"' "$@" | sort; }

# A lake with bronze committed; silver then catches up in small batches.
ps-simulate --count 3000 --seed 4 --dirty invalid_age=0.05,duplicate=0.03 \
	2>/dev/null >ev.ndjson
ps-bronze -L ref --ingest-time $T -n <ev.ndjson 2>/dev/null
cp -R ref base
ps-silver -L ref --catch-up --flush-records 150 >ref.out 2>/dev/null
printed ref.out >ref.keys

check 'the reference run: deltalake and DuckDB read its rows, as printed' '
	[ $(wc -l <ref.keys) -gt 2500 ] &&
	keys ref >ref.dl && cmp ref.keys ref.dl &&
	[ -f ref/silver/admissions/_delta_log/00000000000000000010.checkpoint.parquet ]'

check 'the data files do not hold the partition column (PROTOCOL.md)' '
	find ref/silver/admissions -name "part-*.parquet" >files &&
	[ $(wc -l <files) -gt 5 ] &&
	"$py" -c "import sys, pyarrow.parquet as pq
sys.exit(any(\"admission_date\" in pq.read_schema(f.strip()).names
             or \"position\" not in pq.read_schema(f.strip()).names
             for f in open(\"files\")))"'

# kill_at POINT N LAKE: ps-silver stopped at the N-th POINT, then SIGKILLed.
kill_at() {
	cp -R base "$3" &&
	PS_TEST_STOP=ps-silver:$1:$2 "$TB/ps-silver" -L "$3" --catch-up \
		--flush-records 150 >"$3.out" 2>"$3.err" &
	p=$!
	wait_stopped $p || { kill -9 $p; return 1; }
	kill -9 $p
	wait $p 2>/dev/null
	return 0
}

check 'killed between the data files and the log commit: readers see what was printed' '
	kill_at commit 5 k1 &&
	ls k1/silver/admissions/_delta_log/*.json >k1.log &&
	[ $(wc -l <k1.log) -eq 5 ] &&
	printed k1.out >k1.keys && [ -s k1.keys ] &&
	keys k1 >k1.dl && cmp k1.keys k1.dl &&
	[ $(find k1/silver -name "part-*.parquet" | wc -l) -gt \
	  $(jq -r "select(.add) | .add.path" k1/silver/admissions/_delta_log/*.json | wc -l) ]'

check 'the restart neither loses nor duplicates' '
	ps-silver -L k1 --catch-up --flush-records 150 >>k1.out 2>k1.err2 &&
	grep -q "removing a file of an unfinished commit" k1.err2 &&
	keys k1 >k1.dl2 && cmp ref.keys k1.dl2 &&
	printed k1.out >k1.all && cmp ref.keys k1.all'

check 'killed between a log commit and its checkpoint: readers see what was committed' '
	kill_at checkpoint 1 k2 &&
	[ -f k2/silver/admissions/_delta_log/00000000000000000010.json ] &&
	[ ! -f k2/silver/admissions/_delta_log/00000000000000000010.checkpoint.parquet ] &&
	[ ! -f k2/silver/admissions/_delta_log/_last_checkpoint ] &&
	printed k2.out >k2.keys && [ -s k2.keys ] &&
	keys k2 >k2.dl &&
	[ $(comm -23 k2.keys k2.dl | wc -l) -eq 0 ] &&
	[ $(wc -l <k2.dl) -gt $(wc -l <k2.keys) ]'

check 'that restart neither loses nor duplicates' '
	ps-silver -L k2 --catch-up --flush-records 150 >>k2.out 2>k2.err2 &&
	keys k2 >k2.dl2 && cmp ref.keys k2.dl2 &&
	printed k2.out >k2.all && [ -z "$(uniq -d k2.all)" ] &&
	[ -z "$(comm -23 k2.all ref.keys)" ]'

# The checkpoint of an older silver: {"version":1,"sources":{SRC:{"position":N}}}
# sealed (lib/seal.h: a last crc32 member over the bytes before it).
seal='
import json, sys, zlib
p = json.load(sys.stdin)
b = json.dumps({"version": 1, "sources": {k: {"position": v} for k, v in p.items()}},
               separators=(",", ":"))[:-1]
print(b + ",\"crc32\":\"%08x\"}" % zlib.crc32(b.encode()))'

check 'an older lake: readers refuse it naming the fix, ps-silver converts it' '
	cp -R ref old && rm -r old/silver/admissions/_delta_log &&
	"$TOP/tests/silver_positions.sh" ref | "$py" -c "$seal" \
		>old/_state/ps-silver/admissions.json &&
	{ ps-gold -L old --catch-up >/dev/null 2>old.err; test $? -eq 78; } &&
	grep -q "ps-silver -L old --stream admissions --catch-up" old.err &&
	ps-silver -L old --catch-up >old.out 2>old.err2 &&
	grep -q "converted a table of an older lake to Delta" old.err2 &&
	[ ! -s old.out ] &&
	[ -f old/_state/ps-silver/admissions.pre-delta.json ] &&
	keys old >old.dl && cmp ref.keys old.dl &&
	ps-gold -L old --catch-up --now $T >/dev/null 2>&1'

done_testing

#!/bin/sh
# Interop: table maintenance and time travel on a Delta table that lib/delta
# wrote.  ps-silver --dump --version-as-of/--as-of reads every version as
# deltalake and DuckDB (ATTACH ... VERSION) do; ps-silver --vacuum deletes
# only files that no version within the retention references (--dry-run
# deletes nothing); --compact and --vacuum run while a writer appends, and
# afterwards every reader still sees the same rows at every version.
. "$(dirname "$0")/../lib.sh"
pqtool=${PQTOOL:-$TOP/build/tests/pqtool}
dt=${DELTATOOL:-$TOP/build/tests/deltatool}
ops=$TOP/tests/interop/delta_ops.py
for t in "$pqtool" "$dt"; do
	[ -x "$t" ] || { echo "delta_ops: $t missing (make $t)" >&2; exit 1; }
done
py=$("$TOP/scripts/pyenv.sh" delta) || { echo "delta_ops: no deltalake venv" >&2; exit 1; }
L=$TMPD/lake
T=$L/silver/admissions
real=$(($(date +%s) * 1000))
old=$((real - 3 * 3600 * 1000))

# Write file $2 of day $3 holding ids $4 and $4+1000 into table $1, and
# commit it (txn w = $4) at time $5 (ms; "now": the wall clock).
put() {
	mkdir -p "$1/admission_date=$3" &&
	printf '{"id":%d,"name":"n%d"}\n{"id":%d,"name":null}\n' "$4" "$4" \
		"$(($4 + 1000))" |
		"$pqtool" write "$1/admission_date=$3/$2" --schema "id:int64,name:string?" &&
	if [ "$5" = now ]; then at=; else at="--now $5"; fi &&
	"$dt" append "$1" --pv "admission_date=$3" --txn "w=$4" $at \
		"admission_date=$3/$2" >/dev/null
}

# Dump every version of $T from $1 on into $TMPD/dump/V.ndjson.
dumps() {
	rm -rf "$TMPD/dump" && mkdir "$TMPD/dump" &&
	latest=$("$dt" snapshot "$T" | sed 's/^{"version":\([0-9]*\),.*/\1/') &&
	v=$1 && while [ "$v" -le "$latest" ]; do
		ps-silver -q --dump --version-as-of "$v" "$T" >"$TMPD/dump/$v.ndjson" || return 1
		v=$((v + 1))
	done
}

data_files() { (cd "$T" && find . -name '*.parquet' -not -path './_delta_log/*' | sort); }

check 'a table of 12 appends 3h ago, compacted 2h ago (versions 0..13)' '
	mkdir -p "$L/silver" &&
	"$dt" create "$T" --schema "id:int64,name:string?,admission_date:date" \
		--partition admission_date --now $old >/dev/null &&
	i=1 && while [ $i -le 12 ]; do
		put "$T" "part-$i.parquet" "2026-01-0$((i % 3 + 1))" $i $((old + i * 1000)) || exit 1
		i=$((i + 1))
	done &&
	"$dt" compact "$T" 1000000 --now $((real - 2 * 3600 * 1000)) >"$TMPD/c.json" &&
	grep -q "\"files_in\":12,\"files_out\":3" "$TMPD/c.json" &&
	printf x >"$T/admission_date=2026-01-01/part-killed-writer.parquet" &&
	printf y >"$T/admission_date=2026-01-01/part-young.parquet" &&
	touch -d "@$((old / 1000))" $(find "$T" -name "*.parquet" -not -name "*young*" -not -path "*_delta_log*") &&
	"$dt" snapshot "$T" | grep -q "^{\"version\":13,"
'

check 'ps-silver --dump --version-as-of: every version as deltalake and DuckDB read it' '
	dumps 0 && test "$(wc -l <"$TMPD/dump/5.ndjson")" -eq 10 &&
	test "$(wc -l <"$TMPD/dump/13.ndjson")" -eq 24 &&
	grep -q "\"admission_date\":\"2026-01-02\"" "$TMPD/dump/13.ndjson" &&
	"$py" "$ops" versions "$T" "$TMPD/dump" 0
'

check 'ps-silver --dump --as-of picks the last version at or before TIME' '
	t5=$(date -u -d "@$(((old + 5000) / 1000))" +%Y-%m-%dT%H:%M:%S.500Z) &&
	ps-silver --dump --as-of "$t5" "$T" | sort >"$TMPD/a5" &&
	sort "$TMPD/dump/5.ndjson" | cmp - "$TMPD/a5" &&
	sort "$TMPD/dump/13.ndjson" >"$TMPD/a13" &&
	ps-silver --dump --as-of "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$T" | sort | cmp - "$TMPD/a13"
'

check 'time travel errors: unknown version, before the first version, not a table (66)' '
	ps-silver --dump --version-as-of 14 "$T" 2>"$TMPD/e"; test $? -eq 66 &&
	grep -q "has no version 14 (latest 13)" "$TMPD/e" &&
	ps-silver --dump --as-of 2001-01-01T00:00:00Z "$T" 2>"$TMPD/e"; test $? -eq 66 &&
	grep -q "no version at or before that time" "$TMPD/e" &&
	ps-silver --dump --version-as-of 1 "$T/admission_date=2026-01-01" 2>"$TMPD/e"; test $? -eq 66 &&
	grep -q "not a Delta table" "$TMPD/e"
'

check 'ps-silver --vacuum --dry-run names the 12 removed files and the killed writer'"'"'s, deletes nothing' '
	data_files >"$TMPD/before" &&
	ps-silver -q -L "$L" --vacuum --retain 1h --dry-run >"$TMPD/dry" &&
	test "$(grep -c "\"status\":\"would_delete\"" "$TMPD/dry")" -eq 13 &&
	grep -q "part-killed-writer" "$TMPD/dry" && ! grep -q "part-young" "$TMPD/dry" &&
	grep -q "\"op\":\"vacuum\",\"dry_run\":true,\"deleted\":13," "$TMPD/dry" &&
	tail -n 1 "$TMPD/dry" | grep -q "\"op\":\"log_cleanup\",\"dry_run\":true,\"oldest_version\":null,\"deleted\":0," &&
	data_files | cmp - "$TMPD/before"
'

check 'ps-silver --vacuum deletes them; versions since the compaction still read the same' '
	ps-silver -q -L "$L" --vacuum --retain 1h >"$TMPD/vac" &&
	grep -q "\"op\":\"vacuum\",\"dry_run\":false,\"deleted\":13," "$TMPD/vac" &&
	test "$(data_files | wc -l)" -eq 4 &&
	"$py" "$ops" versions "$T" "$TMPD/dump" 13 &&
	ps-silver -q -L "$L" --vacuum --retain 1h | grep -q "\"deleted\":0,"
'

check 'compaction and vacuum while a writer appends: same rows at every version, for every reader' '
	( i=100; while [ $i -lt 130 ]; do
		put "$T" "part-$i.parquet" "2026-01-0$((i % 3 + 1))" $i now || exit 1
		i=$((i + 1))
	done; echo done >"$TMPD/writer" ) &
	wpid=$! &&
	n=0 && while [ ! -f "$TMPD/writer" ] && [ $n -lt 200 ]; do
		ps-silver -q -L "$L" --compact --small-files 1M >>"$TMPD/comp" || exit 1
		ps-silver -q -L "$L" --vacuum --retain 1h >>"$TMPD/vac2" || exit 1
		n=$((n + 1))
	done &&
	wait $wpid && test -f "$TMPD/writer" &&
	ps-silver -q -L "$L" --compact --small-files 1M >>"$TMPD/comp" &&
	test "$(grep -c "\"version\":[0-9]" "$TMPD/comp")" -ge 2 &&

	! grep -q "\"status\":\"deleted\"" "$TMPD/vac2" &&
	dumps 13 && latest=$("$dt" snapshot "$T" | sed "s/^{\"version\":\([0-9]*\),.*/\1/") &&
	test "$(wc -l <"$TMPD/dump/$latest.ndjson")" -eq $((24 + 60)) &&
	"$py" "$ops" versions "$T" "$TMPD/dump" 13 &&
	for v in $(grep -l "\"operation\":\"OPTIMIZE\"" "$T"/_delta_log/*.json | sed "s|.*/0*\([0-9]*\)\.json|\1|"); do
		[ "$v" -gt 13 ] || continue
		sort "$TMPD/dump/$v.ndjson" >"$TMPD/x" && sort "$TMPD/dump/$((v - 1)).ndjson" | cmp - "$TMPD/x" || exit 1
	done
'

check 'ps-silver --vacuum cleans the log up to the checkpoint before --log-retain; every version left reads alike, an earlier one fails clearly' '
	v=0 && while [ $v -le 24 ]; do
		touch -d "@$((real / 1000 - 40 * 86400))" "$T/_delta_log/$(printf %020d $v).json" || exit 1
		v=$((v + 1))
	done &&
	touch -d "@$((real / 1000 - 40 * 86400))" "$T"/_delta_log/000000000000000000[12]0.checkpoint.parquet &&
	ps-silver -q -L "$L" --vacuum --retain 1h --log-retain 30d --dry-run | tail -n 1 >"$TMPD/lc" &&
	grep -q "\"op\":\"log_cleanup\",\"dry_run\":true,\"oldest_version\":20,\"deleted\":21," "$TMPD/lc" &&
	test -f "$T/_delta_log/00000000000000000000.json" &&
	ps-silver -q -L "$L" --vacuum --retain 1h --log-retain 30d | tail -n 1 >"$TMPD/lc" &&
	grep -q "\"op\":\"log_cleanup\",\"dry_run\":false,\"oldest_version\":20,\"deleted\":21," "$TMPD/lc" &&
	test "$(ls "$T/_delta_log" | grep -c "^0*1[0-9]\.\|^0*[0-9]\.")" -eq 0 &&
	test -f "$T/_delta_log/00000000000000000020.checkpoint.parquet" &&
	dumps 20 && "$py" "$ops" versions "$T" "$TMPD/dump" 20 &&
	ps-silver --dump --version-as-of 19 "$T" 2>"$TMPD/e"; test $? -eq 66 &&
	grep -q "version 19 is no longer in the log (removed by log cleanup; the oldest version left is 20)" "$TMPD/e" &&
	ps-silver -q -L "$L" --vacuum --log-retain 30m 2>"$TMPD/e"; test $? -eq 64 &&
	grep -q "log-retain: at least 1h" "$TMPD/e"
'

check 'ps-gold --compact / --vacuum maintain every Delta table under LAKE/gold' '
	mkdir -p "$L/gold" && G=$L/gold/kpi_test &&
	"$dt" create "$G" --schema "id:int64,name:string?,admission_date:date" \
		--partition admission_date --now $old >/dev/null &&
	put "$G" a.parquet 2026-01-01 1 $((old + 1000)) &&
	put "$G" b.parquet 2026-01-01 2 $((old + 2000)) &&
	mkdir -p "$L/gold/not_a_table" &&
	ps-gold -q -L "$L" --compact --vacuum --dry-run >"$TMPD/g" 2>&1; test $? -eq 64 &&
	ps-gold -q -L "$L" --compact --vacuum >"$TMPD/g" &&
	test "$(wc -l <"$TMPD/g")" -eq 3 &&
	grep -q "{\"table\":\"gold/kpi_test\",\"op\":\"compact\",\"version\":3,\"files_in\":2,\"files_out\":1," "$TMPD/g" &&
	ps-silver --dump "$G" | sort | grep -c . | grep -qx 4
'

check 'pipelines/maintenance.sh maintains silver and gold; a stage without tables is skipped' '
	"$TOP/pipelines/maintenance.sh" "$L" >"$TMPD/m" 2>"$TMPD/m.err" &&
	test "$(grep -c "\"op\":\"compact\"" "$TMPD/m")" -eq 2 &&
	test "$(grep -c "\"op\":\"vacuum\",\"dry_run\":false" "$TMPD/m")" -eq 2 &&
	test "$(grep -c "\"op\":\"log_cleanup\",\"dry_run\":false" "$TMPD/m")" -eq 2 &&
	grep -q "\"table\":\"silver/admissions\"" "$TMPD/m" &&
	grep -q "\"table\":\"gold/kpi_test\"" "$TMPD/m" &&
	mkdir -p "$TMPD/empty" && "$TOP/pipelines/maintenance.sh" "$TMPD/empty" 2>"$TMPD/e.err" &&
	test "$(grep -c "no Delta table yet: skipped" "$TMPD/e.err")" -eq 2
'

check 'compaction drops the partition column an older writer stored in its files' '
	O=$TMPD/older && mkdir -p "$O/admission_date=2026-01-01" &&
	"$dt" create "$O" --schema "id:int64,name:string?,admission_date:date" \
		--partition admission_date --now $old >/dev/null &&
	printf "{\"id\":1,\"name\":\"a\",\"admission_date\":\"2026-01-01\"}\n" |
		"$pqtool" write "$O/admission_date=2026-01-01/old.parquet" \
		--schema "id:int64,name:string?,admission_date:date" &&
	"$dt" append "$O" --pv admission_date=2026-01-01 --txn w=1 \
		admission_date=2026-01-01/old.parquet >/dev/null &&
	put "$O" new.parquet 2026-01-01 2 now &&
	ps-silver --dump "$O" | sort >"$TMPD/o.before" &&
	test "$(wc -l <"$TMPD/o.before")" -eq 3 &&
	"$dt" compact "$O" 1000000 >"$TMPD/o.json" &&
	grep -q "\"files_in\":2,\"files_out\":1" "$TMPD/o.json" &&
	ps-silver --dump "$O" | sort | cmp - "$TMPD/o.before" &&
	"$py" -c "import sys, glob, deltalake, pyarrow.parquet as pq
f = glob.glob(sys.argv[1] + \"/*/part-compacted-*.parquet\")
t = deltalake.DeltaTable(sys.argv[1]).to_pyarrow_table().to_pylist()
sys.exit(len(f) != 1 or pq.read_schema(f[0]).names != [\"id\", \"name\"] or
         sorted(r[\"id\"] for r in t) != [1, 2, 1002] or
         {str(r[\"admission_date\"]) for r in t} != {\"2026-01-01\"})" "$O"
'

# The same on real pipeline output: a silver table of several versions.
R=$TMPD/real
check 'pipeline silver: every version as deltalake and DuckDB read it (ps-silver --dump --version-as-of)' '
	ps-simulate -m realistic --count 4000 --seed 3 --start 2026-01-01T00:00:00Z 2>/dev/null |
		ps-bronze -L "$R" --ingest-time 2026-06-01T00:00:00Z 2>/dev/null |
		ps-silver -L "$R" --flush-records 1000 2>/dev/null |
		ps-gold -L "$R" --now 2026-01-05T00:00:00Z >/dev/null 2>&1 &&
	T=$R/silver/admissions && dumps 0 &&
	test "$(ls "$TMPD/dump" | wc -l)" -ge 4 &&
	"$py" "$ops" versions "$T" "$TMPD/dump" 0
'

check 'pipeline silver compacted: same rows, every reader; gold catches up to the same tables' '
	T=$R/silver/admissions &&
	ps-silver --dump "$T" | sort >"$TMPD/before" &&
	gold_snapshot "$R" "$TMPD/gold.before" &&
	ps-silver -q -L "$R" --compact >"$TMPD/rc" &&
	grep -q "\"version\":[0-9]" "$TMPD/rc" &&
	ps-silver --dump "$T" | sort | cmp - "$TMPD/before" &&
	dumps 0 && "$py" "$ops" versions "$T" "$TMPD/dump" 0 &&
	ps-gold -q -L "$R" --now 2026-01-05T00:00:00Z --catch-up >/dev/null &&
	gold_snapshot "$R" "$TMPD/gold.after" &&
	cmp "$TMPD/gold.before" "$TMPD/gold.after"
'

done_testing

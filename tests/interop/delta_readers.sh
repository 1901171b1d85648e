#!/bin/sh
# Interop: Delta tables written by lib/delta are read by deltalake (delta-rs,
# every version) and DuckDB's delta extension; tables and checkpoints that
# deltalake writes are read by lib/delta; deltalake appends concurrently with
# us (our commit retries, or fails on a txn clash); our checkpoint equals the
# one deltalake writes for the same version.  Nested Parquet (the checkpoint's
# struct/map/list columns): pyarrow and DuckDB read ours, we read theirs.
. "$(dirname "$0")/../lib.sh"
pqtool=${PQTOOL:-$TOP/build/tests/pqtool}
dt=${DELTATOOL:-$TOP/build/tests/deltatool}
chk=$TOP/tests/interop/delta_check.py
for t in "$pqtool" "$dt"; do
	[ -x "$t" ] || { echo "delta_readers: $t missing (make $t)" >&2; exit 1; }
done
py=$("$TOP/scripts/pyenv.sh" delta) || { echo "delta_readers: no deltalake venv" >&2; exit 1; }
T=$TMPD/t
now=1790000000000

# Snapshots of every version of table $1, one JSON line each.
snapshots() {
	latest=$("$dt" snapshot "$1" | sed 's/^{"version":\([0-9]*\),.*/\1/')
	v=0
	while [ "$v" -le "$latest" ]; do
		"$dt" snapshot "$1" --version "$v" || return 1
		v=$((v + 1))
	done
}

# Append data file $2 (day $3) with txn silver:$4 to our table $1 at time $5.
put() {
	mkdir -p "$1/day=$3" &&
	printf '{"id":%d,"name":"n%d"}\n{"id":%d,"name":null}\n' "$4" "$4" \
		"$(($4 + 1000))" |
		"$pqtool" write "$1/day=$3/$2" --schema "id:int64,name:string?" &&
	"$dt" append "$1" --pv "day=$3" --txn "silver:$4=$4" --now "$5" \
		"day=$3/$2" >/dev/null
}

nested_spec='a:int64,b:struct<x:string?,y:int32>?,c:list<string?>?,m:map<string?>?,l:list<list<int32>?>?'

check 'pyarrow and DuckDB read our nested Parquet (struct, list, map, list of lists)' '
	"$py" -c "import json,sys; sys.path.insert(0, \"$TOP/tests/interop\"); import delta_check as d; [print(json.dumps(r)) for r in d.NESTED_ROWS]" |
		"$pqtool" write-nested "$TMPD/n.parquet" --schema "$nested_spec" &&
	"$py" "$chk" nested "$TMPD/n.parquet"
'

check 'we read nested Parquet written by pyarrow (v1, v2, gzip plain) and DuckDB' '
	mkdir "$TMPD/pyn" && "$py" "$chk" pynested "$TMPD/pyn" >"$TMPD/pyn.list" &&
	test "$(wc -l <"$TMPD/pyn.list")" -eq 4 &&
	while read -r f; do
		"$pqtool" dump "$f" >"$TMPD/pyn.out" &&
		cmp "$TMPD/pyn/expected.ndjson" "$TMPD/pyn.out" || { echo "$f"; exit 1; }
	done <"$TMPD/pyn.list"
'

check 'a table of 12 appends, a rewrite and a compaction commits versions 0..14' '
	"$dt" create "$T" --schema "id:int64,name:string?,day:date" \
		--partition day --id 0f0e0d0c-0b0a-4908-8706-050403020100 \
		--now $now >"$TMPD/v" && test "$(cat "$TMPD/v")" = 0 &&
	i=1 && while [ $i -le 12 ]; do
		put "$T" "part-$i.parquet" "2026-01-0$((i % 3 + 1))" $i $((now + i * 1000)) || exit 1
		i=$((i + 1))
	done &&
	test -f "$T/_delta_log/00000000000000000010.checkpoint.parquet" &&
	grep -q "\"version\":10" "$T/_delta_log/_last_checkpoint" &&
	printf "{\"id\":7,\"name\":\"r\"}\n" | "$pqtool" write "$T/day=2026-01-02/part-r.parquet" --schema "id:int64,name:string?" &&
	"$dt" append "$T" --remove day=2026-01-02/part-7.parquet --pv day=2026-01-02 \
		--now $((now + 13000)) day=2026-01-02/part-r.parquet >"$TMPD/v" &&
	test "$(cat "$TMPD/v")" = 13 &&
	"$pqtool" dump "$T/day=2026-01-03/part-2.parquet" >"$TMPD/c.json" &&
	"$pqtool" dump "$T/day=2026-01-03/part-5.parquet" >>"$TMPD/c.json" &&
	"$pqtool" write "$T/day=2026-01-03/part-c.parquet" --schema "id:int64,name:string?" <"$TMPD/c.json" &&
	"$dt" append "$T" --no-data-change --remove day=2026-01-03/part-2.parquet \
		--remove day=2026-01-03/part-5.parquet --pv day=2026-01-03 \
		--now $((now + 14000)) day=2026-01-03/part-c.parquet >"$TMPD/v" &&
	test "$(cat "$TMPD/v")" = 14 &&
	grep -q "\"dataChange\":false" "$T/_delta_log/00000000000000000014.json"
'

check 'deltalake reads every version as our snapshot does (files, sizes, rows, txns)' '
	snapshots "$T" >"$TMPD/snaps" && test "$(wc -l <"$TMPD/snaps")" = 15 &&
	"$py" "$chk" versions "$T" "$TMPD/snaps"
'

check 'DuckDB delta_scan reads the latest version' '
	# 12 files of 2 rows, one replaced by 1 row, two compacted into one
	"$py" "$chk" duck "$T" 23 $(( (78 - 7) + (78 + 12000 - 1007) + 7 ))
'

check 'time travel by timestamp picks the last version at or before it' '
	"$dt" snapshot "$T" --as-of $((now + 5500)) | grep -q "^{\"version\":5," &&
	"$dt" snapshot "$T" --as-of $((now + 14000)) | grep -q "^{\"version\":14," &&
	! "$dt" snapshot "$T" --as-of $((now - 1)) 2>/dev/null
'

check 'our checkpoint of version 10 equals the one deltalake writes' '
	mkdir "$TMPD/cp" && cp -r "$T/_delta_log" "$TMPD/cp/" &&
	cp -r "$T"/day=* "$TMPD/cp/" &&
	for v in 11 12 13 14; do rm "$TMPD/cp/_delta_log/000000000000000000$v.json"; done &&
	mv "$TMPD/cp/_delta_log/00000000000000000010.checkpoint.parquet" "$TMPD/ours.parquet" &&
	rm "$TMPD/cp/_delta_log/_last_checkpoint" &&
	test "$("$py" "$chk" dlcheckpoint "$TMPD/cp")" = 10 &&
	"$py" "$chk" cpcompare "$TMPD/ours.parquet" \
		"$TMPD/cp/_delta_log/00000000000000000010.checkpoint.parquet"
'

check 'we read a table (and its checkpoint) that deltalake wrote' '
	test "$("$py" "$chk" dlwrite "$TMPD/dl" 12)" = 11 &&
	test -f "$TMPD/dl/_delta_log/00000000000000000011.checkpoint.parquet" &&
	"$dt" snapshot "$TMPD/dl" >"$TMPD/dl.json" &&
	grep -q "\"checkpoint\":11" "$TMPD/dl.json" &&
	grep -q "\"txns\":{\"dl:app\":11}" "$TMPD/dl.json" &&
	snapshots "$TMPD/dl" >"$TMPD/dlsnaps" &&
	"$py" "$chk" versions "$TMPD/dl" "$TMPD/dlsnaps"
'

check 'a commit that lost the race to deltalake retries at the next version' '
	test "$("$py" "$chk" dlappend "$T" dl:other 5)" = 15 &&
	mkdir -p "$T/day=2026-01-01" &&
	printf "{\"id\":500,\"name\":\"late\"}\n" | "$pqtool" write "$T/day=2026-01-01/part-late.parquet" --schema "id:int64,name:string?" &&
	"$dt" append "$T" --read-version 14 --pv day=2026-01-01 --txn silver:x=50 \
		--now $((now + 16000)) day=2026-01-01/part-late.parquet >"$TMPD/v" &&
	test "$(cat "$TMPD/v")" = 16 &&
	"$dt" snapshot "$T" | grep -q "\"dl:other\":5,.*\"silver:x\":50" &&
	snapshots "$T" >"$TMPD/snaps" && "$py" "$chk" versions "$T" "$TMPD/snaps"
'

check 'a commit whose txn appId another writer committed meanwhile fails (75)' '
	test "$("$py" "$chk" dlappend "$T" silver:x 999)" = 17 &&
	printf "{\"id\":501,\"name\":\"dup\"}\n" | "$pqtool" write "$T/day=2026-01-01/part-dup.parquet" --schema "id:int64,name:string?" &&
	{ "$dt" append "$T" --read-version 16 --pv day=2026-01-01 --txn silver:x=51 \
		day=2026-01-01/part-dup.parquet 2>"$TMPD/err"; test $? = 75; } &&
	grep -q "conflict: another writer committed .silver:x." "$TMPD/err" &&
	test ! -e "$T/_delta_log/00000000000000000018.json" &&
	"$dt" snapshot "$T" | grep -q "\"silver:x\":999"
'

check 'eight concurrent writers of one table each commit once, no version lost' '
	mkdir -p "$T/day=2026-01-02" &&
	for w in 1 2 3 4 5 6 7 8; do
		printf "{\"id\":%d,\"name\":\"w\"}\n" $((600 + w)) |
			"$pqtool" write "$T/day=2026-01-02/part-w$w.parquet" --schema "id:int64,name:string?" || exit 1
	done &&
	for w in 1 2 3 4 5 6 7 8; do
		"$dt" append "$T" --read-version 17 --pv day=2026-01-02 --txn "w:$w=$w" \
			--now $((now + 20000)) "day=2026-01-02/part-w$w.parquet" >"$TMPD/w$w" &
	done; wait &&
	cat "$TMPD"/w? | sort -n | tr "\n" " " >"$TMPD/vs" &&
	test "$(cat "$TMPD/vs")" = "18 19 20 21 22 23 24 25 " &&
	test -f "$T/_delta_log/00000000000000000020.checkpoint.parquet" &&
	"$dt" snapshot "$T" >"$TMPD/s.json" &&
	for w in 1 2 3 4 5 6 7 8; do grep -q "\"w:$w\":$w" "$TMPD/s.json" || exit 1; done &&
	snapshots "$T" >"$TMPD/snaps" && "$py" "$chk" versions "$T" "$TMPD/snaps"
'

check 'compaction rewrites the small files (dataChange=false); readers see the same rows' '
	"$py" "$chk" rows "$T" >"$TMPD/rows.before" &&
	v=$("$dt" snapshot "$T" | sed "s/^{\"version\":\([0-9]*\),.*/\1/") &&
	"$dt" compact "$T" 100000 --now $((now + 30000)) >"$TMPD/m.json" 2>"$TMPD/m.err" &&
	# day=2026-01-01 holds deltalake files (snappy): left alone
	grep -q "skipped a partition.*snappy" "$TMPD/m.err" &&
	grep -q "\"files_out\":2,.*\"version\":$((v + 1))," "$TMPD/m.json" &&
	! grep -q "\"dataChange\":true" "$T/_delta_log/$(printf %020d $((v + 1))).json" &&
	"$py" "$chk" rows "$T" >"$TMPD/rows.after" &&
	cmp "$TMPD/rows.before" "$TMPD/rows.after" &&
	"$py" "$chk" duck "$T" $(cat "$TMPD/rows.after") &&
	"$dt" snapshot "$T" | grep -q "\"w:8\":8" &&
	snapshots "$T" >"$TMPD/snaps" && "$py" "$chk" versions "$T" "$TMPD/snaps"
'

check 'vacuum deletes unreferenced files only past the retention, readers unharmed' '
	real=$(($(date +%s) * 1000)) &&
	echo stray >"$T/day=2026-01-01/part-stray-old.parquet" &&
	touch -d "2 days ago" "$T/day=2026-01-01/part-stray-old.parquet" &&
	echo young >"$T/day=2026-01-01/part-stray-young.parquet" &&
	echo tmp >"$T/day=2026-01-01/.part-x.parquet.tmp-1" &&
	touch -d "2 days ago" "$T/day=2026-01-01/.part-x.parquet.tmp-1" &&
	"$dt" vacuum "$T" 86400000 --now $real >"$TMPD/m.json" &&
	grep -q "\"deleted\":1," "$TMPD/m.json" &&
	test ! -e "$T/day=2026-01-01/part-stray-old.parquet" &&
	test -e "$T/day=2026-01-01/part-stray-young.parquet" &&
	test -e "$T/day=2026-01-01/.part-x.parquet.tmp-1" &&
	test -e "$T/day=2026-01-02/part-1.parquet" &&
	"$dt" vacuum "$T" 0 --now $((real + 60000)) --dry-run >"$TMPD/dry.json" &&
	test -e "$T/day=2026-01-02/part-1.parquet" &&
	"$dt" vacuum "$T" 0 --now $((real + 60000)) >"$TMPD/m.json" &&
	cmp "$TMPD/dry.json" "$TMPD/m.json" &&
	test ! -e "$T/day=2026-01-02/part-1.parquet" &&
	test ! -e "$T/day=2026-01-01/part-stray-young.parquet" &&
	"$py" "$chk" rows "$T" >"$TMPD/rows.vac" &&
	cmp "$TMPD/rows.before" "$TMPD/rows.vac" &&
	"$py" "$chk" duck "$T" $(cat "$TMPD/rows.vac")
'

done_testing

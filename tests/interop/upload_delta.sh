#!/bin/sh
# ps-upload of Delta tables to Azurite, read back by deltalake straight from
# the container: data files first, then each log version in order with
# put-if-absent, checkpoints after their version, _last_checkpoint last; a
# file no version references is left; the remote table is valid at every
# moment (checked with the upload paused at several points, and after a
# SIGKILL); a restart completes it (existing versions compared, not
# rewritten); a version that exists remotely with other bytes fails (65)
# and nothing after it is sent.
. "$(dirname "$0")/../lib.sh"
pqtool=${PQTOOL:-$TOP/build/tests/pqtool}
dt=${DELTATOOL:-$TOP/build/tests/deltatool}
ops=$TOP/tests/interop/delta_ops.py
for t in "$pqtool" "$dt"; do
	[ -x "$t" ] || { echo "upload_delta: $t missing (make $t)" >&2; exit 1; }
done
py=$("$TOP/scripts/pyenv.sh" delta) || { echo "upload_delta: no deltalake venv" >&2; exit 1; }
unset PS_BLOB_SAS PS_BLOB_URL AZURE_STORAGE_KEY PS_VAULT
out=$("$TOP/scripts/azurite.sh" start "$TMPD/az") ||
	{ echo "FAIL: cannot start Azurite" >&2; exit 1; }
eval "$out"
at_exit '"$TOP/scripts/azurite.sh" stop "$AZURITE_STATE"'
export PS_BLOB_KEY="$AZURITE_KEY"
L=$TMPD/lake
S=$L/silver/admissions
G=$L/gold/dim_department
now=1790000000000

# Append file $2 (day $3, ids $4 and $4+1000) to table $1, txn w=$4.
put() {
	mkdir -p "$1/day=$3" &&
	printf '{"id":%d,"name":"n%d"}\n{"id":%d,"name":null}\n' "$4" "$4" \
		"$(($4 + 1000))" |
		"$pqtool" write "$1/day=$3/$2" --schema "id:int64,name:string?" &&
	"$dt" append "$1" --pv "day=$3" --txn "w=$4" --now $((now + $4 * 1000)) \
		"day=$3/$2" >/dev/null
}

# Rewrite table $1 (one file, remove + add in one version), round $2; the
# file removed stays on disk for the versions before.
rewrite() {
	printf '{"id":%d,"name":"r%d"}\n' "$2" "$2" |
		"$pqtool" write "$1/part-$2.parquet" --schema "id:int64,name:string?" &&
	if [ "$2" -gt 1 ]; then rm_arg="--remove part-$(($2 - 1)).parquet"; else rm_arg=; fi &&
	"$dt" append "$1" $rm_arg --now $((now + $2 * 1000)) "part-$2.parquet" >/dev/null
}

remote() { "$py" "$ops" "$@"; }
lines() { jq -r "select(.status == \"$2\") | .path" "$1"; }

check 'a silver table of 44 versions (checkpoints 10..40) and a rewritten gold table' '
	"$dt" create "$S" --schema "id:int64,name:string?,day:date" --partition day \
		--now $now >/dev/null &&
	i=1 && while [ $i -le 43 ]; do
		put "$S" "part-$i.parquet" "2026-01-0$((i % 3 + 1))" $i || exit 1
		i=$((i + 1))
	done &&
	test -f "$S/_delta_log/00000000000000000040.checkpoint.parquet" &&
	grep -q "\"version\":40" "$S/_delta_log/_last_checkpoint" &&
	"$dt" create "$G" --schema "id:int64,name:string?" --now $now >/dev/null &&
	for k in 1 2 3; do rewrite "$G" $k || exit 1; done &&
	printf "{\"id\":0,\"name\":\"x\"}\n" |
		"$pqtool" write "$S/day=2026-01-01/part-uncommitted.parquet" --schema "id:int64,name:string?"
'

TO=$AZURITE_BLOB_URL/lake1/p
check 'one run: data files, then the log in version order, put-if-absent; _last_checkpoint last' '
	ps-upload -L "$L" --to "$TO" --create-container >"$TMPD/u1" 2>"$TMPD/u1.err" &&
	! lines "$TMPD/u1" failed | grep -q . &&
	lines "$TMPD/u1" uploaded >"$TMPD/order" &&
	! grep -q part-uncommitted "$TMPD/order" &&
	grep "left for a later run" "$TMPD/u1.err" | grep -q part-uncommitted &&
	test "$(grep -c "_delta_log/.*json$" "$TMPD/order")" -eq 48 &&
	first_log=$(grep -n _delta_log "$TMPD/order" | head -n 1 | cut -d: -f1) &&
	last_data=$(grep -vn _delta_log "$TMPD/order" | tail -n 1 | cut -d: -f1) &&
	test "$last_data" -lt "$first_log" &&
	grep "silver/admissions/_delta_log/" "$TMPD/order" | sed "s|.*/||" >"$TMPD/slog" &&
	{ seq 0 43 | while read -r v; do printf "%020d.json\n" $v
		[ $((v % 10)) -eq 0 ] && [ $v -gt 0 ] && printf "%020d.checkpoint.parquet\n" $v
	done; echo _last_checkpoint; } | cmp - "$TMPD/slog" &&
	test "$(tail -n 1 "$TMPD/order")" = silver/admissions/_delta_log/_last_checkpoint
'

check 'deltalake reads every version of both tables from Azurite as the local tables' '
	remote remote az://lake1/p/silver/admissions "$S" &&
	remote remote az://lake1/p/gold/dim_department "$G"
'

check 'a new commit: its file, then its version; the uncommitted file once committed' '
	"$dt" append "$S" --pv day=2026-01-01 --txn w=99 --now $((now + 99000)) \
		day=2026-01-01/part-uncommitted.parquet >/dev/null &&
	ps-upload -L "$L" --to "$TO" >"$TMPD/u2" 2>/dev/null &&
	lines "$TMPD/u2" uploaded | sed "s|.*/||" | tr "\n" " " |
		grep -qx "part-uncommitted.parquet 00000000000000000044.json " &&
	remote remote az://lake1/p/silver/admissions "$S"
'

check 'without its state, a rerun compares the versions there (same bytes) and rewrites none' '
	rm -rf "$L/_state/ps-upload" &&
	ps-upload -L "$L" --to "$TO" >"$TMPD/u3" 2>/dev/null &&
	test "$(jq -r "select(.reason == \"same bytes in container\") | .path" "$TMPD/u3" | grep -c "json$")" -eq 49 &&
	! lines "$TMPD/u3" failed | grep -q .
'

TO2=$AZURITE_BLOB_URL/lake2/p
check 'paused at many points and SIGKILLed, the remote table is valid; a rerun completes it' '
	ps-upload -L "$L" --to "$TO2" --create-container --parallel 1 >"$TMPD/k" 2>/dev/null &
	upid=$! &&
	seen="" && for want in 3 30 50 60 75 90; do
		n=0; while [ "$(grep -c "\"uploaded\"" "$TMPD/k")" -lt $want ] && [ $n -lt 2000 ]; do sleep 0.005; n=$((n + 1)); done
		kill -STOP $upid 2>/dev/null || break
		v=$(remote valid az://lake2/p/silver/admissions "$S") || { kill -9 $upid; exit 1; }
		seen="$seen $v"
		if [ $want -eq 90 ]; then kill -9 $upid; else kill -CONT $upid; fi
	done; wait $upid; echo "remote versions seen while paused:$seen" &&
	echo "$seen" | grep -q "none" && echo "$seen" | grep -q "[0-9]" &&
	ps-upload -L "$L" --to "$TO2" >"$TMPD/k2" 2>/dev/null &&
	remote remote az://lake2/p/silver/admissions "$S" &&
	remote remote az://lake2/p/gold/dim_department "$G"
'

check 'a version that exists there with other bytes fails (65); nothing after it is sent' '
	cp -r "$L" "$TMPD/other" && rm -rf "$TMPD/other/_state" &&
	O=$TMPD/other/silver/admissions &&
	put "$O" part-o.parquet 2026-01-02 200 &&
	put "$S" part-l.parquet 2026-01-02 300 && put "$S" part-m.parquet 2026-01-02 301 &&
	ps-upload -L "$TMPD/other" --to "$TO" >/dev/null 2>&1 &&
	{ ps-upload -L "$L" --to "$TO" >"$TMPD/d" 2>"$TMPD/d.err"; test $? -eq 65; } &&
	jq -r "select(.status == \"failed\") | .reason" "$TMPD/d" | grep -q "00000000000000000045.json exists in the container with other bytes" &&
	! grep -q "00000000000000000046.json\",\"blob\":[^,]*,\"status\":\"uploaded\"" "$TMPD/d" &&
	test "$(remote valid az://lake1/p/silver/admissions "$O")" = 45
'

done_testing

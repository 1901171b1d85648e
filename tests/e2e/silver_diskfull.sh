#!/bin/bash
# Disk full (ulimit -f: writes past the limit fail with EFBIG): ps-silver
# exits 74 with one clear error line, leaves no visible file of the failed
# batch (also when some of its files were already renamed into place), no
# temporary file, does not advance its checkpoint, prints nothing of the
# batch; a rerun with room gives the same lake as a run that never failed.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
export LC_ALL=C PS_LOG_TS=0
unset PS_LAKE
SIM=$top/bin/ps-simulate
SILVER=$top/bin/ps-silver
POS=$top/tests/silver_positions.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
check() {
	local what=$1
	shift
	if "$@"; then
		pass=$((pass + 1))
		echo "ok - $what"
	else
		fail=$((fail + 1))
		echo "FAIL - $what" >&2
	fi
}
T=2026-01-02T00:00:00Z

# Envelopes, so that the checkpoint matters: a first part and a second.
"$SIM" -q --seed 3 --count 6000 | jq -c --slurp -R '
	split("\n")[:-1] | to_entries[] | {source: "kafka:adm/0",
	position: .key, ingest_time: "2026-01-02T00:00:00Z", payload: .value}' \
	>"$tmp/all"
head -n 3500 "$tmp/all" >"$tmp/part1"
tail -n +3501 "$tmp/all" >"$tmp/part2"

snapshot() { # the committed files and state of a lake
	(cd "$1" && find . -type f ! -name '.*' | sort | xargs -r md5sum)
}

"$SILVER" -q -L "$tmp/lake" --now "$T" -n <"$tmp/part1"
check "first part committed" test $? -eq 0
snapshot "$tmp/lake" >"$tmp/before"
"$POS" "$tmp/lake" >"$tmp/ckpt.before"
ls "$tmp/lake/silver/admissions/_delta_log" >"$tmp/log.before"

# 1: the Parquet files themselves do not fit.
(ulimit -f 16; exec "$SILVER" -L "$tmp/lake" --now "$T" <"$tmp/part2" \
	>"$tmp/out1" 2>"$tmp/err1")
st=$?
check "big file: exit status 74 (got $st)" test "$st" -eq 74
check "big file: one error line" \
	test "$(grep -c 'level=error' "$tmp/err1")" -ge 1
check "big file: the error says why" grep -q 'File too large' "$tmp/err1"
check "big file: lake unchanged (no partial file visible)" \
	cmp -s "$tmp/before" <(snapshot "$tmp/lake")
check "big file: no temporary file left" \
	test -z "$(find "$tmp/lake" -name '.*' ! -name '.*.lock' | head -1)"
check "big file: no version committed" \
	cmp -s "$tmp/log.before" <(ls "$tmp/lake/silver/admissions/_delta_log")
check "big file: nothing printed" test ! -s "$tmp/out1"

# 2: small Parquet partitions fit, the dedup window (20 bytes a key, and
# it grows by 300 keys) does not: the partitions already renamed into
# place must be removed again.
dd_kb=$(($(stat -c %s "$tmp/lake/_state/ps-silver/admissions.dedup") / 1024 + 3))
(ulimit -f "$dd_kb"; exec "$SILVER" -L "$tmp/lake" --now "$T" -v \
	--flush-records 300 <"$tmp/part2" >"$tmp/out2" 2>"$tmp/err2")
st=$?
check "late failure: exit status 74 (got $st)" test "$st" -eq 74
check "late failure: partitions had been renamed, then removed" \
	grep -q 'level=error msg="cannot write .*admissions.dedup' "$tmp/err2"
check "late failure: the log says the batch was removed" \
	grep -q 'commit failed, batch removed' "$tmp/err2"
check "late failure: lake unchanged" \
	cmp -s "$tmp/before" <(snapshot "$tmp/lake")
check "late failure: no version committed" \
	cmp -s "$tmp/log.before" <(ls "$tmp/lake/silver/admissions/_delta_log")
check "late failure: nothing printed" test ! -s "$tmp/out2"

# With room again, the lake equals a run that never failed.
"$SILVER" -q -L "$tmp/lake" --now "$T" -n <"$tmp/part2"
check "rerun with room succeeds" test $? -eq 0
"$SILVER" -q -L "$tmp/ref" --now "$T" -n <"$tmp/all"
check "rows equal a run without failure" \
	cmp -s <("$SILVER" --dump "$tmp/ref/silver" | sort) \
	<("$SILVER" --dump "$tmp/lake/silver" | sort)
check "txn at the end" test "$("$POS" "$tmp/lake")" = \
	'{"kafka:adm/0":5999}'

echo "silver_diskfull: $pass passed, $fail failed"
[ "$fail" -eq 0 ]

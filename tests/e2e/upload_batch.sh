#!/bin/sh
# pipelines/batch.sh against a real Azurite: catch up the stages that are
# installed, upload every committed file, pass exit codes through, refuse
# to overlap with a running batch.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
AZURITE_STATE=
lpid=
cleanup() {
	[ -n "$lpid" ] && kill "$lpid" 2>/dev/null
	[ -n "$AZURITE_STATE" ] && "$top/scripts/azurite.sh" stop "$AZURITE_STATE"
	rm -rf "$tmp"
}
trap cleanup EXIT
export LC_ALL=C PS_LOG_TS=0
unset PS_BLOB_SAS PS_BLOB_URL AZURE_STORAGE_KEY PS_VAULT PS_UPLOAD_ARGS PS_BIN

pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
ko() { fail=$((fail + 1)); echo "FAIL - $1" >&2; }
check() {
	t=$1
	shift
	if "$@"; then ok "$t"; else ko "$t"; fi
}

out=$("$top/scripts/azurite.sh" start) ||
	{ echo "FAIL: cannot start Azurite" >&2; exit 1; }
eval "$out"
B="$top/pipelines/batch.sh"
cd "$tmp" || exit 1

# A lake: real bronze files when ps-bronze is built, else stand-ins.
mkdir lake
if [ -x "$top/bin/ps-bronze" ] && [ -x "$top/bin/ps-simulate" ]; then
	"$top/bin/ps-simulate" --seed 7 --count 500 |
		"$top/bin/ps-bronze" -L lake -q -n ||
		{ echo "FAIL: cannot build the test lake" >&2; exit 1; }
else
	mkdir -p lake/bronze/admissions/date=2026-01-01
	echo '{"patient_id":"p1"}' | gzip >lake/bronze/admissions/date=2026-01-01/part-stdin-0-0.ndjson.gz
fi

# 1. The whole batch: stages that exist, then the upload.
PS_BLOB_URL="$AZURITE_BLOB_URL/batch" PS_BLOB_KEY="$AZURITE_KEY" \
	PS_UPLOAD_ARGS=--create-container "$B" lake >b1.out 2>b1.err
st=$?
check "batch exits 0" [ $st -eq 0 ]
[ $st -eq 0 ] || head -20 b1.err >&2
n=$(cd lake && find . -type f ! -path './_state/*' ! -name '.*' |
	grep -vc '/\.')
check "batch uploaded every committed file ($n)" \
	[ "$(grep -c '"status":"uploaded"' b1.out)" -eq "$n" ]
check "batch stdout is the upload's JSON only" \
	sh -c '[ $(jq -c "select(.status)" b1.out | wc -l) -eq $(wc -l <b1.out) ]'
for s in ps-silver ps-gold; do
	if [ -x "$top/bin/$s" ]; then
		check "batch ran $s --catch-up" grep -q "running $s" b1.err
	else
		check "batch skipped the missing $s" \
			grep -q "$s is not installed: skipped" b1.err
	fi
done
if [ -x "$top/bin/ps-silver" ]; then
	check "silver files were made and uploaded" \
		grep -q '"path":"silver/.*"status":"uploaded"' b1.out
fi

# 2. A re-run sends nothing.
PS_BLOB_URL="$AZURITE_BLOB_URL/batch" PS_BLOB_KEY="$AZURITE_KEY" \
	"$B" lake >b2.out 2>b2.err
check "re-run exits 0" [ $? -eq 0 ]
check "re-run uploads nothing" sh -c '! grep -q "\"status\":\"uploaded\"" b2.out'

# 3. Exit codes pass through: the upload's 78 for a wrong key ...
BAD=$(python3 -c 'import base64; print(base64.b64encode(b"x" * 64).decode())')
echo new >lake/bronze/extra.ndjson.gz
PS_BLOB_URL="$AZURITE_BLOB_URL/batch" PS_BLOB_KEY="$BAD" "$B" lake \
	>b3.out 2>b3.err
check "wrong key: batch exits 78" [ $? -eq 78 ]
check "wrong key: not in any output" sh -c "! grep -qF '$BAD' b3.out b3.err"
# ... and a failing stage's 75, with no upload after it.
mkdir fakebin
printf '#!/bin/sh\necho "silver: broker gone" >&2\nexit 75\n' >fakebin/ps-silver
chmod +x fakebin/ps-silver
PS_BIN="$tmp/fakebin" PS_BLOB_URL="$AZURITE_BLOB_URL/batch" \
	PS_BLOB_KEY="$AZURITE_KEY" "$B" lake >b4.out 2>b4.err
check "failing stage: its exit status (75) passes through" [ $? -eq 75 ]
check "failing stage: nothing uploaded after it" [ ! -s b4.out ]

# 4. Settings: no lake is a usage error; no target only catches up.
PS_LAKE= "$B" >b5.out 2>b5.err
check "no lake: exit 64" [ $? -eq 64 ]
PS_BLOB_KEY="$AZURITE_KEY" "$B" lake >b6.out 2>b6.err
check "no PS_BLOB_URL: catch-up only, exit 0" [ $? -eq 0 ]
check "no PS_BLOB_URL: says nothing was uploaded" \
	grep -q "PS_BLOB_URL is not set" b6.err

# 5. Two runs never overlap.
(exec 9>lake/.batch.lock && flock 9 && exec sleep 60) &
lpid=$!
n=0
while flock -n lake/.batch.lock true && [ $n -lt 600 ]; do
	sleep 0.05
	n=$((n + 1))
done
PS_BLOB_URL="$AZURITE_BLOB_URL/batch" PS_BLOB_KEY="$AZURITE_KEY" \
	"$B" lake >b7.out 2>b7.err
check "a locked lake: exit 75" [ $? -eq 75 ]
kill "$lpid" 2>/dev/null
wait "$lpid" 2>/dev/null
lpid=
check "the lock file is not uploaded" sh -c '! grep -q batch.lock b1.out b2.out'

echo "upload_batch: $pass passed, $fail failed"
[ "$fail" -eq 0 ]

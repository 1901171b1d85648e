#!/bin/sh
# ps-upload when Azurite goes away mid-run: the run ends with exit 75
# (retry later) and failed lines, Azurite comes back on the same port (in
# memory, so empty), and a re-run with --verify completes: every file is
# in the container byte for byte; one more run sends nothing.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
AZURITE_STATE=
upid=
cleanup() {
	[ -n "$upid" ] && kill "$upid" 2>/dev/null
	[ -n "$AZURITE_STATE" ] && "$top/scripts/azurite.sh" stop "$AZURITE_STATE"
	rm -rf "$tmp"
}
trap cleanup EXIT
export LC_ALL=C PS_LOG_TS=0
unset PS_BLOB_SAS PS_BLOB_URL AZURE_STORAGE_KEY PS_VAULT

pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
ko() { fail=$((fail + 1)); echo "FAIL - $1" >&2; }
check() {
	t=$1
	shift
	if "$@"; then ok "$t"; else ko "$t"; fi
}

out=$("$top/scripts/azurite.sh" start "$tmp/az") ||
	{ echo "FAIL: cannot start Azurite" >&2; exit 1; }
eval "$out"
export PS_BLOB_KEY="$AZURITE_KEY"
U="$top/bin/ps-upload"
cd "$tmp" || exit 1

# 300 files of 64 KiB in 3 partitions, and a marker per table.
python3 - <<'EOF'
import os, random
r = random.Random(11)
for d in range(3):
    p = "lake/bronze/admissions/date=2026-01-%02d" % (d + 1)
    os.makedirs(p, exist_ok=True)
    for i in range(100):
        with open("%s/part-stdin-%d-%d.ndjson.gz" % (p, i * 10, i * 10 + 9),
                  "wb") as f:
            f.write(bytes(r.getrandbits(8) for _ in range(65536)))
open("lake/bronze/admissions/_SUCCESS", "w").close()
EOF
TO="$AZURITE_BLOB_URL/restart/lake"

# Run 1, killed under its feet once a few files are in.
: >run1.out
"$U" -L lake --to "$TO" --create-container --parallel 1 --retries 1 \
	--block-size 16k >run1.out 2>run1.err &
upid=$!
i=0
while [ "$(grep -c '"status":"uploaded"' run1.out)" -lt 3 ] &&
	[ $i -lt 600 ]; do
	sleep 0.05
	i=$((i + 1))
done
port=$AZURITE_PORT
"$top/scripts/azurite.sh" stop "$AZURITE_STATE"
wait "$upid"
st=$?
upid=
check "interrupted run exits 75 (retry later)" [ $st -eq 75 ]
check "interrupted run: some files uploaded" \
	[ "$(grep -c '"status":"uploaded"' run1.out)" -ge 3 ]
check "interrupted run: failures reported with code 75" \
	grep -q '"status":"failed".*"code":75' run1.out
check "interrupted run: the marker was not sent" \
	grep -q '"path":"bronze/admissions/_SUCCESS","blob":"lake/bronze/admissions/_SUCCESS","status":"failed"' run1.out
check "interrupted run: one line per file" \
	[ "$(jq -r .path run1.out | sort -u | wc -l)" -eq 301 ]

# Azurite again, same port, empty (in memory): a re-run that asks the
# service (--verify) sends everything that is missing.
out=$(AZURITE_PORT=$port "$top/scripts/azurite.sh" start "$tmp/az") ||
	{ echo "FAIL: cannot restart Azurite" >&2; exit 1; }
eval "$out"
"$U" -L lake --to "$TO" --create-container --verify --parallel 4 \
	--block-size 16k >run2.out 2>run2.err
check "re-run completes (exit 0)" [ $? -eq 0 ]
check "re-run: all 301 files uploaded" \
	[ "$(grep -c '"status":"uploaded"' run2.out)" -eq 301 ]

# Every blob read back with a read-only SAS made here.
SAS=$(python3 - "$AZURITE_ACCOUNT" "$AZURITE_KEY" <<'EOF'
import base64, hashlib, hmac, sys, urllib.parse
acct, key = sys.argv[1:3]
sv, se = "2021-08-06", "2099-01-01T00:00:00Z"
sts = "\n".join(["rl", "", se, "/blob/%s/restart" % acct, "", "", "", sv,
                 "c", "", "", "", "", "", "", ""])
sig = base64.b64encode(hmac.new(base64.b64decode(key), sts.encode(),
                                hashlib.sha256).digest()).decode()
q = urllib.parse.quote
print("sv=%s&sr=c&sp=rl&se=%s&sig=%s" % (sv, q(se, safe=""), q(sig, safe="")))
EOF
)
bad=0
for f in $(cd lake && find . -type f ! -path './_state/*' | sed 's|^\./||'); do
	if ! curl -sf -o got "$TO/$f?$SAS" || ! cmp -s got "lake/$f"; then
		bad=$((bad + 1))
	fi
done
check "every blob reads back byte-identical" [ $bad -eq 0 ]

"$U" -L lake --to "$TO" >run3.out 2>run3.err
check "third run exits 0" [ $? -eq 0 ]
check "third run sends nothing" \
	[ "$(grep -c '"status":"skipped"' run3.out)" -eq 301 ]

echo "upload_restart: $pass passed, $fail failed"
[ "$fail" -eq 0 ]

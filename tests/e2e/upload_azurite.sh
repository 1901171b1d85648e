#!/bin/sh
# ps-upload against a real Azurite: SharedKey and SAS uploads, a
# multi-block file read back byte for byte, re-runs that send nothing,
# ordering, --dry-run, --stdin, --verify, and a wrong key (exit 78, clear
# message, the key in no output).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
AZURITE_STATE=
cleanup() {
	[ -n "$AZURITE_STATE" ] && "$top/scripts/azurite.sh" stop "$AZURITE_STATE"
	rm -rf "$tmp"
}
trap cleanup EXIT
[ -n "${KEEP:-}" ] && trap - EXIT
export LC_ALL=C PS_LOG_TS=0
unset PS_BLOB_KEY PS_BLOB_SAS PS_BLOB_URL AZURE_STORAGE_KEY PS_VAULT

out=$("$top/scripts/azurite.sh" start) || { echo "FAIL: cannot start Azurite" >&2; exit 1; }
eval "$out"

pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
ko() { fail=$((fail + 1)); echo "FAIL - $1" >&2; }
check() { # check TITLE COMMAND...
	t=$1
	shift
	if "$@"; then ok "$t"; else ko "$t"; fi
}

U="$top/bin/ps-upload"
cd "$tmp" || exit 1

# A service SAS for a container, made here with HMAC-SHA256 independently
# of lib/azblob.c ("Create a service SAS", version 2021-08-06).
make_sas() { # make_sas CONTAINER PERMISSIONS
	python3 - "$AZURITE_ACCOUNT" "$AZURITE_KEY" "$1" "$2" <<'EOF'
import base64, hashlib, hmac, sys, urllib.parse
acct, key, cont, perms = sys.argv[1:5]
sv, se = "2021-08-06", "2099-01-01T00:00:00Z"
sts = "\n".join([perms, "", se, "/blob/%s/%s" % (acct, cont), "", "", "",
                 sv, "c", "", "", "", "", "", "", ""])
sig = base64.b64encode(hmac.new(base64.b64decode(key), sts.encode(),
                                hashlib.sha256).digest()).decode()
q = urllib.parse.quote
print("sv=%s&sr=c&sp=%s&se=%s&sig=%s" % (sv, perms, q(se, safe=""),
                                         q(sig, safe="")))
EOF
}

# GET a blob with a read SAS and compare it with a file.
same_blob() { # same_blob CONTAINER BLOB FILE
	curl -sf -o "$tmp/got" "$AZURITE_BLOB_URL/$1/$2?$RSAS_1" &&
		cmp -s "$tmp/got" "$3"
}

# The lake: bronze, a multi-block gold partition, a top-level table file,
# markers, and things that must never be uploaded.
mk() { mkdir -p "$(dirname "$1")" && cat >"$1"; }
echo '{"a":1}' | mk lake/bronze/admissions/date=2026-01-01/part-stdin-0-9.ndjson.gz
echo '{"a":2}' | mk lake/quarantine/admissions/date=2026-01-01/part-stdin-3-3.ndjson.gz
python3 -c 'import sys, random
r = random.Random(7)
sys.stdout.buffer.write(bytes(r.getrandbits(8) for _ in range(200000)))' |
	mk lake/gold/fact_patient_flow/admission_date=2026-01-01/part-0.parquet
echo dim | mk lake/gold/dim_patient/part-0.parquet
: | mk lake/gold/fact_patient_flow/_SUCCESS
echo '{"v":0}' | mk lake/gold/fact_patient_flow/_manifest/00000.json
echo private | mk lake/_state/ps-bronze/admissions.json
echo partial | mk lake/bronze/admissions/date=2026-01-01/.part-x.tmp-1
mkdir -p lake/silver/.hidden && echo h >lake/silver/.hidden/f

export PS_BLOB_KEY="$AZURITE_KEY"
TO="$AZURITE_BLOB_URL/lake1/run"

# 1. SharedKey upload with a small block size: 200000 bytes = 4 blocks.
"$U" -L lake --to "$TO" --create-container --block-size 64k --parallel 1 \
	>up1.out 2>up1.err
check "sharedkey upload exits 0" [ $? -eq 0 ]
check "six files uploaded" [ "$(grep -c '"status":"uploaded"' up1.out)" -eq 6 ]
check "one line per file, valid JSON" \
	sh -c "[ \$(jq -c . up1.out | wc -l) -eq 6 ]"
check "the big file went up in 4 blocks" \
	grep -q '"path":"gold/fact_patient_flow/admission_date=2026-01-01/part-0.parquet".*"blocks":4' up1.out
check "nothing from _state or hidden names" \
	sh -c '! grep -qE "_state|\.part-x|\.hidden" up1.out'
# Order: data (deepest first) before markers (a _manifest directory: a
# _delta_log would make the table a Delta table, see upload_delta.sh);
# partitions before the table's top-level files.
# Lines come in completion order, but phases are barriers: the three
# partition files, then the table's top-level file, then the markers.
jq -r .path up1.out >order.txt
cat >order.want <<'EOF'
bronze/admissions/date=2026-01-01/part-stdin-0-9.ndjson.gz
gold/fact_patient_flow/admission_date=2026-01-01/part-0.parquet
quarantine/admissions/date=2026-01-01/part-stdin-3-3.ndjson.gz
gold/dim_patient/part-0.parquet
gold/fact_patient_flow/_manifest/00000.json
gold/fact_patient_flow/_SUCCESS
EOF
{ head -3 order.txt | sort; sed -n 4p order.txt; sed -n 5p order.txt
  sed -n 6p order.txt; } >order.got
check "data before markers, partitions before top-level files" \
	cmp -s order.got order.want

RSAS_1=$(make_sas lake1 rl)
check "multi-block blob reads back byte-identical" same_blob lake1 \
	run/gold/fact_patient_flow/admission_date=2026-01-01/part-0.parquet \
	lake/gold/fact_patient_flow/admission_date=2026-01-01/part-0.parquet
check "small blob reads back byte-identical" same_blob lake1 \
	run/bronze/admissions/date=2026-01-01/part-stdin-0-9.ndjson.gz \
	lake/bronze/admissions/date=2026-01-01/part-stdin-0-9.ndjson.gz
check "empty marker blob reads back" same_blob lake1 \
	run/gold/fact_patient_flow/_SUCCESS lake/gold/fact_patient_flow/_SUCCESS
md5=$(python3 -c 'import base64, hashlib, sys
print(base64.b64encode(hashlib.md5(open(sys.argv[1], "rb").read()).digest()).decode())' \
	lake/gold/fact_patient_flow/admission_date=2026-01-01/part-0.parquet)
curl -sfI "$AZURITE_BLOB_URL/lake1/run/gold/fact_patient_flow/admission_date=2026-01-01/part-0.parquet?$RSAS_1" |
	tr -d '\r' >head.txt
check "the service stored the whole-file MD5" \
	grep -qix "Content-MD5: $md5" head.txt
check "state written under _state/ps-upload" \
	sh -c '[ $(ls lake/_state/ps-upload/*.json | wc -l) -eq 1 ]'

# 2. A re-run uploads nothing.
"$U" -L lake --to "$TO" >up2.out 2>up2.err
check "re-run exits 0" [ $? -eq 0 ]
check "re-run: all six skipped" \
	[ "$(grep -c '"status":"skipped"' up2.out)" -eq 6 ]
# A touched but identical file is skipped by its MD5, a changed one sent.
touch lake/gold/dim_patient/part-0.parquet
echo changed >lake/bronze/admissions/date=2026-01-01/part-stdin-0-9.ndjson.gz
"$U" -L lake --to "$TO" >up3.out 2>up3.err
check "touched file skipped by md5" \
	grep -q '"path":"gold/dim_patient/part-0.parquet".*"reason":"same md5"' up3.out
check "changed file uploaded again" \
	grep -q '"path":"bronze/admissions/date=2026-01-01/part-stdin-0-9.ndjson.gz".*"status":"uploaded"' up3.out
check "changed blob reads back" same_blob lake1 \
	run/bronze/admissions/date=2026-01-01/part-stdin-0-9.ndjson.gz \
	lake/bronze/admissions/date=2026-01-01/part-stdin-0-9.ndjson.gz

# 3. --verify asks the service: with the state gone, nothing is re-sent.
rm -rf lake/_state/ps-upload
"$U" -L lake --to "$TO" --verify --parallel 3 >up4.out 2>up4.err
check "--verify without state skips what the container has" \
	[ "$(grep -c '"reason":"same md5 in container"' up4.out)" -eq 6 ]

# 4. --dry-run sends nothing.
echo new >lake/bronze/admissions/date=2026-01-01/part-stdin-10-19.ndjson.gz
"$U" -L lake --to "$TO" --dry-run >up5.out 2>up5.err
check "--dry-run reports would_upload" \
	grep -q '"path":"bronze/admissions/date=2026-01-01/part-stdin-10-19.ndjson.gz".*"status":"would_upload"' up5.out
check "--dry-run sent nothing" sh -c \
	"! curl -sf -o /dev/null '$AZURITE_BLOB_URL/lake1/run/bronze/admissions/date=2026-01-01/part-stdin-10-19.ndjson.gz?$RSAS_1'"

# 5. SAS upload (no key), from a file list on stdin, into another
# container made with the key first.
mkdir empty
"$U" -L empty --to "$AZURITE_BLOB_URL/lake2" --create-container \
	>/dev/null 2>&1
unset PS_BLOB_KEY
SAS=$(make_sas lake2 rwl)
RSAS_1=$(make_sas lake2 rl)
printf '%s\n' lake/gold/dim_patient/part-0.parquet \
	'{"path":"gold/fact_patient_flow/admission_date=2026-01-01/part-0.parquet"}' \
	lake/_state/ps-bronze/admissions.json /etc/hostname |
	PS_BLOB_SAS="$SAS" "$U" -L lake --to "$AZURITE_BLOB_URL/lake2" --stdin \
	--block-size 64k >up6.out 2>up6.err
st=$?
check "SAS upload of a list: refused entries give exit 66" [ $st -eq 66 ]
check "SAS upload: listed files uploaded" \
	[ "$(grep -c '"status":"uploaded"' up6.out)" -eq 2 ]
check "SAS upload: _state and outside files refused" \
	[ "$(grep -c '"status":"failed"' up6.out)" -eq 2 ]
check "SAS multi-block blob reads back" same_blob lake2 \
	gold/fact_patient_flow/admission_date=2026-01-01/part-0.parquet \
	lake/gold/fact_patient_flow/admission_date=2026-01-01/part-0.parquet
check "the SAS is in no output" sh -c "! grep -qF '$(printf %s "$SAS" | sed 's/.*sig=//')' up6.out up6.err"

# 6. Wrong key: exit 78, a clear message, the key nowhere.
BAD=$(python3 -c 'import base64; print(base64.b64encode(b"k" * 64).decode())')
PS_VAULT=env: PS_SECRET_ADLSKEY="$BAD" "$U" -L lake --to "$TO" \
	--account-key secret:adlskey >up7.out 2>up7.err
check "wrong key exits 78" [ $? -eq 78 ]
check "wrong key: clear message" \
	grep -q 'refused the credentials (check the account key' up7.err
check "wrong key: key in no output" \
	sh -c "! grep -qF '$BAD' up7.out up7.err"
check "wrong key: the real key in no output either" \
	sh -c "! grep -qF '$AZURITE_KEY' up7.out up7.err up1.err up1.out"
PS_BLOB_KEY='not base64!' "$U" -L lake --to "$TO" >up8.out 2>up8.err
check "malformed key exits 78" [ $? -eq 78 ]
check "malformed key: not echoed" sh -c "! grep -qF 'not base64!' up8.err"
"$U" -L lake --to "$TO" --account-key "$BAD" >up9.out 2>up9.err
check "a key value in argv is refused (64)" [ $? -eq 64 ]

# 7. Missing container without --create-container: 78.
PS_BLOB_KEY="$AZURITE_KEY" "$U" -L lake --to "$AZURITE_BLOB_URL/nosuch" \
	>up10.out 2>up10.err
check "missing container exits 78" [ $? -eq 78 ]
check "missing container: says so" grep -q ContainerNotFound up10.err

# 8. --watch keeps syncing until SIGTERM, then exits 0.
wait_for() { # wait_for PATTERN FILE: up to 30 s
	n=0
	while ! grep -q "$1" "$2" && [ $n -lt 600 ]; do
		sleep 0.05
		n=$((n + 1))
	done
	grep -q "$1" "$2"
}
: >w.out
PS_BLOB_KEY="$AZURITE_KEY" "$U" -L lake --to "$TO" --watch --interval 0.2 \
	>w.out 2>w.err &
wpid=$!
wait_for '"path":"gold/dim_patient/part-0.parquet"' w.out
echo late >lake/silver/late.parquet
check "--watch picks up a new file" \
	wait_for '"path":"silver/late.parquet".*"status":"uploaded"' w.out
kill -TERM "$wpid"
wait "$wpid"
check "--watch exits 0 on SIGTERM" [ $? -eq 0 ]
check "--watch sent the new file once" \
	[ "$(grep -c '"path":"silver/late.parquet".*"uploaded"' w.out)" -eq 1 ]

echo "upload_azurite: $pass passed, $fail failed"
[ "$fail" -eq 0 ]

#!/bin/sh
# bench/upload.sh: ps-upload throughput to a local Azurite (in memory),
# with --parallel 1 and --parallel 8, against the anchor: one curl
# process uploading the same files one after the other with -T (SAS
# authorized, keep-alive), in the same run.  Prints MB/s, peak RSS and the
# ratios, then the cost of a re-run that finds everything unchanged.
#
#   BENCH_BYTES=N       total lake size (default 1G; suffix k, M, G)
#   BENCH_FILE_BYTES=N  size of each file (default 4M); files larger than
#                       BENCH_BLOCK go up in blocks
#   BENCH_BLOCK=N       ps-upload --block-size (default 8M)
#
# Every upload goes to its own container, so Azurite holds 3 x BENCH_BYTES
# in memory at the end (it may use up to half the machine's memory).
set -u
. "$(dirname "$0")/lib.sh"

size() { # k/M/G suffixes, like ps-upload
	awk -v s="$1" 'BEGIN { n = s + 0; u = substr(s, length(s));
		if (u == "k" || u == "K") n *= 1024; else if (u == "M") n *= 1048576;
		else if (u == "G") n *= 1073741824; printf "%d", n }'
}
total=$(size "${BENCH_BYTES:-1G}")
fsize=$(size "${BENCH_FILE_BYTES:-4M}")
block=${BENCH_BLOCK:-8M}
nfiles=$(( (total + fsize - 1) / fsize ))
work=$BENCH_TMP/upload
mkdir -p "$work"
AZURITE_STATE=
cleanup_upload() {
	[ -n "$AZURITE_STATE" ] && "$TOP/scripts/azurite.sh" stop "$AZURITE_STATE"
	rm -rf "$work"
}
trap cleanup_upload EXIT

out=$("$TOP/scripts/azurite.sh" start) || { echo "bench: no Azurite" >&2; exit 1; }
eval "$out"

# The lake: nfiles random files in 8 partitions, as bronze would lay them.
python3 - "$work/lake" "$nfiles" "$fsize" <<'EOF'
import os, sys
lake, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(n):
    d = "%s/bronze/admissions/date=2026-01-%02d" % (lake, i % 8 + 1)
    os.makedirs(d, exist_ok=True)
    with open("%s/part-stdin-%d-%d.ndjson.gz" % (d, i * 1000, i * 1000 + 999),
              "wb") as f:
        f.write(os.urandom(size))
EOF
mb=$(awk -v b="$((nfiles * fsize))" 'BEGIN { printf "%.1f", b / 1048576 }')
echo "upload: $nfiles files of $fsize bytes ($mb MiB) to Azurite on 127.0.0.1"

run() { # run LABEL CMD: prints MB/s and peak RSS, sets MBS
	label=$1
	shift
	/usr/bin/time -f '%e %M' -o "$work/.time" sh -c "$*" >"$work/.out" \
		2>"$work/.err" || {
		echo "bench: '$label' failed:" >&2
		tail -5 "$work/.err" >&2
		return 1
	}
	read -r secs kb <"$work/.time"
	MBS=$(awk -v m="$mb" -v s="$secs" 'BEGIN { printf "%.1f", (s > 0 ? m / s : m / 0.01) }')
	printf '%-44s %8s MB/s  %7s s  peak RSS %6.1f MiB\n' "$label" "$MBS" \
		"$secs" "$(awk -v k="$kb" 'BEGIN { print k / 1024 }')"
}

export PS_BLOB_KEY="$AZURITE_KEY"
# Containers first (the anchor cannot create one with a container SAS).
for c in par1 par8 curl; do
	mkdir -p "$work/empty"
	ps-upload -L "$work/empty" --to "$AZURITE_BLOB_URL/$c" \
		--create-container -q >/dev/null || exit 1
done
rm -rf "$work/lake/_state"

run "ps-upload --parallel 1" \
	"ps-upload -q -L '$work/lake' --to '$AZURITE_BLOB_URL/par1' --parallel 1 --block-size $block" ||
	exit 1
p1=$MBS
rm -rf "$work/lake/_state"
run "ps-upload --parallel 8" \
	"ps-upload -q -L '$work/lake' --to '$AZURITE_BLOB_URL/par8' --parallel 8 --block-size $block" ||
	exit 1
p8=$MBS

# The anchor: one curl, every file with -T, sequential, SAS in the URL.
sas=$(python3 - "$AZURITE_ACCOUNT" "$AZURITE_KEY" <<'EOF'
import base64, hashlib, hmac, sys, urllib.parse
acct, key = sys.argv[1:3]
sv, se = "2021-08-06", "2099-01-01T00:00:00Z"
sts = "\n".join(["cw", "", se, "/blob/%s/curl" % acct, "", "", "", sv, "c",
                 "", "", "", "", "", "", ""])
sig = base64.b64encode(hmac.new(base64.b64decode(key), sts.encode(),
                                hashlib.sha256).digest()).decode()
q = urllib.parse.quote
print("sv=%s&sr=c&sp=cw&se=%s&sig=%s" % (sv, q(se, safe=""), q(sig, safe="")))
EOF
)
(cd "$work/lake" && find bronze -type f | sort) | while read -r f; do
	printf 'upload-file = "%s"\nurl = "%s/curl/%s?%s"\n' \
		"$work/lake/$f" "$AZURITE_BLOB_URL" "$f" "$sas"
done >"$work/curl.conf"
run "anchor: curl -T, sequential (same files)" \
	"curl -sS -f -H 'x-ms-blob-type: BlockBlob' -H 'Expect:' -K '$work/curl.conf' -o /dev/null" ||
	exit 1
anchor=$MBS
echo "ratio ps-upload --parallel 1 / curl -T: $(ratio "$p1" "$anchor")"
echo "ratio ps-upload --parallel 8 / curl -T: $(ratio "$p8" "$anchor")"

# A re-run that finds every file unchanged (state only, no network).
/usr/bin/time -f '%e %M' -o "$work/.time" ps-upload -q -L "$work/lake" \
	--to "$AZURITE_BLOB_URL/par8" >"$work/.out" 2>"$work/.err" || exit 1
read -r secs kb <"$work/.time"
printf '%-44s %8s files/s  %5s s  peak RSS %6.1f MiB\n' \
	"ps-upload re-run (all unchanged)" \
	"$(awk -v n="$nfiles" -v s="$secs" 'BEGIN { printf "%.0f", (s > 0 ? n / s : n / 0.01) }')" \
	"$secs" "$(awk -v k="$kb" 'BEGIN { print k / 1024 }')"

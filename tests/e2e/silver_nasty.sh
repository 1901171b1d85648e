#!/bin/bash
# The nasty-input corpus (tests/data/nasty): every file goes through
# ps-silver without a crash, and every record lands where the rule table
# says, with the right reason and field (tests/data/nasty/EXPECTED).
# Also a 10 MiB line and 10,000-deep JSON made on the fly.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
SILVER=$top/bin/ps-silver
corpus=$top/tests/data/nasty
export LC_ALL=C PS_LOG_TS=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
check() {
	local what=$1
	shift
	if "$@"; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "FAIL: $what" >&2
	fi
}

# What happened to each record of a lake: "KEY outcome", KEY the position
# for plain lines and SOURCE:POSITION for envelopes.
outcomes() {
	local lake=$1
	{
		if [ -d "$lake/silver" ]; then
			"$SILVER" --dump "$lake/silver" | jq -r '
				(if .source == "stdin:admissions" then
				 (.position | tostring) else
				 "\(.source):\(.position)" end) + " kept" +
				(if .flags then ":" + .flags else "" end)'
		fi
		find "$lake/quarantine" -name '*.ndjson.gz' 2>/dev/null |
		while read -r f; do
			zcat "$f" | jq -r '
				(if .source == "stdin:admissions" then
				 (.position | tostring) else
				 "\(.source):\(.position)" end) + " " +
				(.reasons | join(",")) +
				(if .field then ":" + .field else "" end)'
		done
	} | sort
}

for f in "$corpus"/*.ndjson; do
	name=$(basename "$f")
	lake=$tmp/$name
	case $name in envelopes.ndjson) kind=envelopes ;; *) kind=events ;; esac
	"$SILVER" -L "$lake" --input $kind --no-catch-up \
		--now 2026-01-02T00:00:00Z -q -n --stats-json "$tmp/$name.stats" <"$f" 2>"$tmp/$name.err"
	st=$?
	check "$name: exit 0 (got $st: $(head -c 200 "$tmp/$name.err"))" \
		test "$st" -eq 0
	outcomes "$lake" >"$tmp/$name.got"
	grep "^$name " "$corpus/EXPECTED" | cut -d' ' -f2- |
		grep -v ' dropped$' | grep -v ' skipped$' | sort >"$tmp/$name.want"
	if ! cmp -s "$tmp/$name.want" "$tmp/$name.got"; then
		diff -u "$tmp/$name.want" "$tmp/$name.got" >&2
	fi
	check "$name: every record where the rule table says" \
		cmp -s "$tmp/$name.want" "$tmp/$name.got"
	want_dup=$(grep -c "^$name .* dropped$" "$corpus/EXPECTED")
	check "$name: $want_dup duplicates dropped" \
		test "$(jq .duplicates "$tmp/$name.stats")" -eq "$want_dup"
	want_skip=$(grep -c "^$name .* skipped$" "$corpus/EXPECTED")
	check "$name: $want_skip replayed envelopes skipped" \
		test "$(jq .skipped "$tmp/$name.stats")" -eq "$want_skip"
done
check "every corpus file has expectations" \
	test "$(cut -d' ' -f1 "$corpus/EXPECTED" | grep -v '^#' | sort -u |
		wc -l)" -eq "$(ls "$corpus"/*.ndjson | wc -l)"

# A 10 MiB line between two good records: quarantined as too long with its
# first bytes, and the reader resynchronises at the next line.
good='{"patient_id":"g","gender":"F","age":3,"department":"ICU","admission_time":"2026-01-01T00:00:00Z","bed_id":1,"hospital_id":1}'
{
	echo "$good"
	printf '{"patient_id":"'
	head -c $((10 * 1024 * 1024)) /dev/zero | tr '\0' 'x'
	printf '"}\n'
	echo "$good" | sed 's/"g"/"h"/'
} >"$tmp/long.ndjson"
"$SILVER" -L "$tmp/long" --input events --no-catch-up --now 2026-01-02 -q -n <"$tmp/long.ndjson"
check "10 MiB line: exit 0" test $? -eq 0
outcomes "$tmp/long" >"$tmp/long.got"
printf '0 kept\n1 record_too_long\n2 kept\n' >"$tmp/long.want"
check "10 MiB line: quarantined as record_too_long, neighbours kept" \
	cmp -s "$tmp/long.want" "$tmp/long.got"
zcat "$tmp"/long/quarantine/admissions/*/*.gz >"$tmp/long.q"
check "10 MiB line: length and truncation recorded" \
	test "$(jq -c '[.length, .truncated, (.raw | length)]' "$tmp/long.q")" = \
	"[$((10 * 1024 * 1024 + 17)),true,1048576]"

# 10,000-deep JSON as a payload of an envelope and as a plain line.
python3 -c '
import json
d = "[" * 10000 + "]" * 10000
print(d)
print(json.dumps({"source": "kafka:x/1", "position": 1,
                  "ingest_time": "2026-01-02T00:00:00Z",
                  "payload": "{\"a\":" + d + "}"}))' >"$tmp/deepgen.ndjson"
head -n 1 "$tmp/deepgen.ndjson" |
	"$SILVER" -L "$tmp/deepgen" --input events --no-catch-up --now 2026-01-02 -q -n &&
tail -n 1 "$tmp/deepgen.ndjson" |
	"$SILVER" -L "$tmp/deepgen" --input envelopes --no-catch-up --now 2026-01-02 -q -n
check "10,000-deep: exit 0" test $? -eq 0
check "10,000-deep: both quarantined as malformed_json" \
	test "$(outcomes "$tmp/deepgen" | tr '\n' ' ')" = \
	"0 malformed_json kafka:x/1:1 malformed_json "

echo "silver_nasty: $pass passed, $fail failed"
[ "$fail" -eq 0 ]

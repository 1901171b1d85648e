#!/bin/bash
# ps-silver --catch-up (cron, restarts): it processes the committed bronze
# files past its checkpoint and exits; a second run finds nothing new; new
# bronze files are picked up by the next run; the result equals a live
# pipeline; --dry-run catch-up writes nothing.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
export LC_ALL=C PS_LOG_TS=0
unset PS_LAKE
SIM=$top/bin/ps-simulate
BRONZE=$top/bin/ps-bronze
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
"$SIM" -q --seed 4 --count 9000 >"$tmp/in"
head -n 5000 "$tmp/in" >"$tmp/in1"

# the live pipeline, for reference
"$BRONZE" -q -L "$tmp/ref" --ingest-time "$T" <"$tmp/in" |
	"$SILVER" -q -L "$tmp/ref" --now "$T" -n

# bronze alone, then silver from cron
"$BRONZE" -q -L "$tmp/lake" --ingest-time "$T" --flush-records 1000 -n \
	<"$tmp/in1"
"$SILVER" -q -L "$tmp/lake" --now "$T" --catch-up --stats-json "$tmp/s1" \
	</dev/null >"$tmp/out1"
check "catch-up exits 0" test $? -eq 0
check "catch-up processed the 5000 landed records" \
	test "$(jq .records "$tmp/s1")" -eq 5000
check "catch-up printed the kept records" \
	test "$(wc -l <"$tmp/out1")" -eq "$(jq .kept "$tmp/s1")"
"$SILVER" -q -L "$tmp/lake" --now "$T" --catch-up -n --stats-json "$tmp/s2"
check "a second catch-up finds nothing new" \
	test "$(jq '.records + .skipped' "$tmp/s2")" -eq 0
# bronze goes on (a replay of the whole input lands the rest)
"$BRONZE" -q -L "$tmp/lake" --ingest-time "$T" -n <"$tmp/in"
"$SILVER" -q -L "$tmp/lake" --now "$T" --catch-up --dry-run \
	--stats-json "$tmp/s3" >"$tmp/dry"
check "dry-run catch-up sees the 4000 new records" \
	test "$(jq .records "$tmp/s3")" -eq 4000
check "dry-run wrote nothing" test "$("$POS" "$tmp/lake")" = \
	'{"stdin:admissions":4999}'
"$SILVER" -q -L "$tmp/lake" --now "$T" --catch-up --stats-json "$tmp/s4" \
	>"$tmp/out4"
check "the next catch-up takes them" test "$(jq .records "$tmp/s4")" -eq 4000
check "what it printed equals the dry run" cmp -s "$tmp/dry" "$tmp/out4"
check "silver equals the live pipeline" \
	cmp -s <("$SILVER" --dump "$tmp/ref/silver" | sort) \
	<("$SILVER" --dump "$tmp/lake/silver" | sort)
check "quarantine equals the live pipeline" \
	cmp -s <(zcat "$tmp"/ref/quarantine/admissions/*/*.gz | jq -c '[.position, .reasons]' | sort) \
	<(zcat "$tmp"/lake/quarantine/admissions/*/*.gz | jq -c '[.position, .reasons]' | sort)
echo "silver_catchup: $pass passed, $fail failed"
[ "$fail" -eq 0 ]

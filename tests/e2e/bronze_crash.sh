#!/bin/bash
# SIGKILL ps-bronze at random moments of `generator | ps-bronze`, restart
# it, and check that the lake ends up exactly like an uninterrupted run:
# the same set of (source, position, payload), nothing twice, and that
# what was emitted on stdout was committed and never emitted twice.
. "$(dirname "$0")/bronze_lib.inc"
N=60000
TRIALS=${BRONZE_TRIALS:-24}
RANDOM=7

gen "$N" >"$tmp/in"
"$BRONZE" -q -L "$tmp/ref" -n <"$tmp/in" || not_ok "reference run"
lake_set "$tmp/ref" >"$tmp/ref.set"
check "reference run landed all $N lines" \
	test "$(wc -l <"$tmp/ref.set")" -eq "$N"

killed=0
for i in $(seq 1 "$TRIALS"); do
	fr=$((200 + RANDOM % 3000))
	# Slow the input down a little so that kills land mid-stream.
	gen "$N" | throttle | "$BRONZE" -q -L "$tmp/lake" --flush-records "$fr" \
		--flush-interval 0.05 --threads $((RANDOM % 3)) \
		>>"$tmp/emitted" 2>>"$tmp/err" &
	pid=$!
	pids="$pids $pid"
	sleep "0.$((RANDOM % 8))$((RANDOM % 10))"
	if kill -9 "$pid" 2>/dev/null; then killed=$((killed + 1)); fi
	wait "$pid" 2>/dev/null
done
echo "# $killed of $TRIALS runs were killed mid-stream"
check "at least half of the trials were killed mid-stream" \
	test "$killed" -ge $((TRIALS / 2))
gen "$N" | "$BRONZE" -q -L "$tmp/lake" >>"$tmp/emitted" 2>>"$tmp/err"
check "final run exits 0" test $? -eq 0
lake_set "$tmp/lake" >"$tmp/lake.set"
check "no record landed twice" test -z "$(cut -f1,2 "$tmp/lake.set" | uniq -d | head -1)"
echo "# $(ls "$tmp"/lake/bronze/admissions/date=*/ | wc -l) files landed across the trials"
check "lake equals the uninterrupted run" cmp -s "$tmp/ref.set" "$tmp/lake.set"
check "file names match their contents" names_consistent "$tmp/lake"
check "no temporary files left after the final run" \
	test -z "$(find "$tmp/lake" -name '.*' ! -name '.*.lock' | head -1)"
jq -r '[.source, (.position | tostring)] | @tsv' "$tmp/emitted" | sort >"$tmp/emitted.keys"
check "nothing emitted twice" test -z "$(uniq -d "$tmp/emitted.keys" | head -1)"
cut -f1,2 "$tmp/lake.set" >"$tmp/lake.keys"
check "everything emitted was committed" \
	test -z "$(comm -23 "$tmp/emitted.keys" "$tmp/lake.keys" | head -1)"
check "checkpoint names the last position" \
	test "$(jq '.sources["stdin:admissions"].position' "$tmp/lake/_state/ps-bronze/admissions.json")" -eq $((N - 1))

# The same with envelopes from three sources (what ps-ingest emits).
jq -c --slurp -R 'split("\n")[:-1] | to_entries[] |
	{source: ("kafka:adm/" + ((.key % 3) | tostring)), position: (.key * 2),
	 ingest_time: "2026-11-24T06:00:00Z", payload: .value}' "$tmp/in" >"$tmp/env"
"$BRONZE" -q -L "$tmp/eref" --input envelopes -n <"$tmp/env"
lake_set "$tmp/eref" >"$tmp/eref.set"
for i in $(seq 1 8); do
	throttle <"$tmp/env" | "$BRONZE" -q -L "$tmp/elake" --input envelopes -n --flush-records 500 \
		--threads $((RANDOM % 3)) 2>>"$tmp/err" &
	pid=$!
	pids="$pids $pid"
	sleep "0.$((RANDOM % 8))$((RANDOM % 10))"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
done
"$BRONZE" -q -L "$tmp/elake" --input envelopes -n <"$tmp/env"
lake_set "$tmp/elake" >"$tmp/elake.set"
check "envelope lake has 3 sources" \
	test "$(ls "$tmp/elake"/bronze/admissions/date=*/ | sed 's/-0.*//' | sort -u | wc -l)" -eq 3
check "envelope lake equals the uninterrupted run" cmp -s "$tmp/eref.set" "$tmp/elake.set"
finish

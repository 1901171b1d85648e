#!/bin/sh
# ps-simulate: 1M events of each model to /dev/null; anchor: jq -c . over
# the same events (compat).  Target: >= 2,000,000 events/s (compat).
. "$(dirname "$0")/lib.sh"
echo "== ps-simulate ($N events)"
measure "ps-simulate compat" "$N" "ps-simulate --count $N --seed 1 >/dev/null"
compat=$RATE
measure "ps-simulate realistic" "$N" "ps-simulate -m realistic --count $N --seed 1 >/dev/null"
ps-simulate --count "$N" --seed 1 >"$BENCH_TMP/events.ndjson"
measure "anchor: jq -c . (same events)" "$N" "jq -c . <'$BENCH_TMP/events.ndjson' >/dev/null"
echo "ps-simulate compat vs jq -c .: $(ratio "$compat" "$RATE") (target >= 2000000 events/s: $( [ "$compat" -ge 2000000 ] && echo met || echo NOT met))"
echo "-- pacing: --rate 10000 for 10 s"
s=$(date +%s.%N)
lines=$(ps-simulate --rate 10000 --count 100000 --seed 1 | wc -l)
e=$(date +%s.%N)
awk -v l="$lines" -v s="$s" -v e="$e" 'BEGIN { r = l / (e - s); printf "sustained %.0f lines/s over %.2f s (%.2f%% off 10000)\n", r, e - s, (r - 10000) / 100 }'
rm -f "$BENCH_TMP/events.ndjson"

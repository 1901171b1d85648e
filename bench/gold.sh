#!/bin/sh
# ps-gold: 1M realistic simulated events (lifecycle events on), cleaned once
# by ps-bronze | ps-silver, then fed to ps-gold alone (one commit at the end:
# the default --commit-records).  Anchor: jq -c . over the same clean
# records.  Target: >= 300,000 events/s on one core.  Also: memory per
# million distinct patients, and the whole embedded pipeline
# ps-simulate | ps-bronze | ps-silver | ps-gold (target: under 3 s).
. "$(dirname "$0")/lib.sh"
T=2031-01-01T00:00:00Z	# ingest time after every simulated event
echo "== ps-gold ($N events, realistic)"
ps-simulate -m realistic --count "$N" --seed 1 2>/dev/null |
	ps-bronze -L "$BENCH_TMP/a" --ingest-time $T 2>/dev/null |
	ps-silver -L "$BENCH_TMP/a" >"$BENCH_TMP/clean.ndjson" 2>/dev/null
n=$(wc -l <"$BENCH_TMP/clean.ndjson" | tr -d ' ')
measure "ps-gold ($n clean records)" "$n" \
	"ps-gold -L '$BENCH_TMP/g' --no-catch-up --no-kpi --now 2026-02-01T00:00:00Z <'$BENCH_TMP/clean.ndjson' 2>'$BENCH_TMP/gold.err'"
gold=$RATE
gold_rss=$RSS_MB
patients=$(sed -n 's/.*msg="state" patients=\([0-9]*\).*/\1/p' "$BENCH_TMP/gold.err")
measure "anchor: jq -c . (same records)" "$n" "jq -c . <'$BENCH_TMP/clean.ndjson' >/dev/null"
echo "ps-gold vs jq -c .: $(ratio "$gold" "$RATE") (target >= 300000 events/s: $( [ "$gold" -ge 300000 ] && echo met || echo NOT met))"
awk -v r="$gold_rss" -v p="$patients" 'BEGIN { if (p > 0) printf "memory: %.1f MiB peak RSS for %d distinct patients = %.0f MiB per million patients (all state: encounters too)\n", r, p, r * 1e6 / p }'
snap=$(ls -l "$BENCH_TMP/g/_state/ps-gold/admissions.snap" | awk '{ print $5 }')
echo "state snapshot: $snap bytes"
rm -rf "$BENCH_TMP/a" "$BENCH_TMP/g" "$BENCH_TMP/clean.ndjson"
measure "pipeline simulate|bronze|silver|gold" "$N" \
	"ps-simulate -m realistic --count $N --seed 1 2>/dev/null | ps-bronze -L '$BENCH_TMP/p' --ingest-time $T 2>/dev/null | ps-silver -L '$BENCH_TMP/p' 2>/dev/null | ps-gold -L '$BENCH_TMP/p' --no-kpi --now 2026-02-01T00:00:00Z >/dev/null 2>&1"
echo "whole pipeline: $(awk -v s="$(cat "$BENCH_TMP/.time" | cut -d' ' -f1)" 'BEGIN { print s }') s (target under 3 s: $(awk -v s="$(cut -d' ' -f1 "$BENCH_TMP/.time")" 'BEGIN { print (s < 3 ? "met" : "NOT met") }'))"
rm -rf "$BENCH_TMP/p"

#!/bin/sh
# make demo: simulate a hospital network into a local lake through every
# stage that is built, then show what came out.
#   PS_DEMO_EVENTS=N  events to simulate (default 200000)
#   PS_DEMO_LAKE=DIR  lake directory (default build/demo-lake; wiped first)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
PATH=$top/bin:$PATH
export PATH
n=${PS_DEMO_EVENTS:-200000}
lake=${PS_DEMO_LAKE:-$top/build/demo-lake}
seed=7
have() { [ -x "$top/bin/$1" ]; }

rm -rf "$lake"
mkdir -p "$lake"
echo "PulseStream demo: $n realistic events (7 hospitals, 2 % dirty) into $lake"
echo

# A week or so of hospital life, with some dirt to show the quarantine.
sim="ps-simulate -q -m realistic --seed $seed --count $n --dirty none \
--dirty invalid_age=0.5%,future_admission=0.25%,missing_field=0.25%,\
wrong_type=0.25%,malformed_json=0.25%,duplicate=0.5%,late=0.5%"

# "Now" for gold is the end of the simulated stream, so the census and
# the last hour's inflow are those of the simulated hospitals, not of today:
# the latest event time (the last line is often a late event, hours
# earlier).  Same-format ISO-8601 UTC strings sort as times.
now=$(sh -c "$sim" | jq -R -r 'fromjson? | .event_time | strings |
	select(test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$"))' |
	sort | tail -n 1)
pipeline="$sim"
stages="ps-simulate"
for s in ps-bronze ps-silver ps-gold; do
	have "$s" || break
	extra=""
	[ "$s" = ps-gold ] && extra="--now $now --thresholds '$top/examples/thresholds.ndjson'"
	pipeline="$pipeline | $s -L '$lake' -q $extra"
	stages="$stages | $s"
done
# ps-dash follows gold (passing its lines on) and keeps the page current.
if have ps-gold && have ps-dash; then
	pipeline="$pipeline | ps-dash -L '$lake' -q --follow --now $now"
	stages="$stages | ps-dash"
fi
echo "pipeline: $stages"
start=$(date +%s.%N)
if have ps-bronze; then
	sh -c "$pipeline" >"$lake/.demo-out.ndjson"
else
	# Only the simulator is built: keep its output as the demo's lake.
	sh -c "$sim" >"$lake/events.ndjson"
fi
end=$(date +%s.%N)
awk -v s="$start" -v e="$end" -v n="$n" \
	'BEGIN { printf "%d events in %.2f s (%.0f events/s)\n\n", n, e - s, n / (e - s) }'

if have ps-bronze; then
	echo "bronze files:     $(find "$lake/bronze" -name '*.ndjson.gz' | wc -l)"
fi
if have ps-silver; then
	echo "silver files:     $(find "$lake/silver" -name '*.parquet' 2>/dev/null | wc -l)"
	echo "quarantine files: $(find "$lake/quarantine" -name '*.ndjson.gz' 2>/dev/null | wc -l)"
	if [ -d "$lake/quarantine" ]; then
		echo "quarantined by reason:"
		find "$lake/quarantine" -name '*.ndjson.gz' -exec zcat {} + |
			jq -r '.reasons[]' | sort | uniq -c | sort -rn | sed 's/^/  /'
	fi
fi
if have ps-gold; then
	echo
	"$top/pipelines/gold-summary.sh" "$lake" "$lake/.demo-out.ndjson"
fi
if ! have ps-silver; then
	ev="$lake/events.ndjson"
	if have ps-bronze; then
		# The raw events, back out of the bronze envelopes.
		find "$lake/bronze" -name '*.ndjson.gz' -exec zcat {} + |
			jq -r '.payload' >"$ev"
	fi
	echo "events by department and type (jq over $ev):"
	jq -R -r 'fromjson? | select((.department|type) == "string") | [.department, .event_type] | @tsv' "$ev" |
		sort | uniq -c | sort -k2,2 -k1,1rn | awk '{ printf "  %-12s %-10s %8d\n", $2, $3, $1 }'
	echo
	echo "median / p90 wait, door to bed, minutes (ADMIT events):"
	jq -R -r 'fromjson? | select(.event_type == "ADMIT" and (.department|type) == "string" and (.arrival_time|type) == "string" and (.admission_time|type) == "string")
		| [.department, (((.admission_time|sub("\\.[0-9]+";"")|fromdateiso8601) - (.arrival_time|sub("\\.[0-9]+";"")|fromdateiso8601)) / 60 | floor)] | @tsv' "$ev" |
		sort -k1,1 -k2,2n | awk -F'\t' '
		{ v[$1, ++n[$1]] = $2 }
		END { for (d in n) printf "  %-12s %6d %6d\n", d, v[d, int(n[d] * 0.5) + 1], v[d, int(n[d] * 0.9) + 1] }' | sort
	echo
	echo "lines that are not valid JSON (malformed_json): $(jq -R 'fromjson? // "bad"' "$ev" 2>/dev/null | grep -c '^"bad"$' || true)"
	echo "try:  jq -c 'select(.department == \"ICU\")' $ev | head"
fi
if have ps-gold && have ps-dash; then
	echo
	echo "dashboard: $lake/dashboard/index.html"
	echo "serve it live (then open http://127.0.0.1:8080/):"
	echo "  $top/bin/ps-dash -L $lake --now $now --serve 8080"
fi

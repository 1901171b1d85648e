#!/bin/sh
# Print a readable KPI summary of a lake's gold tables: one table per
# hospital (census, beds, occupancy, waiting p90, average LOS of discharges)
# with its emergency department's measures, and the alerts that are firing,
# then the jq one-liner for the raw NDJSON.
#   pipelines/gold-summary.sh LAKE [KPI_NDJSON]
# KPI_NDJSON (ps-gold's stdout) is used for the firing alerts when given.
set -eu
lake=${1:?usage: gold-summary.sh LAKE [KPI_NDJSON]}
kpi=${2:-}
top=$(cd "$(dirname "$0")/.." && pwd)
PATH=$top/bin:$PATH
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for t in kpi_occupancy kpi_waiting kpi_overstay kpi_occupancy_hospital kpi_ed; do
	[ -d "$lake/gold/$t/_delta_log" ] || {
		echo "gold-summary: $lake/gold/$t is missing (run ps-gold)" >&2
		exit 66
	}
	ps-silver --dump "$lake/gold/$t" >"$tmp/$t.ndjson"
done
# average LOS per department and hospital from the fact table
ps-silver --dump "$lake/gold/fact_patient_flow" |
	jq -r 'select(.length_of_stay_hours != null) |
		"\(.department)\t\(.hospital_id)\t\(.length_of_stay_hours)"' |
	awk -F'\t' '{ s[$1 FS $2] += $3; n[$1 FS $2]++ }
		END { for (k in s) printf "%s\t%.1f\n", k, s[k] / n[k] }' \
	>"$tmp/los.tsv"
jq -r '"\(.department)\t\(.hospital_id)\t\(.wait_p90_minutes)"' \
	"$tmp/kpi_waiting.ndjson" >"$tmp/wait.tsv"
as_of=$(jq -r '.as_of' "$tmp/kpi_occupancy.ndjson" | head -n 1)
echo "PulseStream gold KPIs as of $as_of"
jq -r '"\(.hospital_id)\t\(.census)\t\(.beds)\t\(.occupancy_pct // "")"' \
	"$tmp/kpi_occupancy_hospital.ndjson" | sort -n >"$tmp/hosp.tsv"
while IFS="$(printf '\t')" read -r h census beds occ; do
	echo
	printf 'Hospital %s: census %s / %s beds (%.1f %%)\n' "$h" "$census" \
		"$beds" "${occ:-0}"
	printf '  %-12s %6s %5s %7s %10s %8s\n' department census beds \
		occ% wait_p90_m avg_los_h
	jq -r --argjson h "$h" 'select(.hospital_id == $h) |
		"\(.department)\t\(.census)\t\(.beds // "-")\t\(.occupancy_pct // "")"' \
		"$tmp/kpi_occupancy.ndjson" | sort |
	while IFS="$(printf '\t')" read -r d c b o; do
		w=$(awk -F'\t' -v d="$d" -v h="$h" \
			'$1 == d && $2 == h { printf "%.0f", $3 }' "$tmp/wait.tsv")
		l=$(awk -F'\t' -v d="$d" -v h="$h" \
			'$1 == d && $2 == h { print $3 }' "$tmp/los.tsv")
		if [ -n "$o" ]; then o=$(printf '%.1f' "$o"); else o=-; fi
		printf '  %-12s %6s %5s %7s %10s %8s\n' "$d" "$c" "$b" "$o" \
			"${w:--}" "${l:--}"
	done
	# the emergency department's measures (CMS, NHS) over the window
	jq -r --argjson h "$h" 'def r: if . == null then "-" else (. * 10 | round / 10 | tostring) end;
		select(.hospital_id == $h) |
		"  ED last \(.window_hours) h: \(.visits) visits, \(.within_4h_pct | r) % within 4 h, door to room p90 \(.door_to_room_p90_minutes | r) min, boarding p90 \(.boarding_p90_minutes | r) min, boarding now \(.boarding_now) (over 4 h: \(.boarding_now_over_4h)), LWBS \(.lwbs_pct | r) %"' \
		"$tmp/kpi_ed.ndjson"
	jq -r --argjson h "$h" 'select(.hospital_id == $h and .census_stale > 0) |
		"  stale (lost discharges?): \(.department) \(.census_stale)"' \
		"$tmp/kpi_occupancy.ndjson"
done <"$tmp/hosp.tsv"
echo
if [ -n "$kpi" ] && [ -f "$kpi" ]; then
	# the last transition of each series, kept when still firing
	jq -c 'select(.alert)' "$kpi" |
		jq -rs 'group_by([.alert, .department, .hospital_id]) |
			map(last) | map(select(.state == "firing")) | .[] |
			"  \(.level)\t\(.alert)\t\(.department) (hospital \(.hospital_id))\t\(.value * 10 | round / 10)"' \
		>"$tmp/alerts.txt"
	echo "Firing alerts: $(wc -l <"$tmp/alerts.txt" | tr -d ' ')"
	cat "$tmp/alerts.txt"
	echo
	echo "Raw NDJSON: jq -c 'select(.kpi == \"occupancy\" or .alert)' $kpi"
else
	echo "Raw NDJSON: ps-gold -L $lake ... | jq -c 'select(.kpi == \"occupancy\" or .alert)'"
fi

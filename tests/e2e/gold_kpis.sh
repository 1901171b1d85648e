#!/bin/sh
# ps-gold (#13): every gold table -- dimensions with their validity
# intervals, facts, KPIs -- is a function of the set of clean records:
# random chunkings into runs and random shuffles give the tables of one
# batch run (cancels -- HL7 A11, A13 -- included); with the wall clock ps-gold commits while idle and a series
# that stops being reported resolves; --pseudonymize keeps identifiers out
# of gold.  Real chain: ps-simulate | ps-bronze | ps-silver, then ps-gold.
. "$(dirname "$0")/../lib.sh"
N=${GOLD_KPI_EVENTS:-20000}
T=2026-06-01T00:00:00Z
NOW=2026-01-12T09:30:00Z
cd "$TMPD" || exit 1

ps-simulate -m realistic --count "$N" --seed 21 --start 2026-01-01T00:00:00Z \
	--dirty none --dirty late=2%,duplicate=1%,discharge_before_admission=1% 2>/dev/null |
	add_cancels |
	ps-bronze -L S --ingest-time $T 2>/dev/null |
	ps-silver -L S >clean.ndjson 2>/dev/null
# the same records without their source positions (plain records: no
# checkpoint skips them, so any order is applied)
jq -c 'del(.source, .position)' clean.ndjson >plain.ndjson

check 'one batch run of the records, with and without positions' '
	ps-gold -L B --now $NOW <clean.ndjson >/dev/null 2>b.err &&
	ps-gold -L P --now $NOW <plain.ndjson >/dev/null 2>p.err &&
	gold_snapshot B b.snap && gold_snapshot P p.snap && cmp b.snap p.snap &&
	sed -n "/^== fact_patient_flow$/,/^== kpi/p" b.snap | grep "^{" >b.snap.facts &&
	grep -qx kpi_ed b.snap.files'

check 'cancelled admissions have no fact row, cancelled discharges none' '
	n=$(jq -r "select(.event_type == \"CANCEL_ADMIT\") | .encounter_id" clean.ndjson | sort -u | wc -l) &&
	[ "$n" -gt 20 ] &&
	[ $(jq -r "select(.event_type == \"CANCEL_DISCHARGE\")" clean.ndjson | wc -l) -gt 20 ] &&
	facts=$(grep -c "^{" b.snap.facts) &&
	encs=$(jq -r .encounter_id clean.ndjson | sort -u | wc -l) &&
	echo "$encs encounters, $facts fact rows, $n with a cancel" &&
	[ "$facts" -lt "$encs" ] && [ "$facts" -gt $((encs - n - 1)) ]'

check 'three random chunkings into runs equal the batch run' '
	lines=$(wc -l <clean.ndjson) &&
	for trial in 1 2 3; do
		rm -rf C c.* && at=1 && k=0 &&
		while [ $at -le $lines ]; do
			len=$(python3 -c "import random; random.seed($trial * 100 + $k); print(random.randint(1, $lines // 3))")
			sed -n "${at},$((at + len - 1))p" clean.ndjson >c.$k
			at=$((at + len)); k=$((k + 1))
		done
		for c in $(ls c.* | sort -t. -k2 -n); do
			ps-gold -L C --now $NOW --commit-records 997 <$c >/dev/null 2>>c.err || exit 1
		done
		gold_snapshot C c.snap && cmp b.snap c.snap || { echo "trial $trial ($k runs)"; exit 1; }
	done'

check 'three random shuffles, split into runs, equal the batch run' '
	for trial in 1 2 3; do
		rm -rf R r.* &&
		python3 -c "
import random, sys
lines = open(\"plain.ndjson\").readlines()
random.seed($trial)
random.shuffle(lines)
sys.stdout.writelines(lines)" >shuffled.ndjson &&
		split -l $((N / 3)) shuffled.ndjson r. &&
		for c in r.*; do
			ps-gold -L R --now $NOW --commit-records 1999 <$c >/dev/null 2>>r.err || exit 1
		done &&
		gold_snapshot R r.snap && cmp p.snap r.snap || { echo "trial $trial"; exit 1; }
	done'

check 'with the wall clock, ps-gold commits while its input is idle' '
	# the input stays open (idle) until three commits were emitted, or 60 s:
	# how long a commit takes on a loaded machine does not matter
	asofs() { jq -r "select(.kpi == \"occupancy\") | .as_of" w.kpi 2>/dev/null | sort -u | wc -l; } &&
	{ head -n 200 clean.ndjson; t=0
	  while [ "$(asofs)" -lt 3 ] && [ $t -lt 600 ]; do sleep 0.1; t=$((t + 1)); done; } |
		ps-gold -L W --commit-interval 1 >w.kpi 2>w.err &&
	c=$(sed -n "s/.*msg=\"done\".* commits=\([0-9]*\).*/\1/p" w.err) &&
	echo "commits=$c as_of values=$(asofs)" &&
	[ "$c" -ge 3 ] && [ "$(asofs)" -ge 3 ]'

check 'a series that stops being reported resolves' '
	# one emergency visit that boarded an hour and left a second before it
	# is written; with a 10-second window its boarding p90 is reported,
	# then no longer.  The input stays open until both alerts are out (or
	# 60 s each): how long ps-gold takes to start or commit on a loaded
	# machine does not matter, as long as it is within the window
	printf "{\"metric\":\"boarding_p90_minutes\",\"warn\":30}\n" >th.ndjson &&
	: >x.kpi &&
	until_kpi() { t=0; while ! grep -q "$1" x.kpi && [ $t -lt 600 ]; do
		sleep 0.1; t=$((t + 1)); done; } &&
	{ now=$(date -u +%s)
	  ts() { date -u -d "@$((now - $1))" +%Y-%m-%dT%H:%M:%SZ; }
	  printf "{\"encounter_id\":\"E1\",\"event_type\":\"DISCHARGE\",\"event_time\":\"%s\",\"patient_id\":\"P1\",\"gender\":\"Male\",\"age\":40,\"department\":\"Emergency\",\"hospital_id\":1,\"bed_id\":2,\"arrival_time\":\"%s\",\"admission_time\":\"%s\",\"seen_time\":\"%s\",\"decision_time\":\"%s\",\"discharge_time\":\"%s\",\"disposition\":\"ADMITTED\"}\n" \
		"$(ts 1)" "$(ts 7200)" "$(ts 7200)" "$(ts 6000)" "$(ts 3600)" "$(ts 1)"
	  until_kpi "\"state\":\"firing\""; until_kpi "\"state\":\"resolved\""; } |
		ps-gold -L X --window 10s --min-samples 1 \
		--commit-interval 1 --thresholds th.ndjson >x.kpi 2>/dev/null &&
	grep -q "\"alert\":\"boarding_p90_minutes\",\"state\":\"firing\"" x.kpi &&
	grep -q "\"alert\":\"boarding_p90_minutes\",\"state\":\"resolved\".*\"value\":null,\"reason\":\"not reported\"" x.kpi || {
		grep alert x.kpi; exit 1; }'

check '--pseudonymize: keyed hashes, stable across runs, no raw ids, 90+' '
	export PS_SECRET_GOLD_KEY=0123456789abcdef-demo-key &&
	ps-gold -L Y1 --now $NOW --pseudonymize secret:gold-key <clean.ndjson >/dev/null 2>y.err &&
	ps-gold -L Y2 --now $NOW --pseudonymize secret:gold-key <clean.ndjson >/dev/null 2>>y.err &&
	gold_snapshot Y1 y1.snap && gold_snapshot Y2 y2.snap && cmp y1.snap y2.snap &&
	id=$(jq -r .patient_id clean.ndjson | head -n 1) &&
	enc=$(jq -r .encounter_id clean.ndjson | head -n 1) &&
	! grep -q -- "$id" y1.snap && ! grep -q -- "$enc" y1.snap &&
	! grep -rq -- "$id" Y1/_state &&
	! grep -q "0123456789abcdef-demo-key" y.err y1.snap &&
	[ $(ps-silver --dump Y1/gold/dim_patient | jq -r .patient_id | grep -cv "^[0-9a-f]\{64\}$") -eq 0 ] &&
	[ $(ps-silver --dump Y1/gold/dim_patient | jq -c "select(.age != null and .age > 89)" | wc -l) -eq 0 ] &&
	[ $(ps-silver --dump Y1/gold/dim_patient | jq -c "select(.age_band == \"90+\")" | wc -l) -gt 0 ] &&
	! ps-gold -L Y3 --pseudonymize plainkey </dev/null 2>/dev/null'

check 'KPI sums hold the cells used: 3,000 genders of their own and an admission in the year 1000 in 300 MB of address space' '
	# dense sums were sized by the symbols squared and the days of the span
	head -n 3000 clean.ndjson | jq -c ".gender = \"g\(input_line_number)\" |
		if input_line_number == 100 then
			.admission_time = \"1000-01-01T00:00:00Z\" else . end" >cells.ndjson &&
	# (not under ASan: its shadow memory alone is terabytes of addresses)
	( { [ -n "${PS_SANITIZED:-}" ] || ulimit -v 300000; } &&
	  ps-gold -L K1 --now $NOW <cells.ndjson >/dev/null 2>k1.err &&
	  ps-gold -L K2 --now $NOW --commit-records 100 <cells.ndjson >/dev/null 2>k2.err ) &&
	gold_snapshot K1 k1.snap && gold_snapshot K2 k2.snap && cmp k1.snap k2.snap &&
	sed -n "/^== kpi_volume$/,/^== /p" k1.snap |
		grep -q "\"admission_date\":\"1000-01-01\"" &&
	n=$(sed -n "/^== kpi_demographics$/,/^== /p" k1.snap | grep "^{" |
		jq -r .gender | sort -u | wc -l) && echo "$n genders" &&
	[ "$n" -gt 1000 ]'

done_testing

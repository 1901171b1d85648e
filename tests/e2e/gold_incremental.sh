#!/bin/sh
# ps-gold: incremental = batch, replays change nothing, SIGKILL + restart =
# a clean run.  Real chain: ps-simulate | ps-bronze | ps-silver | ps-gold.
# 200,000 events (not 1M) keep the test well under a minute; the same
# property is checked at 1M by bench/gold.sh's figures only.
. "$(dirname "$0")/../lib.sh"
N=${GOLD_TEST_EVENTS:-200000}
T=2026-06-01T00:00:00Z		# ingest time of every envelope (after the last event)
NOW=2026-03-01T12:00:00Z	# the gold clock
cd "$TMPD" || exit 1

ps-simulate -m realistic --count "$N" --seed 11 --start 2026-01-01T00:00:00Z >ev.ndjson 2>/dev/null
ps-bronze -L A --ingest-time $T <ev.ndjson 2>/dev/null |
	ps-silver -L A >clean.ndjson 2>/dev/null

check 'silver produced clean records with lifecycle events' '
	[ $(wc -l <clean.ndjson) -gt $((N * 9 / 10)) ] &&
	grep -q "\"event_type\":\"DISCHARGE\"" clean.ndjson'

check 'one batch run builds every table' '
	ps-gold -L B --now $NOW <clean.ndjson >b.kpi 2>b.err &&
	gold_snapshot B b.snap &&
	grep -qx dim_patient b.snap.files &&
	grep -qx fact_patient_flow b.snap.files &&
	ls B/gold/fact_patient_flow | grep -q "^admission_date=" &&
	grep -qx kpi_occupancy b.snap.files'

check 'ten incremental runs give the same tables as one run' '
	lines=$(wc -l <clean.ndjson) &&
	split -l $(( (lines + 9) / 10 )) -a 2 clean.ndjson chunk. &&
	[ $(ls chunk.* | wc -l) -eq 10 ] &&
	for c in chunk.*; do
		ps-gold -v -L I --now $NOW <$c >/dev/null 2>>i.err || exit 1
	done &&
	gold_snapshot I i.snap && cmp b.snap i.snap'

# active LAKE TABLE: the number of data files of the table's latest version
active() {
	jq -r "if .add then \"+ \(.add.path)\" elif .remove then \"- \(.remove.path)\" else empty end" "$1"/gold/"$2"/_delta_log/*.json |
		awk "\$1 == \"+\" { a[\$2] = 1 } \$1 == \"-\" { delete a[\$2] } END { print length(a) }"
}
check 'each later run goes on with the file ranges of the one before (no whole rewrite)' '
	[ $(grep "msg=\"file ranges\"" i.err | grep -vc " patients=0 ") -eq 9 ] &&
	[ $(active I dim_patient) -gt 2 ] &&
	[ $(active I fact_patient_flow) -gt \
	  $(ls -d I/gold/fact_patient_flow/admission_date=* | wc -l) ]'

check 'file ranges of an older commit are not used; the tables stay right' '
	for c in chunk.aa chunk.ab chunk.ac; do
		ps-gold -v -L O --now $NOW <$c >/dev/null 2>>o.err || exit 1
		case $c in
		chunk.aa) cp O/_state/ps-gold/admissions.ranges old.ranges ;;
		chunk.ab) cp old.ranges O/_state/ps-gold/admissions.ranges ;;
		esac
	done &&
	[ "$(grep "msg=\"file ranges\"" o.err | sed "s/.*patients=\([0-9]*\).*/\1/" | tr "\n" " ")" = "1 0 " ] &&
	for c in chunk.aa chunk.ab chunk.ac; do
		ps-gold -L P3 --now $NOW <$c >/dev/null 2>/dev/null || exit 1
	done &&
	gold_snapshot O o.snap && gold_snapshot P3 p3.snap && cmp o.snap p3.snap'

check 'one process, many commits: only the changed files rewritten, the same rows as one run' '
	ps-gold -v -L M --now $NOW --commit-records 20000 <clean.ndjson >/dev/null 2>m.err &&
	[ $(grep -c "msg=\"commit\"" m.err) -ge 9 ] &&
	gold_snapshot M m.snap && cmp b.snap m.snap &&
	# dim_patient: one file per range of 4,096 patients, each commit
	# rewriting only the ranges of changed patients and the new ones
	n=$(jq -r ".add.path // empty" M/gold/dim_patient/_delta_log/*.json | sort -u | wc -l) &&
	rows=$(ps-silver --dump M/gold/dim_patient | wc -l) &&
	files=$(active M dim_patient) &&
	[ "$files" -gt 2 ] && [ "$n" -gt "$files" ] && [ "$rows" -gt 0 ]'

# rec ENC DAY [DISCHARGE-TIME]: a record of encounter ENC admitted on
# 2026-01-0DAY (discharged then, when given)
rec() {
	if [ $# -eq 3 ]; then ty=DISCHARGE t=$3 d="\"$3\""
	else ty=ADMIT t=2026-01-0$2T08:00:00Z d=null; fi
	printf '{"encounter_id":"%s","patient_id":"p%s","gender":"Male","age":40,"department":"ICU","hospital_id":1,"event_type":"%s","event_time":"%s","admission_time":"2026-01-0%sT08:00:00Z","discharge_time":%s}\n' \
		"$1" "$1" "$ty" "$t" "$2" "$d"
}
check 'a commit replaces a range'"'"'s files only on the days of its changed encounters' '
	{ rec e1 1; rec e2 2; rec e3 3; rec e4 2; rec e5 3; rec e6 1
	  rec e4 2 2026-01-04T08:00:00Z; rec e3 3 2026-01-04T09:00:00Z
	  rec e1 1 2026-01-04T10:00:00Z; } >r.ndjson &&
	ps-gold -L R --now $NOW --no-catch-up --commit-records 3 <r.ndjson >/dev/null 2>r.err &&
	v=R/gold/fact_patient_flow/_delta_log/00000000000000000002.json &&
	# the base range on days 1 and 3, the second range on day 2 only
	[ $(grep -c "\"add\"" $v) -eq 3 ] &&
	jq -r ".add.path // empty" $v | cut -d/ -f1 | sort | tr "\n" " " >r.days &&
	[ "$(cat r.days)" = "admission_date=2026-01-01 admission_date=2026-01-02 admission_date=2026-01-03 " ]'

# Wait (at most 60 s) until ps-gold logged $2 commits in $1.
commits_at() {
	i=0
	while [ "$(grep -c "msg=\"commit\"" "$1")" -lt "$2" ]; do
		i=$((i + 1)); [ $i -lt 600 ] || return 1; sleep 0.1
	done
}
check 'the nightly compaction between live commits: gold goes on, the same rows as one run' '
	split -l 10000 -a 2 clean.ndjson live. && mkfifo kf || exit 1
	{ ps-gold -v -L K --now $NOW --commit-records 10000 \
		--commit-interval 3600 <kf >/dev/null 2>k.err; echo $? >k.rc; } &
	exec 4>kf && n=0 &&
	for c in live.*; do
		cat $c >&4 && n=$((n + 1)) &&
		if [ $(wc -l <$c) -eq 10000 ]; then commits_at k.err $n || exit 1; fi &&
		if [ $n -eq 4 ] || [ $n -eq 8 ]; then
			ps-gold -L K --compact >>kc.out 2>>kc.err || exit 1
		fi
	done; exec 4>&-; wait; grep level=error k.err
	test "$(cat k.rc)" = 0 &&
	# the compactions merged files (within each day of the fact)
	jq -s -e "map(select(.table == \"gold/fact_patient_flow\" and .files_out > 0)) |
		length == 2" kc.out >/dev/null &&
	gold_snapshot K k.snap && cmp b.snap k.snap'

check 'later runs load the snapshot plus the state log of the earlier ones' '
	grep "msg=\"state log\"" i.err | grep -q "records=[2-9].* used=1" &&
	[ $(stat -c %s I/_state/ps-gold/admissions.log) -lt \
	  $(stat -c %s I/_state/ps-gold/admissions.snap) ]'

check 'feeding the same input again changes nothing' '
	ps-gold -L B --now $NOW <clean.ndjson >/dev/null 2>again.err &&
	grep -q "skipped=$(wc -l <clean.ndjson | tr -d " ") " again.err &&
	grep -q "commits=0" again.err &&
	gold_snapshot B b2.snap && cmp b.snap b2.snap'

check 'a catch-up over committed silver changes nothing' '
	ps-gold -L B --now $NOW --catch-up >/dev/null 2>cu.err &&
	gold_snapshot B b3.snap && cmp b.snap b3.snap'

check 'a state log that extends another snapshot is ignored' '
	cp I/_state/ps-gold/admissions.log B/_state/ps-gold/admissions.log &&
	ps-gold -v -L B --now $NOW --catch-up >/dev/null 2>stale.err &&
	grep -q "extends an older snapshot, ignored" stale.err &&
	gold_snapshot B b4.snap && cmp b.snap b4.snap'

check 'SIGKILL of ps-gold mid-stream, then a restart, equals a clean run' '
	mkfifo fifo &&
	{ ps-bronze -L C --ingest-time $T <fifo 2>/dev/null |
	  ps-silver -L C --flush-records 5000 2>/dev/null |
	  ps-gold -L C --now $NOW --commit-records 4000 >/dev/null \
		2>c1.err & } &&
	gpid=$! &&
	exec 3>fifo &&
	head -n $((N / 2)) ev.ndjson >&3 &&
	i=0 &&
	while [ ! -f C/_state/ps-gold/admissions.json ]; do
		i=$((i + 1)); [ $i -lt 600 ] || { echo no commit; exit 1; }
		sleep 0.1
	done &&
	kill -9 $gpid &&
	exec 3>&- &&
	wait &&
	ps-bronze -L C --ingest-time $T <ev.ndjson 2>/dev/null |
		ps-silver -L C 2>/dev/null |
		ps-gold -L C --now $NOW >/dev/null 2>c2.err &&
	grep -q "catch-up" c2.err &&
	gold_snapshot C c.snap && cmp b.snap c.snap'

done_testing

#!/bin/sh
# What a line is comes from what the stage is told (--input events or
# envelopes), never from the line (issue 10, item 5).  On a plain input
# every line is one record of the stdin source, whatever it looks like: an
# event whose first member is "source" lands and reaches silver, and a
# line shaped like an envelope claims nothing (no position, no other
# source, no ingest time, no quarantine reason) in ps-bronze or ps-silver.
# On an envelope input every line must be an envelope.
. "$(dirname "$0")/../lib.sh"
T=2026-06-01T00:00:00Z		# ingest time of every record
NOW=2026-06-02T00:00:00Z
cd "$TMPD" || exit 1

ev() {	# ev ID [FIRST-MEMBERS]: one valid event
	printf '{%s"patient_id":"%s","gender":"Female","age":40,"department":"ICU","admission_time":"2026-05-30T10:00:00Z","discharge_time":null,"bed_id":1,"hospital_id":1}\n' "${2:-}" "$1"
}
kenv() {	# kenv SOURCE POSITION ID: an envelope of a valid event
	ev "$3" | jq -c -R --arg s "$1" --argjson p "$2" --arg t $T \
		'{source: $s, position: $p, ingest_time: $t, payload: .}'
}
# bronze's committed position of source $2 in lake $1 (-1: none)
bpos() { jq --arg s "$2" '.sources[$s].position // -1' "$1/_state/ps-bronze/admissions.json"; }
# silver's committed positions (txn actions of its Delta log): all, or of $2
spos_all() { "$TOP/tests/silver_positions.sh" "$1"; }
spos() { spos_all "$1" | jq --arg s "$2" '.[$s] // -1'; }
silver_ids() { ps-silver --dump "$1/silver/admissions" | jq -r .patient_id | sort | tr '\n' ' '; }
bronze_keys() {
	find "$1/bronze" -name 'part-*.gz' -exec zcat {} + |
		jq -r '"\(.source) \(.position)"' | sort | tr '\n' ' '
}
# a lake whose bronze holds kafka:admissions/0 positions 0-9
kafka_lake() {
	for i in 0 1 2 3 4 5 6 7 8 9; do kenv kafka:admissions/0 $i k$i; done |
		ps-bronze -q -n -L "$1" --input envelopes --ingest-time $T
}

check 'an event whose first member is "source" lands as a record and reaches silver' '
	ev p1 "\"source\":\"ED triage\"," >in &&
	ev p2 "\"source\":{\"system\":\"epic\"}," >>in &&
	ps-bronze -q -L A --ingest-time $T <in | ps-silver -q -L A --now $NOW >out &&
	[ "$(bronze_keys A)" = "stdin:admissions 0 stdin:admissions 1 " ] &&
	[ "$(silver_ids A)" = "p1 p2 " ] &&
	[ "$(jq -r ".extra | fromjson | .source" out | head -1)" = "ED triage" ] &&
	[ -z "$(find A/quarantine -name "*.gz" 2>/dev/null)" ]'

check 'a kafka envelope on bronze'"'"'s stdin moves no checkpoint and skips nothing' '
	kafka_lake B &&
	{ ev s0; kenv kafka:admissions/0 1000000 evil; ev s2; } >in &&
	ps-bronze -q -L B --ingest-time $T <in | ps-silver -q -L B --now $NOW -n &&
	[ "$(bpos B kafka:admissions/0)" = 9 ] &&
	[ "$(bpos B stdin:admissions)" = 2 ] &&
	for i in 10 11; do kenv kafka:admissions/0 $i k$i; done |
		ps-bronze -q -L B --input envelopes --ingest-time $T |
		ps-silver -q -L B --now $NOW -n &&
	[ "$(bpos B kafka:admissions/0)" = 11 ] &&
	[ "$(silver_ids B)" = "k0 k1 k10 k11 k2 k3 k4 k5 k6 k7 k8 k9 s0 s2 " ] &&
	[ "$(spos B kafka:admissions/0)" = 11 ]'

check 'an envelope of the stdin source itself makes bronze skip no later line' '
	{ kenv stdin:admissions 5 evil; for i in 1 2 3 4 5 6; do ev s$i; done; } >in &&
	ps-bronze -q -L C --ingest-time $T <in | ps-silver -q -L C --now $NOW -n &&
	[ "$(bpos C stdin:admissions)" = 6 ] &&
	[ "$(silver_ids C)" = "s1 s2 s3 s4 s5 s6 " ]'

check 'a kafka envelope on silver'"'"'s plain stdin does not make its catch-up skip' '
	kafka_lake D &&
	kenv kafka:admissions/0 1000 evil >in &&
	ps-silver -q -L D --input events --no-catch-up --now $NOW -n <in &&
	[ "$(spos D kafka:admissions/0)" = -1 ] &&
	ps-silver -q -L D --catch-up --now $NOW -n &&
	[ "$(silver_ids D)" = "k0 k1 k2 k3 k4 k5 k6 k7 k8 k9 " ]'

# The class: whatever a plain line claims, it is the payload of one record
# at its own line position, with the ingest time bronze gives it.
cat >hostile <<EOF
{"source":"kafka:admissions/0","position":9223372036854775807,"ingest_time":"$T","payload":"{}"}
{"source":"kafka:admissions/0","position":-1,"ingest_time":"$T","payload":"{}"}
{"source":"kafka:admissions/0","position":1e300,"ingest_time":"$T","payload":"{}"}
{"source":"kafka:admissions/1","position":99999999999999999999999,"ingest_time":"$T","payload":"{}"}
{"source":"stdin:admissions.2","position":0,"ingest_time":"$T","payload":"{}"}
{"source":"mllp:x","position":3,"ingest_time":"9999-12-31T23:59:59Z","payload":"{}"}
{"source":"bronze-stdin:admissions","position":4,"ingest_time":"0001-01-01T00:00:00Z","payload_b64":"e30="}
{"source":"kafka:admissions/0","position":5,"ingest_time":"$T","payload":"{}","reason":"record_too_long","length":1,"truncated":true}
 {"source":"kafka:admissions/0","position":6,"ingest_time":"$T","payload":"{}"}
{"source":"kafka:admissions/0","position":7,"ingest_time":"$T","payload":"{}"
EOF
n=$(wc -l <hostile)
check "$n lines shaped like envelopes: each one record of stdin:admissions" '
	kafka_lake E &&
	ps-bronze -q -L E --ingest-time $T <hostile >out &&
	[ "$(jq -c "[.source, .position, .ingest_time]" out | sort -u | wc -l)" = '"$n"' ] &&
	[ "$(jq -r .source out | sort -u)" = stdin:admissions ] &&
	[ "$(jq -r .ingest_time out | sort -u)" = 2026-06-01T00:00:00.000000Z ] &&
	[ "$(jq -c .sources E/_state/ps-bronze/admissions.json)" = \
	  "{\"kafka:admissions/0\":{\"position\":9},\"stdin:admissions\":{\"position\":$((n - 1))}}" ] &&
	[ "$(ls E/bronze/admissions)" = date=2026-06-01 ] &&
	[ -z "$(find E/quarantine -name "*.gz" 2>/dev/null)" ] &&
	ps-silver -q -L E --now $NOW -n --stats-json s.json <out &&
	[ "$(jq -c "[.kept, .quarantined]" s.json)" = "[10,$n]" ] &&
	[ "$(spos E kafka:admissions/0)" = 9 ] &&
	[ "$(spos E stdin:admissions)" = $((n - 1)) ] &&
	[ "$(spos_all E | jq -c keys)" = \
	  "[\"kafka:admissions/0\",\"stdin:admissions\"]" ]'

check "the same $n lines on silver's plain stdin: quarantined, no checkpoint" '
	ps-silver -q -L F --input events --no-catch-up --now $NOW -n \
		--stats-json s.json <hostile &&
	[ "$(jq -c "[.kept, .quarantined, .skipped]" s.json)" = "[0,$n,0]" ] &&
	[ "$(spos F kafka:admissions/0)" = -1 ] &&
	[ "$(spos_all F)" = "{}" ]'

check 'envelope input: a line that is not an envelope is 65 after committing what came before' '
	{ kenv kafka:admissions/0 0 k0; ev p1; kenv kafka:admissions/0 1 k1; } >in &&
	{ ps-bronze -L G --input envelopes --ingest-time $T <in >out 2>err; [ $? -eq 65 ]; } &&
	grep -q "input line 2 is not an envelope" err &&
	[ "$(jq -r .payload out | jq -r .patient_id)" = k0 ] &&
	[ "$(bpos G kafka:admissions/0)" = 0 ]'

check 'envelope input of silver: a plain event is quarantined (bad_envelope), claims nothing' '
	{ kenv kafka:admissions/0 0 k0; ev p1; } |
		ps-silver -q -L H --now $NOW -n --stats-json s.json &&
	[ "$(jq -c "[.kept, .quarantined, .rules.bad_envelope.count]" s.json)" = "[1,1,1]" ] &&
	[ "$(spos_all H)" = "{\"kafka:admissions/0\":0}" ]'

check '--input takes events or envelopes only; --source is for plain input' '
	{ ps-bronze -L Z --input auto </dev/null 2>err; [ $? -eq 64 ]; } &&
	{ ps-silver -L Z --input json </dev/null 2>err; [ $? -eq 64 ]; } &&
	{ ps-bronze -L Z --input envelopes --source x </dev/null 2>err; [ $? -eq 64 ]; }'

done_testing

#!/bin/sh
# Crashes: the consume | ps-bronze pipeline killed with SIGKILL mid-stream
# several times, then run to the end: bronze holds every event exactly
# once.  Without a lake, consumer-group offsets give at least once.
. "$(dirname "$0")/kafka_lib.inc"

n=500000
X="-X session.timeout.ms=6000"
"$bin/ps-simulate" --count $n --seed 12 --dirty none >"$tmp/in.ndjson"
"$top/scripts/kafka.sh" topic crash 4
"$bin/ps-ingest" produce -t crash -b "$B" <"$tmp/in.ndjson" 2>"$tmp/p.err"
check "produce: exit 0" [ $? -eq 0 ]

# Bronze's committed position total (sum over sources), or 0.
committed() {
	python3 -c 'import json, sys
try:
    d = json.load(open(sys.argv[1]))
    print(sum(v["position"] + 1 for v in d["sources"].values()))
except (OSError, ValueError):
    print(0)' "$tmp/lake/_state/ps-bronze/admissions.json"
}

# Wait (at most 120 s) until bronze committed more than $1 records.
wait_past() {
	i=0
	while [ "$(committed)" -le "$1" ] && [ $i -lt 2400 ]; do
		sleep 0.05
		i=$((i + 1))
	done
}

mkfifo "$tmp/pipe"
start_pipeline() {
	"$bin/ps-ingest" consume -t crash -b "$B" $X -L "$tmp/lake" \
		--exit-at-end >"$tmp/pipe" 2>>"$tmp/c.err" &
	p1=$!
	"$bin/ps-bronze" -L "$tmp/lake" --input envelopes --flush-records 10000 -n \
		<"$tmp/pipe" 2>>"$tmp/b.err" &
	p2=$!
	kids="$p1 $p2"
}

kills=0
midstream=0
last=0
for round in 1 2 3 4; do
	start_pipeline
	wait_past "$last"
	kill -9 $p1 $p2 2>/dev/null
	wait $p1 $p2 2>/dev/null
	now=$(committed)
	kills=$((kills + 1))
	if [ "$now" -gt "$last" ] && [ "$now" -lt $n ]; then
		midstream=$((midstream + 1))
	fi
	last=$now
done
check "SIGKILL mid-stream: $kills kills, each after progress, before the end" \
	[ $midstream -eq $kills ]

start_pipeline
wait $p1
s1=$?
wait $p2
s2=$?
kids=""
check "the pipeline, restarted, runs to the end: exit 0" [ $s1 -eq 0 -a $s2 -eq 0 ]
bronze_envelopes "$tmp/lake" >"$tmp/bronze"
verify "$tmp/bronze" "$tmp/in.ndjson"
check "bronze holds every event exactly once after $kills kills" passed same
check "bronze positions are the offsets, each once" passed offsets

# Consumer-group offsets, no lake: at least once across a SIGKILL.
: >"$tmp/g1"
"$bin/ps-ingest" consume -t crash -G alo -b "$B" $X --exit-at-end \
	>"$tmp/g1" 2>>"$tmp/c.err" &
p1=$!
kids=$p1
i=0
while [ "$(wc -l <"$tmp/g1")" -lt 50000 ] && [ $i -lt 2400 ]; do
	sleep 0.05
	i=$((i + 1))
done
kill -9 $p1
wait $p1 2>/dev/null
kids=""
check "group mode killed mid-stream" [ "$(wc -l <"$tmp/g1")" -lt $n ]
# A reader drops the line the kill cut short (it is no record).
python3 -c 'import os, sys
d = open(sys.argv[1], "rb").read()
os.truncate(sys.argv[1], d.rfind(b"\n") + 1)' "$tmp/g1"
"$bin/ps-ingest" consume -t crash -G alo -b "$B" $X --exit-at-end \
	>>"$tmp/g1" 2>>"$tmp/c.err"
check "group mode restarted: exit 0" [ $? -eq 0 ]
verify "$tmp/g1" "$tmp/in.ndjson"
check "group mode: every event at least once, nothing else" passed atleast

# SIGTERM: the consumer flushes, commits what it wrote and exits 0, so a
# restart in the same group continues exactly where it stopped.
: >"$tmp/t1"
"$bin/ps-ingest" consume -t crash -G term -b "$B" $X >"$tmp/t1" 2>>"$tmp/c.err" &
p1=$!
kids=$p1
i=0
while [ "$(wc -l <"$tmp/t1")" -lt 50000 ] && [ $i -lt 2400 ]; do
	sleep 0.05
	i=$((i + 1))
done
kill -TERM $p1
wait $p1
check "SIGTERM mid-stream: exit 0" [ $? -eq 0 ]
kids=""
check "... before the end" [ "$(wc -l <"$tmp/t1")" -lt $n ]
"$bin/ps-ingest" consume -t crash -G term -b "$B" $X --exit-at-end \
	>>"$tmp/t1" 2>>"$tmp/c.err"
verify "$tmp/t1" "$tmp/in.ndjson"
check "SIGTERM then restart: every event exactly once" passed same
finish

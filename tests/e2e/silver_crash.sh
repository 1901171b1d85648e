#!/bin/bash
# SIGKILL one of ps-simulate, ps-bronze, ps-silver at a random moment of
#   ps-simulate --seed S --count N | ps-bronze -L lake | ps-silver -L lake
# many times, then run the pipeline to the end, and check that the silver
# rows (by source and position, every column) and the quarantine equal an
# uninterrupted run, with nothing twice, and that what ps-silver printed
# was committed and never printed twice.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
export LC_ALL=C PS_LOG_TS=0
unset PS_LAKE
SIM=$top/bin/ps-simulate
BRONZE=$top/bin/ps-bronze
SILVER=$top/bin/ps-silver
POS=$top/tests/silver_positions.sh
for b in "$SIM" "$BRONZE" "$SILVER"; do
	[ -x "$b" ] || { echo "FAIL: $b not built" >&2; exit 1; }
done
N=${SILVER_CRASH_N:-20000}
TRIALS=${SILVER_TRIALS:-24}
T=2026-01-02T00:00:00Z
DIRTY=invalid_age=0.03,future_admission=0.03,missing_field=0.02,wrong_type=0.02,malformed_json=0.02,duplicate=0.03,unknown_department=0.02,discharge_before_admission=0.02
RANDOM=11
tmp=$(mktemp -d)
pids=""
cleanup() {
	for p in $pids; do kill -9 "$p" 2>/dev/null; done
	for p in $pids; do wait "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
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

sim() { "$SIM" --seed 5 --count "$N" --dirty "$DIRTY"; }
throttle() {
	python3 -c '
import sys, time
out = sys.stdout.buffer
for i, line in enumerate(sys.stdin.buffer):
    out.write(line)
    if i % 400 == 399:
        out.flush()
        time.sleep(0.004)
' 2>/dev/null
}

# rows LAKE: every silver row, sorted; quar LAKE: every quarantine record.
rows() { "$SILVER" --dump "$1/silver" | sort; }
quar() {
	find "$1/quarantine/admissions" -name 'part-*.ndjson.gz' \
		-exec zcat {} + | jq -c '[.source, .position, .reasons, .field]' |
		sort
}

sim | "$BRONZE" -q -L "$tmp/ref" --ingest-time "$T" |
	"$SILVER" -q -L "$tmp/ref" --now "$T" >"$tmp/ref.out"
check "reference pipeline succeeds" test "${PIPESTATUS[2]}" -eq 0
rows "$tmp/ref" >"$tmp/ref.rows"
quar "$tmp/ref" >"$tmp/ref.quar"
check "reference run kept and quarantined records" \
	test -s "$tmp/ref.rows" -a -s "$tmp/ref.quar"
echo "# reference: $(wc -l <"$tmp/ref.rows") rows," \
	"$(wc -l <"$tmp/ref.quar") quarantined of $N"

# Wait for a trial's processes.  A victim killed before it opened its FIFO
# leaves its partner blocked in open() for ever: after 20 s such a process
# is killed too (one more crash, which the final comparison must survive).
reap() {
	for p in $pids; do
		n=0
		while kill -0 "$p" 2>/dev/null && [ "$n" -lt 200 ]; do
			sleep 0.1
			n=$((n + 1))
		done
		kill -9 "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
}

lake=$tmp/lake
killed=0
for i in $(seq 1 "$TRIALS"); do
	rm -f "$tmp"/f1 "$tmp"/f2 "$tmp"/f3
	mkfifo "$tmp/f1" "$tmp/f2" "$tmp/f3"
	sim >"$tmp/f1" 2>/dev/null &
	p1=$!
	throttle <"$tmp/f1" >"$tmp/f2" &
	pt=$!
	"$BRONZE" -q -L "$lake" --ingest-time "$T" --flush-records 700 \
		--flush-interval 0.05 <"$tmp/f2" >"$tmp/f3" 2>>"$tmp/err" &
	p2=$!
	"$SILVER" -q -L "$lake" --now "$T" \
		--flush-records $((100 + RANDOM % 2000)) --flush-interval 0.05 \
		<"$tmp/f3" >>"$tmp/emitted" 2>>"$tmp/err" &
	p3=$!
	pids="$p1 $pt $p2 $p3"
	sleep "0.$((RANDOM % 4))$((RANDOM % 10))"
	case $((RANDOM % 4)) in
	0) victim=$p1 ;;
	1) victim=$p2 ;;
	*) victim=$p3 ;;
	esac
	if kill -9 "$victim" 2>/dev/null; then killed=$((killed + 1)); fi
	reap
done
pids=""
echo "# $killed of $TRIALS runs were killed mid-stream"
check "at least half of the trials were killed mid-stream" \
	test "$killed" -ge $((TRIALS / 2))

sim | "$BRONZE" -q -L "$lake" --ingest-time "$T" |
	"$SILVER" -q -L "$lake" --now "$T" >>"$tmp/emitted" 2>>"$tmp/err"
check "final pipeline succeeds" test "${PIPESTATUS[2]}" -eq 0
rows "$lake" >"$tmp/lake.rows"
quar "$lake" >"$tmp/lake.quar"
check "silver rows equal the uninterrupted run" \
	cmp -s "$tmp/ref.rows" "$tmp/lake.rows"
check "quarantine equals the uninterrupted run" \
	cmp -s "$tmp/ref.quar" "$tmp/lake.quar"
jq -r '[.source, .position] | @tsv' "$tmp/lake.rows" | sort >"$tmp/keys"
check "no silver row twice" test -z "$(uniq -d "$tmp/keys" | head -1)"
jq -r '[.source, .position] | @tsv' "$tmp/emitted" | sort >"$tmp/ekeys"
check "nothing printed twice" test -z "$(uniq -d "$tmp/ekeys" | head -1)"
check "everything printed was committed" \
	test -z "$(comm -23 "$tmp/ekeys" "$tmp/keys" | head -1)"
check "no temporary file left" \
	test -z "$(find "$lake/silver" "$lake/quarantine" -name '.*' | head -1)"
check "the Delta log's txn names the last position" \
	test "$("$POS" "$lake" | jq '.["stdin:admissions"]')" -eq $((N - 1))
echo "# $(find "$lake/silver" -name '*.parquet' | wc -l) silver files"

# The same with envelopes of three interleaved sources (what ps-ingest
# consume emits for three Kafka partitions): one batch holds several
# sources, each committed with its own files and checkpoint entry.
"$SIM" -q --seed 5 --count "$N" --dirty "$DIRTY" | jq -c --slurp -R 'split("\n")[:-1] | to_entries[] |
	{source: ("kafka:adm/" + ((.key % 3) | tostring)),
	 position: (.key / 3 | floor), ingest_time: "2026-01-02T00:00:00Z",
	 payload: .value}' >"$tmp/env"
"$BRONZE" -q -L "$tmp/eref" --input envelopes <"$tmp/env" |
	"$SILVER" -q -L "$tmp/eref" --now "$T" -n
rows "$tmp/eref" >"$tmp/eref.rows"
quar "$tmp/eref" >"$tmp/eref.quar"
elake=$tmp/elake
ekilled=0
for i in $(seq 1 10); do
	rm -f "$tmp"/f2 "$tmp"/f3
	mkfifo "$tmp/f2" "$tmp/f3"
	throttle <"$tmp/env" >"$tmp/f2" &
	pt=$!
	"$BRONZE" -q -L "$elake" --input envelopes --flush-records 900 --flush-interval 0.05 \
		<"$tmp/f2" >"$tmp/f3" 2>>"$tmp/err" &
	p2=$!
	"$SILVER" -q -L "$elake" --now "$T" -n \
		--flush-records $((100 + RANDOM % 2000)) --flush-interval 0.05 \
		<"$tmp/f3" 2>>"$tmp/err" &
	p3=$!
	pids="$pt $p2 $p3"
	sleep "0.$((RANDOM % 4))$((RANDOM % 10))"
	if [ $((RANDOM % 2)) = 0 ]; then victim=$p2; else victim=$p3; fi
	if kill -9 "$victim" 2>/dev/null; then ekilled=$((ekilled + 1)); fi
	reap
done
pids=""
echo "# $ekilled of 10 envelope runs were killed mid-stream"
"$BRONZE" -q -L "$elake" --input envelopes <"$tmp/env" | "$SILVER" -q -L "$elake" --now "$T" -n
rows "$elake" >"$tmp/elake.rows"
diff "$tmp/eref.rows" "$tmp/elake.rows" | head -5 >&2
check "3 sources: silver rows equal the uninterrupted run" \
	cmp -s "$tmp/eref.rows" <(rows "$elake")
quar "$elake" >"$tmp/elake.quar"
diff "$tmp/eref.quar" "$tmp/elake.quar" | head -5 >&2
check "3 sources: quarantine equals the uninterrupted run" \
	cmp -s "$tmp/eref.quar" <(quar "$elake")
check "3 sources: the txns have the three" test "$("$POS" "$elake" |
	jq -c '[.[]]')" = \
	"[$(((N - 1) / 3)),$(((N - 2) / 3)),$(((N - 3) / 3))]"
echo "silver_crash: $pass passed, $fail failed"
[ "$fail" -eq 0 ]

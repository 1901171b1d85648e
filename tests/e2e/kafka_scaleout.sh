#!/bin/sh
# Scale-out (issue 11, item 4; pulsestream(7), "N processing pipelines,
# one gold"), with a real broker: three pipelines
#   ps-ingest consume -G G -L Pk | ps-bronze -L Pk | ps-silver -L S --shared
# in one consumer group on a 6-partition topic, each with its own bronze
# lake Pk, all appending to ONE silver Delta table in S.  One pipeline is
# SIGKILLed and another started while events are produced (rebalances).
# Then: every event is in silver exactly once (equal to a single pipeline
# over the same topic, no event_id twice, the rest quarantined), the txn
# versions in the Delta log are the topic's last offsets, deltalake and
# DuckDB read the table alike, and ps-gold over it equals ps-gold over the
# single pipeline's.
. "$(dirname "$0")/../lib.sh"
NOW=2026-06-02T00:00:00Z
N=24000
export PS_KAFKA_DIR="$TMPD/kafka"
py=$("$TOP/scripts/pyenv.sh" delta) || { echo "FAIL - no deltalake venv"; exit 1; }
"$TOP/scripts/kafka.sh" start || { echo "FAIL - cannot start Kafka"; exit 1; }
at_exit '"$TOP/scripts/kafka.sh" stop 2>/dev/null'
eval "$("$TOP/scripts/kafka.sh" env)"
B=$PS_KAFKA_BROKERS
cd "$TMPD" || exit 1

# Duplicates (same event_id, same hospital: the same partition) test the
# dedup windows that travel with the partitions; bad ages the quarantine.
ps-simulate -m realistic --hospitals 24 --count $N --seed 17 \
	--dirty duplicate=0.03,invalid_age=0.01 \
	--start 2026-05-01T00:00:00Z >in.ndjson 2>/dev/null
"$TOP/scripts/kafka.sh" topic so 6 >/dev/null
produce() { ps-ingest produce -q -t so -b "$B"; }

# pipeline K: one processing pipeline, its own bronze lake PK, silver in
# S, in a session of its own (killed as one); its PID (= the session) in
# pK.pid.
pipeline() {
	setsid sh -c "ps-ingest consume -v -t so -b '$B' -G G -L P$1 2>c$1.err |
		ps-bronze -L P$1 --input envelopes --flush-records 400 \
			--flush-interval 0.3 -q 2>b$1.err |
		ps-silver -L S --shared --bronze-lake P$1 --now $NOW -n \
			--flush-records 600 --flush-interval 0.3 2>s$1.err" &
	echo $! >p$1.pid
}
stop_all() { for f in p*.pid; do kill -9 -"$(cat "$f")" 2>/dev/null; done; }
at_exit stop_all
# The partitions whose events pipeline $1 landed in its bronze, one a line.
parts() {
	find "P$1/bronze" -name 'part-kafka_so_*' 2>/dev/null |
		sed 's/.*part-kafka_so_\([0-9]*\)-.*/\1/' | sort -u
}
# Wait (up to 2 min: a sanitizer build on a loaded machine) until $@ succeeds.
wait_for() {
	i=0
	until "$@"; do
		i=$((i + 1))
		[ $i -lt 600 ] || { echo "# timed out: $*"; return 1; }
		sleep 0.2
	done
}
landed() { [ -n "$(parts "$1")" ]; }
# Pipelines 1 and 2 each landed some partitions, 6 between them, and
# silver committed all 6.
both_working() {
	[ -n "$(parts 1)" ] && [ -n "$(parts 2)" ] &&
	[ "$({ parts 1; parts 2; } | sort -u | wc -l)" -eq 6 ] &&
	[ "$("$TOP/tests/silver_positions.sh" S | jq length)" -eq 6 ]
}

# Pipeline $1 holds partitions now ("partition assigned", logged with -v).
assigned() { grep -q "partition assigned" "c$1.err" 2>/dev/null; }
# Both in the group before the first event: else, on a slow machine, the
# first pipeline may take and land all six partitions before the second
# one joins.
pipeline 1
wait_for assigned 1
pipeline 2
wait_for assigned 2
sed -n "1,$((N / 3))p" in.ndjson | produce
wait_for both_working
parts 1 >killed.parts
# the second third while the pipelines run; pipeline 1 dies in the middle
sed -n "$((N / 3 + 1)),$((N / 2))p" in.ndjson | produce
kill -9 -"$(cat p1.pid)"
rm p1.pid
pipeline 3
sed -n "$((N / 2 + 1)),$((2 * N / 3))p" in.ndjson | produce
wait_for landed 3
# Events sent again (a hospital feed retrying): duplicates of events that
# the partitions' earlier owners committed; the new owners know them from
# the dedup windows that travel with the partitions.
sed -n "1,2000p" in.ndjson | produce
sed -n "$((2 * N / 3 + 1)),\$p" in.ndjson | produce

# The topic's last offset per partition, from a consumer of its own.
ps-ingest consume -t so -b "$B" -G probe --exit-at-end 2>/dev/null |
	jq -s -c 'group_by(.source) | map({key: .[0].source,
		value: (map(.position) | max)}) | from_entries' >end.json
# Done when silver's txn versions reach them (at most 2 min).
i=0
until "$TOP/tests/silver_positions.sh" S | jq -e --slurpfile e end.json \
	'. == $e[0]' >/dev/null; do
	i=$((i + 1))
	[ $i -lt 600 ] || break
	sleep 0.2
done
for k in 2 3; do
	kill -0 -"$(cat p$k.pid)" 2>/dev/null && echo $k >>alive
	kill -TERM -"$(cat p$k.pid)" 2>/dev/null
done
for k in 2 3; do
	j=0
	while kill -0 -"$(cat p$k.pid)" 2>/dev/null && [ $j -lt 300 ]; do
		j=$((j + 1)); sleep 0.1
	done
done

# The single pipeline over the same topic, for comparison.
ps-ingest consume -t so -b "$B" -G ref -L R --exit-at-end 2>/dev/null |
	ps-bronze -q -L R --input envelopes |
	ps-silver -q -L R --now $NOW -n
rows() {	# source position event_id of every silver row of lake $1
	ps-silver --dump "$1/silver/admissions" |
		jq -r '"\(.source) \(.position) \(.event_id)"' | sort
}
rows R >ref.rows
rows S >s.rows

check 'the topic has 6 partitions with events, each consumed' '
	[ "$(jq length end.json)" -eq 6 ] && [ "$(jq "[.[]] | add" end.json)" -gt $((N - 100)) ]'
check 'the partitions were shared out, and those of the killed pipeline taken over' '
	echo "# killed: $(tr "\n" " " <killed.parts)2: $(parts 2 | tr "\n" " ")3: $(parts 3 | tr "\n" " ")"
	[ -s killed.parts ] && [ "$(wc -l <killed.parts)" -lt 6 ] &&
	{ parts 2; parts 3; } | sort -u >after.parts &&
	[ -n "$(parts 3)" ] && [ -z "$(comm -23 killed.parts after.parts)" ]'
check 'the pipelines ran side by side: 2 and 3 until stopped, their ps-silver ended cleanly' '
	echo "running when stopped: $(tr "\n" " " <alive)"; grep -h "level=error" s?.err
	[ "$(cat alive)" = "2
3" ] && for k in 2 3; do
		grep "msg=\"done\"" s$k.err | grep -qv " kept=0 " || exit 1
		! grep -q "level=error" s$k.err || exit 1
	done'
check 'every event exactly once in silver: the rows of the single pipeline' '
	[ -s ref.rows ] && cmp ref.rows s.rows'
check 'no event_id twice, and every produced event_id in silver or quarantine' '
	[ -z "$(cut -d" " -f3 s.rows | sort | uniq -d | head -1)" ] &&
	{ cut -d" " -f3 s.rows
	  find S/quarantine -name "part-*.ndjson.gz" -exec zcat {} + |
		jq -r ".raw | fromjson | .event_id"; } | sort -u >got.ids &&
	jq -r .event_id in.ndjson | sort -u >want.ids && cmp want.ids got.ids'
check 'the quarantine holds each bad record once' '
	find S/quarantine -name "part-*.ndjson.gz" -exec zcat {} + |
		jq -r "\"\(.source) \(.position)\"" | sort >s.q &&
	find R/quarantine -name "part-*.ndjson.gz" -exec zcat {} + |
		jq -r "\"\(.source) \(.position)\"" | sort >r.q &&
	[ -s r.q ] && cmp r.q s.q'
check 'the txn versions in the Delta log are the last offsets of the partitions' '
	"$TOP/tests/silver_positions.sh" S >txn.json &&
	jq -e --slurpfile e end.json ". == \$e[0]" txn.json'

cat >dl.py <<'EOF'
import json, os, sys
sys.path.insert(0, os.path.join(sys.argv[1], "tests", "interop"))
import delta_check as d
import deltalake

table = sys.argv[2]
t = deltalake.DeltaTable(table)
a = t.to_pyarrow_table(columns=["source", "position"]).to_pylist()
dl = sorted("%s %d" % (r["source"], r["position"]) for r in a)
con = d.duck()
dk = sorted("%s %d" % r for r in con.sql(
    "select source, position from delta_scan('%s')" % table).fetchall())
if dl != dk:
    d.fail("deltalake and DuckDB disagree: %d / %d rows" % (len(dl), len(dk)))
with open(sys.argv[3]) as f:
    want = sorted(" ".join(l.split()[:2]) for l in f)
if dl != want:
    d.fail("deltalake: %d rows, ours %d" % (len(dl), len(want)))
for src, last in json.load(open(sys.argv[4])).items():
    v = t.transaction_version("ps-silver/admissions/" + src)
    if v != last:
        d.fail("txn %s: deltalake %r, last offset %d" % (src, v, last))
print("ok", len(dl))
EOF
check 'deltalake and DuckDB read the table: the same rows, txn = last offsets' '
	"$py" dl.py "$TOP" S/silver/admissions s.rows end.json'

# Gold tables, but for the time each pipeline consumed an event (ps-ingest
# consume's ingest time, which two consumers cannot share).
gold() {
	ps-gold -L "$1" --catch-up --now $NOW >/dev/null 2>"$1.gold.err" &&
	gold_snapshot "$1" "$1.snap" &&
	sed 's/"event_ingestion_time":"[^"]*",//' "$1.snap" | sort >"$1.gold"
}
check 'ps-gold over the shared table equals ps-gold over the single pipeline' '
	gold R && gold S && [ "$(wc -l <R.gold)" -gt 1000 ] && cmp R.gold S.gold'
done_testing

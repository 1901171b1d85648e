#!/bin/sh
# Broker restarts: the broker stopped in the middle of a produce and
# started again loses nothing and duplicates nothing (idempotent
# producer), exit 0; a running consumer survives a restart; a broker that
# stays away makes produce fail with 69 and the count of undelivered
# messages.
. "$(dirname "$0")/kafka_lib.inc"

n=200000
X="-X session.timeout.ms=6000"
"$bin/ps-simulate" --count $n --seed 13 --dirty none >"$tmp/in.ndjson"
"$top/scripts/kafka.sh" topic restart 4

# Produce through a pipe that the test feeds in two halves, the broker
# stopped and restarted in between, so the stop is surely mid-produce.
mkfifo "$tmp/feed"
"$bin/ps-ingest" produce -t restart -b "$B" <"$tmp/feed" 2>"$tmp/p.err" &
pp=$!
kids=$pp
exec 3>"$tmp/feed"
head -n 100000 "$tmp/in.ndjson" >&3
"$top/scripts/kafka.sh" stop
check "broker stopped while the producer runs" kill -0 $pp
# In the background: with the broker away, the producer's queue fills up
# and it stops reading (backpressure), so this write blocks.
tail -n +100001 "$tmp/in.ndjson" >&3 &
tp=$!
sleep 2
"$top/scripts/kafka.sh" start 3>&-
wait $tp
exec 3>&-
wait $pp
st=$?
check "produce across a broker restart: exit 0" [ $st -eq 0 ]
[ $st -eq 0 ] || grep -v 'msg="librdkafka"' "$tmp/p.err" | tail -5 >&2
kids=""
check "produce summary: every message delivered" \
	grep -q "msg=\"produce done\" topic=restart read=$n delivered=$n failed=0" "$tmp/p.err"
"$bin/ps-ingest" consume -t restart -b "$B" --exit-at-end >"$tmp/c1" 2>"$tmp/c1.err"
check "consume: exit 0" [ $? -eq 0 ]
verify "$tmp/c1" "$tmp/in.ndjson"
check "nothing lost, nothing doubled across the restart" passed same

# A consumer that runs while the broker restarts.
"$bin/ps-ingest" consume -t restart -G live -b "$B" $X --from end -n 2000 \
	-v >"$tmp/live" 2>"$tmp/live.err" &
cp=$!
kids=$cp
# Wait (at most 60 s) until it has its 4 partitions (-v logs each).
i=0
while [ "$(grep -c 'msg="partition assigned"' "$tmp/live.err")" -lt 4 ] &&
	[ $i -lt 600 ]; do
	sleep 0.1
	i=$((i + 1))
done
head -n 1000 "$tmp/in.ndjson" >"$tmp/part1"
tail -n 1000 "$tmp/in.ndjson" >"$tmp/part2"
"$bin/ps-ingest" produce -t restart -b "$B" <"$tmp/part1" 2>/dev/null
"$top/scripts/kafka.sh" stop
sleep 1
"$top/scripts/kafka.sh" start 3>&-
"$bin/ps-ingest" produce -t restart -b "$B" <"$tmp/part2" 2>/dev/null
i=0
while kill -0 $cp 2>/dev/null && [ $i -lt 1200 ]; do
	sleep 0.1
	i=$((i + 1))
done
kill -9 $cp 2>/dev/null
wait $cp
st=$?
kids=""
check "a consumer survives the broker restart: exit 0" [ $st -eq 0 ]
cat "$tmp/part1" "$tmp/part2" >"$tmp/both"
verify "$tmp/live" "$tmp/both"
check "it got what was produced before and after, exactly once" passed same

# A broker that is gone for good.
"$top/scripts/kafka.sh" stop
head -n 500 "$tmp/in.ndjson" |
	"$bin/ps-ingest" produce -t restart -b "$B" --timeout 2 2>"$tmp/gone.err"
check "broker unreachable past --timeout: exit 69" [ $? -eq 69 ]
check "the error counts the undelivered messages" \
	grep -q 'msg="500 message(s) undelivered.*broker unreachable" undelivered=500' "$tmp/gone.err"
check "the summary counts none as delivered" \
	grep -q 'delivered=0 failed=500' "$tmp/gone.err"
finish

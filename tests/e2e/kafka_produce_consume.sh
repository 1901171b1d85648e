#!/bin/sh
# ps-ingest against a real Kafka broker: 1M simulated events produced and
# consumed back (to a file, and into bronze exactly once), keys, the
# consumer-group offsets, --from, and --exit-at-end on empty and full
# topics.
. "$(dirname "$0")/kafka_lib.inc"

n=1000000
"$bin/ps-simulate" --count $n --seed 11 --dirty none >"$tmp/in.ndjson"
"$top/scripts/kafka.sh" topic events 4
"$top/scripts/kafka.sh" topic empty 3

"$bin/ps-ingest" produce -t events -b "$B" <"$tmp/in.ndjson" 2>"$tmp/p.err"
check "produce 1M: exit 0" [ $? -eq 0 ]
check "produce 1M: summary counts every delivery" \
	grep -q "msg=\"produce done\" topic=events read=$n delivered=$n failed=0 unsent=0 rejected=0 unkeyed=0" "$tmp/p.err"

"$bin/ps-ingest" consume -t events -b "$B" --exit-at-end >"$tmp/c1" 2>"$tmp/c1.err"
check "consume --exit-at-end: exit 0" [ $? -eq 0 ]
verify "$tmp/c1" "$tmp/in.ndjson"
check "consume: every event exactly once, byte for byte" passed same
check "consume: sources are topic/partition, positions the offsets" \
	passed offsets
check "consume: key is the hospital_id, one partition per hospital" \
	passed keys
check "consume: broker_time and ingest_time in every envelope" \
	passed times

"$bin/ps-ingest" consume -t events -b "$B" --exit-at-end >"$tmp/c2" 2>/dev/null
check "consume again, same group: offsets were committed, nothing new" \
	[ $? -eq 0 -a ! -s "$tmp/c2" ]
"$bin/ps-ingest" consume -t events -G other -b "$B" --from end --exit-at-end >"$tmp/c3" 2>/dev/null
check "--from end with a new group: nothing" [ $? -eq 0 -a ! -s "$tmp/c3" ]
"$bin/ps-ingest" consume -t events -G future -b "$B" --from 2999-01-01T00:00:00Z --exit-at-end >"$tmp/c4" 2>/dev/null
check "--from a future time: nothing" [ $? -eq 0 -a ! -s "$tmp/c4" ]
"$bin/ps-ingest" consume -t events -G past -b "$B" --from 2000-01-01 --exit-at-end -n 1000 >"$tmp/c5" 2>/dev/null
check "--from a past time and --count: the first 1000" \
	[ $? -eq 0 -a "$(wc -l <"$tmp/c5")" -eq 1000 ]

"$bin/ps-ingest" consume -t empty -b "$B" --exit-at-end >"$tmp/e1" 2>"$tmp/e1.err"
check "--exit-at-end on an empty topic: exit 0, no output" \
	[ $? -eq 0 -a ! -s "$tmp/e1" ]
"$bin/ps-ingest" consume -t no-such-topic -b "$B" --exit-at-end --timeout 20 >/dev/null 2>"$tmp/e2.err"
check "a topic that does not exist: exit 69" [ $? -eq 69 ]

# Into bronze, exactly once (the group only assigns partitions).
if [ -x "$bin/ps-bronze" ]; then
	"$bin/ps-ingest" consume -t events -G tobronze -b "$B" -L "$tmp/lake" --exit-at-end 2>"$tmp/b.err" |
		"$bin/ps-bronze" -L "$tmp/lake" --input envelopes -n 2>>"$tmp/b.err"
	check "consume -L | ps-bronze: exit 0" [ $? -eq 0 ]
	bronze_envelopes "$tmp/lake" >"$tmp/bronze"
	verify "$tmp/bronze" "$tmp/in.ndjson"
	check "bronze holds every event exactly once" passed same
	"$bin/ps-ingest" consume -t events -G tobronze2 -b "$B" -L "$tmp/lake" --exit-at-end >"$tmp/b2" 2>>"$tmp/b.err"
	check "consume -L again, a new group: starts after the bronze checkpoint" \
		[ $? -eq 0 -a ! -s "$tmp/b2" ]
else
	not_ok "bin/ps-bronze missing: consume -L | ps-bronze not tested"
fi
finish

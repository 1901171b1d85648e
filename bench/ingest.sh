#!/bin/sh
# ps-ingest against a real local Kafka broker (scripts/kafka.sh), on 1M
# simulated events: produce and consume throughput (messages/s, MB/s,
# peak RSS), with kcat on the same data in the same run as the anchor
# (ratio = ps-ingest/kcat; targets >= 300,000 msg/s each way and >= 0.8x
# kcat).  Then the end-to-end latency at 1,000 events/s from
# `ps-ingest produce` (the message timestamp) to the envelope leaving
# `ps-bronze` (default flush settings): p50 and p99.
# BENCH_EVENTS=N changes the count; BENCH_LATENCY_EVENTS (default 10000).
own_tmp=${BENCH_TMP:+no}
. "$(dirname "$0")/lib.sh"
[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time missing (Debian package time)" >&2; exit 1; }
command -v kcat >/dev/null || { echo "bench: kcat missing (scripts/deps.sh)" >&2; exit 1; }
unset PS_LAKE PS_EVENTHUBS_CONNECTION_STRING
export PS_KAFKA_DIR=$BENCH_TMP/kafka
cleanup() {
	[ -n "${lat_pid:-}" ] && kill "$lat_pid" 2>/dev/null
	"$TOP/scripts/kafka.sh" stop
	if [ -z "$own_tmp" ]; then
		rm -rf "$BENCH_TMP"
	else
		rm -rf "$BENCH_TMP/kafka" "$BENCH_TMP/lake" \
			"$BENCH_TMP/in.ndjson" "$BENCH_TMP/out" "$BENCH_TMP/kout"
	fi
}
trap cleanup EXIT
"$TOP/scripts/kafka.sh" start || exit 1
eval "$("$TOP/scripts/kafka.sh" env)"
B=$PS_KAFKA_BROKERS

ps-simulate --count "$N" --seed 7 --dirty none >"$BENCH_TMP/in.ndjson" 2>/dev/null
MB=$(wc -c <"$BENCH_TMP/in.ndjson")
for t in ps kcat; do "$TOP/scripts/kafka.sh" topic "bench-$t" 4; done
# Warm up: the broker's coordinators load on first use.
head -1000 "$BENCH_TMP/in.ndjson" | ps-ingest produce -q -t warmup -b "$B"

mbs() { awk -v b="$MB" -v r="$1" -v n="$N" 'BEGIN { printf "%.1f", b / 1e6 * r / n }'; }

echo "ps-ingest, $N events ($(awk -v b="$MB" 'BEGIN { printf "%.0f", b / 1e6 }') MB), broker $B:"
measure "ps-ingest produce (idempotent, acks=all)" "$N" \
	"ps-ingest produce -q -t bench-ps -b $B <$BENCH_TMP/in.ndjson"
pr=$RATE prss=$RSS_MB
measure "kcat -P (anchor)" "$N" \
	"kcat -P -b $B -t bench-kcat -X enable.idempotence=true -l $BENCH_TMP/in.ndjson"
kr=$RATE
measure "ps-ingest consume --exit-at-end (envelopes)" "$N" \
	"ps-ingest consume -q -t bench-ps -G bench -b $B --exit-at-end >$BENCH_TMP/out"
cr=$RATE crss=$RSS_MB
got=$(wc -l <"$BENCH_TMP/out")
[ "$got" -eq "$N" ] || { echo "bench: consumed $got of $N" >&2; exit 1; }
measure "kcat -C -G -J (anchor: JSON envelopes too)" "$N" \
	"kcat -C -G benchj -J -b $B -e -q -o beginning bench-ps >$BENCH_TMP/kout"
kj=$RATE
measure "kcat -C -G (raw payloads only)" "$N" \
	"kcat -C -G benchk -b $B -e -q -o beginning bench-kcat >$BENCH_TMP/kout"
kc=$RATE
echo "produce: $pr msg/s, $(mbs "$pr") MB/s, peak RSS $prss MiB; $(ratio "$pr" "$kr") kcat -P"
echo "consume: $cr msg/s, $(mbs "$cr") MB/s, peak RSS $crss MiB; $(ratio "$cr" "$kj") kcat -J, $(ratio "$cr" "$kc") raw kcat -C"
echo "targets: >= 300000 msg/s each way, >= 0.8x kcat"

# End-to-end latency at 1,000 events/s into bronze.
if [ ! -x "$TOP/bin/ps-bronze" ]; then
	echo "latency: skipped (bin/ps-bronze missing)"
	exit 0
fi
L=${BENCH_LATENCY_EVENTS:-10000}
"$TOP/scripts/kafka.sh" topic bench-lat 4
ps-ingest consume -q -t bench-lat -b "$B" -L "$BENCH_TMP/lake" -n "$L" |
	ps-bronze -q -L "$BENCH_TMP/lake" --input envelopes |
	python3 -c '
import json, sys, time, datetime
n = int(sys.argv[1]); lat = []
for line in sys.stdin:
    now = time.time()
    bt = json.loads(line)["broker_time"]
    t = datetime.datetime.strptime(bt, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()
    lat.append(now - t)
lat.sort()
print("latency at 1000 events/s, %d events, produce -> out of ps-bronze: "
      "p50 %.0f ms, p99 %.0f ms, max %.0f ms" % (len(lat),
      1000 * lat[len(lat) // 2], 1000 * lat[int(len(lat) * 0.99)],
      1000 * lat[-1]))' "$L" &
lat_pid=$!
sleep 3	# let the consumer join and get its partitions
ps-simulate --count "$L" --rate 1000 --seed 8 --dirty none 2>/dev/null |
	ps-ingest produce -q -t bench-lat -b "$B"
wait $lat_pid
lat_pid=""

#!/bin/sh
# Benchmark ps-hl7: (1) parse + map of HL7 v2 ADT messages (ps-simulate
# --format hl7, the realistic lifecycle) by `ps-hl7 convert`, one core,
# against python-hl7 (PyPI, scripts/pyenv.sh) parsing the same messages
# and extracting the same fields, in the same run: the ratio of
# messages/s (python-hl7 on the first 20,000 of them); (2) MLLP ingest by `ps-hl7 listen` at its default flush
# settings (ACK after the bronze commit) with CONNS connections sending
# one message at a time: messages/s and ACK latency p50/p99.
# Usage: bench/hl7.sh [COUNT] (default 200000; MLLP: COUNT/10 messages).
# The lake goes to /dev/shm when there is one (the stage's work, not the
# disk's fsync latency); BENCH_LAKE=DIR puts it elsewhere.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/bench/lib.sh"
n=${1:-${HL7_BENCH_N:-200000}}
conns=${HL7_BENCH_CONNS:-16}
py=$("$top/scripts/pyenv.sh")
tmp=$(mktemp -d)
if [ -z "${BENCH_LAKE:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
	BENCH_LAKE=/dev/shm
fi
lake=$(mktemp -d "${BENCH_LAKE:-$tmp}/hl7-bench.XXXXXX")
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$tmp" "$lake"' EXIT
map=$top/examples/hl7/map.ndjson

ps-simulate -q -m realistic --seed 7 --count "$n" --dirty none \
	--format hl7 >"$tmp/msgs"
echo "ps-hl7 bench: $n messages, $(wc -c <"$tmp/msgs") bytes"
measure "ps-hl7 convert (parse + map)" "$n" \
	"ps-hl7 convert -q --map '$map' '$tmp/msgs' >/dev/null"
ours=$RATE
# python-hl7 is about 100 times slower: it gets the first 20,000
a=$((n < 20000 ? n : 20000))
head -n "$a" "$tmp/msgs" >"$tmp/anchor"
measure "python-hl7 parse + extract (anchor, $a)" "$a" \
	"'$py' '$top/bench/hl7_anchor.py' '$tmp/anchor' >/dev/null"
echo "ps-hl7 convert / python-hl7: $(ratio "$ours" "$RATE")"

m=$((n / 10))
head -n "$m" "$tmp/msgs" >"$tmp/mllp"
ps-hl7 listen -q -L "$lake" --port 0 --port-file "$tmp/port" \
	>/dev/null &
pid=$!
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done
echo "ps-hl7 listen: lake on $(df -P "$lake" | awk 'NR == 2 {print $1}')," \
	"default flush settings"
"$py" "$top/bench/hl7_mllp.py" "$tmp/mllp" "$(cat "$tmp/port")" "$conns"
kill -TERM "$pid"
wait "$pid"
pid=

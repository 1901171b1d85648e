#!/bin/sh
# The real-time deployment: a producer side that sends hospital events to
# Kafka or Azure Event Hubs, and a processing side that lands them in the
# lake exactly once and keeps silver and gold up to date.
#
#   pipelines/realtime.sh produce [ps-simulate options]
#       ps-simulate (default --rate 200) | ps-ingest produce
#   pipelines/realtime.sh process
#       ps-ingest consume -L | ps-bronze --input envelopes | ps-silver | ps-gold | ps-dash
#       (runs until SIGINT/SIGTERM; each stage commits what it holds and
#       exits 0); ps-dash serves the live dashboard beside gold
#   pipelines/realtime.sh catch-up
#       the same with --exit-at-end: for cron or a Data Factory custom
#       activity; exits 0 once every partition is landed and processed
#   pipelines/realtime.sh pipeline K
#       processing pipeline K of several on the topic (pulsestream(7), "N
#       processing pipelines, one gold"): ps-ingest consume -L BRONZE |
#       ps-bronze -L BRONZE --input envelopes | ps-silver --shared
#       --bronze-lake BRONZE, BRONZE its own bronze lake ($PS_LAKE.bronze-K);
#       the consumers of one group share the partitions out
#   pipelines/realtime.sh gold
#       the one ps-gold beside those pipelines: --catch-up every
#       PS_GOLD_INTERVAL seconds (default 10) until SIGINT/SIGTERM
#   pipelines/realtime.sh local [N]
#       a demonstration on this machine: a local broker (scripts/kafka.sh),
#       N simulated events (default 20000) produced, then caught up into
#       build/realtime-lake, and what landed
#
# Environment:
#   PS_TOPIC       topic / Event Hub (default admissions)
#   PS_LAKE        the lake (default build/realtime-lake)
#   PS_BROKERS     bootstrap brokers for plain Kafka (ps-ingest -b)
#   PS_EVENTHUBS_CONNECTION_STRING
#                  Event Hubs instead: the connection string or, better,
#                  secret:NAME resolved through the vault (PS_VAULT)
#   PS_KAFKA_OPTS  extra ps-ingest options, e.g. "-X ssl.ca.location=ca.pem"
#   PS_DASH_SERVE  where ps-dash serves the dashboard, [ADDR:]PORT (default
#                  127.0.0.1:8080; "none": no dashboard)
#   PS_GOLD_INTERVAL  seconds between the catch-ups of "gold" (default 10)
# Kafka restarts are waited out; a killed stage is restarted by re-running
# this script (the lake's checkpoints make every restart exactly once).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
PATH=$top/bin:$PATH
export PATH
topic=${PS_TOPIC:-admissions}
lake=${PS_LAKE:-$top/build/realtime-lake}
export PS_LAKE=$lake

conn() {
	if [ -n "${PS_BROKERS:-}" ]; then
		printf -- '-b %s %s' "$PS_BROKERS" "${PS_KAFKA_OPTS:-}"
	elif [ -n "${PS_EVENTHUBS_CONNECTION_STRING:-}" ]; then
		printf -- '%s' "${PS_KAFKA_OPTS:-}"
	else
		echo "realtime.sh: set PS_BROKERS or PS_EVENTHUBS_CONNECTION_STRING" >&2
		exit 64
	fi
}

have() { [ -x "$top/bin/$1" ]; }

# consume -L | bronze [| silver [| gold [| dash]]], whatever is built.
process() {
	end=$1
	c=$(conn)
	p="ps-ingest consume -t '$topic' $c $end | ps-bronze --input envelopes"
	have ps-silver && p="$p | ps-silver"
	have ps-gold && p="$p | ps-gold"
	if have ps-gold && have ps-dash && [ "${PS_DASH_SERVE:-}" != none ]; then
		p="$p | ps-dash --follow --serve '${PS_DASH_SERVE:-127.0.0.1:8080}'"
	fi
	echo "realtime.sh: $p (lake $lake)" >&2
	# shellcheck disable=SC2086
	sh -c "$p"
}

case ${1:-} in
produce)
	shift
	c=$(conn)
	[ $# -gt 0 ] || set -- --rate 200
	# shellcheck disable=SC2086
	ps-simulate "$@" | ps-ingest produce -t "$topic" $c
	;;
process)
	process ""
	;;
pipeline)
	k=${2:-}
	case $k in ''|*[!0-9]*)
		echo "realtime.sh: pipeline K: K is a number" >&2; exit 64 ;;
	esac
	c=$(conn)
	b="$lake.bronze-$k"
	p="ps-ingest consume -t '$topic' $c -L '$b'"
	p="$p | ps-bronze -L '$b' --input envelopes"
	p="$p | ps-silver --shared --bronze-lake '$b' -n"
	echo "realtime.sh: $p (lake $lake)" >&2
	sh -c "$p"
	;;
gold)
	trap 'exit 0' INT TERM
	while :; do
		ps-gold --catch-up -q >/dev/null || [ $? -eq 75 ] || exit
		sleep "${PS_GOLD_INTERVAL:-10}"
	done
	;;
catch-up)
	process --exit-at-end
	;;
local)
	n=${2:-20000}
	export PS_KAFKA_DIR=${PS_KAFKA_DIR:-$top/build/realtime-kafka}
	"$top/scripts/kafka.sh" start
	eval "$("$top/scripts/kafka.sh" env)"
	trap '"$top/scripts/kafka.sh" stop' EXIT
	export PS_BROKERS="$PS_KAFKA_BROKERS"
	mkdir -p "$lake"
	"$top/scripts/kafka.sh" topic "$topic" 4
	"$0" produce --count "$n" --seed 7
	process --exit-at-end >"$lake/.realtime-out.ndjson"
	echo "landed in bronze: $(find "$lake/bronze" -name 'part-*.ndjson.gz' \
		-exec zcat {} + | wc -l) events from topic $topic"
	;;
*)
	sed -n '2,41p' "$0" | sed 's/^# \{0,1\}//'
	exit 64
	;;
esac

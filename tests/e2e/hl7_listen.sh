#!/bin/bash
# ps-hl7 listen end to end with a real MLLP client (python-hl7's, from
# PyPI through scripts/pyenv.sh): ps-simulate --format hl7 messages over
# several connections; the listener is SIGKILLed twice mid-stream and
# restarted on the same port, the sender retransmits what was not
# acknowledged.  Every acknowledged message is in bronze exactly once and
# byte for byte, nothing unacknowledged was lost (the sender got an ACK
# for every message in the end), SIGTERM ends the listener with 0, and
# silver and gold built from that lake equal those of a clean run.
. "$(dirname "$0")/../lib.sh"
N=${HL7_LISTEN_N:-2000}
CONNS=4
. "$TOP/tests/e2e/hl7_lib.inc"
map=$TOP/examples/hl7/map.ndjson
NOW=2025-02-01T00:00:00Z

ps-simulate -q -m realistic --seed 11 --count "$N" --dirty none \
	--format hl7 >"$TMPD/msgs"

# A clean run: every message once, no kill.
start "$TMPD/clean"
"$py" "$send" send "$TMPD/msgs" "$TMPD/clean.port" "$TMPD/clean.acked" \
	"$CONNS" >"$TMPD/clean.sender" 2>&1
sender_rc=$?
stop
check 'clean run: the sender got an AA for every message' \
	"test $sender_rc -eq 0 && test \$(sort -u '$TMPD/clean.acked' | wc -l) -eq $N"
check 'SIGTERM: the listener commits and exits 0' "test $term_rc -eq 0"

# The crash run: SIGKILL twice while the sender is busy.
start "$TMPD/lake"
: >"$TMPD/lake.acked"
port=$(cat "$TMPD/lake.port")
"$py" "$send" send "$TMPD/msgs" "$TMPD/lake.port" "$TMPD/lake.acked" \
	"$CONNS" >"$TMPD/lake.sender" 2>&1 &
spid=$!
kills=0
for k in 1 2; do
	# wait until a share of the messages is acknowledged, then kill
	want=$((N * k / 3))
	for _ in $(seq 600); do
		[ "$(wc -l <"$TMPD/lake.acked" 2>/dev/null || echo 0)" -ge "$want" ] &&
			break
		sleep 0.05
	done
	kill -9 "$pid" && kills=$((kills + 1))
	wait "$pid" 2>/dev/null
	sleep 0.3
	start "$TMPD/lake" "$port"
done
wait "$spid"
sender_rc=$?
stop
cat "$TMPD/lake.sender"
check "crash run: $kills kills, then an AA for every message" \
	"test $kills -eq 2 && test $sender_rc -eq 0 &&
	 test \$(sort -u '$TMPD/lake.acked' | wc -l) -eq $N"
check 'the sender had to retransmit' \
	"grep -q ' [1-9][0-9]* retransmits' '$TMPD/lake.sender'"
check 'SIGTERM after the crashes: exit 0' "test $term_rc -eq 0"

# bronze: each message once, byte for byte (payloads in message order)
check 'bronze holds every acknowledged message exactly once' \
	"bronze_ids '$TMPD/lake' >'$TMPD/ids' &&
	 sort -u '$TMPD/lake.acked' | cmp - '$TMPD/ids'"
check 'bronze payloads are the messages as sent, byte for byte' \
	"'$py' - '$TMPD/msgs' '$TMPD/lake' <<'EOF'
import glob, gzip, json, sys
sent = set(m.split('\r')[0] and m for m in
           open(sys.argv[1], newline='').read().split('\n') if m)
got = [json.loads(l)['payload']
       for f in glob.glob(sys.argv[2] + '/bronze/*/*/*.gz')
       for l in gzip.open(f, 'rt', newline='')]
assert len(got) == len(sent), (len(got), len(sent))
assert set(got) == sent
EOF"
check 'bronze positions of the mllp source are 0..N-1' \
	"find '$TMPD/lake/bronze' -name '*.gz' | xargs zcat |
	 jq -r .position | sort -n | uniq | wc -l | grep -qx $N"

# silver and gold from the lake equal those of the clean run
for l in clean lake; do
	ps-silver -q -L "$TMPD/$l" --format hl7 --map "$map" --catch-up \
		--now "$NOW" \
		</dev/null >/dev/null 2>"$TMPD/$l.silver.err"
	ps-silver --dump "$TMPD/$l/silver" | jq -c 'del(.source, .position,
		.ingest_time)' | sort >"$TMPD/$l.silver"
	ps-gold -q -L "$TMPD/$l" --catch-up --now "$NOW" </dev/null \
		>"$TMPD/$l.gold" 2>"$TMPD/$l.gold.err"
done
check 'silver: every message became a clean record' \
	"test \$(wc -l <'$TMPD/clean.silver') -eq $N"
check 'silver after the crashes equals the clean run' \
	"cmp '$TMPD/clean.silver' '$TMPD/lake.silver'"
check 'gold after the crashes equals the clean run' \
	"test -s '$TMPD/clean.gold' && cmp '$TMPD/clean.gold' '$TMPD/lake.gold'"
done_testing

#!/bin/sh
# The lake protocol between stages (issue 10, items 1, 3 and 4; see
# pulsestream(7), "The lake protocol"):
#   - one writer per (stage, stream): a second ps-bronze, ps-silver or
#     ps-gold exits 75 naming the holder's PID, so a cron catch-up next to
#     a live pipeline doubles nothing; pipelines/batch.sh skips busy stages;
#   - ps-silver never removes ps-bronze's quarantine;
#   - ps-gold reads only the silver files that silver's commit point covers
#     (a batch being committed is not half applied).
. "$(dirname "$0")/../lib.sh"
T=2026-06-01T00:00:00Z		# ingest time of every envelope
NOW=2026-03-01T12:00:00Z	# the gold clock
cd "$TMPD" || exit 1

# The (source, position) of every silver row, sorted.
silver_keys() {
	ps-silver --dump "$1/silver/admissions" |
		jq -r '"\(.source) \(.position)"' | sort
}

# Wait (up to 10 s) until process $2 holds the lock of stage $1 in lake $3.
wait_lock() {
	i=0
	while [ "$(cat "$3/_state/$1/.admissions.lock" 2>/dev/null)" != "$2" ]; do
		i=$((i + 1))
		[ $i -lt 100 ] || return 1
		sleep 0.1
	done
}

ps-simulate -m realistic --count 20000 --seed 3 \
	--start 2026-01-01T00:00:00Z >ev.ndjson 2>/dev/null
ps-bronze -L R --ingest-time $T <ev.ndjson 2>/dev/null |
	ps-silver -L R 2>/dev/null | ps-gold -L R --now $NOW >/dev/null 2>&1
gold_snapshot R ref.snap
silver_keys R >ref.keys

# --- item 3: two writers of one stream ---------------------------------

ps-bronze -L W --ingest-time $T <ev.ndjson >env.ndjson 2>/dev/null
mkfifo sf gf bf
ps-silver -L W --no-catch-up --flush-records 3000 <sf >silver.out 2>silver.err &
spid=$!
exec 3>sf
head -n 10000 env.ndjson >&3

check 'a cron catch-up next to a live ps-silver exits 75 naming its PID' '
	wait_lock ps-silver $spid W || echo "live silver took no lock"
	ps-silver -L W --catch-up --lock-wait 0.5 -n 2>cu.err
	rc=$?; cat cu.err
	[ $rc -eq 75 ] && grep -q "(PID $spid)" cu.err'

ps-gold -L W --now $NOW --no-catch-up <gf >/dev/null 2>gold.err 3>&- &
gpid=$!
exec 4>gf
ps-bronze -L W --ingest-time $T <bf >/dev/null 2>bronze.err 3>&- 4>&- &
bpid=$!
exec 5>bf

check 'a second ps-gold and a second ps-bronze exit 75 too' '
	wait_lock ps-gold $gpid W && wait_lock ps-bronze $bpid W &&
	{ ps-gold -L W --now $NOW --catch-up --lock-wait 0 2>g2.err
	  [ $? -eq 75 ]; } && grep -q "(PID $gpid)" g2.err &&
	{ ps-bronze -L W --lock-wait 0 <ev.ndjson 2>b2.err; [ $? -eq 75 ]; } &&
	grep -q "(PID $bpid)" b2.err'

check 'pipelines/batch.sh skips the busy stages and exits 0' '
	PS_BIN="$BIN" "$TOP/pipelines/batch.sh" W 2>batch.err; rc=$?
	cat batch.err; [ $rc -eq 0 ] &&
	grep -q "ps-silver is busy" batch.err &&
	grep -q "ps-gold is busy" batch.err'

exec 5>&-
check 'a writer that waits gets the lock when the holder exits' '
	ps-bronze -L W --ingest-time $T --lock-wait 20 -n <ev.ndjson 2>b3.err &&
	grep -q "skipped=20000" b3.err'

tail -n +10001 env.ndjson >&3
exec 3>&-
wait $spid
cat silver.out >&4
exec 4>&-
wait $gpid

check 'live silver and gold next to the catch-ups: no row doubled, equal to one run' '
	silver_keys W >w.keys && [ -z "$(uniq -d w.keys)" ] &&
	cmp ref.keys w.keys &&
	gold_snapshot W w.snap && cmp ref.snap w.snap'

# --- item 1: silver and bronze share the quarantine area ---------------

check 'ps-silver leaves the quarantine of ps-bronze alone' '
	{ head -n 3 ev.ndjson; head -c 3000 /dev/zero | tr "\0" x; echo;
	  sed -n 4,10p ev.ndjson; } >q.ndjson &&
	ps-bronze -L Q --ingest-time $T --max-line-bytes 1000 <q.ndjson \
		2>/dev/null | ps-silver -L Q -n 2>/dev/null &&
	ls Q/quarantine/admissions/date=*/part-bronze-* >q.before &&
	[ $(wc -l <q.before) -eq 1 ] &&
	ps-silver -L Q --catch-up -n 2>s2.err &&
	ps-silver -L Q --input events -n <q.ndjson 2>s3.err &&
	ls Q/quarantine/admissions/date=*/part-bronze-* >q.after &&
	cmp q.before q.after &&
	[ $(zcat $(cat q.after) | wc -l) -eq 1 ]'

# --- item 4: gold started while silver commits -------------------------

check 'ps-gold started in the middle of a silver commit skips nothing' '
	head -n 10000 ev.ndjson >a.ndjson &&
	ps-bronze -L M --ingest-time $T -n <a.ndjson 2>/dev/null &&
	ps-silver -L M --catch-up -n 2>/dev/null &&
	cp M/_state/ps-silver/admissions.dedup . &&
	ls M/silver/admissions/_delta_log >log1 &&
	ps-bronze -L M --ingest-time $T -n <ev.ndjson 2>/dev/null &&
	ps-silver -L M --catch-up -n --flush-records 1000000 2>/dev/null &&
	ls M/silver/admissions/*/part-stdin_admissions-00000000000000010000-* \
		>batch2 && [ $(wc -l <batch2) -gt 5 ] &&
	cp admissions.dedup M/_state/ps-silver/ &&
	ls M/silver/admissions/_delta_log | comm -13 log1 - >log2 &&
	[ $(wc -l <log2) -eq 1 ] &&
	rm M/silver/admissions/_delta_log/$(cat log2) $(tail -n +2 batch2) &&
	ps-gold -L M --now $NOW --catch-up >/dev/null 2>g1.err &&
	ps-silver -L M --catch-up -n 2>s.err &&
	ps-gold -L M --now $NOW --catch-up >/dev/null 2>g2.err &&
	gold_snapshot M m.snap && cmp ref.snap m.snap'

done_testing

#!/bin/sh
# Interleavings of adjacent stages (issue 10; pulsestream(7), "What a
# reader sees").  A writer of a test build (build/test-bin, lib/stage.c
# with PS_TEST_HOOKS) stops itself with SIGSTOP between two renames of a
# commit, or just before its commit point, while the next stage (or
# ps-upload) starts and reads the lake; then it goes on.  Then single
# stages of a live pipeline are killed with SIGKILL at random moments and
# the pipeline restarted as the man pages say.  Every lake must end equal
# to an uninterrupted run.
. "$(dirname "$0")/../lib.sh"
need_test_builds ps-bronze ps-silver ps-gold
T=2026-06-01T00:00:00Z
NOW=2026-03-01T12:00:00Z
cd "$TMPD" || exit 1


silver_rows() {
	ps-silver --dump "$1/silver/admissions" | sort
}

# Two sources (a commit of bronze renames one file per source).
ps-simulate -m realistic --count 12000 --seed 9 \
	--start 2026-01-01T00:00:00Z 2>/dev/null |
	jq -c -R --arg t $T '{source: ("kafka:adm/" +
		(input_line_number % 2 | tostring)),
		position: (input_line_number / 2 | floor), ingest_time: $t,
		payload: .}' >env.ndjson
ps-bronze --input envelopes -L R <env.ndjson 2>/dev/null | ps-silver -L R 2>/dev/null |
	ps-gold -L R --now $NOW >/dev/null 2>&1
silver_rows R >ref.rows
gold_snapshot R ref.snap

# bronze -> silver: silver catches up while bronze is inside a commit.
for point in file:3 file:4 state:2 commit:2 emit:2; do
	check "bronze stopped at $point while ps-silver catches up" '
		rm -rf L &&
		PS_TEST_STOP=ps-bronze:$point "$TB/ps-bronze" --input envelopes -L L \
			--flush-records 2000 <env.ndjson >/dev/null 2>b.err &
		bp=$!
		wait_stopped $bp || { kill -9 $bp; exit 1; }
		grep -q "test hook: stopped" b.err &&
		ps-silver -L L --catch-up -n 2>s1.err &&
		kill -CONT $bp && wait $bp &&
		ps-silver -L L --catch-up -n 2>s2.err &&
		silver_rows L >l.rows && cmp ref.rows l.rows ||
		{ tail -n 3 b.err s1.err s2.err; false; }'
done

# silver -> gold, and silver -> ps-upload: both read while silver is
# inside a commit of many files.
ps-bronze --input envelopes -L B -n <env.ndjson 2>/dev/null
for point in file:3 file:25 state:2 commit:2; do
	check "silver stopped at $point while ps-gold catches up and ps-upload lists" '
		rm -rf L && cp -r B L &&
		PS_TEST_STOP=ps-silver:$point "$TB/ps-silver" -L L --catch-up \
			-n --flush-records 3000 2>s.err &
		sp=$!
		wait_stopped $sp || { kill -9 $sp; exit 1; }
		ps-gold -L L --now $NOW --catch-up >/dev/null 2>g1.err &&
		PS_BLOB_KEY=AAAA ps-upload -L L --dry-run \
			--to https://acct.blob.core.windows.net/cont >up.out \
			2>up.err &&
		jq -r "select(.path | startswith(\"silver/\") and (contains(\"/_delta_log/\") | not)) | .path" up.out |
			sort >up.silver &&
		cp=$("$TOP/tests/silver_positions.sh" L) &&
		(cd L && find silver -name "part-*.parquet") | sort |
		while read -r f; do
			n=${f##*/}; n=${n%.parquet}; last=${n##*-}
			src=kafka:adm/${n#part-kafka_adm_}; src=${src%%-*}
			pos=$(echo "$cp" | jq ".\"$src\" // -1")
			last=$(echo "$last" | sed "s/^0*//")
			if [ "${last:-0}" -le "$pos" ]; then echo "$f"; fi
		done >covered &&
		cmp covered up.silver &&
		[ $(wc -l <up.silver) -lt $( (cd L && find silver -name "part-*.parquet") | wc -l) ] &&
		kill -CONT $sp && wait $sp &&
		ps-gold -L L --now $NOW --catch-up >/dev/null 2>g2.err &&
		gold_snapshot L l.snap && cmp ref.snap l.snap ||
		{ tail -n 3 s.err g1.err up.err g2.err; false; }'
done

# Single stages killed (SIGKILL, not the whole pipeline) at random moments;
# restart: the same pipeline again (ps-bronze(1): replay the input).

slow() { awk '{ print } NR % 400 == 0 { fflush(); system("sleep 0.04") }' env.ndjson; }

# A live pipeline, and cron catch-ups of silver and gold again and again
# on the same lake, before, during and after it: each run either takes the
# lock (a live stage that starts meanwhile waits for it) or exits 75;
# nothing is doubled or lost.
check "a live pipeline with repeated --catch-up runs of silver and gold" '
	rm -rf C &&
	head -n 6000 env.ndjson | ps-bronze --input envelopes -L C -n 2>/dev/null &&
	{ for i in $(seq 20); do
		ps-silver -L C --catch-up -n --lock-wait 0 2>/dev/null
		echo "silver $?"
		ps-gold -L C --now $NOW --catch-up --lock-wait 0 \
			>/dev/null 2>&1
		echo "gold $?"
		sleep 0.15
	  done >cron.out & } &&
	cron=$! && sleep 0.5 &&
	slow | ps-bronze --input envelopes -L C 2>/dev/null | ps-silver -L C 2>/dev/null |
		ps-gold -L C --now $NOW >/dev/null 2>&1 &&
	wait $cron &&
	sort cron.out | uniq -c &&
	! grep -qvE " (0|75)$" cron.out && grep -q " 0$" cron.out &&
	ps-silver -L C --catch-up -n 2>/dev/null &&
	ps-gold -L C --now $NOW --catch-up >/dev/null 2>&1 &&
	silver_rows C >c.rows && cmp ref.rows c.rows &&
	gold_snapshot C c.snap && cmp ref.snap c.snap'

mkfifo p1 p2 p3
for victim in bronze silver gold silver gold bronze; do
	check "ps-$victim killed alone at a random moment, pipeline restarted" '
		rm -rf K &&
		{ slow >p1 2>/dev/null & } &&
		{ ps-bronze --input envelopes -L K <p1 >p2 2>/dev/null & bronze=$!; } &&
		{ ps-silver -L K <p2 >p3 2>/dev/null & silver=$!; } &&
		{ ps-gold -L K --now $NOW <p3 >/dev/null 2>&1 & gold=$!; } &&
		sleep 0.$(( $(od -An -N2 -tu2 /dev/urandom) % 9 + 1 )) &&
		eval "kill -KILL \$$victim"; wait
		ps-bronze --input envelopes -L K <env.ndjson 2>/dev/null | ps-silver -L K 2>/dev/null |
			ps-gold -L K --now $NOW >/dev/null 2>&1 &&
		silver_rows K >k.rows && cmp ref.rows k.rows &&
		gold_snapshot K k.snap && cmp ref.snap k.snap'
done

done_testing

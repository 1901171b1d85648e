#!/bin/sh
# A SIGTERM or SIGINT that a live stage catches while it is inside a commit
# (pulsestream(7): every long-running tool stops cleanly) ends the stage
# once that commit is complete, also when its input then stays open and
# idle: the stop is not lost between the check of the flag and the wait
# for input (lib/cli.h, ps_poll_stop).  A test build (build/test-bin,
# PS_TEST_STOP, lib/stage.h) stops itself inside its first commit; the
# test sends the signal, then SIGCONT, while it keeps the FIFO of the
# stage's input open with nothing more to read.  The stage must exit 0
# within 10 s with the commit complete: its lake equals a reference run's.
. "$(dirname "$0")/../lib.sh"
need_test_builds ps-bronze ps-silver ps-gold
T=2026-06-01T00:00:00Z
NOW=2026-03-01T12:00:00Z
cd "$TMPD" || exit 1

ps-simulate -m realistic --count 3000 --seed 5 \
	--start 2026-01-01T00:00:00Z >events.ndjson 2>/dev/null
ps-bronze -L S --ingest-time $T <events.ndjson >env.ndjson 2>/dev/null
ps-silver -L S <env.ndjson >clean.ndjson 2>/dev/null
cp -r S C && ps-gold -L C --now $NOW --catch-up >/dev/null 2>&1
gold_snapshot C ref.snap
ps-silver --dump S/silver/admissions | sort >ref.rows
sort env.ndjson >ref.env

# ended PID: wait until PID has ended (10 s at most, then kill it and
# fail); its exit status is returned.
ended() {
	i=0
	while s=$(cut -d' ' -f3 /proc/$1/stat 2>/dev/null) && [ "$s" != Z ]; do
		i=$((i + 1))
		[ $i -lt 100 ] || { echo "process $1 still running after 10 s"; kill -9 $1; wait $1; return 1; }
		sleep 0.1
	done
	wait $1
}

# stop_in_commit SIG POINT TOOL ARGS...: TOOL (the test build) reads the
# FIFO in, which this shell keeps open on fd 3 (a FIFO's reader waits in
# open until a writer comes: the tool is started first); the input, all
# of it one commit (the caller's --commit-records or --flush-records),
# is written; the tool stops at POINT of that commit, gets SIG, goes on,
# and must end with status 0.  Its stdout in out, its stderr in err.
stop_in_commit() {
	sig=$1 point=$2 tool=$3 input=$4
	shift 4
	rm -f in && mkfifo in || return 1
	PS_TEST_STOP=$tool:$point "$TB/$tool" "$@" <in >out 2>err &
	pid=$!
	exec 3>in
	cat "$input" >&3
	wait_stopped $pid || { exec 3>&-; kill -9 $pid; return 1; }
	grep -q "test hook: stopped" err &&
	kill -$sig $pid && kill -CONT $pid &&
	ended $pid
	rc=$?
	exec 3>&-
	[ $rc -eq 0 ] || { echo "$tool exited $rc"; tail -n 5 err; return 1; }
}

check 'ps-gold: SIGTERM in a live commit with --now, input idle: the commit completes, exit 0' '
	n=$(wc -l <clean.ndjson) &&
	stop_in_commit TERM data:1 ps-gold clean.ndjson -L G --now $NOW \
		--no-catch-up --commit-records $n --commit-interval 3600 &&
	grep -q "commits=1 " err &&
	gold_snapshot G g.snap && cmp ref.snap g.snap'

check 'ps-silver: SIGINT in a commit, input idle: the commit completes, exit 0' '
	n=$(wc -l <env.ndjson) &&
	stop_in_commit INT commit:1 ps-silver env.ndjson -L V --no-catch-up \
		--flush-records $n --flush-interval 3600 &&
	ps-silver --dump V/silver/admissions | sort >v.rows &&
	cmp ref.rows v.rows'

check 'ps-bronze: SIGTERM in a commit, input idle: the commit completes, exit 0' '
	n=$(wc -l <events.ndjson) &&
	stop_in_commit TERM commit:1 ps-bronze events.ndjson -L B \
		--ingest-time $T --flush-records $n --flush-interval 3600 &&
	sort out >b.env && cmp ref.env b.env'

done_testing

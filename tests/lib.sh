# Shell test helpers (after git's test-lib): source it, call check for each
# case, finish with done_testing.
#   check 'title' 'commands that exit 0 on success'
# BIN is the directory of the tools; TMPD a fresh temporary directory that
# is removed at exit (add your own cleanup with at_exit 'cmd').
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${PS_BIN:-$TOP/bin}
PATH=$BIN:$PATH
export LC_ALL=C PS_LOG_TS=0 PATH
TMPD=$(mktemp -d)
_exit_cmds="rm -rf '$TMPD'"
_pass=0
_fail=0
at_exit() { _exit_cmds="$1; $_exit_cmds"; trap "$_exit_cmds" EXIT; }
trap "$_exit_cmds" EXIT

check() {
	if (eval "$2") >"$TMPD/.out" 2>&1; then
		_pass=$((_pass + 1))
		echo "ok - $1"
	else
		_fail=$((_fail + 1))
		echo "FAIL - $1"
		sed 's/^/    /' "$TMPD/.out" | tail -n 20
	fi
}

# gold_snapshot LAKE FILE: every gold table of LAKE (its latest Delta
# version) as sorted NDJSON in FILE ("== table" before each table), the
# table names in FILE.files; fails when there is no table.
gold_snapshot() {
	(cd "$1/gold" && ls -d */_delta_log | sed 's,/_delta_log$,,' | sort) >"$2.files"
	for t in $(cat "$2.files"); do
		echo "== $t"
		ps-silver --dump "$1/gold/$t" | sort
	done >"$2"
	[ -s "$2.files" ]
}

# add_cancels: events on stdin, to stdout with the cancels of a hospital
# feed added (HL7 A11, A13): a CANCEL_ADMIT at the event time of every
# 29th line's ADMIT or ARRIVAL (cancels win ties; an ARRIVAL's later ADMIT
# admits again), a CANCEL_DISCHARGE at that of every 23rd's DISCHARGE.
add_cancels() {
	jq -c '., (if (.event_type == "ADMIT" or .event_type == "ARRIVAL")
		and input_line_number % 29 == 0 then
		. + {event_type: "CANCEL_ADMIT",
		     event_id: "\(.event_id)-a11"}
	elif .event_type == "DISCHARGE" and input_line_number % 23 == 0 then
		. + {event_type: "CANCEL_DISCHARGE",
		     event_id: "\(.event_id)-a13", discharge_time: null}
	else empty end)'
}

# The test builds of the lake writers (make build/test-bin/TOOL): lib/stage.h's
# PS_TEST_STOP pause points.  need_test_builds TOOL...: ends the suite
# (one FAIL line) when one of them is missing.
TB=$TOP/build/test-bin
need_test_builds() {
	for _t in "$@"; do
		[ -x "$TB/$_t" ] || { echo "FAIL - $TB/$_t missing (make $TB/$_t)"; exit 1; }
	done
}

# wait_stopped PID: wait (up to 20 s) until process PID is stopped by a
# test hook (PS_TEST_STOP, lib/stage.h: it stops itself with SIGSTOP).
wait_stopped() {
	i=0
	while [ "$(cut -d' ' -f3 /proc/$1/stat 2>/dev/null)" != T ]; do
		i=$((i + 1))
		[ $i -lt 200 ] || { echo "process $1 never reached the hook"; return 1; }
		sleep 0.1
	done
}

done_testing() {
	echo "$(basename "$0"): $_pass passed, $_fail failed"
	[ "$_fail" -eq 0 ]
}

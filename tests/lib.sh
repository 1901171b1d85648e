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

# gold_snapshot LAKE FILE: every gold table of LAKE as sorted NDJSON in
# FILE ("== path" before each table), their paths in FILE.files; fails
# when there is no table.
gold_snapshot() {
	(cd "$1/gold" && find . -name '*.parquet' | sort) >"$2.files"
	for f in $(cat "$2.files"); do
		echo "== $f"
		ps-silver --dump "$1/gold/$f" | sort
	done >"$2"
	[ -s "$2.files" ]
}

done_testing() {
	echo "$(basename "$0"): $_pass passed, $_fail failed"
	[ "$_fail" -eq 0 ]
}

# lake-env.sh - sourced by the cron pipelines (batch.sh, maintenance.sh):
# put the ps-* tools on PATH ($PS_BIN, else this repository's bin/ when
# built, else PATH as it is) and take the lake from $1 or $PS_LAKE into
# $lake, exiting 64 when there is none and 66 when it does not exist.
# The caller sets $me (its name, for messages) before sourcing.
top=$(cd "$(dirname "$0")/.." && pwd)
if [ -n "${PS_BIN:-}" ]; then
	PATH=$PS_BIN:$PATH
elif [ -d "$top/bin" ]; then
	PATH=$top/bin:$PATH
fi
export PATH

lake=${1:-${PS_LAKE:-}}
if [ -z "$lake" ]; then
	echo "$me: no lake: give LAKE or set PS_LAKE" >&2
	exit 64
fi
if [ ! -d "$lake" ]; then
	echo "$me: lake $lake does not exist" >&2
	exit 66
fi

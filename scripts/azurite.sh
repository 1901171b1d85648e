#!/bin/sh
# Azurite (the Azure Storage emulator, npm package "azurite") for tests and
# benchmarks: blob service only, in memory, telemetry off, on a free
# 127.0.0.1 port.
#
#   eval "$(scripts/azurite.sh start [DIR])"   start, wait until it answers,
#                                             print shell assignments
#   scripts/azurite.sh env [DIR]               print them again
#   scripts/azurite.sh stop [DIR]              stop it (waits for the exit)
#   scripts/azurite.sh install                 only install the package
#
# DIR holds the run state (pid, port, log); it defaults to $AZURITE_STATE,
# and for start to a new temporary directory.  stop removes DIR when start
# created it.  AZURITE_PORT=N makes start use port N (to restart on the
# port an earlier instance had).  The package is installed with npm into
# ${PS_CACHE:-$HOME/.cache/pulsestream}/azurite.
#
# The assignments printed: AZURITE_STATE, AZURITE_PID, AZURITE_PORT,
# AZURITE_ACCOUNT, AZURITE_KEY (the well-known, published development
# account key: not a secret), AZURITE_BLOB_URL (the account URL, path
# style: http://127.0.0.1:PORT/devstoreaccount1).
set -eu
. "$(dirname "$0")/service.inc"

cache=${PS_CACHE:-${HOME:-/tmp}/.cache/pulsestream}/azurite
version=3.37.0
account=devstoreaccount1
key='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='

die() {
	echo "azurite.sh: $*" >&2
	exit 1
}

install() {
	bin=$cache/node_modules/.bin/azurite-blob
	[ -x "$bin" ] && return 0
	command -v npm >/dev/null 2>&1 || die "npm not found (scripts/deps.sh installs it)"
	mkdir -p "$cache"
	echo "azurite.sh: installing azurite@$version into $cache" >&2
	npm install --prefix "$cache" --no-audit --no-fund --loglevel=error \
		"azurite@$version" >&2 || die "npm install azurite failed"
	[ -x "$bin" ] || die "npm install did not provide $bin"
}

free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# 0 when something answers HTTP on 127.0.0.1:$1.
answers() {
	curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$1/$account?comp=list"
}

print_env() {
	d=$1
	[ -f "$d/pid" ] || die "no Azurite state in $d"
	port=$(cat "$d/port")
	cat <<EOF
AZURITE_STATE='$d'
AZURITE_PID=$(cat "$d/pid")
AZURITE_PORT=$port
AZURITE_ACCOUNT=$account
AZURITE_KEY='$key'
AZURITE_BLOB_URL=http://127.0.0.1:$port/$account
export AZURITE_STATE AZURITE_PID AZURITE_PORT AZURITE_ACCOUNT AZURITE_KEY AZURITE_BLOB_URL
EOF
}

start() {
	install
	d=${1:-${AZURITE_STATE:-}}
	if [ -z "$d" ]; then
		d=$(mktemp -d "${TMPDIR:-/tmp}/azurite.XXXXXX")
		: >"$d/owned"
	fi
	mkdir -p "$d"
	if [ -f "$d/pid" ] && kill -0 "$(cat "$d/pid")" 2>/dev/null; then
		die "already running in $d (pid $(cat "$d/pid"))"
	fi
	port=${AZURITE_PORT:-}
	tries=0
	while :; do
		[ -n "$port" ] || port=$(free_port)
		# Blob service only, in memory, loopback only, no telemetry.
		# Not --loose: unsupported headers must be errors.  Not
		# --skipApiVersionCheck: our x-ms-version is supported.
		(cd "$d" && exec node \
			"$cache/node_modules/azurite/dist/src/blob/main.js" \
			--blobHost 127.0.0.1 --blobPort "$port" \
			--inMemoryPersistence --disableTelemetry) \
			>"$d/log" 2>&1 </dev/null &
		pid=$!
		i=0
		while [ $i -lt 300 ]; do
			if answers "$port"; then
				echo "$pid" >"$d/pid"
				echo "$port" >"$d/port"
				print_env "$d"
				return 0
			fi
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
			i=$((i + 1))
		done
		kill "$pid" 2>/dev/null || :
		wait "$pid" 2>/dev/null || :
		tries=$((tries + 1))
		# A port taken between the probe and the bind: try another one,
		# unless the caller asked for this port.
		if [ -n "${AZURITE_PORT:-}" ] || [ $tries -ge 3 ]; then
			cat "$d/log" >&2
			die "Azurite did not start on 127.0.0.1:$port"
		fi
		port=""
	done
}

stop() {
	d=${1:-${AZURITE_STATE:-}}
	[ -n "$d" ] || die "stop: no state directory (give DIR or AZURITE_STATE)"
	stop_service "$d"
}

case ${1:-} in
start) start "${2:-}" ;;
stop) stop "${2:-}" ;;
env) print_env "${2:-${AZURITE_STATE:-}}" ;;
install) install ;;
*)
	echo "usage: scripts/azurite.sh start|stop|env [DIR] | install" >&2
	exit 64
	;;
esac

#!/bin/sh
# Secrets stay out of core dumps (issue 10, item 9): every tool that holds
# an account key, a vault key or a connection string runs with
# RLIMIT_CORE 0 and PR_SET_DUMPABLE off (lib/crypto's
# ps_crypto_protect_process, called where secrets are loaded).  A tool that
# holds no secret (ps-bronze) is the control: the probes tell the two apart.
#
# Probes on the running tool, blocked on its stdin after loading the secret:
# /proc/PID/limits (core size 0) and the owner of /proc/PID/environ (root
# when the process is not dumpable, the tool's own uid when it is).  As
# root the tool runs as nobody (setpriv), so the owner tells.
. "$(dirname "$0")/../lib.sh"
cd "$TMPD"
chmod 755 "$TMPD"

if [ "$(id -u)" = 0 ]; then
	as="setpriv --reuid=65534 --regid=65534 --clear-groups --"
	me=65534
else
	as=
	me=$(id -u)
fi
mkdir -p v lake/bronze
chmod 777 v lake

# start NAME CMD...: run CMD (as $me) reading from fifo NAME.in; its pid
# goes to NAME.pid once it has read its first byte of input.
start() {
	n=$1
	shift
	rm -f "$n.in"
	mkfifo "$n.in"
	( exec 3>"$n.in"; printf 'x' >&3; exec sleep 30 ) &
	echo $! >"$n.holder"
	$as "$@" <"$n.in" >/dev/null 2>"$n.err" &
	echo $! >"$n.pid"
	# until the tool has read the byte: the secret is loaded by then
	i=0
	while [ $i -lt 100 ]; do
		r=$(awk '/^rchar/ {print $2}' /proc/$(cat "$n.pid")/io 2>/dev/null)
		[ "${r:-0}" -ge 1 ] && break
		sleep 0.05
		i=$((i + 1))
	done
	# /proc/PID/io goes root-only with dumpable off: wait a fixed time too
	sleep 0.3
}
# SIGKILL: ps-ingest would otherwise wait for its (absent) broker
stop() {
	kill -9 "$(cat "$1.pid")" 2>/dev/null
	wait "$(cat "$1.pid")" 2>/dev/null
	kill "$(cat "$1.holder")" 2>/dev/null
	rm -f "$1.pid" "$1.holder"
}
core_limit() { awk '/^Max core file size/ {print $5 "/" $6}' /proc/$(cat "$1.pid")/limits; }
environ_owner() { stat -c %u /proc/$(cat "$1.pid")/environ; }
protected() {
	l=$(core_limit "$1") o=$(environ_owner "$1")
	echo "core=$l environ_owner=$o"
	[ "$l" = 0/0 ] && [ "$o" = 0 ]
}
at_exit 'for f in *.pid *.holder; do [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null; done'

start bronze ps-bronze -q -n -L "$TMPD/lake/b"
check 'control: ps-bronze (no secret) stays dumpable' '
	l=$(core_limit bronze) o=$(environ_owner bronze)
	echo "core=$l environ_owner=$o"; [ "$o" = "$me" ]'
stop bronze

start upload env PS_BLOB_KEY=AAAA ps-upload -L "$TMPD/lake" \
	--to https://acct.blob.core.windows.net/cont --dry-run --stdin
check 'ps-upload holding an account key: no core, not dumpable' \
	'protected upload'
stop upload

start vault env PS_VAULT="file:$TMPD/v/s.vault" \
	PS_VAULT_KEY=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f \
	ps-vault put name
check 'ps-vault put holding the vault key: no core, not dumpable' \
	'protected vault'
stop vault

start ingest env PS_EVENTHUBS_CONNECTION_STRING='Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=c2VjcmV0' \
	ps-ingest produce -t admissions
check 'ps-ingest holding an Event Hubs connection string: no core, not dumpable' \
	'protected ingest'
stop ingest

done_testing

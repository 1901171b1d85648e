#!/bin/sh
# ps-dash --serve against hostile and careless clients (wrong methods, a
# 100 KB URL, header floods, ".." paths, slow clients, too many
# connections): 4xx or dropped, and the server keeps serving.  /metrics
# parses with the Prometheus client library; /api/kpis.json with jq;
# SIGTERM with streams open ends it cleanly.  All on 127.0.0.1.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/dash_lib.inc"
PY=$("$TOP/scripts/pyenv.sh") || { echo "FAIL - no Python venv"; exit 1; }
cd "$TMPD" || exit 1
cp -R "$TOP/tests/data/dash-lake" lake
NOW=2025-01-01T02:50:54.290655Z

ps-dash -L lake --now "$NOW" --serve 127.0.0.1:0 --max-clients 40 \
	2>dash.err &
pid=$!
at_exit "kill $pid 2>/dev/null"
URL=$(dash_url dash.err)
PORT=$(echo "$URL" | sed 's/.*:\([0-9]*\)\/$/\1/')

"$PY" "$TOP/tests/e2e/dash_abuse.py" "$PORT" lake 40 $pid
abuse=$?
check 'hostile clients: every one refused, the server kept serving' \
	'[ $abuse -eq 0 ]'

check 'without --follow: a gold commit (its checkpoint replaced) is pushed within 2 s' '
	curl -sN -m 3 -H "Last-Event-ID: 1" "${URL}events" >sse.out &
	sleep 0.5
	ck=lake/_state/ps-gold/admissions.json
	cp $ck $ck.tmp && mv $ck.tmp $ck
	wait
	grep -q "^id: 2\$" sse.out && ! grep -q "^id: 1\$" sse.out'

check '/api/kpis.json is JSON with the occupancy table' '
	curl -sf "${URL}api/kpis.json" |
	jq -e ".tables.kpi_occupancy | length > 10"'

# SIGTERM with streams open: the server ends them and exits 0.
for n in 1 2 3 4 5; do curl -sN "${URL}events" >/dev/null 2>&1 & done
sleep 0.3
kill -TERM $pid
i=0
while kill -0 $pid 2>/dev/null && [ $i -lt 20 ]; do sleep 0.1; i=$((i + 1)); done
if kill -0 $pid 2>/dev/null; then st=running; else wait $pid; st=$?; fi
check "SIGTERM with SSE clients connected: exit 0 within 2 s ($st)" '[ "$st" = 0 ]'
done_testing

#!/bin/sh
# ps-dash in a real browser (Debian chromium driven by npm puppeteer-core,
# scripts/puppeteer.sh): the page from file:// and from --serve shows the
# numbers of the gold tables (read independently with pyarrow and DuckDB),
# logs no console error, works without scripts, asks nothing of another
# host, and updates in place within 2 s after ps-gold commits (SSE).
# Screenshots go to build/test-artifacts/dash/.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/dash_lib.inc"
eval "$("$TOP/scripts/puppeteer.sh" env)" || { echo "FAIL - puppeteer-core"; exit 1; }
PY=$("$TOP/scripts/pyenv.sh" delta) || { echo "FAIL - no Python venv"; exit 1; }
ART=$TOP/build/test-artifacts/dash
mkdir -p "$ART"
JS=$TOP/tests/e2e/dash_browser.js
CMP="$PY $TOP/tests/e2e/dash_compare.py"
SQL=$TOP/examples/sql/duckdb
TH=$TOP/examples/thresholds.ndjson
cd "$TMPD" || exit 1

# Realistic events with some dirt, landed in bronze and silver; silver's
# clean records feed gold in two halves.
ps-simulate -q -m realistic --seed 9 --count 6000 --warmup 3 --dirty none \
	--dirty invalid_age=1%,missing_field=1%,duplicate=1%,late=1% >ev.ndjson
NOW=$(tail -n 1 ev.ndjson | jq -r .event_time)
ps-bronze -L lake -q <ev.ndjson | ps-silver -L lake -q >clean.ndjson
n=$(wc -l <clean.ndjson)
head -n $((n / 2)) clean.ndjson >clean_a.ndjson
tail -n +$((n / 2 + 1)) clean.ndjson >clean_b.ndjson
ps-gold -L lake -q --no-catch-up --now "$NOW" --thresholds "$TH" \
	<clean_a.ndjson | ps-dash -L lake -q --follow --now "$NOW" >/dev/null

check 'file:// page: numbers equal the gold tables, no console error, no script needed' '
	node "$JS" static lake/dashboard/index.html static.json "$ART/dash-file.png" &&
	cp static.json "$ART/" &&
	jq -e ".errors == [] and .offsite == []" static.json &&
	jq -e "(.values | length) == .noscript_cells" static.json &&
	$CMP lake static.json "$NOW" "" "$SQL"'

# Live: gold reads the second half when the browser is ready (file go).
# (Each wait is bounded, so nothing is left running when a check fails.)
{
	n=0
	while [ ! -e go ] && [ $n -lt 1200 ]; do sleep 0.05; n=$((n + 1)); done
	cat clean_b.ndjson
	n=0
	while [ ! -e stop ] && [ $n -lt 600 ]; do sleep 0.1; n=$((n + 1)); done
} | ps-gold -L lake -q --no-catch-up --now "$NOW" --thresholds "$TH" \
	--commit-interval 0.2 |
	ps-dash -L lake --follow --now "$NOW" --serve 127.0.0.1:0 \
		>live.out 2>dash.err &
dash_pid=$!
at_exit "touch '$TMPD/stop'; kill $dash_pid 2>/dev/null"
URL=$(dash_url dash.err)

check 'served page updates in place within 2 s of the gold commit (SSE), numbers equal gold' '
	test -n "$URL" &&
	node "$JS" live "$URL" live.json "$ART/dash-live.png" go &&
	cp live.json "$ART/" &&
	jq -e ".errors == [] and .offsite == [] and .reloaded == false" live.json &&
	jq -e ".update_ms < 2000" live.json &&
	jq -e ".before.values != .after.values" live.json &&
	$CMP lake live.json "$NOW" after "$SQL"'

touch stop
check 'ps-dash ends with gold, lines passed through' '
	i=0; while kill -0 $dash_pid 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	! kill -0 $dash_pid 2>/dev/null &&
	grep -q "\"kpi\":\"occupancy\"" live.out'
echo "update latency: $(jq .update_ms live.json 2>/dev/null) ms (go file to page updated)"
done_testing

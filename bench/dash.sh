#!/bin/sh
# ps-dash: (1) the time to write the page from a gold lake of N encounters
# (the original lab's model: one event, one encounter; N = BENCH_EVENTS,
# default 1,000,000).  Anchor: DuckDB (Python) computing the same
# aggregates from the same Parquet files (hourly admissions and census over
# 7 days, waiting and length of stay quantiles per department, the seven
# views).  (2) --serve with 200 concurrent SSE clients on loopback while
# ps-gold commits every second (realistic events, paced): push latency from
# each gold commit to every client, p50 and p99 (target p99 < 250 ms), and
# the server's RSS.  BENCH_DASH_SSE_ONLY=1 runs only (2).
. "$(dirname "$0")/lib.sh"
PY=$("$TOP/scripts/pyenv.sh") || { echo "bench: no Python venv" >&2; exit 1; }
L=$BENCH_TMP/dash
T=2031-01-01T00:00:00Z
if [ "${BENCH_DASH_SSE_ONLY:-}" != 1 ]; then
echo "== ps-dash ($N encounters)"
ps-simulate --count "$N" --seed 1 --dirty none 2>/dev/null >"$BENCH_TMP/dash-ev.ndjson"
NOW=$(tail -n 1 "$BENCH_TMP/dash-ev.ndjson" | jq -r .admission_time)
ps-bronze -L "$L" -q --ingest-time $T <"$BENCH_TMP/dash-ev.ndjson" |
	ps-silver -L "$L" -q |
	ps-gold -L "$L" -q --no-kpi --now "$NOW" \
		--thresholds "$TOP/examples/thresholds.ndjson" >/dev/null
rm -f "$BENCH_TMP/dash-ev.ndjson"
cat >"$BENCH_TMP/dash_duckdb.py" <<'EOF'
import sys, duckdb
lake, now = sys.argv[1], sys.argv[2]
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
con.execute(f"""CREATE VIEW f AS SELECT * FROM
    read_parquet('{lake}/gold/fact_patient_flow/*/*.parquet', hive_partitioning = false)""")
con.execute(f"CREATE VIEW p AS SELECT * FROM read_parquet('{lake}/gold/dim_patient/*.parquet')")
n = f"TIMESTAMPTZ '{now}'"
q = [
 f"""SELECT count(*) FILTER (WHERE admission_time > {n} - INTERVAL 168 HOUR AND admission_time <= {n})
     FROM f GROUP BY floor(epoch({n} - admission_time) / 3600)""",
 f"""SELECT h, count(*) FROM range(168) t(h), f
     WHERE admission_time <= {n} - INTERVAL (h) HOUR
       AND (discharge_time IS NULL OR discharge_time > {n} - INTERVAL (h) HOUR) GROUP BY h""",
 f"""SELECT department, count(waiting_minutes), quantile_cont(waiting_minutes, [0.5, 0.9])
     FROM f WHERE admission_time > {n} - INTERVAL 7 DAY AND admission_time <= {n} GROUP BY 1""",
 f"""SELECT department, count(*), quantile_cont(epoch(discharge_time - admission_time) / 3600, [0.5, 0.9])
     FROM f WHERE discharge_time > {n} - INTERVAL 7 DAY AND discharge_time <= {n} GROUP BY 1""",
 """SELECT gender, department, count(*), count(*) FILTER (WHERE is_currently_admitted),
     count(bed_id), count(*) FILTER (WHERE is_currently_admitted AND bed_id IS NOT NULL),
     avg(length_of_stay_hours), count(*) FILTER (WHERE length_of_stay_hours > 50)
     FROM f JOIN p ON p.patient_key = f.patient_key AND p.is_current
     GROUP BY GROUPING SETS ((gender), (department, gender))""",
 """SELECT gender, count(DISTINCT bed_id) FROM f JOIN p ON p.patient_key = f.patient_key
     AND p.is_current GROUP BY gender""",
]
for s in q:
    con.execute(s).fetchall()
EOF
enc=$("$PY" -c "import duckdb,sys; print(duckdb.sql(\"SELECT count(*) FROM read_parquet('$L/gold/fact_patient_flow/*/*.parquet')\").fetchall()[0][0])")
measure "ps-dash: the page from $enc encounters" "$enc" \
	"ps-dash -L '$L' --now '$NOW' --out '$BENCH_TMP/page.html'"
dash=$RATE
page_secs=$secs
measure "anchor: DuckDB, the same aggregates" "$enc" \
	"'$PY' '$BENCH_TMP/dash_duckdb.py' '$L' '$NOW'"
echo "ps-dash vs DuckDB: $(ratio "$dash" "$RATE") (page written in $page_secs s, $(wc -c <"$BENCH_TMP/page.html") bytes)"
rm -rf "$L"
fi

# (2) SSE push latency, 200 clients, gold committing every second.
M=${BENCH_SSE_EVENTS:-50000}
S=$BENCH_TMP/sse
ps-simulate -m realistic --count "$M" --seed 3 2>/dev/null |
	ps-bronze -L "$S" -q --ingest-time $T | ps-silver -L "$S" -q >"$BENCH_TMP/clean.ndjson"
NOW=$(tail -n 1 "$BENCH_TMP/clean.ndjson" | jq -r '.event_time // .admission_time')
n=$(wc -l <"$BENCH_TMP/clean.ndjson")
head -n $((n - 6000)) "$BENCH_TMP/clean.ndjson" |
	ps-gold -L "$S" -q --no-catch-up --now "$NOW" \
		--thresholds "$TOP/examples/thresholds.ndjson" >/dev/null
# the last 6000 records at 200 a second: 30 s of gold commits
tail -n 6000 "$BENCH_TMP/clean.ndjson" |
	awk '{ print; fflush() } NR % 20 == 0 { system("sleep 0.1") }' |
	ps-gold -L "$S" -q --no-catch-up --now "$NOW" --commit-interval 1 \
		--thresholds "$TOP/examples/thresholds.ndjson" |
	ps-dash -L "$S" --follow --now "$NOW" --serve 127.0.0.1:0 \
		--max-clients 300 >/dev/null 2>"$BENCH_TMP/dash.err" &
pid=$!
. "$TOP/tests/e2e/dash_lib.inc"
URL=$(dash_url "$BENCH_TMP/dash.err")
"$PY" "$TOP/bench/dash_sse.py" "$URL" "$S/_state/ps-gold/admissions.json" \
	"$pid" 200 20
wait $pid
rm -rf "$S" "$BENCH_TMP/clean.ndjson"

#!/bin/sh
# lib/parquet: write 1M simulated events (14 columns: strings, ints,
# timestamps, nullable) to a ZSTD Parquet file with build/tests/pqtool
# (NDJSON parsing included); anchor: pyarrow reading the same NDJSON with
# pyarrow.json and writing the same schema with ZSTD, in the same run.
# Also the writer alone (pqtool synth: same schema, rows made in C, no
# parsing) and the read side (pqtool dump back to NDJSON).
. "$(dirname "$0")/lib.sh"
pqtool=${PQTOOL:-$TOP/build/tests/pqtool}
[ -x "$pqtool" ] || { echo "bench: $pqtool missing (make $pqtool)" >&2; exit 1; }
py=$("$TOP/scripts/pyenv.sh") || exit 1
schema="event_id:string,event_type:string,event_time:timestamp,encounter_id:string,\
patient_id:string,gender:string,age:int32,department:string,hospital_id:int32,\
bed_id:int32,arrival_time:timestamp?,admission_time:timestamp?,\
discharge_time:timestamp?,triage_level:int32?"
in=$BENCH_TMP/pq-events.ndjson

echo "== lib/parquet ($N events, 14 columns, ZSTD)"
ps-simulate -m realistic --count "$N" --seed 1 >"$in" || exit 1
measure "pqtool write (NDJSON -> Parquet zstd)" "$N" \
	"'$pqtool' write '$BENCH_TMP/pq.parquet' --schema '$schema' --codec zstd <'$in'"
ours=$RATE
cat >"$BENCH_TMP/pq_anchor.py" <<'PY'
import sys
import pyarrow as pa
import pyarrow.json as pj
import pyarrow.parquet as pq
ts = pa.timestamp("us", tz="UTC")
s = pa.string()
i = pa.int32()
schema = pa.schema([
    ("event_id", s), ("event_type", s), ("event_time", ts),
    ("encounter_id", s), ("patient_id", s), ("gender", s), ("age", i),
    ("department", s), ("hospital_id", i), ("bed_id", i),
    ("arrival_time", ts), ("admission_time", ts), ("discharge_time", ts),
    ("triage_level", i)])
t = pj.read_json(sys.argv[1], parse_options=pj.ParseOptions(
    explicit_schema=schema, unexpected_field_behavior="ignore"))
pq.write_table(t, sys.argv[2], compression="zstd")
PY
measure "anchor: pyarrow read_json + write_table zstd" "$N" \
	"'$py' '$BENCH_TMP/pq_anchor.py' '$in' '$BENCH_TMP/pa.parquet'"
anchor=$RATE
echo "pqtool write vs pyarrow: $(ratio "$ours" "$anchor")"
ls -l "$BENCH_TMP/pq.parquet" "$BENCH_TMP/pa.parquet" | awk '{ printf "  %-40s %12d bytes\n", $NF, $5 }'
measure "pqtool synth (writer alone, rows made in C)" "$N" \
	"'$pqtool' synth '$BENCH_TMP/synth.parquet' $N --codec zstd"
echo "writer alone vs pyarrow (which includes its JSON parsing): $(ratio "$RATE" "$anchor")"
measure "pqtool dump (Parquet -> NDJSON)" "$N" \
	"'$pqtool' dump '$BENCH_TMP/pq.parquet' >/dev/null"
rm -f "$in" "$BENCH_TMP/synth.parquet" "$BENCH_TMP/pq.parquet" "$BENCH_TMP/pa.parquet" "$BENCH_TMP/pq_anchor.py"

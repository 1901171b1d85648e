#!/bin/sh
# Kafka and bronze (issue 10, items 2 and 3), with a real broker:
#   - a record over the 16 MiB record limit is quarantined by the
#     consume | ps-bronze --input envelopes pipeline at its own offset, with
#     a reason and one warning, and the run goes on; a restart does not
#     fetch it again;
#   - ps-bronze of a test build (build/test-bin) fed by ps-ingest consume
#     stops itself between two renames or before its commit point, ps-silver
#     catches up meanwhile, then both sides are killed and the pipeline is
#     restarted as the man pages say: every event is in bronze and in silver
#     exactly once.
. "$(dirname "$0")/kafka_lib.inc"
TB=$top/build/test-bin
[ -x "$TB/ps-bronze" ] || { echo "$0: $TB/ps-bronze missing (make $TB/ps-bronze)" >&2; exit 1; }
cd "$tmp" || exit 1
NOW=2026-06-02T00:00:00Z
n=6000
big=$((17 * 1024 * 1024))

"$bin/ps-simulate" --count $n --seed 21 --dirty none \
	--start 2026-05-01T00:00:00Z >in.ndjson 2>/dev/null
"$top/scripts/kafka.sh" topic il 2 max.message.bytes=20000000
head -n $((n / 2)) in.ndjson | "$bin/ps-ingest" produce -q -t il -b "$B"
{ printf '{"patient_id":"'; head -c $big /dev/zero | tr '\0' x; printf '"}\n'; } |
	"$top/scripts/kafka.sh" produce il max.request.size=20000000
tail -n $((n / 2)) in.ndjson | "$bin/ps-ingest" produce -q -t il -b "$B"

# (source, position, patient_id) of every silver row of lake $1
rows() { "$bin/ps-silver" --dump "$1/silver/admissions" | jq -r '"\(.source) \(.position) \(.patient_id)"' | sort; }
consume() { "$bin/ps-ingest" consume -t il -b "$B" -G "$2" -L "$1" --exit-at-end; }

# --- item 2: the big record -------------------------------------------
consume R ref 2>c.err | "$bin/ps-bronze" -q -L R --input envelopes -n --flush-records 1000
check "consume | ps-bronze over a record of $big bytes: exit 0" [ $? -eq 0 ]
check "one warning names the record" \
	[ "$(grep -c 'record over the limit' c.err)" -eq 1 ]
find R/quarantine -name 'part-bronze-*' -exec zcat {} + >q.ndjson
got=$(jq -c '[(.source | startswith("kafka:il/")), .reason, .length, .truncated, (.payload | length)]' q.ndjson)
check "it is quarantined at its own offset, with a reason" \
	[ "$got" = "[true,\"record_too_long\",$((big + 17)),true,4096]" ]
[ "$got" = "[true,\"record_too_long\",$((big + 17)),true,4096]" ] ||
	{ echo "# got: $got"; jq -c '[.source, .position, .reason, .detail]' q.ndjson; grep -c 'record over the limit' c.err; }
src=$(jq -r .source q.ndjson)
off=$(jq -r .position q.ndjson)
check "bronze's checkpoint covers it: a restart fetches nothing" \
	sh -c "[ \$(jq '.sources[\"$src\"].position' R/_state/ps-bronze/admissions.json) -ge $off ] &&
	       [ \$(\"$bin/ps-ingest\" consume -t il -b \"$B\" -G ref2 -L R --exit-at-end 2>/dev/null | wc -l) -eq 0 ]"
"$bin/ps-silver" -q -L R --catch-up --now $NOW -n
check "silver catches up: exit 0" [ $? -eq 0 ]
rows R >ref.rows
bronze_envelopes R >bronze
verify bronze in.ndjson
check "bronze holds every event once, beside the quarantined record" passed same
check "silver holds every event once" \
	[ "$(cut -d' ' -f3 ref.rows | sort -u | wc -l) $(wc -l <ref.rows)" = "$n $n" ]

# --- item 3: bronze stopped inside a commit, killed, restarted ----------
# Wait (up to 30 s) until process $1 is stopped by its hook.
wait_stopped() {
	i=0
	while [ "$(cut -d' ' -f3 /proc/$1/stat 2>/dev/null)" != T ]; do
		i=$((i + 1))
		[ $i -lt 300 ] || return 1
		sleep 0.1
	done
}
mkfifo pipe
r=0
for point in file:1 file:4 state:3 commit:2 emit:3; do
	r=$((r + 1))
	rm -rf L
	consume L g$r >pipe 2>/dev/null &
	cp=$!
	PS_TEST_STOP=ps-bronze:$point "$TB/ps-bronze" -L L --input envelopes \
		-n --flush-records 700 <pipe 2>b.err &
	bp=$!
	kids="$cp $bp"
	if wait_stopped $bp && grep -q "test hook: stopped" b.err &&
	   "$bin/ps-silver" -q -L L --catch-up --now $NOW -n; then
		kill -9 $bp $cp 2>/dev/null
		wait $bp $cp 2>/dev/null
		kids=""
		# pulsestream(7), "After a crash": run the same command again.
		consume L g$r.2 2>/dev/null |
			"$bin/ps-bronze" -q -L L --input envelopes -n --flush-records 700 &&
		"$bin/ps-silver" -q -L L --catch-up --now $NOW -n &&
		bronze_envelopes L >bronze && verify bronze in.ndjson &&
		passed same; st=$?
		rows L >l.rows
		check "bronze stopped at $point (silver caught up meanwhile), killed, restarted: every event once in bronze" [ $st -eq 0 ]
		check "... and silver equals the uninterrupted run" cmp -s ref.rows l.rows
	else
		kill -9 $bp $cp 2>/dev/null
		wait $bp $cp 2>/dev/null
		kids=""
		not_ok "bronze stopped at $point: never reached the hook"
	fi
done
finish

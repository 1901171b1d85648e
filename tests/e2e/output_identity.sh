#!/bin/sh
# Speed work must not change what the pipeline produces: the same input
# gives the same bytes.  Two inputs (the original simulator's schema, every
# event a new patient; and realistic lifecycle events) go through
# ps-bronze | ps-silver | ps-gold with fixed clocks; the checksums of every
# stage's stdout, of each bronze file's content, and of every silver and
# gold Parquet file (raw bytes) are compared with the ones recorded in
# output_identity.sha256.  A change that is meant to change the output
# regenerates that file deliberately with PS_REGEN=1 and says why in its
# commit message.  The lake's private state (_state) is not compared: its
# format is internal; nor are Delta logs (_delta_log): they hold commit
# times and a random table id.
. "$(dirname "$0")/../lib.sh"
N=${IDENTITY_EVENTS:-20000}
T=2031-01-01T00:00:00Z
NOW=2026-02-01T00:00:00Z
expected=$TOP/tests/e2e/output_identity.sha256
cd "$TMPD" || exit 1

# active TABLE: the data files of the latest version of a Delta table
# (the adds of its log not removed since), else every Parquet file under
# it.  Gold's data files are named by the gold commit that wrote them
# (part-SEQ.parquet, lib/stage.h): the manifest names them by table
# and partition, as SEQ depends on how many commits a run made.
active() {
	if [ -d "$1/_delta_log" ]; then
		cat "$1"/_delta_log/*.json |
			jq -r 'if .add then "+ \(.add.path)" elif .remove then "- \(.remove.path)" else empty end' |
			awk '$1 == "+" { a[$2] = 1 } $1 == "-" { delete a[$2] } END { for (p in a) print p }' |
			sed "s,^,$1/,"
	else
		find "$1" -type f -name '*.parquet' ! -name '.*'
	fi
}

# manifest LAKE NAME: "sha256  NAME/path" for each file of the lake.
manifest() {
	(cd "$1" && find bronze -name '*.gz' | sort | while read -r f; do
		printf '%s  %s/%s\n' "$(zcat "$f" | sha256sum | cut -d' ' -f1)" "$2" "$f"
	done
	for t in silver/* gold/*; do active "$t"; done | sort | while read -r f; do
		printf '%s  %s/%s\n' "$(sha256sum <"$f" | cut -d' ' -f1)" "$2" \
			"$(echo "$f" | sed 's,^\(gold/.*/\)part-[0-9]*\.parquet$,\1part-SEQ.parquet,')"
	done)
}

# run NAME SIMULATE-ARGS: the whole pipeline, then its manifest.
run() {
	name=$1
	shift
	ps-simulate --count "$N" "$@" >"$name.in" 2>/dev/null &&
	ps-bronze -L "$name" --ingest-time $T <"$name.in" >"$name.env" 2>"$name.err" &&
	ps-silver -L "$name" <"$name.env" >"$name.clean" 2>>"$name.err" &&
	ps-gold -L "$name" --now $NOW <"$name.clean" >"$name.kpi" 2>>"$name.err" || {
		cat "$name.err"
		return 1
	}
	for s in env clean kpi; do
		printf '%s  %s/stdout.%s\n' "$(sha256sum <"$name.$s" | cut -d' ' -f1)" "$name" "$s"
	done
	manifest "$name" "$name"
}

check 'both inputs go through the pipeline' '
	run compat --seed 7 >actual.sha256 &&
	run realistic -m realistic --seed 1 >>actual.sha256 &&
	[ $(grep -c "/gold/" actual.sha256) -gt 20 ] &&
	[ $(grep -c "/silver/" actual.sha256) -gt 20 ]'

if [ -n "${PS_REGEN:-}" ]; then
	cp actual.sha256 "$expected"
	echo "regenerated $expected"
fi

check 'every stdout, bronze content and Parquet file is byte-identical' '
	diff "$expected" actual.sha256'

done_testing

#!/bin/sh
# make bench: every stage's benchmark, each with its anchor in the same run.
# BENCH_EVENTS=N changes the event count (default 1,000,000).
set -u
dir=$(cd "$(dirname "$0")" && pwd)
BENCH_TMP=$(mktemp -d)
export BENCH_TMP
trap 'rm -rf "$BENCH_TMP"' EXIT
rc=0
for b in simulate bronze silver gold dash parquet delta ingest upload hl7 targets; do
	[ -x "$dir/$b.sh" ] || continue
	"$dir/$b.sh" || { echo "bench: $b failed" >&2; rc=1; }
	echo
done
exit $rc

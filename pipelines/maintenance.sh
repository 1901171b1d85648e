#!/bin/sh
# Table maintenance, for cron (nightly): compact the small files of the
# silver and gold Delta tables, then vacuum the files no version within the
# retention uses.  Safe while the live pipeline (pipelines/realtime.sh) and
# the batch job (pipelines/batch.sh) run: it takes no lock.
#
#   pipelines/maintenance.sh [LAKE]
#
# Settings (environment):
#   PS_LAKE        the lake, when LAKE is not given
#   PS_STREAM      the silver stream (default admissions)
#   PS_MAINT_ARGS  extra options for both, e.g. "--retain 30d" (time travel
#                  reaches back as far as the retention; default 7d)
#   PS_BIN         directory of the ps-* tools (default: this repository's
#                  bin/ when built, else PATH)
#
# Output: the NDJSON lines of ps-silver and ps-gold --compact --vacuum (one
# per table and operation, one per file deleted); logs on stderr.
# Exit status: 0; or the first failure's status (75: a compaction met a
# concurrent rewrite, run again; the other stage still ran).  A stage
# whose tables do not exist yet (exit 66) is skipped.
set -u
me=maintenance.sh
. "$(dirname "$0")/lake-env.sh"

status=0
for tool in ps-silver ps-gold; do
	# shellcheck disable=SC2086
	"$tool" -L "$lake" --stream "${PS_STREAM:-admissions}" --compact \
		--vacuum ${PS_MAINT_ARGS:-} </dev/null
	rc=$?
	case $rc in
	0) ;;
	66) echo "maintenance.sh: $tool: no Delta table yet: skipped" >&2 ;;
	*)
		echo "maintenance.sh: $tool failed with exit status $rc" >&2
		[ $status -ne 0 ] || status=$rc
		;;
	esac
done
exit $status

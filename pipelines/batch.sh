#!/bin/sh
# The batch job, for cron or an Azure Data Factory Custom Activity: bring
# every stage up to date from what the lake already holds, then upload the
# committed files.  Nothing is read from stdin; it exits when done.
#
#   pipelines/batch.sh [LAKE]
#
# Settings (environment):
#   PS_LAKE        the lake, when LAKE is not given
#   PS_BLOB_URL    where to upload (container URL [+ /prefix]); unset: no
#                  upload, only the catch-up
#   PS_BLOB_KEY / PS_BLOB_SAS / AZURE_* / PS_VAULT
#                  credentials, as ps-upload(1) reads them (secret:NAME
#                  references are resolved through the vault)
#   PS_UPLOAD_ARGS extra ps-upload options, e.g. "--parallel 8"
#   PS_BIN         directory of the ps-* tools (default: this repository's
#                  bin/ when built, else PATH)
#
# Stages that are not installed are skipped (ps-silver, ps-gold); the
# upload needs ps-upload.  Stage output records go to /dev/null; the
# upload's one JSON line per file goes to stdout; logs to stderr.
#
# Exit status: 0, or the status of the first stage that failed, passed
# through unchanged (75: try again later; 78: fix the configuration).
# Two runs never overlap: a run that finds the lake locked exits 75.
# A stage whose stream another process is writing (a live
# pipelines/realtime.sh: each stage holds a lock per stream under
# LAKE/_state/, see pulsestream(7)) is busy, not failed: it is skipped (the
# live writer keeps it current) and the run goes on with the next stage.
set -u
me=batch.sh
. "$(dirname "$0")/lake-env.sh"

log() {
	echo "batch.sh: $*" >&2
}

# One run at a time per lake (cron may start the next one early).  The
# lock file's name starts with '.', so no tool takes it for data.
if command -v flock >/dev/null 2>&1; then
	exec 9>"$lake/.batch.lock" || exit 73
	if ! flock -n 9; then
		log "another batch run holds $lake/.batch.lock; try later"
		exit 75
	fi
fi

stage() { # stage NAME ARGS...: run it when installed; stop on failure
	name=$1
	shift
	if ! command -v "$name" >/dev/null 2>&1; then
		log "$name is not installed: skipped"
		return 0
	fi
	lockf=$lake/_state/$name/.admissions.lock
	if command -v flock >/dev/null 2>&1 && [ -f "$lockf" ] &&
	   ! flock -n "$lockf" true 2>/dev/null; then
		log "$name is busy (PID $(cat "$lockf") writes the stream): skipped"
		return 0
	fi
	log "running $name $*"
	"$name" "$@" </dev/null >/dev/null
	rc=$?
	if [ $rc -ne 0 ]; then
		log "$name failed with exit status $rc"
		exit $rc
	fi
}

stage ps-silver -L "$lake" --catch-up
stage ps-gold -L "$lake" --catch-up

if [ -z "${PS_BLOB_URL:-}" ]; then
	log "PS_BLOB_URL is not set: nothing uploaded"
	exit 0
fi
if ! command -v ps-upload >/dev/null 2>&1; then
	log "ps-upload is not installed"
	exit 69
fi
log "running ps-upload"
# shellcheck disable=SC2086
ps-upload -L "$lake" --to "$PS_BLOB_URL" ${PS_UPLOAD_ARGS:-} </dev/null
rc=$?
[ $rc -eq 0 ] || log "ps-upload failed with exit status $rc"
exit $rc

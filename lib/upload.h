/*
 * upload.h - send committed lake files to one Blob Storage container
 * (ps-upload): choose the files, skip those already sent, order them so
 * that data lands before the files that reference it, run the requests
 * in parallel, and remember what was sent.
 *
 * Committed files are the regular files under the lake whose path has no
 * component starting with '.' (temporaries) and that are not under the
 * lake's top-level _state directory (private state is never uploaded).
 * The blob name is the path relative to the lake, under the target prefix.
 *
 * Order: files are sent in phases, one after the other; a phase starts
 * only when every file of the previous one is uploaded (or skipped).
 * Data files come first, deepest paths first (so a table's partitions go
 * before its top-level files), then marker and manifest files (any path
 * component starting with '_', such as _SUCCESS or _delta_log/), again
 * deepest first.  When a file fails, no later phase is started.  Delta
 * tables go up so that the remote table is valid at every moment (data
 * that a version references, then each log version alone, in order,
 * put-if-absent; lib/upload_delta.h).
 *
 * State: lake/_state/ps-upload/<hash>.json, one per target (the hash is
 * of the target's credential-free description), maps each uploaded path
 * to its size, mtime and MD5.  A file whose size and mtime match is
 * skipped without being read; one whose MD5 matches is skipped too.  The
 * state is written atomically at the end of a round, and during one
 * after every 64 files at most once a second.
 */
#ifndef PS_UPLOAD_H
#define PS_UPLOAD_H

#include <stdint.h>
#include <stdio.h>

#include "azblob.h"
#include "error.h"
#include "http.h"

struct ps_upload_opts {
	const char *lake;	/* the lake directory (required) */
	int parallel;		/* requests in flight at once, >= 1 */
	int64_t block_size;	/* files larger than this go up in blocks of
				   this size (Put Block + Put Block List) */
	int dry_run;		/* report what would be sent, send nothing */
	int verify;		/* HEAD every blob; skip a file only when the
				   container holds the same MD5 */
	int create_container;	/* create the container first (409 is ok) */
	int watch;		/* keep going: a round every interval */
	double interval;	/* seconds between watch rounds */
	FILE *list;		/* NULL: scan the lake; else read the paths
				   to send from here, one per line (plain, or
				   a JSON object with a "path" member) */
	volatile int *stop;	/* set by SIGINT/SIGTERM: finish and return */
};

#define PS_UPLOAD_OPTS_INIT { NULL, 4, (int64_t)8 << 20, 0, 0, 0, 0, 10.0, \
			      NULL, NULL }

/* Counters over the whole run. */
struct ps_upload_stats {
	long long uploaded;
	long long skipped;
	long long failed;
	long long bytes;	/* bytes uploaded */
	long long rounds;
};

/*
 * Run: upload (or, with dry_run, plan) every committed file, writing one
 * NDJSON line per file to out:
 *   {"path":..,"blob":..,"status":"uploaded","bytes":N,"md5":..,"blocks":N}
 *   {"path":..,"blob":..,"status":"skipped","reason":..,"bytes":N,"md5":..}
 *   {"path":..,"blob":..,"status":"would_upload","bytes":N,"md5":..}
 *   {"path":..,"blob":..,"status":"failed","reason":..,"code":N}
 * az and http stay the caller's.  Returns 0 when nothing failed (also when
 * stopped by *stop), or -1 with e holding the most important failure:
 * 78 bad credentials, a missing container or a bad setting (stops at
 * once), 75 when a later retry may succeed (service unreachable,
 * throttled, interrupted transfer), 74/66 for local read errors, 65 for
 * other refusals, 73 when the state cannot be written.  st (may be NULL)
 * receives the counters.
 */
int ps_upload_run(const struct ps_upload_opts *o, struct ps_azblob *az,
		  struct ps_http *http, FILE *out, struct ps_upload_stats *st,
		  struct ps_error *e);

/*
 * The phase of a lake-relative path (lower goes first): data files before
 * '_' markers, deeper paths before shallower ones.  Cannot fail.
 */
int ps_upload_phase(const char *rel);

/*
 * Whether a lake-relative path names a committed file by its name alone:
 * no empty, "." or ".." component, none starting with '.', not under the
 * top-level _state.  Returns 1 or 0.
 */
int ps_upload_committed_name(const char *rel);

/* The Content-Type sent for a file name (by its extension); never NULL. */
const char *ps_upload_content_type(const char *rel);

#endif

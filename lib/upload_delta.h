/*
 * upload_delta.h - the order in which ps-upload sends a Delta table so
 * that the remote copy is a valid table at every moment (lib/upload.c's
 * helper; see ps-upload(1)).
 *
 * A Delta table is a directory holding _delta_log/.  Of the files a round
 * lists under it:
 *
 *   data files    are sent when a version up to the newest one listed
 *                 (vmax) references them (added, or removed later: older
 *                 versions still read them), with the other data files,
 *                 before any log file; others belong to a commit not made
 *                 yet (a writer's files, or a killed one's) and wait;
 *   NNN.json      each version in its own phase, in version order, with
 *                 put-if-absent (If-None-Match: *): a reader of the
 *                 container never sees a gap, nor a version whose files
 *                 are not there; a version that exists is compared, and
 *                 one with other bytes is a failure (the tables diverged);
 *   NNN.checkpoint*.parquet, NNN.crc
 *                 right after version NNN;
 *   _last_checkpoint
 *                 last, and only when the checkpoint it names is sent (in
 *                 this round or before): its bytes are read once, from the
 *                 descriptor that is then uploaded, as the writer may
 *                 replace it meanwhile.
 */
#ifndef PS_UPLOAD_DELTA_H
#define PS_UPLOAD_DELTA_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* The phase of Delta log files: after data files and other markers. */
#define PS_UPLOAD_PHASE_DELTA_LOG 3000

/* What the plan says about one lake-relative path. */
struct ps_upload_delta {
	int keep;		/* 0: leave it for a later round */
	int in_table;		/* the path is in a Delta table */
	int is_log;		/* under _delta_log: phase DELTA_LOG */
	int64_t seq;		/* order within the phase (log files) */
	int if_absent;		/* send with put-if-absent (NNN.json) */
	int fd;			/* _last_checkpoint: open descriptor whose
				   bytes were checked (the caller closes
				   it), else -1 */
};

/*
 * Was rel sent to the target before (the caller's upload state)?  1 or 0.
 */
typedef int (*ps_upload_sent_fn)(void *ctx, const char *rel);

/*
 * Plan the n lake-relative paths rels (of lake) for one round: out[i] for
 * rels[i].  Paths outside Delta tables get keep 1, in_table 0.  Returns
 * 0, or -1 with e filled (65: a table's log cannot be replayed; 74).
 */
int ps_upload_delta_plan(const char *lake, char *const *rels, size_t n,
			 ps_upload_sent_fn sent, void *ctx,
			 struct ps_upload_delta *out, struct ps_error *e);

#endif

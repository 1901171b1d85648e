/*
 * bronze_replay.h - read back what one stdin source of ps-bronze has
 * landed, to tell a replay of its input from new data.
 *
 * Plain lines get their line number as position, so a second run of the
 * same input skips what is landed (exactly once after a kill).  Before
 * skipping a line bronze checks that it is the landed one: this module
 * reads the source's committed records (its bronze files and bronze's
 * quarantine files, merged in position order) once, forward.
 */
#ifndef PS_BRONZE_REPLAY_H
#define PS_BRONZE_REPLAY_H

#include <stddef.h>

#include "error.h"
#include "ndjson.h"

struct ps_replay;

/*
 * Open the landed records of source (len bytes) in LAKE/bronze/STREAM and
 * LAKE/quarantine/STREAM.  Returns the reader, or NULL with e filled (74)
 * when a directory or file cannot be read.  Free with ps_replay_free.
 */
struct ps_replay *ps_replay_open(const char *lake, const char *stream,
				 const char *source, size_t len,
				 struct ps_error *e);

/* Position of the first landed record, or -1 when there is none. */
long long ps_replay_first(const struct ps_replay *rp);

/*
 * Is line the record landed at pos?  Positions must be asked in
 * increasing order.  A landed record matches when its payload holds the
 * line's bytes; a quarantined one when it holds what bronze keeps of the
 * line (all of it, or the first bytes of a line over the cap).  Returns
 * 1 (same), 0 (different, or nothing landed at pos) or -1 with e filled
 * (74 unreadable or damaged file, 65 a line that is not an envelope).
 */
int ps_replay_match(struct ps_replay *rp, long long pos,
		    const struct ps_line *line, struct ps_error *e);

/* Close the reader; NULL is a no-op. */
void ps_replay_free(struct ps_replay *rp);

#endif

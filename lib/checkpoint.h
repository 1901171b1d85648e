/*
 * checkpoint.h - the highest committed position per source, persisted per
 * tool and stream (DESIGN.md, "Exactly once, with pipes").
 *
 * A checkpoint is a map from a source id ("kafka:admissions/3",
 * "stdin:admissions"; any bytes, compared exactly) to the last position
 * committed for it.  It lives in LAKE/_state/TOOL/STREAM.json:
 *
 *   {"version":1,"sources":{"stdin:admissions":{"position":41}}}
 *
 * and is written atomically (lib/fsutil.h) after the data it describes, so
 * a reader of the file never sees a half-written checkpoint.  Positions are
 * >= 0; -1 means "nothing committed".  Members the loader does not know are
 * ignored (forward compatibility).  Lookups are O(1) (a hash table), so a
 * tool can consult the map for every record.  Source strings are copied.
 */
#ifndef PS_CHECKPOINT_H
#define PS_CHECKPOINT_H

#include <stddef.h>

#include "buf.h"
#include "error.h"
#include "fsutil.h"

struct ps_checkpoint;

/* An empty map.  Cannot fail (out of memory aborts). */
struct ps_checkpoint *ps_checkpoint_new(void);

/* Free the map; NULL is a no-op. */
void ps_checkpoint_free(struct ps_checkpoint *cp);

/*
 * Merge LAKE/_state/TOOL/STREAM.json into cp (keeping the maximum per
 * source).  A missing file leaves cp unchanged and returns 0.  Returns -1
 * with e filled when the file cannot be read (74) or is not a valid
 * checkpoint (78, the message names the file).
 */
int ps_checkpoint_load(struct ps_checkpoint *cp, const char *lake,
		       const char *tool, const char *stream,
		       struct ps_error *e);

/*
 * Write cp to LAKE/_state/TOOL/STREAM.json atomically (temporary file,
 * fsync, rename, fsync of the directory), creating the directory when
 * missing.  Sources are written sorted by bytes, so equal maps give equal
 * files.  Returns 0, or -1 with e filled (73 cannot create, 74 write
 * error); the previous file is then left untouched.
 */
int ps_checkpoint_save(const struct ps_checkpoint *cp, const char *lake,
		       const char *tool, const char *stream,
		       struct ps_error *e);

/*
 * ps_checkpoint_save's file, opened and written but not committed (as
 * ps_seal_begin): the caller commits or aborts f.  Same returns.
 */
int ps_checkpoint_open(const struct ps_checkpoint *cp, const char *lake,
		       const char *tool, const char *stream,
		       struct ps_afile *f, struct ps_error *e);

/* The position stored for source (len bytes), or -1 when unknown. */
long long ps_checkpoint_get(const struct ps_checkpoint *cp,
			    const char *source, size_t len);

/*
 * Record position for source, keeping the maximum of the stored value and
 * position.  Cannot fail.
 */
void ps_checkpoint_set(struct ps_checkpoint *cp, const char *source,
		       size_t len, long long position);

/* Merge every entry of from into cp, keeping the maxima. */
void ps_checkpoint_merge(struct ps_checkpoint *cp,
			 const struct ps_checkpoint *from);

/* Number of sources in cp. */
size_t ps_checkpoint_count(const struct ps_checkpoint *cp);

/*
 * Iterate: entry i (0 <= i < count, in insertion order).  *source points
 * into cp (not NUL-safe: use *len) and stays valid until cp is freed.
 * Returns 0, or -1 when i is out of range.
 */
int ps_checkpoint_entry(const struct ps_checkpoint *cp, size_t i,
			const char **source, size_t *len,
			long long *position);

/*
 * Append cp as the JSON text of the checkpoint file (one line with its
 * newline) to b.  Cannot fail.
 */
void ps_checkpoint_format(const struct ps_checkpoint *cp, struct ps_buf *b);

/*
 * Parse the JSON text of a checkpoint file and merge it into cp (keeping
 * the maxima).  Returns 0, or -1 with e filled (78) when the text is not a checkpoint.
 */
int ps_checkpoint_parse(struct ps_checkpoint *cp, const char *text,
			size_t len, struct ps_error *e);

/* The file name LAKE/_state/TOOL/STREAM.json (caller frees). */
char *ps_checkpoint_path(const char *lake, const char *tool,
			 const char *stream);

#endif

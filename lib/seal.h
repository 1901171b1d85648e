/*
 * seal.h - integrity seals on the state files every tool loads: the
 * checkpoints (lib/checkpoint), ps-silver's dedup window, ps-gold's state
 * snapshot and alert levels, ps-upload's state.  A flipped bit or a cut
 * file is refused with exit 78 and the file named, never loaded.
 *
 * A sealed file is its payload followed by a CRC-32 (zlib's, ISO 3309) of
 * the payload, in one of two forms:
 *
 *   PS_SEAL_JSON  the payload is one JSON object; the seal becomes its
 *                 last member, so the file stays one object for jq:
 *                   {"version":1,...,"crc32":"1a2b3c4d"}\n
 *                 the CRC covers every byte before ',"crc32"'.
 *   PS_SEAL_BIN   any bytes, then the 16-byte line "#crc32 1a2b3c4d\n".
 *
 * There is no unsealed form: a file without a valid seal is damaged.
 */
#ifndef PS_SEAL_H
#define PS_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"
#include "fsutil.h"

enum ps_seal_form { PS_SEAL_JSON, PS_SEAL_BIN };

/* Bytes the seal adds at most. */
#define PS_SEAL_MAX 32

/* Continue a CRC-32 (zlib's crc32(), gzip's) over n bytes at p (start
 * with crc 0).  Cannot fail. */
uint32_t ps_seal_crc(uint32_t crc, const void *p, size_t n);

/*
 * Append to b the seal of a payload whose CRC-32 is crc (PS_SEAL_BIN,
 * for payloads written in pieces).  Cannot fail.
 */
void ps_seal_bin_trailer(struct ps_buf *b, uint32_t crc);

/*
 * Write p (n bytes) sealed in form to path, atomically (lib/fsutil).  A
 * PS_SEAL_JSON payload must be one JSON object with at least one member,
 * optionally followed by a newline.  Returns 0, or -1 with e filled (73,
 * 74; 70 for a JSON payload that is not an object).
 */
int ps_seal_write(const char *path, const void *p, size_t n,
		  enum ps_seal_form form, struct ps_error *e);

/*
 * ps_seal_write's file, opened and written but not committed: the
 * caller commits it (ps_afile_commit, or ps_afile_seal_all first with
 * other files) or aborts it.  Same returns (f released on error).
 */
int ps_seal_begin(struct ps_afile *f, const char *path, const void *p,
		  size_t n, enum ps_seal_form form, struct ps_error *e);

/*
 * Read the sealed file path (at most max bytes) and append its payload to
 * out (a PS_SEAL_JSON payload comes back as the object without the seal,
 * with a final newline).  Returns 0, 1 when the file does not exist, or
 * -1 with e filled: 66/74 unreadable, 78 damaged ("PATH: damaged state
 * file: ...").
 */
int ps_seal_read(const char *path, size_t max, enum ps_seal_form form,
		 struct ps_buf *out, struct ps_error *e);

/*
 * Check and remove the seal of the n bytes at p in place: returns the
 * payload length (JSON: the object closed again, without newline), or -1
 * with e filled (78, "damaged state file: ..."; the caller adds the path).
 * For callers that read the file themselves.
 */
long long ps_seal_open(char *p, size_t n, enum ps_seal_form form,
		       struct ps_error *e);

#endif

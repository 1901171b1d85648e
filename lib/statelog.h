/*
 * statelog.h - an append-only log of checksummed records beside a state
 * snapshot, so that a commit writes what changed rather than the whole
 * state (ps-gold's LAKE/_state/ps-gold/STREAM.log).
 *
 * Each record is one frame: "PSL1", the payload length (4 bytes, little
 * endian), the CRC-32 of the payload (4 bytes, little endian), the
 * payload.  A frame is appended with one write and made durable
 * (ps_append_durable) before the append returns, so a crash can only
 * leave the last frame incomplete (or zeros in its place): reading drops
 * such a torn tail (and
 * cuts it off the file, so that later appends stay readable).  A bad
 * frame followed by more data is corruption, never dropped silently.
 */
#ifndef PS_STATELOG_H
#define PS_STATELOG_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"

/* Bytes a frame adds to its payload. */
#define PS_STATELOG_OVERHEAD 12

/*
 * Append payload p[0..n) as one durable frame to path (created when
 * missing).  Returns 0, or -1 with e filled (73, 74).
 */
int ps_statelog_append(const char *path, const void *p, size_t n,
		       struct ps_error *e);

/* Append payload p[0..n) as one frame to b (for a log written whole). */
void ps_statelog_frame(const void *p, size_t n, struct ps_buf *b);

/* Called for each record in order; returns 0, or -1 to stop (e filled). */
typedef int (*ps_statelog_fn)(void *ctx, const char *p, size_t n,
			      struct ps_error *e);

/*
 * Read the whole log at path into b (kept by the caller: payloads point
 * into it) and call fn for each record.  A torn last frame is cut off the
 * file (logged).  *size gets the log's size in bytes afterwards.
 * Returns 0, 1 when there is no log (fn not called, *size 0), or -1 with
 * e filled: 78 for a corrupt log, 66/74 for a read error, or fn's error.
 */
int ps_statelog_read(const char *path, struct ps_buf *b, ps_statelog_fn fn,
		     void *ctx, size_t *size, struct ps_error *e);

/*
 * The identity of a base file (a snapshot the log extends): the CRC-32
 * and size of its n bytes p, or of the file at path (read in pieces).
 * ps_statelog_file_id returns 0, or -1 with e filled (66, 74).
 */
struct ps_statelog_id {
	uint32_t crc;
	uint64_t size;
};

void ps_statelog_mem_id(const void *p, size_t n, struct ps_statelog_id *id);
int ps_statelog_file_id(const char *path, struct ps_statelog_id *id,
			struct ps_error *e);

#endif

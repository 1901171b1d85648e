/*
 * gzpool.h - gzip files written atomically, compressed by a pool of threads
 * (after pigz).
 *
 * Each output file is one ordinary gzip member (RFC 1952) that any gzip
 * reader accepts.  The caller's bytes are cut into chunks of
 * PS_GZPOOL_CHUNK bytes; each chunk is compressed independently as raw
 * deflate ending on a byte boundary (Z_SYNC_FLUSH; the last one with
 * Z_FINISH), the chunk CRCs are combined, and the chunks are written in
 * order.  The output therefore does not depend on the number of threads.
 * Level 1 (bronze's default) compresses with ISA-L's igzip level 1, about
 * three times faster than zlib's level 1 and no larger on NDJSON; the
 * other levels with zlib.
 * Files go through lib/fsutil.h (hidden temporary name, fsync, rename), so
 * a reader never sees a partial file.
 *
 * Threads: the pool's worker threads only compress (SIGINT and SIGTERM
 * blocked: they go to the tool's other threads); the calling thread
 * writes every compressed chunk to its file, in the order the chunks were
 * submitted.  Memory is bounded: at most 2 * threads + 2 chunks are in
 * flight, after which a write waits for the oldest.  A pool and its files
 * are used from one thread only.
 */
#ifndef PS_GZPOOL_H
#define PS_GZPOOL_H

#include <stddef.h>

#include "error.h"

#define PS_GZPOOL_CHUNK (256 * 1024)

struct ps_gzpool;
struct ps_gzpool_file;

/*
 * A pool with threads compressing threads (0: compress in the calling
 * thread) at zlib level (0-9).  Returns NULL with e filled (70) when a
 * thread cannot be started.
 */
struct ps_gzpool *ps_gzpool_new(int threads, int level, struct ps_error *e);

/*
 * Stop the threads and free the pool.  Every file must have been committed
 * or aborted before.  NULL is a no-op.
 */
void ps_gzpool_free(struct ps_gzpool *pool);

/*
 * Start writing the gzip file path (directories are created).  Returns the
 * file, or NULL with e filled (73).
 */
struct ps_gzpool_file *ps_gzpool_open(struct ps_gzpool *pool,
				      const char *path, struct ps_error *e);

/*
 * Append n bytes of uncompressed data.  Returns 0, or -1 with e filled (74)
 * when writing an earlier chunk of this file failed (errors are reported
 * by the file they belong to, at its next write or commit); the file
 * should then be aborted.
 */
int ps_gzpool_write(struct ps_gzpool_file *f, const void *p, size_t n,
		    struct ps_error *e);

/*
 * Finish the file and commit it under path, or under final_path when that
 * is not NULL (it must be in the same directory as the name given to
 * ps_gzpool_open: the file name may depend on what was written).  Waits
 * for the file's chunks.  Returns 0, or -1 with e filled (74); either way
 * f is freed, and on failure nothing is left under the final name.
 */
int ps_gzpool_commit(struct ps_gzpool_file *f, const char *final_path,
		     struct ps_error *e);

/* Drop the file: its temporary file is removed and f is freed. */
void ps_gzpool_abort(struct ps_gzpool_file *f);

/* Uncompressed bytes written to f so far. */
unsigned long long ps_gzpool_size(const struct ps_gzpool_file *f);

#endif

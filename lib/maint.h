/*
 * maint.h - maintenance of a stage's Delta tables, for a cron job
 * (ps-silver and ps-gold --compact / --vacuum): compaction of small files
 * and vacuum of unreferenced ones (lib/delta.h), both safe while the
 * stage's writer appends, so they take no writer lock.
 *
 * One implementation for every stage: a stage names its root (the silver
 * table LAKE/silver/STREAM, or LAKE/gold whose subdirectories are the gold
 * tables), and every Delta table there is maintained in name order:
 * compaction first (its removed files then wait out the retention like any
 * other), then vacuum, then (with the vacuum) log cleanup: the log entries
 * of the versions before an expired checkpoint (lib/delta.h,
 * ps_delta_log_cleanup; --log-retain, 30 days as Delta's
 * delta.logRetentionDuration).  One NDJSON line per table and operation goes to
 * the output:
 *
 *   {"table":T,"op":"compact","version":V|null,"files_in":N,"files_out":N,
 *    "bytes_in":N,"bytes_out":N}
 *   {"table":T,"op":"vacuum","dry_run":B,"deleted":N,"bytes_deleted":N}
 *   {"table":T,"op":"log_cleanup","dry_run":B,"oldest_version":V|null,
 *    "deleted":N,"bytes_deleted":N}
 *
 * and before a vacuum's summary, one line per file it deletes (or, dry
 * run, would delete): {"table":T,"op":"vacuum","path":P,"bytes":N,
 * "status":"deleted"|"would_delete"}.  T is the table's path relative to
 * the lake.
 */
#ifndef PS_MAINT_H
#define PS_MAINT_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* The shortest vacuum retention accepted: a writer's files are committed,
 * and a reader has opened the version it reads, well within it. */
#define PS_MAINT_RETENTION_MIN (3600LL * 1000000)
/* Delta Lake's default retention: 7 days. */
#define PS_MAINT_RETENTION_DEFAULT (7LL * 24 * 3600 * 1000000)
/* Delta Lake's default log retention (delta.logRetentionDuration). */
#define PS_MAINT_LOG_RETENTION_DEFAULT (30LL * 24 * 3600 * 1000000)
/* Files below this size are compacted. */
#define PS_MAINT_SMALL_DEFAULT ((int64_t)64 << 20)

/* Output: as ps_silver_write_fn (0, 1 reader gone, -1 write error; p
 * NULL flushes). */
typedef int (*ps_maint_write_fn)(void *ctx, const void *p, size_t n);

struct ps_maint_opts {
	const char *lake;	/* table names are relative to it */
	int compact;
	int64_t small_bytes;	/* compact files smaller than this */
	int vacuum;
	int64_t retention;	/* microseconds, >= PS_MAINT_RETENTION_MIN */
	int dry_run;		/* vacuum: report, delete nothing */
	int64_t log_retention;	/* microseconds, >= PS_MAINT_RETENTION_MIN:
				   vacuum also cleans the log up to this */
};

#define PS_MAINT_OPTS_INIT { NULL, 0, PS_MAINT_SMALL_DEFAULT, 0, \
			     PS_MAINT_RETENTION_DEFAULT, 0, \
			     PS_MAINT_LOG_RETENTION_DEFAULT }

/*
 * The options every stage with Delta tables offers, for its option table
 * (lib/cli.h), and their handler: returns 0 when key was one of them
 * (o updated), 1 when it is not, or -1 with a usage message in e.
 */
enum {
	PS_MAINT_OPT_COMPACT = 0x4d00, PS_MAINT_OPT_VACUUM,
	PS_MAINT_OPT_RETAIN, PS_MAINT_OPT_SMALL_FILES, PS_MAINT_OPT_LOG_RETAIN,
};
#define PS_MAINT_OPTIONS \
	{ "compact", PS_MAINT_OPT_COMPACT, NULL, "compact the small files " \
	  "of the Delta tables, then exit" }, \
	{ "vacuum", PS_MAINT_OPT_VACUUM, NULL, "delete the files no table " \
	  "version within --retain references, then exit" }, \
	{ "retain", PS_MAINT_OPT_RETAIN, "DURATION", "--vacuum keeps what " \
	  "versions of the last DURATION use (default 7d, at least 1h)" }, \
	{ "small-files", PS_MAINT_OPT_SMALL_FILES, "SIZE", "--compact " \
	  "rewrites files below SIZE (default 64M)" }, \
	{ "log-retain", PS_MAINT_OPT_LOG_RETAIN, "DURATION", "--vacuum " \
	  "also removes the log entries older than DURATION before a " \
	  "checkpoint (default 30d, at least 1h)" }
int ps_maint_option(struct ps_maint_opts *o, int key, const char *arg,
		    struct ps_error *e);

/* Was maintenance asked for (--compact or --vacuum)? */
static inline int ps_maint_wanted(const struct ps_maint_opts *o)
{
	return o->compact || o->vacuum;
}

/*
 * Maintain the Delta tables at root (root itself when it is a table, else
 * its subdirectories that are) as of the wall clock.  A failure on one
 * table is logged and reported, and the others are still maintained.
 * Returns 0, or -1 with e filled: 64 retention below the minimum or
 * dry_run with compact, 66 root
 * missing or holding no Delta table, 75 a concurrent commit removed a
 * file compaction rewrote (run again), 65 a damaged log, 73/74 I/O
 * errors, 74 an output error.  The output going away stops the run (0).
 */
int ps_maint_run(const struct ps_maint_opts *o, const char *root,
		 ps_maint_write_fn out, void *ctx, struct ps_error *e);

#endif

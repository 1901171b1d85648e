/*
 * gold_delta.h - ps-gold's tables as Delta tables (lib/delta.h), one
 * Delta log per table under LAKE/gold/TABLE/_delta_log.
 *
 * ps-gold is the only writer of its tables (it holds the stage lock), so
 * a table's versions follow gold's commits one to one: gold commit number
 * SEQ gives every table one version, holding a txn action with appId
 * "ps-gold/STREAM" and version SEQ.  SEQ starts at 1 and is, on open, one
 * more than the highest txn version of any table, so it never repeats
 * even when a run died between two tables' commits.
 *
 * A table is either rewritten (dimensions, KPI tables: the version
 * removes every active file and adds the new one, so a reader sees the
 * old table or the new one, never a mix) or partly rewritten (the fact:
 * the version removes the active files of the partitions that changed
 * and adds their new files; the other partitions stay).  A table that did
 * not change in a commit gets a version holding its txn alone.  Data
 * files are new files, named TABLE[/SUB]/part-SEQ.parquet (SEQ in 20
 * digits), written and made durable before the first log commit of the
 * gold commit: a file is never replaced in place, so every version stays
 * readable until its removed files are deleted.
 *
 * Delta has no transaction across tables: the tables of one gold commit
 * are committed one after the other, in the order they were declared
 * (gold: the dimensions, the fact, then the KPI tables).  Between two of
 * those commits a reader sees the earlier tables at SEQ and the later
 * ones at SEQ - 1; each table is at every version complete and correct.
 * A reader that needs one gold commit across tables reads each table at
 * the version whose ps-gold/STREAM txn is the smallest of the tables'
 * latest txn versions (time travel).
 *
 * ps-gold rewrites its dimension and KPI tables at every commit, so it
 * bounds their removed files itself: at the table's checkpoints (every
 * PS_DELTA_CHECKPOINT_INTERVAL versions) it vacuums the table
 * (ps_delta_vacuum: the files whose removal is older than the retention)
 * and writes the checkpoint without their tombstones; readers of a version
 * whose files are deleted get an error, as after any Delta VACUUM.
 */
#ifndef PS_GOLD_DELTA_H
#define PS_GOLD_DELTA_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "parquet.h"

struct ps_gold_delta;

/*
 * Open the tables under gold_dir (LAKE/gold) for stream: load the
 * snapshot of every table with a Delta log, take SEQ from their txns, and
 * remove the part files no version references (a commit that died
 * between its data files and its log commit; tables of a lake from before
 * gold wrote Delta, which a reader of the log would not see).  A fact
 * table named fact (may be NULL) that holds part files without a log is
 * refused: its partitions cannot be recovered from the state.  Returns
 * the handle, or NULL with e filled: 78 (that refusal), 65 a corrupt log,
 * 74 read or remove errors.
 */
struct ps_gold_delta *ps_gold_delta_open(const char *gold_dir,
					 const char *stream,
					 const char *fact,
					 int64_t retention_ms,
					 struct ps_error *e);

/* Free d (after aborting an open commit).  NULL is a no-op. */
void ps_gold_delta_free(struct ps_gold_delta *d);

/* The sequence number the next commit gets (1 for new tables). */
int64_t ps_gold_delta_next(const struct ps_gold_delta *d);

/* How a commit changes a table. */
enum ps_gold_delta_mode {
	PS_GOLD_DELTA_REWRITE,		/* every active file is removed */
	PS_GOLD_DELTA_PARTITIONS,	/* those under ps_gold_delta_replace's
					   partitions are removed */
	PS_GOLD_DELTA_KEEP,		/* no change: the txn alone (only
					   when ps_gold_delta_can_keep) */
};

/*
 * Declare table name (copied) in the open commit, with its columns
 * (borrowed until the commit ends; used when the table is created).
 * Tables are committed in the order of their declaration.  Cannot fail.
 */
void ps_gold_delta_table(struct ps_gold_delta *d, const char *name,
			 const struct ps_pq_column *cols, size_t ncols,
			 enum ps_gold_delta_mode mode);

/*
 * 1 when table name holds the last commit of this process and that commit
 * reached every table: a caller that knows the table's content did not
 * change since may declare it PS_GOLD_DELTA_KEEP.  Else 0.
 */
int ps_gold_delta_can_keep(const struct ps_gold_delta *d, const char *name);

/*
 * The path (caller frees) of a new data file of the declared table name
 * in its subdirectory sub (a partition "admission_date=2026-01-01", or
 * NULL), registered in the open commit.  Write the file there (through a
 * ps_fsgroup or atomically), complete before ps_gold_delta_commit.
 * Cannot fail.
 */
char *ps_gold_delta_file(struct ps_gold_delta *d, const char *name,
			 const char *sub);

/* The commit removes the active files of table name under sub.  Cannot
 * fail. */
void ps_gold_delta_replace(struct ps_gold_delta *d, const char *name,
			   const char *sub);

/* Called after each table's log commit (the test hook of lib/stage). */
typedef void (*ps_gold_delta_fn)(void *ctx, const char *table);

/*
 * Commit every declared table, one log commit each, at time now_ms
 * (wall clock, ms); after each, fn(ctx, table) when fn is not NULL.
 * Returns 0; or -1 with e filled (73/74 I/O, 75 another writer's
 * conflicting commit, 65 a corrupt log, 66 a data file cannot be read):
 * the tables committed so far stay committed, the data files of the
 * others are removed, and the sequence number is used up either way.
 */
int ps_gold_delta_commit(struct ps_gold_delta *d, int64_t now_ms,
			 ps_gold_delta_fn fn, void *ctx, struct ps_error *e);

/* Drop the open commit: remove the data files not committed.  Cannot
 * fail. */
void ps_gold_delta_abort(struct ps_gold_delta *d);

#endif

/*
 * delta.h - Delta Lake tables on a local file system: a commit writer and
 * a log reader, written from the Delta Transaction Log Protocol
 * (delta-io/delta PROTOCOL.md).
 *
 * Reader version 1 / writer version 2, no table features: what Synapse
 * serverless SQL, Spark, DuckDB, delta-rs and Power BI all read.  A table
 * is a directory with data files (Parquet, written by lib/parquet) and
 * _delta_log/NNNNNNNNNNNNNNNNNNNN.json, one file per version, each a set
 * of actions (protocol, metaData, add, remove, txn, commitInfo) applied
 * atomically.  Version N is committed by creating its file with
 * put-if-absent (link(), never a rename that could replace it); a writer
 * that loses the race reads the commits it missed and, when they do not
 * clash with its own, retries at the next version.
 *
 * Every checkpoint_interval versions (10) a classic checkpoint
 * N.checkpoint.parquet holds the replayed state (protocol, metaData, txn,
 * add, remove tombstones), and _last_checkpoint points at it.
 *
 * A txn action (appId, version) per source makes a table the exactly-once
 * commit point of a stream: a writer records in the same commit as its
 * files the highest position of each source it consumed, and on restart
 * skips what the snapshot's txn versions cover.
 */
#ifndef PS_DELTA_H
#define PS_DELTA_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"
#include "parquet.h"

#define PS_DELTA_CHECKPOINT_INTERVAL 10

/* One file of the table (an add action, or a remove tombstone). */
struct ps_delta_file {
	char *path;		/* relative to the table, decoded (not a URI) */
	int64_t size;
	int64_t mtime_ms;	/* add: modificationTime; remove:
				   deletionTimestamp */
	int data_change;
	char **pv_keys, **pv_vals;	/* partition values (a NULL value is
					   a null partition) */
	size_t npv;
	char *stats;		/* the stats JSON text, or NULL */
	int64_t version;	/* version that added (or removed) it */
};

/* The latest version committed for one appId. */
struct ps_delta_txn {
	char *app_id;
	int64_t version;
	int64_t last_updated;	/* ms, or -1 */
};

/* The state of a table at one version. */
struct ps_delta_snapshot {
	int64_t version;	/* -1: the table does not exist */
	int64_t timestamp_ms;	/* of that version (commitInfo.timestamp,
				   else the log file's mtime) */
	int min_reader, min_writer;
	char *table_id;
	char *schema_string;	/* Spark-style JSON schema */
	char **part_cols;
	size_t npart;
	int64_t created_ms;
	struct ps_delta_file *files;	/* active files, sorted by path */
	size_t nfiles;
	struct ps_delta_file *removed;	/* tombstones, sorted by path */
	size_t nremoved;
	struct ps_delta_txn *txns;	/* sorted by app_id */
	size_t ntxns;
	int64_t checkpoint;	/* checkpoint version used, or -1 */
};

#define PS_DELTA_SNAPSHOT_INIT { -1, 0, 0, 0, NULL, NULL, NULL, 0, 0, \
				 NULL, 0, NULL, 0, NULL, 0, -1 }

/*
 * Load the snapshot of the table at dir as of version (-1: the latest):
 * from the newest classic checkpoint not after it, then the JSON commits
 * up to it.  A missing table (no _delta_log, or no version 0) gives a
 * snapshot with version -1 and returns 0.  Returns 0, or -1 with e filled:
 * 65 for a corrupt or unsupported log (a gap in the versions, a protocol
 * above reader 1 / writer 2, bad JSON), 66 when version does not exist
 * (or log cleanup removed it: the message names the oldest left),
 * 74 on read errors.  s must be PS_DELTA_SNAPSHOT_INIT or released.
 */
int ps_delta_snapshot_load(const char *dir, int64_t version,
			   struct ps_delta_snapshot *s, struct ps_error *e);

/*
 * Bring s (loaded by ps_delta_snapshot_load) up to the latest version by
 * applying only the commits after s->version: what a long-running writer
 * does before each commit instead of a full replay.  Returns 0 (s is
 * unchanged when nothing was committed meanwhile), or -1 with e filled as
 * ps_delta_snapshot_load; s is then released.
 */
int ps_delta_snapshot_update(const char *dir, struct ps_delta_snapshot *s,
			     struct ps_error *e);

/* Free what s holds and reset it to PS_DELTA_SNAPSHOT_INIT. */
void ps_delta_snapshot_release(struct ps_delta_snapshot *s);

/*
 * The active file of s at path (relative to the table, as in
 * ps_delta_file.path), or with removed set, else its tombstone; NULL when
 * s references no such file.  Cannot fail.
 */
const struct ps_delta_file *ps_delta_snapshot_find(
	const struct ps_delta_snapshot *s, const char *path, int removed);

/* The version of app_id's latest txn in s, or -1 when it has none. */
int64_t ps_delta_txn_version(const struct ps_delta_snapshot *s,
			     const char *app_id);

/*
 * The latest version of the table at dir whose timestamp is at or before
 * ts_ms (time travel by timestamp).  Returns 0; or -1 with e filled: 66
 * when ts_ms is before the first version or there is no table, 65/74 as
 * above.
 */
int ps_delta_version_at(const char *dir, int64_t ts_ms, int64_t *version,
			struct ps_error *e);

/* Is dir a Delta table (does it hold a _delta_log directory)?  1 or 0. */
int ps_delta_is_table(const char *dir);

/* The latest committed version of the table at dir (-1 when none), by
 * listing the log.  Returns 0 or -1 with e filled (74). */
int ps_delta_latest_version(const char *dir, int64_t *version,
			    struct ps_error *e);

/* Append the Spark-style schema string of cols to b.  Cannot fail. */
void ps_delta_schema_string(const struct ps_pq_column *cols, size_t ncols,
			    struct ps_buf *b);

/*
 * Append the stats JSON of the Parquet file at path to b ({"numRecords",
 * "minValues", "maxValues", "nullCount"} from its footer statistics;
 * timestamps to the millisecond, the maximum rounded up).  Columns named in
 * skip (partition columns, not stored in the file) are left out.  Returns
 * 0 or -1 with e filled (65/66).
 */
int ps_delta_file_stats(const char *path, const char *const *skip,
			size_t nskip, struct ps_buf *b, struct ps_error *e);

/*
 * Write the rows of snapshot s of the table at dir (loaded by
 * ps_delta_snapshot_load, at any version) as NDJSON through out, which
 * returns 0, or non-zero when its reader went away: the active files in
 * path order, each row one JSON object with the table schema's top-level
 * columns in schema order, formatted as ps_pq_row_json formats them.
 * Partition columns, which the data files do not hold, come from each
 * file's partition values (typed as the schema says); a column a file
 * lacks (added to the schema later) is null.  Returns 0, 1 when out
 * reported its reader gone, or -1 with e filled: 66 no table, or a data
 * file that the version references is missing (vacuumed), 65 a bad
 * schema or data file.
 */
int ps_delta_dump(const char *dir, const struct ps_delta_snapshot *s,
		  int (*out)(void *ctx, const void *p, size_t n), void *ctx,
		  struct ps_error *e);

/* ------------------------------------------------------------------ */
/* Commits                                                             */
/* ------------------------------------------------------------------ */

struct ps_delta_commit;

/*
 * A new, empty commit for operation ("WRITE", "CREATE TABLE", "OPTIMIZE",
 * ...), made as of snapshot version read_version (-1 to create the
 * table).  Cannot fail.
 */
struct ps_delta_commit *ps_delta_commit_new(const char *operation,
					    int64_t read_version);

/* Free c; ps_delta_commit_free(NULL) is a no-op. */
void ps_delta_commit_free(struct ps_delta_commit *c);

/*
 * ps_delta_commit_write of c (unless it creates the table) leaves the
 * fsync of _delta_log to the caller (ps_fsync_dirs of many tables' logs
 * at once): the version is visible when it returns, and durable once the
 * caller synced the directory.  Cannot fail.
 */
void ps_delta_commit_defer_dir_sync(struct ps_delta_commit *c);

/*
 * Make c create the table: protocol (1, 2) and metaData with table_id
 * (NULL: a random UUID), the schema of cols and partition columns part
 * (which must be among cols).  Strings are copied.  Returns 0, or -1 with
 * e filled (64) for a bad partition column.
 */
int ps_delta_commit_create(struct ps_delta_commit *c, const char *table_id,
			   const struct ps_pq_column *cols, size_t ncols,
			   const char *const *part, size_t npart,
			   int64_t created_ms, struct ps_error *e);

/*
 * Add a file: path relative to the table (as on disk; encoded as a URI in
 * the log), its exact size, modification time in ms, partition values
 * (npv pairs; a NULL value is null), stats JSON (or NULL) and dataChange.
 * Everything is copied.  Cannot fail.
 */
void ps_delta_commit_add(struct ps_delta_commit *c, const char *path,
			 int64_t size, int64_t mtime_ms,
			 const char *const *pv_keys,
			 const char *const *pv_vals, size_t npv,
			 const char *stats, int data_change);

/*
 * Add the data file at dir/path: size and mtime from the file system,
 * stats from its footer (partition columns left out).  Returns 0 or -1
 * with e filled (66 when it cannot be read).
 */
int ps_delta_commit_add_file(struct ps_delta_commit *c, const char *dir,
			     const char *path, const char *const *pv_keys,
			     const char *const *pv_vals, size_t npv,
			     int data_change, struct ps_error *e);

/* Remove a file of the snapshot (copied: path, size, partition values),
 * as of deletion time now_ms.  Cannot fail. */
void ps_delta_commit_remove(struct ps_delta_commit *c,
			    const struct ps_delta_file *f, int64_t now_ms,
			    int data_change);

/* Record that app_id has committed up to version.  Cannot fail. */
void ps_delta_commit_txn(struct ps_delta_commit *c, const char *app_id,
			 int64_t version, int64_t now_ms);

/*
 * Write the log entry of c as version read_version + 1 of the table at
 * dir under a temporary name (neither durable nor visible), for
 * ps_delta_commit_seal_staged to make durable together with other
 * tables' entries; ps_delta_commit_write then links it into place (with
 * the same now_ms) or, when another writer took that version, writes
 * the next as usual.  A commit that creates the table stages nothing.
 * ps_delta_commit_free removes an entry not committed.  Returns 0, or -1
 * with e filled (73, 74, 70 as ps_delta_commit_write).
 */
int ps_delta_commit_stage(const char *dir, struct ps_delta_commit *c,
			  int64_t now_ms, struct ps_error *e);

/*
 * fsync the staged entries of c[0..n-1] (NULL, or none staged: skipped)
 * at once (ps_afile_seal_all).  Returns 0, or -1 with e filled (74).
 */
int ps_delta_commit_seal_staged(struct ps_delta_commit *const *c, size_t n,
				struct ps_error *e);

/*
 * Commit c to the table at dir as version read_version + 1 at time now_ms
 * (creating _delta_log when c creates the table).  When another writer
 * has taken that version, the commits after read_version are read: if
 * none of them changes the metadata or protocol, sets a txn appId that c
 * sets, adds a path that c adds, or removes a path that c removes (and,
 * when c removes data, adds or removes data at all), c is retried at the
 * next version; otherwise it fails.  After a version that is a multiple
 * of checkpoint_interval (0: never), a checkpoint is written.  Returns 0
 * and the version in *version; or -1 with e filled: 75 for a conflict
 * (the message names it), 65 for a bad log, 73/74 for I/O errors (the
 * commit is then not visible).  A failure to write the checkpoint after
 * the commit is not an error of the commit (it is logged).
 */
int ps_delta_commit_write(const char *dir, struct ps_delta_commit *c,
			  int64_t now_ms, int checkpoint_interval,
			  int64_t *version, struct ps_error *e);

/*
 * Write the classic checkpoint of version (N.checkpoint.parquet) and
 * point _last_checkpoint at it.  Tombstones older than
 * tombstone_retention_ms before now_ms are dropped (-1: keep all).
 * Returns 0 or -1 with e filled.
 */
int ps_delta_checkpoint(const char *dir, int64_t version, int64_t now_ms,
			int64_t tombstone_retention_ms, struct ps_error *e);

/* ------------------------------------------------------------------ */
/* Maintenance (safe while writers append)                             */
/* ------------------------------------------------------------------ */

struct ps_delta_maint {
	size_t files_in, files_out;	/* compact: files rewritten, made */
	int64_t bytes_in, bytes_out;
	int64_t version;		/* compact: version committed, or -1
					   when there was nothing to do */
	size_t deleted;			/* vacuum: files deleted */
	int64_t bytes_deleted;
};

/*
 * Compaction: in each partition, the active files smaller than small_bytes
 * (when there are at least two) are rewritten as one file, committed as
 * remove + add with dataChange=false in one version, so that readers and
 * streaming consumers see the same rows.  A partition holding a file of
 * another schema, or one lib/parquet cannot decode (another writer's
 * codec), is left alone with a warning.  Concurrent appends are fine (the
 * commit retries after them); a concurrent removal of one of the files
 * fails with 75 and leaves the new file to vacuum.  Returns 0 with *m
 * filled, or -1 with e filled.
 */
int ps_delta_compact(const char *dir, int64_t small_bytes, int64_t now_ms,
		     struct ps_delta_maint *m, struct ps_error *e);

/*
 * Vacuum: delete the data files under dir that the latest version does not
 * reference and that are older than retention_ms (by modification time):
 * removed files whose removal is older than that, and files that a killed
 * writer left uncommitted.  Files younger than the retention are kept, so
 * a writer whose files are not committed yet is safe as long as it commits
 * within the retention; so are readers of versions younger than it.
 * _delta_log and names starting with '.' or '_' are never touched.  With
 * dry_run nothing is deleted (m counts what would be).  each (may be
 * NULL) is called with ctx for every file deleted (or, with dry_run, that
 * would be), by its path relative to dir and its size.  Returns 0 or -1
 * with e filled.
 */
typedef void (*ps_delta_each_fn)(void *ctx, const char *path, int64_t size);
int ps_delta_vacuum(const char *dir, int64_t retention_ms, int64_t now_ms,
		    int dry_run, ps_delta_each_fn each, void *ctx,
		    struct ps_delta_maint *m, struct ps_error *e);

/*
 * Log cleanup (PROTOCOL.md, "Metadata Cleanup"): the log entries of the
 * versions before a checkpoint that is itself expired are deleted.  The
 * cutoff is midnight UTC of the day of now_ms - retention_ms (Delta's
 * delta.logRetentionDuration, 30 days by default); the newest commit not
 * newer than it (by the log files' modification times, made monotonic)
 * is the cutoff commit, and the newest checkpoint not newer than that is
 * kept together with every version after it: the commits, checkpoints
 * and checksum files of the versions before it are deleted; the latest
 * checkpoint, where readers of the latest version start, and what it
 * needs are never touched.  Time travel to a deleted
 * version then fails with 66 (ps_delta_snapshot_load names the oldest
 * version left).  With dry_run nothing is deleted.  m->version gets the
 * oldest version kept whole (-1 or 0: nothing to clean), m->deleted and
 * m->bytes_deleted what went (or would go).  Returns 0 or -1 with e
 * filled (66 no table, 74 I/O).
 */
int ps_delta_log_cleanup(const char *dir, int64_t retention_ms,
			 int64_t now_ms, int dry_run,
			 struct ps_delta_maint *m, struct ps_error *e);

/*
 * Append one action as a JSON line (with '\n') as the log holds it: used
 * by the commit writer and the checkpoint (which lays the same objects out
 * in Parquet columns).
 */
void ps_delta_file_json(const struct ps_delta_file *f, int is_remove,
			struct ps_buf *b);

#endif

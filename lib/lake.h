/*
 * lake.h - the lake: where each table lives, how its part files are
 * named, which of them a reader may see, and one writer per (stage,
 * stream).  Stages meet only here (DESIGN.md, "Exactly once, with pipes").
 *
 * Tables (LAKE is the lake directory, STREAM the stream):
 *
 *   PS_LAKE_BRONZE             bronze/STREAM/date=D/part-SAFE-F-L.ndjson.gz
 *   PS_LAKE_BRONZE_QUARANTINE  quarantine/STREAM/date=D/
 *                                 part-bronze-SAFE-F-L.ndjson.gz
 *   PS_LAKE_SILVER             silver/STREAM/admission_date=D/
 *                                 part-SAFE-F-L[-rRUN].parquet
 *   PS_LAKE_SILVER_QUARANTINE  quarantine/STREAM/date=D/
 *                                 part-SAFE-F-L[-rRUN].ndjson.gz
 *
 * SAFE is the source id made safe for file names (ps_lake_safe_source),
 * F and L the first and last position of that source the file holds (20
 * digits, zero-padded), RUN the run id of a silver run over plain input
 * (positions without a checkpoint).  The quarantine area is shared: the
 * "bronze-" prefix tells bronze's files from silver's, and no SAFE starts
 * with "bronze-".  Names starting with '.' are never data (temporary files
 * and locks).
 *
 * Visibility.  A writer commits a batch in one order (lib/stage.h): files
 * under their final names, its private state, then its commit point.  A
 * reader sees only what the commit point covers:
 *
 *   bronze      one file holds one source of one commit and is complete
 *               once renamed: a renamed file is committed (bronze's restart
 *               takes the highest of its checkpoint and the file names);
 *   silver      a Delta table (lib/delta.h, LAKE/silver/STREAM/
 *               _delta_log): a data file is visible when the latest
 *               version of the table has it as an active file; a batch is
 *               one version, with its add actions and one txn action per
 *               source (appId ps_lake_txn_app_id, version the highest
 *               position committed): silver's commit point.  A file that
 *               no version references belongs to a batch still being
 *               committed, or to one whose writer died: the next silver
 *               run removes it (a file of another name, such as a
 *               compaction's that died, is left to vacuum).
 *   silver quarantine  a batch's file of one source is visible when the
 *               txn version of its source in the silver table is at or
 *               past L (files of plain-input runs, which have no txn,
 *               once renamed).
 *
 * A silver directory with part files but no _delta_log is a table of an
 * older PulseStream: readers refuse it (78, naming the fix), and the next
 * ps-silver run converts it (lib/stage.h).
 *
 * The commit point is read before the directory is listed, so every file
 * a listing keeps is complete.
 *
 * Locks.  Each (stage, stream) has one writer at a time: ps_lake_lock
 * takes flock(2) on LAKE/_state/TOOL/.STREAM.lock and writes the holder's
 * PID into it.  The kernel drops the lock when the holder exits, however
 * it dies, so there is nothing to clean up after a crash.  Several
 * writers of one table (ps-silver --shared: one per set of Kafka
 * partitions) hold that lock shared, which still excludes a single
 * writer, and each source exclusively while a batch of theirs holds it
 * (ps_lake_source_lock).
 */
#ifndef PS_LAKE_H
#define PS_LAKE_H

#include <stddef.h>

#include "buf.h"
#include "checkpoint.h"
#include "delta.h"
#include "envelope.h"
#include "error.h"

enum ps_lake_table {
	PS_LAKE_BRONZE,
	PS_LAKE_BRONZE_QUARANTINE,
	PS_LAKE_SILVER,
	PS_LAKE_SILVER_QUARANTINE,
};

#define PS_LAKE_BRONZE_TOOL "ps-bronze"
#define PS_LAKE_SILVER_TOOL "ps-silver"
#define PS_LAKE_GOLD_TOOL "ps-gold"

/* ---- layout ---- */

/*
 * The directory of table t for stream: LAKE/AREA/STREAM (caller frees).
 * Cannot fail.
 */
char *ps_lake_dir(const char *lake, enum ps_lake_table t, const char *stream);

/* The tool whose commit point covers table t ("ps-bronze", ...). */
const char *ps_lake_writer(enum ps_lake_table t);

/* The partition column of table t ("date", "admission_date"). */
const char *ps_lake_partition_key(enum ps_lake_table t);

/* ---- Delta commit points ---- */

/*
 * Append the appId of the txn action that records the positions tool
 * committed for source (len bytes) of stream: "TOOL/STREAM/SOURCE".
 * Cannot fail.
 */
void ps_lake_txn_app_id(struct ps_buf *b, const char *tool,
			const char *stream, const char *source, size_t len);

/*
 * Merge into cp the positions that the txn actions of s record for tool
 * and stream (ps_lake_txn_app_id).  Cannot fail.
 */
void ps_lake_delta_positions(const struct ps_delta_snapshot *s,
			     const char *tool, const char *stream,
			     struct ps_checkpoint *cp);

/* ---- part-file names ---- */

/*
 * Append the file-name-safe form of source (len bytes) to b, injectively:
 *
 *   stdin:NAME            -> stdin_NAME       (NAME of [A-Za-z0-9_.-])
 *   kafka:TOPIC/PARTITION -> kafka_TOPIC_PARTITION
 *                            (TOPIC of [A-Za-z0-9_.-], PARTITION digits)
 *   anything else, or     -> the id with every byte outside [A-Za-z0-9_.-]
 *   longer than 120 bytes    replaced by '_' (and the '-' of a leading
 *                            "bronze-" too), cut to 64 bytes, then '~' and
 *                            16 hex digits of the id's FNV-1a 64-bit hash
 *
 * (the two plain forms never contain '~').  Cannot fail.
 */
void ps_lake_safe_source(struct ps_buf *b, const char *source, size_t len);

/* A part file: its name parsed, and where it is. */
struct ps_lake_part {
	char *path;		/* LAKE/AREA/STREAM/KEY=VALUE/part-... */
	char partition[11];	/* VALUE of the partition directory */
	char *safe;		/* SAFE */
	long long first, last;	/* F, L */
	long long run;		/* RUN, or -1 */
};

struct ps_lake_parts {
	struct ps_lake_part *v;
	size_t n;
};

#define PS_LAKE_PARTS_INIT { NULL, 0 }

/*
 * Append the path of a part file of table t to b: DIR/KEY=VALUE/part-...,
 * DIR from ps_lake_dir, VALUE the partition (a YYYY-MM-DD date, 10
 * bytes), source the exact source id (made safe here), run -1 for none.
 * Cannot fail.
 */
void ps_lake_part_path(struct ps_buf *b, enum ps_lake_table t,
		       const char *dir, const char *partition,
		       const char *source, size_t len, long long first,
		       long long last, long long run);

/*
 * Parse a file name (no directory) of table t.  Returns 0 and fills *safe
 * / *safe_len (pointing into name), *first, *last and *run (-1 when the
 * name has none), or -1 when the name is not a part file of t (another
 * table's, a temporary, anything else).
 */
int ps_lake_part_parse(enum ps_lake_table t, const char *name,
		       const char **safe, size_t *safe_len, long long *first,
		       long long *last, long long *run);

/* ---- listing and visibility ---- */

/*
 * List every part file of table t under its final name, committed or not
 * (for the writer's own recovery), sorted by SAFE, then F, then the
 * partition.  A missing directory is an empty list.  Returns 0, or -1
 * with e filled (74) when a directory cannot be read.  Release with
 * ps_lake_parts_release.
 */
int ps_lake_list(const char *lake, enum ps_lake_table t, const char *stream,
		 struct ps_lake_parts *out, struct ps_error *e);

/*
 * Like ps_lake_list, keeping only the files a reader may see (see above):
 * what the writer's commit point covers.  For silver, the active files of
 * the table's latest version; one whose name is not a part file's (a
 * compaction's) gets SAFE "", F 0, L INT64_MAX and RUN -1.  Returns 0, or
 * -1 with e filled (74 unreadable directory, 78 bad checkpoint file or a
 * silver table of an older lake, 65 a Delta log that cannot be read).
 */
int ps_lake_visible(const char *lake, enum ps_lake_table t,
		    const char *stream, struct ps_lake_parts *out,
		    struct ps_error *e);

/*
 * 1 when cp, the positions committed by the writer of table t, covers
 * file f (f is visible to readers), else 0.  Cannot fail.
 */
int ps_lake_covered(enum ps_lake_table t, const struct ps_lake_part *f,
		    const struct ps_checkpoint *cp);

/* Free the list and reset it to PS_LAKE_PARTS_INIT. */
void ps_lake_parts_release(struct ps_lake_parts *ps);

/*
 * Merge into cp the positions the writer of table t committed, per exact
 * source id: bronze (both of its tables) from its checkpoint file and
 * from the file names of its two tables (the exact id read from the first
 * envelope of each source's last file); silver (both of its tables)
 * from the txn actions of the silver table's latest version.  Returns 0,
 * or -1 with e filled (74 unreadable directory or file, or a damaged
 * bronze file: one whose first line is not an envelope; 78 bad
 * checkpoint file, or a silver table of an older lake; 65 a Delta log
 * that cannot be read).
 */
int ps_lake_committed(const char *lake, enum ps_lake_table t,
		      const char *stream, struct ps_checkpoint *cp,
		      struct ps_error *e);

/*
 * The position cp holds for the source whose safe form is safe (len
 * bytes), or -1 when there is none.  For readers that know a source only
 * from a file name.  Cannot fail.
 */
long long ps_lake_safe_position(const struct ps_checkpoint *cp,
				const char *safe, size_t len);

/*
 * A reader's view of the whole lake, for tools that walk it (ps-upload):
 * which lake-relative paths it may see.  Positions are loaded on first
 * use per (table, stream) and kept, so list the files first, then ask: a
 * file covered then is complete.
 */
struct ps_lake_view;

/* A view of lake (copied).  Cannot fail. */
struct ps_lake_view *ps_lake_view_new(const char *lake);

/* Free the view; NULL is a no-op. */
void ps_lake_view_free(struct ps_lake_view *v);

/*
 * 1 when a reader may see the file rel (a path relative to the lake): any
 * file that is not a part file of a table (gold tables, markers, Delta
 * logs...), a part file its writer's commit point covers, or a data file
 * of the silver table that a version references (active, or removed by a
 * later one); 0 for a file of a commit not finished; -1 with e filled
 * when the commit point cannot be read (74, 78, 65).
 */
int ps_lake_view_visible(struct ps_lake_view *v, const char *rel,
			 struct ps_error *e);

/* ---- envelope files (bronze and quarantine) ---- */

struct ps_lake_reader;

/*
 * Open a gzip NDJSON file of envelopes.  Returns the reader, or NULL with
 * e filled (66) when the file cannot be opened.
 */
struct ps_lake_reader *ps_lake_reader_open(const char *path,
					   struct ps_error *e);

/*
 * The next envelope: returns 1 and fills *env (valid until the next
 * call), 0 at the end of the file, or -1 with e filled (74): a read
 * error, a damaged gzip stream, or a line that is not an envelope or is
 * longer than PS_LINE_MAX (a damaged file; the message names the file and
 * line).
 */
int ps_lake_reader_next(struct ps_lake_reader *r, struct ps_envelope *env,
			struct ps_error *e);

/* Close the reader; NULL is a no-op. */
void ps_lake_reader_close(struct ps_lake_reader *r);

/* ---- one writer per (stage, stream) ---- */

struct ps_lake_lock;

/*
 * Become the only writer of tool's tables for stream: take an exclusive
 * flock on LAKE/_state/TOOL/.STREAM.lock (created, with its directory,
 * when missing) and write this process's PID into it.  When another
 * process holds it, try again until wait seconds have passed (0: once);
 * a stop request (SIGINT/SIGTERM) ends the wait early.  Returns the lock,
 * or NULL with e filled: 75 when it is still held (the message names the
 * holder's PID), 73 when the file cannot be created.  The descriptor is
 * close-on-exec.
 */
struct ps_lake_lock *ps_lake_lock(const char *lake, const char *tool,
				  const char *stream, double wait,
				  struct ps_error *e);

/*
 * ps_lake_lock, or with shared set a shared flock on the same file: any
 * number of shared holders (writers of one table that each lock what they
 * write: ps_lake_source_lock) exclude an exclusive one (a single writer)
 * and the other way round.  A shared holder writes no PID (it empties
 * the file: an exclusive holder's PID there is stale).  Errors as
 * ps_lake_lock.
 */
struct ps_lake_lock *ps_lake_lock_mode(const char *lake, const char *tool,
				       const char *stream, double wait,
				       int shared, struct ps_error *e);

/* Release the lock (the file stays); NULL is a no-op. */
void ps_lake_unlock(struct ps_lake_lock *l);

/*
 * Per-source state of several writers of one stream (shared locks):
 * append LAKE/_state/TOOL/STREAM.sources to b, the directory that holds,
 * per source, SAFE.lock and what travels with the source from one writer
 * to the next (silver: SAFE.dedup).  Cannot fail.
 */
void ps_lake_source_dir(struct ps_buf *b, const char *lake, const char *tool,
			const char *stream);

/*
 * Become the only writer of source (len bytes) of stream among the
 * shared holders: an exclusive flock on ps_lake_source_dir/SAFE.lock
 * (created, with the directory), waiting as ps_lake_lock does, and this
 * process's PID written into it.  *died is set to 1 when the file already
 * held a PID: its previous holder died while holding it (ps_lake_source_
 * unlock empties it), so files of an unfinished batch of the source may
 * be left.  Returns the lock, or NULL with e filled (75 still held: the
 * message names the holder's PID; 73 cannot create).
 */
struct ps_lake_lock *ps_lake_source_lock(const char *lake, const char *tool,
					 const char *stream,
					 const char *source, size_t len,
					 double wait, int *died,
					 struct ps_error *e);

/*
 * Release a source lock after everything written under it is committed
 * or removed again: the file is emptied, then unlocked.  NULL is a no-op.
 */
void ps_lake_source_unlock(struct ps_lake_lock *l);

#endif

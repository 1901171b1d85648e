/*
 * stage.h - how every stage writes to the lake: one writer per (stage,
 * stream), and one commit sequence, so that the order cannot differ
 * between stages (DESIGN.md, "Exactly once, with pipes"):
 *
 *   1. the files of the commit, each complete under its final name
 *      (ps_stage_add_file, or ps_stage_add_data for a file of a Delta
 *      table, called by the stage as each one is in place);
 *   2. the stage's private state (the save_state callback: silver's dedup
 *      window, gold's snapshot and alert levels);
 *   3. the commit point: the highest committed position per source, when
 *      the commit holds positions (plain input has none).  For a stage
 *      with Delta tables (ps_stage_opts.delta) that is the tables' logs:
 *      one version per table, in the order of ps_stage_opts.delta, each
 *      holding the table's add actions of the commit and one txn
 *      action per source (appId "TOOL/STREAM/SOURCE", ps_lake_txn_app_id;
 *      version the highest position); the last table's version is the
 *      commit point.  Without Delta tables it is LAKE/_state/TOOL/
 *      STREAM.json (lib/checkpoint.h);
 *   4. the records downstream (the emit callback), only now.
 *
 * When 1-3 fail, the files of the commit are removed again and the
 * committed positions stay as they were: nothing of the commit is
 * visible (lib/lake.h says what a reader sees).
 *
 * On open, a stage becomes the only writer of its tables for the stream
 * (lib/lake.h, ps_lake_lock), removes the temporary files a killed run of
 * it left, creates its Delta tables that do not exist yet (version 0:
 * protocol and metaData; a table that holds the part files of a lake table
 * of an older lake, with no _delta_log, is converted: version 0 adds the
 * files its old checkpoint covers, with a txn per source), loads its
 * committed positions, and removes the files of its tables that its
 * commit point does not cover (a commit that died between steps 1 and 3;
 * their records are processed again).
 *
 * Several Delta tables.  A stage with several commits them one after the
 * other; after a crash between two of them, the tables before the last
 * may be one commit ahead of the commit point (the last table's).
 *
 * Numbered commits (ps_stage_opts.numbered; ps-gold): a stage whose
 * private state must never run ahead of its tables commits the tables
 * first.  The sequence is then: 1. the files; 2. every table, one version
 * each in the order of ps_stage_opts.delta, even when the commit changes
 * nothing in it, holding the commit's remove and add actions and one txn
 * action with appId "TOOL/STREAM" whose version is the commit's number
 * (1 for new tables, else one more than the highest such txn of any of
 * the tables, so that it never repeats even after a crash between two
 * tables; every table's log entry is written and made durable first,
 * all at once, then each is linked into place in that order; the log
 * directories are synced after the last one, in the same wait as the
 * state's files when save_state seals them, ps_stage_seal, else at
 * once: before any file of the state is in place); 3.
 * the state; 4. the commit point, LAKE/_state/TOOL/
 * STREAM.json; 5. the records.  A table is created by its first commit
 * (version 0 holds protocol, metaData and that commit).  Data files are
 * new files named part-N.parquet (N the commit number in 20 digits,
 * ps_stage_new_data), never replaced in place, so that every version
 * stays readable until its removed files are vacuumed.  Between two
 * tables' versions a reader sees the earlier tables at commit N and the
 * later ones at N - 1, each complete.  On open, the files of the tables
 * that no version references (a commit that died before its log commit,
 * or a table of an older lake without a log) are removed; a table marked
 * keep_unlogged that holds Parquet files but no log is refused (78) once
 * a commit of the stage saved its state (before it, they are a killed
 * first commit's, and removed).  At
 * each table's checkpoint (every PS_DELTA_CHECKPOINT_INTERVAL versions)
 * the table is vacuumed (ps_delta_vacuum, files removed longer ago than
 * ps_stage_opts.keep_removed) and checkpointed without their tombstones:
 * a table rewritten at every commit would otherwise pile up removed files.
 * With numbered commits that maintenance is left to ps_stage_maintain,
 * after step 5: every table comes due at the same commit, and their
 * checkpoints would hold that commit's records back.
 *
 * Several writers (ps_stage_open_shared; Delta tables, positioned
 * sources only).  Each holds the stream's lock shared (lib/lake.h: a
 * single writer still excludes them all) and, while a batch of its own
 * holds a source, that source's lock (ps_lake_source_lock, taken and
 * released by the stage's user).  Open then removes only the temporaries
 * of writers no longer running, and no part file: those of a source
 * that no commit covers are removed by ps_stage_clean_source once the
 * source is locked.  Commits of several writers interleave in the log
 * (lib/delta.h retries at the next version); a commit whose txn another
 * writer committed meanwhile fails (75), which the source locks rule out.
 *
 * Test builds (compiled with -DPS_TEST_HOOKS) stop the process with
 * SIGSTOP at a named point when PS_TEST_STOP is TOOL:POINT:N (the N-th
 * time, counted from 1, that this process reaches POINT), after logging
 * "test hook: stopped" with the point; POINT is "file" (after each file of
 * step 1, that is between two renames), "state" (before step 2),
 * "commit" (before step 3), "checkpoint" (after a Delta commit that is due
 * a checkpoint, before it is written) or "emit" (before step 4); with
 * numbered commits also "data" (the files durable, before the first
 * table), "logs" (every table's log entry durable, none linked yet),
 * "table" (after each table's version) and "sealed" (in ps_stage_seal,
 * the caller's state files and the checkpoint durable, none in place).
 * Other builds ignore
 * the variable.
 */
#ifndef PS_STAGE_H
#define PS_STAGE_H

#include <stddef.h>
#include <stdint.h>

#include "checkpoint.h"
#include "delta.h"
#include "error.h"
#include "fsutil.h"
#include "lake.h"
#include "parquet.h"

/* A step of the sequence: returns 0, or -1 with e filled. */
typedef int (*ps_stage_fn)(void *ctx, struct ps_error *e);

/*
 * A Delta table a stage writes (lib/delta.h).  Strings and arrays are the
 * caller's and must live as long as the stage.
 */
struct ps_stage_table {
	const char *dir;			/* the table directory */
	const struct ps_pq_column *cols;	/* schema, to create it */
	size_t ncols;
	const char *const *part;		/* partition columns */
	size_t npart;
	int lake_table;		/* an enum ps_lake_table whose part files
				   the table holds (converted from an older
				   lake on open), or -1 */
	int keep_unlogged;	/* numbered: Parquet files without a log are
				   refused on open (78), not removed */
};

struct ps_stage_opts {
	const char *lake;
	const char *tool;		/* "ps-silver": lock and state */
	const char *stream;
	double lock_wait;		/* seconds (ps_lake_lock) */
	const enum ps_lake_table *tables;	/* the lake tables it writes */
	size_t ntables;
	const struct ps_stage_table *delta;	/* its Delta tables: the
						   commit point (above) */
	size_t ndelta;
	int numbered;		/* numbered commits (above) */
	int64_t keep_removed;	/* numbered: ms a removed file is kept */
};

struct ps_stage;

/*
 * Open the stage (see above).  Returns the stage, or NULL with e filled:
 * 75 another writer holds the lock, 73 the lake cannot be created, 74 a
 * file cannot be read or removed, 78 bad checkpoint file, 65 a Delta log
 * lib/delta cannot read.
 */
struct ps_stage *ps_stage_open(const struct ps_stage_opts *o,
			       struct ps_error *e);

/* ps_stage_open for one of several writers of the tables (above). */
struct ps_stage *ps_stage_open_shared(const struct ps_stage_opts *o,
				      struct ps_error *e);

/*
 * Abort any open commit (as ps_stage_abort), release the lock and free
 * st.  NULL is a no-op.
 */
void ps_stage_close(struct ps_stage *st);

/*
 * The committed positions (owned by st, updated by each commit).  A stage
 * whose private state records positions too may merge them in.
 */
struct ps_checkpoint *ps_stage_positions(struct ps_stage *st);

/*
 * A file of the open commit is complete under its final name path: it is
 * removed again if the commit fails.  path is copied.  Cannot fail.
 */
void ps_stage_add_file(struct ps_stage *st, const char *path);

/*
 * A data file of Delta table table (an index into ps_stage_opts.delta),
 * complete under its final name path (inside the table's directory), with
 * its partition values (npv pairs, copied): as ps_stage_add_file, and the
 * commit adds it to the table (size, time and stats read from the file at
 * commit).  Cannot fail.
 */
void ps_stage_add_data(struct ps_stage *st, size_t table, const char *path,
		       const char *const *pv_keys, const char *const *pv_vals,
		       size_t npv);

/*
 * Numbered commits: the path (caller frees) of a new data file of Delta
 * table table, TABLEDIR[/sub]/part-N.parquet (the K-th further file of
 * the commit in the same directory: part-N-K.parquet), registered in the
 * open commit as ps_stage_add_data (no partition values).  Write it
 * complete before ps_stage_commit.  Cannot fail.
 */
char *ps_stage_new_data(struct ps_stage *st, size_t table, const char *sub);

/*
 * Numbered commits: the open commit removes the active files of Delta
 * table table under its subdirectory sub, or the file sub (a path
 * relative to the table), or with sub NULL every file.  Cannot fail.
 */
void ps_stage_remove(struct ps_stage *st, size_t table, const char *sub);

/*
 * Numbered commits: 1 when the latest version of Delta table table is
 * this process's last commit and that commit reached every table (a
 * caller that knows the table's content did not change since may leave
 * it alone: its next version holds the txn alone), else 0.  It reads the
 * table's log: a version another writer added since (a compaction) makes
 * it 0, and the caller rewrites what it cannot know.
 */
int ps_stage_current(struct ps_stage *st, size_t table);

/*
 * For the save_state step of ps_stage_commit: make the caller's state
 * files f[0..n-1] (written, not committed) durable together with the
 * commit's checkpoint file (numbered commits, or without Delta tables)
 * and, with numbered commits, the log directories of the tables'
 * versions, several fsyncs at once (ps_afile_seal_with_dirs); each then
 * commits with its rename and its directory's fsync alone, the
 * checkpoint after the caller's state as before.  With numbered
 * commits a save_state that puts a file in place calls this first.
 * Test builds stop here at "sealed".
 * Returns 0, or -1 with e filled (74): the caller aborts its files.
 */
int ps_stage_seal(struct ps_stage *st, struct ps_afile *const *f, size_t n,
		  struct ps_error *e);

/*
 * Numbered commits: the identity of this process's last commit that
 * reached every table, for a caller that keeps a state of what it wrote
 * in them (ps-gold's files of ranges of rows): its number, then the
 * version it wrote of each table (in the order of ps_stage_opts.delta),
 * into v[0..max-1].  Returns the number of entries (ndelta + 1), or 0
 * when there is no such commit or max is too small.  Cannot fail.
 */
size_t ps_stage_last_commit(const struct ps_stage *st, int64_t *v,
			    size_t max);

/*
 * Numbered commits, before the first commit of this process: the
 * caller's state was saved by the commit whose identity ps_stage_last_commit
 * gave (n entries, kept by an earlier process).  When that commit is the
 * last one and reached every table, the stage takes it as its own:
 * ps_stage_current is then 1 for each table whose latest version is the
 * one that commit wrote.  Returns 1 so, else 0 (another number, a
 * crash between the tables and the caller's state, another table
 * list).  Cannot fail.
 */
int ps_stage_resume(struct ps_stage *st, const int64_t *v, size_t n);

/*
 * The snapshot of Delta table table as of this stage's last commit (owned
 * by st, updated by each commit).  Cannot fail.
 */
const struct ps_delta_snapshot *ps_stage_snapshot(struct ps_stage *st,
						  size_t table);

/*
 * Shared writers: remove the part files of source (len bytes) in the
 * stage's tables that committed (the positions committed, as the caller
 * read them from the log after locking the source) does not cover: the
 * files of a batch whose writer died.  Touches nothing a commit changes,
 * so another thread may call it while one runs.  Returns 0, or -1 with e
 * filled (74).
 */
int ps_stage_clean_source(const struct ps_stage *st,
			  const struct ps_checkpoint *committed,
			  const char *source, size_t len, struct ps_error *e);

/*
 * The open commit covers source (len bytes) up to position (keeping the
 * highest).  Cannot fail.
 */
void ps_stage_set_position(struct ps_stage *st, const char *source,
			   size_t len, long long position);

/*
 * Commit (steps 1-4 above): save_state and emit may be NULL; both get
 * ctx.  Returns 0; or -1 with e filled: when a step before the commit
 * point failed (the commit's files are then removed and the positions
 * are unchanged; with numbered commits, the tables committed before the
 * failure stay committed, their files too, and the number is used up),
 * or when emit failed (the commit stands).  Errors: 73/74 I/O, 75
 * another writer's conflicting commit, 65 a corrupt log, 66 a data file
 * that cannot be read, or save_state's.
 */
int ps_stage_commit(struct ps_stage *st, ps_stage_fn save_state,
		    ps_stage_fn emit, void *ctx, struct ps_error *e);

/*
 * Numbered commits: vacuum and checkpoint the tables whose version in
 * the last commit was due a checkpoint (see above), for a caller once
 * that commit's records are out; the next ps_stage_commit does it first
 * otherwise.  A failure is logged (the commit stands, the next
 * checkpoint tries again).  Cannot fail.
 */
void ps_stage_maintain(struct ps_stage *st);

/* Drop the open commit: remove its files, forget its positions. */
void ps_stage_abort(struct ps_stage *st);

#endif

/*
 * stage.h - how every stage writes to the lake: one writer per (stage,
 * stream), and one commit sequence, so that the order cannot differ
 * between stages (DESIGN.md, "Exactly once, with pipes"):
 *
 *   1. the files of the commit, each complete under its final name
 *      (ps_stage_add_file, called by the stage as each one is in place);
 *   2. the stage's private state (the save_state callback: silver's dedup
 *      window, gold's snapshot and alert levels);
 *   3. the commit point: the highest committed position per source
 *      (LAKE/_state/TOOL/STREAM.json, lib/checkpoint.h), when the commit
 *      holds positions (plain input has none);
 *   4. the records downstream (the emit callback), only now.
 *
 * When 1-3 fail, the files of the commit are removed again and the
 * committed positions stay as they were: nothing of the commit is
 * visible (lib/lake.h says what a reader sees).
 *
 * On open, a stage becomes the only writer of its tables for the stream
 * (lib/lake.h, ps_lake_lock), removes the temporary files a killed run of
 * it left, loads its committed positions, and removes the files of its
 * tables that its commit point does not cover (a commit that died between
 * steps 1 and 3; their records are processed again).
 *
 * Test builds (compiled with -DPS_TEST_HOOKS) stop the process with
 * SIGSTOP at a named point when PS_TEST_STOP is TOOL:POINT:N (the N-th
 * time, counted from 1, that this process reaches POINT), after logging
 * "test hook: stopped" with the point; POINT is "file" (after each file of
 * step 1, that is between two renames), "state" (before step 2),
 * "commit" (before step 3) or "emit" (before step 4), or a point the
 * stage names itself (ps_stage_test_point).  Other builds ignore the
 * variable.
 */
#ifndef PS_STAGE_H
#define PS_STAGE_H

#include <stddef.h>

#include "checkpoint.h"
#include "error.h"
#include "lake.h"

/* A step of the sequence: returns 0, or -1 with e filled. */
typedef int (*ps_stage_fn)(void *ctx, struct ps_error *e);

struct ps_stage_opts {
	const char *lake;
	const char *tool;		/* "ps-silver": lock and state */
	const char *stream;
	double lock_wait;		/* seconds (ps_lake_lock) */
	const enum ps_lake_table *tables;	/* the tables it writes */
	size_t ntables;
};

struct ps_stage;

/*
 * Open the stage (see above).  Returns the stage, or NULL with e filled:
 * 75 another writer holds the lock, 73 the lake cannot be created, 74 a
 * file cannot be read or removed, 78 bad checkpoint file.
 */
struct ps_stage *ps_stage_open(const struct ps_stage_opts *o,
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
 * The open commit covers source (len bytes) up to position (keeping the
 * highest).  Cannot fail.
 */
void ps_stage_set_position(struct ps_stage *st, const char *source,
			   size_t len, long long position);

/*
 * Commit (steps 1-4 above): save_state and emit may be NULL; both get
 * ctx.  Returns 0; or -1 with e filled: when a step before the commit
 * point failed (the commit's files are then removed and the positions
 * are unchanged), or when emit failed (the commit stands).
 */
int ps_stage_commit(struct ps_stage *st, ps_stage_fn save_state,
		    ps_stage_fn emit, void *ctx, struct ps_error *e);

/*
 * The test hook at a point of the stage's own (ps-gold: "data" once its
 * data files are durable, "table" after each table's Delta commit).
 * Cannot fail.
 */
void ps_stage_test_point(struct ps_stage *st, const char *point);

/* Drop the open commit: remove its files, forget its positions. */
void ps_stage_abort(struct ps_stage *st);

#endif

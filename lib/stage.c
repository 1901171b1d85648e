/* stage.c - see stage.h. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "log.h"
#include "pstime.h"
#include "stage.h"
#include "banned.h"

/* A data file of the open commit for a Delta table. */
struct dadd {
	char *rel;			/* relative to the table */
	char **pv;			/* keys, then values */
	size_t npv;
};

/* A Delta table of the stage: its snapshot and the open commit. */
struct dtable {
	struct ps_stage_table t;
	struct ps_delta_snapshot snap;
	struct dadd *adds;
	size_t nadds, capadds;
	char **rm;			/* numbered: subdirectories whose
					   files the commit removes */
	size_t nrm;
	int rm_all;			/* numbered: every file */
	int64_t txn;			/* numbered: its TOOL/STREAM txn */
	int64_t own;			/* the version this process wrote
					   last, or -1 */
	int64_t due, due_ms;		/* numbered: a checkpoint version
					   to maintain after the commit, or
					   0; its commit time */
	struct ps_delta_commit *c;	/* the open commit, made at commit */
};

struct ps_stage {
	struct ps_stage_opts o;
	char *lake, *tool, *stream;
	enum ps_lake_table *tables;
	struct dtable *dt;
	struct ps_lake_lock *lock;
	struct ps_checkpoint *committed;
	struct ps_checkpoint *pending;	/* positions of the open commit */
	char **files;			/* files of the open commit */
	size_t nfiles, capfiles;
	char *app_id;			/* numbered: "TOOL/STREAM" */
	int64_t seq;			/* numbered: the last commit's number */
	int64_t last_ok;		/* numbered: the number of this
					   process's last commit that reached
					   every table, or 0 */
	int shared;			/* one of several writers */
	/* numbered, or without Delta tables: the checkpoint of the open
	 * commit, written before the caller's state and committed after it
	 * (ps_stage_seal), and the positions it holds */
	struct ps_afile cpf;
	struct ps_checkpoint *cpnext;
	/* numbered: the log directories of the tables' versions linked,
	 * to fsync with the state files (ps_stage_seal) */
	char **logdirs;
	size_t nlogdirs;
	/* the parents sync_dirs made durable last, and ps_fs_dirs_made
	 * then: while no directory is made, their entries stay durable;
	 * and the files' directories that existed when their parents were
	 * synced (sorted): a directory not among them may be another
	 * process's (a shared table, the quarantine), its entry not durable */
	char **synced;
	size_t nsynced;
	unsigned long long made_then;
	char **known;
	size_t nknown;
};

/* ---- the test hook ---- */

#ifdef PS_TEST_HOOKS
static void hook(const struct ps_stage *st, const char *point)
{
	static long seen;
	const char *v = getenv("PS_TEST_STOP");
	size_t tl = strlen(st->tool), pl = strlen(point);

	if (!v || strncmp(v, st->tool, tl) || v[tl] != ':' ||
	    strncmp(v + tl + 1, point, pl) || v[tl + 1 + pl] != ':')
		return;
	if (++seen != atol(v + tl + 2 + pl))
		return;
	ps_log(PS_WARN, "test hook: stopped", PS_S("point", point),
	       PS_I("pid", (long long)getpid()));
	raise(SIGSTOP);
}
#else
static void hook(const struct ps_stage *st, const char *point)
{
	(void)st;
	(void)point;
}
#endif

/* ---- open: lock, temporaries, positions, uncommitted files ---- */

/* Remove dir's entries that start with prefix and contain ".tmp-" (with
 * keep_live, not those whose writer is running). */
static void remove_temps(const char *dir, const char *prefix,
			 const char *not_prefix, int keep_live)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t pl = strlen(prefix), nl = not_prefix ? strlen(not_prefix) : 0;

	if (!d)
		return;
	while ((de = readdir(d))) {
		char *p;

		if (strncmp(de->d_name, prefix, pl) ||
		    !strstr(de->d_name, ".tmp-") ||
		    (nl && !strncmp(de->d_name, not_prefix, nl)) ||
		    (keep_live && ps_temp_writer_alive(de->d_name)))
			continue;
		p = ps_path_join(dir, de->d_name);
		if (unlink(p) == 0)
			ps_log(PS_INFO, "removed a temporary file of a "
			       "killed run", PS_S("path", p));
		free(p);
	}
	closedir(d);
}

/*
 * In each partition directory of table t: remove the temporaries of its
 * writer (".part-..." names; in the shared quarantine area, silver's are
 * those not starting ".part-bronze-").  The lock guarantees that no other
 * writer of t is running, unless it is shared (keep_live: the temporaries
 * of running writers stay).
 */
static void remove_table_temps(const char *lake, enum ps_lake_table t,
			       const char *stream, int keep_live)
{
	char *root = ps_lake_dir(lake, t, stream);
	DIR *d = opendir(root);
	struct dirent *de;

	if (d) {
		while ((de = readdir(d))) {
			char *p;

			if (de->d_name[0] == '.' || !strchr(de->d_name, '='))
				continue;
			p = ps_path_join(root, de->d_name);
			if (t == PS_LAKE_BRONZE_QUARANTINE)
				remove_temps(p, ".part-bronze-", NULL,
					     keep_live);
			else if (t == PS_LAKE_SILVER_QUARANTINE)
				remove_temps(p, ".part-", ".part-bronze-",
					     keep_live);
			else
				remove_temps(p, ".part-", NULL, keep_live);
			free(p);
		}
		closedir(d);
	}
	free(root);
}

/* The Delta table of the stage that holds lake table t, or NULL. */
static const struct dtable *delta_of(const struct ps_stage *st,
				     enum ps_lake_table t)
{
	size_t i;

	for (i = 0; i < st->o.ndelta; i++)
		if (st->dt[i].t.lake_table == (int)t)
			return &st->dt[i];
	return NULL;
}

/* 1 when the snapshot of dt references the file at path (as an active
 * file or a tombstone). */
static int referenced(const struct dtable *dt, const char *path)
{
	size_t dl = strlen(dt->t.dir);

	if (strncmp(path, dt->t.dir, dl) || path[dl] != '/')
		return 0;
	return ps_delta_snapshot_find(&dt->snap, path + dl + 1, 1) != NULL;
}

/*
 * Remove the files of t that the positions committed do not cover; for a
 * table held in a Delta table, the files of plain-input runs (which have
 * no positions) that no version references.  With safe, only the files of
 * that source (its safe form), and none of plain-input runs.
 */
static int remove_uncommitted(const struct ps_stage *st,
			      enum ps_lake_table t, const char *safe,
			      const struct ps_checkpoint *committed,
			      struct ps_error *e)
{
	struct ps_lake_parts fs = PS_LAKE_PARTS_INIT;
	const struct dtable *dt = delta_of(st, t);
	size_t i;
	int rc;

	rc = ps_lake_list(st->lake, t, st->stream, &fs, e);
	for (i = 0; rc == 0 && i < fs.n; i++) {
		if (safe && (fs.v[i].run >= 0 || strcmp(fs.v[i].safe, safe)))
			continue;
		if (dt && fs.v[i].run >= 0 ? referenced(dt, fs.v[i].path) :
		    ps_lake_covered(t, &fs.v[i], committed))
			continue;
		ps_log(PS_WARN, "removing a file of an unfinished commit",
		       PS_S("file", fs.v[i].path));
		if (unlink(fs.v[i].path) < 0 && errno != ENOENT)
			rc = ps_error_errno(e, PS_EX_IOERR, errno,
					    "cannot remove %s", fs.v[i].path);
	}
	ps_lake_parts_release(&fs);
	return rc;
}

/* The path of a file of dt relative to its directory (NULL: outside). */
static const char *rel_of(const struct dtable *dt, const char *path)
{
	size_t dl = strlen(dt->t.dir);

	if (strncmp(path, dt->t.dir, dl) || path[dl] != '/')
		return NULL;
	return path + dl + 1;
}

/*
 * Version 0 of dt's table.  When the table holds a lake table whose files
 * an older lake left (no _delta_log), convert: add the files its old
 * checkpoint (LAKE/_state/TOOL/STREAM.json) covers, with a txn per
 * source, and keep that file as STREAM.pre-delta.json.  Another writer
 * creating the table at the same time wins; its version 0 is loaded.
 */
static int create_table(struct ps_stage *st, struct dtable *dt,
			struct ps_error *e)
{
	struct ps_delta_commit *c;
	struct ps_lake_parts fs = PS_LAKE_PARTS_INIT;
	struct ps_checkpoint *old = ps_checkpoint_new();
	struct ps_buf app = PS_BUF_INIT;
	int64_t now = ps_time_now() / 1000, v;
	char *cpp = NULL;
	size_t i, nadded = 0;
	int rc = -1;

	if (dt->t.lake_table >= 0) {
		if (ps_checkpoint_load(old, st->lake, st->tool, st->stream,
				       e) < 0 ||
		    ps_lake_list(st->lake, (enum ps_lake_table)dt->t.lake_table,
				 st->stream, &fs, e) < 0)
			goto done;
	}
	c = ps_delta_commit_new(fs.n || ps_checkpoint_count(old) ?
				"CONVERT" : "CREATE TABLE", -1);
	if (ps_delta_commit_create(c, NULL, dt->t.cols, dt->t.ncols,
				   dt->t.part, dt->t.npart, now, e) < 0)
		goto fail;
	for (i = 0; i < fs.n; i++) {
		const struct ps_lake_part *f = &fs.v[i];
		const char *val = f->partition, *rel = rel_of(dt, f->path);

		if (!rel || !ps_lake_covered((enum ps_lake_table)
					     dt->t.lake_table, f, old))
			continue;
		if (ps_delta_commit_add_file(c, dt->t.dir, rel, dt->t.part,
					     &val, dt->t.npart ? 1 : 0, 1,
					     e) < 0)
			goto fail;
		nadded++;
	}
	for (i = 0; i < ps_checkpoint_count(old); i++) {
		const char *src;
		size_t len;
		long long pos;

		ps_checkpoint_entry(old, i, &src, &len, &pos);
		ps_buf_reset(&app);
		ps_lake_txn_app_id(&app, st->tool, st->stream, src, len);
		ps_delta_commit_txn(c, app.data, pos, now);
	}
	if (ps_mkdir_durable(dt->t.dir, 0755, e) < 0)
		goto fail;
	if (ps_delta_commit_write(dt->t.dir, c, now, 0, &v, e) < 0) {
		/* another writer created it first */
		if (e->code != PS_EX_TEMPFAIL ||
		    ps_delta_snapshot_load(dt->t.dir, -1, &dt->snap, e) < 0 ||
		    dt->snap.version < 0)
			goto fail;
		rc = 0;
		goto fail;
	}
	if (fs.n || ps_checkpoint_count(old)) {
		ps_log(PS_WARN, "converted a table of an older lake to Delta",
		       PS_S("table", dt->t.dir), PS_I("files", (long long)nadded),
		       PS_I("sources", (long long)ps_checkpoint_count(old)));
		cpp = ps_checkpoint_path(st->lake, st->tool, st->stream);
		if (ps_checkpoint_count(old)) {
			struct ps_buf nb = PS_BUF_INIT;

			ps_buf_add(&nb, cpp, strlen(cpp) - 5);	/* ".json" */
			ps_buf_adds(&nb, ".pre-delta.json");
			if (rename(cpp, nb.data) < 0)
				ps_log(PS_WARN, "cannot rename the old "
				       "checkpoint", PS_S("path", cpp),
				       PS_S("err", strerror(errno)));
			ps_buf_release(&nb);
		}
	}
	rc = ps_delta_snapshot_load(dt->t.dir, -1, &dt->snap, e);
fail:
	ps_delta_commit_free(c);
done:
	free(cpp);
	ps_buf_release(&app);
	ps_lake_parts_release(&fs);
	ps_checkpoint_free(old);
	return rc;
}

static int is_part_file(const char *name)
{
	size_t n = strlen(name);

	return !strncmp(name, "part-", 5) && n > 13 &&
	       !strcmp(name + n - 8, ".parquet");
}

/*
 * The part files under dir (rel: its path in the table, "" at the top;
 * one level of "key=value" subdirectories) that the snapshot of dt does
 * not reference (none when it has no log) are counted in *found and,
 * unless dry, removed.
 */
static int sweep(const struct dtable *dt, const char *dir, const char *rel,
		 int depth, int dry, size_t *found, struct ps_error *e)
{
	DIR *dh = opendir(dir);
	struct dirent *de;
	int rc = 0;

	if (!dh)
		return errno == ENOENT ? 0 :
		       ps_error_errno(e, PS_EX_IOERR, errno, "cannot list %s",
				      dir);
	while (rc == 0 && (de = readdir(dh))) {
		struct ps_buf r = PS_BUF_INIT;
		char *p;

		if (de->d_name[0] == '.' || de->d_name[0] == '_')
			continue;
		p = ps_path_join(dir, de->d_name);
		ps_buf_addf(&r, "%s%s%s", rel, *rel ? "/" : "", de->d_name);
		if (is_part_file(de->d_name)) {
			if (!ps_delta_snapshot_find(&dt->snap, r.data, 1)) {
				(*found)++;
				if (!dry && unlink(p) < 0 && errno != ENOENT)
					rc = ps_error_errno(e, PS_EX_IOERR,
							    errno, "cannot "
							    "remove %s", p);
				else if (!dry)
					ps_log(PS_INFO, "removed a file no "
					       "version references",
					       PS_S("file", p));
			}
		} else if (depth > 0 && strchr(de->d_name, '=')) {
			rc = sweep(dt, p, r.data, depth - 1, dry, found, e);
		}
		ps_buf_release(&r);
		free(p);
	}
	closedir(dh);
	return rc;
}

/*
 * 1 when a commit of the stage saved its state: a file STREAM.* in its
 * state directory (the checkpoint, or the caller's state, which plain
 * input without positions saves alone); temporaries are hidden.
 */
static int committed_before(const struct ps_stage *st)
{
	char *dir = ps_checkpoint_path(st->lake, st->tool, st->stream);
	size_t sl = strlen(st->stream);
	struct dirent *de;
	DIR *d;
	int r = 0;

	*strrchr(dir, '/') = '\0';
	d = opendir(dir);
	while (d && !r && (de = readdir(d)))
		r = !strncmp(de->d_name, st->stream, sl) &&
		    de->d_name[sl] == '.';
	if (d)
		closedir(d);
	free(dir);
	return r;
}

/*
 * Numbered commits, a table loaded on open (created by its first commit):
 * refuse it or remove the files no version references, take the commit
 * number from its txn.
 */
static int open_numbered(struct ps_stage *st, struct dtable *dt,
			 struct ps_error *e)
{
	size_t found = 0;

	/* Only once a commit of this stage saved its state: before it, such
	 * files are a killed first commit's. */
	if (dt->snap.version < 0 && dt->t.keep_unlogged &&
	    committed_before(st)) {
		if (sweep(dt, dt->t.dir, "", 1, 1, &found, e) < 0)
			return -1;
		if (found)
			return ps_error_set(e, PS_EX_CONFIG, "%s has Parquet "
					    "files but no Delta log (written "
					    "before %s wrote Delta tables): "
					    "rebuild it (remove the tables "
					    "and LAKE/_state/%s, then %s "
					    "--catch-up)", dt->t.dir, st->tool,
					    st->tool, st->tool);
	}
	if (sweep(dt, dt->t.dir, "", 1, 0, &found, e) < 0)
		return -1;
	dt->txn = ps_delta_txn_version(&dt->snap, st->app_id);
	dt->own = -1;
	if (dt->txn > st->seq)
		st->seq = dt->txn;
	return 0;
}

/* Load (or create) the Delta tables; positions from the last one. */
static int open_tables(struct ps_stage *st, struct ps_error *e)
{
	size_t i;

	for (i = 0; i < st->o.ndelta; i++) {
		struct dtable *dt = &st->dt[i];
		char *ld = ps_path_join(dt->t.dir, "_delta_log");

		/* log entries of a killed commit: all of them when this is
		 * the table's one writer (a dead writer's process id may be
		 * a live process's now); else a live writer's are kept */
		remove_temps(ld, ".", NULL, st->shared);
		free(ld);
		if (ps_delta_snapshot_load(dt->t.dir, -1, &dt->snap, e) < 0)
			return -1;
		if (st->o.numbered ? open_numbered(st, dt, e) < 0 :
		    dt->snap.version < 0 && create_table(st, dt, e) < 0)
			return -1;
	}
	if (!st->o.numbered)
		ps_lake_delta_positions(&st->dt[st->o.ndelta - 1].snap,
					st->tool, st->stream, st->committed);
	return 0;
}

static struct ps_stage *stage_open(const struct ps_stage_opts *o,
				   int shared, struct ps_error *e)
{
	struct ps_stage *st = ps_xcalloc(1, sizeof(*st));
	struct ps_buf b = PS_BUF_INIT;
	char *cpp;
	size_t i;

	st->o = *o;
	st->shared = shared;
	st->cpf = (struct ps_afile)PS_AFILE_INIT;
	st->lake = ps_xstrdup(o->lake);
	st->tool = ps_xstrdup(o->tool);
	st->stream = ps_xstrdup(o->stream);
	st->o.lake = st->lake;
	st->o.tool = st->tool;
	st->o.stream = st->stream;
	if (o->ntables) {
		st->tables = ps_xmalloc(o->ntables * sizeof(*st->tables));
		memcpy(st->tables, o->tables,
		       o->ntables * sizeof(*st->tables));
	}
	st->o.tables = st->tables;
	if (o->ndelta) {
		st->dt = ps_xcalloc(o->ndelta, sizeof(*st->dt));
		for (i = 0; i < o->ndelta; i++) {
			struct ps_delta_snapshot s0 = PS_DELTA_SNAPSHOT_INIT;

			st->dt[i].t = o->delta[i];
			st->dt[i].snap = s0;
		}
	}
	st->committed = ps_checkpoint_new();
	st->pending = ps_checkpoint_new();
	ps_buf_addf(&b, "%s/%s", o->tool, o->stream);
	st->app_id = ps_buf_detach(&b, NULL);
	if (ps_mkdir_durable(o->lake, 0755, e) < 0)
		goto fail;
	st->lock = ps_lake_lock_mode(o->lake, o->tool, o->stream,
				     o->lock_wait, shared, e);
	if (!st->lock)
		goto fail;
	/* State temporaries: ".STREAM.<anything>.tmp-PID". */
	cpp = ps_checkpoint_path(o->lake, o->tool, o->stream);
	*strrchr(cpp, '/') = '\0';
	ps_buf_addf(&b, ".%s.", o->stream);
	remove_temps(cpp, b.data, NULL, shared);
	free(cpp);
	ps_buf_reset(&b);
	if (shared) {
		ps_lake_source_dir(&b, o->lake, o->tool, o->stream);
		ps_remove_stale_temps(b.data);
	}
	ps_buf_release(&b);
	for (i = 0; i < o->ntables; i++)
		remove_table_temps(o->lake, o->tables[i], o->stream,
				   shared);
	if (o->ndelta && open_tables(st, e) < 0)
		goto fail;
	if (o->ndelta && !o->numbered) {
		/* positions from the tables (open_tables) */
	} else if (o->ntables) {
		if (ps_lake_committed(o->lake, o->tables[0], o->stream,
				      st->committed, e) < 0)
			goto fail;
	} else if (ps_checkpoint_load(st->committed, o->lake, o->tool,
				      o->stream, e) < 0) {
		goto fail;
	}
	/* Shared: each source when it is locked (ps_stage_clean_source). */
	for (i = 0; i < o->ntables && !shared; i++)
		if (remove_uncommitted(st, o->tables[i], NULL, st->committed,
				       e) < 0)
			goto fail;
	return st;
fail:
	ps_stage_close(st);
	return NULL;
}

struct ps_stage *ps_stage_open(const struct ps_stage_opts *o,
			       struct ps_error *e)
{
	return stage_open(o, 0, e);
}

struct ps_stage *ps_stage_open_shared(const struct ps_stage_opts *o,
				      struct ps_error *e)
{
	return stage_open(o, 1, e);
}

static void dtable_forget(struct dtable *dt)
{
	size_t i, k;

	for (i = 0; i < dt->nrm; i++)
		free(dt->rm[i]);
	free(dt->rm);
	dt->rm = NULL;
	dt->nrm = 0;
	dt->rm_all = 0;

	for (i = 0; i < dt->nadds; i++) {
		free(dt->adds[i].rel);
		for (k = 0; k < 2 * dt->adds[i].npv; k++)
			free(dt->adds[i].pv[k]);
		free(dt->adds[i].pv);
	}
	dt->nadds = 0;
	ps_delta_commit_free(dt->c);
	dt->c = NULL;
}

/* Free the *n strings of *v and the array: none left. */
static void strs_free(char ***v, size_t *n)
{
	size_t i;

	for (i = 0; i < *n; i++)
		free((*v)[i]);
	free(*v);
	*v = NULL;
	*n = 0;
}

void ps_stage_close(struct ps_stage *st)
{
	size_t i;

	if (!st)
		return;
	ps_stage_abort(st);
	ps_lake_unlock(st->lock);
	for (i = 0; i < st->o.ndelta; i++) {
		dtable_forget(&st->dt[i]);
		free(st->dt[i].adds);
		ps_delta_snapshot_release(&st->dt[i].snap);
	}
	free(st->dt);
	strs_free(&st->synced, &st->nsynced);
	strs_free(&st->known, &st->nknown);
	ps_checkpoint_free(st->committed);
	ps_checkpoint_free(st->pending);
	free(st->files);
	free(st->tables);
	free(st->app_id);
	free(st->lake);
	free(st->tool);
	free(st->stream);
	free(st);
}

struct ps_checkpoint *ps_stage_positions(struct ps_stage *st)
{
	return st->committed;
}

const struct ps_delta_snapshot *ps_stage_snapshot(struct ps_stage *st,
						  size_t table)
{
	return &st->dt[table].snap;
}

int ps_stage_clean_source(const struct ps_stage *st,
			  const struct ps_checkpoint *committed,
			  const char *source, size_t len, struct ps_error *e)
{
	struct ps_buf safe = PS_BUF_INIT;
	size_t i;
	int rc = 0;

	ps_lake_safe_source(&safe, source, len);
	for (i = 0; i < st->o.ntables && rc == 0; i++)
		rc = remove_uncommitted(st, st->o.tables[i], safe.data,
					committed, e);
	ps_buf_release(&safe);
	return rc;
}

/* ---- the commit ---- */

void ps_stage_add_file(struct ps_stage *st, const char *path)
{
	if (st->nfiles == st->capfiles) {
		st->capfiles = st->capfiles ? st->capfiles * 2 : 16;
		st->files = ps_xrealloc(st->files,
					st->capfiles * sizeof(*st->files));
	}
	st->files[st->nfiles++] = ps_xstrdup(path);
	hook(st, "file");
}

void ps_stage_add_data(struct ps_stage *st, size_t table, const char *path,
		       const char *const *pv_keys, const char *const *pv_vals,
		       size_t npv)
{
	struct dtable *dt = &st->dt[table];
	struct dadd *a;
	size_t k;

	if (dt->nadds == dt->capadds) {
		dt->capadds = dt->capadds ? dt->capadds * 2 : 16;
		dt->adds = ps_xrealloc(dt->adds,
				       dt->capadds * sizeof(*dt->adds));
	}
	a = &dt->adds[dt->nadds++];
	a->rel = ps_xstrdup(rel_of(dt, path) ? rel_of(dt, path) : path);
	a->npv = npv;
	a->pv = ps_xcalloc(2 * npv + 1, sizeof(*a->pv));
	for (k = 0; k < npv; k++) {
		a->pv[k] = ps_xstrdup(pv_keys[k]);
		a->pv[npv + k] = pv_vals[k] ? ps_xstrdup(pv_vals[k]) : NULL;
	}
	ps_stage_add_file(st, path);
}

char *ps_stage_new_data(struct ps_stage *st, size_t table, const char *sub)
{
	const struct dtable *dt = &st->dt[table];
	struct ps_buf b = PS_BUF_INIT;
	size_t k, same = 0, sl = sub ? strlen(sub) : 0;
	char *p;

	/* the files already in sub: part-N-K.parquet for the K-th */
	for (k = 0; k < dt->nadds; k++) {
		const char *r = dt->adds[k].rel, *slash = strrchr(r, '/');
		size_t dl = slash ? (size_t)(slash - r) : 0;

		same += dl == sl && (!sl || !strncmp(r, sub, sl));
	}
	ps_buf_adds(&b, dt->t.dir);
	if (sub)
		ps_buf_addf(&b, "/%s", sub);
	ps_buf_addf(&b, "/part-%020lld", (long long)(st->seq + 1));
	if (same)
		ps_buf_addf(&b, "-%zu", same);
	ps_buf_adds(&b, ".parquet");
	p = ps_buf_detach(&b, NULL);
	ps_stage_add_data(st, table, p, NULL, NULL, 0);
	return p;
}

void ps_stage_remove(struct ps_stage *st, size_t table, const char *sub)
{
	struct dtable *dt = &st->dt[table];

	if (!sub) {
		dt->rm_all = 1;
		return;
	}
	dt->rm = ps_xrealloc(dt->rm, (dt->nrm + 1) * sizeof(*dt->rm));
	dt->rm[dt->nrm++] = ps_xstrdup(sub);
}

size_t ps_stage_last_commit(const struct ps_stage *st, int64_t *v,
			    size_t max)
{
	size_t i;

	if (!st->o.numbered || st->last_ok <= 0 || st->last_ok != st->seq ||
	    max < st->o.ndelta + 1)
		return 0;
	v[0] = st->seq;
	for (i = 0; i < st->o.ndelta; i++)
		v[i + 1] = st->dt[i].own;
	return st->o.ndelta + 1;
}

int ps_stage_resume(struct ps_stage *st, const int64_t *v, size_t n)
{
	size_t i;

	if (!st->o.numbered || st->last_ok || n != st->o.ndelta + 1 ||
	    v[0] <= 0 || v[0] != st->seq)
		return 0;
	for (i = 0; i < st->o.ndelta; i++)
		if (st->dt[i].txn != st->seq || v[i + 1] < 0)
			return 0;
	for (i = 0; i < st->o.ndelta; i++)
		st->dt[i].own = v[i + 1];
	st->last_ok = st->seq;
	return 1;
}

int ps_stage_current(struct ps_stage *st, size_t table)
{
	struct dtable *dt = &st->dt[table];
	struct ps_error e = { 0, "" };

	if (!(st->last_ok > 0 && st->last_ok == st->seq &&
	      dt->txn == st->seq))
		return 0;
	/* another writer's version since ours (a compaction, a vacuum's
	 * log) changed the files: what this process knows of them is old */
	if (ps_delta_snapshot_update(dt->t.dir, &dt->snap, &e) < 0) {
		ps_log(PS_WARN, "table not current", PS_S("error", e.msg));
		return 0;
	}
	return dt->snap.version == dt->own;
}

void ps_stage_set_position(struct ps_stage *st, const char *source,
			   size_t len, long long position)
{
	ps_checkpoint_set(st->pending, source, len, position);
}

static void forget(struct ps_stage *st)
{
	size_t i;

	strs_free(&st->logdirs, &st->nlogdirs);
	for (i = 0; i < st->nfiles; i++)
		free(st->files[i]);
	st->nfiles = 0;
	for (i = 0; i < st->o.ndelta; i++)
		dtable_forget(&st->dt[i]);
	ps_checkpoint_free(st->pending);
	st->pending = ps_checkpoint_new();
	ps_afile_abort(&st->cpf);
	ps_checkpoint_free(st->cpnext);
	st->cpnext = NULL;
}

void ps_stage_abort(struct ps_stage *st)
{
	size_t i;

	/* the tables' versions linked stay committed */
	ps_fsync_dirs((const char *const *)st->logdirs, st->nlogdirs, NULL);

	for (i = 0; i < st->nfiles; i++)
		if (unlink(st->files[i]) == 0)
			ps_log(PS_WARN, "commit failed: file removed",
			       PS_S("file", st->files[i]));
	forget(st);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Is each of the n sorted strings d[] among the sorted v[]? */
static int all_in(char *const *d, size_t n, char *const *v, size_t nv)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!bsearch(&d[i], v, nv, sizeof(*d), cmp_str))
			return 0;
	return 1;
}

/* The most directories st->known holds: past it, it starts again. */
#define KNOWN_MAX 65536

/* Add the n sorted directories d[] (taken) to st->known. */
static void know(struct ps_stage *st, char **d, size_t n)
{
	if (st->nknown + n > KNOWN_MAX)
		strs_free(&st->known, &st->nknown);
	st->known = ps_xrealloc(st->known, (st->nknown + n + 1) *
				sizeof(*st->known));
	memcpy(st->known + st->nknown, d, n * sizeof(*d));
	st->nknown = ps_strs_sort_unique(st->known, st->nknown + n);
	free(d);
}

/*
 * Make the renames durable: fsync the directory of every file and its
 * parent (a partition directory may be new).  Writers fsync the file and
 * its directory already; this covers the directories they created.  The
 * parents this process synced last are left alone while it made no
 * directory since and every file is in a directory that existed when
 * they were synced (their entries are the same, and durable); a
 * directory made by another process (a shared table's writers, bronze
 * and silver in the quarantine) is synced again.
 */
static int sync_dirs(struct ps_stage *st, struct ps_error *e)
{
	char **d, **fd;
	size_t i, k, nf, n = 0;
	unsigned long long made = ps_fs_dirs_made();
	int rc;

	if (!st->nfiles)
		return 0;
	d = ps_xmalloc(st->nfiles * sizeof(*d));
	fd = ps_xmalloc(st->nfiles * sizeof(*fd));
	for (i = 0; i < st->nfiles; i++) {
		char *s = ps_xstrdup(st->files[i]), *slash;

		slash = strrchr(s, '/');
		if (slash && slash != s)
			*slash = '\0';
		fd[n] = ps_xstrdup(s);	/* the file's directory */
		slash = strrchr(s, '/');
		if (slash && slash != s)
			*slash = '\0';	/* the partition's parent */
		d[n++] = s;
	}
	k = ps_strs_sort_unique(d, n);
	nf = ps_strs_sort_unique(fd, n);
	if (st->nsynced && made == st->made_then &&
	    all_in(d, k, st->synced, st->nsynced) &&
	    all_in(fd, nf, st->known, st->nknown)) {
		rc = 0;
	} else {
		strs_free(&st->synced, &st->nsynced);
		rc = ps_fsync_dirs((const char *const *)d, k, e);
		if (rc == 0) {
			st->synced = d;		/* sorted, as bsearch needs */
			st->nsynced = k;
			st->made_then = made;
			know(st, fd, nf);
			return 0;
		}
	}
	for (i = 0; i < k; i++)
		free(d[i]);
	free(d);
	for (i = 0; i < nf; i++)
		free(fd[i]);
	free(fd);
	return rc;
}

/* The files of the open commit that belong to dt are committed: an abort
 * must leave them. */
static void keep_files(struct ps_stage *st, const struct dtable *dt)
{
	size_t i, k = 0;

	for (i = 0; i < st->nfiles; i++) {
		if (rel_of(dt, st->files[i]))
			free(st->files[i]);
		else
			st->files[k++] = st->files[i];
	}
	st->nfiles = k;
}

/*
 * At a checkpoint version v: write the checkpoint.  With numbered
 * commits, first vacuum the files removed longer ago than keep_removed,
 * leave their tombstones out of the checkpoint and reload the snapshot
 * from it (which drops them).  A failure is logged: the commit stands,
 * the next checkpoint tries again.
 */
static void maintain(struct ps_stage *st, struct dtable *dt, int64_t v,
		     int64_t now)
{
	struct ps_delta_maint m;
	struct ps_error ce = { 0, "" };
	int64_t keep = st->o.numbered ? st->o.keep_removed : -1;

	if (keep >= 0 && ps_delta_vacuum(dt->t.dir, keep, now, 0, NULL, NULL,
					 &m, &ce) < 0) {
		ps_log(PS_WARN, "vacuum failed (the commit stands)",
		       PS_S("table", dt->t.dir), PS_S("err", ce.msg));
		return;
	}
	hook(st, "checkpoint");
	if (ps_delta_checkpoint(dt->t.dir, v, now, keep, &ce) < 0)
		ps_log(PS_WARN, "delta checkpoint failed (the commit stands)",
		       PS_S("table", dt->t.dir), PS_I("version", v),
		       PS_S("err", ce.msg));
	else if (keep >= 0 &&
		 ps_delta_snapshot_load(dt->t.dir, -1, &dt->snap, &ce) < 0)
		ps_log(PS_WARN, "cannot reload the table after its checkpoint",
		       PS_S("table", dt->t.dir), PS_S("err", ce.msg));
}

/* Does the open commit of dt remove its active file at path? */
static int removed(const struct dtable *dt, const char *path)
{
	size_t i, n;

	if (dt->rm_all)
		return 1;
	for (i = 0; i < dt->nrm; i++) {
		n = strlen(dt->rm[i]);
		if (!strncmp(path, dt->rm[i], n) &&
		    (path[n] == '/' || !path[n]))
			return 1;
	}
	return 0;
}

/*
 * The version of dt in the open commit (dt->c): its removes and adds, and
 * its txns: one per source of the commit (appId TOOL/STREAM/SOURCE, the
 * highest position), or with numbered commits one TOOL/STREAM whose
 * version is the commit number seq, its log entry then staged
 * (ps_delta_commit_stage: written, not yet durable nor visible).
 * Returns 0 or -1 with e filled.
 */
static int table_prepare(struct ps_stage *st, struct dtable *dt, int64_t seq,
			 int64_t now, struct ps_error *e)
{
	size_t k, np = ps_checkpoint_count(st->pending);
	int rc = 0;

	/*
	 * Shared: read from the version the log has now.  The sources of
	 * the commit were locked (and their positions read from the log)
	 * after our last commit; a commit of theirs by another writer
	 * before that is no conflict.
	 */
	if (st->shared && ps_delta_snapshot_update(dt->t.dir, &dt->snap, e) < 0)
		return -1;
	dt->c = ps_delta_commit_new("WRITE", dt->snap.version);
	if (seq > 0)
		ps_delta_commit_defer_dir_sync(dt->c);	/* commit_numbered */
	if (dt->snap.version < 0)
		rc = ps_delta_commit_create(dt->c, NULL, dt->t.cols,
					    dt->t.ncols, dt->t.part,
					    dt->t.npart, now, e);
	for (k = 0; rc == 0 && k < dt->snap.nfiles; k++)
		if (removed(dt, dt->snap.files[k].path))
			ps_delta_commit_remove(dt->c, &dt->snap.files[k], now,
					       1);
	for (k = 0; rc == 0 && k < dt->nadds; k++)
		rc = ps_delta_commit_add_file(
			dt->c, dt->t.dir, dt->adds[k].rel,
			(const char *const *)dt->adds[k].pv,
			(const char *const *)dt->adds[k].pv + dt->adds[k].npv,
			dt->adds[k].npv, 1, e);
	if (seq > 0) {
		ps_delta_commit_txn(dt->c, st->app_id, seq, now);
		if (rc == 0)
			rc = ps_delta_commit_stage(dt->t.dir, dt->c, now, e);
	} else {
		struct ps_buf app = PS_BUF_INIT;

		for (k = 0; k < np; k++) {
			const char *src;
			size_t len;
			long long pos;

			ps_checkpoint_entry(st->pending, k, &src, &len, &pos);
			ps_buf_reset(&app);
			ps_lake_txn_app_id(&app, st->tool, st->stream, src,
					   len);
			ps_delta_commit_txn(dt->c, app.data, pos, now);
		}
		ps_buf_release(&app);
	}
	return rc;
}

/*
 * Commit the version table_prepare made (at the same now): then the
 * files of dt are kept, the snapshot brought up to date and, at a
 * checkpoint version, the table maintained.  Returns 0 or -1 with e
 * filled.
 */
static int table_publish(struct ps_stage *st, struct dtable *dt, int64_t now,
			 struct ps_error *e)
{
	int64_t v;

	if (ps_delta_commit_write(dt->t.dir, dt->c, now, 0, &v, e) < 0)
		return -1;
	dt->own = v;
	keep_files(st, dt);
	if (ps_delta_snapshot_update(dt->t.dir, &dt->snap, e) < 0)
		return -1;
	hook(st, "table");
	if (v > 0 && v % PS_DELTA_CHECKPOINT_INTERVAL == 0) {
		if (!st->o.numbered) {
			maintain(st, dt, v, now);
		} else {
			dt->due = v;	/* ps_stage_maintain */
			dt->due_ms = now;
		}
	}
	return 0;
}

void ps_stage_maintain(struct ps_stage *st)
{
	size_t i;

	for (i = 0; i < st->o.ndelta; i++) {
		struct dtable *dt = &st->dt[i];

		if (dt->due > 0)
			maintain(st, dt, dt->due, dt->due_ms);
		dt->due = 0;
	}
}

/*
 * Step 3 for Delta tables: one version per table that has actions (the
 * last one, the commit point, also for positions alone).
 */
static int commit_delta(struct ps_stage *st, struct ps_error *e)
{
	size_t i, np = ps_checkpoint_count(st->pending);

	for (i = 0; i < st->o.ndelta; i++) {
		struct dtable *dt = &st->dt[i];
		int64_t now = ps_time_now() / 1000;

		if (!dt->nadds && (i + 1 < st->o.ndelta || !np))
			continue;
		if (table_prepare(st, dt, -1, now, e) < 0 ||
		    table_publish(st, dt, now, e) < 0)
			return -1;
	}
	return 0;
}

/*
 * Step 2 of numbered commits: one version per table, in order (even
 * without actions: the txn alone); the number is used up either way.
 * Every table's log entry is written first and made durable with the
 * others (one wait for them all), then each is linked into place in
 * the tables' order (a reader sees them one after the other, each
 * durable before it is visible); their directories are fsynced before
 * the state, which counts on them: with the state's files when the
 * caller seals them (ps_stage_seal), else at once (sync_logs).  When a
 * table fails, the directories of those linked are fsynced here.
 */
static int commit_numbered(struct ps_stage *st, struct ps_error *e)
{
	size_t i, k, n = st->o.ndelta;
	int64_t now = ps_time_now() / 1000;
	struct ps_delta_commit **c = ps_xcalloc(n + 1, sizeof(*c));
	char **logs = ps_xcalloc(n + 1, sizeof(*logs));
	int rc = 0;

	hook(st, "data");
	st->seq++;
	st->last_ok = 0;
	for (i = 0; i < n && rc == 0; i++) {
		rc = table_prepare(st, &st->dt[i], st->seq, now, e);
		c[i] = st->dt[i].c;
	}
	if (rc == 0)
		rc = ps_delta_commit_seal_staged(c, n, e);
	free(c);
	if (rc == 0)
		hook(st, "logs");
	for (i = 0; i < n && rc == 0; i++) {
		rc = table_publish(st, &st->dt[i], now, e);
		if (rc == 0)
			st->dt[i].txn = st->seq;
	}
	/* the directories of the entries linked: i counts the tables
	 * published and the one that failed (none when staging failed) */
	for (k = 0; k < i; k++)
		logs[k] = ps_path_join(st->dt[k].t.dir, "_delta_log");
	if (rc == 0) {
		st->logdirs = logs;	/* synced with the state */
		st->nlogdirs = i;
		st->last_ok = st->seq;
		return 0;
	}
	ps_fsync_dirs((const char *const *)logs, i, NULL);
	for (k = 0; k < i; k++)
		free(logs[k]);
	free(logs);
	return rc;
}

/* The log directories of the tables' versions, unless ps_stage_seal
 * synced them: durable before the commit point. */
static int sync_logs(struct ps_stage *st, struct ps_error *e)
{
	int rc = ps_fsync_dirs((const char *const *)st->logdirs,
			       st->nlogdirs, e);

	strs_free(&st->logdirs, &st->nlogdirs);
	return rc;
}

/* Before step 3 without Delta tables, or with numbered commits: the
 * positions of the commit written to the checkpoint's temporary file
 * (none without positions: plain input alone has no commit point). */
static int open_positions(struct ps_stage *st, struct ps_error *e)
{
	struct ps_checkpoint *next;

	if (!ps_checkpoint_count(st->pending))
		return 0;
	next = ps_checkpoint_new();
	ps_checkpoint_merge(next, st->committed);
	ps_checkpoint_merge(next, st->pending);
	if (ps_checkpoint_open(next, st->lake, st->tool, st->stream, &st->cpf,
			       e) < 0) {
		ps_checkpoint_free(next);
		return -1;
	}
	st->cpnext = next;
	return 0;
}

int ps_stage_seal(struct ps_stage *st, struct ps_afile *const *f, size_t n,
		  struct ps_error *e)
{
	struct ps_afile **all = ps_xcalloc(n + 1, sizeof(*all));
	size_t k = 0, i;
	int rc;

	for (i = 0; i < n; i++)
		all[k++] = f[i];
	if (st->cpf.tmp && !st->cpf.sealed)
		all[k++] = &st->cpf;
	/* in the same wait: the tables' log directories (commit_numbered) */
	rc = ps_afile_seal_with_dirs(all, k, (const char *const *)st->logdirs,
				     st->nlogdirs, e);
	free(all);
	if (rc == 0) {
		strs_free(&st->logdirs, &st->nlogdirs);
		hook(st, "sealed");
	}
	return rc;
}

/* Step 4 without Delta tables, or with numbered commits: the checkpoint
 * file into place. */
static int save_positions(struct ps_stage *st, struct ps_error *e)
{
	if (!st->cpnext)
		return 0;
	if (ps_afile_commit(&st->cpf, e) < 0)
		return -1;
	ps_checkpoint_free(st->committed);
	st->committed = st->cpnext;
	st->cpnext = NULL;
	return 0;
}

int ps_stage_commit(struct ps_stage *st, ps_stage_fn save_state,
		    ps_stage_fn emit, void *ctx, struct ps_error *e)
{
	ps_stage_maintain(st);	/* what the caller left of the last one */
	if (sync_dirs(st, e) < 0 ||
	    (st->o.numbered && commit_numbered(st, e) < 0)) {
		ps_stage_abort(st);
		return -1;
	}
	hook(st, "state");
	if ((st->o.numbered || !st->o.ndelta) && open_positions(st, e) < 0) {
		ps_stage_abort(st);
		return -1;
	}
	if ((save_state && save_state(ctx, e) < 0) || sync_logs(st, e) < 0) {
		ps_stage_abort(st);
		return -1;
	}
	hook(st, "commit");
	if (st->o.numbered || !st->o.ndelta) {
		if (save_positions(st, e) < 0) {
			ps_stage_abort(st);
			return -1;
		}
	} else {
		if (commit_delta(st, e) < 0) {
			ps_stage_abort(st);
			return -1;
		}
		/* every writer's positions, as the commit point holds them */
		ps_lake_delta_positions(&st->dt[st->o.ndelta - 1].snap,
					st->tool, st->stream, st->committed);
	}
	forget(st);
	hook(st, "emit");
	return emit ? emit(ctx, e) : 0;
}

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
#include "stage.h"
#include "banned.h"

struct ps_stage {
	struct ps_stage_opts o;
	char *lake, *tool, *stream;
	enum ps_lake_table *tables;
	struct ps_lake_lock *lock;
	struct ps_checkpoint *committed;
	struct ps_checkpoint *pending;	/* positions of the open commit */
	char **files;			/* files of the open commit */
	size_t nfiles, capfiles;
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

void ps_stage_test_point(struct ps_stage *st, const char *point)
{
	hook(st, point);
}

/* ---- open: lock, temporaries, positions, uncommitted files ---- */

/* Remove dir's entries that start with prefix and contain ".tmp-". */
static void remove_temps(const char *dir, const char *prefix,
			 const char *not_prefix)
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
		    (nl && !strncmp(de->d_name, not_prefix, nl)))
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
 * writer of t is running.
 */
static void remove_table_temps(const char *lake, enum ps_lake_table t,
			       const char *stream)
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
				remove_temps(p, ".part-bronze-", NULL);
			else if (t == PS_LAKE_SILVER_QUARANTINE)
				remove_temps(p, ".part-", ".part-bronze-");
			else
				remove_temps(p, ".part-", NULL);
			free(p);
		}
		closedir(d);
	}
	free(root);
}

/* Remove the files of t that the committed positions do not cover. */
static int remove_uncommitted(struct ps_stage *st, enum ps_lake_table t,
			      struct ps_error *e)
{
	struct ps_lake_parts fs = PS_LAKE_PARTS_INIT;
	size_t i;
	int rc;

	rc = ps_lake_list(st->lake, t, st->stream, &fs, e);
	for (i = 0; rc == 0 && i < fs.n; i++) {
		if (ps_lake_covered(t, &fs.v[i], st->committed))
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

struct ps_stage *ps_stage_open(const struct ps_stage_opts *o,
			       struct ps_error *e)
{
	struct ps_stage *st = ps_xcalloc(1, sizeof(*st));
	struct ps_buf b = PS_BUF_INIT;
	char *cpp;
	size_t i;

	st->o = *o;
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
	st->committed = ps_checkpoint_new();
	st->pending = ps_checkpoint_new();
	if (ps_mkdir_p(o->lake, 0755, e) < 0)
		goto fail;
	st->lock = ps_lake_lock(o->lake, o->tool, o->stream, o->lock_wait, e);
	if (!st->lock)
		goto fail;
	/* State temporaries: ".STREAM.<anything>.tmp-PID". */
	cpp = ps_checkpoint_path(o->lake, o->tool, o->stream);
	*strrchr(cpp, '/') = '\0';
	ps_buf_addf(&b, ".%s.", o->stream);
	remove_temps(cpp, b.data, NULL);
	free(cpp);
	ps_buf_release(&b);
	for (i = 0; i < o->ntables; i++)
		remove_table_temps(o->lake, o->tables[i], o->stream);
	if (o->ntables) {
		if (ps_lake_committed(o->lake, o->tables[0], o->stream,
				      st->committed, e) < 0)
			goto fail;
	} else if (ps_checkpoint_load(st->committed, o->lake, o->tool,
				      o->stream, e) < 0) {
		goto fail;
	}
	for (i = 0; i < o->ntables; i++)
		if (remove_uncommitted(st, o->tables[i], e) < 0)
			goto fail;
	return st;
fail:
	ps_stage_close(st);
	return NULL;
}

void ps_stage_close(struct ps_stage *st)
{
	if (!st)
		return;
	ps_stage_abort(st);
	ps_lake_unlock(st->lock);
	ps_checkpoint_free(st->committed);
	ps_checkpoint_free(st->pending);
	free(st->files);
	free(st->tables);
	free(st->lake);
	free(st->tool);
	free(st->stream);
	free(st);
}

struct ps_checkpoint *ps_stage_positions(struct ps_stage *st)
{
	return st->committed;
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

void ps_stage_set_position(struct ps_stage *st, const char *source,
			   size_t len, long long position)
{
	ps_checkpoint_set(st->pending, source, len, position);
}

static void forget(struct ps_stage *st)
{
	size_t i;

	for (i = 0; i < st->nfiles; i++)
		free(st->files[i]);
	st->nfiles = 0;
	ps_checkpoint_free(st->pending);
	st->pending = ps_checkpoint_new();
}

void ps_stage_abort(struct ps_stage *st)
{
	size_t i;

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

/*
 * Make the renames durable: fsync the directory of every file and its
 * parent (a partition directory may be new).  Writers fsync the file and
 * its directory already; this covers the directories they created.
 */
static int sync_dirs(struct ps_stage *st, struct ps_error *e)
{
	char **d;
	size_t i, n = 0;
	int rc = 0;

	if (!st->nfiles)
		return 0;
	d = ps_xmalloc(st->nfiles * sizeof(*d));
	for (i = 0; i < st->nfiles; i++) {
		char *s = ps_xstrdup(st->files[i]), *slash;

		slash = strrchr(s, '/');
		if (slash && slash != s) {
			*slash = '\0';
			slash = strrchr(s, '/');
		}
		if (slash && slash != s)
			*slash = '\0';	/* the partition's parent */
		d[n++] = s;
	}
	qsort(d, n, sizeof(*d), cmp_str);
	for (i = 0; i < n && rc == 0; i++)
		if (i == 0 || strcmp(d[i], d[i - 1]))
			rc = ps_fsync_dir(d[i], e);
	for (i = 0; i < n; i++)
		free(d[i]);
	free(d);
	return rc;
}

int ps_stage_commit(struct ps_stage *st, ps_stage_fn save_state,
		    ps_stage_fn emit, void *ctx, struct ps_error *e)
{
	struct ps_checkpoint *next;

	hook(st, "state");
	if (sync_dirs(st, e) < 0 || (save_state && save_state(ctx, e) < 0)) {
		ps_stage_abort(st);
		return -1;
	}
	hook(st, "commit");
	/* A commit of plain input alone (no positions) has no commit point. */
	if (ps_checkpoint_count(st->pending)) {
		next = ps_checkpoint_new();
		ps_checkpoint_merge(next, st->committed);
		ps_checkpoint_merge(next, st->pending);
		if (ps_checkpoint_save(next, st->lake, st->tool, st->stream,
				       e) < 0) {
			ps_checkpoint_free(next);
			ps_stage_abort(st);
			return -1;
		}
		ps_checkpoint_free(st->committed);
		st->committed = next;
	}
	forget(st);
	hook(st, "emit");
	return emit ? emit(ctx, e) : 0;
}

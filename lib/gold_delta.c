/* gold_delta.c - see gold_delta.h. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "delta.h"
#include "fsutil.h"
#include "gold_delta.h"
#include "log.h"
#include "banned.h"

/* A file of a table: active (size) or removed (when, in ms). */
struct gfile {
	char *path;		/* relative to the table */
	int64_t size, ms;
};

struct flist {
	struct gfile *v;
	size_t n, cap;
};

struct gtable {
	char *name, *dir;
	int64_t version;	/* latest version, -1: no table yet */
	int64_t txn;		/* its ps-gold/STREAM txn, -1: none */
	struct flist active;	/* sorted by path */
	struct flist tombs;	/* removed, not yet deleted */
	/* the open commit */
	int declared;
	enum ps_gold_delta_mode mode;
	const struct ps_pq_column *cols;
	size_t ncols;
	struct flist files;	/* written: path only */
	char **subs;
	size_t nsubs;
};

struct ps_gold_delta {
	char *dir, *app_id;
	int64_t retention_ms, seq;	/* seq: of the last commit */
	struct gtable *t;
	size_t nt;
	size_t *order;			/* declared tables, in order */
	size_t norder;
	int open;			/* a commit is open */
	int64_t last_ok;		/* seq of this process's last commit
					   that committed every table, or 0 */
};

static void flist_add(struct flist *l, const char *path, int64_t size,
		      int64_t ms)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 8;
		l->v = ps_xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	l->v[l->n].path = ps_xstrdup(path);
	l->v[l->n].size = size;
	l->v[l->n].ms = ms;
	l->n++;
}

static void flist_release(struct flist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i].path);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static int cmp_gfile(const void *a, const void *b)
{
	return strcmp(((const struct gfile *)a)->path,
		      ((const struct gfile *)b)->path);
}

static int has_path(const struct flist *l, const char *path)
{
	struct gfile k = { (char *)path, 0, 0 };

	return l->n && bsearch(&k, l->v, l->n, sizeof(*l->v), cmp_gfile);
}

static int is_part_file(const char *name)
{
	size_t n = strlen(name);

	return !strncmp(name, "part-", 5) && n > 13 &&
	       !strcmp(name + n - 8, ".parquet");
}

/* Load table t's files and txn from its log (replacing what t holds). */
static int load_table(struct ps_gold_delta *d, struct gtable *t,
		      struct ps_error *e)
{
	struct ps_delta_snapshot s = PS_DELTA_SNAPSHOT_INIT;
	size_t i;

	if (ps_delta_snapshot_load(t->dir, -1, &s, e) < 0)
		return -1;
	flist_release(&t->active);
	flist_release(&t->tombs);
	for (i = 0; i < s.nfiles; i++)
		flist_add(&t->active, s.files[i].path, s.files[i].size, 0);
	for (i = 0; i < s.nremoved; i++)
		flist_add(&t->tombs, s.removed[i].path, s.removed[i].size,
			  s.removed[i].mtime_ms);
	t->version = s.version;
	t->txn = ps_delta_txn_version(&s, d->app_id);
	ps_delta_snapshot_release(&s);
	return 0;
}

/*
 * Remove the part files under dir (rel: its path in the table, "" at the
 * top; depth: levels left) that t's log does not know; with t NULL, every
 * part file, counted in *found (and removed unless dry).
 */
static int sweep(const char *dir, const char *rel, int depth,
		 const struct gtable *t, int dry, size_t *found,
		 struct ps_error *e)
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
			if (!t || (!has_path(&t->active, r.data) &&
				   !has_path(&t->tombs, r.data))) {
				(*found)++;
				if (!dry && unlink(p) < 0 && errno != ENOENT)
					rc = ps_error_errno(e, PS_EX_IOERR,
							    errno, "cannot "
							    "remove %s", p);
				else if (!dry)
					ps_log(PS_INFO, "removed a gold file "
					       "no version references",
					       PS_S("file", p));
			}
		} else if (depth > 0 && strchr(de->d_name, '=')) {
			rc = sweep(p, r.data, depth - 1, t, dry, found, e);
		}
		ps_buf_release(&r);
		free(p);
	}
	closedir(dh);
	return rc;
}

static struct gtable *find_table(struct ps_gold_delta *d, const char *name,
				 int create)
{
	size_t i;
	struct gtable *t;

	for (i = 0; i < d->nt; i++)
		if (!strcmp(d->t[i].name, name))
			return &d->t[i];
	if (!create)
		return NULL;
	d->t = ps_xrealloc(d->t, (d->nt + 1) * sizeof(*d->t));
	t = &d->t[d->nt++];
	memset(t, 0, sizeof(*t));
	t->name = ps_xstrdup(name);
	t->dir = ps_path_join(d->dir, name);
	t->version = t->txn = -1;
	return t;
}

struct ps_gold_delta *ps_gold_delta_open(const char *gold_dir,
					 const char *stream,
					 const char *fact,
					 int64_t retention_ms,
					 struct ps_error *e)
{
	struct ps_gold_delta *d = ps_xcalloc(1, sizeof(*d));
	struct ps_buf b = PS_BUF_INIT;
	DIR *dh;
	struct dirent *de;
	int rc = 0;

	d->dir = ps_xstrdup(gold_dir);
	ps_buf_addf(&b, "ps-gold/%s", stream);
	d->app_id = ps_buf_detach(&b, NULL);
	d->retention_ms = retention_ms;
	dh = opendir(gold_dir);
	if (!dh && errno != ENOENT) {
		ps_error_errno(e, PS_EX_IOERR, errno, "cannot list %s",
			       gold_dir);
		ps_gold_delta_free(d);
		return NULL;
	}
	while (rc == 0 && dh && (de = readdir(dh))) {
		struct gtable *t;
		struct stat st;
		char *p, *log;
		size_t found = 0;

		if (de->d_name[0] == '.' || de->d_name[0] == '_')
			continue;
		p = ps_path_join(gold_dir, de->d_name);
		log = ps_path_join(p, "_delta_log");
		if (stat(p, &st) < 0 || !S_ISDIR(st.st_mode)) {
			free(p);
			free(log);
			continue;
		}
		if (stat(log, &st) == 0) {
			t = find_table(d, de->d_name, 1);
			rc = load_table(d, t, e);
			if (rc == 0)
				rc = sweep(t->dir, "", 1, t, 0, &found, e);
			if (t->txn > d->seq)
				d->seq = t->txn;
		} else if (fact && !strcmp(de->d_name, fact)) {
			rc = sweep(p, "", 1, NULL, 1, &found, e);
			if (rc == 0 && found)
				rc = ps_error_set(e, PS_EX_CONFIG, "%s has "
						  "Parquet files but no Delta "
						  "log (written before ps-gold "
						  "wrote Delta tables): "
						  "rebuild gold (remove %s "
						  "and LAKE/_state/ps-gold, "
						  "then ps-gold --catch-up)",
						  p, gold_dir);
		} else {
			/* a table of the old layout: the next commit
			 * creates its log with new files */
			rc = sweep(p, "", 1, NULL, 0, &found, e);
		}
		free(p);
		free(log);
	}
	if (dh)
		closedir(dh);
	if (rc < 0) {
		ps_gold_delta_free(d);
		return NULL;
	}
	return d;
}

static void commit_release(struct gtable *t)
{
	size_t i;

	flist_release(&t->files);
	for (i = 0; i < t->nsubs; i++)
		free(t->subs[i]);
	free(t->subs);
	t->subs = NULL;
	t->nsubs = 0;
	t->declared = 0;
}

void ps_gold_delta_free(struct ps_gold_delta *d)
{
	size_t i;

	if (!d)
		return;
	ps_gold_delta_abort(d);
	for (i = 0; i < d->nt; i++) {
		free(d->t[i].name);
		free(d->t[i].dir);
		flist_release(&d->t[i].active);
		flist_release(&d->t[i].tombs);
	}
	free(d->t);
	free(d->order);
	free(d->dir);
	free(d->app_id);
	free(d);
}

int64_t ps_gold_delta_next(const struct ps_gold_delta *d)
{
	return d->seq + 1;
}

static void begin(struct ps_gold_delta *d)
{
	if (!d->open) {
		d->open = 1;
		d->norder = 0;
	}
}

int ps_gold_delta_can_keep(const struct ps_gold_delta *d, const char *name)
{
	size_t i;

	for (i = 0; i < d->nt; i++)
		if (!strcmp(d->t[i].name, name))
			return d->last_ok > 0 && d->last_ok == d->seq &&
			       d->t[i].txn == d->seq;
	return 0;
}

void ps_gold_delta_table(struct ps_gold_delta *d, const char *name,
			 const struct ps_pq_column *cols, size_t ncols,
			 enum ps_gold_delta_mode mode)
{
	struct gtable *t;

	begin(d);
	t = find_table(d, name, 1);
	t->cols = cols;
	t->ncols = ncols;
	t->mode = mode;
	if (!t->declared) {
		t->declared = 1;
		d->order = ps_xrealloc(d->order,
				       (d->norder + 1) * sizeof(*d->order));
		d->order[d->norder++] = (size_t)(t - d->t);
	}
}

char *ps_gold_delta_file(struct ps_gold_delta *d, const char *name,
			 const char *sub)
{
	struct gtable *t = find_table(d, name, 1);
	struct ps_buf b = PS_BUF_INIT;
	char *p;

	if (sub)
		ps_buf_addf(&b, "%s/", sub);
	ps_buf_addf(&b, "part-%020lld.parquet", (long long)(d->seq + 1));
	flist_add(&t->files, b.data, 0, 0);
	p = ps_path_join(t->dir, b.data);
	ps_buf_release(&b);
	return p;
}

void ps_gold_delta_replace(struct ps_gold_delta *d, const char *name,
			   const char *sub)
{
	struct gtable *t = find_table(d, name, 1);

	t->subs = ps_xrealloc(t->subs, (t->nsubs + 1) * sizeof(*t->subs));
	t->subs[t->nsubs++] = ps_xstrdup(sub);
}

/* Is path (of an active file) replaced by t's open commit? */
static int replaced(const struct gtable *t, const char *path)
{
	size_t i, n;

	if (t->mode == PS_GOLD_DELTA_REWRITE)
		return 1;
	for (i = 0; i < t->nsubs; i++) {
		n = strlen(t->subs[i]);
		if (!strncmp(path, t->subs[i], n) && path[n] == '/')
			return 1;
	}
	return 0;
}

/* Remove the data files of t's open commit (not committed). */
static void remove_files(struct gtable *t)
{
	size_t i;

	for (i = 0; i < t->files.n; i++) {
		char *p = ps_path_join(t->dir, t->files.v[i].path);

		if (unlink(p) == 0)
			ps_log(PS_WARN, "gold commit failed: file removed",
			       PS_S("file", p));
		free(p);
	}
}

/*
 * At a checkpoint version: vacuum the table (lib/delta.h: the files no
 * longer referenced whose removal is older than the retention), then
 * write the checkpoint without their tombstones.  A failure is logged:
 * the commit stands, the next checkpoint tries again.
 */
static void maintain(struct ps_gold_delta *d, struct gtable *t, int64_t now_ms)
{
	struct ps_delta_maint m;
	struct ps_error e = { 0 };
	size_t i, k = 0;

	memset(&m, 0, sizeof(m));
	if (ps_delta_vacuum(t->dir, d->retention_ms, now_ms, 0, NULL, NULL,
			    &m, &e) < 0) {
		ps_log(PS_WARN, "gold: vacuum failed (the commit stands)",
		       PS_S("table", t->dir), PS_S("err", e.msg));
		return;
	}
	for (i = 0; i < t->tombs.n; i++) {
		if (t->tombs.v[i].ms >= now_ms - d->retention_ms)
			t->tombs.v[k++] = t->tombs.v[i];
		else
			free(t->tombs.v[i].path);
	}
	t->tombs.n = k;
	if (ps_delta_checkpoint(t->dir, t->version, now_ms, d->retention_ms,
				&e) < 0)
		ps_log(PS_WARN, "delta checkpoint failed (the commit stands)",
		       PS_S("table", t->dir), PS_I("version", t->version),
		       PS_S("err", e.msg));
}

/* Commit table t of gold commit seq. */
static int commit_table(struct ps_gold_delta *d, struct gtable *t,
			int64_t now_ms, struct ps_error *e)
{
	struct ps_delta_commit *c;
	struct flist keep = { NULL, 0, 0 };
	int only_txn = t->mode == PS_GOLD_DELTA_KEEP;
	int64_t v;
	size_t i;
	int rc = 0;

	if (only_txn && (!ps_gold_delta_can_keep(d, t->name) || t->files.n))
		return ps_error_set(e, PS_EX_SOFTWARE, "gold: %s cannot be "
				    "kept as it is", t->name);
	c = ps_delta_commit_new("WRITE", t->version);
	if (t->version < 0)
		rc = ps_delta_commit_create(c, NULL, t->cols, t->ncols, NULL,
					    0, now_ms, e);
	for (i = 0; rc == 0 && !only_txn && i < t->active.n; i++) {
		struct gfile *f = &t->active.v[i];
		struct ps_delta_file df;

		if (!replaced(t, f->path)) {
			flist_add(&keep, f->path, f->size, 0);
			continue;
		}
		memset(&df, 0, sizeof(df));
		df.path = f->path;
		df.size = f->size;
		ps_delta_commit_remove(c, &df, now_ms, 1);
	}
	for (i = 0; rc == 0 && i < t->files.n; i++)
		rc = ps_delta_commit_add_file(c, t->dir, t->files.v[i].path,
					      NULL, NULL, 0, 1, e);
	ps_delta_commit_txn(c, d->app_id, d->seq + 1, now_ms);
	if (rc == 0)
		rc = ps_delta_commit_write(t->dir, c, now_ms, 0, &v, e);
	ps_delta_commit_free(c);
	if (rc < 0) {
		flist_release(&keep);
		return -1;
	}
	if (v != t->version + 1) {
		/* another writer committed in between: read the log */
		flist_release(&keep);
		if (load_table(d, t, e) < 0)
			return -1;
	} else if (!only_txn) {
		for (i = 0; i < t->active.n; i++)
			if (replaced(t, t->active.v[i].path))
				flist_add(&t->tombs, t->active.v[i].path,
					  t->active.v[i].size, now_ms);
		for (i = 0; i < t->files.n; i++) {
			struct stat st;
			char *p = ps_path_join(t->dir, t->files.v[i].path);

			flist_add(&keep, t->files.v[i].path,
				  stat(p, &st) == 0 ? st.st_size : 0, 0);
			free(p);
		}
		flist_release(&t->active);
		t->active = keep;
		if (t->active.n)
			qsort(t->active.v, t->active.n, sizeof(*t->active.v),
			      cmp_gfile);
		if (t->tombs.n)
			qsort(t->tombs.v, t->tombs.n, sizeof(*t->tombs.v),
			      cmp_gfile);
		t->version = v;
		t->txn = d->seq + 1;
	} else {
		flist_release(&keep);
		t->version = v;
		t->txn = d->seq + 1;
	}
	if (v > 0 && v % PS_DELTA_CHECKPOINT_INTERVAL == 0)
		maintain(d, t, now_ms);
	return 0;
}

int ps_gold_delta_commit(struct ps_gold_delta *d, int64_t now_ms,
			 ps_gold_delta_fn fn, void *ctx, struct ps_error *e)
{
	size_t i;
	int rc = 0;

	begin(d);
	for (i = 0; i < d->norder && rc == 0; i++) {
		struct gtable *t = &d->t[d->order[i]];

		rc = commit_table(d, t, now_ms, e);
		if (rc == 0) {
			commit_release(t);
			if (fn)
				fn(ctx, t->name);
		}
	}
	if (rc < 0) {
		ps_gold_delta_abort(d);
		d->seq++;
		return -1;
	}
	d->seq++;
	d->last_ok = d->seq;
	d->open = 0;
	d->norder = 0;
	return 0;
}

void ps_gold_delta_abort(struct ps_gold_delta *d)
{
	size_t i;

	for (i = 0; i < d->nt; i++) {
		remove_files(&d->t[i]);
		commit_release(&d->t[i]);
	}
	d->open = 0;
	d->norder = 0;
	d->last_ok = 0;
}

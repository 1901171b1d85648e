/* maint.c - see maint.h. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "cli.h"
#include "delta.h"
#include "fsutil.h"
#include "json.h"
#include "log.h"
#include "maint.h"
#include "pstime.h"
#include "banned.h"

struct run {
	const struct ps_maint_opts *o;
	ps_maint_write_fn out;
	void *ctx;
	const char *table;	/* lake-relative name of the current table */
	int gone;		/* the output went away or failed */
	int failed_out;
};

static void emit(struct run *r, struct ps_buf *b)
{
	int rc;

	ps_buf_adds(b, "}\n");
	if (r->gone)
		return;
	rc = r->out(r->ctx, b->data, b->len);
	if (rc) {
		r->gone = 1;
		r->failed_out = rc < 0;
	}
}

static void line_start(struct run *r, struct ps_buf *b, const char *op)
{
	ps_buf_reset(b);
	ps_buf_adds(b, "{\"table\":");
	ps_json_add_str(b, r->table, strlen(r->table));
	ps_buf_adds(b, ",\"op\":\"");
	ps_buf_adds(b, op);
	ps_buf_addc(b, '"');
}

static void on_delete(void *ctx, const char *path, int64_t size)
{
	struct run *r = ctx;
	struct ps_buf b = PS_BUF_INIT;

	line_start(r, &b, "vacuum");
	ps_buf_adds(&b, ",\"path\":");
	ps_json_add_str(&b, path, strlen(path));
	ps_buf_addf(&b, ",\"bytes\":%lld,\"status\":\"%s\"", (long long)size,
		    r->o->dry_run ? "would_delete" : "deleted");
	emit(r, &b);
	ps_buf_release(&b);
}

/* Maintain one table.  0 or -1 with e filled. */
static int one_table(struct run *r, const char *dir, struct ps_error *e)
{
	const struct ps_maint_opts *o = r->o;
	struct ps_delta_maint m;
	struct ps_buf b = PS_BUF_INIT;
	int64_t now_ms = ps_time_now() / 1000;
	int rc = 0;

	if (o->compact) {
		if (ps_delta_compact(dir, o->small_bytes, now_ms, &m, e)) {
			rc = -1;
			goto out;
		}
		line_start(r, &b, "compact");
		ps_buf_adds(&b, ",\"version\":");
		if (m.version >= 0)
			ps_buf_add_i64(&b, m.version);
		else
			ps_buf_adds(&b, "null");
		ps_buf_addf(&b, ",\"files_in\":%zu,\"files_out\":%zu,"
			    "\"bytes_in\":%lld,\"bytes_out\":%lld", m.files_in,
			    m.files_out, (long long)m.bytes_in,
			    (long long)m.bytes_out);
		emit(r, &b);
		ps_log(PS_INFO, "compacted", PS_S("table", r->table),
		       PS_I("files_in", (long long)m.files_in),
		       PS_I("files_out", (long long)m.files_out),
		       PS_I("version", m.version));
	}
	if (o->vacuum && !r->gone) {
		if (ps_delta_vacuum(dir, o->retention / 1000,
				    ps_time_now() / 1000, o->dry_run,
				    on_delete, r, &m, e)) {
			rc = -1;
			goto out;
		}
		line_start(r, &b, "vacuum");
		ps_buf_addf(&b, ",\"dry_run\":%s,\"deleted\":%zu,"
			    "\"bytes_deleted\":%lld",
			    o->dry_run ? "true" : "false", m.deleted,
			    (long long)m.bytes_deleted);
		emit(r, &b);
		ps_log(PS_INFO, o->dry_run ? "vacuum would delete" :
		       "vacuumed", PS_S("table", r->table),
		       PS_I("files", (long long)m.deleted),
		       PS_I("bytes", m.bytes_deleted));
	}
	if (o->vacuum && !r->gone) {
		if (ps_delta_log_cleanup(dir, o->log_retention / 1000,
					 ps_time_now() / 1000, o->dry_run,
					 &m, e)) {
			rc = -1;
			goto out;
		}
		line_start(r, &b, "log_cleanup");
		ps_buf_addf(&b, ",\"dry_run\":%s,\"oldest_version\":",
			    o->dry_run ? "true" : "false");
		if (m.deleted)
			ps_buf_add_i64(&b, m.version);
		else
			ps_buf_adds(&b, "null");
		ps_buf_addf(&b, ",\"deleted\":%zu,\"bytes_deleted\":%lld",
			    m.deleted, (long long)m.bytes_deleted);
		emit(r, &b);
		ps_log(PS_INFO, o->dry_run ? "log cleanup would delete" :
		       "log cleaned up", PS_S("table", r->table),
		       PS_I("files", (long long)m.deleted),
		       PS_I("oldest_version", m.version));
	}
out:
	ps_buf_release(&b);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The tables at root, sorted.  0 or -1 (66). */
static int find_tables(const char *root, char ***v, size_t *n,
		       struct ps_error *e)
{
	struct dirent *de;
	size_t cap = 0;
	DIR *d;

	*v = NULL;
	*n = 0;
	if (ps_delta_is_table(root)) {
		*v = ps_xcalloc(1, sizeof(char *));
		(*v)[(*n)++] = ps_xstrdup(root);
		return 0;
	}
	d = opendir(root);
	if (!d)
		return ps_error_errno(e, PS_EX_NOINPUT, errno, "cannot open %s",
				      root);
	while ((de = readdir(d))) {
		char *sub;

		if (de->d_name[0] == '.' || de->d_name[0] == '_')
			continue;
		sub = ps_path_join(root, de->d_name);
		if (!ps_delta_is_table(sub)) {
			free(sub);
			continue;
		}
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			*v = ps_xrealloc(*v, cap * sizeof(char *));
		}
		(*v)[(*n)++] = sub;
	}
	closedir(d);
	if (*n > 1)
		qsort(*v, *n, sizeof(char *), cmp_str);
	if (!*n)
		return ps_error_set(e, PS_EX_NOINPUT, "%s holds no Delta table "
				    "(no _delta_log)", root);
	return 0;
}

/* The more important of two failure codes: a retry (75) least. */
static int worse(int a, int b)
{
	if (!a)
		return b;
	if (!b)
		return a;
	return a == PS_EX_TEMPFAIL ? b : a;
}

/* A retention option's DURATION into *us: 0, or -1 (64) below 1h. */
static int retention(const char *opt, const char *arg, const char *why,
		     int64_t *us, struct ps_error *e)
{
	if (ps_opt_duration(opt, arg, 0, 100LL * 366 * 24 * 3600 * 1000000,
			    us, e))
		return -1;
	if (*us < PS_MAINT_RETENTION_MIN)
		return ps_error_set(e, PS_EX_USAGE, "%s: at least 1h%s: '%s'",
				    opt, why, arg);
	return 0;
}

int ps_maint_option(struct ps_maint_opts *o, int key, const char *arg,
		    struct ps_error *e)
{
	long long v;

	switch (key) {
	case PS_MAINT_OPT_COMPACT:
		o->compact = 1;
		return 0;
	case PS_MAINT_OPT_VACUUM:
		o->vacuum = 1;
		return 0;
	case PS_MAINT_OPT_RETAIN:
		return retention("--retain", arg, ", or a writer's files not "
				 "committed yet could go", &o->retention, e);
	case PS_MAINT_OPT_LOG_RETAIN:
		return retention("--log-retain", arg, "", &o->log_retention,
				 e);
	case PS_MAINT_OPT_SMALL_FILES:
		if (ps_opt_size("--small-files", arg, 1, (long long)1 << 40, &v,
				e))
			return -1;
		o->small_bytes = v;
		return 0;
	}
	return 1;
}

int ps_maint_run(const struct ps_maint_opts *o, const char *root,
		 ps_maint_write_fn out, void *ctx, struct ps_error *e)
{
	struct ps_error first = { 0, "" };
	struct run r = { o, out, ctx, NULL, 0, 0 };
	size_t n, i, llen = o->lake ? strlen(o->lake) : 0;
	char **v;

	if (o->vacuum && o->retention < PS_MAINT_RETENTION_MIN)
		return ps_error_set(e, PS_EX_USAGE, "vacuum retention below "
				    "1h: a writer's files not committed yet "
				    "and the versions readers use would go");
	if (o->vacuum && o->log_retention < PS_MAINT_RETENTION_MIN)
		return ps_error_set(e, PS_EX_USAGE, "log retention below 1h");
	if (o->dry_run && o->compact)
		return ps_error_set(e, PS_EX_USAGE, "--dry-run goes with "
				    "--vacuum alone: compaction has no dry "
				    "run");
	if (find_tables(root, &v, &n, e))
		return -1;
	while (llen > 1 && o->lake[llen - 1] == '/')
		llen--;
	for (i = 0; i < n; i++) {
		struct ps_error te = { 0, "" };

		r.table = v[i];
		if (llen && !strncmp(v[i], o->lake, llen) &&
		    v[i][llen] == '/')
			r.table = v[i] + llen + 1;
		if (!r.gone && one_table(&r, v[i], &te)) {
			ps_log(PS_ERROR, "table maintenance failed",
			       PS_S("table", r.table), PS_S("err", te.msg));
			if (worse(first.code, te.code) != first.code)
				first = te;
		}
		free(v[i]);
	}
	free(v);
	if (!r.gone)
		out(ctx, NULL, 0);
	if (r.failed_out)
		return ps_error_set(e, PS_EX_IOERR, "cannot write the report");
	if (first.code) {
		*e = first;
		return -1;
	}
	return 0;
}

/*
 * silver_dump.c - ps-silver --dump: the rows of lake tables as NDJSON (see
 * silver.h, ps_silver_dump).  A Delta table is read through its log
 * (lib/delta.h: only a committed version, at any version kept); other
 * Parquet files are read as they are.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "delta.h"
#include "fsutil.h"
#include "parquet.h"
#include "silver.h"
#include "banned.h"

/* What a path holds: a Parquet file, or a Delta table directory. */
struct entry {
	char *path;
	int is_table;
};

struct entries {
	struct entry *v;
	size_t n, cap;
};

static void entries_add(struct entries *es, const char *path, int is_table)
{
	if (es->n == es->cap) {
		es->cap = es->cap ? es->cap * 2 : 64;
		es->v = ps_xrealloc(es->v, es->cap * sizeof(*es->v));
	}
	es->v[es->n].path = ps_xstrdup(path);
	es->v[es->n++].is_table = is_table;
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->path,
		      ((const struct entry *)b)->path);
}

/*
 * Collect under path the Delta tables and the *.parquet files outside
 * them (a file operand is taken as it is).  0 or -1 (66).
 */
static int collect(const char *path, int top, struct entries *es,
		   struct ps_error *e)
{
	struct stat st;
	DIR *d;
	struct dirent *de;

	if (stat(path, &st) < 0)
		return ps_error_errno(e, PS_EX_NOINPUT, errno, "%s", path);
	if (!S_ISDIR(st.st_mode)) {
		size_t l = strlen(path);

		if (top || (l >= 8 && !strcmp(path + l - 8, ".parquet")))
			entries_add(es, path, 0);
		return 0;
	}
	if (ps_delta_is_table(path)) {
		entries_add(es, path, 1);
		return 0;
	}
	d = opendir(path);
	if (!d)
		return ps_error_errno(e, PS_EX_NOINPUT, errno, "%s", path);
	while ((de = readdir(d))) {
		char *sub;
		int rc;

		if (de->d_name[0] == '.')
			continue;
		sub = ps_path_join(path, de->d_name);
		rc = collect(sub, 0, es, e);
		free(sub);
		if (rc < 0) {
			closedir(d);
			return -1;
		}
	}
	closedir(d);
	return 0;
}

/* Dump one Parquet file.  0, 1 (reader gone) or -1. */
static int dump_file(const char *path, ps_silver_write_fn out, void *ctx,
		     struct ps_buf *b, struct ps_error *e)
{
	struct ps_pq_reader *r = ps_pq_reader_open(path, e);
	int m, rc = 0;

	if (!r)
		return -1;
	while ((m = ps_pq_next(r, e)) > 0) {
		ps_buf_reset(b);
		ps_pq_row_json(r, b);
		ps_buf_addc(b, '\n');
		if (out(ctx, b->data, b->len) != 0) {
			rc = 1;
			break;
		}
	}
	if (m < 0) {
		ps_error_prefix(e, PS_EX_DATAERR, path);
		rc = -1;
	}
	ps_pq_reader_free(r);
	return rc;
}

/* Dump the version of the table at dir that at asks for. */
static int dump_table(const char *dir, const struct ps_dump_at *at,
		      ps_silver_write_fn out, void *ctx, struct ps_error *e)
{
	struct ps_delta_snapshot s = PS_DELTA_SNAPSHOT_INIT;
	int64_t version = at ? at->version : -1;
	int rc;

	if (at && at->as_of != INT64_MIN &&
	    ps_delta_version_at(dir, at->as_of / 1000 +
				(at->as_of % 1000 < 0 ? -1 : 0), &version, e))
		return -1;
	if (ps_delta_snapshot_load(dir, version, &s, e))
		return -1;
	rc = ps_delta_dump(dir, &s, out, ctx, e);
	ps_delta_snapshot_release(&s);
	return rc;
}

int ps_silver_dump(char *const *paths, int n, const struct ps_dump_at *at,
		   ps_silver_write_fn out, void *out_ctx, struct ps_error *e)
{
	int travel = at && (at->version >= 0 || at->as_of != INT64_MIN);
	struct ps_buf b = PS_BUF_INIT;
	int i, rc = 0;

	for (i = 0; i < n && !rc; i++) {
		struct entries es = { NULL, 0, 0 };
		size_t k, tables = 0;

		rc = collect(paths[i], 1, &es, e);
		if (es.n)
			qsort(es.v, es.n, sizeof(*es.v), cmp_entry);
		for (k = 0; k < es.n; k++)
			tables += es.v[k].is_table;
		if (!rc && travel && (!tables || tables != es.n))
			rc = ps_error_set(e, PS_EX_NOINPUT, "%s: %s", paths[i],
					  tables ? "holds Parquet files outside "
					  "Delta tables: time travel needs "
					  "tables only" : "not a Delta table "
					  "(no _delta_log): time travel needs "
					  "one");
		for (k = 0; k < es.n; k++) {
			if (!rc) {
				rc = es.v[k].is_table ?
					dump_table(es.v[k].path, at, out,
						   out_ctx, e) :
					dump_file(es.v[k].path, out, out_ctx,
						  &b, e);
				if (rc < 0 && es.v[k].is_table) {
					char msg[sizeof(e->msg)];

					snprintf(msg, sizeof(msg), "%s", e->msg);
					if (!strstr(msg, es.v[k].path))
						ps_error_set(e, e->code,
							     "%s: %s",
							     es.v[k].path, msg);
				}
			}
			free(es.v[k].path);
		}
		free(es.v);
	}
	ps_buf_release(&b);
	if (rc > 0)
		rc = 0;		/* the reader went away: stop, no error */
	if (!rc && out(out_ctx, NULL, 0) < 0)
		rc = 0;
	return rc;
}

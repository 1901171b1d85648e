/*
 * delta_scan.c - the rows of a Delta table version (see delta.h,
 * ps_delta_dump): the active files of a snapshot read through lib/parquet,
 * with the partition columns, which the data files do not hold, filled in
 * from each file's partition values.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delta.h"
#include "fsutil.h"
#include "json.h"
#include "parquet.h"
#include "pstime.h"
#include "banned.h"

/* One column of the table schema (schemaString), in schema order. */
struct tcol {
	char *name;
	enum ps_pq_type type;	/* partition values are parsed as this */
	int is_part;
};

/* Parse the top-level fields of a Spark-style schema.  0 or -1 (65). */
static int schema_cols(const struct ps_delta_snapshot *s, struct tcol **out,
		       size_t *n, struct ps_error *e)
{
	static const struct {
		const char *spark;
		enum ps_pq_type t;
	} types[] = {
		{ "integer", PS_PQ_INT32 }, { "long", PS_PQ_INT64 },
		{ "short", PS_PQ_INT32 }, { "byte", PS_PQ_INT32 },
		{ "double", PS_PQ_DOUBLE }, { "float", PS_PQ_DOUBLE },
		{ "boolean", PS_PQ_BOOL }, { "date", PS_PQ_DATE },
		{ "timestamp", PS_PQ_TIMESTAMP },
		{ "timestamp_ntz", PS_PQ_TIMESTAMP },
	};
	char why[128];
	yajl_val root, fields;
	struct tcol *v;
	size_t i, k;

	root = s->schema_string ? ps_json_parse(s->schema_string,
						strlen(s->schema_string), why,
						sizeof(why)) : NULL;
	fields = root ? ps_json_get(root, "fields") : NULL;
	if (!fields || !YAJL_IS_ARRAY(fields)) {
		yajl_tree_free(root);
		return ps_error_set(e, PS_EX_DATAERR, "delta: the table schema "
				    "is not a struct of fields");
	}
	v = ps_xcalloc(fields->u.array.len + 1, sizeof(*v));
	for (i = 0; i < fields->u.array.len; i++) {
		yajl_val f = fields->u.array.values[i];
		yajl_val name = ps_json_get(f, "name");
		yajl_val type = ps_json_get(f, "type");

		if (!name || !YAJL_IS_STRING(name)) {
			while (i--)
				free(v[i].name);
			free(v);
			yajl_tree_free(root);
			return ps_error_set(e, PS_EX_DATAERR, "delta: a schema "
					    "field has no name");
		}
		v[i].name = ps_xstrdup(name->u.string);
		v[i].type = PS_PQ_STRING;
		for (k = 0; type && YAJL_IS_STRING(type) &&
		     k < sizeof(types) / sizeof(types[0]); k++)
			if (!strcmp(type->u.string, types[k].spark))
				v[i].type = types[k].t;
		for (k = 0; k < s->npart; k++)
			if (!strcmp(s->part_cols[k], v[i].name))
				v[i].is_part = 1;
	}
	*n = fields->u.array.len;
	*out = v;
	yajl_tree_free(root);
	return 0;
}

/* "YYYY-MM-DD" with a month 1-12 and a day 1-31?  1 or 0. */
static int is_date(const char *p, unsigned *y, unsigned *m, unsigned *d)
{
	static const char shape[] = "dddd-dd-dd";
	size_t i;

	for (i = 0; i < 10; i++)
		if (shape[i] == 'd' ? p[i] < '0' || p[i] > '9' : p[i] != '-')
			return 0;
	if (p[10])
		return 0;
	*y = (unsigned)((p[0] - '0') * 1000 + (p[1] - '0') * 100 +
			(p[2] - '0') * 10 + (p[3] - '0'));
	*m = (unsigned)((p[5] - '0') * 10 + (p[6] - '0'));
	*d = (unsigned)((p[8] - '0') * 10 + (p[9] - '0'));
	return *m >= 1 && *m <= 12 && *d >= 1 && *d <= 31;
}

/*
 * Append partition value p (the log's string form, NULL for null) of
 * column c as JSON, formatted as ps_pq_value_json formats that type.  A
 * value that does not parse as its type is written as a string.
 */
static void part_json(const struct tcol *c, const char *p, struct ps_buf *b)
{
	struct ps_pq_value v = { 0 };
	const char *why;
	char *end;
	unsigned y, m, d;

	v.type = c->type;
	if (!p) {
		ps_buf_adds(b, "null");
		return;
	}
	switch (c->type) {
	case PS_PQ_INT32:
	case PS_PQ_INT64:
		v.v.i = strtoll(p, &end, 10);
		if (!*p || *end)
			goto as_string;
		break;
	case PS_PQ_DOUBLE:
		v.v.d = strtod(p, &end);
		if (!*p || *end)
			goto as_string;
		break;
	case PS_PQ_BOOL:
		if (strcmp(p, "true") && strcmp(p, "false"))
			goto as_string;
		v.v.b = !strcmp(p, "true");
		break;
	case PS_PQ_DATE:
		if (!is_date(p, &y, &m, &d))
			goto as_string;
		v.v.i = ps_days_from_civil(y, m, d);
		break;
	case PS_PQ_TIMESTAMP:
		if (ps_time_parse(p, strlen(p), &v.v.i, &why) < 0)
			goto as_string;
		break;
	default:
		goto as_string;
	}
	ps_pq_value_json(&v, b);
	return;
as_string:
	ps_json_add_str(b, p, strlen(p));
}

/* The partition value of column name in f: 1 with *val set, or 0. */
static int part_value(const struct ps_delta_file *f, const char *name,
		      const char **val)
{
	size_t i;

	for (i = 0; i < f->npv; i++)
		if (!strcmp(f->pv_keys[i], name)) {
			*val = f->pv_vals[i];
			return 1;
		}
	return 0;
}

/* Dump the rows of one file.  0, 1 (reader gone) or -1. */
static int dump_file(const char *dir, const struct ps_delta_file *f,
		     const struct tcol *cols, size_t ncols,
		     int (*out)(void *, const void *, size_t), void *ctx,
		     struct ps_buf *b, struct ps_error *e)
{
	char *path = ps_path_join(dir, f->path);
	struct ps_pq_reader *r = ps_pq_reader_open(path, e);
	int *at = NULL, k, rc = 0;
	size_t i;

	if (!r) {
		char msg[sizeof(e->msg)];

		snprintf(msg, sizeof(msg), "%s", e->msg);
		ps_error_set(e, e->code, "%s (referenced by the table version; "
			     "deleted by a vacuum?)", msg);
		free(path);
		return -1;
	}
	at = ps_xcalloc(ncols + 1, sizeof(*at));
	for (i = 0; i < ncols; i++)
		at[i] = cols[i].is_part ? -1 : ps_pq_reader_find(r,
								 cols[i].name);
	while ((k = ps_pq_next(r, e)) > 0) {
		ps_buf_reset(b);
		ps_buf_addc(b, '{');
		for (i = 0; i < ncols; i++) {
			const struct ps_pq_value *v;
			const char *pv;

			if (i)
				ps_buf_addc(b, ',');
			ps_json_add_str(b, cols[i].name, strlen(cols[i].name));
			ps_buf_addc(b, ':');
			if (cols[i].is_part && part_value(f, cols[i].name,
							  &pv))
				part_json(&cols[i], pv, b);
			else if (at[i] >= 0 &&
				 (v = ps_pq_value(r, (size_t)at[i])))
				ps_pq_value_json(v, b);
			else
				ps_buf_adds(b, "null");	/* added later */
		}
		ps_buf_adds(b, "}\n");
		if (out(ctx, b->data, b->len) != 0) {
			rc = 1;
			break;
		}
	}
	if (k < 0) {
		ps_error_prefix(e, PS_EX_DATAERR, path);
		rc = -1;
	}
	free(at);
	free(path);
	ps_pq_reader_free(r);
	return rc;
}

int ps_delta_dump(const char *dir, const struct ps_delta_snapshot *s,
		  int (*out)(void *, const void *, size_t), void *ctx,
		  struct ps_error *e)
{
	struct ps_buf b = PS_BUF_INIT;
	struct tcol *cols = NULL;
	size_t ncols = 0, i;
	int rc = 0;

	if (s->version < 0)
		return ps_error_set(e, PS_EX_NOINPUT, "delta: %s: no table",
				    dir);
	if (schema_cols(s, &cols, &ncols, e))
		return -1;
	for (i = 0; i < s->nfiles && !rc; i++)
		rc = dump_file(dir, &s->files[i], cols, ncols, out, ctx, &b, e);
	for (i = 0; i < ncols; i++)
		free(cols[i].name);
	free(cols);
	ps_buf_release(&b);
	return rc;
}

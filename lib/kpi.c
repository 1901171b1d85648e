/* kpi.c - typed tables written as Parquet or NDJSON; exact quantiles. */
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "kpi.h"
#include "banned.h"

void ps_table_init(struct ps_table *t, const char *name,
		   const struct ps_pq_column *cols, size_t ncols)
{
	t->name = name;
	t->cols = cols;
	t->ncols = ncols;
	t->v = NULL;
	t->nrows = 0;
	t->cap = 0;
	t->fill = NULL;
	t->fill_ctx = NULL;
}

void ps_table_release(struct ps_table *t)
{
	free(t->v);
	t->v = NULL;
	t->nrows = 0;
	t->cap = 0;
}

void ps_table_fill_all(struct ps_table *t)
{
	size_t cursor = 0;

	if (!t->fill)
		return;
	while (t->fill(t->fill_ctx, &cursor, t))
		;
	t->fill = NULL;
	t->fill_ctx = NULL;
}

struct ps_pq_value *ps_table_add_row(struct ps_table *t)
{
	struct ps_pq_value *row;
	size_t i;

	if (t->nrows == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		t->v = ps_xrealloc(t->v, t->cap * t->ncols * sizeof(*t->v));
	}
	row = t->v + t->nrows * t->ncols;
	for (i = 0; i < t->ncols; i++) {
		memset(&row[i], 0, sizeof(row[i]));
		row[i].is_null = 1;
		row[i].type = t->cols[i].type;
	}
	t->nrows++;
	return row;
}

void ps_table_set_i(struct ps_table *t, struct ps_pq_value *row, size_t col,
		    int64_t v)
{
	(void)t;
	row[col].is_null = 0;
	row[col].v.i = v;
}

void ps_table_set_d(struct ps_table *t, struct ps_pq_value *row, size_t col,
		    double v)
{
	(void)t;
	row[col].is_null = 0;
	row[col].v.d = v;
}

void ps_table_set_b(struct ps_table *t, struct ps_pq_value *row, size_t col,
		    int v)
{
	(void)t;
	row[col].is_null = 0;
	row[col].v.b = !!v;
}

void ps_table_set_s(struct ps_table *t, struct ps_pq_value *row, size_t col,
		    const char *p, size_t len)
{
	(void)t;
	row[col].is_null = 0;
	row[col].v.s.p = p;
	row[col].v.s.len = len;
}

long ps_table_col(const struct ps_table *t, const char *name)
{
	size_t i;

	for (i = 0; i < t->ncols; i++)
		if (!strcmp(t->cols[i].name, name))
			return (long)i;
	return -1;
}

static size_t must_col(const struct ps_table *t, const char *name)
{
	long c = ps_table_col(t, name);

	if (c < 0)
		abort();	/* a KPI definition names a column it lacks */
	return (size_t)c;
}

void ps_table_put_i(struct ps_table *t, struct ps_pq_value *row,
		    const char *col, int64_t v)
{
	ps_table_set_i(t, row, must_col(t, col), v);
}

void ps_table_put_d(struct ps_table *t, struct ps_pq_value *row,
		    const char *col, double v)
{
	ps_table_set_d(t, row, must_col(t, col), v);
}

void ps_table_put_b(struct ps_table *t, struct ps_pq_value *row,
		    const char *col, int v)
{
	ps_table_set_b(t, row, must_col(t, col), v);
}

void ps_table_put_s(struct ps_table *t, struct ps_pq_value *row,
		    const char *col, const char *p, size_t len)
{
	ps_table_set_s(t, row, must_col(t, col), p, len);
}

int ps_table_num(const struct ps_table *t, size_t i, long col, double *out)
{
	const struct ps_pq_value *v;

	if (col < 0 || (size_t)col >= t->ncols || i >= t->nrows)
		return -1;
	v = &t->v[i * t->ncols + (size_t)col];
	if (v->is_null || v->type == PS_PQ_STRING)
		return -1;
	*out = v->type == PS_PQ_DOUBLE ? v->v.d : v->type == PS_PQ_BOOL ?
	       (double)v->v.b : (double)v->v.i;
	return 0;
}

int ps_table_write_parquet(const struct ps_table *t, const char *path,
			   enum ps_pq_codec codec, struct ps_error *e)
{
	return ps_table_write_parquet_to(t, path, codec, NULL, e);
}

/* The rows of t into w; -1 with e filled (w aborted) on error. */
static int write_rows(struct ps_pq_writer *w, const struct ps_table *t,
		      struct ps_error *e)
{
	size_t r, c;

	for (r = 0; r < t->nrows; r++) {
		const struct ps_pq_value *row = t->v + r * t->ncols;

		for (c = 0; c < t->ncols; c++) {
			const struct ps_pq_value *v = &row[c];

			if (v->is_null) {
				ps_pq_set_null(w, c);
				continue;
			}
			switch (t->cols[c].type) {
			case PS_PQ_DOUBLE:
				ps_pq_set_double(w, c, v->v.d);
				break;
			case PS_PQ_BOOL:
				ps_pq_set_bool(w, c, v->v.b);
				break;
			case PS_PQ_STRING:
				ps_pq_set_string(w, c, v->v.s.p, v->v.s.len);
				break;
			case PS_PQ_INT32:
			case PS_PQ_DATE:
				ps_pq_set_int32(w, c, (int32_t)v->v.i);
				break;
			default:
				ps_pq_set_int64(w, c, v->v.i);
				break;
			}
		}
		if (ps_pq_end_row(w, e) < 0) {
			if (e)
				e->code = e->code == PS_EX_DATAERR ?
					PS_EX_SOFTWARE : e->code;
			ps_pq_abort(w);
			return -1;
		}
	}
	return 0;
}

int ps_table_write_parquet_to(const struct ps_table *t, const char *path,
			      enum ps_pq_codec codec, struct ps_fsgroup *g,
			      struct ps_error *e)
{
	struct ps_pq_options o = PS_PQ_OPTIONS_INIT;
	struct ps_pq_writer *w;
	struct ps_table chunk;
	size_t cursor = 0;
	int rc = 0;

	o.codec = codec;
	o.group = g;
	w = ps_pq_open(path, t->cols, t->ncols, &o, e);
	if (!w)
		return -1;
	if (!t->fill) {
		if (write_rows(w, t, e) < 0)
			return -1;
		return ps_pq_close(w, e);
	}
	ps_table_init(&chunk, t->name, t->cols, t->ncols);
	while (!rc && t->fill(t->fill_ctx, &cursor, &chunk)) {
		rc = write_rows(w, &chunk, e);
		chunk.nrows = 0;
	}
	ps_table_release(&chunk);
	return rc < 0 ? -1 : ps_pq_close(w, e);
}

void ps_table_row_json(const struct ps_table *t, size_t i, struct ps_buf *b)
{
	const struct ps_pq_value *row = t->v + i * t->ncols;
	const char *n = t->name;
	size_t c;

	if (!strncmp(n, "kpi_", 4))
		n += 4;
	ps_buf_adds(b, "{\"kpi\":");
	ps_json_add_str(b, n, strlen(n));
	for (c = 0; c < t->ncols; c++) {
		ps_buf_addc(b, ',');
		ps_json_add_str(b, t->cols[c].name, strlen(t->cols[c].name));
		ps_buf_addc(b, ':');
		ps_pq_value_json(&row[c], b);
	}
	ps_buf_add(b, "}\n", 2);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

void ps_kpi_sort(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
}

double ps_kpi_quantile_sorted(const double *v, size_t n, double q)
{
	double pos, frac;
	size_t lo;

	if (n == 0)
		return 0;
	pos = (double)(n - 1) * q;
	lo = (size_t)pos;
	if (lo >= n - 1)
		return v[n - 1];
	frac = pos - (double)lo;
	return v[lo] + (v[lo + 1] - v[lo]) * frac;
}

double ps_kpi_quantile_cont(double *v, size_t n, double q)
{
	ps_kpi_sort(v, n);
	return ps_kpi_quantile_sorted(v, n, q);
}

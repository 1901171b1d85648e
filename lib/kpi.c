/* kpi.c - typed tables written as Parquet or NDJSON; exact quantiles. */
#include <pthread.h>
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
	t->kept = NULL;
	t->nkept = t->kept_used = 0;
}

/* Kept bytes come in blocks of KEEP_BLOCK (or one of their own). */
#define KEEP_BLOCK (256u << 10)

void ps_table_clear(struct ps_table *t)
{
	size_t i;

	t->nrows = 0;
	for (i = 1; i < t->nkept; i++)	/* the first block stays */
		free(t->kept[i]);
	t->nkept = t->nkept ? 1 : 0;
	t->kept_used = 0;
}

void ps_table_release(struct ps_table *t)
{
	ps_table_clear(t);
	if (t->nkept)
		free(t->kept[0]);
	free(t->kept);
	t->kept = NULL;
	t->nkept = 0;
	free(t->v);
	t->v = NULL;
	t->nrows = 0;
	t->cap = 0;
}

const char *ps_table_keep(struct ps_table *t, const char *p, size_t n)
{
	char *o;

	if (n > KEEP_BLOCK) {		/* a block of its own, before the
					   one filling */
		o = ps_xmalloc(n);
		t->kept = ps_xrealloc(t->kept, (t->nkept + 1) *
				      sizeof(*t->kept));
		if (t->nkept) {
			t->kept[t->nkept] = t->kept[t->nkept - 1];
			t->kept[t->nkept - 1] = o;
		} else {
			t->kept[0] = o;
			t->kept_used = KEEP_BLOCK;	/* full */
		}
		t->nkept++;
		memcpy(o, p, n);
		return o;
	}
	if (!t->nkept || KEEP_BLOCK - t->kept_used < n) {
		t->kept = ps_xrealloc(t->kept, (t->nkept + 1) *
				      sizeof(*t->kept));
		t->kept[t->nkept++] = ps_xmalloc(KEEP_BLOCK);
		t->kept_used = 0;
	}
	o = t->kept[t->nkept - 1] + t->kept_used;
	t->kept_used += n;
	memcpy(o, p, n);
	return o;
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

/*
 * Filling ahead: a thread fills one chunk while the caller writes the
 * other; full[k] says chunk k holds rows to write (or, with rows 0, that
 * the fill ended), stop that the caller gave up.
 */
#define FILL_AHEAD_MIN 1024	/* rows of a first chunk worth a thread */

struct ahead {
	const struct ps_table *t;
	struct ps_table *chunk[2];
	size_t *cursor;
	int full[2], stop;
	pthread_mutex_t mu;
	pthread_cond_t cv;
};

static void *fill_ahead(void *arg)
{
	struct ahead *a = arg;
	size_t k = 1, n;

	for (;;) {
		pthread_mutex_lock(&a->mu);
		while (a->full[k] && !a->stop)
			pthread_cond_wait(&a->cv, &a->mu);
		if (a->stop) {
			pthread_mutex_unlock(&a->mu);
			break;
		}
		pthread_mutex_unlock(&a->mu);
		n = a->t->fill(a->t->fill_ctx, a->cursor, a->chunk[k]);
		pthread_mutex_lock(&a->mu);
		a->full[k] = 1;
		pthread_cond_broadcast(&a->cv);
		pthread_mutex_unlock(&a->mu);
		if (!n)
			break;
		k ^= 1;
	}
	return NULL;
}

/*
 * Write first (filled) and the rest of t's rows, the next chunk filled
 * by a thread meanwhile; first is empty afterwards.  Returns 0 or -1
 * with e filled (w aborted); when no thread can be started, 0 with first
 * as it was, for the caller to go on alone.
 */
static int write_filled_ahead(struct ps_pq_writer *w, const struct ps_table *t,
			      struct ps_table *first, size_t *cursor,
			      struct ps_error *e)
{
	struct ps_table second;
	struct ahead a;
	pthread_t th;
	size_t k = 0;
	int rc = 0;

	ps_table_init(&second, t->name, t->cols, t->ncols);
	/* the room of the first: the thread never grows it */
	second.cap = first->cap;
	second.v = ps_xmalloc(second.cap * t->ncols * sizeof(*second.v));
	memset(&a, 0, sizeof(a));
	a.t = t;
	a.chunk[0] = first;
	a.chunk[1] = &second;
	a.cursor = cursor;
	a.full[0] = 1;
	pthread_mutex_init(&a.mu, NULL);
	pthread_cond_init(&a.cv, NULL);
	if (pthread_create(&th, NULL, fill_ahead, &a)) {
		pthread_mutex_destroy(&a.mu);
		pthread_cond_destroy(&a.cv);
		ps_table_release(&second);
		return 0;
	}
	for (;;) {
		pthread_mutex_lock(&a.mu);
		while (!a.full[k])
			pthread_cond_wait(&a.cv, &a.mu);
		pthread_mutex_unlock(&a.mu);
		if (!a.chunk[k]->nrows)
			break;		/* the fill ended */
		rc = write_rows(w, a.chunk[k], e);
		ps_table_clear(a.chunk[k]);
		pthread_mutex_lock(&a.mu);
		a.full[k] = 0;
		a.stop = rc < 0;
		pthread_cond_broadcast(&a.cv);
		pthread_mutex_unlock(&a.mu);
		if (rc < 0)
			break;
		k ^= 1;
	}
	pthread_join(th, NULL);
	pthread_mutex_destroy(&a.mu);
	pthread_cond_destroy(&a.cv);
	ps_table_release(&second);
	ps_table_clear(first);
	return rc;
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
	if (t->fill(t->fill_ctx, &cursor, &chunk) >= FILL_AHEAD_MIN)
		rc = write_filled_ahead(w, t, &chunk, &cursor, e);
	while (rc == 0 && chunk.nrows) {
		rc = write_rows(w, &chunk, e);
		ps_table_clear(&chunk);
		if (rc == 0)
			t->fill(t->fill_ctx, &cursor, &chunk);
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

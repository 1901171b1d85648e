/*
 * dash_data.c - the dashboard's model, read from the lake (see dash.h).
 *
 * Every gold table goes through ps_dash_table_files (the files a reader
 * may see) and the Parquet reader, with columns looked up by name, so a
 * table or column that is missing leaves its part of the model empty.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "checkpoint.h"
#include "dash.h"
#include "delta.h"
#include "lake.h"
#include "fsutil.h"
#include "json.h"
#include "kpi.h"
#include "lake.h"
#include "pstime.h"
#include "seal.h"
#include "banned.h"

#define HOUR_US (3600LL * 1000000)
#define DAY_US (24 * HOUR_US)

const char *const ps_dash_table_names[PS_DASH_NTABLES] = {
	"kpi_occupancy", "kpi_occupancy_hospital", "kpi_waiting", "kpi_los",
	"kpi_volume", "kpi_demographics", "kpi_overstay", "kpi_bed_turnover",
	"kpi_inflow", "dim_department", "kpi_ed",
};

static char *pathf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *pathf(const char *fmt, ...)
{
	struct ps_buf b = PS_BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	ps_buf_grow(&b, 256);
	{
		int n = vsnprintf(b.data, b.cap, fmt, ap);

		va_end(ap);
		if (n >= 0 && (size_t)n >= b.cap) {
			ps_buf_grow(&b, (size_t)n + 1);
			va_start(ap, fmt);
			vsnprintf(b.data, b.cap, fmt, ap);
			va_end(ap);
		}
	}
	return b.data;
}

/* ------------------------------------------------------------------ */
/* Listing                                                             */
/* ------------------------------------------------------------------ */

struct list {
	char **p;
	size_t n, cap;
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !memcmp(s + n - m, suffix, m);
}

/*
 * Files under dir (recursively) whose name ends with suffix, skipping
 * hidden and private entries ('.', '_': temporaries, _delta_log).  A
 * missing dir adds nothing.
 */
static int walk(const char *dir, const char *suffix, struct list *l,
		int depth, struct ps_error *e)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		return ps_error_errno(e, PS_EX_IOERR, errno, "cannot list %s",
				      dir);
	}
	while ((de = readdir(d))) {
		char *p;
		struct stat st;

		if (de->d_name[0] == '.' || de->d_name[0] == '_')
			continue;
		p = pathf("%s/%s", dir, de->d_name);
		if (stat(p, &st) < 0) {
			free(p);
			continue;	/* replaced under us */
		}
		if (S_ISDIR(st.st_mode) && depth < 4) {
			int rc = walk(p, suffix, l, depth + 1, e);

			free(p);
			if (rc < 0) {
				closedir(d);
				return -1;
			}
		} else if (S_ISREG(st.st_mode) && ends_with(de->d_name, suffix)) {
			if (l->n == l->cap) {
				l->cap = l->cap ? 2 * l->cap : 16;
				l->p = ps_xrealloc(l->p, l->cap * sizeof(*l->p));
			}
			l->p[l->n++] = p;
		} else {
			free(p);
		}
	}
	closedir(d);
	return 0;
}

/* Append to l the part files of table t a reader may see (lib/lake.h). */
static int lake_files(struct list *l, const char *lake, enum ps_lake_table t,
		      const char *stream, struct ps_error *e)
{
	struct ps_lake_parts ps = PS_LAKE_PARTS_INIT;
	size_t i;

	if (ps_lake_visible(lake, t, stream, &ps, e) < 0)
		return -1;
	for (i = 0; i < ps.n; i++) {
		if (l->n == l->cap) {
			l->cap = l->cap ? 2 * l->cap : 16;
			l->p = ps_xrealloc(l->p, l->cap * sizeof(*l->p));
		}
		l->p[l->n++] = ps.v[i].path;
		ps.v[i].path = NULL;
	}
	ps_lake_parts_release(&ps);
	return 0;
}

/*
 * The files of a table a reader may see, sorted.  For a Delta table
 * (dir/_delta_log), the active files of its latest snapshot (lib/delta.h);
 * else, for the tables of the lake module (ntables > 0: silver and the
 * quarantine of stream), what their writers' commit points cover
 * (ps_lake_visible); else (a gold table without a log) the files under
 * dir ending with suffix.
 */
static int list_files(const char *dir, const char *suffix, const char *lake,
		      const char *stream, const enum ps_lake_table *tables,
		      size_t ntables, char ***files, size_t *n,
		      struct ps_error *e)
{
	struct list l = { NULL, 0, 0 };
	struct ps_delta_snapshot snap = PS_DELTA_SNAPSHOT_INIT;
	size_t i;
	int rc = 0;

	if (ps_delta_snapshot_load(dir, -1, &snap, e) < 0)
		return -1;
	if (snap.version >= 0) {
		l.p = ps_xcalloc(snap.nfiles + 1, sizeof(*l.p));
		for (i = 0; i < snap.nfiles; i++)
			if (ends_with(snap.files[i].path, suffix))
				l.p[l.n++] = pathf("%s/%s", dir,
						   snap.files[i].path);
		ps_delta_snapshot_release(&snap);
	} else if (ntables) {
		for (i = 0; i < ntables && rc == 0; i++)
			rc = lake_files(&l, lake, tables[i], stream, e);
	} else {
		rc = walk(dir, suffix, &l, 0, e);
	}
	if (rc < 0) {
		for (i = 0; i < l.n; i++)
			free(l.p[i]);
		free(l.p);
		return -1;
	}
	if (l.n)
		qsort(l.p, l.n, sizeof(*l.p), cmp_str);
	*files = l.p;
	*n = l.n;
	return 0;
}

int ps_dash_table_files(const char *lake, const char *name, char ***files,
			size_t *n, struct ps_error *e)
{
	char *dir = pathf("%s/gold/%s", lake, name);
	int rc = list_files(dir, ".parquet", NULL, NULL, NULL, 0, files, n,
			    e);

	free(dir);
	return rc;
}

void ps_dash_free_strs(char **files, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(files[i]);
	free(files);
}

/* ------------------------------------------------------------------ */
/* Tables by column name                                               */
/* ------------------------------------------------------------------ */

int ps_dash_col(const struct ps_dash_tab *t, const char *name)
{
	size_t i;

	for (i = 0; i < t->ncols; i++)
		if (!strcmp(t->cols[i], name))
			return (int)i;
	return -1;
}

const struct ps_pq_value *ps_dash_val(const struct ps_dash_tab *t, size_t i,
				      int col)
{
	const struct ps_pq_value *v;

	if (col < 0 || (size_t)col >= t->ncols || i >= t->nrows)
		return NULL;
	v = &t->v[i * t->ncols + (size_t)col];
	return v->is_null ? NULL : v;
}

static double value_num(const struct ps_pq_value *v)
{
	if (!v || v->is_null)
		return NAN;
	switch (v->type) {
	case PS_PQ_DOUBLE:
		return v->v.d;
	case PS_PQ_BOOL:
		return v->v.b ? 1 : 0;
	case PS_PQ_STRING:
		return NAN;
	default:
		return (double)v->v.i;
	}
}

double ps_dash_num(const struct ps_dash_tab *t, size_t i, int col)
{
	return value_num(ps_dash_val(t, i, col));
}

const char *ps_dash_text(const struct ps_dash_tab *t, size_t i, int col,
			 char *buf, size_t n)
{
	const struct ps_pq_value *v = ps_dash_val(t, i, col);

	if (!v)
		return "";
	switch (v->type) {
	case PS_PQ_STRING:
		return v->v.s.p;
	case PS_PQ_DATE:
		ps_date_format(v->v.i * 86400LL * 1000000, buf);
		return buf;
	case PS_PQ_TIMESTAMP:
		ps_time_format(v->v.i, buf, -1);
		return buf;
	case PS_PQ_DOUBLE:
		snprintf(buf, n, "%g", v->v.d);
		return buf;
	case PS_PQ_BOOL:
		return v->v.b ? "true" : "false";
	default:
		snprintf(buf, n, "%lld", (long long)v->v.i);
		return buf;
	}
}

const char *ps_dash_str(const struct ps_dash_tab *t, size_t i, int col)
{
	const struct ps_pq_value *v = ps_dash_val(t, i, col);

	return v && v->type == PS_PQ_STRING ? v->v.s.p : "";
}

static void tab_release(struct ps_dash_tab *t)
{
	size_t i;

	for (i = 0; i < t->nrows * t->ncols; i++)
		if (!t->v[i].is_null && t->v[i].type == PS_PQ_STRING)
			free((char *)t->v[i].v.s.p);
	for (i = 0; i < t->ncols; i++)
		free(t->cols[i]);
	free(t->cols);
	free(t->types);
	free(t->v);
	memset(t, 0, sizeof(*t));
}

/* Append every row of the reader to t, mapping columns by name. */
static int tab_add_file(struct ps_dash_tab *t, struct ps_pq_reader *r,
			struct ps_error *e)
{
	size_t nc = ps_pq_reader_ncols(r), i;
	int *map, rc;

	if (!t->ncols) {
		t->ncols = nc;
		t->cols = ps_xcalloc(nc ? nc : 1, sizeof(*t->cols));
		t->types = ps_xcalloc(nc ? nc : 1, sizeof(*t->types));
		for (i = 0; i < nc; i++) {
			t->cols[i] = ps_xstrdup(ps_pq_reader_col(r, i)->name);
			t->types[i] = ps_pq_reader_col(r, i)->type;
		}
	}
	map = ps_xcalloc(t->ncols ? t->ncols : 1, sizeof(*map));
	for (i = 0; i < t->ncols; i++)
		map[i] = ps_pq_reader_find(r, t->cols[i]);
	while ((rc = ps_pq_next(r, e)) == 1) {
		struct ps_pq_value *row;

		if (t->nrows == t->cap) {
			t->cap = t->cap ? 2 * t->cap : 64;
			t->v = ps_xrealloc(t->v, t->cap * t->ncols *
					   sizeof(*t->v));
		}
		row = &t->v[t->nrows++ * t->ncols];
		for (i = 0; i < t->ncols; i++) {
			const struct ps_pq_value *v =
				map[i] < 0 ? NULL : ps_pq_value(r, (size_t)map[i]);

			if (!v || v->is_null || v->type != t->types[i]) {
				memset(&row[i], 0, sizeof(row[i]));
				row[i].is_null = 1;
				row[i].type = t->types[i];
				continue;
			}
			row[i] = *v;
			if (v->type == PS_PQ_STRING)
				row[i].v.s.p = ps_xmemdup(v->v.s.p, v->v.s.len);
		}
	}
	free(map);
	return rc < 0 ? -1 : 0;
}

/* Load gold table name into t (empty and not present when missing). */
static int tab_load(struct ps_dash_tab *t, const char *lake, const char *name,
		    struct ps_error *e)
{
	char **files;
	size_t n, i;
	int rc = 0;

	memset(t, 0, sizeof(*t));
	t->name = name;
	if (ps_dash_table_files(lake, name, &files, &n, e) < 0)
		return -1;
	for (i = 0; i < n && !rc; i++) {
		struct ps_pq_reader *r = ps_pq_reader_open(files[i], e);

		if (!r) {
			rc = -1;
			break;
		}
		rc = tab_add_file(t, r, e);
		ps_pq_reader_free(r);
		t->present = 1;
	}
	ps_dash_free_strs(files, n);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Small hash maps: int64 -> int                                       */
/* ------------------------------------------------------------------ */

struct imap {
	int64_t *k;
	int *v;
	unsigned char *used;
	size_t n, cap;
};

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	return x ^ (x >> 33);
}

static void imap_grow(struct imap *m);

/* The slot of k (inserted with value v when new); returns the value. */
static int *imap_put(struct imap *m, int64_t k, int v)
{
	size_t i;

	if ((m->n + 1) * 2 > m->cap)
		imap_grow(m);
	for (i = mix((uint64_t)k) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		if (!m->used[i]) {
			m->used[i] = 1;
			m->k[i] = k;
			m->v[i] = v;
			m->n++;
			return &m->v[i];
		}
		if (m->k[i] == k)
			return &m->v[i];
	}
}

static const int *imap_get(const struct imap *m, int64_t k)
{
	size_t i;

	if (!m->cap)
		return NULL;
	for (i = mix((uint64_t)k) & (m->cap - 1); m->used[i];
	     i = (i + 1) & (m->cap - 1))
		if (m->k[i] == k)
			return &m->v[i];
	return NULL;
}

static void imap_grow(struct imap *m)
{
	struct imap o = *m;
	size_t i;

	m->cap = o.cap ? 2 * o.cap : 64;
	m->k = ps_xcalloc(m->cap, sizeof(*m->k));
	m->v = ps_xcalloc(m->cap, sizeof(*m->v));
	m->used = ps_xcalloc(m->cap, 1);
	m->n = 0;
	for (i = 0; i < o.cap; i++)
		if (o.used[i])
			imap_put(m, o.k[i], o.v[i]);
	free(o.k);
	free(o.v);
	free(o.used);
}

static void imap_free(struct imap *m)
{
	free(m->k);
	free(m->v);
	free(m->used);
	memset(m, 0, sizeof(*m));
}

/* ------------------------------------------------------------------ */
/* fact_patient_flow, joined with dim_patient                          */
/* ------------------------------------------------------------------ */

/* Interned strings (genders, departments): a handful each. */
struct names {
	char **s;
	size_t n, cap;
};

static int intern(struct names *ns, const char *p, size_t len)
{
	size_t i;

	for (i = 0; i < ns->n; i++)
		if (strlen(ns->s[i]) == len && !memcmp(ns->s[i], p, len))
			return (int)i;
	if (ns->n == ns->cap) {
		ns->cap = ns->cap ? 2 * ns->cap : 8;
		ns->s = ps_xrealloc(ns->s, ns->cap * sizeof(*ns->s));
	}
	ns->s[ns->n] = ps_xmemdup(p, len);
	return (int)ns->n++;
}

static void names_free(struct names *ns)
{
	size_t i;

	for (i = 0; i < ns->n; i++)
		free(ns->s[i]);
	free(ns->s);
}

/*
 * The patient key the fact joins the dimension on: the durable key when
 * both have one (as examples/sql/duckdb/02_original_views.sql), else
 * patient_sk.
 */
static const char *const patient_keys[] = { "patient_key", "patient_sk" };

/* key -> gender index of the current version (only current rows when the
 * table says which are).  *key gets the key column used, or NULL. */
static int load_genders(const char *lake, struct imap *pm, struct names *g,
			const char **key, struct ps_error *e)
{
	char **files;
	size_t n, i, k;
	int rc = 0;

	*key = NULL;
	if (ps_dash_table_files(lake, "dim_patient", &files, &n, e) < 0)
		return -1;
	for (i = 0; i < n && !rc; i++) {
		struct ps_pq_reader *r = ps_pq_reader_open(files[i], e);
		int ck = -1, cg, cc, more = 0;

		if (!r) {
			rc = -1;
			break;
		}
		for (k = 0; k < 2 && ck < 0; k++)
			if ((ck = ps_pq_reader_find(r, patient_keys[k])) >= 0)
				*key = patient_keys[k];
		cg = ps_pq_reader_find(r, "gender");
		cc = ps_pq_reader_find(r, "is_current");
		{
			const int sel[3] = { ck, cg, cc };

			ps_pq_reader_select(r, sel, 3);
		}
		while (ck >= 0 && cg >= 0 && (more = ps_pq_next(r, e)) == 1) {
			const struct ps_pq_value *kv = ps_pq_value(r, (size_t)ck),
						 *gv = ps_pq_value(r, (size_t)cg),
						 *cv = cc < 0 ? NULL :
						       ps_pq_value(r, (size_t)cc);

			if (kv->is_null || gv->is_null ||
			    (cv && (cv->is_null || !cv->v.b)))
				continue;
			*imap_put(pm, kv->v.i, 0) = intern(g, gv->v.s.p,
							   gv->v.s.len);
		}
		if (more < 0)
			rc = -1;
		ps_pq_reader_free(r);
	}
	ps_dash_free_strs(files, n);
	return rc;
}

struct dsamples {
	double *v;
	size_t n, cap;
};

static void add_sample(struct dsamples *s, double x)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 256;
		s->v = ps_xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	s->v[s->n++] = x;
}

struct fact_acc {
	struct ps_dash_model *m;
	struct imap patients;		/* patient key -> gender */
	struct names genders, depts;
	struct dsamples *waits, *loss;	/* per department */
	long long *diff;		/* census difference array */
	/* views: [gender] and [dept * ngender_cap + gender] */
	struct ps_dash_view *vg, *vdg;
	struct imap *beds;		/* per gender: bed ids */
	size_t capg, capd;
};

static int hour_index(const struct ps_dash_model *m, int64_t ts)
{
	/* the first hourly point (the end of hour k: hour0 + (k + 1) h,
	 * the last one being now) at or after ts */
	int64_t k;

	if (ts <= m->hour0 + HOUR_US)
		return 0;
	if (ts > m->now)
		return PS_DASH_HOURS;
	k = (ts - m->hour0 + HOUR_US - 1) / HOUR_US - 1;
	return k >= PS_DASH_HOURS ? PS_DASH_HOURS - 1 : (int)k;
}

static struct ps_dash_view *view_at(struct fact_acc *a, int dept, int g)
{
	/* grow the per-gender and per-department x gender arrays */
	size_t need_g = a->genders.n, need_d = a->depts.n;

	if (need_g > a->capg || need_d > a->capd) {
		size_t ng = need_g > a->capg ? need_g + 4 : a->capg,
		       nd = need_d > a->capd ? need_d + 8 : a->capd, i, j;
		struct ps_dash_view *vdg = ps_xcalloc(ng * nd, sizeof(*vdg));

		for (i = 0; i < a->capd; i++)
			for (j = 0; j < a->capg; j++)
				vdg[i * ng + j] = a->vdg[i * a->capg + j];
		free(a->vdg);
		a->vdg = vdg;
		a->vg = ps_xrealloc(a->vg, ng * sizeof(*a->vg));
		memset(a->vg + a->capg, 0, (ng - a->capg) * sizeof(*a->vg));
		a->beds = ps_xrealloc(a->beds, ng * sizeof(*a->beds));
		memset(a->beds + a->capg, 0, (ng - a->capg) * sizeof(*a->beds));
		a->waits = ps_xrealloc(a->waits, nd * sizeof(*a->waits));
		memset(a->waits + a->capd, 0, (nd - a->capd) * sizeof(*a->waits));
		a->loss = ps_xrealloc(a->loss, nd * sizeof(*a->loss));
		memset(a->loss + a->capd, 0, (nd - a->capd) * sizeof(*a->loss));
		a->capg = ng;
		a->capd = nd;
	}
	return dept < 0 ? &a->vg[g] : &a->vdg[(size_t)dept * a->capg + (size_t)g];
}

enum { F_PATIENT, F_DEPT, F_BED, F_ARRIVAL, F_ADMISSION, F_DISCHARGE,
       F_LOS, F_WAIT, F_CURRENT, F_N };
static const char *const fact_cols[F_N] = {
	"patient_sk", "department", "bed_id", "arrival_time", "admission_time",
	"discharge_time", "length_of_stay_hours", "waiting_minutes",
	"is_currently_admitted",
};

static void fact_row(struct fact_acc *a, const struct ps_pq_value *const *c)
{
	struct ps_dash_model *m = a->m;
	int64_t adm = c[F_ADMISSION]->v.i, dis;
	int has_dis = c[F_DISCHARGE] && !c[F_DISCHARGE]->is_null;
	int g = -1, dept, cur, has_bed;
	const int *gp;

	dis = has_dis ? c[F_DISCHARGE]->v.i : INT64_MAX;
	m->encounters++;
	/* hourly admissions and census */
	if (adm > m->hour0 && adm <= m->now) {
		int k = (int)((adm - m->hour0 - 1) / HOUR_US);

		m->admissions_hour[k < PS_DASH_HOURS ? k : PS_DASH_HOURS - 1]++;
	}
	if (adm <= m->now) {
		a->diff[hour_index(m, adm)]++;
		if (has_dis)
			a->diff[hour_index(m, dis)]--;
	}
	if (c[F_ARRIVAL] && !c[F_ARRIVAL]->is_null &&
	    c[F_ARRIVAL]->v.i <= m->now && adm > m->now)
		m->waiting_for_bed++;

	dept = c[F_DEPT] && !c[F_DEPT]->is_null ?
	       intern(&a->depts, c[F_DEPT]->v.s.p, c[F_DEPT]->v.s.len) : -1;
	if (dept >= 0) {
		view_at(a, dept, 0);
		if (c[F_WAIT] && !c[F_WAIT]->is_null &&
		    adm > m->now - 7 * DAY_US && adm <= m->now)
			add_sample(&a->waits[dept], value_num(c[F_WAIT]));
		if (has_dis && dis > m->now - 7 * DAY_US && dis <= m->now)
			add_sample(&a->loss[dept],
				   (double)(dis - adm) / (double)HOUR_US);
	}

	/* the original lab's views, over the fact joined with the patient */
	if (!c[F_PATIENT] || c[F_PATIENT]->is_null)
		return;
	gp = imap_get(&a->patients, c[F_PATIENT]->v.i);
	if (!gp)
		return;
	g = *gp;
	cur = c[F_CURRENT] && !c[F_CURRENT]->is_null && c[F_CURRENT]->v.b;
	has_bed = c[F_BED] && !c[F_BED]->is_null;
	{
		struct ps_dash_view *v[2];
		int i;

		v[0] = view_at(a, -1, g);
		v[1] = dept >= 0 ? view_at(a, dept, g) : NULL;
		for (i = 0; i < 2; i++) {
			double los = value_num(c[F_LOS]);

			if (!v[i])
				continue;
			v[i]->rows++;
			v[i]->admitted += cur;
			v[i]->rows_with_bed += has_bed;
			v[i]->admitted_with_bed += has_bed && cur;
			if (!isnan(los)) {
				v[i]->los_sum += los;
				v[i]->los_n++;
				v[i]->overstay += los > 50;
			}
		}
		if (has_bed)
			imap_put(&a->beds[g], c[F_BED]->v.i, 1);
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int load_fact(struct ps_dash_model *m, const char *lake,
		     struct ps_error *e)
{
	struct fact_acc a;
	char **files;
	size_t n, i, j;
	int rc = 0;
	long long run = 0;
	const char *key = NULL;

	memset(&a, 0, sizeof(a));
	a.m = m;
	if (ps_dash_table_files(lake, "fact_patient_flow", &files, &n, e) < 0)
		return -1;
	if (!n) {
		free(files);
		return 0;
	}
	if (load_genders(lake, &a.patients, &a.genders, &key, e) < 0) {
		ps_dash_free_strs(files, n);
		return -1;
	}
	m->has_gender = a.patients.n > 0;
	a.diff = ps_xcalloc(PS_DASH_HOURS + 1, sizeof(*a.diff));
	for (i = 0; i < n && !rc; i++) {
		struct ps_pq_reader *r = ps_pq_reader_open(files[i], e);
		int col[F_N], k;

		if (!r) {
			rc = -1;
			break;
		}
		for (j = 0; j < F_N; j++)
			col[j] = ps_pq_reader_find(r, j == F_PATIENT && key ?
						   key : fact_cols[j]);
		if (col[F_ADMISSION] < 0) {
			ps_pq_reader_free(r);
			continue;
		}
		ps_pq_reader_select(r, col, F_N);
		m->has_fact = 1;
		while ((k = ps_pq_next(r, e)) == 1) {
			const struct ps_pq_value *c[F_N];

			for (j = 0; j < F_N; j++)
				c[j] = col[j] < 0 ? NULL :
				       ps_pq_value(r, (size_t)col[j]);
			if (c[F_ADMISSION]->is_null)
				continue;
			fact_row(&a, c);
		}
		if (k < 0)
			rc = -1;
		ps_pq_reader_free(r);
	}
	ps_dash_free_strs(files, n);

	for (i = 0; i < PS_DASH_HOURS; i++) {
		run += a.diff[i];
		m->census_hour[i] = run;
	}
	/* per department: medians and p90 from the samples */
	m->ndepts = a.depts.n;
	m->depts = ps_xcalloc(a.depts.n ? a.depts.n : 1, sizeof(*m->depts));
	for (i = 0; i < a.depts.n; i++) {
		struct ps_dash_dept *d = &m->depts[i];

		d->department = ps_xstrdup(a.depts.s[i]);
		d->nwait = a.waits[i].n;
		d->nlos = a.loss[i].n;
		d->wait_median = d->wait_p90 = d->los_median = d->los_p90 = NAN;
		if (d->nwait >= PS_DASH_MIN_SAMPLES) {
			qsort(a.waits[i].v, d->nwait, sizeof(double), cmp_double);
			d->wait_median = ps_kpi_quantile_sorted(a.waits[i].v,
								d->nwait, 0.5);
			d->wait_p90 = ps_kpi_quantile_sorted(a.waits[i].v,
							     d->nwait, 0.9);
		}
		if (d->nlos >= PS_DASH_MIN_SAMPLES) {
			qsort(a.loss[i].v, d->nlos, sizeof(double), cmp_double);
			d->los_median = ps_kpi_quantile_sorted(a.loss[i].v,
							       d->nlos, 0.5);
			d->los_p90 = ps_kpi_quantile_sorted(a.loss[i].v,
							    d->nlos, 0.9);
		}
		free(a.waits[i].v);
		free(a.loss[i].v);
	}
	/* views: copy out the non-empty cells with their names */
	m->by_gender = ps_xcalloc(a.genders.n ? a.genders.n : 1,
				  sizeof(*m->by_gender));
	for (i = 0; i < a.genders.n && i < a.capg; i++) {
		if (!a.vg[i].rows)
			continue;
		m->by_gender[m->nby_gender] = a.vg[i];
		m->by_gender[m->nby_gender].gender = ps_xstrdup(a.genders.s[i]);
		m->by_gender[m->nby_gender].distinct_beds = (long long)a.beds[i].n;
		m->nby_gender++;
	}
	m->by_dept_gender = ps_xcalloc(a.capd * a.capg + 1,
				       sizeof(*m->by_dept_gender));
	for (i = 0; i < a.depts.n; i++)
		for (j = 0; j < a.genders.n && j < a.capg; j++) {
			struct ps_dash_view *v = &a.vdg[i * a.capg + j],
					    *o = &m->by_dept_gender[m->nby_dept_gender];

			if (!v->rows)
				continue;
			*o = *v;
			o->department = ps_xstrdup(a.depts.s[i]);
			o->gender = ps_xstrdup(a.genders.s[j]);
			m->nby_dept_gender++;
		}
	for (i = 0; i < a.capg; i++)
		imap_free(&a.beds[i]);
	free(a.beds);
	free(a.vg);
	free(a.vdg);
	free(a.waits);
	free(a.loss);
	free(a.diff);
	imap_free(&a.patients);
	names_free(&a.genders);
	names_free(&a.depts);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Data quality: quarantine reasons, silver rows and flags             */
/* ------------------------------------------------------------------ */

static void count_add(struct ps_dash_count **c, size_t *n, const char *name,
		      size_t len, long long k)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (strlen((*c)[i].name) == len &&
		    !memcmp((*c)[i].name, name, len)) {
			(*c)[i].n += k;
			return;
		}
	*c = ps_xrealloc(*c, (*n + 1) * sizeof(**c));
	(*c)[*n].name = ps_xmemdup(name, len);
	(*c)[*n].n = k;
	(*n)++;
}

static int cmp_count(const void *a, const void *b)
{
	const struct ps_dash_count *x = a, *y = b;

	if (x->n != y->n)
		return x->n < y->n ? 1 : -1;
	return strcmp(x->name, y->name);
}

/*
 * What one quarantine or silver file holds, kept between loads: committed
 * files never change, so a file whose inode, size and mtime are the same
 * is not read again (a long --follow would otherwise reread every file of
 * the lake at every gold commit).
 */
struct fsum {
	char *path;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	long long rows, flagged;
	struct ps_dash_count *reasons;
	size_t nreasons;
	/* silver: its source, and (position, event_time) of rows with an
	 * event_time, for late arrivals */
	char *source;
	int64_t *pos, *et;
	size_t nev;
};

struct fsums {
	struct fsum *f;
	size_t n;
};

struct ps_dash_cache {
	struct fsums quarantine, silver;
};

struct ps_dash_cache *ps_dash_cache_new(void)
{
	return ps_xcalloc(1, sizeof(struct ps_dash_cache));
}

static void fsum_release(struct fsum *f)
{
	size_t i;

	for (i = 0; i < f->nreasons; i++)
		free(f->reasons[i].name);
	free(f->reasons);
	free(f->path);
	free(f->source);
	free(f->pos);
	free(f->et);
}

static void fsums_release(struct fsums *a)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		fsum_release(&a->f[i]);
	free(a->f);
	a->f = NULL;
	a->n = 0;
}

void ps_dash_cache_free(struct ps_dash_cache *c)
{
	if (!c)
		return;
	fsums_release(&c->quarantine);
	fsums_release(&c->silver);
	free(c);
}

/* Count the records and reasons of one quarantine file (gzip NDJSON). */
static int quarantine_file(struct fsum *f, struct ps_error *e)
{
	gzFile gz = gzopen(f->path, "rb");
	struct ps_buf line = PS_BUF_INIT;
	char buf[65536];
	int k;

	if (!gz)
		return ps_error_errno(e, PS_EX_IOERR, errno, "cannot open %s",
				      f->path);
	for (;;) {
		char *nl;
		size_t off = 0;

		k = gzread(gz, buf, sizeof(buf));
		if (k < 0) {
			gzclose(gz);
			ps_buf_release(&line);
			return ps_error_set(e, PS_EX_IOERR, "%s: gzip read "
					    "error", f->path);
		}
		if (k == 0 && !line.len)
			break;
		ps_buf_add(&line, buf, (size_t)k);
		if (k == 0)
			ps_buf_addc(&line, '\n');
		while ((nl = memchr(line.data + off, '\n', line.len - off))) {
			size_t n = (size_t)(nl - (line.data + off));
			yajl_val v = n ? ps_json_parse(line.data + off, n, NULL,
						       0) : NULL;
			yajl_val rs = v ? ps_json_get(v, "reasons") : NULL;
			size_t i;

			if (v)
				f->rows++;
			if (rs && YAJL_IS_ARRAY(rs))
				for (i = 0; i < rs->u.array.len; i++) {
					yajl_val s = rs->u.array.values[i];

					if (YAJL_IS_STRING(s))
						count_add(&f->reasons,
							  &f->nreasons,
							  s->u.string,
							  strlen(s->u.string),
							  1);
				}
			if (v)
				yajl_tree_free(v);
			off += n + 1;
		}
		memmove(line.data, line.data + off, line.len - off);
		line.len -= off;
		if (k == 0)
			break;
	}
	gzclose(gz);
	ps_buf_release(&line);
	return 0;
}

/* Rows kept and flagged in one silver file (from the footer), and the
 * position and event time of each row that has one. */
static int silver_file(struct fsum *f, struct ps_error *e)
{
	struct ps_pq_reader *r = ps_pq_reader_open(f->path, e);
	const char *src;
	int cf, sel[2], k;
	size_t g;

	if (!r)
		return -1;
	f->rows = ps_pq_reader_nrows(r);
	cf = ps_pq_reader_find(r, "flags");
	for (g = 0; cf >= 0 && g < ps_pq_reader_nrow_groups(r); g++) {
		struct ps_pq_stats st;

		if (!ps_pq_reader_stats(r, g, (size_t)cf, &st) &&
		    st.has_null_count)
			f->flagged += st.num_values - st.null_count;
	}
	src = ps_pq_reader_kv_get(r, "pulsestream.source");
	sel[0] = ps_pq_reader_find(r, "position");
	sel[1] = ps_pq_reader_find(r, "event_time");
	if (!src || sel[0] < 0 || sel[1] < 0) {
		ps_pq_reader_free(r);
		return 0;
	}
	f->source = ps_xstrdup(src);
	f->pos = ps_xmalloc((size_t)f->rows * sizeof(*f->pos) + 1);
	f->et = ps_xmalloc((size_t)f->rows * sizeof(*f->et) + 1);
	ps_pq_reader_select(r, sel, 2);
	while ((k = ps_pq_next(r, e)) == 1 && f->nev < (size_t)f->rows) {
		const struct ps_pq_value *p = ps_pq_value(r, (size_t)sel[0]),
					 *t = ps_pq_value(r, (size_t)sel[1]);

		if (p->is_null || t->is_null)
			continue;
		f->pos[f->nev] = p->v.i;
		f->et[f->nev++] = t->v.i;
	}
	ps_pq_reader_free(r);
	return k < 0 ? -1 : 0;
}

struct arrival {
	int64_t pos, et;
};

static int cmp_arrival(const void *a, const void *b)
{
	const struct arrival *x = a, *y = b;

	return (x->pos > y->pos) - (x->pos < y->pos);
}

/*
 * Late events: kept records whose event time is more than PS_DASH_LATE
 * older than an event their source delivered before them (by position).
 * Each source's rows are gathered from its files and put in order.
 */
static long long count_late(const struct fsums *sv)
{
	long long late = 0;
	size_t i, j, n;
	unsigned char *done = ps_xcalloc(sv->n + 1, 1);

	for (i = 0; i < sv->n; i++) {
		struct arrival *a;
		int64_t max = INT64_MIN;

		if (done[i] || !sv->f[i].source)
			continue;
		for (j = i, n = 0; j < sv->n; j++)
			if (sv->f[j].source &&
			    !strcmp(sv->f[j].source, sv->f[i].source))
				n += sv->f[j].nev;
		a = ps_xmalloc((n + 1) * sizeof(*a));
		for (j = i, n = 0; j < sv->n; j++) {
			size_t k;

			if (!sv->f[j].source ||
			    strcmp(sv->f[j].source, sv->f[i].source))
				continue;
			done[j] = 1;
			for (k = 0; k < sv->f[j].nev; k++) {
				a[n].pos = sv->f[j].pos[k];
				a[n++].et = sv->f[j].et[k];
			}
		}
		qsort(a, n, sizeof(*a), cmp_arrival);
		for (j = 0; j < n; j++) {
			if (max != INT64_MIN && a[j].et < max - PS_DASH_LATE)
				late++;
			if (a[j].et > max)
				max = a[j].et;
		}
		free(a);
	}
	free(done);
	return late;
}

static int cmp_fsum(const void *a, const void *b)
{
	return strcmp(((const struct fsum *)a)->path,
		      ((const struct fsum *)b)->path);
}

/*
 * Summaries of the files of the tables of stream (list_files), reusing
 * those of old (sorted by path) that did not change; old is replaced.  A
 * file that went away in between is skipped.
 */
static int summarize(const char *dir, const char *suffix, const char *lake,
		     const char *stream, const enum ps_lake_table *tables,
		     size_t ntables, struct fsums *old,
		     int (*read_fn)(struct fsum *, struct ps_error *),
		     struct ps_error *e)
{
	struct fsums nw = { NULL, 0 };
	char **files;
	size_t n, i;
	int rc = 0;

	if (list_files(dir, suffix, lake, stream, tables, ntables, &files, &n,
		       e) < 0)
		return -1;
	nw.f = ps_xcalloc(n + 1, sizeof(*nw.f));
	for (i = 0; i < n && !rc; i++) {
		struct fsum key, *hit, *f = &nw.f[nw.n];
		struct stat st;

		if (stat(files[i], &st) < 0)
			continue;
		key.path = files[i];
		hit = old->n ? bsearch(&key, old->f, old->n, sizeof(*old->f),
				       cmp_fsum) : NULL;
		if (hit && hit->ino == st.st_ino && hit->size == st.st_size &&
		    hit->mtime.tv_sec == st.st_mtim.tv_sec &&
		    hit->mtime.tv_nsec == st.st_mtim.tv_nsec) {
			*f = *hit;	/* the counts move over */
			f->path = files[i];
			hit->reasons = NULL;
			hit->nreasons = 0;
			hit->source = NULL;
			hit->pos = hit->et = NULL;
		} else {
			memset(f, 0, sizeof(*f));
			f->path = files[i];
			f->ino = st.st_ino;
			f->size = st.st_size;
			f->mtime = st.st_mtim;
			if (read_fn(f, e) < 0) {
				rc = -1;
				fsum_release(f);
				files[i] = NULL;
				break;
			}
		}
		files[i] = NULL;
		nw.n++;
	}
	ps_dash_free_strs(files, n);
	fsums_release(old);
	*old = nw;
	return rc;
}

static int load_quality(struct ps_dash_model *m, const char *lake,
			const char *stream, struct ps_dash_cache *cache,
			struct ps_error *e)
{
	/* Both stages' quarantine; silver, when it has no Delta log. */
	static const enum ps_lake_table quar[] = {
		PS_LAKE_BRONZE_QUARANTINE, PS_LAKE_SILVER_QUARANTINE
	};
	static const enum ps_lake_table silver[] = { PS_LAKE_SILVER };
	struct ps_dash_cache local = { { NULL, 0 }, { NULL, 0 } };
	struct ps_dash_cache *c = cache ? cache : &local;
	char *dir;
	size_t i, j;
	int rc;

	dir = ps_lake_dir(lake, PS_LAKE_SILVER_QUARANTINE, stream);
	rc = summarize(dir, ".ndjson.gz", lake, stream, quar, 2,
		       &c->quarantine, quarantine_file, e);
	free(dir);
	if (!rc) {
		dir = ps_lake_dir(lake, PS_LAKE_SILVER, stream);
		rc = summarize(dir, ".parquet", lake, stream, silver, 1,
			       &c->silver, silver_file, e);
		free(dir);
	}
	for (i = 0; !rc && i < c->quarantine.n; i++) {
		const struct fsum *f = &c->quarantine.f[i];

		m->quarantined += f->rows;
		for (j = 0; j < f->nreasons; j++)
			count_add(&m->quarantine, &m->nquarantine,
				  f->reasons[j].name,
				  strlen(f->reasons[j].name), f->reasons[j].n);
	}
	for (i = 0; !rc && i < c->silver.n; i++) {
		m->kept += c->silver.f[i].rows;
		m->flagged += c->silver.f[i].flagged;
	}
	if (!rc)
		m->late = count_late(&c->silver);
	m->has_quality = c->quarantine.n || c->silver.n;
	if (m->nquarantine)
		qsort(m->quarantine, m->nquarantine, sizeof(*m->quarantine),
		      cmp_count);
	fsums_release(&local.quarantine);
	fsums_release(&local.silver);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Stages and alerts                                                    */
/* ------------------------------------------------------------------ */

/*
 * Silver's stage from its Delta table (lib/lake.h): the time of the latest
 * version, and the positions of its txn actions into cp.  Returns 1 when
 * the table exists, 0 when it does not (an older lake: its checkpoint
 * file then), -1 with e filled when the log cannot be read.
 */
static int silver_stage(struct ps_dash_stage *s, const char *lake,
			const char *stream, struct ps_checkpoint *cp,
			struct ps_error *e)
{
	struct ps_delta_snapshot snap = PS_DELTA_SNAPSHOT_INIT;
	char *dir = ps_lake_dir(lake, PS_LAKE_SILVER, stream);
	int rc = ps_delta_snapshot_load(dir, -1, &snap, e);

	free(dir);
	if (rc < 0 || snap.version < 0)
		return rc;
	s->present = 1;
	s->commit_time = snap.timestamp_ms * 1000;
	ps_lake_delta_positions(&snap, PS_LAKE_SILVER_TOOL, stream, cp);
	ps_delta_snapshot_release(&snap);
	return 1;
}

static int load_stages(struct ps_dash_model *m, const char *lake,
		       const char *stream, struct ps_error *e)
{
	static const char *const tools[3] = { "ps-bronze", "ps-silver",
					      "ps-gold" };
	size_t i, j;
	int rc;

	for (i = 0; i < 3; i++) {
		struct ps_dash_stage *s = &m->stages[i];
		struct ps_checkpoint *cp = ps_checkpoint_new();
		char *p = ps_checkpoint_path(lake, tools[i], stream);
		struct stat st;

		s->tool = tools[i];
		/* silver's commit point: its Delta table */
		rc = i == 1 ? silver_stage(s, lake, stream, cp, e) : 0;
		if (rc == 0 && stat(p, &st) == 0) {
			s->present = 1;
			s->commit_time = (int64_t)st.st_mtim.tv_sec * 1000000 +
					 st.st_mtim.tv_nsec / 1000;
		}
		free(p);
		if (rc < 0 || (rc == 0 && ps_checkpoint_load(cp, lake, tools[i],
							     stream, e) < 0)) {
			ps_checkpoint_free(cp);
			return -1;
		}
		for (j = 0; j < ps_checkpoint_count(cp); j++) {
			const char *src;
			size_t len;
			long long pos;

			if (!ps_checkpoint_entry(cp, j, &src, &len, &pos))
				s->records += pos + 1;
		}
		ps_checkpoint_free(cp);
	}
	m->records_in = m->stages[1].records;
	return 0;
}

/* The current value of an alert series, from the KPI tables. */
static double series_value(const struct ps_dash_model *m, const char *metric,
			   const char *dept, int hosp)
{
	const struct ps_dash_tab *t;
	const char *col;
	int cd, ch, cv;
	size_t i;

	if (!strcmp(metric, "wait_p90_minutes")) {
		t = &m->t[PS_DASH_WAITING];
		col = "wait_p90_minutes";
	} else {
		t = &m->t[PS_DASH_OCCUPANCY];
		col = !strcmp(metric, "inflow_per_hour") ? "inflow_last_hour" :
		      metric;
	}
	cd = ps_dash_col(t, "department");
	ch = ps_dash_col(t, "hospital_id");
	cv = ps_dash_col(t, col);
	for (i = 0; i < t->nrows; i++)
		if (!strcmp(ps_dash_str(t, i, cd), dept) &&
		    ps_dash_num(t, i, ch) == hosp)
			return ps_dash_num(t, i, cv);
	return NAN;
}

static int cmp_alert(const void *a, const void *b)
{
	const struct ps_dash_alert *x = a, *y = b;
	int c;

	if (x->firing != y->firing)
		return y->firing - x->firing;
	if (x->firing && x->level != y->level)
		return y->level - x->level;
	if (!x->firing && x->since != y->since)
		return x->since < y->since ? 1 : -1;
	if ((c = strcmp(x->metric, y->metric)))
		return c;
	if ((c = strcmp(x->department, y->department)))
		return c;
	return x->hospital_id - y->hospital_id;
}

void ps_dash_sort_alerts(struct ps_dash_model *m)
{
	if (m->nalerts)
		qsort(m->alerts, m->nalerts, sizeof(*m->alerts), cmp_alert);
}

/* Gold's saved levels: "LEVEL\tmetric\x1fdepartment\x1fhospital\n". */
static int load_gold_alerts(struct ps_dash_model *m, const char *lake,
			    const char *stream, struct ps_error *e)
{
	char *p = pathf("%s/_state/ps-gold/%s.alerts", lake, stream);
	struct ps_buf b = PS_BUF_INIT;
	const char *s, *end;
	int rc = ps_seal_read(p, 16 << 20, PS_SEAL_BIN, &b, e);

	free(p);
	if (rc < 0)
		return -1;
	if (rc == 1)
		return 0;
	m->alerts_known = 1;
	for (s = b.data, end = b.data + b.len; s < end;) {
		const char *nl = memchr(s, '\n', (size_t)(end - s)), *f[3];
		char *key;
		int level, nf = 0;
		size_t i;

		if (!nl)
			nl = end;
		level = *s - '0';
		key = ps_xmemdup(s, (size_t)(nl - s));
		s = nl + 1;
		if (level <= PS_ALERT_OK || level > PS_ALERT_CRITICAL ||
		    key[1] != '\t') {
			free(key);
			continue;
		}
		f[nf++] = key + 2;
		for (i = 2; key[i] && nf < 3; i++)
			if (key[i] == '\x1f') {
				key[i] = 0;
				f[nf++] = key + i + 1;
			}
		if (nf == 3) {
			struct ps_dash_alert *a;

			m->alerts = ps_xrealloc(m->alerts, (m->nalerts + 1) *
						sizeof(*m->alerts));
			a = &m->alerts[m->nalerts++];
			a->metric = ps_xstrdup(f[0]);
			a->department = ps_xstrdup(f[1]);
			a->hospital_id = *f[2] ? (int)strtol(f[2], NULL, 10) : -1;
			a->level = level;
			a->firing = 1;
			a->value = series_value(m, a->metric, a->department,
						a->hospital_id);
			a->threshold = NAN;
			a->since = PS_DASH_NOW_WALL;
		}
		free(key);
	}
	ps_buf_release(&b);
	ps_dash_sort_alerts(m);
	return 0;
}

/* ------------------------------------------------------------------ */

int ps_dash_load(struct ps_dash_model *m, const char *lake,
		 const char *stream, int64_t now, struct ps_dash_cache *cache,
		 struct ps_error *e)
{
	size_t i, j;

	memset(m, 0, sizeof(*m));
	m->now = now;
	m->stream = stream;
	m->as_of = PS_DASH_NOW_WALL;
	m->hour0 = now - PS_DASH_HOURS * HOUR_US;
	for (i = 0; i < PS_DASH_NTABLES; i++) {
		int ca;

		if (tab_load(&m->t[i], lake, ps_dash_table_names[i], e) < 0)
			return -1;
		ca = ps_dash_col(&m->t[i], "as_of");
		for (j = 0; ca >= 0 && j < m->t[i].nrows; j++) {
			const struct ps_pq_value *v = ps_dash_val(&m->t[i], j,
								  ca);

			if (v && (m->as_of == PS_DASH_NOW_WALL ||
				  v->v.i > m->as_of))
				m->as_of = v->v.i;
		}
	}
	if (load_fact(m, lake, e) < 0 ||
	    load_quality(m, lake, stream, cache, e) < 0 ||
	    load_stages(m, lake, stream, e) < 0 ||
	    load_gold_alerts(m, lake, stream, e) < 0)
		return -1;
	return 0;
}

static void free_views(struct ps_dash_view *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(v[i].department);
		free(v[i].gender);
	}
	free(v);
}

static void alerts_free(struct ps_dash_alert *a, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(a[i].metric);
		free(a[i].department);
	}
	free(a);
}

void ps_dash_model_release(struct ps_dash_model *m)
{
	size_t i;

	for (i = 0; i < PS_DASH_NTABLES; i++)
		tab_release(&m->t[i]);
	for (i = 0; i < m->ndepts; i++)
		free(m->depts[i].department);
	free(m->depts);
	free_views(m->by_gender, m->nby_gender);
	free_views(m->by_dept_gender, m->nby_dept_gender);
	for (i = 0; i < m->nquarantine; i++)
		free(m->quarantine[i].name);
	free(m->quarantine);
	for (i = 0; i < m->nflags; i++)
		free(m->flags[i].name);
	free(m->flags);
	alerts_free(m->alerts, m->nalerts);
	memset(m, 0, sizeof(*m));
}

/* ------------------------------------------------------------------ */
/* The alert journal                                                   */
/* ------------------------------------------------------------------ */

static const char *jstr(yajl_val o, const char *k)
{
	yajl_val v = ps_json_get(o, k);

	return v && YAJL_IS_STRING(v) ? v->u.string : NULL;
}

static double jnum(yajl_val o, const char *k)
{
	yajl_val v = ps_json_get(o, k);

	return v && YAJL_IS_NUMBER(v) ? YAJL_GET_DOUBLE(v) : NAN;
}

int ps_dash_journal_line(struct ps_dash_journal *j, const char *line,
			 size_t len)
{
	yajl_val v, h;
	const char *metric, *state, *level, *dept, *asof;
	struct ps_dash_alert *a = NULL;
	int hosp, lv;
	size_t i;

	if (len < 9 || memcmp(line, "{\"alert\"", 8))
		return 0;	/* KPI rows: no need to parse them */
	v = ps_json_parse(line, len, NULL, 0);
	if (!v)
		return -1;
	metric = jstr(v, "alert");
	state = jstr(v, "state");
	level = jstr(v, "level");
	dept = jstr(v, "department");
	asof = jstr(v, "as_of");
	h = ps_json_get(v, "hospital_id");
	hosp = h && YAJL_IS_INTEGER(h) ? (int)YAJL_GET_INTEGER(h) : -1;
	if (!metric || !state) {
		yajl_tree_free(v);
		return 0;
	}
	if (!dept)
		dept = "";
	lv = level && !strcmp(level, "critical") ? PS_ALERT_CRITICAL :
	     PS_ALERT_WARN;
	for (i = 0; i < j->n; i++)
		if (!strcmp(j->a[i].metric, metric) &&
		    !strcmp(j->a[i].department, dept) &&
		    j->a[i].hospital_id == hosp) {
			a = &j->a[i];
			break;
		}
	if (!a) {
		if (j->n == j->cap) {
			j->cap = j->cap ? 2 * j->cap : 32;
			j->a = ps_xrealloc(j->a, j->cap * sizeof(*j->a));
		}
		a = &j->a[j->n++];
		memset(a, 0, sizeof(*a));
		a->metric = ps_xstrdup(metric);
		a->department = ps_xstrdup(dept);
		a->hospital_id = hosp;
	}
	a->firing = !strcmp(state, "firing");
	a->level = lv;
	a->value = jnum(v, "value");
	a->threshold = jnum(v, "threshold");
	a->since = PS_DASH_NOW_WALL;
	if (asof) {
		int64_t t;
		const char *why;

		if (!ps_time_parse(asof, strlen(asof), &t, &why))
			a->since = t;
	}
	yajl_tree_free(v);
	return 1;
}

int ps_dash_journal_load(struct ps_dash_journal *j, const char *path,
			 struct ps_error *e)
{
	struct ps_buf b = PS_BUF_INIT;
	const char *s, *end;
	int rc = ps_seal_read(path, 64 << 20, PS_SEAL_BIN, &b, e);

	if (rc < 0)
		return -1;
	for (s = b.data, end = b.data + b.len; rc == 0 && s < end;) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));

		if (!nl)
			nl = end;
		ps_dash_journal_line(j, s, (size_t)(nl - s));
		s = nl + 1;
	}
	ps_buf_release(&b);
	return 0;
}

int ps_dash_journal_save(const struct ps_dash_journal *j, const char *path,
			 struct ps_error *e)
{
	struct ps_buf b = PS_BUF_INIT;
	size_t i;
	int rc;

	for (i = 0; i < j->n; i++) {
		const struct ps_dash_alert *a = &j->a[i];
		int first = 1;

		ps_buf_addc(&b, '{');
		ps_json_key(&b, &first, "alert");
		ps_json_add_str(&b, a->metric, strlen(a->metric));
		ps_json_key(&b, &first, "state");
		ps_buf_adds(&b, a->firing ? "\"firing\"" : "\"resolved\"");
		ps_json_key(&b, &first, "level");
		ps_buf_adds(&b, a->level == PS_ALERT_CRITICAL ?
			    "\"critical\"" : "\"warn\"");
		ps_json_key(&b, &first, "department");
		ps_json_add_str(&b, a->department, strlen(a->department));
		if (a->hospital_id >= 0) {
			ps_json_key(&b, &first, "hospital_id");
			ps_buf_add_i64(&b, a->hospital_id);
		}
		ps_json_key(&b, &first, "value");
		ps_json_add_double(&b, a->value);
		ps_json_key(&b, &first, "threshold");
		ps_json_add_double(&b, a->threshold);
		if (a->since != PS_DASH_NOW_WALL) {
			char t[PS_TIME_MAX];
			size_t n = ps_time_format(a->since, t, -1);

			ps_json_key(&b, &first, "as_of");
			ps_json_add_str(&b, t, n);
		}
		ps_buf_adds(&b, "}\n");
	}
	rc = ps_seal_write(path, b.data ? b.data : "", b.len, PS_SEAL_BIN, e);
	ps_buf_release(&b);
	return rc;
}

void ps_dash_journal_release(struct ps_dash_journal *j)
{
	alerts_free(j->a, j->n);
	memset(j, 0, sizeof(*j));
}

void ps_dash_model_set_alerts(struct ps_dash_model *m,
			      const struct ps_dash_journal *j)
{
	size_t i;

	alerts_free(m->alerts, m->nalerts);
	m->alerts = ps_xcalloc(j->n ? j->n : 1, sizeof(*m->alerts));
	m->nalerts = j->n;
	for (i = 0; i < j->n; i++) {
		m->alerts[i] = j->a[i];
		m->alerts[i].metric = ps_xstrdup(j->a[i].metric);
		m->alerts[i].department = ps_xstrdup(j->a[i].department);
	}
	m->alerts_known = 1;
	ps_dash_sort_alerts(m);
}

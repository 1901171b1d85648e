/* gold_run.c - the gold stage: input, catch-up, commits (see gold.h). */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alerts.h"
#include "checkpoint.h"
#include "clean.h"
#include "cli.h"
#include "crypto.h"
#include "fsutil.h"
#include "gold.h"
#include "lake.h"
#include "log.h"
#include "ndjson.h"
#include "progress.h"
#include "pstime.h"
#include "seal.h"
#include "secret.h"
#include "stage.h"
#include "statelog.h"
#include "banned.h"

enum { C_RECORDS, C_APPLIED, C_UNCHANGED, C_SKIPPED, C_BAD, C_COMMITS,
       C_ALERTS, C_NCOUNTERS };

/*
 * The files of dim_patient and of the fact while this process wrote them:
 * ranges of rows by index (patients, encounters; new ones last).  A live
 * commit rewrites only the ranges that hold a changed row and appends the
 * new rows in ranges of at most RANGE, the last one growing until it is
 * full.  dim_patient: the file rel holds the patients lo..hi-1; the first
 * commit of a run writes one file of every patient, split into ranges
 * once it changes.  The fact: f holds, per admission day, the file of the
 * encounters lo..hi-1 admitted that day; the base range (the encounters
 * up to this run's first commit) owns every file of a day that no other
 * range names, as the commits before wrote them (one per day).
 */
struct dfile {
	int32_t day;
	char *rel;
};

struct range {
	size_t lo, hi;
	char *rel;		/* dim_patient */
	struct dfile *f;	/* the fact */
	size_t nf;
	int base;
};

struct ranges {
	struct range *v;
	size_t n;
};

#define RANGE 4096

/*
 * A commit that saves the state as a new snapshot writes it on a thread
 * of its own while the commit's tables are written (both only read the
 * state), sealed under its temporary name; save_gold_state puts it in
 * place after the tables' logs, as it wrote it there before: the order
 * in which things become durable and visible does not change.
 */
struct snap_ahead {
	pthread_t th;
	int on;			/* a thread started and not yet joined */
	const struct ps_gold *g;
	struct ps_buf pos;	/* the positions it holds */
	struct ps_buf buf;	/* made here: the thread allocates nothing */
	struct ps_afile f;	/* sealed when rc is 0 */
	struct ps_error e;
	int rc;
};

struct run {
	const struct ps_gold_opts *o;
	struct ps_gold *g;
	struct ps_stage *stage;		/* lock, commits, the tables */
	struct ps_stage_table tables[PS_GOLD_MAX_TABLES];
	size_t ntables;
	struct ranges pr, er;	/* dim_patient's and the fact's files */
	long long applied_then;		/* C_APPLIED at the last commit */
	int catch_ups;			/* catch-up passes so far */
	struct ps_checkpoint *cp;	/* positions applied */
	struct ps_alerts alerts;
	ps_gold_write_fn out;
	void *out_ctx;
	int out_gone;		/* the reader went away (out returned 1) */
	char *gold_dir, *state_dir;
	long long pending;
	double last_commit;
	int committed_once;
	int live;			/* more input may come after a commit:
					 * files made ahead (ps_fspool_fill) */
	int in_fd;
	int commit_failed;
	/* the state: snapshot STREAM.snap plus the deltas in STREAM.log */
	size_t snap_bytes, log_bytes;
	size_t snap_items;	/* patients + encounters in the snapshot */
	size_t state_bytes;	/* written by the last save_state */
	int log_ok;		/* STREAM.log extends STREAM.snap */
	struct snap_ahead ahead;
	unsigned long long snaps_ahead;	/* snapshots written so, in all */
	struct ps_buf logbuf;	/* the log read at start */
	struct ps_error cerr;
	struct ps_counter c[C_NCOUNTERS];
	struct ps_progress prog;
	char *pkey;			/* pseudonymization key, or NULL */
};

static char *pathf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *pathf(const char *fmt, ...)
{
	struct ps_buf b = PS_BUF_INIT;
	va_list ap;
	char tmp[1];
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	ps_buf_grow(&b, (size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(b.data, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b.len = (size_t)n;
	return ps_buf_detach(&b, NULL);
}

/* Remove hidden temporary files a killed run left in LAKE/gold (this
 * process has written none yet: its PID may be the killed run's, as in
 * a container). */
static void clean_temps(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return;
	ps_remove_temps_at_start(dir);
	while ((de = readdir(d))) {
		char *sub;

		if (de->d_name[0] == '.' || strstr(de->d_name, ".parquet"))
			continue;
		sub = ps_path_join(dir, de->d_name);
		clean_temps(sub);
		free(sub);
	}
	closedir(d);
}

/*
 * Output after a commit.  A reader that went away (out returns 1) stops
 * the run quietly: what was emitted is committed (ps_stdout_out).
 * p NULL: flush.
 */
static int emit(struct run *r, const char *p, size_t n)
{
	int rc;

	if (!r->out || r->out_gone || (p && !n))
		return 0;
	rc = r->out(r->out_ctx, p, n);
	if (rc > 0)
		r->out_gone = 1;
	return rc < 0 ? -1 : 0;
}


#define FACT "fact_patient_flow"
#define DIM_PATIENT "dim_patient"


/* The index of the stage's Delta table name (one of ps_gold_table_list). */
static size_t table_index(const struct run *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->ntables; i++)
		if (!strcmp(strrchr(r->tables[i].dir, '/') + 1, name))
			break;
	return i;
}

/* Write table t as a new data file of its Delta table k, replacing the
 * table's files. */
static int write_table(struct run *r, size_t k, const struct ps_table *t,
		       struct ps_fsgroup *g, struct ps_error *e)
{
	char *p;
	int rc;

	ps_stage_remove(r->stage, k, NULL);
	p = ps_stage_new_data(r->stage, k, NULL);
	rc = ps_table_write_parquet_to(t, p, r->o->codec, g, e);
	free(p);
	return rc;
}

static void ranges_free(struct ranges *rs)
{
	size_t i, k;

	for (i = 0; i < rs->n; i++) {
		free(rs->v[i].rel);
		for (k = 0; k < rs->v[i].nf; k++)
			free(rs->v[i].f[k].rel);
		free(rs->v[i].f);
	}
	free(rs->v);
	rs->v = NULL;
	rs->n = 0;
}

/* rs becomes the one range 0..n-1 (base). */
static void ranges_reset(struct ranges *rs, size_t n, int base)
{
	ranges_free(rs);
	rs->v = ps_xcalloc(1, sizeof(*rs->v));
	rs->v[0].hi = n;
	rs->v[0].base = base;
	rs->n = 1;
}

static struct range *ranges_insert(struct ranges *rs, size_t at)
{
	rs->v = ps_xrealloc(rs->v, (rs->n + 1) * sizeof(*rs->v));
	memmove(&rs->v[at + 1], &rs->v[at], (rs->n - at) * sizeof(*rs->v));
	rs->n++;
	memset(&rs->v[at], 0, sizeof(*rs->v));
	return &rs->v[at];
}

static int cmp_range(const void *k, const void *p)
{
	size_t i = *(const size_t *)k;
	const struct range *r = p;

	return i < r->lo ? -1 : i >= r->hi;
}

/*
 * The ranges a commit rewrites, of rows 0..n-1 of which end.. are new and
 * touched (nt) changed: the last range fills up (not a base), then new
 * ranges of RANGE; returns their marks (free them), rs->n long.
 */
static unsigned char *ranges_dirty(struct ranges *rs, size_t n, size_t end,
				   const uint32_t *touched, size_t nt)
{
	size_t old = rs->n, i;
	unsigned char *dirty;
	struct range *p;

	for (;;) {
		p = &rs->v[rs->n - 1];
		if (p->hi < n && !p->base && p->hi - p->lo < RANGE) {
			p->hi = p->lo + RANGE < n ? p->lo + RANGE : n;
			continue;
		}
		if (p->hi >= n)
			break;
		p = ranges_insert(rs, rs->n);
		p->lo = p->hi = rs->v[rs->n - 2].hi;
	}
	dirty = ps_xcalloc(rs->n, 1);
	for (i = 0; i < nt; i++) {
		size_t ix = touched[i];

		p = bsearch(&ix, rs->v, old, sizeof(*rs->v), cmp_range);
		if (p)
			dirty[p - rs->v] = 1;
	}
	for (i = 0; i < rs->n; i++)
		dirty[i] |= rs->v[i].hi > end;
	return dirty;
}

/* A new file of dim_patient (table k) for the patients of range p (its
 * file, if any, removed); p->rel becomes the new file's. */
static int write_range(struct run *r, size_t k, struct range *p,
		       const struct ps_table *all, struct ps_fsgroup *g,
		       struct ps_error *e)
{
	struct ps_gold_patients gp = { r->g, p->lo, p->hi };
	struct ps_table t;
	char *path;
	int rc;

	if (p->rel)
		ps_stage_remove(r->stage, k, p->rel);
	free(p->rel);
	path = ps_stage_new_data(r->stage, k, NULL);
	p->rel = ps_xstrdup(path + strlen(r->tables[k].dir) + 1);
	if (all) {
		rc = ps_table_write_parquet_to(all, path, r->o->codec, g, e);
	} else {
		ps_gold_dim_patient(&gp, &t);
		rc = ps_table_write_parquet_to(&t, path, r->o->codec, g, e);
		ps_table_release(&t);
	}
	free(path);
	return rc;
}

/*
 * dim_patient (table k, all its rows streamed by all): when this process
 * wrote the current version and kept its ranges, the ranges of changed
 * patients and the new patients (see struct range); else every patient
 * in one file.
 */
static int write_patients(struct run *r, size_t k, const struct ps_table *all,
			  struct ps_fsgroup *g, struct ps_error *e)
{
	struct ranges *rs = &r->pr;
	size_t n = ps_gold_npatients(r->g), nt, i, end;
	const uint32_t *tp;
	unsigned char *dirty;
	int rc = 0;

	end = rs->n ? rs->v[rs->n - 1].hi : 0;
	if (!ps_stage_current(r->stage, k) || !rs->n ||
	    ps_gold_changed_patients(r->g, &tp, &nt) != end) {
		ranges_reset(rs, n, 0);
		ps_stage_remove(r->stage, k, NULL);
		return write_range(r, k, &rs->v[0], all, g, e);
	}
	dirty = ranges_dirty(rs, n, end, tp, nt);
	for (i = 0; i < rs->n && rc == 0; i++) {
		if (!dirty[i])
			continue;
		/* a range larger than RANGE (all patients, written by the
		 * first commit) is split once it changes: its file goes,
		 * the first piece takes its place */
		while (rc == 0 && rs->v[i].hi - rs->v[i].lo > RANGE) {
			struct range *piece = ranges_insert(rs, i);

			dirty = ps_xrealloc(dirty, rs->n);
			memmove(&dirty[i + 1], &dirty[i], rs->n - 1 - i);
			piece->lo = rs->v[i + 1].lo;
			piece->hi = piece->lo + RANGE;
			piece->rel = rs->v[i + 1].rel;
			rs->v[i + 1].rel = NULL;
			rs->v[i + 1].lo = piece->hi;
			rc = write_range(r, k, piece, NULL, g, e);
			i++;
		}
		if (rc == 0)
			rc = write_range(r, k, &rs->v[i], NULL, g, e);
	}
	free(dirty);
	return rc;
}

/* Feed every alerting column of every table (lib/gold.h) to the rules,
 * then resolve the series no longer reported. */
static void eval_alerts(struct run *r, struct ps_table *t, size_t nt,
			int64_t now, struct ps_buf *lines)
{
	size_t i, j, k;

	ps_alerts_begin(&r->alerts);
	for (i = 0; i < nt; i++) {
		const struct ps_gold_alert_src *src =
			ps_gold_alert_sources(t[i].name);
		long dc = ps_table_col(&t[i], "department");
		long hc = ps_table_col(&t[i], "hospital_id");
		long bc = ps_table_col(&t[i], "beds");

		for (j = 0; src && j < t[i].nrows; j++) {
			const struct ps_pq_value *dv =
				dc >= 0 ? &t[i].v[j * t[i].ncols + dc] : NULL;
			char *dept = dv && !dv->is_null ?
				ps_xmemdup(dv->v.s.p, dv->v.s.len) : NULL;
			double h = -1, beds = -1, v;

			ps_table_num(&t[i], j, hc, &h);
			ps_table_num(&t[i], j, bc, &beds);
			for (k = 0; src[k].metric; k++)
				if (ps_table_num(&t[i], j, ps_table_col(&t[i],
						 src[k].column), &v) == 0)
					r->c[C_ALERTS].value += ps_alerts_eval(
						&r->alerts, src[k].metric,
						dept, (int)h, (int)beds, v,
						now, lines);
			free(dept);
		}
	}
	r->c[C_ALERTS].value += ps_alerts_sweep(&r->alerts, now, lines);
}

/* Write (or remove, when empty) the fact partition of one day. */
struct part_ctx {
	struct run *r;
	size_t fact;		/* its stage table */
	struct ps_fsgroup *g;
	struct ps_error *e;
};

/* The fact partition of one day: its files are replaced by a new one,
 * or by none when the day has no rows left (the first commit of a run,
 * or when the ranges of struct range are not known). */
static int write_part(void *ctx, int32_t day, const struct ps_table *t)
{
	struct part_ctx *c = ctx;
	char d[16], sub[32], *p;
	int rc = 0;

	ps_date_format((int64_t)day * PS_USEC_PER_DAY, d);
	snprintf(sub, sizeof(sub), "admission_date=%s", d);
	ps_stage_remove(c->r->stage, c->fact, sub);
	if (t->nrows || t->fill) {
		p = ps_stage_new_data(c->r->stage, c->fact, sub);
		rc = ps_table_write_parquet_to(t, p, c->r->o->codec, c->g,
					       c->e);
		free(p);
	}
	return rc < 0 ? -1 : 0;
}

static int cmp_day(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;

	return x < y ? -1 : x > y;
}

/* The rows of one range of encounters, day by day. */
struct range_ctx {
	struct part_ctx *pc;
	struct range *rg;
};

/* Does a range other than the base name the fact file rel? */
static int claimed(const struct ranges *rs, const char *rel)
{
	size_t i, k;

	for (i = 0; i < rs->n; i++)
		for (k = 0; !rs->v[i].base && k < rs->v[i].nf; k++)
			if (!strcmp(rs->v[i].f[k].rel, rel))
				return 1;
	return 0;
}

/* The fact file of one day of one range: the range's file of the day
 * replaced (the base range's: every file of the day no other range
 * names), by none when the range has no rows that day. */
static int write_range_part(void *ctx, int32_t day, const struct ps_table *t)
{
	struct range_ctx *c = ctx;
	struct run *r = c->pc->r;
	struct range *rg = c->rg;
	struct dfile *df = NULL;
	char d[16], sub[32], *p;
	size_t i, sl;
	int rc = 0;

	ps_date_format((int64_t)day * PS_USEC_PER_DAY, d);
	sl = (size_t)snprintf(sub, sizeof(sub), "admission_date=%s", d);
	for (i = 0; i < rg->nf && !df; i++)
		if (rg->f[i].day == day)
			df = &rg->f[i];
	if (df)
		ps_stage_remove(r->stage, c->pc->fact, df->rel);
	if (rg->base) {
		const struct ps_delta_snapshot *s =
			ps_stage_snapshot(r->stage, c->pc->fact);

		for (i = 0; i < s->nfiles; i++)
			if (!strncmp(s->files[i].path, sub, sl) &&
			    s->files[i].path[sl] == '/' &&
			    !claimed(&r->er, s->files[i].path))
				ps_stage_remove(r->stage, c->pc->fact,
						s->files[i].path);
	}
	if (!t->nrows && !t->fill) {
		if (df) {
			free(df->rel);
			*df = rg->f[--rg->nf];
		}
		return 0;
	}
	if (!df) {
		rg->f = ps_xrealloc(rg->f, (rg->nf + 1) * sizeof(*rg->f));
		df = &rg->f[rg->nf++];
		df->day = day;
		df->rel = NULL;
	}
	p = ps_stage_new_data(r->stage, c->pc->fact, sub);
	free(df->rel);
	df->rel = ps_xstrdup(p + strlen(r->tables[c->pc->fact].dir) + 1);
	rc = ps_table_write_parquet_to(t, p, r->o->codec, c->pc->g, c->pc->e);
	free(p);
	return rc < 0 ? -1 : 0;
}

/*
 * The fact's files of the n changed days: when this process wrote the
 * current version and kept its ranges, the files of those days of the
 * ranges that hold a changed or new encounter (struct range); else the
 * days whole.
 */
/* A range (by index) and an admission day of one of its encounters. */
struct rday {
	size_t range;
	int32_t day;
};

static int cmp_rday(const void *a, const void *b)
{
	const struct rday *x = a, *y = b;

	if (x->range != y->range)
		return x->range < y->range ? -1 : 1;
	return (x->day > y->day) - (x->day < y->day);
}

/*
 * The fact's files of the changed days: when this process (or the run
 * whose ranges it took up) wrote the current version, the files of the
 * ranges that hold a changed or new encounter (struct range), each only
 * on the days of those encounters and the days encounters left; else
 * the n changed days whole.
 */
static int write_fact(struct run *r, struct part_ctx *pc, const int32_t *days,
		      size_t n, int64_t now)
{
	struct ranges *rs = &r->er;
	size_t ne = ps_gold_nencounters(r->g), nt, i, k, end, nl, nrd = 0;
	const uint32_t *tp;
	unsigned char *dirty;
	int32_t *left = ps_gold_take_left(r->g, &nl), *rd;
	struct rday *pairs;
	int rc = 0;

	end = rs->n ? rs->v[rs->n - 1].hi : 0;
	if (!r->committed_once || !ps_stage_current(r->stage, pc->fact) ||
	    !rs->n || ps_gold_changed_encounters(r->g, &tp, &nt) != end) {
		/* a state built from nothing replaces every partition */
		if (!r->committed_once)
			ps_stage_remove(r->stage, pc->fact, NULL);
		ranges_reset(rs, ne, 1);
		free(left);
		return ps_gold_fact_each(r->g, days, n, now, write_part, pc);
	}
	dirty = ranges_dirty(rs, ne, end, tp, nt);
	/* each changed or new encounter's (range, day) */
	pairs = ps_xmalloc((nt + ne - end + 1) * sizeof(*pairs));
	for (i = 0; i < nt + ne - end; i++) {
		size_t ix = i < nt ? tp[i] : end + (i - nt);
		const struct range *p = bsearch(&ix, rs->v, rs->n,
						sizeof(*rs->v), cmp_range);

		if (p) {
			pairs[nrd].range = (size_t)(p - rs->v);
			pairs[nrd++].day = ps_gold_encounter_day(r->g, ix);
		}
	}
	qsort(pairs, nrd, sizeof(*pairs), cmp_rday);
	rd = ps_xmalloc((nrd + nl + 1) * sizeof(*rd));
	for (i = 0, k = 0; i < rs->n && rc == 0; i++) {
		struct range_ctx c = { pc, &rs->v[i] };
		size_t m = 0, j, u;

		for (; k < nrd && pairs[k].range < i; k++)
			;
		for (; k < nrd && pairs[k].range == i; k++)
			rd[m++] = pairs[k].day;
		if (!dirty[i] || !(m + nl))
			continue;
		for (j = 0; j < nl; j++)
			rd[m++] = left[j];
		qsort(rd, m, sizeof(*rd), cmp_day);
		for (j = 0, u = 0; j < m; j++)
			if (!u || rd[u - 1] != rd[j])
				rd[u++] = rd[j];
		rc = ps_gold_fact_range(r->g, rd, u, rs->v[i].lo,
					rs->v[i].hi, now, write_range_part, &c);
	}
	free(dirty);
	free(left);
	free(pairs);
	free(rd);
	return rc;
}

#define RANGES_HEADER "PSGOLDRANGES1\n"

/*
 * STREAM.ranges: the ranges of struct range and the commit that wrote
 * them (ps_stage_last_commit), so that a later run goes on rewriting
 * only what changes instead of whole tables.  Text, one item a line:
 *   commit SEQ VERSION...          the commit, each table's version
 *   p LO HI BASE REL               a range of dim_patient (REL - : none)
 *   e LO HI BASE NF                a range of the fact, then NF lines
 *   f DAY REL                      its file of one admission day
 */
static void ranges_format(const struct run *r, const int64_t *id, size_t nid,
			  struct ps_buf *b)
{
	size_t i, k;

	ps_buf_adds(b, RANGES_HEADER "commit");
	for (i = 0; i < nid; i++)
		ps_buf_addf(b, " %lld", (long long)id[i]);
	ps_buf_addc(b, '\n');
	for (i = 0; i < r->pr.n; i++) {
		const struct range *p = &r->pr.v[i];

		ps_buf_addf(b, "p %zu %zu %d %s\n", p->lo, p->hi, p->base,
			    p->rel ? p->rel : "-");
	}
	for (i = 0; i < r->er.n; i++) {
		const struct range *p = &r->er.v[i];

		ps_buf_addf(b, "e %zu %zu %d %zu\n", p->lo, p->hi, p->base,
			    p->nf);
		for (k = 0; k < p->nf; k++)
			ps_buf_addf(b, "f %ld %s\n", (long)p->f[k].day,
				    p->f[k].rel);
	}
}

/* The next space-separated number of the line at *p (end e). */
static int next_num(const char **p, const char *e, long long *v)
{
	char tmp[24], *end;
	size_t n = 0;

	while (*p < e && **p == ' ')
		(*p)++;
	while (*p < e && **p != ' ' && **p != '\n' && n < sizeof(tmp) - 1)
		tmp[n++] = *(*p)++;
	tmp[n] = '\0';
	errno = 0;
	*v = strtoll(tmp, &end, 10);
	return n && !*end && !errno ? 0 : -1;
}

/* The rest of the line at *p as a new string (NULL for "-"), *p past
 * its newline. */
static char *next_rest(const char **p, const char *e)
{
	const char *s, *nl;

	while (*p < e && **p == ' ')
		(*p)++;
	s = *p;
	nl = memchr(s, '\n', (size_t)(e - s));
	*p = nl ? nl + 1 : e;
	if (!nl)
		nl = e;
	if (nl == s || (nl - s == 1 && *s == '-'))
		return NULL;
	return ps_xmemdup(s, (size_t)(nl - s));
}

/*
 * Read the ranges of STREAM.ranges (n bytes at p) into r->pr and r->er
 * and the identity of their commit into id (at most max entries, *nid
 * set).  Returns 0, or -1 when the text is not such a file (r's ranges
 * then freed).
 */
static int ranges_parse(struct run *r, const char *p, size_t n, int64_t *id,
			size_t max, size_t *nid)
{
	const char *e = p + n;
	struct range *rg = NULL;
	long long v[4];
	size_t hl = strlen(RANGES_HEADER), k = 0;

	*nid = 0;
	if (n < hl + 7 || memcmp(p, RANGES_HEADER, hl) ||
	    memcmp(p + hl, "commit ", 7))
		return -1;
	for (p += hl + 6; p < e && *p != '\n'; )
		if (*nid == max || next_num(&p, e, &v[0]) < 0)
			return -1;
		else
			id[(*nid)++] = v[0];
	for (p++; p < e; ) {
		char kind = *p++;
		struct ranges *rs = kind == 'p' ? &r->pr : &r->er;

		if (kind == 'p' || kind == 'e') {
			if (k || next_num(&p, e, &v[0]) < 0 ||
			    next_num(&p, e, &v[1]) < 0 ||
			    next_num(&p, e, &v[2]) < 0 || v[0] < 0 ||
			    v[1] < v[0] || (rs->n && (size_t)v[0] !=
					    rs->v[rs->n - 1].hi))
				goto bad;
			rg = ranges_insert(rs, rs->n);
			rg->lo = (size_t)v[0];
			rg->hi = (size_t)v[1];
			rg->base = v[2] != 0;
			if (kind == 'p') {
				rg->rel = next_rest(&p, e);
				continue;
			}
			if (next_num(&p, e, &v[3]) < 0 || v[3] < 0 ||
			    v[3] > (long long)(e - p) / 4)
				goto bad;
			k = (size_t)v[3];
			rg->f = ps_xcalloc(k ? k : 1, sizeof(*rg->f));
			p++;
		} else if (kind == 'f' && k) {
			struct dfile *df = &rg->f[rg->nf];

			if (next_num(&p, e, &v[0]) < 0 || v[0] < INT32_MIN ||
			    v[0] > INT32_MAX ||
			    !(df->rel = next_rest(&p, e)))
				goto bad;
			df->day = (int32_t)v[0];
			rg->nf++;
			k--;
		} else {
			goto bad;
		}
	}
	if (!k && r->er.n && r->pr.n && r->er.v[0].lo == 0 &&
	    r->pr.v[0].lo == 0)
		return 0;
bad:
	ranges_free(&r->pr);
	ranges_free(&r->er);
	return -1;
}

/* The file of the ranges with the identity of the commit that wrote
 * them, written (not committed: f). */
static int open_ranges(struct run *r, struct ps_afile *f, struct ps_error *e)
{
	int64_t id[PS_GOLD_MAX_TABLES + 1];
	size_t nid = ps_stage_last_commit(r->stage, id, PS_GOLD_MAX_TABLES + 1);
	struct ps_buf b = PS_BUF_INIT;
	char *p = pathf("%s/%s.ranges", r->state_dir, r->o->stream);
	int rc;

	ranges_format(r, id, nid, &b);
	rc = ps_seal_begin(f, p, b.data, b.len, PS_SEAL_BIN, e);
	ps_buf_release(&b);
	free(p);
	return rc;
}

/*
 * The ranges of the run that saved the state, when its last commit is
 * the tables' last one (ps_stage_resume); else none (the first commit
 * then writes dim_patient and the fact whole).  A missing or damaged
 * file only costs that.  Cannot fail.
 */
static void load_ranges(struct run *r)
{
	int64_t id[PS_GOLD_MAX_TABLES + 1];
	size_t nid = 0;
	struct ps_buf b = PS_BUF_INIT;
	struct ps_error e = { 0, "" };
	char *p = pathf("%s/%s.ranges", r->state_dir, r->o->stream);
	int rc = ps_seal_read(p, (size_t)1 << 30, PS_SEAL_BIN, &b, &e);

	if (rc < 0)
		ps_log(PS_WARN, "file ranges not used", PS_S("error", e.msg));
	if (rc == 0 && (ranges_parse(r, b.data, b.len, id,
				     PS_GOLD_MAX_TABLES + 1, &nid) < 0 ||
			!ps_stage_resume(r->stage, id, nid))) {
		ranges_free(&r->pr);
		ranges_free(&r->er);
	}
	ps_log(PS_DEBUG, "file ranges", PS_I("patients", r->pr.n),
	       PS_I("encounters", r->er.n));
	ps_buf_release(&b);
	free(p);
}

#define LOG_HEADER "PSGOLDLOG1\n"

/* The log's first record: the identity of the snapshot it extends. */
static void log_header(const struct ps_statelog_id *id, struct ps_buf *b)
{
	ps_buf_adds(b, LOG_HEADER);
	ps_buf_addf(b, "%08x %llu\n", (unsigned)id->crc,
		    (unsigned long long)id->size);
}

/* Does the next save_state write a snapshot rather than a delta?  A
 * delta as large as the room left in the log is not built (it would take
 * as much memory as a snapshot): estimated from the snapshot's bytes per
 * patient or encounter. */
static int snapshot_due(const struct run *r)
{
	return !r->log_ok || ps_gold_delta_items(r->g) *
	       (double)r->snap_bytes /
	       (double)(r->snap_items ? r->snap_items : 1) >
	       (double)(r->snap_bytes - (r->log_bytes < r->snap_bytes ?
					 r->log_bytes : r->snap_bytes));
}

static void *ahead_main(void *arg)
{
	struct snap_ahead *a = arg;

	a->rc = ps_gold_snapshot_write(a->g, a->pos.data, a->pos.len, &a->f,
				       &a->buf, &a->e);
	return NULL;
}

/*
 * Start writing the snapshot of the state as of now (positions included)
 * to path; without a thread (or its file) save_gold_state writes it
 * itself.  Its buffer is made here and freed at the join, after the
 * tables: the thread allocates nothing (ps_afile_seal_all aside).
 */
static void ahead_start(struct run *r, const char *path)
{
	struct snap_ahead *a = &r->ahead;
	struct ps_error e;
	sigset_t old;

	a->f = (struct ps_afile)PS_AFILE_INIT;
	if (ps_afile_open(&a->f, path, 0644, &e) < 0)
		return;
	ps_checkpoint_format(r->cp, &a->pos);
	ps_buf_grow(&a->buf, PS_GOLD_SNAP_ROOM);
	a->g = r->g;
	memset(&a->e, 0, sizeof(a->e));
	a->rc = -1;
	/* SIGINT and SIGTERM stay with the thread that waits for input */
	ps_stop_signals_block(&old);
	a->on = !pthread_create(&a->th, NULL, ahead_main, a);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!a->on) {
		ps_afile_abort(&a->f);
		ps_buf_release(&a->pos);
		ps_buf_release(&a->buf);
	}
}

/* Wait for the snapshot written ahead: 0 with it sealed in a->f, or -1
 * with e (when not NULL) filled. */
static int ahead_join(struct snap_ahead *a, struct ps_error *e)
{
	pthread_join(a->th, NULL);
	a->on = 0;
	ps_buf_release(&a->pos);
	ps_buf_release(&a->buf);
	if (a->rc < 0 && e)
		*e = a->e;
	return a->rc;
}

/* Drop the snapshot written ahead, if any (its temporary removed). */
static void ahead_drop(struct snap_ahead *a)
{
	if (a->on && ahead_join(a, NULL) == 0)
		ps_afile_abort(&a->f);
}

/* Put the snapshot of the state with positions pos at path: the one
 * written ahead when it holds those positions, else written now. */
static int snapshot_put(struct run *r, const struct ps_buf *pos,
			const char *path, struct ps_error *e)
{
	struct snap_ahead *a = &r->ahead;

	if (a->on && a->pos.len == pos->len &&
	    !memcmp(a->pos.data, pos->data, pos->len)) {
		if (ahead_join(a, e) < 0 || ps_afile_commit(&a->f, e) < 0)
			return -1;
		r->snaps_ahead++;
		return 0;
	}
	ahead_drop(a);
	return ps_gold_snapshot_save(r->g, pos->data, pos->len, path, e);
}

/*
 * Save the state: append what changed to STREAM.log, or, when the log
 * would outgrow the snapshot (or extends none), write a new snapshot and
 * start a new log naming it.  A crash between the two leaves a log whose
 * header names the old snapshot: it is then ignored, the new snapshot
 * holding everything.  So each commit writes bytes in proportion to what
 * changed, plus a snapshot every time the changes add up to its size.
 */
static int save_gold_state(struct run *r, const struct ps_buf *pos,
			   struct ps_error *e)
{
	char *snap = pathf("%s/%s.snap", r->state_dir, r->o->stream);
	char *log = pathf("%s/%s.log", r->state_dir, r->o->stream);
	struct ps_buf d = PS_BUF_INIT, h = PS_BUF_INIT;
	struct ps_statelog_id id;
	int rc = -1;

	if (snapshot_due(r))
		r->log_ok = 0;
	if (r->log_ok) {
		ahead_drop(&r->ahead);
		ps_gold_delta(r->g, pos->data, pos->len, &d);
		if (r->log_bytes + d.len + PS_STATELOG_OVERHEAD <=
		    r->snap_bytes) {
			if (ps_statelog_append(log, d.data, d.len, e) < 0)
				goto out;
			r->log_bytes += d.len + PS_STATELOG_OVERHEAD;
			r->state_bytes = d.len + PS_STATELOG_OVERHEAD;
			rc = 0;
			goto out;
		}
	}
	r->log_ok = 0;
	if (snapshot_put(r, pos, snap, e) < 0 ||
	    ps_statelog_file_id(snap, &id, e) < 0)
		goto out;
	ps_gold_mark_clean(r->g);
	r->snap_bytes = (size_t)id.size;
	r->snap_items = ps_gold_npatients(r->g) + ps_gold_nencounters(r->g);
	log_header(&id, &h);
	ps_buf_reset(&d);
	ps_statelog_frame(h.data, h.len, &d);	/* a new log, atomically */
	if (ps_write_file_atomic(log, d.data, d.len, 0644, e) < 0)
		goto out;
	r->log_bytes = d.len;
	r->state_bytes = r->snap_bytes + d.len;
	r->log_ok = 1;
	rc = 0;
out:
	ps_buf_release(&d);
	ps_buf_release(&h);
	free(snap);
	free(log);
	return rc;
}

/* What a commit's steps (lib/stage.h) work on. */
struct commit_ctx {
	struct run *r;
	struct ps_table *t;
	size_t nt;
	struct ps_buf lines;	/* alert transitions */
	int64_t hour, now;
};

/*
 * The state, once the tables are committed: the alerts evaluated on the
 * new tables and their levels, then the snapshot (with the positions),
 * then the ranges (after the state: ranges of this commit name a state
 * as new).  The files of the levels and the ranges are written first and
 * made durable with the stage's checkpoint at once (ps_stage_seal), then
 * put in place in that order, each durable before the next step.
 */
static int save_state(void *ctx, struct ps_error *e)
{
	struct commit_ctx *c = ctx;
	struct run *r = c->r;
	struct ps_buf ast = PS_BUF_INIT, pos = PS_BUF_INIT;
	struct ps_afile af = PS_AFILE_INIT, rf = PS_AFILE_INIT;
	struct ps_afile *f[2] = { &af, &rf };
	char *p;
	int rc;

	if (!r->o->no_alerts)
		eval_alerts(r, c->t, c->nt, c->now, &c->lines);
	ps_alerts_save_state(&r->alerts, &ast);
	p = pathf("%s/%s.alerts", r->state_dir, r->o->stream);
	rc = ps_seal_begin(&af, p, ast.data ? ast.data : "", ast.len,
			   PS_SEAL_BIN, e);
	free(p);
	if (rc == 0)
		rc = open_ranges(r, &rf, e);
	if (rc == 0)
		rc = ps_stage_seal(r->stage, f, 2, e);
	if (rc == 0)
		rc = ps_afile_commit(&af, e);
	if (rc == 0) {
		ps_checkpoint_format(r->cp, &pos);
		rc = save_gold_state(r, &pos, e);
	}
	if (rc == 0)
		rc = ps_afile_commit(&rf, e);
	ps_afile_abort(&af);	/* what is not committed */
	ps_afile_abort(&rf);
	ps_buf_release(&ast);
	ps_buf_release(&pos);
	return rc;
}

/* Step 4: KPI rows, then alert transitions. */
static int emit_kpis(void *ctx, struct ps_error *e)
{
	struct commit_ctx *c = ctx;
	struct run *r = c->r;
	size_t i, j;

	if (!r->o->no_kpi_output) {
		struct ps_buf kb = PS_BUF_INIT;

		for (i = 0; i < c->nt; i++) {
			struct ps_table *t = &c->t[i];
			long hc = ps_table_col(t, "hour");
			int inflow = !strcmp(t->name, "kpi_inflow");

			if (strncmp(t->name, "kpi_", 4))
				continue;
			for (j = 0; j < t->nrows; j++) {
				double hv;

				/* kpi_inflow: the current hour only */
				if (inflow && (ps_table_num(t, j, hc, &hv) < 0 ||
					       (int64_t)hv != c->hour))
					continue;
				ps_table_row_json(t, j, &kb);
			}
		}
		i = emit(r, kb.data, kb.len) < 0;
		ps_buf_release(&kb);
		if (i)
			return ps_error_set(e, PS_EX_IOERR,
					    "write error on output");
	}
	if (emit(r, c->lines.data, c->lines.len) < 0 || emit(r, NULL, 0) < 0)
		return ps_error_set(e, PS_EX_IOERR, "write error on output");
	return 0;
}

/*
 * Commit everything applied so far (see gold.h for the order): the data
 * files of every table, then each table's Delta log (lib/stage.h,
 * numbered commits), then the state (the commit point of the input), then
 * the output.
 */
static int commit(struct run *r, struct ps_error *e)
{
	const struct ps_gold_opts *o = r->o;
	int64_t now = o->now != PS_GOLD_NULL ? o->now : ps_time_now();
	struct ps_table t[PS_GOLD_MAX_TABLES];
	struct part_ctx pc = { r, table_index(r, FACT), ps_fsgroup_new(), e };
	struct commit_ctx cc = { r, t, 0, PS_BUF_INIT, 0, now };
	size_t nd = 0, i, n;
	double t0 = ps_mono();
	unsigned long long b0 = ps_fs_bytes_written(), f0 = ps_fs_fsyncs();
	unsigned long long a0 = r->snaps_ahead;
	int32_t *days = ps_gold_take_dirty(r->g, &nd);
	/* the dimensions change only with records (not with the clock) */
	int same = r->c[C_APPLIED].value == r->applied_then;
	int rc = -1;

	cc.hour = now / (3600LL * PS_USEC_PER_SEC) * (3600LL * PS_USEC_PER_SEC);
	if (snapshot_due(r)) {
		char *snap = pathf("%s/%s.snap", r->state_dir, r->o->stream);

		ahead_start(r, snap);
		free(snap);
	}
	if (write_fact(r, &pc, days, nd, now) < 0)
		goto out;
	ps_gold_tables(r->g, now, o->window, t, &cc.nt);
	for (i = 0; i < cc.nt; i++) {
		size_t k = table_index(r, t[i].name);

		/* unchanged dimensions keep their files (the version holds
		 * the txn alone) */
		if (same && strncmp(t[i].name, "kpi_", 4) &&
		    ps_stage_current(r->stage, k))
			continue;
		if (!strcmp(t[i].name, DIM_PATIENT) ?
		    write_patients(r, k, &t[i], pc.g, e) < 0 :
		    write_table(r, k, &t[i], pc.g, e) < 0)
			goto out;
	}
	if (ps_fsgroup_commit(pc.g, e) < 0)
		goto out;
	n = ps_checkpoint_count(r->cp);
	for (i = 0; i < n; i++) {
		const char *src;
		size_t len;
		long long pos;

		ps_checkpoint_entry(r->cp, i, &src, &len, &pos);
		ps_stage_set_position(r->stage, src, len, pos);
	}
	if (ps_stage_commit(r->stage, save_state, emit_kpis, &cc, e) < 0)
		goto out;
	r->c[C_COMMITS].value++;
	r->committed_once = 1;
	r->applied_then = r->c[C_APPLIED].value;
	r->pending = 0;
	r->last_commit = ps_mono();
	if (r->live)
		ps_fspool_fill();	/* the next commit's files */
	ps_log(PS_DEBUG, "commit", PS_I("partitions", nd),
	       PS_I("encounters", ps_gold_nencounters(r->g)),
	       PS_I("kpi_encounters", ps_gold_kpi_visited(r->g)),
	       PS_I("us", (r->last_commit - t0) * 1e6),
	       PS_I("bytes", ps_fs_bytes_written() - b0),
	       PS_I("fsyncs", ps_fs_fsyncs() - f0),
	       PS_I("state_bytes", r->state_bytes),
	       PS_I("snapshot_ahead", r->snaps_ahead - a0));
	/* the tables' checkpoints, once the records are out */
	t0 = ps_mono();
	f0 = ps_fs_fsyncs();
	ps_stage_maintain(r->stage);
	if (ps_fs_fsyncs() != f0)
		ps_log(PS_DEBUG, "checkpoints", PS_I("us", (ps_mono() - t0) *
						     1e6),
		       PS_I("fsyncs", ps_fs_fsyncs() - f0));
	rc = 0;
out:
	ahead_drop(&r->ahead);
	if (rc < 0)
		ps_stage_abort(r->stage);
	ps_fsgroup_free(pc.g);
	for (i = 0; i < cc.nt; i++)
		ps_table_release(&t[i]);
	free(days);
	ps_buf_release(&cc.lines);
	return rc;
}

/* HMAC-SHA256 under key of a domain byte and p, as 64 hex digits. */
static void pseudonym(const char *key, char domain, const char *p,
		      size_t n, char hex[65])
{
	static const char xd[] = "0123456789abcdef";
	unsigned char mac[PS_SHA256_LEN];
	struct ps_buf m = PS_BUF_INIT;
	size_t i;

	ps_buf_addc(&m, domain);
	ps_buf_add(&m, p, n);
	ps_crypto_hmac_sha256(key, strlen(key), m.data, m.len, mac);
	ps_buf_release(&m);
	for (i = 0; i < PS_SHA256_LEN; i++) {
		hex[2 * i] = xd[mac[i] >> 4];
		hex[2 * i + 1] = xd[mac[i] & 15];
	}
	hex[64] = '\0';
}

/* Apply one parsed record: position check, upsert, checkpoint.  With
 * --pseudonymize the patient and encounter identifiers are replaced by
 * keyed hashes and ages over 89 by the band 90+ alone (HIPAA Safe
 * Harbor) before anything is stored. */
static void apply(struct run *r, const struct ps_gold_rec *in,
		  const struct ps_checkpoint *skip_cp)
{
	struct ps_gold_rec pr;
	const struct ps_gold_rec *rec = in;
	char why[200], hp[65], he[65];
	int rc;

	if (r->pkey) {
		pr = *in;
		pseudonym(r->pkey, 'p', in->patient_id.p, in->patient_id.len,
			  hp);
		pr.patient_id.p = hp;
		pr.patient_id.len = 64;
		if (in->encounter_id.p && in->encounter_id.len) {
			pseudonym(r->pkey, 'e', in->encounter_id.p,
				  in->encounter_id.len, he);
			pr.encounter_id.p = he;
			pr.encounter_id.len = 64;
		}
		if (in->age != PS_GOLD_NULL && in->age > 89) {
			pr.age = PS_GOLD_NULL;
			pr.age_band.p = "90+";
			pr.age_band.len = 3;
		}
		rec = &pr;
	}

	r->c[C_RECORDS].value++;
	if (rec->position >= 0 && rec->source.p &&
	    rec->position <= ps_checkpoint_get(skip_cp, rec->source.p,
					       rec->source.len)) {
		r->c[C_SKIPPED].value++;
		return;
	}
	rc = ps_gold_apply(r->g, rec, why, sizeof(why));
	if (rc < 0) {
		r->c[C_BAD].value++;
		ps_log(PS_WARN, "bad record", PS_S("reason", why));
		return;
	}
	r->c[rc ? C_APPLIED : C_UNCHANGED].value++;
	if (rec->position >= 0 && rec->source.p)
		ps_checkpoint_set(r->cp, rec->source.p, rec->source.len,
				  rec->position);
	r->pending++;
}

static int due(const struct run *r)
{
	return r->pending >= r->o->commit_records ||
	       (r->pending && ps_mono() - r->last_commit >=
		r->o->commit_interval);
}

/* ------------------------------------------------------------------ */
/* Catch-up from silver Parquet                                        */
/* ------------------------------------------------------------------ */

static const char *pq_str(const struct ps_pq_reader *rd, int col,
			  size_t *len)
{
	const struct ps_pq_value *v;

	if (col < 0 || !(v = ps_pq_value(rd, (size_t)col)) || v->is_null ||
	    v->type != PS_PQ_STRING) {
		*len = 0;
		return NULL;
	}
	*len = v->v.s.len;
	return v->v.s.p;
}

static int64_t pq_int(const struct ps_pq_reader *rd, int col)
{
	const struct ps_pq_value *v;

	if (col < 0 || !(v = ps_pq_value(rd, (size_t)col)) || v->is_null ||
	    v->type == PS_PQ_STRING || v->type == PS_PQ_DOUBLE ||
	    v->type == PS_PQ_BOOL)
		return PS_GOLD_NULL;
	return v->v.i;
}

/* A record read from Parquet, strings as offsets into a group buffer. */
struct held {
	struct ps_gold_rec rec;
	size_t off[PS_CLEAN_NCOLS];
};

static int cmp_held(const void *a, const void *b)
{
	const struct held *x = a, *y = b;

	return (x->rec.position > y->rec.position) -
	       (x->rec.position < y->rec.position);
}

/* Read every row of path into *h (strings copied into sb), the columns
 * by the names of lib/clean.h. */
static int read_file_rows(const char *path, struct held **h, size_t *n,
			  size_t *cap, struct ps_buf *sb, struct ps_error *e)
{
	int col[PS_CLEAN_NCOLS];
	struct ps_pq_reader *rd = ps_pq_reader_open(path, e);
	size_t i;
	int rc;

	if (!rd)
		return -1;
	for (i = 0; i < PS_CLEAN_NCOLS; i++)
		col[i] = ps_gold_fields[i].kind ?
			 ps_pq_reader_find(rd, ps_gold_fields[i].name) : -1;
	while ((rc = ps_pq_next(rd, e)) == 1) {
		struct held *x;

		if (*n == *cap) {
			*cap = *cap ? *cap * 2 : 1024;
			*h = ps_xrealloc(*h, *cap * sizeof(**h));
		}
		x = &(*h)[(*n)++];
		memset(x, 0, sizeof(*x));
		ps_gold_rec_init(&x->rec);
		for (i = 0; i < PS_CLEAN_NCOLS; i++) {
			const struct ps_gold_field *f = &ps_gold_fields[i];
			char *m = (char *)&x->rec + f->off;
			struct ps_gold_str *str;
			int64_t v;
			size_t len;

			if (col[i] < 0)
				continue;
			switch (f->kind) {
			case PS_GOLD_K_STR:
				str = (struct ps_gold_str *)m;
				str->p = pq_str(rd, col[i], &len);
				str->len = len;
				x->off[i] = sb->len;
				if (str->p)
					ps_buf_add(sb, str->p, len);
				break;
			case PS_GOLD_K_POS:
				v = pq_int(rd, col[i]);
				*(long long *)m = v == PS_GOLD_NULL ? -1 : v;
				break;
			default:
				*(int64_t *)m = pq_int(rd, col[i]);
				break;
			}
		}
	}
	ps_pq_reader_free(rd);
	if (rc < 0 && e && e->code == PS_EX_DATAERR)
		ps_error_set(e, PS_EX_DATAERR, "%s: %s", path, e->msg);
	return rc < 0 ? -1 : 0;
}

/* Apply the held rows of one batch in position order (the order in
 * which ps-silver emitted them), so a catch-up equals the live run. */
static int apply_held(struct run *r, struct held *h, size_t n,
		      struct ps_buf *sb, const struct ps_checkpoint *cp0,
		      struct ps_error *e)
{
	size_t i, k;

	for (i = 0; i < n; i++)
		for (k = 0; k < PS_CLEAN_NCOLS; k++) {
			struct ps_gold_str *s;

			if (ps_gold_fields[k].kind != PS_GOLD_K_STR)
				continue;
			s = (struct ps_gold_str *)((char *)&h[i].rec +
						   ps_gold_fields[k].off);
			if (s->p)
				s->p = sb->data + h[i].off[k];
		}
	qsort(h, n, sizeof(*h), cmp_held);
	for (i = 0; i < n; i++) {
		apply(r, &h[i].rec, cp0);
		if (r->pending >= r->o->commit_records && commit(r, e) < 0)
			return -1;
	}
	return 0;
}

static int same_batch(const struct ps_lake_part *x,
		      const struct ps_lake_part *y)
{
	return !strcmp(x->safe, y->safe) && x->first == y->first &&
	       x->last == y->last && x->run == y->run;
}

/*
 * Apply the silver files that silver's commit point covers (lib/lake.h),
 * one batch at a time: a batch still being committed is not read, its
 * records come later, on stdin or in the next catch-up.
 */
static int catch_up(struct run *r, struct ps_error *e)
{
	struct ps_lake_parts fs = PS_LAKE_PARTS_INIT;
	struct ps_checkpoint *cp0 = ps_checkpoint_new();
	struct ps_buf sb = PS_BUF_INIT;
	struct held *h = NULL;
	size_t nh = 0, caph = 0, i, read = 0;
	int rc, level;

	ps_checkpoint_merge(cp0, r->cp);
	rc = ps_lake_visible(r->o->lake, PS_LAKE_SILVER, r->o->stream, &fs,
			     e);
	for (i = 0; i < fs.n && rc == 0 && !ps_stop_requested; i++) {
		const struct ps_lake_part *f = &fs.v[i];

		if (f->run < 0 &&
		    f->last <= ps_lake_safe_position(cp0, f->safe,
						     strlen(f->safe)))
			continue;
		read++;
		rc = read_file_rows(f->path, &h, &nh, &caph, &sb, e);
		if (rc == 0 && (i + 1 == fs.n || !same_batch(f, f + 1))) {
			rc = apply_held(r, h, nh, &sb, cp0, e);
			nh = 0;
			ps_buf_reset(&sb);
		}
	}
	/* The second one (before stdin) is news only when it read. */
	level = r->catch_ups++ && !read ? PS_DEBUG : PS_INFO;
	ps_log(level, "catch-up", PS_I("files", fs.n), PS_I("read", read));
	ps_lake_parts_release(&fs);
	free(h);
	ps_buf_release(&sb);
	ps_checkpoint_free(cp0);
	return rc;
}

/* ------------------------------------------------------------------ */
/* stdin, with commits while the input is idle                         */
/* ------------------------------------------------------------------ */

static ssize_t idle_read(void *ctx, void *buf, size_t n)
{
	struct run *r = ctx;

	for (;;) {
		struct pollfd pfd = { r->in_fd, POLLIN, 0 };
		int ms = -1, pr;

		/* a commit is due after the interval when records are
		 * pending, and on the wall clock also when none are: the
		 * windows, census and alerts move with time */
		if (!r->commit_failed &&
		    (r->pending || r->o->now == PS_GOLD_NULL)) {
			double left = r->o->commit_interval -
				      (ps_mono() - r->last_commit);

			ms = left <= 0 ? 0 : (int)(left * 1000) + 1;
		}
		/* a stop requested during a commit (or caught by one of
		 * its threads) ends the wait too, not only one during it */
		pr = ps_poll_stop(&pfd, 1, ms);
		if (pr < 0 && errno == EINTR) {
			if (ps_stop_requested)
				return -1;
			continue;
		}
		if (pr < 0)
			return -1;
		if (pr == 0) {
			if (commit(r, &r->cerr) < 0) {
				r->commit_failed = 1;
				errno = EIO;
				return -1;
			}
			continue;
		}
		return read(r->in_fd, buf, n);
	}
}

static int catch_up(struct run *r, struct ps_error *e);

static int read_stdin(struct run *r, struct ps_error *e)
{
	struct ps_ndjson *rd = ps_ndjson_new(idle_read, r, PS_LINE_MAX);
	struct ps_buf sc = PS_BUF_INIT;
	struct ps_line line;
	int rc, first = 1;

	ps_ndjson_set_interrupt(rd, ps_stop_flag());
	r->live = 1;
	ps_fspool_start();
	while (!r->out_gone && (rc = ps_ndjson_next(rd, &line, e)) == 1) {
		struct ps_gold_rec rec;
		char why[200];

		ps_progress_tick(&r->prog);
		if (!line.len)
			continue;
		if (line.too_long ||
		    ps_gold_parse(line.data, line.len, &rec, &sc, why,
				  sizeof(why)) < 0) {
			if (line.too_long)
				snprintf(why, sizeof(why), "record_too_long");
			r->c[C_RECORDS].value++;
			r->c[C_BAD].value++;
			ps_log(PS_WARN, "bad record", PS_I("line", line.lineno),
			       PS_S("reason", why));
			if (r->o->strict) {
				rc = ps_error_set(e, PS_EX_DATAERR, "line %lld:"
						  " %s", line.lineno, why);
				break;
			}
			continue;
		}
		/*
		 * Records arrive on stdin only after ps-silver committed
		 * them, and only the writer holding silver's lock emits:
		 * what another silver (a cron catch-up) committed since the
		 * catch-up at start never comes through the pipe.  Catch up
		 * again before the first record, or those would fall below
		 * the positions applied from stdin for good.
		 */
		if (first && r->o->catch_up && catch_up(r, e) < 0) {
			rc = -1;
			break;
		}
		first = 0;
		apply(r, &rec, r->cp);
		if (due(r) && commit(r, e) < 0) {
			rc = -1;
			break;
		}
	}
	r->live = 0;
	if (rc < 0 && r->commit_failed) {
		*e = r->cerr;
	} else if (rc < 0 && e->code == 0) {
		rc = 0;		/* interrupted: commit what we hold */
	}
	ps_ndjson_free(rd);
	ps_buf_release(&sc);
	return rc < 0 ? -1 : 0;
}

/* ------------------------------------------------------------------ */

struct log_ctx {
	struct run *r;
	struct ps_statelog_id snap;
	size_t n;		/* records read */
	int skip;		/* the log extends another snapshot */
	const char *pos;	/* the positions of the last state applied */
	size_t poslen;
	const char *path;	/* the log's, for messages */
};

static int log_record(void *ctx, const char *p, size_t n, struct ps_error *e)
{
	struct log_ctx *c = ctx;
	struct ps_buf h = PS_BUF_INIT;

	if (c->n++ == 0) {
		log_header(&c->snap, &h);
		c->skip = n != h.len || memcmp(p, h.data, n);
		ps_buf_release(&h);
		if (c->skip)
			ps_log(PS_INFO, "state log extends an older snapshot, "
			       "ignored");
		return 0;
	}
	if (c->skip)
		return 0;
	if (ps_gold_apply_delta(c->r->g, p, n, &c->pos, &c->poslen, e) < 0)
		return ps_error_prefix(e, PS_EX_CONFIG, c->path);
	return 0;
}

/* Apply STREAM.log over the restored snapshot (the log stays in
 * r->logbuf: the positions point into it). */
static int load_log(struct run *r, struct log_ctx *c, struct ps_error *e)
{
	char *p = pathf("%s/%s.log", r->state_dir, r->o->stream);
	int rc;

	c->path = p;
	rc = ps_statelog_read(p, &r->logbuf, log_record, c, &r->log_bytes, e);
	c->path = NULL;
	free(p);
	if (rc < 0)
		return -1;
	r->log_ok = rc == 0 && c->n > 0 && !c->skip;
	if (c->n > 1 && !c->skip)
		ps_gold_relink(r->g);
	ps_log(PS_DEBUG, "state log", PS_I("records", c->n),
	       PS_I("bytes", r->log_bytes), PS_I("used", r->log_ok));
	return 0;
}

static int load_state(struct run *r, struct ps_error *e)
{
	struct ps_buf b = PS_BUF_INIT;
	char *p = pathf("%s/%s.snap", r->state_dir, r->o->stream);
	const char *pos;
	size_t poslen;
	long long sealed;
	int rc = ps_read_file(p, &b, (size_t)1 << 40, e);

	free(p);
	if (rc < 0)
		goto out;
	if (rc == 1) {
		char *cpp = ps_checkpoint_path(r->o->lake, PS_GOLD_TOOL,
					       r->o->stream);

		rc = access(cpp, F_OK) == 0 ?
			ps_error_set(e, PS_EX_CONFIG, "%s exists but the "
				     "state snapshot is missing", cpp) : 0;
		free(cpp);
		goto out;
	}
	sealed = ps_seal_open(b.data, b.len, PS_SEAL_BIN, e);
	rc = sealed < 0 ? -1 :
	     ps_gold_restore(r->g, b.data, (size_t)sealed, &pos, &poslen, e);
	if (rc < 0 && e && e->code == PS_EX_CONFIG) {
		p = pathf("%s/%s.snap", r->state_dir, r->o->stream);
		ps_error_prefix(e, PS_EX_CONFIG, p);
		free(p);
	}
	r->committed_once = rc == 0;
	if (rc == 0) {
		struct log_ctx lc = { r, { 0, 0 }, 0, 0, pos, poslen, NULL };

		ps_statelog_mem_id(b.data, b.len, &lc.snap);
		r->snap_bytes = b.len;
		r->snap_items = ps_gold_npatients(r->g) +
				ps_gold_nencounters(r->g);
		rc = load_log(r, &lc, e);
		pos = lc.pos;
		poslen = lc.poslen;
	}
	if (rc == 0 && poslen)
		rc = ps_checkpoint_parse(r->cp, pos, poslen, e);
	if (rc == 0) {
		ps_buf_reset(&b);
		p = pathf("%s/%s.alerts", r->state_dir, r->o->stream);
		rc = ps_seal_read(p, 64 << 20, PS_SEAL_BIN, &b, e);
		if (rc == 0)
			ps_alerts_load_state(&r->alerts, b.data, b.len);
		rc = rc < 0 ? -1 : 0;
		free(p);
	}
	if (rc == 0 && r->committed_once)
		load_ranges(r);
out:
	ps_buf_release(&b);
	return rc;
}

/*
 * Reading standard input: the first commit's files made ahead too
 * (lib/fsutil.h), while the state loads: one in each table's directory
 * (not the fact's: its files are in the partitions the first commit
 * names) and each log, three in the state's.  Directories a new lake
 * has not made yet get none.
 */
static void pool_ahead(struct run *r)
{
	size_t k, fact = table_index(r, FACT);
	char *p;

	ps_fspool_start();
	for (k = 0; k < r->ntables; k++) {
		if (k != fact)
			ps_fspool_want(r->tables[k].dir,
				       "part-00000000000000000000.parquet", 1);
		p = ps_path_join(r->tables[k].dir, "_delta_log");
		ps_fspool_want(p, "00000000000000000000.json", 1);
		free(p);
	}
	p = pathf("%s.json", r->o->stream);
	ps_fspool_want(r->state_dir, p, 3);
	free(p);
	ps_fspool_fill();
}

int ps_gold_run(const struct ps_gold_opts *o, int in_fd,
		ps_gold_write_fn out, void *out_ctx, struct ps_error *e)
{
	static const char *cnames[C_NCOUNTERS] = {
		"records", "applied", "unchanged", "skipped", "bad",
		"commits", "alerts",
	};
	struct ps_departments ds = PS_DEPARTMENTS_INIT;
	struct ps_stage_opts so = { o->lake, PS_GOLD_TOOL, o->stream,
				    o->lock_wait, NULL, 0, NULL, 0, 1,
				    o->keep_removed / 1000 };
	const char *names[PS_GOLD_MAX_TABLES];
	struct run r;
	size_t k;
	int rc = -1, i;

	memset(&r, 0, sizeof(r));
	for (i = 0; i < C_NCOUNTERS; i++)
		r.c[i].name = cnames[i];
	ps_progress_init(&r.prog, r.c, C_NCOUNTERS);
	r.o = o;
	r.out = out;
	r.out_ctx = out_ctx;
	r.in_fd = in_fd;
	if (!o->lake)
		return ps_error_set(e, PS_EX_USAGE, "a lake is needed");
	if (ps_departments_load(&ds, o->departments, e) < 0)
		return -1;
	if (ps_alerts_load(&r.alerts, o->thresholds, e) < 0)
		goto done;
	if (o->pseudonymize && ps_secret_resolve(o->pseudonymize, &r.pkey,
						 e) < 0)
		goto done;
	if (r.pkey && strlen(r.pkey) < 16) {
		ps_error_set(e, PS_EX_CONFIG, "--pseudonymize: the key must "
			     "have at least 16 bytes");
		goto done;
	}
	r.g = ps_gold_new(&ds);
	ps_gold_set_min_samples(r.g, o->min_samples);
	r.cp = ps_checkpoint_new();
	r.gold_dir = pathf("%s/gold", o->lake);
	r.state_dir = pathf("%s/_state/%s", o->lake, PS_GOLD_TOOL);
	{
		const struct ps_pq_column *cols[PS_GOLD_MAX_TABLES];
		size_t ncols[PS_GOLD_MAX_TABLES];

		r.ntables = ps_gold_table_list(names, cols, ncols);
		for (k = 0; k < r.ntables; k++) {
			struct ps_stage_table *t = &r.tables[k];

			memset(t, 0, sizeof(*t));
			t->dir = ps_path_join(r.gold_dir, names[k]);
			t->cols = cols[k];
			t->ncols = ncols[k];
			t->lake_table = -1;
			/* its partitions cannot be recovered from the state */
			t->keep_unlogged = !strcmp(names[k], FACT);
		}
	}
	so.delta = r.tables;
	so.ndelta = r.ntables;
	r.stage = ps_stage_open(&so, e);
	if (!r.stage || ps_mkdir_durable(r.gold_dir, 0755, e) < 0)
		goto done;
	clean_temps(r.gold_dir);
	if (o->read_stdin)
		pool_ahead(&r);
	if (load_state(&r, e) < 0)
		goto done;
	ps_log(PS_INFO, "state loaded",
	       PS_I("patients", ps_gold_npatients(r.g)),
	       PS_I("encounters", ps_gold_nencounters(r.g)));
	if (ps_gold_nencounters(r.g))
		ps_gold_kpi_warm(r.g, o->now != PS_GOLD_NULL ? o->now :
				 ps_time_now(), o->window);
	r.last_commit = ps_mono();
	if (o->catch_up && catch_up(&r, e) < 0)
		goto done;
	if (o->read_stdin && read_stdin(&r, e) < 0)
		goto done;
	/* no record comes after this commit: the lookups' slots go */
	ps_gold_shed(r.g);
	if ((r.pending || !r.committed_once) && commit(&r, e) < 0)
		goto done;
	rc = 0;
done:
	if (r.g) {
		ps_progress_done(&r.prog, "done");
		ps_log(PS_INFO, "state", PS_I("patients", ps_gold_npatients(r.g)),
		       PS_I("encounters", ps_gold_nencounters(r.g)),
		       PS_I("departments", ps_gold_ndepartments(r.g)));
	}
	ps_fspool_stop();	/* with the lock held */
	ps_gold_free(r.g);
	ps_buf_release(&r.logbuf);
	ps_secret_free(r.pkey);
	ps_stage_close(r.stage);
	ps_checkpoint_free(r.cp);
	ps_alerts_release(&r.alerts);
	ps_departments_release(&ds);
	free(r.gold_dir);
	free(r.state_dir);
	for (k = 0; k < r.ntables; k++)
		free((char *)r.tables[k].dir);
	ranges_free(&r.pr);
	ranges_free(&r.er);
	return rc;
}

/*
 * parquet_write.c - the Parquet writer (see parquet.h).
 *
 * Rows are set column by column into slots, validated at ps_pq_end_row and
 * appended to per-column pages.  A full page is encoded (definition levels
 * RLE/bit-packed, values PLAIN or dictionary indices), compressed and kept
 * in the column's chunk buffer; when the row group reaches its target size
 * every column chunk is written to the file, preceded by its dictionary
 * page, and its ColumnChunk metadata is encoded right away.  The footer is
 * written on close.  Memory is bounded by the row-group size.
 *
 * Once a row group's chunk buffers hold spill_bytes, its later pages go
 * to the writer's scratch file instead (one file for all columns, each
 * column's runs of pages listed in order); a column chunk is then its
 * dictionary page, its pages in memory, and its runs copied back from
 * the scratch file, which starts over at the next row group.
 *
 * Pages of ASYNC_MIN bytes and more are compressed by a helper thread of
 * the writer (started at the first such page), while the caller's thread
 * goes on with the next rows; they join their column chunks in the order
 * they were made, so the file's bytes are those of compressing each page
 * in turn.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "fsutil.h"
#include "json.h"
#include "parquet.h"
#include "thrift.h"
#include "banned.h"

/* Parquet enum values used below (parquet.thrift). */
enum {
	T_BOOLEAN = 0, T_INT32 = 1, T_INT64 = 2, T_DOUBLE = 5,
	T_BYTE_ARRAY = 6,
};
enum { E_PLAIN = 0, E_RLE = 3, E_RLE_DICTIONARY = 8 };
enum { PT_DATA = 0, PT_DICT = 2 };
enum {
	CT_UTF8 = 0, CT_MAP = 1, CT_LIST = 3, CT_DATE = 6,
	CT_TIMESTAMP_MICROS = 10,
};
/* Deepest nesting accepted (levels stay far below 2^8). */
#define MAX_DEPTH 32

#define PAGE_MAX_VALUES 65536
/* After this many values, a chunk whose dictionary holds more than half of
 * them as distinct entries goes on in PLAIN (as parquet-mr does when a
 * dictionary does not compress). */
#define DICT_PROBE 8192

enum { S_UNSET = 0, S_NULL, S_INT, S_DOUBLE, S_BOOL, S_STR };

struct slot {
	int64_t i;
	double d;
	const char *p;
	size_t n;
};

struct stats {
	int has;
	int64_t imin, imax;
	double dmin, dmax;
	struct ps_buf smin, smax;
	int64_t nulls;
};

struct wcol {
	char *name;		/* dotted path, for messages */
	char **path;		/* path_in_schema */
	size_t npath;
	enum ps_pq_type type;
	int nullable;
	int max_def, max_rep;	/* levels: flat columns 0/1 and 0 */
	int want_dict;
	int dict_on;		/* values go to the dictionary now */
	size_t dict_vals;	/* values looked up in this chunk */
	int page_dict;		/* current page: dictionary indices */
	int ptype;		/* physical type */

	/* current page */
	uint8_t *defs;		/* levels: at most MAX_DEPTH */
	size_t ndefs, cdefs;
	uint8_t *reps;
	size_t nreps, creps;
	uint32_t *idx;
	size_t nidx, cidx;
	struct ps_buf plain;
	size_t page_n;
	struct stats pst;

	/* current column chunk */
	struct ps_buf chunk;	/* encoded pages, headers included */
	struct run *runs;	/* its later pages, in the scratch file */
	size_t nruns, cruns;
	int64_t chunk_unc;	/* uncompressed size of those pages */
	int64_t chunk_n;
	int used_plain, used_dict;
	struct stats cst;

	/* dictionary of the current chunk */
	struct ps_buf dict;	/* PLAIN-encoded entries */
	uint32_t *doff;		/* entry offsets in dict (strings) */
	size_t ndict, cdoff;
	uint32_t last;		/* the index dict_lookup returned last */
	uint32_t *ht;		/* index + 1, 0 = empty */
	size_t htcap;
};

/* Pages of a column chunk in the scratch file: len bytes at off. */
struct run {
	int64_t off;
	size_t len;
};

/* A data page on its way to its column chunk: encoded (body), then
 * compressed (comp) by the helper thread or at once, then given its
 * header and appended to the chunk (page_done), in the order made. */
enum { J_QUEUED = 1, J_RUNNING, J_DONE, J_FAILED };

struct pjob {
	struct wcol *c;
	struct ps_buf body, comp;
	struct stats st;	/* the page's statistics */
	size_t page_n;
	int dict;		/* dictionary indices */
	int state;
	struct ps_error err;
};

#define ASYNC_MIN (64u << 10)
/* Bytes copied at a time from the scratch file. */
#define RUN_COPY (256u << 10)
#define NJOBS 2

/* One node of a nested schema (see struct ps_pq_node), with the levels
 * it gets in the file. */
struct wnode {
	char *name;
	enum ps_pq_kind kind;
	enum ps_pq_type type;
	int nullable;
	size_t nchildren;
	size_t size;		/* nodes in this subtree, itself included */
	size_t leaf;		/* LEAF: column index */
	size_t first_leaf, nleaves;
	int rl;			/* LIST/MAP: repetition level of elements */
};

struct ps_pq_writer {
	struct ps_afile f;
	struct ps_pq_options o;
	char *created_by;
	struct wnode *nodes;	/* NULL for a flat schema */
	size_t nnodes, ntop;
	size_t ncols;
	struct wcol *cols;
	struct slot *slots;
	uint8_t *state;
	size_t bad_col;		/* set_* with a column out of range */
	int bad_col_set;
	int broken;

	int64_t rows, rg_rows;
	size_t rg_bytes;
	int64_t off;		/* bytes written to the file */
	struct ps_buf *rgs;	/* encoded RowGroup structs */
	size_t nrgs, crgs;
	struct ps_pq_kv *kv;
	size_t nkv;

	struct ps_buf body, comp, hdr;	/* scratch */
	uint32_t *lv;		/* a page's levels widened for encoding */
	size_t clv;

	/* chunk bytes of this row group in memory (mem; the most ever:
	 * mem_peak); past spill_bytes, pages go to the scratch file
	 * spill_fd (opened at the first), spill_off bytes of it used by
	 * this row group, spilled in all */
	size_t mem, mem_peak;
	int spill_fd;
	int64_t spill_off, spilled;

	/* pages in flight: jobs[(head + k) % NJOBS], k < njobs, oldest
	 * first; mu guards them and stop, cv signals each change */
	struct pjob jobs[NJOBS];
	size_t head, njobs;
	pthread_t helper;
	int helper_on, stop;
	pthread_mutex_t mu;
	pthread_cond_t cv;
};

/* ---- small helpers ---- */

static void stats_reset(struct stats *s)
{
	s->has = 0;
	s->nulls = 0;
	ps_buf_reset(&s->smin);
	ps_buf_reset(&s->smax);
}

static void stats_release(struct stats *s)
{
	ps_buf_release(&s->smin);
	ps_buf_release(&s->smax);
}

static int bytes_cmp(const void *a, size_t an, const void *b, size_t bn)
{
	int c = memcmp(a, b, an < bn ? an : bn);

	if (c)
		return c;
	return an < bn ? -1 : an > bn;
}

static void stats_merge(struct wcol *c, struct stats *to,
			const struct stats *from)
{
	to->nulls += from->nulls;
	if (!from->has)
		return;
	switch (c->type) {
	case PS_PQ_DOUBLE:
		if (!to->has || from->dmin < to->dmin)
			to->dmin = from->dmin;
		if (!to->has || from->dmax > to->dmax)
			to->dmax = from->dmax;
		break;
	case PS_PQ_STRING:
		if (!to->has || bytes_cmp(from->smin.data, from->smin.len,
					  to->smin.data, to->smin.len) < 0) {
			ps_buf_reset(&to->smin);
			ps_buf_add(&to->smin, from->smin.data,
				   from->smin.len);
		}
		if (!to->has || bytes_cmp(from->smax.data, from->smax.len,
					  to->smax.data, to->smax.len) > 0) {
			ps_buf_reset(&to->smax);
			ps_buf_add(&to->smax, from->smax.data,
				   from->smax.len);
		}
		break;
	default:
		if (!to->has || from->imin < to->imin)
			to->imin = from->imin;
		if (!to->has || from->imax > to->imax)
			to->imax = from->imax;
	}
	to->has = 1;
}

static int bit_width(uint32_t maxv)
{
	return maxv ? 32 - __builtin_clz(maxv) : 1;
}

/* Append the n low bytes of v, little-endian (one 8-byte store; 8 bytes
 * of room are made so that it can be). */
static inline void put_le(struct ps_buf *b, uint64_t v, int n)
{
	uint8_t *o;

	if (b->cap - b->len <= 8)
		ps_buf_grow(b, 8);
	o = (uint8_t *)b->data + b->len;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	memcpy(o, &v, 8);
#else
	{
		int i;

		for (i = 0; i < 8; i++)
			o[i] = (uint8_t)(v >> (8 * i));
	}
#endif
	b->len += (size_t)n;
	b->data[b->len] = '\0';
}

static uint64_t mix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

static uint64_t hash_bytes(const char *p, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ n, k;

	while (n >= 8) {
		memcpy(&k, p, 8);
		h = (h ^ mix64(k)) * 0x100000001b3ULL;
		p += 8;
		n -= 8;
	}
	k = 0;
	memcpy(&k, p, n);
	return mix64(h ^ k);
}

/* ---- dictionary ---- */

static int dict_width(const struct wcol *c)
{
	return c->ptype == T_INT32 ? 4 : 8;
}

static int dict_equal(const struct wcol *c, uint32_t ix, uint64_t bits,
		      const char *p, size_t n)
{
	if (c->ptype == T_BYTE_ARRAY) {
		uint32_t len;

		memcpy(&len, c->dict.data + c->doff[ix], 4);
		return len == n &&
		       !memcmp(c->dict.data + c->doff[ix] + 4, p, n);
	}
	if (c->ptype == T_INT32) {
		uint32_t v;

		memcpy(&v, c->dict.data + (size_t)ix * 4, 4);
		return v == (uint32_t)bits;
	}
	{
		uint64_t v;

		memcpy(&v, c->dict.data + (size_t)ix * 8, 8);
		return v == bits;
	}
}

static uint64_t dict_hash_at(const struct wcol *c, uint32_t ix)
{
	if (c->ptype == T_BYTE_ARRAY) {
		uint32_t len;

		memcpy(&len, c->dict.data + c->doff[ix], 4);
		return hash_bytes(c->dict.data + c->doff[ix] + 4, len);
	}
	if (c->ptype == T_INT32) {
		uint32_t v;

		memcpy(&v, c->dict.data + (size_t)ix * 4, 4);
		return mix64(v);
	}
	{
		uint64_t v;

		memcpy(&v, c->dict.data + (size_t)ix * 8, 8);
		return mix64(v);
	}
}

static void dict_rehash(struct wcol *c)
{
	size_t cap = c->htcap ? c->htcap * 2 : 1024, i, j;

	free(c->ht);
	c->ht = ps_xcalloc(cap, sizeof(*c->ht));
	c->htcap = cap;
	for (i = 0; i < c->ndict; i++) {
		j = dict_hash_at(c, (uint32_t)i) & (cap - 1);
		while (c->ht[j])
			j = (j + 1) & (cap - 1);
		c->ht[j] = (uint32_t)i + 1;
	}
}

/* Index of the value in the dictionary, added when new. */
static uint32_t dict_lookup(struct wcol *c, uint64_t bits, const char *p,
			    size_t n)
{
	uint64_t h;
	size_t j;
	uint32_t ix;

	/* a run of one value (a file's source, a batch's ingest time) is
	 * found without hashing */
	if (c->last < c->ndict && dict_equal(c, c->last, bits, p, n))
		return c->last;
	if ((c->ndict + 1) * 2 > c->htcap)
		dict_rehash(c);
	h = c->ptype == T_BYTE_ARRAY ? hash_bytes(p, n) :
		mix64(c->ptype == T_INT32 ? (uint32_t)bits : bits);
	j = h & (c->htcap - 1);
	while (c->ht[j]) {
		if (dict_equal(c, c->ht[j] - 1, bits, p, n))
			return c->last = c->ht[j] - 1;
		j = (j + 1) & (c->htcap - 1);
	}
	ix = c->last = (uint32_t)c->ndict++;
	c->ht[j] = ix + 1;
	if (c->ptype == T_BYTE_ARRAY) {
		if (c->ndict > c->cdoff) {
			c->cdoff = c->cdoff ? c->cdoff * 2 : 256;
			c->doff = ps_xrealloc(c->doff,
					      c->cdoff * sizeof(*c->doff));
		}
		c->doff[ix] = (uint32_t)c->dict.len;
		put_le(&c->dict, n, 4);
		ps_buf_add(&c->dict, p, n);
	} else {
		put_le(&c->dict, bits, dict_width(c));
	}
	return ix;
}

static void dict_reset(struct wcol *c)
{
	c->ndict = 0;
	ps_buf_reset(&c->dict);
	if (c->ht)
		memset(c->ht, 0, c->htcap * sizeof(*c->ht));
}

/* ---- thrift pieces ---- */

static void encode_value(const struct wcol *c, const struct stats *s,
			 int max, struct ps_buf *b)
{
	double d;
	uint64_t u;

	switch (c->type) {
	case PS_PQ_STRING:
		if (max)
			ps_buf_add(b, s->smax.data, s->smax.len);
		else
			ps_buf_add(b, s->smin.data, s->smin.len);
		break;
	case PS_PQ_DOUBLE:
		d = max ? s->dmax : s->dmin;
		/* The spec: a zero min is written -0.0, a zero max +0.0. */
		if (d == 0)
			d = max ? 0.0 : -0.0;
		memcpy(&u, &d, 8);
		put_le(b, u, 8);
		break;
	case PS_PQ_BOOL:
		ps_buf_addc(b, (char)(max ? s->imax : s->imin));
		break;
	case PS_PQ_INT32:
	case PS_PQ_DATE:
		put_le(b, (uint64_t)(max ? s->imax : s->imin), 4);
		break;
	default:
		put_le(b, (uint64_t)(max ? s->imax : s->imin), 8);
	}
}

static void encode_stats(struct ps_thrift_w *tw, int16_t id,
			 const struct wcol *c, const struct stats *s)
{
	struct ps_buf mn = PS_BUF_INIT, mx = PS_BUF_INIT;

	ps_thrift_begin(tw, id);
	if (s->has) {
		encode_value(c, s, 0, &mn);
		encode_value(c, s, 1, &mx);
		/* The deprecated fields use signed order: not for strings. */
		if (c->type != PS_PQ_STRING) {
			ps_thrift_binary(tw, 1, mx.data, mx.len);
			ps_thrift_binary(tw, 2, mn.data, mn.len);
		}
	}
	ps_thrift_i64(tw, 3, s->nulls);
	if (s->has) {
		ps_thrift_binary(tw, 5, mx.data, mx.len);
		ps_thrift_binary(tw, 6, mn.data, mn.len);
	}
	ps_thrift_end(tw);
	ps_buf_release(&mn);
	ps_buf_release(&mx);
}

static int write_out(struct ps_pq_writer *w, const void *p, size_t n,
		     struct ps_error *e)
{
	if (ps_afile_write(&w->f, p, n, e)) {
		w->broken = 1;
		return -1;
	}
	w->off += (int64_t)n;
	return 0;
}

/* ---- pages ---- */

/*
 * Append a page (its header hdr, its bytes p) to c's chunk: in memory
 * while the row group's chunks stay within spill_bytes, else at the end
 * of the scratch file (opened the first time).  0, or -1 with e filled
 * (the writer is then broken).
 */
static int chunk_add(struct ps_pq_writer *w, struct wcol *c,
		     const struct ps_buf *hdr, const struct ps_buf *p,
		     struct ps_error *e)
{
	size_t n = hdr->len + p->len;
	struct run *r;

	if (!w->spill_off && w->mem + n <= w->o.spill_bytes) {
		ps_buf_add(&c->chunk, hdr->data, hdr->len);
		ps_buf_add(&c->chunk, p->data, p->len);
		w->mem += n;
		if (w->mem > w->mem_peak)
			w->mem_peak = w->mem;
		return 0;
	}
	if (w->spill_fd < 0 &&
	    (w->spill_fd = ps_scratch_open(w->f.path, e)) < 0)
		goto fail;
	if (ps_scratch_write(w->spill_fd, hdr->data, hdr->len,
			     (off_t)w->spill_off, w->f.path, e) ||
	    ps_scratch_write(w->spill_fd, p->data, p->len,
			     (off_t)w->spill_off + (off_t)hdr->len, w->f.path,
			     e))
		goto fail;
	r = c->nruns ? &c->runs[c->nruns - 1] : NULL;
	if (r && r->off + (int64_t)r->len == w->spill_off) {
		r->len += n;	/* right after the column's last run */
	} else {
		if (c->nruns == c->cruns) {
			c->cruns = c->cruns ? c->cruns * 2 : 8;
			c->runs = ps_xrealloc(c->runs,
					      c->cruns * sizeof(*c->runs));
		}
		c->runs[c->nruns++] = (struct run){ w->spill_off, n };
	}
	w->spill_off += (int64_t)n;
	w->spilled += (int64_t)n;
	return 0;
fail:
	w->broken = 1;
	return -1;
}

/* Copy c's runs from the scratch file to the file, through w->comp.
 * 0, or -1 with e filled. */
static int runs_out(struct ps_pq_writer *w, struct wcol *c,
		    struct ps_error *e)
{
	size_t i, k, n;

	for (i = 0; i < c->nruns; i++) {
		for (k = 0; k < c->runs[i].len; k += n) {
			n = c->runs[i].len - k;
			if (n > RUN_COPY)
				n = RUN_COPY;
			ps_buf_reset(&w->comp);
			ps_buf_grow(&w->comp, n);
			if (ps_scratch_read(w->spill_fd, w->comp.data, n,
					    (off_t)(c->runs[i].off +
						    (int64_t)k),
					    w->f.path, e) ||
			    write_out(w, w->comp.data, n, e))
				return -1;
		}
	}
	return 0;
}

/* The header of job j's page, then its compressed bytes, appended to its
 * column chunk; j is free again.  0, or -1 with e filled. */
static int page_done(struct ps_pq_writer *w, struct pjob *j,
		     struct ps_error *e)
{
	struct wcol *c = j->c;
	struct ps_thrift_w tw;

	if (j->body.len > INT32_MAX || j->comp.len > INT32_MAX)
		return ps_error_set(e, PS_EX_SOFTWARE, "page too large");
	ps_buf_reset(&w->hdr);
	ps_thrift_w_init(&tw, &w->hdr);
	ps_thrift_i32(&tw, 1, PT_DATA);
	ps_thrift_i32(&tw, 2, (int32_t)j->body.len);
	ps_thrift_i32(&tw, 3, (int32_t)j->comp.len);
	ps_thrift_begin(&tw, 5);
	ps_thrift_i32(&tw, 1, (int32_t)j->page_n);
	ps_thrift_i32(&tw, 2, j->dict ? E_RLE_DICTIONARY : E_PLAIN);
	ps_thrift_i32(&tw, 3, E_RLE);
	ps_thrift_i32(&tw, 4, E_RLE);
	encode_stats(&tw, 5, c, &j->st);
	ps_thrift_end(&tw);
	ps_thrift_end(&tw);

	if (chunk_add(w, c, &w->hdr, &j->comp, e))
		return -1;
	c->chunk_unc += (int64_t)(w->hdr.len + j->body.len);
	stats_reset(&j->st);
	return 0;
}

/* The helper thread: compresses the queued pages, oldest first. */
static void *helper_main(void *arg)
{
	struct ps_pq_writer *w = arg;
	struct pjob *j;
	size_t k;
	int rc;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		for (j = NULL, k = 0; k < w->njobs && !j; k++)
			if (w->jobs[(w->head + k) % NJOBS].state == J_QUEUED)
				j = &w->jobs[(w->head + k) % NJOBS];
		if (!j) {
			if (w->stop)
				break;
			pthread_cond_wait(&w->cv, &w->mu);
			continue;
		}
		j->state = J_RUNNING;
		pthread_mutex_unlock(&w->mu);
		rc = ps_pq_compress(w->o.codec, w->o.level, j->body.data,
				    j->body.len, &j->comp, &j->err);
		pthread_mutex_lock(&w->mu);
		j->state = rc ? J_FAILED : J_DONE;
		pthread_cond_broadcast(&w->cv);
	}
	pthread_mutex_unlock(&w->mu);
	ps_pq_thread_release();
	return NULL;
}

/*
 * Finish the oldest pages in flight: those compressed already, or with
 * all set, every one (waiting for the helper).  0, or -1 with e filled
 * (a page that failed: the writer is then broken).
 */
static int pages_reap(struct ps_pq_writer *w, int all, struct ps_error *e)
{
	struct pjob *j;
	int rc = 0;

	if (!w->helper_on)
		return 0;
	pthread_mutex_lock(&w->mu);
	while (w->njobs && rc == 0) {
		j = &w->jobs[w->head];
		if (j->state != J_DONE && j->state != J_FAILED) {
			if (!all)
				break;
			pthread_cond_wait(&w->cv, &w->mu);
			continue;
		}
		pthread_mutex_unlock(&w->mu);
		if (j->state == J_FAILED) {
			*e = j->err;
			rc = -1;
			w->broken = 1;
		} else {
			rc = page_done(w, j, e);
		}
		pthread_mutex_lock(&w->mu);
		j->state = 0;
		w->head = (w->head + 1) % NJOBS;
		w->njobs--;
	}
	pthread_mutex_unlock(&w->mu);
	return rc;
}

/* Stop the helper thread (the pages in flight are dropped). */
static void helper_stop(struct ps_pq_writer *w)
{
	if (!w->helper_on)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = 1;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->helper, NULL);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	w->helper_on = 0;
}

/*
 * The page encoded in w->body, with c's page statistics and counts, on
 * its way: a large page to the helper thread (started the first time),
 * any other compressed now, appended at once when no page is in flight.
 * 0, or -1 with e filled.
 */
static int page_submit(struct ps_pq_writer *w, struct wcol *c,
		       struct ps_error *e)
{
	struct ps_buf tb;
	struct stats ts;
	struct pjob *j;
	int async = w->body.len >= ASYNC_MIN && !w->o.no_helper &&
		    w->o.codec != PS_PQ_UNCOMPRESSED;

	if (async && !w->helper_on && !w->broken) {
		pthread_mutex_init(&w->mu, NULL);
		pthread_cond_init(&w->cv, NULL);
		w->stop = 0;
		w->helper_on = !pthread_create(&w->helper, NULL, helper_main,
					       w);
		if (!w->helper_on) {
			pthread_mutex_destroy(&w->mu);
			pthread_cond_destroy(&w->cv);
		}
	}
	if (w->helper_on && w->njobs == NJOBS &&
	    pages_reap(w, 0, e) == 0 && w->njobs == NJOBS) {
		/* every slot taken: wait for the oldest */
		pthread_mutex_lock(&w->mu);
		while (w->jobs[w->head].state != J_DONE &&
		       w->jobs[w->head].state != J_FAILED)
			pthread_cond_wait(&w->cv, &w->mu);
		pthread_mutex_unlock(&w->mu);
	}
	if (w->broken || pages_reap(w, 0, e))
		return -1;
	if (!w->helper_on)	/* no thread: a job of its own, done now */
		j = &w->jobs[0];
	else
		j = &w->jobs[(w->head + w->njobs) % NJOBS];
	j->c = c;
	j->page_n = c->page_n;
	j->dict = c->page_dict;
	ts = j->st;		/* the page's statistics go with it */
	j->st = c->pst;
	c->pst = ts;
	tb = j->body;		/* and its bytes */
	j->body = w->body;
	w->body = tb;
	if (!w->helper_on || !async) {
		ps_buf_reset(&j->comp);
		if (ps_pq_compress(w->o.codec, w->o.level, j->body.data,
				   j->body.len, &j->comp, e))
			return -1;
		if (!w->helper_on || !w->njobs)
			return page_done(w, j, e);
	}
	if (async) {	/* its room made here: the helper allocates nothing */
		ps_buf_reset(&j->comp);
		ps_buf_grow(&j->comp, j->body.len + j->body.len / 128 + 4096);
	}
	pthread_mutex_lock(&w->mu);
	j->state = async ? J_QUEUED : J_DONE;
	w->njobs++;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	return 0;
}

static int flush_page(struct ps_pq_writer *w, struct wcol *c,
		      struct ps_error *e)
{
	size_t i, lenpos, n;
	uint32_t len;
	int bw, lv;

	if (!c->page_n)
		return 0;
	ps_buf_reset(&w->body);
	/* Repetition levels, then definition levels, each with its length
	 * (DataPage V1). */
	for (lv = 0; lv < 2; lv++) {
		int maxl = lv ? c->max_def : c->max_rep;

		if (!maxl)
			continue;
		n = lv ? c->ndefs : c->nreps;
		if (n > w->clv) {
			w->clv = n;
			w->lv = ps_xrealloc(w->lv, n * sizeof(*w->lv));
		}
		for (i = 0; i < n; i++)
			w->lv[i] = (lv ? c->defs : c->reps)[i];
		lenpos = w->body.len;
		put_le(&w->body, 0, 4);
		ps_pq_rle_encode(&w->body, w->lv, n, bit_width((uint32_t)maxl));
		len = (uint32_t)(w->body.len - lenpos - 4);
		for (i = 0; i < 4; i++)
			w->body.data[lenpos + i] = (char)(len >> (8 * i));
	}
	if (c->page_dict) {
		bw = bit_width(c->ndict ? (uint32_t)(c->ndict - 1) : 0);
		ps_buf_addc(&w->body, (char)bw);
		ps_pq_rle_encode(&w->body, c->idx, c->nidx, bw);
		c->used_dict = 1;
	} else if (c->type == PS_PQ_BOOL) {
		uint8_t acc = 0;

		for (i = 0; i < c->plain.len; i++) {
			acc |= (uint8_t)((c->plain.data[i] & 1) << (i % 8));
			if (i % 8 == 7) {
				ps_buf_addc(&w->body, (char)acc);
				acc = 0;
			}
		}
		if (c->plain.len % 8)
			ps_buf_addc(&w->body, (char)acc);
		c->used_plain = 1;
	} else {
		ps_buf_add(&w->body, c->plain.data, c->plain.len);
		c->used_plain = 1;
	}
	c->chunk_n += (int64_t)c->page_n;
	stats_merge(c, &c->cst, &c->pst);
	if (page_submit(w, c, e))
		return -1;
	c->page_n = 0;
	c->ndefs = 0;
	c->nreps = 0;
	c->nidx = 0;
	ps_buf_reset(&c->plain);
	c->page_dict = c->dict_on;
	if (!c->page_dict && c->idx) {	/* PLAIN for the rest of the chunk */
		free(c->idx);
		c->idx = NULL;
		c->cidx = 0;
	}
	return 0;
}

static size_t page_estimate(const struct wcol *c)
{
	size_t n = c->plain.len + c->ndefs / 8 + c->nreps / 8;

	if (c->page_dict)
		n += c->nidx * (size_t)bit_width((uint32_t)c->ndict) / 8;
	return n;
}

/* ---- row groups ---- */

static int flush_chunk(struct ps_pq_writer *w, struct wcol *c,
		       struct ps_thrift_w *rg, int64_t *unc_total,
		       int64_t *comp_total, struct ps_error *e)
{
	int64_t start = w->off, dict_off = -1, unc = c->chunk_unc, comp;
	int64_t data_off;
	struct ps_thrift_w tw;
	int nenc = 1;
	size_t i;

	if (flush_page(w, c, e))
		return -1;
	unc = c->chunk_unc;
	if (c->used_dict) {
		ps_buf_reset(&w->comp);
		if (ps_pq_compress(w->o.codec, w->o.level, c->dict.data,
				   c->dict.len, &w->comp, e))
			return -1;
		if (c->dict.len > INT32_MAX || w->comp.len > INT32_MAX)
			return ps_error_set(e, PS_EX_SOFTWARE,
					    "dictionary too large");
		ps_buf_reset(&w->hdr);
		ps_thrift_w_init(&tw, &w->hdr);
		ps_thrift_i32(&tw, 1, PT_DICT);
		ps_thrift_i32(&tw, 2, (int32_t)c->dict.len);
		ps_thrift_i32(&tw, 3, (int32_t)w->comp.len);
		ps_thrift_begin(&tw, 7);
		ps_thrift_i32(&tw, 1, (int32_t)c->ndict);
		ps_thrift_i32(&tw, 2, E_PLAIN);
		ps_thrift_end(&tw);
		ps_thrift_end(&tw);
		dict_off = w->off;
		unc += (int64_t)(w->hdr.len + c->dict.len);
		if (write_out(w, w->hdr.data, w->hdr.len, e) ||
		    write_out(w, w->comp.data, w->comp.len, e))
			return -1;
	}
	data_off = w->off;
	if ((c->chunk.len && write_out(w, c->chunk.data, c->chunk.len, e)) ||
	    runs_out(w, c, e))
		return -1;
	comp = w->off - start;
	*unc_total += unc;
	*comp_total += comp;

	/* ColumnChunk */
	ps_thrift_begin(rg, 0);
	ps_thrift_i64(rg, 2, start);
	ps_thrift_begin(rg, 3);
	ps_thrift_i32(rg, 1, c->ptype);
	nenc += c->used_plain || c->used_dict;
	nenc += c->used_dict;
	ps_thrift_list(rg, 2, PS_THRIFT_I32, (size_t)nenc);
	if (c->used_plain || c->used_dict)
		ps_thrift_put_zigzag(rg->b, E_PLAIN);
	ps_thrift_put_zigzag(rg->b, E_RLE);
	if (c->used_dict)
		ps_thrift_put_zigzag(rg->b, E_RLE_DICTIONARY);
	ps_thrift_list(rg, 3, PS_THRIFT_BINARY, c->npath);
	for (i = 0; i < c->npath; i++)
		ps_thrift_put_binary(rg->b, c->path[i], strlen(c->path[i]));
	ps_thrift_i32(rg, 4, w->o.codec);
	ps_thrift_i64(rg, 5, c->chunk_n);
	ps_thrift_i64(rg, 6, unc);
	ps_thrift_i64(rg, 7, comp);
	ps_thrift_i64(rg, 9, data_off);
	if (dict_off >= 0)
		ps_thrift_i64(rg, 11, dict_off);
	encode_stats(rg, 12, c, &c->cst);
	ps_thrift_end(rg);
	ps_thrift_end(rg);

	/* Start the next chunk afresh. */
	ps_buf_reset(&c->chunk);
	c->nruns = 0;
	c->chunk_unc = 0;
	c->chunk_n = 0;
	c->used_plain = c->used_dict = 0;
	stats_reset(&c->cst);
	dict_reset(c);
	c->dict_vals = 0;
	c->dict_on = c->page_dict = c->want_dict;
	return 0;
}

int ps_pq_flush(struct ps_pq_writer *w, struct ps_error *e)
{
	struct ps_thrift_w rg;
	int64_t unc = 0, comp = 0, start = w->off;
	struct ps_buf *b;
	size_t i;

	if (w->broken)
		return ps_error_set(e, PS_EX_IOERR,
				    "parquet writer failed earlier");
	if (!w->rg_rows)
		return 0;
	if (w->nrgs == w->crgs) {
		w->crgs = w->crgs ? w->crgs * 2 : 8;
		w->rgs = ps_xrealloc(w->rgs, w->crgs * sizeof(*w->rgs));
	}
	b = &w->rgs[w->nrgs];
	*b = (struct ps_buf)PS_BUF_INIT;
	ps_thrift_w_init(&rg, b);
	ps_thrift_list(&rg, 1, PS_THRIFT_STRUCT, w->ncols);
	/* every column's last page, and every page in flight, first */
	for (i = 0; i < w->ncols; i++)
		if (flush_page(w, &w->cols[i], e))
			break;
	if (i < w->ncols || pages_reap(w, 1, e)) {
		ps_buf_release(b);
		w->broken = 1;
		return -1;
	}
	for (i = 0; i < w->ncols; i++) {
		if (flush_chunk(w, &w->cols[i], &rg, &unc, &comp, e)) {
			ps_buf_release(b);
			w->broken = 1;
			return -1;
		}
	}
	ps_thrift_i64(&rg, 2, unc);
	ps_thrift_i64(&rg, 3, w->rg_rows);
	ps_thrift_i64(&rg, 5, start);
	ps_thrift_i64(&rg, 6, comp);
	if (w->nrgs <= INT16_MAX) {	/* ordinal is an i16 */
		ps_thrift_field(&rg, 7, PS_THRIFT_I16);
		ps_thrift_put_zigzag(b, (int64_t)w->nrgs);
	}
	ps_thrift_end(&rg);
	w->nrgs++;
	w->rg_rows = 0;
	w->rg_bytes = 0;
	w->mem = 0;
	w->spill_off = 0;
	return 0;
}

/* ---- open ---- */

static int physical(enum ps_pq_type t)
{
	switch (t) {
	case PS_PQ_INT32:
	case PS_PQ_DATE:
		return T_INT32;
	case PS_PQ_INT64:
	case PS_PQ_TIMESTAMP:
		return T_INT64;
	case PS_PQ_DOUBLE:
		return T_DOUBLE;
	case PS_PQ_BOOL:
		return T_BOOLEAN;
	case PS_PQ_STRING:
		return T_BYTE_ARRAY;
	}
	return -1;
}

/* A writer with options set and no columns yet; NULL with e filled (64)
 * when the options are bad. */
static struct ps_pq_writer *writer_new(const struct ps_pq_options *o,
				       struct ps_error *e)
{
	struct ps_pq_options def = PS_PQ_OPTIONS_INIT;
	struct ps_pq_writer *w;

	if (!o)
		o = &def;
	if (o->codec != PS_PQ_UNCOMPRESSED && o->codec != PS_PQ_GZIP &&
	    o->codec != PS_PQ_ZSTD) {
		ps_error_set(e, PS_EX_USAGE, "parquet: codec %s not supported "
			     "for writing", ps_pq_codec_name(o->codec));
		return NULL;
	}
	w = ps_xcalloc(1, sizeof(*w));
	w->f = (struct ps_afile)PS_AFILE_INIT;
	w->spill_fd = -1;
	w->o = *o;
	if (!w->o.row_group_bytes)
		w->o.row_group_bytes = PS_PQ_ROW_GROUP_BYTES;
	if (!w->o.page_bytes)
		w->o.page_bytes = PS_PQ_PAGE_BYTES;
	if (!w->o.dict_max_bytes)
		w->o.dict_max_bytes = PS_PQ_DICT_MAX_BYTES;
	/* Dictionary indices and offsets are 32-bit. */
	if (w->o.dict_max_bytes > (1u << 30))
		w->o.dict_max_bytes = 1u << 30;
	w->created_by = ps_xstrdup(o->created_by ? o->created_by :
				   "pulsestream version " PS_VERSION);
	w->o.created_by = NULL;
	return w;
}

/* Set up column i (its path is set by the caller). */
static void col_init(struct ps_pq_writer *w, size_t i, enum ps_pq_type type,
		     int nullable, int no_dict, int max_def, int max_rep)
{
	struct wcol *c = &w->cols[i];

	c->type = type;
	c->nullable = !!nullable;
	c->max_def = max_def;
	c->max_rep = max_rep;
	c->ptype = physical(c->type);
	c->want_dict = !w->o.no_dict && !no_dict && c->type != PS_PQ_BOOL;
	c->dict_on = c->page_dict = c->want_dict;
}

/* Create the file and write the magic; on failure w is freed. */
static struct ps_pq_writer *writer_start(struct ps_pq_writer *w,
					 const char *path, struct ps_error *e)
{
	w->slots = ps_xcalloc(w->ncols, sizeof(*w->slots));
	w->state = ps_xcalloc(w->ncols, 1);
	if (ps_afile_open(&w->f, path, 0644, e) ||
	    write_out(w, "PAR1", 4, e)) {
		ps_pq_abort(w);
		return NULL;
	}
	return w;
}

struct ps_pq_writer *ps_pq_open(const char *path,
				const struct ps_pq_column *cols, size_t ncols,
				const struct ps_pq_options *o,
				struct ps_error *e)
{
	struct ps_pq_writer *w;
	size_t i, j;

	if (ncols == 0 || ncols > 32767) {
		ps_error_set(e, PS_EX_USAGE, "parquet: bad column count %zu",
			     ncols);
		return NULL;
	}
	for (i = 0; i < ncols; i++) {
		if (!cols[i].name || !cols[i].name[0] ||
		    physical(cols[i].type) < 0) {
			ps_error_set(e, PS_EX_USAGE,
				     "parquet: bad column %zu", i);
			return NULL;
		}
		for (j = 0; j < i; j++) {
			if (!strcmp(cols[i].name, cols[j].name)) {
				ps_error_set(e, PS_EX_USAGE, "parquet: "
					     "duplicate column '%s'",
					     cols[i].name);
				return NULL;
			}
		}
	}
	if (!(w = writer_new(o, e)))
		return NULL;
	w->ncols = ncols;
	w->cols = ps_xcalloc(ncols, sizeof(*w->cols));
	for (i = 0; i < ncols; i++) {
		struct wcol *c = &w->cols[i];

		c->name = ps_xstrdup(cols[i].name);
		c->path = ps_xmalloc(sizeof(*c->path));
		c->path[0] = ps_xstrdup(cols[i].name);
		c->npath = 1;
		col_init(w, i, cols[i].type, cols[i].nullable,
			 cols[i].no_dict, !!cols[i].nullable, 0);
	}
	return writer_start(w, path, e);
}

/* ---- nested schemas ---- */

/*
 * Check the subtree at nodes[*pos] (depth depth) and count its nodes and
 * leaves; returns 0 or -1 with e filled (64).
 */
static int check_node(const struct ps_pq_node *nodes, size_t nnodes,
		      size_t *pos, int depth, size_t *nleaves,
		      struct ps_error *e)
{
	const struct ps_pq_node *n;
	size_t i, nkids;

	if (*pos >= nnodes)
		return ps_error_set(e, PS_EX_USAGE, "parquet: schema ends "
				    "inside a group");
	if (depth > MAX_DEPTH)
		return ps_error_set(e, PS_EX_USAGE, "parquet: schema nested "
				    "too deeply");
	n = &nodes[(*pos)++];
	if (!n->name || !n->name[0])
		return ps_error_set(e, PS_EX_USAGE, "parquet: node %zu has "
				    "no name", *pos - 1);
	switch (n->kind) {
	case PS_PQ_LEAF:
		if (physical(n->type) < 0)
			return ps_error_set(e, PS_EX_USAGE, "parquet: bad "
					    "type for '%s'", n->name);
		++*nleaves;
		return 0;
	case PS_PQ_STRUCT:
		nkids = n->nchildren;
		if (!nkids)
			return ps_error_set(e, PS_EX_USAGE, "parquet: struct "
					    "'%s' has no fields", n->name);
		break;
	case PS_PQ_LIST:
		nkids = 1;
		break;
	case PS_PQ_MAP:
		nkids = 2;
		if (*pos >= nnodes || nodes[*pos].kind != PS_PQ_LEAF ||
		    nodes[*pos].type != PS_PQ_STRING || nodes[*pos].nullable)
			return ps_error_set(e, PS_EX_USAGE, "parquet: map '%s'"
					    " needs a required string key",
					    n->name);
		break;
	default:
		return ps_error_set(e, PS_EX_USAGE, "parquet: bad kind for "
				    "'%s'", n->name);
	}
	for (i = 0; i < nkids; i++)
		if (check_node(nodes, nnodes, pos, depth + 1, nleaves, e))
			return -1;
	return 0;
}

/*
 * Copy the subtree at nodes[*pos] into w->nodes under the name as (NULL:
 * its own), assigning levels and setting up its leaves: def and rep are
 * the levels of the parent, path[0..depth-1] the parent's path_in_schema.
 */
static void build_node(struct ps_pq_writer *w, const struct ps_pq_node *nodes,
		       size_t *pos, int def, int rep, const char **path,
		       size_t depth, const char *as)
{
	size_t me = (*pos)++, i, nkids, k;
	const struct ps_pq_node *n = &nodes[me];
	struct wnode *wn = &w->nodes[me];
	struct ps_buf dotted = PS_BUF_INIT;

	wn->name = ps_xstrdup(as ? as : n->name);
	wn->kind = n->kind;
	wn->type = n->type;
	wn->nullable = !!n->nullable;
	wn->first_leaf = w->ncols;
	path[depth] = wn->name;
	def += wn->nullable;
	if (n->kind == PS_PQ_LEAF) {
		struct wcol *c = &w->cols[w->ncols];

		wn->leaf = w->ncols;
		c->npath = depth + 1;
		c->path = ps_xcalloc(depth + 1, sizeof(*c->path));
		for (k = 0; k <= depth; k++) {
			c->path[k] = ps_xstrdup(path[k]);
			if (k)
				ps_buf_addc(&dotted, '.');
			ps_buf_adds(&dotted, path[k]);
		}
		c->name = ps_buf_detach(&dotted, NULL);
		col_init(w, w->ncols, n->type, n->nullable, 0, def, rep);
		w->ncols++;
		wn->nleaves = 1;
		wn->size = 1;
		return;
	}
	nkids = n->kind == PS_PQ_STRUCT ? n->nchildren :
		n->kind == PS_PQ_LIST ? 1 : 2;
	if (n->kind != PS_PQ_STRUCT) {
		/* The repeated group between the node and its elements. */
		path[++depth] = n->kind == PS_PQ_LIST ? "list" : "key_value";
		def++;
		rep++;
		wn->rl = rep;
	}
	for (i = 0; i < nkids; i++)
		build_node(w, nodes, pos, def, rep, path, depth + 1,
			   n->kind == PS_PQ_LIST ? "element" :
			   n->kind == PS_PQ_MAP ? (i ? "value" : "key") :
			   NULL);
	wn->nchildren = nkids;
	wn->size = *pos - me;
	wn->nleaves = w->ncols - wn->first_leaf;
}

/* Number of nodes in the (checked) subtree at nodes[i]. */
static size_t subtree_size(const struct ps_pq_node *nodes, size_t i)
{
	size_t end = i + 1, k, nkids;

	switch (nodes[i].kind) {
	case PS_PQ_LEAF:
		return 1;
	case PS_PQ_STRUCT:
		nkids = nodes[i].nchildren;
		break;
	case PS_PQ_LIST:
		nkids = 1;
		break;
	default:
		nkids = 2;
	}
	for (k = 0; k < nkids; k++)
		end += subtree_size(nodes, end);
	return end - i;
}

struct ps_pq_writer *ps_pq_open_nested(const char *path,
				       const struct ps_pq_node *nodes,
				       size_t nnodes,
				       const struct ps_pq_options *o,
				       struct ps_error *e)
{
	const char *names[2 * MAX_DEPTH + 4];
	struct ps_pq_writer *w;
	size_t pos = 0, nleaves = 0, i, j;

	if (nnodes == 0)
		return ps_error_set(e, PS_EX_USAGE, "parquet: empty schema"),
		       NULL;
	while (pos < nnodes) {
		i = pos;
		if (check_node(nodes, nnodes, &pos, 0, &nleaves, e))
			return NULL;
		/* top-level names are unique */
		for (j = 0; j < i; j += subtree_size(nodes, j)) {
			if (!strcmp(nodes[j].name, nodes[i].name))
				return ps_error_set(e, PS_EX_USAGE, "parquet: "
						    "duplicate column '%s'",
						    nodes[i].name), NULL;
		}
	}
	if (nleaves > 32767)
		return ps_error_set(e, PS_EX_USAGE, "parquet: too many "
				    "columns"), NULL;
	if (!(w = writer_new(o, e)))
		return NULL;
	w->nodes = ps_xcalloc(nnodes, sizeof(*w->nodes));
	w->nnodes = nnodes;
	w->cols = ps_xcalloc(nleaves, sizeof(*w->cols));
	for (pos = 0; pos < nnodes; w->ntop++)
		build_node(w, nodes, &pos, 0, 0, names, 0, NULL);
	return writer_start(w, path, e);
}

/* ---- rows ---- */

static inline int slot_ok(struct ps_pq_writer *w, size_t col)
{
	if (col < w->ncols)
		return 1;
	if (!w->bad_col_set) {
		w->bad_col_set = 1;
		w->bad_col = col;
	}
	return 0;
}

void ps_pq_set_int64(struct ps_pq_writer *w, size_t col, int64_t v)
{
	if (!slot_ok(w, col))
		return;
	w->slots[col].i = v;
	w->state[col] = S_INT;
}

void ps_pq_set_int32(struct ps_pq_writer *w, size_t col, int32_t v)
{
	ps_pq_set_int64(w, col, v);
}

void ps_pq_set_double(struct ps_pq_writer *w, size_t col, double v)
{
	if (!slot_ok(w, col))
		return;
	w->slots[col].d = v;
	w->state[col] = S_DOUBLE;
}

void ps_pq_set_bool(struct ps_pq_writer *w, size_t col, int v)
{
	if (!slot_ok(w, col))
		return;
	w->slots[col].i = !!v;
	w->state[col] = S_BOOL;
}

void ps_pq_set_string(struct ps_pq_writer *w, size_t col, const char *p,
		      size_t len)
{
	if (!slot_ok(w, col))
		return;
	w->slots[col].p = p;
	w->slots[col].n = len;
	w->state[col] = S_STR;
}

void ps_pq_set_null(struct ps_pq_writer *w, size_t col)
{
	if (!slot_ok(w, col))
		return;
	w->state[col] = S_NULL;
}

void ps_pq_clear_row(struct ps_pq_writer *w)
{
	memset(w->state, 0, w->ncols);
	w->bad_col_set = 0;
}

static const char *const state_names[] = {
	"unset", "null", "integer", "double", "boolean", "string",
};

static int check_row(struct ps_pq_writer *w, struct ps_error *e)
{
	size_t i;

	if (w->bad_col_set)
		return ps_error_set(e, PS_EX_DATAERR,
				    "parquet: no column %zu", w->bad_col);
	for (i = 0; i < w->ncols; i++) {
		const struct wcol *c = &w->cols[i];
		int st = w->state[i], ok;

		switch (c->type) {
		case PS_PQ_INT32:
		case PS_PQ_DATE:
			ok = st == S_INT && w->slots[i].i >= INT32_MIN &&
			     w->slots[i].i <= INT32_MAX;
			if (st == S_INT && !ok)
				return ps_error_set(e, PS_EX_DATAERR,
						    "parquet: column '%s': "
						    "value out of range",
						    c->name);
			break;
		case PS_PQ_INT64:
		case PS_PQ_TIMESTAMP:
			ok = st == S_INT;
			break;
		case PS_PQ_DOUBLE:
			ok = st == S_DOUBLE || st == S_INT;
			break;
		case PS_PQ_BOOL:
			ok = st == S_BOOL;
			break;
		default:
			ok = st == S_STR &&
			     w->slots[i].n <= (size_t)INT32_MAX;
		}
		if (ok)
			continue;
		if (st <= S_NULL) {
			if (c->nullable)
				continue;
			return ps_error_set(e, PS_EX_DATAERR, "parquet: "
					    "required column '%s' is null",
					    c->name);
		}
		return ps_error_set(e, PS_EX_DATAERR,
				    "parquet: column '%s' (%s) got a %s",
				    c->name, ps_pq_type_name(c->type),
				    state_names[st]);
	}
	return 0;
}

/* a, with room for entry n of size bytes (cap entries, doubled when
 * full).  Cannot fail. */
static void *room_for(void *a, size_t n, size_t *cap, size_t size)
{
	if (n == *cap) {
		*cap = *cap ? *cap * 2 : 1024;
		a = ps_xrealloc(a, *cap * size);
	}
	return a;
}

static void push_u32(uint32_t **a, size_t *n, size_t *cap, uint32_t v)
{
	*a = room_for(*a, *n, cap, sizeof(**a));
	(*a)[(*n)++] = v;
}

static void push_u8(uint8_t **a, size_t *n, size_t *cap, uint8_t v)
{
	*a = room_for(*a, *n, cap, 1);
	(*a)[(*n)++] = v;
}

/*
 * Append one entry to column c: levels rep and def, and when def is the
 * column's maximum the value (state, s); returns its plain size.
 */
static inline __attribute__((always_inline))
size_t push_entry(struct ps_pq_writer *w, struct wcol *c, int rep,
			 int def, int state, const struct slot *s)
{
	struct stats *st = &c->pst;
	uint64_t bits = 0;
	size_t sz;

	c->page_n++;
	if (c->max_rep)
		push_u8(&c->reps, &c->nreps, &c->creps, (uint8_t)rep);
	if (c->max_def)
		push_u8(&c->defs, &c->ndefs, &c->cdefs, (uint8_t)def);
	if (def < c->max_def || state <= S_NULL) {
		st->nulls++;
		return 1;
	}
	switch (c->type) {
	case PS_PQ_STRING:
		if (!st->has || bytes_cmp(s->p, s->n, st->smin.data,
					  st->smin.len) < 0) {
			ps_buf_reset(&st->smin);
			ps_buf_add(&st->smin, s->p, s->n);
		}
		if (!st->has || bytes_cmp(s->p, s->n, st->smax.data,
					  st->smax.len) > 0) {
			ps_buf_reset(&st->smax);
			ps_buf_add(&st->smax, s->p, s->n);
		}
		st->has = 1;
		sz = s->n + 4;
		break;
	case PS_PQ_DOUBLE: {
		double d = state == S_INT ? (double)s->i : s->d;

		memcpy(&bits, &d, 8);
		if (!isnan(d)) {
			if (!st->has || d < st->dmin)
				st->dmin = d;
			if (!st->has || d > st->dmax)
				st->dmax = d;
			st->has = 1;
		}
		sz = 8;
		break;
	}
	default:
		bits = (uint64_t)s->i;
		if (!st->has || s->i < st->imin)
			st->imin = s->i;
		if (!st->has || s->i > st->imax)
			st->imax = s->i;
		st->has = 1;
		sz = c->ptype == T_INT64 ? 8 : c->ptype == T_INT32 ? 4 : 1;
	}
	if (c->dict_on) {
		uint32_t ix = dict_lookup(c, bits, s->p, s->n);

		push_u32(&c->idx, &c->nidx, &c->cidx, ix);
		/* PLAIN after this page when the dictionary grows too big,
		 * or when it does not pay: mostly distinct values. */
		if (c->dict.len > w->o.dict_max_bytes ||
		    (++c->dict_vals == DICT_PROBE &&
		     c->ndict > DICT_PROBE / 2))
			c->dict_on = 0;
	} else if (c->ptype == T_BYTE_ARRAY) {
		put_le(&c->plain, s->n, 4);
		ps_buf_add(&c->plain, s->p, s->n);
	} else if (c->ptype == T_BOOLEAN) {
		ps_buf_addc(&c->plain, (char)bits);
	} else {
		put_le(&c->plain, bits, c->ptype == T_INT32 ? 4 : 8);
	}
	return sz;
}

/*
 * End a row whose entries (bytes of plain values) are in the columns:
 * flush full pages (only here, so that pages start at row boundaries)
 * and a full row group.  Returns 0 or -1 with e filled (74).
 */
static int finish_row(struct ps_pq_writer *w, size_t bytes,
		      struct ps_error *e)
{
	size_t i;
	int rc = 0;

	for (i = 0; i < w->ncols; i++) {
		struct wcol *c = &w->cols[i];

		if (c->page_n >= PAGE_MAX_VALUES ||
		    c->page_dict != c->dict_on ||
		    page_estimate(c) >= w->o.page_bytes) {
			if (flush_page(w, c, e)) {
				w->broken = 1;
				rc = -1;
			}
		}
	}
	if (rc)
		return -1;
	w->rows++;
	w->rg_rows++;
	w->rg_bytes += bytes;
	if (w->rg_bytes >= w->o.row_group_bytes)
		return ps_pq_flush(w, e);
	return 0;
}

int ps_pq_end_row(struct ps_pq_writer *w, struct ps_error *e)
{
	size_t i, bytes = 0;
	int rc;

	if (w->broken) {
		ps_pq_clear_row(w);
		return ps_error_set(e, PS_EX_IOERR,
				    "parquet writer failed earlier");
	}
	if (w->nodes) {
		ps_pq_clear_row(w);
		return ps_error_set(e, PS_EX_DATAERR, "parquet: a nested "
				    "schema takes rows from ps_pq_write_json");
	}
	if (check_row(w, e)) {
		ps_pq_clear_row(w);
		return -1;
	}
	for (i = 0; i < w->ncols; i++) {
		struct wcol *c = &w->cols[i];

		bytes += push_entry(w, c, 0, w->state[i] <= S_NULL ? 0 :
				    c->max_def, w->state[i], &w->slots[i]);
	}
	ps_pq_clear_row(w);
	rc = finish_row(w, bytes, e);
	return rc;
}

/* ---- nested rows ---- */

/* One shredded entry of a row, before it goes into its column. */
struct entry {
	size_t col;
	int rep, def, state;
	struct slot s;
};

struct shred {
	struct ps_pq_writer *w;
	struct entry *v;
	size_t n, cap;
	struct ps_error *e;
};

static void add_entry(struct shred *sh, size_t col, int rep, int def,
		      int state, const struct slot *s)
{
	struct entry *en;

	if (sh->n == sh->cap) {
		sh->cap = sh->cap ? sh->cap * 2 : 64;
		sh->v = ps_xrealloc(sh->v, sh->cap * sizeof(*sh->v));
	}
	en = &sh->v[sh->n++];
	en->col = col;
	en->rep = rep;
	en->def = def;
	en->state = state;
	if (s)
		en->s = *s;
	else
		memset(&en->s, 0, sizeof(en->s));
}

/* Every leaf under node ni gets one undefined entry (rep, def). */
static void shred_absent(struct shred *sh, size_t ni, int rep, int def)
{
	const struct wnode *n = &sh->w->nodes[ni];
	size_t k;

	for (k = 0; k < n->nleaves; k++)
		add_entry(sh, n->first_leaf + k, rep, def, S_NULL, NULL);
}

/* The leaf value v for column c, into state and s; 0 or -1. */
static int leaf_value(struct shred *sh, const struct wnode *n, yajl_val v,
		      int *state, struct slot *s)
{
	memset(s, 0, sizeof(*s));
	switch (n->type) {
	case PS_PQ_STRING:
		if (!YAJL_IS_STRING(v))
			break;
		s->p = v->u.string;
		s->n = strlen(v->u.string);
		*state = S_STR;
		return 0;
	case PS_PQ_BOOL:
		if (!YAJL_IS_TRUE(v) && !YAJL_IS_FALSE(v))
			break;
		s->i = YAJL_IS_TRUE(v);
		*state = S_BOOL;
		return 0;
	case PS_PQ_DOUBLE:
		if (!YAJL_IS_NUMBER(v))
			break;
		s->d = YAJL_IS_INTEGER(v) ? (double)YAJL_GET_INTEGER(v) :
			YAJL_GET_DOUBLE(v);
		*state = S_DOUBLE;
		return 0;
	default:
		if (!YAJL_IS_INTEGER(v))
			break;
		s->i = YAJL_GET_INTEGER(v);
		if ((n->type == PS_PQ_INT32 || n->type == PS_PQ_DATE) &&
		    (s->i < INT32_MIN || s->i > INT32_MAX))
			return ps_error_set(sh->e, PS_EX_DATAERR, "parquet: "
					    "'%s': value out of range",
					    n->name);
		*state = S_INT;
		return 0;
	}
	return ps_error_set(sh->e, PS_EX_DATAERR, "parquet: '%s' (%s): "
			    "wrong JSON type", n->name,
			    ps_pq_type_name(n->type));
}

/*
 * Shred value v (NULL when absent) of node ni: its first entry gets
 * repetition level rep, def is the definition level of the parent.
 * Returns 0 or -1 with sh->e filled.
 */
static int shred_node(struct shred *sh, size_t ni, yajl_val v, int rep,
		      int def)
{
	const struct wnode *n = &sh->w->nodes[ni];
	size_t i, k, kid;
	struct slot s;
	int state = S_NULL;

	if (!v || YAJL_IS_NULL(v)) {
		if (!n->nullable)
			return ps_error_set(sh->e, PS_EX_DATAERR, "parquet: "
					    "required field '%s' is null",
					    n->name);
		shred_absent(sh, ni, rep, def);
		return 0;
	}
	def += n->nullable;
	switch (n->kind) {
	case PS_PQ_LEAF:
		if (leaf_value(sh, n, v, &state, &s))
			return -1;
		add_entry(sh, n->leaf, rep, def, state, &s);
		return 0;
	case PS_PQ_STRUCT:
		if (!YAJL_IS_OBJECT(v))
			break;
		for (i = 0, kid = ni + 1; i < n->nchildren; i++) {
			const char *name = sh->w->nodes[kid].name;

			if (shred_node(sh, kid, ps_json_get(v, name), rep,
				       def))
				return -1;
			kid += sh->w->nodes[kid].size;
		}
		return 0;
	case PS_PQ_LIST:
		if (!YAJL_IS_ARRAY(v))
			break;
		if (!v->u.array.len) {
			shred_absent(sh, ni + 1, rep, def);
			return 0;
		}
		for (k = 0; k < v->u.array.len; k++) {
			if (shred_node(sh, ni + 1, v->u.array.values[k],
				       k ? n->rl : rep, def + 1))
				return -1;
		}
		return 0;
	case PS_PQ_MAP:
		if (!YAJL_IS_OBJECT(v))
			break;
		if (!v->u.object.len) {
			shred_absent(sh, ni + 1, rep, def);
			shred_absent(sh, ni + 2, rep, def);
			return 0;
		}
		for (k = 0; k < v->u.object.len; k++) {
			const char *key = v->u.object.keys[k];

			s.p = key;
			s.n = strlen(key);
			add_entry(sh, sh->w->nodes[ni + 1].leaf,
				  k ? n->rl : rep, def + 1, S_STR, &s);
			if (shred_node(sh, ni + 2, v->u.object.values[k],
				       k ? n->rl : rep, def + 1))
				return -1;
		}
		return 0;
	}
	return ps_error_set(sh->e, PS_EX_DATAERR, "parquet: '%s': wrong "
			    "JSON type for a %s", n->name,
			    n->kind == PS_PQ_LIST ? "list" :
			    n->kind == PS_PQ_MAP ? "map" : "struct");
}

int ps_pq_write_json(struct ps_pq_writer *w, const char *json, size_t len,
		     struct ps_error *e)
{
	struct shred sh = { w, NULL, 0, 0, e };
	char why[128];
	yajl_val root;
	size_t i, top, bytes = 0;
	int rc = -1;

	if (w->broken)
		return ps_error_set(e, PS_EX_IOERR,
				    "parquet writer failed earlier");
	if (!w->nodes)
		return ps_error_set(e, PS_EX_DATAERR, "parquet: a flat schema "
				    "takes rows from ps_pq_set_*");
	root = ps_json_parse(json, len, why, sizeof(why));
	if (!root)
		return ps_error_set(e, PS_EX_DATAERR, "parquet: bad JSON row: "
				    "%s", why);
	if (!YAJL_IS_OBJECT(root)) {
		ps_error_set(e, PS_EX_DATAERR, "parquet: a row is a JSON "
			     "object");
		goto out;
	}
	for (top = 0, i = 0; i < w->ntop; i++) {
		if (shred_node(&sh, top, ps_json_get(root, w->nodes[top].name),
			       0, 0))
			goto out;
		top += w->nodes[top].size;
	}
	for (i = 0; i < sh.n; i++) {
		struct entry *en = &sh.v[i];

		if (en->state == S_STR && en->s.n > (size_t)INT32_MAX) {
			ps_error_set(e, PS_EX_DATAERR, "parquet: string too "
				     "long");
			goto out;
		}
	}
	for (i = 0; i < sh.n; i++) {
		struct entry *en = &sh.v[i];

		bytes += push_entry(w, &w->cols[en->col], en->rep, en->def,
				    en->state, &en->s);
	}
	rc = finish_row(w, bytes, e);
out:
	free(sh.v);
	yajl_tree_free(root);
	return rc;
}

void ps_pq_add_kv(struct ps_pq_writer *w, const char *key,
		  const char *value)
{
	size_t i;

	for (i = 0; i < w->nkv; i++) {
		if (!strcmp(w->kv[i].key, key)) {
			free((char *)w->kv[i].value);
			w->kv[i].value = ps_xstrdup(value);
			return;
		}
	}
	w->kv = ps_xrealloc(w->kv, (w->nkv + 1) * sizeof(*w->kv));
	w->kv[w->nkv].key = ps_xstrdup(key);
	w->kv[w->nkv].value = ps_xstrdup(value);
	w->nkv++;
}

size_t ps_pq_level_bytes(const struct ps_pq_writer *w)
{
	size_t i, n = w->clv * sizeof(*w->lv);

	for (i = 0; i < w->ncols; i++)
		n += w->cols[i].cdefs + w->cols[i].creps +
		     w->cols[i].cidx * sizeof(*w->cols[i].idx);
	return n;
}

size_t ps_pq_chunk_bytes_peak(const struct ps_pq_writer *w)
{
	return w->mem_peak;
}

int64_t ps_pq_spilled_bytes(const struct ps_pq_writer *w)
{
	return w->spilled;
}

int64_t ps_pq_rows(const struct ps_pq_writer *w)
{
	return w->rows;
}

/* ---- footer ---- */

/* The SchemaElement of a leaf (repetition rep: 0, 1 or 2). */
static void encode_leaf(struct ps_thrift_w *tw, const char *name,
			enum ps_pq_type type, int rep)
{
	ps_thrift_begin(tw, 0);
	ps_thrift_i32(tw, 1, physical(type));
	ps_thrift_i32(tw, 3, rep);
	ps_thrift_string(tw, 4, name);
	switch (type) {
	case PS_PQ_STRING:
		ps_thrift_i32(tw, 6, CT_UTF8);
		ps_thrift_begin(tw, 10);
		ps_thrift_begin(tw, 1);
		ps_thrift_end(tw);
		ps_thrift_end(tw);
		break;
	case PS_PQ_DATE:
		ps_thrift_i32(tw, 6, CT_DATE);
		ps_thrift_begin(tw, 10);
		ps_thrift_begin(tw, 6);
		ps_thrift_end(tw);
		ps_thrift_end(tw);
		break;
	case PS_PQ_TIMESTAMP:
		ps_thrift_i32(tw, 6, CT_TIMESTAMP_MICROS);
		ps_thrift_begin(tw, 10);
		ps_thrift_begin(tw, 8);
		ps_thrift_bool(tw, 1, 1);
		ps_thrift_begin(tw, 2);
		ps_thrift_begin(tw, 2);
		ps_thrift_end(tw);
		ps_thrift_end(tw);
		ps_thrift_end(tw);
		ps_thrift_end(tw);
		break;
	default:
		break;
	}
	ps_thrift_end(tw);
}

/* A group SchemaElement: ct < 0 for none, lt the LogicalType field. */
static void encode_group(struct ps_thrift_w *tw, const char *name, int rep,
			 size_t nkids, int ct, int lt)
{
	ps_thrift_begin(tw, 0);
	ps_thrift_i32(tw, 3, rep);
	ps_thrift_string(tw, 4, name);
	ps_thrift_i32(tw, 5, (int32_t)nkids);
	if (ct >= 0) {
		ps_thrift_i32(tw, 6, ct);
		ps_thrift_begin(tw, 10);
		ps_thrift_begin(tw, (int16_t)lt);
		ps_thrift_end(tw);
		ps_thrift_end(tw);
	}
	ps_thrift_end(tw);
}

/* Schema elements of the node tree at ni: how many, or write them. */
static size_t encode_node(struct ps_pq_writer *w, struct ps_thrift_w *tw,
			  size_t ni)
{
	const struct wnode *n = &w->nodes[ni];
	size_t i, kid, count = 1;

	if (n->kind == PS_PQ_LEAF) {
		if (tw)
			encode_leaf(tw, n->name, n->type, n->nullable);
		return 1;
	}
	if (n->kind == PS_PQ_STRUCT) {
		if (tw)
			encode_group(tw, n->name, n->nullable, n->nchildren,
				     -1, 0);
	} else {
		count++;
		if (tw) {
			encode_group(tw, n->name, n->nullable, 1,
				     n->kind == PS_PQ_LIST ? CT_LIST : CT_MAP,
				     n->kind == PS_PQ_LIST ? 3 : 2);
			encode_group(tw, n->kind == PS_PQ_LIST ? "list" :
				     "key_value", 2, n->nchildren, -1, 0);
		}
	}
	for (i = 0, kid = ni + 1; i < n->nchildren; i++) {
		count += encode_node(w, tw, kid);
		kid += w->nodes[kid].size;
	}
	return count;
}

static void encode_schema(struct ps_pq_writer *w, struct ps_thrift_w *tw)
{
	size_t i, n = 0;

	if (!w->nodes) {
		ps_thrift_list(tw, 2, PS_THRIFT_STRUCT, w->ncols + 1);
		ps_thrift_begin(tw, 0);
		ps_thrift_string(tw, 4, "schema");
		ps_thrift_i32(tw, 5, (int32_t)w->ncols);
		ps_thrift_end(tw);
		for (i = 0; i < w->ncols; i++)
			encode_leaf(tw, w->cols[i].name, w->cols[i].type,
				    w->cols[i].nullable);
		return;
	}
	for (i = 0; i < w->nnodes; i += w->nodes[i].size)
		n += encode_node(w, NULL, i);
	ps_thrift_list(tw, 2, PS_THRIFT_STRUCT, n + 1);
	ps_thrift_begin(tw, 0);
	ps_thrift_string(tw, 4, "schema");
	ps_thrift_i32(tw, 5, (int32_t)w->ntop);
	ps_thrift_end(tw);
	for (i = 0; i < w->nnodes; i += w->nodes[i].size)
		encode_node(w, tw, i);
}

int ps_pq_close(struct ps_pq_writer *w, struct ps_error *e)
{
	struct ps_buf foot = PS_BUF_INIT;
	struct ps_thrift_w tw;
	uint8_t tail[8];
	size_t i;
	int rc;

	if (ps_pq_flush(w, e)) {
		ps_pq_abort(w);
		return -1;
	}
	ps_thrift_w_init(&tw, &foot);
	ps_thrift_i32(&tw, 1, 2);
	encode_schema(w, &tw);
	ps_thrift_i64(&tw, 3, w->rows);
	ps_thrift_list(&tw, 4, PS_THRIFT_STRUCT, w->nrgs);
	for (i = 0; i < w->nrgs; i++)
		ps_buf_add(&foot, w->rgs[i].data, w->rgs[i].len);
	if (w->nkv) {
		ps_thrift_list(&tw, 5, PS_THRIFT_STRUCT, w->nkv);
		for (i = 0; i < w->nkv; i++) {
			ps_thrift_begin(&tw, 0);
			ps_thrift_string(&tw, 1, w->kv[i].key);
			ps_thrift_string(&tw, 2, w->kv[i].value);
			ps_thrift_end(&tw);
		}
	}
	ps_thrift_string(&tw, 6, w->created_by);
	ps_thrift_list(&tw, 7, PS_THRIFT_STRUCT, w->ncols);
	for (i = 0; i < w->ncols; i++) {
		ps_thrift_begin(&tw, 0);
		ps_thrift_begin(&tw, 1);
		ps_thrift_end(&tw);
		ps_thrift_end(&tw);
	}
	ps_thrift_end(&tw);
	for (i = 0; i < 4; i++)
		tail[i] = (uint8_t)(foot.len >> (8 * i));
	memcpy(tail + 4, "PAR1", 4);
	rc = write_out(w, foot.data, foot.len, e) ||
	     write_out(w, tail, 8, e);
	ps_buf_release(&foot);
	if (rc) {
		ps_pq_abort(w);
		return -1;
	}
	if (w->o.group) {
		rc = ps_fsgroup_add(w->o.group, &w->f, e);
	} else {
		rc = ps_afile_commit(&w->f, e);
	}
	w->f = (struct ps_afile)PS_AFILE_INIT;
	ps_pq_abort(w);		/* frees; nothing left to remove */
	return rc;
}

void ps_pq_abort(struct ps_pq_writer *w)
{
	size_t i, j;

	if (!w)
		return;
	helper_stop(w);
	for (i = 0; i < NJOBS; i++) {
		ps_buf_release(&w->jobs[i].body);
		ps_buf_release(&w->jobs[i].comp);
		stats_release(&w->jobs[i].st);
	}
	if (w->spill_fd >= 0)
		close(w->spill_fd);
	if (w->f.fd >= 0 || w->f.tmp)
		ps_afile_abort(&w->f);
	for (i = 0; i < w->ncols; i++) {
		struct wcol *c = &w->cols[i];

		free(c->name);
		for (j = 0; j < c->npath; j++)
			free(c->path[j]);
		free(c->path);
		free(c->reps);
		free(c->defs);
		free(c->idx);
		ps_buf_release(&c->plain);
		stats_release(&c->pst);
		stats_release(&c->cst);
		ps_buf_release(&c->chunk);
		free(c->runs);
		ps_buf_release(&c->dict);
		free(c->doff);
		free(c->ht);
	}
	for (i = 0; i < w->nnodes; i++)
		free(w->nodes[i].name);
	free(w->nodes);
	for (i = 0; i < w->nrgs; i++)
		ps_buf_release(&w->rgs[i]);
	for (i = 0; i < w->nkv; i++) {
		free((char *)w->kv[i].key);
		free((char *)w->kv[i].value);
	}
	free(w->kv);
	free(w->rgs);
	free(w->cols);
	free(w->slots);
	free(w->state);
	free(w->created_by);
	ps_buf_release(&w->body);
	ps_buf_release(&w->comp);
	ps_buf_release(&w->hdr);
	free(w->lv);
	free(w);
}

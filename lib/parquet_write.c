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
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fsutil.h"
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
enum { CT_UTF8 = 0, CT_DATE = 6, CT_TIMESTAMP_MICROS = 10 };

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
	char *name;
	enum ps_pq_type type;
	int nullable;
	int want_dict;
	int dict_on;		/* values go to the dictionary now */
	size_t dict_vals;	/* values looked up in this chunk */
	int page_dict;		/* current page: dictionary indices */
	int ptype;		/* physical type */

	/* current page */
	uint32_t *defs;
	size_t ndefs, cdefs;
	uint32_t *idx;
	size_t nidx, cidx;
	struct ps_buf plain;
	size_t page_n;
	struct stats pst;

	/* current column chunk */
	struct ps_buf chunk;	/* encoded pages, headers included */
	int64_t chunk_unc;	/* uncompressed size of those pages */
	int64_t chunk_n;
	int used_plain, used_dict;
	struct stats cst;

	/* dictionary of the current chunk */
	struct ps_buf dict;	/* PLAIN-encoded entries */
	uint32_t *doff;		/* entry offsets in dict (strings) */
	size_t ndict, cdoff;
	uint32_t *ht;		/* index + 1, 0 = empty */
	size_t htcap;
};

struct ps_pq_writer {
	struct ps_afile f;
	struct ps_pq_options o;
	char *created_by;
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
	int bw = 0;

	while (maxv) {
		bw++;
		maxv >>= 1;
	}
	return bw ? bw : 1;
}

/* Append the n low bytes of v, little-endian (one store after
 * optimisation; 8 bytes of room are made so that it can be). */
static inline void put_le(struct ps_buf *b, uint64_t v, int n)
{
	uint8_t *o;
	int i;

	if (b->cap - b->len <= 8)
		ps_buf_grow(b, 8);
	o = (uint8_t *)b->data + b->len;
	for (i = 0; i < 8; i++)
		o[i] = (uint8_t)(v >> (8 * i));
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

	if ((c->ndict + 1) * 2 > c->htcap)
		dict_rehash(c);
	h = c->ptype == T_BYTE_ARRAY ? hash_bytes(p, n) :
		mix64(c->ptype == T_INT32 ? (uint32_t)bits : bits);
	j = h & (c->htcap - 1);
	while (c->ht[j]) {
		if (dict_equal(c, c->ht[j] - 1, bits, p, n))
			return c->ht[j] - 1;
		j = (j + 1) & (c->htcap - 1);
	}
	ix = (uint32_t)c->ndict++;
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

static int flush_page(struct ps_pq_writer *w, struct wcol *c,
		      struct ps_error *e)
{
	struct ps_thrift_w tw;
	size_t i, lenpos;
	uint32_t len;
	int bw;

	if (!c->page_n)
		return 0;
	ps_buf_reset(&w->body);
	if (c->nullable) {
		lenpos = w->body.len;
		put_le(&w->body, 0, 4);
		ps_pq_rle_encode(&w->body, c->defs, c->ndefs, 1);
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
	ps_buf_reset(&w->comp);
	if (ps_pq_compress(w->o.codec, w->o.level, w->body.data, w->body.len,
			   &w->comp, e))
		return -1;
	if (w->body.len > INT32_MAX || w->comp.len > INT32_MAX)
		return ps_error_set(e, PS_EX_SOFTWARE, "page too large");

	ps_buf_reset(&w->hdr);
	ps_thrift_w_init(&tw, &w->hdr);
	ps_thrift_i32(&tw, 1, PT_DATA);
	ps_thrift_i32(&tw, 2, (int32_t)w->body.len);
	ps_thrift_i32(&tw, 3, (int32_t)w->comp.len);
	ps_thrift_begin(&tw, 5);
	ps_thrift_i32(&tw, 1, (int32_t)c->page_n);
	ps_thrift_i32(&tw, 2, c->page_dict ? E_RLE_DICTIONARY : E_PLAIN);
	ps_thrift_i32(&tw, 3, E_RLE);
	ps_thrift_i32(&tw, 4, E_RLE);
	encode_stats(&tw, 5, c, &c->pst);
	ps_thrift_end(&tw);
	ps_thrift_end(&tw);

	ps_buf_add(&c->chunk, w->hdr.data, w->hdr.len);
	ps_buf_add(&c->chunk, w->comp.data, w->comp.len);
	c->chunk_unc += (int64_t)(w->hdr.len + w->body.len);
	c->chunk_n += (int64_t)c->page_n;
	stats_merge(c, &c->cst, &c->pst);

	stats_reset(&c->pst);
	c->page_n = 0;
	c->ndefs = 0;
	c->nidx = 0;
	ps_buf_reset(&c->plain);
	c->page_dict = c->dict_on;
	return 0;
}

static size_t page_estimate(const struct wcol *c)
{
	size_t n = c->plain.len + c->ndefs / 8;

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
	struct ps_thrift_w tw;
	int nenc = 1;

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
	if (c->chunk.len && write_out(w, c->chunk.data, c->chunk.len, e))
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
	ps_thrift_list(rg, 3, PS_THRIFT_BINARY, 1);
	ps_thrift_put_binary(rg->b, c->name, strlen(c->name));
	ps_thrift_i32(rg, 4, w->o.codec);
	ps_thrift_i64(rg, 5, c->chunk_n);
	ps_thrift_i64(rg, 6, unc);
	ps_thrift_i64(rg, 7, comp);
	ps_thrift_i64(rg, 9, dict_off >= 0 ? w->off - (int64_t)c->chunk.len :
		      start);
	if (dict_off >= 0)
		ps_thrift_i64(rg, 11, dict_off);
	encode_stats(rg, 12, c, &c->cst);
	ps_thrift_end(rg);
	ps_thrift_end(rg);

	/* Start the next chunk afresh. */
	ps_buf_reset(&c->chunk);
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

struct ps_pq_writer *ps_pq_open(const char *path,
				const struct ps_pq_column *cols, size_t ncols,
				const struct ps_pq_options *o,
				struct ps_error *e)
{
	struct ps_pq_options def = PS_PQ_OPTIONS_INIT;
	struct ps_pq_writer *w;
	size_t i, j;

	if (!o)
		o = &def;
	if (ncols == 0 || ncols > 32767) {
		ps_error_set(e, PS_EX_USAGE, "parquet: bad column count %zu",
			     ncols);
		return NULL;
	}
	if (o->codec != PS_PQ_UNCOMPRESSED && o->codec != PS_PQ_GZIP &&
	    o->codec != PS_PQ_ZSTD) {
		ps_error_set(e, PS_EX_USAGE, "parquet: codec %s not supported "
			     "for writing", ps_pq_codec_name(o->codec));
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
	w = ps_xcalloc(1, sizeof(*w));
	w->f = (struct ps_afile)PS_AFILE_INIT;
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
	w->ncols = ncols;
	w->cols = ps_xcalloc(ncols, sizeof(*w->cols));
	w->slots = ps_xcalloc(ncols, sizeof(*w->slots));
	w->state = ps_xcalloc(ncols, 1);
	for (i = 0; i < ncols; i++) {
		struct wcol *c = &w->cols[i];

		c->name = ps_xstrdup(cols[i].name);
		c->type = cols[i].type;
		c->nullable = !!cols[i].nullable;
		c->ptype = physical(c->type);
		c->want_dict = !o->no_dict && !cols[i].no_dict &&
			       c->type != PS_PQ_BOOL;
		c->dict_on = c->page_dict = c->want_dict;
	}
	if (ps_afile_open(&w->f, path, 0644, e)) {
		ps_pq_abort(w);
		return NULL;
	}
	if (write_out(w, "PAR1", 4, e)) {
		ps_pq_abort(w);
		return NULL;
	}
	return w;
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

static void push_u32(uint32_t **a, size_t *n, size_t *cap, uint32_t v)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 1024;
		*a = ps_xrealloc(*a, *cap * sizeof(**a));
	}
	(*a)[(*n)++] = v;
}

/* Append the value of slot i to its column; returns its plain size. */
static size_t add_value(struct ps_pq_writer *w, size_t i)
{
	struct wcol *c = &w->cols[i];
	const struct slot *s = &w->slots[i];
	struct stats *st = &c->pst;
	uint64_t bits = 0;
	size_t sz;

	c->page_n++;
	if (w->state[i] <= S_NULL) {
		push_u32(&c->defs, &c->ndefs, &c->cdefs, 0);
		st->nulls++;
		return 1;
	}
	if (c->nullable)
		push_u32(&c->defs, &c->ndefs, &c->cdefs, 1);
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
		double d = w->state[i] == S_INT ? (double)s->i : s->d;

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

int ps_pq_end_row(struct ps_pq_writer *w, struct ps_error *e)
{
	size_t i, bytes = 0;
	int rc = 0;

	if (w->broken) {
		ps_pq_clear_row(w);
		return ps_error_set(e, PS_EX_IOERR,
				    "parquet writer failed earlier");
	}
	if (check_row(w, e)) {
		ps_pq_clear_row(w);
		return -1;
	}
	for (i = 0; i < w->ncols; i++) {
		struct wcol *c = &w->cols[i];

		bytes += add_value(w, i);
		if (c->page_n >= PAGE_MAX_VALUES ||
		    c->page_dict != c->dict_on ||
		    page_estimate(c) >= w->o.page_bytes) {
			if (flush_page(w, c, e)) {
				w->broken = 1;
				rc = -1;
			}
		}
	}
	ps_pq_clear_row(w);
	if (rc)
		return -1;
	w->rows++;
	w->rg_rows++;
	w->rg_bytes += bytes;
	if (w->rg_bytes >= w->o.row_group_bytes)
		return ps_pq_flush(w, e);
	return 0;
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

int64_t ps_pq_rows(const struct ps_pq_writer *w)
{
	return w->rows;
}

/* ---- footer ---- */

static void encode_schema(struct ps_pq_writer *w, struct ps_thrift_w *tw)
{
	size_t i;

	ps_thrift_list(tw, 2, PS_THRIFT_STRUCT, w->ncols + 1);
	ps_thrift_begin(tw, 0);
	ps_thrift_string(tw, 4, "schema");
	ps_thrift_i32(tw, 5, (int32_t)w->ncols);
	ps_thrift_end(tw);
	for (i = 0; i < w->ncols; i++) {
		const struct wcol *c = &w->cols[i];

		ps_thrift_begin(tw, 0);
		ps_thrift_i32(tw, 1, c->ptype);
		ps_thrift_i32(tw, 3, c->nullable ? 1 : 0);
		ps_thrift_string(tw, 4, c->name);
		switch (c->type) {
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
	size_t i;

	if (!w)
		return;
	if (w->f.fd >= 0 || w->f.tmp)
		ps_afile_abort(&w->f);
	for (i = 0; i < w->ncols; i++) {
		struct wcol *c = &w->cols[i];

		free(c->name);
		free(c->defs);
		free(c->idx);
		ps_buf_release(&c->plain);
		stats_release(&c->pst);
		stats_release(&c->cst);
		ps_buf_release(&c->chunk);
		ps_buf_release(&c->dict);
		free(c->doff);
		free(c->ht);
	}
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
	free(w);
}

/*
 * parquet_read.c - the Parquet reader (see parquet.h).
 *
 * The file is mapped; the footer is decoded once into column and chunk
 * descriptions that point into the mapping.  Rows are produced by one
 * iterator per column that walks the pages of its chunk: a dictionary page
 * is decoded into a value table kept for the chunk, each data page into an
 * array of values.  Every length and offset read from the file is checked
 * against the bytes that are really there.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json.h"
#include "parquet.h"
#include "pstime.h"
#include "thrift.h"
#include "banned.h"

enum {
	T_BOOLEAN = 0, T_INT32 = 1, T_INT64 = 2, T_INT96 = 3, T_FLOAT = 4,
	T_DOUBLE = 5, T_BYTE_ARRAY = 6, T_FIXED = 7,
};
enum {
	E_PLAIN = 0, E_PLAIN_DICTIONARY = 2, E_RLE = 3, E_RLE_DICTIONARY = 8,
};
enum { PT_DATA = 0, PT_INDEX = 1, PT_DICT = 2, PT_DATA_V2 = 3 };

/* Largest page or dictionary we agree to decompress. */
#define MAX_PAGE_BYTES (512u << 20)
/* Most values in one page. */
#define MAX_PAGE_VALUES (1u << 22)

struct rcol {
	struct ps_pq_column pub;
	int ptype;
	int scale;	/* timestamps: 0 micro, 1 milli, 2 nano seconds */
	int max_def, max_rep;
	int nested;	/* not a top-level OPTIONAL/REQUIRED leaf */
};

/* Nesting deeper than this is refused (it bounds the recursion). */
#define MAX_DEPTH 32

enum { A_NONE = 0, A_LIST, A_MAP };

/* A schema node (the root excluded), depth first. */
struct rnode {
	char *name;		/* its own name (leaves: cols[] has the
				   dotted path) */
	int rep;		/* 0 required, 1 optional, 2 repeated */
	int annot;
	int dl, rl;		/* levels when this node is present */
	size_t nchildren, size;	/* children; nodes in the subtree */
	size_t leaf;		/* leaves: column index */
	size_t first_leaf;
};

struct rchunk {
	int64_t start, end;	/* byte range of the pages */
	int64_t num_values;
	int64_t unc, comp;
	int codec;
	int has_dict;
	const uint8_t *min, *max;
	size_t minlen, maxlen;
	int has_min_max, has_nulls;
	int64_t nulls;
};

struct citer {
	const uint8_t *p, *end;
	uint8_t *dictbuf;
	struct ps_pq_value *dict;
	size_t ndict;
	uint8_t *page;
	size_t pagecap;
	struct ps_pq_value *vals;
	size_t nvals, capvals, pos;
	uint32_t *tmp;		/* definition levels of the page */
	size_t captmp;
	uint32_t *reps;		/* repetition levels of the page */
	size_t capreps;
	size_t row_start, row_end;	/* nested: entries of the row */
	size_t cursor;			/* nested: assembly position */
};

struct ps_pq_reader {
	uint8_t *data;
	size_t size;
	int mapped;
	size_t ncols;
	struct rcol *cols;
	struct rnode *nodes;
	size_t nnodes, ntop;
	int nested;		/* some column is nested */
	size_t nrg;
	int64_t *rg_rows;
	struct rchunk *chunks;	/* nrg * ncols */
	int64_t nrows;
	char *created_by;
	struct ps_pq_kv *kv;
	size_t nkv;

	size_t rg;
	int64_t row;		/* rows returned from row group rg */
	int started, have_row;
	struct citer *it;
	struct ps_pq_value *cur;
	unsigned char *skip;	/* per column: not decoded (NULL: none) */
};

#define BAD(e, ...) ps_error_set((e), PS_EX_DATAERR, "parquet: " __VA_ARGS__)

/* ---- footer ---- */

static char *dup_bin(const uint8_t *p, size_t n)
{
	return ps_xmemdup(p, n);
}

static void parse_stats(struct ps_thrift_r *t, struct rchunk *c,
			int ptype)
{
	const uint8_t *omin = NULL, *omax = NULL, *p;
	size_t nomin = 0, nomax = 0, n;
	enum ps_thrift_type ty;
	int16_t id;

	ps_thrift_enter(t);
	while (ps_thrift_next(t, &ty, &id)) {
		if (ty == PS_THRIFT_BINARY && id >= 1 && id <= 6 && id != 3 &&
		    id != 4) {
			n = ps_thrift_get_binary(t, &p);
			if (id == 1) {
				omax = p;
				nomax = n;
			} else if (id == 2) {
				omin = p;
				nomin = n;
			} else if (id == 5) {
				c->max = p;
				c->maxlen = n;
			} else {
				c->min = p;
				c->minlen = n;
			}
		} else if (id == 3) {
			c->nulls = ps_thrift_get_int(t, ty);
			c->has_nulls = c->nulls >= 0;
		} else {
			ps_thrift_skip(t, ty);
		}
	}
	ps_thrift_leave(t);
	if (c->min && c->max) {
		c->has_min_max = 1;
	} else if (omin && omax && ptype != T_BYTE_ARRAY) {
		/* Deprecated fields: signed order, fine for numbers. */
		c->min = omin;
		c->minlen = nomin;
		c->max = omax;
		c->maxlen = nomax;
		c->has_min_max = 1;
	} else {
		c->min = c->max = NULL;
	}
}

static void parse_chunk(struct ps_thrift_r *t, struct rchunk *c,
			int *ptype, int *external)
{
	enum ps_thrift_type ty, ty2;
	int64_t data_off = -1, dict_off = -1;
	int16_t id, id2;
	int have_meta = 0;

	ps_thrift_enter(t);
	while (ps_thrift_next(t, &ty, &id)) {
		if (id == 1 && ty == PS_THRIFT_BINARY) {
			*external = 1;
			ps_thrift_skip(t, ty);
		} else if (id == 3 && ty == PS_THRIFT_STRUCT) {
			have_meta = 1;
			ps_thrift_enter(t);
			while (ps_thrift_next(t, &ty2, &id2)) {
				switch (id2) {
				case 1:
					*ptype = (int)ps_thrift_get_range(
						t, ty2, 0, 7);
					break;
				case 4:
					c->codec = (int)ps_thrift_get_range(
						t, ty2, 0, 7);
					break;
				case 5:
					c->num_values = ps_thrift_get_range(
						t, ty2, 0, INT64_MAX);
					break;
				case 6:
					c->unc = ps_thrift_get_int(t, ty2);
					break;
				case 7:
					c->comp = ps_thrift_get_range(
						t, ty2, 0, INT64_MAX);
					break;
				case 9:
					data_off = ps_thrift_get_int(t, ty2);
					break;
				case 11:
					dict_off = ps_thrift_get_int(t, ty2);
					break;
				case 12:
					if (ty2 == PS_THRIFT_STRUCT) {
						parse_stats(t, c, *ptype);
						break;
					}
					/* fall through */
				default:
					ps_thrift_skip(t, ty2);
				}
			}
			ps_thrift_leave(t);
		} else {
			ps_thrift_skip(t, ty);
		}
	}
	ps_thrift_leave(t);
	if (!have_meta || data_off < 0) {
		ps_thrift_fail(t, "column chunk without metadata");
		return;
	}
	c->has_dict = dict_off > 0;
	c->start = c->has_dict && dict_off < data_off ? dict_off : data_off;
	c->end = c->start + c->comp;
	if (c->end < c->start)
		ps_thrift_fail(t, "bad column chunk size");
}

struct selem {
	int type, type_set, rep, nchildren, ct, lt, ts_unit;
	int int_signed;
	const uint8_t *name;
	size_t namelen;
};

static void parse_logical(struct ps_thrift_r *t, struct selem *s)
{
	enum ps_thrift_type ty, ty2, ty3;
	int16_t id, id2, id3;

	ps_thrift_enter(t);
	while (ps_thrift_next(t, &ty, &id)) {
		s->lt = id;
		if (id == 8 && ty == PS_THRIFT_STRUCT) {
			ps_thrift_enter(t);
			while (ps_thrift_next(t, &ty2, &id2)) {
				if (id2 == 2 && ty2 == PS_THRIFT_STRUCT) {
					ps_thrift_enter(t);
					while (ps_thrift_next(t, &ty3, &id3)) {
						s->ts_unit = id3;
						ps_thrift_skip(t, ty3);
					}
					ps_thrift_leave(t);
				} else {
					ps_thrift_skip(t, ty2);
				}
			}
			ps_thrift_leave(t);
		} else if (id == 10 && ty == PS_THRIFT_STRUCT) {
			ps_thrift_enter(t);
			while (ps_thrift_next(t, &ty2, &id2)) {
				if (id2 == 2)
					s->int_signed = ps_thrift_get_bool(
						t, ty2, 0);
				else
					ps_thrift_skip(t, ty2);
			}
			ps_thrift_leave(t);
		} else {
			ps_thrift_skip(t, ty);
		}
	}
	ps_thrift_leave(t);
}

static void parse_selem(struct ps_thrift_r *t, struct selem *s)
{
	enum ps_thrift_type ty;
	int16_t id;

	memset(s, 0, sizeof(*s));
	s->ct = -1;
	s->int_signed = 1;
	ps_thrift_enter(t);
	while (ps_thrift_next(t, &ty, &id)) {
		switch (id) {
		case 1:
			s->type = (int)ps_thrift_get_range(t, ty, 0, 7);
			s->type_set = 1;
			break;
		case 3:
			s->rep = (int)ps_thrift_get_range(t, ty, 0, 2);
			break;
		case 4:
			s->namelen = ps_thrift_get_binary(t, &s->name);
			break;
		case 5:
			s->nchildren = (int)ps_thrift_get_range(t, ty, 0,
								INT32_MAX);
			break;
		case 6:
			s->ct = (int)ps_thrift_get_range(t, ty, 0, 100);
			break;
		case 10:
			if (ty == PS_THRIFT_STRUCT) {
				parse_logical(t, s);
				break;
			}
			/* fall through */
		default:
			ps_thrift_skip(t, ty);
		}
	}
	ps_thrift_leave(t);
}

/* Map a leaf to our types; returns NULL or why it is unsupported. */
static const char *map_type(const struct selem *s, struct rcol *c)
{
	c->ptype = s->type;
	c->scale = 0;
	switch (s->type) {
	case T_BOOLEAN:
		c->pub.type = PS_PQ_BOOL;
		return NULL;
	case T_INT32:
		if (s->lt == 6 || s->ct == 6) {
			c->pub.type = PS_PQ_DATE;
			return NULL;
		}
		if (s->lt == 5 || s->ct == 5 || s->lt == 7 || s->ct == 7)
			return "INT32 decimal/time";
		if ((s->lt == 10 && !s->int_signed) || s->ct == 13)
			return "UINT32";
		c->pub.type = PS_PQ_INT32;
		return NULL;
	case T_INT64:
		if (s->lt == 8) {
			c->pub.type = PS_PQ_TIMESTAMP;
			c->scale = s->ts_unit == 1 ? 1 : s->ts_unit == 3 ? 2 :
				   0;
			return NULL;
		}
		if (s->ct == 9 || s->ct == 10) {
			c->pub.type = PS_PQ_TIMESTAMP;
			c->scale = s->ct == 9;
			return NULL;
		}
		if (s->lt == 5 || s->ct == 5 || s->lt == 7 || s->ct == 8)
			return "INT64 decimal/time";
		if ((s->lt == 10 && !s->int_signed) || s->ct == 14)
			return "UINT64";
		c->pub.type = PS_PQ_INT64;
		return NULL;
	case T_FLOAT:
	case T_DOUBLE:
		c->pub.type = PS_PQ_DOUBLE;
		return NULL;
	case T_BYTE_ARRAY:
		if (s->lt == 5 || s->ct == 5)
			return "BYTE_ARRAY decimal";
		c->pub.type = PS_PQ_STRING;
		return NULL;
	case T_INT96:
		return "INT96";
	default:
		return "FIXED_LEN_BYTE_ARRAY";
	}
}

/*
 * Build the subtree of schema element *pos (of n in el): levels from the
 * parent's (def, rep), leaf names from path (the parent's dotted path).
 * Returns 0 or -1 with e filled.
 */
static int build_node(struct ps_pq_reader *r, const struct selem *el,
		      size_t n, size_t *pos, int def, int rep, int depth,
		      const char *path, struct ps_error *e)
{
	size_t me = (*pos)++, i;
	const struct selem *s = &el[me];
	struct rnode *nd = &r->nodes[me - 1];
	char *name = dup_bin(s->name ? s->name : (const uint8_t *)"",
			     s->namelen);
	char *full;
	const char *why;

	if (depth > MAX_DEPTH) {
		free(name);
		return BAD(e, "unsupported schema (nested too deeply)");
	}
	nd->name = name;
	nd->rep = s->rep;
	nd->dl = def + (s->rep != 0);
	nd->rl = rep + (s->rep == 2);
	nd->first_leaf = r->ncols;
	nd->name = name;
	if (path) {
		size_t pl = strlen(path), nl = strlen(name);

		full = ps_xmalloc(pl + nl + 2);
		memcpy(full, path, pl);
		full[pl] = '.';
		memcpy(full + pl + 1, name, nl + 1);
	} else {
		full = ps_xstrdup(name);
	}
	if (s->nchildren == 0) {
		struct rcol *c = &r->cols[r->ncols];

		if (!s->type_set) {
			free(full);
			return BAD(e, "unsupported schema (group without "
				   "children)");
		}
		c->pub.name = full;
		nd->leaf = r->ncols++;
		nd->size = 1;
		c->pub.nullable = s->rep == 1;
		c->max_def = nd->dl;
		c->max_rep = nd->rl;
		c->nested = depth > 0 || s->rep == 2;
		if (c->nested)
			r->nested = 1;
		if ((why = map_type(s, c)))
			return BAD(e, "unsupported column type %s ('%.64s')",
				   why, c->pub.name);
		return 0;
	}
	r->nested = 1;
	if (s->ct == 1 || s->ct == 2 || s->lt == 2)
		nd->annot = A_MAP;
	else if (s->ct == 3 || s->lt == 3)
		nd->annot = A_LIST;
	nd->nchildren = (size_t)s->nchildren;
	for (i = 0; i < nd->nchildren; i++) {
		if (*pos >= n) {
			free(full);
			return BAD(e, "bad schema (children missing)");
		}
		if (build_node(r, el, n, pos, nd->dl, nd->rl, depth + 1, full,
			       e)) {
			free(full);
			return -1;
		}
	}
	free(full);
	nd->size = *pos - me;
	/* A LIST or MAP needs one repeated child (MAP: with key, value). */
	if (nd->annot && (nd->nchildren != 1 ||
			  r->nodes[me].rep != 2 ||
			  (nd->annot == A_MAP &&
			   r->nodes[me].nchildren != 2)))
		nd->annot = A_NONE;
	return 0;
}

static int parse_schema(struct ps_pq_reader *r, struct ps_thrift_r *t,
			struct ps_error *e)
{
	enum ps_thrift_type et;
	struct selem *el;
	size_t n, i, pos, nleaves = 0;
	int rc = 0;

	n = ps_thrift_get_list(t, &et);
	if (t->why)
		return 0;
	if (et != PS_THRIFT_STRUCT || n < 1)
		return BAD(e, "empty or bad schema");
	/* Each element takes at least 2 bytes: bound the allocation. */
	if (n > (size_t)(t->end - t->p))
		return BAD(e, "thrift decode error in footer (schema longer "
			   "than its data)");
	el = ps_xcalloc(n, sizeof(*el));
	for (i = 0; i < n && !t->why; i++) {
		parse_selem(t, &el[i]);
		if (i && el[i].nchildren == 0)
			nleaves++;
	}
	if (t->why) {
		free(el);
		return 0;
	}
	r->cols = ps_xcalloc(nleaves ? nleaves : 1, sizeof(*r->cols));
	r->nodes = ps_xcalloc(n, sizeof(*r->nodes));
	r->nnodes = n - 1;
	pos = 1;
	for (i = 0; i < (size_t)el[0].nchildren && !rc; i++) {
		if (pos >= n) {
			rc = BAD(e, "bad schema (columns missing)");
			break;
		}
		rc = build_node(r, el, n, &pos, 0, 0, 0, NULL, e);
		r->ntop++;
	}
	if (!rc && pos != n)
		rc = BAD(e, "bad schema (%zu elements left over)", n - pos);
	free(el);
	return rc;
}

static int parse_row_groups(struct ps_pq_reader *r, struct ps_thrift_r *t,
			    struct ps_error *e)
{
	enum ps_thrift_type et, ty, ct;
	size_t n, i, j, nc;
	int16_t id;

	n = ps_thrift_get_list(t, &et);
	if (t->why)
		return 0;
	if (n && et != PS_THRIFT_STRUCT)
		return BAD(e, "bad row group list");
	/* Each column chunk takes several bytes: bound the allocation. */
	if (r->ncols && n > (size_t)(t->end - t->p) / r->ncols)
		return BAD(e, "thrift decode error in footer (row groups "
			   "longer than their data)");
	r->nrg = n;
	r->rg_rows = ps_xcalloc(n ? n : 1, sizeof(*r->rg_rows));
	r->chunks = ps_xcalloc(n && r->ncols ? n * r->ncols : 1,
			       sizeof(*r->chunks));
	for (i = 0; i < n && !t->why; i++) {
		int got_cols = 0;

		ps_thrift_enter(t);
		while (ps_thrift_next(t, &ty, &id)) {
			if (id == 1 && ty == PS_THRIFT_LIST) {
				nc = ps_thrift_get_list(t, &ct);
				if (t->why)
					break;
				if (nc != r->ncols || (nc &&
						       ct != PS_THRIFT_STRUCT))
					return BAD(e, "row group %zu has %zu "
						   "columns, schema %zu", i,
						   nc, r->ncols);
				for (j = 0; j < nc && !t->why; j++) {
					struct rchunk *c =
						&r->chunks[i * r->ncols + j];
					int ptype = -1, ext = 0;

					parse_chunk(t, c, &ptype, &ext);
					if (t->why)
						break;
					if (ext)
						return BAD(e, "external column "
							   "chunks are not "
							   "supported");
					if (ptype != r->cols[j].ptype)
						return BAD(e, "column chunk "
							   "type differs from "
							   "schema");
				}
				got_cols = 1;
			} else if (id == 3) {
				r->rg_rows[i] = ps_thrift_get_range(
					t, ty, 0, INT64_MAX);
			} else {
				ps_thrift_skip(t, ty);
			}
		}
		ps_thrift_leave(t);
		if (!got_cols && !t->why && r->ncols)
			return BAD(e, "row group without columns");
	}
	return 0;
}

static int parse_kv(struct ps_pq_reader *r, struct ps_thrift_r *t,
		    struct ps_error *e)
{
	enum ps_thrift_type et, ty;
	const uint8_t *p;
	size_t n, i, len;
	int16_t id;

	n = ps_thrift_get_list(t, &et);
	if (t->why)
		return 0;
	if (n && et != PS_THRIFT_STRUCT)
		return BAD(e, "bad key-value metadata");
	r->kv = ps_xcalloc(n ? n : 1, sizeof(*r->kv));
	for (i = 0; i < n && !t->why; i++) {
		char *k = NULL, *v = NULL;

		ps_thrift_enter(t);
		while (ps_thrift_next(t, &ty, &id)) {
			if ((id == 1 || id == 2) && ty == PS_THRIFT_BINARY) {
				len = ps_thrift_get_binary(t, &p);
				if (id == 1) {
					free(k);
					k = dup_bin(p, len);
				} else {
					free(v);
					v = dup_bin(p, len);
				}
			} else {
				ps_thrift_skip(t, ty);
			}
		}
		ps_thrift_leave(t);
		r->kv[r->nkv].key = k ? k : ps_xstrdup("");
		r->kv[r->nkv].value = v;
		r->nkv++;
	}
	return 0;
}

static int parse_footer(struct ps_pq_reader *r, struct ps_error *e)
{
	struct ps_thrift_r t;
	enum ps_thrift_type ty;
	uint32_t flen;
	const uint8_t *p, *foot;
	size_t i, j;
	int16_t id;
	int have_schema = 0, have_rg = 0, have_rows = 0;

	if (r->size < 12)
		return BAD(e, "file too short (%zu bytes)", r->size);
	if (!memcmp(r->data + r->size - 4, "PARE", 4))
		return BAD(e, "encrypted files are not supported");
	if (memcmp(r->data, "PAR1", 4) || memcmp(r->data + r->size - 4,
						 "PAR1", 4))
		return BAD(e, "not a Parquet file (magic missing)");
	p = r->data + r->size - 8;
	flen = (uint32_t)p[0] | (uint32_t)p[1] << 8 |
	       (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
	if (flen == 0 || flen > r->size - 12)
		return BAD(e, "footer length %u out of range", flen);
	foot = p - flen;
	ps_thrift_r_init(&t, foot, flen);
	while (ps_thrift_next(&t, &ty, &id)) {
		switch (id) {
		case 2:
			if (ty != PS_THRIFT_LIST || have_schema)
				goto bad_field;
			have_schema = 1;
			if (parse_schema(r, &t, e))
				return -1;
			break;
		case 3:
			r->nrows = ps_thrift_get_range(&t, ty, 0, INT64_MAX);
			have_rows = 1;
			break;
		case 4:
			if (ty != PS_THRIFT_LIST || !have_schema || have_rg)
				goto bad_field;
			have_rg = 1;
			if (parse_row_groups(r, &t, e))
				return -1;
			break;
		case 5:
			if (ty != PS_THRIFT_LIST || r->kv)
				goto bad_field;
			if (parse_kv(r, &t, e))
				return -1;
			break;
		case 6:
			if (ty != PS_THRIFT_BINARY || r->created_by)
				goto bad_field;
			i = ps_thrift_get_binary(&t, &p);
			r->created_by = dup_bin(p, i);
			break;
		case 8:
			return BAD(e, "encrypted files are not supported");
		default:
			ps_thrift_skip(&t, ty);
		}
	}
	if (t.why)
		return BAD(e, "thrift decode error in footer (%s)", t.why);
	if (!have_schema || !have_rg || !have_rows)
		return BAD(e, "footer lacks schema, rows or row groups");
	if (r->ncols == 0)
		return BAD(e, "schema has no columns");
	/* Every chunk must lie between the magic and the footer. */
	for (i = 0; i < r->nrg; i++) {
		for (j = 0; j < r->ncols; j++) {
			const struct rchunk *c = &r->chunks[i * r->ncols + j];

			if (c->start < 4 || c->end > foot - r->data)
				return BAD(e, "column chunk %zu/%zu outside "
					   "the file", i, j);
		}
	}
	return 0;
bad_field:
	return BAD(e, "thrift decode error in footer (field %d)", id);
}

static struct ps_pq_reader *finish_open(struct ps_pq_reader *r,
					struct ps_error *e)
{
	if (parse_footer(r, e)) {
		ps_pq_reader_free(r);
		return NULL;
	}
	r->it = ps_xcalloc(r->ncols, sizeof(*r->it));
	r->cur = ps_xcalloc(r->ncols, sizeof(*r->cur));
	return r;
}

struct ps_pq_reader *ps_pq_reader_open(const char *path, struct ps_error *e)
{
	struct ps_pq_reader *r;
	struct stat st;
	void *m;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ps_error_errno(e, PS_EX_NOINPUT, errno, "cannot open %s",
			       path);
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		ps_error_set(e, PS_EX_NOINPUT, "%s: not a regular file", path);
		close(fd);
		return NULL;
	}
	if (st.st_size < 12) {
		close(fd);
		ps_error_set(e, PS_EX_DATAERR, "parquet: file too short "
			     "(%lld bytes)", (long long)st.st_size);
		return NULL;
	}
	m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (m == MAP_FAILED) {
		ps_error_errno(e, PS_EX_IOERR, errno, "cannot map %s", path);
		return NULL;
	}
	r = ps_xcalloc(1, sizeof(*r));
	r->data = m;
	r->size = (size_t)st.st_size;
	r->mapped = 1;
	return finish_open(r, e);
}

struct ps_pq_reader *ps_pq_reader_open_mem(const void *p, size_t n,
					   struct ps_error *e)
{
	struct ps_pq_reader *r = ps_xcalloc(1, sizeof(*r));

	r->data = ps_xmalloc(n ? n : 1);
	if (n)
		memcpy(r->data, p, n);
	r->size = n;
	return finish_open(r, e);
}

static void citer_release(struct citer *it)
{
	free(it->dictbuf);
	free(it->dict);
	free(it->page);
	free(it->vals);
	free(it->tmp);
	free(it->reps);
	memset(it, 0, sizeof(*it));
}

void ps_pq_reader_free(struct ps_pq_reader *r)
{
	size_t i;

	if (!r)
		return;
	if (r->mapped)
		munmap(r->data, r->size);
	else
		free(r->data);
	for (i = 0; r->cols && i < r->ncols; i++)
		free((char *)r->cols[i].pub.name);
	for (i = 0; r->nodes && i < r->nnodes; i++)
		free(r->nodes[i].name);
	free(r->nodes);
	for (i = 0; i < r->nkv; i++) {
		free((char *)r->kv[i].key);
		free((char *)r->kv[i].value);
	}
	for (i = 0; r->it && i < r->ncols; i++)
		citer_release(&r->it[i]);
	free(r->it);
	free(r->cur);
	free(r->skip);
	free(r->kv);
	free(r->cols);
	free(r->rg_rows);
	free(r->chunks);
	free(r->created_by);
	free(r);
}

/* ---- accessors ---- */

size_t ps_pq_reader_ncols(const struct ps_pq_reader *r)
{
	return r->ncols;
}

const struct ps_pq_column *ps_pq_reader_col(const struct ps_pq_reader *r,
					    size_t i)
{
	return i < r->ncols ? &r->cols[i].pub : NULL;
}

int ps_pq_reader_find(const struct ps_pq_reader *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->ncols; i++)
		if (!strcmp(r->cols[i].pub.name, name))
			return (int)i;
	return -1;
}

int64_t ps_pq_reader_nrows(const struct ps_pq_reader *r)
{
	return r->nrows;
}

size_t ps_pq_reader_nrow_groups(const struct ps_pq_reader *r)
{
	return r->nrg;
}

int64_t ps_pq_reader_group_rows(const struct ps_pq_reader *r, size_t rg)
{
	return rg < r->nrg ? r->rg_rows[rg] : 0;
}

const char *ps_pq_reader_created_by(const struct ps_pq_reader *r)
{
	return r->created_by;
}

size_t ps_pq_reader_nkv(const struct ps_pq_reader *r)
{
	return r->nkv;
}

const struct ps_pq_kv *ps_pq_reader_kv(const struct ps_pq_reader *r,
				       size_t i)
{
	return i < r->nkv ? &r->kv[i] : NULL;
}

const char *ps_pq_reader_kv_get(const struct ps_pq_reader *r,
				const char *key)
{
	size_t i;

	for (i = 0; i < r->nkv; i++)
		if (!strcmp(r->kv[i].key, key))
			return r->kv[i].value;
	return NULL;
}

static int64_t le_int(const uint8_t *p, int n)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	if (n == 4)
		return (int32_t)(uint32_t)v;
	return (int64_t)v;
}

static int64_t scale_ts(int64_t v, int scale)
{
	if (scale == 1) {
		if (v > INT64_MAX / 1000 || v < INT64_MIN / 1000)
			return v < 0 ? INT64_MIN : INT64_MAX;
		return v * 1000;
	}
	if (scale == 2)
		return v / 1000 - (v % 1000 < 0);
	return v;
}

/* Decode one PLAIN value of fixed size for statistics; 0 or -1. */
static int stat_value(const struct rcol *c, const uint8_t *p, size_t n,
		      struct ps_pq_value *v)
{
	float f;
	uint32_t u;

	memset(v, 0, sizeof(*v));
	v->type = c->pub.type;
	switch (c->ptype) {
	case T_BOOLEAN:
		if (n != 1)
			return -1;
		v->v.b = p[0] != 0;
		return 0;
	case T_INT32:
		if (n != 4)
			return -1;
		v->v.i = le_int(p, 4);
		return 0;
	case T_INT64:
		if (n != 8)
			return -1;
		v->v.i = le_int(p, 8);
		if (c->pub.type == PS_PQ_TIMESTAMP)
			v->v.i = scale_ts(v->v.i, c->scale);
		return 0;
	case T_FLOAT:
		if (n != 4)
			return -1;
		u = (uint32_t)le_int(p, 4);
		memcpy(&f, &u, 4);
		v->v.d = f;
		return 0;
	case T_DOUBLE:
		if (n != 8)
			return -1;
		{
			uint64_t x = (uint64_t)le_int(p, 8);

			memcpy(&v->v.d, &x, 8);
		}
		return 0;
	default:
		v->v.s.p = (const char *)p;
		v->v.s.len = n;
		return 0;
	}
}

int ps_pq_reader_stats(const struct ps_pq_reader *r, size_t rg, size_t col,
		       struct ps_pq_stats *st)
{
	const struct rchunk *c;

	memset(st, 0, sizeof(*st));
	if (rg >= r->nrg || col >= r->ncols)
		return -1;
	c = &r->chunks[rg * r->ncols + col];
	st->has_min_max = c->has_min_max &&
			  !stat_value(&r->cols[col], c->min, c->minlen,
				      &st->min) &&
			  !stat_value(&r->cols[col], c->max, c->maxlen,
				      &st->max);
	st->has_null_count = c->has_nulls;
	st->null_count = c->nulls;
	st->num_values = c->num_values;
	st->compressed_bytes = c->comp;
	st->uncompressed_bytes = c->unc;
	st->codec = (enum ps_pq_codec)c->codec;
	st->has_dict = c->has_dict;
	return 0;
}

/* ---- pages ---- */

struct page_header {
	int type;
	int64_t unc, comp;
	int64_t num_values, num_nulls;
	int encoding;
	int64_t def_len, rep_len;
	int v2_compressed;
};

static void parse_page_header(struct ps_thrift_r *t, struct page_header *h)
{
	enum ps_thrift_type ty, ty2;
	int16_t id, id2;

	memset(h, 0, sizeof(*h));
	h->type = -1;
	h->v2_compressed = 1;
	while (ps_thrift_next(t, &ty, &id)) {
		if (id == 1) {
			h->type = (int)ps_thrift_get_range(t, ty, 0, 3);
		} else if (id == 2) {
			h->unc = ps_thrift_get_range(t, ty, 0, INT32_MAX);
		} else if (id == 3) {
			h->comp = ps_thrift_get_range(t, ty, 0, INT32_MAX);
		} else if ((id == 5 || id == 7 || id == 8) &&
			   ty == PS_THRIFT_STRUCT) {
			ps_thrift_enter(t);
			while (ps_thrift_next(t, &ty2, &id2)) {
				if (id2 == 1) {
					h->num_values = ps_thrift_get_range(
						t, ty2, 0, INT32_MAX);
				} else if (id == 8 && id2 == 2) {
					h->num_nulls = ps_thrift_get_range(
						t, ty2, 0, INT32_MAX);
				} else if ((id != 8 && id2 == 2) ||
					   (id == 8 && id2 == 4)) {
					h->encoding = (int)ps_thrift_get_range(
						t, ty2, 0, 100);
				} else if (id == 8 && id2 == 5) {
					h->def_len = ps_thrift_get_range(
						t, ty2, 0, INT32_MAX);
				} else if (id == 8 && id2 == 6) {
					h->rep_len = ps_thrift_get_range(
						t, ty2, 0, INT32_MAX);
				} else if (id == 8 && id2 == 7) {
					h->v2_compressed = ps_thrift_get_bool(
						t, ty2, 0);
				} else {
					ps_thrift_skip(t, ty2);
				}
			}
			ps_thrift_leave(t);
		} else {
			ps_thrift_skip(t, ty);
		}
	}
}

static uint32_t *tmp32(struct citer *it, size_t n)
{
	if (n > it->captmp) {
		free(it->tmp);
		it->captmp = n;
		it->tmp = ps_xmalloc(n * sizeof(*it->tmp));
	}
	return it->tmp;
}

/*
 * Decode n PLAIN values from [p, end) into out (n of them).  Returns 0 or
 * -1.
 */
static int decode_plain(const struct rcol *c, const uint8_t *p,
			const uint8_t *end, struct ps_pq_value *out, size_t n)
{
	size_t i, avail = (size_t)(end - p);
	int w;

	switch (c->ptype) {
	case T_BOOLEAN:
		if ((n + 7) / 8 > avail)
			return -1;
		for (i = 0; i < n; i++)
			out[i].v.b = (p[i / 8] >> (i % 8)) & 1;
		return 0;
	case T_INT32:
	case T_INT64:
	case T_FLOAT:
	case T_DOUBLE:
		w = c->ptype == T_INT32 || c->ptype == T_FLOAT ? 4 : 8;
		if (n > avail / (size_t)w)
			return -1;
		for (i = 0; i < n; i++, p += w) {
			if (stat_value(c, p, (size_t)w, &out[i]))
				return -1;
		}
		return 0;
	default:
		for (i = 0; i < n; i++) {
			uint32_t len;

			if (end - p < 4)
				return -1;
			len = (uint32_t)le_int(p, 4);
			p += 4;
			if (len > (size_t)(end - p))
				return -1;
			out[i].v.s.p = (const char *)p;
			out[i].v.s.len = len;
			p += len;
		}
		return 0;
	}
}

static const char *enc_name(int enc)
{
	static const char *const names[] = {
		"PLAIN", "GROUP_VAR_INT", "PLAIN_DICTIONARY", "RLE",
		"BIT_PACKED", "DELTA_BINARY_PACKED", "DELTA_LENGTH_BYTE_ARRAY",
		"DELTA_BYTE_ARRAY", "RLE_DICTIONARY", "BYTE_STREAM_SPLIT",
		"ALP",
	};

	if (enc >= 0 && enc < (int)(sizeof(names) / sizeof(names[0])))
		return names[enc];
	return "(unknown)";
}

/* Decompress a page of column col, naming the column in errors. */
static int unpack(const struct ps_pq_reader *r, size_t col, int codec,
		  const void *src, size_t n, void *dst, size_t dn,
		  struct ps_error *e)
{
	char why[sizeof(e->msg)];

	if (!ps_pq_decompress((enum ps_pq_codec)codec, src, n, dst, dn, e))
		return 0;
	snprintf(why, sizeof(why), "%s", e ? e->msg : "");
	return BAD(e, "column '%s': %s", r->cols[col].pub.name, why);
}

static int load_dict(struct ps_pq_reader *r, size_t col,
		     const struct page_header *h, const uint8_t *data,
		     struct ps_error *e)
{
	struct citer *it = &r->it[col];
	const struct rchunk *ch = &r->chunks[r->rg * r->ncols + col];
	size_t i;

	if (it->dict)
		return BAD(e, "column '%s': second dictionary page",
			   r->cols[col].pub.name);
	if (h->num_values > MAX_PAGE_VALUES || h->unc > MAX_PAGE_BYTES)
		return BAD(e, "column '%s': dictionary too large",
			   r->cols[col].pub.name);
	if (h->encoding != E_PLAIN && h->encoding != E_PLAIN_DICTIONARY)
		return BAD(e, "column '%s': unsupported dictionary encoding "
			   "%s", r->cols[col].pub.name, enc_name(h->encoding));
	it->dictbuf = ps_xmalloc(h->unc ? (size_t)h->unc : 1);
	if (unpack(r, col, ch->codec, data, (size_t)h->comp, it->dictbuf,
		   (size_t)h->unc, e))
		return -1;
	it->ndict = (size_t)h->num_values;
	it->dict = ps_xcalloc(it->ndict ? it->ndict : 1, sizeof(*it->dict));
	for (i = 0; i < it->ndict; i++)
		it->dict[i].type = r->cols[col].pub.type;
	if (decode_plain(&r->cols[col], it->dictbuf,
			 it->dictbuf + h->unc, it->dict, it->ndict))
		return BAD(e, "column '%s': corrupt dictionary page",
			   r->cols[col].pub.name);
	return 0;
}

static int level_width(int maxl)
{
	int bw = 0;

	while (maxl) {
		bw++;
		maxl >>= 1;
	}
	return bw;
}

static int decode_values(struct ps_pq_reader *r, size_t col,
			 const struct page_header *h, const uint8_t *p,
			 const uint8_t *end, const uint8_t *defs, size_t defn,
			 const uint8_t *reps, size_t repn, struct ps_error *e)
{
	struct citer *it = &r->it[col];
	const struct rcol *c = &r->cols[col];
	size_t n = (size_t)h->num_values, nn = 0, i, k;
	struct ps_pq_value *vals;
	uint32_t *lv = NULL, maxd = (uint32_t)c->max_def;

	if (n > it->capvals) {
		free(it->vals);
		it->capvals = n;
		it->vals = ps_xmalloc(n * sizeof(*it->vals));
	}
	vals = it->vals;
	if (c->max_rep) {
		if (n > it->capreps) {
			free(it->reps);
			it->capreps = n;
			it->reps = ps_xmalloc(n * sizeof(*it->reps));
		}
		if (ps_pq_rle_decode(reps, repn, level_width(c->max_rep),
				     it->reps, n))
			return BAD(e, "column '%s': corrupt repetition "
				   "levels", c->pub.name);
		for (i = 0; i < n; i++)
			if (it->reps[i] > (uint32_t)c->max_rep)
				return BAD(e, "column '%s': repetition level "
					   "out of range", c->pub.name);
	}
	if (maxd) {
		lv = tmp32(it, n ? n : 1);
		if (ps_pq_rle_decode(defs, defn, level_width(c->max_def), lv,
				     n))
			return BAD(e, "column '%s': corrupt definition levels",
				   c->pub.name);
		for (i = 0; i < n; i++) {
			if (lv[i] > maxd)
				return BAD(e, "column '%s': definition level "
					   "out of range", c->pub.name);
			nn += lv[i] == maxd;
		}
	} else {
		nn = n;
		if (c->nested)
			memset(tmp32(it, n ? n : 1), 0,
			       (n ? n : 1) * sizeof(*it->tmp));
	}
	/* Decode the nn non-null values into the last nn slots. */
	{
		struct ps_pq_value *dst = vals + (n - nn);

		for (i = 0; i < nn; i++) {
			dst[i].is_null = 0;
			dst[i].type = c->pub.type;
		}
		switch (h->encoding) {
		case E_PLAIN:
			if (decode_plain(c, p, end, dst, nn))
				return BAD(e, "column '%s': corrupt PLAIN "
					   "page", c->pub.name);
			break;
		case E_PLAIN_DICTIONARY:
		case E_RLE_DICTIONARY: {
			uint32_t *ix;

			if (!it->dict)
				return BAD(e, "column '%s': dictionary page "
					   "missing", c->pub.name);
			if (p >= end) {
				if (nn)
					return BAD(e, "column '%s': truncated "
						   "page", c->pub.name);
				break;
			}
			if (*p > 32)
				return BAD(e, "column '%s': bad bit width",
					   c->pub.name);
			/* The definition levels are done with. */
			ix = ps_xmalloc((nn ? nn : 1) * sizeof(*ix));
			if (ps_pq_rle_decode(p + 1, (size_t)(end - p - 1), *p,
					     ix, nn)) {
				free(ix);
				return BAD(e, "column '%s': corrupt "
					   "dictionary indices", c->pub.name);
			}
			for (i = 0; i < nn; i++) {
				if (ix[i] >= it->ndict) {
					free(ix);
					return BAD(e, "column '%s': dictionary "
						   "index out of range",
						   c->pub.name);
				}
				dst[i] = it->dict[ix[i]];
			}
			free(ix);
			break;
		}
		case E_RLE: {
			uint32_t *bv;
			size_t len;
			const uint8_t *q = p;

			if (c->ptype != T_BOOLEAN)
				return BAD(e, "column '%s': RLE values are "
					   "only for booleans", c->pub.name);
			if (end - q < 4)
				return BAD(e, "column '%s': truncated page",
					   c->pub.name);
			len = (size_t)(uint32_t)le_int(q, 4);
			q += 4;
			if (len > (size_t)(end - q))
				return BAD(e, "column '%s': truncated page",
					   c->pub.name);
			bv = ps_xmalloc((nn ? nn : 1) * sizeof(*bv));
			if (ps_pq_rle_decode(q, len, 1, bv, nn)) {
				free(bv);
				return BAD(e, "column '%s': corrupt RLE "
					   "booleans", c->pub.name);
			}
			for (i = 0; i < nn; i++)
				dst[i].v.b = (int)bv[i];
			free(bv);
			break;
		}
		default:
			return BAD(e, "column '%s': unsupported encoding %s",
				   c->pub.name, enc_name(h->encoding));
		}
	}
	/* Spread the values over the entries, nulls where the level is not
	 * the maximum. */
	if (maxd) {
		k = n - nn;
		for (i = 0; i < n; i++) {
			if (lv[i] == maxd) {
				vals[i] = vals[k++];
			} else {
				memset(&vals[i], 0, sizeof(vals[i]));
				vals[i].is_null = 1;
				vals[i].type = c->pub.type;
			}
		}
	}
	it->nvals = n;
	it->pos = 0;
	return 0;
}

/* Load the next data page of column col; 0 or -1. */
static int next_page(struct ps_pq_reader *r, size_t col, int64_t rows_left,
		     struct ps_error *e)
{
	struct citer *it = &r->it[col];
	const struct rcol *c = &r->cols[col];
	const struct rchunk *ch = &r->chunks[r->rg * r->ncols + col];
	struct page_header h;
	struct ps_thrift_r t;
	const uint8_t *data;

	for (;;) {
		if (it->p >= it->end)
			return BAD(e, "column '%s': column chunk ends early",
				   c->pub.name);
		ps_thrift_r_init(&t, it->p, (size_t)(it->end - it->p));
		parse_page_header(&t, &h);
		if (t.why)
			return BAD(e, "column '%s': thrift decode error in "
				   "page header (%s)", c->pub.name, t.why);
		it->p = t.p;
		if (h.comp > it->end - it->p)
			return BAD(e, "column '%s': page runs past its column "
				   "chunk", c->pub.name);
		data = it->p;
		it->p += h.comp;
		if (h.type == PT_DICT) {
			if (load_dict(r, col, &h, data, e))
				return -1;
			continue;
		}
		if (h.type == PT_INDEX)
			continue;
		if (h.type != PT_DATA && h.type != PT_DATA_V2)
			return BAD(e, "column '%s': bad page type",
				   c->pub.name);
		break;
	}
	if ((!c->nested && h.num_values > rows_left) ||
	    h.num_values > MAX_PAGE_VALUES)
		return BAD(e, "column '%s': page has more values than rows",
			   c->pub.name);
	if (h.num_values == 0)
		return BAD(e, "column '%s': empty data page", c->pub.name);
	if (h.unc > MAX_PAGE_BYTES)
		return BAD(e, "column '%s': page too large", c->pub.name);
	if ((size_t)h.unc + 1 > it->pagecap) {
		free(it->page);
		it->pagecap = (size_t)h.unc + 1;
		it->page = ps_xmalloc(it->pagecap);
	}
	if (h.type == PT_DATA) {
		const uint8_t *p = it->page, *end = it->page + h.unc;
		const uint8_t *lp[2] = { NULL, NULL };
		uint32_t ll[2] = { 0, 0 };
		int k;

		if (unpack(r, col, ch->codec, data, (size_t)h.comp, it->page,
			   (size_t)h.unc, e))
			return -1;
		/* repetition levels, then definition levels */
		for (k = 0; k < 2; k++) {
			if (!(k ? c->max_def : c->max_rep))
				continue;
			if (end - p < 4)
				return BAD(e, "column '%s': truncated page",
					   c->pub.name);
			ll[k] = (uint32_t)le_int(p, 4);
			p += 4;
			if (ll[k] > (size_t)(end - p))
				return BAD(e, "column '%s': truncated levels",
					   c->pub.name);
			lp[k] = p;
			p += ll[k];
		}
		return decode_values(r, col, &h, p, end, lp[1], ll[1], lp[0],
				     ll[0], e);
	} else {
		size_t lv = (size_t)(h.def_len + h.rep_len);
		const uint8_t *defs;

		if (h.rep_len != 0 && !c->max_rep)
			return BAD(e, "column '%s': repetition levels in a "
				   "flat column", c->pub.name);
		if (lv > (size_t)h.comp || lv > (size_t)h.unc)
			return BAD(e, "column '%s': bad level lengths",
				   c->pub.name);
		memcpy(it->page, data, lv);
		defs = it->page + h.rep_len;
		if (h.v2_compressed) {
			if (unpack(r, col, ch->codec, data + lv,
				   (size_t)h.comp - lv, it->page + lv,
				   (size_t)h.unc - lv, e))
				return -1;
		} else {
			if (h.comp != h.unc)
				return BAD(e, "column '%s': page sizes "
					   "disagree", c->pub.name);
			memcpy(it->page + lv, data + lv, (size_t)h.comp - lv);
		}
		return decode_values(r, col, &h, it->page + lv,
				     it->page + h.unc, defs,
				     (size_t)h.def_len, it->page,
				     (size_t)h.rep_len, e);
	}
}

static void start_group(struct ps_pq_reader *r)
{
	size_t j;

	for (j = 0; j < r->ncols; j++) {
		struct citer *it = &r->it[j];
		const struct rchunk *c = &r->chunks[r->rg * r->ncols + j];

		free(it->dictbuf);
		free(it->dict);
		it->dictbuf = NULL;
		it->dict = NULL;
		it->ndict = 0;
		it->nvals = it->pos = 0;
		it->p = r->data + c->start;
		it->end = r->data + c->end;
	}
	r->row = 0;
}

/* The range rule of lib/pstime for DATE and TIMESTAMP values read back. */
static int value_in_range(const struct ps_pq_value *v)
{
	if (v->type == PS_PQ_TIMESTAMP)
		return ps_time_in_range(v->v.i);
	if (v->type == PS_PQ_DATE)
		return ps_date_in_range(v->v.i);
	return 1;
}

int ps_pq_next(struct ps_pq_reader *r, struct ps_error *e)
{
	size_t j, k;

	r->have_row = 0;
	if (!r->started) {
		r->started = 1;
		r->rg = 0;
		if (r->nrg)
			start_group(r);
	}
	while (r->rg < r->nrg && r->row >= r->rg_rows[r->rg]) {
		/* A nested column must end with the row group's last row. */
		for (j = 0; j < r->ncols; j++) {
			const struct citer *it = &r->it[j];

			if (r->cols[j].nested &&
			    (it->pos < it->nvals || it->p < it->end)) {
				r->rg = r->nrg;
				return BAD(e, "column '%s': more values than "
					   "rows (or a record spanning data "
					   "pages)", r->cols[j].pub.name);
			}
		}
		r->rg++;
		if (r->rg < r->nrg)
			start_group(r);
	}
	if (r->rg >= r->nrg)
		return 0;
	for (j = 0; j < r->ncols; j++) {
		struct citer *it = &r->it[j];

		if (r->skip && r->skip[j]) {
			r->cur[j].is_null = 1;
			continue;
		}
		if (it->pos >= it->nvals &&
		    next_page(r, j, r->rg_rows[r->rg] - r->row, e)) {
			r->rg = r->nrg;	/* stop here */
			return -1;
		}
		if (!r->cols[j].nested) {
			r->cur[j] = it->vals[it->pos++];
			if (!r->cur[j].is_null &&
			    !value_in_range(&r->cur[j])) {
				r->rg = r->nrg;
				return ps_error_set(e, PS_EX_DATAERR, "row %lld:"
						    " %s is %s",
						    (long long)r->row + 1,
						    r->cols[j].pub.name,
						    PS_TIME_RANGE_WHY);
			}
			continue;
		}
		/* The row's entries: up to the next repetition level 0. */
		if (r->cols[j].max_rep && it->reps[it->pos] != 0) {
			r->rg = r->nrg;
			return BAD(e, "column '%s': a record spans data pages "
				   "(unsupported)", r->cols[j].pub.name);
		}
		it->row_start = it->cursor = it->pos++;
		while (r->cols[j].max_rep && it->pos < it->nvals &&
		       it->reps[it->pos] != 0)
			it->pos++;
		it->row_end = it->pos;
		for (k = it->row_start; k < it->row_end; k++) {
			if (!it->vals[k].is_null &&
			    !value_in_range(&it->vals[k])) {
				r->rg = r->nrg;
				return ps_error_set(e, PS_EX_DATAERR, "row %lld:"
						    " %s is %s",
						    (long long)r->row + 1,
						    r->cols[j].pub.name,
						    PS_TIME_RANGE_WHY);
			}
		}
		memset(&r->cur[j], 0, sizeof(r->cur[j]));
		r->cur[j].is_null = 1;
		r->cur[j].type = r->cols[j].pub.type;
	}
	r->row++;
	r->have_row = 1;
	return 1;
}

void ps_pq_reader_select(struct ps_pq_reader *r, const int *cols, size_t n)
{
	size_t i;

	free(r->skip);
	r->skip = NULL;
	if (!cols)
		return;
	r->skip = ps_xmalloc(r->ncols ? r->ncols : 1);
	memset(r->skip, 1, r->ncols);
	for (i = 0; i < n; i++)
		if (cols[i] >= 0 && (size_t)cols[i] < r->ncols)
			r->skip[cols[i]] = 0;
}

const struct ps_pq_value *ps_pq_value(const struct ps_pq_reader *r,
				      size_t col)
{
	if (!r->have_row || col >= r->ncols || r->cols[col].nested)
		return NULL;
	return &r->cur[col];
}

/* ---- JSON ---- */

void ps_pq_value_json(const struct ps_pq_value *v, struct ps_buf *b)
{
	char tmp[PS_TIME_MAX];
	int64_t y;
	unsigned m, d;

	if (v->is_null) {
		ps_buf_adds(b, "null");
		return;
	}
	switch (v->type) {
	case PS_PQ_INT32:
	case PS_PQ_INT64:
		ps_buf_add_i64(b, v->v.i);
		break;
	case PS_PQ_DOUBLE:
		ps_json_add_double(b, v->v.d);
		break;
	case PS_PQ_BOOL:
		ps_buf_adds(b, v->v.b ? "true" : "false");
		break;
	case PS_PQ_STRING:
		ps_json_add_str(b, v->v.s.p, v->v.s.len);
		break;
	case PS_PQ_DATE:
		/* in range: ps_pq_next checked it */
		ps_civil_from_days(v->v.i, &y, &m, &d);
		ps_buf_addf(b, "\"%04lld-%02u-%02u\"", (long long)y, m, d);
		break;
	case PS_PQ_TIMESTAMP:
		ps_buf_addc(b, '"');
		ps_buf_add(b, tmp, ps_time_format(v->v.i, tmp, -1));
		ps_buf_addc(b, '"');
		break;
	}
}

/*
 * Record assembly (Dremel): each leaf's entries of the current row are
 * it->tmp (definition levels), it->reps and it->vals from row_start to
 * row_end; it->cursor is the next entry to consume.  All leaves under a
 * node agree on whether an instance of the node is defined, so the first
 * leaf decides; an undefined instance takes one entry from every leaf
 * under it.
 */
static void emit_node(struct ps_pq_reader *r, size_t ni, struct ps_buf *b);

static uint32_t entry_def(const struct ps_pq_reader *r, size_t leaf)
{
	const struct citer *it = &r->it[leaf];

	if (it->cursor >= it->row_end)
		return 0;	/* corrupt: treat as undefined */
	return r->cols[leaf].max_def ? it->tmp[it->cursor] : 0;
}

static void skip_instance(struct ps_pq_reader *r, size_t ni)
{
	const struct rnode *n = &r->nodes[ni];
	size_t k, nl = 0;

	for (k = ni; k < ni + n->size; k++)
		nl += r->nodes[k].nchildren == 0;
	for (k = 0; k < nl; k++) {
		struct citer *it = &r->it[n->first_leaf + k];

		if (it->cursor < it->row_end)
			it->cursor++;
	}
}

/* The value of node ni for an instance known to be defined. */
static void emit_instance(struct ps_pq_reader *r, size_t ni,
			  struct ps_buf *b);

/* Elements of repeated node ni (inside a defined parent) as a JSON array
 * ('[') or, for a MAP's key_value, as an object ('{'). */
static void emit_repeated(struct ps_pq_reader *r, size_t ni, int map,
			  struct ps_buf *b)
{
	const struct rnode *n = &r->nodes[ni];
	size_t leaf = n->first_leaf, first = 1;
	struct citer *it = &r->it[leaf];
	struct ps_buf key = PS_BUF_INIT;

	ps_buf_addc(b, map ? '{' : '[');
	if (entry_def(r, leaf) < (uint32_t)n->dl) {
		skip_instance(r, ni);	/* empty */
		ps_buf_addc(b, map ? '}' : ']');
		return;
	}
	for (;;) {
		if (!first)
			ps_buf_addc(b, ',');
		first = 0;
		if (map) {
			ps_buf_reset(&key);
			emit_node(r, ni + 1, &key);
			if (key.len && key.data[0] == '"')
				ps_buf_add(b, key.data, key.len);
			else
				ps_json_add_str(b, key.data, key.len);
			ps_buf_addc(b, ':');
			emit_node(r, ni + 1 + r->nodes[ni + 1].size, b);
		} else if (n->nchildren == 1) {
			emit_node(r, ni + 1, b);	/* 3-level list */
		} else {
			emit_instance(r, ni, b);
		}
		if (it->cursor >= it->row_end ||
		    it->reps[it->cursor] != (uint32_t)n->rl)
			break;
	}
	ps_buf_release(&key);
	ps_buf_addc(b, map ? '}' : ']');
}

static void emit_instance(struct ps_pq_reader *r, size_t ni,
			  struct ps_buf *b)
{
	const struct rnode *n = &r->nodes[ni];
	size_t i, kid;

	if (n->nchildren == 0) {
		struct citer *it = &r->it[n->leaf];

		if (it->cursor < it->row_end)
			ps_pq_value_json(&it->vals[it->cursor++], b);
		else
			ps_buf_adds(b, "null");
		return;
	}
	if (n->annot) {
		emit_repeated(r, ni + 1, n->annot == A_MAP, b);
		return;
	}
	ps_buf_addc(b, '{');
	for (i = 0, kid = ni + 1; i < n->nchildren; i++) {
		if (i)
			ps_buf_addc(b, ',');
		ps_json_add_str(b, r->nodes[kid].name,
				strlen(r->nodes[kid].name));
		ps_buf_addc(b, ':');
		emit_node(r, kid, b);
		kid += r->nodes[kid].size;
	}
	ps_buf_addc(b, '}');
}

static void emit_node(struct ps_pq_reader *r, size_t ni, struct ps_buf *b)
{
	const struct rnode *n = &r->nodes[ni];

	if (n->rep == 2) {
		emit_repeated(r, ni, 0, b);
		return;
	}
	if (n->rep == 1 && entry_def(r, n->first_leaf) < (uint32_t)n->dl) {
		skip_instance(r, ni);
		ps_buf_adds(b, "null");
		return;
	}
	emit_instance(r, ni, b);
}

void ps_pq_row_json(const struct ps_pq_reader *r, struct ps_buf *b)
{
	size_t i;

	if (r->nested && r->have_row) {
		struct ps_pq_reader *w = (struct ps_pq_reader *)r;
		size_t ni, k;

		/* assembly moves the cursors: start each from the row */
		for (k = 0; k < r->ncols; k++)
			w->it[k].cursor = w->it[k].row_start;
		ps_buf_addc(b, '{');
		for (i = 0, ni = 0; i < r->ntop; i++) {
			if (i)
				ps_buf_addc(b, ',');
			ps_json_add_str(b, r->nodes[ni].name,
					strlen(r->nodes[ni].name));
			ps_buf_addc(b, ':');
			if (r->nodes[ni].nchildren == 0 &&
			    !r->cols[r->nodes[ni].leaf].nested)
				ps_pq_value_json(&r->cur[r->nodes[ni].leaf],
						 b);
			else
				emit_node(w, ni, b);
			ni += r->nodes[ni].size;
		}
		ps_buf_addc(b, '}');
		return;
	}
	ps_buf_addc(b, '{');
	for (i = 0; i < r->ncols; i++) {
		if (i)
			ps_buf_addc(b, ',');
		ps_json_add_str(b, r->cols[i].pub.name,
				strlen(r->cols[i].pub.name));
		ps_buf_addc(b, ':');
		if (r->have_row)
			ps_pq_value_json(&r->cur[i], b);
		else
			ps_buf_adds(b, "null");
	}
	ps_buf_addc(b, '}');
}

void ps_pq_meta_json(const struct ps_pq_reader *r, struct ps_buf *b)
{
	struct ps_pq_stats st;
	size_t i, j;

	ps_buf_adds(b, "{\"rows\":");
	ps_buf_add_i64(b, r->nrows);
	ps_buf_adds(b, ",\"created_by\":");
	if (r->created_by)
		ps_json_add_str(b, r->created_by, strlen(r->created_by));
	else
		ps_buf_adds(b, "null");
	ps_buf_adds(b, ",\"key_value\":{");
	for (i = 0; i < r->nkv; i++) {
		if (i)
			ps_buf_addc(b, ',');
		ps_json_add_str(b, r->kv[i].key, strlen(r->kv[i].key));
		ps_buf_addc(b, ':');
		if (r->kv[i].value)
			ps_json_add_str(b, r->kv[i].value,
					strlen(r->kv[i].value));
		else
			ps_buf_adds(b, "null");
	}
	ps_buf_adds(b, "},\"schema\":[");
	for (i = 0; i < r->ncols; i++) {
		const struct ps_pq_column *c = &r->cols[i].pub;

		ps_buf_adds(b, i ? ",{\"name\":" : "{\"name\":");
		ps_json_add_str(b, c->name, strlen(c->name));
		ps_buf_addf(b, ",\"type\":\"%s\",\"nullable\":%s}",
			    ps_pq_type_name(c->type),
			    c->nullable ? "true" : "false");
	}
	ps_buf_adds(b, "],\"row_groups\":[");
	for (i = 0; i < r->nrg; i++) {
		ps_buf_adds(b, i ? ",{\"rows\":" : "{\"rows\":");
		ps_buf_add_i64(b, r->rg_rows[i]);
		ps_buf_adds(b, ",\"columns\":[");
		for (j = 0; j < r->ncols; j++) {
			ps_pq_reader_stats(r, i, j, &st);
			ps_buf_adds(b, j ? ",{\"name\":" : "{\"name\":");
			ps_json_add_str(b, r->cols[j].pub.name,
					strlen(r->cols[j].pub.name));
			ps_buf_addf(b, ",\"codec\":\"%s\",\"dictionary\":%s,"
				    "\"compressed_bytes\":%lld,"
				    "\"uncompressed_bytes\":%lld,"
				    "\"null_count\":",
				    ps_pq_codec_name(st.codec),
				    st.has_dict ? "true" : "false",
				    (long long)st.compressed_bytes,
				    (long long)st.uncompressed_bytes);
			if (st.has_null_count)
				ps_buf_add_i64(b, st.null_count);
			else
				ps_buf_adds(b, "null");
			ps_buf_adds(b, ",\"min\":");
			if (st.has_min_max)
				ps_pq_value_json(&st.min, b);
			else
				ps_buf_adds(b, "null");
			ps_buf_adds(b, ",\"max\":");
			if (st.has_min_max)
				ps_pq_value_json(&st.max, b);
			else
				ps_buf_adds(b, "null");
			ps_buf_addc(b, '}');
		}
		ps_buf_adds(b, "]}");
	}
	ps_buf_adds(b, "]}");
}

/*
 * thrift.c - Thrift compact protocol encoder and decoder (see thrift.h).
 */
#include <assert.h>
#include <string.h>

#include "thrift.h"
#include "banned.h"

void ps_thrift_w_init(struct ps_thrift_w *w, struct ps_buf *b)
{
	w->b = b;
	w->depth = 0;
	w->last[0] = 0;
}

void ps_thrift_put_varint(struct ps_buf *b, uint64_t v)
{
	uint8_t tmp[10];
	size_t n = 0;

	while (v >= 0x80) {
		tmp[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	tmp[n++] = (uint8_t)v;
	ps_buf_add(b, tmp, n);
}

void ps_thrift_put_zigzag(struct ps_buf *b, int64_t v)
{
	ps_thrift_put_varint(b, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

void ps_thrift_put_binary(struct ps_buf *b, const void *p, size_t n)
{
	ps_thrift_put_varint(b, n);
	if (n)
		ps_buf_add(b, p, n);
}

void ps_thrift_field(struct ps_thrift_w *w, int16_t id,
		     enum ps_thrift_type type)
{
	int delta = id - w->last[w->depth];

	if (delta > 0 && delta <= 15) {
		ps_buf_addc(w->b, (char)(delta << 4 | type));
	} else {
		ps_buf_addc(w->b, (char)type);
		ps_thrift_put_zigzag(w->b, id);
	}
	w->last[w->depth] = id;
}

void ps_thrift_i32(struct ps_thrift_w *w, int16_t id, int32_t v)
{
	ps_thrift_field(w, id, PS_THRIFT_I32);
	ps_thrift_put_zigzag(w->b, v);
}

void ps_thrift_i64(struct ps_thrift_w *w, int16_t id, int64_t v)
{
	ps_thrift_field(w, id, PS_THRIFT_I64);
	ps_thrift_put_zigzag(w->b, v);
}

void ps_thrift_bool(struct ps_thrift_w *w, int16_t id, int v)
{
	ps_thrift_field(w, id, v ? PS_THRIFT_TRUE : PS_THRIFT_FALSE);
}

void ps_thrift_double(struct ps_thrift_w *w, int16_t id, double v)
{
	uint8_t tmp[8];
	uint64_t u;
	int i;

	memcpy(&u, &v, 8);
	for (i = 0; i < 8; i++)
		tmp[i] = (uint8_t)(u >> (8 * i));
	ps_thrift_field(w, id, PS_THRIFT_DOUBLE);
	ps_buf_add(w->b, tmp, 8);
}

void ps_thrift_binary(struct ps_thrift_w *w, int16_t id, const void *p,
		      size_t n)
{
	ps_thrift_field(w, id, PS_THRIFT_BINARY);
	ps_thrift_put_binary(w->b, p, n);
}

void ps_thrift_list(struct ps_thrift_w *w, int16_t id,
		    enum ps_thrift_type elem_type, size_t n)
{
	ps_thrift_field(w, id, PS_THRIFT_LIST);
	if (n < 15) {
		ps_buf_addc(w->b, (char)(n << 4 | elem_type));
	} else {
		ps_buf_addc(w->b, (char)(0xf0 | elem_type));
		ps_thrift_put_varint(w->b, n);
	}
}

void ps_thrift_begin(struct ps_thrift_w *w, int16_t id)
{
	if (id > 0)
		ps_thrift_field(w, id, PS_THRIFT_STRUCT);
	assert(w->depth < PS_THRIFT_MAX_DEPTH);
	w->last[++w->depth] = 0;
}

void ps_thrift_end(struct ps_thrift_w *w)
{
	ps_buf_addc(w->b, 0);
	if (w->depth > 0)
		w->depth--;
}

/* ---- decoder ---- */

void ps_thrift_r_init(struct ps_thrift_r *r, const void *p, size_t n)
{
	r->p = p;
	r->end = r->p + n;
	r->why = NULL;
	r->depth = 0;
	r->last[0] = 0;
}

int ps_thrift_fail(struct ps_thrift_r *r, const char *why)
{
	if (!r->why)
		r->why = why;
	r->p = r->end;
	return -1;
}

static int get_byte(struct ps_thrift_r *r, uint8_t *c)
{
	if (r->why || r->p >= r->end) {
		ps_thrift_fail(r, "truncated");
		*c = 0;
		return -1;
	}
	*c = *r->p++;
	return 0;
}

uint64_t ps_thrift_get_varint(struct ps_thrift_r *r)
{
	uint64_t v = 0;
	uint8_t c;
	int shift;

	for (shift = 0; shift < 70; shift += 7) {
		if (get_byte(r, &c))
			return 0;
		if (shift == 63 && (c & 0x7e)) {
			ps_thrift_fail(r, "varint overflow");
			return 0;
		}
		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return v;
	}
	ps_thrift_fail(r, "varint too long");
	return 0;
}

static int64_t unzigzag(uint64_t u)
{
	return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

int ps_thrift_next(struct ps_thrift_r *r, enum ps_thrift_type *type,
		   int16_t *id)
{
	uint8_t c;
	int64_t fid;

	*type = PS_THRIFT_STOP;
	*id = 0;
	if (get_byte(r, &c) || c == 0)
		return 0;
	if ((c & 0x0f) > PS_THRIFT_STRUCT) {
		ps_thrift_fail(r, "bad field type");
		return 0;
	}
	if (c >> 4) {
		fid = r->last[r->depth] + (c >> 4);
	} else {
		fid = unzigzag(ps_thrift_get_varint(r));
		if (r->why)
			return 0;
	}
	if (fid < -32768 || fid > 32767) {
		ps_thrift_fail(r, "bad field id");
		return 0;
	}
	r->last[r->depth] = (int16_t)fid;
	*type = (enum ps_thrift_type)(c & 0x0f);
	*id = (int16_t)fid;
	return 1;
}

int64_t ps_thrift_get_int(struct ps_thrift_r *r, enum ps_thrift_type type)
{
	uint8_t c;
	int64_t v;

	switch (type) {
	case PS_THRIFT_BYTE:
		if (get_byte(r, &c))
			return 0;
		return (int8_t)c;
	case PS_THRIFT_I16:
	case PS_THRIFT_I32:
	case PS_THRIFT_I64:
		v = unzigzag(ps_thrift_get_varint(r));
		if ((type == PS_THRIFT_I16 && (v < -32768 || v > 32767)) ||
		    (type == PS_THRIFT_I32 &&
		     (v < INT32_MIN || v > INT32_MAX))) {
			ps_thrift_fail(r, "integer out of range");
			return 0;
		}
		return r->why ? 0 : v;
	default:
		ps_thrift_fail(r, "integer expected");
		return 0;
	}
}

int64_t ps_thrift_get_range(struct ps_thrift_r *r, enum ps_thrift_type type,
			    int64_t lo, int64_t hi)
{
	int64_t v = ps_thrift_get_int(r, type);

	if (v < lo || v > hi) {
		ps_thrift_fail(r, "value out of range");
		return lo;
	}
	return v;
}

double ps_thrift_get_double(struct ps_thrift_r *r)
{
	uint64_t u = 0;
	double d;
	int i;

	if (r->why || r->end - r->p < 8) {
		ps_thrift_fail(r, "truncated");
		return 0;
	}
	for (i = 0; i < 8; i++)
		u |= (uint64_t)r->p[i] << (8 * i);
	r->p += 8;
	memcpy(&d, &u, 8);
	return d;
}

int ps_thrift_get_bool(struct ps_thrift_r *r, enum ps_thrift_type type,
		       int in_list)
{
	uint8_t c;

	if (in_list) {
		if (get_byte(r, &c))
			return 0;
		return c == 1;
	}
	if (type != PS_THRIFT_TRUE && type != PS_THRIFT_FALSE) {
		ps_thrift_fail(r, "boolean expected");
		return 0;
	}
	return type == PS_THRIFT_TRUE;
}

size_t ps_thrift_get_binary(struct ps_thrift_r *r, const uint8_t **p)
{
	uint64_t n = ps_thrift_get_varint(r);

	*p = r->p;
	if (r->why)
		return 0;
	if (n > (uint64_t)(r->end - r->p)) {
		ps_thrift_fail(r, "truncated binary");
		return 0;
	}
	r->p += n;
	return (size_t)n;
}

size_t ps_thrift_get_list(struct ps_thrift_r *r, enum ps_thrift_type *elem)
{
	uint8_t c;
	uint64_t n;

	*elem = PS_THRIFT_STOP;
	if (get_byte(r, &c))
		return 0;
	n = c >> 4;
	if (n == 15)
		n = ps_thrift_get_varint(r);
	*elem = (enum ps_thrift_type)(c & 0x0f);
	if (*elem == PS_THRIFT_TRUE)
		*elem = PS_THRIFT_FALSE;	/* some writers use 1 */
	if (r->why)
		return 0;
	if (*elem == PS_THRIFT_STOP || *elem > PS_THRIFT_STRUCT) {
		ps_thrift_fail(r, "bad list element type");
		return 0;
	}
	/* Every element takes at least one byte. */
	if (n > (uint64_t)(r->end - r->p)) {
		ps_thrift_fail(r, "list longer than its data");
		return 0;
	}
	return (size_t)n;
}

void ps_thrift_enter(struct ps_thrift_r *r)
{
	if (r->depth >= PS_THRIFT_MAX_DEPTH) {
		ps_thrift_fail(r, "nested too deeply");
		return;
	}
	r->last[++r->depth] = 0;
}

void ps_thrift_leave(struct ps_thrift_r *r)
{
	if (r->depth > 0)
		r->depth--;
}

void ps_thrift_skip(struct ps_thrift_r *r, enum ps_thrift_type type)
{
	enum ps_thrift_type t, kt, vt;
	const uint8_t *p;
	int16_t id;
	size_t n, i;
	uint8_t c;

	if (r->why)
		return;
	switch (type) {
	case PS_THRIFT_TRUE:
	case PS_THRIFT_FALSE:
		break;	/* the value was in the field type */
	case PS_THRIFT_BYTE:
	case PS_THRIFT_I16:
	case PS_THRIFT_I32:
	case PS_THRIFT_I64:
		ps_thrift_get_int(r, type);
		break;
	case PS_THRIFT_DOUBLE:
		ps_thrift_get_double(r);
		break;
	case PS_THRIFT_BINARY:
		ps_thrift_get_binary(r, &p);
		break;
	case PS_THRIFT_LIST:
	case PS_THRIFT_SET:
		n = ps_thrift_get_list(r, &t);
		if (r->depth >= PS_THRIFT_MAX_DEPTH) {
			ps_thrift_fail(r, "nested too deeply");
			break;
		}
		r->depth++;
		for (i = 0; i < n && !r->why; i++) {
			if (t == PS_THRIFT_FALSE)
				get_byte(r, &c);
			else
				ps_thrift_skip(r, t);
		}
		r->depth--;
		break;
	case PS_THRIFT_MAP:
		n = (size_t)ps_thrift_get_varint(r);
		if (n == 0)
			break;
		if (get_byte(r, &c))
			break;
		kt = (enum ps_thrift_type)(c >> 4);
		vt = (enum ps_thrift_type)(c & 0x0f);
		if (n > (size_t)(r->end - r->p) || kt == PS_THRIFT_STOP ||
		    vt == PS_THRIFT_STOP || kt > PS_THRIFT_STRUCT ||
		    vt > PS_THRIFT_STRUCT) {
			ps_thrift_fail(r, "bad map header");
			break;
		}
		if (r->depth >= PS_THRIFT_MAX_DEPTH) {
			ps_thrift_fail(r, "nested too deeply");
			break;
		}
		r->depth++;
		for (i = 0; i < n && !r->why; i++) {
			if (kt <= PS_THRIFT_FALSE)
				get_byte(r, &c);
			else
				ps_thrift_skip(r, kt);
			if (vt <= PS_THRIFT_FALSE)
				get_byte(r, &c);
			else
				ps_thrift_skip(r, vt);
		}
		r->depth--;
		break;
	case PS_THRIFT_STRUCT:
		ps_thrift_enter(r);
		while (ps_thrift_next(r, &t, &id))
			ps_thrift_skip(r, t);
		ps_thrift_leave(r);
		break;
	default:
		ps_thrift_fail(r, "bad type");
	}
}

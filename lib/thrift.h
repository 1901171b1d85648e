/*
 * thrift.h - the Thrift compact protocol, as much as Parquet metadata needs.
 *
 * The encoder appends to a struct ps_buf and cannot fail.  The decoder reads
 * a bounded byte range; every read is bounds-checked and the first problem
 * makes the decoder "failed" (r->why says why): from then on every read
 * returns zero values and no field, so callers may check once at the end.
 * Nesting is limited to PS_THRIFT_MAX_DEPTH structs, lists and maps.
 *
 * Field ids and types follow the compact protocol specification: a field
 * header is (delta << 4 | type) when the id grows by 1..15, else the type
 * byte and the id as a zigzag varint; integers are zigzag varints; doubles
 * 8 bytes little-endian; binary a varint length and the bytes; booleans
 * live in the field type (1 true, 2 false), or as one byte in lists.
 */
#ifndef PS_THRIFT_H
#define PS_THRIFT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

enum ps_thrift_type {
	PS_THRIFT_STOP = 0,
	PS_THRIFT_TRUE = 1,	/* boolean field, value true */
	PS_THRIFT_FALSE = 2,	/* boolean field, value false; in lists and
				   maps the element type of booleans */
	PS_THRIFT_BYTE = 3,
	PS_THRIFT_I16 = 4,
	PS_THRIFT_I32 = 5,
	PS_THRIFT_I64 = 6,
	PS_THRIFT_DOUBLE = 7,
	PS_THRIFT_BINARY = 8,
	PS_THRIFT_LIST = 9,
	PS_THRIFT_SET = 10,
	PS_THRIFT_MAP = 11,
	PS_THRIFT_STRUCT = 12,
};

#define PS_THRIFT_MAX_DEPTH 32

/* ---- encoder ---- */

struct ps_thrift_w {
	struct ps_buf *b;	/* not owned */
	int depth;
	int16_t last[PS_THRIFT_MAX_DEPTH + 1];
};

/*
 * Start encoding the top-level struct into b (appending).  Calls must nest
 * properly and stay within PS_THRIFT_MAX_DEPTH (a programming error
 * otherwise, checked by assert).
 */
void ps_thrift_w_init(struct ps_thrift_w *w, struct ps_buf *b);

/* Raw values (no field header): for list elements. */
void ps_thrift_put_varint(struct ps_buf *b, uint64_t v);
void ps_thrift_put_zigzag(struct ps_buf *b, int64_t v);
void ps_thrift_put_binary(struct ps_buf *b, const void *p, size_t n);

/* A field header for field id of the given type. */
void ps_thrift_field(struct ps_thrift_w *w, int16_t id,
		     enum ps_thrift_type type);

/* Whole fields: header plus value. */
void ps_thrift_i32(struct ps_thrift_w *w, int16_t id, int32_t v);
void ps_thrift_i64(struct ps_thrift_w *w, int16_t id, int64_t v);
void ps_thrift_bool(struct ps_thrift_w *w, int16_t id, int v);
void ps_thrift_double(struct ps_thrift_w *w, int16_t id, double v);
void ps_thrift_binary(struct ps_thrift_w *w, int16_t id, const void *p,
		      size_t n);
static inline void ps_thrift_string(struct ps_thrift_w *w, int16_t id,
				    const char *s)
{
	ps_thrift_binary(w, id, s, strlen(s));
}

/* A list field of n elements of elem_type; write the elements next. */
void ps_thrift_list(struct ps_thrift_w *w, int16_t id,
		    enum ps_thrift_type elem_type, size_t n);

/* A struct field (id > 0) or a struct list element (id == 0); then its
 * fields, then ps_thrift_end. */
void ps_thrift_begin(struct ps_thrift_w *w, int16_t id);
/* End the innermost struct (or the top-level one): writes the stop byte. */
void ps_thrift_end(struct ps_thrift_w *w);

/* ---- decoder ---- */

struct ps_thrift_r {
	const uint8_t *p, *end;
	const char *why;	/* NULL while all is well */
	int depth;
	int16_t last[PS_THRIFT_MAX_DEPTH + 1];
};

/* Decode the n bytes at p, positioned at the start of a top-level struct. */
void ps_thrift_r_init(struct ps_thrift_r *r, const void *p, size_t n);

/* Mark r failed with reason why (kept if already failed).  Returns -1. */
int ps_thrift_fail(struct ps_thrift_r *r, const char *why);

/*
 * Read the next field header of the current struct.  Returns 1 with *type
 * and *id set, or 0 at the struct's stop byte or when r has failed.
 */
int ps_thrift_next(struct ps_thrift_r *r, enum ps_thrift_type *type,
		   int16_t *id);

/* Values, after a field header of that type (or as list elements). */
uint64_t ps_thrift_get_varint(struct ps_thrift_r *r);
/* Any integer type (BYTE, I16, I32, I64), sign-extended. */
int64_t ps_thrift_get_int(struct ps_thrift_r *r, enum ps_thrift_type type);
/* An integer that must fit in [lo, hi]; fails r otherwise. */
int64_t ps_thrift_get_range(struct ps_thrift_r *r, enum ps_thrift_type type,
			    int64_t lo, int64_t hi);
double ps_thrift_get_double(struct ps_thrift_r *r);
/* A boolean field (type TRUE/FALSE) or element (type FALSE, one byte). */
int ps_thrift_get_bool(struct ps_thrift_r *r, enum ps_thrift_type type,
		       int in_list);
/* Binary: *p points into the input; returns its length (0 on failure). */
size_t ps_thrift_get_binary(struct ps_thrift_r *r, const uint8_t **p);
/*
 * A list (or set) header: returns the element count and sets *elem.  The
 * count is checked against the bytes left.  Element structs are read with
 * ps_thrift_enter / ps_thrift_next ... / ps_thrift_leave.
 */
size_t ps_thrift_get_list(struct ps_thrift_r *r, enum ps_thrift_type *elem);

/* Enter a struct value (after a STRUCT field header or as a list
 * element); ps_thrift_leave after ps_thrift_next returned 0. */
void ps_thrift_enter(struct ps_thrift_r *r);
void ps_thrift_leave(struct ps_thrift_r *r);

/* Skip a value of the given type (unknown fields). */
void ps_thrift_skip(struct ps_thrift_r *r, enum ps_thrift_type type);

#endif

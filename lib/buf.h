/*
 * buf.h - a growable byte buffer (after git's strbuf).
 *
 * The buffer owns data; data is always NUL-terminated after len bytes once
 * anything was added, but may contain NUL bytes itself: always use len.
 * Allocation failure aborts the process (PulseStream treats out of memory
 * as fatal, like git's xmalloc).
 */
#ifndef PS_BUF_H
#define PS_BUF_H

#include <stddef.h>
#include <string.h>

struct ps_buf {
	char *data;
	size_t len;
	size_t cap;
};

#define PS_BUF_INIT { NULL, 0, 0 }

/* Make room for at least n more bytes (plus the NUL). Cannot fail. */
void ps_buf_grow(struct ps_buf *b, size_t n);

/* Free the buffer and reset it to PS_BUF_INIT. */
void ps_buf_release(struct ps_buf *b);

/* Give the caller the data (malloc'd, NUL-terminated; free() it). */
char *ps_buf_detach(struct ps_buf *b, size_t *len);

/* Set len to 0, keeping the allocation. */
static inline void ps_buf_reset(struct ps_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

static inline void ps_buf_add(struct ps_buf *b, const void *p, size_t n)
{
	if (b->cap - b->len <= n)
		ps_buf_grow(b, n);
	if (n)	/* p may be NULL when n is 0 (memcpy's would be UB) */
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

static inline void ps_buf_addc(struct ps_buf *b, char c)
{
	if (b->cap - b->len <= 1)
		ps_buf_grow(b, 1);
	b->data[b->len++] = c;
	b->data[b->len] = '\0';
}

static inline void ps_buf_adds(struct ps_buf *b, const char *s)
{
	ps_buf_add(b, s, strlen(s));
}

/* Append printf-formatted text. */
void ps_buf_addf(struct ps_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Append the decimal form of v (fast, no locale). */
void ps_buf_add_i64(struct ps_buf *b, long long v);

/* Allocation helpers that abort on failure. */
void *ps_xmalloc(size_t n);
void *ps_xcalloc(size_t n, size_t size);
void *ps_xrealloc(void *p, size_t n);
char *ps_xstrdup(const char *s);
char *ps_xmemdup(const void *p, size_t n);	/* adds a NUL */

#endif

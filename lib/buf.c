/* buf.c - see buf.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "banned.h"

static void oom(void)
{
	static const char msg[] = "pulsestream: out of memory\n";

	if (write(2, msg, sizeof(msg) - 1) < 0)
		abort();
	abort();
}

void *ps_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		oom();
	return p;
}

void *ps_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		oom();
	return p;
}

void *ps_xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		oom();
	return p;
}

char *ps_xstrdup(const char *s)
{
	return ps_xmemdup(s, strlen(s));
}

char *ps_xmemdup(const void *p, size_t n)
{
	char *d = ps_xmalloc(n + 1);

	memcpy(d, p, n);
	d[n] = '\0';
	return d;
}

void ps_buf_grow(struct ps_buf *b, size_t n)
{
	size_t want = b->len + n + 1;
	size_t cap = b->cap ? b->cap : 64;

	if (want < b->len)	/* overflow */
		oom();
	while (cap < want) {
		if (cap > (size_t)-1 / 2)
			oom();
		cap *= 2;
	}
	if (cap != b->cap) {
		b->data = ps_xrealloc(b->data, cap);
		b->cap = cap;
	}
}

void ps_buf_release(struct ps_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

char *ps_buf_detach(struct ps_buf *b, size_t *len)
{
	char *d;

	if (!b->data)
		ps_buf_grow(b, 0);
	b->data[b->len] = '\0';
	d = b->data;
	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return d;
}

void ps_buf_addf(struct ps_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(b->data ? b->data + b->len : NULL,
		      b->data ? b->cap - b->len : 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (!b->data || (size_t)n >= b->cap - b->len) {
		ps_buf_grow(b, (size_t)n);
		va_start(ap, fmt);
		vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

void ps_buf_add_i64(struct ps_buf *b, long long v)
{
	char tmp[24];
	char *p = tmp + sizeof(tmp);
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v
				     : (unsigned long long)v;

	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--p = '-';
	ps_buf_add(b, p, (size_t)(tmp + sizeof(tmp) - p));
}

/* base64.c - see base64.h. */
#include "base64.h"
#include "banned.h"

static const char alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void ps_base64_encode(struct ps_buf *b, const void *p, size_t n)
{
	const unsigned char *s = p;
	size_t i;
	char *o;

	ps_buf_grow(b, (n + 2) / 3 * 4);
	o = b->data + b->len;
	for (i = 0; i + 2 < n; i += 3) {
		unsigned v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8 |
			     s[i + 2];

		*o++ = alphabet[v >> 18];
		*o++ = alphabet[v >> 12 & 63];
		*o++ = alphabet[v >> 6 & 63];
		*o++ = alphabet[v & 63];
	}
	if (i < n) {
		unsigned v = (unsigned)s[i] << 16;

		if (i + 1 < n)
			v |= (unsigned)s[i + 1] << 8;
		*o++ = alphabet[v >> 18];
		*o++ = alphabet[v >> 12 & 63];
		*o++ = i + 1 < n ? alphabet[v >> 6 & 63] : '=';
		*o++ = '=';
	}
	b->len = (size_t)(o - b->data);
	b->data[b->len] = '\0';
}

static int value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int ps_base64_decode(struct ps_buf *b, const char *s, size_t n)
{
	size_t i;

	if (n % 4)
		return -1;
	ps_buf_grow(b, n / 4 * 3);
	for (i = 0; i < n; i += 4) {
		int a = value(s[i]), c = value(s[i + 1]);
		int d = s[i + 2] == '=' ? -2 : value(s[i + 2]);
		int e = s[i + 3] == '=' ? -2 : value(s[i + 3]);
		unsigned v;

		if (a < 0 || c < 0 || d == -1 || e == -1)
			return -1;
		if ((d == -2 || e == -2) && i + 4 != n)
			return -1;	/* padding only at the end */
		if (d == -2 && e != -2)
			return -1;
		v = (unsigned)a << 18 | (unsigned)c << 12 |
		    (unsigned)(d < 0 ? 0 : d) << 6 | (unsigned)(e < 0 ? 0 : e);
		b->data[b->len++] = (char)(v >> 16);
		if (d >= 0)
			b->data[b->len++] = (char)(v >> 8 & 255);
		if (e >= 0)
			b->data[b->len++] = (char)(v & 255);
	}
	b->data[b->len] = '\0';
	return 0;
}

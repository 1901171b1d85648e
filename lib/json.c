/* json.c - see json.h. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "banned.h"

/* Deeper documents are rejected before yajl's tree (and our code) recurse. */
#define MAX_DEPTH 512

/*
 * A cheap scan outside strings: nesting deeper than MAX_DEPTH returns 1,
 * a '/' (a comment, which yajl_tree_parse would accept) returns 2, else 0.
 */
static int prescan(const char *p, size_t len)
{
	int depth = 0, in_str = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		char c = p[i];

		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = 0;
		} else if (c == '"') {
			in_str = 1;
		} else if (c == '{' || c == '[') {
			if (++depth > MAX_DEPTH)
				return 1;
		} else if (c == '}' || c == ']') {
			depth--;
		} else if (c == '/') {
			return 2;
		}
	}
	return 0;
}

yajl_val ps_json_parse(const char *p, size_t len, char *errbuf,
		       size_t errlen)
{
	char ybuf[128];
	char *text;
	yajl_val v;
	size_t i;

	if (errbuf && errlen)
		errbuf[0] = '\0';
	if (memchr(p, '\0', len)) {
		if (errbuf)
			snprintf(errbuf, errlen, "nul_byte: NUL byte in input");
		return NULL;
	}
	for (i = 0; i < len && (p[i] == ' ' || p[i] == '\t'); i++)
		;
	if (i == len) {
		if (errbuf)
			snprintf(errbuf, errlen, "empty: empty line");
		return NULL;
	}
	if (ps_utf8_valid_prefix(p, len) != len) {
		if (errbuf)
			snprintf(errbuf, errlen,
				 "invalid_utf8: invalid UTF-8 at byte %zu",
				 ps_utf8_valid_prefix(p, len));
		return NULL;
	}
	switch (prescan(p, len)) {
	case 1:
		if (errbuf)
			snprintf(errbuf, errlen,
				 "too_deep: nesting deeper than %d", MAX_DEPTH);
		return NULL;
	case 2:
		if (errbuf)
			snprintf(errbuf, errlen,
				 "syntax: comments are not JSON");
		return NULL;
	}
	/* yajl_tree_parse wants a NUL-terminated string. */
	text = ps_xmemdup(p, len);
	v = yajl_tree_parse(text, ybuf, sizeof(ybuf));
	free(text);
	if (!v && errbuf) {
		char *nl;

		for (nl = ybuf; *nl; nl++)
			if (*nl == '\n' || *nl == '\r')
				*nl = ' ';
		snprintf(errbuf, errlen, "syntax: %s", ybuf);
		/* yajl pads its message with blanks: trim them. */
		for (i = strlen(errbuf); i && errbuf[i - 1] == ' '; i--)
			errbuf[i - 1] = '\0';
	}
	return v;
}

yajl_val ps_json_get(yajl_val obj, const char *key)
{
	size_t i;

	if (!YAJL_IS_OBJECT(obj))
		return NULL;
	for (i = 0; i < obj->u.object.len; i++)
		if (!strcmp(obj->u.object.keys[i], key))
			return obj->u.object.values[i];
	return NULL;
}

/* Length of the UTF-8 sequence at s (n bytes left), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned c = s[0];

	if (c < 0x80)
		return 1;
	if (c < 0xc2 || c > 0xf4)
		return 0;
	if (c < 0xe0) {
		if (n < 2 || (s[1] & 0xc0) != 0x80)
			return 0;
		return 2;
	}
	if (c < 0xf0) {
		if (n < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if (c == 0xe0 && s[1] < 0xa0)
			return 0;	/* overlong */
		if (c == 0xed && s[1] > 0x9f)
			return 0;	/* surrogate */
		return 3;
	}
	if (n < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 ||
	    (s[3] & 0xc0) != 0x80)
		return 0;
	if (c == 0xf0 && s[1] < 0x90)
		return 0;	/* overlong */
	if (c == 0xf4 && s[1] > 0x8f)
		return 0;	/* above U+10FFFF */
	return 4;
}

size_t ps_utf8_valid_prefix(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, k;

	while (i < n) {
		/* Skip ASCII sixteen (or eight) bytes at a time. */
#ifdef __SSE2__
		while (i + 16 <= n && !_mm_movemask_epi8(_mm_loadu_si128(
			(const __m128i *)(const void *)(s + i))))
			i += 16;
#endif
		while (i + 8 <= n) {
			uint64_t w;

			memcpy(&w, s + i, 8);
			if (w & 0x8080808080808080ULL)
				break;
			i += 8;
		}
		if (i >= n)
			break;
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		k = utf8_seq(s + i, n - i);
		if (!k)
			return i;
		i += k;
	}
	return n;
}

static const char hexdig[] = "0123456789abcdef";

/* Bytes copied as they are: printable ASCII but quote and backslash. */
static const unsigned char plain_ascii[256] = {
#define R8(x) x, x, x, x, x, x, x, x
	R8(0), R8(0), R8(0), R8(0),			/* 0x00-0x1f */
	1, 1, 0, 1, 1, 1, 1, 1, R8(1), R8(1), R8(1),	/* 0x20-0x3f: '"' */
	R8(1), R8(1), R8(1), 1, 1, 1, 1, 0, 1, 1, 1,	/* 0x40-0x5f: '\\' */
	R8(1), R8(1), R8(1), R8(1),			/* 0x60-0x7f */
#undef R8
};

size_t ps_json_add_str(struct ps_buf *b, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, bad = 0;
	char *o;

	/* Worst case: every byte becomes \u00XX (6) or U+FFFD (3). */
	if (b->cap - b->len <= n * 6 + 2)
		ps_buf_grow(b, n * 6 + 2);
	o = b->data + b->len;
	*o++ = '"';
	while (i < n) {
		unsigned c;

#ifdef __SSE2__
		/*
		 * 16 bytes at a time: stored as they are, then kept up to
		 * the first that needs care (quote, backslash, control byte
		 * or a byte >= 0x80, which is checked as UTF-8).  A quote,
		 * every ~10 bytes in an event payload, is escaped here.  The
		 * store stays inside the worst case grown above: o is at
		 * most 6 * i + 1 bytes in, and i + 16 <= n.
		 */
		while (n - i >= 16) {
			__m128i x;
			unsigned m = ps_json_special16((const char *)s + i,
						       &x) |
				     (unsigned)_mm_movemask_epi8(x);
			unsigned k;

			_mm_storeu_si128((__m128i *)(void *)o, x);
			if (!m) {
				o += 16;
				i += 16;
				continue;
			}
			k = (unsigned)__builtin_ctz(m);
			o += k;
			i += k;
			if (s[i] != '"')
				break;
			*o++ = '\\';
			*o++ = '"';
			i++;
		}
		if (i >= n)
			break;
#endif
		c = s[i];
		if (plain_ascii[c]) {
			*o++ = (char)c;
			i++;
			continue;
		}
		if (c >= 0x80) {
			size_t k = utf8_seq(s + i, n - i);

			if (k) {
				memcpy(o, s + i, k);
				o += k;
				i += k;
			} else {
				memcpy(o, "\xef\xbf\xbd", 3);
				o += 3;
				bad++;
				i++;
			}
			continue;
		}
		*o++ = '\\';
		switch (c) {
		case '"': *o++ = '"'; break;
		case '\\': *o++ = '\\'; break;
		case '\n': *o++ = 'n'; break;
		case '\r': *o++ = 'r'; break;
		case '\t': *o++ = 't'; break;
		case '\b': *o++ = 'b'; break;
		case '\f': *o++ = 'f'; break;
		default:
			o[0] = 'u';
			o[1] = '0';
			o[2] = '0';
			o[3] = hexdig[c >> 4];
			o[4] = hexdig[c & 15];
			o += 5;
			break;
		}
		i++;
	}
	*o++ = '"';
	*o = '\0';
	b->len = (size_t)(o - b->data);
	return bad;
}

__extension__ typedef unsigned __int128 u128;

/*
 * What snprintf "%.*g" with prec 15, 16 or 17 writes for d, when that
 * reads back as d (strtod, rounding to nearest even), for a non-integer
 * d with 2^-8 <= |d| < 1e14: d = m / 2^k exactly (m of 53 bits, k of 1
 * to 60), so its decimal digits come out of 64-bit integers exactly and
 * both the rounding to prec digits (half to even, as glibc's printf) and
 * the read-back test are exact.  Returns the length written to out
 * (room for 32), or 0 when d is outside that range or no prec reads
 * back (the caller then asks snprintf and strtod).
 */
static size_t shortest_g(double d, char *out)
{
	char dig[40];
	uint64_t m, ip, frac, mask, n10;
	int ex, k, nd = 0, x, prec, i;
	double a = fabs(d), f = frexp(a, &ex);
	size_t o = 0;

	if (!(a >= 0x1p-8 && a < 1e14) || a == floor(a))
		return 0;
	m = (uint64_t)ldexp(f, 53);
	k = 53 - ex;
	if (k < 1 || k > 60)
		return 0;
	ip = m >> k;
	mask = ((uint64_t)1 << k) - 1;
	frac = m & mask;
	/* The integer part's digits, then 18 significant fraction digits
	 * at least (prec + 1 digits are needed, and the rest is frac). */
	if (ip) {
		char t[20];
		int nt = 0;

		for (; ip; ip /= 10)
			t[nt++] = (char)(ip % 10);
		while (nt)
			dig[nd++] = t[--nt];
		x = nd - 1;
	} else {
		x = 0;
		for (;;) {
			frac *= 10;
			x--;
			if (frac >> k)
				break;
			frac &= mask;
		}
		/* x is the exponent of the first digit, frac holds it. */
		dig[nd++] = (char)(frac >> k);
		frac &= mask;
	}
	while (nd < 18) {
		frac *= 10;
		dig[nd++] = (char)(frac >> k);
		frac &= mask;
	}
	for (prec = 15; prec <= 17; prec++) {
		char r[18];
		int up = dig[prec] > 5, rx = x, f10, nz;
		u128 lhs, rhs, diff, hg;

		memcpy(r, dig, (size_t)prec);
		if (dig[prec] == 5) {	/* a tie only when nothing follows */
			up = frac || (r[prec - 1] & 1);
			for (i = prec + 1; i < nd && !up; i++)
				up = dig[i] != 0;
		}
		if (up) {
			for (i = prec - 1; i >= 0 && r[i] == 9; i--)
				r[i] = 0;
			if (i >= 0) {
				r[i]++;
			} else {
				r[0] = 1;	/* 99..9 became 100..0 */
				rx++;
			}
		}
		if (rx >= prec)
			return 0;
		/* The value N / 10^f10 against d = m / 2^k: it reads back
		 * as d when within half the gap to d's neighbours (the gap
		 * below is half as large when m is a power of two). */
		f10 = prec - 1 - rx;
		for (n10 = 0, i = 0; i < prec; i++)
			n10 = n10 * 10 + (uint64_t)r[i];
		lhs = (u128)n10 << (k + 2);
		rhs = (u128)m * 4;
		for (i = 0; i < f10; i++)
			rhs *= 10;
		for (hg = 2, i = 0; i < f10; i++)
			hg *= 10;
		if (lhs >= rhs) {
			diff = lhs - rhs;
		} else {
			diff = rhs - lhs;
			if (m == (uint64_t)1 << 52)
				hg /= 2;
		}
		if (diff > hg || (diff == hg && (m & 1)))
			continue;
		/* %g with precision prec - 1 - rx after the point, trailing
		 * zeros dropped (rx >= -3 here: style f). */
		for (nz = prec; nz > 1 && r[nz - 1] == 0 && nz - 1 > rx; nz--)
			;
		if (d < 0)
			out[o++] = '-';
		if (rx < 0) {
			out[o++] = '0';
			out[o++] = '.';
			for (i = -1; i > rx; i--)
				out[o++] = '0';
			for (i = 0; i < nz; i++)
				out[o++] = (char)('0' + r[i]);
		} else {
			for (i = 0; i < nz; i++) {
				if (i == rx + 1)
					out[o++] = '.';
				out[o++] = (char)('0' + r[i]);
			}
		}
		out[o] = '\0';
		return o;
	}
	return 0;
}

void ps_json_add_double(struct ps_buf *b, double d)
{
	char tmp[32];
	int prec;
	size_t n;

	if (!isfinite(d)) {
		ps_buf_adds(b, "null");
		return;
	}
	if (d == floor(d) && fabs(d) < 1e15) {
		ps_buf_add_i64(b, (long long)d);
		return;
	}
	n = shortest_g(d, tmp);
	if (n) {
		ps_buf_add(b, tmp, n);
		return;
	}
	/*
	 * 15 digits always read back as the shortest form of a normal
	 * double; subnormals have fewer significant digits.
	 */
	for (prec = fabs(d) < DBL_MIN ? 1 : 15; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
		if (strtod(tmp, NULL) == d)
			break;
	}
	ps_buf_adds(b, tmp);
}

void ps_json_add_value(struct ps_buf *b, yajl_val v)
{
	size_t i;

	if (!v) {
		ps_buf_adds(b, "null");
		return;
	}
	switch (v->type) {
	case yajl_t_string:
		ps_json_add_str(b, v->u.string, strlen(v->u.string));
		break;
	case yajl_t_number:
		ps_buf_adds(b, v->u.number.r);
		break;
	case yajl_t_true:
		ps_buf_adds(b, "true");
		break;
	case yajl_t_false:
		ps_buf_adds(b, "false");
		break;
	case yajl_t_object:
		ps_buf_addc(b, '{');
		for (i = 0; i < v->u.object.len; i++) {
			if (i)
				ps_buf_addc(b, ',');
			ps_json_add_str(b, v->u.object.keys[i],
					strlen(v->u.object.keys[i]));
			ps_buf_addc(b, ':');
			ps_json_add_value(b, v->u.object.values[i]);
		}
		ps_buf_addc(b, '}');
		break;
	case yajl_t_array:
		ps_buf_addc(b, '[');
		for (i = 0; i < v->u.array.len; i++) {
			if (i)
				ps_buf_addc(b, ',');
			ps_json_add_value(b, v->u.array.values[i]);
		}
		ps_buf_addc(b, ']');
		break;
	default:
		ps_buf_adds(b, "null");
		break;
	}
}

int ps_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int ps_hex4(const char *s, const char *end, unsigned *v)
{
	int i;

	if (end - s < 4)
		return -1;
	*v = 0;
	for (i = 0; i < 4; i++) {
		int h = ps_hexval((unsigned char)s[i]);

		if (h < 0)
			return -1;
		*v = *v << 4 | (unsigned)h;
	}
	return 0;
}

size_t ps_utf8_put(char *u, unsigned cp)
{
	if (cp < 0x80) {
		u[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		u[0] = (char)(0xc0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		u[0] = (char)(0xe0 | cp >> 12);
		u[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	u[0] = (char)(0xf0 | cp >> 18);
	u[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	u[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	u[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

int ps_json_unescape(const char **pp, const char *end, struct ps_buf *b)
{
	const char *s = *pp;
	char *o;

	/* Unescaped text is never longer than its escaped form. */
	ps_buf_grow(b, (size_t)(end - s) + 4);
	o = b->data + b->len;
	for (;;) {
		unsigned cp, lo;
		size_t k;

#ifdef __SSE2__
		/*
		 * Copy 16 bytes at a time (the output, never longer than
		 * the input, has the room) up to the first special byte.
		 * An escaped quote, every ~7 bytes of an envelope's payload,
		 * is taken here: the quote overwrites the backslash copied.
		 */
		unsigned m = 0;
		__m128i x;

		while (end - s >= 16) {
			m = ps_json_special16(s, &x);
			_mm_storeu_si128((__m128i *)(void *)o, x);
			if (!m) {
				s += 16;
				o += 16;
				continue;
			}
			k = (size_t)__builtin_ctz(m);
			if (s[k] != '\\' || end - s <= (ptrdiff_t)k + 1 ||
			    s[k + 1] != '"')
				break;
			o[k] = '"';
			o += k + 1;
			s += k + 2;
			m = 0;
		}
		if (m) {
			k = (size_t)__builtin_ctz(m);
		} else {
			k = ps_json_plain_run(s, (size_t)(end - s));
			memcpy(o, s, k);
		}
#else
		k = ps_json_plain_run(s, (size_t)(end - s));
		memcpy(o, s, k);
#endif
		o += k;
		s += k;
		if (s >= end || (unsigned char)*s < 0x20)
			goto fail;
		if (*s == '"')
			break;
		if (++s >= end)
			goto fail;
		switch (*s++) {
		case '"': *o++ = '"'; break;
		case '\\': *o++ = '\\'; break;
		case '/': *o++ = '/'; break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'u':
			if (ps_hex4(s, end, &cp) < 0)
				goto fail;
			s += 4;
			if (cp >= 0xdc00 && cp <= 0xdfff)
				goto fail;	/* lone low surrogate */
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (end - s < 6 || s[0] != '\\' || s[1] != 'u' ||
				    ps_hex4(s + 2, end, &lo) < 0 ||
				    lo < 0xdc00 || lo > 0xdfff)
					goto fail;
				s += 6;
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				     (lo - 0xdc00);
			}
			o += ps_utf8_put(o, cp);
			break;
		default:
			goto fail;
		}
	}
	b->len = (size_t)(o - b->data);
	b->data[b->len] = '\0';
	*pp = s + 1;
	return 0;
fail:
	b->len = (size_t)(o - b->data);
	b->data[b->len] = '\0';
	return -1;
}

/*
 * json.h - JSON helpers: parsing through yajl, and a fast compact writer
 * that appends to a struct ps_buf.
 *
 * Parsing rejects embedded NUL bytes before yajl sees the text, keeps
 * comments off and UTF-8 checking on, and reports one-line errors.  The
 * writer always produces valid UTF-8: bytes that are not UTF-8 become
 * U+FFFD, and the count of replacements is returned so callers can flag it.
 */
#ifndef PS_JSON_H
#define PS_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <yajl/yajl_tree.h>

#include "buf.h"
#include "error.h"

/*
 * Parse len bytes into a yajl tree.  Returns the tree (the caller frees it
 * with yajl_tree_free) or NULL with a one-line reason in errbuf (which may
 * be NULL).  The reason starts with a short code word: "nul_byte",
 * "invalid_utf8", "syntax", "too_deep", "empty".
 */
yajl_val ps_json_parse(const char *p, size_t len, char *errbuf,
		       size_t errlen);

/* Object member by key (the first one when a key repeats), or NULL. */
yajl_val ps_json_get(yajl_val obj, const char *key);

/*
 * Append s (n bytes) as a quoted, escaped JSON string.  Invalid UTF-8 is
 * replaced by U+FFFD.  Returns the number of replacements (0 normally).
 */
size_t ps_json_add_str(struct ps_buf *b, const char *s, size_t n);

/* Append a double in the shortest form that reads back exactly. */
void ps_json_add_double(struct ps_buf *b, double d);

/*
 * Append `"key":` preceded by a comma unless *first is set (which it then
 * clears).  key must be plain ASCII that needs no escaping.
 */
static inline void ps_json_key(struct ps_buf *b, int *first, const char *key)
{
	if (*first)
		*first = 0;
	else
		ps_buf_addc(b, ',');
	ps_buf_addc(b, '"');
	ps_buf_adds(b, key);
	ps_buf_add(b, "\":", 2);
}

/* Length of the valid UTF-8 prefix of s, or n if all of it is valid. */
size_t ps_utf8_valid_prefix(const char *s, size_t n);

/* Value of the hex digit c (0-15), or -1. */
int ps_hexval(int c);

/*
 * Four hex digits at s (before end) into *v.  Returns 0, or -1 when there
 * are fewer than four or one is not a hex digit.
 */
int ps_hex4(const char *s, const char *end, unsigned *v);

/* Write code point cp (< 0x110000) as UTF-8 at o; returns 1 to 4. */
size_t ps_utf8_put(char *o, unsigned cp);

/*
 * Unescape a JSON string whose opening quote is just before *pp, appending
 * its bytes to b, and move *pp past the closing quote.  Returns 0, or -1
 * for a raw control character, a bad escape, a lone surrogate or a missing
 * closing quote (b then holds a partial result).  The bytes themselves are
 * not checked for UTF-8: use ps_utf8_valid_prefix.
 */
int ps_json_unescape(const char **pp, const char *end, struct ps_buf *b);

/* Append a yajl tree back as compact JSON (for passing through values). */
void ps_json_add_value(struct ps_buf *b, yajl_val v);

#ifdef __SSE2__
/* A bit per byte of the 16 at p that ends a plain run inside a JSON
 * string (quote, backslash or a control byte); x gets the bytes. */
static inline unsigned ps_json_special16(const char *p, __m128i *x)
{
	const __m128i q = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\'),
		      ctl = _mm_set1_epi8(0x1f);
	__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);

	*x = v;
	return (unsigned)_mm_movemask_epi8(_mm_or_si128(
		_mm_or_si128(_mm_cmpeq_epi8(v, q), _mm_cmpeq_epi8(v, bs)),
		_mm_cmpeq_epi8(_mm_min_epu8(v, ctl), v)));
}
#endif

/*
 * The offset in p[0..n) of the first byte that ends a plain run inside a
 * JSON string (quote, backslash or a control byte), or n: 16 bytes at a
 * time with SSE2, 8 without.  Cannot fail.
 */
static inline size_t ps_json_plain_run(const char *p, size_t n)
{
	size_t i = 0;

#ifdef __SSE2__
	for (; n - i >= 16; i += 16) {
		__m128i x;
		unsigned m = ps_json_special16(p + i, &x);

		if (m)
			return i + (size_t)__builtin_ctz(m);
	}
#else
	for (; n - i >= 8; i += 8) {
		uint64_t x, ones = 0x0101010101010101ULL,
			 high = 0x8080808080808080ULL, qq, bb;

		memcpy(&x, p + i, 8);
		qq = x ^ (ones * '"');
		bb = x ^ (ones * '\\');
		if (((qq - ones) & ~qq & high) || ((bb - ones) & ~bb & high) ||
		    ((x - ones * 0x20) & ~x & high))
			break;
	}
#endif
	while (i < n && p[i] != '"' && p[i] != '\\' &&
	       (unsigned char)p[i] >= 0x20)
		i++;
	return i;
}


/*
 * Scanners for the fast paths that read JSON in the form our stages write
 * it (ps-gold's clean records, ps-silver's events), and hand anything
 * else to a full parser.  None of them allocates or fails.
 */

/* p moved past JSON whitespace (space, tab, LF, CR), at most to e. */
static inline const char *ps_json_ws(const char *p, const char *e)
{
	while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' ||
			 *p == '\r'))
		p++;
	return p;
}

/*
 * A string without escapes at *pp (just after its opening quote): returns
 * 0 with its bytes at *s, *n and *pp past the closing quote; 1 when a
 * backslash comes first (*pp unchanged: the caller unescapes, or gives
 * up); -1 for a control byte or no closing quote.
 */
static inline int ps_json_plain_str(const char **pp, const char *e,
				    const char **s, size_t *n)
{
	const char *p = *pp;
	size_t k = ps_json_plain_run(p, (size_t)(e - p));

	if (k == (size_t)(e - p) || (p[k] != '"' && p[k] != '\\'))
		return -1;
	if (p[k] == '\\')
		return 1;
	*s = p;
	*n = k;
	*pp = p + k + 1;
	return 0;
}

/*
 * The end of the JSON integer at p (-?(0|[1-9][0-9]*)), or NULL when p
 * does not start one.  What follows is not looked at: a fraction or an
 * exponent is for the caller's next check to refuse.
 */
static inline const char *ps_json_int_end(const char *p, const char *e)
{
	if (p < e && *p == '-')
		p++;
	if (p == e || *p < '0' || *p > '9')
		return NULL;
	if (*p++ == '0')
		return p;
	while (p < e && *p >= '0' && *p <= '9')
		p++;
	return p;
}

#endif

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

#endif

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

/* Append a yajl tree back as compact JSON (for passing through values). */
void ps_json_add_value(struct ps_buf *b, yajl_val v);

#endif

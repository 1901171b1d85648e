/* base64.h - standard base64 (RFC 4648, padded), appending to a ps_buf. */
#ifndef PS_BASE64_H
#define PS_BASE64_H

#include <stddef.h>

#include "buf.h"

/* Append the encoding of n bytes at p.  Cannot fail. */
void ps_base64_encode(struct ps_buf *b, const void *p, size_t n);

/*
 * Append the bytes s (n characters) encodes.  Returns 0, or -1 when s is
 * not valid padded base64 (b may then hold a partial result).
 */
int ps_base64_decode(struct ps_buf *b, const char *s, size_t n);

#endif

/* seal.c - see seal.h. */
#include <stdio.h>
#include <string.h>
#include <isa-l/crc.h>

#include "fsutil.h"
#include "seal.h"
#include "banned.h"

#define JSON_KEY ",\"crc32\":\""	/* then 8 hex digits, "}\n" */
#define JSON_LEN (sizeof(JSON_KEY) - 1 + 8 + 3)
#define BIN_KEY "#crc32 "		/* then 8 hex digits, "\n" */
#define BIN_LEN (sizeof(BIN_KEY) - 1 + 8 + 1)

uint32_t ps_seal_crc(uint32_t crc, const void *p, size_t n)
{
	const unsigned char *q = p;

	/* ISA-L's folding CRC, the same CRC-32 as zlib's crc32() (gzip's),
	 * an order of magnitude faster: the state files are read and
	 * written whole */
	while (n) {
		uint64_t k = n > 1u << 30 ? 1u << 30 : n;

		crc = crc32_gzip_refl(crc, q, k);
		q += k;
		n -= k;
	}
	return crc;
}

void ps_seal_bin_trailer(struct ps_buf *b, uint32_t crc)
{
	ps_buf_addf(b, BIN_KEY "%08x\n", (unsigned)crc);
}

int ps_seal_write(const char *path, const void *p, size_t n,
		  enum ps_seal_form form, struct ps_error *e)
{
	struct ps_afile f = PS_AFILE_INIT;

	if (ps_seal_begin(&f, path, p, n, form, e) < 0)
		return -1;
	return ps_afile_commit(&f, e);
}

int ps_seal_begin(struct ps_afile *f, const char *path, const void *p,
		  size_t n, enum ps_seal_form form, struct ps_error *e)
{
	struct ps_buf b = PS_BUF_INIT;
	const char *s = p;
	int rc;

	if (form == PS_SEAL_JSON) {
		if (n && s[n - 1] == '\n')
			n--;
		if (n < 3 || s[0] != '{' || s[n - 1] != '}' || s[n - 2] == '{')
			return ps_error_set(e, PS_EX_SOFTWARE, "%s: state is "
					    "not a JSON object", path);
		n--;	/* the seal closes the object */
	}
	ps_buf_grow(&b, n + PS_SEAL_MAX);
	ps_buf_add(&b, s, n);
	if (form == PS_SEAL_JSON)
		ps_buf_addf(&b, JSON_KEY "%08x\"}\n",
			    (unsigned)ps_seal_crc(0, s, n));
	else
		ps_seal_bin_trailer(&b, ps_seal_crc(0, s, n));
	rc = ps_afile_open(f, path, 0644, e);
	if (rc == 0 && ps_afile_write(f, b.data, b.len, e) < 0) {
		ps_afile_abort(f);
		rc = -1;
	}
	ps_buf_release(&b);
	return rc;
}

static int hex8(const char *p, uint32_t *v)
{
	int i;

	*v = 0;
	for (i = 0; i < 8; i++) {
		char c = p[i];

		*v <<= 4;
		if (c >= '0' && c <= '9')
			*v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			*v |= (uint32_t)(c - 'a' + 10);
		else
			return -1;
	}
	return 0;
}

long long ps_seal_open(char *p, size_t n, enum ps_seal_form form,
		       struct ps_error *e)
{
	size_t len = form == PS_SEAL_JSON ? JSON_LEN : BIN_LEN;
	const char *key = form == PS_SEAL_JSON ? JSON_KEY : BIN_KEY;
	size_t klen = strlen(key);
	uint32_t want, got;

	if (n < len || memcmp(p + n - len, key, klen) ||
	    hex8(p + n - len + klen, &want) < 0 ||
	    memcmp(p + n - len + klen + 8,
		   form == PS_SEAL_JSON ? "\"}\n" : "\n",
		   form == PS_SEAL_JSON ? 3 : 1))
		return ps_error_set(e, PS_EX_CONFIG, "damaged state file: "
				    "no integrity seal (cut short, altered, "
				    "or written by an older version)");
	n -= len;
	got = ps_seal_crc(0, p, n);
	if (got != want)
		return ps_error_set(e, PS_EX_CONFIG, "damaged state file: "
				    "checksum mismatch (crc32 %08x, sealed "
				    "%08x)", (unsigned)got, (unsigned)want);
	if (form == PS_SEAL_JSON)
		p[n++] = '}';
	return (long long)n;
}

int ps_seal_read(const char *path, size_t max, enum ps_seal_form form,
		 struct ps_buf *out, struct ps_error *e)
{
	struct ps_buf b = PS_BUF_INIT;
	struct ps_error se = { 0, "" };
	long long n;
	int rc = ps_read_file(path, &b, max + PS_SEAL_MAX, e);

	if (rc) {
		ps_buf_release(&b);
		return rc;
	}
	n = ps_seal_open(b.data, b.len, form, &se);
	if (n < 0) {
		ps_buf_release(&b);
		return ps_error_set(e, se.code, "%s: %s", path, se.msg);
	}
	ps_buf_add(out, b.data, (size_t)n);
	if (form == PS_SEAL_JSON)
		ps_buf_addc(out, '\n');
	ps_buf_release(&b);
	return 0;
}

/* statelog.c - see statelog.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "log.h"
#include "seal.h"
#include "statelog.h"
#include "banned.h"

#define MAGIC "PSL1"

static void put_le32(unsigned char *o, uint32_t v)
{
	int i;

	for (i = 0; i < 4; i++)
		o[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_le32(const char *p)
{
	const unsigned char *u = (const unsigned char *)p;

	return (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 |
	       (uint32_t)u[3] << 24;
}

static uint32_t crc_of(const void *p, size_t n)
{
	return ps_seal_crc(0, p, n);
}

/* A crash after an append may leave zeros where the frame should be. */
static int all_zero(const char *p, size_t n)
{
	while (n && !*p) {
		p++;
		n--;
	}
	return n == 0;
}

void ps_statelog_frame(const void *p, size_t n, struct ps_buf *b)
{
	unsigned char h[8];

	put_le32(h, (uint32_t)n);
	put_le32(h + 4, crc_of(p, n));
	ps_buf_grow(b, n + PS_STATELOG_OVERHEAD);
	ps_buf_add(b, MAGIC, 4);
	ps_buf_add(b, h, sizeof(h));
	ps_buf_add(b, p, n);
}

int ps_statelog_append(const char *path, const void *p, size_t n,
		       struct ps_error *e)
{
	struct ps_buf f = PS_BUF_INIT;
	int rc;

	if (n > UINT32_MAX)
		return ps_error_set(e, PS_EX_SOFTWARE, "state log record of "
				    "%zu bytes is too large", n);
	ps_statelog_frame(p, n, &f);
	rc = ps_append_durable(path, f.data, f.len, 0644, e);
	ps_buf_release(&f);
	return rc;
}

int ps_statelog_read(const char *path, struct ps_buf *b, ps_statelog_fn fn,
		     void *ctx, size_t *size, struct ps_error *e)
{
	size_t off = 0, start = b->len;
	const char *d;
	int rc = ps_read_file(path, b, (size_t)1 << 40, e);

	*size = 0;
	if (rc)
		return rc;
	d = b->data + start;
	*size = b->len - start;
	while (off < *size) {
		size_t left = *size - off;
		uint32_t n;

		if (left < PS_STATELOG_OVERHEAD ||
		    memcmp(d + off, MAGIC, 4) ||
		    (n = get_le32(d + off + 4)) > left - PS_STATELOG_OVERHEAD ||
		    crc_of(d + off + PS_STATELOG_OVERHEAD, n) !=
		    get_le32(d + off + 8)) {
			/* a torn tail: the frame runs to the end of the file
			 * (or its header is cut); anything else is corrupt */
			int torn = left < PS_STATELOG_OVERHEAD ||
				   all_zero(d + off, left) ||
				   (!memcmp(d + off, MAGIC, 4) &&
				    get_le32(d + off + 4) >=
				    left - PS_STATELOG_OVERHEAD);

			if (!torn)
				return ps_error_set(e, PS_EX_CONFIG, "%s is "
					"corrupt at byte %zu", path, off);
			ps_log(PS_WARN, "state log: dropping a torn last "
			       "record", PS_S("path", path),
			       PS_I("at", off), PS_I("bytes", left));
			if (truncate(path, (off_t)off) < 0)
				return ps_error_errno(e, PS_EX_IOERR, errno,
						      "cannot truncate %s",
						      path);
			*size = off;
			break;
		}
		if (fn && fn(ctx, d + off + PS_STATELOG_OVERHEAD, n, e) < 0)
			return -1;
		off += PS_STATELOG_OVERHEAD + n;
	}
	return 0;
}

void ps_statelog_mem_id(const void *p, size_t n, struct ps_statelog_id *id)
{
	id->crc = crc_of(p, n);
	id->size = n;
}

int ps_statelog_file_id(const char *path, struct ps_statelog_id *id,
			struct ps_error *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	static const size_t bufsz = 1u << 20;
	char *buf;
	uint32_t c = 0;
	ssize_t k;

	if (fd < 0)
		return ps_error_errno(e, PS_EX_NOINPUT, errno,
				      "cannot open %s", path);
	buf = ps_xmalloc(bufsz);
	id->size = 0;
	while ((k = read(fd, buf, bufsz)) != 0) {
		if (k < 0) {
			if (errno == EINTR)
				continue;
			free(buf);
			close(fd);
			return ps_error_errno(e, PS_EX_IOERR, errno,
					      "cannot read %s", path);
		}
		c = ps_seal_crc(c, buf, (size_t)k);
		id->size += (uint64_t)k;
	}
	free(buf);
	close(fd);
	id->crc = c;
	return 0;
}

/* ndjson.c - see ndjson.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "fsutil.h"
#include "ndjson.h"
#include "banned.h"

#define MIN_BUF (64 * 1024)
#define START_BUF (1024 * 1024 + 5)	/* a default-cap line fits */

struct ps_ndjson {
	ps_read_fn fn;
	void *ctx;
	int fd;
	char *buf;
	char *longbuf;		/* prefix of an over-long line */
	size_t size;		/* allocated */
	size_t limit;		/* what size may grow to */
	size_t start, end;	/* unread bytes are buf[start..end) */
	size_t max;
	long long lineno;
	unsigned long long offset;
	int eof;
	int first;		/* no line returned yet: strip a BOM */
	volatile int *interrupt;
};

static ssize_t read_fd(void *ctx, void *buf, size_t n)
{
	return read(*(int *)ctx, buf, n);
}

struct ps_ndjson *ps_ndjson_new(ps_read_fn fn, void *ctx, size_t max_line)
{
	struct ps_ndjson *r = ps_xcalloc(1, sizeof(*r));

	r->fn = fn;
	r->ctx = ctx;
	r->max = max_line ? max_line : PS_NDJSON_DEFAULT_MAX;
	/*
	 * Room for a line of max bytes, a BOM, its CR and its newline, so a
	 * full buffer without a newline always holds an over-long line.
	 */
	r->limit = r->max + 5 < MIN_BUF ? MIN_BUF : r->max + 5;
	r->size = r->limit < START_BUF ? r->limit : START_BUF;
	r->buf = ps_xmalloc(r->size);
	r->first = 1;
	return r;
}

struct ps_ndjson *ps_ndjson_new_fd(int fd, size_t max_line)
{
	struct ps_ndjson *r = ps_ndjson_new(read_fd, NULL, max_line);

	r->fd = fd;
	r->ctx = &r->fd;
	return r;
}

void ps_ndjson_free(struct ps_ndjson *r)
{
	if (!r)
		return;
	free(r->buf);
	free(r->longbuf);
	free(r);
}

void ps_ndjson_set_interrupt(struct ps_ndjson *r, volatile int *flag)
{
	r->interrupt = flag;
}

unsigned long long ps_ndjson_offset(const struct ps_ndjson *r)
{
	return r->offset;
}

/* Read more bytes after end.  Returns 1 if some came, 0 at EOF, -1 error. */
static int fill(struct ps_ndjson *r, struct ps_error *e)
{
	ssize_t n;

	if (r->start > 0 && r->start == r->end) {
		r->start = r->end = 0;
	} else if (r->start > 0 && r->end == r->size) {
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->end -= r->start;
		r->start = 0;
	}
	for (;;) {
		n = r->fn(r->ctx, r->buf + r->end, r->size - r->end);
		if (n > 0) {
			r->end += (size_t)n;
			return 1;
		}
		if (n == 0) {
			r->eof = 1;
			return 0;
		}
		if (errno == EINTR) {
			if (r->interrupt && *r->interrupt) {
				if (e) {
					e->code = 0;
					e->msg[0] = '\0';
				}
				return -1;
			}
			continue;
		}
		return ps_error_errno(e, PS_EX_IOERR, errno, "read error");
	}
}

/* Fill *line with buf[s..s+n) (without the newline), stripping CR/BOM. */
static void emit(struct ps_ndjson *r, struct ps_line *line, size_t s,
		 size_t n, size_t consumed)
{
	const char *p = r->buf + s;

	line->unterminated = consumed == n;
	r->lineno++;
	r->offset += consumed;
	if (n && p[n - 1] == '\r')
		n--;
	if (r->first && n >= 3 && !memcmp(p, "\xef\xbb\xbf", 3)) {
		p += 3;
		n -= 3;
	}
	r->first = 0;
	line->lineno = r->lineno;
	line->data = p;
	line->full_len = n;
	line->too_long = n > r->max;
	line->len = line->too_long ? r->max : n;
}

/*
 * Skip to just past the next newline; full counts the skipped bytes and
 * *last is the last byte of the line (to strip a CR).  Returns 1 past a
 * newline, 0 at the end of input, -1 on a read error.
 */
static int skip_rest(struct ps_ndjson *r, unsigned long long *full,
		     char *last, struct ps_error *e)
{
	for (;;) {
		char *nl = memchr(r->buf + r->start, '\n', r->end - r->start);
		int rc;

		if (nl) {
			size_t k = (size_t)(nl - (r->buf + r->start));

			if (k)
				*last = nl[-1];
			*full += k;
			r->offset += k + 1;
			r->start += k + 1;
			return 1;
		}
		if (r->end > r->start)
			*last = r->buf[r->end - 1];
		*full += r->end - r->start;
		r->offset += r->end - r->start;
		r->start = r->end = 0;
		rc = fill(r, e);
		if (rc < 0)
			return -1;
		if (rc == 0)
			return 0;
	}
}

int ps_ndjson_next(struct ps_ndjson *r, struct ps_line *line,
		   struct ps_error *e)
{
	size_t scanned = 0;

	for (;;) {
		size_t avail = r->end - r->start;
		char *nl = memchr(r->buf + r->start + scanned, '\n',
				  avail - scanned);
		int rc;

		if (nl) {
			size_t n = (size_t)(nl - (r->buf + r->start));
			size_t s = r->start;

			r->start += n + 1;
			emit(r, line, s, n, n + 1);
			return 1;
		}
		scanned = avail;
		if (avail == r->size && r->size < r->limit) {
			/* Full, no newline, under the cap: grow (start is 0). */
			r->size = r->size > r->limit / 2 ? r->limit
							 : 2 * r->size;
			r->buf = ps_xrealloc(r->buf, r->size);
		} else if (avail == r->size) {
			/*
			 * The buffer is full (start is 0 here) and holds no
			 * newline: the line is over the cap.  Keep its first
			 * max bytes aside and skip the rest through the
			 * buffer, so memory stays bounded by the cap.
			 */
			unsigned long long full = avail;
			size_t bom = 0;
			char last = r->buf[avail - 1];
			int nl_seen;

			if (r->first && !memcmp(r->buf, "\xef\xbb\xbf", 3))
				bom = 3;
			if (!r->longbuf)
				r->longbuf = ps_xmalloc(r->max);
			memcpy(r->longbuf, r->buf + bom, r->max);
			r->lineno++;
			r->first = 0;
			r->offset += avail;
			r->start = r->end = 0;
			nl_seen = skip_rest(r, &full, &last, e);
			if (nl_seen < 0)
				return -1;
			/* Strip BOM and CR as emit() does. */
			full -= bom + (last == '\r');
			line->lineno = r->lineno;
			line->data = r->longbuf;
			line->len = r->max;
			line->full_len = (size_t)full;
			line->too_long = 1;
			line->unterminated = !nl_seen;
			return 1;
		}
		if (r->eof) {
			if (!avail)
				return 0;
			r->start = r->end;
			emit(r, line, r->end - avail, avail, avail);
			return 1;
		}
		if (r->start + avail == r->size && r->start) {
			memmove(r->buf, r->buf + r->start, avail);
			r->start = 0;
			r->end = avail;
		}
		rc = fill(r, e);
		if (rc < 0)
			return -1;
	}
}

int ps_ndjson_config(const char *path, ps_config_line_fn fn, void *ctx,
		     struct ps_error *e)
{
	struct ps_buf b = PS_BUF_INIT;
	char *line, *end;
	int lineno = 0, rc;

	rc = ps_read_file(path, &b, 16 << 20, e);
	if (rc == 1)
		rc = ps_error_set(e, PS_EX_NOINPUT, "cannot open %s: no such "
				  "file", path);
	for (line = b.data; rc == 0 && line && line < b.data + b.len;
	     line = end) {
		char why[200];
		size_t n;

		end = memchr(line, '\n', b.len - (size_t)(line - b.data));
		n = end ? (size_t)(end - line) : b.len - (size_t)(line - b.data);
		end = end ? end + 1 : NULL;
		lineno++;
		if (n && line[n - 1] == '\r')
			n--;
		while (n && (*line == ' ' || *line == '\t')) {
			line++;
			n--;
		}
		if (!n || *line == '#')
			continue;
		why[0] = '\0';
		if (fn(ctx, line, n, why, sizeof(why)) < 0)
			rc = ps_error_set(e, PS_EX_CONFIG, "%s:%d: %s", path,
					  lineno, why);
	}
	ps_buf_release(&b);
	return rc;
}

/*
 * ndjson.h - a capped line reader for NDJSON input.
 *
 * Lines end at '\n'.  A '\r' before the '\n' (or before end of input) is
 * stripped, and so is a UTF-8 byte order mark at the start of the first
 * line.  A last line without a newline is returned like any other, with
 * unterminated set (whether it is a whole record or the fragment of a
 * writer killed mid-line is the caller's decision).  Lines
 * may contain NUL bytes: always use line.len.  A line longer than the cap
 * is returned once as a bad record (too_long set, data holding its first
 * cap bytes, full_len its real length) and the reader resynchronises at
 * the next newline without buffering the rest.  Empty lines are returned
 * (len 0): the caller decides what they mean.
 */
#ifndef PS_NDJSON_H
#define PS_NDJSON_H

#include <stddef.h>
#include <sys/types.h>

#include "error.h"

/* Default line cap: Event Hubs rejects messages of about 1 MB and more. */
#define PS_NDJSON_DEFAULT_MAX (1024 * 1024)

/*
 * Size limits, one place for every tool (pulsestream(7), "Limits").
 *
 * PS_RECORD_MAX is the longest record any tool accepts: a line of plain
 * input, a raw payload, a Kafka message (key and value).  Options that set
 * a cap (ps-bronze --max-line-bytes, ps-silver --max-record, ps-ingest
 * --max-bytes) range up to it and no further.
 *
 * PS_LINE_MAX is the cap of every reader of lines our own tools write
 * (envelopes in bronze files and on pipes, clean records): a record of
 * PS_RECORD_MAX bytes with every byte escaped as \u00XX (6 bytes), plus
 * room for the other members.  So whatever one stage lands, every later
 * stage can read.
 */
#define PS_RECORD_MAX ((size_t)16 << 20)
#define PS_LINE_MAX (6 * PS_RECORD_MAX + ((size_t)1 << 20))

/*
 * Where bytes come from: returns the count read (0 at end of input) or -1
 * with errno set.  The default source reads a file descriptor.
 */
typedef ssize_t (*ps_read_fn)(void *ctx, void *buf, size_t n);

struct ps_line {
	const char *data;	/* valid until the next call */
	size_t len;
	size_t full_len;	/* real length; > len only when too_long */
	long long lineno;	/* 1-based */
	int too_long;
	int unterminated;	/* the last line, cut by the end of input
				   before its newline */
};

struct ps_ndjson;

/*
 * A reader over fd (not closed by the reader) or over a custom source.
 * max_line is the cap in bytes (0 = PS_NDJSON_DEFAULT_MAX).  The buffer
 * starts small and grows to the cap only as long lines need it.  Cannot
 * fail.
 */
struct ps_ndjson *ps_ndjson_new_fd(int fd, size_t max_line);
struct ps_ndjson *ps_ndjson_new(ps_read_fn fn, void *ctx, size_t max_line);
void ps_ndjson_free(struct ps_ndjson *r);

/*
 * Read the next line.  Returns 1 and fills *line, 0 at end of input, or -1
 * on a read error (e filled, code PS_EX_IOERR).  EINTR is retried unless
 * ps_ndjson_set_interrupt() was given a flag that is set, in which case -1
 * with errno EINTR and e->code 0 is returned so the caller can stop.
 */
int ps_ndjson_next(struct ps_ndjson *r, struct ps_line *line,
		   struct ps_error *e);

/* Stop at EINTR when *flag is non-zero (e.g. the SIGTERM flag). */
void ps_ndjson_set_interrupt(struct ps_ndjson *r, volatile int *flag);

/*
 * A callback for ps_ndjson_config: one line (n bytes, not NUL-terminated).
 * Returns 0, or -1 with a one-line reason in why.
 */
typedef int (*ps_config_line_fn)(void *ctx, const char *line, size_t n,
				 char *why, size_t whylen);

/*
 * Read a small NDJSON configuration file (at most 16 MiB) and call fn for
 * each line that is not empty or a '#' comment, leading blanks and a
 * trailing CR removed.  Returns 0, or -1 with e filled: 66 when the file
 * cannot be read, 78 "PATH:LINE: reason" for the first line fn rejects
 * (no later line is read).
 */
int ps_ndjson_config(const char *path, ps_config_line_fn fn, void *ctx,
		     struct ps_error *e);

/* Bytes consumed from the source so far that belong to returned lines. */
unsigned long long ps_ndjson_offset(const struct ps_ndjson *r);

#endif

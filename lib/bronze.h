/*
 * bronze.h - the raw landing stage: envelopes in gzip NDJSON files, landed
 * exactly once, and the readers later stages use to catch up from them.
 *
 * Layout (DESIGN.md, "Lake layout"):
 *
 *   LAKE/bronze/STREAM/date=YYYY-MM-DD/part-SAFE-FIRST-LAST.ndjson.gz
 *   LAKE/quarantine/STREAM/date=YYYY-MM-DD/part-bronze-SAFE-FIRST-LAST.ndjson.gz
 *   LAKE/_state/ps-bronze/STREAM.json          (lib/checkpoint.h)
 *
 * A bronze file holds the envelopes (lib/envelope.h) of one source for one
 * commit, one per line, positions strictly increasing, FIRST and LAST the
 * first and last of them as 20-digit zero-padded decimals.  The date is
 * the UTC date of the ingest_time of every envelope in the file: an
 * envelope's own, or for a plain line the ingest time bronze assigns (a
 * replay lands in the same partition on any day).  SAFE is the source id
 * made safe for file names, injectively:
 *
 *   stdin:NAME            -> stdin_NAME       (NAME of [A-Za-z0-9_.-])
 *   kafka:TOPIC/PARTITION -> kafka_TOPIC_PARTITION
 *                            (TOPIC of [A-Za-z0-9_.-], PARTITION digits)
 *   anything else, or     -> the id with every byte outside [A-Za-z0-9_.-]
 *   longer than 120 bytes    replaced by '_', cut to 64 bytes, then '~' and
 *                            16 hex digits of the id's FNV-1a 64-bit hash
 *
 * (the two plain forms never contain '~'; the exact source id is inside
 * every envelope anyway).  Quarantine files hold lines bronze could not
 * land whole, as envelopes of the stdin source with extra members
 * "reason", "detail", "line", "length" and "truncated".
 */
#ifndef PS_BRONZE_H
#define PS_BRONZE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "checkpoint.h"
#include "envelope.h"
#include "error.h"

#define PS_BRONZE_TOOL "ps-bronze"

/*
 * Where committed envelopes go (the tool writes them to stdout): called
 * once per commit with every envelope line of the batch.  Return 0, 1 when
 * the reader went away (bronze then stops quietly: the data is committed),
 * or -1 on a write error (bronze fails with 74).
 */
typedef int (*ps_bronze_emit_fn)(void *ctx, const char *p, size_t n);

struct ps_bronze_opts {
	const char *lake;		/* required */
	const char *stream;		/* required */
	const char *source_name;	/* stdin:NAME; NULL = the stream */
	int continue_mode;		/* number stdin lines after the
					   checkpoint instead of replaying */
	double flush_interval;		/* seconds between commits, > 0 */
	long long flush_records;	/* records per commit, > 0 */
	long long flush_bytes;		/* envelope bytes held for output */
	size_t max_line;		/* line cap (0: 1 MiB) */
	int64_t ingest_time;		/* fixed, or PS_TIME_NONE: clock */
	int gzip_level;			/* 0-9 */
	int threads;			/* compression threads, 0: inline */
	ps_bronze_emit_fn emit;		/* NULL: nothing is emitted */
	void *emit_ctx;
};

#define PS_BRONZE_OPTS_INIT { NULL, NULL, NULL, 0, 1.0, 100000, \
	16LL * 1024 * 1024, 0, PS_TIME_NONE, 1, 2, NULL, NULL }

/*
 * Land the lines read from in_fd until end of input or SIGINT/SIGTERM
 * (ps_stop_requested), committing every flush_interval seconds (also while
 * the input is idle), flush_records records or flush_bytes bytes of
 * pending output: files first, then the checkpoint, then the envelopes
 * are emitted.  Lines that sniff as envelopes keep their source and
 * position; other non-empty lines are records of source "stdin:NAME" at
 * position (line number - 1), plus (checkpoint + 1) with continue_mode.
 * Records at or below the effective checkpoint (checkpoint file and
 * committed file names, whichever is higher) are skipped and not emitted.
 * Empty lines consume their position but are not records.  Lines over the
 * cap and lines that look like envelopes but are not valid ones go to
 * quarantine.  Logs a summary of counters at exit.
 *
 * Returns 0 (also when the emit reader went away), or -1 with e filled:
 * 73 cannot create the lake, 74 read or write error (nothing partial is
 * visible and the checkpoint is not advanced past what is committed),
 * 78 bad checkpoint file, 70 internal error.
 */
int ps_bronze_run(const struct ps_bronze_opts *o, int in_fd,
		  struct ps_error *e);

/* Append the file-name-safe form of source (see above) to b. */
/*
 * The checkpoint of the source whose file-name form (ps_bronze_safe_source)
 * is safe (len bytes), or -1 when cp holds no such source.  For stages that
 * know a source only from a file name.  Cannot fail.
 */
long long ps_bronze_safe_checkpoint(const struct ps_checkpoint *cp,
				    const char *safe, size_t len);

void ps_bronze_safe_source(struct ps_buf *b, const char *source,
			   size_t len);

/* A committed file, as listed by ps_bronze_list. */
struct ps_bronze_file {
	char *path;		/* LAKE/bronze/STREAM/date=.../part-... */
	char date[11];		/* YYYY-MM-DD */
	char *safe_source;	/* SAFE from the name */
	long long first, last;
};

struct ps_bronze_files {
	struct ps_bronze_file *v;
	size_t n;
};

#define PS_BRONZE_FILES_INIT { NULL, 0 }

/*
 * List the committed bronze files of stream (names starting with '.' and
 * names not of the part-SAFE-FIRST-LAST.ndjson.gz form are ignored),
 * sorted by SAFE then FIRST: each source's files in position order.  A
 * missing stream directory gives an empty list.  Returns 0, or -1 with e
 * filled (74) when a directory cannot be read.  Release with
 * ps_bronze_files_release.
 */
int ps_bronze_list(const char *lake, const char *stream,
		   struct ps_bronze_files *out, struct ps_error *e);

/*
 * The same for bronze's own quarantine files of stream
 * (LAKE/quarantine/STREAM/date=.../part-bronze-SAFE-FIRST-LAST...; SAFE
 * without the "bronze-"), sorted by SAFE then FIRST.
 */
int ps_bronze_list_quarantine(const char *lake, const char *stream,
			      struct ps_bronze_files *out,
			      struct ps_error *e);

/* Free the list and reset it to PS_BRONZE_FILES_INIT. */
void ps_bronze_files_release(struct ps_bronze_files *fs);

/*
 * Parse a file name (no directory) of the form
 * part-SAFE-FIRST-LAST.ndjson.gz.  Returns 0 and fills *safe / *safe_len
 * (pointing into name), *first and *last, or -1 when the name has another
 * form.
 */
int ps_bronze_parse_name(const char *name, const char **safe,
			 size_t *safe_len, long long *first,
			 long long *last);

/*
 * Merge into cp, per exact source id, the highest LAST named by the
 * committed bronze files of stream and by bronze's own quarantine files
 * (the exact id is read from the first envelope of the source's last
 * file).  Returns 0, or -1 with e filled (74 unreadable directory or
 * file, or a damaged file: one whose first line is not an envelope).
 */
int ps_bronze_checkpoint(const char *lake, const char *stream,
			 struct ps_checkpoint *cp, struct ps_error *e);

/* Reads the envelopes of one bronze (or quarantine) file, in order. */
struct ps_bronze_reader;

/*
 * Open path (gzip NDJSON).  Returns the reader, or NULL with e filled
 * (66) when the file cannot be opened.
 */
struct ps_bronze_reader *ps_bronze_reader_open(const char *path,
					       struct ps_error *e);

/*
 * The next envelope: returns 1 and fills *env (valid until the next
 * call), 0 at the end of the file, or -1 with e filled (74): a read
 * error, a damaged gzip stream, or a line that is not an envelope or is
 * longer than PS_LINE_MAX (a damaged file; the message names the file and
 * line).
 */
int ps_bronze_reader_next(struct ps_bronze_reader *r,
			  struct ps_envelope *env, struct ps_error *e);

/* Close the reader; NULL is a no-op. */
void ps_bronze_reader_close(struct ps_bronze_reader *r);

#endif

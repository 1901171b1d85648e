/*
 * bronze.h - the raw landing stage: envelopes in gzip NDJSON files, landed
 * exactly once.
 *
 * Layout (DESIGN.md, "Lake layout"):
 *
 *   LAKE/bronze/STREAM/date=YYYY-MM-DD/part-SAFE-FIRST-LAST.ndjson.gz
 *   LAKE/quarantine/STREAM/date=YYYY-MM-DD/part-bronze-SAFE-FIRST-LAST.ndjson.gz
 *   LAKE/_state/ps-bronze/STREAM.json          (lib/checkpoint.h)
 *
 * (names, listing and what readers see: lib/lake.h; the commit sequence:
 * lib/stage.h).  A bronze file holds the envelopes (lib/envelope.h) of one
 * source for one commit, one per line, positions strictly increasing,
 * FIRST and LAST the first and last of them.  The date is the UTC date of
 * the ingest_time of every envelope in the file: an envelope's own, or for
 * a plain line the ingest time bronze assigns (a replay lands in the same
 * partition on any day).  SAFE is the source id made safe for file names
 * (ps_lake_safe_source); the exact source id is inside every envelope.
 * Quarantine files hold records bronze could not land whole, one source
 * per file like the bronze files: envelopes with the quarantine members
 * "reason", "detail", "length" and "truncated" (lib/envelope.h), plus
 * "line" (the input line) for plain lines.
 */
#ifndef PS_BRONZE_H
#define PS_BRONZE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "checkpoint.h"
#include "envelope.h"
#include "error.h"
#include "lake.h"

#define PS_BRONZE_TOOL PS_LAKE_BRONZE_TOOL

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
	double lock_wait;		/* seconds to wait for another
					   writer of the stream */
	enum ps_input input;		/* what in_fd holds (told, never
					   guessed) */
};

#define PS_BRONZE_OPTS_INIT { NULL, NULL, NULL, 0, 1.0, 100000, \
	16LL * 1024 * 1024, 0, PS_TIME_NONE, 1, 2, NULL, NULL, 30.0, \
	PS_INPUT_EVENTS }

/*
 * Land the lines read from in_fd until end of input or SIGINT/SIGTERM
 * (ps_stop_requested), committing every flush_interval seconds (also while
 * the input is idle), flush_records records or flush_bytes bytes of
 * pending output: files first, then the checkpoint, then the envelopes
 * are emitted.
 *
 * input PS_INPUT_EVENTS: every non-empty line, whatever it holds, is the
 * payload of a record of source "stdin:NAME" at position (line number -
 * 1), plus (checkpoint + 1) with continue_mode; empty lines consume their
 * position but are not records; lines over max_line go to quarantine.
 * input PS_INPUT_ENVELOPES: every line is an envelope and keeps its
 * source and position; one with a quarantine reason, or a payload over
 * max_line, goes to quarantine at its position; a line that is not an
 * envelope fails the run (65) after committing what came before it.
 * Either way a last line without newline that is not whole (not JSON, not
 * an envelope) is a writer killed mid-line: not landed, with a warning.
 *
 * Records at or below the effective checkpoint (checkpoint file and
 * committed file names, whichever is higher) are skipped and not emitted.
 * Logs a summary of counters at exit.
 *
 * Returns 0 (also when the emit reader went away), or -1 with e filled:
 * 65 a plain input that is not a replay of the stdin source it continues,
 * or an envelope input line that is not an envelope,
 * 73 cannot create the lake, 75 another ps-bronze writes the stream
 * (after waiting lock_wait seconds), 74 read or write error (nothing partial is
 * visible and the checkpoint is not advanced past what is committed),
 * 78 bad checkpoint file, 70 internal error.
 */
int ps_bronze_run(const struct ps_bronze_opts *o, int in_fd,
		  struct ps_error *e);

#endif

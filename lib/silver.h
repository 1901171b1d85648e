/*
 * silver.h - the silver stage: raw payloads in, typed and cleansed
 * records out (Parquet partitioned by admission date), bad records to
 * quarantine with reason codes, exactly once per (source, position).
 *
 * Input lines are envelopes (lib/envelope.h) or plain events, as the
 * caller says (opts.input; catch-up reads bronze files, which hold
 * envelopes); nothing is decided from a line's content.  Each record
 * is parsed (lib/event.h), checked against the rule table ps_rules[], and
 * then either quarantined, or deduplicated (within its source) and kept
 * (with flags).  Kept records and quarantined ones are buffered in a batch
 * of up to 64 sources; a batch is committed when it holds --flush-records
 * records, when --flush-interval seconds passed since its first record,
 * when a 65th source appears, and at the end of input; each source of a
 * batch gets its own files:
 *
 *   1. one Parquet file per admission date,
 *      LAKE/silver/STREAM/admission_date=D/part-SRC-FIRST-LAST.parquet, and
 *      the quarantined records as
 *      LAKE/quarantine/STREAM/date=D/part-SRC-FIRST-LAST.ndjson.gz, each
 *      written under a hidden name and renamed into place;
 *   2. the dedup window, LAKE/_state/ps-silver/STREAM.dedup (atomic);
 *   3. the checkpoint, LAKE/_state/ps-silver/STREAM.json: the commit point;
 *   4. the kept records on the output, one JSON object per line.
 *
 * (names and what readers see: lib/lake.h; the order of the steps:
 * lib/stage.h).  SRC is the source id made safe for file names by
 * ps_lake_safe_source, and FIRST-LAST the range of that source in the
 * batch (20 digits, zero-padded): all files of a source in a batch carry
 * the same range.  On start (lib/stage.h), every part file whose range
 * lies beyond the checkpoint of its source is an incomplete batch (the
 * process died between renames) and is removed before anything is read;
 * its records are then processed again.  Dedup entries beyond the
 * checkpoint are dropped from the loaded window for the same reason.
 *
 * Plain event lines on stdin (input PS_INPUT_EVENTS), and lines of an
 * envelope input that are not envelopes (quarantined: bad_envelope), get
 * the source "stdin:STREAM" and their line number minus one as position, are never skipped by the
 * checkpoint and do not advance it; their files carry a run id
 * (part-SRC-FIRST-LAST-rRUN), and only dedup protects against replays:
 * at-least-once.
 *
 * Several writers (opts.shared, envelopes only): each of several
 * processes appends to the one table (lib/stage.h, ps_stage_open_shared),
 * each fed its own sources (Kafka partitions shared out by a consumer
 * group).  A source is locked (ps_lake_source_lock) from the first record
 * of it that a batch takes to that batch's commit; having locked it, the
 * writer reads its txn version from the log (records at or below it are
 * skipped), and its dedup window, one per source, from
 * LAKE/_state/ps-silver/STREAM.sources/SAFE.dedup, which step 2 writes
 * for each source of the batch instead of STREAM.dedup.  Catch-up reads
 * the bronze of opts.bronze_lake (each pipeline's own).
 *
 * Threads: a reader thread parses while the calling thread commits the
 * previous batch (one batch in flight, commits in order).
 */
#ifndef PS_SILVER_H
#define PS_SILVER_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "departments.h"
#include "envelope.h"
#include "error.h"
#include "event.h"
#include "parquet.h"

#define PS_SILVER_SCHEMA_VERSION "1"
#define PS_SILVER_TOOL "ps-silver"

/*
 * Where output goes: returns 0, 1 when the reader went away, or -1 when
 * the write failed; either way the run stops reading and ends after
 * committing (the tool's exit status then comes from ps_close_stdout:
 * 0 for a reader gone, 74 for a write error).  Called with p NULL to
 * flush.  ps_stdout_out (lib/cli.h) is this for stdout.
 */
typedef int (*ps_silver_write_fn)(void *ctx, const void *p, size_t n);

struct ps_silver_opts {
	const char *lake;	/* required unless dry_run */
	const char *stream;	/* "admissions" */
	int catch_up;		/* with a lake: bronze files first */
	int read_stdin;		/* then read in_fd (0: catch-up only) */
	int dry_run;		/* write no file, no state */
	int no_output;		/* no records on the output */
	int strict;		/* first quarantined record: 65 */
	long long max_errors;	/* > this many quarantined: 65; -1 off */
	int64_t max_future;	/* microseconds */
	const char *departments;	/* file, NULL: built-in table */
	const char *stats_json;	/* file for the counters, or NULL */
	double flush_interval;	/* seconds */
	long long flush_records;
	enum ps_pq_codec codec;
	int64_t now;		/* reference time, PS_TIME_NONE: ingest */
	long long dedup_window;	/* ids remembered */
	size_t max_record;	/* bytes of one payload */
	double lock_wait;	/* seconds to wait for another writer */
	const char *map;	/* HL7 v2 / FHIR mapping file (lib/hl7map.h),
				   NULL: the built-in rules */
	int format;		/* of the payloads: enum ps_feed_format */
	enum ps_input input;	/* what in_fd holds */
	int shared;		/* one of several writers (below) */
	const char *bronze_lake;	/* catch-up reads its bronze; NULL:
					   lake */
};

#define PS_SILVER_OPTS_INIT { NULL, "admissions", 1, 1, 0, 0, 0, -1, \
	3600LL * 1000000, NULL, NULL, 1.0, 50000, PS_PQ_ZSTD, INT64_MIN, \
	200000, 1024 * 1024, 30.0, NULL, 0, PS_INPUT_ENVELOPES, 0, NULL }

/*
 * Run the stage: optionally catch up from LAKE/bronze, then read lines
 * from in_fd until end of input or SIGINT/SIGTERM (ps_stop_requested),
 * committing as described above and writing kept records through out.
 * Logs a summary with a count per rule, and writes stats_json when set.
 * Returns 0, or -1 with e filled: 65 under --strict / --max-errors (what
 * came before the bad record is committed), 66 departments file unreadable,
 * 73/74 when a file cannot be created or written (nothing of the failed
 * batch stays visible, the checkpoint is not advanced), 75 another
 * ps-silver writes the stream (after waiting lock_wait seconds), 78 bad
 * state file.
 */
int ps_silver_run(const struct ps_silver_opts *o, int in_fd,
		  ps_silver_write_fn out, void *out_ctx, struct ps_error *e);

/* Which version of the Delta tables ps_silver_dump reads. */
struct ps_dump_at {
	int64_t version;	/* this version, or -1 */
	int64_t as_of;		/* the version at this instant (us, UTC), or
				   INT64_MIN; -1 and INT64_MIN: the latest */
};

/*
 * Print lake tables as NDJSON (ps-silver --dump; silver_dump.c): each
 * path is a Parquet file or a directory, searched recursively (names
 * starting with '.' skipped, in byte order) for Delta tables (a directory
 * with _delta_log, read through its log: the rows of the version at asks
 * for (NULL: the latest), partition columns included, see ps_delta_dump)
 * and for *.parquet files outside them.  Time travel (at set) needs every
 * path to hold Delta tables only.  Returns 0, or -1 with e filled (66
 * missing path, no such version, a time before the first version, or not
 * a Delta table for time travel; 65 not a valid Parquet file or log; 74
 * output error).
 */
int ps_silver_dump(char *const *paths, int n, const struct ps_dump_at *at,
		   ps_silver_write_fn out, void *out_ctx, struct ps_error *e);

/* Append the rule table as help text (one rule a line). Cannot fail. */
void ps_silver_rules_help(struct ps_buf *b);

/* "0-9", "10-19", ... "80-89", "90+" (age >= 0). */
const char *ps_silver_age_band(int age);

/*
 * Apply the rules that need context to a parsed event without problems of
 * its own: age range, admission_time against ref_time +
 * max_future, discharge before admission, arrival after admission,
 * unknown department (ds may be NULL: no check).  Problems and flags are
 * added to ev.  Returns 1 when ev must be quarantined, else 0.
 */
int ps_silver_check(struct ps_event *ev, int64_t ref_time,
		    int64_t max_future, const struct ps_departments *ds);

/*
 * The bounded dedup window: the last cap distinct keys kept, each with a
 * 32-bit hash of its source (PS_DEDUP_PLAIN for plain lines) and the
 * position of the record that brought it, so that keys of a batch that
 * was never committed can be dropped on load.
 */
#define PS_DEDUP_PLAIN UINT32_MAX
struct ps_dedup;

struct ps_dedup *ps_dedup_new(long long cap);
void ps_dedup_free(struct ps_dedup *d);

/*
 * Is key in the window?  If not, add it (evicting the oldest key when the
 * window is full) with its source index and position, and return 0;
 * return 1 for a duplicate.  Cannot fail.
 */
int ps_dedup_check_add(struct ps_dedup *d, uint64_t key, uint32_t src,
		       long long pos);

/* Number of keys in the window. */
long long ps_dedup_count(const struct ps_dedup *d);

/* The dedup key of an event: event_id if present, else a hash of raw. */
uint64_t ps_silver_dedup_key(const struct ps_event *ev, const char *raw,
			     size_t len);

#endif

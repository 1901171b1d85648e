/*
 * gold.h - the gold stage: clean records in, a star schema and KPI tables
 * out (Delta tables of Parquet files in LAKE/gold, lib/stage.h), KPI
 * snapshots and alerts on the output.
 *
 * State lives in memory while running (hash maps: patient_id -> SCD2
 * versions, encounter_id -> fact row, (department, hospital_id) ->
 * department) and is persisted at every commit:
 *
 *   1. the data files: of the fact partitions that changed since the last
 *      commit (LAKE/gold/fact_patient_flow/admission_date=D/part-SEQ.parquet),
 *      then of dim_patient, dim_department and every kpi_* table
 *      (LAKE/gold/T/part-SEQ.parquet), new files made durable together;
 *   2. each table's Delta log (dimensions, fact, KPI tables), one version
 *      per table replacing its changed files (lib/stage.h, numbered
 *      commits);
 *   3. the state and the positions applied per source: a record of what
 *      changed appended to the state log LAKE/_state/ps-gold/STREAM.log
 *      (lib/statelog.h), or, when the log has grown to the size of the
 *      snapshot LAKE/_state/ps-gold/STREAM.snap, a new snapshot (atomic)
 *      and a new log naming it: the commit point of the input;
 *   4. the checkpoint LAKE/_state/ps-gold/STREAM.json (lib/checkpoint.h),
 *      the same positions for other tools;
 *   5. the KPI rows and alert transitions on the output.
 *
 * In memory, a patient with one observation costs about 92 bytes (48
 * of state, its key 16, index slots ~9 (4 bytes each, two to four an
 * id), its id packed in 19 when it is a UUID, its length and a NUL
 * included); an encounter whose records set everything at one event time
 * about 100 (48, 16, ~9, 27 for a UUID or UUID@time id), one with several
 * event times or ED fields 104 more; ids of other forms take their
 * length + 3 (+ 7 from 254 bytes on).  The slots go before the last
 * commit of a run (ps_gold_shed).
 *
 * On start the snapshot and the log records after it are loaded; records
 * at or below the position of their source are skipped.  Upserts are
 * idempotent, so records applied again after a crash between 1 and 3
 * change nothing, and the next commit brings every table to it.
 *
 * Surrogate keys are deterministic hashes (FNV-1a 64 then splitmix64, top
 * bit cleared): patient_sk of each dim_patient row (patient_id and the
 * version's effective_from: unique per row, as Power BI and SQL joins
 * need), patient_key of patient_id (the durable key shared by all SCD2
 * versions of the patient), department_sk of department and hospital_id,
 * fact_sk of encounter_id.  They are equal in incremental and batch runs
 * and in any arrival order; a fact row's patient_sk is the version in
 * effect at its admission time, and moves when a late record changes the
 * patient's history.
 *
 * Upsert rules (the event time of a record is event_time, or
 * admission_time when it has none): the admission side of a fact row
 * (patient, department, hospital, admission time) comes from the record
 * with the latest event time (ties: the later record); arrival time, bed
 * and triage level each from the latest record that has a value (a null
 * never erases a value); the discharge time likewise, except that a
 * CANCEL_DISCHARGE record (HL7 A13) erases the discharges at or before
 * its event time.  A CANCEL_ADMIT record (HL7 A11) cancels the
 * encounter while it is the latest of the encounter's ADMIT, ARRIVAL,
 * untyped and CANCEL_ADMIT records by event time: a cancelled encounter
 * has no fact row and counts in no KPI (it stays in the state; patients
 * and departments keep what its records said).  Cancels win ties.  So
 * events may arrive in any order, and a DISCHARGE before its ADMIT
 * creates the row.
 *
 * SCD2 on patient_id tracks gender and age_band; age is type 1 (latest
 * by event time, ties: the larger).  Every observation (event time,
 * gender, age_band) is kept, one per instant (two at the same instant:
 * the smaller values by byte order); the versions are the runs of equal
 * values in event-time order: effective_from is the first observation of
 * a run, last_seen its last, effective_to the next run's start.  So the
 * history is a function of the set of records, not of their order (a
 * value that changes and changes back, A -> B -> A, gives three versions
 * however the records arrive).
 */
#ifndef PS_GOLD_H
#define PS_GOLD_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "departments.h"
#include "error.h"
#include "kpi.h"
#include "parquet.h"

struct ps_afile;

#define PS_GOLD_TOOL "ps-gold"
#define PS_GOLD_NULL INT64_MIN		/* absent time or integer */

/* A string that is not NUL-terminated. */
struct ps_gold_str {
	const char *p;
	size_t len;
};

/* One clean record (lib/clean.h: the fields gold uses; strings not
 * owned). */
struct ps_gold_rec {
	struct ps_gold_str source, encounter_id, event_type, patient_id,
			   gender, age_band, department, disposition;
	long long position;		/* -1 when absent */
	int64_t ingest_time, event_time, arrival_time, admission_time,
		discharge_time, seen_time, decision_time;
					/* PS_GOLD_NULL when absent */
	int64_t age, hospital_id, bed_id, triage_level;	/* or NULL */
};

/* How gold reads each column of the clean record (lib/clean.h). */
enum ps_gold_kind {
	PS_GOLD_K_NONE = 0,	/* not read */
	PS_GOLD_K_STR,		/* struct ps_gold_str */
	PS_GOLD_K_TIME,		/* int64_t, microseconds */
	PS_GOLD_K_INT,		/* int64_t, an int32 value */
	PS_GOLD_K_POS,		/* long long, >= 0 */
};

struct ps_gold_field {
	const char *name;
	size_t len;
	enum ps_gold_kind kind;
	size_t off;		/* of the member in struct ps_gold_rec */
};

/* Indexed by enum ps_clean_col. */
extern const struct ps_gold_field ps_gold_fields[];

/* An empty record: every member absent.  Cannot fail. */
void ps_gold_rec_init(struct ps_gold_rec *r);

/*
 * Parse one clean record line (a flat JSON object) into r.  Strings point
 * into line, or into scratch when they held escapes (scratch is reset).
 * Returns 0, or -1 with a one-line reason in why (malformed JSON, a field
 * of the wrong type, a bad timestamp, a required field missing:
 * patient_id, gender, department, hospital_id, admission_time, and
 * encounter_id unless it can be derived).  Cannot fail otherwise.
 */
int ps_gold_parse(const char *line, size_t len, struct ps_gold_rec *r,
		  struct ps_buf *scratch, char *why, size_t whylen);

struct ps_gold;

/* Empty state using the departments ds (borrowed: keep it alive). */
struct ps_gold *ps_gold_new(const struct ps_departments *ds);
void ps_gold_free(struct ps_gold *g);

/*
 * Apply one record (upsert of its encounter, SCD2 observation of its
 * patient, department key).  Returns 1 when the state changed, 0 when it
 * did not (a repeated record), -1 with why filled when the record lacks
 * what gold needs.  Does not look at positions.
 */
int ps_gold_apply(struct ps_gold *g, const struct ps_gold_rec *r,
		  char *why, size_t whylen);

/* One SCD2 version, for inspection. */
struct ps_gold_version {
	int64_t effective_from, effective_to;	/* to: NULL when current */
	int64_t last_seen;
	const char *gender, *age_band;
};

/*
 * The versions of patient_id (oldest first), at most max into out.
 * Returns the number of versions (0 for an unknown patient).
 */
size_t ps_gold_history(const struct ps_gold *g, const char *patient_id,
		       struct ps_gold_version *out, size_t max);

/* Percentiles from fewer samples are not reported (null). */
#define PS_GOLD_MIN_SAMPLES 20
void ps_gold_set_min_samples(struct ps_gold *g, long long n);

/*
 * Free the lookup slots of the ids (patients, encounters, departments,
 * symbols: 4 bytes per 1 to 2 ids, about 9 a patient and 9 an
 * encounter), for a state that is about to take no more records, such as
 * before the last commit of a run: its tables, snapshot and deltas need
 * none.  The next record (ps_gold_apply, ps_gold_apply_delta,
 * ps_gold_restore) makes them again; until then ps_gold_history goes
 * through every id.  Cannot fail.
 */
void ps_gold_shed(struct ps_gold *g);

/* Bytes of the lookup slots held now (0 after ps_gold_shed). */
size_t ps_gold_index_bytes(const struct ps_gold *g);

/*
 * Bytes the state holds for its patients (*patients) and for its
 * encounters (*encounters), apart from the lookup slots: their records,
 * the 4-byte reference to each id and the id in the key arena (its
 * hash, its length unless its packed form says it, its bytes), and what
 * they hold on the heap besides (a patient's observations and
 * encounters past the first, an encounter's extension).  A patient of
 * one observation and one encounter with a UUID id takes 73 bytes, an
 * encounter whose id is its patient's UUID, '@' and a time in whole
 * seconds 65 (77 when the UUID is no patient's).  Cannot fail.
 */
void ps_gold_state_bytes(const struct ps_gold *g, size_t *patients,
			 size_t *encounters);

/* Counts of patients, encounters and departments. */
size_t ps_gold_npatients(const struct ps_gold *g);
size_t ps_gold_nencounters(const struct ps_gold *g);
size_t ps_gold_ndepartments(const struct ps_gold *g);

/* The deterministic surrogate key of len bytes (63 bits). */
int64_t ps_gold_sk(const char *p, size_t len);

/* The surrogate key of the dim_patient row (version) of patient_id that
 * starts at effective_from: ps_gold_sk of patient_id, byte 0x1f and
 * effective_from in microseconds since the epoch in decimal.  Cannot
 * fail. */
int64_t ps_gold_version_sk(const char *patient_id, int64_t effective_from);

/*
 * Build every table as of now: t[0] dim_patient, t[1] dim_department,
 * then the KPI tables (names in t[i].name); *n gets the count (at most
 * PS_GOLD_MAX_TABLES).  dim_patient is streamed (lib/kpi.h: its rows are
 * made chunk by chunk when it is written, or by ps_table_fill_all): one
 * row per patient version would be the largest thing in memory.  window is the trailing period of the waiting and
 * inflow KPIs, in microseconds.  Strings point into g: use the tables
 * before g changes, then ps_table_release each.  Cannot fail.
 */
#define PS_GOLD_MAX_TABLES 16

/* A KPI column that alert rules can watch: the rule's metric name and the
 * column it reads (lib/alerts.h). */
struct ps_gold_alert_src {
	const char *metric, *column;
};

/*
 * The alerting columns of table (by name), { NULL, NULL }-terminated, or
 * NULL when the table has none.  Cannot fail.
 */
const struct ps_gold_alert_src *ps_gold_alert_sources(const char *table);
void ps_gold_tables(struct ps_gold *g, int64_t now, int64_t window,
		    struct ps_table *t, size_t *n);

/*
 * The KPIs follow the change: ps_gold_tables sums once the part of each
 * encounter that can no longer change as the clock moves on (discharged
 * before every window, or open and stale) and then goes over the others
 * and the ones records changed since (their patients' too) only; the
 * clock going back, another window or a state loaded start over.  The
 * number of encounters the last ps_gold_tables went over.  Cannot fail.
 */
size_t ps_gold_kpi_visited(const struct ps_gold *g);

/*
 * The bytes the settled sums of the KPIs hold (above): per department,
 * and a cell per (department, gender), (age band, gender) and (admission
 * day, gender) that settled encounters have, with their hash slots; a
 * bit per encounter.  0 before the first ps_gold_tables.  Cannot fail.
 */
size_t ps_gold_kpi_bytes(const struct ps_gold *g);

/*
 * Make the KPIs' sums of the settled encounters as of now (what the
 * next ps_gold_tables at now or later then need not do): at start, so
 * that the first commit costs what it changes.  Cannot fail.
 */
void ps_gold_kpi_warm(struct ps_gold *g, int64_t now, int64_t window);

/*
 * The admission days (days since the epoch) whose fact rows changed since
 * the last call, sorted and distinct (malloc'd: free it; NULL when *n is
 * 0).  The set is then empty again.  Cannot fail.
 */
int32_t *ps_gold_take_dirty(struct ps_gold *g, size_t *n);

/* Entries of that set held now: about one a day however many records
 * touched it (a day seen lately is not added again).  Cannot fail. */
size_t ps_gold_dirty_held(const struct ps_gold *g);

/*
 * The rows of dim_patient of the patients lo..hi-1 (by index: the order of
 * ps_gold_tables' dim_patient, new patients last), as a table streamed
 * from r (borrowed: r and its gold must outlive t's use).  Cannot fail.
 */
struct ps_gold_patients {
	const struct ps_gold *g;
	size_t lo, hi;
};
void ps_gold_dim_patient(const struct ps_gold_patients *r, struct ps_table *t);

/*
 * The patients changed since the last ps_gold_delta or ps_gold_mark_clean
 * (the state's last save): those at or past the index returned are new,
 * *touched lists (in no order, n of them, owned by g) the older ones that
 * changed.  Cannot fail.
 */
size_t ps_gold_changed_patients(const struct ps_gold *g,
				const uint32_t **touched, size_t *n);

/*
 * The tables ps-gold writes, in the order of its commits: dim_department,
 * dim_patient, fact_patient_flow, then the KPI tables of ps_gold_tables.
 * Their names and columns go into name, cols and ncols (room for
 * PS_GOLD_MAX_TABLES each); returns their count.  Cannot fail.
 */
size_t ps_gold_table_list(const char **name, const struct ps_pq_column **cols,
			  size_t *ncols);

/*
 * The days that an encounter left since the last call (its admission
 * moved to another day; malloc'd, in no order, NULL when *n is 0), and
 * the admission day of encounter i.  Cannot fail.
 */
int32_t *ps_gold_take_left(struct ps_gold *g, size_t *n);
int32_t ps_gold_encounter_day(const struct ps_gold *g, size_t i);

/* The columns of fact_patient_flow; *n gets their count.  Cannot fail. */
const struct ps_pq_column *ps_gold_fact_columns(size_t *n);

/*
 * The fact rows of each of the n admission days (sorted ascending) as of
 * now, into t[0..n-1] (release each).  Strings point into g or are
 * kept by the table (an id's text, lib/kpi.h ps_table_keep).  Cannot
 * fail.
 */
void ps_gold_fact_partitions(struct ps_gold *g, const int32_t *days,
			     size_t n, int64_t now, struct ps_table *t);

/*
 * The most bytes a fact write (ps_gold_fact_each, ps_gold_fact_range) has
 * sorted its rows with: 4 a row of its days and 16 a row of its largest
 * partition, which are sorted one at a time.  Cannot fail.
 */
size_t ps_gold_fact_sort_bytes(const struct ps_gold *g);

/*
 * Build every fact partition of the n admission days (sorted ascending)
 * as of now, one at a time: fn gets the day and the table (in the order
 * of ps_gold_fact_partitions; strings point into g or the table), which
 * is released when fn returns.  The table is streamed (lib/kpi.h: rows
 * made chunk by chunk as it is written, the next chunk on a thread of
 * its own: the fill only reads g), except for a day without encounters
 * (no rows, no fill) and the rare partition with two equal fact keys
 * (sorted in memory).  Memory holds two chunks, not a partition.
 * Returns 0, or
 * the first non-zero value of fn (the rest are then not built).
 */
typedef int (*ps_gold_part_fn)(void *ctx, int32_t day,
			       const struct ps_table *t);
int ps_gold_fact_each(struct ps_gold *g, const int32_t *days, size_t n,
		      int64_t now, ps_gold_part_fn fn, void *ctx);

/* As ps_gold_fact_each, with the rows of the encounters from..to-1 (by
 * index, new encounters last) only. */
int ps_gold_fact_range(struct ps_gold *g, const int32_t *days, size_t n,
		       size_t from, size_t to, int64_t now, ps_gold_part_fn fn,
		       void *ctx);

/*
 * The encounters whose fact rows changed since the last ps_gold_delta or
 * ps_gold_mark_clean (the state's last save), as ps_gold_changed_patients
 * gives the patients: those at or past the index returned are new.
 */
size_t ps_gold_changed_encounters(const struct ps_gold *g,
				  const uint32_t **touched, size_t *n);

/* Serialize the state (with positions text pos) / load it back. */
void ps_gold_snapshot(const struct ps_gold *g, const char *pos,
		      size_t poslen, struct ps_buf *b);
/*
 * The same snapshot written to path atomically (lib/fsutil.h) in pieces
 * of about a megabyte, never whole in memory, sealed (lib/seal.h,
 * PS_SEAL_BIN: open it with ps_seal_open before ps_gold_restore).
 * Returns 0, or -1 with e filled (73/74; path is then untouched).
 */
int ps_gold_snapshot_save(const struct ps_gold *g, const char *pos,
			  size_t poslen, const char *path,
			  struct ps_error *e);
/*
 * Its first half: the snapshot written to f (opened by the caller with
 * ps_afile_open) through b, grown here to PS_GOLD_SNAP_ROOM (a caller on
 * another thread grows it first: that thread then allocates nothing),
 * then sealed (ps_afile_seal_all: durable, not yet visible);
 * ps_afile_commit then puts it in place.  Only reads g: another thread
 * may read g meanwhile (a commit's tables), none may change it.  Returns
 * 0, or -1 with e filled (f aborted).
 */
#define PS_GOLD_SNAP_ROOM ((size_t)1 << 21)
int ps_gold_snapshot_write(const struct ps_gold *g, const char *pos,
			   size_t poslen, struct ps_afile *f,
			   struct ps_buf *b, struct ps_error *e);
/* Returns 0 and the positions text in *pos (pointing into p), or -1
 * with e filled (78: not a snapshot, truncated, a newer ps-gold's format
 * (the message says so), or a value out of range: a time outside
 * lib/pstime's range, a key that points nowhere; the caller names the
 * file). */
int ps_gold_restore(struct ps_gold *g, const char *p, size_t n,
		    const char **pos, size_t *poslen, struct ps_error *e);

/*
 * The state log (gold_run.c): a commit appends what changed since the
 * last delta or snapshot instead of rewriting the whole state.
 * ps_gold_delta appends to b the new symbols, departments, patients and
 * encounters and the full records of the older patients and encounters
 * that records touched since then, with the positions text pos; the
 * state is then clean.  Cannot fail.
 */
void ps_gold_delta(struct ps_gold *g, const char *pos, size_t poslen,
		   struct ps_buf *b);

/* How many patients and encounters the next delta would hold. */
size_t ps_gold_delta_items(const struct ps_gold *g);

/* Nothing is pending for the next delta (after a snapshot is saved). */
void ps_gold_mark_clean(struct ps_gold *g);

/*
 * Apply one delta of ps_gold_delta to a state restored to the point it
 * was made from; *pos and *poslen get its positions (pointing into p).
 * Returns 0, or -1 with e filled (78) when it does not fit the state, is
 * corrupt or a newer ps-gold's (the message says so; the caller names the
 * file).  Call ps_gold_relink after the last one.
 */
int ps_gold_apply_delta(struct ps_gold *g, const char *p, size_t n,
			const char **pos, size_t *poslen, struct ps_error *e);

/* Rebuild what is derived from the restored state (after deltas). */
void ps_gold_relink(struct ps_gold *g);

/* ------------------------------------------------------------------ */
/* The stage                                                           */
/* ------------------------------------------------------------------ */

/*
 * Output: 0; 1 when the reader went away (the run stops reading and ends
 * with 0: what it emitted was committed first); -1 on a write error (74).
 * p NULL: flush.  ps_stdout_out (lib/cli.h) is this for stdout.
 */
typedef int (*ps_gold_write_fn)(void *ctx, const void *p, size_t n);

struct ps_gold_opts {
	const char *lake;		/* required */
	const char *stream;		/* "admissions" */
	int catch_up;			/* silver Parquet past the checkpoint */
	int read_stdin;			/* then read in_fd */
	const char *departments;	/* NULL: built-in table */
	const char *thresholds;		/* NULL: no alerts */
	int64_t now;			/* PS_GOLD_NULL: wall clock */
	int64_t window;			/* microseconds */
	long long commit_records;	/* records per commit */
	double commit_interval;		/* seconds */
	enum ps_pq_codec codec;
	int no_kpi_output;		/* no KPI rows on the output */
	int no_alerts;			/* no alert lines */
	int strict;			/* bad record: 65 */
	long long min_samples;		/* of a reported percentile */
	const char *pseudonymize;	/* key, "secret:NAME", or NULL */
	double lock_wait;		/* seconds to wait for another
					   writer of the stream */
	int64_t keep_removed;		/* microseconds a file removed from a
					   gold table is kept for readers */
};

#define PS_GOLD_OPTS_INIT { NULL, "admissions", 1, 1, NULL, NULL, \
	PS_GOLD_NULL, 24LL * 3600 * 1000000, 1000000, 10.0, PS_PQ_ZSTD, \
	0, 0, 0, PS_GOLD_MIN_SAMPLES, NULL, 30.0, 3600LL * 1000000 }

/*
 * Run the stage: load state, optionally catch up from LAKE/silver, then
 * read clean records from in_fd until end of input or SIGINT/SIGTERM,
 * committing every commit_records records or commit_interval seconds
 * and at the end.  Returns 0, or -1 with e filled: 65 bad record under
 * strict, 66 departments or thresholds file unreadable, 73/74 a file
 * cannot be written (the state stays at the last commit), 75 another
 * ps-gold writes the stream (after waiting lock_wait seconds), 78 bad
 * configuration or state file.
 */
int ps_gold_run(const struct ps_gold_opts *o, int in_fd,
		ps_gold_write_fn out, void *out_ctx, struct ps_error *e);

#endif

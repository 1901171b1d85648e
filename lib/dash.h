/*
 * dash.h - ps-dash: the hospital operations dashboard over the gold lake.
 *
 * The dashboard is built in three steps, one module each:
 *
 *   lib/dash_data.c  reads what it needs from the lake into a model
 *                    (struct ps_dash_model): the gold KPI tables loaded by
 *                    column name, trends and the original lab's seven views
 *                    computed from fact_patient_flow joined with
 *                    dim_patient, data quality from silver and quarantine,
 *                    stage positions from the checkpoints, and the alerts;
 *   lib/dash_html.c  renders the model as one self-contained HTML page
 *                    (inline CSS, SVG charts, a few lines of inline
 *                    JavaScript for live updates; readable without it);
 *   lib/dash_api.c   renders it as JSON (/api/kpis.json) and as the
 *                    Prometheus text format (/metrics).
 *
 * lib/dash_run.c runs the tool: write the page once, or follow ps-gold's
 * output (rewriting the page after each gold commit), and serve it over
 * HTTP with Server-Sent Events (lib/httpd.h).
 *
 * Gold tables are read through one function (the files of a table a
 * reader may see), columns are looked up by name, and a missing table or
 * column shows as "no data" instead of failing, so the dashboard follows
 * gold as its tables grow.
 */
#ifndef PS_DASH_H
#define PS_DASH_H

#include <stddef.h>
#include <stdint.h>

#include "alerts.h"
#include "buf.h"
#include "error.h"
#include "parquet.h"

#define PS_DASH_TOOL "ps-dash"
#define PS_DASH_NOW_WALL INT64_MIN	/* --now absent: the wall clock */
#define PS_DASH_HOURS (7 * 24)		/* hourly trend points */

/* ------------------------------------------------------------------ */
/* A gold table in memory, columns by name                              */
/* ------------------------------------------------------------------ */

struct ps_dash_tab {
	const char *name;	/* "kpi_occupancy" (not owned) */
	int present;		/* at least one visible file was read */
	size_t ncols;
	char **cols;		/* column names (owned) */
	enum ps_pq_type *types;
	size_t nrows, cap;
	struct ps_pq_value *v;	/* nrows * ncols; strings owned (malloc) */
};

/* Index of column name in t, or -1 when t has no such column. */
int ps_dash_col(const struct ps_dash_tab *t, const char *name);

/* Value of column col (from ps_dash_col) of row i, or NULL when col < 0,
 * i is out of range or the value is null. */
const struct ps_pq_value *ps_dash_val(const struct ps_dash_tab *t,
				      size_t i, int col);

/* The value as a double (integers, timestamps and booleans converted), or
 * NAN when ps_dash_val gives NULL or it is a string. */
double ps_dash_num(const struct ps_dash_tab *t, size_t i, int col);

/* Any value as text: strings as they are, dates "YYYY-MM-DD",
 * timestamps ISO-8601, numbers in C locale, into buf (n >= PS_TIME_MAX
 * bytes) when not a string; "" for null (never NULL). */
const char *ps_dash_text(const struct ps_dash_tab *t, size_t i, int col,
			 char *buf, size_t n);

/* A string value (NUL-terminated), or "" when null or not a string. */
const char *ps_dash_str(const struct ps_dash_tab *t, size_t i, int col);

/* ------------------------------------------------------------------ */
/* The model                                                            */
/* ------------------------------------------------------------------ */

/* The KPI tables the page shows, in this order. */
enum ps_dash_table {
	PS_DASH_OCCUPANCY = 0,	/* kpi_occupancy */
	PS_DASH_OCC_HOSPITAL,	/* kpi_occupancy_hospital */
	PS_DASH_WAITING,	/* kpi_waiting */
	PS_DASH_LOS,		/* kpi_los */
	PS_DASH_VOLUME,		/* kpi_volume */
	PS_DASH_DEMOGRAPHICS,	/* kpi_demographics */
	PS_DASH_OVERSTAY,	/* kpi_overstay */
	PS_DASH_TURNOVER,	/* kpi_bed_turnover */
	PS_DASH_INFLOW,		/* kpi_inflow */
	PS_DASH_DEPARTMENTS,	/* dim_department */
	PS_DASH_ED,		/* kpi_ed */
	PS_DASH_NTABLES
};

/* The gold table name of each entry above. */
extern const char *const ps_dash_table_names[PS_DASH_NTABLES];

/* One alert series, as last seen. */
struct ps_dash_alert {
	char *metric, *department;
	int hospital_id;		/* -1: none */
	int level;			/* PS_ALERT_*: current level */
	int firing;			/* 1 firing, 0 resolved */
	double value, threshold;	/* NAN when unknown */
	int64_t since;			/* as_of of the transition, or
					   PS_DASH_NOW_WALL when unknown */
};

/* A count with a name (quarantine reasons, data quality). */
struct ps_dash_count {
	char *name;
	long long n;
};

/* Per stage: the positions it committed and when. */
struct ps_dash_stage {
	const char *tool;		/* "ps-bronze", ... */
	int present;
	long long records;		/* sum over sources of position + 1 */
	int64_t commit_time;		/* checkpoint mtime, us; 0 unknown */
};

/* Per department (over all hospitals), from the fact table. */
struct ps_dash_dept {
	char *department;
	size_t nwait, nlos;
	double wait_median, wait_p90;	/* minutes; NAN below min samples */
	double los_median, los_p90;	/* hours */
};

/* One cell of a view grouped by department and gender, or by gender. */
struct ps_dash_view {
	char *department;		/* NULL in per-gender rows */
	char *gender;
	long long rows, rows_with_bed, admitted_with_bed, admitted;
	long long overstay;		/* length of stay over 50 h */
	double los_sum;
	long long los_n;
	long long distinct_beds;	/* per gender rows only */
};

struct ps_dash_model {
	int64_t now;			/* microseconds */
	const char *stream;
	int64_t as_of;			/* newest KPI as_of, or
					   PS_DASH_NOW_WALL when none */
	struct ps_dash_tab t[PS_DASH_NTABLES];

	/* fact_patient_flow */
	int has_fact;
	long long encounters, waiting_for_bed;
	int64_t hour0;			/* start of the first hourly point */
	long long admissions_hour[PS_DASH_HOURS];
	long long census_hour[PS_DASH_HOURS];
	struct ps_dash_dept *depts;
	size_t ndepts;
	struct ps_dash_view *by_gender, *by_dept_gender;
	size_t nby_gender, nby_dept_gender;
	int has_gender;			/* dim_patient joined */

	/* data quality */
	int has_quality;
	struct ps_dash_count *quarantine;	/* by reason, sorted */
	size_t nquarantine;
	long long quarantined, kept, flagged, records_in;
	long long late;			/* see PS_DASH_LATE */
	struct ps_dash_count *flags;		/* silver flags, sorted */
	size_t nflags;

	struct ps_dash_stage stages[3];	/* bronze, silver, gold */

	struct ps_dash_alert *alerts;	/* firing first, then resolved */
	size_t nalerts;
	int alerts_known;		/* any alert source was found */

	long long seq;			/* update number (SSE id) */
};

/* A kept record is a late event when its event time is more than this
 * (microseconds) older than an event its source delivered before it. */
#define PS_DASH_LATE (5LL * 60 * 1000000)

/* Minimum samples for a median or p90 (HEALTHCARE.md). */
#define PS_DASH_MIN_SAMPLES 20

/*
 * Build the model of lake (stream) as of now (microseconds).  Alerts come
 * from the levels ps-gold saved at its last commit (values from the KPI
 * tables; since when is unknown): ps_dash_model_set_alerts replaces them
 * with the transitions seen on ps-gold's output.  cache (may be NULL)
 * keeps what committed quarantine and silver files hold between calls, so
 * that a file is read once.  Missing tables,
 * columns or files give an empty part of the model, not an error.
 * Returns 0, or -1 with e filled (65 a gold file is corrupt, 74 a read
 * error); m must then still be released.
 */
struct ps_dash_cache;
int ps_dash_load(struct ps_dash_model *m, const char *lake,
		 const char *stream, int64_t now, struct ps_dash_cache *cache,
		 struct ps_error *e);

/* An empty cache for ps_dash_load, and its release (NULL: no-op).  Cannot
 * fail. */
struct ps_dash_cache *ps_dash_cache_new(void);
void ps_dash_cache_free(struct ps_dash_cache *c);

/* Free everything m holds; m becomes zeroed.  Cannot fail. */
void ps_dash_model_release(struct ps_dash_model *m);

/*
 * The data files of gold table name (LAKE/gold/NAME) a reader may see: the
 * active files of its Delta log when it has one (lib/delta.h), else its
 * Parquet files (hidden and "_" entries skipped).  Sorted, as
 * malloc'd paths in *files (ps_dash_free_strs).  *n is 0 for a
 * missing table.  Returns 0, or -1 with e filled (74).
 */
int ps_dash_table_files(const char *lake, const char *name, char ***files,
			size_t *n, struct ps_error *e);

/* Free n malloc'd strings and the array holding them.  Cannot fail. */
void ps_dash_free_strs(char **v, size_t n);

/* ------------------------------------------------------------------ */
/* Alerts seen on ps-gold's output                                      */
/* ------------------------------------------------------------------ */

struct ps_dash_journal {
	struct ps_dash_alert *a;	/* one per series, latest transition */
	size_t n, cap;
};

#define PS_DASH_JOURNAL_INIT { NULL, 0, 0 }

/*
 * Apply one alert line of ps-gold ({"alert":...,"state":...}) to j.
 * Returns 1 when it was an alert line, 0 when it is another line (KPI
 * rows), -1 when it is not valid JSON.  Cannot fail otherwise.
 */
int ps_dash_journal_line(struct ps_dash_journal *j, const char *line,
			 size_t len);

/* Load / save the journal as NDJSON alert lines (missing file: empty).
 * Return 0, or -1 with e filled (74 read/write error, 73). */
int ps_dash_journal_load(struct ps_dash_journal *j, const char *path,
			 struct ps_error *e);
int ps_dash_journal_save(const struct ps_dash_journal *j, const char *path,
			 struct ps_error *e);
void ps_dash_journal_release(struct ps_dash_journal *j);

/* Sort m's alerts: firing first (critical first), then resolved (newest
 * first).  Cannot fail. */
void ps_dash_sort_alerts(struct ps_dash_model *m);

/* Copy the journal's series into m's alerts (replacing gold's levels),
 * firing first.  Cannot fail. */
void ps_dash_model_set_alerts(struct ps_dash_model *m,
			      const struct ps_dash_journal *j);

/* ------------------------------------------------------------------ */
/* Renderers                                                            */
/* ------------------------------------------------------------------ */

/* Append the HTML page to b.  live: include the SSE script.  Cannot
 * fail. */
void ps_dash_html(const struct ps_dash_model *m, int live, struct ps_buf *b);

/* Append the /api/kpis.json document to b.  Cannot fail. */
void ps_dash_json(const struct ps_dash_model *m, struct ps_buf *b);

/* Append the /metrics document (Prometheus text format 0.0.4) to b.
 * Cannot fail. */
void ps_dash_metrics(const struct ps_dash_model *m, struct ps_buf *b);

/* Append s (n bytes) escaped for HTML text and attribute values.  Cannot
 * fail. */
void ps_dash_html_escape(struct ps_buf *b, const char *s, size_t n);

/* ------------------------------------------------------------------ */
/* The tool                                                             */
/* ------------------------------------------------------------------ */

/* Output: 0, 1 when the reader went away, -1 on a write error.  p NULL:
 * flush.  (ps_stdout_out, lib/cli.h.) */
typedef int (*ps_dash_write_fn)(void *ctx, const void *p, size_t n);

struct ps_dash_opts {
	const char *lake;		/* required */
	const char *stream;		/* "admissions" */
	const char *out;		/* NULL: LAKE/dashboard/index.html */
	int64_t now;			/* PS_DASH_NOW_WALL: wall clock */
	int follow;			/* read ps-gold's output on in_fd */
	const char *serve;		/* NULL, or "[ADDR:]PORT" */
	unsigned max_clients;		/* --serve connection limit */
	double poll;			/* --serve without --follow: seconds
					   between looks at gold's commit */
};

#define PS_DASH_OPTS_INIT { NULL, "admissions", NULL, PS_DASH_NOW_WALL, \
			    0, NULL, 256, 0.2 }

/*
 * Run the tool: write the page once; with follow, pass every line of
 * in_fd to out and rewrite the page after each gold commit; with serve,
 * also serve it until SIGINT/SIGTERM (or the end of input when
 * following).  Returns 0, or -1 with e filled: 64 a bad --serve address,
 * 65 a corrupt gold file, 69 the port cannot be bound, 73/74 the page
 * cannot be written, 74 a write error on out.
 */
int ps_dash_run(const struct ps_dash_opts *o, int in_fd,
		ps_dash_write_fn out, void *out_ctx, struct ps_error *e);

#endif

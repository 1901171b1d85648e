/*
 * kpi.h - small typed tables (the gold KPI tables and dimensions), written
 * as Parquet or as NDJSON lines, and the exact quantile the KPIs use.
 *
 * A table is a schema (struct ps_pq_column, lib/parquet.h) and rows of
 * struct ps_pq_value.  Strings in values are not copied: they must stay
 * valid while the table is used, or be kept by the table
 * (ps_table_keep).  Tables own their value array and what they keep.
 */
#ifndef PS_KPI_H
#define PS_KPI_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"
#include "parquet.h"

struct ps_table {
	const char *name;		/* "kpi_occupancy" */
	const struct ps_pq_column *cols;	/* not owned */
	size_t ncols;
	struct ps_pq_value *v;		/* nrows * ncols values */
	size_t nrows, cap;
	/* A streamed table holds no rows (v empty): fill(fill_ctx, &cursor,
	 * chunk) appends the next rows to chunk from *cursor (0 at first),
	 * advances it and returns how many it added, 0 at the end.  NULL:
	 * the rows are in v.  Set after ps_table_init. */
	size_t (*fill)(const void *ctx, size_t *cursor,
		       struct ps_table *chunk);
	const void *fill_ctx;
	/* the bytes kept by ps_table_keep: blocks, the last one filling */
	char **kept;
	size_t nkept, kept_used;
};

/* Start an empty table over cols (not copied).  Cannot fail. */
void ps_table_init(struct ps_table *t, const char *name,
		   const struct ps_pq_column *cols, size_t ncols);

/* Free the values; the table becomes empty.  Cannot fail. */
void ps_table_release(struct ps_table *t);

/* No rows any more, and nothing kept; the memory stays for the next
 * rows.  Cannot fail. */
void ps_table_clear(struct ps_table *t);

/*
 * A copy of the n bytes at p, owned by t: valid until ps_table_clear or
 * ps_table_release.  For the strings a fill makes for its rows.  Cannot
 * fail (out of memory aborts).
 */
const char *ps_table_keep(struct ps_table *t, const char *p, size_t n);

/* A streamed table's rows, all into v (it is no longer streamed); other
 * tables are left alone.  Cannot fail (out of memory aborts). */
void ps_table_fill_all(struct ps_table *t);

/*
 * Append a row of nulls and return its ncols values for the caller to
 * fill with the setters below.  Cannot fail (out of memory aborts).
 */
struct ps_pq_value *ps_table_add_row(struct ps_table *t);

/* Setters for one value of a row (the type comes from the column). */
void ps_table_set_i(struct ps_table *t, struct ps_pq_value *row, size_t col,
		    int64_t v);
void ps_table_set_d(struct ps_table *t, struct ps_pq_value *row, size_t col,
		    double v);
void ps_table_set_b(struct ps_table *t, struct ps_pq_value *row, size_t col,
		    int v);
void ps_table_set_s(struct ps_table *t, struct ps_pq_value *row, size_t col,
		    const char *p, size_t len);

/* The index of column name in t, or -1.  Cannot fail. */
long ps_table_col(const struct ps_table *t, const char *name);

/* The setters by column name; a name t does not have is a programming
 * error (abort). */
void ps_table_put_i(struct ps_table *t, struct ps_pq_value *row,
		    const char *col, int64_t v);
void ps_table_put_d(struct ps_table *t, struct ps_pq_value *row,
		    const char *col, double v);
void ps_table_put_b(struct ps_table *t, struct ps_pq_value *row,
		    const char *col, int v);
void ps_table_put_s(struct ps_table *t, struct ps_pq_value *row,
		    const char *col, const char *p, size_t len);

/* The value of column name of row i as a number (int, timestamp, bool or
 * double); returns 0 and *out, or -1 when null or not a number. */
int ps_table_num(const struct ps_table *t, size_t i, long col, double *out);

/*
 * Write t as one Parquet file at path (atomically: hidden temporary name,
 * then rename); a streamed table chunk by chunk, never all its rows in
 * memory.  When its first chunk is large, the next chunks are filled on a
 * thread of their own while the one before is written: the fill must
 * then change nothing but its chunk (and *cursor) and read nothing the
 * caller changes meanwhile.  Returns 0, or -1 with e filled (73/74).
 */
int ps_table_write_parquet(const struct ps_table *t, const char *path,
			   enum ps_pq_codec codec, struct ps_error *e);

/*
 * The same, but the written file is handed to the commit group g
 * (fsutil.h), which makes it durable and visible with the group's other
 * files at ps_fsgroup_commit.  g NULL: as ps_table_write_parquet.
 */
int ps_table_write_parquet_to(const struct ps_table *t, const char *path,
			      enum ps_pq_codec codec, struct ps_fsgroup *g,
			      struct ps_error *e);

/*
 * Append row i as one JSON object line to b: first the members "kpi"
 * (the table name without its "kpi_" prefix) then every column in
 * schema order, formatted by ps_pq_value_json, and a newline.  Cannot
 * fail.
 */
void ps_table_row_json(const struct ps_table *t, size_t i, struct ps_buf *b);

/*
 * The q-quantile (0 <= q <= 1) of the n > 0 values at v with linear
 * interpolation between closest ranks, like DuckDB's quantile_cont and
 * numpy's default: position (n - 1) * q.  Sorts v in place.  Cannot fail.
 */
double ps_kpi_quantile_cont(double *v, size_t n, double q);

/* Sort n doubles ascending.  Cannot fail. */
void ps_kpi_sort(double *v, size_t n);

/* The same on values already sorted ascending. */
double ps_kpi_quantile_sorted(const double *v, size_t n, double q);

#endif

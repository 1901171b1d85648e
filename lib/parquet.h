/*
 * parquet.h - a Parquet writer, and a reader for the same flat subset.
 *
 * Written from the Apache Parquet format specification (parquet.thrift,
 * Encodings.md); the file metadata uses the Thrift compact protocol
 * (lib/thrift.h).
 *
 * Subset: REQUIRED or OPTIONAL columns of these types, flat or nested in
 * structs, lists and maps (struct ps_pq_node):
 *
 *   PS_PQ_INT32      INT32
 *   PS_PQ_INT64      INT64
 *   PS_PQ_DOUBLE     DOUBLE
 *   PS_PQ_BOOL       BOOLEAN
 *   PS_PQ_STRING     BYTE_ARRAY, logical type String (converted UTF8)
 *   PS_PQ_DATE       INT32 days since 1970-01-01, logical type Date
 *   PS_PQ_TIMESTAMP  INT64 microseconds since the epoch, logical type
 *                    Timestamp(MICROS, isAdjustedToUTC=true), converted
 *                    type TIMESTAMP_MICROS.  Never NANOS, never INT96.
 *
 * The writer produces DataPage V1 pages: repetition and definition levels
 * in the RLE/bit-packed hybrid encoding (only when their maximum is not 0),
 * values PLAIN or RLE_DICTIONARY (with a PLAIN dictionary page), pages
 * UNCOMPRESSED, GZIP or ZSTD, statistics (min_value, max_value, null_count)
 * in every data page header and column chunk.  A column whose dictionary
 * grows beyond dict_max_bytes falls back to PLAIN for the rest of the
 * column chunk, as parquet-mr and Arrow do.
 *
 * The reader accepts what the writer writes and what common writers
 * (pyarrow, DuckDB, Spark) write for the same types, nested or not (a
 * record of a nested column must not span data pages, which these writers
 * keep to): DataPage V1 and V2,
 * PLAIN, PLAIN_DICTIONARY / RLE_DICTIONARY, RLE booleans, pages
 * UNCOMPRESSED, GZIP or ZSTD.  It also maps INT64 timestamps in MILLIS or
 * NANOS to microseconds, FLOAT to PS_PQ_DOUBLE and plain BYTE_ARRAY to
 * PS_PQ_STRING.  Anything else is rejected with a one-line error.  Every
 * read is bounds-checked: a corrupt or truncated file gives an error
 * (code PS_EX_DATAERR), never a crash.
 */
#ifndef PS_PARQUET_H
#define PS_PARQUET_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"

enum ps_pq_type {
	PS_PQ_INT32 = 0,
	PS_PQ_INT64,
	PS_PQ_DOUBLE,
	PS_PQ_BOOL,
	PS_PQ_STRING,
	PS_PQ_DATE,
	PS_PQ_TIMESTAMP,
};

/* Values are those of the Parquet CompressionCodec enum. */
enum ps_pq_codec {
	PS_PQ_UNCOMPRESSED = 0,
	PS_PQ_SNAPPY = 1,	/* reader: rejected as unsupported */
	PS_PQ_GZIP = 2,
	PS_PQ_ZSTD = 6,
};

/* "int32", "int64", "double", "bool", "string", "date", "timestamp". */
const char *ps_pq_type_name(enum ps_pq_type t);
/* The reverse (also accepts "boolean"); returns 0, or -1 if unknown. */
int ps_pq_type_parse(const char *s, enum ps_pq_type *t);
/* "none", "snappy", "gzip", "zstd". */
const char *ps_pq_codec_name(enum ps_pq_codec c);
/* The reverse (also accepts "uncompressed"); returns 0 or -1. */
int ps_pq_codec_parse(const char *s, enum ps_pq_codec *c);

/* One column of a schema.  The writer copies name. */
struct ps_pq_column {
	const char *name;
	enum ps_pq_type type;
	int nullable;		/* OPTIONAL when non-zero, else REQUIRED */
	int no_dict;		/* writer: PLAIN only for this column */
};

/*
 * Nested schemas.  A schema is a list of top-level nodes, each followed
 * (depth first) by its children: a STRUCT by its nchildren fields, a LIST
 * by one node (the element, whose name is ignored), a MAP by two (key, a
 * REQUIRED leaf; value).  The writer lays them out as the Parquet format's
 * LogicalTypes.md says: LIST as "group (LIST) { repeated group list
 * { element } }", MAP as "group (MAP) { repeated group key_value { key;
 * value } }".  Leaves are the file's columns, named by their dotted path
 * ("add.partitionValues.key_value.key").
 */
enum ps_pq_kind {
	PS_PQ_LEAF = 0,
	PS_PQ_STRUCT,
	PS_PQ_LIST,
	PS_PQ_MAP,
};

struct ps_pq_node {
	const char *name;
	enum ps_pq_kind kind;
	enum ps_pq_type type;	/* LEAF only */
	int nullable;		/* OPTIONAL when non-zero, else REQUIRED */
	size_t nchildren;	/* STRUCT only: number of fields */
};

/* One key-value metadata entry. */
struct ps_pq_kv {
	const char *key;
	const char *value;
};

struct ps_fsgroup;

struct ps_pq_options {
	enum ps_pq_codec codec;	/* UNCOMPRESSED, GZIP or ZSTD */
	int level;		/* codec level, 0 = codec default (zstd 3,
				   gzip 6) */
	size_t row_group_bytes;	/* flush a row group when the buffered
				   uncompressed size reaches this */
	size_t page_bytes;	/* target uncompressed data page size */
	size_t dict_max_bytes;	/* dictionary size, then PLAIN */
	int no_dict;		/* PLAIN for every column */
	const char *created_by;	/* NULL: "pulsestream version X" */
	struct ps_fsgroup *group; /* NULL: ps_pq_close commits the file
				   alone; else it hands the file to this
				   group (fsutil.h), committed with it */
	int no_helper;		/* compress every page in the calling
				   thread (the file's bytes are the same) */
	size_t spill_bytes;	/* compressed pages of a row group held in
				   memory at most; the later ones go to a
				   scratch file (fsutil.h) until the row
				   group is written (the same bytes);
				   0: every page, SIZE_MAX: none */
};

#define PS_PQ_ROW_GROUP_BYTES (64u << 20)
#define PS_PQ_PAGE_BYTES (1u << 20)
#define PS_PQ_DICT_MAX_BYTES (1u << 20)
#define PS_PQ_SPILL_BYTES (1u << 20)

#define PS_PQ_OPTIONS_INIT { PS_PQ_ZSTD, 0, PS_PQ_ROW_GROUP_BYTES, \
			     PS_PQ_PAGE_BYTES, PS_PQ_DICT_MAX_BYTES, 0, NULL, \
			     NULL, 0, PS_PQ_SPILL_BYTES }

/* ------------------------------------------------------------------ */
/* Writer                                                              */
/* ------------------------------------------------------------------ */

/*
 * A writer is used from one thread.  It compresses its data pages of
 * 64 KiB and more on a helper thread of its own (started at the first
 * such page, stopped by ps_pq_close or ps_pq_abort) while the caller
 * goes on with the next rows; pages join their column chunks in the
 * order they were made, so the file is byte for byte the one that
 * compressing every page in the calling thread gives (no_helper).
 * A row group's column chunks are written at its end, each column's
 * pages in a row; until then the writer holds them in memory up to
 * spill_bytes and puts those after that in an unnamed scratch file of
 * the file's directory (ps_scratch_open: never visible, gone with the
 * process), from which they are copied into the file in their order.
 */
struct ps_pq_writer;

/*
 * Start writing a Parquet file at path through struct ps_afile (lib/fsutil.h):
 * the data goes to a hidden temporary file that appears under path only on
 * ps_pq_close, so a killed process leaves no visible partial file.  cols
 * (ncols >= 1, names unique and non-empty) is copied; o may be NULL for
 * the defaults.  Returns the writer, or NULL with e filled (64 for a bad
 * schema or options, 73 when the file cannot be created).
 */
struct ps_pq_writer *ps_pq_open(const char *path,
				const struct ps_pq_column *cols, size_t ncols,
				const struct ps_pq_options *o,
				struct ps_error *e);

/*
 * Like ps_pq_open, for a nested schema of nnodes nodes (see struct
 * ps_pq_node; names are copied).  Rows are then written with
 * ps_pq_write_json only.  Returns the writer, or NULL with e filled (64
 * for a bad schema or options, 73 when the file cannot be created).
 */
struct ps_pq_writer *ps_pq_open_nested(const char *path,
				       const struct ps_pq_node *nodes,
				       size_t nnodes,
				       const struct ps_pq_options *o,
				       struct ps_error *e);

/*
 * Append one row given as a JSON object (len bytes at json) to a writer
 * opened with ps_pq_open_nested: members by top-level node name (absent
 * or null = null), a STRUCT as an object, a LIST as an array, a MAP as an
 * object (keys are the MAP's string keys), leaves as JSON numbers
 * (integers for INT32, INT64, DATE days, TIMESTAMP microseconds), true or
 * false, or strings.  Members that the schema does not name are ignored.
 * Returns 0; or -1 with e filled: PS_EX_DATAERR when the row does not fit
 * the schema (nothing of it is written, the writer stays usable), or
 * PS_EX_IOERR as ps_pq_end_row.
 */
int ps_pq_write_json(struct ps_pq_writer *w, const char *json, size_t len,
		     struct ps_error *e);

/*
 * Set a value of column col (0-based) in the current row.  These cannot
 * fail: mistakes (a bad column index, a value of the wrong type, an
 * out-of-range INT32) are reported by ps_pq_end_row.  set_int32 and
 * set_int64 are accepted by INT32, INT64, DATE (days), TIMESTAMP
 * (microseconds) and DOUBLE columns; set_double by DOUBLE columns only;
 * set_bool by BOOL columns; set_string by STRING columns.  The bytes passed
 * to set_string are NOT copied: they must stay valid until ps_pq_end_row.
 * set_null is accepted by OPTIONAL columns.  Setting a column twice keeps
 * the last value.
 */
void ps_pq_set_int32(struct ps_pq_writer *w, size_t col, int32_t v);
void ps_pq_set_int64(struct ps_pq_writer *w, size_t col, int64_t v);
void ps_pq_set_double(struct ps_pq_writer *w, size_t col, double v);
void ps_pq_set_bool(struct ps_pq_writer *w, size_t col, int v);
void ps_pq_set_string(struct ps_pq_writer *w, size_t col, const char *p,
		      size_t len);
void ps_pq_set_null(struct ps_pq_writer *w, size_t col);

/*
 * Append the current row.  Columns left unset are null.  Returns 0; or -1
 * with e filled when the row is invalid (code PS_EX_DATAERR: a REQUIRED
 * column unset or null, a wrong type, an INT32 out of range): the row is
 * then dropped and the writer stays usable; or -1 with code PS_EX_IOERR
 * when flushing a full row group to disk failed (the writer is then
 * broken: only ps_pq_abort is left).  Either way the next row starts
 * empty.
 */
int ps_pq_end_row(struct ps_pq_writer *w, struct ps_error *e);

/* Discard the values set for the current row.  Cannot fail. */
void ps_pq_clear_row(struct ps_pq_writer *w);

/*
 * Add (or replace) a key-value metadata entry, stored in the footer.  May
 * be called any time before ps_pq_close (e.g. "pulsestream.source_range"
 * once the range is known).  key and value are copied.  Cannot fail.
 */
void ps_pq_add_kv(struct ps_pq_writer *w, const char *key,
		  const char *value);

/* Rows appended so far.  Cannot fail. */
int64_t ps_pq_rows(const struct ps_pq_writer *w);

/*
 * The most bytes of compressed pages w has held in memory at once, and
 * the bytes it has put in its scratch file (spill_bytes), so far.
 * Cannot fail.
 */
size_t ps_pq_chunk_bytes_peak(const struct ps_pq_writer *w);

/*
 * The room w holds for its current pages' levels (1 byte a value) and
 * dictionary indices (4 bytes a value, none once a column's chunk goes
 * on in PLAIN).  Cannot fail.
 */
size_t ps_pq_level_bytes(const struct ps_pq_writer *w);
int64_t ps_pq_spilled_bytes(const struct ps_pq_writer *w);

/*
 * Flush buffered rows as a row group now (nothing happens when none are
 * buffered).  Returns 0, or -1 with e filled (74).
 */
int ps_pq_flush(struct ps_pq_writer *w, struct ps_error *e);

/*
 * Flush, write the footer and commit the file into place (fsync, rename,
 * fsync the directory), or hand it to the options' group, which commits
 * it later.  A file with zero rows is valid.  w is freed
 * either way.  Returns 0, or -1 with e filled (74; the temporary file is
 * removed and path is untouched).
 */
int ps_pq_close(struct ps_pq_writer *w, struct ps_error *e);

/* Remove the temporary file and free w.  ps_pq_abort(NULL) is a no-op. */
void ps_pq_abort(struct ps_pq_writer *w);

/* ------------------------------------------------------------------ */
/* Reader                                                              */
/* ------------------------------------------------------------------ */

/* One value read back.  s points into the reader: valid until the next
 * ps_pq_next (or, for statistics, until ps_pq_reader_free). */
struct ps_pq_value {
	int is_null;
	enum ps_pq_type type;
	union {
		int64_t i;	/* INT32, INT64, DATE (days),
				   TIMESTAMP (microseconds) */
		double d;
		int b;
		struct {
			const char *p;
			size_t len;
		} s;
	} v;
};

/* Statistics of one column chunk, as stored in the file. */
struct ps_pq_stats {
	int has_min_max;
	struct ps_pq_value min, max;
	int has_null_count;
	int64_t null_count;
	int64_t num_values;	/* values including nulls */
	int64_t compressed_bytes, uncompressed_bytes;
	enum ps_pq_codec codec;
	int has_dict;		/* chunk has a dictionary page */
};

struct ps_pq_reader;

/*
 * Open path (mapped, not read: it must not be truncated while open, which
 * committed lake files never are) and decode its footer.  Returns the reader,
 * or NULL with e filled: 66 when the file cannot be opened, 65 (one-line
 * reason: "not a Parquet file (magic missing)", "footer length out of
 * range", "thrift decode error in footer...", "unsupported ...") when it
 * is not a valid file of the supported subset.
 */
struct ps_pq_reader *ps_pq_reader_open(const char *path, struct ps_error *e);

/* The same over n bytes at p, which are copied.  Errors as above. */
struct ps_pq_reader *ps_pq_reader_open_mem(const void *p, size_t n,
					   struct ps_error *e);

/* Free r; ps_pq_reader_free(NULL) is a no-op. */
void ps_pq_reader_free(struct ps_pq_reader *r);

/* Schema: number of columns, and column i (name owned by r). */
size_t ps_pq_reader_ncols(const struct ps_pq_reader *r);
const struct ps_pq_column *ps_pq_reader_col(const struct ps_pq_reader *r,
					    size_t i);
/* Index of the column called name, or -1. */
int ps_pq_reader_find(const struct ps_pq_reader *r, const char *name);

/* Total number of rows, and number of row groups. */
int64_t ps_pq_reader_nrows(const struct ps_pq_reader *r);
size_t ps_pq_reader_nrow_groups(const struct ps_pq_reader *r);
/* Rows in row group rg (0 when rg is out of range). */
int64_t ps_pq_reader_group_rows(const struct ps_pq_reader *r, size_t rg);

/* created_by, or NULL when the file has none. */
const char *ps_pq_reader_created_by(const struct ps_pq_reader *r);

/* Key-value metadata: count, entry i, and the value of key (or NULL). */
size_t ps_pq_reader_nkv(const struct ps_pq_reader *r);
const struct ps_pq_kv *ps_pq_reader_kv(const struct ps_pq_reader *r,
				       size_t i);
const char *ps_pq_reader_kv_get(const struct ps_pq_reader *r,
				const char *key);

/*
 * Statistics of column col in row group rg.  Returns 0, or -1 when rg or
 * col is out of range.
 */
int ps_pq_reader_stats(const struct ps_pq_reader *r, size_t rg, size_t col,
		       struct ps_pq_stats *st);

/*
 * Decode only the n columns listed in cols (indexes; entries < 0 or out
 * of range are ignored) from the next row on: the others read as null
 * and cost nothing.  cols NULL: every column.  Call it before the first
 * ps_pq_next.  Cannot fail.
 */
void ps_pq_reader_select(struct ps_pq_reader *r, const int *cols, size_t n);

/*
 * Advance to the next row (the first call gives the first row).  Returns
 * 1 when a row is available, 0 at the end, or -1 with e filled (65) when
 * a page cannot be decoded.
 */
int ps_pq_next(struct ps_pq_reader *r, struct ps_error *e);

/* Value of column col in the current row (NULL when col is out of range,
 * there is no current row, or col is nested: read those rows with
 * ps_pq_row_json). */
const struct ps_pq_value *ps_pq_value(const struct ps_pq_reader *r,
				      size_t col);

/*
 * Append the current row as one JSON object (no newline) to b: column
 * names as keys in schema order, TIMESTAMP as ISO-8601 UTC with
 * microseconds only when non-zero ("2026-01-02T03:04:05Z"), DATE as
 * "YYYY-MM-DD", BOOL as true/false, null as null, non-finite doubles as
 * null.  Nested columns are assembled from their repetition and
 * definition levels: a struct as an object, a LIST as an array, a MAP as
 * an object (non-string keys as their JSON text in a string), other
 * repeated fields as arrays.  Cannot fail.
 */
void ps_pq_row_json(const struct ps_pq_reader *r, struct ps_buf *b);

/* Append one value as JSON, formatted as in ps_pq_row_json.  A TIMESTAMP
 * outside years 0001-9999 is written as its number of microseconds and a
 * DATE outside them as its number of days. */
void ps_pq_value_json(const struct ps_pq_value *v, struct ps_buf *b);

/*
 * Append the file's metadata as one JSON object (no newline): rows,
 * created_by, key_value, schema [{name,type,nullable}], row_groups
 * [{rows, columns [{name, codec, dictionary, compressed_bytes,
 * uncompressed_bytes, null_count, min, max}]}].  Cannot fail.
 */
void ps_pq_meta_json(const struct ps_pq_reader *r, struct ps_buf *b);

/* ------------------------------------------------------------------ */
/* Low-level pieces, shared by the writer and reader and unit-tested     */
/* ------------------------------------------------------------------ */

/*
 * Append n values (each below 2^bw, 1 <= bw <= 32) to b in the RLE /
 * bit-packed hybrid encoding (no length prefix, no bit-width byte): runs
 * of 8 or more equal values become RLE runs, the rest bit-packed groups of
 * 8 (the last group padded with zeros).  Cannot fail.
 */
void ps_pq_rle_encode(struct ps_buf *b, const uint32_t *v, size_t n, int bw);

/*
 * Decode exactly n values of bit width bw (0..32) from the len bytes at p
 * into out.  Returns 0, or -1 when the data ends early or is malformed
 * (a value of bit width 0 is always 0).
 */
int ps_pq_rle_decode(const uint8_t *p, size_t len, int bw, uint32_t *out,
		     size_t n);

/*
 * Compress n bytes at src with codec c (UNCOMPRESSED copies; GZIP writes a
 * gzip stream; ZSTD a zstd frame) at level (0 = default), appending to out.
 * Returns 0, or -1 with e filled (70).
 */
int ps_pq_compress(enum ps_pq_codec c, int level, const void *src, size_t n,
		   struct ps_buf *out, struct ps_error *e);

/*
 * Decompress the n bytes at src into exactly dn bytes at dst.  Returns 0,
 * or -1 with e filled (65) when the data is corrupt, does not have exactly
 * dn bytes, or c is unsupported.
 */
int ps_pq_decompress(enum ps_pq_codec c, const void *src, size_t n,
		     void *dst, size_t dn, struct ps_error *e);

/*
 * Free the zstd contexts the calling thread keeps for the two functions
 * above (each thread keeps its own, reachable until exit): for a thread
 * that ends before the process.  The next call makes new ones.  Never
 * fails.
 */
void ps_pq_thread_release(void);

#endif

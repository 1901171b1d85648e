/* test_parquet.c - the Parquet writer and reader (lib/parquet.h). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "buf.h"
#include "fsutil.h"
#include "parquet.h"
#include "pstime.h"
#include "rand.h"
#include "banned.h"

/* ---- RLE / bit-packed hybrid ---- */

static void rle_round_trip(const uint32_t *v, size_t n, int bw)
{
	struct ps_buf b = PS_BUF_INIT;
	uint32_t *out = calloc(n + 1, sizeof(*out));
	size_t i;

	ps_pq_rle_encode(&b, v, n, bw);
	cr_assert_eq(ps_pq_rle_decode((const uint8_t *)b.data, b.len, bw, out,
				      n), 0, "n=%zu bw=%d", n, bw);
	for (i = 0; i < n; i++)
		cr_assert_eq(out[i], v[i], "n=%zu bw=%d i=%zu", n, bw, i);
	/* Every strict prefix of the encoding lacks values. */
	if (n && b.len > 1)
		cr_assert_eq(ps_pq_rle_decode((const uint8_t *)b.data, 0, bw,
					      out, n), -1);
	free(out);
	ps_buf_release(&b);
}

Test(rle, round_trips_many_lengths_and_patterns)
{
	static const int widths[] = { 1, 2, 3, 5, 7, 8, 9, 13, 16, 17, 24,
				      31, 32 };
	struct ps_rand rnd;
	uint32_t v[300];
	size_t n, i, w, pat;

	ps_rand_seed(&rnd, 42);
	for (w = 0; w < sizeof(widths) / sizeof(widths[0]); w++) {
		int bw = widths[w];
		uint32_t mask = bw == 32 ? 0xffffffffu : (1u << bw) - 1;

		for (n = 0; n <= 300; n += (n < 40 ? 1 : 13)) {
			for (pat = 0; pat < 5; pat++) {
				for (i = 0; i < n; i++) {
					uint32_t x;

					switch (pat) {
					case 0: x = 0; break;
					case 1: x = (uint32_t)i; break;
					case 2: x = (uint32_t)(i / 9 % 3);
						break;
					case 3: x = i % 17 < 11 ? mask : 1;
						break;
					default:
						x = (uint32_t)ps_rand_u64(&rnd);
					}
					v[i] = x & mask;
				}
				rle_round_trip(v, n, bw);
			}
		}
	}
}

Test(rle, runs_are_compact)
{
	struct ps_buf b = PS_BUF_INIT;
	uint32_t v[1000];
	size_t i;

	for (i = 0; i < 1000; i++)
		v[i] = 1;
	ps_pq_rle_encode(&b, v, 1000, 1);
	cr_assert_eq(b.len, 3, "one RLE run: varint(2000) + 1 byte");
	ps_buf_release(&b);
}

Test(rle, known_bytes_from_the_spec)
{
	/* Encodings.md example: 0..7 with bit width 3 -> 0x88 0xC6 0xFA */
	static const uint32_t v[8] = { 0, 1, 2, 3, 4, 5, 6, 7 };
	struct ps_buf b = PS_BUF_INIT;

	ps_pq_rle_encode(&b, v, 8, 3);
	cr_assert_eq(b.len, 4);
	cr_assert_eq(memcmp(b.data, "\x03\x88\xc6\xfa", 4), 0);
	ps_buf_release(&b);
}

Test(rle, malformed_input_is_refused)
{
	static const uint8_t zero_run[] = { 0x00, 0x01 };
	static const uint8_t big_value[] = { 0x10, 0x05 };	/* bw 1: 5 */
	uint32_t out[16];

	cr_assert_eq(ps_pq_rle_decode(zero_run, 2, 1, out, 4), -1);
	cr_assert_eq(ps_pq_rle_decode(big_value, 2, 1, out, 4), -1);
	cr_assert_eq(ps_pq_rle_decode(big_value, 2, 33, out, 4), -1);
}

/* ---- helpers ---- */

static char dir[64];

static void mkdir_tmp(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test_parquet.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void rm_tmp(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

static char *tpath(const char *name)
{
	return ps_path_join(dir, name);
}

static const char *const words[] = {
	"", "a", "ICU", "Emergency", "héllo wörld", "日本語", "z",
	"Cardiology", "\x7f\xc3\xbf", "A longer string that goes past 8 b",
};
#define NWORDS (sizeof(words) / sizeof(words[0]))

/* The value of row i of a column of type t, or null. */
static int gen(enum ps_pq_type t, int nullable, uint64_t i,
	       struct ps_pq_value *v)
{
	uint64_t h = i * 0x9e3779b97f4a7c15ULL;

	memset(v, 0, sizeof(*v));
	v->type = t;
	if (nullable && (h >> 60) < 3) {
		v->is_null = 1;
		return 0;
	}
	switch (t) {
	case PS_PQ_INT32:
		v->v.i = i == 1 ? INT32_MIN : i == 2 ? INT32_MAX :
			 (int32_t)(h >> 40) - (1 << 23);
		break;
	case PS_PQ_INT64:
		v->v.i = i == 1 ? INT64_MIN : i == 2 ? INT64_MAX :
			 (int64_t)(h % 1000) - 500;
		break;
	case PS_PQ_DATE:
		v->v.i = (int64_t)(h % 40000) - 20000;
		break;
	case PS_PQ_TIMESTAMP:
		v->v.i = (int64_t)(h >> 12) - (1LL << 51);
		break;
	case PS_PQ_DOUBLE:
		v->v.d = i == 3 ? NAN : i == 4 ? -0.0 :
			 ((double)(h % 100000) - 50000) / 7.0;
		break;
	case PS_PQ_BOOL:
		v->v.b = (int)(h >> 63);
		break;
	case PS_PQ_STRING:
		v->v.s.p = words[(h >> 32) % NWORDS];
		v->v.s.len = strlen(v->v.s.p);
		break;
	}
	return 0;
}

static void set(struct ps_pq_writer *w, size_t col,
		const struct ps_pq_value *v)
{
	if (v->is_null) {
		if (col % 2)	/* both ways to write a null */
			ps_pq_set_null(w, col);
		return;
	}
	switch (v->type) {
	case PS_PQ_DOUBLE:
		ps_pq_set_double(w, col, v->v.d);
		break;
	case PS_PQ_BOOL:
		ps_pq_set_bool(w, col, v->v.b);
		break;
	case PS_PQ_STRING:
		ps_pq_set_string(w, col, v->v.s.p, v->v.s.len);
		break;
	case PS_PQ_INT32:
	case PS_PQ_DATE:
		ps_pq_set_int32(w, col, (int32_t)v->v.i);
		break;
	default:
		ps_pq_set_int64(w, col, v->v.i);
	}
}

static int same(const struct ps_pq_value *a, const struct ps_pq_value *b)
{
	if (a->is_null || b->is_null)
		return a->is_null == b->is_null;
	if (a->type != b->type)
		return 0;
	switch (a->type) {
	case PS_PQ_DOUBLE:
		return memcmp(&a->v.d, &b->v.d, 8) == 0 ||
		       (isnan(a->v.d) && isnan(b->v.d));
	case PS_PQ_BOOL:
		return !a->v.b == !b->v.b;
	case PS_PQ_STRING:
		return a->v.s.len == b->v.s.len &&
		       !memcmp(a->v.s.p, b->v.s.p, a->v.s.len);
	default:
		return a->v.i == b->v.i;
	}
}

static const enum ps_pq_type all_types[] = {
	PS_PQ_INT32, PS_PQ_INT64, PS_PQ_DOUBLE, PS_PQ_BOOL, PS_PQ_STRING,
	PS_PQ_DATE, PS_PQ_TIMESTAMP,
};
#define NTYPES (sizeof(all_types) / sizeof(all_types[0]))

/* Write nrows rows of every type, required and nullable (14 columns);
 * peak and spilled (when not NULL) get the writer's figures at close. */
static void write_all_counted(const char *path,
			      const struct ps_pq_options *o, uint64_t nrows,
			      size_t *peak, int64_t *spilled)
{
	struct ps_pq_column cols[2 * NTYPES];
	char names[2 * NTYPES][16];
	struct ps_error e = { 0 };
	struct ps_pq_writer *w;
	struct ps_pq_value v;
	size_t c;
	uint64_t i;

	for (c = 0; c < 2 * NTYPES; c++) {
		snprintf(names[c], sizeof(names[c]), "%s%s",
			 ps_pq_type_name(all_types[c / 2]),
			 c % 2 ? "_n" : "");
		cols[c] = (struct ps_pq_column){ names[c], all_types[c / 2],
						 (int)(c % 2), 0 };
	}
	w = ps_pq_open(path, cols, 2 * NTYPES, o, &e);
	cr_assert_not_null(w, "%s", e.msg);
	ps_pq_add_kv(w, "pulsestream.schema_version", "0");
	for (i = 0; i < nrows; i++) {
		for (c = 0; c < 2 * NTYPES; c++) {
			gen(all_types[c / 2], (int)(c % 2), i + c, &v);
			set(w, c, &v);
		}
		cr_assert_eq(ps_pq_end_row(w, &e), 0, "%s", e.msg);
	}
	ps_pq_add_kv(w, "pulsestream.schema_version", "1");
	ps_pq_add_kv(w, "pulsestream.source_range", "stdin:x/1-2");
	cr_assert_eq(ps_pq_rows(w), (int64_t)nrows);
	cr_assert_eq(ps_pq_flush(w, &e), 0, "%s", e.msg);
	if (peak)
		*peak = ps_pq_chunk_bytes_peak(w);
	if (spilled)
		*spilled = ps_pq_spilled_bytes(w);
	cr_assert_eq(ps_pq_close(w, &e), 0, "%s", e.msg);
}

static void write_all(const char *path, const struct ps_pq_options *o,
		      uint64_t nrows)
{
	write_all_counted(path, o, nrows, NULL, NULL);
}

/* Read path back, compare every value, and check the statistics. */
static size_t check_all(const char *path, uint64_t nrows)
{
	struct ps_error e = { 0 };
	struct ps_pq_reader *r = ps_pq_reader_open(path, &e);
	struct ps_pq_value v;
	struct ps_pq_stats st;
	uint64_t i = 0, base = 0;
	size_t c, rg, ngroups;
	int rc;

	cr_assert_not_null(r, "%s", e.msg);
	cr_assert_eq(ps_pq_reader_ncols(r), 2 * NTYPES);
	cr_assert_eq(ps_pq_reader_nrows(r), (int64_t)nrows);
	cr_assert_str_eq(ps_pq_reader_kv_get(r, "pulsestream.schema_version"),
			 "1");
	cr_assert_str_eq(ps_pq_reader_kv_get(r, "pulsestream.source_range"),
			 "stdin:x/1-2");
	cr_assert_eq(ps_pq_reader_nkv(r), 2);
	cr_assert_str_eq(ps_pq_reader_created_by(r),
			 "pulsestream version 0.1.0");
	for (c = 0; c < 2 * NTYPES; c++) {
		const struct ps_pq_column *col = ps_pq_reader_col(r, c);

		cr_assert_eq(col->type, all_types[c / 2]);
		cr_assert_eq(col->nullable, (int)(c % 2));
	}
	cr_assert_eq(ps_pq_reader_find(r, "string_n"), 9);
	cr_assert_eq(ps_pq_reader_find(r, "nope"), -1);
	while ((rc = ps_pq_next(r, &e)) == 1) {
		for (c = 0; c < 2 * NTYPES; c++) {
			gen(all_types[c / 2], (int)(c % 2), i + c, &v);
			cr_assert(same(ps_pq_value(r, c), &v),
				  "row %llu col %zu", (unsigned long long)i,
				  c);
		}
		i++;
	}
	cr_assert_eq(rc, 0, "%s", e.msg);
	cr_assert_eq(i, nrows);
	/* Statistics: recompute min/max/nulls per row group. */
	ngroups = ps_pq_reader_nrow_groups(r);
	for (rg = 0; rg < ngroups; rg++) {
		int64_t n = ps_pq_reader_group_rows(r, rg);

		for (c = 0; c < 2 * NTYPES; c++) {
			struct ps_pq_value mn = { 0 }, mx = { 0 };
			int64_t nulls = 0, k, have = 0;
			enum ps_pq_type t = all_types[c / 2];

			for (k = 0; k < n; k++) {
				gen(t, (int)(c % 2), base + (uint64_t)k + c,
				    &v);
				if (v.is_null) {
					nulls++;
					continue;
				}
				if (t == PS_PQ_DOUBLE && isnan(v.v.d))
					continue;
				if (!have) {
					mn = mx = v;
					have = 1;
					continue;
				}
				if (t == PS_PQ_DOUBLE) {
					if (v.v.d < mn.v.d)
						mn = v;
					if (v.v.d > mx.v.d)
						mx = v;
				} else if (t == PS_PQ_STRING) {
					size_t l1 = v.v.s.len, l2 = mn.v.s.len;
					int cm = memcmp(v.v.s.p, mn.v.s.p,
							l1 < l2 ? l1 : l2);

					if (cm < 0 || (!cm && l1 < l2))
						mn = v;
					l2 = mx.v.s.len;
					cm = memcmp(v.v.s.p, mx.v.s.p,
						    l1 < l2 ? l1 : l2);
					if (cm > 0 || (!cm && l1 > l2))
						mx = v;
				} else if (t == PS_PQ_BOOL) {
					if (v.v.b < mn.v.b)
						mn = v;
					if (v.v.b > mx.v.b)
						mx = v;
				} else {
					if (v.v.i < mn.v.i)
						mn = v;
					if (v.v.i > mx.v.i)
						mx = v;
				}
			}
			cr_assert_eq(ps_pq_reader_stats(r, rg, c, &st), 0);
			cr_assert(st.has_null_count);
			cr_assert_eq(st.null_count, nulls, "rg %zu col %zu",
				     rg, c);
			cr_assert_eq(st.has_min_max, (int)have);
			if (!have)
				continue;
			if (t == PS_PQ_DOUBLE) {
				cr_assert(st.min.v.d == mn.v.d &&
					  st.max.v.d == mx.v.d);
				if (mn.v.d == 0)
					cr_assert(signbit(st.min.v.d));
			} else {
				cr_assert(same(&st.min, &mn), "min rg %zu col "
					  "%zu", rg, c);
				cr_assert(same(&st.max, &mx), "max rg %zu col "
					  "%zu", rg, c);
			}
		}
		base += (uint64_t)n;
	}
	ps_pq_reader_free(r);
	return ngroups;
}

static void round_trip(enum ps_pq_codec codec, int no_dict, uint64_t n,
		       size_t rg_bytes, size_t page_bytes, size_t min_groups)
{
	struct ps_pq_options o = PS_PQ_OPTIONS_INIT;
	char *p;

	mkdir_tmp();
	p = tpath("t.parquet");
	o.codec = codec;
	o.no_dict = no_dict;
	if (rg_bytes)
		o.row_group_bytes = rg_bytes;
	if (page_bytes)
		o.page_bytes = page_bytes;
	write_all(p, &o, n);
	cr_assert_geq(check_all(p, n), min_groups);
	free(p);
	rm_tmp();
}

Test(parquet, round_trip_uncompressed_dict)
{
	round_trip(PS_PQ_UNCOMPRESSED, 0, 1000, 0, 0, 1);
}

Test(parquet, round_trip_uncompressed_plain)
{
	round_trip(PS_PQ_UNCOMPRESSED, 1, 1000, 0, 0, 1);
}

Test(parquet, round_trip_gzip_dict)
{
	round_trip(PS_PQ_GZIP, 0, 1000, 0, 0, 1);
}

Test(parquet, round_trip_gzip_plain)
{
	round_trip(PS_PQ_GZIP, 1, 1000, 0, 0, 1);
}

Test(parquet, round_trip_zstd_dict)
{
	round_trip(PS_PQ_ZSTD, 0, 1000, 0, 0, 1);
}

Test(parquet, round_trip_zstd_plain)
{
	round_trip(PS_PQ_ZSTD, 1, 1000, 0, 0, 1);
}

Test(parquet, many_row_groups_and_pages)
{
	/* ~100 bytes per row: groups of ~40 rows, pages of a few rows. */
	round_trip(PS_PQ_ZSTD, 0, 3000, 4000, 64, 50);
	round_trip(PS_PQ_UNCOMPRESSED, 1, 777, 3000, 100, 20);
}

/* Pages of 64 KiB and more are compressed on the writer's helper thread,
 * smaller ones at once, in whatever mix within and across columns and
 * row groups: the file is the one compressing every page in the calling
 * thread gives, byte for byte. */
Test(parquet, helper_thread_writes_the_same_bytes)
{
	struct ps_pq_options o = PS_PQ_OPTIONS_INIT;
	struct ps_buf b1 = PS_BUF_INIT, b2 = PS_BUF_INIT;
	struct ps_error e = { 0 };
	char *p1, *p2;

	mkdir_tmp();
	p1 = tpath("a.parquet");
	p2 = tpath("b.parquet");
	o.no_dict = 1;
	o.page_bytes = 96 << 10;	/* large pages, and small ones */
	o.row_group_bytes = 3 << 20;	/* several groups */
	write_all(p1, &o, 60000);
	o.no_helper = 1;
	write_all(p2, &o, 60000);
	cr_assert_geq(check_all(p1, 60000), 2);
	cr_assert_eq(ps_read_file(p1, &b1, 1u << 30, &e), 0, "%s", e.msg);
	cr_assert_eq(ps_read_file(p2, &b2, 1u << 30, &e), 0, "%s", e.msg);
	cr_assert_eq(b1.len, b2.len);
	cr_assert_eq(memcmp(b1.data, b2.data, b1.len), 0);
	ps_buf_release(&b1);
	ps_buf_release(&b2);
	free(p1);
	free(p2);
	rm_tmp();
}

/* The files in the test directory: visible ones, or with hidden set
 * those whose name starts with '.' (temporary or scratch files). */
static size_t count_files(int hidden)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	cr_assert_not_null(d);
	while ((de = readdir(d)))
		if ((de->d_name[0] == '.') == hidden &&
		    strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/*
 * A row group's pages past spill_bytes go through the scratch file: the
 * file is the one written all in memory, byte for byte, over several row
 * groups (dictionary pages, pages in memory then scratch runs, each
 * column's in order), and the writer never held more than spill_bytes of
 * pages; no file is left besides the Parquet files.
 */
Test(parquet, spilled_pages_give_the_same_bytes)
{
	struct ps_pq_options o = PS_PQ_OPTIONS_INIT;
	const size_t limits[] = { SIZE_MAX, 64u << 10, 0 };
	struct ps_buf b[3] = { PS_BUF_INIT, PS_BUF_INIT, PS_BUF_INIT };
	struct ps_error e = { 0 };
	size_t k, peak[3];
	int64_t spilled[3];
	char name[16];
	char *p;

	mkdir_tmp();
	o.page_bytes = 8 << 10;		/* many pages a chunk */
	o.row_group_bytes = 3 << 20;	/* several groups */
	for (k = 0; k < 3; k++) {
		snprintf(name, sizeof(name), "s%zu.parquet", k);
		p = tpath(name);
		o.spill_bytes = limits[k];
		write_all_counted(p, &o, 60000, &peak[k], &spilled[k]);
		cr_assert_geq(check_all(p, 60000), 2);
		cr_assert_eq(ps_read_file(p, &b[k], 1u << 30, &e), 0, "%s",
			     e.msg);
		free(p);
	}
	cr_assert_eq(spilled[0], 0);
	cr_assert_gt(peak[0], 64u << 10);
	cr_assert_leq(peak[1], 64u << 10);
	cr_assert_gt(spilled[1], 0);
	cr_assert_eq(peak[2], 0);
	cr_assert_gt(spilled[2], spilled[1]);
	for (k = 1; k < 3; k++) {
		cr_assert_eq(b[k].len, b[0].len);
		cr_assert_eq(memcmp(b[k].data, b[0].data, b[0].len), 0,
			     "spill_bytes %zu", limits[k]);
	}
	cr_assert_eq(count_files(1), 0);
	cr_assert_eq(count_files(0), 3);
	for (k = 0; k < 3; k++)
		ps_buf_release(&b[k]);
	rm_tmp();
}

/* A writer with the default options holds at most 1 MiB of a row
 * group's pages: here about 2 MB of them, in one row group. */
Test(parquet, default_writer_holds_1_mib_of_pages)
{
	struct ps_pq_column col = { "v", PS_PQ_INT64, 0, 0 };
	struct ps_pq_options o = PS_PQ_OPTIONS_INIT;
	struct ps_error e = { 0 };
	struct ps_pq_writer *w;
	int64_t i;
	char *p;

	mkdir_tmp();
	p = tpath("d.parquet");
	o.codec = PS_PQ_UNCOMPRESSED;
	w = ps_pq_open(p, &col, 1, &o, &e);
	cr_assert_not_null(w, "%s", e.msg);
	for (i = 0; i < 300000; i++) {
		ps_pq_set_int64(w, 0, i * 7919);
		cr_assert_eq(ps_pq_end_row(w, &e), 0, "%s", e.msg);
	}
	cr_assert_eq(ps_pq_flush(w, &e), 0, "%s", e.msg);
	cr_assert_leq(ps_pq_chunk_bytes_peak(w), 1u << 20);
	cr_assert_geq(ps_pq_chunk_bytes_peak(w) +
		      (size_t)ps_pq_spilled_bytes(w), 1900000);
	cr_assert_eq(ps_pq_close(w, &e), 0, "%s", e.msg);
	free(p);
	rm_tmp();
}

/*
 * A page's definition levels take 1 byte a value (widened in one buffer
 * of the writer when encoded), and a column whose chunk went on in PLAIN
 * keeps no room for dictionary indices: 8 nullable columns of distinct
 * values past a page of 65,536 hold 576 KiB for levels (4 bytes a level:
 * 2 MiB); the values read back.
 */
Test(parquet, page_levels_take_a_byte)
{
	struct ps_pq_column cols[8];
	struct ps_pq_options o = PS_PQ_OPTIONS_INIT;
	struct ps_error e = { 0 };
	struct ps_pq_writer *w;
	struct ps_pq_reader *r;
	char names[8][8];
	int64_t i;
	size_t c;
	char *p;

	for (c = 0; c < 8; c++) {
		snprintf(names[c], sizeof(names[c]), "c%zu", c);
		cols[c] = (struct ps_pq_column){ names[c], PS_PQ_INT64, 1, 0 };
	}
	mkdir_tmp();
	p = tpath("l.parquet");
	w = ps_pq_open(p, cols, 8, &o, &e);
	cr_assert_not_null(w, "%s", e.msg);
	for (i = 0; i < 70000; i++) {
		for (c = 0; c < 8; c++) {
			if ((i + (int64_t)c) % 5)
				ps_pq_set_int64(w, c, i * 31 + (int64_t)c);
			else
				ps_pq_set_null(w, c);
		}
		cr_assert_eq(ps_pq_end_row(w, &e), 0, "%s", e.msg);
	}
	cr_assert_leq(ps_pq_level_bytes(w), 576u << 10, "%zu",
		      ps_pq_level_bytes(w));
	cr_assert_eq(ps_pq_close(w, &e), 0, "%s", e.msg);
	r = ps_pq_reader_open(p, &e);
	cr_assert_not_null(r, "%s", e.msg);
	for (i = 0; ps_pq_next(r, &e) == 1; i++)
		for (c = 0; c < 8; c++) {
			const struct ps_pq_value *v = ps_pq_value(r, c);

			cr_assert_eq(v->is_null, (i + (int64_t)c) % 5 == 0);
			if (!v->is_null)
				cr_assert_eq(v->v.i, i * 31 + (int64_t)c);
		}
	cr_assert_eq(i, 70000);
	ps_pq_reader_free(r);
	free(p);
	rm_tmp();
}

/*
 * The scratch file on a full disk (a file size limit: EFBIG): the row
 * that needed room fails with 74 naming the scratch file, and aborting
 * the writer leaves no file at all.
 */
Test(parquet, scratch_file_full_fails_cleanly)
{
	struct ps_pq_column col = { "s", PS_PQ_STRING, 0, 1 };
	struct ps_pq_options o = PS_PQ_OPTIONS_INIT;
	struct rlimit lim = { 256u << 10, 256u << 10 };
	struct ps_error e = { 0 };
	struct ps_pq_writer *w;
	char v[64];
	uint64_t i, x = 7;
	int rc = 0;
	char *p;

	signal(SIGXFSZ, SIG_IGN);
	mkdir_tmp();
	p = tpath("full.parquet");
	o.spill_bytes = 0;
	o.codec = PS_PQ_UNCOMPRESSED;
	o.page_bytes = 8 << 10;
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	w = ps_pq_open(p, &col, 1, &o, &e);
	cr_assert_not_null(w, "%s", e.msg);
	for (i = 0; i < 100000 && !rc; i++) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		snprintf(v, sizeof(v), "%016llx", (unsigned long long)x);
		ps_pq_set_string(w, 0, v, strlen(v));
		rc = ps_pq_end_row(w, &e);
	}
	cr_assert_eq(rc, -1);
	cr_assert_eq(e.code, PS_EX_IOERR);
	cr_assert_not_null(strstr(e.msg, "scratch file"), "%s", e.msg);
	ps_pq_abort(w);
	free(p);
	p = tpath("");
	cr_assert_eq(rmdir(p), 0, "files left in %s", p);
	free(p);
	rm_tmp();
}

/* Selected columns read as written, over many groups and pages; the
 * others read as null. */
Test(parquet, select_decodes_only_some_columns)
{
	struct ps_pq_options o = PS_PQ_OPTIONS_INIT;
	struct ps_error e = { 0 };
	struct ps_pq_reader *r;
	struct ps_pq_value v;
	const int sel[] = { 9, 2, -1, 99 };	/* string_n, double */
	uint64_t i = 0;
	size_t c;
	int rc;
	char *p;

	mkdir_tmp();
	p = tpath("s.parquet");
	o.row_group_bytes = 4000;
	o.page_bytes = 64;
	write_all(p, &o, 2000);
	r = ps_pq_reader_open(p, &e);
	cr_assert_not_null(r, "%s", e.msg);
	ps_pq_reader_select(r, sel, 4);
	while ((rc = ps_pq_next(r, &e)) == 1) {
		for (c = 0; c < 2 * NTYPES; c++) {
			if (c == 9 || c == 2) {
				gen(all_types[c / 2], (int)(c % 2), i + c, &v);
				cr_assert(same(ps_pq_value(r, c), &v),
					  "row %llu col %zu",
					  (unsigned long long)i, c);
			} else {
				cr_assert(ps_pq_value(r, c)->is_null);
			}
		}
		i++;
	}
	cr_assert_eq(rc, 0, "%s", e.msg);
	cr_assert_eq(i, 2000);
	ps_pq_reader_free(r);
	free(p);
	rm_tmp();
}

Test(parquet, one_row_and_zero_rows)
{
	round_trip(PS_PQ_GZIP, 0, 1, 0, 0, 1);
	round_trip(PS_PQ_GZIP, 0, 0, 0, 0, 0);
}

Test(parquet, dictionary_falls_back_to_plain)
{
	struct ps_pq_options o = PS_PQ_OPTIONS_INIT;
	struct ps_pq_column col = { "s", PS_PQ_STRING, 1, 0 };
	struct ps_error e = { 0 };
	struct ps_pq_writer *w;
	struct ps_pq_reader *r;
	struct ps_pq_stats st;
	char buf[32], *p;
	int i, n;

	mkdir_tmp();
	p = tpath("f.parquet");
	o.dict_max_bytes = 2000;
	o.page_bytes = 500;
	w = ps_pq_open(p, &col, 1, &o, &e);
	cr_assert_not_null(w);
	for (i = 0; i < 5000; i++) {
		n = snprintf(buf, sizeof(buf), "v%d", i < 100 ? i % 7 : i);
		if (i % 13)
			ps_pq_set_string(w, 0, buf, (size_t)n);
		cr_assert_eq(ps_pq_end_row(w, &e), 0);
	}
	cr_assert_eq(ps_pq_close(w, &e), 0, "%s", e.msg);
	r = ps_pq_reader_open(p, &e);
	cr_assert_not_null(r, "%s", e.msg);
	cr_assert_eq(ps_pq_reader_stats(r, 0, 0, &st), 0);
	cr_assert(st.has_dict);
	for (i = 0; ps_pq_next(r, &e) == 1; i++) {
		const struct ps_pq_value *v = ps_pq_value(r, 0);

		if (i % 13 == 0) {
			cr_assert(v->is_null);
			continue;
		}
		n = snprintf(buf, sizeof(buf), "v%d", i < 100 ? i % 7 : i);
		cr_assert_eq(v->v.s.len, (size_t)n);
		cr_assert_eq(memcmp(v->v.s.p, buf, (size_t)n), 0);
	}
	cr_assert_eq(i, 5000);
	ps_pq_reader_free(r);
	free(p);
	rm_tmp();
}

Test(parquet, bad_rows_are_refused_and_writer_goes_on)
{
	struct ps_pq_column cols[] = {
		{ "id", PS_PQ_INT32, 0, 0 },
		{ "name", PS_PQ_STRING, 1, 0 },
	};
	struct ps_error e = { 0 };
	struct ps_pq_writer *w;
	struct ps_pq_reader *r;
	char *p;

	mkdir_tmp();
	p = tpath("b.parquet");
	w = ps_pq_open(p, cols, 2, NULL, &e);
	cr_assert_not_null(w);
	ps_pq_set_string(w, 1, "x", 1);		/* id missing */
	cr_assert_eq(ps_pq_end_row(w, &e), -1);
	cr_assert_eq(e.code, PS_EX_DATAERR);
	cr_assert(strstr(e.msg, "'id'"), "%s", e.msg);
	ps_pq_set_int64(w, 0, 1LL << 40);		/* out of range */
	cr_assert_eq(ps_pq_end_row(w, &e), -1);
	ps_pq_set_int32(w, 0, 1);
	ps_pq_set_double(w, 1, 1.0);			/* wrong type */
	cr_assert_eq(ps_pq_end_row(w, &e), -1);
	ps_pq_set_int32(w, 0, 1);
	ps_pq_set_int32(w, 7, 1);			/* no such column */
	cr_assert_eq(ps_pq_end_row(w, &e), -1);
	ps_pq_set_int32(w, 0, 5);
	cr_assert_eq(ps_pq_end_row(w, &e), 0);		/* name null */
	cr_assert_eq(ps_pq_rows(w), 1);
	cr_assert_eq(ps_pq_close(w, &e), 0);
	r = ps_pq_reader_open(p, &e);
	cr_assert_not_null(r);
	cr_assert_eq(ps_pq_next(r, &e), 1);
	cr_assert_eq(ps_pq_value(r, 0)->v.i, 5);
	cr_assert(ps_pq_value(r, 1)->is_null);
	cr_assert_eq(ps_pq_next(r, &e), 0);
	ps_pq_reader_free(r);
	free(p);
	rm_tmp();
}

Test(parquet, bad_schema_is_refused)
{
	struct ps_pq_column dup[] = {
		{ "a", PS_PQ_INT32, 0, 0 }, { "a", PS_PQ_INT64, 0, 0 },
	};
	struct ps_pq_options o = PS_PQ_OPTIONS_INIT;
	struct ps_error e = { 0 };

	cr_assert_null(ps_pq_open("/tmp/x.parquet", dup, 2, NULL, &e));
	cr_assert_eq(e.code, PS_EX_USAGE);
	cr_assert_null(ps_pq_open("/tmp/x.parquet", dup, 0, NULL, &e));
	o.codec = PS_PQ_SNAPPY;
	cr_assert_null(ps_pq_open("/tmp/x.parquet", dup, 1, &o, &e));
}

Test(parquet, file_appears_only_on_close_and_abort_removes)
{
	struct ps_pq_column col = { "a", PS_PQ_INT64, 0, 0 };
	struct ps_error e = { 0 };
	struct ps_pq_writer *w;
	char *p;

	mkdir_tmp();
	p = tpath("a.parquet");
	w = ps_pq_open(p, &col, 1, NULL, &e);
	ps_pq_set_int64(w, 0, 1);
	ps_pq_end_row(w, &e);
	cr_assert_eq(ps_pq_flush(w, &e), 0);
	cr_assert_eq(count_files(0), 0);
	ps_pq_abort(w);
	cr_assert_eq(count_files(0), 0);
	cr_assert_neq(access(p, F_OK), 0);
	w = ps_pq_open(p, &col, 1, NULL, &e);
	cr_assert_eq(ps_pq_close(w, &e), 0);
	cr_assert_eq(count_files(0), 1);
	cr_assert_eq(access(p, F_OK), 0);
	ps_pq_abort(NULL);
	free(p);
	rm_tmp();
}

/* A small file with every type, dictionary pages and nulls. */
static void small_file(struct ps_buf *b, enum ps_pq_codec codec, int v_nodict)
{
	struct ps_pq_options o = PS_PQ_OPTIONS_INIT;
	struct ps_error e = { 0 };
	char *p;

	mkdir_tmp();
	p = tpath("s.parquet");
	o.codec = codec;
	o.no_dict = v_nodict;
	write_all(p, &o, 12);
	cr_assert_eq(ps_read_file(p, b, 1 << 20, &e), 0);
	free(p);
	rm_tmp();
}

/* Read everything; returns 0 when the file read fine, else -1. */
static int read_all(const void *p, size_t n, struct ps_error *e)
{
	struct ps_pq_reader *r = ps_pq_reader_open_mem(p, n, e);
	struct ps_buf j = PS_BUF_INIT;
	struct ps_pq_stats st;
	size_t c;
	int rc;

	if (!r)
		return -1;
	for (c = 0; c < ps_pq_reader_ncols(r); c++)
		ps_pq_reader_stats(r, 0, c, &st);
	ps_pq_meta_json(r, &j);
	while ((rc = ps_pq_next(r, e)) == 1)
		ps_pq_row_json(r, &j);
	ps_buf_release(&j);
	ps_pq_reader_free(r);
	return rc;
}

Test(parquet, every_truncation_is_an_error)
{
	struct ps_buf b = PS_BUF_INIT;
	struct ps_error e = { 0 };
	size_t n;

	small_file(&b, PS_PQ_UNCOMPRESSED, 0);
	cr_assert_eq(read_all(b.data, b.len, &e), 0, "%s", e.msg);
	for (n = 0; n < b.len; n++) {
		e.msg[0] = '\0';
		cr_assert_eq(read_all(b.data, n, &e), -1, "len %zu", n);
		cr_assert_eq(e.code, PS_EX_DATAERR);
		cr_assert(strlen(e.msg) > 0);
		cr_assert_null(strchr(e.msg, '\n'));
	}
	ps_buf_release(&b);
}

Test(parquet, truncated_data_with_intact_footer_is_an_error)
{
	struct ps_buf b = PS_BUF_INIT, c = PS_BUF_INIT;
	struct ps_error e = { 0 };
	uint32_t flen;
	size_t cut, tail;

	small_file(&b, PS_PQ_ZSTD, 0);
	memcpy(&flen, b.data + b.len - 8, 4);
	tail = flen + 8;
	/* Drop bytes before the footer: offsets then point into it. */
	for (cut = 1; cut < b.len - tail - 4; cut++) {
		ps_buf_reset(&c);
		ps_buf_add(&c, b.data, b.len - tail - cut);
		ps_buf_add(&c, b.data + b.len - tail, tail);
		cr_assert_eq(read_all(c.data, c.len, &e), -1, "cut %zu", cut);
	}
	ps_buf_release(&b);
	ps_buf_release(&c);
}

Test(parquet, corrupt_bytes_never_crash)
{
	static const enum ps_pq_codec codecs[] = {
		PS_PQ_UNCOMPRESSED, PS_PQ_GZIP, PS_PQ_ZSTD,
	};
	struct ps_buf b = PS_BUF_INIT;
	struct ps_error e = { 0 };
	struct ps_rand rnd;
	size_t k, i, c;

	ps_rand_seed(&rnd, 7);
	for (c = 0; c < 6; c++) {
		ps_buf_reset(&b);
		small_file(&b, codecs[c % 3], (int)(c / 3));
		for (k = 0; k < 3000; k++) {
			char *m = ps_xmemdup(b.data, b.len);
			size_t flips = 1 + ps_rand_below(&rnd, 4);

			for (i = 0; i < flips; i++)
				m[4 + ps_rand_below(&rnd,
						    (uint32_t)b.len - 8)] ^=
					(char)(1 + ps_rand_below(&rnd, 255));
			/* Either way is fine, as long as it returns. */
			read_all(m, b.len, &e);
			free(m);
		}
	}
	ps_buf_release(&b);
}

Test(parquet, clear_errors_for_non_parquet)
{
	struct ps_error e = { 0 };
	static const char junk[] = "PAR1 this is not a parquet file at all";
	char big[64] = "PAR1";

	cr_assert_null(ps_pq_reader_open_mem(junk, sizeof(junk), &e));
	cr_assert(strstr(e.msg, "magic"), "%s", e.msg);
	memcpy(big + 56, "\xff\xff\x00\x00PAR1", 8);
	cr_assert_null(ps_pq_reader_open_mem(big, sizeof(big), &e));
	cr_assert(strstr(e.msg, "footer length"), "%s", e.msg);
	cr_assert_null(ps_pq_reader_open("/nonexistent/x.parquet", &e));
	cr_assert_eq(e.code, PS_EX_NOINPUT);
}

Test(parquet, json_row_format)
{
	struct ps_pq_column cols[] = {
		{ "ts", PS_PQ_TIMESTAMP, 1, 0 }, { "d", PS_PQ_DATE, 1, 0 },
		{ "b", PS_PQ_BOOL, 1, 0 }, { "s", PS_PQ_STRING, 1, 0 },
		{ "x", PS_PQ_DOUBLE, 1, 0 }, { "n", PS_PQ_INT64, 1, 0 },
	};
	struct ps_error e = { 0 };
	struct ps_buf b = PS_BUF_INIT;
	struct ps_pq_writer *w;
	struct ps_pq_reader *r;
	char *p;

	mkdir_tmp();
	p = tpath("j.parquet");
	w = ps_pq_open(p, cols, 6, NULL, &e);
	ps_pq_set_int64(w, 0, -1);	/* 1969-12-31T23:59:59.999999Z */
	ps_pq_set_int32(w, 1, -1);
	ps_pq_set_bool(w, 2, 1);
	ps_pq_set_string(w, 3, "a\"b", 3);
	ps_pq_set_double(w, 4, 0.5);
	ps_pq_set_int64(w, 5, -3);
	cr_assert_eq(ps_pq_end_row(w, &e), 0);
	ps_pq_set_int64(w, 0, 1767225600000000LL);
	ps_pq_set_double(w, 4, INFINITY);
	cr_assert_eq(ps_pq_end_row(w, &e), 0);
	cr_assert_eq(ps_pq_close(w, &e), 0);
	r = ps_pq_reader_open(p, &e);
	cr_assert_eq(ps_pq_next(r, &e), 1);
	ps_pq_row_json(r, &b);
	cr_assert_str_eq(b.data, "{\"ts\":\"1969-12-31T23:59:59.999999Z\","
			 "\"d\":\"1969-12-31\",\"b\":true,\"s\":\"a\\\"b\","
			 "\"x\":0.5,\"n\":-3}");
	ps_buf_reset(&b);
	cr_assert_eq(ps_pq_next(r, &e), 1);
	ps_pq_row_json(r, &b);
	cr_assert_str_eq(b.data, "{\"ts\":\"2026-01-01T00:00:00Z\",\"d\":null,"
			 "\"b\":null,\"s\":null,\"x\":null,\"n\":null}");
	cr_assert_eq(ps_pq_next(r, &e), 0);
	cr_assert_null(ps_pq_value(r, 0));
	ps_pq_reader_free(r);
	ps_buf_release(&b);
	free(p);
	rm_tmp();
}

Test(parquet, names_parse_and_print)
{
	enum ps_pq_type t;
	enum ps_pq_codec c;
	size_t i;

	for (i = 0; i < NTYPES; i++) {
		cr_assert_eq(ps_pq_type_parse(ps_pq_type_name(all_types[i]),
					      &t), 0);
		cr_assert_eq(t, all_types[i]);
	}
	cr_assert_eq(ps_pq_type_parse("int96", &t), -1);
	cr_assert_eq(ps_pq_codec_parse("zstd", &c), 0);
	cr_assert_eq(c, PS_PQ_ZSTD);
	cr_assert_eq(ps_pq_codec_parse("lz4", &c), -1);
}

Test(parquet, high_cardinality_column_goes_plain)
{
	struct ps_pq_column cols[] = {
		{ "id", PS_PQ_INT64, 0, 0 }, { "dep", PS_PQ_STRING, 0, 0 },
	};
	struct ps_pq_options o = PS_PQ_OPTIONS_INIT;
	struct ps_error e = { 0 };
	struct ps_pq_writer *w;
	struct ps_pq_reader *r;
	struct ps_pq_stats st;
	char *p;
	int64_t i;

	mkdir_tmp();
	p = tpath("h.parquet");
	o.page_bytes = 4096;
	w = ps_pq_open(p, cols, 2, &o, &e);
	for (i = 0; i < 30000; i++) {
		ps_pq_set_int64(w, 0, i * 7919);
		ps_pq_set_string(w, 1, words[i % 3], strlen(words[i % 3]));
		cr_assert_eq(ps_pq_end_row(w, &e), 0);
	}
	cr_assert_eq(ps_pq_close(w, &e), 0);
	r = ps_pq_reader_open(p, &e);
	cr_assert_not_null(r, "%s", e.msg);
	for (i = 0; ps_pq_next(r, &e) == 1; i++) {
		cr_assert_eq(ps_pq_value(r, 0)->v.i, i * 7919);
		cr_assert_eq(ps_pq_value(r, 1)->v.s.len, strlen(words[i % 3]));
	}
	cr_assert_eq(i, 30000);
	cr_assert_eq(ps_pq_reader_stats(r, 0, 0, &st), 0);
	cr_assert_eq(st.min.v.i, 0);
	cr_assert_eq(st.max.v.i, 29999 * 7919LL);
	/* Mostly PLAIN: far smaller than a dictionary of every value plus
	 * indices would be, and not much larger than 8 bytes a value. */
	cr_assert_lt(st.uncompressed_bytes, 30000 * 8 + 8192 * 8 + 30000);
	ps_pq_reader_free(r);
	free(p);
	rm_tmp();
}

/*
 * Values read back obey lib/pstime's range rule (issue 10, item 7): a
 * TIMESTAMP or DATE outside years 0001-9999 is a data error naming the
 * column, not a raw integer on --dump nor a value gold would apply.
 */
Test(parquet, out_of_range_times_are_refused_on_read)
{
	struct ps_pq_column cols[] = {
		{ "ts", PS_PQ_TIMESTAMP, 1, 0 }, { "d", PS_PQ_DATE, 1, 0 },
	};
	int64_t ts[] = { PS_TIME_MAX_US, PS_TIME_MAX_US + 1, 0,
			 PS_TIME_MIN_US - 1, 0 };
	int32_t d[] = { 0, 0, 2932897, 0, -719163 };
	const char *bad[] = { NULL, "ts", "d", "ts", "d" };
	struct ps_error e = { 0 };
	size_t i;

	mkdir_tmp();
	for (i = 0; i < sizeof(ts) / sizeof(ts[0]); i++) {
		char *p = tpath("r.parquet");
		struct ps_pq_writer *w = ps_pq_open(p, cols, 2, NULL, &e);
		struct ps_pq_reader *r;

		cr_assert_not_null(w, "%s", e.msg);
		ps_pq_set_int64(w, 0, ts[i]);
		ps_pq_set_int32(w, 1, d[i]);
		cr_assert_eq(ps_pq_end_row(w, &e), 0, "%s", e.msg);
		cr_assert_eq(ps_pq_close(w, &e), 0, "%s", e.msg);
		r = ps_pq_reader_open(p, &e);
		cr_assert_not_null(r, "%s", e.msg);
		if (!bad[i]) {
			cr_assert_eq(ps_pq_next(r, &e), 1, "%s", e.msg);
		} else {
			cr_assert_eq(ps_pq_next(r, &e), -1, "case %zu", i);
			cr_assert_eq(e.code, PS_EX_DATAERR);
			cr_assert(strstr(e.msg, bad[i]) &&
				  strstr(e.msg, PS_TIME_RANGE_WHY), "%s",
				  e.msg);
		}
		ps_pq_reader_free(r);
		unlink(p);
		free(p);
	}
	rm_tmp();
}

/* ---- nested columns ---- */

static const struct ps_pq_node nested_schema[] = {
	{ "a", PS_PQ_LEAF, PS_PQ_INT64, 0, 0 },
	{ "b", PS_PQ_STRUCT, 0, 1, 2 },
	{ "x", PS_PQ_LEAF, PS_PQ_STRING, 1, 0 },
	{ "y", PS_PQ_LEAF, PS_PQ_INT32, 0, 0 },
	{ "c", PS_PQ_LIST, 0, 1, 0 },
	{ "element", PS_PQ_LEAF, PS_PQ_STRING, 1, 0 },
	{ "m", PS_PQ_MAP, 0, 1, 0 },
	{ "key", PS_PQ_LEAF, PS_PQ_STRING, 0, 0 },
	{ "value", PS_PQ_LEAF, PS_PQ_STRING, 1, 0 },
	{ "l", PS_PQ_LIST, 0, 1, 0 },
	{ "element", PS_PQ_LIST, 0, 1, 0 },
	{ "element", PS_PQ_STRUCT, 0, 0, 2 },
	{ "p", PS_PQ_LEAF, PS_PQ_TIMESTAMP, 1, 0 },
	{ "q", PS_PQ_LEAF, PS_PQ_BOOL, 0, 0 },
};

/* Rows as the reader gives them back (every member, in schema order). */
static const char *const nested_rows[] = {
	"{\"a\":1,\"b\":{\"x\":\"hi\",\"y\":2},\"c\":[\"p\",null,\"q\"],"
	"\"m\":{\"k1\":\"v1\",\"k2\":null},\"l\":[[{\"p\":0,\"q\":true}],[],"
	"null,[{\"p\":null,\"q\":false},{\"p\":86400000000,\"q\":true}]]}",
	"{\"a\":2,\"b\":null,\"c\":[],\"m\":{},\"l\":null}",
	"{\"a\":3,\"b\":{\"x\":null,\"y\":-5},\"c\":null,\"m\":null,"
	"\"l\":[[]]}",
	"{\"a\":4,\"b\":null,\"c\":[null],\"m\":{\"\":\"\"},\"l\":[null]}",
};

static void nested_round_trip(enum ps_pq_codec codec, size_t page_bytes)
{
	struct ps_pq_options o = PS_PQ_OPTIONS_INIT;
	char path[] = "/tmp/ps-pq-nested-XXXXXX";
	struct ps_error e = { 0 };
	struct ps_buf b = PS_BUF_INIT;
	struct ps_pq_writer *w;
	struct ps_pq_reader *r;
	size_t i, rep, n = sizeof(nested_rows) / sizeof(nested_rows[0]);
	int fd = mkstemp(path);

	cr_assert(fd >= 0);
	close(fd);
	o.codec = codec;
	o.page_bytes = page_bytes;
	w = ps_pq_open_nested(path, nested_schema, sizeof(nested_schema) /
			      sizeof(nested_schema[0]), &o, &e);
	cr_assert(w, "%s", e.msg);
	for (rep = 0; rep < 50; rep++)
		for (i = 0; i < n; i++)
			cr_assert_eq(ps_pq_write_json(w, nested_rows[i],
						      strlen(nested_rows[i]),
						      &e), 0, "%s", e.msg);
	cr_assert_eq(ps_pq_close(w, &e), 0, "%s", e.msg);
	r = ps_pq_reader_open(path, &e);
	cr_assert(r, "%s", e.msg);
	cr_assert_eq(ps_pq_reader_ncols(r), 8);
	cr_assert_str_eq(ps_pq_reader_col(r, 3)->name, "c.list.element");
	cr_assert_str_eq(ps_pq_reader_col(r, 6)->name,
			 "l.list.element.list.element.p");
	for (rep = 0; rep < 50; rep++) {
		for (i = 0; i < n; i++) {
			cr_assert_eq(ps_pq_next(r, &e), 1, "%s", e.msg);
			cr_assert_null(ps_pq_value(r, 1));
			ps_buf_reset(&b);
			ps_pq_row_json(r, &b);
			ps_buf_addc(&b, '\0');
			/* timestamps come back as ISO-8601 */
			if (i == 0)
				cr_assert(strstr(b.data, "\"p\":\"1970-01-02T"
						 "00:00:00Z\""), "%s", b.data);
			else
				cr_assert_str_eq(b.data, nested_rows[i]);
		}
	}
	cr_assert_eq(ps_pq_next(r, &e), 0);
	ps_pq_reader_free(r);
	ps_buf_release(&b);
	unlink(path);
}

Test(parquet_nested, round_trip_uncompressed)
{
	nested_round_trip(PS_PQ_UNCOMPRESSED, 0);
}

Test(parquet_nested, round_trip_zstd_small_pages)
{
	/* pages end at row boundaries even when tiny */
	nested_round_trip(PS_PQ_ZSTD, 64);
}

Test(parquet_nested, bad_rows_write_nothing)
{
	char path[] = "/tmp/ps-pq-nested-XXXXXX";
	struct ps_error e = { 0 };
	struct ps_pq_writer *w;
	struct ps_pq_reader *r;
	struct ps_buf b = PS_BUF_INIT;
	static const char *const bad[] = {
		"{\"b\":{\"y\":1}}",			/* a missing */
		"{\"a\":1,\"b\":{\"x\":\"s\"}}",	/* b.y missing */
		"{\"a\":1,\"c\":\"notalist\"}",
		"{\"a\":1,\"c\":[1]}",
		"{\"a\":1,\"m\":[]}",
		"{\"a\":\"1\"}",
		"{\"a\":1,\"b\":{\"y\":3000000000}}",
		"[1]",
		"{\"a\":1",
	};
	size_t i;
	int fd = mkstemp(path);

	cr_assert(fd >= 0);
	close(fd);
	w = ps_pq_open_nested(path, nested_schema, sizeof(nested_schema) /
			      sizeof(nested_schema[0]), NULL, &e);
	cr_assert(w, "%s", e.msg);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(ps_pq_write_json(w, bad[i], strlen(bad[i]), &e),
			     -1, "%s", bad[i]);
		cr_assert_eq(e.code, PS_EX_DATAERR);
	}
	/* the flat API is refused on a nested writer */
	cr_assert_eq(ps_pq_end_row(w, &e), -1);
	cr_assert_eq(ps_pq_write_json(w, "{\"a\":9}", 7, &e), 0, "%s", e.msg);
	cr_assert_eq(ps_pq_close(w, &e), 0, "%s", e.msg);
	r = ps_pq_reader_open(path, &e);
	cr_assert(r, "%s", e.msg);
	cr_assert_eq(ps_pq_reader_nrows(r), 1);
	cr_assert_eq(ps_pq_next(r, &e), 1);
	ps_pq_row_json(r, &b);
	ps_buf_addc(&b, '\0');
	cr_assert_str_eq(b.data, "{\"a\":9,\"b\":null,\"c\":null,\"m\":null,"
			 "\"l\":null}");
	ps_pq_reader_free(r);
	ps_buf_release(&b);
	unlink(path);
}

Test(parquet_nested, bad_schemas_are_refused)
{
	static const struct ps_pq_node no_key[] = {
		{ "m", PS_PQ_MAP, 0, 1, 0 },
		{ "key", PS_PQ_LEAF, PS_PQ_INT32, 0, 0 },
		{ "value", PS_PQ_LEAF, PS_PQ_STRING, 1, 0 },
	};
	static const struct ps_pq_node short_struct[] = {
		{ "s", PS_PQ_STRUCT, 0, 1, 3 },
		{ "x", PS_PQ_LEAF, PS_PQ_STRING, 1, 0 },
	};
	static const struct ps_pq_node dup[] = {
		{ "s", PS_PQ_STRUCT, 0, 1, 1 },
		{ "x", PS_PQ_LEAF, PS_PQ_STRING, 1, 0 },
		{ "s", PS_PQ_LEAF, PS_PQ_STRING, 1, 0 },
	};
	struct ps_error e = { 0 };

	cr_assert_null(ps_pq_open_nested("/tmp/never", no_key, 3, NULL, &e));
	cr_assert_eq(e.code, PS_EX_USAGE);
	cr_assert_null(ps_pq_open_nested("/tmp/never", short_struct, 2, NULL,
					 &e));
	cr_assert_null(ps_pq_open_nested("/tmp/never", dup, 3, NULL, &e));
	cr_assert(strstr(e.msg, "duplicate"), "%s", e.msg);
}

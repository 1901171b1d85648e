/*
 * test_lake.c - the lake protocol (lib/lake.h) and the commit sequence
 * (lib/stage.h): names, listing, visibility, locks, recovery.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "checkpoint.h"
#include "delta.h"
#include "fsutil.h"
#include "lake.h"
#include "stage.h"
#include "banned.h"

static char lake[64];

static void mklake(void)
{
	snprintf(lake, sizeof(lake), "/tmp/test_lake.XXXXXX");
	cr_assert_not_null(mkdtemp(lake));
}

static void rmlake(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", lake);
	cr_assert_eq(system(cmd), 0);
}

static char *lpath(const char *rel)
{
	return ps_path_join(lake, rel);
}

static void touch(const char *rel)
{
	char *p = lpath(rel);
	struct ps_error e = { 0, "" };

	cr_assert_eq(ps_write_file_atomic(p, "x", 1, 0644, &e), 0, "%s",
		     e.msg);
	free(p);
}

static int exists(const char *rel)
{
	char *p = lpath(rel);
	int r = access(p, F_OK) == 0;

	free(p);
	return r;
}

/* ---- names ---- */

static void check_safe(const char *src, const char *want)
{
	struct ps_buf b = PS_BUF_INIT;

	ps_lake_safe_source(&b, src, strlen(src));
	cr_assert_str_eq(b.data, want, "source %s", src);
	ps_buf_release(&b);
}

Test(lake, safe_source_readable_forms)
{
	check_safe("kafka:admissions/3", "kafka_admissions_3");
	check_safe("kafka:patient_flow.v1/12", "kafka_patient_flow.v1_12");
	check_safe("stdin:admissions", "stdin_admissions");
	check_safe("stdin:ward-7", "stdin_ward-7");
}

Test(lake, safe_source_hashes_other_forms)
{
	struct ps_buf a = PS_BUF_INIT, b = PS_BUF_INIT;

	ps_lake_safe_source(&a, "kafka:a/b", 9);
	cr_assert(strchr(a.data, '~'), "%s", a.data);
	cr_assert(!strncmp(a.data, "kafka_a_b~", 10), "%s", a.data);
	cr_assert_eq(a.len, 9 + 1 + 16);
	ps_lake_safe_source(&b, "kafka/a:b", 9);
	cr_assert_str_neq(a.data, b.data);
	ps_buf_release(&a);
	ps_buf_release(&b);
	/* "stdin:" with an empty name is not a plain form either. */
	ps_buf_reset(&a);
	ps_lake_safe_source(&a, "stdin:", 6);
	cr_assert(!strncmp(a.data, "stdin_~", 7), "%s", a.data);
	cr_assert_eq(a.len, 6 + 1 + 16);
	ps_buf_release(&a);
}

Test(lake, safe_source_is_injective_on_tricky_ids)
{
	static const char *ids[] = {
		"kafka:a_1/2", "kafka:a/12", "kafka:a/1_2", "kafka:a_12/1",
		"stdin:a_1", "stdin:a/1", "stdin:a:1", "stdin_a_1",
		"kafka:a/b/1", "kafka:a_b/1", "x", "X", "stdin:kafka_a",
		"kafka:stdin/1", "stdin:a~1", NULL
	};
	struct ps_buf b[16];
	int i, j;

	for (i = 0; ids[i]; i++) {
		b[i] = (struct ps_buf)PS_BUF_INIT;
		ps_lake_safe_source(&b[i], ids[i], strlen(ids[i]));
		for (j = 0; j < i; j++)
			cr_assert_str_neq(b[i].data, b[j].data, "%s vs %s",
					  ids[i], ids[j]);
	}
	for (j = 0; j < i; j++)
		ps_buf_release(&b[j]);
}

Test(lake, long_source_is_cut_and_hashed)
{
	struct ps_buf b = PS_BUF_INIT, id = PS_BUF_INIT;
	int i;

	ps_buf_adds(&id, "stdin:");
	for (i = 0; i < 300; i++)
		ps_buf_addc(&id, 'a');
	ps_lake_safe_source(&b, id.data, id.len);
	cr_assert_eq(b.len, 64 + 17);
	ps_buf_release(&b);
	ps_buf_release(&id);
}

Test(lake, safe_source_never_takes_the_bronze_prefix)
{
	struct ps_buf b = PS_BUF_INIT;

	ps_lake_safe_source(&b, "bronze-x/y", 10);
	cr_assert(!strncmp(b.data, "bronze_x_y~", 11), "%s", b.data);
	ps_buf_release(&b);
}

#define P20(n) #n

static int parse(enum ps_lake_table t, const char *name, const char *want,
		 long long first, long long last, long long run)
{
	const char *safe;
	size_t sl;
	long long f, l, r;

	if (ps_lake_part_parse(t, name, &safe, &sl, &f, &l, &r) < 0)
		return -1;
	cr_assert_eq(sl, strlen(want), "%s", name);
	cr_assert(!memcmp(safe, want, sl), "%s", name);
	cr_assert_eq(f, first, "%s", name);
	cr_assert_eq(l, last, "%s", name);
	cr_assert_eq(r, run, "%s", name);
	return 0;
}

#define R "-00000000000000000005-00000000000000000010"

Test(lake, part_names_parse_per_table)
{
	cr_assert_eq(parse(PS_LAKE_BRONZE, "part-kafka_a-b_3" R ".ndjson.gz",
			   "kafka_a-b_3", 5, 10, -1), 0);
	cr_assert_eq(parse(PS_LAKE_BRONZE_QUARANTINE,
			   "part-bronze-stdin_a" R ".ndjson.gz", "stdin_a", 5,
			   10, -1), 0);
	/* The shared quarantine area: bronze's files are not silver's. */
	cr_assert_eq(parse(PS_LAKE_SILVER_QUARANTINE,
			   "part-bronze-stdin_a" R ".ndjson.gz", "", 0, 0,
			   -1), -1);
	cr_assert_eq(parse(PS_LAKE_SILVER_QUARANTINE,
			   "part-stdin_a" R ".ndjson.gz", "stdin_a", 5, 10,
			   -1), 0);
	cr_assert_eq(parse(PS_LAKE_BRONZE_QUARANTINE,
			   "part-stdin_a" R ".ndjson.gz", "", 0, 0, -1), -1);
	cr_assert_eq(parse(PS_LAKE_SILVER, "part-stdin_a" R "-r42.parquet",
			   "stdin_a", 5, 10, 42), 0);
	cr_assert_eq(parse(PS_LAKE_SILVER, "part-kafka_t_0" R ".parquet",
			   "kafka_t_0", 5, 10, -1), 0);
	/* runs only where a table has them */
	cr_assert_eq(parse(PS_LAKE_BRONZE, "part-x" R "-r42.ndjson.gz", "",
			   0, 0, -1), -1);
	cr_assert_eq(parse(PS_LAKE_BRONZE, "part-" R ".ndjson.gz", "", 0, 0,
			   -1), -1);
	cr_assert_eq(parse(PS_LAKE_BRONZE, "part-x-00000000000000000011-"
			   "00000000000000000010.ndjson.gz", "", 0, 0, -1),
		     -1);
	cr_assert_eq(parse(PS_LAKE_BRONZE, "part-x-0000000000000000001-"
			   "00000000000000000010.ndjson.gz", "", 0, 0, -1),
		     -1);
	cr_assert_eq(parse(PS_LAKE_BRONZE, "part-x" R ".ndjson", "", 0, 0,
			   -1), -1);
	cr_assert_eq(parse(PS_LAKE_BRONZE, "x" R ".ndjson.gz", "", 0, 0, -1),
		     -1);
	cr_assert_eq(parse(PS_LAKE_SILVER, "part-0.parquet", "", 0, 0, -1),
		     -1);
}

Test(lake, part_path_is_what_the_parser_reads)
{
	static const enum ps_lake_table ts[] = {
		PS_LAKE_BRONZE, PS_LAKE_BRONZE_QUARANTINE, PS_LAKE_SILVER,
		PS_LAKE_SILVER_QUARANTINE
	};
	static const char *srcs[] = {
		"kafka:admissions/3", "stdin:x", "weird id/with:stuff",
		"bronze-x"
	};
	size_t i, k;

	for (i = 0; i < 4; i++)
		for (k = 0; k < 4; k++) {
			struct ps_buf b = PS_BUF_INIT, safe = PS_BUF_INIT;
			long long run = ts[i] == PS_LAKE_SILVER ? 7 : -1;
			const char *name;

			ps_lake_part_path(&b, ts[i], "/l/a/s", "2026-11-30",
					  srcs[k], strlen(srcs[k]), 3, 99,
					  run);
			ps_lake_safe_source(&safe, srcs[k], strlen(srcs[k]));
			name = strrchr(b.data, '/') + 1;
			cr_assert_eq(parse(ts[i], name, safe.data, 3, 99,
					   run), 0, "%s", b.data);
			cr_assert(strstr(b.data, "date=2026-11-30/"), "%s",
				  b.data);
			ps_buf_release(&b);
			ps_buf_release(&safe);
		}
}

static void save_cp(const char *tool, const char *src, long long pos)
{
	struct ps_checkpoint *cp = ps_checkpoint_new();
	struct ps_error e = { 0, "" };

	ps_checkpoint_set(cp, src, strlen(src), pos);
	cr_assert_eq(ps_checkpoint_save(cp, lake, tool, "adm", &e), 0, "%s",
		     e.msg);
	ps_checkpoint_free(cp);
}

#define SD "silver/adm/admission_date=2026-11-30/"
#define QD "quarantine/adm/date=2026-11-30/"
#define B1 "-00000000000000000000-00000000000000000009"
#define B2 "-00000000000000000010-00000000000000000019"

/* A small Delta table schema for silver's tests (the partition column
 * among the columns, as silver's). */
static const struct ps_pq_column tcols[] = {
	{ "x", PS_PQ_INT64, 0, 0 },
	{ "admission_date", PS_PQ_DATE, 0, 0 },
};
static const char *const tpart[] = { "admission_date" };

/* A real Parquet file of one row at lake-relative rel. */
static void mkpq(const char *rel)
{
	struct ps_pq_options po = PS_PQ_OPTIONS_INIT;
	struct ps_error e = { 0, "" };
	char *p = lpath(rel), *slash = strrchr(p, '/');
	struct ps_pq_writer *w;

	*slash = '\0';
	cr_assert_eq(ps_mkdir_p(p, 0755, &e), 0);
	*slash = '/';
	w = ps_pq_open(p, tcols, 2, &po, &e);
	cr_assert_not_null(w, "%s", e.msg);
	ps_pq_set_int64(w, 0, 1);
	ps_pq_set_int32(w, 1, 20422);
	cr_assert_eq(ps_pq_end_row(w, &e), 0);
	cr_assert_eq(ps_pq_close(w, &e), 0, "%s", e.msg);
	free(p);
}

static const enum ps_lake_table silver_tables[] = {
	PS_LAKE_SILVER, PS_LAKE_SILVER_QUARANTINE
};

/* A ps-silver stage of stream "adm" with its Delta table. */
static struct ps_stage *silver_stage(struct ps_error *e)
{
	static char *dir;
	static struct ps_stage_table dt = { NULL, tcols, 2, tpart, 1,
					    PS_LAKE_SILVER, 0 };
	struct ps_stage_opts o = { NULL, "ps-silver", "adm", 0,
				   silver_tables, 2, &dt, 1, 0, 0 };

	free(dir);
	dir = ps_lake_dir(lake, PS_LAKE_SILVER, "adm");
	dt.dir = dir;
	o.lake = lake;
	return ps_stage_open(&o, e);
}

/* Commit lake-relative silver files (NULL-terminated) with position pos
 * of kafka:t/0 (-1: none). */
static void commit_files(struct ps_stage *st, long long pos, ...)
{
	static const char *const key[] = { "admission_date" };
	const char *val[] = { "2026-11-30" };
	struct ps_error e = { 0, "" };
	const char *rel;
	va_list ap;

	va_start(ap, pos);
	while ((rel = va_arg(ap, const char *))) {
		char *p = lpath(rel);

		mkpq(rel);
		ps_stage_add_data(st, 0, p, key, val, 1);
		free(p);
	}
	va_end(ap);
	if (pos >= 0)
		ps_stage_set_position(st, "kafka:t/0", 9, pos);
	cr_assert_eq(ps_stage_commit(st, NULL, NULL, NULL, &e), 0, "%s",
		     e.msg);
}

Test(lake, readers_see_only_what_the_commit_point_covers, .init = mklake,
     .fini = rmlake)
{
	struct ps_lake_parts fs = PS_LAKE_PARTS_INIT;
	struct ps_error e = { 0, "" };
	struct ps_stage *st = silver_stage(&e);

	cr_assert_not_null(st, "%s", e.msg);
	commit_files(st, 9, SD "part-kafka_t_0" B1 ".parquet",
		     SD "part-stdin_adm-00000000000000000000-"
		     "00000000000000000003-r5.parquet", NULL);
	mkpq(SD "part-kafka_t_0" B2 ".parquet");	/* being committed */
	touch(SD ".part-kafka_t_0" B2 ".parquet.tmp-1");
	cr_assert_eq(ps_lake_list(lake, PS_LAKE_SILVER, "adm", &fs, &e), 0);
	cr_assert_eq(fs.n, 3);
	ps_lake_parts_release(&fs);
	cr_assert_eq(ps_lake_visible(lake, PS_LAKE_SILVER, "adm", &fs, &e),
		     0, "%s", e.msg);
	cr_assert_eq(fs.n, 2);
	cr_assert_eq(fs.v[0].last, 9);
	cr_assert_str_eq(fs.v[0].partition, "2026-11-30");
	cr_assert_eq(fs.v[1].run, 5);
	ps_lake_parts_release(&fs);
	commit_files(st, 19, NULL);	/* positions alone: not the file */
	cr_assert_eq(ps_lake_visible(lake, PS_LAKE_SILVER, "adm", &fs, &e),
		     0);
	cr_assert_eq(fs.n, 2);
	ps_lake_parts_release(&fs);
	char *f = lpath(SD "part-kafka_t_0" B2 ".parquet");
	ps_stage_add_data(st, 0, f, tpart,
			  (const char *const[]){ "2026-11-30" }, 1);
	free(f);	/* the stage copies the path */
	commit_files(st, 19, NULL);
	cr_assert_eq(ps_lake_visible(lake, PS_LAKE_SILVER, "adm", &fs, &e),
		     0);
	cr_assert_eq(fs.n, 3);
	ps_lake_parts_release(&fs);
	ps_stage_close(st);
}

Test(lake, readers_refuse_a_silver_table_of_an_older_lake,
     .init = mklake, .fini = rmlake)
{
	struct ps_lake_parts fs = PS_LAKE_PARTS_INIT;
	struct ps_checkpoint *cp = ps_checkpoint_new();
	struct ps_error e = { 0, "" };

	/* a new lake: no table, nothing to see */
	cr_assert_eq(ps_lake_visible(lake, PS_LAKE_SILVER, "adm", &fs, &e),
		     0);
	cr_assert_eq(fs.n, 0);
	touch(SD "part-kafka_t_0" B1 ".parquet");
	cr_assert_eq(ps_lake_visible(lake, PS_LAKE_SILVER, "adm", &fs, &e),
		     -1);
	cr_assert_eq(e.code, 78);
	cr_assert(strstr(e.msg, "--catch-up' once to convert"), "%s", e.msg);
	cr_assert_eq(ps_lake_committed(lake, PS_LAKE_SILVER_QUARANTINE, "adm",
				       cp, &e), -1);
	cr_assert_eq(e.code, 78);
	ps_checkpoint_free(cp);
}

Test(lake, a_view_of_the_whole_lake, .init = mklake, .fini = rmlake)
{
	struct ps_lake_view *v = ps_lake_view_new(lake);
	struct ps_error e = { 0, "" };
	struct ps_stage *st = silver_stage(&e);

	cr_assert_not_null(st, "%s", e.msg);
	commit_files(st, 9, SD "part-kafka_t_0" B1 ".parquet", NULL);
	ps_stage_close(st);
	cr_assert_eq(ps_lake_view_visible(v, SD "part-kafka_t_0" B1
					  ".parquet", &e), 1, "%s", e.msg);
	cr_assert_eq(ps_lake_view_visible(v, SD "part-kafka_t_0" B2
					  ".parquet", &e), 0);
	cr_assert_eq(ps_lake_view_visible(v, SD "part-compacted-1.parquet",
					  &e), 0);
	cr_assert_eq(ps_lake_view_visible(v, QD "part-kafka_t_0" B1
					  ".ndjson.gz", &e), 1);
	cr_assert_eq(ps_lake_view_visible(v, QD "part-kafka_t_0" B2
					  ".ndjson.gz", &e), 0);
	cr_assert_eq(ps_lake_view_visible(v, QD "part-bronze-stdin_adm" B2
					  ".ndjson.gz", &e), 1);
	cr_assert_eq(ps_lake_view_visible(v, "silver/adm/_delta_log/"
					  "00000000000000000001.json", &e),
		     1);
	cr_assert_eq(ps_lake_view_visible(v, "silver/other/admission_date="
					  "2026-11-30/part-kafka_t_0" B1
					  ".parquet", &e), 0);
	cr_assert_eq(ps_lake_view_visible(v, "gold/dim_patient/part-0.parquet",
					  &e), 1);
	cr_assert_eq(ps_lake_view_visible(v, "bronze/adm/date=2026-11-30/"
					  "part-kafka_t_0" B2 ".ndjson.gz",
					  &e), 1);
	ps_lake_view_free(v);
}

Test(stage, open_converts_an_older_lake_and_removes_its_unfinished_commit,
     .init = mklake, .fini = rmlake)
{
	struct ps_delta_snapshot s = PS_DELTA_SNAPSHOT_INIT;
	struct ps_error e = { 0, "" };
	struct ps_stage *st;
	char *dir = ps_lake_dir(lake, PS_LAKE_SILVER, "adm");

	/* an older lake: files and the silver checkpoint, no _delta_log */
	mkpq(SD "part-kafka_t_0" B1 ".parquet");
	mkpq(SD "part-kafka_t_0" B2 ".parquet");
	touch(QD "part-kafka_t_0" B2 ".ndjson.gz");
	/* bronze's quarantine, whose source silver has no position for */
	touch(QD "part-bronze-stdin_adm" B1 ".ndjson.gz");
	touch(QD ".part-bronze-stdin_adm" B2 ".ndjson.gz.tmp-1");
	touch(QD ".part-kafka_t_0" B2 ".ndjson.gz.tmp-1");
	save_cp("ps-silver", "kafka:t/0", 9);
	st = silver_stage(&e);
	cr_assert_not_null(st, "%s", e.msg);
	cr_assert(exists(SD "part-kafka_t_0" B1 ".parquet"));
	cr_assert(!exists(SD "part-kafka_t_0" B2 ".parquet"));
	cr_assert(!exists(QD "part-kafka_t_0" B2 ".ndjson.gz"));
	cr_assert(exists(QD "part-bronze-stdin_adm" B1 ".ndjson.gz"),
		  "silver removed bronze's quarantine");
	cr_assert(exists(QD ".part-bronze-stdin_adm" B2 ".ndjson.gz.tmp-1"),
		  "silver removed bronze's temporary");
	cr_assert(!exists(QD ".part-kafka_t_0" B2 ".ndjson.gz.tmp-1"));
	cr_assert_eq(ps_checkpoint_get(ps_stage_positions(st), "kafka:t/0",
				       9), 9);
	ps_stage_close(st);
	/* version 0 holds the committed file and the txn */
	cr_assert_eq(ps_delta_snapshot_load(dir, -1, &s, &e), 0, "%s", e.msg);
	cr_assert_eq(s.version, 0);
	cr_assert_eq(s.nfiles, 1);
	cr_assert_str_eq(s.files[0].path, "admission_date=2026-11-30/"
			 "part-kafka_t_0" B1 ".parquet");
	cr_assert_eq(ps_delta_txn_version(&s, "ps-silver/adm/kafka:t/0"), 9);
	ps_delta_snapshot_release(&s);
	cr_assert(!exists("_state/ps-silver/adm.json"));
	cr_assert(exists("_state/ps-silver/adm.pre-delta.json"));
	free(dir);
}

Test(stage, open_removes_files_no_version_references, .init = mklake,
     .fini = rmlake)
{
	struct ps_error e = { 0, "" };
	struct ps_stage *st = silver_stage(&e);

	cr_assert_not_null(st, "%s", e.msg);
	commit_files(st, 9, SD "part-kafka_t_0" B1 ".parquet", NULL);
	commit_files(st, -1, SD "part-stdin_adm" B1 "-r5.parquet", NULL);
	ps_stage_close(st);
	/* killed before the commit: a batch file and a plain run's */
	mkpq(SD "part-kafka_t_0" B2 ".parquet");
	mkpq(SD "part-stdin_adm" B2 "-r6.parquet");
	st = silver_stage(&e);
	cr_assert_not_null(st, "%s", e.msg);
	cr_assert(exists(SD "part-kafka_t_0" B1 ".parquet"));
	cr_assert(exists(SD "part-stdin_adm" B1 "-r5.parquet"));
	cr_assert(!exists(SD "part-kafka_t_0" B2 ".parquet"));
	cr_assert(!exists(SD "part-stdin_adm" B2 "-r6.parquet"));
	ps_stage_close(st);
}

static int emitted;

static int emit_check(void *ctx, struct ps_error *e)
{
	struct ps_checkpoint *cp = ps_checkpoint_new();

	(void)ctx;
	/* The commit point is written before anything is emitted. */
	cr_assert_eq(ps_lake_committed(lake, PS_LAKE_SILVER, "adm", cp, e),
		     0);
	cr_assert_eq(ps_checkpoint_get(cp, "kafka:t/0", 9), 19);
	ps_checkpoint_free(cp);
	emitted++;
	return 0;
}

static int state_fails(void *ctx, struct ps_error *e)
{
	(void)ctx;
	return ps_error_set(e, 74, "disk full");
}

Test(stage, commit_order_and_failure, .init = mklake, .fini = rmlake)
{
	static const char *const val[] = { "2026-11-30" };
	struct ps_error e = { 0, "" };
	struct ps_checkpoint *cp = ps_checkpoint_new();
	struct ps_lake_parts fs = PS_LAKE_PARTS_INIT;
	struct ps_stage *st = silver_stage(&e);
	char *f1 = lpath(SD "part-kafka_t_0" B2 ".parquet");

	cr_assert_not_null(st, "%s", e.msg);
	/* a failed commit: its file is removed, the positions stay */
	mkpq(SD "part-kafka_t_0" B2 ".parquet");
	ps_stage_add_data(st, 0, f1, tpart, val, 1);
	ps_stage_set_position(st, "kafka:t/0", 9, 19);
	cr_assert_eq(ps_stage_commit(st, state_fails, emit_check, NULL, &e),
		     -1);
	cr_assert_eq(e.code, 74);
	cr_assert(!exists(SD "part-kafka_t_0" B2 ".parquet"));
	cr_assert_eq(ps_checkpoint_get(ps_stage_positions(st), "kafka:t/0",
				       9), -1);
	cr_assert_eq(emitted, 0);
	/* then a good one */
	mkpq(SD "part-kafka_t_0" B2 ".parquet");
	ps_stage_add_data(st, 0, f1, tpart, val, 1);
	ps_stage_set_position(st, "kafka:t/0", 9, 19);
	cr_assert_eq(ps_stage_commit(st, NULL, emit_check, NULL, &e), 0,
		     "%s", e.msg);
	cr_assert_eq(emitted, 1);
	cr_assert(exists(SD "part-kafka_t_0" B2 ".parquet"));
	cr_assert_eq(ps_lake_committed(lake, PS_LAKE_SILVER, "adm", cp, &e),
		     0);
	cr_assert_eq(ps_checkpoint_get(cp, "kafka:t/0", 9), 19);
	cr_assert_eq(ps_lake_visible(lake, PS_LAKE_SILVER, "adm", &fs, &e),
		     0);
	cr_assert_eq(fs.n, 1);
	ps_lake_parts_release(&fs);
	cr_assert_eq(ps_stage_snapshot(st, 0)->version, 1);
	ps_stage_close(st);
	ps_checkpoint_free(cp);
	free(f1);
}

Test(lake, one_writer_per_stage_and_stream, .init = mklake,
     .fini = rmlake)
{
	struct ps_error e = { 0, "" };
	struct ps_lake_lock *l, *o;
	int fds[2], status;
	pid_t pid;
	char c;

	l = ps_lake_lock(lake, "ps-silver", "adm", 0, &e);
	cr_assert_not_null(l, "%s", e.msg);
	/* another stream, another stage: independent */
	o = ps_lake_lock(lake, "ps-silver", "other", 0, &e);
	cr_assert_not_null(o, "%s", e.msg);
	ps_lake_unlock(o);
	o = ps_lake_lock(lake, "ps-gold", "adm", 0, &e);
	cr_assert_not_null(o, "%s", e.msg);
	ps_lake_unlock(o);
	/* another process: 75, naming this one */
	cr_assert_eq(pipe(fds), 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		struct ps_lake_lock *x;
		char want[64];

		x = ps_lake_lock(lake, "ps-silver", "adm", 0.2, &e);
		snprintf(want, sizeof(want), "(PID %ld)", (long)getppid());
		_exit(x ? 1 : e.code != 75 ? 2 : !strstr(e.msg, want) ? 3 :
		      0);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert_eq(WEXITSTATUS(status), 0, "child: %d",
		     WEXITSTATUS(status));
	ps_lake_unlock(l);
	/* a waiting writer gets the lock once the holder is gone */
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		struct ps_lake_lock *x;

		close(fds[0]);
		x = ps_lake_lock(lake, "ps-silver", "adm", 0, &e);
		if (write(fds[1], "x", 1) != 1 || !x)
			_exit(1);
		usleep(300 * 1000);
		_exit(0);	/* the kernel drops the lock */
	}
	close(fds[1]);
	cr_assert_eq(read(fds[0], &c, 1), 1);
	l = ps_lake_lock(lake, "ps-silver", "adm", 30, &e);
	cr_assert_not_null(l, "%s", e.msg);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert_eq(WEXITSTATUS(status), 0);
	ps_lake_unlock(l);
	close(fds[0]);
}

/* ---- numbered commits (ps-gold's tables) ---- */

static const struct ps_pq_column ncols[] = {
	{ "x", PS_PQ_INT64, 0, 0 },
};

/* A numbered stage of ps-gold, stream "adm", with tables dim and fact
 * (fact refused without a log). */
static struct ps_stage *gold_stage(struct ps_error *e)
{
	static char *dirs[2];
	static struct ps_stage_table dt[2] = {
		{ NULL, ncols, 1, NULL, 0, -1, 0 },
		{ NULL, ncols, 1, NULL, 0, -1, 1 },
	};
	struct ps_stage_opts o = { NULL, "ps-gold", "adm", 0, NULL, 0, dt, 2,
				   1, 3600 * 1000 };

	free(dirs[0]);
	free(dirs[1]);
	dirs[0] = lpath("gold/dim");
	dirs[1] = lpath("gold/fact");
	dt[0].dir = dirs[0];
	dt[1].dir = dirs[1];
	o.lake = lake;
	return ps_stage_open(&o, e);
}

/* A new data file of table k (under sub) with a row, removing what rm
 * names (NULL: nothing, "*": every file). */
static char *put(struct ps_stage *st, size_t k, const char *sub,
		 const char *rm)
{
	struct ps_pq_options po = PS_PQ_OPTIONS_INIT;
	struct ps_error e = { 0, "" };
	struct ps_pq_writer *w;
	char *p, *slash;

	if (rm)
		ps_stage_remove(st, k, strcmp(rm, "*") ? rm : NULL);
	p = ps_stage_new_data(st, k, sub);
	slash = strrchr(p, '/');
	*slash = '\0';
	cr_assert_eq(ps_mkdir_p(p, 0755, &e), 0);
	*slash = '/';
	w = ps_pq_open(p, ncols, 1, &po, &e);
	cr_assert_not_null(w, "%s", e.msg);
	ps_pq_set_int64(w, 0, 1);
	cr_assert_eq(ps_pq_end_row(w, &e), 0);
	cr_assert_eq(ps_pq_close(w, &e), 0, "%s", e.msg);
	return p;
}

static void gsnap(const char *table, struct ps_delta_snapshot *s)
{
	struct ps_error e = { 0, "" };
	char *p = lpath(table);

	ps_delta_snapshot_release(s);
	cr_assert_eq(ps_delta_snapshot_load(p, -1, s, &e), 0, "%s", e.msg);
	free(p);
}

static void gcommit(struct ps_stage *st)
{
	struct ps_error e = { 0, "" };

	cr_assert_eq(ps_stage_commit(st, NULL, NULL, NULL, &e), 0, "%s",
		     e.msg);
}

/* The state is saved after every table's version, before the positions
 * (the commit point). */
static int state_after_tables(void *ctx, struct ps_error *e)
{
	struct ps_delta_snapshot s = PS_DELTA_SNAPSHOT_INIT;
	struct ps_checkpoint *cp = ps_checkpoint_new();

	(void)ctx;
	gsnap("gold/fact", &s);
	cr_assert_eq(ps_delta_txn_version(&s, "ps-gold/adm"), 1);
	cr_assert_eq(ps_checkpoint_load(cp, lake, "ps-gold", "adm", e), 0);
	cr_assert_eq(ps_checkpoint_count(cp), 0);
	ps_checkpoint_free(cp);
	ps_delta_snapshot_release(&s);
	emitted++;
	return 0;
}

Test(stage, numbered_tables_first_one_version_each, .init = mklake,
     .fini = rmlake)
{
	struct ps_delta_snapshot s = PS_DELTA_SNAPSHOT_INIT;
	struct ps_error e = { 0, "" };
	struct ps_checkpoint *cp = ps_checkpoint_new();
	struct ps_stage *st = gold_stage(&e);
	int k;

	cr_assert_not_null(st, "%s", e.msg);
	cr_assert(!exists("gold/dim/_delta_log"), "created by a commit");
	free(put(st, 0, NULL, "*"));
	free(put(st, 1, "day=1", "day=1"));
	ps_stage_set_position(st, "kafka:t/0", 9, 5);
	emitted = 0;
	cr_assert_eq(ps_stage_commit(st, state_after_tables, NULL, NULL, &e),
		     0, "%s", e.msg);
	cr_assert_eq(emitted, 1);
	cr_assert_eq(ps_checkpoint_load(cp, lake, "ps-gold", "adm", &e), 0);
	cr_assert_eq(ps_checkpoint_get(cp, "kafka:t/0", 9), 5);
	/* version 0 creates the table with the first commit */
	gsnap("gold/dim", &s);
	cr_assert_eq(s.version, 0);
	cr_assert_eq(s.nfiles, 1);
	/* a rewrite: remove + add in one version */
	for (k = 2; k <= 3; k++) {
		free(put(st, 0, NULL, "*"));
		gcommit(st);
	}
	gsnap("gold/dim", &s);
	cr_assert_eq(s.version, 2);
	cr_assert_eq(s.nfiles, 1);
	cr_assert_str_eq(s.files[0].path, "part-00000000000000000003.parquet");
	cr_assert_eq(s.nremoved, 2);
	cr_assert_eq(ps_delta_txn_version(&s, "ps-gold/adm"), 3);
	/* the fact, untouched, has a version per commit (the txn alone) */
	gsnap("gold/fact", &s);
	cr_assert_eq(s.version, 2);
	cr_assert_eq(s.nfiles, 1);
	cr_assert_eq(ps_delta_txn_version(&s, "ps-gold/adm"), 3);
	ps_delta_snapshot_release(&s);
	ps_checkpoint_free(cp);
	ps_stage_close(st);
}

/* A state file sealed with the commit's checkpoint (ps_stage_seal):
 * both durable in that one call, with the log directories of the two
 * tables' versions, then each put in place alone. */
static unsigned long long sealed_syncs;

static int state_sealed(void *ctx, struct ps_error *e)
{
	struct ps_stage *st = ctx;
	struct ps_afile f = PS_AFILE_INIT, *fp = &f;
	char *p = lpath("_state/ps-gold/adm.mine");
	unsigned long long syncs;

	cr_assert_eq(ps_afile_open(&f, p, 0644, e), 0, "%s", e->msg);
	cr_assert_eq(ps_afile_write(&f, "x", 1, e), 0);
	syncs = ps_fs_fsyncs();
	cr_assert_eq(ps_stage_seal(st, &fp, 1, e), 0, "%s", e->msg);
	/* neither in place yet (at the first commit: none before) */
	if (ps_fs_fsyncs() - syncs == 4) {
		cr_assert(!exists("_state/ps-gold/adm.json"));
		cr_assert(!exists("_state/ps-gold/adm.mine"));
	}
	sealed_syncs = ps_fs_fsyncs() - syncs;
	syncs = ps_fs_fsyncs();
	cr_assert_eq(ps_afile_commit(&f, e), 0, "%s", e->msg);
	cr_assert_eq(ps_fs_fsyncs() - syncs, 1, "its directory alone");
	free(p);
	return 0;
}

Test(stage, numbered_state_files_are_sealed_with_the_checkpoint,
     .init = mklake, .fini = rmlake)
{
	struct ps_error e = { 0, "" };
	struct ps_checkpoint *cp = ps_checkpoint_new();
	struct ps_stage *st = gold_stage(&e);
	unsigned long long syncs;

	cr_assert_not_null(st, "%s", e.msg);
	free(put(st, 0, NULL, "*"));
	ps_stage_set_position(st, "kafka:t/0", 9, 5);
	cr_assert_eq(ps_stage_commit(st, state_sealed, NULL, st, &e), 0, "%s",
		     e.msg);
	cr_assert_eq(sealed_syncs, 4, "the state file, the checkpoint and "
		     "the tables' log directories");
	cr_assert(exists("_state/ps-gold/adm.mine"));
	cr_assert_eq(ps_checkpoint_load(cp, lake, "ps-gold", "adm", &e), 0);
	cr_assert_eq(ps_checkpoint_get(cp, "kafka:t/0", 9), 5);
	/* without positions: no checkpoint to seal, the same commit */
	free(put(st, 0, NULL, "*"));
	syncs = ps_fs_fsyncs();
	cr_assert_eq(ps_stage_commit(st, state_sealed, NULL, st, &e), 0, "%s",
		     e.msg);
	cr_assert_eq(sealed_syncs, 3);
	cr_assert_gt(ps_fs_fsyncs(), syncs);
	/* without a save_state the log directories are synced alone */
	free(put(st, 0, NULL, "*"));
	syncs = ps_fs_fsyncs();
	gcommit(st);
	cr_assert_geq(ps_fs_fsyncs() - syncs, 2);
	ps_checkpoint_free(cp);
	ps_stage_close(st);
}

/* The fsyncs of a commit of one new fact file under sub (no state). */
static unsigned long long commit_syncs(struct ps_stage *st, const char *sub)
{
	unsigned long long syncs = ps_fs_fsyncs();

	free(put(st, 1, sub, NULL));
	gcommit(st);
	return ps_fs_fsyncs() - syncs;
}

/* The parent of the partitions (gold/fact) is synced by the commit that
 * made a partition, not again while no directory is made (the first
 * commit makes the tables' log directories after it). */
Test(stage, parents_synced_again_only_after_a_directory_is_made,
     .init = mklake, .fini = rmlake)
{
	struct ps_error e = { 0, "" };
	struct ps_stage *st = gold_stage(&e);
	unsigned long long second, same, made, again;

	cr_assert_not_null(st, "%s", e.msg);
	commit_syncs(st, "day=1");
	second = commit_syncs(st, "day=1");
	same = commit_syncs(st, "day=1");
	made = commit_syncs(st, "day=2");
	again = commit_syncs(st, "day=1");
	cr_assert_eq(second, same + 1, "the log directories were made");
	cr_assert_eq(made, same + 1, "gold/fact again: day=2 is new");
	cr_assert_eq(again, same);
	ps_stage_close(st);
	/* a new process syncs them once */
	st = gold_stage(&e);
	cr_assert_not_null(st, "%s", e.msg);
	cr_assert_eq(commit_syncs(st, "day=2"), same + 1);
	cr_assert_eq(commit_syncs(st, "day=2"), same);
	ps_stage_close(st);
}

/* A partition another process made (a shared table's other writer,
 * bronze in the quarantine) may not have its entry durable yet: a
 * commit into it syncs the parent again, though this process made no
 * directory. */
Test(stage, parents_synced_again_for_another_process_directory,
     .init = mklake, .fini = rmlake)
{
	struct ps_error e = { 0, "" };
	struct ps_stage *st = gold_stage(&e);
	unsigned long long same;
	char *other = lpath("gold/fact/day=7");

	cr_assert_not_null(st, "%s", e.msg);
	commit_syncs(st, "day=1");
	commit_syncs(st, "day=1");
	same = commit_syncs(st, "day=1");
	cr_assert_eq(mkdir(other, 0755), 0);	/* not through ps_mkdir_p */
	cr_assert_eq(commit_syncs(st, "day=7"), same + 1, "gold/fact again");
	cr_assert_eq(commit_syncs(st, "day=7"), same);
	cr_assert_eq(commit_syncs(st, "day=1"), same, "both known");
	ps_stage_close(st);
	free(other);
}

Test(stage, numbered_partitions_replace_only_their_files, .init = mklake,
     .fini = rmlake)
{
	struct ps_delta_snapshot s = PS_DELTA_SNAPSHOT_INIT;
	struct ps_error e = { 0, "" };
	struct ps_stage *st = gold_stage(&e);

	cr_assert_not_null(st, "%s", e.msg);
	free(put(st, 1, "day=1", "day=1"));
	free(put(st, 1, "day=2", "day=2"));
	gcommit(st);
	/* day 1 rewritten, day 2 emptied, day 3 new */
	free(put(st, 1, "day=1", "day=1"));
	ps_stage_remove(st, 1, "day=2");
	free(put(st, 1, "day=3", "day=3"));
	gcommit(st);
	gsnap("gold/fact", &s);
	cr_assert_eq(s.nfiles, 2);
	cr_assert_str_eq(s.files[0].path,
			 "day=1/part-00000000000000000002.parquet");
	cr_assert_str_eq(s.files[1].path,
			 "day=3/part-00000000000000000002.parquet");
	cr_assert_eq(s.nremoved, 2);
	ps_delta_snapshot_release(&s);
	ps_stage_close(st);
}

Test(stage, numbered_current_only_after_a_whole_commit_of_this_process,
     .init = mklake, .fini = rmlake)
{
	struct ps_error e = { 0, "" };
	struct ps_stage *st = gold_stage(&e);
	char *p;

	cr_assert_not_null(st, "%s", e.msg);
	cr_assert_eq(ps_stage_current(st, 0), 0);
	free(put(st, 0, NULL, "*"));
	gcommit(st);
	cr_assert_eq(ps_stage_current(st, 0), 1);
	cr_assert_eq(ps_stage_current(st, 1), 1);
	/* a commit that fails at its second table's log entry: the
	 * entries are all written before the first is linked, so none is
	 * committed; the number is used up, nothing is current */
	free(put(st, 0, NULL, "*"));
	p = put(st, 1, NULL, NULL);
	cr_assert_eq(unlink(p), 0);
	cr_assert_eq(ps_stage_commit(st, NULL, NULL, NULL, &e), -1);
	cr_assert_eq(e.code, PS_EX_NOINPUT, "%d %s", e.code, e.msg);
	free(p);
	cr_assert(!exists("gold/dim/part-00000000000000000002.parquet"));
	cr_assert(!exists("gold/dim/_delta_log/00000000000000000001.json"));
	cr_assert_eq(ps_stage_current(st, 0), 0);
	free(put(st, 1, NULL, NULL));
	gcommit(st);
	cr_assert(exists("gold/fact/part-00000000000000000003.parquet"));
	cr_assert(exists("gold/dim/_delta_log/00000000000000000001.json"));
	cr_assert_eq(ps_stage_current(st, 0), 1);
	ps_stage_close(st);
	/* a new process continues the numbers, knows nothing current */
	st = gold_stage(&e);
	cr_assert_not_null(st, "%s", e.msg);
	cr_assert_eq(ps_stage_current(st, 0), 0);
	p = put(st, 0, NULL, "*");
	cr_assert(strstr(p, "part-00000000000000000004.parquet"), "%s", p);
	free(p);
	ps_stage_close(st);
}

Test(stage, numbered_open_removes_files_no_version_references,
     .init = mklake, .fini = rmlake)
{
	struct ps_error e = { 0, "" };
	struct ps_stage *st = gold_stage(&e);

	cr_assert_not_null(st, "%s", e.msg);
	free(put(st, 0, NULL, "*"));
	free(put(st, 1, "day=1", "day=1"));
	gcommit(st);
	/* a commit that died after its data files: close aborts it */
	free(put(st, 0, NULL, "*"));
	ps_stage_close(st);
	cr_assert(!exists("gold/dim/part-00000000000000000002.parquet"));
	touch("gold/dim/part-00000000000000000002.parquet");
	touch("gold/fact/day=1/part-00000000000000000002.parquet");
	st = gold_stage(&e);
	cr_assert_not_null(st, "%s", e.msg);
	cr_assert(!exists("gold/dim/part-00000000000000000002.parquet"));
	cr_assert(!exists("gold/fact/day=1/part-00000000000000000002.parquet"));
	cr_assert(exists("gold/dim/part-00000000000000000001.parquet"));
	cr_assert(exists("gold/fact/day=1/part-00000000000000000001.parquet"));
	ps_stage_close(st);
}

/* gold/dim/NAME and gold/fact/day=1/NAME, with no Delta log. */
static void unlogged_files(const char *name)
{
	static const char *const dirs[] = { "gold/dim", "gold/fact/day=1" };
	struct ps_error e = { 0, "" };
	size_t i;

	for (i = 0; i < 2; i++) {
		char *p = lpath(dirs[i]);
		char rel[128];

		cr_assert_eq(ps_mkdir_p(p, 0755, &e), 0);
		free(p);
		snprintf(rel, sizeof(rel), "%s/%s", dirs[i], name);
		touch(rel);
	}
}

Test(stage, numbered_unlogged_files_refused_or_removed, .init = mklake,
     .fini = rmlake)
{
	struct ps_error e = { 0, "" };
	struct ps_stage *st;
	char *p;

	/* a first commit killed before any log: its files go, fact's too */
	unlogged_files("part-00000000000000000001.parquet");
	st = gold_stage(&e);
	cr_assert_not_null(st, "%s", e.msg);
	ps_stage_close(st);
	cr_assert(!exists("gold/dim/part-00000000000000000001.parquet"));
	cr_assert(!exists("gold/fact/day=1/part-00000000000000000001.parquet"));
	rmlake();
	mklake();
	/* dim of an older lake (its commit point, no log): its files go;
	 * fact: refused */
	unlogged_files("part-0.parquet");
	save_cp("ps-gold", "stdin:adm", 10);
	cr_assert_null(gold_stage(&e));
	cr_assert_eq(e.code, PS_EX_CONFIG);
	cr_assert(strstr(e.msg, "no Delta log"), "%s", e.msg);
	cr_assert(!exists("gold/dim/part-0.parquet"));
	/* one fed plain records: its state alone, no checkpoint */
	p = lpath("_state/ps-gold/adm.json");
	cr_assert_eq(unlink(p), 0);
	free(p);
	touch("_state/ps-gold/adm.snap");
	cr_assert_null(gold_stage(&e));
	cr_assert(strstr(e.msg, "no Delta log"), "%s", e.msg);
	p = lpath("gold/fact/day=1/part-0.parquet");
	cr_assert_eq(unlink(p), 0);
	free(p);
	st = gold_stage(&e);
	cr_assert_not_null(st, "%s", e.msg);
	ps_stage_close(st);
}

Test(lake, shared_writers_and_source_locks, .init = mklake, .fini = rmlake)
{
	struct ps_error e = { 0, "" };
	struct ps_lake_lock *a, *b, *s1;
	int status, died = -1;
	pid_t pid;

	/* shared holders coexist (flock: open file descriptions) */
	a = ps_lake_lock_mode(lake, "ps-silver", "adm", 0, 1, &e);
	cr_assert_not_null(a, "%s", e.msg);
	b = ps_lake_lock_mode(lake, "ps-silver", "adm", 0, 1, &e);
	cr_assert_not_null(b, "%s", e.msg);
	/* and exclude a single writer: 75 */
	cr_assert_null(ps_lake_lock(lake, "ps-silver", "adm", 0, &e));
	cr_assert_eq(e.code, 75);
	ps_lake_unlock(a);
	ps_lake_unlock(b);
	/* which, holding it, excludes them */
	a = ps_lake_lock(lake, "ps-silver", "adm", 0, &e);
	cr_assert_not_null(a, "%s", e.msg);
	cr_assert_null(ps_lake_lock_mode(lake, "ps-silver", "adm", 0, 1, &e));
	cr_assert_eq(e.code, 75);
	ps_lake_unlock(a);

	/* a source lock: another process gets 75 naming the holder */
	s1 = ps_lake_source_lock(lake, "ps-silver", "adm", "kafka:t/3", 9, 0,
				 &died, &e);
	cr_assert_not_null(s1, "%s", e.msg);
	cr_assert_eq(died, 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		struct ps_lake_lock *x;
		char want[64];
		int d;

		x = ps_lake_source_lock(lake, "ps-silver", "adm",
					"kafka:t/3", 9, 0, &d, &e);
		snprintf(want, sizeof(want), "(PID %ld)", (long)getppid());
		if (x || e.code != 75 || !strstr(e.msg, want) ||
		    !strstr(e.msg, "kafka:t/3"))
			_exit(1);
		/* another source is free */
		x = ps_lake_source_lock(lake, "ps-silver", "adm",
					"kafka:t/4", 9, 0, &d, &e);
		_exit(x && d == 0 ? 0 : 2);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert_eq(WEXITSTATUS(status), 0, "child: %d",
		     WEXITSTATUS(status));
	/* released cleanly: the next holder finds it empty */
	ps_lake_source_unlock(s1);
	s1 = ps_lake_source_lock(lake, "ps-silver", "adm", "kafka:t/3", 9, 0,
				 &died, &e);
	cr_assert_not_null(s1, "%s", e.msg);
	cr_assert_eq(died, 0);
	ps_lake_source_unlock(s1);
	/* a holder that dies holding it: the next one is told */
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		int d;

		_exit(ps_lake_source_lock(lake, "ps-silver", "adm",
					  "kafka:t/3", 9, 0, &d, &e) ? 0 : 1);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert_eq(WEXITSTATUS(status), 0);
	s1 = ps_lake_source_lock(lake, "ps-silver", "adm", "kafka:t/3", 9, 0,
				 &died, &e);
	cr_assert_not_null(s1, "%s", e.msg);
	cr_assert_eq(died, 1);
	ps_lake_source_unlock(s1);
}

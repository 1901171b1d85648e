/* test_delta.c - Delta Lake commits and log replay (lib/delta.h). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "delta.h"
#include "fsutil.h"
#include "parquet.h"
#include "banned.h"

static char dir[64];

static void mkdir_tmp(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test_delta.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void rm_tmp(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

static const struct ps_pq_column cols[] = {
	{ "id", PS_PQ_INT64, 0, 0 },
	{ "ts", PS_PQ_TIMESTAMP, 1, 0 },
	{ "day", PS_PQ_DATE, 0, 0 },
};

static void create(void)
{
	static const char *const part[] = { "day" };
	struct ps_delta_commit *c = ps_delta_commit_new("CREATE TABLE", -1);
	struct ps_error e = { 0 };
	int64_t v = -2;

	cr_assert_eq(ps_delta_commit_create(c, "id-1", cols, 3, part, 1,
					    1000, &e), 0, "%s", e.msg);
	cr_assert_eq(ps_delta_commit_write(dir, c, 1000, 10, &v, &e), 0,
		     "%s", e.msg);
	cr_assert_eq(v, 0);
	ps_delta_commit_free(c);
}

/* Write a data file "day=D/name" of n rows (ids from first). */
static void data_file(const char *name, int n, int64_t first)
{
	static const struct ps_pq_column dcols[] = {
		{ "id", PS_PQ_INT64, 0, 0 },
		{ "ts", PS_PQ_TIMESTAMP, 1, 0 },
	};
	char path[256];
	struct ps_error e = { 0 };
	struct ps_pq_writer *w;
	int i;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	w = ps_pq_open(path, dcols, 2, NULL, &e);
	cr_assert(w, "%s", e.msg);
	for (i = 0; i < n; i++) {
		ps_pq_set_int64(w, 0, first + i);
		if (i % 2)
			ps_pq_set_int64(w, 1, 1500 + i);	/* µs */
		cr_assert_eq(ps_pq_end_row(w, &e), 0, "%s", e.msg);
	}
	cr_assert_eq(ps_pq_close(w, &e), 0, "%s", e.msg);
}

/* Append file name with txn app=ver on top of read_version; returns the
 * committed version, or -1 with e filled. */
static int64_t append(const char *name, const char *app, int64_t ver,
		      int64_t read_version, int64_t now, struct ps_error *e)
{
	static const char *const k[] = { "day" }, *const val[] = {
		"2026-01-01" };
	struct ps_delta_commit *c = ps_delta_commit_new("WRITE", read_version);
	int64_t v = -1;
	int rc;

	cr_assert_eq(ps_delta_commit_add_file(c, dir, name, k, val, 1, 1, e),
		     0, "%s", e->msg);
	ps_delta_commit_txn(c, app, ver, now);
	rc = ps_delta_commit_write(dir, c, now, 10, &v, e);
	ps_delta_commit_free(c);
	return rc ? -1 : v;
}

Test(delta, commits_replay_files_txns_and_stats, .init = mkdir_tmp,
     .fini = rm_tmp)
{
	struct ps_delta_snapshot s = PS_DELTA_SNAPSHOT_INIT;
	struct ps_error e = { 0 };
	char p[256];
	struct stat st;

	create();
	snprintf(p, sizeof(p), "%s/day=2026-01-01", dir);
	mkdir(p, 0755);
	data_file("day=2026-01-01/a.parquet", 4, 10);
	data_file("day=2026-01-01/b.parquet", 2, 20);
	cr_assert_eq(append("day=2026-01-01/a.parquet", "silver:s/0", 7, 0,
			    2000, &e), 1, "%s", e.msg);
	cr_assert_eq(append("day=2026-01-01/b.parquet", "silver:s/0", 9, 1,
			    3000, &e), 2, "%s", e.msg);
	cr_assert_eq(ps_delta_snapshot_load(dir, -1, &s, &e), 0, "%s", e.msg);
	cr_assert_eq(s.version, 2);
	cr_assert_eq(s.timestamp_ms, 3000);
	cr_assert_eq(s.min_reader, 1);
	cr_assert_eq(s.min_writer, 2);
	cr_assert_str_eq(s.table_id, "id-1");
	cr_assert_eq(s.npart, 1);
	cr_assert_eq(s.nfiles, 2);
	cr_assert_str_eq(s.files[0].path, "day=2026-01-01/a.parquet");
	snprintf(p, sizeof(p), "%s/%s", dir, s.files[0].path);
	cr_assert_eq(stat(p, &st), 0);
	cr_assert_eq(s.files[0].size, st.st_size);
	cr_assert_str_eq(s.files[0].pv_keys[0], "day");
	cr_assert_str_eq(s.files[0].pv_vals[0], "2026-01-01");
	/* partition columns are not in the stats; timestamps to the ms,
	 * the maximum rounded up */
	cr_assert_str_eq(s.files[0].stats, "{\"numRecords\":4,"
			 "\"minValues\":{\"id\":10,\"ts\":"
			 "\"1970-01-01T00:00:00.001Z\"},\"maxValues\":{\"id\":13,"
			 "\"ts\":\"1970-01-01T00:00:00.002Z\"},\"nullCount\":"
			 "{\"id\":0,\"ts\":2}}");
	cr_assert_eq(ps_delta_txn_version(&s, "silver:s/0"), 9);
	cr_assert_eq(ps_delta_txn_version(&s, "silver:s/1"), -1);
	/* time travel by version */
	cr_assert_eq(ps_delta_snapshot_load(dir, 1, &s, &e), 0, "%s", e.msg);
	cr_assert_eq(s.nfiles, 1);
	cr_assert_eq(ps_delta_txn_version(&s, "silver:s/0"), 7);
	cr_assert_eq(ps_delta_snapshot_load(dir, 3, &s, &e), -1);
	cr_assert_eq(e.code, PS_EX_NOINPUT);
	ps_delta_snapshot_release(&s);
}

Test(delta, no_table_is_version_minus_one, .init = mkdir_tmp, .fini = rm_tmp)
{
	struct ps_delta_snapshot s = PS_DELTA_SNAPSHOT_INIT;
	struct ps_error e = { 0 };
	int64_t v;

	cr_assert_eq(ps_delta_snapshot_load(dir, -1, &s, &e), 0);
	cr_assert_eq(s.version, -1);
	cr_assert_eq(ps_delta_latest_version(dir, &v, &e), 0);
	cr_assert_eq(v, -1);
	cr_assert_eq(ps_delta_version_at(dir, 5, &v, &e), -1);
	cr_assert_eq(e.code, PS_EX_NOINPUT);
}

/* Put a foreign commit file at version v. */
static void foreign(int64_t v, const char *text)
{
	char p[256];
	struct ps_error e = { 0 };

	snprintf(p, sizeof(p), "%s/_delta_log/%020lld.json", dir,
		 (long long)v);
	cr_assert_eq(ps_write_file_atomic(p, text, strlen(text), 0644, &e), 0);
}

/* The table with data files a.parquet and b.parquet of day 2026-01-01
 * (one row each), in no version yet. */
static void two_files(void)
{
	char p[256];

	create();
	snprintf(p, sizeof(p), "%s/day=2026-01-01", dir);
	mkdir(p, 0755);
	data_file("day=2026-01-01/a.parquet", 1, 1);
	data_file("day=2026-01-01/b.parquet", 1, 2);
}

Test(delta, a_lost_race_retries_or_fails_on_a_clash, .init = mkdir_tmp,
     .fini = rm_tmp)
{
	struct ps_delta_snapshot s = PS_DELTA_SNAPSHOT_INIT;
	struct ps_error e = { 0 };
	char p[256];

	two_files();
	/* version 1: another source appended: no clash, we get 2 */
	foreign(1, "{\"txn\":{\"appId\":\"other\",\"version\":3}}\n");
	cr_assert_eq(append("day=2026-01-01/a.parquet", "mine", 5, 0, 2000,
			    &e), 2, "%s", e.msg);
	/* version 3: someone committed "mine": we must not double it */
	foreign(3, "{\"txn\":{\"appId\":\"mine\",\"version\":6}}\n");
	cr_assert_eq(append("day=2026-01-01/b.parquet", "mine", 6, 2, 3000,
			    &e), -1);
	cr_assert_eq(e.code, PS_EX_TEMPFAIL);
	cr_assert(strstr(e.msg, "conflict"), "%s", e.msg);
	/* the version file was not replaced, none was added */
	snprintf(p, sizeof(p), "%s/_delta_log/%020d.json", dir, 4);
	cr_assert_neq(access(p, F_OK), 0);
	cr_assert_eq(ps_delta_snapshot_load(dir, -1, &s, &e), 0, "%s", e.msg);
	cr_assert_eq(s.version, 3);
	cr_assert_eq(ps_delta_txn_version(&s, "mine"), 6);
	cr_assert_eq(ps_delta_txn_version(&s, "other"), 3);
	cr_assert_eq(s.nfiles, 1);
	/* a metadata change conflicts with any commit */
	foreign(4, "{\"metaData\":{\"id\":\"x\",\"schemaString\":\"{}\","
		"\"partitionColumns\":[],\"format\":{\"provider\":"
		"\"parquet\"}}}\n");
	cr_assert_eq(append("day=2026-01-01/b.parquet", "third", 1, 3, 4000,
			    &e), -1);
	cr_assert(strstr(e.msg, "metadata"), "%s", e.msg);
	ps_delta_snapshot_release(&s);
}

/* How many names in the log of the table start with '.'. */
static int log_temps(void)
{
	char p[256];
	DIR *d;
	struct dirent *de;
	int n = 0;

	snprintf(p, sizeof(p), "%s/_delta_log", dir);
	cr_assert_not_null(d = opendir(p));
	while ((de = readdir(d)))
		n += de->d_name[0] == '.' && strcmp(de->d_name, ".") &&
		     strcmp(de->d_name, "..");
	closedir(d);
	return n;
}

/* A commit of file name (txn mine=ver) on read_version, staged. */
static struct ps_delta_commit *staged(const char *name, int64_t ver,
				      int64_t read_version)
{
	static const char *const k[] = { "day" }, *const val[] = {
		"2026-01-01" };
	struct ps_delta_commit *c = ps_delta_commit_new("WRITE", read_version);
	struct ps_error e = { 0 };

	cr_assert_eq(ps_delta_commit_add_file(c, dir, name, k, val, 1, 1, &e),
		     0, "%s", e.msg);
	ps_delta_commit_txn(c, "mine", ver, 2000);
	ps_delta_commit_defer_dir_sync(c);
	cr_assert_eq(ps_delta_commit_stage(dir, c, 2000, &e), 0, "%s", e.msg);
	return c;
}

Test(delta, a_staged_entry_is_sealed_apart_then_linked_or_moves_on,
     .init = mkdir_tmp, .fini = rm_tmp)
{
	struct ps_delta_snapshot s = PS_DELTA_SNAPSHOT_INIT;
	struct ps_delta_commit *c[2];
	struct ps_error e = { 0 };
	unsigned long long syncs;
	int64_t v = -1;

	two_files();
	c[0] = staged("day=2026-01-01/a.parquet", 1, 0);
	c[1] = NULL;
	cr_assert_eq(log_temps(), 1);
	cr_assert_eq(ps_delta_snapshot_load(dir, -1, &s, &e), 0, "%s", e.msg);
	cr_assert_eq(s.version, 0, "a staged entry is not a version");
	syncs = ps_fs_fsyncs();
	cr_assert_eq(ps_delta_commit_seal_staged(c, 2, &e), 0, "%s", e.msg);
	cr_assert_eq(ps_fs_fsyncs() - syncs, 1);
	syncs = ps_fs_fsyncs();
	cr_assert_eq(ps_delta_commit_write(dir, c[0], 2000, 0, &v, &e), 0,
		     "%s", e.msg);
	cr_assert_eq(ps_fs_fsyncs() - syncs, 0, "sealed: linked alone");
	cr_assert_eq(v, 1);
	cr_assert_eq(log_temps(), 0);
	ps_delta_commit_free(c[0]);
	/* another writer took the staged version: the next one, synced
	 * (its entry first: in this process, its temporary name would be
	 * the staged one's) */
	foreign(2, "{\"txn\":{\"appId\":\"other\",\"version\":1}}\n");
	c[0] = staged("day=2026-01-01/b.parquet", 2, 1);
	cr_assert_eq(ps_delta_commit_seal_staged(c, 1, &e), 0, "%s", e.msg);
	syncs = ps_fs_fsyncs();
	cr_assert_eq(ps_delta_commit_write(dir, c[0], 2000, 0, &v, &e), 0,
		     "%s", e.msg);
	cr_assert_eq(v, 3);
	cr_assert_eq(ps_fs_fsyncs() - syncs, 1, "version 3's own entry");
	ps_delta_commit_free(c[0]);
	/* one never committed is removed with its commit */
	c[0] = staged("day=2026-01-01/b.parquet", 3, 3);
	cr_assert_eq(log_temps(), 1);
	ps_delta_commit_free(c[0]);
	cr_assert_eq(log_temps(), 0);
	cr_assert_eq(ps_delta_snapshot_load(dir, -1, &s, &e), 0, "%s", e.msg);
	cr_assert_eq(s.version, 3);
	cr_assert_eq(s.nfiles, 2);
	cr_assert_eq(ps_delta_txn_version(&s, "mine"), 2);
	ps_delta_snapshot_release(&s);
}

Test(delta, concurrent_creation_of_the_same_table_appends, .init = mkdir_tmp,
     .fini = rm_tmp)
{
	static const char *const part[] = { "day" };
	struct ps_delta_commit *c;
	struct ps_error e = { 0 };
	int64_t v;

	create();
	c = ps_delta_commit_new("CREATE TABLE", -1);
	cr_assert_eq(ps_delta_commit_create(c, NULL, cols, 3, part, 1, 5, &e),
		     0);
	ps_delta_commit_txn(c, "late", 1, 5);
	cr_assert_eq(ps_delta_commit_write(dir, c, 5, 10, &v, &e), 0, "%s",
		     e.msg);
	cr_assert_eq(v, 1);
	ps_delta_commit_free(c);
	/* another schema: refused */
	c = ps_delta_commit_new("CREATE TABLE", -1);
	cr_assert_eq(ps_delta_commit_create(c, NULL, cols, 2, NULL, 0, 5, &e),
		     0);
	cr_assert_eq(ps_delta_commit_write(dir, c, 5, 10, &v, &e), -1);
	cr_assert(strstr(e.msg, "another schema"), "%s", e.msg);
	ps_delta_commit_free(c);
	/* a partition column must be a column */
	c = ps_delta_commit_new("CREATE TABLE", -1);
	cr_assert_eq(ps_delta_commit_create(c, NULL, cols, 3,
					    (const char *const[]){ "nope" }, 1,
					    5, &e), -1);
	cr_assert_eq(e.code, PS_EX_USAGE);
	ps_delta_commit_free(c);
}

Test(delta, checkpoint_gives_the_same_snapshot, .init = mkdir_tmp,
     .fini = rm_tmp)
{
	struct ps_delta_snapshot a = PS_DELTA_SNAPSHOT_INIT;
	struct ps_delta_snapshot b = PS_DELTA_SNAPSHOT_INIT;
	struct ps_delta_commit *c;
	struct ps_error e = { 0 };
	char p[256], name[64];
	int i;
	int64_t v;
	size_t k;

	create();
	snprintf(p, sizeof(p), "%s/day=2026-01-01", dir);
	mkdir(p, 0755);
	for (i = 1; i <= 9; i++) {
		snprintf(name, sizeof(name), "day=2026-01-01/f %d%%.parquet",
			 i);
		data_file(name, i, i * 100);
		cr_assert_eq(append(name, i % 2 ? "odd" : "even", i, i - 1,
				    1000 * i, &e), i, "%s", e.msg);
	}
	/* version 10 removes a file: a tombstone in the checkpoint */
	cr_assert_eq(ps_delta_snapshot_load(dir, -1, &a, &e), 0);
	c = ps_delta_commit_new("DELETE", 9);
	ps_delta_commit_remove(c, &a.files[0], 10000, 1);
	cr_assert_eq(ps_delta_commit_write(dir, c, 10000, 10, &v, &e), 0,
		     "%s", e.msg);
	ps_delta_commit_free(c);
	cr_assert_eq(v, 10);
	snprintf(p, sizeof(p), "%s/_delta_log/%020d.checkpoint.parquet", dir,
		 10);
	cr_assert_eq(access(p, F_OK), 0);
	cr_assert_eq(ps_delta_snapshot_load(dir, -1, &a, &e), 0, "%s", e.msg);
	cr_assert_eq(a.checkpoint, 10);
	cr_assert_eq(a.timestamp_ms, 10000);
	/* the same state from the JSON commits alone */
	cr_assert_eq(unlink(p), 0);
	cr_assert_eq(ps_delta_snapshot_load(dir, -1, &b, &e), 0, "%s", e.msg);
	cr_assert_eq(b.checkpoint, -1);
	cr_assert_eq(a.nfiles, 8);
	cr_assert_eq(a.nfiles, b.nfiles);
	cr_assert_eq(a.nremoved, 1);
	cr_assert_eq(b.nremoved, 1);
	cr_assert_str_eq(a.removed[0].path, b.removed[0].path);
	for (k = 0; k < a.nfiles; k++) {
		cr_assert_str_eq(a.files[k].path, b.files[k].path);
		cr_assert_eq(a.files[k].size, b.files[k].size);
		cr_assert_eq(a.files[k].mtime_ms, b.files[k].mtime_ms);
		cr_assert_str_eq(a.files[k].stats, b.files[k].stats);
	}
	/* paths with a space and '%' survive the URI encoding */
	cr_assert(strchr(a.files[0].path, ' ') &&
		  strchr(a.files[0].path, '%'), "%s", a.files[0].path);
	cr_assert_eq(ps_delta_txn_version(&a, "odd"), 9);
	cr_assert_eq(ps_delta_txn_version(&a, "even"), 8);
	cr_assert_eq(ps_delta_txn_version(&b, "odd"), 9);
	cr_assert_str_eq(a.table_id, b.table_id);
	cr_assert_str_eq(a.schema_string, b.schema_string);
	cr_assert_eq(ps_delta_version_at(dir, 4500, &v, &e), 0);
	cr_assert_eq(v, 4);
	cr_assert_eq(ps_delta_version_at(dir, 999, &v, &e), -1);
	ps_delta_snapshot_release(&a);
	ps_delta_snapshot_release(&b);
}

Test(delta, bad_logs_are_refused, .init = mkdir_tmp, .fini = rm_tmp)
{
	struct ps_delta_snapshot s = PS_DELTA_SNAPSHOT_INIT;
	struct ps_error e = { 0 };
	char p[256];

	create();
	foreign(1, "{\"txn\":{\"appId\":\"a\",\"version\":1}}\n");
	foreign(2, "{\"txn\":{\"appId\":\"a\",\"version\":2}}\n");
	/* a gap */
	snprintf(p, sizeof(p), "%s/_delta_log/%020d.json", dir, 1);
	cr_assert_eq(unlink(p), 0);
	cr_assert_eq(ps_delta_snapshot_load(dir, -1, &s, &e), -1);
	cr_assert_eq(e.code, PS_EX_DATAERR);
	cr_assert(strstr(e.msg, "version 1 is missing"), "%s", e.msg);
	/* a protocol this reader does not implement */
	foreign(1, "{\"protocol\":{\"minReaderVersion\":3,"
		"\"minWriterVersion\":7,\"readerFeatures\":"
		"[\"deletionVectors\"]}}\n");
	cr_assert_eq(ps_delta_snapshot_load(dir, -1, &s, &e), -1);
	cr_assert(strstr(e.msg, "reader version 3"), "%s", e.msg);
	/* bad JSON, and an add without a size */
	foreign(1, "{\"add\":{\"path\":\"x\"");
	cr_assert_eq(ps_delta_snapshot_load(dir, -1, &s, &e), -1);
	cr_assert_eq(e.code, PS_EX_DATAERR);
	foreign(1, "{\"add\":{\"path\":\"x\",\"partitionValues\":{}}}");
	cr_assert_eq(ps_delta_snapshot_load(dir, -1, &s, &e), -1);
	cr_assert(strstr(e.msg, "without size"), "%s", e.msg);
	/* version 0 alone still reads */
	cr_assert_eq(ps_delta_snapshot_load(dir, 0, &s, &e), 0, "%s", e.msg);
	ps_delta_snapshot_release(&s);
}

Test(delta, schema_string_is_spark_style)
{
	struct ps_buf b = PS_BUF_INIT;

	ps_delta_schema_string(cols, 3, &b);
	ps_buf_addc(&b, '\0');
	cr_assert_str_eq(b.data, "{\"type\":\"struct\",\"fields\":["
			 "{\"name\":\"id\",\"type\":\"long\",\"nullable\":false,"
			 "\"metadata\":{}},{\"name\":\"ts\",\"type\":"
			 "\"timestamp\",\"nullable\":true,\"metadata\":{}},"
			 "{\"name\":\"day\",\"type\":\"date\",\"nullable\":"
			 "false,\"metadata\":{}}]}");
	ps_buf_release(&b);
}

Test(delta, compaction_and_vacuum, .init = mkdir_tmp, .fini = rm_tmp)
{
	struct ps_delta_snapshot s = PS_DELTA_SNAPSHOT_INIT;
	struct ps_delta_maint m;
	struct ps_error e = { 0 };
	struct timespec old[2] = { { 1000, 0 }, { 1000, 0 } };
	char p[256], name[64];
	int64_t rows = 0;
	size_t k;
	int i;

	create();
	snprintf(p, sizeof(p), "%s/day=2026-01-01", dir);
	mkdir(p, 0755);
	for (i = 1; i <= 4; i++) {
		snprintf(name, sizeof(name), "day=2026-01-01/p%d.parquet", i);
		data_file(name, i, i * 10);
		cr_assert_eq(append(name, "s", i, i - 1, 1000 * i, &e), i,
			     "%s", e.msg);
	}
	cr_assert_eq(ps_delta_compact(dir, 1 << 20, 5000, &m, &e), 0, "%s",
		     e.msg);
	cr_assert_eq(m.files_in, 4);
	cr_assert_eq(m.files_out, 1);
	cr_assert_eq(m.version, 5);
	cr_assert_eq(ps_delta_snapshot_load(dir, -1, &s, &e), 0, "%s", e.msg);
	cr_assert_eq(s.nfiles, 1);
	cr_assert_eq(s.files[0].data_change, 0);
	cr_assert(strstr(s.files[0].stats, "\"numRecords\":10,"), "%s",
		  s.files[0].stats);
	cr_assert_eq(ps_delta_txn_version(&s, "s"), 4);
	cr_assert_eq(s.nremoved, 4);
	for (k = 0; k < s.nremoved; k++)
		cr_assert_eq(s.removed[k].data_change, 0);
	rows = 0;
	/* nothing more to compact: no commit */
	cr_assert_eq(ps_delta_compact(dir, 1 << 20, 6000, &m, &e), 0);
	cr_assert_eq(m.version, -1);
	/* an old stray file (a killed writer's) goes, a young one stays;
	 * removed files stay while their removal is within the retention */
	snprintf(p, sizeof(p), "%s/day=2026-01-01/stray-old.parquet", dir);
	cr_assert_eq(ps_write_file_atomic(p, "x", 1, 0644, &e), 0);
	cr_assert_eq(utimensat(AT_FDCWD, p, old, 0), 0);
	snprintf(p, sizeof(p), "%s/day=2026-01-01/stray-young.parquet", dir);
	cr_assert_eq(ps_write_file_atomic(p, "y", 1, 0644, &e), 0);
	cr_assert_eq(ps_delta_vacuum(dir, 3600 * 1000,
				     (int64_t)time(NULL) * 1000, 0, NULL, NULL,
				     &m, &e), 0, "%s", e.msg);
	cr_assert_eq(m.deleted, 1);
	snprintf(p, sizeof(p), "%s/day=2026-01-01/stray-old.parquet", dir);
	cr_assert_neq(access(p, F_OK), 0);
	snprintf(p, sizeof(p), "%s/day=2026-01-01/stray-young.parquet", dir);
	cr_assert_eq(access(p, F_OK), 0);
	/* past every retention: the removed files and the young stray go,
	 * the active file and the log stay */
	cr_assert_eq(ps_delta_vacuum(dir, 0, (int64_t)time(NULL) * 1000 +
				     60000, 0, NULL, NULL, &m, &e), 0, "%s",
		     e.msg);
	cr_assert_eq(m.deleted, 5);
	snprintf(p, sizeof(p), "%s/%s", dir, s.files[0].path);
	cr_assert_eq(access(p, F_OK), 0);
	cr_assert_eq(ps_delta_snapshot_load(dir, -1, &s, &e), 0, "%s", e.msg);
	for (k = 0; k < s.nfiles; k++)
		rows += s.files[k].size > 0;
	cr_assert_eq(rows, 1);
	ps_delta_snapshot_release(&s);
}

Test(delta, update_applies_only_the_new_commits, .init = mkdir_tmp,
     .fini = rm_tmp)
{
	struct ps_delta_snapshot a = PS_DELTA_SNAPSHOT_INIT;
	struct ps_delta_snapshot b = PS_DELTA_SNAPSHOT_INIT;
	struct ps_delta_commit *c;
	struct ps_error e = { 0 };
	char p[256], name[64];
	int64_t v;
	size_t k;
	int i;

	create();
	snprintf(p, sizeof(p), "%s/day=2026-01-01", dir);
	mkdir(p, 0755);
	for (i = 1; i <= 3; i++) {
		snprintf(name, sizeof(name), "day=2026-01-01/u%d.parquet", i);
		data_file(name, 1, i);
		cr_assert_eq(append(name, "x", i, i - 1, 1000 * i, &e), i);
	}
	cr_assert_eq(ps_delta_snapshot_load(dir, -1, &a, &e), 0, "%s", e.msg);
	cr_assert_eq(ps_delta_snapshot_update(dir, &a, &e), 0);
	cr_assert_eq(a.version, 3);
	/* another writer: 9 appends (a checkpoint at 10), a removal */
	for (i = 4; i <= 12; i++) {
		snprintf(name, sizeof(name), "day=2026-01-01/u%d.parquet", i);
		data_file(name, 1, i);
		cr_assert_eq(append(name, i % 2 ? "x" : "y", i, i - 1,
				    1000 * i, &e), i, "%s", e.msg);
	}
	cr_assert_eq(ps_delta_snapshot_load(dir, -1, &b, &e), 0);
	c = ps_delta_commit_new("DELETE", 12);
	ps_delta_commit_remove(c, &b.files[0], 13000, 1);
	cr_assert_eq(ps_delta_commit_write(dir, c, 13000, 10, &v, &e), 0);
	ps_delta_commit_free(c);
	cr_assert_eq(ps_delta_snapshot_update(dir, &a, &e), 0, "%s", e.msg);
	cr_assert_eq(ps_delta_snapshot_load(dir, -1, &b, &e), 0);
	cr_assert_eq(a.version, 13);
	cr_assert_eq(a.timestamp_ms, 13000);
	cr_assert_eq(a.nfiles, b.nfiles);
	cr_assert_eq(a.nfiles, 11);
	cr_assert_eq(a.nremoved, 1);
	for (k = 0; k < a.nfiles; k++)
		cr_assert_str_eq(a.files[k].path, b.files[k].path);
	cr_assert_eq(ps_delta_txn_version(&a, "x"), 11);
	cr_assert_eq(ps_delta_txn_version(&a, "y"), 12);
	/* a gap in the log is an error, as for a full load */
	cr_assert_eq(ps_delta_snapshot_load(dir, 11, &a, &e), 0);
	foreign(14, "{\"txn\":{\"appId\":\"z\",\"version\":1}}\n");
	snprintf(p, sizeof(p), "%s/_delta_log/%020d.json", dir, 12);
	cr_assert_eq(unlink(p), 0);
	cr_assert_eq(ps_delta_snapshot_update(dir, &a, &e), -1);
	cr_assert(strstr(e.msg, "version 12 is missing"), "%s", e.msg);
	cr_assert_eq(a.version, -1);
	ps_delta_snapshot_release(&a);
	ps_delta_snapshot_release(&b);
}

/* Set the modification time of log file version v (suffix) to t s. */
static void log_age(int64_t v, const char *suffix, time_t t)
{
	struct timespec ts[2] = { { t, 0 }, { t, 0 } };
	char p[256];

	snprintf(p, sizeof(p), "%s/_delta_log/%020lld%s", dir, (long long)v,
		 suffix);
	cr_assert_eq(utimensat(AT_FDCWD, p, ts, 0), 0, "%s", p);
}

Test(delta, log_cleanup_keeps_the_checkpoint_before_the_cutoff,
     .init = mkdir_tmp, .fini = rm_tmp)
{
	struct ps_delta_snapshot s = PS_DELTA_SNAPSHOT_INIT;
	struct ps_delta_maint m;
	struct ps_error e = { 0 };
	char p[256], name[64];
	time_t now = time(NULL), old = now - 40 * 86400;
	int64_t v;
	int i;

	create();
	snprintf(p, sizeof(p), "%s/day=2026-01-01", dir);
	mkdir(p, 0755);
	for (i = 1; i <= 25; i++) {
		snprintf(name, sizeof(name), "day=2026-01-01/p%d.parquet", i);
		data_file(name, 1, i);
		cr_assert_eq(append(name, "s", i, i - 1, 1000 * i, &e), i,
			     "%s", e.msg);
	}
	/* versions 0..14 are 40 days old but 13, which makes 14 young too
	 * (times are made monotonic); 15..25 are new */
	for (v = 0; v <= 14; v++)
		log_age(v, ".json", v == 13 ? now : old);
	log_age(10, ".checkpoint.parquet", old);
	/* nothing is expired under a retention of 100 days */
	cr_assert_eq(ps_delta_log_cleanup(dir, 100LL * 86400000,
					  (int64_t)now * 1000, 0, &m, &e), 0,
		     "%s", e.msg);
	cr_assert_eq(m.deleted, 0);
	/* 30 days: the cutoff commit is 12 (13 is young), so checkpoint
	 * 10 is kept with everything after it; dry run first */
	cr_assert_eq(ps_delta_log_cleanup(dir, 30LL * 86400000,
					  (int64_t)now * 1000, 1, &m, &e), 0,
		     "%s", e.msg);
	cr_assert_eq(m.deleted, 10);
	cr_assert_eq(m.version, 10);
	snprintf(p, sizeof(p), "%s/_delta_log/%020d.json", dir, 0);
	cr_assert_eq(access(p, F_OK), 0);
	cr_assert_eq(ps_delta_log_cleanup(dir, 30LL * 86400000,
					  (int64_t)now * 1000, 0, &m, &e), 0,
		     "%s", e.msg);
	cr_assert_eq(m.deleted, 10);
	cr_assert_neq(access(p, F_OK), 0);
	snprintf(p, sizeof(p), "%s/_delta_log/%020d.json", dir, 10);
	cr_assert_eq(access(p, F_OK), 0);
	snprintf(p, sizeof(p), "%s/_delta_log/%020d.checkpoint.parquet",
		 dir, 10);
	cr_assert_eq(access(p, F_OK), 0);
	/* every version left reads; an earlier one fails clearly */
	for (v = 10; v <= 25; v++) {
		cr_assert_eq(ps_delta_snapshot_load(dir, v, &s, &e), 0,
			     "%lld: %s", (long long)v, e.msg);
		cr_assert_eq(s.nfiles, (size_t)v);
		cr_assert_eq(ps_delta_txn_version(&s, "s"), v);
	}
	cr_assert_eq(ps_delta_snapshot_load(dir, 9, &s, &e), -1);
	cr_assert_eq(e.code, PS_EX_NOINPUT);
	cr_assert(strstr(e.msg, "version 9 is no longer in the log"), "%s",
		  e.msg);
	cr_assert(strstr(e.msg, "oldest version left is 10"), "%s", e.msg);
	/* the latest checkpoint (20) is never touched, even when all is
	 * expired; the commits before it go */
	cr_assert_eq(ps_delta_log_cleanup(dir, 3600000, (int64_t)now * 1000 +
					  3LL * 86400000, 0, &m, &e), 0,
		     "%s", e.msg);
	cr_assert_eq(m.version, 20);
	cr_assert_eq(m.deleted, 11);	/* 10..19 and checkpoint 10 */
	cr_assert_eq(ps_delta_snapshot_load(dir, -1, &s, &e), 0, "%s", e.msg);
	cr_assert_eq(s.version, 25);
	cr_assert_eq(s.nfiles, 25);
	ps_delta_snapshot_release(&s);
}

/* test_gold_delta.c - ps-gold's tables as Delta tables (lib/gold_delta.h). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "delta.h"
#include "error.h"
#include "fsutil.h"
#include "gold_delta.h"
#include "kpi.h"
#include "banned.h"

static char dir[64];

static void mkdir_tmp(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test_gold_delta.XXXXXX");
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
};

/* A new data file of table name (under sub) with n rows. */
static void put(struct ps_gold_delta *d, const char *name, const char *sub,
		int n)
{
	struct ps_error e = { 0 };
	struct ps_table t;
	char *p = ps_gold_delta_file(d, name, sub);
	int i;

	ps_table_init(&t, name, cols, 1);
	for (i = 0; i < n; i++)
		ps_table_set_i(&t, ps_table_add_row(&t), 0, i);
	cr_assert_eq(ps_table_write_parquet(&t, p, PS_PQ_UNCOMPRESSED, &e), 0, "%s",
		     e.msg);
	ps_table_release(&t);
	free(p);
}

static void snap(const char *name, struct ps_delta_snapshot *s)
{
	struct ps_error e = { 0 };
	char p[128];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	ps_delta_snapshot_release(s);
	cr_assert_eq(ps_delta_snapshot_load(p, -1, s, &e), 0, "%s", e.msg);
}

static struct ps_gold_delta *open_gold(void)
{
	struct ps_error e = { 0 };
	struct ps_gold_delta *d = ps_gold_delta_open(dir, "adm", "fact",
						     3600 * 1000, &e);

	cr_assert_not_null(d, "%s", e.msg);
	return d;
}

static void commit(struct ps_gold_delta *d)
{
	struct ps_error e = { 0 };

	cr_assert_eq(ps_gold_delta_commit(d, 1000, NULL, NULL, &e), 0, "%s",
		     e.msg);
}

TestSuite(gold_delta, .init = mkdir_tmp, .fini = rm_tmp);

Test(gold_delta, rewrite_replaces_the_whole_table_in_one_version)
{
	struct ps_delta_snapshot s = PS_DELTA_SNAPSHOT_INIT;
	struct ps_gold_delta *d = open_gold();
	int k;

	cr_assert_eq(ps_gold_delta_next(d), 1);
	for (k = 1; k <= 2; k++) {
		ps_gold_delta_table(d, "dim", cols, 1, PS_GOLD_DELTA_REWRITE);
		put(d, "dim", NULL, 3 + k);
		commit(d);
	}
	snap("dim", &s);
	cr_assert_eq(s.version, 1);
	cr_assert_eq(s.nfiles, 1);
	cr_assert_str_eq(s.files[0].path, "part-00000000000000000002.parquet");
	cr_assert_eq(s.nremoved, 1);
	cr_assert_eq(ps_delta_txn_version(&s, "ps-gold/adm"), 2);
	ps_delta_snapshot_release(&s);
	ps_gold_delta_free(d);
}

Test(gold_delta, partitions_replace_only_their_files)
{
	struct ps_delta_snapshot s = PS_DELTA_SNAPSHOT_INIT;
	struct ps_gold_delta *d = open_gold();

	ps_gold_delta_table(d, "fact", cols, 1, PS_GOLD_DELTA_PARTITIONS);
	ps_gold_delta_replace(d, "fact", "day=1");
	put(d, "fact", "day=1", 2);
	ps_gold_delta_replace(d, "fact", "day=2");
	put(d, "fact", "day=2", 2);
	commit(d);
	/* day 1 rewritten, day 2 emptied, day 3 new */
	ps_gold_delta_table(d, "fact", cols, 1, PS_GOLD_DELTA_PARTITIONS);
	ps_gold_delta_replace(d, "fact", "day=1");
	put(d, "fact", "day=1", 5);
	ps_gold_delta_replace(d, "fact", "day=2");
	ps_gold_delta_replace(d, "fact", "day=3");
	put(d, "fact", "day=3", 1);
	commit(d);
	snap("fact", &s);
	cr_assert_eq(s.nfiles, 2);
	cr_assert_str_eq(s.files[0].path,
			 "day=1/part-00000000000000000002.parquet");
	cr_assert_str_eq(s.files[1].path,
			 "day=3/part-00000000000000000002.parquet");
	cr_assert_eq(s.nremoved, 2);
	/* a commit with no change: the txn alone */
	ps_gold_delta_table(d, "fact", cols, 1, PS_GOLD_DELTA_PARTITIONS);
	commit(d);
	snap("fact", &s);
	cr_assert_eq(s.version, 2);
	cr_assert_eq(s.nfiles, 2);
	cr_assert_eq(ps_delta_txn_version(&s, "ps-gold/adm"), 3);
	ps_delta_snapshot_release(&s);
	ps_gold_delta_free(d);
}

Test(gold_delta, keep_only_after_a_whole_commit_of_this_process)
{
	struct ps_delta_snapshot s = PS_DELTA_SNAPSHOT_INIT;
	struct ps_gold_delta *d = open_gold();
	struct ps_error e = { 0 };

	cr_assert_eq(ps_gold_delta_can_keep(d, "dim"), 0);
	ps_gold_delta_table(d, "dim", cols, 1, PS_GOLD_DELTA_REWRITE);
	put(d, "dim", NULL, 1);
	commit(d);
	cr_assert_eq(ps_gold_delta_can_keep(d, "dim"), 1);
	ps_gold_delta_table(d, "dim", cols, 1, PS_GOLD_DELTA_KEEP);
	commit(d);
	snap("dim", &s);
	cr_assert_eq(s.version, 1);
	cr_assert_eq(s.nfiles, 1);
	cr_assert_eq(s.nremoved, 0);
	cr_assert_eq(ps_delta_txn_version(&s, "ps-gold/adm"), 2);
	ps_gold_delta_free(d);
	/* a new process knows nothing of the last commit's content */
	d = open_gold();
	cr_assert_eq(ps_gold_delta_next(d), 3);
	cr_assert_eq(ps_gold_delta_can_keep(d, "dim"), 0);
	ps_gold_delta_table(d, "dim", cols, 1, PS_GOLD_DELTA_KEEP);
	cr_assert_eq(ps_gold_delta_commit(d, 1000, NULL, NULL, &e), -1);
	cr_assert_eq(e.code, PS_EX_SOFTWARE);
	ps_delta_snapshot_release(&s);
	ps_gold_delta_free(d);
}

Test(gold_delta, open_removes_files_no_version_references)
{
	struct ps_gold_delta *d = open_gold();
	struct ps_error e = { 0 };
	struct stat st;
	char p[160];

	ps_gold_delta_table(d, "dim", cols, 1, PS_GOLD_DELTA_REWRITE);
	put(d, "dim", NULL, 1);
	commit(d);
	/* a commit that died after its data files */
	ps_gold_delta_table(d, "dim", cols, 1, PS_GOLD_DELTA_REWRITE);
	put(d, "dim", NULL, 2);
	ps_gold_delta_free(d);		/* aborts: removes the file */
	snprintf(p, sizeof(p), "%s/dim/part-00000000000000000002.parquet",
		 dir);
	cr_assert_neq(stat(p, &st), 0);
	cr_assert_eq(ps_write_file_atomic(p, "x", 1, 0644, &e), 0);
	d = open_gold();
	cr_assert_neq(stat(p, &st), 0, "the orphan is removed");
	snprintf(p, sizeof(p), "%s/dim/part-00000000000000000001.parquet",
		 dir);
	cr_assert_eq(stat(p, &st), 0, "the committed file stays");
	ps_gold_delta_free(d);
}

Test(gold_delta, a_fact_without_log_is_refused)
{
	struct ps_error e = { 0 };
	char p[160];

	snprintf(p, sizeof(p), "%s/fact/day=1", dir);
	cr_assert_eq(ps_mkdir_p(p, 0755, &e), 0);
	snprintf(p, sizeof(p), "%s/fact/day=1/part-0.parquet", dir);
	cr_assert_eq(ps_write_file_atomic(p, "x", 1, 0644, &e), 0);
	cr_assert_null(ps_gold_delta_open(dir, "adm", "fact", 0, &e));
	cr_assert_eq(e.code, PS_EX_CONFIG);
	cr_assert(strstr(e.msg, "no Delta log"), "%s", e.msg);
}

/* test_kpi.c - quantiles, tables and alerts (lib/kpi.h, lib/alerts.h). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alerts.h"
#include "buf.h"
#include "fsutil.h"
#include "kpi.h"
#include "banned.h"

Test(kpi, quantile_cont_interpolates_like_duckdb)
{
	double v[] = { 40, 10, 30, 20 };
	double one[] = { 7 };

	/* positions (n-1)q: 1.5 -> 25; 2.7 -> 37 */
	cr_assert_float_eq(ps_kpi_quantile_cont(v, 4, 0.5), 25.0, 1e-12);
	cr_assert_float_eq(ps_kpi_quantile_sorted(v, 4, 0.9), 37.0, 1e-12);
	cr_assert_float_eq(ps_kpi_quantile_sorted(v, 4, 0.0), 10.0, 1e-12);
	cr_assert_float_eq(ps_kpi_quantile_sorted(v, 4, 1.0), 40.0, 1e-12);
	cr_assert_float_eq(ps_kpi_quantile_cont(one, 1, 0.9), 7.0, 1e-12);
}

/* The columns of the tables below. */
static const struct ps_pq_column cols[] = {
	{ "department", PS_PQ_STRING, 0, 0 },
	{ "census", PS_PQ_INT64, 0, 0 },
	{ "occupancy_pct", PS_PQ_DOUBLE, 1, 0 },
};

Test(kpi, table_rows_as_json)
{
	struct ps_table t;
	struct ps_buf b = PS_BUF_INIT;
	struct ps_pq_value *r;

	ps_table_init(&t, "kpi_occupancy", cols, 3);
	r = ps_table_add_row(&t);
	ps_table_set_s(&t, r, 0, "ICU", 3);
	ps_table_set_i(&t, r, 1, 12);
	ps_table_row_json(&t, 0, &b);
	cr_assert_str_eq(b.data, "{\"kpi\":\"occupancy\",\"department\":"
			 "\"ICU\",\"census\":12,\"occupancy_pct\":null}\n");
	ps_table_release(&t);
	ps_buf_release(&b);
}

/* A streamed table: rows cursor.. in chunks of 3 (the last one short). */
static size_t fill3(const void *ctx, size_t *cursor, struct ps_table *t)
{
	static const char *const dept[] = { "ICU", "ER", "Maternity" };
	size_t n = *(const size_t *)ctx, k = 0;

	for (; *cursor < n && k < 3; (*cursor)++, k++) {
		struct ps_pq_value *r = ps_table_add_row(t);
		const char *d = dept[*cursor % 3];

		ps_table_set_s(t, r, 0, d, strlen(d));
		ps_table_set_i(t, r, 1, (int64_t)*cursor * 7);
		if (*cursor % 5)
			ps_table_set_d(t, r, 2, (double)*cursor / 2);
	}
	return k;
}

/* The table of tc (ncols) streamed from fill (ctx n) is written to the
 * same bytes as its rows all in memory (n of them); the memory table is
 * left in m. */
static void streamed_equals_in_memory(const struct ps_pq_column *tc,
				      size_t ncols, size_t (*fill)(const void *,
				      size_t *, struct ps_table *),
				      const size_t *n, struct ps_table *m)
{
	struct ps_table s;
	struct ps_buf a = PS_BUF_INIT, b = PS_BUF_INIT;
	struct ps_error e = { 0 };
	char dir[] = "/tmp/test_kpi.XXXXXX", pa[64], pb[64];

	cr_assert_not_null(mkdtemp(dir));
	snprintf(pa, sizeof(pa), "%s/a.parquet", dir);
	snprintf(pb, sizeof(pb), "%s/b.parquet", dir);
	ps_table_init(&s, "t", tc, ncols);
	s.fill = fill;
	s.fill_ctx = n;
	cr_assert_eq(ps_table_write_parquet(&s, pa, PS_PQ_ZSTD, &e), 0,
		     "%s", e.msg);
	cr_assert_eq(s.nrows, 0, "a streamed write holds no rows");
	ps_table_init(m, "t", tc, ncols);
	m->fill = fill;
	m->fill_ctx = n;
	ps_table_fill_all(m);
	cr_assert_eq(m->nrows, *n);
	cr_assert_null(m->fill);
	cr_assert_eq(ps_table_write_parquet(m, pb, PS_PQ_ZSTD, &e), 0,
		     "%s", e.msg);
	cr_assert_eq(ps_read_file(pa, &a, 1 << 24, &e), 0, "%s", e.msg);
	cr_assert_eq(ps_read_file(pb, &b, 1 << 24, &e), 0, "%s", e.msg);
	cr_assert_eq(a.len, b.len);
	cr_assert_eq(memcmp(a.data, b.data, a.len), 0);
	unlink(pa);
	unlink(pb);
	rmdir(dir);
	ps_table_release(&s);
	ps_buf_release(&a);
	ps_buf_release(&b);
}

/* A streamed table is written chunk by chunk to the same bytes as the
 * same rows held in memory. */
Test(kpi, streamed_table_writes_the_same_parquet)
{
	struct ps_table m;
	size_t n = 11;

	streamed_equals_in_memory(cols, 3, fill3, &n, &m);
	ps_table_release(&m);
}

/* Chunks of 1,500 rows whose strings the table keeps: made in a local
 * buffer, one of them larger than a block of kept bytes. */
static size_t fill_kept(const void *ctx, size_t *cursor, struct ps_table *t)
{
	size_t n = *(const size_t *)ctx, k = 0;
	static char big[300 * 1024];

	for (; *cursor < n && k < 1500; (*cursor)++, k++) {
		struct ps_pq_value *r = ps_table_add_row(t);
		char id[48];
		int l = snprintf(id, sizeof(id), "patient-%zu", *cursor * 7919);

		ps_table_set_s(t, r, 0, ps_table_keep(t, id, (size_t)l),
			       (size_t)l);
		ps_table_set_i(t, r, 1, (int64_t)*cursor);
		if (*cursor == 4321) {
			memset(big, 'a' + (int)(*cursor % 26), sizeof(big));
			ps_table_set_s(t, r, 0, ps_table_keep(t, big,
				       sizeof(big)), sizeof(big));
		}
	}
	return k;
}

/* A table whose first chunk is large is filled ahead on a thread while
 * the chunk before is written, its kept strings cleared chunk by chunk:
 * the same bytes as its rows all in memory. */
Test(kpi, table_filled_ahead_writes_the_same_parquet)
{
	static const struct ps_pq_column kcols[] = {
		{ "patient_id", PS_PQ_STRING, 0, 0 },
		{ "n", PS_PQ_INT64, 0, 0 },
	};
	struct ps_table m;
	size_t n = 10000;

	streamed_equals_in_memory(kcols, 2, fill_kept, &n, &m);
	/* cleared, a table keeps its first block for the next rows */
	ps_table_clear(&m);
	cr_assert_eq(m.nrows, 0);
	cr_assert_eq(m.nkept, 1);
	cr_assert_eq(memcmp(ps_table_keep(&m, "x", 1), "x", 1), 0);
	ps_table_release(&m);
}

static char path[64];

static void write_rules(const char *text)
{
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/test_kpi.XXXXXX");
	cr_assert_geq(mkstemp(path), 0);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

Test(alerts, hysteresis_fires_once_and_resolves_below_clear)
{
	struct ps_alerts a = PS_ALERTS_INIT;
	struct ps_error e = { 0, "" };
	struct ps_buf out = PS_BUF_INIT;
	double seq[] = { 80, 86, 84, 86, 84, 91, 86, 79, 86 };
	const char *want[] = { NULL, "firing\",\"level\":\"warn",
		NULL, NULL, NULL, "firing\",\"level\":\"critical", NULL,
		"resolved\",\"level\":\"ok", "firing\",\"level\":\"warn" };
	size_t i;

	write_rules("# comment\n{\"metric\":\"occupancy_pct\",\"warn\":85,"
		    "\"critical\":90,\"clear_below\":80}\n"
		    "{\"metric\":\"occupancy_pct\",\"department\":\"ICU\","
		    "\"warn\":95}\n");
	cr_assert_eq(ps_alerts_load(&a, path, &e), 0, "%s", e.msg);
	unlink(path);
	for (i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
		int n;

		ps_buf_reset(&out);
		n = ps_alerts_eval(&a, "occupancy_pct", "Surgery", 1, 60,
				   seq[i], 0, &out);
		if (!want[i]) {
			cr_assert_eq(n, 0, "step %zu: %s", i, out.data);
			continue;
		}
		cr_assert_eq(n, 1, "step %zu", i);
		cr_assert_not_null(strstr(out.data, want[i]), "step %zu: %s",
				   i, out.data);
	}
	/* the department rule wins for ICU: 91 is only a warning */
	ps_buf_reset(&out);
	cr_assert_eq(ps_alerts_eval(&a, "occupancy_pct", "ICU", 1, 14, 91, 0,
				    &out), 0);
	cr_assert_eq(ps_alerts_eval(&a, "occupancy_pct", "ICU", 1, 14, 96, 0,
				    &out), 1);
	/* levels survive a restart */
	ps_buf_reset(&out);
	ps_alerts_save_state(&a, &out);
	ps_alerts_release(&a);
	ps_alerts_load_state(&a, out.data, out.len);
	ps_buf_reset(&out);
	cr_assert_eq(ps_alerts_eval(&a, "occupancy_pct", "ICU", 1, 14, 96, 0,
				    &out), 0);
	ps_alerts_release(&a);
	ps_buf_release(&out);
}

Test(alerts, bad_files_are_configuration_errors)
{
	struct ps_alerts a = PS_ALERTS_INIT;
	struct ps_error e = { 0, "" };

	write_rules("{\"metric\":\"nope\",\"warn\":1}\n");
	cr_assert_eq(ps_alerts_load(&a, path, &e), -1);
	cr_assert_eq(e.code, 78);
	cr_assert_not_null(strstr(e.msg, ":1: unknown metric"), "%s", e.msg);
	unlink(path);
	write_rules("\n{\"metric\":\"wait_p90_minutes\",\"warn\":60,"
		    "\"critical\":30}\n");
	cr_assert_eq(ps_alerts_load(&a, path, &e), -1);
	cr_assert_not_null(strstr(e.msg, ":2:"), "%s", e.msg);
	unlink(path);
	cr_assert_eq(ps_alerts_load(&a, "/nonexistent/x", &e), -1);
	cr_assert_eq(e.code, 66);
}

/* Issue 13: rules that help -- persistence, "below" rules, bed limits,
 * silenced series, and series that stop being reported resolve. */
Test(alerts, persistence_below_rules_bed_limits_and_stale_series)
{
	struct ps_alerts a = PS_ALERTS_INIT;
	struct ps_error e = { 0, "" };
	struct ps_buf out = PS_BUF_INIT;
	const int64_t min = 60LL * 1000000;

	write_rules("{\"metric\":\"occupancy_pct\",\"warn\":90,"
		    "\"for_minutes\":30,\"min_beds\":20}\n"
		    "{\"metric\":\"free_beds\",\"below\":true,\"warn\":0,"
		    "\"clear_above\":1,\"max_beds\":19}\n"
		    "{\"metric\":\"free_beds\",\"department\":\"Emergency\","
		    "\"off\":true}\n"
		    "{\"metric\":\"ed_within_4h_pct\",\"below\":true,"
		    "\"warn\":60,\"critical\":50}\n");
	cr_assert_eq(ps_alerts_load(&a, path, &e), 0, "%s", e.msg);
	unlink(path);
	/* a breach fires only once it lasted 30 minutes */
	ps_alerts_begin(&a);
	cr_assert_eq(ps_alerts_eval(&a, "occupancy_pct", "Surgery", 1, 60,
				    95, 0, &out), 0);
	cr_assert_eq(ps_alerts_eval(&a, "occupancy_pct", "Surgery", 1, 60,
				    95, 20 * min, &out), 0);
	cr_assert_eq(ps_alerts_eval(&a, "occupancy_pct", "Surgery", 1, 60,
				    95, 31 * min, &out), 1, "%s", out.data);
	/* an interrupted breach starts over */
	cr_assert_eq(ps_alerts_eval(&a, "occupancy_pct", "Cardiology", 1, 60,
				    95, 0, &out), 0);
	cr_assert_eq(ps_alerts_eval(&a, "occupancy_pct", "Cardiology", 1, 60,
				    80, 20 * min, &out), 0);
	cr_assert_eq(ps_alerts_eval(&a, "occupancy_pct", "Cardiology", 1, 60,
				    95, 40 * min, &out), 0);
	/* a small unit: no percentage rule, free beds instead */
	cr_assert_eq(ps_alerts_eval(&a, "occupancy_pct", "ICU", 1, 12,
				    100, 40 * min, &out), 0);
	ps_buf_reset(&out);
	cr_assert_eq(ps_alerts_eval(&a, "free_beds", "ICU", 1, 12, 0,
				    40 * min, &out), 1);
	cr_assert_not_null(strstr(out.data, "\"level\":\"warn\""));
	cr_assert_eq(ps_alerts_eval(&a, "free_beds", "Emergency", 1, 18, 0,
				    40 * min, &out), 0);
	/* below rules: 55 % within 4 h is a warning, 45 % critical */
	ps_buf_reset(&out);
	cr_assert_eq(ps_alerts_eval(&a, "ed_within_4h_pct", "Emergency", 1,
				    18, 45, 40 * min, &out), 1);
	cr_assert_not_null(strstr(out.data, "\"level\":\"critical\""));
	/* the next round reports Surgery only: ICU and the ED resolve */
	ps_alerts_begin(&a);
	cr_assert_eq(ps_alerts_eval(&a, "occupancy_pct", "Surgery", 1, 60,
				    95, 50 * min, &out), 0);
	ps_buf_reset(&out);
	cr_assert_eq(ps_alerts_sweep(&a, 50 * min, &out), 2, "%s", out.data);
	cr_assert_not_null(strstr(out.data, "\"reason\":\"not reported\""));
	cr_assert_null(strstr(out.data, "Surgery"));
	/* and a pending breach survives a restart */
	ps_buf_reset(&out);
	ps_alerts_eval(&a, "occupancy_pct", "Oncology", 1, 40, 99, 50 * min,
		       &out);
	ps_alerts_save_state(&a, &out);
	ps_alerts_release(&a);
	write_rules("{\"metric\":\"occupancy_pct\",\"warn\":90,"
		    "\"for_minutes\":30}\n");
	cr_assert_eq(ps_alerts_load(&a, path, &e), 0, "%s", e.msg);
	unlink(path);
	ps_alerts_load_state(&a, out.data, out.len);
	ps_buf_reset(&out);
	cr_assert_eq(ps_alerts_eval(&a, "occupancy_pct", "Oncology", 1, 40,
				    99, 81 * min, &out), 1);
	ps_alerts_release(&a);
	ps_buf_release(&out);
}

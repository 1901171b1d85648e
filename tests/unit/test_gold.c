/* test_gold.c - gold state: parsing, upserts, SCD2, snapshot (lib/gold.h). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "departments.h"
#include "gold.h"
#include "pstime.h"
#include "banned.h"

static int64_t ts(const char *s)
{
	int64_t us;
	const char *why;

	cr_assert_eq(ps_time_parse(s, strlen(s), &us, &why), 0, "%s", s);
	return us;
}

/* Feed one JSON record line; returns what ps_gold_apply returned. */
static int feed(struct ps_gold *g, const char *line)
{
	struct ps_buf sc = PS_BUF_INIT;
	struct ps_gold_rec r;
	char why[200];
	int rc;

	cr_assert_eq(ps_gold_parse(line, strlen(line), &r, &sc, why,
				   sizeof(why)), 0, "%s: %s", line, why);
	rc = ps_gold_apply(g, &r, why, sizeof(why));
	ps_buf_release(&sc);
	return rc;
}

/* A record of patient P at event time T with gender G and age A. */
static int obs(struct ps_gold *g, const char *enc, const char *t,
	       const char *gender, int age)
{
	char line[512];

	snprintf(line, sizeof(line), "{\"encounter_id\":\"%s\","
		 "\"event_type\":\"UPDATE\",\"event_time\":\"%s\","
		 "\"patient_id\":\"P\",\"gender\":\"%s\",\"age\":%d,"
		 "\"department\":\"ICU\",\"hospital_id\":1,"
		 "\"admission_time\":\"2026-01-01T00:00:00Z\"}",
		 enc, t, gender, age);
	return feed(g, line);
}

Test(gold, parse_reads_a_clean_record_and_rejects_bad_ones)
{
	const char *ok = "{\"source\":\"stdin:a\",\"position\":7,"
		"\"patient_id\":\"p\\u00e9\\\"x\",\"gender\":\"Male\","
		"\"age\":45,\"age_band\":\"40-49\",\"department\":\"ICU\","
		"\"hospital_id\":3,\"bed_id\":null,\"los_hours\":1.5e1,"
		"\"unknown_department\":false,"
		"\"admission_time\":\"2026-01-01T10:00:00Z\"}";
	const char *bad[] = {
		"", "[]", "{\"patient_id\":1}", "{\"a\":{}}",
		"{\"patient_id\":\"p\",\"gender\":\"M\",\"age\":\"4\","
		"\"department\":\"x\",\"hospital_id\":1,"
		"\"admission_time\":\"2026-01-01\"}",
		"{\"patient_id\":\"p\",\"gender\":\"M\",\"age\":4,"
		"\"department\":\"x\",\"hospital_id\":1,"
		"\"admission_time\":\"yesterday\"}",
		"{\"patient_id\":\"p\",\"gender\":\"M\",\"age\":4,"
		"\"department\":\"x\",\"admission_time\":\"2026-01-01\"}",
		"{\"patient_id\":\"p\"} trailing",
	};
	struct ps_buf sc = PS_BUF_INIT;
	struct ps_gold_rec r;
	char why[200];
	size_t i;

	cr_assert_eq(ps_gold_parse(ok, strlen(ok), &r, &sc, why, sizeof(why)),
		     0, "%s", why);
	cr_assert_eq(r.position, 7);
	cr_assert_eq(r.patient_id.len, 5);
	cr_assert_eq(memcmp(r.patient_id.p, "p\xc3\xa9\"x", 5), 0);
	cr_assert_eq(r.hospital_id, 3);
	cr_assert_eq(r.bed_id, PS_GOLD_NULL);
	cr_assert_eq(r.admission_time, ts("2026-01-01T10:00:00Z"));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(ps_gold_parse(bad[i], strlen(bad[i]), &r, &sc,
					   why, sizeof(why)), -1, "%s", bad[i]);
	ps_buf_release(&sc);
}

Test(gold, surrogate_keys_are_deterministic)
{
	cr_assert_eq(ps_gold_sk("abc", 3), ps_gold_sk("abc", 3));
	cr_assert_neq(ps_gold_sk("abc", 3), ps_gold_sk("abd", 3));
	cr_assert_geq(ps_gold_sk("abc", 3), 0);
}

Test(gold, scd2_versions_change_at_the_first_record_with_new_values)
{
	struct ps_gold *g = ps_gold_new(NULL);
	struct ps_gold_version v[8];
	size_t n;

	cr_assert_eq(obs(g, "e1", "2026-01-01T00:00:00Z", "Male", 39), 1);
	cr_assert_eq(obs(g, "e1", "2026-01-02T00:00:00Z", "Male", 39), 1);
	cr_assert_eq(obs(g, "e2", "2026-01-05T00:00:00Z", "Male", 40), 1);
	/* the same record again changes nothing */
	cr_assert_eq(obs(g, "e2", "2026-01-05T00:00:00Z", "Male", 40), 0);
	n = ps_gold_history(g, "P", v, 8);
	cr_assert_eq(n, 2);
	cr_assert_eq(v[0].effective_from, ts("2026-01-01"));
	cr_assert_eq(v[0].effective_to, ts("2026-01-05"));
	cr_assert_str_eq(v[0].age_band, "30-39");
	cr_assert_eq(v[1].effective_from, ts("2026-01-05"));
	cr_assert_eq(v[1].effective_to, PS_GOLD_NULL);
	cr_assert_str_eq(v[1].age_band, "40-49");
	ps_gold_free(g);
}

Test(gold, scd2_late_records_are_inserted_into_history)
{
	struct ps_gold *g = ps_gold_new(NULL);
	struct ps_gold_version v[8];
	size_t n;

	obs(g, "e1", "2026-01-10T00:00:00Z", "Male", 39);
	obs(g, "e2", "2026-01-20T00:00:00Z", "Male", 40);
	/* older than everything, other values: a new first version */
	obs(g, "e3", "2026-01-01T00:00:00Z", "Female", 39);
	/* between versions 2 and 3 with version 3's values: it starts
	 * earlier */
	obs(g, "e4", "2026-01-15T00:00:00Z", "Male", 40);
	/* older than the first version with its values: it starts
	 * earlier */
	obs(g, "e5", "2025-12-25T00:00:00Z", "Female", 39);
	n = ps_gold_history(g, "P", v, 8);
	cr_assert_eq(n, 3);
	cr_assert_eq(v[0].effective_from, ts("2025-12-25"));
	cr_assert_str_eq(v[0].gender, "Female");
	cr_assert_eq(v[0].effective_to, ts("2026-01-10"));
	cr_assert_eq(v[1].effective_from, ts("2026-01-10"));
	cr_assert_str_eq(v[1].age_band, "30-39");
	cr_assert_str_eq(v[1].gender, "Male");
	cr_assert_eq(v[1].effective_to, ts("2026-01-15"));
	cr_assert_eq(v[2].effective_from, ts("2026-01-15"));
	cr_assert_str_eq(v[2].age_band, "40-49");
	cr_assert_eq(v[2].effective_to, PS_GOLD_NULL);
	/* a late record inside version 2's observed span splits it */
	obs(g, "e6", "2026-01-12T00:00:00Z", "Male", 39);
	obs(g, "e7", "2026-01-11T00:00:00Z", "Female", 39);
	n = ps_gold_history(g, "P", v, 8);
	cr_assert_eq(n, 5);
	cr_assert_eq(v[1].effective_from, ts("2026-01-10"));
	cr_assert_eq(v[1].effective_to, ts("2026-01-11"));
	cr_assert_str_eq(v[2].gender, "Female");
	cr_assert_eq(v[2].effective_from, ts("2026-01-11"));
	cr_assert_eq(v[3].effective_from, ts("2026-01-12"));
	cr_assert_str_eq(v[3].gender, "Male");
	cr_assert_eq(v[4].effective_from, ts("2026-01-15"));
	ps_gold_free(g);
}

static const char *find_col(const struct ps_table *t, size_t row,
			    const char *name, struct ps_buf *b)
{
	size_t c;

	ps_buf_reset(b);
	for (c = 0; c < t->ncols; c++)
		if (!strcmp(t->cols[c].name, name)) {
			ps_pq_value_json(&t->v[row * t->ncols + c], b);
			return b->data;
		}
	cr_assert_fail("no column %s", name);
	return NULL;
}

Test(gold, discharge_before_admit_and_any_order_give_one_row)
{
	const char *admit = "{\"encounter_id\":\"E\",\"event_type\":\"ADMIT\","
		"\"event_time\":\"2026-01-01T10:00:00Z\",\"patient_id\":\"P\","
		"\"gender\":\"Female\",\"age\":30,\"department\":\"ICU\","
		"\"hospital_id\":2,\"bed_id\":5,"
		"\"arrival_time\":\"2026-01-01T09:00:00Z\","
		"\"admission_time\":\"2026-01-01T10:00:00Z\"}";
	const char *dis = "{\"encounter_id\":\"E\",\"event_type\":\"DISCHARGE\","
		"\"event_time\":\"2026-01-02T10:00:00Z\",\"patient_id\":\"P\","
		"\"gender\":\"Female\",\"age\":30,\"department\":\"ICU\","
		"\"hospital_id\":2,\"bed_id\":null,"
		"\"admission_time\":\"2026-01-01T10:00:00Z\","
		"\"discharge_time\":\"2026-01-02T10:00:00Z\"}";
	struct ps_departments ds = PS_DEPARTMENTS_INIT;
	struct ps_gold *a, *b;
	struct ps_buf sa = PS_BUF_INIT, sb = PS_BUF_INIT, v = PS_BUF_INIT;
	struct ps_table ta, tb;
	int32_t *days;
	size_t nd;
	int64_t now = ts("2026-01-01T12:00:00Z");

	ps_departments_defaults(&ds);
	a = ps_gold_new(&ds);
	b = ps_gold_new(&ds);
	cr_assert_eq(feed(a, admit), 1);
	cr_assert_eq(feed(a, dis), 1);
	cr_assert_eq(feed(b, dis), 1);
	cr_assert_eq(feed(b, admit), 1);
	cr_assert_eq(feed(b, admit), 0);
	cr_assert_eq(ps_gold_nencounters(a), 1);
	cr_assert_eq(ps_gold_nencounters(b), 1);
	days = ps_gold_take_dirty(b, &nd);
	cr_assert_eq(nd, 1);
	ps_gold_fact_partitions(a, days, nd, now, &ta);
	ps_gold_fact_partitions(b, days, nd, now, &tb);
	cr_assert_eq(ta.nrows, 1);
	cr_assert_eq(tb.nrows, 1);
	ps_table_row_json(&ta, 0, &sa);
	ps_table_row_json(&tb, 0, &sb);
	cr_assert_str_eq(sa.data, sb.data);
	cr_assert_str_eq(find_col(&ta, 0, "bed_id", &v), "5");
	cr_assert_str_eq(find_col(&ta, 0, "waiting_minutes", &v), "60");
	cr_assert_str_eq(find_col(&ta, 0, "length_of_stay_hours", &v), "24");
	cr_assert_str_eq(find_col(&ta, 0, "is_currently_admitted", &v),
			 "true");
	ps_table_release(&ta);
	ps_table_release(&tb);
	free(days);
	ps_buf_release(&sa);
	ps_buf_release(&sb);
	ps_buf_release(&v);
	ps_gold_free(a);
	ps_gold_free(b);
	ps_departments_release(&ds);
}

Test(gold, snapshot_round_trips_and_rejects_garbage)
{
	struct ps_gold *a = ps_gold_new(NULL), *b = ps_gold_new(NULL);
	struct ps_buf s1 = PS_BUF_INIT, s2 = PS_BUF_INIT;
	struct ps_error e = { 0, "" };
	const char *pos;
	size_t poslen;

	obs(a, "e1", "2026-01-10T00:00:00Z", "Male", 39);
	obs(a, "e2", "2026-01-20T00:00:00Z", "Male", 40);
	ps_gold_snapshot(a, "{}", 2, &s1);
	cr_assert_eq(ps_gold_restore(b, s1.data, s1.len, &pos, &poslen, &e),
		     0, "%s", e.msg);
	cr_assert_eq(poslen, 2);
	ps_gold_snapshot(b, "{}", 2, &s2);
	cr_assert_eq(s1.len, s2.len);
	cr_assert_eq(memcmp(s1.data, s2.data, s1.len), 0);
	ps_gold_free(b);
	b = ps_gold_new(NULL);
	cr_assert_eq(ps_gold_restore(b, s1.data, s1.len / 2, &pos, &poslen,
				     &e), -1);
	cr_assert_eq(e.code, 78);
	ps_buf_release(&s1);
	ps_buf_release(&s2);
	ps_gold_free(a);
	ps_gold_free(b);
}

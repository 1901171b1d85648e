/* test_gold.c - gold state: parsing, upserts, SCD2, snapshot (lib/gold.h). */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "departments.h"
#include "clean.h"
#include "fsutil.h"
#include "gold.h"
#include "pstime.h"
#include "banned.h"

#include "gold_state_v4.h"

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

/* The values of a clean record in column order (lib/clean.h). */
static const char *const canon_vals[PS_CLEAN_NCOLS] = {
	"\"stdin:a\"", "12", "\"2031-01-01T00:00:00Z\"", "null",
	"\"e\\u00e9\\\"1\"", "\"ADMIT\"", "\"2026-01-01T09:59:00.5Z\"",
	"\"p\\\\1\"", "\"Female\"", "45", "\"40-49\"", "\"ICU\"", "3",
	"-7", "\"2026-01-01T09:00:00Z\"", "\"2026-01-01T10:00:00Z\"",
	"null", "\"2026-01-01\"", "null", "60.5", "2",
	"\"2026-01-01T09:30:00Z\"", "null", "\"home\"", "true",
	"\"late\"", "\"{\\\"x\\\":1}\"",
};

/* A clean record line as silver writes it, with sep between members and
 * vals[col] replaced by repl when col is not -1. */
static void canon_line(char *b, size_t n, const char *sep, long col,
		       const char *repl)
{
	size_t i, o = 0;

	o += (size_t)snprintf(b + o, n - o, "{");
	for (i = 0; i < PS_CLEAN_NCOLS; i++)
		o += (size_t)snprintf(b + o, n - o, "%s\"%s\":%s",
				      i ? sep : "", ps_gold_fields[i].name,
				      (long)i == col ? repl : canon_vals[i]);
	snprintf(b + o, n - o, "}");
}

static int str_eq(struct ps_gold_str a, struct ps_gold_str b)
{
	return a.len == b.len && (!a.len || !memcmp(a.p, b.p, a.len)) &&
	       !a.p == !b.p;
}

/* Two parsed records hold the same values. */
static int rec_same(const struct ps_gold_rec *a, const struct ps_gold_rec *b)
{
	return str_eq(a->source, b->source) &&
	       str_eq(a->encounter_id, b->encounter_id) &&
	       str_eq(a->event_type, b->event_type) &&
	       str_eq(a->patient_id, b->patient_id) &&
	       str_eq(a->gender, b->gender) &&
	       str_eq(a->age_band, b->age_band) &&
	       str_eq(a->department, b->department) &&
	       str_eq(a->disposition, b->disposition) &&
	       a->position == b->position &&
	       a->ingest_time == b->ingest_time &&
	       a->event_time == b->event_time &&
	       a->arrival_time == b->arrival_time &&
	       a->admission_time == b->admission_time &&
	       a->discharge_time == b->discharge_time &&
	       a->seen_time == b->seen_time &&
	       a->decision_time == b->decision_time &&
	       a->age == b->age && a->hospital_id == b->hospital_id &&
	       a->bed_id == b->bed_id && a->triage_level == b->triage_level;
}

/* A member name with any one byte changed is not the column's: the fast
 * path gives what the general parser gives for the line spaced out (the
 * member unknown, so that column absent). */
Test(gold, parse_of_silver_form_checks_every_byte_of_a_name)
{
	struct ps_buf s1 = PS_BUF_INIT, s2 = PS_BUF_INIT;
	struct ps_gold_rec a, b;
	char la[2048], lb[2048], wa[200], wb[200];
	size_t i, j;

	for (i = 0; i < PS_CLEAN_NCOLS; i++)
		for (j = 0; j < ps_gold_fields[i].len; j++) {
			char *k;
			int ra, rb;

			canon_line(la, sizeof(la), ",", -1, NULL);
			canon_line(lb, sizeof(lb), " , ", -1, NULL);
			k = strstr(la, ps_gold_fields[i].name);
			k[j] = k[j] == 'X' ? 'Y' : 'X';
			k = strstr(lb, ps_gold_fields[i].name);
			k[j] = k[j] == 'X' ? 'Y' : 'X';
			ra = ps_gold_parse(la, strlen(la), &a, &s1, wa,
					   sizeof(wa));
			rb = ps_gold_parse(lb, strlen(lb), &b, &s2, wb,
					   sizeof(wb));
			cr_assert_eq(ra, rb, "%s", la);
			if (ra == 0)
				cr_assert(rec_same(&a, &b), "%s", la);
			else
				cr_assert_str_eq(wa, wb, "%s", la);
		}
	ps_buf_release(&s1);
	ps_buf_release(&s2);
}

/* Silver's own form is read by a fast path: the same record, and the
 * same verdicts, as the general parser gives the same line spaced out. */
Test(gold, parse_of_silver_form_equals_the_general_parser)
{
	static const struct { long col; const char *v; } bad[] = {
		{ PS_CLEAN_AGE, "\"45\"" },
		{ PS_CLEAN_PATIENT_ID, "null" },
		{ PS_CLEAN_ADMISSION_TIME, "\"soon\"" },
		{ PS_CLEAN_HOSPITAL_ID, "4294967296" },
		{ PS_CLEAN_GENDER, "7" },
		{ PS_CLEAN_FLAGS, "{}" },
		{ PS_CLEAN_EXTRA, "\"a\x01\"" },
		{ PS_CLEAN_LOS_HOURS, "1 2" },
	};
	struct ps_buf s1 = PS_BUF_INIT, s2 = PS_BUF_INIT;
	struct ps_gold_rec a, b;
	char la[2048], lb[2048], wa[200], wb[200];
	size_t i;

	canon_line(la, sizeof(la), ",", -1, NULL);
	canon_line(lb, sizeof(lb), " , ", -1, NULL);
	cr_assert_eq(ps_gold_parse(la, strlen(la), &a, &s1, wa, sizeof(wa)),
		     0, "%s", wa);
	cr_assert_eq(ps_gold_parse(lb, strlen(lb), &b, &s2, wb, sizeof(wb)),
		     0, "%s", wb);
	cr_assert(rec_same(&a, &b));
	cr_assert_eq(a.encounter_id.len, 5);
	cr_assert_eq(memcmp(a.patient_id.p, "p\\1", 3), 0);
	cr_assert_eq(a.position, 12);
	cr_assert_eq(a.discharge_time, PS_GOLD_NULL);
	cr_assert_eq(a.bed_id, -7);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		canon_line(la, sizeof(la), ",", bad[i].col, bad[i].v);
		canon_line(lb, sizeof(lb), " ,", bad[i].col, bad[i].v);
		cr_assert_eq(ps_gold_parse(la, strlen(la), &a, &s1, wa,
					   sizeof(wa)), -1, "%s", la);
		cr_assert_eq(ps_gold_parse(lb, strlen(lb), &b, &s2, wb,
					   sizeof(wb)), -1, "%s", lb);
		if (strncmp(wa, "malformed_json", 14))
			cr_assert_str_eq(wa, wb);
	}
	ps_buf_release(&s1);
	ps_buf_release(&s2);
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

/* ---- issue 13: defects of the gold tables --------------------------- */

/* The table named name among t[0..n-1]. */
static struct ps_table *table_named(struct ps_table *t, size_t n,
				    const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(t[i].name, name)) {
			ps_table_fill_all(&t[i]);	/* dim_patient */
			return &t[i];
		}
	cr_assert_fail("no table %s", name);
	return NULL;
}

static void release_tables(struct ps_table *t, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		ps_table_release(&t[i]);
}

/* An encounter of patient p: one record with admission adm, discharge
 * dis (NULL: none), in department dept of hospital 1. */
static int enc_rec(struct ps_gold *g, const char *enc, const char *p,
		   const char *gender, int age, const char *dept,
		   const char *etime, const char *adm, const char *dis)
{
	char line[768], d[80];

	if (dis)
		snprintf(d, sizeof(d), "\"%s\"", dis);
	else
		snprintf(d, sizeof(d), "null");
	snprintf(line, sizeof(line), "{\"encounter_id\":\"%s\","
		 "\"event_time\":\"%s\",\"patient_id\":\"%s\","
		 "\"gender\":\"%s\",\"age\":%d,\"department\":\"%s\","
		 "\"hospital_id\":1,\"admission_time\":\"%s\","
		 "\"discharge_time\":%s}", enc, etime, p, gender, age, dept,
		 adm, d);
	return feed(g, line);
}

/* Defect 1: every dim_patient row has its own key; facts point at the
 * version in effect at admission, and move when history is split. */
Test(gold, dim_patient_keys_are_unique_per_version_and_facts_follow)
{
	struct ps_departments ds = PS_DEPARTMENTS_INIT;
	struct ps_gold *g;
	struct ps_table t[PS_GOLD_MAX_TABLES], f, *dp;
	struct ps_buf v = PS_BUF_INIT, w = PS_BUF_INIT;
	int64_t now = ts("2026-03-01T00:00:00Z");
	int32_t *days;
	size_t n, nd, i, j;

	ps_departments_defaults(&ds);
	g = ps_gold_new(&ds);
	enc_rec(g, "e1", "P", "Male", 39, "ICU", "2026-01-01T00:00:00Z",
		"2026-01-01T00:00:00Z", NULL);
	enc_rec(g, "e2", "P", "Male", 40, "ICU", "2026-02-01T00:00:00Z",
		"2026-02-01T00:00:00Z", NULL);
	ps_gold_tables(g, now, 24LL * 3600 * 1000000, t, &n);
	dp = table_named(t, n, "dim_patient");
	cr_assert_eq(dp->nrows, 2);
	cr_assert_str_neq(find_col(dp, 0, "patient_sk", &v),
			  find_col(dp, 1, "patient_sk", &w));
	cr_assert_str_eq(find_col(dp, 0, "patient_key", &v),
			 find_col(dp, 1, "patient_key", &w));
	for (i = 0; i < dp->nrows; i++)
		for (j = i + 1; j < dp->nrows; j++)
			cr_assert_neq(dp->v[i * dp->ncols].v.i,
				      dp->v[j * dp->ncols].v.i);
	release_tables(t, n);
	/* the fact of e2 points at version 2 */
	days = ps_gold_take_dirty(g, &nd);
	free(days);
	{
		int32_t d = (int32_t)(ts("2026-02-01") / PS_USEC_PER_DAY);

		ps_gold_fact_partitions(g, &d, 1, now, &f);
		cr_assert_eq(f.nrows, 1);
		cr_assert_eq(ps_gold_version_sk("P", ts("2026-02-01")),
			     f.v[2].v.i);
		cr_assert_str_eq(f.cols[2].name, "patient_sk");
		ps_table_release(&f);
	}
	/* a late record with other values between e1 and e2 makes a version
	 * of its own: the patient's facts are rebuilt, each still pointing
	 * at the version that starts at its admission */
	enc_rec(g, "e3", "P", "Female", 39, "ICU", "2026-01-15T00:00:00Z",
		"2026-01-15T00:00:00Z", NULL);
	days = ps_gold_take_dirty(g, &nd);
	cr_assert_geq(nd, 2);
	ps_gold_fact_partitions(g, days, nd, now, t);
	for (i = 0; i < nd; i++) {
		cr_assert_eq(t[i].nrows, 1);
		/* each fact's version starts at its own admission here */
		cr_assert_eq(t[i].v[ps_table_col(&t[i], "patient_sk")].v.i,
			     ps_gold_version_sk("P", t[i].v[ps_table_col(&t[i],
						"admission_time")].v.i));
		ps_table_release(&t[i]);
	}
	free(days);
	/* an earlier record with e1's values moves version 1's start: e1's
	 * fact row (in another partition) moves with it */
	enc_rec(g, "e4", "P", "Male", 39, "ICU", "2025-12-01T00:00:00Z",
		"2025-12-01T00:00:00Z", "2025-12-02T00:00:00Z");
	days = ps_gold_take_dirty(g, &nd);
	cr_assert_eq(nd, 4, "the days of e4 and of all the patient's facts");
	ps_gold_fact_partitions(g, days, nd, now, t);
	cr_assert_eq(t[1].v[2].v.i, ps_gold_version_sk("P",
		     ts("2025-12-01")));
	cr_assert_eq(t[0].v[2].v.i, t[1].v[2].v.i);
	release_tables(t, nd);
	free(days);
	ps_buf_release(&v);
	ps_buf_release(&w);
	ps_gold_free(g);
	ps_departments_release(&ds);
}

/* Defect 4: A -> B -> A gives the same history in every arrival order. */
Test(gold, scd2_history_does_not_depend_on_arrival_order)
{
	static const char *tm[] = {
		"2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z",
		"2026-01-03T00:00:00Z", "2026-01-04T06:00:00Z",
		"2026-01-05T00:00:00Z",
	};
	static const char *gd[] = { "Male", "Male", "Female", "Male",
				    "Male" };
	static const int perm[][5] = {
		{ 0, 1, 2, 3, 4 }, { 4, 3, 2, 1, 0 }, { 0, 4, 2, 1, 3 },
		{ 0, 1, 4, 3, 2 }, { 2, 0, 4, 1, 3 }, { 3, 4, 0, 2, 1 },
	};
	size_t k, i;

	for (k = 0; k < sizeof(perm) / sizeof(perm[0]); k++) {
		struct ps_gold *g = ps_gold_new(NULL);
		struct ps_gold_version v[8];
		size_t n;

		for (i = 0; i < 5; i++) {
			char enc[8];

			snprintf(enc, sizeof(enc), "e%d", perm[k][i]);
			obs(g, enc, tm[perm[k][i]], gd[perm[k][i]], 39);
		}
		n = ps_gold_history(g, "P", v, 8);
		cr_assert_eq(n, 3, "order %zu", k);
		cr_assert_eq(v[0].effective_from, ts(tm[0]));
		cr_assert_eq(v[0].last_seen, ts(tm[1]), "order %zu", k);
		cr_assert_eq(v[1].effective_from, ts(tm[2]));
		cr_assert_str_eq(v[1].gender, "Female");
		cr_assert_eq(v[2].effective_from, ts(tm[3]), "order %zu", k);
		cr_assert_eq(v[2].last_seen, ts(tm[4]));
		ps_gold_free(g);
	}
}

/* Defect 4: the mean length of stay is the same in every order. */
Test(gold, kpi_los_mean_does_not_depend_on_order)
{
	/* whole seconds whose double sums round differently by order */
	static const char *dis[] = {
		"2026-01-11T11:23:56Z",	/* +905036 s */
		"2026-01-12T12:04:30Z",	/* +993870 s */
		"2026-01-11T07:18:19Z",	/* +890299 s */
	};
	struct ps_table ta[PS_GOLD_MAX_TABLES], tb[PS_GOLD_MAX_TABLES];
	struct ps_gold *a = ps_gold_new(NULL), *b = ps_gold_new(NULL);
	struct ps_table *la, *lb;
	int64_t now = ts("2026-02-01T00:00:00Z");
	size_t na, nb, i;

	cr_assert_eq(ts(dis[0]) - ts("2026-01-01"), 905036LL * 1000000);
	cr_assert_eq(ts(dis[1]) - ts("2026-01-01"), 993870LL * 1000000);
	cr_assert_eq(ts(dis[2]) - ts("2026-01-01"), 890299LL * 1000000);
	for (i = 0; i < 3; i++) {
		char e[8], p[8];

		snprintf(e, sizeof(e), "e%zu", i);
		snprintf(p, sizeof(p), "p%zu", i);
		enc_rec(a, e, p, "Male", 50, "ICU", dis[i],
			"2026-01-01T00:00:00Z", dis[i]);
	}
	for (i = 3; i-- > 0;) {
		char e[8], p[8];

		snprintf(e, sizeof(e), "e%zu", i);
		snprintf(p, sizeof(p), "p%zu", i);
		enc_rec(b, e, p, "Male", 50, "ICU", dis[i],
			"2026-01-01T00:00:00Z", dis[i]);
	}
	ps_gold_tables(a, now, 24LL * 3600 * 1000000, ta, &na);
	ps_gold_tables(b, now, 24LL * 3600 * 1000000, tb, &nb);
	la = table_named(ta, na, "kpi_los");
	lb = table_named(tb, nb, "kpi_los");
	cr_assert_eq(la->nrows, 1);
	cr_assert_eq(memcmp(&la->v[3].v.d, &lb->v[3].v.d, sizeof(double)), 0,
		     "%.17g != %.17g", la->v[3].v.d, lb->v[3].v.d);
	release_tables(ta, na);
	release_tables(tb, nb);
	ps_gold_free(a);
	ps_gold_free(b);
}

/* A gold state over the built-in departments, its tables and a buffer. */
struct fx {
	struct ps_departments ds;
	struct ps_gold *g;
	struct ps_table t[PS_GOLD_MAX_TABLES];
	size_t n;
	struct ps_buf v;
};

static void fx_init(struct fx *f)
{
	memset(f, 0, sizeof(*f));
	ps_departments_defaults(&f->ds);
	f->g = ps_gold_new(&f->ds);
}

/* The tables as of now; the named one. */
static struct ps_table *fx_table(struct fx *f, const char *now,
				 const char *name)
{
	if (!f->n)
		ps_gold_tables(f->g, ts(now), 24LL * 3600 * 1000000, f->t,
			       &f->n);
	return table_named(f->t, f->n, name);
}

static void fx_done(struct fx *f)
{
	release_tables(f->t, f->n);
	ps_buf_release(&f->v);
	ps_gold_free(f->g);
	ps_departments_release(&f->ds);
}

/* Stays from the year 1 are valid records: 200 of them (6.4e16 us each)
 * overflow a 64-bit sum of microseconds; the mean stays exact. */
Test(gold, kpi_los_mean_of_stays_from_the_year_1)
{
	struct fx f;
	struct ps_table *l;
	size_t i;

	fx_init(&f);
	for (i = 0; i < 200; i++) {
		char e[16], p[16];

		snprintf(e, sizeof(e), "e%zu", i);
		snprintf(p, sizeof(p), "p%zu", i);
		enc_rec(f.g, e, p, "Female", 50, "ICU", "2026-01-01T00:00:00Z",
			"0001-01-01T00:00:00Z", "2026-01-01T00:00:00Z");
	}
	l = fx_table(&f, "2026-02-01T00:00:00Z", "kpi_los");
	cr_assert_eq(l->nrows, 1);
	cr_assert_str_eq(find_col(l, 0, "discharges", &f.v), "200");
	/* 739,616 days */
	cr_assert_str_eq(find_col(l, 0, "avg_los_hours", &f.v), "17750784");
	fx_done(&f);
}

/* Defect 2: a discharge after "now" is not a discharge yet. */
Test(gold, discharges_after_now_count_nowhere)
{
	struct fx f;
	struct ps_table *l, *o, *tu;

	fx_init(&f);
	/* discharged: 10 h; still in: discharge dated after now, 200 h */
	enc_rec(f.g, "e1", "p1", "Male", 50, "ICU", "2026-01-01T10:00:00Z",
		"2026-01-01T00:00:00Z", "2026-01-01T10:00:00Z");
	enc_rec(f.g, "e2", "p2", "Male", 50, "ICU", "2026-01-05T00:00:00Z",
		"2026-01-05T00:00:00Z", "2026-01-13T08:00:00Z");
	l = fx_table(&f, "2026-01-10T00:00:00Z", "kpi_los");
	cr_assert_str_eq(find_col(l, 0, "discharges", &f.v), "1");
	cr_assert_str_eq(find_col(l, 0, "avg_los_hours", &f.v), "10");
	o = fx_table(&f, NULL, "kpi_overstay");
	cr_assert_eq(o->nrows, 1);
	cr_assert_str_eq(find_col(o, 0, "overstay_discharged", &f.v), "0");
	cr_assert_str_eq(find_col(o, 0, "overstay_current", &f.v), "1");
	tu = fx_table(&f, NULL, "kpi_bed_turnover");
	cr_assert_str_eq(find_col(tu, 0, "discharges", &f.v), "1");
	fx_done(&f);
}

/* Defect 5: hospital occupancy counts patients and beds of the same
 * departments. */
Test(gold, hospital_occupancy_leaves_out_departments_without_beds)
{
	struct fx f;
	struct ps_table *h;

	fx_init(&f);
	enc_rec(f.g, "e1", "p1", "Male", 50, "ICU", "2026-01-09T00:00:00Z",
		"2026-01-09T00:00:00Z", NULL);
	enc_rec(f.g, "e2", "p2", "Male", 50, "Radiology",
		"2026-01-09T00:00:00Z", "2026-01-09T00:00:00Z", NULL);
	h = fx_table(&f, "2026-01-10T00:00:00Z", "kpi_occupancy_hospital");
	cr_assert_str_eq(find_col(h, 0, "census", &f.v), "1");
	{
		char b[16];
		int icu = ps_departments_find(&f.ds, "ICU", 3);

		snprintf(b, sizeof(b), "%d",
			 ps_department_beds(&f.ds.d[icu], 1));
		cr_assert_str_eq(find_col(h, 0, "beds", &f.v), b);
	}
	cr_assert_str_eq(find_col(h, 0, "census_without_beds", &f.v), "1");
	fx_done(&f);
}

/* Defect 6: an encounter whose discharge was lost leaves the census once
 * it is older than its department's limit, and is counted apart. */
Test(gold, lost_discharges_become_stale_not_census)
{
	struct fx f;
	struct ps_table *o;

	fx_init(&f);
	/* seen 3 days ago in the ED and never discharged; one seen now */
	cr_assert_eq(feed(f.g, "{\"encounter_id\":\"e1\",\"event_type\":"
		"\"SEEN\",\"event_time\":\"2026-01-07T00:10:00Z\","
		"\"patient_id\":\"p1\",\"gender\":\"Male\",\"age\":50,"
		"\"department\":\"Emergency\",\"hospital_id\":1,\"bed_id\":3,"
		"\"arrival_time\":\"2026-01-07T00:00:00Z\","
		"\"admission_time\":\"2026-01-07T00:00:00Z\","
		"\"seen_time\":\"2026-01-07T00:10:00Z\"}"), 1);
	cr_assert_eq(feed(f.g, "{\"encounter_id\":\"e2\",\"event_type\":"
		"\"SEEN\",\"event_time\":\"2026-01-09T23:10:00Z\","
		"\"patient_id\":\"p2\",\"gender\":\"Male\",\"age\":50,"
		"\"department\":\"Emergency\",\"hospital_id\":1,\"bed_id\":4,"
		"\"arrival_time\":\"2026-01-09T23:00:00Z\","
		"\"admission_time\":\"2026-01-09T23:00:00Z\","
		"\"seen_time\":\"2026-01-09T23:10:00Z\"}"), 1);
	/* and one still in the waiting room: not in a bed */
	cr_assert_eq(feed(f.g, "{\"encounter_id\":\"e3\",\"event_type\":"
		"\"TRIAGE\",\"event_time\":\"2026-01-09T23:50:00Z\","
		"\"patient_id\":\"p3\",\"gender\":\"Male\",\"age\":50,"
		"\"department\":\"Emergency\",\"hospital_id\":1,"
		"\"arrival_time\":\"2026-01-09T23:45:00Z\","
		"\"admission_time\":\"2026-01-09T23:45:00Z\","
		"\"triage_level\":3}"), 1);
	o = fx_table(&f, "2026-01-10T00:00:00Z", "kpi_occupancy");
	cr_assert_eq(o->nrows, 1);
	cr_assert_str_eq(find_col(o, 0, "census", &f.v), "1");
	cr_assert_str_eq(find_col(o, 0, "census_stale", &f.v), "1");
	cr_assert_str_eq(find_col(o, 0, "waiting", &f.v), "1");
	fx_done(&f);
}

Test(gold, version_sk_is_the_key_of_id_unit_separator_decimal_time)
{
	static const int64_t t[] = { 0, 7, -1, 1767225600000000LL,
				     -86400000000LL, INT64_MAX, INT64_MIN };
	char b[64];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int n = snprintf(b, sizeof(b), "P-42\x1f%lld", (long long)t[i]);

		cr_assert_eq(ps_gold_version_sk("P-42", t[i]),
			     ps_gold_sk(b, (size_t)n), "time %lld",
			     (long long)t[i]);
	}
}

/* Record k of a small ward: patient P<k % 7>, encounter e<k % 11>. */
static void ward(struct ps_gold *g, int k)
{
	char line[512];

	snprintf(line, sizeof(line), "{\"encounter_id\":\"e%d\","
		 "\"event_type\":\"UPDATE\",\"event_time\":"
		 "\"2026-01-%02dT%02d:00:00Z\",\"patient_id\":\"P%d\","
		 "\"gender\":\"%s\",\"age\":%d,\"department\":\"%s\","
		 "\"hospital_id\":%d,\"bed_id\":%d,"
		 "\"admission_time\":\"2026-01-%02dT00:00:00Z\"}",
		 k % 11, 1 + k % 28, k % 24, k % 7, k % 5 ? "Male" : "Female",
		 30 + k % 3, k % 4 ? "ICU" : "Surgery", 1 + k % 2, k,
		 1 + k % 9);
	cr_assert_geq(feed(g, line), 0);
}

static void assert_same_state(struct ps_gold *a, struct ps_gold *b)
{
	struct ps_buf sa = PS_BUF_INIT, sb = PS_BUF_INIT;

	ps_gold_snapshot(a, "{}", 2, &sa);
	ps_gold_snapshot(b, "{}", 2, &sb);
	cr_assert_eq(sa.len, sb.len);
	cr_assert_eq(memcmp(sa.data, sb.data, sa.len), 0);
	ps_buf_release(&sa);
	ps_buf_release(&sb);
}

/*
 * A state shed of its lookup slots (before the last commit of a run)
 * holds none, still finds its patients, and takes more records as a
 * state never shed: the same patients, encounters and snapshot.
 */
Test(gold, shed_state_takes_records_again)
{
	struct ps_gold *a = ps_gold_new(NULL), *b = ps_gold_new(NULL);
	struct ps_gold_version v[2];
	int k;

	for (k = 0; k < 40; k++) {
		ward(a, k);
		ward(b, k);
	}
	cr_assert_gt(ps_gold_index_bytes(a), 0);
	ps_gold_shed(a);
	cr_assert_eq(ps_gold_index_bytes(a), 0);
	assert_same_state(a, b);
	cr_assert_eq(ps_gold_history(a, "P3", v, 2),
		     ps_gold_history(b, "P3", v, 2));
	cr_assert_gt(ps_gold_history(a, "P3", v, 2), 0);
	for (; k < 200; k++) {		/* old and new ids */
		char id[16];

		snprintf(id, sizeof(id), "Q%d", k);
		ward(a, k * 3);
		ward(b, k * 3);
		cr_assert_eq(enc_rec(a, id, id, "Male", 40, "ICU",
				     "2026-01-05T10:00:00Z",
				     "2026-01-05T10:00:00Z", NULL), 1);
		cr_assert_eq(enc_rec(b, id, id, "Male", 40, "ICU",
				     "2026-01-05T10:00:00Z",
				     "2026-01-05T10:00:00Z", NULL), 1);
	}
	cr_assert_eq(ps_gold_npatients(a), 7 + 160);
	cr_assert_eq(ps_gold_index_bytes(a), ps_gold_index_bytes(b));
	cr_assert_eq(ps_gold_npatients(a), ps_gold_npatients(b));
	cr_assert_eq(ps_gold_nencounters(a), ps_gold_nencounters(b));
	assert_same_state(a, b);
	ps_gold_free(a);
	ps_gold_free(b);
}

/* 3,000 encounters of their own patients over 10 days from 2026-01-01,
 * day after day (each record on another day than the one before). */
static void ten_days(struct ps_gold *g)
{
	char id[32], adm[32];
	int k;

	for (k = 0; k < 3000; k++) {
		snprintf(id, sizeof(id), "E%d", k);
		snprintf(adm, sizeof(adm), "2026-01-%02dT10:00:00Z",
			 1 + k % 10);
		cr_assert_eq(enc_rec(g, id, id, "Male", 40, "ICU", adm, adm,
				     NULL), 1);
	}
}

/*
 * Records whose admission days alternate keep about one entry a day of
 * the changed days, not one a record; the set taken is the same 10
 * days, and is empty after; a day seen before the take comes back when
 * a record changes it again.
 */
Test(gold, changed_days_stay_few)
{
	struct ps_gold *g = ps_gold_new(NULL);
	int32_t *days, jan1 = (int32_t)(ts("2026-01-01") / PS_USEC_PER_DAY);
	size_t nd, i;

	ten_days(g);
	cr_assert_leq(ps_gold_dirty_held(g), 10);
	days = ps_gold_take_dirty(g, &nd);
	cr_assert_eq(nd, 10);
	for (i = 0; i < nd; i++)
		cr_assert_eq(days[i], jan1 + (int32_t)i);
	cr_assert_eq(ps_gold_dirty_held(g), 0);
	free(days);
	cr_assert_eq(enc_rec(g, "E0", "E0", "Male", 40, "Surgery",
			     "2026-01-01T10:00:00Z", "2026-01-01T10:00:00Z",
			     NULL), 1);
	days = ps_gold_take_dirty(g, &nd);
	cr_assert_geq(nd, 1);
	cr_assert_eq(days[0], jan1);
	free(days);
	ps_gold_free(g);
}

/*
 * A fact write over 10 days of 300 encounters each sorts one partition
 * at a time: 4 bytes a row of the days and 16 a row of one day, not 16 a
 * row of them all; the partitions hold their rows.
 */
Test(gold, fact_sort_holds_one_partition)
{
	struct ps_gold *g = ps_gold_new(NULL);
	struct ps_table t[10];
	int32_t *days;
	size_t nd, i;

	ten_days(g);
	days = ps_gold_take_dirty(g, &nd);
	cr_assert_eq(nd, 10);
	ps_gold_fact_partitions(g, days, nd, ts("2026-02-01T00:00:00Z"), t);
	for (i = 0; i < nd; i++)
		cr_assert_eq(t[i].nrows, 300);
	release_tables(t, nd);
	cr_assert_eq(ps_gold_fact_sort_bytes(g), 3000 * 4 + 300 * 16);
	free(days);
	ps_gold_free(g);
}

/* n encounters of their own patients (ids prefix0, prefix1...) admitted
 * on 2026-01-05. */
static void one_day(struct ps_gold *g, const char *prefix, int n)
{
	char id[32];
	int k;

	for (k = 0; k < n; k++) {
		snprintf(id, sizeof(id), "%s%d", prefix, k);
		cr_assert_eq(enc_rec(g, id, id, "Male", 40, "ICU",
				     "2026-01-05T10:00:00Z",
				     "2026-01-05T10:00:00Z", NULL), 1);
	}
}

/*
 * The lookup slots take 4 bytes each (at least two slots an id: about 8
 * bytes a patient and 8 an encounter here), and every id is found again
 * through them after each growth of the tables (their hash bits shrink
 * as the tables grow).
 */
Test(gold, lookup_slots_are_4_bytes)
{
	struct ps_gold *g = ps_gold_new(NULL);
	struct ps_gold_version v[2];
	char id[32];
	int k;

	one_day(g, "S", 1000);
	for (k = 0; k < 1000; k++) {
		snprintf(id, sizeof(id), "S%d", k);
		cr_assert_eq(ps_gold_history(g, id, v, 2), 1, "%s", id);
		/* the same ids again change nothing */
		cr_assert_eq(enc_rec(g, id, id, "Male", 40, "ICU",
				     "2026-01-05T10:00:00Z",
				     "2026-01-05T10:00:00Z", NULL), 0);
	}
	cr_assert_eq(ps_gold_npatients(g), 1000);
	cr_assert_eq(ps_gold_nencounters(g), 1000);
	/* 2,048 slots each for patients and encounters, 128 or 256 for
	 * departments and symbols */
	cr_assert_geq(ps_gold_index_bytes(g), 4 * (2048 + 2048 + 128 + 128));
	cr_assert_leq(ps_gold_index_bytes(g), 4 * (2048 + 2048 + 256 + 256));
	ps_gold_free(g);
}

/* Restore g's snapshot into the empty b: b's snapshot is the same, byte
 * for byte. */
static void restore_same(struct ps_gold *g, struct ps_gold *b)
{
	struct ps_buf s = PS_BUF_INIT;
	struct ps_error e = { 0, "" };
	const char *pos;
	size_t poslen;

	ps_gold_snapshot(g, "{}", 2, &s);
	cr_assert_eq(ps_gold_restore(b, s.data, s.len, &pos, &poslen, &e),
		     0, "%s", e.msg);
	ps_buf_release(&s);
	assert_same_state(g, b);
}

/* The encounter id text of row j of fact partition f. */
static int fact_eid_is(const struct ps_table *f, size_t j, const char *id)
{
	const struct ps_pq_value *v =
		&f->v[j * f->ncols + ps_table_col(f, "encounter_id")];

	return v->v.s.len == strlen(id) && !memcmp(v->v.s.p, id, v->v.s.len);
}

/*
 * What a patient and an encounter cost (issue 15: at most 200 MiB for a
 * million of each): a patient of one observation and one encounter with
 * a UUID id 73 bytes (a 44-byte record with no padding, a 4-byte
 * reference to its id, which takes 8 bytes of hash and the 16 bytes of
 * the UUID after a tag), an encounter id of its patient's UUID, '@' and
 * a time 65 (a 44-byte record with no padding, its bed where an
 * extension's index would be, 4, 8, and 9 for the tag, the patient's
 * index and 4 bytes of seconds).  Before: 83 and 91 (8-byte pointers and
 * hashes in a 16-byte key, the length and a NUL around each id, the
 * UUID again and 8 bytes of seconds, 48-byte records).  The same after
 * a snapshot is restored.  An encounter with an extension (ED fields)
 * keeps its bed there: 112 bytes more.
 */
Test(gold, a_patient_takes_73_bytes_and_an_encounter_65)
{
	static const char ed[] = "{\"encounter_id\":\"E-ed\","
		"\"event_time\":\"2026-01-05T10:00:00Z\","
		"\"patient_id\":\"P-ed\",\"gender\":\"Male\",\"age\":40,"
		"\"department\":\"ED\",\"hospital_id\":1,"
		"\"admission_time\":\"2026-01-05T10:00:00Z\","
		"\"triage_level\":2,\"bed_id\":7}";
	struct ps_gold *b = ps_gold_new(NULL);
	struct ps_gold *g = ps_gold_new(NULL);
	int32_t day = (int32_t)(ts("2026-01-05") / PS_USEC_PER_DAY);
	struct ps_table f;
	char pid[40], eid[64];
	size_t pb, eb, j;
	int k;

	for (k = 0; k < 1000; k++) {
		snprintf(pid, sizeof(pid), "%08x-0000-4000-8000-%012x",
			 (unsigned)k * 2654435761u, (unsigned)k);
		snprintf(eid, sizeof(eid), "%s@2026-01-05T10:00:00Z", pid);
		cr_assert_eq(enc_rec(g, eid, pid, "Male", 40, "ICU",
				     "2026-01-05T10:00:00Z",
				     "2026-01-05T10:00:00Z", NULL), 1);
	}
	cr_assert_eq(ps_gold_npatients(g), 1000);
	cr_assert_eq(ps_gold_nencounters(g), 1000);
	ps_gold_state_bytes(g, &pb, &eb);
	cr_assert_eq(pb, 1000 * 73, "%zu bytes a patient", pb / 1000);
	cr_assert_eq(eb, 1000 * 65, "%zu bytes an encounter", eb / 1000);
	restore_same(g, b);
	ps_gold_state_bytes(b, &pb, &eb);
	cr_assert_eq(pb, 1000 * 73);
	cr_assert_eq(eb, 1000 * 65);
	ps_gold_free(b);
	/* a second encounter of the first patient, a day later: its two
	 * encounters (4 bytes each) and its two observations (16 bytes
	 * each) go to the heap, and the new encounter takes 65 bytes */
	snprintf(pid, sizeof(pid), "%08x-0000-4000-8000-%012x", 0u, 0u);
	snprintf(eid, sizeof(eid), "%s@2026-01-06T10:00:00Z", pid);
	cr_assert_eq(enc_rec(g, eid, pid, "Male", 40, "ICU",
			     "2026-01-06T10:00:00Z", "2026-01-06T10:00:00Z",
			     NULL), 1);
	ps_gold_state_bytes(g, &pb, &eb);
	cr_assert_eq(pb, 1000 * 73 + 2 * 4 + 2 * 16, "%zu", pb);
	cr_assert_eq(eb, 1001 * 65);
	/* an ED encounter: an extension, its bed in it (ids of 4
	 * characters, as text: 8 + 1 + 1 + 4 + 1 bytes each) */
	cr_assert_eq(feed(g, ed), 1);
	ps_gold_state_bytes(g, &pb, &eb);
	cr_assert_eq(eb, 1001 * 65 + 44 + 4 + 15 + 112, "%zu", eb);
	cr_assert_eq(pb, 1000 * 73 + 2 * 4 + 2 * 16 + 44 + 4 + 15, "%zu",
		     pb);
	b = ps_gold_new(NULL);
	restore_same(g, b);
	ps_gold_fact_partitions(b, &day, 1, ts("2026-02-01T00:00:00Z"), &f);
	for (j = 0; j < f.nrows && !fact_eid_is(&f, j, "E-ed"); j++)
		;
	cr_assert_lt(j, f.nrows);
	cr_assert_eq(f.v[j * f.ncols + ps_table_col(&f, "bed_id")].v.i, 7);
	ps_table_release(&f);
	ps_gold_free(b);
	ps_gold_free(g);
}

/* A record of encounter enc of patient p admitted on 2026-01-05 at
 * 10:00, at event time 2026-01-05T<et>. */
static int jan5(struct ps_gold *g, const char *enc, const char *p,
		const char *et)
{
	char t[32];

	snprintf(t, sizeof(t), "2026-01-05T%s", et);
	return enc_rec(g, enc, p, "Male", 40, "ICU", t,
		       "2026-01-05T10:00:00Z", NULL);
}

/*
 * An encounter id of a UUID that is a patient's id, '@' and a time is
 * held by the patient's index (tag 4), one whose UUID is no patient's
 * (yet) by the UUID: whichever way it is held, a record of the same id
 * finds it (a patient whose id is that UUID may come later, a record may
 * name another patient), the tables hold the id as it came, and the
 * snapshot (the ids in 25 bytes, as before) restores the same state.
 */
Test(gold, an_encounter_id_finds_its_encounter_held_either_way)
{
	static const char *u1 = "0b2a8519-8872-47ae-974e-37bafd7693f6";
	static const char *u2 = "6f1c2d3e-4a5b-4c6d-8e7f-a0b1c2d3e4f5";
	static const char *e1 = "0b2a8519-8872-47ae-974e-37bafd7693f6"
				"@2026-01-05T10:00:00Z";
	static const char *e2 = "6f1c2d3e-4a5b-4c6d-8e7f-a0b1c2d3e4f5"
				"@2026-01-05T10:00:00Z";
	struct ps_gold *g = ps_gold_new(NULL), *b = ps_gold_new(NULL);
	struct ps_table f;
	int64_t now = ts("2026-02-01T00:00:00Z");
	int32_t day = (int32_t)(ts("2026-01-05") / PS_USEC_PER_DAY);
	size_t pb, eb, j, seen = 0;

	/* e1 before any patient u1: held by its UUID (21 bytes) */
	cr_assert_eq(jan5(g, e1, "P-x", "10:00:00Z"), 1);
	/* patient u1 comes; e1 again with u1 finds the first */
	cr_assert_eq(jan5(g, "other", u1, "11:00:00Z"), 1);
	cr_assert_eq(jan5(g, e1, u1, "12:00:00Z"), 1);
	cr_assert_eq(ps_gold_nencounters(g), 2);
	/* e2 with its patient u2: held by u2's index (9 bytes); e2 with
	 * another patient (a new one) finds it */
	cr_assert_eq(jan5(g, e2, u2, "10:00:00Z"), 1);
	cr_assert_eq(jan5(g, e2, "P-y", "09:00:00Z"), 1);
	cr_assert_eq(ps_gold_nencounters(g), 3);
	cr_assert_eq(ps_gold_npatients(g), 4);
	ps_gold_state_bytes(g, &pb, &eb);
	/* 44 + 4 + 8 each, and the ids: 21, 1 + 6 + 1 ("other"), 9 */
	cr_assert_eq(eb, 3 * 56 + 21 + 8 + 9, "%zu", eb);
	ps_gold_fact_partitions(g, &day, 1, now, &f);
	cr_assert_eq(f.nrows, 3);
	for (j = 0; j < f.nrows; j++)
		seen += fact_eid_is(&f, j, e1) + fact_eid_is(&f, j, e2) * 2 +
			fact_eid_is(&f, j, "other") * 4;
	cr_assert_eq(seen, 7);
	ps_table_release(&f);
	restore_same(g, b);
	/* restored, e1 is u1's now: both ids by their patient's index */
	ps_gold_state_bytes(b, &pb, &eb);
	cr_assert_eq(eb, 3 * 56 + 9 + 8 + 9, "%zu", eb);
	cr_assert_eq(jan5(b, e1, u1, "12:00:00Z"), 0);
	cr_assert_eq(jan5(b, e2, u2, "10:00:00Z"), 0);
	cr_assert_eq(ps_gold_nencounters(b), 3);
	ps_gold_free(g);
	ps_gold_free(b);
}

/* The rows of the first chunk a streamed fact partition fills (the
 * partition's own count when it is not streamed) into *(size_t *)ctx. */
static int first_chunk(void *ctx, int32_t day, const struct ps_table *t)
{
	struct ps_table c;
	size_t cursor = 0;

	(void)day;
	ps_table_init(&c, t->name, t->cols, t->ncols);
	*(size_t *)ctx = t->fill ? t->fill(t->fill_ctx, &cursor, &c) :
				   t->nrows;
	ps_table_release(&c);
	return 0;
}

/* A fact partition of 3,000 encounters is streamed in chunks of 1,024
 * rows (the least that is filled ahead on a thread). */
Test(gold, fact_rows_stream_in_chunks_of_1024)
{
	struct ps_gold *g = ps_gold_new(NULL);
	size_t n = 0, nd;
	int32_t *days;

	one_day(g, "F", 3000);
	days = ps_gold_take_dirty(g, &nd);
	cr_assert_eq(nd, 1);
	cr_assert_eq(ps_gold_fact_each(g, days, nd,
				       ts("2026-02-01T00:00:00Z"),
				       first_chunk, &n), 0);
	cr_assert_eq(n, 1024);
	free(days);
	ps_gold_free(g);
}

Test(gold, snapshot_plus_deltas_restores_the_same_state)
{
	struct ps_gold *a = ps_gold_new(NULL), *b = ps_gold_new(NULL);
	struct ps_buf s0 = PS_BUF_INIT, d1 = PS_BUF_INIT, d2 = PS_BUF_INIT;
	struct ps_error e = { 0, "" };
	const char *pos;
	size_t poslen;
	int k;

	for (k = 0; k < 20; k++)
		ward(a, k);
	ps_gold_snapshot(a, "{\"s\":0}", 7, &s0);
	ps_gold_mark_clean(a);
	for (; k < 45; k++)		/* old and new patients, encounters */
		ward(a, k * 3);
	ps_gold_delta(a, "{\"s\":1}", 7, &d1);
	for (; k < 60; k++)
		ward(a, k * 5 + 1);
	ps_gold_delta(a, "{\"s\":2}", 7, &d2);
	cr_assert_lt(d2.len, s0.len + d1.len, "a delta holds the change");

	cr_assert_eq(ps_gold_restore(b, s0.data, s0.len, &pos, &poslen, &e),
		     0, "%s", e.msg);
	cr_assert_eq(ps_gold_apply_delta(b, d1.data, d1.len, &pos, &poslen,
					 &e), 0, "%s", e.msg);
	cr_assert_eq(ps_gold_apply_delta(b, d2.data, d2.len, &pos, &poslen,
					 &e), 0, "%s", e.msg);
	ps_gold_relink(b);
	cr_assert_eq(poslen, 7);
	cr_assert_eq(memcmp(pos, "{\"s\":2}", 7), 0);
	assert_same_state(a, b);

	/* both go on alike, and their next deltas agree */
	for (; k < 80; k++) {
		ward(a, k * 7);
		ward(b, k * 7);
	}
	assert_same_state(a, b);
	ps_buf_reset(&d1);
	ps_buf_reset(&d2);
	ps_gold_delta(a, "{}", 2, &d1);
	ps_gold_delta(b, "{}", 2, &d2);
	cr_assert_eq(d1.len, d2.len);

	/* a delta out of order does not fit */
	ps_gold_free(b);
	b = ps_gold_new(NULL);
	ps_buf_reset(&d1);
	ps_gold_delta(a, "{}", 2, &d1);	/* nothing new: fits anything */
	cr_assert_eq(ps_gold_restore(b, s0.data, s0.len, &pos, &poslen, &e),
		     0);
	ps_buf_reset(&d1);
	obs(a, "new-encounter", "2026-02-01T00:00:00Z", "Male", 50);
	ps_gold_delta(a, "{}", 2, &d1);	/* made from a's state */
	obs(b, "other", "2026-02-01T00:00:00Z", "Male", 50); /* b differs */
	cr_assert_eq(ps_gold_apply_delta(b, d1.data, d1.len, &pos, &poslen,
					 &e), -1);
	cr_assert_eq(e.code, 78);
	cr_assert_eq(ps_gold_apply_delta(b, d2.data, d2.len / 2, &pos,
					 &poslen, &e), -1);
	ps_buf_release(&s0);
	ps_buf_release(&d1);
	ps_buf_release(&d2);
	ps_gold_free(a);
	ps_gold_free(b);
}

/* The fact row of a state holding one encounter admitted 2026-01-01:
 * is_currently_admitted and discharge_time as "a|b" into v. */
static const char *fact_of(struct ps_gold *g, struct ps_buf *v)
{
	int32_t day = (int32_t)(ts("2026-01-01T00:00:00Z") /
				(86400LL * 1000000));
	struct ps_table t;
	struct ps_buf c = PS_BUF_INIT;

	ps_gold_fact_partitions(g, &day, 1, ts("2026-01-03T00:00:00Z"), &t);
	cr_assert_eq(t.nrows, 1);
	ps_buf_reset(v);
	ps_buf_adds(v, find_col(&t, 0, "is_currently_admitted", &c));
	ps_buf_addc(v, '|');
	ps_buf_adds(v, find_col(&t, 0, "discharge_time", &c));
	ps_table_release(&t);
	ps_buf_release(&c);
	return v->data;
}

/* HL7 A13: CANCEL_DISCHARGE erases the discharge it follows, in any
 * arrival order; a later discharge counts again; at the same event time
 * the cancel wins (its time may be that of the discharge it cancels). */
Test(gold, cancel_discharge_undoes_the_discharge_in_any_order)
{
	static const char *const recs[] = {
		"{\"encounter_id\":\"E\",\"event_type\":\"ADMIT\","
		"\"event_time\":\"2026-01-01T10:00:00Z\",\"patient_id\":\"P\","
		"\"gender\":\"Female\",\"age\":30,\"department\":\"ICU\","
		"\"hospital_id\":1,\"bed_id\":5,"
		"\"admission_time\":\"2026-01-01T10:00:00Z\"}",
		"{\"encounter_id\":\"E\",\"event_type\":\"DISCHARGE\","
		"\"event_time\":\"2026-01-02T10:00:00Z\",\"patient_id\":\"P\","
		"\"gender\":\"Female\",\"age\":30,\"department\":\"ICU\","
		"\"hospital_id\":1,\"bed_id\":5,"
		"\"admission_time\":\"2026-01-01T10:00:00Z\","
		"\"discharge_time\":\"2026-01-02T10:00:00Z\"}",
		"{\"encounter_id\":\"E\",\"event_type\":\"CANCEL_DISCHARGE\","
		"\"event_time\":\"2026-01-02T11:00:00Z\",\"patient_id\":\"P\","
		"\"gender\":\"Female\",\"age\":30,\"department\":\"ICU\","
		"\"hospital_id\":1,\"bed_id\":5,"
		"\"admission_time\":\"2026-01-01T10:00:00Z\","
		"\"discharge_time\":null}",
	};
	static const char again[] = "{\"encounter_id\":\"E\",\"event_type\":"
		"\"DISCHARGE\",\"event_time\":\"%s\",\"patient_id\":\"P\","
		"\"gender\":\"Female\",\"age\":30,\"department\":\"ICU\","
		"\"hospital_id\":1,\"admission_time\":\"2026-01-01T10:00:00Z\","
		"\"discharge_time\":\"2026-01-02T12:00:00Z\"}";
	static const int order[6][3] = {
		{ 0, 1, 2 }, { 0, 2, 1 }, { 1, 0, 2 }, { 1, 2, 0 },
		{ 2, 0, 1 }, { 2, 1, 0 },
	};
	char line[512];
	int k, i;

	for (k = 0; k < 6; k++) {
		struct fx f;

		fx_init(&f);
		for (i = 0; i < 3; i++)
			feed(f.g, recs[order[k][i]]);
		cr_assert_str_eq(fact_of(f.g, &f.v), "true|null", "order %d",
				 k);
		/* a discharge at the cancel's time loses: cancels win ties */
		snprintf(line, sizeof(line), again, "2026-01-02T11:00:00Z");
		feed(f.g, line);
		cr_assert_str_eq(fact_of(f.g, &f.v), "true|null", "order %d",
				 k);
		/* a later one discharges again */
		snprintf(line, sizeof(line), again, "2026-01-02T11:30:00Z");
		feed(f.g, line);
		fact_of(f.g, &f.v);
		cr_assert(!strncmp(f.v.data, "false|", 6), "order %d: %s", k,
			  f.v.data);
		fx_done(&f);
	}
	/* an A13 at the time of the A03 it cancels, in both orders */
	for (k = 0; k < 2; k++) {
		struct fx f;
		char *c = strdup(recs[2]), *at = strstr(c, "T11:00");

		at[2] = '0';		/* 2026-01-02T10:00:00Z */
		fx_init(&f);
		feed(f.g, k ? c : recs[1]);
		feed(f.g, k ? recs[1] : c);
		cr_assert_str_eq(fact_of(f.g, &f.v), "true|null", "order %d",
				 k);
		fx_done(&f);
		free(c);
	}
}

/* The fact rows of admission day 2026-01-01 and the census of the
 * occupancy table as of 2026-01-03 (all departments). */
static size_t facts_and_census(struct fx *f, long *census)
{
	int32_t day = (int32_t)(ts("2026-01-01T00:00:00Z") /
				(86400LL * 1000000));
	struct ps_table t, *o;
	size_t n, i;

	ps_gold_fact_partitions(f->g, &day, 1, ts("2026-01-03T00:00:00Z"),
				&t);
	n = t.nrows;
	ps_table_release(&t);
	release_tables(f->t, f->n);
	f->n = 0;
	o = fx_table(f, "2026-01-03T00:00:00Z", "kpi_occupancy");
	*census = 0;
	for (i = 0; i < o->nrows; i++)
		*census += atol(find_col(o, i, "census", &f->v));
	return n;
}

/* HL7 A11: CANCEL_ADMIT removes the encounter from the facts and every
 * KPI, in any arrival order and across a snapshot and a delta; records
 * other than ADMIT, ARRIVAL or untyped ones after it (a TRANSFER, an
 * UPDATE) do not bring it back, an ADMIT at the cancel's time neither
 * (cancels win ties), a later ADMIT does. */
Test(gold, cancel_admit_removes_the_encounter_in_any_order)
{
	static const char rec[] = "{\"encounter_id\":\"E\",\"event_type\":"
		"\"%s\",\"event_time\":\"2026-01-01T%s:00Z\","
		"\"patient_id\":\"P\",\"gender\":\"Female\",\"age\":30,"
		"\"department\":\"%s\",\"hospital_id\":1,\"bed_id\":5,"
		"\"admission_time\":\"2026-01-01T10:00:00Z\"}";
	static const char *const ev[3][3] = {
		{ "ADMIT", "10:00", "ICU" },
		{ "CANCEL_ADMIT", "11:00", "ICU" },
		{ "TRANSFER", "12:00", "Surgery" },
	};
	static const int order[6][3] = {
		{ 0, 1, 2 }, { 0, 2, 1 }, { 1, 0, 2 }, { 1, 2, 0 },
		{ 2, 0, 1 }, { 2, 1, 0 },
	};
	char line[512];
	long census;
	int k, i;

	for (k = 0; k < 6; k++) {
		struct fx f;
		struct ps_gold *b;
		struct ps_buf s = PS_BUF_INIT, d = PS_BUF_INIT;
		struct ps_error e = { 0, "" };
		const char *pos;
		size_t poslen;

		fx_init(&f);
		b = ps_gold_new(&f.ds);
		for (i = 0; i < 3; i++) {
			snprintf(line, sizeof(line), rec, ev[order[k][i]][0],
				 ev[order[k][i]][1], ev[order[k][i]][2]);
			cr_assert_eq(feed(f.g, line), 1, "order %d", k);
			if (i == 0) {
				ps_gold_snapshot(f.g, "{}", 2, &s);
				ps_gold_mark_clean(f.g);
			}
		}
		cr_assert_eq(facts_and_census(&f, &census), 0, "order %d", k);
		cr_assert_eq(census, 0, "order %d", k);
		/* the state log carries it */
		ps_gold_delta(f.g, "{}", 2, &d);
		cr_assert_eq(ps_gold_restore(b, s.data, s.len, &pos, &poslen,
					     &e), 0, "%s", e.msg);
		cr_assert_eq(ps_gold_apply_delta(b, d.data, d.len, &pos,
						 &poslen, &e), 0, "%s", e.msg);
		ps_gold_relink(b);
		assert_same_state(f.g, b);

		snprintf(line, sizeof(line), rec, "UPDATE", "13:00", "ICU");
		feed(f.g, line);
		snprintf(line, sizeof(line), rec, "ADMIT", "11:00", "ICU");
		feed(f.g, line);
		cr_assert_eq(facts_and_census(&f, &census), 0, "order %d", k);
		snprintf(line, sizeof(line), rec, "ADMIT", "11:30", "ICU");
		cr_assert_eq(feed(f.g, line), 1);
		cr_assert_eq(facts_and_census(&f, &census), 1, "order %d", k);
		cr_assert_eq(census, 1, "order %d", k);
		ps_buf_release(&s);
		ps_buf_release(&d);
		ps_gold_free(b);
		fx_done(&f);
	}
}

/* A stored id's length is kept before its bytes, in one byte below 255
 * and five from 255 on: ids around that bound and far beyond come back
 * as they came in lookups, tables and a restored snapshot. */
Test(gold, long_ids_come_back_as_they_came)
{
	static const size_t lens[] = { 1, 253, 254, 255, 256, 300, 5000 };
	const size_t n = sizeof(lens) / sizeof(lens[0]);
	struct ps_gold *g = ps_gold_new(NULL), *b = ps_gold_new(NULL);
	struct ps_buf s = PS_BUF_INIT;
	struct ps_error e = { 0, "" };
	struct ps_gold_version v[2];
	char *ids[sizeof(lens) / sizeof(lens[0])];
	const char *pos;
	size_t i, poslen;

	for (i = 0; i < n; i++) {
		ids[i] = malloc(lens[i] + 1);
		memset(ids[i], 'a' + (int)i, lens[i]);
		ids[i][lens[i]] = '\0';
		ps_buf_reset(&s);
		ps_buf_addf(&s, "{\"encounter_id\":\"%s\",\"patient_id\":"
			    "\"%s\",\"gender\":\"Male\",\"age\":40,"
			    "\"department\":\"ICU\",\"hospital_id\":1,"
			    "\"admission_time\":\"2026-01-05T10:00:00Z\"}",
			    ids[i], ids[i]);
		cr_assert_eq(feed(g, s.data), 1);
		/* the same again changes nothing: it is found */
		cr_assert_eq(feed(g, s.data), 0);
	}
	ps_buf_reset(&s);
	cr_assert_eq(ps_gold_npatients(g), n);
	ps_gold_snapshot(g, "{}", 2, &s);
	cr_assert_eq(ps_gold_restore(b, s.data, s.len, &pos, &poslen, &e), 0,
		     "%s", e.msg);
	assert_same_state(g, b);
	for (i = 0; i < n; i++) {
		cr_assert_eq(ps_gold_history(b, ids[i], v, 2), 1, "%zu",
			     lens[i]);
		free(ids[i]);
	}
	ps_buf_release(&s);
	ps_gold_free(g);
	ps_gold_free(b);
}

/* Patient and encounter ids are stored packed when they are UUIDs or a
 * UUID, '@' and a time in whole seconds (lib/gold.c key_pack): every id
 * comes back as it came in the tables, the snapshot and the lookups,
 * and ids that only look alike stay apart. */
Test(gold, packed_ids_come_back_as_they_came)
{
	static const char *ids[] = {
		"0b2a8519-8872-47ae-974e-37bafd7693f6",
		"0B2A8519-8872-47ae-974e-37bafd7693f6",	/* upper case */
		"0b2a8519-8872-47ae-974e-37bafd7693f",	/* 35 characters */
		"0b2a8519x8872-47ae-974e-37bafd7693f6",
		"0b2a8519-8872-47ae-974e-37bafd7693g6",
		"0b2a8519-8872-47ae-974e-37bafd7693f6@2024-12-30T14:00:00Z",
		"0b2a8519-8872-47ae-974e-37bafd7693f6@2024-12-30T14:00:00.5Z",
		"0b2a8519-8872-47ae-974e-37bafd7693f6@2024-12-30T14:00:00z",
		"0b2a8519-8872-47ae-974e-37bafd7693f6@2024-12-30 14:00:00Z",
		"0b2a8519-8872-47ae-974e-37bafd7693f6@2024-12-31T14:00:00Z",
		"0b2a8519-8872-47ae-974e-37bafd7693f6|2024-12-30T14:00:00Z",
		"ffffffff-ffff-ffff-ffff-ffffffffffff@1900-01-01T00:00:00Z",
	};
	const size_t n = sizeof(ids) / sizeof(ids[0]);
	struct ps_gold *g = ps_gold_new(NULL), *b = ps_gold_new(NULL);
	struct ps_buf s1 = PS_BUF_INIT, s2 = PS_BUF_INIT;
	struct ps_error e = { 0, "" };
	struct ps_table t[PS_GOLD_MAX_TABLES], f;
	struct ps_gold_version v[2];
	int64_t now = ts("2026-02-01T00:00:00Z");
	int32_t day = (int32_t)(ts("2026-01-05") / PS_USEC_PER_DAY), *days;
	size_t i, j, nt, nd, seen;
	const char *pos;
	size_t poslen;

	for (i = 0; i < n; i++)
		cr_assert_eq(enc_rec(g, ids[i], ids[i], "Male", 40, "ICU",
				     "2026-01-05T10:00:00Z",
				     "2026-01-05T10:00:00Z", NULL), 1);
	cr_assert_eq(ps_gold_npatients(g), n);
	cr_assert_eq(ps_gold_nencounters(g), n);
	for (i = 0; i < n; i++)
		cr_assert_eq(ps_gold_history(g, ids[i], v, 2), 1, "%s", ids[i]);
	cr_assert_eq(ps_gold_history(g, "0b2a8519-8872-47ae-974e-"
				     "37bafd7693f7", v, 2), 0);
	/* dim_patient and the fact rows hold the ids as they came */
	ps_gold_tables(g, now, 24LL * 3600 * 1000000, t, &nt);
	ps_table_fill_all(&t[0]);
	cr_assert_eq(t[0].nrows, n);
	for (i = 0, seen = 0; i < n; i++)
		for (j = 0; j < n; j++) {
			const struct ps_pq_value *c =
				&t[0].v[j * t[0].ncols +
					ps_table_col(&t[0], "patient_id")];

			seen += c->v.s.len == strlen(ids[i]) &&
				!memcmp(c->v.s.p, ids[i], c->v.s.len);
		}
	cr_assert_eq(seen, n);
	release_tables(t, nt);
	days = ps_gold_take_dirty(g, &nd);
	cr_assert_eq(nd, 1);
	cr_assert_eq(days[0], day);
	free(days);
	ps_gold_fact_partitions(g, &day, 1, now, &f);
	cr_assert_eq(f.nrows, n);
	for (j = 0; j < n; j++) {
		const struct ps_pq_value *en =
			&f.v[j * f.ncols + ps_table_col(&f, "encounter_id")];
		const struct ps_pq_value *pi =
			&f.v[j * f.ncols + ps_table_col(&f, "patient_id")];

		cr_assert_eq(en->v.s.len, pi->v.s.len);
		cr_assert_eq(memcmp(en->v.s.p, pi->v.s.p, en->v.s.len), 0);
		for (i = 0; i < n; i++)
			if (en->v.s.len == strlen(ids[i]) &&
			    !memcmp(en->v.s.p, ids[i], en->v.s.len))
				break;
		cr_assert_lt(i, n, "%.*s", (int)en->v.s.len, en->v.s.p);
	}
	ps_table_release(&f);
	/* the snapshot holds the ids packed, and a restore gives the same
	 * state: every id found again */
	ps_gold_snapshot(g, "{}", 2, &s1);
	cr_assert_eq(ps_gold_restore(b, s1.data, s1.len, &pos, &poslen, &e),
		     0, "%s", e.msg);
	ps_gold_snapshot(b, "{}", 2, &s2);
	cr_assert_eq(s1.len, s2.len);
	cr_assert_eq(memcmp(s1.data, s2.data, s1.len), 0);
	for (i = 0; i < n; i++)
		cr_assert_eq(ps_gold_history(b, ids[i], v, 2), 1, "%s", ids[i]);
	ps_buf_release(&s1);
	ps_buf_release(&s2);
	ps_gold_free(g);
	ps_gold_free(b);
}

/* A state of the older formats (gold_state_v4.h): the snapshot plus the
 * delta give the state that the same records give (its snapshot in the
 * current format, byte for byte). */
Test(gold, older_snapshot_and_delta_still_load)
{
	struct ps_gold *a = ps_gold_new(NULL), *b = ps_gold_new(NULL);
	struct ps_error e = { 0, "" };
	const char *pos;
	size_t poslen, i;

	for (i = 0; i < sizeof(old_r1) / sizeof(old_r1[0]); i++)
		cr_assert_eq(feed(a, old_r1[i]), 1);
	for (i = 0; i < sizeof(old_r2) / sizeof(old_r2[0]); i++)
		cr_assert_eq(feed(a, old_r2[i]), 1);
	cr_assert_eq(ps_gold_restore(b, (const char *)old_snap,
				     sizeof(old_snap), &pos, &poslen, &e),
		     0, "%s", e.msg);
	cr_assert_eq(ps_gold_apply_delta(b, (const char *)old_delta,
					 sizeof(old_delta), &pos, &poslen,
					 &e), 0, "%s", e.msg);
	cr_assert_eq(poslen, 7);
	cr_assert_eq(memcmp(pos, "{\"s\":1}", 7), 0);
	ps_gold_relink(b);
	assert_same_state(a, b);
	/* and a cut older snapshot is refused */
	ps_gold_free(b);
	b = ps_gold_new(NULL);
	cr_assert_eq(ps_gold_restore(b, (const char *)old_snap,
				     sizeof(old_snap) - 40, &pos, &poslen,
				     &e), -1);
	cr_assert_eq(e.code, 78);
	ps_gold_free(a);
	ps_gold_free(b);
}

/* The snapshot holds ids packed and encounters in their stored form:
 * a patient with one observation and one encounter, both with UUID ids
 * (silver's derived encounter id), take at most 120 bytes (285 in the
 * older format), in a snapshot and in a delta. */
/* n patients of UUID ids, an encounter each (silver's derived ids). */
static void uuid_patients(struct ps_gold *g, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char id[40], enc[128];

		snprintf(id, sizeof(id), "0b2a8519-8872-47ae-974e-%012zx",
			 i * 7919);
		snprintf(enc, sizeof(enc), "%s@2026-01-05T10:%02zu:00Z", id,
			 i % 60);
		cr_assert_eq(enc_rec(g, enc, id, i % 2 ? "Male" : "Female",
				     (int)(i % 90), "ICU",
				     "2026-01-05T10:00:00Z",
				     "2026-01-05T10:00:00Z", NULL), 1);
	}
}

Test(gold, snapshot_is_compact)
{
	struct ps_gold *g = ps_gold_new(NULL), *b = ps_gold_new(NULL);
	struct ps_buf s = PS_BUF_INIT, d = PS_BUF_INIT;
	struct ps_error e = { 0, "" };
	const char *pos;
	size_t poslen, n = 1000;

	uuid_patients(g, n);
	ps_gold_snapshot(g, "{}", 2, &s);
	cr_assert_leq(s.len, n * 120, "%zu bytes a patient", s.len / n);
	ps_gold_delta(g, "{}", 2, &d);
	cr_assert_leq(d.len, n * 120, "%zu bytes a patient", d.len / n);
	cr_assert_eq(ps_gold_restore(b, s.data, s.len, &pos, &poslen, &e), 0,
		     "%s", e.msg);
	assert_same_state(g, b);
	ps_buf_release(&s);
	ps_buf_release(&d);
	ps_gold_free(g);
	ps_gold_free(b);
}

/* The KPI tables of g as of now, one JSON line per row, into b. */
static void kpi_text(struct ps_gold *g, int64_t now, struct ps_buf *b)
{
	struct ps_table t[PS_GOLD_MAX_TABLES];
	size_t n, i, j;

	ps_buf_reset(b);
	ps_gold_tables(g, now, 24LL * 3600 * 1000000, t, &n);
	for (i = 1; i < n; i++) {
		ps_buf_addf(b, "== %s\n", t[i].name);
		for (j = 0; j < t[i].nrows; j++)
			ps_table_row_json(&t[i], j, b);
	}
	release_tables(t, n);
}

/*
 * KPIs that follow the change: a state fed in batches, its tables made
 * after each batch as the clock moves (by hours, days, a month, not at
 * all), equal those of a new state fed the same records, made once; once
 * the clock has moved past the windows, a commit goes over the encounters
 * records touched (and their patients') only.
 */
Test(gold, kpis_follow_the_change_and_equal_a_pass_over_everything)
{
	static const char *const depts[] = { "ICU", "Emergency", "Surgery",
					     "Cardiology", "Lab" };
	static const char *const genders[] = { "Male", "Female", "Other" };
	static const int64_t step_h[] = { 7, 0, 30, 1, 24 * 31, 5, 2, 0, 100,
					  24 * 40 };
	struct ps_departments ds;
	struct ps_gold *inc, *one;
	struct ps_buf a = PS_BUF_INIT, b = PS_BUF_INIT, line = PS_BUF_INIT;
	char **recs = NULL;
	size_t nrec = 0, i, k, fed = 0;
	int64_t h = 3600LL * 1000000, t0 = ts("2026-01-01T00:00:00Z");
	int64_t now = t0 + 20 * 24 * h;
	uint64_t x = 42;

	ps_departments_defaults(&ds);
	inc = ps_gold_new(&ds);
	/* encounters of 400 patients over 60 days: ED visits with their
	 * times, discharges, some cancelled, some still open, and genders
	 * that change (new SCD2 versions of patients with settled stays) */
	recs = calloc(4 * 2000, sizeof(*recs));
	for (i = 0; i < 2000; i++) {
		int64_t adm, arr, dis;
		char ta[PS_TIME_MAX], tr[PS_TIME_MAX], td[PS_TIME_MAX];
		char tseen[PS_TIME_MAX];
		const char *dept, *gender;
		int r;

		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		r = (int)(x >> 33);
		dept = depts[r % 5];
		gender = genders[(r >> 3) % 3 == 2 && i % 7 ? 0 : (r >> 3) % 3];
		adm = t0 + (int64_t)((x >> 20) % (60 * 24)) * h +
		      (int64_t)(r % 3600) * 1000000;
		arr = adm - (int64_t)(r % 90 + 1) * 60 * 1000000;
		dis = adm + (int64_t)((r >> 5) % 240 + 1) * h / 4;
		ta[ps_time_format(adm, ta, 6)] = '\0';
		tr[ps_time_format(arr, tr, 6)] = '\0';
		td[ps_time_format(dis, td, 6)] = '\0';
		tseen[ps_time_format(arr + (int64_t)(r % 40) * 60 * 1000000,
				     tseen, 6)] = '\0';
		ps_buf_reset(&line);
		ps_buf_addf(&line, "{\"encounter_id\":\"e%zu\",\"event_type\":"
			    "\"ADMIT\",\"event_time\":\"%s\",\"patient_id\":"
			    "\"p%zu\",\"gender\":\"%s\",\"age\":%d,"
			    "\"department\":\"%s\",\"hospital_id\":%d,"
			    "\"admission_time\":\"%s\",\"arrival_time\":\"%s\""
			    "%s%s%s}", i, ta, i % 400, gender, 20 + r % 60,
			    dept, 1 + r % 2, ta, tr,
			    r % 4 ? ",\"seen_time\":\"" : "",
			    r % 4 ? tseen : "", r % 4 ? "\"" : "");
		recs[nrec++] = ps_xstrdup(line.data);
		if (r % 10 < 7) {
			ps_buf_reset(&line);
			ps_buf_addf(&line, "{\"encounter_id\":\"e%zu\","
				    "\"event_type\":\"DISCHARGE\",\"event_time\":"
				    "\"%s\",\"patient_id\":\"p%zu\",\"gender\":"
				    "\"%s\",\"age\":%d,\"department\":\"%s\","
				    "\"hospital_id\":%d,\"admission_time\":\"%s\","
				    "\"discharge_time\":\"%s\"%s}", i, td,
				    i % 400, gender, 20 + r % 60, dept,
				    1 + r % 2, ta, td, r % 11 == 3 ?
				    ",\"decision_time\":\"2026-01-01T00:00:00Z\""
				    : "");
			recs[nrec++] = ps_xstrdup(line.data);
		}
		if (r % 23 == 5) {
			ps_buf_reset(&line);
			ps_buf_addf(&line, "{\"encounter_id\":\"e%zu\","
				    "\"event_type\":\"CANCEL_ADMIT\","
				    "\"event_time\":\"%s\",\"patient_id\":"
				    "\"p%zu\",\"gender\":\"%s\",\"age\":%d,"
				    "\"department\":\"%s\",\"hospital_id\":%d,"
				    "\"admission_time\":\"%s\"}", i, td,
				    i % 400, gender, 20 + r % 60, dept,
				    1 + r % 2, ta);
			recs[nrec++] = ps_xstrdup(line.data);
		}
	}
	/* hour by hour first (open stays go stale between two census
	 * samples), then by the steps */
	for (k = 0; k < 60; k++) {
		size_t upto = fed + nrec / 12 + 1;

		for (; fed < nrec && fed < upto; fed++)
			feed(inc, recs[fed]);
		now += (k < 50 ? 1 : step_h[k - 50]) * h;
		kpi_text(inc, now, &a);
		one = ps_gold_new(&ds);
		for (i = 0; i < fed; i++)
			feed(one, recs[i]);
		kpi_text(one, now, &b);
		cr_assert_eq(ps_gold_kpi_visited(one), ps_gold_nencounters(one));
		cr_assert(a.len > 1000 && a.len == b.len &&
			  !memcmp(a.data, b.data, a.len), "batch %zu", k);
		ps_gold_free(one);
	}
	/* long after every window: nothing to go over but what changes;
	 * patient p7 becomes Other: its 5 settled stays count so now */
	now += 24 * 60 * h;
	kpi_text(inc, now, &a);
	kpi_text(inc, now, &a);
	cr_assert_lt(ps_gold_kpi_visited(inc), ps_gold_nencounters(inc) / 10);
	ps_buf_reset(&line);
	ps_buf_addf(&line, "{\"encounter_id\":\"e7\",\"event_type\":"
		    "\"UPDATE\",\"event_time\":\"2026-06-01T00:00:00Z\","
		    "\"patient_id\":\"p7\",\"gender\":\"Other\",\"age\":99,"
		    "\"department\":\"ICU\",\"hospital_id\":1,"
		    "\"admission_time\":\"2026-01-02T00:00:00Z\"}");
	feed(inc, line.data);
	kpi_text(inc, now, &a);
	cr_assert_geq(ps_gold_kpi_visited(inc), 5);
	cr_assert_lt(ps_gold_kpi_visited(inc), ps_gold_nencounters(inc) / 10);
	one = ps_gold_new(&ds);
	for (i = 0; i < nrec; i++)
		feed(one, recs[i]);
	feed(one, line.data);
	/* made at start (ps_gold_kpi_warm), the first commit's KPIs go
	 * over what is not settled only */
	ps_gold_kpi_warm(one, now, 24LL * 3600 * 1000000);
	kpi_text(one, now, &b);
	cr_assert_lt(ps_gold_kpi_visited(one), ps_gold_nencounters(one) / 10);
	cr_assert(a.len == b.len && !memcmp(a.data, b.data, a.len));
	ps_gold_free(one);
	for (i = 0; i < nrec; i++)
		free(recs[i]);
	free(recs);
	ps_buf_release(&a);
	ps_buf_release(&b);
	ps_buf_release(&line);
	ps_gold_free(inc);
	ps_departments_release(&ds);
}

/*
 * The settled sums of the KPIs hold a cell per (department, gender),
 * (age band, gender) and (admission day, gender) that encounters use,
 * whatever the number of distinct symbols or the span of the days: 400
 * patients each with a gender of their own in 20 departments, then an
 * admission in the year 1000 next to ones of 2026.
 */
Test(gold, kpi_sums_grow_with_the_cells_used_not_symbols_or_days)
{
	struct ps_departments ds;
	struct ps_gold *g;
	struct ps_buf a = PS_BUF_INIT;
	char enc[32], pat[32], gender[32], dept[32], adm[32], dis[32];
	size_t i, cells;
	int64_t now = ts("2026-06-01T00:00:00Z");
	int pass;

	ps_departments_defaults(&ds);
	for (pass = 0; pass < 2; pass++) {
		size_t n = pass ? 40 : 400;

		g = ps_gold_new(&ds);
		for (i = 0; i < n; i++) {
			snprintf(enc, sizeof(enc), "e%zu", i);
			snprintf(pat, sizeof(pat), "p%zu", i);
			if (pass)
				snprintf(gender, sizeof(gender), "%s",
					 i % 2 ? "Male" : "Female");
			else
				snprintf(gender, sizeof(gender), "g%zu", i);
			snprintf(dept, sizeof(dept), "ward %zu", i % 20);
			snprintf(adm, sizeof(adm), "%s-01-%02zuT%02zu:00:00Z",
				 pass && i == 7 ? "1000" : "2026", 1 + i % 28,
				 i % 24);
			snprintf(dis, sizeof(dis), "%s-02-%02zuT%02zu:00:00Z",
				 pass && i == 7 ? "1000" : "2026", 1 + i % 28,
				 i % 24);
			enc_rec(g, enc, pat, gender, 20 + (int)(i % 60), dept,
				adm, adm, dis);
		}
		/* two commits: every stay settled at the first */
		kpi_text(g, now, &a);
		enc_rec(g, "new", "p1", pass ? "Male" : "g1", 21, "ward 1",
			"2026-05-31T23:00:00Z", "2026-05-31T23:00:00Z", NULL);
		kpi_text(g, now + 3600LL * 1000000, &a);
		cr_assert_gt(a.len, 1000);
		/* at most: a cell each in los, demographics and volume per
		 * encounter, and the departments */
		cells = 3 * (n + 1) + 20;
		cr_expect_leq(ps_gold_kpi_bytes(g), 256 * cells + 16384,
			      "%s: %zu bytes for %zu cells",
			      pass ? "year 1000" : "400 genders",
			      ps_gold_kpi_bytes(g), cells);
		ps_gold_free(g);
	}
	ps_buf_release(&a);
	ps_departments_release(&ds);
}

/* A snapshot written on a thread of its own (ps_gold_snapshot_write). */
struct ahead {
	const struct ps_gold *g;
	struct ps_afile f;
	struct ps_buf b;
	struct ps_error e;
	int rc;
};

static void *ahead_main(void *arg)
{
	struct ahead *a = arg;

	a->rc = ps_gold_snapshot_write(a->g, "{}", 2, &a->f, &a->b, &a->e);
	return NULL;
}

static char *slurp(const char *path, size_t *n)
{
	FILE *fp = fopen(path, "rb");
	char *p;
	long len;

	cr_assert_not_null(fp, "%s", path);
	cr_assert_eq(fseek(fp, 0, SEEK_END), 0);
	len = ftell(fp);
	rewind(fp);
	p = malloc((size_t)len + 1);
	cr_assert_eq(fread(p, 1, (size_t)len, fp), (size_t)len);
	fclose(fp);
	*n = (size_t)len;
	return p;
}

/*
 * A commit that saves a snapshot writes it ahead on another thread while
 * its tables are made from the same state (lib/gold_run.c): sealed under
 * its temporary name it is not yet under its own, and once committed it
 * holds the bytes ps_gold_snapshot_save writes (several chunks of it).
 */
Test(gold, snapshot_written_ahead_is_unseen_until_committed_and_the_same)
{
	struct ps_gold *g = ps_gold_new(NULL);
	struct ahead a = { g, PS_AFILE_INIT, PS_BUF_INIT, { 0, "" }, -1 };
	struct ps_error e = { 0, "" };
	struct ps_table t[PS_GOLD_MAX_TABLES];
	char dir[] = "/tmp/ps-test-gold-XXXXXX", path[64], ref[64];
	size_t i, n = 30000, nt, la, lr;
	pthread_t th;
	char *pa, *pr;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/s.snap", dir);
	snprintf(ref, sizeof(ref), "%s/ref.snap", dir);
	uuid_patients(g, n);
	cr_assert_eq(ps_afile_open(&a.f, path, 0644, &e), 0, "%s", e.msg);
	ps_buf_grow(&a.b, PS_GOLD_SNAP_ROOM);
	cr_assert_eq(pthread_create(&th, NULL, ahead_main, &a), 0);
	ps_gold_tables(g, ts("2026-01-06T00:00:00Z"), 24LL * 3600 * 1000000,
		       t, &nt);
	for (i = 0; i < nt; i++)
		ps_table_fill_all(&t[i]);
	release_tables(t, nt);
	cr_assert_eq(pthread_join(th, NULL), 0);
	cr_assert_eq(a.rc, 0, "%s", a.e.msg);
	cr_assert_neq(access(a.f.tmp, F_OK), -1, "sealed under %s", a.f.tmp);
	cr_assert_eq(access(path, F_OK), -1, "not yet visible");
	cr_assert_eq(ps_afile_commit(&a.f, &e), 0, "%s", e.msg);
	cr_assert_eq(ps_gold_snapshot_save(g, "{}", 2, ref, &e), 0, "%s",
		     e.msg);
	pa = slurp(path, &la);
	pr = slurp(ref, &lr);
	cr_assert_gt(la, PS_GOLD_SNAP_ROOM, "%zu bytes", la);
	cr_assert(la == lr && !memcmp(pa, pr, la));
	free(pa);
	free(pr);
	ps_buf_release(&a.b);
	unlink(path);
	unlink(ref);
	rmdir(dir);
	ps_gold_free(g);
}

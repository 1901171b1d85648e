/* test_silver.c - rules, dedup window, commit protocol and dump. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "checkpoint.h"
#include "lake.h"
#include "departments.h"
#include "envelope.h"
#include "event.h"
#include "fsutil.h"
#include "pstime.h"
#include "silver.h"
#include "banned.h"

static char lake[64];

static void setup(void)
{
	snprintf(lake, sizeof(lake), "/tmp/test_silver.XXXXXX");
	cr_assert_not_null(mkdtemp(lake));
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", lake);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(silver, .init = setup, .fini = teardown);

static int64_t ts(const char *s)
{
	int64_t t = 0;

	cr_assert_eq(ps_time_parse(s, strlen(s), &t, NULL), 0, "%s", s);
	return t;
}

Test(silver, age_bands)
{
	cr_assert_str_eq(ps_silver_age_band(0), "0-9");
	cr_assert_str_eq(ps_silver_age_band(9), "0-9");
	cr_assert_str_eq(ps_silver_age_band(10), "10-19");
	cr_assert_str_eq(ps_silver_age_band(89), "80-89");
	cr_assert_str_eq(ps_silver_age_band(90), "90+");
	cr_assert_str_eq(ps_silver_age_band(120), "90+");
}

static struct ps_event ev;

static int check(const char *json, const char *now, int64_t max_future,
		 const struct ps_departments *ds)
{
	struct ps_event_parser *p = ps_event_parser_new();
	int rc = ps_event_parse(p, json, strlen(json), &ev);

	cr_assert_eq(rc, 0, "%s: %s", json, ev.detail);
	rc = ps_silver_check(&ev, ts(now), max_future, ds);
	ps_event_parser_free(p);
	return rc;
}

#define EV(age, adm, dis, extra)					\
	"{\"patient_id\":\"p\",\"gender\":\"F\",\"age\":" age ","	\
	"\"department\":\"ICU\",\"admission_time\":\"" adm "\","	\
	"\"discharge_time\":" dis ",\"bed_id\":1,\"hospital_id\":1"	\
	extra "}"

Test(silver, rules_need_context)
{
	int64_t h = 3600LL * PS_USEC_PER_SEC;

	cr_assert_eq(check(EV("121", "2026-01-01T00:00:00Z", "null", ""),
			   "2026-01-01", h, NULL), 1);
	cr_assert(ps_event_has_problem(&ev, PS_RULE_AGE_OUT_OF_RANGE));
	cr_assert_eq(check(EV("-1", "2026-01-01T00:00:00Z", "null", ""),
			   "2026-01-01", h, NULL), 1);
	cr_assert_eq(check(EV("120", "2026-01-01T01:00:00Z", "null", ""),
			   "2026-01-01", h, NULL), 0, "the bound is kept");
	cr_assert_eq(check(EV("0", "2026-01-01T01:00:01Z", "null", ""),
			   "2026-01-01", h, NULL), 1);
	cr_assert(ps_event_has_problem(&ev, PS_RULE_ADMISSION_IN_FUTURE));
	cr_assert_eq(check(EV("5", "2026-01-01T10:00:00Z",
			      "\"2026-01-01T09:59:59Z\"", ""),
			   "2026-01-02", h, NULL), 1);
	cr_assert(ps_event_has_problem(&ev,
				       PS_RULE_DISCHARGE_BEFORE_ADMISSION));
	cr_assert_eq(ev.problems[0].field, PS_EF_DISCHARGE_TIME);
}

Test(silver, flags_keep_the_record)
{
	struct ps_departments ds = PS_DEPARTMENTS_INIT;

	ps_departments_defaults(&ds);
	cr_assert_eq(check(EV("5", "2026-01-01T10:00:00Z", "null", ""),
			   "2026-01-02", 0, &ds), 0);
	cr_assert(!ps_event_has_problem(&ev, PS_RULE_UNKNOWN_DEPARTMENT));
	cr_assert_eq(check("{\"patient_id\":\"p\",\"gender\":\"F\",\"age\":5,"
			   "\"department\":\"Dermatology\",\"admission_time\":"
			   "\"2026-01-01T10:00:00Z\",\"arrival_time\":"
			   "\"2026-01-01T11:00:00Z\",\"bed_id\":1,"
			   "\"hospital_id\":1}", "2026-01-02", 0, &ds), 0);
	cr_assert(ps_event_has_problem(&ev, PS_RULE_UNKNOWN_DEPARTMENT));
	cr_assert(ps_event_has_problem(&ev, PS_RULE_ARRIVAL_AFTER_ADMISSION));
	ps_departments_release(&ds);
}

Test(silver, dedup_window_is_bounded)
{
	struct ps_dedup *d = ps_dedup_new(3);
	uint64_t k;

	for (k = 1; k <= 3; k++)
		cr_assert_eq(ps_dedup_check_add(d, k, 0, (long long)k), 0);
	cr_assert_eq(ps_dedup_check_add(d, 2, 0, 9), 1);
	cr_assert_eq(ps_dedup_count(d), 3);
	cr_assert_eq(ps_dedup_check_add(d, 4, 0, 4), 0, "evicts key 1");
	cr_assert_eq(ps_dedup_count(d), 3);
	cr_assert_eq(ps_dedup_check_add(d, 1, 0, 5), 0, "1 was forgotten");
	cr_assert_eq(ps_dedup_check_add(d, 3, 0, 6), 1);
	cr_assert_eq(ps_dedup_check_add(d, 4, 0, 6), 1);
	ps_dedup_free(d);
}

Test(silver, dedup_window_grows_to_its_bound)
{
	struct ps_dedup *d = ps_dedup_new(10000);
	uint64_t k;

	/* past the first allocation (4096), twice, then evicting */
	for (k = 1; k <= 25000; k++)
		cr_assert_eq(ps_dedup_check_add(d, k * 0x9e3779b97f4a7c15ULL,
						0, (long long)k), 0);
	cr_assert_eq(ps_dedup_count(d), 10000);
	for (k = 15001; k <= 25000; k++)	/* remembered: no change */
		cr_assert_eq(ps_dedup_check_add(d, k * 0x9e3779b97f4a7c15ULL,
						0, 0), 1,
			     "key %llu", (unsigned long long)k);
	cr_assert_eq(ps_dedup_check_add(d, 15000 * 0x9e3779b97f4a7c15ULL, 0,
					0), 0, "15000 was forgotten");
	cr_assert_eq(ps_dedup_check_add(d, 15001 * 0x9e3779b97f4a7c15ULL, 0,
					0), 0, "evicted by 15000");
	cr_assert_eq(ps_dedup_count(d), 10000);
	ps_dedup_free(d);
}

Test(silver, dedup_window_many_keys)
{
	struct ps_dedup *d = ps_dedup_new(1000);
	uint64_t k;

	/* Colliding low bits exercise the backward-shift deletion. */
	for (k = 1; k <= 5000; k++)
		cr_assert_eq(ps_dedup_check_add(d, k << 20, 0, 0), 0);
	for (k = 4001; k <= 5000; k++)
		cr_assert_eq(ps_dedup_check_add(d, k << 20, 0, 0), 1);
	for (k = 1; k <= 4000; k++)
		cr_assert_eq(ps_dedup_check_add(d, k << 20, 0, 0), 0,
			     "key %llu", (unsigned long long)k);
	ps_dedup_free(d);
}

Test(silver, dedup_key_prefers_event_id)
{
	struct ps_event a, b;
	const char *x = "{\"event_id\":\"e1\",\"age\":1}";
	const char *y = "{\"age\":2,\"event_id\":\"e1\"}";

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	a.present = b.present = 1u << PS_EF_EVENT_ID;
	a.event_id.p = b.event_id.p = "e1";
	a.event_id.len = b.event_id.len = 2;
	cr_assert_eq(ps_silver_dedup_key(&a, x, strlen(x)),
		     ps_silver_dedup_key(&b, y, strlen(y)));
	a.present = b.present = 0;
	cr_assert_neq(ps_silver_dedup_key(&a, x, strlen(x)),
		      ps_silver_dedup_key(&b, y, strlen(y)));
}

/* ---- running the stage ---- */

static int to_buf(void *ctx, const void *p, size_t n)
{
	if (p)
		ps_buf_add(ctx, p, n);
	return 0;
}

static void envelope(struct ps_buf *in, long long pos, const char *payload)
{
	struct ps_envelope env = { 0 };

	env.source = "stdin:admissions";
	env.source_len = strlen(env.source);
	env.position = pos;
	env.ingest_time = ts("2026-01-05T00:00:00Z");
	env.broker_time = PS_TIME_NONE;
	env.payload = payload;
	env.payload_len = strlen(payload);
	ps_envelope_format(in, &env);
}

static int run(const char *input, struct ps_silver_opts *o,
	       struct ps_buf *out, struct ps_error *e)
{
	char path[128];
	int fd, rc;

	snprintf(path, sizeof(path), "%s/.input", lake);
	cr_assert_eq(ps_write_file_atomic(path, input, strlen(input), 0644,
					  NULL), 0);
	fd = open(path, O_RDONLY);
	cr_assert(fd >= 0);
	rc = ps_silver_run(o, fd, to_buf, out, e);
	close(fd);
	return rc;
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static struct ps_silver_opts opts(void)
{
	struct ps_silver_opts o = PS_SILVER_OPTS_INIT;

	o.lake = lake;
	o.catch_up = 0;
	return o;
}

Test(silver, envelopes_commit_and_restart_skips)
{
	struct ps_buf in = PS_BUF_INIT, out = PS_BUF_INIT, dump = PS_BUF_INIT;
	struct ps_silver_opts o = opts();
	struct ps_error e = { 0, "" };
	struct ps_checkpoint *cp = ps_checkpoint_new();
	char *paths[1];
	char dir[128];

	envelope(&in, 1, EV("40", "2026-01-01T10:00:00Z",
			    "\"2026-01-02T10:00:00Z\"", ""));
	envelope(&in, 2, EV("130", "2026-01-01T10:00:00Z", "null", ""));
	envelope(&in, 3, "{not json");
	envelope(&in, 4, EV("41", "2026-01-03T10:00:00Z", "null",
			    ",\"ward\":\"B\""));
	envelope(&in, 5, EV("41", "2026-01-03T10:00:00Z", "null",
			    ",\"ward\":\"B\""));
	cr_assert_eq(run(in.data, &o, &out, &e), 0, "%s", e.msg);
	cr_assert_eq(count_lines(out.data), 2, "%s", out.data);
	cr_assert(strstr(out.data, "\"los_hours\":24,"));
	cr_assert(strstr(out.data, "\"extra\":\"{\\\"ward\\\":\\\"B\\\"}\""));
	cr_assert(strstr(out.data, "\"age_band\":\"40-49\""));

	cr_assert_eq(ps_lake_committed(lake, PS_LAKE_SILVER, "admissions", cp,
				       &e), 0);
	cr_assert_eq(ps_checkpoint_get(cp, "stdin:admissions", 16), 5);

	/* stdout equals what the Parquet files hold */
	snprintf(dir, sizeof(dir), "%s/silver", lake);
	paths[0] = dir;
	cr_assert_eq(ps_silver_dump(paths, 1, NULL, to_buf, &dump, &e), 0, "%s",
		     e.msg);
	cr_assert_str_eq(dump.data, out.data);

	/* a rerun of the same input skips everything */
	ps_buf_reset(&out);
	cr_assert_eq(run(in.data, &o, &out, &e), 0, "%s", e.msg);
	cr_assert_eq(out.len, 0);
	ps_buf_release(&in);
	ps_buf_release(&out);
	ps_buf_release(&dump);
	ps_checkpoint_free(cp);
}

Test(silver, quarantine_file_has_reasons)
{
	struct ps_buf in = PS_BUF_INIT, out = PS_BUF_INIT;
	struct ps_silver_opts o = opts();
	struct ps_error e = { 0, "" };
	char cmd[256];
	FILE *f;
	char line[4096];

	envelope(&in, 1, EV("130", "2026-01-01T10:00:00Z", "null", ""));
	cr_assert_eq(run(in.data, &o, &out, &e), 0, "%s", e.msg);
	snprintf(cmd, sizeof(cmd), "zcat %s/quarantine/admissions/"
		 "date=2026-01-05/*.ndjson.gz", lake);
	f = popen(cmd, "r");
	cr_assert_not_null(fgets(line, sizeof(line), f));
	pclose(f);
	cr_assert(strstr(line, "\"reasons\":[\"age_out_of_range\"]"), "%s",
		  line);
	cr_assert(strstr(line, "\"field\":\"age\""));
	cr_assert(strstr(line, "\"position\":1,"));
	cr_assert(strstr(line, "\"raw\":\"{"));
	ps_buf_release(&in);
	ps_buf_release(&out);
}

Test(silver, incomplete_batch_removed_on_start)
{
	struct ps_buf in = PS_BUF_INIT, out = PS_BUF_INIT;
	struct ps_silver_opts o = opts();
	struct ps_error e = { 0, "" };
	char path[256];
	struct stat st;

	/* A file a killed run renamed into place, never checkpointed. */
	snprintf(path, sizeof(path), "%s/silver/admissions/admission_date="
		 "2026-01-01/part-stdin_admissions-00000000000000000001-"
		 "00000000000000000009.parquet", lake);
	cr_assert_eq(ps_write_file_atomic(path, "junk", 4, 0644, &e), 0);
	envelope(&in, 1, EV("40", "2026-01-01T10:00:00Z", "null", ""));
	cr_assert_eq(run(in.data, &o, &out, &e), 0, "%s", e.msg);
	cr_assert_eq(stat(path, &st), -1, "the incomplete batch is gone");
	cr_assert_eq(count_lines(out.data), 1);
	ps_buf_release(&in);
	ps_buf_release(&out);
}

Test(silver, dedup_across_restarts)
{
	struct ps_buf in = PS_BUF_INIT, out = PS_BUF_INIT;
	struct ps_silver_opts o = opts();
	struct ps_error e = { 0, "" };

	envelope(&in, 1, EV("40", "2026-01-01T10:00:00Z", "null",
			    ",\"event_id\":\"A\""));
	cr_assert_eq(run(in.data, &o, &out, &e), 0, "%s", e.msg);
	cr_assert_eq(count_lines(out.data), 1);
	ps_buf_reset(&in);
	ps_buf_reset(&out);
	/* the same event id again, at a new position, in a new run */
	envelope(&in, 2, EV("41", "2026-01-01T11:00:00Z", "null",
			    ",\"event_id\":\"A\""));
	envelope(&in, 3, EV("41", "2026-01-01T11:00:00Z", "null",
			    ",\"event_id\":\"B\""));
	cr_assert_eq(run(in.data, &o, &out, &e), 0, "%s", e.msg);
	cr_assert_eq(count_lines(out.data), 1, "%s", out.data);
	cr_assert(strstr(out.data, "\"event_id\":\"B\""));
	ps_buf_release(&in);
	ps_buf_release(&out);
}

Test(silver, strict_stops_at_first_bad_record)
{
	struct ps_buf in = PS_BUF_INIT, out = PS_BUF_INIT;
	struct ps_silver_opts o = opts();
	struct ps_error e = { 0, "" };
	struct ps_checkpoint *cp = ps_checkpoint_new();

	o.strict = 1;
	envelope(&in, 1, EV("40", "2026-01-01T10:00:00Z", "null", ""));
	envelope(&in, 2, EV("400", "2026-01-01T10:00:00Z", "null", ""));
	envelope(&in, 3, EV("41", "2026-01-01T10:00:00Z", "null", ""));
	cr_assert_eq(run(in.data, &o, &out, &e), -1);
	cr_assert_eq(e.code, 65);
	cr_assert(strstr(e.msg, "age_out_of_range"), "%s", e.msg);
	cr_assert_eq(count_lines(out.data), 1, "what came before is kept");
	cr_assert_eq(ps_lake_committed(lake, PS_LAKE_SILVER, "admissions", cp,
				       &e), 0);
	cr_assert_eq(ps_checkpoint_get(cp, "stdin:admissions", 16), 1);
	ps_checkpoint_free(cp);
	ps_buf_release(&in);
	ps_buf_release(&out);
}

Test(silver, plain_lines_do_not_touch_the_checkpoint)
{
	struct ps_buf out = PS_BUF_INIT;
	struct ps_silver_opts o = opts();
	struct ps_error e = { 0, "" };
	struct ps_checkpoint *cp = ps_checkpoint_new();
	const char *in = EV("40", "2026-01-01T10:00:00Z", "null", "") "\n"
		"\n" EV("41", "2026-01-01T10:00:00Z", "null", "") "\r\n";

	o.input = PS_INPUT_EVENTS;
	o.now = ts("2026-01-05");
	cr_assert_eq(run(in, &o, &out, &e), 0, "%s", e.msg);
	cr_assert_eq(count_lines(out.data), 2);
	cr_assert(strstr(out.data, "\"position\":2,"), "line index");
	cr_assert_eq(ps_lake_committed(lake, PS_LAKE_SILVER, "admissions", cp,
				       &e), 0);
	cr_assert_eq(ps_checkpoint_count(cp), 0);
	/* replaying the same lines: dedup by content drops them */
	ps_buf_reset(&out);
	cr_assert_eq(run(in, &o, &out, &e), 0, "%s", e.msg);
	cr_assert_eq(out.len, 0);
	ps_checkpoint_free(cp);
	ps_buf_release(&out);
}

Test(silver, rules_help_lists_every_rule)
{
	struct ps_buf b = PS_BUF_INIT;
	int i;

	ps_silver_rules_help(&b);
	for (i = 0; i < PS_RULE_COUNT; i++)
		cr_assert(strstr(b.data, ps_rules[i].code));
	ps_buf_release(&b);
}

static void envelope_src(struct ps_buf *in, const char *src, long long pos,
			 const char *payload)
{
	struct ps_envelope env = { 0 };

	env.source = src;
	env.source_len = strlen(src);
	env.position = pos;
	env.ingest_time = ts("2026-01-05T00:00:00Z");
	env.broker_time = PS_TIME_NONE;
	env.payload = payload;
	env.payload_len = strlen(payload);
	ps_envelope_format(in, &env);
}

Test(silver, interleaved_sources_share_a_commit)
{
	struct ps_buf in = PS_BUF_INIT, out = PS_BUF_INIT;
	struct ps_silver_opts o = opts();
	struct ps_error e = { 0, "" };
	struct ps_checkpoint *cp = ps_checkpoint_new();
	char cmd[256];
	FILE *f;
	int i, files = 0;
	char line[512];

	for (i = 0; i < 30; i++) {
		char src[32], pid[16], payload[256];

		snprintf(src, sizeof(src), "kafka:adm/%d", i % 3);
		snprintf(pid, sizeof(pid), "p%d", i);
		snprintf(payload, sizeof(payload), "{\"patient_id\":\"%s\","
			 "\"gender\":\"F\",\"age\":%d,\"department\":\"ICU\","
			 "\"admission_time\":\"2026-01-01T10:00:00Z\","
			 "\"bed_id\":1,\"hospital_id\":1}", pid,
			 i == 7 ? 200 : 30);
		envelope_src(&in, src, 100 + i / 3, payload);
	}
	cr_assert_eq(run(in.data, &o, &out, &e), 0, "%s", e.msg);
	cr_assert_eq(count_lines(out.data), 29);
	cr_assert_eq(ps_lake_committed(lake, PS_LAKE_SILVER, "admissions", cp,
				       &e), 0);
	cr_assert_eq(ps_checkpoint_count(cp), 3);
	for (i = 0; i < 3; i++) {
		char src[32];

		snprintf(src, sizeof(src), "kafka:adm/%d", i);
		cr_assert_eq(ps_checkpoint_get(cp, src, strlen(src)), 109);
	}
	/* one commit: one Parquet file per source, one quarantine file */
	snprintf(cmd, sizeof(cmd), "cd %s && find silver quarantine -name "
		 "'part-*' | sort", lake);
	f = popen(cmd, "r");
	while (fgets(line, sizeof(line), f)) {
		files++;
		cr_assert(strstr(line, "-00000000000000000100-"
				 "00000000000000000109."), "%s", line);
	}
	pclose(f);
	cr_assert_eq(files, 4);
	/* replayed, everything is skipped */
	ps_buf_reset(&out);
	cr_assert_eq(run(in.data, &o, &out, &e), 0, "%s", e.msg);
	cr_assert_eq(out.len, 0);
	ps_checkpoint_free(cp);
	ps_buf_release(&in);
	ps_buf_release(&out);
}

/* test_event.c - the typed event parser and the rule table. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "event.h"
#include "pstime.h"
#include "rand.h"
#include "banned.h"

#define GOOD "{\"patient_id\":\"p1\",\"gender\":\"Female\",\"age\":45," \
	"\"department\":\"ICU\",\"admission_time\":\"2026-01-02T03:04:05\"," \
	"\"discharge_time\":null,\"bed_id\":7,\"hospital_id\":3"

static struct ps_event_parser *p;
static struct ps_event ev;

static void setup(void)
{
	p = ps_event_parser_new();
}

static void teardown(void)
{
	ps_event_parser_free(p);
}

TestSuite(event, .init = setup, .fini = teardown);

static int parse(const char *s)
{
	return ps_event_parse(p, s, strlen(s), &ev);
}

/* The first problem's rule code, or "ok". */
static const char *first_rule(void)
{
	return ev.nproblems ? ps_rules[ev.problems[0].rule].code : "ok";
}

static const char *first_field(void)
{
	return ev.nproblems && ev.problems[0].field >= 0 ?
		ps_event_field_name(ev.problems[0].field) : "-";
}

Test(event, good_record_is_typed)
{
	int64_t t;

	cr_assert_eq(parse(GOOD "}"), 0, "%s", ev.detail);
	cr_assert_eq(ev.nproblems, 0);
	cr_assert_eq(ev.patient_id.len, 2);
	cr_assert_eq(memcmp(ev.patient_id.p, "p1", 2), 0);
	cr_assert_eq(ev.age, 45);
	cr_assert_eq(ev.bed_id, 7);
	cr_assert_eq(ev.hospital_id, 3);
	ps_time_parse("2026-01-02T03:04:05Z", 20, &t, NULL);
	cr_assert_eq(ev.admission_time, t, "naive time means UTC");
	cr_assert(!ps_event_has(&ev, PS_EF_DISCHARGE_TIME), "null is absent");
	cr_assert_eq(ev.extra.len, 0);
}

/* plain says the fast path read the record: its strings need no escape
 * (lib/silver.c writes them as they are); an escape, an unknown member
 * or spacing the fast path does not take leave it unset. */
Test(event, plain_only_for_the_fast_path)
{
	cr_assert_eq(parse(GOOD "}"), 0, "%s", ev.detail);
	cr_assert_eq(ev.plain, 1);
	cr_assert_eq(parse(GOOD ",\"event_id\":\"a\\\"b\"}"), 0, "%s",
		     ev.detail);
	cr_assert_eq(ev.plain, 0);
	cr_assert_eq(parse(GOOD ",\"note\":1}"), 0, "%s", ev.detail);
	cr_assert_eq(ev.plain, 0);
	cr_assert_eq(parse(GOOD ",\"x\":true}"), 0, "%s", ev.detail);
	cr_assert_eq(ev.plain, 0);
	cr_assert_eq(parse(GOOD ",\"event_id\":\"\\u00e9\"}"), 0, "%s",
		     ev.detail);
	cr_assert_eq(ev.plain, 0);
}

Test(event, timezone_normalised_to_utc)
{
	int64_t t;

	cr_assert_eq(parse("{\"patient_id\":\"p\",\"gender\":\"M\",\"age\":1,"
			   "\"department\":\"ICU\",\"admission_time\":"
			   "\"2026-01-02T05:04:05+02:00\",\"bed_id\":1,"
			   "\"hospital_id\":1}"), 0);
	ps_time_parse("2026-01-02T03:04:05Z", 20, &t, NULL);
	cr_assert_eq(ev.admission_time, t);
}

Test(event, unknown_fields_kept_in_extra)
{
	cr_assert_eq(parse(GOOD ",\"ward\":{\"a\":[1,2.5,\"x\",null,true]},"
			   "\"note\":\"caf\\u00e9\"}"), 0);
	cr_assert_eq(ev.extra.len,
		     strlen("{\"ward\":{\"a\":[1,2.5,\"x\",null,true]},"
			    "\"note\":\"caf\xc3\xa9\"}"));
	cr_assert_eq(memcmp(ev.extra.p, "{\"ward\":{\"a\":[1,2.5,\"x\",null,"
			    "true]},\"note\":\"caf\xc3\xa9\"}", ev.extra.len),
		     0, "%.*s", (int)ev.extra.len, ev.extra.p);
}

Test(event, int_as_string_is_wrong_type)
{
	cr_assert_eq(parse("{\"patient_id\":\"p\",\"gender\":\"M\",\"age\":"
			   "\"45\",\"department\":\"ICU\",\"admission_time\":"
			   "\"2026-01-02\",\"bed_id\":1,\"hospital_id\":1}"),
		     1);
	cr_assert_str_eq(first_rule(), "wrong_type");
	cr_assert_str_eq(first_field(), "age");
	cr_assert_eq(ev.nproblems, 1, "not also missing_field");
}

Test(event, fraction_is_wrong_type_zero_fraction_is_int)
{
	cr_assert_eq(parse(GOOD ",\"triage_level\":2.5}"), 1);
	cr_assert_str_eq(first_rule(), "wrong_type");
	cr_assert_str_eq(first_field(), "triage_level");
	cr_assert_eq(parse(GOOD ",\"triage_level\":2.0}"), 0);
	cr_assert_eq(ev.triage_level, 2);
}

Test(event, int32_range)
{
	cr_assert_eq(parse(GOOD ",\"triage_level\":99999999999999999999}"), 1);
	cr_assert_str_eq(first_rule(), "int_out_of_range");
	cr_assert_eq(parse(GOOD ",\"triage_level\":1e300}"), 1);
	cr_assert_str_eq(first_rule(), "int_out_of_range");
	cr_assert_eq(parse(GOOD ",\"triage_level\":-2147483649}"), 1);
	cr_assert_str_eq(first_rule(), "int_out_of_range");
	cr_assert_eq(parse(GOOD ",\"triage_level\":6}"), 1);
	cr_assert_str_eq(first_rule(), "invalid_value");
}

Test(event, missing_required_field_is_named)
{
	cr_assert_eq(parse("{\"patient_id\":\"p\",\"gender\":\"M\",\"age\":3,"
			   "\"admission_time\":\"2026-01-02\",\"bed_id\":1,"
			   "\"hospital_id\":1}"), 1);
	cr_assert_str_eq(first_rule(), "missing_field");
	cr_assert_str_eq(first_field(), "department");
	/* null for a required field is missing too */
	cr_assert_eq(parse("{\"patient_id\":null,\"gender\":\"M\",\"age\":3,"
			   "\"department\":\"ICU\",\"admission_time\":"
			   "\"2026-01-02\",\"bed_id\":1,\"hospital_id\":1}"),
		     1);
	cr_assert_str_eq(first_field(), "patient_id");
}

Test(event, bed_id_optional_only_for_arrival)
{
	const char *base = "{\"patient_id\":\"p\",\"gender\":\"M\",\"age\":3,"
		"\"department\":\"Emergency\",\"admission_time\":"
		"\"2026-01-02\",\"hospital_id\":1,\"event_type\":";
	struct ps_buf b = PS_BUF_INIT;

	ps_buf_addf(&b, "%s\"ARRIVAL\"}", base);
	cr_assert_eq(parse(b.data), 0, "%s", ev.detail);
	ps_buf_reset(&b);
	ps_buf_addf(&b, "%s\"ADMIT\"}", base);
	cr_assert_eq(parse(b.data), 1);
	cr_assert_str_eq(first_field(), "bed_id");
	ps_buf_reset(&b);
	ps_buf_addf(&b, "%s\"arrival\"}", base);
	cr_assert_eq(parse(b.data), 1);
	cr_assert_str_eq(first_rule(), "invalid_value");
	ps_buf_release(&b);
}

Test(event, bad_timestamp_is_named)
{
	cr_assert_eq(parse(GOOD ",\"arrival_time\":\"2026-02-30T00:00\"}"), 1);
	cr_assert_str_eq(first_rule(), "bad_timestamp");
	cr_assert_str_eq(first_field(), "arrival_time");
	cr_assert_eq(parse(GOOD ",\"event_time\":1767290403}"), 1);
	cr_assert_str_eq(first_rule(), "wrong_type");
}

Test(event, duplicate_keys)
{
	cr_assert_eq(parse(GOOD ",\"age\":46}"), 1);
	cr_assert_str_eq(first_rule(), "duplicate_key");
	cr_assert_str_eq(first_field(), "age");
	cr_assert_eq(parse(GOOD ",\"x\":1,\"x\":2}"), 1);
	cr_assert_str_eq(first_rule(), "duplicate_key");
}

Test(event, malformed_json)
{
	static const char *const bad[] = {
		"", "   ", "{", "[1,2]", "42", "\"s\"", "{\"a\":1}{}",
		"{\"a\":1,}", "{'a':1}", "{\"a\":1 /* c */}", "null",
		"{\"a\":\"\xff\"}", "\xef\xbb\xbf{}",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(parse(bad[i]), 1, "case %zu", i);
		cr_assert_str_eq(first_rule(), "malformed_json", "case %zu",
				 i);
		cr_assert_eq(ev.nproblems, 1);
		cr_assert(ev.detail[0]);
	}
}

Test(event, nul_byte_rejected)
{
	char s[] = GOOD "}";

	s[5] = '\0';
	cr_assert_eq(ps_event_parse(p, s, sizeof(s) - 1, &ev), 1);
	cr_assert_str_eq(first_rule(), "malformed_json");
	cr_assert(strstr(ev.detail, "nul_byte"));
}

Test(event, deep_nesting_rejected_without_recursion)
{
	size_t n = 10000, i;
	char *s = malloc(2 * n + 16);
	size_t k = 0;

	k += (size_t)snprintf(s, 16, "{\"x\":");
	for (i = 0; i < n; i++)
		s[k++] = '[';
	for (i = 0; i < n; i++)
		s[k++] = ']';
	s[k++] = '}';
	cr_assert_eq(ps_event_parse(p, s, k, &ev), 1);
	cr_assert_str_eq(first_rule(), "malformed_json");
	cr_assert(strstr(ev.detail, "too_deep"), "%s", ev.detail);
	free(s);
}

Test(event, wrong_type_container_skipped)
{
	cr_assert_eq(parse("{\"patient_id\":[\"a\",{\"b\":1}],\"gender\":"
			   "\"M\",\"age\":3,\"department\":\"ICU\","
			   "\"admission_time\":\"2026-01-02\",\"bed_id\":1,"
			   "\"hospital_id\":1,\"z\":[1]}"), 1);
	cr_assert_str_eq(first_rule(), "wrong_type");
	cr_assert_str_eq(first_field(), "patient_id");
	cr_assert_eq(ev.extra.len, strlen("{\"z\":[1]}"));
}

Test(event, parser_is_reusable_after_errors)
{
	cr_assert_eq(parse("{\"a\":"), 1);
	cr_assert_eq(parse(GOOD "}"), 0);
	cr_assert_eq(ev.age, 45);
}

Test(event, rule_table_is_complete)
{
	int i, j;

	for (i = 0; i < PS_RULE_COUNT; i++) {
		cr_assert_not_null(ps_rules[i].code, "rule %d", i);
		cr_assert_not_null(ps_rules[i].description);
		for (j = 0; j < i; j++)
			cr_assert_str_neq(ps_rules[i].code, ps_rules[j].code);
	}
	cr_assert_eq(ps_rules[PS_RULE_AGE_OUT_OF_RANGE].severity,
		     PS_SEV_QUARANTINE);
	cr_assert_eq(ps_rules[PS_RULE_UNKNOWN_DEPARTMENT].severity,
		     PS_SEV_FLAG);
	cr_assert_str_eq(ps_rule_severity_name(PS_SEV_DROP), "drop");
}

Test(event, escapes_and_surrogates)
{
	cr_assert_eq(parse("{\"patient_id\":\"\\ud83d\\ude00\\\\ud800\","
			   "\"gender\":\"M\",\"age\":3,\"department\":\"ICU\","
			   "\"admission_time\":\"2026-01-02\",\"bed_id\":1,"
			   "\"hospital_id\":1}"), 0, "%s", ev.detail);
	cr_assert_eq(ev.patient_id.len, 10, "emoji + literal \\ud800");
	cr_assert_eq(memcmp(ev.patient_id.p, "\xf0\x9f\x98\x80\\ud800", 10),
		     0);
	cr_assert_eq(parse(GOOD ",\"x\":\"\\udc00\"}"), 1);
	cr_assert_str_eq(first_rule(), "malformed_json");
	cr_assert_eq(parse(GOOD ",\"x\":\"\\ud800x\"}"), 1);
	cr_assert_str_eq(first_rule(), "malformed_json");
	/* overlong and surrogate encodings that yajl itself lets through */
	cr_assert_eq(parse(GOOD ",\"x\":\"\xc0\xaf\"}"), 1);
	cr_assert_eq(parse(GOOD ",\"x\":\"\xed\xa0\x80\"}"), 1);
	cr_assert(strstr(ev.detail, "invalid_utf8"));
}

/* A copy of the fields of an event, its strings copied out. */
struct snap {
	struct ps_event ev;
	char s[8][128];
};

static void take(const struct ps_event *e, struct snap *o)
{
	const struct ps_str *str[8] = {
		&e->event_id, &e->encounter_id, &e->event_type, &e->patient_id,
		&e->gender, &e->department, &e->disposition, &e->extra,
	};
	size_t n;
	int i;

	memset(o, 0, sizeof(*o));
	o->ev = *e;
	o->ev.plain = 0;	/* which path read it, not what it holds */
	n = strlen(e->detail);	/* what follows the message is stale */
	memset(o->ev.detail + n, 0, sizeof(o->ev.detail) - n);
	for (i = 0; i < 8; i++) {
		n = str[i]->len < 127 ? str[i]->len : 127;
		if (n)
			memcpy(o->s[i], str[i]->p, n);
		((struct ps_str *)((char *)&o->ev + ((const char *)str[i] -
						     (const char *)e)))->p =
			NULL;
	}
}

/* The fast path and yajl agree on line: the same line with its first
 * member name's first letter written as a \u escape (the same text to a
 * JSON reader) always goes to yajl. */
static void same_both_ways(const char *line, size_t n)
{
	struct snap a, b;
	char *alt;
	int ra, rb;

	if (n < 3 || line[0] != '{' || line[1] != '"' || line[2] < 'a' ||
	    line[2] > 'z')
		return;
	alt = malloc(n + 6);
	memcpy(alt, line, 2);
	snprintf(alt + 2, 7, "\\u%04x", (unsigned char)line[2]);
	memcpy(alt + 8, line + 3, n - 3);
	ra = ps_event_parse(p, line, n, &ev);
	take(&ev, &a);
	rb = ps_event_parse(p, alt, n + 5, &ev);
	take(&ev, &b);
	cr_assert_eq(ra, rb, "%.*s", (int)n, line);
	cr_assert_eq(memcmp(&a, &b, sizeof(a)), 0, "%.*s\n%s\n%s", (int)n,
		     line, a.ev.detail, b.ev.detail);
	free(alt);
}

Test(event, fast_path_equals_yajl)
{
	static const char *const base[] = {
		GOOD "}",
		GOOD ",\"event_id\":\"e1\",\"encounter_id\":\"c1\","
		"\"event_type\":\"ADMIT\",\"event_time\":\"2026-01-02T03:04:05Z\","
		"\"arrival_time\":\"2026-01-02T01:00:00+01:00\","
		"\"triage_level\":3,\"seen_time\":null,"
		"\"decision_time\":\"2026-01-02T02:00:00Z\","
		"\"disposition\":\"ADMITTED\"}",
		"{ \"age\" : -0 ,\t\"gender\":\"\\u00e9\", \"bed_id\":01}\r",
		"{\"age\":45.0,\"hospital_id\":1e2,\"bed_id\":2147483648}",
		"{\"age\":\"45\",\"gender\":7,\"department\":\"\",\"x\":[1,{}]}",
		"{\"age\":true,\"patient_id\":\"p\",\"patient_id\":\"q\"}",
		"{\"triage_level\":9,\"event_type\":\"NOPE\",\"age\":-99999999999}",
		"{\"admission_time\":\"yesterday\",\"discharge_time\":\"2026-13-01\"}",
		"{}", "{} x", "{\"age\":1}{", "[1]", "{\"age\":}", "{\"age\":1,}",
		"{\"age\":nul}", "{\"gender\":\"a\x01\"}", "{\"age\":-}",
	};
	static const char noise[] = "\"{}[],:0-.e \\nux1a";
	struct ps_rand r;
	char buf[512];
	size_t i, k;

	for (i = 0; i < sizeof(base) / sizeof(base[0]); i++)
		same_both_ways(base[i], strlen(base[i]));
	ps_rand_seed(&r, 7);
	for (k = 0; k < 20000; k++) {
		const char *b = base[ps_rand_below(&r, 2)];
		size_t n = strlen(b), m = 1 + ps_rand_below(&r, 3), j;

		memcpy(buf, b, n);
		for (j = 0; j < m; j++) {
			size_t at = 3 + ps_rand_below(&r, (uint32_t)(n - 3));
			char c = noise[ps_rand_below(&r, sizeof(noise) - 1)];

			switch (ps_rand_below(&r, 3)) {
			case 0:		/* replace */
				buf[at] = c;
				break;
			case 1:		/* delete */
				memmove(buf + at, buf + at + 1, n - at - 1);
				n--;
				break;
			default:	/* insert */
				memmove(buf + at + 1, buf + at, n - at);
				buf[at] = c;
				n++;
				break;
			}
		}
		same_both_ways(buf, n);
	}
}

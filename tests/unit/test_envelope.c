/* test_envelope.c - the bronze envelope (lib/envelope.h). */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "envelope.h"
#include "json.h"
#include "pstime.h"
#include "banned.h"

#define T0 1795500742123456LL		/* 2026-11-24T06:12:22.123456Z */

static void round_trip(const struct ps_envelope *in)
{
	struct ps_buf b = PS_BUF_INIT;
	struct ps_envelope_parser *p = ps_envelope_parser_new();
	struct ps_envelope out;
	struct ps_error e = { 0, "" };
	char err[128];
	yajl_val v;

	ps_envelope_format(&b, in);
	cr_assert_eq(b.data[b.len - 1], '\n');
	cr_assert_eq(memchr(b.data, '\n', b.len), b.data + b.len - 1,
		     "one line: %s", b.data);
	cr_assert_eq(strlen(b.data), b.len, "no raw NUL in the line");
	v = ps_json_parse(b.data, b.len - 1, err, sizeof(err));
	cr_assert_not_null(v, "valid JSON: %s: %s", b.data, err);
	yajl_tree_free(v);
	memset(&out, 0x5a, sizeof(out));
	cr_assert_eq(ps_envelope_parse(p, b.data, b.len - 1, &out, &e), 0,
		     "%s: %s", b.data, e.msg);
	cr_assert_eq(out.source_len, in->source_len);
	cr_assert(!memcmp(out.source, in->source, in->source_len));
	cr_assert_eq(out.position, in->position);
	cr_assert_eq(out.ingest_time, in->ingest_time);
	cr_assert_eq(out.broker_time, in->broker_time);
	if (in->key) {
		cr_assert_not_null(out.key, "%s", b.data);
		cr_assert_eq(out.key_len, in->key_len, "%s", b.data);
		cr_assert(!memcmp(out.key, in->key, in->key_len), "%s",
			  b.data);
	} else {
		cr_assert_null(out.key);
		cr_assert_eq(out.key_len, 0);
	}
	cr_assert_eq(out.payload_len, in->payload_len, "%s", b.data);
	cr_assert(!memcmp(out.payload, in->payload, in->payload_len), "%s",
		  b.data);
	if (in->reason) {
		cr_assert_str_eq(out.reason, in->reason);
		if (in->detail)
			cr_assert_str_eq(out.detail, in->detail);
		else
			cr_assert_null(out.detail);
		cr_assert_eq(out.length, in->length);
		cr_assert_eq(out.truncated, in->truncated);
	} else {
		cr_assert_null(out.reason, "%s", b.data);
		cr_assert_eq(out.length, (long long)in->payload_len);
	}
	/* Trailing CR-less line parses the same with its newline too. */
	cr_assert_eq(ps_envelope_parse(p, b.data, b.len, &out, &e), 0);
	ps_envelope_parser_free(p);
	ps_buf_release(&b);
}

#define STR(s) (s), sizeof(s) - 1

Test(envelope, format_parse_round_trip)
{
	struct ps_envelope env = {
		STR("kafka:admissions/3"), 1234, T0, PS_TIME_NONE, NULL, 0,
		STR("{\"patient_id\":\"P1\",\"age\":40}"), NULL, NULL, 0, 0
	};
	static const char nasty[] = "a\0b\n\"q\"\\ \r\t\x01 caf\xc3\xa9 "
				    "\xf0\x9f\x98\x80";
	static const char binary[] = "{\"x\":\"\xff\xfe\"}\0\x80";
	static const char *keys[] = { "4", "", "k\"ey\n", "\xff\x00\x01" };
	static const size_t key_lens[] = { 1, 0, 5, 3 };
	size_t i;

	round_trip(&env);
	env.broker_time = 1795500742120000LL;	/* milliseconds */
	round_trip(&env);
	for (i = 0; i < 4; i++) {
		env.key = keys[i];
		env.key_len = key_lens[i];
		round_trip(&env);
	}
	env.payload = nasty;
	env.payload_len = sizeof(nasty) - 1;
	round_trip(&env);
	env.payload = binary;
	env.payload_len = sizeof(binary) - 1;
	round_trip(&env);
	env.payload = "";
	env.payload_len = 0;
	round_trip(&env);
	env.position = 0;
	env.source = "stdin:\"odd\" name";
	env.source_len = strlen(env.source);
	env.ingest_time = -1;		/* before 1970 */
	env.broker_time = 0;
	round_trip(&env);
	env.position = LLONG_MAX;
	round_trip(&env);
}

Test(envelope, exact_format)
{
	struct ps_envelope env = {
		STR("kafka:t/0"), 7, T0, 1795500742120000LL, STR("k"),
		STR("{\"a\":1}"), NULL, NULL, 0, 0
	};
	struct ps_buf b = PS_BUF_INIT;

	ps_envelope_format(&b, &env);
	cr_assert_str_eq(b.data,
		"{\"source\":\"kafka:t/0\",\"position\":7,"
		"\"ingest_time\":\"2026-11-24T06:12:22.123456Z\","
		"\"broker_time\":\"2026-11-24T06:12:22.120Z\",\"key\":\"k\","
		"\"payload\":\"{\\\"a\\\":1}\"}\n");
	ps_buf_reset(&b);
	env.broker_time = PS_TIME_NONE;
	env.key = NULL;
	env.payload = "\xff";
	env.payload_len = 1;
	ps_envelope_format(&b, &env);
	cr_assert_str_eq(b.data,
		"{\"source\":\"kafka:t/0\",\"position\":7,"
		"\"ingest_time\":\"2026-11-24T06:12:22.123456Z\","
		"\"payload_b64\":\"/w==\"}\n");
	/* after a line already in b, a byte that is not UTF-8 at the end
	 * of a longer payload: all of it as base64 */
	env.payload = "{\"a\":\"\xc3\xa9\"}\xc3";
	env.payload_len = 11;
	ps_envelope_format(&b, &env);
	cr_assert_str_eq(strchr(b.data, '\n') + 1,
		"{\"source\":\"kafka:t/0\",\"position\":7,"
		"\"ingest_time\":\"2026-11-24T06:12:22.123456Z\","
		"\"payload_b64\":\"eyJhIjoiw6kifcM=\"}\n");
	ps_buf_release(&b);
}

static void bad(const char *line, const char *reason)
{
	struct ps_envelope_parser *p = ps_envelope_parser_new();
	struct ps_envelope out;
	struct ps_error e = { 0, "" };

	cr_assert_eq(ps_envelope_parse(p, line, strlen(line), &out, &e), -1,
		     "accepted %s", line);
	cr_assert_eq(e.code, PS_EX_DATAERR);
	cr_assert(strstr(e.msg, reason), "%s: '%s' lacks '%s'", line, e.msg,
		  reason);
	cr_assert_null(strchr(e.msg, '\n'));
	ps_envelope_parser_free(p);
}

#define ING "\"ingest_time\":\"2026-11-24T06:12:22Z\""

Test(envelope, missing_members_rejected)
{
	bad("{\"position\":1," ING ",\"payload\":\"x\"}", "source missing");
	bad("{\"source\":\"s\"," ING ",\"payload\":\"x\"}",
	    "position missing");
	bad("{\"source\":\"s\",\"position\":1,\"payload\":\"x\"}",
	    "ingest_time missing");
	bad("{\"source\":\"s\",\"position\":1," ING "}", "payload missing");
	bad("{}", "missing");
}

Test(envelope, ill_typed_members_rejected)
{
	bad("{\"source\":1,\"position\":1," ING ",\"payload\":\"x\"}",
	    "number where a string is required");
	bad("{\"source\":\"\",\"position\":1," ING ",\"payload\":\"x\"}",
	    "empty source");
	bad("{\"source\":\"s\",\"position\":\"1\"," ING ",\"payload\":\"x\"}",
	    "position is not a number");
	bad("{\"source\":\"s\",\"position\":-1," ING ",\"payload\":\"x\"}",
	    "negative position");
	bad("{\"source\":\"s\",\"position\":1.5," ING ",\"payload\":\"x\"}",
	    "position is not an integer");
	bad("{\"source\":\"s\",\"position\":1e3," ING ",\"payload\":\"x\"}",
	    "position is not an integer");
	bad("{\"source\":\"s\",\"position\":99999999999999999999," ING
	    ",\"payload\":\"x\"}", "envelope:");
	bad("{\"source\":\"s\",\"position\":null," ING ",\"payload\":\"x\"}",
	    "null where a value is required");
	bad("{\"source\":\"s\",\"position\":true," ING ",\"payload\":\"x\"}",
	    "boolean");
	bad("{\"source\":\"s\",\"position\":1,\"ingest_time\":5,"
	    "\"payload\":\"x\"}", "number where a string is required");
	bad("{\"source\":\"s\",\"position\":1,\"ingest_time\":1.5,"
	    "\"payload\":\"x\"}", "number where a string is required");
	bad("{\"source\":\"s\",\"position\":1,\"ingest_time\":\"yesterday\","
	    "\"payload\":\"x\"}", "bad timestamp");
	bad("{\"source\":\"s\",\"position\":1," ING ",\"broker_time\":"
	    "\"2026-02-30\",\"payload\":\"x\"}", "bad timestamp");
	bad("{\"source\":\"s\",\"position\":1," ING ",\"payload\":5}",
	    "number where a string is required");
	bad("{\"source\":\"s\",\"position\":1," ING ",\"payload\":[\"x\"]}",
	    "array where a string or number is required");
	bad("{\"source\":\"s\",\"position\":1," ING ",\"payload\":{\"a\":1}}",
	    "object where a string or number is required");
	bad("{\"source\":{},\"position\":1," ING ",\"payload\":\"x\"}",
	    "object where a string or number is required");
	bad("{\"source\":\"s\",\"position\":1," ING ",\"payload\":null}",
	    "null where a value is required");
	bad("{\"source\":\"s\",\"position\":1," ING ",\"key\":7,"
	    "\"payload\":\"x\"}", "number where a string is required");
	bad("{\"source\":\"s\",\"position\":1," ING ",\"payload_b64\":\"!!\"}",
	    "payload_b64 is not base64");
	bad("not json", "not valid JSON");
	bad("{\"source\":\"s\"", "not valid JSON");
	bad("{\"source\":\"s\",\"position\":1," ING ",\"payload\":\"x\"} {}",
	    "not valid JSON");
	bad("[\"source\"]", "missing");
	bad("\"source\"", "missing");
}

Test(envelope, nul_byte_rejected)
{
	struct ps_envelope_parser *p = ps_envelope_parser_new();
	struct ps_envelope out;
	struct ps_error e = { 0, "" };
	const char line[] = "{\"source\":\"s\",\"position\":1," ING
			    ",\"payload\":\"x\0\"}";

	cr_assert_eq(ps_envelope_parse(p, line, sizeof(line) - 1, &out, &e),
		     -1);
	cr_assert(strstr(e.msg, "NUL"), "%s", e.msg);
	ps_envelope_parser_free(p);
}

Test(envelope, unknown_members_ignored_and_nulls_mean_absent)
{
	const char *line = "{\"v\":2,\"source\":\"s\",\"extra\":{\"source\":7,"
			   "\"position\":\"x\",\"deep\":[1,[2,{\"a\":null}]]},"
			   "\"position\":5,\"list\":[true,1.5,\"s\"],"
			   ING ",\"broker_time\":null,\"key\":null,"
			   "\"payload\":\"x\",\"z\":null}";
	struct ps_envelope_parser *p = ps_envelope_parser_new();
	struct ps_envelope out;
	struct ps_error e = { 0, "" };

	cr_assert_eq(ps_envelope_parse(p, line, strlen(line), &out, &e), 0,
		     "%s", e.msg);
	cr_assert_eq(out.source_len, 1);
	cr_assert_eq(out.source[0], 's');
	cr_assert_eq(out.position, 5);
	cr_assert_eq(out.ingest_time, 1795500742000000LL);
	cr_assert_eq(out.broker_time, PS_TIME_NONE);
	cr_assert_null(out.key);
	cr_assert_eq(out.payload_len, 1);
	ps_envelope_parser_free(p);
}

Test(envelope, parser_is_reusable)
{
	const char *a = "{\"source\":\"aa\",\"position\":1," ING
			",\"key\":\"k\","
			"\"broker_time\":\"2026-01-01T00:00:00Z\","
			"\"payload\":\"first\"}";
	const char *b = "{\"source\":\"b\",\"position\":2," ING
			",\"payload_b64\":\"AAEC\"}";
	struct ps_envelope_parser *p = ps_envelope_parser_new();
	struct ps_envelope out;
	struct ps_error e = { 0, "" };

	cr_assert_eq(ps_envelope_parse(p, a, strlen(a), &out, &e), 0);
	cr_assert_eq(out.payload_len, 5);
	cr_assert_not_null(out.key);
	cr_assert_eq(ps_envelope_parse(p, "{", 1, &out, &e), -1);
	cr_assert_eq(ps_envelope_parse(p, b, strlen(b), &out, &e), 0);
	cr_assert_eq(out.source_len, 1);
	cr_assert_eq(out.position, 2);
	cr_assert_null(out.key, "no key left over from the first line");
	cr_assert_eq(out.broker_time, PS_TIME_NONE);
	cr_assert_eq(out.payload_len, 3);
	cr_assert(!memcmp(out.payload, "\0\1\2", 3));
	ps_envelope_parser_free(p);
	ps_envelope_parser_free(NULL);
}

/* A record for quarantine carries its reason; a whole one none. */
Test(envelope, quarantine_members)
{
	struct ps_envelope env = {
		STR("kafka:admissions/0"), 7, T0, PS_TIME_NONE, NULL, 0,
		STR("{\"patient_id\":\"p"), "record_too_long",
		"record of 20000000 bytes over the limit", 20000000, 1
	};
	struct ps_envelope_parser *p = ps_envelope_parser_new();
	struct ps_envelope out;
	struct ps_error e = { 0, "" };
	static const char *bad[] = {
		"{\"source\":\"s\",\"position\":1,\"ingest_time\":"
		"\"2026-01-01T00:00:00Z\",\"payload\":\"\",\"reason\":\"\"}",
		"{\"source\":\"s\",\"position\":1,\"ingest_time\":"
		"\"2026-01-01T00:00:00Z\",\"payload\":\"\",\"reason\":\"r\","
		"\"length\":-1}",
		"{\"source\":\"s\",\"position\":1,\"ingest_time\":"
		"\"2026-01-01T00:00:00Z\",\"payload\":\"\",\"reason\":\"r\","
		"\"truncated\":1}",
		"{\"source\":\"s\",\"position\":1,\"ingest_time\":"
		"\"2026-01-01T00:00:00Z\",\"payload\":\"\",\"reason\":7}",
	};
	const char *whole = "{\"source\":\"s\",\"position\":1,"
		"\"ingest_time\":\"2026-01-01T00:00:00Z\",\"payload\":\"ab\"}";
	size_t i;

	round_trip(&env);
	env.detail = NULL;
	env.truncated = 0;
	round_trip(&env);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(ps_envelope_parse(p, bad[i], strlen(bad[i]), &out,
					       &e), -1, "%s", bad[i]);
	/* The parser forgets the reason of the line before. */
	cr_assert_eq(ps_envelope_parse(p, whole, strlen(whole), &out, &e), 0);
	cr_assert_null(out.reason);
	cr_assert_eq(out.length, 2);
	ps_envelope_parser_free(p);
}

Test(envelope, input_kind)
{
	enum ps_input in = PS_INPUT_EVENTS;

	cr_assert_eq(ps_input_parse("envelopes", &in), 0);
	cr_assert_eq(in, PS_INPUT_ENVELOPES);
	cr_assert_str_eq(ps_input_name(in), "envelopes");
	cr_assert_eq(ps_input_parse("events", &in), 0);
	cr_assert_eq(in, PS_INPUT_EVENTS);
	cr_assert_str_eq(ps_input_name(in), "events");
	cr_assert_eq(ps_input_parse("auto", &in), -1);
	cr_assert_eq(ps_input_parse("", &in), -1);
	cr_assert_eq(in, PS_INPUT_EVENTS, "unchanged on error");
}

/*
 * The compact form takes a fast path; the same envelope with blanks goes
 * through yajl.  Both must give the same fields, and reject the same lines.
 */
static void same_both_ways(const char *compact, const char *spaced)
{
	struct ps_envelope_parser *p1 = ps_envelope_parser_new();
	struct ps_envelope_parser *p2 = ps_envelope_parser_new();
	struct ps_envelope a, b;
	struct ps_error e1 = { 0, "" }, e2 = { 0, "" };
	int r1 = ps_envelope_parse(p1, compact, strlen(compact), &a, &e1);
	int r2 = ps_envelope_parse(p2, spaced, strlen(spaced), &b, &e2);

	cr_assert_eq(r1, r2, "%s: %s / %s", compact, e1.msg, e2.msg);
	if (r1 == 0) {
		cr_assert_eq(a.source_len, b.source_len);
		cr_assert(!memcmp(a.source, b.source, a.source_len));
		cr_assert_eq(a.position, b.position);
		cr_assert_eq(a.ingest_time, b.ingest_time);
		cr_assert_eq(a.broker_time, b.broker_time);
		cr_assert_eq(!a.key, !b.key);
		cr_assert_eq(a.key_len, b.key_len);
		if (a.key)
			cr_assert(!memcmp(a.key, b.key, a.key_len));
		cr_assert_eq(a.payload_len, b.payload_len, "%s", compact);
		cr_assert(!memcmp(a.payload, b.payload, a.payload_len), "%s",
			  compact);
	}
	ps_envelope_parser_free(p1);
	ps_envelope_parser_free(p2);
}

Test(envelope, fast_path_agrees_with_yajl)
{
	static const char *const bodies[] = {
		"\"payload\":\"{\\\"a\\\":1}\"",
		"\"payload\":\"\\ud83d\\ude00 \\u00e9\\u0000\\n\\t\\/\\b\\f\\r\"",
		"\"payload\":\"\\ud83d\"",		/* lone high surrogate */
		"\"payload\":\"\\ude00x\"",		/* lone low surrogate */
		"\"payload\":\"bad \\q escape\"",
		"\"payload\":\"\\u12\"",
		"\"payload\":\"caf\xc3\xa9\"",
		"\"payload\":\"\xc3\"",			/* invalid UTF-8 */
		"\"payload_b64\":\"AP8=\"",
		"\"payload_b64\":\"A=P8\"",
		"\"key\":\"k\\\"1\",\"payload\":\"x\"",
		"\"key_b64\":\"/w==\",\"payload\":\"x\"",
		"\"broker_time\":\"2026-01-01T00:00:00.5Z\",\"payload\":\"\"",
		"\"broker_time\":\"2026-02-30T00:00:00Z\",\"payload\":\"\"",
		"\"payload\":\"a\",\"payload\":\"b\"",	/* repeated member */
	};
	size_t i;

	for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		char c[512], sp[512];

		snprintf(c, sizeof(c), "{\"source\":\"s\",\"position\":7,"
			 "\"ingest_time\":\"2026-01-01T00:00:00Z\",%s}",
			 bodies[i]);
		snprintf(sp, sizeof(sp), "{ \"source\" : \"s\", \"position\""
			 " : 7, \"ingest_time\": \"2026-01-01T00:00:00Z\", %s }",
			 bodies[i]);
		same_both_ways(c, sp);
	}
	same_both_ways("{\"source\":\"s\",\"position\":012,\"ingest_time\":"
		       "\"2026-01-01T00:00:00Z\",\"payload\":\"\"}",
		       "{\"source\":\"s\",\"position\": 012,\"ingest_time\":"
		       "\"2026-01-01T00:00:00Z\",\"payload\":\"\"}");
	same_both_ways("{\"source\":\"s\",\"position\":123456789012345678901,"
		       "\"ingest_time\":\"2026-01-01T00:00:00Z\","
		       "\"payload\":\"\"}",
		       "{\"source\":\"s\",\"position\": 123456789012345678901,"
		       "\"ingest_time\":\"2026-01-01T00:00:00Z\","
		       "\"payload\":\"\"}");
}

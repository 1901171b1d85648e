/* test_hl7.c - HL7 v2 messages, paths, timestamps, the stream splitter
 * (lib/hl7.h) and the mapping to events (lib/hl7map.h). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "envelope.h"
#include "hl7.h"
#include "hl7map.h"
#include "pstime.h"
#include "banned.h"

#define A01 "MSH|^~\\&|ADT|GH|PS|PS|20260130081500||ADT^A01^ADT_A01|" \
	"MSG1|P|2.5\r" \
	"EVN|A01|20260130081400||||20260130081000\r" \
	"PID|1||X9^^^GH^SS~P\\T\\42^^^GH^MR||DOE^JANE||19800131|F\r" \
	"PV1|1|I|ICU^12^7^3|||||||MED|||||||||V77^^^GH^VN" \
	"|||||||||||||||||||||||||202601300810-0100|\r"

static const char *get(struct ps_hl7_msg *m, const char *path)
{
	static struct ps_buf b = PS_BUF_INIT;
	struct ps_hl7_path p;

	cr_assert_eq(ps_hl7_path_parse(path, strlen(path), &p), 0, "%s", path);
	ps_hl7_get(m, &p, &b);
	return b.data ? b.data : "";
}

Test(hl7, fields_components_repetitions_escapes)
{
	struct ps_hl7_msg m = PS_HL7_MSG_INIT;
	char why[128];

	cr_assert_eq(ps_hl7_parse(&m, A01, strlen(A01), why, sizeof(why)), 0,
		     "%s", why);
	cr_assert_eq(m.nseg, 4);
	cr_assert_str_eq(get(&m, "MSH-1"), "|");
	cr_assert_str_eq(get(&m, "MSH-2"), "^~\\&");
	cr_assert_str_eq(get(&m, "MSH-9.2"), "A01");
	cr_assert_str_eq(get(&m, "MSH-10"), "MSG1");
	cr_assert_str_eq(get(&m, "PID-3[2].1"), "P&42");
	cr_assert_str_eq(get(&m, "PID-3[2].5"), "MR");
	cr_assert_str_eq(get(&m, "PID-3.1"), "X9");
	cr_assert_str_eq(get(&m, "PID-3[3].1"), "");
	cr_assert_str_eq(get(&m, "PV1-3.3"), "7");
	cr_assert_str_eq(get(&m, "PV1-10"), "MED");
	cr_assert_str_eq(get(&m, "PV1-19.1"), "V77");
	cr_assert_str_eq(get(&m, "PV1-99"), "");
	cr_assert_str_eq(get(&m, "OBX-1"), "");
	ps_hl7_msg_release(&m);
}

Test(hl7, unescape)
{
	static const char msg[] = "MSH|^~\\&|a\rZZZ|\\F\\\\S\\\\T\\\\R\\\\E\\"
		"|\\X41\\\\X4243\\|a\\H\\b\\N\\c|\\.br\\x|\\Zabc\\y|no\\end|\\\\";
	struct ps_hl7_msg m = PS_HL7_MSG_INIT;
	char why[128];

	cr_assert_eq(ps_hl7_parse(&m, msg, strlen(msg), why, sizeof(why)), 0);
	cr_assert_str_eq(get(&m, "ZZZ-1"), "|^&~\\");
	cr_assert_str_eq(get(&m, "ZZZ-2"), "ABC");
	cr_assert_str_eq(get(&m, "ZZZ-3"), "abc");
	cr_assert_str_eq(get(&m, "ZZZ-4"), "x");
	cr_assert_str_eq(get(&m, "ZZZ-5"), "y");
	cr_assert_str_eq(get(&m, "ZZZ-6"), "no\\end");
	cr_assert_str_eq(get(&m, "ZZZ-7"), "\\\\");
	ps_hl7_msg_release(&m);
}

Test(hl7, other_delimiters_and_line_ends)
{
	static const char msg[] = "MSH#$*!@#a\r\nPID#1##a$b@c*d!S!\n\nPV1#1";
	struct ps_hl7_msg m = PS_HL7_MSG_INIT;
	char why[128];

	cr_assert_eq(ps_hl7_parse(&m, msg, strlen(msg), why, sizeof(why)), 0,
		     "%s", why);
	cr_assert_eq(m.nseg, 3);
	cr_assert_str_eq(get(&m, "PID-3.2.2"), "c");
	cr_assert_str_eq(get(&m, "PID-3[2]"), "d$");
	cr_assert_str_eq(get(&m, "PV1-1"), "1");
	ps_hl7_msg_release(&m);
}

Test(hl7, bad_messages)
{
	static const char *const bad[] = {
		"PID|1", "MSH|^~\\", "MSH|^~\\&&|", "MSH|^~^&|x",
		"MSH|^~\\&|x\rpid|1", "MSH|^~\\&|x\rPIDX", "MSH|a~\\&|x",
		"MSH|^~\\&#$|x",
	};
	struct ps_hl7_msg m = PS_HL7_MSG_INIT;
	char why[128];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		why[0] = 0;
		cr_expect_eq(ps_hl7_parse(&m, bad[i], strlen(bad[i]), why,
					  sizeof(why)), -1, "%s", bad[i]);
		cr_expect(why[0] && !strchr(why, '\n'));
	}
	ps_hl7_msg_release(&m);
}

Test(hl7, segment_cap)
{
	struct ps_buf b = PS_BUF_INIT;
	struct ps_hl7_msg m = PS_HL7_MSG_INIT;
	char why[128];
	int i;

	ps_buf_adds(&b, "MSH|^~\\&|x");
	for (i = 0; i < PS_HL7_MAX_SEGMENTS; i++)
		ps_buf_adds(&b, "\rNTE|1");
	cr_assert_eq(ps_hl7_parse(&m, b.data, b.len, why, sizeof(why)), -1);
	cr_assert(strstr(why, "segments"));
	ps_buf_release(&b);
	ps_hl7_msg_release(&m);
}

Test(hl7, paths)
{
	struct ps_hl7_path p;

	cr_assert_eq(ps_hl7_path_parse("PID-3[2].4.1", 12, &p), 0);
	cr_assert_eq(p.field, 3);
	cr_assert_eq(p.rep, 2);
	cr_assert_eq(p.comp, 4);
	cr_assert_eq(p.sub, 1);
	cr_assert_eq(ps_hl7_path_parse("PID-0", 5, &p), -1);
	cr_assert_eq(ps_hl7_path_parse("PID3", 4, &p), -1);
	cr_assert_eq(ps_hl7_path_parse("pid-3", 5, &p), -1);
	cr_assert_eq(ps_hl7_path_parse("PID-3.", 6, &p), -1);
	cr_assert_eq(ps_hl7_path_parse("PID-3[2", 7, &p), -1);
	cr_assert_eq(ps_hl7_path_parse("PID-12345", 9, &p), -1);
}

static int64_t iso(const char *s)
{
	int64_t t;

	cr_assert_eq(ps_time_parse(s, strlen(s), &t, NULL), 0, "%s", s);
	return t;
}

Test(hl7, timestamps)
{
	static const struct { const char *in, *out; int prec; } ok[] = {
		{ "2026", "2026-01-01T00:00:00Z", 4 },
		{ "202602", "2026-02-01T00:00:00Z", 6 },
		{ "20240229", "2024-02-29T00:00:00Z", 8 },
		{ "2026013008", "2026-01-30T08:00:00Z", 10 },
		{ "202601300815", "2026-01-30T08:15:00Z", 12 },
		{ "20260130081559", "2026-01-30T08:15:59Z", 14 },
		{ "20260130081559.1", "2026-01-30T08:15:59.1Z", 14 },
		{ "20260130081559.1234", "2026-01-30T08:15:59.1234Z", 14 },
		{ "20260130081559.123456", "2026-01-30T08:15:59.123456Z", 14 },
		{ "202601300815-0500", "2026-01-30T13:15:00Z", 12 },
		{ "20260130+0130", "2026-01-29T22:30:00Z", 8 },
	};
	static const char *const bad[] = {
		"", "202", "20261", "20260230", "2026013024", "202601301260",
		"20260130121260", "2026013012.5", "20260130121212.",
		"20260130121212.1234567", "20260130+5", "20260130+2400",
		"2026-01-30", "20260130 ", "x2026",
	};
	enum ps_hl7_prec prec;
	const char *why;
	int64_t t;
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(*ok); i++) {
		cr_assert_eq(ps_hl7_time(ok[i].in, strlen(ok[i].in), 0, &t,
					 &prec, &why), 0, "%s", ok[i].in);
		cr_expect_eq(t, iso(ok[i].out), "%s", ok[i].in);
		cr_expect_eq((int)prec, ok[i].prec, "%s", ok[i].in);
	}
	cr_assert_eq(ps_hl7_time("202601300815", 12, -300, &t, NULL, &why), 0);
	cr_expect_eq(t, iso("2026-01-30T13:15:00Z"));
	for (i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		cr_expect_eq(ps_hl7_time(bad[i], strlen(bad[i]), 0, &t, NULL,
					 &why), -1, "'%s'", bad[i]);
}

/* Split text fed in chunks of k bytes; the kinds and texts, one a line. */
static void split_all(const char *text, size_t k, size_t cap,
		      struct ps_buf *out)
{
	struct ps_hl7_split *s = ps_hl7_split_new(cap);
	size_t n = strlen(text), pos = 0;
	enum ps_hl7_kind kind;
	const char *p;
	size_t len, full;
	long long line;

	for (;;) {
		size_t m = n - pos < k ? n - pos : k;

		ps_hl7_split_feed(s, text + pos, m, pos + m == n);
		pos += m;
		while (ps_hl7_split_next(s, &kind, &p, &len, &full, &line)) {
			ps_buf_addf(out, "%d@%lld:%zu:", (int)kind, line,
				    full);
			ps_buf_add(out, p, len);
			ps_buf_addc(out, '\n');
		}
		if (pos == n)
			break;
	}
	ps_hl7_split_free(s);
}

Test(hl7, split_in_chunks_of_every_size)
{
	static const char text[] =
		"\xEF\xBB\xBF" "FHS|^~\\&\rBHS|^~\\&\r"
		"MSH|^~\\&|1\rPID|1\r"
		"MSH|^~\\&|2\r\nPID|2\r\n"
		"\x0b" "MSH|^~\\&|3\rPID|3\x1c\r"
		"BTS|3\rFTS|1\r"
		"{\"resourceType\":\"Encounter\",\n \"id\":\"a}\\\"\"}\n"
		"junk line\n"
		"{\"resourceType\":\"Patient\"}"
		"MSH|^~\\&|4";
	struct ps_buf want = PS_BUF_INIT, got = PS_BUF_INIT;
	size_t k;

	split_all(text, sizeof(text), 0, &want);
	cr_assert_str_eq(want.data,
		"1@3:17:MSH|^~\\&|1\rPID|1\r\n"
		"1@5:19:MSH|^~\\&|2\r\nPID|2\r\n\n"
		"1@7:16:MSH|^~\\&|3\rPID|3\n"
		"2@11:42:{\"resourceType\":\"Encounter\",\n \"id\":\"a}\\\"\"}\n"
		"3@13:9:junk line\n"
		"2@14:26:{\"resourceType\":\"Patient\"}\n"
		"1@14:10:MSH|^~\\&|4\n");
	for (k = 1; k < sizeof(text); k++) {
		ps_buf_reset(&got);
		split_all(text, k, 0, &got);
		cr_assert_str_eq(got.data, want.data, "chunks of %zu", k);
	}
	ps_buf_release(&want);
	ps_buf_release(&got);
}

Test(hl7, split_caps_a_message)
{
	struct ps_buf text = PS_BUF_INIT, got = PS_BUF_INIT;
	int i;

	ps_buf_adds(&text, "MSH|^~\\&|1\r");
	for (i = 0; i < 2000; i++)
		ps_buf_adds(&text, "NTE|1|some text here\r");
	ps_buf_adds(&text, "MSH|^~\\&|2\r");
	split_all(text.data, 4096, 1024, &got);
	cr_assert(!strncmp(got.data, "3@1:42011:MSH|^~\\&|1\r", 21), "%.40s",
		  got.data);
	cr_assert(strstr(got.data, "\n1@2002:11:MSH|^~\\&|2\r\n"), "%s",
		  strrchr(got.data, '@'));
	ps_buf_release(&text);
	ps_buf_release(&got);
}

/* ------------------------------------------------------------------ */
/* Mapping                                                             */
/* ------------------------------------------------------------------ */

static enum ps_feed_status conv(struct ps_feed *f, const char *msg,
				struct ps_buf *out, char *why)
{
	int n;

	ps_buf_reset(out);
	return ps_feed_convert(f, msg, strlen(msg), out, &n, why, 200);
}

Test(hl7map, builtin_a01)
{
	struct ps_hl7map *m = ps_hl7map_load(NULL, NULL);
	struct ps_feed *f = ps_feed_new(m, 0);
	struct ps_buf out = PS_BUF_INIT;
	char why[200];

	cr_assert_eq(conv(f, A01, &out, why), PS_FEED_OK, "%s", why);
	cr_assert_str_eq(out.data, "{\"event_id\":\"MSG1\",\"event_type\":"
		"\"ADMIT\",\"event_time\":\"2026-01-30T08:10:00Z\","
		"\"encounter_id\":\"V77\",\"patient_id\":\"P&42\","
		"\"gender\":\"Female\",\"age\":45,\"department\":\"ICU\","
		"\"hospital_id\":3,\"bed_id\":7,"
		"\"admission_time\":\"2026-01-30T09:10:00Z\","
		"\"discharge_time\":null,\"source_format\":\"hl7v2\","
		"\"trigger_event\":\"A01\",\"patient_class\":\"I\","
		"\"hospital_service\":\"MED\"}\n");
	ps_feed_free(f);
	ps_hl7map_free(m);
	ps_buf_release(&out);
}

static char *with(const char *from, const char *to)
{
	struct ps_buf b = PS_BUF_INIT;
	const char *p = strstr(A01, from);

	cr_assert(p, "%s", from);
	ps_buf_add(&b, A01, (size_t)(p - A01));
	ps_buf_adds(&b, to);
	ps_buf_adds(&b, p + strlen(from));
	return ps_buf_detach(&b, NULL);
}

Test(hl7map, problems)
{
	static const struct { const char *from, *to; int st; } c[] = {
		{ "ADT^A01^", "ADT^A99^", PS_FEED_UNSUPPORTED },
		{ "ADT^A01^", "ADT^A05^", PS_FEED_IGNORED },
		{ "ICU^12^7^3", "ICU^12^7^GH", PS_FEED_UNMAPPED },
		{ "ICU^12^7^3", "^12^7^3", PS_FEED_UNMAPPED },
		{ "ICU^12^7^3", "ICU^12^7b^3", PS_FEED_BAD_FIELD },
		{ "19800131", "19801331", PS_FEED_BAD_FIELD },
		{ "MSH|^~\\&", "MSH|^~\\", PS_FEED_UNPARSEABLE },
	};
	struct ps_hl7map *m = ps_hl7map_load(NULL, NULL);
	struct ps_feed *f = ps_feed_new(m, 0);
	struct ps_buf out = PS_BUF_INIT;
	char why[200];
	size_t i;

	for (i = 0; i < sizeof(c) / sizeof(*c); i++) {
		char *msg = with(c[i].from, c[i].to);

		why[0] = 0;
		cr_expect_eq((int)conv(f, msg, &out, why), c[i].st, "%s: %s",
			     c[i].to, why);
		cr_expect_eq(out.len, 0);
		free(msg);
	}
	ps_feed_free(f);
	ps_hl7map_free(m);
	ps_buf_release(&out);
}

Test(hl7map, cancels)
{
	struct ps_hl7map *m = ps_hl7map_load(NULL, NULL);
	struct ps_feed *f = ps_feed_new(m, 0);
	struct ps_buf out = PS_BUF_INIT;
	char why[200], *msg;

	msg = with("ADT^A01^", "ADT^A13^");
	cr_assert_eq(conv(f, msg, &out, why), PS_FEED_OK);
	cr_expect(strstr(out.data, "\"event_type\":\"CANCEL_DISCHARGE\""));
	cr_expect(strstr(out.data, "\"discharge_time\":null"));
	free(msg);
	msg = with("ADT^A01^", "ADT^A11^");
	cr_assert_eq(conv(f, msg, &out, why), PS_FEED_OK);
	cr_expect(strstr(out.data, "\"event_type\":\"CANCEL_ADMIT\""));
	free(msg);
	ps_feed_free(f);
	ps_hl7map_free(m);
	ps_buf_release(&out);
}

Test(hl7map, fhir_bundle)
{
	static const char bundle[] = "{\"resourceType\":\"Bundle\",\"type\":"
		"\"collection\",\"entry\":[{\"fullUrl\":\"urn:uuid:p1\","
		"\"resource\":{\"resourceType\":\"Patient\",\"id\":\"p1\","
		"\"identifier\":[{\"type\":{\"coding\":[{\"code\":\"MR\"}]},"
		"\"value\":\"MRN7\"}],\"gender\":\"male\",\"birthDate\":"
		"\"1990-06-15\"}},{\"resource\":{\"resourceType\":"
		"\"Encounter\",\"id\":\"e1\",\"meta\":{\"versionId\":\"3\","
		"\"lastUpdated\":\"2026-01-30T08:00:00Z\"},\"status\":"
		"\"finished\",\"class\":{\"code\":\"IMP\"},\"subject\":"
		"{\"reference\":\"urn:uuid:p1\"},\"period\":{\"start\":"
		"\"2026-01-28T10:00:00Z\",\"end\":\"2026-01-30T07:30:00Z\"},"
		"\"location\":[{\"location\":{\"display\":\"Surgery\"},"
		"\"status\":\"completed\"},{\"location\":{\"display\":"
		"\"Cardiology\"},\"status\":\"active\"},{\"location\":"
		"{\"display\":\"12\"},\"status\":\"active\",\"physicalType\":"
		"{\"coding\":[{\"code\":\"bd\"}]}}],\"serviceProvider\":"
		"{\"identifier\":{\"value\":\"4\"}}}}]}";
	struct ps_hl7map *m = ps_hl7map_load(NULL, NULL);
	struct ps_feed *f = ps_feed_new(m, 0);
	struct ps_buf out = PS_BUF_INIT;
	char why[200];

	cr_assert_eq(conv(f, bundle, &out, why), PS_FEED_OK, "%s", why);
	cr_assert_str_eq(out.data, "{\"event_id\":\"e1/_history/3\","
		"\"event_type\":\"DISCHARGE\","
		"\"event_time\":\"2026-01-30T08:00:00Z\","
		"\"encounter_id\":\"e1\",\"patient_id\":\"MRN7\","
		"\"gender\":\"Male\",\"age\":35,\"department\":\"Cardiology\","
		"\"hospital_id\":4,\"bed_id\":12,"
		"\"admission_time\":\"2026-01-28T10:00:00Z\","
		"\"discharge_time\":\"2026-01-30T07:30:00Z\","
		"\"source_format\":\"fhir\",\"trigger_event\":\"fhir:finished\","
		"\"patient_class\":\"IMP\"}\n");
	ps_feed_free(f);
	ps_hl7map_free(m);
	ps_buf_release(&out);
}

/*
 * test_kafka.c - lib/kafka.h: key scanning, properties, Event Hubs
 * connection strings, redaction, and produce/consume round trips through
 * librdkafka's in-process mock cluster (the real broker is in tests/e2e).
 */
#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "checkpoint.h"
#include "envelope.h"
#include "fsutil.h"
#include "kafka.h"
#include "log.h"
#include "banned.h"

static int field(const char *json, const char *name, char *out, size_t n)
{
	const char *v = NULL;
	size_t vlen = 0;
	int rc = ps_kafka_json_field(json, strlen(json), name, strlen(name),
				     &v, &vlen);

	out[0] = '\0';
	if (rc == 1 && vlen < n) {
		memcpy(out, v, vlen);
		out[vlen] = '\0';
	}
	return rc;
}

Test(kafka_json_field, finds_top_level_members)
{
	char v[64];

	cr_assert_eq(field("{\"a\":1,\"hospital_id\":7}", "hospital_id", v,
			   sizeof(v)), 1);
	cr_assert_str_eq(v, "7");
	cr_assert_eq(field(" { \"h\" : \"x\\\"y\" , \"z\":2 } ", "h", v,
			   sizeof(v)), 1);
	cr_assert_str_eq(v, "x\\\"y");
	cr_assert_eq(field("{\"o\":{\"h\":1},\"a\":[1,{\"h\":2}],\"h\":3}",
			   "h", v, sizeof(v)), 1);
	cr_assert_str_eq(v, "3");
	cr_assert_eq(field("{\"h\":-1.5e3}", "h", v, sizeof(v)), 1);
	cr_assert_str_eq(v, "-1.5e3");
	cr_assert_eq(field("{\"h\":{\"x\":\"}\"}}", "h", v, sizeof(v)), 1);
	cr_assert_str_eq(v, "{\"x\":\"}\"}");
	cr_assert_eq(field("{\"h\":\"\"}", "h", v, sizeof(v)), 1);
	cr_assert_str_eq(v, "");
}

Test(kafka_json_field, absent_null_and_malformed)
{
	char v[64];

	cr_assert_eq(field("{}", "h", v, sizeof(v)), 0);
	cr_assert_eq(field("{\"a\":1}", "h", v, sizeof(v)), 0);
	cr_assert_eq(field("{\"h\":null}", "h", v, sizeof(v)), 0);
	cr_assert_eq(field("{\"hh\":1,\"h2\":2}", "h", v, sizeof(v)), 0);
	cr_assert_eq(field("", "h", v, sizeof(v)), -1);
	cr_assert_eq(field("not json", "h", v, sizeof(v)), -1);
	cr_assert_eq(field("[1,2]", "h", v, sizeof(v)), -1);
	cr_assert_eq(field("{\"a\":1", "h", v, sizeof(v)), -1);
	cr_assert_eq(field("{\"a\" 1}", "h", v, sizeof(v)), -1);
	cr_assert_eq(field("{\"a\":\"open", "h", v, sizeof(v)), -1);
	cr_assert_eq(field("{\"a\":{\"b\":1}", "h", v, sizeof(v)), -1);
	cr_assert_eq(field("{\"a\":,\"h\":1}", "h", v, sizeof(v)), -1);
}

Test(kafka_json_field, never_reads_past_the_length)
{
	const char *s = "{\"h\":12345}";
	const char *v;
	size_t vlen, n;

	/* Every prefix is malformed (or complete); none is read beyond. */
	for (n = 0; n < strlen(s); n++) {
		char *p = ps_xmemdup(s, n);

		cr_assert_eq(ps_kafka_json_field(p, n, "h", 1, &v, &vlen), -1,
			     "prefix %zu", n);
		free(p);
	}
	cr_assert_eq(ps_kafka_json_field(s, strlen(s), "h", 1, &v, &vlen), 1);
}

Test(kafka_conf, eventhubs_connection_string)
{
	struct ps_kafka_conf *c = ps_kafka_conf_new();
	struct ps_error e = { 0, "" };
	const char *cs = "Endpoint=sb://ns1.servicebus.windows.net/;"
			 "SharedAccessKeyName=send;SharedAccessKey="
			 "c2VjcmV0LWtleS12YWx1ZQ==;EntityPath=admissions";
	char out[512];
	char msg[256];

	cr_assert_eq(ps_kafka_conf_eventhubs(c, cs, &e), 0, "%s", e.msg);
	cr_assert_str_eq(ps_kafka_conf_topic(c), "admissions");
	snprintf(msg, sizeof(msg), "password was %s (key %s)", cs,
		 "c2VjcmV0LWtleS12YWx1ZQ==");
	ps_kafka_redact(c, msg, out, sizeof(out));
	cr_assert_str_eq(out, "password was [redacted] (key [redacted])");
	ps_kafka_conf_free(c);
	ps_kafka_conf_free(NULL);
}

Test(kafka_conf, bad_connection_strings_are_not_quoted)
{
	const char *bad[] = {
		"",
		"SharedAccessKeyName=a;SharedAccessKey=c2VjcmV0LXh4eA==",
		"Endpoint=https://ns.servicebus.windows.net/;"
		"SharedAccessKeyName=a;SharedAccessKey=c2VjcmV0LXh4eA==",
		"Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=a",
		"Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=a;"
		"SharedAccessKey=",
		"Endpoint=sb:///;SharedAccessKeyName=a;"
		"SharedAccessKey=c2VjcmV0LXh4eA==",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ps_kafka_conf *c = ps_kafka_conf_new();
		struct ps_error e = { 0, "" };

		cr_assert_eq(ps_kafka_conf_eventhubs(c, bad[i], &e), -1,
			     "case %zu", i);
		cr_assert_eq(e.code, PS_EX_CONFIG);
		cr_assert_null(strstr(e.msg, "c2VjcmV0"), "%s", e.msg);
		ps_kafka_conf_free(c);
	}
}

Test(kafka_conf, properties_file)
{
	struct ps_kafka_conf *c = ps_kafka_conf_new();
	struct ps_error e = { 0, "" };
	char path[] = "/tmp/test_kafka.XXXXXX";
	const char *text = "# comment\n\n  linger.ms = 5 \r\n"
			   "sasl.password=hunter2hunter2\nno equals here\n";
	char out[128];
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	cr_assert_eq(ps_kafka_conf_load(c, path, &e), -1);
	cr_assert_eq(e.code, PS_EX_CONFIG);
	cr_assert_not_null(strstr(e.msg, ":5: expected name=value"), "%s",
			   e.msg);
	/* The password read before the bad line is known as a secret. */
	ps_kafka_redact(c, "pw hunter2hunter2.", out, sizeof(out));
	cr_assert_str_eq(out, "pw [redacted].");
	unlink(path);
	cr_assert_eq(ps_kafka_conf_load(c, path, &e), -1);
	cr_assert_eq(e.code, PS_EX_NOINPUT);
	ps_kafka_conf_free(c);
}

Test(kafka_conf, add_needs_name_and_equals)
{
	struct ps_kafka_conf *c = ps_kafka_conf_new();
	struct ps_error e = { 0, "" };

	cr_assert_eq(ps_kafka_conf_add(c, "linger.ms=5", &e), 0);
	cr_assert_eq(ps_kafka_conf_add(c, "linger.ms", &e), -1);
	cr_assert_eq(ps_kafka_conf_add(c, "=5", &e), -1);
	cr_assert_eq(e.code, PS_EX_CONFIG);
	ps_kafka_conf_free(c);
}

Test(kafka_redact, truncates_safely)
{
	char out[8];

	ps_kafka_redact(NULL, "abcdefghijkl", out, sizeof(out));
	cr_assert_str_eq(out, "abcdefg");
}

Test(kafka_from, parses)
{
	enum ps_kafka_from f;
	int64_t t = 0;
	struct ps_error e = { 0, "" };

	cr_assert_eq(ps_kafka_parse_from("beginning", &f, &t, &e), 0);
	cr_assert_eq(f, PS_KAFKA_FROM_BEGINNING);
	cr_assert_eq(ps_kafka_parse_from("end", &f, &t, &e), 0);
	cr_assert_eq(f, PS_KAFKA_FROM_END);
	cr_assert_eq(ps_kafka_parse_from("1970-01-01T00:00:01Z", &f, &t, &e),
		     0);
	cr_assert_eq(f, PS_KAFKA_FROM_TIME);
	cr_assert_eq(t, 1000000);
	cr_assert_eq(ps_kafka_parse_from("soon", &f, &t, &e), -1);
	cr_assert_eq(e.code, PS_EX_USAGE);
}

/* Round trips through librdkafka's mock cluster. */

static rd_kafka_t *mock_rk;
static rd_kafka_mock_cluster_t *mock;
static char lake[64];

static void mock_up(void)
{
	char err[256];
	rd_kafka_conf_t *kc = rd_kafka_conf_new();

	ps_log_set_level(PS_ERROR);
	cr_assert_eq(rd_kafka_conf_set(kc, "log_level", "0", err,
				       sizeof(err)), RD_KAFKA_CONF_OK);
	mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, err, sizeof(err));
	cr_assert_not_null(mock_rk, "%s", err);
	mock = rd_kafka_mock_cluster_new(mock_rk, 1);
	cr_assert_not_null(mock);
	cr_assert_eq(rd_kafka_mock_topic_create(mock, "t", 2, 1), 0);
	snprintf(lake, sizeof(lake), "/tmp/test_kafka_lake.XXXXXX");
	cr_assert_not_null(mkdtemp(lake));
}

static void mock_down(void)
{
	char cmd[128];

	rd_kafka_mock_cluster_destroy(mock);
	rd_kafka_destroy(mock_rk);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", lake);
	cr_assert_eq(system(cmd), 0);
}

static struct ps_kafka_conf *mock_conf(void)
{
	struct ps_kafka_conf *c = ps_kafka_conf_new();
	struct ps_error e = { 0, "" };

	cr_assert_eq(ps_kafka_conf_set(c, "bootstrap.servers",
				       rd_kafka_mock_cluster_bootstraps(mock),
				       &e), 0);
	/* A closed consumer's successor waits for it at most this long. */
	cr_assert_eq(ps_kafka_conf_set(c, "session.timeout.ms", "6000", &e),
		     0);
	return c;
}

/* Produce the text (lines) to topic t; returns the stats. */
static struct ps_kafka_produce_stats produce(const char *text, int rc_want)
{
	struct ps_kafka_produce_opts o = PS_KAFKA_PRODUCE_OPTS_INIT;
	struct ps_kafka_produce_stats st;
	struct ps_kafka_conf *c = mock_conf();
	struct ps_error e = { 0, "" };
	char path[] = "/tmp/test_kafka_in.XXXXXX";
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	lseek(fd, 0, SEEK_SET);
	unlink(path);
	o.topic = "t";
	o.timeout_ms = 10000;
	cr_assert_eq(ps_kafka_produce(c, &o, fd, &st, &e), rc_want, "%s",
		     e.msg);
	close(fd);
	ps_kafka_conf_free(c);
	return st;
}

/* Consume t to the end; the output in *b, the count returned. */
static long long consume(const char *group, const char *lk,
			 struct ps_buf *b)
{
	struct ps_kafka_consume_opts o = PS_KAFKA_CONSUME_OPTS_INIT;
	struct ps_kafka_consume_stats st;
	struct ps_kafka_conf *c = mock_conf();
	struct ps_error e = { 0, "" };
	char *data = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&data, &len);

	cr_assert_not_null(f);
	o.topic = "t";
	o.group = group;
	o.lake = lk;
	o.exit_at_end = 1;
	o.timeout_ms = 40000;
	cr_assert_eq(ps_kafka_consume(c, &o, f, &st, &e), 0, "%s", e.msg);
	cr_assert_eq(fclose(f), 0);
	ps_buf_add(b, data, len);
	free(data);
	ps_kafka_conf_free(c);
	return st.consumed;
}

Test(kafka_mock, produce_then_consume_envelopes, .init = mock_up,
     .fini = mock_down, .timeout = 60)
{
	struct ps_kafka_produce_stats st;
	struct ps_buf in = PS_BUF_INIT, out = PS_BUF_INIT;
	struct ps_envelope_parser *p = ps_envelope_parser_new();
	struct ps_envelope env;
	struct ps_error e = { 0, "" };
	char *line, *nl;
	int i, seen[100] = { 0 };
	long long n;

	for (i = 0; i < 100; i++)
		ps_buf_addf(&in, "{\"i\":%d,\"hospital_id\":%d}\n", i, i % 7);
	ps_buf_adds(&in, "\n{\"no_key\":true}\n");
	st = produce(in.data, 0);
	cr_assert_eq(st.read, 102);
	cr_assert_eq(st.delivered, 101);
	cr_assert_eq(st.failed + st.unsent + st.rejected, 0);
	cr_assert_eq(st.unkeyed, 1);

	n = consume("g1", NULL, &out);
	cr_assert_eq(n, 101);
	for (line = out.data; line < out.data + out.len; line = nl + 1) {
		int id = -1, h = -1;

		nl = memchr(line, '\n', (size_t)(out.data + out.len - line));
		cr_assert_not_null(nl);
		cr_assert_eq(ps_envelope_parse(p, line, (size_t)(nl - line),
					       &env, &e), 0, "%s", e.msg);
		cr_assert(env.source_len == 9 &&
			  (!memcmp(env.source, "kafka:t/0", 9) ||
			   !memcmp(env.source, "kafka:t/1", 9)));
		cr_assert_neq(env.broker_time, PS_TIME_NONE);
		if (sscanf(env.payload, "{\"i\":%d,\"hospital_id\":%d}", &id,
			   &h) == 2) {
			char k[8];

			cr_assert(id >= 0 && id < 100);
			seen[id]++;
			snprintf(k, sizeof(k), "%d", h);
			cr_assert(env.key && env.key_len == strlen(k) &&
				  !memcmp(env.key, k, env.key_len));
		} else {
			cr_assert_null(env.key);
		}
	}
	for (i = 0; i < 100; i++)
		cr_assert_eq(seen[i], 1, "event %d seen %d times", i, seen[i]);

	/* The group committed its offsets: nothing new for it. */
	ps_buf_reset(&out);
	cr_assert_eq(consume("g1", NULL, &out), 0);
	cr_assert_eq(out.len, 0);

	ps_envelope_parser_free(p);
	ps_buf_release(&in);
	ps_buf_release(&out);
}

Test(kafka_mock, lake_starts_after_the_bronze_checkpoint, .init = mock_up,
     .fini = mock_down, .timeout = 60)
{
	struct ps_buf in = PS_BUF_INIT, out = PS_BUF_INIT;
	struct ps_checkpoint *cp = ps_checkpoint_new();
	struct ps_error e = { 0, "" };
	int i;

	/* One key: every event in one partition, offsets 0..19. */
	for (i = 0; i < 20; i++)
		ps_buf_addf(&in, "{\"i\":%d,\"hospital_id\":1}\n", i);
	produce(in.data, 0);
	ps_checkpoint_set(cp, "kafka:t/0", 9, 11);
	ps_checkpoint_set(cp, "kafka:t/1", 9, 11);
	cr_assert_eq(ps_checkpoint_save(cp, lake, "ps-bronze", "admissions",
					&e), 0, "%s", e.msg);
	/* 20 in one partition, the other empty: 8 after position 11. */
	cr_assert_eq(consume("lake1", lake, &out), 8);
	cr_assert_not_null(strstr(out.data, "\"position\":12,"));
	cr_assert_null(strstr(out.data, "\"position\":11,"));
	ps_checkpoint_free(cp);
	ps_buf_release(&in);
	ps_buf_release(&out);
}

Test(kafka_mock, no_broker_fails_with_69, .timeout = 60)
{
	struct ps_kafka_produce_opts o = PS_KAFKA_PRODUCE_OPTS_INIT;
	struct ps_kafka_produce_stats st;
	struct ps_kafka_conf *c = ps_kafka_conf_new();
	struct ps_error e = { 0, "" };
	int fds[2];

	ps_log_set_level(PS_ERROR);
	cr_assert_eq(pipe(fds), 0);
	cr_assert_eq(write(fds[1], "{\"a\":1}\n{\"a\":2}\n", 16), 16);
	close(fds[1]);
	cr_assert_eq(ps_kafka_conf_set(c, "bootstrap.servers", "127.0.0.1:1",
				       &e), 0);
	o.topic = "t";
	o.timeout_ms = 1000;
	cr_assert_eq(ps_kafka_produce(c, &o, fds[0], &st, &e), -1);
	cr_assert_eq(e.code, PS_EX_UNAVAILABLE, "%d %s", e.code, e.msg);
	cr_assert_eq(st.delivered, 0);
	cr_assert_eq(st.failed, 2);
	cr_assert_not_null(strstr(e.msg, "2 message(s) undelivered"));
	close(fds[0]);
	ps_kafka_conf_free(c);
}

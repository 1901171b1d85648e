/* test_log.c - structured logs on stderr (lib/log.h). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <math.h>

#include "buf.h"
#include "json.h"
#include "log.h"
#include "banned.h"

/* Capture what goes to fd 2 between start and stop. */
static int saved_fd = -1;
static FILE *cap;

static void cap_start(void)
{
	cap = tmpfile();
	cr_assert_not_null(cap);
	saved_fd = dup(2);
	cr_assert(saved_fd >= 0);
	cr_assert(dup2(fileno(cap), 2) == 2);
}

static char *cap_stop(void)
{
	struct ps_buf b = PS_BUF_INIT;
	char tmp[4096];
	size_t n;

	dup2(saved_fd, 2);
	close(saved_fd);
	rewind(cap);
	while ((n = fread(tmp, 1, sizeof(tmp), cap)) > 0)
		ps_buf_add(&b, tmp, n);
	fclose(cap);
	return ps_buf_detach(&b, NULL);
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void setup(void)
{
	ps_log_set_tool("ps-test");
	ps_log_set_timestamps(0);
	ps_log_set_level(PS_INFO);
	ps_log_set_format(PS_LOG_LOGFMT);
}

Test(log, logfmt_event, .init = setup)
{
	char *out;

	cap_start();
	ps_log(PS_INFO, "hello world", PS_I("n", 5), PS_S("s", "plain"),
	       PS_D("d", 1.5), PS_B("b", 3), PS_I("neg", -7));
	ps_log(PS_WARN, "no fields");
	ps_log(PS_ERROR, "bad", PS_D("nan", NAN), PS_S("null", NULL),
	       PS_S("empty", ""));
	out = cap_stop();
	cr_assert_str_eq(out,
		"tool=ps-test level=info msg=\"hello world\" n=5 s=plain "
		"d=1.5 b=true neg=-7\n"
		"tool=ps-test level=warn msg=\"no fields\"\n"
		"tool=ps-test level=error msg=\"bad\" nan=NaN null=\"\" "
		"empty=\"\"\n");
	free(out);
}

/* A value quoted by logfmt, read back as the JSON string it is. */
static char *unquote(const char *q, size_t n)
{
	char err[128];
	yajl_val v = ps_json_parse(q, n, err, sizeof(err));
	char *s;

	cr_assert_not_null(v, "%.*s: %s", (int)n, q, err);
	cr_assert(YAJL_IS_STRING(v));
	s = ps_xstrdup(YAJL_GET_STRING(v));
	yajl_tree_free(v);
	return s;
}

Test(log, logfmt_quotes_so_an_event_is_one_line, .init = setup)
{
	const char *vals[] = {
		"two\nlines", "cr\rhere", "say \"hi\"", "a=b", "back\\slash",
		"with space", "tab\there", "\x01\x1f", "caf\xc3\xa9",
		"bad\xff", "x\n\nkey=forged level=error",
	};
	size_t i;

	for (i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		char *out, *p, *v;
		size_t n;

		cap_start();
		ps_log(PS_INFO, vals[i], PS_S("v", vals[i]));
		out = cap_stop();
		cr_assert_eq(count_lines(out), 1, "%s", out);
		n = strlen(out);
		cr_assert_eq(out[n - 1], '\n');
		p = strstr(out, " v=\"");
		cr_assert_not_null(p, "value %zu quoted: %s", i, out);
		v = unquote(p + 3, n - 1 - (size_t)(p + 3 - out));
		if (i == 9)
			cr_assert_str_eq(v, "bad\xef\xbf\xbd");
		else
			cr_assert_str_eq(v, vals[i]);
		free(v);
		free(out);
	}
}

Test(log, json_event_parses, .init = setup)
{
	char err[128], *out, *nl;
	yajl_val v;
	const char *path[] = { "ts", NULL };

	ps_log_set_format(PS_LOG_JSON);
	cap_start();
	ps_log(PS_WARN, "bad \"record\"\n", PS_I("line", 7),
	       PS_S("why", "a\nb=\"c\""), PS_D("x", 0.25), PS_B("t", 0),
	       PS_D("nan", NAN), PS_S("null", NULL));
	out = cap_stop();
	cr_assert_eq(count_lines(out), 1, "%s", out);
	nl = strchr(out, '\n');
	v = ps_json_parse(out, (size_t)(nl - out), err, sizeof(err));
	cr_assert_not_null(v, "%s: %s", out, err);
	cr_assert_str_eq(YAJL_GET_STRING(ps_json_get(v, "tool")), "ps-test");
	cr_assert_str_eq(YAJL_GET_STRING(ps_json_get(v, "level")), "warn");
	cr_assert_str_eq(YAJL_GET_STRING(ps_json_get(v, "msg")),
			 "bad \"record\"\n");
	cr_assert_eq(YAJL_GET_INTEGER(ps_json_get(v, "line")), 7);
	cr_assert_str_eq(YAJL_GET_STRING(ps_json_get(v, "why")),
			 "a\nb=\"c\"");
	cr_assert(YAJL_GET_DOUBLE(ps_json_get(v, "x")) == 0.25);
	cr_assert(YAJL_IS_FALSE(ps_json_get(v, "t")));
	cr_assert(YAJL_IS_NULL(ps_json_get(v, "nan")));
	cr_assert(YAJL_IS_NULL(ps_json_get(v, "null")));
	cr_assert_null(yajl_tree_get(v, path, yajl_t_any), "no ts");
	yajl_tree_free(v);
	free(out);
}

static void check_ts(const char *t)
{
	int i;

	/* YYYY-MM-DDTHH:MM:SS.mmmZ */
	for (i = 0; i < 24; i++) {
		if (i == 4 || i == 7)
			cr_assert_eq(t[i], '-', "%s", t);
		else if (i == 10)
			cr_assert_eq(t[i], 'T', "%s", t);
		else if (i == 13 || i == 16)
			cr_assert_eq(t[i], ':', "%s", t);
		else if (i == 19)
			cr_assert_eq(t[i], '.', "%s", t);
		else if (i == 23)
			cr_assert_eq(t[i], 'Z', "%s", t);
		else
			cr_assert(t[i] >= '0' && t[i] <= '9', "%s", t);
	}
}

Test(log, timestamps_and_ps_log_ts, .init = setup)
{
	char *out;
	char err[128];
	yajl_val v;

	ps_log_set_timestamps(1);
	cap_start();
	ps_log(PS_INFO, "m");
	out = cap_stop();
	cr_assert(!strncmp(out, "ts=", 3), "%s", out);
	check_ts(out + 3);
	cr_assert_str_eq(out + 27, " tool=ps-test level=info msg=\"m\"\n");
	free(out);

	ps_log_set_format(PS_LOG_JSON);
	cap_start();
	ps_log(PS_INFO, "m");
	out = cap_stop();
	v = ps_json_parse(out, strlen(out) - 1, err, sizeof(err));
	cr_assert_not_null(v, "%s", err);
	cr_assert(YAJL_IS_STRING(ps_json_get(v, "ts")));
	check_ts(YAJL_GET_STRING(ps_json_get(v, "ts")));
	yajl_tree_free(v);
	free(out);

	/* PS_LOG_TS=0 from the environment drops them again. */
	setenv("PS_LOG_TS", "0", 1);
	ps_log_init_env();
	cap_start();
	ps_log(PS_INFO, "m");
	out = cap_stop();
	cr_assert_str_eq(out, "{\"tool\":\"ps-test\",\"level\":\"info\","
			      "\"msg\":\"m\"}\n");
	free(out);
}

Test(log, ps_log_ts_other_values_keep_timestamps, .init = setup)
{
	char *out;

	ps_log_set_timestamps(1);
	setenv("PS_LOG_TS", "1", 1);
	ps_log_init_env();
	cap_start();
	ps_log(PS_INFO, "m");
	out = cap_stop();
	cr_assert(!strncmp(out, "ts=", 3), "%s", out);
	free(out);
}

static int evaluated;

static long long bump(void)
{
	return ++evaluated;
}

Test(log, levels_filter, .init = setup)
{
	char *out;

	cap_start();
	ps_log_set_level(PS_ERROR);		/* -q */
	ps_log(PS_WARN, "w", PS_I("n", bump()));
	ps_log(PS_INFO, "i");
	ps_log(PS_DEBUG, "d");
	ps_log(PS_ERROR, "e");
	ps_log_set_level(PS_INFO);		/* default */
	ps_log(PS_DEBUG, "d2", PS_I("n", bump()));
	ps_log(PS_INFO, "i2");
	ps_log(PS_WARN, "w2");
	ps_log_set_level(PS_DEBUG);		/* -v */
	ps_log(PS_DEBUG, "d3");
	out = cap_stop();
	cr_assert_str_eq(out,
		"tool=ps-test level=error msg=\"e\"\n"
		"tool=ps-test level=info msg=\"i2\"\n"
		"tool=ps-test level=warn msg=\"w2\"\n"
		"tool=ps-test level=debug msg=\"d3\"\n");
	cr_assert_eq(evaluated, 0, "arguments not evaluated when filtered");
	free(out);

	ps_log_set_level(99);
	cr_assert_eq(ps_log_get_level(), PS_DEBUG);
	ps_log_set_level(-5);
	cr_assert_eq(ps_log_get_level(), PS_ERROR);
	cr_assert(ps_log_enabled(PS_ERROR));
	cr_assert(!ps_log_enabled(PS_WARN));
}

Test(log, parse_format)
{
	enum ps_log_format f = PS_LOG_LOGFMT;

	cr_assert_eq(ps_log_parse_format("json", &f), 0);
	cr_assert_eq(f, PS_LOG_JSON);
	cr_assert_eq(ps_log_parse_format("logfmt", &f), 0);
	cr_assert_eq(f, PS_LOG_LOGFMT);
	cr_assert_eq(ps_log_parse_format("JSON", &f), -1);
	cr_assert_eq(ps_log_parse_format("", &f), -1);
}

static int hook_calls;

static void hook(void)
{
	hook_calls++;
}

Test(log, hook_runs_before_each_event, .init = setup)
{
	char *out;

	ps_log_set_hook(hook);
	cap_start();
	ps_log(PS_INFO, "a");
	ps_log(PS_DEBUG, "filtered");
	ps_log(PS_INFO, "b");
	out = cap_stop();
	cr_assert_eq(hook_calls, 2);
	cr_assert_eq(count_lines(out), 2);
	ps_log_set_hook(NULL);
	free(out);
}

Test(log, tool_name_is_quoted_when_needed, .init = setup)
{
	char *out;

	ps_log_set_tool("my tool");
	cap_start();
	ps_log(PS_INFO, "m");
	out = cap_stop();
	cr_assert_str_eq(out, "tool=\"my tool\" level=info msg=\"m\"\n");
	free(out);
}

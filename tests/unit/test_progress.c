/* test_progress.c - counters, progress line, summary (lib/progress.h). */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "json.h"
#include "log.h"
#include "progress.h"
#include "banned.h"

#define STARTS(s, lit) (!strncmp((s), (lit), sizeof(lit) - 1))

static int saved_fd = -1;
static FILE *cap;

static void cap_start(void)
{
	cap = tmpfile();
	cr_assert_not_null(cap);
	saved_fd = dup(2);
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

/* Past a leading "ts=... " (durations are logged only with timestamps). */
static const char *after_ts(const char *out)
{
	const char *sp = strchr(out, ' ');

	return !strncmp(out, "ts=", 3) && sp ? sp + 1 : out;
}

static void setup(void)
{
	ps_log_set_tool("ps-test");
	ps_log_set_timestamps(0);
	ps_log_set_level(PS_INFO);
	ps_log_set_format(PS_LOG_LOGFMT);
}

Test(progress, summary_log_line, .init = setup)
{
	struct ps_counter c[] = { { "read", 0 }, { "written", 0 },
				  { "bad", 0 } };
	struct ps_progress p;
	char *out, *s;
	int i;

	ps_log_set_timestamps(1);
	cap_start();
	ps_progress_init(&p, c, 3);
	cr_assert_eq(p.tty, 0, "stderr is not a terminal here");
	for (i = 0; i < 5000; i++) {
		c[0].value++;
		c[1].value += i % 2;
		ps_progress_tick(&p);
	}
	c[2].value = 3;
	ps_progress_done(&p, "done");
	out = cap_stop();
	cr_assert(STARTS(after_ts(out), "tool=ps-test level=info msg=\"done\" "
			 "read=5000 written=2500 bad=3 seconds="), "%s", out);
	s = strstr(out, " seconds=");
	cr_assert(s && strtod(s + 9, NULL) >= 0, "%s", out);
	cr_assert(strstr(out, " per_second="), "%s", out);
	cr_assert_eq(strchr(out, '\n'), out + strlen(out) - 1, "one line");
	cr_assert_null(strchr(out, '\r'), "no progress line drawn");
	free(out);
}

Test(progress, summary_as_json, .init = setup)
{
	struct ps_counter c[] = { { "read", 12 }, { "quarantined", 2 } };
	struct ps_progress p;
	char *out, err[128];
	yajl_val v;

	ps_log_set_format(PS_LOG_JSON);
	ps_log_set_timestamps(1);
	cap_start();
	ps_progress_init(&p, c, 2);
	ps_progress_done(&p, "summary");
	out = cap_stop();
	v = ps_json_parse(out, strlen(out) - 1, err, sizeof(err));
	cr_assert_not_null(v, "%s: %s", out, err);
	cr_assert_str_eq(YAJL_GET_STRING(ps_json_get(v, "msg")), "summary");
	cr_assert_eq(YAJL_GET_INTEGER(ps_json_get(v, "read")), 12);
	cr_assert_eq(YAJL_GET_INTEGER(ps_json_get(v, "quarantined")), 2);
	cr_assert(YAJL_IS_NUMBER(ps_json_get(v, "seconds")));
	yajl_tree_free(v);
	free(out);
}

Test(progress, many_counters_and_quiet, .init = setup)
{
	static const char *names[25] = {
		"c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9",
		"c10", "c11", "c12", "c13", "c14", "c15", "c16", "c17", "c18",
		"c19", "c20", "c21", "c22", "c23", "c24",
	};
	struct ps_counter c[25];
	struct ps_progress p;
	char *out;
	int i;

	for (i = 0; i < 25; i++) {
		c[i].name = names[i];
		c[i].value = i;
	}
	ps_log_set_timestamps(1);
	cap_start();
	ps_progress_init(&p, c, 25);
	ps_progress_done(&p, "m");
	ps_log_set_level(PS_ERROR);		/* -q: no summary */
	ps_progress_done(&p, "hidden");
	out = cap_stop();
	cr_assert(strstr(out, " c16=16 seconds="), "%s", out);
	cr_assert_null(strstr(out, "c17="), "at most 17 counters");
	cr_assert_null(strstr(out, "hidden"));
	free(out);
}

Test(progress, no_counters, .init = setup)
{
	struct ps_progress p;
	char *out;

	ps_log_set_timestamps(1);
	cap_start();
	ps_progress_init(&p, NULL, 0);
	ps_progress_done(&p, "empty");
	out = cap_stop();
	cr_assert(STARTS(after_ts(out), "tool=ps-test level=info "
			 "msg=\"empty\" seconds="), "%s", out);
	cr_assert_null(strstr(out, "per_second"));
	free(out);
}

Test(progress, no_durations_without_timestamps, .init = setup)
{
	struct ps_counter c[] = { { "read", 7 } };
	struct ps_progress p;
	char *out;

	cap_start();
	ps_progress_init(&p, c, 1);
	ps_progress_done(&p, "done");
	out = cap_stop();
	cr_assert_str_eq(out, "tool=ps-test level=info msg=\"done\" read=7\n");
	free(out);
}

Test(progress, write_json)
{
	struct ps_counter c[] = { { "read", 10 }, { "written", -1 },
				  { "big", 9007199254740993LL } };
	struct ps_progress p;
	FILE *f = tmpfile();
	char buf[256];
	size_t n;

	ps_progress_init(&p, c, 3);
	cr_assert_eq(ps_progress_write_json(&p, f), 0);
	p.n = 0;
	cr_assert_eq(ps_progress_write_json(&p, f), 0);
	rewind(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	cr_assert_str_eq(buf, "{\"read\":10,\"written\":-1,"
			      "\"big\":9007199254740993}\n{}\n");
	fclose(f);
}

Test(progress, write_json_failure)
{
	struct ps_counter c[] = { { "read", 10 } };
	struct ps_progress p;
	FILE *f = fopen("/dev/null", "r");	/* not writable */

	cr_assert_not_null(f);
	ps_progress_init(&p, c, 1);
	cr_assert_eq(ps_progress_write_json(&p, f), -1);
	fclose(f);
}

/* On a terminal the line is drawn, and a log event clears it first. */
Test(progress, draws_on_a_terminal, .init = setup)
{
	struct ps_counter c[] = { { "read", 42 }, { "bad", 1 } };
	struct ps_progress p;
	struct ps_buf b = PS_BUF_INIT;
	int master = posix_openpt(O_RDWR | O_NOCTTY), slave, saved;
	char tmp[512];
	ssize_t n;

	cr_assert(master >= 0);
	cr_assert_eq(grantpt(master), 0);
	cr_assert_eq(unlockpt(master), 0);
	slave = open(ptsname(master), O_RDWR | O_NOCTTY);
	cr_assert(slave >= 0);
	saved = dup(2);
	dup2(slave, 2);
	ps_progress_init(&p, c, 2);
	cr_assert_eq(p.tty, 1);
	p.last -= 1;			/* as if a second had passed */
	ps_progress_draw(&p);
	ps_progress_draw(&p);		/* too soon: nothing */
	ps_log(PS_WARN, "w");
	ps_progress_done(&p, "done");
	dup2(saved, 2);
	close(saved);
	close(slave);
	fcntl(master, F_SETFL, O_NONBLOCK);
	while ((n = read(master, tmp, sizeof(tmp))) > 0)
		ps_buf_add(&b, tmp, (size_t)n);
	close(master);
	cr_assert_not_null(b.data);
	cr_assert(STARTS(b.data, "\r\033[Kread 42, bad 1 ("), "%s", b.data);
	cr_assert(strstr(b.data, "/s)\r\033[Ktool=ps-test level=warn"),
		  "log clears the line: %s", b.data);
	cr_assert(strstr(b.data, "msg=\"done\" read=42 bad=1"), "%s", b.data);
	cr_assert_null(strstr(strstr(b.data, "level=warn"), "read 42,"),
		       "drawn once");
	ps_log_set_hook(NULL);
	ps_buf_release(&b);
}

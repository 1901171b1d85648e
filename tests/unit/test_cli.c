/* test_cli.c - options, numbers, exit codes (lib/cli.h, lib/error.h). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"
#include "error.h"
#include "log.h"
#include "banned.h"

/* ---- capturing fd 1 and fd 2 ---- */

struct cap {
	FILE *f;
	int saved;
	int fd;
};

static void cap_start(struct cap *c, int fd)
{
	if (fd == 1)
		fflush(stdout);
	else
		fflush(stderr);
	c->fd = fd;
	c->f = tmpfile();
	cr_assert_not_null(c->f);
	c->saved = dup(fd);
	cr_assert(dup2(fileno(c->f), fd) == fd);
}

static char *cap_stop(struct cap *c)
{
	struct ps_buf b = PS_BUF_INIT;
	char tmp[4096];
	size_t n;

	if (c->fd == 1)
		fflush(stdout);
	else
		fflush(stderr);
	dup2(c->saved, c->fd);
	close(c->saved);
	rewind(c->f);
	while ((n = fread(tmp, 1, sizeof(tmp), c->f)) > 0)
		ps_buf_add(&b, tmp, n);
	fclose(c->f);
	return ps_buf_detach(&b, NULL);
}

/* ---- a sample tool ---- */

enum { OPT_RATE = 300 };

static const struct ps_option sample_opts[] = {
	{ "count", 'n', "N", "how many records" },
	{ "rate", OPT_RATE, "R", "records per second" },
	{ "strict", 's', NULL, "stop at the first bad record" },
	{ NULL, 0, NULL, NULL },
};

static const struct ps_tool sample = {
	"ps-sample", "[OPTIONS] [FILE...]", "Do sample things.",
	sample_opts, PS_CLI_LAKE | PS_CLI_STREAM, "Example: ps-sample -n 3",
};

static const struct ps_tool bare = {
	"ps-bare", "[OPTIONS]", "No lake, no stream.", NULL, 0, NULL,
};

struct opts {
	long long count;
	double rate;
	int strict;
	int calls;
};

static int sample_fn(void *ctx, int key, const char *arg, struct ps_error *e)
{
	struct opts *o = ctx;
	const char *why;

	o->calls++;
	switch (key) {
	case 'n':
		if (ps_parse_ll(arg, 0, 1000, &o->count, &why) < 0)
			return ps_error_set(e, PS_EX_USAGE, "--count: %s", why);
		return 0;
	case OPT_RATE:
		if (ps_parse_double(arg, 0, 1e6, &o->rate, &why) < 0)
			return ps_error_set(e, PS_EX_USAGE, "--rate: %s", why);
		return 0;
	case 's':
		o->strict = 1;
		return 0;
	}
	return ps_error_set(e, PS_EX_USAGE, "unexpected key %d", key);
}

struct run {
	int rc, argi;
	struct opts o;
	struct ps_common c;
	char *out, *err;
};

/* Parse a NULL-terminated argv (argv[0] added), capturing stdout/err. */
static void run(struct run *r, const struct ps_tool *t, const char **args)
{
	char *argv[32];
	int argc = 0;
	struct cap co, ce;

	argv[argc++] = (char *)t->name;
	while (*args)
		argv[argc++] = (char *)*args++;
	argv[argc] = NULL;
	memset(r, 0, sizeof(*r));
	r->argi = -1;
	cap_start(&co, 1);
	cap_start(&ce, 2);
	r->rc = ps_cli_parse(t, argc, argv, sample_fn, &r->o, &r->c, &r->argi);
	r->err = cap_stop(&ce);
	r->out = cap_stop(&co);
}

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

static void setup(void)
{
	unsetenv("PS_LAKE");
	ps_log_set_level(PS_INFO);
}

#define ARGS(...) ((const char *[]){ __VA_ARGS__, NULL })

Test(cli, help_goes_to_stdout_and_returns_0, .init = setup)
{
	struct run r;
	const char *forms[] = { "--help", "-h" };
	size_t i;

	for (i = 0; i < 2; i++) {
		run(&r, &sample, ARGS(forms[i], "--bogus"));
		cr_assert_eq(r.rc, 0);
		cr_assert_str_eq(r.err, "");
		cr_assert(!strncmp(r.out, "Usage: ps-sample [OPTIONS] "
				   "[FILE...]\nDo sample things.\n", 46),
			  "%s", r.out);
		cr_assert(strstr(r.out, "  -n, --count N "), "%s", r.out);
		cr_assert(strstr(r.out, "      --rate R "), "%s", r.out);
		cr_assert(strstr(r.out, "  -s, --strict "), "%s", r.out);
		cr_assert(strstr(r.out, "  -L, --lake DIR "), "%s", r.out);
		cr_assert(strstr(r.out, "      --stream NAME "), "%s", r.out);
		cr_assert(strstr(r.out, "      --log-format FMT"));
		cr_assert(strstr(r.out, "  -v, --verbose "));
		cr_assert(strstr(r.out, "  -q, --quiet "));
		cr_assert(strstr(r.out, "  -V, --version "));
		cr_assert(strstr(r.out, "\nExample: ps-sample -n 3\n"));
		cr_assert(strstr(r.out, "64 usage"));
		cr_assert(strstr(r.out, "See ps-sample(1) and "
				 "pulsestream(7)."));
		run_free(&r);
	}
	run(&r, &bare, ARGS("--help"));
	cr_assert_eq(r.rc, 0);
	cr_assert_null(strstr(r.out, "--lake"), "lake not enabled");
	cr_assert_null(strstr(r.out, "--stream"), "stream not enabled");
	cr_assert_null(strstr(r.out, "\nOptions:"), "no tool options");
	cr_assert(strstr(r.out, "--log-format"));
	run_free(&r);
}

Test(cli, version, .init = setup)
{
	struct run r;

	run(&r, &sample, ARGS("--version"));
	cr_assert_eq(r.rc, 0);
	cr_assert_str_eq(r.out, "ps-sample (PulseStream) " PS_VERSION "\n");
	cr_assert_str_eq(r.err, "");
	run_free(&r);
	run(&r, &sample, ARGS("-V"));
	cr_assert_eq(r.rc, 0);
	cr_assert_str_eq(r.out, "ps-sample (PulseStream) " PS_VERSION "\n");
	run_free(&r);
}

static void misuse(const struct ps_tool *t, const char **args,
		   const char *msg)
{
	struct run r;
	char want[256];

	run(&r, t, args);
	cr_assert_eq(r.rc, 64, "%s: rc %d", args[0], r.rc);
	cr_assert_str_eq(r.out, "", "nothing on stdout");
	snprintf(want, sizeof(want), "%s: %s\nTry '%s --help' for more "
		 "information.\n", t->name, msg, t->name);
	cr_assert_str_eq(r.err, want);
	run_free(&r);
}

Test(cli, misuse_exits_64_with_a_message_on_stderr, .init = setup)
{
	misuse(&sample, ARGS("--bogus"), "unknown option '--bogus'");
	misuse(&sample, ARGS("-x"), "unknown option '-x'");
	misuse(&sample, ARGS("-vx"), "unknown option '-x'");
	misuse(&sample, ARGS("--count"), "option '--count' needs an argument");
	misuse(&sample, ARGS("-n"), "option '-n' needs an argument");
	misuse(&sample, ARGS("--rate"), "option '--rate' needs an argument");
	misuse(&sample, ARGS("-L"), "option '-L' needs an argument");
	misuse(&sample, ARGS("--strict=1"),
	       "option '--strict' does not take an argument");
	misuse(&sample, ARGS("--verbose=2"),
	       "option '--verbose' does not take an argument");
	misuse(&sample, ARGS("--strict", "-xs"), "unknown option '-x'");
	misuse(&sample, ARGS("--ver"), "unknown option '--ver'");
	misuse(&sample, ARGS("-n", "12x"), "--count: invalid");
	misuse(&sample, ARGS("--count=5000"), "--count: too large");
	misuse(&sample, ARGS("--rate", "-1"), "--rate: too small");
	misuse(&sample, ARGS("--log-format", "xml"),
	       "--log-format: expected logfmt or json, not 'xml'");
	misuse(&bare, ARGS("-L", "lake"), "unknown option '-L'");
	misuse(&bare, ARGS("--stream", "x"), "unknown option '--stream'");
}

Test(cli, tool_options_and_operands, .init = setup)
{
	struct run r;

	run(&r, &sample, ARGS("-n", "7", "--rate=2.5", "-s", "f1", "f2"));
	cr_assert_eq(r.rc, PS_CONTINUE);
	cr_assert_eq(r.o.count, 7);
	cr_assert(r.o.rate == 2.5);
	cr_assert_eq(r.o.strict, 1);
	cr_assert_eq(r.argi, 5);
	cr_assert_str_eq(r.out, "");
	cr_assert_str_eq(r.err, "");
	run_free(&r);
	/* Options stop at the first operand and at "--". */
	run(&r, &sample, ARGS("f1", "-s"));
	cr_assert_eq(r.rc, PS_CONTINUE);
	cr_assert_eq(r.argi, 1);
	cr_assert_eq(r.o.strict, 0);
	run_free(&r);
	run(&r, &sample, ARGS("-s", "--", "-n"));
	cr_assert_eq(r.rc, PS_CONTINUE);
	cr_assert_eq(r.argi, 3);
	cr_assert_eq(r.o.calls, 1);
	run_free(&r);
	run(&r, &sample, ARGS("-sn3"));
	cr_assert_eq(r.rc, PS_CONTINUE);
	cr_assert_eq(r.o.count, 3);
	cr_assert_eq(r.o.strict, 1);
	run_free(&r);
}

Test(cli, common_options, .init = setup)
{
	struct run r;

	run(&r, &sample, ARGS("x"));
	cr_assert_eq(r.rc, PS_CONTINUE);
	cr_assert_null(r.c.lake);
	cr_assert_str_eq(r.c.stream, "admissions");
	cr_assert_eq(r.c.verbosity, 0);
	cr_assert_eq(ps_log_get_level(), PS_INFO);
	run_free(&r);

	setenv("PS_LAKE", "/env/lake", 1);
	run(&r, &sample, ARGS("x"));
	cr_assert_str_eq(r.c.lake, "/env/lake");
	run_free(&r);
	run(&r, &sample, ARGS("-L", "/cli/lake"));
	cr_assert_str_eq(r.c.lake, "/cli/lake");
	run_free(&r);
	run(&r, &sample, ARGS("--lake=/l2", "--stream", "beds"));
	cr_assert_str_eq(r.c.lake, "/l2");
	cr_assert_str_eq(r.c.stream, "beds");
	run_free(&r);
	setenv("PS_LAKE", "", 1);
	run(&r, &sample, ARGS("x"));
	cr_assert_null(r.c.lake, "empty PS_LAKE is unset");
	run_free(&r);

	run(&r, &sample, ARGS("-q"));
	cr_assert_eq(r.c.verbosity, -1);
	cr_assert_eq(ps_log_get_level(), PS_ERROR);
	run_free(&r);
	run(&r, &sample, ARGS("-v"));
	cr_assert_eq(r.c.verbosity, 1);
	cr_assert_eq(ps_log_get_level(), PS_DEBUG);
	run_free(&r);
	run(&r, &sample, ARGS("-vv", "--verbose"));
	cr_assert_eq(r.c.verbosity, 3);
	cr_assert_eq(ps_log_get_level(), PS_DEBUG);
	run_free(&r);
	run(&r, &sample, ARGS("-v", "--quiet"));
	cr_assert_eq(r.c.verbosity, -1);
	run_free(&r);
	run(&r, &sample, ARGS("-q", "-v"));
	cr_assert_eq(r.c.verbosity, 1);
	run_free(&r);
}

Test(cli, log_format_option_switches_to_json, .init = setup)
{
	struct run r;
	struct cap ce;
	char *err;

	run(&r, &sample, ARGS("--log-format", "json"));
	cr_assert_eq(r.rc, PS_CONTINUE);
	run_free(&r);
	ps_log_set_timestamps(0);
	ps_log_set_tool("ps-sample");
	cap_start(&ce, 2);
	ps_log(PS_INFO, "m");
	err = cap_stop(&ce);
	cr_assert_str_eq(err, "{\"tool\":\"ps-sample\",\"level\":\"info\","
			      "\"msg\":\"m\"}\n");
	free(err);
}

Test(cli, invalid_stream_names_are_rejected, .init = setup)
{
	misuse(&sample, ARGS("--stream", ""),
	       "--stream: '' is not a valid stream name");
	misuse(&sample, ARGS("--stream", "a/b"),
	       "--stream: 'a/b' is not a valid stream name");
	misuse(&sample, ARGS("--stream", ".hidden"),
	       "--stream: '.hidden' is not a valid stream name");
	misuse(&sample, ARGS("--stream=.."),
	       "--stream: '..' is not a valid stream name");
}

/* A second parse in one process starts afresh (subcommands, tests). */
Test(cli, parse_twice_starts_afresh, .init = setup)
{
	struct run r;

	run(&r, &sample, ARGS("-hv"));
	cr_assert_eq(r.rc, 0);
	run_free(&r);
	run(&r, &sample, ARGS("f"));
	cr_assert_eq(r.rc, PS_CONTINUE);
	cr_assert_eq(r.c.verbosity, 0, "no leftover -v from before");
	cr_assert_eq(r.argi, 1);
	run_free(&r);
	run(&r, &sample, ARGS("-sX"));
	cr_assert_eq(r.rc, 64);
	run_free(&r);
	run(&r, &sample, ARGS("-n", "4"));
	cr_assert_eq(r.rc, PS_CONTINUE);
	cr_assert_eq(r.o.count, 4);
	cr_assert_eq(r.o.calls, 1);
	run_free(&r);
}

/* ---- numbers ---- */

static void ll_ok(const char *s, long long min, long long max, long long v)
{
	long long out = -42;
	const char *why = NULL;

	cr_assert_eq(ps_parse_ll(s, min, max, &out, &why), 0, "%s: %s", s,
		     why);
	cr_assert_eq(out, v, "%s", s);
}

static void ll_bad(const char *s, long long min, long long max,
		   const char *why_want)
{
	long long out = -42;
	const char *why = NULL;

	cr_assert_eq(ps_parse_ll(s, min, max, &out, &why), -1, "%s", s);
	cr_assert_str_eq(why, why_want, "%s", s ? s : "NULL");
	cr_assert_eq(out, -42);
}

Test(cli, parse_ll)
{
	ll_ok("0", 0, 10, 0);
	ll_ok("10", 0, 10, 10);
	ll_ok("-5", -10, 10, -5);
	ll_ok("+5", 0, 10, 5);
	ll_ok("007", 0, 10, 7);
	ll_ok("9223372036854775807", 0, LLONG_MAX, LLONG_MAX);
	ll_ok("-9223372036854775808", LLONG_MIN, 0, LLONG_MIN);
	ll_bad("11", 0, 10, "too large");
	ll_bad("-1", 0, 10, "too small");
	ll_bad("9223372036854775808", 0, LLONG_MAX, "too large");
	ll_bad("99999999999999999999999", LLONG_MIN, LLONG_MAX, "too large");
	ll_bad("-9223372036854775809", LLONG_MIN, LLONG_MAX, "too small");
	ll_bad("", 0, 10, "invalid");
	ll_bad(NULL, 0, 10, "invalid");
	ll_bad(" 5", 0, 10, "invalid");
	ll_bad("\n5", 0, 10, "invalid");
	ll_bad("\t5", 0, 10, "invalid");
	ll_bad("5 ", 0, 10, "invalid");
	ll_bad("5x", 0, 10, "invalid");
	ll_bad("0x5", 0, 10, "invalid");
	ll_bad("1.0", 0, 10, "invalid");
	ll_bad("1e3", 0, 10000, "invalid");
	ll_bad("-", 0, 10, "invalid");
	ll_bad("+", 0, 10, "invalid");
	ll_bad("--1", -10, 10, "invalid");
}

static void dbl_ok(const char *s, double v)
{
	double out = -42;
	const char *why = NULL;

	cr_assert_eq(ps_parse_double(s, -1e300, 1e300, &out, &why), 0,
		     "%s: %s", s, why);
	cr_assert(out == v, "%s: %g", s, out);
}

static void dbl_bad(const char *s, double min, double max, const char *w)
{
	double out = -42;
	const char *why = NULL;

	cr_assert_eq(ps_parse_double(s, min, max, &out, &why), -1, "%s", s);
	cr_assert_str_eq(why, w, "%s", s ? s : "NULL");
	cr_assert(out == -42);
}

Test(cli, parse_double)
{
	dbl_ok("0", 0);
	dbl_ok("2.5", 2.5);
	dbl_ok("-0.125", -0.125);
	dbl_ok("1e3", 1000);
	dbl_ok(".5", 0.5);
	dbl_bad("", 0, 1, "invalid");
	dbl_bad(NULL, 0, 1, "invalid");
	dbl_bad(" 1", 0, 1, "invalid");
	dbl_bad("\n1", 0, 1, "invalid");
	dbl_bad("1 ", 0, 1, "invalid");
	dbl_bad("1.5x", 0, 10, "invalid");
	dbl_bad("nan", 0, 1, "invalid");
	dbl_bad("NaN", -1e300, 1e300, "invalid");
	dbl_bad("1e999", 0, INFINITY, "invalid");
	dbl_bad("inf", 0, 1e300, "too large");
	dbl_bad("-inf", -1e300, 1e300, "too small");
	dbl_bad("1.01", 0, 1, "too large");
	dbl_bad("-0.01", 0, 1, "too small");
}

static void size_ok(const char *s, long long v)
{
	long long out = -42;
	const char *why = NULL;

	cr_assert_eq(ps_parse_size(s, 0, LLONG_MAX, &out, &why), 0, "%s: %s",
		     s, why);
	cr_assert_eq(out, v, "%s", s);
}

static void size_bad(const char *s, long long min, long long max,
		     const char *w)
{
	long long out = -42;
	const char *why = NULL;

	cr_assert_eq(ps_parse_size(s, min, max, &out, &why), -1, "%s", s);
	cr_assert_str_eq(why, w, "%s", s ? s : "NULL");
	cr_assert_eq(out, -42);
}

Test(cli, parse_size)
{
	size_ok("0", 0);
	size_ok("123", 123);
	size_ok("1k", 1024);
	size_ok("1K", 1024);
	size_ok("3m", 3LL << 20);
	size_ok("3M", 3LL << 20);
	size_ok("2g", 2LL << 30);
	size_ok("2G", 2LL << 30);
	size_ok("8589934591G", 8589934591LL << 30);
	size_bad("8589934592G", 0, LLONG_MAX, "too large");
	size_bad("99999999999999999999", 0, LLONG_MAX, "too large");
	size_bad("2k", 0, 2047, "too large");
	size_bad("1k", 1025, 4096, "too small");
	size_bad("-1k", -4096, 4096, "too small");
	size_bad("", 0, 10, "invalid");
	size_bad(NULL, 0, 10, "invalid");
	size_bad("k", 0, 10, "invalid");
	size_bad("1kb", 0, 1 << 20, "invalid");
	size_bad("1KiB", 0, 1 << 20, "invalid");
	size_bad("1.5k", 0, 1 << 20, "invalid");
	size_bad("1 k", 0, 1 << 20, "invalid");
	size_bad("1t", 0, LLONG_MAX, "invalid");
	size_bad(" 1k", 0, 1 << 20, "invalid");
}

/* ---- errors and exit names ---- */

Test(cli, error_set_makes_one_line)
{
	struct ps_error e = { 0, "" };
	char big[600];

	cr_assert_eq(ps_error_set(&e, PS_EX_DATAERR, "bad %s\nline\r%d",
				  "x", 7), -1);
	cr_assert_eq(e.code, 65);
	cr_assert_str_eq(e.msg, "bad x line 7");
	cr_assert_eq(ps_error_set(NULL, 70, "ignored"), -1);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	big[300] = '\n';
	ps_error_set(&e, 70, "%s", big);
	cr_assert_eq(strlen(e.msg), sizeof(e.msg) - 1, "truncated safely");
	cr_assert_null(strchr(e.msg, '\n'));
	cr_assert_eq(ps_error_errno(&e, 74, ENOSPC, "cannot write %s\n",
				    "f"), -1);
	cr_assert_eq(e.code, 74);
	cr_assert_str_eq(e.msg, "cannot write f : No space left on device");
	ps_error_errno(&e, 74, EIO, "%s", big);
	cr_assert_eq(strlen(e.msg), sizeof(e.msg) - 1);
	cr_assert_eq(ps_error_errno(NULL, 74, EIO, "x"), -1);
}

Test(cli, exit_names)
{
	struct {
		int code;
		const char *name;
	} t[] = {
		{ 0, "ok" }, { 64, "usage" }, { 65, "dataerr" },
		{ 66, "noinput" }, { 69, "unavailable" }, { 70, "software" },
		{ 73, "cantcreat" }, { 74, "ioerr" }, { 75, "tempfail" },
		{ 78, "config" }, { 1, "unknown" }, { -1, "unknown" },
		{ 77, "unknown" },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		cr_assert_str_eq(ps_exit_name(t[i].code), t[i].name);
	cr_assert_eq(PS_EX_IOERR, 74);
	cr_assert_eq(PS_EX_USAGE, 64);
	cr_assert_eq(PS_EX_CONFIG, 78);
	cr_assert_eq(PS_EX_TEMPFAIL, 75);
	cr_assert_eq(PS_EX_CANTCREAT, 73);
}

/* ---- ps_close_stdout, in forked children ---- */

/* Run fn in a child with stdout on fd; return its exit status. */
static int child(int (*fn)(void *), void *arg, int out_fd, int err_fd)
{
	pid_t pid;
	int st;

	fflush(NULL);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		ps_init("ps-test");
		ps_log_set_timestamps(0);
		dup2(out_fd, 1);
		if (err_fd >= 0)
			dup2(err_fd, 2);
		_exit(fn(arg));
	}
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st), "child died (signal %d)",
		  WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	return WEXITSTATUS(st);
}

struct writer {
	size_t bytes;
	int rc;
	int use_ps_write;
};

static int write_then_close(void *arg)
{
	struct writer *w = arg;
	size_t i;

	for (i = 0; i < w->bytes; i++) {
		if (w->use_ps_write) {
			if (ps_write_stdout("x", 1) < 0)
				break;
		} else {
			putchar('x');
		}
	}
	return ps_close_stdout(w->rc);
}

static char *read_all(int fd)
{
	struct ps_buf b = PS_BUF_INIT;
	char tmp[4096];
	ssize_t n;

	lseek(fd, 0, SEEK_SET);
	while ((n = read(fd, tmp, sizeof(tmp))) > 0)
		ps_buf_add(&b, tmp, (size_t)n);
	return ps_buf_detach(&b, NULL);
}

Test(cli, close_stdout_on_dev_full_is_ioerr)
{
	int full = open("/dev/full", O_WRONLY);
	FILE *ef = tmpfile();
	struct writer w = { 10, 0, 0 };
	char *err;

	cr_assert(full >= 0);
	cr_assert_eq(child(write_then_close, &w, full, fileno(ef)), 74);
	err = read_all(fileno(ef));
	cr_assert(strstr(err, "level=error msg=\"write error on standard "
			 "output\""), "%s", err);
	cr_assert(strstr(err, "No space left on device"), "%s", err);
	free(err);
	/* Big writes fail before the close: still 74. */
	w.bytes = 1 << 20;
	cr_assert_eq(child(write_then_close, &w, full, fileno(ef)), 74);
	/* A failing tool keeps its own status. */
	w.rc = 69;
	cr_assert_eq(child(write_then_close, &w, full, fileno(ef)), 69);
	w.rc = 0;
	w.use_ps_write = 1;
	cr_assert_eq(child(write_then_close, &w, full, fileno(ef)), 74);
	fclose(ef);
	close(full);
}

Test(cli, close_stdout_to_a_closed_pipe_is_quiet)
{
	size_t sizes[] = { 0, 10, 1 << 20 };
	int rcs[] = { 0, 3 };
	size_t i, j, k;

	for (i = 0; i < 3; i++)
		for (j = 0; j < 2; j++)
			for (k = 0; k < 2; k++) {
				int p[2];
				FILE *ef = tmpfile();
				struct writer w = { sizes[i], rcs[j], (int)k };
				char *err;

				cr_assert_eq(pipe(p), 0);
				close(p[0]);	/* the reader went away */
				cr_assert_eq(child(write_then_close, &w, p[1],
						   fileno(ef)), rcs[j],
					     "bytes %zu ps_write %zu",
					     sizes[i], k);
				err = read_all(fileno(ef));
				cr_assert_str_eq(err, "", "quiet, bytes %zu",
						 sizes[i]);
				free(err);
				fclose(ef);
				close(p[1]);
			}
}

Test(cli, close_stdout_ok)
{
	FILE *of = tmpfile();
	struct writer w = { 5000, 0, 1 };
	char *out;

	cr_assert_eq(child(write_then_close, &w, fileno(of), -1), 0);
	out = read_all(fileno(of));
	cr_assert_eq(strlen(out), 5000);
	free(out);
	fclose(of);
}

static int stdout_gone_after_epipe(void *arg)
{
	(void)arg;
	while (ps_write_stdout("data\n", 5) == 0)
		;
	return ps_stdout_gone() ? 0 : 1;
}

Test(cli, write_stdout_notices_the_reader_going_away)
{
	int p[2];

	cr_assert_eq(pipe(p), 0);
	close(p[0]);
	cr_assert_eq(child(stdout_gone_after_epipe, NULL, p[1], -1), 0);
	close(p[1]);
}

static int init_opens_fds_and_sets_signals(void *arg)
{
	struct sigaction sa;

	(void)arg;
	close(0);
	close(2);
	ps_init("ps-x");
	if (fcntl(0, F_GETFD) < 0 || fcntl(2, F_GETFD) < 0)
		return 10;
	sigaction(SIGPIPE, NULL, &sa);
	if (sa.sa_handler != SIG_IGN)
		return 11;
	if (ps_stop_requested || *ps_stop_flag())
		return 12;
	raise(SIGTERM);
	if (!ps_stop_requested || !*ps_stop_flag())
		return 13;
	return 0;
}

Test(cli, init_opens_fds_and_catches_sigterm)
{
	int devnull = open("/dev/null", O_WRONLY);

	cr_assert_eq(child(init_opens_fds_and_sets_signals, NULL, devnull, -1),
		     0);
	close(devnull);
}

/* ---- ps_poll_stop ---- */

static void *raise_term(void *arg)
{
	(void)arg;
	pthread_kill(pthread_self(), SIGTERM);	/* caught on this thread */
	return NULL;
}

static void *kill_term(void *arg)
{
	(void)arg;
	kill(getpid(), SIGTERM);	/* to the process: the waiting thread */
	return NULL;
}

/* Is SIGTERM blocked in the calling thread? */
static int term_blocked(void)
{
	sigset_t cur;

	pthread_sigmask(SIG_BLOCK, NULL, &cur);
	return sigismember(&cur, SIGTERM);
}

/* In a child after ps_init: an empty pipe waited on for 20 s at most. */
static int poll_stop_ends_on_stop(void *arg)
{
	void *(*fn)(void *) = (void *(*)(void *))arg;
	struct pollfd pfd;
	pthread_t th;
	sigset_t old;
	int p[2], rc;

	if (pipe(p) < 0)
		return 10;
	pfd.fd = p[0];
	pfd.events = POLLIN;
	if (ps_poll_stop(&pfd, 1, 0) != 0)
		return 11;		/* nothing to read: timed out */
	if (write(p[1], "x", 1) != 1 || ps_poll_stop(&pfd, 1, -1) != 1 ||
	    read(p[0], &rc, 1) != 1)
		return 12;
	/* the killer blocks SIGTERM, so only this thread can take it;
	 * the thread that raises it on itself takes it and ends before */
	if (fn == kill_term)
		ps_stop_signals_block(&old);
	if (pthread_create(&th, NULL, fn, NULL))
		return 13;
	if (fn == kill_term)
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (fn == raise_term && (pthread_join(th, NULL) || !ps_stop_requested))
		return 14;
	errno = 0;
	rc = ps_poll_stop(&pfd, 1, 20000);
	if (rc != -1 || errno != EINTR)
		return 15;
	if (!ps_stop_requested || term_blocked())
		return 16;
	/* and again: the stop is not forgotten once reported */
	if (ps_poll_stop(&pfd, 1, 20000) != -1 || errno != EINTR)
		return 17;
	if (fn == kill_term && pthread_join(th, NULL))
		return 18;
	close(p[0]);
	close(p[1]);
	return 0;
}

Test(cli, poll_stop_ends_on_a_stop_taken_before_the_wait)
{
	int devnull = open("/dev/null", O_WRONLY);

	/* the gold case: the signal was caught during a commit, by
	 * another thread; nothing is pending any more when the wait starts */
	cr_assert_eq(child(poll_stop_ends_on_stop, (void *)raise_term,
			   devnull, -1), 0);
	close(devnull);
}

Test(cli, poll_stop_ends_on_a_stop_before_or_during_the_wait)
{
	int devnull = open("/dev/null", O_WRONLY);

	/* whenever the signal comes, before the flag is checked, between
	 * the check and the wait, or during it: the wait ends */
	cr_assert_eq(child(poll_stop_ends_on_stop, (void *)kill_term,
			   devnull, -1), 0);
	close(devnull);
}

Test(cli, opt_helpers_give_usage_messages)
{
	struct ps_error e = { 0, "" };
	long long ll = -1;
	int i = -1;
	double d = -1;
	int64_t t = -1;

	cr_assert_eq(ps_opt_ll("--count", "12", 0, 100, &ll, &e), 0);
	cr_assert_eq(ll, 12);
	cr_assert_eq(ps_opt_ll("--count", "101", 0, 100, &ll, &e), -1);
	cr_assert_eq(e.code, 64);
	cr_assert_str_eq(e.msg, "--count: too large: '101'");
	cr_assert_eq(ps_opt_int("--n", "-3", -5, 5, &i, &e), 0);
	cr_assert_eq(i, -3);
	cr_assert_eq(ps_opt_int("--n", "3000000000", 0, 2147483647, &i, &e),
		     -1);
	cr_assert_str_eq(e.msg, "--n: too large: '3000000000'");
	cr_assert_eq(i, -3);
	cr_assert_eq(ps_opt_double("--rate", "0.5", 0, 1, &d, &e), 0);
	cr_assert(d == 0.5);
	cr_assert_eq(ps_opt_double("--rate", "x", 0, 1, &d, &e), -1);
	cr_assert_str_eq(e.msg, "--rate: invalid: 'x'");
	cr_assert_eq(ps_opt_size("--max", "2k", 0, 1 << 20, &ll, &e), 0);
	cr_assert_eq(ll, 2048);
	cr_assert_eq(ps_opt_size("--max", "2q", 0, 1 << 20, &ll, &e), -1);
	cr_assert_str_eq(e.msg, "--max: invalid: '2q'");
	cr_assert_eq(ps_opt_time("--now", "2026-11-24T06:12:22Z", &t, &e), 0);
	cr_assert_eq(t, 1795500742000000LL);
	cr_assert_eq(ps_opt_time("--now", "2026-02-30", &t, &e), -1);
	cr_assert_eq(e.code, 64);
	cr_assert(!strncmp(e.msg, "--now: ", 7), "%s", e.msg);
	cr_assert(strstr(e.msg, ": '2026-02-30'"), "%s", e.msg);
}

Test(cli, parse_duration)
{
	const char *why = NULL;
	int64_t us = 0;
	struct ps_error e = { 0, "" };

	cr_assert_eq(ps_parse_duration("90", 0, INT64_MAX, &us, &why), 0);
	cr_assert_eq(us, 90LL * 1000000);
	cr_assert_eq(ps_parse_duration("30m", 0, INT64_MAX, &us, &why), 0);
	cr_assert_eq(us, 1800LL * 1000000);
	cr_assert_eq(ps_parse_duration("1.5h", 0, INT64_MAX, &us, &why), 0);
	cr_assert_eq(us, 5400LL * 1000000);
	cr_assert_eq(ps_parse_duration("2d", 0, INT64_MAX, &us, &why), 0);
	cr_assert_eq(us, 172800LL * 1000000);
	cr_assert_eq(ps_parse_duration("0s", 0, INT64_MAX, &us, &why), 0);
	cr_assert_eq(us, 0);
	cr_assert_eq(ps_parse_duration("", 0, INT64_MAX, &us, &why), -1);
	cr_assert_str_eq(why, "invalid");
	cr_assert_eq(ps_parse_duration("5x", 0, INT64_MAX, &us, &why), -1);
	cr_assert_eq(ps_parse_duration("h", 0, INT64_MAX, &us, &why), -1);
	cr_assert_eq(ps_parse_duration("-1s", 0, INT64_MAX, &us, &why), -1);
	cr_assert_eq(ps_parse_duration("0", 1000, INT64_MAX, &us, &why), -1);
	cr_assert_str_eq(why, "too small");
	cr_assert_eq(ps_parse_duration("2h", 0, 3600LL * 1000000, &us, &why),
		     -1);
	cr_assert_str_eq(why, "too large");
	cr_assert_eq(ps_opt_duration("--window", "7q", 0, INT64_MAX, &us, &e),
		     -1);
	cr_assert_eq(e.code, 64);
	cr_assert_str_eq(e.msg, "--window: invalid: expected a duration such "
			 "as 90s, 30m, 1h or 2d, not '7q'");
}

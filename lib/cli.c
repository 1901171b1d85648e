/* cli.c - see cli.h. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"
#include "log.h"
#include "pstime.h"
#include "banned.h"

volatile sig_atomic_t ps_stop_requested;
static volatile int stop_flag;
static int stdout_epipe;

enum {
	OPT_LOG_FORMAT = 0x1000,
	OPT_STREAM,
	OPT_LOCK_WAIT,
};

static const struct ps_option common_opts[] = {
	{ "lake", 'L', "DIR", "lake directory (default: $PS_LAKE)" },
	{ "stream", OPT_STREAM, "NAME", "stream name (default: admissions)" },
	{ "lock-wait", OPT_LOCK_WAIT, "SEC", "wait up to SEC seconds while "
	  "another process writes the stream, then exit 75 (default 30)" },
	{ "log-format", OPT_LOG_FORMAT, "FMT", "logs as logfmt (default) or json" },
	{ "verbose", 'v', NULL, "more log detail (repeatable)" },
	{ "quiet", 'q', NULL, "errors only" },
	{ "help", 'h', NULL, "show this help and exit" },
	{ "version", 'V', NULL, "show the version and exit" },
	{ NULL, 0, NULL, NULL },
};

static int common_enabled(const struct ps_tool *t, const struct ps_option *o)
{
	if (o->key == 'L')
		return t->common & PS_CLI_LAKE;
	if (o->key == OPT_STREAM)
		return t->common & PS_CLI_STREAM;
	if (o->key == OPT_LOCK_WAIT)
		return t->common & PS_CLI_LOCK;
	return 1;
}

static void print_opt(FILE *f, const struct ps_option *o)
{
	char left[64];
	int n;

	if (o->key > 0 && o->key < 256)
		n = snprintf(left, sizeof(left), "-%c, --%s", o->key, o->name);
	else
		n = snprintf(left, sizeof(left), "    --%s", o->name);
	if (o->arg && n > 0 && (size_t)n < sizeof(left))
		snprintf(left + n, sizeof(left) - (size_t)n, " %s", o->arg);
	if (strlen(left) > 24)
		fprintf(f, "  %s\n  %-24s  %s\n", left, "", o->help);
	else
		fprintf(f, "  %-24s  %s\n", left, o->help);
}

void ps_cli_usage(const struct ps_tool *t, FILE *f)
{
	const struct ps_option *o;
	const char *u = t->usage, *nl;

	do {
		nl = strchr(u, '\n');
		fprintf(f, "%s %s %.*s\n", u == t->usage ? "Usage:" : "      ",
			t->name, nl ? (int)(nl - u) : (int)strlen(u), u);
		u = nl ? nl + 1 : NULL;
	} while (u);
	fprintf(f, "%s\n", t->summary);
	if (t->options && t->options->name) {
		fprintf(f, "\nOptions:\n");
		for (o = t->options; o->name; o++)
			print_opt(f, o);
	}
	fprintf(f, "\nCommon options:\n");
	for (o = common_opts; o->name; o++)
		if (common_enabled(t, o))
			print_opt(f, o);
	if (t->epilog)
		fprintf(f, "\n%s\n", t->epilog);
	fprintf(f, "\nExit status: 0 ok, 64 usage, 65 data error (--strict), "
		   "66 no input,\n69 service unavailable, 70 internal error, "
		   "73 cannot create output,\n74 I/O error, 75 temporary "
		   "failure, 78 configuration error.\n");
	fprintf(f, "See %s(1) and pulsestream(7).\n", t->name);
}

int ps_cli_misuse(const struct ps_tool *t, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", t->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help' for more information.\n", t->name);
	return PS_EX_USAGE;
}

static void add_getopt(struct option *lo, size_t *nlo, struct ps_buf *so,
		       const struct ps_option *o)
{
	lo[*nlo].name = o->name;
	lo[*nlo].has_arg = o->arg ? required_argument : no_argument;
	lo[*nlo].flag = NULL;
	lo[*nlo].val = o->key;
	(*nlo)++;
	if (o->key > 0 && o->key < 256) {
		ps_buf_addc(so, (char)o->key);
		if (o->arg)
			ps_buf_addc(so, ':');
	}
}

/*
 * The enabled option without an argument whose key is key, or NULL.  getopt
 * reports '?' with such a key only for "--name=value".
 */
static const struct ps_option *no_arg_option(const struct ps_tool *t,
					     int key)
{
	const struct ps_option *o;

	for (o = t->options; key && o && o->name; o++)
		if (o->key == key && !o->arg)
			return o;
	for (o = common_opts; key && o->name; o++)
		if (o->key == key && !o->arg && common_enabled(t, o))
			return o;
	return NULL;
}

int ps_cli_parse(const struct ps_tool *t, int argc, char **argv,
		 ps_cli_fn fn, void *ctx, struct ps_common *c, int *argi)
{
	struct ps_buf so = PS_BUF_INIT;
	struct option *lo;
	const struct ps_option *o;
	size_t n = 0, nlo = 0;
	int ch, rc = PS_CONTINUE;

	c->verbosity = 0;
	c->lake = getenv("PS_LAKE");
	if (c->lake && !*c->lake)
		c->lake = NULL;
	c->stream = "admissions";
	c->lock_wait = 30;
	for (o = t->options; o && o->name; o++)
		n++;
	lo = ps_xcalloc(n + sizeof(common_opts) / sizeof(common_opts[0]) + 1,
			sizeof(*lo));
	ps_buf_adds(&so, "+:");	/* stop at the first operand; report ':' */
	for (o = t->options; o && o->name; o++)
		add_getopt(lo, &nlo, &so, o);
	for (o = common_opts; o->name; o++)
		if (common_enabled(t, o))
			add_getopt(lo, &nlo, &so, o);

	opterr = 0;
	optind = 0;	/* 0, not 1: glibc then forgets a previous parse */
	while (rc == PS_CONTINUE &&
	       (ch = getopt_long(argc, argv, so.data, lo, NULL)) != -1) {
		struct ps_error e = { 0, "" };
		enum ps_log_format lf;

		switch (ch) {
		case 'h':
			ps_cli_usage(t, stdout);
			rc = 0;
			break;
		case 'V':
			printf("%s (PulseStream) %s\n", t->name, PS_VERSION);
			rc = 0;
			break;
		case 'v':
			c->verbosity = c->verbosity < 0 ? 1 : c->verbosity + 1;
			break;
		case 'q':
			c->verbosity = -1;
			break;
		case 'L':
			c->lake = optarg;
			break;
		case OPT_STREAM:
			c->stream = optarg;
			break;
		case OPT_LOCK_WAIT: {
			const char *why = NULL;

			if (ps_parse_double(optarg, 0, 86400, &c->lock_wait,
					    &why) < 0)
				rc = ps_cli_misuse(t, "--lock-wait: %s: '%s'",
						   why, optarg);
			break;
		}
		case OPT_LOG_FORMAT:
			if (ps_log_parse_format(optarg, &lf) < 0)
				rc = ps_cli_misuse(t, "--log-format: expected "
						   "logfmt or json, not '%s'",
						   optarg);
			else
				ps_log_set_format(lf);
			break;
		case ':':
			rc = ps_cli_misuse(t, "option '%s' needs an argument",
					   argv[optind - 1]);
			break;
		case '?':
			if ((o = no_arg_option(t, optopt)))
				rc = ps_cli_misuse(t, "option '--%s' does not "
						   "take an argument", o->name);
			else if (optopt > 0 && optopt < 256)
				rc = ps_cli_misuse(t, "unknown option '-%c'",
						   optopt);
			else
				rc = ps_cli_misuse(t, "unknown option '%s'",
						   argv[optind - 1]);
			break;
		default:
			if (fn(ctx, ch, optarg, &e) < 0)
				rc = ps_cli_misuse(t, "%s", e.msg);
			break;
		}
	}
	free(lo);
	ps_buf_release(&so);
	if (rc != PS_CONTINUE)
		return rc;
	ps_log_set_level(c->verbosity < 0 ? PS_ERROR : PS_INFO + c->verbosity);
	if (c->stream && (!*c->stream || strchr(c->stream, '/') ||
			  c->stream[0] == '.'))
		return ps_cli_misuse(t, "--stream: '%s' is not a valid stream "
				     "name", c->stream);
	*argi = optind;
	return PS_CONTINUE;
}

static void on_stop(int sig)
{
	(void)sig;
	ps_stop_requested = 1;
	stop_flag = 1;
}

volatile int *ps_stop_flag(void)
{
	return &stop_flag;
}

void ps_stop_signals_block(sigset_t *old)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, old);
}

int ps_poll_stop(struct pollfd *fds, nfds_t n, int timeout_ms)
{
	struct timespec ts, *tp = NULL;
	sigset_t old;
	int rc, err;

	ps_stop_signals_block(&old);
	if (ps_stop_requested) {
		rc = -1;
		err = EINTR;
	} else {
		if (timeout_ms >= 0) {
			ts.tv_sec = timeout_ms / 1000;
			ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000L;
			tp = &ts;
		}
		/* the old mask, SIGINT and SIGTERM unblocked, only while
		 * ppoll waits: a signal pending at the call ends it at once */
		rc = ppoll(fds, n, tp, &old);
		err = errno;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = err;
	return rc;
}

void ps_init(const char *tool_name)
{
	struct sigaction sa;
	int fd;

	/* Make sure 0, 1 and 2 are open so files never land on them. */
	while ((fd = open("/dev/null", O_RDWR)) >= 0 && fd <= 2)
		;
	if (fd > 2)
		close(fd);
	signal(SIGPIPE, SIG_IGN);
	/* Over a file-size limit, write() fails with EFBIG instead. */
	signal(SIGXFSZ, SIG_IGN);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: a blocking read returns EINTR so loops can stop. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	ps_log_set_tool(tool_name);
	ps_log_init_env();
}

int ps_stdout_gone(void)
{
	return stdout_epipe || (ferror(stdout) && errno == EPIPE);
}

int ps_close_stdout(int rc)
{
	int bad = 0, err = 0;

	errno = 0;
	if (fflush(stdout) != 0 || ferror(stdout)) {
		bad = 1;
		err = errno;
	}
	if (fclose(stdout) != 0 && !bad) {
		bad = 1;
		err = errno;
	}
	if (!bad)
		return rc;
	if (err == EPIPE || stdout_epipe)
		return rc;
	if (rc == 0) {
		ps_log(PS_ERROR, "write error on standard output",
		       PS_S("err", err ? strerror(err) : "unknown"));
		return PS_EX_IOERR;
	}
	return rc;
}

int ps_write_stdout(const void *p, size_t n)
{
	if (!n)
		return 0;
	if (fwrite(p, 1, n, stdout) == n)
		return 0;
	if (errno == EPIPE)
		stdout_epipe = 1;
	return -1;
}

int ps_flush_stdout(void)
{
	if (fflush(stdout) == 0)
		return 0;
	if (errno == EPIPE)
		stdout_epipe = 1;
	return -1;
}

int ps_stdout_out(void *ctx, const void *p, size_t n)
{
	int rc;

	(void)ctx;
	rc = p ? ps_write_stdout(p, n) : ps_flush_stdout();
	if (rc == 0)
		return 0;
	return ps_stdout_gone() ? 1 : -1;
}

int ps_parse_ll(const char *s, long long min, long long max, long long *out,
		const char **errstr)
{
	char *end;
	long long v;

	errno = 0;
	if (!s || !*s || isspace((unsigned char)*s)) {
		*errstr = "invalid";
		return -1;
	}
	v = strtoll(s, &end, 10);
	if (*end) {
		*errstr = "invalid";
		return -1;
	}
	if ((errno == ERANGE && v == LLONG_MIN) || v < min) {
		*errstr = "too small";
		return -1;
	}
	if ((errno == ERANGE && v == LLONG_MAX) || v > max) {
		*errstr = "too large";
		return -1;
	}
	*out = v;
	return 0;
}

int ps_parse_double(const char *s, double min, double max, double *out,
		    const char **errstr)
{
	char *end;
	double v;

	errno = 0;
	if (!s || !*s || isspace((unsigned char)*s)) {
		*errstr = "invalid";
		return -1;
	}
	v = strtod(s, &end);
	if (*end || isnan(v) || errno == ERANGE) {
		*errstr = "invalid";
		return -1;
	}
	if (v < min) {
		*errstr = "too small";
		return -1;
	}
	if (v > max) {
		*errstr = "too large";
		return -1;
	}
	*out = v;
	return 0;
}

int ps_parse_size(const char *s, long long min, long long max,
		  long long *out, const char **errstr)
{
	char tmp[64];
	size_t n = s ? strlen(s) : 0;
	long long mult = 1, v;

	if (n == 0 || n >= sizeof(tmp)) {
		*errstr = "invalid";
		return -1;
	}
	memcpy(tmp, s, n + 1);
	switch (tmp[n - 1]) {
	case 'k': case 'K': mult = 1024LL; break;
	case 'm': case 'M': mult = 1024LL * 1024; break;
	case 'g': case 'G': mult = 1024LL * 1024 * 1024; break;
	}
	if (mult > 1)
		tmp[n - 1] = '\0';
	if (ps_parse_ll(tmp, 0, LLONG_MAX / mult, &v, errstr) < 0)
		return -1;
	v *= mult;
	if (v < min) {
		*errstr = "too small";
		return -1;
	}
	if (v > max) {
		*errstr = "too large";
		return -1;
	}
	*out = v;
	return 0;
}

int ps_opt_ll(const char *name, const char *arg, long long min,
	      long long max, long long *out, struct ps_error *e)
{
	const char *why = NULL;

	if (ps_parse_ll(arg, min, max, out, &why) < 0)
		return ps_error_set(e, PS_EX_USAGE, "%s: %s: '%s'", name, why,
				    arg);
	return 0;
}

int ps_opt_int(const char *name, const char *arg, int min, int max,
	       int *out, struct ps_error *e)
{
	long long v;

	if (ps_opt_ll(name, arg, min, max, &v, e) < 0)
		return -1;
	*out = (int)v;
	return 0;
}

int ps_opt_double(const char *name, const char *arg, double min, double max,
		  double *out, struct ps_error *e)
{
	const char *why = NULL;

	if (ps_parse_double(arg, min, max, out, &why) < 0)
		return ps_error_set(e, PS_EX_USAGE, "%s: %s: '%s'", name, why,
				    arg);
	return 0;
}

int ps_opt_size(const char *name, const char *arg, long long min,
		long long max, long long *out, struct ps_error *e)
{
	const char *why = NULL;

	if (ps_parse_size(arg, min, max, out, &why) < 0)
		return ps_error_set(e, PS_EX_USAGE, "%s: %s: '%s'", name, why,
				    arg);
	return 0;
}

int ps_opt_time(const char *name, const char *arg, int64_t *out,
		struct ps_error *e)
{
	const char *why = NULL;

	if (ps_time_parse(arg, strlen(arg), out, &why) < 0)
		return ps_error_set(e, PS_EX_USAGE, "%s: %s: '%s'", name, why,
				    arg);
	return 0;
}

int ps_parse_duration(const char *s, int64_t min_us, int64_t max_us,
		      int64_t *out, const char **errstr)
{
	static const struct { char c; double mul; } units[] = {
		{ 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 },
	};
	char num[32];
	size_t n = s ? strlen(s) : 0, i;
	double mul = 1, d, us;

	if (!n || n >= sizeof(num)) {
		*errstr = "invalid";
		return -1;
	}
	memcpy(num, s, n + 1);
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (num[n - 1] == units[i].c) {
			mul = units[i].mul;
			num[--n] = '\0';
			break;
		}
	if (ps_parse_double(num, 0, 1e12, &d, errstr) < 0)
		return -1;
	us = d * mul * 1e6;
	if (us < (double)min_us) {
		*errstr = "too small";
		return -1;
	}
	if (us > (double)max_us) {
		*errstr = "too large";
		return -1;
	}
	*out = (int64_t)us;
	return 0;
}

int ps_opt_duration(const char *name, const char *arg, int64_t min_us,
		    int64_t max_us, int64_t *out, struct ps_error *e)
{
	const char *why = NULL;

	if (ps_parse_duration(arg, min_us, max_us, out, &why) < 0)
		return ps_error_set(e, PS_EX_USAGE, "%s: %s: expected a duration "
				    "such as 90s, 30m, 1h or 2d, not '%s'",
				    name, why, arg);
	return 0;
}

/*
 * ps-bronze - land raw events or envelopes in the lake, exactly once.
 * Option parsing only; the work is in lib/bronze.c.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bronze.h"
#include "cli.h"
#include "log.h"
#include "ndjson.h"
#include "pstime.h"
#include "banned.h"

enum {
	OPT_SOURCE = 256,
	OPT_INPUT,
	OPT_CONTINUE,
	OPT_FLUSH_INTERVAL,
	OPT_FLUSH_RECORDS,
	OPT_FLUSH_BYTES,
	OPT_MAX_LINE,
	OPT_INGEST_TIME,
	OPT_GZIP_LEVEL,
	OPT_THREADS,
};

static const struct ps_option options[] = {
	{ "input", OPT_INPUT, "KIND", "what stdin holds: events (default) "
	  "or envelopes (from ps-ingest consume)" },
	{ "source", OPT_SOURCE, "NAME",
	  "stdin source stdin:NAME (default: STREAM, STREAM.N for new data)" },
	{ "continue", OPT_CONTINUE, NULL,
	  "input is new data: number it after the checkpoint" },
	{ "flush-interval", OPT_FLUSH_INTERVAL, "SECONDS",
	  "commit at least this often (default 1)" },
	{ "flush-records", OPT_FLUSH_RECORDS, "N",
	  "commit every N records (default 100000)" },
	{ "flush-bytes", OPT_FLUSH_BYTES, "SIZE",
	  "commit when SIZE bytes await output (default 16M)" },
	{ "max-line-bytes", OPT_MAX_LINE, "SIZE",
	  "longer lines are quarantined (default 1M)" },
	{ "ingest-time", OPT_INGEST_TIME, "TIME",
	  "fixed ingest timestamp (default: the clock)" },
	{ "gzip-level", OPT_GZIP_LEVEL, "N", "compression level 0-9 (default 1)" },
	{ "threads", OPT_THREADS, "N",
	  "compression threads, 0 = none (default: CPUs, at most 4)" },
	{ "quiet-output", 'n', NULL, "do not write envelopes to stdout" },
	{ NULL, 0, NULL, NULL },
};

static const struct ps_tool tool = {
	"ps-bronze", "[OPTIONS] -L LAKE",
	"Land events or envelopes from stdin in LAKE/bronze, exactly once.",
	options, PS_CLI_LAKE | PS_CLI_STREAM | PS_CLI_LOCK,
	"Envelopes of each commit are written to stdout after the commit.\n"
	"Plain lines get source stdin:NAME and position = line number - 1. "
	"An input that\nreplays an earlier run skips what is landed "
	"(checked line by line); new data\nis a new source "
	"stdin:STREAM.N; an input that is neither exits 65.\n"
	"With --input envelopes each line keeps its source and position; a "
	"line that is\nnot an envelope exits 65.",
};

struct args {
	struct ps_bronze_opts o;
	int quiet_output;
};

static int on_option(void *ctx, int key, const char *arg,
		     struct ps_error *e)
{
	struct args *a = ctx;
	const char *why = NULL;
	long long v;
	double d;
	int64_t t;

	switch (key) {
	case OPT_INPUT:
		if (ps_input_parse(arg, &a->o.input) < 0)
			return ps_error_set(e, PS_EX_USAGE, "--input: expected "
					    "events or envelopes, not '%s'",
					    arg);
		return 0;
	case OPT_SOURCE:
		if (!*arg)
			return ps_error_set(e, PS_EX_USAGE,
					    "--source: empty name");
		a->o.source_name = arg;
		return 0;
	case OPT_CONTINUE:
		a->o.continue_mode = 1;
		return 0;
	case OPT_FLUSH_INTERVAL:
		if (ps_parse_double(arg, 0.001, 86400, &d, &why) < 0)
			return ps_error_set(e, PS_EX_USAGE,
					    "--flush-interval: '%s' is %s "
					    "(0.001 to 86400 seconds)",
					    arg, why);
		a->o.flush_interval = d;
		return 0;
	case OPT_FLUSH_RECORDS:
		if (ps_parse_ll(arg, 1, 1000000000LL, &v, &why) < 0)
			return ps_error_set(e, PS_EX_USAGE,
					    "--flush-records: '%s' is %s",
					    arg, why);
		a->o.flush_records = v;
		return 0;
	case OPT_FLUSH_BYTES:
		if (ps_parse_size(arg, 1, 1LL << 40, &v, &why) < 0)
			return ps_error_set(e, PS_EX_USAGE,
					    "--flush-bytes: '%s' is %s",
					    arg, why);
		a->o.flush_bytes = v;
		return 0;
	case OPT_MAX_LINE:
		if (ps_parse_size(arg, 16, (long long)PS_RECORD_MAX, &v,
				  &why) < 0)
			return ps_error_set(e, PS_EX_USAGE,
					    "--max-line-bytes: '%s' is %s "
					    "(16 to 16M)", arg, why);
		a->o.max_line = (size_t)v;
		return 0;
	case OPT_INGEST_TIME:
		if (ps_time_parse(arg, strlen(arg), &t, &why) < 0)
			return ps_error_set(e, PS_EX_USAGE,
					    "--ingest-time: '%s': %s", arg,
					    why);
		a->o.ingest_time = t;
		return 0;
	case OPT_GZIP_LEVEL:
		if (ps_parse_ll(arg, 0, 9, &v, &why) < 0)
			return ps_error_set(e, PS_EX_USAGE,
					    "--gzip-level: '%s' is %s (0-9)",
					    arg, why);
		a->o.gzip_level = (int)v;
		return 0;
	case OPT_THREADS:
		if (ps_parse_ll(arg, 0, 64, &v, &why) < 0)
			return ps_error_set(e, PS_EX_USAGE,
					    "--threads: '%s' is %s (0-64)",
					    arg, why);
		a->o.threads = (int)v;
		return 0;
	case 'n':
		a->quiet_output = 1;
		return 0;
	}
	return ps_error_set(e, PS_EX_USAGE, "unhandled option");
}

/* Envelopes go to stdout, flushed per commit so downstream sees them. */
static int emit_stdout(void *ctx, const char *p, size_t n)
{
	int rc = ps_stdout_out(ctx, p, n);

	return rc ? rc : ps_stdout_out(ctx, NULL, 0);
}

int main(int argc, char **argv)
{
	struct args a = { PS_BRONZE_OPTS_INIT, 0 };
	struct ps_common c;
	struct ps_error e = { 0, "" };
	long cpus;
	int rc, argi;

	ps_init("ps-bronze");
	cpus = sysconf(_SC_NPROCESSORS_ONLN);
	a.o.threads = cpus < 1 ? 1 : cpus > 4 ? 4 : (int)cpus;
	rc = ps_cli_parse(&tool, argc, argv, on_option, &a, &c, &argi);
	if (rc != PS_CONTINUE)
		return rc;
	if (argi < argc)
		return ps_cli_misuse(&tool, "unexpected operand '%s'",
				     argv[argi]);
	if (!c.lake)
		return ps_cli_misuse(&tool, "no lake: give -L DIR or set "
				     "PS_LAKE");
	if (a.o.input == PS_INPUT_ENVELOPES &&
	    (a.o.source_name || a.o.continue_mode))
		return ps_cli_misuse(&tool, "--source and --continue number "
				     "plain lines: not with --input "
				     "envelopes");
	a.o.lake = c.lake;
	a.o.stream = c.stream;
	a.o.lock_wait = c.lock_wait;
	if (!a.quiet_output)
		a.o.emit = emit_stdout;
	rc = ps_bronze_run(&a.o, STDIN_FILENO, &e) ? e.code : 0;
	if (rc)
		ps_log(PS_ERROR, "ps-bronze failed", PS_S("err", e.msg));
	return ps_close_stdout(rc);
}

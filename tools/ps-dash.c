/* ps-dash - the live hospital operations dashboard over the gold lake. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "dash.h"
#include "log.h"
#include "pstime.h"
#include "banned.h"

enum { OPT_OUT = 256, OPT_NOW, OPT_FOLLOW, OPT_SERVE, OPT_MAX_CLIENTS,
       OPT_POLL };

static const struct ps_option options[] = {
	{ "out", OPT_OUT, "FILE", "write the page here (default "
	  "LAKE/dashboard/index.html)" },
	{ "now", OPT_NOW, "TIME", "the clock for trends and freshness "
	  "(default: the wall clock)" },
	{ "follow", OPT_FOLLOW, NULL, "read ps-gold's output on stdin, pass "
	  "it on, rewrite the page after each commit" },
	{ "serve", OPT_SERVE, "[ADDR:]PORT", "serve the page live over HTTP "
	  "(default address 127.0.0.1)" },
	{ "max-clients", OPT_MAX_CLIENTS, "N", "connections at once with "
	  "--serve (default 256)" },
	{ "poll", OPT_POLL, "SEC", "with --serve: look for gold commits in "
	  "the lake every SEC seconds (default 0.2)" },
	{ NULL, 0, NULL, NULL },
};

static struct ps_tool tool = {
	"ps-dash", "[OPTIONS]",
	"Write the hospital operations dashboard (one HTML file) from the "
	"gold tables; follow ps-gold and serve it live.",
	options, PS_CLI_LAKE | PS_CLI_STREAM,
	"Serves /, /events (Server-Sent Events), /api/kpis.json, /metrics "
	"and /healthz.",
};

static int on_option(void *ctx, int key, const char *arg, struct ps_error *e)
{
	struct ps_dash_opts *o = ctx;
	int v;

	switch (key) {
	case OPT_OUT:
		o->out = arg;
		return 0;
	case OPT_NOW:
		return ps_opt_time("--now", arg, &o->now, e);
	case OPT_FOLLOW:
		o->follow = 1;
		return 0;
	case OPT_SERVE:
		o->serve = arg;
		return 0;
	case OPT_MAX_CLIENTS:
		if (ps_opt_int("--max-clients", arg, 1, 100000, &v, e) < 0)
			return -1;
		o->max_clients = (unsigned)v;
		return 0;
	case OPT_POLL:
		return ps_opt_double("--poll", arg, 0.01, 3600, &o->poll, e);
	}
	return ps_error_set(e, 64, "unhandled option");
}

int main(int argc, char **argv)
{
	struct ps_dash_opts o = PS_DASH_OPTS_INIT;
	struct ps_common c;
	struct ps_error e = { 0, "" };
	int rc, argi;

	ps_init("ps-dash");
	rc = ps_cli_parse(&tool, argc, argv, on_option, &o, &c, &argi);
	if (rc != PS_CONTINUE)
		return rc;
	if (argi < argc)
		return ps_cli_misuse(&tool, "unexpected argument '%s'",
				     argv[argi]);
	if (!c.lake)
		return ps_cli_misuse(&tool, "a lake is needed: -L DIR or "
				     "PS_LAKE");
	o.lake = c.lake;
	o.stream = c.stream;
	rc = ps_dash_run(&o, 0, ps_stdout_out, NULL, &e) < 0 ? e.code : 0;
	if (rc)
		ps_log(PS_ERROR, e.msg, PS_S("exit", ps_exit_name(rc)));
	return ps_close_stdout(rc);
}

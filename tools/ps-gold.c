/* ps-gold - clean records in, star schema and KPI tables out. */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli.h"
#include "gold.h"
#include "fsutil.h"
#include "log.h"
#include "maint.h"
#include "pstime.h"
#include "secret.h"
#include "banned.h"

enum {
	OPT_CATCH_UP = 256, OPT_NO_CATCH_UP, OPT_DEPARTMENTS, OPT_THRESHOLDS,
	OPT_NOW, OPT_WINDOW, OPT_COMMIT_RECORDS, OPT_COMMIT_INTERVAL,
	OPT_CODEC, OPT_NO_KPI, OPT_NO_ALERTS, OPT_STRICT, OPT_MIN_SAMPLES,
	OPT_PSEUDONYMIZE, OPT_DRY_RUN, OPT_KEEP_REMOVED,
};

static const struct ps_option options[] = {
	{ "catch-up", OPT_CATCH_UP, NULL, "apply committed silver files "
	  "past the checkpoint, then exit (no stdin)" },
	{ "no-catch-up", OPT_NO_CATCH_UP, NULL, "read stdin only, without "
	  "catching up from silver first" },
	{ "departments", OPT_DEPARTMENTS, "FILE", "departments and beds "
	  "(NDJSON; default: the built-in table)" },
	{ "thresholds", OPT_THRESHOLDS, "FILE", "alert thresholds (NDJSON; "
	  "default: no alerts)" },
	{ "now", OPT_NOW, "TIME", "the clock for currently-admitted, KPIs "
	  "and alerts (default: the wall clock)" },
	{ "window", OPT_WINDOW, "DURATION", "trailing period of the "
	  "waiting and inflow KPIs (default 24h)" },
	{ "commit-records", OPT_COMMIT_RECORDS, "N", "commit every N "
	  "records (default 1000000)" },
	{ "commit-interval", OPT_COMMIT_INTERVAL, "SEC", "commit at least "
	  "every SEC seconds (default 10)" },
	{ "codec", OPT_CODEC, "CODEC", "Parquet pages: zstd (default), gzip "
	  "or none" },
	{ "no-kpi", OPT_NO_KPI, NULL, "print no KPI rows on stdout" },
	{ "no-alerts", OPT_NO_ALERTS, NULL, "evaluate and print no alerts" },
	{ "strict", OPT_STRICT, NULL, "the first bad record is fatal "
	  "(exit 65)" },
	{ "min-samples", OPT_MIN_SAMPLES, "N", "fewest samples of a "
	  "reported median or p90 (default 20)" },
	{ "pseudonymize", OPT_PSEUDONYMIZE, "KEY", "replace patient and "
	  "encounter ids by HMAC-SHA256 under KEY (secret:NAME), ages over "
	  "89 by the band 90+" },
	PS_MAINT_OPTIONS,
	{ "dry-run", OPT_DRY_RUN, NULL, "with --vacuum: report what would "
	  "be deleted, delete nothing" },
	{ "keep-removed", OPT_KEEP_REMOVED, "DURATION", "keep the files a "
	  "commit removes from a gold table this long for readers of older "
	  "versions (default 1h)" },
	{ NULL, 0, NULL, NULL },
};

static struct ps_tool tool = {
	"ps-gold", "[OPTIONS]\n--compact | --vacuum [--retain DURATION] "
	"[--log-retain DURATION] [--dry-run]",
	"Maintain the gold star schema and KPI tables from clean records; "
	"print KPI snapshots and alerts.",
	options, PS_CLI_LAKE | PS_CLI_STREAM | PS_CLI_LOCK, NULL,
};

struct args {
	struct ps_gold_opts o;
	struct ps_maint_opts m;
};

static int on_option(void *ctx, int key, const char *arg, struct ps_error *e)
{
	struct args *a = ctx;
	struct ps_gold_opts *o = &a->o;
	const char *why = NULL;
	long long v;
	double d;
	int rc;

	if ((rc = ps_maint_option(&a->m, key, arg, e)) <= 0)
		return rc;
	switch (key) {
	case OPT_DRY_RUN:
		a->m.dry_run = 1;
		return 0;
	case OPT_CATCH_UP:
		o->catch_up = 1;
		o->read_stdin = 0;
		return 0;
	case OPT_NO_CATCH_UP:
		o->catch_up = 0;
		o->read_stdin = 1;
		return 0;
	case OPT_DEPARTMENTS:
		o->departments = arg;
		return 0;
	case OPT_THRESHOLDS:
		o->thresholds = arg;
		return 0;
	case OPT_NOW:
		if (ps_time_parse(arg, strlen(arg), &o->now, &why) < 0)
			return ps_error_set(e, 64, "--now: %s: '%s'", why,
					    arg);
		return 0;
	case OPT_WINDOW:
		/* At least a millisecond, at most about three years. */
		return ps_opt_duration("--window", arg, 1000,
				       100000000LL * 1000000, &o->window, e);
	case OPT_KEEP_REMOVED:
		/* Zero (delete at the next checkpoint) to a year. */
		return ps_opt_duration("--keep-removed", arg, 0,
				       366LL * 86400 * 1000000,
				       &o->keep_removed, e);
	case OPT_COMMIT_RECORDS:
		if (ps_parse_ll(arg, 1, LLONG_MAX, &v, &why) < 0)
			return ps_error_set(e, 64, "--commit-records: %s: "
					    "'%s'", why, arg);
		o->commit_records = v;
		return 0;
	case OPT_COMMIT_INTERVAL:
		if (ps_parse_double(arg, 0.001, 86400, &d, &why) < 0)
			return ps_error_set(e, 64, "--commit-interval: %s: "
					    "'%s'", why, arg);
		o->commit_interval = d;
		return 0;
	case OPT_CODEC:
		if (ps_pq_codec_parse(arg, &o->codec) < 0 ||
		    o->codec == PS_PQ_SNAPPY)
			return ps_error_set(e, 64, "--codec: expected zstd, "
					    "gzip or none, not '%s'", arg);
		return 0;
	case OPT_NO_KPI:
		o->no_kpi_output = 1;
		return 0;
	case OPT_NO_ALERTS:
		o->no_alerts = 1;
		return 0;
	case OPT_STRICT:
		o->strict = 1;
		return 0;
	case OPT_MIN_SAMPLES:
		if (ps_parse_ll(arg, 1, 1000000000LL, &v, &why) < 0)
			return ps_error_set(e, 64, "--min-samples: %s: '%s'",
					    why, arg);
		o->min_samples = v;
		return 0;
	case OPT_PSEUDONYMIZE:
		if (!ps_secret_is_ref(arg))
			return ps_error_set(e, 64, "--pseudonymize: the key "
					    "must come from the vault, "
					    "secret:NAME");
		o->pseudonymize = arg;
		return 0;
	}
	return ps_error_set(e, 64, "unhandled option");
}

int main(int argc, char **argv)
{
	struct args a = { PS_GOLD_OPTS_INIT, PS_MAINT_OPTS_INIT };
	struct ps_common c;
	struct ps_error e = { 0, "" };
	int rc, argi;

	ps_init("ps-gold");
	signal(SIGXFSZ, SIG_IGN);
	rc = ps_cli_parse(&tool, argc, argv, on_option, &a, &c, &argi);
	if (rc != PS_CONTINUE)
		return rc;
	if (argi < argc)
		return ps_cli_misuse(&tool, "unexpected argument '%s'",
				     argv[argi]);
	if (!c.lake)
		return ps_cli_misuse(&tool, "a lake is needed: -L DIR or "
				     "PS_LAKE");
	if (a.m.dry_run && !a.m.vacuum)
		return ps_cli_misuse(&tool, "--dry-run goes with --vacuum");
	if (ps_maint_wanted(&a.m)) {
		char *root = ps_path_join(c.lake, "gold");

		a.m.lake = c.lake;
		rc = ps_maint_run(&a.m, root, ps_stdout_out, NULL, &e) < 0 ?
			e.code : 0;
		free(root);
	} else {
		a.o.lake = c.lake;
		a.o.stream = c.stream;
		a.o.lock_wait = c.lock_wait;
		rc = ps_gold_run(&a.o, 0, ps_stdout_out, NULL, &e) < 0 ?
			e.code : 0;
	}
	if (rc)
		ps_log(PS_ERROR, e.msg, PS_S("exit", ps_exit_name(rc)));
	return ps_close_stdout(rc);
}

/* ps-silver - raw payloads in, typed cleansed Parquet and quarantine out. */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli.h"
#include "hl7map.h"
#include "lake.h"
#include "log.h"
#include "maint.h"
#include "ndjson.h"
#include "parquet.h"
#include "pstime.h"
#include "silver.h"
#include "banned.h"

enum {
	OPT_CATCH_UP = 256, OPT_NO_CATCH_UP, OPT_DUMP, OPT_MAX_FUTURE,
	OPT_DEPARTMENTS, OPT_STRICT, OPT_MAX_ERRORS, OPT_STATS_JSON,
	OPT_FLUSH_INTERVAL, OPT_FLUSH_RECORDS, OPT_CODEC, OPT_DRY_RUN,
	OPT_NOW, OPT_DEDUP_WINDOW, OPT_MAX_RECORD, OPT_MAP, OPT_VERSION_AS_OF,
	OPT_AS_OF, OPT_FORMAT, OPT_INPUT, OPT_SHARED, OPT_BRONZE_LAKE,
};

static const struct ps_option options[] = {
	{ "input", OPT_INPUT, "KIND", "what stdin holds: envelopes (default: "
	  "from ps-bronze or ps-hl7 listen) or events" },
	{ "catch-up", OPT_CATCH_UP, NULL, "process committed bronze files "
	  "past the checkpoint, then exit (no stdin)" },
	{ "no-catch-up", OPT_NO_CATCH_UP, NULL, "read stdin only, without "
	  "catching up from bronze first" },
	{ "shared", OPT_SHARED, NULL, "one of several ps-silver appending to "
	  "the table, each its own Kafka partitions (pulsestream(7))" },
	{ "bronze-lake", OPT_BRONZE_LAKE, "DIR", "catch up from the bronze "
	  "of lake DIR (this pipeline's own; default: the -L lake)" },
	{ "dump", OPT_DUMP, NULL, "print the tables, Parquet files or "
	  "directories given as operands as NDJSON" },
	{ "version-as-of", OPT_VERSION_AS_OF, "N", "--dump: the Delta "
	  "tables as of version N" },
	{ "as-of", OPT_AS_OF, "TIME", "--dump: the Delta tables as of the "
	  "last version committed at or before TIME" },
	{ "max-future", OPT_MAX_FUTURE, "DURATION", "admissions later than "
	  "ingest time + DURATION are quarantined (default 1h)" },
	{ "departments", OPT_DEPARTMENTS, "FILE", "known departments "
	  "(NDJSON; default: the built-in table)" },
	{ "format", OPT_FORMAT, "FMT", "what the payloads are: events "
	  "(default), hl7 (HL7 v2 messages) or fhir (FHIR resources)" },
	{ "map", OPT_MAP, "FILE", "HL7 v2 / FHIR mapping file (NDJSON, see "
	  "ps-hl7(1); default: built-in rules)" },
	{ "strict", OPT_STRICT, NULL, "the first quarantined record is "
	  "fatal (exit 65)" },
	{ "max-errors", OPT_MAX_ERRORS, "N", "exit 65 at the quarantined "
	  "record after N of them" },
	{ "stats-json", OPT_STATS_JSON, "FILE", "write counts per rule as "
	  "JSON to FILE at exit" },
	{ "flush-interval", OPT_FLUSH_INTERVAL, "SEC", "commit at least "
	  "every SEC seconds (default 1)" },
	{ "flush-records", OPT_FLUSH_RECORDS, "N", "commit every N records "
	  "(default 50000)" },
	{ "codec", OPT_CODEC, "CODEC", "Parquet pages: zstd (default), gzip "
	  "or none" },
	{ "dry-run", OPT_DRY_RUN, NULL, "parse and validate, print clean "
	  "records, write nothing; with --vacuum: report, delete nothing" },
	{ "no-output", 'n', NULL, "print no records on stdout" },
	{ "now", OPT_NOW, "TIME", "reference time for the future rules "
	  "and ingest time of plain lines (default: each ingest time)" },
	{ "dedup-window", OPT_DEDUP_WINDOW, "N", "event ids remembered for "
	  "dedup, about 40 bytes each (default 200000; --shared: per "
	  "source)" },
	{ "max-record", OPT_MAX_RECORD, "SIZE", "longest payload accepted "
	  "(default 1M)" },
	PS_MAINT_OPTIONS,
	{ NULL, 0, NULL, NULL },
};

static struct ps_tool tool = {
	"ps-silver", "[OPTIONS]\n--dump [--version-as-of N | --as-of TIME] "
	"PATH...\n--compact | --vacuum [--retain DURATION] "
	"[--log-retain DURATION] [--dry-run]",
	"Parse, validate, quarantine, deduplicate and write raw events as "
	"silver Parquet.",
	options, PS_CLI_LAKE | PS_CLI_STREAM | PS_CLI_LOCK, NULL,
};

struct args {
	struct ps_silver_opts o;
	int dump;
	struct ps_dump_at at;
	struct ps_maint_opts m;
};

static int on_option(void *ctx, int key, const char *arg, struct ps_error *e)
{
	struct args *a = ctx;
	const char *why = NULL;
	long long v;
	double d;
	int rc;

	if ((rc = ps_maint_option(&a->m, key, arg, e)) <= 0)
		return rc;
	switch (key) {
	case OPT_VERSION_AS_OF:
		if (ps_opt_ll("--version-as-of", arg, 0, INT64_MAX, &v, e))
			return -1;
		a->at.version = v;
		return 0;
	case OPT_AS_OF:
		return ps_opt_time("--as-of", arg, &a->at.as_of, e);
	case OPT_INPUT:
		if (ps_input_parse(arg, &a->o.input) < 0)
			return ps_error_set(e, 64, "--input: expected "
					    "envelopes or events, not '%s'",
					    arg);
		return 0;
	case OPT_CATCH_UP:
		a->o.catch_up = 1;
		a->o.read_stdin = 0;
		return 0;
	case OPT_NO_CATCH_UP:
		a->o.catch_up = 0;
		a->o.read_stdin = 1;
		return 0;
	case OPT_SHARED:
		a->o.shared = 1;
		return 0;
	case OPT_BRONZE_LAKE:
		a->o.bronze_lake = arg;
		return 0;
	case OPT_DUMP:
		a->dump = 1;
		return 0;
	case OPT_MAX_FUTURE:
		return ps_opt_duration("--max-future", arg, 0,
				       1000000000LL * 1000000, &a->o.max_future,
				       e);
	case OPT_DEPARTMENTS:
		a->o.departments = arg;
		return 0;
	case OPT_MAP:
		a->o.map = arg;
		return 0;
	case OPT_FORMAT: {
		enum ps_feed_format f;

		if (ps_feed_format_parse(arg, &f) < 0)
			return ps_error_set(e, PS_EX_USAGE, "--format: '%s' is "
					    "not events, hl7 or fhir", arg);
		a->o.format = f;
		return 0;
	}
	case OPT_STRICT:
		a->o.strict = 1;
		return 0;
	case OPT_MAX_ERRORS:
		if (ps_parse_ll(arg, 0, LLONG_MAX, &v, &why) < 0)
			return ps_error_set(e, 64, "--max-errors: %s: '%s'",
					    why, arg);
		a->o.max_errors = v;
		return 0;
	case OPT_STATS_JSON:
		a->o.stats_json = arg;
		return 0;
	case OPT_FLUSH_INTERVAL:
		if (ps_parse_double(arg, 0.001, 86400, &d, &why) < 0)
			return ps_error_set(e, 64, "--flush-interval: %s: "
					    "'%s'", why, arg);
		a->o.flush_interval = d;
		return 0;
	case OPT_FLUSH_RECORDS:
		if (ps_parse_ll(arg, 1, 10000000, &v, &why) < 0)
			return ps_error_set(e, 64, "--flush-records: %s: "
					    "'%s'", why, arg);
		a->o.flush_records = v;
		return 0;
	case OPT_CODEC:
		if (ps_pq_codec_parse(arg, &a->o.codec) < 0 ||
		    a->o.codec == PS_PQ_SNAPPY)
			return ps_error_set(e, 64, "--codec: expected zstd, "
					    "gzip or none, not '%s'", arg);
		return 0;
	case OPT_DRY_RUN:
		a->o.dry_run = 1;
		return 0;
	case 'n':
		a->o.no_output = 1;
		return 0;
	case OPT_NOW:
		if (ps_time_parse(arg, strlen(arg), &a->o.now, &why) < 0)
			return ps_error_set(e, 64, "--now: %s: '%s'", why,
					    arg);
		return 0;
	case OPT_DEDUP_WINDOW:
		if (ps_parse_ll(arg, 1, 100000000, &v, &why) < 0)
			return ps_error_set(e, 64, "--dedup-window: %s: '%s'",
					    why, arg);
		a->o.dedup_window = v;
		return 0;
	case OPT_MAX_RECORD:
		if (ps_parse_size(arg, 64, (long long)PS_RECORD_MAX, &v,
				  &why) < 0)
			return ps_error_set(e, 64, "--max-record: %s: '%s' "
					    "(64 to 16M)", why, arg);
		a->o.max_record = (size_t)v;
		return 0;
	}
	return ps_error_set(e, 64, "unhandled option");
}

int main(int argc, char **argv)
{
	struct args a = { PS_SILVER_OPTS_INIT, 0, { -1, INT64_MIN },
			  PS_MAINT_OPTS_INIT };
	struct ps_common c;
	struct ps_buf help = PS_BUF_INIT;
	struct ps_error e = { 0, "" };
	int rc, argi;

	ps_init("ps-silver");
	/* ulimit -f: a write past the limit fails with EFBIG (exit 74). */
	signal(SIGXFSZ, SIG_IGN);
	ps_silver_rules_help(&help);
	if (help.len && help.data[help.len - 1] == '\n')
		help.data[--help.len] = '\0';
	tool.epilog = help.data;
	rc = ps_cli_parse(&tool, argc, argv, on_option, &a, &c, &argi);
	if (rc != PS_CONTINUE)
		goto out;
	a.o.lake = c.lake;
	a.o.stream = c.stream;
	a.o.lock_wait = c.lock_wait;
	if ((a.at.version >= 0 || a.at.as_of != INT64_MIN) &&
	    (!a.dump || (a.at.version >= 0 && a.at.as_of != INT64_MIN))) {
		rc = ps_cli_misuse(&tool, "--version-as-of and --as-of go with "
				   "--dump, one at a time");
		goto out;
	}
	if (a.o.shared && (a.o.input == PS_INPUT_EVENTS || a.dump ||
			   ps_maint_wanted(&a.m))) {
		rc = ps_cli_misuse(&tool, "--shared goes with envelopes "
				   "(positions), not --input events, --dump, "
				   "--compact or --vacuum");
		goto out;
	}
	if (a.o.map && a.o.format == PS_FEED_FMT_EVENTS) {
		rc = ps_cli_misuse(&tool, "--map goes with --format hl7 or "
				   "--format fhir");
		goto out;
	}
	if (ps_maint_wanted(&a.m)) {
		char *root;

		if (a.dump || argi < argc || !a.o.lake ||
		    (a.o.dry_run && !a.m.vacuum)) {
			rc = ps_cli_misuse(&tool, "--compact and --vacuum need a "
					   "lake and no --dump nor operand; "
					   "--dry-run goes with --vacuum");
			goto out;
		}
		a.m.lake = a.o.lake;
		a.m.dry_run = a.o.dry_run;
		root = ps_lake_dir(a.o.lake, PS_LAKE_SILVER, a.o.stream);
		rc = ps_maint_run(&a.m, root, ps_stdout_out, NULL, &e) < 0 ?
			e.code : 0;
		free(root);
	} else if (a.dump) {
		if (argi >= argc) {
			rc = ps_cli_misuse(&tool, "--dump needs at least one "
					   "PATH");
			goto out;
		}
		rc = ps_silver_dump(argv + argi, argc - argi, &a.at,
				    ps_stdout_out, NULL, &e) < 0 ? e.code : 0;
	} else if (argi < argc) {
		rc = ps_cli_misuse(&tool, "unexpected argument '%s'",
				   argv[argi]);
		goto out;
	} else if (!a.o.lake && !a.o.dry_run) {
		rc = ps_cli_misuse(&tool, "a lake is needed: -L DIR or "
				   "PS_LAKE (or --dry-run)");
		goto out;
	} else {
		rc = ps_silver_run(&a.o, 0, ps_stdout_out, NULL, &e) < 0 ?
			e.code : 0;
	}
	if (rc)
		ps_log(PS_ERROR, e.msg, PS_S("exit", ps_exit_name(rc)));
	rc = ps_close_stdout(rc);
out:
	ps_buf_release(&help);
	return rc;
}

/* ps-hl7 - hospital feeds: HL7 v2 ADT messages and FHIR Encounters. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "hl7cmd.h"
#include "hl7map.h"
#include "log.h"
#include "banned.h"

enum { OPT_MAP = 256, OPT_STRICT, OPT_MAX_MESSAGE, OPT_RAW };

static const struct ps_option options[] = {
	{ "map", OPT_MAP, "FILE", "mapping file (NDJSON; default: built-in "
	  "rules)" },
	{ "strict", OPT_STRICT, NULL, "the first bad message is fatal "
	  "(exit 65)" },
	{ "max-message", OPT_MAX_MESSAGE, "SIZE", "largest message in bytes "
	  "(default 1M)" },
	{ "raw", OPT_RAW, NULL, "get: values as sent, escape sequences "
	  "kept" },
	{ NULL, 0, NULL, NULL },
};

static const struct ps_tool tool = {
	"ps-hl7", "convert [OPTIONS] [FILE...]\n"
	"get [OPTIONS] PATH[,PATH...] [FILE...]",
	"Read hospital feeds (HL7 v2 ADT, FHIR R4 Encounter) as PulseStream "
	"events.",
	options, 0,
	"Commands:\n"
	"  convert   HL7 v2 messages / FHIR resources to event NDJSON\n"
	"  get       the values at HL7 paths (e.g. PID-3[1].1), one JSON "
	"array a message",
};

struct args {
	struct ps_hl7cmd_opts o;
	const char *map;
};

static int on_option(void *ctx, int key, const char *arg, struct ps_error *e)
{
	struct args *a = ctx;
	long long v;

	switch (key) {
	case OPT_MAP:
		a->map = arg;
		return 0;
	case OPT_RAW:
		a->o.raw = 1;
		return 0;
	case OPT_STRICT:
		a->o.strict = 1;
		return 0;
	case OPT_MAX_MESSAGE:
		if (ps_opt_size("--max-message", arg, 1024, 1LL << 30, &v, e))
			return -1;
		a->o.max_message = (size_t)v;
		return 0;
	}
	return ps_error_set(e, 64, "unhandled option");
}

static int write_out(void *ctx, const void *p, size_t n)
{
	(void)ctx;
	return ps_write_stdout(p, n);
}

int main(int argc, char **argv)
{
	struct args a;
	struct ps_common c;
	struct ps_error e = { 0, "" };
	struct ps_hl7map *map = NULL;
	const char *cmd;
	int rc, argi, get;

	ps_init("ps-hl7");
	memset(&a, 0, sizeof(a));
	if (argc > 1 && argv[1][0] != '-') {
		cmd = argv[1];	/* the command, then its options */
		argc--;
		argv++;
	} else {
		cmd = NULL;	/* --help, --version, or misuse */
	}
	rc = ps_cli_parse(&tool, argc, argv, on_option, &a, &c, &argi);
	if (rc != PS_CONTINUE)
		return rc;
	if (!cmd)
		return ps_cli_misuse(&tool, "a command (convert or get) must "
				     "come first");
	get = !strcmp(cmd, "get");
	if (!get && strcmp(cmd, "convert"))
		return ps_cli_misuse(&tool, "unknown command '%s'", cmd);
	if (get) {
		if (argi >= argc)
			return ps_cli_misuse(&tool, "get: a path list is "
					     "required");
		a.o.paths = argv[argi++];
	} else if (!(map = ps_hl7map_load(a.map, &e))) {
		ps_log(PS_ERROR, e.msg);
		return e.code;
	}
	a.o.map = map;
	a.o.files = argv + argi;
	a.o.nfiles = argc - argi;
	a.o.out = write_out;
	rc = (get ? ps_hl7_get_run(&a.o, &e) : ps_hl7_convert_run(&a.o, &e))
	     < 0 ? e.code : 0;
	if (rc == PS_EX_USAGE)
		rc = ps_cli_misuse(&tool, "%s", e.msg);
	else if (rc)
		ps_log(PS_ERROR, e.msg);
	ps_hl7map_free(map);
	return ps_close_stdout(rc);
}

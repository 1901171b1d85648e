/* ps-hl7 - hospital feeds: HL7 v2 ADT messages and FHIR Encounters. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "hl7cmd.h"
#include "hl7map.h"
#include "log.h"
#include "mllp.h"
#include "banned.h"

enum {
	OPT_MAP = 256, OPT_STRICT, OPT_MAX_MESSAGE, OPT_RAW, OPT_BIND,
	OPT_PORT, OPT_PORT_FILE, OPT_SOURCE, OPT_FLUSH_INTERVAL,
	OPT_FLUSH_RECORDS, OPT_MAX_CONN, OPT_DEDUP, OPT_TLS_CERT, OPT_TLS_KEY,
	OPT_TLS_CLIENT_CA,
};

static const struct ps_option options[] = {
	{ "map", OPT_MAP, "FILE", "mapping file (NDJSON; default: built-in "
	  "rules)" },
	{ "strict", OPT_STRICT, NULL, "the first bad message is fatal "
	  "(exit 65)" },
	{ "max-message", OPT_MAX_MESSAGE, "SIZE", "largest message in bytes "
	  "(default 1M)" },
	{ "raw", OPT_RAW, NULL, "get: values as sent, escape sequences "
	  "kept" },
	{ "bind", OPT_BIND, "ADDR", "listen: IPv4 address (default "
	  "127.0.0.1)" },
	{ "port", OPT_PORT, "N", "listen: TCP port (0: any free port)" },
	{ "port-file", OPT_PORT_FILE, "FILE", "listen: write the bound port "
	  "there" },
	{ "source", OPT_SOURCE, "NAME", "listen: envelope source mllp:NAME "
	  "(default: the stream)" },
	{ "flush-interval", OPT_FLUSH_INTERVAL, "S", "listen: seconds "
	  "between bronze commits (default 0.02)" },
	{ "flush-records", OPT_FLUSH_RECORDS, "N", "listen: messages per "
	  "commit at most (default 10000)" },
	{ "max-connections", OPT_MAX_CONN, "N", "listen: concurrent "
	  "connections (default 1024)" },
	{ "dedup-window", OPT_DEDUP, "N", "listen: message ids remembered "
	  "against retransmits (default 1000000)" },
	{ "tls-cert", OPT_TLS_CERT, "FILE", "listen: MLLP over TLS with this "
	  "PEM certificate chain" },
	{ "tls-key", OPT_TLS_KEY, "FILE", "listen: its PEM private key (a file "
	  "private to its owner, or secret:NAME)" },
	{ "tls-client-ca", OPT_TLS_CLIENT_CA, "FILE", "listen: require client "
	  "certificates signed by these PEM CAs (mutual TLS)" },
	{ NULL, 0, NULL, NULL },
};

static const struct ps_tool tool = {
	"ps-hl7", "convert [OPTIONS] [FILE...]\n"
	"get [OPTIONS] PATH[,PATH...] [FILE...]\n"
	"listen -L LAKE --port N [OPTIONS]",
	"Read hospital feeds (HL7 v2 ADT, FHIR R4 Encounter) as PulseStream "
	"events.",
	options, PS_CLI_LAKE | PS_CLI_STREAM,
	"Commands:\n"
	"  convert   HL7 v2 messages / FHIR resources to event NDJSON\n"
	"  get       the values at HL7 paths (e.g. PID-3[1].1), one JSON "
	"array a message\n"
	"  listen    MLLP server: messages to bronze, ACK after the commit, "
	"envelopes out",
};

struct args {
	struct ps_hl7cmd_opts o;
	struct ps_hl7_listen_opts l;
	const char *map;
	int port_set;
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
		a->o.max_message = a->l.max_message = (size_t)v;
		return 0;
	case OPT_BIND:
		a->l.bind = arg;
		return 0;
	case OPT_PORT:
		a->port_set = 1;
		return ps_opt_int("--port", arg, 0, 65535, &a->l.port, e);
	case OPT_PORT_FILE:
		a->l.port_file = arg;
		return 0;
	case OPT_SOURCE:
		a->l.source_name = arg;
		return 0;
	case OPT_FLUSH_INTERVAL:
		return ps_opt_double("--flush-interval", arg, 0.001, 3600,
				     &a->l.flush_interval, e);
	case OPT_FLUSH_RECORDS:
		return ps_opt_ll("--flush-records", arg, 1, 100000000,
				 &a->l.flush_records, e);
	case OPT_MAX_CONN:
		return ps_opt_int("--max-connections", arg, 1, 65536,
				  &a->l.max_connections, e);
	case OPT_DEDUP:
		return ps_opt_ll("--dedup-window", arg, 1, 100000000,
				 &a->l.dedup_window, e);
	case OPT_TLS_CERT:
		a->l.tls_cert = arg;
		return 0;
	case OPT_TLS_KEY:
		a->l.tls_key = arg;
		return 0;
	case OPT_TLS_CLIENT_CA:
		a->l.tls_client_ca = arg;
		return 0;
	}
	return ps_error_set(e, 64, "unhandled option");
}

static int write_out(void *ctx, const void *p, size_t n)
{
	(void)ctx;
	return ps_write_stdout(p, n);
}

/* listen: committed envelopes, flushed at once for the next stage. */
static int emit_out(void *ctx, const char *p, size_t n)
{
	(void)ctx;
	if (ps_stdout_gone())
		return 0;	/* no reader: bronze has it all the same */
	if (ps_write_stdout(p, n) < 0 || ps_flush_stdout() < 0)
		return ps_stdout_gone() ? 0 : -1;
	return 0;
}

static int listen_cmd(struct args *a, struct ps_common *c, int extra)
{
	struct ps_error e = { 0, "" };
	int rc;

	if (extra)
		return ps_cli_misuse(&tool, "listen takes no operands");
	if (!c->lake)
		return ps_cli_misuse(&tool, "listen: -L LAKE (or PS_LAKE) is "
				     "required");
	if (!a->port_set)
		return ps_cli_misuse(&tool, "listen: --port is required");
	if (!a->l.tls_cert != !a->l.tls_key)
		return ps_cli_misuse(&tool, "listen: --tls-cert and --tls-key "
				     "go together");
	if (a->l.tls_client_ca && !a->l.tls_cert)
		return ps_cli_misuse(&tool, "listen: --tls-client-ca needs "
				     "--tls-cert and --tls-key");
	a->l.lake = c->lake;
	a->l.stream = c->stream;
	a->l.emit = emit_out;
	rc = ps_hl7_listen(&a->l, &e) < 0 ? e.code : 0;
	if (rc == PS_EX_USAGE)
		return ps_cli_misuse(&tool, "%s", e.msg);
	if (rc)
		ps_log(PS_ERROR, e.msg);
	return ps_close_stdout(rc);
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
	{
		struct ps_hl7_listen_opts lo = PS_HL7_LISTEN_OPTS_INIT;

		a.l = lo;
	}
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
		return ps_cli_misuse(&tool, "a command (convert, get or listen) "
				     "must come first");
	if (!strcmp(cmd, "listen"))
		return listen_cmd(&a, &c, argc - argi);
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

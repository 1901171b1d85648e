/* ps-ingest - NDJSON to Kafka / Event Hubs, and back as envelopes. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "kafka.h"
#include "log.h"
#include "ndjson.h"
#include "secret.h"
#include "banned.h"

enum {
	OPT_EVENTHUBS = 256, OPT_NO_IDEMPOTENCE, OPT_TIMEOUT, OPT_MAX_BYTES,
	OPT_STRICT, OPT_FROM, OPT_EXIT_AT_END,
};

static const struct ps_option options[] = {
	{ "topic", 't', "TOPIC", "topic (Event Hub); default: the "
	  "connection string's EntityPath" },
	{ "brokers", 'b', "BROKERS", "bootstrap brokers, host:port,..." },
	{ "property", 'X', "NAME=VALUE", "librdkafka property (repeatable)" },
	{ "config", 'F', "FILE", "file of librdkafka properties, name=value "
	  "lines" },
	{ "eventhubs", OPT_EVENTHUBS, "CONNSTR", "Azure Event Hubs connection "
	  "string (default: $PS_EVENTHUBS_CONNECTION_STRING)" },
	{ "timeout", OPT_TIMEOUT, "SECONDS", "produce: give up delivering "
	  "after; consume: wait for partitions (default 300)" },
	{ "key", 'k', "FIELD", "produce: message key from this field "
	  "(default hospital_id; '' for none)" },
	{ "no-idempotence", OPT_NO_IDEMPOTENCE, NULL, "produce: plain "
	  "producer (for tiers without idempotence)" },
	{ "max-bytes", OPT_MAX_BYTES, "N", "produce: reject longer lines "
	  "(default 990000)" },
	{ "strict", OPT_STRICT, NULL, "produce: a rejected line is fatal "
	  "(exit 65)" },
	{ "group", 'G', "GROUP", "consume: consumer group (default "
	  "pulsestream-TOPIC)" },
	{ "from", OPT_FROM, "WHERE", "consume: beginning (default), end or "
	  "an ISO-8601 time, where no position is known" },
	{ "exit-at-end", OPT_EXIT_AT_END, NULL, "consume: exit at the end "
	  "of the assigned partitions" },
	{ "count", 'n', "N", "consume: stop after N messages" },
	{ NULL, 0, NULL, NULL },
};

static const struct ps_tool tool = {
	"ps-ingest", "produce -t TOPIC [OPTIONS]\nconsume -t TOPIC [OPTIONS]",
	"Send NDJSON to Kafka or Azure Event Hubs, or read it back as "
	"envelopes.",
	options, PS_CLI_LAKE | PS_CLI_STREAM,
	"produce: NDJSON lines on standard input, a delivery summary on exit.\n"
	"consume: envelopes on standard output; with -L, each partition "
	"starts\nafter the bronze checkpoint (exactly once into ps-bronze).\n"
	"Values of the form secret:NAME are resolved through the vault.",
};

/* -X and -F apply in command-line order, after parsing. */
struct prop_arg {
	int file;
	const char *arg;
};

struct args {
	struct ps_kafka_produce_opts p;
	struct ps_kafka_consume_opts cs;
	const char *brokers;
	const char *eventhubs;
	struct prop_arg *props;
	int nprops;
	int produce_only, consume_only;	/* an option of one side seen */
};

static int on_option(void *ctx, int key, const char *arg, struct ps_error *e)
{
	struct args *a = ctx;
	const char *why = NULL;
	long long v;

	switch (key) {
	case 't':
		a->p.topic = a->cs.topic = arg;
		return 0;
	case 'b':
		a->brokers = arg;
		return 0;
	case 'X':
		if (!strchr(arg, '=') || arg[0] == '=')
			return ps_error_set(e, 64, "-X: expected NAME=VALUE");
		/* fall through */
	case 'F':
		a->props = realloc(a->props, (size_t)(a->nprops + 1) *
				   sizeof(*a->props));
		if (!a->props)
			return ps_error_set(e, 70, "out of memory");
		a->props[a->nprops].file = key == 'F';
		a->props[a->nprops++].arg = arg;
		return 0;
	case OPT_EVENTHUBS:
		a->eventhubs = arg;
		return 0;
	case OPT_TIMEOUT:
		if (ps_parse_ll(arg, 1, 86400 * 7, &v, &why) < 0)
			return ps_error_set(e, 64, "--timeout: %s: '%s'", why,
					    arg);
		a->p.timeout_ms = a->cs.timeout_ms = v * 1000;
		return 0;
	case 'k':
		a->p.key_field = arg;
		a->produce_only = 1;
		return 0;
	case OPT_NO_IDEMPOTENCE:
		a->p.idempotence = 0;
		a->produce_only = 1;
		return 0;
	case OPT_MAX_BYTES:
		if (ps_parse_size(arg, 16, (long long)PS_RECORD_MAX, &v,
				   &why) < 0)
			return ps_error_set(e, 64, "--max-bytes: %s: '%s'", why,
					    arg);
		a->p.max_bytes = v;
		a->produce_only = 1;
		return 0;
	case OPT_STRICT:
		a->p.strict = 1;
		a->produce_only = 1;
		return 0;
	case 'G':
		a->cs.group = arg;
		a->consume_only = 1;
		return 0;
	case OPT_FROM:
		a->consume_only = 1;
		return ps_kafka_parse_from(arg, &a->cs.from, &a->cs.from_time,
					   e);
	case OPT_EXIT_AT_END:
		a->cs.exit_at_end = 1;
		a->consume_only = 1;
		return 0;
	case 'n':
		if (ps_parse_ll(arg, 1, LLONG_MAX, &v, &why) < 0)
			return ps_error_set(e, 64, "--count: %s: '%s'", why, arg);
		a->cs.max_messages = v;
		a->consume_only = 1;
		return 0;
	}
	return ps_error_set(e, 64, "unhandled option");
}

/* Build the client properties; returns 0 or an exit code. */
static int build_conf(struct args *a, struct ps_kafka_conf *kc)
{
	struct ps_error e = { 0, "" };
	char *eh = NULL;
	int i, rc;

	/* The connection string may be secret:NAME (through the vault). */
	rc = a->eventhubs
	     ? ps_secret_resolve(a->eventhubs, &eh, &e)
	     : ps_secret_getenv("PS_EVENTHUBS_CONNECTION_STRING", &eh, &e);
	if (rc < 0)
		goto bad;
	if (eh && *eh)
		rc = ps_kafka_conf_eventhubs(kc, eh, &e);
	ps_secret_free(eh);
	if (rc < 0)
		goto bad;
	if (a->brokers && ps_kafka_conf_set(kc, "bootstrap.servers",
					    a->brokers, &e) < 0)
		goto bad;
	for (i = 0; i < a->nprops; i++) {
		rc = a->props[i].file
			 ? ps_kafka_conf_load(kc, a->props[i].arg, &e)
			 : ps_kafka_conf_add(kc, a->props[i].arg, &e);

		if (rc < 0)
			goto bad;
	}
	return 0;
bad:
	ps_log(PS_ERROR, e.msg);
	return e.code ? e.code : PS_EX_CONFIG;
}

static int run_produce(struct args *a, struct ps_kafka_conf *kc)
{
	struct ps_kafka_produce_stats st;
	struct ps_error e = { 0, "" };
	int rc;

	rc = ps_kafka_produce(kc, &a->p, STDIN_FILENO, &st, &e) < 0 ? e.code
								      : 0;
	if (rc && !st.read)	/* nothing was tried: the error says it */
		goto out;
	ps_log(rc ? PS_ERROR : PS_INFO, "produce done",
	       PS_S("topic", a->p.topic), PS_I("read", st.read),
	       PS_I("delivered", st.delivered), PS_I("failed", st.failed),
	       PS_I("unsent", st.unsent), PS_I("rejected", st.rejected),
	       PS_I("unkeyed", st.unkeyed));
out:
	if (rc)
		ps_log(PS_ERROR, e.msg, PS_I("undelivered",
		       st.failed + st.unsent), PS_S("exit", ps_exit_name(rc)));
	return rc;
}

static int run_consume(struct args *a, struct ps_kafka_conf *kc)
{
	struct ps_kafka_consume_stats st;
	struct ps_error e = { 0, "" };
	int rc;

	rc = ps_kafka_consume(kc, &a->cs, stdout, &st, &e) < 0 ? e.code : 0;
	if (rc)
		ps_log(PS_ERROR, e.msg, PS_S("exit", ps_exit_name(rc)));
	return ps_close_stdout(rc);
}

int main(int argc, char **argv)
{
	struct args a;
	struct ps_common c;
	struct ps_kafka_conf *kc;
	struct ps_kafka_produce_opts po = PS_KAFKA_PRODUCE_OPTS_INIT;
	struct ps_kafka_consume_opts co = PS_KAFKA_CONSUME_OPTS_INIT;
	const char *cmd = NULL;
	int rc, argi, shift = 0;

	ps_init("ps-ingest");
	memset(&a, 0, sizeof(a));
	a.p = po;
	a.cs = co;
	if (argc > 1 && (!strcmp(argv[1], "produce") ||
			 !strcmp(argv[1], "consume"))) {
		cmd = argv[1];
		shift = 1;
	}
	rc = ps_cli_parse(&tool, argc - shift, argv + shift, on_option, &a,
			  &c, &argi);
	if (rc != PS_CONTINUE) {
		free(a.props);
		return rc;
	}
	argi += shift;
	if (!cmd && argi < argc)
		rc = ps_cli_misuse(&tool, "unknown command '%s': expected "
				   "produce or consume", argv[argi]);
	else if (!cmd)
		rc = ps_cli_misuse(&tool, "expected a command: produce or "
				   "consume");
	else if (argi < argc)
		rc = ps_cli_misuse(&tool, "unexpected argument '%s'",
				   argv[argi]);
	else if (!strcmp(cmd, "produce") && a.consume_only)
		rc = ps_cli_misuse(&tool, "-G, --from, --exit-at-end and "
				   "--count are for consume");
	else if (!strcmp(cmd, "consume") && a.produce_only)
		rc = ps_cli_misuse(&tool, "-k, --no-idempotence, --max-bytes "
				   "and --strict are for produce");
	if (rc != PS_CONTINUE) {
		free(a.props);
		return rc;
	}
	kc = ps_kafka_conf_new();
	rc = build_conf(&a, kc);
	if (!rc && !a.p.topic && ps_kafka_conf_topic(kc))
		a.p.topic = a.cs.topic = ps_kafka_conf_topic(kc);
	if (!rc && !a.p.topic)
		rc = ps_cli_misuse(&tool, "no topic: use -t TOPIC (or an "
				   "EntityPath in the connection string)");
	if (!rc) {
		a.cs.lake = c.lake;
		a.cs.stream = c.stream;
		rc = !strcmp(cmd, "produce") ? run_produce(&a, kc)
					     : run_consume(&a, kc);
	}
	ps_kafka_conf_free(kc);
	ps_secret_cleanup();
	free(a.props);
	return rc;
}

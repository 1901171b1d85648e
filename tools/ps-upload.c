/*
 * ps-upload - send committed lake files to Azure Blob Storage / ADLS Gen2.
 * Option parsing and credential wiring only; the work is in lib/upload.c
 * and lib/azblob.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "azauth.h"
#include "azblob.h"
#include "cli.h"
#include "http.h"
#include "log.h"
#include "secret.h"
#include "upload.h"
#include "banned.h"

enum {
	OPT_TO = 256,
	OPT_AUTH,
	OPT_ACCOUNT,
	OPT_ACCOUNT_KEY,
	OPT_SAS,
	OPT_PARALLEL,
	OPT_BLOCK_SIZE,
	OPT_STDIN,
	OPT_VERIFY,
	OPT_CREATE_CONTAINER,
	OPT_WATCH,
	OPT_INTERVAL,
	OPT_RETRIES,
};

static const struct ps_option options[] = {
	{ "to", OPT_TO, "URL",
	  "container URL [/prefix] (default: $PS_BLOB_URL)" },
	{ "auth", OPT_AUTH, "MODE",
	  "sharedkey, sas or bearer (default: as configured)" },
	{ "account", OPT_ACCOUNT, "NAME",
	  "storage account (default: from the URL)" },
	{ "account-key", OPT_ACCOUNT_KEY, "secret:NAME",
	  "account key from the vault (or $PS_BLOB_KEY)" },
	{ "sas", OPT_SAS, "secret:NAME",
	  "SAS token from the vault (or $PS_BLOB_SAS)" },
	{ "parallel", OPT_PARALLEL, "N",
	  "requests in flight at once, 1-64 (default 4)" },
	{ "block-size", OPT_BLOCK_SIZE, "SIZE",
	  "larger files go up in blocks of SIZE (default 8M)" },
	{ "stdin", OPT_STDIN, NULL,
	  "upload the files listed on stdin, not the whole lake" },
	{ "dry-run", 'n', NULL, "report what would be uploaded, send nothing" },
	{ "verify", OPT_VERIFY, NULL,
	  "skip only files whose blob holds the same MD5" },
	{ "create-container", OPT_CREATE_CONTAINER, NULL,
	  "create the container when it does not exist" },
	{ "watch", OPT_WATCH, NULL, "keep syncing until SIGINT/SIGTERM" },
	{ "interval", OPT_INTERVAL, "SECONDS",
	  "pause between --watch rounds (default 10)" },
	{ "retries", OPT_RETRIES, "N",
	  "retries per request on transient errors (default 4)" },
	{ NULL, 0, NULL, NULL },
};

static const struct ps_tool tool = {
	"ps-upload", "[OPTIONS] -L LAKE [--to URL]",
	"Upload committed lake files to Azure Blob Storage / ADLS Gen2.",
	options, PS_CLI_LAKE,
	"One JSON line per file on stdout: uploaded, skipped or failed.\n"
	"Credentials: --account-key or $PS_BLOB_KEY (SharedKey), --sas or\n"
	"$PS_BLOB_SAS, else a bearer token (AZURE_* variables, managed\n"
	"identity).  Exit 75: retry later; 78: bad credentials or settings.",
};

struct args {
	struct ps_upload_opts o;
	const char *to;
	const char *auth;
	const char *account;
	const char *key_ref;
	const char *sas_ref;
	int stdin_list;
	int retries;
};

static int on_option(void *ctx, int key, const char *arg,
		     struct ps_error *e)
{
	struct args *a = ctx;
	const char *why = NULL;
	long long v;
	double d;

	switch (key) {
	case OPT_TO:
		a->to = arg;
		return 0;
	case OPT_AUTH:
		if (strcmp(arg, "sharedkey") && strcmp(arg, "sas") &&
		    strcmp(arg, "bearer"))
			return ps_error_set(e, PS_EX_USAGE, "--auth: '%s' is "
					    "not sharedkey, sas or bearer",
					    arg);
		a->auth = arg;
		return 0;
	case OPT_ACCOUNT:
		a->account = arg;
		return 0;
	case OPT_ACCOUNT_KEY:
	case OPT_SAS:
		/* A credential in argv is visible to every local user. */
		if (!ps_secret_is_ref(arg))
			return ps_error_set(e, PS_EX_USAGE, "--%s takes "
					    "secret:NAME, not the value itself "
					    "(or set %s)", key == OPT_SAS ?
					    "sas" : "account-key",
					    key == OPT_SAS ? "PS_BLOB_SAS" :
					    "PS_BLOB_KEY");
		if (key == OPT_SAS)
			a->sas_ref = arg;
		else
			a->key_ref = arg;
		return 0;
	case OPT_PARALLEL:
		if (ps_parse_ll(arg, 1, 64, &v, &why) < 0)
			return ps_error_set(e, PS_EX_USAGE, "--parallel: '%s' "
					    "is %s (1-64)", arg, why);
		a->o.parallel = (int)v;
		return 0;
	case OPT_BLOCK_SIZE:
		if (ps_parse_size(arg, 1024, PS_AZBLOB_MAX_BLOCK, &v,
				  &why) < 0)
			return ps_error_set(e, PS_EX_USAGE, "--block-size: "
					    "'%s' is %s (1k to 4000M)", arg,
					    why);
		a->o.block_size = v;
		return 0;
	case OPT_STDIN:
		a->stdin_list = 1;
		return 0;
	case 'n':
		a->o.dry_run = 1;
		return 0;
	case OPT_VERIFY:
		a->o.verify = 1;
		return 0;
	case OPT_CREATE_CONTAINER:
		a->o.create_container = 1;
		return 0;
	case OPT_WATCH:
		a->o.watch = 1;
		return 0;
	case OPT_INTERVAL:
		if (ps_parse_double(arg, 0.1, 86400, &d, &why) < 0)
			return ps_error_set(e, PS_EX_USAGE, "--interval: '%s' "
					    "is %s (0.1 to 86400 seconds)",
					    arg, why);
		a->o.interval = d;
		return 0;
	case OPT_RETRIES:
		if (ps_parse_ll(arg, 0, 20, &v, &why) < 0)
			return ps_error_set(e, PS_EX_USAGE, "--retries: '%s' "
					    "is %s (0-20)", arg, why);
		a->retries = (int)v;
		return 0;
	}
	return ps_error_set(e, PS_EX_USAGE, "unhandled option");
}

/* The bearer token source: lib/azauth's credential chain. */
static int get_token(void *ctx, struct ps_buf *out, struct ps_error *e)
{
	const char *tok;

	if (ps_azauth_token(ctx, PS_AZ_RESOURCE_STORAGE, &tok, e))
		return -1;
	ps_buf_reset(out);
	ps_buf_adds(out, tok);
	return 0;
}

/* Resolve an option's secret:NAME, else the first environment variable
 * set among var1, var2 (whose value may itself be secret:NAME). */
static int credential(const char *ref, const char *var1, const char *var2,
		      char **out, struct ps_error *e)
{
	if (ref)
		return ps_secret_resolve(ref, out, e);
	if (ps_secret_getenv(var1, out, e))
		return -1;
	if (!*out && var2 && ps_secret_getenv(var2, out, e))
		return -1;
	if (*out && !**out) {
		ps_secret_free(*out);
		*out = NULL;
	}
	return 0;
}

static int run(struct args *a, struct ps_error *e)
{
	struct ps_http_opts ho = PS_HTTP_OPTS_INIT;
	struct ps_azblob_opts ao = { 0 };
	struct ps_upload_stats st;
	struct ps_http *http = NULL;
	struct ps_azauth *auth = NULL;
	struct ps_azblob *az = NULL;
	char *key = NULL, *sas = NULL;
	int rc = -1;

	if (credential(a->key_ref, "PS_BLOB_KEY", "AZURE_STORAGE_KEY", &key,
		       e) ||
	    credential(a->sas_ref, "PS_BLOB_SAS", NULL, &sas, e))
		goto out;
	if (a->retries >= 0)
		ho.max_retries = a->retries;
	http = ps_http_new(&ho, e);
	if (!http)
		goto out;
	ps_http_set_interrupt(http, ps_stop_flag());
	ao.url = a->to;
	ao.account = a->account;
	if (a->auth)
		ao.auth = !strcmp(a->auth, "sharedkey") ?
			PS_AZBLOB_AUTH_SHAREDKEY : !strcmp(a->auth, "sas") ?
			PS_AZBLOB_AUTH_SAS : PS_AZBLOB_AUTH_BEARER;
	else
		ao.auth = key ? PS_AZBLOB_AUTH_SHAREDKEY :
			sas ? PS_AZBLOB_AUTH_SAS : PS_AZBLOB_AUTH_BEARER;
	ao.key = key;
	ao.sas = sas;
	if (ao.auth == PS_AZBLOB_AUTH_BEARER) {
		auth = ps_azauth_new(http, e);
		if (!auth)
			goto out;
		ao.token_fn = get_token;
		ao.token_ctx = auth;
	}
	az = ps_azblob_new(&ao, e);
	if (!az)
		goto out;
	ps_log(PS_DEBUG, "uploading", PS_S("container",
					   ps_azblob_container(az)),
	       PS_S("auth", ao.auth == PS_AZBLOB_AUTH_SHAREDKEY ? "sharedkey" :
		    ao.auth == PS_AZBLOB_AUTH_SAS ? "sas" :
		    ps_azauth_method(auth)));
	a->o.list = a->stdin_list ? stdin : NULL;
	a->o.stop = ps_stop_flag();
	rc = ps_upload_run(&a->o, az, http, stdout, &st, e);
out:
	ps_azblob_free(az);
	ps_azauth_free(auth);
	ps_http_free(http);
	ps_secret_free(key);
	ps_secret_free(sas);
	ps_secret_cleanup();
	return rc;
}

int main(int argc, char **argv)
{
	struct args a = { PS_UPLOAD_OPTS_INIT, NULL, NULL, NULL, NULL, NULL,
			  0, -1 };
	struct ps_common c;
	struct ps_error e = { 0, "" };
	int rc, argi;

	ps_init("ps-upload");
	rc = ps_cli_parse(&tool, argc, argv, on_option, &a, &c, &argi);
	if (rc != PS_CONTINUE)
		return rc;
	if (argi < argc)
		return ps_cli_misuse(&tool, "unexpected operand '%s'",
				     argv[argi]);
	if (!c.lake)
		return ps_cli_misuse(&tool, "no lake: give -L DIR or set "
				     "PS_LAKE");
	if (!a.to)
		a.to = getenv("PS_BLOB_URL");
	if (!a.to || !*a.to)
		return ps_cli_misuse(&tool, "no target: give --to URL or set "
				     "PS_BLOB_URL");
	if (a.o.watch && a.stdin_list)
		return ps_cli_misuse(&tool, "--watch scans the lake: it cannot "
				     "be combined with --stdin");
	a.o.lake = c.lake;
	rc = run(&a, &e) ? (e.code ? e.code : PS_EX_SOFTWARE) : 0;
	if (rc == PS_EX_UNAVAILABLE)
		rc = PS_EX_TEMPFAIL;	/* unreachable now: retry later */
	if (rc)
		ps_log(PS_ERROR, "ps-upload failed", PS_S("err", e.msg));
	return ps_close_stdout(rc);
}

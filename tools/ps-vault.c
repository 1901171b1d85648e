/*
 * ps-vault - get, put, list and remove secrets in a local encrypted file,
 * the environment, or Azure Key Vault.  Option parsing only; the work is
 * in lib/vault.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "crypto.h"
#include "error.h"
#include "log.h"
#include "vault.h"
#include "banned.h"

enum {
	OPT_VAULT = 256,
	OPT_API_VERSION,
	OPT_CACERT,
	OPT_KEY_FILE,
};

static const struct ps_option options[] = {
	{ "vault", OPT_VAULT, "URL",
	  "env:, file:PATH or https://NAME.vault.azure.net" },
	{ "api-version", OPT_API_VERSION, "V",
	  "Key Vault REST api-version (default " PS_VAULT_DEFAULT_API ")" },
	{ "cacert", OPT_CACERT, "FILE",
	  "trust this PEM CA bundle ($PS_CA_BUNDLE)" },
	{ "key-file", OPT_KEY_FILE, "FILE",
	  "file vault key ($PS_VAULT_KEY_FILE, or $PS_VAULT_KEY)" },
	{ NULL, 0, NULL, NULL },
};

static const struct ps_tool tool = {
	"ps-vault",
	"[OPTIONS] get NAME\n[OPTIONS] put NAME < VALUE\n[OPTIONS] list\n"
	"[OPTIONS] rm NAME",
	"Get, set, list and remove secrets (file, env or Azure Key Vault).",
	options,
	0,
	"put reads the value from stdin (one trailing newline is dropped);\n"
	"get prints it followed by a newline.  Only get prints a secret.",
};

struct opts {
	const char *vault;
	struct ps_vault_opts vo;
};

static int on_option(void *ctx, int key, const char *arg, struct ps_error *e)
{
	struct opts *o = ctx;

	switch (key) {
	case OPT_VAULT:
		o->vault = arg;
		return 0;
	case OPT_API_VERSION:
		if (!*arg || strpbrk(arg, "&?#/ "))
			return ps_error_set(e, PS_EX_USAGE,
					    "--api-version: invalid '%s'", arg);
		o->vo.api_version = arg;
		return 0;
	case OPT_CACERT:
		o->vo.ca_bundle = arg;
		return 0;
	case OPT_KEY_FILE:
		o->vo.key_file = arg;
		return 0;
	}
	return ps_error_set(e, PS_EX_USAGE, "unhandled option");
}

/* Read the value from stdin, dropping one trailing newline. */
static int read_value(struct ps_buf *b, struct ps_error *e)
{
	char chunk[4096];
	size_t n;

	while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0) {
		ps_buf_add(b, chunk, n);
		ps_crypto_wipe(chunk, n);
		if (b->len > PS_VAULT_MAX_VALUE + 2)
			return ps_error_set(e, PS_EX_DATAERR,
					    "secret value over %d bytes",
					    PS_VAULT_MAX_VALUE);
	}
	if (ferror(stdin))
		return ps_error_set(e, PS_EX_IOERR, "cannot read stdin");
	if (b->len && b->data[b->len - 1] == '\n') {
		b->len--;
		if (b->len && b->data[b->len - 1] == '\r')
			b->len--;
		b->data[b->len] = '\0';
	}
	return 0;
}

static int run(struct ps_vault *v, const char *cmd, const char *name,
	       struct ps_error *e)
{
	struct ps_buf b = PS_BUF_INIT;
	char **names;
	size_t n, i;
	int rc = 0;

	if (strcmp(cmd, "get") == 0) {
		rc = ps_vault_get(v, name, &b, e);
		if (rc == 0 && (ps_write_stdout(b.data ? b.data : "", b.len) <
				0 || ps_write_stdout("\n", 1) < 0))
			rc = ps_stdout_gone() ? 0 :
			     ps_error_set(e, PS_EX_IOERR,
					  "cannot write stdout");
	} else if (strcmp(cmd, "put") == 0) {
		rc = read_value(&b, e);
		if (rc == 0)
			rc = ps_vault_put(v, name, b.data ? b.data : "", b.len,
					  e);
		if (rc == 0)
			ps_log(PS_INFO, "secret set", PS_S("name", name),
			       PS_S("vault", ps_vault_kind(v)));
	} else if (strcmp(cmd, "rm") == 0) {
		rc = ps_vault_rm(v, name, e);
		if (rc == 0)
			ps_log(PS_INFO, "secret removed", PS_S("name", name),
			       PS_S("vault", ps_vault_kind(v)));
	} else {
		rc = ps_vault_list(v, &names, &n, e);
		for (i = 0; rc == 0 && i < n; i++)
			if (ps_write_stdout(names[i], strlen(names[i])) < 0 ||
			    ps_write_stdout("\n", 1) < 0)
				break;
		if (rc == 0)
			ps_vault_names_free(names, n);
	}
	ps_crypto_wipe_buf(&b);
	return rc;
}

int main(int argc, char **argv)
{
	struct opts o = { NULL, PS_VAULT_OPTS_INIT };
	struct ps_common c, c2;
	struct ps_error e = { 0, "" };
	struct ps_vault *v;
	const char *cmd, *name = NULL;
	int rc, argi = 0, argj = 0, want;

	ps_init(tool.name);
	rc = ps_cli_parse(&tool, argc, argv, on_option, &o, &c, &argi);
	if (rc != PS_CONTINUE)
		return rc;
	if (argi >= argc)
		return ps_cli_misuse(&tool, "missing command (get, put, list "
				     "or rm)");
	cmd = argv[argi];
	if (strcmp(cmd, "list") == 0)
		want = 0;
	else if (strcmp(cmd, "get") == 0 || strcmp(cmd, "put") == 0 ||
		 strcmp(cmd, "rm") == 0)
		want = 1;
	else
		return ps_cli_misuse(&tool, "unknown command '%s'", cmd);
	/* Options may also follow the command: ps-vault get --vault X NAME */
	rc = ps_cli_parse(&tool, argc - argi, argv + argi, on_option, &o, &c2,
			  &argj);
	if (rc != PS_CONTINUE)
		return rc;
	if (c2.verbosity == 0)
		ps_log_set_level(c.verbosity < 0 ? PS_ERROR :
				 PS_INFO + c.verbosity);
	argi += argj;
	if (argc - argi != want)
		return ps_cli_misuse(&tool, want ? "%s needs one NAME" :
				     "%s takes no operand", cmd);
	if (want) {
		name = argv[argi];
		if (ps_vault_check_name(name, &e) < 0)
			return ps_cli_misuse(&tool, "%s", e.msg);
	}

	v = ps_vault_open(o.vault, &o.vo, &e);
	if (!v) {
		if (e.code == PS_EX_USAGE)
			return ps_cli_misuse(&tool, "%s", e.msg);
		rc = e.code;
	} else {
		rc = run(v, cmd, name, &e) < 0 ? e.code : 0;
		ps_vault_close(v);
	}
	if (rc)
		ps_log(PS_ERROR, "ps-vault failed", PS_S("command", cmd),
		       PS_S("err", e.msg));
	return ps_close_stdout(rc);
}

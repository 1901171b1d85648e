/* secret.c - see secret.h. */
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "secret.h"
#include "vault.h"
#include "banned.h"

static struct ps_vault *cached;

int ps_secret_is_ref(const char *value)
{
	return value && strncmp(value, PS_SECRET_PREFIX,
				sizeof(PS_SECRET_PREFIX) - 1) == 0;
}

static int lookup(const char *name, char **out, struct ps_error *e)
{
	struct ps_buf b = PS_BUF_INIT;

	if (!cached) {
		cached = ps_vault_open(NULL, NULL, e);
		if (!cached)
			return -1;
	}
	if (ps_vault_get(cached, name, &b, e) < 0) {
		ps_crypto_wipe_buf(&b);
		return -1;
	}
	if (!b.data)
		ps_buf_adds(&b, "");
	*out = ps_buf_detach(&b, NULL);
	return 0;
}

int ps_secret_resolve(const char *value, char **out, struct ps_error *e)
{
	*out = NULL;
	if (!value)
		return 0;
	ps_crypto_protect_process();	/* a secret, or the value of one */
	if (!ps_secret_is_ref(value)) {
		*out = ps_xstrdup(value);
		return 0;
	}
	return lookup(value + sizeof(PS_SECRET_PREFIX) - 1, out, e);
}

int ps_secret_getenv(const char *var, char **out, struct ps_error *e)
{
	struct ps_error inner = { 0, "" };

	if (ps_secret_resolve(getenv(var), out, &inner) < 0)
		return ps_error_set(e, inner.code, "%s: %s", var, inner.msg);
	return 0;
}

void ps_secret_free(char *s)
{
	ps_crypto_free_str(s);
}

void ps_secret_cleanup(void)
{
	ps_vault_close(cached);
	cached = NULL;
}

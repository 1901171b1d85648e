/*
 * secret.h - resolving "secret:NAME" in option values and environment
 * variables, for every tool.
 *
 *   char *connstr = NULL;
 *   if (ps_secret_resolve(opt_connstr, &connstr, &e) < 0)
 *           return e.code;
 *   ... use connstr ...
 *   ps_secret_free(connstr);
 *
 * A value that does not start with "secret:" is returned as is (copied).
 * "secret:NAME" is looked up through the vault named by PS_VAULT (default
 * "env:", i.e. the variable PS_SECRET_NAME); see lib/vault.h.  The vault
 * is opened once per process and kept for later look-ups (so an Azure
 * token is fetched once); ps_secret_cleanup() closes it.  Error messages
 * name the secret, never its value.  Not thread-safe.
 */
#ifndef PS_SECRET_H
#define PS_SECRET_H

#include "error.h"

#define PS_SECRET_PREFIX "secret:"

/*
 * Set *out to a malloc'd copy of value, or of the secret it names.  value
 * NULL gives *out NULL.  Returns 0, or -1 with e filled (66 no such
 * secret, 64 bad name or vault spec, 78/69/75 from the vault); *out is then
 * NULL.  Free *out with ps_secret_free.
 */
int ps_secret_resolve(const char *value, char **out, struct ps_error *e);

/*
 * ps_secret_resolve applied to the environment variable var: *out is NULL
 * when var is unset.  Error messages name var.
 */
int ps_secret_getenv(const char *var, char **out, struct ps_error *e);

/* True when value has the form "secret:NAME". */
int ps_secret_is_ref(const char *value);

/* Wipe and free a resolved value; NULL is a no-op. */
void ps_secret_free(char *s);

/* Close the cached vault (at exit, for leak checkers).  Cannot fail. */
void ps_secret_cleanup(void);

#endif

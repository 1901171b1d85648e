/*
 * vault.h - named secrets in one of three backends, chosen by a spec
 * (the --vault option or PS_VAULT; default "env:"):
 *
 *   env:            PS_SECRET_<NAME> environment variables (NAME upper-cased,
 *                   '-' becomes '_'); read-only.
 *   file:PATH       a local file encrypted with AES-256-GCM under a 32-byte
 *                   key from PS_VAULT_KEY (hex or base64) or the file named by
 *                   PS_VAULT_KEY_FILE (raw 32 bytes, hex or base64).  The
 *                   vault and the key file must not be accessible by group
 *                   or others.  Updates are atomic (lib/fsutil.h) and
 *                   serialised by a lock file ".NAME.lock" beside it.
 *   https://HOST    Azure Key Vault (REST API, bearer token from
 *                   lib/azauth.h for the audience of HOST's cloud:
 *                   vault.azure.cn and vault.usgovcloudapi.net hosts get
 *                   their own, every other host https://vault.azure.net);
 *                   "delete" is Key Vault's soft delete.
 *
 * Secret names follow Key Vault's rule in every backend: 1 to 127
 * characters from A-Z a-z 0-9 and '-'.  Values are text (UTF-8, no NUL),
 * at most 25,000 bytes (Key Vault's limit).
 *
 * File format (all integers big-endian):
 *   "PSVK" | version 1 (1 byte) | 3 zero bytes | key check (8 bytes) |
 *   IV (12 bytes) | ciphertext | GCM tag (16 bytes)
 * The 28-byte header is the GCM additional data, so any change to it is
 * detected; the key check (the first 8 bytes of HMAC-SHA256(key,
 * "pulsestream vault key check")) tells a wrong key (78) from an altered
 * file (65).  The plaintext is a JSON object {"name": "value", ...}.
 *
 * Values returned are secrets: wipe them (ps_crypto_wipe_buf).  No error
 * message contains a value or a key.
 */
#ifndef PS_VAULT_H
#define PS_VAULT_H

#include <stddef.h>

#include "buf.h"
#include "error.h"

#define PS_VAULT_MAX_VALUE 25000
#define PS_VAULT_DEFAULT_API "7.4"

struct ps_vault_opts {
	const char *api_version;	/* Key Vault api-version, NULL: 7.4 */
	const char *ca_bundle;		/* NULL: $PS_CA_BUNDLE, system */
	const char *key_file;		/* NULL: $PS_VAULT_KEY_FILE */
};

#define PS_VAULT_OPTS_INIT { NULL, NULL, NULL }

struct ps_vault;	/* opaque */

/*
 * Open the backend spec names (NULL or "": $PS_VAULT, else "env:").  Does
 * not touch the network or the vault file yet, but checks the spec and,
 * for file:, that a key is configured.  Returns NULL with e filled: 64 for
 * an unknown spec, 78 for a missing or malformed key.
 */
struct ps_vault *ps_vault_open(const char *spec,
			       const struct ps_vault_opts *o,
			       struct ps_error *e);

/* Close v and wipe what it holds; NULL is a no-op. */
void ps_vault_close(struct ps_vault *v);

/* The backend kind: "env", "file" or "azure". */
const char *ps_vault_kind(const struct ps_vault *v);

/* 0 when name is a valid secret name, else -1 with e filled (64). */
int ps_vault_check_name(const char *name, struct ps_error *e);

/*
 * Append the current value of secret name to value.  Returns 0, or -1
 * with e filled: 66 when there is no such secret, 78 wrong key or refused
 * credentials or unsafe permissions, 65 an altered vault file, 69/75 the
 * service could not be reached.
 */
int ps_vault_get(struct ps_vault *v, const char *name, struct ps_buf *value,
		 struct ps_error *e);

/*
 * Set secret name to the n bytes at value (a new version in Key Vault).
 * Returns 0, or -1 with e filled (as ps_vault_get; 78 for the read-only
 * env: backend, 65 for a value that is not UTF-8 text or too long).
 */
int ps_vault_put(struct ps_vault *v, const char *name, const char *value,
		 size_t n, struct ps_error *e);

/* Delete secret name.  Returns 0, or -1 (66 when there is no such secret). */
int ps_vault_rm(struct ps_vault *v, const char *name, struct ps_error *e);

/*
 * Set *names to a malloc'd array of *n malloc'd names, sorted; free with
 * ps_vault_names_free.  Returns 0, or -1 with e filled.
 */
int ps_vault_list(struct ps_vault *v, char ***names, size_t *n,
		  struct ps_error *e);

void ps_vault_names_free(char **names, size_t n);

#endif

/*
 * azauth.h - Azure AD (Entra ID) bearer tokens for Azure REST APIs.
 *
 * Where the credentials come from, in order:
 *   1. client credentials: AZURE_TENANT_ID, AZURE_CLIENT_ID and
 *      AZURE_CLIENT_SECRET all set; the token is requested from
 *      $AZURE_AUTHORITY_HOST (default https://login.microsoftonline.com)
 *      as POST /TENANT/oauth2/v2.0/token with scope RESOURCE/.default;
 *   2. managed identity through IDENTITY_ENDPOINT and IDENTITY_HEADER
 *      (App Service, Functions, Container Apps, Arc; also Lowkey Vault's
 *      emulation): GET ENDPOINT?resource=R&api-version=2019-08-01 with the
 *      X-IDENTITY-HEADER header;
 *   3. otherwise the instance metadata endpoint (VMs, AKS):
 *      GET http://169.254.169.254/metadata/identity/oauth2/token
 *      ?api-version=2018-02-01&resource=R with "Metadata: true"
 *      (PS_IMDS_ENDPOINT overrides the URL, for tests).
 * AZURE_CLIENT_ID with 2 or 3 selects a user-assigned identity.
 *
 * Tokens are cached in memory (never on disk) per resource until five
 * minutes before they expire.  Token and client secret are wiped when
 * freed and never appear in logs or error messages.
 */
#ifndef PS_AZAUTH_H
#define PS_AZAUTH_H

#include "error.h"
#include "http.h"

#define PS_AZ_RESOURCE_VAULT "https://vault.azure.net"
#define PS_AZ_RESOURCE_STORAGE "https://storage.azure.com"

struct ps_azauth;	/* opaque */

/*
 * A token source reading the environment now (see above); http is borrowed
 * and must outlive it.  Returns NULL with e filled (78) when the settings
 * are incomplete (e.g. AZURE_CLIENT_SECRET without AZURE_TENANT_ID).
 */
struct ps_azauth *ps_azauth_new(struct ps_http *http, struct ps_error *e);

/* Free a and wipe its tokens; NULL is a no-op. */
void ps_azauth_free(struct ps_azauth *a);

/*
 * "client-credentials", "managed-identity" or "instance-metadata": what a
 * uses (safe to log).
 */
const char *ps_azauth_method(const struct ps_azauth *a);

/*
 * A bearer token for resource (e.g. PS_AZ_RESOURCE_VAULT), from the cache
 * or fetched.  *token points into a and stays valid until the next call or
 * ps_azauth_free.  Returns 0, or -1 with e filled: 78 when the identity
 * provider refuses the credentials (401/400), 69/75 when it cannot be
 * reached, 65 when its answer is not a token.
 */
int ps_azauth_token(struct ps_azauth *a, const char *resource,
		    const char **token, struct ps_error *e);

/* Forget cached tokens (after a 401 from the resource server). */
void ps_azauth_invalidate(struct ps_azauth *a);

#endif

/* azauth.c - see azauth.h. */
#include <stdlib.h>
#include <string.h>

#include "azauth.h"
#include "buf.h"
#include "cli.h"
#include "crypto.h"
#include "json.h"
#include "log.h"
#include "pstime.h"
#include "banned.h"

#define IMDS_URL "http://169.254.169.254/metadata/identity/oauth2/token"
#define MAX_CACHED 4

enum az_method { AZ_CLIENT_SECRET, AZ_IDENTITY_ENDPOINT, AZ_IMDS };

struct cached {
	char *resource;
	char *token;
	int64_t refresh_at;	/* wall clock, seconds */
};

struct ps_azauth {
	struct ps_http *http;
	enum az_method method;
	char *tenant, *client_id, *secret, *authority;
	char *endpoint, *header;	/* managed identity */
	struct cached cache[MAX_CACHED];
	size_t ncache;
};

static char *env_dup(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? ps_xstrdup(v) : NULL;
}

/*
 * a, when the token endpoint url (from the environment variable var) passes
 * lib/http's URL rule; else NULL with e filled (78) and a freed.  The
 * token is a secret: refuse early rather than at the first request.
 */
static struct ps_azauth *endpoint_checked(struct ps_azauth *a,
					  const char *url, const char *var,
					  struct ps_error *e)
{
	struct ps_error ue = { 0, "" };

	if (ps_http_url_check(url, &ue) == 0)
		return a;
	ps_error_set(e, PS_EX_CONFIG, "%s: %s", var, ue.msg);
	ps_azauth_free(a);
	return NULL;
}

struct ps_azauth *ps_azauth_new(struct ps_http *http, struct ps_error *e)
{
	struct ps_azauth *a = ps_xcalloc(1, sizeof(*a));

	ps_crypto_protect_process();	/* client secret, tokens */
	a->http = http;
	a->tenant = env_dup("AZURE_TENANT_ID");
	a->client_id = env_dup("AZURE_CLIENT_ID");
	a->secret = env_dup("AZURE_CLIENT_SECRET");
	a->authority = env_dup("AZURE_AUTHORITY_HOST");
	if (!a->authority)
		a->authority = ps_xstrdup("https://login.microsoftonline.com");
	else if (a->authority[strlen(a->authority) - 1] == '/')
		a->authority[strlen(a->authority) - 1] = '\0';
	if (a->secret) {
		a->method = AZ_CLIENT_SECRET;
		if (!a->tenant || !a->client_id) {
			ps_error_set(e, PS_EX_CONFIG,
				     "AZURE_CLIENT_SECRET needs "
				     "AZURE_TENANT_ID and AZURE_CLIENT_ID");
			ps_azauth_free(a);
			return NULL;
		}
		return endpoint_checked(a, a->authority, "AZURE_AUTHORITY_HOST",
					e);
	}
	a->endpoint = env_dup("IDENTITY_ENDPOINT");
	a->header = env_dup("IDENTITY_HEADER");
	if (a->endpoint) {
		a->method = AZ_IDENTITY_ENDPOINT;
		if (!a->header) {
			ps_error_set(e, PS_EX_CONFIG,
				     "IDENTITY_ENDPOINT needs IDENTITY_HEADER");
			ps_azauth_free(a);
			return NULL;
		}
		return endpoint_checked(a, a->endpoint, "IDENTITY_ENDPOINT", e);
	}
	a->method = AZ_IMDS;
	a->endpoint = env_dup("PS_IMDS_ENDPOINT");
	if (!a->endpoint)
		a->endpoint = ps_xstrdup(IMDS_URL);
	return endpoint_checked(a, a->endpoint, "PS_IMDS_ENDPOINT", e);
}

void ps_azauth_invalidate(struct ps_azauth *a)
{
	size_t i;

	for (i = 0; i < a->ncache; i++) {
		free(a->cache[i].resource);
		ps_crypto_free_str(a->cache[i].token);
	}
	a->ncache = 0;
}

void ps_azauth_free(struct ps_azauth *a)
{
	if (!a)
		return;
	ps_azauth_invalidate(a);
	free(a->tenant);
	free(a->client_id);
	ps_crypto_free_str(a->secret);
	free(a->authority);
	free(a->endpoint);
	ps_crypto_free_str(a->header);
	free(a);
}

const char *ps_azauth_method(const struct ps_azauth *a)
{
	switch (a->method) {
	case AZ_CLIENT_SECRET:
		return "client-credentials";
	case AZ_IDENTITY_ENDPOINT:
		return "managed-identity";
	default:
		return "instance-metadata";
	}
}

/* A JSON number, or a string of digits, as seconds; -1 when absent. */
static long long json_seconds(yajl_val v)
{
	long long x;
	const char *err;

	if (YAJL_IS_INTEGER(v))
		return YAJL_GET_INTEGER(v);
	if (YAJL_IS_STRING(v) &&
	    ps_parse_ll(YAJL_GET_STRING(v), 0, 1LL << 40, &x, &err) == 0)
		return x;
	return -1;
}

/* Take the token out of a 2xx token response into the cache. */
static int parse_token(struct ps_azauth *a, const char *resource,
		       struct ps_http_response *rs, const char **token,
		       struct ps_error *e)
{
	yajl_val t = ps_json_parse(rs->body.data, rs->body.len, NULL, 0);
	yajl_val at = t ? ps_json_get(t, "access_token") : NULL;
	long long in, on, now = ps_time_now() / PS_USEC_PER_SEC, life;
	struct cached *c;

	if (!YAJL_IS_STRING(at) || !*at->u.string) {
		if (t)
			yajl_tree_free(t);
		return ps_error_set(e, PS_EX_DATAERR,
				    "token response holds no access_token");
	}
	in = json_seconds(ps_json_get(t, "expires_in"));
	on = json_seconds(ps_json_get(t, "expires_on"));
	life = in >= 0 ? in : on > now ? on - now : 300;
	if (a->ncache == MAX_CACHED)
		ps_azauth_invalidate(a);
	c = &a->cache[a->ncache++];
	c->resource = ps_xstrdup(resource);
	c->token = ps_xstrdup(at->u.string);
	/* Refresh five minutes early, or at half-life for short tokens. */
	c->refresh_at = now + (life > 600 ? life - 300 : life / 2);
	ps_crypto_wipe(at->u.string, strlen(at->u.string));
	yajl_tree_free(t);
	*token = c->token;
	return 0;
}

int ps_azauth_token(struct ps_azauth *a, const char *resource,
		    const char **token, struct ps_error *e)
{
	struct ps_http_request rq = PS_HTTP_REQUEST_INIT;
	struct ps_http_response rs = PS_HTTP_RESPONSE_INIT;
	struct ps_http_header h[2];
	struct ps_buf url = PS_BUF_INIT, body = PS_BUF_INIT;
	int64_t now = ps_time_now() / PS_USEC_PER_SEC;
	size_t i;
	int rc;

	for (i = 0; i < a->ncache; i++) {
		struct cached *c = &a->cache[i];

		if (strcmp(c->resource, resource) != 0)
			continue;
		if (now < c->refresh_at) {
			*token = c->token;
			return 0;
		}
		/* Expired: drop it by moving the last entry here. */
		free(c->resource);
		ps_crypto_free_str(c->token);
		a->cache[i] = a->cache[--a->ncache];
		break;
	}

	if (a->method == AZ_CLIENT_SECRET) {
		ps_buf_addf(&url, "%s/", a->authority);
		ps_http_escape(&url, a->tenant, 0);
		ps_buf_adds(&url, "/oauth2/v2.0/token");
		ps_buf_adds(&body, "grant_type=client_credentials&client_id=");
		ps_http_escape(&body, a->client_id, 0);
		ps_buf_adds(&body, "&scope=");
		ps_http_escape(&body, resource, 0);
		ps_http_escape(&body, "/.default", 0);
		ps_buf_adds(&body, "&client_secret=");
		ps_http_escape(&body, a->secret, 0);
		h[0].name = "Content-Type";
		h[0].value = "application/x-www-form-urlencoded";
		h[1].name = "Accept";
		h[1].value = "application/json";
		rq.method = "POST";
		rq.headers = h;
		rq.nheaders = 2;
		rq.body_mem = body.data;
		rq.body_len = (int64_t)body.len;
	} else {
		int app = a->method == AZ_IDENTITY_ENDPOINT;

		ps_buf_adds(&url, a->endpoint);
		ps_buf_adds(&url, strchr(a->endpoint, '?') ? "&" : "?");
		ps_buf_adds(&url, app ? "api-version=2019-08-01" :
			    "api-version=2018-02-01");
		ps_buf_adds(&url, "&resource=");
		ps_http_escape(&url, resource, 0);
		if (a->client_id) {
			ps_buf_adds(&url, "&client_id=");
			ps_http_escape(&url, a->client_id, 0);
		}
		h[0].name = app ? "X-IDENTITY-HEADER" : "Metadata";
		h[0].value = app ? a->header : "true";
		rq.headers = h;
		rq.nheaders = 1;
	}
	rq.url = url.data;
	rc = ps_http_do(a->http, &rq, &rs, e);
	ps_crypto_wipe_buf(&body);
	if (rc == 0 && ps_http_status_error(&rs, "token request", e) < 0) {
		if (e && (rs.status == 400 || rs.status == 401 ||
			  rs.status == 403))
			e->code = PS_EX_CONFIG;
		rc = -1;
	}
	if (rc == 0) {
		rc = parse_token(a, resource, &rs, token, e);
		if (rc == 0)
			ps_log(PS_DEBUG, "azure token acquired",
			       PS_S("method", ps_azauth_method(a)),
			       PS_S("resource", resource));
	}
	ps_http_response_release(&rs);
	ps_buf_release(&url);
	return rc;
}

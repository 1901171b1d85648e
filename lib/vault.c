/* vault.c - see vault.h. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "azauth.h"
#include "base64.h"
#include "crypto.h"
#include "fsutil.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "vault.h"
#include "banned.h"

extern char **environ;

enum kind { V_ENV, V_FILE, V_AZURE };

struct ps_vault {
	enum kind kind;
	/* file: */
	char *path;
	unsigned char key[PS_GCM_KEY_LEN];
	/* azure: */
	char *base;		/* https://host[:port], no trailing '/' */
	char *api;
	const char *resource;	/* token audience, per cloud */
	char *ca;
	struct ps_http *http;
	struct ps_azauth *auth;
};

#define MAGIC "PSVK"
#define VERSION 1
/* Header: magic 4, version 1, zero 3, key check 8, IV 12 bytes. */
#define HDR_LEN 28
#define MAX_FILE (64 << 20)

/* --- names and values -------------------------------------------------- */

int ps_vault_check_name(const char *name, struct ps_error *e)
{
	size_t i, n = name ? strlen(name) : 0;

	if (n == 0 || n > 127)
		return ps_error_set(e, PS_EX_USAGE,
				    "secret name must be 1 to 127 characters");
	for (i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '-'))
			return ps_error_set(e, PS_EX_USAGE,
					    "invalid secret name (use A-Z a-z "
					    "0-9 and '-')");
	}
	return 0;
}

static int check_value(const char *value, size_t n, struct ps_error *e)
{
	if (n > PS_VAULT_MAX_VALUE)
		return ps_error_set(e, PS_EX_DATAERR,
				    "secret value over %d bytes",
				    PS_VAULT_MAX_VALUE);
	if (memchr(value, '\0', n) || ps_utf8_valid_prefix(value, n) != n)
		return ps_error_set(e, PS_EX_DATAERR,
				    "secret value must be UTF-8 text "
				    "without NUL bytes");
	return 0;
}

static int not_found(const char *name, struct ps_error *e)
{
	return ps_error_set(e, PS_EX_NOINPUT, "secret %s not found", name);
}

void ps_vault_names_free(char **names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* --- keys and permissions -------------------------------------------- */

/* Decode 32 key bytes from hex or base64 text (whitespace trimmed). */
static int decode_key(const char *s, size_t n, unsigned char *key)
{
	struct ps_buf b = PS_BUF_INIT;
	int ok;

	while (n > 0 && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	if (n == 2 * PS_GCM_KEY_LEN)
		ok = ps_hex_decode(&b, s, n) == 0;
	else
		ok = ps_base64_decode(&b, s, n) == 0;
	ok = ok && b.len == PS_GCM_KEY_LEN;
	if (ok)
		memcpy(key, b.data, PS_GCM_KEY_LEN);
	ps_crypto_wipe_buf(&b);
	return ok ? 0 : -1;
}

static int load_key(struct ps_vault *v, const char *key_file,
		    struct ps_error *e)
{
	const char *k = getenv("PS_VAULT_KEY");
	struct ps_buf b = PS_BUF_INIT;
	int rc;

	if (!key_file || !*key_file)
		key_file = getenv("PS_VAULT_KEY_FILE");
	if (key_file && *key_file) {
		rc = ps_file_private(key_file, "key file", e);
		if (rc == 1)
			return ps_error_set(e, PS_EX_CONFIG,
					    "key file %s does not exist",
					    key_file);
		if (rc < 0)
			return -1;
		rc = ps_read_file(key_file, &b, 4096, e);
		if (rc != 0) {
			ps_crypto_wipe_buf(&b);
			if (rc > 0)
				return ps_error_set(e, PS_EX_CONFIG,
						    "key file %s does not "
						    "exist", key_file);
			if (e)
				e->code = PS_EX_CONFIG;
			return -1;
		}
		if (b.len == PS_GCM_KEY_LEN) {
			memcpy(v->key, b.data, PS_GCM_KEY_LEN);
			rc = 0;
		} else {
			rc = decode_key(b.data, b.len, v->key);
		}
		ps_crypto_wipe_buf(&b);
		if (rc < 0)
			return ps_error_set(e, PS_EX_CONFIG,
					    "key file %s must hold 32 bytes "
					    "(raw, hex or base64)", key_file);
		return 0;
	}
	if (k && *k) {
		if (decode_key(k, strlen(k), v->key) < 0)
			return ps_error_set(e, PS_EX_CONFIG,
					    "PS_VAULT_KEY must be 32 bytes in "
					    "hex (64 digits) or base64");
		return 0;
	}
	return ps_error_set(e, PS_EX_CONFIG,
			    "file vault needs PS_VAULT_KEY or "
			    "PS_VAULT_KEY_FILE");
}

static void key_check(const unsigned char *key, unsigned char *out8)
{
	static const char label[] = "pulsestream vault key check";
	unsigned char mac[PS_SHA256_LEN];

	ps_crypto_hmac_sha256(key, PS_GCM_KEY_LEN, label, sizeof(label) - 1,
			      mac);
	memcpy(out8, mac, 8);
	ps_crypto_wipe(mac, sizeof(mac));
}

/*
 * The token audience for the vault's cloud, from its host name: Azure
 * China and US Government vaults live under their own domains; every
 * other host (public cloud, emulators) uses the public audience.
 */
static const char *vault_resource(const char *host)
{
	static const char *const clouds[][2] = {
		{ ".vault.azure.cn", "https://vault.azure.cn" },
		{ ".vault.usgovcloudapi.net",
		  "https://vault.usgovcloudapi.net" },
	};
	size_t i, n = strlen(host);

	for (i = 0; i < sizeof(clouds) / sizeof(clouds[0]); i++) {
		size_t k = strlen(clouds[i][0]);

		if (n > k && strcasecmp(host + n - k, clouds[i][0]) == 0)
			return clouds[i][1];
	}
	return PS_AZ_RESOURCE_VAULT;
}

/*
 * A Key Vault URL: https, a host, no query (lib/http's parse and
 * allowlist).  Returns 0 and fills *u, or -1 (e filled, 64).
 */
static int vault_url(const char *spec, struct ps_url *u, struct ps_error *e)
{
	if (ps_http_url_parse(spec, u, e) < 0)
		return -1;
	if (strcmp(u->scheme, "https") == 0 && !u->query)
		return 0;
	ps_http_url_release(u);
	return ps_error_set(e, PS_EX_USAGE, "a Key Vault URL is https:// "
			    "without a query (https://NAME.vault.azure.net)");
}

/* --- open / close ------------------------------------------------------ */

struct ps_vault *ps_vault_open(const char *spec,
			       const struct ps_vault_opts *o,
			       struct ps_error *e)
{
	static const struct ps_vault_opts none = PS_VAULT_OPTS_INIT;
	struct ps_vault *v;

	if (!o)
		o = &none;
	if (!spec || !*spec)
		spec = getenv("PS_VAULT");
	if (!spec || !*spec)
		spec = "env:";
	ps_crypto_protect_process();	/* keys, secret values, tokens */
	v = ps_xcalloc(1, sizeof(*v));
	if (strcmp(spec, "env:") == 0) {
		v->kind = V_ENV;
	} else if (strncmp(spec, "file:", 5) == 0 && spec[5]) {
		v->kind = V_FILE;
		v->path = ps_xstrdup(spec + 5);
		if (load_key(v, o->key_file, e) < 0) {
			ps_vault_close(v);
			return NULL;
		}
	} else if (strncmp(spec, "https://", 8) == 0) {
		struct ps_url u;
		size_t n = strlen(spec);

		if (vault_url(spec, &u, e) < 0) {
			ps_vault_close(v);
			return NULL;
		}
		v->kind = V_AZURE;
		while (n > 8 && spec[n - 1] == '/')
			n--;
		v->base = ps_xmemdup(spec, n);
		v->resource = vault_resource(u.host);
		ps_http_url_release(&u);
		v->api = ps_xstrdup(o->api_version && *o->api_version ?
				    o->api_version : PS_VAULT_DEFAULT_API);
		v->ca = o->ca_bundle ? ps_xstrdup(o->ca_bundle) : NULL;
	} else {
		ps_error_set(e, PS_EX_USAGE,
			     "unknown vault '%s' (use env:, file:PATH or "
			     "https://NAME.vault.azure.net)", spec);
		ps_vault_close(v);
		return NULL;
	}
	return v;
}

void ps_vault_close(struct ps_vault *v)
{
	if (!v)
		return;
	ps_crypto_wipe(v->key, sizeof(v->key));
	free(v->path);
	free(v->base);
	free(v->api);
	free(v->ca);
	ps_azauth_free(v->auth);
	ps_http_free(v->http);
	free(v);
}

const char *ps_vault_kind(const struct ps_vault *v)
{
	return v->kind == V_ENV ? "env" : v->kind == V_FILE ? "file" : "azure";
}

/* --- env: ------------------------------------------------------------ */

static char *env_name(const char *name)
{
	struct ps_buf b = PS_BUF_INIT;

	ps_buf_adds(&b, "PS_SECRET_");
	for (; *name; name++)
		ps_buf_addc(&b, *name == '-' ? '_' :
			    (char)toupper((unsigned char)*name));
	return ps_buf_detach(&b, NULL);
}

static int env_get(const char *name, struct ps_buf *value,
		   struct ps_error *e)
{
	char *var = env_name(name);
	const char *s = getenv(var);

	free(var);
	if (!s)
		return not_found(name, e);
	ps_buf_adds(value, s);
	return 0;
}

static int env_list(char ***names, size_t *n)
{
	char **env;
	size_t cap = 0;

	*names = NULL;
	*n = 0;
	for (env = environ; env && *env; env++) {
		const char *s = *env, *eq = strchr(s, '=');
		struct ps_buf b = PS_BUF_INIT;
		const char *p;

		if (strncmp(s, "PS_SECRET_", 10) != 0 || !eq || eq == s + 10)
			continue;
		for (p = s + 10; p < eq; p++)
			ps_buf_addc(&b, *p == '_' ? '-' :
				    (char)tolower((unsigned char)*p));
		if (ps_vault_check_name(b.data, NULL) < 0) {
			ps_buf_release(&b);
			continue;
		}
		if (*n == cap) {
			cap = cap ? 2 * cap : 8;
			*names = ps_xrealloc(*names, cap * sizeof(**names));
		}
		(*names)[(*n)++] = ps_buf_detach(&b, NULL);
	}
	return 0;
}

/* --- file: ----------------------------------------------------------- */

struct entries {
	char **names;
	char **vals;
	size_t *lens;
	size_t n, cap;
};

static void entries_free(struct entries *t)
{
	size_t i;

	for (i = 0; i < t->n; i++) {
		free(t->names[i]);
		ps_crypto_wipe(t->vals[i], t->lens[i]);
		free(t->vals[i]);
	}
	free(t->names);
	free(t->vals);
	free(t->lens);
	memset(t, 0, sizeof(*t));
}

static long entries_find(const struct entries *t, const char *name)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (strcmp(t->names[i], name) == 0)
			return (long)i;
	return -1;
}

static void entries_set(struct entries *t, const char *name, const char *val,
			size_t n)
{
	long i = entries_find(t, name);

	if (i >= 0) {
		ps_crypto_wipe(t->vals[i], t->lens[i]);
		free(t->vals[i]);
	} else {
		if (t->n == t->cap) {
			t->cap = t->cap ? 2 * t->cap : 8;
			t->names = ps_xrealloc(t->names,
					       t->cap * sizeof(*t->names));
			t->vals = ps_xrealloc(t->vals,
					      t->cap * sizeof(*t->vals));
			t->lens = ps_xrealloc(t->lens,
					      t->cap * sizeof(*t->lens));
		}
		i = (long)t->n++;
		t->names[i] = ps_xstrdup(name);
	}
	t->vals[i] = ps_xmemdup(val, n);
	t->lens[i] = n;
}

/* Wipe every string in a parsed tree before it is freed. */
static void wipe_tree(yajl_val v)
{
	size_t i;

	if (YAJL_IS_STRING(v)) {
		ps_crypto_wipe(v->u.string, strlen(v->u.string));
	} else if (YAJL_IS_OBJECT(v)) {
		for (i = 0; i < v->u.object.len; i++)
			wipe_tree(v->u.object.values[i]);
	} else if (YAJL_IS_ARRAY(v)) {
		for (i = 0; i < v->u.array.len; i++)
			wipe_tree(v->u.array.values[i]);
	}
}

/* Read and decrypt the vault file into t; a missing file is empty. */
static int file_load(struct ps_vault *v, struct entries *t,
		     struct ps_error *e)
{
	struct ps_buf raw = PS_BUF_INIT;
	unsigned char check[8], *p;
	size_t n, i;
	yajl_val tree;
	int rc;

	rc = ps_file_private(v->path, "vault file", e);
	if (rc == 1)
		return 0;
	if (rc < 0)
		return -1;
	rc = ps_read_file(v->path, &raw, MAX_FILE, e);
	if (rc == 1) {
		ps_buf_release(&raw);
		return 0;
	}
	if (rc < 0) {
		ps_buf_release(&raw);
		return -1;
	}
	p = (unsigned char *)raw.data;
	if (raw.len < HDR_LEN + PS_GCM_TAG_LEN || memcmp(p, MAGIC, 4) != 0) {
		ps_buf_release(&raw);
		return ps_error_set(e, PS_EX_DATAERR,
				    "%s is not a PulseStream vault", v->path);
	}
	if (p[4] != VERSION || p[5] || p[6] || p[7]) {
		int version = p[4];

		ps_buf_release(&raw);
		return ps_error_set(e, PS_EX_DATAERR,
				    "%s: unsupported vault version %d",
				    v->path, version);
	}
	key_check(v->key, check);
	if (!ps_crypto_equal(check, p + 8, 8)) {
		ps_buf_release(&raw);
		return ps_error_set(e, PS_EX_CONFIG,
				    "wrong key for vault %s", v->path);
	}
	n = raw.len - HDR_LEN - PS_GCM_TAG_LEN;
	if (ps_crypto_gcm_open(v->key, p + 16, p, HDR_LEN, p + HDR_LEN, n,
			       p + HDR_LEN, p + raw.len - PS_GCM_TAG_LEN,
			       e) < 0) {
		ps_crypto_wipe_buf(&raw);
		return ps_error_set(e, PS_EX_DATAERR,
				    "vault %s was altered (authentication "
				    "failed)", v->path);
	}
	tree = ps_json_parse(raw.data + HDR_LEN, n, NULL, 0);
	ps_crypto_wipe_buf(&raw);
	if (!YAJL_IS_OBJECT(tree)) {
		if (tree) {
			wipe_tree(tree);
			yajl_tree_free(tree);
		}
		return ps_error_set(e, PS_EX_DATAERR,
				    "vault %s holds malformed data", v->path);
	}
	for (i = 0; i < tree->u.object.len; i++) {
		yajl_val val = tree->u.object.values[i];

		if (YAJL_IS_STRING(val))
			entries_set(t, tree->u.object.keys[i],
				    val->u.string, strlen(val->u.string));
	}
	wipe_tree(tree);
	yajl_tree_free(tree);
	return 0;
}

/* Encrypt t and replace the vault file atomically. */
static int file_store(struct ps_vault *v, const struct entries *t,
		      struct ps_error *e)
{
	struct ps_buf b = PS_BUF_INIT;
	unsigned char *hdr;
	size_t i, ptlen;
	int first = 1, rc;

	ps_buf_grow(&b, HDR_LEN);
	b.len = HDR_LEN;
	hdr = (unsigned char *)b.data;
	memcpy(hdr, MAGIC, 4);
	hdr[4] = VERSION;
	hdr[5] = hdr[6] = hdr[7] = 0;
	key_check(v->key, hdr + 8);
	if (ps_crypto_random(hdr + 16, PS_GCM_IV_LEN, e) < 0) {
		ps_buf_release(&b);
		return -1;
	}
	ps_buf_addc(&b, '{');
	for (i = 0; i < t->n; i++) {
		if (!first)
			ps_buf_addc(&b, ',');
		first = 0;
		ps_json_add_str(&b, t->names[i], strlen(t->names[i]));
		ps_buf_addc(&b, ':');
		ps_json_add_str(&b, t->vals[i], t->lens[i]);
	}
	ps_buf_addc(&b, '}');
	ptlen = b.len - HDR_LEN;
	ps_buf_grow(&b, PS_GCM_TAG_LEN);
	hdr = (unsigned char *)b.data;
	if (ps_crypto_gcm_seal(v->key, hdr + 16, hdr, HDR_LEN, hdr + HDR_LEN,
			       ptlen, hdr + HDR_LEN, hdr + HDR_LEN + ptlen,
			       e) < 0) {
		ps_crypto_wipe_buf(&b);
		return -1;
	}
	b.len += PS_GCM_TAG_LEN;
	rc = ps_write_file_atomic(v->path, b.data, b.len, 0600, e);
	ps_crypto_wipe_buf(&b);
	return rc;
}

/* Take the lock beside the vault file; returns the fd or -1. */
static int file_lock(struct ps_vault *v, struct ps_error *e)
{
	const char *slash = strrchr(v->path, '/');
	struct ps_buf b = PS_BUF_INIT;
	int fd;

	if (slash)
		ps_buf_add(&b, v->path, (size_t)(slash - v->path + 1));
	ps_buf_addf(&b, ".%s.lock", slash ? slash + 1 : v->path);
	if (slash) {
		char *dir = ps_xmemdup(v->path, (size_t)(slash - v->path));

		if (*dir && ps_mkdir_p(dir, 0700, e) < 0) {
			free(dir);
			ps_buf_release(&b);
			return -1;
		}
		free(dir);
	}
	fd = open(b.data, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		ps_error_errno(e, PS_EX_CANTCREAT, errno,
			       "cannot create lock file %s", b.data);
		ps_buf_release(&b);
		return -1;
	}
	ps_buf_release(&b);
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			ps_error_errno(e, PS_EX_IOERR, errno,
				       "cannot lock vault %s", v->path);
			close(fd);
			return -1;
		}
	}
	return fd;
}

/* --- azure ----------------------------------------------------------- */


static int az_start(struct ps_vault *v, struct ps_error *e)
{
	struct ps_http_opts o = PS_HTTP_OPTS_INIT;

	if (v->http)
		return 0;
	o.ca_bundle = v->ca;
	o.max_body = 8 << 20;
	v->http = ps_http_new(&o, e);
	if (!v->http)
		return -1;
	v->auth = ps_azauth_new(v->http, e);
	return v->auth ? 0 : -1;
}

/* One authenticated request; a 401 gets one retry with a fresh token. */
static int az_request(struct ps_vault *v, const char *method,
		      const char *url, const struct ps_buf *body,
		      struct ps_http_response *rs, struct ps_error *e)
{
	struct ps_http_request rq = PS_HTTP_REQUEST_INIT;
	struct ps_http_header h[3];
	struct ps_buf auth = PS_BUF_INIT;
	const char *token;
	int tries, rc = -1;

	if (az_start(v, e) < 0)
		return -1;
	for (tries = 0; tries < 2; tries++) {
		if (ps_azauth_token(v->auth, v->resource, &token, e) < 0)
			break;
		ps_crypto_wipe_buf(&auth);
		ps_buf_adds(&auth, "Bearer ");
		ps_buf_adds(&auth, token);
		h[0].name = "Authorization";
		h[0].value = auth.data;
		h[1].name = "Accept";
		h[1].value = "application/json";
		h[2].name = "Content-Type";
		h[2].value = "application/json";
		rq.method = method;
		rq.url = url;
		rq.headers = h;
		rq.nheaders = body ? 3 : 2;
		rq.body_mem = body ? body->data : NULL;
		rq.body_len = body ? (int64_t)body->len : 0;
		ps_http_response_release(rs);
		rc = ps_http_do(v->http, &rq, rs, e);
		if (rc < 0 || rs->status != 401)
			break;
		ps_azauth_invalidate(v->auth);
	}
	ps_crypto_wipe_buf(&auth);
	return rc;
}

static char *az_secret_url(struct ps_vault *v, const char *name)
{
	struct ps_buf b = PS_BUF_INIT;

	ps_buf_adds(&b, v->base);
	ps_buf_adds(&b, "/secrets");
	if (name) {
		ps_buf_addc(&b, '/');
		ps_buf_adds(&b, name);	/* checked: [A-Za-z0-9-] only */
	}
	ps_buf_adds(&b, "?api-version=");
	ps_http_escape(&b, v->api, 0);
	return ps_buf_detach(&b, NULL);
}

static int az_status(struct ps_http_response *rs, const char *what,
		     const char *name, struct ps_error *e)
{
	if (rs->status == 404)
		return not_found(name, e);
	return ps_http_status_error(rs, what, e);
}

static int az_get(struct ps_vault *v, const char *name, struct ps_buf *value,
		  struct ps_error *e)
{
	struct ps_http_response rs = PS_HTTP_RESPONSE_INIT;
	char *url = az_secret_url(v, name);
	yajl_val t, val;
	int rc;

	rc = az_request(v, "GET", url, NULL, &rs, e);
	free(url);
	if (rc == 0)
		rc = az_status(&rs, "Key Vault get secret", name, e);
	if (rc == 0) {
		t = ps_json_parse(rs.body.data, rs.body.len, NULL, 0);
		val = t ? ps_json_get(t, "value") : NULL;
		if (YAJL_IS_STRING(val))
			ps_buf_adds(value, YAJL_GET_STRING(val));
		else
			rc = ps_error_set(e, PS_EX_DATAERR,
					  "Key Vault answer for %s holds no "
					  "value", name);
		if (t) {
			wipe_tree(t);
			yajl_tree_free(t);
		}
	}
	ps_http_response_release(&rs);
	return rc;
}

static int az_put(struct ps_vault *v, const char *name, const char *value,
		  size_t n, struct ps_error *e)
{
	struct ps_http_response rs = PS_HTTP_RESPONSE_INIT;
	struct ps_buf body = PS_BUF_INIT;
	char *url = az_secret_url(v, name);
	int rc;

	ps_buf_adds(&body, "{\"value\":");
	ps_json_add_str(&body, value, n);
	ps_buf_adds(&body, ",\"contentType\":\"text/plain\"}");
	rc = az_request(v, "PUT", url, &body, &rs, e);
	ps_crypto_wipe_buf(&body);
	free(url);
	if (rc == 0)
		rc = ps_http_status_error(&rs, "Key Vault set secret", e);
	ps_http_response_release(&rs);
	return rc;
}

static int az_rm(struct ps_vault *v, const char *name, struct ps_error *e)
{
	struct ps_http_response rs = PS_HTTP_RESPONSE_INIT;
	char *url = az_secret_url(v, name);
	int rc;

	rc = az_request(v, "DELETE", url, NULL, &rs, e);
	free(url);
	if (rc == 0)
		rc = az_status(&rs, "Key Vault delete secret", name, e);
	ps_http_response_release(&rs);
	return rc;
}

/* The secret name in an id "https://host/secrets/NAME[/VERSION]". */
static char *name_from_id(const char *id)
{
	const char *s = strstr(id, "/secrets/"), *end;

	if (!s)
		return NULL;
	s += 9;
	end = s + strcspn(s, "/?");
	return end > s ? ps_xmemdup(s, (size_t)(end - s)) : NULL;
}

static int az_list(struct ps_vault *v, char ***names, size_t *n,
		   struct ps_error *e)
{
	struct ps_http_response rs = PS_HTTP_RESPONSE_INIT;
	char *url = az_secret_url(v, NULL);
	size_t cap = 0, pages = 0, blen = strlen(v->base);
	int rc = 0;

	*names = NULL;
	*n = 0;
	while (url && rc == 0) {
		yajl_val t, arr, next;
		size_t i;

		if (++pages > 100000) {
			rc = ps_error_set(e, PS_EX_DATAERR,
					  "Key Vault list does not end");
			break;
		}
		rc = az_request(v, "GET", url, NULL, &rs, e);
		free(url);
		url = NULL;
		if (rc == 0)
			rc = ps_http_status_error(&rs, "Key Vault list "
						  "secrets", e);
		if (rc < 0)
			break;
		t = ps_json_parse(rs.body.data, rs.body.len, NULL, 0);
		arr = t ? ps_json_get(t, "value") : NULL;
		if (!YAJL_IS_ARRAY(arr)) {
			if (t)
				yajl_tree_free(t);
			rc = ps_error_set(e, PS_EX_DATAERR,
					  "Key Vault list answer holds no "
					  "value array");
			break;
		}
		for (i = 0; i < arr->u.array.len; i++) {
			yajl_val id = ps_json_get(arr->u.array.values[i],
						  "id");
			char *nm;

			if (!YAJL_IS_STRING(id) ||
			    !(nm = name_from_id(YAJL_GET_STRING(id))))
				continue;
			if (*n == cap) {
				cap = cap ? 2 * cap : 16;
				*names = ps_xrealloc(*names,
						     cap * sizeof(**names));
			}
			(*names)[(*n)++] = nm;
		}
		next = ps_json_get(t, "nextLink");
		if (YAJL_IS_STRING(next) && *YAJL_GET_STRING(next)) {
			const char *nl = YAJL_GET_STRING(next);

			/* Never send the token anywhere but the vault. */
			if (strncmp(nl, v->base, blen) != 0 ||
			    nl[blen] != '/' ||
			    !ps_http_same_origin(nl, v->base))
				rc = ps_error_set(e, PS_EX_DATAERR,
						  "Key Vault nextLink points "
						  "outside the vault");
			else
				url = ps_xstrdup(nl);
		}
		yajl_tree_free(t);
	}
	free(url);
	ps_http_response_release(&rs);
	if (rc < 0) {
		ps_vault_names_free(*names, *n);
		*names = NULL;
		*n = 0;
	}
	return rc;
}

/* --- the public operations --------------------------------------------- */

int ps_vault_get(struct ps_vault *v, const char *name, struct ps_buf *value,
		 struct ps_error *e)
{
	struct entries t = { 0 };
	long i;
	int rc;

	if (ps_vault_check_name(name, e) < 0)
		return -1;
	switch (v->kind) {
	case V_ENV:
		return env_get(name, value, e);
	case V_AZURE:
		return az_get(v, name, value, e);
	case V_FILE:
		break;
	}
	rc = file_load(v, &t, e);
	if (rc == 0) {
		i = entries_find(&t, name);
		if (i < 0)
			rc = not_found(name, e);
		else
			ps_buf_add(value, t.vals[i], t.lens[i]);
	}
	entries_free(&t);
	return rc;
}

/* Read-modify-write of the file vault under its lock. */
static int file_update(struct ps_vault *v, const char *name,
		       const char *value, size_t n, struct ps_error *e)
{
	struct entries t = { 0 };
	int fd, rc;
	long i;

	fd = file_lock(v, e);
	if (fd < 0)
		return -1;
	rc = file_load(v, &t, e);
	if (rc == 0 && value) {
		entries_set(&t, name, value, n);
	} else if (rc == 0) {
		i = entries_find(&t, name);
		if (i < 0) {
			rc = not_found(name, e);
		} else {
			free(t.names[i]);
			ps_crypto_wipe(t.vals[i], t.lens[i]);
			free(t.vals[i]);
			t.n--;
			t.names[i] = t.names[t.n];
			t.vals[i] = t.vals[t.n];
			t.lens[i] = t.lens[t.n];
		}
	}
	if (rc == 0)
		rc = file_store(v, &t, e);
	entries_free(&t);
	close(fd);
	return rc;
}

int ps_vault_put(struct ps_vault *v, const char *name, const char *value,
		 size_t n, struct ps_error *e)
{
	if (ps_vault_check_name(name, e) < 0 || check_value(value, n, e) < 0)
		return -1;
	switch (v->kind) {
	case V_ENV:
		return ps_error_set(e, PS_EX_CONFIG,
				    "the env: vault is read-only (set "
				    "PS_SECRET_* variables instead)");
	case V_AZURE:
		return az_put(v, name, value, n, e);
	case V_FILE:
		break;
	}
	return file_update(v, name, value, n, e);
}

int ps_vault_rm(struct ps_vault *v, const char *name, struct ps_error *e)
{
	if (ps_vault_check_name(name, e) < 0)
		return -1;
	switch (v->kind) {
	case V_ENV:
		return ps_error_set(e, PS_EX_CONFIG,
				    "the env: vault is read-only (unset "
				    "PS_SECRET_* variables instead)");
	case V_AZURE:
		return az_rm(v, name, e);
	case V_FILE:
		break;
	}
	return file_update(v, name, NULL, 0, e);
}

int ps_vault_list(struct ps_vault *v, char ***names, size_t *n,
		  struct ps_error *e)
{
	struct entries t = { 0 };
	int rc = 0;
	size_t i;

	*names = NULL;
	*n = 0;
	switch (v->kind) {
	case V_ENV:
		rc = env_list(names, n);
		break;
	case V_AZURE:
		rc = az_list(v, names, n, e);
		break;
	case V_FILE:
		rc = file_load(v, &t, e);
		if (rc == 0 && t.n) {
			*names = ps_xcalloc(t.n, sizeof(**names));
			for (i = 0; i < t.n; i++)
				(*names)[i] = ps_xstrdup(t.names[i]);
			*n = t.n;
		}
		entries_free(&t);
		break;
	}
	if (rc == 0 && *n > 1)
		qsort(*names, *n, sizeof(**names), cmp_str);
	return rc;
}

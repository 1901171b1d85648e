/* azblob.c - see azblob.h. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "azblob.h"
#include "json.h"
#include "base64.h"
#include "crypto.h"
#include "pstime.h"
#include "banned.h"

struct ps_azblob {
	char *base;		/* scheme://host[:port] */
	char *path0;		/* "/ACCOUNT" in path style, else "" */
	char *account;
	char *container;
	char *prefix;		/* "" or "a/b" (no slash at either end) */
	enum ps_azblob_auth auth;
	struct ps_buf key;	/* decoded account key */
	char *sas;		/* token without '?' */
	ps_azblob_token_fn token_fn;
	void *token_ctx;
	struct ps_buf token;
};

static int valid_container(const char *s, size_t n)
{
	size_t i;

	if (n < 3 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return 0;
	for (i = 0; i < n; i++) {
		if (!(islower((unsigned char)s[i]) ||
		      isdigit((unsigned char)s[i]) || s[i] == '-'))
			return 0;
		if (s[i] == '-' && i + 1 < n && s[i + 1] == '-')
			return 0;
	}
	return 1;
}

static int path_style_host(const char *h, size_t n)
{
	size_t i;

	if (n && h[0] == '[')
		return 1;
	if (n == 9 && !memcmp(h, "localhost", 9))
		return 1;
	for (i = 0; i < n; i++)
		if (!isdigit((unsigned char)h[i]) && h[i] != '.')
			return 0;
	return n > 0;
}

/* Next path segment of *p (skipping '/'): start in *s, length returned. */
static size_t segment(const char **p, const char **s)
{
	const char *q = *p;
	size_t n;

	while (*q == '/')
		q++;
	*s = q;
	n = strcspn(q, "/");
	*p = q + n;
	return n;
}

static int parse_url(struct ps_azblob *az, const char *url, const char *acct,
		     struct ps_error *e)
{
	struct ps_url u;
	struct ps_buf base = PS_BUF_INIT;
	const char *p, *seg;
	size_t sn, pn;

	if (strchr(url, '?') || strchr(url, '#'))
		return ps_error_set(e, 78, "the target URL must not carry a "
				    "query: give a SAS with --sas or "
				    "PS_BLOB_SAS");
	/* The one URL parse and allowlist of lib/http (compares hosts). */
	if (ps_http_url_parse(url, &u, e) < 0 ||
	    ps_http_url_check(url, e) < 0) {
		ps_http_url_release(&u);
		e->code = 78;
		return -1;
	}
	ps_buf_addf(&base, "%s://%s", u.scheme, u.host);
	if (u.port)
		ps_buf_addf(&base, ":%s", u.port);
	az->base = ps_buf_detach(&base, NULL);
	p = u.path;
	if (path_style_host(u.host, strlen(u.host))) {
		sn = segment(&p, &seg);
		if (!sn) {
			ps_http_url_release(&u);
			return ps_error_set(e, 78, "target URL lacks the "
					    "account: http://HOST:PORT/"
					    "ACCOUNT/CONTAINER");
		}
		az->account = ps_xmemdup(seg, sn);
		az->path0 = ps_xmalloc(sn + 2);
		az->path0[0] = '/';
		memcpy(az->path0 + 1, seg, sn);
		az->path0[sn + 1] = '\0';
	} else {
		az->account = ps_xmemdup(u.host, strcspn(u.host, "."));
		az->path0 = ps_xstrdup("");
	}
	if (acct && *acct) {
		free(az->account);
		az->account = ps_xstrdup(acct);
	}
	if (!*az->account) {
		ps_http_url_release(&u);
		return ps_error_set(e, 78, "no storage account in the target "
				    "URL");
	}
	sn = segment(&p, &seg);
	if (!valid_container(seg, sn)) {
		ps_http_url_release(&u);
		return ps_error_set(e, 78, "target URL lacks a valid "
				    "container name (3-63 of a-z 0-9 -)");
	}
	az->container = ps_xmemdup(seg, sn);
	while (*p == '/')
		p++;
	pn = strlen(p);
	while (pn && p[pn - 1] == '/')
		pn--;
	az->prefix = ps_xmemdup(p, pn);
	ps_http_url_release(&u);
	return 0;
}

struct ps_azblob *ps_azblob_new(const struct ps_azblob_opts *o,
				struct ps_error *e)
{
	struct ps_azblob *az = ps_xcalloc(1, sizeof(*az));

	az->auth = o->auth;
	if (!o->url || parse_url(az, o->url, o->account, e))
		goto fail;
	switch (o->auth) {
	case PS_AZBLOB_AUTH_SHAREDKEY:
		if (!o->key || !*o->key) {
			ps_error_set(e, 78, "SharedKey needs an account key");
			goto fail;
		}
		if (ps_base64_decode(&az->key, o->key, strlen(o->key)) ||
		    !az->key.len) {
			ps_error_set(e, 78, "the account key is not valid "
				     "base64");
			goto fail;
		}
		break;
	case PS_AZBLOB_AUTH_SAS:
		if (!o->sas || !*o->sas || !strcmp(o->sas, "?")) {
			ps_error_set(e, 78, "SAS authorization needs a token");
			goto fail;
		}
		az->sas = ps_xstrdup(o->sas[0] == '?' ? o->sas + 1 : o->sas);
		if (strchr(az->sas, '#') || strchr(az->sas, ' ') ||
		    !strstr(az->sas, "sig=")) {
			ps_error_set(e, 78, "the SAS token is malformed "
				     "(no sig= parameter)");
			goto fail;
		}
		break;
	case PS_AZBLOB_AUTH_BEARER:
		if (!o->token_fn) {
			ps_error_set(e, 70, "bearer authorization without a "
				     "token source");
			goto fail;
		}
		az->token_fn = o->token_fn;
		az->token_ctx = o->token_ctx;
		break;
	default:
		ps_error_set(e, 70, "unknown authorization mode");
		goto fail;
	}
	return az;
fail:
	ps_azblob_free(az);
	return NULL;
}

void ps_azblob_free(struct ps_azblob *az)
{
	if (!az)
		return;
	free(az->base);
	free(az->path0);
	free(az->account);
	free(az->container);
	free(az->prefix);
	ps_crypto_wipe_buf(&az->key);
	ps_crypto_free_str(az->sas);
	ps_crypto_wipe_buf(&az->token);
	free(az);
}

const char *ps_azblob_account(const struct ps_azblob *az)
{
	return az->account;
}

const char *ps_azblob_container(const struct ps_azblob *az)
{
	return az->container;
}

void ps_azblob_describe(const struct ps_azblob *az, struct ps_buf *b)
{
	ps_buf_addf(b, "%s%s/%s%s%s", az->base, az->path0, az->container,
		    *az->prefix ? "/" : "", az->prefix);
}

void ps_azblob_blob_name(const struct ps_azblob *az, const char *rel,
			 struct ps_buf *b)
{
	if (*az->prefix) {
		ps_buf_adds(b, az->prefix);
		ps_buf_addc(b, '/');
	}
	ps_buf_adds(b, rel);
}

void ps_azblob_req_release(struct ps_azblob_req *r)
{
	int i;

	if (!r)
		return;
	for (i = 0; i < r->nown; i++)
		ps_crypto_free_str(r->own[i]);
	*r = (struct ps_azblob_req)PS_AZBLOB_REQ_INIT;
}

/* r takes ownership of s; returns s. */
static char *own(struct ps_azblob_req *r, char *s)
{
	if (r->nown >= (int)(sizeof(r->own) / sizeof(r->own[0])))
		abort();	/* a builder bug, not a run-time condition */
	r->own[r->nown++] = s;
	return s;
}

static void add_hdr(struct ps_azblob_req *r, const char *name,
		    const char *value)
{
	size_t n = r->rq.nheaders;

	if (n >= PS_AZBLOB_MAX_HEADERS)
		abort();	/* a builder bug */
	r->hdr[n].name = name;
	r->hdr[n].value = own(r, ps_xstrdup(value));
	r->rq.nheaders = n + 1;
	r->rq.headers = r->hdr;
}

void ps_azblob_http_date(int64_t us, char out[30])
{
	static const char wd[7][4] = { "Thu", "Fri", "Sat", "Sun", "Mon",
				       "Tue", "Wed" };
	static const char mon[12][4] = { "Jan", "Feb", "Mar", "Apr", "May",
					 "Jun", "Jul", "Aug", "Sep", "Oct",
					 "Nov", "Dec" };
	int64_t s = us / PS_USEC_PER_SEC, days, y, rem;
	unsigned m, d;

	if (us % PS_USEC_PER_SEC < 0)
		s--;
	days = s / 86400;
	rem = s % 86400;
	if (rem < 0) {
		rem += 86400;
		days--;
	}
	ps_civil_from_days(days, &y, &m, &d);
	snprintf(out, 30, "%s, %02u %s %04d %02d:%02d:%02d GMT",
		 wd[((days % 7) + 7) % 7], d, mon[m - 1], (int)y,
		 (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60));
}

/* Append the percent-decoding of s (n bytes) to b. */
static void url_decode(struct ps_buf *b, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		int h, l;

		if (s[i] == '%' && i + 2 < n &&
		    (h = ps_hexval((unsigned char)s[i + 1])) >= 0 &&
		    (l = ps_hexval((unsigned char)s[i + 2])) >= 0) {
			ps_buf_addc(b, (char)(h << 4 | l));
			i += 2;
		} else {
			ps_buf_addc(b, s[i]);
		}
	}
}

static const char *find_hdr(const struct ps_http_header *h, size_t nh,
			    const char *name)
{
	size_t i;

	for (i = 0; i < nh; i++)
		if (!strcasecmp(h[i].name, name))
			return h[i].value;
	return NULL;
}

struct kv {
	char *k;
	char *v;
};

static int kv_cmp(const void *a, const void *b)
{
	const struct kv *x = a, *y = b;
	int c = strcmp(x->k, y->k);

	return c ? c : strcmp(x->v, y->v);
}

/* Trim leading and trailing white space; unfold inner runs to one space. */
static void add_trimmed(struct ps_buf *b, const char *v)
{
	int space = 0;

	while (*v == ' ' || *v == '\t')
		v++;
	for (; *v; v++) {
		if (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n') {
			space = 1;
			continue;
		}
		if (space)
			ps_buf_addc(b, ' ');
		space = 0;
		ps_buf_addc(b, *v);
	}
}

void ps_azblob_string_to_sign(const char *account, const char *method,
			      const char *url, const struct ps_http_header *h,
			      size_t nh, int64_t body_len,
			      struct ps_buf *out)
{
	static const char *const std[] = {
		"Content-Encoding", "Content-Language", NULL /* length */,
		"Content-MD5", "Content-Type", "Date", "If-Modified-Since",
		"If-Match", "If-None-Match", "If-Unmodified-Since", "Range",
	};
	const struct ps_http_header *xs[PS_AZBLOB_MAX_HEADERS * 2];
	struct kv *q = NULL;
	size_t nx = 0, nq = 0, i, j;
	const char *path, *query, *s;

	ps_buf_adds(out, method);
	ps_buf_addc(out, '\n');
	for (i = 0; i < sizeof(std) / sizeof(std[0]); i++) {
		if (!std[i]) {
			if (body_len > 0)
				ps_buf_add_i64(out, body_len);
		} else if ((s = find_hdr(h, nh, std[i]))) {
			ps_buf_adds(out, s);
		}
		ps_buf_addc(out, '\n');
	}
	/* Canonicalized headers: x-ms-*, lower-case names, sorted. */
	for (i = 0; i < nh && nx < sizeof(xs) / sizeof(xs[0]); i++)
		if (!strncasecmp(h[i].name, "x-ms-", 5))
			xs[nx++] = &h[i];
	for (i = 1; i < nx; i++)
		for (j = i; j > 0 && strcasecmp(xs[j - 1]->name,
						xs[j]->name) > 0; j--) {
			const struct ps_http_header *t = xs[j];

			xs[j] = xs[j - 1];
			xs[j - 1] = t;
		}
	for (i = 0; i < nx; i++) {
		for (s = xs[i]->name; *s; s++)
			ps_buf_addc(out, (char)tolower((unsigned char)*s));
		ps_buf_addc(out, ':');
		add_trimmed(out, xs[i]->value);
		ps_buf_addc(out, '\n');
	}
	/* Canonicalized resource: /account + encoded path + query. */
	s = strstr(url, "://");
	s = s ? s + 3 : url;
	path = s + strcspn(s, "/?");
	query = strchr(path, '?');
	ps_buf_addc(out, '/');
	ps_buf_adds(out, account);
	if (*path != '/')
		ps_buf_addc(out, '/');
	ps_buf_add(out, path, query ? (size_t)(query - path) : strlen(path));
	if (!query)
		return;
	for (s = query + 1; *s;) {
		size_t n = strcspn(s, "&"), kn = strcspn(s, "=");
		struct ps_buf k = PS_BUF_INIT, v = PS_BUF_INIT;

		if (kn > n)
			kn = n;
		if (n) {
			url_decode(&k, s, kn);
			for (j = 0; j < k.len; j++)
				k.data[j] = (char)tolower(
					(unsigned char)k.data[j]);
			if (kn < n)
				url_decode(&v, s + kn + 1, n - kn - 1);
			q = ps_xrealloc(q, (nq + 1) * sizeof(*q));
			q[nq].k = k.data ? ps_buf_detach(&k, NULL) :
					   ps_xstrdup("");
			q[nq].v = v.data ? ps_buf_detach(&v, NULL) :
					   ps_xstrdup("");
			nq++;
		}
		s += n;
		if (*s == '&')
			s++;
	}
	if (nq > 1)
		qsort(q, nq, sizeof(*q), kv_cmp);
	for (i = 0; i < nq; i++) {
		if (i && !strcmp(q[i].k, q[i - 1].k)) {
			ps_buf_addc(out, ',');
		} else {
			ps_buf_addc(out, '\n');
			ps_buf_adds(out, q[i].k);
			ps_buf_addc(out, ':');
		}
		ps_buf_adds(out, q[i].v);
	}
	for (i = 0; i < nq; i++) {
		free(q[i].k);
		free(q[i].v);
	}
	free(q);
}

/*
 * Start r: method, URL for blob name (NULL: the container) with query
 * (NULL or "comp=block&..."), plus x-ms-date and x-ms-version.
 */
static void begin(struct ps_azblob *az, struct ps_azblob_req *r,
		  const char *method, const char *name, const char *query)
{
	struct ps_buf u = PS_BUF_INIT;
	char date[30];

	*r = (struct ps_azblob_req)PS_AZBLOB_REQ_INIT;
	r->rq.method = method;
	ps_buf_adds(&u, az->base);
	ps_buf_adds(&u, az->path0);
	ps_buf_addc(&u, '/');
	ps_buf_adds(&u, az->container);
	if (name) {
		ps_buf_addc(&u, '/');
		ps_http_escape(&u, name, 1);
	}
	if (query) {
		ps_buf_addc(&u, '?');
		ps_buf_adds(&u, query);
	}
	r->rq.url = own(r, ps_buf_detach(&u, NULL));
	ps_azblob_http_date(ps_time_now(), date);
	add_hdr(r, "x-ms-date", date);
	add_hdr(r, "x-ms-version", PS_AZBLOB_VERSION);
}

/* Add the authorization once every other header and the body are set. */
static int finish(struct ps_azblob *az, struct ps_azblob_req *r,
		  struct ps_error *e)
{
	struct ps_buf s = PS_BUF_INIT, v = PS_BUF_INIT;
	unsigned char mac[PS_SHA256_LEN];

	switch (az->auth) {
	case PS_AZBLOB_AUTH_SHAREDKEY:
		ps_azblob_string_to_sign(az->account, r->rq.method, r->rq.url,
					 r->hdr, r->rq.nheaders,
					 r->rq.body_len, &s);
		ps_crypto_hmac_sha256(az->key.data, az->key.len, s.data, s.len,
				      mac);
		ps_buf_release(&s);
		ps_buf_addf(&v, "SharedKey %s:", az->account);
		ps_base64_encode(&v, mac, sizeof(mac));
		add_hdr(r, "Authorization", v.data);
		ps_crypto_wipe_buf(&v);
		return 0;
	case PS_AZBLOB_AUTH_SAS: {
		char *old = r->own[0];	/* the URL (begin owns it first) */

		ps_buf_adds(&v, old);
		ps_buf_addc(&v, strchr(old, '?') ? '&' : '?');
		ps_buf_adds(&v, az->sas);
		r->own[0] = ps_buf_detach(&v, NULL);
		r->rq.url = r->own[0];
		free(old);
		return 0;
	}
	case PS_AZBLOB_AUTH_BEARER:
		if (az->token_fn(az->token_ctx, &az->token, e))
			return -1;
		ps_buf_adds(&v, "Bearer ");
		ps_buf_add(&v, az->token.data, az->token.len);
		add_hdr(r, "Authorization", v.data);
		ps_crypto_wipe_buf(&v);
		return 0;
	}
	return ps_error_set(e, 70, "unknown authorization mode");
}

static void add_md5(struct ps_azblob_req *r, const char *name,
		    const unsigned char md5[16])
{
	struct ps_buf b = PS_BUF_INIT;

	ps_base64_encode(&b, md5, 16);
	add_hdr(r, name, b.data);
	ps_buf_release(&b);
}

static int fail_release(struct ps_azblob_req *r)
{
	ps_azblob_req_release(r);
	return -1;
}

int ps_azblob_put_blob(struct ps_azblob *az, struct ps_azblob_req *r,
		       const char *name, const char *content_type, int fd,
		       int64_t len, const unsigned char md5[16], int if_absent,
		       struct ps_error *e)
{
	begin(az, r, "PUT", name, NULL);
	add_hdr(r, "x-ms-blob-type", "BlockBlob");
	if (if_absent)
		add_hdr(r, "If-None-Match", "*");
	add_hdr(r, "Content-Type",
		content_type ? content_type : "application/octet-stream");
	add_md5(r, "Content-MD5", md5);
	r->rq.body_fd = fd;
	r->rq.body_offset = 0;
	r->rq.body_len = len;
	return finish(az, r, e) ? fail_release(r) : 0;
}

void ps_azblob_block_id(unsigned idx, struct ps_buf *b)
{
	char raw[24];
	int n = snprintf(raw, sizeof(raw), "ps-block-%09u",
			 idx % 1000000000u);

	ps_base64_encode(b, raw, (size_t)n);
}

int ps_azblob_put_block(struct ps_azblob *az, struct ps_azblob_req *r,
			const char *name, unsigned idx, int fd, int64_t off,
			int64_t len, const unsigned char md5[16],
			struct ps_error *e)
{
	struct ps_buf q = PS_BUF_INIT, id = PS_BUF_INIT;

	ps_azblob_block_id(idx, &id);
	ps_buf_adds(&q, "comp=block&blockid=");
	ps_http_escape(&q, id.data, 0);
	begin(az, r, "PUT", name, q.data);
	ps_buf_release(&q);
	ps_buf_release(&id);
	add_md5(r, "Content-MD5", md5);
	r->rq.body_fd = fd;
	r->rq.body_offset = off;
	r->rq.body_len = len;
	return finish(az, r, e) ? fail_release(r) : 0;
}

int ps_azblob_put_block_list(struct ps_azblob *az, struct ps_azblob_req *r,
			     const char *name, unsigned n,
			     const char *content_type,
			     const unsigned char whole_md5[16],
			     struct ps_error *e)
{
	struct ps_buf body = PS_BUF_INIT;
	unsigned char md5[PS_MD5_LEN];
	unsigned i;

	ps_buf_adds(&body, "<?xml version=\"1.0\" encoding=\"utf-8\"?>"
		    "<BlockList>");
	for (i = 0; i < n; i++) {
		ps_buf_adds(&body, "<Latest>");
		ps_azblob_block_id(i, &body);
		ps_buf_adds(&body, "</Latest>");
	}
	ps_buf_adds(&body, "</BlockList>");
	begin(az, r, "PUT", name, "comp=blocklist");
	add_hdr(r, "Content-Type", "application/xml");
	ps_crypto_md5(body.data, body.len, md5);
	add_md5(r, "Content-MD5", md5);
	add_md5(r, "x-ms-blob-content-md5", whole_md5);
	add_hdr(r, "x-ms-blob-content-type",
		content_type ? content_type : "application/octet-stream");
	r->rq.body_len = (int64_t)body.len;
	r->rq.body_mem = own(r, ps_buf_detach(&body, NULL));
	return finish(az, r, e) ? fail_release(r) : 0;
}

int ps_azblob_head(struct ps_azblob *az, struct ps_azblob_req *r,
		   const char *name, struct ps_error *e)
{
	begin(az, r, "HEAD", name, NULL);
	return finish(az, r, e) ? fail_release(r) : 0;
}

int ps_azblob_get(struct ps_azblob *az, struct ps_azblob_req *r,
		  const char *name, struct ps_error *e)
{
	begin(az, r, "GET", name, NULL);
	return finish(az, r, e) ? fail_release(r) : 0;
}

int ps_azblob_create_container(struct ps_azblob *az, struct ps_azblob_req *r,
			       struct ps_error *e)
{
	begin(az, r, "PUT", NULL, "restype=container");
	return finish(az, r, e) ? fail_release(r) : 0;
}

int ps_azblob_check(const struct ps_http_response *rs, const char *what,
		    struct ps_error *e)
{
	const char *code = ps_http_response_header(rs, "x-ms-error-code");
	long st = rs->status;
	int ex;

	if (st >= 200 && st < 300)
		return 0;
	if (!code)
		code = "";
	if (st == 403 || st == 401) {
		if (!strcmp(code, "AuthenticationFailed") ||
		    !strcmp(code, "AuthorizationFailure") || !*code)
			return ps_error_set(e, 78, "%s: HTTP %ld %s: the "
					    "service refused the credentials "
					    "(check the account key, SAS or "
					    "identity)", what, st,
					    *code ? code : "Forbidden");
		return ps_error_set(e, 78, "%s: HTTP %ld %s: the credentials "
				    "lack a permission this needs", what, st,
				    code);
	}
	if (st == 404 && !strcmp(code, "ContainerNotFound"))
		return ps_error_set(e, 78, "%s: HTTP 404 ContainerNotFound: "
				    "create the container or use "
				    "--create-container", what);
	if (!strcmp(code, "Md5Mismatch") || !strcmp(code, "InvalidMd5"))
		return ps_error_set(e, 75, "%s: HTTP %ld %s: the data changed "
				    "while it was sent", what, st, code);
	if (st == 408 || st == 429 || st >= 500)
		ex = 75;
	else if (st == 404)
		ex = 66;
	else
		ex = 65;
	return ps_error_set(e, ex, "%s: HTTP %ld%s%s", what, st,
			    *code ? " " : "", code);
}

int ps_azblob_container_sas(const struct ps_azblob *az, const char *perms,
			    const char *expiry, struct ps_buf *out,
			    struct ps_error *e)
{
	struct ps_buf s = PS_BUF_INIT, sig = PS_BUF_INIT;
	unsigned char mac[PS_SHA256_LEN];

	if (az->auth != PS_AZBLOB_AUTH_SHAREDKEY)
		return ps_error_set(e, 78, "making a SAS needs the account "
				    "key");
	/* Service SAS, version 2020-12-06 and later: 16 fields. */
	ps_buf_addf(&s, "%s\n\n%s\n/blob/%s/%s\n\n\n\n%s\nc\n\n\n\n\n\n\n",
		    perms, expiry, az->account, az->container,
		    PS_AZBLOB_VERSION);
	ps_crypto_hmac_sha256(az->key.data, az->key.len, s.data, s.len, mac);
	ps_buf_release(&s);
	ps_base64_encode(&sig, mac, sizeof(mac));
	ps_buf_addf(out, "sv=%s&sr=c&sp=", PS_AZBLOB_VERSION);
	ps_http_escape(out, perms, 0);
	ps_buf_adds(out, "&se=");
	ps_http_escape(out, expiry, 0);
	ps_buf_adds(out, "&sig=");
	ps_http_escape(out, sig.data, 0);
	ps_buf_release(&sig);
	return 0;
}

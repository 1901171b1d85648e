/* http.c - see http.h.  The only file that includes libcurl. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "cli.h"
#include "crypto.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "pstime.h"
#include "rand.h"
#include "banned.h"

struct ps_http {
	struct ps_http_opts o;
	char *ca;		/* owned copy of the CA bundle path */
	char *ua;
	CURLSH *share;		/* connections, DNS and TLS sessions */
	volatile int *intr;
	struct ps_rand rng;	/* jitter only */
};

enum job_state { JOB_QUEUED, JOB_RUNNING, JOB_WAITING, JOB_DONE };

struct job {
	struct job *next;
	const struct ps_http_request *rq;
	struct ps_http_response *rs;
	struct ps_http *c;
	ps_http_done_fn done;
	void *ctx;
	enum job_state state;
	int attempt;		/* attempts made so far */
	double not_before;	/* ps_mono() time a retry may start */
	double started;
	CURL *easy;
	CURLU *url;		/* the checked URL the transfer uses */
	struct curl_slist *hdrs;
	int64_t pos;		/* bytes of the body sent in this attempt */
	int read_failed;	/* errno of a failed pread, else 0 */
	int too_big;		/* response body over max_body */
	char errbuf[CURL_ERROR_SIZE];
};

struct ps_http_pool {
	struct ps_http *c;
	CURLM *m;
	int parallel;
	int running;
	struct job *head, *tail;	/* every job, in the order added */
};

static int curl_ready;

struct ps_http *ps_http_new(const struct ps_http_opts *o, struct ps_error *e)
{
	static const struct ps_http_opts defaults = PS_HTTP_OPTS_INIT;
	struct ps_http *c;
	const char *ca;
	uint64_t seed = 0;

	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			ps_error_set(e, PS_EX_SOFTWARE, "libcurl init failed");
			return NULL;
		}
		curl_ready = 1;
	}
	c = ps_xcalloc(1, sizeof(*c));
	c->o = o ? *o : defaults;
	ca = c->o.ca_bundle;
	if (!ca || !*ca)
		ca = getenv("PS_CA_BUNDLE");
	if (ca && *ca) {
		if (access(ca, R_OK) != 0) {
			ps_error_errno(e, PS_EX_CONFIG, errno,
				       "cannot read CA bundle %s", ca);
			free(c);
			return NULL;
		}
		c->ca = ps_xstrdup(ca);
	}
	c->o.ca_bundle = c->ca;
	c->ua = ps_xstrdup(c->o.user_agent ? c->o.user_agent :
			   "pulsestream/" PS_VERSION);
	c->o.user_agent = c->ua;
	if (c->o.max_retries < 0)
		c->o.max_retries = 0;
	if (c->o.max_body == 0)
		c->o.max_body = defaults.max_body;
	c->share = curl_share_init();
	if (c->share) {
		curl_share_setopt(c->share, CURLSHOPT_SHARE,
				  CURL_LOCK_DATA_DNS);
		curl_share_setopt(c->share, CURLSHOPT_SHARE,
				  CURL_LOCK_DATA_SSL_SESSION);
		curl_share_setopt(c->share, CURLSHOPT_SHARE,
				  CURL_LOCK_DATA_CONNECT);
	}
	if (ps_crypto_random(&seed, sizeof(seed), NULL) < 0)
		seed = (uint64_t)ps_time_now() ^ (uint64_t)getpid();
	ps_rand_seed(&c->rng, seed);
	return c;
}

void ps_http_free(struct ps_http *c)
{
	if (!c)
		return;
	if (c->share)
		curl_share_cleanup(c->share);
	free(c->ca);
	free(c->ua);
	free(c);
}

void ps_http_set_interrupt(struct ps_http *c, volatile int *flag)
{
	c->intr = flag;
}

static void free_headers(struct ps_http_response *r)
{
	size_t i;

	for (i = 0; i < r->nheaders; i++) {
		ps_crypto_free_str((char *)r->headers[i].name);
		ps_crypto_free_str((char *)r->headers[i].value);
	}
	free(r->headers);
	r->headers = NULL;
	r->nheaders = 0;
}

void ps_http_response_release(struct ps_http_response *r)
{
	free_headers(r);
	ps_crypto_wipe_buf(&r->body);
	r->status = 0;
	r->attempts = 0;
}

const char *ps_http_response_header(const struct ps_http_response *r,
				    const char *name)
{
	size_t i = r->nheaders;

	while (i-- > 0)
		if (strcasecmp(r->headers[i].name, name) == 0)
			return r->headers[i].value;
	return NULL;
}

void ps_http_escape(struct ps_buf *b, const char *s, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' ||
		    ch == '_' || ch == '~' || (keep_slash && ch == '/')) {
			ps_buf_addc(b, (char)ch);
		} else {
			ps_buf_addc(b, '%');
			ps_buf_addc(b, hex[ch >> 4]);
			ps_buf_addc(b, hex[ch & 15]);
		}
	}
}

void ps_http_redact_url(struct ps_buf *b, const char *url)
{
	const char *p = url ? url : "", *rest, *at, *end;

	rest = strstr(p, "://");
	rest = rest ? rest + 3 : p;
	ps_buf_add(b, p, (size_t)(rest - p));
	end = rest + strcspn(rest, "/?#");
	at = memchr(rest, '@', (size_t)(end - rest));
	if (at)
		rest = at + 1;
	ps_buf_add(b, rest, strcspn(rest, "?#"));
}

/* --- one transfer ---------------------------------------------------- */

static size_t on_write(char *p, size_t size, size_t n, void *ud)
{
	struct job *j = ud;
	size_t len = size * n;

	if (len > j->c->o.max_body - j->rs->body.len) {
		j->too_big = 1;
		return 0;
	}
	ps_buf_add(&j->rs->body, p, len);
	return len;
}

static void trim(const char **s, const char **end)
{
	while (*s < *end && (**s == ' ' || **s == '\t'))
		(*s)++;
	while (*end > *s && ((*end)[-1] == ' ' || (*end)[-1] == '\t' ||
			     (*end)[-1] == '\r' || (*end)[-1] == '\n'))
		(*end)--;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	struct job *j = ud;
	struct ps_http_response *r = j->rs;
	size_t len = size * n;
	const char *colon, *name = p, *nend, *val, *vend = p + len;

	if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
		/* A new response (after 100 Continue or a retry). */
		free_headers(r);
		return len;
	}
	colon = memchr(p, ':', len);
	if (!colon || colon == p || *p == ' ' || *p == '\t')
		return len;
	nend = colon;
	val = colon + 1;
	trim(&name, &nend);
	trim(&val, &vend);
	r->headers = ps_xrealloc(r->headers,
				 (r->nheaders + 1) * sizeof(*r->headers));
	r->headers[r->nheaders].name =
		ps_xmemdup(name, (size_t)(nend - name));
	r->headers[r->nheaders].value =
		ps_xmemdup(val, (size_t)(vend - val));
	r->nheaders++;
	return len;
}

static size_t on_read(char *buf, size_t size, size_t n, void *ud)
{
	struct job *j = ud;
	const struct ps_http_request *rq = j->rq;
	size_t want = size * n;
	int64_t left = rq->body_len - j->pos;
	ssize_t got;

	if (left <= 0)
		return 0;
	if ((int64_t)want > left)
		want = (size_t)left;
	if (rq->body_mem) {
		memcpy(buf, (const char *)rq->body_mem + j->pos, want);
	} else {
		do
			got = pread(rq->body_fd, buf, want,
				    (off_t)(rq->body_offset + j->pos));
		while (got < 0 && errno == EINTR);
		if (got <= 0) {
			j->read_failed = got < 0 ? errno : EIO;
			return CURL_READFUNC_ABORT;
		}
		want = (size_t)got;
	}
	j->pos += (int64_t)want;
	return want;
}

static int on_seek(void *ud, curl_off_t off, int origin)
{
	struct job *j = ud;

	if (origin != SEEK_SET || off < 0 || off > j->rq->body_len)
		return CURL_SEEKFUNC_CANTSEEK;
	j->pos = off;
	return CURL_SEEKFUNC_OK;
}

/* --- URLs ------------------------------------------------------------ */

/*
 * One parse for every URL check: libcurl's own URL API, so what is checked
 * is exactly what a transfer connects to (job_start hands curl the same
 * CURLU).  Returns the handle, or NULL with e filled (64).
 */
static CURLU *url_handle(const char *url, struct ps_error *e)
{
	CURLU *u;
	CURLUcode rc;

	if (!url || !*url) {
		ps_error_set(e, PS_EX_USAGE, "empty URL");
		return NULL;
	}
	u = curl_url();
	if (!u) {
		ps_error_set(e, PS_EX_SOFTWARE, "out of memory");
		return NULL;
	}
	rc = curl_url_set(u, CURLUPART_URL, url, 0);
	if (rc != CURLUE_OK) {
		struct ps_buf b = PS_BUF_INIT;

		ps_http_redact_url(&b, url);
		ps_error_set(e, PS_EX_USAGE, "%s: not a valid URL (%s)",
			     b.data, curl_url_strerror(rc));
		ps_buf_release(&b);
		curl_url_cleanup(u);
		return NULL;
	}
	return u;
}

/* A part of u as a malloc'd string, or NULL when absent. */
static char *url_part(CURLU *u, CURLUPart what)
{
	char *v = NULL, *r;

	if (curl_url_get(u, what, &v, 0) != CURLUE_OK || !v)
		return NULL;
	r = ps_xstrdup(v);
	curl_free(v);
	return r;
}

void ps_http_url_release(struct ps_url *u)
{
	free(u->scheme);
	free(u->host);
	free(u->port);
	free(u->path);
	free(u->query);
	memset(u, 0, sizeof(*u));
}

static int url_fill(CURLU *h, struct ps_url *u, const char *url,
		    struct ps_error *e)
{
	char *user = url_part(h, CURLUPART_USER);
	char *pw = url_part(h, CURLUPART_PASSWORD);
	char *frag = url_part(h, CURLUPART_FRAGMENT);
	int bad = user || pw, hasfrag = frag != NULL;

	free(user);
	free(pw);
	free(frag);
	memset(u, 0, sizeof(*u));
	if (bad || hasfrag) {
		struct ps_buf b = PS_BUF_INIT;

		ps_http_redact_url(&b, url);
		ps_error_set(e, PS_EX_USAGE, "%s: %s", b.data,
			     bad ? "a URL must not carry user:password@ "
				   "(credentials go in the vault)"
				 : "a URL must not carry a #fragment");
		ps_buf_release(&b);
		return -1;
	}
	u->scheme = url_part(h, CURLUPART_SCHEME);
	u->host = url_part(h, CURLUPART_HOST);
	u->port = url_part(h, CURLUPART_PORT);
	u->path = url_part(h, CURLUPART_PATH);
	u->query = url_part(h, CURLUPART_QUERY);
	if (!u->scheme || !u->host || !*u->host || !u->path) {
		ps_http_url_release(u);
		return ps_error_set(e, PS_EX_USAGE, "not a valid URL: no host");
	}
	return 0;
}

int ps_http_url_parse(const char *url, struct ps_url *u, struct ps_error *e)
{
	CURLU *h = url_handle(url, e);
	int rc;

	memset(u, 0, sizeof(*u));
	if (!h)
		return -1;
	rc = url_fill(h, u, url, e);
	curl_url_cleanup(h);
	return rc;
}

/*
 * Plain http is accepted only to the loopback interface (test services,
 * App Service identity endpoint) and the instance metadata address; the
 * host is compared whole, after parsing.
 */
static int host_allowed(const struct ps_url *u)
{
	static const char *const local[] = {
		"127.0.0.1", "localhost", "[::1]",
		"169.254.169.254",	/* Azure instance metadata */
	};
	size_t i;

	if (strcasecmp(u->scheme, "https") == 0)
		return 1;
	if (strcasecmp(u->scheme, "http") != 0)
		return 0;
	for (i = 0; i < sizeof(local) / sizeof(local[0]); i++)
		if (strcasecmp(u->host, local[i]) == 0)
			return 1;
	return 0;
}

static int check_parsed(const struct ps_url *u, const char *url,
			struct ps_error *e)
{
	struct ps_buf b = PS_BUF_INIT;

	if (host_allowed(u))
		return 0;
	ps_http_redact_url(&b, url);
	ps_error_set(e, PS_EX_USAGE, "%s: only https URLs are allowed "
		     "(plain http only to 127.0.0.1, localhost, [::1] or "
		     "169.254.169.254)", b.data);
	ps_buf_release(&b);
	return -1;
}

int ps_http_url_check(const char *url, struct ps_error *e)
{
	struct ps_url u;
	int rc;

	if (ps_http_url_parse(url, &u, e) < 0)
		return -1;
	rc = check_parsed(&u, url, e);
	ps_http_url_release(&u);
	return rc;
}

int ps_http_same_origin(const char *a, const char *b)
{
	struct ps_url x, y;
	struct ps_error e;
	int same = 0;

	if (ps_http_url_parse(a, &x, &e) < 0)
		return 0;
	if (ps_http_url_parse(b, &y, &e) == 0) {
		same = strcasecmp(x.scheme, y.scheme) == 0 &&
		       strcasecmp(x.host, y.host) == 0 &&
		       !x.port == !y.port &&
		       (!x.port || strcmp(x.port, y.port) == 0);
		ps_http_url_release(&y);
	}
	ps_http_url_release(&x);
	return same;
}

/*
 * The checked handle a transfer uses, or NULL with e filled (64): the
 * request's URL with the allowlist applied to its parsed host.
 */
static CURLU *checked_handle(const char *url, struct ps_error *e)
{
	CURLU *h = url_handle(url, e);
	struct ps_url u;
	int rc;

	if (!h)
		return NULL;
	rc = url_fill(h, &u, url, e);
	if (rc == 0) {
		rc = check_parsed(&u, url, e);
		ps_http_url_release(&u);
	}
	if (rc < 0) {
		curl_url_cleanup(h);
		return NULL;
	}
	return h;
}

static void what_url(struct ps_buf *b, const struct ps_http_request *rq)
{
	ps_buf_adds(b, rq->method ? rq->method : "GET");
	ps_buf_addc(b, ' ');
	ps_http_redact_url(b, rq->url);
}

static int job_fail(const struct job *j, int code, const char *why,
		    struct ps_error *e)
{
	struct ps_buf b = PS_BUF_INIT;

	what_url(&b, j->rq);
	ps_error_set(e, code, "%s: %s", b.data, why);
	ps_buf_release(&b);
	return -1;
}

static void wipe_slist(struct curl_slist *l)
{
	struct curl_slist *i;

	for (i = l; i; i = i->next)
		ps_crypto_wipe(i->data, strlen(i->data));
	curl_slist_free_all(l);
}

static void job_cleanup(struct ps_http_pool *p, struct job *j)
{
	if (j->easy) {
		curl_multi_remove_handle(p->m, j->easy);
		curl_easy_cleanup(j->easy);
		j->easy = NULL;
	}
	if (j->url) {
		curl_url_cleanup(j->url);
		j->url = NULL;
	}
	wipe_slist(j->hdrs);
	j->hdrs = NULL;
}

static int job_start(struct ps_http_pool *p, struct job *j,
		     struct ps_error *e)
{
	const struct ps_http_opts *o = &p->c->o;
	const struct ps_http_request *rq = j->rq;
	const char *method = rq->method ? rq->method : "GET";
	struct ps_buf line = PS_BUF_INIT;
	int has_body, upload;
	CURL *h;
	size_t i;

	if (j->url)
		curl_url_cleanup(j->url);
	j->url = checked_handle(rq->url, e);
	if (!j->url)
		return -1;
	has_body = rq->body_mem || rq->body_fd >= 0;
	if (has_body && rq->body_len < 0)
		return job_fail(j, PS_EX_USAGE, "negative body length", e);
	upload = has_body || strcmp(method, "PUT") == 0 ||
		 strcmp(method, "POST") == 0 || strcmp(method, "PATCH") == 0;
	h = curl_easy_init();
	if (!h)
		return job_fail(j, PS_EX_SOFTWARE, "cannot start a transfer",
				e);
	j->easy = h;
	j->pos = 0;
	j->read_failed = 0;
	j->too_big = 0;
	j->errbuf[0] = '\0';
	ps_http_response_release(j->rs);

	for (i = 0; i < rq->nheaders; i++) {
		struct curl_slist *n;

		ps_buf_reset(&line);
		ps_buf_adds(&line, rq->headers[i].name);
		if (rq->headers[i].value && *rq->headers[i].value) {
			ps_buf_add(&line, ": ", 2);
			ps_buf_adds(&line, rq->headers[i].value);
		} else {
			ps_buf_addc(&line, ';');	/* empty value */
		}
		n = curl_slist_append(j->hdrs, line.data);
		if (!n) {
			ps_crypto_wipe_buf(&line);
			return job_fail(j, PS_EX_SOFTWARE, "out of memory", e);
		}
		j->hdrs = n;
	}
	ps_crypto_wipe_buf(&line);
	if (upload) {
		struct curl_slist *n = curl_slist_append(j->hdrs, "Expect:");

		if (!n)
			return job_fail(j, PS_EX_SOFTWARE, "out of memory", e);
		j->hdrs = n;
	}

	curl_easy_setopt(h, CURLOPT_CURLU, j->url);
	curl_easy_setopt(h, CURLOPT_PRIVATE, (void *)j);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, j->errbuf);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	if (p->c->share)
		curl_easy_setopt(h, CURLOPT_SHARE, p->c->share);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(h, CURLOPT_PROTOCOLS,
			 (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (p->c->ca)
		curl_easy_setopt(h, CURLOPT_CAINFO, p->c->ca);
	curl_easy_setopt(h, CURLOPT_USERAGENT, p->c->ua);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, o->timeout_ms);
	if (o->stall_timeout_ms > 0) {
		curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME,
				 (o->stall_timeout_ms + 999) / 1000);
	}
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, (void *)j);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, (void *)j);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, j->hdrs);
	if (strcmp(method, "HEAD") == 0) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (upload) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(h, CURLOPT_READDATA, (void *)j);
		curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
		curl_easy_setopt(h, CURLOPT_SEEKDATA, (void *)j);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE,
				 (curl_off_t)(has_body ? rq->body_len : 0));
		if (strcmp(method, "PUT") != 0)
			curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	} else if (strcmp(method, "GET") != 0) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	}
	if (curl_multi_add_handle(p->m, h) != CURLM_OK)
		return job_fail(j, PS_EX_SOFTWARE, "cannot start a transfer",
				e);
	j->attempt++;
	j->started = ps_mono();
	j->state = JOB_RUNNING;
	p->running++;
	return 0;
}

/* --- retry policy ---------------------------------------------------- */

static int retryable_status(long s)
{
	return s == 408 || s == 429 ||
	       (s >= 500 && s <= 599 && s != 501 && s != 505);
}

static int all_digits(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

/* The wait a response asks for, in ms, or -1 when it names none. */
static long retry_after_ms(const struct ps_http_response *rs)
{
	const char *v;
	long long x;
	const char *err;

	if (((v = ps_http_response_header(rs, "retry-after-ms")) ||
	     (v = ps_http_response_header(rs, "x-ms-retry-after-ms"))) &&
	    ps_parse_ll(v, 0, 86400000, &x, &err) == 0)
		return (long)x;
	v = ps_http_response_header(rs, "retry-after");
	if (!v)
		return -1;
	if (all_digits(v))
		return ps_parse_ll(v, 0, 86400, &x, &err) == 0 ?
		       (long)(x * 1000) : -1;
	{
		time_t t = curl_getdate(v, NULL), now = time(NULL);

		if (t == (time_t)-1)
			return -1;
		return t > now ? (long)(t - now) * 1000 : 0;
	}
}

static long backoff_ms(struct ps_http *c, int attempt)
{
	long d = c->o.backoff_ms > 0 ? c->o.backoff_ms : 1;
	int i;

	for (i = 1; i < attempt && d < c->o.backoff_max_ms; i++)
		d *= 2;
	if (d > c->o.backoff_max_ms)
		d = c->o.backoff_max_ms;
	/* Jitter: uniform in [d/2, d]. */
	return d / 2 + (long)ps_rand_below(&c->rng, (uint32_t)(d / 2 + 1));
}

/* Classify a failed transfer: its exit code, and whether a retry helps. */
static int curl_failure(CURLcode rc, int *retry)
{
	*retry = 0;
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
		*retry = 1;
		return PS_EX_UNAVAILABLE;
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_SSL_CONNECT_ERROR:
		*retry = 1;
		return PS_EX_TEMPFAIL;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_ISSUER_ERROR:
		return PS_EX_UNAVAILABLE;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return PS_EX_USAGE;
	case CURLE_READ_ERROR:
	case CURLE_ABORTED_BY_CALLBACK:
	case CURLE_WRITE_ERROR:
		return PS_EX_IOERR;
	default:
		return PS_EX_SOFTWARE;
	}
}

static int tls_error(CURLcode rc)
{
	return rc == CURLE_PEER_FAILED_VERIFICATION ||
	       rc == CURLE_SSL_CACERT_BADFILE || rc == CURLE_SSL_CERTPROBLEM ||
	       rc == CURLE_SSL_ISSUER_ERROR || rc == CURLE_SSL_CONNECT_ERROR;
}

/* --- the pool ---------------------------------------------------------- */

struct ps_http_pool *ps_http_pool_new(struct ps_http *c, int parallel)
{
	struct ps_http_pool *p = ps_xcalloc(1, sizeof(*p));

	p->c = c;
	p->parallel = parallel < 1 ? 1 : parallel;
	p->m = curl_multi_init();
	if (!p->m) {
		fprintf(stderr, "pulsestream: fatal: curl_multi_init failed\n");
		abort();
	}
	return p;
}

void ps_http_pool_free(struct ps_http_pool *p)
{
	struct job *j, *next;

	if (!p)
		return;
	for (j = p->head; j; j = next) {
		next = j->next;
		job_cleanup(p, j);
		free(j);
	}
	curl_multi_cleanup(p->m);
	free(p);
}

void ps_http_pool_add(struct ps_http_pool *p, const struct ps_http_request *rq,
		      struct ps_http_response *rs, ps_http_done_fn done,
		      void *ctx)
{
	struct job *j = ps_xcalloc(1, sizeof(*j));

	j->rq = rq;
	j->rs = rs;
	j->c = p->c;
	j->done = done;
	j->ctx = ctx;
	j->state = JOB_QUEUED;
	if (p->tail)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
}

static void job_finish(struct ps_http_pool *p, struct job *j, int rc,
		       const struct ps_error *e)
{
	struct ps_error none = { 0, "" };

	if (j->state == JOB_RUNNING)
		p->running--;
	job_cleanup(p, j);
	j->state = JOB_DONE;
	j->rs->attempts = j->attempt;
	if (j->done)
		j->done(j->ctx, j->rq, j->rs, rc, e ? e : &none);
	j->rq = NULL;
	j->rs = NULL;
}

static void log_retry(const struct job *j, long status, const char *why,
		      long delay)
{
	struct ps_buf b = PS_BUF_INIT;

	if (!ps_log_enabled(PS_WARN))
		return;
	what_url(&b, j->rq);
	if (why)
		ps_log(PS_WARN, "retrying request", PS_S("request", b.data),
		       PS_S("error", why), PS_I("attempt", j->attempt),
		       PS_I("delay_ms", delay));
	else
		ps_log(PS_WARN, "retrying request", PS_S("request", b.data),
		       PS_I("status", status), PS_I("attempt", j->attempt),
		       PS_I("delay_ms", delay));
	ps_buf_release(&b);
}

/* A transfer of j ended with rc: retry it or finish it. */
static void job_ended(struct ps_http_pool *p, struct job *j, CURLcode rc)
{
	struct ps_http *c = p->c;
	struct ps_error e = { 0, "" };
	int retry = 0, code = 0, can = j->attempt <= c->o.max_retries;
	long status = 0, delay;

	if (rc == CURLE_OK) {
		curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &status);
		j->rs->status = status;
		retry = can && retryable_status(status);
	} else {
		code = curl_failure(rc, &retry);
		retry = retry && can;
	}
	if (ps_log_enabled(PS_DEBUG)) {
		struct ps_buf b = PS_BUF_INIT;

		what_url(&b, j->rq);
		ps_log(PS_DEBUG, "http", PS_S("request", b.data),
		       PS_I("status", status), PS_I("attempt", j->attempt),
		       PS_I("ms", (long long)((ps_mono() - j->started) *
					       1000)));
		ps_buf_release(&b);
	}
	if (retry) {
		delay = rc == CURLE_OK ? retry_after_ms(j->rs) : -1;
		if (delay < 0)
			delay = backoff_ms(c, j->attempt);
		else if (delay > c->o.retry_after_max_ms)
			delay = c->o.retry_after_max_ms;
		log_retry(j, status, rc == CURLE_OK ? NULL :
			  curl_easy_strerror(rc), delay);
		job_cleanup(p, j);
		p->running--;
		ps_http_response_release(j->rs);
		j->state = JOB_WAITING;
		j->not_before = ps_mono() + (double)delay / 1000.0;
		return;
	}
	if (rc == CURLE_OK) {
		job_finish(p, j, 0, NULL);
		return;
	}
	if (j->read_failed) {
		struct ps_buf b = PS_BUF_INIT;

		what_url(&b, j->rq);
		ps_error_errno(&e, PS_EX_IOERR, j->read_failed,
			       "%s: cannot read the request body", b.data);
		ps_buf_release(&b);
	} else if (j->too_big) {
		job_fail(j, PS_EX_IOERR, "response body too large", &e);
	} else if (tls_error(rc)) {
		struct ps_buf b = PS_BUF_INIT;

		ps_buf_addf(&b, "TLS: %s (a private CA is trusted with "
			    "--cacert or PS_CA_BUNDLE)",
			    j->errbuf[0] ? j->errbuf : curl_easy_strerror(rc));
		job_fail(j, code, b.data, &e);
		ps_buf_release(&b);
	} else {
		job_fail(j, code, curl_easy_strerror(rc), &e);
	}
	ps_http_response_release(j->rs);
	job_finish(p, j, -1, &e);
}

static int unfinished(const struct ps_http_pool *p)
{
	const struct job *j;

	for (j = p->head; j; j = j->next)
		if (j->state != JOB_DONE)
			return 1;
	return 0;
}

/* Drop finished jobs from the list. */
static void sweep(struct ps_http_pool *p)
{
	struct job **pp = &p->head, *j;

	p->tail = NULL;
	while ((j = *pp)) {
		if (j->state == JOB_DONE) {
			*pp = j->next;
			free(j);
		} else {
			p->tail = j;
			pp = &j->next;
		}
	}
}

int ps_http_pool_run(struct ps_http_pool *p, struct ps_error *e)
{
	struct ps_http *c = p->c;

	for (;;) {
		struct job *j;
		CURLMsg *msg;
		int still = 0, left;
		double now, wake = -1;
		long wait_ms;

		if (c->intr && *c->intr) {
			struct ps_error ie = { 0, "" };

			for (j = p->head; j; j = j->next) {
				if (j->state == JOB_DONE)
					continue;
				job_fail(j, PS_EX_TEMPFAIL, "interrupted", &ie);
				ps_http_response_release(j->rs);
				job_finish(p, j, -1, &ie);
			}
			sweep(p);
			return ps_error_set(e, PS_EX_TEMPFAIL, "interrupted");
		}
		now = ps_mono();
		for (j = p->head; j && p->running < p->parallel; j = j->next) {
			struct ps_error se = { 0, "" };

			if (j->state == JOB_QUEUED ||
			    (j->state == JOB_WAITING && j->not_before <= now))
				if (job_start(p, j, &se) < 0) {
					ps_http_response_release(j->rs);
					job_finish(p, j, -1, &se);
				}
		}
		sweep(p);
		if (!unfinished(p))
			return 0;
		if (curl_multi_perform(p->m, &still) != CURLM_OK)
			return ps_error_set(e, PS_EX_SOFTWARE,
					    "http event loop failed");
		while ((msg = curl_multi_info_read(p->m, &left))) {
			void *priv = NULL;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
					  &priv);
			job_ended(p, priv, msg->data.result);
		}
		sweep(p);
		if (!unfinished(p))
			return 0;
		/* Sleep until a socket is ready or a backoff expires. */
		now = ps_mono();
		for (j = p->head; j; j = j->next)
			if (j->state == JOB_WAITING &&
			    (wake < 0 || j->not_before < wake))
				wake = j->not_before;
		wait_ms = p->running > 0 ? 1000 : 100;
		/* Requests queued by callbacks start at once when a slot is
		   free: no sleep before the next turn. */
		for (j = p->head; j && p->running < p->parallel; j = j->next)
			if (j->state == JOB_QUEUED) {
				wait_ms = 0;
				break;
			}
		if (wake >= 0 && p->running < p->parallel) {
			long w = (long)((wake - now) * 1000) + 1;

			if (w < wait_ms)
				wait_ms = w < 0 ? 0 : w;
		}
		if (c->intr && wait_ms > 100)
			wait_ms = 100;
		if (p->running > 0) {
			if (curl_multi_poll(p->m, NULL, 0, (int)wait_ms, NULL)
			    != CURLM_OK)
				return ps_error_set(e, PS_EX_SOFTWARE,
						    "http event loop failed");
		} else if (wait_ms > 0) {
			struct timespec ts = { wait_ms / 1000,
					       (wait_ms % 1000) * 1000000L };

			nanosleep(&ts, NULL);
		}
	}
}

/* --- conveniences -------------------------------------------------------- */

struct one_result {
	int rc;
	struct ps_error *e;
};

static void one_done(void *ctx, const struct ps_http_request *rq,
		     struct ps_http_response *rs, int rc,
		     const struct ps_error *e)
{
	struct one_result *r = ctx;

	(void)rq;
	(void)rs;
	r->rc = rc;
	if (rc && r->e)
		*r->e = *e;
}

int ps_http_do(struct ps_http *c, const struct ps_http_request *rq,
	       struct ps_http_response *rs, struct ps_error *e)
{
	struct ps_http_pool *p = ps_http_pool_new(c, 1);
	struct one_result r = { -1, e };
	int rc;

	ps_http_pool_add(p, rq, rs, one_done, &r);
	rc = ps_http_pool_run(p, e);
	ps_http_pool_free(p);
	return rc < 0 ? -1 : r.rc;
}

int ps_http_do_all(struct ps_http *c, const struct ps_http_request *rq,
		   struct ps_http_response *rs, int *rc,
		   struct ps_error *errs, size_t n, int parallel,
		   struct ps_error *e)
{
	struct ps_http_pool *p = ps_http_pool_new(c, parallel);
	struct one_result *r = ps_xcalloc(n ? n : 1, sizeof(*r));
	size_t i;
	int ret;

	for (i = 0; i < n; i++) {
		r[i].rc = -1;
		r[i].e = errs ? &errs[i] : NULL;
		ps_http_pool_add(p, &rq[i], &rs[i], one_done, &r[i]);
	}
	ret = ps_http_pool_run(p, e);
	ps_http_pool_free(p);
	for (i = 0; i < n; i++) {
		rc[i] = r[i].rc;
		if (rc[i] && ret == 0) {
			ret = -1;
			if (errs)
				*e = errs[i];
			else
				ps_error_set(e, PS_EX_UNAVAILABLE,
					     "request %zu failed", i);
		}
	}
	free(r);
	return ret < 0 ? -1 : 0;
}

/* The service's error code in the body, sanitised, into out. */
static void service_code(const struct ps_http_response *rs, char *out,
			 size_t cap)
{
	const char *s = NULL, *end = NULL;
	yajl_val tree = NULL;
	size_t i, k = 0;

	out[0] = '\0';
	if (rs->body.len == 0)
		return;
	if (rs->body.data[0] == '{')
		tree = ps_json_parse(rs->body.data, rs->body.len, NULL, 0);
	if (tree) {
		yajl_val err = ps_json_get(tree, "error"), code = NULL;

		if (YAJL_IS_OBJECT(err))
			code = ps_json_get(err, "code");
		else if (YAJL_IS_STRING(err))
			code = err;
		if (YAJL_IS_STRING(code)) {
			s = YAJL_GET_STRING(code);
			end = s + strlen(s);
		}
	} else if ((s = strstr(rs->body.data, "<Code>"))) {
		s += 6;
		end = strstr(s, "</Code>");
		if (!end)
			s = NULL;
	}
	for (i = 0; s && s + i < end && k + 1 < cap && k < 64; i++) {
		char ch = s[i];

		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' ||
		    ch == '.')
			out[k++] = ch;
	}
	out[k] = '\0';
	if (tree)
		yajl_tree_free(tree);
}

int ps_http_status_error(const struct ps_http_response *rs, const char *what,
			 struct ps_error *e)
{
	long s = rs->status;
	char code[80];
	int x;

	if (s >= 200 && s <= 299)
		return 0;
	if (s == 401 || s == 403)
		x = PS_EX_CONFIG;
	else if (s == 404)
		x = PS_EX_NOINPUT;
	else if (retryable_status(s) || s >= 500)
		x = PS_EX_TEMPFAIL;
	else
		x = PS_EX_DATAERR;
	service_code(rs, code, sizeof(code));
	return ps_error_set(e, x, "%s: HTTP %ld%s%s", what, s,
			    code[0] ? " " : "", code);
}

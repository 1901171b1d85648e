/*
 * http.h - HTTPS requests with timeouts, retries and parallelism.  The only
 * module that includes libcurl; callers never see a curl type.
 *
 * A struct ps_http is a client: settings shared by all its requests (CA
 * bundle, timeouts, retry policy) and a connection cache.  A request names
 * a method, a URL, headers and an optional body, taken from memory or from
 * a range of a file (read with pread, so a large file is never loaded whole
 * and several requests may share one fd).  The response holds the status,
 * the headers and the body.
 *
 * Retries: a connection-level failure (cannot resolve or connect, timeout,
 * connection reset, empty reply) and the statuses 408, 429 and 5xx (except
 * 501 and 505) are retried up to max_retries times, waiting an exponential
 * backoff with jitter (a random time between half and all of
 * backoff_ms * 2^attempt, at most backoff_max_ms) or, when the response
 * carries Retry-After (seconds or an HTTP date), that long (capped at
 * retry_after_max_ms).  A request body is re-sent from its start on each
 * attempt.  After the last attempt the last response is returned as is.
 *
 * TLS peer and host verification are always on and cannot be turned off.
 * A private CA is trusted through ca_bundle, else the PS_CA_BUNDLE
 * environment variable, else the system store.
 *
 * Secrets: no error message and no log event ever contains a header value,
 * a body, or the query part of a URL (which may hold a SAS token); URLs in
 * messages are cut at the '?'.  Logs (PS_DEBUG) show method, scheme, host,
 * path, status, attempt and elapsed time only.
 *
 * Threads: a client and its pools are used by one thread at a time.
 * Parallel requests run in that thread through an event loop (curl multi).
 */
#ifndef PS_HTTP_H
#define PS_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"

/* Client settings.  Start from PS_HTTP_OPTS_INIT and change what you need. */
struct ps_http_opts {
	const char *ca_bundle;	/* PEM file of trusted CAs, or NULL (then
				   $PS_CA_BUNDLE, else the system store);
				   copied by ps_http_new */
	long connect_timeout_ms; /* per attempt, to establish a connection */
	long timeout_ms;	/* per attempt, whole transfer; 0 = none */
	long stall_timeout_ms;	/* abort an attempt that moves no byte for
				   this long; 0 = never */
	int max_retries;	/* further attempts after the first */
	long backoff_ms;	/* first backoff (before jitter) */
	long backoff_max_ms;	/* cap on one backoff */
	long retry_after_max_ms; /* cap on an honoured Retry-After */
	size_t max_body;	/* largest response body kept in memory;
				   a larger one fails the request (74) */
	const char *user_agent;	/* NULL: "pulsestream/VERSION" */
};

#define PS_HTTP_OPTS_INIT {						\
	NULL, 10000, 300000, 60000, 4, 250, 16000, 60000,		\
	(size_t)64 << 20, NULL }

struct ps_http;	/* opaque client */

/*
 * A new client with a copy of the settings in o (NULL: the defaults).
 * Returns NULL with e filled: 78 when the CA bundle is unreadable, 70 when
 * libcurl cannot start.  Free with ps_http_free.
 */
struct ps_http *ps_http_new(const struct ps_http_opts *o, struct ps_error *e);

/* Free the client; ps_http_free(NULL) is a no-op. */
void ps_http_free(struct ps_http *c);

/*
 * Make running requests stop soon after *flag becomes non-zero (e.g.
 * ps_stop_flag()): they end with 75 "interrupted".  NULL disables it.
 */
void ps_http_set_interrupt(struct ps_http *c, volatile int *flag);

/* One request header.  Values may be secrets: they are never logged. */
struct ps_http_header {
	const char *name;
	const char *value;
};

/*
 * A request.  The caller owns every pointer in it and keeps them alive
 * until the request is done.  Body: body_mem (body_len bytes), or, when
 * body_mem is NULL and body_fd >= 0, body_len bytes of the file body_fd
 * from body_offset; neither: no body.  A body is sent with
 * Content-Length (never chunked) and without "Expect: 100-continue".
 */
struct ps_http_request {
	const char *method;	/* "GET", "PUT", "POST", "DELETE"... */
	const char *url;	/* https://... (plain http:// only to
				   loopback or 169.254.169.254) */
	const struct ps_http_header *headers;
	size_t nheaders;
	const void *body_mem;
	int body_fd;
	int64_t body_offset;
	int64_t body_len;
};

#define PS_HTTP_REQUEST_INIT { "GET", NULL, NULL, 0, NULL, -1, 0, 0 }

/* A response.  Start from PS_HTTP_RESPONSE_INIT; release when done. */
struct ps_http_response {
	long status;		/* HTTP status, 0 when no response came */
	struct ps_http_header *headers;	/* malloc'd names and values */
	size_t nheaders;
	struct ps_buf body;	/* NUL-terminated after body.len bytes */
	int attempts;		/* how many attempts were made */
};

#define PS_HTTP_RESPONSE_INIT { 0, NULL, 0, PS_BUF_INIT, 0 }

/*
 * Free what r holds and reset it to PS_HTTP_RESPONSE_INIT.  The body is
 * wiped first (it may hold a secret or a token).
 */
void ps_http_response_release(struct ps_http_response *r);

/*
 * The value of the last response header called name (any case), or NULL.
 * The pointer lives as long as r is not released.
 */
const char *ps_http_response_header(const struct ps_http_response *r,
				    const char *name);

/*
 * Perform rq with the client's retry policy; rs must be released (or
 * fresh).  Returns 0 when a response arrived, whatever its status (check
 * rs->status, or use ps_http_status_error), or -1 with e filled when none
 * did: 69 (cannot connect, resolve, TLS failure), 75 (timeout, reset,
 * interrupted), 74 (cannot read the body file, response over max_body),
 * 64 (bad URL or request, or a URL ps_http_url_check refuses), 70
 * (internal).
 */
int ps_http_do(struct ps_http *c, const struct ps_http_request *rq,
	       struct ps_http_response *rs, struct ps_error *e);

/*
 * When rs->status is not 2xx, fill e and return -1; else return 0.  The
 * message reads "WHAT: HTTP STATUS CODE" where CODE is the service's error
 * code when the body names one (Azure's JSON "error.code" or XML "<Code>"),
 * never the rest of the body.  Exit code: 401/403 -> 78, 404 -> 66,
 * 408/429/5xx -> 75, other 4xx -> 65.
 */
int ps_http_status_error(const struct ps_http_response *rs, const char *what,
			 struct ps_error *e);

/*
 * A pool runs many requests at once (ps-upload --parallel N): at most
 * `parallel` are in flight, each with its own retries (a request waiting
 * for its backoff does not hold a slot).  Requests are started in the
 * order they were added.
 */
struct ps_http_pool;	/* opaque */

/*
 * Called once per request when it is done: rc is 0 when a response arrived
 * (see ps_http_do), else -1 with e describing the failure.  The callback
 * may add more requests to the pool.  rq and rs are the pointers given to
 * ps_http_pool_add; the callback may release rs and free rq.
 */
typedef void (*ps_http_done_fn)(void *ctx, const struct ps_http_request *rq,
				struct ps_http_response *rs, int rc,
				const struct ps_error *e);

/* A pool on client c running at most parallel (>= 1) requests at once. */
struct ps_http_pool *ps_http_pool_new(struct ps_http *c, int parallel);

/* Free the pool (requests still queued are dropped); NULL is a no-op. */
void ps_http_pool_free(struct ps_http_pool *p);

/*
 * Queue rq; its response goes to rs (fresh or released) and done is called
 * (when not NULL) with ctx once it is over.  Nothing runs until
 * ps_http_pool_run.  Cannot fail.
 */
void ps_http_pool_add(struct ps_http_pool *p, const struct ps_http_request *rq,
		      struct ps_http_response *rs, ps_http_done_fn done,
		      void *ctx);

/*
 * Run until every queued request (including those added by callbacks) is
 * done.  Returns 0, or -1 with e filled when the loop itself failed (70) or
 * was interrupted (75; unfinished requests are then reported to their
 * callbacks with rc -1).  Per-request failures go to the callbacks only.
 */
int ps_http_pool_run(struct ps_http_pool *p, struct ps_error *e);

/*
 * Convenience: run the n requests rq[i] with responses rs[i], at most
 * parallel at once, and store each one's result (0 or -1) in rc[i] and its
 * error in errs[i] (errs may be NULL).  Returns 0 when every rc[i] is 0,
 * else -1 with e holding the first failure (in index order).
 */
int ps_http_do_all(struct ps_http *c, const struct ps_http_request *rq,
		   struct ps_http_response *rs, int *rc,
		   struct ps_error *errs, size_t n, int parallel,
		   struct ps_error *e);

/*
 * Append s percent-encoded (RFC 3986: everything but unreserved
 * characters A-Z a-z 0-9 - . _ ~, and '/' when keep_slash is set).
 */
void ps_http_escape(struct ps_buf *b, const char *s, int keep_slash);

/*
 * URLs.  Every URL check parses with libcurl's URL API, the parse a
 * transfer then uses, and compares whole parts (never string prefixes).
 * A URL with user:password@ or a #fragment is refused: credentials come
 * from the vault, never from a URL.
 */
struct ps_url {
	char *scheme;	/* lower case, "https" */
	char *host;	/* "[::1]" for IPv6; never empty */
	char *port;	/* NULL when the URL names none */
	char *path;	/* "/" at least */
	char *query;	/* NULL when absent */
};

/*
 * Split url into *u (malloc'd parts; release with ps_http_url_release).
 * Returns 0, or -1 with e filled (64) when url is not a valid absolute
 * URL, carries user:password@ or a fragment.  *u is zeroed on error.
 */
int ps_http_url_parse(const char *url, struct ps_url *u, struct ps_error *e);

/* Free the parts of u and zero it. */
void ps_http_url_release(struct ps_url *u);

/*
 * The rule every request obeys (ps_http_do checks it again): https to any
 * host, plain http only when the parsed host is exactly 127.0.0.1,
 * localhost, [::1] or 169.254.169.254 (instance metadata).  Returns 0, or
 * -1 with e filled (64).  Callers that take a URL from configuration
 * check it at start-up with this to fail early.
 */
int ps_http_url_check(const char *url, struct ps_error *e);

/*
 * 1 when a and b parse and have the same scheme, host and port (a token
 * for one must never be sent to another), else 0.
 */
int ps_http_same_origin(const char *a, const char *b);

/*
 * Append the loggable form of url to b: scheme, host, port and path, with
 * the query and any user:password@ removed.
 */
void ps_http_redact_url(struct ps_buf *b, const char *url);

#endif

/*
 * httpd.c - documents in memory and one SSE stream over libmicrohttpd
 * (see httpd.h).  Written from the libmicrohttpd reference manual and the
 * WHATWG HTML "Server-sent events" section.
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "httpd.h"
#include "log.h"
#include "pstime.h"
#include "banned.h"

struct doc {
	char *path, *type, *data;
	size_t len;
};

struct client {
	struct ps_httpd *h;
	struct MHD_Connection *conn;
	struct client *prev, *next;
	int suspended, want_ping;
	unsigned long long sent;	/* generation last queued */
	struct ps_buf out;
	size_t off;
};

/*
 * Every open connection, to enforce a deadline on each request: the
 * library's own timeout only drops idle connections, and a client that
 * trickles a byte now and then is never idle.  A connection that has not
 * sent a whole request timeout seconds after it connected (or after its
 * previous request ended) has its socket shut down; the library then
 * closes it.  busy: a request is being answered (an SSE stream included).
 */
struct track {
	struct track *prev, *next;
	int fd, busy, cut;
	double start;
};

struct ps_httpd {
	struct MHD_Daemon *d;
	struct track *tracks;
	unsigned timeout;
	pthread_mutex_t mu;
	struct doc *docs;
	size_t ndocs;
	char *sse_path;
	char *event, *event_id;		/* the latest event, formatted */
	unsigned long long gen;		/* events published */
	struct client *clients;
	unsigned nclients;
	unsigned long requests;
	unsigned keepalive;
	double last_ping;
	int stopping, port;
};

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = 0;
	ps_log(PS_DEBUG, "httpd", PS_S("detail", msg));
}

static enum MHD_Result queue(struct MHD_Connection *c, unsigned status,
			     const char *type, const void *p, size_t n,
			     const char *allow)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
		n, (void *)p, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result rc;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Content-Security-Policy",
				"default-src 'none'; style-src 'unsafe-inline'; "
				"script-src 'unsafe-inline'; connect-src "
				"'self'; img-src 'self' data:");
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	rc = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return rc;
}

static const char text[] = "text/plain; charset=utf-8";

static void cut_overdue(struct ps_httpd *h, double now);

/* ------------------------------------------------------------------ */
/* SSE                                                                 */
/* ------------------------------------------------------------------ */

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct client *c = cls;
	struct ps_httpd *h = c->h;
	size_t n;

	(void)pos;
	pthread_mutex_lock(&h->mu);
	if (c->off == c->out.len) {
		c->off = 0;
		ps_buf_reset(&c->out);
		if (c->sent < h->gen && h->event) {
			ps_buf_adds(&c->out, h->event);
			c->sent = h->gen;
			c->want_ping = 0;
		} else if (h->stopping) {
			pthread_mutex_unlock(&h->mu);
			return MHD_CONTENT_READER_END_OF_STREAM;
		} else if (c->want_ping) {
			ps_buf_adds(&c->out, ": keepalive\n\n");
			c->want_ping = 0;
		} else {
			c->suspended = 1;
			MHD_suspend_connection(c->conn);
			pthread_mutex_unlock(&h->mu);
			return 0;
		}
	}
	n = c->out.len - c->off;
	if (n > max)
		n = max;
	memcpy(buf, c->out.data + c->off, n);
	c->off += n;
	pthread_mutex_unlock(&h->mu);
	return (ssize_t)n;
}

static void sse_free(void *cls)
{
	struct client *c = cls;
	struct ps_httpd *h = c->h;

	pthread_mutex_lock(&h->mu);
	if (c->prev)
		c->prev->next = c->next;
	else
		h->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	h->nclients--;
	pthread_mutex_unlock(&h->mu);
	ps_buf_release(&c->out);
	free(c);
}

static enum MHD_Result sse_open(struct ps_httpd *h, struct MHD_Connection *conn)
{
	struct client *c = ps_xcalloc(1, sizeof(*c));
	const char *last = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						       "Last-Event-ID");
	struct MHD_Response *r;
	enum MHD_Result rc;

	c->h = h;
	c->conn = conn;
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, sse_read,
					      c, sse_free);
	if (!r) {
		free(c);
		return MHD_NO;
	}
	pthread_mutex_lock(&h->mu);
	/* Up to date already: wait for the next event; else get the latest. */
	c->sent = h->gen && last && h->event_id &&
		  !strcmp(last, h->event_id) ? h->gen : 0;
	/* The retry hint first, so browsers reconnect quickly. */
	ps_buf_adds(&c->out, "retry: 1000\n\n");
	c->next = h->clients;
	if (h->clients)
		h->clients->prev = c;
	h->clients = c;
	h->nclients++;
	pthread_mutex_unlock(&h->mu);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				"text/event-stream");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(r, "X-Accel-Buffering", "no");
	rc = MHD_queue_response(conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return rc;
}

/* Wake every suspended client (the lock is held). */
static void wake_all(struct ps_httpd *h)
{
	struct client *c;

	for (c = h->clients; c; c = c->next)
		if (c->suspended) {
			c->suspended = 0;
			MHD_resume_connection(c->conn);
		}
}

void ps_httpd_publish(struct ps_httpd *h, const char *id, const char *event,
		      const char *data)
{
	struct ps_buf b = PS_BUF_INIT;
	const char *s = data, *nl;

	ps_buf_addf(&b, "id: %s\nevent: %s\n", id, event);
	do {
		nl = strchr(s, '\n');
		ps_buf_adds(&b, "data: ");
		ps_buf_add(&b, s, nl ? (size_t)(nl - s) : strlen(s));
		ps_buf_addc(&b, '\n');
		s = nl ? nl + 1 : NULL;
	} while (s && *s);
	ps_buf_addc(&b, '\n');
	pthread_mutex_lock(&h->mu);
	free(h->event);
	free(h->event_id);
	h->event = ps_buf_detach(&b, NULL);
	h->event_id = ps_xstrdup(id);
	h->gen++;
	wake_all(h);
	pthread_mutex_unlock(&h->mu);
}

void ps_httpd_tick(struct ps_httpd *h)
{
	struct client *c;
	double now = ps_mono();

	pthread_mutex_lock(&h->mu);
	cut_overdue(h, now);
	if (now - h->last_ping >= h->keepalive) {
		h->last_ping = now;
		for (c = h->clients; c; c = c->next)
			c->want_ping = 1;
		wake_all(h);
	}
	pthread_mutex_unlock(&h->mu);
}

/* ------------------------------------------------------------------ */
/* Request deadlines                                                   */
/* ------------------------------------------------------------------ */

static void on_connection(void *cls, struct MHD_Connection *conn,
			  void **ctx, enum MHD_ConnectionNotificationCode toe)
{
	struct ps_httpd *h = cls;
	struct track *t = *ctx;

	pthread_mutex_lock(&h->mu);
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
			conn, MHD_CONNECTION_INFO_CONNECTION_FD);

		t = ps_xcalloc(1, sizeof(*t));
		t->fd = ci ? ci->connect_fd : -1;
		t->start = ps_mono();
		t->next = h->tracks;
		if (h->tracks)
			h->tracks->prev = t;
		h->tracks = t;
		*ctx = t;
	} else if (t) {		/* closed: the socket is still open here */
		if (t->prev)
			t->prev->next = t->next;
		else
			h->tracks = t->next;
		if (t->next)
			t->next->prev = t->prev;
		free(t);
		*ctx = NULL;
	}
	pthread_mutex_unlock(&h->mu);
}

static struct track *track_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
		conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

static void on_completed(void *cls, struct MHD_Connection *conn,
			 void **state, enum MHD_RequestTerminationCode toe)
{
	struct ps_httpd *h = cls;
	struct track *t = track_of(conn);

	(void)state;
	(void)toe;
	pthread_mutex_lock(&h->mu);
	if (t) {		/* keep-alive: the next request's clock */
		t->busy = 0;
		t->start = ps_mono();
	}
	pthread_mutex_unlock(&h->mu);
}

/* Cut connections whose request is overdue (the lock is held). */
static void cut_overdue(struct ps_httpd *h, double now)
{
	struct track *t;

	for (t = h->tracks; t; t = t->next)
		if (!t->busy && !t->cut && t->fd >= 0 &&
		    now - t->start > h->timeout) {
			shutdown(t->fd, SHUT_RDWR);
			t->cut = 1;
		}
}

/* ------------------------------------------------------------------ */
/* Requests                                                            */
/* ------------------------------------------------------------------ */

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn,
			      const char *url, const char *method,
			      const char *version, const char *upload,
			      size_t *upload_size, void **state)
{
	static int seen;
	struct ps_httpd *h = cls;
	size_t i;

	(void)version;
	(void)upload;
	if (strcmp(method, MHD_HTTP_METHOD_GET) &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD))
		return queue(conn, MHD_HTTP_METHOD_NOT_ALLOWED, text,
			     "method not allowed\n", 19, "GET, HEAD");
	if (!*state) {		/* headers only so far */
		struct track *t = track_of(conn);

		pthread_mutex_lock(&h->mu);
		if (t)
			t->busy = 1;
		pthread_mutex_unlock(&h->mu);
		*state = &seen;
		return MHD_YES;
	}
	if (*upload_size)	/* a body with GET: refused */
		return queue(conn, MHD_HTTP_BAD_REQUEST, text,
			     "unexpected request body\n", 24, NULL);
	pthread_mutex_lock(&h->mu);
	h->requests++;
	pthread_mutex_unlock(&h->mu);
	if (h->sse_path && !strcmp(url, h->sse_path))
		return sse_open(h, conn);
	pthread_mutex_lock(&h->mu);
	for (i = 0; i < h->ndocs; i++)
		if (!strcmp(h->docs[i].path, url)) {
			enum MHD_Result rc = queue(conn, MHD_HTTP_OK,
						   h->docs[i].type,
						   h->docs[i].data,
						   h->docs[i].len, NULL);

			pthread_mutex_unlock(&h->mu);
			return rc;
		}
	pthread_mutex_unlock(&h->mu);
	return queue(conn, MHD_HTTP_NOT_FOUND, text, "not found\n", 10, NULL);
}

void ps_httpd_set(struct ps_httpd *h, const char *path, const char *type,
		  const void *p, size_t len)
{
	char *copy = ps_xmalloc(len + 1);
	size_t i;

	memcpy(copy, p, len);
	copy[len] = 0;
	pthread_mutex_lock(&h->mu);
	for (i = 0; i < h->ndocs && strcmp(h->docs[i].path, path); i++)
		;
	if (i == h->ndocs) {
		h->docs = ps_xrealloc(h->docs, (h->ndocs + 1) *
				      sizeof(*h->docs));
		h->docs[i].path = ps_xstrdup(path);
		h->docs[i].type = ps_xstrdup(type);
		h->docs[i].data = NULL;
		h->ndocs++;
	}
	free(h->docs[i].data);
	h->docs[i].data = copy;
	h->docs[i].len = len;
	pthread_mutex_unlock(&h->mu);
}

struct ps_httpd *ps_httpd_start(const struct ps_httpd_opts *o,
				struct ps_error *e)
{
	struct ps_httpd *h = ps_xcalloc(1, sizeof(*h));
	const char *addr = o->addr ? o->addr : "127.0.0.1";
	struct sockaddr_in a4;
	struct sockaddr_in6 a6;
	const struct sockaddr *sa;
	unsigned flags = MHD_USE_AUTO | MHD_USE_INTERNAL_POLLING_THREAD |
			 MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	const union MHD_DaemonInfo *info;

	memset(&a4, 0, sizeof(a4));
	memset(&a6, 0, sizeof(a6));
	if (inet_pton(AF_INET, addr, &a4.sin_addr) == 1) {
		a4.sin_family = AF_INET;
		a4.sin_port = htons((uint16_t)o->port);
		sa = (const struct sockaddr *)&a4;
	} else if (inet_pton(AF_INET6, addr, &a6.sin6_addr) == 1) {
		a6.sin6_family = AF_INET6;
		a6.sin6_port = htons((uint16_t)o->port);
		sa = (const struct sockaddr *)&a6;
		flags |= MHD_USE_IPv6;
	} else {
		free(h);
		ps_error_set(e, 64, "not an IP address: '%s'", addr);
		return NULL;
	}
	pthread_mutex_init(&h->mu, NULL);
	h->sse_path = o->sse_path ? ps_xstrdup(o->sse_path) : NULL;
	h->keepalive = o->keepalive ? o->keepalive : 15;
	h->timeout = o->timeout ? o->timeout : 10;
	h->last_ping = ps_mono();
	h->d = MHD_start_daemon(
		flags, (uint16_t)o->port, NULL, NULL, handle, h,
		MHD_OPTION_SOCK_ADDR, sa,
		MHD_OPTION_CONNECTION_LIMIT, o->max_conns,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, o->max_request,
		MHD_OPTION_CONNECTION_TIMEOUT, o->timeout,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
		MHD_OPTION_END);
	if (!h->d) {
		pthread_mutex_destroy(&h->mu);
		free(h->sse_path);
		free(h);
		ps_error_set(e, 69, "cannot listen on %s port %d (in use, or "
			     "not an address of this machine)", addr, o->port);
		return NULL;
	}
	info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
	h->port = info ? info->port : o->port;
	return h;
}

int ps_httpd_port(const struct ps_httpd *h)
{
	return h->port;
}

unsigned ps_httpd_clients(const struct ps_httpd *h)
{
	return h->nclients;
}

unsigned long ps_httpd_requests(const struct ps_httpd *h)
{
	return h->requests;
}

void ps_httpd_stop(struct ps_httpd *h)
{
	size_t i;
	int k;

	if (!h)
		return;
	/* End every SSE stream, then wait (bounded) for them to close:
	 * stopping the daemon with suspended connections is not allowed. */
	pthread_mutex_lock(&h->mu);
	h->stopping = 1;
	wake_all(h);
	pthread_mutex_unlock(&h->mu);
	for (k = 0; k < 200; k++) {
		int busy;
		struct timespec ts = { 0, 10000000 };

		pthread_mutex_lock(&h->mu);
		wake_all(h);
		busy = h->clients != NULL;
		pthread_mutex_unlock(&h->mu);
		if (!busy)
			break;
		nanosleep(&ts, NULL);
	}
	MHD_stop_daemon(h->d);
	for (i = 0; i < h->ndocs; i++) {
		free(h->docs[i].path);
		free(h->docs[i].type);
		free(h->docs[i].data);
	}
	free(h->docs);
	free(h->event);
	free(h->event_id);
	free(h->sse_path);
	pthread_mutex_destroy(&h->mu);
	free(h);
}

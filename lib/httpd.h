/*
 * httpd.h - a small HTTP server for documents held in memory, and one
 * Server-Sent Events stream, over GNU libmicrohttpd.  The only module
 * that includes <microhttpd.h>.
 *
 * The server answers GET and HEAD only (other methods: 405 with Allow),
 * serves only the exact paths it was given (no file system access, so
 * "..", encoded or not, is simply an unknown path: 404), bounds the
 * request size (URL and headers together: larger requests get 414 or 431
 * or are dropped by libmicrohttpd), the number of connections (more wait
 * in the kernel's backlog, unanswered) and how long a client may take to
 * send its request (ps_httpd_tick shuts overdue ones down, however slowly
 * they keep sending).  One internal thread polls every
 * connection (epoll where available); SSE clients are suspended while
 * there is nothing to send, so they cost no CPU and little memory.
 *
 * SSE: every ps_httpd_publish sends "id: ID\nevent: EVENT\ndata: DATA\n\n"
 * to every client of the stream.  A client that connects (or reconnects
 * with a Last-Event-ID other than the latest id) gets the latest event at
 * once, so nothing published while it was away is missed: events carry
 * state, not deltas.  Every keepalive seconds an idle client gets a
 * comment line, which also finds clients that went away.
 */
#ifndef PS_HTTPD_H
#define PS_HTTPD_H

#include <stddef.h>

#include "error.h"

struct ps_httpd_opts {
	const char *addr;		/* IPv4 or IPv6 literal; NULL:
					   127.0.0.1 */
	int port;			/* 0: any free port */
	unsigned max_conns;		/* connections at once */
	size_t max_request;		/* bytes of URL + headers */
	unsigned timeout;		/* seconds a client may take to send
					   a request; also the idle limit */
	const char *sse_path;		/* "/events", or NULL */
	unsigned keepalive;		/* seconds between SSE comments */
};

#define PS_HTTPD_OPTS_INIT { NULL, 0, 256, 16384, 10, NULL, 15 }

struct ps_httpd;

/*
 * Start serving in a background thread.  Returns the server, or NULL
 * with e filled: 64 a bad address, 69 the address cannot be bound.
 */
struct ps_httpd *ps_httpd_start(const struct ps_httpd_opts *o,
				struct ps_error *e);

/* The port actually bound (useful with port 0). */
int ps_httpd_port(const struct ps_httpd *h);

/*
 * Serve len bytes at p (copied) as path (exact match, e.g. "/") with
 * content type type, replacing what was there.  Safe from any thread.
 * Cannot fail (out of memory aborts).
 */
void ps_httpd_set(struct ps_httpd *h, const char *path, const char *type,
		  const void *p, size_t len);

/*
 * Send an event to every SSE client (id and event: no newlines; data may
 * hold newlines: each line becomes a "data:" line).  Safe from any
 * thread.  Cannot fail.
 */
void ps_httpd_publish(struct ps_httpd *h, const char *id, const char *event,
		      const char *data);

/* Counters: SSE clients connected now, requests answered so far. */
unsigned ps_httpd_clients(const struct ps_httpd *h);
unsigned long ps_httpd_requests(const struct ps_httpd *h);

/* Drop clients whose request is overdue, send keepalive comments to idle
 * SSE clients when due; call it every 100 ms or so.  Cannot fail. */
void ps_httpd_tick(struct ps_httpd *h);

/* Stop serving and free h (NULL: no-op).  Cannot fail. */
void ps_httpd_stop(struct ps_httpd *h);

#endif

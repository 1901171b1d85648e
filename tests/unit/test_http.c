/*
 * test_http.c - lib/http against a scripted HTTP server in a thread on
 * 127.0.0.1: retries, Retry-After, giving up, bodies from file ranges,
 * the parallel pool, size caps, error mapping and URL redaction.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http.h"
#include "log.h"
#include "banned.h"

#define MAX_REQ 64

struct server {
	int fd, port;
	char **replies;			/* raw; the last one repeats */
	int nreplies;
	int expect;			/* connections to serve */
	int seen;
	char *method[MAX_REQ];
	char *path[MAX_REQ];
	char *body[MAX_REQ];
	char *auth[MAX_REQ];
	pthread_t th;
};

static char *dup_n(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

static char *header_value(const char *head, const char *name)
{
	const char *p = strcasestr(head, name), *end;

	if (!p)
		return NULL;
	p += strlen(name);
	while (*p == ' ')
		p++;
	end = strstr(p, "\r\n");
	if (!end)
		end = p + strlen(p);
	return dup_n(p, (size_t)(end - p));
}

static void *serve(void *arg)
{
	struct server *s = arg;

	while (s->seen < s->expect) {
		char buf[65536];
		size_t len = 0, need;
		char *eoh, *cl;
		const char *reply;
		int c = accept(s->fd, NULL, NULL);
		ssize_t r;

		if (c < 0)
			break;
		while (!(eoh = memmem(buf, len, "\r\n\r\n", 4)) &&
		       (r = read(c, buf + len, sizeof(buf) - 1 - len)) > 0)
			len += (size_t)r;
		if (!eoh) {
			close(c);
			continue;
		}
		buf[len] = '\0';
		*eoh = '\0';
		cl = header_value(buf, "\r\nContent-Length:");
		need = (size_t)(eoh + 4 - buf) +
		       (cl ? strtoul(cl, NULL, 10) : 0);
		free(cl);
		while (len < need &&
		       (r = read(c, buf + len, sizeof(buf) - 1 - len)) > 0)
			len += (size_t)r;
		if (s->seen < MAX_REQ) {
			char *sp1 = strchr(buf, ' ');
			char *sp2 = strchr(sp1 + 1, ' ');
			char *b0 = eoh + 4;

			s->method[s->seen] = dup_n(buf, (size_t)(sp1 - buf));
			s->path[s->seen] = dup_n(sp1 + 1,
						 (size_t)(sp2 - sp1 - 1));
			s->body[s->seen] = dup_n(b0, need - (size_t)(b0 - buf));
			s->auth[s->seen] = header_value(buf,
							"\r\nAuthorization:");
		}
		reply = s->replies[s->seen < s->nreplies ? s->seen :
				   s->nreplies - 1];
		if (write(c, reply, strlen(reply)) < 0)
			cr_log_warn("server write failed");
		close(c);
		s->seen++;
	}
	return NULL;
}

static void server_start(struct server *s, char **replies,
			 int n, int expect)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	int one = 1;

	signal(SIGPIPE, SIG_IGN);
	memset(s, 0, sizeof(*s));
	s->replies = replies;
	s->nreplies = n;
	s->expect = expect;
	s->fd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(s->fd, 64), 0);
	getsockname(s->fd, (struct sockaddr *)&a, &al);
	s->port = ntohs(a.sin_port);
	pthread_create(&s->th, NULL, serve, s);
}

static void server_stop(struct server *s)
{
	pthread_join(s->th, NULL);
	close(s->fd);
}

/* Free what the server recorded (after the checks). */
static void server_free(struct server *s)
{
	int i;

	for (i = 0; i < MAX_REQ; i++) {
		free(s->method[i]);
		free(s->path[i]);
		free(s->body[i]);
		free(s->auth[i]);
	}
}

/* A complete response with a correct Content-Length (free it). */
static char *reply(const char *status, const char *headers,
			 const char *body)
{
	struct ps_buf b = PS_BUF_INIT;

	ps_buf_addf(&b, "HTTP/1.1 %s\r\n%sContent-Length: %zu\r\n"
		    "Connection: close\r\n\r\n%s", status, headers,
		    strlen(body), body);
	return ps_buf_detach(&b, NULL);
}

static struct ps_http *client(int retries)
{
	struct ps_http_opts o = PS_HTTP_OPTS_INIT;
	struct ps_error e = { 0, "" };
	struct ps_http *c;

	ps_log_set_level(PS_ERROR);	/* no retry warnings in output */
	o.max_retries = retries;
	o.backoff_ms = 1;
	o.backoff_max_ms = 4;
	o.connect_timeout_ms = 2000;
	o.timeout_ms = 10000;
	c = ps_http_new(&o, &e);
	cr_assert_not_null(c, "%s", e.msg);
	return c;
}

#define OK_REPLY "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n" \
		 "X-Ms-Request-Id: abc\r\nConnection: close\r\n\r\nok"
#define BUSY_REPLY "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 0\r\n" \
		   "Content-Length: 0\r\nConnection: close\r\n\r\n"

Test(http, retries_503_then_succeeds)
{
	char *replies[] = { BUSY_REPLY, BUSY_REPLY,
					       OK_REPLY };
	struct ps_http_request rq = PS_HTTP_REQUEST_INIT;
	struct ps_http_response rs = PS_HTTP_RESPONSE_INIT;
	struct ps_http_header h[] = { { "Authorization", "Bearer tok" } };
	struct ps_error e = { 0, "" };
	struct server s;
	struct ps_http *c = client(4);
	char url[64];

	server_start(&s, replies, 3, 3);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/a?sig=x", s.port);
	rq.url = url;
	rq.headers = h;
	rq.nheaders = 1;
	cr_assert_eq(ps_http_do(c, &rq, &rs, &e), 0, "%s", e.msg);
	cr_assert_eq(rs.status, 200);
	cr_assert_eq(rs.attempts, 3);
	cr_assert_str_eq(rs.body.data, "ok");
	cr_assert_str_eq(ps_http_response_header(&rs, "x-ms-request-id"),
			 "abc");
	cr_assert_null(ps_http_response_header(&rs, "retry-after"));
	cr_assert_eq(ps_http_status_error(&rs, "get", &e), 0);
	server_stop(&s);
	cr_assert_eq(s.seen, 3);
	cr_assert_str_eq(s.method[0], "GET");
	cr_assert_str_eq(s.path[2], "/a?sig=x");
	cr_assert_str_eq(s.auth[2], "Bearer tok");
	ps_http_response_release(&rs);
	server_free(&s);
	ps_http_free(c);
}

Test(http, gives_up_and_returns_the_last_response)
{
	char *replies[1];
	struct ps_http_request rq = PS_HTTP_REQUEST_INIT;
	struct ps_http_response rs = PS_HTTP_RESPONSE_INIT;
	struct ps_error e = { 0, "" };
	struct server s;
	struct ps_http *c = client(2);
	char url[64];

	replies[0] = reply("429 Too Many Requests", "Retry-After: 0\r\n"
			   "Content-Type: application/json\r\n",
			   "{\"error\":{\"code\":\"Throttled\","
			   "\"message\":\"x y\"}}");
	server_start(&s, replies, 1, 3);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/t", s.port);
	rq.url = url;
	cr_assert_eq(ps_http_do(c, &rq, &rs, &e), 0);
	cr_assert_eq(rs.status, 429);
	cr_assert_eq(rs.attempts, 3);
	cr_assert_eq(ps_http_status_error(&rs, "list", &e), -1);
	cr_assert_eq(e.code, PS_EX_TEMPFAIL);
	cr_assert_str_eq(e.msg, "list: HTTP 429 Throttled");
	server_stop(&s);
	ps_http_response_release(&rs);
	server_free(&s);
	free(replies[0]);
	ps_http_free(c);
}

Test(http, client_errors_are_not_retried)
{
	char *replies[1];
	struct ps_http_request rq = PS_HTTP_REQUEST_INIT;
	struct ps_http_response rs = PS_HTTP_RESPONSE_INIT;
	struct ps_error e = { 0, "" };
	struct server s;
	struct ps_http *c = client(3);
	char url[64];

	replies[0] = reply("404 Not Found", "",
			   "{\"error\":{\"code\":\"SecretNotFound\","
			   "\"message\":\"value-like text stays out\"}}");
	server_start(&s, replies, 1, 1);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/secrets/x", s.port);
	rq.url = url;
	rq.method = "DELETE";
	cr_assert_eq(ps_http_do(c, &rq, &rs, &e), 0);
	server_stop(&s);
	cr_assert_eq(rs.status, 404);
	cr_assert_eq(rs.attempts, 1);
	cr_assert_str_eq(s.method[0], "DELETE");
	cr_assert_eq(ps_http_status_error(&rs, "rm", &e), -1);
	cr_assert_eq(e.code, PS_EX_NOINPUT);
	cr_assert_str_eq(e.msg, "rm: HTTP 404 SecretNotFound");
	ps_http_response_release(&rs);
	server_free(&s);
	free(replies[0]);
	ps_http_free(c);
}

Test(http, body_from_a_file_range_is_resent_on_retry)
{
	char *replies[] = { BUSY_REPLY, OK_REPLY };
	struct ps_http_request rq = PS_HTTP_REQUEST_INIT;
	struct ps_http_response rs = PS_HTTP_RESPONSE_INIT;
	struct ps_error e = { 0, "" };
	char tmpl[] = "/tmp/test_http.XXXXXX", url[64];
	struct ps_http *c = client(2);
	struct server s;
	int fd = mkstemp(tmpl);

	cr_assert_eq(write(fd, "0123456789", 10), 10);
	server_start(&s, replies, 2, 2);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/blob?comp=block",
		 s.port);
	rq.method = "PUT";
	rq.url = url;
	rq.body_fd = fd;
	rq.body_offset = 3;
	rq.body_len = 4;
	cr_assert_eq(ps_http_do(c, &rq, &rs, &e), 0, "%s", e.msg);
	server_stop(&s);
	cr_assert_eq(rs.status, 200);
	cr_assert_str_eq(s.method[0], "PUT");
	cr_assert_str_eq(s.body[0], "3456");
	cr_assert_str_eq(s.body[1], "3456");
	/* POST from memory, and a PUT without a body (Content-Length 0). */
	close(fd);
	unlink(tmpl);
	ps_http_response_release(&rs);
	server_free(&s);
	ps_http_free(c);
}

static void count_done(void *ctx, const struct ps_http_request *rq,
		       struct ps_http_response *rs, int rc,
		       const struct ps_error *e)
{
	int *n = ctx;

	(void)rq;
	cr_assert_eq(rc, 0, "%s", e->msg);
	cr_assert_eq(rs->status, 200);
	(*n)++;
}

Test(http, pool_runs_requests_in_parallel)
{
	char *replies[] = { BUSY_REPLY, OK_REPLY };
	struct ps_http_request rq[10];
	struct ps_http_response rs[10];
	struct ps_http *c = client(3);
	struct ps_http_pool *p;
	struct ps_error e = { 0, "" };
	struct server s;
	char url[64], body[10][8];
	int i, done = 0, seen_bodies = 0;

	server_start(&s, replies, 2, 11);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/p", s.port);
	p = ps_http_pool_new(c, 4);
	for (i = 0; i < 10; i++) {
		struct ps_http_request r = PS_HTTP_REQUEST_INIT;
		struct ps_http_response z = PS_HTTP_RESPONSE_INIT;

		snprintf(body[i], sizeof(body[i]), "b%d", i);
		r.method = "POST";
		r.url = url;
		r.body_mem = body[i];
		r.body_len = (int64_t)strlen(body[i]);
		rq[i] = r;
		rs[i] = z;
		ps_http_pool_add(p, &rq[i], &rs[i], count_done, &done);
	}
	cr_assert_eq(ps_http_pool_run(p, &e), 0, "%s", e.msg);
	ps_http_pool_free(p);
	server_stop(&s);
	cr_assert_eq(done, 10);
	cr_assert_eq(s.seen, 11);	/* one 503 was retried */
	for (i = 0; i < 11; i++)
		seen_bodies += s.body[i][0] == 'b';
	cr_assert_eq(seen_bodies, 11);
	for (i = 0; i < 10; i++)
		ps_http_response_release(&rs[i]);
	server_free(&s);
	ps_http_free(c);
}

Test(http, do_all_reports_each_result)
{
	char *replies[] = { OK_REPLY };
	struct ps_http_request rq[3];
	struct ps_http_response rs[3];
	struct ps_error errs[3], e = { 0, "" };
	struct ps_http *c = client(1);
	struct server s;
	char url[64];
	int rc[3], i;

	server_start(&s, replies, 1, 2);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", s.port);
	for (i = 0; i < 3; i++) {
		struct ps_http_request r = PS_HTTP_REQUEST_INIT;
		struct ps_http_response z = PS_HTTP_RESPONSE_INIT;

		r.url = i == 1 ? "http://example.invalid/x" : url;
		rq[i] = r;
		rs[i] = z;
	}
	cr_assert_eq(ps_http_do_all(c, rq, rs, rc, errs, 3, 2, &e), -1);
	server_stop(&s);
	cr_assert_eq(rc[0], 0);
	cr_assert_eq(rc[1], -1);
	cr_assert_eq(rc[2], 0);
	/* Plain http off loopback is refused before any network use. */
	cr_assert_eq(errs[1].code, PS_EX_USAGE);
	cr_assert_eq(e.code, PS_EX_USAGE);
	for (i = 0; i < 3; i++)
		ps_http_response_release(&rs[i]);
	server_free(&s);
	ps_http_free(c);
}

Test(http, connection_refused_is_unavailable)
{
	struct ps_http_request rq = PS_HTTP_REQUEST_INIT;
	struct ps_http_response rs = PS_HTTP_RESPONSE_INIT;
	struct ps_error e = { 0, "" };
	struct ps_http *c = client(2);
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	char url[96];
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	/* A port that was free a moment ago: nothing listens there. */
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(fd, (struct sockaddr *)&a, sizeof(a));
	getsockname(fd, (struct sockaddr *)&a, &al);
	close(fd);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/x?sig=SECRETSAS",
		 ntohs(a.sin_port));
	rq.url = url;
	cr_assert_eq(ps_http_do(c, &rq, &rs, &e), -1);
	cr_assert_eq(e.code, PS_EX_UNAVAILABLE);
	cr_assert_eq(rs.attempts, 3);
	cr_assert_null(strstr(e.msg, "SECRETSAS"), "%s", e.msg);
	cr_assert(strstr(e.msg, "GET http://127.0.0.1:"), "%s", e.msg);
	ps_http_response_release(&rs);
	ps_http_free(c);
}

Test(http, oversized_response_fails)
{
	char *replies[] = {
		"HTTP/1.1 200 OK\r\nContent-Length: 40\r\nConnection: close"
		"\r\n\r\n0123456789012345678901234567890123456789",
	};
	struct ps_http_opts o = PS_HTTP_OPTS_INIT;
	struct ps_http_request rq = PS_HTTP_REQUEST_INIT;
	struct ps_http_response rs = PS_HTTP_RESPONSE_INIT;
	struct ps_error e = { 0, "" };
	struct server s;
	struct ps_http *c;
	char url[64];

	o.max_body = 10;
	o.max_retries = 0;
	c = ps_http_new(&o, &e);
	server_start(&s, replies, 1, 1);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/big", s.port);
	rq.url = url;
	cr_assert_eq(ps_http_do(c, &rq, &rs, &e), -1);
	cr_assert_eq(e.code, PS_EX_IOERR);
	server_stop(&s);
	ps_http_response_release(&rs);
	server_free(&s);
	ps_http_free(c);
}

Test(http, missing_ca_bundle_is_a_config_error)
{
	struct ps_http_opts o = PS_HTTP_OPTS_INIT;
	struct ps_error e = { 0, "" };

	o.ca_bundle = "/nonexistent/ca.pem";
	cr_assert_null(ps_http_new(&o, &e));
	cr_assert_eq(e.code, PS_EX_CONFIG);
}

Test(http, redact_and_escape)
{
	struct ps_buf b = PS_BUF_INIT;

	ps_http_redact_url(&b, "https://user:pw@acct.blob.core.windows.net"
			   "/c/d.parquet?sv=2024&sig=SECRET");
	cr_assert_str_eq(b.data, "https://acct.blob.core.windows.net/c/"
			 "d.parquet");
	ps_buf_reset(&b);
	ps_http_redact_url(&b, "https://h:8443/p#frag");
	cr_assert_str_eq(b.data, "https://h:8443/p");
	ps_buf_reset(&b);
	ps_http_escape(&b, "a b/c~d+é", 1);
	cr_assert_str_eq(b.data, "a%20b/c~d%2B%C3%A9");
	ps_buf_reset(&b);
	ps_http_escape(&b, "a/b", 0);
	cr_assert_str_eq(b.data, "a%2Fb");
	ps_buf_release(&b);
}

/*
 * Every URL check parses with libcurl's URL API and compares whole hosts:
 * a loopback name as a prefix, in the userinfo or as a subdomain does not
 * make a URL local (issue 10, item 6).
 */
Test(http, url_check_compares_parsed_hosts)
{
	static const struct {
		const char *url;
		int ok;
	} cases[] = {
		{ "https://acct.blob.core.windows.net/c", 1 },
		{ "HTTPS://acct.blob.core.windows.net/c", 1 },
		{ "http://127.0.0.1:10000/devstoreaccount1/c", 1 },
		{ "http://127.0.0.1/x", 1 },
		{ "http://LOCALHOST:8080/x", 1 },
		{ "http://[::1]:8080/x", 1 },
		{ "http://169.254.169.254/metadata/identity", 1 },
		{ "http://127.0.0.1:@otherhost:10000/acct/c", 0 },
		{ "http://127.0.0.1@otherhost/acct/c", 0 },
		{ "http://localhost:pw@otherhost/x", 0 },
		{ "http://[::1]:@otherhost/x", 0 },
		{ "http://169.254.169.254:@otherhost/x", 0 },
		{ "https://user:pw@acct.blob.core.windows.net/c", 0 },
		{ "http://127.0.0.1.otherhost.example/x", 0 },
		{ "http://localhost.otherhost.example/x", 0 },
		{ "http://127.0.0.2/x", 0 },
		{ "http://otherhost/x", 0 },
		{ "http://127.0.0.1/x#frag", 0 },
		{ "ftp://127.0.0.1/x", 0 },
		{ "http://127.0.0.1:80@otherhost/x", 0 },
		{ "127.0.0.1/x", 0 },
		{ "", 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ps_error e = { 0, "" };
		int rc = ps_http_url_check(cases[i].url, &e);

		cr_expect_eq(rc, cases[i].ok ? 0 : -1, "%s: rc %d (%s)",
			     cases[i].url, rc, e.msg);
		if (!cases[i].ok)
			cr_expect_eq(e.code, PS_EX_USAGE, "%s", cases[i].url);
		/* No message ever shows a password. */
		cr_expect_null(strstr(e.msg, "pw"), "%s", e.msg);
	}
	cr_assert(ps_http_same_origin("https://v.vault.azure.net/secrets",
				      "https://V.vault.azure.net/x?y=1"));
	cr_assert(!ps_http_same_origin("https://v.vault.azure.net/",
				       "https://v.vault.azure.net:8443/"));
	cr_assert(!ps_http_same_origin("https://v.vault.azure.net/",
				       "https://v.vault.azure.net@evil/"));
}

/* A request to such a URL never leaves: refused before any connection. */
Test(http, userinfo_url_is_refused_before_sending)
{
	struct ps_http_request rq = PS_HTTP_REQUEST_INIT;
	struct ps_http_response rs = PS_HTTP_RESPONSE_INIT;
	struct ps_error e = { 0, "" };
	struct ps_http *c = client(0);

	/* Old prefix rule: "http://localhost:" matched and it was sent. */
	rq.url = "http://localhost:x@127.0.0.1:9/a";
	cr_assert_eq(ps_http_do(c, &rq, &rs, &e), -1);
	cr_assert_eq(e.code, PS_EX_USAGE, "%d %s", e.code, e.msg);
	cr_assert_eq(rs.attempts, 0);
	ps_http_response_release(&rs);
	ps_http_free(c);
}

/*
 * dash_run.c - ps-dash: write the page, follow ps-gold, serve (dash.h).
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint.h"
#include "cli.h"
#include "dash.h"
#include "fsutil.h"
#include "httpd.h"
#include "log.h"
#include "pstime.h"
#include "banned.h"

#define MAX_LINE (1u << 20)	/* alert lines longer than this are not
				   read for the journal (still passed on) */

struct run {
	const struct ps_dash_opts *o;
	char *out_path, *journal_path, *gold_cp;
	struct ps_dash_journal journal;
	int journal_dirty;
	struct ps_httpd *httpd;
	long long seq;
	ps_dash_write_fn out;
	void *out_ctx;
	struct stat gold_st;	/* the gold checkpoint when last rendered */
	struct ps_dash_cache *cache;
};

static char *dup_printf(const char *a, const char *b, const char *c)
{
	size_t n = strlen(a) + strlen(b) + strlen(c) + 1;
	char *p = ps_xmalloc(n);

	snprintf(p, n, "%s%s%s", a, b, c);
	return p;
}

/* Publish the model's documents to the server and tell the clients. */
static void publish(struct run *r, const struct ps_dash_model *m,
		    struct ps_buf *b)
{
	char id[32];

	ps_buf_reset(b);
	ps_dash_html(m, 1, b);
	ps_httpd_set(r->httpd, "/", "text/html; charset=utf-8", b->data,
		     b->len);
	ps_httpd_set(r->httpd, "/index.html", "text/html; charset=utf-8",
		     b->data, b->len);
	ps_buf_reset(b);
	ps_dash_json(m, b);
	ps_httpd_set(r->httpd, "/api/kpis.json", "application/json", b->data,
		     b->len);
	ps_buf_reset(b);
	ps_dash_metrics(m, b);
	ps_httpd_set(r->httpd, "/metrics",
		     "text/plain; version=0.0.4; charset=utf-8", b->data,
		     b->len);
	snprintf(id, sizeof(id), "%lld", m->seq);
	ps_httpd_publish(r->httpd, id, "commit", id);
}

/*
 * Build the model; when serving, publish it first (clients should not
 * wait for the disk); then write the page (and the alert journal).
 */
static int render(struct run *r, struct ps_error *e)
{
	const struct ps_dash_opts *o = r->o;
	struct ps_dash_model m;
	struct ps_buf b = PS_BUF_INIT;
	char *dir, *slash;
	double t0 = ps_mono();
	int rc = -1;

	if (ps_dash_load(&m, o->lake, o->stream,
			 o->now != PS_DASH_NOW_WALL ? o->now : ps_time_now(),
			 r->cache, e) < 0)
		goto out;
	if (r->journal.n)
		ps_dash_model_set_alerts(&m, &r->journal);
	m.seq = ++r->seq;
	if (r->httpd)
		publish(r, &m, &b);
	ps_buf_reset(&b);
	ps_dash_html(&m, 0, &b);
	dir = ps_xstrdup(r->out_path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = 0;
		if (ps_mkdir_p(dir, 0755, e) < 0) {
			free(dir);
			goto out;
		}
	}
	free(dir);
	if (ps_write_file_atomic(r->out_path, b.data, b.len, 0644, e) < 0)
		goto out;
	if (r->journal_dirty) {
		if (ps_dash_journal_save(&r->journal, r->journal_path, e) < 0)
			goto out;
		r->journal_dirty = 0;
	}
	ps_log(PS_DEBUG, "dashboard written", PS_S("path", r->out_path),
	       PS_I("update", m.seq), PS_D("seconds", ps_mono() - t0));
	rc = 0;
out:
	ps_dash_model_release(&m);
	ps_buf_release(&b);
	return rc;
}

/* Has ps-gold committed since the last look?  (Its checkpoint is
 * replaced by a rename at every commit.) */
static int gold_changed(struct run *r)
{
	struct stat st;

	if (stat(r->gold_cp, &st) < 0)
		return 0;
	if (st.st_ino == r->gold_st.st_ino &&
	    st.st_mtim.tv_sec == r->gold_st.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == r->gold_st.st_mtim.tv_nsec &&
	    st.st_size == r->gold_st.st_size)
		return 0;
	r->gold_st = st;
	return 1;
}

/* Parse "[ADDR:]PORT" (ADDR may be [v6]).  Returns 0, or -1 (64). */
static int parse_serve(const char *s, char *addr, size_t alen, int *port,
		       struct ps_error *e)
{
	const char *colon = strrchr(s, ':'), *ps = colon ? colon + 1 : s;
	long long v;
	const char *why;

	snprintf(addr, alen, "127.0.0.1");
	if (colon) {
		const char *a = s;
		size_t n = (size_t)(colon - s);

		if (n >= 2 && a[0] == '[' && a[n - 1] == ']') {
			a++;
			n -= 2;
		}
		if (!n || n >= alen)
			return ps_error_set(e, 64, "--serve: bad address in "
					    "'%s'", s);
		memcpy(addr, a, n);
		addr[n] = 0;
	}
	if (ps_parse_ll(ps, 0, 65535, &v, &why) < 0)
		return ps_error_set(e, 64, "--serve: port %s: '%s'", why, ps);
	*port = (int)v;
	return 0;
}

/*
 * Follow: pass input through, feed alert lines to the journal, and render
 * when a burst of lines ends (10 ms without input: gold flushes after each
 * commit) or every 2 s while lines keep coming.  When the reader of the
 * output goes away (out returns 1: `| head`), the page is written one
 * last time and the loop ends quietly (lib/cli.h, ps_stdout_out).  Also renders on gold commits seen in the
 * lake while serving.  Stops at the end of input or on a signal.
 */
static int loop(struct run *r, int in_fd, struct ps_error *e)
{
	volatile int *stop = ps_stop_flag();
	struct ps_buf line = PS_BUF_INIT;
	char buf[65536];
	int pending = 0, skipping = 0, eof = in_fd < 0, rc = 0;
	double first = 0, last_look = ps_mono();

	while (!*stop) {
		struct pollfd p = { in_fd, POLLIN, 0 };
		int timeout = pending ? 10 : r->httpd ? 100 : -1, k;

		k = eof ? poll(NULL, 0, timeout) : poll(&p, 1, timeout);
		if (k < 0 && errno != EINTR) {
			rc = ps_error_errno(e, PS_EX_IOERR, errno, "poll");
			break;
		}
		if (k > 0 && !eof) {
			ssize_t n = read(in_fd, buf, sizeof(buf));
			char *s, *nl;

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				rc = ps_error_errno(e, PS_EX_IOERR, errno,
						    "read error on input");
				break;
			}
			if (n == 0) {
				eof = 1;
				if (line.len && !skipping)
					r->journal_dirty |= ps_dash_journal_line(
						&r->journal, line.data,
						line.len) == 1;
				ps_buf_reset(&line);
				pending = 1;
				break;	/* gold is done: so are we */
			}
			if (r->out && (k = r->out(r->out_ctx, buf,
						  (size_t)n)) != 0) {
				if (k > 0) {	/* the reader went away */
					pending = 1;
					break;
				}
				rc = ps_error_set(e, PS_EX_IOERR,
						  "write error on output");
				break;
			}
			for (s = buf; (nl = memchr(s, '\n',
						   (size_t)(buf + n - s)));
			     s = nl + 1) {
				if (!skipping) {
					ps_buf_add(&line, s, (size_t)(nl - s));
					r->journal_dirty |= ps_dash_journal_line(
						&r->journal, line.data,
						line.len) == 1;
				}
				ps_buf_reset(&line);
				skipping = 0;
				if (!pending)
					first = ps_mono();
				pending = 1;
			}
			if (!skipping)
				ps_buf_add(&line, s, (size_t)(buf + n - s));
			if (line.len > MAX_LINE) {
				ps_buf_reset(&line);
				skipping = 1;
			}
			if (!(pending && ps_mono() - first > 2))
				continue;
		}
		if (r->httpd)
			ps_httpd_tick(r->httpd);
		if (r->httpd && ps_mono() - last_look >= r->o->poll) {
			last_look = ps_mono();
			pending |= gold_changed(r);
		}
		if (pending) {
			if (r->out && (k = r->out(r->out_ctx, NULL, 0)) != 0) {
				if (k < 0)
					rc = ps_error_set(e, PS_EX_IOERR,
							  "write error on "
							  "output");
				break;	/* > 0: the reader went away */
			}
			gold_changed(r);
			if (render(r, e) < 0) {
				rc = -1;
				break;
			}
			pending = 0;
		}
	}
	if (!rc && pending)
		rc = render(r, e);
	ps_buf_release(&line);
	return rc;
}

int ps_dash_run(const struct ps_dash_opts *o, int in_fd,
		ps_dash_write_fn out, void *out_ctx, struct ps_error *e)
{
	struct run r;
	int rc = -1;
	char *state;

	memset(&r, 0, sizeof(r));
	r.o = o;
	r.out = out;
	r.out_ctx = out_ctx;
	r.out_path = o->out ? ps_xstrdup(o->out) :
		     dup_printf(o->lake, "/dashboard/", "index.html");
	state = dup_printf(o->lake, "/_state/", PS_DASH_TOOL);
	r.journal_path = dup_printf(state, "/", o->stream);
	free(state);
	state = r.journal_path;
	r.journal_path = dup_printf(state, ".alerts.ndjson", "");
	free(state);
	r.gold_cp = ps_checkpoint_path(o->lake, "ps-gold", o->stream);
	r.cache = ps_dash_cache_new();
	if (ps_dash_journal_load(&r.journal, r.journal_path, e) < 0)
		goto out;
	if (o->follow || o->serve) {
		char *dir = dup_printf(o->lake, "/_state/", PS_DASH_TOOL);
		int k = ps_mkdir_p(dir, 0755, e);

		free(dir);
		if (k < 0)
			goto out;
	}
	if (o->serve) {
		struct ps_httpd_opts ho = PS_HTTPD_OPTS_INIT;
		char addr[128];

		if (parse_serve(o->serve, addr, sizeof(addr), &ho.port, e) < 0)
			goto out;
		ho.addr = addr;
		ho.max_conns = o->max_clients;
		ho.sse_path = "/events";
		r.httpd = ps_httpd_start(&ho, e);
		if (!r.httpd)
			goto out;
		ps_httpd_set(r.httpd, "/healthz", "text/plain; charset=utf-8",
			     "ok\n", 3);
		{
			char url[200];

			snprintf(url, sizeof(url), strchr(addr, ':') ?
				 "http://[%s]:%d/" : "http://%s:%d/", addr,
				 ps_httpd_port(r.httpd));
			ps_log(PS_INFO, "serving", PS_S("url", url));
		}
	}
	gold_changed(&r);
	if (render(&r, e) < 0)
		goto out;
	if (o->follow || o->serve)
		rc = loop(&r, o->follow ? in_fd : -1, e) < 0 ? -1 : 0;
	else
		rc = 0;
	if (!rc && r.journal_dirty)
		rc = ps_dash_journal_save(&r.journal, r.journal_path, e);
out:
	ps_httpd_stop(r.httpd);
	ps_dash_journal_release(&r.journal);
	ps_dash_cache_free(r.cache);
	free(r.out_path);
	free(r.journal_path);
	free(r.gold_cp);
	return rc;
}

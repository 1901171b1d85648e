/* hl7cmd.c - see hl7cmd.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hl7.h"
#include "hl7cmd.h"
#include "json.h"
#include "log.h"
#include "banned.h"

#define MAX_PATHS 512

struct run {
	const struct ps_hl7cmd_opts *o;
	struct ps_feed *feed;
	struct ps_hl7_msg msg;
	struct ps_hl7_path path[MAX_PATHS];
	int npath;
	struct ps_buf out, tmp;
	long long messages, events, ignored, bad;
	const char *name;
};

static int flush_out(struct run *r, struct ps_error *e)
{
	if (r->out.len && r->o->out(r->o->out_ctx, r->out.data, r->out.len)) {
		ps_buf_reset(&r->out);
		return ps_error_set(e, PS_EX_IOERR, "cannot write the output");
	}
	ps_buf_reset(&r->out);
	return 0;
}

static int bad(struct run *r, long long line, const char *code,
	       const char *detail, struct ps_error *e)
{
	r->bad++;
	if (r->o->strict)
		return ps_error_set(e, PS_EX_DATAERR, "%s:%lld: %s: %s",
				    r->name, line, code, detail);
	ps_log(PS_WARN, "bad message", PS_S("input", r->name),
	       PS_I("line", line), PS_S("reason", code),
	       PS_S("detail", detail));
	return 0;
}

static int one_get(struct run *r, enum ps_hl7_kind kind, const char *p,
		   size_t n, long long line, struct ps_error *e)
{
	char why[256];
	int i;

	if (kind == PS_HL7_JSON)
		return bad(r, line, "not_hl7v2", "a JSON text (get reads HL7 "
			   "v2 messages only)", e);
	if (ps_hl7_parse(&r->msg, p, n, why, sizeof(why)) < 0)
		return bad(r, line, "unparseable_message", why, e);
	ps_buf_addc(&r->out, '[');
	for (i = 0; i < r->npath; i++) {
		if (i)
			ps_buf_addc(&r->out, ',');
		if (r->o->raw) {
			const char *v;
			size_t vn;

			ps_hl7_raw(&r->msg, &r->path[i], &v, &vn);
			ps_buf_reset(&r->tmp);
			ps_buf_add(&r->tmp, v, vn);
		} else {
			ps_hl7_get(&r->msg, &r->path[i], &r->tmp);
		}
		ps_json_add_str(&r->out, r->tmp.data ? r->tmp.data : "",
				r->tmp.len);
	}
	ps_buf_add(&r->out, "]\n", 2);
	return 0;
}

static int one_convert(struct run *r, enum ps_hl7_kind kind, const char *p,
		       size_t n, long long line, struct ps_error *e)
{
	char why[256];
	enum ps_feed_status st;
	int k;

	(void)kind;
	st = ps_feed_convert(r->feed, p, n, &r->out, &k, why, sizeof(why));
	if (st == PS_FEED_OK) {
		r->events += k;
		return 0;
	}
	if (st == PS_FEED_IGNORED) {
		r->ignored++;
		return 0;
	}
	if (st == PS_FEED_NOT_FEED)
		snprintf(why, sizeof(why), "JSON without a resourceType");
	return bad(r, line, st == PS_FEED_NOT_FEED ? "unparseable_message" :
		   ps_feed_status_name(st), why, e);
}

static int run_fd(struct run *r, int fd, int get, struct ps_error *e)
{
	struct ps_hl7_split *s = ps_hl7_split_new(r->o->max_message);
	char buf[65536];
	int eof = 0, rc = 0;

	while (!eof && !rc) {
		ssize_t got = read(fd, buf, sizeof(buf));
		enum ps_hl7_kind kind;
		const char *p;
		size_t n, full;
		long long line;

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			rc = ps_error_errno(e, PS_EX_IOERR, errno,
					    "cannot read %s", r->name);
			break;
		}
		eof = got == 0;
		ps_hl7_split_feed(s, buf, (size_t)got, eof);
		while (!rc && ps_hl7_split_next(s, &kind, &p, &n, &full,
						&line)) {
			r->messages++;
			if (kind == PS_HL7_JUNK) {
				char d[160];

				snprintf(d, sizeof(d), full > n ?
					 "a message of %zu bytes, over the cap" :
					 "a line of %zu bytes that is neither "
					 "an HL7 v2 message nor JSON", full);
				rc = bad(r, line, full > n ? "message_too_long"
					 : "unparseable_message", d, e);
			} else {
				rc = get ? one_get(r, kind, p, n, line, e) :
					   one_convert(r, kind, p, n, line, e);
			}
			if (!rc && r->out.len >= 65536)
				rc = flush_out(r, e);
		}
	}
	ps_hl7_split_free(s);
	/* what came before a fatal message is written all the same */
	if (flush_out(r, rc ? NULL : e) < 0)
		rc = -1;
	return rc;
}

static int run(const struct ps_hl7cmd_opts *o, int get, struct ps_error *e)
{
	struct run r;
	int i, rc = 0, nf = o->nfiles > 0 ? o->nfiles : 1;

	memset(&r, 0, sizeof(r));
	r.o = o;
	if (get) {
		const char *s = o->paths, *c;

		for (; s; s = c ? c + 1 : NULL) {
			c = strchr(s, ',');
			if (r.npath == MAX_PATHS ||
			    ps_hl7_path_parse(s, c ? (size_t)(c - s) :
					      strlen(s),
					      &r.path[r.npath++]) < 0)
				return ps_error_set(e, PS_EX_USAGE,
						    "bad path list '%s' (at "
						    "most %d of SEG-F[R].C.S)",
						    o->paths, MAX_PATHS);
		}
	} else {
		r.feed = ps_feed_new(o->map, 1);
	}
	for (i = 0; i < nf && !rc; i++) {
		const char *f = o->nfiles > 0 ? o->files[i] : "-";
		int fd = 0;

		r.name = strcmp(f, "-") ? f : "stdin";
		if (strcmp(f, "-") && (fd = open(f, O_RDONLY | O_CLOEXEC)) < 0) {
			rc = ps_error_errno(e, PS_EX_NOINPUT, errno,
					    "cannot open %s", f);
			break;
		}
		rc = run_fd(&r, fd, get, e);
		if (fd > 0)
			close(fd);
	}
	ps_log(PS_INFO, "done", PS_I("messages", r.messages),
	       PS_I("events", get ? r.messages - r.bad : r.events),
	       PS_I("ignored", r.ignored), PS_I("bad", r.bad));
	ps_feed_free(r.feed);
	ps_hl7_msg_release(&r.msg);
	ps_buf_release(&r.out);
	ps_buf_release(&r.tmp);
	return rc ? -1 : 0;
}

int ps_hl7_convert_run(const struct ps_hl7cmd_opts *o, struct ps_error *e)
{
	return run(o, 0, e);
}

int ps_hl7_get_run(const struct ps_hl7cmd_opts *o, struct ps_error *e)
{
	return run(o, 1, e);
}

/* mllp.c - see mllp.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bronze.h"
#include "checkpoint.h"
#include "cli.h"
#include "crypto.h"
#include "envelope.h"
#include "fsutil.h"
#include "hl7.h"
#include "lake.h"
#include "log.h"
#include "mllp.h"
#include "pstime.h"
#include "rand.h"
#include "secret.h"
#include "banned.h"

#define SB 0x0b		/* start block */
#define EB 0x1c		/* end block, then CR */

/* ------------------------------------------------------------------ */
/* The window of landed message ids                                    */
/* ------------------------------------------------------------------ */

/* key -> position of the envelope that landed it; FIFO eviction. */
struct ids {
	uint64_t *key;		/* 0: empty slot */
	long long *pos;
	size_t mask;
	uint64_t *ring;		/* insertion order */
	size_t cap, head, n;
};

static void ids_init(struct ids *d, long long window)
{
	size_t slots = 16;

	while (slots < (size_t)window * 2)
		slots *= 2;
	d->key = ps_xcalloc(slots, sizeof(*d->key));
	d->pos = ps_xcalloc(slots, sizeof(*d->pos));
	d->mask = slots - 1;
	d->cap = (size_t)window;
	d->ring = ps_xcalloc(d->cap, sizeof(*d->ring));
	d->head = d->n = 0;
}

static void ids_free(struct ids *d)
{
	free(d->key);
	free(d->pos);
	free(d->ring);
}

static size_t ids_slot(const struct ids *d, uint64_t k)
{
	size_t i = (size_t)(k * 0x9e3779b97f4a7c15ULL >> 20) & d->mask;

	while (d->key[i] && d->key[i] != k)
		i = (i + 1) & d->mask;
	return i;
}

/* The position that landed k, or -1. */
static long long ids_get(const struct ids *d, uint64_t k)
{
	size_t i = ids_slot(d, k);

	return d->key[i] ? d->pos[i] : -1;
}

static void ids_del(struct ids *d, uint64_t k)
{
	size_t i = ids_slot(d, k), j;

	if (!d->key[i])
		return;
	/* backward-shift deletion keeps probe chains whole */
	for (j = i;;) {
		size_t h;

		j = (j + 1) & d->mask;
		if (!d->key[j])
			break;
		h = (size_t)(d->key[j] * 0x9e3779b97f4a7c15ULL >> 20) &
		    d->mask;
		if ((j > i && (h <= i || h > j)) || (j < i && h <= i && h > j)) {
			d->key[i] = d->key[j];
			d->pos[i] = d->pos[j];
			i = j;
		}
	}
	d->key[i] = 0;
}

static void ids_put(struct ids *d, uint64_t k, long long pos)
{
	size_t i;

	if (ids_get(d, k) >= 0)
		return;
	if (d->n == d->cap) {	/* forget the oldest */
		ids_del(d, d->ring[d->head]);
		d->head = (d->head + 1) % d->cap;
		d->n--;
	}
	d->ring[(d->head + d->n) % d->cap] = k;
	d->n++;
	i = ids_slot(d, k);
	d->key[i] = k;
	d->pos[i] = pos;
}

static uint64_t fnv_add(uint64_t h, const char *p, size_t n)
{
	return ps_fnv1a(h, p, n);
}

/*
 * The dedup key of a parsed message: MSH-3, MSH-4 and MSH-10 as sent.
 * Returns 0 when MSH-10 is empty.
 */
static uint64_t msg_key(const struct ps_hl7_msg *m)
{
	static const struct ps_hl7_path p3 = { "MSH", 3, 0, 0, 0 },
		p4 = { "MSH", 4, 0, 0, 0 }, p10 = { "MSH", 10, 0, 0, 0 };
	uint64_t h = PS_FNV1A_INIT;
	const char *v;
	size_t n;

	if (!ps_hl7_raw(m, &p10, &v, &n) || !n)
		return 0;
	h = fnv_add(h, v, n);
	h = fnv_add(h, "\x1f", 1);
	ps_hl7_raw(m, &p3, &v, &n);
	h = fnv_add(h, v, n);
	h = fnv_add(h, "\x1f", 1);
	ps_hl7_raw(m, &p4, &v, &n);
	h = fnv_add(h, v, n);
	return h ? h : 1;
}

/* ------------------------------------------------------------------ */
/* The listener                                                        */
/* ------------------------------------------------------------------ */

struct conn {
	int fd;			/* -1: free slot */
	struct ps_tls *tls;	/* MLLP over TLS, or NULL */
	int peeked;		/* the first byte was looked at */
	int plain;		/* plain MLLP on the TLS port: refused */
	int close_after;	/* close once out is sent */
	unsigned gen;
	struct ps_buf in, out;
	int discarding;		/* inside a frame over the cap */
};

/* A message waiting for the commit of position pos. */
struct wait {
	long long pos;
	int conn;
	unsigned gen;
	char *ack;
	size_t acklen;
};

struct listener {
	const struct ps_hl7_listen_opts *o;
	struct ps_tls_server *tls;	/* NULL: plain MLLP */
	int lfd, wake[2], bpipe[2];
	struct conn *c;
	int nc;
	struct ids ids;
	struct ps_buf source;
	long long next_pos;
	struct wait *w;		/* in position order (duplicates too) */
	size_t nw, capw;
	struct ps_hl7_msg msg;
	struct ps_buf env, tmp;
	long long n_conn, n_msg, n_landed, n_dup, n_rej;

	/* shared with the bronze thread */
	pthread_mutex_t mu;
	long long committed;	/* highest committed position */
	int bronze_done, bronze_rc;
	struct ps_error berr;
	struct ps_envelope_parser *ep;	/* the thread's own */
	int emit_failed;
};

static void wake(struct listener *l)
{
	char b = 1;
	ssize_t r;

	do
		r = write(l->wake[1], &b, 1);
	while (r < 0 && errno == EINTR);
}

/* Bronze committed a batch: p holds its envelope lines. */
static int on_commit(void *ctx, const char *p, size_t n)
{
	struct listener *l = ctx;
	struct ps_envelope env;
	const char *last;
	int rc = 0;

	if (!n)
		return 0;
	last = n >= 2 ? memrchr(p, '\n', n - 1) : NULL;
	last = last ? last + 1 : p;
	if (l->o->emit) {
		rc = l->o->emit(l->o->emit_ctx, p, n);
		if (rc < 0)
			l->emit_failed = 1;
	}
	if (ps_envelope_parse(l->ep, last, (size_t)(p + n - last) - 1, &env,
			      NULL) == 0) {
		pthread_mutex_lock(&l->mu);
		if (env.position > l->committed)
			l->committed = env.position;
		pthread_mutex_unlock(&l->mu);
		wake(l);
	}
	return rc < 0 ? -1 : 0;
}

static void *bronze_main(void *arg)
{
	struct listener *l = arg;
	struct ps_bronze_opts bo = PS_BRONZE_OPTS_INIT;
	int rc;

	bo.lake = l->o->lake;
	bo.stream = l->o->stream;
	bo.flush_interval = l->o->flush_interval;
	bo.flush_records = l->o->flush_records;
	bo.max_line = 8 * l->o->max_message + 4096;
	bo.gzip_level = l->o->gzip_level;
	bo.threads = 0;
	bo.input = PS_INPUT_ENVELOPES;
	bo.emit = on_commit;
	bo.emit_ctx = l;
	rc = ps_bronze_run(&bo, l->bpipe[0], &l->berr);
	pthread_mutex_lock(&l->mu);
	l->bronze_done = 1;
	l->bronze_rc = rc;
	pthread_mutex_unlock(&l->mu);
	wake(l);
	return NULL;
}

/* The ACK (original mode) of m, or of an unreadable message (m NULL). */
static void make_ack(const struct ps_hl7_msg *m,
		     const char *code, int err, const char *text,
		     struct ps_buf *b)
{
	static const struct ps_hl7_path f[] = {
		{ "MSH", 5, 0, 0, 0 }, { "MSH", 6, 0, 0, 0 },
		{ "MSH", 3, 0, 0, 0 }, { "MSH", 4, 0, 0, 0 },
	};
	static const struct ps_hl7_path trig = { "MSH", 9, 0, 2, 0 },
		id = { "MSH", 10, 0, 0, 0 }, ver = { "MSH", 12, 0, 0, 0 };
	char fs = m ? m->fs : '|', cs = m ? m->cs : '^';
	char ts[PS_TIME_MAX], *q;
	const char *v;
	size_t n, i;
	int64_t now = ps_time_now();

	ps_buf_reset(b);
	ps_buf_addc(b, SB);
	ps_buf_adds(b, "MSH");
	ps_buf_addc(b, fs);
	if (m) {
		ps_buf_addc(b, m->cs);
		ps_buf_addc(b, m->rs);
		ps_buf_addc(b, m->es);
		ps_buf_addc(b, m->ss);
	} else {
		ps_buf_adds(b, "^~\\&");
	}
	for (i = 0; i < 4; i++) {
		ps_buf_addc(b, fs);
		if (m && ps_hl7_raw(m, &f[i], &v, &n))
			ps_buf_add(b, v, n);
	}
	ps_buf_addc(b, fs);
	/* MSH-7 as YYYYMMDDHHMMSS+0000 */
	ps_time_format(now, ts, 0);
	for (q = ts; *q && *q != 'Z'; q++)
		if (*q >= '0' && *q <= '9')
			ps_buf_addc(b, *q);
	ps_buf_adds(b, "+0000");
	ps_buf_addc(b, fs);
	ps_buf_addc(b, fs);
	ps_buf_adds(b, "ACK");
	if (m && ps_hl7_raw(m, &trig, &v, &n) && n) {
		ps_buf_addc(b, cs);
		ps_buf_add(b, v, n);
		ps_buf_addc(b, cs);
		ps_buf_adds(b, "ACK");
	}
	ps_buf_addc(b, fs);
	ps_buf_adds(b, "ACK");
	if (m && ps_hl7_raw(m, &id, &v, &n))
		ps_buf_add(b, v, n);
	else
		ps_buf_add_i64(b, now);
	ps_buf_addc(b, fs);
	ps_buf_addc(b, 'P');
	ps_buf_addc(b, fs);
	if (m && ps_hl7_raw(m, &ver, &v, &n) && n)
		ps_buf_add(b, v, n);
	else
		ps_buf_adds(b, "2.5");
	ps_buf_adds(b, "\rMSA");
	ps_buf_addc(b, fs);
	ps_buf_adds(b, code);
	ps_buf_addc(b, fs);
	if (m && ps_hl7_raw(m, &id, &v, &n))
		ps_buf_add(b, v, n);
	if (err) {
		/* ERR-3 HL7 error code (table 0357), ERR-4 severity */
		ps_buf_adds(b, "\rERR");
		ps_buf_addc(b, fs);
		ps_buf_addc(b, fs);
		ps_buf_addc(b, fs);
		ps_buf_add_i64(b, err);
		ps_buf_addc(b, cs);
		for (; *text; text++)	/* no delimiters in the text */
			ps_buf_addc(b, (*text == fs || *text == cs ||
					*text == '\r' || (m && (*text == m->rs ||
					*text == m->es || *text == m->ss))) ?
				    ' ' : *text);
		ps_buf_addc(b, cs);
		ps_buf_adds(b, "HL70357");
		ps_buf_addc(b, fs);
		ps_buf_addc(b, 'E');
	}
	ps_buf_add(b, "\r\x1c\r", 3);
}

static void reply(struct listener *l, int ci, const char *p, size_t n)
{
	ps_buf_add(&l->c[ci].out, p, n);
}

static void reject(struct listener *l, int ci, const struct ps_hl7_msg *m,
		   int err, const char *text)
{
	l->n_rej++;
	make_ack(m, "AR", err, text, &l->tmp);
	reply(l, ci, l->tmp.data, l->tmp.len);
	ps_log(PS_WARN, "message rejected", PS_I("code", err),
	       PS_S("reason", text));
}

static void add_wait(struct listener *l, long long pos, int ci)
{
	struct wait *w;

	if (l->nw == l->capw) {
		l->capw = l->capw ? l->capw * 2 : 64;
		l->w = ps_xrealloc(l->w, l->capw * sizeof(*l->w));
	}
	w = &l->w[l->nw++];
	w->pos = pos;
	w->conn = ci;
	w->gen = l->c[ci].gen;
	w->acklen = l->tmp.len;
	w->ack = ps_xmemdup(l->tmp.data, l->tmp.len);
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* One complete message from connection ci. */
static int message(struct listener *l, int ci, const char *p, size_t n,
		   struct ps_error *e)
{
	char why[200];
	struct ps_envelope env;
	uint64_t key;
	long long at, upto;
	static const struct ps_hl7_path id = { "MSH", 10, 0, 0, 0 };

	l->n_msg++;
	if (l->c[ci].plain) {
		/* an AR the sender can read, rather than a reset */
		reject(l, ci, ps_hl7_parse(&l->msg, p, n, why, sizeof(why)) ?
		       NULL : &l->msg, 207, "this port takes MLLP over TLS "
		       "only");
		l->c[ci].close_after = 1;
		return 0;
	}
	if (ps_hl7_parse(&l->msg, p, n, why, sizeof(why)) < 0) {
		reject(l, ci, NULL, n >= 3 && !memcmp(p, "MSH", 3) ? 102 : 100,
		       why);
		return 0;
	}
	if (!(key = msg_key(&l->msg))) {
		reject(l, ci, &l->msg, 101, "MSH-10 (message control id) is "
		       "empty");
		return 0;
	}
	make_ack(&l->msg, "AA", 0, "", &l->tmp);
	pthread_mutex_lock(&l->mu);
	upto = l->committed;
	pthread_mutex_unlock(&l->mu);
	if ((at = ids_get(&l->ids, key)) >= 0) {
		l->n_dup++;
		if (at <= upto)
			reply(l, ci, l->tmp.data, l->tmp.len);
		else
			add_wait(l, at, ci);
		return 0;
	}
	memset(&env, 0, sizeof(env));
	env.source = l->source.data;
	env.source_len = l->source.len;
	env.position = l->next_pos++;
	env.ingest_time = ps_time_now();
	env.broker_time = PS_TIME_NONE;
	ps_hl7_raw(&l->msg, &id, &env.key, &env.key_len);
	env.payload = p;
	env.payload_len = n;
	ps_buf_reset(&l->env);
	ps_envelope_format(&l->env, &env);
	if (write_all(l->bpipe[1], l->env.data, l->env.len) < 0)
		return ps_error_errno(e, PS_EX_SOFTWARE, errno,
				      "cannot pass a message to bronze");
	ids_put(&l->ids, key, env.position);
	add_wait(l, env.position, ci);
	l->n_landed++;
	return 0;
}

/* Frames out of the connection's input buffer. */
static int frames(struct listener *l, int ci, struct ps_error *e)
{
	struct conn *c = &l->c[ci];
	size_t cap = l->o->max_message;

	for (;;) {
		char *s, *eb;

		if (c->discarding) {
			eb = memchr(c->in.data, EB, c->in.len);
			if (!eb || eb + 1 == c->in.data + c->in.len) {
				/* keep a last 0x1C: its CR may follow */
				size_t keep = eb ? 1 : 0;

				memmove(c->in.data, c->in.data + c->in.len -
					keep, keep);
				c->in.len = keep;
				return 0;
			}
			c->discarding = 0;
			c->in.len -= (size_t)(eb + 1 - c->in.data);
			memmove(c->in.data, eb + 1, c->in.len);
			if (c->in.len && c->in.data[0] == '\r') {
				c->in.len--;
				memmove(c->in.data, c->in.data + 1, c->in.len);
			}
			{
				char why[80];

				snprintf(why, sizeof(why), "message over %zu "
					 "bytes", cap);
				reject(l, ci, NULL, 207, why);
			}
			continue;
		}
		s = c->in.len ? memchr(c->in.data, SB, c->in.len) : NULL;
		if (!s) {
			c->in.len = 0;	/* bytes outside a frame: ignored */
			return 0;
		}
		if (s != c->in.data) {
			c->in.len -= (size_t)(s - c->in.data);
			memmove(c->in.data, s, c->in.len);
		}
		for (eb = c->in.data + 1;
		     (eb = memchr(eb, EB, c->in.len - (size_t)(eb -
						c->in.data))) != NULL &&
		     eb + 1 < c->in.data + c->in.len && eb[1] != '\r';
		     eb++)
			;
		if (!eb || eb + 1 == c->in.data + c->in.len) {
			if (c->in.len > cap + 2) {
				c->discarding = 1;
				c->in.len = 0;
			}
			return 0;
		}
		if ((size_t)(eb - c->in.data - 1) > cap) {
			char why[80];

			snprintf(why, sizeof(why), "message over %zu bytes",
				 cap);
			reject(l, ci, NULL, 207, why);
		} else if (message(l, ci, c->in.data + 1,
				   (size_t)(eb - c->in.data - 1), e) < 0) {
			return -1;
		}
		c = &l->c[ci];
		c->in.len -= (size_t)(eb + 2 - c->in.data);
		memmove(c->in.data, eb + 2, c->in.len);
	}
}

static void conn_close(struct listener *l, int ci)
{
	struct conn *c = &l->c[ci];

	ps_tls_free(c->tls);
	c->tls = NULL;
	c->peeked = c->plain = c->close_after = 0;
	close(c->fd);
	c->fd = -1;
	c->gen++;
	c->discarding = 0;
	ps_buf_reset(&c->in);
	ps_buf_reset(&c->out);
}

/* Move the ACKs of committed messages to their connections. */
static void release(struct listener *l, long long upto, const char *code)
{
	size_t i, k = 0;

	for (i = 0; i < l->nw; i++) {
		struct wait *w = &l->w[i];

		if (w->pos > upto && !code) {
			l->w[k++] = *w;
			continue;
		}
		if (l->c[w->conn].fd >= 0 && l->c[w->conn].gen == w->gen) {
			if (code) {
				/* MSA-1 is "AA" at a fixed place: 3 bytes
				   after the "\rMSA" of the ACK */
				char *msa = memmem(w->ack, w->acklen, "\rMSA",
						   4);

				if (msa)
					memcpy(msa + 5, code, 2);
			}
			reply(l, w->conn, w->ack, w->acklen);
		}
		free(w->ack);
	}
	l->nw = k;
}

/* The TLS context of tls_cert and tls_key (a private file, or a
 * secret), when there are. */
static int tls_setup(struct listener *l, struct ps_error *e)
{
	const struct ps_hl7_listen_opts *o = l->o;
	struct ps_buf key = PS_BUF_INIT;
	char *sec = NULL;
	int rc;

	if (!o->tls_cert && !o->tls_key)
		return 0;
	if (!o->tls_cert || !o->tls_key)
		return ps_error_set(e, PS_EX_USAGE, "TLS needs both a "
				    "certificate and a key");
	ps_crypto_protect_process();
	if (ps_secret_is_ref(o->tls_key)) {
		if (ps_secret_resolve(o->tls_key, &sec, e) < 0)
			return -1;
		ps_buf_adds(&key, sec);
		ps_secret_free(sec);
	} else {
		rc = ps_file_private(o->tls_key, "TLS key file", e);
		if (rc == 0)
			rc = ps_read_file(o->tls_key, &key, 1 << 20, e);
		if (rc == 1)
			ps_error_set(e, PS_EX_NOINPUT, "TLS key file %s does "
				     "not exist", o->tls_key);
		if (rc) {
			ps_crypto_wipe_buf(&key);
			return -1;
		}
	}
	l->tls = ps_tls_server_new(o->tls_cert, key.data, key.len,
				   o->tls_client_ca, e);
	ps_crypto_wipe_buf(&key);
	return l->tls ? 0 : -1;
}

static int setup(struct listener *l, struct ps_error *e)
{
	const struct ps_hl7_listen_opts *o = l->o;
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int one = 1;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)o->port);
	if (inet_pton(AF_INET, o->bind, &sa.sin_addr) != 1)
		return ps_error_set(e, PS_EX_USAGE, "--bind: '%s' is not an "
				    "IPv4 address", o->bind);
	l->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			0);
	if (l->lfd < 0)
		return ps_error_errno(e, PS_EX_UNAVAILABLE, errno, "socket");
	setsockopt(l->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(l->lfd, 128) < 0 ||
	    getsockname(l->lfd, (struct sockaddr *)&sa, &sl) < 0)
		return ps_error_errno(e, PS_EX_UNAVAILABLE, errno,
				      "cannot listen on %s:%d", o->bind,
				      o->port);
	if (o->port_file) {
		char b[16];
		int k = snprintf(b, sizeof(b), "%d\n", ntohs(sa.sin_port));

		if (ps_write_file_atomic(o->port_file, b, (size_t)k, 0644, e) < 0)
			return -1;
	}
	ps_log(PS_INFO, "listening", PS_S("bind", o->bind),
	       PS_I("port", ntohs(sa.sin_port)), PS_S("source",
						      l->source.data),
	       PS_S("tls", !l->tls ? "off" : o->tls_client_ca ? "mutual" :
		    "on"));
	return 0;
}

/*
 * Where positions continue, and the ids of the source's last landed
 * messages (read back from its bronze files).
 */
static int startup(struct listener *l, struct ps_error *e)
{
	struct ps_checkpoint *cp = ps_checkpoint_new();
	struct ps_lake_parts fs = PS_LAKE_PARTS_INIT;
	struct ps_buf safe = PS_BUF_INIT;
	struct ps_hl7_msg m = PS_HL7_MSG_INIT;
	long long ck, nread = 0;
	size_t i;
	int rc = -1;

	if (ps_lake_committed(l->o->lake, PS_LAKE_BRONZE, l->o->stream, cp,
			      e) < 0 ||
	    ps_lake_visible(l->o->lake, PS_LAKE_BRONZE, l->o->stream, &fs,
			    e) < 0)
		goto out;
	ck = ps_checkpoint_get(cp, l->source.data, l->source.len);
	l->next_pos = ck + 1;
	l->committed = ck;
	ps_lake_safe_source(&safe, l->source.data, l->source.len);
	for (i = 0; i < fs.n; i++) {
		struct ps_lake_reader *r;
		struct ps_envelope env;
		char why[8];
		int k;

		if (strcmp(fs.v[i].safe, safe.data) || fs.v[i].first > ck)
			continue;
		if (!(r = ps_lake_reader_open(fs.v[i].path, e)))
			goto out;
		while ((k = ps_lake_reader_next(r, &env, e)) > 0) {
			uint64_t key;

			if (env.source_len != l->source.len ||
			    memcmp(env.source, l->source.data, env.source_len) ||
			    env.position > ck ||
			    ps_hl7_parse(&m, env.payload, env.payload_len, why,
					 sizeof(why)) < 0 ||
			    !(key = msg_key(&m)))
				continue;
			ids_put(&l->ids, key, env.position);
			nread++;
		}
		ps_lake_reader_close(r);
		if (k < 0)
			goto out;
	}
	ps_log(PS_INFO, "starting", PS_S("source", l->source.data),
	       PS_I("checkpoint", ck), PS_I("ids_loaded", nread));
	rc = 0;
out:
	ps_checkpoint_free(cp);
	ps_lake_parts_release(&fs);
	ps_buf_release(&safe);
	ps_hl7_msg_release(&m);
	return rc;
}

static void accept_all(struct listener *l)
{
	for (;;) {
		int fd = accept4(l->lfd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC), ci;

		if (fd < 0)
			return;
		for (ci = 0; ci < l->nc && l->c[ci].fd >= 0; ci++)
			;
		if (ci == l->o->max_connections) {
			ps_log(PS_WARN, "too many connections: closing one",
			       PS_I("max", l->o->max_connections));
			close(fd);
			continue;
		}
		if (ci == l->nc) {
			l->c = ps_xrealloc(l->c, (size_t)(l->nc + 1) *
					   sizeof(*l->c));
			memset(&l->c[ci], 0, sizeof(l->c[ci]));
			l->nc++;
		}
		l->c[ci].fd = fd;
		l->c[ci].tls = l->tls ? ps_tls_accept(l->tls, fd) : NULL;
		l->n_conn++;
	}
}

/* A connection that failed in TLS: logged (never key material: why is
 * OpenSSL's reason), closed. */
static void tls_failed(struct listener *l, int ci, const char *why)
{
	ps_log(PS_WARN, "TLS connection closed", PS_S("reason", why));
	conn_close(l, ci);
}

/* One read of connection ci: bytes, 0 at the end, -1 would block (or
 * the connection failed and is closed: fd -1). */
static ssize_t conn_read1(struct listener *l, int ci, char *buf, size_t n)
{
	char why[256];
	ssize_t r;
	long t;

	if (l->c[ci].tls && !l->c[ci].peeked) {
		/* a plain MLLP sender starts with 0x0B, TLS with 0x16 */
		unsigned char b;

		r = recv(l->c[ci].fd, &b, 1, MSG_PEEK);
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
			      errno == EINTR))
			return -1;
		l->c[ci].peeked = 1;
		if (r == 1 && b == SB) {
			ps_log(PS_WARN, "plain MLLP on the TLS port: refused");
			ps_tls_free(l->c[ci].tls);
			l->c[ci].tls = NULL;
			l->c[ci].plain = 1;
		}
	}
	if (!l->c[ci].tls) {
		do
			r = read(l->c[ci].fd, buf, n);
		while (r < 0 && errno == EINTR);
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return -1;
		return r < 0 ? 0 : r;
	}
	t = ps_tls_read(l->c[ci].tls, buf, n, why, sizeof(why));
	if (t == PS_TLS_AGAIN)
		return -1;
	if (t < 0) {
		tls_failed(l, ci, why);
		return -1;
	}
	return t;
}

/* Read what connection ci has; returns -1 on a fatal error. */
static int conn_read(struct listener *l, int ci, struct ps_error *e)
{
	char buf[65536];

	while (l->c[ci].fd >= 0) {
		ssize_t r = conn_read1(l, ci, buf, sizeof(buf));

		if (r < 0)
			return 0;
		if (r == 0) {
			if (!l->c[ci].out.len)
				conn_close(l, ci);
			else
				shutdown(l->c[ci].fd, SHUT_RD);
			return 0;
		}
		ps_buf_add(&l->c[ci].in, buf, (size_t)r);
		if (frames(l, ci, e) < 0)
			return -1;
	}
	return 0;
}

static void conn_write(struct listener *l, int ci)
{
	struct conn *c = &l->c[ci];

	while (c->out.len) {
		ssize_t w;

		if (c->tls) {
			char why[256];
			long t = ps_tls_write(c->tls, c->out.data, c->out.len,
					      why, sizeof(why));

			if (t == PS_TLS_AGAIN)
				return;
			if (t < 0) {
				tls_failed(l, ci, why);
				return;
			}
			w = t;
		} else {
			w = write(c->fd, c->out.data, c->out.len);
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (w < 0) {
			conn_close(l, ci);
			return;
		}
		c->out.len -= (size_t)w;
		memmove(c->out.data, c->out.data + w, c->out.len);
	}
	if (c->close_after)
		conn_close(l, ci);
}

int ps_hl7_listen(const struct ps_hl7_listen_opts *opts, struct ps_error *e)
{
	struct ps_hl7_listen_opts oo = *opts, *o = &oo;
	struct listener l;
	struct pollfd *pf = NULL;
	pthread_t th;
	int rc = -1, started = 0, i;
	double until;

	if (!o->max_message)
		o->max_message = 1024 * 1024;
	memset(&l, 0, sizeof(l));
	l.o = o;
	l.lfd = l.wake[0] = l.wake[1] = l.bpipe[0] = l.bpipe[1] = -1;
	pthread_mutex_init(&l.mu, NULL);
	ps_buf_adds(&l.source, "mllp:");
	ps_buf_adds(&l.source, o->source_name ? o->source_name : o->stream);
	ids_init(&l.ids, o->dedup_window);
	l.ep = ps_envelope_parser_new();
	if (tls_setup(&l, e) < 0 || startup(&l, e) < 0 || setup(&l, e) < 0)
		goto out;
	if (pipe2(l.wake, O_CLOEXEC | O_NONBLOCK) < 0 ||
	    pipe2(l.bpipe, O_CLOEXEC) < 0) {
		ps_error_errno(e, PS_EX_SOFTWARE, errno, "pipe");
		goto out;
	}
	if (pthread_create(&th, NULL, bronze_main, &l)) {
		ps_error_set(e, PS_EX_SOFTWARE, "cannot start a thread");
		goto out;
	}
	started = 1;
	while (!ps_stop_requested) {
		int np = 0, done;
		long long upto;

		pf = ps_xrealloc(pf, (size_t)(l.nc + 2) * sizeof(*pf));
		pf[np].fd = l.wake[0];
		pf[np++].events = POLLIN;
		pf[np].fd = l.lfd;
		pf[np++].events = POLLIN;
		for (i = 0; i < l.nc; i++) {
			pf[np].fd = l.c[i].fd;	/* -1: ignored by poll */
			pf[np++].events = POLLIN | (l.c[i].out.len ||
				(l.c[i].tls && ps_tls_wants_write(l.c[i].tls)) ?
				POLLOUT : 0);
		}
		if (poll(pf, (nfds_t)np, 500) < 0 && errno != EINTR) {
			ps_error_errno(e, PS_EX_SOFTWARE, errno, "poll");
			goto out;
		}
		if (pf[0].revents) {
			char b[256];

			while (read(l.wake[0], b, sizeof(b)) > 0)
				;
		}
		pthread_mutex_lock(&l.mu);
		upto = l.committed;
		done = l.bronze_done;
		pthread_mutex_unlock(&l.mu);
		release(&l, upto, NULL);
		if (done)
			break;
		if (pf[1].revents & POLLIN)
			accept_all(&l);
		for (i = 0; i < l.nc && i + 2 < np; i++) {
			short rv = pf[i + 2].revents;

			if (l.c[i].fd < 0 || pf[i + 2].fd != l.c[i].fd)
				continue;
			/* a TLS handshake may wait to write, then read */
			if ((rv & (POLLIN | POLLHUP | POLLERR) ||
			     (rv & POLLOUT && l.c[i].tls &&
			      ps_tls_wants_write(l.c[i].tls))) &&
			    conn_read(&l, i, e) < 0)
				goto out;
			if (l.c[i].fd >= 0 && l.c[i].out.len)
				conn_write(&l, i);
		}
	}
	/* Stop: bronze commits what it read and ends; then the last ACKs. */
	close(l.bpipe[1]);
	l.bpipe[1] = -1;
	pthread_join(th, NULL);
	started = 0;
	release(&l, l.committed, NULL);
	if (l.bronze_rc < 0 || l.emit_failed) {
		release(&l, 0, "AE");
		*e = l.berr;
		if (!e->code)
			ps_error_set(e, PS_EX_IOERR, "cannot write envelopes");
	} else {
		rc = 0;
	}
	/* Send what is queued, for a second at most. */
	for (until = ps_mono() + 1; ps_mono() < until;) {
		int left = 0;

		for (i = 0; i < l.nc; i++)
			if (l.c[i].fd >= 0 && l.c[i].out.len) {
				conn_write(&l, i);
				left += l.c[i].fd >= 0 && l.c[i].out.len;
			}
		if (!left)
			break;
		usleep(10000);
	}
out:
	if (started) {
		/* an error in this thread: stop bronze too */
		ps_stop_requested = 1;
		close(l.bpipe[1]);
		l.bpipe[1] = -1;
		pthread_join(th, NULL);
	}
	ps_log(PS_INFO, "done", PS_I("connections", l.n_conn),
	       PS_I("messages", l.n_msg), PS_I("landed", l.n_landed),
	       PS_I("duplicates", l.n_dup), PS_I("rejected", l.n_rej));
	for (i = 0; i < l.nc; i++) {
		if (l.c[i].fd >= 0)
			conn_close(&l, i);
		ps_buf_release(&l.c[i].in);
		ps_buf_release(&l.c[i].out);
	}
	free(l.c);
	free(pf);
	for (i = 0; i < (int)l.nw; i++)
		free(l.w[i].ack);
	free(l.w);
	for (i = 0; i < 2; i++) {
		if (l.wake[i] >= 0)
			close(l.wake[i]);
		if (l.bpipe[i] >= 0)
			close(l.bpipe[i]);
	}
	if (l.lfd >= 0)
		close(l.lfd);
	ids_free(&l.ids);
	ps_tls_server_free(l.tls);
	ps_envelope_parser_free(l.ep);
	ps_hl7_msg_release(&l.msg);
	ps_buf_release(&l.source);
	ps_buf_release(&l.env);
	ps_buf_release(&l.tmp);
	pthread_mutex_destroy(&l.mu);
	return rc;
}

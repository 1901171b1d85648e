/* kafka.c - see kafka.h.  The only file that includes librdkafka. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <librdkafka/rdkafka.h>

#include "buf.h"
#include "checkpoint.h"
#include "cli.h"
#include "envelope.h"
#include "fsutil.h"
#include "crypto.h"
#include "kafka.h"
#include "lake.h"
#include "log.h"
#include "ndjson.h"
#include "progress.h"
#include "pstime.h"
#include "secret.h"
#include "banned.h"

#define REDACTED "[redacted]"

enum role { PRODUCER, CONSUMER };

struct prop {
	char *name;
	char *value;
	int weak;	/* Event Hubs recommendation: users override it */
	int only;	/* 0 both roles, else 1 + enum role */
};

struct ps_kafka_conf {
	struct prop *p;
	size_t n, cap;
	char **secret;
	size_t nsecret, capsecret;
	char *topic;	/* EntityPath */
	int eventhubs;
};

struct ps_kafka_conf *ps_kafka_conf_new(void)
{
	return ps_xcalloc(1, sizeof(struct ps_kafka_conf));
}

void ps_kafka_conf_free(struct ps_kafka_conf *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->n; i++) {
		free(c->p[i].name);
		free(c->p[i].value);
	}
	for (i = 0; i < c->nsecret; i++)
		free(c->secret[i]);
	free(c->p);
	free(c->secret);
	free(c->topic);
	free(c);
}

static void add_secret(struct ps_kafka_conf *c, const char *s, size_t n)
{
	size_t i;

	ps_crypto_protect_process();	/* a password or key is held */
	if (n < 4)	/* too short to hide without hiding everything */
		return;
	for (i = 0; i < c->nsecret; i++)
		if (strlen(c->secret[i]) == n && !memcmp(c->secret[i], s, n))
			return;
	if (c->nsecret == c->capsecret) {
		c->capsecret = c->capsecret ? 2 * c->capsecret : 4;
		c->secret = ps_xrealloc(c->secret,
					c->capsecret * sizeof(*c->secret));
	}
	c->secret[c->nsecret++] = ps_xmemdup(s, n);
}

static int sensitive(const char *name)
{
	return strstr(name, "password") || strstr(name, "secret") ||
	       strstr(name, "key.pem") || strstr(name, "sasl.oauthbearer.config");
}

static void set_prop(struct ps_kafka_conf *c, const char *name,
		     const char *value, int weak, int only)
{
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 16;
		c->p = ps_xrealloc(c->p, c->cap * sizeof(*c->p));
	}
	c->p[c->n].name = ps_xstrdup(name);
	c->p[c->n].value = ps_xstrdup(value);
	c->p[c->n].weak = weak;
	c->p[c->n].only = only;
	c->n++;
	if (sensitive(name))
		add_secret(c, value, strlen(value));
}

int ps_kafka_conf_set(struct ps_kafka_conf *c, const char *name,
		      const char *value, struct ps_error *e)
{
	char *v = NULL;

	if (!*name)
		return ps_error_set(e, PS_EX_CONFIG, "empty property name");
	if (!ps_secret_is_ref(value)) {
		set_prop(c, name, value, 0, 0);
		return 0;
	}
	if (ps_secret_resolve(value, &v, e) < 0)
		return -1;
	add_secret(c, v, strlen(v));
	set_prop(c, name, v, 0, 0);
	ps_secret_free(v);
	return 0;
}

int ps_kafka_conf_add(struct ps_kafka_conf *c, const char *prop,
		      struct ps_error *e)
{
	const char *eq = strchr(prop, '=');
	char *name;
	int rc;

	if (!eq || eq == prop)
		return ps_error_set(e, PS_EX_CONFIG, "property '%.*s' is not "
				    "name=value", eq ? 0 : 64, prop);
	name = ps_xmemdup(prop, (size_t)(eq - prop));
	rc = ps_kafka_conf_set(c, name, eq + 1, e);
	free(name);
	return rc;
}

static const char *trim(char *s, size_t *n)
{
	while (*n && (*s == ' ' || *s == '\t')) {
		s++;
		(*n)--;
	}
	while (*n && (s[*n - 1] == ' ' || s[*n - 1] == '\t' ||
		      s[*n - 1] == '\r'))
		(*n)--;
	s[*n] = '\0';
	return s;
}

int ps_kafka_conf_load(struct ps_kafka_conf *c, const char *path,
		       struct ps_error *e)
{
	struct ps_buf b = PS_BUF_INIT;
	char *line, *end, *eq;
	long long lineno = 0;
	int rc = ps_read_file(path, &b, 1 << 20, e);

	if (rc == 1)
		rc = ps_error_set(e, PS_EX_NOINPUT, "%s: no such file", path);
	if (rc < 0) {
		ps_buf_release(&b);
		return -1;
	}
	for (line = b.data; line && line < b.data + b.len; line = end) {
		size_t nlen, vlen;
		const char *name, *value;

		end = memchr(line, '\n', (size_t)(b.data + b.len - line));
		if (end)
			*end++ = '\0';
		lineno++;
		nlen = strlen(line);
		name = trim(line, &nlen);
		if (!nlen || *name == '#')
			continue;
		eq = strchr(name, '=');
		if (!eq || eq == name) {
			ps_buf_release(&b);
			return ps_error_set(e, PS_EX_CONFIG, "%s:%lld: expected "
					    "name=value", path, lineno);
		}
		*eq = '\0';
		nlen = strlen(name);
		name = trim((char *)name, &nlen);
		vlen = strlen(eq + 1);
		value = trim(eq + 1, &vlen);
		if (ps_kafka_conf_set(c, name, value, e) < 0) {
			ps_buf_release(&b);
			return -1;
		}
	}
	ps_buf_release(&b);
	return 0;
}

/* The value of key (case-insensitive) in a ';'-separated k=v string. */
static int connstr_get(const char *s, const char *key, const char **v,
		       size_t *vlen)
{
	size_t klen = strlen(key);

	while (*s) {
		const char *semi = strchr(s, ';');
		size_t n = semi ? (size_t)(semi - s) : strlen(s);

		while (n && (*s == ' ' || *s == '\t')) {
			s++;
			n--;
		}
		if (n > klen && s[klen] == '=' && !strncasecmp(s, key, klen)) {
			*v = s + klen + 1;
			*vlen = n - klen - 1;
			return 1;
		}
		s += n;
		if (*s == ';')
			s++;
	}
	return 0;
}

int ps_kafka_conf_eventhubs(struct ps_kafka_conf *c, const char *connstr,
			    struct ps_error *e)
{
	const char *ep, *v, *host;
	size_t eplen, vlen, hlen;
	char bootstrap[300];

	if (!connstr || !*connstr)
		return ps_error_set(e, PS_EX_CONFIG, "empty Event Hubs "
				    "connection string");
	/* Hide it before anything can go wrong. */
	add_secret(c, connstr, strlen(connstr));
	if (connstr_get(connstr, "SharedAccessKey", &v, &vlen))
		add_secret(c, v, vlen);
	if (connstr_get(connstr, "SharedAccessSignature", &v, &vlen))
		add_secret(c, v, vlen);
	if (!connstr_get(connstr, "Endpoint", &ep, &eplen) || eplen < 6 ||
	    strncasecmp(ep, "sb://", 5))
		return ps_error_set(e, PS_EX_CONFIG, "Event Hubs connection "
				    "string lacks Endpoint=sb://NAMESPACE...");
	if (!(connstr_get(connstr, "SharedAccessSignature", &v, &vlen) &&
	      vlen) &&
	    !(connstr_get(connstr, "SharedAccessKeyName", &v, &vlen) && vlen &&
	      connstr_get(connstr, "SharedAccessKey", &v, &vlen) && vlen))
		return ps_error_set(e, PS_EX_CONFIG, "Event Hubs connection "
				    "string lacks SharedAccessKeyName and "
				    "SharedAccessKey");
	host = ep + 5;
	for (hlen = 0; hlen < eplen - 5 && host[hlen] != '/' &&
	     host[hlen] != ':'; hlen++)
		;
	if (!hlen || hlen > 253)
		return ps_error_set(e, PS_EX_CONFIG, "Event Hubs connection "
				    "string has an empty Endpoint host");
	snprintf(bootstrap, sizeof(bootstrap), "%.*s:9093", (int)hlen, host);
	set_prop(c, "bootstrap.servers", bootstrap, 1, 0);
	set_prop(c, "security.protocol", "SASL_SSL", 1, 0);
	set_prop(c, "sasl.mechanisms", "PLAIN", 1, 0);
	set_prop(c, "sasl.username", "$ConnectionString", 1, 0);
	set_prop(c, "sasl.password", connstr, 1, 0);
	/* Microsoft's recommendations for librdkafka (HEALTHCARE.md). */
	set_prop(c, "socket.keepalive.enable", "true", 1, 0);
	set_prop(c, "metadata.max.age.ms", "180000", 1, 0);
	set_prop(c, "request.timeout.ms", "60000", 1, 1 + PRODUCER);
	set_prop(c, "session.timeout.ms", "30000", 1, 1 + CONSUMER);
	c->eventhubs = 1;
	free(c->topic);
	c->topic = NULL;
	if (connstr_get(connstr, "EntityPath", &v, &vlen) && vlen)
		c->topic = ps_xmemdup(v, vlen);
	return 0;
}

const char *ps_kafka_conf_topic(const struct ps_kafka_conf *c)
{
	return c->topic;
}

char *ps_kafka_redact(const struct ps_kafka_conf *c, const char *s,
		      char *out, size_t outlen)
{
	size_t o = 0, i, k, rlen = strlen(REDACTED);

	if (!outlen)
		return out;
	while (*s && o + 1 < outlen) {
		size_t hit = 0;

		for (k = 0; c && k < c->nsecret; k++) {
			size_t n = strlen(c->secret[k]);

			if (!strncmp(s, c->secret[k], n)) {
				hit = n;
				break;
			}
		}
		if (hit) {
			for (i = 0; i < rlen && o + 1 < outlen; i++)
				out[o++] = REDACTED[i];
			s += hit;
		} else {
			out[o++] = *s++;
		}
	}
	out[o] = '\0';
	return out;
}

/* JSON scanning for the message key. */

static size_t skip_ws(const char *p, size_t n, size_t i)
{
	while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' ||
			 p[i] == '\r'))
		i++;
	return i;
}

/* i at the opening quote; returns the index after the closing quote. */
static size_t skip_string(const char *p, size_t n, size_t i, int *esc)
{
	for (i++; i < n; i++) {
		if (p[i] == '\\') {
			*esc = 1;
			i++;
		} else if (p[i] == '"') {
			return i + 1;
		}
	}
	return 0;
}

/* Returns the index after the value starting at i, or 0 when malformed. */
static size_t skip_value(const char *p, size_t n, size_t i)
{
	int depth = 0, esc = 0;

	if (i >= n)
		return 0;
	if (p[i] == '"')
		return skip_string(p, n, i, &esc);
	if (p[i] != '{' && p[i] != '[') {
		size_t s = i;

		while (i < n && p[i] != ',' && p[i] != '}' && p[i] != ']' &&
		       p[i] != ' ' && p[i] != '\t' && p[i] != '\r' &&
		       p[i] != '\n' && p[i] != '"' && p[i] != ':')
			i++;
		/* A token cut by the end of the input is not complete. */
		return i > s && i < n ? i : 0;
	}
	while (i < n) {
		if (p[i] == '"') {
			i = skip_string(p, n, i, &esc);
			if (!i)
				return 0;
			continue;
		}
		if (p[i] == '{' || p[i] == '[')
			depth++;
		else if (p[i] == '}' || p[i] == ']')
			depth--;
		i++;
		if (!depth)
			return i;
	}
	return 0;
}

int ps_kafka_json_field(const char *p, size_t n, const char *field,
			size_t flen, const char **val, size_t *vlen)
{
	size_t i = skip_ws(p, n, 0);

	if (i >= n || p[i] != '{')
		return -1;
	i = skip_ws(p, n, i + 1);
	if (i < n && p[i] == '}')
		return 0;
	while (i < n) {
		size_t ks, ke, vs, ve;
		int esc = 0;

		if (p[i] != '"')
			return -1;
		ks = i + 1;
		i = skip_string(p, n, i, &esc);
		if (!i)
			return -1;
		ke = i - 1;
		i = skip_ws(p, n, i);
		if (i >= n || p[i] != ':')
			return -1;
		vs = skip_ws(p, n, i + 1);
		ve = skip_value(p, n, vs);
		if (!ve)
			return -1;
		if (!esc && ke - ks == flen && !memcmp(p + ks, field, flen)) {
			if (p[vs] == '"') {
				*val = p + vs + 1;
				*vlen = ve - vs - 2;
			} else if (ve - vs == 4 && !memcmp(p + vs, "null", 4)) {
				return 0;
			} else {
				*val = p + vs;
				*vlen = ve - vs;
			}
			return 1;
		}
		i = skip_ws(p, n, ve);
		if (i < n && p[i] == '}')
			return 0;
		if (i >= n || p[i] != ',')
			return -1;
		i = skip_ws(p, n, i + 1);
	}
	return -1;
}

/* Clients. */

struct part {
	int assigned;
	int done;		/* reached hi (exit at end) */
	int dirty;		/* output not yet committed */
	int64_t hi;		/* high watermark when assigned */
	int64_t next;		/* offset after the last one written, or -1 */
};

struct client {
	rd_kafka_t *rk;
	const struct ps_kafka_conf *c;
	enum role role;
	/* producer */
	struct ps_kafka_produce_stats *pst;
	int dr_err;		/* first failed delivery */
	char dr_msg[200];
	/* both */
	int fail_code;		/* fail fast: authentication, fatal */
	char fail_msg[220];
	int all_down;
	/* consumer */
	const struct ps_kafka_consume_opts *co;
	struct ps_kafka_consume_stats *cst;
	FILE *out;
	int pending;		/* written, not flushed */
	int out_err;		/* 74, or -1 when the reader went away */
	int assigned_once;
	struct part *parts;
	int nparts;
	double last_commit;
	char *source_prefix;	/* "kafka:TOPIC/" */
	size_t prefix_len;
};

static void fail(struct client *cl, int code, const char *what,
		 const char *reason)
{
	char red[200];

	if (cl->fail_code)
		return;
	ps_kafka_redact(cl->c, reason, red, sizeof(red));
	cl->fail_code = code;
	if (snprintf(cl->fail_msg, sizeof(cl->fail_msg), "%s: %s", what,
		     red) < 0)
		cl->fail_msg[0] = '\0';
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac,
		   const char *buf)
{
	struct client *cl = rd_kafka_opaque(rk);
	int lv = level <= 2 ? PS_ERROR : level <= 4 ? PS_WARN
	       : level <= 6 ? PS_INFO : PS_DEBUG;
	char red[512];

	if (!ps_log_enabled(lv))
		return;
	ps_kafka_redact(cl ? cl->c : NULL, buf, red, sizeof(red));
	ps_log(lv, "librdkafka", PS_S("facility", fac), PS_S("detail", red));
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason,
		     void *opaque)
{
	struct client *cl = opaque;
	char red[512], buf[256];

	ps_kafka_redact(cl->c, reason, red, sizeof(red));
	switch (err) {
	case RD_KAFKA_RESP_ERR__FATAL:
		rd_kafka_fatal_error(rk, buf, sizeof(buf));
		fail(cl, PS_EX_UNAVAILABLE, "fatal client error", buf);
		break;
	case RD_KAFKA_RESP_ERR__AUTHENTICATION:
	case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
		fail(cl, PS_EX_CONFIG, "authentication failed (check the "
		     "credential or connection string)", reason);
		break;
	case RD_KAFKA_RESP_ERR__SSL:
		if (strstr(reason, "certificate") || strstr(reason, "handshake"))
			fail(cl, PS_EX_CONFIG, "TLS handshake failed (check "
			     "ssl.ca.location)", reason);
		else
			ps_log(PS_WARN, "kafka error", PS_S("detail", red));
		break;
	case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
		cl->all_down = 1;
		ps_log(PS_WARN, "all brokers are down", PS_S("detail", red));
		break;
	case RD_KAFKA_RESP_ERR__TRANSPORT:
		/* librdkafka's log line said it already */
		ps_log(PS_DEBUG, "kafka transport error", PS_S("detail", red));
		break;
	default:
		ps_log(PS_WARN, "kafka error", PS_S("error", rd_kafka_err2name(
		       (rd_kafka_resp_err_t)err)), PS_S("detail", red));
		break;
	}
}

static int has_prop(const struct ps_kafka_conf *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		if (!strcmp(c->p[i].name, name))
			return 1;
	return 0;
}

static int conf_set(rd_kafka_conf_t *kc, const struct ps_kafka_conf *c,
		    const char *name, const char *value, struct ps_error *e)
{
	char err[512], red[300];

	if (rd_kafka_conf_set(kc, name, value, err, sizeof(err)) ==
	    RD_KAFKA_CONF_OK)
		return 0;
	ps_kafka_redact(c, err, red, sizeof(red));
	return ps_error_set(e, PS_EX_CONFIG, "property %s: %s", name, red);
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct client *cl = opaque;

	(void)rk;
	if (!m->err) {
		cl->pst->delivered++;
		return;
	}
	cl->pst->failed++;
	if (!cl->dr_err) {
		cl->dr_err = m->err;
		snprintf(cl->dr_msg, sizeof(cl->dr_msg), "%s",
			 rd_kafka_err2str(m->err));
	}
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
			 rd_kafka_topic_partition_list_t *l, void *opaque);

/*
 * Create a client: defaults, Event Hubs recommendations, user properties,
 * then what the guarantees need.  Returns 0 or -1 (78).
 */
static int client_new(struct client *cl, enum role role,
		      const char *const *defaults, struct ps_error *e)
{
	rd_kafka_conf_t *kc = rd_kafka_conf_new();
	char err[512], red[300];
	size_t i;

	cl->role = role;
	if (!has_prop(cl->c, "bootstrap.servers") &&
	    !has_prop(cl->c, "metadata.broker.list") &&
	    !has_prop(cl->c, "test.mock.num.brokers")) {
		rd_kafka_conf_destroy(kc);
		return ps_error_set(e, PS_EX_CONFIG, "no brokers: use -b "
				    "BROKERS or --eventhubs");
	}
	for (i = 0; defaults[i]; i += 2)
		if (conf_set(kc, cl->c, defaults[i], defaults[i + 1], e) < 0)
			goto bad;
	for (i = 0; i < cl->c->n; i++)
		if (cl->c->p[i].weak &&
		    (!cl->c->p[i].only || cl->c->p[i].only == 1 + (int)role) &&
		    conf_set(kc, cl->c, cl->c->p[i].name, cl->c->p[i].value,
			     e) < 0)
			goto bad;
	for (i = 0; i < cl->c->n; i++)
		if (!cl->c->p[i].weak &&
		    conf_set(kc, cl->c, cl->c->p[i].name, cl->c->p[i].value,
			     e) < 0)
			goto bad;
	if (conf_set(kc, cl->c, "log.queue", "true", e) < 0)
		goto bad;
	if (role == CONSUMER &&
	    (conf_set(kc, cl->c, "enable.auto.commit", "false", e) < 0 ||
	     conf_set(kc, cl->c, "enable.auto.offset.store", "false", e) < 0 ||
	     conf_set(kc, cl->c, "enable.partition.eof", "true", e) < 0))
		goto bad;
	rd_kafka_conf_set_opaque(kc, cl);
	rd_kafka_conf_set_log_cb(kc, log_cb);
	rd_kafka_conf_set_error_cb(kc, error_cb);
	if (role == PRODUCER)
		rd_kafka_conf_set_dr_msg_cb(kc, dr_cb);
	else
		rd_kafka_conf_set_rebalance_cb(kc, rebalance_cb);
	cl->rk = rd_kafka_new(role == PRODUCER ? RD_KAFKA_PRODUCER
			      : RD_KAFKA_CONSUMER, kc, err, sizeof(err));
	if (!cl->rk) {
		rd_kafka_conf_destroy(kc);
		ps_kafka_redact(cl->c, err, red, sizeof(red));
		return ps_error_set(e, PS_EX_CONFIG, "cannot create the "
				    "Kafka client: %s", red);
	}
	rd_kafka_set_log_queue(cl->rk, NULL);
	return 0;
bad:
	rd_kafka_conf_destroy(kc);
	return -1;
}

/* Is any broker answering now?  (Tells "unreachable" from "transient".) */
static int broker_up(rd_kafka_t *rk)
{
	const struct rd_kafka_metadata *md;

	if (rd_kafka_metadata(rk, 0, NULL, &md, 1000) !=
	    RD_KAFKA_RESP_ERR_NO_ERROR)
		return 0;
	rd_kafka_metadata_destroy(md);
	return 1;
}

/* Producer. */

static int produce_one(struct client *cl, rd_kafka_topic_t *rkt,
		       const char *p, size_t n, const char *key, size_t klen)
{
	for (;;) {
		rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;

		if (rd_kafka_produce(rkt, RD_KAFKA_PARTITION_UA,
				     RD_KAFKA_MSG_F_COPY, (void *)p, n, key,
				     klen, NULL) == 0)
			return 0;
		err = rd_kafka_last_error();
		if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
			return err;
		/* Backpressure: wait for deliveries, never drop. */
		rd_kafka_poll(cl->rk, 50);
		if (cl->fail_code || cl->dr_err)
			return RD_KAFKA_RESP_ERR__QUEUE_FULL;
	}
}

static const char *const producer_defaults[] = {
	"enable.idempotence", "true",
	"acks", "all",
	"message.max.bytes", "1000000",
	"linger.ms", "5",
	/* Backpressure bound: at most this much waits in memory. */
	"queue.buffering.max.messages", "100000",
	"queue.buffering.max.kbytes", "65536",
	"batch.num.messages", "10000",
	NULL,
};

int ps_kafka_produce(struct ps_kafka_conf *c,
		     const struct ps_kafka_produce_opts *o, int fd,
		     struct ps_kafka_produce_stats *st, struct ps_error *e)
{
	struct client cl;
	struct ps_ndjson *r = NULL;
	rd_kafka_topic_t *rkt = NULL;
	struct ps_counter ctr[1] = { { "delivered", 0 } };
	struct ps_progress prog;
	const char *defaults[2 * 16];
	char tmo[32];
	size_t flen = o->key_field ? strlen(o->key_field) : 0;
	int rc = 0, nd = 0, i;

	memset(&cl, 0, sizeof(cl));
	memset(st, 0, sizeof(*st));
	cl.c = c;
	cl.pst = st;
	for (i = 0; producer_defaults[i]; i++)
		defaults[nd++] = producer_defaults[i];
	if (!o->idempotence) {
		defaults[1] = "false";
	}
	snprintf(tmo, sizeof(tmo), "%lld", o->timeout_ms);
	defaults[nd++] = "message.timeout.ms";
	defaults[nd++] = tmo;
	defaults[nd] = NULL;
	if (!o->topic || !*o->topic)
		return ps_error_set(e, PS_EX_USAGE, "no topic: use -t TOPIC");
	if (client_new(&cl, PRODUCER, defaults, e) < 0)
		return -1;
	rkt = rd_kafka_topic_new(cl.rk, o->topic, NULL);
	if (!rkt) {
		rc = ps_error_set(e, PS_EX_CONFIG, "topic '%s': %s", o->topic,
				  rd_kafka_err2str(rd_kafka_last_error()));
		goto out;
	}
	r = ps_ndjson_new_fd(fd, (size_t)o->max_bytes);
	ps_ndjson_set_interrupt(r, ps_stop_flag());
	ps_progress_init(&prog, ctr, 1);
	while (!ps_stop_requested && !cl.fail_code && !cl.dr_err) {
		struct ps_line line;
		const char *key = NULL;
		size_t klen = 0;
		int err, n = ps_ndjson_next(r, &line, e);

		if (n == 0)
			break;
		if (n < 0) {
			if (e->code)
				rc = -1;
			break;
		}
		st->read++;
		if (!line.len && !line.too_long)
			continue;
		if (flen && !line.too_long &&
		    ps_kafka_json_field(line.data, line.len, o->key_field,
					flen, &key, &klen) != 1) {
			key = NULL;
			klen = 0;
			st->unkeyed++;
		}
		if (line.too_long || line.len + klen > (size_t)o->max_bytes) {
			st->rejected++;
			ps_log(PS_WARN, "line rejected: longer than the "
			       "message size limit (--max-bytes)",
			       PS_I("line", line.lineno),
			       PS_I("bytes", line.full_len + klen),
			       PS_I("max", o->max_bytes));
			if (o->strict) {
				rc = ps_error_set(e, PS_EX_DATAERR, "line %lld:"
						  " %zu bytes, over the limit "
						  "of %lld", line.lineno,
						  line.full_len + klen,
						  o->max_bytes);
				break;
			}
			continue;
		}
		err = produce_one(&cl, rkt, line.data, line.len, key, klen);
		if (err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE) {
			st->rejected++;
			ps_log(PS_WARN, "line rejected: larger than "
			       "message.max.bytes", PS_I("line", line.lineno),
			       PS_I("bytes", line.len + klen));
			if (o->strict) {
				rc = ps_error_set(e, PS_EX_DATAERR, "line %lld:"
						  " larger than message.max."
						  "bytes", line.lineno);
				break;
			}
			continue;
		}
		if (err) {
			st->unsent++;
			if (!cl.fail_code && !cl.dr_err)
				fail(&cl, PS_EX_UNAVAILABLE, "cannot produce",
				     rd_kafka_err2str(err));
			break;
		}
		if (!(st->read & 1023))
			rd_kafka_poll(cl.rk, 0);
		ctr[0].value = st->delivered;
		ps_progress_tick(&prog);
	}
	/* Every queued message gets its delivery report. */
	while (rd_kafka_outq_len(cl.rk) > 0) {
		if (cl.fail_code)
			rd_kafka_purge(cl.rk, RD_KAFKA_PURGE_F_QUEUE |
				       RD_KAFKA_PURGE_F_INFLIGHT);
		rd_kafka_poll(cl.rk, 100);
		ctr[0].value = st->delivered;
		ps_progress_tick(&prog);
	}
	rd_kafka_poll(cl.rk, 0);
	ctr[0].value = st->delivered;
	if (rc < 0)
		goto out;
	if (cl.fail_code) {
		rc = ps_error_set(e, cl.fail_code, "%s", cl.fail_msg);
	} else if (st->failed || st->unsent) {
		int up = broker_up(cl.rk);

		rc = ps_error_set(e, up ? PS_EX_TEMPFAIL : PS_EX_UNAVAILABLE,
				  "%lld message(s) undelivered (%s)%s",
				  st->failed + st->unsent, cl.dr_msg[0] ?
				  cl.dr_msg : "not sent", up ? "" :
				  ": broker unreachable");
	}
out:
	ps_ndjson_free(r);
	if (rkt)
		rd_kafka_topic_destroy(rkt);
	rd_kafka_destroy(cl.rk);
	return rc;
}

/* Consumer. */

int ps_kafka_parse_from(const char *s, enum ps_kafka_from *from,
			int64_t *t, struct ps_error *e)
{
	const char *why;

	if (!strcmp(s, "beginning")) {
		*from = PS_KAFKA_FROM_BEGINNING;
		return 0;
	}
	if (!strcmp(s, "end")) {
		*from = PS_KAFKA_FROM_END;
		return 0;
	}
	if (ps_time_parse(s, strlen(s), t, &why) == 0) {
		*from = PS_KAFKA_FROM_TIME;
		return 0;
	}
	return ps_error_set(e, PS_EX_USAGE, "--from: expected beginning, end "
			    "or an ISO-8601 time, not '%s'", s);
}

static struct part *part_get(struct client *cl, int32_t p)
{
	if (p < 0)
		return NULL;
	if (p >= cl->nparts) {
		int n = cl->nparts, i;

		cl->nparts = p + 16;
		cl->parts = ps_xrealloc(cl->parts,
					(size_t)cl->nparts * sizeof(*cl->parts));
		for (i = n; i < cl->nparts; i++) {
			memset(&cl->parts[i], 0, sizeof(cl->parts[i]));
			cl->parts[i].next = -1;
		}
	}
	return &cl->parts[p];
}

/* Flush the output; 0, or -1 (out_err set). */
static int flush_out(struct client *cl)
{
	if (!cl->pending || cl->out_err)
		return cl->out_err ? -1 : 0;
	cl->pending = 0;
	if (fflush(cl->out) == 0)
		return 0;
	cl->out_err = errno == EPIPE ? -1 : PS_EX_IOERR;
	return -1;
}

/* Commit the written positions (group mode, after the output is out). */
static void commit(struct client *cl, int sync)
{
	rd_kafka_topic_partition_list_t *l;
	rd_kafka_resp_err_t err;
	int i;

	if (cl->co->lake || flush_out(cl) < 0)
		return;
	l = rd_kafka_topic_partition_list_new(4);
	for (i = 0; i < cl->nparts; i++)
		if (cl->parts[i].dirty && cl->parts[i].next >= 0) {
			rd_kafka_topic_partition_list_add(l, cl->co->topic, i)
				->offset = cl->parts[i].next;
			cl->parts[i].dirty = 0;
		}
	if (l->cnt) {
		err = rd_kafka_commit(cl->rk, l, !sync);
		if (err)
			ps_log(PS_WARN, "offset commit failed",
			       PS_S("error", rd_kafka_err2str(err)));
		else
			cl->cst->commits++;
	}
	rd_kafka_topic_partition_list_destroy(l);
	cl->last_commit = ps_mono();
}

static void pause_part(struct client *cl, int32_t p)
{
	rd_kafka_topic_partition_list_t *l =
		rd_kafka_topic_partition_list_new(1);

	rd_kafka_topic_partition_list_add(l, cl->co->topic, p);
	rd_kafka_pause_partitions(cl->rk, l);
	rd_kafka_topic_partition_list_destroy(l);
}

/* Where each newly assigned partition starts; watermarks for the end. */
static void on_assign(struct client *cl, rd_kafka_topic_partition_list_t *l)
{
	const struct ps_kafka_consume_opts *o = cl->co;
	rd_kafka_topic_partition_list_t *ts = NULL;
	rd_kafka_resp_err_t err;
	int i;
	struct ps_checkpoint *cp = NULL;
	struct ps_error ce = { 0, "" };

	if (o->lake) {
		/* What bronze committed (lib/lake.h). */
		cp = ps_checkpoint_new();
		if (ps_lake_committed(o->lake, PS_LAKE_BRONZE, o->stream, cp,
				      &ce) < 0) {
			fail(cl, ce.code ? ce.code : PS_EX_SOFTWARE,
			     "bronze checkpoint", ce.msg);
			ps_checkpoint_free(cp);
			return;
		}
	}
	if (!o->lake) {
		err = rd_kafka_committed(cl->rk, l, 10000);
		if (err) {
			fail(cl, PS_EX_UNAVAILABLE, "committed offsets",
			     rd_kafka_err2str(err));
			ps_checkpoint_free(cp);
			return;
		}
	}
	if (o->from == PS_KAFKA_FROM_TIME) {
		ts = rd_kafka_topic_partition_list_copy(l);
		for (i = 0; i < ts->cnt; i++)
			ts->elems[i].offset = o->from_time / 1000;
		err = rd_kafka_offsets_for_times(cl->rk, ts, 10000);
		if (err) {
			fail(cl, PS_EX_UNAVAILABLE, "offsets for --from time",
			     rd_kafka_err2str(err));
			rd_kafka_topic_partition_list_destroy(ts);
			ps_checkpoint_free(cp);
			return;
		}
	}
	for (i = 0; i < l->cnt; i++) {
		rd_kafka_topic_partition_t *tp = &l->elems[i];
		struct part *p = part_get(cl, tp->partition);
		int64_t start = -1, lo = 0, hi = 0;

		if (o->lake) {
			char src[300];
			int n = snprintf(src, sizeof(src), "%.*s%" PRId32,
					 (int)cl->prefix_len,
					 cl->source_prefix, tp->partition);
			long long cpv = ps_checkpoint_get(cp, src, (size_t)n);

			if (cpv >= 0)
				start = cpv + 1;
		} else if (tp->offset >= 0) {
			start = tp->offset;
		}
		if (p->next > start)
			start = p->next;	/* already written by us */
		/*
		 * Resolve beginning, end and times to offsets now, so that a
		 * later reassignment continues from here, and learn the high
		 * watermark for --exit-at-end.
		 */
		hi = -1;
		if (start < 0 || o->exit_at_end) {
			err = rd_kafka_query_watermark_offsets(cl->rk, o->topic,
							       tp->partition,
							       &lo, &hi, 10000);
			if (err) {
				fail(cl, PS_EX_UNAVAILABLE, "high watermark",
				     rd_kafka_err2str(err));
				break;
			}
		}
		if (start < 0) {
			if (o->from == PS_KAFKA_FROM_BEGINNING)
				start = lo;
			else if (o->from == PS_KAFKA_FROM_END ||
				 ts->elems[i].offset < 0)
				start = hi;
			else
				start = ts->elems[i].offset;
		}
		tp->offset = start;
		p->next = start;
		p->assigned = 1;
		p->dirty = 0;
		p->hi = hi;
		p->done = o->exit_at_end && start >= hi;
		cl->cst->partitions++;
		ps_log(PS_DEBUG, "partition assigned",
		       PS_I("partition", tp->partition),
		       PS_I("start", tp->offset), PS_I("high_watermark", hi));
	}
	if (ts)
		rd_kafka_topic_partition_list_destroy(ts);
	ps_checkpoint_free(cp);
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
			 rd_kafka_topic_partition_list_t *l, void *opaque)
{
	struct client *cl = opaque;
	int coop = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");
	int i;

	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		on_assign(cl, l);
		if (coop)
			rd_kafka_error_destroy(rd_kafka_incremental_assign(rk,
									   l));
		else
			rd_kafka_assign(rk, l);
		cl->assigned_once = 1;
		for (i = 0; i < l->cnt; i++) {
			struct part *p = part_get(cl, l->elems[i].partition);

			if (p->done)
				pause_part(cl, l->elems[i].partition);
		}
		return;
	}
	/* Revoked (or lost): hand over only what is written and flushed. */
	flush_out(cl);
	if (!rd_kafka_assignment_lost(rk))
		commit(cl, 1);
	for (i = 0; i < l->cnt; i++) {
		struct part *p = part_get(cl, l->elems[i].partition);

		p->assigned = 0;
		p->dirty = 0;
	}
	if (coop)
		rd_kafka_error_destroy(rd_kafka_incremental_unassign(rk, l));
	else
		rd_kafka_assign(rk, NULL);
}

static int all_done(struct client *cl)
{
	int i;

	for (i = 0; i < cl->nparts; i++)
		if (cl->parts[i].assigned && !cl->parts[i].done)
			return 0;
	return 1;
}

static int topic_error(rd_kafka_resp_err_t err)
{
	return err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
	       err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
	       err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
	       err == RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED;
}

/*
 * Write one message as an envelope.  A message over PS_RECORD_MAX (key and
 * payload), which no stage accepts, goes out as an envelope for quarantine
 * (lib/envelope.h) holding its first bytes: ps-bronze keeps it in
 * quarantine at its offset, and the run goes on.
 */
static int emit(struct client *cl, const rd_kafka_message_t *m,
		struct ps_buf *src, struct ps_buf *b)
{
	struct ps_envelope env;
	rd_kafka_timestamp_type_t tt;
	int64_t ts = rd_kafka_message_timestamp(m, &tt);
	char d[96];

	src->len = cl->prefix_len;
	ps_buf_add_i64(src, m->partition);
	env.source = src->data;
	env.source_len = src->len;
	env.position = m->offset;
	env.ingest_time = ps_time_now();
	/* A producer may set any CreateTime: keep only what the range rule
	 * of lib/pstime admits (else absent, like a missing timestamp). */
	env.broker_time = ts >= 0 && ts <= PS_TIME_MAX_US / 1000 ?
			  ts * 1000 : PS_TIME_NONE;
	env.key = m->key;
	env.key_len = m->key_len;
	env.payload = m->payload ? m->payload : "";
	env.payload_len = m->len;
	env.reason = NULL;
	env.detail = NULL;
	env.length = (long long)m->len;
	env.truncated = 0;
	if (m->len + m->key_len > PS_RECORD_MAX) {
		snprintf(d, sizeof(d), "record of %zu bytes (key %zu) over the "
			 "limit of %zu", m->len, m->key_len, PS_RECORD_MAX);
		env.reason = "record_too_long";
		env.detail = d;
		env.truncated = 1;
		if (env.payload_len > PS_QUARANTINE_KEEP)
			env.payload_len = PS_QUARANTINE_KEEP;
		if (env.key_len > PS_QUARANTINE_KEEP)
			env.key_len = PS_QUARANTINE_KEEP;
		ps_log(PS_WARN, "record over the limit: passed on for "
		       "quarantine", PS_S("source", src->data),
		       PS_I("offset", m->offset), PS_I("bytes", m->len),
		       PS_I("key_bytes", m->key_len));
	}
	ps_buf_reset(b);
	ps_envelope_format(b, &env);
	if (fwrite(b->data, 1, b->len, cl->out) != b->len) {
		cl->out_err = errno == EPIPE ? -1 : PS_EX_IOERR;
		return -1;
	}
	cl->pending = 1;
	return 0;
}

static const char *const consumer_defaults[] = {
	"session.timeout.ms", "30000",
	"fetch.wait.max.ms", "100",
	/* librdkafka 2.0 stalls the fetcher for up to a second whenever
	 * the local queue reaches queued.min.messages; the byte limit
	 * (queued.max.messages.kbytes, 64 MB) still bounds memory. */
	"queued.min.messages", "1000000",
	NULL,
};

/* Handle a message that carries an error instead of data. */
static void consume_error(struct client *cl, const rd_kafka_message_t *m)
{
	char red[300];

	if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
		struct part *p = part_get(cl, m->partition);

		if (p && cl->co->exit_at_end && p->assigned && !p->done &&
		    m->offset >= p->hi) {
			p->done = 1;
			pause_part(cl, m->partition);
		}
		return;
	}
	ps_kafka_redact(cl->c, rd_kafka_message_errstr(m), red, sizeof(red));
	if (topic_error(m->err)) {
		fail(cl, PS_EX_UNAVAILABLE, cl->co->topic, red);
		return;
	}
	ps_log(PS_WARN, "kafka consumer error",
	       PS_S("error", rd_kafka_err2name(m->err)), PS_S("detail", red));
}

int ps_kafka_consume(struct ps_kafka_conf *c,
		     const struct ps_kafka_consume_opts *o, FILE *out,
		     struct ps_kafka_consume_stats *st, struct ps_error *e)
{
	struct client cl;
	struct ps_buf src = PS_BUF_INIT, b = PS_BUF_INIT, group = PS_BUF_INIT;
	rd_kafka_topic_partition_list_t *sub;
	struct ps_counter ctr[1] = { { "consumed", 0 } };
	struct ps_progress prog;
	const char *defaults[16];
	double deadline;
	int rc = 0, i, nd = 0;
	rd_kafka_resp_err_t err;

	memset(&cl, 0, sizeof(cl));
	memset(st, 0, sizeof(*st));
	if (!o->topic || !*o->topic)
		return ps_error_set(e, PS_EX_USAGE, "no topic: use -t TOPIC");
	cl.c = c;
	cl.co = o;
	cl.cst = st;
	cl.out = out;
	if (o->group && *o->group)
		ps_buf_adds(&group, o->group);
	else
		ps_buf_addf(&group, "pulsestream-%s", o->topic);
	for (i = 0; consumer_defaults[i]; i++)
		defaults[nd++] = consumer_defaults[i];
	defaults[nd++] = "group.id";
	defaults[nd++] = group.data;
	defaults[nd++] = "auto.offset.reset";
	defaults[nd++] = o->from == PS_KAFKA_FROM_END ? "latest" : "earliest";
	defaults[nd] = NULL;
	rc = client_new(&cl, CONSUMER, defaults, e);
	ps_buf_release(&group);
	if (rc < 0)
		return -1;
	ps_buf_addf(&src, "kafka:%s/", o->topic);
	cl.source_prefix = src.data;
	cl.prefix_len = src.len;
	rd_kafka_poll_set_consumer(cl.rk);
	sub = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(sub, o->topic,
					  RD_KAFKA_PARTITION_UA);
	err = rd_kafka_subscribe(cl.rk, sub);
	rd_kafka_topic_partition_list_destroy(sub);
	if (err) {
		rc = ps_error_set(e, PS_EX_CONFIG, "subscribe to %s: %s",
				  o->topic, rd_kafka_err2str(err));
		goto out;
	}
	ps_progress_init(&prog, ctr, 1);
	deadline = ps_mono() + (double)o->timeout_ms / 1000.0;
	cl.last_commit = ps_mono();
	while (!ps_stop_requested && !cl.fail_code && !cl.out_err) {
		rd_kafka_message_t *m;
		struct part *p;

		m = rd_kafka_consumer_poll(cl.rk, cl.pending ? 0 : 100);
		if (!m) {
			if (flush_out(&cl) < 0)
				break;
			if (!o->lake && ps_mono() - cl.last_commit >=
			    (double)o->commit_interval_ms / 1000.0)
				commit(&cl, 0);
			if (o->exit_at_end && cl.assigned_once && all_done(&cl))
				break;
			if (!cl.assigned_once && ps_mono() > deadline) {
				fail(&cl, PS_EX_UNAVAILABLE, "no partition of "
				     "the topic assigned in time", cl.all_down ?
				     "broker unreachable" : "check the topic "
				     "and the group");
				break;
			}
			continue;
		}
		if (m->err) {
			consume_error(&cl, m);
			rd_kafka_message_destroy(m);
			continue;
		}
		p = part_get(&cl, m->partition);
		/* Skip what was written before a reassignment. */
		if (p && p->assigned && (p->next < 0 || m->offset >= p->next)) {
			if (emit(&cl, m, &src, &b) < 0) {
				rd_kafka_message_destroy(m);
				break;
			}
			p->next = m->offset + 1;
			p->dirty = 1;
			st->consumed++;
			st->bytes += (long long)m->len;
			ctr[0].value = st->consumed;
			ps_progress_tick(&prog);
			if (o->exit_at_end && !p->done && p->next >= p->hi) {
				p->done = 1;
				pause_part(&cl, m->partition);
			}
		}
		rd_kafka_message_destroy(m);
		if (o->max_messages && st->consumed >= o->max_messages)
			break;
		if (cl.pending && !(st->consumed & 4095) && !o->lake &&
		    ps_mono() - cl.last_commit >=
		    (double)o->commit_interval_ms / 1000.0)
			commit(&cl, 0);
	}
	flush_out(&cl);
	if (!o->lake && !cl.out_err)
		commit(&cl, 1);
	rd_kafka_consumer_close(cl.rk);
	if (cl.fail_code)
		rc = ps_error_set(e, cl.fail_code, "%s", cl.fail_msg);
	else if (cl.out_err > 0)
		rc = ps_error_set(e, PS_EX_IOERR, "write error on the output:"
				  " %s", strerror(errno));
	ps_progress_done(&prog, "consume done");
out:
	rd_kafka_destroy(cl.rk);
	free(cl.parts);
	ps_buf_release(&src);
	ps_buf_release(&b);
	return rc;
}

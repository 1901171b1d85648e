/* envelope.c - see envelope.h. */
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#include "base64.h"
#include "envelope.h"
#include "json.h"
#include "pstime.h"
#include "banned.h"

enum field {
	F_NONE, F_SOURCE, F_POSITION, F_INGEST, F_BROKER, F_KEY, F_PAYLOAD,
	F_PAYLOAD_B64, F_KEY_B64, F_REASON, F_DETAIL, F_LENGTH, F_TRUNCATED
};

struct ps_envelope_parser {
	yajl_handle h;
	struct ps_buf source, key, payload, scratch, reason, detail;
	int depth;
	enum field cur;
	unsigned seen;		/* bit per field */
	long long position, length;
	int truncated;
	int64_t ingest, broker;
	const char *bad;	/* why a value was rejected */
};

static int cb_null(void *ctx)
{
	struct ps_envelope_parser *p = ctx;

	if (p->depth == 1 && (p->cur == F_BROKER || p->cur == F_KEY))
		p->cur = F_NONE;	/* explicit null: absent */
	else if (p->depth == 1 && p->cur != F_NONE) {
		p->bad = "null where a value is required";
		return 0;
	}
	return 1;
}

static int cb_bool(void *ctx, int v)
{
	struct ps_envelope_parser *p = ctx;

	if (p->depth == 1 && p->cur == F_TRUNCATED) {
		p->truncated = v;
		p->seen |= 1u << F_TRUNCATED;
	} else if (p->depth == 1 && p->cur != F_NONE) {
		p->bad = "boolean where a string or number is required";
		return 0;
	}
	return 1;
}

static int cb_int(void *ctx, long long v)
{
	struct ps_envelope_parser *p = ctx;

	if (p->depth != 1 || p->cur == F_NONE)
		return 1;
	if ((p->cur != F_POSITION && p->cur != F_LENGTH) || v < 0) {
		p->bad = p->cur == F_POSITION ? "negative position" :
			 p->cur == F_LENGTH ? "negative length" :
			 p->cur == F_TRUNCATED ? "truncated is not a boolean" :
			 "number where a string is required";
		return 0;
	}
	if (p->cur == F_POSITION)
		p->position = v;
	else
		p->length = v;
	p->seen |= 1u << p->cur;
	return 1;
}

static int cb_double(void *ctx, double v)
{
	struct ps_envelope_parser *p = ctx;

	(void)v;
	if (p->depth == 1 && p->cur != F_NONE) {
		p->bad = p->cur == F_POSITION ? "position is not an integer" :
			 p->cur == F_LENGTH ? "length is not an integer" :
			 p->cur == F_TRUNCATED ? "truncated is not a boolean" :
			 "number where a string is required";
		return 0;
	}
	return 1;
}

static int cb_string(void *ctx, const unsigned char *s, size_t n)
{
	struct ps_envelope_parser *p = ctx;
	const char *why = NULL;
	int64_t t;

	if (p->depth != 1 || p->cur == F_NONE)
		return 1;
	switch (p->cur) {
	case F_SOURCE:
		ps_buf_reset(&p->source);
		ps_buf_add(&p->source, s, n);
		break;
	case F_KEY:
		ps_buf_reset(&p->key);
		ps_buf_add(&p->key, s, n);
		break;
	case F_PAYLOAD:
		ps_buf_reset(&p->payload);
		ps_buf_add(&p->payload, s, n);
		break;
	case F_REASON:
	case F_DETAIL: {
		struct ps_buf *b = p->cur == F_REASON ? &p->reason : &p->detail;

		ps_buf_reset(b);
		ps_buf_add(b, s, n);
		ps_buf_addc(b, '\0');	/* C strings for the consumer */
		break;
	}
	case F_LENGTH:
		p->bad = "length is not a number";
		return 0;
	case F_TRUNCATED:
		p->bad = "truncated is not a boolean";
		return 0;
	case F_PAYLOAD_B64:
		ps_buf_reset(&p->payload);
		if (ps_base64_decode(&p->payload, (const char *)s, n) < 0) {
			p->bad = "payload_b64 is not base64";
			return 0;
		}
		p->cur = F_PAYLOAD;
		break;
	case F_KEY_B64:
		ps_buf_reset(&p->key);
		if (ps_base64_decode(&p->key, (const char *)s, n) < 0) {
			p->bad = "key_b64 is not base64";
			return 0;
		}
		p->cur = F_KEY;
		break;
	case F_INGEST:
	case F_BROKER:
		if (ps_time_parse((const char *)s, n, &t, &why) < 0) {
			p->bad = "bad timestamp";
			return 0;
		}
		if (p->cur == F_INGEST)
			p->ingest = t;
		else
			p->broker = t;
		break;
	case F_POSITION:
		p->bad = "position is not a number";
		return 0;
	default:
		break;
	}
	p->seen |= 1u << p->cur;
	return 1;
}

static int cb_start_map(void *ctx)
{
	struct ps_envelope_parser *p = ctx;

	if (p->depth == 1 && p->cur != F_NONE) {
		p->bad = "object where a string or number is required";
		return 0;
	}
	p->depth++;
	return 1;
}

static int cb_end_map(void *ctx)
{
	((struct ps_envelope_parser *)ctx)->depth--;
	return 1;
}

static int cb_start_array(void *ctx)
{
	struct ps_envelope_parser *p = ctx;

	if (p->depth == 1 && p->cur != F_NONE) {
		p->bad = "array where a string or number is required";
		return 0;
	}
	p->depth++;
	return 1;
}

static int cb_end_array(void *ctx)
{
	((struct ps_envelope_parser *)ctx)->depth--;
	return 1;
}

static int cb_map_key(void *ctx, const unsigned char *k, size_t n)
{
	struct ps_envelope_parser *p = ctx;

	if (p->depth != 1)
		return 1;
#define IS(lit) (n == sizeof(lit) - 1 && !memcmp(k, lit, n))
	if (IS("source"))
		p->cur = F_SOURCE;
	else if (IS("position"))
		p->cur = F_POSITION;
	else if (IS("ingest_time"))
		p->cur = F_INGEST;
	else if (IS("broker_time"))
		p->cur = F_BROKER;
	else if (IS("key"))
		p->cur = F_KEY;
	else if (IS("payload"))
		p->cur = F_PAYLOAD;
	else if (IS("payload_b64"))
		p->cur = F_PAYLOAD_B64;
	else if (IS("key_b64"))
		p->cur = F_KEY_B64;
	else if (IS("reason"))
		p->cur = F_REASON;
	else if (IS("detail"))
		p->cur = F_DETAIL;
	else if (IS("length"))
		p->cur = F_LENGTH;
	else if (IS("truncated"))
		p->cur = F_TRUNCATED;
	else
		p->cur = F_NONE;
#undef IS
	return 1;
}

static const yajl_callbacks callbacks = {
	cb_null, cb_bool, cb_int, cb_double, NULL, cb_string,
	cb_start_map, cb_map_key, cb_end_map, cb_start_array, cb_end_array,
};

struct ps_envelope_parser *ps_envelope_parser_new(void)
{
	return ps_xcalloc(1, sizeof(struct ps_envelope_parser));
}

void ps_envelope_parser_free(struct ps_envelope_parser *p)
{
	if (!p)
		return;
	if (p->h)
		yajl_free(p->h);
	ps_buf_release(&p->source);
	ps_buf_release(&p->key);
	ps_buf_release(&p->payload);
	ps_buf_release(&p->scratch);
	ps_buf_release(&p->reason);
	ps_buf_release(&p->detail);
	free(p);
}


/* ---- fast path -------------------------------------------------------
 * Envelopes are almost always the exact compact form ps_envelope_format
 * writes: no blanks, known members, plain keys, no quarantine members.  fast_parse handles that
 * form without yajl and returns 1; on anything else (blanks, unknown or
 * repeated members, nulls, odd numbers, lone surrogates, raw control
 * characters, invalid UTF-8) it returns 0 and the full yajl parser decides,
 * so both paths accept and reject exactly the same lines.
 */

/*
 * Read the JSON string starting after its opening quote at *pp into b
 * (unescaped, valid UTF-8).  Returns 0 and moves *pp past the closing
 * quote, or -1.
 */
static int fast_string(const char **pp, const char *end, struct ps_buf *b)
{
	if (!b->data)
		ps_buf_grow(b, 1);	/* "" is a value, not an absence */
	ps_buf_reset(b);
	if (ps_json_unescape(pp, end, b) < 0)
		return -1;
	return ps_utf8_valid_prefix(b->data, b->len) == b->len ? 0 : -1;
}

/* The raw bytes of a string without escapes (timestamps, base64). */
static int fast_raw(const char **pp, const char *end, const char **out,
		    size_t *n)
{
	const char *s = *pp, *q = memchr(s, '"', (size_t)(end - s));
	const char *c;

	if (!q)
		return -1;
	for (c = s; c < q; c++)
		if (*c == '\\' || (unsigned char)*c < 0x20 ||
		    (unsigned char)*c >= 0x80)
			return -1;
	*out = s;
	*n = (size_t)(q - s);
	*pp = q + 1;
	return 0;
}

static int fast_parse(struct ps_envelope_parser *p, const char *s,
		      size_t len)
{
	const char *end = s + len, *raw;
	size_t n;
	int64_t t;

	if (len < 2 || *s++ != '{')
		return 0;
	for (;;) {
		const char *k = s + 1, *q;
		enum field f;
		size_t kn;

		if (s >= end || *s != '"')
			return 0;
		q = memchr(k, '"', (size_t)(end - k));
		if (!q || q + 1 >= end || q[1] != ':')
			return 0;
		kn = (size_t)(q - k);
		s = q + 2;
#define IS(lit) (kn == sizeof(lit) - 1 && !memcmp(k, lit, kn))
		if (IS("source"))
			f = F_SOURCE;
		else if (IS("position"))
			f = F_POSITION;
		else if (IS("ingest_time"))
			f = F_INGEST;
		else if (IS("broker_time"))
			f = F_BROKER;
		else if (IS("key"))
			f = F_KEY;
		else if (IS("key_b64"))
			f = F_KEY_B64;
		else if (IS("payload"))
			f = F_PAYLOAD;
		else if (IS("payload_b64"))
			f = F_PAYLOAD_B64;
		else
			return 0;
#undef IS
		/* key and key_b64 fill one field, so do the payloads. */
		if (p->seen & 1u << (f == F_KEY_B64 ? F_KEY :
				     f == F_PAYLOAD_B64 ? F_PAYLOAD : f))
			return 0;
		if (f == F_POSITION) {
			long long v = 0;
			const char *d = s;

			while (s < end && *s >= '0' && *s <= '9' &&
			       s - d < 18)
				v = v * 10 + (*s++ - '0');
			if (s == d || (s - d > 1 && *d == '0') ||
			    (s < end && *s >= '0' && *s <= '9'))
				return 0;
			p->position = v;
		} else {
			if (s >= end || *s++ != '"')
				return 0;
			switch (f) {
			case F_SOURCE:
				if (fast_string(&s, end, &p->source) < 0)
					return 0;
				break;
			case F_KEY:
				if (fast_string(&s, end, &p->key) < 0)
					return 0;
				break;
			case F_PAYLOAD:
				if (fast_string(&s, end, &p->payload) < 0)
					return 0;
				break;
			case F_KEY_B64:
			case F_PAYLOAD_B64:
				if (fast_raw(&s, end, &raw, &n) < 0)
					return 0;
				{
					struct ps_buf *b = f == F_KEY_B64 ?
							   &p->key : &p->payload;

					ps_buf_reset(b);
					if (ps_base64_decode(b, raw, n) < 0)
						return 0;
				}
				f = f == F_KEY_B64 ? F_KEY : F_PAYLOAD;
				break;
			default:	/* the two timestamps */
				if (fast_raw(&s, end, &raw, &n) < 0 ||
				    ps_time_parse(raw, n, &t, NULL) < 0)
					return 0;
				if (f == F_INGEST)
					p->ingest = t;
				else
					p->broker = t;
				break;
			}
		}
		p->seen |= 1u << f;
		if (s >= end)
			return 0;
		if (*s == '}')
			return s + 1 == end;
		if (*s++ != ',')
			return 0;
	}
}

int ps_envelope_parse(struct ps_envelope_parser *p, const char *line,
		      size_t len, struct ps_envelope *env,
		      struct ps_error *e)
{
	yajl_status st = yajl_status_ok;
	unsigned need = 1u << F_SOURCE | 1u << F_POSITION | 1u << F_INGEST |
			1u << F_PAYLOAD;

	p->depth = 0;
	p->cur = F_NONE;
	p->seen = 0;
	p->bad = NULL;
	p->broker = PS_TIME_NONE;
	if (memchr(line, '\0', len))
		return ps_error_set(e, PS_EX_DATAERR,
				    "envelope: NUL byte in line");
	if (!fast_parse(p, line, len)) {
		p->seen = 0;
		p->broker = PS_TIME_NONE;
		if (p->h)
			yajl_free(p->h);
		p->h = yajl_alloc(&callbacks, NULL, p);
		st = yajl_parse(p->h, (const unsigned char *)line, len);
		if (st == yajl_status_ok)
			st = yajl_complete_parse(p->h);
	}
	if (st != yajl_status_ok) {
		if (p->bad)
			return ps_error_set(e, PS_EX_DATAERR, "envelope: %s",
					    p->bad);
		return ps_error_set(e, PS_EX_DATAERR,
				    "envelope: not valid JSON");
	}
	if ((p->seen & need) != need)
		return ps_error_set(e, PS_EX_DATAERR, "envelope: %s missing",
			!(p->seen & 1u << F_SOURCE) ? "source" :
			!(p->seen & 1u << F_POSITION) ? "position" :
			!(p->seen & 1u << F_INGEST) ? "ingest_time" :
			"payload");
	if (!p->source.len)
		return ps_error_set(e, PS_EX_DATAERR, "envelope: empty source");
	if (p->seen & 1u << F_REASON && p->reason.len < 2)
		return ps_error_set(e, PS_EX_DATAERR, "envelope: empty reason");
	env->source = p->source.data;
	env->source_len = p->source.len;
	env->position = p->position;
	env->ingest_time = p->ingest;
	env->broker_time = p->seen & 1u << F_BROKER ? p->broker : PS_TIME_NONE;
	env->key = p->seen & 1u << F_KEY ? p->key.data : NULL;
	env->key_len = p->seen & 1u << F_KEY ? p->key.len : 0;
	env->payload = p->payload.data ? p->payload.data : "";
	env->payload_len = p->payload.len;
	env->reason = NULL;
	env->detail = NULL;
	env->length = (long long)p->payload.len;
	env->truncated = 0;
	if (p->seen & 1u << F_REASON) {
		env->reason = p->reason.data;
		env->detail = p->seen & 1u << F_DETAIL ? p->detail.data : NULL;
		if (p->seen & 1u << F_LENGTH)
			env->length = p->length;
		env->truncated = p->seen & 1u << F_TRUNCATED ? p->truncated
							      : 0;
	}
	return 0;
}

int ps_input_parse(const char *s, enum ps_input *in)
{
	if (!strcmp(s, "events"))
		*in = PS_INPUT_EVENTS;
	else if (!strcmp(s, "envelopes"))
		*in = PS_INPUT_ENVELOPES;
	else
		return -1;
	return 0;
}

const char *ps_input_name(enum ps_input in)
{
	return in == PS_INPUT_ENVELOPES ? "envelopes" : "events";
}

void ps_envelope_format(struct ps_buf *b, const struct ps_envelope *env)
{
	char ts[PS_TIME_MAX];
	size_t n;

	ps_buf_adds(b, "{\"source\":");
	ps_json_add_str(b, env->source, env->source_len);
	ps_buf_adds(b, ",\"position\":");
	ps_buf_add_i64(b, env->position);
	ps_buf_adds(b, ",\"ingest_time\":\"");
	n = ps_time_format(env->ingest_time, ts, 6);
	ps_buf_add(b, ts, n);
	ps_buf_addc(b, '"');
	if (env->broker_time != PS_TIME_NONE) {
		ps_buf_adds(b, ",\"broker_time\":\"");
		n = ps_time_format(env->broker_time, ts, 3);
		ps_buf_add(b, ts, n);
		ps_buf_addc(b, '"');
	}
	if (env->key) {
		if (ps_utf8_valid_prefix(env->key, env->key_len) ==
		    env->key_len) {
			ps_buf_adds(b, ",\"key\":");
			ps_json_add_str(b, env->key, env->key_len);
		} else {
			/* A binary key is rare: keep it exact as base64. */
			ps_buf_adds(b, ",\"key_b64\":\"");
			ps_base64_encode(b, env->key, env->key_len);
			ps_buf_addc(b, '"');
		}
	}
	/* Written as a string; when that had to replace bytes that are not
	 * UTF-8 (the same test as ps_utf8_valid_prefix), taken back and
	 * written as base64. */
	n = b->len;
	ps_buf_adds(b, ",\"payload\":");
	if (ps_json_add_str(b, env->payload, env->payload_len)) {
		b->len = n;
		ps_buf_adds(b, ",\"payload_b64\":\"");
		ps_base64_encode(b, env->payload, env->payload_len);
		ps_buf_addc(b, '"');
	}
	if (env->reason) {
		ps_buf_adds(b, ",\"reason\":");
		ps_json_add_str(b, env->reason, strlen(env->reason));
		if (env->detail) {
			ps_buf_adds(b, ",\"detail\":");
			ps_json_add_str(b, env->detail, strlen(env->detail));
		}
		ps_buf_adds(b, ",\"length\":");
		ps_buf_add_i64(b, env->length);
		ps_buf_adds(b, env->truncated ? ",\"truncated\":true" :
						",\"truncated\":false");
	}
	ps_buf_add(b, "}\n", 2);
}

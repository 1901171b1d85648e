/* event.c - see event.h. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#include "buf.h"
#include "event.h"
#include "json.h"
#include "pstime.h"
#include "banned.h"

const struct ps_rule_info ps_rules[PS_RULE_COUNT] = {
	[PS_RULE_MALFORMED_JSON] = { "malformed_json", PS_SEV_QUARANTINE,
		"not one JSON object: syntax error, invalid UTF-8, NUL byte, "
		"nesting deeper than 64, empty payload" },
	[PS_RULE_RECORD_TOO_LONG] = { "record_too_long", PS_SEV_QUARANTINE,
		"line or payload longer than --max-record bytes" },
	[PS_RULE_BAD_ENVELOPE] = { "bad_envelope", PS_SEV_QUARANTINE,
		"a line that starts like an envelope but is not a valid one" },
	[PS_RULE_DUPLICATE_KEY] = { "duplicate_key", PS_SEV_QUARANTINE,
		"a member name appears twice in the object" },
	[PS_RULE_TOO_MANY_FIELDS] = { "too_many_fields", PS_SEV_QUARANTINE,
		"more than 256 unknown members" },
	[PS_RULE_MISSING_FIELD] = { "missing_field", PS_SEV_QUARANTINE,
		"a required field is absent or null (field named)" },
	[PS_RULE_WRONG_TYPE] = { "wrong_type", PS_SEV_QUARANTINE,
		"a field has the wrong JSON type, e.g. \"45\" or 45.5 for an "
		"int (field named)" },
	[PS_RULE_INT_OUT_OF_RANGE] = { "int_out_of_range", PS_SEV_QUARANTINE,
		"an int field outside the int32 range (field named)" },
	[PS_RULE_BAD_TIMESTAMP] = { "bad_timestamp", PS_SEV_QUARANTINE,
		"a time field is not an ISO-8601 timestamp of years "
		"0001-9999 UTC (field named)" },
	[PS_RULE_INVALID_VALUE] = { "invalid_value", PS_SEV_QUARANTINE,
		"empty patient_id or department, unknown event_type, "
		"triage_level outside 1-5 (field named)" },
	[PS_RULE_AGE_OUT_OF_RANGE] = { "age_out_of_range", PS_SEV_QUARANTINE,
		"age outside 0-120" },
	[PS_RULE_ADMISSION_IN_FUTURE] = { "admission_in_future",
		PS_SEV_QUARANTINE,
		"admission_time later than ingest time + --max-future" },
	[PS_RULE_DISCHARGE_BEFORE_ADMISSION] = {
		"discharge_before_admission", PS_SEV_QUARANTINE,
		"discharge_time earlier than admission_time" },
	[PS_RULE_UNPARSEABLE_MESSAGE] = { "unparseable_message",
		PS_SEV_QUARANTINE,
		"an HL7 v2 message or FHIR resource that cannot be read "
		"(bad MSH, delimiters or segment, not a resource)" },
	[PS_RULE_UNSUPPORTED_EVENT] = { "unsupported_event",
		PS_SEV_QUARANTINE,
		"a trigger event or FHIR resource without a rule in the "
		"--map file" },
	[PS_RULE_UNMAPPED_LOCATION] = { "unmapped_location",
		PS_SEV_QUARANTINE,
		"a point of care or facility without a department or "
		"hospital rule in the --map file" },
	[PS_RULE_BAD_MESSAGE_FIELD] = { "bad_message_field",
		PS_SEV_QUARANTINE,
		"an HL7 v2 / FHIR field that cannot be mapped: bad timestamp, "
		"bed not a number (field named)" },
	[PS_RULE_UNKNOWN_DEPARTMENT] = { "unknown_department", PS_SEV_FLAG,
		"department not in the departments list (kept, "
		"unknown_department true)" },
	[PS_RULE_ARRIVAL_AFTER_ADMISSION] = { "arrival_after_admission",
		PS_SEV_FLAG,
		"arrival_time later than admission_time (kept, "
		"wait_minutes null)" },
	[PS_RULE_DUPLICATE] = { "duplicate", PS_SEV_DROP,
		"event_id (or content hash) seen in the same source within "
		"the dedup window (dropped)" },
	[PS_RULE_IGNORED_MESSAGE] = { "ignored_message", PS_SEV_DROP,
		"an HL7 v2 / FHIR message the --map file maps to \"ignore\" "
		"(pre-admissions), or a lone Patient (dropped)" },
};

const char *ps_rule_severity_name(enum ps_rule_severity s)
{
	switch (s) {
	case PS_SEV_QUARANTINE:
		return "quarantine";
	case PS_SEV_FLAG:
		return "flag";
	case PS_SEV_DROP:
		return "drop";
	}
	return "?";
}

static const char *const field_names[PS_EF_COUNT] = {
	"event_id", "encounter_id", "event_type", "event_time", "patient_id",
	"gender", "age", "department", "hospital_id", "bed_id",
	"arrival_time", "admission_time", "discharge_time", "triage_level",
	"seen_time", "decision_time", "disposition",
};

/* 's' string, 't' timestamp, 'i' int32. */
static const char field_kind[PS_EF_COUNT] = {
	's', 's', 's', 't', 's', 's', 'i', 's', 'i', 'i', 't', 't', 't', 'i',
	't', 't', 's',
};

const char *ps_event_field_name(enum ps_event_field f)
{
	return (unsigned)f < PS_EF_COUNT ? field_names[f] : "?";
}

void ps_event_add_problem(struct ps_event *ev, enum ps_rule rule, int field,
			  const char *fmt, ...)
{
	va_list ap;
	int i;

	for (i = 0; i < ev->nproblems; i++)
		if (ev->problems[i].rule == rule &&
		    ev->problems[i].field == field)
			return;
	if (ev->nproblems >= PS_EVENT_MAX_PROBLEMS)
		return;
	if (!ev->nproblems && fmt) {
		va_start(ap, fmt);
		vsnprintf(ev->detail, sizeof(ev->detail), fmt, ap);
		va_end(ap);
	}
	ev->problems[ev->nproblems].rule = rule;
	ev->problems[ev->nproblems].field = field;
	ev->nproblems++;
}

int ps_event_has_problem(const struct ps_event *ev, enum ps_rule rule)
{
	int i;

	for (i = 0; i < ev->nproblems; i++)
		if (ev->problems[i].rule == rule)
			return 1;
	return 0;
}

/* ------------------------------------------------------------------ */
/* An arena for yajl, so that a parse allocates nothing once warm.     */
/* ------------------------------------------------------------------ */

#define HDR 16			/* size header before each allocation */

struct arena {
	char *mem;
	size_t cap, used;
	void *overflow;		/* blocks malloc'd when mem ran out */
	size_t over_bytes;
};

static void *a_malloc(void *ctx, size_t n)
{
	struct arena *a = ctx;
	size_t need = HDR + ((n + 15) & ~(size_t)15);
	char *p;

	if (a->cap - a->used >= need) {
		p = a->mem + a->used;
		a->used += need;
	} else {
		p = ps_xmalloc(need);
		memcpy(p + sizeof(size_t), &a->overflow, sizeof(void *));
		a->overflow = p;
		a->over_bytes += need;
	}
	memcpy(p, &n, sizeof(n));
	return p + HDR;
}

static void a_free(void *ctx, void *ptr)
{
	(void)ctx;
	(void)ptr;		/* released all at once by arena_reset */
}

static void *a_realloc(void *ctx, void *ptr, size_t n)
{
	size_t old;
	void *q;

	if (!ptr)
		return a_malloc(ctx, n);
	memcpy(&old, (char *)ptr - HDR, sizeof(old));
	if (n <= old)
		return ptr;
	q = a_malloc(ctx, n);
	memcpy(q, ptr, old);
	return q;
}

static void arena_reset(struct arena *a)
{
	void *p = a->overflow;

	while (p) {
		void *next;

		memcpy(&next, (char *)p + sizeof(size_t), sizeof(void *));
		free(p);
		p = next;
	}
	a->overflow = NULL;
	if (a->over_bytes) {
		/* Grow once so that the next record of this size fits. */
		size_t cap = (a->used + a->over_bytes) * 2;

		free(a->mem);
		a->mem = ps_xmalloc(cap);
		a->cap = cap;
		a->over_bytes = 0;
	}
	a->used = 0;
}

/* ------------------------------------------------------------------ */
/* The callback parser                                                 */
/* ------------------------------------------------------------------ */

#define MAX_DEPTH 64
#define MAX_UNKNOWN 256
#define CUR_EXTRA (-1)
#define CUR_SKIP (-2)

struct ps_event_parser {
	struct arena arena;
	yajl_alloc_funcs af;
	struct ps_buf strings;	/* string values of known fields */
	struct ps_buf extra;	/* unknown members as a JSON object */
	struct ps_buf keys;	/* unknown member names, for duplicates */
	size_t key_off[MAX_UNKNOWN + 1];
	int nkeys;
	struct ps_event *ev;
	size_t off[PS_EF_COUNT];
	size_t len[PS_EF_COUNT];
	unsigned seen;
	int depth;		/* open containers; the object is depth 1 */
	int cur;		/* field of the current depth-1 value */
	int skip_to;		/* > 0: skipping until depth drops to it */
	unsigned char is_array[MAX_DEPTH + 1];
	unsigned char first[MAX_DEPTH + 1];
	int done;		/* the top-level object was closed */
	const char *fail;	/* why a callback stopped the parse */
};

struct ps_event_parser *ps_event_parser_new(void)
{
	struct ps_event_parser *p = ps_xcalloc(1, sizeof(*p));

	p->arena.cap = 64 * 1024;
	p->arena.mem = ps_xmalloc(p->arena.cap);
	p->af.malloc = a_malloc;
	p->af.realloc = a_realloc;
	p->af.free = a_free;
	p->af.ctx = &p->arena;
	return p;
}

void ps_event_parser_free(struct ps_event_parser *p)
{
	if (!p)
		return;
	arena_reset(&p->arena);
	free(p->arena.mem);
	ps_buf_release(&p->strings);
	ps_buf_release(&p->extra);
	ps_buf_release(&p->keys);
	free(p);
}

/* A value arrives: returns where it goes (field, CUR_EXTRA, CUR_SKIP). */
static int value_target(struct ps_event_parser *p)
{
	if (p->skip_to)
		return CUR_SKIP;
	if (p->depth == 1)
		return p->cur;
	return CUR_EXTRA;	/* inside a container of an unknown member */
}

/* Comma before a value inside an array of extra. */
static void extra_array_comma(struct ps_event_parser *p)
{
	if (p->depth > 1 && p->is_array[p->depth]) {
		if (!p->first[p->depth])
			ps_buf_addc(&p->extra, ',');
		p->first[p->depth] = 0;
	}
}

static int top_level_check(struct ps_event_parser *p)
{
	if (p->depth == 0) {
		p->fail = p->done ? "trailing data after the object"
				  : "not a JSON object";
		return 0;
	}
	return 1;
}

static void wrong_type(struct ps_event_parser *p, int f, const char *what)
{
	ps_event_add_problem(p->ev, PS_RULE_WRONG_TYPE, f,
			     "%s: %s, expected %s",
			     field_names[f], what,
			     field_kind[f] == 'i' ? "an integer" :
			     field_kind[f] == 't' ? "an ISO-8601 string" :
			     "a string");
}

/*
 * A scalar value arrives: 0 when it may not stand here (the parse
 * stops), else 1 with *t where it goes (value_target); a value of an
 * unknown member's container has its separator in p->extra already.
 */
static int scalar_start(struct ps_event_parser *p, int *t)
{
	if (!top_level_check(p))
		return 0;
	*t = value_target(p);
	if (*t == CUR_EXTRA)
		extra_array_comma(p);
	return 1;
}

static int cb_null(void *ctx)
{
	struct ps_event_parser *p = ctx;
	int t;

	if (!scalar_start(p, &t))
		return 0;
	if (t == CUR_EXTRA)
		ps_buf_add(&p->extra, "null", 4);
	/* A known field given as null is absent. */
	return 1;
}

static int cb_bool(void *ctx, int v)
{
	struct ps_event_parser *p = ctx;
	int t;

	if (!scalar_start(p, &t))
		return 0;
	if (t == CUR_EXTRA) {
		ps_buf_adds(&p->extra, v ? "true" : "false");
	} else if (t >= 0) {
		wrong_type(p, t, "a boolean");
	}
	return 1;
}

/* Store an int32 field from JSON number text. */
static void set_int(struct ps_event_parser *p, int f, const char *s, size_t n)
{
	struct ps_event *ev = p->ev;
	long long v = 0;
	size_t i = 0, digits = 0;
	int neg = 0, isfloat = 0;
	int32_t *dst;

	for (i = 0; i < n; i++)
		if (s[i] == '.' || s[i] == 'e' || s[i] == 'E')
			isfloat = 1;
	if (isfloat) {
		char tmp[64];
		double d;

		if (n >= sizeof(tmp)) {
			ps_event_add_problem(ev, PS_RULE_INT_OUT_OF_RANGE, f,
					     "%s: number too long",
					     field_names[f]);
			return;
		}
		memcpy(tmp, s, n);
		tmp[n] = '\0';
		d = strtod(tmp, NULL);
		if (isfinite(d) && d != floor(d)) {
			wrong_type(p, f, "a number with a fraction");
			return;
		}
		if (!isfinite(d) || d < -2147483648.0 || d > 2147483647.0) {
			ps_event_add_problem(ev, PS_RULE_INT_OUT_OF_RANGE, f,
					     "%s: %.*s is outside the int32 "
					     "range", field_names[f],
					     (int)(n > 40 ? 40 : n), s);
			return;
		}
		v = (long long)d;
	} else {
		i = 0;
		if (i < n && s[i] == '-') {
			neg = 1;
			i++;
		}
		for (; i < n; i++) {
			if (++digits > 11)
				break;
			v = v * 10 + (s[i] - '0');
		}
		if (neg)
			v = -v;
		if (digits > 11 || v < INT32_MIN || v > INT32_MAX) {
			ps_event_add_problem(ev, PS_RULE_INT_OUT_OF_RANGE, f,
					     "%s: %.*s is outside the int32 "
					     "range", field_names[f],
					     (int)(n > 40 ? 40 : n), s);
			return;
		}
	}
	switch (f) {
	case PS_EF_AGE:
		dst = &ev->age;
		break;
	case PS_EF_HOSPITAL_ID:
		dst = &ev->hospital_id;
		break;
	case PS_EF_BED_ID:
		dst = &ev->bed_id;
		break;
	default:
		if (v < 1 || v > 5) {
			ps_event_add_problem(ev, PS_RULE_INVALID_VALUE, f,
					     "triage_level: %lld is not 1-5",
					     v);
			return;
		}
		dst = &ev->triage_level;
		break;
	}
	*dst = (int32_t)v;
	ev->present |= 1u << f;
}

static int cb_number(void *ctx, const char *s, size_t n)
{
	struct ps_event_parser *p = ctx;
	int t;

	if (!scalar_start(p, &t))
		return 0;
	if (t == CUR_EXTRA) {
		ps_buf_add(&p->extra, s, n);
	} else if (t >= 0) {
		if (field_kind[t] == 'i')
			set_int(p, t, s, n);
		else
			wrong_type(p, t, "a number");
	}
	return 1;
}

/* Store string s (n bytes) of field t, or its problem. */
static void set_str(struct ps_event_parser *p, int t, const char *s, size_t n)
{
	struct ps_event *ev = p->ev;
	const char *why = NULL;
	int64_t us;

	switch (field_kind[t]) {
	case 'i':
		wrong_type(p, t, "a string");
		break;
	case 't':
		if (ps_time_parse(s, n, &us, &why) < 0) {
			ps_event_add_problem(ev, PS_RULE_BAD_TIMESTAMP, t,
					     "%s: %s", field_names[t], why);
			break;
		}
		if (t == PS_EF_EVENT_TIME)
			ev->event_time = us;
		else if (t == PS_EF_ARRIVAL_TIME)
			ev->arrival_time = us;
		else if (t == PS_EF_ADMISSION_TIME)
			ev->admission_time = us;
		else if (t == PS_EF_SEEN_TIME)
			ev->seen_time = us;
		else if (t == PS_EF_DECISION_TIME)
			ev->decision_time = us;
		else
			ev->discharge_time = us;
		ev->present |= 1u << t;
		break;
	default:
		p->off[t] = p->strings.len;
		p->len[t] = n;
		ps_buf_add(&p->strings, s, n);
		ev->present |= 1u << t;
		break;
	}
}

static int cb_string(void *ctx, const unsigned char *s, size_t n)
{
	struct ps_event_parser *p = ctx;
	int t;

	if (!scalar_start(p, &t))
		return 0;
	if (t == CUR_EXTRA) {
		ps_json_add_str(&p->extra, (const char *)s, n);
		return 1;
	}
	if (t >= 0)
		set_str(p, t, (const char *)s, n);
	return 1;
}

static int open_container(struct ps_event_parser *p, int array)
{
	int t;

	if (p->depth == 0) {
		if (array || p->done) {
			p->fail = p->done ? "trailing data after the object"
					  : "not a JSON object";
			return 0;
		}
		p->depth = 1;
		return 1;
	}
	if (p->depth >= MAX_DEPTH) {
		p->fail = "too_deep: nesting deeper than 64";
		return 0;
	}
	t = value_target(p);
	if (t == CUR_EXTRA) {
		extra_array_comma(p);
		ps_buf_addc(&p->extra, array ? '[' : '{');
	} else if (t >= 0 || t == CUR_SKIP) {
		if (t >= 0)
			wrong_type(p, t, array ? "an array" : "an object");
		if (!p->skip_to)
			p->skip_to = p->depth;
	}
	p->depth++;
	p->is_array[p->depth] = (unsigned char)array;
	p->first[p->depth] = 1;
	return 1;
}

static int close_container(struct ps_event_parser *p, int array)
{
	p->depth--;
	if (p->depth == 0) {
		p->done = 1;
		return 1;
	}
	if (p->skip_to) {
		if (p->depth == p->skip_to)
			p->skip_to = 0;
		return 1;
	}
	if (p->depth >= 1 && (p->depth > 1 || p->cur == CUR_EXTRA))
		ps_buf_addc(&p->extra, array ? ']' : '}');
	return 1;
}

static int cb_start_map(void *ctx)
{
	return open_container(ctx, 0);
}

static int cb_end_map(void *ctx)
{
	return close_container(ctx, 0);
}

static int cb_start_array(void *ctx)
{
	return open_container(ctx, 1);
}

static int cb_end_array(void *ctx)
{
	return close_container(ctx, 1);
}

static int find_field(const unsigned char *k, size_t n)
{
	/* By length, so that memcmp has a constant size and is inlined. */
	switch (n) {
	case 3:
		return !memcmp(k, "age", 3) ? PS_EF_AGE : -1;
	case 6:
		return !memcmp(k, "gender", 6) ? PS_EF_GENDER :
		       !memcmp(k, "bed_id", 6) ? PS_EF_BED_ID : -1;
	case 8:
		return !memcmp(k, "event_id", 8) ? PS_EF_EVENT_ID : -1;
	case 9:
		return !memcmp(k, "seen_time", 9) ? PS_EF_SEEN_TIME : -1;
	case 10:
		return !memcmp(k, "patient_id", 10) ? PS_EF_PATIENT_ID :
		       !memcmp(k, "department", 10) ? PS_EF_DEPARTMENT :
		       !memcmp(k, "event_type", 10) ? PS_EF_EVENT_TYPE :
		       !memcmp(k, "event_time", 10) ? PS_EF_EVENT_TIME : -1;
	case 11:
		return !memcmp(k, "hospital_id", 11) ? PS_EF_HOSPITAL_ID :
		       !memcmp(k, "disposition", 11) ? PS_EF_DISPOSITION : -1;
	case 12:
		return !memcmp(k, "encounter_id", 12) ? PS_EF_ENCOUNTER_ID :
		       !memcmp(k, "arrival_time", 12) ? PS_EF_ARRIVAL_TIME :
		       !memcmp(k, "triage_level", 12) ? PS_EF_TRIAGE_LEVEL : -1;
	case 13:
		return !memcmp(k, "decision_time", 13) ? PS_EF_DECISION_TIME :
		       -1;
	case 14:
		return !memcmp(k, "admission_time", 14) ? PS_EF_ADMISSION_TIME :
		       !memcmp(k, "discharge_time", 14) ? PS_EF_DISCHARGE_TIME :
		       -1;
	}
	return -1;
}

static int cb_map_key(void *ctx, const unsigned char *k, size_t n)
{
	struct ps_event_parser *p = ctx;
	int f, i;

	if (p->skip_to)
		return 1;
	if (p->depth > 1) {
		/* A key inside an unknown member's object. */
		if (!p->first[p->depth])
			ps_buf_addc(&p->extra, ',');
		p->first[p->depth] = 0;
		ps_json_add_str(&p->extra, (const char *)k, n);
		ps_buf_addc(&p->extra, ':');
		return 1;
	}
	f = find_field(k, n);
	if (f >= 0) {
		if (p->seen & 1u << f) {
			ps_event_add_problem(p->ev, PS_RULE_DUPLICATE_KEY, f,
					     "%s appears twice",
					     field_names[f]);
			p->cur = CUR_SKIP;
			return 1;
		}
		p->seen |= 1u << f;
		p->cur = f;
		return 1;
	}
	for (i = 0; i < p->nkeys; i++) {
		size_t ko = p->key_off[i], kl = p->key_off[i + 1] - ko;

		if (kl == n && !memcmp(p->keys.data + ko, k, n)) {
			ps_event_add_problem(p->ev, PS_RULE_DUPLICATE_KEY, -1,
					     "member \"%.*s\" appears twice",
					     (int)(n > 60 ? 60 : n), k);
			p->cur = CUR_SKIP;
			return 1;
		}
	}
	if (p->nkeys >= MAX_UNKNOWN) {
		ps_event_add_problem(p->ev, PS_RULE_TOO_MANY_FIELDS, -1,
				     "more than %d unknown members",
				     MAX_UNKNOWN);
		p->cur = CUR_SKIP;
		return 1;
	}
	ps_buf_add(&p->keys, k, n);
	p->key_off[++p->nkeys] = p->keys.len;
	ps_buf_addc(&p->extra, p->extra.len ? ',' : '{');
	ps_json_add_str(&p->extra, (const char *)k, n);
	ps_buf_addc(&p->extra, ':');
	p->cur = CUR_EXTRA;
	return 1;
}

static const yajl_callbacks callbacks = {
	cb_null, cb_bool, NULL, NULL, cb_number, cb_string,
	cb_start_map, cb_map_key, cb_end_map, cb_start_array, cb_end_array,
};

static const char *const event_types[] = {
	"ARRIVAL", "ADMIT", "TRANSFER", "DISCHARGE", "UPDATE", "TRIAGE",
	"SEEN", "DECISION", "LWBS", "CANCEL_ADMIT", "CANCEL_DISCHARGE",
};
#define NTYPES (sizeof(event_types) / sizeof(event_types[0]))

static int type_is(const struct ps_event *ev, const char *t)
{
	return ev->event_type.len == strlen(t) &&
	       !memcmp(ev->event_type.p, t, ev->event_type.len);
}

static int field_problem(const struct ps_event *ev, int f)
{
	int i;

	for (i = 0; i < ev->nproblems; i++)
		if (ev->problems[i].field == f)
			return 1;
	return 0;
}

/* The checks after a complete, syntactically valid object. */
static void finish(struct ps_event_parser *p, struct ps_event *ev)
{
	static const int required[] = {
		PS_EF_PATIENT_ID, PS_EF_GENDER, PS_EF_AGE, PS_EF_DEPARTMENT,
		PS_EF_ADMISSION_TIME, PS_EF_HOSPITAL_ID,
	};
	size_t i;
	int f;

	for (f = 0; f < PS_EF_COUNT; f++) {
		struct ps_str *s;

		if (!(ev->present & 1u << f) || field_kind[f] != 's')
			continue;
		s = f == PS_EF_EVENT_ID ? &ev->event_id :
		    f == PS_EF_ENCOUNTER_ID ? &ev->encounter_id :
		    f == PS_EF_EVENT_TYPE ? &ev->event_type :
		    f == PS_EF_PATIENT_ID ? &ev->patient_id :
		    f == PS_EF_GENDER ? &ev->gender :
		    f == PS_EF_DISPOSITION ? &ev->disposition :
		    &ev->department;
		s->p = p->strings.data + p->off[f];
		s->len = p->len[f];
	}
	if (p->extra.len) {
		ps_buf_addc(&p->extra, '}');
		ev->extra.p = p->extra.data;
		ev->extra.len = p->extra.len;
	}
	/* A field with a bad value already has its problem: not missing. */
	for (i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		f = required[i];
		if (!(ev->present & 1u << f) && !field_problem(ev, f))
			ps_event_add_problem(ev, PS_RULE_MISSING_FIELD, f,
					     "%s is required", field_names[f]);
	}
	if (ps_event_has(ev, PS_EF_EVENT_TYPE)) {
		for (i = 0; i < NTYPES; i++)
			if (type_is(ev, event_types[i]))
				break;
		if (i == NTYPES)
			ps_event_add_problem(ev, PS_RULE_INVALID_VALUE,
				PS_EF_EVENT_TYPE,
				"event_type: not one of ARRIVAL TRIAGE SEEN "
				"DECISION ADMIT TRANSFER DISCHARGE LWBS "
				"UPDATE CANCEL_ADMIT CANCEL_DISCHARGE");
	}
	if (!ps_event_has(ev, PS_EF_BED_ID) &&
	    !field_problem(ev, PS_EF_BED_ID) &&
	    !(ps_event_has(ev, PS_EF_EVENT_TYPE) &&
	      (type_is(ev, "ARRIVAL") || type_is(ev, "TRIAGE") ||
	       type_is(ev, "LWBS") || type_is(ev, "CANCEL_ADMIT"))))
		ps_event_add_problem(ev, PS_RULE_MISSING_FIELD, PS_EF_BED_ID,
				     "bed_id is required unless event_type "
				     "is ARRIVAL, TRIAGE, LWBS or "
				     "CANCEL_ADMIT");
	if (ps_event_has(ev, PS_EF_PATIENT_ID) && !ev->patient_id.len)
		ps_event_add_problem(ev, PS_RULE_INVALID_VALUE,
				     PS_EF_PATIENT_ID, "patient_id is empty");
	if (ps_event_has(ev, PS_EF_DEPARTMENT) && !ev->department.len)
		ps_event_add_problem(ev, PS_RULE_INVALID_VALUE,
				     PS_EF_DEPARTMENT, "department is empty");
}

/* Value of the 4 hex digits at s (the caller checked there are 4), or -1. */
static long hex4(const char *s)
{
	unsigned v;

	return ps_hex4(s, s + 4, &v) < 0 ? -1 : (long)v;
}

/*
 * Offset of the first \u escape that encodes half a surrogate pair (which
 * yajl would turn into '?'), or len when there is none.  Other escapes
 * are left to yajl.
 */
static size_t bad_escape(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i++) {
		long v, w;

		if (s[i] != '\\')
			continue;
		if (s[i + 1] != 'u' || i + 6 > len) {
			i++;
			continue;
		}
		v = hex4(s + i + 2);
		if (v >= 0xdc00 && v <= 0xdfff)
			return i;
		if (v >= 0xd800 && v <= 0xdbff) {
			if (i + 12 > len || s[i + 6] != '\\' ||
			    s[i + 7] != 'u')
				return i;
			w = hex4(s + i + 8);
			if (w < 0xdc00 || w > 0xdfff)
				return i;
			i += 6;
		}
		i += 5;
	}
	return len;
}

/*
 * The fast path, for events as hospitals and ps-simulate send them: one
 * object of known members, each once, whose values are strings without
 * escapes, integers (no fraction, no exponent) or null.  It fills ev as
 * the callbacks above do for the same text (the same set_str, set_int and
 * problems).  Returns 0 when the record was all of that, or 1 when
 * something else came (an unknown member, an escape, a nested value,
 * true/false, a repeated member, anything malformed): the caller then
 * starts over with yajl, which decides, with its messages.
 */
static int parse_plain(struct ps_event_parser *p, const char *s, size_t len)
{
	const char *q = s, *e = s + len, *v, *end;
	size_t n;
	int f;

	q = ps_json_ws(q, e);
	if (q == e || *q++ != '{')
		return 1;
	q = ps_json_ws(q, e);
	if (q < e && *q == '}') {
		q++;
		goto done;
	}
	for (;;) {
		if (q == e || *q++ != '"' ||
		    ps_json_plain_str(&q, e, &v, &n) != 0)
			return 1;
		f = find_field((const unsigned char *)v, n);
		if (f < 0 || p->seen & 1u << f)
			return 1;
		p->seen |= 1u << f;
		q = ps_json_ws(q, e);
		if (q == e || *q++ != ':')
			return 1;
		q = ps_json_ws(q, e);
		if (q == e)
			return 1;
		if (*q == '"') {
			q++;
			if (ps_json_plain_str(&q, e, &v, &n) != 0)
				return 1;
			set_str(p, f, v, n);
		} else if (*q == 'n') {
			if (e - q < 4 || memcmp(q, "null", 4))
				return 1;
			q += 4;		/* null: absent */
		} else {
			if (!(end = ps_json_int_end(q, e)) ||
			    (end < e && (*end == '.' || *end == 'e' ||
					 *end == 'E')))
				return 1;
			if (field_kind[f] == 'i')
				set_int(p, f, q, (size_t)(end - q));
			else
				wrong_type(p, f, "a number");
			q = end;
		}
		q = ps_json_ws(q, e);
		if (q == e)
			return 1;
		if (*q == '}') {
			q++;
			break;
		}
		if (*q++ != ',')
			return 1;
		q = ps_json_ws(q, e);
	}
done:
	return ps_json_ws(q, e) == e ? 0 : 1;
}

/* Forget what a parse of ev stored. */
static void parse_reset(struct ps_event_parser *p, struct ps_event *ev)
{
	memset(ev, 0, offsetof(struct ps_event, detail));
	ev->detail[0] = '\0';
	ps_buf_reset(&p->strings);
	ps_buf_reset(&p->extra);
	ps_buf_reset(&p->keys);
	p->nkeys = 0;
	p->key_off[0] = 0;
	p->seen = 0;
	p->depth = 0;
	p->cur = CUR_SKIP;
	p->skip_to = 0;
	p->done = 0;
	p->fail = NULL;
}

int ps_event_parse(struct ps_event_parser *p, const char *s, size_t len,
		   struct ps_event *ev)
{
	yajl_handle h;
	yajl_status st;
	size_t i;

	p->ev = ev;
	parse_reset(p, ev);

	if (memchr(s, '\0', len)) {
		ps_event_add_problem(ev, PS_RULE_MALFORMED_JSON, -1,
				     "nul_byte: NUL byte at offset %zu",
				     (size_t)((const char *)memchr(s, '\0', len)
					      - s));
		return 1;
	}
	for (i = 0; i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r');
	     i++)
		;
	if (i == len) {
		ps_event_add_problem(ev, PS_RULE_MALFORMED_JSON, -1,
				     "empty: empty record");
		return 1;
	}
	if (ps_utf8_valid_prefix(s, len) != len) {
		ps_event_add_problem(ev, PS_RULE_MALFORMED_JSON, -1,
				     "invalid_utf8: invalid UTF-8 at byte %zu",
				     ps_utf8_valid_prefix(s, len));
		return 1;
	}
	if (memchr(s, '\\', len) && (i = bad_escape(s, len)) != len) {
		ps_event_add_problem(ev, PS_RULE_MALFORMED_JSON, -1,
				     "invalid_utf8: unpaired surrogate escape "
				     "at byte %zu", i);
		return 1;
	}
	if (!parse_plain(p, s, len)) {
		ev->plain = 1;
		finish(p, ev);
		return ev->nproblems > 0;
	}
	parse_reset(p, ev);
	h = yajl_alloc(&callbacks, &p->af, p);
	/* UTF-8 was checked above, more strictly than yajl does. */
	yajl_config(h, yajl_dont_validate_strings, 1);
	st = yajl_parse(h, (const unsigned char *)s, len);
	if (st == yajl_status_ok)
		st = yajl_complete_parse(h);
	if (st == yajl_status_ok && !p->done)
		p->fail = "not a JSON object";
	if (st != yajl_status_ok || p->fail) {
		char why[160];

		if (p->fail) {
			snprintf(why, sizeof(why), "%s", p->fail);
		} else {
			unsigned char *m = yajl_get_error(h, 0, NULL, 0);
			size_t k, n = strlen((char *)m);

			for (k = 0; k < n; k++)
				if (m[k] == '\n' || m[k] == '\r')
					m[k] = ' ';
			while (n && m[n - 1] == ' ')
				n--;
			snprintf(why, sizeof(why), "syntax: %.*s", (int)n, m);
			yajl_free_error(h, m);
		}
		/* Keep nothing of a record that is not JSON. */
		memset(ev, 0, offsetof(struct ps_event, detail));
		ev->detail[0] = '\0';
		ps_event_add_problem(ev, PS_RULE_MALFORMED_JSON, -1, "%s",
				     why);
		yajl_free(h);
		arena_reset(&p->arena);
		return 1;
	}
	yajl_free(h);
	arena_reset(&p->arena);
	finish(p, ev);
	return ev->nproblems > 0;
}

/* hl7map.c - see hl7map.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "event.h"
#include "feedrec.h"
#include "hl7.h"
#include "hl7map.h"
#include "json.h"
#include "ndjson.h"
#include "pstime.h"
#include "banned.h"

/* Where each piece of a message comes from (the "field" rules). */
enum pf {
	PF_EVENT_ID, PF_EVENT_TIME, PF_RECORDED_TIME, PF_PATIENT_ID,
	PF_BIRTH, PF_SEX, PF_CLASS, PF_LOCATION, PF_SERVICE, PF_ENCOUNTER,
	PF_ADMISSION, PF_DISCHARGE, PF_ARRIVAL, PF_TRIAGE, PF_SEEN,
	PF_DECISION, PF_DISPOSITION, PF_TYPE, PF_COUNT
};

static const char *const pf_names[PF_COUNT] = {
	"event_id", "event_time", "recorded_time", "patient_id",
	"birth_date", "sex", "patient_class", "location",
	"hospital_service", "encounter_id", "admission_time",
	"discharge_time", "arrival_time", "triage_level", "seen_time",
	"decision_time", "disposition", "event_type",
};

static const char *const pf_default[PF_COUNT] = {
	"MSH-10", "EVN-6", "EVN-2", "PID-3", "PID-7", "PID-8", "PV1-2",
	"PV1-3", "PV1-10", "PV1-19", "PV1-44", "PV1-45", "", "", "", "",
	"PV1-36", "",
};

struct pair {
	char *a, *b, *c;	/* key, value, (facility) */
	int32_t num;
};

struct pairs {
	struct pair *v;
	size_t n;
};

struct ps_hl7map {
	struct pairs events, depts, hosps, genders;
	struct ps_hl7_path path[PF_COUNT];
	int has_path[PF_COUNT];
	char pid_type[32];
	int offset;		/* minutes east of UTC */
};

static const char *const builtin[] = {
	"{\"map\":\"event\",\"code\":\"A01\",\"event_type\":\"ADMIT\"}",
	"{\"map\":\"event\",\"code\":\"A02\",\"event_type\":\"TRANSFER\"}",
	"{\"map\":\"event\",\"code\":\"A03\",\"event_type\":\"DISCHARGE\"}",
	"{\"map\":\"event\",\"code\":\"A04\",\"event_type\":\"ARRIVAL\"}",
	"{\"map\":\"event\",\"code\":\"A05\",\"event_type\":\"ignore\"}",
	"{\"map\":\"event\",\"code\":\"A06\",\"event_type\":\"UPDATE\"}",
	"{\"map\":\"event\",\"code\":\"A07\",\"event_type\":\"UPDATE\"}",
	"{\"map\":\"event\",\"code\":\"A08\",\"event_type\":\"UPDATE\"}",
	"{\"map\":\"event\",\"code\":\"A11\",\"event_type\":\"CANCEL_ADMIT\"}",
	"{\"map\":\"event\",\"code\":\"A12\",\"event_type\":\"TRANSFER\"}",
	"{\"map\":\"event\",\"code\":\"A13\","
		"\"event_type\":\"CANCEL_DISCHARGE\"}",
	"{\"map\":\"event\",\"code\":\"A14\",\"event_type\":\"ignore\"}",
	"{\"map\":\"event\",\"code\":\"fhir:planned\",\"event_type\":\"ignore\"}",
	"{\"map\":\"event\",\"code\":\"fhir:arrived\","
		"\"event_type\":\"ARRIVAL\"}",
	"{\"map\":\"event\",\"code\":\"fhir:triaged\","
		"\"event_type\":\"ARRIVAL\"}",
	"{\"map\":\"event\",\"code\":\"fhir:in-progress\","
		"\"event_type\":\"ADMIT\"}",
	"{\"map\":\"event\",\"code\":\"fhir:onleave\","
		"\"event_type\":\"UPDATE\"}",
	"{\"map\":\"event\",\"code\":\"fhir:finished\","
		"\"event_type\":\"DISCHARGE\"}",
	"{\"map\":\"event\",\"code\":\"fhir:cancelled\","
		"\"event_type\":\"CANCEL_ADMIT\"}",
	"{\"map\":\"event\",\"code\":\"fhir:entered-in-error\","
		"\"event_type\":\"CANCEL_ADMIT\"}",
	"{\"map\":\"gender\",\"code\":\"M\",\"gender\":\"Male\"}",
	"{\"map\":\"gender\",\"code\":\"F\",\"gender\":\"Female\"}",
	"{\"map\":\"gender\",\"code\":\"O\",\"gender\":\"Other\"}",
	"{\"map\":\"gender\",\"code\":\"U\",\"gender\":\"Unknown\"}",
	"{\"map\":\"gender\",\"code\":\"A\",\"gender\":\"Ambiguous\"}",
	"{\"map\":\"gender\",\"code\":\"N\",\"gender\":\"Not applicable\"}",
	"{\"map\":\"gender\",\"code\":\"male\",\"gender\":\"Male\"}",
	"{\"map\":\"gender\",\"code\":\"female\",\"gender\":\"Female\"}",
	"{\"map\":\"gender\",\"code\":\"other\",\"gender\":\"Other\"}",
	"{\"map\":\"gender\",\"code\":\"unknown\",\"gender\":\"Unknown\"}",
};

/* The event types of lib/event.c, and "ignore". */
static const char *const event_types[] = {
	"ARRIVAL", "TRIAGE", "SEEN", "DECISION", "ADMIT", "TRANSFER",
	"DISCHARGE", "LWBS", "UPDATE", "CANCEL_ADMIT", "CANCEL_DISCHARGE",
	"ignore",
};

/* Set (or replace) the rule with key a (and facility c) in ps. */
static void pairs_put(struct pairs *ps, const char *a, const char *b,
		      const char *c, int32_t num)
{
	size_t i;
	struct pair *p = NULL;

	for (i = 0; i < ps->n; i++)
		if (!strcmp(ps->v[i].a, a) &&
		    ((!c && !ps->v[i].c) ||
		     (c && ps->v[i].c && !strcmp(c, ps->v[i].c))))
			p = &ps->v[i];
	if (!p) {
		ps->v = ps_xrealloc(ps->v, (ps->n + 1) * sizeof(*ps->v));
		p = &ps->v[ps->n++];
	} else {
		free(p->a);
		free(p->b);
		free(p->c);
	}
	p->a = ps_xstrdup(a);
	p->b = b ? ps_xstrdup(b) : NULL;
	p->c = c ? ps_xstrdup(c) : NULL;
	p->num = num;
}

static void pairs_free(struct pairs *ps)
{
	size_t i;

	for (i = 0; i < ps->n; i++) {
		free(ps->v[i].a);
		free(ps->v[i].b);
		free(ps->v[i].c);
	}
	free(ps->v);
}

/* The rule of key (n bytes), preferring one with facility fac. */
static const struct pair *pairs_find(const struct pairs *ps, const char *key,
				     size_t n, const char *fac, size_t fn)
{
	const struct pair *any = NULL;
	size_t i;

	for (i = 0; i < ps->n; i++) {
		const struct pair *p = &ps->v[i];

		if (strlen(p->a) != n || memcmp(p->a, key, n))
			continue;
		if (!p->c)
			any = p;
		else if (fac && strlen(p->c) == fn && !memcmp(p->c, fac, fn))
			return p;
	}
	return any;
}

static const char *str_member(yajl_val o, const char *k)
{
	yajl_val v = ps_json_get(o, k);

	return v && YAJL_IS_STRING(v) ? YAJL_GET_STRING(v) : NULL;
}

static int parse_offset(const char *s, int *out)
{
	int hh, mm;

	if (strlen(s) != 5 || (s[0] != '+' && s[0] != '-') ||
	    s[1] < '0' || s[1] > '9' || s[2] < '0' || s[2] > '9' ||
	    s[3] < '0' || s[3] > '9' || s[4] < '0' || s[4] > '9')
		return -1;
	hh = (s[1] - '0') * 10 + s[2] - '0';
	mm = (s[3] - '0') * 10 + s[4] - '0';
	if (hh > 23 || mm > 59)
		return -1;
	*out = (hh * 60 + mm) * (s[0] == '-' ? -1 : 1);
	return 0;
}

static int rule_line(void *ctx, const char *line, size_t n, char *why,
		     size_t whylen)
{
	struct ps_hl7map *m = ctx;
	char err[128];
	yajl_val o = ps_json_parse(line, n, err, sizeof(err));
	const char *kind, *a, *b, *c;
	int rc = -1;
	size_t i;

	if (!o || !YAJL_IS_OBJECT(o)) {
		snprintf(why, whylen, "not a JSON object%s%s", o ? "" : ": ",
			 o ? "" : err);
		goto out;
	}
	kind = str_member(o, "map");
	if (!kind) {
		snprintf(why, whylen, "\"map\" (a string) is missing");
		goto out;
	}
	if (!strcmp(kind, "event")) {
		a = str_member(o, "code");
		b = str_member(o, "event_type");
		if (!a || !*a || !b) {
			snprintf(why, whylen, "event: \"code\" and "
				 "\"event_type\" are required");
			goto out;
		}
		for (i = 0; i < sizeof(event_types) / sizeof(*event_types);
		     i++)
			if (!strcmp(b, event_types[i]))
				break;
		if (i == sizeof(event_types) / sizeof(*event_types)) {
			snprintf(why, whylen, "event: event_type \"%s\" is "
				 "not an event type of pulsestream(7) nor "
				 "ignore",
				 b);
			goto out;
		}
		pairs_put(&m->events, a, b, NULL, 0);
	} else if (!strcmp(kind, "department")) {
		a = str_member(o, "point_of_care");
		b = str_member(o, "department");
		c = str_member(o, "facility");
		if (!a || !b || !*b) {
			snprintf(why, whylen, "department: \"point_of_care\" "
				 "and \"department\" are required");
			goto out;
		}
		pairs_put(&m->depts, a, b, c, 0);
	} else if (!strcmp(kind, "hospital")) {
		yajl_val id = ps_json_get(o, "hospital_id");

		a = str_member(o, "facility");
		if (!a || !id || !YAJL_IS_INTEGER(id) ||
		    YAJL_GET_INTEGER(id) < 0 ||
		    YAJL_GET_INTEGER(id) > INT32_MAX) {
			snprintf(why, whylen, "hospital: \"facility\" and an "
				 "integer \"hospital_id\" are required");
			goto out;
		}
		pairs_put(&m->hosps, a, NULL, NULL,
			  (int32_t)YAJL_GET_INTEGER(id));
	} else if (!strcmp(kind, "gender")) {
		a = str_member(o, "code");
		b = str_member(o, "gender");
		if (!a || !b) {
			snprintf(why, whylen, "gender: \"code\" and "
				 "\"gender\" are required");
			goto out;
		}
		pairs_put(&m->genders, a, b, NULL, 0);
	} else if (!strcmp(kind, "field")) {
		a = str_member(o, "field");
		b = str_member(o, "path");
		for (i = 0; a && i < PF_COUNT; i++)
			if (!strcmp(a, pf_names[i]))
				break;
		if (!a || i == PF_COUNT || !b) {
			snprintf(why, whylen, "field: a known \"field\" and a "
				 "\"path\" are required");
			goto out;
		}
		m->has_path[i] = *b != '\0';
		if (*b && ps_hl7_path_parse(b, strlen(b), &m->path[i]) < 0) {
			snprintf(why, whylen, "field: bad path \"%s\" "
				 "(SEG-F[R].C.S)", b);
			goto out;
		}
	} else if (!strcmp(kind, "setting")) {
		a = str_member(o, "patient_id_type");
		b = str_member(o, "default_offset");
		if (a) {
			if (strlen(a) >= sizeof(m->pid_type)) {
				snprintf(why, whylen, "setting: "
					 "patient_id_type is too long");
				goto out;
			}
			snprintf(m->pid_type, sizeof(m->pid_type), "%s", a);
		}
		if (b && parse_offset(b, &m->offset) < 0) {
			snprintf(why, whylen, "setting: default_offset is "
				 "not +HHMM or -HHMM");
			goto out;
		}
	} else {
		snprintf(why, whylen, "unknown map kind \"%s\"", kind);
		goto out;
	}
	rc = 0;
out:
	yajl_tree_free(o);
	return rc;
}

struct ps_hl7map *ps_hl7map_load(const char *path, struct ps_error *e)
{
	struct ps_hl7map *m = ps_xcalloc(1, sizeof(*m));
	char why[200];
	size_t i;

	for (i = 0; i < PF_COUNT; i++) {
		m->has_path[i] = *pf_default[i] != '\0';
		if (m->has_path[i])
			ps_hl7_path_parse(pf_default[i], strlen(pf_default[i]),
					  &m->path[i]);
	}
	snprintf(m->pid_type, sizeof(m->pid_type), "MR");
	for (i = 0; i < sizeof(builtin) / sizeof(*builtin); i++)
		if (rule_line(m, builtin[i], strlen(builtin[i]), why,
			      sizeof(why)) < 0) {
			ps_error_set(e, PS_EX_SOFTWARE, "built-in map: %s",
				     why);
			ps_hl7map_free(m);
			return NULL;
		}
	if (path && ps_ndjson_config(path, rule_line, m, e) < 0) {
		ps_hl7map_free(m);
		return NULL;
	}
	return m;
}

void ps_hl7map_free(struct ps_hl7map *m)
{
	if (!m)
		return;
	pairs_free(&m->events);
	pairs_free(&m->depts);
	pairs_free(&m->hosps);
	pairs_free(&m->genders);
	free(m);
}

const char *ps_feed_status_name(enum ps_feed_status s)
{
	switch (s) {
	case PS_FEED_OK: return "ok";
	case PS_FEED_NOT_FEED: return "not_feed";
	case PS_FEED_IGNORED: return "ignored";
	case PS_FEED_UNPARSEABLE: return "unparseable_message";
	case PS_FEED_UNSUPPORTED: return "unsupported_event";
	case PS_FEED_UNMAPPED: return "unmapped_location";
	case PS_FEED_BAD_FIELD: return "bad_message_field";
	}
	return "?";
}

const char *feedrec_gender(const struct ps_hl7map *m, const char *code,
			   size_t n)
{
	const struct pair *p = pairs_find(&m->genders, code, n, NULL, 0);

	return p ? p->b : NULL;
}

const char *feedrec_pid_type(const struct ps_hl7map *m)
{
	return m->pid_type;
}

void feedrec_reset(struct feed_rec *r)
{
	int i;

	for (i = 0; i < FS_COUNT; i++)
		ps_buf_reset(&r->s[i]);
	for (i = 0; i < FT_COUNT; i++)
		r->t[i] = PS_TIME_NONE;
}

/* A non-negative int32 of n decimal bytes, or -1. */
static long long int32_of(const char *s, size_t n)
{
	long long v = 0;
	size_t i;

	if (!n || n > 10)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v <= INT32_MAX ? v : -1;
}

static void put_time(struct ps_buf *b, int *first, const char *k, int64_t t)
{
	char ts[PS_TIME_MAX];

	ps_json_key(b, first, k);
	if (t == PS_TIME_NONE) {
		ps_buf_add(b, "null", 4);
		return;
	}
	ps_buf_addc(b, '"');
	ps_buf_add(b, ts, ps_time_format(t, ts, -1));
	ps_buf_addc(b, '"');
}

static void put_str(struct ps_buf *b, int *first, const char *k,
		    const struct ps_buf *v)
{
	if (!v->len)
		return;
	ps_json_key(b, first, k);
	ps_json_add_str(b, v->data, v->len);
}

/* Whole years from birth to t (both UTC instants). */
static long long age_at(int64_t birth, int64_t t)
{
	int64_t yb, ya;
	unsigned mb, db, ma, da;

	ps_civil_from_days(birth >= 0 ? birth / PS_USEC_PER_DAY :
			   -((-birth + PS_USEC_PER_DAY - 1) / PS_USEC_PER_DAY),
			   &yb, &mb, &db);
	ps_civil_from_days(t >= 0 ? t / PS_USEC_PER_DAY :
			   -((-t + PS_USEC_PER_DAY - 1) / PS_USEC_PER_DAY),
			   &ya, &ma, &da);
	return ya - yb - (ma < mb || (ma == mb && da < db));
}

enum ps_feed_status feedrec_event(const struct ps_hl7map *m,
				  const struct feed_rec *r, struct ps_buf *out,
				  char *why, size_t whylen)
{
	const struct ps_buf *s = r->s;
	const struct pair *ev, *dp, *hp, *gp;
	const char *type;
	long long hosp = -1, bed = -1, triage = -1;
	int64_t ref;
	int first = 1;

	if (!s[FS_TRIGGER].len) {
		snprintf(why, whylen, "no trigger event (%s)",
			 r->trigger_field);
		return PS_FEED_UNSUPPORTED;
	}
	ev = pairs_find(&m->events, s[FS_TRIGGER].data, s[FS_TRIGGER].len,
			NULL, 0);
	if (!ev) {
		snprintf(why, whylen, "%s: no event rule for \"%.40s\"",
			 r->trigger_field, s[FS_TRIGGER].data);
		return PS_FEED_UNSUPPORTED;
	}
	type = ev->b;
	if (!strcmp(type, "ignore"))
		return PS_FEED_IGNORED;
	if (s[FS_TYPE].len) {
		/* the sender's own event type (a local field) */
		size_t i;

		for (i = 0; i + 1 < sizeof(event_types) / sizeof(*event_types);
		     i++)
			if (!strcmp(s[FS_TYPE].data, event_types[i]))
				break;
		if (i + 1 == sizeof(event_types) / sizeof(*event_types)) {
			snprintf(why, whylen, "event type \"%.40s\" is not "
				 "one of pulsestream(7)", s[FS_TYPE].data);
			return PS_FEED_BAD_FIELD;
		}
		type = event_types[i];
	}
	/* location: department, hospital, bed */
	if (m->depts.n) {
		dp = pairs_find(&m->depts, s[FS_POC].data, s[FS_POC].len,
				s[FS_FACILITY].data, s[FS_FACILITY].len);
		if (!dp) {
			snprintf(why, whylen, "point of care \"%.40s\" "
				 "(facility \"%.40s\") has no department rule",
				 s[FS_POC].len ? s[FS_POC].data : "",
				 s[FS_FACILITY].len ? s[FS_FACILITY].data : "");
			return PS_FEED_UNMAPPED;
		}
	} else {
		dp = NULL;
		if (!s[FS_POC].len) {
			snprintf(why, whylen, "no point of care (location)");
			return PS_FEED_UNMAPPED;
		}
	}
	if (m->hosps.n) {
		hp = pairs_find(&m->hosps, s[FS_FACILITY].data,
				s[FS_FACILITY].len, NULL, 0);
		if (!hp) {
			snprintf(why, whylen, "facility \"%.40s\" has no "
				 "hospital rule", s[FS_FACILITY].len ?
				 s[FS_FACILITY].data : "");
			return PS_FEED_UNMAPPED;
		}
		hosp = hp->num;
	} else if ((hosp = int32_of(s[FS_FACILITY].data,
				    s[FS_FACILITY].len)) < 0) {
		snprintf(why, whylen, "facility \"%.40s\" is not a hospital "
			 "number and there is no hospital rule",
			 s[FS_FACILITY].len ? s[FS_FACILITY].data : "");
		return PS_FEED_UNMAPPED;
	}
	if (s[FS_BED].len &&
	    (bed = int32_of(s[FS_BED].data, s[FS_BED].len)) < 0) {
		snprintf(why, whylen, "bed \"%.40s\" is not a number",
			 s[FS_BED].data);
		return PS_FEED_BAD_FIELD;
	}
	if (s[FS_TRIAGE].len &&
	    (triage = int32_of(s[FS_TRIAGE].data, s[FS_TRIAGE].len)) < 0) {
		snprintf(why, whylen, "triage level \"%.40s\" is not a "
			 "number", s[FS_TRIAGE].data);
		return PS_FEED_BAD_FIELD;
	}

	ps_buf_addc(out, '{');
	put_str(out, &first, "event_id", &s[FS_EVENT_ID]);
	ps_json_key(out, &first, "event_type");
	ps_buf_addc(out, '"');
	ps_buf_adds(out, type);
	ps_buf_addc(out, '"');
	if (r->t[FT_EVENT] != PS_TIME_NONE)
		put_time(out, &first, "event_time", r->t[FT_EVENT]);
	put_str(out, &first, "encounter_id", &s[FS_ENCOUNTER]);
	put_str(out, &first, "patient_id", &s[FS_PATIENT_ID]);
	if (s[FS_SEX].len) {
		gp = pairs_find(&m->genders, s[FS_SEX].data, s[FS_SEX].len,
				NULL, 0);
		ps_json_key(out, &first, "gender");
		if (gp)
			ps_json_add_str(out, gp->b, strlen(gp->b));
		else
			ps_json_add_str(out, s[FS_SEX].data, s[FS_SEX].len);
	}
	ref = r->t[FT_ADMISSION] != PS_TIME_NONE ? r->t[FT_ADMISSION] :
	      r->t[FT_EVENT];
	if (r->t[FT_BIRTH] != PS_TIME_NONE && ref != PS_TIME_NONE) {
		ps_json_key(out, &first, "age");
		ps_buf_add_i64(out, age_at(r->t[FT_BIRTH], ref));
	}
	ps_json_key(out, &first, "department");
	if (dp)
		ps_json_add_str(out, dp->b, strlen(dp->b));
	else
		ps_json_add_str(out, s[FS_POC].data, s[FS_POC].len);
	ps_json_key(out, &first, "hospital_id");
	ps_buf_add_i64(out, hosp);
	if (bed >= 0) {
		ps_json_key(out, &first, "bed_id");
		ps_buf_add_i64(out, bed);
	}
	if (r->t[FT_ARRIVAL] != PS_TIME_NONE)
		put_time(out, &first, "arrival_time", r->t[FT_ARRIVAL]);
	if (r->t[FT_ADMISSION] != PS_TIME_NONE)
		put_time(out, &first, "admission_time", r->t[FT_ADMISSION]);
	put_time(out, &first, "discharge_time",
		 strcmp(type, "CANCEL_DISCHARGE") ? r->t[FT_DISCHARGE] :
		 PS_TIME_NONE);
	if (triage >= 0) {
		ps_json_key(out, &first, "triage_level");
		ps_buf_add_i64(out, triage);
	}
	if (r->t[FT_SEEN] != PS_TIME_NONE)
		put_time(out, &first, "seen_time", r->t[FT_SEEN]);
	if (r->t[FT_DECISION] != PS_TIME_NONE)
		put_time(out, &first, "decision_time", r->t[FT_DECISION]);
	put_str(out, &first, "disposition", &s[FS_DISPOSITION]);
	ps_json_key(out, &first, "source_format");
	ps_buf_addc(out, '"');
	ps_buf_adds(out, r->format);
	ps_buf_addc(out, '"');
	put_str(out, &first, "trigger_event", &s[FS_TRIGGER]);
	put_str(out, &first, "patient_class", &s[FS_CLASS]);
	put_str(out, &first, "hospital_service", &s[FS_SERVICE]);
	ps_buf_add(out, "}\n", 2);
	return PS_FEED_OK;
}

/* ------------------------------------------------------------------ */
/* HL7 v2                                                              */
/* ------------------------------------------------------------------ */

struct ps_feed {
	const struct ps_hl7map *map;
	struct ps_hl7_msg msg;
	struct feed_rec rec;
	struct fhir_cache *cache;
	struct ps_buf tmp, one;
};

struct ps_feed *ps_feed_new(const struct ps_hl7map *map, int join)
{
	struct ps_feed *f = ps_xcalloc(1, sizeof(*f));

	f->map = map;
	f->cache = join ? fhir_cache_new() : NULL;
	return f;
}

void ps_feed_free(struct ps_feed *f)
{
	int i;

	if (!f)
		return;
	ps_hl7_msg_release(&f->msg);
	for (i = 0; i < FS_COUNT; i++)
		ps_buf_release(&f->rec.s[i]);
	fhir_cache_free(f->cache);
	ps_buf_release(&f->tmp);
	ps_buf_release(&f->one);
	free(f);
}

/* Does a text of ps-hl7 convert look like an HL7 v2 message or a FHIR
 * resource?  "MSH" first, or a JSON object with "resourceType" among its
 * first bytes.  (ps-silver is told what its payloads are instead.) */
static int feed_sniff(const char *p, size_t n)
{
	size_t i;

	if (n >= 4 && !memcmp(p, "MSH", 3))
		return 1;
	for (i = 0; i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' ||
			      p[i] == '\n'); i++)
		;
	if (i == n || p[i] != '{')
		return 0;
	return memmem(p + i, n - i < 200 ? n - i : 200,
		      "\"resourceType\"", 14) != NULL;
}

/* A time field into *t; a bad value is a problem naming the path. */
static int get_time(struct ps_feed *f, enum pf k, int64_t *t, char *why,
		    size_t whylen)
{
	const struct ps_hl7map *m = f->map;
	struct ps_hl7_path p;
	const char *v, *bad;
	size_t n;

	if (!m->has_path[k])
		return 0;
	p = m->path[k];
	if (!p.comp)
		p.comp = 1;	/* TS: the time is its first component */
	if (!ps_hl7_raw(&f->msg, &p, &v, &n) || !n)
		return 0;
	ps_buf_reset(&f->tmp);
	ps_hl7_unescape(&f->msg, v, n, &f->tmp);
	if (ps_hl7_time(f->tmp.data, f->tmp.len, m->offset, t, NULL,
			&bad) < 0) {
		snprintf(why, whylen, "%s-%d %s: %s", m->path[k].seg,
			 m->path[k].field, pf_names[k], bad);
		return -1;
	}
	return 0;
}

static void get_str(struct ps_feed *f, enum pf k, int comp,
		    struct ps_buf *out)
{
	struct ps_hl7_path p;

	ps_buf_reset(out);
	if (!f->map->has_path[k])
		return;
	p = f->map->path[k];
	if (comp && !p.comp)
		p.comp = comp;
	ps_hl7_get(&f->msg, &p, out);
}

/* PID-3: the identifier of the configured type (PID-3.5), its PID-3.1. */
static void get_patient(struct ps_feed *f, struct ps_buf *out)
{
	const struct ps_hl7map *m = f->map;
	struct ps_hl7_path p;
	const char *v;
	size_t n, tl = strlen(m->pid_type);
	int r, nrep;

	ps_buf_reset(out);
	if (!m->has_path[PF_PATIENT_ID])
		return;
	p = m->path[PF_PATIENT_ID];
	if (p.rep || p.comp || !tl) {
		if (!p.comp)
			p.comp = 1;
		ps_hl7_get(&f->msg, &p, out);
		return;
	}
	nrep = ps_hl7_nrep(&f->msg, &p);
	for (r = 1; r <= nrep; r++) {
		p.rep = r;
		p.comp = 5;
		ps_hl7_raw(&f->msg, &p, &v, &n);
		ps_buf_reset(&f->tmp);
		ps_hl7_unescape(&f->msg, v, n, &f->tmp);
		if (f->tmp.len == tl && !memcmp(f->tmp.data, m->pid_type, tl)) {
			p.comp = 1;
			ps_hl7_get(&f->msg, &p, out);
			return;
		}
	}
}

static enum ps_feed_status hl7_convert(struct ps_feed *f, const char *p,
				       size_t n, struct ps_buf *out,
				       char *why, size_t whylen)
{
	static const struct ps_hl7_path trig = { "MSH", 9, 0, 2, 0 },
					 evn1 = { "EVN", 1, 0, 0, 0 };
	struct feed_rec *r = &f->rec;
	const struct ps_hl7map *m = f->map;
	struct ps_hl7_path lp;
	int64_t rec_time = PS_TIME_NONE;

	if (ps_hl7_parse(&f->msg, p, n, why, whylen) < 0)
		return PS_FEED_UNPARSEABLE;
	feedrec_reset(r);
	r->format = "hl7v2";
	r->trigger_field = "MSH-9.2";
	if (!ps_hl7_get(&f->msg, &trig, &r->s[FS_TRIGGER])) {
		r->trigger_field = "EVN-1";
		ps_hl7_get(&f->msg, &evn1, &r->s[FS_TRIGGER]);
	}
	get_str(f, PF_EVENT_ID, 0, &r->s[FS_EVENT_ID]);
	get_patient(f, &r->s[FS_PATIENT_ID]);
	get_str(f, PF_SEX, 1, &r->s[FS_SEX]);
	get_str(f, PF_CLASS, 1, &r->s[FS_CLASS]);
	get_str(f, PF_SERVICE, 1, &r->s[FS_SERVICE]);
	get_str(f, PF_ENCOUNTER, 1, &r->s[FS_ENCOUNTER]);
	get_str(f, PF_TRIAGE, 1, &r->s[FS_TRIAGE]);
	get_str(f, PF_DISPOSITION, 1, &r->s[FS_DISPOSITION]);
	get_str(f, PF_TYPE, 1, &r->s[FS_TYPE]);
	if (m->has_path[PF_LOCATION]) {
		static const enum feed_str part[4] = {
			FS_POC, FS_ROOM, FS_BED, FS_FACILITY };
		int i;

		lp = m->path[PF_LOCATION];
		for (i = 0; i < 4; i++) {
			lp.comp = i + 1;
			lp.sub = 1;	/* PL components are HD: namespace */
			ps_hl7_get(&f->msg, &lp, &r->s[part[i]]);
		}
	}
	if (get_time(f, PF_EVENT_TIME, &r->t[FT_EVENT], why, whylen) < 0 ||
	    get_time(f, PF_RECORDED_TIME, &rec_time, why, whylen) < 0 ||
	    get_time(f, PF_BIRTH, &r->t[FT_BIRTH], why, whylen) < 0 ||
	    get_time(f, PF_ADMISSION, &r->t[FT_ADMISSION], why, whylen) < 0 ||
	    get_time(f, PF_DISCHARGE, &r->t[FT_DISCHARGE], why, whylen) < 0 ||
	    get_time(f, PF_ARRIVAL, &r->t[FT_ARRIVAL], why, whylen) < 0 ||
	    get_time(f, PF_SEEN, &r->t[FT_SEEN], why, whylen) < 0 ||
	    get_time(f, PF_DECISION, &r->t[FT_DECISION], why, whylen) < 0)
		return PS_FEED_BAD_FIELD;
	if (r->t[FT_EVENT] == PS_TIME_NONE)
		r->t[FT_EVENT] = rec_time;
	return feedrec_event(m, r, out, why, whylen);
}

enum ps_feed_status ps_feed_convert(struct ps_feed *f, const char *p,
				    size_t n, struct ps_buf *out,
				    int *nevents, char *why, size_t whylen)
{
	size_t len0 = out->len;
	enum ps_feed_status st;

	*nevents = 0;
	why[0] = '\0';
	if (n >= 3 && !memcmp(p, "MSH", 3)) {
		st = hl7_convert(f, p, n, out, why, whylen);
		if (st == PS_FEED_OK)
			*nevents = 1;
		return st;
	}
	if (!feed_sniff(p, n))
		return PS_FEED_NOT_FEED;
	st = fhir_convert(f->map, f->cache, &f->rec, p, n, out, nevents, why,
			  whylen);
	if (st != PS_FEED_OK) {
		out->len = len0;
		if (out->data)
			out->data[len0] = '\0';
		*nevents = 0;
	}
	return st;
}

int ps_feed_format_parse(const char *s, enum ps_feed_format *fmt)
{
	static const char *const names[] = { "events", "hl7", "fhir" };
	int i;

	for (i = 0; i < 3; i++)
		if (!strcmp(s, names[i])) {
			*fmt = (enum ps_feed_format)i;
			return 0;
		}
	return -1;
}

enum ps_feed_status ps_feed_one(struct ps_feed *f, enum ps_feed_format fmt,
				const char **p, size_t *n, char *why,
				size_t whylen)
{
	enum ps_feed_status st;
	int k = 0;

	if (fmt == PS_FEED_FMT_EVENTS)
		return PS_FEED_NOT_FEED;
	why[0] = '\0';
	ps_buf_reset(&f->one);
	if (fmt == PS_FEED_FMT_HL7) {
		if (*n < 3 || memcmp(*p, "MSH", 3)) {
			snprintf(why, whylen, "HL7 v2: the message does not "
				 "start with MSH");
			return PS_FEED_UNPARSEABLE;
		}
		st = hl7_convert(f, *p, *n, &f->one, why, whylen);
		k = st == PS_FEED_OK;
	} else {
		st = fhir_convert(f->map, f->cache, &f->rec, *p, *n, &f->one,
				  &k, why, whylen);
	}
	if (st != PS_FEED_OK)
		return st;
	if (k != 1) {
		snprintf(why, whylen, "%d Encounters in one payload (one "
			 "expected)", k);
		return k ? PS_FEED_UNSUPPORTED : PS_FEED_IGNORED;
	}
	*p = f->one.data;
	*n = f->one.len - 1;	/* without its '\n' */
	return PS_FEED_OK;
}

int ps_feed_parse(struct ps_feed *f, enum ps_feed_format fmt,
		  struct ps_event_parser *ep, const char *p, size_t n,
		  struct ps_event *ev)
{
	static const enum ps_rule rule[] = {
		[PS_FEED_UNPARSEABLE] = PS_RULE_UNPARSEABLE_MESSAGE,
		[PS_FEED_UNSUPPORTED] = PS_RULE_UNSUPPORTED_EVENT,
		[PS_FEED_UNMAPPED] = PS_RULE_UNMAPPED_LOCATION,
		[PS_FEED_BAD_FIELD] = PS_RULE_BAD_MESSAGE_FIELD,
	};
	char why[200];
	enum ps_feed_status st = ps_feed_one(f, fmt, &p, &n, why,
					     sizeof(why));

	if (st == PS_FEED_OK || st == PS_FEED_NOT_FEED)
		return ps_event_parse(ep, p, n, ev);
	memset(ev, 0, sizeof(*ev));
	if (st == PS_FEED_IGNORED) {
		ps_event_add_problem(ev, PS_RULE_IGNORED_MESSAGE, -1, NULL);
		return -1;
	}
	ps_event_add_problem(ev, rule[st], -1, "%s", why);
	return 1;
}

/*
 * fhir.c - FHIR R4 Encounter (and Patient) resources to feed records
 * (lib/feedrec.h), for lib/hl7map.c.
 *
 * Encounter: status -> trigger "fhir:STATUS"; meta.versionId (with the
 * id) -> event_id; meta.lastUpdated -> event_time; identifier[0].value
 * (else id) -> encounter_id; class.code -> patient_class; period.start /
 * period.end -> admission / discharge time; the start of the
 * statusHistory entry "arrived" -> arrival_time; serviceType.coding[0].code
 * -> hospital_service; serviceProvider (identifier.value, display, or the
 * id of its reference) -> facility; location[]: the entries with status
 * "active" (else all), by physicalType: bd -> bed, ro -> room, anything
 * else (wa, or none) -> point of care, each from location.identifier.value,
 * location.display or the id of the reference; the extension
 * extensions urn:pulsestream:fhir:triage-level (valueInteger) ->
 * triage_level, urn:pulsestream:fhir:event-type (valueCode) -> the event
 * type (instead of the status rule's), urn:pulsestream:fhir:seen-time and
 * decision-time (valueDateTime); hospitalization.dischargeDisposition
 * .coding[0].code -> disposition.  The subject is
 * found in the same Bundle (by fullUrl or Patient/id), in "contained"
 * (#id), or in the join cache: its identifier of type MR (the map's
 * patient_id_type, identifier.type.coding[].code) -> patient_id, gender,
 * birthDate.  Without the Patient, subject.identifier.value or the id of
 * subject.reference is the patient_id.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "feedrec.h"
#include "json.h"
#include "pstime.h"
#include "rand.h"
#include "banned.h"

#define TRIAGE_URL "urn:pulsestream:fhir:triage-level"
#define TYPE_URL "urn:pulsestream:fhir:event-type"
#define SEEN_URL "urn:pulsestream:fhir:seen-time"
#define DECISION_URL "urn:pulsestream:fhir:decision-time"
#define CACHE_MAX 1000000

/* ------------------------------------------------------------------ */
/* The join cache: Patient/id -> what an Encounter needs of it         */
/* ------------------------------------------------------------------ */

struct cpat {
	char *key;		/* "Patient/id" */
	char *mrn, *gender;	/* NULL when absent */
	int64_t birth;
};

struct fhir_cache {
	struct cpat *v;
	size_t cap, n;
	int full_warned;
};

static uint64_t fnv(const char *s, size_t n)
{
	return ps_fnv1a(PS_FNV1A_INIT, s, n);
}

struct fhir_cache *fhir_cache_new(void)
{
	struct fhir_cache *c = ps_xcalloc(1, sizeof(*c));

	c->cap = 1024;
	c->v = ps_xcalloc(c->cap, sizeof(*c->v));
	return c;
}

void fhir_cache_free(struct fhir_cache *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->cap; i++) {
		free(c->v[i].key);
		free(c->v[i].mrn);
		free(c->v[i].gender);
	}
	free(c->v);
	free(c);
}

static struct cpat *cache_slot(struct fhir_cache *c, const char *key,
			       size_t n)
{
	size_t i = fnv(key, n) & (c->cap - 1);

	while (c->v[i].key && (strlen(c->v[i].key) != n ||
			       memcmp(c->v[i].key, key, n)))
		i = (i + 1) & (c->cap - 1);
	return &c->v[i];
}

static void cache_grow(struct fhir_cache *c)
{
	struct cpat *old = c->v;
	size_t oc = c->cap, i;

	c->cap *= 2;
	c->v = ps_xcalloc(c->cap, sizeof(*c->v));
	for (i = 0; i < oc; i++)
		if (old[i].key)
			*cache_slot(c, old[i].key, strlen(old[i].key)) = old[i];
	free(old);
}

/* ------------------------------------------------------------------ */
/* JSON helpers                                                        */
/* ------------------------------------------------------------------ */

static const char *str(yajl_val o, const char *k)
{
	yajl_val v = o && YAJL_IS_OBJECT(o) ? ps_json_get(o, k) : NULL;

	return v && YAJL_IS_STRING(v) ? YAJL_GET_STRING(v) : NULL;
}

static yajl_val obj(yajl_val o, const char *k)
{
	yajl_val v = o && YAJL_IS_OBJECT(o) ? ps_json_get(o, k) : NULL;

	return v && YAJL_IS_OBJECT(v) ? v : NULL;
}

static yajl_val arr(yajl_val o, const char *k)
{
	yajl_val v = o && YAJL_IS_OBJECT(o) ? ps_json_get(o, k) : NULL;

	return v && YAJL_IS_ARRAY(v) ? v : NULL;
}

static size_t alen(yajl_val a)
{
	return a ? a->u.array.len : 0;
}

static yajl_val aget(yajl_val a, size_t i)
{
	return a->u.array.values[i];
}

static void set(struct ps_buf *b, const char *s)
{
	ps_buf_reset(b);
	if (s)
		ps_buf_adds(b, s);
}

/* The id part of a reference "Type/id" (or the whole of it). */
static const char *ref_id(const char *ref)
{
	const char *s = ref ? strrchr(ref, '/') : NULL;

	return s ? s + 1 : ref;
}

/* identifier.value, display, or the id of reference, of a Reference. */
static const char *ref_name(yajl_val r)
{
	const char *v = str(obj(r, "identifier"), "value");

	if (!v)
		v = str(r, "display");
	if (!v)
		v = ref_id(str(r, "reference"));
	return v;
}

/*
 * A FHIR date or dateTime: YYYY, YYYY-MM, YYYY-MM-DD, or a full time with
 * its zone.  Returns 0, or -1 with why.
 */
static int fhir_time(const char *s, int64_t *t, const char **why)
{
	char tmp[16];
	size_t n = strlen(s);

	if (n == 4 || n == 7) {
		snprintf(tmp, sizeof(tmp), "%.4s-%.2s-01", s,
			 n == 7 ? s + 5 : "01");
		if (n == 7 && s[4] != '-') {
			*why = "not a FHIR date";
			return -1;
		}
		return ps_time_parse(tmp, 10, t, why);
	}
	return ps_time_parse(s, n, t, why);
}

/* ------------------------------------------------------------------ */
/* Patients                                                            */
/* ------------------------------------------------------------------ */

/* Fill patient_id, sex and birth of r from a Patient resource. */
static int from_patient(const struct ps_hl7map *m, yajl_val pat,
			struct feed_rec *r, char *why, size_t whylen)
{
	const char *type = feedrec_pid_type(m), *v, *bad;
	yajl_val ids = arr(pat, "identifier");
	size_t i, j;

	for (i = 0; i < alen(ids) && !r->s[FS_PATIENT_ID].len; i++) {
		yajl_val id = aget(ids, i);
		yajl_val cod = arr(obj(id, "type"), "coding");

		if (!*type && (v = str(id, "value")))
			set(&r->s[FS_PATIENT_ID], v);
		for (j = 0; j < alen(cod); j++)
			if ((v = str(aget(cod, j), "code")) &&
			    !strcmp(v, type) && str(id, "value"))
				set(&r->s[FS_PATIENT_ID], str(id, "value"));
	}
	if (!r->s[FS_PATIENT_ID].len && (v = str(pat, "id")))
		set(&r->s[FS_PATIENT_ID], v);
	if ((v = str(pat, "gender")))
		set(&r->s[FS_SEX], v);
	if ((v = str(pat, "birthDate")) &&
	    fhir_time(v, &r->t[FT_BIRTH], &bad) < 0) {
		snprintf(why, whylen, "Patient.birthDate: %s", bad);
		return -1;
	}
	return 0;
}

static void cache_put(struct fhir_cache *c, yajl_val pat,
		      const struct ps_hl7map *m, struct feed_rec *scratch)
{
	const char *id = str(pat, "id");
	char why[8];
	struct ps_buf key = PS_BUF_INIT;
	struct cpat *p;

	if (!c || !id)
		return;
	if (c->n >= CACHE_MAX) {
		c->full_warned = 1;
		return;
	}
	feedrec_reset(scratch);
	if (from_patient(m, pat, scratch, why, sizeof(why)) < 0)
		scratch->t[FT_BIRTH] = PS_TIME_NONE;
	if ((c->n + 1) * 2 > c->cap)
		cache_grow(c);
	ps_buf_adds(&key, "Patient/");
	ps_buf_adds(&key, id);
	p = cache_slot(c, key.data, key.len);
	if (!p->key) {
		p->key = ps_buf_detach(&key, NULL);
		c->n++;
	} else {
		free(p->mrn);
		free(p->gender);
		ps_buf_release(&key);
	}
	p->mrn = scratch->s[FS_PATIENT_ID].len ?
		 ps_xstrdup(scratch->s[FS_PATIENT_ID].data) : NULL;
	p->gender = scratch->s[FS_SEX].len ?
		    ps_xstrdup(scratch->s[FS_SEX].data) : NULL;
	p->birth = scratch->t[FT_BIRTH];
}

/* ------------------------------------------------------------------ */
/* Encounters                                                          */
/* ------------------------------------------------------------------ */

struct ctx {
	const struct ps_hl7map *m;
	struct fhir_cache *cache;
	yajl_val bundle;	/* or NULL */
};

/* The subject's Patient: in the bundle, contained, or NULL. */
static yajl_val find_patient(const struct ctx *x, yajl_val enc,
			     const char *ref)
{
	yajl_val ents = arr(x->bundle, "entry"), c = arr(enc, "contained");
	size_t i;

	if (!ref)
		return NULL;
	for (i = 0; ref[0] == '#' && i < alen(c); i++) {
		const char *id = str(aget(c, i), "id");

		if (id && !strcmp(id, ref + 1) &&
		    !strcmp(str(aget(c, i), "resourceType") ?
			    str(aget(c, i), "resourceType") : "", "Patient"))
			return aget(c, i);
	}
	for (i = 0; i < alen(ents); i++) {
		yajl_val res = obj(aget(ents, i), "resource");
		const char *full = str(aget(ents, i), "fullUrl");
		const char *rt = str(res, "resourceType"), *id = str(res, "id");
		size_t n;

		if (!rt || strcmp(rt, "Patient"))
			continue;
		if (full && !strcmp(full, ref))
			return res;
		n = strlen(ref);
		if (id && n > 8 && !memcmp(ref, "Patient/", 8) &&
		    !strcmp(ref + 8, id))
			return res;
	}
	return NULL;
}

static enum ps_feed_status encounter(const struct ctx *x, yajl_val enc,
				     struct feed_rec *r, struct ps_buf *out,
				     char *why, size_t whylen)
{
	const char *v, *bad, *id = str(enc, "id");
	yajl_val meta = obj(enc, "meta"), subj = obj(enc, "subject"), pat;
	yajl_val locs = arr(enc, "location"), a;
	size_t i;
	int any_active = 0;

	feedrec_reset(r);
	r->format = "fhir";
	r->trigger_field = "Encounter.status";
	if ((v = str(enc, "status"))) {
		ps_buf_adds(&r->s[FS_TRIGGER], "fhir:");
		ps_buf_adds(&r->s[FS_TRIGGER], v);
	}
	if ((v = str(meta, "versionId")) && id) {
		ps_buf_adds(&r->s[FS_EVENT_ID], id);
		ps_buf_adds(&r->s[FS_EVENT_ID], "/_history/");
		ps_buf_adds(&r->s[FS_EVENT_ID], v);
	}
	if ((v = str(meta, "lastUpdated")) &&
	    fhir_time(v, &r->t[FT_EVENT], &bad) < 0) {
		snprintf(why, whylen, "Encounter.meta.lastUpdated: %s", bad);
		return PS_FEED_BAD_FIELD;
	}
	a = arr(enc, "identifier");
	v = alen(a) ? str(aget(a, 0), "value") : NULL;
	set(&r->s[FS_ENCOUNTER], v ? v : id);
	set(&r->s[FS_CLASS], str(obj(enc, "class"), "code"));
	if ((v = str(obj(enc, "period"), "start")) &&
	    fhir_time(v, &r->t[FT_ADMISSION], &bad) < 0) {
		snprintf(why, whylen, "Encounter.period.start: %s", bad);
		return PS_FEED_BAD_FIELD;
	}
	if ((v = str(obj(enc, "period"), "end")) &&
	    fhir_time(v, &r->t[FT_DISCHARGE], &bad) < 0) {
		snprintf(why, whylen, "Encounter.period.end: %s", bad);
		return PS_FEED_BAD_FIELD;
	}
	a = arr(enc, "statusHistory");
	for (i = 0; i < alen(a); i++)
		if ((v = str(aget(a, i), "status")) && !strcmp(v, "arrived") &&
		    (v = str(obj(aget(a, i), "period"), "start")) &&
		    fhir_time(v, &r->t[FT_ARRIVAL], &bad) < 0) {
			snprintf(why, whylen, "Encounter.statusHistory: %s",
				 bad);
			return PS_FEED_BAD_FIELD;
		}
	a = arr(enc, "serviceType");
	a = arr(a ? NULL : obj(enc, "serviceType"), "coding");
	if (alen(a))
		set(&r->s[FS_SERVICE], str(aget(a, 0), "code"));
	set(&r->s[FS_FACILITY], ref_name(obj(enc, "serviceProvider")));
	for (i = 0; i < alen(locs); i++)
		if ((v = str(aget(locs, i), "status")) && !strcmp(v, "active"))
			any_active = 1;
	for (i = 0; i < alen(locs); i++) {
		yajl_val l = aget(locs, i), pc;
		const char *code = NULL;

		if (any_active && (!(v = str(l, "status")) ||
				   strcmp(v, "active")))
			continue;
		pc = arr(obj(l, "physicalType"), "coding");
		if (alen(pc))
			code = str(aget(pc, 0), "code");
		v = ref_name(obj(l, "location"));
		if (code && !strcmp(code, "bd"))
			set(&r->s[FS_BED], v);
		else if (code && !strcmp(code, "ro"))
			set(&r->s[FS_ROOM], v);
		else
			set(&r->s[FS_POC], v);
	}
	a = arr(obj(obj(enc, "hospitalization"), "dischargeDisposition"),
		"coding");
	if (alen(a))
		set(&r->s[FS_DISPOSITION], str(aget(a, 0), "code"));
	a = arr(enc, "extension");
	for (i = 0; i < alen(a); i++) {
		yajl_val t, x1 = aget(a, i);
		const char *url = str(x1, "url"), *dt;
		int64_t *tp = NULL;

		if (!url)
			continue;
		if (!strcmp(url, TRIAGE_URL) &&
		    (t = ps_json_get(x1, "valueInteger")) &&
		    YAJL_IS_INTEGER(t)) {
			ps_buf_reset(&r->s[FS_TRIAGE]);
			ps_buf_add_i64(&r->s[FS_TRIAGE],
				       YAJL_GET_INTEGER(t));
		} else if (!strcmp(url, TYPE_URL)) {
			set(&r->s[FS_TYPE], str(x1, "valueCode"));
		} else if (!strcmp(url, SEEN_URL)) {
			tp = &r->t[FT_SEEN];
		} else if (!strcmp(url, DECISION_URL)) {
			tp = &r->t[FT_DECISION];
		}
		if (tp && (dt = str(x1, "valueDateTime")) &&
		    fhir_time(dt, tp, &bad) < 0) {
			snprintf(why, whylen, "Encounter.extension %s: %s",
				 url, bad);
			return PS_FEED_BAD_FIELD;
		}
	}
	/* the patient */
	v = str(subj, "reference");
	pat = find_patient(x, enc, v);
	if (pat) {
		if (from_patient(x->m, pat, r, why, whylen) < 0)
			return PS_FEED_BAD_FIELD;
	} else if (x->cache && v &&
		   cache_slot(x->cache, v, strlen(v))->key) {
		struct cpat *c = cache_slot(x->cache, v, strlen(v));

		set(&r->s[FS_PATIENT_ID], c->mrn);
		set(&r->s[FS_SEX], c->gender);
		r->t[FT_BIRTH] = c->birth;
	} else {
		const char *pid = str(obj(subj, "identifier"), "value");

		set(&r->s[FS_PATIENT_ID], pid ? pid : ref_id(v));
	}
	return feedrec_event(x->m, r, out, why, whylen);
}

enum ps_feed_status fhir_convert(const struct ps_hl7map *m,
				 struct fhir_cache *cache, struct feed_rec *r,
				 const char *p, size_t n, struct ps_buf *out,
				 int *nevents, char *why, size_t whylen)
{
	char err[128];
	yajl_val root = ps_json_parse(p, n, err, sizeof(err)), ents;
	const char *rt;
	struct ctx x = { m, cache, NULL };
	enum ps_feed_status st = PS_FEED_IGNORED, s1;
	size_t i;

	*nevents = 0;
	if (!root && strstr(err, "  "))
		*strstr(err, "  ") = '\0';	/* yajl's context lines */
	if (!root || !YAJL_IS_OBJECT(root)) {
		snprintf(why, whylen, "FHIR: not a JSON object: %s",
			 root ? "other JSON" : err);
		yajl_tree_free(root);
		return PS_FEED_UNPARSEABLE;
	}
	rt = str(root, "resourceType");
	if (!rt) {
		snprintf(why, whylen, "FHIR: no resourceType");
		st = PS_FEED_UNPARSEABLE;
	} else if (!strcmp(rt, "Encounter")) {
		st = encounter(&x, root, r, out, why, whylen);
		*nevents = st == PS_FEED_OK;
	} else if (!strcmp(rt, "Patient")) {
		cache_put(cache, root, m, r);
	} else if (!strcmp(rt, "Bundle")) {
		x.bundle = root;
		ents = arr(root, "entry");
		for (i = 0; i < alen(ents); i++) {
			yajl_val res = obj(aget(ents, i), "resource");

			if ((rt = str(res, "resourceType")) &&
			    !strcmp(rt, "Patient"))
				cache_put(cache, res, m, r);
		}
		for (i = 0; i < alen(ents); i++) {
			yajl_val res = obj(aget(ents, i), "resource");

			if (!(rt = str(res, "resourceType")) ||
			    strcmp(rt, "Encounter"))
				continue;
			s1 = encounter(&x, res, r, out, why, whylen);
			if (s1 == PS_FEED_OK) {
				(*nevents)++;
				st = PS_FEED_OK;
			} else if (s1 != PS_FEED_IGNORED) {
				st = s1;
				break;
			}
		}
	} else {
		snprintf(why, whylen, "FHIR: resource type %s (Encounter, "
			 "Patient or Bundle expected)", rt);
		st = PS_FEED_UNSUPPORTED;
	}
	yajl_tree_free(root);
	return st;
}

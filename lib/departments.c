/* departments.c - see departments.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "departments.h"
#include "json.h"
#include "ndjson.h"
#include "banned.h"

/*
 * The built-in table: the original lab's seven departments with
 * HEALTHCARE.md's length-of-stay medians and sigmas.  Beds are sized for
 * a share of the mean demand: 70 % on the wards (US general hospitals run
 * about 75 % full), 65 % in the emergency department (its arrivals peak at
 * 1.5 times the daily mean) and 60 % in the ICU (a small unit with long,
 * variable stays queues at lower loads).  Two units are short on purpose,
 * so that the bottlenecks a dashboard shows are the ones the simulation
 * created: hospital 2's ICU (12 beds for a demand of about 10: often full,
 * its patients board in the emergency department) and hospital 5's
 * surgery (40 beds for a demand of about 50: full, elective admissions
 * cancelled, patients placed on other wards).  The emergency department's LOS is the ED stay of a patient
 * sent home; admitted patients stay longer (lib/simulate.c).
 */
static int short_h2[] = { 2 }, short_icu[] = { 12 };
static int short_h5[] = { 5 }, short_surg[] = { 40 };

static const struct ps_department builtin[] = {
	/* name, beds (0: sized), LOS median h, sigma, admits/day, via ED,
	 * overstay h, emergency, elective, target load, stale after h,
	 * overrides */
	{ "Emergency", 0, 2.7, 0.6, 100, 0, 8, 1, 0, 0.65, 48, NULL, NULL,
	  0 },
	{ "Surgery", 0, 84, 0.85, 10, 0.6, 50, 0, 1, 0.7, 0, short_h5,
	  short_surg, 1 },
	{ "ICU", 0, 43.2, 1.13, 3, 1.0, 50, 0, 0, 0.6, 0, short_h2,
	  short_icu, 1 },
	{ "Pediatrics", 0, 60, 0.92, 7, 0.8, 50, 0, 0, 0.7, 0, NULL, NULL,
	  0 },
	{ "Maternity", 0, 48, 0.72, 8, 0.05, 50, 0, 0, 0.7, 0, NULL, NULL,
	  0 },
	{ "Oncology", 0, 108, 0.9, 4.5, 0.6, 50, 0, 1, 0.7, 0, NULL, NULL,
	  0 },
	{ "Cardiology", 0, 84, 0.75, 9, 0.9, 50, 0, 1, 0.7, 0, NULL, NULL,
	  0 },
};

/* Beds for target_load of the mean demand; the stale limit. */
static void derive(struct ps_department *d, int beds_given)
{
	double mean_h = d->los_median_hours *
			exp(d->los_sigma * d->los_sigma / 2);

	if (!beds_given) {
		double b = d->admits_per_day / 24.0 * mean_h / d->target_load;

		d->beds = (int)ceil(b - 1e-9);
		if (d->beds < 1)
			d->beds = 1;
	}
	if (d->stale_after_hours <= 0) {
		d->stale_after_hours = d->los_median_hours *
				       exp(3 * d->los_sigma);
		if (d->stale_after_hours < 24)
			d->stale_after_hours = 24;
	}
}

int ps_department_beds(const struct ps_department *d, int hospital_id)
{
	int i;

	for (i = 0; i < d->nov; i++)
		if (d->ov_hospital[i] == hospital_id)
			return d->ov_beds[i];
	return d->beds;
}

static int *intdup(const int *p, int n)
{
	int *r;

	if (!n)
		return NULL;
	r = ps_xmalloc((size_t)n * sizeof(*r));
	memcpy(r, p, (size_t)n * sizeof(*r));
	return r;
}

void ps_departments_defaults(struct ps_departments *ds)
{
	int i, n = (int)(sizeof(builtin) / sizeof(builtin[0]));

	ds->d = ps_xcalloc((size_t)n, sizeof(*ds->d));
	ds->n = n;
	for (i = 0; i < n; i++) {
		ds->d[i] = builtin[i];
		ds->d[i].name = ps_xstrdup(builtin[i].name);
		ds->d[i].ov_hospital = intdup(builtin[i].ov_hospital,
					      builtin[i].nov);
		ds->d[i].ov_beds = intdup(builtin[i].ov_beds, builtin[i].nov);
		derive(&ds->d[i], 0);
	}
}

void ps_departments_release(struct ps_departments *ds)
{
	int i;

	for (i = 0; i < ds->n; i++) {
		free(ds->d[i].name);
		free(ds->d[i].ov_hospital);
		free(ds->d[i].ov_beds);
	}
	free(ds->d);
	ds->d = NULL;
	ds->n = 0;
}

int ps_departments_find(const struct ps_departments *ds, const char *name,
			size_t len)
{
	int i;

	for (i = 0; i < ds->n; i++)
		if (strlen(ds->d[i].name) == len &&
		    !memcmp(ds->d[i].name, name, len))
			return i;
	return -1;
}

/* A number member within [lo, hi]; absent leaves *out unchanged. */
static int get_num(yajl_val obj, const char *key, double lo, double hi,
		   double *out, const char **bad)
{
	yajl_val v = ps_json_get(obj, key);

	if (!v)
		return 0;
	if (!YAJL_IS_NUMBER(v) || !isfinite(YAJL_GET_DOUBLE(v)) ||
	    YAJL_GET_DOUBLE(v) < lo || YAJL_GET_DOUBLE(v) > hi) {
		*bad = key;
		return -1;
	}
	*out = YAJL_GET_DOUBLE(v);
	return 0;
}

/* {"2":10,...}: hospital id -> beds. */
static int parse_overrides(struct ps_department *d, yajl_val ov)
{
	size_t i;

	if (!YAJL_IS_OBJECT(ov))
		return -1;
	for (i = 0; i < ov->u.object.len; i++) {
		const char *k = ov->u.object.keys[i], *end = NULL;
		yajl_val b = ov->u.object.values[i];
		long h = strtol(k, (char **)&end, 10);
		double n;

		if (!*k || *end || h < 0 || h > 1000000 || !YAJL_IS_NUMBER(b))
			return -1;
		n = YAJL_GET_DOUBLE(b);
		if (n != floor(n) || n < 0 || n > 100000)
			return -1;
		d->ov_hospital = ps_xrealloc(d->ov_hospital,
			(size_t)(d->nov + 1) * sizeof(int));
		d->ov_beds = ps_xrealloc(d->ov_beds,
			(size_t)(d->nov + 1) * sizeof(int));
		d->ov_hospital[d->nov] = (int)h;
		d->ov_beds[d->nov] = (int)n;
		d->nov++;
	}
	return 0;
}

static int parse_line(struct ps_department *d, const char *p, size_t n,
		      char *why, size_t whylen)
{
	char err[160];
	const char *bad = NULL;
	yajl_val v = ps_json_parse(p, n, err, sizeof(err)), name, em, el, ov;
	double beds = -1;
	int rc = -1;

	if (!v) {
		snprintf(why, whylen, "%s", err);
		return -1;
	}
	memset(d, 0, sizeof(*d));
	d->los_median_hours = 72;
	d->los_sigma = 0.8;
	d->admits_per_day = 5;
	d->via_ed = 0.5;
	d->overstay_hours = 50;
	d->target_load = 0.75;
	name = ps_json_get(v, "department");
	if (!YAJL_IS_OBJECT(v)) {
		snprintf(why, whylen, "not a JSON object");
	} else if (!YAJL_IS_STRING(name) || !*YAJL_GET_STRING(name)) {
		snprintf(why, whylen, "\"department\" must be a non-empty "
			 "string");
	} else if (get_num(v, "beds", 0, 100000, &beds, &bad) ||
		   get_num(v, "los_median_hours", 0.01, 1e5,
			   &d->los_median_hours, &bad) ||
		   get_num(v, "los_sigma", 0, 5, &d->los_sigma, &bad) ||
		   get_num(v, "admits_per_day", 0, 1e6, &d->admits_per_day,
			   &bad) ||
		   get_num(v, "via_ed", 0, 1, &d->via_ed, &bad) ||
		   get_num(v, "overstay_hours", 0, 1e6, &d->overstay_hours,
			   &bad) ||
		   get_num(v, "target_load", 0.01, 10, &d->target_load,
			   &bad) ||
		   get_num(v, "stale_after_hours", 1, 1e6,
			   &d->stale_after_hours, &bad)) {
		snprintf(why, whylen, "\"%s\" is not a number in range", bad);
	} else if (beds != floor(beds)) {
		snprintf(why, whylen, "\"beds\" must be a whole number");
	} else if ((em = ps_json_get(v, "emergency")) &&
		   !YAJL_IS_TRUE(em) && !YAJL_IS_FALSE(em)) {
		snprintf(why, whylen, "\"emergency\" must be true or false");
	} else if ((el = ps_json_get(v, "elective")) &&
		   !YAJL_IS_TRUE(el) && !YAJL_IS_FALSE(el)) {
		snprintf(why, whylen, "\"elective\" must be true or false");
	} else if ((ov = ps_json_get(v, "beds_by_hospital")) &&
		   parse_overrides(d, ov) < 0) {
		snprintf(why, whylen, "\"beds_by_hospital\" must map "
			 "hospital ids to whole numbers of beds, "
			 "{\"2\":10}");
	} else {
		d->beds = beds < 0 ? 0 : (int)beds;
		d->emergency = em && YAJL_IS_TRUE(em);
		d->elective = el && YAJL_IS_TRUE(el);
		d->name = ps_xstrdup(YAJL_GET_STRING(name));
		derive(d, beds >= 0);
		rc = 0;
	}
	if (rc) {
		free(d->ov_hospital);
		free(d->ov_beds);
		d->ov_hospital = d->ov_beds = NULL;
	}
	yajl_tree_free(v);
	return rc;
}

static int add_department(void *ctx, const char *line, size_t n, char *why,
			  size_t whylen)
{
	struct ps_departments *ds = ctx;
	struct ps_department *d;

	ds->d = ps_xrealloc(ds->d, (size_t)(ds->n + 1) * sizeof(*ds->d));
	d = &ds->d[ds->n];
	if (parse_line(d, line, n, why, whylen) < 0)
		return -1;
	if (ps_departments_find(ds, d->name, strlen(d->name)) >= 0) {
		snprintf(why, whylen, "department '%s' listed twice", d->name);
		free(d->name);
		return -1;
	}
	ds->n++;
	return 0;
}

int ps_departments_load(struct ps_departments *ds, const char *path,
			struct ps_error *e)
{
	ds->d = NULL;
	ds->n = 0;
	if (!path) {
		ps_departments_defaults(ds);
		return 0;
	}
	if (ps_ndjson_config(path, add_department, ds, e) < 0) {
		ps_departments_release(ds);
		return -1;
	}
	if (!ds->n) {
		ps_departments_release(ds);
		return ps_error_set(e, PS_EX_CONFIG, "%s: no departments",
				    path);
	}
	return 0;
}

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
 * HEALTHCARE.md's length-of-stay medians and sigmas, and per-hospital beds
 * and volumes chosen so that occupancy sits around 80-90 % (where the
 * bottleneck alerts become interesting).  The emergency department's LOS is
 * the ED stay of a patient sent home; admitted patients stay longer (see
 * lib/simulate.c).
 */
static const struct ps_department builtin[] = {
	/* name, beds, LOS median h, sigma, admits/day, via ED, overstay h */
	{ "Emergency", 28, 2.7, 0.6, 100, 0, 8, 1 },
	{ "Surgery", 60, 84, 0.85, 10, 0.6, 50, 0 },
	{ "ICU", 14, 43.2, 1.13, 3, 1.0, 50, 0 },
	{ "Pediatrics", 32, 60, 0.92, 7, 0.8, 50, 0 },
	{ "Maternity", 26, 48, 0.72, 8, 0.05, 50, 0 },
	{ "Oncology", 38, 108, 0.9, 4.5, 0.6, 50, 0 },
	{ "Cardiology", 50, 84, 0.75, 9, 0.9, 50, 0 },
};

void ps_departments_defaults(struct ps_departments *ds)
{
	int i, n = (int)(sizeof(builtin) / sizeof(builtin[0]));

	ds->d = ps_xcalloc((size_t)n, sizeof(*ds->d));
	ds->n = n;
	for (i = 0; i < n; i++) {
		ds->d[i] = builtin[i];
		ds->d[i].name = ps_xstrdup(builtin[i].name);
	}
}

void ps_departments_release(struct ps_departments *ds)
{
	int i;

	for (i = 0; i < ds->n; i++)
		free(ds->d[i].name);
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

static int parse_line(struct ps_department *d, const char *p, size_t n,
		      char *why, size_t whylen)
{
	char err[160];
	const char *bad = NULL;
	yajl_val v = ps_json_parse(p, n, err, sizeof(err)), name, em;
	double beds = 30;
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
			   &bad)) {
		snprintf(why, whylen, "\"%s\" is not a number in range", bad);
	} else if (beds != floor(beds)) {
		snprintf(why, whylen, "\"beds\" must be a whole number");
	} else if ((em = ps_json_get(v, "emergency")) &&
		   !YAJL_IS_TRUE(em) && !YAJL_IS_FALSE(em)) {
		snprintf(why, whylen, "\"emergency\" must be true or false");
	} else {
		d->beds = (int)beds;
		d->emergency = em && YAJL_IS_TRUE(em);
		d->name = ps_xstrdup(YAJL_GET_STRING(name));
		rc = 0;
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

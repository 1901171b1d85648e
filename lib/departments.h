/*
 * departments.h - the departments file that ps-simulate, ps-silver and
 * ps-gold share: names, bed capacity per hospital, length-of-stay
 * distribution, admission volume and overstay threshold.
 *
 * Format: NDJSON, one department per line; empty lines and lines starting
 * with '#' are skipped.  Only "department" is required:
 *
 *   {"department":"ICU","beds":20,"los_median_hours":43.2,"los_sigma":1.13,
 *    "admits_per_day":4.5,"via_ed":1.0,"overstay_hours":50}
 *
 *   beds              staffed beds per hospital (default: sized for
 *                     target_load, see below)
 *   target_load       the share of the beds the mean demand fills when
 *                     beds is not given (default 0.75: US general
 *                     hospitals run about 75 % full): beds =
 *                     ceil(admits_per_day / 24 x mean LOS in hours /
 *                     target_load), mean LOS = median x exp(sigma^2 / 2)
 *   beds_by_hospital  per-hospital overrides, {"2":10} (hospital_id: beds)
 *   elective          true when direct admissions are planned (elective):
 *                     the simulator cancels them when no bed is free
 *   stale_after_hours an open encounter admitted longer ago than this is
 *                     stale (a lost discharge): ps-gold leaves it out of
 *                     the census and counts it apart (default: median x
 *                     exp(3 sigma), at least 24 h)
 *   los_median_hours  median length of stay, lognormal (default 72)
 *   los_sigma         lognormal sigma (default 0.8)
 *   admits_per_day    admissions per hospital per day (default 5)
 *   via_ed            share of those admissions that come through the
 *                     emergency department, 0..1 (default 0.5)
 *   overstay_hours    length of stay counted as overstay (default 50)
 *   emergency         true for the emergency department itself (the
 *                     built-in table marks "Emergency")
 *
 * Without a file, the built-in table (HEALTHCARE.md's figures and the
 * original lab's seven departments) is used.
 */
#ifndef PS_DEPARTMENTS_H
#define PS_DEPARTMENTS_H

#include <stddef.h>

#include "error.h"

struct ps_department {
	char *name;
	int beds;		/* given, or sized for target_load */
	double los_median_hours;
	double los_sigma;
	double admits_per_day;
	double via_ed;
	double overstay_hours;
	int emergency;
	int elective;
	double target_load;
	double stale_after_hours;
	int *ov_hospital, *ov_beds;	/* beds_by_hospital */
	int nov;
};

/* Staffed beds of department d in hospital hospital_id.  Cannot fail. */
int ps_department_beds(const struct ps_department *d, int hospital_id);

struct ps_departments {
	struct ps_department *d;
	int n;
};

#define PS_DEPARTMENTS_INIT { NULL, 0 }

/* Fill ds with the built-in table.  Cannot fail. */
void ps_departments_defaults(struct ps_departments *ds);

/*
 * Load path (NULL: the built-in table).  Returns 0, or -1 with e filled:
 * 66 when the file cannot be read, 78 for a bad line (the message names
 * the line and the field).  ds is left empty on failure.
 */
int ps_departments_load(struct ps_departments *ds, const char *path,
			struct ps_error *e);

void ps_departments_release(struct ps_departments *ds);

/* Index of the department named name (len bytes), or -1. */
int ps_departments_find(const struct ps_departments *ds, const char *name,
			size_t len);

#endif

/*
 * alerts.h - threshold alerts with hysteresis and persistence, for
 * ps-gold.
 *
 * The thresholds file is NDJSON, one rule a line (empty lines and lines
 * starting with '#' skipped):
 *
 *   {"metric":"occupancy_pct_2h","department":"ICU","warn":85,
 *    "critical":90,"clear_below":80,"min_beds":20}
 *   {"metric":"ed_within_4h_pct","below":true,"warn":60,"critical":50,
 *    "clear_above":65}
 *
 * metric names a KPI column that alerts (ps_gold_alert_sources, lib/gold.h:
 * occupancy_pct, occupancy_pct_2h, free_beds, free_beds_2h,
 * inflow_per_hour, census_stale, wait_p90_minutes, ed_within_4h_pct,
 * boarding_now_over_4h, boarding_p90_minutes, lwbs_pct, ecat_pct).
 * department and hospital_id are optional (absent: any); min_beds and
 * max_beds limit the rule to units with that many staffed beds (so small
 * units can alert on free beds instead of a percentage); warn is required,
 * critical optional (absent: no critical level).  A rule is "above"
 * (a value at or above warn breaches; clear_below, default warn, clears)
 * or, with "below":true, "below" (a value at or below warn breaches;
 * clear_above, default warn, clears); "off":true silences the series it
 * matches (no other member needed).  for_minutes (default 0) makes a
 * rising level wait until the breach has lasted that long by the
 * evaluation clock (as_of).  For each series (metric, department,
 * hospital) the most specific matching rule applies: department and
 * hospital, then department, then hospital, then the default rule (ties:
 * the first in the file).
 *
 * States: ok, warn, critical.  The level only goes down once the value is
 * past the clearing point, and then straight to ok, so a value flapping
 * around a threshold does not spam: one "firing" line when the level
 * rises, one "resolved" line when it clears, and one "resolved" line when
 * the series is no longer reported at all (ps_alerts_sweep: no admissions
 * in the window, a percentile below its minimum sample count).
 */
#ifndef PS_ALERTS_H
#define PS_ALERTS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"

enum ps_alert_level { PS_ALERT_OK = 0, PS_ALERT_WARN, PS_ALERT_CRITICAL };

struct ps_alert_rule {
	char *metric;
	char *department;	/* NULL: any */
	int hospital_id;	/* -1: any */
	int below;		/* low values breach */
	int min_beds, max_beds;	/* -1: no limit */
	double warn, critical;	/* critical: +-HUGE_VAL when absent */
	double clear;		/* clear_below, or clear_above */
	double for_minutes;
	int off;		/* "off":true: this series never alerts */
};

struct ps_alert_state {
	char *key;		/* "metric\x1fdepartment\x1fhospital" */
	int level;
	int64_t since;		/* breach pending since, or INT64_MIN */
	unsigned long round;	/* the last evaluation round that saw it */
	double value;		/* the last value */
};

struct ps_alerts {
	struct ps_alert_rule *r;
	size_t nr;
	struct ps_alert_state *s;	/* sorted by key */
	size_t ns, caps;
	unsigned long round;
};

#define PS_ALERTS_INIT { NULL, 0, NULL, 0, 0, 0 }

/*
 * Load the thresholds file (path NULL: no rules).  Returns 0, or -1 with e
 * filled: 66 unreadable, 78 a bad line (the message names the line).
 */
int ps_alerts_load(struct ps_alerts *a, const char *path,
		   struct ps_error *e);

/* Free everything; a becomes PS_ALERTS_INIT.  Cannot fail. */
void ps_alerts_release(struct ps_alerts *a);

/* The rule that applies to a series of a unit with beds staffed beds
 * (-1: unknown), or NULL. */
const struct ps_alert_rule *ps_alerts_match(const struct ps_alerts *a,
					    const char *metric,
					    const char *department,
					    int hospital_id, int beds);

/* Start an evaluation round (every series fed before the next
 * ps_alerts_sweep counts as reported).  Cannot fail. */
void ps_alerts_begin(struct ps_alerts *a);

/*
 * Feed the current value of a series.  When its level changes, append
 * one alert line (JSON, with newline) to out: {"alert":metric,
 * "state":"firing"|"resolved","level":"warn"|"critical"|"ok",
 * "previous":..,"department":..,"hospital_id":..,"value":..,
 * "threshold":..,"as_of":..}.  Returns 1 when a line was written, else 0.
 * Cannot fail.
 */
int ps_alerts_eval(struct ps_alerts *a, const char *metric,
		   const char *department, int hospital_id, int beds,
		   double value, int64_t as_of, struct ps_buf *out);

/*
 * End a round: every series above ok that was not fed since
 * ps_alerts_begin resolves (a "resolved" line with "value":null and
 * "reason":"not reported").  Returns the number of lines.  Cannot fail.
 */
int ps_alerts_sweep(struct ps_alerts *a, int64_t as_of, struct ps_buf *out);

/* Persist / restore the levels of the series (one "key\tlevel\n" each). */
void ps_alerts_save_state(const struct ps_alerts *a, struct ps_buf *b);
void ps_alerts_load_state(struct ps_alerts *a, const char *p, size_t n);

/* "ok", "warn", "critical". */
const char *ps_alert_level_name(int level);

#endif

/*
 * alerts.h - threshold alerts with hysteresis, for ps-gold.
 *
 * The thresholds file is NDJSON, one rule a line (empty lines and lines
 * starting with '#' skipped):
 *
 *   {"metric":"occupancy_pct","department":"ICU","warn":85,"critical":90,
 *    "clear_below":80}
 *
 * metric is one of occupancy_pct, wait_p90_minutes, inflow_per_hour;
 * department and hospital_id are optional (absent: any); warn is
 * required, critical optional (absent: no critical level) and clear_below
 * optional (default: warn).  For each series (metric, department,
 * hospital) the most specific matching rule applies: department and
 * hospital, then department, then hospital, then the default rule.
 *
 * States: ok, warn, critical.  A value at or above critical makes the
 * series critical, at or above warn makes it at least warn.  The level
 * only goes down when the value falls below clear_below (<= warn), and
 * then straight to ok, so a value flapping around a threshold does not
 * spam: one "firing" line when the level rises, one "resolved" line when
 * it clears.
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
	double warn, critical;	/* critical: HUGE_VAL when absent */
	double clear_below;
};

struct ps_alert_state {
	char *key;		/* "metric\tdepartment\thospital" */
	int level;
};

struct ps_alerts {
	struct ps_alert_rule *r;
	size_t nr;
	struct ps_alert_state *s;	/* sorted by key */
	size_t ns, caps;
};

#define PS_ALERTS_INIT { NULL, 0, NULL, 0, 0 }

/*
 * Load the thresholds file (path NULL: no rules).  Returns 0, or -1 with e
 * filled: 66 unreadable, 78 a bad line (the message names the line).
 */
int ps_alerts_load(struct ps_alerts *a, const char *path,
		   struct ps_error *e);

/* Free everything; a becomes PS_ALERTS_INIT.  Cannot fail. */
void ps_alerts_release(struct ps_alerts *a);

/* The rule that applies to a series, or NULL. */
const struct ps_alert_rule *ps_alerts_match(const struct ps_alerts *a,
					    const char *metric,
					    const char *department,
					    int hospital_id);

/*
 * Feed the current value of a series.  When its level changes, append
 * one alert line (JSON, with newline) to out: {"alert":metric,
 * "state":"firing"|"resolved","level":"warn"|"critical","department":..,
 * "hospital_id":..,"value":..,"threshold":..,"as_of":..}.  Returns 1 when
 * a line was written, else 0.  Cannot fail.
 */
int ps_alerts_eval(struct ps_alerts *a, const char *metric,
		   const char *department, int hospital_id, double value,
		   int64_t as_of, struct ps_buf *out);

/* Persist / restore the levels of the series (one "key\tlevel\n" each). */
void ps_alerts_save_state(const struct ps_alerts *a, struct ps_buf *b);
void ps_alerts_load_state(struct ps_alerts *a, const char *p, size_t n);

/* "ok", "warn", "critical". */
const char *ps_alert_level_name(int level);

#endif

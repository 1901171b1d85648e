/*
 * simulate.h - patient events for PulseStream (ps-simulate).
 *
 * Two models:
 *  - compat: the original lab's generator (HEALTHCARE.md): one event per
 *    simulated second, seven departments, Male/Female, ages 1-100, beds
 *    1-500, admission 0-72 h before the simulated "now", discharge 1-72 h
 *    after admission, whole-hour offsets;
 *  - realistic: a discrete-event simulation per hospital: diurnal ED
 *    arrivals by thinning, ESI triage, ED disposition, direct admissions,
 *    lognormal length of stay per department, beds with capacity and
 *    queues (so waiting times and occupancy mean something), and lifecycle
 *    events: ADMIT and later DISCHARGE of the same encounter_id, each with
 *    its own event_id.
 * Dirty data is injected by kind at a configurable rate (see ps_dirty_*).
 * Output is a pure function of the options when a seed is given.
 */
#ifndef PS_SIMULATE_H
#define PS_SIMULATE_H

#include <stddef.h>
#include <stdint.h>

#include "departments.h"
#include "error.h"
#include "progress.h"

enum ps_sim_model {
	PS_SIM_COMPAT = 0,
	PS_SIM_REALISTIC = 1,
};

enum ps_dirty_kind {
	PS_DIRTY_INVALID_AGE = 0,
	PS_DIRTY_FUTURE_ADMISSION,
	PS_DIRTY_MISSING_FIELD,
	PS_DIRTY_WRONG_TYPE,
	PS_DIRTY_MALFORMED_JSON,
	PS_DIRTY_DUPLICATE,
	PS_DIRTY_LATE,
	PS_DIRTY_UNKNOWN_DEPARTMENT,
	PS_DIRTY_DISCHARGE_BEFORE_ADMISSION,
	PS_DIRTY_NKINDS
};

/* What a line is: a JSON event, an HL7 v2 ADT message, a FHIR Bundle. */
enum ps_sim_format {
	PS_SIM_JSON = 0,
	PS_SIM_HL7 = 1,
	PS_SIM_FHIR = 2,
};

/* Receives output bytes; returns 0, or -1 to stop (e.g. write error). */
typedef int (*ps_sim_write_fn)(void *ctx, const char *p, size_t n);

struct ps_sim_opts {
	enum ps_sim_model model;
	enum ps_sim_format format;	/* hl7, fhir: lib/simfeed.h; the
					   dirty kinds wrong_type and
					   malformed_json apply to JSON */
	long long count;	/* lines to write; < 0: no limit */
	double rate;		/* lines per wall-clock second; 0: unpaced */
	double speed;		/* simulated seconds per wall second; 0: off */
	uint64_t seed;
	int64_t start;		/* simulated clock start, microseconds UTC */
	int hospitals;		/* >= 1 */
	long long patients;	/* realistic: population size */
	double warmup_days;	/* realistic: simulated before start */
	const struct ps_departments *departments;
	double dirty[PS_DIRTY_NKINDS];	/* probability per event */
	volatile int *stop;	/* stop cleanly when *stop is set */
	struct ps_progress *progress;	/* counter 0 counts lines, or NULL */
};

/* Defaults: compat model, unlimited, 7 hospitals, compat dirty rates. */
void ps_sim_opts_init(struct ps_sim_opts *o);

/*
 * Generate events as NDJSON through write.  Returns 0 when done (count
 * reached, *stop set, or write returned -1 -- the caller tells those apart),
 * or -1 with e filled for bad options (78).
 */
int ps_simulate(const struct ps_sim_opts *o, ps_sim_write_fn write,
		void *ctx, struct ps_error *e);

/*
 * The simulated time count lines are expected to span, in microseconds:
 * exact for the compat model, 10 % over the mean of the arrival processes
 * for the realistic one.  Used to end an unpaced batch at the present.
 */
int64_t ps_sim_expected_span(const struct ps_sim_opts *o, long long count);

/* "invalid_age", ...; NULL for an unknown kind. */
const char *ps_dirty_name(int kind);
/* One-line description of a kind, for help and docs. */
const char *ps_dirty_help(int kind);

/*
 * Parse "KIND=RATE,KIND=RATE" (rates 0..1, or a percentage "5%"), "none"
 * (all zero) or "compat" (the original's 5 % + 5 %) into rates, changing
 * only the kinds named.  Returns 0, or -1 with a message in e (64).
 */
int ps_dirty_parse(const char *spec, double *rates, struct ps_error *e);

#endif

/* ps-simulate - patient admission events as NDJSON on stdout. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "cli.h"
#include "departments.h"
#include "log.h"
#include "progress.h"
#include "pstime.h"
#include "simulate.h"
#include "banned.h"

enum {
	OPT_SPEED = 256, OPT_START, OPT_HOSPITALS, OPT_DEPARTMENTS, OPT_DIRTY,
	OPT_PATIENTS, OPT_WARMUP, OPT_FORMAT,
};

static const struct ps_option options[] = {
	{ "count", 'n', "N", "stop after N lines (default: no limit)" },
	{ "rate", 'r', "R", "pace output at R lines per second" },
	{ "speed", OPT_SPEED, "X", "pace by the simulated clock, X simulated "
	  "seconds per second" },
	{ "seed", 's', "S", "random seed: same seed, same bytes" },
	{ "start", OPT_START, "TIME", "simulated clock start (default: a "
	  "batch ends now; 2025-01-01T00:00:00Z with --seed)" },
	{ "model", 'm', "MODEL", "compat (default) or realistic" },
	{ "hospitals", OPT_HOSPITALS, "N", "number of hospitals (default 7)" },
	{ "departments", OPT_DEPARTMENTS, "FILE", "departments file (NDJSON)" },
	{ "dirty", OPT_DIRTY, "SPEC", "dirty data: KIND=RATE,... or none or "
	  "compat (default)" },
	{ "patients", OPT_PATIENTS, "N", "realistic: patient population "
	  "(default 1000000)" },
	{ "warmup", OPT_WARMUP, "DAYS", "realistic: days simulated before "
	  "the start (default 14)" },
	{ "format", OPT_FORMAT, "FMT", "json (default), hl7 (ADT messages) "
	  "or fhir (Bundles)" },
	{ NULL, 0, NULL, NULL },
};

static const struct ps_tool tool = {
	"ps-simulate", "[OPTIONS]",
	"Simulate hospital patient events as NDJSON on standard output.",
	options, 0,
	"Dirty kinds: invalid_age, future_admission, missing_field, "
	"wrong_type,\nmalformed_json, duplicate, late, unknown_department, "
	"discharge_before_admission.",
};

struct args {
	struct ps_sim_opts sim;
	const char *departments;
	int seeded, started;
};

static int on_option(void *ctx, int key, const char *arg, struct ps_error *e)
{
	struct args *a = ctx;
	long long v;

	switch (key) {
	case 'n':
		return ps_opt_ll("--count", arg, 0, LLONG_MAX, &a->sim.count, e);
	case 'r':
		return ps_opt_double("--rate", arg, 1e-6, 1e9, &a->sim.rate, e);
	case OPT_SPEED:
		return ps_opt_double("--speed", arg, 1e-6, 1e12, &a->sim.speed,
				     e);
	case 's':
		a->seeded = 1;
		if (ps_opt_ll("--seed", arg, 0, LLONG_MAX, &v, e) < 0)
			return -1;
		a->sim.seed = (uint64_t)v;
		return 0;
	case OPT_START:
		a->started = 1;
		return ps_opt_time("--start", arg, &a->sim.start, e);
	case 'm':
		if (!strcmp(arg, "compat"))
			a->sim.model = PS_SIM_COMPAT;
		else if (!strcmp(arg, "realistic"))
			a->sim.model = PS_SIM_REALISTIC;
		else
			return ps_error_set(e, 64, "--model: expected compat or "
					    "realistic, not '%s'", arg);
		return 0;
	case OPT_HOSPITALS:
		return ps_opt_int("--hospitals", arg, 1, 100000,
				  &a->sim.hospitals, e);
	case OPT_DEPARTMENTS:
		a->departments = arg;
		return 0;
	case OPT_DIRTY:
		return ps_dirty_parse(arg, a->sim.dirty, e);
	case OPT_PATIENTS:
		return ps_opt_ll("--patients", arg, 1, 0xffffffffLL,
				 &a->sim.patients, e);
	case OPT_FORMAT:
		if (!strcmp(arg, "json"))
			a->sim.format = PS_SIM_JSON;
		else if (!strcmp(arg, "hl7"))
			a->sim.format = PS_SIM_HL7;
		else if (!strcmp(arg, "fhir"))
			a->sim.format = PS_SIM_FHIR;
		else
			return ps_error_set(e, 64, "--format: expected json, "
					    "hl7 or fhir, not '%s'", arg);
		return 0;
	case OPT_WARMUP:
		return ps_opt_double("--warmup", arg, 0, 3650,
				     &a->sim.warmup_days, e);
	}
	return ps_error_set(e, 64, "unhandled option");
}

static int write_out(void *ctx, const char *p, size_t n)
{
	if (ps_stdout_out(ctx, p, n) || ps_stdout_out(ctx, NULL, 0))
		return -1;	/* ps_close_stdout tells gone from failed */
	return 0;
}

int main(int argc, char **argv)
{
	struct args a;
	struct ps_common c;
	struct ps_departments deps = PS_DEPARTMENTS_INIT;
	struct ps_error e = { 0, "" };
	struct ps_counter lines = { "lines", 0 };
	struct ps_progress progress;
	int rc, argi;

	ps_init("ps-simulate");
	memset(&a, 0, sizeof(a));
	ps_sim_opts_init(&a.sim);
	rc = ps_cli_parse(&tool, argc, argv, on_option, &a, &c, &argi);
	if (rc != PS_CONTINUE)
		return rc;
	if (argi < argc)
		return ps_cli_misuse(&tool, "unexpected argument '%s'",
				     argv[argi]);
	if (a.sim.rate > 0 && a.sim.speed > 0)
		return ps_cli_misuse(&tool, "--rate and --speed cannot be "
				     "combined");
	if (!a.seeded && getrandom(&a.sim.seed, sizeof(a.sim.seed), 0) !=
	    (ssize_t)sizeof(a.sim.seed))
		a.sim.seed = (uint64_t)ps_time_now();
	if (ps_departments_load(&deps, a.departments, &e) < 0) {
		ps_log(PS_ERROR, e.msg);
		return e.code;
	}
	a.sim.departments = &deps;
	if (!a.started) {
		if (a.seeded)
			ps_time_parse("2025-01-01T00:00:00Z", 20, &a.sim.start,
				      NULL);
		else
			a.sim.start = ps_time_now() / PS_USEC_PER_SEC *
				      PS_USEC_PER_SEC;
		/*
		 * A batch produced as fast as possible ends at the start
		 * time instead of running days into the future.
		 */
		if (!a.seeded && a.sim.count >= 0 && a.sim.rate <= 0 &&
		    a.sim.speed <= 0)
			a.sim.start -= ps_sim_expected_span(&a.sim,
							    a.sim.count);
	}
	a.sim.stop = ps_stop_flag();
	ps_progress_init(&progress, &lines, 1);
	a.sim.progress = &progress;
	rc = ps_simulate(&a.sim, write_out, NULL, &e) < 0 ? e.code : 0;
	if (rc)
		ps_log(PS_ERROR, e.msg);
	else if (!ps_stdout_gone())
		ps_progress_done(&progress, "done");
	ps_departments_release(&deps);
	return ps_close_stdout(rc);
}

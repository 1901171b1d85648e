/* simulate.c - see simulate.h. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "json.h"
#include "log.h"
#include "pstime.h"
#include "rand.h"
#include "simfeed.h"
#include "simulate.h"
#include "banned.h"

#define HOUR (3600LL * PS_USEC_PER_SEC)
#define MINUTE (60LL * PS_USEC_PER_SEC)
#define DAY PS_USEC_PER_DAY
#define FLUSH_AT (64 * 1024)

/* ---- dirty kinds ------------------------------------------------------ */

static const struct {
	const char *name;
	const char *help;
} dirty_kinds[PS_DIRTY_NKINDS] = {
	{ "invalid_age", "age replaced by 101-150" },
	{ "future_admission",
	  "admission (and discharge) moved 1-72 h after the event's clock" },
	{ "missing_field", "one required field left out" },
	{ "wrong_type",
	  "age or hospital_id as a string, or admission_time as a number" },
	{ "malformed_json", "the line cut short: not valid JSON" },
	{ "duplicate", "the same line sent again 1-100 lines later" },
	{ "late", "the line held back and sent 1-1000 lines later" },
	{ "unknown_department", "a department missing from the table" },
	{ "discharge_before_admission",
	  "discharge moved 1-24 h before admission" },
};

const char *ps_dirty_name(int kind)
{
	return kind >= 0 && kind < PS_DIRTY_NKINDS ? dirty_kinds[kind].name
						   : NULL;
}

const char *ps_dirty_help(int kind)
{
	return kind >= 0 && kind < PS_DIRTY_NKINDS ? dirty_kinds[kind].help
						   : NULL;
}

static void compat_rates(double *rates)
{
	int k;

	for (k = 0; k < PS_DIRTY_NKINDS; k++)
		rates[k] = 0;
	rates[PS_DIRTY_INVALID_AGE] = 0.05;
	rates[PS_DIRTY_FUTURE_ADMISSION] = 0.05;
}

int ps_dirty_parse(const char *spec, double *rates, struct ps_error *e)
{
	const char *p = spec;

	if (!strcmp(spec, "none")) {
		memset(rates, 0, sizeof(double) * PS_DIRTY_NKINDS);
		return 0;
	}
	if (!strcmp(spec, "compat")) {
		compat_rates(rates);
		return 0;
	}
	while (*p) {
		const char *eq = strchr(p, '='), *end = strchr(p, ',');
		char num[32], *stop;
		size_t klen, nlen;
		double v;
		int k;

		if (!end)
			end = p + strlen(p);
		if (!eq || eq > end)
			return ps_error_set(e, PS_EX_USAGE, "--dirty: expected "
					    "KIND=RATE in '%.*s'",
					    (int)(end - p), p);
		klen = (size_t)(eq - p);
		for (k = 0; k < PS_DIRTY_NKINDS; k++)
			if (strlen(dirty_kinds[k].name) == klen &&
			    !memcmp(dirty_kinds[k].name, p, klen))
				break;
		if (k == PS_DIRTY_NKINDS)
			return ps_error_set(e, PS_EX_USAGE, "--dirty: unknown "
					    "kind '%.*s'", (int)klen, p);
		nlen = (size_t)(end - eq - 1);
		if (!nlen || nlen >= sizeof(num))
			return ps_error_set(e, PS_EX_USAGE, "--dirty: bad rate "
					    "for %s", dirty_kinds[k].name);
		memcpy(num, eq + 1, nlen);
		num[nlen] = '\0';
		errno = 0;
		v = strtod(num, &stop);
		if (stop != num && *stop == '%' && !stop[1]) {
			v /= 100;
			stop++;
		}
		if (stop == num || *stop || errno || !(v >= 0 && v <= 1))
			return ps_error_set(e, PS_EX_USAGE, "--dirty: rate for "
					    "%s must be 0..1 or 0%%..100%%, "
					    "not '%s'", dirty_kinds[k].name,
					    num);
		rates[k] = v;
		p = *end ? end + 1 : end;
	}
	return 0;
}

void ps_sim_opts_init(struct ps_sim_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->model = PS_SIM_COMPAT;
	o->count = -1;
	o->hospitals = 7;
	o->patients = 1000000;
	o->warmup_days = 14;
	compat_rates(o->dirty);
}

/* ---- output: pacing, held lines, dirty injection ---------------------- */

struct held {
	long long due;		/* emit once this many lines are out */
	long long seq;
	char *p;
	size_t n;
};

enum ev_type { EV_NONE = 0, EV_ADMIT, EV_DISCHARGE, EV_ARRIVAL, EV_TRIAGE,
	       EV_SEEN, EV_DECISION, EV_TRANSFER, EV_LWBS };

static const char *const ev_type_json[] = {
	"\"ADMIT\"", "\"ADMIT\"", "\"DISCHARGE\"", "\"ARRIVAL\"",
	"\"TRIAGE\"", "\"SEEN\"", "\"DECISION\"", "\"TRANSFER\"",
	"\"LWBS\"",
};

/* The same, unquoted (lib/simfeed.h). */
static const char *const ev_type_name[] = {
	"ADMIT", "ADMIT", "DISCHARGE", "ARRIVAL", "TRIAGE", "SEEN", "DECISION",
	"TRANSFER", "LWBS",
};

/* ED dispositions (the disposition field), 0: none. */
enum { DISP_NONE = 0, DISP_HOME, DISP_ADMITTED, DISP_TRANSFERRED,
       DISP_LWBS };
static const char *const disp_json[] = {
	"null", "\"HOME\"", "\"ADMITTED\"", "\"TRANSFERRED\"", "\"LWBS\"",
};
static const char *const disp_name[] = {
	NULL, "HOME", "ADMITTED", "TRANSFERRED", "LWBS",
};

struct ev {
	enum ev_type type;
	uint64_t event_id, encounter_id, patient_id;
	int gender;		/* 0 Male, 1 Female */
	int age;
	int dept;
	int hospital;
	int bed;
	int triage;		/* 0: none */
	int disposition;	/* DISP_* */
	int64_t event_time, arrival, admission, discharge;	/* or NONE */
	int64_t seen, decision;	/* or NONE */
};

#define NONE INT64_MIN

struct sim {
	const struct ps_sim_opts *o;
	const struct ps_departments *dep;
	struct ps_rand r;	/* the events themselves */
	struct ps_rand dr;	/* dirty decisions: a stream of its own */
	ps_sim_write_fn write;
	void *ctx;
	struct ps_buf out, line;
	long long emitted;	/* lines handed to out */
	long long seq;
	double t0;		/* wall clock (monotonic) at start */
	int failed;		/* write returned -1 */
	struct held *held;
	size_t nheld, capheld;
};

static int stopping(struct sim *s)
{
	return s->failed || (s->o->stop && *s->o->stop);
}

static int limit_reached(struct sim *s)
{
	return s->o->count >= 0 &&
	       s->emitted + (long long)s->nheld >= s->o->count;
}

static void flush_out(struct sim *s)
{
	if (s->out.len && !s->failed && s->write(s->ctx, s->out.data,
						 s->out.len) < 0)
		s->failed = 1;
	ps_buf_reset(&s->out);
}

static void sleep_until(struct sim *s, double due)
{
	for (;;) {
		double now = ps_mono(), d = due - now;
		struct timespec ts;

		if (d <= 0 || stopping(s))
			return;
		if (d > 0.25)
			d = 0.25;	/* wake up to look at the stop flag */
		ts.tv_sec = (time_t)d;
		ts.tv_nsec = (long)((d - (double)ts.tv_sec) * 1e9);
		nanosleep(&ts, NULL);
	}
}

/* Hand one line to the output, pacing it when --rate or --speed is set. */
static void put_line(struct sim *s, const char *p, size_t n, int64_t simt)
{
	const struct ps_sim_opts *o = s->o;
	double due = -1;

	if (o->rate > 0)
		due = s->t0 + (double)s->emitted / o->rate;
	else if (o->speed > 0 && simt != NONE)
		due = s->t0 + (double)(simt - o->start) / 1e6 / o->speed;
	if (due > 0 && due > ps_mono()) {
		flush_out(s);
		sleep_until(s, due);
	}
	ps_buf_add(&s->out, p, n);
	s->emitted++;
	if (o->progress) {
		o->progress->c[0].value++;
		ps_progress_tick(o->progress);
	}
	if (s->out.len >= FLUSH_AT || o->rate > 0 || o->speed > 0)
		flush_out(s);
}

static void held_swap(struct held *a, struct held *b)
{
	struct held t = *a;

	*a = *b;
	*b = t;
}

static int held_less(const struct held *a, const struct held *b)
{
	return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static void hold(struct sim *s, const char *p, size_t n, long long delay)
{
	size_t i;

	if (s->nheld == s->capheld) {
		s->capheld = s->capheld ? s->capheld * 2 : 64;
		s->held = ps_xrealloc(s->held, s->capheld * sizeof(*s->held));
	}
	i = s->nheld++;
	s->held[i].due = s->emitted + delay;
	s->held[i].seq = s->seq++;
	s->held[i].p = ps_xmemdup(p, n);
	s->held[i].n = n;
	while (i && held_less(&s->held[i], &s->held[(i - 1) / 2])) {
		held_swap(&s->held[i], &s->held[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
}

static void pop_held(struct sim *s, int64_t simt)
{
	struct held h = s->held[0];
	size_t i = 0;

	s->held[0] = s->held[--s->nheld];
	for (;;) {
		size_t l = 2 * i + 1, m = i;

		if (l < s->nheld && held_less(&s->held[l], &s->held[m]))
			m = l;
		if (l + 1 < s->nheld && held_less(&s->held[l + 1], &s->held[m]))
			m = l + 1;
		if (m == i)
			break;
		held_swap(&s->held[i], &s->held[m]);
		i = m;
	}
	put_line(s, h.p, h.n, simt);
	free(h.p);
}

static void release_due(struct sim *s, int64_t simt)
{
	while (s->nheld && s->held[0].due <= s->emitted && !stopping(s))
		pop_held(s, simt);
}


/* A UUID (version 4 layout) derived from x, quoted; ids are stable per
 * seed. */
static void add_uuid(struct ps_buf *b, uint64_t x)
{
	char u[36];

	simfeed_uuid(u, x);
	ps_buf_addc(b, '"');
	ps_buf_add(b, u, 36);
	ps_buf_addc(b, '"');
}

static void add_time(struct ps_buf *b, int64_t t)
{
	char ts[PS_TIME_MAX];
	size_t n;

	if (t == NONE) {
		ps_buf_add(b, "null", 4);
		return;
	}
	ts[0] = '"';
	n = ps_time_format(t, ts + 1, -1);
	ts[n + 1] = '"';
	ps_buf_add(b, ts, n + 2);
}

enum field {
	F_EVENT_ID, F_EVENT_TYPE, F_EVENT_TIME, F_ENCOUNTER_ID, F_PATIENT_ID,
	F_GENDER, F_AGE, F_DEPARTMENT, F_HOSPITAL_ID, F_BED_ID,
	F_ARRIVAL_TIME, F_ADMISSION_TIME, F_DISCHARGE_TIME, F_TRIAGE,
	F_SEEN_TIME, F_DECISION_TIME, F_DISPOSITION,
	F_END = -1
};

static const char *const field_keys[] = {
	"\"event_id\":", "\"event_type\":", "\"event_time\":",
	"\"encounter_id\":", "\"patient_id\":", "\"gender\":", "\"age\":",
	"\"department\":", "\"hospital_id\":", "\"bed_id\":",
	"\"arrival_time\":", "\"admission_time\":", "\"discharge_time\":",
	"\"triage_level\":", "\"seen_time\":", "\"decision_time\":",
	"\"disposition\":",
};

/* The original lab's field order, and the realistic model's. */
static const enum field compat_fields[] = {
	F_PATIENT_ID, F_GENDER, F_AGE, F_DEPARTMENT, F_ADMISSION_TIME,
	F_DISCHARGE_TIME, F_BED_ID, F_HOSPITAL_ID, F_END
};
static const enum field realistic_fields[] = {
	F_EVENT_ID, F_EVENT_TYPE, F_EVENT_TIME, F_ENCOUNTER_ID, F_PATIENT_ID,
	F_GENDER, F_AGE, F_DEPARTMENT, F_HOSPITAL_ID, F_BED_ID,
	F_ARRIVAL_TIME, F_ADMISSION_TIME, F_DISCHARGE_TIME, F_TRIAGE,
	F_SEEN_TIME, F_DECISION_TIME, F_DISPOSITION, F_END
};

/* Fields missing_field may drop, and those wrong_type may mistype. */
static const enum field required_fields[] = {
	F_PATIENT_ID, F_GENDER, F_AGE, F_DEPARTMENT, F_ADMISSION_TIME,
	F_HOSPITAL_ID
};
static const enum field typed_fields[] = {
	F_AGE, F_HOSPITAL_ID, F_ADMISSION_TIME
};

static const char *const unknown_departments[] = {
	"Radiology", "Neurology", "Psychiatry", "Dermatology"
};

static void format_event(struct sim *s, const struct ev *v,
			 const unsigned *dirty, enum field missing,
			 enum field mistyped)
{
	struct ps_buf *b = &s->line;
	const enum field *f = s->o->model == PS_SIM_COMPAT ? compat_fields
							   : realistic_fields;
	const char *name;
	int first = 1;

	ps_buf_reset(b);
	ps_buf_addc(b, '{');
	for (; *f != F_END; f++) {
		if (*f == missing)
			continue;
		if (!first)
			ps_buf_addc(b, ',');
		first = 0;
		ps_buf_adds(b, field_keys[*f]);
		switch (*f) {
		case F_EVENT_ID:
			add_uuid(b, v->event_id);
			break;
		case F_EVENT_TYPE:
			ps_buf_adds(b, ev_type_json[v->type]);
			break;
		case F_EVENT_TIME:
			add_time(b, v->event_time);
			break;
		case F_ENCOUNTER_ID:
			add_uuid(b, v->encounter_id);
			break;
		case F_PATIENT_ID:
			add_uuid(b, v->patient_id);
			break;
		case F_GENDER:
			ps_buf_adds(b, v->gender ? "\"Female\"" : "\"Male\"");
			break;
		case F_AGE:
			if (mistyped == F_AGE) {
				ps_buf_addc(b, '"');
				ps_buf_add_i64(b, v->age);
				ps_buf_addc(b, '"');
			} else {
				ps_buf_add_i64(b, v->age);
			}
			break;
		case F_DEPARTMENT:
			name = *dirty & 1u << PS_DIRTY_UNKNOWN_DEPARTMENT ?
			       unknown_departments[v->event_id & 3] :
			       s->dep->d[v->dept].name;
			ps_json_add_str(b, name, strlen(name));
			break;
		case F_HOSPITAL_ID:
			if (mistyped == F_HOSPITAL_ID)
				ps_buf_addc(b, '"');
			ps_buf_add_i64(b, v->hospital);
			if (mistyped == F_HOSPITAL_ID)
				ps_buf_addc(b, '"');
			break;
		case F_BED_ID:
			if (v->bed > 0)
				ps_buf_add_i64(b, v->bed);
			else
				ps_buf_add(b, "null", 4);
			break;
		case F_ARRIVAL_TIME:
			add_time(b, v->arrival);
			break;
		case F_ADMISSION_TIME:
			if (mistyped == F_ADMISSION_TIME)
				ps_buf_add_i64(b, v->admission / PS_USEC_PER_SEC);
			else
				add_time(b, v->admission);
			break;
		case F_DISCHARGE_TIME:
			add_time(b, v->discharge);
			break;
		case F_TRIAGE:
			if (v->triage)
				ps_buf_add_i64(b, v->triage);
			else
				ps_buf_add(b, "null", 4);
			break;
		case F_SEEN_TIME:
			add_time(b, v->seen);
			break;
		case F_DECISION_TIME:
			add_time(b, v->decision);
			break;
		case F_DISPOSITION:
			ps_buf_adds(b, disp_json[v->disposition]);
			break;
		default:
			break;
		}
	}
	ps_buf_add(b, "}\n", 2);
}

/* The event as an HL7 v2 message or a FHIR Bundle (lib/simfeed.h). */
static void format_feed(struct sim *s, const struct ev *v, unsigned dirty,
			enum field missing)
{
	struct simfeed_ev f;

	memset(&f, 0, sizeof(f));
	f.type = ev_type_name[v->type];
	f.disposition = disp_name[v->disposition];
	f.seen = v->seen;
	f.decision = v->decision;
	f.event_id = v->event_id;
	f.encounter_id = v->encounter_id;
	f.patient_id = v->patient_id;
	f.female = v->gender;
	f.age = v->age;
	f.hospital = v->hospital;
	f.bed = v->bed;
	f.triage = v->triage;
	f.department = dirty & 1u << PS_DIRTY_UNKNOWN_DEPARTMENT ?
		       unknown_departments[v->event_id & 3] :
		       s->dep->d[v->dept].name;
	f.event_time = v->event_time;
	f.arrival = v->arrival;
	f.admission = v->admission;
	f.discharge = v->discharge;
	f.omit = missing == F_PATIENT_ID ? SIMFEED_NO_PATIENT :
		 missing == F_GENDER ? SIMFEED_NO_GENDER :
		 missing == F_AGE ? SIMFEED_NO_AGE :
		 missing == F_DEPARTMENT ? SIMFEED_NO_DEPARTMENT :
		 missing == F_ADMISSION_TIME ? SIMFEED_NO_ADMISSION :
		 missing == F_HOSPITAL_ID ? SIMFEED_NO_HOSPITAL : 0;
	ps_buf_reset(&s->line);
	if (s->o->format == PS_SIM_HL7)
		simfeed_hl7(&s->line, &f);
	else
		simfeed_fhir(&s->line, &f);
}

/*
 * Emit one event, injecting dirty kinds.  now is the simulated clock the
 * event is produced at (used by future_admission and pacing).
 */
static void emit(struct sim *s, struct ev v, int64_t now)
{
	const double *rate = s->o->dirty;
	unsigned dirty = 0;
	enum field missing = F_END, mistyped = F_END;
	int k;

	/* One decision per kind, always drawn, so streams stay aligned. */
	for (k = 0; k < PS_DIRTY_NKINDS; k++) {
		double u = ps_rand_double(&s->dr);

		if (u < rate[k])
			dirty |= 1u << k;
	}
	/*
	 * Registration errors happen when a patient arrives or is admitted:
	 * the later events of an encounter come from the ADT system and keep
	 * only the delivery faults (duplicate, late) and a discharge's own
	 * kind.
	 */
	if (v.type != EV_NONE && v.type != EV_ADMIT && v.type != EV_ARRIVAL)
		dirty &= 1u << PS_DIRTY_DUPLICATE | 1u << PS_DIRTY_LATE |
			 1u << PS_DIRTY_DISCHARGE_BEFORE_ADMISSION;
	if (dirty & 1u << PS_DIRTY_INVALID_AGE)
		v.age = (int)ps_rand_range(&s->dr, 101, 150);
	if (dirty & 1u << PS_DIRTY_FUTURE_ADMISSION) {
		int64_t shift = now + ps_rand_range(&s->dr, 1, 72) * HOUR -
				v.admission;

		v.admission += shift;
		if (v.discharge != NONE)
			v.discharge += shift;
	}
	if (dirty & 1u << PS_DIRTY_DISCHARGE_BEFORE_ADMISSION &&
	    v.discharge != NONE)
		v.discharge = v.admission - ps_rand_range(&s->dr, 1, 24) * HOUR;
	if (dirty & 1u << PS_DIRTY_MISSING_FIELD)
		missing = required_fields[ps_rand_below(&s->dr, 6)];
	if (dirty & 1u << PS_DIRTY_WRONG_TYPE) {
		mistyped = typed_fields[ps_rand_below(&s->dr, 3)];
		if (mistyped == missing)
			mistyped = F_END;
	}
	if (s->o->format != PS_SIM_JSON) {
		format_feed(s, &v, dirty, missing);
		dirty &= ~(1u << PS_DIRTY_MALFORMED_JSON);
	} else {
		format_event(s, &v, &dirty, missing, mistyped);
	}
	if (dirty & 1u << PS_DIRTY_MALFORMED_JSON && s->line.len > 4) {
		/* Cut before the closing brace: never valid JSON. */
		size_t keep = 1 + ps_rand_below(&s->dr,
						(uint32_t)(s->line.len - 3));

		s->line.len = keep;
		ps_buf_addc(&s->line, '\n');
	}
	if (dirty & 1u << PS_DIRTY_LATE && !limit_reached(s))
		hold(s, s->line.data, s->line.len, ps_rand_range(&s->dr, 1, 1000));
	else
		put_line(s, s->line.data, s->line.len, now);
	if (dirty & 1u << PS_DIRTY_DUPLICATE && !limit_reached(s))
		hold(s, s->line.data, s->line.len, ps_rand_range(&s->dr, 1, 100));
	release_due(s, now);
}

/* ---- compat model ----------------------------------------------------- */

static void run_compat(struct sim *s)
{
	const struct ps_sim_opts *o = s->o;
	int64_t step = o->rate > 0 ? (int64_t)(1e6 / o->rate) : PS_USEC_PER_SEC;
	int64_t now = o->start;
	uint64_t n = 0;

	while (!limit_reached(s) && !stopping(s)) {
		struct ev v;

		memset(&v, 0, sizeof(v));
		v.event_time = v.arrival = NONE;
		v.patient_id = ps_rand_u64(&s->r);
		v.admission = now - ps_rand_range(&s->r, 0, 72) * HOUR;
		v.discharge = v.admission + ps_rand_range(&s->r, 1, 72) * HOUR;
		v.age = (int)ps_rand_range(&s->r, 1, 100);
		v.gender = (int)ps_rand_below(&s->r, 2);
		v.dept = (int)ps_rand_below(&s->r, (uint32_t)s->dep->n);
		v.bed = (int)ps_rand_range(&s->r, 1, 500);
		v.hospital = (int)ps_rand_range(&s->r, 1, o->hospitals);
		v.event_id = n++;
		emit(s, v, now);
		now += step;
	}
}

/* ---- realistic model -------------------------------------------------- */

/* ED arrivals by hour of day, percent of the day (HEALTHCARE.md). */
static const double ed_share[24] = {
	2.4, 2.0, 1.8, 1.5, 1.4, 1.7, 2.4, 3.5, 4.8, 5.7, 6.1, 6.1,
	5.9, 5.7, 5.7, 5.7, 5.7, 5.7, 5.5, 5.3, 4.8, 4.2, 3.5, 2.8
};
/* ESI 1..5 (HEALTHCARE.md). */
static const double esi_share[5] = { 5.6, 15.2, 59.9, 17.7, 1.7 };
/* Age groups of the population: 0-17, 18-44, 45-64, 65-79, 80-99. */
static const double age_share[5] = { 15, 30, 27, 18, 10 };
static const int age_lo[5] = { 0, 18, 45, 65, 80 };
static const int age_hi[5] = { 17, 44, 64, 79, 99 };

#define DIRECT_FIRST_HOUR 7	/* direct admissions 07:00-19:00 */
#define DIRECT_HOURS 12
#define TRANSFER_OUT 0.008	/* ED patients transferred elsewhere */
#define MAX_LOS (60LL * DAY)
/*
 * The emergency department's timeline (HEALTHCARE.md): door to triage
 * about 8 minutes; then a treatment space (seen) when one is free, ESI 1-2
 * first; patients sent home leave after a lognormal treatment (median
 * 2.2 h, so that the ED stay of a discharged patient has a median near
 * 2.7 h); admitted patients get a decision to admit after a median 3.5 h
 * (ED stay to departure about 4.7 h before boarding) and keep their ED
 * space while they board, until a ward bed is free.  ESI 3-5 patients
 * still waiting after their patience (30 min plus an exponential of mean
 * 4 h) leave without being seen.  A ward patient waiting 4 h for a bed
 * is placed in another adult ward with a free bed (an outlier); an
 * elective admission finding its ward full is cancelled.
 */
#define TRIAGE_MEDIAN_H (8.0 / 60)
#define TREAT_HOME_MEDIAN_H 2.2
#define TREAT_ADMIT_MEDIAN_H 3.5
#define PATIENCE_MIN (30 * MINUTE)
#define PATIENCE_MEAN_H 4.0
#define OVERFLOW_AFTER (4 * HOUR)

enum item_kind { K_ED_ARRIVAL, K_DIRECT_ARRIVAL, K_TRIAGE, K_SEEN,
		 K_DECISION, K_ADMIT, K_DISCHARGE, K_LWBS, K_OVERFLOW };

struct item {
	int64_t t;
	uint64_t seq;
	int kind;
	int a, b;	/* hospital and department, or encounter and id */
};

struct qent {
	int enc;
	uint32_t id;
};

struct unit {		/* one department of one hospital */
	int *free_beds;
	int nfree;
	struct qent *queue;	/* encounters waiting for a bed */
	size_t qhead, qlen, qcap;
};

enum { ST_WAIT = 0, ST_BED, ST_DONE };

struct enc {
	uint64_t id, patient;
	int hospital, dept;
	int target;		/* ED: ward after the ED, -1 home, -2
				   transfer out; ward: -1 */
	int from;		/* ward: the ED encounter boarding, or -1 */
	int triage;
	int gender;
	int stage;		/* ST_* */
	int unit;		/* the unit whose queue holds it, or -1 */
	int disposition;
	int64_t birth;
	int64_t arrival, seen, decision, admission, discharge;
	int bed;
	int next_free;		/* free-list link */
};

struct world {
	struct item *heap;
	size_t nheap, capheap;
	uint64_t seq;
	struct unit *units;	/* hospitals x departments */
	int *bed_base;		/* first bed_id of each department */
	struct enc *enc;
	int nenc, capenc, free_enc;
	int ed;			/* emergency department index, or -1 */
	double *to_ward;	/* P(ED patient goes to ward d) */
	double p_home;
	uint64_t next_enc_id, next_event_id;
	long long cancelled, outliers, lwbs;
	int live;		/* emitting (past the warm-up) */
};

static int item_less(const struct item *x, const struct item *y)
{
	return x->t < y->t || (x->t == y->t && x->seq < y->seq);
}

static void push(struct world *w, int64_t t, int kind, int a, int b)
{
	size_t i;

	if (w->nheap == w->capheap) {
		w->capheap = w->capheap ? w->capheap * 2 : 256;
		w->heap = ps_xrealloc(w->heap, w->capheap * sizeof(*w->heap));
	}
	i = w->nheap++;
	w->heap[i].t = t;
	w->heap[i].seq = w->seq++;
	w->heap[i].kind = kind;
	w->heap[i].a = a;
	w->heap[i].b = b;
	while (i && item_less(&w->heap[i], &w->heap[(i - 1) / 2])) {
		struct item tmp = w->heap[i];

		w->heap[i] = w->heap[(i - 1) / 2];
		w->heap[(i - 1) / 2] = tmp;
		i = (i - 1) / 2;
	}
}

static struct item pop(struct world *w)
{
	struct item top = w->heap[0];
	size_t i = 0;

	w->heap[0] = w->heap[--w->nheap];
	for (;;) {
		size_t l = 2 * i + 1, m = i;
		struct item tmp;

		if (l < w->nheap && item_less(&w->heap[l], &w->heap[m]))
			m = l;
		if (l + 1 < w->nheap && item_less(&w->heap[l + 1], &w->heap[m]))
			m = l + 1;
		if (m == i)
			break;
		tmp = w->heap[i];
		w->heap[i] = w->heap[m];
		w->heap[m] = tmp;
		i = m;
	}
	return top;
}

static int new_enc(struct world *w)
{
	int i;

	if (w->free_enc >= 0) {
		i = w->free_enc;
		w->free_enc = w->enc[i].next_free;
	} else {
		if (w->nenc == w->capenc) {
			w->capenc = w->capenc ? w->capenc * 2 : 1024;
			w->enc = ps_xrealloc(w->enc, (size_t)w->capenc *
					     sizeof(*w->enc));
		}
		i = w->nenc++;
	}
	memset(&w->enc[i], 0, sizeof(w->enc[i]));
	w->enc[i].id = w->next_enc_id++;
	w->enc[i].seen = w->enc[i].decision = NONE;
	w->enc[i].admission = w->enc[i].discharge = NONE;
	w->enc[i].from = -1;
	w->enc[i].unit = -1;
	w->enc[i].next_free = -1;
	return i;
}

static void free_enc(struct world *w, int i)
{
	w->enc[i].stage = ST_DONE;
	w->enc[i].next_free = w->free_enc;
	w->free_enc = i;
}

/* The id of encounter i as carried by timers (to spot a reused slot). */
static int enc_tag(const struct world *w, int i)
{
	return (int)(w->enc[i].id & 0x7fffffff);
}

static int unit_index(struct sim *s, int h, int d)
{
	return h * s->dep->n + d;
}

static struct unit *unit_of(struct sim *s, struct world *w, int h, int d)
{
	return &w->units[unit_index(s, h, d)];
}

static int hour_of(int64_t t)
{
	int64_t r = t % DAY;

	if (r < 0)
		r += DAY;
	return (int)(r / HOUR);
}

static int age_at(int64_t birth, int64_t t)
{
	return (int)((t - birth) / (DAY * 36524 / 100));
}

static int dept_is(const struct sim *s, int d, const char *name)
{
	return d >= 0 && !strcmp(s->dep->d[d].name, name);
}

/*
 * Pick a patient for ward d (and the ED visit before it), or for an ED
 * visit that ends at home when d < 0: children go to Pediatrics only,
 * adults to the other wards, Maternity takes women of 15-49.  Patients are a
 * population of o->patients whose attributes derive from their index, so
 * returning patients keep their gender and birth date and grow older.
 */
static void pick_patient(struct sim *s, struct enc *e, int d, int64_t t)
{
	int any = d < 0;	/* an ED visit that ends at home: any age */
	int peds = dept_is(s, d, "Pediatrics");
	int mat = dept_is(s, d, "Maternity");
	int tries;

	for (tries = 0; tries < 1000; tries++) {
		uint64_t p = (uint64_t)ps_rand_below(&s->r,
			(uint32_t)(s->o->patients > 0xffffffffLL ?
				   0xffffffffLL : s->o->patients));
		uint64_t h = ps_mix64(s->o->seed ^ (p * 0x9e3779b97f4a7c15ULL));
		struct ps_rand pr;
		int g, grp, age;

		ps_rand_seed(&pr, h);
		g = (int)ps_rand_below(&pr, 2);
		grp = ps_rand_weighted(&pr, age_share, 5);
		/* Birth date fixed relative to the simulation start. */
		e->birth = s->o->start -
			   (int64_t)ps_rand_range(&pr, age_lo[grp] * 365LL,
						  age_hi[grp] * 365LL + 364) * DAY;
		e->gender = g;
		e->patient = h;
		age = age_at(e->birth, t);
		if (age < 0)
			continue;
		if (!any && peds != (age < 18))
			continue;
		if (mat && (g != 1 || age < 15 || age > 49))
			continue;
		return;
	}
}

/* Emit event ty of encounter i at t (nothing during the warm-up). */
static void emit_enc(struct sim *s, struct world *w, int i, enum ev_type ty,
		     int64_t t)
{
	struct enc *e = &w->enc[i];
	int ed = e->dept == w->ed;
	struct ev v;

	if (!w->live)
		return;
	memset(&v, 0, sizeof(v));
	v.type = ty;
	v.event_id = s->o->seed * 0x2545f4914f6cdd1dULL + w->next_event_id++;
	v.encounter_id = e->id ^ 0xa0761d6478bd642fULL ^ s->o->seed;
	v.patient_id = e->patient;
	v.gender = e->gender;
	/* an ED visit is admitted to the department at the door */
	v.admission = ed ? e->arrival : e->admission;
	v.age = age_at(e->birth, v.admission);
	v.dept = e->dept;
	v.hospital = e->hospital + 1;
	v.bed = e->stage == ST_BED || ty == EV_DISCHARGE ||
		ty == EV_TRANSFER ? e->bed : 0;
	v.triage = ty == EV_ARRIVAL ? 0 : e->triage;
	v.event_time = t;
	/* a ward's arrival (its wait's start) is the decision to admit
	 * (boarding) or a direct admission's arrival */
	v.arrival = e->arrival;
	v.seen = ed ? e->seen : NONE;
	v.decision = ed ? e->decision : NONE;
	v.discharge = ty == EV_DISCHARGE || ty == EV_TRANSFER ||
		      ty == EV_LWBS ? e->discharge : NONE;
	v.disposition = ed ? e->disposition : ty == EV_DISCHARGE ?
			DISP_HOME : DISP_NONE;
	emit(s, v, t);
}

static int64_t lognormal_us(struct sim *s, double median_h, double sigma)
{
	double h = ps_rand_lognormal(&s->r, log(median_h), sigma);
	int64_t us = (int64_t)(h * (double)HOUR);

	return us > MAX_LOS ? MAX_LOS : us < MINUTE ? MINUTE : us;
}

static void queue_push(struct unit *u, int i, uint32_t id, int front)
{
	if (u->qlen == u->qcap) {
		size_t k, ncap = u->qcap ? u->qcap * 2 : 16;
		struct qent *q = ps_xmalloc(ncap * sizeof(*q));

		for (k = 0; k < u->qlen; k++)
			q[k] = u->queue[(u->qhead + k) % u->qcap];
		free(u->queue);
		u->queue = q;
		u->qhead = 0;
		u->qcap = ncap;
	}
	if (front) {
		u->qhead = (u->qhead + u->qcap - 1) % u->qcap;
		u->queue[u->qhead].enc = i;
		u->queue[u->qhead].id = id;
	} else {
		u->queue[(u->qhead + u->qlen) % u->qcap].enc = i;
		u->queue[(u->qhead + u->qlen) % u->qcap].id = id;
	}
	u->qlen++;
}

/* The next encounter still waiting in unit ui's queue, or -1 (entries of
 * patients who left or were placed elsewhere are dropped). */
static int queue_pop(struct world *w, struct unit *u, int ui)
{
	while (u->qlen) {
		struct qent q = u->queue[u->qhead];
		struct enc *e = &w->enc[q.enc];

		u->qhead = (u->qhead + 1) % u->qcap;
		u->qlen--;
		if ((uint32_t)enc_tag(w, q.enc) == q.id &&
		    e->stage == ST_WAIT && e->unit == ui)
			return q.enc;
	}
	return -1;
}

/* Encounter i takes bed `bed` of its unit at time t (+ delay): the event
 * that follows is SEEN in the ED, ADMIT on a ward. */
static void take_bed(struct world *w, int i, int bed, int64_t t)
{
	struct enc *e = &w->enc[i];

	e->bed = bed;
	e->stage = ST_BED;
	e->unit = -1;
	push(w, t, e->dept == w->ed ? K_SEEN : K_ADMIT, i, enc_tag(w, i));
}

/* Give encounter i a bed at time t + delay if one is free, else queue it
 * (ESI 1-2 at the front) -- or, for an elective admission, cancel it. */
static void request_bed(struct sim *s, struct world *w, int i, int64_t t,
			int64_t delay, int elective)
{
	struct enc *e = &w->enc[i];
	int ui = unit_index(s, e->hospital, e->dept);
	struct unit *u = &w->units[ui];

	if (u->nfree) {
		take_bed(w, i, u->free_beds[--u->nfree], t + delay);
		return;
	}
	if (elective) {
		w->cancelled++;
		free_enc(w, i);
		return;
	}
	e->stage = ST_WAIT;
	e->unit = ui;
	queue_push(u, i, (uint32_t)enc_tag(w, i),
		   e->dept == w->ed && e->triage && e->triage <= 2);
	if (e->dept != w->ed)
		push(w, t + OVERFLOW_AFTER, K_OVERFLOW, i, enc_tag(w, i));
}

/* The bed of encounter i is free at t: the next in the queue takes it
 * after 10-30 minutes of cleaning, or it goes back to the pool. */
static void release_bed(struct sim *s, struct world *w, int i, int64_t t)
{
	struct enc *e = &w->enc[i];
	int ui = unit_index(s, e->hospital, e->dept);
	struct unit *u = &w->units[ui];
	int next = queue_pop(w, u, ui);

	if (next >= 0)
		take_bed(w, next, e->bed,
			 t + ps_rand_range(&s->r, 10, 30) * MINUTE);
	else
		u->free_beds[u->nfree++] = e->bed;
}

/* An adult general ward: may take another ward's patient (an outlier). */
static int adult_ward(const struct sim *s, const struct world *w, int d)
{
	return d != w->ed && !dept_is(s, d, "ICU") &&
	       !dept_is(s, d, "Pediatrics") && !dept_is(s, d, "Maternity");
}

static void on_overflow(struct sim *s, struct world *w, int i, int tag,
			int64_t t)
{
	struct enc *e = &w->enc[i];
	int d;

	if (enc_tag(w, i) != tag || e->stage != ST_WAIT ||
	    !adult_ward(s, w, e->dept))
		return;
	for (d = 0; d < s->dep->n; d++) {
		struct unit *u = unit_of(s, w, e->hospital, d);

		if (d == e->dept || !adult_ward(s, w, d) || u->nfree < 2)
			continue;
		w->outliers++;
		e->dept = d;	/* the ward whose bed the patient is in */
		take_bed(w, i, u->free_beds[--u->nfree], t);
		return;
	}
}

static void on_ed_arrival(struct sim *s, struct world *w, int h, int64_t t)
{
	const struct ps_department *ed = &s->dep->d[w->ed];
	double max_share = 6.1, lam;
	int i, target;

	/* Next candidate of the thinned Poisson process. */
	lam = ed->admits_per_day * max_share / 100.0 / (double)HOUR;
	push(w, t + (int64_t)ps_rand_exp(&s->r, lam) + 1, K_ED_ARRIVAL, h, 0);
	if (ps_rand_double(&s->r) * max_share >= ed_share[hour_of(t)])
		return;
	{
		double u = ps_rand_double(&s->r);
		int d;

		target = -1;
		if (u >= w->p_home) {
			target = -2;
			u -= w->p_home;
			for (d = 0; d < s->dep->n; d++) {
				if (u < w->to_ward[d]) {
					target = d;
					break;
				}
				u -= w->to_ward[d];
			}
		}
	}
	i = new_enc(w);
	w->enc[i].hospital = h;
	w->enc[i].dept = w->ed;
	w->enc[i].target = target;
	w->enc[i].arrival = t;
	w->enc[i].triage = 1 + ps_rand_weighted(&s->r, esi_share, 5);
	pick_patient(s, &w->enc[i], target >= 0 ? target : -1, t);
	emit_enc(s, w, i, EV_ARRIVAL, t);
	push(w, t + lognormal_us(s, TRIAGE_MEDIAN_H, 0.6), K_TRIAGE, i,
	     enc_tag(w, i));
}

static void on_triage(struct sim *s, struct world *w, int i, int64_t t)
{
	struct enc *e = &w->enc[i];

	emit_enc(s, w, i, EV_TRIAGE, t);
	if (e->triage >= 3)
		push(w, t + PATIENCE_MIN + (int64_t)ps_rand_exp(&s->r,
			1.0 / (PATIENCE_MEAN_H * (double)HOUR)), K_LWBS, i,
		     enc_tag(w, i));
	request_bed(s, w, i, t, 0, 0);
}

static void on_lwbs(struct sim *s, struct world *w, int i, int tag,
		    int64_t t)
{
	struct enc *e = &w->enc[i];

	if (enc_tag(w, i) != tag || e->stage != ST_WAIT)
		return;
	w->lwbs++;
	e->disposition = DISP_LWBS;
	e->discharge = t;
	emit_enc(s, w, i, EV_LWBS, t);
	free_enc(w, i);		/* its queue entry is dropped when reached */
}

static void on_seen(struct sim *s, struct world *w, int i, int64_t t)
{
	struct enc *e = &w->enc[i];

	e->seen = t;
	emit_enc(s, w, i, EV_SEEN, t);
	if (e->target == -1) {
		e->disposition = DISP_HOME;
		e->discharge = t + lognormal_us(s, TREAT_HOME_MEDIAN_H, 0.6);
		push(w, e->discharge, K_DISCHARGE, i, enc_tag(w, i));
	} else {
		push(w, t + lognormal_us(s, TREAT_ADMIT_MEDIAN_H, 0.6),
		     K_DECISION, i, enc_tag(w, i));
	}
}

static void on_decision(struct sim *s, struct world *w, int i, int64_t t)
{
	struct enc *e = &w->enc[i];
	int j;

	e->decision = t;
	if (e->target == -2) {
		e->disposition = DISP_TRANSFERRED;
		emit_enc(s, w, i, EV_DECISION, t);
		e->discharge = t + ps_rand_range(&s->r, 60, 180) * MINUTE;
		push(w, e->discharge, K_DISCHARGE, i, enc_tag(w, i));
		return;
	}
	e->disposition = DISP_ADMITTED;
	emit_enc(s, w, i, EV_DECISION, t);
	/* the ward encounter; the ED space is kept while the patient
	 * boards */
	j = new_enc(w);
	e = &w->enc[i];		/* new_enc may have moved it */
	w->enc[j].patient = e->patient;
	w->enc[j].gender = e->gender;
	w->enc[j].birth = e->birth;
	w->enc[j].hospital = e->hospital;
	w->enc[j].dept = e->target;
	w->enc[j].target = -1;
	w->enc[j].triage = e->triage;
	w->enc[j].arrival = t;
	w->enc[j].from = i;
	request_bed(s, w, j, t, ps_rand_range(&s->r, 10, 30) * MINUTE, 0);
}

static void on_admit(struct sim *s, struct world *w, int i, int64_t t)
{
	struct enc *e = &w->enc[i];
	const struct ps_department *d = &s->dep->d[e->dept];

	e->admission = t;
	e->discharge = t + lognormal_us(s, d->los_median_hours, d->los_sigma);
	emit_enc(s, w, i, EV_ADMIT, t);
	push(w, e->discharge, K_DISCHARGE, i, enc_tag(w, i));
	if (e->from >= 0) {
		/* the boarding patient leaves the ED for the ward bed */
		int f = e->from;

		w->enc[f].discharge = t;
		emit_enc(s, w, f, EV_DISCHARGE, t);
		release_bed(s, w, f, t);
		free_enc(w, f);
		w->enc[i].from = -1;
	}
}

static void on_discharge(struct sim *s, struct world *w, int i, int64_t t)
{
	struct enc *e = &w->enc[i];

	emit_enc(s, w, i, e->disposition == DISP_TRANSFERRED ? EV_TRANSFER :
		 EV_DISCHARGE, t);
	release_bed(s, w, i, t);
	free_enc(w, i);
}

static void on_direct_arrival(struct sim *s, struct world *w, int h, int d,
			      int64_t t)
{
	const struct ps_department *dp = &s->dep->d[d];
	double per_day = dp->admits_per_day * (1 - dp->via_ed);
	double lam = per_day / (dp->elective ? DIRECT_HOURS : 24) /
		     (double)HOUR;
	int hr = hour_of(t), i;

	/* elective admissions in the daytime; the others (births, direct
	 * referrals) around the clock */
	push(w, t + (int64_t)ps_rand_exp(&s->r, lam) + 1, K_DIRECT_ARRIVAL,
	     h, d);
	if (dp->elective && (hr < DIRECT_FIRST_HOUR ||
			     hr >= DIRECT_FIRST_HOUR + DIRECT_HOURS))
		return;
	i = new_enc(w);
	w->enc[i].hospital = h;
	w->enc[i].dept = d;
	w->enc[i].target = -1;
	w->enc[i].arrival = t;
	pick_patient(s, &w->enc[i], d, t);
	request_bed(s, w, i, t, ps_rand_range(&s->r, 0, 60) * MINUTE,
		    dp->elective);
}

static int setup_world(struct sim *s, struct world *w, struct ps_error *e)
{
	const struct ps_departments *dep = s->dep;
	int h, d, base = 1, maxbeds;
	double ward = 0;

	memset(w, 0, sizeof(*w));
	w->free_enc = -1;
	w->ed = -1;
	for (d = 0; d < dep->n; d++)
		if (dep->d[d].emergency && w->ed < 0)
			w->ed = d;
	w->to_ward = ps_xcalloc((size_t)dep->n, sizeof(double));
	w->bed_base = ps_xcalloc((size_t)dep->n, sizeof(int));
	for (d = 0; d < dep->n; d++) {
		w->bed_base[d] = base;
		maxbeds = dep->d[d].beds;
		for (h = 0; h < dep->d[d].nov; h++)
			if (dep->d[d].ov_beds[h] > maxbeds)
				maxbeds = dep->d[d].ov_beds[h];
		base += maxbeds;
		if (d == w->ed || w->ed < 0)
			continue;
		if (dep->d[w->ed].admits_per_day > 0)
			w->to_ward[d] = dep->d[d].admits_per_day *
					dep->d[d].via_ed /
					dep->d[w->ed].admits_per_day;
		ward += w->to_ward[d];
	}
	if (ward + TRANSFER_OUT > 1)
		return ps_error_set(e, PS_EX_CONFIG, "departments: admissions "
				    "through the emergency department exceed "
				    "its volume (sum of admits_per_day x "
				    "via_ed > emergency admits_per_day)");
	w->p_home = 1 - ward - TRANSFER_OUT;
	w->units = ps_xcalloc((size_t)s->o->hospitals * (size_t)dep->n,
			      sizeof(struct unit));
	for (h = 0; h < s->o->hospitals; h++) {
		for (d = 0; d < dep->n; d++) {
			struct unit *u = unit_of(s, w, h, d);
			int k, nb = ps_department_beds(&dep->d[d], h + 1);

			u->free_beds = ps_xmalloc(((size_t)nb + 1) *
						  sizeof(int));
			/* Lowest bed numbers are handed out first. */
			for (k = nb - 1; k >= 0; k--)
				u->free_beds[u->nfree++] = w->bed_base[d] + k;
		}
	}
	return 0;
}

static void free_world(struct sim *s, struct world *w)
{
	int i, n = s->o->hospitals * s->dep->n;

	for (i = 0; w->units && i < n; i++) {
		free(w->units[i].free_beds);
		free(w->units[i].queue);
	}
	free(w->units);
	free(w->heap);
	free(w->enc);
	free(w->to_ward);
	free(w->bed_base);
}

/* The census feed at the start: one event per encounter in progress
 * (its latest state), in the order of their last change. */
static int64_t last_change(const struct world *w, const struct enc *e)
{
	if (e->dept != w->ed)
		return e->admission;
	return e->decision != NONE ? e->decision : e->seen != NONE ?
	       e->seen : e->arrival;
}

static const struct world *cmp_world;

static int cmp_change(const void *a, const void *b)
{
	const struct enc *x = *(struct enc *const *)a;
	const struct enc *y = *(struct enc *const *)b;
	int64_t tx = last_change(cmp_world, x), ty = last_change(cmp_world, y);

	if (tx != ty)
		return tx < ty ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

static void go_live(struct sim *s, struct world *w)
{
	struct enc **in = ps_xmalloc(((size_t)w->nenc + 1) * sizeof(*in));
	size_t n = 0, k;
	int i;

	for (i = 0; i < w->nenc; i++) {
		const struct enc *e = &w->enc[i];

		if (e->stage == ST_DONE ||
		    (e->dept != w->ed && (e->stage != ST_BED ||
					  e->admission == NONE ||
					  e->admission >= s->o->start)) ||
		    (e->dept == w->ed && e->arrival >= s->o->start))
			continue;
		in[n++] = &w->enc[i];
	}
	cmp_world = w;
	qsort(in, n, sizeof(*in), cmp_change);
	cmp_world = NULL;
	w->live = 1;
	for (k = 0; k < n && !limit_reached(s) && !stopping(s); k++) {
		const struct enc *e = in[k];
		enum ev_type ty = e->dept != w->ed ? EV_ADMIT :
				  e->decision != NONE ? EV_DECISION :
				  e->seen != NONE ? EV_SEEN :
				  e->triage ? EV_TRIAGE : EV_ARRIVAL;

		emit_enc(s, w, (int)(e - w->enc), ty, last_change(w, e));
	}
	free(in);
}

static int run_realistic(struct sim *s, struct ps_error *e)
{
	const struct ps_sim_opts *o = s->o;
	int64_t t0 = o->start - (int64_t)(o->warmup_days * (double)DAY);
	struct world w;
	int h, d;

	if (setup_world(s, &w, e) < 0) {
		free_world(s, &w);
		return -1;
	}
	for (h = 0; h < o->hospitals; h++) {
		if (w.ed >= 0 && s->dep->d[w.ed].admits_per_day > 0)
			push(&w, t0, K_ED_ARRIVAL, h, 0);
		for (d = 0; d < s->dep->n; d++)
			if (d != w.ed && s->dep->d[d].admits_per_day *
					 (1 - s->dep->d[d].via_ed) > 0)
				push(&w, t0, K_DIRECT_ARRIVAL, h, d);
	}
	if (t0 >= o->start)
		w.live = 1;
	while (w.nheap && !limit_reached(s) && !stopping(s)) {
		struct item it = pop(&w);

		if (!w.live && it.t >= o->start)
			go_live(s, &w);
		if (limit_reached(s) || stopping(s))
			break;
		switch (it.kind) {
		case K_ED_ARRIVAL:
			on_ed_arrival(s, &w, it.a, it.t);
			break;
		case K_DIRECT_ARRIVAL:
			on_direct_arrival(s, &w, it.a, it.b, it.t);
			break;
		case K_TRIAGE:
			on_triage(s, &w, it.a, it.t);
			break;
		case K_SEEN:
			on_seen(s, &w, it.a, it.t);
			break;
		case K_DECISION:
			on_decision(s, &w, it.a, it.t);
			break;
		case K_ADMIT:
			on_admit(s, &w, it.a, it.t);
			break;
		case K_DISCHARGE:
			on_discharge(s, &w, it.a, it.t);
			break;
		case K_LWBS:
			on_lwbs(s, &w, it.a, it.b, it.t);
			break;
		case K_OVERFLOW:
			on_overflow(s, &w, it.a, it.b, it.t);
			break;
		}
	}
	ps_log(PS_INFO, "simulated", PS_I("left_without_being_seen", w.lwbs),
	       PS_I("outliers", w.outliers),
	       PS_I("cancelled_electives", w.cancelled));
	free_world(s, &w);
	return 0;
}

int64_t ps_sim_expected_span(const struct ps_sim_opts *o, long long count)
{
	struct ps_departments builtin = PS_DEPARTMENTS_INIT;
	const struct ps_departments *ds = o->departments;
	double per_day = 0;
	int d;

	if (o->model == PS_SIM_COMPAT) {
		int64_t step = o->rate > 0 ? (int64_t)(1e6 / o->rate)
					   : PS_USEC_PER_SEC;

		return count * step;
	}
	if (!ds) {
		ps_departments_defaults(&builtin);
		ds = &builtin;
	}
	/* A ward encounter has two events (ADMIT, DISCHARGE); an emergency
	 * visit about 4.2 (ARRIVAL, TRIAGE, SEEN, a DECISION for one in
	 * four, and its end). */
	for (d = 0; d < ds->n; d++)
		per_day += ds->d[d].admits_per_day *
			   (ds->d[d].emergency ? 4.2 : 2.0);
	ps_departments_release(&builtin);
	per_day *= o->hospitals;
	if (per_day <= 0)
		return 0;
	/* 10 % more than the mean, so a batch ends before the present. */
	return (int64_t)(1.1 * (double)count / per_day * (double)DAY);
}

int ps_simulate(const struct ps_sim_opts *o, ps_sim_write_fn write,
		void *ctx, struct ps_error *e)
{
	struct ps_departments builtin = PS_DEPARTMENTS_INIT;
	struct sim s;
	int rc = 0;

	if (o->hospitals < 1)
		return ps_error_set(e, PS_EX_CONFIG, "hospitals must be >= 1");
	if (o->model == PS_SIM_REALISTIC && o->patients < 1)
		return ps_error_set(e, PS_EX_CONFIG, "patients must be >= 1");
	memset(&s, 0, sizeof(s));
	s.o = o;
	s.dep = o->departments;
	if (!s.dep) {
		ps_departments_defaults(&builtin);
		s.dep = &builtin;
	}
	if (!s.dep->n) {
		ps_departments_release(&builtin);
		return ps_error_set(e, PS_EX_CONFIG, "no departments");
	}
	ps_rand_seed(&s.r, o->seed);
	ps_rand_seed(&s.dr, ps_mix64(o->seed ^ 0xd1b54a32d192ed03ULL));
	s.write = write;
	s.ctx = ctx;
	s.t0 = ps_mono();
	ps_buf_grow(&s.out, FLUSH_AT + 4096);
	if (o->model == PS_SIM_COMPAT)
		run_compat(&s);
	else
		rc = run_realistic(&s, e);
	/* Lines held back (late, duplicate) go out at the end. */
	while (s.nheld && !stopping(&s))
		pop_held(&s, NONE);
	flush_out(&s);
	while (s.nheld)
		free(s.held[--s.nheld].p);
	free(s.held);
	ps_buf_release(&s.out);
	ps_buf_release(&s.line);
	ps_departments_release(&builtin);
	return rc;
}

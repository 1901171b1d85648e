/*
 * event.h - a patient event parsed from its raw JSON payload into a typed
 * record (DESIGN.md, "Record contracts"), and the data-quality rule table
 * that ps-silver applies.
 *
 * The parser is a yajl callback parser: no tree is built, and once its
 * buffers have grown to the size of the largest record seen, parsing a
 * record allocates nothing.  It checks JSON validity, types and required
 * fields; the rules that need context (the ingest time, the list of
 * departments) are applied by lib/silver.c.
 *
 * Types are enforced and nothing is invented: an int given as a string
 * ("45") or as a number with a fraction (45.5) is wrong_type; a number
 * with a zero fraction (45.0) is read as the integer; an int outside the
 * int32 range is int_out_of_range.  null means absent.  A repeated member
 * name is duplicate_key (which of the two values is meant is unknowable).
 * Members the schema does not know are kept, in order, as one compact JSON
 * object in extra.
 */
#ifndef PS_EVENT_H
#define PS_EVENT_H

#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------ */
/* The rule table                                                      */
/* ------------------------------------------------------------------ */

enum ps_rule {
	/* quarantine: the record goes to lake/quarantine with the code */
	PS_RULE_MALFORMED_JSON = 0,
	PS_RULE_RECORD_TOO_LONG,
	PS_RULE_BAD_ENVELOPE,
	PS_RULE_DUPLICATE_KEY,
	PS_RULE_TOO_MANY_FIELDS,
	PS_RULE_MISSING_FIELD,
	PS_RULE_WRONG_TYPE,
	PS_RULE_INT_OUT_OF_RANGE,
	PS_RULE_BAD_TIMESTAMP,
	PS_RULE_INVALID_VALUE,
	PS_RULE_AGE_OUT_OF_RANGE,
	PS_RULE_ADMISSION_IN_FUTURE,
	PS_RULE_DISCHARGE_BEFORE_ADMISSION,
	PS_RULE_UNPARSEABLE_MESSAGE,	/* HL7 v2 / FHIR (lib/hl7map.h) */
	PS_RULE_UNSUPPORTED_EVENT,
	PS_RULE_UNMAPPED_LOCATION,
	PS_RULE_BAD_MESSAGE_FIELD,
	/* flag: the record is kept, the code goes into its flags column */
	PS_RULE_UNKNOWN_DEPARTMENT,
	PS_RULE_ARRIVAL_AFTER_ADMISSION,
	/* drop: the record is counted and not written again */
	PS_RULE_DUPLICATE,
	PS_RULE_IGNORED_MESSAGE,
	PS_RULE_COUNT
};

enum ps_rule_severity {
	PS_SEV_QUARANTINE = 0,
	PS_SEV_FLAG,
	PS_SEV_DROP,
};

struct ps_rule_info {
	const char *code;	/* "age_out_of_range" */
	enum ps_rule_severity severity;
	const char *description;	/* one line, for --help and man */
};

/* The one rule table, indexed by enum ps_rule. */
extern const struct ps_rule_info ps_rules[PS_RULE_COUNT];

/* "quarantine", "flag" or "drop". */
const char *ps_rule_severity_name(enum ps_rule_severity s);

/* ------------------------------------------------------------------ */
/* The event                                                           */
/* ------------------------------------------------------------------ */

/* Fields of the schema, in the order of DESIGN.md. */
enum ps_event_field {
	PS_EF_EVENT_ID = 0,
	PS_EF_ENCOUNTER_ID,
	PS_EF_EVENT_TYPE,
	PS_EF_EVENT_TIME,
	PS_EF_PATIENT_ID,
	PS_EF_GENDER,
	PS_EF_AGE,
	PS_EF_DEPARTMENT,
	PS_EF_HOSPITAL_ID,
	PS_EF_BED_ID,
	PS_EF_ARRIVAL_TIME,
	PS_EF_ADMISSION_TIME,
	PS_EF_DISCHARGE_TIME,
	PS_EF_TRIAGE_LEVEL,
	PS_EF_SEEN_TIME,	/* ED: seen by a provider / in a room */
	PS_EF_DECISION_TIME,	/* ED: decision to admit */
	PS_EF_DISPOSITION,	/* HOME, ADMITTED, TRANSFERRED, LWBS */
	PS_EF_COUNT
};

/* The JSON member name of a field ("admission_time"). */
const char *ps_event_field_name(enum ps_event_field f);

#define PS_EVENT_MAX_PROBLEMS 8

struct ps_event_problem {
	enum ps_rule rule;
	int field;		/* enum ps_event_field, or -1 */
};

struct ps_str {
	const char *p;		/* not NUL-terminated in general */
	size_t len;
};

/*
 * One parsed event.  A field is present when bit (1 << field) is set in
 * present; absent and null fields are not present.  Strings point into the
 * parser and stay valid until its next parse.
 */
struct ps_event {
	unsigned present;
	struct ps_str event_id, encounter_id, event_type, patient_id, gender,
		      department;
	struct ps_str disposition;
	int64_t event_time, arrival_time, admission_time, discharge_time,
		seen_time, decision_time;
	int32_t age, hospital_id, bed_id, triage_level;
	struct ps_str extra;	/* unknown members as a JSON object */
	int plain;		/* read by the fast path: no string holds a
				   byte JSON escapes (quote, backslash,
				   control) and extra is empty */
	int nproblems;
	struct ps_event_problem problems[PS_EVENT_MAX_PROBLEMS];
	char detail[200];	/* about the first problem, "" when none */
};

static inline int ps_event_has(const struct ps_event *ev,
			       enum ps_event_field f)
{
	return (ev->present >> f) & 1;
}

/*
 * Record a problem in ev (at most PS_EVENT_MAX_PROBLEMS are kept, the same
 * rule and field only once).  The detail is stored when it is the first
 * problem.  Cannot fail.
 */
void ps_event_add_problem(struct ps_event *ev, enum ps_rule rule, int field,
			  const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Does ev carry a problem of this rule? */
int ps_event_has_problem(const struct ps_event *ev, enum ps_rule rule);

struct ps_event_parser;

/* A reusable parser.  Cannot fail (out of memory aborts). */
struct ps_event_parser *ps_event_parser_new(void);
void ps_event_parser_free(struct ps_event_parser *p);

/*
 * Parse len bytes (one JSON object; may contain anything, including NUL
 * bytes) into *ev.  Always fills ev: returns 0 when the record has no
 * problem, or 1 when ev->nproblems > 0 (malformed JSON, duplicate key,
 * missing required field, wrong type, int out of range, bad timestamp,
 * invalid value).  Required: patient_id, gender, age, department,
 * admission_time, hospital_id, and bed_id unless event_type is ARRIVAL,
 * TRIAGE or LWBS.
 * Cannot fail otherwise.
 */
int ps_event_parse(struct ps_event_parser *p, const char *s, size_t len,
		   struct ps_event *ev);

#endif

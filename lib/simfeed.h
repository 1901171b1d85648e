/*
 * simfeed.h - private to lib/simulate.c: one simulated event written as a
 * hospital would send it, an HL7 v2.5 ADT message or a FHIR R4 Bundle
 * (ps-simulate --format hl7|fhir), with the codes of
 * examples/hl7/map.ndjson (points of care ED SURG ICU PEDS L&D ONC CARD,
 * facilities HOSP<n>; the local segment ZPS holds the door time, triage
 * level, seen and decision times and the ED tracking state (event_type),
 * ZPS-1 to ZPS-5; PV1-36 the disposition).  Triggers: ARRIVAL A04, TRIAGE
 * SEEN DECISION A08, ADMIT A01, TRANSFER A02, DISCHARGE and LWBS A03.
 */
#ifndef PS_SIMFEED_H
#define PS_SIMFEED_H

#include <stdint.h>

#include "buf.h"

/* Fields a dirty missing_field may leave out (bits of omit). */
enum {
	SIMFEED_NO_PATIENT = 1, SIMFEED_NO_GENDER = 2, SIMFEED_NO_AGE = 4,
	SIMFEED_NO_DEPARTMENT = 8, SIMFEED_NO_ADMISSION = 16,
	SIMFEED_NO_HOSPITAL = 32,
};

struct simfeed_ev {
	const char *type;	/* the event_type: ARRIVAL ... LWBS */
	const char *disposition;	/* HOME ..., or NULL */
	uint64_t event_id, encounter_id, patient_id;
	int female, age, hospital, bed, triage;	/* bed, triage: 0 none */
	const char *department;
	int64_t event_time, arrival, admission, discharge; /* INT64_MIN: none */
	int64_t seen, decision;
	unsigned omit;
};

/* The 36 characters of the UUID simulate derives from x (no NUL). */
void simfeed_uuid(char out[36], uint64_t x);

/* Append the message (segments end with CR, then one LF) to b. */
void simfeed_hl7(struct ps_buf *b, const struct simfeed_ev *v);

/* Append a Bundle (Patient + Encounter) as one JSON line to b. */
void simfeed_fhir(struct ps_buf *b, const struct simfeed_ev *v);

#endif

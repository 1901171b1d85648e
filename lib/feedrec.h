/*
 * feedrec.h - private to lib/hl7map.c and lib/fhir.c: what an HL7 v2
 * message or a FHIR Encounter says about one patient event, before the
 * mapping turns it into a PulseStream event.
 */
#ifndef PS_FEEDREC_H
#define PS_FEEDREC_H

#include <stdint.h>

#include "buf.h"
#include "hl7map.h"

enum feed_str {
	FS_EVENT_ID, FS_TRIGGER, FS_PATIENT_ID, FS_SEX, FS_CLASS, FS_POC,
	FS_ROOM, FS_BED, FS_FACILITY, FS_SERVICE, FS_ENCOUNTER, FS_TRIAGE,
	FS_DISPOSITION, FS_TYPE, FS_COUNT
};

enum feed_time {
	FT_EVENT, FT_BIRTH, FT_ADMISSION, FT_DISCHARGE, FT_ARRIVAL, FT_SEEN,
	FT_DECISION, FT_COUNT
};

struct feed_rec {
	struct ps_buf s[FS_COUNT];	/* empty: absent */
	int64_t t[FT_COUNT];		/* PS_TIME_NONE: absent */
	const char *format;		/* "hl7v2" or "fhir" */
	const char *trigger_field;	/* for messages: "MSH-9.2" */
};

/* Reset r for the next record (keeps the allocations). */
void feedrec_reset(struct feed_rec *r);

/*
 * Map r to one event line appended to out ('\n' included).  Returns
 * PS_FEED_OK, PS_FEED_IGNORED, or a problem with why filled.
 */
enum ps_feed_status feedrec_event(const struct ps_hl7map *m,
				  const struct feed_rec *r, struct ps_buf *out,
				  char *why, size_t whylen);

/* The gender code map (for FHIR): mapped value, or NULL. */
const char *feedrec_gender(const struct ps_hl7map *m, const char *code,
			   size_t n);

/* The PID-3 / Patient.identifier type that names the patient ("MR"). */
const char *feedrec_pid_type(const struct ps_hl7map *m);

/*
 * FHIR (lib/fhir.c): convert one JSON payload.  cache is the join cache
 * or NULL.  Same contract as ps_feed_convert.
 */
struct fhir_cache;
struct fhir_cache *fhir_cache_new(void);
void fhir_cache_free(struct fhir_cache *c);
enum ps_feed_status fhir_convert(const struct ps_hl7map *m,
				 struct fhir_cache *cache, struct feed_rec *r,
				 const char *p, size_t n, struct ps_buf *out,
				 int *nevents, char *why, size_t whylen);

#endif

/*
 * hl7map.h - hospital feeds (HL7 v2 ADT messages, FHIR R4 Encounter and
 * Patient resources) mapped to the PulseStream event (DESIGN.md, "Record
 * contracts"), as a mapping file describes.
 *
 * The mapping file is NDJSON, one rule a line ('#' comments allowed); it
 * adds to and overrides the built-in defaults (examples/hl7/map.ndjson
 * documents every kind):
 *
 *   {"map":"event","code":"A01","event_type":"ADMIT"}
 *        trigger event (MSH-9.2, else EVN-1) or "fhir:STATUS" (the
 *        Encounter's status) to an event_type; "ignore" drops the message
 *        (counted, not an error).  A code with no rule is unsupported.
 *   {"map":"department","point_of_care":"ER","department":"Emergency"}
 *        PV1-3.1 (optionally only with "facility": PV1-3.4) to a
 *        department.  Without any department rule, the point of care is
 *        the department.
 *   {"map":"hospital","facility":"GH","hospital_id":1}
 *        PV1-3.4 to hospital_id.  Without any hospital rule, the facility
 *        must be the hospital_id itself.
 *   {"map":"gender","code":"F","gender":"Female"}
 *        PID-8 (or Patient.gender) to gender; other codes are kept as is.
 *   {"map":"field","field":"arrival_time","path":"ZPS-1"}
 *        where a field comes from (a path of lib/hl7.h); fields:
 *        event_id event_time recorded_time patient_id birth_date sex
 *        patient_class location hospital_service encounter_id
 *        admission_time discharge_time arrival_time triage_level
 *        seen_time decision_time disposition event_type (an empty path:
 *        never read).  event_type, when the message has it, replaces the
 *        type of the trigger's rule (a local field for ED states that
 *        share a trigger, such as TRIAGE and SEEN on A08).
 *   {"map":"setting","patient_id_type":"MR","default_offset":"+0000"}
 *        the PID-3 identifier type to use ("" takes the first
 *        repetition), the UTC offset of times written without one.
 *
 * Built in: A01 ADMIT, A02 TRANSFER, A03 DISCHARGE, A04 ARRIVAL, A05 and
 * A14 ignore, A06 A07 A08 UPDATE, A11 CANCEL_ADMIT, A12 TRANSFER (PV1-3
 * is the location the patient goes back to), A13 CANCEL_DISCHARGE; FHIR
 * planned: ignore, arrived/triaged: ARRIVAL, in-progress: ADMIT, onleave:
 * UPDATE, finished: DISCHARGE, cancelled/entered-in-error: CANCEL_ADMIT;
 * genders M F O U A N (and FHIR male female other unknown); the paths
 * MSH-10, EVN-6, EVN-2, PID-3, PID-7, PID-8, PV1-2, PV1-3, PV1-10,
 * PV1-19, PV1-36 (disposition), PV1-44, PV1-45; patient_id_type MR;
 * offset +0000.
 */
#ifndef PS_HL7MAP_H
#define PS_HL7MAP_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"

struct ps_hl7map;

/*
 * The built-in map plus the rules of the file at path (NULL: built-in
 * only).  Returns the map, or NULL with e filled: 66 unreadable file, 78
 * "PATH:LINE: reason" for a bad rule.
 */
struct ps_hl7map *ps_hl7map_load(const char *path, struct ps_error *e);
void ps_hl7map_free(struct ps_hl7map *m);

/* Why a payload gives no event: the reason codes of quarantine records. */
enum ps_feed_status {
	PS_FEED_OK = 0,		/* events appended */
	PS_FEED_NOT_FEED,	/* not HL7 v2 nor FHIR: a plain event? */
	PS_FEED_IGNORED,	/* mapped to "ignore", or a lone Patient */
	PS_FEED_UNPARSEABLE,	/* "unparseable_message" */
	PS_FEED_UNSUPPORTED,	/* "unsupported_event" */
	PS_FEED_UNMAPPED,	/* "unmapped_location" */
	PS_FEED_BAD_FIELD,	/* "bad_message_field" */
};

/* "unparseable_message", ... ("ok", "not_feed", "ignored" otherwise). */
const char *ps_feed_status_name(enum ps_feed_status s);

struct ps_feed;

/*
 * A converter using map (borrowed).  With join set, Patient resources
 * seen in earlier payloads are remembered (up to 1,000,000) for later
 * Encounters (FHIR Bulk Data export: Patient.ndjson, Encounter.ndjson);
 * without it each payload stands alone (what silver needs: the same
 * result on every replay).  Cannot fail.
 */
struct ps_feed *ps_feed_new(const struct ps_hl7map *map, int join);
void ps_feed_free(struct ps_feed *f);

/*
 * Convert one payload (n bytes: an HL7 v2 message, or one FHIR resource
 * as JSON, a Bundle included).  Appends each event as one JSON line
 * ending in '\n' to out and returns PS_FEED_OK with *nevents set;
 * otherwise returns the reason and a one-line detail in why (naming the
 * field), appending nothing.  A Bundle with several Encounters gives
 * several events; one bad Encounter makes the whole Bundle bad.  Cannot
 * fail otherwise.
 */
enum ps_feed_status ps_feed_convert(struct ps_feed *f, const char *p,
				    size_t n, struct ps_buf *out,
				    int *nevents, char *why, size_t whylen);

/*
 * What the payloads of a ps-silver stream are: told (--format), never
 * guessed from their content, so that a plain event can never be read as
 * a message (a member named resourceType is an unknown field of it).
 */
enum ps_feed_format {
	PS_FEED_FMT_EVENTS = 0,	/* PulseStream events: no conversion */
	PS_FEED_FMT_HL7,	/* HL7 v2 messages */
	PS_FEED_FMT_FHIR,	/* FHIR resources (JSON) */
};

/* "events", "hl7" or "fhir" into *fmt; returns 0, or -1 for another
 * name.  Cannot fail otherwise. */
int ps_feed_format_parse(const char *s, enum ps_feed_format *fmt);

/*
 * For ps-silver: convert a payload of format fmt that must give one
 * event.  Returns PS_FEED_NOT_FEED for PS_FEED_FMT_EVENTS (the payload
 * is left as it is, without a look at it), PS_FEED_OK with *p / *n
 * pointing at the event JSON (valid until the next call), or another
 * status with why filled (an HL7 payload that does not start with MSH or
 * a FHIR payload without a top-level resourceType are
 * PS_FEED_UNPARSEABLE; several events in one payload are
 * PS_FEED_UNSUPPORTED).
 */
enum ps_feed_status ps_feed_one(struct ps_feed *f, enum ps_feed_format fmt,
				const char **p, size_t *n, char *why,
				size_t whylen);

struct ps_event;
struct ps_event_parser;

/*
 * For ps-silver: parse a payload of format fmt into *ev.  An HL7 v2
 * message or a FHIR resource is converted first (ps_feed_one) and the
 * event it gives is parsed; a conversion problem becomes the rule of its
 * status (unparseable_message, unsupported_event, unmapped_location,
 * bad_message_field); an event is parsed as it is.  Returns what
 * ps_event_parse returns (0, or 1 with problems in ev), or -1 for a
 * message to drop (mapped to "ignore", a lone Patient).  Cannot fail.
 */
int ps_feed_parse(struct ps_feed *f, enum ps_feed_format fmt,
		  struct ps_event_parser *ep, const char *p, size_t n,
		  struct ps_event *ev);

#endif

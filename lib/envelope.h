/*
 * envelope.h - the record that travels from bronze onwards: the raw payload
 * exactly as received plus where it came from (DESIGN.md, "Envelope").
 *
 * One envelope is one compact JSON object on one line:
 *
 *   {"source":"kafka:admissions/3","position":1234,
 *    "ingest_time":"2026-11-24T06:12:22.123456Z",
 *    "broker_time":"2026-11-24T06:12:22.120Z","key":"4",
 *    "payload":"{\"patient_id\":...}"}
 *
 * broker_time and key are omitted when there are none.  The payload is a
 * JSON string holding the raw bytes; raw bytes that are not valid UTF-8
 * are carried as "payload_b64" (standard base64) instead, so every
 * envelope is valid JSON for jq and every payload survives byte for byte.
 * A key that is not valid UTF-8 is carried the same way as "key_b64".
 * Unknown members are ignored by the parser (forward compatibility).
 *
 * A record its producer could not pass on whole (ps-ingest consume: a
 * Kafka record over PS_RECORD_MAX) travels as an envelope for quarantine:
 * its own source and position, the first bytes of the payload, and
 *
 *   "reason":"record_too_long","detail":"...","length":N,"truncated":true
 *
 * ps-bronze lands such an envelope in its quarantine at its position.
 *
 * Whether a stage's input holds envelopes or plain events is something
 * the stage is told (enum ps_input), never guessed from a line: an event
 * may well start with a member named "source", and a line of a plain
 * input must never claim the position of another source.
 */
#ifndef PS_ENVELOPE_H
#define PS_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"

#define PS_TIME_NONE INT64_MIN

/* Bytes of a record kept in quarantine when the whole is too long. */
#define PS_QUARANTINE_KEEP 4096

struct ps_envelope {
	const char *source;	/* "kafka:TOPIC/PARTITION" or "stdin:NAME" */
	size_t source_len;
	long long position;	/* increases within a source, >= 0 */
	int64_t ingest_time;	/* microseconds, UTC */
	int64_t broker_time;	/* PS_TIME_NONE when absent */
	const char *key;	/* NULL when absent */
	size_t key_len;
	const char *payload;	/* raw bytes, may contain NUL */
	size_t payload_len;
	/* for quarantine: NULL when the record is whole */
	const char *reason;	/* a reason code, "record_too_long" */
	const char *detail;	/* one line, or NULL */
	long long length;	/* the whole record's length in bytes */
	int truncated;		/* payload holds only its first bytes */
};

/* What the lines of a stage's input are. */
enum ps_input {
	PS_INPUT_EVENTS,	/* plain records: each line is a payload */
	PS_INPUT_ENVELOPES,	/* envelopes written by our own tools */
};

/*
 * "events" or "envelopes" into *in.  Returns 0, or -1 for any other
 * string.  Cannot fail otherwise.
 */
int ps_input_parse(const char *s, enum ps_input *in);

/* "events" or "envelopes".  Cannot fail. */
const char *ps_input_name(enum ps_input in);

/*
 * Append env as one JSON line (with its '\n') to b; with env->reason set,
 * the quarantine members follow the payload.  Cannot fail.
 */
void ps_envelope_format(struct ps_buf *b, const struct ps_envelope *env);

struct ps_envelope_parser;

/* A reusable parser; its buffers back the parsed envelope's pointers. */
struct ps_envelope_parser *ps_envelope_parser_new(void);
void ps_envelope_parser_free(struct ps_envelope_parser *p);

/*
 * Parse one line into *env.  The pointers in env stay valid until the next
 * call with the same parser.  Returns 0, or -1 with a one-line reason in e
 * (code PS_EX_DATAERR) when the line is not an envelope: not JSON, or
 * source / position / ingest_time / payload missing or of the wrong type,
 * or a quarantine member of the wrong type.
 */
int ps_envelope_parse(struct ps_envelope_parser *p, const char *line,
		      size_t len, struct ps_envelope *env,
		      struct ps_error *e);

#endif

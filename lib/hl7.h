/*
 * hl7.h - HL7 version 2 messages (ER7, the "pipe and hat" encoding), read
 * as HL7 v2.x chapter 2 describes them.
 *
 * A message is a sequence of segments, the first of which is MSH.  MSH-1
 * is the field separator (the byte after "MSH"), MSH-2 the encoding
 * characters: component, repetition, escape and subcomponent separators
 * (usually ^~\&), optionally followed by the truncation character of
 * v2.7 (ignored).  The five delimiters must be distinct printable ASCII
 * punctuation.  Segments end with CR; LF and CRLF are accepted too, and
 * empty lines are skipped.  A segment id is three upper-case letters or
 * digits.
 *
 * Values are addressed by paths: SEG-F[R].C.S, e.g. "PID-3[2].1" (segment
 * PID, field 3, second repetition, first component).  Numbers start at 1;
 * a level left out means the whole of it, except that a left-out
 * repetition means the first one.  Field numbers follow the standard: in
 * MSH, MSH-1 is the field separator and MSH-2 the encoding characters, so
 * "MSH-9.1" is the message code.  A value that is not there is empty.
 *
 * Escape sequences (chapter 2, "Use of escape sequences in text
 * fields"): \F\ \S\ \T\ \R\ \E\ stand for the field, component,
 * subcomponent, repetition and escape characters, \Xhh..\ for the bytes
 * of its hex pairs; \H\ \N\ (highlighting), \Cxxyy\ \Mxxyyzz\ (character
 * sets), \Z..\ (local) and formatting commands (\.br\ ...) are removed.
 * An escape character without its closing partner is kept as it is.
 * MSH-1 and MSH-2 are never unescaped.
 *
 * The parser keeps offsets into the caller's bytes and copies nothing: a
 * parsed message is valid while those bytes are.  Memory is bounded by
 * PS_HL7_MAX_SEGMENTS.
 */
#ifndef PS_HL7_H
#define PS_HL7_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define PS_HL7_MAX_SEGMENTS 4096

/* A segment: offset and length of its bytes in the message (no CR). */
struct ps_hl7_seg {
	size_t off, len;
};

struct ps_hl7_msg {
	const char *p;		/* the caller's bytes */
	size_t len;
	char fs, cs, rs, es, ss;	/* field, component, repetition,
					   escape, subcomponent */
	struct ps_hl7_seg *seg;
	size_t nseg, capseg;
};

#define PS_HL7_MSG_INIT { NULL, 0, 0, 0, 0, 0, 0, NULL, 0, 0 }

/*
 * Parse len bytes of p (one message, without MLLP framing) into m, which
 * may be reused from an earlier parse.  Returns 0, or -1 with a one-line
 * reason in why (not starting with MSH, bad encoding characters, a bad
 * segment id, more than PS_HL7_MAX_SEGMENTS segments).  Cannot fail
 * otherwise (out of memory aborts).
 */
int ps_hl7_parse(struct ps_hl7_msg *m, const char *p, size_t len,
		 char *why, size_t whylen);

/* Free what m holds and reset it to PS_HL7_MSG_INIT. */
void ps_hl7_msg_release(struct ps_hl7_msg *m);

/* A parsed path; 0 for a level left out. */
struct ps_hl7_path {
	char seg[4];
	int field, rep, comp, sub;
};

/*
 * Parse a path such as "PV1-3.1" or "PID-3[2].4.1" (n bytes).  Returns 0,
 * or -1 when s is not a path.  Numbers are 1 to 9999.
 */
int ps_hl7_path_parse(const char *s, size_t n, struct ps_hl7_path *path);

/*
 * The raw (still escaped) bytes addressed by path in the first segment
 * with its id: returns 1 and sets *v / *n, or 0 (and an empty value) when
 * the segment or the value is not there.
 */
int ps_hl7_raw(const struct ps_hl7_msg *m, const struct ps_hl7_path *path,
	       const char **v, size_t *n);

/* Like ps_hl7_raw, in the occ-th segment with that id (occ from 1). */
int ps_hl7_raw_occ(const struct ps_hl7_msg *m, const struct ps_hl7_path *path,
		   int occ, const char **v, size_t *n);

/*
 * The number of repetitions of field path->field (1 for a present,
 * non-repeated field, 0 when it is absent or empty).
 */
int ps_hl7_nrep(const struct ps_hl7_msg *m, const struct ps_hl7_path *path);

/* Append v (n raw bytes of m) to out with escape sequences resolved. */
void ps_hl7_unescape(const struct ps_hl7_msg *m, const char *v, size_t n,
		     struct ps_buf *out);

/*
 * ps_hl7_raw then ps_hl7_unescape into out (reset first).  Returns 1 when
 * the value is there and not empty, else 0.
 */
int ps_hl7_get(const struct ps_hl7_msg *m, const struct ps_hl7_path *path,
	       struct ps_buf *out);

/* Precision of a timestamp, as the count of digits before any fraction. */
enum ps_hl7_prec {
	PS_HL7_YEAR = 4, PS_HL7_MONTH = 6, PS_HL7_DAY = 8, PS_HL7_HOUR = 10,
	PS_HL7_MINUTE = 12, PS_HL7_SECOND = 14,
};

/*
 * Parse an HL7 timestamp (DTM/TS, first component of n bytes):
 * YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ].  Up to six fraction
 * digits are accepted (the standard has four).  Missing parts are the
 * start of the period (month 1, day 1, 00:00:00).  A time without an
 * offset is in default_offset (minutes east of UTC).  Stores the instant
 * in *us (UTC) and the precision in *prec (may be NULL).  Returns 0, or -1
 * with a static reason in *why for anything else (impossible dates and
 * times included).
 */
int ps_hl7_time(const char *s, size_t n, int default_offset, int64_t *us,
		enum ps_hl7_prec *prec, const char **why);

/*
 * Splits a byte stream into messages: HL7 v2 messages (each starting at
 * an MSH segment; MLLP frame bytes 0x0B and 0x1C and the batch segments
 * FHS, BHS, BTS, FTS are dropped) and JSON texts (a '{' up to its
 * matching '}', for FHIR NDJSON and bundles).  Memory is bounded by
 * max_message.
 */
struct ps_hl7_split;

enum ps_hl7_kind { PS_HL7_V2 = 1, PS_HL7_JSON = 2, PS_HL7_JUNK = 3 };

/* A splitter with a cap of max_message bytes (0: 1 MiB).  Cannot fail. */
struct ps_hl7_split *ps_hl7_split_new(size_t max_message);
void ps_hl7_split_free(struct ps_hl7_split *s);

/*
 * Feed n bytes (n = 0 with eof set: end of input).  Then call
 * ps_hl7_split_next until it returns 0.
 */
void ps_hl7_split_feed(struct ps_hl7_split *s, const char *p, size_t n,
		       int eof);

/*
 * The next complete message: returns 1 with its kind, bytes (valid until
 * the next feed or next call) and the 1-based line of its start, or 0 when
 * more input is needed (or at the end).  PS_HL7_JUNK is a stretch that is
 * neither (a line that starts no message, a message over the cap: then *p
 * holds its first bytes and *full its length); the splitter goes on after
 * it.
 */
int ps_hl7_split_next(struct ps_hl7_split *s, enum ps_hl7_kind *kind,
		      const char **p, size_t *n, size_t *full,
		      long long *line);

#endif

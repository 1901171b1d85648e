/*
 * hl7cmd.h - ps-hl7 convert and ps-hl7 get: hospital feed files in, NDJSON
 * out (lib/hl7.h for messages, lib/hl7map.h for the mapping).
 *
 * Inputs are read in chunks and split into messages (ps_hl7_split): raw
 * HL7 v2 files (one or many messages, batch files, MLLP frames) and FHIR
 * NDJSON or Bundles may be mixed.  A message that cannot be converted is
 * one warning line on stderr (input:line: reason: detail) and a count; the
 * run goes on unless strict.
 */
#ifndef PS_HL7CMD_H
#define PS_HL7CMD_H

#include <stddef.h>

#include "error.h"
#include "hl7map.h"

/* Where output goes: returns 0, or -1 on a write error. */
typedef int (*ps_hl7_write_fn)(void *ctx, const void *p, size_t n);

struct ps_hl7cmd_opts {
	const struct ps_hl7map *map;	/* convert: required */
	char *const *files;		/* NULL or empty: stdin ("-" too) */
	int nfiles;
	int strict;			/* the first bad message: 65 */
	size_t max_message;		/* bytes (0: 1 MiB) */
	const char *paths;		/* get: "PID-3.1,PV1-3" */
	int raw;			/* get: values still escaped */
	ps_hl7_write_fn out;
	void *out_ctx;
};

/*
 * Convert every message of the inputs to events (one JSON line each).
 * Logs a summary (messages, events, ignored, bad).  Returns 0, or -1 with
 * e filled: 65 under strict, 66 an input cannot be opened, 74 read or
 * write error.
 */
int ps_hl7_convert_run(const struct ps_hl7cmd_opts *o, struct ps_error *e);

/*
 * For each HL7 v2 message of the inputs, one JSON array with the values
 * of o->paths (unescaped unless o->raw; "" when absent).  FHIR texts are skipped with a
 * warning.  Returns 0, or -1 with e filled: 64 a bad path, 65 under
 * strict, 66, 74 as above.
 */
int ps_hl7_get_run(const struct ps_hl7cmd_opts *o, struct ps_error *e);

#endif

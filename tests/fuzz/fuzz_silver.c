/*
 * fuzz_silver.c - libFuzzer target for the silver parser: the input is
 * cut into lines as ps-silver reads them; each line goes through the
 * envelope parser, then the event parser and the rules.
 * Built by `make fuzz` (clang, -fsanitize=fuzzer,address,undefined);
 * `make check-fuzz` runs it once over tests/data/nasty and the seeds in
 * tests/fuzz/corpus.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "departments.h"
#include "envelope.h"
#include "event.h"
#include "silver.h"
#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ps_event_parser *ep;
static struct ps_envelope_parser *envp;
static struct ps_departments ds;

static void one(const char *s, size_t n)
{
	struct ps_envelope env;
	struct ps_event ev;
	struct ps_error e = { 0, "" };
	int i;

	if (ps_envelope_parse(envp, s, n, &env, &e) == 0) {
		s = env.payload;
		n = env.payload_len;
	}
	if (ps_event_parse(ep, s, n, &ev) == 0)
		ps_silver_check(&ev, 1767312000000000LL, 3600000000LL, &ds);
	/* Every problem names a rule of the table and a valid field. */
	for (i = 0; i < ev.nproblems; i++)
		if ((unsigned)ev.problems[i].rule >= PS_RULE_COUNT ||
		    ev.problems[i].field >= PS_EF_COUNT)
			__builtin_trap();
	if (ev.extra.len && (ev.extra.p[0] != '{' ||
			     ev.extra.p[ev.extra.len - 1] != '}'))
		__builtin_trap();
	if (ps_event_has(&ev, PS_EF_AGE))
		(void)ps_silver_age_band(ev.age < 0 ? 0 : ev.age);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data, *nl;
	size_t left = size;

	if (!ep) {
		ep = ps_event_parser_new();
		envp = ps_envelope_parser_new();
		ps_departments_defaults(&ds);
	}
	while (left) {
		size_t n;

		nl = memchr(s, '\n', left);
		n = nl ? (size_t)(nl - s) : left;
		one(s, n && s[n - 1] == '\r' ? n - 1 : n);
		if (!nl)
			break;
		s += n + 1;
		left -= n + 1;
	}
	return 0;
}

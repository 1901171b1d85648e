/*
 * fuzz_hl7.c - libFuzzer target for the HL7 v2 parser and the feed
 * mapping (lib/hl7.h, lib/hl7map.h): the input is split into messages as
 * ps-hl7 reads a stream (fed in chunks whose sizes come from the input),
 * and each message is parsed, probed at many paths, unescaped, its
 * timestamps read, and converted to events (HL7 v2 and FHIR).
 * Built by `make fuzz`; `make check-fuzz` runs it over the seeds in
 * tests/fuzz/corpus_hl7, as for fuzz_silver.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "hl7.h"
#include "hl7map.h"
#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ps_hl7map *map;
static struct ps_feed *feed;
static struct ps_hl7_msg msg = PS_HL7_MSG_INIT;
static struct ps_buf out = PS_BUF_INIT, val = PS_BUF_INIT;

static void one(const char *p, size_t n)
{
	static const char *const paths[] = {
		"MSH-1", "MSH-2", "MSH-9.2", "MSH-10", "EVN-6", "PID-3[2].5",
		"PID-3[9999].1.1", "PV1-3.4.1", "PV1-44", "ZZZ-1", "PID-99",
	};
	char why[200];
	int k;
	size_t i;

	if (ps_hl7_parse(&msg, p, n, why, sizeof(why)) == 0) {
		for (i = 0; i < sizeof(paths) / sizeof(*paths); i++) {
			struct ps_hl7_path path;
			const char *v;
			size_t vn;
			int64_t t;
			const char *bad;

			if (ps_hl7_path_parse(paths[i], strlen(paths[i]),
					      &path) < 0)
				__builtin_trap();
			ps_hl7_raw(&msg, &path, &v, &vn);
			if (vn && (v < p || v + vn > p + n))
				__builtin_trap();
			ps_hl7_get(&msg, &path, &val);
			/* escapes never make a value longer */
			if (val.len > vn)
				__builtin_trap();
			(void)ps_hl7_time(val.data ? val.data : "", val.len, 0,
					  &t, NULL, &bad);
			(void)ps_hl7_nrep(&msg, &path);
		}
	}
	ps_buf_reset(&out);
	(void)ps_feed_convert(feed, p, n, &out, &k, why, sizeof(why));
	if (out.len && out.data[out.len - 1] != '\n')
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ps_hl7_split *s;
	enum ps_hl7_kind kind;
	const char *p;
	size_t n, full, pos = 0, chunk;
	long long line;

	if (!map) {
		map = ps_hl7map_load(NULL, NULL);
		feed = ps_feed_new(map, 1);
	}
	s = ps_hl7_split_new(4096);
	chunk = size ? 1 + data[0] % 64 : 1;
	while (pos < size) {
		size_t m = size - pos < chunk ? size - pos : chunk;

		ps_hl7_split_feed(s, (const char *)data + pos, m,
				  pos + m == size);
		pos += m;
		while (ps_hl7_split_next(s, &kind, &p, &n, &full, &line)) {
			if (n > full || (kind != PS_HL7_JUNK && n > 4096))
				__builtin_trap();
			if (kind != PS_HL7_JUNK)
				one(p, n);
		}
	}
	if (!size)
		ps_hl7_split_feed(s, "", 0, 1);
	while (ps_hl7_split_next(s, &kind, &p, &n, &full, &line))
		if (kind != PS_HL7_JUNK)
			one(p, n);
	ps_hl7_split_free(s);
	return 0;
}

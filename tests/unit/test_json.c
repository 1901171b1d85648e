/* test_json.c - JSON helpers on yajl (lib/json.h). */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#include "buf.h"
#include "json.h"
#include "rand.h"
#include "banned.h"

static yajl_val parse(const char *s, char *err)
{
	return ps_json_parse(s, strlen(s), err, 128);
}

static void reject(const char *s, size_t n, const char *word)
{
	char err[128];
	yajl_val v = ps_json_parse(s, n, err, sizeof(err));

	cr_assert_null(v, "accepted: %.*s", (int)n, s);
	cr_assert(!strncmp(err, word, strlen(word)), "'%s' for %.*s: %s",
		  word, (int)n, s, err);
	cr_assert(!strchr(err, '\n'), "one line: %s", err);
}

Test(json, parses_valid_documents)
{
	const char *ok[] = {
		"{}", "[]", "0", "-1.5e3", "\"x\"", "true", "null",
		"{\"a\":[1,2,{\"b\":null}],\"c\":\"\\u00e9\\ud83d\\ude00\"}",
		" \t{\"a\" : 1 }\t ", "{\"s\":\"a/b\\/c\"}",
		"{\"u\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}",
	};
	char err[128];
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		yajl_val v = parse(ok[i], err);

		cr_assert_not_null(v, "%s: %s", ok[i], err);
		yajl_tree_free(v);
	}
}

Test(json, rejects_invalid_documents_with_a_reason)
{
	reject("", 0, "empty");
	reject("  \t", 3, "empty");
	reject("{", 1, "syntax");
	reject("{\"a\":}", 6, "syntax");
	reject("{\"a\":1,}", 8, "syntax");
	reject("[1 2]", 5, "syntax");
	reject("{'a':1}", 7, "syntax");
	reject("{\"a\":1}x", 8, "syntax");
	reject("{\"a\":1} {}", 10, "syntax");
	reject("NaN", 3, "syntax");
	reject("\"\\x\"", 4, "syntax");
}

Test(json, rejects_nul_bytes)
{
	reject("{\"a\":\"x\0y\"}", 11, "nul_byte");
	reject("{}\0", 3, "nul_byte");
	reject("\0", 1, "nul_byte");
}

Test(json, rejects_invalid_utf8)
{
	reject("{\"a\":\"\xff\"}", 9, "invalid_utf8");
	reject("{\"a\":\"\xc3\"}", 9, "invalid_utf8");		/* cut */
	/* overlong */
	reject("{\"a\":\"\xc0\x80\"}", 10, "invalid_utf8");
	reject("{\"a\":\"\xed\xa0\x80\"}", 11, "invalid_utf8");/* surrogate */
	reject("{\"a\":\"\xf4\x90\x80\x80\"}", 12, "invalid_utf8");
	reject("{\"\x80\":1}", 7, "invalid_utf8");		/* in a key */
}

Test(json, rejects_comments)
{
	reject("{\"a\":1} // c", 12, "syntax");
	reject("{/* c */\"a\":1}", 14, "syntax");
	reject("[1,/**/2]", 9, "syntax");
}

static void deep(struct ps_buf *b, int n, const char *open,
		 const char *close)
{
	int i;

	for (i = 0; i < n; i++)
		ps_buf_adds(b, open);
	ps_buf_adds(b, "1");
	for (i = 0; close && i < n; i++)
		ps_buf_adds(b, close);
}

Test(json, rejects_deep_nesting_without_crashing)
{
	struct ps_buf b = PS_BUF_INIT;
	char err[128];
	yajl_val v;

	deep(&b, 10000, "[", "]");
	reject(b.data, b.len, "too_deep");
	ps_buf_reset(&b);
	deep(&b, 10000, "{\"a\":", "}");
	reject(b.data, b.len, "too_deep");
	ps_buf_reset(&b);
	deep(&b, 10000, "[", NULL);		/* never closed */
	reject(b.data, b.len, "too_deep");
	/* Brackets inside strings do not count. */
	ps_buf_reset(&b);
	ps_buf_adds(&b, "\"");
	deep(&b, 10000, "[", NULL);
	ps_buf_adds(&b, "\"");
	v = ps_json_parse(b.data, b.len, err, sizeof(err));
	cr_assert_not_null(v, "%s", err);
	yajl_tree_free(v);
	/* Moderate nesting is fine. */
	ps_buf_reset(&b);
	deep(&b, 100, "[", "]");
	v = ps_json_parse(b.data, b.len, err, sizeof(err));
	cr_assert_not_null(v, "%s", err);
	yajl_tree_free(v);
	ps_buf_release(&b);
}

Test(json, get_returns_the_first_of_duplicate_keys)
{
	char err[128];
	yajl_val v = parse("{\"a\":1,\"b\":\"x\",\"a\":2}", err);
	yajl_val a;

	cr_assert_not_null(v, "%s", err);
	a = ps_json_get(v, "a");
	cr_assert_not_null(a);
	cr_assert(YAJL_IS_INTEGER(a));
	cr_assert_eq(YAJL_GET_INTEGER(a), 1);
	cr_assert_str_eq(YAJL_GET_STRING(ps_json_get(v, "b")), "x");
	cr_assert_null(ps_json_get(v, "c"));
	cr_assert_null(ps_json_get(ps_json_get(v, "a"), "a"), "not object");
	cr_assert_null(ps_json_get(NULL, "a"));
	yajl_tree_free(v);
}

Test(json, big_numbers_parse_and_pass_through_exactly)
{
	const char *s = "{\"i\":123456789012345678901234567890,"
			"\"n\":-9223372036854775809,\"d\":1e400,"
			"\"m\":9223372036854775807,"
			"\"f\":0.1000000000000000055511}";
	struct ps_buf b = PS_BUF_INIT;
	char err[128];
	yajl_val v = parse(s, err), x;

	cr_assert_not_null(v, "%s", err);
	x = ps_json_get(v, "m");
	cr_assert(YAJL_IS_INTEGER(x));
	cr_assert_eq(YAJL_GET_INTEGER(x), 9223372036854775807LL);
	x = ps_json_get(v, "i");
	cr_assert(YAJL_IS_NUMBER(x));
	cr_assert(!YAJL_IS_INTEGER(x), "does not fit a long long");
	ps_json_add_value(&b, v);
	cr_assert_str_eq(b.data, s);
	ps_buf_release(&b);
	yajl_tree_free(v);
}

/* A string read back through yajl's callbacks, keeping NULs. */
struct got {
	struct ps_buf s;
	int count;
};

static int got_string(void *ctx, const unsigned char *s, size_t n)
{
	struct got *g = ctx;

	ps_buf_add(&g->s, s, n);
	g->count++;
	return 1;
}

static int reparse_string(const char *json, size_t n, struct ps_buf *out)
{
	static const yajl_callbacks cb = {
		.yajl_string = got_string,
	};
	struct got g = { PS_BUF_INIT, 0 };
	yajl_handle h = yajl_alloc(&cb, NULL, &g);
	yajl_status st;

	st = yajl_parse(h, (const unsigned char *)json, n);
	if (st == yajl_status_ok)
		st = yajl_complete_parse(h);
	yajl_free(h);
	ps_buf_reset(out);
	if (g.s.len)
		ps_buf_add(out, g.s.data, g.s.len);
	ps_buf_release(&g.s);
	return st == yajl_status_ok && g.count == 1 ? 0 : -1;
}

Test(json, writer_escapes_every_control_char)
{
	struct ps_buf b = PS_BUF_INIT, back = PS_BUF_INIT;
	char in[32], want[16];
	int c;

	for (c = 0; c < 32; c++)
		in[c] = (char)c;
	cr_assert_eq(ps_json_add_str(&b, in, 32), 0);
	cr_assert_str_eq(b.data,
		"\"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007"
		"\\b\\t\\n\\u000b\\f\\r\\u000e\\u000f\\u0010\\u0011\\u0012"
		"\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019\\u001a"
		"\\u001b\\u001c\\u001d\\u001e\\u001f\"");
	cr_assert_eq(reparse_string(b.data, b.len, &back), 0);
	cr_assert_eq(back.len, 32);
	cr_assert(!memcmp(back.data, in, 32));
	for (c = 0; c < 32; c++) {
		ps_buf_reset(&b);
		ps_json_add_str(&b, in + c, 1);
		cr_assert(!memchr(b.data, c, b.len) || c == 0,
			  "raw control 0x%02x", c);
		cr_assert_eq(strlen(b.data), b.len);
	}
	ps_buf_reset(&b);
	ps_json_add_str(&b, "a\"b\\c/d\x7f", 8);
	snprintf(want, sizeof(want), "\"a\\\"b\\\\c/d\x7f\"");
	cr_assert_str_eq(b.data, want);
	ps_buf_release(&b);
	ps_buf_release(&back);
}

Test(json, writer_keeps_utf8_and_replaces_invalid_bytes)
{
	struct ps_buf b = PS_BUF_INIT;
	const char *ok = "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xef\xbf\xbf"
			 "\xf4\x8f\xbf\xbf\xed\x9f\xbf";
	struct {
		const char *in;
		size_t n;
		const char *out;
		size_t bad;
	} cases[] = {
		{ "a\xff" "b", 3, "\"a\xef\xbf\xbd" "b\"", 1 },
		{ "\x80\x80", 2, "\"\xef\xbf\xbd\xef\xbf\xbd\"", 2 },
		{ "\xc3", 1, "\"\xef\xbf\xbd\"", 1 },
		{ "\xc3(", 2, "\"\xef\xbf\xbd(\"", 1 },
		{ "\xc0\x80", 2, "\"\xef\xbf\xbd\xef\xbf\xbd\"", 2 },
		{ "\xe0\x80\x80", 3,
		  "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"", 3 },
		{ "\xed\xa0\x80", 3,
		  "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"", 3 },
		{ "\xf4\x90\x80\x80", 4, "\"\xef\xbf\xbd\xef\xbf\xbd"
		  "\xef\xbf\xbd\xef\xbf\xbd\"", 4 },
		{ "\xf5", 1, "\"\xef\xbf\xbd\"", 1 },
		{ "\xe2\x82", 2, "\"\xef\xbf\xbd\xef\xbf\xbd\"", 2 },
	};
	size_t i;

	cr_assert_eq(ps_json_add_str(&b, ok, strlen(ok)), 0);
	cr_assert_eq(b.len, strlen(ok) + 2);
	cr_assert(!memcmp(b.data + 1, ok, strlen(ok)));
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ps_buf_reset(&b);
		cr_assert_eq(ps_json_add_str(&b, cases[i].in, cases[i].n),
			     cases[i].bad, "case %zu", i);
		cr_assert_str_eq(b.data, cases[i].out, "case %zu", i);
		cr_assert_eq(ps_utf8_valid_prefix(b.data, b.len), b.len);
	}
	ps_buf_release(&b);
}

Test(json, utf8_valid_prefix)
{
	cr_assert_eq(ps_utf8_valid_prefix("abc", 3), 3);
	cr_assert_eq(ps_utf8_valid_prefix("ab\xff", 3), 2);
	cr_assert_eq(ps_utf8_valid_prefix("\xc3\xa9\xc3", 3), 2);
	cr_assert_eq(ps_utf8_valid_prefix("a\0b", 3), 3);
	cr_assert_eq(ps_utf8_valid_prefix("", 0), 0);
}

/* Random byte strings survive add_str -> yajl with only U+FFFD changes. */
Test(json, writer_output_reparses_to_the_same_string)
{
	struct ps_rand r;
	struct ps_buf in = PS_BUF_INIT, out = PS_BUF_INIT,
		      back = PS_BUF_INIT;
	int iter, i;

	ps_rand_seed(&r, 42);
	for (iter = 0; iter < 5000; iter++) {
		int n = (int)ps_rand_below(&r, 40);
		int mode = iter % 3;
		size_t bad;

		ps_buf_reset(&in);
		for (i = 0; i < n; i++) {
			unsigned c = ps_rand_below(&r, 256);

			if (mode == 0)		/* ASCII incl. controls */
				c &= 0x7f;
			if (mode == 1 && c >= 0x80) {	/* valid UTF-8 */
				ps_buf_adds(&in, c & 1 ? "\xc3\xa9"
						       : "\xf0\x9f\x98\x80");
				continue;
			}
			ps_buf_addc(&in, (char)c);
		}
		ps_buf_reset(&out);
		bad = ps_json_add_str(&out, in.data ? in.data : "", in.len);
		cr_assert_eq(ps_utf8_valid_prefix(out.data, out.len), out.len);
		cr_assert_eq(reparse_string(out.data, out.len, &back), 0,
			     "yajl rejects %s", out.data);
		if (ps_utf8_valid_prefix(in.data ? in.data : "", in.len) ==
		    in.len) {
			cr_assert_eq(bad, 0);
			cr_assert_eq(back.len, in.len);
			cr_assert(!in.len ||
				  !memcmp(back.data, in.data, in.len));
		} else {
			cr_assert_gt(bad, 0);
		}
	}
	ps_buf_release(&in);
	ps_buf_release(&out);
	ps_buf_release(&back);
}

static int sig_digits(const char *s)
{
	int n = 0, started = 0;

	for (; *s && *s != 'e'; s++) {
		if (*s >= '1' && *s <= '9')
			started = 1;
		if (started && *s >= '0' && *s <= '9')
			n++;
	}
	return n;
}

static void check_double(double d)
{
	struct ps_buf b = PS_BUF_INIT;
	char tmp[40], err[128];
	double back;
	int k;
	yajl_val v;

	ps_json_add_double(&b, d);
	back = strtod(b.data, NULL);
	cr_assert(back == d, "%.17g -> %s", d, b.data);
	v = ps_json_parse(b.data, b.len, err, sizeof(err));
	cr_assert_not_null(v, "%s: %s", b.data, err);
	/* yajl leaves the double invalid on ERANGE (subnormals). */
	cr_assert(YAJL_IS_NUMBER(v));
	cr_assert_str_eq(YAJL_GET_NUMBER(v), b.data);
	if (YAJL_IS_DOUBLE(v))
		cr_assert(YAJL_GET_DOUBLE(v) == d, "%s", b.data);
	else if (YAJL_IS_INTEGER(v))
		cr_assert((double)YAJL_GET_INTEGER(v) == d, "%s", b.data);
	else
		cr_assert(fabs(d) < DBL_MIN, "%s not read back", b.data);
	yajl_tree_free(v);
	/* Shortest: one digit fewer does not read back. */
	k = sig_digits(b.data);
	if (d != floor(d) && k > 1) {
		snprintf(tmp, sizeof(tmp), "%.*e", k - 2, d);
		cr_assert(strtod(tmp, NULL) != d, "%s is shorter than %s",
			  tmp, b.data);
	}
	ps_buf_release(&b);
}

Test(json, doubles_shortest_round_trip)
{
	struct {
		double d;
		const char *s;
	} known[] = {
		{ 0.1, "0.1" }, { 1.5, "1.5" }, { -2.25, "-2.25" },
		{ 3.0, "3" }, { 0, "0" }, { 1e300, "1e+300" },
		{ 5e-324, "5e-324" }, { 0.3, "0.3" },
		{ 2.2250738585072014e-308, "2.2250738585072014e-308" },
		{ 1.7976931348623157e308, "1.7976931348623157e+308" },
		{ 123456.789, "123456.789" },
		{ 0.1 + 0.2, "0.30000000000000004" },
		{ 1e-7, "1e-07" },
	};
	struct ps_buf b = PS_BUF_INIT;
	struct ps_rand r;
	size_t i;

	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		ps_buf_reset(&b);
		ps_json_add_double(&b, known[i].d);
		cr_assert_str_eq(b.data, known[i].s);
		check_double(known[i].d);
	}
	ps_buf_reset(&b);
	ps_json_add_double(&b, NAN);
	ps_json_add_double(&b, INFINITY);
	cr_assert_str_eq(b.data, "nullnull", "not finite: null");
	ps_buf_release(&b);
	ps_rand_seed(&r, 7);
	for (i = 0; i < 20000; i++) {
		uint64_t bits = ps_rand_u64(&r);
		double d;

		memcpy(&d, &bits, sizeof(d));
		if (!isfinite(d))
			continue;
		check_double(d);
		check_double(ps_rand_double(&r) * 1000);
		/* subnormal */
		check_double(ldexp(ps_rand_double(&r), -1060));
	}
}

/* What ps_json_add_double wrote before its exact fast path (snprintf
 * "%.*g" from 15 digits up, until strtod reads it back): the reference
 * the fast path must match byte for byte. */
static void ref_double(double d, char *tmp, size_t n)
{
	int prec;

	if (d == floor(d) && fabs(d) < 1e15) {
		snprintf(tmp, n, "%lld", (long long)d);
		return;
	}
	for (prec = fabs(d) < DBL_MIN ? 1 : 15; prec <= 17; prec++) {
		snprintf(tmp, n, "%.*g", prec, d);
		if (strtod(tmp, NULL) == d)
			break;
	}
}

static void same_as_printf(double d)
{
	struct ps_buf b = PS_BUF_INIT;
	char want[40];

	ref_double(d, want, sizeof(want));
	ps_json_add_double(&b, d);
	cr_assert_str_eq(b.data, want, "%a", d);
	ps_buf_reset(&b);
	ps_json_add_double(&b, -d);
	ref_double(-d, want, sizeof(want));
	cr_assert_str_eq(b.data, want, "%a", -d);
	ps_buf_release(&b);
}

/*
 * Non-integers from 2^-8 to 1e14 are written from their exact binary
 * value (json.c shortest_g): the same bytes as printf, on random bit
 * patterns, durations in hours and minutes (silver's los_hours,
 * wait_minutes), short decimals, exact ties at the 16th to 18th digit
 * (k / 2^j), the ends of binades and of the range.
 */
Test(json, doubles_exact_path_matches_printf)
{
	static const double edge[] = {
		0x1p-8, 0x1.0000000000001p-8, 0x1.fffffffffffffp-9, 0.5,
		0.1, 0.3, 0.30000000000000004, 1.5, 2.675, 1.005, 9.995,
		0.125, 99999999999999.5, 99999999999999.98, 1e14 - 1e-2,
		0x1.fffffffffffffp+45, 4503599627370495.5 / 1024, 0.00390625,
		0.9999999999999999, 9.999999999999999, 123456.789,
	};
	struct ps_rand r;
	size_t i;
	int j;

	for (i = 0; i < sizeof(edge) / sizeof(edge[0]); i++) {
		same_as_printf(edge[i]);
		same_as_printf(nextafter(edge[i], 0));
		same_as_printf(nextafter(edge[i], 1e300));
	}
	for (j = -9; j < 48; j++) {
		same_as_printf(ldexp(1, j));
		same_as_printf(nextafter(ldexp(1, j), 0));
		same_as_printf(nextafter(ldexp(1, j), 1e300));
	}
	ps_rand_seed(&r, 11);
	for (i = 0; i < 200000; i++) {
		uint64_t bits = ps_rand_u64(&r);
		double d;

		/* exponents 2^-9 .. 2^47: the range and a little beyond */
		bits = (bits & 0x800fffffffffffffULL) |
		       (uint64_t)(1023 - 9 + ps_rand_below(&r, 57)) << 52;
		memcpy(&d, &bits, sizeof(d));
		same_as_printf(d);
		same_as_printf((double)(int64_t)(ps_rand_u64(&r) >> 22) /
			       3600e6);
		same_as_printf((double)(int64_t)(ps_rand_u64(&r) >> 30) /
			       60e6);
		same_as_printf((double)ps_rand_below(&r, 1000000000) /
			       pow(10, ps_rand_below(&r, 12)));
		same_as_printf(ldexp((double)(ps_rand_u64(&r) >> 11),
				     -(int)ps_rand_below(&r, 60)));
	}
}

Test(json, add_value_round_trip)
{
	const char *s = "{\"a\":[1,-2.5e10,true,false,null,{}],\"b\":"
			"\"x\\\"\\n\xc3\xa9\",\"c\":{\"d\":[]}}";
	struct ps_buf b = PS_BUF_INIT;
	char err[128];
	yajl_val v = parse(s, err);

	cr_assert_not_null(v, "%s", err);
	ps_json_add_value(&b, v);
	cr_assert_str_eq(b.data, s);
	ps_json_add_value(&b, NULL);
	cr_assert_str_eq(b.data + strlen(s), "null");
	ps_buf_release(&b);
	yajl_tree_free(v);
}

Test(json, key_helper_adds_commas)
{
	struct ps_buf b = PS_BUF_INIT;
	int first = 1;

	ps_buf_addc(&b, '{');
	ps_json_key(&b, &first, "a");
	ps_buf_adds(&b, "1");
	ps_json_key(&b, &first, "b");
	ps_buf_adds(&b, "2}");
	cr_assert_str_eq(b.data, "{\"a\":1,\"b\":2}");
	ps_buf_release(&b);
}

Test(json, writer_exact_bytes)
{
	struct ps_buf b = PS_BUF_INIT;

	ps_json_add_str(&b, " a\"b\\c/~\x7f\x1f\n", 11);
	cr_assert_str_eq(b.data, "\" a\\\"b\\\\c/~\x7f\\u001f\\n\"");
	ps_buf_release(&b);
}

/* The run finder (16 bytes at a time) stops at the first quote, backslash
 * or control byte wherever it is, and not at bytes >= 0x80; unescaping
 * with it gives back what the writer escaped, escapes at every offset. */
Test(json, plain_run_and_unescape_at_every_offset)
{
	static const char stops[] = { '"', '\\', 0x01, 0x1f, 0x00 };
	char s[41];
	size_t i, k;

	for (k = 0; k < sizeof(stops); k++)
		for (i = 0; i < sizeof(s); i++) {
			memset(s, 'a', sizeof(s));
			s[3] = (char)0xc3;		/* UTF-8 is plain */
			s[4] = (char)0xa9;
			if (i == 3 || i == 4)
				continue;
			s[i] = stops[k];
			cr_assert_eq(ps_json_plain_run(s, sizeof(s)), i,
				     "stop %#x at %zu", stops[k], i);
			cr_assert_eq(ps_json_plain_run(s, i), i);
		}
	for (i = 0; i < 40; i++) {
		struct ps_buf in = PS_BUF_INIT, out = PS_BUF_INIT;
		const char *p;

		memset(s, 'x', sizeof(s));
		s[i] = '"';
		s[39 - i] = '\n';
		ps_json_add_str(&in, s, 40);
		p = in.data + 1;
		cr_assert_eq(ps_json_unescape(&p, in.data + in.len, &out), 0);
		cr_assert_eq(p, in.data + in.len);
		cr_assert_eq(out.len, 40);
		cr_assert_eq(memcmp(out.data, s, 40), 0, "offset %zu", i);
		ps_buf_release(&in);
		ps_buf_release(&out);
	}
}

/*
 * Escaped quotes (taken inside the 16-byte loop of ps_json_unescape) mixed
 * with other escapes at random offsets come back as they were written;
 * a backslash or an escaped quote cut by the end of the input is an
 * error wherever it falls in the last 16 bytes.
 */
Test(json, unescape_quote_runs)
{
	static const char alpha[] = "\"\"\"ab\\\n/\x01\xc3\xa9";
	struct ps_buf in = PS_BUF_INIT, out = PS_BUF_INIT;
	struct ps_rand r;
	char s[96];
	size_t i, n, j;
	const char *p;

	ps_rand_seed(&r, 3);
	for (i = 0; i < 20000; i++) {
		n = ps_rand_below(&r, sizeof(s));
		for (j = 0; j < n; j++) {
			s[j] = alpha[ps_rand_below(&r, sizeof(alpha) - 1)];
			if (s[j] == '\xc3') {
				if (j + 1 == n)
					s[j] = 'z';
				else
					s[++j] = (char)0xa9;
			} else if (s[j] == '\xa9') {
				s[j] = 'y';
			}
		}
		ps_buf_reset(&in);
		ps_buf_reset(&out);
		ps_json_add_str(&in, s, n);
		p = in.data + 1;
		cr_assert_eq(ps_json_unescape(&p, in.data + in.len, &out), 0);
		cr_assert_eq(p, in.data + in.len);
		cr_assert_eq(out.len, n);
		cr_assert_eq(memcmp(out.data, s, n), 0, "case %zu", i);
	}
	for (n = 1; n <= 40; n++)
		for (i = 0; i < 2; i++) {
			/* n bytes: x..x then a backslash, or x..x\" with no
			 * closing quote */
			ps_buf_reset(&in);
			ps_buf_reset(&out);
			for (j = 0; j + 1 + i < n; j++)
				ps_buf_addc(&in, 'x');
			ps_buf_adds(&in, i ? "\\\"" : "\\");
			p = in.data;
			cr_assert_eq(ps_json_unescape(&p, in.data + in.len,
						      &out), -1, "%zu", n);
		}
	ps_buf_release(&in);
	ps_buf_release(&out);
}

/* The writer's plain runs (16 bytes, then 8, then the last 8 again) stop
 * at each byte that needs care, at every offset of strings of every
 * length up to 48: the same output as one byte at a time would give. */
Test(json, writer_plain_runs_stop_at_every_offset)
{
	static const struct {
		const char *in, *out;	/* one byte class and its escape */
	} cls[] = {
		{ "\"", "\\\"" }, { "\\", "\\\\" }, { "\x01", "\\u0001" },
		{ "\x1f", "\\u001f" }, { "\n", "\\n" }, { "\x7f", "\x7f" },
		{ "\xc3\xa9", "\xc3\xa9" }, { "\xff", "\xef\xbf\xbd" },
	};
	size_t k, i, len;

	for (k = 0; k < sizeof(cls) / sizeof(cls[0]); k++)
		for (len = strlen(cls[k].in); len <= 48; len++)
			for (i = 0; i + strlen(cls[k].in) <= len; i++) {
				struct ps_buf in = PS_BUF_INIT,
					      out = PS_BUF_INIT,
					      want = PS_BUF_INIT;
				size_t j, rest = len - i - strlen(cls[k].in);

				for (j = 0; j < i; j++)
					ps_buf_addc(&in, (char)('a' + j % 26));
				ps_buf_adds(&in, cls[k].in);
				for (j = 0; j < rest; j++)
					ps_buf_addc(&in, (char)('A' + j % 26));
				ps_buf_addc(&want, '"');
				ps_buf_add(&want, in.data, i);
				ps_buf_adds(&want, cls[k].out);
				ps_buf_add(&want, in.data + in.len - rest,
					   rest);
				ps_buf_addc(&want, '"');
				ps_json_add_str(&out, in.data, in.len);
				cr_assert_eq(out.len, want.len,
					     "class %zu at %zu of %zu", k, i,
					     len);
				cr_assert_eq(memcmp(out.data, want.data,
						    out.len), 0,
					     "class %zu at %zu of %zu: %s", k,
					     i, len, out.data);
				ps_buf_release(&in);
				ps_buf_release(&out);
				ps_buf_release(&want);
			}
}

/* An invalid or a multi-byte sequence at every offset of an ASCII run:
 * the valid prefix ends at the invalid byte, wherever the 16- and 8-byte
 * skips stand. */
Test(json, utf8_valid_prefix_at_every_offset)
{
	char s[64];
	size_t i;

	for (i = 0; i < 48; i++) {
		memset(s, 'a', sizeof(s));
		s[i] = (char)0xff;
		cr_assert_eq(ps_utf8_valid_prefix(s, 48), i, "at %zu", i);
		s[i] = (char)0xc3;
		s[i + 1] = (char)0xa9;
		cr_assert_eq(ps_utf8_valid_prefix(s, 49), 49, "at %zu", i);
		cr_assert_eq(ps_utf8_valid_prefix(s, i + 1), i, "cut at %zu", i);
	}
}

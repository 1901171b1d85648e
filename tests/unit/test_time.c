/* test_time.c - ISO-8601 parsing and formatting (lib/pstime.h). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "pstime.h"
#include "rand.h"
#include "banned.h"

#define S PS_USEC_PER_SEC

static int64_t parse_ok(const char *s)
{
	int64_t us = 12345;
	const char *why = NULL;

	cr_assert_eq(ps_time_parse(s, strlen(s), &us, &why), 0,
		     "rejected %s: %s", s, why ? why : "?");
	return us;
}

static void parse_bad(const char *s)
{
	int64_t us = 12345;
	const char *why = NULL;

	cr_assert_eq(ps_time_parse(s, strlen(s), &us, &why), -1,
		     "accepted '%s' as %lld", s, (long long)us);
	cr_assert_not_null(why, "%s", s);
	cr_assert_eq(us, 12345, "output untouched on failure");
}

Test(time, utc_and_naive)
{
	cr_assert_eq(parse_ok("2026-11-24T06:12:22Z"), 1795500742 * S);
	cr_assert_eq(parse_ok("2026-11-24T06:12:22z"), 1795500742 * S);
	cr_assert_eq(parse_ok("2026-11-24T06:12:22"), 1795500742 * S);
	cr_assert_eq(parse_ok("2026-11-24t06:12:22"), 1795500742 * S);
	cr_assert_eq(parse_ok("2026-11-24 06:12:22"), 1795500742 * S);
	cr_assert_eq(parse_ok("2026-11-24T06:12"), 1795500720 * S);
	cr_assert_eq(parse_ok("1970-01-01T00:00:00Z"), 0);
	cr_assert_eq(parse_ok("1969-12-31T23:59:59Z"), -1 * S);
	cr_assert_eq(parse_ok("0001-01-01T00:00:00Z"), -62135596800LL * S);
	cr_assert_eq(parse_ok("9999-12-31T23:59:59Z"), 253402300799LL * S);
	cr_assert_eq(parse_ok("1900-03-01"), -2203891200LL * S);
}

Test(time, date_only_and_leap_days)
{
	cr_assert_eq(parse_ok("2024-02-29"), 1709164800 * S);
	cr_assert_eq(parse_ok("2000-02-29"), 951782400LL * S);
	parse_bad("2025-02-29");
	parse_bad("1900-02-29");
	parse_bad("2026-02-30");
	parse_bad("2026-04-31");
	parse_bad("2026-13-01");
	parse_bad("2026-00-10");
	parse_bad("2026-01-00");
	parse_bad("2026-01-32");
	parse_bad("0000-01-01");
}

Test(time, offsets)
{
	int64_t base = 1767241800 * S;	/* 2026-01-01T04:30:00Z */

	cr_assert_eq(parse_ok("2026-01-01T10:00:00+05:30"), base);
	cr_assert_eq(parse_ok("2026-01-01T10:00:00+0530"), base);
	cr_assert_eq(parse_ok("2026-01-01T10:00+05:30"), base);
	cr_assert_eq(parse_ok("2025-12-31T20:30:00-0800"), base);
	cr_assert_eq(parse_ok("2025-12-31T20:30:00-08:00"), base);
	cr_assert_eq(parse_ok("2025-12-31T20:30:00-08"), base);
	cr_assert_eq(parse_ok("2026-01-01T05:30:00+01"), base);
	cr_assert_eq(parse_ok("2026-01-01T04:30:00+00:00"), base);
	cr_assert_eq(parse_ok("2026-01-01T04:30:00-00"), base);
	cr_assert_eq(parse_ok("2026-01-01T04:30:00.5+00"), base + S / 2);
	cr_assert_eq(parse_ok("2026-01-01 04:30:00Z"), base);
	/* Crossing midnight and the epoch. */
	cr_assert_eq(parse_ok("1970-01-01T00:30:00+01:00"), -1800 * S);
}

Test(time, fractions)
{
	int64_t b = 1795500742 * S;

	cr_assert_eq(parse_ok("2026-11-24T06:12:22.1Z"), b + 100000);
	cr_assert_eq(parse_ok("2026-11-24T06:12:22.12Z"), b + 120000);
	cr_assert_eq(parse_ok("2026-11-24T06:12:22.123Z"), b + 123000);
	cr_assert_eq(parse_ok("2026-11-24T06:12:22.1234Z"), b + 123400);
	cr_assert_eq(parse_ok("2026-11-24T06:12:22.12345Z"), b + 123450);
	cr_assert_eq(parse_ok("2026-11-24T06:12:22.123456Z"), b + 123456);
	cr_assert_eq(parse_ok("2026-11-24T06:12:22.1234567Z"), b + 123456);
	cr_assert_eq(parse_ok("2026-11-24T06:12:22.12345678Z"), b + 123456);
	cr_assert_eq(parse_ok("2026-11-24T06:12:22.999999999Z"), b + 999999,
		     "truncated, not rounded");
	cr_assert_eq(parse_ok("2026-11-24T06:12:22.000001"), b + 1);
	cr_assert_eq(parse_ok("2026-11-24T06:12:22,5Z"), b + 500000);
	cr_assert_eq(parse_ok("1969-12-31T23:59:59.75Z"), -250000);
	parse_bad("2026-11-24T06:12:22.Z");
	parse_bad("2026-11-24T06:12:22.");
	parse_bad("2026-11-24T06:12.5Z");
}

Test(time, rejects_impossible_times_and_junk)
{
	const char *bad[] = {
		"", "2026", "2026-11", "2026-11-", "2026-1-01", "2026-01-1",
		"26-01-01", "2026/01/01", "2026-01-01T", "2026-01-01T10",
		"2026-01-01T10:", "2026-01-01T1:00", "2026-01-01T10:0",
		"2026-01-01T25:00", "2026-01-01T24:00:00", "2026-01-01T12:60",
		"2026-01-01T23:59:60", "2026-01-01T23:59:60Z",
		"2026-01-01T10:00:0", "2026-01-01T10:00:00ZZ",
		"2026-01-01T10:00:00Zjunk", "2026-01-01T10:00:00 ",
		"2026-01-01 ", "2026-01-01x", "2026-01-01Z",
		"2026-01-01T10:00:00+05:", "2026-01-01T10:00:00+05:3",
		"2026-01-01T10:00:00+5", "2026-01-01T10:00:00+",
		"2026-01-01T10:00:00+24:00", "2026-01-01T10:00:00+05:60",
		"2026-01-01T10:00:00+05:30:00", "2026-01-01T10:00:00+053",
		"2026-01-01T10:00:00 +05:30", "2026-01-01T10:00:00UTC",
		"2026-01-01T-1:00", "2026-01-01T10:00:00.1.2",
		" 2026-01-01", "+2026-01-01", "2026-01-01T10:00:00+05:30Z",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		parse_bad(bad[i]);
}

Test(time, length_is_respected)
{
	int64_t us;
	const char *why;

	/* Only len bytes are read: the rest of the buffer is not junk. */
	cr_assert_eq(ps_time_parse("2026-11-24T06:12:22Zjunk", 20, &us, &why),
		     0);
	cr_assert_eq(us, 1795500742 * S);
	cr_assert_eq(ps_time_parse("2026-11-24", 10, &us, &why), 0);
	cr_assert_eq(ps_time_parse("2026-11-24", 9, &us, &why), -1);
}

Test(time, format_forms)
{
	char out[PS_TIME_MAX];
	int64_t b = 1795500742 * S;

	cr_assert_eq(ps_time_format(b, out, 0), 20);
	cr_assert_str_eq(out, "2026-11-24T06:12:22Z");
	cr_assert_eq(ps_time_format(b + 123456, out, 3), 24);
	cr_assert_str_eq(out, "2026-11-24T06:12:22.123Z");
	cr_assert_eq(ps_time_format(b + 123456, out, 6), 27);
	cr_assert_str_eq(out, "2026-11-24T06:12:22.123456Z");
	ps_time_format(b + 1, out, -1);
	cr_assert_str_eq(out, "2026-11-24T06:12:22.000001Z");
	ps_time_format(b, out, -1);
	cr_assert_str_eq(out, "2026-11-24T06:12:22Z");
	ps_time_format(b + 999999, out, 0);
	cr_assert_str_eq(out, "2026-11-24T06:12:22Z", "truncated");
	ps_time_format(-1, out, 6);
	cr_assert_str_eq(out, "1969-12-31T23:59:59.999999Z");
	ps_time_format(-250000, out, 3);
	cr_assert_str_eq(out, "1969-12-31T23:59:59.750Z");
	ps_time_format(-62135596800LL * S, out, 0);
	cr_assert_str_eq(out, "0001-01-01T00:00:00Z");
	ps_time_format(253402300799LL * S + 999999, out, 6);
	cr_assert_str_eq(out, "9999-12-31T23:59:59.999999Z");
}

Test(time, date_format)
{
	char out[11];

	cr_assert_eq(ps_date_format(0, out), 10);
	cr_assert_str_eq(out, "1970-01-01");
	ps_date_format(-1, out);
	cr_assert_str_eq(out, "1969-12-31");
	ps_date_format(-PS_USEC_PER_DAY, out);
	cr_assert_str_eq(out, "1969-12-31");
	ps_date_format(-PS_USEC_PER_DAY - 1, out);
	cr_assert_str_eq(out, "1969-12-30");
	ps_date_format(1709164800 * S + PS_USEC_PER_DAY - 1, out);
	cr_assert_str_eq(out, "2024-02-29");
	ps_date_format(1709164800 * S + PS_USEC_PER_DAY, out);
	cr_assert_str_eq(out, "2024-03-01");
	ps_date_format(253402300799LL * S, out);
	cr_assert_str_eq(out, "9999-12-31");
	ps_date_format(-62135596800LL * S, out);
	cr_assert_str_eq(out, "0001-01-01");
}

/* Times on a few days in random order (the last day formatted is kept,
 * lib/pstime.c): each date as the calendar gives it. */
Test(time, date_format_days_interleaved)
{
	static const int64_t day0[] = { -719162, -1, 0, 19716, 20075, 2932896 };
	struct ps_rand r;
	char out[11], want[11], t[PS_TIME_MAX];
	int i;

	ps_rand_seed(&r, 5);
	for (i = 0; i < 100000; i++) {
		int64_t z = day0[ps_rand_below(&r, 6)] + ps_rand_below(&r, 3),
			y, us;
		unsigned m, d;

		if (z > 2932896)
			z = 2932896;
		us = z * PS_USEC_PER_DAY +
		     (int64_t)(ps_rand_u64(&r) % PS_USEC_PER_DAY);
		ps_civil_from_days(z, &y, &m, &d);
		snprintf(want, sizeof(want), "%04d-%02u-%02u", (int)y, m, d);
		cr_assert_eq(ps_date_format(us, out), 10);
		cr_assert_str_eq(out, want);
		ps_time_format(us, t, 0);
		cr_assert(!memcmp(t, want, 10), "%s", want);
	}
}

Test(time, civil_days_round_trip)
{
	int64_t z, y;
	unsigned m, d;

	cr_assert_eq(ps_days_from_civil(1970, 1, 1), 0);
	cr_assert_eq(ps_days_from_civil(2000, 3, 1), 11017);
	cr_assert_eq(ps_days_from_civil(1969, 12, 31), -1);
	for (z = -719162; z <= 2932896; z += 7) {	/* 0001 .. 9999 */
		ps_civil_from_days(z, &y, &m, &d);
		cr_assert(m >= 1 && m <= 12 && d >= 1 && d <= 31);
		cr_assert_eq(ps_days_from_civil(y, m, d), z);
	}
}

/* format -> parse gives the same instant, 0001..9999 and around 1970. */
Test(time, format_parse_round_trip_random_instants)
{
	const int64_t lo = -62135596800LL * S;
	const int64_t hi = 253402300799LL * S + 999999;
	struct ps_rand r;
	char out[PS_TIME_MAX], date[11];
	int i, f;

	ps_rand_seed(&r, 2026);
	for (i = 0; i < 200000; i++) {
		int64_t us, back;
		const char *why;
		size_t n;

		if (i % 4 == 0)		/* near the epoch */
			us = (int64_t)(ps_rand_u64(&r) % (200 * 365 *
				PS_USEC_PER_DAY)) - 100 * 365 * PS_USEC_PER_DAY;
		else
			us = lo + (int64_t)(ps_rand_u64(&r) %
					    (uint64_t)(hi - lo + 1));
		if (i == 0)
			us = lo;
		if (i == 1)
			us = hi;
		f = i % 2 ? 6 : -1;
		n = ps_time_format(us, out, f);
		cr_assert_eq(n, strlen(out));
		cr_assert_lt(n, PS_TIME_MAX);
		cr_assert_eq(ps_time_parse(out, n, &back, &why), 0,
			     "%s: %s", out, why);
		cr_assert_eq(back, us, "%s", out);
		/* Millisecond form parses to the truncated instant. */
		n = ps_time_format(us, out, 3);
		cr_assert_eq(ps_time_parse(out, n, &back, &why), 0);
		cr_assert_eq(back, us - (((us % 1000) + 1000) % 1000), "%s",
			     out);
		ps_date_format(us, date);
		cr_assert(!memcmp(date, out, 10));
	}
}

Test(time, clocks_move)
{
	int64_t now = ps_time_now();
	double m1 = ps_mono(), m2 = ps_mono();

	/* After 2020 and before 2200: the clock is in microseconds. */
	cr_assert_gt(now, 1577836800LL * S);
	cr_assert_lt(now, 7258118400LL * S);
	cr_assert_geq(m2, m1);
}

/*
 * One range rule (issue 10, item 7): the UTC instant lies in years
 * 0001-9999, whatever the written form; a zone offset cannot push it over
 * either edge, and every instant in range formats and parses back.
 */
Test(time, utc_range_rule_at_both_edges)
{
	const char *bad[] = {
		"9999-12-31T23:00:00-05:00", "9999-12-31T23:59:59.999999-00:01",
		"9999-12-31T19:00:00-0500", "0001-01-01T00:00:00+00:01",
		"0001-01-01T04:59:59.999999+05", "0001-01-01T00:00:00.000001+01:00",
		"0000-12-31", "0000-12-31T23:59:59Z", "10000-01-01",
	};
	const char *good[] = {
		"9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59.999999",
		"9999-12-31T18:59:59.999999-05:00", "0001-01-01T00:00:00Z",
		"0001-01-01T05:00:00+05:00", "0001-01-01", "9999-12-31",
	};
	int64_t edges[] = { PS_TIME_MIN_US, PS_TIME_MAX_US };
	char out[PS_TIME_MAX];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t us = 1;
		const char *why = NULL;

		parse_bad(bad[i]);
		ps_time_parse(bad[i], strlen(bad[i]), &us, &why);
		if (strncmp(bad[i], "0000", 4) && strncmp(bad[i], "10000", 5))
			cr_expect_str_eq(why, PS_TIME_RANGE_WHY, "%s", bad[i]);
	}
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		cr_assert(ps_time_in_range(parse_ok(good[i])), "%s", good[i]);
	cr_assert_eq(parse_ok("9999-12-31T23:59:59.999999Z"), PS_TIME_MAX_US);
	cr_assert_eq(parse_ok("0001-01-01T00:00:00Z"), PS_TIME_MIN_US);
	cr_assert(!ps_time_in_range(PS_TIME_MAX_US + 1));
	cr_assert(!ps_time_in_range(PS_TIME_MIN_US - 1));
	cr_assert(!ps_time_in_range(INT64_MIN));
	cr_assert(!ps_time_in_range(INT64_MAX));
	for (i = 0; i < 2; i++) {
		size_t n = ps_time_format(edges[i], out, 6);

		cr_assert_eq(parse_ok(out), edges[i], "%.*s", (int)n, out);
	}
	cr_assert(ps_date_in_range(PS_TIME_MIN_US / PS_USEC_PER_DAY));
	cr_assert(ps_date_in_range(PS_TIME_MAX_US / PS_USEC_PER_DAY));
	cr_assert(!ps_date_in_range(PS_TIME_MIN_US / PS_USEC_PER_DAY - 1));
	cr_assert(!ps_date_in_range(PS_TIME_MAX_US / PS_USEC_PER_DAY + 1));
}

/* The fast path for "YYYY-MM-DDTHH:MM:SSZ", the naive form and
 * ".ffffffZ" agrees with the general parser (reached by a fraction of
 * another length, the same instant) on random digits, in range or not. */
/* Time a (plain form, naive or with a fraction) read by the plain form
 * and, with a fraction of another length, by the general parser: the
 * same instant, or the same reason. */
static void plain_agrees(const char *a, int naive, int frac)
{
	char b[32];
	int64_t ua = 0, ub = 0;
	const char *wa = NULL, *wb = NULL;
	int ra, rb;

	snprintf(b, sizeof(b), "%.19s.%.6s0%s", a, frac ? a + 20 : "",
		 naive ? "" : "Z");
	ra = ps_time_parse(a, strlen(a), &ua, &wa);
	rb = ps_time_parse(b, strlen(b), &ub, &wb);
	cr_assert_eq(ra, rb, "%s: %d, %s: %d", a, ra, b, rb);
	if (!ra)
		cr_assert_eq(ua, ub, "%s", a);
	else
		cr_assert_str_eq(wa, wb, "%s", a);
}

Test(time, plain_form_equals_general_parser)
{
	struct ps_rand r;
	int k;

	ps_rand_seed(&r, 11);
	for (k = 0; k < 100000; k++) {
		char a[32];
		int naive = k % 3 == 1, frac = k % 3 == 2;

		snprintf(a, sizeof(a), "%04u-%02u-%02uT%02u:%02u:%02u%s",
			 (unsigned)ps_rand_below(&r, k % 7 ? 3000 : 10000),
			 (unsigned)ps_rand_below(&r, 14),
			 (unsigned)ps_rand_below(&r, 33),
			 (unsigned)ps_rand_below(&r, 25),
			 (unsigned)ps_rand_below(&r, 61),
			 (unsigned)ps_rand_below(&r, 61),
			 naive ? "" : frac ? ".000000Z" : "Z");
		if (frac)
			snprintf(a + 20, 8, "%06uZ",
				 (unsigned)ps_rand_below(&r, 1000000));
		plain_agrees(a, naive, frac);
	}
}

/* Times on a few dates, valid or not, in random order (the plain form
 * keeps the last date read, lib/pstime.c), with times of day valid or
 * not: the plain form and the general parser agree on each. */
Test(time, plain_form_dates_repeated)
{
	static const char *const dates[] = {
		"2024-12-18", "2024-12-19", "2024-02-29", "2023-02-29",
		"2024-02-30", "0000-01-01", "0001-01-01", "9999-12-31",
		"2024-13-01", "2024-1x-01", "1970-01-01",
	};
	struct ps_rand r;
	int k, di = 0;

	ps_rand_seed(&r, 13);
	for (k = 0; k < 100000; k++) {
		char a[32];
		int naive = k % 3 == 1, frac = k % 3 == 2;

		if (k % 4 == 0)		/* runs of one date */
			di = (int)ps_rand_below(&r, 11);
		snprintf(a, sizeof(a), "%sT%02u:%02u:%02u%s", dates[di],
			 (unsigned)ps_rand_below(&r, 25),
			 (unsigned)ps_rand_below(&r, 61),
			 (unsigned)ps_rand_below(&r, 61),
			 naive ? "" : frac ? ".000000Z" : "Z");
		if (frac)
			snprintf(a + 20, 8, "%06uZ",
				 (unsigned)ps_rand_below(&r, 1000000));
		if (k % 97 == 0)
			a[12] = 'x';
		if (k % 7 == 0) {
			/* any byte of the time of day or the fraction (none
			 * that starts another form the general parser reads,
			 * such as a zone) */
			static const char junk[] = "/:;9a0\x7f\xc3";
			size_t at = 11 + ps_rand_below(&r, frac ? 14 : 8);

			if (at >= 19)
				at++;	/* the fraction's digits, 20-25 */
			a[at] = junk[ps_rand_below(&r, sizeof(junk) - 1)];
		}
		plain_agrees(a, naive, frac);
	}
}

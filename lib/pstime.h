/*
 * pstime.h - ISO-8601 timestamps as microseconds since the Unix epoch (UTC).
 *
 * Accepted: YYYY-MM-DD, optionally followed by 'T', 't' or ' ' and
 * HH:MM[:SS[.fraction]] and an optional zone: Z, z, +HH, +HHMM, +HH:MM (or
 * '-').  Naive times mean UTC.  Fractions beyond microseconds are truncated.
 * Impossible dates (2026-02-30) and times (25:00, 12:60, 23:59:60) are
 * rejected.
 *
 * The range rule, one for every path a timestamp takes into PulseStream
 * (ISO strings, zone offsets, numbers, Parquet values read back, state
 * files): the instant, in UTC, lies in years 0001-9999, that is
 * PS_TIME_MIN_US..PS_TIME_MAX_US.  "9999-12-31T23:00:00-05:00" is year
 * 10000 in UTC and rejected like "10000-01-01".  Every value inside the
 * range formats and parses back to itself.
 */
#ifndef PS_PSTIME_H
#define PS_PSTIME_H

#include <stddef.h>
#include <stdint.h>

#define PS_USEC_PER_SEC 1000000LL
#define PS_USEC_PER_DAY (86400LL * PS_USEC_PER_SEC)

/* 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z. */
#define PS_TIME_MIN_US (-62135596800LL * PS_USEC_PER_SEC)
#define PS_TIME_MAX_US (253402300800LL * PS_USEC_PER_SEC - 1)

/* 1 when us is inside the range rule (years 0001-9999 UTC), else 0. */
int ps_time_in_range(int64_t us);

/*
 * 1 when days (since 1970-01-01, a DATE value) is a day of years
 * 0001-9999, else 0.
 */
int ps_date_in_range(int64_t days);

/* The reason ps_time_parse gives for an instant outside the range. */
#define PS_TIME_RANGE_WHY "outside years 0001-9999 (UTC)"

/* Longest output of ps_time_format, with its NUL. */
#define PS_TIME_MAX 32

/*
 * Parse len bytes of s.  Returns 0 and stores the instant in *us, or -1
 * with a short reason in *why (a static string) when s is not a valid
 * timestamp or its UTC instant is outside the range rule.  Cannot fail
 * otherwise.
 */
int ps_time_parse(const char *s, size_t len, int64_t *us, const char **why);

/*
 * Format us as YYYY-MM-DDTHH:MM:SS[.fff|.ffffff]Z into out (PS_TIME_MAX
 * bytes).  frac is 0, 3 or 6 digits, or -1 for 6 digits only when the
 * microseconds are not zero.  Returns the length written (without NUL).
 * us must be in range (ps_time_in_range): every way in checks it.
 */
size_t ps_time_format(int64_t us, char *out, int frac);

/* The calendar date of us as YYYY-MM-DD into out (11 bytes); returns 10. */
size_t ps_date_format(int64_t us, char *out);

/* Days since 1970-01-01 of a proleptic Gregorian date, and back. */
int64_t ps_days_from_civil(int64_t y, unsigned m, unsigned d);
void ps_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);

/* Wall clock (CLOCK_REALTIME) in microseconds. */
int64_t ps_time_now(void);
/* Monotonic clock in seconds, for rates and deadlines. */
double ps_mono(void);

#endif

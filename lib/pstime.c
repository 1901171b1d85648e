/* pstime.c - see pstime.h. */
#include <string.h>
#include <time.h>

#include "pstime.h"
#include "banned.h"

/* Howard Hinnant's days_from_civil / civil_from_days algorithms. */
int64_t ps_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

void ps_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t era;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(int64_t y, unsigned m)
{
	static const unsigned char dim[] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};

	return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* Read exactly n digits at s[*i]; -1 if they are not all digits. */
static int digits(const char *s, size_t len, size_t *i, int n)
{
	int v = 0;

	if (*i + (size_t)n > len)
		return -1;
	while (n--) {
		char c = s[(*i)++];

		if (c < '0' || c > '9')
			return -1;
		v = v * 10 + (c - '0');
	}
	return v;
}

#define FAIL(reason) do { if (why) *why = (reason); return -1; } while (0)

/*
 * The forms nearly every record has, "YYYY-MM-DDTHH:MM:SSZ", the same
 * naive, and "YYYY-MM-DDTHH:MM:SS.ffffffZ" (an envelope's ingest time):
 * 1 with *us set when s is one of them, in range; 0 for anything else,
 * which the general parser below then decides (with its reasons).
 */
/* The dates of the last two times this thread read in a plain form, and
 * their day numbers: the times of one record mostly share their date,
 * and the ingest time is often on another day.  A text is a valid date
 * once set (the empty text matches no time); a miss replaces the older. */
static _Thread_local char plain_memo_text[2][10];
static _Thread_local int64_t plain_memo_days[2];
static _Thread_local int plain_memo_old;

/* The 8 bytes at p as a word, p[0] its lowest byte. */
static inline uint64_t le64(const char *p)
{
	uint64_t x;

	memcpy(&x, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	x = __builtin_bswap64(x);
#endif
	return x;
}

static int parse_plain(const char *s, size_t len, int64_t *us)
{
#define D(k) ((unsigned)(unsigned char)s[k] - '0')
	unsigned y, mo, d, h, mi, sec, bad;
	int64_t t, frac = 0, days;
	int k;

	uint64_t x, v;

	/*
	 * The time of day "HH:MM:SS" at 11 and the fraction ".ffffffZ" at
	 * 19 are read as 8-byte words (byte k of the text is byte k of the
	 * word): the digit lanes' high nibbles are 3 and their low nibbles
	 * at most 9 (adding 6 keeps the 3), the other lanes their exact
	 * byte; the word less the pattern holds the digits' values.
	 */
	if (len == 27) {
		x = le64(s + 19);
		if ((x & 0xfff0f0f0f0f0f0ffULL) != 0x5a3030303030302eULL ||
		    ((x + 0x0006060606060600ULL) & 0x00f0f0f0f0f0f000ULL) !=
		    0x0030303030303000ULL)
			return 0;
		v = x - 0x5a3030303030302eULL;
		frac = (int64_t)(((v >> 8 & 0xff) * 10 + (v >> 16 & 0xff)) *
				 10000 +
				 ((v >> 24 & 0xff) * 10 + (v >> 32 & 0xff)) *
				 100 +
				 (v >> 40 & 0xff) * 10 + (v >> 48 & 0xff));
	} else if (!(len == 20 && s[19] == 'Z') && len != 19) {
		return 0;
	}
	if (s[4] != '-' || s[7] != '-' || s[10] != 'T')
		return 0;
	x = le64(s + 11);
	if ((x & 0xf0f0fff0f0fff0f0ULL) != 0x30303a30303a3030ULL ||
	    ((x + 0x0606000606000606ULL) & 0xf0f000f0f000f0f0ULL) !=
	    0x3030003030003030ULL)
		return 0;
	v = x - 0x30303a30303a3030ULL;
	h = (unsigned)((v & 0xff) * 10 + (v >> 8 & 0xff));
	mi = (unsigned)((v >> 24 & 0xff) * 10 + (v >> 32 & 0xff));
	sec = (unsigned)((v >> 48 & 0xff) * 10 + (v >> 56));
	if (h > 23 || mi > 59 || sec > 59)
		return 0;
	if (!memcmp(s, plain_memo_text[0], 10)) {
		days = plain_memo_days[0];
	} else if (!memcmp(s, plain_memo_text[1], 10)) {
		days = plain_memo_days[1];
	} else {
		bad = (D(0) > 9) | (D(1) > 9) | (D(2) > 9) | (D(3) > 9) |
		      (D(5) > 9) | (D(6) > 9) | (D(8) > 9) | (D(9) > 9);
		if (bad)
			return 0;
		y = D(0) * 1000 + D(1) * 100 + D(2) * 10 + D(3);
		mo = D(5) * 10 + D(6);
		d = D(8) * 10 + D(9);
		if (y < 1 || mo < 1 || mo > 12 || d < 1 ||
		    d > days_in_month(y, mo))
			return 0;
		days = ps_days_from_civil(y, mo, d);
		k = plain_memo_old;
		plain_memo_days[k] = days;
		memcpy(plain_memo_text[k], s, 10);
		plain_memo_old = !k;
	}
#undef D
	t = (days * 86400 + h * 3600 + mi * 60 + sec) *
	    PS_USEC_PER_SEC + frac;
	if (!ps_time_in_range(t))
		return 0;
	*us = t;
	return 1;
}

int ps_time_parse(const char *s, size_t len, int64_t *us, const char **why)
{
	size_t i = 0;
	int y, mo, d, h = 0, mi = 0, sec = 0;
	int64_t frac = 0, off = 0, t;

	if (parse_plain(s, len, us))
		return 0;

	if ((y = digits(s, len, &i, 4)) < 1)
		FAIL("bad year");
	if (i >= len || s[i++] != '-' || (mo = digits(s, len, &i, 2)) < 0)
		FAIL("bad month");
	if (i >= len || s[i++] != '-' || (d = digits(s, len, &i, 2)) < 0)
		FAIL("bad day");
	if (mo < 1 || mo > 12)
		FAIL("month out of range");
	if (d < 1 || (unsigned)d > days_in_month(y, (unsigned)mo))
		FAIL("day out of range");
	if (i < len) {
		if (s[i] != 'T' && s[i] != 't' && s[i] != ' ')
			FAIL("bad date/time separator");
		i++;
		if ((h = digits(s, len, &i, 2)) < 0 || i >= len ||
		    s[i++] != ':' || (mi = digits(s, len, &i, 2)) < 0)
			FAIL("bad time");
		if (i < len && s[i] == ':') {
			i++;
			if ((sec = digits(s, len, &i, 2)) < 0)
				FAIL("bad seconds");
			if (i < len && (s[i] == '.' || s[i] == ',')) {
				int n = 0;

				i++;
				while (i < len && s[i] >= '0' && s[i] <= '9') {
					if (n < 6)
						frac = frac * 10 + (s[i] - '0');
					n++;
					i++;
				}
				if (!n)
					FAIL("bad fraction");
				for (; n < 6; n++)
					frac *= 10;
			}
		}
		if (h > 23)
			FAIL("hour out of range");
		if (mi > 59)
			FAIL("minute out of range");
		if (sec > 59)
			FAIL("second out of range");
		if (i < len) {
			char c = s[i++];
			int oh, om = 0;

			if (c == 'Z' || c == 'z') {
				off = 0;
			} else if (c == '+' || c == '-') {
				if ((oh = digits(s, len, &i, 2)) < 0)
					FAIL("bad zone offset");
				/* +HH, +HHMM or +HH:MM; "+05:" is not. */
				if (i < len && s[i] == ':' && ++i == len)
					FAIL("bad zone offset");
				if (i < len && (om = digits(s, len, &i, 2)) < 0)
					FAIL("bad zone offset");
				if (oh > 23 || om > 59)
					FAIL("zone offset out of range");
				off = (oh * 60 + om) * 60;
				if (c == '-')
					off = -off;
			} else {
				FAIL("bad zone");
			}
		}
	}
	if (i != len)
		FAIL("trailing characters");
	t = ((ps_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 +
	      h * 3600 + mi * 60 + sec - off) * PS_USEC_PER_SEC) + frac;
	if (!ps_time_in_range(t))
		FAIL(PS_TIME_RANGE_WHY);	/* a zone offset over the edge */
	*us = t;
	return 0;
}

int ps_time_in_range(int64_t us)
{
	return us >= PS_TIME_MIN_US && us <= PS_TIME_MAX_US;
}

int ps_date_in_range(int64_t days)
{
	return days >= PS_TIME_MIN_US / PS_USEC_PER_DAY &&
	       days <= PS_TIME_MAX_US / PS_USEC_PER_DAY;
}

static void put2(char *o, unsigned v)
{
	o[0] = (char)('0' + v / 10);
	o[1] = (char)('0' + v % 10);
}

/*
 * The two days last formatted by this thread and their text: the times
 * a stage writes one after another mostly fall on a few days (a clean
 * record holds up to eight times, and its ingest time is often another
 * day than its events'), so the calendar is worked out once per change
 * of day.  A miss replaces the older of the two.
 */
static _Thread_local int64_t memo_day[2] = { INT64_MIN, INT64_MIN };
static _Thread_local char memo_text[2][10];
static _Thread_local int memo_old;

size_t ps_date_format(int64_t us, char *out)
{
	int64_t days = us / PS_USEC_PER_DAY, y;
	unsigned m, d;
	int k;

	if (us % PS_USEC_PER_DAY < 0)
		days--;
	if (days == memo_day[0] || days == memo_day[1]) {
		memcpy(out, memo_text[days == memo_day[1]], 10);
		out[10] = '\0';
		return 10;
	}
	ps_civil_from_days(days, &y, &m, &d);
	if (y < 0)
		y = 0;
	if (y > 9999)
		y = 9999;
	put2(out, (unsigned)(y / 100));
	put2(out + 2, (unsigned)(y % 100));
	out[4] = '-';
	put2(out + 5, m);
	out[7] = '-';
	put2(out + 8, d);
	out[10] = '\0';
	k = memo_old;
	memcpy(memo_text[k], out, 10);
	memo_day[k] = days;
	memo_old = !k;
	return 10;
}

size_t ps_time_format(int64_t us, char *out, int frac)
{
	int64_t rem = us % PS_USEC_PER_DAY;
	unsigned secs, micros;
	size_t n;

	if (rem < 0)
		rem += PS_USEC_PER_DAY;
	ps_date_format(us, out);
	secs = (unsigned)(rem / PS_USEC_PER_SEC);
	micros = (unsigned)(rem % PS_USEC_PER_SEC);
	out[10] = 'T';
	put2(out + 11, secs / 3600);
	out[13] = ':';
	put2(out + 14, secs / 60 % 60);
	out[16] = ':';
	put2(out + 17, secs % 60);
	n = 19;
	if (frac < 0)
		frac = micros ? 6 : 0;
	if (frac == 3) {
		unsigned v = micros / 1000;

		out[n++] = '.';
		out[n++] = (char)('0' + v / 100);
		put2(out + n, v % 100);
		n += 2;
	} else if (frac == 6) {
		out[n++] = '.';
		put2(out + n, micros / 10000);
		put2(out + n + 2, micros / 100 % 100);
		put2(out + n + 4, micros % 100);
		n += 6;
	}
	out[n++] = 'Z';
	out[n] = '\0';
	return n;
}

int64_t ps_time_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * PS_USEC_PER_SEC + ts.tv_nsec / 1000;
}

double ps_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

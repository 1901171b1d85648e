/* hl7.c - see hl7.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hl7.h"
#include "json.h"
#include "pstime.h"
#include "banned.h"

/* ------------------------------------------------------------------ */
/* Messages                                                            */
/* ------------------------------------------------------------------ */

static int seg_id_ok(const char *p)
{
	int i;

	for (i = 0; i < 3; i++)
		if (!((p[i] >= 'A' && p[i] <= 'Z') ||
		      (p[i] >= '0' && p[i] <= '9')))
			return 0;
	return 1;
}

static int delim_ok(char c)
{
	return c > ' ' && c < 0x7f && !((c >= 'A' && c <= 'Z') ||
		(c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'));
}

int ps_hl7_parse(struct ps_hl7_msg *m, const char *p, size_t len,
		 char *why, size_t whylen)
{
	const char *end = p + len, *s, *q;
	char d[6];
	size_t nenc, i, j;

	m->p = p;
	m->len = len;
	m->nseg = 0;
	if (len < 3 || memcmp(p, "MSH", 3)) {
		snprintf(why, whylen, "not an HL7 v2 message: it does not "
			 "start with MSH");
		return -1;
	}
	if (len < 8) {
		snprintf(why, whylen, "MSH: too short for MSH-1 and MSH-2");
		return -1;
	}
	for (nenc = 0; 4 + nenc < len && p[4 + nenc] != p[3] &&
	     p[4 + nenc] != '\r' && p[4 + nenc] != '\n'; nenc++)
		;
	if (nenc != 4 && nenc != 5) {
		snprintf(why, whylen, "MSH-2: %zu encoding characters, "
			 "4 or 5 expected", nenc);
		return -1;
	}
	d[0] = p[3];
	memcpy(d + 1, p + 4, 4);
	if (nenc == 5)	/* the truncation character of v2.7 */
		d[5] = p[8];
	for (i = 0; i < 1 + nenc; i++) {
		if (!delim_ok(d[i])) {
			snprintf(why, whylen, "MSH-1/MSH-2: delimiter %d is "
				 "not printable punctuation", (int)i + 1);
			return -1;
		}
		for (j = 0; j < i; j++)
			if (d[i] == d[j]) {
				snprintf(why, whylen, "MSH-1/MSH-2: delimiter "
					 "'%c' used twice", d[i]);
				return -1;
			}
	}
	m->fs = d[0];
	m->cs = d[1];
	m->rs = d[2];
	m->es = d[3];
	m->ss = d[4];
	for (s = p; s < end; s = q + 1) {
		for (q = s; q < end && *q != '\r' && *q != '\n'; q++)
			;
		if (q == s)
			continue;	/* empty line, or LF of CRLF */
		if (q - s < 3 || !seg_id_ok(s) ||
		    (q - s > 3 && s[3] != m->fs)) {
			snprintf(why, whylen, "segment %zu: bad segment id "
				 "(three letters or digits, then '%c')",
				 m->nseg + 1, m->fs);
			return -1;
		}
		if (m->nseg == PS_HL7_MAX_SEGMENTS) {
			snprintf(why, whylen, "more than %d segments",
				 PS_HL7_MAX_SEGMENTS);
			return -1;
		}
		if (m->nseg == m->capseg) {
			m->capseg = m->capseg ? m->capseg * 2 : 16;
			m->seg = ps_xrealloc(m->seg,
					     m->capseg * sizeof(*m->seg));
		}
		m->seg[m->nseg].off = (size_t)(s - p);
		m->seg[m->nseg].len = (size_t)(q - s);
		m->nseg++;
	}
	return 0;
}

void ps_hl7_msg_release(struct ps_hl7_msg *m)
{
	struct ps_hl7_msg z = PS_HL7_MSG_INIT;

	free(m->seg);
	*m = z;
}

static int path_num(const char **s, const char *end, int *out)
{
	int v = 0, nd = 0;

	while (*s < end && **s >= '0' && **s <= '9' && nd < 5) {
		v = v * 10 + (**s - '0');
		(*s)++;
		nd++;
	}
	if (!nd || nd > 4 || v < 1)
		return -1;
	*out = v;
	return 0;
}

int ps_hl7_path_parse(const char *s, size_t n, struct ps_hl7_path *path)
{
	const char *end = s + n;

	memset(path, 0, sizeof(*path));
	if (n < 5 || !seg_id_ok(s) || s[3] != '-')
		return -1;
	memcpy(path->seg, s, 3);
	s += 4;
	if (path_num(&s, end, &path->field) < 0)
		return -1;
	if (s < end && *s == '[') {
		s++;
		if (path_num(&s, end, &path->rep) < 0 || s == end ||
		    *s++ != ']')
			return -1;
	}
	if (s < end && *s == '.') {
		s++;
		if (path_num(&s, end, &path->comp) < 0)
			return -1;
		if (s < end && *s == '.') {
			s++;
			if (path_num(&s, end, &path->sub) < 0)
				return -1;
		}
	}
	return s == end ? 0 : -1;
}

/* The k-th (from 1) piece of [*v, *v + *n) cut at c; empty if none. */
static int piece(const char **v, size_t *n, char c, int k)
{
	const char *p = *v, *end = *v + *n, *q;

	for (; k > 1; k--) {
		q = memchr(p, c, (size_t)(end - p));
		if (!q) {
			*v = end;
			*n = 0;
			return 0;
		}
		p = q + 1;
	}
	q = memchr(p, c, (size_t)(end - p));
	*v = p;
	*n = (size_t)((q ? q : end) - p);
	return 1;
}

/*
 * The whole field f (standard numbering) of the occ-th segment seg: 1 with
 * *v / *n set, or 0 when it is not there.  *msh12 tells MSH-1 and MSH-2,
 * which have no repetitions or components.
 */
static int field_raw(const struct ps_hl7_msg *m, const char *seg, int occ,
		     int f, const char **v, size_t *n, int *msh12)
{
	const char *s = NULL;
	size_t i, len = 0;
	int msh;

	*v = "";
	*n = 0;
	*msh12 = 0;
	for (i = 0; i < m->nseg; i++) {
		const char *q = m->p + m->seg[i].off;

		if (!memcmp(q, seg, 3) && --occ == 0) {
			s = q;
			len = m->seg[i].len;
			break;
		}
	}
	if (!s || f < 1)
		return 0;
	msh = !memcmp(seg, "MSH", 3);
	if (msh && f == 1) {
		*v = s + 3;
		*n = 1;
		*msh12 = 1;
		return 1;
	}
	if (msh)
		f--;	/* MSH-1 is the separator between "MSH" and MSH-2 */
	/* piece 1 is the segment id: field k is piece k + 1 */
	if (!piece(&s, &len, m->fs, f + 1))
		return 0;
	*msh12 = msh && f == 1;
	*v = s;
	*n = len;
	return 1;
}

int ps_hl7_raw_occ(const struct ps_hl7_msg *m, const struct ps_hl7_path *path,
		   int occ, const char **v, size_t *n)
{
	const char *s;
	size_t len;
	int msh12;

	if (!field_raw(m, path->seg, occ, path->field, v, n, &msh12))
		return 0;
	if (msh12)
		return 1;
	s = *v;
	len = *n;
	if (!piece(&s, &len, m->rs, path->rep ? path->rep : 1) ||
	    (path->comp && !piece(&s, &len, m->cs, path->comp)) ||
	    (path->comp && path->sub && !piece(&s, &len, m->ss, path->sub))) {
		*v = "";
		*n = 0;
		return 0;
	}
	*v = s;
	*n = len;
	return 1;
}

int ps_hl7_raw(const struct ps_hl7_msg *m, const struct ps_hl7_path *path,
	       const char **v, size_t *n)
{
	return ps_hl7_raw_occ(m, path, 1, v, n);
}

int ps_hl7_nrep(const struct ps_hl7_msg *m, const struct ps_hl7_path *path)
{
	const char *v;
	size_t n, i;
	int k = 1, msh12;

	if (!field_raw(m, path->seg, 1, path->field, &v, &n, &msh12) || !n)
		return 0;
	if (msh12)
		return 1;
	for (i = 0; i < n; i++)
		k += v[i] == m->rs;
	return k;
}

void ps_hl7_unescape(const struct ps_hl7_msg *m, const char *v, size_t n,
		     struct ps_buf *out)
{
	const char *end = v + n, *q, *e;

	while (v < end) {
		q = memchr(v, m->es, (size_t)(end - v));
		if (!q) {
			ps_buf_add(out, v, (size_t)(end - v));
			return;
		}
		ps_buf_add(out, v, (size_t)(q - v));
		e = q + 1 < end ? memchr(q + 1, m->es,
					 (size_t)(end - q - 1)) : NULL;
		if (!e || e == q + 1) {
			/* no closing escape (or an empty sequence): as is */
			ps_buf_addc(out, *q);
			v = q + 1;
			continue;
		}
		if (e == q + 2) {
			switch (q[1]) {
			case 'F': ps_buf_addc(out, m->fs); break;
			case 'S': ps_buf_addc(out, m->cs); break;
			case 'T': ps_buf_addc(out, m->ss); break;
			case 'R': ps_buf_addc(out, m->rs); break;
			case 'E': ps_buf_addc(out, m->es); break;
			default: break;	/* \H\ \N\ and unknown: removed */
			}
		} else if (q[1] == 'X') {
			const char *h = q + 2;

			for (; h + 1 < e; h += 2) {
				int hi = ps_hexval(h[0]), lo = ps_hexval(h[1]);

				if (hi < 0 || lo < 0)
					break;
				ps_buf_addc(out, (char)(hi << 4 | lo));
			}
		}
		/* \C..\ \M..\ \Z..\ \.br\ ...: removed */
		v = e + 1;
	}
}

int ps_hl7_get(const struct ps_hl7_msg *m, const struct ps_hl7_path *path,
	       struct ps_buf *out)
{
	const char *v;
	size_t n;

	ps_buf_reset(out);
	if (!ps_hl7_raw(m, path, &v, &n) || !n)
		return 0;
	if (!memcmp(path->seg, "MSH", 3) && path->field <= 2)
		ps_buf_add(out, v, n);
	else
		ps_hl7_unescape(m, v, n, out);
	return out->len > 0;
}

/* ------------------------------------------------------------------ */
/* Timestamps                                                          */
/* ------------------------------------------------------------------ */

static int digits(const char *s, int n)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

static int mdays(int64_t y, int m)
{
	static const int d[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
				    30, 31 };

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return d[m - 1];
}

int ps_hl7_time(const char *s, size_t n, int default_offset, int64_t *us,
		enum ps_hl7_prec *prec, const char **why)
{
	size_t nd = 0, i;
	int f[6] = { 0, 1, 1, 0, 0, 0 };	/* Y M D h m s */
	static const int width[6] = { 4, 2, 2, 2, 2, 2 };
	int64_t frac = 0, t;
	int off = default_offset, k, fd = 0;

	while (nd < n && s[nd] >= '0' && s[nd] <= '9')
		nd++;
	if (nd != 4 && nd != 6 && nd != 8 && nd != 10 && nd != 12 &&
	    nd != 14) {
		*why = "not YYYY[MM[DD[HH[MM[SS]]]]]";
		return -1;
	}
	for (i = 0, k = 0; i < nd; i += (size_t)width[k], k++)
		f[k] = digits(s + i, width[k]);
	i = nd;
	if (i < n && s[i] == '.') {
		if (nd != 14) {
			*why = "a fraction without seconds";
			return -1;
		}
		for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
			if (++fd > 6) {
				*why = "more than six fraction digits";
				return -1;
			}
			frac = frac * 10 + (s[i] - '0');
		}
		if (!fd) {
			*why = "an empty fraction";
			return -1;
		}
		for (k = fd; k < 6; k++)
			frac *= 10;
	}
	if (i < n && (s[i] == '+' || s[i] == '-')) {
		int hh, mm;

		if (n - i != 5 || (hh = digits(s + i + 1, 2)) < 0 ||
		    (mm = digits(s + i + 3, 2)) < 0 || hh > 23 || mm > 59) {
			*why = "a bad offset (+/-HHMM)";
			return -1;
		}
		off = (hh * 60 + mm) * (s[i] == '-' ? -1 : 1);
		i = n;
	}
	if (i != n) {
		*why = "trailing characters";
		return -1;
	}
	if (f[0] < 1 || f[1] < 1 || f[1] > 12 || f[2] < 1 ||
	    f[2] > mdays(f[0], f[1]) || f[3] > 23 || f[4] > 59 || f[5] > 59) {
		*why = "an impossible date or time";
		return -1;
	}
	t = ps_days_from_civil(f[0], (unsigned)f[1], (unsigned)f[2]) * 86400 +
	    f[3] * 3600 + f[4] * 60 + f[5] - (int64_t)off * 60;
	*us = t * PS_USEC_PER_SEC + frac;
	if (prec)
		*prec = (enum ps_hl7_prec)nd;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Splitting a stream into messages                                    */
/* ------------------------------------------------------------------ */

enum { S_IDLE, S_V2, S_JSON, S_JUNK, S_SKIP };

#define KEEP_OVER 256	/* bytes kept of a message over the cap */

struct ps_hl7_split {
	struct ps_buf b;
	size_t start;		/* first byte of the current unit */
	size_t pos;		/* next byte to scan */
	size_t cap;
	int eof, state, at_ls, depth, in_str, esc, bom_done;
	size_t dropped;		/* bytes cut out of an over-long unit */
	long long line, unit_line;
	char prev;
};

struct ps_hl7_split *ps_hl7_split_new(size_t max_message)
{
	struct ps_hl7_split *s = ps_xcalloc(1, sizeof(*s));

	s->cap = max_message ? max_message : 1024 * 1024;
	s->line = 1;
	return s;
}

void ps_hl7_split_free(struct ps_hl7_split *s)
{
	if (!s)
		return;
	ps_buf_release(&s->b);
	free(s);
}

void ps_hl7_split_feed(struct ps_hl7_split *s, const char *p, size_t n,
		       int eof)
{
	if (s->start > 0 && (s->start >= s->b.len / 2 || s->start > 65536)) {
		memmove(s->b.data, s->b.data + s->start, s->b.len - s->start);
		s->b.len -= s->start;
		s->pos -= s->start;
		s->start = 0;
	}
	ps_buf_add(&s->b, p, n);
	if (eof)
		s->eof = 1;
}

/* Count lines: CR, LF and CRLF each end one. */
static void count(struct ps_hl7_split *s, char c)
{
	if (c == '\r' || (c == '\n' && s->prev != '\r'))
		s->line++;
	s->prev = c;
}

static int is_batch_seg(const char *p)
{
	return !memcmp(p, "FHS", 3) || !memcmp(p, "BHS", 3) ||
	       !memcmp(p, "BTS", 3) || !memcmp(p, "FTS", 3);
}

static int emit(struct ps_hl7_split *s, size_t end, enum ps_hl7_kind k,
		enum ps_hl7_kind *kind, const char **p, size_t *n,
		size_t *full, long long *line)
{
	*kind = s->dropped ? PS_HL7_JUNK : k;
	*p = s->b.data + s->start;
	*n = end - s->start;
	*full = *n + s->dropped;
	*line = s->unit_line;
	s->start = end;
	s->pos = end;
	s->state = S_IDLE;
	s->dropped = 0;
	return 1;
}

/* Keep a unit under the cap: cut out what lies beyond KEEP_OVER bytes. */
static void bound(struct ps_hl7_split *s)
{
	size_t have = s->pos - s->start;

	if (have + s->dropped < s->cap || have <= KEEP_OVER)
		return;
	memmove(s->b.data + s->start + KEEP_OVER, s->b.data + s->pos,
		s->b.len - s->pos);
	s->dropped += have - KEEP_OVER;
	s->b.len -= have - KEEP_OVER;
	s->b.data[s->b.len] = '\0';
	s->pos = s->start + KEEP_OVER;
}

int ps_hl7_split_next(struct ps_hl7_split *s, enum ps_hl7_kind *kind,
		      const char **p, size_t *n, size_t *full,
		      long long *line)
{
	const char *d;
	size_t avail;

	for (;;) {
		d = s->b.data;
		avail = s->b.len - s->pos;
		if (s->state == S_IDLE) {
			if (!s->bom_done) {
				if (avail < 3 && !s->eof)
					return 0;
				s->bom_done = 1;
				if (avail >= 3 &&
				    !memcmp(d + s->pos, "\xEF\xBB\xBF", 3))
					s->pos += 3;
				continue;
			}
			while (s->pos < s->b.len &&
			       strchr(" \t\r\n\x0b\x1c", d[s->pos]) &&
			       d[s->pos]) {
				count(s, d[s->pos]);
				s->pos++;
			}
			s->start = s->pos;
			avail = s->b.len - s->pos;
			if (!avail)
				return 0;
			if (avail < 3 && !s->eof && d[s->pos] != '{')
				return 0;
			s->unit_line = s->line;
			if (d[s->pos] == '{') {
				s->state = S_JSON;
				s->depth = s->in_str = s->esc = 0;
			} else if (avail >= 3 && !memcmp(d + s->pos, "MSH", 3)) {
				s->state = S_V2;
				s->at_ls = 0;
				s->pos += 3;
			} else if (avail >= 3 && is_batch_seg(d + s->pos)) {
				s->state = S_SKIP;
			} else {
				s->state = S_JUNK;
			}
			continue;
		}
		if (s->state == S_JSON) {
			while (s->pos < s->b.len) {
				char c = d[s->pos];

				count(s, c);
				s->pos++;
				if (s->in_str) {
					if (s->esc)
						s->esc = 0;
					else if (c == '\\')
						s->esc = 1;
					else if (c == '"')
						s->in_str = 0;
				} else if (c == '"') {
					s->in_str = 1;
				} else if (c == '{' || c == '[') {
					s->depth++;
				} else if ((c == '}' || c == ']') &&
					   --s->depth == 0) {
					return emit(s, s->pos, PS_HL7_JSON,
						    kind, p, n, full, line);
				}
				if (s->pos - s->start >= s->cap) {
					bound(s);
					d = s->b.data;
				}
			}
			if (s->eof && s->pos > s->start)
				return emit(s, s->pos, PS_HL7_JSON, kind, p, n,
					    full, line);
			return 0;
		}
		if (s->state == S_V2) {
			while (s->pos < s->b.len) {
				char c = d[s->pos];

				if (s->at_ls && c != '\r' && c != '\n') {
					if (c == 0x1c || c == 0x0b || c == '{')
						return emit(s, s->pos,
							    PS_HL7_V2, kind, p,
							    n, full, line);
					if (s->b.len - s->pos < 3 && !s->eof)
						return 0;
					if (s->b.len - s->pos >= 3 &&
					    (!memcmp(d + s->pos, "MSH", 3) ||
					     is_batch_seg(d + s->pos)))
						return emit(s, s->pos,
							    PS_HL7_V2, kind, p,
							    n, full, line);
					s->at_ls = 0;
				}
				if (c == 0x1c)
					return emit(s, s->pos, PS_HL7_V2, kind,
						    p, n, full, line);
				if (c == '\r' || c == '\n')
					s->at_ls = 1;
				count(s, c);
				s->pos++;
				if (s->pos - s->start >= s->cap) {
					bound(s);
					d = s->b.data;
				}
			}
			if (s->eof)
				return emit(s, s->pos, PS_HL7_V2, kind, p, n,
					    full, line);
			return 0;
		}
		/* S_JUNK, S_SKIP: to the end of the line */
		while (s->pos < s->b.len && d[s->pos] != '\r' &&
		       d[s->pos] != '\n') {
			s->pos++;
			if (s->pos - s->start >= s->cap) {
				bound(s);
				d = s->b.data;
			}
		}
		if (s->pos == s->b.len && !s->eof)
			return 0;
		if (s->state == S_JUNK)
			return emit(s, s->pos, PS_HL7_JUNK, kind, p, n, full,
				    line);
		s->start = s->pos;
		s->state = S_IDLE;
	}
}

/* test_ndjson.c - the capped NDJSON line reader (lib/ndjson.h). */
#include <criterion/criterion.h>
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "ndjson.h"
#include "banned.h"

/* A source that hands out at most k bytes per call. */
struct src {
	const char *p;
	size_t n, pos, k;
	int fail_errno;		/* after the data: -1 with this errno */
	int eintr_left;		/* return EINTR this many times first */
	int calls;
};

static ssize_t src_read(void *ctx, void *buf, size_t n)
{
	struct src *s = ctx;
	size_t m = s->n - s->pos;

	s->calls++;
	if (s->eintr_left > 0) {
		s->eintr_left--;
		errno = EINTR;
		return -1;
	}
	if (m == 0 && s->fail_errno) {
		errno = s->fail_errno;
		return -1;
	}
	if (m > n)
		m = n;
	if (m > s->k)
		m = s->k;
	memcpy(buf, s->p + s->pos, m);
	s->pos += m;
	return (ssize_t)m;
}

/* Describe every line the reader returns, so runs can be compared. */
static void describe(const char *p, size_t n, size_t k, size_t max,
		     struct ps_buf *out)
{
	struct src s = { p, n, 0, k, 0, 0, 0 };
	struct ps_ndjson *r = ps_ndjson_new(src_read, &s, max);
	struct ps_line l;
	struct ps_error e = { 0, "" };
	int rc;
	size_t i;

	while ((rc = ps_ndjson_next(r, &l, &e)) == 1) {
		ps_buf_addf(out, "#%lld long=%d len=%zu full=%zu off=%llu ",
			    l.lineno, l.too_long, l.len, l.full_len,
			    ps_ndjson_offset(r));
		for (i = 0; i < l.len; i++)
			ps_buf_addf(out, "%02x", (unsigned char)l.data[i]);
		ps_buf_addc(out, '\n');
	}
	ps_buf_addf(out, "end rc=%d off=%llu\n", rc, ps_ndjson_offset(r));
	ps_ndjson_free(r);
}

static void hex(struct ps_buf *b, const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		ps_buf_addf(b, "%02x", (unsigned char)p[i]);
}

/* Every chunk size from 1 to n gives the one-shot result. */
static void check_all_chunks(const char *p, size_t n, size_t max,
			     const char *expect)
{
	struct ps_buf one = PS_BUF_INIT, got = PS_BUF_INIT;
	size_t k;

	describe(p, n, n ? n : 1, max, &one);
	if (expect)
		cr_assert_str_eq(one.data, expect);
	for (k = 1; k <= n + 1; k++) {
		ps_buf_reset(&got);
		describe(p, n, k, max, &got);
		if (strcmp(got.data, one.data))
			cr_assert_str_eq(got.data, one.data,
					 "chunk size %zu differs", k);
	}
	ps_buf_release(&one);
	ps_buf_release(&got);
}

static const char nasty[] =
	"\xef\xbb\xbf{\"a\":1}\r\n"	/* BOM and CRLF on line 1 */
	"\r\n"				/* empty (CRLF) */
	"\n"				/* empty */
	"abc\0def\n"			/* NUL inside */
	"0123456789abcdef\r\n"		/* over the cap of 8 */
	"\xef\xbb\xbfx\n"		/* BOM kept after line 1 */
	"a\rb\n"			/* lone CR inside kept */
	"12345678\r\n"			/* exactly the cap after CR */
	"123456789\n"			/* cap + 1 */
	"last\r";			/* no newline, lone CR at EOF */

Test(ndjson, nasty_corpus_one_shot_and_every_chunk_size)
{
	struct ps_buf e = PS_BUF_INIT;

	ps_buf_adds(&e, "#1 long=0 len=7 full=7 off=12 ");
	hex(&e, "{\"a\":1}", 7);
	ps_buf_adds(&e, "\n#2 long=0 len=0 full=0 off=14 \n");
	ps_buf_adds(&e, "#3 long=0 len=0 full=0 off=15 \n");
	ps_buf_adds(&e, "#4 long=0 len=7 full=7 off=23 ");
	hex(&e, "abc\0def", 7);
	ps_buf_adds(&e, "\n#5 long=1 len=8 full=16 off=41 ");
	hex(&e, "01234567", 8);
	ps_buf_adds(&e, "\n#6 long=0 len=4 full=4 off=46 ");
	hex(&e, "\xef\xbb\xbfx", 4);
	ps_buf_adds(&e, "\n#7 long=0 len=3 full=3 off=50 ");
	hex(&e, "a\rb", 3);
	ps_buf_adds(&e, "\n#8 long=0 len=8 full=8 off=60 ");
	hex(&e, "12345678", 8);
	ps_buf_adds(&e, "\n#9 long=1 len=8 full=9 off=70 ");
	hex(&e, "12345678", 8);
	ps_buf_adds(&e, "\n#10 long=0 len=4 full=4 off=75 ");
	hex(&e, "last", 4);
	ps_buf_adds(&e, "\nend rc=0 off=75\n");
	check_all_chunks(nasty, sizeof(nasty) - 1, 8, e.data);
	ps_buf_release(&e);
}

Test(ndjson, small_inputs_every_chunk_size)
{
	check_all_chunks("", 0, 8, "end rc=0 off=0\n");
	check_all_chunks("\n", 1, 8,
			 "#1 long=0 len=0 full=0 off=1 \nend rc=0 off=1\n");
	check_all_chunks("\r", 1, 8,
			 "#1 long=0 len=0 full=0 off=1 \nend rc=0 off=1\n");
	check_all_chunks("\xef\xbb\xbf", 3, 8,
			 "#1 long=0 len=0 full=0 off=3 \nend rc=0 off=3\n");
	check_all_chunks("x", 1, 8,
			 "#1 long=0 len=1 full=1 off=1 78\nend rc=0 off=1\n");
	check_all_chunks("\0", 1, 8,
			 "#1 long=0 len=1 full=1 off=1 00\nend rc=0 off=1\n");
	check_all_chunks("\n\n", 2, 8,
			 "#1 long=0 len=0 full=0 off=1 \n"
			 "#2 long=0 len=0 full=0 off=2 \nend rc=0 off=2\n");
}

/*
 * Lines longer than the reader's whole buffer (64 KiB at least) take the
 * bounded path: the same answers as short over-long lines, CR and BOM
 * stripped the same way, and the same for every chunk size.
 */
Test(ndjson, lines_longer_than_the_buffer_every_chunk_size)
{
	struct ps_buf in = PS_BUF_INIT, e = PS_BUF_INIT;
	size_t i;

	ps_buf_adds(&in, "\xef\xbb\xbf");
	for (i = 0; i < 70000; i++)
		ps_buf_addc(&in, (char)('a' + i % 26));
	ps_buf_adds(&in, "\r\nok\n");
	for (i = 0; i < 69999; i++)
		ps_buf_addc(&in, 'z');
	ps_buf_adds(&in, "\r");		/* lone CR at EOF */

	ps_buf_adds(&e, "#1 long=1 len=8 full=70000 off=70005 ");
	hex(&e, "abcdefgh", 8);
	ps_buf_adds(&e, "\n#2 long=0 len=2 full=2 off=70008 ");
	hex(&e, "ok", 2);
	ps_buf_adds(&e, "\n#3 long=1 len=8 full=69999 off=140008 ");
	hex(&e, "zzzzzzzz", 8);
	ps_buf_adds(&e, "\nend rc=0 off=140008\n");
	check_all_chunks(in.data, in.len, 8, e.data);
	ps_buf_release(&in);
	ps_buf_release(&e);
}

/* Around a cap larger than the minimum buffer: cap-1 .. cap+2. */
Test(ndjson, lines_around_a_large_cap)
{
	size_t max = 70000, sizes[] = { 1, 2, 3, 7, 4096, 65536, 69999,
		70000, 70001, 70002, 70003, 70005, 1 << 20 };
	struct ps_buf in = PS_BUF_INIT, one = PS_BUF_INIT,
		      got = PS_BUF_INIT;
	struct src s;
	struct ps_ndjson *r;
	struct ps_line l;
	struct ps_error e = { 0, "" };
	size_t len, i, k;
	int crlf, first;

	/* BOM + line of cap+1 with CRLF first: too long by one. */
	for (first = 0; first < 2; first++) {
		ps_buf_reset(&in);
		if (first == 0)
			ps_buf_adds(&in, "\xef\xbb\xbf");
		for (len = max - 1; len <= max + 2; len++)
			for (crlf = 0; crlf < 2; crlf++) {
				for (i = 0; i < len; i++)
					ps_buf_addc(&in, (char)('0' + i % 10));
				ps_buf_adds(&in, crlf ? "\r\n" : "\n");
			}
		s = (struct src){ in.data, in.len, 0, in.len, 0, 0, 0 };
		r = ps_ndjson_new(src_read, &s, max);
		for (len = max - 1; len <= max + 2; len++)
			for (crlf = 0; crlf < 2; crlf++) {
				cr_assert_eq(ps_ndjson_next(r, &l, &e), 1);
				cr_assert_eq(l.full_len, len,
					     "len %zu crlf %d bom %d: full %zu",
					     len, crlf, !first, l.full_len);
				cr_assert_eq(l.too_long, len > max);
				cr_assert_eq(l.len, len > max ? max : len);
				cr_assert_eq(l.data[0], '0');
				cr_assert_eq(l.data[l.len - 1],
					     (char)('0' + (l.len - 1) % 10));
			}
		cr_assert_eq(ps_ndjson_next(r, &l, &e), 0);
		cr_assert_eq(ps_ndjson_offset(r), in.len);
		ps_ndjson_free(r);

		ps_buf_reset(&one);
		describe(in.data, in.len, in.len, max, &one);
		for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
			ps_buf_reset(&got);
			describe(in.data, in.len, sizes[k], max, &got);
			cr_assert(!strcmp(got.data, one.data),
				  "chunk size %zu differs", sizes[k]);
		}
	}
	ps_buf_release(&in);
	ps_buf_release(&one);
	ps_buf_release(&got);
}

/* A source that makes one endless line of n bytes without storing it. */
struct gen {
	size_t left;
	size_t peak;
};

static ssize_t gen_read(void *ctx, void *buf, size_t n)
{
	struct gen *g = ctx;
	struct mallinfo2 mi = mallinfo2();

	if (mi.uordblks > g->peak)
		g->peak = mi.uordblks;
	if (g->left == 0)
		return 0;
	if (n > g->left)
		n = g->left;
	memset(buf, 'x', n);
	g->left -= n;
	if (g->left == 0)
		((char *)buf)[n - 1] = '\n';
	return (ssize_t)n;
}

Test(ndjson, memory_stays_bounded_for_a_huge_line)
{
	struct gen g = { 64u << 20, 0 };
	struct ps_ndjson *r;
	struct ps_line l;
	struct ps_error e = { 0, "" };
	size_t base = mallinfo2().uordblks;

	r = ps_ndjson_new(gen_read, &g, 1024);
	cr_assert_eq(ps_ndjson_next(r, &l, &e), 1);
	cr_assert(l.too_long);
	cr_assert_eq(l.len, 1024);
	cr_assert_eq(l.full_len, (64u << 20) - 1);
	cr_assert_eq(ps_ndjson_next(r, &l, &e), 0);
	ps_ndjson_free(r);
	/* 64 MiB went through; the reader held well under 1 MiB. */
	cr_assert_lt(g.peak > base ? g.peak - base : 0, 1u << 20,
		     "peak heap %zu", g.peak - base);
}

Test(ndjson, default_cap_is_one_mebibyte)
{
	struct gen g = { (1u << 20) + 2, 0 };
	struct ps_ndjson *r = ps_ndjson_new(gen_read, &g, 0);
	struct ps_line l;
	struct ps_error e = { 0, "" };

	cr_assert_eq(ps_ndjson_next(r, &l, &e), 1);
	cr_assert(l.too_long);
	cr_assert_eq(l.len, PS_NDJSON_DEFAULT_MAX);
	cr_assert_eq(l.full_len, (1u << 20) + 1);
	ps_ndjson_free(r);
}

Test(ndjson, read_error_is_ioerr)
{
	struct src s = { "a\nb", 3, 0, 100, EIO, 0, 0 };
	struct ps_ndjson *r = ps_ndjson_new(src_read, &s, 0);
	struct ps_line l;
	struct ps_error e = { 0, "" };

	cr_assert_eq(ps_ndjson_next(r, &l, &e), 1);
	cr_assert_eq(l.len, 1);
	cr_assert_eq(l.data[0], 'a');
	cr_assert_eq(ps_ndjson_next(r, &l, &e), -1);
	cr_assert_eq(e.code, 74);
	cr_assert_eq(e.code, PS_EX_IOERR);
	cr_assert(strstr(e.msg, strerror(EIO)), "%s", e.msg);
	cr_assert(!strchr(e.msg, '\n'));
	ps_ndjson_free(r);
}

Test(ndjson, eintr_is_retried_without_a_flag)
{
	struct src s = { "a\nb\n", 4, 0, 100, 0, 3, 0 };
	struct ps_ndjson *r = ps_ndjson_new(src_read, &s, 0);
	struct ps_line l;
	struct ps_error e = { 0, "" };
	volatile int flag = 0;

	ps_ndjson_set_interrupt(r, &flag);
	cr_assert_eq(ps_ndjson_next(r, &l, &e), 1);
	cr_assert_eq(l.data[0], 'a');
	cr_assert_eq(s.eintr_left, 0);
	cr_assert_eq(ps_ndjson_next(r, &l, &e), 1);
	cr_assert_eq(ps_ndjson_next(r, &l, &e), 0);
	ps_ndjson_free(r);
}

Test(ndjson, eintr_with_the_flag_set_stops)
{
	struct src s = { "a\nb\n", 4, 0, 2, 0, 0, 0 };
	struct ps_ndjson *r = ps_ndjson_new(src_read, &s, 0);
	struct ps_line l;
	struct ps_error e = { 99, "x" };
	volatile int flag = 0;

	ps_ndjson_set_interrupt(r, &flag);
	cr_assert_eq(ps_ndjson_next(r, &l, &e), 1);
	flag = 1;
	s.eintr_left = 1000;
	errno = 0;
	cr_assert_eq(ps_ndjson_next(r, &l, &e), -1);
	cr_assert_eq(errno, EINTR);
	cr_assert_eq(e.code, 0);
	cr_assert_eq(s.eintr_left, 999, "stopped at the first EINTR");
	/* Once the flag is cleared, reading goes on where it was. */
	flag = 0;
	s.eintr_left = 0;
	cr_assert_eq(ps_ndjson_next(r, &l, &e), 1);
	cr_assert_eq(l.len, 1);
	cr_assert_eq(l.data[0], 'b');
	cr_assert_eq(l.lineno, 2);
	ps_ndjson_free(r);
}

Test(ndjson, reads_a_file_descriptor)
{
	char path[] = "/tmp/ps-test-ndjson-XXXXXX";
	int fd = mkstemp(path);
	struct ps_ndjson *r;
	struct ps_line l;
	struct ps_error e = { 0, "" };

	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, "{}\r\n\n[1]", 8), 8);
	cr_assert_eq(lseek(fd, 0, SEEK_SET), 0);
	r = ps_ndjson_new_fd(fd, 0);
	cr_assert_eq(ps_ndjson_next(r, &l, &e), 1);
	cr_assert(l.len == 2 && !memcmp(l.data, "{}", 2));
	cr_assert_eq(ps_ndjson_next(r, &l, &e), 1);
	cr_assert_eq(l.len, 0);
	cr_assert_eq(ps_ndjson_next(r, &l, &e), 1);
	cr_assert(l.len == 3 && !memcmp(l.data, "[1]", 3));
	cr_assert_eq(l.lineno, 3);
	cr_assert_eq(ps_ndjson_next(r, &l, &e), 0);
	cr_assert_eq(ps_ndjson_next(r, &l, &e), 0, "EOF is sticky");
	cr_assert_eq(ps_ndjson_offset(r), 8);
	ps_ndjson_free(r);
	ps_ndjson_free(NULL);
	close(fd);
	unlink(path);
}

static int collect(void *ctx, const char *line, size_t n, char *why,
		   size_t whylen)
{
	struct ps_buf *b = ctx;

	if (n >= 3 && !memcmp(line, "bad", 3)) {
		snprintf(why, whylen, "rejected");
		return -1;
	}
	ps_buf_add(b, line, n);
	ps_buf_addc(b, '|');
	return 0;
}

Test(ndjson, config_file_lines)
{
	char path[] = "/tmp/ps-config-XXXXXX";
	int fd = mkstemp(path);
	struct ps_buf b = PS_BUF_INIT;
	struct ps_error e = { 0, "" };
	static const char text[] = "# comment\n\n  {\"a\":1}\r\n\t# indented "
				   "comment\n{\"b\":2}\nbad line\n{\"c\":3}";

	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, text, sizeof(text) - 1),
		     (ssize_t)(sizeof(text) - 1));
	close(fd);
	cr_assert_eq(ps_ndjson_config(path, collect, &b, &e), -1);
	cr_assert_eq(e.code, 78);
	cr_assert(strstr(e.msg, ":6: rejected"), "%s", e.msg);
	cr_assert_str_eq(b.data, "{\"a\":1}|{\"b\":2}|", "lines before the bad one");
	ps_buf_release(&b);
	cr_assert_eq(ps_ndjson_config("/nonexistent/x", collect, &b, &e), -1);
	cr_assert_eq(e.code, 66);
	unlink(path);
}

/*
 * The shared cap PS_LINE_MAX costs nothing for short lines: the buffer
 * grows only while a line needs it, and a line under the cap comes whole.
 */
Test(ndjson, buffer_grows_to_the_cap_only_when_needed)
{
	struct gen g = { 32u << 20, 0 };
	struct ps_ndjson *r;
	struct ps_line l;
	struct ps_error e = { 0, "" };
	size_t base = mallinfo2().uordblks;
	char in[] = "{\"a\":1}\n{\"b\":2}\n";
	struct src s = { in, sizeof(in) - 1, 0, sizeof(in) - 1, 0, 0, 0 };

	r = ps_ndjson_new(gen_read, &g, PS_LINE_MAX);
	cr_assert_eq(ps_ndjson_next(r, &l, &e), 1);
	cr_assert(!l.too_long);
	cr_assert_eq(l.len, (32u << 20) - 1);
	cr_assert_eq(ps_ndjson_next(r, &l, &e), 0);
	ps_ndjson_free(r);

	r = ps_ndjson_new(src_read, &s, PS_LINE_MAX);
	cr_assert_eq(ps_ndjson_next(r, &l, &e), 1);
	cr_assert_eq(l.len, 7);
	cr_assert_lt(mallinfo2().uordblks - base, 2u << 20,
		     "a reader of short lines holds %zu bytes",
		     mallinfo2().uordblks - base);
	ps_ndjson_free(r);
}

/* The unterminated flag of each line of p, as a string of 0/1. */
static void cut_flags(const char *p, size_t n, size_t k, size_t max,
		      char *out)
{
	struct src s = { p, n, 0, k, 0, 0, 0 };
	struct ps_ndjson *r = ps_ndjson_new(src_read, &s, max);
	struct ps_line l;
	struct ps_error e = { 0, "" };

	while (ps_ndjson_next(r, &l, &e) == 1)
		*out++ = l.unterminated ? '1' : '0';
	*out = '\0';
	ps_ndjson_free(r);
}

/* Only a last line cut by the end of input, short or over the cap. */
Test(ndjson, unterminated_marks_only_a_cut_last_line)
{
	static const struct {
		const char *in;
		size_t max;
		const char *want;
	} c[] = {
		{ "a\nb", 8, "01" }, { "a\nb\n", 8, "00" }, { "a\n\n", 8, "00" },
		{ "x\r", 8, "1" }, { "x\r\n", 8, "0" },
		{ "\xef\xbb\xbf{}", 8, "1" },
		{ "0123456789abcdef\nxy", 16, "01" },
		{ "0123456789abcdefgh\n", 16, "0" },
		{ "0123456789abcdefgh", 16, "1" },
	};
	char got[8];
	size_t i, k;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		for (k = 1; k <= strlen(c[i].in) + 1; k++) {
			cut_flags(c[i].in, strlen(c[i].in), k, c[i].max, got);
			cr_expect_str_eq(got, c[i].want, "case %zu chunk %zu",
					 i, k);
		}
}

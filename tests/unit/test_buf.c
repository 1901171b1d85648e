/* test_buf.c - the growable byte buffer (lib/buf.h). */
#include <criterion/criterion.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "banned.h"

Test(buf, add_keeps_nul_termination_and_embedded_nuls)
{
	struct ps_buf b = PS_BUF_INIT;

	cr_assert_null(b.data);
	ps_buf_add(&b, "a\0b", 3);
	cr_assert_eq(b.len, 3);
	cr_assert(!memcmp(b.data, "a\0b", 4));
	ps_buf_addc(&b, 'c');
	ps_buf_adds(&b, "de");
	cr_assert_eq(b.len, 6);
	cr_assert(!memcmp(b.data, "a\0bcde", 7));
	cr_assert_lt(b.len, b.cap);
	ps_buf_reset(&b);
	cr_assert_eq(b.len, 0);
	cr_assert_str_eq(b.data, "");
	ps_buf_release(&b);
	cr_assert_null(b.data);
	cr_assert_eq(b.len + b.cap, 0);
	ps_buf_release(&b);		/* twice is fine */
	ps_buf_reset(&b);		/* on an empty buffer too */
}

Test(buf, grows_across_many_sizes)
{
	struct ps_buf b = PS_BUF_INIT;
	size_t i;

	for (i = 0; i < 100000; i++)
		ps_buf_addc(&b, (char)('a' + i % 26));
	cr_assert_eq(b.len, 100000);
	for (i = 0; i < 100000; i++)
		cr_assert_eq(b.data[i], (char)('a' + i % 26));
	cr_assert_eq(b.data[b.len], '\0');
	ps_buf_grow(&b, 1 << 20);
	cr_assert_geq(b.cap - b.len, (1u << 20) + 1);
	ps_buf_release(&b);
}

Test(buf, addf_formats_and_appends)
{
	struct ps_buf b = PS_BUF_INIT;
	char big[1000];

	ps_buf_addf(&b, "%d-%s", 42, "x");
	cr_assert_str_eq(b.data, "42-x");
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ps_buf_addf(&b, "[%s]", big);
	cr_assert_eq(b.len, 4 + 2 + 999);
	cr_assert_eq(b.data[b.len - 1], ']');
	cr_assert_eq(b.data[b.len], '\0');
	ps_buf_addf(&b, "%s", "");
	cr_assert_eq(b.len, 1005);
	ps_buf_release(&b);
	ps_buf_addf(&b, "%s", "");
	cr_assert_eq(b.len, 0);
	cr_assert_not_null(b.data);
	cr_assert_str_eq(b.data, "");
	ps_buf_release(&b);
}

Test(buf, add_i64)
{
	struct ps_buf b = PS_BUF_INIT;

	ps_buf_add_i64(&b, 0);
	ps_buf_addc(&b, ' ');
	ps_buf_add_i64(&b, -1);
	ps_buf_addc(&b, ' ');
	ps_buf_add_i64(&b, 1234567890123LL);
	ps_buf_addc(&b, ' ');
	ps_buf_add_i64(&b, LLONG_MAX);
	ps_buf_addc(&b, ' ');
	ps_buf_add_i64(&b, LLONG_MIN);
	cr_assert_str_eq(b.data, "0 -1 1234567890123 9223372036854775807 "
				 "-9223372036854775808");
	ps_buf_release(&b);
}

Test(buf, detach_gives_ownership)
{
	struct ps_buf b = PS_BUF_INIT;
	size_t n = 99;
	char *s;

	s = ps_buf_detach(&b, &n);
	cr_assert_str_eq(s, "", "empty buffer detaches as \"\"");
	cr_assert_eq(n, 0);
	free(s);
	ps_buf_adds(&b, "hello");
	s = ps_buf_detach(&b, &n);
	cr_assert_str_eq(s, "hello");
	cr_assert_eq(n, 5);
	cr_assert_null(b.data);
	cr_assert_eq(b.len + b.cap, 0);
	free(s);
	s = ps_buf_detach(&b, NULL);
	free(s);
}

Test(buf, x_allocators)
{
	char *s = ps_xstrdup("abc"), *m = ps_xmemdup("a\0b", 3);
	int *z = ps_xcalloc(10, sizeof(int));
	void *p = ps_xmalloc(0), *q;
	int i;

	cr_assert_str_eq(s, "abc");
	cr_assert(!memcmp(m, "a\0b\0", 4), "memdup adds a NUL");
	for (i = 0; i < 10; i++)
		cr_assert_eq(z[i], 0);
	cr_assert_not_null(p, "malloc(0) gives a pointer");
	q = ps_xrealloc(p, 100);
	cr_assert_not_null(q);
	q = ps_xrealloc(q, 0);
	cr_assert_not_null(q);
	free(q);
	free(s);
	free(m);
	free(z);
}

Test(buf, out_of_memory_aborts, .signal = SIGABRT)
{
	struct ps_buf b = PS_BUF_INIT;

	freopen("/dev/null", "w", stderr);	/* quiet the message */
	dup2(fileno(stderr), 2);
	ps_buf_add(&b, "x", 1);
	ps_buf_grow(&b, (size_t)-1 - 1);	/* overflows: fatal */
}

/* test_base64.c - standard padded base64 (lib/base64.h). */
#include <criterion/criterion.h>
#include <string.h>

#include "base64.h"
#include "buf.h"
#include "rand.h"
#include "banned.h"

/* RFC 4648, section 10. */
static const char *const vec[][2] = {
	{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy" },
};

Test(base64, rfc4648_vectors_encode)
{
	struct ps_buf b = PS_BUF_INIT;
	size_t i;

	for (i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		ps_buf_reset(&b);
		ps_buf_adds(&b, "pre:");
		ps_base64_encode(&b, vec[i][0], strlen(vec[i][0]));
		cr_assert_eq(b.len, 4 + strlen(vec[i][1]));
		cr_assert_str_eq(b.data + 4, vec[i][1], "appends");
	}
	ps_buf_release(&b);
}

Test(base64, rfc4648_vectors_decode)
{
	struct ps_buf b = PS_BUF_INIT;
	size_t i;

	for (i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		ps_buf_reset(&b);
		ps_buf_adds(&b, "pre:");
		cr_assert_eq(ps_base64_decode(&b, vec[i][1],
					      strlen(vec[i][1])), 0);
		cr_assert_eq(b.len, 4 + strlen(vec[i][0]));
		cr_assert_str_eq(b.data + 4, vec[i][0]);
	}
	ps_buf_release(&b);
}

Test(base64, binary_round_trip_all_lengths)
{
	struct ps_buf in = PS_BUF_INIT, enc = PS_BUF_INIT, dec = PS_BUF_INIT;
	struct ps_rand r;
	size_t n, i;

	ps_rand_seed(&r, 64);
	for (n = 0; n < 300; n++) {
		ps_buf_reset(&in);
		ps_buf_reset(&enc);
		ps_buf_reset(&dec);
		for (i = 0; i < n; i++)
			ps_buf_addc(&in, (char)ps_rand_below(&r, 256));
		ps_base64_encode(&enc, in.data ? in.data : "", n);
		cr_assert_eq(enc.len, (n + 2) / 3 * 4);
		cr_assert_eq(strlen(enc.data ? enc.data : ""), enc.len);
		cr_assert_eq(ps_base64_decode(&dec, enc.data ? enc.data : "",
					      enc.len), 0);
		cr_assert_eq(dec.len, n);
		cr_assert(!n || !memcmp(dec.data, in.data, n));
	}
	ps_buf_reset(&enc);
	ps_base64_encode(&enc, "\xfb\xff\xbf", 3);
	cr_assert_str_eq(enc.data, "+/+/", "standard alphabet, not URL");
	ps_buf_release(&in);
	ps_buf_release(&enc);
	ps_buf_release(&dec);
}

Test(base64, invalid_inputs_rejected)
{
	const char *bad[] = {
		"Zg", "Zg=", "Zm9vY", "Z===", "====", "=Zg=", "Zg==Zg==",
		"Zm9v Yg==", "Zm9v\nYg==", "Zm9-", "Zm9_", "Zm=v", "Zg=A",
		"Zm9vYg=", "Zm9vYg===", "Zm\x80v", "Zm9vYmFy=",
	};
	struct ps_buf b = PS_BUF_INIT;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ps_buf_reset(&b);
		cr_assert_eq(ps_base64_decode(&b, bad[i], strlen(bad[i])), -1,
			     "accepted '%s'", bad[i]);
	}
	/* Embedded NUL. */
	cr_assert_eq(ps_base64_decode(&b, "Zm\0v", 4), -1);
	ps_buf_release(&b);
}

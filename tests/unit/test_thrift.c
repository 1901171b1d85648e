/* test_thrift.c - Thrift compact protocol encoder/decoder (lib/thrift.h). */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "thrift.h"
#include "banned.h"

static const int64_t edge[] = {
	0, 1, -1, 2, -2, 63, -64, 64, -65, 127, 128, -128, -129, 255, 256,
	8191, 8192, -8192, -8193, 16383, 16384, INT16_MAX, INT16_MIN,
	INT32_MAX, INT32_MIN, (int64_t)INT32_MAX + 1, (int64_t)INT32_MIN - 1,
	INT64_MAX, INT64_MIN, INT64_MAX - 1, INT64_MIN + 1,
	0x7fffffffffffffLL, -0x80000000000000LL,
};
#define NEDGE (sizeof(edge) / sizeof(edge[0]))

Test(thrift, zigzag_known_bytes)
{
	struct ps_buf b = PS_BUF_INIT;

	/* zigzag: 0->0, -1->1, 1->2, -2->3, 2147483647->4294967294 */
	ps_thrift_put_zigzag(&b, 0);
	ps_thrift_put_zigzag(&b, -1);
	ps_thrift_put_zigzag(&b, 1);
	ps_thrift_put_zigzag(&b, -2);
	ps_thrift_put_zigzag(&b, -64);
	ps_thrift_put_zigzag(&b, 64);
	cr_assert_eq(b.len, 7);
	cr_assert_eq(memcmp(b.data, "\x00\x01\x02\x03\x7f\x80\x01", 7), 0);
	ps_buf_reset(&b);
	ps_thrift_put_varint(&b, UINT64_MAX);
	cr_assert_eq(b.len, 10);
	cr_assert_eq((uint8_t)b.data[9], 0x01);
	ps_buf_release(&b);
}

Test(thrift, varint_zigzag_round_trip_edges)
{
	struct ps_buf b = PS_BUF_INIT;
	struct ps_thrift_r r;
	size_t i;

	for (i = 0; i < NEDGE; i++) {
		ps_thrift_put_zigzag(&b, edge[i]);
		ps_thrift_put_varint(&b, (uint64_t)edge[i]);
	}
	ps_thrift_r_init(&r, b.data, b.len);
	for (i = 0; i < NEDGE; i++) {
		cr_assert_eq(ps_thrift_get_int(&r, PS_THRIFT_I64), edge[i],
			     "edge %zu", i);
		cr_assert_eq(ps_thrift_get_varint(&r), (uint64_t)edge[i]);
	}
	cr_assert_null(r.why);
	cr_assert_eq(r.p, r.end);
	ps_buf_release(&b);
}

Test(thrift, varint_overflow_and_truncation_fail)
{
	/* 11 continuation bytes: too long. */
	static const uint8_t too_long[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
					    0xff, 0xff, 0xff, 0xff, 0x01 };
	static const uint8_t over[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
					0xff, 0xff, 0xff, 0x7f };
	static const uint8_t cut[] = { 0x80, 0x80 };
	struct ps_thrift_r r;

	ps_thrift_r_init(&r, too_long, sizeof(too_long));
	ps_thrift_get_varint(&r);
	cr_assert_not_null(r.why);
	ps_thrift_r_init(&r, over, sizeof(over));
	ps_thrift_get_varint(&r);
	cr_assert_not_null(r.why);
	ps_thrift_r_init(&r, cut, sizeof(cut));
	cr_assert_eq(ps_thrift_get_varint(&r), 0);
	cr_assert_not_null(r.why);
}

Test(thrift, i32_range_is_checked)
{
	struct ps_buf b = PS_BUF_INIT;
	struct ps_thrift_r r;

	ps_thrift_put_zigzag(&b, (int64_t)INT32_MAX + 1);
	ps_thrift_r_init(&r, b.data, b.len);
	ps_thrift_get_int(&r, PS_THRIFT_I32);
	cr_assert_not_null(r.why);
	ps_buf_release(&b);
}

/* A struct with every field kind, long and short field-id deltas,
 * a nested struct, a list of structs and a list of strings. */
static void encode_sample(struct ps_buf *b)
{
	struct ps_thrift_w w;
	int i;

	ps_thrift_w_init(&w, b);
	ps_thrift_i32(&w, 1, -7);
	ps_thrift_i64(&w, 2, INT64_MIN);
	ps_thrift_bool(&w, 3, 1);
	ps_thrift_bool(&w, 4, 0);
	ps_thrift_string(&w, 5, "héllo");
	ps_thrift_double(&w, 6, -2.5);
	ps_thrift_i32(&w, 40, 99);		/* long delta */
	ps_thrift_begin(&w, 41);
	ps_thrift_i32(&w, 1, 1);
	ps_thrift_begin(&w, 2);
	ps_thrift_end(&w);
	ps_thrift_end(&w);
	ps_thrift_list(&w, 42, PS_THRIFT_STRUCT, 20);	/* long list */
	for (i = 0; i < 20; i++) {
		ps_thrift_begin(&w, 0);
		ps_thrift_i64(&w, 7, i * 1000LL);
		ps_thrift_end(&w);
	}
	ps_thrift_list(&w, 43, PS_THRIFT_BINARY, 2);
	ps_thrift_put_binary(b, "a", 1);
	ps_thrift_put_binary(b, "", 0);
	ps_thrift_i32(&w, 3000, 5);		/* id > 255 */
	ps_thrift_end(&w);
}

Test(thrift, struct_round_trip)
{
	struct ps_buf b = PS_BUF_INIT;
	struct ps_thrift_r r;
	enum ps_thrift_type t, et;
	const uint8_t *p;
	int16_t id;
	size_t n, i;
	int seen = 0;

	encode_sample(&b);
	ps_thrift_r_init(&r, b.data, b.len);
	while (ps_thrift_next(&r, &t, &id)) {
		seen++;
		switch (id) {
		case 1:
			cr_assert_eq(ps_thrift_get_int(&r, t), -7);
			break;
		case 2:
			cr_assert_eq(ps_thrift_get_int(&r, t), INT64_MIN);
			break;
		case 3:
			cr_assert_eq(ps_thrift_get_bool(&r, t, 0), 1);
			break;
		case 4:
			cr_assert_eq(ps_thrift_get_bool(&r, t, 0), 0);
			break;
		case 5:
			n = ps_thrift_get_binary(&r, &p);
			cr_assert_eq(n, strlen("héllo"));
			cr_assert_eq(memcmp(p, "héllo", n), 0);
			break;
		case 6:
			cr_assert_eq(t, PS_THRIFT_DOUBLE);
			cr_assert(ps_thrift_get_double(&r) == -2.5);
			break;
		case 40:
			cr_assert_eq(ps_thrift_get_int(&r, t), 99);
			break;
		case 41:
			cr_assert_eq(t, PS_THRIFT_STRUCT);
			ps_thrift_skip(&r, t);
			break;
		case 42:
			n = ps_thrift_get_list(&r, &et);
			cr_assert_eq(n, 20);
			cr_assert_eq(et, PS_THRIFT_STRUCT);
			for (i = 0; i < n; i++) {
				enum ps_thrift_type t2;
				int16_t id2;

				ps_thrift_enter(&r);
				cr_assert(ps_thrift_next(&r, &t2, &id2));
				cr_assert_eq(id2, 7);
				cr_assert_eq(ps_thrift_get_int(&r, t2),
					     (int64_t)i * 1000);
				cr_assert_not(ps_thrift_next(&r, &t2, &id2));
				ps_thrift_leave(&r);
			}
			break;
		case 43:
			n = ps_thrift_get_list(&r, &et);
			cr_assert_eq(n, 2);
			cr_assert_eq(ps_thrift_get_binary(&r, &p), 1);
			cr_assert_eq(ps_thrift_get_binary(&r, &p), 0);
			break;
		case 3000:
			cr_assert_eq(ps_thrift_get_int(&r, t), 5);
			break;
		default:
			cr_assert_fail("unexpected field %d", id);
		}
	}
	cr_assert_null(r.why, "%s", r.why);
	cr_assert_eq(seen, 11);
	cr_assert_eq(r.p, r.end);
	ps_buf_release(&b);
}

Test(thrift, skip_whole_struct)
{
	struct ps_buf b = PS_BUF_INIT;
	struct ps_thrift_r r;

	ps_buf_addc(&b, 0x1c);		/* field 1: struct */
	encode_sample(&b);		/* the sample, nested */
	ps_buf_addc(&b, 0x15);		/* field 2: i32 */
	ps_buf_addc(&b, 0x02);		/* 1 */
	ps_buf_addc(&b, 0x00);
	ps_thrift_r_init(&r, b.data, b.len);
	ps_thrift_skip(&r, PS_THRIFT_STRUCT);
	cr_assert_null(r.why);
	cr_assert_eq(r.p, r.end);
	ps_buf_release(&b);
}

Test(thrift, every_truncation_fails_cleanly)
{
	struct ps_buf b = PS_BUF_INIT;
	struct ps_thrift_r r;
	size_t n;

	encode_sample(&b);
	for (n = 0; n < b.len; n++) {
		ps_thrift_r_init(&r, b.data, n);
		ps_thrift_skip(&r, PS_THRIFT_STRUCT);
		cr_assert_not_null(r.why, "prefix of %zu bytes accepted", n);
	}
	ps_buf_release(&b);
}

Test(thrift, deep_nesting_is_refused)
{
	uint8_t deep[200];
	struct ps_thrift_r r;

	memset(deep, 0x1c, sizeof(deep));	/* struct in struct in ... */
	ps_thrift_r_init(&r, deep, sizeof(deep));
	ps_thrift_skip(&r, PS_THRIFT_STRUCT);
	cr_assert_not_null(r.why);
}

Test(thrift, list_longer_than_data_is_refused)
{
	static const uint8_t l[] = { 0xf5, 0xff, 0xff, 0xff, 0x0f, 0x02 };
	struct ps_thrift_r r;
	enum ps_thrift_type et;

	ps_thrift_r_init(&r, l, sizeof(l));
	cr_assert_eq(ps_thrift_get_list(&r, &et), 0);
	cr_assert_not_null(r.why);
}

/* test_checkpoint.c - the per-source position map (lib/checkpoint.h). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "checkpoint.h"
#include "fsutil.h"
#include "seal.h"
#include "banned.h"

#define S(x) (x), strlen(x)

static char lake[64];

static void mklake(void)
{
	snprintf(lake, sizeof(lake), "/tmp/test_checkpoint.XXXXXX");
	cr_assert_not_null(mkdtemp(lake));
}

static void rmlake(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", lake);
	cr_assert_eq(system(cmd), 0);
}

Test(checkpoint, empty_map_knows_nothing)
{
	struct ps_checkpoint *cp = ps_checkpoint_new();

	cr_assert_eq(ps_checkpoint_get(cp, S("stdin:a")), -1);
	cr_assert_eq(ps_checkpoint_count(cp), 0);
	ps_checkpoint_free(cp);
	ps_checkpoint_free(NULL);
}

Test(checkpoint, set_keeps_the_maximum)
{
	struct ps_checkpoint *cp = ps_checkpoint_new();

	ps_checkpoint_set(cp, S("kafka:t/0"), 10);
	ps_checkpoint_set(cp, S("kafka:t/0"), 5);
	cr_assert_eq(ps_checkpoint_get(cp, S("kafka:t/0")), 10);
	ps_checkpoint_set(cp, S("kafka:t/0"), 11);
	cr_assert_eq(ps_checkpoint_get(cp, S("kafka:t/0")), 11);
	cr_assert_eq(ps_checkpoint_get(cp, S("kafka:t/1")), -1);
	cr_assert_eq(ps_checkpoint_count(cp), 1);
	ps_checkpoint_free(cp);
}

Test(checkpoint, sources_are_exact_bytes)
{
	struct ps_checkpoint *cp = ps_checkpoint_new();

	ps_checkpoint_set(cp, "a\0b", 3, 1);
	ps_checkpoint_set(cp, "a\0c", 3, 2);
	ps_checkpoint_set(cp, "a", 1, 3);
	cr_assert_eq(ps_checkpoint_get(cp, "a\0b", 3), 1);
	cr_assert_eq(ps_checkpoint_get(cp, "a\0c", 3), 2);
	cr_assert_eq(ps_checkpoint_get(cp, "a", 1), 3);
	cr_assert_eq(ps_checkpoint_count(cp), 3);
	ps_checkpoint_free(cp);
}

Test(checkpoint, many_sources_and_iteration_in_insertion_order)
{
	struct ps_checkpoint *cp = ps_checkpoint_new();
	const char *src;
	size_t len, i;
	long long pos;
	char name[32];

	for (i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "kafka:t/%zu", i);
		ps_checkpoint_set(cp, S(name), (long long)i * 2);
	}
	cr_assert_eq(ps_checkpoint_count(cp), 1000);
	for (i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "kafka:t/%zu", i);
		cr_assert_eq(ps_checkpoint_get(cp, S(name)), (long long)i * 2);
		cr_assert_eq(ps_checkpoint_entry(cp, i, &src, &len, &pos), 0);
		cr_assert_eq(len, strlen(name));
		cr_assert(!memcmp(src, name, len));
		cr_assert_eq(pos, (long long)i * 2);
	}
	cr_assert_eq(ps_checkpoint_entry(cp, 1000, &src, &len, &pos), -1);
	ps_checkpoint_free(cp);
}

Test(checkpoint, format_is_sorted_and_parses_back)
{
	struct ps_checkpoint *cp = ps_checkpoint_new(), *back;
	struct ps_buf b = PS_BUF_INIT;
	struct ps_error e = { 0, "" };

	ps_checkpoint_set(cp, S("stdin:b"), 7);
	ps_checkpoint_set(cp, S("kafka:x/1"), 41);
	ps_checkpoint_set(cp, S("q\"uote"), 0);
	ps_checkpoint_format(cp, &b);
	cr_assert_str_eq(b.data, "{\"version\":1,\"sources\":{"
			 "\"kafka:x/1\":{\"position\":41},"
			 "\"q\\\"uote\":{\"position\":0},"
			 "\"stdin:b\":{\"position\":7}}}\n");
	back = ps_checkpoint_new();
	cr_assert_eq(ps_checkpoint_parse(back, b.data, b.len, &e), 0, "%s",
		     e.msg);
	cr_assert_eq(ps_checkpoint_get(back, S("kafka:x/1")), 41);
	cr_assert_eq(ps_checkpoint_get(back, S("q\"uote")), 0);
	cr_assert_eq(ps_checkpoint_get(back, S("stdin:b")), 7);
	ps_buf_release(&b);
	ps_checkpoint_free(cp);
	ps_checkpoint_free(back);
}

Test(checkpoint, parse_rejects_what_is_not_a_checkpoint)
{
	static const char *bad[] = {
		"", "[]", "{}", "{\"version\":2,\"sources\":{}}",
		"{\"version\":1}", "{\"version\":1,\"sources\":[]}",
		"{\"version\":1,\"sources\":{\"a\":{}}}",
		"{\"version\":1,\"sources\":{\"a\":{\"position\":\"1\"}}}",
		"{\"version\":1,\"sources\":{\"a\":{\"position\":-5}}}",
		"{\"version\":1,\"sources\":{\"a\":{\"position\":1.5}}}",
		"{\"version\":1,", NULL
	};
	int i;

	for (i = 0; bad[i]; i++) {
		struct ps_checkpoint *cp = ps_checkpoint_new();
		struct ps_error e = { 0, "" };

		cr_assert_eq(ps_checkpoint_parse(cp, bad[i], strlen(bad[i]),
						 &e), -1, "accepted %s", bad[i]);
		cr_assert_eq(e.code, 78);
		cr_assert(strstr(e.msg, "checkpoint"), "%s", e.msg);
		ps_checkpoint_free(cp);
	}
}

Test(checkpoint, parse_ignores_unknown_members)
{
	const char *t = "{\"version\":1,\"writer\":\"x\",\"sources\":"
			"{\"a\":{\"position\":3,\"extra\":[1]}}}";
	struct ps_checkpoint *cp = ps_checkpoint_new();
	struct ps_error e = { 0, "" };

	cr_assert_eq(ps_checkpoint_parse(cp, t, strlen(t), &e), 0, "%s",
		     e.msg);
	cr_assert_eq(ps_checkpoint_get(cp, S("a")), 3);
	ps_checkpoint_free(cp);
}

Test(checkpoint, save_and_load, .init = mklake, .fini = rmlake)
{
	struct ps_checkpoint *cp = ps_checkpoint_new(), *back;
	struct ps_error e = { 0, "" };
	char *path = ps_checkpoint_path(lake, "ps-bronze", "admissions");
	struct ps_buf b = PS_BUF_INIT;
	struct stat st;

	back = ps_checkpoint_new();
	/* A missing file is an empty checkpoint. */
	cr_assert_eq(ps_checkpoint_load(back, lake, "ps-bronze", "admissions",
					&e), 0);
	cr_assert_eq(ps_checkpoint_count(back), 0);
	ps_checkpoint_set(cp, S("stdin:admissions"), 41);
	cr_assert_eq(ps_checkpoint_save(cp, lake, "ps-bronze", "admissions",
					&e), 0, "%s", e.msg);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(ps_read_file(path, &b, 1 << 20, &e), 0);
	cr_assert_str_eq(b.data, "{\"version\":1,\"sources\":{"
			 "\"stdin:admissions\":{\"position\":41}},"
			 "\"crc32\":\"693dc3c4\"}\n");
	/* Loading merges, keeping the maxima. */
	ps_checkpoint_set(back, S("stdin:admissions"), 50);
	ps_checkpoint_set(back, S("kafka:t/0"), 1);
	cr_assert_eq(ps_checkpoint_load(back, lake, "ps-bronze", "admissions",
					&e), 0);
	cr_assert_eq(ps_checkpoint_get(back, S("stdin:admissions")), 50);
	cr_assert_eq(ps_checkpoint_get(back, S("kafka:t/0")), 1);
	ps_buf_release(&b);
	free(path);
	ps_checkpoint_free(cp);
	ps_checkpoint_free(back);
}

Test(checkpoint, load_names_a_bad_file, .init = mklake, .fini = rmlake)
{
	struct ps_checkpoint *cp = ps_checkpoint_new();
	struct ps_error e = { 0, "" };
	char *path = ps_checkpoint_path(lake, "ps-silver", "s");

	cr_assert_eq(ps_write_file_atomic(path, "{nope", 5, 0644, &e), 0);
	cr_assert_eq(ps_checkpoint_load(cp, lake, "ps-silver", "s", &e), -1);
	cr_assert_eq(e.code, 78);
	cr_assert(strstr(e.msg, path), "%s", e.msg);
	free(path);
	ps_checkpoint_free(cp);
}

Test(checkpoint, save_fails_cleanly_when_it_cannot_create)
{
	struct ps_checkpoint *cp = ps_checkpoint_new();
	struct ps_error e = { 0, "" };

	ps_checkpoint_set(cp, S("a"), 1);
	cr_assert_eq(ps_checkpoint_save(cp, "/proc/nonexistent-lake", "t",
					"s", &e), -1);
	cr_assert_eq(e.code, 73, "%d %s", e.code, e.msg);
	ps_checkpoint_free(cp);
}

Test(checkpoint, path)
{
	char *p = ps_checkpoint_path("lake/", "ps-gold", "x");

	cr_assert_str_eq(p, "lake/_state/ps-gold/x.json");
	free(p);
	p = ps_checkpoint_path("lake", "ps-gold", "x");
	cr_assert_str_eq(p, "lake/_state/ps-gold/x.json");
	free(p);
}

/* Write a file in place, without fsync (thousands of variants). */
static void put(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	cr_assert_not_null(f);
	cr_assert_eq(fwrite(p, 1, n, f), n);
	cr_assert_eq(fclose(f), 0);
}

/*
 * Every state file is sealed (lib/seal.h; issue 10, item 8): each single
 * flipped bit, pairs of flipped bits, and every cut of a checkpoint file
 * are refused with 78 naming the file, never loaded.
 */
Test(checkpoint, every_flipped_bit_and_cut_is_refused, .init = mklake,
     .fini = rmlake)
{
	struct ps_checkpoint *cp = ps_checkpoint_new();
	struct ps_error e = { 0, "" };
	char *path = ps_checkpoint_path(lake, "ps-gold", "s");
	struct ps_buf good = PS_BUF_INIT;
	size_t i, j, bit;

	ps_checkpoint_set(cp, S("kafka:admissions/0"), 123456);
	ps_checkpoint_set(cp, S("stdin:admissions"), 7);
	cr_assert_eq(ps_checkpoint_save(cp, lake, "ps-gold", "s", &e), 0);
	cr_assert_eq(ps_read_file(path, &good, 1 << 20, &e), 0);
	/* every single bit; pairs on a grid (thousands, not millions) */
	for (i = 0; i < good.len * 8; i++) {
		for (j = i; j < good.len * 8; j += i % 11 ? good.len * 8 : 29) {
			char *m = ps_xmemdup(good.data, good.len);
			struct ps_checkpoint *back = ps_checkpoint_new();

			m[i / 8] ^= (char)(1 << (i % 8));
			if (j != i)
				m[j / 8] ^= (char)(1 << (j % 8));
			put(path, m, good.len);
			bit = ps_checkpoint_load(back, lake, "ps-gold", "s",
						 &e) == -1;
			cr_assert(bit, "bits %zu and %zu flipped: loaded", i,
				  j);
			cr_assert_eq(e.code, 78);
			cr_assert(strstr(e.msg, path), "%s", e.msg);
			ps_checkpoint_free(back);
			free(m);
		}
	}
	for (i = 0; i < good.len; i++) {
		struct ps_checkpoint *back = ps_checkpoint_new();

		put(path, good.data, i);
		cr_assert_eq(ps_checkpoint_load(back, lake, "ps-gold", "s",
						&e), -1, "cut at %zu", i);
		cr_assert_eq(e.code, 78);
		ps_checkpoint_free(back);
	}
	ps_buf_release(&good);
	free(path);
	ps_checkpoint_free(cp);
}

/* test_statelog.c - the checksummed append-only state log (statelog.h). */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "buf.h"
#include "fsutil.h"
#include "seal.h"
#include "statelog.h"
#include "banned.h"

static char dir[64], path[96];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/ps-test-statelog-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/s.log", dir);
}

static void teardown(void)
{
	unlink(path);
	rmdir(dir);
}

TestSuite(statelog, .init = setup, .fini = teardown);

struct seen {
	char all[256];
	size_t len;
	int n;
};

static int collect(void *ctx, const char *p, size_t n, struct ps_error *e)
{
	struct seen *s = ctx;

	(void)e;
	cr_assert_lt(s->len + n + 1, sizeof(s->all));
	memcpy(s->all + s->len, p, n);
	s->len += n;
	s->all[s->len++] = '|';
	s->all[s->len] = '\0';
	s->n++;
	return 0;
}

/* Read the log; returns what ps_statelog_read returned. */
static int readlog(struct seen *s, size_t *size, struct ps_error *e)
{
	struct ps_buf b = PS_BUF_INIT;
	int rc;

	memset(s, 0, sizeof(*s));
	rc = ps_statelog_read(path, &b, collect, s, size, e);
	ps_buf_release(&b);
	return rc;
}

static void append_raw(const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_APPEND);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, p, n), (ssize_t)n);
	close(fd);
}

static off_t file_size(void)
{
	struct stat st;

	cr_assert_eq(stat(path, &st), 0);
	return st.st_size;
}

Test(statelog, records_come_back_in_order)
{
	struct ps_error e = { 0, "" };
	struct seen s;
	size_t size;

	cr_assert_eq(readlog(&s, &size, &e), 1, "no log yet");
	cr_assert_eq(ps_statelog_append(path, "one", 3, &e), 0, "%s", e.msg);
	cr_assert_eq(ps_statelog_append(path, "", 0, &e), 0);
	cr_assert_eq(ps_statelog_append(path, "three", 5, &e), 0);
	cr_assert_eq(readlog(&s, &size, &e), 0, "%s", e.msg);
	cr_assert_eq(s.n, 3);
	cr_assert_str_eq(s.all, "one||three|");
	cr_assert_eq(size, 3 * PS_STATELOG_OVERHEAD + 8);
	cr_assert_eq((off_t)size, file_size());
}

Test(statelog, a_torn_last_record_is_cut_off_and_appends_go_on)
{
	struct ps_error e = { 0, "" };
	struct ps_buf f = PS_BUF_INIT;
	struct seen s;
	size_t size, k;
	static const char zeros[40];

	cr_assert_eq(ps_statelog_append(path, "kept", 4, &e), 0);
	ps_statelog_frame("lost record", 11, &f);
	/* every prefix of a frame, then zeros where a frame should be */
	for (k = 1; k < f.len; k++) {
		append_raw(f.data, k);
		cr_assert_eq(readlog(&s, &size, &e), 0, "prefix %zu: %s", k,
			     e.msg);
		cr_assert_str_eq(s.all, "kept|");
		cr_assert_eq(file_size(), PS_STATELOG_OVERHEAD + 4,
			     "prefix %zu cut off", k);
	}
	append_raw(zeros, sizeof(zeros));
	cr_assert_eq(readlog(&s, &size, &e), 0);
	cr_assert_str_eq(s.all, "kept|");
	cr_assert_eq(ps_statelog_append(path, "next", 4, &e), 0);
	cr_assert_eq(readlog(&s, &size, &e), 0);
	cr_assert_str_eq(s.all, "kept|next|");
	ps_buf_release(&f);
}

Test(statelog, a_damaged_record_before_others_is_corruption)
{
	struct ps_error e = { 0, "" };
	struct seen s;
	size_t size;
	int fd;

	cr_assert_eq(ps_statelog_append(path, "first", 5, &e), 0);
	cr_assert_eq(ps_statelog_append(path, "second", 6, &e), 0);
	fd = open(path, O_WRONLY);
	cr_assert_eq(pwrite(fd, "F", 1, PS_STATELOG_OVERHEAD), 1);
	close(fd);
	cr_assert_eq(readlog(&s, &size, &e), -1);
	cr_assert_eq(e.code, 78);
	cr_assert(strstr(e.msg, "corrupt at byte 0"), "%s", e.msg);
	cr_assert_eq(file_size(), 2 * PS_STATELOG_OVERHEAD + 11,
		     "nothing cut");
}

Test(statelog, file_id_matches_memory_id)
{
	struct ps_error e = { 0, "" };
	struct ps_statelog_id a, b;

	cr_assert_eq(ps_write_file_atomic(path, "snapshot", 8, 0644, &e), 0);
	cr_assert_eq(ps_statelog_file_id(path, &a, &e), 0, "%s", e.msg);
	ps_statelog_mem_id("snapshot", 8, &b);
	cr_assert_eq(a.crc, b.crc);
	cr_assert_eq(a.size, 8);
	ps_statelog_mem_id("snapshoT", 8, &b);
	cr_assert_neq(a.crc, b.crc);
}

/* The one CRC of the state files (lib/seal, ISA-L) is zlib's crc32, so
 * files sealed before keep their seal: every length up to 300 bytes (the
 * folding kernel's tails), and continued in pieces. */
Test(statelog, seal_crc_is_zlibs_crc32)
{
	unsigned char b[300];
	size_t n, i;

	for (i = 0; i < sizeof(b); i++)
		b[i] = (unsigned char)(i * 131 + 7);
	for (n = 0; n <= sizeof(b); n++) {
		uint32_t z = (uint32_t)crc32(0L, b, (uInt)n);

		cr_assert_eq(ps_seal_crc(0, b, n), z, "length %zu", n);
		cr_assert_eq(ps_seal_crc(ps_seal_crc(0, b, n / 3),
					 b + n / 3, n - n / 3), z);
	}
}

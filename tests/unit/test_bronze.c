/*
 * test_bronze.c - raw landing (lib/bronze.h) and the parallel gzip writer
 * it uses (lib/gzpool.h).
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "bronze.h"
#include "buf.h"
#include "checkpoint.h"
#include "fsutil.h"
#include "seal.h"
#include "gzpool.h"
#include "lake.h"
#include "pstime.h"
#include "banned.h"

static char lake[64];

static void mklake(void)
{
	snprintf(lake, sizeof(lake), "/tmp/test_bronze.XXXXXX");
	cr_assert_not_null(mkdtemp(lake));
}

static void rmlake(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", lake);
	cr_assert_eq(system(cmd), 0);
}

static char *lpath(const char *rel)
{
	return ps_path_join(lake, rel);
}

/* Read a whole gzip file. */
static void gunzip(const char *path, struct ps_buf *out)
{
	gzFile g = gzopen(path, "rb");
	char tmp[65536];
	int n;

	cr_assert_not_null(g, "cannot open %s", path);
	while ((n = gzread(g, tmp, sizeof(tmp))) > 0)
		ps_buf_add(out, tmp, (size_t)n);
	cr_assert_eq(n, 0, "gzread failed on %s", path);
	cr_assert_eq(gzclose(g), Z_OK);
}

/* ---- gzpool ---- */

static void pool_roundtrip(int threads, const char *data, size_t n,
			   size_t step, struct ps_buf *file)
{
	struct ps_error e = { 0, "" };
	struct ps_gzpool *pool = ps_gzpool_new(threads, 1, &e);
	char *path = lpath("x/out.gz"), *fin = lpath("x/final.gz");
	struct ps_gzpool_file *f;
	struct ps_buf got = PS_BUF_INIT;
	size_t i;

	cr_assert_not_null(pool, "%s", e.msg);
	f = ps_gzpool_open(pool, path, &e);
	cr_assert_not_null(f, "%s", e.msg);
	for (i = 0; i < n; i += step)
		cr_assert_eq(ps_gzpool_write(f, data + i,
					     n - i < step ? n - i : step,
					     &e), 0);
	cr_assert_eq(ps_gzpool_size(f), n);
	cr_assert_eq(ps_gzpool_commit(f, fin, &e), 0, "%s", e.msg);
	cr_assert_eq(access(path, F_OK), -1, "provisional name exists");
	gunzip(fin, &got);
	cr_assert_eq(got.len, n);
	cr_assert(n == 0 || !memcmp(got.data, data, n));
	ps_buf_reset(file);
	cr_assert_eq(ps_read_file(fin, file, 1 << 30, &e), 0);
	ps_gzpool_free(pool);
	ps_buf_release(&got);
	free(path);
	free(fin);
}

Test(gzpool, output_is_gzip_and_independent_of_threads, .init = mklake,
     .fini = rmlake)
{
	struct ps_buf data = PS_BUF_INIT, f0 = PS_BUF_INIT, f3 = PS_BUF_INIT;
	size_t sizes[] = { 0, 1, PS_GZPOOL_CHUNK - 1, PS_GZPOOL_CHUNK,
			   PS_GZPOOL_CHUNK * 5 + 7 };
	unsigned x = 1;
	size_t i, k;

	for (i = 0; i < PS_GZPOOL_CHUNK * 6; i++) {
		x = x * 1103515245u + 12345u;
		ps_buf_addc(&data, (char)("abcdefgh\n{}\"0123"[(x >> 16) & 15]));
	}
	for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		pool_roundtrip(0, data.data, sizes[k], 1000, &f0);
		pool_roundtrip(3, data.data, sizes[k], 77777, &f3);
		cr_assert_eq(f0.len, f3.len);
		cr_assert(!memcmp(f0.data, f3.data, f0.len),
			  "output differs with threads for size %zu",
			  sizes[k]);
	}
	ps_buf_release(&data);
	ps_buf_release(&f0);
	ps_buf_release(&f3);
}

Test(gzpool, abort_leaves_nothing, .init = mklake, .fini = rmlake)
{
	struct ps_error e = { 0, "" };
	struct ps_gzpool *pool = ps_gzpool_new(2, 1, &e);
	char *dir = lpath("y"), *path = lpath("y/a.gz");
	struct ps_gzpool_file *f = ps_gzpool_open(pool, path, &e);
	char big[100000];

	memset(big, 'z', sizeof(big));
	for (int i = 0; i < 20; i++)
		cr_assert_eq(ps_gzpool_write(f, big, sizeof(big), &e), 0);
	ps_gzpool_abort(f);
	cr_assert_eq(ps_remove_stale_temps(dir), 0, "a temporary was left");
	cr_assert_eq(access(path, F_OK), -1);
	ps_gzpool_free(pool);
	free(dir);
	free(path);
}

/* ---- landing ---- */

static int emitted_fd = -1;

static int emit_to_fd(void *ctx, const char *p, size_t n)
{
	(void)ctx;
	return write(emitted_fd, p, n) == (ssize_t)n ? 0 : -1;
}

/* Run bronze over text; return its status; emitted output into *out. */
static int run_text(const char *text, struct ps_bronze_opts *o,
		    struct ps_buf *out, struct ps_error *e)
{
	char in[] = "/tmp/test_bronze_in.XXXXXX";
	char em[] = "/tmp/test_bronze_out.XXXXXX";
	int fd = mkstemp(in), rc;

	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	cr_assert_eq(lseek(fd, 0, SEEK_SET), 0);
	emitted_fd = mkstemp(em);
	cr_assert(emitted_fd >= 0);
	o->lake = lake;
	o->stream = "adm";
	o->emit = emit_to_fd;
	o->ingest_time = 1795418400LL * PS_USEC_PER_SEC;
	rc = ps_bronze_run(o, fd, e);
	close(fd);
	close(emitted_fd);
	unlink(in);
	if (out) {
		ps_buf_reset(out);
		cr_assert_eq(ps_read_file(em, out, 1 << 30, e), 0);
	}
	unlink(em);
	return rc;
}

/* All envelopes in the lake as "source position payload\n" lines. */
static void lake_dump(struct ps_buf *b)
{
	struct ps_lake_parts fs = PS_LAKE_PARTS_INIT;
	struct ps_error e = { 0, "" };
	size_t i;

	ps_buf_reset(b);
	cr_assert_eq(ps_lake_list(lake, PS_LAKE_BRONZE, "adm", &fs, &e), 0, "%s", e.msg);
	for (i = 0; i < fs.n; i++) {
		struct ps_lake_reader *r =
			ps_lake_reader_open(fs.v[i].path, &e);
		struct ps_envelope env;
		long long first = -1, last = -1;
		int rc;

		cr_assert_not_null(r, "%s", e.msg);
		while ((rc = ps_lake_reader_next(r, &env, &e)) == 1) {
			if (first < 0)
				first = env.position;
			last = env.position;
			ps_buf_add(b, env.source, env.source_len);
			ps_buf_addf(b, " %lld ", env.position);
			ps_buf_add(b, env.payload, env.payload_len);
			ps_buf_addc(b, '\n');
		}
		cr_assert_eq(rc, 0, "%s", e.msg);
		cr_assert_eq(first, fs.v[i].first, "%s", fs.v[i].path);
		cr_assert_eq(last, fs.v[i].last, "%s", fs.v[i].path);
		ps_lake_reader_close(r);
	}
	ps_lake_parts_release(&fs);
}

Test(bronze, lands_plain_lines_with_positions, .init = mklake,
     .fini = rmlake)
{
	struct ps_bronze_opts o = PS_BRONZE_OPTS_INIT;
	struct ps_error e = { 0, "" };
	struct ps_buf out = PS_BUF_INIT, dump = PS_BUF_INIT;
	char *f = lpath("bronze/adm/date=2026-11-23/part-stdin_adm-"
			"00000000000000000000-00000000000000000003.ndjson.gz");

	o.threads = 0;
	cr_assert_eq(run_text("{\"a\":1}\n\n{\"a\":2}\r\nraw \xff bytes\n",
			      &o, &out, &e), 0, "%s", e.msg);
	cr_assert_eq(access(f, F_OK), 0, "missing %s", f);
	lake_dump(&dump);
	cr_assert_str_eq(dump.data, "stdin:adm 0 {\"a\":1}\n"
			 "stdin:adm 2 {\"a\":2}\n"
			 "stdin:adm 3 raw \xff bytes\n");
	cr_assert_str_eq(out.data,
		"{\"source\":\"stdin:adm\",\"position\":0,\"ingest_time\":"
		"\"2026-11-23T07:20:00.000000Z\",\"payload\":\"{\\\"a\\\":1}\"}\n"
		"{\"source\":\"stdin:adm\",\"position\":2,\"ingest_time\":"
		"\"2026-11-23T07:20:00.000000Z\",\"payload\":\"{\\\"a\\\":2}\"}\n"
		"{\"source\":\"stdin:adm\",\"position\":3,\"ingest_time\":"
		"\"2026-11-23T07:20:00.000000Z\",\"payload_b64\":"
		"\"cmF3IP8gYnl0ZXM=\"}\n");
	ps_buf_release(&out);
	ps_buf_release(&dump);
	free(f);
}

/*
 * A last line without its newline lands when it is JSON (a file without
 * the final newline), not when it is the fragment of a killed writer:
 * its position stays free for the restart that replays the whole line.
 */
Test(bronze, cut_last_line_is_not_landed, .init = mklake, .fini = rmlake)
{
	struct ps_bronze_opts o = PS_BRONZE_OPTS_INIT;
	struct ps_error e = { 0, "" };
	struct ps_buf out = PS_BUF_INIT, dump = PS_BUF_INIT;

	o.threads = 0;
	cr_assert_eq(run_text("{\"a\":1}\n{\"a\":2}", &o, &out, &e), 0);
	cr_assert_eq(run_text("{\"a\":1}\n{\"a\":2}\n{\"a\":3,\"b", &o, &out,
			      &e), 0);
	lake_dump(&dump);
	cr_assert_str_eq(dump.data, "stdin:adm 0 {\"a\":1}\n"
			 "stdin:adm 1 {\"a\":2}\n");
	cr_assert_eq(run_text("{\"a\":1}\n{\"a\":2}\n{\"a\":3,\"b\":4}\n", &o,
			      &out, &e), 0, "%s", e.msg);
	ps_buf_reset(&dump);
	lake_dump(&dump);
	cr_assert_str_eq(dump.data, "stdin:adm 0 {\"a\":1}\n"
			 "stdin:adm 1 {\"a\":2}\n"
			 "stdin:adm 2 {\"a\":3,\"b\":4}\n");
	ps_buf_release(&out);
	ps_buf_release(&dump);
}

Test(bronze, replay_skips_and_continue_appends, .init = mklake,
     .fini = rmlake)
{
	struct ps_bronze_opts o = PS_BRONZE_OPTS_INIT;
	struct ps_error e = { 0, "" };
	struct ps_buf out = PS_BUF_INIT, dump = PS_BUF_INIT;
	struct ps_checkpoint *cp = ps_checkpoint_new();

	o.flush_records = 2;
	cr_assert_eq(run_text("a\nb\nc\n", &o, &out, &e), 0, "%s", e.msg);
	/* A replay of a longer input lands only the new tail. */
	cr_assert_eq(run_text("a\nb\nc\nd\n", &o, &out, &e), 0);
	cr_assert(strstr(out.data, "\"position\":3"));
	cr_assert_null(strstr(out.data, "\"position\":2"), "re-emitted");
	/* --continue numbers after the checkpoint. */
	o.continue_mode = 1;
	cr_assert_eq(run_text("e\n\nf\n", &o, &out, &e), 0);
	lake_dump(&dump);
	cr_assert_str_eq(dump.data, "stdin:adm 0 a\nstdin:adm 1 b\n"
			 "stdin:adm 2 c\nstdin:adm 3 d\nstdin:adm 4 e\n"
			 "stdin:adm 6 f\n");
	cr_assert_eq(ps_checkpoint_load(cp, lake, "ps-bronze", "adm", &e), 0);
	cr_assert_eq(ps_checkpoint_get(cp, "stdin:adm", 9), 6);
	ps_checkpoint_free(cp);
	ps_buf_release(&out);
	ps_buf_release(&dump);
}

Test(bronze, envelopes_keep_source_and_position, .init = mklake,
     .fini = rmlake)
{
	struct ps_bronze_opts o = PS_BRONZE_OPTS_INIT;
	struct ps_error e = { 0, "" };
	struct ps_buf dump = PS_BUF_INIT;
	struct ps_checkpoint *cp = ps_checkpoint_new();
	const char *in =
		"{\"source\":\"kafka:t/1\",\"position\":10,\"ingest_time\":"
		"\"2026-01-01T00:00:00Z\",\"key\":\"k\",\"payload\":\"x\"}\n"
		"{\"source\":\"kafka:t/0\",\"position\":5,\"ingest_time\":"
		"\"2026-01-01T00:00:00Z\",\"payload\":\"y\"}\n"
		"{\"source\":\"kafka:t/1\",\"position\":10,\"ingest_time\":"
		"\"2026-01-01T00:00:00Z\",\"payload\":\"dup\"}\n"
		"{\"source\":\"kafka:t/1\",\"position\":12,\"ingest_time\":"
		"\"2026-01-01T00:00:00Z\",\"payload\":\"z\"}\n";

	o.input = PS_INPUT_ENVELOPES;
	cr_assert_eq(run_text(in, &o, NULL, &e), 0, "%s", e.msg);
	cr_assert_eq(run_text(in, &o, NULL, &e), 0, "%s", e.msg);
	lake_dump(&dump);
	cr_assert_str_eq(dump.data, "kafka:t/0 5 y\nkafka:t/1 10 x\n"
			 "kafka:t/1 12 z\n");
	cr_assert_eq(ps_lake_committed(lake, PS_LAKE_BRONZE, "adm", cp, &e), 0, "%s",
		     e.msg);
	cr_assert_eq(ps_checkpoint_get(cp, "kafka:t/1", 9), 12);
	cr_assert_eq(ps_checkpoint_get(cp, "kafka:t/0", 9), 5);
	ps_checkpoint_free(cp);
	ps_buf_release(&dump);
}

Test(bronze, file_names_win_over_a_stale_checkpoint, .init = mklake,
     .fini = rmlake)
{
	struct ps_bronze_opts o = PS_BRONZE_OPTS_INIT;
	struct ps_error e = { 0, "" };
	struct ps_buf dump = PS_BUF_INIT, out = PS_BUF_INIT;
	char *cpf = ps_checkpoint_path(lake, "ps-bronze", "adm");
	char *tmp = lpath("bronze/adm/date=2026-11-23/.part-x.tmp-1");

	cr_assert_eq(run_text("a\nb\n", &o, NULL, &e), 0, "%s", e.msg);
	/* A crash after the data rename, before the checkpoint write. */
	cr_assert_eq(ps_seal_write(cpf, "{\"version\":1,\"sources\":{}}",
				   26, PS_SEAL_JSON, &e), 0);
	cr_assert_eq(ps_write_file_atomic(tmp, "junk", 4, 0644, &e), 0);
	cr_assert_eq(rename(tmp, tmp), 0);
	cr_assert_eq(run_text("a\nb\nc\n", &o, &out, &e), 0, "%s", e.msg);
	lake_dump(&dump);
	cr_assert_str_eq(dump.data, "stdin:adm 0 a\nstdin:adm 1 b\n"
			 "stdin:adm 2 c\n");
	cr_assert_eq(access(tmp, F_OK), -1, "stale temporary not removed");
	ps_buf_release(&dump);
	ps_buf_release(&out);
	free(cpf);
	free(tmp);
}

/* A plain input's lines are records, whatever they look like. */
Test(bronze, long_lines_go_to_quarantine_look_alikes_land,
     .init = mklake, .fini = rmlake)
{
	struct ps_bronze_opts o = PS_BRONZE_OPTS_INIT;
	struct ps_error e = { 0, "" };
	struct ps_buf in = PS_BUF_INIT, dump = PS_BUF_INIT, q = PS_BUF_INIT;
	char *qf = lpath("quarantine/adm/date=2026-11-23/part-bronze-"
			 "stdin_adm-00000000000000000001-00000000000000000001"
			 ".ndjson.gz");
	struct ps_checkpoint *cp = ps_checkpoint_new();
	int i;

	o.max_line = 100;
	ps_buf_adds(&in, "ok\n");
	for (i = 0; i < 5000; i++)
		ps_buf_addc(&in, 'L');
	ps_buf_adds(&in, "\n{\"source\":\"x\"}\nok2\n");
	cr_assert_eq(run_text(in.data, &o, NULL, &e), 0, "%s", e.msg);
	lake_dump(&dump);
	cr_assert_str_eq(dump.data, "stdin:adm 0 ok\n"
			 "stdin:adm 2 {\"source\":\"x\"}\nstdin:adm 3 ok2\n");
	gunzip(qf, &q);
	cr_assert(strstr(q.data, "\"reason\":\"line_too_long\""), "%s",
		  q.data);
	cr_assert(strstr(q.data, "\"length\":5000,\"truncated\":true"));
	cr_assert(strstr(q.data, "\"position\":1"));
	/* Quarantine names count for the checkpoint too. */
	cr_assert_eq(ps_lake_committed(lake, PS_LAKE_BRONZE, "adm", cp, &e), 0, "%s",
		     e.msg);
	cr_assert_eq(ps_checkpoint_get(cp, "stdin:adm", 9), 3);
	ps_checkpoint_free(cp);
	ps_buf_release(&in);
	ps_buf_release(&dump);
	ps_buf_release(&q);
	free(qf);
}

/*
 * An envelope input: a payload over the cap, and a record its producer
 * marked for quarantine, are quarantined at their own position (a restart
 * skips them); a line that is not an envelope stops the run with 65 after
 * committing what came before; a cut last line is not landed.
 */
Test(bronze, envelope_input_quarantines_at_positions, .init = mklake,
     .fini = rmlake)
{
	struct ps_bronze_opts o = PS_BRONZE_OPTS_INIT;
	struct ps_error e = { 0, "" };
	struct ps_buf in = PS_BUF_INIT, dump = PS_BUF_INIT, q = PS_BUF_INIT;
	struct ps_checkpoint *cp = ps_checkpoint_new();
	char *qf = lpath("quarantine/adm/date=2026-01-01/part-bronze-"
			 "kafka_t_0-00000000000000000002-00000000000000000003"
			 ".ndjson.gz");
	size_t len;
	int i;

#define ENV(pos, rest) "{\"source\":\"kafka:t/0\",\"position\":" #pos \
	",\"ingest_time\":\"2026-01-01T00:00:00Z\"," rest "}\n"
	o.input = PS_INPUT_ENVELOPES;
	o.max_line = 100;
	ps_buf_adds(&in, ENV(1, "\"payload\":\"a\""));
	ps_buf_adds(&in, ENV(2, "\"payload\":\"head\",\"reason\":"
			     "\"record_too_long\",\"length\":99999999,"
			     "\"truncated\":true"));
	ps_buf_adds(&in, "{\"source\":\"kafka:t/0\",\"position\":3,"
		    "\"ingest_time\":\"2026-01-01T00:00:00Z\",\"payload\":\"");
	for (i = 0; i < 500; i++)
		ps_buf_addc(&in, 'P');
	ps_buf_adds(&in, "\"}\n");
	ps_buf_adds(&in, ENV(4, "\"payload\":\"b\""));
	len = in.len;
	ps_buf_adds(&in, "{\"source\":\"kafka:t/0\",\"posi");
	cr_assert_eq(run_text(in.data, &o, NULL, &e), 0, "%s", e.msg);
	/* Again, and with a line that is not an envelope after a new one. */
	in.len = len;
	ps_buf_adds(&in, ENV(5, "\"payload\":\"c\""));
	ps_buf_adds(&in, "{\"patient_id\":\"p\"}\n");
	ps_buf_adds(&in, ENV(6, "\"payload\":\"d\""));
	cr_assert_eq(run_text(in.data, &o, NULL, &e), -1);
	cr_assert_eq(e.code, 65, "%d %s", e.code, e.msg);
	cr_assert(strstr(e.msg, "line 6 is not an envelope"), "%s", e.msg);
	lake_dump(&dump);
	cr_assert_str_eq(dump.data, "kafka:t/0 1 a\nkafka:t/0 4 b\n"
			 "kafka:t/0 5 c\n");
	gunzip(qf, &q);
	cr_assert(strstr(q.data, "\"position\":2,") &&
		  strstr(q.data, "\"length\":99999999,\"truncated\":true"),
		  "%s", q.data);
	cr_assert(strstr(q.data, "\"position\":3,") &&
		  strstr(q.data, "\"reason\":\"record_too_long\",\"detail\":"
			 "\"payload of 500 bytes over the cap of 100\","
			 "\"length\":500,\"truncated\":false}"), "%s",
		  q.data);
	cr_assert_eq(ps_lake_committed(lake, PS_LAKE_BRONZE, "adm", cp, &e),
		     0, "%s", e.msg);
	cr_assert_eq(ps_checkpoint_get(cp, "kafka:t/0", 9), 5);
	cr_assert_eq(ps_checkpoint_count(cp), 1, "no stdin source");
#undef ENV
	ps_checkpoint_free(cp);
	ps_buf_release(&in);
	ps_buf_release(&dump);
	ps_buf_release(&q);
	free(qf);
}

Test(bronze, reader_reports_damaged_files, .init = mklake, .fini = rmlake)
{
	struct ps_error e = { 0, "" };
	struct ps_lake_reader *r;
	struct ps_envelope env;
	struct ps_buf b = PS_BUF_INIT;
	char *p = lpath("bad.gz");
	gzFile g;
	int i, rc;

	g = gzopen(p, "wb1");
	for (i = 0; i < 2000; i++)
		gzprintf(g, "{\"source\":\"s\",\"position\":%d,\"ingest_time\":"
			 "\"2026-01-01T00:00:00Z\",\"payload\":\"%d\"}\n", i,
			 i * 7919);
	gzclose(g);
	cr_assert_eq(ps_read_file(p, &b, 1 << 30, &e), 0);
	/* Cut the file in half. */
	cr_assert_eq(ps_write_file_atomic(p, b.data, b.len / 2, 0644, &e), 0);
	r = ps_lake_reader_open(p, &e);
	cr_assert_not_null(r);
	while ((rc = ps_lake_reader_next(r, &env, &e)) == 1)
		;
	cr_assert_eq(rc, -1);
	cr_assert_eq(e.code, 74, "%d %s", e.code, e.msg);
	ps_lake_reader_close(r);
	cr_assert_null(ps_lake_reader_open("/nonexistent/x.gz", &e));
	cr_assert_eq(e.code, 66);
	ps_buf_release(&b);
	free(p);
}

Test(bronze, cannot_create_lake_is_73)
{
	struct ps_bronze_opts o = PS_BRONZE_OPTS_INIT;
	struct ps_error e = { 0, "" };

	o.lake = "/proc/self/no-lake";
	o.stream = "adm";
	cr_assert_eq(ps_bronze_run(&o, 0, &e), -1);
	cr_assert_eq(e.code, 73, "%d %s", e.code, e.msg);
}

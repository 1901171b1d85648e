/* test_dash.c - the dashboard model and renderers (lib/dash.h) and the
 * HTTP server (lib/httpd.h). */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "dash.h"
#include "delta.h"
#include "fsutil.h"
#include "httpd.h"
#include "kpi.h"
#include "pstime.h"
#include "banned.h"

#define H (3600LL * 1000000)

static char lake[] = "/tmp/ps-test-dash-XXXXXX";

static void mklake(void)
{
	cr_assert_not_null(mkdtemp(lake));
}

static void rmlake(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", lake);
	cr_assert_eq(system(cmd), 0);
}

static void write_table(const struct ps_table *t, const char *rel)
{
	struct ps_error e = { 0, "" };
	char dir[512], path[600];

	snprintf(dir, sizeof(dir), "%s/gold/%s", lake, rel);
	cr_assert_eq(ps_mkdir_p(dir, 0755, &e), 0, "%s", e.msg);
	snprintf(path, sizeof(path), "%s/part-0.parquet", dir);
	cr_assert_eq(ps_table_write_parquet(t, path, PS_PQ_ZSTD, &e), 0, "%s",
		     e.msg);
}

Test(dash, html_escape)
{
	struct ps_buf b = PS_BUF_INIT;

	ps_dash_html_escape(&b, "a<b>&\"c'", 9);
	cr_assert_str_eq(b.data, "a&lt;b&gt;&amp;&quot;c&#39;");
	ps_buf_release(&b);
}

Test(dash, journal_keeps_the_latest_transition_per_series)
{
	struct ps_dash_journal j = PS_DASH_JOURNAL_INIT;
	const char *l1 = "{\"alert\":\"occupancy_pct\",\"state\":\"firing\","
			 "\"level\":\"critical\",\"department\":\"ICU\","
			 "\"hospital_id\":2,\"value\":95,\"threshold\":90,"
			 "\"as_of\":\"2026-01-01T10:00:00Z\"}";
	const char *l2 = "{\"alert\":\"occupancy_pct\",\"state\":\"resolved\","
			 "\"level\":\"critical\",\"department\":\"ICU\","
			 "\"hospital_id\":2,\"value\":70,\"threshold\":80,"
			 "\"as_of\":\"2026-01-01T11:00:00Z\"}";
	int64_t t;
	const char *why;

	cr_assert_eq(ps_dash_journal_line(&j, "{\"kpi\":\"los\"}", 13), 0);
	cr_assert_eq(ps_dash_journal_line(&j, "{\"alert\":", 9), -1);
	cr_assert_eq(ps_dash_journal_line(&j, l1, strlen(l1)), 1);
	cr_assert_eq(j.n, 1);
	cr_assert(j.a[0].firing);
	cr_assert_eq(j.a[0].level, PS_ALERT_CRITICAL);
	cr_assert_eq(ps_dash_journal_line(&j, l2, strlen(l2)), 1);
	cr_assert_eq(j.n, 1);
	cr_assert(!j.a[0].firing);
	cr_assert_float_eq(j.a[0].value, 70, 1e-9);
	ps_time_parse("2026-01-01T11:00:00Z", 20, &t, &why);
	cr_assert_eq(j.a[0].since, t);
	ps_dash_journal_release(&j);
}

Test(dash, empty_lake_gives_no_data, .init = mklake, .fini = rmlake)
{
	struct ps_dash_model m;
	struct ps_error e = { 0, "" };
	struct ps_buf b = PS_BUF_INIT;
	size_t i;

	cr_assert_eq(ps_dash_load(&m, lake, "admissions", 0, NULL, &e), 0, "%s",
		     e.msg);
	for (i = 0; i < PS_DASH_NTABLES; i++)
		cr_assert(!m.t[i].present);
	cr_assert(!m.has_fact);
	ps_dash_html(&m, 0, &b);
	cr_assert_not_null(strstr(b.data, "No data: kpi_occupancy"));
	ps_buf_reset(&b);
	ps_dash_metrics(&m, &b);
	cr_assert_not_null(strstr(b.data, "pulsestream_alerts_firing{"
				  "severity=\"warn\"} 0\n"));
	ps_buf_release(&b);
	ps_dash_model_release(&m);
}

/* A KPI table without some columns, and one with an extra column: the page
 * shows what is there, "no data" for the rest. */
Test(dash, columns_by_name_and_missing, .init = mklake, .fini = rmlake)
{
	static const struct ps_pq_column cols[] = {
		{ "hospital_id", PS_PQ_INT32, 0, 0 },
		{ "new_column", PS_PQ_STRING, 0, 0 },
		{ "department", PS_PQ_STRING, 0, 0 },
		{ "census", PS_PQ_INT64, 0, 0 },
	};
	struct ps_table t;
	struct ps_pq_value *r;
	struct ps_dash_model m;
	struct ps_error e = { 0, "" };
	struct ps_buf b = PS_BUF_INIT;
	const struct ps_dash_tab *o;

	ps_table_init(&t, "kpi_occupancy", cols, 4);
	r = ps_table_add_row(&t);
	ps_table_set_i(&t, r, 0, 3);
	ps_table_set_s(&t, r, 1, "x", 1);
	ps_table_set_s(&t, r, 2, "ICU", 3);
	ps_table_set_i(&t, r, 3, 7);
	write_table(&t, "kpi_occupancy");
	ps_table_release(&t);
	cr_assert_eq(ps_dash_load(&m, lake, "admissions", 0, NULL, &e), 0, "%s",
		     e.msg);
	o = &m.t[PS_DASH_OCCUPANCY];
	cr_assert(o->present);
	cr_assert_eq(ps_dash_col(o, "census"), 3);
	cr_assert_eq(ps_dash_col(o, "beds"), -1);
	cr_assert(isnan(ps_dash_num(o, 0, ps_dash_col(o, "beds"))));
	cr_assert_float_eq(ps_dash_num(o, 0, ps_dash_col(o, "census")), 7,
			   1e-9);
	ps_dash_html(&m, 0, &b);
	cr_assert_not_null(strstr(b.data, "data-k=\"kpi_occupancy|ICU|3|"
				  "census\">7<"));
	cr_assert_not_null(strstr(b.data, "data-k=\"kpi_occupancy|ICU|3|"
				  "beds\">\xe2\x80\x93<"));
	ps_buf_release(&b);
	ps_dash_model_release(&m);
}

/* A Delta table: only the files its log says are active are read (a
 * replaced file and a stray one are not). */
Test(dash, delta_table_active_files_only, .init = mklake, .fini = rmlake)
{
	static const struct ps_pq_column cols[] = {
		{ "department", PS_PQ_STRING, 0, 0 },
		{ "hospital_id", PS_PQ_INT32, 0, 0 },
		{ "census", PS_PQ_INT64, 0, 0 },
	};
	struct ps_error e = { 0, "" };
	struct ps_delta_snapshot snap = PS_DELTA_SNAPSHOT_INIT;
	struct ps_delta_commit *c;
	struct ps_dash_model m;
	char dir[512], path[600];
	const char *names[3] = { "a.parquet", "b.parquet", "stray.parquet" };
	int64_t v;
	int i;

	snprintf(dir, sizeof(dir), "%s/gold/kpi_occupancy", lake);
	cr_assert_eq(ps_mkdir_p(dir, 0755, &e), 0, "%s", e.msg);
	for (i = 0; i < 3; i++) {
		struct ps_table t;
		struct ps_pq_value *r;

		ps_table_init(&t, "kpi_occupancy", cols, 3);
		r = ps_table_add_row(&t);
		ps_table_set_s(&t, r, 0, "ICU", 3);
		ps_table_set_i(&t, r, 1, 1);
		ps_table_set_i(&t, r, 2, 7 + i);
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		cr_assert_eq(ps_table_write_parquet(&t, path, PS_PQ_ZSTD, &e),
			     0, "%s", e.msg);
		ps_table_release(&t);
	}
	c = ps_delta_commit_new("CREATE TABLE", -1);
	cr_assert_eq(ps_delta_commit_create(c, NULL, cols, 3, NULL, 0, 0, &e),
		     0, "%s", e.msg);
	cr_assert_eq(ps_delta_commit_add_file(c, dir, "a.parquet", NULL, NULL,
					      0, 1, &e), 0, "%s", e.msg);
	cr_assert_eq(ps_delta_commit_write(dir, c, 1000, 0, &v, &e), 0, "%s",
		     e.msg);
	ps_delta_commit_free(c);
	cr_assert_eq(ps_delta_snapshot_load(dir, -1, &snap, &e), 0, "%s",
		     e.msg);
	c = ps_delta_commit_new("WRITE", snap.version);
	cr_assert_eq(ps_delta_commit_add_file(c, dir, "b.parquet", NULL, NULL,
					      0, 1, &e), 0, "%s", e.msg);
	ps_delta_commit_remove(c, &snap.files[0], 2000, 1);
	cr_assert_eq(ps_delta_commit_write(dir, c, 2000, 0, &v, &e), 0, "%s",
		     e.msg);
	ps_delta_commit_free(c);
	ps_delta_snapshot_release(&snap);

	cr_assert_eq(ps_dash_load(&m, lake, "admissions", 0, NULL, &e), 0,
		     "%s", e.msg);
	cr_assert_eq(m.t[PS_DASH_OCCUPANCY].nrows, 1);
	cr_assert_float_eq(ps_dash_num(&m.t[PS_DASH_OCCUPANCY], 0,
				       ps_dash_col(&m.t[PS_DASH_OCCUPANCY],
						   "census")), 8, 1e-9);
	ps_dash_model_release(&m);
}

/* Hourly admissions and census from the fact table. */
Test(dash, hourly_trends_from_the_fact, .init = mklake, .fini = rmlake)
{
	static const struct ps_pq_column cols[] = {
		{ "department", PS_PQ_STRING, 0, 0 },
		{ "admission_time", PS_PQ_TIMESTAMP, 0, 0 },
		{ "discharge_time", PS_PQ_TIMESTAMP, 1, 0 },
	};
	struct ps_table t;
	struct ps_pq_value *r;
	struct ps_dash_model m;
	struct ps_error e = { 0, "" };
	int64_t now = 100 * 24 * H + 30 * 60 * 1000000LL;

	ps_table_init(&t, "fact_patient_flow", cols, 3);
	/* admitted 2.5 h ago, still in */
	r = ps_table_add_row(&t);
	ps_table_set_s(&t, r, 0, "ICU", 3);
	ps_table_set_i(&t, r, 1, now - 5 * H / 2);
	/* admitted 10 h ago, out 1.5 h ago */
	r = ps_table_add_row(&t);
	ps_table_set_s(&t, r, 0, "ICU", 3);
	ps_table_set_i(&t, r, 1, now - 10 * H);
	ps_table_set_i(&t, r, 2, now - 3 * H / 2);
	write_table(&t, "fact_patient_flow/admission_date=1970-04-11");
	ps_table_release(&t);
	cr_assert_eq(ps_dash_load(&m, lake, "admissions", now, NULL, &e), 0, "%s",
		     e.msg);
	cr_assert(m.has_fact);
	cr_assert_eq(m.encounters, 2);
	/* points end at now, now - 1 h, ...: index 167 is now */
	cr_assert_eq(m.admissions_hour[PS_DASH_HOURS - 3], 1);
	/* (end - 1 h, end]: the one 10 h ago ends the point of -10 h */
	cr_assert_eq(m.admissions_hour[PS_DASH_HOURS - 11], 1);
	cr_assert_eq(m.census_hour[PS_DASH_HOURS - 1], 1);	/* now */
	cr_assert_eq(m.census_hour[PS_DASH_HOURS - 2], 1);	/* -1 h */
	cr_assert_eq(m.census_hour[PS_DASH_HOURS - 3], 2);	/* -2 h */
	cr_assert_eq(m.census_hour[PS_DASH_HOURS - 4], 1);	/* -3 h */
	cr_assert_eq(m.census_hour[PS_DASH_HOURS - 11], 1);	/* -10 h */
	cr_assert_eq(m.census_hour[PS_DASH_HOURS - 12], 0);	/* -11 h */
	ps_dash_model_release(&m);
}

/* Quarantine files are read once; a new one is added to the counts. */
Test(dash, quarantine_counts_with_a_cache, .init = mklake, .fini = rmlake)
{
	struct ps_dash_cache *c = ps_dash_cache_new();
	struct ps_dash_model m;
	struct ps_error e = { 0, "" };
	char cmd[512];
	int i;

	for (i = 0; i < 2; i++) {
		snprintf(cmd, sizeof(cmd), "mkdir -p %s/quarantine/admissions/"
			 "date=2025-01-0%d && printf '%s\\n%s\\n' | gzip "
			 ">%s/quarantine/admissions/date=2025-01-0%d/part-stdin_"
			 "admissions-00000000000000000000-00000000000000000001-r%d"
			 ".ndjson.gz", lake, i + 1,
			 "{\"reasons\":[\"wrong_type\",\"missing_field\"]}",
			 "{\"reasons\":[\"wrong_type\"]}", lake, i + 1, i);
		cr_assert_eq(system(cmd), 0);
		cr_assert_eq(ps_dash_load(&m, lake, "admissions", 0, c, &e), 0,
			     "%s", e.msg);
		cr_assert_eq(m.quarantined, 2 * (i + 1));
		cr_assert_eq(m.nquarantine, 2);
		cr_assert_str_eq(m.quarantine[0].name, "wrong_type");
		cr_assert_eq(m.quarantine[0].n, 2 * (i + 1));
		cr_assert_eq(m.quarantine[1].n, i + 1);
		ps_dash_model_release(&m);
	}
	/* again, nothing new: the same from the cache */
	cr_assert_eq(ps_dash_load(&m, lake, "admissions", 0, c, &e), 0, "%s",
		     e.msg);
	cr_assert_eq(m.quarantined, 4);
	ps_dash_model_release(&m);
	ps_dash_cache_free(c);
}

/*
 * Quality counts read what a reader may see (lib/lake.h): files of a
 * silver commit still in progress (beyond the silver checkpoint of their
 * source) are not counted, bronze's quarantine always is.
 */
/* Silver commits position pos of kafka:a/0: a version of its Delta table
 * with that txn (lib/lake.h), the table created first when missing. */
static void silver_txn(long long pos)
{
	static const struct ps_pq_column col = { "x", PS_PQ_INT64, 0, 0 };
	struct ps_delta_snapshot s = PS_DELTA_SNAPSHOT_INIT;
	struct ps_error e = { 0, "" };
	struct ps_delta_commit *c;
	char dir[512];
	int64_t v;

	snprintf(dir, sizeof(dir), "%s/silver/admissions", lake);
	cr_assert_eq(ps_delta_snapshot_load(dir, -1, &s, &e), 0, "%s", e.msg);
	c = ps_delta_commit_new(s.version < 0 ? "CREATE TABLE" : "WRITE",
				s.version);
	if (s.version < 0)
		cr_assert_eq(ps_delta_commit_create(c, NULL, &col, 1, NULL, 0,
						    0, &e), 0, "%s", e.msg);
	ps_delta_commit_txn(c, "ps-silver/admissions/kafka:a/0", pos, 0);
	cr_assert_eq(ps_delta_commit_write(dir, c, 0, 0, &v, &e), 0, "%s",
		     e.msg);
	ps_delta_commit_free(c);
	ps_delta_snapshot_release(&s);
}

Test(dash, quality_counts_only_committed_files, .init = mklake,
     .fini = rmlake)
{
	struct ps_dash_model m;
	struct ps_error e = { 0, "" };
	char cmd[1024];
	static const char *const names[] = {
		"part-kafka_a_0-00000000000000000000-00000000000000000009",
		"part-kafka_a_0-00000000000000000010-00000000000000000019",
		"part-bronze-kafka_a_0-00000000000000000020-00000000000000000020",
	};
	size_t i;

	for (i = 0; i < 3; i++) {
		snprintf(cmd, sizeof(cmd), "mkdir -p %s/quarantine/admissions/"
			 "date=2025-01-01 && printf '%s\\n' | gzip "
			 ">%s/quarantine/admissions/date=2025-01-01/%s"
			 ".ndjson.gz", lake, "{\"reasons\":[\"wrong_type\"]}",
			 lake, names[i]);
		cr_assert_eq(system(cmd), 0);
	}
	silver_txn(9);
	cr_assert_eq(ps_dash_load(&m, lake, "admissions", 0, NULL, &e), 0,
		     "%s", e.msg);
	cr_assert_eq(m.quarantined, 2, "the open commit's file is not counted");
	ps_dash_model_release(&m);
	silver_txn(19);
	cr_assert_eq(ps_dash_load(&m, lake, "admissions", 0, NULL, &e), 0,
		     "%s", e.msg);
	cr_assert_eq(m.quarantined, 3);
	ps_dash_model_release(&m);
}

/* ------------------------------------------------------------------ */

static int connect_to(int port)
{
	struct sockaddr_in a;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/* Send req, read until the peer closes or want appears; return the text. */
static char *exchange(int port, const char *req, const char *want)
{
	int fd = connect_to(port);
	struct ps_buf b = PS_BUF_INIT;
	char buf[4096];
	ssize_t n;
	struct timeval tv = { 5, 0 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	cr_assert_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		ps_buf_add(&b, buf, (size_t)n);
		if (want && strstr(b.data, want))
			break;
	}
	close(fd);
	ps_buf_addc(&b, 0);
	return ps_buf_detach(&b, NULL);
}

Test(httpd, get_head_only_exact_paths_and_sse)
{
	struct ps_httpd_opts o = PS_HTTPD_OPTS_INIT;
	struct ps_error e = { 0, "" };
	struct ps_httpd *h;
	char *r;
	int port;

	o.port = 0;
	o.sse_path = "/events";
	h = ps_httpd_start(&o, &e);
	cr_assert_not_null(h, "%s", e.msg);
	port = ps_httpd_port(h);
	ps_httpd_set(h, "/", "text/html", "<p>hi</p>", 9);
	r = exchange(port, "GET / HTTP/1.0\r\n\r\n", NULL);
	cr_assert_not_null(strstr(r, "200 OK"), "%s", r);
	cr_assert_not_null(strstr(r, "\r\n\r\n<p>hi</p>"), "%s", r);
	free(r);
	r = exchange(port, "HEAD / HTTP/1.0\r\n\r\n", NULL);
	cr_assert_not_null(strstr(r, "200 OK"), "%s", r);
	cr_assert_null(strstr(r, "<p>hi</p>"), "%s", r);
	free(r);
	r = exchange(port, "DELETE / HTTP/1.0\r\n\r\n", NULL);
	cr_assert_not_null(strstr(r, "405"), "%s", r);
	cr_assert_not_null(strstr(r, "Allow: GET, HEAD"), "%s", r);
	free(r);
	r = exchange(port, "GET /../etc/passwd HTTP/1.0\r\n\r\n", NULL);
	cr_assert_not_null(strstr(r, "404"), "%s", r);
	free(r);

	/* SSE: the latest event at once, then the next one */
	ps_httpd_publish(h, "7", "commit", "7");
	r = exchange(port, "GET /events HTTP/1.0\r\n\r\n", "data: 7\n\n");
	cr_assert_not_null(strstr(r, "text/event-stream"), "%s", r);
	cr_assert_not_null(strstr(r, "id: 7\nevent: commit\ndata: 7\n\n"),
			   "%s", r);
	free(r);
	{
		int fd = connect_to(port);
		const char *req = "GET /events HTTP/1.0\r\nLast-Event-ID: 7"
				  "\r\n\r\n";
		struct ps_buf b = PS_BUF_INIT;
		char buf[4096];
		ssize_t n;
		struct timeval tv = { 5, 0 };

		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		cr_assert_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
		/* up to date: only the headers and the retry hint come */
		while (!b.data || !strstr(b.data, "retry: 1000\n\n")) {
			n = read(fd, buf, sizeof(buf));
			cr_assert_gt(n, 0);
			ps_buf_add(&b, buf, (size_t)n);
		}
		cr_assert_null(strstr(b.data, "data: 7"));
		ps_httpd_publish(h, "8", "commit", "8\nline two");
		while (!strstr(b.data, "data: line two\n\n")) {
			n = read(fd, buf, sizeof(buf));
			cr_assert_gt(n, 0);
			ps_buf_add(&b, buf, (size_t)n);
		}
		cr_assert_not_null(strstr(b.data, "id: 8\nevent: commit\n"
					  "data: 8\ndata: line two\n\n"));
		close(fd);
		ps_buf_release(&b);
	}
	ps_httpd_stop(h);
}

/*
 * pqtool - a test-only front end to lib/parquet (not installed).
 *
 *   pqtool write OUT.parquet --schema "name:type[?],..." [--codec C]
 *          [--level N] [--no-dict] [--row-group-bytes N] [--page-bytes N]
 *          [--dict-max-bytes N]
 *          [--kv KEY=VALUE]...      NDJSON rows on stdin
 *   pqtool write-nested OUT.parquet --schema SPEC [--codec C]
 *                                   NDJSON rows on stdin, nested schema:
 *          SPEC = field,...   field = name:type[?]
 *          type = int32|...|struct<field,...>|list<type[?]>|map<type[?]>
 *          (map keys are strings)
 *   pqtool dump FILE                rows as NDJSON on stdout
 *   pqtool meta FILE                schema, row groups, statistics as JSON
 *   pqtool synth OUT N [--codec C]  N synthetic 14-column event rows,
 *                                   made in C: the writer's cost alone
 *
 * Types: int32 int64 double bool string date timestamp; '?' = nullable.
 * Input values: integers; doubles (also the strings "NaN", "Infinity",
 * "-Infinity"); true/false; strings; dates "YYYY-MM-DD" or days;
 * timestamps ISO-8601 or microseconds.  A missing key or null is null.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yajl/yajl_parse.h>

#include "buf.h"
#include "error.h"
#include "ndjson.h"
#include "parquet.h"
#include "pstime.h"
#include "banned.h"

static int usage(void)
{
	fputs("usage: pqtool write OUT --schema SPEC [--codec none|gzip|zstd]"
	      " [--level N] [--no-dict] [--row-group-bytes N] [--page-bytes N]"
	      " [--dict-max-bytes N] [--kv K=V]...\n       pqtool dump FILE\n"
	      "       pqtool meta FILE\n"
	      "       pqtool synth OUT N [--codec C]\n", stderr);
	return PS_EX_USAGE;
}

static int parse_size(const char *s, size_t *out)
{
	char *end;
	unsigned long long v;

	if (!*s || *s == '-')
		return -1;
	v = strtoull(s, &end, 10);
	if (*end || v == 0)
		return -1;
	*out = (size_t)v;
	return 0;
}

/* Parse "a:int64,b:string?" into cols (names point into spec). */
static int parse_schema(char *spec, struct ps_pq_column **cols, size_t *n)
{
	char *p = spec, *comma, *colon, *type;
	size_t len;

	*cols = NULL;
	*n = 0;
	while (*p) {
		struct ps_pq_column c = { 0 };

		comma = strchr(p, ',');
		if (comma)
			*comma = '\0';
		colon = strrchr(p, ':');
		if (!colon)
			return -1;
		*colon = '\0';
		type = colon + 1;
		len = strlen(type);
		if (len && type[len - 1] == '?') {
			c.nullable = 1;
			type[len - 1] = '\0';
		}
		c.name = p;
		if (ps_pq_type_parse(type, &c.type))
			return -1;
		*cols = ps_xrealloc(*cols, (*n + 1) * sizeof(**cols));
		(*cols)[(*n)++] = c;
		if (!comma)
			break;
		p = comma + 1;
	}
	return *n ? 0 : -1;
}

/*
 * Streaming NDJSON -> rows with yajl's event parser: each top-level object
 * is one row.  Values are collected per column (strings copied into an
 * arena) and handed to the writer when the object ends.
 */
enum { V_UNSET = 0, V_NULL, V_INT, V_DBL, V_BOOL, V_STR };

struct jval {
	int st;
	int64_t i;
	double d;
	size_t off, len;
};

struct jrow {
	struct ps_pq_writer *w;
	const struct ps_pq_column *cols;
	size_t ncols;
	size_t *namelen;
	struct jval *v;
	struct ps_buf arena;
	struct ps_error *e;
	int depth;
	long col;		/* column of the current key, -1 if unknown */
	int failed;
	long long line;
};

static int jbad(struct jrow *j, const char *why)
{
	if (!j->failed)
		ps_error_set(j->e, PS_EX_DATAERR, "line %lld: %s", j->line,
			     why);
	j->failed = 1;
	return 0;	/* stop yajl */
}

static int jbad_col(struct jrow *j)
{
	char why[200];

	snprintf(why, sizeof(why), "column '%s': bad %s value",
		 j->cols[j->col].name, ps_pq_type_name(j->cols[j->col].type));
	return jbad(j, why);
}

/* The current column, or NULL when the value is to be ignored. */
static struct jval *jcur(struct jrow *j, int *stop)
{
	*stop = 0;
	if (j->depth == 0) {
		*stop = !jbad(j, "not an object");
		return NULL;
	}
	if (j->depth > 1 || j->col < 0)
		return NULL;
	return &j->v[j->col];
}

static int cb_null(void *ctx)
{
	struct jrow *j = ctx;
	int stop;
	struct jval *v = jcur(j, &stop);

	if (v)
		v->st = V_NULL;
	return !stop;
}

static int cb_bool(void *ctx, int b)
{
	struct jrow *j = ctx;
	int stop;
	struct jval *v = jcur(j, &stop);

	if (!v)
		return !stop;
	if (j->cols[j->col].type != PS_PQ_BOOL)
		return jbad_col(j);
	v->st = V_BOOL;
	v->i = b;
	return 1;
}

static int cb_number(void *ctx, const char *s, size_t n)
{
	struct jrow *j = ctx;
	int stop;
	struct jval *v = jcur(j, &stop);
	char tmp[400], *end;

	if (!v)
		return !stop;
	if (n >= sizeof(tmp))
		return jbad_col(j);
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	errno = 0;
	if (j->cols[j->col].type == PS_PQ_DOUBLE) {
		/* strtod, not yajl: denormals are fine here */
		v->d = strtod(tmp, &end);
		v->st = V_DBL;
	} else if (j->cols[j->col].type == PS_PQ_BOOL ||
		   j->cols[j->col].type == PS_PQ_STRING) {
		return jbad_col(j);
	} else {
		v->i = strtoll(tmp, &end, 10);
		v->st = V_INT;
		if (errno)
			return jbad_col(j);
	}
	if (*end)
		return jbad_col(j);
	return 1;
}

static int cb_string(void *ctx, const unsigned char *s, size_t n)
{
	struct jrow *j = ctx;
	int stop;
	struct jval *v = jcur(j, &stop);
	const char *p = (const char *)s, *why;

	if (!v)
		return !stop;
	switch (j->cols[j->col].type) {
	case PS_PQ_STRING:
		v->st = V_STR;
		v->off = j->arena.len;
		v->len = n;
		ps_buf_add(&j->arena, p, n);
		return 1;
	case PS_PQ_DOUBLE:
		v->st = V_DBL;
		if (n == 3 && !memcmp(p, "NaN", 3))
			v->d = NAN;
		else if (n == 8 && !memcmp(p, "Infinity", 8))
			v->d = INFINITY;
		else if (n == 9 && !memcmp(p, "-Infinity", 9))
			v->d = -INFINITY;
		else
			return jbad_col(j);
		return 1;
	case PS_PQ_DATE:
	case PS_PQ_TIMESTAMP:
		if (ps_time_parse(p, n, &v->i, &why))
			return jbad_col(j);
		if (j->cols[j->col].type == PS_PQ_DATE)
			v->i = v->i / PS_USEC_PER_DAY -
			       (v->i % PS_USEC_PER_DAY < 0);
		v->st = V_INT;
		return 1;
	default:
		return jbad_col(j);
	}
}

static int cb_start(void *ctx)
{
	struct jrow *j = ctx;

	if (j->depth == 1 && j->col >= 0)
		return jbad_col(j);
	j->depth++;
	return 1;
}

static int cb_start_array(void *ctx)
{
	struct jrow *j = ctx;

	if (j->depth == 0)
		return jbad(j, "not an object");
	return cb_start(ctx);
}

static int cb_key(void *ctx, const unsigned char *k, size_t n)
{
	struct jrow *j = ctx;
	size_t i;

	if (j->depth != 1)
		return 1;
	j->col = -1;
	for (i = 0; i < j->ncols; i++) {
		if (j->namelen[i] == n && !memcmp(j->cols[i].name, k, n)) {
			j->col = (long)i;
			break;
		}
	}
	return 1;
}

static int cb_end(void *ctx)
{
	struct jrow *j = ctx;
	size_t i;

	if (--j->depth > 0)
		return 1;
	j->col = -1;
	for (i = 0; i < j->ncols; i++) {
		struct jval *v = &j->v[i];

		switch (v->st) {
		case V_NULL:
			ps_pq_set_null(j->w, i);
			break;
		case V_INT:
			ps_pq_set_int64(j->w, i, v->i);
			break;
		case V_DBL:
			ps_pq_set_double(j->w, i, v->d);
			break;
		case V_BOOL:
			ps_pq_set_bool(j->w, i, (int)v->i);
			break;
		case V_STR:
			ps_pq_set_string(j->w, i, j->arena.data + v->off,
					 v->len);
			break;
		}
		v->st = V_UNSET;
	}
	if (ps_pq_end_row(j->w, j->e)) {
		char why[sizeof(j->e->msg)];

		snprintf(why, sizeof(why), "%s", j->e->msg);
		return jbad(j, why);
	}
	ps_buf_reset(&j->arena);
	return 1;
}

static const yajl_callbacks jcb = {
	cb_null, cb_bool, NULL, NULL, cb_number, cb_string,
	cb_start, cb_key, cb_end, cb_start_array, cb_end,
};

/* Feed every line of stdin to the writer.  Returns 0 or -1 (e filled). */
static int read_rows(struct ps_pq_writer *w, const struct ps_pq_column *cols,
		     size_t ncols, struct ps_error *e)
{
	struct jrow j = { 0 };
	struct ps_ndjson *rd = ps_ndjson_new_fd(0, 0);
	struct ps_line line;
	yajl_handle h;
	size_t i;
	int rc, fed = 0;

	j.w = w;
	j.cols = cols;
	j.ncols = ncols;
	j.e = e;
	j.col = -1;
	j.arena = (struct ps_buf)PS_BUF_INIT;
	j.v = ps_xcalloc(ncols, sizeof(*j.v));
	j.namelen = ps_xcalloc(ncols, sizeof(*j.namelen));
	for (i = 0; i < ncols; i++)
		j.namelen[i] = strlen(cols[i].name);
	h = yajl_alloc(&jcb, NULL, &j);
	yajl_config(h, yajl_allow_multiple_values, 1);
	while ((rc = ps_ndjson_next(rd, &line, e)) == 1) {
		j.line = line.lineno;
		if (memchr(line.data, '\0', line.len)) {
			jbad(&j, "NUL byte");
			rc = -1;
			break;
		}
		for (i = 0; i < line.len && !fed; i++)
			fed = !strchr(" \t\r", line.data[i]);
		if (yajl_parse(h, (const unsigned char *)line.data,
			       line.len) != yajl_status_ok ||
		    yajl_parse(h, (const unsigned char *)"\n", 1) !=
			    yajl_status_ok) {
			if (!j.failed) {
				unsigned char *m = yajl_get_error(h, 0, NULL,
								  0);

				jbad(&j, (const char *)m);
				yajl_free_error(h, m);
			}
			rc = -1;
			break;
		}
	}
	/* (yajl refuses to complete an input without any value) */
	if (rc == 0 && fed && (yajl_complete_parse(h) != yajl_status_ok ||
			       j.depth != 0)) {
		jbad(&j, "truncated JSON at end of input");
		rc = -1;
	}
	yajl_free(h);
	ps_ndjson_free(rd);
	ps_buf_release(&j.arena);
	free(j.v);
	free(j.namelen);
	return rc < 0 ? -1 : 0;
}

static int cmd_write(int argc, char **argv)
{
	struct ps_pq_options o = PS_PQ_OPTIONS_INIT;
	struct ps_pq_column *cols = NULL;
	struct ps_pq_writer *w;
	struct ps_error e = { 0 };
	char *spec = NULL;
	size_t ncols = 0;
	int a, rc;

	if (argc < 3)
		return usage();
	for (a = 3; a < argc; a++) {
		const char *arg = argv[a], *val = a + 1 < argc ? argv[a + 1] :
						   NULL;

		if (!strcmp(arg, "--no-dict")) {
			o.no_dict = 1;
			continue;
		}
		if (!val)
			return usage();
		a++;
		if (!strcmp(arg, "--schema")) {
			spec = ps_xstrdup(val);
		} else if (!strcmp(arg, "--codec")) {
			if (ps_pq_codec_parse(val, &o.codec))
				return usage();
		} else if (!strcmp(arg, "--level")) {
			o.level = (int)strtol(val, NULL, 10);
		} else if (!strcmp(arg, "--row-group-bytes")) {
			if (parse_size(val, &o.row_group_bytes))
				return usage();
		} else if (!strcmp(arg, "--dict-max-bytes")) {
			if (parse_size(val, &o.dict_max_bytes))
				return usage();
		} else if (!strcmp(arg, "--page-bytes")) {
			if (parse_size(val, &o.page_bytes))
				return usage();
		} else if (!strcmp(arg, "--kv")) {
			/* handled after open */
		} else {
			return usage();
		}
	}
	if (!spec || parse_schema(spec, &cols, &ncols)) {
		free(spec);
		free(cols);
		return usage();
	}
	w = ps_pq_open(argv[2], cols, ncols, &o, &e);
	if (!w)
		goto fail;
	for (a = 3; a + 1 < argc; a++) {
		if (!strcmp(argv[a], "--kv")) {
			char *kv = ps_xstrdup(argv[a + 1]), *eq;

			eq = strchr(kv, '=');
			if (eq) {
				*eq = '\0';
				ps_pq_add_kv(w, kv, eq + 1);
			}
			free(kv);
		}
	}
	rc = read_rows(w, cols, ncols, &e);
	if (rc < 0) {
		ps_pq_abort(w);
		goto fail;
	}
	if (ps_pq_close(w, &e))
		goto fail;
	free(spec);
	free(cols);
	return 0;
fail:
	fprintf(stderr, "pqtool: %s\n", e.msg);
	free(spec);
	free(cols);
	return e.code ? e.code : PS_EX_SOFTWARE;
}

struct nspec {
	struct ps_pq_node *v;
	size_t n, cap;
	const char *why;
};

static size_t nspec_add(struct nspec *ns)
{
	if (ns->n == ns->cap) {
		ns->cap = ns->cap ? ns->cap * 2 : 16;
		ns->v = ps_xrealloc(ns->v, ns->cap * sizeof(*ns->v));
	}
	memset(&ns->v[ns->n], 0, sizeof(ns->v[0]));
	return ns->n++;
}

static int parse_field(struct nspec *ns, char **pp);

/* Parse a type at *pp into node i; 0 or -1. */
static int parse_type(struct nspec *ns, size_t i, char **pp)
{
	char *p = *pp;
	size_t len = strcspn(p, "<,>?");
	size_t k;

	if (p[len] == '<') {
		if (len == 6 && !strncmp(p, "struct", 6)) {
			ns->v[i].kind = PS_PQ_STRUCT;
			p += 7;
			for (;;) {
				ns->v[i].nchildren++;
				if (parse_field(ns, &p))
					return -1;
				if (*p == ',') {
					p++;
					continue;
				}
				break;
			}
		} else if ((len == 4 && !strncmp(p, "list", 4)) ||
			   (len == 3 && !strncmp(p, "map", 3))) {
			int map = len == 3;

			ns->v[i].kind = map ? PS_PQ_MAP : PS_PQ_LIST;
			p += len + 1;
			if (map) {
				k = nspec_add(ns);
				ns->v[k].name = "key";
				ns->v[k].type = PS_PQ_STRING;
			}
			k = nspec_add(ns);
			ns->v[k].name = map ? "value" : "element";
			if (parse_type(ns, k, &p))
				return -1;
			if (*p == '?') {
				ns->v[k].nullable = 1;
				p++;
			}
		} else {
			ns->why = "unknown group type";
			return -1;
		}
		if (*p != '>') {
			ns->why = "'>' expected";
			return -1;
		}
		*pp = p + 1;
		return 0;
	}
	{
		char save = p[len];

		p[len] = '\0';
		ns->v[i].kind = PS_PQ_LEAF;
		if (ps_pq_type_parse(p, &ns->v[i].type)) {
			ns->why = "unknown type";
			return -1;
		}
		p[len] = save;
	}
	*pp = p + len;
	return 0;
}

static int parse_field(struct nspec *ns, char **pp)
{
	char *p = *pp, *colon = strchr(p, ':');
	size_t i = nspec_add(ns);

	if (!colon) {
		ns->why = "':' expected";
		return -1;
	}
	*colon = '\0';
	ns->v[i].name = p;
	p = colon + 1;
	if (parse_type(ns, i, &p))
		return -1;
	if (*p == '?') {
		ns->v[i].nullable = 1;
		p++;
	}
	*pp = p;
	return 0;
}

static int cmd_write_nested(int argc, char **argv)
{
	struct ps_pq_options o = PS_PQ_OPTIONS_INIT;
	struct ps_error e = { 0 };
	struct nspec ns = { 0 };
	struct ps_pq_writer *w;
	struct ps_ndjson *rd;
	struct ps_line line;
	char *spec = NULL, *p;
	int a, rc;

	for (a = 3; a + 1 < argc; a += 2) {
		if (!strcmp(argv[a], "--schema"))
			spec = argv[a + 1];
		else if (!strcmp(argv[a], "--codec") &&
			 !ps_pq_codec_parse(argv[a + 1], &o.codec))
			continue;
		else
			return usage();
	}
	if (argc < 3 || a != argc || !spec)
		return usage();
	spec = p = ps_xstrdup(spec);
	for (;;) {
		if (parse_field(&ns, &p)) {
			fprintf(stderr, "pqtool: schema: %s at '%s'\n", ns.why,
				p);
			free(spec);
			free(ns.v);
			return PS_EX_USAGE;
		}
		if (*p != ',')
			break;
		p++;
	}
	w = ps_pq_open_nested(argv[2], ns.v, ns.n, &o, &e);
	if (!w)
		goto fail;
	rd = ps_ndjson_new_fd(0, 0);
	while ((rc = ps_ndjson_next(rd, &line, &e)) == 1) {
		if (ps_pq_write_json(w, line.data, line.len, &e)) {
			rc = -1;
			break;
		}
	}
	ps_ndjson_free(rd);
	if (rc < 0) {
		ps_pq_abort(w);
		goto fail;
	}
	if (ps_pq_close(w, &e))
		goto fail;
	free(spec);
	free(ns.v);
	return 0;
fail:
	fprintf(stderr, "pqtool: %s\n", e.msg);
	free(spec);
	free(ns.v);
	return e.code ? e.code : PS_EX_SOFTWARE;
}

static int cmd_read(const char *path, int meta)
{
	struct ps_error e = { 0 };
	struct ps_buf b = PS_BUF_INIT;
	struct ps_pq_reader *r;
	int rc = 0;

	r = ps_pq_reader_open(path, &e);
	if (!r) {
		fprintf(stderr, "pqtool: %s: %s\n", path, e.msg);
		return e.code;
	}
	if (meta) {
		ps_pq_meta_json(r, &b);
		ps_buf_addc(&b, '\n');
		fwrite(b.data, 1, b.len, stdout);
	} else {
		while ((rc = ps_pq_next(r, &e)) == 1) {
			ps_buf_reset(&b);
			ps_pq_row_json(r, &b);
			ps_buf_addc(&b, '\n');
			if (fwrite(b.data, 1, b.len, stdout) != b.len)
				break;
		}
		if (rc < 0)
			fprintf(stderr, "pqtool: %s: %s\n", path, e.msg);
	}
	ps_buf_release(&b);
	ps_pq_reader_free(r);
	if (fflush(stdout) || ferror(stdout))
		return PS_EX_IOERR;
	return rc < 0 ? e.code : 0;
}

/* 36-character pseudo-UUID from two 64-bit values. */
static void fake_uuid(char *o, uint64_t a, uint64_t b)
{
	static const char hex[] = "0123456789abcdef";
	int i, k = 0;

	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			o[i] = '-';
			continue;
		}
		o[i] = hex[(k < 16 ? a >> (4 * k) : b >> (4 * (k - 16))) & 15];
		k++;
	}
}

static int cmd_synth(int argc, char **argv)
{
	static const char *const dep[] = {
		"Emergency", "ICU", "Cardiology", "Oncology", "Pediatrics",
		"Surgery", "Neurology", "Orthopedics",
	};
	static const char *const typ[] = { "ARRIVAL", "ADMIT", "TRANSFER",
					   "DISCHARGE" };
	static const struct ps_pq_column cols[] = {
		{ "event_id", PS_PQ_STRING, 0, 0 },
		{ "event_type", PS_PQ_STRING, 0, 0 },
		{ "event_time", PS_PQ_TIMESTAMP, 0, 0 },
		{ "encounter_id", PS_PQ_STRING, 0, 0 },
		{ "patient_id", PS_PQ_STRING, 0, 0 },
		{ "gender", PS_PQ_STRING, 0, 0 },
		{ "age", PS_PQ_INT32, 0, 0 },
		{ "department", PS_PQ_STRING, 0, 0 },
		{ "hospital_id", PS_PQ_INT32, 0, 0 },
		{ "bed_id", PS_PQ_INT32, 0, 0 },
		{ "arrival_time", PS_PQ_TIMESTAMP, 1, 0 },
		{ "admission_time", PS_PQ_TIMESTAMP, 1, 0 },
		{ "discharge_time", PS_PQ_TIMESTAMP, 1, 0 },
		{ "triage_level", PS_PQ_INT32, 1, 0 },
	};
	struct ps_pq_options o = PS_PQ_OPTIONS_INIT;
	struct ps_error e = { 0 };
	struct ps_pq_writer *w;
	uint64_t x = 88172645463325252ULL, n, i;
	char ev[36], enc[36], pat[36];
	int64_t t = 1766000000000000LL;
	size_t nn;

	if (argc < 4 || parse_size(argv[3], &nn))
		return usage();
	n = nn;
	if (argc == 6 && !strcmp(argv[4], "--codec")) {
		if (ps_pq_codec_parse(argv[5], &o.codec))
			return usage();
	} else if (argc != 4) {
		return usage();
	}
	w = ps_pq_open(argv[2], cols, sizeof(cols) / sizeof(cols[0]), &o,
		       &e);
	if (!w)
		goto fail;
	for (i = 0; i < n; i++) {
		uint64_t r;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		r = x * 0x2545f4914f6cdd1dULL;
		t += (int64_t)(r % 2000000);
		fake_uuid(ev, r, i * 0x9e3779b97f4a7c15ULL);
		fake_uuid(enc, r >> 20, i / 3 * 0x9e3779b97f4a7c15ULL);
		fake_uuid(pat, r >> 24, i / 5 * 0x9e3779b97f4a7c15ULL);
		ps_pq_set_string(w, 0, ev, 36);
		ps_pq_set_string(w, 1, typ[r % 4], strlen(typ[r % 4]));
		ps_pq_set_int64(w, 2, t);
		ps_pq_set_string(w, 3, enc, 36);
		ps_pq_set_string(w, 4, pat, 36);
		ps_pq_set_string(w, 5, r & 1 ? "Male" : "Female",
				 r & 1 ? 4 : 6);
		ps_pq_set_int32(w, 6, (int32_t)((r >> 8) % 100));
		ps_pq_set_string(w, 7, dep[(r >> 16) % 8],
				 strlen(dep[(r >> 16) % 8]));
		ps_pq_set_int32(w, 8, (int32_t)((r >> 20) % 10) + 1);
		ps_pq_set_int32(w, 9, (int32_t)((r >> 24) % 500));
		ps_pq_set_int64(w, 10, t - (int64_t)(r % 7200000000LL));
		ps_pq_set_int64(w, 11, t);
		if (r % 3 == 0)
			ps_pq_set_int64(w, 12,
					t + (int64_t)(r % 86400000000LL));
		if (r % 4 == 0)
			ps_pq_set_int32(w, 13, (int32_t)(r % 5) + 1);
		if (ps_pq_end_row(w, &e)) {
			ps_pq_abort(w);
			goto fail;
		}
	}
	if (ps_pq_close(w, &e))
		goto fail;
	return 0;
fail:
	fprintf(stderr, "pqtool: %s\n", e.msg);
	return e.code ? e.code : PS_EX_SOFTWARE;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	if (!strcmp(argv[1], "write-nested"))
		return cmd_write_nested(argc, argv);
	if (!strcmp(argv[1], "write"))
		return cmd_write(argc, argv);
	if (argc == 3 && !strcmp(argv[1], "dump"))
		return cmd_read(argv[2], 0);
	if (argc == 3 && !strcmp(argv[1], "meta"))
		return cmd_read(argv[2], 1);
	if (!strcmp(argv[1], "synth"))
		return cmd_synth(argc, argv);
	return usage();
}

/* lake.c - see lake.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "cli.h"
#include "fsutil.h"
#include "lake.h"
#include "log.h"
#include "ndjson.h"
#include "pstime.h"
#include "banned.h"

#define POS_DIGITS 20
#define BRONZE_PREFIX "bronze-"
#define READER_CHUNK (256 * 1024)

/* What distinguishes the tables (lake.h). */
static const struct table {
	const char *area;
	const char *key;	/* partition directory: KEY=VALUE */
	const char *prefix;	/* after "part-" */
	const char *suffix;
	int runs;		/* names may carry -rRUN */
	const char *writer;
} tables[] = {
	[PS_LAKE_BRONZE] = { "bronze", "date", "", ".ndjson.gz", 0,
			     PS_LAKE_BRONZE_TOOL },
	[PS_LAKE_BRONZE_QUARANTINE] = { "quarantine", "date", BRONZE_PREFIX,
					".ndjson.gz", 0, PS_LAKE_BRONZE_TOOL },
	[PS_LAKE_SILVER] = { "silver", "admission_date", "", ".parquet", 1,
			     PS_LAKE_SILVER_TOOL },
	[PS_LAKE_SILVER_QUARANTINE] = { "quarantine", "date", "",
					".ndjson.gz", 1, PS_LAKE_SILVER_TOOL },
};

/* ---- layout ---- */

char *ps_lake_dir(const char *lake, enum ps_lake_table t, const char *stream)
{
	struct ps_buf b = PS_BUF_INIT;
	size_t n = strlen(lake);

	ps_buf_adds(&b, lake);
	if (n && lake[n - 1] != '/')
		ps_buf_addc(&b, '/');
	ps_buf_addf(&b, "%s/%s", tables[t].area, stream);
	return ps_buf_detach(&b, NULL);
}

const char *ps_lake_writer(enum ps_lake_table t)
{
	return tables[t].writer;
}

const char *ps_lake_partition_key(enum ps_lake_table t)
{
	return tables[t].key;
}

/* ---- Delta commit points ---- */

void ps_lake_txn_app_id(struct ps_buf *b, const char *tool,
			const char *stream, const char *source, size_t len)
{
	ps_buf_addf(b, "%s/%s/", tool, stream);
	ps_buf_add(b, source, len);
}

void ps_lake_delta_positions(const struct ps_delta_snapshot *s,
			     const char *tool, const char *stream,
			     struct ps_checkpoint *cp)
{
	size_t tl = strlen(tool), sl = strlen(stream), i;

	for (i = 0; i < s->ntxns; i++) {
		const char *a = s->txns[i].app_id;
		size_t al = strlen(a);

		if (al > tl + sl + 2 && !memcmp(a, tool, tl) && a[tl] == '/' &&
		    !memcmp(a + tl + 1, stream, sl) && a[tl + 1 + sl] == '/')
			ps_checkpoint_set(cp, a + tl + sl + 2,
					  al - tl - sl - 2,
					  s->txns[i].version);
	}
}

/*
 * The latest snapshot of the silver table of stream.  No table (version
 * -1) is fine for a new lake; a silver directory of an older lake (part
 * files or a silver checkpoint, but no _delta_log) is refused with the
 * fix.
 */
static int silver_snapshot(const char *lake, const char *stream,
			   struct ps_delta_snapshot *s, struct ps_error *e)
{
	struct ps_lake_parts fs = PS_LAKE_PARTS_INIT;
	char *dir = ps_lake_dir(lake, PS_LAKE_SILVER, stream);
	char *cpp = NULL;
	int rc = ps_delta_snapshot_load(dir, -1, s, e);

	if (rc == 0 && s->version < 0) {
		cpp = ps_checkpoint_path(lake, PS_LAKE_SILVER_TOOL, stream);
		rc = ps_lake_list(lake, PS_LAKE_SILVER, stream, &fs, e);
		if (rc == 0 && (fs.n || access(cpp, F_OK) == 0))
			rc = ps_error_set(e, PS_EX_CONFIG, "%s: a silver "
					  "table of an older PulseStream (no "
					  "_delta_log): run 'ps-silver -L %s "
					  "--stream %s --catch-up' once to "
					  "convert it to Delta", dir, lake,
					  stream);
		ps_lake_parts_release(&fs);
	}
	free(cpp);
	free(dir);
	return rc;
}

/* ---- names ---- */

static int safe_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

static int all_safe(const char *s, size_t n)
{
	size_t i;

	if (!n)
		return 0;
	for (i = 0; i < n; i++)
		if (!safe_char((unsigned char)s[i]))
			return 0;
	return 1;
}

static int all_digits(const char *s, size_t n)
{
	size_t i;

	if (!n)
		return 0;
	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

void ps_lake_safe_source(struct ps_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i, start = b->len;
	int k;

	if (n <= 120 && n > 6 && !memcmp(s, "stdin:", 6) &&
	    all_safe(s + 6, n - 6)) {
		ps_buf_adds(b, "stdin_");
		ps_buf_add(b, s + 6, n - 6);
		return;
	}
	if (n <= 120 && n > 6 && !memcmp(s, "kafka:", 6)) {
		const char *slash = memrchr(s + 6, '/', n - 6);

		if (slash && all_safe(s + 6, (size_t)(slash - s - 6)) &&
		    all_digits(slash + 1, (size_t)(s + n - slash - 1))) {
			ps_buf_adds(b, "kafka_");
			ps_buf_add(b, s + 6, (size_t)(slash - s - 6));
			ps_buf_addc(b, '_');
			ps_buf_add(b, slash + 1, (size_t)(s + n - slash - 1));
			return;
		}
	}
	for (i = 0; i < n && i < 64; i++)
		ps_buf_addc(b, safe_char((unsigned char)s[i]) ? s[i] : '_');
	/* "bronze-" would read as bronze's quarantine prefix. */
	if (b->len - start >= sizeof(BRONZE_PREFIX) - 1 &&
	    !memcmp(b->data + start, BRONZE_PREFIX, sizeof(BRONZE_PREFIX) - 1))
		b->data[start + sizeof(BRONZE_PREFIX) - 2] = '_';
	for (i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	ps_buf_addc(b, '~');
	for (k = 60; k >= 0; k -= 4)
		ps_buf_addc(b, hex[(h >> k) & 15]);
}

static int parse_pos(const char *s, long long *out)
{
	long long v = 0;
	int i;

	for (i = 0; i < POS_DIGITS; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (v > (INT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

void ps_lake_part_path(struct ps_buf *b, enum ps_lake_table t,
		       const char *dir, const char *partition,
		       const char *source, size_t len, long long first,
		       long long last, long long run)
{
	const struct table *tb = &tables[t];

	ps_buf_adds(b, dir);
	ps_buf_addf(b, "/%s=", tb->key);
	ps_buf_add(b, partition, 10);
	ps_buf_adds(b, "/part-");
	ps_buf_adds(b, tb->prefix);
	ps_lake_safe_source(b, source, len);
	ps_buf_addf(b, "-%020lld-%020lld", first, last);
	if (run >= 0 && tb->runs)
		ps_buf_addf(b, "-r%lld", run);
	ps_buf_adds(b, tb->suffix);
}

int ps_lake_part_parse(enum ps_lake_table t, const char *name,
		       const char **safe, size_t *safe_len, long long *first,
		       long long *last, long long *run)
{
	const struct table *tb = &tables[t];
	size_t n = strlen(name), sl = strlen(tb->suffix);
	size_t pl = 5 + strlen(tb->prefix);
	const char *end, *p;
	long long r = -1;

	if (n < pl + sl || memcmp(name, "part-", 5) ||
	    memcmp(name + 5, tb->prefix, pl - 5) ||
	    memcmp(name + n - sl, tb->suffix, sl))
		return -1;
	/* the other tables of the shared quarantine area */
	if (!*tb->prefix && !strncmp(name + 5, BRONZE_PREFIX,
				     sizeof(BRONZE_PREFIX) - 1))
		return -1;
	end = name + n - sl;
	if (tb->runs) {
		/* an optional -rRUN */
		const char *q = end;

		while (q > name + pl && q[-1] >= '0' && q[-1] <= '9')
			q--;
		if (q < end && end - q <= 18 && q - (name + pl) >= 2 &&
		    q[-1] == 'r' && q[-2] == '-') {
			r = 0;
			for (p = q; p < end; p++)
				r = r * 10 + (*p - '0');
			end = q - 2;
		}
	}
	/* SAFE - FIRST - LAST */
	if (end - (name + pl) < 2 + 2 * POS_DIGITS + 1)
		return -1;
	p = end - (2 * POS_DIGITS + 2);
	if (p[0] != '-' || p[1 + POS_DIGITS] != '-' ||
	    parse_pos(p + 1, first) < 0 ||
	    parse_pos(p + 2 + POS_DIGITS, last) < 0 || *first > *last)
		return -1;
	*safe = name + pl;
	*safe_len = (size_t)(p - (name + pl));
	*run = r;
	return 0;
}

/* ---- listing ---- */

static int cmp_part(const void *a, const void *b)
{
	const struct ps_lake_part *x = a, *y = b;
	int c = strcmp(x->safe, y->safe);

	if (c)
		return c;
	if (x->first != y->first)
		return x->first < y->first ? -1 : 1;
	if (x->last != y->last)
		return x->last < y->last ? -1 : 1;
	if (x->run != y->run)
		return x->run < y->run ? -1 : 1;
	return strcmp(x->partition, y->partition);
}

/* KEY=VALUE with a 10-byte VALUE: the partition value, else NULL. */
static const char *partition_of(const struct table *tb, const char *name)
{
	size_t kl = strlen(tb->key);

	if (strlen(name) != kl + 11 || memcmp(name, tb->key, kl) ||
	    name[kl] != '=')
		return NULL;
	return name + kl + 1;
}

int ps_lake_list(const char *lake, enum ps_lake_table t, const char *stream,
		 struct ps_lake_parts *out, struct ps_error *e)
{
	const struct table *tb = &tables[t];
	char *root = ps_lake_dir(lake, t, stream);
	DIR *d = opendir(root), *dd;
	struct dirent *de, *fe;
	size_t cap = 0;
	int rc = 0;

	out->v = NULL;
	out->n = 0;
	if (!d) {
		if (errno != ENOENT)
			rc = ps_error_errno(e, PS_EX_IOERR, errno,
					    "cannot read directory %s", root);
		free(root);
		return rc;
	}
	while (rc == 0 && (de = readdir(d))) {
		const char *value = partition_of(tb, de->d_name);
		char *dir;

		if (!value)
			continue;
		dir = ps_path_join(root, de->d_name);
		dd = opendir(dir);
		if (!dd) {
			rc = ps_error_errno(e, PS_EX_IOERR, errno,
					    "cannot read directory %s", dir);
			free(dir);
			break;
		}
		while ((fe = readdir(dd))) {
			const char *safe;
			size_t sl;
			long long first, last, run;
			struct ps_lake_part *f;

			if (fe->d_name[0] == '.' ||
			    ps_lake_part_parse(t, fe->d_name, &safe, &sl,
					       &first, &last, &run) < 0)
				continue;
			if (out->n == cap) {
				cap = cap ? cap * 2 : 64;
				out->v = ps_xrealloc(out->v,
						     cap * sizeof(*out->v));
			}
			f = &out->v[out->n++];
			f->path = ps_path_join(dir, fe->d_name);
			memcpy(f->partition, value, 10);
			f->partition[10] = '\0';
			f->safe = ps_xmemdup(safe, sl);
			f->first = first;
			f->last = last;
			f->run = run;
		}
		closedir(dd);
		free(dir);
	}
	closedir(d);
	free(root);
	if (rc < 0) {
		ps_lake_parts_release(out);
		return -1;
	}
	if (out->n)
		qsort(out->v, out->n, sizeof(*out->v), cmp_part);
	return 0;
}

void ps_lake_parts_release(struct ps_lake_parts *ps)
{
	size_t i;

	for (i = 0; i < ps->n; i++) {
		free(ps->v[i].path);
		free(ps->v[i].safe);
	}
	free(ps->v);
	ps->v = NULL;
	ps->n = 0;
}

long long ps_lake_safe_position(const struct ps_checkpoint *cp,
				const char *safe, size_t len)
{
	struct ps_buf b = PS_BUF_INIT;
	size_t i, n = ps_checkpoint_count(cp);
	long long best = -1;

	for (i = 0; i < n; i++) {
		const char *s;
		size_t sl;
		long long pos;

		ps_checkpoint_entry(cp, i, &s, &sl, &pos);
		ps_buf_reset(&b);
		ps_lake_safe_source(&b, s, sl);
		if (b.len == len && !memcmp(b.data, safe, len) && pos > best)
			best = pos;
	}
	ps_buf_release(&b);
	return best;
}

int ps_lake_covered(enum ps_lake_table t, const struct ps_lake_part *f,
		    const struct ps_checkpoint *cp)
{
	if (t == PS_LAKE_BRONZE || t == PS_LAKE_BRONZE_QUARANTINE)
		return 1;
	return f->run >= 0 ||
	       f->last <= ps_lake_safe_position(cp, f->safe, strlen(f->safe));
}

/* A part of the silver table from an active file of its snapshot. */
static void part_of_file(const char *dir, const struct ps_delta_file *df,
			 struct ps_lake_part *f)
{
	const char *base = strrchr(df->path, '/'), *safe, *slash;
	size_t sl, k;

	base = base ? base + 1 : df->path;
	f->path = ps_path_join(dir, df->path);
	memset(f->partition, 0, sizeof(f->partition));
	for (k = 0; k < df->npv; k++)
		if (!strcmp(df->pv_keys[k], tables[PS_LAKE_SILVER].key) &&
		    df->pv_vals[k])
			snprintf(f->partition, sizeof(f->partition), "%s",
				 df->pv_vals[k]);
	if (!f->partition[0] && (slash = strchr(df->path, '=')) &&
	    base - slash - 2 == 10)
		memcpy(f->partition, slash + 1, 10);
	if (ps_lake_part_parse(PS_LAKE_SILVER, base, &safe, &sl, &f->first,
			       &f->last, &f->run) == 0) {
		f->safe = ps_xmemdup(safe, sl);
		return;
	}
	f->safe = ps_xstrdup("");
	f->first = 0;
	f->last = INT64_MAX;
	f->run = -1;
}

static int silver_visible(const char *lake, const char *stream,
			  struct ps_lake_parts *out, struct ps_error *e)
{
	struct ps_delta_snapshot s = PS_DELTA_SNAPSHOT_INIT;
	char *dir;
	size_t i;

	out->v = NULL;
	out->n = 0;
	if (silver_snapshot(lake, stream, &s, e) < 0)
		return -1;
	dir = ps_lake_dir(lake, PS_LAKE_SILVER, stream);
	if (s.nfiles)
		out->v = ps_xcalloc(s.nfiles, sizeof(*out->v));
	for (i = 0; i < s.nfiles; i++)
		part_of_file(dir, &s.files[i], &out->v[out->n++]);
	if (out->n)
		qsort(out->v, out->n, sizeof(*out->v), cmp_part);
	free(dir);
	ps_delta_snapshot_release(&s);
	return 0;
}

int ps_lake_visible(const char *lake, enum ps_lake_table t,
		    const char *stream, struct ps_lake_parts *out,
		    struct ps_error *e)
{
	struct ps_checkpoint *cp;
	size_t i, k = 0;

	if (t == PS_LAKE_BRONZE || t == PS_LAKE_BRONZE_QUARANTINE)
		return ps_lake_list(lake, t, stream, out, e);
	if (t == PS_LAKE_SILVER)
		return silver_visible(lake, stream, out, e);
	/* The commit point first: what is listed after it is complete. */
	cp = ps_checkpoint_new();
	if (ps_lake_committed(lake, t, stream, cp, e) < 0 ||
	    ps_lake_list(lake, t, stream, out, e) < 0) {
		ps_checkpoint_free(cp);
		return -1;
	}
	for (i = 0; i < out->n; i++) {
		struct ps_lake_part *f = &out->v[i];

		if (ps_lake_covered(t, f, cp)) {
			out->v[k++] = *f;
			continue;
		}
		ps_log(PS_DEBUG, "not yet committed: not read",
		       PS_S("file", f->path));
		free(f->path);
		free(f->safe);
	}
	out->n = k;
	ps_checkpoint_free(cp);
	return 0;
}

/* ---- a view of the whole lake ---- */

struct view_entry {
	enum ps_lake_table t;
	char *stream;
	struct ps_checkpoint *cp;
	struct ps_delta_snapshot snap;	/* silver: its table */
};

struct ps_lake_view {
	char *lake;
	struct view_entry *v;
	size_t n;
};

struct ps_lake_view *ps_lake_view_new(const char *lake)
{
	struct ps_lake_view *v = ps_xcalloc(1, sizeof(*v));

	v->lake = ps_xstrdup(lake);
	return v;
}

void ps_lake_view_free(struct ps_lake_view *v)
{
	size_t i;

	if (!v)
		return;
	for (i = 0; i < v->n; i++) {
		free(v->v[i].stream);
		ps_checkpoint_free(v->v[i].cp);
		ps_delta_snapshot_release(&v->v[i].snap);
	}
	free(v->v);
	free(v->lake);
	free(v);
}

/* The commit point of (t, stream), loaded once: committed positions, and
 * for silver the table's snapshot. */
static struct view_entry *view_positions(struct ps_lake_view *v,
					 enum ps_lake_table t,
					 const char *stream, size_t len,
					 struct ps_error *e)
{
	struct ps_delta_snapshot s0 = PS_DELTA_SNAPSHOT_INIT;
	struct view_entry *x;
	size_t i;
	int rc;

	for (i = 0; i < v->n; i++)
		if (v->v[i].t == t && strlen(v->v[i].stream) == len &&
		    !memcmp(v->v[i].stream, stream, len))
			return &v->v[i];
	v->v = ps_xrealloc(v->v, (v->n + 1) * sizeof(*v->v));
	x = &v->v[v->n];
	x->t = t;
	x->stream = ps_xmemdup(stream, len);
	x->cp = ps_checkpoint_new();
	x->snap = s0;
	if (t == PS_LAKE_SILVER)
		rc = silver_snapshot(v->lake, x->stream, &x->snap, e);
	else
		rc = ps_lake_committed(v->lake, t, x->stream, x->cp, e);
	if (rc < 0) {
		free(x->stream);
		ps_checkpoint_free(x->cp);
		ps_delta_snapshot_release(&x->snap);
		return NULL;
	}
	return &v->v[v->n++];
}

int ps_lake_view_visible(struct ps_lake_view *v, const char *rel,
			 struct ps_error *e)
{
	static const enum ps_lake_table ts[] = {
		PS_LAKE_SILVER, PS_LAKE_SILVER_QUARANTINE
	};
	const char *s1 = strchr(rel, '/'), *s2, *s3;
	struct ps_lake_part f;
	struct view_entry *x;
	const char *safe;
	size_t i, sl;

	if (!s1 || !(s2 = strchr(s1 + 1, '/')) || !(s3 = strchr(s2 + 1, '/')) ||
	    strchr(s3 + 1, '/'))
		return 1;	/* not AREA/STREAM/KEY=VALUE/NAME */
	for (i = 0; i < 2; i++) {
		const struct table *tb = &tables[ts[i]];
		char key[64];

		if (strlen(tb->area) != (size_t)(s1 - rel) ||
		    memcmp(rel, tb->area, (size_t)(s1 - rel)) ||
		    (size_t)(s3 - s2 - 1) >= sizeof(key))
			continue;
		memcpy(key, s2 + 1, (size_t)(s3 - s2 - 1));
		key[s3 - s2 - 1] = '\0';
		if (!partition_of(tb, key))
			continue;
		/* silver: any data file of the table, by its log */
		if (ts[i] == PS_LAKE_SILVER) {
			if (s3[1] == '.')
				return 0;
			x = view_positions(v, ts[i], s1 + 1,
					   (size_t)(s2 - s1 - 1), e);
			if (!x)
				return -1;
			return ps_delta_snapshot_find(&x->snap, s2 + 1, 1) !=
			       NULL;
		}
		if (ps_lake_part_parse(ts[i], s3 + 1, &safe, &sl, &f.first,
				       &f.last, &f.run) < 0)
			continue;
		x = view_positions(v, ts[i], s1 + 1, (size_t)(s2 - s1 - 1),
				   e);
		if (!x)
			return -1;
		f.safe = ps_xmemdup(safe, sl);
		i = (size_t)ps_lake_covered(ts[i], &f, x->cp);
		free(f.safe);
		return (int)i;
	}
	return 1;
}

/* ---- reader ---- */

struct ps_lake_reader {
	gzFile gz;
	char *path;
	struct ps_ndjson *nd;
	struct ps_envelope_parser *ep;
	int gzerr;
};

static ssize_t gz_read(void *ctx, void *buf, size_t n)
{
	struct ps_lake_reader *r = ctx;
	int k;

	if (n > READER_CHUNK)
		n = READER_CHUNK;
	k = gzread(r->gz, buf, (unsigned)n);
	if (k == 0) {
		int ze = Z_OK;

		/* A truncated stream ends like a file: ask zlib. */
		gzerror(r->gz, &ze);
		if (ze != Z_OK)
			k = -1;
	}
	if (k < 0) {
		r->gzerr = 1;
		errno = EIO;
		return -1;
	}
	return k;
}

struct ps_lake_reader *ps_lake_reader_open(const char *path,
					   struct ps_error *e)
{
	struct ps_lake_reader *r;
	gzFile gz = gzopen(path, "rb");

	if (!gz) {
		ps_error_errno(e, PS_EX_NOINPUT, errno ? errno : ENOMEM,
			       "cannot open %s", path);
		return NULL;
	}
	gzbuffer(gz, 128 * 1024);
	r = ps_xcalloc(1, sizeof(*r));
	r->gz = gz;
	r->path = ps_xstrdup(path);
	r->nd = ps_ndjson_new(gz_read, r, PS_LINE_MAX);
	r->ep = ps_envelope_parser_new();
	return r;
}

int ps_lake_reader_next(struct ps_lake_reader *r, struct ps_envelope *env,
			struct ps_error *e)
{
	struct ps_line line;
	struct ps_error pe = { 0, "" };
	int rc;

	for (;;) {
		rc = ps_ndjson_next(r->nd, &line, &pe);
		if (rc < 0) {
			int ze = 0;
			const char *zmsg = gzerror(r->gz, &ze);

			if (r->gzerr)
				return ps_error_set(e, PS_EX_IOERR,
						    "%s: damaged gzip data: %s",
						    r->path, zmsg);
			return ps_error_set(e, PS_EX_IOERR, "%s: %s", r->path,
					    pe.msg);
		}
		if (rc == 0)
			return 0;
		if (line.len || line.too_long)
			break;
	}
	/* A committed file that does not hold envelopes is damaged: 74. */
	if (line.too_long)
		return ps_error_set(e, PS_EX_IOERR,
				    "%s:%lld: line longer than %zu bytes",
				    r->path, line.lineno, PS_LINE_MAX);
	if (ps_envelope_parse(r->ep, line.data, line.len, env, &pe) < 0)
		return ps_error_set(e, PS_EX_IOERR, "%s:%lld: %s", r->path,
				    line.lineno, pe.msg);
	return 1;
}

void ps_lake_reader_close(struct ps_lake_reader *r)
{
	if (!r)
		return;
	gzclose(r->gz);
	ps_ndjson_free(r->nd);
	ps_envelope_parser_free(r->ep);
	free(r->path);
	free(r);
}

/* ---- committed positions ---- */

/*
 * For each source (runs of equal SAFE in the sorted list), the exact id
 * from the first envelope of the file with the highest L, and that L.
 */
static int merge_names(const struct ps_lake_parts *fs,
		       struct ps_checkpoint *cp, struct ps_error *e)
{
	size_t i = 0;

	while (i < fs->n) {
		size_t j = i, best = i;
		struct ps_lake_reader *r;
		struct ps_envelope env;
		int rc;

		while (j < fs->n && !strcmp(fs->v[j].safe, fs->v[i].safe)) {
			if (fs->v[j].last > fs->v[best].last)
				best = j;
			j++;
		}
		r = ps_lake_reader_open(fs->v[best].path, e);
		if (!r) {
			if (e)
				e->code = PS_EX_IOERR;
			return -1;
		}
		rc = ps_lake_reader_next(r, &env, e);
		if (rc == 0)
			ps_error_set(e, PS_EX_IOERR, "%s: no envelope",
				     fs->v[best].path);
		if (rc > 0)
			ps_checkpoint_set(cp, env.source, env.source_len,
					  fs->v[best].last);
		ps_lake_reader_close(r);
		if (rc <= 0)
			return -1;
		i = j;
	}
	return 0;
}

int ps_lake_committed(const char *lake, enum ps_lake_table t,
		      const char *stream, struct ps_checkpoint *cp,
		      struct ps_error *e)
{
	static const enum ps_lake_table bronze[] = {
		PS_LAKE_BRONZE, PS_LAKE_BRONZE_QUARANTINE
	};
	struct ps_lake_parts fs = PS_LAKE_PARTS_INIT;
	size_t i;
	int rc;

	if (t == PS_LAKE_SILVER || t == PS_LAKE_SILVER_QUARANTINE) {
		struct ps_delta_snapshot s = PS_DELTA_SNAPSHOT_INIT;

		if (silver_snapshot(lake, stream, &s, e) < 0)
			return -1;
		ps_lake_delta_positions(&s, tables[t].writer, stream, cp);
		ps_delta_snapshot_release(&s);
		return 0;
	}
	if (ps_checkpoint_load(cp, lake, tables[t].writer, stream, e) < 0)
		return -1;
	for (i = 0; i < 2; i++) {
		rc = ps_lake_list(lake, bronze[i], stream, &fs, e);
		if (rc == 0)
			rc = merge_names(&fs, cp, e);
		ps_lake_parts_release(&fs);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* ---- locks ---- */

struct ps_lake_lock {
	int fd;
};

/* The PID written in the lock file, or 0. */
static long holder_pid(int fd)
{
	char b[32];
	ssize_t n = pread(fd, b, sizeof(b) - 1, 0);
	long pid = 0;
	int i;

	if (n <= 0)
		return 0;
	b[n] = '\0';
	for (i = 0; b[i] >= '0' && b[i] <= '9' && pid < 100000000L; i++)
		pid = pid * 10 + (b[i] - '0');
	return pid;
}

/*
 * Take flock op (LOCK_EX or LOCK_SH) on the file path (created when
 * missing), trying until wait seconds have passed or a stop is requested;
 * the error names the holder: "another TOOL (PID n) WHAT" (what: "is
 * writing stream admissions").  With prev, *prev is set to 1 when the file held a
 * PID (a holder that died holding it), 0 when it was empty; an exclusive
 * holder writes its own PID into the file.  Returns the lock, or NULL
 * with e filled (75 still held, 73 cannot create).
 */
static struct ps_lake_lock *lock_file(const char *path, int op, double wait,
				      const char *tool, const char *what,
				      int *prev, struct ps_error *e)
{
	struct ps_lake_lock *l;
	double deadline = ps_mono() + (wait > 0 ? wait : 0);
	int fd, logged = 0;
	long pid;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		ps_error_errno(e, PS_EX_CANTCREAT, errno, "cannot open %s",
			       path);
		return NULL;
	}
	while (flock(fd, op | LOCK_NB) < 0) {
		struct timespec ts = { 0, 50 * 1000 * 1000 };

		if (errno != EWOULDBLOCK && errno != EINTR) {
			ps_error_errno(e, PS_EX_CANTCREAT, errno,
				       "cannot lock %s", path);
			goto fail;
		}
		if (ps_mono() >= deadline || ps_stop_requested) {
			pid = holder_pid(fd);
			if (pid)
				ps_error_set(e, PS_EX_TEMPFAIL, "another %s "
					     "(PID %ld) %s: %s is locked; try "
					     "again later", tool, pid, what,
					     path);
			else
				ps_error_set(e, PS_EX_TEMPFAIL, "another %s %s: "
					     "%s is locked; try again later",
					     tool, what, path);
			goto fail;
		}
		if (!logged++)
			ps_log(PS_INFO, "waiting for the lock",
			       PS_S("lock", path),
			       PS_I("holder_pid", holder_pid(fd)));
		nanosleep(&ts, NULL);
	}
	if (prev)
		*prev = holder_pid(fd) != 0;
	if (op == LOCK_SH && ftruncate(fd, 0) < 0) {
		/* a shared holder: the PID of an earlier one is stale */
		ps_error_errno(e, PS_EX_CANTCREAT, errno, "cannot write %s",
			       path);
		goto fail;
	}
	if (op == LOCK_EX) {
		char pb[32];
		int n = snprintf(pb, sizeof(pb), "%ld\n", (long)getpid());

		if (ftruncate(fd, 0) < 0 ||
		    pwrite(fd, pb, (size_t)n, 0) != n) {
			ps_error_errno(e, PS_EX_CANTCREAT, errno,
				       "cannot write %s", path);
			goto fail;
		}
	}
	l = ps_xcalloc(1, sizeof(*l));
	l->fd = fd;
	return l;
fail:
	close(fd);
	return NULL;
}

/* LAKE/_state/TOOL (created) into b.  Returns 0, or -1 with e (73). */
static int state_dir(struct ps_buf *b, const char *lake, const char *tool,
		     struct ps_error *e)
{
	ps_buf_adds(b, lake);
	ps_buf_addf(b, "/_state/%s", tool);
	return ps_mkdir_durable(b->data, 0755, e);
}

struct ps_lake_lock *ps_lake_lock(const char *lake, const char *tool,
				  const char *stream, double wait,
				  struct ps_error *e)
{
	return ps_lake_lock_mode(lake, tool, stream, wait, 0, e);
}

struct ps_lake_lock *ps_lake_lock_mode(const char *lake, const char *tool,
				       const char *stream, double wait,
				       int shared, struct ps_error *e)
{
	struct ps_buf b = PS_BUF_INIT, w = PS_BUF_INIT;
	struct ps_lake_lock *l = NULL;

	if (state_dir(&b, lake, tool, e) == 0) {
		ps_buf_addf(&b, "/.%s.lock", stream);
		ps_buf_addf(&w, "is writing stream %s", stream);
		l = lock_file(b.data, shared ? LOCK_SH : LOCK_EX, wait, tool,
			      w.data, NULL, e);
	}
	ps_buf_release(&w);
	ps_buf_release(&b);
	return l;
}

void ps_lake_source_dir(struct ps_buf *b, const char *lake, const char *tool,
			const char *stream)
{
	ps_buf_adds(b, lake);
	ps_buf_addf(b, "/_state/%s/%s.sources", tool, stream);
}

struct ps_lake_lock *ps_lake_source_lock(const char *lake, const char *tool,
					 const char *stream,
					 const char *source, size_t len,
					 double wait, int *died,
					 struct ps_error *e)
{
	struct ps_buf b = PS_BUF_INIT, w = PS_BUF_INIT;
	struct ps_lake_lock *l = NULL;

	ps_lake_source_dir(&b, lake, tool, stream);
	if (ps_mkdir_p(b.data, 0755, e) == 0) {
		ps_buf_addc(&b, '/');
		ps_lake_safe_source(&b, source, len);
		ps_buf_adds(&b, ".lock");
		ps_buf_addf(&w, "is writing source %.*s of stream %s",
			    (int)len, source, stream);
		l = lock_file(b.data, LOCK_EX, wait, tool, w.data, died, e);
	}
	ps_buf_release(&w);
	ps_buf_release(&b);
	return l;
}

void ps_lake_source_unlock(struct ps_lake_lock *l)
{
	if (!l)
		return;
	if (ftruncate(l->fd, 0) < 0)
		ps_log(PS_WARN, "cannot clear a source lock (the next holder "
		       "will look for files of an unfinished batch)",
		       PS_S("err", strerror(errno)));
	ps_lake_unlock(l);
}

void ps_lake_unlock(struct ps_lake_lock *l)
{
	if (!l)
		return;
	close(l->fd);
	free(l);
}

/* bronze.c - see bronze.h. */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "bronze.h"
#include "bronze_replay.h"
#include "cli.h"
#include "fsutil.h"
#include "gzpool.h"
#include "json.h"
#include "log.h"
#include "ndjson.h"
#include "progress.h"
#include "pstime.h"
#include "banned.h"

#define POS_DIGITS 20
#define SUFFIX ".ndjson.gz"
#define QUARANTINE_PREFIX "bronze-"
#define QUARANTINE_KEEP 4096	/* bytes of an over-long line kept */
#define READER_CHUNK (256 * 1024)

/* ---- file names ---- */

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

void ps_bronze_safe_source(struct ps_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;
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

int ps_bronze_parse_name(const char *name, const char **safe,
			 size_t *safe_len, long long *first, long long *last)
{
	size_t n = strlen(name), sl = sizeof(SUFFIX) - 1;
	/* part- SAFE - FIRST - LAST .ndjson.gz */
	size_t tail = 1 + POS_DIGITS + 1 + POS_DIGITS + sl;
	const char *p;

	if (n < 5 + 1 + tail || memcmp(name, "part-", 5) ||
	    memcmp(name + n - sl, SUFFIX, sl))
		return -1;
	p = name + n - tail;
	if (p[0] != '-' || p[1 + POS_DIGITS] != '-' ||
	    parse_pos(p + 1, first) < 0 ||
	    parse_pos(p + 2 + POS_DIGITS, last) < 0 || *first > *last)
		return -1;
	*safe = name + 5;
	*safe_len = (size_t)(p - (name + 5));
	return 0;
}

static void add_name(struct ps_buf *b, const char *prefix, const char *safe,
		     size_t safe_len, long long first, long long last)
{
	ps_buf_adds(b, "part-");
	ps_buf_adds(b, prefix);
	ps_buf_add(b, safe, safe_len);
	ps_buf_addf(b, "-%020lld-%020lld" SUFFIX, first, last);
}

/* ---- listing ---- */

static int is_date_dir(const char *name)
{
	return strlen(name) == 15 && !memcmp(name, "date=", 5) &&
	       name[9] == '-' && name[12] == '-';
}

static int cmp_file(const void *a, const void *b)
{
	const struct ps_bronze_file *x = a, *y = b;
	int c = strcmp(x->safe_source, y->safe_source);

	if (c)
		return c;
	if (x->first != y->first)
		return x->first < y->first ? -1 : 1;
	return strcmp(x->date, y->date);
}

/*
 * List root/date=DATE/part-PREFIX... into out (prefix stripped from the
 * source part).  A missing root is an empty list.
 */
static int list_root(const char *root, const char *prefix,
		     struct ps_bronze_files *out, struct ps_error *e)
{
	DIR *d = opendir(root), *dd;
	struct dirent *de, *fe;
	size_t cap = out->n, pl = strlen(prefix);

	if (!d) {
		if (errno == ENOENT)
			return 0;
		return ps_error_errno(e, PS_EX_IOERR, errno,
				      "cannot read directory %s", root);
	}
	while ((de = readdir(d))) {
		char *dir;

		if (!is_date_dir(de->d_name))
			continue;
		dir = ps_path_join(root, de->d_name);
		dd = opendir(dir);
		if (!dd) {
			int err = errno;

			closedir(d);
			ps_error_errno(e, PS_EX_IOERR, err,
				       "cannot read directory %s", dir);
			free(dir);
			return -1;
		}
		while ((fe = readdir(dd))) {
			const char *safe;
			size_t sl;
			long long first, last;
			struct ps_bronze_file *f;

			if (fe->d_name[0] == '.' ||
			    ps_bronze_parse_name(fe->d_name, &safe, &sl,
						 &first, &last) < 0)
				continue;
			if (sl <= pl || memcmp(safe, prefix, pl))
				continue;
			if (out->n == cap) {
				cap = cap ? cap * 2 : 64;
				out->v = ps_xrealloc(out->v,
						     cap * sizeof(*out->v));
			}
			f = &out->v[out->n++];
			f->path = ps_path_join(dir, fe->d_name);
			memcpy(f->date, de->d_name + 5, 10);
			f->date[10] = '\0';
			f->safe_source = ps_xmemdup(safe + pl, sl - pl);
			f->first = first;
			f->last = last;
		}
		closedir(dd);
		free(dir);
	}
	closedir(d);
	return 0;
}

static char *stream_dir(const char *lake, const char *area,
			const char *stream)
{
	struct ps_buf b = PS_BUF_INIT;
	size_t n = strlen(lake);

	ps_buf_adds(&b, lake);
	if (n && lake[n - 1] != '/')
		ps_buf_addc(&b, '/');
	ps_buf_addf(&b, "%s/%s", area, stream);
	return ps_buf_detach(&b, NULL);
}

int ps_bronze_list(const char *lake, const char *stream,
		   struct ps_bronze_files *out, struct ps_error *e)
{
	char *root = stream_dir(lake, "bronze", stream);
	int rc = list_root(root, "", out, e);

	free(root);
	if (rc < 0) {
		ps_bronze_files_release(out);
		return -1;
	}
	if (out->n)
		qsort(out->v, out->n, sizeof(*out->v), cmp_file);
	return 0;
}

int ps_bronze_list_quarantine(const char *lake, const char *stream,
			      struct ps_bronze_files *out,
			      struct ps_error *e)
{
	char *root = stream_dir(lake, "quarantine", stream);
	int rc = list_root(root, QUARANTINE_PREFIX, out, e);

	free(root);
	if (rc < 0) {
		ps_bronze_files_release(out);
		return -1;
	}
	if (out->n)
		qsort(out->v, out->n, sizeof(*out->v), cmp_file);
	return 0;
}

void ps_bronze_files_release(struct ps_bronze_files *fs)
{
	size_t i;

	for (i = 0; i < fs->n; i++) {
		free(fs->v[i].path);
		free(fs->v[i].safe_source);
	}
	free(fs->v);
	fs->v = NULL;
	fs->n = 0;
}

/* ---- reader ---- */

struct ps_bronze_reader {
	gzFile gz;
	char *path;
	struct ps_ndjson *nd;
	struct ps_envelope_parser *ep;
	int gzerr;
};

static ssize_t gz_read(void *ctx, void *buf, size_t n)
{
	struct ps_bronze_reader *r = ctx;
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

struct ps_bronze_reader *ps_bronze_reader_open(const char *path,
					       struct ps_error *e)
{
	struct ps_bronze_reader *r;
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

int ps_bronze_reader_next(struct ps_bronze_reader *r,
			  struct ps_envelope *env, struct ps_error *e)
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

void ps_bronze_reader_close(struct ps_bronze_reader *r)
{
	if (!r)
		return;
	gzclose(r->gz);
	ps_ndjson_free(r->nd);
	ps_envelope_parser_free(r->ep);
	free(r->path);
	free(r);
}

/* ---- checkpoint from file names ---- */

/* For each source (runs of equal safe_source), the file with the max last. */
static int merge_names(struct ps_bronze_files *fs, struct ps_checkpoint *cp,
		       struct ps_error *e)
{
	size_t i = 0;

	if (fs->n)
		qsort(fs->v, fs->n, sizeof(*fs->v), cmp_file);
	while (i < fs->n) {
		size_t j = i, best = i;
		struct ps_bronze_reader *r;
		struct ps_envelope env;
		int rc;

		while (j < fs->n &&
		       !strcmp(fs->v[j].safe_source, fs->v[i].safe_source)) {
			if (fs->v[j].last > fs->v[best].last)
				best = j;
			j++;
		}
		r = ps_bronze_reader_open(fs->v[best].path, e);
		if (!r) {
			if (e)
				e->code = PS_EX_IOERR;
			return -1;
		}
		rc = ps_bronze_reader_next(r, &env, e);
		if (rc == 0)
			ps_error_set(e, PS_EX_IOERR, "%s: no envelope",
				     fs->v[best].path);
		if (rc > 0)
			ps_checkpoint_set(cp, env.source, env.source_len,
					  fs->v[best].last);
		ps_bronze_reader_close(r);
		if (rc <= 0)
			return -1;
		i = j;
	}
	return 0;
}

int ps_bronze_checkpoint(const char *lake, const char *stream,
			 struct ps_checkpoint *cp, struct ps_error *e)
{
	struct ps_bronze_files fs = PS_BRONZE_FILES_INIT;
	char *qroot = stream_dir(lake, "quarantine", stream);
	int rc = ps_bronze_list(lake, stream, &fs, e);

	if (rc == 0)
		rc = merge_names(&fs, cp, e);
	ps_bronze_files_release(&fs);
	if (rc == 0) {
		rc = list_root(qroot, QUARANTINE_PREFIX, &fs, e);
		if (rc == 0)
			rc = merge_names(&fs, cp, e);
		ps_bronze_files_release(&fs);
	}
	free(qroot);
	return rc;
}

/* ---- the landing loop ---- */

struct part {
	char *source;
	size_t source_len;
	struct ps_buf safe;
	long long first, last;
	struct ps_gzpool_file *gz;
};

enum {
	C_RECORDS, C_SKIPPED, C_EMPTY, C_QUARANTINED, C_COMMITS, C_FILES,
	C_BYTES, C_N
};

struct run {
	const struct ps_bronze_opts *o;
	struct ps_gzpool *pool;
	struct ps_checkpoint *committed;	/* what is durable */
	struct ps_checkpoint *accepted;		/* + the open batch */
	char *bronze_root, *quarantine_root;
	struct ps_buf stdin_source;
	/*
	 * Which stdin source plain lines belong to: chosen at start, or
	 * (runs without --source or --continue on a lake that holds
	 * earlier stdin runs) at the first plain line, by content.  Lines at
	 * or below verify_cp must be the landed ones (replay).
	 */
	int stdin_pending;
	long long verify_cp;
	struct ps_replay *replay;
	struct ps_buf out;			/* envelopes to emit */
	struct ps_buf scratch;
	struct part *parts;
	size_t nparts, capparts, last_part;
	/* quarantine of the open batch: stdin positions */
	struct ps_buf qbuf;
	long long qfirst, qlast;
	/* the open batch: every record of it has an ingest time on the
	   UTC day batch_day, named batch_date */
	long long batch_records;
	int64_t batch_day;
	char batch_date[11];
	double deadline;
	int gone;			/* emit reader went away */
	struct ps_counter c[C_N];
	struct ps_progress prog;
};

/* The read function: waits with poll so that commits fire when idle. */
struct timed {
	int fd;
	volatile int wake;
	double deadline;	/* ps_mono(); 0: none */
};

static ssize_t timed_read(void *ctx, void *buf, size_t n)
{
	struct timed *t = ctx;
	struct pollfd pfd;

	pfd.fd = t->fd;
	pfd.events = POLLIN;
	for (;;) {
		int ms = 1000, pr;

		if (ps_stop_requested) {
			t->wake = 1;
			errno = EINTR;
			return -1;
		}
		if (t->deadline > 0) {
			double left = t->deadline - ps_mono();

			if (left <= 0) {
				t->wake = 1;
				errno = EINTR;
				return -1;
			}
			ms = (int)(left * 1000) + 1;
			if (ms > 1000)
				ms = 1000;
		}
		pr = poll(&pfd, 1, ms);
		if (pr < 0 && errno != EINTR)
			return -1;
		if (pr > 0)
			return read(t->fd, buf, n);
	}
}

static void add_pos(struct ps_buf *b, long long v)
{
	char tmp[32];
	int k = snprintf(tmp, sizeof(tmp), "%020lld", v);

	ps_buf_add(b, tmp, (size_t)k);
}

static void path_in_date(struct ps_buf *b, const char *root,
			 const char *date)
{
	ps_buf_adds(b, root);
	ps_buf_adds(b, "/date=");
	ps_buf_add(b, date, 10);
	ps_buf_addc(b, '/');
}

/* The ingest time bronze gives a plain line (or a quarantined one). */
static int64_t assigned_ingest_time(const struct run *r)
{
	return r->o->ingest_time != PS_TIME_NONE ? r->o->ingest_time
						  : ps_time_now();
}

/* The UTC day of a time in microseconds (floor, also before 1970). */
static int64_t utc_day(int64_t us)
{
	int64_t d = us / 86400000000LL;

	return us % 86400000000LL < 0 ? d - 1 : d;
}

static int commit(struct run *r, struct ps_error *e);

/*
 * Open a batch for a record ingested at t, or keep the open one when t
 * is on its day.  A record of another day commits the open batch first:
 * a record lands in the partition of its own ingest time, so a replay of
 * the same envelopes lands in the same place whatever the clock says.
 */
static int batch_for(struct run *r, int64_t t, struct ps_error *e)
{
	int64_t day = utc_day(t);

	if (r->batch_records || r->qbuf.len) {
		if (day == r->batch_day)
			return 0;
		if (commit(r, e) < 0)
			return -1;
	}
	r->batch_day = day;
	ps_date_format(t, r->batch_date);
	r->deadline = ps_mono() + r->o->flush_interval;
	return 0;
}

static struct part *get_part(struct run *r, const char *src, size_t n,
			     long long pos, struct ps_error *e)
{
	struct ps_buf path = PS_BUF_INIT;
	struct part *p;
	size_t i;

	if (r->last_part < r->nparts) {
		p = &r->parts[r->last_part];
		if (p->source_len == n && !memcmp(p->source, src, n))
			return p;
	}
	for (i = 0; i < r->nparts; i++) {
		p = &r->parts[i];
		if (p->source_len == n && !memcmp(p->source, src, n)) {
			r->last_part = i;
			return p;
		}
	}
	if (r->nparts == r->capparts) {
		r->capparts = r->capparts ? r->capparts * 2 : 4;
		r->parts = ps_xrealloc(r->parts,
				       r->capparts * sizeof(*r->parts));
	}
	p = &r->parts[r->nparts];
	memset(p, 0, sizeof(*p));
	ps_bronze_safe_source(&p->safe, src, n);
	path_in_date(&path, r->bronze_root, r->batch_date);
	ps_buf_adds(&path, "part-");
	ps_buf_add(&path, p->safe.data, p->safe.len);
	ps_buf_addc(&path, '-');
	add_pos(&path, pos);
	ps_buf_adds(&path, "-open" SUFFIX);
	p->gz = ps_gzpool_open(r->pool, path.data, e);
	ps_buf_release(&path);
	if (!p->gz) {
		ps_buf_release(&p->safe);
		return NULL;
	}
	p->source = ps_xmemdup(src, n);
	p->source_len = n;
	p->first = p->last = pos;
	r->last_part = r->nparts++;
	return p;
}

static void free_parts(struct run *r)
{
	size_t i;

	for (i = 0; i < r->nparts; i++) {
		ps_gzpool_abort(r->parts[i].gz);
		free(r->parts[i].source);
		ps_buf_release(&r->parts[i].safe);
	}
	r->nparts = 0;
	r->last_part = 0;
}

/* Land one envelope (position already checked against accepted). */
static int land(struct run *r, const struct ps_envelope *env,
		struct ps_error *e)
{
	struct part *p;
	struct ps_buf *b = r->o->emit ? &r->out : &r->scratch;
	size_t off;

	if (batch_for(r, env->ingest_time, e) < 0)
		return -1;
	p = get_part(r, env->source, env->source_len, env->position, e);
	if (!p)
		return -1;
	ps_checkpoint_set(r->accepted, env->source, env->source_len,
			  env->position);
	p->last = env->position;
	if (!r->o->emit)
		ps_buf_reset(b);
	off = b->len;
	ps_envelope_format(b, env);
	if (ps_gzpool_write(p->gz, b->data + off, b->len - off, e) < 0)
		return -1;
	r->batch_records++;
	r->c[C_RECORDS].value++;
	r->c[C_BYTES].value += (long long)env->payload_len;
	return 0;
}

/*
 * Keep a line bronze cannot land whole, with a reason.  Returns 0, or -1
 * with e filled when the open batch of another day cannot be committed.
 */
static int quarantine(struct run *r, const struct ps_line *line,
		      long long pos, const char *reason, const char *detail,
		      struct ps_error *e)
{
	struct ps_envelope env;
	size_t keep = line->len;
	int64_t now = assigned_ingest_time(r);

	if (batch_for(r, now, e) < 0)
		return -1;
	if (line->too_long && keep > QUARANTINE_KEEP)
		keep = QUARANTINE_KEEP;
	memset(&env, 0, sizeof(env));
	env.source = r->stdin_source.data;
	env.source_len = r->stdin_source.len;
	env.position = pos;
	env.ingest_time = now;
	env.broker_time = PS_TIME_NONE;
	env.payload = line->data;
	env.payload_len = keep;
	if (!r->qbuf.len)
		r->qfirst = pos;
	r->qlast = pos;
	ps_envelope_format(&r->qbuf, &env);
	r->qbuf.len -= 2;	/* reopen the object: drop "}\n" */
	ps_buf_adds(&r->qbuf, ",\"reason\":");
	ps_json_add_str(&r->qbuf, reason, strlen(reason));
	ps_buf_adds(&r->qbuf, ",\"detail\":");
	ps_json_add_str(&r->qbuf, detail, strlen(detail));
	ps_buf_adds(&r->qbuf, ",\"line\":");
	ps_buf_add_i64(&r->qbuf, line->lineno);
	ps_buf_adds(&r->qbuf, ",\"length\":");
	ps_buf_add_i64(&r->qbuf, (long long)line->full_len);
	ps_buf_adds(&r->qbuf, line->too_long || keep < line->len ?
			      ",\"truncated\":true}\n" :
			      ",\"truncated\":false}\n");
	ps_checkpoint_set(r->accepted, env.source, env.source_len, pos);
	r->c[C_QUARANTINED].value++;
	ps_log(PS_WARN, "line quarantined", PS_I("line", line->lineno),
	       PS_S("reason", reason), PS_I("bytes", line->full_len),
	       PS_S("detail", detail));
	return 0;
}

static int commit(struct run *r, struct ps_error *e)
{
	struct ps_buf path = PS_BUF_INIT;
	size_t i;
	int rc = 0;

	if (!r->batch_records && !r->qbuf.len)
		return 0;
	for (i = 0; i < r->nparts && rc == 0; i++) {
		struct part *p = &r->parts[i];

		ps_buf_reset(&path);
		path_in_date(&path, r->bronze_root, r->batch_date);
		add_name(&path, "", p->safe.data, p->safe.len, p->first,
			 p->last);
		rc = ps_gzpool_commit(p->gz, path.data, e);
		p->gz = NULL;
		if (rc == 0)
			r->c[C_FILES].value++;
	}
	if (rc == 0 && r->qbuf.len) {
		struct ps_gzpool_file *q;
		struct ps_buf safe = PS_BUF_INIT;

		ps_bronze_safe_source(&safe, r->stdin_source.data,
				      r->stdin_source.len);
		ps_buf_reset(&path);
		path_in_date(&path, r->quarantine_root, r->batch_date);
		add_name(&path, QUARANTINE_PREFIX, safe.data, safe.len,
			 r->qfirst, r->qlast);
		ps_buf_release(&safe);
		q = ps_gzpool_open(r->pool, path.data, e);
		if (!q)
			rc = -1;
		else if (ps_gzpool_write(q, r->qbuf.data, r->qbuf.len, e) < 0) {
			ps_gzpool_abort(q);
			rc = -1;
		} else {
			rc = ps_gzpool_commit(q, NULL, e);
		}
	}
	if (rc == 0) {
		/* Make the date directories themselves durable. */
		rc = ps_fsync_dir(r->bronze_root, e);
	}
	if (rc == 0) {
		for (i = 0; i < r->nparts; i++)
			ps_checkpoint_set(r->committed, r->parts[i].source,
					  r->parts[i].source_len,
					  r->parts[i].last);
		if (r->qbuf.len)
			ps_checkpoint_set(r->committed, r->stdin_source.data,
					  r->stdin_source.len, r->qlast);
		rc = ps_checkpoint_save(r->committed, r->o->lake,
					PS_BRONZE_TOOL, r->o->stream, e);
	}
	free_parts(r);
	ps_buf_release(&path);
	if (rc < 0)
		return -1;
	r->c[C_COMMITS].value++;
	ps_log(PS_DEBUG, "committed", PS_I("records", r->batch_records),
	       PS_S("date", r->batch_date));
	r->batch_records = 0;
	ps_buf_reset(&r->qbuf);
	if (r->o->emit && r->out.len && !r->gone) {
		int er = r->o->emit(r->o->emit_ctx, r->out.data, r->out.len);

		if (er > 0) {
			r->gone = 1;
			ps_log(PS_INFO, "output reader went away, stopping");
		} else if (er < 0) {
			int err = errno;

			ps_buf_reset(&r->out);
			return ps_error_errno(e, PS_EX_IOERR, err,
					      "cannot write envelopes");
		}
	}
	ps_buf_reset(&r->out);
	/* Do not let a huge batch keep its memory. */
	if (r->out.cap > 2 * (size_t)r->o->flush_bytes + (8u << 20))
		ps_buf_release(&r->out);
	return 0;
}

/* Remove dir's entries starting with prefix and containing ".tmp-". */
static void remove_temps(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t pl = strlen(prefix);

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (!strncmp(de->d_name, prefix, pl) &&
		    strstr(de->d_name, ".tmp-")) {
			char *p = ps_path_join(dir, de->d_name);

			if (unlink(p) == 0)
				ps_log(PS_INFO, "removed stale temporary file",
				       PS_S("path", p));
			free(p);
		}
	}
	closedir(d);
}

static void remove_temps_in_dates(const char *root, const char *prefix)
{
	DIR *d = opendir(root);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (is_date_dir(de->d_name)) {
			char *p = ps_path_join(root, de->d_name);

			remove_temps(p, prefix);
			free(p);
		}
	}
	closedir(d);
}

static int startup(struct run *r, struct ps_error *e)
{
	const struct ps_bronze_opts *o = r->o;
	struct ps_buf b = PS_BUF_INIT;
	char *state;

	r->bronze_root = stream_dir(o->lake, "bronze", o->stream);
	r->quarantine_root = stream_dir(o->lake, "quarantine", o->stream);
	if (ps_mkdir_p(r->bronze_root, 0755, e) < 0)
		return -1;
	state = ps_checkpoint_path(o->lake, PS_BRONZE_TOOL, o->stream);
	*strrchr(state, '/') = '\0';
	if (ps_mkdir_p(state, 0755, e) < 0) {
		free(state);
		return -1;
	}
	ps_buf_addf(&b, ".%s.json.tmp-", o->stream);
	remove_temps(state, b.data);
	ps_buf_release(&b);
	free(state);
	remove_temps_in_dates(r->bronze_root, ".");
	remove_temps_in_dates(r->quarantine_root, ".part-" QUARANTINE_PREFIX);

	r->committed = ps_checkpoint_new();
	r->accepted = ps_checkpoint_new();
	if (ps_checkpoint_load(r->committed, o->lake, PS_BRONZE_TOOL,
			       o->stream, e) < 0 ||
	    ps_bronze_checkpoint(o->lake, o->stream, r->committed, e) < 0)
		return -1;
	ps_checkpoint_merge(r->accepted, r->committed);
	ps_buf_adds(&r->stdin_source, "stdin:");
	ps_buf_adds(&r->stdin_source,
		    o->source_name ? o->source_name : o->stream);
	r->pool = ps_gzpool_new(o->threads, o->gzip_level, e);
	return r->pool ? 0 : -1;
}

static void run_release(struct run *r)
{
	free_parts(r);
	free(r->parts);
	ps_gzpool_free(r->pool);
	ps_checkpoint_free(r->committed);
	ps_checkpoint_free(r->accepted);
	free(r->bronze_root);
	free(r->quarantine_root);
	ps_buf_release(&r->stdin_source);
	ps_replay_free(r->replay);
	ps_buf_release(&r->out);
	ps_buf_release(&r->scratch);
	ps_buf_release(&r->qbuf);
}

/*
 * A last line without its newline is a whole record when it is valid
 * JSON (a file whose last line lacks the newline); otherwise it is taken
 * for the fragment of a writer killed mid-line.
 */
static int whole_record(const struct ps_line *line)
{
	yajl_val v;

	if (line->too_long)
		return 0;
	v = ps_json_parse(line->data, line->len, NULL, 0);
	yajl_tree_free(v);
	return v != NULL;
}

/*
 * A fragment is not landed: landing it would commit its position, and
 * the restart that replays the whole line would then skip the real
 * record.  Replayed again complete, it lands at this position.
 */
static void held_back(struct run *r, const struct ps_line *line,
		      long long pos)
{
	long long acc = ps_checkpoint_get(r->accepted, r->stdin_source.data,
					  r->stdin_source.len);

	if (!r->stdin_pending && pos <= acc) {
		r->c[C_SKIPPED].value++;
		return;
	}
	ps_log(PS_WARN, "last line cut short (no newline, not JSON): not "
	       "landed; a writer killed mid-line? it lands when the input "
	       "is replayed whole", PS_I("line", line->lineno),
	       PS_I("position", pos), PS_I("bytes", line->full_len));
}

/* The error for a line that is not what the source landed at pos. */
static int not_a_replay(struct run *r, const struct ps_line *line,
			long long pos, struct ps_error *e)
{
	return ps_error_set(e, PS_EX_DATAERR, "input is not a replay of %s: "
			    "line %lld differs from the record landed at "
			    "position %lld; nothing of it was landed (run "
			    "again with --continue to append it after "
			    "position %lld, or --source NAME to land it as a "
			    "new source)", r->stdin_source.data,
			    line->lineno, pos, r->verify_cp);
}

static int verify_replay(struct run *r, long long pos,
			 const struct ps_line *line, struct ps_error *e)
{
	int m;

	if (!r->replay) {
		r->replay = ps_replay_open(r->o->lake, r->o->stream,
					   r->stdin_source.data,
					   r->stdin_source.len, e);
		if (!r->replay)
			return -1;
	}
	m = ps_replay_match(r->replay, pos, line, e);
	if (m < 0)
		return -1;
	return m ? 0 : not_a_replay(r, line, pos, e);
}

/*
 * stdin:NAME and stdin:NAME.N (N >= 2): the sources of earlier runs.
 * Returns N (1 for stdin:NAME), or 0 for another source.
 */
static long long stdin_run(const char *base, const char *s, size_t n)
{
	size_t bl = strlen(base);
	long long k = 0;
	size_t i;

	if (n < bl || memcmp(s, base, bl))
		return 0;
	if (n == bl)
		return 1;
	if (s[bl] != '.' || n == bl + 1 || s[bl + 1] == '0' || n > bl + 10)
		return 0;
	for (i = bl + 1; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		k = k * 10 + (s[i] - '0');
	}
	return k >= 2 ? k : 0;
}

/* Does the lake hold an earlier run of the stdin source? */
static int has_stdin_runs(const struct run *r)
{
	size_t i, n = ps_checkpoint_count(r->committed);
	const char *s;
	size_t sl;
	long long cp;

	for (i = 0; i < n; i++) {
		ps_checkpoint_entry(r->committed, i, &s, &sl, &cp);
		if (stdin_run(r->stdin_source.data, s, sl))
			return 1;
	}
	return 0;
}

/*
 * The first plain line of a run without --source or --continue on a lake
 * that holds earlier stdin runs: the input continues the run whose first
 * landed record is this line (a restart, a replay, or the same input
 * grown), else it is new data: a new source stdin:NAME.N.
 */
static int choose_stdin_source(struct run *r, long long pos,
			       const struct ps_line *line, struct ps_error *e)
{
	size_t i, n = ps_checkpoint_count(r->committed);
	char *base = ps_xstrdup(r->stdin_source.data);
	long long best = 0, maxrun = 0;
	const char *s;
	size_t sl;
	long long cp, k;
	int m = 0;

	for (i = 0; i < n && m >= 0; i++) {
		struct ps_replay *rp;

		ps_checkpoint_entry(r->committed, i, &s, &sl, &cp);
		k = stdin_run(base, s, sl);
		if (k > maxrun)
			maxrun = k;
		if (!k || best)
			continue;
		rp = ps_replay_open(r->o->lake, r->o->stream, s, sl, e);
		if (!rp) {
			m = -1;
			break;
		}
		m = ps_replay_first(rp) == pos ?
		    ps_replay_match(rp, pos, line, e) : 0;
		if (m <= 0) {
			ps_replay_free(rp);
			continue;
		}
		r->replay = rp;
		r->verify_cp = cp;
		best = k;
		ps_buf_reset(&r->stdin_source);
		ps_buf_add(&r->stdin_source, s, sl);
	}
	free(base);
	if (m < 0)
		return -1;
	r->stdin_pending = 0;
	if (best) {
		ps_log(PS_INFO, "input starts like an earlier run: a replay",
		       PS_S("source", r->stdin_source.data),
		       PS_I("landed_up_to", r->verify_cp));
		return 0;
	}
	ps_buf_addf(&r->stdin_source, ".%lld", maxrun + 1);
	ps_log(PS_INFO, "input is not a replay of an earlier run: a new "
	       "source", PS_S("source", r->stdin_source.data));
	return 0;
}

static int handle_line(struct run *r, struct ps_envelope_parser *ep,
		       const struct ps_line *line, long long base,
		       struct ps_error *e)
{
	struct ps_envelope env;
	struct ps_error pe = { 0, "" };
	const char *reason = NULL;
	long long pos, acc;

	if (!line->len && !line->too_long) {
		r->c[C_EMPTY].value++;
		return 0;
	}
	if (!line->too_long && ps_envelope_sniff(line->data, line->len)) {
		if (ps_envelope_parse(ep, line->data, line->len, &env,
				      &pe) == 0) {
			acc = ps_checkpoint_get(r->accepted, env.source,
						env.source_len);
			if (env.position <= acc) {
				r->c[C_SKIPPED].value++;
				return 0;
			}
			return land(r, &env, e);
		}
		reason = "bad_envelope";
	}
	pos = base + line->lineno - 1;
	if (line->unterminated && !whole_record(line)) {
		held_back(r, line, pos);
		return 0;
	}
	if (r->stdin_pending && choose_stdin_source(r, pos, line, e) < 0)
		return -1;
	acc = ps_checkpoint_get(r->accepted, r->stdin_source.data,
				r->stdin_source.len);
	if (pos <= acc) {
		if (pos <= r->verify_cp && verify_replay(r, pos, line, e) < 0)
			return -1;
		r->c[C_SKIPPED].value++;
		return 0;
	}
	if (r->replay) {
		ps_log(PS_INFO, "input replays what is landed; new lines "
		       "from here", PS_S("source", r->stdin_source.data),
		       PS_I("line", line->lineno));
		ps_replay_free(r->replay);
		r->replay = NULL;
	}
	if (line->too_long) {
		char d[64];

		snprintf(d, sizeof(d), "line of %zu bytes over the cap of %zu",
			 line->full_len, line->len);
		return quarantine(r, line, pos, "line_too_long", d, e);
	}
	if (reason)
		return quarantine(r, line, pos, reason, pe.msg, e);
	memset(&env, 0, sizeof(env));
	env.source = r->stdin_source.data;
	env.source_len = r->stdin_source.len;
	env.position = pos;
	env.ingest_time = assigned_ingest_time(r);
	env.broker_time = PS_TIME_NONE;
	env.payload = line->data;
	env.payload_len = line->len;
	return land(r, &env, e);
}

int ps_bronze_run(const struct ps_bronze_opts *o, int in_fd,
		  struct ps_error *e)
{
	static const char *names[C_N] = {
		"records", "skipped", "empty", "quarantined", "commits",
		"files", "payload_bytes"
	};
	struct run r;
	struct timed t;
	struct ps_ndjson *nd = NULL;
	struct ps_envelope_parser *ep = NULL;
	struct ps_line line;
	struct ps_error dummy;
	long long base = 0, cp;
	unsigned tick = 0;
	int i, rc = -1, started = 0;

	if (!e)
		e = &dummy;
	memset(&r, 0, sizeof(r));
	r.o = o;
	for (i = 0; i < C_N; i++)
		r.c[i].name = names[i];
	if (!o->lake || !o->stream || o->flush_interval <= 0 ||
	    o->flush_records <= 0 || o->flush_bytes <= 0) {
		ps_error_set(e, PS_EX_SOFTWARE, "bronze: bad options");
		goto out;
	}
	if (startup(&r, e) < 0)
		goto out;
	cp = ps_checkpoint_get(r.committed, r.stdin_source.data,
			       r.stdin_source.len);
	r.verify_cp = cp;
	if (o->continue_mode) {
		base = cp + 1;
		r.verify_cp = -1;
	} else if (!o->source_name) {
		r.stdin_pending = has_stdin_runs(&r);
	}
	ps_log(PS_INFO, "starting", PS_S("stream", o->stream),
	       PS_S("stdin_source", r.stdin_source.data),
	       PS_I("stdin_checkpoint", cp),
	       PS_I("sources", ps_checkpoint_count(r.committed)),
	       PS_B("continue", o->continue_mode));
	t.fd = in_fd;
	t.wake = 0;
	t.deadline = 0;
	nd = ps_ndjson_new(timed_read, &t, o->max_line);
	ps_ndjson_set_interrupt(nd, &t.wake);
	ep = ps_envelope_parser_new();
	ps_progress_init(&r.prog, r.c, C_N);
	started = 1;
	for (;;) {
		int n;

		if (ps_stop_requested || r.gone)
			break;
		t.wake = 0;
		t.deadline = r.batch_records || r.qbuf.len ? r.deadline : 0;
		n = ps_ndjson_next(nd, &line, e);
		if (n < 0) {
			if (e->code)
				goto out;
			if (!ps_stop_requested && commit(&r, e) < 0)
				goto out;
			continue;
		}
		if (n == 0)
			break;
		if (handle_line(&r, ep, &line, base, e) < 0)
			goto out;
		ps_progress_tick(&r.prog);
		if (r.batch_records >= o->flush_records ||
		    r.out.len >= (size_t)o->flush_bytes ||
		    (!(++tick & 63) && (r.batch_records || r.qbuf.len) &&
		     ps_mono() >= r.deadline)) {
			if (commit(&r, e) < 0)
				goto out;
		}
	}
	if (commit(&r, e) < 0)
		goto out;
	if (ps_stop_requested)
		ps_log(PS_INFO, "stop requested: committed and stopping");
	rc = 0;
out:
	if (rc < 0)
		free_parts(&r);	/* removes the temporaries */
	if (started)
		ps_progress_done(&r.prog, rc ? "stopped on error" : "done");
	ps_ndjson_free(nd);
	ps_envelope_parser_free(ep);
	run_release(&r);
	return rc;
}

long long ps_bronze_safe_checkpoint(const struct ps_checkpoint *cp,
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
		ps_bronze_safe_source(&b, s, sl);
		if (b.len == len && !memcmp(b.data, safe, len) && pos > best)
			best = pos;
	}
	ps_buf_release(&b);
	return best;
}

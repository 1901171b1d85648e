/*
 * delta.c - Delta Lake commits and log replay (see delta.h).
 *
 * Replay keeps one entry per file path (the newest reference wins: an add
 * or a remove tombstone) in a hash map, the newest txn per appId, and the
 * latest protocol and metaData.  A checkpoint is read through lib/parquet:
 * each row, assembled as JSON, is the same action object as a log line, so
 * one handler applies both.  The checkpoint is written the same way: the
 * replayed actions as JSON rows through ps_pq_write_json.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "delta.h"
#include "fsutil.h"
#include "json.h"
#include "log.h"
#include "pstime.h"
#include "rand.h"
#include "banned.h"

#define LOG_DIR "_delta_log"
/* Largest commit file we agree to read. */
#define MAX_COMMIT_BYTES (256u << 20)
/* Attempts at the next version before giving up on a busy table. */
#define MAX_ATTEMPTS 1000

#define BAD(e, ...) ps_error_set((e), PS_EX_DATAERR, "delta: " __VA_ARGS__)

/* ---- names ---- */

static char *log_path(const char *dir, int64_t version, const char *suffix)
{
	struct ps_buf b = PS_BUF_INIT;

	ps_buf_adds(&b, dir);
	ps_buf_adds(&b, "/" LOG_DIR "/");
	if (version >= 0)
		ps_buf_addf(&b, "%020lld", (long long)version);
	ps_buf_adds(&b, suffix);
	return ps_buf_detach(&b, NULL);
}

/* Version of a name "NNNNNNNNNNNNNNNNNNNN<suffix>" (20 digits), or -1. */
static int64_t name_version(const char *name, const char *suffix)
{
	int64_t v = 0;
	int i;

	for (i = 0; i < 20; i++) {
		if (name[i] < '0' || name[i] > '9')
			return -1;
		if (v > (INT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (name[i] - '0');
	}
	return strcmp(name + 20, suffix) ? -1 : v;
}

/* ---- paths as URIs (RFC 2396): %XX for anything not plainly safe ---- */

static int uri_safe(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || strchr("-._~/=:@+,", c);
}

static void uri_encode(const char *s, struct ps_buf *b)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c && uri_safe(c)) {
			ps_buf_addc(b, (char)c);
		} else {
			ps_buf_addc(b, '%');
			ps_buf_addc(b, hex[c >> 4]);
			ps_buf_addc(b, hex[c & 15]);
		}
	}
}

/* Decoded copy of a URI path, or NULL when a %XX is malformed or NUL. */
static char *uri_decode(const char *s)
{
	struct ps_buf b = PS_BUF_INIT;
	int hi, lo;

	ps_buf_grow(&b, strlen(s) + 1);
	for (; *s; s++) {
		if (*s != '%') {
			ps_buf_addc(&b, *s);
			continue;
		}
		hi = ps_hexval(s[1]);
		lo = hi < 0 ? -1 : ps_hexval(s[2]);
		if (lo < 0 || (hi == 0 && lo == 0)) {
			ps_buf_release(&b);
			return NULL;
		}
		ps_buf_addc(&b, (char)(hi << 4 | lo));
		s += 2;
	}
	return ps_buf_detach(&b, NULL);
}

/* ---- files ---- */

static void file_release(struct ps_delta_file *f)
{
	size_t i;

	for (i = 0; i < f->npv; i++) {
		free(f->pv_keys[i]);
		free(f->pv_vals[i]);
	}
	free(f->pv_keys);
	free(f->pv_vals);
	free(f->path);
	free(f->stats);
	memset(f, 0, sizeof(*f));
}

static void file_copy(struct ps_delta_file *to, const struct ps_delta_file *f)
{
	size_t i;

	*to = *f;
	to->path = ps_xstrdup(f->path);
	to->stats = f->stats ? ps_xstrdup(f->stats) : NULL;
	to->pv_keys = ps_xcalloc(f->npv ? f->npv : 1, sizeof(char *));
	to->pv_vals = ps_xcalloc(f->npv ? f->npv : 1, sizeof(char *));
	for (i = 0; i < f->npv; i++) {
		to->pv_keys[i] = ps_xstrdup(f->pv_keys[i]);
		to->pv_vals[i] = f->pv_vals[i] ? ps_xstrdup(f->pv_vals[i]) :
			NULL;
	}
}

static void add_pvs(struct ps_buf *b, const struct ps_delta_file *f)
{
	size_t i;

	ps_buf_addc(b, '{');
	for (i = 0; i < f->npv; i++) {
		if (i)
			ps_buf_addc(b, ',');
		ps_json_add_str(b, f->pv_keys[i], strlen(f->pv_keys[i]));
		ps_buf_addc(b, ':');
		if (f->pv_vals[i])
			ps_json_add_str(b, f->pv_vals[i],
					strlen(f->pv_vals[i]));
		else
			ps_buf_adds(b, "null");
	}
	ps_buf_addc(b, '}');
}

void ps_delta_file_json(const struct ps_delta_file *f, int is_remove,
			struct ps_buf *b)
{
	struct ps_buf uri = PS_BUF_INIT;

	uri_encode(f->path, &uri);
	ps_buf_adds(b, is_remove ? "{\"remove\":{\"path\":" :
		    "{\"add\":{\"path\":");
	ps_json_add_str(b, uri.data ? uri.data : "", uri.len);
	ps_buf_release(&uri);
	if (is_remove) {
		ps_buf_adds(b, ",\"deletionTimestamp\":");
		ps_buf_add_i64(b, f->mtime_ms);
		ps_buf_adds(b, f->data_change ? ",\"dataChange\":true" :
			    ",\"dataChange\":false");
		ps_buf_adds(b, ",\"extendedFileMetadata\":true,"
			    "\"partitionValues\":");
		add_pvs(b, f);
		ps_buf_adds(b, ",\"size\":");
		ps_buf_add_i64(b, f->size);
	} else {
		ps_buf_adds(b, ",\"partitionValues\":");
		add_pvs(b, f);
		ps_buf_adds(b, ",\"size\":");
		ps_buf_add_i64(b, f->size);
		ps_buf_adds(b, ",\"modificationTime\":");
		ps_buf_add_i64(b, f->mtime_ms);
		ps_buf_adds(b, f->data_change ? ",\"dataChange\":true" :
			    ",\"dataChange\":false");
		if (f->stats) {
			ps_buf_adds(b, ",\"stats\":");
			ps_json_add_str(b, f->stats, strlen(f->stats));
		}
	}
	ps_buf_adds(b, "}}\n");
}

/* ---- replay state ---- */

enum { F_ADD = 1, F_REMOVE = 2 };

struct fentry {
	struct ps_delta_file f;
	int state;
};

struct replay {
	struct fentry *v;
	size_t n, cap;
	uint32_t *ht;		/* index + 1; 0 empty */
	size_t htcap;
	struct ps_delta_snapshot *s;
	int64_t ts_ms;		/* commitInfo.timestamp of the last commit
				   read, or -1 */
	int have_meta, have_protocol;
};

static uint64_t hash_str(const char *p)
{
	return ps_fnv1a(PS_FNV1A_INIT, p, strlen(p));
}

static void rehash(struct replay *r)
{
	size_t i, j;

	free(r->ht);
	r->htcap = r->htcap ? r->htcap * 2 : 1024;
	r->ht = ps_xcalloc(r->htcap, sizeof(*r->ht));
	for (i = 0; i < r->n; i++) {
		j = hash_str(r->v[i].f.path) & (r->htcap - 1);
		while (r->ht[j])
			j = (j + 1) & (r->htcap - 1);
		r->ht[j] = (uint32_t)(i + 1);
	}
}

/* The entry of path, created empty (state 0) when missing. */
static struct fentry *lookup(struct replay *r, const char *path)
{
	size_t j;

	if ((r->n + 1) * 2 > r->htcap)
		rehash(r);
	j = hash_str(path) & (r->htcap - 1);
	while (r->ht[j]) {
		struct fentry *fe = &r->v[r->ht[j] - 1];

		if (!strcmp(fe->f.path, path))
			return fe;
		j = (j + 1) & (r->htcap - 1);
	}
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 256;
		r->v = ps_xrealloc(r->v, r->cap * sizeof(*r->v));
	}
	memset(&r->v[r->n], 0, sizeof(r->v[0]));
	r->v[r->n].f.path = ps_xstrdup(path);
	r->ht[j] = (uint32_t)(++r->n);
	return &r->v[r->n - 1];
}

static void replay_release(struct replay *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		file_release(&r->v[i].f);
	free(r->v);
	free(r->ht);
}

static int64_t jint(yajl_val o, const char *k, int64_t def)
{
	yajl_val v = o ? ps_json_get(o, k) : NULL;

	return v && YAJL_IS_INTEGER(v) ? YAJL_GET_INTEGER(v) : def;
}

static const char *jstr(yajl_val o, const char *k)
{
	yajl_val v = o ? ps_json_get(o, k) : NULL;

	return v && YAJL_IS_STRING(v) ? v->u.string : NULL;
}

static int jbool(yajl_val o, const char *k, int def)
{
	yajl_val v = o ? ps_json_get(o, k) : NULL;

	if (v && YAJL_IS_TRUE(v))
		return 1;
	if (v && YAJL_IS_FALSE(v))
		return 0;
	return def;
}

/* Fill f (path already set) from an add or remove object. */
static void file_from_json(struct ps_delta_file *f, yajl_val o, int remove,
			   int64_t version)
{
	yajl_val pv = ps_json_get(o, "partitionValues");
	const char *stats = jstr(o, "stats");
	char *path = f->path;
	size_t i;

	f->path = NULL;
	file_release(f);
	f->path = path;
	f->size = jint(o, "size", -1);
	f->mtime_ms = jint(o, remove ? "deletionTimestamp" :
			   "modificationTime", 0);
	f->data_change = jbool(o, "dataChange", 1);
	f->stats = stats ? ps_xstrdup(stats) : NULL;
	f->version = version;
	if (pv && YAJL_IS_OBJECT(pv)) {
		f->npv = pv->u.object.len;
		f->pv_keys = ps_xcalloc(f->npv ? f->npv : 1, sizeof(char *));
		f->pv_vals = ps_xcalloc(f->npv ? f->npv : 1, sizeof(char *));
		for (i = 0; i < f->npv; i++) {
			yajl_val v = pv->u.object.values[i];

			f->pv_keys[i] = ps_xstrdup(pv->u.object.keys[i]);
			f->pv_vals[i] = YAJL_IS_STRING(v) ?
				ps_xstrdup(v->u.string) : NULL;
		}
	}
}

static void set_str(char **to, const char *s)
{
	free(*to);
	*to = s ? ps_xstrdup(s) : NULL;
}

static void strv_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int apply_txn(struct ps_delta_snapshot *s, yajl_val o)
{
	const char *app = jstr(o, "appId");
	size_t i;

	if (!app || !ps_json_get(o, "version") ||
	    !YAJL_IS_INTEGER(ps_json_get(o, "version")))
		return -1;
	for (i = 0; i < s->ntxns; i++)
		if (!strcmp(s->txns[i].app_id, app))
			break;
	if (i == s->ntxns) {
		s->txns = ps_xrealloc(s->txns, (s->ntxns + 1) *
				      sizeof(*s->txns));
		s->txns[s->ntxns++].app_id = ps_xstrdup(app);
	}
	s->txns[i].version = jint(o, "version", 0);
	s->txns[i].last_updated = jint(o, "lastUpdated", -1);
	return 0;
}

static int apply_meta(struct ps_delta_snapshot *s, yajl_val o)
{
	yajl_val pc = ps_json_get(o, "partitionColumns");
	yajl_val fmt = ps_json_get(o, "format");
	const char *prov = jstr(fmt, "provider");
	size_t i;

	if (!jstr(o, "id") || !jstr(o, "schemaString") || !pc ||
	    !YAJL_IS_ARRAY(pc))
		return -1;
	if (prov && strcmp(prov, "parquet"))
		return -1;
	set_str(&s->table_id, jstr(o, "id"));
	set_str(&s->schema_string, jstr(o, "schemaString"));
	strv_free(s->part_cols, s->npart);
	s->npart = pc->u.array.len;
	s->part_cols = ps_xcalloc(s->npart ? s->npart : 1, sizeof(char *));
	for (i = 0; i < s->npart; i++) {
		yajl_val v = pc->u.array.values[i];

		if (!YAJL_IS_STRING(v))
			return -1;
		s->part_cols[i] = ps_xstrdup(v->u.string);
	}
	s->created_ms = jint(o, "createdTime", -1);
	return 0;
}

/*
 * Apply the actions of one JSON object (a log line, or a checkpoint row)
 * of version.  Returns 0 or -1 with e filled (65).
 */
static int apply_line(struct replay *r, const char *line, size_t len,
		      int64_t version, struct ps_error *e)
{
	char why[128];
	yajl_val root, o;
	size_t i;
	int rc = 0;

	root = ps_json_parse(line, len, why, sizeof(why));
	if (!root)
		return BAD(e, "version %lld: bad JSON: %s", (long long)version,
			   why);
	if (!YAJL_IS_OBJECT(root)) {
		yajl_tree_free(root);
		return BAD(e, "version %lld: an action is not an object",
			   (long long)version);
	}
	for (i = 0; i < root->u.object.len && !rc; i++) {
		const char *k = root->u.object.keys[i];

		o = root->u.object.values[i];
		if (YAJL_IS_NULL(o))
			continue;	/* checkpoint rows: other columns */
		if (!YAJL_IS_OBJECT(o)) {
			rc = BAD(e, "version %lld: '%s' is not an object",
				 (long long)version, k);
		} else if (!strcmp(k, "add") || !strcmp(k, "remove")) {
			int rm = k[0] == 'r';
			const char *p = jstr(o, "path");
			char *path = p ? uri_decode(p) : NULL;
			struct fentry *fe;

			if (!path) {
				rc = BAD(e, "version %lld: %s without a valid "
					 "path", (long long)version, k);
				break;
			}
			if (!rm && jint(o, "size", -1) < 0) {
				free(path);
				rc = BAD(e, "version %lld: add of %s without "
					 "size", (long long)version, p);
				break;
			}
			fe = lookup(r, path);
			free(path);
			file_from_json(&fe->f, o, rm, version);
			fe->state = rm ? F_REMOVE : F_ADD;
		} else if (!strcmp(k, "txn")) {
			if (apply_txn(r->s, o))
				rc = BAD(e, "version %lld: bad txn",
					 (long long)version);
		} else if (!strcmp(k, "metaData")) {
			if (apply_meta(r->s, o))
				rc = BAD(e, "version %lld: bad or unsupported "
					 "metaData", (long long)version);
			r->have_meta = 1;
		} else if (!strcmp(k, "protocol")) {
			r->s->min_reader = (int)jint(o, "minReaderVersion", 0);
			r->s->min_writer = (int)jint(o, "minWriterVersion", 0);
			r->have_protocol = 1;
			if (r->s->min_reader < 1 || r->s->min_reader > 1)
				rc = BAD(e, "version %lld: unsupported "
					 "protocol (reader version %d; this "
					 "reader implements version 1)",
					 (long long)version,
					 r->s->min_reader);
		} else if (!strcmp(k, "commitInfo")) {
			r->ts_ms = jint(o, "timestamp", -1);
		}
		/* cdc, domainMetadata, ...: not part of a v1 snapshot */
	}
	yajl_tree_free(root);
	return rc;
}

/* Apply every line of a commit file; its timestamp into *ts_ms. */
static int apply_commit(struct replay *r, const char *dir, int64_t version,
			int64_t *ts_ms, struct ps_error *e)
{
	char *path = log_path(dir, version, ".json");
	struct ps_buf b = PS_BUF_INIT;
	struct stat st;
	size_t off = 0;
	int rc;

	rc = ps_read_file(path, &b, MAX_COMMIT_BYTES, e);
	if (rc == 1)
		rc = BAD(e, "version %lld is missing from the log",
			 (long long)version);
	if (rc) {
		free(path);
		ps_buf_release(&b);
		return -1;
	}
	r->ts_ms = -1;
	while (off < b.len && !rc) {
		char *nl = memchr(b.data + off, '\n', b.len - off);
		size_t end = nl ? (size_t)(nl - b.data) : b.len;

		if (end > off)
			rc = apply_line(r, b.data + off, end - off, version,
					e);
		off = end + 1;
	}
	if (!rc && ts_ms) {
		*ts_ms = r->ts_ms;
		if (*ts_ms < 0 && stat(path, &st) == 0)
			*ts_ms = (int64_t)st.st_mtim.tv_sec * 1000 +
				 st.st_mtim.tv_nsec / 1000000;
	}
	free(path);
	ps_buf_release(&b);
	return rc;
}

static int apply_checkpoint(struct replay *r, const char *dir,
			    int64_t version, struct ps_error *e)
{
	char *path = log_path(dir, version, ".checkpoint.parquet");
	struct ps_buf b = PS_BUF_INIT;
	struct ps_pq_reader *pr;
	int rc;

	pr = ps_pq_reader_open(path, e);
	free(path);
	if (!pr)
		return -1;
	while ((rc = ps_pq_next(pr, e)) == 1) {
		ps_buf_reset(&b);
		ps_pq_row_json(pr, &b);
		if (apply_line(r, b.data, b.len, version, e)) {
			rc = -1;
			break;
		}
	}
	ps_buf_release(&b);
	ps_pq_reader_free(pr);
	return rc < 0 ? -1 : 0;
}

/* ---- listing ---- */

struct listing {
	int64_t *commits;	/* sorted */
	size_t ncommits;
	int64_t *checkpoints;	/* sorted */
	size_t ncheckpoints;
};

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static void push_i64(int64_t **v, size_t *n, int64_t x)
{
	if (!(*n & (*n - 1)) || !*n)
		*v = ps_xrealloc(*v, (*n ? *n * 2 : 16) * sizeof(**v));
	(*v)[(*n)++] = x;
}

/* List the log; a missing log is an empty listing.  0 or -1 (74). */
static int list_log(const char *dir, struct listing *l, struct ps_error *e)
{
	char *ld = log_path(dir, -1, "");
	struct dirent *de;
	DIR *d;
	int64_t v;

	memset(l, 0, sizeof(*l));
	d = opendir(ld);
	if (!d) {
		int err = errno;

		free(ld);
		if (err == ENOENT)
			return 0;
		return ps_error_errno(e, PS_EX_IOERR, err, "cannot list the "
				      "Delta log of %s", dir);
	}
	while ((de = readdir(d))) {
		if ((v = name_version(de->d_name, ".json")) >= 0)
			push_i64(&l->commits, &l->ncommits, v);
		else if ((v = name_version(de->d_name,
					   ".checkpoint.parquet")) >= 0)
			push_i64(&l->checkpoints, &l->ncheckpoints, v);
	}
	closedir(d);
	free(ld);
	if (l->ncommits)
		qsort(l->commits, l->ncommits, sizeof(int64_t), cmp_i64);
	if (l->ncheckpoints)
		qsort(l->checkpoints, l->ncheckpoints, sizeof(int64_t),
		      cmp_i64);
	return 0;
}

/*
 * Apply the commits from..to of listing l to r, in order: every one of
 * them must be in the log.  Returns 0 or -1 with e filled.
 */
static int apply_commits(struct replay *r, const char *dir,
			 const struct listing *l, int64_t from, int64_t to,
			 int64_t *ts_ms, struct ps_error *e)
{
	size_t i = 0;
	int64_t v;

	for (v = from; v <= to; v++) {
		while (i < l->ncommits && l->commits[i] < v)
			i++;
		if (i >= l->ncommits || l->commits[i] != v)
			return BAD(e, "%s: version %lld is missing from the log",
				   dir, (long long)v);
		if (apply_commit(r, dir, v, ts_ms, e))
			return -1;
	}
	return 0;
}

static void listing_release(struct listing *l)
{
	free(l->commits);
	free(l->checkpoints);
}

int ps_delta_latest_version(const char *dir, int64_t *version,
			    struct ps_error *e)
{
	struct listing l;

	if (list_log(dir, &l, e))
		return -1;
	*version = l.ncommits ? l.commits[l.ncommits - 1] : -1;
	listing_release(&l);
	return 0;
}

/* ---- snapshots ---- */

static int cmp_file(const void *a, const void *b)
{
	return strcmp(((const struct ps_delta_file *)a)->path,
		      ((const struct ps_delta_file *)b)->path);
}

static int cmp_txn(const void *a, const void *b)
{
	return strcmp(((const struct ps_delta_txn *)a)->app_id,
		      ((const struct ps_delta_txn *)b)->app_id);
}

/* Move the replayed files into s, sorted. */
static void finish_files(struct replay *r, struct ps_delta_snapshot *s)
{
	size_t i, na = 0, nr = 0;

	for (i = 0; i < r->n; i++) {
		na += r->v[i].state == F_ADD;
		nr += r->v[i].state == F_REMOVE;
	}
	s->files = ps_xcalloc(na ? na : 1, sizeof(*s->files));
	s->removed = ps_xcalloc(nr ? nr : 1, sizeof(*s->removed));
	for (i = 0; i < r->n; i++) {
		struct fentry *fe = &r->v[i];

		if (fe->state == F_ADD)
			s->files[s->nfiles++] = fe->f;
		else if (fe->state == F_REMOVE)
			s->removed[s->nremoved++] = fe->f;
		else
			file_release(&fe->f);
		memset(&fe->f, 0, sizeof(fe->f));
	}
	if (s->nfiles)
		qsort(s->files, s->nfiles, sizeof(*s->files), cmp_file);
	if (s->nremoved)
		qsort(s->removed, s->nremoved, sizeof(*s->removed), cmp_file);
	if (s->ntxns)
		qsort(s->txns, s->ntxns, sizeof(*s->txns), cmp_txn);
}

int ps_delta_snapshot_load(const char *dir, int64_t version,
			   struct ps_delta_snapshot *s, struct ps_error *e)
{
	struct replay r;
	struct listing l;
	int64_t target, cp = -1, ts = -1;
	size_t i;
	int rc = 0;

	ps_delta_snapshot_release(s);
	if (list_log(dir, &l, e))
		return -1;
	if (!l.ncommits && !l.ncheckpoints) {
		listing_release(&l);
		if (version >= 0)
			return ps_error_set(e, PS_EX_NOINPUT, "delta: %s has "
					    "no version %lld (no table)", dir,
					    (long long)version);
		return 0;
	}
	target = l.ncommits ? l.commits[l.ncommits - 1] : -1;
	if (l.ncheckpoints && l.checkpoints[l.ncheckpoints - 1] > target)
		target = l.checkpoints[l.ncheckpoints - 1];
	if (version >= 0) {
		if (version > target) {
			listing_release(&l);
			return ps_error_set(e, PS_EX_NOINPUT, "delta: %s has "
					    "no version %lld (latest %lld)",
					    dir, (long long)version,
					    (long long)target);
		}
		target = version;
	}
	for (i = l.ncheckpoints; i-- > 0;) {
		if (l.checkpoints[i] <= target) {
			cp = l.checkpoints[i];
			break;
		}
	}
	if (cp < 0 && l.ncheckpoints && (!l.ncommits || l.commits[0] > 0)) {
		/* before the oldest checkpoint, whose earlier versions log
		 * cleanup removed (ps_delta_log_cleanup) */
		rc = ps_error_set(e, PS_EX_NOINPUT, "delta: %s: version %lld "
				  "is no longer in the log (removed by log "
				  "cleanup; the oldest version left is %lld)",
				  dir, (long long)target,
				  (long long)l.checkpoints[0]);
		listing_release(&l);
		return rc;
	}
	memset(&r, 0, sizeof(r));
	r.s = s;
	if (cp >= 0) {
		rc = apply_checkpoint(&r, dir, cp, e);
		s->checkpoint = cp;
	}
	if (!rc)
		rc = apply_commits(&r, dir, &l, cp + 1, target, &ts, e);
	if (!rc && cp == target) {
		/* the version's own commit file, if kept, has its time */
		char *p = log_path(dir, target, ".json");
		struct stat st;

		if (access(p, F_OK) == 0) {
			struct replay r2;
			struct ps_delta_snapshot tmp = PS_DELTA_SNAPSHOT_INIT;

			memset(&r2, 0, sizeof(r2));
			r2.s = &tmp;
			if (apply_commit(&r2, dir, target, &ts, e))
				ts = -1;
			replay_release(&r2);
			ps_delta_snapshot_release(&tmp);
		}
		if (ts < 0) {
			free(p);
			p = log_path(dir, target, ".checkpoint.parquet");
			if (stat(p, &st) == 0)
				ts = (int64_t)st.st_mtim.tv_sec * 1000 +
				     st.st_mtim.tv_nsec / 1000000;
		}
		free(p);
	}
	if (!rc && (!r.have_meta || !r.have_protocol))
		rc = BAD(e, "%s: no metaData or protocol up to version %lld",
			 dir, (long long)target);
	listing_release(&l);
	if (rc) {
		replay_release(&r);
		ps_delta_snapshot_release(s);
		return -1;
	}
	finish_files(&r, s);
	replay_release(&r);
	s->version = target;
	s->timestamp_ms = ts;
	return 0;
}

int ps_delta_snapshot_update(const char *dir, struct ps_delta_snapshot *s,
			     struct ps_error *e)
{
	struct replay r;
	struct listing l;
	int64_t ts = s->timestamp_ms;
	size_t i;
	int rc = 0;

	if (s->version < 0)
		return ps_delta_snapshot_load(dir, -1, s, e);
	if (list_log(dir, &l, e)) {
		ps_delta_snapshot_release(s);
		return -1;
	}
	if (!l.ncommits || l.commits[l.ncommits - 1] <= s->version) {
		listing_release(&l);
		return 0;
	}
	/* The snapshot's files go back into a replay map. */
	memset(&r, 0, sizeof(r));
	r.s = s;
	r.have_meta = r.have_protocol = 1;
	for (i = 0; i < s->nfiles + s->nremoved; i++) {
		int add = i < s->nfiles;
		struct ps_delta_file *f = add ? &s->files[i] :
			&s->removed[i - s->nfiles];
		struct fentry *fe = lookup(&r, f->path);

		free(fe->f.path);
		fe->f = *f;
		fe->state = add ? F_ADD : F_REMOVE;
		memset(f, 0, sizeof(*f));
	}
	free(s->files);
	free(s->removed);
	s->files = s->removed = NULL;
	s->nfiles = s->nremoved = 0;
	if (!rc)
		rc = apply_commits(&r, dir, &l, s->version + 1,
				   l.commits[l.ncommits - 1], &ts, e);
	if (rc) {
		listing_release(&l);
		replay_release(&r);
		ps_delta_snapshot_release(s);
		return -1;
	}
	finish_files(&r, s);
	replay_release(&r);
	s->version = l.commits[l.ncommits - 1];
	s->timestamp_ms = ts;
	listing_release(&l);
	return 0;
}

static int cmp_path_key(const void *k, const void *f)
{
	return strcmp(k, ((const struct ps_delta_file *)f)->path);
}

const struct ps_delta_file *ps_delta_snapshot_find(
	const struct ps_delta_snapshot *s, const char *path, int removed)
{
	const struct ps_delta_file *f = NULL;

	if (s->nfiles)
		f = bsearch(path, s->files, s->nfiles, sizeof(*s->files),
			    cmp_path_key);
	if (!f && removed && s->nremoved)
		f = bsearch(path, s->removed, s->nremoved,
			    sizeof(*s->removed), cmp_path_key);
	return f;
}

void ps_delta_snapshot_release(struct ps_delta_snapshot *s)
{
	struct ps_delta_snapshot init = PS_DELTA_SNAPSHOT_INIT;
	size_t i;

	for (i = 0; i < s->nfiles; i++)
		file_release(&s->files[i]);
	for (i = 0; i < s->nremoved; i++)
		file_release(&s->removed[i]);
	for (i = 0; i < s->ntxns; i++)
		free(s->txns[i].app_id);
	free(s->files);
	free(s->removed);
	free(s->txns);
	free(s->table_id);
	free(s->schema_string);
	strv_free(s->part_cols, s->npart);
	*s = init;
}

int64_t ps_delta_txn_version(const struct ps_delta_snapshot *s,
			     const char *app_id)
{
	size_t lo = 0, hi = s->ntxns;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(s->txns[mid].app_id, app_id);

		if (!c)
			return s->txns[mid].version;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* Timestamp of one version (commitInfo, else mtime); 0 or -1. */
static int version_ts(const char *dir, int64_t v, int64_t *ts,
		      struct ps_error *e)
{
	struct ps_delta_snapshot tmp = PS_DELTA_SNAPSHOT_INIT;
	struct replay r;
	int rc;

	memset(&r, 0, sizeof(r));
	r.s = &tmp;
	rc = apply_commit(&r, dir, v, ts, e);
	replay_release(&r);
	ps_delta_snapshot_release(&tmp);
	return rc;
}

int ps_delta_is_table(const char *dir)
{
	char *log = log_path(dir, -1, "");
	struct stat st;
	int yes = stat(log, &st) == 0 && S_ISDIR(st.st_mode);

	free(log);
	return yes;
}

int ps_delta_version_at(const char *dir, int64_t ts_ms, int64_t *version,
			struct ps_error *e)
{
	struct listing l;
	size_t lo, hi;
	int64_t ts;
	int rc = 0;

	if (list_log(dir, &l, e))
		return -1;
	if (!l.ncommits) {
		listing_release(&l);
		return ps_error_set(e, PS_EX_NOINPUT, "delta: %s has no "
				    "commits", dir);
	}
	/* Commit times only grow (each writer stamps after reading the
	 * previous version): binary search for the last one <= ts_ms. */
	lo = 0;
	hi = l.ncommits;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if ((rc = version_ts(dir, l.commits[mid], &ts, e)))
			break;
		if (ts <= ts_ms)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!rc && lo == 0)
		rc = ps_error_set(e, PS_EX_NOINPUT, "delta: %s has no version "
				  "at or before that time", dir);
	if (!rc)
		*version = l.commits[lo - 1];
	listing_release(&l);
	return rc;
}

/* ---- schema and stats ---- */

static const char *spark_type(enum ps_pq_type t)
{
	switch (t) {
	case PS_PQ_INT32:
		return "integer";
	case PS_PQ_INT64:
		return "long";
	case PS_PQ_DOUBLE:
		return "double";
	case PS_PQ_BOOL:
		return "boolean";
	case PS_PQ_STRING:
		return "string";
	case PS_PQ_DATE:
		return "date";
	case PS_PQ_TIMESTAMP:
		return "timestamp";
	}
	return "string";
}

void ps_delta_schema_string(const struct ps_pq_column *cols, size_t ncols,
			    struct ps_buf *b)
{
	size_t i;

	ps_buf_adds(b, "{\"type\":\"struct\",\"fields\":[");
	for (i = 0; i < ncols; i++) {
		if (i)
			ps_buf_addc(b, ',');
		ps_buf_adds(b, "{\"name\":");
		ps_json_add_str(b, cols[i].name, strlen(cols[i].name));
		ps_buf_addf(b, ",\"type\":\"%s\",\"nullable\":%s,"
			    "\"metadata\":{}}", spark_type(cols[i].type),
			    cols[i].nullable ? "true" : "false");
	}
	ps_buf_adds(b, "]}");
}

/* A stats value: timestamps to the ms (round up for a maximum). */
static void stat_json(const struct ps_pq_value *v, int is_max,
		      struct ps_buf *b)
{
	char tmp[PS_TIME_MAX];
	int64_t us = v->v.i, r;

	if (v->type != PS_PQ_TIMESTAMP) {
		ps_pq_value_json(v, b);
		return;
	}
	r = us % 1000;
	if (r < 0)
		r += 1000;
	us -= r;
	if (is_max && r)
		us += 1000;
	ps_buf_addc(b, '"');
	ps_buf_add(b, tmp, ps_time_format(us, tmp, 3));
	ps_buf_addc(b, '"');
}

static int skipped(const char *name, const char *const *skip, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(name, skip[i]))
			return 1;
	return 0;
}

int ps_delta_file_stats(const char *path, const char *const *skip,
			size_t nskip, struct ps_buf *b, struct ps_error *e)
{
	struct ps_pq_reader *r = ps_pq_reader_open(path, e);
	size_t nc, ng, c, g, pass;
	struct ps_pq_stats st;

	if (!r)
		return -1;
	nc = ps_pq_reader_ncols(r);
	ng = ps_pq_reader_nrow_groups(r);
	ps_buf_adds(b, "{\"numRecords\":");
	ps_buf_add_i64(b, ps_pq_reader_nrows(r));
	for (pass = 0; pass < 3; pass++) {
		int first = 1;

		ps_buf_adds(b, pass == 0 ? ",\"minValues\":{" :
			    pass == 1 ? ",\"maxValues\":{" :
			    ",\"nullCount\":{");
		for (c = 0; c < nc; c++) {
			const struct ps_pq_column *col =
				ps_pq_reader_col(r, c);
			struct ps_pq_value best;
			int64_t nulls = 0;
			int have = 0, ok = 1;

			if (skipped(col->name, skip, nskip))
				continue;
			memset(&best, 0, sizeof(best));
			for (g = 0; g < ng; g++) {
				ps_pq_reader_stats(r, g, c, &st);
				if (pass == 2) {
					ok &= st.has_null_count;
					nulls += st.null_count;
					continue;
				}
				if (!st.has_min_max) {
					/* all null, or unknown */
					if (!st.has_null_count ||
					    st.null_count != st.num_values)
						ok = 0;
					continue;
				}
				{
					const struct ps_pq_value *v =
						pass ? &st.max : &st.min;
					int less;

					if (!have) {
						best = *v;
						have = 1;
						continue;
					}
					switch (v->type) {
					case PS_PQ_STRING:
						less = memcmp(v->v.s.p,
							      best.v.s.p,
							      v->v.s.len <
							      best.v.s.len ?
							      v->v.s.len :
							      best.v.s.len);
						if (!less)
							less = v->v.s.len <
							       best.v.s.len ?
							       -1 :
							       v->v.s.len >
							       best.v.s.len;
						break;
					case PS_PQ_DOUBLE:
						less = v->v.d < best.v.d ? -1 :
						       v->v.d > best.v.d;
						break;
					default:
						less = v->v.i < best.v.i ? -1 :
						       v->v.i > best.v.i;
					}
					if (pass ? less > 0 : less < 0)
						best = *v;
				}
			}
			if (!ok || (pass < 2 && (!have ||
						 col->type == PS_PQ_BOOL)))
				continue;
			if (pass < 2 && col->type == PS_PQ_DOUBLE &&
			    (best.v.d != best.v.d || best.v.d - best.v.d != 0))
				continue;	/* NaN or infinite */
			if (!first)
				ps_buf_addc(b, ',');
			first = 0;
			ps_json_add_str(b, col->name, strlen(col->name));
			ps_buf_addc(b, ':');
			if (pass == 2)
				ps_buf_add_i64(b, nulls);
			else
				stat_json(&best, pass == 1, b);
		}
		ps_buf_addc(b, '}');
	}
	ps_buf_addc(b, '}');
	/* the values pointed into r: the JSON is written, free it now */
	ps_pq_reader_free(r);
	return 0;
}

/* ---- commits ---- */

struct ps_delta_commit {
	char *operation;
	int64_t read_version;
	int create;
	char *table_id, *schema;
	char **part;
	size_t npart;
	int64_t created_ms;
	struct ps_delta_file *adds, *removes;
	size_t nadds, nremoves;
	struct ps_delta_txn *txns;
	size_t ntxns;
	int defer_dir_sync;	/* ps_delta_commit_defer_dir_sync */
	struct ps_afile staged;	/* ps_delta_commit_stage */
};

void ps_delta_commit_defer_dir_sync(struct ps_delta_commit *c)
{
	c->defer_dir_sync = 1;
}

struct ps_delta_commit *ps_delta_commit_new(const char *operation,
					    int64_t read_version)
{
	struct ps_delta_commit *c = ps_xcalloc(1, sizeof(*c));

	c->operation = ps_xstrdup(operation);
	c->read_version = read_version;
	c->staged = (struct ps_afile)PS_AFILE_INIT;
	return c;
}

void ps_delta_commit_free(struct ps_delta_commit *c)
{
	size_t i;

	if (!c)
		return;
	ps_afile_abort(&c->staged);
	for (i = 0; i < c->nadds; i++)
		file_release(&c->adds[i]);
	for (i = 0; i < c->nremoves; i++)
		file_release(&c->removes[i]);
	for (i = 0; i < c->ntxns; i++)
		free(c->txns[i].app_id);
	free(c->adds);
	free(c->removes);
	free(c->txns);
	free(c->operation);
	free(c->table_id);
	free(c->schema);
	strv_free(c->part, c->npart);
	free(c);
}

/* A random (version 4) UUID. */
static void make_uuid(char out[37])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t u[16];
	size_t got = 0;
	int i, k = 0;

	while (got < sizeof(u)) {
		ssize_t n = getrandom(u + got, sizeof(u) - got, 0);

		if (n < 0) {
			/* (no entropy source: time and pid, still unique
			 * enough for a table id) */
			uint64_t x = (uint64_t)ps_time_now() ^
				     ((uint64_t)getpid() << 32);

			memcpy(u, &x, 8);
			x = x * 0x9e3779b97f4a7c15ULL;
			memcpy(u + 8, &x, 8);
			break;
		}
		got += (size_t)n;
	}
	u[6] = (uint8_t)((u[6] & 0x0f) | 0x40);
	u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[k++] = '-';
		out[k++] = hex[u[i] >> 4];
		out[k++] = hex[u[i] & 15];
	}
	out[k] = '\0';
}

int ps_delta_commit_create(struct ps_delta_commit *c, const char *table_id,
			   const struct ps_pq_column *cols, size_t ncols,
			   const char *const *part, size_t npart,
			   int64_t created_ms, struct ps_error *e)
{
	struct ps_buf b = PS_BUF_INIT;
	char uuid[37];
	size_t i, j;

	for (i = 0; i < npart; i++) {
		for (j = 0; j < ncols; j++)
			if (!strcmp(part[i], cols[j].name))
				break;
		if (j == ncols)
			return ps_error_set(e, PS_EX_USAGE, "delta: partition "
					    "column '%s' is not in the schema",
					    part[i]);
	}
	if (!table_id) {
		make_uuid(uuid);
		table_id = uuid;
	}
	c->create = 1;
	set_str(&c->table_id, table_id);
	ps_delta_schema_string(cols, ncols, &b);
	free(c->schema);
	c->schema = ps_buf_detach(&b, NULL);
	strv_free(c->part, c->npart);
	c->npart = npart;
	c->part = ps_xcalloc(npart ? npart : 1, sizeof(char *));
	for (i = 0; i < npart; i++)
		c->part[i] = ps_xstrdup(part[i]);
	c->created_ms = created_ms;
	return 0;
}

static struct ps_delta_file *push_file(struct ps_delta_file **v, size_t *n)
{
	*v = ps_xrealloc(*v, (*n + 1) * sizeof(**v));
	memset(&(*v)[*n], 0, sizeof(**v));
	return &(*v)[(*n)++];
}

void ps_delta_commit_add(struct ps_delta_commit *c, const char *path,
			 int64_t size, int64_t mtime_ms,
			 const char *const *pv_keys,
			 const char *const *pv_vals, size_t npv,
			 const char *stats, int data_change)
{
	struct ps_delta_file f;

	memset(&f, 0, sizeof(f));
	f.path = (char *)path;
	f.size = size;
	f.mtime_ms = mtime_ms;
	f.data_change = !!data_change;
	f.pv_keys = (char **)pv_keys;
	f.pv_vals = (char **)pv_vals;
	f.npv = npv;
	f.stats = (char *)stats;
	file_copy(push_file(&c->adds, &c->nadds), &f);
}

int ps_delta_commit_add_file(struct ps_delta_commit *c, const char *dir,
			     const char *path, const char *const *pv_keys,
			     const char *const *pv_vals, size_t npv,
			     int data_change, struct ps_error *e)
{
	char *full = ps_path_join(dir, path);
	struct ps_buf stats = PS_BUF_INIT;
	struct stat st;
	int rc = 0;

	if (stat(full, &st) < 0) {
		rc = ps_error_errno(e, PS_EX_NOINPUT, errno, "cannot stat %s",
				    full);
	} else if (!ps_delta_file_stats(full, pv_keys, npv, &stats, e)) {
		ps_delta_commit_add(c, path, (int64_t)st.st_size,
				    (int64_t)st.st_mtim.tv_sec * 1000 +
				    st.st_mtim.tv_nsec / 1000000,
				    pv_keys, pv_vals, npv, stats.data,
				    data_change);
	} else {
		rc = -1;
	}
	ps_buf_release(&stats);
	free(full);
	return rc;
}

void ps_delta_commit_remove(struct ps_delta_commit *c,
			    const struct ps_delta_file *f, int64_t now_ms,
			    int data_change)
{
	struct ps_delta_file *r = push_file(&c->removes, &c->nremoves);

	file_copy(r, f);
	free(r->stats);
	r->stats = NULL;
	r->mtime_ms = now_ms;
	r->data_change = !!data_change;
}

void ps_delta_commit_txn(struct ps_delta_commit *c, const char *app_id,
			 int64_t version, int64_t now_ms)
{
	size_t i;

	for (i = 0; i < c->ntxns; i++)
		if (!strcmp(c->txns[i].app_id, app_id))
			break;
	if (i == c->ntxns) {
		c->txns = ps_xrealloc(c->txns, (c->ntxns + 1) *
				      sizeof(*c->txns));
		c->txns[c->ntxns++].app_id = ps_xstrdup(app_id);
	}
	c->txns[i].version = version;
	c->txns[i].last_updated = now_ms;
}

static void protocol_json(struct ps_buf *b)
{
	ps_buf_adds(b, "{\"protocol\":{\"minReaderVersion\":1,"
		    "\"minWriterVersion\":2}}\n");
}

static void meta_json(const char *id, const char *schema, char **part,
		      size_t npart, int64_t created_ms, struct ps_buf *b)
{
	size_t i;

	ps_buf_adds(b, "{\"metaData\":{\"id\":");
	ps_json_add_str(b, id, strlen(id));
	ps_buf_adds(b, ",\"format\":{\"provider\":\"parquet\",\"options\":{}},"
		    "\"schemaString\":");
	ps_json_add_str(b, schema, strlen(schema));
	ps_buf_adds(b, ",\"partitionColumns\":[");
	for (i = 0; i < npart; i++) {
		if (i)
			ps_buf_addc(b, ',');
		ps_json_add_str(b, part[i], strlen(part[i]));
	}
	ps_buf_adds(b, "],\"configuration\":{}");
	if (created_ms >= 0) {
		ps_buf_adds(b, ",\"createdTime\":");
		ps_buf_add_i64(b, created_ms);
	}
	ps_buf_adds(b, "}}\n");
}

static void txn_json(const struct ps_delta_txn *t, struct ps_buf *b)
{
	ps_buf_adds(b, "{\"txn\":{\"appId\":");
	ps_json_add_str(b, t->app_id, strlen(t->app_id));
	ps_buf_adds(b, ",\"version\":");
	ps_buf_add_i64(b, t->version);
	if (t->last_updated >= 0) {
		ps_buf_adds(b, ",\"lastUpdated\":");
		ps_buf_add_i64(b, t->last_updated);
	}
	ps_buf_adds(b, "}}\n");
}

/* The commit file's text. */
static void commit_json(const struct ps_delta_commit *c, int64_t now_ms,
			struct ps_buf *b)
{
	size_t i;
	int blind = !c->nremoves;

	ps_buf_adds(b, "{\"commitInfo\":{\"timestamp\":");
	ps_buf_add_i64(b, now_ms);
	ps_buf_adds(b, ",\"operation\":");
	ps_json_add_str(b, c->operation, strlen(c->operation));
	ps_buf_addf(b, ",\"operationParameters\":{%s},\"isBlindAppend\":%s,"
		    "\"engineInfo\":\"pulsestream/" PS_VERSION "\"}}\n",
		    c->create ? "" : blind ? "\"mode\":\"Append\"" :
		    "\"mode\":\"Overwrite\"", blind ? "true" : "false");
	if (c->create) {
		protocol_json(b);
		meta_json(c->table_id, c->schema, c->part, c->npart,
			  c->created_ms, b);
	}
	for (i = 0; i < c->ntxns; i++)
		txn_json(&c->txns[i], b);
	for (i = 0; i < c->nremoves; i++)
		ps_delta_file_json(&c->removes[i], 1, b);
	for (i = 0; i < c->nadds; i++)
		ps_delta_file_json(&c->adds[i], 0, b);
}

static int in_files(const struct ps_delta_file *v, size_t n, const char *p)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(v[i].path, p))
			return 1;
	return 0;
}

/*
 * Does version v (written by someone else) clash with c?  Returns 0 (no:
 * retry after it), or -1 with e filled (75, or 65 for a bad log).
 */
static int check_conflict(const char *dir, int64_t v,
			  const struct ps_delta_commit *c, struct ps_error *e)
{
	struct ps_delta_snapshot tmp = PS_DELTA_SNAPSHOT_INIT;
	struct replay r;
	size_t i;
	int rc = 0, c_removes_data = 0;

	memset(&r, 0, sizeof(r));
	r.s = &tmp;
	if (apply_commit(&r, dir, v, NULL, e)) {
		replay_release(&r);
		ps_delta_snapshot_release(&tmp);
		return -1;
	}
	for (i = 0; i < c->nremoves; i++)
		c_removes_data |= c->removes[i].data_change;
	if (r.have_meta || r.have_protocol)
		rc = ps_error_set(e, PS_EX_TEMPFAIL, "delta: conflict: the "
				  "metadata of %s changed at version %lld",
				  dir, (long long)v);
	for (i = 0; !rc && i < tmp.ntxns; i++) {
		size_t k;

		for (k = 0; k < c->ntxns; k++)
			if (!strcmp(c->txns[k].app_id, tmp.txns[i].app_id))
				rc = ps_error_set(e, PS_EX_TEMPFAIL, "delta: "
						  "conflict: another writer "
						  "committed '%s' (txn "
						  "version %lld) to %s at "
						  "version %lld",
						  tmp.txns[i].app_id,
						  (long long)tmp.txns[i].version,
						  dir, (long long)v);
	}
	for (i = 0; !rc && i < r.n; i++) {
		const struct fentry *fe = &r.v[i];

		if (fe->state == F_ADD &&
		    in_files(c->adds, c->nadds, fe->f.path))
			rc = ps_error_set(e, PS_EX_TEMPFAIL, "delta: conflict:"
					  " %s was added concurrently at "
					  "version %lld", fe->f.path,
					  (long long)v);
		else if (fe->state == F_REMOVE &&
			 in_files(c->removes, c->nremoves, fe->f.path))
			rc = ps_error_set(e, PS_EX_TEMPFAIL, "delta: conflict:"
					  " %s was removed concurrently at "
					  "version %lld", fe->f.path,
					  (long long)v);
		else if (c_removes_data && fe->f.data_change)
			rc = ps_error_set(e, PS_EX_TEMPFAIL, "delta: conflict:"
					  " data of %s changed at version "
					  "%lld while this commit rewrote it",
					  dir, (long long)v);
	}
	replay_release(&r);
	ps_delta_snapshot_release(&tmp);
	return rc;
}

/* Is version 0 of dir the same table as c creates (schema, partitions)?
 * Returns 1, 0, or -1 with e filled. */
static int same_table(const char *dir, const struct ps_delta_commit *c,
		      struct ps_error *e)
{
	struct ps_delta_snapshot s = PS_DELTA_SNAPSHOT_INIT;
	size_t i;
	int same;

	if (ps_delta_snapshot_load(dir, 0, &s, e))
		return -1;
	same = s.schema_string && !strcmp(s.schema_string, c->schema) &&
	       s.npart == c->npart;
	for (i = 0; same && i < c->npart; i++)
		same = !strcmp(s.part_cols[i], c->part[i]);
	ps_delta_snapshot_release(&s);
	return same;
}

/* Can c be committed to dir at all?  0, or -1 with e filled (70). */
static int commit_valid(const char *dir, const struct ps_delta_commit *c,
			struct ps_error *e)
{
	if (c->create && c->read_version != -1)
		return ps_error_set(e, PS_EX_SOFTWARE, "delta: a commit that "
				    "creates the table reads no version");
	if (!c->create && c->read_version < 0)
		return ps_error_set(e, PS_EX_SOFTWARE, "delta: %s: no table "
				    "to commit to", dir);
	return 0;
}

/* Start writing the log entry of c (its JSON at now_ms, in b) as version
 * v of dir.  Returns 0, or -1 with e filled (f released). */
static int entry_open(const char *dir, struct ps_delta_commit *c,
		      int64_t v, int64_t now_ms, struct ps_buf *b,
		      struct ps_afile *f, struct ps_error *e)
{
	char *path = log_path(dir, v, ".json");
	int rc;

	ps_buf_reset(b);
	commit_json(c, now_ms, b);
	rc = ps_afile_open(f, path, 0644, e);
	free(path);
	if (rc == 0 && ps_afile_write(f, b->data, b->len, e)) {
		ps_afile_abort(f);
		rc = -1;
	}
	return rc;
}

int ps_delta_commit_stage(const char *dir, struct ps_delta_commit *c,
			  int64_t now_ms, struct ps_error *e)
{
	struct ps_buf b = PS_BUF_INIT;
	int rc;

	if (commit_valid(dir, c, e) < 0)
		return -1;
	if (c->create)
		return 0;	/* its _delta_log may not exist yet */
	ps_afile_abort(&c->staged);
	rc = entry_open(dir, c, c->read_version + 1, now_ms, &b, &c->staged,
			e);
	ps_buf_release(&b);
	return rc;
}

int ps_delta_commit_seal_staged(struct ps_delta_commit *const *c, size_t n,
				struct ps_error *e)
{
	struct ps_afile **f = ps_xcalloc(n + 1, sizeof(*f));
	size_t i, k = 0;
	int rc;

	for (i = 0; i < n; i++)
		if (c[i] && c[i]->staged.tmp && !c[i]->staged.sealed)
			f[k++] = &c[i]->staged;
	rc = ps_afile_seal_all(f, k, e);
	free(f);
	return rc;
}

int ps_delta_commit_write(const char *dir, struct ps_delta_commit *c,
			  int64_t now_ms, int checkpoint_interval,
			  int64_t *version, struct ps_error *e)
{
	struct ps_buf b = PS_BUF_INIT;
	int64_t v = c->read_version + 1;
	int attempt, rc;

	if (commit_valid(dir, c, e) < 0)
		return -1;
	if (c->create) {
		char *ld = log_path(dir, -1, "");

		rc = ps_mkdir_durable(ld, 0755, e);
		free(ld);
		if (rc)
			return -1;
	}
	for (attempt = 0; attempt < MAX_ATTEMPTS; attempt++, v++) {
		struct ps_afile f = c->staged;

		/* the staged entry is version read_version + 1's */
		c->staged = (struct ps_afile)PS_AFILE_INIT;
		if (!f.tmp && entry_open(dir, c, v, now_ms, &b, &f, e) < 0) {
			rc = -1;
			break;
		}
		rc = c->defer_dir_sync && !c->create ?
		     ps_afile_link_new(&f, e) : ps_afile_commit_new(&f, e);
		if (rc <= 0)
			break;
		/* Version v is someone else's. */
		if (c->create && v == 0) {
			rc = same_table(dir, c, e);
			if (rc < 0)
				break;
			if (!rc) {
				rc = ps_error_set(e, PS_EX_TEMPFAIL, "delta: "
						  "%s was created concurrently "
						  "with another schema", dir);
				break;
			}
			c->create = 0;	/* append to it instead */
			continue;
		}
		if (check_conflict(dir, v, c, e)) {
			rc = -1;
			break;
		}
	}
	ps_buf_release(&b);
	if (rc > 0 || attempt == MAX_ATTEMPTS)
		return ps_error_set(e, PS_EX_TEMPFAIL, "delta: %s: gave up "
				    "after %d concurrent commits", dir,
				    MAX_ATTEMPTS);
	if (rc)
		return -1;
	*version = v;
	if (checkpoint_interval > 0 && v > 0 && v % checkpoint_interval == 0) {
		struct ps_error ce = { 0 };

		if (ps_delta_checkpoint(dir, v, now_ms, -1, &ce))
			ps_log(PS_WARN, "delta checkpoint failed (the commit "
			       "stands)", PS_S("table", dir),
			       PS_I("version", v), PS_S("err", ce.msg));
	}
	return 0;
}

/* ---- checkpoints ---- */

/* The checkpoint schema (PROTOCOL.md, "Checkpoint Schema"), for reader
 * 1 / writer 2 tables. */
static const struct ps_pq_node checkpoint_schema[] = {
	{ "txn", PS_PQ_STRUCT, 0, 1, 3 },
	{ "appId", PS_PQ_LEAF, PS_PQ_STRING, 0, 0 },
	{ "version", PS_PQ_LEAF, PS_PQ_INT64, 0, 0 },
	{ "lastUpdated", PS_PQ_LEAF, PS_PQ_INT64, 1, 0 },
	{ "add", PS_PQ_STRUCT, 0, 1, 7 },
	{ "path", PS_PQ_LEAF, PS_PQ_STRING, 0, 0 },
	{ "partitionValues", PS_PQ_MAP, 0, 0, 0 },
	{ "key", PS_PQ_LEAF, PS_PQ_STRING, 0, 0 },
	{ "value", PS_PQ_LEAF, PS_PQ_STRING, 1, 0 },
	{ "size", PS_PQ_LEAF, PS_PQ_INT64, 0, 0 },
	{ "modificationTime", PS_PQ_LEAF, PS_PQ_INT64, 0, 0 },
	{ "dataChange", PS_PQ_LEAF, PS_PQ_BOOL, 0, 0 },
	{ "stats", PS_PQ_LEAF, PS_PQ_STRING, 1, 0 },
	{ "tags", PS_PQ_MAP, 0, 1, 0 },
	{ "key", PS_PQ_LEAF, PS_PQ_STRING, 0, 0 },
	{ "value", PS_PQ_LEAF, PS_PQ_STRING, 1, 0 },
	{ "remove", PS_PQ_STRUCT, 0, 1, 6 },
	{ "path", PS_PQ_LEAF, PS_PQ_STRING, 0, 0 },
	{ "deletionTimestamp", PS_PQ_LEAF, PS_PQ_INT64, 1, 0 },
	{ "dataChange", PS_PQ_LEAF, PS_PQ_BOOL, 0, 0 },
	{ "extendedFileMetadata", PS_PQ_LEAF, PS_PQ_BOOL, 1, 0 },
	{ "partitionValues", PS_PQ_MAP, 0, 1, 0 },
	{ "key", PS_PQ_LEAF, PS_PQ_STRING, 0, 0 },
	{ "value", PS_PQ_LEAF, PS_PQ_STRING, 1, 0 },
	{ "size", PS_PQ_LEAF, PS_PQ_INT64, 1, 0 },
	{ "metaData", PS_PQ_STRUCT, 0, 1, 8 },
	{ "id", PS_PQ_LEAF, PS_PQ_STRING, 0, 0 },
	{ "name", PS_PQ_LEAF, PS_PQ_STRING, 1, 0 },
	{ "description", PS_PQ_LEAF, PS_PQ_STRING, 1, 0 },
	{ "format", PS_PQ_STRUCT, 0, 0, 2 },
	{ "provider", PS_PQ_LEAF, PS_PQ_STRING, 0, 0 },
	{ "options", PS_PQ_MAP, 0, 0, 0 },
	{ "key", PS_PQ_LEAF, PS_PQ_STRING, 0, 0 },
	{ "value", PS_PQ_LEAF, PS_PQ_STRING, 1, 0 },
	{ "schemaString", PS_PQ_LEAF, PS_PQ_STRING, 0, 0 },
	{ "partitionColumns", PS_PQ_LIST, 0, 0, 0 },
	{ "element", PS_PQ_LEAF, PS_PQ_STRING, 0, 0 },
	{ "createdTime", PS_PQ_LEAF, PS_PQ_INT64, 1, 0 },
	{ "configuration", PS_PQ_MAP, 0, 0, 0 },
	{ "key", PS_PQ_LEAF, PS_PQ_STRING, 0, 0 },
	{ "value", PS_PQ_LEAF, PS_PQ_STRING, 1, 0 },
	{ "protocol", PS_PQ_STRUCT, 0, 1, 2 },
	{ "minReaderVersion", PS_PQ_LEAF, PS_PQ_INT32, 0, 0 },
	{ "minWriterVersion", PS_PQ_LEAF, PS_PQ_INT32, 0, 0 },
};

/* Write one action (a JSON line, newline included) as a checkpoint row. */
static int put_row(struct ps_pq_writer *w, const struct ps_buf *b,
		   size_t from, struct ps_error *e)
{
	size_t len = b->len - from;

	if (len && b->data[b->len - 1] == '\n')
		len--;
	return ps_pq_write_json(w, b->data + from, len, e);
}

int ps_delta_checkpoint(const char *dir, int64_t version, int64_t now_ms,
			int64_t tombstone_retention_ms, struct ps_error *e)
{
	struct ps_delta_snapshot s = PS_DELTA_SNAPSHOT_INIT;
	struct ps_pq_options o = PS_PQ_OPTIONS_INIT;
	struct ps_buf b = PS_BUF_INIT;
	struct ps_pq_writer *w;
	struct stat st;
	char *path = NULL, *last = NULL;
	int64_t rows = 0;
	size_t i;
	int rc = -1;

	if (ps_delta_snapshot_load(dir, version, &s, e))
		return -1;
	if (s.version < 0) {
		ps_error_set(e, PS_EX_NOINPUT, "delta: %s: no table", dir);
		goto out;
	}
	o.codec = PS_PQ_GZIP;	/* read by every Delta reader */
	path = log_path(dir, version, ".checkpoint.parquet");
	w = ps_pq_open_nested(path, checkpoint_schema,
			      sizeof(checkpoint_schema) /
			      sizeof(checkpoint_schema[0]), &o, e);
	if (!w)
		goto out;
	protocol_json(&b);
	rc = put_row(w, &b, 0, e);
	ps_buf_reset(&b);
	meta_json(s.table_id, s.schema_string, s.part_cols, s.npart,
		  s.created_ms, &b);
	rc = rc ? rc : put_row(w, &b, 0, e);
	rows = 2;
	for (i = 0; !rc && i < s.ntxns; i++, rows++) {
		ps_buf_reset(&b);
		txn_json(&s.txns[i], &b);
		rc = put_row(w, &b, 0, e);
	}
	for (i = 0; !rc && i < s.nfiles; i++, rows++) {
		ps_buf_reset(&b);
		ps_delta_file_json(&s.files[i], 0, &b);
		rc = put_row(w, &b, 0, e);
	}
	for (i = 0; !rc && i < s.nremoved; i++) {
		if (tombstone_retention_ms >= 0 &&
		    s.removed[i].mtime_ms < now_ms - tombstone_retention_ms)
			continue;
		ps_buf_reset(&b);
		ps_delta_file_json(&s.removed[i], 1, &b);
		rc = put_row(w, &b, 0, e);
		rows++;
	}
	if (rc) {
		ps_pq_abort(w);
		goto out;
	}
	if ((rc = ps_pq_close(w, e)))
		goto out;
	/* A checkpoint may be replaced by an equal one: a rename is fine
	 * here, and so is for the _last_checkpoint pointer. */
	ps_buf_reset(&b);
	ps_buf_addf(&b, "{\"version\":%lld,\"size\":%lld", (long long)version,
		    (long long)rows);
	if (stat(path, &st) == 0)
		ps_buf_addf(&b, ",\"sizeInBytes\":%lld",
			    (long long)st.st_size);
	ps_buf_addf(&b, ",\"numOfAddFiles\":%zu}\n", s.nfiles);
	last = log_path(dir, -1, "_last_checkpoint");
	rc = ps_write_file_atomic(last, b.data, b.len, 0644, e);
out:
	free(path);
	free(last);
	ps_buf_release(&b);
	ps_delta_snapshot_release(&s);
	return rc ? -1 : 0;
}

/* ---- maintenance ---- */

/* Same partition values (in order)? */
/*
 * May a and b go into one compacted file: the same partition values, and
 * the same directory (a writer that lays files out in directories without
 * declaring them partition columns, as gold's fact does by day, replaces
 * a directory's files: a file holding rows of several would outlive them).
 */
static int same_partition(const struct ps_delta_file *a,
			  const struct ps_delta_file *b)
{
	const char *sa = strrchr(a->path, '/'), *sb = strrchr(b->path, '/');
	size_t i;

	if ((sa ? sa - a->path : -1) != (sb ? sb - b->path : -1) ||
	    (sa && strncmp(a->path, b->path, (size_t)(sa - a->path))))
		return 0;
	if (a->npv != b->npv)
		return 0;
	for (i = 0; i < a->npv; i++) {
		if (strcmp(a->pv_keys[i], b->pv_keys[i]))
			return 0;
		if (!a->pv_vals[i] != !b->pv_vals[i] ||
		    (a->pv_vals[i] && strcmp(a->pv_vals[i], b->pv_vals[i])))
			return 0;
	}
	return 1;
}

/* Copy the current row of r into w: column at[c] of r into column c of
 * w, for c < nc.  0 or -1. */
static int copy_row(struct ps_pq_reader *r, struct ps_pq_writer *w,
		    const int *at, size_t nc, struct ps_error *e)
{
	size_t c;

	for (c = 0; c < nc; c++) {
		const struct ps_pq_value *v = ps_pq_value(r, (size_t)at[c]);

		if (!v || v->is_null) {
			ps_pq_set_null(w, c);
			continue;
		}
		switch (v->type) {
		case PS_PQ_DOUBLE:
			ps_pq_set_double(w, c, v->v.d);
			break;
		case PS_PQ_BOOL:
			ps_pq_set_bool(w, c, v->v.b);
			break;
		case PS_PQ_STRING:
			ps_pq_set_string(w, c, v->v.s.p, v->v.s.len);
			break;
		default:
			ps_pq_set_int64(w, c, v->v.i);
		}
	}
	return ps_pq_end_row(w, e);
}

/* Is name one of f's partition columns? */
static int is_part_col(const struct ps_delta_file *f, const char *name)
{
	size_t i;

	for (i = 0; i < f->npv; i++)
		if (!strcmp(f->pv_keys[i], name))
			return 1;
	return 0;
}

/*
 * Map the nc columns cols onto the columns of r (by name) in at[].  1
 * when r holds exactly these columns with the same types, besides the
 * partition columns of f (an older file may hold them), else 0.
 */
static int map_columns(const struct ps_pq_reader *r,
		       const struct ps_delta_file *f,
		       const struct ps_pq_column *cols, size_t nc, int *at)
{
	size_t i, n = ps_pq_reader_ncols(r), data = 0;

	for (i = 0; i < n; i++)
		data += !is_part_col(f, ps_pq_reader_col(r, i)->name);
	if (data != nc)
		return 0;
	for (i = 0; i < nc; i++) {
		const struct ps_pq_column *y;

		if ((at[i] = ps_pq_reader_find(r, cols[i].name)) < 0)
			return 0;
		y = ps_pq_reader_col(r, (size_t)at[i]);
		if (y->type != cols[i].type || y->nullable != cols[i].nullable)
			return 0;
	}
	return 1;
}

/*
 * Rewrite files[0..n-1] (one partition) as dir/<new>, adding the actions
 * to c.  The new file holds the columns of the first file but the
 * partition columns (a file of an older writer may hold them: Delta
 * readers take their values from the log).  Returns 0, 1 when the files'
 * schemas differ (skipped), or -1.
 */
static int compact_group(const char *dir, struct ps_delta_file **files,
			 size_t n, int64_t now_ms, struct ps_delta_commit *c,
			 struct ps_delta_maint *m, struct ps_error *e)
{
	struct ps_pq_reader **rd = ps_xcalloc(n, sizeof(*rd));
	struct ps_pq_column *cols = NULL;
	struct ps_pq_writer *w = NULL;
	struct ps_buf rel = PS_BUF_INIT;
	char uuid[37], *full = NULL;
	const char *slash;
	size_t i, nc = 0;
	int rc = -1, k, *at = NULL;

	for (i = 0; i < n; i++) {
		char *p = ps_path_join(dir, files[i]->path);

		rd[i] = ps_pq_reader_open(p, e);
		free(p);
		if (!rd[i]) {
			/* a file we cannot decode (another writer's codec):
			 * leave the partition as it is */
			if (e->code == PS_EX_DATAERR)
				rc = 1;
			goto out;
		}
	}
	cols = ps_xcalloc(ps_pq_reader_ncols(rd[0]) + 1, sizeof(*cols));
	for (i = 0; i < ps_pq_reader_ncols(rd[0]); i++)
		if (!is_part_col(files[0], ps_pq_reader_col(rd[0], i)->name))
			cols[nc++] = *ps_pq_reader_col(rd[0], i);
	at = ps_xcalloc(n * (nc + 1), sizeof(*at));
	for (i = 0; i < n; i++)
		if (!map_columns(rd[i], files[i], cols, nc, at + i * (nc + 1))) {
			ps_error_set(e, PS_EX_DATAERR, "%s: another schema",
				     files[i]->path);
			rc = 1;
			goto out;
		}
	make_uuid(uuid);
	slash = strrchr(files[0]->path, '/');
	if (slash)
		ps_buf_add(&rel, files[0]->path,
			   (size_t)(slash - files[0]->path) + 1);
	ps_buf_addf(&rel, "part-compacted-%s.parquet", uuid);
	full = ps_path_join(dir, rel.data);
	if (!(w = ps_pq_open(full, cols, nc, NULL, e)))
		goto out;
	for (i = 0; i < n; i++) {
		while ((k = ps_pq_next(rd[i], e)) == 1)
			if (copy_row(rd[i], w, at + i * (nc + 1), nc, e))
				goto out;
		if (k < 0) {
			if (e->code == PS_EX_DATAERR)
				rc = 1;	/* undecodable: leave it */
			goto out;
		}
	}
	rc = ps_pq_close(w, e);
	w = NULL;
	if (rc)
		goto out;
	rc = ps_delta_commit_add_file(c, dir, rel.data,
				      (const char *const *)files[0]->pv_keys,
				      (const char *const *)files[0]->pv_vals,
				      files[0]->npv, 0, e);
	if (rc)
		goto out;
	for (i = 0; i < n; i++) {
		ps_delta_commit_remove(c, files[i], now_ms, 0);
		m->files_in++;
		m->bytes_in += files[i]->size;
	}
	m->files_out++;
	m->bytes_out += c->adds[c->nadds - 1].size;
out:
	ps_pq_abort(w);
	for (i = 0; i < n; i++)
		ps_pq_reader_free(rd[i]);
	free(rd);
	free(cols);
	free(at);
	free(full);
	ps_buf_release(&rel);
	return rc;
}

int ps_delta_compact(const char *dir, int64_t small_bytes, int64_t now_ms,
		     struct ps_delta_maint *m, struct ps_error *e)
{
	struct ps_delta_snapshot s = PS_DELTA_SNAPSHOT_INIT;
	struct ps_delta_commit *c = NULL;
	struct ps_delta_file **grp = NULL;
	char *done = NULL;
	size_t i, j, n;
	int rc = 0;

	memset(m, 0, sizeof(*m));
	m->version = -1;
	if (ps_delta_snapshot_load(dir, -1, &s, e))
		return -1;
	if (s.version < 0) {
		ps_delta_snapshot_release(&s);
		return ps_error_set(e, PS_EX_NOINPUT, "delta: %s: no table",
				    dir);
	}
	if (s.min_writer > 2) {
		ps_delta_snapshot_release(&s);
		return BAD(e, "%s: unsupported protocol (writer version %d)",
			   dir, s.min_writer);
	}
	c = ps_delta_commit_new("OPTIMIZE", s.version);
	grp = ps_xcalloc(s.nfiles ? s.nfiles : 1, sizeof(*grp));
	done = ps_xcalloc(s.nfiles ? s.nfiles : 1, 1);
	for (i = 0; i < s.nfiles && rc >= 0; i++) {
		if (done[i] || s.files[i].size >= small_bytes)
			continue;
		n = 0;
		for (j = i; j < s.nfiles; j++) {
			if (!done[j] && s.files[j].size < small_bytes &&
			    same_partition(&s.files[i], &s.files[j])) {
				grp[n++] = &s.files[j];
				done[j] = 1;
			}
		}
		if (n >= 2)
			rc = compact_group(dir, grp, n, now_ms, c, m, e);
		if (rc > 0) {
			ps_log(PS_WARN, "delta compaction skipped a partition "
			       "(files of other schemas or codecs)",
			       PS_S("table", dir), PS_S("file", grp[0]->path),
			       PS_S("why", e->msg));
			rc = 0;
		}
	}
	if (rc >= 0 && c->nadds &&
	    ps_delta_commit_write(dir, c, now_ms,
				  PS_DELTA_CHECKPOINT_INTERVAL, &m->version,
				  e))
		rc = -1;
	ps_delta_commit_free(c);
	ps_delta_snapshot_release(&s);
	free(grp);
	free(done);
	return rc < 0 ? -1 : 0;
}

struct vacuum {
	const char *root;
	size_t rootlen;
	struct ps_delta_snapshot *s;
	int64_t cutoff_ms;
	int dry_run;
	ps_delta_each_fn each;
	void *ctx;
	struct ps_delta_maint *m;
	struct ps_error *e;
};

static int referenced(const struct ps_delta_snapshot *s, const char *rel)
{
	size_t lo = 0, hi = s->nfiles;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(s->files[mid].path, rel);

		if (!c)
			return 1;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* Walk path (relative part rel) deleting what vacuum may.  0 or -1. */
static int vacuum_dir(struct vacuum *v, const char *path, int depth)
{
	struct dirent *de;
	DIR *d = opendir(path);
	int rc = 0;

	if (!d)
		return ps_error_errno(v->e, PS_EX_IOERR, errno, "cannot list "
				      "%s", path);
	while (!rc && (de = readdir(d))) {
		char *p;
		struct stat st;

		if (de->d_name[0] == '.' || de->d_name[0] == '_')
			continue;	/* ., .., temporaries, _delta_log */
		p = ps_path_join(path, de->d_name);
		if (lstat(p, &st) < 0) {
			free(p);
			continue;	/* gone meanwhile */
		}
		if (S_ISDIR(st.st_mode)) {
			if (depth < 16)
				rc = vacuum_dir(v, p, depth + 1);
		} else if (S_ISREG(st.st_mode) &&
			   (int64_t)st.st_mtim.tv_sec * 1000 +
			   st.st_mtim.tv_nsec / 1000000 < v->cutoff_ms &&
			   !referenced(v->s, p + v->rootlen + 1)) {
			if (v->dry_run || unlink(p) == 0 || errno == ENOENT) {
				v->m->deleted++;
				v->m->bytes_deleted += (int64_t)st.st_size;
				if (v->each)
					v->each(v->ctx, p + v->rootlen + 1,
						(int64_t)st.st_size);
			} else {
				rc = ps_error_errno(v->e, PS_EX_IOERR, errno,
						    "cannot delete %s", p);
			}
		}
		free(p);
	}
	closedir(d);
	return rc;
}

int ps_delta_vacuum(const char *dir, int64_t retention_ms, int64_t now_ms,
		    int dry_run, ps_delta_each_fn each, void *ctx,
		    struct ps_delta_maint *m, struct ps_error *e)
{
	struct ps_delta_snapshot s = PS_DELTA_SNAPSHOT_INIT;
	struct vacuum v;
	size_t i;
	int rc;

	memset(m, 0, sizeof(*m));
	m->version = -1;
	if (retention_ms < 0)
		return ps_error_set(e, PS_EX_USAGE, "delta: negative "
				    "retention");
	if (ps_delta_snapshot_load(dir, -1, &s, e))
		return -1;
	if (s.version < 0) {
		ps_delta_snapshot_release(&s);
		return ps_error_set(e, PS_EX_NOINPUT, "delta: %s: no table",
				    dir);
	}
	/* A file removed within the retention stays even when its own
	 * mtime is old: readers of the versions before may still use it. */
	v.cutoff_ms = now_ms - retention_ms;
	for (i = 0; i < s.nremoved; i++) {
		if (s.removed[i].mtime_ms >= v.cutoff_ms) {
			struct ps_delta_file *f = &s.removed[i];

			s.files = ps_xrealloc(s.files, (s.nfiles + 1) *
					      sizeof(*s.files));
			file_copy(&s.files[s.nfiles++], f);
		}
	}
	if (s.nfiles)
		qsort(s.files, s.nfiles, sizeof(*s.files), cmp_file);
	v.root = dir;
	v.rootlen = strlen(dir);
	while (v.rootlen > 1 && dir[v.rootlen - 1] == '/')
		v.rootlen--;
	v.s = &s;
	v.dry_run = dry_run;
	v.each = each;
	v.ctx = ctx;
	v.m = m;
	v.e = e;
	rc = vacuum_dir(&v, dir, 0);
	ps_delta_snapshot_release(&s);
	return rc;
}

/* ---- log cleanup (PROTOCOL.md, "Metadata Cleanup") ---- */

/* Modification time of a log file in ms, or -1. */
static int64_t log_mtime(const char *dir, int64_t v, const char *suffix)
{
	char *p = log_path(dir, v, suffix);
	struct stat st;
	int64_t ms = -1;

	if (stat(p, &st) == 0)
		ms = (int64_t)st.st_mtim.tv_sec * 1000 +
		     st.st_mtim.tv_nsec / 1000000;
	free(p);
	return ms;
}

int ps_delta_log_cleanup(const char *dir, int64_t retention_ms,
			 int64_t now_ms, int dry_run,
			 struct ps_delta_maint *m, struct ps_error *e)
{
	struct listing l;
	char *ld;
	DIR *d;
	struct dirent *de;
	int64_t cutoff, commit = -1, prev = INT64_MIN, keep = -1;
	size_t i;
	int rc = 0;

	memset(m, 0, sizeof(*m));
	m->version = -1;
	if (retention_ms < 0)
		return ps_error_set(e, PS_EX_USAGE, "delta: negative log "
				    "retention");
	if (list_log(dir, &l, e))
		return -1;
	if (!l.ncommits) {
		listing_release(&l);
		return ps_error_set(e, PS_EX_NOINPUT, "delta: %s: no table",
				    dir);
	}
	/* midnight UTC of the day the retention reaches back to */
	cutoff = now_ms - retention_ms;
	cutoff -= ((cutoff % 86400000) + 86400000) % 86400000;
	/* The newest commit not newer than the cutoff, by modification
	 * time made monotonic (a commit is never older than the one
	 * before it): every commit up to it is expired. */
	for (i = 0; i < l.ncommits; i++) {
		int64_t t = log_mtime(dir, l.commits[i], ".json");

		if (t <= prev)
			t = prev + 1;
		prev = t;
		if (t > cutoff)
			break;
		commit = l.commits[i];
	}
	/* The newest checkpoint not newer than that commit: it and what
	 * follows stay, so every version from it on can be read, and the
	 * latest checkpoint is never touched. */
	for (i = l.ncheckpoints; commit >= 0 && i-- > 0;)
		if (l.checkpoints[i] <= commit) {
			keep = l.checkpoints[i];
			break;
		}
	listing_release(&l);
	m->version = keep;
	if (keep <= 0)
		return 0;
	ld = log_path(dir, -1, "");
	d = opendir(ld);
	if (!d) {
		rc = ps_error_errno(e, PS_EX_IOERR, errno, "cannot list %s",
				    ld);
		free(ld);
		return rc;
	}
	/* commits, checkpoints (single or multi-part) and checksum files
	 * of the versions before it */
	while (!rc && (de = readdir(d))) {
		const char *n = de->d_name;
		size_t nl = strlen(n);
		int64_t v;
		struct stat st;
		char *p;

		if (nl <= 20)
			continue;
		if ((v = name_version(n, n + 20)) < 0 || v >= keep ||
		    (strcmp(n + 20, ".json") && strcmp(n + 20, ".crc") &&
		     (strncmp(n + 20, ".checkpoint.", 12) || nl < 28 ||
		      strcmp(n + nl - 8, ".parquet"))))
			continue;
		p = ps_path_join(ld, n);
		if (lstat(p, &st) == 0 && S_ISREG(st.st_mode)) {
			if (dry_run || unlink(p) == 0 || errno == ENOENT) {
				m->deleted++;
				m->bytes_deleted += (int64_t)st.st_size;
			} else {
				rc = ps_error_errno(e, PS_EX_IOERR, errno,
						    "cannot delete %s", p);
			}
		}
		free(p);
	}
	closedir(d);
	if (!rc && !dry_run && m->deleted)
		rc = ps_fsync_dir(ld, e);
	free(ld);
	return rc;
}

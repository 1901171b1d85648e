/* upload.c - see upload.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base64.h"
#include "buf.h"
#include "crypto.h"
#include "delta.h"
#include "fsutil.h"
#include "json.h"
#include "lake.h"
#include "log.h"
#include "ndjson.h"
#include "pstime.h"
#include "seal.h"
#include "upload.h"
#include "upload_delta.h"
#include "banned.h"

#define STATE_MAX ((size_t)512 << 20)
#define SAVE_EVERY 64
#define READ_CHUNK ((size_t)1 << 20)

/* --- names and order ------------------------------------------------- */

int ps_upload_committed_name(const char *rel)
{
	const char *p = rel;

	if (!*rel || *rel == '/')
		return 0;
	if (!strncmp(rel, "_state", 6) && (rel[6] == '/' || !rel[6]))
		return 0;
	while (*p) {
		size_t n = strcspn(p, "/");

		if (n == 0 || p[0] == '.')
			return 0;
		p += n;
		if (*p == '/') {
			p++;
			if (!*p)
				return 0;
		}
	}
	return 1;
}

int ps_upload_phase(const char *rel)
{
	int depth = 1, marker = rel[0] == '_';
	const char *p;

	for (p = rel; *p; p++)
		if (*p == '/') {
			depth++;
			if (p[1] == '_')
				marker = 1;
		}
	if (depth > 999)
		depth = 999;
	return marker * 1000 + (999 - depth);
}

static int has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);

	return n >= m && !strcmp(s + n - m, suf);
}

const char *ps_upload_content_type(const char *rel)
{
	if (has_suffix(rel, ".parquet"))
		return "application/vnd.apache.parquet";
	if (has_suffix(rel, ".gz"))
		return "application/gzip";
	if (has_suffix(rel, ".zst"))
		return "application/zstd";
	if (has_suffix(rel, ".ndjson") || has_suffix(rel, ".jsonl"))
		return "application/x-ndjson";
	if (has_suffix(rel, ".json"))
		return "application/json";
	if (has_suffix(rel, ".csv"))
		return "text/csv";
	return "application/octet-stream";
}

/* --- state ----------------------------------------------------------- */

struct sent {
	char *path;
	int64_t size;
	int64_t mtime;		/* nanoseconds */
	unsigned char md5[PS_MD5_LEN];
	int seen;		/* listed in the current round */
};

struct state {
	char *file;
	char *target;
	struct sent *v;
	size_t n, cap, nsorted;
	int since_save;
	double saved_at;	/* ps_mono() of the last save */
};

static int sent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct sent *)a)->path,
		      ((const struct sent *)b)->path);
}

static void state_sort(struct state *s)
{
	if (s->n > 1)
		qsort(s->v, s->n, sizeof(*s->v), sent_cmp);
	s->nsorted = s->n;
}

/* The entry for path, or -1. */
static long state_find(const struct state *s, const char *path)
{
	struct sent key = { .path = (char *)path };
	struct sent *hit;
	size_t i;

	hit = s->nsorted ? bsearch(&key, s->v, s->nsorted, sizeof(*s->v),
				   sent_cmp) : NULL;
	if (hit)
		return (long)(hit - s->v);
	for (i = s->nsorted; i < s->n; i++)
		if (!strcmp(s->v[i].path, path))
			return (long)i;
	return -1;
}

static long state_add(struct state *s, const char *path)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->v = ps_xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	memset(&s->v[s->n], 0, sizeof(s->v[s->n]));
	s->v[s->n].path = ps_xstrdup(path);
	return (long)s->n++;
}

static void state_free(struct state *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->v[i].path);
	free(s->v);
	free(s->file);
	free(s->target);
	memset(s, 0, sizeof(*s));
}

static int json_i64(yajl_val v, int64_t *out)
{
	if (!v || !YAJL_IS_INTEGER(v))
		return -1;
	*out = YAJL_GET_INTEGER(v);
	return 0;
}

static int state_load(struct state *s, struct ps_error *e)
{
	struct ps_buf b = PS_BUF_INIT, md5 = PS_BUF_INIT;
	char why[128];
	yajl_val root, files;
	size_t i;
	int rc = ps_seal_read(s->file, STATE_MAX, PS_SEAL_JSON, &b, e);

	if (rc < 0 && e && e->code == PS_EX_CONFIG) {
		char msg[sizeof(e->msg)];

		snprintf(msg, sizeof(msg), "%s", e->msg);
		return ps_error_set(e, 78, "upload state %s: move it away to "
				    "upload everything again", msg);
	}
	if (rc)
		return rc < 0 ? -1 : 0;
	root = ps_json_parse(b.data, b.len, why, sizeof(why));
	ps_buf_release(&b);
	files = root ? ps_json_get(root, "files") : NULL;
	if (!files || !YAJL_IS_OBJECT(files)) {
		yajl_tree_free(root);
		return ps_error_set(e, 78, "upload state %s is damaged (%.*s): "
				    "move it away to upload everything again",
				    s->file,
				    root ? 15 : (int)strcspn(why, " :"),
				    root ? "no files object" : why);
	}
	for (i = 0; i < files->u.object.len; i++) {
		yajl_val f = files->u.object.values[i];
		yajl_val m = ps_json_get(f, "md5");
		int64_t size, mtime;
		long k;

		ps_buf_reset(&md5);
		if (json_i64(ps_json_get(f, "size"), &size) ||
		    json_i64(ps_json_get(f, "mtime"), &mtime) || !m ||
		    !YAJL_IS_STRING(m) ||
		    ps_base64_decode(&md5, m->u.string, strlen(m->u.string)) ||
		    md5.len != PS_MD5_LEN)
			continue;	/* an entry we cannot use: resend */
		k = state_add(s, files->u.object.keys[i]);
		s->v[k].size = size;
		s->v[k].mtime = mtime;
		memcpy(s->v[k].md5, md5.data, PS_MD5_LEN);
	}
	ps_buf_release(&md5);
	yajl_tree_free(root);
	state_sort(s);
	return 0;
}

static int state_save(struct state *s, struct ps_error *e)
{
	struct ps_buf b = PS_BUF_INIT;
	size_t i;
	int first = 1, rc;

	ps_buf_adds(&b, "{\"target\":");
	ps_json_add_str(&b, s->target, strlen(s->target));
	ps_buf_adds(&b, ",\n\"files\":{");
	for (i = 0; i < s->n; i++) {
		if (!first)
			ps_buf_addc(&b, ',');
		first = 0;
		ps_buf_addc(&b, '\n');
		ps_json_add_str(&b, s->v[i].path, strlen(s->v[i].path));
		ps_buf_adds(&b, ":{\"size\":");
		ps_buf_add_i64(&b, s->v[i].size);
		ps_buf_adds(&b, ",\"mtime\":");
		ps_buf_add_i64(&b, s->v[i].mtime);
		ps_buf_adds(&b, ",\"md5\":\"");
		ps_base64_encode(&b, s->v[i].md5, PS_MD5_LEN);
		ps_buf_adds(&b, "\"}");
	}
	ps_buf_adds(&b, "\n}}\n");
	rc = ps_seal_write(s->file, b.data, b.len, PS_SEAL_JSON, e);
	ps_buf_release(&b);
	s->since_save = 0;
	s->saved_at = ps_mono();
	return rc;
}

static int state_open(struct state *s, const char *lake,
		      const struct ps_azblob *az, struct ps_error *e)
{
	struct ps_buf d = PS_BUF_INIT, name = PS_BUF_INIT;
	unsigned char h[PS_SHA256_LEN];
	char *dir;

	memset(s, 0, sizeof(*s));
	ps_azblob_describe(az, &d);
	ps_crypto_sha256(d.data, d.len, h);
	s->target = ps_buf_detach(&d, NULL);
	ps_buf_adds(&name, "_state/ps-upload/");
	ps_hex_encode(&name, h, 8);
	ps_buf_adds(&name, ".json");
	s->file = ps_path_join(lake, name.data);
	ps_buf_release(&name);
	dir = ps_path_join(lake, "_state/ps-upload");
	ps_remove_stale_temps(dir);
	free(dir);
	return state_load(s, e);
}

/* --- the files of a round -------------------------------------------- */

enum fstate { F_PENDING, F_SKIP, F_DONE };

struct file {
	char *rel;
	char *abs;
	char *blob;
	int phase;
	int64_t size;
	int64_t mtime;
	unsigned char md5[PS_MD5_LEN];
	unsigned char *bmd5;	/* per-block MD5s */
	unsigned nblocks;	/* 0: one Put Blob */
	unsigned next_block;	/* next block to start */
	int pending;		/* requests in flight */
	int started_all;	/* every data request was started */
	int fd;
	int failed;
	int exists;		/* --verify: the blob exists, same MD5 */
	int64_t seq;		/* order within the phase (Delta logs) */
	int if_absent;		/* put-if-absent (a Delta log version) */
	int same_remote;	/* put-if-absent found the same bytes */
	enum fstate st;
	struct ps_error err;
};

struct files {
	struct file *v;
	size_t n, cap;
};

static void files_add(struct files *fs, const char *rel, const char *abs)
{
	struct file *f;

	if (fs->n == fs->cap) {
		fs->cap = fs->cap ? fs->cap * 2 : 256;
		fs->v = ps_xrealloc(fs->v, fs->cap * sizeof(*fs->v));
	}
	f = &fs->v[fs->n++];
	memset(f, 0, sizeof(*f));
	f->rel = ps_xstrdup(rel);
	f->abs = ps_xstrdup(abs);
	f->fd = -1;
	f->phase = ps_upload_phase(rel);
}

static void files_free(struct files *fs)
{
	size_t i;

	for (i = 0; i < fs->n; i++) {
		free(fs->v[i].rel);
		free(fs->v[i].abs);
		free(fs->v[i].blob);
		free(fs->v[i].bmd5);
		if (fs->v[i].fd >= 0)
			close(fs->v[i].fd);
	}
	free(fs->v);
	memset(fs, 0, sizeof(*fs));
}

static int file_cmp(const void *a, const void *b)
{
	const struct file *x = a, *y = b;

	if (x->phase != y->phase)
		return x->phase < y->phase ? -1 : 1;
	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return strcmp(x->rel, y->rel);
}

static int rel_cmp(const void *a, const void *b)
{
	return strcmp(((const struct file *)a)->rel,
		      ((const struct file *)b)->rel);
}

static int scan_dir(struct files *fs, const char *abs, const char *rel,
		    struct ps_error *e)
{
	DIR *d = opendir(abs);
	struct dirent *de;
	int rc = 0;

	if (!d) {
		if (!*rel)
			return ps_error_errno(e, 66, errno, "cannot open lake "
					      "%s", abs);
		ps_log(PS_WARN, "cannot read a lake directory",
		       PS_S("dir", abs), PS_S("err", strerror(errno)));
		return 0;
	}
	while (!rc && (de = readdir(d))) {
		struct ps_buf r = PS_BUF_INIT;
		struct stat sb;
		char *a;

		if (de->d_name[0] == '.')
			continue;
		if (!*rel && !strcmp(de->d_name, "_state"))
			continue;
		ps_buf_adds(&r, rel);
		if (*rel)
			ps_buf_addc(&r, '/');
		ps_buf_adds(&r, de->d_name);
		a = ps_path_join(abs, de->d_name);
		if (lstat(a, &sb) == 0) {
			if (S_ISDIR(sb.st_mode))
				rc = scan_dir(fs, a, r.data, e);
			else if (S_ISREG(sb.st_mode))
				files_add(fs, r.data, a);
		}
		free(a);
		ps_buf_release(&r);
	}
	closedir(d);
	return rc;
}

/*
 * The lake-relative form of a listed path p, or NULL with *why set.  p
 * may be absolute, relative to the working directory, or relative to the
 * lake.
 */
static char *listed_rel(const char *lake, const char *lake_real,
			const char *p, const char **why)
{
	char *real = NULL, *j, *rel = NULL;
	size_t n = strlen(lake_real);

	*why = "no such file";
	if (p[0] == '/' || access(p, F_OK) == 0)
		real = realpath(p, NULL);
	if (real && !(strncmp(real, lake_real, n) == 0 && real[n] == '/')) {
		free(real);
		real = NULL;
		*why = "outside the lake";
	}
	if (!real && p[0] != '/') {
		j = ps_path_join(lake, p);
		real = realpath(j, NULL);
		free(j);
		if (real && !(strncmp(real, lake_real, n) == 0 &&
			      real[n] == '/')) {
			free(real);
			real = NULL;
			*why = "outside the lake";
		}
	}
	if (real) {
		rel = ps_xstrdup(real + n + 1);
		free(real);
		*why = "not a committed file (hidden, or under _state)";
		if (!ps_upload_committed_name(rel)) {
			free(rel);
			rel = NULL;
		}
	}
	return rel;
}

/* --- one round --------------------------------------------------------- */

struct round {
	const struct ps_upload_opts *o;
	struct ps_azblob *az;
	struct ps_http *http;
	struct ps_http_pool *pool;
	FILE *out;
	struct state *s;
	struct ps_upload_stats *st;
	struct files fs;
	size_t lo, hi;		/* the current phase: fs.v[lo..hi) */
	size_t next;		/* next file to start in the phase */
	int queued;		/* requests added and not yet done */
	int halt;		/* start nothing more */
	int heads;		/* the --verify pass (HEAD requests) */
	int phase_failed;
	struct ps_error first;	/* the failure that matters most */
	struct ps_error refused; /* the first listed path refused */
	int out_failed;
};

enum ukind { U_HEAD, U_BLOB, U_BLOCK, U_LIST, U_GET };

struct unit {
	struct ps_azblob_req req;
	struct ps_http_response rs;
	struct round *r;
	struct file *f;
	enum ukind kind;
};

static int rank(int code)
{
	return code == 78 ? 3 : code == 75 ? 2 : code ? 1 : 0;
}

static void note_failure(struct round *r, const struct ps_error *e)
{
	if (rank(e->code) > rank(r->first.code))
		r->first = *e;
	if (e->code == 78 || e->code == 75)
		r->halt = 1;
	r->phase_failed = 1;
}

static void emit(struct round *r, struct ps_buf *b)
{
	ps_buf_add(b, "}\n", 2);
	if (r->out_failed)
		return;
	if (fwrite(b->data, 1, b->len, r->out) != b->len ||
	    fflush(r->out) == EOF) {
		r->out_failed = 1;
		r->halt = 1;
	}
}

static void line_start(struct ps_buf *b, const struct file *f,
		       const char *status)
{
	ps_buf_adds(b, "{\"path\":");
	ps_json_add_str(b, f->rel, strlen(f->rel));
	if (f->blob) {
		ps_buf_adds(b, ",\"blob\":");
		ps_json_add_str(b, f->blob, strlen(f->blob));
	}
	ps_buf_adds(b, ",\"status\":\"");
	ps_buf_adds(b, status);
	ps_buf_addc(b, '"');
}

static void add_size_md5(struct ps_buf *b, const struct file *f)
{
	ps_buf_adds(b, ",\"bytes\":");
	ps_buf_add_i64(b, f->size);
	ps_buf_adds(b, ",\"md5\":\"");
	ps_base64_encode(b, f->md5, PS_MD5_LEN);
	ps_buf_addc(b, '"');
}

static void close_file(struct file *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}

static void remember(struct round *r, struct file *f)
{
	long k = state_find(r->s, f->rel);
	struct ps_error e = { 0 };

	if (k < 0)
		k = state_add(r->s, f->rel);
	r->s->v[k].size = f->size;
	r->s->v[k].mtime = f->mtime;
	r->s->v[k].seen = 1;
	memcpy(r->s->v[k].md5, f->md5, PS_MD5_LEN);
	/* Save now and then, so a killed run loses little; at most once a
	   second, as every save rewrites the whole state. */
	if (++r->s->since_save >= SAVE_EVERY &&
	    ps_mono() - r->s->saved_at >= 1.0 && state_save(r->s, &e))
		note_failure(r, &e);
}

static void report_fail(struct round *r, struct file *f,
			const struct ps_error *e)
{
	struct ps_buf b = PS_BUF_INIT;

	close_file(f);
	f->st = F_DONE;
	r->st->failed++;
	line_start(&b, f, "failed");
	ps_buf_adds(&b, ",\"reason\":");
	ps_json_add_str(&b, e->msg, strlen(e->msg));
	ps_buf_adds(&b, ",\"code\":");
	ps_buf_add_i64(&b, e->code);
	emit(r, &b);
	ps_buf_release(&b);
	ps_log(strncmp(e->msg, "not attempted", 13) ? PS_WARN : PS_DEBUG,
	       "upload failed", PS_S("path", f->rel), PS_S("err", e->msg));
}

static void report_skip(struct round *r, struct file *f, const char *why)
{
	struct ps_buf b = PS_BUF_INIT;

	f->st = F_DONE;
	r->st->skipped++;
	if (r->o->watch && r->st->rounds > 1 && !strcmp(why, "unchanged"))
		return;	/* --watch: each round reports what changed only */
	line_start(&b, f, "skipped");
	ps_buf_adds(&b, ",\"reason\":\"");
	ps_buf_adds(&b, why);
	ps_buf_addc(&b, '"');
	add_size_md5(&b, f);
	emit(r, &b);
	ps_buf_release(&b);
}

static void report_done(struct round *r, struct file *f)
{
	struct ps_buf b = PS_BUF_INIT;

	close_file(f);
	f->st = F_DONE;
	r->st->uploaded++;
	r->st->bytes += f->size;
	line_start(&b, f, "uploaded");
	add_size_md5(&b, f);
	ps_buf_adds(&b, ",\"blocks\":");
	ps_buf_add_i64(&b, f->nblocks);
	emit(r, &b);
	ps_buf_release(&b);
	remember(r, f);
}

/*
 * Hash the file: whole MD5 and, when it goes up in blocks, one MD5 per
 * block.  Fills size and mtime from the open file.  Returns 0 or -1.
 */
static int hash_file(struct round *r, struct file *f, struct ps_error *e)
{
	struct ps_hash *whole, *blk = NULL;
	int64_t bs = r->o->block_size, got = 0, in_block = 0;
	unsigned bi = 0;
	char *buf;
	int fd, rc = 0;
	struct stat sb;

	/* a file whose bytes the plan checked is read from that descriptor */
	fd = f->fd >= 0 ? dup(f->fd) : open(f->abs, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ps_error_errno(e, errno == ENOENT ? 66 : 74, errno,
				      "cannot open %s", f->rel);
	if (f->fd >= 0 && lseek(fd, 0, SEEK_SET) < 0) {
		rc = ps_error_errno(e, 74, errno, "cannot read %s", f->rel);
		close(fd);
		return rc;
	}
	if (fstat(fd, &sb)) {
		rc = ps_error_errno(e, 74, errno, "cannot stat %s", f->rel);
		close(fd);
		return rc;
	}
	f->size = sb.st_size;
	f->mtime = (int64_t)sb.st_mtim.tv_sec * 1000000000 +
		   sb.st_mtim.tv_nsec;
	f->nblocks = f->size > bs ? (unsigned)((f->size + bs - 1) / bs) : 0;
	if (f->if_absent && f->size > PS_AZBLOB_MAX_PUT) {
		close(fd);
		return ps_error_set(e, 65, "%s is larger than one Put Blob "
				    "(%lld bytes): a Delta log version cannot "
				    "be sent put-if-absent", f->rel,
				    (long long)PS_AZBLOB_MAX_PUT);
	}
	if (f->if_absent)
		f->nblocks = 0;	/* one conditional Put Blob */
	if (f->nblocks > PS_AZBLOB_MAX_BLOCKS) {
		close(fd);
		return ps_error_set(e, 78, "%s needs more than %d blocks: use "
				    "a larger --block-size", f->rel,
				    PS_AZBLOB_MAX_BLOCKS);
	}
	free(f->bmd5);
	f->bmd5 = f->nblocks ? ps_xmalloc((size_t)f->nblocks * 16) : NULL;
	whole = ps_hash_new(PS_HASH_MD5);
	if (f->nblocks)
		blk = ps_hash_new(PS_HASH_MD5);
	buf = ps_xmalloc(READ_CHUNK);
	for (;;) {
		ssize_t n = read(fd, buf, READ_CHUNK);
		ssize_t off = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = ps_error_errno(e, 74, errno, "cannot read %s",
					    f->rel);
			break;
		}
		if (n == 0)
			break;
		got += n;
		ps_hash_update(whole, buf, (size_t)n);
		while (blk && off < n) {
			int64_t take = bs - in_block;

			if (take > n - off)
				take = n - off;
			ps_hash_update(blk, buf + off, (size_t)take);
			off += (ssize_t)take;
			in_block += take;
			if (in_block == bs && bi < f->nblocks) {
				ps_hash_final(blk, f->bmd5 + 16 * bi++);
				in_block = 0;
			}
		}
	}
	if (!rc && blk && in_block && bi < f->nblocks)
		ps_hash_final(blk, f->bmd5 + 16 * bi++);
	if (!rc && (got != f->size || (blk && bi != f->nblocks)))
		rc = ps_error_set(e, 75, "%s changed while it was read",
				  f->rel);
	ps_hash_final(whole, f->md5);
	ps_hash_free(whole);
	ps_hash_free(blk);
	free(buf);
	close(fd);
	return rc;
}

static void file_error(struct round *r, struct file *f, struct ps_error *e)
{
	f->failed = 1;
	if (!f->err.code)
		f->err = *e;
	note_failure(r, e);
}

static void unit_done(void *ctx, const struct ps_http_request *rq,
		      struct ps_http_response *rs, int rc,
		      const struct ps_error *he);
static void feed(struct round *r);

static void add_unit(struct round *r, struct unit *u)
{
	u->r = r;
	u->rs = (struct ps_http_response)PS_HTTP_RESPONSE_INIT;
	u->f->pending++;
	r->queued++;
	ps_http_pool_add(r->pool, &u->req.rq, &u->rs, unit_done, u);
}

/* Called when a file has no request left in flight. */
static void file_settle(struct round *r, struct file *f)
{
	struct ps_error e = { 0 };
	struct unit *u;

	if (f->pending || !f->started_all || f->st == F_DONE)
		return;
	if (f->failed) {
		report_fail(r, f, &f->err);
		return;
	}
	if (f->same_remote) {
		close_file(f);
		report_skip(r, f, "same bytes in container");
		remember(r, f);
		return;
	}
	if (f->nblocks && f->next_block == f->nblocks) {
		/* Every block is in: commit them. */
		f->next_block++;
		u = ps_xcalloc(1, sizeof(*u));
		u->f = f;
		u->kind = U_LIST;
		if (ps_azblob_put_block_list(r->az, &u->req, f->blob,
					     f->nblocks,
					     ps_upload_content_type(f->rel),
					     f->md5, &e)) {
			free(u);
			file_error(r, f, &e);
			report_fail(r, f, &f->err);
			return;
		}
		add_unit(r, u);
		return;
	}
	report_done(r, f);
}

/* Ask for the blob f's put-if-absent found, to compare it (U_GET). */
static void exists_compare(struct round *r, struct file *f)
{
	struct ps_error e = { 0 };
	struct unit *g = ps_xcalloc(1, sizeof(*g));

	g->f = f;
	g->kind = U_GET;
	if (ps_azblob_get(r->az, &g->req, f->blob, &e)) {
		free(g);
		file_error(r, f, &e);
		return;
	}
	add_unit(r, g);
}

/* Does the blob (body) hold the bytes of f?  Else f fails (65). */
static void same_bytes(struct round *r, struct file *f,
		       const struct ps_buf *body)
{
	struct ps_buf b = PS_BUF_INIT;
	struct ps_error e = { 0 };

	if (ps_read_file(f->abs, &b, (size_t)PS_AZBLOB_MAX_PUT, &e) == 0 &&
	    b.len == body->len && !memcmp(b.data, body->data, b.len)) {
		f->same_remote = 1;
	} else if (!e.code) {
		ps_error_set(&e, 65, "%s exists in the container with other "
			     "bytes: the remote Delta table has another "
			     "version there (another writer, or another "
			     "lake); it is not overwritten, and no later "
			     "version is sent", f->blob);
		file_error(r, f, &e);
	} else {
		file_error(r, f, &e);
	}
	ps_buf_release(&b);
}

static void unit_done(void *ctx, const struct ps_http_request *rq,
		      struct ps_http_response *rs, int rc,
		      const struct ps_error *he)
{
	struct unit *u = ctx;
	struct round *r = u->r;
	struct file *f = u->f;
	struct ps_error e = { 0 };
	enum ukind u_kind;
	char what[64];

	(void)rq;
	r->queued--;
	f->pending--;
	snprintf(what, sizeof(what), "%s",
		 u->kind == U_HEAD ? "get blob properties" :
		 u->kind == U_BLOB ? "put blob" :
		 u->kind == U_BLOCK ? "put block" :
		 u->kind == U_GET ? "get blob" : "put block list");
	if (rc) {
		e = *he;
		if (e.code == 69)	/* cannot connect: try again later */
			e.code = 75;
		file_error(r, f, &e);
	} else if (u->kind == U_HEAD) {
		const char *m = ps_http_response_header(rs, "Content-MD5");
		struct ps_buf b = PS_BUF_INIT;

		if (rs->status == 404) {
			const char *c = ps_http_response_header(
				rs, "x-ms-error-code");

			if (c && !strcmp(c, "ContainerNotFound") &&
			    ps_azblob_check(rs, what, &e))
				file_error(r, f, &e);
		} else if (ps_azblob_check(rs, what, &e)) {
			file_error(r, f, &e);
		} else if (m) {
			ps_base64_encode(&b, f->md5, PS_MD5_LEN);
			f->exists = !strcmp(b.data, m);
			ps_buf_release(&b);
		}
	} else if (u->kind == U_BLOB && f->if_absent &&
		   (rs->status == 409 || rs->status == 412)) {
		/* The version exists there: the same bytes, or a diverged
		 * table. */
		exists_compare(r, f);
	} else if (u->kind == U_GET) {
		if (ps_azblob_check(rs, what, &e))
			file_error(r, f, &e);
		else
			same_bytes(r, f, &rs->body);
	} else if (ps_azblob_check(rs, what, &e)) {
		file_error(r, f, &e);
	}
	if (*r->o->stop)
		r->halt = 1;
	u_kind = u->kind;
	ps_azblob_req_release(&u->req);
	ps_http_response_release(&u->rs);
	free(u);
	if (r->halt && !f->started_all) {
		/* Its remaining blocks will not be started. */
		f->started_all = 1;
		if (!f->failed) {
			struct ps_error h = r->first.code ? r->first :
				(struct ps_error){ 75, "interrupted" };

			file_error(r, f, &h);
		}
	}
	if (u_kind == U_HEAD) {
		/* The --verify pass only looks; the upload pass sends. */
		if (f->failed && !f->pending)
			report_fail(r, f, &f->err);
	} else {
		file_settle(r, f);
	}
	feed(r);
}

/* Start the next request of the phase; returns 0 when there is none. */
static int start_next(struct round *r, int heads)
{
	struct ps_error e = { 0 };

	while (r->next < r->hi) {
		struct file *f = &r->fs.v[r->next];
		struct unit *u;
		int brc;

		if (f->st != F_PENDING || (!heads && f->exists) || f->failed) {
			r->next++;
			continue;
		}
		u = ps_xcalloc(1, sizeof(*u));
		u->f = f;
		if (heads) {
			u->kind = U_HEAD;
			brc = ps_azblob_head(r->az, &u->req, f->blob, &e);
			f->started_all = 1;
			r->next++;
		} else {
			if (f->fd < 0) {
				f->fd = open(f->abs, O_RDONLY | O_CLOEXEC);
				if (f->fd < 0) {
					free(u);
					ps_error_errno(&e, 74, errno,
						       "cannot open %s",
						       f->rel);
					f->started_all = 1;
					file_error(r, f, &e);
					r->next++;
					file_settle(r, f);
					continue;
				}
			}
			if (!f->nblocks) {
				u->kind = U_BLOB;
				brc = ps_azblob_put_blob(
					r->az, &u->req, f->blob,
					ps_upload_content_type(f->rel), f->fd,
					f->size, f->md5, f->if_absent, &e);
				f->started_all = 1;
				r->next++;
			} else {
				int64_t bs = r->o->block_size;
				int64_t off = (int64_t)f->next_block * bs;
				int64_t len = f->size - off < bs ?
					f->size - off : bs;

				u->kind = U_BLOCK;
				brc = ps_azblob_put_block(
					r->az, &u->req, f->blob,
					f->next_block, f->fd, off, len,
					f->bmd5 + 16 * f->next_block, &e);
				if (++f->next_block == f->nblocks) {
					f->started_all = 1;
					r->next++;
				}
			}
		}
		if (brc) {
			free(u);
			f->started_all = 1;
			file_error(r, f, &e);
			if (r->next < r->hi && &r->fs.v[r->next] == f)
				r->next++;
			file_settle(r, f);
			return 1;
		}
		add_unit(r, u);
		return 1;
	}
	return 0;
}

static void feed(struct round *r)
{
	int window = r->o->parallel * 2;

	while (!r->halt && !r->out_failed && r->queued < window)
		if (!start_next(r, r->heads))
			break;
}

/* Run the requests of fs.v[lo..hi); heads: the --verify pass. */
static int run_phase(struct round *r, int heads, struct ps_error *e)
{
	size_t i;
	int rc;

	r->heads = heads;
	r->next = r->lo;
	for (i = r->lo; i < r->hi; i++) {
		r->fs.v[i].started_all = 0;
		r->fs.v[i].next_block = 0;
	}
	feed(r);
	rc = ps_http_pool_run(r->pool, e);
	if (rc && e->code == 75)
		r->halt = 1;
	return rc && e->code != 75 ? -1 : 0;
}

static void not_attempted(struct round *r, struct file *f)
{
	struct ps_error e = { 0 };

	if (f->st == F_DONE)
		return;
	if (f->failed) {
		report_fail(r, f, &f->err);
		return;
	}
	if (r->o->stop && *r->o->stop)
		ps_error_set(&e, 75, "not attempted: interrupted");
	else if (r->first.code)
		ps_error_set(&e, r->first.code, "not attempted after an "
			     "earlier failure");
	else
		ps_error_set(&e, 75, "not attempted: an earlier phase "
			     "failed");
	report_fail(r, f, &e);
}

/*
 * Leave out the part files of commits not finished (lib/lake.h, what a
 * reader sees): they are uploaded by a later run, once committed.
 */
static int drop_uncommitted(struct round *r, struct ps_error *e)
{
	struct ps_lake_view *v = ps_lake_view_new(r->o->lake);
	size_t i, k = 0;
	int rc = 0;

	for (i = 0; i < r->fs.n; i++) {
		struct file *f = &r->fs.v[i];
		int vis = rc < 0 ? 1 : ps_lake_view_visible(v, f->rel, e);

		if (vis < 0)
			rc = -1;
		if (vis) {
			r->fs.v[k++] = *f;
			continue;
		}
		ps_log(PS_INFO, "not committed yet: left for a later run",
		       PS_S("file", f->rel));
		free(f->rel);
		free(f->abs);
		free(f->blob);
		free(f->bmd5);
		if (f->fd >= 0)
			close(f->fd);
	}
	r->fs.n = k;
	ps_lake_view_free(v);
	return rc;
}

static int was_sent(void *ctx, const char *rel)
{
	return state_find(ctx, rel) >= 0;
}

/*
 * Order the files of Delta tables (lib/upload_delta.h): data files that a
 * version references with the data, log versions one phase each in order
 * after everything else, and leave out what no version references yet.
 */
static int plan_delta(struct round *r, struct ps_error *e)
{
	struct ps_upload_delta *pl;
	char **rels;
	size_t i, k = 0;
	int rc;

	if (!r->fs.n)
		return 0;
	rels = ps_xcalloc(r->fs.n, sizeof(*rels));
	pl = ps_xcalloc(r->fs.n, sizeof(*pl));
	for (i = 0; i < r->fs.n; i++)
		rels[i] = r->fs.v[i].rel;
	rc = ps_upload_delta_plan(r->o->lake, rels, r->fs.n, was_sent, r->s,
				  pl, e);
	for (i = 0; !rc && i < r->fs.n; i++) {
		struct file *f = &r->fs.v[i];

		if (!pl[i].keep) {
			ps_log(PS_INFO, "no Delta version references it yet: "
			       "left for a later run", PS_S("file", f->rel));
			free(f->rel);
			free(f->abs);
			continue;
		}
		if (pl[i].is_log)
			f->phase = PS_UPLOAD_PHASE_DELTA_LOG;
		f->seq = pl[i].seq;
		f->if_absent = pl[i].if_absent;
		f->fd = pl[i].fd;
		r->fs.v[k++] = *f;
	}
	if (!rc)
		r->fs.n = k;
	free(rels);
	free(pl);
	return rc;
}

/* The Delta table (lake-relative directory) that holds rel, or NULL. */
static char *table_of(const char *lake, const char *rel)
{
	char *d = ps_xstrdup(rel), *slash;

	while ((slash = strrchr(d, '/'))) {
		char *abs;
		int yes;

		*slash = '\0';
		abs = ps_path_join(lake, d);
		yes = ps_delta_is_table(abs);
		free(abs);
		if (yes)
			return d;
	}
	free(d);
	return NULL;
}

static int gather(struct round *r, struct ps_error *e)
{
	const struct ps_upload_opts *o = r->o;
	struct ps_ndjson *rd;
	struct ps_line ln;
	char *lake_real, **tables = NULL;
	size_t ntables = 0, n, i;
	int rc;

	if (!o->list)
		return scan_dir(&r->fs, o->lake, "", e);
	lake_real = realpath(o->lake, NULL);
	if (!lake_real)
		return ps_error_errno(e, 66, errno, "cannot open lake %s",
				      o->lake);
	rd = ps_ndjson_new_fd(fileno(o->list), 0);
	while ((rc = ps_ndjson_next(rd, &ln, e)) == 1) {
		char *p = ps_xmemdup(ln.data, ln.len), *rel;
		const char *why;
		struct ps_buf b = PS_BUF_INIT;

		if (ln.len && p[0] == '{') {
			char err[64];
			yajl_val v = ps_json_parse(ln.data, ln.len, err,
						   sizeof(err));
			yajl_val pv = ps_json_get(v, "path");

			free(p);
			p = pv && YAJL_IS_STRING(pv) ?
				ps_xstrdup(pv->u.string) : ps_xstrdup("");
			yajl_tree_free(v);
		}
		if (!*p || memchr(ln.data, '\0', ln.len)) {
			free(p);
			continue;
		}
		rel = listed_rel(o->lake, lake_real, p, &why);
		if (!rel) {
			struct file bad = { .rel = p };

			line_start(&b, &bad, "failed");
			ps_buf_adds(&b, ",\"reason\":\"");
			ps_buf_adds(&b, why);
			ps_buf_adds(&b, "\",\"code\":66");
			emit(r, &b);
			ps_buf_release(&b);
			r->st->failed++;
			if (!r->refused.code)
				ps_error_set(&r->refused, 66, "%s: %s", p,
					     why);
		} else {
			char *abs = ps_path_join(lake_real, rel);

			files_add(&r->fs, rel, abs);
			free(abs);
			free(rel);
		}
		free(p);
	}
	ps_ndjson_free(rd);
	/* A listed file of a Delta table brings the whole table: its log
	 * versions go up in order, and what was sent is skipped. */
	n = r->fs.n;
	for (i = 0; rc >= 0 && i < n; i++) {
		char *t = table_of(lake_real, r->fs.v[i].rel), *abs;
		size_t k;

		for (k = 0; t && k < ntables; k++)
			if (!strcmp(tables[k], t))
				break;
		if (!t || k < ntables) {
			free(t);
			continue;
		}
		tables = ps_xrealloc(tables, (ntables + 1) * sizeof(*tables));
		tables[ntables++] = t;
		abs = ps_path_join(lake_real, t);
		if (scan_dir(&r->fs, abs, t, e))
			rc = -1;
		free(abs);
	}
	for (i = 0; i < ntables; i++)
		free(tables[i]);
	free(tables);
	free(lake_real);
	return rc < 0 ? -1 : 0;
}

static int one_round(struct round *r, struct ps_error *e)
{
	const struct ps_upload_opts *o = r->o;
	struct ps_buf b = PS_BUF_INIT;
	size_t i, j, keep;

	memset(&r->first, 0, sizeof(r->first));
	memset(&r->refused, 0, sizeof(r->refused));
	r->halt = 0;
	for (i = 0; i < r->s->n; i++)
		r->s->v[i].seen = 0;
	if (gather(r, e) || drop_uncommitted(r, e))
		return -1;
	/* (repeated paths first: a list may name a file twice, and a Delta
	 * table's files come again with the table) */
	if (r->fs.n > 1)
		qsort(r->fs.v, r->fs.n, sizeof(*r->fs.v), rel_cmp);
	for (i = j = 0; i < r->fs.n; i++) {
		if (j && !strcmp(r->fs.v[j - 1].rel, r->fs.v[i].rel)) {
			free(r->fs.v[i].rel);
			free(r->fs.v[i].abs);
			continue;
		}
		r->fs.v[j++] = r->fs.v[i];
	}
	r->fs.n = j;
	if (plan_delta(r, e))
		return -1;
	if (r->fs.n > 1)
		qsort(r->fs.v, r->fs.n, sizeof(*r->fs.v), file_cmp);

	/* Decide without the network: unchanged files are skipped. */
	for (i = 0; i < r->fs.n && !r->halt; i++) {
		struct file *f = &r->fs.v[i];
		struct ps_error fe = { 0 };
		struct stat sb;
		long k = state_find(r->s, f->rel);

		ps_buf_reset(&b);
		ps_azblob_blob_name(r->az, f->rel, &b);
		f->blob = ps_xstrdup(b.data);
		if (k >= 0)
			r->s->v[k].seen = 1;
		if (k >= 0 && !o->verify && stat(f->abs, &sb) == 0 &&
		    sb.st_size == r->s->v[k].size &&
		    (int64_t)sb.st_mtim.tv_sec * 1000000000 +
		    sb.st_mtim.tv_nsec == r->s->v[k].mtime) {
			f->size = sb.st_size;
			memcpy(f->md5, r->s->v[k].md5, PS_MD5_LEN);
			report_skip(r, f, "unchanged");
			continue;
		}
		if (hash_file(r, f, &fe)) {
			f->failed = 1;
			f->err = fe;
			note_failure(r, &fe);
			report_fail(r, f, &fe);
			continue;
		}
		if (k >= 0 && !o->verify && f->size == r->s->v[k].size &&
		    !memcmp(f->md5, r->s->v[k].md5, PS_MD5_LEN)) {
			r->s->v[k].mtime = f->mtime;
			r->s->since_save++;
			report_skip(r, f, "same md5");
			continue;
		}
		if (o->dry_run) {
			struct ps_buf l = PS_BUF_INIT;

			f->st = F_DONE;
			line_start(&l, f, "would_upload");
			add_size_md5(&l, f);
			ps_buf_adds(&l, ",\"blocks\":");
			ps_buf_add_i64(&l, f->nblocks);
			emit(r, &l);
			ps_buf_release(&l);
		}
	}
	ps_buf_release(&b);
	r->phase_failed = r->first.code != 0;

	/* Phase by phase, with the network. */
	for (i = 0; i < r->fs.n && !o->dry_run;) {
		for (j = i; j < r->fs.n && r->fs.v[j].phase ==
		     r->fs.v[i].phase && r->fs.v[j].seq == r->fs.v[i].seq; j++)
			;
		r->lo = i;
		r->hi = j;
		if (!r->halt && !r->phase_failed) {
			if (o->verify) {
				if (run_phase(r, 1, e))
					return -1;
				for (keep = i; keep < j; keep++) {
					struct file *f = &r->fs.v[keep];

					if (f->st == F_PENDING && f->exists &&
					    !f->failed) {
						report_skip(r, f,
							    "same md5 in "
							    "container");
						remember(r, f);
					}
				}
			}
			if (!r->halt && run_phase(r, 0, e))
				return -1;
		}
		for (keep = i; keep < j; keep++)
			not_attempted(r, &r->fs.v[keep]);
		i = j;
	}

	if (!o->dry_run && !r->halt && !r->phase_failed && !o->list) {
		/* Forget files that are no longer in the lake. */
		for (i = j = 0; i < r->s->n; i++) {
			if (!r->s->v[i].seen) {
				free(r->s->v[i].path);
				continue;
			}
			r->s->v[j++] = r->s->v[i];
		}
		r->s->n = j;
	}
	state_sort(r->s);
	if (!o->dry_run && state_save(r->s, e))
		return -1;
	if (!r->first.code)
		r->first = r->refused;
	if (r->out_failed)
		return ps_error_set(e, 74, "cannot write the report");
	return 0;
}

static void nap(const struct ps_upload_opts *o)
{
	double until = ps_mono() + o->interval;

	while (!*o->stop && ps_mono() < until) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };

		nanosleep(&ts, NULL);
	}
}

static int create_container(struct ps_azblob *az, struct ps_http *http,
			    struct ps_error *e)
{
	struct ps_azblob_req rq = PS_AZBLOB_REQ_INIT;
	struct ps_http_response rs = PS_HTTP_RESPONSE_INIT;
	int rc;

	if (ps_azblob_create_container(az, &rq, e))
		return -1;
	rc = ps_http_do(http, &rq.rq, &rs, e);
	if (rc && e->code == 69)
		e->code = 75;
	if (!rc && rs.status != 409 &&
	    ps_azblob_check(&rs, "create container", e))
		rc = -1;
	if (!rc)
		ps_log(PS_INFO, rs.status == 409 ? "container exists" :
		       "container created", PS_S("container",
						 ps_azblob_container(az)));
	ps_azblob_req_release(&rq);
	ps_http_response_release(&rs);
	return rc;
}

int ps_upload_run(const struct ps_upload_opts *o, struct ps_azblob *az,
		  struct ps_http *http, FILE *out, struct ps_upload_stats *st,
		  struct ps_error *e)
{
	static volatile int never;
	struct ps_upload_opts oo = *o;
	struct ps_upload_stats dummy = { 0 };
	struct state s;
	struct round r;
	int rc = 0;

	if (!oo.stop)
		oo.stop = &never;
	if (!st)
		st = &dummy;
	memset(st, 0, sizeof(*st));
	if (!oo.lake)
		return ps_error_set(e, 64, "no lake: give -L DIR or PS_LAKE");
	if (oo.parallel < 1 || oo.block_size < 1)
		return ps_error_set(e, 64, "bad parallel or block size");
	if (state_open(&s, oo.lake, az, e)) {
		state_free(&s);
		return -1;
	}
	if (oo.create_container && !oo.dry_run &&
	    create_container(az, http, e)) {
		state_free(&s);
		return -1;
	}
	memset(&r, 0, sizeof(r));
	r.o = &oo;
	r.az = az;
	r.http = http;
	r.out = out;
	r.s = &s;
	r.st = st;
	r.pool = ps_http_pool_new(http, oo.parallel);
	for (;;) {
		struct ps_error re = { 0 };
		double t0 = ps_mono();

		st->rounds++;
		rc = one_round(&r, &re);
		files_free(&r.fs);
		if (rc) {
			*e = re;
			break;
		}
		if (r.first.code && !*oo.stop) {
			*e = r.first;
			rc = -1;
		}
		ps_log(oo.watch ? PS_DEBUG : PS_INFO, "upload round done",
		       PS_I("uploaded", st->uploaded),
		       PS_I("skipped", st->skipped),
		       PS_I("failed", st->failed), PS_I("bytes", st->bytes));
		ps_log(PS_DEBUG, "upload round time",
		       PS_D("seconds", ps_mono() - t0));
		if (!oo.watch || *oo.stop || r.out_failed)
			break;
		if (rc && e->code == 78)
			break;
		if (rc)
			ps_log(PS_WARN, "upload round failed, will retry",
			       PS_S("err", e->msg));
		rc = 0;
		nap(&oo);
		if (*oo.stop)
			break;
	}
	ps_http_pool_free(r.pool);
	state_free(&s);
	return rc;
}

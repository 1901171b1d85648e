/* fsutil.c - see fsutil.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "banned.h"

static atomic_ullong bytes_written, fsyncs, dirs_made;

unsigned long long ps_fs_bytes_written(void)
{
	return atomic_load(&bytes_written);
}

unsigned long long ps_fs_fsyncs(void)
{
	return atomic_load(&fsyncs);
}

unsigned long long ps_fs_dirs_made(void)
{
	return atomic_load(&dirs_made);
}

/* Every write failure (ENOSPC, EDQUOT, EFBIG, EIO...) is an I/O error. */
static int write_errno_code(int err)
{
	(void)err;
	return PS_EX_IOERR;
}

/* mkdir -p; with durable, the parent of every directory made is fsynced
 * (the first made's parent, then each made but the last). */
static int mkdir_p(const char *dir, mode_t mode, int durable,
		   struct ps_error *e)
{
	char *p, *s, *first = NULL;
	int rc = 0;

	if (!*dir)
		return ps_error_errno(e, PS_EX_CANTCREAT, ENOENT,
				      "cannot create directory ''");
	p = ps_xstrdup(dir);
	for (s = p + 1; ; s++) {
		char c = *s;
		struct stat st;

		if (c != '/' && c != '\0')
			continue;
		*s = '\0';
		if (mkdir(p, mode) == 0) {
			atomic_fetch_add(&dirs_made, 1);
			if (!first)
				first = s;
		} else {
			int err = errno;

			/* An existing file is not a directory. */
			if (err == EEXIST && stat(p, &st) == 0 &&
			    !S_ISDIR(st.st_mode))
				err = ENOTDIR;
			if (err != EEXIST) {
				rc = ps_error_errno(e, PS_EX_CANTCREAT, err,
					"cannot create directory %s", p);
				break;
			}
		}
		*s = c;
		if (!c)
			break;
	}
	if (rc == 0 && durable && first) {
		/* p is whole again: the prefixes that end at each slash from
		 * the one before the first directory made name its parent
		 * and the others made but the last ("." for a relative
		 * path's first, "/" for the root) */
		char *cut = first - 1;

		while (cut > p && *cut != '/')
			cut--;
		if (*cut != '/') {
			rc = ps_fsync_dir(".", e);
			cut = strchr(cut, '/');
		}
		while (rc == 0 && cut) {
			*cut = '\0';
			rc = ps_fsync_dir(cut == p ? "/" : p, e);
			*cut = '/';
			cut = strchr(cut + 1, '/');
		}
	}
	free(p);
	return rc;
}

int ps_mkdir_p(const char *dir, mode_t mode, struct ps_error *e)
{
	return mkdir_p(dir, mode, 0, e);
}

int ps_mkdir_durable(const char *dir, mode_t mode, struct ps_error *e)
{
	return mkdir_p(dir, mode, 1, e);
}

int ps_fsync_dir(const char *dir, struct ps_error *e)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return ps_error_errno(e, PS_EX_IOERR, errno,
				      "cannot open directory %s", dir);
	atomic_fetch_add(&fsyncs, 1);
	if (fsync(fd) < 0 && errno != EINVAL) {
		int err = errno;

		close(fd);
		return ps_error_errno(e, PS_EX_IOERR, err,
				      "cannot sync directory %s", dir);
	}
	close(fd);
	return 0;
}

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return ps_xstrdup(".");
	if (slash == path)
		return ps_xstrdup("/");
	return ps_xmemdup(path, (size_t)(slash - path));
}

static void afile_release(struct ps_afile *f)
{
	if (f->fd >= 0)
		close(f->fd);
	free(f->path);
	free(f->tmp);
	f->fd = -1;
	f->path = f->tmp = NULL;
	f->sealed = 0;
}

/* ---- files made ahead (ps_fspool_start) ---- */

/* Files made ahead in one directory. */
struct pool_dir {
	char *dir;
	char *stem;		/* the file last opened there: the pool's
				 * names are ".STEM.pool.N.tmp-PID" */
	char **name;		/* made and not taken (paths) */
	size_t n;
	size_t taken;		/* opens since the last fill */
	unsigned idle;		/* fills since one took a file here */
};

/* What a fill makes: need files of directory d (an index into dirs). */
struct pool_job {
	char *dir, *stem;
	size_t need;
	char **drop;		/* names to remove (an idle directory's) */
	size_t ndrop;
};

static struct {
	pthread_mutex_t mu;
	int on;
	struct pool_dir *d;
	size_t nd, held;
	unsigned long seq;	/* numbers the names */
	pthread_t th;
	int filling;		/* th started and not joined */
	struct pool_job *job;
	size_t njob;
} pool = { .mu = PTHREAD_MUTEX_INITIALIZER };

/* The pool's directory dir, or NULL (pool.mu held). */
static struct pool_dir *pool_find(const char *dir)
{
	size_t i;

	for (i = 0; i < pool.nd; i++)
		if (!strcmp(pool.d[i].dir, dir))
			return &pool.d[i];
	return NULL;
}

/* The pool's directory dir, added when missing (pool.mu held). */
static struct pool_dir *pool_dir_of(const char *dir)
{
	struct pool_dir *d = pool_find(dir);

	if (!d) {
		pool.d = ps_xrealloc(pool.d, (pool.nd + 1) * sizeof(*pool.d));
		d = &pool.d[pool.nd++];
		memset(d, 0, sizeof(*d));
		d->dir = ps_xstrdup(dir);
	}
	return d;
}

/*
 * A file made ahead in dir for the file base, renamed to tmp (its
 * temporary name) and open for writing, or -1 when the pool has none
 * (the open is counted: the next fill makes as many there).
 */
static int pool_take(const char *dir, const char *base, const char *tmp)
{
	struct pool_dir *d;
	char *name = NULL;
	int fd = -1;

	pthread_mutex_lock(&pool.mu);
	if (pool.on) {
		d = pool_dir_of(dir);
		free(d->stem);
		d->stem = ps_xstrdup(base);
		d->taken++;
		d->idle = 0;
		if (d->n) {
			name = d->name[--d->n];
			pool.held--;
		}
	}
	pthread_mutex_unlock(&pool.mu);
	if (!name)
		return -1;
	/* gone meanwhile (a cleanup of temporaries): made now instead; a
	 * file that cannot be renamed or opened (no room for the name, a
	 * umask without write) is removed, and the file made as without the
	 * pool */
	if (rename(name, tmp) == 0) {
		fd = open(tmp, O_WRONLY | O_TRUNC | O_CLOEXEC);
		if (fd < 0)
			unlink(tmp);
	} else if (errno != ENOENT) {
		unlink(name);
	}
	free(name);
	return fd;
}

int ps_afile_open(struct ps_afile *f, const char *path, mode_t mode,
		  struct ps_error *e)
{
	struct ps_buf t = PS_BUF_INIT;
	const char *base = strrchr(path, '/');
	char *dir = dir_of(path);

	base = base ? base + 1 : path;
	f->fd = -1;
	f->path = ps_xstrdup(path);
	if (ps_mkdir_p(dir, 0755, e) < 0) {
		free(dir);
		afile_release(f);
		return -1;
	}
	ps_buf_addf(&t, "%s/.%s.tmp-%ld", dir, base, (long)getpid());
	f->tmp = ps_buf_detach(&t, NULL);
	/* the pool's files have mode 0644 (as made by open) */
	if (mode == 0644)
		f->fd = pool_take(dir, base, f->tmp);
	free(dir);
	if (f->fd < 0)
		f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			     mode);
	if (f->fd < 0) {
		int err = errno;

		ps_error_errno(e, PS_EX_CANTCREAT, err, "cannot create %s",
			       f->path);
		afile_release(f);
		return -1;
	}
	return 0;
}

int ps_afile_write(struct ps_afile *f, const void *p, size_t n,
		   struct ps_error *e)
{
	const char *c = p;

	while (n) {
		ssize_t w = write(f->fd, c, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return ps_error_errno(e, write_errno_code(errno), errno,
					      "cannot write %s", f->path);
		}
		c += w;
		n -= (size_t)w;
		atomic_fetch_add(&bytes_written, (unsigned long long)w);
	}
	return 0;
}

void ps_scratch_name(struct ps_buf *b, const char *path)
{
	static atomic_uint seq;
	const char *base = strrchr(path, '/');
	char *dir = dir_of(path);

	ps_buf_addf(b, "%s/.%s.spill.%u.tmp-%ld", dir, base ? base + 1 : path,
		    atomic_fetch_add(&seq, 1), (long)getpid());
	free(dir);
}

int ps_scratch_open(const char *path, struct ps_error *e)
{
	struct ps_buf t = PS_BUF_INIT;
	char *dir = dir_of(path);
	int fd, err;

	fd = open(dir, O_RDWR | O_TMPFILE | O_CLOEXEC, 0600);
	if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR ||
		       errno == EINVAL)) {
		ps_scratch_name(&t, path);
		fd = open(t.data, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
			  0600);
		if (fd >= 0)
			unlink(t.data);
	}
	err = errno;
	ps_buf_release(&t);
	free(dir);
	if (fd < 0)
		return ps_error_errno(e, PS_EX_CANTCREAT, err,
				      "cannot create a scratch file for %s",
				      path);
	return fd;
}

/* pwrite (out set) or pread all n bytes at off of scratch file fd: 0, or
 * -1 with e filled (74; reading past its end too). */
static int scratch_io(int fd, char *p, size_t n, off_t off, int out,
		      const char *path, struct ps_error *e)
{
	while (n) {
		ssize_t r = out ? pwrite(fd, p, n, off) : pread(fd, p, n, off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return ps_error_errno(e, PS_EX_IOERR,
					      r < 0 ? errno : EIO,
					      "cannot %s the scratch file of "
					      "%s", out ? "write" : "read",
					      path);
		p += r;
		n -= (size_t)r;
		off += r;
	}
	return 0;
}

int ps_scratch_write(int fd, const void *p, size_t n, off_t off,
		     const char *path, struct ps_error *e)
{
	return scratch_io(fd, (char *)p, n, off, 1, path, e);
}

int ps_scratch_read(int fd, void *p, size_t n, off_t off, const char *path,
		    struct ps_error *e)
{
	return scratch_io(fd, p, n, off, 0, path, e);
}

/* fsync and close f's temporary file; 0, or -1 with f aborted. */
static int afile_seal(struct ps_afile *f, struct ps_error *e)
{
	if (f->sealed)
		return 0;	/* ps_afile_seal_all */
	atomic_fetch_add(&fsyncs, 1);
	if (fsync(f->fd) < 0) {
		ps_error_errno(e, PS_EX_IOERR, errno, "cannot sync %s",
			       f->path);
		ps_afile_abort(f);
		return -1;
	}
	if (close(f->fd) < 0) {
		f->fd = -1;
		ps_error_errno(e, PS_EX_IOERR, errno, "cannot close %s",
			       f->path);
		ps_afile_abort(f);
		return -1;
	}
	f->fd = -1;
	return 0;
}

/* fsync the directory of f's final name and release f. */
static int afile_finish(struct ps_afile *f, struct ps_error *e)
{
	char *dir = dir_of(f->path);
	int rc = ps_fsync_dir(dir, e);

	free(dir);
	afile_release(f);
	return rc;
}

int ps_afile_commit(struct ps_afile *f, struct ps_error *e)
{
	if (afile_seal(f, e))
		return -1;
	if (rename(f->tmp, f->path) < 0) {
		ps_error_errno(e, PS_EX_IOERR, errno, "cannot rename to %s",
			       f->path);
		ps_afile_abort(f);
		return -1;
	}
	return afile_finish(f, e);
}

/* fsync f and link it to its final name (put-if-absent); f is released
 * unless that returns 0. */
static int afile_link(struct ps_afile *f, struct ps_error *e)
{
	if (afile_seal(f, e))
		return -1;
	/* link() fails with EEXIST instead of replacing: put-if-absent. */
	if (link(f->tmp, f->path) < 0) {
		int err = errno;

		if (err != EEXIST)
			ps_error_errno(e, PS_EX_IOERR, err, "cannot link to %s",
				       f->path);
		ps_afile_abort(f);
		return err == EEXIST ? 1 : -1;
	}
	unlink(f->tmp);
	return 0;
}

int ps_afile_link_new(struct ps_afile *f, struct ps_error *e)
{
	int rc = afile_link(f, e);

	if (rc == 0)
		afile_release(f);
	return rc;
}

int ps_afile_commit_new(struct ps_afile *f, struct ps_error *e)
{
	int rc = afile_link(f, e);

	return rc ? rc : afile_finish(f, e);
}

int ps_afile_commit_as(struct ps_afile *f, const char *path,
		       struct ps_error *e)
{
	free(f->path);
	f->path = ps_xstrdup(path);
	return ps_afile_commit(f, e);
}

void ps_afile_abort(struct ps_afile *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	if (f->tmp)
		unlink(f->tmp);
	afile_release(f);
}

struct ps_fsgroup {
	struct ps_afile *f;
	size_t n, cap;
};

struct ps_fsgroup *ps_fsgroup_new(void)
{
	return ps_xcalloc(1, sizeof(struct ps_fsgroup));
}

int ps_fsgroup_add(struct ps_fsgroup *g, struct ps_afile *f,
		   struct ps_error *e)
{
	if (g->n >= PS_FSGROUP_MAX && ps_fsgroup_commit(g, e) < 0) {
		ps_afile_abort(f);
		return -1;
	}
	if (g->n == g->cap) {
		g->cap = g->cap ? 2 * g->cap : 16;
		g->f = ps_xrealloc(g->f, g->cap * sizeof(*g->f));
	}
	/* Start writing back now; the fsync at commit then mostly waits. */
	(void)sync_file_range(f->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
	g->f[g->n++] = *f;
	*f = (struct ps_afile)PS_AFILE_INIT;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

size_t ps_strs_sort_unique(char **v, size_t n)
{
	size_t i, k = 0;

	qsort(v, n, sizeof(*v), cmp_str);
	for (i = 0; i < n; i++)
		if (k == 0 || strcmp(v[i], v[k - 1]))
			v[k++] = v[i];
		else
			free(v[i]);
	return k;
}

/* At most this many fsyncs in flight at once (sync_all). */
#define SYNC_THREADS 8

/* The fds of a sync_all and the next one to take. */
struct sync_job {
	const int *fd;
	int *err;
	size_t n;
	atomic_size_t next;
};

static void *sync_worker(void *arg)
{
	struct sync_job *j = arg;
	size_t i;

	while ((i = atomic_fetch_add(&j->next, 1)) < j->n)
		j->err[i] = fsync(j->fd[i]) < 0 && errno != EINVAL ? errno : 0;
	return NULL;
}

/*
 * fsync fd[0..n-1], up to SYNC_THREADS at once: a disk serves requests
 * in flight together, where one after the other each waits for the one
 * before (no journal commit to share on ext2 or without a journal).
 * err[i] gets 0 or the errno of fd[i] (EINVAL, fsync of a directory
 * some file systems refuse, counts as 0).  Cannot fail otherwise: when
 * no thread can start, the calling thread does it all.
 */
static void sync_all(const int *fd, int *err, size_t n)
{
	struct sync_job j = { fd, err, n, 0 };
	pthread_t th[SYNC_THREADS - 1];
	size_t nth = 0, want = n < SYNC_THREADS ? n : SYNC_THREADS;

	atomic_fetch_add(&fsyncs, n);
	while (nth + 1 < want &&
	       pthread_create(&th[nth], NULL, sync_worker, &j) == 0)
		nth++;
	sync_worker(&j);
	while (nth)
		pthread_join(th[--nth], NULL);
}

int ps_fsgroup_commit(struct ps_fsgroup *g, struct ps_error *e)
{
	char **dirs;
	size_t i, done = 0, nd = 0;
	struct ps_afile **fp = ps_xcalloc(g->n + 1, sizeof(*fp));
	int rc;

	for (i = 0; i < g->n; i++)
		fp[i] = &g->f[i];
	rc = ps_afile_seal_all(fp, g->n, e);
	free(fp);
	for (i = 0; i < g->n && rc == 0; i++, done++)
		if (rename(g->f[i].tmp, g->f[i].path) < 0)
			rc = ps_error_errno(e, PS_EX_IOERR, errno,
					    "cannot rename to %s",
					    g->f[i].path);
	dirs = ps_xcalloc(g->n + 1, sizeof(*dirs));
	for (i = 0; i < g->n; i++) {
		if (i < done) {
			dirs[i] = dir_of(g->f[i].path);
			afile_release(&g->f[i]);
		} else {
			ps_afile_abort(&g->f[i]);
		}
	}
	/* One fsync per distinct directory, all at once. */
	nd = ps_strs_sort_unique(dirs, done);
	rc = rc ? rc : ps_fsync_dirs((const char *const *)dirs, nd, e);
	for (i = 0; i < nd; i++)
		free(dirs[i]);
	free(dirs);
	g->n = 0;
	return rc;
}

int ps_afile_seal_all(struct ps_afile *const *f, size_t n,
		      struct ps_error *e)
{
	return ps_afile_seal_with_dirs(f, n, NULL, 0, e);
}

int ps_afile_seal_with_dirs(struct ps_afile *const *f, size_t n,
			    const char *const *dir, size_t nd,
			    struct ps_error *e)
{
	int *fd = ps_xcalloc(n + nd + 1, sizeof(*fd));
	int *err = ps_xcalloc(n + nd + 1, sizeof(*err));
	size_t i, k = 0;
	int rc = 0;

	for (i = 0; i < nd && rc == 0; i++, k++) {
		fd[n + i] = open(dir[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd[n + i] < 0)
			rc = ps_error_errno(e, PS_EX_IOERR, errno,
					    "cannot open directory %s",
					    dir[i]);
	}
	if (rc == 0) {
		for (i = 0; i < n; i++)
			fd[i] = f[i]->fd;
		sync_all(fd, err, n + nd);	/* one wait for them all */
	}
	for (i = 0; i < n && rc == 0; i++) {
		if (close(f[i]->fd) < 0 && !err[i])
			err[i] = errno;
		f[i]->fd = -1;
		if (err[i])
			rc = ps_error_errno(e, PS_EX_IOERR, err[i],
					    "cannot sync %s", f[i]->path);
		f[i]->sealed = rc == 0;
	}
	for (i = 0; i < k; i++) {
		if (fd[n + i] < 0)
			continue;
		if (rc == 0 && err[n + i])
			rc = ps_error_errno(e, PS_EX_IOERR, err[n + i],
					    "cannot sync directory %s",
					    dir[i]);
		close(fd[n + i]);
	}
	free(fd);
	free(err);
	return rc;
}

int ps_fsync_dirs(const char *const *dir, size_t n, struct ps_error *e)
{
	int *fd = ps_xcalloc(n + 1, sizeof(*fd));
	int *err = ps_xcalloc(n + 1, sizeof(*err));
	size_t i, k = 0;
	int rc = 0;

	for (i = 0; i < n && rc == 0; i++) {
		fd[i] = open(dir[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd[i] < 0)
			rc = ps_error_errno(e, PS_EX_IOERR, errno,
					    "cannot open directory %s",
					    dir[i]);
		else
			k++;
	}
	if (rc == 0)
		sync_all(fd, err, n);
	for (i = 0; i < k; i++) {
		if (rc == 0 && err[i])
			rc = ps_error_errno(e, PS_EX_IOERR, err[i],
					    "cannot sync directory %s",
					    dir[i]);
		close(fd[i]);
	}
	free(fd);
	free(err);
	return rc;
}

void ps_fsgroup_free(struct ps_fsgroup *g)
{
	size_t i;

	if (!g)
		return;
	for (i = 0; i < g->n; i++)
		ps_afile_abort(&g->f[i]);
	free(g->f);
	free(g);
}

int ps_append_durable(const char *path, const void *p, size_t n,
		      mode_t mode, struct ps_error *e)
{
	struct ps_afile f = PS_AFILE_INIT;
	int created = access(path, F_OK) < 0, rc = 0;
	char *dir;

	f.path = ps_xstrdup(path);
	f.fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, mode);
	if (f.fd < 0) {
		rc = ps_error_errno(e, PS_EX_CANTCREAT, errno,
				    "cannot open %s", path);
		free(f.path);
		return rc;
	}
	rc = ps_afile_write(&f, p, n, e);
	atomic_fetch_add(&fsyncs, 1);
	if (rc == 0 && fdatasync(f.fd) < 0)
		rc = ps_error_errno(e, PS_EX_IOERR, errno, "cannot sync %s",
				    path);
	if (close(f.fd) < 0 && rc == 0)
		rc = ps_error_errno(e, PS_EX_IOERR, errno, "cannot close %s",
				    path);
	if (rc == 0 && created) {
		dir = dir_of(path);
		rc = ps_fsync_dir(dir, e);
		free(dir);
	}
	free(f.path);
	return rc;
}

int ps_write_file_atomic(const char *path, const void *p, size_t n,
			 mode_t mode, struct ps_error *e)
{
	struct ps_afile f = PS_AFILE_INIT;

	if (ps_afile_open(&f, path, mode, e) < 0)
		return -1;
	if (ps_afile_write(&f, p, n, e) < 0) {
		ps_afile_abort(&f);
		return -1;
	}
	return ps_afile_commit(&f, e);
}

int ps_read_file(const char *path, struct ps_buf *b, size_t max,
		 struct ps_error *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t start = b->len;

	if (fd < 0) {
		if (errno == ENOENT)
			return 1;
		return ps_error_errno(e, PS_EX_NOINPUT, errno,
				      "cannot open %s", path);
	}
	for (;;) {
		ssize_t n;

		ps_buf_grow(b, 65536);
		n = read(fd, b->data + b->len, b->cap - b->len - 1);
		if (n < 0) {
			int err = errno;

			if (err == EINTR)
				continue;
			close(fd);
			b->len = start;		/* b as it was */
			b->data[b->len] = '\0';
			return ps_error_errno(e, PS_EX_IOERR, err,
					      "cannot read %s", path);
		}
		if (n == 0)
			break;
		b->len += (size_t)n;
		if (b->len - start > max) {
			close(fd);
			b->len = start;
			b->data[b->len] = '\0';
			return ps_error_set(e, PS_EX_IOERR,
					    "%s is larger than %zu bytes",
					    path, max);
		}
	}
	b->data[b->len] = '\0';
	close(fd);
	return 0;
}

/* The PID in a temporary's name (".tmp-PID", the last one), or 0. */
static long temp_pid(const char *name)
{
	const char *t = strstr(name, ".tmp-"), *q;
	char *end;
	long pid;

	if (!t)
		return 0;
	while ((q = strstr(t + 5, ".tmp-")))
		t = q;
	errno = 0;
	pid = strtol(t + 5, &end, 10);
	if (*end || end == t + 5 || errno || pid <= 0)
		return 0;
	return pid;
}

static int pid_alive(long pid)
{
	return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

int ps_temp_writer_alive(const char *name)
{
	long pid = temp_pid(name);

	return pid && pid_alive(pid);
}

/* Remove dir's temporaries whose writer is not running (or is this
 * process, with mine_too). */
static int remove_temps(const char *dir, int mine_too)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		long pid;
		char *p;

		if (de->d_name[0] != '.' || !strstr(de->d_name, ".tmp-"))
			continue;
		pid = temp_pid(de->d_name);
		if (pid && pid_alive(pid) &&
		    !(mine_too && pid == (long)getpid()))
			continue;
		p = ps_path_join(dir, de->d_name);
		if (unlink(p) == 0)
			n++;
		free(p);
	}
	closedir(d);
	return n;
}

int ps_remove_stale_temps(const char *dir)
{
	return remove_temps(dir, 0);
}

int ps_remove_temps_at_start(const char *dir)
{
	return remove_temps(dir, 1);
}

char *ps_path_join(const char *a, const char *b)
{
	struct ps_buf p = PS_BUF_INIT;
	size_t n = strlen(a);

	ps_buf_add(&p, a, n);
	if (n && a[n - 1] != '/')
		ps_buf_addc(&p, '/');
	ps_buf_adds(&p, b);
	return ps_buf_detach(&p, NULL);
}

int ps_file_private(const char *path, const char *what, struct ps_error *e)
{
	struct stat st;

	if (stat(path, &st) != 0) {
		if (errno == ENOENT)
			return 1;
		return ps_error_errno(e, PS_EX_NOINPUT, errno,
				      "cannot stat %s %s", what, path);
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO))
		return ps_error_set(e, PS_EX_CONFIG,
				    "%s %s is accessible by group or others "
				    "(chmod 600 it)", what, path);
	return 0;
}

/* ---- files made ahead ---- */

/* At most this many files made ahead at once, over all directories. */
#define POOL_MAX 256
/* A directory no file was taken from in this many fills gives its
 * files back. */
#define POOL_IDLE_FILLS 16

/* Remove and free the n names of drop. */
static void pool_drop(char **drop, size_t n)
{
	size_t k;

	for (k = 0; k < n; k++) {
		unlink(drop[k]);
		free(drop[k]);
	}
	free(drop);
}

/* Make the files of pool.job (the fill's work, only read here). */
static void *pool_fill_thread(void *arg)
{
	size_t i, k;

	(void)arg;
	for (i = 0; i < pool.njob; i++) {
		struct pool_job *j = &pool.job[i];

		pool_drop(j->drop, j->ndrop);
		for (k = 0; k < j->need; k++) {
			struct ps_buf b = PS_BUF_INIT;
			struct pool_dir *d;
			unsigned long n;
			int fd;

			pthread_mutex_lock(&pool.mu);
			n = ++pool.seq;
			pthread_mutex_unlock(&pool.mu);
			ps_buf_addf(&b, "%s/.%s.pool.%lu.tmp-%ld", j->dir,
				    j->stem, n, (long)getpid());
			fd = open(b.data, O_WRONLY | O_CREAT | O_EXCL |
				  O_CLOEXEC, 0644);
			if (fd < 0) {
				ps_buf_release(&b);
				break;	/* a directory gone, a full disk */
			}
			close(fd);
			pthread_mutex_lock(&pool.mu);
			d = pool_find(j->dir);
			d->name = ps_xrealloc(d->name,
					      (d->n + 1) * sizeof(*d->name));
			d->name[d->n++] = ps_buf_detach(&b, NULL);
			pool.held++;
			pthread_mutex_unlock(&pool.mu);
		}
		free(j->dir);
		free(j->stem);
	}
	return NULL;
}

/* Wait for the fill under way, if any, and forget its work. */
static void pool_join(void)
{
	if (pool.filling)
		pthread_join(pool.th, NULL);
	pool.filling = 0;
	free(pool.job);
	pool.job = NULL;
	pool.njob = 0;
}

void ps_fspool_start(void)
{
	pthread_mutex_lock(&pool.mu);
	pool.on = 1;
	pthread_mutex_unlock(&pool.mu);
}

void ps_fspool_want(const char *dir, const char *stem, size_t n)
{
	struct pool_dir *d;

	pthread_mutex_lock(&pool.mu);
	if (pool.on) {
		d = pool_dir_of(dir);
		if (!d->stem)
			d->stem = ps_xstrdup(stem);
		if (d->taken < n)
			d->taken = n;
	}
	pthread_mutex_unlock(&pool.mu);
}

void ps_fspool_fill(void)
{
	size_t i, planned = 0;

	if (!pool.on)
		return;
	pool_join();
	pthread_mutex_lock(&pool.mu);
	pool.job = ps_xcalloc(pool.nd + 1, sizeof(*pool.job));
	for (i = 0; i < pool.nd; i++) {
		struct pool_dir *d = &pool.d[i];
		struct pool_job *j = &pool.job[pool.njob];

		if (!d->taken && ++d->idle >= POOL_IDLE_FILLS && d->n) {
			j->drop = d->name;
			j->ndrop = d->n;
			pool.held -= d->n;
			d->name = NULL;
			d->n = 0;
		}
		/* as many as the last round took here, within the cap */
		if (d->taken > d->n) {
			j->need = d->taken - d->n;
			if (pool.held + planned + j->need > POOL_MAX)
				j->need = pool.held + planned < POOL_MAX ?
					  POOL_MAX - pool.held - planned : 0;
			planned += j->need;
		}
		d->taken = 0;
		if (j->need || j->ndrop) {
			j->dir = ps_xstrdup(d->dir);
			j->stem = ps_xstrdup(d->stem);
			pool.njob++;
		}
	}
	pthread_mutex_unlock(&pool.mu);
	if (pool.njob) {
		sigset_t all, old;

		/* no signal for the thread: a stop (SIGTERM) must reach
		 * the caller's wait for input (ppoll), not end here */
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		pool.filling = pthread_create(&pool.th, NULL, pool_fill_thread,
					      NULL) == 0;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (pool.filling)
			return;
	}
	for (i = 0; i < pool.njob; i++) {	/* no thread: none made */
		pool_drop(pool.job[i].drop, pool.job[i].ndrop);
		free(pool.job[i].dir);
		free(pool.job[i].stem);
	}
	free(pool.job);
	pool.job = NULL;
	pool.njob = 0;
}

void ps_fspool_stop(void)
{
	size_t i;

	pool_join();
	pthread_mutex_lock(&pool.mu);
	for (i = 0; i < pool.nd; i++) {
		pool_drop(pool.d[i].name, pool.d[i].n);
		free(pool.d[i].dir);
		free(pool.d[i].stem);
	}
	free(pool.d);
	pool.d = NULL;
	pool.nd = pool.held = 0;
	pool.on = 0;
	pthread_mutex_unlock(&pool.mu);
}

size_t ps_fspool_held(void)
{
	size_t n;

	pthread_mutex_lock(&pool.mu);
	n = pool.held;
	pthread_mutex_unlock(&pool.mu);
	return n;
}

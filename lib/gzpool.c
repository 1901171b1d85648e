/* gzpool.c - see gzpool.h. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <isa-l/crc.h>
#include <isa-l/igzip_lib.h>
#include <zlib.h>

#include "buf.h"
#include "cli.h"
#include "fsutil.h"
#include "gzpool.h"
#include "banned.h"

enum { J_FREE, J_QUEUED, J_DONE };

struct job {
	struct ps_gzpool_file *f;
	struct ps_buf in;
	unsigned char *out;
	size_t out_len, out_cap;
	uLong crc;
	int last;
	int state;
	int failed;		/* deflate error (should not happen) */
};

struct ps_gzpool {
	int threads, level;
	pthread_t *tid;
	int started;		/* threads successfully started */
	pthread_mutex_t mu;
	pthread_cond_t work, done;
	struct job *jobs;
	size_t cap;
	unsigned long long submitted, taken, retired;
	int stop;
	struct comp *inline_z;	/* for threads == 0 */
	int inline_ok;
	int nopen;		/* files not yet committed or aborted */
};

struct ps_gzpool_file {
	struct ps_gzpool *pool;
	struct ps_afile af;
	struct ps_buf chunk;
	uLong crc;
	unsigned long long size;
	size_t pending;		/* submitted chunks not yet retired */
	struct ps_error err;	/* first write error */
	int failed;
};

/*
 * A compressor: zlib, or at level 1 ISA-L's igzip level 1, which produces
 * the same kind of raw deflate pieces (ending on a byte boundary, the last
 * one final) about three times faster for a similar size.  Either way the
 * output is the same for the same input and level.
 */
struct comp {
	int isal;
	z_stream z;
	struct isal_zstream is;
	uint8_t *lvl_buf;
};

static struct comp *comp_new(int level)
{
	struct comp *c = ps_xcalloc(1, sizeof(*c));

	if (level == 1) {
		c->isal = 1;
		c->lvl_buf = ps_xmalloc(ISAL_DEF_LVL1_DEFAULT);
		return c;
	}
	if (deflateInit2(&c->z, level, Z_DEFLATED, -15, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK) {
		free(c);
		return NULL;
	}
	return c;
}

static void comp_free(struct comp *c)
{
	if (!c)
		return;
	if (c->isal)
		free(c->lvl_buf);
	else
		deflateEnd(&c->z);
	free(c);
}

/*
 * igzip cuts blocks differently when its output space runs out, so that
 * the output would depend on the buffer at hand: it is always given room
 * for the worst case (stored blocks), so that it never does.
 */
static int compress_isal(struct comp *c, struct job *j)
{
	struct isal_zstream *s = &c->is;
	size_t bound = j->in.len + j->in.len / 64 + 2 * ISAL_DEF_MAX_HDR_SIZE +
		       64;

	if (j->out_cap < bound) {
		free(j->out);
		j->out = ps_xmalloc(bound);
		j->out_cap = bound;
	}
	isal_deflate_init(s);
	s->level = 1;
	s->level_buf = c->lvl_buf;
	s->level_buf_size = ISAL_DEF_LVL1_DEFAULT;
	s->flush = SYNC_FLUSH;
	s->end_of_stream = (uint16_t)j->last;
	s->next_in = (uint8_t *)j->in.data;
	s->avail_in = (uint32_t)j->in.len;
	s->next_out = j->out;
	s->avail_out = (uint32_t)bound;
	if (isal_deflate(s) != COMP_OK || s->avail_in || !s->avail_out ||
	    (j->last && s->internal_state.state != ZSTATE_END))
		return -1;
	j->out_len = (size_t)(s->next_out - j->out);
	return 0;
}

/* Compress j->in into j->out as a raw deflate piece.  Returns 0 or -1. */
static int compress_job(struct comp *c, struct job *j)
{
	z_stream *z = &c->z;
	int flush = j->last ? Z_FINISH : Z_SYNC_FLUSH, rc;
	size_t bound;

	j->crc = crc32_gzip_refl(0, (const unsigned char *)j->in.data,
				 (uint64_t)j->in.len);
	if (c->isal)
		return compress_isal(c, j);
	bound = deflateBound(z, (uLong)j->in.len) + 64;
	if (deflateReset(z) != Z_OK)
		return -1;
	if (j->out_cap < bound) {
		free(j->out);
		j->out = ps_xmalloc(bound);
		j->out_cap = bound;
	}
	z->next_in = (Bytef *)j->in.data;
	z->avail_in = (uInt)j->in.len;
	z->next_out = j->out;
	z->avail_out = (uInt)j->out_cap;
	for (;;) {
		rc = deflate(z, flush);
		if (rc == Z_STREAM_ERROR)
			return -1;
		if (j->last ? rc == Z_STREAM_END :
		    (z->avail_in == 0 && z->avail_out > 0))
			break;
		if (z->avail_out == 0) {
			size_t used = j->out_cap;

			j->out_cap *= 2;
			j->out = ps_xrealloc(j->out, j->out_cap);
			z->next_out = j->out + used;
			z->avail_out = (uInt)(j->out_cap - used);
		}
	}
	j->out_len = j->out_cap - z->avail_out;
	return 0;
}

static void *worker(void *arg)
{
	struct ps_gzpool *p = arg;
	struct comp *z = comp_new(p->level);
	int zok = z != NULL;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		struct job *j;

		while (!p->stop && p->taken == p->submitted)
			pthread_cond_wait(&p->work, &p->mu);
		if (p->taken == p->submitted)
			break;	/* stopping and nothing left */
		j = &p->jobs[p->taken++ % p->cap];
		pthread_mutex_unlock(&p->mu);
		j->failed = !zok || compress_job(z, j) < 0;
		pthread_mutex_lock(&p->mu);
		j->state = J_DONE;
		pthread_cond_broadcast(&p->done);
	}
	pthread_mutex_unlock(&p->mu);
	comp_free(z);
	return NULL;
}

struct ps_gzpool *ps_gzpool_new(int threads, int level, struct ps_error *e)
{
	struct ps_gzpool *p = ps_xcalloc(1, sizeof(*p));
	sigset_t old;
	int i;

	p->threads = threads < 0 ? 0 : threads;
	p->level = level < 0 || level > 9 ? Z_DEFAULT_COMPRESSION : level;
	p->cap = p->threads ? (size_t)p->threads * 2 + 2 : 1;
	p->jobs = ps_xcalloc(p->cap, sizeof(*p->jobs));
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->done, NULL);
	if (!p->threads) {
		if (!(p->inline_z = comp_new(p->level))) {
			ps_error_set(e, PS_EX_SOFTWARE,
				     "cannot initialise zlib");
			ps_gzpool_free(p);
			return NULL;
		}
		p->inline_ok = 1;
		return p;
	}
	p->tid = ps_xcalloc((size_t)p->threads, sizeof(*p->tid));
	/* the workers live as long as the pool: SIGINT and SIGTERM go to
	 * the thread that waits for input (ps_poll_stop), not to them */
	ps_stop_signals_block(&old);
	for (i = 0; i < p->threads; i++) {
		if (pthread_create(&p->tid[i], NULL, worker, p) != 0)
			break;
		p->started++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (p->started < p->threads) {
		ps_error_set(e, PS_EX_SOFTWARE,
			     "cannot start compression thread");
		ps_gzpool_free(p);
		return NULL;
	}
	return p;
}

/* Wait for the oldest submitted job, write it to its file, free the slot. */
static void retire_one(struct ps_gzpool *p)
{
	struct job *j = &p->jobs[p->retired % p->cap];
	struct ps_gzpool_file *f = j->f;

	pthread_mutex_lock(&p->mu);
	while (j->state != J_DONE)
		pthread_cond_wait(&p->done, &p->mu);
	pthread_mutex_unlock(&p->mu);
	if (!f->failed && j->failed) {
		f->failed = 1;
		ps_error_set(&f->err, PS_EX_SOFTWARE,
			     "cannot compress data for %s", f->af.path);
	}
	if (!f->failed && f->af.fd >= 0 &&
	    ps_afile_write(&f->af, j->out, j->out_len, &f->err) < 0)
		f->failed = 1;
	f->crc = crc32_combine(f->crc, j->crc, (z_off_t)j->in.len);
	f->pending--;
	j->state = J_FREE;
	j->f = NULL;
	p->retired++;
}

/* Hand f's current chunk to a job slot (swapping in the slot's buffer). */
static void submit(struct ps_gzpool_file *f, int last)
{
	struct ps_gzpool *p = f->pool;
	struct job *j;
	struct ps_buf t;

	if (p->submitted - p->retired == p->cap)
		retire_one(p);
	j = &p->jobs[p->submitted % p->cap];
	t = j->in;
	j->in = f->chunk;
	f->chunk = t;
	ps_buf_reset(&f->chunk);
	j->f = f;
	j->last = last;
	f->pending++;
	if (!p->threads) {
		j->failed = !p->inline_ok ||
			    compress_job(p->inline_z, j) < 0;
		j->state = J_DONE;
		p->submitted++;
		p->taken++;
		return;
	}
	pthread_mutex_lock(&p->mu);
	j->state = J_QUEUED;
	p->submitted++;
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->mu);
}

static void drain_file(struct ps_gzpool_file *f)
{
	while (f->pending)
		retire_one(f->pool);
}

struct ps_gzpool_file *ps_gzpool_open(struct ps_gzpool *pool,
				      const char *path, struct ps_error *e)
{
	static const unsigned char hdr[10] = {
		0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3
	};
	struct ps_gzpool_file *f = ps_xcalloc(1, sizeof(*f));

	f->pool = pool;
	f->af.fd = -1;
	f->crc = crc32(0L, Z_NULL, 0);
	if (ps_afile_open(&f->af, path, 0644, e) < 0) {
		free(f);
		return NULL;
	}
	if (ps_afile_write(&f->af, hdr, sizeof(hdr), e) < 0) {
		ps_afile_abort(&f->af);
		free(f);
		return NULL;
	}
	ps_buf_grow(&f->chunk, PS_GZPOOL_CHUNK);
	pool->nopen++;
	return f;
}

int ps_gzpool_write(struct ps_gzpool_file *f, const void *p, size_t n,
		    struct ps_error *e)
{
	const char *c = p;

	while (n) {
		size_t room = PS_GZPOOL_CHUNK - f->chunk.len;
		size_t k = n < room ? n : room;

		if (f->failed)
			break;
		ps_buf_add(&f->chunk, c, k);
		c += k;
		n -= k;
		f->size += k;
		if (f->chunk.len == PS_GZPOOL_CHUNK)
			submit(f, 0);
	}
	if (f->failed) {
		if (e)
			*e = f->err;
		return -1;
	}
	return 0;
}

static void file_free(struct ps_gzpool_file *f)
{
	f->pool->nopen--;
	ps_buf_release(&f->chunk);
	free(f);
}

int ps_gzpool_commit(struct ps_gzpool_file *f, const char *final_path,
		     struct ps_error *e)
{
	unsigned char tr[8];
	unsigned long long sz = f->size;
	uLong crc;
	int rc;

	if (!f->failed)
		submit(f, 1);
	drain_file(f);
	if (f->failed) {
		if (e)
			*e = f->err;
		ps_afile_abort(&f->af);
		file_free(f);
		return -1;
	}
	crc = f->crc;
	tr[0] = (unsigned char)crc;
	tr[1] = (unsigned char)(crc >> 8);
	tr[2] = (unsigned char)(crc >> 16);
	tr[3] = (unsigned char)(crc >> 24);
	tr[4] = (unsigned char)sz;
	tr[5] = (unsigned char)(sz >> 8);
	tr[6] = (unsigned char)(sz >> 16);
	tr[7] = (unsigned char)(sz >> 24);
	if (ps_afile_write(&f->af, tr, sizeof(tr), e) < 0) {
		ps_afile_abort(&f->af);
		file_free(f);
		return -1;
	}
	if (final_path)
		rc = ps_afile_commit_as(&f->af, final_path, e);
	else
		rc = ps_afile_commit(&f->af, e);
	file_free(f);
	return rc;
}

void ps_gzpool_abort(struct ps_gzpool_file *f)
{
	if (!f)
		return;
	f->failed = 1;	/* retire_one skips writing */
	drain_file(f);
	ps_afile_abort(&f->af);
	file_free(f);
}

unsigned long long ps_gzpool_size(const struct ps_gzpool_file *f)
{
	return f->size;
}

void ps_gzpool_free(struct ps_gzpool *p)
{
	size_t i;
	int t;

	if (!p)
		return;
	/* Retire everything (files still open keep their temporaries). */
	while (p->retired < p->submitted)
		retire_one(p);
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	for (t = 0; t < p->started; t++)
		pthread_join(p->tid[t], NULL);
	free(p->tid);
	comp_free(p->inline_z);
	for (i = 0; i < p->cap; i++) {
		ps_buf_release(&p->jobs[i].in);
		free(p->jobs[i].out);
	}
	free(p->jobs);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->done);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

/* bronze_replay.c - see bronze_replay.h. */
#include <stdlib.h>
#include <string.h>

#include "bronze_replay.h"
#include "buf.h"
#include "lake.h"
#include "banned.h"

/* One kind of file (bronze or quarantine) of the source, read forward. */
struct stream {
	struct ps_lake_parts fs;
	size_t next;			/* next file to open */
	struct ps_lake_reader *r;
	int have;			/* a current record */
	long long pos;
	struct ps_buf payload;
};

struct ps_replay {
	char *source;
	size_t source_len;
	struct stream s[2];		/* bronze, quarantine */
};

/* Keep only the files whose name holds the source's safe form. */
static void keep_source(struct ps_lake_parts *fs, const char *safe)
{
	size_t i, k = 0;

	for (i = 0; i < fs->n; i++) {
		if (!strcmp(fs->v[i].safe, safe)) {
			fs->v[k++] = fs->v[i];
		} else {
			free(fs->v[i].path);
			free(fs->v[i].safe);
		}
	}
	fs->n = k;
}

/* Move to the stream's next record of the source (have = 0 at the end). */
static int advance(struct ps_replay *rp, struct stream *st,
		   struct ps_error *e)
{
	struct ps_envelope env;
	int rc;

	for (;;) {
		if (!st->r) {
			if (st->next == st->fs.n) {
				st->have = 0;
				return 0;
			}
			st->r = ps_lake_reader_open(
				st->fs.v[st->next++].path, e);
			if (!st->r) {
				e->code = PS_EX_IOERR;
				return -1;
			}
		}
		rc = ps_lake_reader_next(st->r, &env, e);
		if (rc < 0)
			return -1;
		if (rc == 0) {
			ps_lake_reader_close(st->r);
			st->r = NULL;
			continue;
		}
		/* The file name's safe form may be shared (hashed names). */
		if (env.source_len != rp->source_len ||
		    memcmp(env.source, rp->source, rp->source_len))
			continue;
		ps_buf_reset(&st->payload);
		ps_buf_add(&st->payload, env.payload, env.payload_len);
		st->pos = env.position;
		st->have = 1;
		return 0;
	}
}

struct ps_replay *ps_replay_open(const char *lake, const char *stream,
				 const char *source, size_t len,
				 struct ps_error *e)
{
	struct ps_replay *rp = ps_xcalloc(1, sizeof(*rp));
	struct ps_buf safe = PS_BUF_INIT;
	int i;

	rp->source = ps_xmemdup(source, len);
	rp->source_len = len;
	ps_lake_safe_source(&safe, source, len);
	if (ps_lake_list(lake, PS_LAKE_BRONZE, stream, &rp->s[0].fs, e) < 0 ||
	    ps_lake_list(lake, PS_LAKE_BRONZE_QUARANTINE, stream,
			 &rp->s[1].fs, e) < 0)
		goto fail;
	for (i = 0; i < 2; i++) {
		keep_source(&rp->s[i].fs, safe.data);
		if (advance(rp, &rp->s[i], e) < 0)
			goto fail;
	}
	ps_buf_release(&safe);
	return rp;
fail:
	ps_buf_release(&safe);
	ps_replay_free(rp);
	return NULL;
}

long long ps_replay_first(const struct ps_replay *rp)
{
	const struct stream *b = &rp->s[0], *q = &rp->s[1];

	if (b->have && (!q->have || b->pos < q->pos))
		return b->pos;
	return q->have ? q->pos : -1;
}

int ps_replay_match(struct ps_replay *rp, long long pos,
		    const struct ps_line *line, struct ps_error *e)
{
	struct stream *b = &rp->s[0], *q = &rp->s[1];
	const struct ps_buf *p;
	int i;

	for (i = 0; i < 2; i++)
		while (rp->s[i].have && rp->s[i].pos < pos)
			if (advance(rp, &rp->s[i], e) < 0)
				return -1;
	if (b->have && b->pos == pos) {
		p = &b->payload;
		return !line->too_long && p->len == line->len &&
		       !memcmp(p->data, line->data, p->len);
	}
	if (q->have && q->pos == pos) {
		/* all of a bad line, or the first bytes of a long one */
		p = &q->payload;
		return p->len <= line->len &&
		       (p->len == line->len || line->too_long) &&
		       !memcmp(p->data, line->data, p->len);
	}
	return 0;
}

void ps_replay_free(struct ps_replay *rp)
{
	int i;

	if (!rp)
		return;
	for (i = 0; i < 2; i++) {
		ps_lake_reader_close(rp->s[i].r);
		ps_lake_parts_release(&rp->s[i].fs);
		ps_buf_release(&rp->s[i].payload);
	}
	free(rp->source);
	free(rp);
}

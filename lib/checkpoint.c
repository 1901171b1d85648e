/* checkpoint.c - see checkpoint.h. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "seal.h"
#include "fsutil.h"
#include "json.h"
#include "rand.h"
#include "banned.h"

/* A checkpoint file is small; refuse anything absurd. */
#define MAX_FILE (64 * 1024 * 1024)

struct entry {
	char *source;
	size_t len;
	uint64_t hash;
	long long position;
};

struct ps_checkpoint {
	struct entry *e;	/* insertion order */
	size_t n, cap;
	size_t *slot;		/* open addressing: index + 1, 0 = empty */
	size_t nslot;		/* power of two */
};

static uint64_t hash_bytes(const char *s, size_t n)
{
	return ps_fnv1a(PS_FNV1A_INIT, s, n);
}

struct ps_checkpoint *ps_checkpoint_new(void)
{
	struct ps_checkpoint *cp = ps_xcalloc(1, sizeof(*cp));

	cp->nslot = 16;
	cp->slot = ps_xcalloc(cp->nslot, sizeof(*cp->slot));
	return cp;
}

void ps_checkpoint_free(struct ps_checkpoint *cp)
{
	size_t i;

	if (!cp)
		return;
	for (i = 0; i < cp->n; i++)
		free(cp->e[i].source);
	free(cp->e);
	free(cp->slot);
	free(cp);
}

/* The slot holding source, or the empty slot where it belongs. */
static size_t find_slot(const struct ps_checkpoint *cp, const char *s,
			size_t n, uint64_t h)
{
	size_t mask = cp->nslot - 1, i = (size_t)h & mask;

	for (;;) {
		size_t k = cp->slot[i];
		const struct entry *en;

		if (!k)
			return i;
		en = &cp->e[k - 1];
		if (en->hash == h && en->len == n && !memcmp(en->source, s, n))
			return i;
		i = (i + 1) & mask;
	}
}

static void rehash(struct ps_checkpoint *cp)
{
	size_t i;

	free(cp->slot);
	cp->nslot *= 2;
	cp->slot = ps_xcalloc(cp->nslot, sizeof(*cp->slot));
	for (i = 0; i < cp->n; i++) {
		const struct entry *en = &cp->e[i];

		cp->slot[find_slot(cp, en->source, en->len, en->hash)] = i + 1;
	}
}

long long ps_checkpoint_get(const struct ps_checkpoint *cp,
			    const char *source, size_t len)
{
	size_t k = cp->slot[find_slot(cp, source, len,
				      hash_bytes(source, len))];

	return k ? cp->e[k - 1].position : -1;
}

void ps_checkpoint_set(struct ps_checkpoint *cp, const char *source,
		       size_t len, long long position)
{
	uint64_t h = hash_bytes(source, len);
	size_t i = find_slot(cp, source, len, h);
	struct entry *en;

	if (cp->slot[i]) {
		en = &cp->e[cp->slot[i] - 1];
		if (position > en->position)
			en->position = position;
		return;
	}
	if (cp->n == cp->cap) {
		cp->cap = cp->cap ? cp->cap * 2 : 8;
		cp->e = ps_xrealloc(cp->e, cp->cap * sizeof(*cp->e));
	}
	en = &cp->e[cp->n++];
	en->source = ps_xmemdup(source, len);
	en->len = len;
	en->hash = h;
	en->position = position < -1 ? -1 : position;
	cp->slot[i] = cp->n;
	if (cp->n * 2 > cp->nslot)
		rehash(cp);
}

void ps_checkpoint_merge(struct ps_checkpoint *cp,
			 const struct ps_checkpoint *from)
{
	size_t i;

	for (i = 0; i < from->n; i++)
		ps_checkpoint_set(cp, from->e[i].source, from->e[i].len,
				  from->e[i].position);
}

size_t ps_checkpoint_count(const struct ps_checkpoint *cp)
{
	return cp->n;
}

int ps_checkpoint_entry(const struct ps_checkpoint *cp, size_t i,
			const char **source, size_t *len,
			long long *position)
{
	if (i >= cp->n)
		return -1;
	*source = cp->e[i].source;
	*len = cp->e[i].len;
	*position = cp->e[i].position;
	return 0;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct entry *x = *(const struct entry *const *)a;
	const struct entry *y = *(const struct entry *const *)b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->source, y->source, n);

	if (c)
		return c;
	return x->len < y->len ? -1 : x->len > y->len;
}

void ps_checkpoint_format(const struct ps_checkpoint *cp, struct ps_buf *b)
{
	const struct entry **v = ps_xcalloc(cp->n ? cp->n : 1, sizeof(*v));
	size_t i;

	for (i = 0; i < cp->n; i++)
		v[i] = &cp->e[i];
	qsort(v, cp->n, sizeof(*v), cmp_entry);
	ps_buf_adds(b, "{\"version\":1,\"sources\":{");
	for (i = 0; i < cp->n; i++) {
		if (i)
			ps_buf_addc(b, ',');
		ps_json_add_str(b, v[i]->source, v[i]->len);
		ps_buf_adds(b, ":{\"position\":");
		ps_buf_add_i64(b, v[i]->position);
		ps_buf_addc(b, '}');
	}
	ps_buf_adds(b, "}}\n");
	free(v);
}

int ps_checkpoint_parse(struct ps_checkpoint *cp, const char *text,
			size_t len, struct ps_error *e)
{
	char why[160];
	yajl_val root = ps_json_parse(text, len, why, sizeof(why));
	yajl_val ver, src;
	size_t i;
	int rc = -1;

	if (!root)
		return ps_error_set(e, PS_EX_CONFIG, "checkpoint: %s", why);
	ver = ps_json_get(root, "version");
	src = ps_json_get(root, "sources");
	if (!YAJL_IS_OBJECT(root)) {
		ps_error_set(e, PS_EX_CONFIG, "checkpoint: not an object");
		goto out;
	}
	if (!ver || !YAJL_IS_INTEGER(ver) || YAJL_GET_INTEGER(ver) != 1) {
		ps_error_set(e, PS_EX_CONFIG,
			     "checkpoint: version missing or not 1");
		goto out;
	}
	if (!src || !YAJL_IS_OBJECT(src)) {
		ps_error_set(e, PS_EX_CONFIG,
			     "checkpoint: sources missing or not an object");
		goto out;
	}
	for (i = 0; i < src->u.object.len; i++) {
		const char *k = src->u.object.keys[i];
		yajl_val pos = ps_json_get(src->u.object.values[i], "position");

		if (!pos || !YAJL_IS_INTEGER(pos) ||
		    YAJL_GET_INTEGER(pos) < -1) {
			ps_error_set(e, PS_EX_CONFIG,
				     "checkpoint: source %.80s: position "
				     "missing or not an integer >= -1", k);
			goto out;
		}
		ps_checkpoint_set(cp, k, strlen(k), YAJL_GET_INTEGER(pos));
	}
	rc = 0;
out:
	yajl_tree_free(root);
	return rc;
}

char *ps_checkpoint_path(const char *lake, const char *tool,
			 const char *stream)
{
	struct ps_buf b = PS_BUF_INIT;

	ps_buf_addf(&b, "%s%s_state/%s/%s.json", lake,
		    *lake && lake[strlen(lake) - 1] == '/' ? "" : "/", tool,
		    stream);
	return ps_buf_detach(&b, NULL);
}

int ps_checkpoint_load(struct ps_checkpoint *cp, const char *lake,
		       const char *tool, const char *stream,
		       struct ps_error *e)
{
	char *path = ps_checkpoint_path(lake, tool, stream);
	struct ps_buf b = PS_BUF_INIT;
	int rc = ps_seal_read(path, MAX_FILE, PS_SEAL_JSON, &b, e);

	if (rc == 1) {
		rc = 0;
	} else if (rc == 0 && ps_checkpoint_parse(cp, b.data, b.len, e) < 0) {
		char msg[sizeof(e->msg)];

		if (e) {
			snprintf(msg, sizeof(msg), "%s", e->msg);
			ps_error_set(e, PS_EX_CONFIG, "%s: %s", path, msg);
		}
		rc = -1;
	} else if (rc < 0 && e && e->code != PS_EX_CONFIG) {
		e->code = PS_EX_IOERR;
	}
	ps_buf_release(&b);
	free(path);
	return rc;
}

int ps_checkpoint_save(const struct ps_checkpoint *cp, const char *lake,
		       const char *tool, const char *stream,
		       struct ps_error *e)
{
	struct ps_afile f = PS_AFILE_INIT;

	if (ps_checkpoint_open(cp, lake, tool, stream, &f, e) < 0)
		return -1;
	return ps_afile_commit(&f, e);
}

int ps_checkpoint_open(const struct ps_checkpoint *cp, const char *lake,
		       const char *tool, const char *stream,
		       struct ps_afile *f, struct ps_error *e)
{
	char *path = ps_checkpoint_path(lake, tool, stream);
	struct ps_buf b = PS_BUF_INIT;
	int rc;

	ps_checkpoint_format(cp, &b);
	rc = ps_seal_begin(f, path, b.data, b.len, PS_SEAL_JSON, e);
	ps_buf_release(&b);
	free(path);
	return rc;
}

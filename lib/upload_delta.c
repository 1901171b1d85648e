/* upload_delta.c - see upload_delta.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "delta.h"
#include "fsutil.h"
#include "json.h"
#include "log.h"
#include "upload_delta.h"
#include "banned.h"

#define LOG_DIR "_delta_log"
#define LAST_CP_MAX 65536
/* Versions beyond this share the last sequence slots (none will). */
#define VERSION_CAP ((int64_t)1 << 60)

/* Where the _delta_log component of rel starts (0 or after a '/'), or -1. */
static long log_at(const char *rel)
{
	const char *p = rel;
	size_t n = strlen(LOG_DIR);

	for (;;) {
		if (!strncmp(p, LOG_DIR, n) && p[n] == '/')
			return (long)(p - rel);
		p = strchr(p, '/');
		if (!p)
			return -1;
		p++;
	}
}

/* Version in the 20-digit prefix of name, or -1; *rest: what follows. */
static int64_t name_version(const char *name, const char **rest)
{
	int64_t v = 0;
	int i;

	for (i = 0; i < 20; i++) {
		if (name[i] < '0' || name[i] > '9')
			return -1;
		if (v < VERSION_CAP)
			v = v * 10 + (name[i] - '0');
	}
	*rest = name + 20;
	return v < VERSION_CAP ? v : VERSION_CAP - 1;
}

static int ends_with(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);

	return n >= m && !strcmp(s + n - m, suf);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One table of the round. */
struct table {
	char *root;		/* lake-relative, "" for the lake itself */
	int64_t vmax;		/* newest NNN.json listed, or -1 */
	char **refs;		/* paths (relative to the table) that versions
				   up to vmax reference, sorted */
	size_t nrefs;
};

static struct table *find_table(struct table *t, size_t nt, const char *rel,
				size_t *rootlen)
{
	size_t i;

	for (i = 0; i < nt; i++) {
		size_t n = strlen(t[i].root);

		if (!n || (!strncmp(rel, t[i].root, n) && rel[n] == '/')) {
			*rootlen = n ? n + 1 : 0;
			return &t[i];
		}
	}
	return NULL;
}

/* Load the referenced paths of t as of t->vmax.  0 or -1. */
static int load_refs(const char *lake, struct table *t, struct ps_error *e)
{
	struct ps_delta_snapshot s = PS_DELTA_SNAPSHOT_INIT;
	char *dir = *t->root ? ps_path_join(lake, t->root) : ps_xstrdup(lake);
	size_t i;
	int rc;

	rc = ps_delta_snapshot_load(dir, t->vmax, &s, e);
	if (!rc) {
		t->refs = ps_xcalloc(s.nfiles + s.nremoved + 1,
				     sizeof(char *));
		for (i = 0; i < s.nfiles; i++)
			t->refs[t->nrefs++] = ps_xstrdup(s.files[i].path);
		for (i = 0; i < s.nremoved; i++)
			t->refs[t->nrefs++] = ps_xstrdup(s.removed[i].path);
		if (t->nrefs > 1)
			qsort(t->refs, t->nrefs, sizeof(char *), cmp_str);
	} else {
		char msg[sizeof(e->msg)];

		snprintf(msg, sizeof(msg), "%s", e->msg);
		ps_error_set(e, e->code, "cannot upload Delta table %s: %s",
			     t->root, msg);
	}
	ps_delta_snapshot_release(&s);
	free(dir);
	return rc;
}

/*
 * _last_checkpoint at rel: open it, and return the version it names
 * (or -1 when it cannot be read or parsed); *fd is the descriptor.
 */
static int64_t last_checkpoint(const char *lake, const char *rel, int *fd)
{
	char *path = ps_path_join(lake, rel);
	char buf[LAST_CP_MAX + 1], why[64];
	yajl_val root, v;
	ssize_t n;
	int64_t version = -1;

	*fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	if (*fd < 0)
		return -1;
	n = pread(*fd, buf, LAST_CP_MAX, 0);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	root = ps_json_parse(buf, (size_t)n, why, sizeof(why));
	v = root ? ps_json_get(root, "version") : NULL;
	if (v && YAJL_IS_INTEGER(v) && YAJL_GET_INTEGER(v) >= 0)
		version = YAJL_GET_INTEGER(v);
	yajl_tree_free(root);
	return version;
}

/* Is the checkpoint of version cp of table t sent, or kept this round? */
static int checkpoint_there(const struct table *t, int64_t cp,
			    char *const *rels, size_t n,
			    const struct ps_upload_delta *out,
			    ps_upload_sent_fn sent, void *ctx)
{
	struct ps_buf b = PS_BUF_INIT;
	size_t i, bl;
	int yes = 0;

	if (*t->root)
		ps_buf_addf(&b, "%s/", t->root);
	ps_buf_addf(&b, LOG_DIR "/%020lld.checkpoint.", (long long)cp);
	bl = b.len;
	for (i = 0; i < n && !yes; i++)
		yes = out[i].keep && !strncmp(rels[i], b.data, bl) &&
		      ends_with(rels[i], ".parquet");
	ps_buf_adds(&b, "parquet");
	if (!yes && sent)
		yes = sent(ctx, b.data);
	ps_buf_release(&b);
	return yes;
}

int ps_upload_delta_plan(const char *lake, char *const *rels, size_t n,
			 ps_upload_sent_fn sent, void *ctx,
			 struct ps_upload_delta *out, struct ps_error *e)
{
	struct table *t = NULL;
	size_t nt = 0, i, k;
	int rc = 0;

	for (i = 0; i < n; i++) {
		long at = log_at(rels[i]);

		out[i] = (struct ps_upload_delta){ 1, 0, 0, 0, 0, -1 };
		if (at < 0)
			continue;
		for (k = 0; k < nt; k++)
			if (strlen(t[k].root) == (size_t)(at ? at - 1 : 0) &&
			    !strncmp(t[k].root, rels[i], (size_t)(at ? at - 1
								   : 0)))
				break;
		if (k == nt) {
			t = ps_xrealloc(t, (nt + 1) * sizeof(*t));
			memset(&t[nt], 0, sizeof(*t));
			t[nt].root = ps_xmemdup(rels[i], (size_t)(at ? at - 1
								  : 0));
			t[nt++].vmax = -1;
		}
		{
			const char *name = rels[i] + at + strlen(LOG_DIR) + 1;
			const char *rest;
			int64_t v = name_version(name, &rest);

			if (v >= 0 && !strcmp(rest, ".json") && v > t[k].vmax)
				t[k].vmax = v;
		}
	}
	/* Longer roots first: a table inside another's directory wins. */
	for (k = 0; k + 1 < nt; k++)
		for (i = k + 1; i < nt; i++)
			if (strlen(t[i].root) > strlen(t[k].root)) {
				struct table x = t[k];

				t[k] = t[i];
				t[i] = x;
			}
	for (k = 0; k < nt && !rc; k++)
		if (t[k].vmax >= 0)
			rc = load_refs(lake, &t[k], e);
	for (i = 0; i < n && !rc; i++) {
		size_t rl;
		struct table *tb = find_table(t, nt, rels[i], &rl);
		const char *rel = rels[i] + rl, *rest;
		struct ps_upload_delta *o = &out[i];
		int64_t v;

		if (!tb)
			continue;
		o->in_table = 1;
		if (strncmp(rel, LOG_DIR "/", strlen(LOG_DIR) + 1)) {
			/* a data file: sent when a version references it */
			o->keep = tb->vmax >= 0 &&
				  bsearch(&rel, tb->refs, tb->nrefs,
					  sizeof(char *), cmp_str) != NULL;
			continue;
		}
		rel += strlen(LOG_DIR) + 1;
		o->is_log = 1;
		v = name_version(rel, &rest);
		if (v >= 0 && !strchr(rest, '/')) {
			o->keep = v <= tb->vmax;
			if (!strcmp(rest, ".json")) {
				o->seq = v * 4;
				o->if_absent = 1;
			} else {
				o->seq = v * 4 + (!strncmp(rest,
							   ".checkpoint.", 12)
						  ? 1 : 2);
			}
		} else if (!strcmp(rel, "_last_checkpoint")) {
			o->seq = INT64_MAX;
			o->keep = 0;	/* decided below */
		} else {
			o->seq = INT64_MAX - 1;	/* another writer's file */
			o->keep = tb->vmax >= 0;
		}
	}
	/* _last_checkpoint once the rest of its table is decided. */
	for (i = 0; i < n && !rc; i++) {
		size_t rl;
		struct table *tb;
		int64_t cp;

		if (!out[i].is_log || out[i].seq != INT64_MAX)
			continue;
		tb = find_table(t, nt, rels[i], &rl);
		cp = last_checkpoint(lake, rels[i], &out[i].fd);
		out[i].keep = tb && out[i].fd >= 0 && cp >= 0 &&
			      cp <= tb->vmax &&
			      checkpoint_there(tb, cp, rels, n, out, sent,
					       ctx);
		if (!out[i].keep && out[i].fd >= 0) {
			close(out[i].fd);
			out[i].fd = -1;
		}
	}
	for (k = 0; k < nt; k++) {
		for (i = 0; i < t[k].nrefs; i++)
			free(t[k].refs[i]);
		free(t[k].refs);
		free(t[k].root);
	}
	free(t);
	if (rc)
		for (i = 0; i < n; i++)
			if (out[i].fd >= 0) {
				close(out[i].fd);
				out[i].fd = -1;
			}
	return rc;
}

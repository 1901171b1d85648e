/* silver.c - see silver.h. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base64.h"
#include "checkpoint.h"
#include "clean.h"
#include "cli.h"
#include "envelope.h"
#include "fsutil.h"
#include "hl7map.h"
#include "gzpool.h"
#include "json.h"
#include "lake.h"
#include "log.h"
#include "ndjson.h"
#include "progress.h"
#include "pstime.h"
#include "rand.h"
#include "seal.h"
#include "silver.h"
#include "stage.h"
#include "banned.h"

/* ------------------------------------------------------------------ */
/* Rules that need context                                             */
/* ------------------------------------------------------------------ */

const char *ps_silver_age_band(int age)
{
	static const char *const bands[] = {
		"0-9", "10-19", "20-29", "30-39", "40-49", "50-59", "60-69",
		"70-79", "80-89", "90+",
	};

	if (age < 0)
		age = 0;
	return bands[age >= 90 ? 9 : age / 10];
}

int ps_silver_check(struct ps_event *ev, int64_t ref_time,
		    int64_t max_future, const struct ps_departments *ds)
{
	char t1[PS_TIME_MAX], t2[PS_TIME_MAX];
	int i;

	if (ps_event_has(ev, PS_EF_AGE) && (ev->age < 0 || ev->age > 120))
		ps_event_add_problem(ev, PS_RULE_AGE_OUT_OF_RANGE, PS_EF_AGE,
				     "age %d is outside 0-120", (int)ev->age);
	if (ps_event_has(ev, PS_EF_ADMISSION_TIME) &&
	    ev->admission_time > ref_time + max_future) {
		ps_time_format(ev->admission_time, t1, -1);
		ps_time_format(ref_time, t2, -1);
		ps_event_add_problem(ev, PS_RULE_ADMISSION_IN_FUTURE,
				     PS_EF_ADMISSION_TIME,
				     "admission_time %s is after %s + %lld s",
				     t1, t2,
				     (long long)(max_future / PS_USEC_PER_SEC));
	}
	if (ps_event_has(ev, PS_EF_ADMISSION_TIME) &&
	    ps_event_has(ev, PS_EF_DISCHARGE_TIME) &&
	    ev->discharge_time < ev->admission_time)
		ps_event_add_problem(ev, PS_RULE_DISCHARGE_BEFORE_ADMISSION,
				     PS_EF_DISCHARGE_TIME,
				     "discharge_time is before admission_time");
	if (ps_event_has(ev, PS_EF_ARRIVAL_TIME) &&
	    ps_event_has(ev, PS_EF_ADMISSION_TIME) &&
	    ev->arrival_time > ev->admission_time)
		ps_event_add_problem(ev, PS_RULE_ARRIVAL_AFTER_ADMISSION,
				     PS_EF_ARRIVAL_TIME, NULL);
	if (ds && ps_event_has(ev, PS_EF_DEPARTMENT) &&
	    ps_departments_find(ds, ev->department.p,
				ev->department.len) < 0)
		ps_event_add_problem(ev, PS_RULE_UNKNOWN_DEPARTMENT,
				     PS_EF_DEPARTMENT, NULL);
	for (i = 0; i < ev->nproblems; i++)
		if (ps_rules[ev->problems[i].rule].severity ==
		    PS_SEV_QUARANTINE)
			return 1;
	return 0;
}

void ps_silver_rules_help(struct ps_buf *b)
{
	int i;

	ps_buf_adds(b, "Rules (code, severity, meaning):\n");
	for (i = 0; i < PS_RULE_COUNT; i++)
		ps_buf_addf(b, "  %-27s %-10s %s\n", ps_rules[i].code,
			    ps_rule_severity_name(ps_rules[i].severity),
			    ps_rules[i].description);
}

/* ------------------------------------------------------------------ */
/* Hashing and the dedup window                                        */
/* ------------------------------------------------------------------ */

/* A fast 64-bit hash (one multiply per 8 bytes, then a full mix). */
static uint64_t hash_bytes(uint64_t seed, const void *p, size_t n)
{
	const unsigned char *s = p;
	uint64_t h = seed ^ (n * 0x9e3779b97f4a7c15ULL);
	uint64_t w;

	while (n >= 8) {
		memcpy(&w, s, 8);
		h = ps_rotl64(h ^ (w * 0xbf58476d1ce4e5b9ULL), 29) *
		    0x94d049bb133111ebULL;
		s += 8;
		n -= 8;
	}
	w = 0;
	memcpy(&w, s, n);
	return ps_mix64(h ^ w ^ ((uint64_t)n << 59));
}

uint64_t ps_silver_dedup_key(const struct ps_event *ev, const char *raw,
			     size_t len)
{
	uint64_t k;

	if (ps_event_has(ev, PS_EF_EVENT_ID))
		k = hash_bytes(0x6576656e74ULL, ev->event_id.p,
			       ev->event_id.len);
	else
		k = hash_bytes(0x636f6e74656e74ULL, raw, len);
	return k ? k : 1;	/* 0 marks an empty slot */
}

static uint32_t source_hash(const char *s, size_t n)
{
	uint32_t h = (uint32_t)hash_bytes(0x737263ULL, s, n);

	return h == PS_DEDUP_PLAIN ? 0 : h;
}

struct dentry {
	uint64_t key;
	long long pos;
	uint32_t src;
};

/*
 * The ring and the table grow (doubling) with the keys held, up to cap:
 * a window holds what it is given, not its bound (--shared keeps one per
 * source).
 */
struct ps_dedup {
	uint64_t *table;
	size_t mask;
	struct dentry *ring;
	size_t cap, size, head, count;	/* size: the ring's; oldest at head */
};

/* A table of twice n slots or more, with the keys of the ring. */
static void dedup_table(struct ps_dedup *d, size_t n)
{
	size_t slots = 16, i, k;

	while (slots < n * 2)
		slots <<= 1;
	free(d->table);
	d->table = ps_xcalloc(slots, sizeof(uint64_t));
	d->mask = slots - 1;
	for (i = 0; i < d->count; i++) {
		uint64_t key = d->ring[(d->head + i) % d->size].key;

		k = (size_t)key & d->mask;
		while (d->table[k])
			k = (k + 1) & d->mask;
		d->table[k] = key;
	}
}

struct ps_dedup *ps_dedup_new(long long cap)
{
	struct ps_dedup *d = ps_xcalloc(1, sizeof(*d));

	if (cap < 1)
		cap = 1;
	d->cap = (size_t)cap;
	d->size = d->cap < 4096 ? d->cap : 4096;
	d->ring = ps_xcalloc(d->size, sizeof(struct dentry));
	dedup_table(d, d->size);
	return d;
}

/* The ring is full below cap: double it (oldest first again). */
static void dedup_grow(struct ps_dedup *d)
{
	size_t n = d->size * 2 < d->cap ? d->size * 2 : d->cap, i;
	struct dentry *r = ps_xcalloc(n, sizeof(*r));

	for (i = 0; i < d->count; i++)
		r[i] = d->ring[(d->head + i) % d->size];
	free(d->ring);
	d->ring = r;
	d->size = n;
	d->head = 0;
	dedup_table(d, n);
}

void ps_dedup_free(struct ps_dedup *d)
{
	if (!d)
		return;
	free(d->table);
	free(d->ring);
	free(d);
}

long long ps_dedup_count(const struct ps_dedup *d)
{
	return (long long)d->count;
}

static void table_remove(struct ps_dedup *d, uint64_t key)
{
	size_t i = (size_t)key & d->mask, j, k;

	while (d->table[i] != key) {
		if (!d->table[i])
			return;
		i = (i + 1) & d->mask;
	}
	/* Backward-shift deletion keeps linear probing correct. */
	j = i;
	for (;;) {
		j = (j + 1) & d->mask;
		if (!d->table[j])
			break;
		k = (size_t)d->table[j] & d->mask;
		if ((j > i && (k <= i || k > j)) ||
		    (j < i && (k <= i && k > j))) {
			d->table[i] = d->table[j];
			i = j;
		}
	}
	d->table[i] = 0;
}

int ps_dedup_check_add(struct ps_dedup *d, uint64_t key, uint32_t src,
		       long long pos)
{
	size_t i = (size_t)key & d->mask;
	struct dentry *slot;

	if (!key)
		key = 1;
	i = (size_t)key & d->mask;
	while (d->table[i]) {
		if (d->table[i] == key)
			return 1;
		i = (i + 1) & d->mask;
	}
	if (d->count == d->size && d->size < d->cap) {
		dedup_grow(d);
		i = (size_t)key & d->mask;
		while (d->table[i])
			i = (i + 1) & d->mask;
	} else if (d->count == d->cap) {
		table_remove(d, d->ring[d->head].key);
		d->head = (d->head + 1) % d->size;
		d->count--;
		/* the slot found above may have moved: search again */
		i = (size_t)key & d->mask;
		while (d->table[i])
			i = (i + 1) & d->mask;
	}
	d->table[i] = key;
	slot = &d->ring[(d->head + d->count) % d->size];
	slot->key = key;
	slot->pos = pos;
	slot->src = src;
	d->count++;
	return 0;
}

/* Start loading the cache lines ps_dedup_check_add will touch. */
static inline void dedup_prefetch(const struct ps_dedup *d, uint64_t key)
{
	__builtin_prefetch(&d->table[(size_t)key & d->mask]);
	if (d->count == d->cap)
		__builtin_prefetch(&d->table[(size_t)d->ring[d->head].key &
					     d->mask]);
}

#define DEDUP_MAGIC "PSDEDUP1"

/* Serialise the window, oldest first: magic, count, entries of 20 bytes. */
static void dedup_format(const struct ps_dedup *d, struct ps_buf *b)
{
	uint64_t n = d->count;
	size_t i;

	ps_buf_add(b, DEDUP_MAGIC, 8);
	ps_buf_add(b, &n, 8);
	ps_buf_grow(b, d->count * 20);
	for (i = 0; i < d->count; i++) {
		const struct dentry *x = &d->ring[(d->head + i) % d->size];

		memcpy(b->data + b->len, &x->key, 8);
		memcpy(b->data + b->len + 8, &x->pos, 8);
		memcpy(b->data + b->len + 16, &x->src, 4);
		b->len += 20;
	}
	b->data[b->len] = '\0';
}

/* Hash of each checkpoint source, for filtering entries on load. */
struct srcpos {
	uint32_t h;
	long long pos;
};

/*
 * Add the entries of the window file path to d: those of the sources of
 * cp at or below the position cp holds for them (the rest belong to a
 * batch never committed, or to other sources), and with plain, those of
 * plain lines.  A missing file adds nothing.  Returns 0, or -1 with e
 * filled (78 not a window file, 74).
 */
static int dedup_load(struct ps_dedup *d, const char *path,
		      const struct ps_checkpoint *cp, int plain,
		      long long *dropped, struct ps_error *e)
{
	struct ps_buf b = PS_BUF_INIT;
	struct srcpos *sp;
	size_t ns = ps_checkpoint_count(cp), i, k;
	uint64_t n;
	int rc;

	*dropped = 0;
	rc = ps_seal_read(path, 16 + (size_t)2e9, PS_SEAL_BIN, &b, e);
	if (rc)
		return rc > 0 ? 0 : -1;
	memcpy(&n, b.len >= 16 ? b.data + 8 : "\0\0\0\0\0\0\0\0", 8);
	if (b.len < 16 || memcmp(b.data, DEDUP_MAGIC, 8) ||
	    n > (b.len - 16) / 20 || b.len != 16 + n * 20) {
		ps_buf_release(&b);
		return ps_error_set(e, PS_EX_CONFIG,
				    "%s: not a ps-silver dedup file", path);
	}
	sp = ps_xcalloc(ns + 1, sizeof(*sp));
	for (i = 0; i < ns; i++) {
		const char *s;
		size_t len;

		ps_checkpoint_entry(cp, i, &s, &len, &sp[i].pos);
		sp[i].h = source_hash(s, len);
	}
	for (i = 0; i < n; i++) {
		struct dentry x;
		const char *p = b.data + 16 + i * 20;
		long long lim = -1;

		memcpy(&x.key, p, 8);
		memcpy(&x.pos, p + 8, 8);
		memcpy(&x.src, p + 16, 4);
		if (x.src != PS_DEDUP_PLAIN) {
			for (k = 0; k < ns; k++)
				if (sp[k].h == x.src)
					lim = sp[k].pos;
			if (x.pos > lim) {
				(*dropped)++;	/* an uncommitted batch */
				continue;
			}
		} else if (!plain) {
			continue;
		}
		ps_dedup_check_add(d, x.key, x.src, x.pos);
	}
	free(sp);
	ps_buf_release(&b);
	return 0;
}

/* ------------------------------------------------------------------ */
/* The silver schema                                                   */
/* ------------------------------------------------------------------ */

/* The columns: lib/clean.h, the one definition ps-gold reads too.  This
 * is the table's schema (the Delta log's schemaString). */
static const struct ps_pq_column schema[PS_CLEAN_NCOLS] = {
#define SCHEMA_COL(id, name, type, nullable, no_dict, gold)	\
	{ name, PS_PQ_##type, nullable, no_dict },
	PS_CLEAN_COLUMNS(SCHEMA_COL)
#undef SCHEMA_COL
};

/*
 * The columns of a data file: the table's but the partition column
 * admission_date, whose value is the file's partition value in the log
 * (Delta: partition columns are not stored in the data files).  FC(ID)
 * is the data file's index of clean column PS_CLEAN_ID; the partition
 * column's entry is put after the FILE_NCOLS a file has.
 */
#define PART_COL PS_CLEAN_ADMISSION_DATE
#define FILE_NCOLS (PS_CLEAN_NCOLS - 1)
#define FC_OF(c) ((c) == PART_COL ? FILE_NCOLS : (c) < PART_COL ? (c) : (c) - 1)
#define FC(id) FC_OF(PS_CLEAN_##id)
static const struct ps_pq_column file_schema[FILE_NCOLS + 1] = {
#define FILE_COL(id, name, type, nullable, no_dict, gold)	\
	[FC(id)] = { name, PS_PQ_##type, nullable, no_dict },
	PS_CLEAN_COLUMNS(FILE_COL)
#undef FILE_COL
};

/* Strings of a row, stored one after another in the batch arena. */
enum { S_EVENT_ID, S_ENCOUNTER_ID, S_EVENT_TYPE, S_PATIENT_ID, S_GENDER,
       S_DEPARTMENT, S_DISPOSITION, S_FLAGS, S_EXTRA, S_COUNT };

#define HAS_LOS (1u << 30)
#define HAS_WAIT (1u << 29)
#define PLAIN_STRS (1u << 28)	/* ps_event's plain: strings need no escape */

struct row {
	long long position;
	int64_t ingest_time, event_time, arrival_time, admission_time,
		discharge_time, seen_time, decision_time;
	double los_hours, wait_minutes;
	int32_t age, hospital_id, bed_id, triage_level, date;
	unsigned present;	/* ps_event bits plus HAS_LOS, HAS_WAIT */
	int unknown_dept;
	int src;		/* index in the batch's sources */
	size_t off;		/* first string in the arena */
	uint32_t slen[S_COUNT];
};

/* ------------------------------------------------------------------ */
/* The engine                                                          */
/* ------------------------------------------------------------------ */

enum {
	K_RECORDS, K_KEPT, K_QUARANTINED, K_FLAGGED, K_DUPLICATES, K_SKIPPED,
	K_BATCHES, K_FILES, K_RULES
};

/*
 * A source of a shared writer (--shared): the lock that makes this
 * process its only writer while a batch of ours holds it, and its own
 * dedup window, saved per source so that it travels with the source.
 */
struct ssrc {
	struct ps_buf id;
	uint32_t hash;
	struct ps_dedup *dd;
	struct ps_lake_lock *lock;	/* held while holders > 0 */
	int holders;		/* batches (cur, fly) holding it; under mu */
	int seen;		/* locked once by this process */
	long long known;	/* dd is the window as of this position */
};

/* One source of a batch: its range and its quarantined records. */
struct bsrc {
	struct ps_buf id;	/* the source id */
	int plain;		/* plain lines: not checkpointed */
	uint32_t hash;		/* for the dedup window */
	long long first, last, nrec;
	int64_t q_ingest;	/* ingest time of its first quarantined */
	struct ps_buf quar;	/* quarantine NDJSON */
	long long nquar;
	struct ssrc *ss;	/* --shared: its lock and window */
	struct ps_buf dimg;	/* --shared: its window as of the batch */
};

/* A batch cuts a commit: at most MAX_SOURCES sources (Kafka partitions
 * interleave), each committed with its own files and range. */
#define MAX_SOURCES 64

/* Records between two commits. */
struct batch {
	struct bsrc src[MAX_SOURCES];
	int nsrc;
	int last_src;		/* where the previous record went */
	long long nrec;
	double started;		/* monotonic time of its first record */
	struct row *rows;
	size_t nrows, caprows;
	struct ps_buf arena;
};

struct silver {
	const struct ps_silver_opts *o;
	ps_silver_write_fn out;
	void *out_ctx;
	volatile int out_gone;
	int halt;		/* --shared: stopped waiting for a source;
				   read no further record */
	struct ps_departments ds;
	struct ps_checkpoint *cp;
	struct ps_dedup *dd;
	struct ps_event_parser *ep;
	struct ps_hl7map *map;		/* HL7 v2 / FHIR payloads */
	struct ps_feed *feed;
	struct ps_envelope_parser *envp;
	struct ps_gzpool *gz;
	char *silver_dir, *quar_dir, *dedup_path;
	long long run_id;
	int64_t wall_now;	/* ingest time of plain lines */
	char plain_source[128];
	size_t plain_source_len;

	struct batch bt[2];
	struct batch *cur;	/* being filled by producer_main */
	struct batch *fly;	/* being committed by commit_loop */
	struct ps_stage *stage;	/* lock, commits (commit_loop's) */
	struct ps_buf dedup_img;	/* window as of the batch in flight */
	int in_fd;
	int prod_rc;		/* the producer's result */
	struct ps_error prod_err;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int busy;		/* fly holds a batch to commit */
	int quit;		/* the producer is done */
	int failed;		/* a commit failed: fe holds why */
	struct ps_error fe;
	struct ps_event ev;
	struct ps_buf line;	/* scratch */
	struct ps_buf json;	/* scratch */
	struct ps_buf srcjson;	/* emit_rows: the batch's source ids as JSON */
	struct ps_counter counters[K_RULES + PS_RULE_COUNT];
	struct ps_progress prog;
	long long total_quarantined;

	/* the second writer of a commit's partition files (commit_batch) */
	struct pwjob *pw;
	pthread_t pw_thread;
	int pw_started;

	/* --shared (o->shared, not a dry run) */
	int shared;
	struct ssrc **ss;	/* every source seen (the producer's) */
	size_t nss;
	struct ps_delta_snapshot view;	/* the producer's look at the log */
	char *src_dir;		/* ps_lake_source_dir */
};

static void rule_count(struct silver *s, enum ps_rule r)
{
	s->counters[K_RULES + r].value++;
}

/* The path of a batch part of table t (lib/lake.h) for date. */
static char *part_name(struct silver *s, const struct bsrc *bs,
		       enum ps_lake_table t, const char *date)
{
	struct ps_buf b = PS_BUF_INIT;

	ps_lake_part_path(&b, t, t == PS_LAKE_SILVER ? s->silver_dir :
			  s->quar_dir, date, bs->id.data, bs->id.len,
			  bs->first, bs->last, bs->plain ? s->run_id : -1);
	return ps_buf_detach(&b, NULL);
}

/* The decimal form of v at o; returns the end. */
static char *put_i64(char *o, long long v)
{
	char tmp[24], *p = tmp + sizeof(tmp);
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v
				     : (unsigned long long)v;
	size_t n;

	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--p = '-';
	n = (size_t)(tmp + sizeof(tmp) - p);
	memcpy(o, p, n);
	return o + n;
}

/*
 * Append one kept row as JSON (the format of ps_pq_row_json); src is its
 * source id as JSON.  The room for the whole record is made first (what
 * is not a string is at most ROW_FIXED bytes, a string at most 6 bytes a
 * byte: ps_json_add_str), so that keys, numbers and times are stored at a
 * cursor.  The strings of a row read by the event parser's fast path
 * (PLAIN_STRS) need no escape and are copied; the others and the doubles
 * go through b.
 */
#define ROW_FIXED 2048
static void row_json(const struct batch *bt, const struct row *r,
		     const char *src, size_t srclen, struct ps_buf *b)
{
	const char *a = bt->arena.data + r->off;
	const char *str[S_COUNT], *band;
	size_t need = ROW_FIXED + srclen;
	char *o;
	int i;

	for (i = 0; i < S_COUNT; i++) {
		str[i] = a;
		a += r->slen[i];
		need += 6 * (size_t)r->slen[i];
	}
	ps_buf_grow(b, need);
	o = b->data + b->len;
#define LIT(k)								\
	do {								\
		memcpy(o, k, sizeof(k) - 1);				\
		o += sizeof(k) - 1;					\
	} while (0)
#define VIA_BUF(call)							\
	do {								\
		b->len = (size_t)(o - b->data);				\
		call;							\
		o = b->data + b->len;					\
	} while (0)
#define TS(k, v, has)							\
	do {								\
		LIT(k);							\
		if (has) {						\
			*o++ = '"';					\
			o += ps_time_format((v), o, -1);		\
			*o++ = '"';					\
		} else {						\
			LIT("null");					\
		}							\
	} while (0)
#define STR(k, i, has)							\
	do {								\
		LIT(k);							\
		if (!(has)) {						\
			LIT("null");					\
		} else if (r->present & PLAIN_STRS) {			\
			*o++ = '"';					\
			memcpy(o, str[i], r->slen[i]);			\
			o += r->slen[i];				\
			*o++ = '"';					\
		} else {						\
			VIA_BUF(ps_json_add_str(b, str[i], r->slen[i]));\
		}							\
	} while (0)
#define INT(k, v, has)							\
	do {								\
		LIT(k);							\
		if (has)						\
			o = put_i64(o, (v));				\
		else							\
			LIT("null");					\
	} while (0)
#define DBL(k, v, has)							\
	do {								\
		LIT(k);							\
		if (has)						\
			VIA_BUF(ps_json_add_double(b, (v)));		\
		else							\
			LIT("null");					\
	} while (0)
	LIT("{\"source\":");
	memcpy(o, src, srclen);
	o += srclen;
	INT(",\"position\":", r->position, 1);
	TS(",\"ingest_time\":", r->ingest_time, 1);
	STR(",\"event_id\":", S_EVENT_ID, r->present & 1u << PS_EF_EVENT_ID);
	STR(",\"encounter_id\":", S_ENCOUNTER_ID, 1);
	STR(",\"event_type\":", S_EVENT_TYPE,
	    r->present & 1u << PS_EF_EVENT_TYPE);
	TS(",\"event_time\":", r->event_time,
	   r->present & 1u << PS_EF_EVENT_TIME);
	STR(",\"patient_id\":", S_PATIENT_ID, 1);
	STR(",\"gender\":", S_GENDER, 1);
	INT(",\"age\":", r->age, 1);
	LIT(",\"age_band\":\"");
	band = ps_silver_age_band(r->age);
	i = (int)strlen(band);
	memcpy(o, band, (size_t)i);
	o += i;
	*o++ = '"';
	STR(",\"department\":", S_DEPARTMENT, 1);
	INT(",\"hospital_id\":", r->hospital_id, 1);
	INT(",\"bed_id\":", r->bed_id, r->present & 1u << PS_EF_BED_ID);
	TS(",\"arrival_time\":", r->arrival_time,
	   r->present & 1u << PS_EF_ARRIVAL_TIME);
	TS(",\"admission_time\":", r->admission_time, 1);
	TS(",\"discharge_time\":", r->discharge_time,
	   r->present & 1u << PS_EF_DISCHARGE_TIME);
	LIT(",\"admission_date\":\"");
	o += ps_date_format(r->admission_time, o);
	*o++ = '"';
	DBL(",\"los_hours\":", r->los_hours, r->present & HAS_LOS);
	DBL(",\"wait_minutes\":", r->wait_minutes, r->present & HAS_WAIT);
	INT(",\"triage_level\":", r->triage_level,
	    r->present & 1u << PS_EF_TRIAGE_LEVEL);
	TS(",\"seen_time\":", r->seen_time,
	   r->present & 1u << PS_EF_SEEN_TIME);
	TS(",\"decision_time\":", r->decision_time,
	   r->present & 1u << PS_EF_DECISION_TIME);
	STR(",\"disposition\":", S_DISPOSITION,
	    r->present & 1u << PS_EF_DISPOSITION);
	if (r->unknown_dept)
		LIT(",\"unknown_department\":true");
	else
		LIT(",\"unknown_department\":false");
	STR(",\"flags\":", S_FLAGS, r->slen[S_FLAGS]);
	STR(",\"extra\":", S_EXTRA, r->slen[S_EXTRA]);
	*o++ = '}';
	b->len = (size_t)(o - b->data);
	b->data[b->len] = '\0';
#undef LIT
#undef VIA_BUF
#undef TS
#undef STR
#undef INT
#undef DBL
}

/* Write the rows of one admission date (idx[0..n)) to one Parquet file. */
static int write_partition(struct silver *s, const struct batch *bt,
			   const size_t *idx, size_t n, char **pathp,
			   struct ps_fsgroup *g, struct ps_error *e)
{
	struct ps_pq_options po = PS_PQ_OPTIONS_INIT;
	struct ps_pq_writer *w;
	char date[11], num[24];
	const struct row *r0 = &bt->rows[idx[0]];
	const struct bsrc *bs = &bt->src[r0->src];
	char *src;
	size_t i;
	int k;

	ps_date_format(r0->admission_time, date);
	*pathp = part_name(s, bs, PS_LAKE_SILVER, date);
	po.codec = s->o->codec;
	po.row_group_bytes = 16u << 20;
	po.level = 1;		/* fast; silver files are few and small */
	po.group = g;
	w = ps_pq_open(*pathp, file_schema, FILE_NCOLS, &po, e);
	if (!w)
		return -1;
	ps_pq_add_kv(w, "pulsestream.schema", "silver/"
		     PS_SILVER_SCHEMA_VERSION);
	src = ps_xmemdup(bs->id.data, bs->id.len);
	ps_pq_add_kv(w, "pulsestream.source", src);
	free(src);
	snprintf(num, sizeof(num), "%lld", bs->first);
	ps_pq_add_kv(w, "pulsestream.first", num);
	snprintf(num, sizeof(num), "%lld", bs->last);
	ps_pq_add_kv(w, "pulsestream.last", num);
	for (i = 0; i < n; i++) {
		const struct row *r = &bt->rows[idx[i]];
		const char *a = bt->arena.data + r->off;
		const char *str[S_COUNT];
		const char *band;

		for (k = 0; k < S_COUNT; k++) {
			str[k] = a;
			a += r->slen[k];
		}
		ps_pq_set_string(w, FC(SOURCE), bs->id.data, bs->id.len);
		ps_pq_set_int64(w, FC(POSITION), r->position);
		ps_pq_set_int64(w, FC(INGEST_TIME), r->ingest_time);
		if (r->present & 1u << PS_EF_EVENT_ID)
			ps_pq_set_string(w, FC(EVENT_ID), str[S_EVENT_ID],
					 r->slen[S_EVENT_ID]);
		ps_pq_set_string(w, FC(ENCOUNTER_ID), str[S_ENCOUNTER_ID],
				 r->slen[S_ENCOUNTER_ID]);
		if (r->present & 1u << PS_EF_EVENT_TYPE)
			ps_pq_set_string(w, FC(EVENT_TYPE), str[S_EVENT_TYPE],
					 r->slen[S_EVENT_TYPE]);
		if (r->present & 1u << PS_EF_EVENT_TIME)
			ps_pq_set_int64(w, FC(EVENT_TIME), r->event_time);
		ps_pq_set_string(w, FC(PATIENT_ID), str[S_PATIENT_ID],
				 r->slen[S_PATIENT_ID]);
		ps_pq_set_string(w, FC(GENDER), str[S_GENDER],
				 r->slen[S_GENDER]);
		ps_pq_set_int32(w, FC(AGE), r->age);
		band = ps_silver_age_band(r->age);
		ps_pq_set_string(w, FC(AGE_BAND), band, strlen(band));
		ps_pq_set_string(w, FC(DEPARTMENT), str[S_DEPARTMENT],
				 r->slen[S_DEPARTMENT]);
		ps_pq_set_int32(w, FC(HOSPITAL_ID), r->hospital_id);
		if (r->present & 1u << PS_EF_BED_ID)
			ps_pq_set_int32(w, FC(BED_ID), r->bed_id);
		if (r->present & 1u << PS_EF_ARRIVAL_TIME)
			ps_pq_set_int64(w, FC(ARRIVAL_TIME), r->arrival_time);
		ps_pq_set_int64(w, FC(ADMISSION_TIME), r->admission_time);
		if (r->present & 1u << PS_EF_DISCHARGE_TIME)
			ps_pq_set_int64(w, FC(DISCHARGE_TIME),
					r->discharge_time);
		if (r->present & HAS_LOS)
			ps_pq_set_double(w, FC(LOS_HOURS), r->los_hours);
		if (r->present & HAS_WAIT)
			ps_pq_set_double(w, FC(WAIT_MINUTES), r->wait_minutes);
		if (r->present & 1u << PS_EF_TRIAGE_LEVEL)
			ps_pq_set_int32(w, FC(TRIAGE_LEVEL),
					r->triage_level);
		if (r->present & 1u << PS_EF_SEEN_TIME)
			ps_pq_set_int64(w, FC(SEEN_TIME), r->seen_time);
		if (r->present & 1u << PS_EF_DECISION_TIME)
			ps_pq_set_int64(w, FC(DECISION_TIME),
					r->decision_time);
		if (r->present & 1u << PS_EF_DISPOSITION)
			ps_pq_set_string(w, FC(DISPOSITION),
					 str[S_DISPOSITION],
					 r->slen[S_DISPOSITION]);
		ps_pq_set_bool(w, FC(UNKNOWN_DEPARTMENT), r->unknown_dept);
		if (r->slen[S_FLAGS])
			ps_pq_set_string(w, FC(FLAGS), str[S_FLAGS],
					 r->slen[S_FLAGS]);
		if (r->slen[S_EXTRA])
			ps_pq_set_string(w, FC(EXTRA), str[S_EXTRA],
					 r->slen[S_EXTRA]);
		if (ps_pq_end_row(w, e) < 0) {
			ps_pq_abort(w);
			if (e && e->code == PS_EX_DATAERR)
				e->code = PS_EX_SOFTWARE;
			return -1;
		}
	}
	return ps_pq_close(w, e);
}

/*
 * Order the rows of a batch by source, then admission date, keeping the
 * position order within each (a counting sort over sources x the span of
 * days, or a stable insertion sort when that is huge).
 */
static void sort_rows(const struct row *rows, size_t n, int nsrc,
		      size_t *idx)
{
	int32_t lo = rows[0].date, hi = rows[0].date;
	size_t i, *count, nkeys;
	int64_t span;

	for (i = 1; i < n; i++) {
		if (rows[i].date < lo)
			lo = rows[i].date;
		if (rows[i].date > hi)
			hi = rows[i].date;
	}
	span = (int64_t)hi - lo + 1;
	if (span * nsrc > 65536) {
		size_t j, k;

		for (i = 0; i < n; i++) {
			for (j = i; j > 0 &&
			     (rows[idx[j - 1]].src > rows[i].src ||
			      (rows[idx[j - 1]].src == rows[i].src &&
			       rows[idx[j - 1]].date > rows[i].date)); j--)
				;
			for (k = i; k > j; k--)
				idx[k] = idx[k - 1];
			idx[j] = i;
		}
		return;
	}
#define KEYOF(r) ((size_t)(r).src * (size_t)span + (size_t)((r).date - lo))
	nkeys = (size_t)span * (size_t)nsrc;
	count = ps_xcalloc(nkeys + 1, sizeof(*count));
	for (i = 0; i < n; i++)
		count[KEYOF(rows[i]) + 1]++;
	for (i = 1; i <= nkeys; i++)
		count[i] += count[i - 1];
	for (i = 0; i < n; i++)
		idx[count[KEYOF(rows[i])]++] = i;
#undef KEYOF
	free(count);
}

static void batch_reset(struct batch *bt)
{
	int i;

	for (i = 0; i < bt->nsrc; i++) {
		bt->src[i].nrec = 0;
		bt->src[i].nquar = 0;
		ps_buf_reset(&bt->src[i].quar);
	}
	bt->nsrc = 0;
	bt->last_src = 0;
	bt->nrows = 0;
	bt->nrec = 0;
	ps_buf_reset(&bt->arena);
}

/* What a commit's steps (lib/stage.h) work on. */
struct commit_ctx {
	struct silver *s;
	struct batch *bt;
};

static char *ssrc_dedup_path(const struct silver *s, const struct ssrc *x);

/* Step 2: the dedup window as of the batch (--shared: the window of
 * each of its sources). */
static int save_dedup(void *ctx, struct ps_error *e)
{
	struct silver *s = ((struct commit_ctx *)ctx)->s;
	struct batch *bt = ((struct commit_ctx *)ctx)->bt;
	int k, rc = 0;

	if (!s->shared)
		return ps_seal_write(s->dedup_path, s->dedup_img.data,
				     s->dedup_img.len, PS_SEAL_BIN, e);
	for (k = 0; k < bt->nsrc && rc == 0; k++) {
		const struct bsrc *bs = &bt->src[k];
		char *path;

		if (!bs->ss || !bs->nrec)
			continue;
		path = ssrc_dedup_path(s, bs->ss);
		rc = ps_seal_write(path, bs->dimg.data, bs->dimg.len,
				   PS_SEAL_BIN, e);
		free(path);
	}
	return rc;
}

/* Step 4: the kept records on the output. */
static int emit_rows(void *ctx, struct ps_error *e)
{
	struct silver *s = ((struct commit_ctx *)ctx)->s;
	struct batch *bt = ((struct commit_ctx *)ctx)->bt;
	size_t i, soff[MAX_SOURCES + 1];
	int k;

	(void)e;
	if (s->o->no_output || s->out_gone || !bt->nrows)
		return 0;
	/* Each source's id as JSON, once. */
	ps_buf_reset(&s->srcjson);
	for (k = 0; k < bt->nsrc; k++) {
		soff[k] = s->srcjson.len;
		ps_json_add_str(&s->srcjson, bt->src[k].id.data,
				bt->src[k].id.len);
	}
	soff[k] = s->srcjson.len;
	ps_buf_reset(&s->json);
	for (i = 0; i < bt->nrows; i++) {
		const struct row *r = &bt->rows[i];

		row_json(bt, r, s->srcjson.data + soff[r->src],
			 soff[r->src + 1] - soff[r->src], &s->json);
		ps_buf_addc(&s->json, '\n');
		if (s->json.len >= 64 * 1024 || i + 1 == bt->nrows) {
			if (s->out(s->out_ctx, s->json.data,
				   s->json.len) != 0) {
				s->out_gone = 1;
				return 0;
			}
			ps_buf_reset(&s->json);
		}
	}
	if (s->out(s->out_ctx, NULL, 0) != 0)
		s->out_gone = 1;
	return 0;
}

/* A Parquet file of the batch joins the silver Delta table's commit,
 * with its partition value (the directory's). */
static void add_data(struct silver *s, const char *path)
{
	static const char *const key[] = { "admission_date" };
	const char *eq = strrchr(path, '=');
	char val[11];
	const char *vals[1] = { val };

	memcpy(val, eq + 1, 10);
	val[10] = '\0';
	ps_stage_add_data(s->stage, 0, path, key, vals, 1);
}

/* A batch no longer holds source x (--shared): the last one releases its
 * lock (what was written under it is committed, or removed again). */
static void unpin(struct silver *s, struct ssrc *x)
{
	struct ps_lake_lock *l = NULL;

	pthread_mutex_lock(&s->mu);
	if (--x->holders == 0) {
		l = x->lock;
		x->lock = NULL;
	}
	pthread_mutex_unlock(&s->mu);
	ps_lake_source_unlock(l);
}

/* The batch bt is committed or removed: it holds its sources no more. */
static void release_sources(struct silver *s, struct batch *bt)
{
	int k;

	for (k = 0; k < bt->nsrc; k++)
		if (bt->src[k].ss) {
			unpin(s, bt->src[k].ss);
			bt->src[k].ss = NULL;
		}
}

/*
 * The partition files of a commit are written by two threads, the
 * committer and a helper started at the first commit that has more than
 * one (a day's rows of one source make one file, and a batch usually
 * spans several days): both take the next group until none is left, each
 * into its own commit group.  A file's bytes do not depend on the thread
 * that writes it.
 */
struct pwjob {
	struct silver *s;
	const struct batch *bt;
	const size_t *idx, *cut;	/* group k: idx[cut[k]..cut[k + 1]) */
	size_t ngroups;
	char **paths;			/* of group k */
	atomic_size_t next;		/* the next group to write */
	atomic_int failed;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int posted, done, quit;		/* under mu */
	struct ps_fsgroup *g;		/* the helper's files */
	struct ps_error e;		/* the helper's error */
};

/* Write groups of j until none is left or one failed.  0 or -1. */
static int pw_run(struct pwjob *j, struct ps_fsgroup *g, struct ps_error *e)
{
	size_t k;

	while (!atomic_load(&j->failed) &&
	       (k = atomic_fetch_add(&j->next, 1)) < j->ngroups)
		if (write_partition(j->s, j->bt, j->idx + j->cut[k],
				    j->cut[k + 1] - j->cut[k], &j->paths[k],
				    g, e) < 0) {
			atomic_store(&j->failed, 1);
			return -1;
		}
	return 0;
}

static void *pw_main(void *arg)
{
	struct pwjob *j = arg;

	pthread_mutex_lock(&j->mu);
	for (;;) {
		while (!j->posted && !j->quit)
			pthread_cond_wait(&j->cv, &j->mu);
		if (j->quit)
			break;
		j->posted = 0;
		pthread_mutex_unlock(&j->mu);
		pw_run(j, j->g, &j->e);
		pthread_mutex_lock(&j->mu);
		j->done = 1;
		pthread_cond_broadcast(&j->cv);
	}
	pthread_mutex_unlock(&j->mu);
	ps_pq_thread_release();
	return NULL;
}

/* Stop the helper (if any) and free its job.  Never fails. */
static void pw_stop(struct silver *s)
{
	if (s->pw_started) {
		pthread_mutex_lock(&s->pw->mu);
		s->pw->quit = 1;
		pthread_cond_broadcast(&s->pw->cv);
		pthread_mutex_unlock(&s->pw->mu);
		pthread_join(s->pw_thread, NULL);
		s->pw_started = 0;
	}
	if (s->pw) {
		pthread_mutex_destroy(&s->pw->mu);
		pthread_cond_destroy(&s->pw->cv);
		free(s->pw);
		s->pw = NULL;
	}
}

/*
 * Write the ngroups partition files of bt (group k: idx[cut[k]..cut[k+1])
 * to paths[k]), the helper's into its commit group *hg (the caller
 * commits or frees it), the committer's into g.  Returns 0, or -1 with e
 * filled; the paths written are in paths[] either way.
 */
static int write_partitions(struct silver *s, const struct batch *bt,
			    const size_t *idx, const size_t *cut,
			    size_t ngroups, char **paths,
			    struct ps_fsgroup *g, struct ps_fsgroup **hg,
			    struct ps_error *e)
{
	struct pwjob *j;
	int rc;

	if (!s->pw) {
		s->pw = ps_xcalloc(1, sizeof(*s->pw));
		pthread_mutex_init(&s->pw->mu, NULL);
		pthread_cond_init(&s->pw->cv, NULL);
	}
	j = s->pw;
	j->s = s;
	j->bt = bt;
	j->idx = idx;
	j->cut = cut;
	j->ngroups = ngroups;
	j->paths = paths;
	atomic_store(&j->next, 0);
	atomic_store(&j->failed, 0);
	if (ngroups > 1 && !s->pw_started &&
	    pthread_create(&s->pw_thread, NULL, pw_main, j) == 0)
		s->pw_started = 1;	/* else the committer writes all */
	if (ngroups > 1 && s->pw_started) {
		*hg = ps_fsgroup_new();
		memset(&j->e, 0, sizeof(j->e));
		pthread_mutex_lock(&j->mu);
		j->g = *hg;
		j->done = 0;
		j->posted = 1;
		pthread_cond_broadcast(&j->cv);
		pthread_mutex_unlock(&j->mu);
		rc = pw_run(j, g, e);
		pthread_mutex_lock(&j->mu);
		while (!j->done)
			pthread_cond_wait(&j->cv, &j->mu);
		pthread_mutex_unlock(&j->mu);
		if (!rc && atomic_load(&j->failed)) {
			*e = j->e;
			rc = -1;
		}
		return rc;
	}
	return pw_run(j, g, e);
}

/*
 * Commit the batch (silver.h, steps 1-4, in the order of lib/stage.h).
 * On failure, the files of the batch already in place are removed again
 * and the checkpoint is left as it was.
 */
static int commit_batch(struct silver *s, struct batch *bt,
			struct ps_error *e)
{
	struct commit_ctx cc = { s, bt };
	char **paths = NULL;
	size_t *idx = NULL, *cut = NULL, npaths = 0, i, j;
	int rc = -1, k;
	struct ps_fsgroup *g = NULL, *hg = NULL;

	if (s->o->dry_run) {
		s->counters[K_BATCHES].value++;
		emit_rows(&cc, e);
		batch_reset(bt);
		return 0;
	}
	g = ps_fsgroup_new();
	paths = ps_xcalloc(bt->nrows + (size_t)bt->nsrc + 1, sizeof(char *));
	if (bt->nrows) {
		idx = ps_xmalloc(bt->nrows * sizeof(*idx));
		cut = ps_xmalloc((bt->nrows + 1) * sizeof(*cut));
		sort_rows(bt->rows, bt->nrows, bt->nsrc, idx);
		for (i = 0; i < bt->nrows; i = j) {
			const struct row *ri = &bt->rows[idx[i]];

			for (j = i + 1; j < bt->nrows &&
			     bt->rows[idx[j]].date == ri->date &&
			     bt->rows[idx[j]].src == ri->src; j++)
				;
			cut[npaths++] = i;
		}
		cut[npaths] = bt->nrows;
		if (write_partitions(s, bt, idx, cut, npaths, paths, g, &hg,
				     e) < 0 || ps_fsgroup_commit(g, e) < 0 ||
		    (hg && ps_fsgroup_commit(hg, e) < 0))
			goto fail;
		s->counters[K_FILES].value += npaths;
		for (i = 0; i < npaths; i++)
			add_data(s, paths[i]);
	}
	for (k = 0; k < bt->nsrc; k++) {
		const struct bsrc *bs = &bt->src[k];
		struct ps_gzpool_file *f;
		char date[11];

		if (!bs->nquar)
			continue;
		ps_date_format(bs->q_ingest, date);
		paths[npaths++] = part_name(s, bs, PS_LAKE_SILVER_QUARANTINE,
					    date);
		f = ps_gzpool_open(s->gz, paths[npaths - 1], e);
		if (!f)
			goto fail;
		if (ps_gzpool_write(f, bs->quar.data, bs->quar.len, e) < 0) {
			ps_gzpool_abort(f);
			goto fail;
		}
		if (ps_gzpool_commit(f, NULL, e) < 0)
			goto fail;
		ps_stage_add_file(s->stage, paths[npaths - 1]);
		s->counters[K_FILES].value++;
	}
	for (k = 0; k < bt->nsrc; k++)
		if (!bt->src[k].plain && bt->src[k].nrec)
			ps_stage_set_position(s->stage, bt->src[k].id.data,
					      bt->src[k].id.len,
					      bt->src[k].last);
	if (ps_stage_commit(s->stage, save_dedup, emit_rows, &cc, e) < 0)
		goto fail;
	release_sources(s, bt);
	s->counters[K_BATCHES].value++;
	batch_reset(bt);
	rc = 0;
	goto done;
fail:
	/* Nothing of a failed batch stays visible. */
	ps_stage_abort(s->stage);
	for (i = 0; i < npaths; i++)
		if (paths[i])
			unlink(paths[i]);
	ps_log(PS_ERROR, "commit failed, batch removed",
	       PS_I("records", bt->nrec), PS_I("sources", bt->nsrc));
	release_sources(s, bt);
done:
	ps_fsgroup_free(g);
	ps_fsgroup_free(hg);
	free(cut);
	for (i = 0; i < npaths; i++)
		free(paths[i]);
	free(paths);
	free(idx);
	return rc;
}

/*
 * The committer: commits fly whenever busy is set, until the producer is
 * done.  It runs in the calling thread (which keeps the thread-local
 * compression contexts of lib/parquet reachable until exit), while
 * producer_main reads and parses.
 */
static void commit_loop(struct silver *s)
{
	struct ps_error we;

	pthread_mutex_lock(&s->mu);
	for (;;) {
		while (!s->busy && !s->quit)
			pthread_cond_wait(&s->cv, &s->mu);
		if (!s->busy)
			break;
		pthread_mutex_unlock(&s->mu);
		memset(&we, 0, sizeof(we));
		if (commit_batch(s, s->fly, &we) < 0) {
			pthread_mutex_lock(&s->mu);
			s->failed = 1;
			s->fe = we;
		} else {
			pthread_mutex_lock(&s->mu);
		}
		s->busy = 0;
		pthread_cond_broadcast(&s->cv);
	}
	pthread_mutex_unlock(&s->mu);
}

/* Wait until the batch in flight is committed.  Returns 0, or -1 with e
 * filled when a commit failed. */
static int commit_wait(struct silver *s, struct ps_error *e)
{
	int failed;

	pthread_mutex_lock(&s->mu);
	while (s->busy)
		pthread_cond_wait(&s->cv, &s->mu);
	failed = s->failed;
	if (failed && e)
		*e = s->fe;
	pthread_mutex_unlock(&s->mu);
	return failed ? -1 : 0;
}

/*
 * Hand the current batch to the committer thread (after the previous one
 * is committed), so that parsing goes on while files are written.  The
 * dedup window is captured now: it is what the batch's commit must save.
 * Returns 0, or -1 with e filled when the previous commit failed.
 */
static int commit(struct silver *s, struct ps_error *e)
{
	struct batch *t;
	int i;

	if (!s->cur->nrec)
		return 0;
	if (commit_wait(s, e) < 0)
		return -1;
	for (i = 0; i < s->cur->nsrc; i++) {
		struct bsrc *bs = &s->cur->src[i];

		if (!bs->plain && bs->nrec)
			ps_checkpoint_set(s->cp, bs->id.data, bs->id.len,
					  bs->last);
		if (bs->ss) {
			bs->ss->known = bs->last;
			ps_buf_reset(&bs->dimg);
			dedup_format(bs->ss->dd, &bs->dimg);
		}
	}
	if (!s->o->dry_run && !s->shared) {
		ps_buf_reset(&s->dedup_img);
		dedup_format(s->dd, &s->dedup_img);
	}
	pthread_mutex_lock(&s->mu);
	t = s->fly;
	s->fly = s->cur;
	s->cur = t;
	s->busy = 1;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Several writers of one table (--shared)                             */
/* ------------------------------------------------------------------ */

/* The state of source (len bytes), made on first use. */
static struct ssrc *ssrc_get(struct silver *s, const char *src, size_t len)
{
	struct ssrc *x;
	size_t i;

	for (i = 0; i < s->nss; i++)
		if (s->ss[i]->id.len == len &&
		    !memcmp(s->ss[i]->id.data, src, len))
			return s->ss[i];
	s->ss = ps_xrealloc(s->ss, (s->nss + 1) * sizeof(*s->ss));
	x = ps_xcalloc(1, sizeof(*x));
	ps_buf_add(&x->id, src, len);
	x->hash = source_hash(src, len);
	x->known = -1;		/* dd: when first claimed */
	s->ss[s->nss++] = x;
	return x;
}

/* LAKE/_state/ps-silver/STREAM.sources/SAFE.dedup (caller frees). */
static char *ssrc_dedup_path(const struct silver *s, const struct ssrc *x)
{
	struct ps_buf b = PS_BUF_INIT;

	ps_buf_adds(&b, s->src_dir);
	ps_buf_addc(&b, '/');
	ps_lake_safe_source(&b, x->id.data, x->id.len);
	ps_buf_adds(&b, ".dedup");
	return ps_buf_detach(&b, NULL);
}

/* The position the log holds for x now (-1: none).  Returns 0, or -1
 * with e filled (65, 74). */
static int logged_position(struct silver *s, const struct ssrc *x,
			   long long *pos, struct ps_error *e)
{
	struct ps_buf app = PS_BUF_INIT;

	if (ps_delta_snapshot_update(s->silver_dir, &s->view, e) < 0)
		return -1;
	ps_lake_txn_app_id(&app, PS_SILVER_TOOL, s->o->stream, x->id.data,
			   x->id.len);
	*pos = ps_delta_txn_version(&s->view, app.data);
	ps_buf_release(&app);
	return 0;
}

/*
 * x's window as its last writer left it, committed up to t: the entries
 * of its file (and, the first time, those of the single writer's window
 * file) at or below t.  Returns 0, or -1 with e filled.
 */
static int load_window(struct silver *s, struct ssrc *x, long long t,
		       struct ps_error *e)
{
	struct ps_checkpoint *one = ps_checkpoint_new();
	char *path = ssrc_dedup_path(s, x);
	long long dropped;
	int rc = 0;

	ps_dedup_free(x->dd);
	x->dd = ps_dedup_new(s->o->dedup_window);
	if (t >= 0)
		ps_checkpoint_set(one, x->id.data, x->id.len, t);
	if (!x->seen)
		rc = dedup_load(x->dd, s->dedup_path, one, 0, &dropped, e);
	if (rc == 0)
		rc = dedup_load(x->dd, path, one, 0, &dropped, e);
	free(path);
	ps_checkpoint_free(one);
	return rc;
}

static int commit(struct silver *s, struct ps_error *e);
static int commit_wait(struct silver *s, struct ps_error *e);

/*
 * --shared: take source x for the open batch, for a record at position
 * pos above what this writer knows committed.  Returns 1 when the batch
 * may take the record (x is pinned: the batch that gets the record holds
 * it), 0 when another writer committed pos already (skip the record), or
 * -1 with e filled (75 x stayed locked lock_wait seconds, 74, 65).
 *
 * With a batch of ours holding x already, there is nothing to do.
 * Otherwise its lock is taken; while another writer holds it, nothing is
 * held here (the open batch is committed first, so that two writers
 * never wait for each other), and the wait ends early once the log has
 * pos.  Then the position committed is read from the log, the files of a
 * batch of a writer that died holding x are removed (the first time,
 * those of any earlier run too), and when another writer committed x
 * since this one last did, x's window is read from where it left it.
 */
static int claim(struct silver *s, struct ssrc *x, long long pos,
		 struct ps_error *e)
{
	struct ps_error le = { 0, "" };
	double deadline = ps_mono() + s->o->lock_wait;
	long long t;
	int died = 0, waited = 0;

	pthread_mutex_lock(&s->mu);
	if (x->holders) {
		x->holders++;
		pthread_mutex_unlock(&s->mu);
		return 1;
	}
	pthread_mutex_unlock(&s->mu);
	while (!(x->lock = ps_lake_source_lock(s->o->lake, PS_SILVER_TOOL,
					       s->o->stream, x->id.data,
					       x->id.len, 0, &died, &le))) {
		struct timespec ts = { 0, 50 * 1000 * 1000 };

		if (le.code != PS_EX_TEMPFAIL) {
			*e = le;
			return -1;
		}
		if (!waited++) {
			if (commit(s, e) < 0 || commit_wait(s, e) < 0)
				return -1;
			ps_log(PS_INFO, "waiting for a source another writer "
			       "holds", PS_S("source", x->id.data),
			       PS_I("position", pos));
		}
		if (logged_position(s, x, &t, e) < 0)
			return -1;
		if (pos <= t) {
			ps_checkpoint_set(s->cp, x->id.data, x->id.len, t);
			return 0;
		}
		if (ps_stop_requested) {
			/*
			 * Stop here: a later record of x must not be
			 * committed without this one (and the batch that
			 * held others is committed already).
			 */
			s->halt = 1;
			return 0;
		}
		if (ps_mono() >= deadline) {
			*e = le;
			return -1;
		}
		memset(&le, 0, sizeof(le));
		nanosleep(&ts, NULL);
	}
	if (logged_position(s, x, &t, e) < 0)
		goto fail;
	if (died || !x->seen) {
		struct ps_checkpoint *one = ps_checkpoint_new();
		int rc;

		if (t >= 0)
			ps_checkpoint_set(one, x->id.data, x->id.len, t);
		rc = ps_stage_clean_source(s->stage, one, x->id.data,
					   x->id.len, e);
		ps_checkpoint_free(one);
		if (rc < 0)
			goto fail;
	}
	if ((!x->seen || t != x->known) && load_window(s, x, t, e) < 0)
		goto fail;
	x->seen = 1;
	x->known = t;
	if (t >= 0)
		ps_checkpoint_set(s->cp, x->id.data, x->id.len, t);
	pthread_mutex_lock(&s->mu);
	x->holders = 1;
	pthread_mutex_unlock(&s->mu);
	if (pos > t)
		return 1;
	unpin(s, x);
	return 0;
fail:
	ps_lake_source_unlock(x->lock);
	x->lock = NULL;
	return -1;
}

/* Index of source in the open batch, or -1. */
static int batch_find(const struct batch *bt, const char *src, size_t len,
		      int plain)
{
	const struct bsrc *bs = &bt->src[bt->last_src];
	int i;

	if (bt->nsrc && bs->plain == plain && bs->id.len == len &&
	    !memcmp(bs->id.data, src, len))
		return bt->last_src;
	for (i = 0; i < bt->nsrc; i++) {
		bs = &bt->src[i];
		if (bs->plain == plain && bs->id.len == len &&
		    !memcmp(bs->id.data, src, len))
			return i;
	}
	return -1;
}

/*
 * The batch source for a record of this source, committing the batch
 * first when it holds MAX_SOURCES others.  Returns its index, or -1 with
 * e filled when that commit failed.
 */
static int batch_for(struct silver *s, const char *src, size_t len,
		     int plain, struct ps_error *e)
{
	struct batch *bt = s->cur;
	struct bsrc *bs;
	int i = batch_find(bt, src, len, plain);

	if (i < 0 && bt->nsrc == MAX_SOURCES) {
		if (commit(s, e) < 0)
			return -1;
		bt = s->cur;
	}
	if (!bt->nrec)
		bt->started = ps_mono();
	if (i < 0) {
		i = bt->nsrc++;
		bs = &bt->src[i];
		ps_buf_reset(&bs->id);
		ps_buf_add(&bs->id, src, len);
		bs->plain = plain;
		bs->hash = plain ? PS_DEDUP_PLAIN : source_hash(src, len);
		/* --shared: claim() pinned it for this batch */
		bs->ss = s->shared && !plain ? ssrc_get(s, src, len) : NULL;
		bs->nrec = 0;
		bs->nquar = 0;
		ps_buf_reset(&bs->quar);
	}
	bt->last_src = i;
	return i;
}

/* Append a quarantine line for a record. */
static void quarantine(struct silver *s, struct bsrc *bs,
		       const struct ps_envelope *env,
		       const struct ps_event *ev, const char *raw, size_t len,
		       size_t full_len)
{
	struct ps_buf *q = &bs->quar;
	char t[PS_TIME_MAX];
	int i, first = 1, field = -1;
	size_t n;

	if (!bs->nquar)
		bs->q_ingest = env->ingest_time;
	ps_buf_add(q, "{\"source\":", 10);
	ps_json_add_str(q, env->source, env->source_len);
	ps_buf_adds(q, ",\"position\":");
	ps_buf_add_i64(q, env->position);
	ps_buf_adds(q, ",\"ingest_time\":\"");
	n = ps_time_format(env->ingest_time, t, 6);
	ps_buf_add(q, t, n);
	ps_buf_adds(q, "\",\"reasons\":[");
	for (i = 0; i < ev->nproblems; i++) {
		enum ps_rule r = ev->problems[i].rule;
		int j, dup = 0;

		if (ps_rules[r].severity != PS_SEV_QUARANTINE)
			continue;
		for (j = 0; j < i; j++)
			dup |= ev->problems[j].rule == r;
		if (field < 0)
			field = ev->problems[i].field;
		if (dup)
			continue;
		if (!first)
			ps_buf_addc(q, ',');
		first = 0;
		ps_buf_addc(q, '"');
		ps_buf_adds(q, ps_rules[r].code);
		ps_buf_addc(q, '"');
		rule_count(s, r);
	}
	ps_buf_adds(q, "],\"field\":");
	if (field >= 0) {
		ps_buf_addc(q, '"');
		ps_buf_adds(q, ps_event_field_name(field));
		ps_buf_addc(q, '"');
	} else {
		ps_buf_add(q, "null", 4);
	}
	ps_buf_adds(q, ",\"detail\":");
	ps_json_add_str(q, ev->detail, strlen(ev->detail));
	if (full_len > len) {
		ps_buf_adds(q, ",\"length\":");
		ps_buf_add_i64(q, (long long)full_len);
		ps_buf_adds(q, ",\"truncated\":true");
	}
	if (ps_utf8_valid_prefix(raw, len) == len) {
		ps_buf_adds(q, ",\"raw\":");
		ps_json_add_str(q, raw, len);
	} else {
		ps_buf_adds(q, ",\"raw_b64\":\"");
		ps_base64_encode(q, raw, len);
		ps_buf_addc(q, '"');
	}
	ps_buf_add(q, "}\n", 2);
	bs->nquar++;
}

/*
 * The time an admission may not be later than (plus max_future): --now
 * when given, else the event's own event_time when it has one (the
 * source's clock when it reported the admission; never later than the
 * ingest time), else the ingest time.  Not the wall clock: a replay of
 * old events judges each by its own time.
 */
static int64_t ref_time(const struct ps_silver_opts *o,
			const struct ps_envelope *env,
			const struct ps_event *ev)
{
	if (o->now != PS_TIME_NONE)
		return o->now;
	if (ps_event_has(ev, PS_EF_EVENT_TIME) &&
	    ev->event_time < env->ingest_time)
		return ev->event_time;
	return env->ingest_time;
}

/* Add a kept event to the batch. */
static void keep(struct silver *s, int si, const struct ps_envelope *env,
		 const struct ps_event *ev)
{
	struct row *r;
	size_t start = s->cur->arena.len, n;
	char t[PS_TIME_MAX];
	int i, nflags = 0;

	if (s->cur->nrows == s->cur->caprows) {
		s->cur->caprows = s->cur->caprows ? s->cur->caprows * 2 : 1024;
		s->cur->rows = ps_xrealloc(s->cur->rows,
					   s->cur->caprows * sizeof(*r));
	}
	r = &s->cur->rows[s->cur->nrows++];
	r->src = si;
	r->position = env->position;
	r->ingest_time = env->ingest_time;
	r->present = ev->present | (ev->plain ? PLAIN_STRS : 0);
	r->event_time = ev->event_time;
	r->arrival_time = ev->arrival_time;
	r->admission_time = ev->admission_time;
	r->discharge_time = ev->discharge_time;
	r->seen_time = ev->seen_time;
	r->decision_time = ev->decision_time;
	r->age = ev->age;
	r->hospital_id = ev->hospital_id;
	r->bed_id = ev->bed_id;
	r->triage_level = ev->triage_level;
	r->date = (int32_t)((ev->admission_time -
			     (ev->admission_time % PS_USEC_PER_DAY +
			      PS_USEC_PER_DAY) % PS_USEC_PER_DAY) /
			    PS_USEC_PER_DAY);
	r->unknown_dept = ps_event_has_problem(ev, PS_RULE_UNKNOWN_DEPARTMENT);
	if (ps_event_has(ev, PS_EF_DISCHARGE_TIME)) {
		r->present |= HAS_LOS;
		r->los_hours = (double)(ev->discharge_time -
					ev->admission_time) / 3.6e9;
	}
	if (ps_event_has(ev, PS_EF_ARRIVAL_TIME) &&
	    ev->arrival_time <= ev->admission_time) {
		r->present |= HAS_WAIT;
		r->wait_minutes = (double)(ev->admission_time -
					   ev->arrival_time) / 6e7;
	}
	r->off = start;
#define PUT(i, p, l)							\
	do {								\
		if (l)	/* p is NULL for an absent string */	\
			ps_buf_add(&s->cur->arena, (p), (l));		\
		r->slen[i] = (uint32_t)(l);				\
	} while (0)
	PUT(S_EVENT_ID, ev->event_id.p, ev->event_id.len);
	if (ps_event_has(ev, PS_EF_ENCOUNTER_ID)) {
		PUT(S_ENCOUNTER_ID, ev->encounter_id.p, ev->encounter_id.len);
	} else {
		/* Derived: patient_id@admission_time. */
		n = ps_time_format(ev->admission_time, t, -1);
		ps_buf_add(&s->cur->arena, ev->patient_id.p,
			   ev->patient_id.len);
		ps_buf_addc(&s->cur->arena, '@');
		ps_buf_add(&s->cur->arena, t, n);
		r->slen[S_ENCOUNTER_ID] = (uint32_t)(ev->patient_id.len + 1 +
						     n);
	}
	PUT(S_EVENT_TYPE, ev->event_type.p, ev->event_type.len);
	PUT(S_PATIENT_ID, ev->patient_id.p, ev->patient_id.len);
	PUT(S_GENDER, ev->gender.p, ev->gender.len);
	PUT(S_DEPARTMENT, ev->department.p, ev->department.len);
	PUT(S_DISPOSITION, ev->disposition.p, ev->disposition.len);
	n = s->cur->arena.len;
	for (i = 0; i < PS_RULE_COUNT; i++) {	/* in table order */
		enum ps_rule rule = (enum ps_rule)i;

		if (ps_rules[rule].severity != PS_SEV_FLAG ||
		    !ps_event_has_problem(ev, rule))
			continue;
		if (nflags++)
			ps_buf_addc(&s->cur->arena, ',');
		ps_buf_adds(&s->cur->arena, ps_rules[rule].code);
	}
	r->slen[S_FLAGS] = (uint32_t)(s->cur->arena.len - n);

	PUT(S_EXTRA, ev->extra.p, ev->extra.len);
#undef PUT
}

/* Count a kept record: the flags it carries. */
static void count_kept(struct silver *s, const struct ps_event *ev)
{
	int i, flagged = 0;

	for (i = 0; i < PS_RULE_COUNT; i++)
		if (ps_rules[i].severity == PS_SEV_FLAG &&
		    ps_event_has_problem(ev, (enum ps_rule)i)) {
			rule_count(s, (enum ps_rule)i);
			flagged = 1;
		}
	s->counters[K_FLAGGED].value += flagged;
	s->counters[K_KEPT].value++;
}

static int bad_record_limit(struct silver *s, const struct ps_envelope *env,
			    const struct ps_event *ev, struct ps_error *e)
{
	const char *code = ev->nproblems ?
		ps_rules[ev->problems[0].rule].code : "?";

	if (s->o->strict ||
	    (s->o->max_errors >= 0 &&
	     s->total_quarantined >= s->o->max_errors)) {
		ps_buf_reset(&s->line);
		ps_buf_add(&s->line, env->source, env->source_len);
		ps_error_set(e, PS_EX_DATAERR,
			     "%s record %s:%lld: %s: %s",
			     s->o->strict ? "bad" :
			     "too many bad records; last",
			     s->line.data, env->position, code, ev->detail);
		return -1;
	}
	return 0;
}

/*
 * Process one record: env describes it (payload = the raw event bytes);
 * full_len > payload_len when the line was cut at the cap.  Returns 0, or
 * -1 with e filled (strict mode, commit failure).
 */
static int process(struct silver *s, const struct ps_envelope *env,
		   int plain, size_t full_len, enum ps_rule pre,
		   const char *pre_detail, struct ps_error *e)
{
	struct ps_event *ev = &s->ev;
	struct ps_dedup *dd;
	struct bsrc *bs;
	uint64_t key = 0;
	int bad, si;

	si = batch_for(s, env->source, env->source_len, plain, e);
	if (si < 0)
		return -1;
	bs = &s->cur->src[si];
	dd = bs->ss ? bs->ss->dd : s->dd;
	s->counters[K_RECORDS].value++;
	if (pre != PS_RULE_COUNT) {
		memset(ev, 0, sizeof(*ev));
		ps_event_add_problem(ev, pre, -1, "%s", pre_detail);
		bad = 1;
	} else if (env->payload_len > s->o->max_record) {
		memset(ev, 0, sizeof(*ev));
		ps_event_add_problem(ev, PS_RULE_RECORD_TOO_LONG, -1,
				     "payload of %zu bytes is over the cap of "
				     "%zu", env->payload_len,
				     s->o->max_record);
		full_len = env->payload_len;
		bad = 1;
	} else if ((bad = ps_feed_parse(s->feed, s->o->format, s->ep,
					env->payload, env->payload_len,
					ev)) < 0) {
		rule_count(s, PS_RULE_IGNORED_MESSAGE);	/* dropped */
	} else {
		if (!bad) {
			/* Per source: only there is the order the same on
			 * every path (live, catch-up, after a crash). */
			key = ps_mix64(ps_silver_dedup_key(ev, env->payload,
							   env->payload_len) ^
				       ((uint64_t)bs->hash << 32 | bs->hash));
			key += !key;
			dedup_prefetch(dd, key);
		}
		if (!bad)
			bad = ps_silver_check(ev, ref_time(s->o, env, ev),
					      s->o->max_future,
					      s->ds.n ? &s->ds : NULL);
	}
	if (bad > 0) {
		if (bad_record_limit(s, env, ev, e) < 0) {
			s->counters[K_RECORDS].value--;
			if (commit(s, NULL) < 0 || commit_wait(s, NULL) < 0)
				ps_log(PS_ERROR, "cannot commit before stop");
			return -1;
		}
		s->total_quarantined++;
		s->counters[K_QUARANTINED].value++;
		quarantine(s, bs, env, ev, env->payload,
			   env->payload_len > s->o->max_record ?
			   s->o->max_record : env->payload_len, full_len);
	} else if (!bad) {
		/* The row is built while the window's cache lines load. */
		struct batch *bt = s->cur;
		size_t arena_len = bt->arena.len;

		keep(s, si, env, ev);
		if (ps_dedup_check_add(dd, key, bs->hash, env->position)) {
			bt->nrows--;	/* not kept after all */
			bt->arena.len = arena_len;
			s->counters[K_DUPLICATES].value++;
			rule_count(s, PS_RULE_DUPLICATE);
		} else {
			count_kept(s, ev);
		}
	}
	if (!bs->nrec++)
		bs->first = env->position;
	bs->last = env->position;
	s->cur->nrec++;
	ps_progress_tick(&s->prog);
	if (s->cur->nrec >= s->o->flush_records)
		return commit(s, e);
	return 0;
}

/* Envelope input: skip what the checkpoint already holds. */
static int process_envelope(struct silver *s, const struct ps_envelope *env,
			    struct ps_error *e)
{
	long long ck = ps_checkpoint_get(s->cp, env->source, env->source_len);

	int si = batch_find(s->cur, env->source, env->source_len, 0);

	if (s->halt)
		return 0;	/* read again by the next run */

	/* Also what the open batch holds (catch-up, then the same on stdin). */
	if (si >= 0 && s->cur->src[si].nrec && s->cur->src[si].last > ck)
		ck = s->cur->src[si].last;
	if (env->position <= ck) {
		s->counters[K_SKIPPED].value++;
		return 0;
	}
	if (s->shared && si < 0) {
		int r = claim(s, ssrc_get(s, env->source, env->source_len),
			      env->position, e);

		if (r < 0)
			return -1;
		if (r == 0) {
			s->counters[K_SKIPPED].value++;
			return 0;
		}
	}
	if (env->reason) {
		/* Its producer could not pass it on whole (lib/envelope.h). */
		char d[200];

		snprintf(d, sizeof(d), "%s: %s", env->reason,
			 env->detail ? env->detail : "");
		return process(s, env, 0, (size_t)env->length,
			       env->truncated ? PS_RULE_RECORD_TOO_LONG
					      : PS_RULE_BAD_ENVELOPE, d, e);
	}
	return process(s, env, 0, env->payload_len, PS_RULE_COUNT, NULL, e);
}

/*
 * One line of stdin, which holds what the options say (never guessed
 * from the line): an envelope, or a plain event.  complete is 0 for a
 * last line without its newline.  A line of an envelope input that is not
 * an envelope is quarantined as a plain record (bad_envelope): it claims
 * no source and no position.
 */
static int process_line(struct silver *s, const struct ps_line *ln,
			int complete, struct ps_error *e)
{
	struct ps_envelope env;
	struct ps_error pe = { 0, "" };

	if (s->o->input == PS_INPUT_ENVELOPES && !ln->too_long) {
		if (!ln->len)
			return 0;	/* an empty line is no record */
		if (ps_envelope_parse(s->envp, ln->data, ln->len, &env,
				      &pe) == 0)
			return process_envelope(s, &env, e);
	}
	if (s->o->input == PS_INPUT_ENVELOPES && !complete) {
		/*
		 * An upstream stage killed in the middle of a write: the
		 * envelope is read again from bronze, so this is no record
		 * (not even a bad one).  Envelope streams come from our own
		 * tools, which end every line.
		 */
		ps_log(PS_WARN, "dropping an envelope cut short at the end of "
		       "input", PS_I("line", ln->lineno),
		       PS_I("bytes", (long long)ln->len));
		return 0;
	}
	memset(&env, 0, sizeof(env));
	env.source = s->plain_source;
	env.source_len = s->plain_source_len;
	env.position = ln->lineno - 1;	/* 0-based, as ps-bronze counts */
	env.ingest_time = s->o->now != PS_TIME_NONE ? s->o->now : s->wall_now;
	env.broker_time = PS_TIME_NONE;
	env.payload = ln->data;
	env.payload_len = ln->len;
	if (ln->too_long) {
		char d[160];

		snprintf(d, sizeof(d), "line of %zu bytes is over the cap; "
			 "raw holds its first %zu", ln->full_len,
			 ln->len < s->o->max_record ? ln->len :
			 s->o->max_record);
		return process(s, &env, 1, ln->full_len,
			       PS_RULE_RECORD_TOO_LONG, d, e);
	}
	if (pe.msg[0])
		return process(s, &env, 1, ln->len, PS_RULE_BAD_ENVELOPE,
			       pe.msg, e);
	if (!ln->len)
		return 0;	/* an empty line is no record */
	return process(s, &env, 1, ln->len, PS_RULE_COUNT, NULL, e);
}

/* ------------------------------------------------------------------ */
/* Input                                                               */
/* ------------------------------------------------------------------ */

struct in_ctx {
	int fd;
	struct silver *s;
	volatile int wake;
};

/* Read with a timeout: returns -1/EINTR with wake set when a commit is due
 * or a stop was requested. */
static ssize_t poll_read(void *ctx, void *buf, size_t n)
{
	struct in_ctx *c = ctx;
	struct silver *s = c->s;
	struct pollfd pfd = { c->fd, POLLIN, 0 };

	for (;;) {
		int timeout = -1, r;

		if (s->cur->nrec) {
			double left = s->cur->started + s->o->flush_interval -
				      ps_mono();

			if (left <= 0) {
				c->wake = 1;
				errno = EINTR;
				return -1;
			}
			timeout = (int)(left * 1000) + 1;
		}
		r = ps_poll_stop(&pfd, 1, timeout);
		if (r < 0 && errno == EINTR && ps_stop_requested) {
			c->wake = 1;
			return -1;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			continue;	/* the deadline is checked above */
		return read(c->fd, buf, n);
	}
}

static int catch_up(struct silver *s, struct ps_error *e);

static int read_stdin(struct silver *s, int fd, struct ps_error *e)
{
	struct in_ctx c = { fd, s, 0 };
	struct ps_ndjson *r = ps_ndjson_new(poll_read, &c, PS_LINE_MAX);
	struct ps_line ln;
	int rc = 0, n, first = 1;

	ps_ndjson_set_interrupt(r, &c.wake);
	for (;;) {
		struct ps_error re = { 0, "" };

		if (s->out_gone || s->halt)
			break;
		n = ps_ndjson_next(r, &ln, &re);
		if (n == 0)
			break;
		if (n < 0) {
			if (re.code) {
				*e = re;
				rc = -1;
				break;
			}
			c.wake = 0;
			if (ps_stop_requested)
				break;
			if (commit(s, e) < 0) {
				rc = -1;
				break;
			}
			continue;
		}
		/*
		 * What another ps-bronze committed since the catch-up at
		 * start never comes through the pipe (only the lock holder
		 * emits): catch up again before the first line, or those
		 * records would fall below the positions read from stdin.
		 */
		if (first && s->o->catch_up && s->o->lake &&
		    catch_up(s, e) < 0) {
			rc = -1;
			break;
		}
		first = 0;
		if (process_line(s, &ln, !ln.unterminated, e) < 0) {
			rc = -1;
			break;
		}
	}
	ps_ndjson_free(r);
	return rc;
}

static int catch_up(struct silver *s, struct ps_error *e)
{
	struct ps_lake_parts fs = PS_LAKE_PARTS_INIT;
	size_t i;
	int rc = 0;

	if (ps_lake_visible(s->o->bronze_lake ? s->o->bronze_lake : s->o->lake,
			    PS_LAKE_BRONZE, s->o->stream, &fs, e) < 0)
		return -1;
	for (i = 0; i < fs.n && !rc && !ps_stop_requested && !s->out_gone &&
	     !s->halt;
	     i++) {
		struct ps_lake_part *f = &fs.v[i];
		struct ps_lake_reader *br;
		struct ps_envelope env;
		int n;

		if (f->last <= ps_lake_safe_position(s->cp, f->safe,
						     strlen(f->safe)))
			continue;
		br = ps_lake_reader_open(f->path, e);
		if (!br) {
			rc = -1;
			break;
		}
		while ((n = ps_lake_reader_next(br, &env, e)) > 0)
			if (process_envelope(s, &env, e) < 0) {
				n = -1;
				break;
			}
		ps_lake_reader_close(br);
		if (n < 0)
			rc = -1;
	}
	ps_lake_parts_release(&fs);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Run                                                                 */
/* ------------------------------------------------------------------ */

static const char *const counter_names[K_RULES] = {
	"records", "kept", "quarantined", "flagged", "duplicates", "skipped",
	"batches", "files",
};

static int write_stats(struct silver *s, const char *path, int ok,
		       struct ps_error *e)
{
	struct ps_buf b = PS_BUF_INIT;
	int i, first = 1, rc;

	ps_buf_adds(&b, "{\"tool\":\"ps-silver\",\"stream\":");
	ps_json_add_str(&b, s->o->stream, strlen(s->o->stream));
	ps_buf_adds(&b, ok ? ",\"status\":\"ok\"" : ",\"status\":\"failed\"");
	for (i = 0; i < K_RULES; i++) {
		ps_buf_addf(&b, ",\"%s\":%lld", counter_names[i],
			    s->counters[i].value);
	}
	ps_buf_adds(&b, ",\"rules\":{");
	for (i = 0; i < PS_RULE_COUNT; i++) {
		ps_json_key(&b, &first, ps_rules[i].code);
		ps_buf_addf(&b, "{\"severity\":\"%s\",\"count\":%lld}",
			    ps_rule_severity_name(ps_rules[i].severity),
			    s->counters[K_RULES + i].value);
	}
	ps_buf_adds(&b, "}}\n");
	rc = ps_write_file_atomic(path, b.data, b.len, 0644, e);
	ps_buf_release(&b);
	return rc;
}

static void silver_release(struct silver *s)
{
	size_t j;
	int i, k;

	ps_departments_release(&s->ds);
	ps_checkpoint_free(s->cp);
	ps_stage_close(s->stage);
	ps_dedup_free(s->dd);
	ps_event_parser_free(s->ep);
	ps_feed_free(s->feed);
	ps_hl7map_free(s->map);
	ps_envelope_parser_free(s->envp);
	pw_stop(s);
	ps_gzpool_free(s->gz);
	free(s->silver_dir);
	free(s->quar_dir);
	free(s->dedup_path);
	for (i = 0; i < 2; i++) {
		free(s->bt[i].rows);
		for (k = 0; k < MAX_SOURCES; k++) {
			ps_buf_release(&s->bt[i].src[k].id);
			ps_buf_release(&s->bt[i].src[k].quar);
			ps_buf_release(&s->bt[i].src[k].dimg);
		}
		ps_buf_release(&s->bt[i].arena);
	}
	for (j = 0; j < s->nss; j++) {
		ps_lake_source_unlock(s->ss[j]->lock);
		ps_dedup_free(s->ss[j]->dd);
		ps_buf_release(&s->ss[j]->id);
		free(s->ss[j]);
	}
	free(s->ss);
	free(s->src_dir);
	ps_delta_snapshot_release(&s->view);
	ps_buf_release(&s->dedup_img);
	ps_buf_release(&s->line);
	ps_buf_release(&s->json);
	ps_buf_release(&s->srcjson);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
}

/*
 * A single writer after shared ones (--shared): the windows they left per
 * source join the stream's window, keys beyond the committed positions
 * dropped.  Returns 0, or -1 with e filled.
 */
static int load_shared_windows(struct silver *s,
			       const struct ps_silver_opts *o,
			       struct ps_error *e)
{
	struct ps_buf b = PS_BUF_INIT;
	struct dirent *de;
	long long dropped;
	DIR *d;
	int rc = 0;

	ps_lake_source_dir(&b, o->lake, PS_SILVER_TOOL, o->stream);
	d = opendir(b.data);
	while (d && rc == 0 && (de = readdir(d))) {
		size_t n = strlen(de->d_name);
		char *p;

		if (de->d_name[0] == '.' || n < 7 ||
		    strcmp(de->d_name + n - 6, ".dedup"))
			continue;
		p = ps_path_join(b.data, de->d_name);
		rc = dedup_load(s->dd, p, s->cp, 0, &dropped, e);
		free(p);
	}
	if (d)
		closedir(d);
	ps_buf_release(&b);
	return rc;
}

static int setup(struct silver *s, const struct ps_silver_opts *o,
		 struct ps_error *e)
{
	struct ps_buf b = PS_BUF_INIT;
	long long dropped = 0;
	int i;

	for (i = 0; i < K_RULES; i++)
		s->counters[i].name = counter_names[i];
	for (i = 0; i < PS_RULE_COUNT; i++)
		s->counters[K_RULES + i].name = ps_rules[i].code;
	ps_progress_init(&s->prog, s->counters, K_RULES);
	s->wall_now = ps_time_now();
	s->run_id = s->wall_now;
	snprintf(s->plain_source, sizeof(s->plain_source), "stdin:%s",
		 o->stream);
	s->plain_source_len = strlen(s->plain_source);
	s->ep = ps_event_parser_new();
	s->envp = ps_envelope_parser_new();
	s->cp = ps_checkpoint_new();
	s->dd = ps_dedup_new(o->dedup_window);
	s->cur = &s->bt[0];
	s->fly = &s->bt[1];
	{
		struct ps_delta_snapshot s0 = PS_DELTA_SNAPSHOT_INIT;

		s->view = s0;
	}
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	if (ps_departments_load(&s->ds, o->departments, e) < 0)
		return -1;
	if (!(s->map = ps_hl7map_load(o->map, e)))
		return -1;
	s->feed = ps_feed_new(s->map, 0);
	if (!o->lake) {
		if (!o->dry_run || !o->read_stdin)
			return ps_error_set(e, PS_EX_USAGE, "a lake is needed "
					    "(-L DIR or PS_LAKE)");
		return 0;
	}
	if (o->dry_run) {
		/* Writes nothing: no lock, what is committed is enough. */
		if (ps_lake_committed(o->lake, PS_LAKE_SILVER, o->stream,
				      s->cp, e) < 0)
			return -1;
	} else {
		static const enum ps_lake_table tables[] = {
			PS_LAKE_SILVER, PS_LAKE_SILVER_QUARANTINE
		};
		static const char *const part[] = { "admission_date" };
		struct ps_stage_table dt = { NULL, schema, PS_CLEAN_NCOLS,
					     part, 1, PS_LAKE_SILVER, 0 };
		struct ps_stage_opts so = { o->lake, PS_SILVER_TOOL,
					    o->stream, o->lock_wait, tables,
					    2, &dt, 1, 0, 0 };

		s->silver_dir = ps_lake_dir(o->lake, PS_LAKE_SILVER,
					    o->stream);
		dt.dir = s->silver_dir;
		s->shared = o->shared;
		s->stage = s->shared ? ps_stage_open_shared(&so, e) :
			   ps_stage_open(&so, e);
		if (!s->stage)
			return -1;
		ps_checkpoint_merge(s->cp, ps_stage_positions(s->stage));
		if (s->shared) {
			ps_lake_source_dir(&b, o->lake, PS_SILVER_TOOL,
					   o->stream);
			s->src_dir = ps_buf_detach(&b, NULL);
		}
	}
	if (!s->silver_dir)
		s->silver_dir = ps_lake_dir(o->lake, PS_LAKE_SILVER,
					    o->stream);
	s->quar_dir = ps_lake_dir(o->lake, PS_LAKE_SILVER_QUARANTINE,
				  o->stream);
	ps_buf_addf(&b, "%s/_state/%s/%s.dedup", o->lake, PS_SILVER_TOOL,
		    o->stream);
	s->dedup_path = ps_buf_detach(&b, NULL);
	/* --shared: each source's window when it is claimed */
	if (!s->shared &&
	    (dedup_load(s->dd, s->dedup_path, s->cp, 1, &dropped, e) < 0 ||
	     load_shared_windows(s, o, e) < 0))
		return -1;
	if (dropped)
		ps_log(PS_WARN, "dropped dedup keys of an uncommitted batch",
		       PS_I("keys", dropped));
	if (o->dry_run)
		return 0;
	/* quarantine files at level 1 as bronze's: ISA-L's igzip (lib/gzpool.h),
	 * several times cheaper than zlib's level 6 for the same content */
	s->gz = ps_gzpool_new(0, 1, e);
	if (!s->gz)
		return -1;
	return 0;
}

/* The reader thread: catch-up, stdin, the last commit. */
static void *producer_main(void *arg)
{
	struct silver *s = arg;
	const struct ps_silver_opts *o = s->o;
	struct ps_error pe = { 0, "" };
	int rc = 0;

	if (o->catch_up && o->lake)
		rc = catch_up(s, &pe);
	if (!rc && o->read_stdin && !ps_stop_requested)
		rc = read_stdin(s, s->in_fd, &pe);
	if (!rc)
		rc = commit(s, &pe);
	if (!rc)
		rc = commit_wait(s, &pe);
	pthread_mutex_lock(&s->mu);
	s->prod_rc = rc;
	s->prod_err = pe;
	s->quit = 1;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

int ps_silver_run(const struct ps_silver_opts *o, int in_fd,
		  ps_silver_write_fn out, void *out_ctx, struct ps_error *e)
{
	struct silver *s = ps_xcalloc(1, sizeof(*s));
	struct ps_error se = { 0, "" };
	int rc, i;

	s->o = o;
	s->out = out;
	s->out_ctx = out_ctx;
	s->in_fd = in_fd;
	rc = setup(s, o, e);
	if (!rc) {
		pthread_t prod;
		sigset_t old;

		if (pthread_create(&prod, NULL, producer_main, s) != 0) {
			rc = ps_error_set(e, PS_EX_SOFTWARE,
					  "cannot start the reader thread");
		} else {
			/* Signals go to the reader, whose reads they end. */
			ps_stop_signals_block(&old);
			commit_loop(s);
			pthread_join(prod, NULL);
			pthread_sigmask(SIG_SETMASK, &old, NULL);
			rc = s->prod_rc;
			if (rc)
				*e = s->prod_err;
		}
	}
	if (s->prog.c) {
		ps_progress_done(&s->prog, rc ? "stopped" : "done");
		for (i = 0; i < PS_RULE_COUNT; i++)
			if (s->counters[K_RULES + i].value)
				ps_log(PS_INFO, "rule",
				       PS_S("code", ps_rules[i].code),
				       PS_S("severity", ps_rule_severity_name(
						ps_rules[i].severity)),
				       PS_I("count",
					    s->counters[K_RULES + i].value));
	}
	if (o->stats_json && write_stats(s, o->stats_json, !rc, &se) < 0) {
		if (!rc) {
			*e = se;
			rc = -1;
		} else {
			ps_log(PS_ERROR, "cannot write stats",
			       PS_S("err", se.msg));
		}
	}
	silver_release(s);
	free(s);
	return rc;
}

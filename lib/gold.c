/* gold.c - gold state: records, upserts, SCD2, tables, snapshot.  See
 * gold.h; the stage itself (I/O, commits) is in gold_run.c. */
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clean.h"
#include "fsutil.h"
#include "gold.h"
#include "seal.h"
#include "json.h"
#include "pstime.h"
#include "rand.h"
#include "silver.h"
#include "thrift.h"
#include "banned.h"

#define NUL32 INT32_MIN
#define USEC_HOUR (3600LL * PS_USEC_PER_SEC)

/* ------------------------------------------------------------------ */
/* Keys: an arena of strings and an open-addressing index              */
/* ------------------------------------------------------------------ */

/*
 * The arena holds each key as its hash (8 bytes), its length and its
 * bytes.  The length is one byte below 255, else the 4 bytes of it and
 * 255; a packed key whose tag says its length (key_pack) has none, and
 * only an index of plain texts ends its keys with a NUL.  An index names
 * a key by 4 bytes (struct index): the arena's block (the top 12 bits)
 * and where the key's bytes start in it (the low AREF_BITS bits).
 */
#define AREF_BITS 20
#define ABLOCK ((size_t)1 << AREF_BITS)
#define AREF_MAXBLK ((size_t)1 << (32 - AREF_BITS))

struct arena {
	char **blk;
	size_t nblk;
	char *cur;
	size_t left;
};

/* The arena has no block left to name (4,096 blocks of 1 MiB: about a
 * hundred million ids): the state cannot grow, as with no memory. */
static void arena_full(void)
{
	static const char msg[] = "pulsestream: gold ids over 4 GiB\n";

	if (write(2, msg, sizeof(msg) - 1) < 0)
		abort();
	abort();
}

/* n bytes of a, in its last block.  Cannot fail. */
static char *arena_room(struct arena *a, size_t n)
{
	char *r;

	if (n > a->left) {
		size_t sz = n > ABLOCK ? n : ABLOCK;

		if (a->nblk == AREF_MAXBLK)
			arena_full();
		a->blk = ps_xrealloc(a->blk, (a->nblk + 1) * sizeof(*a->blk));
		a->cur = a->blk[a->nblk++] = ps_xmalloc(sz);
		a->left = sz;
	}
	r = a->cur;
	a->cur += n;
	a->left -= n;
	return r;
}

/* Key p (n bytes, hash h) in a: with its length unless bare (a packed
 * key's tag says it), NUL-terminated when nul is set.  Returns its
 * reference; *bytes grows by what it took.  Cannot fail. */
static uint32_t arena_key(struct arena *a, const char *p, size_t n,
			  uint64_t h, int bare, int nul, size_t *bytes)
{
	size_t pre = bare ? 0 : n < 255 ? 1 : 5;
	size_t need = 8 + pre + n + (nul != 0);
	char *r = arena_room(a, need);
	uint32_t l = (uint32_t)n;

	memcpy(r, &h, 8);
	r += 8;
	if (pre == 1) {
		r[0] = (char)n;
	} else if (pre == 5) {
		memcpy(r, &l, 4);
		r[4] = (char)255;
	}
	memcpy(r + pre, p, n);
	if (nul)
		r[pre + n] = '\0';
	*bytes += need;
	return (uint32_t)(a->nblk - 1) << AREF_BITS |
	       (uint32_t)(r + pre - a->blk[a->nblk - 1]);
}

static void arena_free(struct arena *a)
{
	size_t i;

	for (i = 0; i < a->nblk; i++)
		free(a->blk[i]);
	free(a->blk);
	memset(a, 0, sizeof(*a));
}

/* ref[i] names item i's key in the arena (4 bytes an item); a slot of
 * 2^ibits slots (4 bytes) holds item index + 1 (0 = empty) in its low
 * ibits bits, which hold it as the slots are at least twice the items,
 * and the top 32 - ibits bits of the key's hash above them (11 bits at
 * 2^21 slots), so that a probe reads a key mostly only when the hash
 * matches.  The hash is of the key's text; a packed index stores the
 * text packed (key_pack). */
struct index {
	const struct arena *a;	/* where the keys are */
	uint32_t *ref;
	size_t n, cap;
	size_t bytes;		/* the keys' in the arena */
	uint32_t *slots;
	size_t nslots;		/* power of two, 2^ibits */
	unsigned ibits;
	int packed;
	const struct index *uuids;	/* tag 4's patients, or NULL */
};

/*
 * Patient and encounter ids are mostly UUIDs (36 characters), and the
 * encounter ids silver derives are a UUID, '@' and a time
 * (YYYY-MM-DDTHH:MM:SSZ): a packed key holds those in 17, 21 or 25 bytes
 * (tag 1: the UUID's 16 bytes; tag 3: then the time in seconds from 1970
 * as 4 bytes, when they hold it; tag 2: 8 bytes), anything else as tag 0
 * and the text.  A text is packed only when unpacking gives it back, so
 * equal packed keys are equal texts.  An index of encounters (uuids set)
 * stores a tag 3 key whose UUID is a patient's id (a tag 1 key of uuids)
 * as tag 4, in 9 bytes: the patient's index (4 bytes) and the seconds;
 * its lookups take a key in tag 3 and find either form (key_eq).
 */
#define KEY_UUID 36
#define KEY_UUID_AT (KEY_UUID + 1 + 20)
#define KEY_TEXT_MAX(n) ((n) > KEY_UUID_AT ? (n) : KEY_UUID_AT)
enum { TAG_TEXT, TAG_UUID, TAG_UUID_AT, TAG_UUID_AT32, TAG_PATIENT_AT };

/* The bytes of item i of x. */
static const char *key_at(const struct index *x, size_t i)
{
	uint32_t r = x->ref[i];

	return x->a->blk[r >> AREF_BITS] + (r & (ABLOCK - 1));
}

/* The length of the length before key p of x (0: its tag says it). */
static size_t key_pre(const struct index *x, const char *p)
{
	const unsigned char *u = (const unsigned char *)p;

	if (x->packed && u[0] != TAG_TEXT)
		return 0;
	return u[-1] != 255 ? 1 : 5;
}

/* The length of key p of x. */
static size_t key_len(const struct index *x, const char *p)
{
	const unsigned char *u = (const unsigned char *)p;
	uint32_t l;

	if (x->packed && u[0] != TAG_TEXT)
		return u[0] == TAG_UUID ? 17 : u[0] == TAG_UUID_AT32 ? 21 :
		       u[0] == TAG_PATIENT_AT ? 9 : 25;
	if (u[-1] != 255)
		return u[-1];
	memcpy(&l, u - 5, 4);
	return l;
}

/* The hash of key p of x. */
static uint64_t key_hash(const struct index *x, const char *p)
{
	uint64_t h;

	memcpy(&h, p - key_pre(x, p) - 8, 8);
	return h;
}

/* The 16 bytes of the UUID of key p of x (tag 3 or 4), and its seconds
 * into *sec. */
static const char *key_uuid(const struct index *x, const char *p,
			    uint32_t *sec)
{
	uint32_t pi;

	if (p[0] == TAG_PATIENT_AT) {
		memcpy(&pi, p + 1, 4);
		memcpy(sec, p + 5, 4);
		return key_at(x->uuids, pi) + 1;
	}
	memcpy(sec, p + 17, 4);
	return p + 1;
}

/* Is tag 4 key k of x the packed key p (n bytes): a tag 3 key of the
 * same UUID and seconds? */
static int key_eq_patient(const struct index *x, const char *k,
			  const char *p, size_t n)
{
	uint32_t sec;
	const char *u;

	if (n != 21 || p[0] != TAG_UUID_AT32)
		return 0;
	u = key_uuid(x, k, &sec);
	return !memcmp(p + 17, &sec, 4) && !memcmp(u, p + 1, 16);
}

/* Is key k of x the packed key p (n bytes)? */
static inline int key_eq(const struct index *x, const char *k,
			 const char *p, size_t n)
{
	if (x->uuids && k[0] == TAG_PATIENT_AT)
		return key_eq_patient(x, k, p, n);
	return key_len(x, k) == n && !memcmp(k, p, n);
}

/* Where the 16 bytes of a UUID start in its text. */
static const unsigned char uuid_at[16] = {
	0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34
};

/* The value of each byte as a lowercase hex digit, or 16; the two
 * digits of each byte value (hex_init fills both once). */
static unsigned char hex_val[256];
static char hex_pair[256][2];

static void hex_init(void)
{
	static const char hex[] = "0123456789abcdef";
	unsigned i;

	if (hex_pair[255][0])
		return;
	for (i = 0; i < 256; i++) {
		hex_val[i] = (unsigned char)(i >= '0' && i <= '9' ? i - '0' :
					     i >= 'a' && i <= 'f' ?
					     i - 'a' + 10 : 16);
		hex_pair[i][0] = hex[i >> 4];
		hex_pair[i][1] = hex[i & 15];
	}
}

/* The 16 bytes of a UUID in lowercase 8-4-4-4-12 form; 0 or -1 (then
 * uuid_text gives back exactly the text packed). */
static int uuid_pack(const char *p, unsigned char *out)
{
	const unsigned char *s = (const unsigned char *)p;
	unsigned bad = 0;
	size_t i;

	if (s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-')
		return -1;
	for (i = 0; i < 16; i++) {
		unsigned hi = hex_val[s[uuid_at[i]]];
		unsigned lo = hex_val[s[uuid_at[i] + 1]];

		bad |= (hi | lo) & 16;
		out[i] = (unsigned char)(hi << 4 | (lo & 15));
	}
	return bad ? -1 : 0;
}

static void uuid_text(const unsigned char *u, char *out)
{
	size_t i;

	for (i = 0; i < 4; i++)
		memcpy(out + 2 * i, hex_pair[u[i]], 2);
	out[8] = '-';
	memcpy(out + 9, hex_pair[u[4]], 2);
	memcpy(out + 11, hex_pair[u[5]], 2);
	out[13] = '-';
	memcpy(out + 14, hex_pair[u[6]], 2);
	memcpy(out + 16, hex_pair[u[7]], 2);
	out[18] = '-';
	memcpy(out + 19, hex_pair[u[8]], 2);
	memcpy(out + 21, hex_pair[u[9]], 2);
	out[23] = '-';
	for (i = 10; i < 16; i++)
		memcpy(out + 24 + 2 * (i - 10), hex_pair[u[i]], 2);
}

/* The text of packed key p (n bytes) of x (NULL: no tag 4) into out
 * (KEY_TEXT_MAX(n) bytes); returns its length.  Cannot fail. */
static size_t key_text(const struct index *x, const char *p, size_t n,
		       char *out)
{
	const unsigned char *u = (const unsigned char *)p;
	int64_t sec;
	uint32_t s32;

	if (n == 17 && u[0] == TAG_UUID) {
		uuid_text(u + 1, out);
		return KEY_UUID;
	}
	if ((n == 25 && u[0] == TAG_UUID_AT) ||
	    (n == 21 && u[0] == TAG_UUID_AT32) ||
	    (n == 9 && u[0] == TAG_PATIENT_AT && x && x->uuids)) {
		if (n == 25) {
			uuid_text(u + 1, out);
			memcpy(&sec, u + 17, 8);
		} else {
			uuid_text((const unsigned char *)key_uuid(x, p, &s32),
				  out);
			sec = s32;
		}
		out[KEY_UUID] = '@';
		return KEY_UUID + 1 + ps_time_format(sec * PS_USEC_PER_SEC,
						     out + KEY_UUID + 1, 0);
	}
	memcpy(out, p + 1, n - 1);
	return n - 1;
}

/* Pack text p (n bytes) into out (n + 1 bytes); returns the length. */
static size_t key_pack(const char *p, size_t n, char *out)
{
	unsigned char *u = (unsigned char *)out;

	if (n == KEY_UUID && !uuid_pack(p, u + 1)) {
		u[0] = TAG_UUID;
		return 17;
	}
	if (n == KEY_UUID_AT && p[KEY_UUID] == '@' && !uuid_pack(p, u + 1)) {
		const char *tp = p + KEY_UUID + 1;
		char back[PS_TIME_MAX];
		int64_t us, sec;

		/* only a time that formats back to the same text */
		if (!ps_time_parse(tp, 20, &us, NULL) &&
		    us % PS_USEC_PER_SEC == 0 &&
		    ps_time_format(us, back, 0) == 20 &&
		    !memcmp(back, tp, 20)) {
			sec = us / PS_USEC_PER_SEC;
			if (sec >= 0 && sec <= UINT32_MAX) {
				uint32_t s32 = (uint32_t)sec;

				u[0] = TAG_UUID_AT32;
				memcpy(u + 17, &s32, 4);
				return 21;
			}
			u[0] = TAG_UUID_AT;
			memcpy(u + 17, &sec, 8);
			return 25;
		}
	}
	u[0] = TAG_TEXT;
	memcpy(out + 1, p, n);
	return n + 1;
}

#define FNV_INIT PS_FNV1A_INIT
#define fnv_add ps_fnv1a

static uint64_t hash_bytes(const char *p, size_t n)
{
	return ps_mix64(fnv_add(FNV_INIT, p, n));
}

int64_t ps_gold_sk(const char *p, size_t len)
{
	return (int64_t)(hash_bytes(p, len) & INT64_MAX);
}

/* ps_gold_sk of item i of x, from its hash (the same function). */
static int64_t key_sk(const struct index *x, size_t i)
{
	return (int64_t)(key_hash(x, key_at(x, i)) & INT64_MAX);
}

/* The hash bits a slot of x holds for hash h (in place), and the mask
 * of those bits. */
static uint32_t slot_tag(const struct index *x, uint64_t h)
{
	return x->ibits >= 32 ? 0 : (uint32_t)(h >> (32 + x->ibits)) <<
				   x->ibits;
}

static uint32_t slot_tag_mask(const struct index *x)
{
	return x->ibits >= 32 ? 0 : ~0u << x->ibits;
}

static uint32_t slot_of(const struct index *x, uint64_t h, size_t i)
{
	return slot_tag(x, h) | ((uint32_t)i + 1);
}

static void index_rehash(struct index *x, size_t nslots)
{
	size_t i;

	free(x->slots);
	x->slots = ps_xcalloc(nslots, sizeof(*x->slots));
	x->nslots = nslots;
	x->ibits = (unsigned)__builtin_ctzll((unsigned long long)nslots);
	for (i = 0; i < x->n; i++) {
		uint64_t h = key_hash(x, key_at(x, i));
		size_t s = h & (nslots - 1);

		while (x->slots[s])
			s = (s + 1) & (nslots - 1);
		x->slots[s] = slot_of(x, h, i);
	}
}

/* The slots of x made again after index_shed (as many as its growth
 * would have given it). */
static void index_unshed(struct index *x)
{
	size_t nslots = 128;

	while (x->n * 2 > nslots)
		nslots *= 2;
	index_rehash(x, nslots);
}

/* Free x's slots (lookups then go through every key until index_get
 * makes them again). */
static void index_shed(struct index *x)
{
	free(x->slots);
	x->slots = NULL;
	x->nslots = 0;
}

/* The index of key p (hash h) without slots: every key looked at. */
static long index_scan(const struct index *x, const char *p, size_t n,
		       uint64_t h)
{
	size_t i;

	for (i = 0; i < x->n; i++) {
		const char *k = key_at(x, i);

		if (key_hash(x, k) == h && key_eq(x, k, p, n))
			return (long)i;
	}
	return -1;
}

/* Item index of key p, or -1; *slot gets where it would be inserted. */
static long index_find(const struct index *x, const char *p, size_t n,
		       uint64_t h, size_t *slot)
{
	uint32_t tag, mask;
	size_t s;

	if (!x->nslots) {
		*slot = 0;
		return index_scan(x, p, n, h);
	}
	tag = slot_tag(x, h);
	mask = slot_tag_mask(x);
	for (s = h & (x->nslots - 1); x->slots[s];
	     s = (s + 1) & (x->nslots - 1)) {
		const char *k;
		uint32_t v = x->slots[s];

		if ((v & mask) != tag)
			continue;
		/* equal keys are equal bytes: the hash is not read */
		k = key_at(x, (v & ~mask) - 1);
		if (key_eq(x, k, p, n))
			return (long)(v & ~mask) - 1;
	}
	*slot = s;
	return -1;
}

/* The index in u of the patient whose id is the UUID of 16 bytes at
 * uuid, or -1 (also when u's slots are shed); hint: the likely one, or
 * -1. */
static long uuid_patient(const struct index *u, const char *uuid, long hint)
{
	char text[KEY_UUID], k[17];
	size_t slot;

	if (hint >= 0 && (size_t)hint < u->n) {
		const char *hk = key_at(u, (size_t)hint);

		if (hk[0] == TAG_UUID && !memcmp(hk + 1, uuid, 16))
			return hint;
	}
	if (!u->nslots)
		return -1;
	uuid_text((const unsigned char *)uuid, text);
	k[0] = TAG_UUID;
	memcpy(k + 1, uuid, 16);
	return index_find(u, k, 17, hash_bytes(text, KEY_UUID), &slot);
}

/* Find or add key p; *added tells which.  Returns the item index.  hint:
 * the patient an encounter id (x->uuids set) likely names, or -1. */
static size_t index_get(struct index *x, struct arena *a, const char *p,
			size_t n, long hint, int *added)
{
	uint64_t h = hash_bytes(p, n);
	size_t slot;
	char kb[128];
	struct ps_buf big = PS_BUF_INIT;
	long i;
	int bare;

	if (x->n && !x->nslots)
		index_unshed(x);
	if (x->packed) {
		char *o = kb;

		if (n + 1 > sizeof(kb)) {
			ps_buf_grow(&big, n + 1);
			o = big.data;
		}
		n = key_pack(p, n, o);
		p = o;
	}
	i = index_find(x, p, n, h, &slot);
	*added = 0;
	if (i >= 0) {
		ps_buf_release(&big);
		return (size_t)i;
	}
	if (x->n == x->cap) {
		x->cap = x->cap ? x->cap * 2 : 64;
		x->ref = ps_xrealloc(x->ref, x->cap * sizeof(*x->ref));
	}
	if (x->uuids && n == 21 && p[0] == TAG_UUID_AT32 &&
	    (i = uuid_patient(x->uuids, p + 1, hint)) >= 0) {
		uint32_t pi = (uint32_t)i;

		/* the UUID is a patient's id: tag 4 (p is kb) */
		memmove(kb + 5, kb + 17, 4);
		memcpy(kb + 1, &pi, 4);
		kb[0] = TAG_PATIENT_AT;
		n = 9;
	}
	bare = x->packed && p[0] != TAG_TEXT;
	x->ref[x->n++] = arena_key(a, p, n, h, bare, !bare, &x->bytes);
	ps_buf_release(&big);
	if (x->n * 2 > x->nslots) {
		index_rehash(x, x->nslots ? x->nslots * 2 : 128);
	} else {
		x->slots[slot] = slot_of(x, h, x->n - 1);
	}
	*added = 1;
	return x->n - 1;
}

static void index_free(struct index *x)
{
	free(x->ref);
	free(x->slots);
	memset(x, 0, sizeof(*x));
}

/* The item index of text p, or -1. */
static long index_lookup(const struct index *x, const char *p, size_t n)
{
	struct ps_buf b = PS_BUF_INIT;
	size_t slot;
	uint64_t h = hash_bytes(p, n);
	long i;

	if (!x->packed)
		return index_find(x, p, n, h, &slot);
	ps_buf_grow(&b, n + 1);
	i = index_find(x, b.data, key_pack(p, n, b.data), h, &slot);
	ps_buf_release(&b);
	return i;
}

/* The text of item i of x, appended to b; returns where it starts in
 * b->data.  Cannot fail. */
static size_t index_text(const struct index *x, size_t i, struct ps_buf *b)
{
	const char *k = key_at(x, i);
	size_t at = b->len, n = key_len(x, k);

	if (!x->packed) {
		ps_buf_add(b, k, n);
		return at;
	}
	ps_buf_grow(b, KEY_TEXT_MAX(n) + 1);
	b->len += key_text(x, k, n, b->data + at);
	b->data[b->len] = '\0';
	return at;
}

/* The text of item i of x, kept by table t when it had to be made (a
 * packed key); *len gets its length. */
static const char *index_text_in(const struct index *x, size_t i,
				 struct ps_table *t, size_t *len)
{
	const char *k = key_at(x, i);
	char b[KEY_UUID_AT + PS_TIME_MAX];

	if (!x->packed) {
		*len = key_len(x, k);
		return k;
	}
	if (k[0] == TAG_TEXT) {
		*len = key_len(x, k) - 1;
		return k + 1;	/* the text follows */
	}
	*len = key_text(x, k, key_len(x, k), b);
	return ps_table_keep(t, b, *len);
}

/* ------------------------------------------------------------------ */
/* State                                                               */
/* ------------------------------------------------------------------ */

/* One observation of a patient's tracked values at an event time.  The
 * SCD2 versions are the runs of equal values in time order, derived when
 * needed: the history is then the same in whatever order records came.
 * Aligned to 4 bytes, as struct patient that holds one. */
struct __attribute__((packed, aligned(4))) pobs {
	int64_t t;
	uint32_t gender, band;		/* symbols */
};

/* Most patients have one observation and one encounter: those are held
 * in the struct itself (44 bytes, no allocation); more go to the heap.
 * It is aligned to 4 bytes, with no padding: an array of a million
 * patients takes 42 MB, not 46. */
struct __attribute__((packed, aligned(4))) patient {
	union {				/* sorted by t, one per instant */
		struct pobs one;	/* n <= 1 */
		struct __attribute__((packed, aligned(4))) {
			struct pobs *v;
			uint32_t cap;
		} heap;			/* n > 1 */
	} o;
	int64_t age_t;
	union {				/* encounters seen with this patient */
		int32_t one;		/* nenc <= 1 */
		int32_t *v;		/* room for the power of two that
					   is nenc or above it */
	} encs;
	uint32_t n, nenc;		/* (encs not persisted: rebuilt) */
	int32_t age;
};

/* The observations of p, o[0..p->n - 1]. */
static struct pobs *obs_of(struct patient *p)
{
	return p->n <= 1 ? &p->o.one : p->o.heap.v;
}

static const struct pobs *cobs(const struct patient *p)
{
	return p->n <= 1 ? &p->o.one : p->o.heap.v;
}

/* Room for n observations (p->n of them kept), inline or on the heap;
 * returns the array.  Cannot fail. */
static struct pobs *obs_room(struct patient *p, uint32_t n)
{
	struct pobs one;

	if (n <= 1) {
		if (p->n > 1) {
			one = p->o.heap.v[0];
			free(p->o.heap.v);
			p->o.one = one;
		}
		return &p->o.one;
	}
	if (p->n <= 1) {
		one = p->o.one;
		p->o.heap.v = ps_xmalloc((n < 2 ? 2 : n) * sizeof(one));
		p->o.heap.cap = n < 2 ? 2 : n;
		p->o.heap.v[0] = one;
	} else if (n > p->o.heap.cap) {
		uint32_t cap = p->o.heap.cap * 2 > n ? p->o.heap.cap * 2 : n;

		p->o.heap.v = ps_xrealloc(p->o.heap.v, cap * sizeof(one));
		p->o.heap.cap = cap;
	}
	return p->o.heap.v;
}

/* The encounters seen with p, encs[0..p->nenc - 1]. */
static const int32_t *encs_of(const struct patient *p)
{
	return p->nenc > 1 ? p->encs.v : &p->encs.one;
}

static void pat_release(struct patient *p)
{
	if (p->n > 1)
		free(p->o.heap.v);
	if (p->nenc > 1)
		free(p->encs.v);
}

/* One derived SCD2 version: observations o[first..end-1]. */
struct pver {
	int64_t from, last;
	uint32_t gender, band;
	uint32_t first, end;
};

struct dept {
	uint32_t name;			/* symbol */
	int32_t hospital;
	int known;			/* index in ds, or -1 */
	int64_t sk;
};

/* An encounter as the rules see it (enc_get / enc_put; the snapshot
 * holds it as it is: no padding). */
struct enc {
	int32_t patient, dept;
	int32_t bed, triage;
	int32_t disposition;		/* symbol, or NUL32 */
	int32_t cancelled;		/* 1: the record at t_open cancels */
	int64_t t_adm, t_dis, t_arr, t_bed, t_tri, t_seen, t_dec, t_disp;
	int64_t t_open;			/* latest admit or cancel-admit */
	int64_t arrival, admission, discharge, seen, decision;
	int64_t ingest, last_event;
};

/*
 * How an encounter is stored: 44 bytes (4-byte aligned, no padding).
 * Most encounters come from records that set every field they hold at
 * one event time, without the ED fields (arrival, triage, seen,
 * decision, disposition): then every event time is last_event or null,
 * and flags say which.  Any other encounter also has an extension (the
 * event times, the ED fields and the bed, 112 bytes), which it keeps
 * (EF_EXT: u holds its index, not the bed).
 */
struct __attribute__((packed, aligned(4))) encc {
	int32_t patient;
	uint16_t dept;			/* DEPT_EXT: in the extension */
	uint16_t flags;			/* EF_* */
	union {
		int32_t bed;		/* no EF_EXT */
		uint32_t ext;		/* EF_EXT: index in encx + 1 */
	} u;
	int64_t admission, discharge, last_event, ingest;
};

struct enc_ext {
	int64_t t_adm, t_dis, t_arr, t_bed, t_tri, t_seen, t_dec, t_disp;
	int64_t t_open;
	int64_t arrival, seen, decision;
	int32_t triage, disposition;
	int32_t dept, bed;
};

#define DEPT_EXT 0xffff
enum {
	EF_CANCELLED = 1, EF_DIS = 2, EF_BED = 4, EF_OPEN = 8,
	EF_EXT = 0x8000
};

/* The extension of encounter c of g, or NULL. */
#define ENC_EXT(g, c) ((c)->flags & EF_EXT ? &(g)->encx[(c)->u.ext - 1] : \
		       NULL)

/* A set of item indices: a bitmap for membership, a list for order. */
struct touched {
	uint64_t *bits;
	size_t nwords;
	uint32_t *list;
	size_t n, cap;
};

static void touch(struct touched *t, size_t i)
{
	if (i / 64 >= t->nwords) {
		size_t nw = t->nwords ? t->nwords : 16;

		while (nw <= i / 64)
			nw *= 2;
		t->bits = ps_xrealloc(t->bits, nw * sizeof(*t->bits));
		memset(t->bits + t->nwords, 0,
		       (nw - t->nwords) * sizeof(*t->bits));
		t->nwords = nw;
	}
	if (t->bits[i / 64] >> (i % 64) & 1)
		return;
	t->bits[i / 64] |= 1ULL << (i % 64);
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 64;
		t->list = ps_xrealloc(t->list, t->cap * sizeof(*t->list));
	}
	t->list[t->n++] = (uint32_t)i;
}

static void touched_clear(struct touched *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		t->bits[t->list[i] / 64] = 0;
	t->n = 0;
}

static void touched_free(struct touched *t)
{
	free(t->bits);
	free(t->list);
	memset(t, 0, sizeof(*t));
}

struct ps_gold {
	const struct ps_departments *ds;
	struct arena arena;
	struct index syms, pidx, didx, eidx;
	struct patient *pat;
	struct dept *dep;
	struct encc *enc;
	size_t patcap, depcap, enccap;
	size_t nencc;			/* enc entries stored */
	struct enc_ext *encx;		/* the extensions of enc */
	size_t nencx, capencx;
	int32_t *dirty;			/* admission days changed */
	int32_t dirty_seen[64];		/* days in dirty, at day % 64 when */
	uint64_t dirty_valid;		/* ... that bit is set */
	int32_t *left;			/* days an encounter moved out of */
	size_t nleft, leftcap;
	size_t ndirty, dirtycap;
	size_t sort_bytes;		/* ps_gold_fact_sort_bytes */
	long long min_samples;		/* of a reported percentile */
	/* what changed since the last ps_gold_delta or ps_gold_mark_clean:
	 * entries at or past these counts are new, tpat/tenc list the
	 * older ones touched */
	size_t lsym, ldep, lpat, lenc;
	struct touched tpat, tenc;
	/* the KPIs' sums over the settled encounters (struct kcache) */
	struct kcache *kc;
};

static void kc_free(struct kcache *k);
static void kc_invalidate(struct ps_gold *g);
static void kc_unsettle(struct ps_gold *g, size_t i);

/* The encounter stored as c with extension x (NULL when c has none) as
 * the rules see it, into e.  Cannot fail. */
static void enc_unpack(const struct encc *c, const struct enc_ext *x,
		       struct enc *e)
{
	e->patient = c->patient;
	e->bed = x ? x->bed : c->u.bed;
	e->cancelled = c->flags & EF_CANCELLED;
	e->admission = c->admission;
	e->discharge = c->discharge;
	e->last_event = c->last_event;
	e->ingest = c->ingest;
	if (x) {
		e->dept = c->dept == DEPT_EXT ? x->dept : c->dept;
		e->triage = x->triage;
		e->disposition = x->disposition;
		e->t_adm = x->t_adm;
		e->t_dis = x->t_dis;
		e->t_arr = x->t_arr;
		e->t_bed = x->t_bed;
		e->t_tri = x->t_tri;
		e->t_seen = x->t_seen;
		e->t_dec = x->t_dec;
		e->t_disp = x->t_disp;
		e->t_open = x->t_open;
		e->arrival = x->arrival;
		e->seen = x->seen;
		e->decision = x->decision;
		return;
	}
	e->dept = c->dept;
	e->triage = e->disposition = NUL32;
	e->t_adm = c->last_event;
	e->t_dis = c->flags & EF_DIS ? c->last_event : PS_GOLD_NULL;
	e->t_bed = c->flags & EF_BED ? c->last_event : PS_GOLD_NULL;
	e->t_open = c->flags & EF_OPEN ? c->last_event : PS_GOLD_NULL;
	e->t_arr = e->t_tri = e->t_seen = e->t_dec = e->t_disp = PS_GOLD_NULL;
	e->arrival = e->seen = e->decision = PS_GOLD_NULL;
}

/* Encounter i as the rules see it, into e.  Cannot fail. */
static void enc_get(const struct ps_gold *g, size_t i, struct enc *e)
{
	const struct encc *c = &g->enc[i];

	enc_unpack(c, ENC_EXT(g, c), e);
}

/* t is null or the encounter's last event time. */
static int at_last(int64_t t, const struct enc *e)
{
	return t == PS_GOLD_NULL || t == e->last_event;
}

/* Store e as encounter i (room for it made): compact when it fits,
 * otherwise with an extension (enc_get gives e back either way).
 * Cannot fail. */
static void enc_put(struct ps_gold *g, size_t i, const struct enc *e)
{
	struct encc *c = &g->enc[i];
	struct enc_ext *x;
	int has_ext = c->flags & EF_EXT;

	c->patient = e->patient;
	c->flags = (uint16_t)((e->cancelled ? EF_CANCELLED : 0) | has_ext);
	c->admission = e->admission;
	c->discharge = e->discharge;
	c->last_event = e->last_event;
	c->ingest = e->ingest;
	if (!has_ext && e->dept >= 0 && e->dept < DEPT_EXT &&
	    e->t_adm == e->last_event && at_last(e->t_dis, e) &&
	    at_last(e->t_bed, e) && at_last(e->t_open, e) &&
	    (e->cancelled == 0 || e->cancelled == 1) &&
	    e->t_arr == PS_GOLD_NULL && e->t_tri == PS_GOLD_NULL &&
	    e->t_seen == PS_GOLD_NULL && e->t_dec == PS_GOLD_NULL &&
	    e->t_disp == PS_GOLD_NULL && e->arrival == PS_GOLD_NULL &&
	    e->seen == PS_GOLD_NULL && e->decision == PS_GOLD_NULL &&
	    e->triage == NUL32 && e->disposition == NUL32) {
		c->dept = (uint16_t)e->dept;
		c->u.bed = e->bed;
		c->flags |= (uint16_t)((e->t_dis != PS_GOLD_NULL ? EF_DIS : 0) |
				       (e->t_bed != PS_GOLD_NULL ? EF_BED : 0) |
				       (e->t_open != PS_GOLD_NULL ? EF_OPEN : 0));
		return;
	}
	if (!has_ext) {
		if (g->nencx == g->capencx) {
			g->capencx = g->capencx ? g->capencx * 2 : 64;
			g->encx = ps_xrealloc(g->encx, g->capencx *
					      sizeof(*g->encx));
		}
		c->u.ext = (uint32_t)++g->nencx;
		c->flags |= EF_EXT;
	}
	x = &g->encx[c->u.ext - 1];
	c->dept = (uint16_t)(e->dept >= 0 && e->dept < DEPT_EXT ? e->dept :
			     DEPT_EXT);
	x->dept = e->dept;
	x->bed = e->bed;
	x->triage = e->triage;
	x->disposition = e->disposition;
	x->t_adm = e->t_adm;
	x->t_dis = e->t_dis;
	x->t_arr = e->t_arr;
	x->t_bed = e->t_bed;
	x->t_tri = e->t_tri;
	x->t_seen = e->t_seen;
	x->t_dec = e->t_dec;
	x->t_disp = e->t_disp;
	x->t_open = e->t_open;
	x->arrival = e->arrival;
	x->seen = e->seen;
	x->decision = e->decision;
}

/* Room for encounter i of eidx; a new one (past those stored so far)
 * has no extension yet.  Cannot fail. */
static void enc_room(struct ps_gold *g, size_t i)
{
	if (g->eidx.n > g->enccap) {
		g->enccap = g->eidx.cap;
		g->enc = ps_xrealloc(g->enc, g->enccap * sizeof(*g->enc));
	}
	for (; g->nencc <= i; g->nencc++)
		g->enc[g->nencc].flags = 0;
}

struct ps_gold *ps_gold_new(const struct ps_departments *ds)
{
	struct ps_gold *g = ps_xcalloc(1, sizeof(*g));

	g->ds = ds;
	g->min_samples = PS_GOLD_MIN_SAMPLES;
	g->pidx.packed = g->eidx.packed = 1;
	g->syms.a = g->pidx.a = g->didx.a = g->eidx.a = &g->arena;
	g->eidx.uuids = &g->pidx;
	hex_init();
	return g;
}

void ps_gold_free(struct ps_gold *g)
{
	size_t i;

	if (!g)
		return;
	for (i = 0; i < g->pidx.n; i++)
		pat_release(&g->pat[i]);
	free(g->pat);
	free(g->dep);
	free(g->enc);
	free(g->encx);
	free(g->dirty);
	free(g->left);
	touched_free(&g->tpat);
	touched_free(&g->tenc);
	index_free(&g->syms);
	index_free(&g->pidx);
	index_free(&g->didx);
	index_free(&g->eidx);
	arena_free(&g->arena);
	kc_free(g->kc);
	free(g);
}

size_t ps_gold_npatients(const struct ps_gold *g)
{
	return g->pidx.n;
}

size_t ps_gold_nencounters(const struct ps_gold *g)
{
	return g->eidx.n;
}

size_t ps_gold_ndepartments(const struct ps_gold *g)
{
	return g->didx.n;
}

static uint32_t sym(struct ps_gold *g, const char *p, size_t n)
{
	int added;

	return (uint32_t)index_get(&g->syms, &g->arena, p, n, -1, &added);
}

static const char *symstr(const struct ps_gold *g, uint32_t s, size_t *len)
{
	if (len)
		*len = key_len(&g->syms, key_at(&g->syms, s));
	return key_at(&g->syms, s);
}

static void mark_dirty(struct ps_gold *g, int64_t admission)
{
	int32_t day = (int32_t)(admission >= 0 ? admission / PS_USEC_PER_DAY :
				-((-admission + PS_USEC_PER_DAY - 1) /
				  PS_USEC_PER_DAY));

	unsigned h = (uint32_t)day % 64;

	if (g->dirty_valid >> h & 1 && g->dirty_seen[h] == day)
		return;
	g->dirty_seen[h] = day;
	g->dirty_valid |= 1ULL << h;
	if (g->ndirty == g->dirtycap) {
		g->dirtycap = g->dirtycap ? g->dirtycap * 2 : 64;
		g->dirty = ps_xrealloc(g->dirty,
				       g->dirtycap * sizeof(*g->dirty));
	}
	g->dirty[g->ndirty++] = day;
}

static int32_t day_of(int64_t us)
{
	return (int32_t)(us >= 0 ? us / PS_USEC_PER_DAY :
			 -((-us + PS_USEC_PER_DAY - 1) / PS_USEC_PER_DAY));
}

/* hospital in decimal (as "%ld" prints it) into b; returns the length. */
static size_t fmt_dec(char *b, int32_t v)
{
	char t[12];
	size_t n = 0, i = 0;
	uint32_t u = v < 0 ? 0u - (uint32_t)v : (uint32_t)v;

	do {
		t[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		b[i++] = '-';
	while (n)
		b[i++] = t[--n];
	return i;
}

static size_t dept_get(struct ps_gold *g, const char *name, size_t n,
		       int32_t hospital)
{
	char kb[128], num[16];
	struct ps_buf k = PS_BUF_INIT;
	const char *key = kb;
	size_t i, nn, kl = n + 1;
	int added;

	/* the key: name, 0x1f, hospital in decimal */
	nn = fmt_dec(num, hospital);
	kl += nn;
	if (kl <= sizeof(kb)) {
		memcpy(kb, name, n);
		kb[n] = '\x1f';
		memcpy(kb + n + 1, num, nn);
	} else {
		ps_buf_add(&k, name, n);
		ps_buf_addc(&k, '\x1f');
		ps_buf_add(&k, num, nn);
		key = k.data;
	}
	i = index_get(&g->didx, &g->arena, key, kl, -1, &added);
	if (added) {
		struct dept *d;

		if (g->didx.n > g->depcap) {
			g->depcap = g->didx.cap;
			g->dep = ps_xrealloc(g->dep,
					     g->depcap * sizeof(*g->dep));
		}
		d = &g->dep[i];
		d->name = sym(g, name, n);
		d->hospital = hospital;
		d->known = g->ds ? ps_departments_find(g->ds, name, n) : -1;
		d->sk = ps_gold_sk(key, kl);
	}
	ps_buf_release(&k);
	return i;
}

/* ------------------------------------------------------------------ */
/* SCD2                                                                */
/* ------------------------------------------------------------------ */

/* strcmp of two symbols' strings (a tie-break that does not depend on
 * the order symbols were first seen in). */
static int symcmp(const struct ps_gold *g, uint32_t a, uint32_t b)
{
	const char *x = key_at(&g->syms, a), *y = key_at(&g->syms, b);
	size_t xl = key_len(&g->syms, x), yl = key_len(&g->syms, y);
	int c;

	if (a == b)
		return 0;
	c = memcmp(x, y, xl < yl ? xl : yl);
	return c ? c : (xl > yl) - (xl < yl);
}

/*
 * Observe gender/band at time t.  Returns 0 when nothing changed, 1 when
 * only the inside of a version changed (its last observation), 2 when
 * the versions' boundaries changed (a version starts elsewhere, or
 * versions were added): then the surrogate keys of the patient's
 * versions, and so the fact rows pointing at them, may change.  Two
 * records at the same instant with other values: the smaller (gender,
 * age_band) by byte order is kept, whatever the arrival order.
 */
static int scd2_observe(const struct ps_gold *g, struct patient *p,
			int64_t t, uint32_t gender, uint32_t band)
{
	uint32_t lo = 0, hi = p->n, k;
	struct pobs *o = obs_of(p);

	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;

		if (o[mid].t < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	k = lo;
	if (k < p->n && o[k].t == t) {
		int c = symcmp(g, gender, o[k].gender);

		if (!c)
			c = symcmp(g, band, o[k].band);
		if (c >= 0)
			return 0;
		o[k].gender = gender;
		o[k].band = band;
		return 2;
	}
	o = obs_room(p, p->n + 1);
	memmove(&o[k + 1], &o[k], (p->n - k) * sizeof(*o));
	o[k].t = t;
	o[k].gender = gender;
	o[k].band = band;
	p->n++;
	if (k > 0 && o[k - 1].gender == gender && o[k - 1].band == band)
		return 1;
	return 2;
}

/* The versions of p into *v (malloc'd array, kept across calls in *cap);
 * returns their number (>= 1). */
static uint32_t scd2_versions(const struct patient *p, struct pver **v,
			      uint32_t *cap)
{
	uint32_t i, n = 0;

	for (i = 0; i < p->n; i++) {
		const struct pobs *o = &cobs(p)[i];

		if (n && (*v)[n - 1].gender == o->gender &&
		    (*v)[n - 1].band == o->band) {
			(*v)[n - 1].last = o->t;
			(*v)[n - 1].end = i + 1;
			continue;
		}
		if (n == *cap) {
			*cap = *cap ? *cap * 2 : 4;
			*v = ps_xrealloc(*v, *cap * sizeof(**v));
		}
		(*v)[n].from = (*v)[n].last = o->t;
		(*v)[n].gender = o->gender;
		(*v)[n].band = o->band;
		(*v)[n].first = i;
		(*v)[n].end = i + 1;
		n++;
	}
	return n;
}

/* The observation index where the version in effect at t starts: the
 * last version starting at or before t, or the first one. */
static uint32_t version_start_at(const struct patient *p, int64_t t)
{
	const struct pobs *o = cobs(p);
	uint32_t lo = 0, hi = p->n, k;

	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;

		if (o[mid].t <= t)
			lo = mid + 1;
		else
			hi = mid;
	}
	k = lo ? lo - 1 : 0;
	while (k > 0 && o[k - 1].gender == o[k].gender &&
	       o[k - 1].band == o[k].band)
		k--;
	return k;
}

/* The surrogate key of the version of a patient starting at from:
 * ps_gold_sk of patient_id, 0x1f, from in decimal ("%lld"), without
 * building that string: the FNV state runs on from h, the state after
 * patient_id. */
static int64_t version_sk_from(uint64_t h, int64_t from)
{
	char t[24];
	size_t n = 0;
	uint64_t u = from < 0 ? 0u - (uint64_t)from : (uint64_t)from;

	h = fnv_add(h, "\x1f", 1);
	if (from < 0)
		h = fnv_add(h, "-", 1);
	do {
		t[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	while (n) {
		n--;
		h = fnv_add(h, &t[n], 1);
	}
	return (int64_t)(ps_mix64(h) & INT64_MAX);
}

/* version_sk_from for the stored patient key pk: its FNV state is the
 * stored hash unmixed (lib/rand.h), not the id hashed again. */
static int64_t version_sk(const struct ps_gold *g, size_t pi, int64_t from)
{
	return version_sk_from(ps_unmix64(key_hash(&g->pidx,
						   key_at(&g->pidx, pi))),
			       from);
}

int64_t ps_gold_version_sk(const char *patient_id, int64_t from)
{
	return version_sk_from(fnv_add(FNV_INIT, patient_id,
				       strlen(patient_id)), from);
}

void ps_gold_shed(struct ps_gold *g)
{
	index_shed(&g->syms);
	index_shed(&g->pidx);
	index_shed(&g->didx);
	index_shed(&g->eidx);
}

size_t ps_gold_index_bytes(const struct ps_gold *g)
{
	return (g->syms.nslots + g->pidx.nslots + g->didx.nslots +
		g->eidx.nslots) * sizeof(uint32_t);
}

void ps_gold_state_bytes(const struct ps_gold *g, size_t *patients,
			 size_t *encounters)
{
	size_t i, pb, eb;

	pb = g->pidx.n * (sizeof(*g->pat) + sizeof(*g->pidx.ref)) +
	     g->pidx.bytes;
	for (i = 0; i < g->pidx.n; i++) {
		const struct patient *p = &g->pat[i];
		size_t ne = p->nenc;

		if (p->n > 1)
			pb += p->o.heap.cap * sizeof(struct pobs);
		if (ne > 1) {
			while (ne & (ne - 1))	/* the power of two above */
				ne &= ne - 1;
			pb += (ne == p->nenc ? ne : 2 * ne) *
			      sizeof(*p->encs.v);
		}
	}
	eb = g->eidx.n * (sizeof(*g->enc) + sizeof(*g->eidx.ref)) +
	     g->eidx.bytes + g->nencx * sizeof(*g->encx);
	*patients = pb;
	*encounters = eb;
}

size_t ps_gold_history(const struct ps_gold *g, const char *patient_id,
		       struct ps_gold_version *out, size_t max)
{
	size_t j;
	long i = index_lookup(&g->pidx, patient_id, strlen(patient_id));
	struct pver *v = NULL;
	uint32_t nv, cap = 0;

	if (i < 0)
		return 0;
	nv = scd2_versions(&g->pat[i], &v, &cap);
	for (j = 0; j < nv && j < max; j++) {
		out[j].effective_from = v[j].from;
		out[j].effective_to = j + 1 < nv ? v[j + 1].from :
			PS_GOLD_NULL;
		out[j].last_seen = v[j].last;
		out[j].gender = symstr(g, v[j].gender, NULL);
		out[j].age_band = symstr(g, v[j].band, NULL);
	}
	free(v);
	return nv;
}

/* ------------------------------------------------------------------ */
/* Apply                                                               */
/* ------------------------------------------------------------------ */

/* A record's value v at event time t replaces the value cur set at
 * event time tcur: the latest by event time, ties to the larger value. */
static int later(int64_t t, int64_t v, int64_t tcur, int64_t cur)
{
	if (v == PS_GOLD_NULL)
		return 0;
	return tcur == PS_GOLD_NULL || t > tcur || (t == tcur && v > cur);
}

static int strcmp_n(const char *a, size_t an, const char *b, size_t bn)
{
	int c = memcmp(a, b, an < bn ? an : bn);

	return c ? c : (an > bn) - (an < bn);
}

/* Order of two admission sides at the same event time (record r with
 * patient pi and department di against e): > 0 when r's wins. */
static int adm_side_cmp(const struct ps_gold *g, const struct ps_gold_rec *r,
			const struct enc *e, int32_t pi, int32_t di)
{
	const char *dk, *ok;

	if (r->admission_time != e->admission)
		return r->admission_time > e->admission ? 1 : -1;
	if (di != e->dept) {
		dk = key_at(&g->didx, (size_t)di);
		ok = key_at(&g->didx, (size_t)e->dept);
		return strcmp_n(dk, key_len(&g->didx, dk), ok,
				key_len(&g->didx, ok));
	}
	if (pi != e->patient) {
		struct ps_buf b = PS_BUF_INIT;
		size_t a1 = index_text(&g->pidx, (size_t)pi, &b), a2, l1;
		int c;

		l1 = b.len - a1;
		a2 = index_text(&g->pidx, (size_t)e->patient, &b);
		c = strcmp_n(b.data + a1, l1, b.data + a2, b.len - a2);
		ps_buf_release(&b);
		return c;
	}
	return 0;
}

static void pat_add_enc(struct patient *p, int32_t ei)
{
	int32_t one;

	if (!p->nenc) {
		p->encs.one = ei;
		p->nenc = 1;
		return;
	}
	if (p->nenc == 1) {
		one = p->encs.one;
		p->encs.v = ps_xmalloc(2 * sizeof(*p->encs.v));
		p->encs.v[0] = one;
	} else if (!(p->nenc & (p->nenc - 1))) {	/* full */
		p->encs.v = ps_xrealloc(p->encs.v, 2 * (size_t)p->nenc *
					sizeof(*p->encs.v));
	}
	p->encs.v[p->nenc++] = ei;
}

/* What a record does to the cancel state of its encounter. */
enum { K_OTHER, K_OPEN, K_CANCEL_ADMIT, K_CANCEL_DISCHARGE };

static int type_is(const struct ps_gold_rec *r, const char *t)
{
	return r->event_type.len == strlen(t) &&
	       !memcmp(r->event_type.p, t, r->event_type.len);
}

static int rec_kind(const struct ps_gold_rec *r)
{
	if (!r->event_type.p || type_is(r, "ADMIT") || type_is(r, "ARRIVAL"))
		return K_OPEN;
	if (type_is(r, "CANCEL_ADMIT"))
		return K_CANCEL_ADMIT;
	if (type_is(r, "CANCEL_DISCHARGE"))
		return K_CANCEL_DISCHARGE;
	return K_OTHER;
}

int ps_gold_apply(struct ps_gold *g, const struct ps_gold_rec *r,
		  char *why, size_t whylen)
{
	struct ps_buf derived = PS_BUF_INIT;
	const char *eid = r->encounter_id.p, *band = r->age_band.p;
	size_t eidlen = r->encounter_id.len, bandlen = r->age_band.len;
	size_t pi, di, ei;
	struct patient *p;
	struct enc cur, *e = &cur, old;
	int64_t t;
	int added, changed = 0, bounds, kind;

	if (!r->patient_id.len || !r->department.len || !r->gender.p ||
	    r->admission_time == PS_GOLD_NULL ||
	    r->hospital_id == PS_GOLD_NULL) {
		snprintf(why, whylen, "missing patient_id, gender, "
			 "department, hospital_id or admission_time");
		return -1;
	}
	if (!band) {
		if (r->age == PS_GOLD_NULL) {
			snprintf(why, whylen, "missing age_band and age");
			return -1;
		}
		band = ps_silver_age_band((int)r->age);
		bandlen = strlen(band);
	}
	if (!eid || !eidlen) {
		/* silver derives it; do the same for hand-made records */
		char ts[PS_TIME_MAX];

		ps_buf_add(&derived, r->patient_id.p, r->patient_id.len);
		ps_buf_addc(&derived, '|');
		ps_buf_add(&derived, ts,
			   ps_time_format(r->admission_time, ts, 6));
		eid = derived.data;
		eidlen = derived.len;
	}
	t = r->event_time != PS_GOLD_NULL ? r->event_time : r->admission_time;
	di = dept_get(g, r->department.p, r->department.len,
		      (int32_t)r->hospital_id);

	pi = index_get(&g->pidx, &g->arena, r->patient_id.p, r->patient_id.len,
		       -1, &added);
	if (added) {
		if (g->pidx.n > g->patcap) {
			g->patcap = g->pidx.cap;
			g->pat = ps_xrealloc(g->pat,
					     g->patcap * sizeof(*g->pat));
		}
		memset(&g->pat[pi], 0, sizeof(g->pat[pi]));
		g->pat[pi].age = NUL32;
		g->pat[pi].age_t = PS_GOLD_NULL;
		changed = 1;
	}
	p = &g->pat[pi];
	/* the patient's current values count in the KPIs of each of its
	 * encounters: out of the settled sums before they may change */
	for (ei = 0; ei < p->nenc; ei++)
		kc_unsettle(g, (size_t)encs_of(p)[ei]);
	bounds = scd2_observe(g, p, t, sym(g, r->gender.p, r->gender.len),
			      sym(g, band, bandlen));
	changed |= bounds != 0;
	/* age is type 1: the latest by event time (ties: the oldest age) */
	if (r->age != PS_GOLD_NULL &&
	    (p->age_t == PS_GOLD_NULL || t > p->age_t ||
	     (t == p->age_t && (int32_t)r->age > p->age))) {
		p->age = (int32_t)r->age;
		p->age_t = t;
		changed = 1;
	}

	ei = index_get(&g->eidx, &g->arena, eid, eidlen, (long)pi, &added);
	ps_buf_release(&derived);
	if (added) {
		enc_room(g, ei);
		memset(e, 0, sizeof(*e));
		e->t_adm = e->t_dis = e->last_event = PS_GOLD_NULL;
		e->t_arr = e->t_bed = e->t_tri = PS_GOLD_NULL;
		e->t_seen = e->t_dec = e->t_disp = e->t_open = PS_GOLD_NULL;
		e->arrival = e->discharge = e->ingest = PS_GOLD_NULL;
		e->seen = e->decision = PS_GOLD_NULL;
		e->bed = e->triage = e->disposition = NUL32;
		e->patient = -1;
	} else {
		kc_unsettle(g, ei);
		enc_get(g, ei, e);
	}
	old = *e;
	if (added || t > e->t_adm ||
	    (t == e->t_adm && adm_side_cmp(g, r, e, (int32_t)pi,
					   (int32_t)di) > 0)) {
		e->t_adm = t;
		e->patient = (int32_t)pi;
		e->dept = (int32_t)di;
		e->admission = r->admission_time;
	}
	/* nullable fields: the latest record that has a value (ties: the
	 * larger value, so that arrival order never matters) */
	if (later(t, r->arrival_time, e->t_arr, e->arrival)) {
		e->arrival = r->arrival_time;
		e->t_arr = t;
	}
	if (later(t, r->bed_id, e->t_bed, e->bed == NUL32 ? PS_GOLD_NULL :
		  e->bed)) {
		e->bed = (int32_t)r->bed_id;
		e->t_bed = t;
	}
	if (later(t, r->triage_level, e->t_tri, e->triage == NUL32 ?
		  PS_GOLD_NULL : e->triage)) {
		e->triage = (int32_t)r->triage_level;
		e->t_tri = t;
	}
	/* a null discharge at t_dis is a CANCEL_DISCHARGE's: at its event
	 * time it beats every discharge (below) */
	if (later(t, r->discharge_time, e->t_dis, e->discharge) &&
	    !(t == e->t_dis && e->discharge == PS_GOLD_NULL)) {
		e->t_dis = t;
		e->discharge = r->discharge_time;
	}
	if (later(t, r->seen_time, e->t_seen, e->seen)) {
		e->t_seen = t;
		e->seen = r->seen_time;
	}
	if (later(t, r->decision_time, e->t_dec, e->decision)) {
		e->t_dec = t;
		e->decision = r->decision_time;
	}
	if (r->disposition.p) {
		int32_t ds = (int32_t)sym(g, r->disposition.p,
					  r->disposition.len);

		if (e->t_disp == PS_GOLD_NULL || t > e->t_disp ||
		    (t == e->t_disp && symcmp(g, (uint32_t)ds,
					      (uint32_t)e->disposition) > 0)) {
			e->t_disp = t;
			e->disposition = ds;
		}
	}
	/* CANCEL_DISCHARGE (HL7 A13) undoes the discharges at or before
	 * it; a later one discharges again */
	kind = rec_kind(r);
	if (kind == K_CANCEL_DISCHARGE &&
	    (e->t_dis == PS_GOLD_NULL || t >= e->t_dis)) {
		e->t_dis = t;
		e->discharge = PS_GOLD_NULL;
	}
	/* CANCEL_ADMIT (HL7 A11) undoes the admissions (ADMIT, ARRIVAL or
	 * untyped records) at or before it; a later one admits again.  Both
	 * cancels win at equal event times: the time of a cancel may be
	 * that of the event it cancels.  The latest of them by (event time,
	 * cancel) holds t_open, in any arrival order. */
	if (kind == K_CANCEL_ADMIT &&
	    (e->t_open == PS_GOLD_NULL || t >= e->t_open)) {
		e->t_open = t;
		e->cancelled = 1;
	} else if (kind == K_OPEN &&
		   (e->t_open == PS_GOLD_NULL || t > e->t_open)) {
		e->t_open = t;
		e->cancelled = 0;
	}
	if (e->last_event == PS_GOLD_NULL || t > e->last_event ||
	    (t == e->last_event && r->ingest_time > e->ingest)) {
		e->last_event = t;
		e->ingest = r->ingest_time;
	}
	enc_put(g, ei, e);
	if (e->patient != old.patient)
		pat_add_enc(&g->pat[e->patient], (int32_t)ei);
	if (added || memcmp(&old, e, sizeof(old))) {
		if (!added && old.admission != e->admission) {
			mark_dirty(g, old.admission);
			if (g->nleft == g->leftcap) {
				g->leftcap = g->leftcap ? 2 * g->leftcap : 16;
				g->left = ps_xrealloc(g->left, g->leftcap *
						      sizeof(*g->left));
			}
			g->left[g->nleft++] = day_of(old.admission);
		}
		mark_dirty(g, e->admission);
		changed = 1;
	}
	if (bounds == 2) {
		/* the patient's version keys may have moved: every fact row
		 * of the patient points at the version of its admission */
		const struct patient *pp = &g->pat[pi];
		const int32_t *pe = encs_of(pp);
		uint32_t k;

		for (k = 0; k < pp->nenc; k++)
			if (g->enc[pe[k]].patient == (int32_t)pi) {
				mark_dirty(g, g->enc[pe[k]].admission);
				/* its fact row changes: a table writer
				 * must know (ps_gold_changed_encounters) */
				if ((size_t)pe[k] < g->lenc)
					touch(&g->tenc, (size_t)pe[k]);
			}
	}
	/* for the state log: whatever the record did to them */
	if (pi < g->lpat)
		touch(&g->tpat, pi);
	if (ei < g->lenc)
		touch(&g->tenc, ei);
	return changed;
}

/* ------------------------------------------------------------------ */
/* Parsing a clean record                                              */
/* ------------------------------------------------------------------ */

#define G_STR(m) PS_GOLD_K_STR, offsetof(struct ps_gold_rec, m)
#define G_TIME(m) PS_GOLD_K_TIME, offsetof(struct ps_gold_rec, m)
#define G_INT(m) PS_GOLD_K_INT, offsetof(struct ps_gold_rec, m)
#define G_POS(m) PS_GOLD_K_POS, offsetof(struct ps_gold_rec, m)
#define G_NONE PS_GOLD_K_NONE, 0
#define FIELD(id, name, type, nullable, no_dict, gold)	\
	{ name, sizeof(name) - 1, gold },
const struct ps_gold_field ps_gold_fields[PS_CLEAN_NCOLS] = {
	PS_CLEAN_COLUMNS(FIELD)
};
#undef FIELD
#undef G_STR
#undef G_TIME
#undef G_INT
#undef G_POS
#undef G_NONE

void ps_gold_rec_init(struct ps_gold_rec *r)
{
	memset(r, 0, sizeof(*r));
	r->position = -1;
	r->ingest_time = r->event_time = r->arrival_time = PS_GOLD_NULL;
	r->admission_time = r->discharge_time = PS_GOLD_NULL;
	r->seen_time = r->decision_time = PS_GOLD_NULL;
	r->age = r->hospital_id = r->bed_id = r->triage_level = PS_GOLD_NULL;
}

/* The column of key p, or -1: length and first byte filter before the
 * compare (this runs for every key of every record). */
static int field_is(size_t i, const char *p, size_t n)
{
	return ps_gold_fields[i].len == n &&
	       ps_gold_fields[i].name[0] == p[0] &&
	       !memcmp(ps_gold_fields[i].name, p, n);
}

/* The field named p, trying *next first (silver writes the columns in
 * schema order, so the name is nearly always the one after the last). */
static int field_of(const char *p, size_t n, size_t *next)
{
	size_t i = *next;

	if (i >= PS_CLEAN_NCOLS || !field_is(i, p, n))
		for (i = 0; i < PS_CLEAN_NCOLS && !field_is(i, p, n); i++)
			;
	if (i == PS_CLEAN_NCOLS)
		return -1;
	*next = i + 1;
	return ps_gold_fields[i].kind ? (int)i : -1;
}

/* A string at *pp (just after the opening quote).  Escaped strings are
 * decoded into sc, which has room for the whole line (no realloc). */
static int scan_str(const char **pp, const char *e, struct ps_gold_str *s,
		    struct ps_buf *sc)
{
	const char *p = *pp;
	size_t at;
	int rc = ps_json_plain_str(pp, e, &s->p, &s->len);

	if (rc <= 0)
		return rc;	/* plain, or a control byte */
	at = sc->len;
	if (ps_json_unescape(&p, e, sc) < 0)
		return -1;
	s->p = sc->data + at;
	s->len = sc->len - at;
	*pp = p;
	return 0;
}

static int scan_int(const char *p, size_t n, int64_t *out)
{
	int64_t v = 0;
	size_t i = 0;
	int neg = 0;

	if (n && p[0] == '-') {
		neg = 1;
		i = 1;
	}
	if (i == n)
		return -1;
	for (; i < n; i++) {
		if (p[i] < '0' || p[i] > '9' || v > (INT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	*out = neg ? -v : v;
	return 0;
}

/* 0, or -1 with why when a member gold needs is missing. */
static int rec_complete(const struct ps_gold_rec *r, char *why,
			size_t whylen)
{
	if (!r->patient_id.len || !r->gender.p || !r->department.len ||
	    r->hospital_id == PS_GOLD_NULL ||
	    r->admission_time == PS_GOLD_NULL) {
		snprintf(why, whylen, "missing_field: patient_id, gender, "
			 "department, hospital_id and admission_time are "
			 "required");
		return -1;
	}
	if (!r->age_band.p && r->age == PS_GOLD_NULL) {
		snprintf(why, whylen, "missing_field: age_band or age");
		return -1;
	}
	return 0;
}

/* Whether p holds name (n bytes, p has them): 8 bytes at a time, the last
 * 8 overlapping, or 4 and 4 for a short name. */
static inline int name_at(const char *p, const char *name, size_t n)
{
	uint64_t a, b;
	uint32_t c, d, f, g;
	size_t i;

	if (n >= 8) {
		for (i = 0; i + 8 < n; i += 8) {
			memcpy(&a, p + i, 8);
			memcpy(&b, name + i, 8);
			if (a != b)
				return 0;
		}
		memcpy(&a, p + n - 8, 8);
		memcpy(&b, name + n - 8, 8);
		return a == b;
	}
	if (n >= 4) {
		memcpy(&c, p, 4);
		memcpy(&d, name, 4);
		memcpy(&f, p + n - 4, 4);
		memcpy(&g, name + n - 4, 4);
		return c == d && f == g;
	}
	for (i = 0; i < n; i++)
		if (p[i] != name[i])
			return 0;
	return 1;
}

/* The bytes that end a value that is not a string. */
static const unsigned char value_end[256] = {
	[','] = 1, ['}'] = 1, [' '] = 1, ['\t'] = 1, ['\n'] = 1, ['\r'] = 1,
	['"'] = 1, ['{'] = 1, ['['] = 1,
};

/*
 * The record as silver writes it (lib/silver.c): compact, every column
 * of lib/clean.h once in schema order.  Each key is then one compare
 * against the expected name.  Returns 0 with r filled, or 1 when the
 * line is not in that form or a value is not what gold reads (a string,
 * a timestamp, an integer in range): the general parser below then takes
 * the line from the start and decides, with its messages; whatever this
 * accepts, that parser gives the same record.
 */
static int parse_canonical(const char *line, size_t len,
			   struct ps_gold_rec *r, struct ps_buf *sc)
{
	const char *p = line, *e = line + len;
	size_t i;

	for (i = 0; i < PS_CLEAN_NCOLS; i++) {
		const struct ps_gold_field *fd = &ps_gold_fields[i];
		struct ps_gold_str s;
		int64_t iv;
		int isstr = 0;

		if ((size_t)(e - p) < fd->len + 4 || p[0] != (i ? ',' : '{') ||
		    p[1] != '"' || !name_at(p + 2, fd->name, fd->len) ||
		    p[2 + fd->len] != '"' || p[3 + fd->len] != ':')
			return 1;
		p += fd->len + 4;
		if (p < e && *p == '"') {
			p++;
			if (scan_str(&p, e, &s, sc) < 0)
				return 1;
			isstr = 1;
		} else {
			s.p = p;
			while (p < e && !value_end[(unsigned char)*p])
				p++;
			s.len = (size_t)(p - s.p);
			if (!s.len)
				return 1;
			if (s.len == 4 && !memcmp(s.p, "null", 4))
				continue;
		}
		switch (fd->kind) {
		case PS_GOLD_K_NONE:
			break;
		case PS_GOLD_K_STR:
			if (!isstr)
				return 1;
			*(struct ps_gold_str *)((char *)r + fd->off) = s;
			break;
		case PS_GOLD_K_TIME: {
			const char *tw;

			if (!isstr || ps_time_parse(s.p, s.len, &iv, &tw) < 0)
				return 1;
			*(int64_t *)((char *)r + fd->off) = iv;
			break;
		}
		default:
			if (isstr || scan_int(s.p, s.len, &iv) < 0 ||
			    (fd->kind != PS_GOLD_K_POS &&
			     (iv < INT32_MIN + 1 || iv > INT32_MAX)))
				return 1;
			if (fd->kind == PS_GOLD_K_POS)
				*(long long *)((char *)r + fd->off) = iv;
			else
				*(int64_t *)((char *)r + fd->off) = iv;
			break;
		}
	}
	return p + 1 == e && *p == '}' ? 0 : 1;
}

int ps_gold_parse(const char *line, size_t len, struct ps_gold_rec *r,
		  struct ps_buf *sc, char *why, size_t whylen)
{
	const char *p = line, *e = line + len;
	size_t next = 0;

	ps_gold_rec_init(r);
	ps_buf_reset(sc);
	ps_buf_grow(sc, len + 1);
	if (parse_canonical(line, len, r, sc) == 0)
		return rec_complete(r, why, whylen);
	ps_gold_rec_init(r);
	ps_buf_reset(sc);
	p = ps_json_ws(p, e);
	if (p >= e || *p++ != '{') {
		snprintf(why, whylen, "malformed_json: not a JSON object");
		return -1;
	}
	p = ps_json_ws(p, e);
	if (p < e && *p == '}') {
		p++;
		goto end;
	}
	for (;;) {
		const struct ps_gold_field *fd;
		struct ps_gold_str k, s;
		const char *v;
		int f, isnull = 0, isstr = 0;
		int64_t iv;

		if (p >= e || *p++ != '"' || scan_str(&p, e, &k, sc) < 0)
			goto bad;
		p = ps_json_ws(p, e);
		if (p >= e || *p++ != ':')
			goto bad;
		p = ps_json_ws(p, e);
		if (p >= e)
			goto bad;
		f = field_of(k.p, k.len, &next);
		v = p;
		if (*p == '"') {
			p++;
			if (scan_str(&p, e, &s, sc) < 0)
				goto bad;
			isstr = 1;
		} else if (*p == '{' || *p == '[') {
			goto bad;	/* clean records are flat */
		} else {
			while (p < e && *p != ',' && *p != '}' && *p != ' ' &&
			       *p != '\t')
				p++;
			if (p - v == 4 && !memcmp(v, "null", 4))
				isnull = 1;
			s.p = v;
			s.len = (size_t)(p - v);
		}
		if (isnull || f < 0)
			goto next;
		fd = &ps_gold_fields[f];
		switch (fd->kind) {
		case PS_GOLD_K_STR:
			if (!isstr) {
				snprintf(why, whylen, "wrong_type: %s is not "
					 "a string", fd->name);
				return -1;
			}
			*(struct ps_gold_str *)((char *)r + fd->off) = s;
			break;
		case PS_GOLD_K_TIME: {
			const char *tw;

			if (!isstr || ps_time_parse(s.p, s.len, &iv, &tw) < 0) {
				snprintf(why, whylen, "bad_timestamp: %s",
					 fd->name);
				return -1;
			}
			*(int64_t *)((char *)r + fd->off) = iv;
			break;
		}
		default:
			if (isstr || scan_int(s.p, s.len, &iv) < 0 ||
			    (fd->kind != PS_GOLD_K_POS &&
			     (iv < INT32_MIN + 1 || iv > INT32_MAX))) {
				snprintf(why, whylen, "wrong_type: %s is not "
					 "an integer", fd->name);
				return -1;
			}
			if (fd->kind == PS_GOLD_K_POS)
				*(long long *)((char *)r + fd->off) = iv;
			else
				*(int64_t *)((char *)r + fd->off) = iv;
			break;
		}
next:
		p = ps_json_ws(p, e);
		if (p < e && *p == ',') {
			p = ps_json_ws(p + 1, e);
			continue;
		}
		if (p < e && *p == '}') {
			p++;
			break;
		}
		goto bad;
	}
end:
	if (ps_json_ws(p, e) != e)
		goto bad;
	return rec_complete(r, why, whylen);
bad:
	snprintf(why, whylen, "malformed_json: at byte %zu",
		 (size_t)(p - line));
	return -1;
}

/* ------------------------------------------------------------------ */
/* Tables                                                              */
/* ------------------------------------------------------------------ */

#define COL(n, t, null) { n, PS_PQ_##t, null, 0 }

static const struct ps_pq_column fact_cols[] = {
	COL("fact_sk", INT64, 0), COL("encounter_id", STRING, 0),
	COL("patient_sk", INT64, 0), COL("patient_key", INT64, 0),
	COL("department_sk", INT64, 0),
	COL("patient_id", STRING, 0), COL("department", STRING, 0),
	COL("hospital_id", INT32, 0), COL("bed_id", INT32, 1),
	COL("triage_level", INT32, 1), COL("arrival_time", TIMESTAMP, 1),
	COL("seen_time", TIMESTAMP, 1), COL("decision_time", TIMESTAMP, 1),
	COL("admission_time", TIMESTAMP, 0),
	COL("discharge_time", TIMESTAMP, 1), COL("disposition", STRING, 1),
	COL("admission_date", DATE, 0),
	COL("length_of_stay_hours", DOUBLE, 1),
	COL("waiting_minutes", DOUBLE, 1),
	COL("boarding_minutes", DOUBLE, 1),
	COL("is_currently_admitted", BOOL, 0), COL("is_stale", BOOL, 0),
	COL("is_overstay", BOOL, 0),
	COL("last_event_time", TIMESTAMP, 0),
	COL("event_ingestion_time", TIMESTAMP, 1),
	COL("as_of", TIMESTAMP, 0),
};

static const struct ps_pq_column dim_patient_cols[] = {
	COL("patient_sk", INT64, 0), COL("patient_key", INT64, 0),
	COL("patient_id", STRING, 0), COL("version", INT32, 0),
	COL("gender", STRING, 0),
	COL("age_band", STRING, 0), COL("age", INT32, 1),
	COL("effective_from", TIMESTAMP, 0),
	COL("effective_to", TIMESTAMP, 1), COL("is_current", BOOL, 0),
	COL("last_seen", TIMESTAMP, 0),
};

#define NCOLS(c) (sizeof(c) / sizeof(c[0]))

const struct ps_pq_column *ps_gold_fact_columns(size_t *n)
{
	*n = NCOLS(fact_cols);
	return fact_cols;
}

static const struct ps_department *dept_conf(const struct ps_gold *g,
					     const struct dept *d)
{
	return d->known >= 0 ? &g->ds->d[d->known] : NULL;
}

static double overstay_hours(const struct ps_gold *g, const struct dept *d)
{
	return d->known >= 0 ? g->ds->d[d->known].overstay_hours : 50.0;
}

/* Open encounters admitted longer ago than this are stale (a lost
 * discharge); unknown departments: 30 days. */
static double stale_hours(const struct ps_gold *g, const struct dept *d)
{
	return d->known >= 0 ? g->ds->d[d->known].stale_after_hours : 720.0;
}

static int beds_of(const struct ps_gold *g, const struct dept *d)
{
	return d->known >= 0 ? ps_department_beds(&g->ds->d[d->known],
						  d->hospital) : -1;
}

static int is_ed(const struct ps_gold *g, const struct enc *e)
{
	const struct ps_department *c = dept_conf(g, &g->dep[e->dept]);

	return c && c->emergency;
}

/* Admitted at now and not discharged yet (stale ones included). */
static int is_open(const struct enc *e, int64_t now)
{
	return e->admission <= now &&
	       (e->discharge == PS_GOLD_NULL || e->discharge > now);
}

static int is_stale(const struct ps_gold *g, const struct enc *e,
		    int64_t now)
{
	return is_open(e, now) && e->discharge == PS_GOLD_NULL &&
	       (double)(now - e->admission) >
	       stale_hours(g, &g->dep[e->dept]) * (double)USEC_HOUR;
}

/* An emergency visit still waiting for a treatment space at now: it has
 * an arrival time and is not seen yet. */
static int is_waiting_ed(const struct ps_gold *g, const struct enc *e,
			 int64_t now)
{
	return is_ed(g, e) && e->arrival != PS_GOLD_NULL &&
	       (e->seen == PS_GOLD_NULL || e->seen > now);
}

/* In the census at now: open and not stale, and in a bed (an emergency
 * visit in the waiting room is not). */
static int is_current(const struct ps_gold *g, const struct enc *e,
		      int64_t now)
{
	return is_open(e, now) && !is_stale(g, e, now) &&
	       !is_waiting_ed(g, e, now);
}

static int discharged(const struct enc *e, int64_t now)
{
	return e->discharge != PS_GOLD_NULL && e->discharge <= now;
}

static double los_h(const struct enc *e)
{
	return (double)(e->discharge - e->admission) / (double)USEC_HOUR;
}

/* The wait for a bed: in the emergency department door (arrival) to
 * treatment space (seen); on a ward arrival (the decision to admit, or a
 * direct admission's arrival) to admission.  Its end, or NULL. */
static int64_t wait_end(const struct ps_gold *g, const struct enc *e)
{
	int64_t end = is_ed(g, e) ? e->seen : e->admission;

	if (e->arrival == PS_GOLD_NULL || end == PS_GOLD_NULL ||
	    e->arrival > end)
		return PS_GOLD_NULL;
	return end;
}

static double minutes(int64_t us)
{
	return (double)us / 60e6;
}

/* Decision to admit to leaving the emergency department, or NULL. */
static int64_t boarding_us(const struct enc *e)
{
	if (e->decision == PS_GOLD_NULL || e->discharge == PS_GOLD_NULL ||
	    e->discharge < e->decision)
		return PS_GOLD_NULL;
	return e->discharge - e->decision;
}

static int is_overstay(const struct ps_gold *g, const struct enc *e,
		       int64_t now)
{
	double thr = overstay_hours(g, &g->dep[e->dept]);

	if (is_current(g, e, now))
		return (double)(now - e->admission) / (double)USEC_HOUR > thr;
	return discharged(e, now) && los_h(e) > thr;
}

/* The current values of patient pi: its last observation. */
static const struct pobs *cur_ver(const struct ps_gold *g, int32_t pi)
{
	const struct patient *p = &g->pat[pi];

	return &cobs(p)[p->n - 1];
}

/* Compare rows on every column in order (nulls first). */
static const struct ps_table *sort_t;

static int cmp_rows(const void *a, const void *b)
{
	const struct ps_pq_value *x = a, *y = b;
	size_t c;

	for (c = 0; c < sort_t->ncols; c++) {
		int r = 0;

		if (x[c].is_null || y[c].is_null) {
			r = y[c].is_null - x[c].is_null;
		} else if (x[c].type == PS_PQ_STRING) {
			size_t n = x[c].v.s.len < y[c].v.s.len ?
				x[c].v.s.len : y[c].v.s.len;

			r = memcmp(x[c].v.s.p, y[c].v.s.p, n);
			if (!r)
				r = (x[c].v.s.len > y[c].v.s.len) -
				    (x[c].v.s.len < y[c].v.s.len);
		} else if (x[c].type == PS_PQ_DOUBLE) {
			r = (x[c].v.d > y[c].v.d) - (x[c].v.d < y[c].v.d);
		} else {
			r = (x[c].v.i > y[c].v.i) - (x[c].v.i < y[c].v.i);
		}
		if (r)
			return r;
	}
	return 0;
}

static void sort_table(struct ps_table *t)
{
	/* qsort on fixed-size rows: the element is a whole row */
	if (t->nrows < 2)
		return;
	sort_t = t;
	qsort(t->v, t->nrows, t->ncols * sizeof(*t->v), cmp_rows);
	sort_t = NULL;
}

enum { FC_FACT_SK, FC_ENCOUNTER, FC_PATIENT_SK, FC_PATIENT_KEY, FC_DEPT_SK,
       FC_PATIENT_ID, FC_DEPT, FC_HOSP, FC_BED, FC_TRIAGE, FC_ARRIVAL,
       FC_SEEN, FC_DECISION, FC_ADMISSION, FC_DISCHARGE, FC_DISPOSITION,
       FC_DATE, FC_LOS, FC_WAIT, FC_BOARDING, FC_CURRENT, FC_STALE,
       FC_OVERSTAY, FC_LAST_EVENT, FC_INGEST, FC_AS_OF };

static void fact_row(struct ps_gold *g, const struct enc *e, size_t ei,
		     int64_t now, struct ps_table *t)
{
	struct ps_pq_value *r = ps_table_add_row(t);
	const struct patient *p = &g->pat[e->patient];
	const struct dept *d = &g->dep[e->dept];
	size_t nl, el, pl;
	const char *dn = symstr(g, d->name, &nl);
	const char *es = index_text_in(&g->eidx, ei, t, &el);
	const char *ps = index_text_in(&g->pidx, (size_t)e->patient,
				       t, &pl);
	int64_t we = wait_end(g, e), bo = boarding_us(e);

	ps_table_set_i(t, r, FC_FACT_SK, key_sk(&g->eidx, ei));
	ps_table_set_s(t, r, FC_ENCOUNTER, es, el);
	ps_table_set_i(t, r, FC_PATIENT_SK, version_sk(g, (size_t)e->patient,
		cobs(p)[version_start_at(p, e->admission)].t));
	ps_table_set_i(t, r, FC_PATIENT_KEY, key_sk(&g->pidx,
						    (size_t)e->patient));
	ps_table_set_i(t, r, FC_DEPT_SK, d->sk);
	ps_table_set_s(t, r, FC_PATIENT_ID, ps, pl);
	ps_table_set_s(t, r, FC_DEPT, dn, nl);
	ps_table_set_i(t, r, FC_HOSP, d->hospital);
	if (e->bed != NUL32)
		ps_table_set_i(t, r, FC_BED, e->bed);
	if (e->triage != NUL32)
		ps_table_set_i(t, r, FC_TRIAGE, e->triage);
	if (e->arrival != PS_GOLD_NULL)
		ps_table_set_i(t, r, FC_ARRIVAL, e->arrival);
	if (e->seen != PS_GOLD_NULL)
		ps_table_set_i(t, r, FC_SEEN, e->seen);
	if (e->decision != PS_GOLD_NULL)
		ps_table_set_i(t, r, FC_DECISION, e->decision);
	ps_table_set_i(t, r, FC_ADMISSION, e->admission);
	if (e->discharge != PS_GOLD_NULL) {
		ps_table_set_i(t, r, FC_DISCHARGE, e->discharge);
		ps_table_set_d(t, r, FC_LOS, los_h(e));
	}
	if (e->disposition != NUL32) {
		const char *ds = symstr(g, (uint32_t)e->disposition, &nl);

		ps_table_set_s(t, r, FC_DISPOSITION, ds, nl);
	}
	ps_table_set_i(t, r, FC_DATE, day_of(e->admission));
	if (we != PS_GOLD_NULL)
		ps_table_set_d(t, r, FC_WAIT, minutes(we - e->arrival));
	if (bo != PS_GOLD_NULL && is_ed(g, e))
		ps_table_set_d(t, r, FC_BOARDING, minutes(bo));
	ps_table_set_b(t, r, FC_CURRENT, is_current(g, e, now));
	ps_table_set_b(t, r, FC_STALE, is_stale(g, e, now));
	ps_table_set_b(t, r, FC_OVERSTAY, is_overstay(g, e, now));
	ps_table_set_i(t, r, FC_LAST_EVENT, e->last_event);
	if (e->ingest != PS_GOLD_NULL)
		ps_table_set_i(t, r, FC_INGEST, e->ingest);
	ps_table_set_i(t, r, FC_AS_OF, now);
}

/* The index in days[0..n-1] (sorted) of the day of e, or -1. */
static long day_slot(const struct encc *e, const int32_t *days, size_t n)
{
	int32_t d = day_of(e->admission);
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (days[mid] < d)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && days[lo] == d ? (long)lo : -1;
}

/* day_slot through the table slot[day - lo] of span days when there is
 * one. */
static long enc_slot(const struct encc *e, const int32_t *days, size_t n,
		     const int32_t *slot, int32_t lo, size_t span)
{
	int64_t d;

	if (e->flags & EF_CANCELLED)
		return -1;	/* no fact row */
	if (!slot)
		return day_slot(e, days, n);
	d = (int64_t)day_of(e->admission) - lo;
	return d >= 0 && (uint64_t)d < span ? (long)slot[d] : -1;
}

struct sk_ix {
	int64_t sk;
	uint32_t i;
};

static int cmp_sk_ix(const void *a, const void *b)
{
	const struct sk_ix *x = a, *y = b;

	return (x->sk > y->sk) - (x->sk < y->sk);
}

/* Sort v[0..n-1] by sk (>= 0, 63 bits): an LSD radix sort, 11 bits a
 * pass (six passes; a pass where every key has the same digit is
 * skipped); qsort for a few.  Equal keys may come in any order (a tie
 * sorts the partition on every column, fact_rows).  Cannot fail. */
static void sort_sk_ix(struct sk_ix *v, size_t n)
{
	enum { BITS = 11, NB = 1 << BITS };
	struct sk_ix *tmp, *a = v, *b;
	size_t *cnt, i, d;

	if (n < 256) {
		qsort(v, n, sizeof(*v), cmp_sk_ix);
		return;
	}
	tmp = ps_xmalloc(n * sizeof(*tmp));
	cnt = ps_xmalloc(NB * sizeof(*cnt));
	b = tmp;
	for (d = 0; d < 63; d += BITS) {
		size_t sum = 0;

		memset(cnt, 0, NB * sizeof(*cnt));
		for (i = 0; i < n; i++)
			cnt[(uint64_t)a[i].sk >> d & (NB - 1)]++;
		if (cnt[(uint64_t)a[0].sk >> d & (NB - 1)] == n)
			continue;
		for (i = 0; i < NB; i++) {
			size_t c = cnt[i];

			cnt[i] = sum;
			sum += c;
		}
		for (i = 0; i < n; i++)
			b[cnt[(uint64_t)a[i].sk >> d & (NB - 1)]++] = a[i];
		a = b;
		b = a == v ? tmp : v;
	}
	if (a != v)
		memcpy(v, a, n * sizeof(*v));
	free(cnt);
	free(tmp);
}

/* Rows of a fact partition per chunk of a streamed write: two chunks
 * are held (one written, one filled ahead: kpi.c does so from 1,024
 * rows), 26 values of 24 bytes a row, 639 KB a chunk. */
#define FACT_CHUNK 1024

/* The encounters of one fact partition, in row order. */
struct fact_src {
	struct ps_gold *g;
	const struct sk_ix *ix;
	size_t n;
	int64_t now;
};

/* How many rows ahead fact_fill asks for a row's memory. */
#define AHEAD 16

/* The fill function of a streamed fact partition (lib/kpi.h). */
static size_t fact_fill(const void *ctx, size_t *cursor, struct ps_table *t)
{
	const struct fact_src *s = ctx;
	const struct ps_gold *g = s->g;
	const struct sk_ix *ix = s->ix;
	const struct encc *c;
	const char *k;
	size_t rows;
	struct enc e;

	for (rows = 0; *cursor < s->n && rows < FACT_CHUNK;
	     (*cursor)++, rows++) {
		size_t at = *cursor;

		/* rows go in fact_sk order, which is no order of the state:
		 * each reads its encounter, its patient and their keys from
		 * anywhere in memory; their cache lines are asked for ahead,
		 * in three steps (in a function of their own, GCC 12 drops
		 * these prefetches as having no effect) */
		if (at + AHEAD < s->n) {
			__builtin_prefetch(&g->enc[ix[at + AHEAD].i]);
			__builtin_prefetch(&g->eidx.ref[ix[at + AHEAD].i]);
		}
		if (at + AHEAD / 2 < s->n) {
			c = &g->enc[ix[at + AHEAD / 2].i];
			k = key_at(&g->eidx, ix[at + AHEAD / 2].i);
			__builtin_prefetch(k - 8);	/* its hash */
			__builtin_prefetch(k + 20);
			__builtin_prefetch(&g->pat[c->patient]);
			__builtin_prefetch(&g->pidx.ref[c->patient]);
			if (c->flags & EF_EXT)
				__builtin_prefetch(ENC_EXT(g, c));
		}
		if (at + AHEAD / 4 < s->n) {
			k = key_at(&g->pidx,
				   (size_t)g->enc[ix[at + AHEAD / 4].i].patient);
			__builtin_prefetch(k - 8);
			__builtin_prefetch(k + 16);
		}
		enc_get(s->g, ix[at].i, &e);
		fact_row(s->g, &e, ix[at].i, s->now, t);
	}
	return rows;
}

/* The rows of encounters src->ix[0..n-1] into t, in the order of
 * sort_table (by fact_sk first: rows are only compared further when two
 * encounters share a fact_sk, which then sorts the whole table, held in
 * memory); without such a tie t is streamed from src (kept alive while t
 * is used). */
static void fact_rows(struct fact_src *src, struct sk_ix *ix,
		      struct ps_table *t)
{
	size_t i;
	int tie = 0;

	for (i = 0; i < src->n; i++)
		ix[i].sk = key_sk(&src->g->eidx, ix[i].i);
	sort_sk_ix(ix, src->n);
	for (i = 1; i < src->n; i++)
		tie |= ix[i].sk == ix[i - 1].sk;
	src->ix = ix;
	t->fill = fact_fill;
	t->fill_ctx = src;
	if (tie) {
		ps_table_fill_all(t);
		sort_table(t);
	}
}

int ps_gold_fact_each(struct ps_gold *g, const int32_t *days, size_t n,
		      int64_t now, ps_gold_part_fn fn, void *ctx)
{
	return ps_gold_fact_range(g, days, n, 0, g->eidx.n, now, fn, ctx);
}

size_t ps_gold_changed_encounters(const struct ps_gold *g,
				  const uint32_t **touched, size_t *n)
{
	*touched = g->tenc.list;
	*n = g->tenc.n;
	return g->lenc;
}

int ps_gold_fact_range(struct ps_gold *g, const int32_t *days, size_t n,
		       size_t from, size_t to, int64_t now, ps_gold_part_fn fn,
		       void *ctx)
{
	size_t *start = ps_xcalloc(n + 1, sizeof(*start)), *fill, i, tot;
	size_t span = 0;
	int32_t *slot = NULL, lo = 0;
	struct sk_ix *ix;
	uint32_t *at;
	size_t most = 0, k;
	int rc = 0;

	/* the slot of each day of the span, when that table is small */
	if (n && (int64_t)days[n - 1] - days[0] < 4 * 1024 * 1024) {
		lo = days[0];
		span = (size_t)(days[n - 1] - lo) + 1;
		slot = ps_xmalloc(span * sizeof(*slot));
		memset(slot, 0xff, span * sizeof(*slot));
		for (i = 0; i < n; i++)
			slot[days[i] - lo] = (int32_t)i;
	}
	/* bucket the encounters of the n days: one counting sort */
	for (i = from; i < to && i < g->eidx.n; i++) {
		long s = enc_slot(&g->enc[i], days, n, slot, lo, span);

		if (s >= 0)
			start[s + 1]++;
	}
	for (i = 0; i < n; i++)
		start[i + 1] += start[i];
	tot = start[n];
	at = ps_xmalloc((tot ? tot : 1) * sizeof(*at));
	fill = ps_xmalloc((n ? n : 1) * sizeof(*fill));
	if (n)
		memcpy(fill, start, n * sizeof(*fill));
	for (i = from; i < to && i < g->eidx.n; i++) {
		long s = enc_slot(&g->enc[i], days, n, slot, lo, span);

		if (s >= 0)
			at[fill[s]++] = (uint32_t)i;
	}
	free(fill);
	free(slot);
	/* the sort keys of one partition at a time (16 bytes a row, the
	 * buckets 4) */
	for (i = 0; i < n; i++)
		if (start[i + 1] - start[i] > most)
			most = start[i + 1] - start[i];
	ix = ps_xmalloc((most ? most : 1) * sizeof(*ix));
	if (tot * sizeof(*at) + most * sizeof(*ix) > g->sort_bytes)
		g->sort_bytes = tot * sizeof(*at) + most * sizeof(*ix);
	for (i = 0; i < n && !rc; i++) {
		struct ps_table t;
		struct fact_src src = { g, NULL, start[i + 1] - start[i], now };

		ps_table_init(&t, "fact_patient_flow", fact_cols,
			      NCOLS(fact_cols));
		for (k = 0; k < src.n; k++)
			ix[k].i = at[start[i] + k];
		if (src.n)
			fact_rows(&src, ix, &t);
		rc = fn(ctx, days[i], &t);
		ps_table_release(&t);
	}
	free(ix);
	free(at);
	free(start);
	return rc;
}

struct part_copy {
	struct ps_table *t;
	size_t i;
};

static int copy_part(void *ctx, int32_t day, const struct ps_table *t)
{
	struct part_copy *c = ctx;
	struct ps_table *d = &c->t[c->i++];

	(void)day;
	ps_table_init(d, t->name, t->cols, t->ncols);
	if (t->fill) {
		d->fill = t->fill;
		d->fill_ctx = t->fill_ctx;
		ps_table_fill_all(d);
		return 0;
	}
	d->nrows = d->cap = t->nrows;
	if (t->nrows) {
		size_t k;

		d->v = ps_xmalloc(t->nrows * t->ncols * sizeof(*d->v));
		memcpy(d->v, t->v, t->nrows * t->ncols * sizeof(*d->v));
		/* the strings t kept go when t does */
		for (k = 0; k < t->nrows * t->ncols; k++)
			if (!d->v[k].is_null && d->v[k].type == PS_PQ_STRING)
				d->v[k].v.s.p = ps_table_keep(d, d->v[k].v.s.p,
							      d->v[k].v.s.len);
	}
	return 0;
}

void ps_gold_fact_partitions(struct ps_gold *g, const int32_t *days,
			     size_t n, int64_t now, struct ps_table *t)
{
	struct part_copy c = { t, 0 };

	ps_gold_fact_each(g, days, n, now, copy_part, &c);
}

/* ------------------------------------------------------------------ */
/* KPIs: one declarative entry each (name, columns, how it is built,    */
/* which columns alert), over accumulators of one pass                 */
/* ------------------------------------------------------------------ */

#define SAMPLES 9		/* census every 15 min over the last 2 h */
#define SAMPLE_STEP (15LL * 60 * PS_USEC_PER_SEC)
#define MIN_US (60LL * PS_USEC_PER_SEC)

struct dvec {
	double *v;
	size_t n, cap;
};

static void dvec_add(struct dvec *d, double x)
{
	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 32;
		d->v = ps_xrealloc(d->v, d->cap * sizeof(*d->v));
	}
	d->v[d->n++] = x;
}

struct timed {
	int64_t end;
	double minutes;
};

/* Per (department, hospital) accumulators. */
struct dacc {
	long long census, stale, waiting, inflow1h, dis1h, over_cur, over_dis;
	long long stranded, super_stranded, discharges, dis30;
	long long cens_k[SAMPLES];
	struct timed *waits;		/* ended within the widest window */
	size_t nw, capw;
	long long *hours;		/* admissions per hour of the window */
	/* emergency departments: departures of the window */
	long long visits, lwbs, within4h, over12h, ecat;
	long long boarding_now, boarding_now_4h;
	struct dvec d2r, los_dis, los_adm, board;
};

/* 128 bits: stays from the year 1 to now, 6.4e16 us each, are valid
 * records, and 145 of them overflow 64 bits. */
__extension__ typedef __int128 los_sum;

struct pair_acc {
	long long n1, n2;
	los_sum sum_us;		/* exact: the mean is the same in any order */
};

/*
 * Sums keyed by two symbols or a day and a symbol (kkey): only the cells
 * that encounters use.  cell[] holds them in the order added; slot[]
 * (a power of two, at most half full) holds a cell's index + 1, 0 when
 * empty.
 */
struct kcell {
	uint64_t key;
	struct pair_acc v;
};

struct kmap {
	struct kcell *cell;
	size_t n, cap;
	uint32_t *slot;
	size_t nslots;
};

static uint64_t kkey(uint32_t hi, uint32_t lo)
{
	return (uint64_t)hi << 32 | lo;
}

static void kmap_free(struct kmap *m)
{
	free(m->cell);
	free(m->slot);
	memset(m, 0, sizeof(*m));
}

static size_t kmap_bytes(const struct kmap *m)
{
	return m->cap * sizeof(*m->cell) + m->nslots * sizeof(*m->slot);
}

/* The slot of key in m: where its cell's index is, else the empty slot
 * where it goes.  m has slots. */
static size_t kmap_slot(const struct kmap *m, uint64_t key)
{
	size_t mask = m->nslots - 1, s;

	for (s = ps_mix64(key) & mask; m->slot[s] &&
	     m->cell[m->slot[s] - 1].key != key; s = (s + 1) & mask)
		;
	return s;
}

/* The sums of key in m, or NULL when m has no such cell. */
static const struct pair_acc *kmap_find(const struct kmap *m, uint64_t key)
{
	size_t s;

	if (!m->nslots)
		return NULL;
	s = kmap_slot(m, key);
	return m->slot[s] ? &m->cell[m->slot[s] - 1].v : NULL;
}

/* The sums of key in m, a zero cell added when m has none.  Cannot
 * fail. */
static struct pair_acc *kmap_at(struct kmap *m, uint64_t key)
{
	size_t s, i;

	if (2 * (m->n + 1) > m->nslots) {
		free(m->slot);
		m->nslots = m->nslots ? 2 * m->nslots : 16;
		m->slot = ps_xcalloc(m->nslots, sizeof(*m->slot));
		for (i = 0; i < m->n; i++)
			m->slot[kmap_slot(m, m->cell[i].key)] = (uint32_t)i + 1;
	}
	s = kmap_slot(m, key);
	if (m->slot[s])
		return &m->cell[m->slot[s] - 1].v;
	if (m->n == m->cap) {
		m->cap = m->cap ? 2 * m->cap : 16;
		m->cell = ps_xrealloc(m->cell, m->cap * sizeof(*m->cell));
	}
	memset(&m->cell[m->n], 0, sizeof(m->cell[m->n]));
	m->cell[m->n].key = key;
	m->slot[s] = (uint32_t)++m->n;
	return &m->cell[m->n - 1].v;
}

/*
 * The KPIs' sums as of now.  los by (department name, gender), demo by
 * (age band, gender), vol (n1) by (admission day, gender).  settled, when
 * not NULL, holds the sums of the settled encounters (struct kcache) to
 * be added to these, which are then those of the others only.
 */
struct kctx {
	struct ps_gold *g;
	int64_t now, window, wide;	/* wide: the widest waiting window */
	size_t nd, nh;
	long long base;			/* first hour of the window */
	struct dacc *da;
	struct kmap los, demo, vol;
	const struct kctx *settled;
};

/* Frees what c holds: its departments' and keyed sums. */
static void kctx_release(struct kctx *c)
{
	size_t i;

	for (i = 0; i < c->nd; i++) {
		free(c->da[i].waits);
		free(c->da[i].hours);
		free(c->da[i].d2r.v);
		free(c->da[i].los_dis.v);
		free(c->da[i].los_adm.v);
		free(c->da[i].board.v);
	}
	free(c->da);
	kmap_free(&c->los);
	kmap_free(&c->demo);
	kmap_free(&c->vol);
}

/* Calls row with each cell of a plus s (NULL: none), the same map of c
 * and of c->settled. */
static void kmap_rows(const struct kctx *c, const struct kmap *a,
		      const struct kmap *s, struct ps_table *t,
		      void (*row)(const struct kctx *, struct ps_table *,
				  uint64_t, const struct pair_acc *))
{
	size_t i;

	for (i = 0; i < a->n; i++) {
		struct pair_acc v = a->cell[i].v;
		const struct pair_acc *o = s ? kmap_find(s, a->cell[i].key) :
					   NULL;

		if (o) {
			v.n1 += o->n1;
			v.n2 += o->n2;
			v.sum_us += o->sum_us;
		}
		row(c, t, a->cell[i].key, &v);
	}
	for (i = 0; s && i < s->n; i++)
		if (!kmap_find(a, s->cell[i].key))
			row(c, t, s->cell[i].key, &s->cell[i].v);
}

void ps_gold_set_min_samples(struct ps_gold *g, long long n)
{
	g->min_samples = n < 1 ? 1 : n;
}

static int disp_is(const struct ps_gold *g, const struct enc *e,
		   const char *what)
{
	size_t n;
	const char *s;

	if (e->disposition == NUL32)
		return 0;
	s = symstr(g, (uint32_t)e->disposition, &n);
	return n == strlen(what) && !memcmp(s, what, n);
}

/* An emergency visit that left in the window: the CMS / NHS measures. */
static void ed_visit(const struct ps_gold *g, const struct enc *e,
		     struct dacc *a)
{
	int64_t arr = e->arrival != PS_GOLD_NULL ? e->arrival : e->admission;
	int64_t stay = e->discharge - arr, bo = boarding_us(e);
	int lwbs = disp_is(g, e, "LWBS");
	int admitted = disp_is(g, e, "ADMITTED") ||
		       (e->disposition == NUL32 &&
			e->decision != PS_GOLD_NULL);
	int late_room = 0;

	a->visits++;
	a->lwbs += lwbs;
	if (e->seen != PS_GOLD_NULL && e->seen >= arr) {
		dvec_add(&a->d2r, minutes(e->seen - arr));
		late_room = e->seen - arr > 60 * MIN_US;
	}
	if (admitted) {
		dvec_add(&a->los_adm, minutes(stay));
		if (bo != PS_GOLD_NULL)
			dvec_add(&a->board, minutes(bo));
	} else if (!lwbs && !disp_is(g, e, "TRANSFERRED")) {
		dvec_add(&a->los_dis, minutes(stay));
	}
	a->within4h += stay <= 240 * MIN_US;
	a->over12h += stay > 720 * MIN_US;
	a->ecat += late_room || lwbs ||
		   (bo != PS_GOLD_NULL && bo > 240 * MIN_US) ||
		   stay > 480 * MIN_US;
}

/*
 * Add the part of encounter i in every KPI as of c->now to c's sums of
 * the departments and to cells's keyed sums (los, demo, vol; NULL: not
 * those), times sign: -1 takes back the part of a settled encounter (its
 * parts in the windows, quantiles and census are none: settled()).
 */
static void acc_enc(struct kctx *c, struct kctx *cells, size_t i,
		    long long sign)
{
	struct ps_gold *g = c->g;
	int64_t now = c->now, h0 = now - c->window;
	struct enc ebuf, *e = &ebuf;
	const struct pobs *v;
	const struct dept *dp;
	struct dacc *a;
	struct pair_acc *pd;
	double thr;
	int cur, ed;
	int64_t we;
	size_t k;

	enc_get(g, i, e);
	if (e->cancelled)
		return;
	a = &c->da[e->dept];
	v = cur_ver(g, e->patient);
	dp = &g->dep[e->dept];
	thr = overstay_hours(g, dp);
	cur = is_current(g, e, now);
	ed = is_ed(g, e);
	we = wait_end(g, e);
	a->census += cur * sign;
	a->stale += is_stale(g, e, now) * sign;
	a->waiting += (is_open(e, now) && !is_stale(g, e, now) &&
		       is_waiting_ed(g, e, now)) * sign;
	for (k = 0; k < SAMPLES; k++)
		a->cens_k[k] += is_current(g, e, now -
					   (int64_t)k * SAMPLE_STEP) * sign;
	if (cur) {
		double in_h = (double)(now - e->admission) /
			      (double)USEC_HOUR;

		a->over_cur += (in_h > thr) * sign;
		a->stranded += (in_h >= 7 * 24) * sign;
		a->super_stranded += (in_h >= 21 * 24) * sign;
		if (ed && e->decision != PS_GOLD_NULL &&
		    e->decision <= now) {
			a->boarding_now += sign;
			a->boarding_now_4h += (now - e->decision >
					       240 * MIN_US) * sign;
		}
	}
	if (discharged(e, now)) {
		double l = los_h(e);

		a->discharges += sign;
		a->over_dis += (l > thr) * sign;
		a->dis30 += (e->discharge > now - 30 * PS_USEC_PER_DAY) *
			    sign;
		if (cells) {
			pd = kmap_at(&cells->los, kkey(dp->name, v->gender));
			pd->n1 += sign;
			pd->sum_us += (los_sum)(e->discharge - e->admission) * sign;
		}
		if (e->discharge > now - USEC_HOUR)
			a->dis1h += sign;
		if (ed && e->discharge > h0)
			ed_visit(g, e, a);
	}
	if (e->admission > now - USEC_HOUR && e->admission <= now)
		a->inflow1h += sign;
	if (e->admission > h0 && e->admission <= now)
		a->hours[e->admission / USEC_HOUR - c->base]++;
	if (we != PS_GOLD_NULL && we > now - c->wide && we <= now) {
		if (a->nw == a->capw) {
			a->capw = a->capw ? a->capw * 2 : 64;
			a->waits = ps_xrealloc(a->waits, a->capw *
					       sizeof(*a->waits));
		}
		a->waits[a->nw].end = we;
		a->waits[a->nw++].minutes = minutes(we - e->arrival);
	}
	if (!cells)
		return;
	pd = kmap_at(&cells->demo, kkey(v->band, v->gender));
	pd->n1 += cur * sign;
	pd->n2 += sign;
	kmap_at(&cells->vol, kkey((uint32_t)day_of(e->admission),
				  v->gender))->n1 += sign;
}

/*
 * Is the part of e in every KPI (acc_enc) the same at every time from now
 * on?  Yes when it is cancelled, or admitted before the inflow windows,
 * its wait ended before the waiting windows, and either discharged before
 * the 30-day, ED and census-sample windows, or still open and already
 * stale at the first census sample (it stays stale, out of the census).
 */
static int settled(const struct kctx *c, const struct enc *e)
{
	int64_t now = c->now, we = wait_end(c->g, e);
	int64_t back = c->window > USEC_HOUR ? c->window : USEC_HOUR;

	if (e->cancelled)
		return 1;
	if (e->admission > now - back ||
	    (we != PS_GOLD_NULL && we > now - c->wide))
		return 0;
	if (e->discharge != PS_GOLD_NULL) {
		back = c->window > 30 * PS_USEC_PER_DAY ? c->window :
		       30 * PS_USEC_PER_DAY;
		return e->discharge <= now - back;
	}
	return is_stale(c->g, e, now - (SAMPLES - 1) * SAMPLE_STEP);
}

/*
 * The KPIs' part that follows the change (see gold.h, ps_gold_tables):
 * s sums the parts of the settled encounters (settled(): they no longer
 * change as the clock moves on), once each; a commit goes over the
 * active ones only and moves those that settled into s.  Its keyed sums
 * (struct kmap) hold the cells used only, and a commit's own hold those
 * of its active encounters: the two are added up as the tables are made,
 * never copied whole.  A record that touches a settled encounter, or its patient (the
 * current gender and age band count), takes the encounter's part out of
 * s first (kc_unsettle) and makes it active.  The sums are integers, so
 * the tables are the same as those of a pass over every encounter.  The
 * clock going back, another window, or a state loaded (restore, deltas)
 * makes s again from nothing.
 */
struct kcache {
	int valid;
	struct kctx s;		/* nd: the departments of g then */
	uint64_t *settled;	/* a bit per encounter */
	size_t nwords;
	uint32_t *active;	/* the others of [0, seen) */
	size_t nactive, capactive;
	size_t seen;
	size_t visited;		/* by the last accumulate */
};

size_t ps_gold_kpi_visited(const struct ps_gold *g)
{
	return g->kc ? g->kc->visited : 0;
}

size_t ps_gold_kpi_bytes(const struct ps_gold *g)
{
	const struct kcache *k = g->kc;

	if (!k)
		return 0;
	return sizeof(*k) + k->s.nd * sizeof(*k->s.da) +
	       kmap_bytes(&k->s.los) + kmap_bytes(&k->s.demo) +
	       kmap_bytes(&k->s.vol) + k->nwords * sizeof(*k->settled) +
	       k->capactive * sizeof(*k->active);
}

static void kc_free(struct kcache *k)
{
	if (!k)
		return;
	kctx_release(&k->s);
	free(k->settled);
	free(k->active);
	free(k);
}

static void kc_invalidate(struct ps_gold *g)
{
	if (g->kc)
		g->kc->valid = 0;
}

static void kc_push(struct kcache *k, size_t i)
{
	if (k->nactive == k->capactive) {
		k->capactive = k->capactive ? 2 * k->capactive : 1024;
		k->active = ps_xrealloc(k->active, k->capactive *
					sizeof(*k->active));
	}
	k->active[k->nactive++] = (uint32_t)i;
}

static int kc_is_settled(const struct kcache *k, size_t i)
{
	return i < k->seen && (k->settled[i / 64] >> (i % 64) & 1);
}

static void kc_unsettle(struct ps_gold *g, size_t i)
{
	struct kcache *k = g->kc;

	if (!k || !k->valid || !kc_is_settled(k, i))
		return;
	k->settled[i / 64] &= ~(1ULL << (i % 64));
	acc_enc(&k->s, &k->s, i, -1);
	kc_push(k, i);
}

/*
 * Bring g's KPI cache to c->now: from nothing when it is not valid or
 * the clock or window moved back or changed; the new encounters active.
 * Then c's department sums are the settled ones plus those of the active
 * encounters; the active encounters that settle move into the settled
 * sums, and c's keyed sums are those of the others (added to those of
 * c->settled when the tables are made: no copy of them).
 */
static void accumulate(struct kctx *c)
{
	struct ps_gold *g = c->g;
	struct kcache *k = g->kc;
	struct kctx *s;
	size_t i, n = g->eidx.n, kept = 0;

	if (!k)
		k = g->kc = ps_xcalloc(1, sizeof(*k));
	s = &k->s;
	if (!k->valid || c->now < s->now || c->window != s->window) {
		kctx_release(s);
		memset(s, 0, sizeof(*s));
		k->nactive = k->seen = 0;
		if (k->nwords)
			memset(k->settled, 0, k->nwords * sizeof(*k->settled));
		k->valid = 1;
	}
	if ((n + 63) / 64 > k->nwords) {
		size_t w = 2 * ((n + 63) / 64) + 16;

		k->settled = ps_xrealloc(k->settled, w * sizeof(*k->settled));
		memset(k->settled + k->nwords, 0,
		       (w - k->nwords) * sizeof(*k->settled));
		k->nwords = w;
	}
	for (; k->seen < n; k->seen++)
		kc_push(k, k->seen);
	if (c->nd > s->nd) {
		s->da = ps_xrealloc(s->da, c->nd * sizeof(*s->da));
		memset(s->da + s->nd, 0, (c->nd - s->nd) * sizeof(*s->da));
		s->nd = c->nd;
	}
	s->g = g;
	s->now = c->now;
	s->window = c->window;
	s->wide = c->wide;
	s->base = c->base;
	s->nh = c->nh;
	/* the settled sums have no waits, hours nor ED visits (settled()) */
	c->da = ps_xcalloc(c->nd ? c->nd : 1, sizeof(*c->da));
	for (i = 0; i < c->nd; i++) {
		c->da[i] = s->da[i];
		c->da[i].hours = ps_xcalloc(c->nh, sizeof(*c->da[i].hours));
	}
	c->settled = s;
	k->visited = k->nactive;
	for (i = 0; i < k->nactive; i++) {
		size_t ix = k->active[i];
		struct enc e;

		enc_get(g, ix, &e);
		if (settled(s, &e)) {
			/* c's department sums started from s's before */
			acc_enc(c, NULL, ix, 1);
			acc_enc(s, s, ix, 1);
			k->settled[ix / 64] |= 1ULL << (ix % 64);
		} else {
			acc_enc(c, c, ix, 1);
			k->active[kept++] = (uint32_t)ix;
		}
	}
	k->nactive = kept;
}

/* Named setters (lib/kpi.h) with the department and hospital of d. */
static struct ps_pq_value *dept_row(const struct kctx *c, size_t d,
				    struct ps_table *t)
{
	struct ps_pq_value *r = ps_table_add_row(t);
	size_t nl;
	const char *dn = symstr(c->g, c->g->dep[d].name, &nl);

	ps_table_put_s(t, r, "department", dn, nl);
	ps_table_put_i(t, r, "hospital_id", c->g->dep[d].hospital);
	ps_table_put_i(t, r, "as_of", c->now);
	return r;
}

/* col_n gets n; col_med and col_p90 (NULL: not wanted) the median and
 * p90 when n reaches the minimum.  Sorts v. */
static void put_quantiles(const struct kctx *c, struct ps_table *t,
			  struct ps_pq_value *r, struct dvec *v,
			  const char *col_n, const char *col_med,
			  const char *col_p90)
{
	ps_table_put_i(t, r, col_n, (int64_t)v->n);
	if ((long long)v->n < c->g->min_samples)
		return;
	ps_kpi_sort(v->v, v->n);
	if (col_med)
		ps_table_put_d(t, r, col_med,
			       ps_kpi_quantile_sorted(v->v, v->n, 0.5));
	if (col_p90)
		ps_table_put_d(t, r, col_p90,
			       ps_kpi_quantile_sorted(v->v, v->n, 0.9));
}

static void build_dim_department(const struct kctx *c, struct ps_table *t)
{
	size_t i;

	for (i = 0; i < c->nd; i++) {
		const struct dept *dp = &c->g->dep[i];
		struct ps_pq_value *r = ps_table_add_row(t);
		size_t nl;
		const char *dn = symstr(c->g, dp->name, &nl);
		int beds = beds_of(c->g, dp);

		ps_table_put_i(t, r, "department_sk", dp->sk);
		ps_table_put_s(t, r, "department", dn, nl);
		ps_table_put_i(t, r, "hospital_id", dp->hospital);
		if (beds >= 0)
			ps_table_put_i(t, r, "beds", beds);
		ps_table_put_d(t, r, "overstay_hours",
			       overstay_hours(c->g, dp));
		ps_table_put_d(t, r, "stale_after_hours",
			       stale_hours(c->g, dp));
		ps_table_put_b(t, r, "emergency", dept_conf(c->g, dp) &&
			       dept_conf(c->g, dp)->emergency);
		ps_table_put_b(t, r, "known", dp->known >= 0);
	}
}

static void build_occupancy(const struct kctx *c, struct ps_table *t)
{
	size_t i, k;

	for (i = 0; i < c->nd; i++) {
		const struct dacc *a = &c->da[i];
		struct ps_pq_value *r = dept_row(c, i, t);
		int beds = beds_of(c->g, &c->g->dep[i]);

		ps_table_put_i(t, r, "department_sk", c->g->dep[i].sk);
		ps_table_put_i(t, r, "census", a->census);
		ps_table_put_i(t, r, "census_stale", a->stale);
		ps_table_put_i(t, r, "waiting", a->waiting);
		ps_table_put_i(t, r, "inflow_last_hour", a->inflow1h);
		ps_table_put_i(t, r, "discharges_last_hour", a->dis1h);
		if (beds < 0)
			continue;
		ps_table_put_i(t, r, "beds", beds);
		if (beds > 0) {
			long long lo = a->cens_k[0], hi = a->cens_k[0];

			for (k = 1; k < SAMPLES; k++) {
				lo = a->cens_k[k] < lo ? a->cens_k[k] : lo;
				hi = a->cens_k[k] > hi ? a->cens_k[k] : hi;
			}
			ps_table_put_d(t, r, "occupancy_pct",
				       (double)a->census * 100.0 / beds);
			ps_table_put_d(t, r, "occupancy_pct_2h_min",
				       (double)lo * 100.0 / beds);
			ps_table_put_i(t, r, "free_beds", beds > a->census ?
				       beds - a->census : 0);
			ps_table_put_i(t, r, "free_beds_2h_max",
				       beds > lo ? beds - lo : 0);
		}
	}
}

static void build_occupancy_hospital(const struct kctx *c,
				     struct ps_table *t)
{
	int32_t *hs = ps_xcalloc(c->nd ? c->nd : 1, sizeof(*hs));
	size_t nhs = 0, i, j;

	for (i = 0; i < c->nd; i++) {
		for (j = 0; j < nhs && hs[j] != c->g->dep[i].hospital; j++)
			;
		if (j == nhs)
			hs[nhs++] = c->g->dep[i].hospital;
	}
	for (j = 0; j < nhs; j++) {
		long long census = 0, beds = 0, other = 0;
		struct ps_pq_value *r;

		/* occupancy over the departments with beds; patients of
		 * the others are counted apart */
		for (i = 0; i < c->nd; i++) {
			int b = beds_of(c->g, &c->g->dep[i]);

			if (c->g->dep[i].hospital != hs[j])
				continue;
			if (b > 0) {
				census += c->da[i].census;
				beds += b;
			} else {
				other += c->da[i].census;
			}
		}
		r = ps_table_add_row(t);
		ps_table_put_i(t, r, "hospital_id", hs[j]);
		ps_table_put_i(t, r, "census", census);
		ps_table_put_i(t, r, "beds", beds);
		if (beds > 0)
			ps_table_put_d(t, r, "occupancy_pct",
				       (double)census * 100.0 / (double)beds);
		ps_table_put_i(t, r, "census_without_beds", other);
		ps_table_put_i(t, r, "as_of", c->now);
	}
	free(hs);
}

static void build_inflow(const struct kctx *c, struct ps_table *t)
{
	size_t i, k;

	for (i = 0; i < c->nd; i++)
		for (k = 0; k < c->nh; k++) {
			struct ps_pq_value *r;

			if (!c->da[i].hours[k])
				continue;
			r = dept_row(c, i, t);
			ps_table_put_i(t, r, "hour", (int64_t)(c->base +
				       (long long)k) * USEC_HOUR);
			ps_table_put_i(t, r, "admissions", c->da[i].hours[k]);
		}
}

/* Waits that ended in the window; when fewer than the minimum, the
 * window widens to 72 h, then 168 h. */
static void build_waiting(const struct kctx *c, struct ps_table *t)
{
	int64_t wins[3];
	size_t i, j, w;

	wins[0] = c->window;
	wins[1] = c->window > 72 * USEC_HOUR ? c->window : 72 * USEC_HOUR;
	wins[2] = c->wide;
	for (i = 0; i < c->nd; i++) {
		const struct dacc *a = &c->da[i];
		struct dvec v = { NULL, 0, 0 };
		struct ps_pq_value *r;

		if (!a->nw)
			continue;
		for (w = 0; w < 3; w++) {
			v.n = 0;
			for (j = 0; j < a->nw; j++)
				if (a->waits[j].end > c->now - wins[w])
					dvec_add(&v, a->waits[j].minutes);
			if ((long long)v.n >= c->g->min_samples)
				break;
		}
		if (w == 3)
			w = 0;		/* too few even widened: say so */
		if (w == 0 && (long long)v.n < c->g->min_samples) {
			v.n = 0;
			for (j = 0; j < a->nw; j++)
				if (a->waits[j].end > c->now - wins[0])
					dvec_add(&v, a->waits[j].minutes);
		}
		if (v.n) {
			r = dept_row(c, i, t);
			ps_table_put_d(t, r, "window_hours",
				       (double)wins[w] / (double)USEC_HOUR);
			put_quantiles(c, t, r, &v, "waits",
				      "wait_median_minutes",
				      "wait_p90_minutes");
		}
		free(v.v);
	}
}

static void pct(struct ps_table *t, struct ps_pq_value *r, const char *col,
		long long part, long long whole)
{
	if (whole > 0)
		ps_table_put_d(t, r, col, (double)part * 100.0 /
			       (double)whole);
}

static void build_ed(const struct kctx *c, struct ps_table *t)
{
	size_t i;

	for (i = 0; i < c->nd; i++) {
		struct dacc *a = &c->da[i];
		const struct ps_department *conf =
			dept_conf(c->g, &c->g->dep[i]);
		struct ps_pq_value *r;

		if (!conf || !conf->emergency)
			continue;
		r = dept_row(c, i, t);
		ps_table_put_d(t, r, "window_hours",
			       (double)c->window / (double)USEC_HOUR);
		ps_table_put_i(t, r, "visits", a->visits);
		ps_table_put_i(t, r, "left_without_being_seen", a->lwbs);
		pct(t, r, "lwbs_pct", a->lwbs, a->visits);
		put_quantiles(c, t, r, &a->d2r, "door_to_room_n",
			      "door_to_room_median_minutes",
			      "door_to_room_p90_minutes");
		put_quantiles(c, t, r, &a->los_dis, "los_discharged_n",
			      "los_discharged_median_minutes", NULL);
		put_quantiles(c, t, r, &a->los_adm, "los_admitted_n",
			      "los_admitted_median_minutes", NULL);
		put_quantiles(c, t, r, &a->board, "boarding_n",
			      "boarding_median_minutes",
			      "boarding_p90_minutes");
		pct(t, r, "within_4h_pct", a->within4h, a->visits);
		ps_table_put_i(t, r, "over_12h", a->over12h);
		ps_table_put_i(t, r, "ecat_visits", a->ecat);
		pct(t, r, "ecat_pct", a->ecat, a->visits);
		ps_table_put_i(t, r, "boarding_now", a->boarding_now);
		ps_table_put_i(t, r, "boarding_now_over_4h",
			       a->boarding_now_4h);
	}
}

/* A row of t with the symbols of key's two halves in col and "gender",
 * as of c->now. */
static struct ps_pq_value *gender_row(const struct kctx *c,
				      struct ps_table *t, uint64_t key,
				      const char *col)
{
	struct ps_pq_value *r = ps_table_add_row(t);
	size_t l1, l2;
	const char *s1 = symstr(c->g, (uint32_t)(key >> 32), &l1);
	const char *s2 = symstr(c->g, (uint32_t)key, &l2);

	ps_table_put_s(t, r, col, s1, l1);
	ps_table_put_s(t, r, "gender", s2, l2);
	ps_table_put_i(t, r, "as_of", c->now);
	return r;
}

static void los_row(const struct kctx *c, struct ps_table *t, uint64_t key,
		    const struct pair_acc *p)
{
	struct ps_pq_value *r;

	if (!p->n1)
		return;
	r = gender_row(c, t, key, "department");
	ps_table_put_i(t, r, "discharges", p->n1);
	ps_table_put_d(t, r, "avg_los_hours", (double)p->sum_us /
		       (double)p->n1 / (double)USEC_HOUR);
}

static void build_los(const struct kctx *c, struct ps_table *t)
{
	kmap_rows(c, &c->los, c->settled ? &c->settled->los : NULL, t,
		  los_row);
}

static void demo_row(const struct kctx *c, struct ps_table *t,
		     uint64_t key, const struct pair_acc *p)
{
	struct ps_pq_value *r;

	if (!p->n2)
		return;
	r = gender_row(c, t, key, "age_band");
	ps_table_put_i(t, r, "currently_admitted", p->n1);
	ps_table_put_i(t, r, "encounters", p->n2);
}

static void build_demographics(const struct kctx *c, struct ps_table *t)
{
	kmap_rows(c, &c->demo, c->settled ? &c->settled->demo : NULL, t,
		  demo_row);
}

static void vol_row(const struct kctx *c, struct ps_table *t, uint64_t key,
		    const struct pair_acc *p)
{
	struct ps_pq_value *r;
	const char *s;
	size_t l;

	if (!p->n1)
		return;
	s = symstr(c->g, (uint32_t)key, &l);
	r = ps_table_add_row(t);
	ps_table_put_i(t, r, "admission_date", (int32_t)(uint32_t)(key >> 32));
	ps_table_put_s(t, r, "gender", s, l);
	ps_table_put_i(t, r, "encounters", p->n1);
	ps_table_put_i(t, r, "as_of", c->now);
}

static void build_volume(const struct kctx *c, struct ps_table *t)
{
	kmap_rows(c, &c->vol, c->settled ? &c->settled->vol : NULL, t,
		  vol_row);
}

static void build_overstay(const struct kctx *c, struct ps_table *t)
{
	size_t i;

	for (i = 0; i < c->nd; i++) {
		const struct dacc *a = &c->da[i];
		struct ps_pq_value *r = dept_row(c, i, t);

		ps_table_put_d(t, r, "overstay_hours",
			       overstay_hours(c->g, &c->g->dep[i]));
		ps_table_put_i(t, r, "overstay_current", a->over_cur);
		ps_table_put_i(t, r, "overstay_discharged", a->over_dis);
		ps_table_put_i(t, r, "stranded_current", a->stranded);
		ps_table_put_i(t, r, "super_stranded_current",
			       a->super_stranded);
	}
}

static void build_bed_turnover(const struct kctx *c, struct ps_table *t)
{
	size_t i;

	for (i = 0; i < c->nd; i++) {
		const struct dacc *a = &c->da[i];
		struct ps_pq_value *r = dept_row(c, i, t);
		int beds = beds_of(c->g, &c->g->dep[i]);

		if (beds >= 0)
			ps_table_put_i(t, r, "beds", beds);
		ps_table_put_i(t, r, "discharges", a->discharges);
		ps_table_put_i(t, r, "discharges_30d", a->dis30);
		if (beds > 0) {
			ps_table_put_d(t, r, "turnover",
				       (double)a->discharges / beds);
			ps_table_put_d(t, r, "turnover_per_bed_30d",
				       (double)a->dis30 / beds);
		}
	}
}

static const struct ps_pq_column dim_dept_cols[] = {
	COL("department_sk", INT64, 0), COL("department", STRING, 0),
	COL("hospital_id", INT32, 0), COL("beds", INT32, 1),
	COL("overstay_hours", DOUBLE, 0), COL("stale_after_hours", DOUBLE, 0),
	COL("emergency", BOOL, 0), COL("known", BOOL, 0),
};

static const struct ps_pq_column occ_cols[] = {
	COL("department", STRING, 0), COL("hospital_id", INT32, 0),
	COL("department_sk", INT64, 0), COL("census", INT64, 0),
	COL("census_stale", INT64, 0), COL("waiting", INT64, 0),
	COL("beds", INT32, 1),
	COL("occupancy_pct", DOUBLE, 1), COL("free_beds", INT64, 1),
	COL("occupancy_pct_2h_min", DOUBLE, 1),
	COL("free_beds_2h_max", INT64, 1),
	COL("inflow_last_hour", INT64, 0),
	COL("discharges_last_hour", INT64, 0), COL("as_of", TIMESTAMP, 0),
};

static const struct ps_pq_column occ_h_cols[] = {
	COL("hospital_id", INT32, 0), COL("census", INT64, 0),
	COL("beds", INT32, 1), COL("occupancy_pct", DOUBLE, 1),
	COL("census_without_beds", INT64, 0), COL("as_of", TIMESTAMP, 0),
};

static const struct ps_pq_column inflow_cols[] = {
	COL("department", STRING, 0), COL("hospital_id", INT32, 0),
	COL("hour", TIMESTAMP, 0), COL("admissions", INT64, 0),
	COL("as_of", TIMESTAMP, 0),
};

static const struct ps_pq_column wait_cols[] = {
	COL("department", STRING, 0), COL("hospital_id", INT32, 0),
	COL("waits", INT64, 0), COL("window_hours", DOUBLE, 0),
	COL("wait_median_minutes", DOUBLE, 1),
	COL("wait_p90_minutes", DOUBLE, 1), COL("as_of", TIMESTAMP, 0),
};

static const struct ps_pq_column ed_cols[] = {
	COL("department", STRING, 0), COL("hospital_id", INT32, 0),
	COL("window_hours", DOUBLE, 0), COL("visits", INT64, 0),
	COL("left_without_being_seen", INT64, 0), COL("lwbs_pct", DOUBLE, 1),
	COL("door_to_room_n", INT64, 0),
	COL("door_to_room_median_minutes", DOUBLE, 1),
	COL("door_to_room_p90_minutes", DOUBLE, 1),
	COL("los_discharged_n", INT64, 0),
	COL("los_discharged_median_minutes", DOUBLE, 1),
	COL("los_admitted_n", INT64, 0),
	COL("los_admitted_median_minutes", DOUBLE, 1),
	COL("boarding_n", INT64, 0),
	COL("boarding_median_minutes", DOUBLE, 1),
	COL("boarding_p90_minutes", DOUBLE, 1),
	COL("within_4h_pct", DOUBLE, 1), COL("over_12h", INT64, 0),
	COL("ecat_visits", INT64, 0), COL("ecat_pct", DOUBLE, 1),
	COL("boarding_now", INT64, 0), COL("boarding_now_over_4h", INT64, 0),
	COL("as_of", TIMESTAMP, 0),
};

static const struct ps_pq_column los_cols[] = {
	COL("department", STRING, 0), COL("gender", STRING, 0),
	COL("discharges", INT64, 0), COL("avg_los_hours", DOUBLE, 0),
	COL("as_of", TIMESTAMP, 0),
};

static const struct ps_pq_column vol_cols[] = {
	COL("admission_date", DATE, 0), COL("gender", STRING, 0),
	COL("encounters", INT64, 0), COL("as_of", TIMESTAMP, 0),
};

static const struct ps_pq_column over_cols[] = {
	COL("department", STRING, 0), COL("hospital_id", INT32, 0),
	COL("overstay_hours", DOUBLE, 0), COL("overstay_current", INT64, 0),
	COL("overstay_discharged", INT64, 0),
	COL("stranded_current", INT64, 0),
	COL("super_stranded_current", INT64, 0), COL("as_of", TIMESTAMP, 0),
};

static const struct ps_pq_column demo_cols[] = {
	COL("age_band", STRING, 0), COL("gender", STRING, 0),
	COL("currently_admitted", INT64, 0), COL("encounters", INT64, 0),
	COL("as_of", TIMESTAMP, 0),
};

static const struct ps_pq_column turn_cols[] = {
	COL("department", STRING, 0), COL("hospital_id", INT32, 0),
	COL("beds", INT32, 1), COL("discharges", INT64, 0),
	COL("turnover", DOUBLE, 1), COL("discharges_30d", INT64, 0),
	COL("turnover_per_bed_30d", DOUBLE, 1), COL("as_of", TIMESTAMP, 0),
};

/* Every table after dim_patient: one entry each. */
static const struct kpi_def {
	const char *name;
	const struct ps_pq_column *cols;
	size_t ncols;
	void (*build)(const struct kctx *c, struct ps_table *t);
	struct ps_gold_alert_src alerts[6];	/* { NULL }-terminated */
} kpi_defs[] = {
#define DEF(n, c, b) n, c, NCOLS(c), b
	{ DEF("dim_department", dim_dept_cols, build_dim_department),
	  { { NULL, NULL } } },
	{ DEF("kpi_occupancy", occ_cols, build_occupancy),
	  { { "occupancy_pct", "occupancy_pct" },
	    { "occupancy_pct_2h", "occupancy_pct_2h_min" },
	    { "free_beds", "free_beds" },
	    { "free_beds_2h", "free_beds_2h_max" },
	    { "inflow_per_hour", "inflow_last_hour" },
	    { "census_stale", "census_stale" } } },
	{ DEF("kpi_occupancy_hospital", occ_h_cols,
	      build_occupancy_hospital), { { NULL, NULL } } },
	{ DEF("kpi_inflow", inflow_cols, build_inflow), { { NULL, NULL } } },
	{ DEF("kpi_waiting", wait_cols, build_waiting),
	  { { "wait_p90_minutes", "wait_p90_minutes" }, { NULL, NULL } } },
	{ DEF("kpi_ed", ed_cols, build_ed),
	  { { "ed_within_4h_pct", "within_4h_pct" },
	    { "boarding_now_over_4h", "boarding_now_over_4h" },
	    { "boarding_p90_minutes", "boarding_p90_minutes" },
	    { "lwbs_pct", "lwbs_pct" },
	    { "ecat_pct", "ecat_pct" }, { NULL, NULL } } },
	{ DEF("kpi_los", los_cols, build_los), { { NULL, NULL } } },
	{ DEF("kpi_volume", vol_cols, build_volume), { { NULL, NULL } } },
	{ DEF("kpi_overstay", over_cols, build_overstay),
	  { { NULL, NULL } } },
	{ DEF("kpi_demographics", demo_cols, build_demographics),
	  { { NULL, NULL } } },
	{ DEF("kpi_bed_turnover", turn_cols, build_bed_turnover),
	  { { NULL, NULL } } },
#undef DEF
};

#define NKPI (sizeof(kpi_defs) / sizeof(kpi_defs[0]))

const struct ps_gold_alert_src *ps_gold_alert_sources(const char *table)
{
	size_t i;

	for (i = 0; i < NKPI; i++)
		if (!strcmp(kpi_defs[i].name, table))
			return kpi_defs[i].alerts[0].metric ?
			       kpi_defs[i].alerts : NULL;
	return NULL;
}

size_t ps_gold_table_list(const char **name, const struct ps_pq_column **cols,
			  size_t *ncols)
{
	size_t i, n = 0;

	for (i = 0; i < NKPI; i++) {
		name[n] = kpi_defs[i].name;
		cols[n] = kpi_defs[i].cols;
		ncols[n++] = kpi_defs[i].ncols;
		if (i)
			continue;
		name[n] = "dim_patient";
		cols[n] = dim_patient_cols;
		ncols[n++] = NCOLS(dim_patient_cols);
		name[n] = "fact_patient_flow";
		cols[n] = ps_gold_fact_columns(&ncols[n]);
		n++;
	}
	return n;
}

/* Rows of dim_patient per chunk of a streamed write. */
#define DIM_CHUNK 4096

/* The fill function of the streamed dim_patient (lib/kpi.h): the versions
 * of the patients from *cursor on, whole patients, until the chunk holds
 * DIM_CHUNK rows. */
static size_t fill_patients(const struct ps_gold *g, size_t end,
			    size_t *cursor, struct ps_table *T)
{
	struct pver *vers = NULL;
	uint32_t capv = 0;
	size_t i, j, n0 = T->nrows;

	for (i = *cursor; i < end && T->nrows - n0 < DIM_CHUNK; i++) {
		const struct patient *p = &g->pat[i];
		uint32_t nv = scd2_versions(p, &vers, &capv);
		size_t pl;
		const char *ps = index_text_in(&g->pidx, i, T, &pl);

		for (j = 0; j < nv; j++) {
			struct ps_pq_value *r = ps_table_add_row(T);
			size_t l1, l2;
			const char *gs = symstr(g, vers[j].gender, &l1);
			const char *bs = symstr(g, vers[j].band, &l2);

			ps_table_set_i(T, r, 0, version_sk(g, i, vers[j].from));
			ps_table_set_i(T, r, 1, key_sk(&g->pidx, i));
			ps_table_set_s(T, r, 2, ps, pl);
			ps_table_set_i(T, r, 3, (int64_t)j + 1);
			ps_table_set_s(T, r, 4, gs, l1);
			ps_table_set_s(T, r, 5, bs, l2);
			if (p->age != NUL32)
				ps_table_set_i(T, r, 6, p->age);
			ps_table_set_i(T, r, 7, vers[j].from);
			if (j + 1 < nv)
				ps_table_set_i(T, r, 8, vers[j + 1].from);
			ps_table_set_b(T, r, 9, j + 1 == nv);
			ps_table_set_i(T, r, 10, vers[j].last);
		}
	}
	free(vers);
	*cursor = i;
	return T->nrows - n0;
}

static size_t dim_patient_fill(const void *ctx, size_t *cursor,
			       struct ps_table *T)
{
	const struct ps_gold *g = ctx;

	return fill_patients(g, g->pidx.n, cursor, T);
}

/* The fill of ps_gold_dim_patient: the cursor starts at r->lo. */
static size_t range_fill(const void *ctx, size_t *cursor, struct ps_table *T)
{
	const struct ps_gold_patients *r = ctx;

	if (*cursor < r->lo)
		*cursor = r->lo;
	return fill_patients(r->g, r->hi < r->g->pidx.n ? r->hi :
			     r->g->pidx.n, cursor, T);
}

void ps_gold_dim_patient(const struct ps_gold_patients *r, struct ps_table *t)
{
	ps_table_init(t, "dim_patient", dim_patient_cols,
		      NCOLS(dim_patient_cols));
	t->fill = range_fill;
	t->fill_ctx = r;
}

size_t ps_gold_changed_patients(const struct ps_gold *g,
				const uint32_t **touched, size_t *n)
{
	*touched = g->tpat.list;
	*n = g->tpat.n;
	return g->lpat;
}

/* The sums of every KPI as of now (accumulate); release them with
 * kctx_release. */
static void kctx_make(struct kctx *c, struct ps_gold *g, int64_t now,
		      int64_t window)
{
	memset(c, 0, sizeof(*c));
	c->g = g;
	c->now = now;
	c->window = window;
	c->wide = window > 168 * USEC_HOUR ? window : 168 * USEC_HOUR;
	c->nd = g->didx.n;
	c->base = (long long)((now - window >= 0 ? now - window :
			       now - window - USEC_HOUR + 1) / USEC_HOUR);
	c->nh = (size_t)(now / USEC_HOUR - c->base) + 1;
	accumulate(c);
}

void ps_gold_kpi_warm(struct ps_gold *g, int64_t now, int64_t window)
{
	struct kctx c;

	kctx_make(&c, g, now, window);
	kctx_release(&c);
}

void ps_gold_tables(struct ps_gold *g, int64_t now, int64_t window,
		    struct ps_table *t, size_t *nt)
{
	struct kctx c;
	size_t i;

	kctx_make(&c, g, now, window);
	ps_table_init(&t[0], "dim_patient", dim_patient_cols,
		      NCOLS(dim_patient_cols));
	t[0].fill = dim_patient_fill;
	t[0].fill_ctx = g;
	for (i = 0; i < NKPI; i++) {
		ps_table_init(&t[i + 1], kpi_defs[i].name, kpi_defs[i].cols,
			      kpi_defs[i].ncols);
		kpi_defs[i].build(&c, &t[i + 1]);
		sort_table(&t[i + 1]);
	}
	*nt = NKPI + 1;
	kctx_release(&c);
}

/* ------------------------------------------------------------------ */
/* Snapshot                                                            */
/* ------------------------------------------------------------------ */

/*
 * The snapshot: SNAP_MAGIC, the positions text, the symbols, the
 * departments, then each patient (its id packed, put_key; put_pat) and
 * each encounter (its id packed, a time always in 8 bytes as tag 2;
 * put_enc: its stored form, the extension only when it has one), then
 * SNAP_END.  Integers are little endian; lengths and small counts
 * varints (lib/thrift.h's).  About 41 bytes per patient with one
 * observation and 70 per compact encounter with UUID ids.  Older
 * snapshots (PSGOLD4: ids as text, every encounter in its full form,
 * 285 bytes a patient and encounter) are still read, and so are the
 * state log's older deltas (PSGDELTA2).
 */
#define SNAP_MAGIC "PSGOLD5\n"
#define SNAP_MAGIC4 "PSGOLD4\n"
/* What a snapshot's and a delta's magic start with: then the format's
 * version in decimal and a newline (magic_version). */
#define SNAP_PREFIX "PSGOLD"
#define DELTA_PREFIX "PSGDELTA"
#define SNAP_END "PSEND\n"
/* In a stored encounter's flags: its extension follows. */
#define SNAP_EF_EXT 0x8000u

static void put64(struct ps_buf *b, int64_t v)
{
	ps_buf_add(b, &v, sizeof(v));
}

static void put32(struct ps_buf *b, int32_t v)
{
	ps_buf_add(b, &v, sizeof(v));
}

static void put16(struct ps_buf *b, uint16_t v)
{
	ps_buf_add(b, &v, sizeof(v));
}

static void putstr(struct ps_buf *b, const char *p, size_t n)
{
	put32(b, (int32_t)n);
	ps_buf_add(b, p, n);
}

static void put_pat(struct ps_buf *b, const struct patient *p)
{
	uint32_t j;

	put32(b, p->age);
	put64(b, p->age_t);
	ps_thrift_put_varint(b, p->n);
	for (j = 0; j < p->n; j++) {
		put64(b, cobs(p)[j].t);
		ps_thrift_put_varint(b, cobs(p)[j].gender);
		ps_thrift_put_varint(b, cobs(p)[j].band);
	}
}

/* Key i of x, packed (key_pack; an index of plain texts as tag 0). */
static void put_key(struct ps_buf *b, const struct index *x, size_t i)
{
	const char *k = key_at(x, i);
	size_t n = key_len(x, k);
	uint32_t s32;
	int64_t sec;

	if (x->packed && (k[0] == TAG_UUID_AT32 ||
			  (x->uuids && k[0] == TAG_PATIENT_AT))) {
		/* as the snapshot has always held it: the UUID, 8 bytes of
		 * time */
		const char *u = key_uuid(x, k, &s32);

		sec = s32;
		ps_thrift_put_varint(b, 25);
		ps_buf_addc(b, TAG_UUID_AT);
		ps_buf_add(b, u, 16);
		ps_buf_add(b, (const char *)&sec, 8);
		return;
	}
	ps_thrift_put_varint(b, (uint64_t)n + !x->packed);
	if (!x->packed)
		ps_buf_addc(b, 0);
	ps_buf_add(b, k, n);
}

/* Encounter i as stored (struct encc, then its extension if any). */
static void put_enc(struct ps_buf *b, const struct ps_gold *g, size_t i)
{
	const struct encc *c = &g->enc[i];
	const struct enc_ext *x = ENC_EXT(g, c);

	put32(b, c->patient);
	put16(b, c->dept);
	put16(b, (uint16_t)((c->flags & ~EF_EXT) | (x ? SNAP_EF_EXT : 0)));
	put32(b, x ? x->bed : c->u.bed);
	put64(b, c->admission);
	put64(b, c->discharge);
	put64(b, c->last_event);
	put64(b, c->ingest);
	if (x) {
		put64(b, x->t_adm);
		put64(b, x->t_dis);
		put64(b, x->t_arr);
		put64(b, x->t_bed);
		put64(b, x->t_tri);
		put64(b, x->t_seen);
		put64(b, x->t_dec);
		put64(b, x->t_disp);
		put64(b, x->t_open);
		put64(b, x->arrival);
		put64(b, x->seen);
		put64(b, x->decision);
		put32(b, x->triage);
		put32(b, x->disposition);
		put32(b, x->dept);
	}
}

/* Where a snapshot goes: b, flushed to f (when not NULL) in pieces. */
struct snapw {
	struct ps_buf *b;
	struct ps_afile *f;
	struct ps_error *e;
	int failed;
	uint32_t crc;		/* of what went to f (lib/seal) */
};

#define SNAP_CHUNK (1u << 20)
_Static_assert(PS_GOLD_SNAP_ROOM >= SNAP_CHUNK + 4096,
	       "a snapshot chunk and its last item fit in PS_GOLD_SNAP_ROOM");

static void snap_flush(struct snapw *w, size_t min)
{
	if (!w->f || w->failed || w->b->len < min)
		return;
	w->crc = ps_seal_crc(w->crc, w->b->data, w->b->len);
	if (ps_afile_write(w->f, w->b->data, w->b->len, w->e) < 0)
		w->failed = 1;
	ps_buf_reset(w->b);
}

static void snap_emit(const struct ps_gold *g, const char *pos,
		      size_t poslen, struct snapw *w)
{
	struct ps_buf *b = w->b;
	size_t i;

	ps_buf_adds(b, SNAP_MAGIC);
	putstr(b, pos, poslen);
	put32(b, (int32_t)g->syms.n);
	for (i = 0; i < g->syms.n; i++)
		putstr(b, key_at(&g->syms, i),
		       key_len(&g->syms, key_at(&g->syms, i)));
	put32(b, (int32_t)g->didx.n);
	for (i = 0; i < g->didx.n; i++) {
		put32(b, (int32_t)g->dep[i].name);
		put32(b, g->dep[i].hospital);
	}
	put32(b, (int32_t)g->pidx.n);
	for (i = 0; i < g->pidx.n && !w->failed; i++) {
		const struct patient *p = &g->pat[i];

		put_key(b, &g->pidx, i);
		put_pat(b, p);
		snap_flush(w, SNAP_CHUNK);
	}
	put32(b, (int32_t)g->eidx.n);
	for (i = 0; i < g->eidx.n && !w->failed; i++) {
		put_key(b, &g->eidx, i);
		put_enc(b, g, i);
		snap_flush(w, SNAP_CHUNK);
	}
	ps_buf_adds(b, SNAP_END);
	snap_flush(w, 0);
}

void ps_gold_snapshot(const struct ps_gold *g, const char *pos,
		      size_t poslen, struct ps_buf *b)
{
	struct snapw w = { b, NULL, NULL, 0, 0 };

	snap_emit(g, pos, poslen, &w);
}

int ps_gold_snapshot_write(const struct ps_gold *g, const char *pos,
			   size_t poslen, struct ps_afile *f,
			   struct ps_buf *b, struct ps_error *e)
{
	struct snapw w = { b, f, e, 0, 0 };

	ps_buf_reset(b);
	ps_buf_grow(b, PS_GOLD_SNAP_ROOM);
	snap_emit(g, pos, poslen, &w);
	ps_seal_bin_trailer(b, w.crc);	/* sealed: see lib/seal.h */
	if (!w.failed && ps_afile_write(f, b->data, b->len, e) < 0)
		w.failed = 1;
	ps_buf_reset(b);
	if (w.failed || ps_afile_seal_all(&f, 1, e) < 0) {
		ps_afile_abort(f);
		return -1;
	}
	return 0;
}

int ps_gold_snapshot_save(const struct ps_gold *g, const char *pos,
			  size_t poslen, const char *path, struct ps_error *e)
{
	struct ps_afile f = PS_AFILE_INIT;
	struct ps_buf b = PS_BUF_INIT;
	int rc;

	if (ps_afile_open(&f, path, 0644, e) < 0)
		return -1;
	rc = ps_gold_snapshot_write(g, pos, poslen, &f, &b, e);
	ps_buf_release(&b);
	return rc < 0 ? -1 : ps_afile_commit(&f, e);
}

struct rd {
	const char *p, *e;
	int bad;
	int v4;		/* an older snapshot or delta (PSGOLD4, PSGDELTA2) */
};

static void get(struct rd *r, void *out, size_t n)
{
	if (r->bad || (size_t)(r->e - r->p) < n) {
		r->bad = 1;
		memset(out, 0, n);
		return;
	}
	memcpy(out, r->p, n);
	r->p += n;
}

static int32_t get32(struct rd *r)
{
	int32_t v;

	get(r, &v, sizeof(v));
	return v;
}

/* The int32 that comes next, not read (-1 when there is none): an
 * encounter's patient after its id, a hint for index_get. */
static long peek32(const struct rd *r)
{
	int32_t v;

	if (r->bad || r->e - r->p < 4)
		return -1;
	memcpy(&v, r->p, 4);
	return v;
}

static int64_t get64(struct rd *r)
{
	int64_t v;

	get(r, &v, sizeof(v));
	return v;
}

static uint16_t get16(struct rd *r)
{
	uint16_t v;

	get(r, &v, sizeof(v));
	return v;
}

/* A varint of ps_thrift_put_varint (lib/thrift.h reads it). */
static uint64_t get_uv(struct rd *r)
{
	struct ps_thrift_r t;
	uint64_t v;

	if (r->bad)
		return 0;
	ps_thrift_r_init(&t, r->p, (size_t)(r->e - r->p));
	v = ps_thrift_get_varint(&t);
	if (t.why) {
		r->bad = 1;
		return 0;
	}
	r->p = (const char *)t.p;
	return v;
}

/* The next l bytes (l < 0: bad). */
static const char *get_bytes(struct rd *r, int64_t l, size_t *n)
{
	const char *p = r->p;

	if (r->bad || l < 0 || (uint64_t)(r->e - r->p) < (uint64_t)l) {
		r->bad = 1;
		*n = 0;
		return "";
	}
	r->p += l;
	*n = (size_t)l;
	return p;
}

static const char *getstr(struct rd *r, size_t *n)
{
	return get_bytes(r, get32(r), n);
}

/* A key of put_key as its text (into t when it was packed: room for
 * KEY_UUID_AT + PS_TIME_MAX); older: the text itself. */
static const char *get_key(struct rd *r, char *t, size_t *n)
{
	uint64_t l;
	const unsigned char *u;
	int64_t sec;

	if (r->v4)
		return getstr(r, n);
	l = get_uv(r);
	u = (const unsigned char *)get_bytes(r, l > INT32_MAX ? -1 :
					     (int64_t)l, n);
	if (r->bad || !*n) {
		r->bad = 1;
		return "";
	}
	if (!u[0]) {
		--*n;
		return (const char *)u + 1;
	}
	if (u[0] == 2 && *n == 25) {
		memcpy(&sec, u + 17, 8);
		if (sec < -INT64_MAX / PS_USEC_PER_SEC ||
		    sec > INT64_MAX / PS_USEC_PER_SEC ||
		    !ps_time_in_range(sec * PS_USEC_PER_SEC))
			r->bad = 1;
	} else if (u[0] != 1 || *n != 17) {
		r->bad = 1;
	}
	if (r->bad) {
		*n = 0;
		return "";
	}
	*n = key_text(NULL, (const char *)u, *n, t);
	return t;
}

/* Read cnt symbols, each new, appended in order. */
static void get_syms(struct rd *r, struct ps_gold *g, int32_t cnt)
{
	int32_t i;
	int added;

	for (i = 0; i < cnt && !r->bad; i++) {
		size_t l;
		const char *s = getstr(r, &l);

		index_get(&g->syms, &g->arena, s, l, -1, &added);
		if (!added)
			r->bad = 1;
	}
}

/* Read cnt departments, each new, appended in order. */
static void get_depts(struct rd *r, struct ps_gold *g, int32_t cnt)
{
	int32_t i;

	for (i = 0; i < cnt && !r->bad; i++) {
		int32_t name = get32(r), hosp = get32(r);
		size_t l, at = g->didx.n;
		const char *s;

		if (name < 0 || (size_t)name >= g->syms.n) {
			r->bad = 1;
			break;
		}
		s = symstr(g, (uint32_t)name, &l);
		if (dept_get(g, s, l, hosp) != at)
			r->bad = 1;
	}
}

/* Room for patient pi (just added to pidx when fresh: then zeroed). */
static struct patient *pat_slot(struct ps_gold *g, size_t pi, int fresh)
{
	if (g->pidx.n > g->patcap) {
		g->patcap = g->pidx.cap;
		g->pat = ps_xrealloc(g->pat, g->patcap * sizeof(*g->pat));
	}
	if (fresh)
		memset(&g->pat[pi], 0, sizeof(g->pat[pi]));
	return &g->pat[pi];
}

/* A time restored from a snapshot: absent, or inside lib/pstime's range. */
static int snap_time_ok(int64_t t)
{
	return t == PS_GOLD_NULL || ps_time_in_range(t);
}

static int enc_times_ok(const struct enc *x)
{
	const int64_t t[] = {
		x->t_adm, x->t_dis, x->t_arr, x->t_bed, x->t_tri, x->t_seen,
		x->t_dec, x->t_disp, x->t_open, x->arrival, x->admission, x->discharge,
		x->seen, x->decision, x->ingest, x->last_event,
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (!snap_time_ok(t[i]))
			return 0;
	return 1;
}

/* The record of put_pat into pt (its observations replaced). */
static void get_pat(struct rd *r, const struct ps_gold *g,
		    struct patient *pt)
{
	int32_t nv, j;
	struct pobs *o;

	pt->age = get32(r);
	pt->age_t = get64(r);
	nv = r->v4 ? get32(r) : (int32_t)(uint32_t)get_uv(r);
	/* an observation takes 16 bytes, or at least 10 (varints) */
	if (r->bad || nv < 1 ||
	    nv > (int32_t)((r->e - r->p) / (r->v4 ? 16 : 10)) ||
	    !snap_time_ok(pt->age_t)) {
		r->bad = 1;
		return;
	}
	o = obs_room(pt, (uint32_t)nv);
	pt->n = (uint32_t)nv;
	for (j = 0; j < nv; j++) {
		uint64_t gs, bs;

		o[j].t = get64(r);
		gs = r->v4 ? (uint32_t)get32(r) : get_uv(r);
		bs = r->v4 ? (uint32_t)get32(r) : get_uv(r);
		o[j].gender = (uint32_t)gs;
		o[j].band = (uint32_t)bs;
		if (gs >= g->syms.n || bs >= g->syms.n ||
		    !snap_time_ok(o[j].t) || (j && o[j].t <= o[j - 1].t))
			r->bad = 1;
	}
}

/* The stored form of put_enc into e. */
static void get_stored(struct rd *r, struct enc *e)
{
	struct encc c;
	struct enc_ext x;
	uint16_t fl;

	c.patient = get32(r);
	c.dept = get16(r);
	fl = get16(r);
	c.flags = fl & (uint16_t)~SNAP_EF_EXT;
	c.u.bed = x.bed = get32(r);
	c.admission = get64(r);
	c.discharge = get64(r);
	c.last_event = get64(r);
	c.ingest = get64(r);
	if (fl & SNAP_EF_EXT) {
		x.t_adm = get64(r);
		x.t_dis = get64(r);
		x.t_arr = get64(r);
		x.t_bed = get64(r);
		x.t_tri = get64(r);
		x.t_seen = get64(r);
		x.t_dec = get64(r);
		x.t_disp = get64(r);
		x.t_open = get64(r);
		x.arrival = get64(r);
		x.seen = get64(r);
		x.decision = get64(r);
		x.triage = get32(r);
		x.disposition = get32(r);
		x.dept = get32(r);
	} else if (c.dept == DEPT_EXT) {
		r->bad = 1;	/* the department is in no extension */
	}
	if (c.flags & ~(EF_CANCELLED | EF_DIS | EF_BED | EF_OPEN))
		r->bad = 1;
	enc_unpack(&c, fl & SNAP_EF_EXT ? &x : NULL, e);
}

/* Encounter ei's record (ei already in eidx). */
static void get_enc(struct rd *r, struct ps_gold *g, size_t ei)
{
	struct enc e, *x = &e;

	enc_room(g, ei);
	if (r->v4)
		get(r, x, sizeof(*x));	/* older: struct enc as it was */
	else
		get_stored(r, x);
	if (r->bad ||
	    (x->disposition != NUL32 &&
	     (x->disposition < 0 || (size_t)x->disposition >= g->syms.n)) ||
	    x->patient < 0 || (size_t)x->patient >= g->pidx.n ||
	    x->dept < 0 || (size_t)x->dept >= g->didx.n ||
	    (x->cancelled != 0 && x->cancelled != 1) || !enc_times_ok(x))
		r->bad = 1;
	else
		enc_put(g, ei, x);
}

/*
 * The format version in the magic at p (n bytes): prefix, decimal digits
 * and a newline; 0 when p does not start so.
 */
static long magic_version(const char *p, size_t n, const char *prefix)
{
	size_t l = strlen(prefix), i;
	long v = 0;

	if (n < l || memcmp(p, prefix, l))
		return 0;
	for (i = l; i < n && i < l + 9 && p[i] >= '0' && p[i] <= '9'; i++)
		v = v * 10 + (p[i] - '0');
	return i > l && i < n && p[i] == '\n' ? v : 0;
}

/*
 * Refuse the state file at p (n bytes; what: "snapshot" or "delta"):
 * when its magic is prefix with a higher version than known's (this
 * ps-gold's newest), as a newer ps-gold's; else as not one, extra after
 * the message.  Returns -1 with e filled (78).
 */
static int not_state(const char *p, size_t n, const char *prefix,
		     const char *known, const char *what, const char *extra,
		     struct ps_error *e)
{
	long v = magic_version(p, n, prefix),
	     k = magic_version(known, strlen(known), prefix);

	if (v > k)
		return ps_error_set(e, PS_EX_CONFIG, "state %s written by a "
				    "newer ps-gold (format %ld; this one reads "
				    "formats up to %ld)", what, v, k);
	return ps_error_set(e, PS_EX_CONFIG, "not a ps-gold state %s%s",
			    what, extra);
}

int ps_gold_restore(struct ps_gold *g, const char *p, size_t n,
		    const char **pos, size_t *poslen, struct ps_error *e)
{
	struct rd r = { p, p + n, 0, 0 };
	char t[KEY_UUID_AT + PS_TIME_MAX];
	int32_t cnt, i;
	int added;

	kc_invalidate(g);

	if (n < strlen(SNAP_MAGIC) + strlen(SNAP_END) ||
	    (memcmp(p, SNAP_MAGIC, strlen(SNAP_MAGIC)) &&
	     memcmp(p, SNAP_MAGIC4, strlen(SNAP_MAGIC4))) ||
	    memcmp(p + n - strlen(SNAP_END), SNAP_END, strlen(SNAP_END)))
		return not_state(p, n, SNAP_PREFIX, SNAP_MAGIC, "snapshot",
				 " (or truncated)", e);
	r.v4 = !memcmp(p, SNAP_MAGIC4, strlen(SNAP_MAGIC4));
	r.p += strlen(SNAP_MAGIC);
	r.e -= strlen(SNAP_END);
	*pos = getstr(&r, poslen);
	get_syms(&r, g, get32(&r));
	get_depts(&r, g, get32(&r));
	cnt = get32(&r);
	for (i = 0; i < cnt && !r.bad; i++) {
		size_t l, pi;
		const char *s = get_key(&r, t, &l);

		pi = index_get(&g->pidx, &g->arena, s, l, -1, &added);
		if (!added) {
			r.bad = 1;
			break;
		}
		get_pat(&r, g, pat_slot(g, pi, 1));
	}
	cnt = get32(&r);
	for (i = 0; i < cnt && !r.bad; i++) {
		size_t l, ei;
		const char *s = get_key(&r, t, &l);

		ei = index_get(&g->eidx, &g->arena, s, l, peek32(&r),
			       &added);
		if (!added) {
			r.bad = 1;
			break;
		}
		get_enc(&r, g, ei);
	}
	if (r.bad || r.p != r.e)
		return ps_error_set(e, PS_EX_CONFIG, "ps-gold state snapshot "
				    "is corrupt");
	for (i = 0; i < (int32_t)g->eidx.n; i++)
		pat_add_enc(&g->pat[g->enc[i].patient], i);
	g->ndirty = 0;
	g->dirty_valid = 0;
	g->nleft = 0;
	ps_gold_mark_clean(g);
	return 0;
}

static int cmp_i32(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;

	return (x > y) - (x < y);
}

int32_t *ps_gold_take_left(struct ps_gold *g, size_t *n)
{
	int32_t *d = g->left;

	*n = g->nleft;
	g->left = NULL;
	g->nleft = g->leftcap = 0;
	return d;
}

int32_t ps_gold_encounter_day(const struct ps_gold *g, size_t i)
{
	return day_of(g->enc[i].admission);
}

int32_t *ps_gold_take_dirty(struct ps_gold *g, size_t *n)
{
	int32_t *d = g->dirty;
	size_t i, m = 0;

	if (g->ndirty)
		qsort(d, g->ndirty, sizeof(*d), cmp_i32);
	for (i = 0; i < g->ndirty; i++)
		if (!m || d[m - 1] != d[i])
			d[m++] = d[i];
	*n = m;
	g->dirty = NULL;
	g->ndirty = g->dirtycap = 0;
	g->dirty_valid = 0;
	return d;
}

size_t ps_gold_dirty_held(const struct ps_gold *g)
{
	return g->ndirty;
}

size_t ps_gold_fact_sort_bytes(const struct ps_gold *g)
{
	return g->sort_bytes;
}

/* ------------------------------------------------------------------ */
/* State deltas (the state log, gold_run.c)                            */
/* ------------------------------------------------------------------ */

#define DELTA_MAGIC "PSGDELTA3\n"
#define DELTA_MAGIC2 "PSGDELTA2\n"	/* older: ids as text (rd.v4) */

void ps_gold_mark_clean(struct ps_gold *g)
{
	g->lsym = g->syms.n;
	g->ldep = g->didx.n;
	g->lpat = g->pidx.n;
	g->lenc = g->eidx.n;
	touched_clear(&g->tpat);
	touched_clear(&g->tenc);
}

static void delta_pat(const struct ps_gold *g, size_t i, struct ps_buf *b)
{
	put32(b, (int32_t)i);
	if (i >= g->lpat)
		put_key(b, &g->pidx, i);
	put_pat(b, &g->pat[i]);
}

static void delta_enc(const struct ps_gold *g, size_t i, struct ps_buf *b)
{
	put32(b, (int32_t)i);
	if (i >= g->lenc)
		put_key(b, &g->eidx, i);
	put_enc(b, g, i);
}

size_t ps_gold_delta_items(const struct ps_gold *g)
{
	return g->tpat.n + g->pidx.n - g->lpat + g->tenc.n + g->eidx.n -
	       g->lenc;
}

void ps_gold_delta(struct ps_gold *g, const char *pos, size_t poslen,
		   struct ps_buf *b)
{
	size_t i;

	ps_buf_adds(b, DELTA_MAGIC);
	putstr(b, pos, poslen);
	put32(b, (int32_t)g->lsym);
	put32(b, (int32_t)(g->syms.n - g->lsym));
	for (i = g->lsym; i < g->syms.n; i++)
		putstr(b, key_at(&g->syms, i),
		       key_len(&g->syms, key_at(&g->syms, i)));
	put32(b, (int32_t)g->ldep);
	put32(b, (int32_t)(g->didx.n - g->ldep));
	for (i = g->ldep; i < g->didx.n; i++) {
		put32(b, (int32_t)g->dep[i].name);
		put32(b, g->dep[i].hospital);
	}
	put32(b, (int32_t)g->lpat);
	put32(b, (int32_t)(g->tpat.n + g->pidx.n - g->lpat));
	for (i = 0; i < g->tpat.n; i++)
		delta_pat(g, g->tpat.list[i], b);
	for (i = g->lpat; i < g->pidx.n; i++)
		delta_pat(g, i, b);
	put32(b, (int32_t)g->lenc);
	put32(b, (int32_t)(g->tenc.n + g->eidx.n - g->lenc));
	for (i = 0; i < g->tenc.n; i++)
		delta_enc(g, g->tenc.list[i], b);
	for (i = g->lenc; i < g->eidx.n; i++)
		delta_enc(g, i, b);
	ps_gold_mark_clean(g);
}

/* Read the item index of a delta entry and its key when it is new:
 * returns the index, or -1 when it is neither existing nor the next. */
static long delta_item(struct rd *r, struct index *x, struct arena *a)
{
	int32_t i = get32(r);
	int added;

	if (r->bad || i < 0 || (size_t)i > x->n)
		return -1;
	if ((size_t)i == x->n) {
		char t[KEY_UUID_AT + PS_TIME_MAX];
		size_t l;
		const char *s = get_key(r, t, &l);

		if (r->bad || index_get(x, a, s, l, x->uuids ? peek32(r) : -1,
					&added) != (size_t)i || !added)
			return -1;
	}
	return i;
}

int ps_gold_apply_delta(struct ps_gold *g, const char *p, size_t n,
			const char **pos, size_t *poslen, struct ps_error *e)
{
	struct rd r = { p, p + n, 0, 0 };
	int32_t cnt, i;

	kc_invalidate(g);

	if (n < strlen(DELTA_MAGIC) ||
	    (memcmp(p, DELTA_MAGIC, strlen(DELTA_MAGIC)) &&
	     memcmp(p, DELTA_MAGIC2, strlen(DELTA_MAGIC2))))
		return not_state(p, n, DELTA_PREFIX, DELTA_MAGIC, "delta", "",
				 e);
	r.v4 = !memcmp(p, DELTA_MAGIC2, strlen(DELTA_MAGIC2));
	r.p += strlen(DELTA_MAGIC);
	*pos = getstr(&r, poslen);
	/* each part starts at the count it was made from */
	if (get32(&r) != (int32_t)g->syms.n)
		r.bad = 1;
	get_syms(&r, g, get32(&r));
	if (get32(&r) != (int32_t)g->didx.n)
		r.bad = 1;
	get_depts(&r, g, get32(&r));
	if (get32(&r) != (int32_t)g->pidx.n)
		r.bad = 1;
	cnt = get32(&r);
	for (i = 0; i < cnt && !r.bad; i++) {
		size_t before = g->pidx.n;
		long pi = delta_item(&r, &g->pidx, &g->arena);

		if (pi < 0)
			r.bad = 1;
		else
			get_pat(&r, g, pat_slot(g, (size_t)pi,
						g->pidx.n > before));
	}
	if (get32(&r) != (int32_t)g->eidx.n)
		r.bad = 1;
	cnt = get32(&r);
	for (i = 0; i < cnt && !r.bad; i++) {
		long ei = delta_item(&r, &g->eidx, &g->arena);

		if (ei < 0)
			r.bad = 1;
		else
			get_enc(&r, g, (size_t)ei);
	}
	if (r.bad || r.p != r.e)
		return ps_error_set(e, PS_EX_CONFIG, "ps-gold state log "
				    "record is corrupt");
	ps_gold_mark_clean(g);
	return 0;
}

void ps_gold_relink(struct ps_gold *g)
{
	size_t i;

	kc_invalidate(g);

	for (i = 0; i < g->pidx.n; i++) {
		if (g->pat[i].nenc > 1)
			free(g->pat[i].encs.v);
		g->pat[i].nenc = 0;
	}
	for (i = 0; i < g->eidx.n; i++)
		pat_add_enc(&g->pat[g->enc[i].patient], (int32_t)i);
	g->ndirty = 0;
	g->dirty_valid = 0;
	g->nleft = 0;
}

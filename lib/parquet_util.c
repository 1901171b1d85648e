/*
 * parquet_util.c - Parquet pieces shared by the writer and the reader:
 * type and codec names, the RLE / bit-packed hybrid encoding
 * (Encodings.md) and page compression.
 */
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "parquet.h"
#include "thrift.h"
#include "banned.h"

static const char *const type_names[] = {
	"int32", "int64", "double", "bool", "string", "date", "timestamp",
};

const char *ps_pq_type_name(enum ps_pq_type t)
{
	if ((unsigned)t < sizeof(type_names) / sizeof(type_names[0]))
		return type_names[t];
	return "unknown";
}

int ps_pq_type_parse(const char *s, enum ps_pq_type *t)
{
	size_t i;

	for (i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++) {
		if (!strcmp(s, type_names[i])) {
			*t = (enum ps_pq_type)i;
			return 0;
		}
	}
	if (!strcmp(s, "boolean")) {
		*t = PS_PQ_BOOL;
		return 0;
	}
	return -1;
}

const char *ps_pq_codec_name(enum ps_pq_codec c)
{
	switch (c) {
	case PS_PQ_UNCOMPRESSED:
		return "none";
	case PS_PQ_SNAPPY:
		return "snappy";
	case PS_PQ_GZIP:
		return "gzip";
	case PS_PQ_ZSTD:
		return "zstd";
	}
	return "unknown";
}

int ps_pq_codec_parse(const char *s, enum ps_pq_codec *c)
{
	if (!strcmp(s, "none") || !strcmp(s, "uncompressed"))
		*c = PS_PQ_UNCOMPRESSED;
	else if (!strcmp(s, "gzip"))
		*c = PS_PQ_GZIP;
	else if (!strcmp(s, "zstd"))
		*c = PS_PQ_ZSTD;
	else if (!strcmp(s, "snappy"))
		*c = PS_PQ_SNAPPY;
	else
		return -1;
	return 0;
}

/* ---- RLE / bit-packed hybrid ---- */

static void put_rle_run(struct ps_buf *b, uint32_t v, size_t count, int bw)
{
	int i, nbytes = (bw + 7) / 8;

	ps_thrift_put_varint(b, (uint64_t)count << 1);
	for (i = 0; i < nbytes; i++)
		ps_buf_addc(b, (char)(v >> (8 * i)));
}

/* Bit-pack n values (a multiple of 8, padded by the caller). */
static void put_packed(struct ps_buf *b, const uint32_t *v, size_t n,
		       int bw)
{
	size_t nbytes = n / 8 * (size_t)bw, i;
	uint64_t acc = 0;
	int bits = 0;
	uint8_t *o;

	ps_thrift_put_varint(b, (uint64_t)(n / 8) << 1 | 1);
	ps_buf_grow(b, nbytes);
	o = (uint8_t *)b->data + b->len;
	for (i = 0; i < n; i++) {
		acc |= (uint64_t)v[i] << bits;
		bits += bw;
		while (bits >= 8) {
			*o++ = (uint8_t)acc;
			acc >>= 8;
			bits -= 8;
		}
	}
	b->len += nbytes;
	b->data[b->len] = '\0';
}

void ps_pq_rle_encode(struct ps_buf *b, const uint32_t *v, size_t n, int bw)
{
	size_t i = 0, lit = 0, run, take;	/* literals start at lit */
	uint32_t pad[8];

	while (i < n) {
		run = 1;
		while (i + run < n && v[i + run] == v[i])
			run++;
		if (run < 8) {
			i += run;
			continue;
		}
		/* Fill the pending literals up to a multiple of 8. */
		take = (8 - (i - lit) % 8) % 8;
		if (take > run)
			take = run;
		i += take;
		run -= take;
		if (i > lit)
			put_packed(b, v + lit, i - lit, bw);
		if (run)
			put_rle_run(b, v[i], run, bw);
		i += run;
		lit = i;
	}
	if (i > lit) {
		size_t full = (i - lit) / 8 * 8, rest = i - lit - full;

		if (full)
			put_packed(b, v + lit, full, bw);
		if (rest) {
			memset(pad, 0, sizeof(pad));
			memcpy(pad, v + lit + full, rest * sizeof(*v));
			put_packed(b, pad, 8, bw);
		}
	}
}

int ps_pq_rle_decode(const uint8_t *p, size_t len, int bw, uint32_t *out,
		     size_t n)
{
	const uint8_t *end = p + len;
	size_t done = 0;
	uint64_t mask = bw >= 32 ? 0xffffffffu : ((uint64_t)1 << bw) - 1;

	if (bw < 0 || bw > 32)
		return -1;
	while (done < n) {
		uint64_t h = 0, count;
		int shift = 0;

		for (;;) {
			if (p >= end || shift > 56)
				return -1;
			h |= (uint64_t)(*p & 0x7f) << shift;
			shift += 7;
			if (!(*p++ & 0x80))
				break;
		}
		if (h & 1) {
			/* Bit-packed: h >> 1 groups of 8 values. */
			size_t nv = (size_t)(h >> 1) * 8, k, avail;
			uint64_t bitpos;

			if ((h >> 1) > ((uint64_t)1 << 40))
				return -1;
			avail = (size_t)(end - p);
			/* A last group may be cut short by some writers. */
			if (bw && nv * (size_t)bw / 8 > avail)
				nv = avail * 8 / (size_t)bw;
			if (nv == 0)
				return -1;
			if (nv > n - done)
				nv = n - done;
			for (k = 0, bitpos = 0; k < nv; k++, bitpos += bw) {
				size_t byte = (size_t)(bitpos >> 3);
				int off = (int)(bitpos & 7), got = 0;
				uint64_t acc = 0;

				while (got < off + bw) {
					acc |= (uint64_t)p[byte++] << got;
					got += 8;
				}
				out[done + k] = (uint32_t)((acc >> off) & mask);
			}
			done += nv;
			p += ((size_t)(h >> 1) * 8 * (size_t)bw / 8 > avail) ?
				avail : (size_t)(h >> 1) * (size_t)bw;
		} else {
			int nb = (bw + 7) / 8, i;
			uint32_t val = 0;
			size_t k;

			count = h >> 1;
			if (count == 0 || end - p < nb)
				return -1;
			for (i = 0; i < nb; i++)
				val |= (uint32_t)p[i] << (8 * i);
			p += nb;
			if (val & ~mask)
				return -1;
			if (count > n - done)
				count = n - done;
			for (k = 0; k < count; k++)
				out[done + k] = val;
			done += (size_t)count;
		}
	}
	return 0;
}

/* ---- compression ---- */

/*
 * zstd contexts are kept per thread and reused: creating one per page costs
 * more than compressing a small page.  They stay reachable until exit.
 */
static _Thread_local ZSTD_CCtx *zcctx;
static _Thread_local ZSTD_DCtx *zdctx;

void ps_pq_thread_release(void)
{
	ZSTD_freeCCtx(zcctx);
	ZSTD_freeDCtx(zdctx);
	zcctx = NULL;
	zdctx = NULL;
}

int ps_pq_compress(enum ps_pq_codec c, int level, const void *src, size_t n,
		   struct ps_buf *out, struct ps_error *e)
{
	size_t bound, r;
	z_stream z;
	int zr;

	switch (c) {
	case PS_PQ_UNCOMPRESSED:
		ps_buf_add(out, src, n);
		return 0;
	case PS_PQ_ZSTD:
		bound = ZSTD_compressBound(n);
		ps_buf_grow(out, bound);
		if (!zcctx && !(zcctx = ZSTD_createCCtx()))
			return ps_error_set(e, PS_EX_SOFTWARE,
					    "zstd: out of memory");
		r = ZSTD_compressCCtx(zcctx, out->data + out->len, bound, src,
				      n, level ? level : 3);
		if (ZSTD_isError(r))
			return ps_error_set(e, PS_EX_SOFTWARE,
					    "zstd compression failed: %s",
					    ZSTD_getErrorName(r));
		out->len += r;
		out->data[out->len] = '\0';
		return 0;
	case PS_PQ_GZIP:
		memset(&z, 0, sizeof(z));
		if (deflateInit2(&z, level ? level : 6, Z_DEFLATED, 15 + 16, 8,
				 Z_DEFAULT_STRATEGY) != Z_OK)
			return ps_error_set(e, PS_EX_SOFTWARE,
					    "gzip initialisation failed");
		bound = deflateBound(&z, (uLong)n) + 32;
		ps_buf_grow(out, bound);
		z.next_in = (Bytef *)(uintptr_t)src;
		z.avail_in = (uInt)n;
		z.next_out = (Bytef *)out->data + out->len;
		z.avail_out = (uInt)bound;
		zr = deflate(&z, Z_FINISH);
		if (zr != Z_STREAM_END) {
			deflateEnd(&z);
			return ps_error_set(e, PS_EX_SOFTWARE,
					    "gzip compression failed");
		}
		out->len += z.total_out;
		out->data[out->len] = '\0';
		deflateEnd(&z);
		return 0;
	default:
		return ps_error_set(e, PS_EX_SOFTWARE,
				    "unsupported codec %s for writing",
				    ps_pq_codec_name(c));
	}
}

static int gunzip(const void *src, size_t n, void *dst, size_t dn,
		  struct ps_error *e)
{
	z_stream z;
	int zr = Z_OK;

	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 15 + 32) != Z_OK)
		return ps_error_set(e, PS_EX_SOFTWARE, "gzip init failed");
	z.next_in = (Bytef *)(uintptr_t)src;
	z.avail_in = (uInt)n;
	z.next_out = dst;
	z.avail_out = (uInt)dn;
	for (;;) {
		zr = inflate(&z, Z_FINISH);
		/* Concatenated gzip members are one stream. */
		if (zr == Z_STREAM_END && z.avail_in > 0 &&
		    inflateReset(&z) == Z_OK)
			continue;
		break;
	}
	if (zr != Z_STREAM_END || z.total_out != dn || z.avail_out != 0) {
		inflateEnd(&z);
		return ps_error_set(e, PS_EX_DATAERR,
				    "corrupt gzip page (%s)",
				    z.msg ? z.msg : "wrong size");
	}
	inflateEnd(&z);
	return 0;
}

int ps_pq_decompress(enum ps_pq_codec c, const void *src, size_t n,
		     void *dst, size_t dn, struct ps_error *e)
{
	size_t r;

	switch (c) {
	case PS_PQ_UNCOMPRESSED:
		if (n != dn)
			return ps_error_set(e, PS_EX_DATAERR,
					    "page sizes disagree");
		if (n)
			memcpy(dst, src, n);
		return 0;
	case PS_PQ_GZIP:
		if (n > 0xffffffffu || dn > 0xffffffffu)
			return ps_error_set(e, PS_EX_DATAERR, "page too large");
		return gunzip(src, n, dst, dn, e);
	case PS_PQ_ZSTD:
		if (!zdctx && !(zdctx = ZSTD_createDCtx()))
			return ps_error_set(e, PS_EX_SOFTWARE,
					    "zstd: out of memory");
		r = ZSTD_decompressDCtx(zdctx, dst, dn, src, n);
		if (ZSTD_isError(r))
			return ps_error_set(e, PS_EX_DATAERR,
					    "corrupt zstd page: %s",
					    ZSTD_getErrorName(r));
		if (r != dn)
			return ps_error_set(e, PS_EX_DATAERR,
					    "zstd page has %zu bytes, not %zu",
					    r, dn);
		return 0;
	default:
		return ps_error_set(e, PS_EX_DATAERR,
				    "unsupported codec %s",
				    ps_pq_codec_name(c));
	}
}

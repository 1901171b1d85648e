/*
 * rand.h - a fast, seedable PRNG (xoshiro256**, seeded through splitmix64)
 * and the distributions the simulator needs.  Not for cryptography: use
 * lib/crypto for that.  The same seed gives the same sequence on every
 * machine (integer arithmetic; the continuous distributions use libm).
 */
#ifndef PS_RAND_H
#define PS_RAND_H

#include <stddef.h>
#include <stdint.h>

struct ps_rand {
	uint64_t s[4];
};

/* Seed the generator; any 64-bit value, including 0, is a good seed. */
void ps_rand_seed(struct ps_rand *r, uint64_t seed);

/* splitmix64 step: a good 64-bit mixer for deriving seeds and ids. */
static inline uint64_t ps_mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* The inverse of ps_mix64: ps_unmix64(ps_mix64(x)) == x for every x (each
 * step is a bijection: xor-shifts and odd multipliers).  Gold recovers
 * the FNV state of a key from its stored hash with it.  Cannot fail. */
static inline uint64_t ps_unmix64(uint64_t x)
{
	x ^= (x >> 31) ^ (x >> 62);
	x *= 0x319642b2d24d8ec3ULL;	/* 0x94d049bb133111eb^-1 mod 2^64 */
	x ^= (x >> 27) ^ (x >> 54);
	x *= 0x96de1b173f119089ULL;	/* 0xbf58476d1ce4e5b9^-1 mod 2^64 */
	x ^= (x >> 30) ^ (x >> 60);
	return x - 0x9e3779b97f4a7c15ULL;
}

static inline uint64_t ps_rotl64(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* FNV-1a 64: the state h after n more bytes p (start from PS_FNV1A_INIT).
 * The hash of keys in hash tables and of gold's surrogate keys: changing it
 * changes every key.  Cannot fail. */
#define PS_FNV1A_INIT 0xcbf29ce484222325ULL
static inline uint64_t ps_fnv1a(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;

	while (n--)
		h = (h ^ *s++) * 0x100000001b3ULL;
	return h;
}

static inline uint64_t ps_rand_u64(struct ps_rand *r)
{
	uint64_t *s = r->s;
	uint64_t out = ps_rotl64(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = ps_rotl64(s[3], 45);
	return out;
}

/* Uniform integer in [0, n), n > 0, without bias (Lemire's method). */
static inline uint32_t ps_rand_below(struct ps_rand *r, uint32_t n)
{
	uint64_t m = (uint64_t)(uint32_t)(ps_rand_u64(r) >> 32) * n;
	uint32_t lo = (uint32_t)m;

	if (lo < n) {
		uint32_t t = (uint32_t)-n % n;

		while (lo < t) {
			m = (uint64_t)(uint32_t)(ps_rand_u64(r) >> 32) * n;
			lo = (uint32_t)m;
		}
	}
	return (uint32_t)(m >> 32);
}

/* Uniform integer in [lo, hi], lo <= hi. */
static inline int64_t ps_rand_range(struct ps_rand *r, int64_t lo, int64_t hi)
{
	return lo + (int64_t)ps_rand_below(r, (uint32_t)(hi - lo + 1));
}

/* Uniform double in [0, 1). */
static inline double ps_rand_double(struct ps_rand *r)
{
	return (double)(ps_rand_u64(r) >> 11) * 0x1.0p-53;
}

/* True with probability p. */
static inline int ps_rand_chance(struct ps_rand *r, double p)
{
	return p > 0 && ps_rand_double(r) < p;
}

/* Standard normal (Marsaglia polar method). */
double ps_rand_normal(struct ps_rand *r);
/* Exponential with the given rate (> 0). */
double ps_rand_exp(struct ps_rand *r, double rate);
/* exp(N(mu, sigma)). */
double ps_rand_lognormal(struct ps_rand *r, double mu, double sigma);
/*
 * Index i in [0, n) with probability w[i] / sum(w), weights >= 0 and not
 * all zero.
 */
int ps_rand_weighted(struct ps_rand *r, const double *w, int n);

#endif

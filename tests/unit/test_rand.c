/*
 * test_rand.c - the seedable PRNG and its distributions (lib/rand.h).
 *
 * Statistical tests use fixed seeds, so they are deterministic; their
 * tolerances are several standard errors wide, so a correct generator
 * passes for any seed and a biased one fails.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rand.h"
#include "banned.h"

Test(rand, pinned_sequence)
{
	/* xoshiro256** seeded as rand.c documents; computed independently. */
	struct ps_rand r;

	ps_rand_seed(&r, 0);
	cr_assert_eq(ps_rand_u64(&r), 0x422ea740d0977210ULL);
	cr_assert_eq(ps_rand_u64(&r), 0xe062b061b42e2928ULL);
	cr_assert_eq(ps_rand_u64(&r), 0x5a071fc5930841b6ULL);
	ps_rand_seed(&r, 42);
	cr_assert_eq(ps_rand_u64(&r), 0xbe15272cdf80b6c2ULL);
	cr_assert_eq(ps_rand_u64(&r), 0xaf6e2ee49ff5d0e3ULL);
	cr_assert_eq(ps_rand_u64(&r), 0xca56edd0338a318fULL);
}

Test(rand, same_seed_same_sequence_different_seeds_differ)
{
	struct ps_rand a, b, c;
	int i, same = 0;

	ps_rand_seed(&a, 12345);
	ps_rand_seed(&b, 12345);
	ps_rand_seed(&c, 12346);
	for (i = 0; i < 10000; i++) {
		uint64_t x = ps_rand_u64(&a);

		cr_assert_eq(x, ps_rand_u64(&b));
		same += x == ps_rand_u64(&c);
	}
	cr_assert_eq(same, 0);
	ps_rand_seed(&a, 0);
	cr_assert(a.s[0] | a.s[1] | a.s[2] | a.s[3], "seed 0 works");
	ps_rand_seed(&b, UINT64_MAX);
	cr_assert_neq(ps_rand_u64(&a), ps_rand_u64(&b));
}

/* Chi-square of counts against equal expectation. */
static double chi2(const long *count, int k, long n)
{
	double e = (double)n / k, x = 0;
	int i;

	for (i = 0; i < k; i++)
		x += ((double)count[i] - e) * ((double)count[i] - e) / e;
	return x;
}

/* Bound: df + 6 standard deviations (sd of chi-square is sqrt(2 df)). */
static double bound(int df)
{
	return df + 6 * sqrt(2.0 * df);
}

static void check_below(uint32_t n, int buckets, int by_mod, uint64_t seed)
{
	struct ps_rand r;
	long *count = calloc((size_t)buckets, sizeof(long));
	long draws = 100000L * (buckets < 20 ? 10 : 1) + 2000L * buckets;
	uint32_t top = 0;
	long i;
	double x;

	cr_assert_not_null(count);
	ps_rand_seed(&r, seed);
	for (i = 0; i < draws; i++) {
		uint32_t v = ps_rand_below(&r, n);

		cr_assert_lt(v, n);
		if (v > top)
			top = v;
		if (by_mod)
			count[v % (uint32_t)buckets]++;
		else
			count[(uint64_t)v * (uint64_t)buckets / n]++;
	}
	x = chi2(count, buckets, draws);
	cr_assert_lt(x, bound(buckets - 1), "n=%u chi2=%.1f df=%d", n, x,
		     buckets - 1);
	cr_assert_geq(top, n - 1 - n / 1000, "n=%u top %u", n, top);
	free(count);
}

Test(rand, below_is_unbiased)
{
	check_below(7, 7, 1, 1);
	check_below(100, 100, 1, 2);
	check_below(2147483649U, 64, 0, 4);	/* 2^31 + 1 */
	check_below(2147483649U, 2, 1, 5);	/* parity */
	/* 3 * 2^30: plain multiply or modulo would favour some residues. */
	check_below(3U << 30, 3, 1, 6);
	check_below(3U << 30, 64, 0, 7);
	check_below(UINT32_MAX, 64, 0, 8);
	{
		struct ps_rand r;
		int i;

		ps_rand_seed(&r, 3);
		for (i = 0; i < 1000; i++)
			cr_assert_eq(ps_rand_below(&r, 1), 0);
	}
}

Test(rand, range_is_inclusive)
{
	struct ps_rand r;
	int seen[7] = { 0 }, i;

	ps_rand_seed(&r, 9);
	for (i = 0; i < 10000; i++) {
		int64_t v = ps_rand_range(&r, -3, 3);

		cr_assert(v >= -3 && v <= 3);
		seen[v + 3] = 1;
	}
	for (i = 0; i < 7; i++)
		cr_assert(seen[i], "value %d never drawn", i - 3);
	cr_assert_eq(ps_rand_range(&r, 5, 5), 5);
}

Test(rand, double_in_unit_interval)
{
	struct ps_rand r;
	double sum = 0, lo = 1, hi = 0;
	long count[10] = { 0 };
	int i, n = 1000000;

	ps_rand_seed(&r, 10);
	for (i = 0; i < n; i++) {
		double d = ps_rand_double(&r);

		cr_assert(d >= 0 && d < 1, "%.17g", d);
		sum += d;
		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
		count[(int)(d * 10)]++;
	}
	cr_assert_lt(fabs(sum / n - 0.5), 6 * sqrt(1.0 / 12 / n));
	cr_assert_lt(lo, 1e-5);
	cr_assert_gt(hi, 1 - 1e-5);
	cr_assert_lt(chi2(count, 10, n), bound(9));
	/* The largest value is below 1. */
	memset(&r, 0xff, sizeof(r));
	cr_assert_lt(ps_rand_double(&r), 1.0);
}

Test(rand, chance)
{
	struct ps_rand r;
	int i, hits = 0, n = 100000;

	ps_rand_seed(&r, 11);
	for (i = 0; i < 1000; i++) {
		cr_assert(!ps_rand_chance(&r, 0));
		cr_assert(!ps_rand_chance(&r, -1));
		cr_assert(ps_rand_chance(&r, 1));
	}
	for (i = 0; i < n; i++)
		hits += ps_rand_chance(&r, 0.3);
	cr_assert_lt(fabs((double)hits / n - 0.3), 6 * sqrt(0.21 / n));
}

Test(rand, normal_mean_and_variance)
{
	struct ps_rand r;
	double sum = 0, sq = 0, mean, var;
	int i, n = 1000000, within1 = 0;

	ps_rand_seed(&r, 12);
	for (i = 0; i < n; i++) {
		double x = ps_rand_normal(&r);

		cr_assert(isfinite(x));
		sum += x;
		sq += x * x;
		within1 += fabs(x) < 1;
	}
	mean = sum / n;
	var = sq / n - mean * mean;
	cr_assert_lt(fabs(mean), 6 / sqrt(n), "mean %g", mean);
	cr_assert_lt(fabs(var - 1), 6 * sqrt(2.0 / n), "variance %g", var);
	/* 68.27% within one standard deviation. */
	cr_assert_lt(fabs((double)within1 / n - 0.682689),
		     6 * sqrt(0.2166 / n));
}

Test(rand, lognormal_median_is_exp_mu)
{
	struct ps_rand r;
	double mu = 2.0, sigma = 0.8, m = exp(mu), logsum = 0;
	int i, n = 400000, below = 0;

	ps_rand_seed(&r, 13);
	for (i = 0; i < n; i++) {
		double x = ps_rand_lognormal(&r, mu, sigma);

		cr_assert_gt(x, 0);
		below += x < m;
		logsum += log(x);
	}
	cr_assert_lt(fabs((double)below / n - 0.5), 6 * 0.5 / sqrt(n),
		     "below median %d of %d", below, n);
	cr_assert_lt(fabs(logsum / n - mu), 6 * sigma / sqrt(n));
}

Test(rand, exponential_mean)
{
	struct ps_rand r;
	double rate = 2.5, sum = 0;
	int i, n = 400000;

	ps_rand_seed(&r, 14);
	for (i = 0; i < n; i++) {
		double x = ps_rand_exp(&r, rate);

		cr_assert(x >= 0 && isfinite(x));
		sum += x;
	}
	/* Mean 1/rate, standard deviation 1/rate. */
	cr_assert_lt(fabs(sum / n - 1 / rate), 6 / rate / sqrt(n),
		     "mean %g", sum / n);
}

Test(rand, weighted_frequencies)
{
	const double w[] = { 1, 2, 0, 7, 0.5 };
	double total = 10.5, x = 0;
	long count[5] = { 0 };
	struct ps_rand r;
	int i, n = 500000;

	ps_rand_seed(&r, 15);
	for (i = 0; i < n; i++) {
		int k = ps_rand_weighted(&r, w, 5);

		cr_assert(k >= 0 && k < 5);
		count[k]++;
	}
	cr_assert_eq(count[2], 0, "zero weight never drawn");
	for (i = 0; i < 5; i++) {
		double e = n * w[i] / total;

		if (e > 0)
			x += ((double)count[i] - e) *
			     ((double)count[i] - e) / e;
	}
	cr_assert_lt(x, bound(3), "chi2 %.1f", x);
	/* One non-zero weight: always that one. */
	{
		const double one[] = { 0, 0, 3 };

		for (i = 0; i < 1000; i++)
			cr_assert_eq(ps_rand_weighted(&r, one, 3), 2);
	}
}

Test(rand, mix64_is_a_bijection_sample)
{
	/* Distinct inputs give distinct outputs (sample), and 0 maps off 0. */
	uint64_t prev = ps_mix64(0);
	uint64_t i;

	cr_assert_neq(prev, 0);
	for (i = 1; i < 100000; i++) {
		uint64_t v = ps_mix64(i);

		cr_assert_neq(v, prev);
		prev = v;
	}
}

Test(rand, unmix64_inverts_mix64)
{
	/* Round trips over small, large and pseudo-random values. */
	struct ps_rand r;
	uint64_t i, x;

	ps_rand_seed(&r, 3);
	for (i = 0; i < 100000; i++) {
		x = i < 1000 ? i : i < 2000 ? UINT64_MAX - i : ps_rand_u64(&r);
		cr_assert_eq(ps_unmix64(ps_mix64(x)), x, "x=%llx",
			     (unsigned long long)x);
		cr_assert_eq(ps_mix64(ps_unmix64(x)), x);
	}
}

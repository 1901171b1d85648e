/* rand.c - see rand.h. */
#include <math.h>

#include "rand.h"
#include "banned.h"

void ps_rand_seed(struct ps_rand *r, uint64_t seed)
{
	int i;

	for (i = 0; i < 4; i++) {
		seed += 0x9e3779b97f4a7c15ULL;
		r->s[i] = ps_mix64(seed);
	}
	if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3]))
		r->s[0] = 1;
}

double ps_rand_normal(struct ps_rand *r)
{
	double u, v, s;

	do {
		u = 2.0 * ps_rand_double(r) - 1.0;
		v = 2.0 * ps_rand_double(r) - 1.0;
		s = u * u + v * v;
	} while (s >= 1.0 || s == 0.0);
	/* The second variate (v * factor) is dropped to keep no state. */
	return u * sqrt(-2.0 * log(s) / s);
}

double ps_rand_exp(struct ps_rand *r, double rate)
{
	return -log1p(-ps_rand_double(r)) / rate;
}

double ps_rand_lognormal(struct ps_rand *r, double mu, double sigma)
{
	return exp(mu + sigma * ps_rand_normal(r));
}

int ps_rand_weighted(struct ps_rand *r, const double *w, int n)
{
	double total = 0, x;
	int i;

	for (i = 0; i < n; i++)
		total += w[i];
	x = ps_rand_double(r) * total;
	for (i = 0; i < n - 1; i++) {
		if (x < w[i])
			return i;
		x -= w[i];
	}
	return n - 1;
}

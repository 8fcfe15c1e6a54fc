/*
 * test_stats.c: the k-th selection of core/stats.c against a sort of the
 * same values (float and double), with ties, at every rank of small
 * arrays and at the median and both ends of a large one.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/stats.h"
#include "tap.h"

static uint64_t rng = 0x2545f4914f6cdd1dull;

static double next(int levels)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return levels ? (double)(rng % (uint64_t)levels) : (double)(rng >> 11) / 9007199254740992.0;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int cmp_f(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;

	return (x > y) - (x < y);
}

/* Every rank k of n values (levels distinct values, 0: all distinct). */
static int all_ranks(size_t n, int levels)
{
	double *d = malloc(n * sizeof *d), *ds = malloc(n * sizeof *ds), *w = malloc(n * sizeof *w);
	float *f = malloc(n * sizeof *f), *fs = malloc(n * sizeof *fs), *v = malloc(n * sizeof *v);
	int good = d && ds && w && f && fs && v;

	for (size_t i = 0; good && i < n; i++) {
		d[i] = next(levels);
		f[i] = (float)d[i];
	}
	if (good) {
		memcpy(ds, d, n * sizeof *d);
		memcpy(fs, f, n * sizeof *f);
		qsort(ds, n, sizeof *ds, cmp_d);
		qsort(fs, n, sizeof *fs, cmp_f);
	}
	for (size_t k = 0; good && k < n; k += n > 64 ? n / 7 : 1) {
		memcpy(w, d, n * sizeof *d);
		memcpy(v, f, n * sizeof *f);
		good = stats_kth_d(w, n, k) == ds[k] && stats_kth(v, n, k) == fs[k];
	}
	if (good && n > 64) {
		memcpy(w, d, n * sizeof *d);
		memcpy(v, f, n * sizeof *f);
		good = stats_kth_d(w, n, n / 2) == ds[n / 2] && stats_kth(v, n, n - 1) == fs[n - 1];
	}
	free(d);
	free(ds);
	free(w);
	free(f);
	free(fs);
	free(v);
	return good;
}

int main(void)
{
	int good = 1;

	for (size_t n = 1; n <= 40; n++)
		good &= all_ranks(n, 0) && all_ranks(n, 3);
	ok(good, "every rank of 1 to 40 values, distinct and with ties, equals the sorted value");
	ok(all_ranks(100001, 0), "ranks of 100001 distinct doubles and floats");
	ok(all_ranks(100001, 5), "ranks of 100001 values of 5 levels");
	printf("1..%d\n", ntest);
	return nfail ? 1 : 0;
}

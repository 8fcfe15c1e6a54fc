/*
 * test_flag.c: unit tests of the flagging statistics and the AOFlagger
 * adapter against defects planted in synthetic data (known answers).
 *
 * Median and robust sigma on hand-computed values; on a 12-antenna array
 * with noise, a sky offset and a bandpass: a dead antenna (zeros), a
 * garbage antenna, an RFI channel and a burst integration found, and
 * nothing else, even with strong RFI in 10% of the samples (the
 * statistics must be robust to the RFI itself); AOFlagger through the C
 * adapter finds a planted block and leaves clean samples two integrations
 * and four channels away from it alone (under 2% flagged); a
 * missing strategy is an error, not a crash.
 */
#include <complex.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sci/aoflag.h"
#include "sci/flag.h"

#include "tap.h"

static unsigned long long rs = 88172645463325252ULL;

static double unif(void)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return ((rs >> 11) + 0.5) / 9007199254740992.0;
}

static double gauss(void)
{
	return sqrt(-2 * log(unif())) * cos(2 * M_PI * unif());
}

#define NA 12
#define NT 8
#define NF 64
#define NP 2

struct arr {
	struct flag_data d;
	int a1[NA * (NA + 1) / 2], a2[NA * (NA + 1) / 2];
	float *amp;
	uint8_t *flags;
};

/* Noise (rms 1 per part) + 2 on crosses, 1000 x bandpass on autos; dead
 * antenna 3, garbage antenna 7; RFI channel 20, burst integration 5;
 * rfi10: strong RFI on 10% of random cross samples as well. */
static void make(struct arr *x, int rfi10)
{
	int nb = 0;

	for (int i = 0; i < NA; i++)
		for (int j = i; j < NA; j++) {
			x->a1[nb] = i;
			x->a2[nb] = j;
			nb++;
		}
	x->d.nants = NA;
	x->d.nbls = nb;
	x->d.ntimes = NT;
	x->d.nfreq = NF;
	x->d.npol = NP;
	x->d.a1 = x->a1;
	x->d.a2 = x->a2;
	x->d.nthreads = 2;
	x->amp = calloc((size_t)NT * nb * NF * NP, sizeof *x->amp);
	x->flags = calloc((size_t)NT * nb * NF * NP, 1);
	x->d.amp = x->amp;
	x->d.flags = x->flags;
	for (int t = 0; t < NT; t++)
		for (int b = 0; b < nb; b++)
			for (int f = 0; f < NF; f++)
				for (int p = 0; p < NP; p++) {
					size_t k = (((size_t)t * nb + b) * NF + f) * NP + p;
					int i = x->a1[b], j = x->a2[b];
					double complex v;
					if (i == j)
						v = 1000 * (1 + 0.3 * f / NF) + gauss();
					else
						v = 2 + gauss() + I * gauss();
					if (f == 20)
						v += 50;
					if (t == 5)
						v += 30 * cexp(I * 6.28 * unif());
					if (rfi10 && i != j && unif() < 0.1)
						v += 40 * cexp(I * 6.28 * unif());
					if (i == 7 || j == 7)
						v = i == j ? 1000 * exp(gauss()) : 20 * (gauss() + I * gauss());
					if (i == 3 || j == 3)
						v = 0;
					x->amp[k] = cabsf((float complex)v);
				}
}

static void check_stats(int rfi10, const char *label)
{
	struct arr x;
	struct flag_ants a;
	uint8_t badchan[NF], badtime[NT], skip[NA];
	int ndead = 0, nbad = 0, nch = 0, nti = 0;
	char name[128];

	make(&x, rfi10);
	ok(flag_antennas(&x.d, &a) == 0, "flag_antennas runs");
	for (int i = 0; i < NA; i++) {
		ndead += a.dead[i];
		nbad += a.bad[i];
		skip[i] = a.dead[i] | a.bad[i];
	}
	snprintf(name, sizeof name, "%s: antenna 3 dead, only it (%d dead)", label, ndead);
	ok(a.dead[3] && ndead == 1, name);
	snprintf(name, sizeof name, "%s: antenna 7 bad, only it (%d bad): %s", label, nbad, a.why[7]);
	ok(a.bad[7] && nbad == 1, name);
	ok(flag_channels(&x.d, skip, badchan, badtime) == 0, "flag_channels runs");
	for (int f = 0; f < NF; f++)
		nch += badchan[f];
	for (int t = 0; t < NT; t++)
		nti += badtime[t];
	snprintf(name, sizeof name, "%s: channel 20 bad, only it (%d)", label, nch);
	ok(badchan[20] && nch == 1, name);
	snprintf(name, sizeof name, "%s: integration 5 bad, only it (%d)", label, nti);
	ok(badtime[5] && nti == 1, name);
	flag_ants_free(&a);
	free(x.amp);
	free(x.flags);
}

static void check_aoflagger(const char *strategy)
{
	enum { T = 24, F = 128 };
	float *vis = malloc(sizeof *vis * 2 * 2 * T * F);
	uint8_t mask[T * F];
	char err[AOFLAG_ERRLEN];
	aoflag *a = aoflag_new(strategy, err);
	int hit = 0, nblk = 0, fa = 0, nclean = 0;

	ok(a != NULL, "aoflag_new loads ops/aoflagger/dsa110.lua");
	if (!a) {
		printf("# %s\n", err);
		free(vis);
		return;
	}
	for (int p = 0; p < 2; p++)
		for (int f = 0; f < F; f++)
			for (int t = 0; t < T; t++) {
				size_t k = 2 * ((size_t)p * F * T + (size_t)f * T + t);
				double re = 3 + 0.01 * f + gauss(), im = gauss();
				if (t >= 10 && t < 14 && f >= 40 && f < 60)
					re += 25;
				vis[k] = (float)re;
				vis[k + 1] = (float)im;
			}
	ok(aoflag_run(a, T, F, 2, vis, NULL, mask, err) == 0, "aoflag_run runs");
	for (int f = 0; f < F; f++)
		for (int t = 0; t < T; t++) {
			int blk = t >= 10 && t < 14 && f >= 40 && f < 60;
			nblk += blk;
			hit += blk && mask[f * T + t];
			int near = t >= 8 && t < 16 && f >= 36 && f < 64;
			nclean += !near;
			fa += !near && mask[f * T + t];
		}
	char name[128];
	snprintf(name, sizeof name, "planted block flagged (%d of %d)", hit, nblk);
	ok(hit == nblk, name);
	snprintf(name, sizeof name, "clean samples away from it mostly kept (%d of %d flagged)",
	    fa, nclean);
	ok(fa < nclean / 50, name);
	aoflag_free(a);
	free(vis);

	a = aoflag_new("/nonexistent/strategy.lua", err);
	ok(a == NULL && err[0], "a missing strategy is an error");
	aoflag_free(a);
}

int main(void)
{
	float x[] = { 5, 1, 3 }, y[] = { 4, 1, 3, 2 }, z[] = { 1, 2, 3, 4, 100 };
	char strategy[4096];
	const char *root = getenv("UVM_ROOT");

	ok(flag_median(x, 3) == 3, "median of 3 values");
	ok(flag_median(y, 4) == 2.5, "median of 4 values: mean of the middle two");
	ok(isnan(flag_median(y, 0)), "median of nothing is NaN");
	ok(fabs(flag_mad_sigma(z, 5, 3) - 1.4826) < 1e-6, "robust sigma ignores the outlier");
	check_stats(0, "clean");
	check_stats(1, "10% RFI");
	snprintf(strategy, sizeof strategy, "%s/ops/aoflagger/dsa110.lua", root ? root : ".");
	check_aoflagger(strategy);
	printf("1..%d\n", ntest);
	return nfail != 0;
}

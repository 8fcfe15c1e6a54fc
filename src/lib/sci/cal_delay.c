/*
 * cal_delay.c: reference antenna and delay search (contract in
 * cal_delay.h).
 */
#include "sci/cal_delay.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define OVERSAMPLE 4

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return (a > b) - (a < b);
}

/* Median of x[0..n) (sorted in place); 0 when n is 0. */
static double median(double *x, int n)
{
	if (n <= 0)
		return 0;
	qsort(x, (size_t)n, sizeof *x, cmp_double);
	return n % 2 ? x[n / 2] : (x[n / 2 - 1] + x[n / 2]) / 2;
}

double cal_delay_wrap(double tau, double period)
{
	double w = fmod(tau + period / 2, period);

	if (w < 0)
		w += period;
	return w - period / 2;
}

void cal_delay_free(struct cal_delay_out *o)
{
	free(o->tau_s);
	free(o->snr);
	free(o->ok);
	free(o->score);
	memset(o, 0, sizeof *o);
}

static size_t sidx(const struct cal_delay_sums *in, int b, int f, int p)
{
	return ((size_t)b * in->nfreq + f) * in->npol + p;
}

/* |sum_f u_f exp(-2 pi i (f - f0) D)| for unit phasors u (0 where no
 * data); the channels being uniform, the phasor advances by one
 * rotation a channel (one cexp per call instead of one per channel). */
static double dspec(const struct cal_delay_sums *in, const double complex *u, double D)
{
	double ar = 0, ai = 0, wr = 1, wi = 0;
	double step = in->nfreq > 1 ? in->freq[1] - in->freq[0] : 0;
	double complex z = cexp(-2 * M_PI * I * step * D);
	double zr = creal(z), zi = cimag(z);

	/* the complex products spelt out: C's check each one for NaNs */
	for (int f = 0; f < in->nfreq; f++) {
		double ur = creal(u[f]), ui = cimag(u[f]), t;

		ar += ur * wr - ui * wi;
		ai += ur * wi + ui * wr;
		t = wr * zr - wi * zi;
		wi = wr * zi + wi * zr;
		wr = t;
	}
	return sqrt(ar * ar + ai * ai);
}

/* Reference score of every antenna. */
static int scores(const struct cal_delay_sums *in, double *score)
{
	int na = in->nants, nf = in->nfreq;
	double *coh = malloc(sizeof(double) * (size_t)(nf + 1));
	double *perant = malloc(sizeof(double) * (size_t)(in->nbls + 1) * 2);
	double *good = calloc((size_t)na, sizeof *good), *tot = calloc((size_t)na, sizeof *tot);
	double *bl = malloc(sizeof(double) * (size_t)(in->nbls + 1));
	int rc = -1;

	if (!coh || !perant || !good || !tot || !bl)
		goto out;
	for (int b = 0; b < in->nbls; b++) {
		bl[b] = 0;
		if (in->a1[b] == in->a2[b])
			continue;
		int m = 0;
		for (int f = 0; f < nf; f++) {
			double cm = 0;
			for (int p = 0; p < in->npol; p++) {
				size_t k = sidx(in, b, f, p);
				tot[in->a1[b]] += in->ntimes;
				tot[in->a2[b]] += in->ntimes;
				good[in->a1[b]] += in->cnt[k];
				good[in->a2[b]] += in->cnt[k];
				cm += in->sabs[k] > 0 ? cabs(in->sum[k]) / in->sabs[k] : 0;
			}
			coh[m++] = cm / in->npol;
		}
		bl[b] = median(coh, m);
	}
	for (int a = 0; a < na; a++) {
		int m = 0;
		for (int b = 0; b < in->nbls; b++)
			if (in->a1[b] != in->a2[b] && (in->a1[b] == a || in->a2[b] == a))
				perant[m++] = bl[b];
		score[a] = median(perant, m) * (tot[a] > 0 ? good[a] / tot[a] : 0);
	}
	rc = 0;
out:
	free(coh);
	free(perant);
	free(good);
	free(tot);
	free(bl);
	return rc;
}

int cal_delay_solve_sums(const struct cal_delay_sums *in, struct cal_delay_out *o)
{
	int na = in->nants, np = in->npol, nf = in->nfreq, rc = -1;
	double complex *s = malloc(sizeof *s * (size_t)(nf + 1));
	double df = nf > 1 ? fabs(in->freq[1] - in->freq[0]) : 1;
	double period = 1 / df, step = period / (nf * OVERSAMPLE);
	int ngrid = nf * OVERSAMPLE;
	double *spec = malloc(sizeof(double) * (size_t)(ngrid + 1));

	memset(o, 0, sizeof *o);
	o->refant = -1;
	o->tau_s = calloc((size_t)na * np, sizeof *o->tau_s);
	o->snr = calloc((size_t)na * np, sizeof *o->snr);
	o->ok = calloc((size_t)na * np, 1);
	o->score = calloc((size_t)na, sizeof *o->score);
	if (!s || !spec || !o->tau_s || !o->snr || !o->ok || !o->score)
		goto out;
	if (scores(in, o->score) < 0)
		goto out;
	for (int a = 0; a < na; a++)
		if (o->score[a] > 0 && (o->refant < 0 || o->score[a] > o->score[o->refant]))
			o->refant = a;
	rc = 0;
	if (o->refant < 0)
		goto out;
	for (int a = 0; a < na; a++) {
		int b = -1, flip = 0;
		if (a == o->refant) {
			for (int p = 0; p < np; p++)
				o->ok[a * np + p] = 1;
			continue;
		}
		for (int k = 0; k < in->nbls; k++) {
			if (in->a1[k] == o->refant && in->a2[k] == a)
				b = k, flip = 0;
			if (in->a1[k] == a && in->a2[k] == o->refant)
				b = k, flip = 1;
		}
		if (b < 0)
			continue;
		for (int p = 0; p < np; p++) {
			int best = 0;
			for (int f = 0; f < nf; f++) {
				s[f] = in->sum[sidx(in, b, f, p)];
				if (flip)
					s[f] = conj(s[f]);
				s[f] = s[f] != 0 ? s[f] / cabs(s[f]) : 0;
			}
			for (int g = 0; g < ngrid; g++) {
				spec[g] = dspec(in, s, -period / 2 + g * step);
				if (spec[g] > spec[best])
					best = g;
			}
			/* golden-section refinement within one step of the peak */
			double lo = -period / 2 + (best - 1) * step, hi = lo + 2 * step;
			const double r = (sqrt(5) - 1) / 2;
			double x1 = hi - r * (hi - lo), x2 = lo + r * (hi - lo);
			double f1 = dspec(in, s, x1), f2 = dspec(in, s, x2);
			for (int it = 0; it < 40; it++) {
				if (f1 > f2) {
					hi = x2, x2 = x1, f2 = f1;
					x1 = hi - r * (hi - lo);
					f1 = dspec(in, s, x1);
				} else {
					lo = x1, x1 = x2, f1 = f2;
					x2 = lo + r * (hi - lo);
					f2 = dspec(in, s, x2);
				}
			}
			double D = (lo + hi) / 2, peak = dspec(in, s, D);
			double med = median(spec, ngrid);
			/* phase of V(ref, a) carries 2 pi f (tau_ref - tau_a) = 2 pi f D */
			o->tau_s[a * np + p] = cal_delay_wrap(-D, period);
			o->snr[a * np + p] = med > 0 ? peak / med : 0;
			o->ok[a * np + p] = o->snr[a * np + p] >= 6;
		}
	}
out:
	free(s);
	free(spec);
	if (rc)
		cal_delay_free(o);
	return rc;
}

int cal_delay_solve(const struct cal_delay_in *in, struct cal_delay_out *o)
{
	size_t cells = (size_t)in->nbls * in->nfreq * in->npol;
	float complex *sum = calloc(cells + 1, sizeof *sum);
	float *sabs = calloc(cells + 1, sizeof *sabs);
	float *cnt = calloc(cells + 1, sizeof *cnt);
	int rc = -1;

	memset(o, 0, sizeof *o);
	o->refant = -1;
	if (!sum || !sabs || !cnt)
		goto out;
	for (int t = 0; t < in->ntimes; t++)
		for (size_t c = 0; c < cells; c++) {
			size_t k = (size_t)t * cells + c;
			float complex v = in->vis[k];
			if ((in->flags && in->flags[k]) || !isfinite(crealf(v)) || !isfinite(cimagf(v)))
				continue;
			sum[c] += v;
			sabs[c] += cabsf(v);
			cnt[c]++;
		}
	struct cal_delay_sums su = {in->nants, in->nbls, in->ntimes, in->nfreq, in->npol, in->a1,
	    in->a2, sum, sabs, cnt, in->freq};
	rc = cal_delay_solve_sums(&su, o);
out:
	free(sum);
	free(sabs);
	free(cnt);
	return rc;
}

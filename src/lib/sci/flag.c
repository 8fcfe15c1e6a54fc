/*
 * flag.c: statistics-based antenna, channel and integration flags, and
 * the AOFlagger pass over every baseline (contract in flag.h).
 */
#include "sci/flag.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/stats.h"
#include "sci/aoflag.h"

#define MAXVALS (1u << 20)   /* values per median before subsampling */

double flag_median(float *x, size_t n)
{
	if (!n)
		return NAN;
	double m = stats_kth(x, n, n / 2);
	if (n % 2 == 0) {
		float lo = x[0];
		for (size_t i = 1; i < n / 2; i++)
			if (x[i] > lo)
				lo = x[i];
		m = (m + lo) / 2;
	}
	return m;
}

double flag_mad_sigma(float *x, size_t n, double med)
{
	for (size_t i = 0; i < n; i++)
		x[i] = (float)fabs(x[i] - med);
	return 1.4826 * flag_median(x, n);
}

/* Robust z of v against the finite values of s[0..n): (v - med) / sigma. */
static int robust_ref(const double *s, int n, double *med, double *sig)
{
	float *x = malloc(sizeof *x * (size_t)(n + 1));
	int m = 0;

	if (!x)
		return -1;
	for (int i = 0; i < n; i++)
		if (isfinite(s[i]))
			x[m++] = (float)s[i];
	*med = flag_median(x, (size_t)m);
	*sig = m ? flag_mad_sigma(x, (size_t)m, *med) : NAN;
	free(x);
	return 0;
}

void flag_ants_free(struct flag_ants *a)
{
	free(a->dead);
	free(a->bad);
	free(a->why);
	free(a->cross_amp);
	free(a->auto_pow);
	free(a->auto_rough);
	memset(a, 0, sizeof *a);
}

#define ROW(d, t, b) ((size_t)((size_t)(t) * (d)->nbls + (b)) * (d)->nfreq * (d)->npol)

/* Is x an outlier of (med, sig): z beyond zlim and at least 50% off. */
static int outlier(double x, double med, double sig, int high_only)
{
	double z, rel;

	if (!isfinite(x) || !isfinite(med) || med <= 0)
		return 0;
	z = (x - med) / (sig > 1e-3 * med ? sig : 1e-3 * med);
	rel = x / med;
	if (high_only)
		return z > FLAG_ANT_Z && rel > 1.5;
	return (z > FLAG_ANT_Z && rel > 1.5) || (z < -FLAG_ANT_Z && rel < 0.5);
}

/* The statistics of antenna i (pass 1's per-antenna work) into a, with buf
 * (MAXVALS floats) as scratch; 0 or -1 (memory). */
static int ant_stats(const struct flag_data *d, struct flag_ants *a, int i, float *buf)
{
	int nf = d->nfreq, np = d->npol;
	size_t rowlen = (size_t)nf * np;

	size_t ncross = 0, nzero = 0, nall = 0, stride, k = 0, n = 0;
	int nb = 0, hasauto = 0;

	a->cross_amp[i] = a->auto_pow[i] = a->auto_rough[i] = NAN;
	for (int b = 0; b < d->nbls; b++)
		if (d->a1[b] == i || d->a2[b] == i) {
			if (d->a1[b] != d->a2[b])
				nb++;
			else
				hasauto = 1;
		}
	if (!nb && !hasauto)
		return 0;
	ncross = (size_t)nb * d->ntimes * rowlen;
	stride = ncross / MAXVALS + 1;
	/* cross amplitudes (subsampled) and zeros (all) */
	for (int t = 0; t < d->ntimes; t++)
		for (int b = 0; b < d->nbls; b++) {
			if ((d->a1[b] != i && d->a2[b] != i))
				continue;
			const float *v = d->amp + ROW(d, t, b);
			const uint8_t *fl = d->flags + ROW(d, t, b);
			int cross = d->a1[b] != d->a2[b];
			for (size_t s = 0; s < rowlen; s++) {
				if (fl[s] || !isfinite(v[s]))
					continue;
				nall++;
				nzero += v[s] == 0;
				if (cross && k++ % stride == 0 && n < MAXVALS)
					buf[n++] = v[s];
			}
		}
	if (nall && nzero > nall / 2) {
		a->dead[i] = 1;
		snprintf(a->why[i], FLAG_WHYLEN, "dead: %.0f%% of its samples are zero",
		    100.0 * (double)nzero / (double)nall);
	}
	a->cross_amp[i] = flag_median(buf, n);
	/* autocorrelation power and roughness, per integration and pol */
	if (!hasauto)
		return 0;
	int bauto = -1;
	for (int b = 0; b < d->nbls; b++)
		if (d->a1[b] == i && d->a2[b] == i)
			bauto = b;
	n = 0;
	float *rough = malloc(sizeof *rough * (size_t)d->ntimes * np + 1);
	float *spec = malloc(sizeof *spec * (size_t)nf + 1);
	float *diff = malloc(sizeof *diff * (size_t)nf + 1);
	size_t nr = 0;
	if (!rough || !spec || !diff) {
		free(rough);
		free(spec);
		free(diff);
		return -1;
	}
	for (int t = 0; t < d->ntimes; t++)
		for (int p = 0; p < np; p++) {
			const float *v = d->amp + ROW(d, t, bauto);
			const uint8_t *fl = d->flags + ROW(d, t, bauto);
			size_t ns = 0, nd = 0;
			for (int f = 0; f < nf; f++) {
				float x = v[(size_t)f * np + p];
				if (fl[(size_t)f * np + p] || !isfinite(x))
					continue;
				spec[ns++] = x;
				if (n < MAXVALS)
					buf[n++] = x;
				if (f + 1 < nf && !fl[(size_t)(f + 1) * np + p]) {
					float y = v[(size_t)(f + 1) * np + p];
					if (isfinite(y))
						diff[nd++] = fabsf(y - x);
				}
			}
			double ms = flag_median(spec, ns), md = flag_median(diff, nd);
			if (ms > 0 && isfinite(md))
				rough[nr++] = (float)(md / ms);
		}
	a->auto_pow[i] = flag_median(buf, n);
	a->auto_rough[i] = flag_median(rough, nr);
	free(rough);
	free(spec);
	free(diff);
	return 0;
}

struct antwork {
	const struct flag_data *d;
	struct flag_ants *a;
	atomic_int *next;
	int failed;
	pthread_t th;
};

/* Antennas from the shared counter until none is left; each antenna's
 * figures depend on its own samples only, whoever computes them. */
static void *ant_worker(void *arg)
{
	struct antwork *w = arg;
	float *buf = malloc(sizeof *buf * MAXVALS);
	int i;

	if (!buf) {
		w->failed = 1;
		return NULL;
	}
	while ((i = atomic_fetch_add(w->next, 1)) < w->d->nants)
		if (ant_stats(w->d, w->a, i, buf) < 0)
			w->failed = 1;
	free(buf);
	return NULL;
}

/* ant_stats for every antenna on d->nthreads threads; 0 or -1 (memory). */
static int ant_stats_all(const struct flag_data *d, struct flag_ants *a)
{
	atomic_int next = 0;
	int nth = d->nthreads > 0 ? d->nthreads : (int)sysconf(_SC_NPROCESSORS_ONLN);
	struct antwork w[64];
	int made = 0, failed = 0;

	nth = nth < 1 ? 1 : nth > 64 ? 64 : nth;
	for (int k = 0; k < nth; k++) {
		w[k] = (struct antwork){d, a, &next, 0, 0};
		if (k && pthread_create(&w[k].th, NULL, ant_worker, &w[k]) != 0)
			break;
		made = k + 1;
	}
	ant_worker(&w[0]);   /* with whatever threads started */
	for (int k = 0; k < made; k++) {
		if (k)
			pthread_join(w[k].th, NULL);
		failed |= w[k].failed;
	}
	return failed ? -1 : 0;
}

int flag_antennas(const struct flag_data *d, struct flag_ants *a)
{
	int na = d->nants, rc = -1;

	memset(a, 0, sizeof *a);
	a->dead = calloc((size_t)na, 1);
	a->bad = calloc((size_t)na, 1);
	a->why = calloc((size_t)na, sizeof *a->why);
	a->cross_amp = calloc((size_t)na + 1, sizeof(double));
	a->auto_pow = calloc((size_t)na + 1, sizeof(double));
	a->auto_rough = calloc((size_t)na + 1, sizeof(double));
	if (!a->dead || !a->bad || !a->why || !a->cross_amp || !a->auto_pow || !a->auto_rough ||
	    ant_stats_all(d, a) < 0)
		goto out;
	/* Dead by autocorrelation power, then outliers among the living. */
	double med, sig;
	if (robust_ref(a->auto_pow, na, &med, &sig) < 0)
		goto out;
	for (int i = 0; i < na; i++)
		if (!a->dead[i] && isfinite(a->auto_pow[i]) && med > 0 && a->auto_pow[i] < 1e-3 * med) {
			a->dead[i] = 1;
			snprintf(a->why[i], FLAG_WHYLEN, "dead: autocorrelation power %.3g, array median %.3g",
			    a->auto_pow[i], med);
		}
	double *st[3] = { a->cross_amp, a->auto_pow, a->auto_rough };
	const char *name[3] = { "median cross-correlation amplitude",
	    "median autocorrelation power", "autocorrelation roughness" };
	double *live = calloc((size_t)na + 1, sizeof(double));
	if (!live)
		goto out;
	for (int k = 0; k < 3; k++) {
		for (int i = 0; i < na; i++)
			live[i] = a->dead[i] ? NAN : st[k][i];
		if (robust_ref(live, na, &med, &sig) < 0) {
			free(live);
			goto out;
		}
		for (int i = 0; i < na; i++)
			if (!a->dead[i] && !a->bad[i] && outlier(live[i], med, sig, k == 2)) {
				a->bad[i] = 1;
				snprintf(a->why[i], FLAG_WHYLEN, "bad: %s %.3g, array median %.3g "
				    "(robust sigma %.3g)", name[k], live[i], med, sig);
			}
	}
	free(live);
	rc = 0;
out:
	if (rc)
		flag_ants_free(a);
	return rc;
}

/* Flag entries of x[0..n) more than 50% and zlim robust sigmas above the
 * running median of their w neighbours; out gets 0/1. */
static int flag_peaks(const double *x, int n, int w, double zlim, uint8_t *out)
{
	float *win = malloc(sizeof *win * (size_t)(w + 1));
	double *ratio = calloc((size_t)n + 1, sizeof(double));
	double med, sig;

	if (!win || !ratio) {
		free(win);
		free(ratio);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		int m = 0, lo = i - w / 2, hi = i + w / 2;
		if (lo < 0)
			hi -= lo, lo = 0;
		if (hi >= n)
			lo -= hi - (n - 1), hi = n - 1;
		if (lo < 0)
			lo = 0;
		for (int j = lo; j <= hi; j++)
			if (isfinite(x[j]))
				win[m++] = (float)x[j];
		double ref = flag_median(win, (size_t)m);
		ratio[i] = isfinite(x[i]) && ref > 0 ? x[i] / ref - 1 : NAN;
	}
	free(win);
	if (robust_ref(ratio, n, &med, &sig) < 0) {
		free(ratio);
		return -1;
	}
	for (int i = 0; i < n; i++)
		out[i] = isfinite(ratio[i]) && ratio[i] > 0.5 &&
		    (ratio[i] - med) > zlim * (sig > 1e-6 ? sig : 1e-6);
	free(ratio);
	return 0;
}

#define CHANVALS (1u << 24)  /* values held for the channel and time medians */

/*
 * One pass over the good cross rows in file order (cache-friendly: a
 * per-channel pass would stride over the whole group once per channel),
 * keeping every sr-th row for the channel medians and every sb-th
 * baseline of each integration for the time medians, all channels and
 * pols of each row kept.
 */
int flag_channels(const struct flag_data *d, const uint8_t *skip, uint8_t *badchan,
    uint8_t *badtime)
{
	int nf = d->nfreq, np = d->npol, nt = d->ntimes, ngood = 0, rc = -1;
	size_t capc = CHANVALS / (size_t)nf, capt = CHANVALS / (size_t)nt;
	double *cm = malloc(sizeof(double) * (size_t)(nf + nt));
	double *tm = cm ? cm + nf : NULL;
	float *cbuf = malloc(sizeof *cbuf * capc * nf), *tbuf = malloc(sizeof *tbuf * capt);
	size_t *cn = calloc((size_t)nf, sizeof *cn), rows, sr, sb;
	long long kr = 0;

	memset(badchan, 0, (size_t)nf);
	memset(badtime, 0, (size_t)nt);
	if (!cm || !cbuf || !tbuf || !cn)
		goto out;
	for (int b = 0; b < d->nbls; b++)
		ngood += d->a1[b] != d->a2[b] && !(skip && (skip[d->a1[b]] || skip[d->a2[b]]));
	if (!ngood) {
		rc = 0;
		goto out;
	}
	rows = capc / (size_t)np;
	sr = (size_t)ngood * nt / (rows ? rows : 1) + 1;
	rows = capt / ((size_t)nf * np);
	sb = (size_t)ngood / (rows ? rows : 1) + 1;
	for (int t = 0; t < nt; t++) {
		size_t tn = 0;
		long long kb = 0;
		for (int b = 0; b < d->nbls; b++) {
			if (d->a1[b] == d->a2[b] || (skip && (skip[d->a1[b]] || skip[d->a2[b]])))
				continue;
			int usec = kr++ % (long long)sr == 0, uset = kb++ % (long long)sb == 0;
			if (!usec && !uset)
				continue;
			const float *v = d->amp + ROW(d, t, b);
			const uint8_t *fl = d->flags + ROW(d, t, b);
			for (int f = 0; f < nf; f++)
				for (int p = 0; p < np; p++) {
					size_t o = (size_t)f * np + p;
					float x = v[o];
					if (fl[o] || !isfinite(x))
						continue;
					if (usec && cn[f] < capc)
						cbuf[(size_t)f * capc + cn[f]++] = x;
					if (uset && tn < capt)
						tbuf[tn++] = x;
				}
		}
		tm[t] = tn ? flag_median(tbuf, tn) : NAN;
	}
	for (int f = 0; f < nf; f++)
		cm[f] = cn[f] ? flag_median(cbuf + (size_t)f * capc, cn[f]) : NAN;
	if (flag_peaks(cm, nf, 5, FLAG_CHAN_Z, badchan) < 0)
		goto out;
	/* integrations: the reference is the median of all of them */
	if (nt >= 3 && flag_peaks(tm, nt, nt, FLAG_CHAN_Z, badtime) < 0)
		goto out;
	rc = 0;
out:
	free(cm);
	free(cbuf);
	free(tbuf);
	free(cn);
	return rc;
}

/* ------------------------------------------------------------ AOFlagger */

struct worker {
	struct flag_data *d;
	const uint8_t *skip;
	const char *strategy;
	int *next;                 /* shared baseline counter */
	pthread_mutex_t *mu;
	pthread_t th;
	int failed;
	char err[AOFLAG_ERRLEN];
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct flag_data *d = w->d;
	int nf = d->nfreq, nt = d->ntimes, np = d->npol;
	size_t plane = (size_t)nf * nt;
	float *img = malloc(sizeof *img * 2 * 2 * plane);
	uint8_t *in = malloc(plane), *mask = malloc(plane);
	aoflag *a = NULL;

	if (!img || !in || !mask) {
		snprintf(w->err, sizeof w->err, "out of memory");
		w->failed = 1;
		goto out;
	}
	a = aoflag_new(w->strategy, w->err);
	if (!a) {
		w->failed = 1;
		goto out;
	}
	for (;;) {
		int b;
		pthread_mutex_lock(w->mu);
		b = (*w->next)++;
		pthread_mutex_unlock(w->mu);
		if (b >= d->nbls)
			break;
		if (d->a1[b] == d->a2[b] || (w->skip && (w->skip[d->a1[b]] || w->skip[d->a2[b]])))
			continue;
		/* polarizations in pairs (AOFlagger: one mask per image set) */
		for (int p0 = 0; p0 < np; p0 += 2) {
			int npp = np - p0 < 2 ? np - p0 : 2;
			memset(in, 0, plane);
			for (int t = 0; t < nt; t++) {
				const float *v = d->amp + ROW(d, t, b);
				const uint8_t *fl = d->flags + ROW(d, t, b);
				for (int f = 0; f < nf; f++)
					for (int q = 0; q < npp; q++) {
						size_t s = (size_t)f * np + p0 + q;
						size_t o = 2 * ((size_t)q * plane + (size_t)f * nt + t);
						int bad = fl[s] || !isfinite(v[s]);
						/* the amplitude as a real visibility: the
						 * strategy works on amplitudes (dsa110.lua) */
						img[o] = bad ? 0 : v[s];
						img[o + 1] = 0;
						in[(size_t)f * nt + t] |= (uint8_t)bad;
					}
			}
			if (aoflag_run(a, (size_t)nt, (size_t)nf, (size_t)npp, img, in, mask, w->err) < 0) {
				w->failed = 1;
				goto out;
			}
			for (int t = 0; t < nt; t++) {
				uint8_t *fl = d->flags + ROW(d, t, b);
				for (int f = 0; f < nf; f++)
					if (mask[(size_t)f * nt + t])
						for (int q = 0; q < npp; q++)
							fl[(size_t)f * np + p0 + q] = 1;
			}
		}
	}
out:
	if (w->failed) {
		/* stop the others early */
		pthread_mutex_lock(w->mu);
		*w->next = d->nbls;
		pthread_mutex_unlock(w->mu);
	}
	aoflag_free(a);
	free(img);
	free(in);
	free(mask);
	return NULL;
}

int flag_aoflagger(struct flag_data *d, const uint8_t *skip, const char *strategy,
    int nthreads, char *err)
{
	pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	struct worker *w;
	int next = 0, started = 0, rc = 0;

	if (nthreads <= 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		nthreads = n > 0 ? (int)n : 1;
	}
	if (nthreads > d->nbls)
		nthreads = d->nbls > 0 ? d->nbls : 1;
	w = calloc((size_t)nthreads, sizeof *w);
	if (!w) {
		snprintf(err, FLAG_ERRLEN, "out of memory");
		return -1;
	}
	for (int i = 0; i < nthreads; i++) {
		w[i].d = d;
		w[i].skip = skip;
		w[i].strategy = strategy;
		w[i].next = &next;
		w[i].mu = &mu;
		if (pthread_create(&w[i].th, NULL, worker_main, &w[i])) {
			snprintf(err, FLAG_ERRLEN, "cannot start a thread");
			rc = -1;
			pthread_mutex_lock(&mu);
			next = d->nbls;
			pthread_mutex_unlock(&mu);
			break;
		}
		started++;
	}
	for (int i = 0; i < started; i++) {
		pthread_join(w[i].th, NULL);
		if (w[i].failed && !rc) {
			snprintf(err, FLAG_ERRLEN, "%s", w[i].err);
			rc = -1;
		}
	}
	free(w);
	return rc;
}

/*
 * img_store.c: a group's visibilities read once and kept for every pass
 * of the imager (contract in img.h), and the bandwidth smearing that
 * averaging channels into them costs.
 *
 * Cotton-Schwab CLEAN grids the same visibilities once for the dirty
 * image and again, minus the model, after every minor cycle. Reading the
 * group from disk each time (1.4 GB, ~86 M Stokes I samples for a
 * full-size DSA-110 group) costs seconds a pass and keeps the work in one
 * thread; holding it all in full precision costs more than the 1 GB an
 * imaging job may use. So the store keeps per row (baseline-time) only
 * its baseline in metres, per file the frequencies of its channel bins,
 * and per row and bin the weighted mean of the rephased Stokes I with
 * its summed weight (flags folded in as zero weight): 12 bytes a bin.
 *
 * Averaging a bin of width B turns a point source at offset s into
 * sinc(pi (b.s) B / lambda) of its amplitude on baseline b (the phase
 * runs linearly across a flat bandpass); time is not averaged (in a
 * drift scan the fringe rate at the half-power radius would cost tens of
 * percent over two integrations). img_smear_loss predicts the loss of a
 * source's peak from the rows' projected baselines; img_auto_avg picks
 * the widest bins within a budget.
 */
#include "sci/img.h"
#include "sci/img_int.h"

#include <complex.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "core/log.h"

/* sinc(x) = sin(x) / x */
static double sinc(double x)
{
	return fabs(x) < 1e-8 ? 1 : sin(x) / x;
}

/* Width of the bin of channels [c0, c1) of fr (Hz): their span plus
 * one channel (the native width cw for a single channel). */
static double bin_width(const double *fr, int c0, int c1, double cw)
{
	double span = fabs(fr[c1 - 1] - fr[c0]);

	return span + (c1 - c0 > 1 ? span / (c1 - c0 - 1) : cw);
}

void img_vstore_free(struct img_vstore *s)
{
	for (int i = 0; s->seg && i < s->nseg; i++) {
		free(s->seg[i].freq);
		free(s->seg[i].width);
	}
	free(s->seg);
	free(s->u);
	free(s->v);
	free(s->V);
	free(s->w);
	memset(s, 0, sizeof *s);
}

/* Cross rows of every file: counted by a pass over the baselines. */
static void count_row(void *ctx, int file, double bu, double bv)
{
	size_t *n = ctx;

	(void)bu;
	(void)bv;
	n[file]++;
}

struct fill {
	struct img_vstore *s;
	size_t row;
	long long kept;
};

static void fill_row(void *ctx, int file, double bu, double bv, const float complex *V,
    const float *w, int nf)
{
	struct fill *x = ctx;
	struct img_vstore *s = x->s;
	const struct img_vseg *g = &s->seg[file];
	size_t r = x->row++, o = g->off + (r - g->row0) * (size_t)g->nchan;

	s->u[r] = bu;
	s->v[r] = bv;
	for (int j = 0; j < g->nchan; j++) {
		int c1 = (j + 1) * s->avg < nf ? (j + 1) * s->avg : nf;
		double sw = 0;
		double complex sv = 0;

		for (int c = j * s->avg; c < c1; c++)
			if (w[c] > 0) {
				sw += w[c];
				sv += w[c] * V[c];
				x->kept++;
			}
		s->w[o + (size_t)j] = (float)sw;
		s->V[o + (size_t)j] = sw > 0 ? (float complex)(sv / sw) : 0;
	}
}

int img_vstore_load(struct img_input *in, int avg, struct img_vstore *s, int *status, char *err)
{
	size_t *nr = calloc((size_t)in->nfiles, sizeof *nr);
	struct fill x = {s, 0, 0};

	memset(s, 0, sizeof *s);
	s->avg = avg < 1 ? 1 : avg;
	s->seg = calloc((size_t)in->nfiles, sizeof *s->seg);
	if (!nr || !s->seg)
		goto oom;
	s->nseg = in->nfiles;
	img_row_baselines(in, 1, count_row, nr);
	for (int i = 0; i < in->nfiles; i++) {
		struct img_vseg *g = &s->seg[i];
		int nf;
		const double *fr = img_file_freqs(in, i, &nf);

		g->row0 = s->nrow;
		g->nrow = nr[i];
		g->nchan = (nf + s->avg - 1) / s->avg;
		g->off = s->nvis;
		g->freq = malloc(sizeof *g->freq * (size_t)g->nchan);
		g->width = malloc(sizeof *g->width * (size_t)g->nchan);
		if (!g->freq || !g->width)
			goto oom;
		for (int j = 0; j < g->nchan; j++) {
			int c0 = j * s->avg, c1 = c0 + s->avg < nf ? c0 + s->avg : nf;
			double sf = 0;

			for (int c = c0; c < c1; c++)
				sf += fr[c];
			g->freq[j] = sf / (c1 - c0);
			g->width[j] = bin_width(fr, c0, c1, in->chan_width);
		}
		s->nrow += g->nrow;
		s->nvis += g->nrow * (size_t)g->nchan;
	}
	s->u = malloc(sizeof *s->u * (s->nrow ? s->nrow : 1));
	s->v = malloc(sizeof *s->v * (s->nrow ? s->nrow : 1));
	s->V = malloc(sizeof *s->V * (s->nvis ? s->nvis : 1));
	s->w = malloc(sizeof *s->w * (s->nvis ? s->nvis : 1));
	if (!s->u || !s->v || !s->V || !s->w)
		goto oom;
	free(nr);
	if (img_scan_rows(in, 1, fill_row, &x, status, err) < 0) {
		img_vstore_free(s);
		return -1;
	}
	if (x.row != s->nrow) {
		img_vstore_free(s);
		snprintf(err, IMG_ERRLEN, "rows changed between two passes over the input");
		*status = EX_SOFTWARE;
		return -1;
	}
	s->nsamples = x.kept;
	return 0;
oom:
	free(nr);
	img_vstore_free(s);
	snprintf(err, IMG_ERRLEN, "out of memory for the visibilities (%d channels averaged)", avg);
	*status = EX_OSERR;
	return -1;
}

#define SMEAR_ANGLES 36
#define SMEAR_ROWS 20000       /* rows sampled at most */

struct smear {
	double theta, sum, n, bmax;
	double *width;             /* per file: its widest bin, Hz */
};

static void smear_row(void *ctx, int file, double bu, double bv)
{
	struct smear *x = ctx;
	double b = hypot(bu, bv), a = M_PI * b * x->theta * x->width[file] / IMG_C, s = 0;

	for (int k = 0; k < SMEAR_ANGLES; k++)
		s += sinc(a * cos(M_PI * (k + 0.5) / SMEAR_ANGLES));
	x->sum += s / SMEAR_ANGLES;
	x->n++;
	if (b > x->bmax)
		x->bmax = b;
}

double img_smear_loss(const struct img_input *in, int avg, double theta, double *longest)
{
	struct smear x = {theta, 0, 0, 0, NULL};
	size_t *nr = calloc((size_t)in->nfiles, sizeof *nr), tot = 0;
	double wmax = 0;

	x.width = calloc((size_t)in->nfiles, sizeof *x.width);
	*longest = NAN;
	if (!x.width || !nr) {
		free(x.width);
		free(nr);
		return NAN;
	}
	avg = avg < 1 ? 1 : avg;
	for (int i = 0; i < in->nfiles; i++) {
		int nf;
		const double *fr = img_file_freqs(in, i, &nf);

		for (int c0 = 0; c0 < nf; c0 += avg)
			x.width[i] = fmax(x.width[i], bin_width(fr, c0, c0 + avg < nf ? c0 + avg : nf,
			    in->chan_width));
		wmax = fmax(wmax, x.width[i]);
	}
	img_row_baselines(in, 1, count_row, nr);
	for (int i = 0; i < in->nfiles; i++)
		tot += nr[i];
	img_row_baselines(in, tot > SMEAR_ROWS ? (int)(tot / SMEAR_ROWS) : 1, smear_row, &x);
	*longest = 1 - sinc(M_PI * in->bmax * theta * wmax / IMG_C);
	free(x.width);
	free(nr);
	return x.n > 0 ? 1 - x.sum / x.n : NAN;
}

int img_auto_avg(const struct img_input *in, double theta, double budget, int maxavg)
{
	int best = 1;
	double lg;

	for (int a = 2; a <= maxavg; a++) {
		if (!(img_smear_loss(in, a, theta, &lg) <= budget))
			break;
		best = a;
	}
	return best;
}

void img_store_span(const struct img_vstore *s, double *lo, double *hi)
{
	*lo = INFINITY;
	*hi = -INFINITY;
	for (int i = 0; i < s->nseg; i++)
		for (int j = 0; j < s->seg[i].nchan; j++) {
			*lo = fmin(*lo, s->seg[i].freq[j]);
			*hi = fmax(*hi, s->seg[i].freq[j]);
		}
}

/*
 * img_deconv.c: the deconvolution of uvm-image (contracts in img_int.h):
 * the sub-band dirty images and PSFs of a joined-channel image, and the
 * Cotton-Schwab loop around the joined minor cycles (img_mfclean.c).
 *
 * Every sub-band is gridded on the same grids, one after the other, and
 * transformed with the same FFT plans, so a joined image costs the
 * memory of one set of grids plus, per sub-band, a residual and a PSF
 * (n x n floats each beyond PSF_EXACT_MAX, where the PSF is Clark's
 * patch); the term models are a few more images, not one per sub-band.
 * A major cycle predicts each sub-band's model (its polynomial evaluated
 * at the sub-band's frequency) into that sub-band's visibilities only
 * (the store's frequency selection), so the visibilities are degridded
 * once per cycle in all, whatever the number of sub-bands. One sub-band
 * is today's MFS CLEAN, bit for bit. With o->beam_slices > 1 the
 * prediction applies the drift's time-varying primary beam (img_tbeam.c);
 * one slice is the constant-beam prediction, bit for bit.
 */
#include "sci/img.h"
#include "sci/img_int.h"

#include <fftw3.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "core/log.h"

void img_clock(double *cpu, double *wall)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	*cpu = (double)ts.tv_sec + ts.tv_nsec * 1e-9;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	*wall = (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The major cycles' FFT seconds (cpu, wall), for the debug summary. */
static double batch_fft_cpu, batch_fft_wall;

/* Largest |r| over the window (fraction win of the side) around the centre. */
static double window_peak(const float *r, int n, double win)
{
	int h = n / 2, hw = (int)(win * n / 2), x0 = h - hw < 0 ? 0 : h - hw;
	int x1 = h + hw > n ? n : h + hw;
	double p = 0;

	for (int y = x0; y < x1; y++)
		for (int x = x0; x < x1; x++) {
			double a = fabs(r[(size_t)y * n + x]);
			if (a > p)
				p = a;
		}
	return p;
}

static double image_rms(const float *r, int n)
{
	size_t nn = (size_t)n * n, stride = nn > 2000000 ? nn / 1000003 : 1;
	double s = img_robust_rms(r, nn, stride);

	return isfinite(s) ? s : 0;
}

void img_subs_free(struct img_subs *sb)
{
	for (int b = 0; b < IMG_SUB_MAX; b++) {
		if (sb->mfs == sb->resid[b])
			sb->mfs = NULL;
		free(sb->resid[b]);
		free(sb->psf[b]);
		sb->resid[b] = sb->psf[b] = NULL;
	}
	for (int t = 0; t < IMG_TERMS_MAX; t++) {
		free(sb->model[t]);
		sb->model[t] = NULL;
	}
	free(sb->mfs);
	sb->mfs = NULL;
}

void img_subs_mfs_model(const struct img_subs *sb, int n, float *out)
{
	size_t nn = (size_t)n * n;

	for (size_t i = 0; i < nn; i++) {
		double v = 0;
		for (int t = 0; t < sb->sp.nterms; t++)
			v += sb->sp.mfs[t] * sb->model[t][i];
		out[i] = (float)v;
	}
}

static void mfs_part(void *ctx, size_t lo, size_t hi)
{
	struct img_subs *sb = ctx;

	for (size_t i = lo; i < hi; i++) {
		float acc = 0;
		for (int b = 0; b < sb->sp.nsub; b++)
			acc += (float)sb->sp.w[b] * sb->resid[b][i];
		sb->mfs[i] = acc;
	}
}

/* The weighted sum of the sub-band residuals into sb->mfs, on nthreads
 * threads (nothing to do with one sub-band: it is the residual). */
static void mfs_sum(struct img_subs *sb, int n, int nthreads)
{
	if (sb->sp.nsub > 1)
		img_par((size_t)n * n, nthreads, mfs_part, sb);
}

/* Sub-band b's model from the terms' into sb->resid[b] (pixels lo..hi),
 * for img_par: where its residual goes next. */
struct model_job {
	struct img_subs *sb;
	int b;
};

static void model_part(void *ctx, size_t lo, size_t hi)
{
	const struct model_job *c = ctx;
	const struct img_spec *sp = &c->sb->sp;
	float *r = c->sb->resid[c->b];

	for (size_t i = lo; i < hi; i++) {
		double v = 0;
		for (int t = 0; t < sp->nterms; t++)
			v += sp->basis[c->b][t] * c->sb->model[t][i];
		r[i] = (float)v;
	}
}

/* An image off a transformed grid, for img_par (rows lo..hi): the
 * real part (im: the imaginary), divided by the weights' sum sumw, then
 * by norm (the PSF's peak) unless it is 0. */
struct image_part {
	const float complex *grid;
	int ng, n, im;
	const double *corr;
	double sumw, norm;
	float *out;
};

static void image_part(void *ctx, size_t lo, size_t hi)
{
	const struct image_part *c = ctx;

	img_grid_to_image_rows(c->grid, c->ng, c->n, c->corr, c->sumw, c->out, (int)lo, (int)hi,
	    c->im);
	for (size_t i = lo * (size_t)c->n; c->norm != 0 && i < hi * (size_t)c->n; i++)
		c->out[i] = (float)(c->out[i] / c->norm);
}

/* Sub-band b's residual off g->vis (im: its imaginary part), on nthreads. */
static void resid_image(const struct img_grid *g, const double *corr, struct img_subs *sb, int b,
    int n, int im, int nthreads)
{
	struct image_part c = { g->vis, g->ng, n, im, corr, sb->sumw[b], sb->norm[b], sb->resid[b] };

	img_par((size_t)n, nthreads, image_part, &c);
}

/* Sub-band k's dirty image and PSF off g's grids, normalised by the
 * PSF's peak, on nthreads threads; 0, or -1 (out of memory, or no
 * positive PSF peak) with err and *st. */
static int sub_images(struct img_grid *g, const struct img_fft *fft, const struct img_fft *fftp,
    const double *corr, const double *corrp, int n, int np, struct img_subs *sb, int k,
    int nthreads, int *st, char *err)
{
	size_t nn = (size_t)n * n, npp = (size_t)np * np;
	struct image_part c = { g->psf, g->ngp, np, 0, corrp, g->sumw, 0, NULL };

	sb->resid[k] = malloc(sizeof *sb->resid[k] * nn);
	sb->psf[k] = malloc(sizeof *sb->psf[k] * npp);
	if (!sb->resid[k] || !sb->psf[k]) {
		snprintf(err, IMG_ERRLEN, "out of memory for %d x %d images", n, n);
		*st = EX_OSERR;
		return -1;
	}
	img_fft_exec_pass(fft, IMG_FFT_RESID, g->vis);
	/* a PSF grid on the visibility grid's side holds its weights in the
	 * same rows; Clark's patch (np = n) is the same columns too, and the
	 * pruned pass serves it (not a 2n PSF, on a grid padded 2x) */
	if (fftp)
		img_fft_exec(fftp, g->psf);
	else if (np <= n)
		img_fft_exec_pass(fft, IMG_FFT_RESID, g->psf);
	else
		img_fft_exec(fft, g->psf);
	c.out = sb->psf[k];
	img_par((size_t)np, nthreads, image_part, &c);
	sb->norm[k] = sb->psf[k][(size_t)(np / 2) * np + np / 2];
	if (!(sb->norm[k] > 0)) {
		snprintf(err, IMG_ERRLEN, "the PSF has no positive peak");
		*st = EX_SOFTWARE;
		return -1;
	}
	sb->sumw[k] = g->sumw;
	resid_image(g, corr, sb, k, n, 0, nthreads);
	for (size_t i = 0; i < npp; i++)
		sb->psf[k][i] = (float)(sb->psf[k][i] / sb->norm[k]);
	return 0;
}

int img_subs_make(const struct img_opts *o, const struct img_vstore *s, struct img_grid *g,
    int nthreads, const struct img_fft *fft, const struct img_fft *fftp, const double *corr,
    const double *corrp, int n, int np, struct img_subs *sb, int *st, char *err)
{
	int want = o->channels_out < 1 ? 1 : o->channels_out, k = 0, nterms;
	double flo, fhi, f[IMG_SUB_MAX], sumw = 0, sumwf = 0;
	long long nvis = 0, nout = 0;

	memset(sb, 0, sizeof *sb);
	sb->np = np;
	if (want > IMG_SUB_MAX)
		want = IMG_SUB_MAX;
	img_store_span(s, &flo, &fhi);
	for (int b = 0; b < want; b++) {
		/* edges half-way between bins never cut one: a bin is in
		 * exactly one sub-band */
		g->sel_lo = b == 0 ? -INFINITY : flo + (fhi - flo) * b / want;
		g->sel_hi = want == 1 ? 0 : b == want - 1 ? INFINITY : flo + (fhi - flo) * (b + 1) / want;
		if (img_grid_store(g, s, NULL, nthreads) < 0) {
			snprintf(err, IMG_ERRLEN, "out of memory or threads for gridding");
			*st = EX_OSERR;
			return -1;
		}
		nvis += g->nvis;
		nout += g->nout;
		if (g->nvis == 0 || !(g->sumw > 0))
			continue;
		sumw += g->sumw;
		sumwf += g->sumwf;
		sb->lo[k] = g->sel_lo;
		sb->hi[k] = g->sel_hi;
		sb->nvis[k] = g->nvis;
		f[k] = g->sumwf / g->sumw;
		if (sub_images(g, fft, fftp, corr, corrp, n, np, sb, k, nthreads, st, err) < 0)
			return -1;
		log_debug("sub-band %d: %.3f MHz, %lld visibilities, weight %.4g", b, f[k] / 1e6,
		    g->nvis, g->sumw);
		k++;
	}
	g->nvis = nvis;
	g->nout = nout;
	g->sumw = sumw;
	g->sumwf = sumwf;
	g->sel_lo = g->sel_hi = 0;
	if (k == 0)
		return 0;
	nterms = o->spec_terms < 1 ? 1 : o->spec_terms > k ? k : o->spec_terms;
	while (img_spec_init(&sb->sp, k, f, sb->sumw, nterms) < 0 && nterms > 1)
		nterms--;
	sb->mfs = k == 1 ? sb->resid[0] : malloc(sizeof *sb->mfs * (size_t)n * n);
	for (int t = 0; t < nterms; t++)
		if (!(sb->model[t] = calloc((size_t)n * n, sizeof *sb->model[t])))
			sb->mfs = k == 1 ? NULL : (free(sb->mfs), NULL);
	if (!sb->mfs) {
		snprintf(err, IMG_ERRLEN, "out of memory for %d x %d images", n, n);
		*st = EX_OSERR;
		return -1;
	}
	mfs_sum(sb, n, nthreads);
	return 0;
}

/*
 * Sub-band b's residual visibilities (its data minus its model's
 * prediction) gridded onto grid (g->vis, or the model grid mg once the
 * time-sliced prediction is done with it). mg is the model grid's
 * buffer. 0, or -1 with err and *st.
 */
static int resid_grid(const struct img_input *in, struct img_grid *g, const struct img_fft *fft,
    const double *corr, struct img_subs *sb, struct img_tbeam *tb, const int *cand,
    size_t ncand, int n, int b, float complex *mg, float complex *grid, int *st, char *err)
{
	const struct img_spec *sp = &sb->sp;
	const float *model = sb->model[0];
	struct model_job cp = { sb, b };
	float complex *keep = g->vis;
	double c0, w0, c1, w1;
	int rc;

	g->sel_lo = sb->lo[b];
	g->sel_hi = sb->hi[b];
	if (tb->k > 1) {
		/* each time slice's prediction with its own beam, into
		 * tb->mvis, which the gridding below subtracts */
		double ft[2] = {0, 0};

		if (img_tbeam_predict(tb, in->store, g, fft, corr, b, sb, cand, ncand, mg,
			in->nthreads, ft) < 0) {
			snprintf(err, IMG_ERRLEN, "out of memory for the time-sliced prediction");
			*st = EX_OSERR;
			return -1;
		}
		batch_fft_cpu += ft[0];
		batch_fft_wall += ft[1];
		g->mvis = tb->mvis;
	} else {
		if (sp->nterms > 1 || sp->basis[b][0] != 1) {
			/* the sub-band's model where its residual goes next */
			img_par((size_t)n * n, in->nthreads, model_part, &cp);
			model = sb->resid[b];
		}
		img_clock(&c0, &w0);
		img_model_grid(model, n, g->ng, corr, mg);
		img_fft_exec_pass(fft, IMG_FFT_MODEL, mg);
		img_clock(&c1, &w1);
		batch_fft_cpu += c1 - c0;
		batch_fft_wall += w1 - w0;
	}
	/* mg is only the model's flag to the gridding when g->mvis holds
	 * the model visibilities (grid may be mg itself then) */
	g->vis = grid;
	/* the pair's second grid: only its rows of data are read */
	g->zero_r = grid == keep ? 0 : fft->pass[IMG_FFT_RESID].r;
	rc = img_grid_store(g, in->store, mg, in->nthreads);
	g->zero_r = 0;
	g->vis = keep;
	g->mvis = NULL;
	if (rc < 0) {
		snprintf(err, IMG_ERRLEN, "out of memory or threads for the major cycle");
		*st = EX_OSERR;
	}
	return rc;
}

/*
 * One Cotton-Schwab major cycle: for each sub-band, its model's uv grid
 * (FFT of the model at its frequency / grid correction; with time slices
 * the model only at cand's ncand pixels, which hold every component),
 * then its visibilities of the store again, minus the model degridded at
 * their (u, v), gridded with their weights (on the store's threads),
 * transformed: the residuals become the exact residual images of the
 * data, not the minor cycle's PSF-shifted approximations of them. With
 * time slices and pruned transforms, two sub-bands share a transform
 * (img_grid_hermitian_pair): the second's grid is the model grid's
 * buffer, free once its prediction is done. mg: the model grid's buffer
 * (ng x ng, fftwf_malloc'd), one for all cycles (a new one each cycle
 * cost its page faults each time).
 */
static int major_cycle(const struct img_input *in, struct img_grid *g, const struct img_fft *fft,
    const double *corr, struct img_subs *sb, struct img_tbeam *tb, const int *cand,
    size_t ncand, int n, float complex *mg, int *st, char *err)
{
	const struct img_spec *sp = &sb->sp;
	int vr = fft->pass[IMG_FFT_RESID].rows[0] ? fft->pass[IMG_FFT_RESID].r : 0;
	double c0, w0, c1, w1;

	for (int b = 0; b < sp->nsub; b++) {
		int two = tb->k > 1 && vr > 0 && b + 1 < sp->nsub;

		if (resid_grid(in, g, fft, corr, sb, tb, cand, ncand, n, b, mg, g->vis, st,
			err) < 0 ||
		    (two && resid_grid(in, g, fft, corr, sb, tb, cand, ncand, n, b + 1, mg, mg, st,
			err) < 0))
			return -1;
		img_clock(&c0, &w0);
		if (two)
			img_grid_hermitian_pair(g->vis, mg, g->ng, vr, in->nthreads);
		img_fft_exec_pass(fft, IMG_FFT_RESID, g->vis);
		img_clock(&c1, &w1);
		batch_fft_cpu += c1 - c0;
		batch_fft_wall += w1 - w0;
		resid_image(g, corr, sb, b, n, 0, in->nthreads);
		if (two)
			resid_image(g, corr, sb, ++b, n, 1, in->nthreads);
	}
	g->sel_lo = g->sel_hi = 0;
	mfs_sum(sb, n, in->nthreads);
	return 0;
}

/*
 * Clark's PSF patch (np < 2n), made safe for Högbom, and its bound.
 * The PSF is a positive-definite function of the offset (the transform
 * of non-negative weights), which is what makes Högbom's loop converge:
 * each component lowers sum(model x (PSF * model)) / 2 - model . dirty.
 * Cut off at the patch's edge it is not (the snapshot PSF of the T has
 * ridges of 0.2 out there), and CLEAN on a mask spread over the field
 * then diverges (main, 2026-12-06: the small array's 2-deg-east case went
 * to 5e11 Jy/beam). Multiplied by the separable triangle (1 - |dx|/h)
 * (1 - |dy|/h), h = np/2, whose transform (sinc^2 x sinc^2) is
 * non-negative, it is positive-definite again (Schur's product
 * theorem) and falls to 0 at the edge. The minor cycle then misses
 * PSF x (1 - triangle) within the patch and the PSF beyond it: their
 * largest |value| (returned; 0 for the exact 2n PSF, left alone) is the
 * fraction of a minor cycle's peak it must stop above.
 */
static double patch_taper(float *psf, int np, int n)
{
	int h = np / 2;
	double m = 0;

	if (np >= 2 * n)
		return 0;
	for (int y = 0; y < np; y++) {
		double wy = 1 - fabs((double)(y - h)) / h;
		for (int x = 0; x < np; x++) {
			double w = wy * (1 - fabs((double)(x - h)) / h);
			float *p = &psf[(size_t)y * np + x];
			m = fmax(m, fabs(*p) * (1 - w));
			*p = (float)(*p * w);
		}
	}
	return m;
}

static int cmp_desc(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;

	return x < y ? 1 : x > y ? -1 : 0;
}

/*
 * The minor cycle's pixels (Clark's idea, Högbom's loop): those of the
 * window with |r| above *level, at most ACTIVE_MAX of them (*level is
 * raised to the largest |r| left out). Between major cycles only these
 * are searched and updated, with the exact 2n PSF: a minor cycle stops at
 * *level anyway, and the major cycle recomputes the whole residual.
 * Returns the indices (malloc'd) and their number in *na; NULL if out of
 * memory.
 */
#define ACTIVE_MAX 100000
static int *active_set(const float *r, int n, double win, double *level, int *na)
{
	int h = n / 2, hw = (int)(win * n / 2), x0 = h - hw < 0 ? 0 : h - hw;
	int x1 = h + hw > n ? n : h + hw, m = 0, cap = 1024, *idx = malloc(sizeof *idx * 1024);

	*na = 0;
	if (!idx)
		return NULL;
	for (int y = x0; y < x1; y++)
		for (int x = x0; x < x1; x++) {
			size_t i = (size_t)y * n + x;
			if (!(fabsf(r[i]) > *level))
				continue;
			if (m == cap) {
				int *t = realloc(idx, sizeof *idx * (size_t)(cap *= 2));
				if (!t) {
					free(idx);
					return NULL;
				}
				idx = t;
			}
			idx[m++] = (int)i;
		}
	if (m > ACTIVE_MAX) {
		float *a = malloc(sizeof *a * (size_t)m);
		int k = 0;
		if (!a) {
			free(idx);
			return NULL;
		}
		for (int i = 0; i < m; i++)
			a[i] = fabsf(r[idx[i]]);
		qsort(a, (size_t)m, sizeof *a, cmp_desc);
		*level = a[ACTIVE_MAX];
		for (int i = 0; i < m; i++)
			if (fabsf(r[idx[i]]) > *level)
				idx[k++] = idx[i];
		m = k;
		free(a);
	}
	*na = m;
	return idx;
}

/* Whether a term model is not 0 at pixel i. */
static int has_model(const struct img_subs *sb, size_t i)
{
	int on = 0;

	for (int t = 0; t < sb->sp.nterms; t++)
		on |= sb->model[t][i] != 0;
	return on;
}

/* The mask: the pixels where any term model is not 0 (*nidx of them,
 * ascending, malloc'd), taken from cand (ncand pixels, ascending, which
 * hold every one of them: cand_add), or NULL if out of memory. */
static int *model_mask(const struct img_subs *sb, const int *cand, size_t ncand, int *nidx)
{
	int m = 0, *idx = malloc(sizeof *idx * (ncand ? ncand : 1));

	if (!idx)
		return NULL;
	for (size_t i = 0; i < ncand; i++)
		if (has_model(sb, (size_t)cand[i]))
			idx[m++] = cand[i];
	*nidx = m;
	return idx;
}

/*
 * *cand (*ncand pixels, ascending) joined with those of set[] (nset,
 * ascending) where a term model is not 0: after a minor cycle over set,
 * every pixel that holds a component (what the time-sliced prediction
 * reads, instead of scanning the n x n models). 0, or -1 if out of memory
 * (*cand unchanged).
 */
static int cand_add(int **cand, size_t *ncand, const int *set, int nset,
    const struct img_subs *sb)
{
	const int *c = *cand;
	int *out = malloc(sizeof *out * (*ncand + (size_t)nset + 1));
	size_t i = 0, k = 0;

	if (!out)
		return -1;
	for (int j = 0; j < nset; j++) {
		int p = set[j];

		if (!has_model(sb, (size_t)p))
			continue;
		while (i < *ncand && c[i] < p)
			out[k++] = c[i++];
		i += i < *ncand && c[i] == p;
		out[k++] = p;
	}
	while (i < *ncand)
		out[k++] = c[i++];
	free(*cand);
	*cand = out;
	*ncand = k;
	return 0;
}

/* "C s cpu, W s wall" since the previous call, for the debug timings. */
static const char *lap(void)
{
	static double last, lastc;
	static char buf[48];
	double cpu, wall;

	img_clock(&cpu, &wall);
	snprintf(buf, sizeof buf, "%.2f s cpu, %.2f s wall", last > 0 ? cpu - lastc : 0,
	    last > 0 ? wall - last : 0);
	last = wall;
	lastc = cpu;
	return buf;
}

/*
 * The sub-bands' PSF patches as the minor cycle reads them, interleaved
 * (sub-band b at offset o is [o nsub + b]): a component's subtraction
 * at a pixel then reads one cache line for all sub-bands, not one each,
 * which is what the minor cycle waits on. The separate patches are freed
 * as they are copied. NULL if out of memory (nothing freed then).
 */
static float *interleave(struct img_subs *sb)
{
	int nsub = sb->sp.nsub;
	size_t npp = (size_t)sb->np * sb->np;
	float *p = malloc(sizeof *p * npp * (size_t)nsub);

	if (!p)
		return NULL;
	for (int b = 0; b < nsub; b++) {
		const float *q = sb->psf[b];
		for (size_t o = 0; o < npp; o++)
			p[o * (size_t)nsub + (size_t)b] = q[o];
		free(sb->psf[b]);
		sb->psf[b] = NULL;
	}
	return p;
}

/*
 * Deconvolution, as WSClean's auto-masking runs it: minor cycles (joined
 * Högbom on the MFS image, each sub-band with its PSF) each down to
 * (1 - mgain) of the peak they started from, or to automask sigma, then a
 * major cycle; once the peak is below automask sigma, the mask is the
 * pixels holding components and CLEAN goes on there only, down to
 * autothreshold sigma (sigma: robust rms of the MFS residual, re-measured
 * after every major cycle) or the absolute threshold if larger. At most
 * o->nmajor major cycles and o->niter components in all.
 */
int img_deconvolve(const struct img_opts *o, const struct img_input *in, struct img_grid *g,
    const struct img_fft *fft, const double *corr, struct img_subs *sb, int n,
    struct img_clean *tot, int *st, char *err)
{
	int budget = o->niter, nmajor = 0, nidx = 0, *idx = NULL, np = sb->np, *cand = NULL, rc = 0;
	size_t ncand = 0;
	double win = 0.95, floor_thr = o->threshold >= 0 ? o->threshold : 0, far = 0;
	float *resid = sb->mfs, *psf = NULL;
	float complex *mg = NULL;
	struct img_tbeam tb;

	if (img_tbeam_init(&tb, o->beam_slices, o, in, sb, n, 1 / (g->ng * g->du), st, err) < 0) {
		img_tbeam_free(&tb);
		return -1;
	}
	if (tb.k > 1)
		log_debug("major cycles predict with the beam of %d time slices (coarse grid of %d "
			  "pixels)", tb.k, tb.step);
	for (int b = 0; b < sb->sp.nsub; b++)
		far = fmax(far, patch_taper(sb->psf[b], np, n));
	if (!(psf = interleave(sb))) {
		snprintf(err, IMG_ERRLEN, "out of memory for the minor cycles' PSF");
		*st = EX_OSERR;
		img_tbeam_free(&tb);
		return -1;
	}
	memset(tot, 0, sizeof *tot);
	if (far > 0)
		log_debug("PSF patch %d x %d, tapered: sidelobes missed up to %.3g of the peak", np, np,
		    far);
	tot->niter = o->niter;
	tot->gain = o->gain;
	tot->window = win;
	lap();
	for (;;) {
		double sigma = image_rms(resid, n), peak = 0, stop, fin;
		struct img_clean c = {0};
		int ok = 1;

		fin = fmax(floor_thr, o->autothreshold * sigma);
		if (!idx) {
			peak = window_peak(resid, n, win);
			/* 10% above the level counts as reached: a minor cycle
			 * stops at it and the major cycle's exact residual is a
			 * little higher; another full pass for a few dozen
			 * components would cost more than it gains */
			if (o->automask > 0 && peak <= 1.1 * fmax(fin, o->automask * sigma) &&
			    !(idx = model_mask(sb, cand, ncand, &nidx))) {
				snprintf(err, IMG_ERRLEN, "out of memory for the CLEAN mask");
				*st = EX_OSERR;
				rc = -1;
				break;
			}
		}
		if (idx) {
			peak = 0;
			for (int i = 0; i < nidx; i++)
				peak = fmax(peak, fabs(resid[idx[i]]));
		}
		stop = idx || o->automask <= 0 ? fin : fmax(fin, o->automask * sigma);
		tot->last = peak;
		tot->used_threshold = stop;
		log_debug("major %d: peak %.4g Jy/beam, rms %.4g, stop at %.4g%s, %d components",
		    nmajor, peak, sigma, stop, idx ? " (masked)" : "", tot->done);
		if (!(peak > stop) || budget <= 0 || nmajor >= o->nmajor)
			break;
		c.niter = budget;
		c.gain = o->gain;
		c.threshold = fmax(stop, fmax(1 - o->mgain, far) * peak);
		c.window = win;
		c.nthreads = in->nthreads;
		if (idx) {
			img_mfclean_masked(sb->resid, resid, psf, np, sb->model, n, idx, nidx, &sb->sp,
			    &c);
			ok = cand_add(&cand, &ncand, idx, nidx, sb) == 0;
		} else {
			int na, *act = active_set(resid, n, win, &c.threshold, &na);

			if (act) {
				img_mfclean_masked(sb->resid, resid, psf, np, sb->model, n, act, na,
				    &sb->sp, &c);
				ok = cand_add(&cand, &ncand, act, na, sb) == 0;
			}
			free(act);
		}
		if (!ok) {
			snprintf(err, IMG_ERRLEN, "out of memory for the CLEAN active set");
			*st = EX_OSERR;
			rc = -1;
			break;
		}
		budget -= c.done;
		tot->done += c.done;
		tot->flux += c.flux;
		if (c.done == 0)
			break;
		log_debug("minor %d: %d components to %.4g Jy/beam: %s", nmajor, c.done, c.threshold,
		    lap());
		if (!mg && !(mg = fftwf_malloc(sizeof *mg * (size_t)g->ng * g->ng))) {
			snprintf(err, IMG_ERRLEN, "out of memory for the major cycle's model grid");
			*st = EX_OSERR;
			rc = -1;
			break;
		}
		if ((rc = major_cycle(in, g, fft, corr, sb, &tb, cand, ncand, n, mg, st, err)) < 0)
			break;
		nmajor++;
		log_debug("major %d done: %s", nmajor, lap());
	}
	fftwf_free(mg);
	free(cand);
	free(idx);
	free(psf);
	img_tbeam_free(&tb);
	if (rc == 0)
		log_debug("major cycles: fft %.2f s cpu, %.2f s wall", batch_fft_cpu,
		    batch_fft_wall);
	return rc;
}

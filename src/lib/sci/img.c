/*
 * img.c: the uvm-image job (contract in img.h): open the group's files,
 * plan the FFT (before gridding: MEASURE planning scribbles on the
 * buffer), grid (with a density pass first for uniform/Briggs weighting),
 * transform the visibility and weight grids into the dirty image and the
 * PSF, fit the restoring beam, CLEAN, restore, and write the FITS product.
 */
#include "sci/img.h"

#include <errno.h>
#include <fftw3.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "sci/beam.h"
#include "sci/geom.h"
#include "core/log.h"

/* Kernel: Kaiser-Bessel, 7 cells wide, for a grid padded 1.25 x; beta
 * puts the kernel transform's turn-over just past the aliased edge
 * (tests/unit/test_img.c checks the image against a direct transform). */
#define KB_SUPPORT 7
#define KB_OS 1024
#define KB_BETA 13.0

/* The PSF for the minor cycles: 2n x 2n up to this image side (exact
 * Högbom: a component reaches every pixel), with a grid of its own; beyond
 * it, n x n off a grid the size of the visibility grid, on the same FFT
 * plan (Clark's patch, a component reaching n/2 each way: at the whole
 * primary beam, 6720 pixels, the 2n grid alone would be 1.4 GB and a
 * quarter of the FFT time). The deployment's 2048 is exact. */
#define PSF_EXACT_MAX 2048

void img_opts_default(struct img_opts *o)
{
	memset(o, 0, sizeof *o);
	o->npix = 0;
	o->cell = 0;
	o->pad = 1.25;
	/* the operators' WSClean settings (-weight briggs 0 -auto-threshold
	 * 0.5), with the mask from 5 sigma rather than their 3: a deep CLEAN
	 * is unbiased once the image covers the primary beam to its first
	 * null (npix 0: automatic), so that no source the dishes see leaves
	 * uncleaned sidelobes in it; but such an image holds ~10^6
	 * independent beams, a thousand noise peaks above 3 sigma, and
	 * a mask seeded by them CLEANs the noise (bench/bench-science.sh's
	 * small field: residual 0.52 of the thermal noise, 20 of 63
	 * catalogue entries spurious at -a 3; 1.03 and none at -a 5) */
	o->weighting = IMG_BRIGGS;
	o->robust = 0;
	o->niter = 100000;
	o->gain = 0.1;
	o->threshold = -1;
	o->mgain = 0.95;
	o->nmajor = 6;
	o->automask = 5;
	o->autothreshold = 0.5;
	o->beam = BEAM_AIRY;
	o->pb_cut = 0.2;
	o->fft_flags = FFTW_MEASURE;
}

double img_auto_cell(const struct img_input *in)
{
	return IMG_C / in->fmax / in->bmax / 4;
}

/* Smallest even n' >= n whose only prime factors are 2, 3, 5, 7. */
static int fft_size(int n)
{
	for (int m = n + (n & 1);; m += 2) {
		int r = m;
		for (int p = 2; p <= 7; p++)
			while (r % p == 0)
				r /= p;
		if (r == 1)
			return m;
	}
}

int img_auto_npix(const struct img_input *in, double cell, enum beam_model m)
{
	double field = 2 * beam_first_null(m, in->fmin, BEAM_DISH_M);
	double want = ceil(field / cell);
	int n = want >= IMG_NPIX_MAX ? IMG_NPIX_MAX : fft_size((int)want);

	return n > IMG_NPIX_MAX ? IMG_NPIX_MAX : n;
}

int img_parse_weighting(const char *s, enum img_weighting *w, double *robust)
{
	char *end;

	if (!strcmp(s, "natural")) {
		*w = IMG_NATURAL;
	} else if (!strcmp(s, "uniform")) {
		*w = IMG_UNIFORM;
	} else if (!strcmp(s, "briggs")) {
		*w = IMG_BRIGGS;
		*robust = 0;
	} else if (!strncmp(s, "briggs:", 7)) {
		*w = IMG_BRIGGS;
		*robust = strtod(s + 7, &end);
		if (end == s + 7 || *end || !isfinite(*robust) || fabs(*robust) > 5)
			return -1;
	} else {
		return -1;
	}
	return 0;
}

/* The directory of path must be writable; 0 or -1 with err. */
static int out_dir_check(const char *path, char *err)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');

	if (!slash)
		snprintf(dir, sizeof dir, ".");
	else if (slash == path)
		snprintf(dir, sizeof dir, "/");
	else
		snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
	if (access(dir, W_OK | X_OK) < 0) {
		snprintf(err, IMG_ERRLEN, "cannot create '%s': %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* CPU (all threads) and wall seconds now, for the phase timings. */
static void batch_clock(double *cpu, double *wall)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	*cpu = (double)ts.tv_sec + ts.tv_nsec * 1e-9;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	*wall = (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The major cycles' FFT seconds (cpu, wall), for the debug summary. */
static double batch_fft_cpu, batch_fft_wall;

/*
 * Half-power radius (radians) of beam model m at frequency f: where the
 * power response falls to 1/2, by bisection (both models fall
 * monotonically to their first null, beyond 1 lambda/D).
 */
static double batch_half_power(enum beam_model m, double f)
{
	double lo = 0, hi = IMG_C / f / BEAM_DISH_M;

	for (int i = 0; i < 60; i++) {
		double mid = (lo + hi) / 2;
		if (beam_pb(m, mid, f, BEAM_DISH_M) > 0.5)
			lo = mid;
		else
			hi = mid;
	}
	return (lo + hi) / 2;
}

/* "C s cpu, W s wall" since the previous call, for the debug timings. */
static const char *lap(void)
{
	static double last_cpu, last_wall;
	static char buf[64];
	struct timespec ts;
	double cpu = (double)clock() / CLOCKS_PER_SEC, wall;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	wall = (double)ts.tv_sec + ts.tv_nsec * 1e-9;
	snprintf(buf, sizeof buf, "%.2f s cpu, %.2f s wall", cpu - last_cpu, wall - last_wall);
	last_cpu = cpu;
	last_wall = wall;
	return buf;
}

static const char *weighting_name(enum img_weighting w)
{
	return w == IMG_NATURAL ? "natural" : w == IMG_UNIFORM ? "uniform" : "briggs";
}

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

/*
 * One Cotton-Schwab major cycle: the model's uv grid (FFT of model /
 * grid correction), then every visibility of the store again, minus the
 * model degridded at its (u, v), gridded with its weight (on the store's
 * threads), transformed: resid becomes the exact residual image of the
 * data, not the minor cycle's PSF-shifted approximation of it.
 */
static int major_cycle(struct img_input *in, struct img_grid *g, const struct img_fft *fft,
    const double *corr, double norm, const float *model, float *resid, int n, int *st, char *err)
{
	size_t ng2 = (size_t)g->ng * g->ng;
	float complex *mg = fftwf_malloc(sizeof *mg * ng2);
	double c0, w0, c1, w1;

	if (!mg) {
		snprintf(err, IMG_ERRLEN, "out of memory for the major cycle's model grid");
		*st = EX_OSERR;
		return -1;
	}
	batch_clock(&c0, &w0);
	img_model_grid(model, n, g->ng, corr, mg);
	img_fft_exec(fft, mg);
	batch_clock(&c1, &w1);
	batch_fft_cpu += c1 - c0;
	batch_fft_wall += w1 - w0;
	if (img_grid_store(g, in->store, mg, in->nthreads) < 0) {
		fftwf_free(mg);
		snprintf(err, IMG_ERRLEN, "out of memory or threads for the major cycle");
		*st = EX_OSERR;
		return -1;
	}
	fftwf_free(mg);
	batch_clock(&c0, &w0);
	img_fft_exec(fft, g->vis);
	batch_clock(&c1, &w1);
	batch_fft_cpu += c1 - c0;
	batch_fft_wall += w1 - w0;
	img_grid_to_image(g->vis, g->ng, n, corr, g->sumw, resid);
	for (size_t i = 0; i < (size_t)n * n; i++)
		resid[i] = (float)(resid[i] / norm);
	return 0;
}

/*
 * Clark's bound for a PSF patch (np < 2n): the largest |PSF| in the
 * patch's outer band (offsets beyond 3/8 of its side from the peak), the
 * level of the sidelobes a component leaves unsubtracted beyond the
 * patch; a minor cycle must stop above that fraction of its peak, or it
 * would CLEAN them. 0 for the exact 2n PSF.
 */
static double patch_far_sidelobe(const float *psf, int np, int n)
{
	int h = np / 2, edge = 3 * np / 8;
	double m = 0;

	if (np >= 2 * n)
		return 0;
	for (int y = 0; y < np; y++)
		for (int x = 0; x < np; x++)
			if (abs(x - h) >= edge || abs(y - h) >= edge)
				m = fmax(m, fabs(psf[(size_t)y * np + x]));
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

/*
 * Deconvolution, as WSClean's auto-masking runs it: minor cycles (Högbom
 * on the image with the 2n PSF) each down to (1 - mgain) of the peak they
 * started from, or to automask sigma, then a major cycle; once the peak is
 * below automask sigma, the mask is the pixels holding components and
 * CLEAN goes on there only, down to autothreshold sigma (sigma: robust
 * rms of the residual, re-measured after every major cycle) or the
 * absolute threshold if larger. At most o->nmajor major cycles and
 * o->niter components in all; the residual left is always a major
 * cycle's. 0, or -1 with err and *st.
 */
static int deconvolve(const struct img_opts *o, struct img_input *in, struct img_grid *g,
    const struct img_fft *fft, const double *corr, double norm, float *resid, const float *psf,
    int np, float *model, int n, struct img_clean *tot, int *st, char *err)
{
	int budget = o->niter, nmajor = 0, masked = 0, nidx = 0, *idx = NULL;
	double win = 0.95, floor_thr = o->threshold >= 0 ? o->threshold : 0;
	double far = patch_far_sidelobe(psf, np, n);

	memset(tot, 0, sizeof *tot);
	if (far > 0)
		log_debug("PSF patch %d x %d: sidelobes up to %.3g of the peak at its edge", np, np, far);
	tot->niter = o->niter;
	tot->gain = o->gain;
	tot->window = win;
	for (;;) {
		double sigma = image_rms(resid, n), peak = 0, stop, fin;
		struct img_clean c = {0};

		fin = fmax(floor_thr, o->autothreshold * sigma);
		if (!masked) {
			peak = window_peak(resid, n, win);
			/* 10% above the level counts as reached: a minor cycle
			 * stops at it and the major cycle's exact residual is a
			 * little higher; another full pass for a few dozen
			 * components would cost more than it gains */
			if (o->automask > 0 && peak <= 1.1 * fmax(fin, o->automask * sigma)) {
				size_t nn = (size_t)n * n;
				masked = 1;
				for (size_t i = 0; i < nn; i++)
					nidx += model[i] != 0;
				idx = malloc(sizeof *idx * (size_t)(nidx ? nidx : 1));
				if (!idx) {
					snprintf(err, IMG_ERRLEN, "out of memory for the CLEAN mask");
					*st = EX_OSERR;
					return -1;
				}
				nidx = 0;
				for (size_t i = 0; i < nn; i++)
					if (model[i] != 0)
						idx[nidx++] = (int)i;
			}
		}
		if (masked) {
			peak = 0;
			for (int i = 0; i < nidx; i++)
				peak = fmax(peak, fabs(resid[idx[i]]));
		}
		stop = masked || o->automask <= 0 ? fin : fmax(fin, o->automask * sigma);
		tot->last = peak;
		tot->used_threshold = stop;
		log_debug("major %d: peak %.4g Jy/beam, rms %.4g, stop at %.4g%s, %d components",
		    nmajor, peak, sigma, stop, masked ? " (masked)" : "", tot->done);
		if (!(peak > stop) || budget <= 0 || nmajor >= o->nmajor)
			break;
		c.niter = budget;
		c.gain = o->gain;
		c.threshold = fmax(stop, fmax(1 - o->mgain, far) * peak);
		c.window = win;
		c.nthreads = in->nthreads;
		if (masked) {
			img_hogbom_masked(resid, psf, np, model, n, idx, nidx, &c);
		} else {
			int na, *act = active_set(resid, n, win, &c.threshold, &na);
			if (!act) {
				snprintf(err, IMG_ERRLEN, "out of memory for the CLEAN active set");
				*st = EX_OSERR;
				free(idx);
				return -1;
			}
			img_hogbom_masked(resid, psf, np, model, n, act, na, &c);
			free(act);
		}
		budget -= c.done;
		tot->done += c.done;
		tot->flux += c.flux;
		if (c.done == 0)
			break;
		log_debug("minor %d: %d components to %.4g Jy/beam: %s", nmajor, c.done, c.threshold,
		    lap());
		if (major_cycle(in, g, fft, corr, norm, model, resid, n, st, err) < 0) {
			free(idx);
			return -1;
		}
		nmajor++;
		log_debug("major %d done: %s", nmajor, lap());
	}
	free(idx);
	return 0;
}

int img_run(const struct img_opts *o, char *const *paths, int nfiles, const char *out)
{
	struct img_input in;
	struct img_kernel k = {0};
	struct img_grid g = {0};
	struct img_fft fft = {0};
	struct img_meta m;
	struct img_fft fftp = {0};
	struct img_vstore store = {0};
	int nthreads = o->threads > 0 ? o->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
	int n = o->npix, ng, ngp, np, st = 0, loaded = 0, saved = 0;
	char err[IMG_ERRLEN];
	double *corr = NULL, *corrp = NULL, cell, norm;
	float *dirty = NULL, *psf = NULL, *model = NULL, *restored = NULL;
	size_t nn;
	char h[6][512];
	const char *wisdom = o->wisdom;

	memset(&m, 0, sizeof m);
	memset(&in, 0, sizeof in);
	lap();
	/* fail early on an output that can never be written */
	if (img_check_output(out, err) < 0 || out_dir_check(out, err) < 0) {
		log_err("%s", err);
		return EX_CANTCREAT;
	}
	if (wisdom && img_check_output(wisdom, err) < 0) {
		log_warn("wisdom: %s", err);
		wisdom = NULL;
	}
	if (img_input_open(&in, paths, nfiles, &st, err) < 0) {
		log_err("%s", err);
		img_input_close(&in);
		return st;
	}
	cell = o->cell > 0 ? o->cell : img_auto_cell(&in);
	if (n <= 0) {
		n = img_auto_npix(&in, cell, o->beam);
		log_info("image %d x %d of %.4g arcsec: %.3g deg, the %s beam to its first null "
			 "(%.3g deg) at %.1f MHz%s", n, n, cell / GEOM_DEG * 3600,
		    n * cell / GEOM_DEG, beam_name(o->beam),
		    beam_first_null(o->beam, in.fmin, BEAM_DISH_M) / GEOM_DEG, in.fmin / 1e6,
		    n == IMG_NPIX_MAX ? ": capped, the field is smaller than the beam" : "");
	}
	nn = (size_t)n * n;
	ng = fft_size((int)ceil(n * (o->pad >= 1 ? o->pad : 1)));
	np = n <= PSF_EXACT_MAX ? 2 * n : n;
	ngp = np == 2 * n ? fft_size(2 * n) : ng;
	corr = malloc(sizeof *corr * (size_t)n);
	corrp = malloc(sizeof *corrp * (size_t)np);
	if (!corr || !corrp || img_kernel_init(&k, KB_SUPPORT, KB_OS, KB_BETA) < 0 ||
	    img_grid_init(&g, ng, ngp, cell, &k, o->weighting, o->robust) < 0) {
		log_err("out of memory for %d x %d and %d x %d grids", ng, ng, ngp, ngp);
		st = EX_OSERR;
		goto out;
	}
	img_kernel_correction(&k, ng, n, corr);
	img_kernel_correction(&k, ngp, np, corrp);
	if (nthreads < 1)
		nthreads = 1;
	img_fft_threads(nthreads);
	for (int i = 0; i < (ngp == ng ? 1 : 2); i++) {
		struct img_fft *f = i ? &fftp : &fft;
		int side = i ? ngp : ng;

		if (img_fft_plan(f, side, i ? g.psf : g.vis, o->fft_flags, wisdom, &loaded,
			&saved, &st, err) < 0) {
			log_err("%s", err);
			goto out;
		}
		if (saved < 0)
			log_warn("%s", err);
		log_debug("fft %dx%d: wisdom %s, %s", side, side, loaded ? "loaded" : "none",
		    saved > 0 ? "saved" : "unchanged");
	}
	log_debug("planned: %s", lap());
	{
		/* read once: channels averaged within the smearing budget at
		 * the primary beam's half-power radius (the widest, at fmin) */
		double hp = batch_half_power(o->beam, in.fmin), loss, longest;
		int avg = o->chan_avg > 0 ? o->chan_avg : img_auto_avg(&in, hp, IMG_SMEAR_BUDGET,
		    IMG_AVG_MAX);

		loss = img_smear_loss(&in, avg, hp, &longest);
		log_info("averaging %d channel%s of %.4g kHz: bandwidth smearing %.2f%% of the peak at "
			 "the half-power radius %.3f deg (%.2f%% on the longest baseline, %.0f m)%s", avg,
		    avg > 1 ? "s" : "", in.chan_width / 1e3, 100 * loss, hp / GEOM_DEG, 100 * longest,
		    in.bmax, o->chan_avg > 0 ? "" : ": automatic");
		if (img_vstore_load(&in, avg, &store, &st, err) < 0) {
			log_err("%s", err);
			goto out;
		}
		in.store = &store;
		in.nthreads = nthreads;
		img_input_close(&in);   /* the files are done with */
		log_debug("read %zu rows x %d/%d channels (%lld samples), %.0f MB: %s", store.nrow,
		    store.nseg ? store.seg[0].nchan : 0, store.avg, store.nsamples,
		    (double)store.nvis * (sizeof *store.V + sizeof *store.w) / 1e6, lap());
	}
	if (img_grid_store(&g, &store, NULL, nthreads) < 0) {
		log_err("out of memory or threads for gridding");
		st = EX_OSERR;
		goto out;
	}
	log_debug("gridded %lld visibilities: %s", g.nvis, lap());
	if (g.nvis == 0 || !(g.sumw > 0)) {
		log_err("no unflagged cross-correlation data in %d file%s (%lld rows, %lld flagged, "
			"%lld non-finite, %lld outside the uv grid)", nfiles, nfiles > 1 ? "s" : "",
		    in.nrows, in.nflagged, in.nnonfinite, g.nout);
		st = EX_DATAERR;
		goto out;
	}
	if (g.nout > 0)
		log_warn("%lld of %lld visibilities fall outside the uv grid (cell %.3g arcsec too "
			 "coarse?)", g.nout, g.nout + g.nvis, cell / GEOM_DEG * 3600);

	/* the model and the restored image once the PSF grid is freed: the
	 * peak memory is the grids' */
	dirty = malloc(sizeof *dirty * nn);
	psf = malloc(sizeof *psf * (size_t)np * np);
	if (!dirty || !psf) {
		log_err("out of memory for %d x %d images", n, n);
		st = EX_OSERR;
		goto out;
	}
	img_fft_exec(&fft, g.vis);
	img_grid_to_image(g.vis, ng, n, corr, g.sumw, dirty);
	img_fft_exec(ngp == ng ? &fft : &fftp, g.psf);
	img_grid_to_image(g.psf, ngp, np, corrp, g.sumw, psf);
	norm = psf[(size_t)(np / 2) * np + np / 2];
	log_debug("transformed: %s", lap());
	if (!(norm > 0)) {
		log_err("the PSF has no positive peak");
		st = EX_SOFTWARE;
		goto out;
	}
	for (size_t i = 0; i < nn; i++)
		dirty[i] = (float)(dirty[i] / norm);
	for (size_t i = 0; i < (size_t)np * np; i++)
		psf[i] = (float)(psf[i] / norm);
	m.nvis = g.nvis;
	m.sumw = g.sumw;
	m.freq = g.sumwf / g.sumw;
	/* the PSF grid is done with; the visibility grid and its plan serve
	 * the major cycles */
	fftwf_free(g.psf);
	g.psf = NULL;
	img_fft_free(&fftp);
	if (!(model = calloc(nn, sizeof *model))) {
		log_err("out of memory for %d x %d images", n, n);
		st = EX_OSERR;
		goto out;
	}
	if (img_fit_beam(psf, np, cell, &m.beam) < 0) {
		log_err("cannot fit a restoring beam: the PSF has no main lobe (uv coverage too "
			"sparse, or pixels of %.3g arcsec too coarse)", cell / GEOM_DEG * 3600);
		st = EX_DATAERR;
		goto out;
	}
	log_debug("beam fitted: %s", lap());
	if (deconvolve(o, &in, &g, &fft, corr, norm, dirty, psf, np, model, n, &m.clean, &st,
		err) < 0) {
		log_err("%s", err);
		goto out;
	}
	log_debug("cleaned: %s", lap());
	log_debug("major cycles: degrid %.2f s cpu, %.2f s wall; grid %.2f s cpu, %.2f s wall; "
		  "fft %.2f s cpu, %.2f s wall (first gridding included; %d threads)", g.prep_cpu,
	    g.prep_wall, g.spread_cpu, g.spread_wall, batch_fft_cpu, batch_fft_wall, nthreads);
	free(psf);
	psf = NULL;
	if (!(restored = malloc(sizeof *restored * nn))) {
		log_err("out of memory for %d x %d images", n, n);
		st = EX_OSERR;
		goto out;
	}
	memcpy(restored, dirty, sizeof *restored * nn);
	img_restore(restored, model, n, cell, &m.beam);

	m.n = n;
	m.cell = cell;
	m.ra0 = in.ra0_icrs;
	m.dec0 = in.dec0_icrs;
	m.xi = in.xi;
	m.eta = in.eta;
	m.bandwidth = in.fmax - in.fmin + in.chan_width;
	m.jd_first = in.jd_first;
	m.jd_last = in.jd_last;
	m.lat = in.lat;
	m.lon = in.lon;
	m.alt = in.alt;
	snprintf(m.telescope, sizeof m.telescope, "%s", in.telescope);
	snprintf(m.instrument, sizeof m.instrument, "%s", in.instrument);
	if (o->group && *o->group)
		snprintf(m.group, sizeof m.group, "%s", o->group);
	else if (in.group[0])
		snprintf(m.group, sizeof m.group, "%s", in.group);
	else
		geom_group_id(in.jd_first, m.group);
	snprintf(h[0], sizeof h[0], "%s", o->argv_line ? o->argv_line : "uvm-image");
	snprintf(h[1], sizeof h[1], "%d file(s); %lld Stokes I visibilities of %lld cross rows "
	    "(%lld samples flagged, %lld non-finite, %lld outside the grid)", nfiles, m.nvis,
	    in.nrows, in.nflagged, in.nnonfinite, g.nout);
	snprintf(h[2], sizeof h[2], "%s to CIRS RA %.6f Dec %.6f deg (ERA + longitude at mid-time "
	    "JD %.6f), ICRS RA %.6f Dec %.6f; ERFA, UT1-UTC taken as 0 (no IERS table)",
	    in.drift ? "rephased" : "phase centre", in.ra0 / GEOM_DEG, in.dec0 / GEOM_DEG, in.jd_mid,
	    in.ra0_icrs / GEOM_DEG, in.dec0_icrs / GEOM_DEG);
	snprintf(h[3], sizeof h[3], "%s weighting%s; Kaiser-Bessel W=%d beta=%g; grid %d for "
	    "image %d, cell %.4f arcsec", weighting_name(o->weighting),
	    o->weighting == IMG_BRIGGS ? " (robust set)" : "", KB_SUPPORT, KB_BETA, ng, n,
	    cell / GEOM_DEG * 3600);
	snprintf(h[4], sizeof h[4], "Cotton-Schwab CLEAN (Hogbom minor cycles, mgain %g, auto-mask "
	    "%g, auto-threshold %g sigma): %d iterations, gain %g, threshold %.4g Jy/beam, %.6g Jy",
	    o->mgain, o->automask, o->autothreshold, m.clean.done, m.clean.gain,
	    m.clean.used_threshold, m.clean.flux);
	snprintf(h[5], sizeof h[5], "w-term: array plane as SIN PV2_1=%.6g PV2_2=%.6g", in.xi, in.eta);
	for (int i = 0; i < 6; i++)
		m.history[i] = h[i];
	if (img_fits_write(out, restored, dirty, &m, &st, err) < 0) {
		log_err("%s", err);
		goto out;
	}
	if (o->pbcor) {
		/* the primary-beam-corrected image: restored / beam where the
		 * beam is above the cut, NaN (blank) elsewhere */
		float *pb = malloc(sizeof *pb * nn);
		char hp[512];

		if (!pb) {
			log_err("out of memory for the primary beam");
			st = EX_OSERR;
			goto out;
		}
		img_primary_beam(o, &in, n, cell, pb);
		for (size_t i = 0; i < nn; i++)
			pb[i] = pb[i] >= o->pb_cut ? restored[i] / pb[i] : NAN;
		snprintf(hp, sizeof hp, "primary-beam corrected: %s beam of a %.2f m dish averaged "
		    "over the drift and the band; blank below %.2f of the peak response",
		    beam_name(o->beam), BEAM_DISH_M, o->pb_cut);
		m.history[6] = hp;
		if (img_fits_write(o->pbcor, pb, NULL, &m, &st, err) < 0) {
			log_err("%s", err);
			free(pb);
			goto out;
		}
		free(pb);
	}
	log_debug("written: %s", lap());
	log_info("'%s': %dx%d, cell %.3g arcsec, %lld vis, beam %.3g x %.3g arcsec pa %.1f, "
		 "clean %d iter %.4g Jy", out, n, n, cell / GEOM_DEG * 3600, m.nvis,
	    m.beam.bmaj / GEOM_DEG * 3600, m.beam.bmin / GEOM_DEG * 3600, m.beam.bpa / GEOM_DEG,
	    m.clean.done, m.clean.flux);
	st = 0;
out:
	img_fft_free(&fft);
	img_fft_free(&fftp);
	img_vstore_free(&store);
	img_grid_free(&g);
	img_kernel_free(&k);
	free(corrp);
	img_input_close(&in);
	free(corr);
	free(dirty);
	free(psf);
	free(model);
	free(restored);
	return st;
}

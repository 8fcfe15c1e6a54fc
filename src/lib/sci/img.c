/*
 * img.c: the uvm-image job (contract in img.h): open the group's files,
 * plan the FFT (before gridding: MEASURE planning scribbles on the
 * buffer), grid (with a density pass first for uniform/Briggs weighting),
 * transform the visibility and weight grids into the dirty image and the
 * PSF, fit the restoring beam, CLEAN, restore, and write the FITS product.
 */
#include "sci/img.h"
#include "sci/img_int.h"

#include <errno.h>
#include <fftw3.h>
#include <malloc.h>
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
	/* four sub-bands CLEANed jointly with 2-term spectra: on the
	 * full-size counts field the residual falls from 2.19 to 1.39-1.41 x
	 * thermal and the PB-corrected flux ratio from 1.071 to 1.039-1.045
	 * (bench/results/residual-floor.txt): a flat-spectrum model of the
	 * band leaves each source's apparent spectrum, steepened by the beam
	 * off axis, in the residual, and that, not the beam slices, the beam
	 * model, the channel averaging or the CLEAN depth, set the floor */
	o->channels_out = 4;
	o->spec_terms = 2;
	/* the drift's beam in 4 time slices: on the full-size counts field
	 * (bench/results/tbeam-science.txt) the residual falls from 5.5 to
	 * 2.2 x thermal, completeness rises from 37/46 to 44/46 and the
	 * dynamic range from 2282 to 5727 (on the 10 Jy field 7347 to 16830),
	 * for 45-53% more CPU (the major cycles' transforms) and 7% more memory
	 * at 6720 pixels, one transform a slice; two slices now share one */
	o->beam_slices = 4;
}

double img_auto_cell(const struct img_input *in)
{
	return IMG_C / in->fmax / in->bmax / 3;
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

/*
 * The pruned transforms of the visibility grid (img_fft_prune): the
 * residual's grid holds data only within the largest |v| of the store's
 * visibilities (kernel included) and its image is the central n columns;
 * the model's grid holds the image's n rows and is read only within the
 * largest |u|. With the cell a third of lambda / B that is about half
 * of either (a DSA-110 group: 51% of the rows, 44% of the columns, 54%
 * and 44% once rounded).
 */
static int prune_plans(struct img_fft *fft, const struct img_vstore *s, const struct img_grid *g,
    int n, unsigned flags, const char *wisdom, int *st, char *err)
{
	double flo, fhi, um = 0, vm = 0;
	int ur, vr, saved;

	img_store_span(s, &flo, &fhi);
	if (!(fhi > 0))
		return 0;       /* no data: nothing to prune, and the run fails */
	for (size_t r = 0; r < s->nrow; r++) {
		um = fmax(um, fabs(s->u[r]));
		vm = fmax(vm, fabs(s->v[r]));
	}
	/* rounded up to a 64th of the grid, so that the next group's plans
	 * (a flagged antenna, another band edge) are the wisdom's: planning
	 * anew costs tens of CPU seconds */
	ur = (int)ceil(um * fhi / IMG_C / g->du) + g->k->support / 2 + 2;
	vr = (int)ceil(vm * fhi / IMG_C / g->du) + g->k->support / 2 + 2;
	ur = (ur + g->ng / 64) / (g->ng / 64 + 1) * (g->ng / 64 + 1);
	vr = (vr + g->ng / 64) / (g->ng / 64 + 1) * (g->ng / 64 + 1);
	for (int p = 0; p < IMG_FFT_PASSES; p++) {
		if (img_fft_prune(fft, p, p == IMG_FFT_RESID ? vr : n / 2,
			p == IMG_FFT_RESID ? n / 2 : ur, g->vis, flags, wisdom, &saved, st, err) < 0)
			return -1;
		if (saved < 0)
			log_warn("%s", err);
	}
	if (img_fft_prune_t(fft, ur, g->vis, flags, wisdom, &saved, st, err) < 0)
		return -1;
	if (saved < 0)
		log_warn("%s", err);
	log_debug("pruned transforms: residual rows |v| <= %d, model columns |u| <= %d of %d: %s",
	    vr, ur, g->ng / 2, lap());
	return 0;
}

static const char *weighting_name(enum img_weighting w)
{
	return w == IMG_NATURAL ? "natural" : w == IMG_UNIFORM ? "uniform" : "briggs";
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
	double *corr = NULL, *corrp = NULL, cell;
	const float *dirty, *model;
	float *psf = NULL, *restored = NULL;
	struct img_subs sb = {0};
	int fit;
	size_t nn;
	char h[6][512];
	const char *wisdom = o->wisdom;

#ifdef M_MMAP_THRESHOLD
	/* Every array of a megabyte or more straight from mmap, back to the
	 * system when freed. Left to itself glibc raises the threshold to
	 * the largest such array freed (up to 32 MB; the major cycles freed
	 * the model rows of each prediction then), and later ones came from
	 * a fragmented heap: the minor cycles ran 9-16% slower so. The rows
	 * and the model grid are made once now; the setting is kept until
	 * measured without. */
	mallopt(M_MMAP_THRESHOLD, 1 << 20);
#endif
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
		in.keep_times = o->beam_slices > 1;
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
	if (prune_plans(&fft, &store, &g, n, o->fft_flags, wisdom, &st, err) < 0) {
		log_err("%s", err);
		goto out;
	}
	if (img_subs_make(o, &store, &g, nthreads, &fft, ngp == ng ? NULL : &fftp, corr, corrp, n,
		np, &sb, &st, err) < 0) {
		log_err("%s", err);
		goto out;
	}
	log_debug("gridded and transformed %lld visibilities in %d sub-band(s): %s", g.nvis,
	    sb.sp.nsub, lap());
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
	m.nvis = g.nvis;
	m.sumw = g.sumw;
	m.freq = g.sumwf / g.sumw;
	m.channels_out = sb.sp.nsub;
	m.spec_terms = sb.sp.nterms;
	if (sb.sp.nsub != (o->channels_out < 1 ? 1 : o->channels_out) ||
	    sb.sp.nterms != (o->spec_terms < 1 ? 1 : o->spec_terms))
		log_info("joined-channel CLEAN: %d sub-band(s) with data, %d spectral term(s)",
		    sb.sp.nsub, sb.sp.nterms);
	/* the PSF grid is done with; the visibility grid and its plan serve
	 * the major cycles */
	fftwf_free(g.psf);
	g.psf = NULL;
	img_fft_free(&fftp);
	/* the restoring beam of the MFS PSF, the sub-bands' weighted sum */
	psf = sb.sp.nsub == 1 ? sb.psf[0] : malloc(sizeof *psf * (size_t)np * np);
	if (!psf) {
		log_err("out of memory for %d x %d images", np, np);
		st = EX_OSERR;
		goto out;
	}
	for (size_t i = 0; sb.sp.nsub > 1 && i < (size_t)np * np; i++) {
		float acc = 0;
		for (int b = 0; b < sb.sp.nsub; b++)
			acc += (float)sb.sp.w[b] * sb.psf[b][i];
		psf[i] = acc;
	}
	fit = img_fit_beam(psf, np, cell, &m.beam);
	if (sb.sp.nsub > 1)
		free(psf);
	psf = NULL;
	if (fit < 0) {
		log_err("cannot fit a restoring beam: the PSF has no main lobe (uv coverage too "
			"sparse, or pixels of %.3g arcsec too coarse)", cell / GEOM_DEG * 3600);
		st = EX_DATAERR;
		goto out;
	}
	log_debug("beam fitted: %s", lap());
	if (img_deconvolve(o, &in, &g, &fft, corr, &sb, n, &m.clean, &st, err) < 0) {
		log_err("%s", err);
		goto out;
	}
	log_debug("cleaned: %s", lap());
	log_debug("major cycles: degrid %.2f s cpu, %.2f s wall; grid %.2f s cpu, %.2f s wall "
		  "(first gridding included; %d threads)", g.prep_cpu, g.prep_wall, g.spread_cpu,
	    g.spread_wall, nthreads);
	if (!(restored = malloc(sizeof *restored * nn))) {
		log_err("out of memory for %d x %d images", n, n);
		st = EX_OSERR;
		goto out;
	}
	dirty = sb.mfs;
	if (sb.sp.nterms == 1 && sb.sp.mfs[0] == 1) {
		model = sb.model[0];
	} else {
		/* the MFS model, in the first sub-band's residual: done with */
		model = sb.resid[0];
		img_subs_mfs_model(&sb, n, sb.resid[0]);
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
	snprintf(h[4], sizeof h[4], "Cotton-Schwab CLEAN (Hogbom minor cycles joined over %d "
	    "sub-band(s), spectral polynomial of %d term(s), mgain %g, auto-mask %g, auto-threshold "
	    "%g sigma): %d iterations, gain %g, threshold %.4g Jy/beam, %.6g Jy", m.channels_out,
	    m.spec_terms, o->mgain, o->automask, o->autothreshold, m.clean.done, m.clean.gain,
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
		 "clean %d iter %.4g Jy, %d sub-band(s) joined, %d spectral term(s)", out, n, n, cell / GEOM_DEG * 3600, m.nvis,
	    m.beam.bmaj / GEOM_DEG * 3600, m.beam.bmin / GEOM_DEG * 3600, m.beam.bpa / GEOM_DEG,
	    m.clean.done, m.clean.flux, m.channels_out, m.spec_terms);
	st = 0;
out:
	img_fft_free(&fft);
	img_fft_free(&fftp);
	img_vstore_free(&store);
	img_grid_free(&g);
	img_kernel_free(&k);
	free(corrp);
	img_input_close(&in);
	free(in.row_time);
	free(corr);
	img_subs_free(&sb);
	free(restored);
	return st;
}

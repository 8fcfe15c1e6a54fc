/*
 * img.h: the imager behind uvm-image: Stokes I visibilities -> gridded,
 * FFT'd, CLEANed and restored FITS image.
 *
 * The pieces, each usable (and unit-tested) on its own:
 *   img_vis.c    reads one or more UVH5 files of a group integration block
 *                by block into buffers allocated once, rephases every
 *                integration to one common phase centre (drift scan: RA =
 *                LST at the group mid-time, Dec = pointing dec, SCIENCE.md),
 *                forms Stokes I = (XX+YY)/2 with inverse-variance weights
 *                from nsamples, and hands each visibility to a callback;
 *   img_store.c  keeps them, read once, for every pass: baselines per row,
 *                channels averaged within a bandwidth-smearing budget;
 *   img_gridmt.c grids and degrids that store on several threads, with a
 *                result independent of their number;
 *   img_grid.c   Kaiser-Bessel convolutional gridding onto a (padded) uv
 *                grid, natural/uniform/Briggs weighting, grid correction,
 *                grid -> image;
 *   img_fft.c    FFTW single-precision plans (FFTW_MEASURE by default) with
 *                wisdom kept in a file written atomically;
 *   img_clean.c  Högbom CLEAN, Gaussian fit of the PSF main lobe, restoring,
 *                robust (MAD) rms;
 *   img_mfclean.c joined-channel CLEAN of sub-band images on a mask (the
 *                one-band masked Högbom is its simplest case);
 *   img_deconv.c the sub-band images and the Cotton-Schwab loop;
 *   img_fits.c   FITS output through cfitsio in memory and fsx on disk, with
 *                a celestial WCS (RA---SIN/DEC--SIN, plus FREQ and STOKES);
 *   img.c        the whole uvm-image job (img_run).
 *
 * Image geometry: an n x n image, pixel (x, y) 0-based with x fastest (FITS
 * order); the phase centre is pixel (n/2, n/2); x grows toward WEST
 * (CDELT1 < 0: l = -(x - n/2) cell), y toward north (m = (y - n/2) cell).
 * The image is I(l, m) = sum w V exp(+2 pi i (u l + v m)) / sum w
 * (SCIENCE.md), in Jy/beam, no primary-beam correction (apparent flux).
 *
 * w-term: uvm-image does no w-projection. For a (nearly) coplanar array the
 * w-term is exactly a position shift that grows with 1 - n, which the FITS
 * SIN projection describes with its PV2_1/PV2_2 (xi, eta) parameters
 * (Calabretta & Greisen 2002, "slant orthographic"): the imager fits a
 * plane to the antenna positions and writes xi, eta for that plane, so a
 * WCS reader puts sources where they are.
 */
#ifndef UVM_IMG_H
#define UVM_IMG_H

#include <complex.h>
#include <stddef.h>
#include <stdint.h>

#include "sci/beam.h"

#define IMG_ERRLEN 512
#define IMG_C 299792458.0

/* ------------------------------------------------------------ kernel */

/* Kaiser-Bessel gridding kernel I0(beta sqrt(1 - (2t/W)^2)), |t| <= W/2
 * grid cells, tabulated at os samples per cell. */
struct img_kernel {
	int support;     /* W, full width in cells (odd or even) */
	int os;          /* table samples per cell */
	double beta;
	float *tab;      /* support * os + 1 values, t from -W/2 to +W/2 */
	float *rows;     /* (os + 1) x support: rows[q support + i] = tab[q + i os],
			  * the W taps of a visibility whose first tap is q/os
			  * cells past its start, contiguous */
};

/* Tabulate; 0 or -1 (ENOMEM). */
int img_kernel_init(struct img_kernel *k, int support, int os, double beta);
void img_kernel_free(struct img_kernel *k);
/* Kernel value at t cells from its centre (0 outside the support). */
double img_kernel_eval(const struct img_kernel *k, double t);
/*
 * Grid correction: corr[i], i in [0, n), is the Fourier transform of the
 * kernel (as gridded: continuous, unit cell) at image pixel offset i - n/2
 * of a grid of side ng, i.e. at frequency (i - n/2) / ng cycles per cell.
 * Dividing the FFT'd grid by corr[x] corr[y] removes the kernel's taper.
 */
void img_kernel_correction(const struct img_kernel *k, int ng, int n, double *corr);

/* -------------------------------------------------------------- grid */

enum img_weighting { IMG_NATURAL, IMG_UNIFORM, IMG_BRIGGS };

/*
 * The uv grids. vis (side ng, cell du = 1 / (ng cell)) gets w V for the
 * n x n dirty image; psf (side ngp, cell 1 / (ngp cell)) gets w for a PSF
 * of 2n x 2n, so that the PSF shifted to any pixel of the image still
 * covers the whole image (CLEAN subtracts it everywhere: a PSF truncated
 * to the image size makes Högbom diverge on the long ridges of a T-shaped
 * array's beam). Both are complex, fftwf_malloc'd, with the uv origin at
 * cell (0, 0) and negative u, v wrapping. Each visibility is gridded once
 * (not with its conjugate): the image is the real part of the transform,
 * normalised by sumw.
 */
struct img_grid {
	int ng, ngp;
	double du, dup;            /* uv cells, wavelengths */
	const struct img_kernel *k;
	float complex *vis, *psf;
	float *dens;               /* uniform/Briggs: weight per vis cell, or NULL */
	enum img_weighting weighting;
	double robust;
	double f2;                 /* Briggs: (5 10^-R)^2 / (sum dens^2 / sum dens) */
	int dens_fixed;            /* the density is the first gridding's: later
				    * ones (other sub-bands) weight by it too */
	double sel_lo, sel_hi;     /* sel_hi > 0: grid only visibilities of
				    * frequency in [sel_lo, sel_hi) Hz */
	double sumw, sumwf;        /* sum of weights, and of weight x frequency */
	long long nvis, nout;      /* gridded; outside a grid (skipped) */
	const float complex *mvis; /* a major cycle's model visibilities, one per
				    * store entry (img_tbeam.c), subtracted in
				    * place of the model grid's when not NULL */
	int zero_r;                /* > 0: a residual pass zeroes only the vis
				    * grid's rows |v| <= zero_r (the rest is
				    * never read: img_grid_hermitian_pair's
				    * second grid) */
	/* img_grid_store*: seconds spent (cpu summed over threads, wall) in
	 * the per-visibility pass (weights, kernel offsets, degridding) and
	 * in spreading onto the grids; accumulated over calls */
	double prep_cpu, prep_wall, spread_cpu, spread_wall;
	/* img_grid_store: per sample of the store wstore, its
	 * density-corrected weight (-2: outside the grids; -1: not yet
	 * worked out), so that the major cycles look the density up once */
	float *wvis;
	const struct img_vstore *wstore;
};

struct img_vstore;                     /* below */

/* Allocate (zeroed); dens too unless natural. 0 or -1 (ENOMEM). */
int img_grid_init(struct img_grid *g, int ng, int ngp, double cell, const struct img_kernel *k,
    enum img_weighting wt, double robust);
void img_grid_free(struct img_grid *g);
/* Uniform/Briggs first pass: count weight w of a visibility at (u, v)
 * (and its conjugate at (-u, -v)) in the density grid. */
void img_grid_density(struct img_grid *g, double u, double v, float w);
/* After the density pass: fix the Briggs factor. */
void img_grid_density_done(struct img_grid *g);
/* Grid visibility V of (natural) weight w at (u, v) wavelengths, freq f Hz;
 * the weighting scheme's density correction is applied here. */
void img_grid_add(struct img_grid *g, double u, double v, float complex V, float w, double f);
/* A batch of visibilities for img_grid_residual (arrays of cap entries). */
struct img_vis_batch {
	size_t n, cap;
	double *u, *v, *f;
	float complex *V;
	float *w;
};
/*
 * Degridding, for Cotton-Schwab major cycles. img_model_grid places the
 * model image (n x n, Jy per pixel), divided by the grid correction corr
 * (img_kernel_correction(k, ng, n)), on the ng x ng buffer buf the way
 * img_grid_to_image reads an image off a grid; transforming buf with the
 * backward plan (img_fft_exec) makes it the model's uv grid. img_degrid
 * interpolates that grid with the gridding kernel at (pu, pv) cells: the
 * model visibility sum M(l, m) exp(-2 pi i (u l + v m)).
 */
void img_model_grid(const float *model, int n, int ng, const double *corr, float complex *buf);
float complex img_degrid(const struct img_kernel *k, const float complex *mg, int ng, double pu,
    double pv);
/*
 * Residual gridding: grid w (V - model) of the batch on g->vis (natural
 * weights of the batch density-corrected as img_grid_batch does; the
 * weight sums are not touched: they are those of the first pass), half
 * of the batch in a second thread onto vis2 (ng x ng; the caller adds it
 * to g->vis; NULL: one thread). Empties b.
 */
void img_grid_residual(struct img_grid *g, float complex *vis2, const float complex *mg,
    struct img_vis_batch *b);
/*
 * The whole store s on nthreads threads: with mg NULL, the visibility
 * grid gets w V and the PSF grid w, and the weight sums and counts are
 * set (as img_grid_add would; uniform/Briggs density pass included);
 * with mg (a model grid as for img_degrid), the visibility grid gets
 * w (V - model) only. Only the visibilities of g's frequency selection
 * (sel_lo, sel_hi) are gridded; the density (uniform/Briggs) is that of
 * the first call on g, over the whole store, whatever its selection (the
 * sub-bands of a joined-channel image are weighted as the whole band, so
 * that they add up to its image); g remembers each sample's weight for
 * the next call on the same store (12 bytes of store, 4 more here), which
 * must not change meanwhile. Grids are overwritten. Each thread owns interleaved
 * strips of grid rows and adds to them in visibility order, so the grids
 * are bit-identical whatever nthreads. 0, or -1 (ENOMEM, EAGAIN).
 */
int img_grid_store(struct img_grid *g, const struct img_vstore *s, const float complex *mg,
    int nthreads);
/*
 * Transformed grid (FFTW backward, in place) -> centred n x n image:
 * img[y*n + x] = Re(t[m][l]) / (corr[x] corr[y] norm) for the pixel's
 * (l, m), corr from img_kernel_correction(k, ng, n).
 */
void img_grid_to_image(const float complex *t, int ng, int n, const double *corr,
    double norm, float *img);

/* --------------------------------------------------------------- fft */

/*
 * An in-place complex ng x ng backward transform planned once. flags is
 * FFTW_MEASURE or FFTW_ESTIMATE (fftw3.h); wisdom (path or NULL) is
 * imported first when readable (*loaded = 1) and, when planning added to
 * it, exported back atomically through fsx (*saved = 1; -1 if that failed,
 * with the reason in err: wisdom is a cache, the plan is still good).
 * Planning with MEASURE overwrites buf. 0, or -1 with err and *status
 * (EX_SOFTWARE) if FFTW cannot plan.
 */
#define IMG_FFT_PASSES 2
struct img_fft {
	void *plan;
	int ng;
	/* pruned passes (img_fft_prune): per pass, rows [0, r] and [ng-r, ng)
	 * along their length, then columns [0, c] and [ng-c, ng) along theirs */
	struct img_fft_pass {
		void *rows[2], *cols[2];
		void *row1;       /* IMG_FFT_MODEL's: one row, one thread */
		int r, c;
	} pass[IMG_FFT_PASSES];
	void *mt[2];              /* img_fft_prune_t: rows [0, mr], [ng-mr, ng) */
	int mr;
};
int img_fft_plan(struct img_fft *f, int ng, float complex *buf, unsigned flags,
    const char *wisdom, int *loaded, int *saved, int *status, char *err);
/* Transform buf (fftwf_malloc'd, ng x ng) in place with the plan. */
void img_fft_exec(const struct img_fft *f, float complex *buf);
/*
 * A pruned transform, for grids that are mostly zero or of which only a
 * part is read: pass p transforms only the rows within r of row 0
 * (wrapped: [0, r] and [ng - r, ng); the others must be 0), then only the
 * columns within c of column 0, so the result is exact in those columns
 * and undefined in the others. The residual's grid has data only in the
 * rows of the visibilities' v and its image is the central n columns;
 * the model's grid has the image's n rows and is read only at the
 * visibilities' u. img_fft_prune plans pass p on buf (fftwf_malloc'd,
 * overwritten), with wisdom as img_fft_plan (whose *saved it sets); r or
 * c not below ng / 2 leaves the pass unpruned. img_fft_exec_pass
 * transforms buf by pass p, or whole by the plan if p is not planned.
 */
#define IMG_FFT_RESID 0
#define IMG_FFT_MODEL 1
int img_fft_prune(struct img_fft *f, int p, int r, int c, float complex *buf, unsigned flags,
    const char *wisdom, int *saved, int *status, char *err);
void img_fft_exec_pass(const struct img_fft *f, int p, float complex *buf);
/*
 * The model's transform, transposed (img_tbeam.c's prediction): a model
 * of CLEAN components fills a fraction of its rows, and the visibilities
 * read the grid only at |u| <= mr cells. rows holds the nlive rows of the
 * model's grid that are not 0 (nlive x ng, fftwf_malloc'd), live[] their
 * grid rows. Each row is transformed along u (nthreads rows at a time, by
 * pass IMG_FFT_MODEL's one-row plan), the columns |u| <= mr of all rows
 * are transposed into t (ng x ng: t[u ng + v]), the other rows of t left
 * as they were, and t's rows |u| <= mr are transformed along v: t is then
 * the transpose of img_fft_exec_pass(IMG_FFT_MODEL)'s grid in those rows,
 * all transforms along contiguous rows. img_fft_prune_t plans t's rows on
 * buf, as img_fft_prune; img_fft_exec_t returns -1 (nothing done) if the
 * plans are not made.
 */
int img_fft_prune_t(struct img_fft *f, int mr, float complex *buf, unsigned flags,
    const char *wisdom, int *saved, int *status, char *err);
int img_fft_exec_t(const struct img_fft *f, float complex *rows, const int *live, int nlive,
    float complex *t, int nthreads);
void img_fft_free(struct img_fft *f);
/* Plans made from now on run on n threads (FFTW's threads; 1: none). */
void img_fft_threads(int n);

/* ------------------------------------------------------------- clean */

/* Restoring beam: FWHM major/minor axes (radians) and position angle of
 * the major axis (radians, from north through east, in (-pi/2, pi/2]). */
struct img_beam {
	double bmaj, bmin, bpa;
};

/*
 * Fit an elliptical Gaussian to the main lobe of psf (n x n, peak at
 * (n/2, n/2), pixel size cell radians, geometry as above): least squares of
 * log psf, weighted by psf^2, over the 3 x 3 pixels around the peak and
 * the region above 0.7 of the peak reached from it going only downhill.
 * The core, not the half-power contour: the PSF of a T-shaped array has
 * ridges near half power along the arms, which would stretch a half-power
 * fit by factors of two. 0, or -1 if the core is degenerate (not a
 * maximum).
 */
int img_fit_beam(const float *psf, int n, double cell, struct img_beam *b);

struct img_clean {
	int niter;          /* limit */
	double gain;        /* loop gain */
	double threshold;   /* Jy/beam; < 0: automatic: 5 x robust rms of the
			     * residual, re-estimated every 100 iterations
			     * and when the peak reaches it */
	double window;      /* search only |x - n/2|, |y - n/2| < window n/2 */
	int nthreads;       /* img_hogbom_masked: 2 or more shares a large mask */
	/* results */
	int done;           /* iterations performed */
	double flux;        /* total CLEAN flux, Jy */
	double last;        /* |peak| of the residual when stopping */
	double used_threshold;
};

/*
 * Högbom CLEAN of resid (n x n, in place) with psf (2n x 2n, peak 1 at
 * (n, n)); components are added to model (n x n, zeroed by the caller).
 * Stops after c->niter iterations or when the largest |residual| in the
 * window is below the threshold. Fills the result fields of c.
 */
void img_hogbom(float *resid, const float *psf, float *model, int n, struct img_clean *c);
/*
 * Högbom CLEAN restricted to the nidx pixels idx[] (y n + x) of a mask:
 * the search and the subtraction touch only those pixels (the rest of
 * resid is left as it was: a Cotton-Schwab major cycle recomputes it from
 * the visibilities). psf is np x np with its peak 1 at (np/2, np/2): with
 * np = 2n it reaches every pixel from every other (exact Högbom); smaller,
 * it is Clark's PSF patch, and pixels beyond it from a component are not
 * updated by it (the major cycle's residual is exact either way).
 * c->threshold is absolute (no automatic one here); with c->nthreads > 1
 * a large mask is shared by two threads, with the same result.
 */
void img_hogbom_masked(float *resid, const float *psf, int np, float *model, int n,
    const int *idx, int nidx, struct img_clean *c);
/*
 * Joined-channel (multi-frequency) CLEAN, as WSClean's -join-channels
 * -fit-spectral-pol: nsub sub-band residuals are CLEANed together. The
 * peak is searched on their weighted sum (weights w[b], summing to 1:
 * the MFS image); the nsub values at the peak are fitted, weighted by
 * w, with a polynomial of nterms terms in x = f / fref - 1 (fref the
 * weighted mean of the sub-band frequencies f[b]); gain x the fitted
 * value at each sub-band, times that sub-band's PSF, is subtracted from
 * its residual, and gain x the polynomial's coefficients are added to the
 * nterms model images (model of sub-band b = sum_t basis[b][t] model_t).
 * With nsub 1 and nterms 1 it is Högbom's CLEAN. img_spec_init fills fit
 * and basis; 0, or -1 if the fit is degenerate (fewer distinct
 * frequencies than terms).
 */
#define IMG_SUB_MAX 16
#define IMG_TERMS_MAX 4
struct img_spec {
	int nsub, nterms;
	double f[IMG_SUB_MAX], w[IMG_SUB_MAX], fref;
	double basis[IMG_SUB_MAX][IMG_TERMS_MAX];  /* x_b^t */
	double fit[IMG_TERMS_MAX][IMG_SUB_MAX];    /* coefficients from values */
	double mfs[IMG_TERMS_MAX];                 /* MFS model = sum_t mfs[t] model_t */
};
int img_spec_init(struct img_spec *sp, int nsub, const double *f, const double *w, int nterms);
/*
 * The joined CLEAN restricted to the nidx pixels idx[] of a mask, as
 * img_hogbom_masked: resid[b] per sub-band, mfs the weighted sum of the
 * residuals (may be resid[0] when nsub is 1), model[t] the term images,
 * all n x n; psf the sub-bands' PSFs (np x np, peak 1 at the centre)
 * interleaved: sub-band b's value at offset o = y np + x is psf[o nsub +
 * b]. Only the masked pixels are searched and updated (mfs too).
 */
void img_mfclean_masked(float *const *resid, float *mfs, const float *psf, int np,
    float *const *model, int n, const int *idx, int nidx, const struct img_spec *sp,
    struct img_clean *c);
/*
 * image += model convolved with the Gaussian beam b, normalised to a peak
 * of 1 per Jy (Jy/beam); pixel size cell radians.
 */
void img_restore(float *image, const float *model, int n, double cell, const struct img_beam *b);
/*
 * Sub-pixel peak of image a (n x n) near the local maximum (x, y), not on
 * the border: least-squares quadratic in x, y (with the cross term, so a
 * tilted elliptical peak is not biased) through the logs of the 3 x 3
 * pixels (exact for a Gaussian), or through the values themselves if any
 * is not positive. *px, *py get the position, *peak the value there.
 * 0, or -1 if the surface has no maximum (the integer position is kept).
 */
int img_peak_fit(const float *a, int n, int x, int y, double *px, double *py, double *peak);
/* Robust rms: 1.4826 x median absolute deviation from the median of the
 * finite values x[0], x[stride], ...; NaN if none. */
double img_robust_rms(const float *x, size_t n, size_t stride);

/* -------------------------------------------------------- visibilities */

/*
 * A group's visibility files opened together. img_input_open reads their
 * headers, checks they belong together (same telescope location), and
 * fixes the common phase centre and what the defaults depend on.
 */
struct img_file;                       /* one open file (img_vis.c) */
struct img_input {
	int nfiles;
	struct img_file *files;
	double lat, lon, alt;          /* telescope: radians, radians, metres */
	double ra0, dec0;              /* common phase centre, CIRS, radians */
	double ra0_icrs, dec0_icrs;    /* the same in ICRS: the image's CRVAL */
	double psi;                    /* CIRS north's angle in ICRS there */
	int drift;                     /* 1: meridian drift scan rephased */
	double jd_first, jd_last, jd_mid; /* integration starts/ends, mid-time */
	double fmin, fmax;             /* Hz */
	double bmax;                   /* longest baseline, metres */
	double xi, eta;                /* SIN PV2_1, PV2_2 of the array plane */
	double chan_width;             /* largest |channel width|, Hz */
	char telescope[64], instrument[64];
	char group[32];                /* extra keyword group_id, or "" */
	struct img_vstore *store;      /* the visibilities read once, or NULL */
	int nthreads;                  /* for the store's gridding */
	int keep_times;                /* set before a scan: row_time gets every
					* cross row's JD, in scan (= store) order */
	double *row_time;              /* the caller frees it (not img_input_close) */
	/* statistics of the last scan */
	long long nrows, nflagged, nautos, nnonfinite;
};

/* 0, or -1 with err and *status (66 missing, 65 bad/inconsistent, 74 I/O). */
int img_input_open(struct img_input *in, char *const *paths, int n, int *status, char *err);
void img_input_close(struct img_input *in);

/*
 * Visit every unflagged, finite, cross-correlation Stokes I visibility:
 * fn(ctx, u, v, V, w, f) with u, v in wavelengths for the common phase
 * centre, V rephased to it (unless want_vis is 0: then V is 0 and the
 * visibility data are not read), w the inverse-variance weight (1 per
 * polarisation sample of nsamples 1). Rows are read by blocks of about one
 * integration into buffers allocated once. 0 or -1 with err and *status.
 */
typedef void (*img_vis_fn)(void *ctx, double u, double v, float complex V, float w, double f);
int img_input_scan(struct img_input *in, int want_vis, img_vis_fn fn, void *ctx,
    int *status, char *err);

/*
 * The visibilities a Cotton-Schwab imager needs, read once and kept
 * compactly: per cross-correlation baseline-time (row) its baseline in
 * metres (u, v along ICRS east and north for the common centre), per file
 * the frequencies of its averaged channels, and per row and averaged
 * channel the weighted mean rephased Stokes I and its summed weight (0:
 * everything in it flagged). Channels are averaged avg at a time within
 * a file (the last bin of a file may hold fewer).
 */
struct img_vseg {                      /* the rows of one file */
	size_t row0, nrow;             /* its rows in u, v */
	int nchan;                     /* averaged channels */
	size_t off;                    /* V, w index of its first row */
	double *freq;                  /* nchan: mean frequency of each bin, Hz */
	double *width;                 /* nchan: span of each bin, Hz */
};
struct img_vstore {
	int avg;                       /* channels averaged */
	int nseg;
	struct img_vseg *seg;
	size_t nrow, nvis;             /* rows; V, w entries */
	double *u, *v;                 /* nrow, metres */
	float complex *V;              /* nvis */
	float *w;                      /* nvis */
	long long nsamples;            /* unflagged native samples kept */
};
/* Read every file of in once into s (averaging avg >= 1 channels);
 * fills in's scan statistics. 0, or -1 with err and *status. */
int img_vstore_load(struct img_input *in, int avg, struct img_vstore *s, int *status, char *err);
void img_vstore_free(struct img_vstore *s);
/*
 * Bandwidth smearing predicted for channels averaged avg at a time: the
 * loss of peak amplitude, 1 - sum_rows <sinc(pi (b . s) B / lambda)> / nrows
 * (<> over position angles, b the row's projected baseline, B the bin's
 * width in Hz, lambda at the bin's frequency, s an offset of theta
 * radians), for a point source theta from the phase centre imaged with
 * equal row weights; *longest gets the loss on the longest baseline with
 * the offset along it (the worst single visibility). Uses the antenna
 * positions only (no data read).
 */
double img_smear_loss(const struct img_input *in, int avg, double theta, double *longest);
/*
 * Channel averaging for a peak-amplitude loss of at most budget (e.g.
 * 0.01) at theta: the largest avg in [1, maxavg] within it.
 */
int img_auto_avg(const struct img_input *in, double theta, double budget, int maxavg);
/* uvm-image's automatic averaging: loss budget, widest bin */
#define IMG_SMEAR_BUDGET 0.01
#define IMG_AVG_MAX 64

/* --------------------------------------------------------------- FITS */

struct img_meta {
	int n;
	double cell;                   /* radians */
	double ra0, dec0;              /* ICRS, radians */
	double xi, eta;                /* SIN PV2_1, PV2_2 */
	double freq, bandwidth;        /* Hz */
	double jd_first, jd_last;
	double lat, lon, alt;          /* radians, radians, metres */
	struct img_beam beam;
	char telescope[64], instrument[64], group[32];
	long long nvis;
	double sumw;
	struct img_clean clean;
	int channels_out, spec_terms;  /* sub-bands CLEANed jointly, fit terms */
	const char *history[32];       /* NULL-terminated extra HISTORY lines */
};

/*
 * Refuse an output path that exists and is not a regular file (a device,
 * a directory, a FIFO, a symbolic link): the atomic rename would replace
 * it (as root, /dev/null would become a file). 0, or -1 with err.
 */
int img_check_output(const char *path, char *err);
/*
 * Write image (n x n float, restored) as the primary HDU and resid (or
 * NULL) as an IMAGE extension "RESIDUAL" with the same WCS, to path,
 * atomically: the file is built by cfitsio in memory and written through
 * fsx (no cfitsio file-name parsing of path). 0, or -1 with err and
 * *status (73 cannot create, 74 I/O, 70 cfitsio failure).
 */
int img_fits_write(const char *path, const float *image, const float *resid,
    const struct img_meta *m, int *status, char *err);

/* ---------------------------------------------------------------- job */

struct img_opts {
	int npix;                      /* image side (even); 0: automatic */
	double cell;                   /* radians, 0 = automatic */
	double pad;                    /* uv grid side = pad x npix (>= 1) */
	enum img_weighting weighting;
	double robust;                 /* Briggs robustness */
	int niter;                     /* CLEAN components in all (cap) */
	double gain, threshold;        /* threshold: absolute floor, Jy/beam; < 0: none */
	double mgain;                  /* a minor cycle CLEANs to (1 - mgain) x its peak */
	int nmajor;                    /* major cycles at most */
	double automask;               /* sigma: unmasked CLEAN down to it (0: no mask) */
	double autothreshold;          /* sigma: masked CLEAN down to it */
	const char *pbcor;             /* primary-beam-corrected image path, or NULL */
	enum beam_model beam;          /* primary beam model (default Airy) */
	double pb_cut;                 /* blank where the beam is below this (0.2) */
	const char *wisdom;            /* FFTW wisdom file or NULL */
	unsigned fft_flags;            /* FFTW_MEASURE or FFTW_ESTIMATE */
	const char *group;             /* group id or NULL (from the data) */
	const char *argv_line;         /* command line for the history */
	int chan_avg;                  /* channels averaged before gridding; 0: automatic */
	int threads;                   /* gridding and FFT threads; 0: online CPUs */
	int channels_out;              /* joined-channel sub-bands (1: MFS CLEAN) */
	int spec_terms;                /* their spectral polynomial's terms */
	int beam_slices;               /* time slices of the major cycles' beam (1: none) */
};
#define IMG_TBEAM_SLICES_MAX 64

void img_opts_default(struct img_opts *o);
/* Automatic cell (radians): a third of lambda_min / longest baseline (3.5
 * pixels across the minor axis of DSA-110's Briggs-0 beam). */
double img_auto_cell(const struct img_input *in);
/*
 * Automatic image side for pixels of cell radians: the field spans the
 * primary beam (model m) to its first null on both sides at the lowest
 * frequency, so that no source the dishes see is outside the image to
 * leave uncleaned sidelobes; rounded up to an even FFT-friendly size
 * (factors 2, 3, 5, 7), at most IMG_NPIX_MAX (then the field is smaller
 * than the beam: a warning for the caller to log).
 */
#define IMG_NPIX_MAX 16384
int img_auto_npix(const struct img_input *in, double cell, enum beam_model m);
/* Parse "natural", "uniform", "briggs" or "briggs:R"; 0 or -1. */
int img_parse_weighting(const char *s, enum img_weighting *w, double *robust);

/*
 * The group's effective primary beam at every pixel: the power beam of
 * model o->beam averaged over the integrations (the pointing drifts along
 * RA with the sky's rotation, at the pointing declination) and over the
 * band (8 frequencies from fmin to fmax), on a grid of every 8th pixel
 * interpolated bilinearly (the beam varies over degrees, a pixel is
 * arcseconds). Pixel directions by the inverse SIN projection about the
 * phase centre (the w-term's PV shift, arcseconds, is ignored here).
 */
void img_primary_beam(const struct img_opts *o, const struct img_input *in, int n,
    double cell, float *pb);
/*
 * The uvm-image job: open paths, grid, FFT, CLEAN, restore, write out.
 * Returns 0 or an exit status (65 no unflagged data / bad input, 66, 70,
 * 73, 74), after logging one error line.
 */
int img_run(const struct img_opts *o, char *const *paths, int n, const char *out);

#endif

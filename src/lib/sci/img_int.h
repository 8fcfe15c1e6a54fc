/*
 * img_int.h: what the imager's files lend each other, not part of its
 * public contract (img.h): img_vis.c's rows one at a time, with the
 * baselines of the common phase centre, for the visibility store and the
 * smearing estimate (img_store.c); img_grid.c's weighting and bounds for
 * the threaded gridder (img_gridmt.c).
 */
#ifndef UVM_IMG_INT_H
#define UVM_IMG_INT_H

#include <complex.h>

#include "sci/img.h"

/*
 * One cross-correlation row: baseline bu, bv (metres, ICRS axes at the
 * common centre) and, per channel c of the file's nf, the rephased
 * Stokes I V[c] (0 unless want_vis) and its weight w[c] (0: flagged, no
 * samples or not finite).
 */
typedef void (*img_row_fn)(void *ctx, int file, double bu, double bv, const float complex *V,
    const float *w, int nf);
/*
 * Read every file block by block (about one integration, buffers
 * allocated once) and hand each cross row to fn, in file and row order;
 * counts rows, autos, flagged and non-finite samples in in. 0, or -1 with
 * err and *status.
 */
int img_scan_rows(struct img_input *in, int want_vis, img_row_fn fn, void *ctx, int *status,
    char *err);
/* The channel frequencies (Hz) of file number file, *nf of them. */
const double *img_file_freqs(const struct img_input *in, int file, int *nf);
/* Every stride-th row's cross baseline (metres, as img_row_fn gets it),
 * from the antenna positions alone; silently nothing if out of memory. */
typedef void (*img_bl_fn)(void *ctx, int file, double bu, double bv);
void img_row_baselines(const struct img_input *in, int stride, img_bl_fn fn, void *ctx);

/* Density-corrected weight of a visibility of weight w at (u, v). */
float img_grid_weight(const struct img_grid *g, double u, double v, float w);
/* Is (u, v) inside both grids, kernel included? */
int img_grid_inside(const struct img_grid *g, double u, double v);

/*
 * Two sparse models in one complex grid, for one transform of both (the
 * transform of a real image is Hermitian, so the two separate again at
 * the degridding, img_tbeam.c): pixels idx[0..m) (y * n + x) of values
 * a[i] in the real part and b[i] (b NULL: none) in the imaginary, placed
 * and corrected as img_model_grid places one image.
 */
void img_model_grid_pair(const int *idx, const float *a, const float *b, size_t m, int n, int ng,
    const double *corr, float complex *buf);

/*
 * The same models for img_fft_exec_t: the distinct image rows of the
 * pixels idx[0..m) (ascending) numbered 0..nlive-1 (returned), live[]
 * (room for n) their grid rows and crow[i] pixel i's number;
 * img_model_rows_pair then zeroes rows (nlive x ng) and places the
 * pixels there, each in the columns img_model_grid_pair would (on
 * nthreads threads, a share of the rows each).
 */
int img_model_rows_index(const int *idx, size_t m, int n, int ng, int *crow, int *live);
void img_model_rows_pair(const int *idx, const int *crow, const float *a, const float *b,
    size_t m, int n, int ng, const double *corr, float complex *rows, int nlive, int nthreads);

/*
 * img_degrid at (pu, pv) into *dp and, with the same taps mirrored
 * through the grid's origin, at (-pu, -pv) into *dm: for the transform
 * of a real image the two are exact conjugates, so a grid holding two
 * such transforms (img_model_grid_pair) separates exactly.
 */
void img_degrid_pair(const struct img_kernel *k, const float complex *mg, int ng, double pu,
    double pv, float complex *dp, float complex *dm);

/* Is frequency f in the band [lo, hi) (hi not above 0: every band)? The
 * selection of a sub-band's gridding and of its prediction. */
static inline int img_in_band(double lo, double hi, double f)
{
	return !(hi > 0) || (f >= lo && f < hi);
}
/* The lowest and highest channel-bin frequency of the store (Hz; INFINITY
 * and -INFINITY when it has none). */
void img_store_span(const struct img_vstore *s, double *lo, double *hi);
/* CPU (all threads) and wall seconds now, for the phase timings. */
void img_clock(double *cpu, double *wall);

/* Solve the k x k system a x = b in place (a row-major, partial
 * pivoting; x in b); -1 if singular. */
int img_solve(double *a, double *b, int k);

/*
 * fn(ctx, lo, hi) over [0, n) cut into nthreads contiguous parts (at most
 * 64), each on its own thread, the first in the caller's; a part whose
 * thread cannot start runs in the caller afterwards. For loops whose
 * elements are independent: the result does not depend on nthreads.
 */
void img_par(size_t n, int nthreads, void (*fn)(void *ctx, size_t lo, size_t hi), void *ctx);
/* img_grid_to_image's rows [y0, y1) only (for img_par), off the
 * transform's real part, or its imaginary part if im (the second image
 * of img_grid_hermitian_pair's grid). */
void img_grid_to_image_rows(const float complex *t, int ng, int n, const double *corr,
    double norm, float *img, int y0, int y1, int im);
/*
 * Two residual grids into one transform. An image is the real part of
 * its grid's transform, which is the transform of the grid's Hermitian
 * part A_h(k) = (A(k) + conj A(-k)) / 2, a real image. a becomes
 * A_h + i B_h: its transform holds A's image in the real part and B's in
 * the imaginary, one transform for two. Only rows |v| <= r (wrapped) of
 * a and b may hold data (the others are left as they are: 0); on
 * nthreads threads.
 */
void img_grid_hermitian_pair(float complex *a, const float complex *b, int ng, int r,
    int nthreads);

/*
 * Primary-beam geometry (img_pb.c), shared by the PB-corrected image and
 * the time-sliced prediction (img_tbeam.c). img_pb_dir: the direction of
 * image offset (l, m) (img.h's geometry: l toward east) as declination
 * and RA offset east of the phase centre, radians; -1 off the sphere.
 * img_pb_theta: its angle, radians, from a pointing at the phase centre's
 * declination, dp radians of RA east of it: the beam there is
 * beam_pb(model, theta, freq, BEAM_DISH_M) at each frequency, the
 * geometry once for them all.
 */
int img_pb_dir(const struct img_input *in, double l, double m, double *dec, double *dra);
double img_pb_theta(const struct img_input *in, double dec, double dra, double dp);

/*
 * The sub-band images of a joined-channel deconvolution (img_deconv.c):
 * per kept sub-band (one with data) its frequency selection, weight sum,
 * PSF peak, residual and PSF (np x np, peak 1); the term models; the MFS
 * residual (the weighted sum; resid[0] itself with one sub-band).
 */
struct img_subs {
	struct img_spec sp;
	int np;
	double lo[IMG_SUB_MAX], hi[IMG_SUB_MAX];
	double sumw[IMG_SUB_MAX], norm[IMG_SUB_MAX];
	long long nvis[IMG_SUB_MAX];
	float *resid[IMG_SUB_MAX], *psf[IMG_SUB_MAX], *model[IMG_TERMS_MAX];
	float *mfs;
};
/*
 * Grid, transform and normalise the o->channels_out sub-bands of the
 * store (equal spans of frequency between the lowest and the highest
 * averaged channel; 1: the whole band, unselected) one after the other on
 * g (vis and psf grids; fftp NULL: the PSF grid shares fft), dropping
 * those without data; g's counts and weight sums become the totals. Then
 * the spectral fit (o->spec_terms terms, at most one per kept sub-band)
 * and zeroed term models. 0, or -1 with err and *st (an empty store is
 * not an error here: the caller checks g->nvis).
 */
int img_subs_make(const struct img_opts *o, const struct img_vstore *s, struct img_grid *g,
    int nthreads, const struct img_fft *fft, const struct img_fft *fftp, const double *corr,
    const double *corrp, int n, int np, struct img_subs *sb, int *st, char *err);
void img_subs_free(struct img_subs *sb);
/* The MFS model (sum_t mfs[t] model_t) into out (n x n). */
void img_subs_mfs_model(const struct img_subs *sb, int n, float *out);
/*
 * The time-sliced primary beam of the major cycles' prediction
 * (img_tbeam.c): the store's rows dealt by integration time into k
 * slices (at most one per integration, IMG_TBEAM_MAX in all), and per
 * kept sub-band and slice the factor R = B_slice / B_mean on a coarse
 * grid (B: the beam of o->beam over the sub-band's frequencies at the
 * slice's mean pointing; B_mean: their mean weighted by the slices'
 * visibility weights, as the dirty image has it; R = 1 where B_mean is
 * below IMG_TBEAM_FLOOR). img_tbeam_init needs in->row_time (in->keep_times
 * set for the store's scan; without it, one slice); tb->k may come out
 * smaller than k (fewer integrations), 1 meaning nothing else was
 * allocated. 0, or -1 with err
 * and *st.
 */
#define IMG_TBEAM_MAX IMG_TBEAM_SLICES_MAX
#define IMG_TBEAM_FLOOR 0.05
struct img_tbeam {
	int k, n, nsub, step, nc;
	size_t nrow;
	unsigned char *slice;          /* per store row */
	size_t *order;                 /* the rows by slice, each slice's in order */
	size_t first[IMG_TBEAM_MAX + 1]; /* slice sl's: order[first[sl] .. first[sl + 1]) */
	float *ratio;                  /* [sub-band][slice][nc x nc] */
	float complex *mvis;           /* per store entry: the predicted model */
	float complex *rows;           /* the model's live rows (n x ng, made once) */
};
int img_tbeam_init(struct img_tbeam *tb, int k, const struct img_opts *o,
    const struct img_input *in, const struct img_subs *sb, int n, double cell, int *st,
    char *err);
void img_tbeam_free(struct img_tbeam *tb);
/*
 * Sub-band b's model visibilities into tb->mvis: for each slice, the
 * sub-band's model (sb's term models at sub-band b's frequency, apparent
 * Jy per pixel, read only at the ncand pixels cand[], in raster order,
 * which must hold every pixel where a term model is not 0) times
 * the slice's R onto the model grid mg, two slices to a grid (real and
 * imaginary parts), transformed with fft, degridded at the two slices'
 * entries that g's selection grids (on nthreads threads), each slice's
 * share separated by the transform's Hermitian symmetry: K slices cost
 * ceil(K/2) transforms and twice the degridding. fft_time gets the
 * transforms' cpu and wall seconds added. 0, or -1 out of memory.
 */
int img_tbeam_predict(struct img_tbeam *tb, const struct img_vstore *s, struct img_grid *g,
    const struct img_fft *fft, const double *corr, int b, const struct img_subs *sb,
    const int *cand, size_t ncand, float complex *mg, int nthreads, double fft_time[2]);

/*
 * Cotton-Schwab deconvolution of the sub-bands with joined-channel
 * minor cycles (img.c's contract for the loop: auto-mask, then the mask
 * down to auto-threshold). Afterwards every residual is a major cycle's
 * and mfs their weighted sum; the PSFs are freed. 0, or -1 with err, *st.
 */
int img_deconvolve(const struct img_opts *o, const struct img_input *in, struct img_grid *g,
    const struct img_fft *fft, const double *corr, struct img_subs *sb, int n,
    struct img_clean *tot, int *st, char *err);

#endif

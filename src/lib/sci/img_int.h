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

#endif

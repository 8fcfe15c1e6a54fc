/*
 * mosaic_int.h: the pieces of uvm-mosaic's library shared by its files
 * (mosaic.c: inputs and grid; mosaic_map.c: the pixel mapping and the
 * sums; mosaic_fits.c: the product). Not a public interface: the unit test
 * reaches the mapping through it.
 */
#ifndef UVM_MOSAIC_INT_H
#define UVM_MOSAIC_INT_H

#include <limits.h>
#include <wcs.h>

#include "sci/mosaic.h"

#define MOSAIC_NBEAM 9     /* beam samples across a group's span */
#define MAP_TOL_PX 0.002   /* largest error of an interpolated input pixel */
#define MAP_TOL_BEAM 1e-4  /* largest relative error of an interpolated beam
			    * (relative to the beam, or to 0.1 below 0.1) */
#define MAP_STEP 32        /* first spacing tried between control points */

struct input {
	const char *qa;
	char image[PATH_MAX];
	char why[256];        /* reason skipped, "" when used */
	int bad;              /* skipped for bad data (not a failed gate) */
	double rms, w;
	char *buf;            /* the file read whole while its pixels are used */
	float *pix;           /* nx x ny, inside buf or its own allocation */
	long nx, ny;
	struct wcsprm *wcs;   /* celestial axes only */
	double freq, ra0, dec0, telapse, mjd_avg, bmaj, bmin, bpa, cell;
	double ptg[MOSAIC_NBEAM][3]; /* pointing unit vectors through the group */
	int nptg;
	long bx0, bx1, by0, by1; /* mosaic pixels it may cover (0-based) */
};

struct grid {
	struct wcsprm w;
	long nx, ny;
	double cx, cy;        /* reference pixel (FITS, 1-based) */
	double ra, dec, cell; /* degrees */
	long long start;      /* hour start, epoch */
};

/*
 * The mapping of a box of mosaic pixels into one input: the input pixel
 * (0-based) and the group-averaged beam, exact at control points every
 * `step` pixels and bilinear between them. mosaic_map_build halves the
 * step until the interpolation, checked against the exact mapping at the
 * middle of every cell and of its lower and left sides, is within
 * MAP_TOL_PX and MAP_TOL_BEAM (step 1: exact everywhere).
 */
struct mos_map {
	long x0, y0, w, h;  /* the box: mosaic pixels x0.., y0.. */
	int step;
	long gx, gy;        /* control points per row, rows */
	double *v;          /* gx * gy * 3: input x, input y, beam (NaN: off) */
	const struct grid *g;
	const struct input *in;
	enum beam_model model;
	double err_px, err_beam; /* largest errors found at the check points
				  * (beam: relative, as MAP_TOL_BEAM) */
};

/* 0, or -1 (ENOMEM). nth threads. */
int mosaic_map_build(struct mos_map *m, const struct grid *g, const struct input *in,
    enum beam_model model, long x0, long x1, long y0, long y1, int nth);
/* Interpolated input pixel and beam at mosaic pixel (x, y) (0-based,
 * inside the box); NaN when a control point around it is off the sky. */
void mosaic_map_at(const struct mos_map *m, long x, long y, double *px, double *py, double *b);
/* The exact mapping at one mosaic pixel (NaN off the sky). */
void mosaic_map_exact(const struct grid *g, const struct input *in, enum beam_model model,
    double x, double y, double *px, double *py, double *b);
void mosaic_map_free(struct mos_map *m);
/* The largest difference between the tabulated beam the control points
 * use and beam_pb, over n offsets from 0 to 10 degrees (for the test). */
double mosaic_beam_table_err(enum beam_model model, double freq, int n);

/* Threads to use: the online processors, at most 16. */
int mosaic_threads(void);

/*
 * The sums over the grid (float, nx x ny): den += w B^2 over every pixel
 * input `in` covers (inside its margin, every Lanczos tap in the image),
 * through its map m. Pass 2 (mosaic_num) then adds num += w B I only where
 * den >= thr (the rest will be blank: no interpolation done there); a
 * pixel whose interpolated value is not finite has its w B^2 taken back.
 * The input's pixels must be loaded for mosaic_num. 0 or -1 (ENOMEM).
 */
int mosaic_den(const struct mos_map *m, const struct input *in, const struct grid *g, float *den,
    int nth);
int mosaic_num(const struct mos_map *m, const struct input *in, const struct grid *g, float *num,
    float *den, double thr, int nth);

/*
 * Write the product to out atomically: the mosaic num/den (NaN where den
 * < thr or not positive), WEIGHT den, RMS 1/sqrt(den), headers from the
 * inputs in[0..n-1]. 0, or -1 with err and *status.
 */
int mosaic_write(const struct mosaic_opts *o, const struct grid *g, const struct input *in, int n,
    const float *num, const float *den, double thr, double wmax, const char *out, int *status,
    char *err);

#endif

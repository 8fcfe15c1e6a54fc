/*
 * img_pb.c: the primary-beam image of uvm-image's PB-corrected product
 * (contract in img.h), apart from img.c because it is a job of its own:
 * the beam model's Bessel function at 96 (time, frequency) points of a
 * coarse grid (the geometry at the 12 times), on the image's threads.
 */
#include "sci/img.h"
#include "sci/img_int.h"

#include <math.h>
#include <stdlib.h>

#include "sci/beam.h"

/* The coarse beam grid (its rows shared among threads by img_par). */
struct pb_rows {
	const struct img_opts *o;
	const struct img_input *in;
	float *c;
	double cell, span;
	int n, step, nc;
};

int img_pb_dir(const struct img_input *in, double l, double m, double *dec, double *dra)
{
	double r2 = l * l + m * m, nn;

	if (r2 >= 1)
		return -1;
	nn = sqrt(1 - r2);
	*dec = asin(m * cos(in->dec0) + nn * sin(in->dec0));
	*dra = atan2(l, nn * cos(in->dec0) - m * sin(in->dec0));
	return 0;
}

double img_pb_theta(const struct img_input *in, double dec, double dra, double dp)
{
	double da = dra - dp;
	double cs = sin(dec) * sin(in->dec0) + cos(dec) * cos(in->dec0) * cos(da);

	return acos(fmax(-1, fmin(1, cs)));
}

/* The coarse grid's rows [j0, j1). */
static void pb_rows_run(void *arg, size_t j0, size_t j1)
{
	const struct pb_rows *a = arg;
	const struct img_input *in = a->in;
	int nt = 12, nf = 8, nc = a->nc, n = a->n, step = a->step;

	for (int j = (int)j0; j < (int)j1; j++)
		for (int i = 0; i < nc; i++) {
			double l = -(i * step - n / 2) * a->cell, m = (j * step - n / 2) * a->cell;
			double dec, dra, acc = 0;

			if (img_pb_dir(in, l, m, &dec, &dra) < 0) {
				a->c[(size_t)j * nc + i] = 0;
				continue;
			}
			for (int t = 0; t < nt; t++) {
				/* pointing hour angle offset at the middle of the t-th
				 * of nt equal slices of the group (RA grows with time) */
				double dp = a->span * ((t + 0.5) / nt - 0.5);
				double th = img_pb_theta(in, dec, dra, dp);

				for (int f = 0; f < nf; f++) {
					double fr = in->fmin + (in->fmax - in->fmin) * (f + 0.5) / nf;
					acc += beam_pb(a->o->beam, th, fr, BEAM_DISH_M);
				}
			}
			a->c[(size_t)j * nc + i] = (float)(acc / (nt * nf));
		}
}

void img_primary_beam(const struct img_opts *o, const struct img_input *in, int n,
    double cell, float *pb)
{
	int step = 8, nc = n / step + 2;
	float *c = malloc(sizeof *c * (size_t)nc * nc);
	double span = (in->jd_last - in->jd_first) * 2 * M_PI * 1.00273781191135448;
	struct pb_rows rows = { o, in, c, cell, span, n, step, nc };

	if (!c) {
		for (size_t i = 0; i < (size_t)n * n; i++)
			pb[i] = NAN;
		return;
	}
	img_par((size_t)nc, in->nthreads, pb_rows_run, &rows);
	for (int y = 0; y < n; y++) {
		int j = y / step;
		double fy = (double)(y - j * step) / step;

		for (int x = 0; x < n; x++) {
			int i = x / step;
			double fx = (double)(x - i * step) / step;
			const float *r0 = c + (size_t)j * nc + i, *r1 = r0 + nc;

			pb[(size_t)y * n + x] = (float)((1 - fy) * ((1 - fx) * r0[0] + fx * r0[1]) +
			    fy * ((1 - fx) * r1[0] + fx * r1[1]));
		}
	}
	free(c);
}

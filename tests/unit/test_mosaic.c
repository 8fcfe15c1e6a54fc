/*
 * test_mosaic.c: the mosaic's interpolated pixel mapping against the
 * exact one. uvm-mosaic evaluates wcslib and the group-averaged beam at
 * control points only and interpolates between them (mosaic_map.c); here,
 * for whole-beam inputs (6720^2 of 3.81") at declinations from -30 to +85
 * and up to half an hour of RA from the grid centre, the mapping at 20000
 * pixels must be within 0.005 input pixel and the beam within 2e-4
 * (relative) of the exact mapping, with control points far enough apart
 * that the interpolation is really used. The beam table the control
 * points use must match beam_pb to 1e-6 for every model.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wcs.h>

#include "sci/beam.h"
#include "sci/mosaic_int.h"

static int n_test, n_fail;

static void ok(int cond, const char *name)
{
	n_test++;
	if (!cond)
		n_fail++;
	printf("%sok %d - %s\n", cond ? "" : "not ", n_test, name);
}

static int sin_wcs(struct wcsprm *w, double ra, double dec, double cell, long n)
{
	w->flag = -1;
	if (wcsini(1, 2, w))
		return -1;
	strcpy(w->ctype[0], "RA---SIN");
	strcpy(w->ctype[1], "DEC--SIN");
	w->crval[0] = ra;
	w->crval[1] = dec;
	w->cdelt[0] = -cell;
	w->cdelt[1] = cell;
	w->crpix[0] = w->crpix[1] = (double)(n / 2 + 1);
	return wcsset(w);
}

/* A 6720^2 input at (ra0, dec) on a grid centred dra degrees of RA away. */
static void one(double dec, double dra, enum beam_model model, const char *what)
{
	const double cell = 3.81 / 3600, ra0 = 150, f = 1.4e9;
	const long n = 6720;
	struct grid g;
	struct input in;
	struct wcsprm iw;
	struct mos_map m;
	double world[2], phi, theta, img[2], c[2], epx = 0, eb = 0;
	int st;
	char name[200];
	unsigned s = 12345;

	memset(&g, 0, sizeof g);
	memset(&in, 0, sizeof in);
	g.nx = g.ny = 16384;
	sin_wcs(&g.w, ra0 + dra, dec, cell, g.nx);
	sin_wcs(&iw, ra0, dec, cell, n);
	in.wcs = &iw;
	in.nx = in.ny = n;
	in.freq = f;
	in.nptg = MOSAIC_NBEAM;
	for (int k = 0; k < in.nptg; k++) {  /* a 5-minute drift */
		double ra = ra0 + ((k + 0.5) / in.nptg - 0.5) * 300 * 360.98564736629 / 86400;
		in.ptg[k][0] = cos(dec * M_PI / 180) * cos(ra * M_PI / 180);
		in.ptg[k][1] = cos(dec * M_PI / 180) * sin(ra * M_PI / 180);
		in.ptg[k][2] = sin(dec * M_PI / 180);
	}
	world[0] = ra0, world[1] = dec;
	wcss2p(&g.w, 1, 2, world, &phi, &theta, img, c, &st);
	long x0 = (long)c[0] - 1 - n / 2, y0 = (long)c[1] - 1 - n / 2;
	if (mosaic_map_build(&m, &g, &in, model, x0, x0 + n - 1, y0, y0 + n - 1, 2) < 0) {
		ok(0, "map built");
		return;
	}
	for (int k = 0; k < 20000; k++) {
		long x, y;
		double px, py, b, ex, ey, eb0;
		s = s * 1103515245u + 12345u;
		x = x0 + (long)(s >> 8) % n;
		s = s * 1103515245u + 12345u;
		y = y0 + (long)(s >> 8) % n;
		mosaic_map_at(&m, x, y, &px, &py, &b);
		mosaic_map_exact(&g, &in, model, (double)x, (double)y, &ex, &ey, &eb0);
		if (!isfinite(ex) || !isfinite(px))
			continue;
		epx = fmax(epx, fmax(fabs(px - ex), fabs(py - ey)));
		eb = fmax(eb, fabs(b - eb0) / fmax(eb0, 0.1));
	}
	snprintf(name, sizeof name,
	    "%s dec %+.0f, %.1f deg of RA off: step %d, mapping within %.2g px (< 0.005), beam %.2g "
	    "(< 2e-4)", what, dec, dra, m.step, epx, eb);
	ok(epx < 0.005 && eb < 2e-4 && m.step >= 4, name);
	{       /* one thread and three: the same control points and checks */
		struct mos_map m1;
		int same = mosaic_map_build(&m1, &g, &in, model, x0, x0 + n - 1, y0, y0 + n - 1, 3) == 0 &&
		    m1.step == m.step && m1.err_px == m.err_px && m1.err_beam == m.err_beam &&
		    m1.gx == m.gx && m1.gy == m.gy &&
		    !memcmp(m1.v, m.v, (size_t)(m.gx * m.gy * 3) * sizeof *m.v);
		snprintf(name, sizeof name, "%s dec %+.0f: the map is the same on 2 and 3 threads", what,
		    dec);
		ok(same, name);
		mosaic_map_free(&m1);
	}
	mosaic_map_free(&m);
	wcsfree(&g.w);
	wcsfree(&iw);
}

int main(void)
{
	static const double decs[] = {-30, 37.2, 85};
	static const enum beam_model models[] = {BEAM_AIRY, BEAM_TAPER, BEAM_GAUSS};
	char name[160];

	one(37.2, 0, BEAM_AIRY, "airy");
	for (int i = 0; i < 3; i++)
		one(decs[i], 7.5, BEAM_AIRY, "airy");
	one(37.2, 3, BEAM_TAPER, "taper");
	one(37.2, 3, BEAM_GAUSS, "gauss");
	for (int k = 0; k < 3; k++)
		for (double f = 1.28e9; f < 1.6e9; f += 0.25e9) {
			double e = mosaic_beam_table_err(models[k], f, 100000);
			snprintf(name, sizeof name, "beam table (%s, %.2f GHz) within %.2g of beam_pb (< 1e-6)",
			    beam_name(models[k]), f / 1e9, e);
			ok(e < 1e-6, name);
		}
	printf("1..%d\n", n_test);
	return n_fail != 0;
}

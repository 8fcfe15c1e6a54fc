/*
 * test_img.c: unit tests of the imager's numerical core (src/lib/img*.c)
 * against independent, straightforward computations.
 *
 * - Gridding + FFT + grid correction against a direct Fourier transform
 *   (I(l, m) = sum w Re(V exp(+2 pi i (u l + v m))) / sum w, SCIENCE.md)
 *   of a small random visibility set, dirty image and PSF, at every pixel
 *   of the image: agreement to 1% of the peak (typically 1e-3).
 * - The w-term as SIN PV2_1/PV2_2: visibilities of off-centre sources
 *   from a tilted coplanar array, with the full w (n - 1) phase, imaged
 *   without w and located through wcslib with the PV terms written by
 *   img_fits_write, land within 0.1 pixel of the truth (and more than a
 *   pixel away without them, so the test can fail).
 * - Beam fit of a sampled elliptical Gaussian recovers its axes and angle.
 * - Högbom CLEAN of a dirty image made of shifted PSFs recovers the
 *   component fluxes; restoring puts beam-shaped peaks of the flux there.
 * - Robust rms of Gaussian noise equals its sigma.
 * - Threaded gridding of a visibility store: the grids (dirty, PSF and a
 *   major cycle's residual) are bit-identical on 1, 2 and 3 threads, and
 *   equal to gridding the same visibilities one at a time with
 *   img_grid_add to float rounding.
 */
#include <complex.h>
#include <fftw3.h>
#include <fitsio.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wcs.h>
#include <wcshdr.h>

#include "sci/beam.h"
#include "sci/geom.h"
#include "sci/img.h"
#include "sci/img_int.h"

static int ntest, nfail;

static void ok(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ok(int cond, const char *fmt, ...)
{
	va_list ap;

	ntest++;
	if (!cond)
		nfail++;
	printf("%sok %d - ", cond ? "" : "not ", ntest);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static double uni(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) * 0x1.0p-53;
}

static double gauss(void)
{
	double a = uni(), b = uni();
	return sqrt(-2 * log(a + 1e-300)) * cos(2 * M_PI * b);
}

/* Dirty image (n x n) and PSF (2n x 2n) of nv visibilities by gridding. */
static void grid_image(const double *u, const double *v, const float complex *V, const float *w,
    int nv, int n, double cell, float *dirty, float *psf)
{
	struct img_kernel k;
	struct img_grid g;
	struct img_fft f, fp;
	int ng = (int)(n * 1.25), ngp = 2 * n, loaded, saved, st;
	double *corr = malloc(sizeof *corr * n), *corrp = malloc(sizeof *corrp * 2 * n);
	char err[IMG_ERRLEN];

	img_kernel_init(&k, 7, 1024, 13.0);
	img_grid_init(&g, ng, ngp, cell, &k, IMG_NATURAL, 0);
	img_fft_plan(&f, ng, g.vis, FFTW_ESTIMATE, NULL, &loaded, &saved, &st, err);
	img_fft_plan(&fp, ngp, g.psf, FFTW_ESTIMATE, NULL, &loaded, &saved, &st, err);
	memset(g.vis, 0, sizeof *g.vis * ng * ng);
	memset(g.psf, 0, sizeof *g.psf * ngp * ngp);
	img_kernel_correction(&k, ng, n, corr);
	img_kernel_correction(&k, ngp, 2 * n, corrp);
	for (int i = 0; i < nv; i++)
		img_grid_add(&g, u[i], v[i], V[i], w[i], 1.4e9);
	img_fft_exec(&f, g.vis);
	img_grid_to_image(g.vis, ng, n, corr, g.sumw, dirty);
	img_fft_exec(&fp, g.psf);
	img_grid_to_image(g.psf, ngp, 2 * n, corrp, g.sumw, psf);
	img_fft_free(&f);
	img_fft_free(&fp);
	img_grid_free(&g);
	img_kernel_free(&k);
	free(corr);
	free(corrp);
}

/* Direct transform at every pixel: dirty n x n, PSF 2n x 2n. */
static void dft_image(const double *u, const double *v, const float complex *V, const float *w,
    int nv, int n, double cell, double *dirty, double *psf)
{
	double sw = 0;

	for (int i = 0; i < nv; i++)
		sw += w[i];
	for (int y = 0; y < 2 * n; y++)
		for (int x = 0; x < 2 * n; x++) {
			double l = -(x - n) * cell, m = (y - n) * cell, sd = 0, sp = 0;
			int in = x >= n / 2 && x < n / 2 + n && y >= n / 2 && y < n / 2 + n;
			for (int i = 0; i < nv; i++) {
				double ph = 2 * M_PI * (u[i] * l + v[i] * m);
				if (in)
					sd += w[i] * (crealf(V[i]) * cos(ph) - cimagf(V[i]) * sin(ph));
				sp += w[i] * cos(ph);
			}
			if (in)
				dirty[(size_t)(y - n / 2) * n + (x - n / 2)] = sd / sw;
			psf[(size_t)y * 2 * n + x] = sp / sw;
		}
}

static void test_dft(void)
{
	int n = 96, nv = 1500, ns = 4;
	double cell = 2e-4, umax = 0.5 / cell * 0.8 / 1.0;
	double *u = malloc(sizeof *u * nv), *v = malloc(sizeof *v * nv);
	float complex *V = malloc(sizeof *V * nv);
	float *w = malloc(sizeof *w * nv);
	float *dg = malloc(sizeof *dg * n * n), *pg = malloc(sizeof *pg * 4 * n * n);
	double *dd = malloc(sizeof *dd * n * n), *pd = malloc(sizeof *pd * 4 * n * n);
	double sl[4], sm[4], sf[4], peak = 0, perr = 0, derr = 0;

	/* Sources anywhere in the inner 80% of the field, off the pixel grid. */
	for (int s = 0; s < ns; s++) {
		sl[s] = (uni() - 0.5) * 0.8 * n * cell;
		sm[s] = (uni() - 0.5) * 0.8 * n * cell;
		sf[s] = 0.5 + uni();
	}
	for (int i = 0; i < nv; i++) {
		double complex acc = 0;
		/* the gridder's limit is the padded grid's edge less the kernel */
		u[i] = (uni() * 2 - 1) * umax;
		v[i] = (uni() * 2 - 1) * umax;
		for (int s = 0; s < ns; s++)
			acc += sf[s] * cexp(-2 * M_PI * I * (u[i] * sl[s] + v[i] * sm[s]));
		V[i] = (float complex)(acc + 0.1 * (gauss() + I * gauss()));
		w[i] = (float)(0.5 + uni());
	}
	grid_image(u, v, V, w, nv, n, cell, dg, pg);
	dft_image(u, v, V, w, nv, n, cell, dd, pd);
	for (int i = 0; i < n * n; i++) {
		if (fabs(dd[i]) > peak)
			peak = fabs(dd[i]);
		if (fabs(dg[i] - dd[i]) > derr)
			derr = fabs(dg[i] - dd[i]);
	}
	/* the PSF's outer rim (the last 10%) is allowed its aliasing */
	for (int y = n / 10; y < 2 * n - n / 10; y++)
		for (int x = n / 10; x < 2 * n - n / 10; x++)
			if (fabs(pg[y * 2 * n + x] - pd[y * 2 * n + x]) > perr)
				perr = fabs(pg[y * 2 * n + x] - pd[y * 2 * n + x]);
	ok(derr < 0.01 * peak, "dirty image = direct transform at all %d pixels: max error %.2e of peak",
	    n * n, derr / peak);
	ok(perr < 0.01, "PSF (%d x %d) = direct transform: max error %.2e of its peak", 2 * n,
	    2 * n, perr);
	ok(fabs(pg[n * 2 * n + n] - 1) < 0.01, "PSF peak at the centre pixel is 1 (%.5f)",
	    pg[n * 2 * n + n]);
	free(u);
	free(v);
	free(V);
	free(w);
	free(dg);
	free(pg);
	free(dd);
	free(pd);
}

/* World -> pixel (0-based) through wcslib, from the header of a FITS file. */
static int world_to_pix(const char *path, int use_pv, double ra, double dec, double *x, double *y)
{
	fitsfile *f;
	int st = 0, nkeys, nrej, nwcs, stat[1];
	char *hdr;
	struct wcsprm *wcs;
	double world[4], img[4], pix[4], phi, theta;

	fits_open_file(&f, path, READONLY, &st);
	fits_hdr2str(f, 1, NULL, 0, &hdr, &nkeys, &st);
	fits_close_file(f, &st);
	if (st)
		return -1;
	if (!use_pv) {
		/* blank the PV cards: the test's control case */
		for (char *p = strstr(hdr, "PV2_"); p; p = strstr(p + 1, "PV2_"))
			memcpy(p, "XX2_", 4);
	}
	if (wcspih(hdr, nkeys, WCSHDR_all, 0, &nrej, &nwcs, &wcs) || nwcs < 1 || wcsset(wcs)) {
		st = 0;
		fits_free_memory(hdr, &st);
		return -1;
	}
	world[wcs->lng] = ra;
	world[wcs->lat] = dec;
	world[wcs->spec] = wcs->crval[wcs->spec];
	for (int i = 0; i < 4; i++)
		if (i != wcs->lng && i != wcs->lat && i != wcs->spec)
			world[i] = wcs->crval[i];
	st = wcss2p(wcs, 1, 4, world, &phi, &theta, img, pix, stat);
	*x = pix[0] - 1;
	*y = pix[1] - 1;
	wcsvfree(&nwcs, &wcs);
	nkeys = 0;
	fits_free_memory(hdr, &nkeys);
	return st ? -1 : 0;
}

static void test_wterm(void)
{
	int n = 256, nv = 40000, st;
	double dec0 = 10 * GEOM_DEG, ra0 = 1.0, cell = 60.0 / 3600 * GEOM_DEG;
	/* plane normal in (u, v, w): tilted toward +v (55 deg) and +u (20 deg) */
	double zn[3] = {sin(20 * GEOM_DEG), sin(55 * GEOM_DEG), 0};
	double ra[3], dec[3], fl[3] = {1, 0.8, 0.6}, worst = 0, worst_nopv = 1e9;
	double *u = malloc(sizeof *u * nv), *v = malloc(sizeof *v * nv);
	float complex *V = malloc(sizeof *V * nv);
	float *w = malloc(sizeof *w * nv);
	float *dg = malloc(sizeof *dg * n * n), *pg = malloc(sizeof *pg * 4 * n * n);
	char path[] = "/tmp/test_img_XXXXXX";
	char err[IMG_ERRLEN];
	struct img_meta m;
	int fd = mkstemp(path);

	close(fd);
	zn[2] = sqrt(1 - zn[0] * zn[0] - zn[1] * zn[1]);
	/* sources 1.2 - 1.6 deg from the centre, where the shift is ~ pixels */
	for (int s = 0; s < 3; s++) {
		double ang = 2 * M_PI * s / 3 + 0.3, r = (1.2 + 0.2 * s) * GEOM_DEG;
		dec[s] = dec0 + r * sin(ang);
		ra[s] = ra0 + r * cos(ang) / cos(dec0);
	}
	for (int i = 0; i < nv; i++) {
		/* random baseline in the plane: b = a e1 + c e2, e1, e2 spanning it */
		double e1[3] = {zn[2], 0, -zn[0]}, e2[3], nr, a, c, b[3];
		double complex acc = 0;
		e2[0] = zn[1] * e1[2] - zn[2] * e1[1];
		e2[1] = zn[2] * e1[0] - zn[0] * e1[2];
		e2[2] = zn[0] * e1[1] - zn[1] * e1[0];
		nr = sqrt(e1[0] * e1[0] + e1[2] * e1[2]);
		/* Gaussian uv density: a Gaussian PSF of FWHM ~3.7 pixels */
		a = gauss() * 0.1 / cell;
		c = gauss() * 0.1 / cell;
		for (int k = 0; k < 3; k++)
			b[k] = a * e1[k] / nr + c * e2[k];
		u[i] = b[0];
		v[i] = b[1];
		for (int s = 0; s < 3; s++) {
			double l, mm, nn;
			geom_lmn(ra[s], dec[s], ra0, dec0, &l, &mm, &nn);
			acc += fl[s] * cexp(-2 * M_PI * I * (b[0] * l + b[1] * mm + b[2] * (nn - 1)));
		}
		V[i] = (float complex)acc;
		w[i] = 1;
	}
	grid_image(u, v, V, w, nv, n, cell, dg, pg);
	memset(&m, 0, sizeof m);
	m.n = n;
	m.cell = cell;
	m.ra0 = ra0;
	m.dec0 = dec0;
	m.xi = zn[0] / zn[2];
	m.eta = zn[1] / zn[2];
	m.freq = 1.4e9;
	m.bandwidth = 1e8;
	m.jd_first = 2460973.0;
	m.jd_last = 2460973.003;
	m.beam.bmaj = m.beam.bmin = 3 * cell;
	snprintf(m.telescope, sizeof m.telescope, "test");
	ok(img_fits_write(path, dg, NULL, &m, &st, err) == 0, "FITS written (%s)", st ? err : "ok");
	for (int s = 0; s < 3; s++) {
		double x, y, px, py, x0, y0;
		int bx = 0, by = 0;
		float best = -1;

		if (world_to_pix(path, 1, ra[s] / GEOM_DEG, dec[s] / GEOM_DEG, &x, &y) < 0 ||
		    world_to_pix(path, 0, ra[s] / GEOM_DEG, dec[s] / GEOM_DEG, &x0, &y0) < 0) {
			worst = 1e9;
			continue;
		}
		for (int yy = (int)y - 4; yy <= (int)y + 5; yy++)
			for (int xx = (int)x - 4; xx <= (int)x + 5; xx++)
				if (xx > 0 && yy > 0 && xx < n - 1 && yy < n - 1 && dg[yy * n + xx] > best) {
					best = dg[yy * n + xx];
					bx = xx;
					by = yy;
				}
		{
			double pk;
			img_peak_fit(dg, n, bx, by, &px, &py, &pk);
			best = (float)pk;
		}
		if (hypot(px - x, py - y) > worst)
			worst = hypot(px - x, py - y);
		if (hypot(px - x0, py - y0) < worst_nopv)
			worst_nopv = hypot(px - x0, py - y0);
		if (fabs(best - fl[s]) > 0.05 * fl[s])
			worst = 1e9;
		printf("# source %d: wcs (%.3f, %.3f), no PV (%.3f, %.3f), image peak (%.3f, %.3f) %.4f\n",
		    s, x, y, x0, y0, px, py, best);
	}
	ok(worst < 0.1, "w-term as SIN PV2: off-centre sources within %.3f pixel of the WCS position",
	    worst);
	ok(worst_nopv > 1, "without PV2 the positions are off by >= %.2f pixels", worst_nopv);
	unlink(path);
	free(u);
	free(v);
	free(V);
	free(w);
	free(dg);
	free(pg);
}

/* Sampled elliptical Gaussian (peak 1 at the centre) of FWHM a, b cells,
 * major axis at pa (from north = +y toward east = -x). */
static void gauss_img(float *p, int n, double a, double b, double pa, double cx, double cy)
{
	for (int y = 0; y < n; y++)
		for (int x = 0; x < n; x++) {
			double l = -(x - cx), m = y - cy;
			double ma = l * sin(pa) + m * cos(pa), mi = l * cos(pa) - m * sin(pa);
			p[y * n + x] = (float)exp(-4 * M_LN2 * (ma * ma / (a * a) + mi * mi / (b * b)));
		}
}

static void test_beam(void)
{
	int n = 128;
	float *p = malloc(sizeof *p * n * n);
	struct img_beam b;
	double cell = 1e-5;
	const double cases[3][3] = {{6, 3, 30}, {5, 4.5, -60}, {8, 2.5, 89}};

	for (int c = 0; c < 3; c++) {
		double pa = cases[c][2] * GEOM_DEG;
		gauss_img(p, n, cases[c][0], cases[c][1], pa, n / 2, n / 2);
		int r = img_fit_beam(p, n, cell, &b);
		double dpa = fmod(b.bpa - pa + 2.5 * M_PI, M_PI) - M_PI / 2;
		ok(r == 0 && fabs(b.bmaj / cell - cases[c][0]) < 0.01 * cases[c][0] &&
		    fabs(b.bmin / cell - cases[c][1]) < 0.01 * cases[c][1] && fabs(dpa) < 0.5 * GEOM_DEG,
		    "beam fit %g x %g pa %g: got %.3f x %.3f pa %.2f", cases[c][0], cases[c][1],
		    cases[c][2], b.bmaj / cell, b.bmin / cell, b.bpa / GEOM_DEG);
	}
	free(p);
}

static void test_clean(void)
{
	int n = 128, P = 2 * n;
	float *psf = malloc(sizeof *psf * P * P), *d = calloc(n * n, sizeof *d);
	float *model = calloc(n * n, sizeof *model), *rest;
	const int pos[3][2] = {{6, 70}, {120, 50}, {64, 64}};
	const double fl[3] = {2.0, 1.0, 0.5};
	struct img_clean c = {.niter = 3000, .gain = 0.1, .threshold = 1e-3, .window = 1};
	struct img_beam b = {4e-5, 4e-5, 0};
	double err = 0, perr = 0;

	/* A PSF with sidelobes: Gaussian main lobe, a ring, and a ridge along
	 * y at 0.45 reaching the far side of the image (a T array's). */
	for (int y = 0; y < P; y++)
		for (int x = 0; x < P; x++) {
			double r = hypot(x - n, y - n);
			psf[y * P + x] = (float)(0.55 * exp(-4 * M_LN2 * r * r / 16) +
			    0.2 * exp(-(r - 10) * (r - 10) / 4) * cos(0.7 * (x - n)) +
			    0.45 * exp(-4 * M_LN2 * (x - n) * (x - n) / 9.0));
		}
	psf[n * P + n] = 1;
	for (int s = 0; s < 3; s++)
		for (int y = 0; y < n; y++)
			for (int x = 0; x < n; x++)
				d[y * n + x] += (float)(fl[s] * psf[(y - pos[s][1] + n) * P + x - pos[s][0] + n]);
	img_hogbom(d, psf, model, n, &c);
	for (int s = 0; s < 3; s++) {
		double e = fabs(model[pos[s][1] * n + pos[s][0]] - fl[s]) / fl[s];
		if (e > err)
			err = e;
	}
	ok(err < 0.01 && fabs(c.flux - 3.5) < 0.02, "Hogbom recovers the components: worst %.4f, "
	    "total %.4f Jy in %d iterations", err, c.flux, c.done);
	rest = calloc(n * n, sizeof *rest);
	img_restore(rest, model, n, 1e-5, &b);
	for (int s = 0; s < 3; s++) {
		double e = fabs(rest[pos[s][1] * n + pos[s][0]] - fl[s]) / fl[s];
		if (e > perr)
			perr = e;
	}
	ok(perr < 0.01, "restored peaks equal the component fluxes (worst %.4f)", perr);
	free(psf);
	free(d);
	free(model);
	free(rest);
}


/*
 * Masked Högbom (the minor cycle of uvm-image) against known components:
 * a dirty image made of three point sources convolved with a PSF with
 * sidelobes, the mask every pixel. The exact 2n PSF on one thread must
 * recover the fluxes to 1%; on two threads the same model bit for bit;
 * with Clark's n x n patch (the centre of the same PSF) the same fluxes,
 * the sources lying more than n/2 apart where the PSF has died out.
 */
static void test_clean_masked(void)
{
	int n = 160, P = 2 * n, nn = n * n, h = n / 2;
	float *psf = malloc(sizeof *psf * P * P), *patch = malloc(sizeof *patch * nn);
	float *d = calloc(nn, sizeof *d), *r = malloc(sizeof *r * nn);
	float *m[3];
	int *idx = malloc(sizeof *idx * nn), same = 1;
	const int pos[3][2] = {{10, 150}, {150, 20}, {70, 80}};
	const double fl[3] = {2.0, 1.0, 0.5};
	struct img_clean c[3];
	double err[3] = {0, 0, 0};

	for (int y = 0; y < P; y++)
		for (int x = 0; x < P; x++) {
			double rr = hypot(x - n, y - n);
			psf[y * P + x] = (float)(exp(-4 * M_LN2 * rr * rr / 16) +
			    0.2 * exp(-(rr - 10) * (rr - 10) / 4) * cos(0.7 * (x - n)));
		}
	psf[n * P + n] = 1;
	for (int y = 0; y < n; y++)
		for (int x = 0; x < n; x++)
			patch[y * n + x] = psf[(y - h + n) * P + x - h + n];
	for (int s = 0; s < 3; s++)
		for (int y = 0; y < n; y++)
			for (int x = 0; x < n; x++)
				d[y * n + x] += (float)(fl[s] * psf[(y - pos[s][1] + n) * P + x - pos[s][0] + n]);
	for (int i = 0; i < nn; i++)
		idx[i] = i;
	for (int t = 0; t < 3; t++) {
		c[t] = (struct img_clean){.niter = 5000, .gain = 0.1, .threshold = 1e-3, .window = 1,
			.nthreads = t == 1 ? 2 : 1};
		m[t] = calloc(nn, sizeof *m[t]);
		memcpy(r, d, sizeof *r * nn);
		img_hogbom_masked(r, t == 2 ? patch : psf, t == 2 ? n : P, m[t], n, idx, nn, &c[t]);
		for (int s = 0; s < 3; s++)
			err[t] = fmax(err[t], fabs(m[t][pos[s][1] * n + pos[s][0]] - fl[s]) / fl[s]);
	}
	ok(err[0] < 0.01 && fabs(c[0].flux - 3.5) < 0.02, "masked Hogbom recovers the components: "
	    "worst %.4f, total %.4f Jy in %d iterations", err[0], c[0].flux, c[0].done);
	for (int i = 0; i < nn; i++)
		same &= m[0][i] == m[1][i];
	ok(same && c[0].done == c[1].done, "masked Hogbom on two threads: the same model (%d, %d "
	    "iterations)", c[0].done, c[1].done);
	ok(err[2] < 0.01 && fabs(c[2].flux - 3.5) < 0.02, "masked Hogbom with an n x n PSF patch: "
	    "worst %.4f, total %.4f Jy", err[2], c[2].flux);
	for (int t = 0; t < 3; t++)
		free(m[t]);
	free(psf);
	free(patch);
	free(d);
	free(r);
	free(idx);
}


/*
 * Degridding against a direct transform: a model of point components (Jy
 * per pixel, some off the phase centre, near the image edge too) put on a
 * 1.25x padded grid by img_model_grid + FFT and interpolated with
 * img_degrid at random (u, v) must give sum M exp(-2 pi i (u l + v m))
 * to 1e-3 of the total flux. Then the residual gridding of visibilities
 * that are exactly the model's must leave an image near zero (< 1e-3 of
 * the model's peak), and of the model's visibilities plus a second source
 * that source alone.
 */
/* The tests' gridding set-up: W=7 Kaiser-Bessel kernel, natural
 * weights, a grid of side ng (PSF grid ngp) for n x n images of cell
 * radians, its correction for n pixels, and an ESTIMATE plan of side ng. */
static void grid_fixture(struct img_kernel *k, struct img_grid *g, struct img_fft *f,
    double *corr, int n, int ng, int ngp, double cell)
{
	int loaded, saved, st;
	char err[IMG_ERRLEN];

	img_kernel_init(k, 7, 1024, 13.0);
	img_grid_init(g, ng, ngp, cell, k, IMG_NATURAL, 0);
	img_kernel_correction(k, ng, n, corr);
	img_fft_plan(f, ng, g->vis, FFTW_ESTIMATE, NULL, &loaded, &saved, &st, err);
}

/*
 * The major cycles' transposed prediction against a direct transform:
 * two models of point components (the real and the imaginary part of one
 * grid, as two beam slices are) placed by rows (img_model_rows_pair, the
 * rows without a component not transformed at all), transformed and
 * turned by img_fft_exec_t, and read with img_degrid_pair at (v, u):
 * each model's visibility at random (u, v) within the pruned |u| must be
 * sum M exp(-2 pi i (u l + v m)) to 1e-3 of its total flux.
 */
static void test_degrid_transposed(void)
{
	int n = 128, ng = 160, nv = 2000, saved, st, nlive, ur;
	double cell = 2e-4, umax = 0.5 / cell * 0.8, err_a = 0, err_b = 0, tot_a = 0, tot_b = 0;
	int px[6] = {64, 70, 20, 110, 64, 21}, py[6] = {64, 50, 100, 12, 90, 100};
	float fa[6] = {1.0f, 0.5f, -0.2f, 0.3f, 0.8f, 0}, fb[6] = {0.7f, 0, 0.4f, -0.1f, 0, 0.6f};
	float *a = calloc((size_t)n * n, sizeof *a), *b = calloc((size_t)n * n, sizeof *b);
	float *va = malloc(sizeof *va * 6), *vb = malloc(sizeof *vb * 6);
	int *idx = malloc(sizeof *idx * 6), *crow = malloc(sizeof *crow * 6);
	int *live = malloc(sizeof *live * (size_t)n);
	double *corr = malloc(sizeof *corr * n);
	float complex *t = fftwf_malloc(sizeof *t * ng * ng), *rows;
	size_t m = 0;
	struct img_kernel k;
	struct img_grid g;
	struct img_fft f;
	char err[IMG_ERRLEN];

	grid_fixture(&k, &g, &f, corr, n, ng, ng, cell);
	ur = (int)ceil(umax / g.du) + k.support / 2 + 2;
	ok(img_fft_prune(&f, IMG_FFT_MODEL, n / 2, ur, g.vis, FFTW_ESTIMATE, NULL, &saved, &st,
	       err) == 0 && img_fft_prune_t(&f, ur, g.vis, FFTW_ESTIMATE, NULL, &saved, &st, err) == 0 &&
	    f.mt[0] != NULL, "transposed model transform planned (|u| <= %d of %d)", ur, ng / 2);
	for (int s = 0; s < 6; s++) {
		a[py[s] * n + px[s]] += fa[s];
		b[py[s] * n + px[s]] += fb[s];
		tot_a += fabsf(fa[s]);
		tot_b += fabsf(fb[s]);
	}
	for (int i = 0; i < n * n; i++)
		if (a[i] != 0 || b[i] != 0) {
			idx[m] = i;
			va[m] = a[i];
			vb[m++] = b[i];
		}
	nlive = img_model_rows_index(idx, m, n, ng, crow, live);
	rows = fftwf_malloc(sizeof *rows * (size_t)nlive * ng);
	img_model_rows_pair(idx, crow, va, vb, m, n, ng, corr, rows, nlive, 2);
	ok(nlive == 5 && img_fft_exec_t(&f, rows, live, nlive, t, 2) == 0,
	    "5 rows of 128 hold the 6 components (%d) and are the only ones transformed", nlive);
	for (int i = 0; i < nv; i++) {
		double u = (2 * uni() - 1) * umax, v = (2 * uni() - 1) * umax;
		double complex da = 0, db = 0;
		float complex dp, dm;

		for (int s = 0; s < 6; s++) {
			double l = -(px[s] - n / 2) * cell, mm = (py[s] - n / 2) * cell;
			double complex e = cexp(-2 * M_PI * I * (u * l + v * mm));
			da += fa[s] * e;
			db += fb[s] * e;
		}
		img_degrid_pair(&k, t, ng, v / g.du, u / g.du, &dp, &dm);
		dm = conjf(dm);
		err_a = fmax(err_a, cabs((dp + dm) / 2 - da));
		err_b = fmax(err_b, cabs(I * (dp - dm) / 2 - db));
	}
	ok(err_a < 1e-3 * tot_a && err_b < 1e-3 * tot_b,
	    "transposed prediction matches the direct transform: max error %.2g of %.2g Jy (real "
	    "part's model), %.2g of %.2g Jy (imaginary part's)", err_a, tot_a, err_b, tot_b);
	/* an odd slice alone (no imaginary model), read by img_degrid */
	img_model_rows_pair(idx, crow, va, NULL, m, n, ng, corr, rows, nlive, 1);
	img_fft_exec_t(&f, rows, live, nlive, t, 1);
	err_a = 0;
	for (int i = 0; i < nv; i++) {
		double u = (2 * uni() - 1) * umax, v = (2 * uni() - 1) * umax;
		double complex da = 0;

		for (int s = 0; s < 6; s++)
			da += fa[s] * cexp(-2 * M_PI * I * (u * -(px[s] - n / 2) * cell +
			    v * (py[s] - n / 2) * cell));
		err_a = fmax(err_a, cabs(img_degrid(&k, t, ng, v / g.du, u / g.du) - da));
	}
	ok(err_a < 1e-3 * tot_a, "one model alone, transposed, read by img_degrid at (v, u): max "
	    "error %.2g of %.2g Jy", err_a, tot_a);
	fftwf_free(rows);
	fftwf_free(t);
	img_fft_free(&f);
	img_grid_free(&g);
	img_kernel_free(&k);
	free(a);
	free(b);
	free(va);
	free(vb);
	free(idx);
	free(crow);
	free(live);
	free(corr);
}

static void test_degrid(void)
{
	int n = 128, ng = 160, nv = 3000;
	double cell = 2e-4, umax = 0.5 / cell * 0.8, maxerr = 0, tot = 0, maxres = 0;
	int px[5] = {64, 70, 20, 110, 64}, py[5] = {64, 50, 100, 12, 90};
	float fl[5] = {1.0f, 0.5f, -0.2f, 0.3f, 0.8f};
	float *model = calloc((size_t)n * n, sizeof *model), *img = malloc(sizeof *img * n * n);
	double *corr = malloc(sizeof *corr * n);
	float complex *mg = fftwf_malloc(sizeof *mg * ng * ng);
	float complex *vis2 = fftwf_malloc(sizeof *vis2 * ng * ng);
	struct img_kernel k;
	struct img_grid g;
	struct img_fft f;
	struct img_vis_batch b = {0};

	grid_fixture(&k, &g, &f, corr, n, ng, 2 * n, cell);
	for (int s = 0; s < 5; s++) {
		model[py[s] * n + px[s]] += fl[s];
		tot += fabsf(fl[s]);
	}
	img_model_grid(model, n, ng, corr, mg);
	img_fft_exec(&f, mg);
	b.cap = nv;
	b.u = malloc(sizeof *b.u * nv);
	b.v = malloc(sizeof *b.v * nv);
	b.f = malloc(sizeof *b.f * nv);
	b.V = malloc(sizeof *b.V * nv);
	b.w = malloc(sizeof *b.w * nv);
	for (int i = 0; i < nv; i++) {
		double u = (2 * uni() - 1) * umax, v = (2 * uni() - 1) * umax;
		double complex d = 0, e = 0;
		for (int s = 0; s < 5; s++) {
			double l = -(px[s] - n / 2) * cell, m = (py[s] - n / 2) * cell;
			d += fl[s] * cexp(-2 * M_PI * I * (u * l + v * m));
		}
		/* an extra 0.25 Jy source not in the model, at pixel (40, 80) */
		e = 0.25 * cexp(-2 * M_PI * I * (u * (-(40 - n / 2) * cell) + v * ((80 - n / 2) * cell)));
		maxerr = fmax(maxerr, cabs(img_degrid(&k, mg, ng, u / g.du, v / g.du) - d));
		b.u[i] = u;
		b.v[i] = v;
		b.f[i] = 1.4e9;
		b.V[i] = (float complex)(d + e);
		b.w[i] = 1;
		g.sumw += 1;
	}
	b.n = nv;
	ok(maxerr < 1e-3 * tot, "degridded model visibilities match the direct transform "
	    "(max error %.2g of total flux %.2g)", maxerr, tot);
	memset(g.vis, 0, sizeof *g.vis * ng * ng);
	memset(vis2, 0, sizeof *vis2 * ng * ng);
	img_grid_residual(&g, vis2, mg, &b);
	for (int i = 0; i < ng * ng; i++)
		g.vis[i] += vis2[i];
	img_fft_exec(&f, g.vis);
	img_grid_to_image(g.vis, ng, n, corr, g.sumw, img);
	for (int y = 0; y < n; y++)
		for (int x = 0; x < n; x++)
			if (abs(x - 40) > 6 || abs(y - 80) > 6)
				maxres = fmax(maxres, fabs(img[y * n + x]));
	ok(fabs(img[80 * n + 40] - 0.25) < 0.01 && maxres < 0.25 * 0.5,
	    "residual image: the unmodelled source alone, %.4f Jy at its pixel (0.25), elsewhere "
	    "below its sidelobes (max %.3f)", img[80 * n + 40], maxres);
	free(b.u);
	free(b.v);
	free(b.f);
	free(b.V);
	free(b.w);
	img_fft_free(&f);
	img_grid_free(&g);
	img_kernel_free(&k);
	fftwf_free(mg);
	fftwf_free(vis2);
	free(model);
	free(img);
	free(corr);
}


/*
 * The pruned transforms against the whole one (img_fft_prune): a model
 * grid transformed by the model's pass degrids to the same visibilities
 * wherever |u| is within the pass's columns, and a residual grid with
 * data only in the pass's rows transforms to the same image, here with
 * ng 160, n 128 and visibilities to 0.8 of the grid's edge (40% fewer
 * rows, 20% fewer columns).
 */
static void test_pruned(void)
{
	int n = 128, ng = 160, nv = 2000, saved, st, rv, cu;
	double cell = 2e-4, umax = 0.5 / cell * 0.8, vmax = umax / 2, dvis = 0, dimg = 0, peak = 0;
	float *model = calloc((size_t)n * n, sizeof *model), *a = malloc(sizeof *a * n * n);
	float *b = malloc(sizeof *b * n * n);
	double *corr = malloc(sizeof *corr * n);
	float complex *m1 = fftwf_malloc(sizeof *m1 * ng * ng), *m2 = fftwf_malloc(sizeof *m2 * ng * ng);
	struct img_kernel k;
	struct img_grid g;
	struct img_fft f;
	char err[IMG_ERRLEN];

	grid_fixture(&k, &g, &f, corr, n, ng, 2 * n, cell);
	cu = (int)ceil(umax / g.du) + k.support / 2 + 2;
	rv = (int)ceil(vmax / g.du) + k.support / 2 + 2;
	ok(img_fft_prune(&f, IMG_FFT_MODEL, n / 2, cu, g.vis, FFTW_ESTIMATE, NULL, &saved, &st,
	       err) == 0 && img_fft_prune(&f, IMG_FFT_RESID, rv, n / 2, g.vis, FFTW_ESTIMATE, NULL,
	       &saved, &st, err) == 0 && f.pass[IMG_FFT_MODEL].rows[0] && f.pass[IMG_FFT_RESID].rows[0],
	    "pruned passes planned (model columns %d, residual rows %d of %d)", cu, rv, ng / 2);
	for (int i = 0; i < 300; i++)
		model[(int)(uni() * n) * n + (int)(uni() * n)] += (float)(2 * uni() - 1);
	img_model_grid(model, n, ng, corr, m1);
	img_model_grid(model, n, ng, corr, m2);
	img_fft_exec(&f, m1);
	img_fft_exec_pass(&f, IMG_FFT_MODEL, m2);
	for (int i = 0; i < nv; i++) {
		double u = (2 * uni() - 1) * umax, v = (2 * uni() - 1) * 0.5 / cell * 0.95;
		float complex x = img_degrid(&k, m1, ng, u / g.du, v / g.du);

		peak = fmax(peak, cabsf(x));
		dvis = fmax(dvis, cabsf(x - img_degrid(&k, m2, ng, u / g.du, v / g.du)));
	}
	ok(dvis < 1e-5 * peak, "model pass: degridded visibilities as the whole transform's "
	    "(max difference %.2g of %.2g)", dvis, peak);
	/* a residual grid: visibilities with |v| <= vmax, spread as the gridder does */
	memset(m1, 0, sizeof *m1 * ng * ng);
	for (int i = 0; i < nv; i++) {
		float complex x = (float complex)((2 * uni() - 1) + I * (2 * uni() - 1));
		img_grid_add(&g, (2 * uni() - 1) * umax, (2 * uni() - 1) * vmax, x, 1, 1.4e9);
	}
	memcpy(m1, g.vis, sizeof *m1 * ng * ng);
	img_fft_exec(&f, m1);
	img_grid_to_image(m1, ng, n, corr, g.sumw, a);
	img_fft_exec_pass(&f, IMG_FFT_RESID, g.vis);
	img_grid_to_image(g.vis, ng, n, corr, g.sumw, b);
	peak = 0;
	for (int i = 0; i < n * n; i++) {
		peak = fmax(peak, fabsf(a[i]));
		dimg = fmax(dimg, fabsf(a[i] - b[i]));
	}
	ok(dimg < 1e-5 * peak, "residual pass: the image as the whole transform's (max difference "
	    "%.2g of %.2g)", dimg, peak);
	img_fft_free(&f);
	img_grid_free(&g);
	img_kernel_free(&k);
	fftwf_free(m1);
	fftwf_free(m2);
	free(model);
	free(a);
	free(b);
	free(corr);
}

/*
 * Two residual grids through one transform (img_grid_hermitian_pair, as
 * the major cycles pair sub-bands): visibilities of two different skies
 * with |v| <= vmax gridded each on its own grid, the pair transformed by
 * the pruned residual pass once, and the two dirty images read off the
 * real and the imaginary part: each must be its own sky's direct
 * transform (dft_image) to 1% of its peak, with nothing of the other.
 */
static void test_hermitian_pair(void)
{
	int n = 64, ng = 80, nv = 800, saved, st, rv;
	double cell = 2e-4, umax = 0.5 / cell * 0.8, vmax = umax / 2, err[2] = {0, 0};
	double peak[2] = {0, 0}, sumw[2];
	double *u = malloc(sizeof *u * nv), *v = malloc(sizeof *v * nv), *corr = malloc(sizeof *corr * n);
	double *dd = malloc(sizeof *dd * n * n * 2), *pd = malloc(sizeof *pd * 4 * n * n);
	float complex *V = malloc(sizeof *V * nv), *gb = fftwf_malloc(sizeof *gb * ng * ng);
	float *w = malloc(sizeof *w * nv), *img = malloc(sizeof *img * n * n * 2);
	struct img_kernel k;
	struct img_grid g;
	struct img_fft f;
	char e[IMG_ERRLEN];

	grid_fixture(&k, &g, &f, corr, n, ng, 2 * n, cell);
	rv = (int)ceil(vmax / g.du) + k.support / 2 + 2;
	img_fft_prune(&f, IMG_FFT_RESID, rv, n / 2, g.vis, FFTW_ESTIMATE, NULL, &saved, &st, e);
	for (int sky = 1; sky >= 0; sky--) {
		/* sky 1 first, onto g.vis, then kept in gb; sky 0 stays in g.vis */
		double sl[3], sm[3], sf[3];

		for (int s = 0; s < 3; s++) {
			sl[s] = (uni() - 0.5) * 0.8 * n * cell;
			sm[s] = (uni() - 0.5) * 0.8 * n * cell;
			sf[s] = (0.5 + uni()) * (s == 2 && sky ? -1 : 1);
		}
		memset(g.vis, 0, sizeof *g.vis * ng * ng);
		g.sumw = 0;
		for (int i = 0; i < nv; i++) {
			double complex acc = 0;

			u[i] = (2 * uni() - 1) * umax;
			v[i] = (2 * uni() - 1) * vmax;
			for (int s = 0; s < 3; s++)
				acc += sf[s] * cexp(-2 * M_PI * I * (u[i] * sl[s] + v[i] * sm[s]));
			V[i] = (float complex)(acc + 0.1 * (gauss() + I * gauss()));
			w[i] = (float)(0.5 + uni());
			img_grid_add(&g, u[i], v[i], V[i], w[i], 1.4e9);
		}
		sumw[sky] = g.sumw;
		dft_image(u, v, V, w, nv, n, cell, dd + (size_t)sky * n * n, pd);
		if (sky)
			memcpy(gb, g.vis, sizeof *gb * ng * ng);
	}
	img_grid_hermitian_pair(g.vis, gb, ng, rv, 2);
	img_fft_exec_pass(&f, IMG_FFT_RESID, g.vis);
	for (int sky = 0; sky < 2; sky++) {
		img_grid_to_image_rows(g.vis, ng, n, corr, sumw[sky], img + (size_t)sky * n * n, 0, n,
		    sky);
		for (size_t i = 0; i < (size_t)n * n; i++) {
			size_t o = (size_t)sky * n * n + i;
			peak[sky] = fmax(peak[sky], fabs(dd[o]));
			err[sky] = fmax(err[sky], fabs(img[o] - dd[o]));
		}
	}
	ok(rv < ng / 2 && err[0] < 0.01 * peak[0] && err[1] < 0.01 * peak[1],
	    "two grids, one transform: each dirty image = its own direct transform (max error "
	    "%.2e and %.2e of the peak)", err[0] / peak[0], err[1] / peak[1]);
	img_fft_free(&f);
	img_grid_free(&g);
	img_kernel_free(&k);
	fftwf_free(gb);
	free(u);
	free(v);
	free(corr);
	free(dd);
	free(pd);
	free(V);
	free(w);
	free(img);
}

/* Beam models against textbook numbers: the Airy pattern of a uniformly
 * illuminated dish is 1/2 at 0.5145 lambda/D and 0 at 1.2197 lambda/D
 * (first zero of J1, 3.8317 / pi); the Gaussian is 1/2 at 0.6 lambda/D. */
static void test_beam_models(void)
{
	double f = 1.4e9, D = 4.65, ld = 299792458.0 / f / D;
	enum beam_model m;

	ok(fabs(beam_pb(BEAM_AIRY, 0.5145 * ld, f, D) - 0.5) < 2e-3 &&
	    beam_pb(BEAM_AIRY, 1.2197 * ld, f, D) < 1e-6 && beam_pb(BEAM_AIRY, 0, f, D) == 1,
	    "Airy: %.4f at 0.5145 lambda/D, %.2g at 1.2197 lambda/D",
	    beam_pb(BEAM_AIRY, 0.5145 * ld, f, D), beam_pb(BEAM_AIRY, 1.2197 * ld, f, D));
	ok(fabs(beam_pb(BEAM_GAUSS, 0.6 * ld, f, D) - 0.5) < 1e-9, "Gaussian: 1/2 at 0.6 lambda/D");
	ok(beam_parse("airy", &m) == 0 && m == BEAM_AIRY && beam_parse("gauss", &m) == 0 &&
	    m == BEAM_GAUSS && beam_parse("taper", &m) == 0 && m == BEAM_TAPER &&
	    beam_parse("cosine", &m) < 0, "beam model names parse");
	/* the tapered dish against its aperture integrated directly (numpy,
	 * trapezoid on 801 radii, J0 by its integral: tests/science_eval.py's
	 * taper_beam): 0.91977 at 0.5 deg, 0.45010 at 1.5, 0.07298 at 2.5 */
	ok(fabs(beam_pb(BEAM_TAPER, 0.5 * M_PI / 180, f, D) - 0.91977) < 1e-4 &&
	    fabs(beam_pb(BEAM_TAPER, 1.5 * M_PI / 180, f, D) - 0.45010) < 1e-4 &&
	    fabs(beam_pb(BEAM_TAPER, 2.5 * M_PI / 180, f, D) - 0.07298) < 1e-4 &&
	    beam_pb(BEAM_TAPER, 0, f, D) == 1,
	    "tapered dish: %.5f, %.5f, %.5f at 0.5, 1.5, 2.5 deg (direct integration: 0.91977, "
	    "0.45010, 0.07298)", beam_pb(BEAM_TAPER, 0.5 * M_PI / 180, f, D),
	    beam_pb(BEAM_TAPER, 1.5 * M_PI / 180, f, D), beam_pb(BEAM_TAPER, 2.5 * M_PI / 180, f, D));
	{
		double z = beam_first_null(BEAM_TAPER, f, D);
		ok(beam_pb(BEAM_TAPER, z, f, D) < 1e-10 && beam_pb(BEAM_TAPER, 0.95 * z, f, D) > 1e-4 &&
		    z > 1.2197 * ld, "tapered dish: first null at %.4f lambda/D, beyond Airy's", z / ld);
	}
}

static void test_rms(void)
{
	int n = 200000;
	float *x = malloc(sizeof *x * n);
	double r;

	for (int i = 0; i < n; i++)
		x[i] = (float)(3 + 0.25 * gauss());
	for (int i = 0; i < 500; i++)
		x[i * 400] = 1000; /* outliers (sources) */
	r = img_robust_rms(x, n, 1);
	ok(fabs(r - 0.25) < 0.01, "robust rms of N(3, 0.25) with outliers: %.4f", r);
	free(x);
}

/* A store of nr rows x nc channels at random (u, v) within umax
 * wavelengths, random visibilities and weights, some flagged (0). */
static void make_store(struct img_vstore *s, int nr, int nc, double umax)
{
	memset(s, 0, sizeof *s);
	s->avg = 1;
	s->nseg = 1;
	s->seg = calloc(1, sizeof *s->seg);
	s->seg->nrow = (size_t)nr;
	s->seg->nchan = nc;
	s->seg->freq = malloc(sizeof(double) * nc);
	s->seg->width = malloc(sizeof(double) * nc);
	for (int j = 0; j < nc; j++) {
		s->seg->freq[j] = 1.3e9 + 2e7 * j;
		s->seg->width[j] = 2e7;
	}
	s->nrow = (size_t)nr;
	s->nvis = (size_t)nr * nc;
	s->u = malloc(sizeof *s->u * nr);
	s->v = malloc(sizeof *s->v * nr);
	s->V = malloc(sizeof *s->V * s->nvis);
	s->w = malloc(sizeof *s->w * s->nvis);
	for (int r = 0; r < nr; r++) {
		/* metres: within umax wavelengths at the highest frequency */
		double lam = IMG_C / s->seg->freq[nc - 1];
		s->u[r] = (2 * uni() - 1) * umax * lam;
		s->v[r] = (2 * uni() - 1) * umax * lam;
	}
	for (size_t i = 0; i < s->nvis; i++) {
		s->V[i] = (float)gauss() + I * (float)gauss();
		s->w[i] = uni() < 0.1 ? 0 : (float)(0.5 + uni());
	}
}

static void test_store_threads(void)
{
	int n = 128, ng = 160, ngp = 256, nr = 3000, nc = 8, loaded, saved, st;
	double cell = 2e-4, umax = 0.5 / cell * 0.8, maxd = 0, maxg = 0, sw = 0;
	size_t nn = (size_t)ng * ng, np = (size_t)ngp * ngp;
	struct img_kernel k;
	struct img_grid g[4];
	struct img_vstore s;
	struct img_fft f;
	float *model = calloc((size_t)n * n, sizeof *model);
	double *corr = malloc(sizeof *corr * n);
	float complex *mg = fftwf_malloc(sizeof *mg * nn), *ref;
	char err[IMG_ERRLEN];
	int same = 1, same_r = 1;

	img_kernel_init(&k, 7, 1024, 13.0);
	make_store(&s, nr, nc, umax);
	for (int t = 0; t < 4; t++)
		img_grid_init(&g[t], ng, ngp, cell, &k, t == 3 ? IMG_NATURAL : IMG_BRIGGS, 0.5);
	/* g[3]: the one-at-a-time reference, natural weights */
	for (int r = 0; r < nr; r++)
		for (int j = 0; j < nc; j++) {
			double fr = s.seg->freq[j] / IMG_C;
			size_t i = (size_t)r * nc + j;
			if (s.w[i] > 0)
				img_grid_add(&g[3], s.u[r] * fr, s.v[r] * fr, s.V[i], s.w[i], s.seg->freq[j]);
		}
	for (int t = 0; t < 3; t++)
		ok(img_grid_store(&g[t], &s, NULL, t + 1) == 0, "store gridded on %d thread(s)", t + 1);
	for (int t = 1; t < 3; t++)
		same &= !memcmp(g[0].vis, g[t].vis, sizeof *g[0].vis * nn) &&
		    !memcmp(g[0].psf, g[t].psf, sizeof *g[0].psf * np) && g[0].sumw == g[t].sumw &&
		    g[0].nvis == g[t].nvis;
	ok(same, "Briggs-weighted dirty and PSF grids bit-identical on 1, 2, 3 threads "
	    "(sumw %.6f, %lld vis)", g[0].sumw, g[0].nvis);
	/* natural weights on one thread against img_grid_add */
	img_grid_free(&g[0]);
	img_grid_init(&g[0], ng, ngp, cell, &k, IMG_NATURAL, 0);
	img_grid_store(&g[0], &s, NULL, 2);
	for (size_t i = 0; i < nn; i++) {
		maxd = fmax(maxd, cabsf(g[0].vis[i] - g[3].vis[i]));
		maxg = fmax(maxg, cabsf(g[3].vis[i]));
	}
	for (size_t i = 0; i < s.nvis; i++)
		sw += s.w[i];
	ok(maxd < 1e-5 * maxg && fabs(g[0].sumw - sw) < 1e-9 * sw && g[0].nvis == g[3].nvis,
	    "store gridding = img_grid_add one at a time: max difference %.2g of %.3g, sumw %.6f "
	    "(%.6f)", maxd, maxg, g[0].sumw, sw);
	/* a major cycle's residual: same model grid, 1, 2, 3 threads */
	img_fft_plan(&f, ng, mg, FFTW_ESTIMATE, NULL, &loaded, &saved, &st, err);
	img_kernel_correction(&k, ng, n, corr);
	model[64 * n + 64] = 1;
	model[30 * n + 90] = 0.5f;
	img_model_grid(model, n, ng, corr, mg);
	img_fft_exec(&f, mg);
	ref = fftwf_malloc(sizeof *ref * nn);
	for (int t = 0; t < 3; t++) {
		img_grid_store(&g[1], &s, mg, t + 1);
		if (t == 0)
			memcpy(ref, g[1].vis, sizeof *ref * nn);
		else
			same_r &= !memcmp(ref, g[1].vis, sizeof *ref * nn);
	}
	ok(same_r, "residual grids (degridded model subtracted) bit-identical on 1, 2, 3 threads");
	/* the weights remembered from the first pass against worked out afresh */
	for (size_t i = 0; g[1].wvis && i < s.nvis; i++)
		g[1].wvis[i] = -1;
	img_grid_store(&g[1], &s, mg, 2);
	ok(g[1].wvis && !memcmp(ref, g[1].vis, sizeof *ref * nn),
	    "residual grid with the remembered weights = with the weights worked out again");
	fftwf_free(ref);
	img_fft_free(&f);
	fftwf_free(mg);
	for (int t = 0; t < 4; t++)
		img_grid_free(&g[t]);
	img_vstore_free(&s);
	img_kernel_free(&k);
	free(model);
	free(corr);
}

int main(void)
{
	test_dft();
	test_wterm();
	test_beam();
	test_clean();
	test_clean_masked();
	test_rms();
	test_degrid();
	test_degrid_transposed();
	test_pruned();
	test_hermitian_pair();
	test_beam_models();
	test_store_threads();
	printf("1..%d\n", ntest);
	fftwf_cleanup();
	return nfail ? 1 : 0;
}

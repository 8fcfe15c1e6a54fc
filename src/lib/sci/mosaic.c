/*
 * mosaic.c: the hourly linear mosaic (contract and science in mosaic.h).
 *
 * Every input is read whole into memory (fsx_read_file, then cfitsio on
 * the memory copy, so a file name never meets cfitsio's extended syntax)
 * before the grid is chosen, because the grid covers them all. The mosaic
 * is then built one input at a time, one mosaic row at a time: wcslib maps
 * the row's span that the input can cover to the sky and into the input's
 * pixels in one call each, and the sums w B I and w B^2 are accumulated in
 * double precision.
 */
#include "sci/mosaic.h"

#include <errno.h>
#include <fitsio.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <wcs.h>
#include <wcshdr.h>

#include "core/cfg.h"
#include "core/fsx.h"
#include "core/prov.h"
#include "core/json.h"
#include "core/log.h"
#include "sci/astro.h"
#include "sci/beam.h"
#include "sci/geom.h"
#include "sci/img.h"
#include "core/ids.h"

#define D2R (GEOM_PI / 180.0)
#define SIDEREAL_DEG_S (360.98564736629 / 86400.0)
#define NBEAM 9          /* beam samples across a group's span */
#define EDGE_SAMPLES 32  /* points per side when finding an input's extent */
#define LZ_A 3           /* Lanczos kernel half-width (taps 2 LZ_A) */

struct input {
	const char *qa;
	char image[PATH_MAX];
	char why[256];        /* reason skipped, "" when used */
	int bad;              /* skipped for bad data (not a failed gate) */
	double rms, w;
	float *pix;
	long nx, ny;
	struct wcsprm *wcs;   /* celestial axes only */
	double freq, ra0, dec0, telapse, mjd_avg, bmaj, bmin, bpa, cell;
	double ptg[NBEAM][3]; /* pointing unit vectors through the group */
	int nptg;
	long bx0, bx1, by0, by1; /* mosaic pixels it may cover (0-based) */
};

struct grid {
	struct wcsprm w;
	long nx, ny;
	double ra, dec, cell; /* degrees */
	long long start;      /* hour start, epoch */
};

int mosaic_config(struct mosaic_opts *o, const struct cfg *c, char *err)
{
	const char *b = c ? cfg_str(c, "PB_MODEL", "airy") : "airy";
	const char *old = c ? cfg_str(c, "MOSAIC_BEAM", "") : "";
	enum beam_model was;

	memset(o, 0, sizeof *o);
	o->hours = c ? (int)cfg_int(c, "MOSAIC_HOURS", 1) : 1;
	o->npix = c ? (int)cfg_int(c, "MOSAIC_NPIX", 0) : 0;
	o->cell_arcsec = c ? cfg_double(c, "MOSAIC_CELL_ARCSEC", 0) : 0;
	o->cutoff = c ? cfg_double(c, "MOSAIC_PB_CUTOFF", 0.1) : 0.1;
	if (beam_parse(b, &o->beam) < 0)
		return snprintf(err, MOSAIC_ERRLEN, "bad PB_MODEL '%s' (taper, airy or gauss)", b), -1;
	/* MOSAIC_BEAM and MOSAIC_DISH_M, which configs written before the one
	 * model hold: mosaics divide by the images' beam whatever they say,
	 * and a value that would have differed is named once a mosaic */
	if (*old && (beam_parse(old, &was) < 0 || was != o->beam))
		log_warn("MOSAIC_BEAM=%s is no longer used: mosaics use PB_MODEL (%s), the "
			 "images' beam; remove the key", old, beam_name(o->beam));
	if (c && cfg_double(c, "MOSAIC_DISH_M", BEAM_DISH_M) != BEAM_DISH_M)
		log_warn("MOSAIC_DISH_M is no longer used: mosaics use the images' %.2f m dish; "
			 "remove the key", BEAM_DISH_M);
	if (o->hours < 1 || o->hours > 24 || 24 % o->hours)
		return snprintf(err, MOSAIC_ERRLEN, "bad MOSAIC_HOURS (a divisor of 24)"), -1;
	if (o->npix < 0 || o->npix > MOSAIC_MAXNPIX || o->npix % 2)
		return snprintf(err, MOSAIC_ERRLEN, "bad MOSAIC_NPIX (even, 0..%d)", MOSAIC_MAXNPIX), -1;
	if (!(o->cell_arcsec >= 0) || !(o->cutoff >= 0 && o->cutoff < 1))
		return snprintf(err, MOSAIC_ERRLEN, "bad MOSAIC_CELL_ARCSEC or MOSAIC_PB_CUTOFF"), -1;
	return 0;
}

static int fail(int *status, char *err, int st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(int *status, char *err, int st, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, MOSAIC_ERRLEN, fmt, ap);
	va_end(ap);
	*status = st;
	return -1;
}

static void unit(double ra_deg, double dec_deg, double v[3])
{
	double cd = cos(dec_deg * D2R);
	v[0] = cd * cos(ra_deg * D2R);
	v[1] = cd * sin(ra_deg * D2R);
	v[2] = sin(dec_deg * D2R);
}

static double key_dbl(fitsfile *f, const char *k, double dflt)
{
	double v;
	int st = 0;
	return fits_read_key_dbl(f, k, &v, NULL, &st) ? dflt : v;
}

/*
 * Read report in->qa and, when it passed, the image beside it. Returns 0
 * (in->why empty: usable; else skipped, in->bad for bad data), or -1 with
 * err/status for a report that is missing (the whole run stops).
 */
static int load(struct input *in, int *status, char *err)
{
	size_t len;
	char *js, *hdr = NULL, *buf = NULL;
	const char *slash;
	void *mem;
	size_t msize;
	fitsfile *f = NULL;
	int pass = 0, r, st = 0, naxis = 0, nkeys = 0, nrej = 0, nwcs = 0, bitpix;
	long naxes[4] = {1, 1, 1, 1};
	struct wcsprm *all = NULL;
	struct stat sb;

	if (stat(in->qa, &sb) == 0 && !S_ISREG(sb.st_mode)) {
		snprintf(in->why, sizeof in->why, "not a regular file");
		in->bad = 1;
		return 0;
	}
	js = fsx_read_file(in->qa, &len);
	if (!js) {
		if (errno == ENOENT)
			return fail(status, err, EX_NOINPUT, "cannot open '%s': %s", in->qa, strerror(errno));
		snprintf(in->why, sizeof in->why, "cannot read the report: %s", strerror(errno));
		in->bad = errno != EIO;
		return 0;
	}
	/* The top-level "pass" and "rms_jy" (null: not finite, so 0 and refused
	 * below as not positive). */
	if (strlen(js) != len || json_get_bool(js, "pass", &pass) != 1 ||
	    (r = json_get_number(js, "rms_jy", &in->rms)) < 0 || (r == 0 && !json_is_null(js, "rms_jy"))) {
		snprintf(in->why, sizeof in->why, "not a QA report");
		in->bad = 1;
		free(js);
		return 0;
	}
	if (r == 0)
		in->rms = 0;
	if (!pass) {
		snprintf(in->why, sizeof in->why, "failed the quality gate");
		free(js);
		return 0;
	}
	free(js);
	if (!(in->rms > 0) || !isfinite(in->rms)) {
		snprintf(in->why, sizeof in->why, "rms %g is not positive", in->rms);
		in->bad = 1;
		return 0;
	}
	in->w = 1 / (in->rms * in->rms);
	slash = strrchr(in->qa, '/');
	snprintf(in->image, sizeof in->image, "%.*simage.fits", slash ? (int)(slash - in->qa + 1) : 0,
	    in->qa);
	if (stat(in->image, &sb) == 0 && !S_ISREG(sb.st_mode)) {
		snprintf(in->why, sizeof in->why, "image: not a regular file");
		in->bad = 1;
		return 0;
	}
	buf = fsx_read_file(in->image, &len);
	if (!buf) {
		snprintf(in->why, sizeof in->why, "image: %s", strerror(errno));
		in->bad = errno != ENOENT && errno != EIO;
		return 0;
	}
	mem = buf;
	msize = len;
	in->bad = 1;
	if (len < 2880 || fits_open_memfile(&f, "image.fits", READONLY, &mem, &msize, 0, NULL, &st)) {
		snprintf(in->why, sizeof in->why, "image: not a FITS file");
		f = NULL;
		goto out;
	}
	if (fits_get_img_param(f, 4, &bitpix, &naxis, naxes, &st) || naxis < 2 || naxis > 4 ||
	    naxes[0] < 8 || naxes[1] < 8 || naxes[2] != 1 || naxes[3] != 1 ||
	    (double)naxes[0] * naxes[1] * 4 > (double)len) {
		snprintf(in->why, sizeof in->why, "image: the primary HDU is not a 2-D image");
		goto out;
	}
	in->nx = naxes[0];
	in->ny = naxes[1];
	in->pix = malloc((size_t)in->nx * (size_t)in->ny * sizeof *in->pix);
	if (!in->pix) {
		snprintf(in->why, sizeof in->why, "image: out of memory");
		goto out;
	}
	{
		float nul = NAN;
		int any;
		if (fits_read_img(f, TFLOAT, 1, (LONGLONG)in->nx * in->ny, &nul, in->pix, &any, &st)) {
			snprintf(in->why, sizeof in->why, "image: unreadable pixels");
			goto out;
		}
	}
	if (fits_hdr2str(f, 1, NULL, 0, &hdr, &nkeys, &st) ||
	    wcspih(hdr, nkeys, WCSHDR_all, 0, &nrej, &nwcs, &all) || nwcs < 1 || wcsset(all) ||
	    all->lng < 0 || all->lat < 0) {
		snprintf(in->why, sizeof in->why, "image: no valid celestial WCS");
		goto out;
	}
	in->freq = all->spec >= 0 ? all->crval[all->spec] : key_dbl(f, "FREQ", 0);
	if (!(in->freq > 1e6 && in->freq < 1e12)) {
		snprintf(in->why, sizeof in->why, "image: no frequency");
		goto out;
	}
	{
		int nsub = 2, axes[2] = {WCSSUB_LONGITUDE, WCSSUB_LATITUDE};
		in->wcs = calloc(1, sizeof *in->wcs);
		if (!in->wcs || (in->wcs->flag = -1, wcssub(1, all, &nsub, axes, in->wcs)) || nsub != 2 ||
		    wcsset(in->wcs)) {
			snprintf(in->why, sizeof in->why, "image: no valid celestial WCS");
			goto out;
		}
	}
	in->ra0 = in->wcs->crval[0];
	in->dec0 = in->wcs->crval[1];
	in->cell = fabs(in->wcs->cdelt[1]);
	in->telapse = key_dbl(f, "TELAPSE", 0);
	in->mjd_avg = key_dbl(f, "MJD-AVG", key_dbl(f, "MJD-OBS", 0));
	in->bmaj = key_dbl(f, "BMAJ", 0);
	in->bmin = key_dbl(f, "BMIN", 0);
	in->bpa = key_dbl(f, "BPA", 0);
	if (!(in->telapse >= 0 && in->telapse < 86400) || !(in->cell > 0)) {
		snprintf(in->why, sizeof in->why, "image: bad TELAPSE or cell");
		goto out;
	}
	/* the beam follows the meridian through the group: NBEAM pointings
	 * spread evenly over its span (one when the span is unknown) */
	in->nptg = in->telapse > 0 ? NBEAM : 1;
	for (int k = 0; k < in->nptg; k++) {
		double dt = in->nptg > 1 ? ((k + 0.5) / in->nptg - 0.5) * in->telapse : 0;
		unit(in->ra0 + dt * SIDEREAL_DEG_S, in->dec0, in->ptg[k]);
	}
	in->bad = 0;
out:
	if (in->bad && !in->why[0])
		snprintf(in->why, sizeof in->why, "image: unreadable");
	if (all)
		wcsvfree(&nwcs, &all);
	if (hdr)
		fits_free_memory(hdr, &st);
	if (f) {
		st = 0;
		fits_close_file(f, &st);
	}
	free(buf);
	return 0;
}

static void drop(struct input *in)
{
	free(in->pix);
	in->pix = NULL;
	if (in->wcs) {
		wcsfree(in->wcs);
		free(in->wcs);
		in->wcs = NULL;
	}
}

/* The mosaic's WCS: SIN at (ra, dec), cell degrees, nx x ny. 0 or -1. */
static int grid_wcs(struct grid *g)
{
	struct wcsprm *w = &g->w;
	w->flag = -1;
	if (wcsini(1, 2, w))
		return -1;
	strcpy(w->ctype[0], "RA---SIN");
	strcpy(w->ctype[1], "DEC--SIN");
	strcpy(w->cunit[0], "deg");
	strcpy(w->cunit[1], "deg");
	w->crval[0] = g->ra;
	w->crval[1] = g->dec;
	w->cdelt[0] = -g->cell;
	w->cdelt[1] = g->cell;
	w->crpix[0] = (double)(g->nx / 2 + 1);
	w->crpix[1] = (double)(g->ny / 2 + 1);
	w->lonpole = 180;
	strcpy(w->radesys, "ICRS");
	w->equinox = 2000;
	return wcsset(w) ? -1 : 0;
}

/*
 * Mosaic pixel extent (offsets from the reference pixel, and the 0-based
 * bounding box once the size is known) of input in: its border inside the
 * margin, sampled and mapped through the sky. -1 when a border point does
 * not project (beyond the SIN hemisphere).
 */
static int extent(struct grid *g, struct input *in, double *dx, double *dy)
{
	long m0 = (long)(MOSAIC_MARGIN * in->nx), m1 = (long)(MOSAIC_MARGIN * in->ny);
	double xlo = 1 + m0, xhi = in->nx - m0, ylo = 1 + m1, yhi = in->ny - m1;
	double minx = 1e30, maxx = -1e30, miny = 1e30, maxy = -1e30;
	for (int side = 0; side < 4; side++)
		for (int k = 0; k <= EDGE_SAMPLES; k++) {
			double t = (double)k / EDGE_SAMPLES, pix[2], img[2], phi, theta, world[2], out[2];
			int st;
			pix[0] = side < 2 ? xlo + t * (xhi - xlo) : (side == 2 ? xlo : xhi);
			pix[1] = side < 2 ? (side == 0 ? ylo : yhi) : ylo + t * (yhi - ylo);
			if (wcsp2s(in->wcs, 1, 2, pix, img, &phi, &theta, world, &st) ||
			    wcss2p(&g->w, 1, 2, world, &phi, &theta, img, out, &st))
				return -1;
			out[0] -= g->w.crpix[0];
			out[1] -= g->w.crpix[1];
			if (fabs(out[0]) > *dx)
				*dx = fabs(out[0]);
			if (fabs(out[1]) > *dy)
				*dy = fabs(out[1]);
			minx = fmin(minx, out[0]);
			maxx = fmax(maxx, out[0]);
			miny = fmin(miny, out[1]);
			maxy = fmax(maxy, out[1]);
		}
	/* 0-based mosaic pixels, a pixel of slack each way */
	in->bx0 = (long)floor(minx + g->w.crpix[0] - 1) - 1;
	in->bx1 = (long)ceil(maxx + g->w.crpix[0] - 1) + 1;
	in->by0 = (long)floor(miny + g->w.crpix[1] - 1) - 1;
	in->by1 = (long)ceil(maxy + g->w.crpix[1] - 1) + 1;
	return 0;
}

/*
 * Lanczos-3 weights k[0..5] for the taps at offsets -2..3 from the pixel
 * below a point f (0 <= f < 1) past it, normalised to sum 1 (so a constant
 * stays constant). Lanczos rather than bilinear: the restored beam is only
 * ~3 pixels wide, and bilinear interpolation lowers a peak between pixels
 * by up to ~10%.
 */
static void lanczos(double f, double *k)
{
	double sum = 0;
	for (int i = 0; i < 2 * LZ_A; i++) {
		double x = f - (i - LZ_A + 1);
		k[i] = fabs(x) < 1e-12 ? 1 : LZ_A * sin(GEOM_PI * x) * sin(GEOM_PI * x / LZ_A) /
		    (GEOM_PI * GEOM_PI * x * x);
		sum += k[i];
	}
	for (int i = 0; i < 2 * LZ_A; i++)
		k[i] /= sum;
}

/*
 * Add input in to the sums over the grid: for each mosaic pixel it covers
 * (inside its margin, every kernel tap finite), the Lanczos-3
 * interpolated value I,
 * the group-averaged beam B, num += w B I and den += w B^2. 0 or -1 (ENOMEM).
 */
static int accumulate(const struct mosaic_opts *o, const struct grid *g, const struct input *in,
    double *num, double *den)
{
	long x0 = in->bx0 < 0 ? 0 : in->bx0, x1 = in->bx1 >= g->nx ? g->nx - 1 : in->bx1;
	long y0 = in->by0 < 0 ? 0 : in->by0, y1 = in->by1 >= g->ny ? g->ny - 1 : in->by1;
	long n = x1 - x0 + 1, m0 = (long)(MOSAIC_MARGIN * in->nx), m1 = (long)(MOSAIC_MARGIN * in->ny);
	double *pix, *img, *phi, *theta, *world, *ipix;
	int *st, rc = -1;
	if (n <= 0 || y1 < y0)
		return 0;
	pix = malloc((size_t)n * 2 * sizeof *pix);
	img = malloc((size_t)n * 2 * sizeof *img);
	world = malloc((size_t)n * 2 * sizeof *world);
	ipix = malloc((size_t)n * 2 * sizeof *ipix);
	phi = malloc((size_t)n * sizeof *phi);
	theta = malloc((size_t)n * sizeof *theta);
	st = malloc((size_t)n * sizeof *st);
	if (!pix || !img || !world || !ipix || !phi || !theta || !st)
		goto out;
	for (long y = y0; y <= y1; y++) {
		for (long k = 0; k < n; k++) {
			pix[2 * k] = (double)(x0 + k + 1);
			pix[2 * k + 1] = (double)(y + 1);
		}
		/* a status of 8/9 flags bad points per coordinate (st[k] != 0);
		 * those are skipped below, the rest are valid */
		wcsp2s((struct wcsprm *)&g->w, (int)n, 2, pix, img, phi, theta, world, st);
		for (long k = 0; k < n; k++)
			if (st[k])
				world[2 * k] = world[2 * k + 1] = NAN;
		wcss2p(in->wcs, (int)n, 2, world, phi, theta, img, ipix, st);
		for (long k = 0; k < n; k++) {
			double px = ipix[2 * k] - 1, py = ipix[2 * k + 1] - 1, v, b = 0, u[3];
			double kx[2 * LZ_A], ky[2 * LZ_A];
			long ix, iy;
			if (st[k] || !isfinite(px) || !isfinite(py) || px < m0 || py < m1 ||
			    px > in->nx - 1 - m0 || py > in->ny - 1 - m1)
				continue;
			ix = (long)floor(px);
			iy = (long)floor(py);
			if (ix - LZ_A + 1 < 0 || iy - LZ_A + 1 < 0 || ix + LZ_A >= in->nx || iy + LZ_A >= in->ny)
				continue;
			lanczos(px - ix, kx);
			lanczos(py - iy, ky);
			v = 0;
			for (int j = 0; j < 2 * LZ_A; j++) {
				const float *p = in->pix + (iy - LZ_A + 1 + j) * in->nx + ix - LZ_A + 1;
				double row = 0;
				for (int i = 0; i < 2 * LZ_A; i++)
					row += kx[i] * p[i];
				v += ky[j] * row;
			}
			if (!isfinite(v))
				continue;
			unit(world[2 * k], world[2 * k + 1], u);
			for (int q = 0; q < in->nptg; q++) {
				double dx = u[0] - in->ptg[q][0], dy = u[1] - in->ptg[q][1],
				       dz = u[2] - in->ptg[q][2];
				double chord = sqrt(dx * dx + dy * dy + dz * dz);
				b += beam_pb(o->beam, 2 * asin(fmin(chord / 2, 1)), in->freq, BEAM_DISH_M);
			}
			b /= in->nptg;
			num[y * g->nx + x0 + k] += in->w * b * v;
			den[y * g->nx + x0 + k] += in->w * b * b;
		}
	}
	rc = 0;
out:
	free(pix);
	free(img);
	free(world);
	free(ipix);
	free(phi);
	free(theta);
	free(st);
	return rc;
}

/* s with bytes outside printable ASCII (and the quote) as \xNN into out. */
static void printable(const char *s, char *out, size_t n)
{
	size_t k = 0;
	for (; *s && k + 5 < n; s++) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x20 || c > 0x7e || c == '\\' || c == '\'')
			k += (size_t)snprintf(out + k, n - k, "\\x%02x", c);
		else
			out[k++] = (char)c;
	}
	out[k] = 0;
}

static void put_wcs(fitsfile *f, const struct grid *g, int *st)
{
	fits_update_key_str(f, "CTYPE1", "RA---SIN", NULL, st);
	fits_update_key_dbl(f, "CRVAL1", g->ra, 15, "[deg] meridian at the hour's mid-time", st);
	fits_update_key_dbl(f, "CDELT1", -g->cell, 15, "[deg]", st);
	fits_update_key_dbl(f, "CRPIX1", g->w.crpix[0], 10, NULL, st);
	fits_update_key_str(f, "CUNIT1", "deg", NULL, st);
	fits_update_key_str(f, "CTYPE2", "DEC--SIN", NULL, st);
	fits_update_key_dbl(f, "CRVAL2", g->dec, 15, "[deg] pointing declination", st);
	fits_update_key_dbl(f, "CDELT2", g->cell, 15, "[deg]", st);
	fits_update_key_dbl(f, "CRPIX2", g->w.crpix[1], 10, NULL, st);
	fits_update_key_str(f, "CUNIT2", "deg", NULL, st);
	fits_update_key_dbl(f, "LONPOLE", 180.0, 6, NULL, st);
	fits_update_key_str(f, "RADESYS", "ICRS", NULL, st);
}

/* Build the FITS file in memory and write it to out atomically. */
static int write_fits(const struct mosaic_opts *o, const struct grid *g, struct input *in, int n,
    const float *mos, const float *wt, const float *rms, double wmax, const char *out,
    int *status, char *err)
{
	fitsfile *f = NULL;
	int st = 0, nused = 0;
	long naxes[2] = {g->nx, g->ny};
	LONGLONG nel = (LONGLONG)g->nx * g->ny, hs, ds, de;
	void *buf = malloc(2880 * 16);
	size_t size = 2880 * 16;
	char d[32], line[PATH_MAX + 400], esc[PATH_MAX * 4 + 1], hour[IDS_LEN], msg[FLEN_ERRMSG];
	double freq = 0, bmaj = 0, bmin = 0, bpa = 0;
	struct fsx_out fo;

	if (!buf)
		return fail(status, err, EX_OSERR, "out of memory for the FITS mosaic");
	for (int i = 0; i < n; i++)
		if (!in[i].why[0]) {
			nused++;
			freq += in[i].freq;
			bmaj += in[i].bmaj;
			bmin += in[i].bmin;
			bpa += in[i].bpa;
		}
	if (nused) {
		freq /= nused;
		bmaj /= nused;
		bmin /= nused;
		bpa /= nused;
	}
	ids_hour_id(g->start, hour);
	fits_create_memfile(&f, &buf, &size, 2880 * 1024, realloc, &st);
	fits_create_img(f, FLOAT_IMG, 2, naxes, &st);
	fits_update_key_str(f, "BTYPE", "Intensity", NULL, &st);
	fits_update_key_str(f, "BUNIT", "Jy/beam", "primary-beam corrected", &st);
	snprintf(line, sizeof line, "mosaic %s", hour);
	fits_update_key_str(f, "OBJECT", line, NULL, &st);
	fits_update_key_str(f, "TELESCOP", "DSA-110", NULL, &st);
	fits_update_key_str(f, "ORIGIN", "uvmake uvm-mosaic", NULL, &st);
	fits_update_key_str(f, "MOSHOUR", hour, "uvmake hour id (UTC)", &st);
	fits_update_key_lng(f, "MOSHOURS", o->hours, "hours per mosaic", &st);
	geom_iso((double)g->start / 86400.0 + 2440587.5, d);
	d[strcspn(d, "Z")] = 0;
	fits_update_key_str(f, "DATE-OBS", d, "start of the hour (UTC)", &st);
	fits_update_key_dbl(f, "MJD-OBS", (double)g->start / 86400.0 + 40587.0, 10, NULL, &st);
	geom_iso((double)(g->start + o->hours * 1800LL) / 86400.0 + 2440587.5, d);
	d[strcspn(d, "Z")] = 0;
	fits_update_key_str(f, "DATE-AVG", d, "mid-time: grid centre RA = LST", &st);
	put_wcs(f, g, &st);
	fits_update_key_dbl(f, "FREQ", freq, 12, "[Hz] mean frequency of the inputs", &st);
	fits_update_key_dbl(f, "BMAJ", bmaj, 10, "[deg] mean restoring beam of the inputs", &st);
	fits_update_key_dbl(f, "BMIN", bmin, 10, "[deg]", &st);
	fits_update_key_dbl(f, "BPA", bpa, 8, "[deg]", &st);
	fits_update_key_lng(f, "NINPUT", nused, "images used", &st);
	fits_update_key_lng(f, "NSKIPPED", n - nused, "reports skipped (HISTORY says why)", &st);
	fits_update_key_str(f, "PBTYPE", beam_name(o->beam), "primary beam (PB_MODEL, beam.h)", &st);
	fits_update_key_dbl(f, "DISHDIAM", BEAM_DISH_M, 6, "[m]", &st);
	fits_update_key_dbl(f, "PBCUTOFF", o->cutoff, 6, "blank where weight < PBCUTOFF*WTMAX", &st);
	fits_update_key_dbl(f, "WTMAX", wmax, 10, "[(Jy/beam)^-2] largest weight", &st);
	fits_update_key_str(f, "INTERP", "lanczos3", "reprojection interpolation", &st);
	fits_write_history(f, "uvm-mosaic: M = sum w B I / sum w B^2, w = 1/rms^2 from qa.json", &st);
	for (int i = 0; i < n; i++) {
		printable(in[i].why[0] ? in[i].qa : in[i].image, esc, sizeof esc);
		if (in[i].why[0])
			snprintf(line, sizeof line, "skipped %s: %s", esc, in[i].why);
		else
			snprintf(line, sizeof line, "used %s: rms %.6g Jy/beam, freq %.9g Hz", esc,
			    in[i].rms, in[i].freq);
		fits_write_history(f, line, &st);
	}
	prov_fits_write(f, &st);
	fits_write_img(f, TFLOAT, 1, nel, (void *)mos, &st);
	fits_create_img(f, FLOAT_IMG, 2, naxes, &st);
	fits_update_key_str(f, "EXTNAME", "WEIGHT", "sum of w B^2", &st);
	fits_update_key_str(f, "BUNIT", "(Jy/beam)**-2", NULL, &st);
	put_wcs(f, g, &st);
	fits_write_img(f, TFLOAT, 1, nel, (void *)wt, &st);
	fits_create_img(f, FLOAT_IMG, 2, naxes, &st);
	fits_update_key_str(f, "EXTNAME", "RMS", "expected noise, 1/sqrt(WEIGHT)", &st);
	fits_update_key_str(f, "BUNIT", "Jy/beam", NULL, &st);
	put_wcs(f, g, &st);
	fits_write_img(f, TFLOAT, 1, nel, (void *)rms, &st);
	fits_flush_file(f, &st);
	fits_get_hduaddrll(f, &hs, &ds, &de, &st);
	fits_close_file(f, &st);
	if (st) {
		fits_get_errstatus(st, msg);
		free(buf);
		return fail(status, err, EX_SOFTWARE, "cannot build the FITS mosaic: %s", msg);
	}
	de = (de + 2879) / 2880 * 2880;
	if ((size_t)de > size)
		de = (LONGLONG)size;
	if (fsx_reserve(&fo, out, 0644) < 0) {
		int e = errno;
		free(buf);
		return fail(status, err, fsx_exit_for_errno(e), "cannot create '%s': %s", out, strerror(e));
	}
	if (fsx_write_all(fo.fd, buf, (size_t)de) < 0 || fsx_commit(&fo) < 0) {
		int e = errno;
		fsx_abort(&fo);
		free(buf);
		return fail(status, err, fsx_exit_for_errno(e), "cannot write '%s': %s", out, strerror(e));
	}
	free(buf);
	return 0;
}

static int by_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int mosaic_make(const struct mosaic_opts *o, char **qa, int n, const char *out, int *nused,
    int *nskip, int *status, char *err)
{
	struct input *in = calloc((size_t)(n ? n : 1), sizeof *in);
	char **sorted = malloc((size_t)(n ? n : 1) * sizeof *sorted);
	struct grid g;
	double *num = NULL, *den = NULL, wmax = 0, mdx = 0, mdy = 0;
	float *mos = NULL, *wt = NULL, *rms = NULL;
	int rc = -1, first = -1, nbad = 0;
	size_t np;
	char e2[IMG_ERRLEN];

	memset(&g, 0, sizeof g);
	g.w.flag = -1;
	*nused = *nskip = 0;
	if (!in || !sorted) {
		fail(status, err, EX_OSERR, "out of memory");
		goto out;
	}
	if (img_check_output(out, e2) < 0) {
		fail(status, err, EX_CANTCREAT, "%s", e2);
		goto out;
	}
	memcpy(sorted, qa, (size_t)n * sizeof *sorted);
	qsort(sorted, (size_t)n, sizeof *sorted, by_str);
	for (int i = 0; i < n; i++) {
		in[i].qa = sorted[i];
		if (load(&in[i], status, err) < 0)
			goto out;
		if (in[i].why[0]) {
			drop(&in[i]);
			(*nskip)++;
			nbad += in[i].bad;
		} else {
			(*nused)++;
			if (first < 0)
				first = i;
		}
	}
	if (first < 0 && nbad) {
		int b = 0;
		while (!in[b].bad)
			b++;
		fail(status, err, EX_DATAERR, "no usable input, %d of %d bad: '%s': %s", nbad, n, in[b].qa,
		    in[b].why);
		goto out;
	}
	if (first < 0 && !o->blank_ok) {
		fail(status, err, EX_UNAVAILABLE, "no input passed the quality gate (%d skipped)", n);
		goto out;
	}
	/* the hour: given, or the one holding the first input's mid-time */
	if (o->hour[0]) {
		if (ids_parse_hour(o->hour, o->hours, &g.start) < 0) {
			fail(status, err, EX_USAGE, "bad hour '%s' (YYYYMMDDTHH, a multiple of %d hours)",
			    o->hour, o->hours);
			goto out;
		}
	} else if (first >= 0) {
		long long t = (long long)floor((in[first].mjd_avg - 40587.0) * 86400.0);
		g.start = t - ((t % (o->hours * 3600LL)) + o->hours * 3600LL) % (o->hours * 3600LL);
	} else {
		fail(status, err, EX_UNAVAILABLE, "no input passed the quality gate, and no hour given (-H)");
		goto out;
	}
	g.dec = first >= 0 ? in[first].dec0 : 0;
	{       /* the mid-hour meridian (CIRS), as an ICRS position */
		double jd = (double)(g.start + o->hours * 1800LL) / 86400.0 + 2440587.5, ra, dec;
		astro_cirs_to_icrs(jd, geom_lst(jd, GEOM_OVRO_LON_DEG), g.dec * D2R, &ra, &dec);
		g.ra = ra / D2R;
	}
	g.cell = o->cell_arcsec / 3600;
	for (int i = 0; i < n && !o->cell_arcsec; i++)
		if (!in[i].why[0] && (g.cell == 0 || in[i].cell < g.cell))
			g.cell = in[i].cell;
	if (g.cell == 0)
		g.cell = 60.0 / 3600;
	g.nx = g.ny = o->npix ? o->npix : 2;
	if (grid_wcs(&g) < 0) {
		fail(status, err, EX_SOFTWARE, "cannot set up the mosaic grid");
		goto out;
	}
	for (int i = 0; i < n; i++)
		if (!in[i].why[0] && extent(&g, &in[i], &mdx, &mdy) < 0) {
			fail(status, err, EX_DATAERR, "'%s': does not project onto the hour's grid", in[i].image);
			goto out;
		}
	if (!o->npix && first >= 0) {
		g.nx = 2 * (long)ceil(mdx + 1);
		g.ny = 2 * (long)ceil(mdy + 1);
		if (g.nx > MOSAIC_MAXNPIX || g.ny > MOSAIC_MAXNPIX) {
			fail(status, err, EX_DATAERR, "the inputs span %ld x %ld pixels (at most %d)", g.nx, g.ny,
			    MOSAIC_MAXNPIX);
			goto out;
		}
		wcsfree(&g.w);
		if (grid_wcs(&g) < 0) {
			fail(status, err, EX_SOFTWARE, "cannot set up the mosaic grid");
			goto out;
		}
		mdx = mdy = 0;
		for (int i = 0; i < n; i++)
			if (!in[i].why[0])
				extent(&g, &in[i], &mdx, &mdy);
	}
	np = (size_t)g.nx * (size_t)g.ny;
	num = calloc(np, sizeof *num);
	den = calloc(np, sizeof *den);
	mos = malloc(np * sizeof *mos);
	wt = malloc(np * sizeof *wt);
	rms = malloc(np * sizeof *rms);
	if (!num || !den || !mos || !wt || !rms) {
		fail(status, err, EX_OSERR, "out of memory for a %ld x %ld mosaic", g.nx, g.ny);
		goto out;
	}
	for (int i = 0; i < n; i++) {
		if (in[i].why[0])
			continue;
		if (accumulate(o, &g, &in[i], num, den) < 0) {
			fail(status, err, EX_OSERR, "out of memory");
			goto out;
		}
		drop(&in[i]);
	}
	for (size_t k = 0; k < np; k++)
		if (den[k] > wmax)
			wmax = den[k];
	for (size_t k = 0; k < np; k++) {
		int blank = !(den[k] > 0) || den[k] < o->cutoff * wmax;
		mos[k] = blank ? NAN : (float)(num[k] / den[k]);
		wt[k] = (float)den[k];
		rms[k] = blank ? NAN : (float)(1 / sqrt(den[k]));
	}
	rc = write_fits(o, &g, in, n, mos, wt, rms, wmax, out, status, err);
out:
	for (int i = 0; in && i < n; i++)
		drop(&in[i]);
	if (g.w.flag != -1)
		wcsfree(&g.w);
	free(in);
	free(sorted);
	free(num);
	free(den);
	free(mos);
	free(wt);
	free(rms);
	return rc;
}

/*
 * mosaic.c: the hourly linear mosaic (contract and science in mosaic.h):
 * the inputs, the grid, and the order of the work.
 *
 * Each input's header is read first (the grid covers them all); its
 * pixels are read again, one input at a time, only when they are added,
 * so an hour of twelve 6720^2 images never holds more than one. The sums
 * are float grids: w B^2 of every input first (mosaic_map.c, cheap), so
 * that the interpolation of each input's pixels, the costly part, is done
 * only where the mosaic will not be blank.
 */
#include "sci/mosaic_int.h"

#include <errno.h>
#include <fitsio.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
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
#define EDGE_SAMPLES 32  /* points per side when finding an input's extent */

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
	/* the beam follows the meridian through the group: MOSAIC_NBEAM pointings
	 * spread evenly over its span (one when the span is unknown) */
	in->nptg = in->telapse > 0 ? MOSAIC_NBEAM : 1;
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

/* Let go of in's pixels (inside the file's buffer when there is one). */
static void drop_pixels(struct input *in)
{
	if (!in->buf)
		free(in->pix);
	free(in->buf);
	in->buf = NULL;
	in->pix = NULL;
}

static void drop(struct input *in)
{
	drop_pixels(in);
	if (in->wcs) {
		wcsfree(in->wcs);
		free(in->wcs);
		in->wcs = NULL;
	}
}

/*
 * Read the pixels of in's image (loaded before by load) into in->pix:
 * 32-bit floats are byte-swapped where they lie in the file's buffer and
 * 64-bit ones (uvm-image writes doubles) made floats there, other types
 * converted by cfitsio. 0, or -1 with err and *status when
 * the file is gone or no longer the image it was.
 */
static int read_pixels(struct input *in, int *status, char *err)
{
	size_t len, msize;
	void *mem;
	fitsfile *f = NULL;
	int st = 0, naxis = 0, bitpix = 0, scaled;
	long naxes[4] = {1, 1, 1, 1};
	LONGLONG hs, ds, de, nel = (LONGLONG)in->nx * in->ny;
	double bs = 1, bz = 0;

	in->buf = fsx_read_file(in->image, &len);
	if (!in->buf)
		return fail(status, err, EX_NOINPUT, "cannot open '%s': %s", in->image, strerror(errno));
	mem = in->buf;
	msize = len;
	if (fits_open_memfile(&f, "image.fits", READONLY, &mem, &msize, 0, NULL, &st) ||
	    fits_get_img_param(f, 4, &bitpix, &naxis, naxes, &st) || naxes[0] != in->nx ||
	    naxes[1] != in->ny || fits_get_hduaddrll(f, &hs, &ds, &de, &st)) {
		if (f) {
			st = 0;
			fits_close_file(f, &st);
		}
		drop_pixels(in);
		return fail(status, err, EX_DATAERR, "'%s' changed while the mosaic was made", in->image);
	}
	st = 0;
	fits_read_key_dbl(f, "BSCALE", &bs, NULL, &st);
	st = 0;
	fits_read_key_dbl(f, "BZERO", &bz, NULL, &st);
	st = 0;
	scaled = bs != 1 || bz != 0;
	if (bitpix == FLOAT_IMG && !scaled && ds + nel * 4 <= (LONGLONG)len) {
		uint32_t *u = (uint32_t *)(in->buf + ds); /* ds: a multiple of 2880 */
		for (LONGLONG k = 0; k < nel; k++)
			u[k] = __builtin_bswap32(u[k]);
		in->pix = (float *)u;
	} else if (bitpix == DOUBLE_IMG && !scaled && ds + nel * 8 <= (LONGLONG)len) {
		/* to float in place: float k lands at or before double k */
		const char *d = in->buf + ds;
		float *p = (float *)(in->buf + ds);
		for (LONGLONG k = 0; k < nel; k++) {
			uint64_t u;
			double v;
			memcpy(&u, d + 8 * k, 8);
			u = __builtin_bswap64(u);
			memcpy(&v, &u, 8);
			p[k] = (float)v;
		}
		in->pix = p;
	} else {
		float nul = NAN, *p = malloc((size_t)nel * sizeof *p);
		int any;
		if (!p || fits_read_img(f, TFLOAT, 1, nel, &nul, p, &any, &st)) {
			int why = p ? EX_DATAERR : EX_OSERR;
			st = 0;
			fits_close_file(f, &st);
			free(p);
			drop_pixels(in);
			return fail(status, err, why, "'%s': unreadable pixels", in->image);
		}
		free(in->buf);
		in->buf = NULL;
		in->pix = p;
	}
	st = 0;
	fits_close_file(f, &st);
	return 0;
}

/* The mosaic's WCS: SIN at (ra, dec) on pixel (cx, cy), cell degrees,
 * nx x ny. 0 or -1. */
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
	w->crpix[0] = g->cx;
	w->crpix[1] = g->cy;
	w->lonpole = 180;
	strcpy(w->radesys, "ICRS");
	w->equinox = 2000;
	return wcsset(w) ? -1 : 0;
}

/*
 * Mosaic pixel extent of input in (its border inside the margin, sampled
 * and mapped through the sky): the offsets from the reference pixel,
 * widening box (min x, max x, min y, max y), and in's 0-based bounding box
 * on the grid as it stands. -1 when a border point does not project
 * (beyond the SIN hemisphere).
 */
static int extent(struct grid *g, struct input *in, double *box)
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
			minx = fmin(minx, out[0]);
			maxx = fmax(maxx, out[0]);
			miny = fmin(miny, out[1]);
			maxy = fmax(maxy, out[1]);
		}
	box[0] = fmin(box[0], minx);
	box[1] = fmax(box[1], maxx);
	box[2] = fmin(box[2], miny);
	box[3] = fmax(box[3], maxy);
	/* 0-based mosaic pixels, a pixel of slack each way */
	in->bx0 = (long)floor(minx + g->w.crpix[0] - 1) - 1;
	in->bx1 = (long)ceil(maxx + g->w.crpix[0] - 1) + 1;
	in->by0 = (long)floor(miny + g->w.crpix[1] - 1) - 1;
	in->by1 = (long)ceil(maxy + g->w.crpix[1] - 1) + 1;
	return 0;
}

static int by_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The hour's grid for the usable inputs (first: the first of them, -1
 * for none): the hour (given or the first input's), the mid-hour
 * meridian as the projection's centre, the finest cell, and, unless the
 * size is fixed (then centred), the bounding box of every input: the
 * centre need not be on the grid, so a group at the start of the hour
 * costs its own width, not twice its distance from mid-hour. Each
 * input's box on it. 0, or -1 with err and *status.
 */
static int choose_grid(const struct mosaic_opts *o, struct input *in, int n, int first,
    struct grid *g, int *status, char *err)
{
	double box[4] = {1e300, -1e300, 1e300, -1e300};

	/* the hour: given, or the one holding the first input's mid-time */
	if (o->hour[0]) {
		if (ids_parse_hour(o->hour, o->hours, &g->start) < 0) {
			fail(status, err, EX_USAGE, "bad hour '%s' (YYYYMMDDTHH, a multiple of %d hours)",
			    o->hour, o->hours);
			return -1;
		}
	} else if (first >= 0) {
		long long t = (long long)floor((in[first].mjd_avg - 40587.0) * 86400.0);
		g->start = t - ((t % (o->hours * 3600LL)) + o->hours * 3600LL) % (o->hours * 3600LL);
	} else {
		fail(status, err, EX_UNAVAILABLE, "no input passed the quality gate, and no hour given (-H)");
		return -1;
	}
	g->dec = first >= 0 ? in[first].dec0 : 0;
	{       /* the mid-hour meridian (CIRS), as an ICRS position */
		double jd = (double)(g->start + o->hours * 1800LL) / 86400.0 + 2440587.5, ra, dec;
		astro_cirs_to_icrs(jd, geom_lst(jd, GEOM_OVRO_LON_DEG), g->dec * D2R, &ra, &dec);
		g->ra = ra / D2R;
	}
	g->cell = o->cell_arcsec / 3600;
	for (int i = 0; i < n && !o->cell_arcsec; i++)
		if (!in[i].why[0] && (g->cell == 0 || in[i].cell < g->cell))
			g->cell = in[i].cell;
	if (g->cell == 0)
		g->cell = 60.0 / 3600;
	g->nx = g->ny = o->npix ? o->npix : 2;
	g->cx = (double)(g->nx / 2 + 1);
	g->cy = (double)(g->ny / 2 + 1);
	if (grid_wcs(g) < 0) {
		fail(status, err, EX_SOFTWARE, "cannot set up the mosaic grid");
		return -1;
	}
	for (int i = 0; i < n; i++)
		if (!in[i].why[0] && extent(g, &in[i], box) < 0) {
			fail(status, err, EX_DATAERR, "'%s': does not project onto the hour's grid", in[i].image);
			return -1;
		}
	if (!o->npix && first >= 0) {
		/* offsets lo..hi from the old reference pixel, a pixel of
		 * slack each way, on pixels 1..n */
		double lox = floor(box[0]) - 1, loy = floor(box[2]) - 1;

		g->nx = (long)(ceil(box[1]) + 1 - lox) + 1;
		g->ny = (long)(ceil(box[3]) + 1 - loy) + 1;
		if (g->nx > MOSAIC_MAXSPAN || g->ny > MOSAIC_MAXSPAN ||
		    (double)g->nx * (double)g->ny > (double)MOSAIC_MAXNPIX * MOSAIC_MAXNPIX) {
			fail(status, err, EX_DATAERR, "the inputs span %ld x %ld pixels (at most %d a side, "
			    "%d squared in all)", g->nx, g->ny, MOSAIC_MAXSPAN, MOSAIC_MAXNPIX);
			return -1;
		}
		g->cx = 1 - lox;
		g->cy = 1 - loy;
		wcsfree(&g->w);
		if (grid_wcs(g) < 0) {
			fail(status, err, EX_SOFTWARE, "cannot set up the mosaic grid");
			return -1;
		}
		for (int i = 0; i < n; i++)
			if (!in[i].why[0])
				extent(g, &in[i], box);
	}
	return 0;
}

/*
 * The sums over the grid: w B^2 of every usable input first, then the
 * cut thr = cutoff x the largest weight (*wmax), then w B I of each input
 * where the weight reaches thr, one input's pixels read at a time.
 * 0, or -1 with err and *status.
 */
static int sum_inputs(const struct mosaic_opts *o, const struct grid *g, struct input *in, int n,
    float *num, float *den, double *thrp, double *wmaxp, int *status, char *err)
{
	struct mos_map *maps = calloc((size_t)(n ? n : 1), sizeof *maps);
	size_t np = (size_t)g->nx * (size_t)g->ny;
	double wmax = 0, thr;
	int nth = mosaic_threads(), rc = -1;

	if (!maps)
		return fail(status, err, EX_OSERR, "out of memory");
	/* the weights first: where the mosaic will be blank is then known */
	for (int i = 0; i < n; i++) {
		if (in[i].why[0])
			continue;
		if (mosaic_map_build(&maps[i], g, &in[i], o->beam, in[i].bx0, in[i].bx1, in[i].by0,
		    in[i].by1, nth) < 0 || mosaic_den(&maps[i], &in[i], g, den, nth) < 0) {
			fail(status, err, EX_OSERR, "out of memory");
			goto done;
		}
		log_debug("'%s': control points every %d pixels, interpolation within %.2g pixel and "
			  "%.2g in the beam", in[i].image, maps[i].step, maps[i].err_px, maps[i].err_beam);
	}
	for (size_t k = 0; k < np; k++)
		if (den[k] > wmax)
			wmax = den[k];
	thr = o->cutoff * wmax;
	for (int i = 0; i < n; i++) {
		if (in[i].why[0])
			continue;
		if (read_pixels(&in[i], status, err) < 0)
			goto done;
		if (mosaic_num(&maps[i], &in[i], g, num, den, thr, nth) < 0) {
			fail(status, err, EX_OSERR, "out of memory");
			goto done;
		}
		mosaic_map_free(&maps[i]);
		drop(&in[i]);
	}
	*thrp = thr;
	*wmaxp = wmax;
	rc = 0;
done:
	for (int i = 0; i < n; i++)
		mosaic_map_free(&maps[i]);
	free(maps);
	return rc;
}

int mosaic_make(const struct mosaic_opts *o, char **qa, int n, const char *out, int *nused,
    int *nskip, int *status, char *err)
{
	struct input *in = calloc((size_t)(n ? n : 1), sizeof *in);
	char **sorted = malloc((size_t)(n ? n : 1) * sizeof *sorted);
	struct grid g;
	double wmax = 0, thr = 0;
	float *num = NULL, *den = NULL;
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
	if (choose_grid(o, in, n, first, &g, status, err) < 0)
		goto out;
	np = (size_t)g.nx * (size_t)g.ny;
	num = calloc(np, sizeof *num);
	den = calloc(np, sizeof *den);
	if (!num || !den) {
		fail(status, err, EX_OSERR, "out of memory for a %ld x %ld mosaic", g.nx, g.ny);
		goto out;
	}
	if (sum_inputs(o, &g, in, n, num, den, &thr, &wmax, status, err) < 0)
		goto out;
	rc = mosaic_write(o, &g, in, n, num, den, thr, wmax, out, status, err);
out:
	for (int i = 0; in && i < n; i++)
		drop(&in[i]);
	if (g.w.flag != -1)
		wcsfree(&g.w);
	free(in);
	free(sorted);
	free(num);
	free(den);
	return rc;
}

/*
 * sources.c: SEP source finding on a restored image (contract in
 * sources.h).
 */
#include "sci/sources.h"

#include <errno.h>
#include <fitsio.h>
#include <math.h>
#include <sep.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <wcs.h>
#include <wcshdr.h>

#include "core/prov.h"
#include "sci/img.h"

static int fail(int *status, char *err, int st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(int *status, char *err, int st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, SOURCES_ERRLEN, fmt, ap);
	va_end(ap);
	*status = st;
	return -1;
}

static double key_dbl(fitsfile *f, const char *key)
{
	int st = 0;
	double v = NAN;

	if (fits_read_key(f, TDOUBLE, key, &v, NULL, &st))
		return NAN;
	return v;
}

void sources_free(struct src_catalog *c)
{
	free(c->s);
	c->s = NULL;
	c->n = 0;
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	if (n <= 0)
		return NAN;
	qsort(v, (size_t)n, sizeof *v, cmp_dbl);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Angular distance, degrees in, arcseconds out. */
static double sep_arcsec(double ra1, double dec1, double ra2, double dec2)
{
	double r = M_PI / 180, a = sin((dec2 - dec1) * r / 2), b = sin((ra2 - ra1) * r / 2);
	double h = a * a + cos(dec1 * r) * cos(dec2 * r) * b * b;

	return 2 * asin(fmin(1, sqrt(h))) / r * 3600;
}

int sources_read_ref(const char *path, struct src_ref **r, int *n, int *status, char *err)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	int cap = 64, ln = 0;

	*r = NULL;
	*n = 0;
	if (!f)
		return fail(status, err, errno == ENOENT ? EX_NOINPUT : EX_DATAERR,
		    "cannot read '%s': %s", path, strerror(errno));
	*r = malloc(sizeof **r * (size_t)cap);
	if (!*r) {
		fclose(f);
		return fail(status, err, EX_OSERR, "out of memory");
	}
	while (fgets(line, sizeof line, f)) {
		struct src_ref e;
		double mhz;
		char *p = line, *q;

		ln++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '#' || *p == '\n' || !*p)
			continue;
		q = strchr(p, ',');
		if (!q || q - p >= (long)sizeof e.name ||
		    sscanf(q + 1, "%lf,%lf,%lf,%lf,%lf", &e.ra_deg, &e.dec_deg, &e.flux_jy, &mhz,
			&e.alpha) != 5 || !(mhz > 0) || fabs(e.dec_deg) > 90 || !isfinite(e.flux_jy)) {
			fclose(f);
			free(*r);
			*r = NULL;
			*n = 0;
			return fail(status, err, EX_DATAERR, "'%s' line %d: not name,ra_deg,dec_deg,"
			    "flux_jy,ref_freq_mhz,spectral_index", path, ln);
		}
		snprintf(e.name, sizeof e.name, "%.*s", (int)(q - p), p);
		e.ref_hz = mhz * 1e6;
		if (*n == cap) {
			struct src_ref *t = realloc(*r, sizeof **r * (size_t)(cap *= 2));
			if (!t) {
				fclose(f);
				free(*r);
				*r = NULL;
				*n = 0;
				return fail(status, err, EX_OSERR, "out of memory");
			}
			*r = t;
		}
		(*r)[(*n)++] = e;
	}
	fclose(f);
	return 0;
}

/* The cross-match (contract in sources.h); rms is the SEP rms map. */
static void crossmatch(const struct src_catalog *c, struct wcsprm *w, const float *img,
    const float *rms, double thresh, const struct src_ref *ref, int nref, struct src_xmatch *xm)
{
	double bm = c->bmaj_arcsec, *ratio = malloc(sizeof *ratio * (size_t)(nref + 1));
	double *off = malloc(sizeof *off * (size_t)(nref + 1));
	double *dra = malloc(sizeof *dra * (size_t)(nref + 1));
	double *ddec = malloc(sizeof *ddec * (size_t)(nref + 1));

	xm->nref_in = xm->ndet = xm->nmatch = xm->nspur = 0;
	if (!ratio || !off || !dra || !ddec)
		goto out;
	for (int i = 0; i < nref; i++) {
		double world[9] = {0}, imc[9], phi, theta, pix[9], fl, best = INFINITY;
		int st1[1], xi, yi, bi = -1;

		for (int k = 0; k < w->naxis && k < 9; k++)
			world[k] = w->crval[k];
		world[w->lng] = ref[i].ra_deg;
		world[w->lat] = ref[i].dec_deg;
		if (wcss2p(w, 1, w->naxis, world, &phi, &theta, imc, pix, st1))
			continue;
		xi = (int)lround(pix[0] - 1);
		yi = (int)lround(pix[1] - 1);
		if (xi < 5 || yi < 5 || xi >= c->nx - 5 || yi >= c->ny - 5 ||
		    !isfinite(img[(size_t)yi * c->nx + xi]))
			continue;
		xm->nref_in++;
		fl = ref[i].flux_jy * pow(c->freq_hz / ref[i].ref_hz, ref[i].alpha);
		if (!(fl > thresh * rms[(size_t)yi * c->nx + xi]))
			continue;
		xm->ndet++;
		for (int j = 0; j < c->n; j++) {
			double d = sep_arcsec(ref[i].ra_deg, ref[i].dec_deg, c->s[j].ra_deg, c->s[j].dec_deg);
			if (c->s[j].reliable && d < best) {
				best = d;
				bi = j;
			}
		}
		if (bi < 0 || !(best < bm) || !isfinite(c->s[bi].int_jy))
			continue;
		ratio[xm->nmatch] = c->s[bi].int_jy / fl;
		off[xm->nmatch] = best;
		dra[xm->nmatch] = (c->s[bi].ra_deg - ref[i].ra_deg) * cos(ref[i].dec_deg * M_PI / 180) * 3600;
		ddec[xm->nmatch] = (c->s[bi].dec_deg - ref[i].dec_deg) * 3600;
		xm->nmatch++;
	}
	for (int j = 0; j < c->n; j++) {
		int hit = 0;
		if (!c->s[j].reliable)
			continue;
		for (int i = 0; i < nref && !hit; i++)
			hit = sep_arcsec(ref[i].ra_deg, ref[i].dec_deg, c->s[j].ra_deg, c->s[j].dec_deg) < bm;
		xm->nspur += !hit;
	}
	xm->completeness = xm->ndet ? (double)xm->nmatch / xm->ndet : NAN;
	xm->spurious_frac = c->n > c->nunreliable ? (double)xm->nspur / (c->n - c->nunreliable) : 0;
	xm->flux_ratio = median(ratio, xm->nmatch);
	for (int k = 0; k < xm->nmatch; k++)
		ratio[k] = fabs(ratio[k] - xm->flux_ratio);
	xm->flux_scatter = 1.482602218505602 * median(ratio, xm->nmatch);
	xm->offset_arcsec = median(off, xm->nmatch);
	xm->offset_beam = xm->offset_arcsec / bm;
	xm->dra_arcsec = median(dra, xm->nmatch);
	xm->ddec_arcsec = median(ddec, xm->nmatch);
	xm->pass = xm->nmatch > 0 && xm->flux_ratio >= xm->min_ratio &&
	    xm->flux_ratio <= xm->max_ratio && xm->offset_beam < xm->max_offset_beam;
out:
	free(ratio);
	free(off);
	free(dra);
	free(ddec);
}

/*
 * The image before primary-beam correction (sources_find's flat): opened
 * without cfitsio's extended file-name syntax, a regular file with an
 * image of nx x ny in its primary HDU. The open file, or NULL with err
 * and *status (66 missing, 65 otherwise).
 */
static fitsfile *open_flat(const char *path, long nx, long ny, int *status, char *err)
{
	struct stat sb;
	fitsfile *f = NULL;
	int st = 0, naxis = 0;
	long nax[9] = {0};

	if (stat(path, &sb) < 0) {
		fail(status, err, errno == ENOENT ? EX_NOINPUT : EX_DATAERR, "cannot read '%s': %s",
		    path, strerror(errno));
		return NULL;
	}
	if (!S_ISREG(sb.st_mode)) {
		fail(status, err, EX_DATAERR, "'%s': not a regular file", path);
		return NULL;
	}
	if (fits_open_diskfile(&f, path, READONLY, &st) || fits_get_img_dim(f, &naxis, &st) ||
	    naxis < 2 || naxis > 9 || fits_get_img_size(f, naxis, nax, &st) || nax[0] != nx ||
	    nax[1] != ny) {
		fail(status, err, EX_DATAERR, "'%s': not an image of %ld x %ld pixels", path, nx, ny);
		st = 0;
		if (f)
			fits_close_file(f, &st);
		return NULL;
	}
	return f;
}

/* Pixel (x, y) (0-based) of the first plane of f's image; NaN if it
 * cannot be read. */
static double pixel(fitsfile *f, int x, int y)
{
	long fp[9] = {x + 1, y + 1, 1, 1, 1, 1, 1, 1, 1};
	double v = NAN;
	int st = 0, anynul = 0;

	if (fits_read_pix(f, TDOUBLE, fp, 1, NULL, &v, &anynul, &st))
		return NAN;
	return v;
}

/* Background tile side in pixels: SOURCES_MESH_BEAMS beams, at least 16
 * pixels and at most a quarter of the image. */
static int mesh_px(double bmaj_arcsec, double cell_arcsec, long nx, long ny)
{
	long m = lround(SOURCES_MESH_BEAMS * bmaj_arcsec / cell_arcsec);
	long lim = (nx < ny ? nx : ny) / 4;

	if (m > lim)
		m = lim;
	return m < 16 ? 16 : (int)m;
}

/*
 * SEP's extraction of im above thresh x its noise. SEP links its whole
 * pixel stack up front: a stack of every pixel of a 6720^2 mosaic is
 * ~1.5 GB resident. A 64th of the image holds any sky (the pixels above
 * the threshold at once); a stack that fills is an error, and only then
 * is the whole image tried. SEP's status.
 */
static int extract(const sep_image *im, size_t np, double thresh, int minarea, sep_catalog **cat)
{
	int se;

	sep_set_extract_pixstack(np / 64 > 300000 ? np / 64 : 300000);
	se = sep_extract(im, (float)thresh, SEP_THRESH_REL, minarea, NULL, 0, 0, SEP_FILTER_CONV,
	    32, 0.005, 1, 1.0, cat);
	if (se != 0 && np / 64 > 300000) {
		sep_set_extract_pixstack(np);
		se = sep_extract(im, (float)thresh, SEP_THRESH_REL, minarea, NULL, 0, 0,
		    SEP_FILTER_CONV, 32, 0.005, 1, 1.0, cat);
	}
	return se;
}

/*
 * The negated image's detections (struct src_rel), found as the
 * catalogue's were (im's data, background already subtracted, negated
 * and restored in place), then each entry's counts within radius_pix
 * pixels. SEP's status, or -1 out of memory.
 */
static int reliability(struct src_catalog *c, sep_image *im, float *img, const float *rms,
    size_t np, double thresh, int minarea, double radius_pix, double max_false)
{
	sep_catalog *neg = NULL;
	double *nx, *ny, *ns;
	int se, nn;

	for (size_t k = 0; k < np; k++)
		img[k] = -img[k];
	se = extract(im, np, thresh, minarea, &neg);
	nn = se == 0 ? neg->nobj : 0;
	nx = se == 0 ? malloc(sizeof *nx * (size_t)(nn ? nn : 1) * 3) : NULL;
	ny = nx ? nx + (nn ? nn : 1) : NULL;
	ns = nx ? ny + (nn ? nn : 1) : NULL;
	for (int i = 0; nx && i < nn; i++) {
		int xp = neg->xpeak[i], yp = neg->ypeak[i];
		size_t pi = (size_t)yp * (size_t)im->w + (size_t)xp;
		double px = xp, py = yp, pk = img[pi];

		/* SEP's pixels are 0-based, the entries' FITS ones 1-based; the
		 * peak fitted as the entries' are */
		nx[i] = neg->x[i] + 1;
		ny[i] = neg->y[i] + 1;
		if (im->w == im->h)
			img_peak_fit(img, im->w, xp, yp, &px, &py, &pk);
		ns[i] = rms[pi] > 0 ? pk / rms[pi] : 0;
	}
	for (size_t k = 0; k < np; k++)
		img[k] = -img[k];
	if (neg)
		sep_catalog_free(neg);
	if (se != 0)
		return se;
	if (!nx)
		return -1;
	c->nneg = nn;
	c->nunreliable = 0;
	for (int j = 0; j < c->n; j++) {
		struct src_entry *e = &c->s[j];
		double r2 = radius_pix * radius_pix;

		e->nneg = e->npos = 0;
		for (int i = 0; i < nn; i++)
			e->nneg += ns[i] >= e->snr &&
			    (nx[i] - e->x) * (nx[i] - e->x) + (ny[i] - e->y) * (ny[i] - e->y) < r2;
		for (int k = 0; k < c->n; k++)
			e->npos += (k == j || c->s[k].snr >= e->snr) &&
			    (c->s[k].x - e->x) * (c->s[k].x - e->x) +
			    (c->s[k].y - e->y) * (c->s[k].y - e->y) < r2;
		e->reliable = e->nneg <= max_false * e->npos;
		c->nunreliable += !e->reliable;
	}
	free(nx);
	return 0;
}

int sources_find(const char *path, const char *flat, double thresh, int minarea,
    const struct src_rel *rel, const struct src_ref *ref, int nref, struct src_xmatch *xm,
    struct src_catalog *c, int *status, char *err)
{
	size_t np;
	char *hdr = NULL;
	fitsfile *f = NULL, *ff = NULL;
	int st = 0, naxis = 0, nkeys = 0, nrej = 0, nwcs = 0, rc = -1, anynul, se, mesh;
	long nax[9] = {0};
	struct wcsprm *w = NULL;
	float *img = NULL, *rms = NULL;
	sep_bkg *bkg = NULL;
	sep_catalog *cat = NULL;
	sep_image im;
	struct stat sb;
	double cell, beam_pix;

	memset(c, 0, sizeof *c);
	/* cfitsio's disk-file open (no extended file-name syntax) reads the
	 * primary HDU only: a mosaic's file holds three images. A symbolic
	 * link is refused, as an input read whole would be (O_NOFOLLOW) */
	if (lstat(path, &sb) < 0)
		return fail(status, err, errno == ENOENT ? EX_NOINPUT : EX_DATAERR,
		    "cannot read '%s': %s", path, strerror(errno));
	if (S_ISLNK(sb.st_mode))
		return fail(status, err, EX_DATAERR, "cannot read '%s': %s", path, strerror(ELOOP));
	if (!S_ISREG(sb.st_mode))
		return fail(status, err, EX_DATAERR, "'%s': not a regular file", path);
	if (sb.st_size < 2880 || fits_open_diskfile(&f, path, READONLY, &st)) {
		if (f) {
			st = 0;
			fits_close_file(f, &st);
		}
		return fail(status, err, EX_DATAERR, "'%s': not a FITS file", path);
	}
	if (fits_get_img_dim(f, &naxis, &st) || naxis < 2 || naxis > 9 ||
	    fits_get_img_size(f, naxis, nax, &st) || nax[0] < 1 || nax[1] < 1 ||
	    nax[0] > 65536 || nax[1] > 65536) {
		fail(status, err, EX_DATAERR, "'%s': the primary HDU is not an image", path);
		goto out;
	}
	np = (size_t)nax[0] * (size_t)nax[1];
	img = malloc(sizeof *img * np);
	rms = malloc(sizeof *rms * np);
	if (!img || !rms) {
		fail(status, err, EX_OSERR, "out of memory");
		goto out;
	}
	if (fits_read_img(f, TFLOAT, 1, (LONGLONG)np, NULL, img, &anynul, &st)) {
		fail(status, err, EX_DATAERR, "'%s': cannot read the image data", path);
		goto out;
	}
	{
		/* a blank image (a mosaic of an hour where no image passed QA)
		 * has no sources: an empty catalogue, not bad data */
		size_t k = 0;
		while (k < np && !isfinite(img[k]))
			k++;
		if (k == np) {
			c->nx = nax[0];
			c->ny = nax[1];
			c->freq_hz = key_dbl(f, "FREQ");
			rc = 0;
			goto out;
		}
	}
	if (nax[0] < 16 || nax[1] < 16) {
		fail(status, err, EX_DATAERR, "'%s': the primary HDU is not an image", path);
		goto out;
	}
	if (fits_hdr2str(f, 1, NULL, 0, &hdr, &nkeys, &st) ||
	    wcspih(hdr, nkeys, WCSHDR_all, 0, &nrej, &nwcs, &w) || nwcs < 1 || wcsset(w) ||
	    w->lng != 0 || w->lat != 1) {
		fail(status, err, EX_DATAERR, "'%s': no celestial WCS on the image axes", path);
		goto out;
	}
	c->nx = nax[0];
	c->ny = nax[1];
	c->bmaj_arcsec = key_dbl(f, "BMAJ") * 3600;
	c->bmin_arcsec = key_dbl(f, "BMIN") * 3600;
	c->bpa_deg = key_dbl(f, "BPA");
	/* a mosaic has no spectral axis: its FREQ card (mosaic.c) */
	c->freq_hz = w->spec >= 0 ? w->crval[w->spec] : key_dbl(f, "FREQ");
	cell = fabs(w->cdelt[1]) * 3600;
	if (!(c->bmaj_arcsec > 0) || !(c->bmin_arcsec > 0) || !(cell > 0)) {
		fail(status, err, EX_DATAERR, "'%s': no restoring beam (BMAJ, BMIN)", path);
		goto out;
	}
	/* beam area in pixels: the sum of a Jy/beam image over a point source */
	beam_pix = M_PI * c->bmaj_arcsec * c->bmin_arcsec / (4 * M_LN2) / (cell * cell);
	if (flat && !(ff = open_flat(flat, nax[0], nax[1], status, err)))
		goto out;
	mesh = c->mesh = mesh_px(c->bmaj_arcsec, cell, nax[0], nax[1]);
	/* without a flat image the file is not read again: let cfitsio's
	 * buffers go before SEP's arrays are made */
	if (!ff) {
		st = 0;
		fits_close_file(f, &st);
		f = NULL;
	}

	memset(&im, 0, sizeof im);
	im.data = img;
	im.dtype = SEP_TFLOAT;
	im.w = (int)nax[0];
	im.h = (int)nax[1];
	im.noise_type = SEP_NOISE_NONE;
	if ((se = sep_background(&im, mesh, mesh, 3, 3, 0.0, &bkg)) != 0 ||
	    (se = sep_bkg_rmsarray(bkg, rms, SEP_TFLOAT)) != 0 ||
	    (se = sep_bkg_subarray(bkg, img, SEP_TFLOAT)) != 0) {
		fail(status, err, EX_SOFTWARE, "SEP background: error %d", se);
		goto out;
	}
	c->rms_jy = sep_bkg_globalrms(bkg);
	im.noise = rms;
	im.ndtype = SEP_TFLOAT;
	im.noise_type = SEP_NOISE_STDDEV;
	if ((se = extract(&im, np, thresh, minarea, &cat)) != 0) {
		fail(status, err, EX_SOFTWARE, "SEP extraction: error %d", se);
		goto out;
	}
	c->s = calloc(cat->nobj ? (size_t)cat->nobj : 1, sizeof *c->s);
	if (!c->s) {
		fail(status, err, EX_OSERR, "out of memory");
		goto out;
	}
	for (int i = 0; i < cat->nobj; i++) {
		struct src_entry *e = &c->s[c->n];
		double pix[9] = {0}, imc[9], phi, theta, world[9], sum = 0, sumerr = 0, area = 0;
		double px, py, pk, r = 3;
		int stat1[1], xp = cat->xpeak[i], yp = cat->ypeak[i];
		size_t pi = (size_t)yp * nax[0] + xp;
		short fl = 0;

		for (int k = 0; k < w->naxis && k < 9; k++)
			pix[k] = 1;
		/* SEP's pixels are 0-based, FITS's 1-based */
		pix[0] = cat->x[i] + 1;
		pix[1] = cat->y[i] + 1;
		if (wcsp2s(w, 1, w->naxis, pix, imc, &phi, &theta, world, stat1))
			continue;
		e->ra_deg = world[w->lng];
		e->dec_deg = world[w->lat];
		e->x = pix[0];
		e->y = pix[1];
		px = xp;
		py = yp;
		pk = img[pi];
		if (nax[0] == nax[1])
			img_peak_fit(img, (int)nax[0], xp, yp, &px, &py, &pk);
		e->peak_jy = pk;
		e->peak_err_jy = rms[pi];
		e->snr = rms[pi] > 0 ? pk / rms[pi] : 0;
		e->rms_jy = rms[pi];
		e->bkg_jy = sep_bkg_pix(bkg, xp, yp);
		/* the corrected image is flat / pb, pixel by pixel */
		e->pb = NAN;
		if (ff) {
			double raw = pixel(f, xp, yp);
			e->pb = raw != 0 ? pixel(ff, xp, yp) / raw : NAN;
		}
		/* integrated flux: the ellipse of 3 times the object's shape,
		 * at least the restoring beam's */
		{
			double a = fmax(cat->a[i], c->bmaj_arcsec / cell / 2.3548);
			double b = fmax(cat->b[i], c->bmin_arcsec / cell / 2.3548);
			sep_sum_ellipse(&im, cat->x[i], cat->y[i], a, b, cat->theta[i], r, 0, 5, 0,
			    &sum, &sumerr, &area, &fl);
		}
		/* a Gaussian has 1 - exp(-r^2 / 2) of its flux inside r sigma
		 * (98.9% at 3): the aperture correction of a point source */
		e->int_jy = sum / beam_pix / (1 - exp(-r * r / 2));
		/* the noise of a Jy/beam image is correlated over a beam: the
		 * sum's error is rms x sqrt(area x beam area) */
		e->int_err_jy = rms[pi] * sqrt(area * beam_pix) / beam_pix;
		e->a_arcsec = cat->a[i] * cell;
		e->b_arcsec = cat->b[i] * cell;
		/* SEP's theta: from +x toward +y, radians; x grows west, y
		 * north: the axis (cos t, sin t) points east -cos t, north
		 * sin t */
		e->pa_deg = atan2(-cos(cat->theta[i]), sin(cat->theta[i])) * 180 / M_PI;
		if (e->pa_deg > 90)
			e->pa_deg -= 180;
		else if (e->pa_deg <= -90)
			e->pa_deg += 180;
		e->flag = cat->flag[i] | fl;
		e->reliable = 1;
		c->n++;
	}
	if (rel && rel->radius_beams > 0) {
		c->rel = *rel;
		se = reliability(c, &im, img, rms, np, thresh, minarea,
		    rel->radius_beams * c->bmaj_arcsec / cell, rel->max_false);
		if (se != 0) {
			fail(status, err, se < 0 ? EX_OSERR : EX_SOFTWARE, se < 0 ? "out of memory" :
			    "SEP extraction of the negated image: error %d", se);
			goto out;
		}
	}
	if (ref && xm)
		crossmatch(c, w, img, rms, thresh, ref, nref, xm);
	rc = 0;
out:
	if (cat)
		sep_catalog_free(cat);
	if (bkg)
		sep_bkg_free(bkg);
	if (w) {
		wcsvfree(&nwcs, &w);
	}
	if (hdr)
		fits_free_memory(hdr, &st);
	st = 0;
	if (f)
		fits_close_file(f, &st);
	st = 0;
	if (ff)
		fits_close_file(ff, &st);
	free(img);
	free(rms);
	if (rc < 0)
		sources_free(c);
	return rc;
}

static int put(char **b, size_t *len, size_t *cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int put(char **b, size_t *len, size_t *cap, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(*b + *len, *cap - *len, fmt, ap);
		va_end(ap);
		if (n < 0)
			return -1;
		if ((size_t)n < *cap - *len)
			break;
		char *t = realloc(*b, *cap * 2 + (size_t)n);
		if (!t)
			return -1;
		*b = t;
		*cap = *cap * 2 + (size_t)n;
	}
	*len += (size_t)n;
	return 0;
}

/* x formatted by fmt into buf, or "null" if it is not finite. */
static void fmt_num(char *buf, size_t n, const char *fmt, double x)
{
	if (isfinite(x))
		snprintf(buf, n, fmt, x);
	else
		snprintf(buf, n, "null");
}

char *sources_json(const struct src_catalog *c, const char *image, const struct src_xmatch *xm)
{
	size_t len = 0, cap = 4096;
	char *b = malloc(cap);
	int bad = 0;

	if (!b)
		return NULL;
	b[0] = 0;
	bad |= put(&b, &len, &cap, "{\n  \"image\": \"");
	for (const char *p = image; *p && !bad; p++)
		bad |= (unsigned char)*p < 0x20 ? put(&b, &len, &cap, "\\u%04x", *p)
		    : *p == '"' || *p == '\\' ? put(&b, &len, &cap, "\\%c", *p)
		    : put(&b, &len, &cap, "%c", *p);
	{
		/* a blank image (an hour's mosaic with nothing in it) has no
		 * rms or beam: null, never C's "nan", which is not JSON */
		char rms[32], bj[32], bn[32], bp[32];

		fmt_num(rms, sizeof rms, "%.6g", c->rms_jy);
		fmt_num(bj, sizeof bj, "%.6g", c->bmaj_arcsec);
		fmt_num(bn, sizeof bn, "%.6g", c->bmin_arcsec);
		fmt_num(bp, sizeof bp, "%.4g", c->bpa_deg);
		bad |= put(&b, &len, &cap, "\",\n  \"rms_jy\": %s,\n  \"mesh_px\": %d,\n"
		    "  \"freq_hz\": %.9g,\n"
		    "  \"beam\": {\"bmaj_arcsec\": %s, \"bmin_arcsec\": %s, \"bpa_deg\": %s},\n"
		    "  \"reliability\": {\"radius_beams\": %.4g, \"max_false\": %.4g, "
		    "\"n_negative\": %d, \"n_unreliable\": %d},\n"
		    "  \"n_sources\": %d,\n  \"sources\": [", rms, c->mesh,
		    isfinite(c->freq_hz) ? c->freq_hz : 0, bj, bn, bp, c->rel.radius_beams,
		    c->rel.max_false, c->nneg, c->nunreliable, c->n);
	}
	for (int i = 0; i < c->n && !bad; i++) {
		const struct src_entry *e = &c->s[i];
		char pk[32], pe[32], in[32], ie[32], pb[32], sa[32], sb[32], pa[32], sn[32], lr[32],
		    lb[32];

		/* an aperture or a local mesh that reaches blanked pixels (a
		 * primary-beam-corrected image's edge) has no value there: null,
		 * never C's "nan", which is not JSON */
		fmt_num(pk, sizeof pk, "%.6g", e->peak_jy);
		fmt_num(pe, sizeof pe, "%.3g", e->peak_err_jy);
		fmt_num(in, sizeof in, "%.6g", e->int_jy);
		fmt_num(ie, sizeof ie, "%.3g", e->int_err_jy);
		fmt_num(pb, sizeof pb, "%.4f", e->pb);
		fmt_num(sa, sizeof sa, "%.4g", e->a_arcsec);
		fmt_num(sb, sizeof sb, "%.4g", e->b_arcsec);
		fmt_num(pa, sizeof pa, "%.4g", e->pa_deg);
		fmt_num(sn, sizeof sn, "%.4g", e->snr);
		fmt_num(lr, sizeof lr, "%.3g", e->rms_jy);
		fmt_num(lb, sizeof lb, "%.3g", e->bkg_jy);
		bad |= put(&b, &len, &cap, "%s\n    {\"ra_deg\": %.7f, \"dec_deg\": %.7f, \"x\": %.3f, "
		    "\"y\": %.3f, \"peak_jy\": %s, \"peak_err_jy\": %s, \"int_jy\": %s, "
		    "\"int_err_jy\": %s, \"a_arcsec\": %s, \"b_arcsec\": %s, \"pa_deg\": %s, "
		    "\"snr\": %s, \"local_rms_jy\": %s, \"local_bkg_jy\": %s, \"pb\": %s, "
		    "\"flag\": %d, \"reliable\": %s, \"n_negative_near\": %d}", i ? "," : "",
		    e->ra_deg, e->dec_deg, e->x, e->y, pk, pe, in, ie, sa, sb, pa, sn, lr, lb, pb,
		    e->flag, e->reliable ? "true" : "false", e->nneg);
	}
	bad |= put(&b, &len, &cap, "%s]", c->n ? "\n  " : "");
	if (xm) {
#define J(x) (isfinite(x) ? (x) : -1.0)
		bad |= put(&b, &len, &cap, ",\n  \"crossmatch\": {\"n_ref_in_image\": %d, "
		    "\"n_ref_detectable\": %d, \"n_matched\": %d, \"n_spurious\": %d,\n    "
		    "\"completeness\": %.4g, \"spurious_fraction\": %.4g, \"flux_ratio\": %.5g, "
		    "\"flux_scatter\": %.4g,\n    \"offset_arcsec\": %.4g, \"offset_beam\": %.4g, "
		    "\"dra_arcsec\": %.4g, \"ddec_arcsec\": %.4g,\n    \"gate\": {\"flux_ratio\": "
		    "[%.3g, %.3g], \"max_offset_beam\": %.3g}, \"pass\": %s}", xm->nref_in, xm->ndet,
		    xm->nmatch, xm->nspur, J(xm->completeness), J(xm->spurious_frac), J(xm->flux_ratio),
		    J(xm->flux_scatter), J(xm->offset_arcsec), J(xm->offset_beam), J(xm->dra_arcsec),
		    J(xm->ddec_arcsec), xm->min_ratio, xm->max_ratio, xm->max_offset_beam,
		    xm->pass ? "true" : "false");
#undef J
	}
	bad |= put(&b, &len, &cap, ",\n  \"provenance\": ");
	bad |= put(&b, &len, &cap, "%s", prov_json() ? prov_json() : "null");
	bad |= put(&b, &len, &cap, "\n}\n");
	if (bad) {
		free(b);
		return NULL;
	}
	return b;
}

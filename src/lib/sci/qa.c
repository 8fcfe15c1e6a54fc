/*
 * qa.c: image quality measurements and gate (contract in qa.h).
 *
 * The FITS file is read whole into memory (fsx_read_file, O_NOFOLLOW) and
 * opened with fits_open_memfile, so cfitsio never parses the file name
 * (brackets or "!" in a name are just characters). The WCS is the one
 * wcslib builds from the primary header: if wcslib rejects it, the image
 * is bad input.
 */
#include "sci/qa.h"

#include <errno.h>
#include <limits.h>
#include <fitsio.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>
#include <wcs.h>
#include <wcshdr.h>

#include "core/buf.h"
#include "core/fsx.h"
#include "core/json.h"
#include "core/prov.h"
#include "sci/img.h"

static int fail(int *status, char *err, int st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(int *status, char *err, int st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, QA_ERRLEN, fmt, ap);
	va_end(ap);
	*status = st;
	return -1;
}

/* Read the current HDU's image as float (NaN for blanks) if it is a 2-D
 * image with any further axes of length 1; NULL otherwise. */
static float *read_plane(fitsfile *f, size_t flen, long *nx, long *ny)
{
	int st = 0, naxis = 0, hdutype, anynul, bitpix;
	long nax[9] = {0};
	LONGLONG hs, ds, de;
	float *a;

	if (fits_get_hdu_type(f, &hdutype, &st) || hdutype != IMAGE_HDU)
		return NULL;
	if (fits_get_img_dim(f, &naxis, &st) || naxis < 2 || naxis > 9 ||
	    fits_get_img_size(f, naxis, nax, &st))
		return NULL;
	for (int i = 2; i < naxis; i++)
		if (nax[i] != 1)
			return NULL;
	if (nax[0] < 3 || nax[1] < 3 || nax[0] > 65536 || nax[1] > 65536)
		return NULL;
	/* the data must be in the file (cfitsio's memory driver would read
	 * past the end of a truncated one) */
	if (fits_get_img_type(f, &bitpix, &st) || fits_get_hduaddrll(f, &hs, &ds, &de, &st) ||
	    (unsigned long long)ds + (unsigned long long)nax[0] * (unsigned long long)nax[1] *
		    (unsigned long long)(bitpix < 0 ? -bitpix : bitpix) / 8 > flen)
		return NULL;
	a = malloc(sizeof *a * (size_t)nax[0] * (size_t)nax[1]);
	if (!a)
		return NULL;
	if (fits_read_img(f, TFLOAT, 1, (LONGLONG)nax[0] * nax[1], NULL, a, &anynul, &st)) {
		free(a);
		return NULL;
	}
	*nx = nax[0];
	*ny = nax[1];
	return a;
}

/* Pixel (1-based) -> RA/Dec degrees through wcs; 0 or -1. */
static int pix2sky(struct wcsprm *w, double x, double y, double *ra, double *dec)
{
	double pix[9] = {0}, img[9], phi, theta, world[9];
	int stat[1];

	if (w->naxis > 9)
		return -1;
	for (int i = 0; i < w->naxis; i++)
		pix[i] = 1;
	pix[0] = x;
	pix[1] = y;
	if (wcsp2s(w, 1, w->naxis, pix, img, &phi, &theta, world, stat))
		return -1;
	*ra = world[w->lng];
	*dec = world[w->lat];
	return 0;
}

static void key_str(fitsfile *f, const char *key, char *out, size_t n)
{
	int st = 0;
	char v[FLEN_VALUE];

	out[0] = 0;
	if (!fits_read_key(f, TSTRING, key, v, NULL, &st))
		snprintf(out, n, "%s", v);
}

static double key_dbl(fitsfile *f, const char *key)
{
	int st = 0;
	double v;

	return fits_read_key(f, TDOUBLE, key, &v, NULL, &st) ? 0 : v;
}

static int cmp_src(const void *a, const void *b)
{
	const struct qa_source *x = a, *y = b;

	return (x->peak_jy < y->peak_jy) - (x->peak_jy > y->peak_jy);
}

/* Local maxima above thr, one per (2R+1)^2 box, outside the margins mx,
 * my, into r->src (brightest QA_MAXLIST) and r->nsrc (all). */
static void find_sources(struct qa_result *r, const float *a, struct wcsprm *w, double thr, int R,
    long mx, long my)
{
	long nx = r->nx, ny = r->ny;
	size_t cap = 64, n = 0;
	struct qa_source *s = malloc(sizeof *s * cap);

	if (!s)
		return;
	for (long y = my; y < ny - my; y++)
		for (long x = mx; x < nx - mx; x++) {
			float v = a[(size_t)y * nx + x];
			int max = v > thr;
			double px, py, pk;

			for (long j = -R; max && j <= R; j++)
				for (long i = -R; max && i <= R; i++) {
					long xx = x + i, yy = y + j;
					float u;
					if ((!i && !j) || xx < 0 || yy < 0 || xx >= nx || yy >= ny)
						continue;
					u = a[(size_t)yy * nx + xx];
					/* ties go to the first pixel in memory order */
					if (u > v || (u == v && (j < 0 || (j == 0 && i < 0))))
						max = 0;
				}
			if (!max)
				continue;
			if (n == cap) {
				struct qa_source *t = realloc(s, sizeof *s * cap * 2);
				if (!t)
					break;
				s = t;
				cap *= 2;
			}
			/* the fit reads the 3x3 neighbourhood: handed over as a patch
			 * of its own, so rectangular images (mosaics) are fitted too */
			px = (double)x, py = (double)y, pk = v;
			if (x >= 1 && y >= 1 && x < nx - 1 && y < ny - 1) {
				float patch[9];
				for (int j = 0; j < 3; j++)
					for (int i = 0; i < 3; i++)
						patch[j * 3 + i] = a[(size_t)(y - 1 + j) * nx + (size_t)(x - 1 + i)];
				if (img_peak_fit(patch, 3, 1, 1, &px, &py, &pk) == 0) {
					px += (double)(x - 1);
					py += (double)(y - 1);
				} else {
					px = (double)x, py = (double)y, pk = v;
				}
			}
			s[n].x = px + 1;
			s[n].y = py + 1;
			s[n].peak_jy = pk;
			s[n].snr = pk / r->rms;
			if (pix2sky(w, s[n].x, s[n].y, &s[n].ra_deg, &s[n].dec_deg) < 0)
				s[n].ra_deg = s[n].dec_deg = NAN;
			n++;
		}
	qsort(s, n, sizeof *s, cmp_src);
	r->nsrc = (int)n;
	r->nlist = n > QA_MAXLIST ? QA_MAXLIST : (int)n;
	memcpy(r->src, s, sizeof *s * (size_t)r->nlist);
	free(s);
}

int qa_measure(const char *path, struct qa_result *r, int *status, char *err)
{
	size_t len;
	char *buf = NULL, *hdr = NULL;
	void *mem;
	size_t msize;
	fitsfile *f = NULL;
	int st = 0, nkeys = 0, nrej = 0, nwcs = 0, rc = -1;
	struct wcsprm *w = NULL;
	float *img = NULL, *res = NULL, *tmp = NULL;
	long rnx = 0, rny = 0;
	size_t np, k = 0;
	long best = -1, mx, my;
	struct stat sb;

	memset(r, 0, sizeof *r);
	/* a FIFO would block the open below */
	if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode))
		return fail(status, err, EX_DATAERR, "'%s': not a regular file", path);
	buf = fsx_read_file(path, &len);
	if (!buf) {
		int e = errno;
		return fail(status, err, e == ENOENT ? EX_NOINPUT : e == ELOOP || e == EISDIR ||
			e == EINVAL ? EX_DATAERR : EX_IOERR, "cannot read '%s': %s", path, strerror(e));
	}
	mem = buf;
	msize = len;
	if (len < 2880 || fits_open_memfile(&f, "image.fits", READONLY, &mem, &msize, 0, NULL, &st)) {
		free(buf);
		return fail(status, err, EX_DATAERR, "'%s': not a FITS file", path);
	}
	img = read_plane(f, len, &r->nx, &r->ny);
	if (!img) {
		fail(status, err, EX_DATAERR, "'%s': the primary HDU is not a complete 2-D image", path);
		goto out;
	}
	if (fits_hdr2str(f, 1, NULL, 0, &hdr, &nkeys, &st) ||
	    wcspih(hdr, nkeys, WCSHDR_all, 0, &nrej, &nwcs, &w) || nwcs < 1 || wcsset(w) ||
	    w->lng < 0 || w->lat < 0 || w->lng > 1 || w->lat > 1) {
		fail(status, err, EX_DATAERR, "'%s': no valid celestial WCS on the image axes", path);
		goto out;
	}
	key_str(f, "GROUPID", r->group, sizeof r->group);
	if (!r->group[0])
		key_str(f, "OBJECT", r->group, sizeof r->group);
	key_str(f, "DATE-OBS", r->date_obs, sizeof r->date_obs);
	key_str(f, "BUNIT", r->bunit, sizeof r->bunit);
	r->bmaj_arcsec = key_dbl(f, "BMAJ") * 3600;
	r->bmin_arcsec = key_dbl(f, "BMIN") * 3600;
	r->bpa_deg = key_dbl(f, "BPA");
	r->cell_arcsec = fabs(w->cdelt[w->lat]) * 3600;
	if (w->spec >= 0)
		r->freq_hz = w->crval[w->spec];
	st = 0;
	if (!fits_movnam_hdu(f, IMAGE_HDU, "RESIDUAL", 0, &st)) {
		res = read_plane(f, len, &rnx, &rny);
		if (res && (rnx != r->nx || rny != r->ny)) {
			free(res);
			res = NULL;
		}
	}
	r->rms_from_residual = res != NULL;

	np = (size_t)r->nx * (size_t)r->ny;
	tmp = malloc(sizeof *tmp * np);
	if (!tmp) {
		fail(status, err, EX_OSERR, "out of memory");
		goto out;
	}
	mx = r->nx / 20;
	my = r->ny / 20;
	for (size_t i = 0; i < np; i++)
		if (isfinite(img[i])) {
			long x = (long)(i % (size_t)r->nx), y = (long)(i / (size_t)r->nx);
			r->nfinite++;
			if (x >= mx && y >= my && x < r->nx - mx && y < r->ny - my &&
			    (best < 0 || img[i] > img[best]))
				best = (long)i;
		}
	if (best < 0) {
		fail(status, err, EX_DATAERR, "'%s': no finite pixel", path);
		goto out;
	}
	/* the inner region (without the margins) */
	k = 0;
	for (long y = my; y < r->ny - my; y++)
		for (long x = mx; x < r->nx - mx; x++)
			tmp[k++] = (res ? res : img)[(size_t)y * r->nx + x];
	if (res) {
		r->rms = img_robust_rms(tmp, k, 1);
	} else {
		/* sigma-clip the image itself: MAD, then MAD within 5 sigma, twice */
		double s = img_robust_rms(tmp, k, 1);
		size_t n0 = k;
		for (int pass = 0; pass < 2 && isfinite(s) && s > 0; pass++) {
			size_t kk = 0;
			for (size_t i = 0; i < n0; i++)
				if (isfinite(tmp[i]) && fabsf(tmp[i]) < 5 * s)
					tmp[kk++] = tmp[i];
			n0 = kk;
			if (kk > 10)
				s = img_robust_rms(tmp, kk, 1);
		}
		r->rms = s;
	}
	{
		int bx = (int)(best % r->nx), by = (int)(best / r->nx);
		double px = bx, py = by, pk = img[best];

		if (r->nx == r->ny)
			img_peak_fit(img, (int)r->nx, bx, by, &px, &py, &pk);
		r->peak = pk;
		r->peak_x = px + 1;
		r->peak_y = py + 1;
		if (pix2sky(w, r->peak_x, r->peak_y, &r->peak_ra, &r->peak_dec) < 0)
			r->peak_ra = r->peak_dec = NAN;
	}
	r->dr = r->rms > 0 ? r->peak / r->rms : NAN;
	if (isfinite(r->rms) && r->rms > 0) {
		int R = 1;
		if (r->bmaj_arcsec > 0 && r->cell_arcsec > 0)
			R = (int)lround(0.5 * r->bmaj_arcsec / r->cell_arcsec);
		if (R < 1)
			R = 1;
		if (R > 50)
			R = 50;
		find_sources(r, img, w, QA_DETECT_SIGMA * r->rms, R, mx, my);
	}
	rc = 0;
out:
	if (w)
		wcsvfree(&nwcs, &w);
	if (hdr) {
		int s2 = 0;
		fits_free_memory(hdr, &s2);
	}
	st = 0;
	fits_close_file(f, &st);
	free(mem);
	free(img);
	free(res);
	free(tmp);
	return rc;
}

int qa_flagging(struct qa_result *r, const char *path, char *err)
{
	const char *slash = strrchr(path, '/');
	char rep[PATH_MAX];
	int n = slash ? (int)(slash - path) : 0;

	if (snprintf(rep, sizeof rep, "%.*s%sflag.json", n, path, slash ? "/" : "") >= (int)sizeof rep) {
		r->flag_state = 0;
		return 0;
	}
	r->flag_state = flag_report_read(rep, &r->flag, err, QA_ERRLEN);
	return r->flag_state < 0 ? -1 : 0;
}

/* One catalogue entry (JSON object text, len bytes) into the list. */
static int cat_entry(const char *elem, size_t len, void *arg)
{
	struct qa_result *r = arg;
	char *t = strndup(elem, len);
	struct qa_source q = {0};
	int ok, rel = 1;

	if (!t)
		return -1;
	ok = json_get_number(t, "ra_deg", &q.ra_deg) > 0 && json_get_number(t, "dec_deg", &q.dec_deg) > 0 &&
	    json_get_number(t, "x", &q.x) > 0 && json_get_number(t, "y", &q.y) > 0 &&
	    json_get_number(t, "peak_jy", &q.peak_jy) > 0 && json_get_number(t, "snr", &q.snr) > 0 &&
	    json_get_bool(t, "reliable", &rel) >= 0;
	free(t);
	if (!ok)
		return -1;
	/* an entry the negated image's test marks (uvm-sources) is counted
	 * apart, not listed: the sources are the reliable ones */
	if (!rel) {
		r->nunrel++;
		return 0;
	}
	r->nsrc++;
	if (r->nlist < QA_MAXLIST) {
		r->src[r->nlist++] = q;
	} else if (q.peak_jy > r->src[QA_MAXLIST - 1].peak_jy) {
		r->src[QA_MAXLIST - 1] = q;
	} else {
		return 0;
	}
	/* keep the list sorted by peak, brightest first */
	for (int i = r->nlist - 1; i > 0 && r->src[i].peak_jy > r->src[i - 1].peak_jy; i--) {
		struct qa_source x = r->src[i];
		r->src[i] = r->src[i - 1];
		r->src[i - 1] = x;
	}
	return 0;
}

int qa_catalogue(struct qa_result *r, const char *path, char *err)
{
	const char *slash = strrchr(path, '/');
	char cat[PATH_MAX], *js = NULL, *xm = NULL;
	int n = slash ? (int)(slash - path) : 0, rc = -1;
	size_t len;
	double v;

	r->cat_state = r->xm_state = 0;
	if (snprintf(cat, sizeof cat, "%.*s%ssources.json", n, path, slash ? "/" : "") >= (int)sizeof cat)
		return 0;
	if (access(cat, F_OK) < 0 && errno == ENOENT)
		return 0;
	js = fsx_read_file(cat, &len);
	if (!js) {
		snprintf(err, QA_ERRLEN, "cannot read '%s': %s", cat, strerror(errno));
		goto out;
	}
	r->nsrc = r->nlist = r->nunrel = 0;
	if (json_get_array(js, "sources", cat_entry, r) <= 0 ||
	    json_get_number(js, "n_sources", &v) <= 0 || v != r->nsrc + r->nunrel ||
	    json_get_object(js, "crossmatch", &xm) < 0) {
		snprintf(err, QA_ERRLEN, "'%s': not a source catalogue", cat);
		r->nsrc = r->nlist = r->nunrel = 0;
		goto out;
	}
	if (xm) {
		double a, b, c;
		int p;

		if (json_get_number(xm, "n_matched", &a) <= 0 || json_get_number(xm, "n_ref_detectable", &b) <= 0 ||
		    json_get_number(xm, "n_spurious", &c) <= 0 || json_get_bool(xm, "pass", &p) <= 0 ||
		    json_get_number(xm, "completeness", &r->xm.completeness) <= 0 ||
		    json_get_number(xm, "spurious_fraction", &r->xm.spurious_frac) <= 0 ||
		    json_get_number(xm, "flux_ratio", &r->xm.flux_ratio) <= 0 ||
		    json_get_number(xm, "flux_scatter", &r->xm.flux_scatter) <= 0 ||
		    json_get_number(xm, "offset_beam", &r->xm.offset_beam) <= 0) {
			snprintf(err, QA_ERRLEN, "'%s': bad crossmatch", cat);
			goto out;
		}
		r->xm.nmatch = (int)a;
		r->xm.ndet = (int)b;
		r->xm.nspur = (int)c;
		r->xm.pass = p;
		r->xm_state = 1;
	}
	rc = 0;
out:
	r->cat_state = rc < 0 ? -1 : 1;
	free(js);
	free(xm);
	return rc;
}

static void check(struct qa_result *r, const char *name, double value, double limit, int le)
{
	struct qa_check *c;

	if (r->nchecks >= QA_MAXCHECKS)
		return;
	c = &r->checks[r->nchecks++];
	snprintf(c->name, sizeof c->name, "%s", name);
	c->value = value;
	c->limit = limit;
	snprintf(c->op, sizeof c->op, "%s", le ? "<=" : ">=");
	c->pass = le ? value <= limit : value >= limit;
	if (!c->pass)
		r->pass = 0;
}

void qa_gate(struct qa_result *r, const struct cfg *c)
{
	double max_rms = c ? cfg_double(c, "QA_MAX_RMS_JY", 0.01) : 0.01;
	double min_dr = c ? cfg_double(c, "QA_MIN_DR", 10) : 10;
	double max_beam = c ? cfg_double(c, "QA_MAX_BEAM_ARCSEC", 0) : 0;
	double min_src = c ? cfg_double(c, "QA_MIN_SOURCES", 0) : 0;
	double max_flag = c ? cfg_double(c, "QA_MAX_FLAGGED", 0.3) : 0.3;

	r->nchecks = 0;
	r->pass = 1;
	/* an image of zeros or blanks is never good */
	check(r, "finite_fraction", (double)r->nfinite / ((double)r->nx * r->ny), 0.99, 0);
	check(r, "rms_positive", isfinite(r->rms) && r->rms > 0 ? 1 : 0, 1, 0);
	if (max_rms > 0)
		check(r, "rms_jy", isfinite(r->rms) ? r->rms : INFINITY, max_rms, 1);
	if (min_dr > 0)
		check(r, "dynamic_range", isfinite(r->dr) ? r->dr : 0, min_dr, 0);
	if (max_beam > 0)
		check(r, "bmaj_arcsec", r->bmaj_arcsec > 0 ? r->bmaj_arcsec : INFINITY, max_beam, 1);
	if (min_src > 0)
		check(r, "n_sources", r->nsrc, min_src, 0);
	if (r->flag_state && max_flag > 0)
		check(r, "flagged_fraction", r->flag_state > 0 ? r->flag.fraction : INFINITY, max_flag, 1);
	if (r->cat_state < 0)
		check(r, "catalogue", 0, 1, 0);
	if (r->xm_state > 0) {
		/* no match gives the sentinel -1 (uvm-sources): fails both */
		double ratio = r->xm.nmatch > 0 ? r->xm.flux_ratio : NAN;
		check(r, "xmatch_flux_ratio_min", isfinite(ratio) ? ratio : 0,
		    c ? cfg_double(c, "XMATCH_MIN_RATIO", 0.8) : 0.8, 0);
		check(r, "xmatch_flux_ratio_max", isfinite(ratio) ? ratio : INFINITY,
		    c ? cfg_double(c, "XMATCH_MAX_RATIO", 1.2) : 1.2, 1);
		check(r, "xmatch_offset_beam", r->xm.nmatch > 0 ? r->xm.offset_beam : INFINITY,
		    c ? cfg_double(c, "XMATCH_MAX_OFFSET_BEAM", 0.2) : 0.2, 1);
	}
}

/* The first kept names of v as a JSON array of strings on b. */
static void names(struct buf *b, const char (*v)[FLAG_REPORT_NAMELEN], int kept)
{
	buf_printf(b, "[");
	for (int i = 0; i < kept; i++) {
		buf_printf(b, "%s", i ? ", " : "");
		json_str_buf(b, v[i]);
	}
	buf_printf(b, "]");
}

/* A JSON number, or null when not finite. */
static void num(struct buf *b, double v)
{
	if (isfinite(v))
		buf_printf(b, "%.9g", v);
	else
		buf_printf(b, "null");
}

char *qa_json(const struct qa_result *r, const char *image)
{
	struct buf b = {0};

	buf_printf(&b, "{\n  \"image\": ");
	json_str_buf(&b, image);
	buf_printf(&b, ",\n  \"group\": ");
	json_str_buf(&b, r->group);
	buf_printf(&b, ",\n  \"date_obs\": ");
	json_str_buf(&b, r->date_obs);
	buf_printf(&b, ",\n  \"bunit\": ");
	json_str_buf(&b, r->bunit);
	buf_printf(&b, ",\n  \"npix\": [%ld, %ld],\n  \"cell_arcsec\": ", r->nx, r->ny);
	num(&b, r->cell_arcsec);
	buf_printf(&b, ",\n  \"freq_hz\": ");
	num(&b, r->freq_hz);
	buf_printf(&b, ",\n  \"rms_jy\": ");
	num(&b, r->rms);
	buf_printf(&b, ",\n  \"rms_from\": \"%s\",\n  \"peak_jy\": ", r->rms_from_residual ? "residual" : "image");
	num(&b, r->peak);
	buf_printf(&b, ",\n  \"peak_pos\": {\"x\": ");
	num(&b, r->peak_x);
	buf_printf(&b, ", \"y\": ");
	num(&b, r->peak_y);
	buf_printf(&b, ", \"ra_deg\": ");
	num(&b, r->peak_ra);
	buf_printf(&b, ", \"dec_deg\": ");
	num(&b, r->peak_dec);
	buf_printf(&b, "},\n  \"dynamic_range\": ");
	num(&b, r->dr);
	buf_printf(&b, ",\n  \"beam\": {\"bmaj_arcsec\": ");
	num(&b, r->bmaj_arcsec);
	buf_printf(&b, ", \"bmin_arcsec\": ");
	num(&b, r->bmin_arcsec);
	buf_printf(&b, ", \"bpa_deg\": ");
	num(&b, r->bpa_deg);
	buf_printf(&b, "},\n  \"detect_sigma\": %g,\n  \"n_sources\": %d,\n  \"n_unreliable\": %d,\n"
	    "  \"sources\": [", QA_DETECT_SIGMA, r->nsrc, r->nunrel);
	for (int i = 0; i < r->nlist; i++) {
		const struct qa_source *s = &r->src[i];
		buf_printf(&b, "%s\n    {\"ra_deg\": ", i ? "," : "");
		num(&b, s->ra_deg);
		buf_printf(&b, ", \"dec_deg\": ");
		num(&b, s->dec_deg);
		buf_printf(&b, ", \"x\": ");
		num(&b, s->x);
		buf_printf(&b, ", \"y\": ");
		num(&b, s->y);
		buf_printf(&b, ", \"peak_jy\": ");
		num(&b, s->peak_jy);
		buf_printf(&b, ", \"snr\": ");
		num(&b, s->snr);
		buf_printf(&b, "}");
	}
	buf_printf(&b, "%s]", r->nlist ? "\n  " : "");
	if (r->flag_state > 0) {
		buf_printf(&b, ",\n  \"flagging\": {\"fraction\": ");
		num(&b, r->flag.fraction);
		buf_printf(&b, ", \"dead_antennas\": ");
		names(&b, r->flag.dead, r->flag.ldead);
		buf_printf(&b, ", \"bad_antennas\": ");
		names(&b, r->flag.bad, r->flag.lbad);
		buf_printf(&b, "}");
	} else if (r->flag_state < 0)
		buf_printf(&b, ",\n  \"flagging\": null");
	if (r->cat_state)
		buf_printf(&b, ",\n  \"sources_from\": \"%s\"", r->cat_state > 0 ? "catalogue" : "invalid catalogue");
	if (r->xm_state > 0) {
		buf_printf(&b, ",\n  \"crossmatch\": {\"n_ref_detectable\": %d, \"n_matched\": %d, "
		    "\"n_spurious\": %d, \"completeness\": ", r->xm.ndet, r->xm.nmatch, r->xm.nspur);
		num(&b, r->xm.completeness);
		buf_printf(&b, ", \"spurious_fraction\": ");
		num(&b, r->xm.spurious_frac);
		buf_printf(&b, ", \"flux_ratio\": ");
		num(&b, r->xm.nmatch > 0 ? r->xm.flux_ratio : NAN);
		buf_printf(&b, ", \"flux_scatter\": ");
		num(&b, r->xm.nmatch > 0 ? r->xm.flux_scatter : NAN);
		buf_printf(&b, ", \"offset_beam\": ");
		num(&b, r->xm.nmatch > 0 ? r->xm.offset_beam : NAN);
		buf_printf(&b, "}");
	}
	buf_printf(&b, ",\n  \"checks\": [");
	for (int i = 0; i < r->nchecks; i++) {
		const struct qa_check *c = &r->checks[i];
		buf_printf(&b, "%s\n    {\"name\": ", i ? "," : "");
		json_str_buf(&b, c->name);
		buf_printf(&b, ", \"value\": ");
		num(&b, c->value);
		buf_printf(&b, ", \"op\": \"%s\", \"limit\": ", c->op);
		num(&b, c->limit);
		buf_printf(&b, ", \"pass\": %s}", c->pass ? "true" : "false");
	}
	buf_printf(&b, "%s],\n  \"pass\": %s,\n  \"provenance\": %s\n}\n", r->nchecks ? "\n  " : "",
	    r->pass ? "true" : "false", prov_json() ? prov_json() : "null");
	return buf_take(&b);
}

char *qa_text(const struct qa_result *r)
{
	struct buf b = {0};

	buf_printf(&b, "group %s\nrms_jy %.6g\npeak_jy %.6g\npeak_ra_deg %.6f\npeak_dec_deg %.6f\n"
		"dynamic_range %.6g\nbeam_arcsec %.4g %.4g %.2f\nn_sources %d\nn_unreliable %d\n",
	    r->group, r->rms, r->peak, r->peak_ra, r->peak_dec, r->dr, r->bmaj_arcsec,
	    r->bmin_arcsec, r->bpa_deg, r->nsrc, r->nunrel);
	if (r->flag_state)
		buf_printf(&b, "flagged_fraction %.6g\n", r->flag_state > 0 ? r->flag.fraction : NAN);
	for (int i = 0; i < r->nchecks; i++)
		buf_printf(&b, "check %s %.6g %s %.6g %s\n", r->checks[i].name, r->checks[i].value,
		    r->checks[i].op, r->checks[i].limit, r->checks[i].pass ? "pass" : "FAIL");
	buf_printf(&b, "pass %s\n", r->pass ? "true" : "false");
	return buf_take(&b);
}

/*
 * img_fits.c: the FITS image product (contract in img.h).
 *
 * cfitsio builds the whole file in memory (fits_create_memfile) and the
 * bytes go to disk through fsx (temporary, fsync, rename): cfitsio never
 * sees the path, so a file name with brackets or a "!" cannot be taken for
 * cfitsio's extended syntax, and a full disk is a plain write(2) error.
 * Axes: RA---SIN, DEC--SIN (with the array plane's PV2_1/PV2_2), FREQ,
 * STOKES (I); BUNIT Jy/beam; BMAJ/BMIN/BPA in degrees; DATE-OBS/MJD-OBS
 * (first integration start) and DATE-AVG/MJD-AVG (mid-time), UTC, and no
 * DATE (a product holds no wall-clock time); coordinates are of
 * the project's convention (SCIENCE.md: catalogue positions used as
 * apparent, no precession), labelled FK5 J2000.
 */
#include "sci/img.h"

#include <errno.h>
#include <fitsio.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>

#include "core/fsx.h"
#include "core/prov.h"
#include "sci/geom.h"

#define DEG (180.0 / M_PI)

/* FITS date from a JD: "YYYY-MM-DDTHH:MM:SS.sss" (no zone letter). */
static void fits_date(double jd, char out[32])
{
	geom_iso(jd, out);
	out[strcspn(out, "Z")] = 0;
}

/* One HISTORY text as cards of at most 70 characters, broken at spaces
 * (cfitsio's own split cuts words in two); a word longer than a card is
 * cut. */
static void put_history(fitsfile *f, const char *text, int *st)
{
	char card[72];

	while (*text == ' ')
		text++;
	while (*text) {
		size_t n = strlen(text);
		if (n > 70) {
			n = 70;
			while (n > 0 && text[n] != ' ')
				n--;
			if (n == 0)
				n = 70;
		}
		memcpy(card, text, n);
		card[n] = 0;
		fits_write_history(f, card, st);
		text += n;
		while (*text == ' ')
			text++;
	}
}

/* The keywords shared by the primary HDU and the residual extension. */
static void put_keys(fitsfile *f, const struct img_meta *m, int *st)
{
	char d[32];
	double h = m->n / 2 + 1.0;

	fits_update_key_str(f, "BTYPE", "Intensity", NULL, st);
	fits_update_key_str(f, "BUNIT", "Jy/beam", "brightness unit", st);
	fits_update_key_str(f, "OBJECT", m->group, "observation group", st);
	fits_update_key_str(f, "TELESCOP", m->telescope, NULL, st);
	fits_update_key_str(f, "INSTRUME", m->instrument, NULL, st);
	fits_update_key_str(f, "OBSERVER", "uvmake", "lights-out pipeline", st);
	fits_update_key_str(f, "ORIGIN", "uvmake uvm-image", NULL, st);
	fits_date(m->jd_first, d);
	fits_update_key_str(f, "DATE-OBS", d, "start of the first integration (UTC)", st);
	/* MJD in fixed notation to 1e-9 d (0.1 ms), as precise as DATE-OBS */
	fits_update_key_fixdbl(f, "MJD-OBS", m->jd_first - GEOM_MJD0, 9, "[d] DATE-OBS as MJD", st);
	fits_date((m->jd_first + m->jd_last) / 2, d);
	fits_update_key_str(f, "DATE-AVG", d, "mid-time (UTC): phase centre RA = LST", st);
	fits_update_key_fixdbl(f, "MJD-AVG", (m->jd_first + m->jd_last) / 2 - GEOM_MJD0, 9,
	    "[d] DATE-AVG as MJD", st);
	fits_update_key_str(f, "TIMESYS", "UTC", "time scale of DATE-* and MJD-*", st);
	fits_update_key_dbl(f, "TELAPSE", (m->jd_last - m->jd_first) * GEOM_DAY_S, 6,
	    "[s] first start to last end", st);
	fits_update_key_dbl(f, "OBSGEO-B", m->lat * DEG, 10, "[deg] geodetic latitude", st);
	fits_update_key_dbl(f, "OBSGEO-L", m->lon * DEG, 10, "[deg] longitude, east", st);
	fits_update_key_dbl(f, "OBSGEO-H", m->alt, 6, "[m] altitude", st);
	fits_update_key_str(f, "RADESYS", "ICRS", NULL, st);

	fits_update_key_str(f, "CTYPE1", "RA---SIN", NULL, st);
	fits_update_key_dbl(f, "CRVAL1", m->ra0 * DEG, 15, "[deg] phase centre RA", st);
	fits_update_key_dbl(f, "CDELT1", -m->cell * DEG, 15, "[deg]", st);
	fits_update_key_dbl(f, "CRPIX1", h, 10, NULL, st);
	fits_update_key_str(f, "CUNIT1", "deg", NULL, st);
	fits_update_key_str(f, "CTYPE2", "DEC--SIN", NULL, st);
	fits_update_key_dbl(f, "CRVAL2", m->dec0 * DEG, 15, "[deg] phase centre Dec", st);
	fits_update_key_dbl(f, "CDELT2", m->cell * DEG, 15, "[deg]", st);
	fits_update_key_dbl(f, "CRPIX2", h, 10, NULL, st);
	fits_update_key_str(f, "CUNIT2", "deg", NULL, st);
	fits_update_key_dbl(f, "PV2_1", m->xi, 12, "SIN xi: array plane (w-term)", st);
	fits_update_key_dbl(f, "PV2_2", m->eta, 12, "SIN eta: array plane (w-term)", st);
	fits_update_key_dbl(f, "LONPOLE", 180.0, 6, NULL, st);
	fits_update_key_str(f, "CTYPE3", "FREQ", NULL, st);
	fits_update_key_dbl(f, "CRVAL3", m->freq, 15, "[Hz] weighted mean frequency", st);
	fits_update_key_dbl(f, "CDELT3", m->bandwidth, 15, "[Hz] bandwidth", st);
	fits_update_key_dbl(f, "CRPIX3", 1.0, 6, NULL, st);
	fits_update_key_str(f, "CUNIT3", "Hz", NULL, st);
	fits_update_key_str(f, "SPECSYS", "TOPOCENT", NULL, st);
	fits_update_key_str(f, "CTYPE4", "STOKES", NULL, st);
	fits_update_key_dbl(f, "CRVAL4", 1.0, 6, "Stokes I", st);
	fits_update_key_dbl(f, "CDELT4", 1.0, 6, NULL, st);
	fits_update_key_dbl(f, "CRPIX4", 1.0, 6, NULL, st);

	fits_update_key_dbl(f, "BMAJ", m->beam.bmaj * DEG, 10, "[deg] restoring beam FWHM major", st);
	fits_update_key_dbl(f, "BMIN", m->beam.bmin * DEG, 10, "[deg] restoring beam FWHM minor", st);
	fits_update_key_dbl(f, "BPA", m->beam.bpa * DEG, 8, "[deg] major axis PA, N through E", st);
	fits_update_key_str(f, "GROUPID", m->group, "uvmake group id", st);
	fits_update_key_lng(f, "NVIS", m->nvis, "Stokes I visibilities gridded", st);
	fits_update_key_dbl(f, "SUMWT", m->sumw, 10, "sum of visibility weights", st);
	fits_update_key_lng(f, "NITER", m->clean.done, "CLEAN iterations done", st);
	fits_update_key_dbl(f, "CLNFLUX", m->clean.flux, 8, "[Jy] total CLEAN flux", st);
	fits_update_key_dbl(f, "CLNTHR", m->clean.used_threshold, 8, "[Jy/beam] CLEAN threshold", st);
	fits_update_key_dbl(f, "CLNGAIN", m->clean.gain, 6, "CLEAN loop gain", st);
	fits_update_key_dbl(f, "CLNRES", m->clean.last, 8, "[Jy/beam] |peak residual| at stop", st);
	fits_update_key_lng(f, "CHANOUT", m->channels_out > 0 ? m->channels_out : 1,
	    "sub-bands CLEANed jointly (MFS image)", st);
	fits_update_key_lng(f, "SPECTERM", m->spec_terms > 0 ? m->spec_terms : 1,
	    "terms of the components' spectral polynomial", st);
	for (int i = 0; i < 32 && m->history[i]; i++)
		put_history(f, m->history[i], st);
}

int img_check_output(const char *path, char *err)
{
	struct stat st;

	if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		snprintf(err, IMG_ERRLEN, "cannot create '%s': exists and is not a regular file", path);
		return -1;
	}
	return 0;
}

int img_fits_write(const char *path, const float *image, const float *resid,
    const struct img_meta *m, int *status, char *err)
{
	fitsfile *f = NULL;
	int st = 0;
	long naxes[4] = {m->n, m->n, 1, 1};
	LONGLONG nel = (LONGLONG)m->n * m->n;
	void *buf = NULL;
	size_t size = 2880 * 16;
	LONGLONG hs, ds, de;
	struct fsx_out o;
	char msg[FLEN_ERRMSG] = "";

	if (img_check_output(path, err) < 0) {
		*status = EX_CANTCREAT;
		return -1;
	}
	buf = malloc(size);
	if (!buf) {
		snprintf(err, IMG_ERRLEN, "out of memory for the FITS image");
		*status = EX_OSERR;
		return -1;
	}
	fits_create_memfile(&f, &buf, &size, 2880 * 1024, realloc, &st);
	fits_create_img(f, FLOAT_IMG, 4, naxes, &st);
	put_keys(f, m, &st);
	prov_fits_write(f, &st);
	/* no DATE (time the file was written): an image is a function of its
	 * inputs, and re-making it gives the same bytes */
	fits_write_img(f, TFLOAT, 1, nel, (void *)image, &st);
	if (resid) {
		fits_create_img(f, FLOAT_IMG, 4, naxes, &st);
		fits_update_key_str(f, "EXTNAME", "RESIDUAL", "residual after CLEAN", &st);
		put_keys(f, m, &st);
		fits_write_img(f, TFLOAT, 1, nel, (void *)resid, &st);
	}
	fits_flush_file(f, &st);
	fits_get_hduaddrll(f, &hs, &ds, &de, &st);
	fits_close_file(f, &st);
	if (st) {
		fits_get_errstatus(st, msg);
		snprintf(err, IMG_ERRLEN, "cannot build the FITS image: %s", msg);
		free(buf);
		*status = EX_SOFTWARE;
		return -1;
	}
	/* The last HDU's data end, rounded to the 2880-byte block, is the file. */
	de = (de + 2879) / 2880 * 2880;
	if ((size_t)de > size)
		de = (LONGLONG)size;
	if (fsx_reserve(&o, path, 0644) < 0) {
		int e = errno;
		snprintf(err, IMG_ERRLEN, "cannot create '%s': %s", path, strerror(e));
		*status = fsx_exit_for_errno(e);
		free(buf);
		return -1;
	}
	if (fsx_write_all(o.fd, buf, (size_t)de) < 0 || fsx_commit(&o) < 0) {
		int e = errno;
		fsx_abort(&o);
		snprintf(err, IMG_ERRLEN, "cannot write '%s': %s", path, strerror(e));
		*status = fsx_exit_for_errno(e);
		free(buf);
		return -1;
	}
	free(buf);
	return 0;
}

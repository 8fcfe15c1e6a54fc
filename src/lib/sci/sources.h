/*
 * sources.h: source finding on a restored image with SEP (the C core of
 * Source Extractor, Debian libsep-dev): background and rms maps
 * (sep_background, 64-pixel tiles), detection above a threshold in units
 * of the local rms (sep_extract, no filter: the restored image is already
 * smooth on the beam scale), and per source its ICRS position (barycentre,
 * through the image's WCS, wcslib), peak flux (sub-pixel fit of the peak,
 * img_peak_fit) and integrated flux (sum in the ellipse of 3 x the
 * object's shape, divided by the beam area and by the 98.9% of a Gaussian
 * inside it) with errors from the rms map,
 * and its shape (a, b, theta).
 */
#ifndef UVM_SOURCES_H
#define UVM_SOURCES_H

#include <stddef.h>

#define SOURCES_ERRLEN 512

struct src_entry {
	double ra_deg, dec_deg, x, y;  /* ICRS; FITS pixels (1-based) */
	double peak_jy, peak_err_jy;   /* Jy/beam */
	double int_jy, int_err_jy;     /* Jy */
	double a_arcsec, b_arcsec, pa_deg; /* shape: semi-axes (1 sigma), PA from N through E */
	double snr;                    /* peak / local rms */
	int flag;                      /* SEP's extraction flags */
};

struct src_catalog {
	int n;
	struct src_entry *s;
	double rms_jy;                 /* SEP's global rms */
	double bmaj_arcsec, bmin_arcsec, bpa_deg;
	double freq_hz;
	long nx, ny;
};

/*
 * Find the sources of the FITS image at path above thresh sigma (rms map),
 * minimum area minarea pixels. 0, or -1 with err and *status (66 missing,
 * 65 not a usable image, 70 SEP failure).
 */
int sources_find(const char *path, double thresh, int minarea, struct src_catalog *c,
    int *status, char *err);
void sources_free(struct src_catalog *c);
/* The catalogue as JSON (malloc'd, NUL-terminated), image path named. */
char *sources_json(const struct src_catalog *c, const char *image);

#endif

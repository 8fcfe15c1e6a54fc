/*
 * cal_catalog.h: the calibrator catalogue (config CALIBRATORS, default
 * ops/calibrators.csv): "name,ra_deg,dec_deg,flux_jy,ref_freq_mhz,
 * spectral_index" lines, '#' comments and blank lines ignored, ICRS
 * (J2000) positions, taken to the apparent CIRS frame of the date with
 * ERFA (cal_source_apparent) wherever they meet the data.
 *
 * Besides loading it answers the planner's and uvm-calsolve's question
 * "which calibrator transits during this group, close enough to the
 * pointing to be seen?" (cal_catalog_transit).
 */
#ifndef UVM_CAL_CATALOG_H
#define UVM_CAL_CATALOG_H

#include <stddef.h>

struct cal_source {
	char name[64];
	double ra_deg, dec_deg;
	double flux_jy;       /* at ref_freq_hz */
	double ref_freq_hz;
	double alpha;         /* spectral index: S = flux (f / ref)^alpha */
};

#define CAL_MIN_FLUX_JY 1.0   /* default: weaker sources are not chosen */

struct cal_catalog {
	struct cal_source *src;
	int n;
	double min_flux_jy;   /* cal_catalog_transit's threshold (load: CAL_MIN_FLUX_JY) */
};

/*
 * Load path into c. Returns 0, or an exit status with err (one line,
 * errlen bytes) filled: EX_NOINPUT (missing), EX_IOERR (unreadable),
 * EX_DATAERR (a malformed line, with its number; or no source at all).
 */
int cal_catalog_load(const char *path, struct cal_catalog *c, char *err, size_t errlen);
void cal_catalog_free(struct cal_catalog *c);
/* Source named name (case-insensitive) or NULL. */
const struct cal_source *cal_catalog_find(const struct cal_catalog *c, const char *name);
/* CIRS position (astro.h) of s at jd (UTC), radians: what transits when
 * geom_lst equals its RA. */
void cal_source_apparent(const struct cal_source *s, double jd, double *ra, double *dec);
/* Flux density of s at freq_hz, no beam. */
double cal_source_flux(const struct cal_source *s, double freq_hz);
/*
 * The source of c, at least c->min_flux_jy, that transits the meridian at
 * east longitude lon_deg (its CIRS RA equals geom_lst) between jd0 and jd1
 * with its CIRS declination within max_sep_deg of dec_deg (the pointing;
 * the half-power radius of the primary beam, 1.6 deg at 1.4 GHz, is the
 * natural choice); when several do, the brightest as the beam sees it at
 * 1.4 GHz (flux x primary beam at its distance from the pointing), then
 * the nearest transit to (jd0+jd1)/2. *transit_jd gets the transit time.
 * NULL when none. Works at every declination (the catalogue is the VLA
 * list, ops/calibrators.csv).
 */
const struct cal_source *cal_catalog_transit(const struct cal_catalog *c, double jd0,
    double jd1, double lon_deg, double dec_deg, double max_sep_deg, double *transit_jd);
/*
 * Every transit of the same kind (a source of c, at least c->min_flux_jy,
 * within max_sep_deg of dec_deg) between jd0 and jd1, a window of at most
 * a day (each source's transit nearest its middle): up to max times into
 * transit_jd, in catalogue order. Returns how many were stored.
 */
int cal_catalog_transits(const struct cal_catalog *c, double jd0, double jd1, double lon_deg,
    double dec_deg, double max_sep_deg, double *transit_jd, int max);

#endif

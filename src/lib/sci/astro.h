/*
 * astro.h: astrometry with ERFA (the IAU SOFA routines, Debian liberfa):
 * ICRS <-> CIRS (the apparent, of-date frame of a drift scan: precession-
 * nutation, annual aberration, light deflection) and the Earth rotation
 * angle, whose local value ERA + longitude is the CIRS right ascension of
 * the meridian.
 *
 * Frames. A DSA-110 file is phased to hour angle 0 at the pointing
 * declination in the apparent frame of each integration: in CIRS, RA =
 * ERA(t) + longitude, Dec = the pointing. Everything that relates sky
 * positions to visibilities (simulator, calibration model, imager) works
 * in CIRS at the group's date, with the "local sidereal time" meaning
 * ERA + longitude; catalogue and truth positions are ICRS and go through
 * astro_icrs_to_cirs; images are labelled ICRS (astro_cirs_to_icrs of the
 * tangent point, and the grid rotated by astro_north_angle).
 *
 * Time: UTC Julian dates in, TT for the frame (through ERFA's leap-second
 * table), UT1 = UTC (no IERS table is configured: |UT1-UTC| < 0.9 s moves
 * the meridian by < 14 arcsec in RA, the same for every source of a group,
 * and the images' WCS is then consistent with what the simulator wrote).
 * Polar motion and diurnal aberration (< 0.5 arcsec) are left out;
 * refraction does not apply at these frequencies for this use.
 */
#ifndef UVM_ASTRO_H
#define UVM_ASTRO_H

/* ERA(UT1 = UTC) + east longitude lon (radians), in [0, 2pi). */
double astro_local_era(double jd_utc, double lon);
/* The same from a two-part UTC JD jd1 + jd2 (full precision: one JD
 * double resolves 40 us, 3e-9 rad of ERA). */
double astro_local_era2(double jd1, double jd2, double lon);
/* ICRS (ra, dec) to CIRS (*ri, *di) at jd_utc, radians; and back. */
void astro_icrs_to_cirs(double jd_utc, double ra, double dec, double *ri, double *di);
void astro_cirs_to_icrs(double jd_utc, double ri, double di, double *ra, double *dec);
/*
 * Angle (radians, east of north) of CIRS north at the CIRS point (ri, di)
 * measured in the ICRS frame: a direction with position angle p about that
 * point in CIRS has position angle p + angle in ICRS.
 */
double astro_north_angle(double jd_utc, double ri, double di);

#endif

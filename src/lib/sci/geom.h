/*
 * geom.h: shared astronomy helpers: time (JD, MJD, GMST/LST, ISO and
 * compact group stamps), frames (ECEF offsets <-> local ENU, baseline
 * -> uvw for a direction given by hour angle and declination), angular
 * separation, direction cosines, and the primary beam.
 *
 * Created by the calibration helper (issue 4) for uvm-calsolve and
 * uvm-calapply; the imager, QA and mosaic code should reuse it rather than
 * keep private copies, so that every stage agrees on the SCIENCE.md
 * conventions:
 *   uvw = pos(ant_2) - pos(ant_1) in the frame of the phase centre, u east,
 *   v north, w toward the centre; antenna positions are ECEF offsets from
 *   the telescope location (rotation only); primary beam Gaussian with
 *   FWHM = 1.2 lambda / D (power pattern, applied to flux densities).
 * All angles are radians unless a name says _deg; times are JD (UTC, used
 * as UT1: the 1 s difference is far below what these stages resolve).
 */
#ifndef UVM_GEOM_H
#define UVM_GEOM_H

#define GEOM_C 299792458.0          /* speed of light, m/s */
#define GEOM_MJD0 2400000.5         /* JD of MJD 0 */
#define GEOM_DAY_S 86400.0
#define GEOM_PI 3.14159265358979323846
#define GEOM_DEG (GEOM_PI / 180.0)

/* DSA-110 at OVRO (SCIENCE.md). */
#define GEOM_OVRO_LAT_DEG 37.2339
#define GEOM_OVRO_LON_DEG (-118.2825)
#define GEOM_OVRO_ALT_M 1222.0
#define GEOM_DISH_DIAM_M 4.65
#define GEOM_PB_FWHM_FACTOR 1.2

/* JD of a proleptic Gregorian UTC date and time. */
double geom_jd(int year, int month, int day, int hour, int minute, double second);
/* Parse "YYYY-MM-DDTHH:MM:SS[.fff]" (correlator file stamps) or the compact
 * group id "YYYYMMDDTHHMMSS" into a JD; 0, or -1 if s is neither (trailing
 * text after the stamp is allowed only if end != NULL, which then points
 * to it). */
int geom_parse_stamp(const char *s, double *jd, const char **end);
/* Format jd as the compact group id (16 bytes incl. NUL), rounded to 1 s. */
void geom_group_id(double jd, char out[16]);
/* Format jd as ISO 8601 UTC "YYYY-MM-DDTHH:MM:SS.sssZ" (25 bytes). */
void geom_iso(double jd, char out[32]);

/* Greenwich mean sidereal time of jd (IAU 1982 expression), radians [0,2pi). */
double geom_gmst(double jd);
/* The meridian's right ascension in CIRS (astro.h): the Earth rotation
 * angle (UT1 = UTC) + east longitude lon_deg, radians [0,2pi). Every
 * stage uses it as "the LST", with source positions in CIRS (issue 15:
 * it used to be the mean sidereal time with J2000 positions, 17-21'
 * off in 2025). */
double geom_lst(double jd, double lon_deg);
/* Wrap an angle into [-pi, pi). */
double geom_wrap_pi(double a);
/* Wrap an angle into [0, 2pi). */
double geom_wrap_2pi(double a);

/* Rotate an ECEF offset (metres, axes of ECEF, origin the telescope) into
 * local east-north-up at geodetic latitude/longitude (radians), and back. */
void geom_ecef_to_enu(const double ecef[3], double lat, double lon, double enu[3]);
void geom_enu_to_ecef(const double enu[3], double lat, double lon, double ecef[3]);
/*
 * uvw (same unit as enu) of the vector enu (an antenna offset or a
 * baseline pos2 - pos1) for a direction at hour angle ha and declination
 * dec seen from latitude lat. Linear in enu, so antenna "uvw" can be
 * differenced to give baselines.
 */
void geom_enu_to_uvw(const double enu[3], double lat, double ha, double dec, double uvw[3]);
/* Angular separation of two directions (ra, dec pairs), radians. */
double geom_sep(double ra1, double dec1, double ra2, double dec2);
/* Direction cosines (l east, m north, n) of (ra, dec) about (ra0, dec0). */
void geom_lmn(double ra, double dec, double ra0, double dec0, double *l, double *m, double *n);
/* Primary beam power gain at angular distance sep from the pointing, for a
 * dish of diameter diam_m at freq_hz: exp(-4 ln2 (sep/FWHM)^2),
 * FWHM = GEOM_PB_FWHM_FACTOR * c / freq / diam: beam.c's Gaussian model. */
double geom_pb(double sep, double freq_hz, double diam_m);
/* Flux density S0 (f/f0)^alpha. */
double geom_flux(double s0, double f0_hz, double alpha, double freq_hz);

#endif

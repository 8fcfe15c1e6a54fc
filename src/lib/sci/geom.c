/*
 * geom.c: time, frame and beam helpers (contract in geom.h).
 *
 * Everything here is closed-form: civil date <-> day count through the
 * proleptic Gregorian calendar, GMST from the IAU 1982 polynomial in
 * Julian centuries, and the usual rotation chain ENU -> equatorial
 * (X toward HA 0 on the equator, Y toward HA -6 h, Z toward the pole) ->
 * uvw for a direction (HA, Dec).
 */
#include "sci/geom.h"
#include "sci/astro.h"
#include "sci/beam.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define JD_UNIX 2440587.5 /* JD of 1970-01-01T00:00:00 */

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian), any year. */
static long days_from_civil(long y, int m, int d)
{
	long era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Inverse of days_from_civil. */
static void civil_from_days(long z, long *y, int *m, int *d)
{
	long era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

double geom_jd(int year, int month, int day, int hour, int minute, double second)
{
	return JD_UNIX + (double)days_from_civil(year, month, day) +
	    (hour * 3600.0 + minute * 60.0 + second) / GEOM_DAY_S;
}

/* n digits at s into *v; 0 or -1. */
static int digits(const char *s, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

int geom_parse_stamp(const char *s, double *jd, const char **end)
{
	int y, mo, d, h, mi, se;
	double frac = 0;
	const char *p;

	if (!digits(s, 4, &y) && s[4] == '-' && !digits(s + 5, 2, &mo) && s[7] == '-' &&
	    !digits(s + 8, 2, &d) && s[10] == 'T' && !digits(s + 11, 2, &h) && s[13] == ':' &&
	    !digits(s + 14, 2, &mi) && s[16] == ':' && !digits(s + 17, 2, &se)) {
		p = s + 19;
		if (*p == '.' && isdigit((unsigned char)p[1])) {
			double scale = 0.1;
			for (p++; isdigit((unsigned char)*p); p++, scale /= 10)
				frac += (*p - '0') * scale;
		}
	} else if (!digits(s, 4, &y) && !digits(s + 4, 2, &mo) && !digits(s + 6, 2, &d) &&
	    s[8] == 'T' && !digits(s + 9, 2, &h) && !digits(s + 11, 2, &mi) &&
	    !digits(s + 13, 2, &se)) {
		p = s + 15;
	} else {
		return -1;
	}
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
		return -1;
	if (end)
		*end = p;
	else if (*p)
		return -1;
	*jd = geom_jd(y, mo, d, h, mi, se + frac);
	return 0;
}

/* Split jd into civil fields, seconds rounded to 1/scale. */
static void split(double jd, double scale, long *y, int *mo, int *d, int *h, int *mi, double *s)
{
	double t = (jd - JD_UNIX) * GEOM_DAY_S;
	double ticks = floor(t * scale + 0.5);
	long day = (long)floor(ticks / (GEOM_DAY_S * scale));
	double rem = ticks - (double)day * GEOM_DAY_S * scale;

	civil_from_days(day, y, mo, d);
	*h = (int)(rem / (3600 * scale));
	rem -= *h * 3600 * scale;
	*mi = (int)(rem / (60 * scale));
	rem -= *mi * 60 * scale;
	*s = rem / scale;
}

void geom_group_id(double jd, char out[16])
{
	long y;
	int mo, d, h, mi;
	double s;

	split(jd, 1, &y, &mo, &d, &h, &mi, &s);
	snprintf(out, 16, "%04ld%02d%02dT%02d%02d%02d", y % 10000, mo, d, h, mi, (int)s % 60);
}

void geom_iso(double jd, char out[32])
{
	long y;
	int mo, d, h, mi;
	double s;

	split(jd, 1000, &y, &mo, &d, &h, &mi, &s);
	snprintf(out, 32, "%04ld-%02d-%02dT%02d:%02d:%06.3fZ", y % 10000, mo, d, h, mi, s);
}

double geom_wrap_2pi(double a)
{
	a = fmod(a, 2 * GEOM_PI);
	return a < 0 ? a + 2 * GEOM_PI : a;
}

double geom_wrap_pi(double a)
{
	a = geom_wrap_2pi(a + GEOM_PI) - GEOM_PI;
	return a;
}

double geom_gmst(double jd)
{
	double d = jd - 2451545.0, t = d / 36525.0;
	double deg = 280.46061837 + 360.98564736629 * d + t * t * (0.000387933 - t / 38710000.0);

	return geom_wrap_2pi(deg * GEOM_DEG);
}

double geom_lst(double jd, double lon_deg)
{
	return astro_local_era(jd, lon_deg * GEOM_DEG);
}

void geom_ecef_to_enu(const double x[3], double lat, double lon, double enu[3])
{
	double sl = sin(lat), cl = cos(lat), so = sin(lon), co = cos(lon);

	enu[0] = -so * x[0] + co * x[1];
	enu[1] = -sl * co * x[0] - sl * so * x[1] + cl * x[2];
	enu[2] = cl * co * x[0] + cl * so * x[1] + sl * x[2];
}

void geom_enu_to_ecef(const double enu[3], double lat, double lon, double x[3])
{
	double sl = sin(lat), cl = cos(lat), so = sin(lon), co = cos(lon);

	x[0] = -so * enu[0] - sl * co * enu[1] + cl * co * enu[2];
	x[1] = co * enu[0] - sl * so * enu[1] + cl * so * enu[2];
	x[2] = cl * enu[1] + sl * enu[2];
}

void geom_enu_to_uvw(const double enu[3], double lat, double ha, double dec, double uvw[3])
{
	double sl = sin(lat), cl = cos(lat), sh = sin(ha), ch = cos(ha);
	double sd = sin(dec), cd = cos(dec);
	double X = -sl * enu[1] + cl * enu[2];
	double Y = enu[0];
	double Z = cl * enu[1] + sl * enu[2];

	uvw[0] = sh * X + ch * Y;
	uvw[1] = -sd * ch * X + sd * sh * Y + cd * Z;
	uvw[2] = cd * ch * X - cd * sh * Y + sd * Z;
}

double geom_sep(double ra1, double dec1, double ra2, double dec2)
{
	/* haversine form: accurate for small separations */
	double sd = sin((dec2 - dec1) / 2), sr = sin((ra2 - ra1) / 2);
	double a = sd * sd + cos(dec1) * cos(dec2) * sr * sr;

	return 2 * asin(sqrt(a < 1 ? a : 1));
}

void geom_lmn(double ra, double dec, double ra0, double dec0, double *l, double *m, double *n)
{
	double da = ra - ra0;

	*l = cos(dec) * sin(da);
	*m = sin(dec) * cos(dec0) - cos(dec) * sin(dec0) * cos(da);
	*n = sin(dec) * sin(dec0) + cos(dec) * cos(dec0) * cos(da);
}

double geom_pb(double sep, double freq_hz, double diam_m)
{
	/* the one implementation of each model is beam.c's */
	return beam_pb(BEAM_GAUSS, sep, freq_hz, diam_m);
}

double geom_flux(double s0, double f0_hz, double alpha, double freq_hz)
{
	return s0 * pow(freq_hz / f0_hz, alpha);
}

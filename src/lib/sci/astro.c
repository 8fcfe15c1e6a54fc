/*
 * astro.c: ICRS <-> CIRS and the Earth rotation angle through ERFA
 * (contract and conventions in astro.h).
 */
#include "sci/astro.h"

#include <erfa.h>
#include <math.h>

/* TT two-part date of a UTC JD (ERFA's leap seconds; UTC before 1960 or
 * after its table is taken as TAI - 37 s). */
static void tt_of(double jd_utc, double *t1, double *t2)
{
	double a1, a2, u1 = floor(jd_utc - 0.5) + 0.5, u2 = jd_utc - u1;

	if (eraUtctai(u1, u2, &a1, &a2) < 0) {
		a1 = u1;
		a2 = u2 + 37.0 / 86400;
	}
	eraTaitt(a1, a2, t1, t2);
}

double astro_local_era2(double jd1, double jd2, double lon)
{
	return eraAnp(eraEra00(jd1, jd2) + lon);
}

double astro_local_era(double jd_utc, double lon)
{
	double u1 = floor(jd_utc - 0.5) + 0.5;

	return eraAnp(eraEra00(u1, jd_utc - u1) + lon);
}

void astro_icrs_to_cirs(double jd_utc, double ra, double dec, double *ri, double *di)
{
	double t1, t2, eo;

	tt_of(jd_utc, &t1, &t2);
	eraAtci13(ra, dec, 0, 0, 0, 0, t1, t2, ri, di, &eo);
	*ri = eraAnp(*ri);
}

void astro_cirs_to_icrs(double jd_utc, double ri, double di, double *ra, double *dec)
{
	double t1, t2, eo;

	tt_of(jd_utc, &t1, &t2);
	eraAtic13(ri, di, t1, t2, ra, dec, &eo);
	*ra = eraAnp(*ra);
}

double astro_north_angle(double jd_utc, double ri, double di)
{
	const double eps = 1e-4;
	double r0, d0, r1, d1;

	/* The ICRS position angle of a point a little north in CIRS. */
	astro_cirs_to_icrs(jd_utc, ri, di, &r0, &d0);
	if (di + eps < M_PI / 2) {
		astro_cirs_to_icrs(jd_utc, ri, di + eps, &r1, &d1);
		return eraPas(r0, d0, r1, d1);
	}
	astro_cirs_to_icrs(jd_utc, ri, di - eps, &r1, &d1);
	return eraAnpm(eraPas(r0, d0, r1, d1) - M_PI);
}

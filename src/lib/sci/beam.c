/*
 * beam.c: primary-beam models (contract in beam.h).
 *
 * The tapered dish in closed form: with rho = 2r/D, b = BLOCK/D and
 * u = pi D sin(theta) / lambda, the voltage pattern is
 *   E(u) = F(1) - F(b),  F(a) = int_0^a g(rho) J0(u rho) rho drho,
 * g = 1 - (1 - c) rho^2, and the two integrals are textbook ones:
 *   int_0^a J0(u rho) rho drho   = a J1(u a) / u,
 *   int_0^a J0(u rho) rho^3 drho = a^3 J1(u a) / u - 2 a^2 J2(u a) / u^2.
 * The power beam is (E(u) / E(0))^2.
 */
#include "sci/beam.h"

#include <math.h>
#include <string.h>

#define BEAM_C 299792458.0

static double taper_f(double a, double u, double c)
{
	double j1a = j1(u * a);

	return a * j1a / u - (1 - c) * (a * a * a * j1a / u - 2 * a * a * jn(2, u * a) / (u * u));
}

/* Voltage pattern of the tapered, blocked aperture at u, 1 on the axis. */
static double taper_e(double u, double dish_m)
{
	double c = pow(10, BEAM_TAPER_DB / 20), b = BEAM_BLOCK_M / dish_m;
	double e0 = (1 - b * b) / 2 - (1 - c) * (1 - b * b * b * b) / 4;

	if (u < 1e-6)
		return 1;
	return (taper_f(1, u, c) - taper_f(b, u, c)) / e0;
}

double beam_pb(enum beam_model m, double theta, double freq_hz, double dish_m)
{
	double lambda = BEAM_C / freq_hz;
	double a = M_PI * dish_m * sin(fabs(theta)) / lambda, r;

	if (m == BEAM_GAUSS) {
		double fwhm = 1.2 * lambda / dish_m;
		return exp(-4 * M_LN2 * theta * theta / (fwhm * fwhm));
	}
	if (m == BEAM_TAPER) {
		r = taper_e(a, dish_m);
		return r * r;
	}
	if (a < 1e-8)
		return 1;
	r = 2 * j1(a) / a;
	return r * r;
}

double beam_first_null(enum beam_model m, double freq_hz, double dish_m)
{
	double lambda = BEAM_C / freq_hz;

	if (m == BEAM_GAUSS)
		return 1.2 * lambda / dish_m * sqrt(log(100.0) / (4 * M_LN2));
	if (m == BEAM_TAPER) {
		/* the first zero of E(u) lies between the uniform aperture's
		 * (3.83) and a fully tapered one's (5.14): bisect there */
		double lo = 3.5, hi = 5.5;
		for (int i = 0; i < 60; i++) {
			double mid = (lo + hi) / 2;
			if (taper_e(mid, dish_m) > 0)
				lo = mid;
			else
				hi = mid;
		}
		return asin(fmin(1, lo * lambda / (M_PI * dish_m)));
	}
	return 1.2197 * lambda / dish_m;
}

int beam_parse(const char *s, enum beam_model *m)
{
	if (!strcmp(s, "taper"))
		*m = BEAM_TAPER;
	else if (!strcmp(s, "airy"))
		*m = BEAM_AIRY;
	else if (!strcmp(s, "gauss") || !strcmp(s, "gaussian"))
		*m = BEAM_GAUSS;
	else
		return -1;
	return 0;
}

const char *beam_name(enum beam_model m)
{
	return m == BEAM_GAUSS ? "gauss" : m == BEAM_TAPER ? "taper" : "airy";
}

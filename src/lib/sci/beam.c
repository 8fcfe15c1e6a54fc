/*
 * beam.c: primary-beam models (contract in beam.h).
 */
#include "sci/beam.h"

#include <math.h>
#include <string.h>

#define BEAM_C 299792458.0

double beam_pb(enum beam_model m, double theta, double freq_hz, double dish_m)
{
	double lambda = BEAM_C / freq_hz;

	if (m == BEAM_GAUSS) {
		double fwhm = 1.2 * lambda / dish_m;
		return exp(-4 * M_LN2 * theta * theta / (fwhm * fwhm));
	}
	{
		double a = M_PI * dish_m * sin(fabs(theta)) / lambda, r;

		if (a < 1e-8)
			return 1;
		r = 2 * j1(a) / a;
		return r * r;
	}
}

double beam_first_null(enum beam_model m, double freq_hz, double dish_m)
{
	double lambda = BEAM_C / freq_hz;

	if (m == BEAM_GAUSS)
		return 1.2 * lambda / dish_m * sqrt(log(100.0) / (4 * M_LN2));
	return 1.2197 * lambda / dish_m;
}

int beam_parse(const char *s, enum beam_model *m)
{
	if (!strcmp(s, "airy"))
		*m = BEAM_AIRY;
	else if (!strcmp(s, "gauss") || !strcmp(s, "gaussian"))
		*m = BEAM_GAUSS;
	else
		return -1;
	return 0;
}

const char *beam_name(enum beam_model m)
{
	return m == BEAM_GAUSS ? "gauss" : "airy";
}

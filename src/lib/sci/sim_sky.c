/*
 * sim_sky.c: a realistic random sky for the simulator (contract in
 * sim.h): the brightest nsrc sources of a patch reaching the primary
 * beam's first null, fluxes drawn from the 1.4 GHz differential source
 * counts, so that a science test sees what a real field holds (a few
 * bright sources, many near the detection limit, some far out in the
 * beam's wings) instead of a handful of equal sources near the centre.
 *
 * The counts: the Euclidean-normalised polynomial fit of Hopkins et al.
 * (2003, AJ 125, 465, eq. 1, from the Phoenix Deep Survey and earlier
 * 1.4 GHz surveys):
 *
 *     log10(S^2.5 dN/dS / Jy^1.5 sr^-1) = sum_{i=0..6} a_i (log10(S / mJy))^i
 *
 * with a = 0.859, 0.508, 0.376, -0.049, -0.121, 0.057, -0.008. The fit
 * holds from ~0.05 mJy to ~1 Jy; above 1 Jy it turns over too steeply, so
 * the counts are held Euclidean there (S^2.5 dN/dS constant), which is
 * what the bright counts do within their scatter.
 */
#include <math.h>
#include <stdlib.h>

#include "sci/sim.h"

#define NTAB 1200
#define LOG_SMIN -5.0          /* 10 uJy */
#define LOG_SMAX 1.5           /* 31.6 Jy */

/* Euclidean-normalised counts S^2.5 dN/dS, Jy^1.5 sr^-1, at S Jy. */
double sim_counts_euclid(double s_jy)
{
	static const double a[7] = {0.859, 0.508, 0.376, -0.049, -0.121, 0.057, -0.008};
	double x = log10(fmin(s_jy, 1.0) * 1e3), y = 0, p = 1;

	for (int i = 0; i < 7; i++, p *= x)
		y += a[i] * p;
	return pow(10, y);
}

/* cum[i] = N(> S_i) per steradian at S_i = 10^(LOG_SMIN + i step), by the
 * trapezoid rule in log S (dN = S^-1.5 C(S) ln10 dlogS). */
static void integral_counts(double *cum, double step)
{
	cum[NTAB - 1] = 0;
	for (int i = NTAB - 2; i >= 0; i--) {
		double s0 = pow(10, LOG_SMIN + i * step), s1 = pow(10, LOG_SMIN + (i + 1) * step);
		double f0 = sim_counts_euclid(s0) * pow(s0, -1.5), f1 = sim_counts_euclid(s1) * pow(s1, -1.5);

		cum[i] = cum[i + 1] + 0.5 * (f0 + f1) * M_LN10 * step;
	}
}

/* The flux (Jy) above which N(> S) = target per steradian, by
 * interpolation of cum in log N. */
static double flux_at(const double *cum, double step, double target)
{
	int i = 0;

	if (target >= cum[0])
		return pow(10, LOG_SMIN);
	while (i < NTAB - 2 && cum[i + 1] > target)
		i++;
	{
		double t = (log(cum[i]) - log(target)) / (log(cum[i]) - log(cum[i + 1]));
		return pow(10, LOG_SMIN + (i + t) * step);
	}
}

int sim_counts_draw(int nsrc, double radius, struct sim_rng *r, double *flux, double *rad,
    double *pa, double *smin)
{
	double *cum = malloc(sizeof *cum * NTAB), step = (LOG_SMAX - LOG_SMIN) / (NTAB - 1);
	double omega = 2 * M_PI * (1 - cos(radius)), nmin;

	if (!cum)
		return -1;
	integral_counts(cum, step);
	*smin = flux_at(cum, step, nsrc / omega);
	nmin = nsrc / omega;
	for (int k = 0; k < nsrc; k++) {
		/* N(> S) uniform in (N(> S_max), N(> S_min)]: S by inverse CDF */
		double u = sim_rng_uniform(r);

		flux[k] = flux_at(cum, step, cum[NTAB - 2] + (1 - u) * (nmin - cum[NTAB - 2]));
		rad[k] = acos(1 - sim_rng_uniform(r) * (1 - cos(radius)));
		pa[k] = 2 * M_PI * sim_rng_uniform(r);
	}
	free(cum);
	return 0;
}

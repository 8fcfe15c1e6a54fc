/*
 * sim_beam.c: the simulated sky's primary beam (uvm-sim -B), chosen apart
 * from the pipeline's PB_MODEL so that a test can simulate with one model
 * and check what the pipeline assumes.
 *
 * The default, "taper", is the dish as the simulator sees it: the far field
 * of a 4.65 m circular aperture, illumination a parabola on a pedestal
 * (-4 dB at the rim), the central 0.5 m blocked by the feed, obtained by
 * integrating the aperture numerically (Hankel transform,
 *   E(u) = int_b^1 g(rho) J0(u rho) rho drho,  u = pi D sin(theta)/lambda,
 * composite Simpson on 256 intervals, tabulated once in u and interpolated)
 * rather than from beam.c's closed form: the two share the physics and
 * the parameters (beam.h), not the code, so the image's primary-beam
 * correction is checked against an independent computation. "airy" and
 * "gauss" are beam.c's, for the tests of a wrong model.
 */
#include "sci/sim.h"

#include <math.h>

#define TAB_UMAX 64.0 /* theta ~ 37 deg at 1.5 GHz: beyond, computed directly */
#define TAB_N 4096
#define SIMPSON_N 256

static enum beam_model sim_beam_model = BEAM_TAPER;
static double tab[TAB_N + 1];
static int tab_ready;

/* E(u) / E(0) by quadrature of the aperture. */
static double aperture_voltage(double u)
{
	double c = pow(10, BEAM_TAPER_DB / 20), b = BEAM_BLOCK_M / SIM_DIAM_M;
	double h = (1 - b) / SIMPSON_N, e = 0, e0 = 0;

	for (int i = 0; i <= SIMPSON_N; i++) {
		double rho = b + i * h, w = (i == 0 || i == SIMPSON_N) ? 1 : (i & 1) ? 4 : 2;
		double g = (c + (1 - c) * (1 - rho * rho)) * rho;
		e += w * g * j0(u * rho);
		e0 += w * g;
	}
	return e / e0;
}

static void tab_build(void)
{
	for (int i = 0; i <= TAB_N; i++)
		tab[i] = aperture_voltage(i * TAB_UMAX / TAB_N);
	tab_ready = 1;
}

void sim_beam_use(enum beam_model m)
{
	sim_beam_model = m;
}

double sim_beam(double theta, double freq_hz)
{
	double u, x, e;
	int i;

	if (sim_beam_model != BEAM_TAPER)
		return beam_pb(sim_beam_model, theta, freq_hz, SIM_DIAM_M);
	if (!tab_ready)
		tab_build();
	u = M_PI * SIM_DIAM_M * sin(fabs(theta)) * freq_hz / SIM_C;
	if (u >= TAB_UMAX) {
		e = aperture_voltage(u);
		return e * e;
	}
	/* cubic (Catmull-Rom) between table points: 1e-7 of the peak */
	x = u / (TAB_UMAX / TAB_N);
	i = (int)x;
	x -= i;
	{
		double p0 = tab[i > 0 ? i - 1 : 1], p1 = tab[i], p2 = tab[i + 1];
		double p3 = tab[i + 2 <= TAB_N ? i + 2 : TAB_N];
		e = p1 + 0.5 * x * (p2 - p0 + x * (2 * p0 - 5 * p1 + 4 * p2 - p3 +
		    x * (3 * (p1 - p2) + p3 - p0)));
	}
	return e * e;
}

const char *sim_beam_name(void)
{
	return beam_name(sim_beam_model);
}

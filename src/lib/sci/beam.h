/*
 * beam.h: the primary beam of a DSA-110 dish, one model chosen by
 * configuration (PB_MODEL in uvmake.conf; uvm-image -b, uvm-sim -B).
 *
 *   airy   the far field of a uniformly illuminated circular aperture of
 *          diameter D: (2 J1(a) / a)^2 with a = pi D sin(theta) / lambda;
 *          half power at 0.5145 lambda/D from the axis (FWHM 1.029
 *          lambda/D), first null at 1.2197 lambda/D (3.2 deg for 4.65 m
 *          at 1.4 GHz). The default: what the operators use.
 *   gauss  exp(-4 ln 2 (theta / FWHM)^2), FWHM = 1.2 lambda/D: the model
 *          the pipeline used before (geom_pb), kept as an option.
 */
#ifndef UVM_BEAM_H
#define UVM_BEAM_H

enum beam_model { BEAM_AIRY, BEAM_GAUSS };

#define BEAM_DISH_M 4.65

/* Power response (1 on the axis) at theta radians from it, frequency
 * freq_hz, dish diameter dish_m. */
double beam_pb(enum beam_model m, double theta, double freq_hz, double dish_m);
/*
 * Radius (radians) out to which the dish sees the sky at freq_hz: the
 * first null of the Airy pattern, 1.2197 lambda/D; the Gaussian has none,
 * so where it falls to 1% (1.55 lambda/D for FWHM 1.2 lambda/D). The
 * imager sizes its field to this at the lowest frequency.
 */
double beam_first_null(enum beam_model m, double freq_hz, double dish_m);
/* "airy" or "gauss"; 0 or -1. */
int beam_parse(const char *s, enum beam_model *m);
const char *beam_name(enum beam_model m);

#endif

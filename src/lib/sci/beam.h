/*
 * beam.h: the primary beam of a DSA-110 dish, one model chosen by
 * configuration (PB_MODEL in uvmake.conf, uvm-image -b) and used the same
 * way by imaging (image.pb.fits), mosaics and calibration (the apparent
 * flux of the calibrator).
 *
 *   taper  the default: the far field of a 4.65 m circular aperture
 *          illuminated by a parabola on a pedestal, g(r) = c + (1 - c)
 *          (1 - (2r/D)^2), edge taper c = -4 dB (voltage 0.631), with the
 *          feed and its housing blocking the central 0.5 m. Written in
 *          closed form (Bessel functions J1, J2 of the aperture's radii).
 *          Half power at 0.52 lambda/D from the axis (1.40 deg at 1.4
 *          GHz, the width the instrument's own calibration model
 *          gives: dsacalib's pb_resp), first null at 1.29 lambda/D.
 *   airy   a uniformly illuminated, unblocked aperture: (2 J1(a) / a)^2,
 *          a = pi D sin(theta) / lambda; half power at 0.5145 lambda/D
 *          (1.36 deg), first null at 1.2197 lambda/D.
 *   gauss  exp(-4 ln 2 (theta / FWHM)^2), FWHM = 1.2 lambda/D: the model
 *          the pipeline used first, kept as an option.
 *
 * The simulator has its own implementation of the tapered dish (sim.c:
 * the same aperture integrated numerically), so a test can check this one
 * against code it does not share.
 */
#ifndef UVM_BEAM_H
#define UVM_BEAM_H

enum beam_model { BEAM_TAPER, BEAM_AIRY, BEAM_GAUSS };

#define BEAM_DISH_M 4.65
#define BEAM_TAPER_DB (-4.0) /* illumination at the rim (voltage, dB) */
#define BEAM_BLOCK_M 0.5     /* diameter of the central blockage */

/* Power response (1 on the axis) at theta radians from it, frequency
 * freq_hz, dish diameter dish_m. */
double beam_pb(enum beam_model m, double theta, double freq_hz, double dish_m);
/*
 * Radius (radians) out to which the dish sees the sky at freq_hz: the
 * first null of the pattern (1.2197 lambda/D for Airy, 1.29 for the
 * tapered dish); the Gaussian has none, so where it falls to 1% (1.55
 * lambda/D for FWHM 1.2 lambda/D). The imager sizes its field to this at
 * the lowest frequency.
 */
double beam_first_null(enum beam_model m, double freq_hz, double dish_m);
/* "taper", "airy" or "gauss" ("gaussian"); 0 or -1. */
int beam_parse(const char *s, enum beam_model *m);
const char *beam_name(enum beam_model m);

#endif

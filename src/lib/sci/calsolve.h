/*
 * calsolve.h: solve per-antenna complex gains on a calibrator transit (the
 * library behind uvm-calsolve).
 *
 * Method, for the combined visibilities of one group:
 *  1. Each integration is rephased from its phase centre (the meridian at
 *     the pointing declination for drift scans, or a fixed sidereal
 *     centre) to the calibrator: antenna w terms for both directions are
 *     recomputed from the antenna positions and the integration's LST, and
 *     V' = V exp(2 pi i (w_cal - w_centre) f / c).
 *  2. Model: the calibrator alone at the phase centre, S(f) A(theta, f),
 *     with S the catalogue spectrum and A the primary beam (PB_MODEL, beam.h) at the
 *     calibrator's distance from the pointing at that integration.
 *  3. Delays (a first pass over the file): per baseline, channel and
 *     polarization, sums over time of the rephased visibilities, from
 *     which cal_delay (cal_delay.h) scores each antenna's coherence,
 *     chooses the reference antenna (the most coherent, so never a dead,
 *     flagged or garbage antenna; o->refant only if it is usable) and
 *     solves a delay per antenna and polarization relative to it (not
 *     below 32 channels: a delay needs a band). Antennas scoring below
 *     half the median of those with data are left out of the solve.
 *  4. A second pass removes the delays and, for each solution interval
 *     (CAL_INTERVAL integrations), channel and polarization, runs StEFCal
 *     (cal_stefcal.h) on the interval's sums, with autocorrelations,
 *     flagged samples, left-out antennas and baselines shorter than
 *     min_uv_lambda excluded. Each raw solution gets an SNR from the
 *     residuals; solutions that did not converge or fall below flag_snr
 *     are flagged. All raw solutions are referenced to the reference.
 *  5. The raw solutions of each antenna and polarization, a time x
 *     frequency matrix, are fitted by weighted alternating least squares
 *     with a product tgain(t) * bandpass(f) (gains in time, common to the
 *     band, times a bandpass common to the scan), with one round of
 *     outlier rejection (5 sigma). The table's gains are that product
 *     times exp(2 pi i f delay), flagged where either factor has no good
 *     raw solution.
 *  6. Each antenna-polarization gets a status (cal_table.h, enum
 *     cal_antpol), the first that applies: no data; flagged on input (under
 *     5% of its cross-correlation samples unflagged); incoherent (left
 *     out); delay search failed; low snr (under 1% of its gains usable);
 *     else good. A failed one has all its gains flagged.
 * Quality figures: frac_flagged = fraction of raw solutions flagged
 * (antennas with data), median_snr = median raw SNR, residual_rms =
 * rms residual of the raw fits relative to the model visibilities,
 * frac_good_antpol = good antenna-polarizations over those with data.
 */
#ifndef UVM_CALSOLVE_H
#define UVM_CALSOLVE_H

#include "sci/beam.h"

#include "sci/cal_catalog.h"
#include "sci/cal_table.h"

struct calsolve_opts {
	const char *vis;                 /* combined visibilities */
	const struct cal_source *cal;    /* calibrator, or NULL: the catalogue
	                                    source transiting during the data */
	const struct cal_catalog *catalog;
	const char *group;               /* recorded in the table */
	int interval;                    /* integrations per time solution (>= 1) */
	double min_uv_lambda;            /* shortest baseline used, wavelengths */
	double flag_snr;                 /* raw solutions below are flagged */
	int max_iter;                    /* StEFCal iterations */
	double tol;                      /* StEFCal tolerance */
	double validity_hours;           /* window centred on the transit */
	long refant;                     /* antenna number, -1: automatic */
	double diam_m;                   /* dish diameter for the beam */
	enum beam_model beam;            /* PB_MODEL: the calibrator's apparent
	                                    flux is its spectrum times it */
	int nthreads;                    /* <= 0: online CPUs (at most
	                                    CAL_MAX_THREADS); the table is the
	                                    same bit for bit for any count */
};

#define CAL_MAX_THREADS 64

/* Defaults: interval 1, min_uv 0, flag_snr 5, 100 iterations, 1e-6,
 * 24 h, automatic reference antenna, 4.65 m, online CPUs. */
void calsolve_defaults(struct calsolve_opts *o);

/*
 * Solve. Fills t (allocated here; cal_table_free it) including the
 * quality figures and validity window. Returns 0, or an exit status with
 * err filled: EX_NOINPUT / EX_IOERR (input), EX_DATAERR (data unusable:
 * no pointing declination, rows not in time order, no unflagged cross-
 * correlation), EX_UNAVAILABLE (no catalogue calibrator transits during
 * the data), EX_SOFTWARE (memory).
 */
int calsolve_run(const struct calsolve_opts *o, struct cal_table *t, char *err);

#endif

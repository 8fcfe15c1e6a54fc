/*
 * cal_delay.h: per-antenna, per-polarization delays from a calibrator
 * group, with a robust choice of the reference antenna, to be removed
 * before the bandpass is solved (issue 16: delays of tens of ns, a few up
 * to 2 us, wrap the phase many times across the band and break a
 * per-channel solve that assumes smooth phases).
 *
 * Model (the simulator's convention): V_ij(f) = S g_i conj(g_j) with
 * g = |g| exp(i (phi + 2 pi f tau)), so the phase of V_ij carries
 * 2 pi f (tau_i - tau_j). Files hold the conjugate (sim.h): callers pass
 * conjugated visibilities, as calsolve does; tests/calibration.bats checks
 * the sign against the delays uvm-sim -D delays injects.
 *
 * Reference antenna: the one whose baselines are most coherent in time
 * (per channel, |sum_t V| / sum_t |V|, median over channels, then over its
 * baselines), weighted by its unflagged fraction. A dead antenna (zeros or
 * flagged) scores 0, a garbage one ~1/sqrt(Ntimes); a good one ~1.
 *
 * Delay of antenna a, polarization p, relative to the reference: on the
 * time-averaged spectrum of baseline (ref, a), a coarse search of
 * |sum_f V(f) exp(-2 pi i f D)| over a grid of D covering +-1/(2 df)
 * (df the channel width) oversampled 4 times, then a golden-section
 * refinement within one grid step of the peak. Delays are only defined
 * modulo 1/df (4.096 us for DSA-110's 244 kHz channels); results are in
 * [-1/(2 df), 1/(2 df)). tau_ref = 0.
 */
#ifndef UVM_CAL_DELAY_H
#define UVM_CAL_DELAY_H

#include <complex.h>
#include <stdint.h>

/* One group in memory, rows [t][b], each row [f][p] (uvm-combine's layout). */
struct cal_delay_in {
	int nants, nbls, ntimes, nfreq, npol;
	const int *a1, *a2;        /* nbls, antenna indices 0..nants-1 */
	const float complex *vis;
	const uint8_t *flags;      /* may be NULL */
	const double *freq;        /* nfreq, Hz, ascending, uniform spacing */
};

struct cal_delay_out {
	int refant;                /* index, -1 if no antenna usable */
	double *tau_s;             /* nants x npol, [a * npol + p] */
	double *snr;               /* peak over the median of the delay spectrum */
	uint8_t *ok;               /* 1 when snr >= 6 (tau meaningful; pure noise
	                            * over 768 channels peaks near 3.5) */
	double *score;             /* nants: reference-antenna score */
};

/* Choose the reference and solve; out's arrays allocated (free with
 * cal_delay_free). 0, or -1 when out of memory. */
int cal_delay_solve(const struct cal_delay_in *in, struct cal_delay_out *out);

/*
 * The same from sums over time accumulated by the caller (so a group need
 * not be held in memory: calsolve accumulates them while it reads), per
 * baseline b, channel f, polarization p at [(b * nfreq + f) * npol + p]:
 * sum = sum_t V, sabs = sum_t |V|, cnt = unflagged finite samples, out of
 * ntimes. cal_delay_solve is this on its own sums.
 */
struct cal_delay_sums {
	int nants, nbls, ntimes, nfreq, npol;
	const int *a1, *a2;        /* nbls, antenna indices 0..nants-1 */
	const float complex *sum;
	const float *sabs;
	const float *cnt;
	const double *freq;        /* nfreq, Hz, ascending, uniform spacing */
};
int cal_delay_solve_sums(const struct cal_delay_sums *in, struct cal_delay_out *out);
void cal_delay_free(struct cal_delay_out *out);

/* Wrap tau into [-P/2, P/2) for period P (1/df). */
double cal_delay_wrap(double tau, double period);

#endif

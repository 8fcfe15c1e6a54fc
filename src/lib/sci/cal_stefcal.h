/*
 * cal_stefcal.h: per-antenna complex gains by StEFCal (Salvini & Wijnholds
 * 2014, "Fast gain calibration in radio astronomy using alternating
 * direction implicit methods"), on accumulated statistics.
 *
 * Data V_qp (q, p antennas) are modelled as g_q M_qp conj(g_p) + noise.
 * Instead of the visibilities the solver takes, for each antenna pair,
 * sums over the samples k sharing the same gains (integrations of a
 * solution interval) with weights w_k:
 *     C_qp = sum w V conj(M),   D_qp = sum w |M|^2,   A_qp = sum w |V|^2,
 *     K_qp = sum w (sample count)
 * which is exactly what the least-squares update needs, so a solution
 * interval of any length costs one pass over its data. Matrices are n x n
 * row-major, [q*n + p]; C Hermitian (C_pq = conj C_qp), D, A, K symmetric;
 * a zero D_qp excludes the pair (autocorrelations, flags, short baselines).
 */
#ifndef UVM_CAL_STEFCAL_H
#define UVM_CAL_STEFCAL_H

#include <complex.h>

struct stefcal_opts {
	int max_iter;     /* iterations (default 100) */
	double tol;       /* relative change ||g_i - g_i-1|| / ||g_i|| to stop (1e-6) */
};

struct stefcal_result {
	int iterations;
	int converged;    /* 1 if the tolerance was reached */
	int nactive;      /* antennas with at least one usable pair */
	double sigma2;    /* estimated complex noise variance per unit weight */
	double resid2;    /* sum of weighted squared residuals over pairs q < p */
	double model2;    /* sum of weighted |g_q M conj(g_p)|^2 over pairs q < p */
};

/*
 * Solve for g (n entries). g holds the starting point on entry (an entry
 * of 0 is replaced by 1) and the solution on exit; antennas without any
 * usable pair get g = 0. snr (n entries, may be NULL) gets |g_p| /
 * sigma(g_p), with sigma^2(g_p) = sigma2 / sum_q |g_q|^2 D_qp, 0 for
 * inactive antennas. A, K may be NULL (then sigma2, resid2 and snr are 0).
 * The phase of the solution is arbitrary (see stefcal_reference).
 * Returns the number of active antennas; needs no allocation beyond
 * 2n complex (caller-free: uses the stack for n <= 4096, else returns -1).
 */
int stefcal_solve(int n, const double complex *C, const double *D, const double *A,
    const double *K, double complex *g, double *snr, const struct stefcal_opts *o,
    struct stefcal_result *res);

/* Rotate all g so that g[ref] is real positive; no-op if g[ref] == 0. */
void stefcal_reference(int n, double complex *g, int ref);

#endif

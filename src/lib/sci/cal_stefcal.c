/*
 * cal_stefcal.c: StEFCal on accumulated pair statistics (contract in
 * cal_stefcal.h).
 *
 * Each iteration updates every antenna p from the previous iterate
 * (Jacobi style): with z_q = g_q M_qp, the least-squares conj(g_p) for
 * column p is (z^H V_p) / (z^H z); summed over samples that is
 *     g_p = sum_q conj(C_qp) g_q / sum_q |g_q|^2 D_qp.
 * Every second iteration the new and previous iterates are averaged,
 * which is what makes the alternating update converge quickly and
 * monotonically (section 3 of the paper), and the stopping test is made.
 */
#include "sci/cal_stefcal.h"

#include <math.h>
#include <string.h>

#define MAXN 4096

int stefcal_solve(int n, const double complex *C, const double *D, const double *A,
    const double *K, double complex *g, double *snr, const struct stefcal_opts *o,
    struct stefcal_result *res)
{
	double complex prev[MAXN];
	double pr[MAXN], pi[MAXN], pw[MAXN];
	unsigned char active[MAXN];
	int max_iter = o && o->max_iter > 0 ? o->max_iter : 100;
	double tol = o && o->tol > 0 ? o->tol : 1e-6;
	struct stefcal_result r = {0};

	if (n <= 0 || n > MAXN)
		return -1;
	for (int p = 0; p < n; p++) {
		active[p] = 0;
		for (int q = 0; q < n && !active[p]; q++)
			if (q != p && D[(size_t)p * n + q] > 0)
				active[p] = 1;
		if (!active[p])
			g[p] = 0;
		else if (g[p] == 0 || !isfinite(creal(g[p])) || !isfinite(cimag(g[p])))
			g[p] = 1;
		r.nactive += active[p];
	}
	for (int it = 1; it <= max_iter; it++) {
		memcpy(prev, g, (size_t)n * sizeof *g);
		for (int q = 0; q < n; q++) {
			pr[q] = creal(prev[q]);
			pi[q] = cimag(prev[q]);
			pw[q] = pr[q] * pr[q] + pi[q] * pi[q];
		}
		for (int p = 0; p < n; p++) {
			double nr = 0, ni = 0, den = 0;

			if (!active[p])
				continue;
			/* row p: conj(C_qp) = C_pq, D_qp = D_pq (Hermitian,
			 * symmetric), read along the row for the cache. The
			 * pairs with D <= 0 add nothing (selected, not branched
			 * on), the diagonal is left out by the two ranges, and
			 * the product is spelt out in reals (a complex one
			 * checks for NaNs each time): the same sums as term by
			 * term, at a fraction of the cost (37% of uvm-calsolve
			 * was here) */
			const double *cr = (const double *)(C + (size_t)p * n), *d = D + (size_t)p * n;
			for (int part = 0; part < 2; part++)
				for (int q = part ? p + 1 : 0; q < (part ? n : p); q++) {
					int on = d[q] > 0;
					double a = on ? cr[2 * q] : 0, b = on ? cr[2 * q + 1] : 0;

					nr += a * pr[q] - b * pi[q];
					ni += a * pi[q] + b * pr[q];
					den += (on ? d[q] : 0) * pw[q];
				}
			g[p] = den > 0 ? (nr + I * ni) / den : 0;
		}
		r.iterations = it;
		if (it % 2 == 0) {
			double dn = 0, gn = 0;

			for (int p = 0; p < n; p++) {
				double complex d = g[p] - prev[p];
				dn += creal(d) * creal(d) + cimag(d) * cimag(d);
				gn += creal(g[p]) * creal(g[p]) + cimag(g[p]) * cimag(g[p]);
			}
			if (!(gn > 0))
				break;
			if (sqrt(dn / gn) <= tol) {
				r.converged = 1;
				break;
			}
			for (int p = 0; p < n; p++)
				g[p] = (g[p] + prev[p]) / 2;
		}
	}
	/* Residuals and the noise estimate from the same sums. */
	if (A && K) {
		double ksum = 0;

		for (int q = 0; q < n; q++)
			for (int p = q + 1; p < n; p++) {
				size_t k = (size_t)q * n + p;
				double complex gg;
				double m2, e;

				if (D[k] <= 0)
					continue;
				gg = g[q] * conj(g[p]);
				m2 = (creal(gg) * creal(gg) + cimag(gg) * cimag(gg)) * D[k];
				e = A[k] - 2 * creal(conj(gg) * C[k]) + m2;
				r.resid2 += e > 0 ? e : 0;
				r.model2 += m2;
				ksum += K[k];
			}
		/* 2 real unknowns per active antenna less one phase, out of
		 * 2 real numbers per sample */
		double dof = ksum - (2.0 * r.nactive - 1) / 2;
		r.sigma2 = dof > 0 ? r.resid2 / dof : 0;
	}
	if (snr)
		for (int p = 0; p < n; p++) {
			double s = 0;

			snr[p] = 0;
			if (!active[p] || !(r.sigma2 > 0))
				continue;
			for (int q = 0; q < n; q++)
				if (q != p)
					s += D[(size_t)p * n + q] *
					    (creal(g[q]) * creal(g[q]) + cimag(g[q]) * cimag(g[q]));
			snr[p] = cabs(g[p]) * sqrt(s / r.sigma2);
		}
	if (res)
		*res = r;
	return r.nactive;
}

void stefcal_reference(int n, double complex *g, int ref)
{
	double a;
	double complex rot;

	if (ref < 0 || ref >= n || g[ref] == 0)
		return;
	a = carg(g[ref]);
	rot = cexp(-I * a);
	for (int p = 0; p < n; p++)
		g[p] *= rot;
}

/*
 * test_cal_delay.c: delays and the reference antenna against injected
 * values (known answers): a 10-antenna array over DSA-110's band (768
 * channels of 244 kHz), gains with random phases and amplitudes, delays of
 * tens of ns and two of ~2 us, noise; antenna 0 dead (all zeros: the naive
 * reference), antenna 1 garbage. The reference must be a good antenna,
 * every good delay within 1 ns of the truth (modulo 1/df), the dead and
 * garbage antennas marked not ok; delays wrap into [-P/2, P/2).
 */
#include <complex.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "sci/cal_delay.h"

#include "tap.h"

static unsigned long long rs = 0x9E3779B97F4A7C15ULL;

static double unif(void)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return ((rs >> 11) + 0.5) / 9007199254740992.0;
}

static double gauss(void)
{
	return sqrt(-2 * log(unif())) * cos(2 * M_PI * unif());
}

#define NA 10
#define NT 4
#define NF 768
#define NP 2

int main(void)
{
	static double freq[NF], tau[NA][NP], phi[NA][NP], amp[NA][NP];
	int a1[NA * (NA + 1) / 2], a2[NA * (NA + 1) / 2], nb = 0;
	double df = 187.5e6 / NF, period = 1 / df;
	char name[160];

	ok(fabs(cal_delay_wrap(3e-6, 4e-6) + 1e-6) < 1e-15, "wrap 3 us with period 4 us is -1 us");
	ok(fabs(cal_delay_wrap(-2e-6, 4e-6) + 2e-6) < 1e-15, "wrap keeps -P/2");
	for (int f = 0; f < NF; f++)
		freq[f] = 1311.5e6 + (f + 0.5) * df;
	for (int a = 0; a < NA; a++)
		for (int p = 0; p < NP; p++) {
			tau[a][p] = 30e-9 * gauss();
			phi[a][p] = 2 * M_PI * unif();
			amp[a][p] = 0.8 + 0.4 * unif();
		}
	tau[4][0] = 1.9e-6;
	tau[6][1] = -1.7e-6;
	for (int i = 0; i < NA; i++)
		for (int j = i; j < NA; j++)
			a1[nb] = i, a2[nb] = j, nb++;
	float complex *vis = malloc(sizeof *vis * (size_t)NT * nb * NF * NP);
	for (int t = 0; t < NT; t++)
		for (int b = 0; b < nb; b++)
			for (int f = 0; f < NF; f++)
				for (int p = 0; p < NP; p++) {
					int i = a1[b], j = a2[b];
					double complex gi = amp[i][p] * cexp(I * (phi[i][p] + 2 * M_PI * freq[f] * tau[i][p]));
					double complex gj = amp[j][p] * cexp(I * (phi[j][p] + 2 * M_PI * freq[f] * tau[j][p]));
					double complex v = 10 * gi * conj(gj) + gauss() + I * gauss();
					if (i == 1 || j == 1)
						v = 20 * (gauss() + I * gauss());
					if (i == 0 || j == 0)
						v = 0;
					vis[(((size_t)t * nb + b) * NF + f) * NP + p] = (float complex)v;
				}
	struct cal_delay_in in = { NA, nb, NT, NF, NP, a1, a2, vis, NULL, freq };
	struct cal_delay_out o;

	ok(cal_delay_solve(&in, &o) == 0, "cal_delay_solve runs");
	int r = o.refant;
	snprintf(name, sizeof name, "reference antenna %d is neither the dead 0 nor the garbage 1", r);
	ok(r >= 2, name);
	ok(!o.ok[0 * NP] && !o.ok[0 * NP + 1], "dead antenna: no delay");
	snprintf(name, sizeof name, "garbage antenna: no delay (snr %.1f, %.1f)", o.snr[NP], o.snr[NP + 1]);
	ok(!o.ok[1 * NP] && !o.ok[1 * NP + 1], name);
	double worst = 0;
	int allok = 1;
	for (int a = 2; a < NA && r >= 0; a++)
		for (int p = 0; p < NP; p++) {
			double truth = cal_delay_wrap(tau[a][p] - tau[r][p], period);
			double e = fabs(cal_delay_wrap(o.tau_s[a * NP + p] - truth, period));
			if (e > worst)
				worst = e;
			allok &= o.ok[a * NP + p];
		}
	snprintf(name, sizeof name, "good antennas: delays within 1 ns of the truth (worst %.3g ns)",
	    worst * 1e9);
	ok(r >= 0 && worst < 1e-9, name);
	ok(allok, "good antennas: every delay ok");
	snprintf(name, sizeof name, "the 1.9 us antenna found (%.4g us vs %.4g)", o.tau_s[4 * NP] * 1e6,
	    cal_delay_wrap(tau[4][0] - tau[r][0], period) * 1e6);
	ok(r >= 0 && fabs(o.tau_s[4 * NP] - cal_delay_wrap(tau[4][0] - tau[r][0], period)) < 1e-9, name);
	cal_delay_free(&o);
	free(vis);
	printf("1..%d\n", ntest);
	return nfail != 0;
}

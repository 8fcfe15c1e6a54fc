/*
 * sim_defects.h: the defects of real DSA-110 data that uvm-sim can inject
 * (uvm-sim -D), each optional, deterministic from the seed, and recorded
 * in the truth file so that flagging and calibration can be scored
 * sample by sample:
 *
 *   rfi     persistent narrowband RFI in a few channels (every integration,
 *           every baseline), broadband bursts in single integrations (every
 *           channel, every baseline), and intermittent RFI on a few cross
 *           baselines (a block of integrations x channels); the RFI is a
 *           common signal seen by every antenna, so it correlates:
 *           V_ij += P c_i conj(c_j) e^{i phi}, autos += P;
 *   dead=A  antenna A's visibilities (autos included) are all zero;
 *   bad=A   antenna A's visibilities are garbage: complex Gaussian noise of
 *           rms 20 noise_jy on its cross-correlations, log-normal powers
 *           around the SEFD on its autos;
 *   delays  per-antenna per-polarization delays of tens of ns (N(0, 30 ns)),
 *           and 2 us-class ones (0.5-2 us, random sign) on a few antennas;
 *   ripple  bandpass ripple of 5-20% with a 3-12 MHz period;
 *   all     every one of the above, dead=1 bad=2 (nants >= 3).
 *
 * delays and ripple change the model gains before anything is computed (so
 * the truth file's gains show them); the others are applied to each block
 * of visibilities as it is computed (sim_defects_apply). The RFI mask in
 * the truth covers RFI samples of both polarizations; samples of dead or
 * bad antennas are listed by antenna, not in the mask.
 */
#ifndef UVM_SIM_DEFECTS_H
#define UVM_SIM_DEFECTS_H

#include <complex.h>
#include <stdio.h>

#include "sci/sim.h"

#define SIM_DFX_MAXANT 16

struct sim_dfx_event {         /* intermittent RFI on one baseline */
	int group, bl;             /* group index, baseline index */
	int t0, t1;                /* integrations [t0, t1) */
	int j0, j1;                /* global channels [j0, j1) (sim order) */
	double power_jy;
};

struct sim_defects {
	int rfi, delays, ripple;
	int ndead, nbad;
	int dead[SIM_DFX_MAXANT], bad[SIM_DFX_MAXANT];
	unsigned char *isdead, *isbad;  /* nants */
	int nchan_rfi;
	int *chan;                 /* global channel indices (sim order) */
	double *chan_jy;           /* their power */
	int *burst_t;              /* ngroups: the integration of each group's burst */
	double *burst_jy;
	int nev;
	struct sim_dfx_event *ev;
	double complex *coup;      /* nants: RFI coupling per antenna */
};

/* Parse a -D spec ("rfi,dead=3,bad=7,delays,ripple" or "all") into d
 * (zeroed first); 0 or -1 with err filled. */
int sim_defects_parse(const char *spec, struct sim_defects *d, char *err);

/*
 * Draw the defects of d for model s (after sim_init): RFI channels,
 * bursts, baseline events, couplings; apply delays and ripple to s->gain.
 * Attaches d to s (s->dfx). 0, EX_USAGE (an antenna out of range) or
 * EX_OSERR (memory), err filled.
 */
int sim_defects_init(struct sim *s, struct sim_defects *d, char *err);
void sim_defects_free(struct sim_defects *d);

/* Apply RFI, dead and bad antennas to one block computed by
 * sim_visibilities (group gi, integration t, subband sb). */
void sim_defects_apply(const struct sim *s, int gi, int t, int sb, float complex *out);

/* Write ',"defects":{...}' (the injected mask, in ascending-frequency
 * channel indices of a combined group) to f; nothing if s has none. */
void sim_defects_truth(const struct sim *s, FILE *f);

#endif

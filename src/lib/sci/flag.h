/*
 * flag.h: flag one combined group (the library behind uvm-flag).
 *
 * Three passes, each cheap next to reading the group, then the union:
 *
 * 1. Antennas, from robust statistics over the array (median and MAD
 *    across antennas, so a few outliers cannot move the reference):
 *    dead  most of its samples exactly zero, or its autocorrelation power
 *          below 1e-3 of the array's median;
 *    bad   its median cross-correlation amplitude, its median
 *          autocorrelation power or the roughness of its autocorrelation
 *          spectrum (median |A(f+1) - A(f)| / median A) is an outlier:
 *          more than FLAG_ANT_Z robust sigmas from the array's median and
 *          at least 50% off it (high or low; roughness high only).
 *    Every sample of a baseline with a dead or bad antenna is flagged.
 * 2. Channels and integrations, from the median cross-correlation
 *    amplitude over the good baselines: one more than 50% above its
 *    neighbours' running median (5 channels; all integrations) and more
 *    than FLAG_CHAN_Z robust sigmas of that ratio is flagged everywhere
 *    (persistent narrowband RFI, broadband bursts).
 * 3. RFI, per cross-correlation baseline (baselines of dead and bad
 *    antennas skipped; autocorrelations too: their bandpass ripple, at
 *    thousands of noise sigmas, is mistaken for RFI, and the RFI they see
 *    is the common RFI of pass 2), on its time x frequency plane with AOFlagger
 *    (aoflag.h) and a Lua strategy, both polarizations at once, one mask
 *    for both. Baselines are shared among threads (one strategy each);
 *    each baseline's mask depends on its own data only, so the output is
 *    the same for any number of threads.
 *    The strategy is given amplitudes (as real visibilities): the shipped
 *    one looks at nothing else, and a strategy that needs phases cannot
 *    be run on this memory budget.
 *
 * Input flags are kept (the output's flags are a superset of the input's);
 * non-finite samples are flagged. Statistics skip flagged samples and
 * subsample with a fixed stride (a million values per antenna median,
 * 16 M for all channel and integration medians together), so they cost a
 * few passes over memory: 3.7 s of a 40 s full-size run, AOFlagger the
 * rest.
 *
 * Rows must be in the combined layout: Ntimes blocks of Nbls rows, the
 * same baseline order in each block (uvm-combine writes it).
 */
#ifndef UVM_FLAG_H
#define UVM_FLAG_H

#include <complex.h>
#include <stddef.h>
#include <stdint.h>

#define FLAG_ERRLEN 1024
#define FLAG_ANT_Z 6.0
#define FLAG_CHAN_Z 8.0
/*
 * Exit status of a group flagged beyond the allowed fraction: a class of
 * its own (sysexits stop at 78). The input is valid (not 65: nothing to
 * quarantine) and retrying gives the same answer (not 75): the wrapper
 * records the group as failed for quality, alerts, does not retry, and
 * nothing downstream runs because no output is written.
 */
#include "core/uvm.h" /* UVM_EX_OVERFLAGGED */

/* One group's amplitudes in memory, rows [t][b], each row [f][p].
 * Every pass looks at amplitudes only (the AOFlagger strategy too), so
 * the group is held as |V| (4 bytes a sample, not 8) and the visibilities
 * are read again when writing. Antenna indices are 0..nants-1 (positions
 * in the header's antenna list). */
struct flag_data {
	int nants, nbls, ntimes, nfreq, npol;
	const int *a1, *a2;        /* nbls */
	const float *amp;          /* ntimes*nbls*nfreq*npol: |V| (flagged where
	                              V is not finite) */
	uint8_t *flags;            /* same shape; updated in place */
	int nthreads;              /* pass 1's threads (over antennas); <= 0:
	                              online CPUs */
};

#define FLAG_WHYLEN 96
struct flag_ants {
	uint8_t *dead, *bad;       /* nants: 0/1 */
	char (*why)[FLAG_WHYLEN];  /* nants: reason, "" if fine */
	double *cross_amp, *auto_pow, *auto_rough; /* nants: the statistics, NaN if none */
};

/* Median of x[0..n) (x is reordered); NaN if n is 0. */
double flag_median(float *x, size_t n);
/* Robust sigma of x[0..n) around med: 1.4826 median |x - med| (reordered). */
double flag_mad_sigma(float *x, size_t n, double med);

/* Pass 1, on d->nthreads threads (the same result for any number). a's
 * arrays are allocated (flag_ants_free); 0 or -1 (memory). */
int flag_antennas(const struct flag_data *d, struct flag_ants *a);
void flag_ants_free(struct flag_ants *a);

/* Pass 2: badchan (nfreq) and badtime (ntimes) get 0/1, from baselines of
 * antennas not in skip (nants, may be NULL). 0 or -1 (memory). */
int flag_channels(const struct flag_data *d, const uint8_t *skip, uint8_t *badchan,
    uint8_t *badtime);

/* Pass 3: OR AOFlagger's mask into d->flags for every cross baseline not
 * touching an antenna in skip, on nthreads threads (<= 0: online CPUs).
 * 0, or -1 with err filled (strategy cannot load, thread failure). */
int flag_aoflagger(struct flag_data *d, const uint8_t *skip, const char *strategy,
    int nthreads, char *err);

struct flag_opts {
	const char *in, *out;
	const char *strategy;      /* Lua file */
	const char *report;        /* JSON report path or NULL */
	double max_fraction;       /* overall flagged fraction allowed */
	int nthreads;              /* <= 0: online CPUs */
	int top;                   /* worst baselines listed (0: 20) */
};

struct flag_timing {
	double read_s, stats_s, aoflagger_s, write_s;
};

/*
 * Read o->in, flag it, write the JSON report (if o->report) then o->out
 * (both atomically; o->out last, as the commit point). Returns 0, or
 * EX_NOINPUT (input missing), EX_DATAERR (not valid UVH5, or rows not in
 * the combined layout), EX_UNAVAILABLE (the strategy cannot be loaded),
 * EX_CANTCREAT / EX_IOERR (output), EX_SOFTWARE (memory), or
 * UVM_EX_OVERFLAGGED (report written, no output). err gets one line.
 * timing, if not NULL, gets the time of each phase.
 */
int flag_run(const struct flag_opts *o, struct flag_timing *timing, char *err);

#endif

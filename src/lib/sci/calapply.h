/*
 * calapply.h: apply a calibration table to visibilities (the library
 * behind uvm-calapply).
 *
 * Each visibility becomes V_ij / (g_i conj(g_j)) with the table's gain of
 * each antenna at the sample's channel and polarization (delay, bandpass
 * and time gain together), interpolated in time between the unflagged
 * solutions before and after the sample (linear in amplitude and in phase),
 * or the nearest unflagged one outside their span (a table solved on
 * another group is applied with its solutions nearest to the data: the
 * bandpass and the gains at the edge of the calibrator scan). The
 * sample's nsamples is multiplied by (|g_i g_j| / m^2)^2, m the median
 * gain amplitude of the table, so weights follow the calibrated noise
 * (1 / |g_i g_j|) at the data's own scale. Channels are matched by frequency
 * (within half a channel), antennas by number, polarizations by code; a
 * sample whose gain is missing or flagged on either antenna is flagged and
 * set to zero. The output keeps every header field, sets vis_units "Jy",
 * appends a history line and records the table, the calibrator, the
 * table's group and the fallback level in the extra keywords cal_table,
 * cal_calibrator, cal_group, cal_level. Data stream in blocks of rows
 * (one output chunk each), calibrated and compressed on nthreads worker
 * threads while the calling thread reads the next blocks and writes the
 * finished ones.
 */
#ifndef UVM_CALAPPLY_H
#define UVM_CALAPPLY_H

#include "sci/cal_registry.h"
#include "sci/cal_table.h"

struct calapply_opts {
	const char *vis;          /* input visibilities */
	const char *out;          /* output */
	const char *table_name;   /* as recorded (path given or chosen) */
	enum cal_level level;     /* recorded */
	long block_bytes;         /* 0: 2 MiB of visibilities per block */
	int nthreads;             /* workers, <= 0: online CPUs; the output is
	                             the same for any number */
};

struct calapply_stats {
	long long samples, flagged_before, flagged_after;
	int chans_unmatched, ants_unmatched;
};

/*
 * Apply t. Returns 0, or an exit status with err filled: EX_NOINPUT,
 * EX_IOERR, EX_DATAERR (input not UVH5), EX_UNAVAILABLE (the table shares
 * no antenna, channel or polarization with the data), EX_CANTCREAT,
 * EX_SOFTWARE (memory). The output appears whole or not at all.
 */
int calapply_run(const struct calapply_opts *o, const struct cal_table *t,
    struct calapply_stats *st, char *err);

/*
 * The gain of table antenna ta, channel tf, polarization tp (indices into
 * t) at time jd, as calapply_run uses it: between the unflagged
 * solutions nearest before and after jd, linear in amplitude and in phase
 * (the shorter way round); outside their span the nearest. 0 with *g
 * set, or -1 (*g = 0) when no solution of that cell is usable.
 */
int calapply_gain_at(const struct cal_table *t, int64_t ta, int64_t tf, int64_t tp, double jd,
    double complex *g);

#endif

/*
 * cal_table.h: calibration tables (caltables/<G>.cal.h5), HDF5.
 *
 * Layout (all datasets at the root; complex values are {r,i} float64
 * compounds, the UVH5 way):
 *   gains[Ntimes][Nants][Nfreqs][Npols]    complex, applied as
 *                                          V_ij / (g_i conj(g_j))
 *   flags[Ntimes][Nants][Nfreqs][Npols]    uint8, 1 = do not use
 *   snr[Ntimes][Nants][Nfreqs][Npols]      float32, per-solution SNR of
 *                                          the raw (unsmoothed) solve
 *   bandpass[Nants][Nfreqs][Npols]         complex, the frequency factor
 *   tgain[Ntimes][Nants][Npols]            complex, the time factor
 *   delay[Nants][Npols]                    float64 s, per-antenna delay
 *                                          relative to the reference
 *                                          (gains = tgain * bandpass *
 *                                          exp(2 pi i f delay); 0 in
 *                                          tables written before it)
 *   antpol_status[Nants][Npols]            uint8, enum cal_antpol: why an
 *                                          antenna-polarization has no
 *                                          good solution (0 good)
 *   freq_array[Nfreqs]                     Hz
 *   times[Ntimes], time_lo, time_hi        JD: solution interval centre and
 *                                          edges
 *   antenna_numbers[Nants], polarization_array[Npols]  int64
 * Root attributes: format ("uvmake-cal"), format_version (1), calibrator,
 * group, source (the vis file solved), refant (antenna number),
 * transit_mjd, mjd_start, mjd_end (validity window), frac_flagged,
 * median_snr, residual_rms, frac_good_antpol (good antenna-polarizations
 * over those with data; absent, read as NaN, in older tables), created
 * (Unix time), history. Older tables without delay, antpol_status and
 * frac_good_antpol stay readable.
 *
 * Written through fsx (temporary, fsync, rename), so a table either
 * exists whole under its name or not at all.
 */
#ifndef UVM_CAL_TABLE_H
#define UVM_CAL_TABLE_H

#include <complex.h>
#include <stddef.h>
#include <stdint.h>

#define CAL_ERRLEN 512

/* Why an antenna-polarization failed (antpol_status). */
enum cal_antpol {
	CAL_AP_GOOD = 0,
	CAL_AP_NODATA,      /* no rows in the data */
	CAL_AP_FLAGGED,     /* (almost) all its samples flagged on input */
	CAL_AP_INCOHERENT,  /* dead or garbage: no coherent calibrator signal */
	CAL_AP_NODELAY,     /* delay search found no significant peak */
	CAL_AP_LOWSNR,      /* most of its solutions below the SNR threshold */
	CAL_AP_NREASONS
};

/* A short name for a status ("good", "flagged", "incoherent", ...). */
const char *cal_antpol_reason(int status);

struct cal_table;
/*
 * The failed antenna-polarizations of t and why, into buf (size n,
 * truncated with "..." if it does not fit): "25 flagged; 30 incoherent
 * (dead or garbage); 81 pol -6 low snr" (an antenna whose polarizations
 * all failed for one reason is named once). "" when none failed. Returns
 * the number of failed antenna-polarizations.
 */
int cal_antpol_summary(const struct cal_table *t, char *buf, size_t n);

struct cal_table {
	int64_t ntimes, nants, nfreqs, npols;
	double complex *gains;    /* [t][a][f][p] */
	uint8_t *flags;           /* [t][a][f][p] */
	float *snr;               /* [t][a][f][p] */
	double complex *bandpass; /* [a][f][p] */
	double complex *tgain;    /* [t][a][p] */
	double *delay;            /* [a][p], seconds */
	uint8_t *antpol_status;   /* [a][p], enum cal_antpol */
	double *freq_array;       /* nfreqs, Hz */
	double *times, *time_lo, *time_hi; /* ntimes, JD */
	int64_t *antenna_numbers; /* nants */
	int64_t *polarization_array; /* npols */

	char calibrator[64];
	char group[32];
	char source[1024];
	int64_t refant;           /* antenna number, -1 if none */
	double transit_mjd, mjd_start, mjd_end;
	double frac_flagged, median_snr, residual_rms;
	double frac_good_antpol;  /* NaN when unknown (older tables) */
	double created;           /* Unix seconds */
	char *history;            /* malloc'd or NULL */
};

/* Index of (t, a, f, p) in gains/flags/snr. */
static inline size_t cal_idx(const struct cal_table *c, int64_t t, int64_t a, int64_t f,
    int64_t p)
{
	return (size_t)(((t * c->nants + a) * c->nfreqs + f) * c->npols + p);
}

/* Allocate every array for the counts already set (zeroed); 0 or -1. */
int cal_table_alloc(struct cal_table *c);
/* Free the arrays (safe on a zeroed or half-allocated table). */
void cal_table_free(struct cal_table *c);
/*
 * Write c to path atomically. Returns 0, or an exit status (EX_CANTCREAT
 * for a directory that refuses the temporary, EX_IOERR for a write error
 * such as a full disk) with err filled; nothing is left behind on failure.
 */
int cal_table_write(const char *path, const struct cal_table *c, char *err);
/*
 * Read a table. Returns 0, or EX_NOINPUT (missing), EX_IOERR (unreadable),
 * EX_DATAERR (not HDF5, not a calibration table, inconsistent shapes) with
 * err filled.
 */
int cal_table_read(const char *path, struct cal_table *c, char *err);

#endif

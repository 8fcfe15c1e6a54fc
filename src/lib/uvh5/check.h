/*
 * check.h: validation of UVH5 visibility files (the checks behind
 * uvm-verify, reusable by any program that streams a UVH5 file).
 *
 * The rule for what is an error follows pyuvdata's UVData.check() (with
 * its default acceptability checks) plus the properties the pipeline
 * needs from every file: a file with an error cannot be processed and is
 * quarantined; a warning is reported and the file is used. Files written
 * by real telescopes commonly trip the warnings, never the errors.
 *
 * Errors (each recorded once, with the number of offending rows/samples
 * and the first offender):
 *   - header counts against the arrays: Nants_data = distinct antennas in
 *     ant_1_array/ant_2_array, Nbls = distinct (ant_1, ant_2) pairs, Ntimes
 *     = distinct values of time_array (Nblts need not be Nbls * Ntimes:
 *     baseline-dependent averaging), Nphase = catalogue entries; shapes of
 *     all datasets (checked by the reader: a mismatch fails uvh5_open);
 *   - every ant_1_array/ant_2_array value is in antenna_numbers, and
 *     antenna numbers are in [0, 2^31);
 *   - polarization codes in AIPS memo 117's set: -8..-1 and 1..4;
 *   - flex_spw_id_array values in spw_array, phase_center_id_array values
 *     in the phase centre catalogue;
 *   - uvw finite and shorter than 1e8 m; auto-correlations with every uvw
 *     component within 1 mm of zero; cross-correlations with |uvw| > 1 mm;
 *   - frequencies finite, positive and strictly monotonic (either way)
 *     within each spectral window; channel widths finite;
 *   - times finite and a plausible JD (2400000-2500000); lst_array and
 *     integration_time finite when present; telescope latitude/longitude
 *     and antenna positions finite and in range;
 *   - data: every unflagged visibility finite; every unflagged
 *     auto-correlation in a "true auto" polarization (xx, yy, rr, ll and
 *     the pseudo-Stokes pI..pV) real: |imag| <= CHK_AUTO_IMAG_REL * |real|.
 *     pyuvdata tests np.iscomplex (exactly zero imaginary part) on all
 *     samples; we allow float rounding (1e-5 relative, far above float32's
 *     1.2e-7 epsilon, far below any real leakage) and ignore flagged
 *     samples, whose values carry no meaning.
 *
 * Warnings: uvw disagreeing with the antenna positions by more than 1 m
 * (pyuvdata's tolerance; the comparison is by vector for unprojected/drift
 * files and for "phasing"="meridian" drift scans, by length otherwise,
 * since a projection preserves baseline length), lst_array disagreeing
 * with the time and longitude by more than CHK_LST_TOL_RAD, duplicate
 * antenna numbers or polarizations, unknown vis_units, non-positive
 * channel widths or integration times, negative or non-finite nsamples of
 * unflagged data, every sample flagged.
 *
 * Usage: chk_init, chk_header (metadata), then chk_data_begin /
 * chk_data_rows per block of rows read / chk_data_end; or chk_file does all
 * of it for a path with bounded memory (one block of ~Nbls rows).
 */
#ifndef UVM_CHECK_H
#define UVM_CHECK_H

#include <complex.h>
#include <stdint.h>

#include "uvh5/uvh5.h"

#define CHK_MAXMSG 32             /* messages kept per kind; more are counted */
#define CHK_MSGLEN 320
#define CHK_AUTO_IMAG_REL 1e-5    /* autos: |imag| <= this * |real| */
#define CHK_UVW_AUTO_TOL 1e-3     /* metres, per component (pyuvdata: 1 mm) */
#define CHK_UVW_ANTPOS_TOL 1.0    /* metres (pyuvdata's uvw vs antpos) */
#define CHK_LST_TOL_RAD 1e-3      /* about 14 s of time */
#define CHK_JD_MIN 2400000.0
#define CHK_JD_MAX 2500000.0

struct chk_report {
	int status;                   /* 0, or the exit status (65, 66, 74, ...) */
	int nerr, nwarn;              /* messages recorded (at most CHK_MAXMSG) */
	int nerr_total, nwarn_total;  /* including those not kept */
	char err[CHK_MAXMSG][CHK_MSGLEN];
	char warn[CHK_MAXMSG][CHK_MSGLEN];

	/* Counts for the report; -1 until the header has been read. */
	int have_header;
	char version[16];
	const char *vistype;          /* static string, or NULL */
	int64_t Nblts, Nbls, Ntimes, Nfreqs, Npols, Nspws, Nphase;
	int64_t Nants_data, Nants_telescope;
	int64_t auto_rows;            /* rows with ant_1 == ant_2 */
	int64_t uvw_mismatch_rows;    /* rows over CHK_UVW_ANTPOS_TOL */
	int64_t rows_read;            /* data rows streamed */
	int64_t samples;              /* rows_read * Nfreqs * Npols */
	int64_t flagged;
	int64_t nonfinite_unflagged;
	int64_t nonfinite_flagged;
	int64_t auto_imag;            /* unflagged auto samples not real */
	int pointing;                 /* enum uvh5_pointing_kind, -1 unknown */
	double point_ra_deg, point_dec_deg; /* ra only for UVH5_PT_FIXED */
};

/* Zero r (status 0, no messages, counts unset). */
void chk_init(struct chk_report *r);
/* Record an error (sets r->status to EX_DATAERR if it was 0) or a warning. */
void chk_error(struct chk_report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void chk_warn(struct chk_report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Check header h (all metadata arrays; no data) and record errors and
 * warnings into r; also fills r's counts. Returns the number of errors
 * recorded by this call, or -1 when out of memory (r->status EX_OSERR).
 */
int chk_header(const struct uvh5_header *h, struct chk_report *r);

/* State of the streaming data checks (see chk_data_rows). */
struct chk_data {
	const struct uvh5_header *h;
	int64_t per;                  /* Nfreqs * Npols */
	uint8_t autopol[16];          /* per pol index: a "true auto" pol */
	int64_t next_row;             /* rows must come in order */
	int64_t nonfinite, nonfinite_flagged, flagged, autoimag, badns;
	int64_t first_nonfinite, first_autoimag, first_badns; /* sample index or -1 */
	double worst_autoimag;        /* largest |imag|/|real| seen */
};

/* Start data checks for h (which must outlive d). */
void chk_data_begin(struct chk_data *d, const struct uvh5_header *h);
/*
 * Check rows [row0, row0+nrows) given in (row, freq, pol) order as
 * uvh5_read_rows fills them; nsamples may be NULL. Cost: a few
 * comparisons per sample, no allocation.
 */
void chk_data_rows(struct chk_data *d, int64_t row0, int64_t nrows,
    const float complex *vis, const uint8_t *flags, const float *nsamples);
/* Record the data errors/warnings and counts into r. */
void chk_data_end(struct chk_data *d, struct chk_report *r);

/*
 * Validate the file at path: open (uvh5_open), chk_header, stream all
 * data rows by blocks of at most one integration and 64 Ki samples
 * through chk_data_*.
 * Fills r and returns r->status: 0 valid, EX_DATAERR invalid (or not
 * UVH5, or a chunk that does not decompress), EX_NOINPUT missing,
 * EX_IOERR unreadable (a read error before any content error was found:
 * worth a retry), EX_OSERR out of memory. When the file cannot be opened
 * or read, the reason is r->err[0], without the file name for content
 * errors (the caller's line names the file). A file libhdf5 calls
 * "truncated" is reported as "truncated file: N of M bytes" or, when the
 * superblock's end-of-file address is absurd (>= 2^48), as "corrupt
 * superblock".
 */
int chk_file(const char *path, struct chk_report *r);

/*
 * The report as one line of JSON ending in '\n' (malloc'd; NULL if out of
 * memory): {"file", "valid", "status", "errors": [...], "warnings": [...],
 * "counts": {...}}. Strings are escaped (control characters as \uXXXX),
 * so any file name is safe. The content depends only on the file and its
 * name, so re-running on the same file gives the same bytes.
 */
char *chk_report_json(const struct chk_report *r, const char *path);

/* Sidereal time (radians, [0, 2 pi)) at UTC Julian date jd and east
 * longitude lon_rad: GMST (IAU 1982 polynomial) + longitude. */
double chk_lst(double jd, double lon_rad);

#endif

/*
 * qa.h: quality measurements of an image product (the library behind
 * uvm-qa).
 *
 * qa_measure reads a FITS image (uvm-image's: restored image in the primary
 * HDU, residual in extension RESIDUAL if present) into memory, validates
 * its celestial WCS with wcslib (wcspih + wcsset), and measures, inside
 * the image less a margin of 5% of each side (where uvm-image does not
 * CLEAN and aliasing raises the noise):
 *   rms      robust noise: 1.4826 x MAD of the residual when there is one,
 *            else of the image sigma-clipped at 5 sigma (twice), so bright
 *            sources do not count;
 *   peak     largest pixel of the image, at sub-pixel position and in
 *            RA/Dec through the WCS;
 *   dynamic range = peak / rms;
 *   beam     BMAJ/BMIN/BPA from the header;
 *   sources  local maxima of the image above 5 rms (one per beam-sized
 *            neighbourhood), with sub-pixel positions (quadratic fit of the
 *            log of the 3 x 3 pixels around each maximum), peak flux and
 *            RA/Dec.
 * qa_gate applies the quality gate from the deployment config:
 *   QA_MAX_RMS_JY   (default 0.01)  rms must not exceed it (0: no check)
 *   QA_MIN_DR       (default 10)    dynamic range must reach it (0: none)
 *   QA_MAX_BEAM_ARCSEC (default 0)  bmaj must not exceed it (0: none)
 *   QA_MIN_SOURCES  (default 0)     at least this many sources
 *   QA_MAX_FLAGGED  (default 0.3)   the group's flagged fraction must not
 *                   exceed it (0: no check); only when the image's
 *                   directory holds the flag report (flag.json, see
 *                   qa_flagging); an unreadable or invalid report fails it
 * With the source catalogue beside the image (qa_catalogue) the sources
 * are its entries, and the gate adds its cross-match with the reference
 * catalogue: median flux ratio within [XMATCH_MIN_RATIO, XMATCH_MAX_RATIO]
 * (0.8, 1.2) and median offset below XMATCH_MAX_OFFSET_BEAM (0.2) beams;
 * an unreadable catalogue fails the check "catalogue".
 * plus a fixed check that the image has finite, non-constant pixels.
 * A failed gate is a finding about the image, not an error: the report says
 * "pass": false and the program still exits 0 (the product exists and is
 * complete; whoever consumes it, e.g. the mosaic, reads "pass").
 */
#ifndef UVM_QA_H
#define UVM_QA_H

#include "core/cfg.h"
#include "sci/flag_report.h"

#define QA_ERRLEN 512
#define QA_MAXCHECKS 12
#define QA_MAXLIST 200
#define QA_DETECT_SIGMA 5.0

struct qa_source {
	double x, y;            /* FITS pixel coordinates (1-based) */
	double ra_deg, dec_deg;
	double peak_jy, snr;
};

struct qa_check {
	char name[32];
	double value, limit;
	char op[4];             /* "<=" or ">=" */
	int pass;
};

struct qa_result {
	long nx, ny;
	double cell_arcsec;
	char group[72], date_obs[72], bunit[72];
	double freq_hz;
	int rms_from_residual;
	double rms, peak, peak_x, peak_y, peak_ra, peak_dec, dr;
	double bmaj_arcsec, bmin_arcsec, bpa_deg;   /* 0 when absent */
	long nfinite;
	int nsrc;                                    /* all detections (a catalogue's
	                                              * reliable entries) */
	int nunrel;                                  /* a catalogue's entries marked
	                                              * not reliable (uvm-sources) */
	int nlist;                                   /* listed (brightest) */
	struct qa_source src[QA_MAXLIST];
	int flag_state;          /* flag report: 0 none, 1 read (flag), -1 invalid */
	struct flag_report flag;
	/* the source catalogue beside the image (sources.json, uvm-sources):
	 * 0 none, 1 read (nsrc and src are its entries), -1 invalid */
	int cat_state;
	int xm_state;            /* its cross-match: 0 none, 1 read */
	struct {
		int nmatch, ndet, nspur;
		double completeness, spurious_frac, flux_ratio, flux_scatter, offset_beam;
		int pass;
	} xm;
	int nchecks, pass;
	struct qa_check checks[QA_MAXCHECKS];
};

/*
 * Measure the image at path. 0, or -1 with err and *status: EX_NOINPUT
 * (missing), EX_IOERR (unreadable), EX_DATAERR (not FITS, no 2-D image,
 * no valid celestial WCS, no finite pixel).
 */
int qa_measure(const char *path, struct qa_result *r, int *status, char *err);
/*
 * Read the flag report beside the image at path (its directory's
 * flag.json) into r->flag and r->flag_state. 0, or -1 with err when a
 * report is there but cannot be read or is not one (flag_state -1: a
 * finding for the gate, not a failure of QA).
 */
int qa_flagging(struct qa_result *r, const char *path, char *err);
/*
 * Read the source catalogue beside the image at path (its directory's
 * sources.json, written by uvm-sources from the primary-beam-corrected
 * image): its sources replace the local maxima qa_measure counted (an
 * artefact is not a source), the brightest QA_MAXLIST listed, and its
 * cross-match with the reference catalogue, if any, goes into r->xm. 0
 * (none there: cat_state 0), or -1 with err when it is there but cannot
 * be read or is not one (cat_state -1: a finding for the gate).
 */
int qa_catalogue(struct qa_result *r, const char *path, char *err);
/* Fill r->checks and r->pass from the config c (NULL: defaults). */
void qa_gate(struct qa_result *r, const struct cfg *c);
/* The report as JSON (malloc'd, ends with a newline) or NULL (ENOMEM). */
char *qa_json(const struct qa_result *r, const char *image);
/* The report as "key value" text lines (malloc'd) or NULL. */
char *qa_text(const struct qa_result *r);

#endif

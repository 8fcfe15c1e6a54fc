/*
 * mosaic.h: the hourly linear mosaic (the library behind uvm-mosaic).
 *
 * Inputs are the QA reports (qa.json) of one hour's groups, each with its
 * image (image.fits, apparent: not primary-beam corrected) in the same
 * directory. An input is used when its report says "pass": true and its
 * rms is positive; otherwise it is skipped, and every skip is listed with
 * its reason in the product's HISTORY.
 *
 * The common grid is a SIN projection centred on the meridian (RA = LST
 * at OVRO) at the hour's mid-time, at the inputs' pointing declination;
 * its cell is the finest input cell and its size covers every input used
 * (unless fixed in the options). Each input is reprojected with wcslib
 * (mosaic pixel -> sky -> input pixel) and interpolated with a Lanczos-3
 * kernel (6 x 6 taps; bilinear would lower peaks between pixels); the
 * outer 5% of each input's sides (not CLEANed by uvm-image, raised by
 * aliasing) is left out. The linear mosaic is
 *   M = sum w_i B_i I_i / sum w_i B_i^2,  w_i = 1 / rms_i^2,
 * B_i the power beam of input i: the beam pointed at the meridian through
 * the group's integrations, averaged over the group's span (a drift scan's
 * beam moves on the sky while the group is recorded), of the model PB_MODEL
 * names (beam.h: the one the images' -p correction and calibration use;
 * the tapered dish by default).
 * Pixels whose weight sum w B^2
 * is below the cutoff fraction of its maximum are blank (NaN). The
 * weight map is sum w B^2 [1/(Jy/beam)^2], the rms map 1 / sqrt(weight).
 *
 * The product is one FITS file written atomically (built in memory,
 * fsx temporary + rename): primary HDU the mosaic, extensions WEIGHT and
 * RMS. It holds no wall-clock time, and the inputs are taken in sorted
 * order, so re-making it from the same inputs gives the same bytes.
 */
#ifndef UVM_MOSAIC_H
#define UVM_MOSAIC_H

#include "sci/beam.h"

#define MOSAIC_ERRLEN 512
#define MOSAIC_MARGIN 0.05   /* fraction of each input side left out */
#define MOSAIC_MAXNPIX 16384  /* MOSAIC_NPIX; and the most pixels, squared */
#define MOSAIC_MAXSPAN 65536  /* a side of a derived grid (an hour is long) */

struct mosaic_opts {
	char hour[16];       /* "YYYYMMDDTHH", "" = from the first input used */
	int hours;           /* hours per mosaic (divides 24) */
	int npix;            /* 0: derived from the inputs */
	double cell_arcsec;  /* 0: the finest input cell */
	enum beam_model beam; /* PB_MODEL */
	double cutoff;       /* blank below cutoff * max weight */
	int blank_ok;        /* no input passing: write a blank mosaic */
};

/* Defaults, then the MOSAIC_* keys and PB_MODEL of the deployment config c
 * (NULL: none). 0, or -1 with err naming the bad key. MOSAIC_BEAM and
 * MOSAIC_DISH_M, of configs written before PB_MODEL was the one model,
 * are ignored with a warning on stderr when they would have differed. */
struct cfg;
int mosaic_config(struct mosaic_opts *o, const struct cfg *c, char *err);

/*
 * Build the mosaic of the reports qa[0..n-1] into out. 0, or -1 with err
 * (one line) and *status: EX_NOINPUT (a report missing), EX_DATAERR (no
 * input usable, some bad), EX_UNAVAILABLE (none passed the quality gate,
 * unless blank_ok), EX_CANTCREAT / EX_IOERR (output), EX_USAGE (bad hour),
 * EX_OSERR (memory). *nused and *nskip count the inputs.
 */
int mosaic_make(const struct mosaic_opts *o, char **qa, int n, const char *out, int *nused,
    int *nskip, int *status, char *err);

#endif

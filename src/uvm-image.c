/*
 * uvm-image: image one observation group: Stokes I visibilities, rephased
 * to the group's mid-time meridian, gridded (Kaiser-Bessel), FFT'd (FFTW,
 * MEASURE plans kept as wisdom), deconvolved by Cotton-Schwab CLEAN
 * (Högbom minor cycles, major cycles that subtract the degridded model
 * from the visibilities) and restored with a beam fitted to the PSF;
 * written as a FITS image with a celestial WCS.
 *
 * usage: uvm-image [-n npix] [-c cell_arcsec] [-i niter] [-g gain]
 *                  [-t threshold_jy] [-M nmajor] [-m mgain] [-a automask]
 *                  [-A autothreshold] [-p pbcor.fits] [-b beam] [-x pb_cut]
 *                  [-W weighting] [-P plan] [-w wisdom] [-f chanavg] [-j threads]
 *                  [-C channels_out] [-F terms] [-K slices]
 *                  -o image.fits vis.uvh5...
 *
 * Several files (e.g. the subbands of one group) are imaged together.
 * Defaults: npix automatic (also with -n 0 or -n auto): the field covers
 * the primary beam of model -b to its first null on both sides at the
 * lowest frequency (7 deg for DSA-110's 4.65 m dishes at 1.31 GHz),
 * rounded up to an FFT-friendly size, logged; cell automatic (also with
 * -c 0): a third of lambda_min / longest baseline; niter 100000
 * components at most; gain 0.1; threshold none (an absolute floor in
 * Jy/beam when given); nmajor 6 major cycles at most; mgain 0.95 (each
 * minor cycle CLEANs to 0.05 of its starting peak); weighting briggs:0,
 * automask 5 and autothreshold 0.5 (sigma, the robust rms of the
 * residual: CLEAN everywhere down to 5 sigma, then only on the pixels
 * holding components down to 0.5 sigma, as WSClean's -auto-mask 5
 * -auto-threshold 0.5). The operators run -a 3; on an image the size of
 * the primary beam that seeds the mask with noise peaks (README,
 * Imaging). -a 0 -A 5 is the former shallow default (no mask, 5 sigma);
 * weightings "natural", "uniform", "briggs", "briggs:R"; plan
 * "measure" ("estimate" skips FFTW's measurements), wisdom
 * $UVM_HOME/state/fftw.wisdom when UVM_HOME is set (else none). With
 * UVM_HOME set, uvmake.conf may set IMAGE_NPIX, IMAGE_CELL_ARCSEC,
 * IMAGE_NITER, IMAGE_GAIN, IMAGE_THRESHOLD_JY, IMAGE_NMAJOR, IMAGE_MGAIN,
 * IMAGE_AUTOMASK, IMAGE_AUTOTHRESHOLD, IMAGE_WEIGHTING and
 * IMAGE_FFTW_PLAN, PB_MODEL, IMAGE_PB_CUT, IMAGE_CHAN_AVG,
 * IMAGE_THREADS, IMAGE_CHANNELS_OUT, IMAGE_SPECTRAL_TERMS and
 * IMAGE_BEAM_SLICES; flags win.
 *
 * -C CLEANs channels_out sub-bands of equal frequency span jointly
 * (WSClean's -channels-out -join-channels): each its own dirty image, PSF
 * and major-cycle prediction, the peaks found on their weighted sum,
 * each component's spectrum a polynomial of -F terms (-fit-spectral-pol)
 * fitted to the sub-band values at the peak. The product is their
 * weighted sum, the MFS image, as with -C 1 (one band, no spectrum).
 * Default 4, with -F 2: a flat-spectrum model of the whole band left the
 * beam-steepened spectra of off-axis sources in the residual (README,
 * Imaging).
 *
 * -K predicts the major cycles' model visibilities with the primary beam
 * of -b in that many time slices of the group (a drift scan moves the sky
 * through the fixed beam: the model, in apparent units of the group's
 * mean beam, is multiplied by each slice's beam over that mean and
 * degridded at that slice's visibilities); default 4 (at most one per
 * integration); 1 predicts with the mean beam alone.
 *
 * -f averages chanavg channels before gridding (0, the default: the most
 * that keeps bandwidth smearing below 1% of a source's peak at the
 * primary beam's half-power radius, logged); -j grids, degrids and
 * transforms on that many threads (0, the default: the online CPUs; the
 * image does not depend on it).
 *
 * -p writes the primary-beam-corrected image too: the restored image
 * divided by the beam of model -b ("airy", the default: a uniformly
 * illuminated 4.65 m dish; "taper": the dish with a -4 dB edge taper and
 * 0.5 m central blockage; "gauss": FWHM 1.2 lambda/D; beam.h) averaged over
 * the group's drift and band, blank (NaN) where that beam is below -x of
 * its peak (default 0.2).
 *
 * The output's primary HDU is the restored image, extension RESIDUAL the
 * residual (uvm-qa measures the noise there).
 *
 * Exit: 0 ok; 64 usage; 65 bad input, no unflagged cross-correlation
 * data, or no PSF main lobe to fit a beam to; 66 input missing; 70
 * internal; 73 cannot create the output (also: it exists and is not a
 * regular file); 74 I/O error. No temporary is left on failure.
 */
#include <errno.h>
#include <fftw3.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/cfg.h"
#include "core/fsx.h"
#include "sci/img.h"
#include "core/log.h"
#include "core/prog.h"
#include "core/uvm.h"
#include "core/prov.h"
#include "uvh5/uvh5.h"

#define USAGE \
	"uvm-image [-n npix] [-c cell_arcsec] [-i niter] [-g gain] [-t threshold_jy]\n" \
	"                 [-M nmajor] [-m mgain] [-a automask] [-A autothreshold]\n" \
	"                 [-p pbcor.fits] [-b beam] [-x pb_cut]\n" \
	"                 [-W weighting] [-P plan] [-w wisdom] [-f chanavg] [-j threads]\n" \
	"                 [-C channels_out] [-F terms] [-K slices]\n" \
	"                 -o image.fits vis.uvh5..."

/* Parse a number in [lo, hi]; 0 or -1. */
static int num(const char *s, double lo, double hi, double *v)
{
	char *end;

	errno = 0;
	*v = strtod(s, &end);
	return errno || end == s || *end || !isfinite(*v) || *v < lo || *v > hi ? -1 : 0;
}

static int plan_flags(const char *s, unsigned *f)
{
	if (!strcmp(s, "measure"))
		*f = FFTW_MEASURE;
	else if (!strcmp(s, "estimate"))
		*f = FFTW_ESTIMATE;
	else
		return -1;
	return 0;
}

/* Set option c from its text v (uvmake.conf values first, flags after);
 * 0, or -1 on a bad value. */
static int set_opt(struct img_opts *o, int c, const char *v)
{
	double x;

	switch (c) {
	case 'n':
		if (!strcmp(v, "auto"))
			v = "0";
		if (num(v, 0, 32768, &x) < 0 || x != floor(x) || (int)x % 2 || (x > 0 && x < 16))
			return -1;
		o->npix = (int)x;
		return 0;
	case 'c':
		if (num(v, 0, 36000, &x) < 0 || (x > 0 && x < 1e-6))
			return -1;
		o->cell = x / 3600 * M_PI / 180; /* 0: automatic */
		return 0;
	case 'i':
		if (num(v, 0, 1e8, &x) < 0 || x != floor(x))
			return -1;
		o->niter = (int)x;
		return 0;
	case 'g':
		if (num(v, 1e-6, 1, &x) < 0)
			return -1;
		o->gain = x;
		return 0;
	case 't':
		if (num(v, 0, 1e9, &x) < 0)
			return -1;
		o->threshold = x;
		return 0;
	case 'M':
		if (num(v, 0, 1000, &x) < 0 || x != floor(x))
			return -1;
		o->nmajor = (int)x;
		return 0;
	case 'm':
		if (num(v, 0.01, 1, &x) < 0)
			return -1;
		o->mgain = x;
		return 0;
	case 'a':
		if (num(v, 0, 1000, &x) < 0)
			return -1;
		o->automask = x;
		return 0;
	case 'A':
		if (num(v, 0, 1000, &x) < 0)
			return -1;
		o->autothreshold = x;
		return 0;
	case 'b':
		return beam_parse(v, &o->beam);
	case 'x':
		if (num(v, 0.001, 1, &x) < 0)
			return -1;
		o->pb_cut = x;
		return 0;
	case 'W':
		return img_parse_weighting(v, &o->weighting, &o->robust);
	case 'P':
		return plan_flags(v, &o->fft_flags);
	case 'f':
	case 'j':
		if (num(v, 0, c == 'f' ? 4096 : 64, &x) < 0 || x != floor(x))
			return -1;
		*(c == 'f' ? &o->chan_avg : &o->threads) = (int)x;
		return 0;
	case 'C':
	case 'F':
		if (num(v, 1, c == 'C' ? IMG_SUB_MAX : IMG_TERMS_MAX, &x) < 0 || x != floor(x))
			return -1;
		*(c == 'C' ? &o->channels_out : &o->spec_terms) = (int)x;
		return 0;
	case 'K':
		if (num(v, 1, IMG_TBEAM_SLICES_MAX, &x) < 0 || x != floor(x))
			return -1;
		o->beam_slices = (int)x;
		return 0;
	}
	return -1;
}

int main(int argc, char **argv)
{
	struct img_opts o;
	const char *out = NULL, *wisdom = NULL, *home = getenv("UVM_HOME");
	char wpath[PATH_MAX], line[2048];
	int c, st;
	size_t len = 0;

	prog_start(argc, argv, USAGE);
	img_opts_default(&o);
	if (home && *home) {
		static const struct { const char *key; int opt; } keys[] = {
			{"IMAGE_NPIX", 'n'}, {"IMAGE_CELL_ARCSEC", 'c'}, {"IMAGE_NITER", 'i'},
			{"IMAGE_GAIN", 'g'}, {"IMAGE_THRESHOLD_JY", 't'},
			{"IMAGE_WEIGHTING", 'W'}, {"IMAGE_FFTW_PLAN", 'P'},
			{"IMAGE_NMAJOR", 'M'}, {"IMAGE_MGAIN", 'm'}, {"IMAGE_AUTOMASK", 'a'},
			{"IMAGE_AUTOTHRESHOLD", 'A'}, {"PB_MODEL", 'b'}, {"IMAGE_PB_CUT", 'x'},
			{"IMAGE_CHAN_AVG", 'f'}, {"IMAGE_THREADS", 'j'},
			{"IMAGE_CHANNELS_OUT", 'C'}, {"IMAGE_SPECTRAL_TERMS", 'F'},
			{"IMAGE_BEAM_SLICES", 'K'},
		};
		struct cfg cf;

		if (cfg_load(&cf, NULL) < 0)
			return EX_USAGE;
		for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
			const char *v = cfg_str(&cf, keys[i].key, "");
			if (*v && set_opt(&o, keys[i].opt, v) < 0) {
				log_err("uvmake.conf: bad %s '%s'", keys[i].key, v);
				cfg_free(&cf);
				return EX_USAGE;
			}
		}
		cfg_free(&cf);
		if (snprintf(wpath, sizeof wpath, "%s/state/fftw.wisdom", home) < (int)sizeof wpath)
			wisdom = wpath;
	}
	while ((c = getopt(argc, argv, "n:c:i:g:t:W:P:w:o:M:m:a:A:p:b:x:f:j:C:F:K:")) != -1) {
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case 'w':
			wisdom = optarg;
			break;
		case 'p':
			o.pbcor = optarg;
			break;
		case '?':
			return log_usage(USAGE);
		default:
			if (set_opt(&o, c, optarg) < 0) {
				log_err("bad value for -%c: '%s'", c, optarg);
				return log_usage(USAGE);
			}
		}
	}
	if (!out || optind >= argc)
		return log_usage(USAGE);
	o.wisdom = wisdom && *wisdom ? wisdom : NULL;
	o.group = log_group();
	line[0] = 0;
	/* the program's name, not the path it was started by (srun passes an
	 * absolute one): an image must not depend on where uvm-image lives */
	for (int i = 0; i < argc && len + 2 < sizeof line; i++) {
		const char *a = argv[i];
		if (i == 0 && strrchr(a, '/'))
			a = strrchr(a, '/') + 1;
		len += (size_t)snprintf(line + len, sizeof line - len, "%s%s", i ? " " : "", a);
	}
	o.argv_line = line;
	/* the table the visibilities were calibrated with is the image's too */
	prov_inputs(argv + optind, argc - optind);
	for (int i = optind; i < argc; i++) {
		char *pv = uvh5_provenance(argv[i]);
		prov_inherit(pv);
		free(pv);
	}
	st = img_run(&o, argv + optind, argc - optind, out);
	fftwf_cleanup();
	return st;
}

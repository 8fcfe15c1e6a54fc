/*
 * uvm-qa: measure an image product and apply the quality gate.
 *
 * usage: uvm-qa [-j] [-o qa.json] image.fits
 *
 * Measures the robust rms (on the RESIDUAL extension when present), the
 * peak and its position, the dynamic range, the beam, and the sources above
 * 5 sigma with their positions (through the image's WCS, validated with
 * wcslib), then applies the gate of uvmake.conf ($UVM_HOME; QA_MAX_RMS_JY,
 * QA_MIN_DR, QA_MAX_BEAM_ARCSEC, QA_MIN_SOURCES, QA_MAX_FLAGGED; see
 * src/lib/sci/qa.h). When the image's directory holds the flag report
 * (flag.json) the report gains its flagged fraction and dead and bad
 * antennas ("flagging") and the gate checks the fraction. When it holds
 * the source catalogue (sources.json, uvm-sources), the report's sources
 * are the catalogue's reliable entries, not local maxima ("sources_from":
 * "catalogue"; "n_unreliable" counts the others),
 * and its cross-match with the reference catalogue ("crossmatch") joins
 * the gate: flux ratio within XMATCH_MIN_RATIO..XMATCH_MAX_RATIO, median
 * offset below XMATCH_MAX_OFFSET_BEAM beams.
 * With -o the report is written there as JSON, atomically; otherwise it
 * goes to stdout, as "key value" lines, or as JSON with -j (-j with -o
 * prints the JSON too).
 *
 * A failed gate is recorded ("pass": false) and is not an error: the exit
 * status is 0 whenever the image could be measured and the report written.
 * Exit: 0 ok (pass or not); 64 usage or bad config; 65 not a FITS image
 * with a celestial WCS; 66 image missing; 73 cannot create the report;
 * 74 I/O error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/cfg.h"
#include "core/fsx.h"
#include "sci/img.h"
#include "core/log.h"
#include "core/prog.h"
#include "sci/qa.h"
#include "core/uvm.h"
#include "core/prov.h"

#define USAGE "uvm-qa [-j] [-o qa.json] image.fits"

int main(int argc, char **argv)
{
	const char *out = NULL, *home = getenv("UVM_HOME");
	int c, json = 0, st = 0, have_cfg = 0;
	struct qa_result *r;
	struct cfg cf;
	char err[QA_ERRLEN], *js = NULL, *txt = NULL;

	prog_start(argc, argv, USAGE);
	while ((c = getopt(argc, argv, "jo:")) != -1) {
		switch (c) {
		case 'j':
			json = 1;
			break;
		case 'o':
			out = optarg;
			break;
		default:
			return log_usage(USAGE);
		}
	}
	if (optind != argc - 1)
		return log_usage(USAGE);
	if (home && *home) {
		if (cfg_load(&cf, NULL) < 0)
			return EX_USAGE;
		have_cfg = 1;
	}
	r = malloc(sizeof *r);
	if (!r) {
		log_err("out of memory");
		st = EX_OSERR;
		goto done;
	}
	prov_inputs(argv + optind, 1);
	{
		char *pv = prov_fits_read(argv[optind]);
		prov_inherit(pv);
		free(pv);
	}
	if (qa_measure(argv[optind], r, &st, err) < 0) {
		log_err("%s", err);
		goto done;
	}
	if (qa_flagging(r, argv[optind], err) < 0)
		log_warn("%s", err);
	if (qa_catalogue(r, argv[optind], err) < 0)
		log_warn("%s", err);
	qa_gate(r, have_cfg ? &cf : NULL);
	js = qa_json(r, argv[optind]);
	txt = qa_text(r);
	if (!js || !txt) {
		log_err("out of memory");
		st = EX_OSERR;
		goto done;
	}
	if (out && img_check_output(out, err) < 0) {
		log_err("%s", err);
		st = EX_CANTCREAT;
		goto done;
	}
	if (out && fsx_write_file(out, js, strlen(js), 0644) < 0) {
		int e = errno;
		log_err("cannot write '%s': %s", out, strerror(e));
		st = fsx_exit_for_errno(e);
		goto done;
	}
	if (!out || json) {
		fputs(json ? js : txt, stdout);
		st = fsx_close_stdout();
	}
	if (!r->pass)
		log_warn("'%s': quality gate failed", argv[optind]);
done:
	if (have_cfg)
		cfg_free(&cf);
	free(r);
	free(js);
	free(txt);
	return st;
}

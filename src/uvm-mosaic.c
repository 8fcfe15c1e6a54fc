/*
 * uvm-mosaic: the linear mosaic of one hour's images.
 *
 * usage: uvm-mosaic [-b] [-H hour] -o mosaic.fits qa.json...
 *
 * Each operand is a QA report (uvm-qa's qa.json) with its image.fits in
 * the same directory; reports that passed the quality gate are used,
 * the others are skipped and listed with the reason in the product's
 * HISTORY. -H gives the hour (YYYYMMDDTHH; default: the hour of the first
 * image used), whose mid-time meridian is the grid centre. The MOSAIC_*
 * settings and PB_MODEL (the images' primary beam, which the mosaic
 * weights by) come from uvmake.conf when UVM_HOME names a deployment (see
 * src/lib/mosaic.h for the science). With -b, an hour where no image
 * passed gets a blank mosaic (every pixel NaN, NINPUT 0, the skips in its
 * HISTORY) instead of exit 69: the pipeline uses it so that such an hour
 * is finished and visible rather than retried for ever.
 * Exit: 0 ok; 64 usage, bad config or hour; 65 no input usable because of
 * bad data; 66 a report missing; 69 no image passed the gate (without -b);
 * 73 cannot create the output; 74 I/O error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/cfg.h"
#include "core/fsx.h"
#include "core/log.h"
#include "core/prog.h"
#include "sci/mosaic.h"
#include "core/uvm.h"
#include "core/prov.h"

#define USAGE "uvm-mosaic [-b] [-H hour] -o mosaic.fits qa.json..."

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
	const char *out = NULL, *hour = NULL, *home = getenv("UVM_HOME");
	int c, st = 0, blank = 0, nused, nskip, have_cfg = 0;
	struct mosaic_opts o;
	struct cfg cf;
	char err[MOSAIC_ERRLEN];

	prog_start(argc, argv, USAGE);
	while ((c = getopt(argc, argv, "bH:o:")) != -1) {
		switch (c) {
		case 'b':
			blank = 1;
			break;
		case 'H':
			hour = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		default:
			return log_usage(USAGE);
		}
	}
	if (!out || optind >= argc || (hour && strlen(hour) >= sizeof o.hour))
		return log_usage(USAGE);
	if (home && *home) {
		if (cfg_load(&cf, NULL) < 0)
			return EX_USAGE;
		have_cfg = 1;
	}
	if (mosaic_config(&o, have_cfg ? &cf : NULL, err) < 0) {
		log_err("%s", err);
		st = EX_USAGE;
		goto done;
	}
	o.blank_ok = blank;
	if (hour)
		snprintf(o.hour, sizeof o.hour, "%s", hour);
	/* the same reports in any order make the same mosaic, provenance included */
	qsort(argv + optind, (size_t)(argc - optind), sizeof *argv, by_name);
	prov_inputs(argv + optind, argc - optind);
	if (mosaic_make(&o, argv + optind, argc - optind, out, &nused, &nskip, &st, err) < 0) {
		log_err("%s", err);
		goto done;
	}
	if (nskip)
		log_warn("'%s': %d image(s) used, %d skipped (listed in its HISTORY)", out, nused, nskip);
	if (!nused)
		log_warn("'%s': no image passed the quality gate: blank mosaic", out);
done:
	if (have_cfg)
		cfg_free(&cf);
	return st;
}

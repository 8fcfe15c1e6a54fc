/*
 * uvm-sources: the source catalogue of one image, found with SEP
 * (src/lib/sci/sources.h): ICRS position, peak and integrated flux with
 * errors, shape, signal-to-noise; as JSON.
 *
 * usage: uvm-sources [-s sigma] [-a minarea] -o sources.json image.fits
 *
 * Defaults: detection at 5 sigma of the local rms map, minimum area 5
 * pixels. With UVM_HOME set, uvmake.conf may set SOURCES_SIGMA and
 * SOURCES_MINAREA; flags win. The output is written atomically.
 *
 * Exit: 0 ok; 64 usage; 65 not a usable image; 66 image missing; 70 SEP
 * failure; 73/74 cannot write the output.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "core/cfg.h"
#include "core/fsx.h"
#include "core/log.h"
#include "sci/sources.h"

#define USAGE "uvm-sources [-s sigma] [-a minarea] -o sources.json image.fits"

static int num(const char *s, double lo, double hi, double *v)
{
	char *end;

	errno = 0;
	*v = strtod(s, &end);
	return errno || end == s || *end || !isfinite(*v) || *v < lo || *v > hi ? -1 : 0;
}

int main(int argc, char **argv)
{
	const char *out = NULL, *home = getenv("UVM_HOME");
	double sigma = 5, area = 5, x;
	int c, st = 0;
	struct src_catalog cat;
	char err[SOURCES_ERRLEN], *json;

	log_init(argv[0]);
	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		printf("usage: %s\n", USAGE);
		return fsx_close_stdout();
	}
	if (home && *home) {
		struct cfg cf;
		const char *v;

		if (cfg_load(&cf, NULL) < 0)
			return EX_USAGE;
		v = cfg_str(&cf, "SOURCES_SIGMA", "");
		if (*v && num(v, 1, 1000, &sigma) < 0) {
			log_err("uvmake.conf: bad SOURCES_SIGMA '%s'", v);
			cfg_free(&cf);
			return EX_USAGE;
		}
		v = cfg_str(&cf, "SOURCES_MINAREA", "");
		if (*v && (num(v, 1, 10000, &area) < 0 || area != floor(area))) {
			log_err("uvmake.conf: bad SOURCES_MINAREA '%s'", v);
			cfg_free(&cf);
			return EX_USAGE;
		}
		cfg_free(&cf);
	}
	while ((c = getopt(argc, argv, "s:a:o:")) != -1) {
		switch (c) {
		case 's':
			if (num(optarg, 1, 1000, &x) < 0) {
				log_err("bad value for -s: '%s'", optarg);
				return log_usage(USAGE);
			}
			sigma = x;
			break;
		case 'a':
			if (num(optarg, 1, 10000, &x) < 0 || x != floor(x)) {
				log_err("bad value for -a: '%s'", optarg);
				return log_usage(USAGE);
			}
			area = x;
			break;
		case 'o':
			out = optarg;
			break;
		default:
			return log_usage(USAGE);
		}
	}
	if (!out || optind != argc - 1)
		return log_usage(USAGE);
	if (sources_find(argv[optind], sigma, (int)area, &cat, &st, err) < 0) {
		log_err("%s", err);
		return st;
	}
	json = sources_json(&cat, argv[optind]);
	if (!json) {
		log_err("out of memory");
		sources_free(&cat);
		return EX_OSERR;
	}
	if (fsx_write_file(out, json, strlen(json), 0644) < 0) {
		log_err("cannot write '%s': %s", out, strerror(errno));
		st = errno == ENOENT || errno == EACCES || errno == EROFS || errno == ENOTDIR ?
		    EX_CANTCREAT : EX_IOERR;
	}
	log_info("'%s': %d sources above %g sigma (rms %.3g Jy/beam)", argv[optind], cat.n, sigma,
	    cat.rms_jy);
	free(json);
	sources_free(&cat);
	return st;
}

/*
 * uvm-flag: flag a combined group: dead and bad antennas, bad channels
 * and integrations from robust statistics, RFI per baseline with
 * AOFlagger (method in src/lib/sci/flag.h); write a copy carrying the
 * flags and a JSON report.
 *
 * usage: uvm-flag [-D home] [-s strategy] [-r report] [-x max_fraction]
 *                 [-j threads] -o out vis.uvh5
 *   -s strategy      AOFlagger Lua strategy (default: FLAG_STRATEGY from
 *                    the deployment's uvmake.conf, else
 *                    ops/aoflagger/dsa110.lua; a relative path is looked
 *                    for under the deployment, $UVM_ROOT and the
 *                    installation: cfg_resource)
 *   -r report        JSON report: flagged fraction overall, per pass, per
 *                    antenna, per channel, worst baselines; dead and bad
 *                    antennas with the reason
 *   -x max_fraction  largest flagged fraction of a usable group (default
 *                    FLAG_MAX_FRACTION, else 0.5)
 *   -j threads       threads for statistics, AOFlagger and compression
 *                    (default: online CPUs)
 *   -D home          deployment (default $UVM_HOME, else .)
 * On success one line to stdout: "flagged=F dead=N bad=N read_s=..
 * stats_s=.. aoflagger_s=.. write_s=..".
 *
 * Exit: 0 ok, 64 usage, 65 the input is not valid UVH5 or not in the
 * combined layout, 66 input missing, 69 the strategy cannot be loaded,
 * 70 internal error (memory), 73 cannot create the output, 74 I/O error,
 * 79 the group is flagged beyond max_fraction (report written, no output;
 * do not retry, do not quarantine). Outputs appear whole or not at all.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/cfg.h"
#include "core/fsx.h"
#include "core/log.h"
#include "core/prog.h"
#include "core/uvm.h"
#include "sci/flag.h"
#include "core/prov.h"
#include "sci/aoflag.h"

#define USAGE "uvm-flag [-D home] [-s strategy] [-r report] [-x max_fraction] " \
	"[-j threads] -o out vis.uvh5"

int main(int argc, char **argv)
{
	struct flag_opts o = {0};
	struct flag_timing tm;
	struct cfg cf;
	char err[FLAG_ERRLEN], def[PATH_MAX], *end;
	const char *home = NULL, *xs = NULL, *js = NULL;
	int c, rc;

	prog_start(argc, argv, USAGE);
	while ((c = getopt(argc, argv, "hD:s:r:x:j:o:")) != -1) {
		switch (c) {
		case 'h':
			printf("usage: %s\n", USAGE);
			return fsx_close_stdout();
		case 'D': home = optarg; break;
		case 's': o.strategy = optarg; break;
		case 'r': o.report = optarg; break;
		case 'x': xs = optarg; break;
		case 'j': js = optarg; break;
		case 'o': o.out = optarg; break;
		default: return log_usage(USAGE);
		}
	}
	if (!o.out || optind != argc - 1)
		return log_usage(USAGE);
	o.in = argv[optind];
	if (cfg_load(&cf, home) < 0)
		return EX_NOINPUT;
	o.max_fraction = cfg_double(&cf, "FLAG_MAX_FRACTION", 0.5);
	if (!o.strategy) {
		cfg_resource(&cf, "FLAG_STRATEGY", "ops/aoflagger/dsa110.lua", def);
		o.strategy = def;
	}
	cfg_free(&cf);
	if (xs) {
		errno = 0;
		o.max_fraction = strtod(xs, &end);
		if (errno || end == xs || *end || !(o.max_fraction >= 0 && o.max_fraction <= 1)) {
			log_err("bad value for -x: '%s' (a fraction, 0 to 1)", xs);
			return log_usage(USAGE);
		}
	}
	if (js) {
		long v;
		errno = 0;
		v = strtol(js, &end, 10);
		if (errno || end == js || *end || v < 1 || v > 256) {
			log_err("bad value for -j: '%s'", js);
			return log_usage(USAGE);
		}
		o.nthreads = (int)v;
	}
	if (access(o.strategy, R_OK) < 0) {
		log_err("cannot read strategy '%s': %s", o.strategy, strerror(errno));
		return EX_UNAVAILABLE;
	}
	prov_inputs(argv + optind, 1);
	prov_lib("aoflagger", aoflag_version());
	rc = flag_run(&o, &tm, err);
	if (rc) {
		log_err("%s", err);
		if (rc == EX_OSERR)
			rc = EX_SOFTWARE;
		if (rc == EX_IOERR || rc == EX_CANTCREAT) {
			fflush(stderr);
			_exit(rc); /* see uvm-sim: libhdf5 after a failed write */
		}
		return rc;
	}
	printf("read_s=%.3f stats_s=%.3f aoflagger_s=%.3f write_s=%.3f\n", tm.read_s,
	    tm.stats_s, tm.aoflagger_s, tm.write_s);
	return fsx_close_stdout();
}

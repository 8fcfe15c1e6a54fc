/*
 * uvm-sim: simulate a DSA-110-like stream of UVH5 subband files, with the
 * truth it used and injected faults, for tests, benchmarks and the demo.
 *
 * Each group (5 minutes by default) becomes nsub files written like the
 * correlator does (*_incomplete.hdf5, renamed to
 * YYYY-MM-DDTHH:MM:SS_sbNN.hdf5, file times jittered by up to -j seconds,
 * optionally paced in real time with -p). The model, its conventions and
 * the faults are described in src/lib/sim.h and src/lib/sim_run.c; the
 * interface is in SCIENCE.md. -P adds explicit sources from a file in the
 * calibrator catalogue format (name,ra_deg,dec_deg,flux_jy,ref_freq_mhz,
 * spectral_index). -D injects the defects of real data (RFI, dead and bad
 * antennas given by their place 0..nants-1 in the simulated array, delays,
 * ripple; src/lib/sci/sim_defects.h), recorded in the truth with the
 * antennas by the numbers the files give them.
 *
 * -N sources are drawn at random per group: with -Y uniform (default)
 * log-uniform in 0.5-5 Jy within 0.75 of the beam's FWHM; with -Y counts
 * the -N brightest of a realistic sky out to the first null of the beam
 * at 1311.5 MHz (-Y counts:R: out to R degrees), fluxes from the 1.4 GHz
 * source counts (sim_sky.c). -n is
 * the rms of the real and imaginary parts of each polarisation's
 * visibility (default 2 Jy), or "radiometer": SEFD / sqrt(2 dnu t_int)
 * with the SEFD of a DSA-110 dish, 5800 Jy (T_sys 25 K over an effective
 * area of 11.9 m^2: 4.65 m at 70% aperture efficiency), the channel width
 * and the 12.88 s integration (2.3 Jy at the default 768 channels).
 *
 * -B is the sky's primary beam, apart from the pipeline's PB_MODEL:
 * "taper" (default) the tapered, blocked 4.65 m dish integrated
 * numerically (sim_beam.c), "airy" or "gauss" beam.c's models, so that a
 * test can simulate with one model and image with another.
 *
 * -L picks the file layout and array: "dsa110" (default) is what the
 * DSA-110 correlator writes today (shared/data/dsa110/LAYOUT.md) on the
 * real station list, nants of its 117 stations active; "dsa110-2021" the
 * same as written before June 2022 (no scalar phase_center_app_dec);
 * "uvh5" uvm-sim's former output (UVH5 1.2, a synthetic T array).
 *
 * Exit: 0 ok, 64 usage, 65 bad catalogue or source file, 66 catalogue or
 * source file missing, 73 cannot create the output directory or a file,
 * 74 I/O error (disk full included); no temporary or *_incomplete file is
 * left behind on failure.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/fsx.h"
#include "core/log.h"
#include "core/prog.h"
#include "sci/sim.h"
#include "sci/sim_defects.h"
#include "core/uvm.h"

#define USAGE \
	"uvm-sim [-L layout] [-a nants] [-s nsub] [-c nchan] [-t ntimes] [-g ngroups]\n" \
	"              [-d dec_deg] [-S seed] [-T start] [-K catalogue -k name -C group]\n" \
	"              [-N nsrc] [-Y sky] [-P sources] [-n noise_jy] [-G gain_level] [-p pace]\n" \
	"              [-j jitter_s] [-F fault] [-D defects] [-B beam] [-R truth.json] -o dir"

static int int_arg(const char *s, long lo, long hi, int *v)
{
	char *end;
	long x;

	errno = 0;
	x = strtol(s, &end, 10);
	if (errno || end == s || *end || x < lo || x > hi)
		return -1;
	*v = (int)x;
	return 0;
}

static int num_arg(const char *s, double *v)
{
	char *end;

	errno = 0;
	*v = strtod(s, &end);
	return errno || end == s || *end || !isfinite(*v) ? -1 : 0;
}

static int time_arg(const char *s, double *v)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof tm);
	end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end || (*end && strcmp(end, "Z")))
		return -1;
	*v = (double)timegm(&tm);
	return 0;
}

int main(int argc, char **argv)
{
	struct sim_opts o;
	struct sim s;
	struct sim_defects dfx = {0};
	const char *defects = NULL;
	char err[SIM_ERRLEN];
	double seed;
	int c, st;

	prog_start(argc, argv, USAGE);
	sim_opts_default(&o);
	while ((c = getopt(argc, argv, "L:a:s:c:t:g:d:S:T:K:k:C:N:P:Y:n:G:p:j:F:D:B:R:o:")) != -1) {
		int bad = 0;
		switch (c) {
		case 'L':
			if (!strcmp(optarg, "dsa110"))
				o.layout = SIM_L_DSA110;
			else if (!strcmp(optarg, "dsa110-2021"))
				o.layout = SIM_L_DSA110_OLD;
			else if (!strcmp(optarg, "uvh5"))
				o.layout = SIM_L_UVH5;
			else
				bad = 1;
			break;
		case 'a': bad = int_arg(optarg, 1, 2048, &o.nants); break;
		case 's': bad = int_arg(optarg, 1, 100, &o.nsub); break;
		case 'c': bad = int_arg(optarg, 1, 65536, &o.nchan); break;
		case 't': bad = int_arg(optarg, 1, 100000, &o.ntimes); break;
		case 'g': bad = int_arg(optarg, 1, 100000, &o.ngroups); break;
		case 'd':
			bad = num_arg(optarg, &o.dec_deg) || fabs(o.dec_deg) > 90;
			o.dec_given = 1;
			break;
		case 'S':
			bad = num_arg(optarg, &seed) || seed < 0 || seed > 9e15 || seed != floor(seed);
			o.seed = (uint64_t)seed;
			break;
		case 'T': bad = time_arg(optarg, &o.start_unix); break;
		case 'K': o.catalogue = optarg; break;
		case 'k': o.calname = optarg; break;
		case 'C': bad = int_arg(optarg, 0, 100000, &o.cal_group); break;
		case 'N': bad = int_arg(optarg, 0, 100000, &o.nsrc); break;
		case 'P': o.srcfile = optarg; break;
		case 'n':
			if (!strcmp(optarg, "radiometer"))
				o.noise_jy = -1;
			else
				bad = num_arg(optarg, &o.noise_jy) || o.noise_jy < 0;
			break;
		case 'Y':
			o.sky_counts = !strncmp(optarg, "counts", 6);
			if (o.sky_counts && optarg[6] == ':')
				bad = num_arg(optarg + 7, &o.sky_radius_deg) || o.sky_radius_deg <= 0 ||
				    o.sky_radius_deg > 90;
			else
				bad = o.sky_counts ? optarg[6] != 0 : strcmp(optarg, "uniform") != 0;
			break;
		case 'G': bad = num_arg(optarg, &o.gain_level) || o.gain_level < 0; break;
		case 'p': bad = num_arg(optarg, &o.pace) || o.pace < 0; break;
		case 'j': bad = num_arg(optarg, &o.jitter_s) || o.jitter_s < 0 || o.jitter_s > 3600; break;
		case 'F':
			bad = o.nfaults >= SIM_MAXFAULTS ||
			    sim_parse_fault(optarg, &o.faults[o.nfaults++]) < 0;
			break;
		case 'D': /* defects (sim_defects.h) */
			defects = optarg;
			bad = sim_defects_parse(optarg, &dfx, err) < 0;
			break;
		case 'R': o.truth = optarg; break;
		case 'B': {
			enum beam_model bm;
			bad = beam_parse(optarg, &bm);
			if (!bad)
				sim_beam_use(bm);
			break;
		}
		case 'o': o.outdir = optarg; break;
		default: return log_usage(USAGE);
		}
		if (bad) {
			log_err("bad value for -%c: '%s'", c, optarg);
			return log_usage(USAGE);
		}
	}
	if (optind != argc || !o.outdir || !*o.outdir || (!o.catalogue != !o.calname) ||
	    (o.cal_group >= 0 && !o.calname))
		return log_usage(USAGE);
	if (o.calname && o.cal_group < 0)
		o.cal_group = 0;
	if (o.cal_group >= o.ngroups) {
		log_err("calibrator group %d: only %d group(s)", o.cal_group, o.ngroups);
		return log_usage(USAGE);
	}
	for (int i = 0; i < o.nfaults; i++)
		if (o.faults[i].sb >= o.nsub || o.faults[i].group >= o.ngroups) {
			log_err("fault %s: no such subband or group",
			    sim_fault_name(o.faults[i].kind));
			return log_usage(USAGE);
		}
	st = sim_init(&s, &o, err);
	if (st) {
		log_err("%s", err);
		sim_free(&s);
		return st == EX_USAGE ? log_usage(USAGE) : st;
	}
	if (defects && (st = sim_defects_init(&s, &dfx, err))) {
		log_err("%s", err);
		sim_defects_free(&dfx);
		sim_free(&s);
		return st == EX_USAGE ? log_usage(USAGE) : st;
	}
	st = sim_run(&s);
	sim_defects_free(&dfx);
	sim_free(&s);
	if (st == EX_IOERR || st == EX_CANTCREAT) {
		/* After a failed write libhdf5 keeps a file it could not close
		 * and crashes closing it again at exit (seen with 1.10.8 on
		 * ENOSPC); our temporaries are already removed, so leave now. */
		fflush(stderr);
		_exit(st);
	}
	return st;
}

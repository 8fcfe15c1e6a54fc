/*
 * uvm-calapply: calibrate a group's visibilities with a calibration table
 * (method in calapply.h).
 *
 * usage: uvm-calapply [-D home] [-c caltable] [-t threads] -o out vis.uvh5
 *   -c caltable  the table to apply; without it the registry of the
 *                deployment chooses one for the data's mid-time through
 *                the fallback chain of cal_choose (cal_registry.h)
 *   -D home      deployment (default $UVM_HOME, else .)
 *   -t threads   worker threads (default CAL_THREADS, 0: online CPUs)
 *                beside the one reading and writing; the output is the
 *                same for any number
 *
 * The table used and its fallback level (ok, stale, last-good) go into the
 * output's history and extra keywords (cal_table, cal_level, ...) and to
 * stdout as one line "cal_table=... cal_level=... calibrator=...
 * cal_group=... age_hours=..." (the recipe wrapper keeps stdout in the
 * job log). A stale table is warned about; a last-good one is reported as
 * an alert on stderr.
 *
 * Exit: 0 ok, 64 usage, 65 the visibilities or the table are not valid
 * (the table's path goes to $UVM_BLAME_FILE when it is the culprit),
 * 66 an input is missing, 69 no calibration table is available (or the
 * table has no antenna, channel or polarization in common with the data),
 * 70 internal error, 73 cannot create the output, 74 I/O error.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sci/cal_registry.h"
#include "sci/cal_table.h"
#include "sci/calapply.h"
#include "core/cfg.h"
#include "core/fsx.h"
#include "sci/geom.h"
#include "core/log.h"
#include "core/prog.h"
#include "uvh5/uvh5.h"
#include "core/uvm.h"
#include "core/prov.h"

#define USAGE "uvm-calapply [-D home] [-c caltable] [-t threads] -o out vis.uvh5"

/* Mid-time of the data (MJD); 0 or an exit status after logging. */
static int mid_mjd(const char *vis, double *mjd)
{
	char e[UVH5_ERRLEN];
	int st = 0;
	uvh5_file *f = uvh5_open(vis, &st, e);
	const struct uvh5_header *h;
	double lo, hi;

	if (!f) {
		log_err("%s", e);
		return st ? st : EX_DATAERR;
	}
	h = uvh5_header(f);
	lo = hi = h->time_array[0];
	for (int64_t r = 1; r < h->Nblts; r++) {
		if (h->time_array[r] < lo)
			lo = h->time_array[r];
		if (h->time_array[r] > hi)
			hi = h->time_array[r];
	}
	*mjd = (lo + hi) / 2 - GEOM_MJD0;
	uvh5_close(f);
	return 0;
}

static void blame(const char *path)
{
	const char *bf = getenv("UVM_BLAME_FILE");
	char line[PATH_MAX + 2];
	int n;

	if (!bf || !*bf)
		return;
	n = snprintf(line, sizeof line, "%s\n", path);
	if (fsx_write_file(bf, line, (size_t)n, 0644) < 0)
		log_warn("cannot write blame file '%s': %s", bf, strerror(errno));
}

int main(int argc, char **argv)
{
	const char *home = NULL, *table = NULL, *out = NULL, *vis;
	char path[2 * PATH_MAX], err[CAL_ERRLEN];
	struct calapply_opts o = {0};
	struct calapply_stats st;
	struct cal_table t;
	struct cal_choice ch;
	struct cfg c = {0};
	double mjd, maxage, age;
	int opt, rc;
	long nthreads = -1;
	char *end;

	prog_start(argc, argv, USAGE);
	memset(&t, 0, sizeof t);
	while ((opt = getopt(argc, argv, "hD:c:o:t:")) != -1) {
		switch (opt) {
		case 'h':
			return prog_help(USAGE);
		case 'D': home = optarg; break;
		case 'c': table = optarg; break;
		case 'o': out = optarg; break;
		case 't':
			errno = 0;
			nthreads = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || nthreads < 0 || nthreads > 1024)
				return log_usage(USAGE);
			break;
		default: return log_usage(USAGE);
		}
	}
	if (!out || optind != argc - 1)
		return log_usage(USAGE);
	vis = argv[optind];
	if (cfg_load(&c, home) < 0)
		return EX_NOINPUT;
	maxage = cfg_double(&c, "CAL_MAX_AGE_HOURS", CAL_DEFAULT_MAX_AGE_HOURS);
	o.nthreads = (int)(nthreads >= 0 ? nthreads : cfg_int(&c, "CAL_THREADS", 0));
	if ((rc = mid_mjd(vis, &mjd)) != 0)
		goto out;
	memset(&ch, 0, sizeof ch);
	if (!table) {
		rc = cal_choose(c.home, mjd, &ch);
		if (rc == EX_UNAVAILABLE)
			log_err("no calibration table available for mjd %.5f in '%s'", mjd, c.home);
		if (rc)
			goto out;
		if (ch.path[0] == '/')
			snprintf(path, sizeof path, "%s", ch.path);
		else
			snprintf(path, sizeof path, "%s/%s", c.home, ch.path);
		table = ch.path;
	} else {
		snprintf(path, sizeof path, "%s", table);
	}
	if ((rc = cal_table_read(path, &t, err)) != 0) {
		log_err("%s", err);
		if (rc == EX_DATAERR)
			blame(path);
		goto out;
	}
	/* the registry's facts when it chose, the table's own otherwise */
	if (ch.path[0]) {
		o.level = ch.level;
		age = ch.age_hours;
	} else {
		o.level = cal_level_for(mjd, t.mjd_start, t.mjd_end, t.transit_mjd, maxage);
		age = 24 * (mjd > t.transit_mjd ? mjd - t.transit_mjd : t.transit_mjd - mjd);
	}
	if (o.level == CAL_LEVEL_STALE)
		log_warn("stale calibration: '%s' (%s) is %.1f h from the data", table, t.calibrator,
		    age);
	else if (o.level == CAL_LEVEL_LAST)
		log_err("alert: no calibration within %.0f h; using the last good table '%s' "
		    "(%.1f h away)", maxage, table, age);
	prov_input(vis);
	prov_caltable(table, t.group);
	o.vis = vis;
	o.out = out;
	o.table_name = table;
	if ((rc = calapply_run(&o, &t, &st, err)) != 0) {
		log_err("%s", err);
		goto out;
	}
	if (st.chans_unmatched || st.ants_unmatched)
		log_warn("'%s' covers the data partly: %d channels and %d antennas without gains "
		    "(flagged)", table, st.chans_unmatched, st.ants_unmatched);
	printf("cal_table=%s cal_level=%s calibrator=%s cal_group=%s age_hours=%.2f "
	    "flagged=%.4f\n", table, cal_level_name(o.level), t.calibrator, t.group, age,
	    st.samples ? (double)st.flagged_after / (double)st.samples : 0);
	rc = fsx_close_stdout();
out:
	cal_table_free(&t);
	cfg_free(&c);
	if (rc == EX_IOERR || rc == EX_CANTCREAT) {
		/* libhdf5 1.10.8 keeps a file it failed to close after ENOSPC and
		 * crashes closing it again at exit; the temporary is already gone,
		 * so leave without running its atexit handler (as uvm-sim does). */
		fflush(stdout);
		fflush(stderr);
		_exit(rc);
	}
	return rc;
}

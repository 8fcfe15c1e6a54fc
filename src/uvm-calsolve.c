/*
 * uvm-calsolve: solve a calibration table on a calibrator transit and
 * register it (method in calsolve.h, table layout in cal_table.h, registry
 * in cal_registry.h).
 *
 * usage: uvm-calsolve [-j] [-D home] [-g group] [-k calibrator] [-t threads] -o caltable vis.uvh5
 *   -j             print the result and quality figures as one JSON object
 *   -D home        deployment (default $UVM_HOME, else .): its uvmake.conf
 *                  and its registry state/calibration.sqlite
 *   -g group       group id recorded (default $UVM_GROUP, else the table
 *                  name without .cal.h5)
 *   -k calibrator  catalogue name (default: the catalogue source that
 *                  transits in the beam during the data)
 *   -t threads     threads (default CAL_THREADS, 0: online CPUs); the
 *                  table is the same bit for bit for any number
 *
 * Config: CALIBRATORS (ops/calibrators.csv; relative names are looked up
 * in the deployment, then $UVM_ROOT, then next to bin/), CAL_INTERVAL (1
 * integration per time solution), CAL_MIN_UV_LAMBDA (0), CAL_FLAG_SNR (5:
 * raw solutions below are flagged), CAL_MAX_ITER (100), CAL_TOL (1e-6),
 * CAL_REFANT (automatic), CAL_VALIDITY_HOURS (24: window centred on the
 * transit), and the quality gate CAL_MAX_FLAGGED (0.5, fraction of raw
 * solutions flagged), CAL_MIN_SNR (10, median raw solution SNR) and
 * CAL_MIN_GOOD_ANTPOL (0.9, fraction of antenna-polarizations with data
 * that have good solutions; the failed ones are named with the reason),
 * CAL_THREADS (0: online CPUs; also uvm-calapply's), and PB_MODEL (taper:
 * the primary beam that makes the calibrator's apparent flux, the images'
 * one; sci/beam.h).
 *
 * A solution that fails the gate is not a bad input (the data may image
 * well with another table): no table is written (an older one at that
 * path is removed), the registry records the attempt as 'rejected' with
 * the reason, and the exit status is 69 (calibration unavailable from
 * this group).
 *
 * Exit: 0 table written and registered, 64 usage, 65 data unusable (not
 * UVH5, no cross-correlations, no pointing declination, rows out of time
 * order), 66 input missing, 69 calibration unavailable from this group: no
 * catalogue calibrator transits in the beam, the catalogue is missing or
 * malformed, or the quality gate rejected the solution, 70 internal error,
 * 73 cannot create the table, 74 I/O error, 75 registry busy (retry).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sci/cal_catalog.h"
#include "sci/cal_registry.h"
#include "sci/cal_table.h"
#include "sci/beam.h"
#include "sci/calsolve.h"
#include "core/cfg.h"
#include "core/fsx.h"
#include "core/json.h"
#include "core/log.h"
#include "core/prog.h"
#include "core/uvm.h"

#define USAGE "uvm-calsolve [-j] [-D home] [-g group] [-k calibrator] [-t threads] -o caltable vis.uvh5"

/* out relative to home when it lies inside it, else absolute. */
static void registry_name(const char *home, const char *out, char *buf, size_t n)
{
	char d[PATH_MAX], b[PATH_MAX], rd[PATH_MAX], rh[PATH_MAX];
	size_t hl;

	snprintf(d, sizeof d, "%s", out);
	snprintf(b, sizeof b, "%s", out);
	if (!realpath(dirname(d), rd) || !realpath(home, rh)) {
		snprintf(buf, n, "%s", out);
		return;
	}
	hl = strlen(rh);
	if (!strncmp(rd, rh, hl) && (rd[hl] == '/' || !rd[hl]))
		snprintf(buf, n, "%s%s%s", rd[hl] ? rd + hl + 1 : "", rd[hl] ? "/" : "", basename(b));
	else
		snprintf(buf, n, "%s/%s", rd, basename(b));
}

static void json_str(const char *k, const char *v, int last)
{
	printf("\"%s\":", k);
	json_str_file(stdout, v);
	if (!last)
		putchar(',');
}

static void print_json(const struct cal_table *t, const struct cal_entry *e, int recorded)
{
	printf("{");
	json_str("table", e->path, 0);
	json_str("group", e->group, 0);
	json_str("calibrator", e->calibrator, 0);
	json_str("status", e->status, 0);
	json_str("reason", e->reason, 0);
	printf("\"recorded\":%s,\"registered\":%s,\"transit_mjd\":%.8f,"
	    "\"mjd_start\":%.8f,\"mjd_end\":%.8f,"
	    "\"frac_flagged\":%.6f,\"median_snr\":%.3f,\"residual_rms\":%.6f,\"refant\":%lld,"
	    "\"ntimes\":%lld,\"nants\":%lld,\"nfreqs\":%lld,\"npols\":%lld,"
	    "\"frac_good_antpol\":%.6f,",
	    recorded ? "true" : "false", recorded && !e->reason[0] ? "true" : "false",
	    t->transit_mjd, t->mjd_start, t->mjd_end,
	    t->frac_flagged, t->median_snr, t->residual_rms, (long long)t->refant,
	    (long long)t->ntimes, (long long)t->nants, (long long)t->nfreqs, (long long)t->npols,
	    t->frac_good_antpol);
	printf("\"failed_antpols\":[");
	for (int64_t k = 0, n = 0; k < t->nants * t->npols; k++)
		if (t->antpol_status[k] != CAL_AP_GOOD && t->antpol_status[k] != CAL_AP_NODATA)
			printf("%s{\"antenna\":%lld,\"pol\":%lld,\"reason\":\"%s\"}", n++ ? "," : "",
			    (long long)t->antenna_numbers[k / t->npols],
			    (long long)t->polarization_array[k % t->npols],
			    cal_antpol_reason(t->antpol_status[k]));
	printf("]}\n");
}

int main(int argc, char **argv)
{
	const char *home = NULL, *group = NULL, *calname = NULL, *out = NULL;
	char catpath[PATH_MAX + 64], err[CAL_ERRLEN], gbuf[64], statedir[PATH_MAX + 8];
	struct calsolve_opts so;
	struct cal_catalog cat = {0};
	struct cal_table t;
	struct cal_entry e;
	struct cfg c = {0};
	sqlite3 *db = NULL;
	int ch, json = 0, rc, recorded = 0;
	long nthreads = -1;
	char *end;

	prog_start(argc, argv, USAGE);
	memset(&t, 0, sizeof t);
	while ((ch = getopt(argc, argv, "hjD:g:k:o:t:")) != -1) {
		switch (ch) {
		case 'h':
			return prog_help(USAGE);
		case 'j': json = 1; break;
		case 'D': home = optarg; break;
		case 'g': group = optarg; break;
		case 'k': calname = optarg; break;
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
	if (cfg_load(&c, home) < 0)
		return EX_NOINPUT;
	if (!group || !*group)
		group = getenv("UVM_GROUP");
	if (!group || !*group) {
		char tmp[PATH_MAX], *b, *dot;
		snprintf(tmp, sizeof tmp, "%s", out);
		b = basename(tmp);
		dot = strstr(b, ".cal.h5");
		if (dot)
			*dot = 0;
		snprintf(gbuf, sizeof gbuf, "%s", b);
		group = gbuf;
	}
	log_set_group(group);

	calsolve_defaults(&so);
	so.vis = argv[optind];
	so.group = group;
	so.interval = (int)cfg_int(&c, "CAL_INTERVAL", 1);
	so.min_uv_lambda = cfg_double(&c, "CAL_MIN_UV_LAMBDA", 0);
	so.flag_snr = cfg_double(&c, "CAL_FLAG_SNR", 5);
	so.max_iter = (int)cfg_int(&c, "CAL_MAX_ITER", 100);
	so.tol = cfg_double(&c, "CAL_TOL", 1e-6);
	so.refant = (long)cfg_int(&c, "CAL_REFANT", -1);
	so.validity_hours = cfg_double(&c, "CAL_VALIDITY_HOURS", CAL_DEFAULT_VALIDITY_HOURS);
	so.nthreads = (int)(nthreads >= 0 ? nthreads : cfg_int(&c, "CAL_THREADS", 0));
	if (beam_parse(cfg_str(&c, "PB_MODEL", "airy"), &so.beam) < 0) {
		log_err("bad PB_MODEL '%s' in the config (taper, airy or gauss)",
		    cfg_str(&c, "PB_MODEL", ""));
		rc = EX_USAGE;
		goto out;
	}
	if (so.interval < 1 || so.max_iter < 1 || !(so.tol > 0) || !(so.validity_hours > 0)) {
		log_err("bad CAL_INTERVAL, CAL_MAX_ITER, CAL_TOL or CAL_VALIDITY_HOURS in the config");
		rc = EX_USAGE;
		goto out;
	}
	cfg_resource(&c, "CALIBRATORS", "ops/calibrators.csv", catpath);
	if (cal_catalog_load(catpath, &cat, err, sizeof err) != 0) {
		/* the catalogue is configuration, not this group's input */
		log_err("%s", err);
		rc = EX_UNAVAILABLE;
		goto out;
	}
	so.catalog = &cat;
	if (calname && !(so.cal = cal_catalog_find(&cat, calname))) {
		log_err("no calibrator '%s' in '%s'", calname, catpath);
		rc = EX_USAGE;
		goto out;
	}
	if ((rc = calsolve_run(&so, &t, err)) != 0) {
		log_err("%s", err);
		goto out;
	}

	{
		char rname[PATH_MAX];
		registry_name(c.home, out, rname, sizeof rname);
		cal_entry_from_table(&e, &t, rname, group, &c);
	}

	snprintf(statedir, sizeof statedir, "%s/state", c.home);
	if (e.reason[0]) {
		if (unlink(out) == 0)
			log_warn("removed the previous table '%s'", out);
		log_err("'%s' on '%s' rejected: %s", so.vis, t.calibrator, e.reason);
		rc = EX_UNAVAILABLE;
	} else if ((rc = cal_table_write(out, &t, err)) != 0) {
		log_err("%s", err);
		goto out;
	}
	if (access(statedir, F_OK) < 0) {
		log_warn("'%s' is not a deployment (no state/): table not registered", c.home);
	} else if (!(db = cal_registry_open(c.home)) || cal_registry_put(db, &e) < 0) {
		if (!e.reason[0]) {
			unlink(out); /* an unregistered table would satisfy make forever */
			rc = EX_TEMPFAIL;
		}
	} else {
		recorded = 1;
		/* dated after its registration: a group calibrated between the
		 * write and the registration (with another table, as this one
		 * was not yet chosen) is older than it, and is re-made. The
		 * registry is closed first: closing checkpoints its WAL, the
		 * registration's last write */
		sqlite3_close(db);
		db = NULL;
		if (!e.reason[0] && utimensat(AT_FDCWD, out, NULL, 0) < 0)
			log_warn("cannot date '%s' after its registration: %s", out, strerror(errno));
	}
	if (!rc) {
		char why[1024];
		int nfail = cal_antpol_summary(&t, why, sizeof why);
		log_info("'%s': %s on %s, %.1f%% flagged, median snr %.1f, residual %.4f, "
		    "%.1f%% of antenna-polarizations good, valid mjd %.5f-%.5f", out, e.status,
		    t.calibrator, 100 * t.frac_flagged, t.median_snr, t.residual_rms,
		    100 * t.frac_good_antpol, t.mjd_start, t.mjd_end);
		if (nfail)
			log_info("failed antenna-polarizations: %s", why);
	}
	if (json) {
		print_json(&t, &e, recorded);
		if (fsx_close_stdout() && !rc)
			rc = EX_IOERR;
	}
out:
	if (db)
		sqlite3_close(db);
	cal_table_free(&t);
	cal_catalog_free(&cat);
	cfg_free(&c);
	return rc;
}

/*
 * cfg.c: the deployment config (contract in cfg.h).
 *
 * The file format is the intersection of sh and make assignment syntax:
 * KEY=value, KEY an identifier, value a word with no spaces, quotes, '$',
 * '#', backslashes or backquotes, so `. ./uvmake.conf` and `include
 * uvmake.conf` give the same values and nothing is ever expanded.
 */
#include "core/cfg.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fsx.h"
#include "core/log.h"
#include "core/stages.h"

const char cfg_default_text[] =
    "# uvmake deployment configuration: KEY=value, read by sh and make.\n"
    "# Values are single words: no spaces, quotes, '$' or '#'.\n"
    "\n"
    "# Where the correlator drops subband files (relative to the deployment).\n"
    "INCOMING=incoming\n"
    "# Subbands per observation group, and how far apart (s) the timestamps\n"
    "# of one group's files may be.\n"
    "SUBBANDS=16\n"
    "# Seconds of data in one group (24 integrations of 12.88 s).\n"
    "GROUP_SECONDS=309\n"
    "GROUP_TOLERANCE=60\n"
    "# A group missing subbands is processed after PARTIAL_TIMEOUT seconds\n"
    "# if it has at least PARTIAL_MIN of them; otherwise it waits.\n"
    "PARTIAL_TIMEOUT=900\n"
    "PARTIAL_MIN=12\n"
    "# The planner leaves out a file that is open for writing by a process of\n"
    "# this machine, or whose mtime is less than PLAN_SETTLE seconds old (set\n"
    "# it when INCOMING is written over NFS or by a user whose processes the\n"
    "# planner cannot see); and quarantines a file whose name is more than\n"
    "# CLOCK_SKEW seconds ahead of the clock.\n"
    "PLAN_SETTLE=0\n"
    "CLOCK_SKEW=21600\n"
    "# Parallel jobs for make -j.\n"
    "JOBS=2\n"
    "# Retry policy of the recipe wrapper: attempts before dead-letter,\n"
    "# exponential backoff base and cap (s); waits up to RETRY_INLINE_MAX s\n"
    "# happen inside the job, longer ones defer the job to a later make run.\n"
    "# Seconds may be fractional (e.g. RETRY_BASE=0.5).\n"
    "RETRY_MAX=5\n"
    "RETRY_BASE=2\n"
    "RETRY_CAP=3600\n"
    "RETRY_INLINE_MAX=10\n"
    "# Class 69 (a dependency such as calibration is unavailable) backs off\n"
    "# from this base instead (s).\n"
    "RETRY_UNAVAILABLE_BASE=300\n"
    "# Job timeout (s), per stage as TIMEOUT_<stage>; TERM, then KILL after\n"
    "# KILL_GRACE seconds.\n"
    "TIMEOUT=3600\n"
    "KILL_GRACE=10\n"
    "# Circuit breaker per stage: BREAKER_FAILS consecutive failures within\n"
    "# BREAKER_WINDOW s open it for BREAKER_COOLDOWN s.\n"
    "BREAKER_FAILS=5\n"
    "BREAKER_WINDOW=600\n"
    "BREAKER_COOLDOWN=300\n"
    "# Refuse to start a job when the output file system has less free space\n"
    "# than this (MB).\n"
    "DISK_MARGIN_MB=512\n"
    "# Launcher prefix for every job, words separated by ',' (values cannot\n"
    "# hold spaces), e.g. LAUNCH=srun,--exact,-N1,-n1,-c2 (empty: local).\n"
    "LAUNCH=\n"
    "# Resources. Staging: the products of the STAGING_STAGES stages (comma-\n"
    "# separated; empty: those marked tmpfs in RULES_DIR/stages) go to\n"
    "# STAGING_DIR/<group>/ (e.g. /dev/shm/uvmake; empty: off), linked from\n"
    "# products/, when it has twice their size free and stays within\n"
    "# STAGING_MAX_PERCENT of its size and STAGING_LIMIT_MB (0: no cap);\n"
    "# else they go to disk. Staged files of a group whose STAGING_EVICT_AFTER\n"
    "# product exists are dropped when room is needed.\n"
    "STAGING_DIR=\n"
    "STAGING_STAGES=\n"
    "STAGING_MAX_PERCENT=50\n"
    "STAGING_LIMIT_MB=0\n"
    "STAGING_EVICT_AFTER=qa.json\n"
    "# Jobs of a stage at once, whatever make -j is (SLOTS_<stage>; 0: any;\n"
    "# unset: the slots column of RULES_DIR/stages), and a stage's declared\n"
    "# peak memory, admitted only when available (MEM_<stage> MB; 0 or unset:\n"
    "# no check). A job waits for them at most RESOURCE_WAIT_MAX s (not part\n"
    "# of its timeout), then exits 75.\n"
    "RESOURCE_WAIT_MAX=3600\n"
    "# Order of the groups in the makefile: calibrator groups, then groups\n"
    "# within PRIORITY_REALTIME s of the newest (newest first), then the\n"
    "# backlog, PRIORITY_BACKLOG=oldest (first) or newest, at most\n"
    "# PRIORITY_BATCH backlog groups a make cycle (0: all), so a new group\n"
    "# waits for a short cycle, not for the whole backlog.\n"
    "PRIORITY_REALTIME=600\n"
    "PRIORITY_BACKLOG=oldest\n"
    "PRIORITY_BATCH=0\n"
    "# Calibration: the calibrator catalogue, pointing declination of the\n"
    "# drift scan (deg) and how far from it (deg; the half-power radius of a\n"
    "# 4.65 m dish at 1.4 GHz) a calibrator transit counts, solution interval\n"
    "# (integrations), minimum baseline\n"
    "# (wavelengths), SNR below which a solution is flagged, quality gate\n"
    "# (median SNR, flagged fraction), validity window of a table and the\n"
    "# largest age of a stale one (hours), StEFCal iterations and tolerance,\n"
    "# reference antenna (-1: automatic).\n"
    "CALIBRATORS=ops/calibrators.csv\n"
    "POINTING_DEC_DEG=33.16\n"
    "CAL_MAX_SEP_DEG=1.6\n"
    "CAL_INTERVAL=1\n"
    "CAL_MIN_UV_LAMBDA=0\n"
    "CAL_FLAG_SNR=5\n"
    "CAL_MIN_SNR=10\n"
    "CAL_MAX_FLAGGED=0.5\n"
    "CAL_VALIDITY_HOURS=24\n"
    "CAL_MAX_AGE_HOURS=72\n"
    "# How long (hours of data time after a calibrator transit) groups that\n"
    "# its table would calibrate better stay planned, waiting for its group's\n"
    "# solve, before they retire with the table they have.\n"
    "CAL_WAIT_HOURS=6\n"
    "CAL_MAX_ITER=100\n"
    "CAL_TOL=1e-6\n"
    "CAL_REFANT=-1\n"
    "# Threads of uvm-calsolve and uvm-calapply (0: online CPUs).\n"
    "CAL_THREADS=0\n"
    "# Flagging (uvm-flag): the AOFlagger strategy (a relative path is looked\n"
    "# for under the deployment, $UVM_ROOT and the installation) and the\n"
    "# largest flagged fraction of a usable group: beyond it the group fails,\n"
    "# class overflagged (exit 79), and is not calibrated or imaged.\n"
    "FLAG_STRATEGY=ops/aoflagger/dsa110.lua\n"
    "FLAG_MAX_FRACTION=0.5\n"
    "# Imaging (uvm-image's own defaults): pixels a side (0: the primary beam\n"
    "# to its first null), cell (arcsec, 0: automatic), most CLEAN components,\n"
    "# loop gain, absolute threshold (Jy, empty: none; CLEAN stops at the\n"
    "# auto-threshold), auto-mask and auto-threshold (sigma of the residual),\n"
    "# weighting (natural, uniform, briggs:R), FFTW planning (measure,\n"
    "# estimate); the primary beam of the corrected image, of the mosaics and\n"
    "# of the calibrator's apparent flux (taper: the 4.65 m dish, -4 dB edge\n"
    "# taper, 0.5 m blockage; airy; gauss), and where the corrected image is\n"
    "# blank (a fraction of the beam's peak).\n"
    "IMAGE_NPIX=0\n"
    "IMAGE_CELL_ARCSEC=0\n"
    "IMAGE_NITER=100000\n"
    "IMAGE_GAIN=0.1\n"
    "IMAGE_THRESHOLD_JY=\n"
    "IMAGE_AUTOMASK=5\n"
    "IMAGE_AUTOTHRESHOLD=0.5\n"
    "IMAGE_WEIGHTING=briggs:0\n"
    "IMAGE_FFTW_PLAN=measure\n"
    "PB_MODEL=airy\n"
    "IMAGE_PB_CUT=0.2\n"
    "# Channels averaged before gridding (0: the most that keeps bandwidth\n"
    "# smearing under 1% at the primary beam's half-power radius) and the\n"
    "# imager's threads (0: the online CPUs; the image does not depend on it).\n"
    "IMAGE_CHAN_AVG=0\n"
    "IMAGE_THREADS=0\n"
    "# Cotton-Schwab major cycles and the minor cycles' gain; sub-bands CLEANed\n"
    "# together (1: one band) and their spectral terms; time slices of the\n"
    "# drift whose own primary beam predicts their visibilities (1: the mean).\n"
    "IMAGE_NMAJOR=6\n"
    "IMAGE_MGAIN=0.95\n"
    "IMAGE_CHANNELS_OUT=4\n"
    "IMAGE_SPECTRAL_TERMS=2\n"
    "IMAGE_BEAM_SLICES=4\n"
    "# Image quality gate (qa.json records pass or fail): largest rms (Jy),\n"
    "# smallest dynamic range, largest beam (arcsec, 0: any), fewest sources,\n"
    "# largest flagged fraction of the group (flag.json; 0: any).\n"
    "QA_MAX_RMS_JY=0.01\n"
    "QA_MIN_DR=10\n"
    "QA_MAX_BEAM_ARCSEC=0\n"
    "QA_MIN_SOURCES=0\n"
    "QA_MAX_FLAGGED=0.3\n"
    "# uvm-watch: seconds a file written in place must stay unchanged before it\n"
    "# counts, quiet time before a cycle, longest wait in a burst, and the\n"
    "# period of the safety rescan (0: none). Command-line flags override.\n"
    "WATCH_SETTLE=2\n"
    "WATCH_DEBOUNCE=3\n"
    "WATCH_MAX_DELAY=30\n"
    "WATCH_RESCAN=300\n"
    "# Mosaics (uvm-mosaic): one per MOSAIC_HOURS hours of UTC (a divisor of\n"
    "# 24; 0: no mosaics), planned once the data have moved past the hour or MOSAIC_DELAY\n"
    "# seconds after its end; grid pixels and cell (0: derived from the\n"
    "# inputs), and the blanking cutoff on the weight, as a fraction of its\n"
    "# maximum. The beam is PB_MODEL's (MOSAIC_BEAM and MOSAIC_DISH_M are no\n"
    "# longer read). Each mosaic gets its source catalogue (SOURCES_*, XMATCH_*).\n"
    "MOSAIC_HOURS=1\n"
    "MOSAIC_DELAY=1800\n"
    "MOSAIC_NPIX=0\n"
    "MOSAIC_CELL_ARCSEC=0\n"
    "MOSAIC_PB_CUTOFF=0.1\n"
    "# uvm-alert: rules file (empty: ops/alerts.conf of the installation),\n"
    "# hook program given each alert as JSON on stdin (empty: print it), and\n"
    "# seconds between reminders of an unacknowledged alert.\n"
    "ALERT_RULES=\n"
    "ALERT_HOOK=\n"
    "ALERT_RENOTIFY=3600\n"
    "# Backups: local directory and optional rclone remote (remote:path).\n"
    "BACKUP_DIR=backups\n"
    "BACKUP_REMOTE=\n"
    "# Audit: seconds a file may sit in INCOMING unplanned before uvm-audit\n"
    "# reports it (the planner and the watcher act well within this).\n"
    "AUDIT_GRACE=900\n";

static int valid_key(const char *k)
{
	if (!(isalpha((unsigned char)*k) || *k == '_'))
		return 0;
	for (; *k; k++)
		if (!(isalnum((unsigned char)*k) || *k == '_'))
			return 0;
	return 1;
}

static int valid_val(const char *v)
{
	for (; *v; v++)
		if (isspace((unsigned char)*v) || strchr("'\"$#\\`;&|<>(){}*?[]~", *v))
			return 0;
	return 1;
}

int cfg_set(struct cfg *c, const char *key, const char *val)
{
	for (int i = 0; i < c->n; i++)
		if (!strcmp(c->kv[i].key, key)) {
			char *v = strdup(val);
			if (!v)
				return -1;
			free(c->kv[i].val);
			c->kv[i].val = v;
			return 0;
		}
	if (c->n == c->cap) {
		int nc = c->cap ? c->cap * 2 : 64;
		struct cfg_kv *nk = realloc(c->kv, (size_t)nc * sizeof *nk);
		if (!nk)
			return -1;
		c->kv = nk;
		c->cap = nc;
	}
	c->kv[c->n].key = strdup(key);
	c->kv[c->n].val = strdup(val);
	if (!c->kv[c->n].key || !c->kv[c->n].val) {
		free(c->kv[c->n].key);
		free(c->kv[c->n].val);
		return -1;
	}
	c->n++;
	return 0;
}

/* Parse text into c; name is for messages. 0, or -1 after logging. */
static int parse(struct cfg *c, char *text, const char *name)
{
	int lineno = 0;
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *eq;
		size_t n;
		lineno++;
		while (isspace((unsigned char)*line))
			line++;
		n = strlen(line);
		while (n > 0 && isspace((unsigned char)line[n - 1]))
			line[--n] = 0;
		if (!*line || *line == '#')
			continue;
		eq = strchr(line, '=');
		if (!eq) {
			log_err("%s:%d: expected KEY=value", name, lineno);
			return -1;
		}
		*eq = 0;
		if (!valid_key(line) || !valid_val(eq + 1)) {
			log_err("%s:%d: invalid key or value for '%s'", name, lineno, line);
			return -1;
		}
		if (cfg_set(c, line, eq + 1) < 0) {
			log_err("%s: out of memory", name);
			return -1;
		}
	}
	return 0;
}

int cfg_load(struct cfg *c, const char *dir)
{
	char path[PATH_MAX + 16], *text;
	const char *home = dir && *dir ? dir : getenv("UVM_HOME");
	memset(c, 0, sizeof *c);
	if (!home || !*home)
		home = ".";
	if (!realpath(home, c->home)) {
		log_err("cannot use deployment '%s': %s", home, strerror(errno));
		return -1;
	}
	text = strdup(cfg_default_text);
	if (!text || parse(c, text, "defaults") < 0) {
		free(text);
		return -1;
	}
	free(text);
	snprintf(path, sizeof path, "%s/uvmake.conf", c->home);
	text = fsx_read_file(path, NULL);
	if (!text && errno != ENOENT) {
		log_err("cannot read '%s': %s", path, strerror(errno));
		cfg_free(c);
		return -1;
	}
	if (text && parse(c, text, path) < 0) {
		free(text);
		cfg_free(c);
		return -1;
	}
	free(text);
	/* what the stage description gives: STAGING_STAGES, SLOTS_<stage> */
	if (stages_cfg_defaults(c) < 0) {
		log_err("%s: out of memory", path);
		cfg_free(c);
		return -1;
	}
	return 0;
}

int cfg_load_deployment(struct cfg *c, const char *dir)
{
	char state[PATH_MAX];
	if (cfg_load(c, dir) < 0)
		return -1;
	if (access(cfg_path(c, "state", state), F_OK) < 0) {
		log_err("'%s' is not a deployment (run uvm-init)", c->home);
		cfg_free(c);
		return -1;
	}
	return 0;
}

void cfg_free(struct cfg *c)
{
	for (int i = 0; i < c->n; i++) {
		free(c->kv[i].key);
		free(c->kv[i].val);
	}
	free(c->kv);
	c->kv = NULL;
	c->n = c->cap = 0;
}

const char *cfg_str(const struct cfg *c, const char *key, const char *dflt)
{
	for (int i = 0; i < c->n; i++)
		if (!strcmp(c->kv[i].key, key))
			return c->kv[i].val;
	return dflt;
}

long long cfg_int(const struct cfg *c, const char *key, long long dflt)
{
	const char *v = cfg_str(c, key, NULL);
	char *end;
	long long r;
	if (!v || !*v)
		return dflt;
	errno = 0;
	r = strtoll(v, &end, 10);
	return (errno || *end) ? dflt : r;
}

double cfg_double(const struct cfg *c, const char *key, double dflt)
{
	const char *v = cfg_str(c, key, NULL);
	char *end;
	double r;
	if (!v || !*v)
		return dflt;
	r = strtod(v, &end);
	return *end ? dflt : r;
}

int cfg_resource(const struct cfg *c, const char *key, const char *dflt, char *buf)
{
	const char *v = cfg_str(c, key, dflt), *root = getenv("UVM_ROOT");
	char exe[PATH_MAX], cand[PATH_MAX + 64];
	ssize_t n;

	if (!*v)
		v = dflt;
	cfg_path(c, v, buf);
	if (v[0] == '/' || access(buf, F_OK) == 0)
		return access(buf, F_OK) == 0 ? 0 : -1;
	if (root && *root) {
		snprintf(cand, sizeof cand, "%s/%s", root, v);
		if (access(cand, F_OK) == 0 && strlen(cand) < PATH_MAX)
			return snprintf(buf, PATH_MAX, "%s", cand), 0;
	}
	n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n > 0) {
		static const char *up[] = {"..", "../share/uvmake", "../../.."};
		char *slash;
		exe[n] = 0;
		if ((slash = strrchr(exe, '/')))
			*slash = 0;
		for (int i = 0; i < 3; i++) {
			snprintf(cand, sizeof cand, "%s/%s/%s", exe, up[i], v);
			if (access(cand, F_OK) == 0 && strlen(cand) < PATH_MAX)
				return snprintf(buf, PATH_MAX, "%s", cand), 0;
		}
	}
	return -1;
}

char *cfg_path(const struct cfg *c, const char *sub, char *buf)
{
	if (sub[0] == '/')
		snprintf(buf, PATH_MAX, "%s", sub);
	else
		snprintf(buf, PATH_MAX, "%s/%s", c->home, sub);
	return buf;
}

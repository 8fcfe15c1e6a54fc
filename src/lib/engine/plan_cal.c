/*
 * plan_cal.c: the calibration facts of an active group, decided at plan
 * time so that make sees them (contract in plan_run.h).
 *
 * Does a catalogue calibrator transit in the group (it then gets the
 * stages marked `when calibrator` in rules/stages, calsolve), and which
 * table its `chosen:` input names (CAL_<G>, a prerequisite of calapply):
 * its own table (the chosen stage's product for it) if it is a calibrator
 * group whose solve was not rejected, else the registry's fallback chain
 * (cal_choose), else none (calapply asks again at run time and exits 69,
 * and the wrapper defers the group). Because the choice is in the
 * makefile, a better table appearing later re-makes the group; and
 * because a finished group is not retired while a nearer calibrator
 * transit is pending (plan_cal_better_possible), that table always gets
 * the chance: the products do not depend on how far processing lags. A
 * missing catalogue only means no calibrator groups (logged once per run).
 *
 * The transit is looked for at the declination the group's own files
 * point at, as uvm-verify found it in their headers (its report's
 * pointing), so a re-pointed telescope needs no change of config:
 * POINTING_DEC_DEG stands in only until the group's first verify report
 * exists, and a group planned on it is re-planned (make re-makes what the
 * new choice changes) once the report says otherwise. The planner reads
 * the small JSON reports, never the HDF5 files: a hostile input stays in
 * the verify job that was given a timeout for it.
 */
#include "engine/plan_run.h"

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fsx.h"
#include "core/json.h"
#include "core/log.h"
#include "sci/cal_registry.h"
#include "sci/geom.h"

/* g's pointing declination, degrees: from the first of its verify reports
 * that exists (a file whose pointing cannot be told is refused by verify
 * and has none), else POINTING_DEC_DEG. */
static double group_dec(const struct plan_ctx *r, const struct plan_group *g)
{
	int e = stages_entry(&r->st);
	char rel[PATH_MAX], *slash;
	struct stat st;
	double dec = cfg_double(r->c, "POINTING_DEC_DEG", 33.16), v;

	if (e < 0)
		return dec;
	/* the planner runs every cycle: one stat while verify has not run */
	slash = strrchr(plan_product(&r->st, e, g, 0, rel), '/');
	if (slash)
		*slash = 0;
	if (!slash || fstatat(r->homefd, rel, &st, 0) < 0)
		return dec;
	for (int sb = 0; sb < PLAN_MAXSUB; sb++) {
		char path[PATH_MAX], *js, *pt = NULL;

		if (g->file[sb] < 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", r->c->home, plan_product(&r->st, e, g, sb, rel));
		if (!(js = fsx_read_file(path, NULL)))
			continue;
		if (json_get_object(js, "pointing", &pt) == 1 && json_get_number(pt, "dec_deg", &v) == 1 &&
		    fabs(v) <= 90)
			dec = v;
		free(pt);
		free(js);
		break;
	}
	return dec;
}

void plan_cal_choose(struct plan_ctx *r, struct plan_group *g)
{
	struct plan_cal *k = &r->cal;
	double jd0 = (double)g->first / 86400.0 + 2440587.5;
	/* a file is stamped when its group opens: the data run GROUP_SECONDS on */
	double jd1 = (double)(g->first + cfg_int(r->c, "GROUP_SECONDS", 309)) / 86400.0 + 2440587.5;
	double transit;
	struct cal_entry e;
	struct cal_choice ch;

	if (!k->loaded) {
		char path[PATH_MAX], err[512];
		cfg_path(r->c, cfg_str(r->c, "CALIBRATORS", "ops/calibrators.csv"), path);
		k->loaded = cal_catalog_load(path, &k->cat, err, sizeof err) == 0 ? 1 : -1;
		if (k->loaded < 0)
			log_warn("no calibrator catalogue, no calibrator groups: %s", err);
	}
	g->dec_deg = group_dec(r, g);
	g->calibrator = k->loaded > 0 &&
	    cal_catalog_transit(&k->cat, jd0, jd1, GEOM_OVRO_LON_DEG, g->dec_deg,
	    cfg_double(r->c, "CAL_MAX_SEP_DEG", 1.6), &transit) != NULL;
	g->cal[0] = 0;
	g->cal_weak = 0;
	g->cal_transit = 0;
	g->cal_settled = 0;
	if (r->st.chosen < 0)
		return; /* no stage reads a chosen table */
	if (g->calibrator) {
		int rc = cal_group_entry(r->c->home, g->id, &e);
		g->cal_settled = rc == 0;
		if (rc != 0 || !strcmp(e.status, "good")) {
			plan_product(&r->st, r->st.chosen, g, 0, g->cal);
			return;
		}
	}
	if (cal_choose(r->c->home, (jd0 + jd1) / 2 - GEOM_MJD0, &ch) == 0 && plan_path_safe(ch.path)) {
		snprintf(g->cal, sizeof g->cal, "%s", ch.path);
		g->cal_weak = ch.level != CAL_LEVEL_OK;
		g->cal_transit = (ch.entry.transit_mjd + GEOM_MJD0 - 2440587.5) * 86400.0;
	}
}

char *plan_cal_stamp_rel(const struct plan_group *g, char *rel)
{
	snprintf(rel, PATH_MAX, "state/chosen/%s", g->id);
	return rel;
}

/*
 * The choice's stamp: state/chosen/<G> holds the path of the table chosen
 * for g and is rewritten only when the choice changes, so its time is
 * when it last changed (a first one is dated at the epoch: nothing to
 * re-make). It is a prerequisite beside the table itself because a
 * table's time alone cannot say that a product was made with another
 * one: a calibrator group's table registered during the make run that
 * also calibrated its neighbour with the table planned before is older
 * than the neighbour's product, which make would then keep; the new
 * choice's stamp is newer, and the neighbour is re-made as in a batch
 * run. Nothing to do when no stage reads a chosen table or none is
 * chosen. 0, or -1 with errno.
 */
int plan_cal_stamp(struct plan_ctx *r, const struct plan_group *g)
{
	char rel[PATH_MAX], path[PATH_MAX], line[PATH_MAX + 1];
	struct timespec t[2] = {{0, 0}, {0, 0}};
	int changed, existed;
	size_t n;

	if (r->st.chosen < 0 || !g->cal[0])
		return 0;
	cfg_path(r->c, plan_cal_stamp_rel(g, rel), path);
	existed = access(path, F_OK) == 0;
	if (!existed && fsx_mkdirs(cfg_path(r->c, "state/chosen", rel), 0755) < 0)
		return -1;
	n = (size_t)snprintf(line, sizeof line, "%s\n", g->cal);
	if (plan_write_if_changed(path, line, n, &changed) < 0)
		return -1;
	return !existed && utimensat(AT_FDCWD, path, t, 0) < 0 ? -1 : 0;
}

/* Is the table named for g, or the choice of it (plan_cal_stamp), newer
 * than a product that reads it (a better table appeared since: make
 * re-makes them, so g is not finished)? The product is looked at as a
 * name (lstat): a staged product's link dates from when it was made. */
int plan_cal_newer(const struct plan_ctx *r, const struct plan_group *g)
{
	char prod[PATH_MAX];
	struct stat t, v, c;
	if (!g->cal[0] || fstatat(r->homefd, g->cal, &t, 0) < 0)
		return 0;
	if (fstatat(r->homefd, plan_cal_stamp_rel(g, prod), &c, 0) == 0 &&
	    (c.st_mtim.tv_sec > t.st_mtim.tv_sec ||
		(c.st_mtim.tv_sec == t.st_mtim.tv_sec && c.st_mtim.tv_nsec > t.st_mtim.tv_nsec)))
		t = c;
	for (int s = 0; s < r->st.n; s++) {
		int reads = 0;
		for (int k = 0; k < r->st.v[s].nin; k++)
			reads |= r->st.v[s].in[k].chosen;
		if (!reads || !plan_stage_applies(&r->st, s, g))
			continue;
		plan_product(&r->st, s, g, 0, prod);
		if (fstatat(r->homefd, prod, &v, AT_SYMLINK_NOFOLLOW) == 0 &&
		    (t.st_mtim.tv_sec > v.st_mtim.tv_sec ||
			(t.st_mtim.tv_sec == v.st_mtim.tv_sec && t.st_mtim.tv_nsec > v.st_mtim.tv_nsec)))
			return 1;
	}
	return 0;
}

/* The newest data time seen: active files and the done index's tail
 * (sorted by first time: it holds the newest). */
static long long newest_data(const struct plan_ctx *r)
{
	long long newest = r->p.nfiles ? r->p.files[r->p.nfiles - 1].ts : 0;
	for (int i = r->done.n > 16 ? r->done.n - 16 : 0; i < r->done.n; i++)
		if (r->done.v[i].last > newest)
			newest = r->done.v[i].last;
	return newest;
}

/*
 * May the calibrator transit at Unix time t still give a table? Not once
 * the newest data lie CAL_WAIT_HOURS past it (a calibrator group stuck or
 * failed pins nothing for longer); not when its group is finished (in the
 * done index), or active and solved (registered, good or rejected), or
 * active but not a calibrator group or incomplete for good; not when no
 * group holds it and data a group later have arrived (data come in time
 * order: it never will).
 */
static int transit_pending(const struct plan_ctx *r, double t, long long newest)
{
	long long gs = cfg_int(r->c, "GROUP_SECONDS", 309);
	long long tol = cfg_int(r->c, "GROUP_TOLERANCE", 20);
	double wait = cfg_double(r->c, "CAL_WAIT_HOURS", 6) * 3600.0;

	int held = 0;

	if ((double)newest > t + wait)
		return 0;
	/* every active group whose window holds it (windows of jittered
	 * groups overlap, and a stray file moves a group's start): pending if
	 * one is an unsolved calibrator group */
	for (int i = 0; i < r->p.ngroups; i++) {
		const struct plan_group *c = &r->p.groups[i];
		if ((double)c->first <= t && t <= (double)(c->first + gs)) {
			held = 1;
			if (c->state != PS_DONE && c->state != PS_INCOMPLETE && c->calibrator &&
			    !c->cal_settled)
				return 1;
		}
	}
	if (held || plan_done_find(&r->done, (long long)t, tol))
		return 0;
	return (double)newest <= t + (double)(gs + tol);
}

/*
 * May a better table than g's still appear? A table from a calibrator
 * transit nearer g's middle than its table's, within the validity window
 * (CAL_VALIDITY_HOURS centred on the transit), would be chosen instead
 * (cal_choose), so g stays planned while one of those transits is pending
 * (transit_pending). The catalogue says which transits there are; without
 * one, data time alone says whether a covering table may still come.
 * Data time, not the clock: a replayed or delayed stream is judged the
 * same way as a live one, so products do not depend on processing lag.
 */
int plan_cal_better_possible(const struct plan_ctx *r, const struct plan_group *g)
{
	double half = cfg_double(r->c, "CAL_VALIDITY_HOURS", CAL_DEFAULT_VALIDITY_HOURS) * 1800.0;
	double mid = (double)g->first + (double)cfg_int(r->c, "GROUP_SECONDS", 309) / 2;
	double reach = half, t[64];
	long long newest = newest_data(r);
	int n;

	/* no stage reads a table; its own table; or none named (finished
	 * all the same: made before the planner saw a table, or without one):
	 * nothing to be nearer than */
	if (r->st.chosen < 0 || !g->cal[0] || !g->cal_transit)
		return 0;
	if (r->cal.loaded <= 0)
		return g->cal_weak && (double)newest <= mid + half;
	if (!g->cal_weak)
		reach = fabs(g->cal_transit - mid) - 1;
	if (reach <= 0)
		return 0;
	n = cal_catalog_transits(&r->cal.cat, (mid - reach) / 86400.0 + 2440587.5,
	    (mid + reach) / 86400.0 + 2440587.5, GEOM_OVRO_LON_DEG,
	    g->dec_deg, cfg_double(r->c, "CAL_MAX_SEP_DEG", 1.6),
	    t, (int)(sizeof t / sizeof t[0]));
	for (int i = 0; i < n; i++)
		if (transit_pending(r, (t[i] - 2440587.5) * 86400.0, newest))
			return 1;
	return 0;
}

void plan_cal_free(struct plan_cal *k)
{
	if (k->loaded > 0)
		cal_catalog_free(&k->cat);
	k->loaded = 0;
}

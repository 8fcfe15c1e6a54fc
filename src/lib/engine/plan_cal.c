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
 * makefile, a better table appearing later re-makes the group. A missing
 * catalogue only means no calibrator groups (logged once per run).
 */
#include "engine/plan_run.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/log.h"
#include "sci/cal_registry.h"
#include "sci/geom.h"

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
	g->calibrator = k->loaded > 0 &&
	    cal_catalog_transit(&k->cat, jd0, jd1, GEOM_OVRO_LON_DEG,
		cfg_double(r->c, "POINTING_DEC_DEG", 33.16),
	    cfg_double(r->c, "CAL_MAX_SEP_DEG", 1.6), &transit) != NULL;
	g->cal[0] = 0;
	g->cal_weak = 0;
	if (r->st.chosen < 0)
		return; /* no stage reads a chosen table */
	if (g->calibrator && (cal_group_entry(r->c->home, g->id, &e) != 0 || !strcmp(e.status, "good"))) {
		plan_product(&r->st, r->st.chosen, g, 0, g->cal);
		return;
	}
	if (cal_choose(r->c->home, (jd0 + jd1) / 2 - GEOM_MJD0, &ch) == 0 && plan_path_safe(ch.path)) {
		snprintf(g->cal, sizeof g->cal, "%s", ch.path);
		g->cal_weak = ch.level != CAL_LEVEL_OK;
	}
}

/* Is the table named for g newer than a product that reads it (a better
 * table appeared since: make re-makes them, so g is not finished)? The
 * product is looked at as a name (lstat): a staged product's link dates
 * from when it was made. */
int plan_cal_newer(const struct plan_ctx *r, const struct plan_group *g)
{
	char prod[PATH_MAX];
	struct stat t, v;
	if (!g->cal[0] || fstatat(r->homefd, g->cal, &t, 0) < 0)
		return 0;
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

/*
 * May a table whose validity covers g still appear? A covering table comes
 * from a calibrator transit within CAL_VALIDITY_HOURS/2 of g's middle, and
 * data arrive in time order, so once the newest data seen (active files and
 * the done index) lie beyond that, none can. Data time, not the clock: a
 * replayed or delayed stream is judged the same way as a live one.
 */
int plan_cal_cover_possible(const struct plan_ctx *r, const struct plan_group *g)
{
	long long newest = r->p.nfiles ? r->p.files[r->p.nfiles - 1].ts : 0;
	/* the index is sorted by first time: its tail holds the newest */
	for (int i = r->done.n > 16 ? r->done.n - 16 : 0; i < r->done.n; i++)
		if (r->done.v[i].last > newest)
			newest = r->done.v[i].last;
	double half = cfg_double(r->c, "CAL_VALIDITY_HOURS", CAL_DEFAULT_VALIDITY_HOURS) * 1800.0;
	double mid = (double)g->first + (double)cfg_int(r->c, "GROUP_SECONDS", 309) / 2;
	return (double)newest <= mid + half;
}

void plan_cal_free(struct plan_cal *k)
{
	if (k->loaded > 0)
		cal_catalog_free(&k->cat);
	k->loaded = 0;
}

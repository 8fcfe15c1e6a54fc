/*
 * plan_settings.c: the stages' settings as prerequisites (contract in
 * plan_run.h). The config keys that matter to a stage (the keys column of
 * rules/stages) are written to state/settings/<stage>.conf, which the
 * makefile gives its products as a prerequisite: make then re-makes a
 * stage's products, and what reads them, when one of those keys changes,
 * and nothing upstream. A finished group is kept planned until that is
 * done (plan_settings_newer), as for a newer calibration table.
 */
#include "engine/plan_run.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fsx.h"
#include "core/prov.h"

/*
 * state/settings/<stage>.conf for every stage whose settings matter
 * (prov.h), rewritten only when its text changes, so its time is when a
 * setting last changed: a prerequisite newer than the products made
 * before. A file written for the first time is dated at the epoch: there
 * is no change to re-make for, only a record from now on. 0, or -1 with
 * errno and the failing path in path.
 */
int plan_write_settings(struct plan_ctx *r, char *path)
{
	for (int s = 0; s < r->st.n; s++) {
		char rel[PATH_MAX], *text;
		size_t n;
		int changed, existed;
		if (!r->st.v[s].keys[0])
			continue;
		cfg_path(r->c, prov_settings_rel(r->st.v[s].name, rel), path);
		if (!(text = prov_settings_text(&r->st, s, r->c, &n))) {
			errno = ENOMEM;
			return -1;
		}
		existed = access(path, F_OK) == 0;
		if ((!existed && fsx_mkdirs(cfg_path(r->c, "state/settings", rel), 0755) < 0) ||
		    plan_write_if_changed(path, text, n, &changed) < 0) {
			free(text);
			return -1;
		}
		free(text);
		if (!existed && utimensat(AT_FDCWD, path, (const struct timespec[2]){{0, 0}, {0, 0}},
			0) < 0)
			return -1;
	}
	return 0;
}

/*
 * Since when stage s's settings stand, per stage, into since[] (seconds,
 * with fractions): the settings file's mtime when the config still gives
 * its text, "now" (any product is older) when the config changed it since
 * the file was written, 0 when the stage has no settings or no file yet
 * (a first file is dated at the epoch: write_settings). -1 on ENOMEM.
 */
int plan_settings_since(const struct plan_ctx *r, double *since)
{
	for (int s = 0; s < r->st.n; s++) {
		char rel[PATH_MAX], path[PATH_MAX], *text, *old;
		size_t n, olen;
		struct stat st;
		since[s] = 0;
		if (!r->st.v[s].keys[0])
			continue;
		if (!(text = prov_settings_text(&r->st, s, r->c, &n)))
			return -1;
		prov_settings_rel(r->st.v[s].name, rel);
		old = fsx_read_file(cfg_path(r->c, rel, path), &olen);
		if (old && (olen != n || memcmp(old, text, n)))
			since[s] = 1e300;
		else if (old && stat(path, &st) == 0)
			since[s] = (double)st.st_mtim.tv_sec + 1e-9 * (double)st.st_mtim.tv_nsec;
		free(old);
		free(text);
	}
	return 0;
}

/* Is a product of g older than its stage's settings (settings_since)? A
 * finished group stays planned until a changed setting has re-made it. */
int plan_settings_newer(const struct plan_ctx *r, const struct plan_group *g, const double *since)
{
	char prod[PATH_MAX];
	struct stat st;
	for (int s = 0; s < r->st.n; s++) {
		if (since[s] <= 0 || !plan_stage_applies(&r->st, s, g))
			continue;
		for (int sb = 0; sb < (plan_stage_per_sub(&r->st, s) ? r->p.par.nsub : 1); sb++)
			if ((!plan_stage_per_sub(&r->st, s) || g->file[sb] >= 0) &&
			    fstatat(r->homefd, plan_product(&r->st, s, g, sb, prod), &st, 0) == 0 &&
			    (double)st.st_mtim.tv_sec + 1e-9 * (double)st.st_mtim.tv_nsec < since[s])
				return 1;
	}
	return 0;
}

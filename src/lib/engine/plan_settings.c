/*
 * plan_settings.c: the stages' settings as prerequisites (contract in
 * plan_run.h). The config keys that matter to a stage (the keys column of
 * rules/stages) are written to state/settings/<stage>.conf, with the
 * SHA-256 of the recipes that make its products (rules/<stage>.mk and
 * rules/common.mk, which every recipe includes), and the makefile gives
 * every stage's products that file as a prerequisite: make then re-makes
 * a stage's products, and what reads them, when one of those keys or
 * recipes changes, and nothing upstream; an upgrade that changes no recipe
 * and no setting re-makes nothing. A finished group is kept planned until that is
 * done (plan_settings_newer), as for a newer calibration table.
 */
#include "engine/plan_run.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/fsx.h"
#include "core/prov.h"

/*
 * Stage s's settings file text: its settings (prov.h; KEY=value lines)
 * then "# recipe rules/<file> sha256 <hex>" for its recipe and common.mk
 * ("-" for one that cannot be read: the planner has already refused a
 * description without its recipe). malloc'd, NULL on ENOMEM.
 */
static char *file_text(const struct plan_ctx *r, int s, size_t *n)
{
	const char *files[] = {r->st.v[s].name, "common"};
	struct buf b = {0};
	char *text = prov_settings_text(&r->st, s, r->c, n);
	if (!text)
		return NULL;
	buf_add(&b, text, *n);
	free(text);
	for (int i = 0; i < 2; i++) {
		char path[PATH_MAX + NAME_MAX + 8], hex[65];
		snprintf(path, sizeof path, "%s/%s.mk", r->rules, files[i]);
		if (fsx_sha256_file(path, hex) < 0)
			snprintf(hex, sizeof hex, "-");
		buf_printf(&b, "# recipe rules/%s.mk sha256 %s\n", files[i], hex);
	}
	*n = b.n;
	return buf_take(&b);
}

/*
 * Is old (olen bytes) a file written before the recipes were in it, with
 * the settings text of new (n bytes)? Such a file is given the recipes
 * without changing its time: an upgrade to this version re-makes nothing.
 */
static int before_recipes(const char *old, size_t olen, const char *new, size_t n)
{
	const char *r = strstr(new, "# recipe ");
	size_t k = r ? (size_t)(r - new) : n;
	return old && !memmem(old, olen, "# recipe ", 9) && olen == k && !memcmp(old, new, k);
}

/*
 * state/settings/<stage>.conf for every stage (file_text), rewritten only
 * when its text changes, so its time is when a
 * setting last changed: a prerequisite newer than the products made
 * before. A file written for the first time is dated at the epoch: there
 * is no change to re-make for, only a record from now on (so is, at its
 * old time, one written before the recipes were in it). 0, or -1 with
 * errno and the failing path in path.
 */
int plan_write_settings(struct plan_ctx *r, char *path)
{
	for (int s = 0; s < r->st.n; s++) {
		char rel[PATH_MAX], *text, *old;
		size_t n, olen = 0;
		int changed, existed, keep;
		struct stat st;
		struct timespec t[2] = {{0, 0}, {0, 0}};
		cfg_path(r->c, prov_settings_rel(r->st.v[s].name, rel), path);
		if (!(text = file_text(r, s, &n))) {
			errno = ENOMEM;
			return -1;
		}
		existed = stat(path, &st) == 0;
		old = existed ? fsx_read_file(path, &olen) : NULL;
		keep = before_recipes(old, olen, text, n);
		free(old);
		if (keep)
			t[0] = t[1] = st.st_mtim;
		if ((!existed && fsx_mkdirs(cfg_path(r->c, "state/settings", rel), 0755) < 0) ||
		    plan_write_if_changed(path, text, n, &changed) < 0) {
			free(text);
			return -1;
		}
		free(text);
		if ((!existed || keep) && utimensat(AT_FDCWD, path, t, 0) < 0)
			return -1;
	}
	return 0;
}

/*
 * Since when stage s's settings stand, per stage, into since[] (seconds,
 * with fractions): the settings file's mtime when the config and recipes
 * still give its text, "now" (any product is older) when they changed it
 * since the file was written, 0 when there is no file yet
 * (a first file is dated at the epoch: write_settings). -1 on ENOMEM.
 */
int plan_settings_since(const struct plan_ctx *r, double *since)
{
	for (int s = 0; s < r->st.n; s++) {
		char rel[PATH_MAX], path[PATH_MAX], *text, *old;
		size_t n, olen;
		struct stat st;
		since[s] = 0;
		if (!(text = file_text(r, s, &n)))
			return -1;
		prov_settings_rel(r->st.v[s].name, rel);
		old = fsx_read_file(cfg_path(r->c, rel, path), &olen);
		if (old && (olen != n || memcmp(old, text, n)) && !before_recipes(old, olen, text, n))
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

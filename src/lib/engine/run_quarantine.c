/*
 * run_quarantine.c: moving a bad input out of the pipeline's way, and back
 * (contract in run.h).
 *
 * An input a job rejected with EX_DATAERR goes to quarantine/ under its own
 * name (a numeric suffix when the name is taken), next to <name>.reason
 * saying when, which target and stage, the status and the job's last error
 * line; nothing is deleted. The move itself, reason file first, is
 * core/quar.c's, shared with the planner. The checks are strict because
 * names come from makefiles and programs: only regular files (a symlink is
 * refused, never followed), and only from the deployment's incoming,
 * products and caltables directories.
 */
#include "engine/run.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/fsx.h"
#include "core/log.h"
#include "core/quar.h"

int run_rel_path(const struct cfg *c, const char *path, char *out)
{
	char dir[PATH_MAX], base[PATH_MAX], rdir[PATH_MAX];
	size_t hl = strlen(c->home);
	if (fsx_split(path, dir, base) < 0 || !realpath(dir, rdir))
		return -1;
	if (!strncmp(rdir, c->home, hl) && (rdir[hl] == '/' || rdir[hl] == 0)) {
		const char *r = rdir[hl] ? rdir + hl + 1 : "";
		if (snprintf(out, PATH_MAX, "%s%s%s", r, *r ? "/" : "", base) >= PATH_MAX)
			goto toolong;
	} else if (snprintf(out, PATH_MAX, "%s/%s", strcmp(rdir, "/") ? rdir : "", base) >=
		   PATH_MAX) {
		goto toolong;
	}
	return 0;
toolong:
	errno = ENAMETOOLONG;
	return -1;
}

/* Is the real directory rdir inside (or equal to) root? */
static int under(const char *rdir, const char *root)
{
	size_t n = strlen(root);
	return n > 1 && !strncmp(rdir, root, n) && (rdir[n] == '/' || rdir[n] == 0);
}

/* Inputs may only come from INCOMING, products/ or caltables/. */
static int allowed_dir(const struct cfg *c, const char *rdir)
{
	const char *roots[] = {cfg_str(c, "INCOMING", "incoming"), "products", "caltables"};
	for (size_t i = 0; i < sizeof roots / sizeof roots[0]; i++) {
		char p[PATH_MAX], r[PATH_MAX];
		if (!*roots[i] || !realpath(cfg_path(c, roots[i], p), r))
			continue;
		if (under(rdir, r))
			return 1;
	}
	return 0;
}

int run_quarantine_one(const struct cfg *c, const char *input, const char *reason_text,
    struct run_qrow *q)
{
	char dir[PATH_MAX], base[PATH_MAX], rdir[PATH_MAX], qdir[PATH_MAX];
	struct stat st;
	if (lstat(input, &st) < 0) {
		log_err("cannot quarantine '%s': %s", input, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		log_err("refusing to quarantine '%s': not a regular file", input);
		return -1;
	}
	if (fsx_split(input, dir, base) < 0 || !realpath(dir, rdir)) {
		log_err("cannot quarantine '%s': %s", input, strerror(errno));
		return -1;
	}
	if (!allowed_dir(c, rdir)) {
		log_err("refusing to quarantine '%s': not under the deployment's incoming,"
			" products or caltables directory", input);
		return -1;
	}
	if (run_rel_path(c, input, q->original) < 0) {
		log_err("cannot quarantine '%s': %s", input, strerror(errno));
		return -1;
	}
	cfg_path(c, "quarantine", qdir);
	if (fsx_mkdirs(qdir, 0755) < 0) {
		log_err("cannot create '%s': %s", qdir, strerror(errno));
		return -1;
	}
	{
		char *argv1[2] = {q->original, NULL}, qn[NAME_MAX + 1];
		char *shown = run_render_argv(argv1);
		int r = quar_move(input, qdir, base, reason_text, shown ? shown : "?", "quarantine", qn);
		free(shown);
		if (r < 0) {
			log_err("cannot move '%s' to '%s': %s", input, qdir, strerror(errno));
			return -1;
		}
		snprintf(q->path, sizeof q->path, "quarantine/%s", qn);
	}
	return 0;
}

/*
 * run_stage.c: staging intermediate products on a fast file system
 * (contract in run.h), typically tmpfs (STAGING_DIR=/dev/shm/uvmake).
 *
 * The stages named in STAGING_STAGES (combine and calapply: their products
 * are large and read once or twice soon after) may write their product
 * products/G/name to STAGING_DIR/G/name instead; the wrapper decides per
 * job, just before it starts, by rewriting the command's `-o target`
 * argument. The product stays a make target at its usual path: on success
 * a symlink to the staged file is installed there atomically (symlink to a
 * temporary name, rename(2), fsync of the directory). make stat()s through
 * the link, so a wiped tmpfs (a reboot) leaves a dangling link, i.e. a
 * missing target, which make re-makes when something still needs it (the
 * planner declares these products .SECONDARY, so a missing one whose
 * dependents are up to date is not re-made).
 *
 * A job is staged when the staging file system has at least twice the
 * product's estimated size free (the inputs' total: combine writes what it
 * reads, calapply rewrites one file), after subtracting what jobs being
 * staged right now have reserved, and when its use stays within
 * STAGING_MAX_PERCENT of its size and STAGING_LIMIT_MB. The check and the
 * reservation (an flock'd stg.<pid> file, run_slots.c) happen under one
 * lock, so concurrent jobs never over-commit it. A reservation counts in
 * full until the job ends although the file grows on the same file system
 * meanwhile: conservative (a job may go to disk while there would have been
 * room), never over-full. Otherwise the job writes to disk as usual,
 * after any symlink left at the target is removed (the stage programs
 * refuse to replace a symlink).
 *
 * A staged job that fails 73 or 74 (the staging file system filled
 * meanwhile, ran out of inodes, went read-only) is not the job's fault:
 * the wrapper runs it again at once on disk (run.c, class staging).
 *
 * Room is made before falling back: staged files no product link points at
 * any more (retention removed products/G/, a re-make went to disk) and the
 * staged files of finished groups (products/G/<STAGING_EVICT_AFTER> exists,
 * qa.json by default) are deleted, as are temporaries of dead jobs.
 */
#include "engine/run.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "core/fsx.h"
#include "core/log.h"

int run_stage_admit(long long size, long long freeb, long long reserved, long long est,
    double pct, long long limit)
{
	long long cap = (long long)((double)size * pct / 100);
	if (limit > 0 && limit < cap)
		cap = limit;
	if (est <= 0)
		return 0;
	return freeb - reserved >= 2 * est && size - freeb + reserved + est <= cap;
}

/* Is name one of the comma-separated words of list? */
static int in_list(const char *list, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = list; *p;) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len == n && !strncmp(p, name, n))
			return 1;
		p += len + (e != NULL);
	}
	return 0;
}

int run_stage_wanted(const struct cfg *c, const char *stage)
{
	return in_list(cfg_str(c, "STAGING_STAGES", ""), stage);
}

/* Size and free bytes of path's file system; 0 or -1. */
static int fs_room(const char *path, long long *size, long long *freeb)
{
	struct statvfs v;
	if (statvfs(path, &v) < 0)
		return -1;
	*size = (long long)v.f_blocks * (long long)v.f_frsize;
	*freeb = (long long)v.f_bavail * (long long)v.f_frsize;
	return 0;
}

long long run_stage_gc(const struct cfg *c, const char *sdir, int logfd, const char *grp)
{
	const char *after = cfg_str(c, "STAGING_EVICT_AFTER", "qa.json");
	long long freed = 0;
	struct dirent *g;
	DIR *d = opendir(sdir);
	if (!d)
		return 0;
	while ((g = readdir(d))) {
		char gdir[PATH_MAX], path[PATH_MAX], link[PATH_MAX], rel[PATH_MAX], to[PATH_MAX];
		struct dirent *e;
		DIR *gd;
		int done;
		if (!run_valid_name(g->d_name))
			continue;
		snprintf(gdir, sizeof gdir, "%s/%s", sdir, g->d_name);
		if (!(gd = opendir(gdir)))
			continue;
		snprintf(rel, sizeof rel, "products/%s/%s", g->d_name, after);
		done = after[0] && access(cfg_path(c, rel, path), F_OK) == 0;
		while ((e = readdir(gd))) {
			struct stat st;
			ssize_t n;
			long pid;
			const char *why = NULL;
			if (e->d_name[0] == '.')
				continue;
			if ((size_t)snprintf(path, sizeof path, "%s/%s", gdir, e->d_name) >= sizeof path ||
			    lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
				continue;
			if (fsx_is_temp(e->d_name, &pid)) {
				if (!run_pid_alive(pid))
					why = "temporary of a dead job";
			} else {
				snprintf(rel, sizeof rel, "products/%s/%s", g->d_name, e->d_name);
				n = readlink(cfg_path(c, rel, link), to, sizeof to - 1);
				if (n < 0 || (to[n] = 0, strcmp(to, path))) {
					int nres;
					/* a job between writing it and linking it holds a
					 * reservation naming it */
					run_res_sum(c, "stg", 0, path, &nres);
					if (!nres)
						why = "no product links to it";
				}
				else if (done)
					why = "its group is finished";
			}
			if (why && unlink(path) == 0) {
				freed += (long long)st.st_blocks * 512;
				run_log_line(logfd, grp, "staging: removed '%s': %s", path, why);
			}
		}
		closedir(gd);
		rmdir(gdir); /* fails, harmlessly, unless empty */
	}
	closedir(d);
	return freed;
}

void run_stage_init(struct run_stage *s)
{
	memset(s, 0, sizeof *s);
	s->argi = -1;
	s->res_fd = -1;
}

/* Remove a symlink at the target (and the staged file it points at, when
 * that is inside sdir) so the job can write a regular file there. */
static void drop_link(struct run_stage *s, const char *sdir, int logfd, const char *grp)
{
	char to[PATH_MAX];
	struct stat st;
	ssize_t n;
	if (lstat(s->link, &st) < 0 || !S_ISLNK(st.st_mode))
		return;
	n = readlink(s->link, to, sizeof to - 1);
	if (n > 0 && sdir && sdir[0]) {
		size_t l = strlen(sdir);
		to[n] = 0;
		if (!strncmp(to, sdir, l) && to[l] == '/' && !strstr(to + l, "/../"))
			unlink(to);
	}
	if (unlink(s->link) == 0)
		run_log_line(logfd, grp, "staging: removed the link at '%s'", s->link);
}

int run_stage_begin(struct run_stage *s, const struct cfg *c, const char *stage,
    const char *target, const char *target_arg, const char *grp, const char **inputs, int ninputs,
    char **argv, int logfd)
{
	char sdir[PATH_MAX], gdir[PATH_MAX], why[PATH_MAX + 128];
	const char *name, *sd = cfg_str(c, "STAGING_DIR", "");
	long long size = 0, freeb = 0, others;
	int lk, nothers, ok, k;
	size_t gl;

	run_stage_init(s);
	if (!run_stage_wanted(c, stage))
		return 0;
	cfg_path(c, target, s->link);
	sdir[0] = 0;
	if (sd[0])
		cfg_path(c, sd, sdir);
	why[0] = 0;
	gl = grp ? strlen(grp) : 0;
	name = target + 9 + gl + 1;
	if (!sd[0]) {
		goto disk;
	} else if (!grp || strncmp(target, "products/", 9) || strncmp(target + 9, grp, gl) ||
	    target[9 + gl] != '/' || !run_valid_name(name)) {
		snprintf(why, sizeof why, "target is not products/<group>/<name>");
		goto disk;
	}
	for (k = 1; argv[k]; k++)
		if (!strcmp(argv[k - 1], "-o") && !strcmp(argv[k], target_arg))
			break;
	if (!argv[k]) {
		snprintf(why, sizeof why, "the command has no '-o %s'", target_arg);
		goto disk;
	}
	for (int i = 0; i < ninputs; i++) {
		struct stat st;
		if (stat(inputs[i], &st) == 0)
			s->est += (long long)st.st_size;
	}
	if (s->est <= 0) {
		snprintf(why, sizeof why, "no input to estimate its size from");
		goto disk;
	}
	snprintf(gdir, sizeof gdir, "%s/%s", sdir, grp);
	if (fsx_mkdirs(gdir, 0755) < 0) {
		snprintf(why, sizeof why, "cannot create '%s': %s", gdir, strerror(errno));
		goto disk;
	}
	if ((lk = run_res_lock(c)) < 0)
		goto disk;
	others = run_res_sum(c, "stg", 0, NULL, &nothers);
	ok = fs_room(sdir, &size, &freeb) == 0 &&
	    run_stage_admit(size, freeb, others, s->est, cfg_double(c, "STAGING_MAX_PERCENT", 50),
		cfg_int(c, "STAGING_LIMIT_MB", 0) * 1024 * 1024);
	if (!ok && run_stage_gc(c, sdir, logfd, grp) > 0)
		ok = fs_room(sdir, &size, &freeb) == 0 &&
		    run_stage_admit(size, freeb, others, s->est,
			cfg_double(c, "STAGING_MAX_PERCENT", 50),
			cfg_int(c, "STAGING_LIMIT_MB", 0) * 1024 * 1024);
	snprintf(s->path, sizeof s->path, "%s/%s", gdir, name);
	if (ok && (s->res_fd = run_res_take(c, "stg", s->est, s->path, s->res_path)) < 0)
		ok = 0;
	close(lk);
	if (!ok) {
		snprintf(why, sizeof why, "%lld MB free of %lld MB on '%s', %lld MB reserved by %d"
		    " job%s, product about %lld MB", freeb >> 20, size >> 20, sdir, others >> 20,
		    nothers, nothers == 1 ? "" : "s", s->est >> 20);
		goto disk;
	}
	fsx_sweep_stale(gdir);
	s->argi = k;
	s->orig = argv[k];
	argv[k] = s->path;
	s->staged = 1;
	run_log_line(logfd, grp, "staging: '%s' written to '%s' (about %lld MB, %lld MB free)",
	    target, s->path, s->est >> 20, freeb >> 20);
	return 1;
disk:
	if (why[0])
		run_log_line(logfd, grp, "staging: '%s' written to disk: %s", target, why);
	drop_link(s, sdir, logfd, grp);
	return 0;
}

void run_stage_disk(struct run_stage *s, const struct cfg *c, const char *target,
    const char *grp, const char *why, int logfd)
{
	char sdir[PATH_MAX];
	const char *sd = cfg_str(c, "STAGING_DIR", "");
	run_stage_init(s);
	cfg_path(c, target, s->link);
	sdir[0] = 0;
	if (sd[0])
		cfg_path(c, sd, sdir);
	run_log_line(logfd, grp, "staging: '%s' written to disk: %s", target, why);
	drop_link(s, sdir, logfd, grp);
}

int run_stage_finish(struct run_stage *s, char **argv, int ok)
{
	char tmp[PATH_MAX + 32], dir[PATH_MAX], *slash;
	int rc = 0;
	if (s->argi >= 0) {
		argv[s->argi] = s->orig;
		s->argi = -1;
	}
	if (!s->staged || !ok) {
		run_res_drop(&s->res_fd, s->res_path);
		s->staged = 0;
		return 0;
	}
	s->staged = 0;
	snprintf(tmp, sizeof tmp, "%s.tmp.%ld", s->link, (long)getpid());
	snprintf(dir, sizeof dir, "%s", s->link);
	if ((slash = strrchr(dir, '/')))
		*slash = 0;
	unlink(tmp);
	if (symlink(s->path, tmp) < 0 || rename(tmp, s->link) < 0) {
		int e = errno;
		unlink(tmp);
		run_res_drop(&s->res_fd, s->res_path);
		errno = e;
		return -1;
	}
	if (fsx_sync_dir(dir) < 0)
		rc = -1;
	/* dropped only now: until the link exists the reservation keeps the
	 * staged file from being taken for an orphan */
	run_res_drop(&s->res_fd, s->res_path);
	return rc;
}

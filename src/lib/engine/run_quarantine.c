/*
 * run_quarantine.c: moving a bad input out of the pipeline's way, and back
 * (contract in run.h).
 *
 * An input a job rejected with EX_DATAERR goes to quarantine/ under its own
 * name (a numeric suffix when the name is taken), next to <name>.reason
 * saying when, which target and stage, the status and the job's last error
 * line; nothing is deleted. Moves never replace an existing file
 * (renameat2 RENAME_NOREPLACE; across file systems a copy with fsync, a
 * link(2) of the copy into place, then the unlink of the source). The
 * checks are strict because names come from makefiles and programs: only
 * regular files (a symlink is refused, never followed), and only from the
 * deployment's incoming, products and caltables directories.
 */
#include "engine/run.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fsx.h"
#include "core/log.h"

/* dirname/basename of path into dir and base (PATH_MAX each). */
static int split(const char *path, char *dir, char *base)
{
	char a[PATH_MAX], b[PATH_MAX];
	if (strlen(path) >= PATH_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(a, path);
	strcpy(b, path);
	strcpy(dir, dirname(a));
	strcpy(base, basename(b));
	if (!*base || !strcmp(base, ".") || !strcmp(base, "..") || !strcmp(base, "/")) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

static void sync_parent(const char *path)
{
	char dir[PATH_MAX], base[PATH_MAX];
	if (split(path, dir, base) == 0)
		fsx_sync_dir(dir);
}

/* Copy src to a temporary beside dst, fsync, link it to dst (never
 * replacing), keep the mode and times; then unlink src. */
static int copy_move(const char *src, const char *dst)
{
	char tmp[PATH_MAX];
	static char buf[1 << 20];
	struct stat st;
	int in, out = -1, e;
	in = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (in < 0)
		return -1;
	if (fstat(in, &st) < 0)
		goto fail;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		goto fail;
	}
	if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", dst, (long)getpid()) >= (int)sizeof tmp) {
		errno = ENAMETOOLONG;
		goto fail;
	}
	unlink(tmp); /* ours by name: a leftover of a dead process with our pid */
	out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, st.st_mode & 07777);
	if (out < 0)
		goto fail;
	for (;;) {
		ssize_t r = read(in, buf, sizeof buf);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto fail_tmp;
		if (r == 0)
			break;
		if (fsx_write_all(out, buf, (size_t)r) < 0)
			goto fail_tmp;
	}
	{
		struct timespec ts[2] = {st.st_atim, st.st_mtim};
		futimens(out, ts);
	}
	if (fsync(out) < 0 || close(out) < 0) {
		out = -1;
		goto fail_tmp;
	}
	out = -1;
	if (link(tmp, dst) < 0)
		goto fail_tmp;
	unlink(tmp);
	sync_parent(dst);
	close(in);
	if (unlink(src) < 0) {
		e = errno;
		unlink(dst); /* keep exactly one copy */
		errno = e;
		return -1;
	}
	sync_parent(src);
	return 0;
fail_tmp:
	e = errno;
	if (out >= 0)
		close(out);
	unlink(tmp);
	errno = e;
fail:
	e = errno;
	close(in);
	errno = e;
	return -1;
}

int run_move_noreplace(const char *src, const char *dst)
{
	if (renameat2(AT_FDCWD, src, AT_FDCWD, dst, RENAME_NOREPLACE) == 0) {
		sync_parent(dst);
		sync_parent(src);
		return 0;
	}
	if (errno == EINVAL || errno == ENOSYS) {
		/* no RENAME_NOREPLACE here: link() refuses to replace too */
		if (link(src, dst) == 0) {
			unlink(src);
			sync_parent(dst);
			sync_parent(src);
			return 0;
		}
		if (errno != EXDEV && errno != EPERM)
			return -1;
	}
	if (errno != EXDEV && errno != EPERM)
		return -1;
	return copy_move(src, dst);
}

int run_rel_path(const struct cfg *c, const char *path, char *out)
{
	char dir[PATH_MAX], base[PATH_MAX], rdir[PATH_MAX];
	size_t hl = strlen(c->home);
	if (split(path, dir, base) < 0 || !realpath(dir, rdir))
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
	char dst[PATH_MAX + 16], rpath[PATH_MAX + 32], *shown;
	struct stat st;
	size_t bl;
	int k, moved = 0;
	if (lstat(input, &st) < 0) {
		log_err("cannot quarantine '%s': %s", input, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		log_err("refusing to quarantine '%s': not a regular file", input);
		return -1;
	}
	if (split(input, dir, base) < 0 || !realpath(dir, rdir)) {
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
	bl = strlen(base);
	errno = EEXIST;
	for (k = 0; k < 1000 && !moved; k++) {
		int n = k ? snprintf(dst, sizeof dst, "%s/%s.%d", qdir, base, k)
			  : snprintf(dst, sizeof dst, "%s/%s", qdir, base);
		if (n >= (int)sizeof dst - 8) {
			errno = ENAMETOOLONG;
			break;
		}
		if (k == 0 && bl > 7 && !strcmp(base + bl - 7, ".reason"))
			continue; /* would pass for another file's reason */
		snprintf(rpath, sizeof rpath, "%s.reason", dst);
		if (lstat(rpath, &st) == 0 || errno != ENOENT)
			continue;
		if (run_move_noreplace(input, dst) == 0)
			moved = 1;
		else if (errno != EEXIST)
			break;
	}
	if (!moved) {
		log_err("cannot move '%s' to '%s': %s", input, qdir, strerror(errno));
		return -1;
	}
	snprintf(q->path, sizeof q->path, "quarantine/%s", dst + strlen(qdir) + 1);
	{
		char *argv1[2] = {q->original, NULL};
		char *text;
		size_t tl;
		shown = run_render_argv(argv1);
		tl = strlen(reason_text) + (shown ? strlen(shown) : 0) + strlen(q->path) + 64;
		text = malloc(tl);
		if (text) {
			snprintf(text, tl, "%sinput: %s\nquarantined-as: %s\n", reason_text,
			    shown ? shown : "?", q->path);
			snprintf(rpath, sizeof rpath, "%s.reason", dst);
			if (fsx_write_file(rpath, text, strlen(text), 0644) < 0)
				log_err("cannot write '%s': %s", rpath, strerror(errno));
		}
		free(text);
		free(shown);
	}
	return 0;
}

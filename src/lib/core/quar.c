/*
 * quar.c: moving a bad input to quarantine/ with its reason (contract and
 * the reason-first order in quar.h). Moves never replace: renameat2 with
 * RENAME_NOREPLACE; across file systems a copy with fsync, link(2) of the
 * copy into place, then the unlink of the source, so at every instant at
 * least one complete copy exists.
 */
#include "core/quar.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fsx.h"
#include "core/log.h"

static void sync_parent(const char *path)
{
	char dir[PATH_MAX], base[PATH_MAX];
	if (fsx_split(path, dir, base) == 0)
		fsx_sync_dir(dir);
}

/* Copy src to a temporary beside dst, fsync, link it to dst (never
 * replacing), keep the mode and times; then unlink src. Only a regular
 * file is copied: anything else (a symlink included) fails with EXDEV,
 * the reason it could not simply be renamed. */
static int copy_move(const char *src, const char *dst)
{
	char tmp[PATH_MAX];
	static char buf[1 << 20];
	struct stat st;
	int in, out = -1, e;
	in = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (in < 0) {
		if (errno == ELOOP)
			errno = EXDEV; /* a symlink is never copied: the move is refused */
		return -1;
	}
	if (fstat(in, &st) < 0)
		goto fail;
	if (!S_ISREG(st.st_mode)) {
		errno = EXDEV;
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

int quar_move_noreplace(const char *src, const char *dst)
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

/* Write text to a temporary, fsync it and link it to path, which must not
 * exist: 0, -1 with errno (EEXIST when path appeared meanwhile). */
static int write_new(const char *path, const char *text)
{
	struct fsx_out o;
	int e;
	if (fsx_reserve(&o, path, 0644) < 0)
		return -1;
	if (fsx_write_all(o.fd, text, strlen(text)) < 0 || fsync(o.fd) < 0)
		goto fail;
	e = close(o.fd);
	o.fd = -1;
	if (e < 0 || link(o.tmp, path) < 0)
		goto fail;
	unlink(o.tmp);
	return 0;
fail:
	fsx_abort(&o);
	return -1;
}

int quar_move(const char *src, const char *qdir, const char *base, const char *head,
    const char *shown, const char *qrel, char qname[NAME_MAX + 1])
{
	char dst[PATH_MAX], rpath[PATH_MAX + 8], *text = NULL;
	size_t bl = strlen(base);
	struct stat st;
	int err = EEXIST; /* until a free name is found */
	if (fsx_mkdirs(qdir, 0755) < 0)
		return -1;
	for (int k = 0; k < 1000; k++) {
		char qn[NAME_MAX + 16];
		if (k)
			snprintf(qn, sizeof qn, "%s.%d", base, k);
		else if (bl > 7 && !strcmp(base + bl - 7, ".reason"))
			continue; /* would pass for another file's reason */
		else
			snprintf(qn, sizeof qn, "%s", base);
		if (strlen(qn) > NAME_MAX - 7 ||
		    snprintf(dst, sizeof dst, "%s/%s", qdir, qn) >= (int)sizeof dst - 8) {
			err = ENAMETOOLONG;
			break;
		}
		snprintf(rpath, sizeof rpath, "%s.reason", dst);
		if (lstat(dst, &st) == 0 || lstat(rpath, &st) == 0)
			continue;
		free(text);
		if (asprintf(&text, "%sinput: %s\nquarantined-as: %s/%s\n", head, shown, qrel, qn) < 0) {
			text = NULL;
			err = ENOMEM;
			break;
		}
		if (write_new(rpath, text) < 0) {
			err = errno;
			if (err == EEXIST)
				continue; /* claimed by another process meanwhile */
			log_err("cannot write '%s': %s", rpath, strerror(err));
			break;
		}
		if (quar_move_noreplace(src, dst) == 0) {
			snprintf(qname, NAME_MAX + 1, "%s", qn);
			fsx_sync_dir(qdir);
			free(text);
			return 0;
		}
		err = errno;
		unlink(rpath);
		if (err != EEXIST)
			break;
	}
	free(text);
	errno = err;
	return -1;
}

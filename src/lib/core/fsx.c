/*
 * fsx.c: atomic outputs and careful file access (contract in fsx.h).
 *
 * The pattern follows redis rdb.c / skalibs openwritenclose: temporary in
 * the same directory (so rename is atomic), O_EXCL so two writers never
 * share a temporary, fsync of the data before the rename and of the
 * directory after it, so a crash leaves the old or the new file, whole.
 */
#include "core/fsx.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/uvm.h"

static int dir_of(const char *path, char *dir)
{
	char tmp[PATH_MAX];
	if (strlen(path) >= sizeof tmp) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(tmp, path);
	strcpy(dir, dirname(tmp));
	return 0;
}

int fsx_sync_dir(const char *dirpath)
{
	int fd = open(dirpath, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fsync(fd) < 0 && errno != EINVAL) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return close(fd);
}

int fsx_reserve(struct fsx_out *o, const char *path, mode_t mode)
{
	struct stat st;
	o->fd = -1;
	o->tmp[0] = 0;
	/* never rename over a device, directory, FIFO or link (as root a
	 * product named /dev/null would replace the device) */
	if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		errno = S_ISDIR(st.st_mode) ? EISDIR : EEXIST;
		return -1;
	}
	if (snprintf(o->path, sizeof o->path, "%s", path) >= (int)sizeof o->path ||
	    snprintf(o->tmp, sizeof o->tmp, "%s.tmp.%ld", path, (long)getpid()) >=
		(int)sizeof o->tmp) {
		o->tmp[0] = 0;
		errno = ENAMETOOLONG;
		return -1;
	}
	o->fd = open(o->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (o->fd < 0 && errno == EEXIST) {
		/* a temporary of a dead process with our pid: ours to replace */
		unlink(o->tmp);
		o->fd = open(o->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	}
	if (o->fd < 0) {
		o->tmp[0] = 0;
		return -1;
	}
	return 0;
}

void fsx_abort(struct fsx_out *o)
{
	int e = errno;
	if (o->fd >= 0)
		close(o->fd);
	o->fd = -1;
	if (o->tmp[0])
		unlink(o->tmp);
	o->tmp[0] = 0;
	errno = e;
}

int fsx_commit(struct fsx_out *o)
{
	char dir[PATH_MAX];
	if (!o->tmp[0]) {
		errno = EINVAL;
		return -1;
	}
	if (o->fd < 0) {
		o->fd = open(o->tmp, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
		if (o->fd < 0)
			goto fail;
	}
	if (fsync(o->fd) < 0)
		goto fail;
	if (close(o->fd) < 0) {
		o->fd = -1;
		goto fail;
	}
	o->fd = -1;
	if (rename(o->tmp, o->path) < 0)
		goto fail;
	o->tmp[0] = 0;
	if (dir_of(o->path, dir) < 0 || fsx_sync_dir(dir) < 0)
		return -1; /* renamed already: the product is complete */
	return 0;
fail:
	fsx_abort(o);
	return -1;
}

int fsx_write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int fsx_write_file(const char *path, const void *buf, size_t n, mode_t mode)
{
	struct fsx_out o;
	if (fsx_reserve(&o, path, mode) < 0)
		return -1;
	if (fsx_write_all(o.fd, buf, n) < 0) {
		fsx_abort(&o);
		return -1;
	}
	return fsx_commit(&o);
}

char *fsx_read_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	char *buf = NULL;
	size_t cap = 0, n = 0;
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0)
		goto fail;
	if (!S_ISREG(st.st_mode)) {
		errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		goto fail;
	}
	cap = (size_t)st.st_size + 1;
	buf = malloc(cap);
	if (!buf)
		goto fail;
	for (;;) {
		ssize_t r;
		if (n + 1 >= cap) {
			char *nb = realloc(buf, cap * 2);
			if (!nb)
				goto fail;
			buf = nb;
			cap *= 2;
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	buf[n] = 0;
	close(fd);
	if (len)
		*len = n;
	return buf;
fail:
	{
		int e = errno;
		free(buf);
		close(fd);
		errno = e;
	}
	return NULL;
}

int fsx_mkdirs(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof buf) {
		errno = n ? ENAMETOOLONG : ENOENT;
		return -1;
	}
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

int fsx_is_temp(const char *name, long *pid)
{
	const char *t = strstr(name, ".tmp.");
	const char *last = NULL;
	while (t) {
		last = t;
		t = strstr(t + 1, ".tmp.");
	}
	if (!last || last == name)
		return 0;
	const char *d = last + 5;
	if (!*d)
		return 0;
	for (const char *q = d; *q; q++)
		if (*q < '0' || *q > '9')
			return 0;
	if (pid)
		*pid = strtol(d, NULL, 10);
	return 1;
}

static int sweep(const char *dir, int depth)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int removed = 0;
	if (!d)
		return errno == ENOENT ? 0 : -1;
	while ((e = readdir(d))) {
		char p[PATH_MAX];
		long pid;
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (snprintf(p, sizeof p, "%s/%s", dir, e->d_name) >= (int)sizeof p)
			continue;
		if (e->d_type == DT_DIR && depth < 8) {
			int r = sweep(p, depth + 1);
			if (r > 0)
				removed += r;
			continue;
		}
		if (fsx_is_temp(e->d_name, &pid) && pid > 0 &&
		    (kill((pid_t)pid, 0) < 0 && errno == ESRCH)) {
			if (unlink(p) == 0)
				removed++;
		}
	}
	closedir(d);
	return removed;
}

int fsx_sweep_stale(const char *dir)
{
	return sweep(dir, 0);
}

long long fsx_free_bytes(const char *path)
{
	struct statvfs s;
	if (statvfs(path, &s) < 0)
		return -1;
	return (long long)s.f_bavail * (long long)s.f_frsize;
}

int fsx_exit_for_errno(int err)
{
	switch (err) {
	case ENOSPC:
	case EIO:
	case EDQUOT:
	case EFBIG:
		return EX_IOERR;
	default:
		return EX_CANTCREAT;
	}
}

int fsx_close_stdout(void)
{
	if (fflush(stdout) != 0 || ferror(stdout) || fclose(stdout) != 0) {
		log_err("write error: %s", strerror(errno ? errno : EIO));
		return EX_IOERR;
	}
	return 0;
}

#include <sys/file.h>
#include <sys/wait.h>

int fsx_lock(const char *path, int nonblock)
{
	int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	while (flock(fd, LOCK_EX | (nonblock ? LOCK_NB : 0)) < 0) {
		if (errno == EINTR)
			continue;
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int fsx_run(char *const argv[], char **out)
{
	return fsx_run_timeout(argv, out, 0);
}

/* Milliseconds from now to the monotonic deadline (-1: none). */
static int ms_left(const struct timespec *end)
{
	struct timespec now;
	if (end->tv_sec == 0 && end->tv_nsec == 0)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &now);
	double ms = (double)(end->tv_sec - now.tv_sec) * 1e3 + (double)(end->tv_nsec - now.tv_nsec) / 1e6;
	return ms <= 0 ? 0 : ms > 1e9 ? 1000000000 : (int)ms + 1;
}

/* Append r bytes to the growing buffer (*buf, *n of *cap); a failed
 * allocation drops them. */
static void out_append(char **buf, size_t *n, size_t *cap, const char *tmp, size_t r)
{
	if (*n + r + 1 > *cap) {
		size_t nc = (*cap + r + 1) * 2;
		char *nb = realloc(*buf, nc);
		if (!nb)
			return;
		*buf = nb;
		*cap = nc;
	}
	memcpy(*buf + *n, tmp, r);
	*n += r;
	(*buf)[*n] = 0;
}

int fsx_run_timeout(char *const argv[], char **out, double timeout)
{
	struct timespec end = {0, 0};
	int p[2], st, timed_out = 0;
	pid_t pid;
	size_t n = 0, cap = 0;
	char *buf = NULL;
	if (out)
		*out = NULL;
	if (timeout > 0) {
		clock_gettime(CLOCK_MONOTONIC, &end);
		end.tv_sec += (time_t)timeout;
		end.tv_nsec += (long)((timeout - (double)(time_t)timeout) * 1e9);
		if (end.tv_nsec >= 1000000000L) {
			end.tv_sec++;
			end.tv_nsec -= 1000000000L;
		}
	}
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		dup2(p[1], 1);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	for (;;) {
		char tmp[4096];
		struct pollfd pf = {.fd = p[0], .events = POLLIN};
		int pr = poll(&pf, 1, ms_left(&end));
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr == 0) {
			timed_out = 1;
			kill(pid, SIGKILL);
			break;
		}
		ssize_t r = read(p[0], tmp, sizeof tmp);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (out)
			out_append(&buf, &n, &cap, tmp, (size_t)r);
	}
	close(p[0]);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR) {
			free(buf);
			return -1;
		}
	if (timed_out) {
		free(buf);
		errno = ETIMEDOUT;
		return -1;
	}
	if (out)
		*out = buf ? buf : strdup("");
	else
		free(buf);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int fsx_split(const char *path, char *dir, char *base)
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

void fsx_sha256_hex(const unsigned char *md, char hex[65])
{
	for (int i = 0; i < 32; i++)
		sprintf(hex + 2 * i, "%02x", md[i]);
	hex[64] = 0;
}

int fsx_sha256_file(const char *path, char hex[65])
{
	unsigned char buf[1 << 16], md[32];
	unsigned int mdlen = 0;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	EVP_MD_CTX *ctx;
	ssize_t r;
	if (fd < 0)
		return -1;
	ctx = EVP_MD_CTX_new();
	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		EVP_MD_CTX_free(ctx);
		close(fd);
		errno = ENOMEM;
		return -1;
	}
	while ((r = read(fd, buf, sizeof buf)) > 0)
		EVP_DigestUpdate(ctx, buf, (size_t)r);
	if (r < 0) {
		int e = errno;
		EVP_MD_CTX_free(ctx);
		close(fd);
		errno = e;
		return -1;
	}
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	close(fd);
	fsx_sha256_hex(md, hex);
	return 0;
}

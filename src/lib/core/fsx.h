/*
 * fsx.h: atomic file output and careful file access.
 *
 * Every file any uvmake program writes goes through fsx_reserve/fsx_commit:
 * a temporary "<path>.tmp.<pid>" is created with O_EXCL|O_NOFOLLOW in the
 * same directory, written fully (by us, or by libhdf5/cfitsio/libarchive/
 * sqlite at o->tmp), fsync'ed, closed, renamed over <path>, and the directory
 * is fsync'ed. Any failure unlinks the temporary, so a reader (and make) sees
 * either the old product or the complete new one, never a partial one.
 * A temporary left by a SIGKILL is recognised by its name (fsx_is_temp) and
 * removed by the planner/audit once its pid is gone (fsx_sweep_stale).
 */
#ifndef UVM_FSX_H
#define UVM_FSX_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

struct fsx_out {
	char path[PATH_MAX]; /* final name */
	char tmp[PATH_MAX];  /* temporary name, same directory */
	int fd;              /* open on tmp, or -1 once closed */
};

/*
 * Create the temporary for `path` (mode, O_EXCL, O_NOFOLLOW) and keep it open
 * in o->fd. A `path` that exists and is not a regular file (a device, a
 * directory, a FIFO, a symlink) is refused with EEXIST/EISDIR. Returns 0, or
 * -1 with errno set (nothing left behind).
 */
int fsx_reserve(struct fsx_out *o, const char *path, mode_t mode);
/*
 * Close o->fd if still open (a library may have written o->tmp by name),
 * reopen if needed, fsync, rename to o->path, fsync the directory.
 * Returns 0, or -1 with errno set and the temporary unlinked.
 */
int fsx_commit(struct fsx_out *o);
/* Close and unlink the temporary; errno preserved. Safe to call twice. */
void fsx_abort(struct fsx_out *o);

/* write(2) until done; -1 with errno on failure (EINTR retried). */
int fsx_write_all(int fd, const void *buf, size_t n);
/* Whole-file atomic write of buf[0..n). 0 or -1 with errno. */
int fsx_write_file(const char *path, const void *buf, size_t n, mode_t mode);
/* Read a whole regular file (O_NOFOLLOW) into a NUL-terminated malloc'd
 * buffer; *len gets its length. NULL with errno on failure. */
char *fsx_read_file(const char *path, size_t *len);

/* dirname and basename of path into dir and base (PATH_MAX each); -1
 * with errno ENAMETOOLONG, or EINVAL when there is no file name ("", ".",
 * "..", "/"). */
int fsx_split(const char *path, char *dir, char *base);
/* mkdir -p with mode; 0 or -1 with errno. */
int fsx_mkdirs(const char *path, mode_t mode);
/* fsync the directory containing path (or path itself if a directory). */
int fsx_sync_dir(const char *dirpath);
/* Does this name look like one of our temporaries ("x.tmp.<digits>")?
 * If so and pid != NULL, *pid gets the digits. */
int fsx_is_temp(const char *name, long *pid);
/* Remove temporaries under dir (recursively) whose pid is not alive.
 * Returns how many were removed, or -1 with errno. */
int fsx_sweep_stale(const char *dir);
/* Free bytes available to an unprivileged writer on path's file system,
 * or -1 with errno. */
long long fsx_free_bytes(const char *path);
/* Map an errno from an output failure to an exit status
 * (ENOSPC/EIO/EDQUOT -> EX_IOERR, EACCES/EROFS/EEXIST... -> EX_CANTCREAT). */
int fsx_exit_for_errno(int err);
/* Flush and check stdout: returns 0, or EX_IOERR after logging
 * "write error: reason" (uvm-x >/dev/full must fail). */
int fsx_close_stdout(void);


/*
 * Take an flock on path (created if needed). nonblock: fail at once with
 * errno EWOULDBLOCK when held (callers exit UVM_EX_BUSY, cron-safe).
 * Returns the lock fd (keep it open to hold the lock) or -1 with errno.
 */
int fsx_lock(const char *path, int nonblock);
/*
 * Run argv (no shell) and wait; stdout captured into *out (malloc'd, may be
 * NULL to discard). Returns the exit status, 128+signal, or -1 if it could
 * not start (errno set).
 */
int fsx_run(char *const argv[], char **out);
/*
 * fsx_run with a limit: a child still running after timeout seconds (> 0;
 * 0 is no limit) is killed (SIGKILL), reaped, and the call returns -1
 * with errno ETIMEDOUT, *out NULL.
 */
int fsx_run_timeout(char *const argv[], char **out, double timeout);
/* Hex SHA-256 of a file into hex[65] (the backup manifest, the recipes'
 * identity in the settings files). 0 or -1 with errno. */
int fsx_sha256_file(const char *path, char hex[65]);
/* The 32-byte digest md as 64 lowercase hex digits and a NUL in hex. */
void fsx_sha256_hex(const unsigned char *md, char hex[65]);
#endif

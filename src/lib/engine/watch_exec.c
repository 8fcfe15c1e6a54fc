/*
 * watch_exec.c: uvm-watch replaces its own image between cycles (an
 * upgrade without downtime). On SIGHUP, or when the file at the path the
 * daemon was started from is no longer the image it runs (another inode or
 * mtime: `make install` switched the link it goes through), the loop lets
 * the running cycle finish and then execve()s that path with the original
 * arguments and environment: same pid (systemd's MainPID, a supervisor's
 * child), nothing to restart. Every descriptor is O_CLOEXEC; the service
 * manager's variables, which the daemon hides from its cycles, are put back
 * first; the signals it handles are blocked from before the new file is
 * tried until the new image's handlers are in place, so one that arrives in
 * between is delivered then, neither lost with the old image's self-pipe
 * nor taken by a default action. The new image
 * starts as any start does: watches armed, then a catch-up cycle, so
 * nothing that landed meanwhile is missed.
 *
 * A new binary that cannot run must not take the daemon down: the path is
 * first run with --version (which also names the version for the log), and
 * a failure of that or of execve itself is logged once and the old image
 * carries on; that file is not tried again until it changes again.
 */
#include "engine/watch_priv.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fsx.h"
#include "core/log.h"
#include "core/prog.h"

#define SELF_CHECK 2.0 /* s between stats of the daemon's own path */
#define PROBE_TIMEOUT 10 /* s a new binary has to answer --version */

extern char **environ;

/* name looked up in PATH as execvp would, into buf (PATH_MAX); 0 or -1. */
static int in_path(const char *name, char *buf)
{
	const char *path = getenv("PATH");
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (const char *p = path; *p;) {
		size_t n = strcspn(p, ":");
		if (snprintf(buf, PATH_MAX, "%.*s/%s", (int)(n ? n : 1), n ? p : ".", name) < PATH_MAX &&
		    access(buf, X_OK) == 0)
			return 0;
		p += n + (p[n] == ':');
	}
	return -1;
}

static int same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	    a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

void watch_self_init(struct watch *w)
{
	const char *a0 = w->opt.argv ? w->opt.argv[0] : NULL;
	char cwd[PATH_MAX];
	w->self[0] = 0;
	w->self_check_at = NEVER;
	if (!a0 || w->opt.once)
		return;
	if (!strchr(a0, '/')) {
		if (in_path(a0, w->self) < 0)
			w->self[0] = 0;
	} else if (a0[0] != '/' && getcwd(cwd, sizeof cwd)) {
		snprintf(w->self, sizeof w->self, "%s/%s", cwd, a0);
	} else {
		snprintf(w->self, sizeof w->self, "%s", a0);
	}
	if (!w->self[0] || stat("/proc/self/exe", &w->image) < 0) {
		log_warn("cannot tell where this program was started from: no re-execution when it changes");
		w->self[0] = 0;
		return;
	}
	w->self_check_at = 0;
}

void watch_self_check(struct watch *w, double now)
{
	struct stat sb;
	if (now < w->self_check_at)
		return;
	w->self_check_at = now + SELF_CHECK;
	if (w->reexec_why || stat(w->self, &sb) < 0 || same_file(&sb, &w->image) ||
	    (w->bad_known && same_file(&sb, &w->bad)))
		return;
	w->reexec_why = "its executable changed";
	log_info("'%s' changed: re-executing once the running cycle is done", w->self);
}

/* The version `path --version` prints into v (n bytes): 0, or -1 with the
 * reason in v. The probe runs with the signals blocked and the cycle
 * stopped: a new binary that hangs is killed after PROBE_TIMEOUT seconds
 * and refused like one that fails. */
static int probe(const char *path, char *v, size_t n)
{
	char *argv[] = {(char *)path, "--version", NULL}, *out = NULL, *sp;
	int rc = fsx_run_timeout(argv, &out, PROBE_TIMEOUT);
	if (rc != 0 || !out || !(sp = strchr(out, ' ')) || sp[1] == '\n' || !sp[1]) {
		if (rc < 0 && errno == ETIMEDOUT)
			snprintf(v, n, "'%s --version' did not answer within %d s", path, PROBE_TIMEOUT);
		else if (rc < 0)
			snprintf(v, n, "%s", strerror(errno));
		else
			snprintf(v, n, "'%s --version' exited with status %d", path, rc);
		free(out);
		return -1;
	}
	snprintf(v, n, "%.*s", (int)strcspn(sp + 1, "\n"), sp + 1);
	free(out);
	return 0;
}

static void refuse(struct watch *w, const char *why)
{
	struct stat sb;
	log_err("cannot re-execute '%s': %s; carrying on as version %s", w->self, why, prog_version());
	w->bad_known = stat(w->self, &sb) == 0;
	if (w->bad_known)
		w->bad = sb;
	w->reexec_why = NULL;
}

void watch_reexec(struct watch *w, int sigfd)
{
	char ver[PATH_MAX + 64];
	sigset_t handled, old;
	struct pollfd pf = {.fd = sigfd, .events = POLLIN};
	int e;
	if (!w->self[0]) {
		log_warn("not re-executing (%s): the program's path is unknown", w->reexec_why);
		w->reexec_why = NULL;
		return;
	}
	/* from here a signal stays pending (for the new image, or for this
	 * one if it carries on); one already in the pipe is handled first */
	sigemptyset(&handled);
	sigaddset(&handled, SIGTERM);
	sigaddset(&handled, SIGINT);
	sigaddset(&handled, SIGHUP);
	sigaddset(&handled, SIGUSR1);
	sigprocmask(SIG_BLOCK, &handled, &old);
	if (poll(&pf, 1, 0) > 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		return;
	}
	if (probe(w->self, ver, sizeof ver) < 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		refuse(w, ver);
		return;
	}
	log_info("re-executing: %s, version %s -> %s", w->reexec_why, prog_version(), ver);
	w->status_dirty = 1;
	watch_status_write(w, watch_mono(), 1);
	watch_notify("RELOADING=1");
	watch_notify_restore_env();
	fflush(NULL);
	execve(w->self, w->opt.argv, environ);
	e = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	watch_notify_init();
	watch_notify("READY=1");
	refuse(w, strerror(e));
}

/*
 * run_exec.c: running one job (contract in run.h).
 *
 * The job is started with vfork (no copy of the wrapper's page tables:
 * a third of the wrapper's CPU time with fork here; posix_spawn cannot set
 * PR_SET_PDEATHSIG). The job gets its own process group, so a timeout or make's Ctrl-C can
 * signal everything it started (TERM, then KILL after the grace period),
 * and PR_SET_PDEATHSIG, so it dies with a SIGKILLed wrapper. The wrapper is
 * a child subreaper: descendants the job orphans are re-parented to it,
 * reaped, and counted in the job's CPU time. The argv is exec'd directly,
 * never through a shell, so no file name is ever re-parsed.
 *
 * The job's stdout and stderr come back through two pipes; the wrapper
 * appends them to the job log a whole line per write (lines of concurrent
 * jobs sharing a log never interleave mid-line), stamps the lines that a
 * foreign program did not stamp, and keeps the last line for the summary
 * and the quarantine reason. Signals arrive through a signalfd in the same
 * poll loop, so there are no handlers and no races with waitpid.
 */
#include "engine/run.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/uvm.h"

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* "2026-11-23T11:40:00.123Z" into buf (>= 32 bytes); returns its length. */
static int stamp(char *buf, size_t n)
{
	struct timeval tv;
	struct tm tm;
	int k;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	k = (int)strftime(buf, n, "%Y-%m-%dT%H:%M:%S", &tm);
	return k + snprintf(buf + k, n - (size_t)k, ".%03dZ", (int)(tv.tv_usec / 1000));
}

void run_log_line(int fd, const char *grp, const char *fmt, ...)
{
	char line[2048];
	int n = stamp(line, sizeof line);
	va_list ap;
	if (fd < 0)
		return;
	n += snprintf(line + n, sizeof line - (size_t)n, " uvm-run%s%s%s: ", grp ? "[" : "",
	    grp ? grp : "", grp ? "]" : "");
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof line - 2)
		n = (int)sizeof line - 2;
	for (int i = 0; i < n; i++)
		if (line[i] == '\n')
			line[i] = ' ';
	line[n++] = '\n';
	if (write(fd, line, (size_t)n) < 0) {
		/* the summary on stderr still says what happened */
	}
}

int run_signals(sigset_t *old)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, old) < 0)
		return -1;
	/* orphans of the job come to us, to be reaped and counted */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

int run_spawn(struct run_proc *p, char *const argv[], const sigset_t *old)
{
	int out[2], err[2];
	pid_t parent = getpid(), pid;
	memset(p, 0, sizeof *p);
	p->outfd = p->errfd = -1;
	if (pipe2(out, O_CLOEXEC) < 0)
		goto fail;
	if (pipe2(err, O_CLOEXEC) < 0) {
		close(out[0]);
		close(out[1]);
		goto fail;
	}
	pid = vfork();
	if (pid < 0) {
		int e = errno;
		close(out[0]);
		close(out[1]);
		close(err[0]);
		close(err[1]);
		errno = e;
		goto fail;
	}
	if (pid == 0) {
		/* vfork child: memory is the wrapper's until exec, so only
		 * system calls and stack buffers here, and _exit */
		char msg[512];
		int nul, n;
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(EX_TEMPFAIL); /* the wrapper died before prctl took */
		sigprocmask(SIG_SETMASK, old, NULL);
		nul = open("/dev/null", O_RDONLY);
		if (nul < 0 || dup2(nul, 0) < 0 || dup2(out[1], 1) < 0 || dup2(err[1], 2) < 0)
			_exit(EX_OSERR);
		if (nul > 2)
			close(nul);
		execvp(argv[0], argv);
		n = snprintf(msg, sizeof msg, "uvm-run: cannot run '%s': %s\n", argv[0],
		    strerror(errno));
		if (n > 0 && write(2, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1) < 0)
			_exit(EX_UNAVAILABLE);
		_exit(EX_UNAVAILABLE);
	}
	setpgid(pid, pid); /* also here: no window where the group is missing */
	close(out[1]);
	close(err[1]);
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	fcntl(err[0], F_SETFL, O_NONBLOCK);
	p->pid = pid;
	p->outfd = out[0];
	p->errfd = err[0];
	return 0;
fail:
	log_err("cannot start '%s': %s", argv[0], strerror(errno));
	return -1;
}

/* Whether a line is a launcher's own report on the job (srun's "srun:
 * error: node: task 0: Exited with exit code 65", slurmstepd's "*** STEP
 * ... CANCELLED ***"), which says less than the job's own last line. */
static int launcher_line(const char *l, size_t n)
{
	return (n > 6 && !memcmp(l, "srun: ", 6)) || (n > 10 && !memcmp(l, "slurmstepd", 10));
}

/* One output stream of the job, cut into lines. */
struct stream {
	int fd;
	size_t n;
	char last[512];
	char buf[8192];
};

static void put_line(struct stream *s, int logfd, const char *line, size_t len,
    const char *prog, const char *grp)
{
	char pre[256];
	struct iovec iov[3];
	int k = 0;
	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' '))
		len--;
	if (len == 0)
		return;
	if (!run_line_stamped(line, len)) {
		int n = stamp(pre, sizeof pre);
		n += snprintf(pre + n, sizeof pre - (size_t)n, " %s%s%s%s: ", prog, grp ? "[" : "",
		    grp ? grp : "", grp ? "]" : "");
		iov[k].iov_base = pre;
		iov[k++].iov_len = (size_t)n < sizeof pre ? (size_t)n : sizeof pre - 1;
	}
	iov[k].iov_base = (void *)line;
	iov[k++].iov_len = len;
	iov[k].iov_base = "\n";
	iov[k++].iov_len = 1;
	if (logfd >= 0 && writev(logfd, iov, k) < 0) {
		/* keep draining the pipe so the job never blocks */
	}
	if (run_line_stamped(line, len)) {
		line += 25;
		len -= 25;
	}
	if (s->last[0] && launcher_line(line, len))
		return; /* the summary and quarantine reason keep the job's words */
	if (len >= sizeof s->last)
		len = sizeof s->last - 1;
	memcpy(s->last, line, len);
	s->last[len] = 0;
}

/* Read what is there; write the complete lines (all of it at EOF). */
static void pump(struct stream *s, int logfd, const char *prog, const char *grp)
{
	ssize_t r = read(s->fd, s->buf + s->n, sizeof s->buf - s->n);
	size_t start = 0;
	if (r < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (r > 0)
		s->n += (size_t)r;
	for (size_t i = 0; i < s->n; i++)
		if (s->buf[i] == '\n') {
			put_line(s, logfd, s->buf + start, i - start, prog, grp);
			start = i + 1;
		}
	if (r <= 0 || (start == 0 && s->n == sizeof s->buf)) {
		/* EOF, error, or a line longer than the buffer */
		if (s->n > start)
			put_line(s, logfd, s->buf + start, s->n - start, prog, grp);
		start = s->n;
	}
	memmove(s->buf, s->buf + start, s->n - start);
	s->n -= start;
	if (r <= 0) {
		close(s->fd);
		s->fd = -1;
	}
}

/* Last read of a stream still open (held by a process outside the group):
 * write what is buffered, close. */
static void finish(struct stream *s, int logfd, const char *prog, const char *grp)
{
	if (s->fd < 0)
		return;
	pump(s, logfd, prog, grp);
	if (s->fd < 0)
		return;
	if (s->n)
		put_line(s, logfd, s->buf, s->n, prog, grp);
	s->n = 0;
	close(s->fd);
	s->fd = -1;
}

static int group_alive(pid_t pgid)
{
	return kill(-pgid, 0) == 0 || errno == EPERM;
}

/* Reap every child that has finished; the leader's status into p. */
static void reap(struct run_proc *p, int *leader_done)
{
	int st;
	struct rusage ru;
	pid_t w;
	while ((w = wait4(-1, &st, WNOHANG, &ru)) > 0) {
		p->cpu_s += (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
		    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
		if (ru.ru_maxrss > p->maxrss_kb)
			p->maxrss_kb = ru.ru_maxrss;
		if (w == p->pid) {
			*leader_done = 1;
			p->exited = WIFEXITED(st);
			p->status = p->exited ? WEXITSTATUS(st) : 0;
			p->sig = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
		}
	}
}

/* Drain the signalfd: reap on SIGCHLD, return the first TERM/INT/HUP. */
static int take_signals(int sfd, struct run_proc *p, int *leader_done)
{
	struct signalfd_siginfo si;
	int got = 0;
	while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
		if (si.ssi_signo == SIGCHLD) {
			if (p)
				reap(p, leader_done);
			else
				while (waitpid(-1, NULL, WNOHANG) > 0)
					;
		} else if (!got) {
			got = (int)si.ssi_signo;
		}
	}
	return got;
}

static int ms_until(double now, double t)
{
	double d = (t - now) * 1000.0;
	if (d <= 0)
		return 0;
	return d > 1e9 ? 1000000000 : (int)d + 1;
}

void run_wait(struct run_proc *p, int sfd, int logfd, double timeout, double grace,
    const char *prog, const char *grp)
{
	static struct stream out, err;
	double t0 = mono(), deadline = timeout > 0 ? t0 + timeout : 0;
	double kill_at = 0, leader_at = 0;
	int leader_done = 0;
	out.fd = p->outfd;
	err.fd = p->errfd;
	out.n = err.n = 0;
	out.last[0] = err.last[0] = 0;
	for (;;) {
		struct pollfd pf[3];
		int np = 0, wait_ms = -1, sig, alive;
		double now = mono();
		if (!leader_done && deadline && !p->timed_out && !p->interrupted && now >= deadline) {
			p->timed_out = 1;
			kill(-p->pid, SIGTERM);
			run_log_line(logfd, grp, "timeout after %g s: sent TERM to the job's process group",
			    timeout);
			kill_at = now + grace;
		}
		if (kill_at && !p->killed && now >= kill_at) {
			p->killed = 1;
			if (group_alive(p->pid)) {
				kill(-p->pid, SIGKILL);
				run_log_line(logfd, grp, "sent KILL to the job's process group");
			}
		}
		alive = leader_done ? group_alive(p->pid) : 1;
		if (leader_done && alive && !kill_at) {
			/* the job finished but left processes behind: they go too */
			kill(-p->pid, SIGKILL);
			p->killed = 1;
			kill_at = now;
			run_log_line(logfd, grp, "killed processes the job left running");
		}
		if (leader_done) {
			double drain = (kill_at > leader_at ? kill_at : leader_at) + 1.0;
			if (!alive && out.fd < 0 && err.fd < 0)
				break;
			if (now >= drain)
				break; /* something outside the group holds the pipes */
			wait_ms = ms_until(now, drain);
			if (alive && wait_ms > 20)
				wait_ms = 20;
		} else if (deadline && !p->timed_out && !p->interrupted) {
			wait_ms = ms_until(now, deadline);
		}
		if (kill_at && !p->killed) {
			int k = ms_until(now, kill_at);
			if (wait_ms < 0 || k < wait_ms)
				wait_ms = k;
		}
		pf[np].fd = sfd;
		pf[np++].events = POLLIN;
		if (out.fd >= 0) {
			pf[np].fd = out.fd;
			pf[np++].events = POLLIN;
		}
		if (err.fd >= 0) {
			pf[np].fd = err.fd;
			pf[np++].events = POLLIN;
		}
		if (poll(pf, (nfds_t)np, wait_ms) < 0 && errno != EINTR)
			break;
		sig = take_signals(sfd, p, &leader_done);
		if (leader_done && !leader_at)
			leader_at = mono();
		if (sig && !p->interrupted) {
			p->interrupted = sig;
			kill(-p->pid, sig);
			run_log_line(logfd, grp, "got signal %d: passed it to the job's process group",
			    sig);
			if (!kill_at)
				kill_at = mono() + grace;
		}
		for (int i = 1; i < np; i++)
			if (pf[i].revents) {
				if (pf[i].fd == out.fd)
					pump(&out, logfd, prog, grp);
				else if (pf[i].fd == err.fd)
					pump(&err, logfd, prog, grp);
			}
	}
	finish(&out, logfd, prog, grp);
	finish(&err, logfd, prog, grp);
	p->outfd = p->errfd = -1;
	snprintf(p->last_line, sizeof p->last_line, "%s", err.last[0] ? err.last : out.last);
	if (!leader_done) {
		/* only when poll itself failed: make sure nothing is left */
		kill(-p->pid, SIGKILL);
		while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR)
			;
		p->exited = 0;
		p->sig = SIGKILL;
	}
}

int run_sleep(int sfd, double secs)
{
	double end = mono() + secs;
	for (;;) {
		struct pollfd pf = {.fd = sfd, .events = POLLIN};
		double now = mono();
		int sig;
		if (now >= end)
			return 0;
		if (poll(&pf, 1, ms_until(now, end)) < 0 && errno != EINTR)
			return 0;
		if ((sig = take_signals(sfd, NULL, NULL)))
			return sig;
	}
}

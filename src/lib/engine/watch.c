/*
 * watch.c: the uvm-watch loop (contract in watch.h).
 *
 * One poll(2) waits on the inotify descriptor, on the read end of a
 * self-pipe that the signal handlers write signal numbers into, and on the
 * earliest timer: a file to re-stat for settling, the end of a debounce,
 * a backoff, the periodic rescan, the planner's next wakeup, a watchdog
 * ping, a status-file retry. Every trigger ends in the same action, a cycle:
 * the cycle command run as a child in its own process group, one at a time,
 * its exit seen through SIGCHLD. The daemon never decides what a file
 * means; the planner does, so an event, an overflow and a rescan converge.
 *
 * Mutual exclusion with cron-started and manual cycles is the flock on
 * state/make.lock that uvm-make takes (-w). Before starting a cycle the
 * daemon probes that lock without blocking and, when it is held, polls
 * again shortly, so the loop stays responsive (SIGTERM is prompt) instead
 * of parking a child on the lock; the probe is an optimisation, the lock in
 * the cycle command is what guarantees one make at a time.
 *
 * This file holds the loop itself, the signals and the set-up; the
 * triggers, settling and watches are in watch_event.c, the cycles in
 * watch_cycle.c, the status file in watch_status.c (shared state in
 * watch_priv.h).
 */
#include "engine/watch_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "core/json.h"
#include "core/log.h"
#include "core/uvm.h"

static int sig_w = -1;

static void on_signal(int sig)
{
	int e = errno;
	unsigned char c = (unsigned char)sig;
	if (write(sig_w, &c, 1) < 0) {
		/* pipe full: a wakeup is pending anyway */
	}
	errno = e;
}

static void handle_signals(struct watch *w, int fd, double now)
{
	unsigned char sigs[64];
	ssize_t n;
	while ((n = read(fd, sigs, sizeof sigs)) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			switch (sigs[i]) {
			case SIGTERM:
			case SIGINT:
				w->nterm++;
				if (w->nterm == 1) {
					w->stopping = 1;
					if (w->child)
						log_info("stopping: waiting for cycle %ld (pid %ld) to finish",
						    w->cycles, (long)w->child);
					else
						log_info("stopping");
					watch_notify("STOPPING=1");
					w->status_dirty = 1;
				} else if (w->child) {
					log_warn("second signal: passing SIGTERM to cycle %ld (pid %ld)",
					    w->cycles, (long)w->child);
					kill(-w->child, SIGTERM);
				}
				break;
			case SIGHUP:
				if (w->self[0] && !w->stopping) {
					if (w->child)
						log_info("SIGHUP: re-executing once cycle %ld is done", w->cycles);
					w->reexec_why = "SIGHUP";
					break;
				}
				watch_reload(w, "SIGHUP", now);
				watch_trigger(w, R_CONFIG, 0, now);
				break;
			case SIGUSR1:
				watch_overflow(w, "SIGUSR1 (treated as an inotify queue overflow)", now);
				break;
			case SIGCHLD:
				watch_reap(w, now);
				break;
			}
		}
	}
}

/* ---- set-up and the loop ---- */

static int setup_signals(int *pipefd)
{
	struct sigaction sa;
	int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGUSR1};
	if (pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) < 0)
		return -1;
	sig_w = pipefd[1];
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
		if (sigaction(sigs[i], &sa, NULL) < 0)
			return -1;
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) < 0)
		return -1;
	/* a re-executing image blocked them across execve (watch_exec.c) */
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
		sigaddset(&sa.sa_mask, sigs[i]);
	return sigprocmask(SIG_UNBLOCK, &sa.sa_mask, NULL);
}

static double min2(double a, double b) { return a < b ? a : b; }

static int poll_timeout(const struct watch *w, double now)
{
	double t = NEVER, ms;
	if (!w->child && !w->stopping) {
		t = min2(t, w->self_check_at);
		t = min2(t, watch_cycle_due(w));
		t = min2(t, w->next_rescan);
		t = min2(t, w->wakeup_at);
	}
	t = min2(t, watch_settle_next(w));
	t = min2(t, w->rewatch_at);
	if (w->status_dirty)
		t = min2(t, w->status_next);
	if (w->wd_interval > 0)
		t = min2(t, w->wd_next);
	if (t >= NEVER)
		return 60000;
	ms = ceil((t - now) * 1000);
	return ms < 0 ? 0 : ms > 60000 ? 60000 : (int)ms;
}

static void loop(struct watch *w, int sigfd)
{
	for (;;) {
		double now = watch_mono();
		struct pollfd pf[2] = {{.fd = sigfd, .events = POLLIN}, {.fd = w->ifd, .events = POLLIN}};
		watch_settle_check(w, now);
		if (now >= w->rewatch_at)
			watch_add_watches(w, now);
		if (!w->child && !w->stopping) {
			if (now >= w->wakeup_at) {
				w->wakeup_at = NEVER;
				watch_trigger(w, R_WAKEUP, 1, now);
			}
			if (now >= w->next_rescan) {
				w->next_rescan = NEVER;
				w->rescans++;
				watch_trigger(w, R_RESCAN, 1, now);
			}
			/* an upgrade is noticed before the cycle it would run */
			if (now >= watch_cycle_due(w))
				w->self_check_at = 0;
			watch_self_check(w, now);
			if (w->reexec_why)
				watch_reexec(w, sigfd);
			if (now >= watch_cycle_due(w))
				watch_start_cycle(w, now);
		}
		if (w->stopping && !w->child)
			return;
		watch_status_write(w, now, 0);
		if (w->wd_interval > 0 && now >= w->wd_next) {
			watch_notify("WATCHDOG=1");
			w->wd_next = now + w->wd_interval;
		}
		if (poll(pf, w->ifd >= 0 ? 2 : 1, poll_timeout(w, now)) < 0 && errno != EINTR) {
			log_err("poll: %s", strerror(errno));
			sleep(1);
		}
		now = watch_mono();
		handle_signals(w, sigfd, now);
		if (w->ifd >= 0 && (pf[1].revents & POLLIN))
			watch_read_events(w, now);
	}
}

int watch_main(const struct watch_opt *opt)
{
	struct watch w;
	struct stat sb;
	char state[PATH_MAX + 8];
	int pipefd[2] = {-1, -1}, st = 0;
	const char *home = opt->home;
	double now = watch_mono();

	memset(&w, 0, sizeof w);
	w.opt = *opt;
	w.command = opt->command ? opt->command : "uvm-make";
	w.ifd = w.wd_in = w.wd_home = w.wd_rules = -1;
	w.rewatch_at = w.next_rescan = w.wakeup_at = NEVER;
	w.wakeup_epoch = -1;
	w.run_exit = -1;
	w.run_end = -1;
	w.started = watch_real_now();
	w.exit_status = EX_TEMPFAIL; /* -1 stopped before its cycle ran */

	if (!home || !*home)
		home = getenv("UVM_HOME");
	if (!home || !*home)
		home = ".";
	if (stat(home, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
		int e = stat(home, &sb) < 0 ? errno : ENOTDIR;
		log_err("cannot use deployment '%s': %s", home, strerror(e));
		return EX_NOINPUT;
	}
	snprintf(state, sizeof state, "%s/state", home);
	if (stat(state, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
		log_err("'%s' is not a deployment (run uvm-init)", home);
		return EX_NOINPUT;
	}
	if (cfg_load(&w.cfg, home) < 0)
		return EX_DATAERR;
	setenv("UVM_HOME", w.cfg.home, 1);
	cfg_path(&w.cfg, "state/watch.json", w.status_path);
	cfg_path(&w.cfg, "state/make.lock", w.lock_path);
	cfg_path(&w.cfg, "state/plan.json", w.plan_path);
	w.wd_interval = watch_notify_init();
	w.wd_next = now;
	watch_self_init(&w);
	if (setup_signals(pipefd) < 0) {
		log_err("cannot set up signal handling: %s", strerror(errno));
		st = EX_SOFTWARE;
		goto out;
	}
	if (!opt->once) {
		w.ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (w.ifd < 0) {
			log_err("cannot start inotify: %s", strerror(errno));
			st = EX_UNAVAILABLE;
			goto out;
		}
	}
	watch_apply_cfg(&w, now);
	if (!opt->once)
		log_info("watching '%s' (settle %g s, debounce %g s, max delay %g s, rescan %g s%s%s%s), "
			 "cycle: %s",
		    w.incoming, w.settle, w.debounce, w.maxdelay, w.rescan, w.rules[0] ? ", rules '" : "",
		    w.rules, w.rules[0] ? "'" : "", w.command);
	watch_trigger(&w, R_STARTUP, 1, now);
	w.status_dirty = 1;
	watch_status_write(&w, now, 1);
	watch_notify_status(&w, "READY=1\n");
	loop(&w, pipefd[0]);
	st = opt->once ? w.exit_status : 0;
	log_info("stopped after %ld cycle%s", w.cycles, w.cycles == 1 ? "" : "s");
	w.status_dirty = 1;
	w.status_failing = 0;
	watch_status_write(&w, watch_mono(), 1);
out:
	watch_notify_close();
	for (int i = 0; i < w.nnames; i++)
		free(w.names[i]);
	watch_settle_clear(&w);
	free(w.st);
	if (w.ifd >= 0)
		close(w.ifd);
	if (pipefd[0] >= 0) {
		close(pipefd[0]);
		close(pipefd[1]);
	}
	cfg_free(&w.cfg);
	return st;
}

/*
 * watch_cycle.c: uvm-watch's cycle runner. Starts the cycle command as a
 * child in its own process group (after probing state/make.lock so the
 * loop never parks on it), logs why it runs, reaps it on SIGCHLD, turns
 * its exit status into the backoff or retry for the next one, and reads
 * the planner's next_wakeup from state/plan.json afterwards. Apart from
 * the loop because it is the only part that forks and the one whose
 * failure policy (DESIGN.md exit statuses) deserves to be read alone.
 */
#include "engine/watch_priv.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "core/fsx.h"
#include "core/json.h"
#include "core/log.h"
#include "core/uvm.h"

/* ---- cycles ---- */

/*
 * The next partial-group timeout from state/plan.json. A wakeup before the
 * start of the cycle that wrote it was already due for the planner, which
 * still chose to wait (too few subbands): ignored, so a stale value cannot
 * cause a busy loop; a due one runs at least a second after this cycle.
 */
static void read_wakeup(struct watch *w, double now)
{
	double wk, delay;
	char buf[40];
	char *js = fsx_read_file(w->plan_path, NULL);
	int r;
	w->wakeup_at = NEVER;
	w->wakeup_epoch = -1;
	if (!js) {
		if (errno != ENOENT)
			log_warn("cannot read '%s': %s", w->plan_path, strerror(errno));
		return;
	}
	r = json_get_number(js, "next_wakeup", &wk);
	free(js);
	if (r < 0) {
		log_warn("cannot read next_wakeup from '%s': not a JSON object with a number",
		    w->plan_path);
		return;
	}
	if (r == 0 || wk <= 0)
		return;
	if (wk < floor(w->run_start)) {
		log_debug("next_wakeup %.0f precedes the cycle that wrote it: ignored", wk);
		return;
	}
	delay = wk - watch_real_now();
	if (delay < 1)
		delay = 1;
	w->wakeup_at = now + delay;
	w->wakeup_epoch = wk;
	log_info("next wakeup for waiting groups at %s (in %.1f s)", watch_iso(wk, buf, sizeof buf), delay);
}

static pid_t spawn(struct watch *w)
{
	char *argv[] = {(char *)w->command, "-D", w->cfg.home, "-w", WATCH_LOCK_WAIT, NULL};
	sigset_t all, old;
	pid_t pid;
	int e;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid = fork();
	if (pid == 0) {
		struct sigaction sa;
		int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGUSR1, SIGPIPE};
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = SIG_DFL;
		for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
			sigaction(sigs[i], &sa, NULL);
		sigprocmask(SIG_SETMASK, &old, NULL);
		setpgid(0, 0);
		dup2(2, 1);
		execvp(argv[0], argv);
		log_err("cannot run '%s': %s", argv[0], strerror(errno));
		_exit(127);
	}
	e = errno;
	if (pid > 0)
		setpgid(pid, pid);
	sigprocmask(SIG_SETMASK, &old, NULL);
	errno = e;
	return pid;
}

void watch_start_cycle(struct watch *w, double now)
{
	char reasons[128], names[600];
	size_t k = 0;
	int lfd = fsx_lock(w->lock_path, 1);
	pid_t pid;
	if (lfd < 0 && errno == EWOULDBLOCK) {
		if (!w->lock_waiting)
			log_info("'%s' is held by another cycle; waiting for it", w->lock_path);
		w->lock_waiting = 1;
		w->not_before = now + LOCK_POLL;
		return;
	}
	if (lfd >= 0)
		close(lfd);
	w->lock_waiting = 0;
	pid = spawn(w);
	if (pid < 0) {
		log_err("cannot start a cycle: %s", strerror(errno));
		w->not_before = now + 1;
		return;
	}
	w->child = pid;
	w->child_mono = now;
	w->cycles++;
	w->run_reasons = w->want;
	w->run_start = watch_real_now();
	w->run_end = -1;
	w->run_exit = -1;
	watch_reasons_text(w->want, reasons, sizeof reasons);
	names[0] = 0;
	for (int i = 0; i < w->nnames && k < sizeof names; i++)
		k += (size_t)snprintf(names + k, sizeof names - k, "%s'%s'", i ? ", " : "",
		    w->names[i] ? w->names[i] : "");
	if (w->nevents > w->nnames && k < sizeof names)
		snprintf(names + k, sizeof names - k, " and %ld more", w->nevents - w->nnames);
	if (w->nevents)
		log_info("cycle %ld started (%s), pid %ld: %ld new file%s %s, first %.2f s ago", w->cycles,
		    reasons, (long)pid, w->nevents, w->nevents == 1 ? "" : "s", names,
		    now - w->first_trigger);
	else
		log_info("cycle %ld started (%s), pid %ld", w->cycles, reasons, (long)pid);
	w->want = 0;
	w->immediate = 0;
	w->nevents = 0;
	for (int i = 0; i < w->nnames; i++)
		free(w->names[i]);
	w->nnames = 0;
	w->status_dirty = 1;
	watch_status_write(w, now, 1);
	watch_notify_status(w, "");
}

static void cycle_done(struct watch *w, int status, double now)
{
	double took = now - w->child_mono;
	w->child = 0;
	w->run_exit = status;
	w->run_end = watch_real_now();
	if (status == 0 || status == EX_TEMPFAIL) {
		if (status == 0)
			log_info("cycle %ld finished ok in %.2f s", w->cycles, took);
		else
			log_info("cycle %ld finished in %.2f s with status 75: some jobs failed or were "
				 "deferred (their records say why)",
			    w->cycles, took);
		w->failures = 0;
		w->not_before = 0;
	} else if (status == UVM_EX_BUSY) {
		log_warn("cycle %ld found make.lock held (status 76); retrying", w->cycles);
		w->not_before = now + 1;
		watch_trigger(w, R_RETRY, 1, now);
	} else {
		double base = w->debounce > 1 ? w->debounce : 1, cap = w->rescan > 0 ? w->rescan : 300;
		double backoff = base * pow(2, w->failures < 16 ? w->failures : 16);
		if (cap > 300)
			cap = 300;
		if (backoff > cap)
			backoff = cap > base ? cap : base;
		w->failures++;
		w->not_before = now + backoff;
		if (w->stopping)
			log_warn("cycle %ld failed with status %d (%s) after %.2f s", w->cycles, status,
			    uvm_exit_name(status), took);
		else
			log_warn("cycle %ld failed with status %d (%s) after %.2f s; next cycle on the "
				 "next event or rescan, not before %.0f s",
			    w->cycles, status, uvm_exit_name(status), took, backoff);
	}
	read_wakeup(w, now);
	w->self_check_at = w->self[0] ? 0 : NEVER;
	w->next_rescan = w->rescan > 0 ? now + w->rescan : NEVER;
	if (w->opt.once) {
		w->stopping = 1;
		w->exit_status = status;
	}
	w->status_dirty = 1;
	watch_status_write(w, now, 1);
	watch_notify_status(w, "");
}

void watch_reap(struct watch *w, double now)
{
	int st;
	pid_t p;
	while ((p = waitpid(-1, &st, WNOHANG)) > 0)
		if (p == w->child)
			cycle_done(w, WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), now);
}

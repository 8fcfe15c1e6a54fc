/*
 * watch_priv.h: the state uvm-watch's files share (not part of the
 * library's interface; see watch.h). One struct watch is the daemon: the
 * loop (watch.c) owns it and passes it to the triggers and watches
 * (watch_event.c), the cycle runner (watch_cycle.c) and the status file
 * (watch_status.c). Times named "now" are CLOCK_MONOTONIC seconds;
 * run_start, run_end and started are epoch seconds.
 */
#ifndef UVM_WATCH_PRIV_H
#define UVM_WATCH_PRIV_H

#include <limits.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include "core/cfg.h"
#include "engine/watch.h"

#define NEVER 1e300
#define MAX_NAMES 8        /* pending/settling names kept for the status */
#define MAX_SETTLING 4096  /* beyond this, files count without settling */
#define LOCK_POLL 0.5      /* s between probes of a held make.lock */
#define REWATCH 5.0        /* s between attempts to watch a missing dir */
#define STATUS_SPACING 0.25

enum {
	R_STARTUP = 1 << 0,
	R_EVENT = 1 << 1,
	R_OVERFLOW = 1 << 2,
	R_RESCAN = 1 << 3,
	R_WAKEUP = 1 << 4,
	R_CONFIG = 1 << 5,
	R_RULES = 1 << 6,
	R_RETRY = 1 << 7,
};

struct settling {
	char *name;
	off_t size;
	struct timespec mtime;
	double due;
};

struct watch {
	struct watch_opt opt;
	struct cfg cfg;
	const char *command;
	double settle, debounce, maxdelay, rescan;
	char incoming[PATH_MAX], rules[PATH_MAX];
	char status_path[PATH_MAX], lock_path[PATH_MAX], plan_path[PATH_MAX];

	int ifd, wd_in, wd_home, wd_rules;
	double rewatch_at;
	int in_warned;

	/* the next cycle: why, since when */
	unsigned want;
	int immediate;
	double first_trigger, last_trigger;
	long nevents;
	char *names[MAX_NAMES];
	int nnames;
	struct settling *st;
	int nst, capst;

	/* the running or last cycle */
	pid_t child;
	double child_mono;
	long cycles;
	unsigned run_reasons;
	double run_start, run_end; /* epoch; run_end < 0 while running */
	int run_exit;              /* -1: none yet */
	double not_before;
	int failures, lock_waiting;
	double next_rescan, wakeup_at, wakeup_epoch;
	long overflows, rescans;

	double last_event_real;
	char last_event_name[NAME_MAX + 1];
	const char *last_event_kind;

	int status_dirty, status_failing;
	double status_next, status_backoff;
	double wd_interval, wd_next;
	int stopping, nterm, exit_status;
	double started;

	/* re-execution (watch_exec.c): the path started from, the image
	 * running, a file that failed to run, the pending reason */
	char self[PATH_MAX];
	struct stat image, bad;
	int bad_known;
	double self_check_at;
	const char *reexec_why;
};


/* ---- watch_status.c ---- */
double watch_mono(void);
double watch_real_now(void);
/* ISO 8601 UTC with milliseconds into buf (n bytes); returns buf. */
char *watch_iso(double t, char *buf, size_t n);
/* The reason bits r as "startup,event,..." into buf (n bytes). */
void watch_reasons_text(unsigned r, char *buf, size_t n);
/* Write state/watch.json if dirty (or force) and due; on failure keep it
 * dirty and retry with a growing delay (1 s .. 60 s), logging once. */
void watch_status_write(struct watch *w, double now, int force);
/* Send "<extra>STATUS=..." to the service manager; failures are logged. */
void watch_notify_status(struct watch *w, const char *extra);

/* ---- watch_event.c ---- */
/* Ask for a cycle for reason (R_*); immediate ones skip the debounce. */
void watch_trigger(struct watch *w, unsigned reason, int immediate, double now);
/* Events may have been lost (why): log it and trigger a full cycle. */
void watch_overflow(struct watch *w, const char *why, double now);
/* When the next cycle may start (NEVER: nothing wanted, or settling). */
double watch_cycle_due(const struct watch *w);
/* Count the settling files whose stat held still for w->settle seconds. */
void watch_settle_check(struct watch *w, double now);
/* The earliest settling re-stat (NEVER: none). */
double watch_settle_next(const struct watch *w);
/* Forget every settling file. */
void watch_settle_clear(struct watch *w);
/* Add the missing inotify watches; schedule a retry for those that failed. */
void watch_add_watches(struct watch *w, double now);
/* Derive parameters and paths from w->cfg (flags win), re-arm watches. */
void watch_apply_cfg(struct watch *w, double now);
/* Reload uvmake.conf (why: for the log); on error keep the old one. */
void watch_reload(struct watch *w, const char *why, double now);
/* Drain the inotify descriptor and act on each event. */
void watch_read_events(struct watch *w, double now);

/* ---- watch_exec.c ---- */
/* Where the daemon was started from (opt.argv[0], through PATH) and the
 * image it runs; without them it never re-executes. */
void watch_self_init(struct watch *w);
/* Every few seconds: has the file at that path changed? Sets reexec_why. */
void watch_self_check(struct watch *w, double now);
/* Re-execute for reexec_why (no cycle may be running). Returns when the
 * new file cannot run (logged, the old image carries on) or when a signal
 * waits in the self-pipe sigfd (handled first; reexec_why still set). */
void watch_reexec(struct watch *w, int sigfd);

/* ---- watch_cycle.c ---- */
/* Start a cycle for what is wanted, or wait LOCK_POLL when make.lock is
 * held; a failed fork is logged and retried a second later. */
void watch_start_cycle(struct watch *w, double now);
/* Reap exited children; the cycle's exit sets the next cycle's policy. */
void watch_reap(struct watch *w, double now);

#endif

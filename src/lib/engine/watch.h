/*
 * watch.h: uvm-watch, the daemon that turns file arrivals into make cycles.
 *
 * A cycle is one run of the cycle command (uvm-make: plan + make under the
 * shared flock state/make.lock). The daemon decides only *when* to run one:
 * inotify events in INCOMING (a rename in counts at once, a file written in
 * place once its size and mtime are stable over the settle interval), a
 * change of uvmake.conf (reloaded) or of the rules directory, an inotify
 * queue overflow, the periodic rescan, and the planner's next_wakeup from
 * state/plan.json (partial-group timeouts). Bursts are debounced (quiet for
 * `debounce` seconds, but no later than `maxdelay` after the first trigger);
 * one cycle runs at a time and triggers arriving meanwhile coalesce into
 * exactly one follow-up. What to do is always the planner's business, so
 * every trigger leads to the same action and they all converge.
 *
 * The pieces:
 *   watch.c       the poll loop, self-pipe signals, set-up and tear-down
 *   watch_event.c triggers and debounce, settling, config, inotify watches
 *   watch_cycle.c the cycle command: start, reap, backoff, next_wakeup
 *   watch_status.c state/watch.json and the service manager's STATUS=
 *   watch_exec.c  re-executing itself between cycles (SIGHUP, upgrade)
 *   watch_priv.h  the struct watch they share
 *   watch_util.c  small pure helpers, exposed for the unit tests: name
 *                 filter, seconds parsing, JSON text, the sd_notify datagram
 */
#ifndef UVM_WATCH_H
#define UVM_WATCH_H

#include <stddef.h>

/* Seconds the default cycle waits for make.lock (uvm-make -w). */
#define WATCH_LOCK_WAIT "3600"

struct watch_opt {
	const char *home;    /* -D; NULL: $UVM_HOME, else "." */
	const char *command; /* -c; NULL: "uvm-make" */
	/* seconds; < 0: from the config (WATCH_SETTLE, WATCH_DEBOUNCE,
	 * WATCH_MAX_DELAY, WATCH_RESCAN), else the built-in default */
	double settle, debounce, maxdelay, rescan;
	int once;            /* -1: one cycle, then exit with its status */
	char **argv;         /* the command line, NULL-terminated, for re-execution;
	                      * argv[0] the path it was started from (NULL: never) */
};

/*
 * Run the daemon until SIGTERM/SIGINT (after the running cycle finished),
 * or, with once, until the first cycle finished. Between cycles, on SIGHUP
 * or when the file at argv[0] changes, it re-executes itself (watch_exec.c);
 * without argv or with once, SIGHUP only reloads the config. Returns the exit status:
 * 0 stopped by a signal; with once the cycle's status (75 if stopped
 * before it ran); EX_NOINPUT no deployment; EX_DATAERR malformed config;
 * EX_UNAVAILABLE no inotify; EX_SOFTWARE signal set-up failed.
 */
int watch_main(const struct watch_opt *o);

/* ---- watch_util.c ---- */

/* Is this incoming name never a trigger: a dotfile, one of our temporaries
 * (fsx_is_temp) or a correlator's "*_incomplete.hdf5"? */
int watch_ignored(const char *name);

/* Parse a non-negative number of seconds ("2", "0.25"); 0 or -1. */
int watch_parse_secs(const char *s, double *out);

/* JSON is read and written with core/json.h, the status text built in a
 * core/buf.h buffer. */

/*
 * The service manager's notification socket (sd_notify protocol): take
 * $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID from the environment
 * and remove them so children do not inherit them. Returns the watchdog
 * interval in seconds (0: none, or meant for another pid).
 */
double watch_notify_init(void);
/* Send one datagram ("READY=1", "STATUS=...", "WATCHDOG=1"); 0 when sent
 * or when there is no socket, -1 with errno on failure. */
int watch_notify(const char *msg);
void watch_notify_close(void);
/* Put back the variables watch_notify_init took from the environment (for
 * an execve of the daemon itself, which must find them). */
void watch_notify_restore_env(void);

#endif

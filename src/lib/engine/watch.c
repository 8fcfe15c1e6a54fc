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
 */
#include "engine/watch.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/cfg.h"
#include "core/fsx.h"
#include "core/json.h"
#include "core/log.h"
#include "engine/plan.h"
#include "core/uvm.h"

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
static const char *const reason_name[] = {
	"startup", "event", "overflow", "rescan", "wakeup", "config", "rules", "retry",
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
};

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

static double mono(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double real_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ISO 8601 UTC with milliseconds, as in the log lines. */
static char *iso(double t, char *buf, size_t n)
{
	time_t s = (time_t)floor(t);
	int ms = (int)((t - (double)s) * 1000);
	struct tm tm;
	gmtime_r(&s, &tm);
	size_t k = strftime(buf, n, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + k, n - k, ".%03dZ", ms > 999 ? 999 : ms);
	return buf;
}

static void reasons_text(unsigned r, char *buf, size_t n)
{
	size_t k = 0;
	buf[0] = 0;
	for (int i = 0; i < (int)(sizeof reason_name / sizeof *reason_name); i++)
		if (r & (1u << i))
			k += (size_t)snprintf(buf + k, k < n ? n - k : 0, "%s%s", k ? "," : "",
			    reason_name[i]);
}

/* ---- triggers ---- */

/* Ask for a cycle; immediate ones skip the debounce (timers, startup). */
static void trigger(struct watch *w, unsigned reason, int immediate, double now)
{
	if (w->stopping)
		return;
	if (!w->want)
		w->first_trigger = now;
	w->want |= reason;
	if (immediate)
		w->immediate = 1;
	else
		w->last_trigger = now;
	w->status_dirty = 1;
}

/* A file counts: remember it for the status and trigger a cycle. */
static void counted(struct watch *w, const char *name, const char *kind, double now)
{
	if (w->stopping)
		return;
	w->nevents++;
	if (w->nnames < MAX_NAMES)
		w->names[w->nnames++] = strdup(name);
	snprintf(w->last_event_name, sizeof w->last_event_name, "%s", name);
	w->last_event_real = real_now();
	w->last_event_kind = kind;
	log_debug("%s: '%s'", kind, name);
	trigger(w, R_EVENT, 0, now);
}

static void overflow(struct watch *w, const char *why, double now)
{
	w->overflows++;
	w->last_event_real = real_now();
	w->last_event_name[0] = 0;
	w->last_event_kind = "overflow";
	log_warn("%s: events may have been lost; a full rescan (cycle) follows", why);
	trigger(w, R_OVERFLOW, 0, now);
}

/* When the next cycle may start (NEVER: nothing wanted, or still settling). */
static double cycle_due(const struct watch *w)
{
	double due;
	if (!w->want)
		return NEVER;
	if (w->immediate)
		due = w->first_trigger;
	else {
		due = w->nst > 0 ? NEVER : w->last_trigger + w->debounce;
		if (due > w->first_trigger + w->maxdelay)
			due = w->first_trigger + w->maxdelay;
	}
	return due > w->not_before ? due : w->not_before;
}

/* ---- settling of files written in place ---- */

static int join(char *buf, const char *dir, const char *name)
{
	return snprintf(buf, PATH_MAX, "%s/%s", dir, name) >= PATH_MAX ? -1 : 0;
}

static void settle_remove(struct watch *w, int i)
{
	free(w->st[i].name);
	w->st[i] = w->st[--w->nst];
	w->status_dirty = 1;
}

static void settle_drop(struct watch *w, const char *name)
{
	for (int i = 0; i < w->nst; i++)
		if (!strcmp(w->st[i].name, name)) {
			settle_remove(w, i);
			return;
		}
}

static void settle_clear(struct watch *w)
{
	while (w->nst > 0)
		settle_remove(w, w->nst - 1);
}

/* A close after writing: count the file once stat shows no change for
 * w->settle seconds. */
static void settle_add(struct watch *w, const char *name, double now)
{
	char p[PATH_MAX];
	struct stat sb;
	struct settling *s = NULL;
	if (join(p, w->incoming, name) < 0 || lstat(p, &sb) < 0 || !S_ISREG(sb.st_mode))
		return;
	if (w->settle <= 0) {
		counted(w, name, "written", now);
		return;
	}
	for (int i = 0; i < w->nst; i++)
		if (!strcmp(w->st[i].name, name))
			s = &w->st[i];
	if (!s) {
		char *nm = w->nst < MAX_SETTLING ? strdup(name) : NULL;
		if (nm && w->nst == w->capst) {
			int nc = w->capst ? w->capst * 2 : 32;
			struct settling *ns = realloc(w->st, (size_t)nc * sizeof *ns);
			if (ns) {
				w->st = ns;
				w->capst = nc;
			} else {
				free(nm);
				nm = NULL;
			}
		}
		if (!nm) { /* too many, or no memory: count it without settling */
			counted(w, name, "written", now);
			return;
		}
		w->st[w->nst].name = nm;
		s = &w->st[w->nst++];
		log_debug("settling: '%s'", name);
	}
	s->size = sb.st_size;
	s->mtime = sb.st_mtim;
	s->due = now + w->settle;
	w->status_dirty = 1;
}

static void settle_check(struct watch *w, double now)
{
	for (int i = 0; i < w->nst;) {
		struct settling *s = &w->st[i];
		char p[PATH_MAX];
		struct stat sb;
		if (s->due > now) {
			i++;
			continue;
		}
		if (join(p, w->incoming, s->name) < 0 || lstat(p, &sb) < 0 || !S_ISREG(sb.st_mode)) {
			log_debug("'%s' went away while settling", s->name);
			settle_remove(w, i);
			continue;
		}
		if (sb.st_size == s->size && sb.st_mtim.tv_sec == s->mtime.tv_sec &&
		    sb.st_mtim.tv_nsec == s->mtime.tv_nsec) {
			char *name = s->name;
			s->name = NULL;
			settle_remove(w, i);
			counted(w, name, "written", now);
			free(name);
			continue;
		}
		s->size = sb.st_size;
		s->mtime = sb.st_mtim;
		s->due = now + w->settle;
		i++;
	}
}

static double settle_next(const struct watch *w)
{
	double t = NEVER;
	for (int i = 0; i < w->nst; i++)
		if (w->st[i].due < t)
			t = w->st[i].due;
	return t;
}

/* ---- configuration and watches ---- */

static double param(const struct watch *w, double flag, const char *key, double dflt)
{
	const char *v;
	double x;
	if (flag >= 0)
		return flag;
	v = cfg_str(&w->cfg, key, NULL);
	if (!v || !*v)
		return dflt;
	if (watch_parse_secs(v, &x) < 0) {
		log_warn("config %s=%s is not a number of seconds; using %g", key, v, dflt);
		return dflt;
	}
	return x;
}

static void unwatch(struct watch *w, int *wd)
{
	if (*wd < 0)
		return;
	/* one directory watched twice (INCOMING=. ) shares a descriptor */
	int shared = (wd != &w->wd_in && *wd == w->wd_in) || (wd != &w->wd_home && *wd == w->wd_home) ||
	    (wd != &w->wd_rules && *wd == w->wd_rules);
	if (!shared)
		inotify_rm_watch(w->ifd, *wd);
	*wd = -1;
}

/* Add the missing watches; schedule a retry for those that failed. */
static void add_watches(struct watch *w, double now)
{
	const uint32_t dirmask = IN_ONLYDIR | IN_MASK_ADD | IN_DELETE_SELF | IN_MOVE_SELF;
	int missing = 0;
	if (w->ifd < 0)
		return;
	if (w->wd_home < 0) {
		w->wd_home = inotify_add_watch(w->ifd, w->cfg.home, dirmask | IN_CLOSE_WRITE | IN_MOVED_TO);
		if (w->wd_home < 0) {
			log_warn("cannot watch '%s': %s; retrying", w->cfg.home, strerror(errno));
			missing = 1;
		}
	}
	if (w->wd_in < 0) {
		w->wd_in = inotify_add_watch(w->ifd, w->incoming, dirmask | IN_CLOSE_WRITE | IN_MOVED_TO);
		if (w->wd_in < 0) {
			if (!w->in_warned)
				log_warn("cannot watch '%s': %s; retrying every %.0f s", w->incoming,
				    strerror(errno), REWATCH);
			w->in_warned = 1;
			missing = 1;
		} else if (w->in_warned) {
			log_info("watching '%s' again", w->incoming);
			w->in_warned = 0;
			trigger(w, R_RESCAN, 0, now); /* files may have landed meanwhile */
		}
	}
	if (w->wd_rules < 0 && w->rules[0]) {
		w->wd_rules = inotify_add_watch(w->ifd, w->rules,
		    dirmask | IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE);
		if (w->wd_rules < 0) {
			log_debug("cannot watch rules '%s': %s", w->rules, strerror(errno));
			missing = 1;
		}
	}
	w->rewatch_at = missing ? now + REWATCH : NEVER;
}

/*
 * Derive parameters and paths from w->cfg (flags win over the config),
 * re-arm watches whose directory changed.
 */
static void apply_cfg(struct watch *w, double now)
{
	char in[PATH_MAX], rules[PATH_MAX] = "";
	const char *r = cfg_str(&w->cfg, "RULES_DIR", "");
	w->settle = param(w, w->opt.settle, "WATCH_SETTLE", 2);
	w->debounce = param(w, w->opt.debounce, "WATCH_DEBOUNCE", 3);
	w->maxdelay = param(w, w->opt.maxdelay, "WATCH_MAX_DELAY", 30);
	w->rescan = param(w, w->opt.rescan, "WATCH_RESCAN", 300);
	if (w->maxdelay < w->debounce)
		w->maxdelay = w->debounce;
	cfg_path(&w->cfg, cfg_str(&w->cfg, "INCOMING", "incoming"), in);
	if (*r)
		cfg_path(&w->cfg, r, rules);
	else if (plan_rules_dir(rules) < 0)
		rules[0] = 0;
	if (strcmp(in, w->incoming)) {
		unwatch(w, &w->wd_in);
		settle_clear(w);
		snprintf(w->incoming, sizeof w->incoming, "%s", in);
		w->in_warned = 0;
	}
	if (strcmp(rules, w->rules)) {
		unwatch(w, &w->wd_rules);
		snprintf(w->rules, sizeof w->rules, "%s", rules);
	}
	add_watches(w, now);
}

static void reload(struct watch *w, const char *why, double now)
{
	struct cfg nc;
	double old_rescan = w->rescan;
	if (cfg_load(&nc, w->cfg.home) < 0) {
		log_err("keeping the previous configuration");
		return;
	}
	cfg_free(&w->cfg);
	w->cfg = nc;
	apply_cfg(w, now);
	if (w->rescan != old_rescan && !w->child)
		w->next_rescan = w->rescan > 0 ? now + w->rescan : NEVER;
	log_info("configuration reloaded (%s): incoming '%s', settle %g s, debounce %g s, "
		 "max delay %g s, rescan %g s",
	    why, w->incoming, w->settle, w->debounce, w->maxdelay, w->rescan);
}

/* ---- status file and service manager ---- */

static const char *state_name(const struct watch *w)
{
	if (w->stopping)
		return w->child ? "stopping" : "stopped";
	if (w->child)
		return "running";
	if (w->want)
		return "waiting";
	return w->nst ? "settling" : "idle";
}

static void json_time(struct buf *b, double t)
{
	char buf[40];
	if (t < 0)
		buf_add(b, "null", 4);
	else
		buf_printf(b, "\"%s\"", iso(t, buf, sizeof buf));
}

/* The status as JSON text into b. */
static void status_json(struct watch *w, struct buf *b, double now)
{
	double rn = real_now(), due;
	char reasons[128];
	buf_printf(b, "{\n  \"pid\": %ld,\n  \"started\": ", (long)getpid());
	json_time(b, w->started);
	buf_add(b, ",\n  \"updated\": ", 14);
	json_time(b, rn);
	buf_printf(b, ",\n  \"state\": \"%s\",\n  \"home\": ", state_name(w));
	json_str_buf(b, w->cfg.home);
	buf_add(b, ",\n  \"incoming\": ", 16);
	json_str_buf(b, w->incoming);
	buf_add(b, ",\n  \"command\": ", 15);
	json_str_buf(b, w->command);
	buf_printf(b, ",\n  \"settle\": %g,\n  \"debounce\": %g,\n  \"max_delay\": %g,\n  \"rescan\": %g",
	    w->settle, w->debounce, w->maxdelay, w->rescan);
	buf_add(b, ",\n  \"last_event\": ", 17);
	if (w->last_event_kind) {
		buf_add(b, "{\"time\": ", 9);
		json_time(b, w->last_event_real);
		buf_printf(b, ", \"kind\": \"%s\", \"name\": ", w->last_event_kind);
		if (w->last_event_name[0])
			json_str_buf(b, w->last_event_name);
		else
			buf_add(b, "null", 4);
		buf_add(b, "}", 1);
	} else {
		buf_add(b, "null", 4);
	}
	buf_printf(b, ",\n  \"cycles\": %ld,\n  \"last_run\": ", w->cycles);
	if (w->cycles) {
		reasons_text(w->run_reasons, reasons, sizeof reasons);
		buf_add(b, "{\"start\": ", 10);
		json_time(b, w->run_start);
		buf_add(b, ", \"end\": ", 9);
		json_time(b, w->run_end);
		if (w->run_exit >= 0)
			buf_printf(b, ", \"exit\": %d", w->run_exit);
		else
			buf_add(b, ", \"exit\": null", 14);
		buf_printf(b, ", \"reason\": \"%s\"}", reasons);
	} else {
		buf_add(b, "null", 4);
	}
	if (w->child)
		buf_printf(b, ",\n  \"running_pid\": %ld", (long)w->child);
	else
		buf_add(b, ",\n  \"running_pid\": null", 23);
	reasons_text(w->want, reasons, sizeof reasons);
	buf_printf(b, ",\n  \"pending\": {\"count\": %ld, \"reason\": \"%s\", \"names\": [", w->nevents,
	    reasons);
	for (int i = 0; i < w->nnames; i++) {
		if (i)
			buf_add(b, ", ", 2);
		json_str_buf(b, w->names[i] ? w->names[i] : "");
	}
	buf_printf(b, "]},\n  \"settling\": {\"count\": %d, \"names\": [", w->nst);
	for (int i = 0; i < w->nst && i < MAX_NAMES; i++) {
		if (i)
			buf_add(b, ", ", 2);
		json_str_buf(b, w->st[i].name);
	}
	buf_add(b, "]},\n  \"next_cycle\": ", 20);
	due = w->child || w->stopping ? NEVER : cycle_due(w);
	json_time(b, due >= NEVER ? -1 : rn + (due > now ? due - now : 0));
	buf_add(b, ",\n  \"next_rescan\": ", 18);
	json_time(b, w->child || w->stopping || w->next_rescan >= NEVER ? -1 : rn + (w->next_rescan - now));
	if (w->wakeup_epoch > 0)
		buf_printf(b, ",\n  \"next_wakeup\": %.0f", w->wakeup_epoch);
	else
		buf_add(b, ",\n  \"next_wakeup\": null", 23);
	buf_printf(b, ",\n  \"overflows\": %ld,\n  \"rescans\": %ld,\n  \"failures\": %d\n}\n",
	    w->overflows, w->rescans, w->failures);
}

/* Write state/watch.json if due; on failure keep it dirty and retry with
 * a growing delay (1 s .. 60 s), logging once per streak. */
static void status_write(struct watch *w, double now, int force)
{
	struct buf b = {0};
	if (!w->status_dirty && !force)
		return;
	if (now < w->status_next && !(force && !w->status_failing))
		return;
	status_json(w, &b, now);
	if (!b.oom && fsx_write_file(w->status_path, b.p, b.n, 0644) == 0) {
		if (w->status_failing)
			log_info("status file '%s' written again", w->status_path);
		w->status_failing = 0;
		w->status_dirty = 0;
		w->status_backoff = 0;
		w->status_next = now + STATUS_SPACING;
	} else {
		int e = b.oom ? ENOMEM : errno;
		if (!w->status_failing)
			log_warn("cannot write '%s': %s; retrying", w->status_path, strerror(e));
		w->status_failing = 1;
		w->status_dirty = 1;
		w->status_backoff = w->status_backoff ? w->status_backoff * 2 : 1;
		if (w->status_backoff > 60)
			w->status_backoff = 60;
		w->status_next = now + w->status_backoff;
	}
	buf_free(&b);
}

static void notify_status(struct watch *w, const char *extra)
{
	char msg[512];
	snprintf(msg, sizeof msg, "%sSTATUS=%s; %ld cycles, last exit %d; %ld pending, %d settling", extra,
	    state_name(w), w->cycles, w->run_exit, w->nevents, w->nst);
	if (watch_notify(msg) < 0)
		log_debug("cannot notify the service manager: %s", strerror(errno));
}

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
	delay = wk - real_now();
	if (delay < 1)
		delay = 1;
	w->wakeup_at = now + delay;
	w->wakeup_epoch = wk;
	log_info("next wakeup for waiting groups at %s (in %.1f s)", iso(wk, buf, sizeof buf), delay);
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

static void start_cycle(struct watch *w, double now)
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
	w->run_start = real_now();
	w->run_end = -1;
	w->run_exit = -1;
	reasons_text(w->want, reasons, sizeof reasons);
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
	status_write(w, now, 1);
	notify_status(w, "");
}

static void cycle_done(struct watch *w, int status, double now)
{
	double took = now - w->child_mono;
	w->child = 0;
	w->run_exit = status;
	w->run_end = real_now();
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
		trigger(w, R_RETRY, 1, now);
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
	w->next_rescan = w->rescan > 0 ? now + w->rescan : NEVER;
	if (w->opt.once) {
		w->stopping = 1;
		w->exit_status = status;
	}
	w->status_dirty = 1;
	status_write(w, now, 1);
	notify_status(w, "");
}

static void reap(struct watch *w, double now)
{
	int st;
	pid_t p;
	while ((p = waitpid(-1, &st, WNOHANG)) > 0)
		if (p == w->child)
			cycle_done(w, WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), now);
}

/* ---- events ---- */

static int self_gone(uint32_t mask)
{
	return mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT);
}

static void handle_event(struct watch *w, const struct inotify_event *ev, double now)
{
	const char *name = ev->len ? ev->name : "";
	if (ev->mask & IN_Q_OVERFLOW) {
		overflow(w, "inotify queue overflow", now);
		return;
	}
	if (ev->wd < 0)
		return;
	if (ev->wd == w->wd_in) {
		if (self_gone(ev->mask)) {
			log_warn("'%s' went away; watching for it to come back", w->incoming);
			unwatch(w, &w->wd_in);
			settle_clear(w);
			w->in_warned = 1;
			w->rewatch_at = now + 1;
		} else if (*name && !(ev->mask & IN_ISDIR) && !watch_ignored(name)) {
			if (ev->mask & IN_MOVED_TO) {
				settle_drop(w, name);
				counted(w, name, "moved in", now);
			} else if (ev->mask & IN_CLOSE_WRITE) {
				settle_add(w, name, now);
			}
		}
	}
	if (ev->wd == w->wd_home) {
		if (self_gone(ev->mask)) {
			unwatch(w, &w->wd_home);
			w->rewatch_at = now + 1;
		} else if (!strcmp(name, "uvmake.conf") && (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO))) {
			reload(w, "uvmake.conf changed", now);
			trigger(w, R_CONFIG, 0, now);
		}
	}
	if (ev->wd == w->wd_rules) {
		if (self_gone(ev->mask)) {
			unwatch(w, &w->wd_rules);
			w->rewatch_at = now + 1;
		} else if (*name && !watch_ignored(name)) {
			log_info("rules changed: '%s'", name);
			trigger(w, R_RULES, 0, now);
		}
	}
}

static void read_events(struct watch *w, double now)
{
	char buf[65536] __attribute__((aligned(__alignof__(struct inotify_event))));
	for (;;) {
		ssize_t n = read(w->ifd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n < 0 && errno != EAGAIN)
				log_warn("cannot read inotify events: %s", strerror(errno));
			return;
		}
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			p += sizeof *ev + ev->len;
			handle_event(w, ev, now);
		}
	}
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
				reload(w, "SIGHUP", now);
				trigger(w, R_CONFIG, 0, now);
				break;
			case SIGUSR1:
				overflow(w, "SIGUSR1 (treated as an inotify queue overflow)", now);
				break;
			case SIGCHLD:
				reap(w, now);
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
	return sigaction(SIGPIPE, &sa, NULL);
}

static double min2(double a, double b) { return a < b ? a : b; }

static int poll_timeout(const struct watch *w, double now)
{
	double t = NEVER, ms;
	if (!w->child && !w->stopping) {
		t = min2(t, cycle_due(w));
		t = min2(t, w->next_rescan);
		t = min2(t, w->wakeup_at);
	}
	t = min2(t, settle_next(w));
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
		double now = mono();
		struct pollfd pf[2] = {{.fd = sigfd, .events = POLLIN}, {.fd = w->ifd, .events = POLLIN}};
		settle_check(w, now);
		if (now >= w->rewatch_at)
			add_watches(w, now);
		if (!w->child && !w->stopping) {
			if (now >= w->wakeup_at) {
				w->wakeup_at = NEVER;
				trigger(w, R_WAKEUP, 1, now);
			}
			if (now >= w->next_rescan) {
				w->next_rescan = NEVER;
				w->rescans++;
				trigger(w, R_RESCAN, 1, now);
			}
			if (now >= cycle_due(w))
				start_cycle(w, now);
		}
		if (w->stopping && !w->child)
			return;
		status_write(w, now, 0);
		if (w->wd_interval > 0 && now >= w->wd_next) {
			watch_notify("WATCHDOG=1");
			w->wd_next = now + w->wd_interval;
		}
		if (poll(pf, w->ifd >= 0 ? 2 : 1, poll_timeout(w, now)) < 0 && errno != EINTR) {
			log_err("poll: %s", strerror(errno));
			sleep(1);
		}
		now = mono();
		handle_signals(w, sigfd, now);
		if (w->ifd >= 0 && (pf[1].revents & POLLIN))
			read_events(w, now);
	}
}

int watch_main(const struct watch_opt *opt)
{
	struct watch w;
	struct stat sb;
	char state[PATH_MAX + 8];
	int pipefd[2] = {-1, -1}, st = 0;
	const char *home = opt->home;
	double now = mono();

	memset(&w, 0, sizeof w);
	w.opt = *opt;
	w.command = opt->command ? opt->command : "uvm-make";
	w.ifd = w.wd_in = w.wd_home = w.wd_rules = -1;
	w.rewatch_at = w.next_rescan = w.wakeup_at = NEVER;
	w.wakeup_epoch = -1;
	w.run_exit = -1;
	w.run_end = -1;
	w.started = real_now();
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
	apply_cfg(&w, now);
	if (!opt->once)
		log_info("watching '%s' (settle %g s, debounce %g s, max delay %g s, rescan %g s%s%s%s), "
			 "cycle: %s",
		    w.incoming, w.settle, w.debounce, w.maxdelay, w.rescan, w.rules[0] ? ", rules '" : "",
		    w.rules, w.rules[0] ? "'" : "", w.command);
	trigger(&w, R_STARTUP, 1, now);
	w.status_dirty = 1;
	status_write(&w, now, 1);
	notify_status(&w, "READY=1\n");
	loop(&w, pipefd[0]);
	st = opt->once ? w.exit_status : 0;
	log_info("stopped after %ld cycle%s", w.cycles, w.cycles == 1 ? "" : "s");
	w.status_dirty = 1;
	w.status_failing = 0;
	status_write(&w, mono(), 1);
out:
	watch_notify_close();
	for (int i = 0; i < w.nnames; i++)
		free(w.names[i]);
	settle_clear(&w);
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

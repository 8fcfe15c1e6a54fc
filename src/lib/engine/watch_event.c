/*
 * watch_event.c: how uvm-watch turns what it sees into wanting a cycle.
 * Triggers (an event, an overflow, a timer) and the debounce arithmetic;
 * the settling of files written in place (counted once stat shows no
 * change for the settle interval); the configuration (flags over
 * uvmake.conf) and the inotify watches it derives, re-armed when a
 * directory comes back; and the decoding of inotify events. Kept apart
 * from the loop and from the cycle runner: it only records *that* a cycle
 * is wanted, never starts one.
 */
#include "engine/watch_priv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/json.h"
#include "core/log.h"
#include "engine/plan.h"

/* ---- triggers ---- */

/* Ask for a cycle; immediate ones skip the debounce (timers, startup). */
void watch_trigger(struct watch *w, unsigned reason, int immediate, double now)
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
	w->last_event_real = watch_real_now();
	w->last_event_kind = kind;
	log_debug("%s: '%s'", kind, name);
	watch_trigger(w, R_EVENT, 0, now);
}

void watch_overflow(struct watch *w, const char *why, double now)
{
	w->overflows++;
	w->last_event_real = watch_real_now();
	w->last_event_name[0] = 0;
	w->last_event_kind = "overflow";
	log_warn("%s: events may have been lost; a full rescan (cycle) follows", why);
	watch_trigger(w, R_OVERFLOW, 0, now);
}

/* When the next cycle may start (NEVER: nothing wanted, or still settling). */
double watch_cycle_due(const struct watch *w)
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

void watch_settle_clear(struct watch *w)
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

void watch_settle_check(struct watch *w, double now)
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

double watch_settle_next(const struct watch *w)
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
void watch_add_watches(struct watch *w, double now)
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
			watch_trigger(w, R_RESCAN, 0, now); /* files may have landed meanwhile */
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
void watch_apply_cfg(struct watch *w, double now)
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
		watch_settle_clear(w);
		snprintf(w->incoming, sizeof w->incoming, "%s", in);
		w->in_warned = 0;
	}
	if (strcmp(rules, w->rules)) {
		unwatch(w, &w->wd_rules);
		snprintf(w->rules, sizeof w->rules, "%s", rules);
	}
	watch_add_watches(w, now);
}

void watch_reload(struct watch *w, const char *why, double now)
{
	struct cfg nc;
	double old_rescan = w->rescan;
	if (cfg_load(&nc, w->cfg.home) < 0) {
		log_err("keeping the previous configuration");
		return;
	}
	cfg_free(&w->cfg);
	w->cfg = nc;
	watch_apply_cfg(w, now);
	if (w->rescan != old_rescan && !w->child)
		w->next_rescan = w->rescan > 0 ? now + w->rescan : NEVER;
	log_info("configuration reloaded (%s): incoming '%s', settle %g s, debounce %g s, "
		 "max delay %g s, rescan %g s",
	    why, w->incoming, w->settle, w->debounce, w->maxdelay, w->rescan);
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
		watch_overflow(w, "inotify queue overflow", now);
		return;
	}
	if (ev->wd < 0)
		return;
	if (ev->wd == w->wd_in) {
		if (self_gone(ev->mask)) {
			log_warn("'%s' went away; watching for it to come back", w->incoming);
			unwatch(w, &w->wd_in);
			watch_settle_clear(w);
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
			watch_reload(w, "uvmake.conf changed", now);
			watch_trigger(w, R_CONFIG, 0, now);
		}
	}
	if (ev->wd == w->wd_rules) {
		if (self_gone(ev->mask)) {
			unwatch(w, &w->wd_rules);
			w->rewatch_at = now + 1;
		} else if (*name && !watch_ignored(name)) {
			log_info("rules changed: '%s'", name);
			watch_trigger(w, R_RULES, 0, now);
		}
	}
}

void watch_read_events(struct watch *w, double now)
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

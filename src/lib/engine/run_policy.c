/*
 * run_policy.c: the wrapper's decisions as pure functions (contract in
 * run.h): which class an outcome is, what that class asks for (retry in
 * place, defer, dead-letter, quarantine), the backoff with jitter, the
 * circuit breaker's state machine, and the small text helpers. Nothing
 * here touches the database or the process table, so tests/unit/test_run.c
 * can check every rule directly.
 */
#include "engine/run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/uvm.h"

static const char *const class_names[RC_NCLASS] = {
    [RC_OK] = "ok",
    [RC_USAGE] = "usage",
    [RC_DATAERR] = "dataerr",
    [RC_NOINPUT] = "noinput",
    [RC_UNAVAILABLE] = "unavailable",
    [RC_SOFTWARE] = "software",
    [RC_CANTCREAT] = "cantcreat",
    [RC_IOERR] = "ioerr",
    [RC_TEMPFAIL] = "tempfail",
    [RC_BUSY] = "busy",
    [RC_OTHER] = "other",
    [RC_SIGNAL] = "signal",
    [RC_TIMEOUT] = "timeout",
    [RC_LOST] = "lost",
    [RC_DISK] = "disk",
    [RC_BREAKER] = "breaker",
    [RC_INTERRUPTED] = "interrupted",
    [RC_RESOURCE] = "resource",
    [RC_OVERFLAGGED] = "overflagged",
    [RC_STAGING] = "staging",
};

const char *run_class_name(enum run_class c)
{
	return (c >= 0 && c < RC_NCLASS) ? class_names[c] : "other";
}

void run_policy_load(struct run_policy *p, const struct cfg *c, const char *stage)
{
	char key[128];
	p->retry_max = (int)cfg_int(c, "RETRY_MAX", 5);
	p->base = cfg_double(c, "RETRY_BASE", 2);
	p->cap = cfg_double(c, "RETRY_CAP", 3600);
	p->inline_max = cfg_double(c, "RETRY_INLINE_MAX", 10);
	p->unavail_base = cfg_double(c, "RETRY_UNAVAILABLE_BASE", 300);
	p->timeout = cfg_double(c, "TIMEOUT", 3600);
	snprintf(key, sizeof key, "TIMEOUT_%s", stage);
	p->timeout = cfg_double(c, key, p->timeout);
	p->kill_grace = cfg_double(c, "KILL_GRACE", 10);
	p->breaker_fails = (int)cfg_int(c, "BREAKER_FAILS", 5);
	p->breaker_window = cfg_double(c, "BREAKER_WINDOW", 600);
	p->breaker_cooldown = cfg_double(c, "BREAKER_COOLDOWN", 300);
	p->disk_margin_mb = cfg_int(c, "DISK_MARGIN_MB", 512);
	if (p->retry_max < 1)
		p->retry_max = 1;
	if (p->base < 0)
		p->base = 0;
	if (p->kill_grace < 0)
		p->kill_grace = 0;
}

enum run_class run_classify(int exited, int status, int sig, int timed_out, int interrupted)
{
	(void)sig;
	if (interrupted)
		return RC_INTERRUPTED;
	if (timed_out)
		return RC_TIMEOUT;
	if (!exited)
		return RC_SIGNAL;
	switch (status) {
	case 0: return RC_OK;
	case EX_USAGE: return RC_USAGE;
	case EX_DATAERR: return RC_DATAERR;
	case EX_NOINPUT: return RC_NOINPUT;
	case EX_UNAVAILABLE: return RC_UNAVAILABLE;
	case EX_SOFTWARE: return RC_SOFTWARE;
	case EX_CANTCREAT: return RC_CANTCREAT;
	case EX_IOERR: return RC_IOERR;
	case EX_TEMPFAIL: return RC_TEMPFAIL;
	case UVM_EX_BUSY: return RC_BUSY;
	case UVM_EX_OVERFLAGGED: return RC_OVERFLAGGED;
	default: return RC_OTHER;
	}
}

int run_class_systemic(enum run_class c)
{
	switch (c) {
	case RC_SOFTWARE:
	case RC_CANTCREAT:
	case RC_IOERR:
	case RC_TEMPFAIL:
	case RC_BUSY:
	case RC_OTHER:
	case RC_SIGNAL:
	case RC_TIMEOUT:
		return 1;
	default:
		return 0;
	}
}

int run_class_exit(enum run_class c, int status)
{
	switch (c) {
	case RC_OK:
		return 0;
	case RC_SIGNAL:
	case RC_TIMEOUT:
	case RC_LOST:
	case RC_BREAKER:
	case RC_INTERRUPTED:
	case RC_RESOURCE:
	case RC_STAGING:
		return EX_TEMPFAIL;
	case RC_DISK:
		return EX_IOERR;
	default:
		return status > 0 && status < 256 ? status : EX_SOFTWARE;
	}
}

double run_backoff(double base, double cap, int n)
{
	double d = base;
	for (int i = 1; i < n && d < cap; i++)
		d *= 2;
	return d > cap ? cap : d;
}

void run_decide(const struct run_policy *p, enum run_class c, int attempt, double rnd,
    struct run_decision *d)
{
	double nominal = 0;
	memset(d, 0, sizeof *d);
	d->counted = 1;
	switch (c) {
	case RC_OK:
		d->action = RA_DONE;
		return;
	case RC_USAGE:
	case RC_SOFTWARE:
	case RC_OVERFLAGGED: /* the same data give the same answer */
		d->action = RA_DEAD;
		d->alert = 1;
		return;
	case RC_DATAERR:
		d->action = RA_QUARANTINE;
		return;
	case RC_LOST:
	case RC_BREAKER:
	case RC_INTERRUPTED:
	case RC_RESOURCE:
		d->action = RA_NONE;
		d->counted = 0;
		return;
	case RC_STAGING: /* the staging file system failed, not the job */
		d->action = RA_RETRY;
		d->counted = 0;
		return;
	case RC_DISK:
		/* attempt is the count of consecutive disk deferrals here */
		d->counted = 0;
		d->action = RA_DEFER;
		nominal = run_backoff(p->base, p->cap, attempt);
		break;
	case RC_NOINPUT:
		d->action = RA_DEFER;
		nominal = run_backoff(p->base, p->cap, attempt);
		break;
	case RC_UNAVAILABLE:
		d->action = RA_DEFER;
		nominal = run_backoff(p->unavail_base,
		    p->cap > p->unavail_base ? p->cap : p->unavail_base, attempt);
		break;
	default: /* the transient classes */
		nominal = run_backoff(p->base, p->cap, attempt);
		d->action = nominal <= p->inline_max ? RA_RETRY : RA_DEFER;
		d->alert = c == RC_IOERR;
		break;
	}
	if (d->counted && attempt >= p->retry_max) {
		d->action = RA_DEAD;
		d->alert = 1;
		return;
	}
	if (rnd < 0)
		rnd = 0;
	if (rnd >= 1)
		rnd = 0.999999;
	d->delay = nominal * (0.5 + 0.5 * rnd);
}

const char *run_brk_name(enum run_brk_state s)
{
	return s == BRK_OPEN ? "open" : s == BRK_HALF ? "half-open" : "closed";
}

enum run_brk_state run_brk_parse(const char *s)
{
	if (s && !strcmp(s, "open"))
		return BRK_OPEN;
	if (s && !strcmp(s, "half-open"))
		return BRK_HALF;
	return BRK_CLOSED;
}

enum run_admit run_breaker_admit(const struct run_policy *p, const struct run_breaker *b,
    double now, int trial_alive)
{
	if (p->breaker_fails <= 0)
		return ADMIT_RUN;
	switch (b->state) {
	case BRK_OPEN:
		return now >= b->opened_at + p->breaker_cooldown ? ADMIT_TRIAL : ADMIT_REFUSE;
	case BRK_HALF:
		return trial_alive ? ADMIT_REFUSE : ADMIT_TRIAL;
	default:
		return ADMIT_RUN;
	}
}

int run_breaker_record(const struct run_policy *p, struct run_breaker *b, enum run_class c,
    int is_trial, double now)
{
	if (c == RC_OK) {
		if (b->state == BRK_CLOSED && !b->fails && !b->first_fail_at && !b->trial_pid)
			return 0;
		b->state = BRK_CLOSED;
		b->fails = 0;
		b->first_fail_at = 0;
		b->trial_pid = 0;
		return 1;
	}
	if (!run_class_systemic(c) || p->breaker_fails <= 0) {
		/* says nothing about the stage: only give up the trial */
		if (is_trial && b->state == BRK_HALF && b->trial_pid) {
			b->trial_pid = 0;
			return 1;
		}
		return 0;
	}
	switch (b->state) {
	case BRK_HALF:
		if (!is_trial)
			return 0;
		b->state = BRK_OPEN;
		b->opened_at = now;
		b->trial_pid = 0;
		b->fails++;
		return 1;
	case BRK_OPEN:
		return 0;
	default:
		if (b->fails == 0 || now - b->first_fail_at > p->breaker_window) {
			b->fails = 1;
			b->first_fail_at = now;
		} else {
			b->fails++;
		}
		if (b->fails >= p->breaker_fails) {
			b->state = BRK_OPEN;
			b->opened_at = now;
		}
		return 1;
	}
}

int run_valid_name(const char *s)
{
	if (!s || !*s || *s == '.' || strlen(s) > 128)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
			(*s >= '0' && *s <= '9') || *s == '_' || *s == '-' || *s == '.'))
			return 0;
	return 1;
}

int run_group_from_target(const char *t, char *grp, size_t n)
{
	const char *g, *e;
	size_t len;
	while (t[0] == '.' && t[1] == '/')
		t += 2;
	if (!strncmp(t, "products/", 9)) {
		g = t + 9;
		e = strchr(g, '/');
		if (!e || !e[1])
			return -1;
	} else if (!strncmp(t, "caltables/", 10)) {
		g = t + 10;
		len = strlen(g);
		if (strchr(g, '/') || len <= 7 || strcmp(g + len - 7, ".cal.h5"))
			return -1;
		e = g + len - 7;
	} else {
		return -1;
	}
	len = (size_t)(e - g);
	if (len == 0 || len >= n)
		return -1;
	memcpy(grp, g, len);
	grp[len] = 0;
	return run_valid_name(grp) ? 0 : -1;
}

/* Bytes needed to render one argument; plain words need no quoting. */
static int plain_word(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
			(*s >= '0' && *s <= '9') || strchr("_@%+=:,./-", *s)))
			return 0;
	return 1;
}

static int has_ctrl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

char *run_render_argv(char *const argv[])
{
	size_t cap = 1;
	char *out, *p;
	for (int i = 0; argv[i]; i++)
		cap += 4 * strlen(argv[i]) + 4;
	out = malloc(cap);
	if (!out)
		return NULL;
	p = out;
	for (int i = 0; argv[i]; i++) {
		const char *s = argv[i];
		if (i)
			*p++ = ' ';
		if (plain_word(s)) {
			size_t l = strlen(s);
			memcpy(p, s, l);
			p += l;
		} else if (!has_ctrl(s)) {
			*p++ = '\'';
			for (; *s; s++) {
				if (*s == '\'') {
					memcpy(p, "'\\''", 4);
					p += 4;
				} else {
					*p++ = *s;
				}
			}
			*p++ = '\'';
		} else {
			*p++ = '$';
			*p++ = '\'';
			for (; *s; s++) {
				unsigned char ch = (unsigned char)*s;
				if (ch == '\n') {
					*p++ = '\\';
					*p++ = 'n';
				} else if (ch == '\t') {
					*p++ = '\\';
					*p++ = 't';
				} else if (ch < 0x20 || ch == 0x7f) {
					p += sprintf(p, "\\x%02x", ch);
				} else if (ch == '\'' || ch == '\\') {
					*p++ = '\\';
					*p++ = (char)ch;
				} else {
					*p++ = (char)ch;
				}
			}
			*p++ = '\'';
		}
	}
	*p = 0;
	return out;
}

char **run_split_launch(const char *launch, int *n)
{
	size_t words = 1;
	char **v, *copy, *save = NULL;
	int k = 0;
	for (const char *s = launch; *s; s++)
		words += *s == ',';
	v = calloc(words + 1, sizeof *v);
	copy = strdup(launch);
	if (!v || !copy) {
		free(v);
		free(copy);
		return NULL;
	}
	for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		v[k] = strdup(w);
		if (!v[k]) {
			for (int i = 0; i < k; i++)
				free(v[i]);
			free(v);
			free(copy);
			return NULL;
		}
		k++;
	}
	free(copy);
	*n = k;
	return v;
}

char *run_fmt_time(double t, char *buf, size_t n)
{
	time_t s = (time_t)t;
	struct tm tm;
	gmtime_r(&s, &tm);
	strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

int run_line_stamped(const char *l, size_t n)
{
	return n >= 25 && l[0] >= '0' && l[0] <= '9' && l[4] == '-' && l[10] == 'T' &&
	    l[23] == 'Z' && l[24] == ' ';
}

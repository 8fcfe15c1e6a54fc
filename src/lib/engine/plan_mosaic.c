/*
 * plan_mosaic.c: which hourly mosaics the makefile holds (contract in
 * plan.h), and state/hours.idx, the hours whose mosaic is finished.
 *
 * A mosaic is the product of the per-hour stage of rules/stages (scope
 * hour; its template, mosaics/{H}.fits, and its one per-group input, qa,
 * come from there): mosaics/H.fits depends on the qa.json of exactly the
 * groups of hour H, so make re-makes it when one of them is (re-)made, and
 * nothing else. Groups keep their own notion of
 * finished (their qa.json exists, done.idx); an hour is finished when none
 * of its groups is active or waiting and its mosaic is up to date, and it
 * then goes to hours.idx and out of the makefile, so the cost follows the
 * unfinished hours, as for groups. The only pass over the history is one
 * walk of the done index already in memory, with one lookup in hours.idx
 * per distinct hour.
 *
 * Crash safety: hours.idx is only a cache of a fact the planner can
 * recompute (mosaic exists, no active group, not older than its inputs),
 * written atomically and before done.idx and pipeline.mk (plan_run.c). An
 * hour leaves it as soon as one of its groups is active again (uvm-remake,
 * a late group), and that removal is written before the group can finish,
 * so a SIGKILL anywhere leaves at worst an hour re-examined by the next run.
 */
#include "engine/plan.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/fsx.h"
#include "core/log.h"

long long plan_id_epoch(const char *id)
{
	int v[6], w[6] = {4, 2, 2, 2, 2, 2};
	const char *s = id;
	for (int k = 0; k < 6; k++) {
		v[k] = 0;
		if (k == 3 && *s++ != 'T')
			return -1;
		for (int i = 0; i < w[k]; i++, s++) {
			if (*s < '0' || *s > '9')
				return -1;
			v[k] = v[k] * 10 + (*s - '0');
		}
	}
	if (*s || v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 || v[3] > 23 || v[4] > 59 ||
	    v[5] > 60)
		return -1;
	return ids_days_from_civil(v[0], v[1], v[2]) * 86400 + v[3] * 3600LL + v[4] * 60 + v[5];
}

void plan_hour_of(long long t, int hours, char *id, long long *start)
{
	long long span = hours * 3600LL, s = t - ((t % span) + span) % span;
	ids_group_id(s, id);
	id[11] = 0;
	*start = s;
}

static int cmp_id(const void *a, const void *b)
{
	return strcmp(a, b);
}

int plan_hours_has(const struct plan_hoursidx *h, const char *id)
{
	return h->n && bsearch(id, h->v, (size_t)h->n, sizeof *h->v, cmp_id) != NULL;
}

/* Insert or remove id, keeping the order. 0 or -1 (ENOMEM). */
static int hours_set(struct plan_hoursidx *h, const char *id, int on)
{
	int lo = 0, hi = h->n;
	while (lo < hi) {
		int mid = (lo + hi) / 2;
		if (strcmp(h->v[mid], id) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < h->n && !strcmp(h->v[lo], id)) {
		if (!on) {
			memmove(h->v + lo, h->v + lo + 1, (size_t)(h->n - lo - 1) * sizeof *h->v);
			h->n--;
			h->dirty = 1;
		}
		return 0;
	}
	if (!on)
		return 0;
	if (h->n == h->cap) {
		int nc = h->cap ? 2 * h->cap : 256;
		char(*nv)[PLAN_IDLEN] = realloc(h->v, (size_t)nc * sizeof *nv);
		if (!nv)
			return -1;
		h->v = nv;
		h->cap = nc;
	}
	memmove(h->v + lo + 1, h->v + lo, (size_t)(h->n - lo) * sizeof *h->v);
	snprintf(h->v[lo], PLAN_IDLEN, "%s", id);
	h->n++;
	h->dirty = 1;
	return 0;
}

int plan_hours_load(struct plan_hoursidx *h, const char *path)
{
	size_t len;
	char *text, *save = NULL;
	memset(h, 0, sizeof *h);
	text = fsx_read_file(path, &len);
	if (!text)
		return errno == ENOENT ? 0 : -1;
	h->existed = 1;
	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char id[PLAN_IDLEN + 4];
		if (strlen(l) != 11 || (snprintf(id, sizeof id, "%s0000", l), plan_id_epoch(id) < 0)) {
			log_warn("%s: malformed line ignored", path);
			continue;
		}
		if (hours_set(h, l, 1) < 0) {
			free(text);
			plan_hours_free(h);
			errno = ENOMEM;
			return -1;
		}
	}
	free(text);
	h->dirty = 0;
	return 0;
}

int plan_hours_save(struct plan_hoursidx *h, const char *path)
{
	char *buf;
	int r;
	if (!h->dirty && h->existed)
		return 0;
	buf = malloc((size_t)h->n * 12 + 1);
	if (!buf)
		return -1;
	for (int i = 0; i < h->n; i++) {
		memcpy(buf + 12 * i, h->v[i], 11);
		buf[12 * i + 11] = '\n';
	}
	r = fsx_write_file(path, buf, (size_t)h->n * 12, 0644);
	free(buf);
	if (r == 0) {
		h->dirty = 0;
		h->existed = 1;
	}
	return r;
}

void plan_hours_free(struct plan_hoursidx *h)
{
	free(h->v);
	memset(h, 0, sizeof *h);
}

/* A growing list of candidate hour starts. */
struct starts {
	long long *v;
	int n, cap;
};

static int push(struct starts *s, long long t)
{
	if (s->n && s->v[s->n - 1] == t)
		return 0;
	if (s->n == s->cap) {
		int nc = s->cap ? 2 * s->cap : 64;
		long long *nv = realloc(s->v, (size_t)nc * sizeof *nv);
		if (!nv)
			return -1;
		s->v = nv;
		s->cap = nc;
	}
	s->v[s->n++] = t;
	return 0;
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return (x > y) - (x < y);
}

/* The hour start of a group id (-1 if malformed). */
static long long id_hour(const char *id, long long span)
{
	long long t = plan_id_epoch(id);
	return t < 0 ? -1 : t - t % span;
}

/* Append group id's product of the per-hour stage's input
 * (products/<id>/qa.json) to hr's inputs; with check, only when it exists
 * (its mtime raised into *newest). 0 or -1 (ENOMEM). */
static int add_input(const struct plan *p, struct plan_hour *hr, const char *id, int homefd,
    int check, struct timespec *newest)
{
	char path[PATH_MAX], **nv;
	struct stat st;
	stages_product(p->st, p->st->v[p->st->hour].in[0].stage, id, 0, path);
	if (check) {
		if (fstatat(homefd, path, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
			return 0;
		if (st.st_mtim.tv_sec > newest->tv_sec ||
		    (st.st_mtim.tv_sec == newest->tv_sec && st.st_mtim.tv_nsec > newest->tv_nsec))
			*newest = st.st_mtim;
	}
	nv = realloc(hr->inputs, (size_t)(hr->ninputs + 1) * sizeof *nv);
	if (!nv)
		return -1;
	hr->inputs = nv;
	if (!(hr->inputs[hr->ninputs] = strdup(path)))
		return -1;
	hr->ninputs++;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void hour_free(struct plan_hour *hr)
{
	for (int i = 0; i < hr->ninputs; i++)
		free(hr->inputs[i]);
	free(hr->inputs);
	hr->inputs = NULL;
	hr->ninputs = 0;
}

/* 1 when every later per-hour stage's product of hour id (the mosaic's
 * catalogue) exists and is not older than its per-hour input. */
static int chain_made(const struct stages *stg, int homefd, const char *id)
{
	char path[PATH_MAX];
	struct stat a, b;
	for (int s = 0; s < stg->n; s++) {
		if (stg->v[s].scope != STAGE_HOUR || s == stg->hour)
			continue;
		stages_product(stg, s, id, 0, path);
		if (fstatat(homefd, path, &a, AT_SYMLINK_NOFOLLOW) < 0)
			return 0;
		stages_product(stg, stg->v[s].in[0].stage, id, 0, path);
		if (fstatat(homefd, path, &b, AT_SYMLINK_NOFOLLOW) < 0 ||
		    a.st_mtim.tv_sec < b.st_mtim.tv_sec ||
		    (a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec < b.st_mtim.tv_nsec))
			return 0;
	}
	return 1;
}

/*
 * Examine the hour starting at s: fill hr; *finished when it is finished.
 * 0 or -1 (ENOMEM).
 */
static int examine(const struct plan *p, const struct plan_doneidx *d, int homefd,
    const struct plan_mosaic_params *mp, long long s, long long latest, struct plan_hour *hr,
    int *finished, int *busy)
{
	long long span = mp->hours * 3600LL, tol = d->tol;
	int nactive = 0, waiting = 0, lo = 0, hi = p->ngroups;
	struct timespec newest = {0, 0};
	struct stat st;
	char path[PATH_MAX];

	memset(hr, 0, sizeof *hr);
	plan_hour_of(s, mp->hours, hr->id, &hr->start);
	*finished = *busy = 0;
	/* this run's groups of the hour: p->groups is sorted by id, so by time */
	ids_group_id(s, path);
	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		if (strcmp(p->groups[mid].id, path) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (int i = lo; i < p->ngroups && id_hour(p->groups[i].id, span) == s; i++) {
		const struct plan_group *g = &p->groups[i];
		if (g->state == PS_WAITING)
			waiting = 1;
		if (g->state == PS_READY || g->state == PS_PARTIAL || g->state == PS_WAITING)
			nactive++;
		if ((g->state == PS_READY || g->state == PS_PARTIAL) &&
		    add_input(p, hr, g->id, homefd, 0, &newest) < 0)
			return -1;
		if (g->retired && add_input(p, hr, g->id, homefd, 1, &newest) < 0)
			return -1;
	}
	/* done groups of the hour: their first file lies within tol of it */
	lo = 0;
	hi = d->nsorted;
	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		if (d->firsts[mid] < s - tol)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (int k = lo; k < d->nsorted && d->firsts[k] < s + span + tol; k++)
		if (id_hour(d->v[k].id, span) == s && add_input(p, hr, d->v[k].id, homefd, 1, &newest) < 0)
			return -1;
	*busy = nactive > 0;
	hr->planned = !waiting && (latest >= s + span || p->par.now >= s + span + mp->delay);
	if (!hr->planned || nactive)
		return 0;
	stages_product(p->st, p->st->hour, hr->id, 0, path);
	if (hr->ninputs == 0 ||
	    (fstatat(homefd, path, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		(st.st_mtim.tv_sec > newest.tv_sec ||
		    (st.st_mtim.tv_sec == newest.tv_sec && st.st_mtim.tv_nsec >= newest.tv_nsec)) &&
		chain_made(p->st, homefd, hr->id)))
		*finished = 1;
	return 0;
}

int plan_mosaics(struct plan *p, const struct plan_doneidx *d, struct plan_hoursidx *h, int homefd,
    const struct plan_mosaic_params *mp)
{
	struct starts c = {NULL, 0, 0};
	long long span = mp->hours * 3600LL, latest = -1, prev = -1;
	int rc = -1, fresh = !h->existed, nold = 0;

	p->nhours = 0;
	if (mp->hours <= 0 || p->st->hour < 0)
		return 0;
	for (int i = 0; i < p->ngroups; i++) {
		long long s = id_hour(p->groups[i].id, span);
		if (p->groups[i].first > latest)
			latest = p->groups[i].first;
		if (s >= 0 && !(p->groups[i].state == PS_DONE && !p->groups[i].retired) && push(&c, s) < 0)
			goto out;
	}
	/* the done index in time order: the hour changes rarely, so hours.idx
	 * is asked once per hour */
	for (int k = 0; k < d->nsorted; k++) {
		long long s;
		if (d->v[k].first > latest)
			latest = d->v[k].first;
		if (prev >= 0 && d->v[k].first >= prev && d->v[k].first + d->tol < prev + span)
			continue; /* same hour as the last one looked at */
		s = id_hour(d->v[k].id, span);
		if (s < 0 || s == prev)
			continue;
		prev = s;
		{
			char id[PLAN_IDLEN];
			long long s2;
			plan_hour_of(s, mp->hours, id, &s2);
			if (!plan_hours_has(h, id) && push(&c, s) < 0)
				goto out;
		}
	}
	if (c.n)
		qsort(c.v, (size_t)c.n, sizeof *c.v, cmp_ll);
	for (int i = 0; i < c.n; i++) {
		struct plan_hour hr, *nh;
		int finished, busy;
		if (i && c.v[i] == c.v[i - 1])
			continue;
		if (examine(p, d, homefd, mp, c.v[i], latest, &hr, &finished, &busy) < 0) {
			hour_free(&hr);
			goto out;
		}
		if (fresh && !busy && !finished && hr.planned) {
			/* a deployment older than mosaics: its history is not
			 * back-filled (uvm-remake mosaics/H.fits makes one) */
			finished = 1;
			nold++;
		}
		if (hours_set(h, hr.id, finished) < 0) {
			hour_free(&hr);
			goto out;
		}
		if (finished) {
			hour_free(&hr);
			continue;
		}
		if (hr.ninputs > 1)
			qsort(hr.inputs, (size_t)hr.ninputs, sizeof *hr.inputs, cmp_str);
		nh = realloc(p->hours, (size_t)(p->nhours + 1) * sizeof *nh);
		if (!nh) {
			hour_free(&hr);
			goto out;
		}
		p->hours = nh;
		p->hours[p->nhours++] = hr;
	}
	if (nold)
		log_info("%d finished hour(s) from before mosaics existed: not mosaicked "
			 "(uvm-remake mosaics/H.fits makes one)", nold);
	rc = 0;
out:
	free(c.v);
	return rc;
}

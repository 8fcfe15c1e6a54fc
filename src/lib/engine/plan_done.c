/*
 * plan_done.c: state/done.idx, the finished groups (contract in plan.h).
 *
 * A year of groups is ~100,000 lines; the planner loads the file on every
 * run, so it is plain text parsed in one pass, held in two sorted orders
 * (by first timestamp to classify a file name by binary search, by id to
 * answer "is this group done"), and rewritten whole and atomically when
 * groups finish, which happens at most once per group.
 */
#include "engine/plan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fsx.h"
#include "core/log.h"

static int by_first(const void *a, const void *b)
{
	const struct plan_done *x = a, *y = b;
	if (x->first != y->first)
		return x->first < y->first ? -1 : 1;
	return strcmp(x->id, y->id);
}

static int by_id(const void *a, const void *b, void *base)
{
	const struct plan_done *v = base;
	return strcmp(v[*(const int *)a].id, v[*(const int *)b].id);
}

int plan_done_add(struct plan_doneidx *d, const struct plan_done *e)
{
	if (d->n == d->cap) {
		int nc = d->cap ? d->cap * 2 : 1024;
		struct plan_done *nv = realloc(d->v, (size_t)nc * sizeof *nv);
		if (!nv)
			return -1;
		d->v = nv;
		d->cap = nc;
	}
	d->v[d->n++] = *e;
	d->dirty = 1;
	return 0;
}

/*
 * The time index: a compact copy of the sorted first timestamps and a
 * bucket table over their span (about two buckets per entry), so a lookup
 * touches two or three cache lines instead of a 17-step binary search over
 * the entries (which dominated a plan over a year of names).
 */
static int index_times(struct plan_doneidx *d)
{
	long long span, width;
	int nb, i = 0;
	free(d->firsts);
	free(d->bucket);
	d->firsts = NULL;
	d->bucket = NULL;
	d->nbucket = 0;
	if (d->n == 0)
		return 0;
	span = d->v[d->n - 1].first - d->v[0].first + 1;
	width = span / (2LL * d->n) + 1;
	nb = (int)(span / width + 1);
	d->firsts = malloc((size_t)d->n * sizeof *d->firsts);
	d->bucket = malloc(((size_t)nb + 1) * sizeof *d->bucket);
	if (!d->firsts || !d->bucket)
		return -1;
	for (int k = 0; k < d->n; k++)
		d->firsts[k] = d->v[k].first;
	d->t0 = d->v[0].first;
	d->width = width;
	d->nbucket = nb;
	for (int k = 0; k <= nb; k++) {
		long long start = d->t0 + (long long)k * width;
		while (i < d->n && d->firsts[i] < start)
			i++;
		d->bucket[k] = i;
	}
	return 0;
}

/*
 * The cover bitmap: one bit per second over the span of the done groups,
 * set inside the range of each group that lacked no subband. The names of
 * a year of finished groups (1.6M) arrive in directory-hash order, so each
 * lookup is a cache miss: one here instead of three in the time index.
 * Skipped (NULL) when the span would need more than 64 MB (years of
 * history, or a clock gone wrong): lookups then use the time index alone.
 */
static int index_cover(struct plan_doneidx *d)
{
	long long lo, hi;
	free(d->cover);
	d->cover = NULL;
	d->cover_len = 0;
	if (d->n == 0)
		return 0;
	lo = d->v[0].first;
	hi = lo;
	for (int i = 0; i < d->n; i++) {
		long long end = d->v[i].first + d->tol;
		if (d->v[i].last > end)
			end = d->v[i].last;
		if (end > hi)
			hi = end;
	}
	if ((hi - lo + 1) / 8 > 64LL << 20)
		return 0;
	d->cover_t0 = lo;
	d->cover_len = hi - lo + 1;
	d->cover = calloc((size_t)(d->cover_len / 8 + 1), 1);
	if (!d->cover)
		return -1;
	for (int i = 0; i < d->n; i++) {
		const struct plan_done *e = &d->v[i];
		long long end = e->last > e->first + d->tol ? e->last : e->first + d->tol;
		int any = 0;
		for (size_t k = 0; k < sizeof e->missing; k++)
			any |= e->missing[k];
		if (any)
			continue;
		for (long long t = e->first - lo; t <= end - lo; t++)
			d->cover[t >> 3] |= (unsigned char)(1 << (t & 7));
	}
	return 0;
}

int plan_done_match(const struct plan_doneidx *d, long long ts, int sb, const struct plan_done **e)
{
	const struct plan_done *x;
	long long t = ts - d->cover_t0;
	if (d->cover && t >= 0 && t < d->cover_len && (d->cover[t >> 3] >> (t & 7)) & 1)
		return 1;
	x = plan_done_find(d, ts, d->tol);
	if (!x)
		return 0;
	if (!plan_bit(x->missing, sb))
		return 1;
	*e = x;
	return 2;
}

int plan_done_sort(struct plan_doneidx *d)
{
	int *o = realloc(d->order, (size_t)(d->n ? d->n : 1) * sizeof *o);
	if (!o)
		return -1;
	d->order = o;
	for (int i = 0; i < d->n; i++)
		o[i] = i;
	if (d->n > 1) {
		qsort(d->v, (size_t)d->n, sizeof *d->v, by_first);
		qsort_r(o, (size_t)d->n, sizeof *o, by_id, d->v);
	}
	if (index_times(d) < 0 || index_cover(d) < 0)
		return -1;
	d->nsorted = d->n;
	return 0;
}

/* Parse "sb07,sb09" or "-" into the bit set; 0 or -1. */
static int parse_missing(const char *s, char *set)
{
	memset(set, 0, PLAN_MAXSUB / 8 + 1);
	if (!strcmp(s, "-"))
		return 0;
	while (*s) {
		if (s[0] != 's' || s[1] != 'b' || s[2] < '0' || s[2] > '9' || s[3] < '0' || s[3] > '9')
			return -1;
		plan_setbit(set, (s[2] - '0') * 10 + (s[3] - '0'));
		s += 4;
		if (*s == ',')
			s++;
		else if (*s)
			return -1;
	}
	return 0;
}

int plan_done_load(struct plan_doneidx *d, const char *path, long long tol)
{
	size_t len;
	char *text, *save = NULL;
	int lineno = 0;
	memset(d, 0, sizeof *d);
	d->tol = tol;
	text = fsx_read_file(path, &len);
	if (!text)
		return errno == ENOENT ? plan_done_sort(d) : -1;
	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		struct plan_done e;
		char id[32], miss[512];
		memset(&e, 0, sizeof e); /* padding too: entries are compared and copied whole */
		lineno++;
		if (sscanf(l, "%31s %lld %lld %511s", id, &e.first, &e.last, miss) != 4 ||
		    strlen(id) != PLAN_IDLEN - 1 || parse_missing(miss, e.missing) < 0) {
			log_warn("%s:%d: malformed line ignored", path, lineno);
			continue;
		}
		memcpy(e.id, id, PLAN_IDLEN);
		if (plan_done_add(d, &e) < 0) {
			free(text);
			plan_done_free(d);
			errno = ENOMEM;
			return -1;
		}
	}
	free(text);
	d->dirty = 0;
	return plan_done_sort(d);
}

void plan_done_free(struct plan_doneidx *d)
{
	free(d->v);
	free(d->order);
	free(d->firsts);
	free(d->bucket);
	free(d->cover);
	memset(d, 0, sizeof *d);
}

const struct plan_done *plan_done_find(const struct plan_doneidx *d, long long ts, long long tol)
{
	int lo, hi; /* search [lo, hi) for the first index with first > ts */
	if (d->nsorted == 0 || ts < d->t0)
		return NULL;
	if ((ts - d->t0) / d->width >= d->nbucket) {
		lo = hi = d->nsorted;
	} else {
		long long k = (ts - d->t0) / d->width;
		lo = d->bucket[k];
		hi = d->bucket[k + 1];
	}
	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		if (d->firsts[mid] <= ts)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* the nearest two starts at or before ts (ranges may touch) */
	for (int i = lo - 1; i >= 0 && i >= lo - 2; i--) {
		const struct plan_done *e = &d->v[i];
		long long end = e->last > e->first + tol ? e->last : e->first + tol;
		if (ts <= end)
			return e;
	}
	return NULL;
}

int plan_done_has(const struct plan_doneidx *d, const char *id)
{
	int lo = 0, hi = d->nsorted - 1;
	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2;
		int c = strcmp(d->v[d->order[mid]].id, id);
		if (!c)
			return 1;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return 0;
}

int plan_done_save(struct plan_doneidx *d, const char *path)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f;
	int r;
	if (plan_done_sort(d) < 0)
		return -1;
	f = open_memstream(&buf, &n);
	if (!f)
		return -1;
	for (int k = 0; k < d->n; k++) {
		const struct plan_done *e = &d->v[d->order[k]];
		int any = 0;
		fprintf(f, "%s %lld %lld ", e->id, e->first, e->last);
		for (int s = 0; s < PLAN_MAXSUB; s++)
			if (plan_bit(e->missing, s)) {
				fprintf(f, "%ssb%02d", any ? "," : "", s);
				any = 1;
			}
		fputs(any ? "\n" : "-\n", f);
	}
	if (ferror(f) | fclose(f)) {
		free(buf);
		errno = ENOMEM;
		return -1;
	}
	r = fsx_write_file(path, buf, n, 0644);
	free(buf);
	if (r == 0)
		d->dirty = 0;
	return r;
}

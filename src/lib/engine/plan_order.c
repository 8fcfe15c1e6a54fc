/*
 * plan_order.c: the priority order of the groups in the generated makefile
 * and the .SECONDARY line of the staged products (contract in
 * plan_order.h). Pure: works on the struct plan the planner built, writes
 * text into a stream, so tests/unit/test_order.c checks it directly.
 */
#include "engine/plan_order.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void plan_order_params(struct plan_order_params *op, const struct cfg *c)
{
	op->realtime = cfg_int(c, "PRIORITY_REALTIME", 600);
	op->backlog_newest = !strcmp(cfg_str(c, "PRIORITY_BACKLOG", "oldest"), "newest");
	/* no staging directory, nothing staged: a product removed by hand
	 * (uvm-remake) is then re-made like any other. STAGING_STAGES left
	 * empty is filled by cfg_load from the staging column of rules/stages. */
	op->staged = *cfg_str(c, "STAGING_DIR", "") ? cfg_str(c, "STAGING_STAGES", "") : "";
	op->batch = (int)cfg_int(c, "PRIORITY_BATCH", 0);
}

struct okey {
	int idx;
	int cls;          /* 0 active calibrator, 1 active real-time, 2 active backlog,
			     3..5 the same for groups not active yet */
	long long t;      /* sort key inside the class (ascending) */
};

static int active(const struct plan_group *g)
{
	return g->state == PS_READY || g->state == PS_PARTIAL;
}

/* Is group g real time: its data within op->realtime of newest? */
static int realtime(const struct plan_order_params *op, const struct plan_group *g,
    long long newest)
{
	return newest - g->first <= op->realtime;
}

static long long newest_first(const struct plan *p)
{
	long long newest = 0;
	for (int i = 0; i < p->ngroups; i++)
		if (p->groups[i].state != PS_DONE && p->groups[i].first > newest)
			newest = p->groups[i].first;
	return newest;
}

static int by_key(const void *a, const void *b)
{
	const struct okey *x = a, *y = b;
	if (x->cls != y->cls)
		return x->cls - y->cls;
	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	return x->idx - y->idx;
}

int plan_order(const struct plan *p, const struct plan_order_params *op, int *order, int *rank)
{
	struct okey *k = malloc((size_t)(p->ngroups ? p->ngroups : 1) * sizeof *k);
	long long newest = newest_first(p);
	int n = 0, nactive = 0;
	if (!k) {
		errno = ENOMEM;
		return -1;
	}
	for (int i = 0; i < p->ngroups; i++) {
		const struct plan_group *g = &p->groups[i];
		int rt;
		if (rank)
			rank[i] = -1;
		if (g->state == PS_DONE)
			continue;
		rt = realtime(op, g, newest);
		k[n].idx = i;
		k[n].cls = (active(g) ? 0 : 3) + (g->calibrator ? 0 : rt ? 1 : 2);
		/* real time: newest first; backlog: oldest first unless asked;
		 * calibrators: like the class their time puts them in */
		k[n].t = rt || op->backlog_newest ? -g->first : g->first;
		nactive += active(g);
		n++;
	}
	qsort(k, (size_t)n, sizeof *k, by_key);
	for (int r = 0; r < n; r++) {
		if (order)
			order[r] = k[r].idx;
		if (rank)
			rank[k[r].idx] = r;
	}
	free(k);
	return nactive;
}

int plan_order_batch(const struct plan *p, const struct plan_order_params *op, const int *order,
    int nactive)
{
	long long newest = newest_first(p);
	int n = 0, backlog = 0;
	if (op->batch <= 0)
		return nactive;
	/* the order puts calibrators and real-time groups before the backlog */
	while (n < nactive) {
		const struct plan_group *g = &p->groups[order[n]];
		if (!g->calibrator && !realtime(op, g, newest) && backlog++ >= op->batch)
			break;
		n++;
	}
	return n;
}

void plan_order_all(FILE *f, const struct plan *p, const int *order, int n)
{
	char prod[PATH_MAX];
	for (int i = 0; i < n; i++) {
		const struct plan_group *g = &p->groups[order[i]];
		for (int s = 0; s < p->st->n; s++) {
			int per = plan_stage_per_sub(p->st, s);
			if (!plan_stage_final(p->st, s, g))
				continue;
			for (int sb = 0; sb < (per ? p->par.nsub : 1); sb++)
				if (!per || g->file[sb] >= 0)
					fprintf(f, " \\\n  %s", plan_product(p->st, s, g, sb, prod));
		}
	}
}

/* Is name one of the comma-separated words of list? */
static int listed(const char *list, const char *name)
{
	size_t n = strlen(name);
	for (const char *q = list; q && *q;) {
		const char *e = strchr(q, ',');
		size_t len = e ? (size_t)(e - q) : strlen(q);
		if (len == n && !strncmp(q, name, n))
			return 1;
		q += len + (e != NULL);
	}
	return 0;
}

void plan_order_secondary(FILE *f, const struct plan *p, const struct plan_order_params *op,
    const int *order, int n)
{
	char prod[PATH_MAX];
	int any = 0;
	for (int i = 0; i < n; i++) {
		const struct plan_group *g = &p->groups[order[i]];
		for (int s = 0; s < p->st->n; s++) {
			if (plan_stage_per_sub(p->st, s) || !plan_stage_applies(p->st, s, g) ||
			    !listed(op->staged, p->st->v[s].name))
				continue;
			fprintf(f, "%s \\\n  %s", any ? "" : ".SECONDARY:", plan_product(p->st, s, g, 0, prod));
			any = 1;
		}
	}
	if (any)
		fputc('\n', f);
}

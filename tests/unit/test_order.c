/*
 * test_order.c: unit tests of the group priority order and the
 * .SECONDARY line (src/lib/plan_order.c).
 *
 * A hand-built plan: a 2-hour backlog of groups 5 minutes apart, two new
 * groups, a calibrator in the middle of the backlog, a waiting group and a
 * done one, over the installation's stage description (rules/stages). The expected order is written out by hand from the rule
 * (calibrator, real time newest first, backlog oldest first; then the
 * groups not active yet), and the `all:` and `.SECONDARY:` text is checked
 * against known lines.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/plan_order.h"

#include "tap.h"

/* group i starts at t0 + 300 i; state, calibrator flag */
static void mk(struct plan_group *g, long long t, enum plan_state st, int cal)
{
	memset(g, 0, sizeof *g);
	for (int s = 0; s < PLAN_MAXSUB; s++)
		g->file[s] = -1;
	g->file[0] = 0;
	g->nsub = 1;
	g->first = g->last = t;
	g->state = st;
	g->calibrator = cal;
	ids_group_id(t, g->id);
}

static char *text(void (*fn)(FILE *, const struct plan *, const struct plan_order_params *,
    const int *, int), const struct plan *p, const struct plan_order_params *op,
    const int *order, int n)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (fn)
		fn(f, p, op, order, n);
	else
		plan_order_all(f, p, order, n);
	fclose(f);
	return buf;
}

static struct stages stg; /* the installation's rules/stages */

int main(void)
{
	struct plan p;
	struct plan_group g[10];
	struct plan_order_params op = {.realtime = 600, .backlog_newest = 0,
	    .staged = "combine,calapply"};
	long long t0 = 1761307200; /* 2025-10-24T12:00:00 */
	int order[10], rank[10], n;
	char *s;

	{
		char dir[PATH_MAX], path[PATH_MAX + 8], err[PATH_MAX + 256];
		if (plan_rules_dir(dir) < 0 ||
		    (snprintf(path, sizeof path, "%s/stages", dir),
			stages_load(&stg, path, err, sizeof err)) < 0) {
			printf("Bail out! the installation's rules/stages\n");
			return 1;
		}
	}
	memset(&p, 0, sizeof p);
	p.st = &stg;
	p.par.nsub = 1;
	/* groups sorted by id, as the planner keeps them */
	mk(&g[0], t0, PS_READY, 0);              /* backlog, oldest */
	mk(&g[1], t0 + 300, PS_DONE, 0);         /* finished */
	mk(&g[2], t0 + 600, PS_READY, 0);        /* backlog */
	mk(&g[3], t0 + 900, PS_PARTIAL, 1);      /* calibrator in the backlog */
	mk(&g[4], t0 + 1200, PS_READY, 0);       /* backlog */
	mk(&g[5], t0 + 7200, PS_READY, 0);       /* real time (600 s before newest) */
	mk(&g[6], t0 + 7500, PS_READY, 0);       /* real time */
	mk(&g[7], t0 + 7800, PS_WAITING, 0);     /* newest, still waiting */
	p.groups = g;
	p.ngroups = 8;

	n = plan_order(&p, &op, order, rank);
	ok(n == 6, "six active groups");
	ok(order[0] == 3 && order[1] == 6 && order[2] == 5 && order[3] == 0 && order[4] == 2 &&
		order[5] == 4 && order[6] == 7,
	    "calibrator, real time newest first, backlog oldest first, then the waiting group");
	ok(rank[3] == 0 && rank[6] == 1 && rank[0] == 3 && rank[7] == 6 && rank[1] == -1,
	    "ranks match the order; a done group has none");

	op.backlog_newest = 1;
	plan_order(&p, &op, order, NULL);
	ok(order[0] == 3 && order[1] == 6 && order[2] == 5 && order[3] == 4 && order[4] == 2 &&
		order[5] == 0,
	    "PRIORITY_BACKLOG=newest drains the backlog newest first");
	op.backlog_newest = 0;

	op.realtime = 100000;
	plan_order(&p, &op, order, NULL);
	ok(order[0] == 3 && order[1] == 6 && order[2] == 5 && order[3] == 4 && order[4] == 2 &&
		order[5] == 0,
	    "no backlog (all within the real-time window): newest first");
	op.realtime = 600;

	plan_order(&p, &op, order, NULL);
	s = text(NULL, &p, &op, order, 2);
	ok(s && !strcmp(s, " \\\n  caltables/20251024T121500.cal.h5 \\\n"
			   "  products/20251024T121500/qa.json \\\n"
			   "  products/20251024T140500/qa.json"),
	    "all: lists the final products in priority order (calibrator's table too)");
	free(s);

	s = text(plan_order_secondary, &p, &op, order, 2);
	ok(s && !strcmp(s, ".SECONDARY: \\\n  products/20251024T121500/vis.uvh5 \\\n"
			   "  products/20251024T121500/cal.uvh5 \\\n"
			   "  products/20251024T140500/vis.uvh5 \\\n"
			   "  products/20251024T140500/cal.uvh5\n"),
	    ".SECONDARY: the staged products of the active groups");
	free(s);

	s = text(plan_order_secondary, &p, &op, order, 0);
	ok(s && !strcmp(s, ""), "no active group: no .SECONDARY line at all");
	free(s);
	op.staged = "";
	s = text(plan_order_secondary, &p, &op, order, 2);
	ok(s && !strcmp(s, ""), "nothing staged: no .SECONDARY line");
	free(s);
	op.staged = "verify,image";
	s = text(plan_order_secondary, &p, &op, order, 1);
	ok(s && !strcmp(s, ".SECONDARY: \\\n  products/20251024T121500/image.fits\n"),
	    "per-subband stages are never secondary");
	free(s);

	plan_order(&p, &op, order, NULL);
	op.batch = 0;
	ok(plan_order_batch(&p, &op, order, 6) == 6, "PRIORITY_BATCH=0: every active group");
	op.batch = 2;
	ok(plan_order_batch(&p, &op, order, 6) == 5,
	    "PRIORITY_BATCH=2: calibrator, both real-time groups and the two oldest");
	op.batch = 1;
	ok(plan_order_batch(&p, &op, order, 6) == 4, "PRIORITY_BATCH=1");

	p.ngroups = 0;
	ok(plan_order(&p, &op, order, rank) == 0, "no groups");

	printf("1..%d\n", ntest);
	return nfail != 0;
}

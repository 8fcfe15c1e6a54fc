/*
 * plan_order.h: the order in which the planner lists the active groups'
 * final products in the makefile's `all:` rule, and the `.SECONDARY:` line
 * for the staged intermediate products.
 *
 * make -j starts goals in the order `all:` lists them, so this order is the
 * pipeline's priority: calibrator groups first (the targets that need
 * their tables can only follow them), then the real-time groups (data
 * within PRIORITY_REALTIME seconds of the newest group's), newest first so
 * the latency of new data holds during a backlog, then the backlog in the
 * remaining capacity, oldest first (PRIORITY_BACKLOG=oldest, draining in
 * arrival order) or newest first. Inside each class the same time rule
 * applies. Waiting and incomplete groups are ranked after the active ones,
 * by the same rule, so the status can show the whole queue by rank.
 *
 * Products of the staged stages (STAGING_STAGES; by default those marked
 * tmpfs in rules/stages) may live on tmpfs behind a symlink; declaring them
 * .SECONDARY makes GNU make treat a missing one (dangling link after a
 * reboot) as an intermediate: re-made only when a product that needs it
 * is out of date, and never deleted by make.
 */
#ifndef UVM_PLAN_ORDER_H
#define UVM_PLAN_ORDER_H

#include <stdio.h>

#include "core/cfg.h"
#include "engine/plan.h"

struct plan_order_params {
	long long realtime;   /* PRIORITY_REALTIME, seconds */
	int backlog_newest;   /* PRIORITY_BACKLOG=newest */
	const char *staged;   /* STAGING_STAGES: comma-separated stage names */
	int batch;            /* PRIORITY_BATCH: backlog groups per makefile, 0 all */
};

/* Fill op from the config (defaults 600, oldest, the tmpfs stages of
 * rules/stages as cfg_load set them, 0). The string points into c. */
void plan_order_params(struct plan_order_params *op, const struct cfg *c);

/*
 * Order the groups of p that are not done: order[] gets indexes into
 * p->groups, the active (ready, partial) ones first; rank[i] (for every
 * i < p->ngroups) gets group i's position in that order, counting from 0,
 * or -1 for a done group. Either array may be NULL. Returns the number of
 * active groups (the first entries of order), or -1 on ENOMEM.
 */
int plan_order(const struct plan *p, const struct plan_order_params *op, int *order, int *rank);

/*
 * How many of the nactive first entries of order go into `all:` this
 * cycle: every calibrator and real-time group, and at most op->batch
 * backlog groups (0: all). A long backlog then drains over several short
 * make cycles, and a group that arrives meanwhile is planned at the next
 * cycle instead of after the whole backlog.
 */
int plan_order_batch(const struct plan *p, const struct plan_order_params *op, const int *order,
    int nactive);

/* The final products of the groups order[0..n) into f, each as
 * " \\\n  path" (the continuation of an `all:` line). */
void plan_order_all(FILE *f, const struct plan *p, const int *order, int n);

/* `.SECONDARY: <products>` for the staged stages of the active groups
 * order[0..n) (per-subband stages excluded; the graph is p->st); nothing
 * when there are none
 * (an empty .SECONDARY: would make every target secondary). */
void plan_order_secondary(FILE *f, const struct plan *p, const struct plan_order_params *op,
    const int *order, int n);

#endif

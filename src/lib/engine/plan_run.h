/*
 * plan_run.h: the state of one planner run, shared by its pieces (inside
 * the planner only; the contract is plan.h):
 *
 *   plan_run.c   the run: config, decide and retire, state files, database
 *   plan_scan.c  the scan of INCOMING and the quarantine queue
 *   plan_cal.c   calibration facts of a group (catalogue, chosen table)
 *
 * Everything a run holds lives here, nothing in statics: a second run in
 * the same process (a test, a daemon) starts from a clean state.
 */
#ifndef UVM_PLAN_RUN_H
#define UVM_PLAN_RUN_H

#include <limits.h>
#include <sqlite3.h>

#include "core/cfg.h"
#include "core/stages.h"
#include "engine/plan.h"
#include "engine/plan_order.h"
#include "sci/cal_catalog.h"

struct plan_qitem {
	char *name;
	char *reason;
};

/* plan_cal.c: the calibrator catalogue, read on first use. */
struct plan_cal {
	struct cal_catalog cat;
	int loaded;                    /* 0 not yet, 1 ok, -1 failed (logged once) */
};

struct plan_ctx {
	struct cfg *c;
	const struct plan_opts *o;
	char incoming[PATH_MAX];       /* absolute */
	char inrel[PATH_MAX];          /* as written into the makefile */
	char rules[PATH_MAX];
	char state[PATH_MAX];
	int homefd, infd;
	struct stages st;              /* RULES_DIR/stages */
	struct plan_order_params order;
	struct plan p;
	struct plan_doneidx done;
	struct plan_hoursidx hours;    /* finished mosaic hours (plan_mosaic.c) */
	struct plan_mosaic_params mos;
	struct plan_cal cal;
	struct plan_qitem *q;          /* what to quarantine (plan_scan.c) */
	int nq, capq;
	sqlite3 *db;
	int dbfailed;
	long long settle;              /* PLAN_SETTLE: seconds a file's mtime must
	                                * be old before it is planned */
	long long skew;                /* CLOCK_SKEW: how far ahead of the clock a
	                                * file name's time may be */
	long long settle_wakeup;       /* earliest time an unsettled file may
	                                * settle (0: none) */
	int nunsettled;                /* files left out of this run */
};

/* ---- plan_run.c ---- */
/* The database, opened on first use; NULL (logged once) when unusable or
 * in a dry run. */
sqlite3 *plan_db(struct plan_ctx *r);

/* ---- plan_scan.c ---- */
/* Queue name for quarantine with a printf-style reason; -1 on ENOMEM. */
__attribute__((format(printf, 3, 4))) int plan_queue(struct plan_ctx *r, const char *name,
    const char *fmt, ...);
/* Read INCOMING: active files into r->p.files, everything that must not
 * be planned into the quarantine queue. 0 or an exit status. */
int plan_scan(struct plan_ctx *r);
/* Move every queued name to quarantine/ (or, dry, say what would move). */
void plan_quarantine_all(struct plan_ctx *r);
void plan_queue_free(struct plan_ctx *r);

/* ---- plan_cal.c ---- */
/*
 * Calibration facts of active group g, decided at plan time so that make
 * sees them: g->calibrator and g->cal (CAL_<G>) with g->cal_weak.
 */
void plan_cal_choose(struct plan_ctx *r, struct plan_group *g);
/* Is g's chosen table newer than the products that read it (so g is not
 * finished: make re-makes them)? */
int plan_cal_newer(const struct plan_ctx *r, const struct plan_group *g);
/* state/chosen/<G>, the choice of g's table as a prerequisite (rewritten
 * when it changes; contract in plan_cal.c), and its path relative to the
 * deployment into rel (PATH_MAX bytes). */
int plan_cal_stamp(struct plan_ctx *r, const struct plan_group *g);
char *plan_cal_stamp_rel(const struct plan_group *g, char *rel);
/* May a better table for g still appear (a nearer calibrator transit
 * whose group is not finished, within limits: plan_cal.c)? Needs
 * plan_cal_choose run on every active group first. */
int plan_cal_better_possible(const struct plan_ctx *r, const struct plan_group *g);
void plan_cal_free(struct plan_cal *k);

/* Write path only when buf differs from its content; *changed tells.
 * 0, or -1 with errno. */
int plan_write_if_changed(const char *path, const char *buf, size_t n, int *changed);
/*
 * plan_settings.c. Write state/settings/<stage>.conf of every stage with
 * keys when its text changed (a new file dated at the epoch: no change to
 * re-make for): 0, or -1 with errno and the failing path in path.
 */
int plan_write_settings(struct plan_ctx *r, char *path);
/* Since when each stage's settings stand, into since[STAGES_MAX]: the
 * file's time, a time after every product when the config changed them
 * since the file was written, 0 when none. 0, or -1 on ENOMEM. */
int plan_settings_since(const struct plan_ctx *r, double *since);
/* Is a product of g older than its stage's settings? */
int plan_settings_newer(const struct plan_ctx *r, const struct plan_group *g, const double *since);

#endif

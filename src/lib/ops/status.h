/*
 * status.h: the operator's view of a deployment (uvm-status).
 *
 * status_collect reads state/pipeline.sqlite, state/plan.json,
 * state/calibration.sqlite, state/alerts.sqlite and state/watch.json (each
 * optional, read-only) into a memory snapshot; the writers render it as a
 * terminal summary, as JSON for scripts, as a self-contained HTML dashboard
 * (inline SVG, no external assets, every string from files or data
 * HTML-escaped) and as state/health.json (ok | degraded | failing with the
 * checks behind it). The calibration and failure checks take their
 * thresholds from uvm-alert's rules (alert_rules_path; ops/alerts.conf by
 * default): a critical or error rule that holds is failing, a warning or
 * info rule degraded; an unreadable rules file is itself a degraded check.
 *
 * Per-stage counts come from the targets table: ok, failed (state retry:
 * failed, will be retried), deferred, dead, quarantined, running. Latency of
 * a group is the end of its last successful job minus its first_seen, over
 * groups in state done first seen in the last 24 h.
 *
 * The queue is plan.json's groups in planned order (by their integer
 * "rank" when the planner gives one, else by id); the catch-up estimate is
 * the number of queued groups divided by the throughput of the last hour
 * (groups whose last successful job ended in the last hour), none when
 * that throughput is 0. The thumbnail is the product of the image stage
 * (role image in rules/stages: products/<G>/image.fits) of the greatest
 * group id under products/ having its report (the stage reading it:
 * qa.json; else of the greatest having an image), a PNG (thumb.h)
 * base64-encoded for a data: URI. The flagging shown is the flag report
 * of the greatest group id under products/ having one (flag_report_latest:
 * the same report as the uvmake_flagged_fraction_last metric).
 */
#ifndef UVM_STATUS_H
#define UVM_STATUS_H

#include <stdio.h>

#include "core/cfg.h"
#include "core/stages.h"
#include "sci/flag_report.h"

struct status_stage {
	char stage[32];
	long ok, failed, deferred, dead, quarantined, running;
};

struct status_job {
	char *target, *grp, *stage, *klass, *reason;
	double started, ended;
	long pid;
	int status;
};

struct status_group {
	char *grp, *state, *logs; /* logs: NUL-separated file names under logs/<grp>/ */
	double first_seen, done_at; /* done_at: 0 when not done */
	int nlogs;
};

struct status_quar {
	char *original, *reason, *target;
	double at;
};

struct status_alert {
	char *name, *level, *metric;
	double value, threshold, since;
	int acked;
};

struct status_queued {
	char *grp, *state;
	long rank; /* -1: plan.json gives none */
};

struct status_check {
	char name[32];
	int level; /* 0 ok, 1 degraded, 2 failing */
	char detail[256];
};

struct status {
	double now;
	char home[4096];
	struct status_stage *stages;
	int nstages;
	struct status_job *running, *failures;
	int nrunning, nfailures;
	struct status_group *groups; /* recent, newest first */
	int ngroups;
	struct status_quar *quar;
	int nquar;
	struct status_alert *alerts;
	int nalerts;
	/* oldest group not ready (plan.json) */
	char *wait_grp, *wait_state, *wait_missing;
	double wait_first, wait_deadline; /* deadline 0: none */
	int has_cal;
	char cal_grp[32];
	double cal_age;
	int nlat;
	double lat_p50, lat_p90, lat_p99, lat_max;
	double thr[24], lat_hour[24]; /* per hour of the last 24 (index 23: latest) */
	char (*fail_class)[32];
	long *fail_count;
	int nfail_class;
	struct status_queued *queue; /* planned order, the first 50 */
	int nqueue, queued;          /* queued: all groups of plan.json */
	double thr_1h;               /* groups finished in the last hour */
	double eta;                  /* seconds to catch up; < 0: unknown */
	char *thumb;                 /* base64 PNG, NULL when no image */
	char thumb_grp[64];
	int thumb_w, thumb_h;
	int has_flag;                /* flag: the newest group's flag report */
	char flag_grp[IDS_LEN];
	struct flag_report flag;
	struct stages st;            /* the stage description (st.n 0: unreadable) */
	struct status_check checks[12];
	int nchecks, health; /* worst check level */
};

/* Fill s from the deployment of c at time now; 0, or -1 after logging a
 * database error. Missing files leave their part empty. */
int status_collect(const struct cfg *c, double now, struct status *s);
void status_free(struct status *s);
/* Add the thumbnail of the latest image to s (for status_html); without
 * an image, or when it cannot be read (a warning), s->thumb stays NULL. */
void status_thumbnail(struct status *s);

void status_text(FILE *f, const struct status *s);
void status_json(FILE *f, const struct status *s);
void status_health_json(FILE *f, const struct status *s);
void status_html(FILE *f, const struct status *s);

/* "ok", "degraded", "failing". */
const char *status_level_name(int level);
/* s with & < > " ' replaced by entities, on f. */
void status_html_str(FILE *f, const char *s);
/* t (epoch seconds) as ISO 8601 UTC into buf, "-" when t <= 0: the time
 * format of the text and HTML writers. */
void status_iso(char buf[32], double t);

#endif

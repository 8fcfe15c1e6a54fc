/*
 * alert.h: threshold alerts on the pipeline's metrics (uvm-alert) and the
 * metric inputs uvm-status shares with it.
 *
 * Rules come from a text file, one per line:
 *     name metric op threshold duration level
 * e.g. "calibration_stale uvmake_calibration_age_seconds > 21600 0 critical";
 * op is one of > >= < <= == !=, duration in seconds, level info, warning,
 * error or critical; '#' starts a comment line. A metric is written as in the
 * Prometheus textfile, labels included (uvmake_targets{state="dead"}), and
 * matched textually.
 *
 * Metric values come from state/uvmake.prom only (uvm-metrics writes it,
 * the derived gauges below included), so an alert always refers to a value
 * an operator can see in the textfile.
 * An absent metric makes its rule not evaluable: it neither fires nor
 * resolves.
 *
 * Episodes live in state/alerts.sqlite (tables alert_state, alert_history):
 * a rule fires once its condition has held for `duration` seconds, is
 * re-notified every ALERT_RENOTIFY seconds (default 3600) unless
 * acknowledged, and resolves (one "resolved" notification) when the
 * condition clears. Notifications run ALERT_HOOK (a program, no shell) with
 * the alert as one JSON object on stdin.
 */
#ifndef UVM_ALERT_H
#define UVM_ALERT_H

#include <stdio.h>
#include <sqlite3.h>

#include "core/cfg.h"

struct alert_rule {
	char name[64];
	char metric[256];
	char op[3];
	double threshold;
	double duration;
	char level[16];
};

struct alert_metric {
	char *name; /* with labels, as written in the textfile */
	double value;
	int derived;
};

struct alert_metrics {
	struct alert_metric *m;
	int n, cap;
};

/* Parse a rules file. Returns the number of rules (>= 0) with *out
 * malloc'd, or -1 after logging ("file:line: ..." for a bad line, or the
 * open error with errno set). */
int alert_rules_load(const char *path, struct alert_rule **out);
/* The rules file of deployment c into path (PATH_MAX): config ALERT_RULES
 * (relative to the deployment), else $UVM_ROOT/ops/alerts.conf, else
 * ops/alerts.conf (or share/uvmake/ops/alerts.conf) beside the directory
 * holding this program (bin/ or build/san/bin/), else "ops/alerts.conf".
 * uvm-alert evaluates these rules; uvm-status takes its health thresholds
 * from them, so a threshold is written once. */
void alert_rules_path(const struct cfg *c, char *path);
/* Does value v meet r's condition (r->op against r->threshold)? */
int alert_rule_holds(const struct alert_rule *r, double v);

/* Add or replace a metric value (replace only when !keep_existing). */
void alert_metrics_set(struct alert_metrics *ms, const char *name, double v, int derived,
    int keep_existing);
/* Parse Prometheus text exposition into ms; comment lines ignored. */
void alert_metrics_parse(struct alert_metrics *ms, const char *text);
/* Value of a metric; 0 when found, -1 when absent. */
int alert_metrics_get(const struct alert_metrics *ms, const char *name, double *v);
void alert_metrics_free(struct alert_metrics *ms);

/*
 * The derived gauges uvm-metrics exports (and uvm-status's health checks
 * use), computed from the SQLite state at time now:
 *   uvmake_jobs_finished_1h                jobs ended in the last hour
 *   uvmake_failure_ratio_1h                failed / ended jobs of the last hour (0 when none)
 *   uvmake_image_last_success_age_seconds  now - end of the newest successful job of the
 *                                          image stage (role image in rules/stages)
 *   uvmake_calibration_age_seconds         0 if a good table's validity covers now,
 *                                          else now - end of the newest validity window
 *   uvmake_target_attempts_max             most attempts of a target not ok
 *   uvmake_queue_depth                     groups ready, partial, waiting or incomplete
 *   uvmake_tmpfs_used_ratio                used fraction of STAGING_DIR's file system
 *   uvmake_watch_up                        1 if watch.json names a live pid
 *   uvmake_flagged_fraction_last           flagged_fraction of the flag report of the
 *                                          greatest group id under products/ having one
 *                                          (its path from rules/stages: stages_report)
 *   uvmake_database_ok                     0 if the state database is corrupt or its
 *                                          history lost (dbhealth_check), else 1; always
 * Each other is left out when its input does not exist (no pipeline database, no
 * image success yet, no good calibration table, no STAGING_DIR, no flag
 * report). Values
 * already in ms are kept.
 */
void alert_derive(const struct cfg *c, double now, struct alert_metrics *ms);
/* The HELP text of a derived gauge, NULL for another name. */
const char *alert_derived_help(const char *name);

/* Calibration freshness: 0 with *age (s, 0 when valid now) and the newest
 * good table's group in grp[32]; -1 when there is no registry or no good
 * table. */
int alert_cal_age(const char *home, double now, double *age, char grp[32]);

/* Open (creating) the alert database with WAL and a busy timeout; NULL
 * after logging. ro: open read-only, NULL quietly when it does not exist. */
sqlite3 *alert_db_open(const char *path, int ro);

struct alert_opts {
	const char *hook;     /* program or NULL/"" for none */
	double renotify;      /* seconds */
	double keep_days;     /* history older than this goes; <= 0 keeps all */
	int dry_run;          /* evaluate and print, change nothing, no hook */
	FILE *out;            /* notifications as JSON lines, or NULL */
};

/*
 * Evaluate every rule against ms at time now, update the episodes in db and
 * notify; then drop history events older than o->keep_days (a rule that
 * stays firing adds a reminder every o->renotify seconds, for ever). Returns 0, 1 when some hook failed (the notification is retried
 * on the next run), or -1 on a database error (logged).
 */
int alert_eval(sqlite3 *db, const struct alert_rule *r, int nr, const struct alert_metrics *ms,
    double now, const struct alert_opts *o);

/* Acknowledge the active episode of rule `name`: 0, 1 when none is
 * active, -1 on a database error. */
int alert_ack(sqlite3 *db, const char *name, double now);

#endif

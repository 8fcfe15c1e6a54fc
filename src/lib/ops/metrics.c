/*
 * metrics.c: the pipeline's state as a Prometheus textfile (contract in
 * metrics.h), the work behind uvm-metrics.
 */
#include "ops/metrics.h"

#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/db.h"
#include "core/fsx.h"
#include "core/json.h"
#include "core/uvm.h"
#include "ops/alert.h"

static void out(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(b, fmt, ap);
	va_end(ap);
}

static void help(struct buf *b, const char *name, const char *type, const char *text)
{
	out(b, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

/* One metric family from a query returning (label value, number). */
static void family(struct buf *b, sqlite3 *db, const char *name, const char *type,
    const char *text, const char *label, const char *sql)
{
	sqlite3_stmt *st;
	help(b, name, type, text);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return;
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *l = (const char *)sqlite3_column_text(st, 0);
		double v = sqlite3_column_double(st, sqlite3_column_count(st) - 1);
		if (label && sqlite3_column_count(st) == 3) {
			const char *l2 = (const char *)sqlite3_column_text(st, 1);
			out(b, "%s{stage=\"%s\",%s=\"%s\"} %.17g\n", name, l ? l : "", label, l2 ? l2 : "", v);
		} else if (label) {
			out(b, "%s{%s=\"%s\"} %.17g\n", name, label, l ? l : "", v);
		} else {
			out(b, "%s %.17g\n", name, v);
		}
	}
	sqlite3_finalize(st);
}

/* Duration quantiles per stage from successful jobs of the last day. */
static void durations(struct buf *b, sqlite3 *db, double now)
{
	sqlite3_stmt *st;
	const char *name = "uvmake_stage_duration_seconds";
	help(b, name, "summary", "Wall time of successful jobs over the last 24 h, by stage.");
	if (sqlite3_prepare_v2(db,
		"SELECT stage, ended - started FROM jobs WHERE status = 0 AND ended > ?1"
		" ORDER BY stage, ended - started", -1, &st, NULL) != SQLITE_OK)
		return;
	sqlite3_bind_double(st, 1, now - 86400);
	char stage[64] = "";
	double *v = NULL, sum = 0;
	size_t n = 0, cap = 0;
	int more = 1;
	while (more) {
		more = sqlite3_step(st) == SQLITE_ROW;
		const char *s = more ? (const char *)sqlite3_column_text(st, 0) : NULL;
		if ((!more || strcmp(s ? s : "", stage)) && n) {
			const double qs[] = {0.5, 0.9, 0.99};
			for (int i = 0; i < 3; i++)
				out(b, "%s{stage=\"%s\",quantile=\"%g\"} %.6f\n", name, stage, qs[i],
				    v[(size_t)floor(qs[i] * (double)(n - 1) + 0.5)]);
			out(b, "%s_sum{stage=\"%s\"} %.6f\n%s_count{stage=\"%s\"} %zu\n", name, stage, sum, name, stage, n);
			n = 0;
			sum = 0;
		}
		if (!more)
			break;
		snprintf(stage, sizeof stage, "%s", s ? s : "");
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			v = realloc(v, cap * sizeof *v);
		}
		v[n] = sqlite3_column_double(st, 1);
		sum += v[n++];
	}
	free(v);
	sqlite3_finalize(st);
}

/* Latency of groups imaged in the last day: end of the successful job of
 * the image stage minus the start of the group's last job of the entry
 * stage (verify: its last subband), stage names from the description. */
static void latency(struct buf *b, sqlite3 *db, const struct stages *st, double now)
{
	sqlite3_stmt *q;
	const char *name = "uvmake_group_latency_seconds";
	double *v = NULL, sum = 0;
	size_t n = 0, cap = 0;
	help(b, name, "summary", "From the last subband's verification to the image, groups imaged in the last 24 h.");
	if (sqlite3_prepare_v2(db,
		"SELECT i.e - v.s FROM (SELECT grp, max(ended) e FROM jobs WHERE stage = ?2 AND status = 0"
		" AND ended > ?1 GROUP BY grp) i JOIN (SELECT grp, max(started) s FROM jobs WHERE stage = ?3"
		" GROUP BY grp) v ON v.grp = i.grp ORDER BY 1", -1, &q, NULL) != SQLITE_OK)
		return;
	sqlite3_bind_double(q, 1, now - 86400);
	/* no image or entry stage: no group has a latency */
	sqlite3_bind_text(q, 2, st->image >= 0 ? st->v[st->image].name : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, stages_entry(st) >= 0 ? st->v[stages_entry(st)].name : "", -1,
	    SQLITE_STATIC);
	while (sqlite3_step(q) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			v = realloc(v, cap * sizeof *v);
		}
		v[n] = sqlite3_column_double(q, 0);
		sum += v[n++];
	}
	sqlite3_finalize(q);
	const double qs[] = {0.5, 0.9, 0.99};
	for (int i = 0; n && i < 3; i++)
		out(b, "%s{quantile=\"%g\"} %.6f\n", name, qs[i], v[(size_t)floor(qs[i] * (double)(n - 1) + 0.5)]);
	out(b, "%s_sum %.6f\n%s_count %zu\n", name, sum, name, n);
	free(v);
}

/* A number from the watcher's status file (top-level "key": number), or NAN. */
static double watch_num(const char *json, const char *key)
{
	double v;
	return json && json_get_number(json, key, &v) == 1 ? v : NAN;
}

int metrics_text(const struct cfg *c, const struct stages *st, double now, char **text, size_t *len)
{
	struct buf bb = {0}, *b = &bb;
	char path[PATH_MAX];
	/* without a usable database the rest is still written, with
	 * uvmake_database_ok 0 when it is corrupt or lost, for uvm-alert */
	sqlite3 *db = db_open(c->home);
	if (db) {
		family(b, db, "uvmake_jobs_total", "counter", "Job attempts by stage and outcome class.",
		    "outcome", "SELECT stage, coalesce(class, 'running'), count(*) FROM jobs GROUP BY 1, 2");
		family(b, db, "uvmake_retries_total", "counter", "Job attempts after the first, by class of the failure before.",
		    "class", "SELECT coalesce(class, 'running'), count(*) FROM jobs WHERE attempt > 1 GROUP BY 1");
		family(b, db, "uvmake_stage_last_run_timestamp_seconds", "gauge", "Start of the latest job, by stage.",
		    "stage", "SELECT stage, max(started) FROM jobs GROUP BY 1");
		family(b, db, "uvmake_stage_last_success_timestamp_seconds", "gauge", "End of the latest successful job, by stage.",
		    "stage", "SELECT stage, max(ended) FROM jobs WHERE status = 0 GROUP BY 1");
		family(b, db, "uvmake_targets", "gauge", "Targets by state (deferred, dead, quarantined, ...).",
		    "state", "SELECT s, (SELECT count(*) FROM targets WHERE state = s) FROM (SELECT 'ok' s UNION"
		    " SELECT 'running' UNION SELECT 'retry' UNION SELECT 'deferred' UNION SELECT 'dead' UNION"
		    " SELECT 'quarantined' UNION SELECT state FROM targets) ORDER BY 1");
		family(b, db, "uvmake_groups", "gauge", "Groups known to the planner by state (ready, partial, waiting, incomplete, done).",
		    "state", "SELECT s, (SELECT count(*) FROM groups WHERE state = s) FROM (SELECT 'ready' s UNION"
		    " SELECT 'partial' UNION SELECT 'waiting' UNION SELECT 'incomplete' UNION SELECT 'done' UNION"
		    " SELECT state FROM groups) ORDER BY 1");
		family(b, db, "uvmake_quarantined_files", "gauge", "Inputs in quarantine not yet released.",
		    NULL, "SELECT count(*) FROM quarantine WHERE released IS NULL");
		durations(b, db, now);
		latency(b, db, st, now);
		db_close(db);
	}

	help(b, "uvmake_disk_free_bytes", "gauge", "Free bytes on the file systems of the deployment.");
	{
		const char *dirs[] = {"incoming", "products", "state", NULL};
		for (int i = 0; dirs[i]; i++) {
			long long f = fsx_free_bytes(cfg_path(c, dirs[i], path));
			if (f >= 0)
				out(b, "uvmake_disk_free_bytes{dir=\"%s\"} %lld\n", dirs[i], f);
		}
		const char *stg = cfg_str(c, "STAGING_DIR", "");
		if (*stg) {
			long long f = fsx_free_bytes(stg);
			help(b, "uvmake_tmpfs_free_bytes", "gauge", "Free bytes in the staging directory.");
			if (f >= 0)
				out(b, "uvmake_tmpfs_free_bytes %lld\n", f);
		}
	}
	{
		char *w = fsx_read_file(cfg_path(c, "state/watch.json", path), NULL);
		double ov = watch_num(w, "overflows");
		help(b, "uvmake_watch_overflows_total", "counter", "inotify queue overflows seen by uvm-watch.");
		out(b, "uvmake_watch_overflows_total %.17g\n", isnan(ov) ? 0.0 : ov);
		free(w);
	}
	{
		struct alert_metrics ms = {0};
		alert_derive(c, now, &ms);
		for (int i = 0; i < ms.n; i++) {
			help(b, ms.m[i].name, "gauge", alert_derived_help(ms.m[i].name));
			out(b, "%s %.17g\n", ms.m[i].name, ms.m[i].value);
		}
		alert_metrics_free(&ms);
	}
	help(b, "uvmake_metrics_timestamp_seconds", "gauge", "When this file was written.");
	out(b, "uvmake_metrics_timestamp_seconds %.3f\n", now);

	if (b->oom) {
		buf_free(b);
		return EX_OSERR;
	}
	*len = b->n;
	*text = buf_take(b);
	return *text ? 0 : EX_OSERR;
}

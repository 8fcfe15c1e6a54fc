/*
 * status_collect.c: collect the deployment's state into a snapshot and
 * judge its health (contract in status.h; the writers are status_render.c).
 *
 * All databases are opened read-only; plan.json is read with SQLite's JSON
 * functions (json_each) on an in-memory connection rather than a parser of
 * our own.
 */
#include "ops/status.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "ops/alert.h"
#include "ops/dbhealth.h"
#include "core/db.h"
#include "core/fsx.h"
#include "core/log.h"
#include "ops/thumb.h"

static char *dupcol(sqlite3_stmt *st, int i)
{
	const char *t = (const char *)sqlite3_column_text(st, i);
	char *d = strdup(t ? t : "");
	if (!d)
		abort();
	return d;
}

static void *grow(void *p, int n, int *cap, size_t sz)
{
	if (n < *cap)
		return p;
	*cap = *cap ? *cap * 2 : 16;
	p = realloc(p, (size_t)*cap * sz);
	if (!p)
		abort();
	return p;
}

static int prep(sqlite3 *db, sqlite3_stmt **st, const char *sql)
{
	if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK) {
		log_err("database error: %s", sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}

static int pid_alive(long pid)
{
	return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double quantile(const double *v, int n, double q)
{
	return n ? v[(size_t)floor(q * (double)(n - 1) + 0.5)] : 0;
}

static void stages(sqlite3 *db, struct status *s)
{
	sqlite3_stmt *st;
	int cap = 0;
	if (prep(db, &st, "SELECT stage, state, count(*) FROM targets GROUP BY 1, 2 ORDER BY 1") < 0)
		return;
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *stage = (const char *)sqlite3_column_text(st, 0);
		const char *state = (const char *)sqlite3_column_text(st, 1);
		long n = sqlite3_column_int64(st, 2);
		stage = stage ? stage : "";
		state = state ? state : "";
		if (!s->nstages || strcmp(s->stages[s->nstages - 1].stage, stage)) {
			s->stages = grow(s->stages, s->nstages, &cap, sizeof *s->stages);
			memset(&s->stages[s->nstages], 0, sizeof *s->stages);
			snprintf(s->stages[s->nstages++].stage, 32, "%s", stage);
		}
		struct status_stage *g = &s->stages[s->nstages - 1];
		if (!strcmp(state, "ok"))
			g->ok += n;
		else if (!strcmp(state, "retry"))
			g->failed += n;
		else if (!strcmp(state, "deferred"))
			g->deferred += n;
		else if (!strcmp(state, "dead"))
			g->dead += n;
		else if (!strcmp(state, "quarantined"))
			g->quarantined += n;
		else if (!strcmp(state, "running"))
			g->running += n;
	}
	sqlite3_finalize(st);
}

/* Jobs from a query (target, grp, stage, class, reason, started, ended,
 * pid, status); alive_only keeps jobs whose pid lives. */
static void jobs(sqlite3 *db, const char *sql, double now, int alive_only, struct status_job **out, int *n)
{
	sqlite3_stmt *st;
	int cap = 0;
	if (prep(db, &st, sql) < 0)
		return;
	sqlite3_bind_double(st, 1, now);
	while (sqlite3_step(st) == SQLITE_ROW) {
		long pid = sqlite3_column_int64(st, 7);
		if (alive_only && !pid_alive(pid))
			continue;
		*out = grow(*out, *n, &cap, sizeof **out);
		struct status_job *j = &(*out)[(*n)++];
		j->target = dupcol(st, 0);
		j->grp = dupcol(st, 1);
		j->stage = dupcol(st, 2);
		j->klass = dupcol(st, 3);
		j->reason = dupcol(st, 4);
		j->started = sqlite3_column_double(st, 5);
		j->ended = sqlite3_column_double(st, 6);
		j->pid = pid;
		j->status = sqlite3_column_int(st, 8);
	}
	sqlite3_finalize(st);
}

static void log_names(const char *home, struct status_group *g)
{
	char path[4096];
	size_t len = 0;
	g->logs = NULL;
	g->nlogs = 0;
	if (strchr(g->grp, '/') || !strcmp(g->grp, "..") || !strcmp(g->grp, ".") || !*g->grp)
		return;
	snprintf(path, sizeof path, "%s/logs/%s", home, g->grp);
	DIR *d = opendir(path);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)) && g->nlogs < 16) {
		size_t k = strlen(e->d_name);
		if (k < 5 || strcmp(e->d_name + k - 4, ".log"))
			continue;
		g->logs = realloc(g->logs, len + k + 1);
		if (!g->logs)
			abort();
		memcpy(g->logs + len, e->d_name, k + 1);
		len += k + 1;
		g->nlogs++;
	}
	closedir(d);
}

static void groups(sqlite3 *db, struct status *s)
{
	sqlite3_stmt *st;
	int cap = 0, nl = 0, capl = 0;
	double *lat = NULL;
	const char *done_at = "(SELECT max(ended) FROM jobs j WHERE j.grp = g.grp AND j.status = 0)";
	char sql[1024];
	snprintf(sql, sizeof sql, "SELECT grp, state, first_seen, CASE WHEN state = 'done' THEN"
	    " coalesce(%s, updated) ELSE 0 END FROM groups g ORDER BY first_seen DESC", done_at);
	if (prep(db, &st, sql) < 0)
		return;
	while (sqlite3_step(st) == SQLITE_ROW) {
		double first = sqlite3_column_double(st, 2), done = sqlite3_column_double(st, 3);
		if (s->ngroups < 20) {
			s->groups = grow(s->groups, s->ngroups, &cap, sizeof *s->groups);
			struct status_group *g = &s->groups[s->ngroups++];
			g->grp = dupcol(st, 0);
			g->state = dupcol(st, 1);
			g->first_seen = first;
			g->done_at = done;
			log_names(s->home, g);
		}
		if (done > 0 && first > s->now - 86400 && done >= first) {
			lat = grow(lat, nl, &capl, sizeof *lat);
			lat[nl++] = done - first;
		}
		if (done > s->now - 86400 && done <= s->now) {
			int h = 23 - (int)((s->now - done) / 3600);
			if (h >= 0 && h < 24) {
				s->thr[h] += 1;
				s->lat_hour[h] += done - first; /* sum for now, mean below */
			}
		}
	}
	sqlite3_finalize(st);
	for (int h = 0; h < 24; h++)
		if (s->thr[h] > 0)
			s->lat_hour[h] /= s->thr[h];
	if (nl)
		qsort(lat, (size_t)nl, sizeof *lat, cmp_double);
	s->nlat = nl;
	s->lat_p50 = quantile(lat, nl, 0.5);
	s->lat_p90 = quantile(lat, nl, 0.9);
	s->lat_p99 = quantile(lat, nl, 0.99);
	s->lat_max = nl ? lat[nl - 1] : 0;
	free(lat);
}

static void fail_classes(sqlite3 *db, struct status *s)
{
	sqlite3_stmt *st;
	int cap = 0, capc = 0;
	if (prep(db, &st, "SELECT coalesce(class, 'unknown'), count(*) FROM jobs WHERE ended > ?1"
		" AND coalesce(status, 1) != 0 GROUP BY 1 ORDER BY 2 DESC, 1") < 0)
		return;
	sqlite3_bind_double(st, 1, s->now - 86400);
	while (sqlite3_step(st) == SQLITE_ROW) {
		s->fail_class = grow(s->fail_class, s->nfail_class, &cap, sizeof *s->fail_class);
		s->fail_count = grow(s->fail_count, s->nfail_class, &capc, sizeof *s->fail_count);
		const char *k = (const char *)sqlite3_column_text(st, 0);
		snprintf(s->fail_class[s->nfail_class], 32, "%s", k ? k : "");
		s->fail_count[s->nfail_class++] = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
}

static void quarantine(sqlite3 *db, struct status *s)
{
	sqlite3_stmt *st;
	int cap = 0;
	if (prep(db, &st, "SELECT original, reason, coalesce(target, ''), at FROM quarantine"
		" WHERE released IS NULL ORDER BY at DESC LIMIT 20") < 0)
		return;
	while (sqlite3_step(st) == SQLITE_ROW) {
		s->quar = grow(s->quar, s->nquar, &cap, sizeof *s->quar);
		struct status_quar *q = &s->quar[s->nquar++];
		q->original = dupcol(st, 0);
		q->reason = dupcol(st, 1);
		q->target = dupcol(st, 2);
		q->at = sqlite3_column_double(st, 3);
	}
	sqlite3_finalize(st);
}

/* The oldest group of plan.json that is not ready. */
static void waiting(const char *home, struct status *s)
{
	char path[4096];
	sqlite3 *m = NULL;
	sqlite3_stmt *st;
	snprintf(path, sizeof path, "%s/state/plan.json", home);
	char *js = fsx_read_file(path, NULL);
	if (!js)
		return;
	if (sqlite3_open_v2(":memory:", &m, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(m, "SELECT g.value->>'id', g.value->>'state', g.value->>'first',"
		" g.value->>'deadline', (SELECT group_concat(value, ' ') FROM json_each(g.value, '$.missing'))"
		" FROM json_each(?1, '$.groups') g WHERE g.value->>'state' != 'ready'"
		" ORDER BY g.value->>'first' LIMIT 1", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, js, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW) {
			s->wait_grp = dupcol(st, 0);
			s->wait_state = dupcol(st, 1);
			s->wait_first = sqlite3_column_double(st, 2);
			s->wait_deadline = sqlite3_column_double(st, 3);
			s->wait_missing = dupcol(st, 4);
		}
		sqlite3_finalize(st);
	} else if (m) {
		log_warn("cannot read '%s': %s", path, sqlite3_errmsg(m));
	}
	sqlite3_close(m);
	free(js);
}

/* plan.json's groups in planned order: rank (an integer) first, then id. */
static void queue(const char *home, struct status *s)
{
	char path[4096];
	sqlite3 *m = NULL;
	sqlite3_stmt *st;
	int cap = 0;
	snprintf(path, sizeof path, "%s/state/plan.json", home);
	char *js = fsx_read_file(path, NULL);
	if (!js)
		return;
	if (sqlite3_open_v2(":memory:", &m, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(m, "SELECT g.value->>'id', g.value->>'state',"
		" CASE WHEN json_type(g.value, '$.rank') = 'integer' THEN g.value->>'rank' END AS r"
		" FROM json_each(?1, '$.groups') g ORDER BY r IS NULL, r, g.value->>'id'", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, js, -1, SQLITE_STATIC);
		while (sqlite3_step(st) == SQLITE_ROW) {
			s->queued++;
			if (s->nqueue >= 50)
				continue;
			s->queue = grow(s->queue, s->nqueue, &cap, sizeof *s->queue);
			struct status_queued *q = &s->queue[s->nqueue++];
			q->grp = dupcol(st, 0);
			q->state = dupcol(st, 1);
			q->rank = sqlite3_column_type(st, 2) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 2);
		}
		sqlite3_finalize(st);
	} else if (m) {
		log_warn("cannot read '%s': %s", path, sqlite3_errmsg(m));
	}
	sqlite3_close(m);
	free(js);
}

/* A group directory name we accept under products/: no dot files. */
static int plain_name(const char *n)
{
	return *n && *n != '.' && !strchr(n, '/');
}

/* The thumbnail of the latest image (see status.h); quiet when none. */
void status_thumbnail(struct status *s)
{
	const char *home = s->home;
	char path[4096], best[256] = "", best_qa[256] = "", rel[PATH_MAX];
	struct stat sb;
	/* the image stage's product, preferred where its report (qa) exists */
	int img = s->st.image, rep = stages_reader(&s->st, img);
	if (img < 0)
		return;
	snprintf(path, sizeof path, "%s/products", home);
	DIR *d = opendir(path);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!plain_name(e->d_name) || strlen(e->d_name) >= sizeof best)
			continue;
		snprintf(path, sizeof path, "%s/%s", home, stages_product(&s->st, img, e->d_name, 0, rel));
		if (lstat(path, &sb) < 0 || !S_ISREG(sb.st_mode))
			continue;
		if (strcmp(e->d_name, best) > 0)
			snprintf(best, sizeof best, "%s", e->d_name);
		if (rep >= 0)
			snprintf(path, sizeof path, "%s/%s", home, stages_product(&s->st, rep, e->d_name, 0, rel));
		if (rep >= 0 && lstat(path, &sb) == 0 && S_ISREG(sb.st_mode) && strcmp(e->d_name, best_qa) > 0)
			snprintf(best_qa, sizeof best_qa, "%s", e->d_name);
	}
	closedir(d);
	const char *g = *best_qa ? best_qa : best;
	if (!*g)
		return;
	unsigned char *png = NULL;
	size_t len;
	snprintf(path, sizeof path, "%s/%s", home, stages_product(&s->st, img, g, 0, rel));
	if (thumb_png_fits(path, 256, &png, &len, &s->thumb_w, &s->thumb_h) < 0) {
		log_warn("cannot make a thumbnail of '%s': %s", path, strerror(errno));
		return;
	}
	s->thumb = thumb_base64(png, len);
	free(png);
	snprintf(s->thumb_grp, sizeof s->thumb_grp, "%s", g);
}

static void alerts(const char *home, struct status *s)
{
	char path[4096];
	sqlite3_stmt *st;
	int cap = 0;
	snprintf(path, sizeof path, "%s/state/alerts.sqlite", home);
	sqlite3 *db = alert_db_open(path, 1);
	if (!db)
		return;
	if (sqlite3_prepare_v2(db, "SELECT name, level, metric, value, threshold, firing_since, acked IS NOT NULL"
		" FROM alert_state WHERE firing_since IS NOT NULL ORDER BY firing_since", -1, &st, NULL) == SQLITE_OK) {
		while (sqlite3_step(st) == SQLITE_ROW) {
			s->alerts = grow(s->alerts, s->nalerts, &cap, sizeof *s->alerts);
			struct status_alert *a = &s->alerts[s->nalerts++];
			a->name = dupcol(st, 0);
			a->level = dupcol(st, 1);
			a->metric = dupcol(st, 2);
			a->value = sqlite3_column_double(st, 3);
			a->threshold = sqlite3_column_double(st, 4);
			a->since = sqlite3_column_double(st, 5);
			a->acked = sqlite3_column_int(st, 6);
		}
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
}

static void check(struct status *s, const char *name, int level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void check(struct status *s, const char *name, int level, const char *fmt, ...)
{
	va_list ap;
	struct status_check *c = &s->checks[s->nchecks++];
	snprintf(c->name, sizeof c->name, "%s", name);
	c->level = level;
	va_start(ap, fmt);
	vsnprintf(c->detail, sizeof c->detail, fmt, ap);
	va_end(ap);
	if (level > s->health)
		s->health = level;
}

/*
 * The health level of value v of metric by the alert rules on it (nr
 * rules r): 2 (failing) when a critical or error rule's condition holds,
 * 1 (degraded) when a warning or info rule's does, else 0. Durations are
 * not waited for: the status is of this instant.
 */
static int rules_level(const struct alert_rule *r, int nr, const char *metric, double v)
{
	int level = 0;
	for (int i = 0; i < nr; i++) {
		if (strcmp(r[i].metric, metric) || !alert_rule_holds(&r[i], v))
			continue;
		int l = !strcmp(r[i].level, "critical") || !strcmp(r[i].level, "error") ? 2 : 1;
		if (l > level)
			level = l;
	}
	return level;
}

/* The health checks, from the derived metrics shared with uvm-alert and
 * with the thresholds of its rules (alert_rules_path). */
static void health(const struct cfg *c, struct status *s)
{
	struct alert_metrics ms = {0};
	struct alert_rule *rules = NULL;
	double v;
	char path[4096];
	int nr;
	alert_rules_path(c, path);
	nr = alert_rules_load(path, &rules);
	if (nr < 0) {
		check(s, "rules", 1, "cannot read the alert rules '%s': no thresholds", path);
		nr = 0;
	}
	alert_derive(c, s->now, &ms);
	int lv, up = alert_metrics_get(&ms, "uvmake_watch_up", &v) == 0 && v > 0;
	check(s, "watcher", up ? 0 : 1, up ? "uvm-watch is running" : "uvm-watch is not running");
	if (!s->has_cal)
		check(s, "calibration", 1, "no good calibration table");
	else if ((lv = rules_level(rules, nr, "uvmake_calibration_age_seconds", s->cal_age)) > 0)
		check(s, "calibration", lv, "no valid calibration for %.1f h", s->cal_age / 3600);
	else
		check(s, "calibration", 0, "calibration valid (age %.0f s)", s->cal_age);
	double ended = 0;
	if (alert_metrics_get(&ms, "uvmake_jobs_finished_1h", &ended) < 0 || ended == 0 ||
	    alert_metrics_get(&ms, "uvmake_failure_ratio_1h", &v) < 0)
		check(s, "failures", 0, "no jobs ended in the last hour");
	else
		check(s, "failures", rules_level(rules, nr, "uvmake_failure_ratio_1h", v),
		    "%.0f%% of the jobs of the last hour failed", v * 100);
	long dead = 0;
	for (int i = 0; i < s->nstages; i++)
		dead += s->stages[i].dead;
	char why[PATH_MAX];
	int dbh = dbhealth_check(c, why, sizeof why);
	check(s, "database", dbh == DBH_BAD ? 2 : dbh == DBH_UNCHECKED ? 1 : 0, "%s", why);
	check(s, "dead_targets", dead ? 1 : 0, "%ld dead-lettered target%s", dead, dead == 1 ? "" : "s");
	long long margin = cfg_int(c, "DISK_MARGIN_MB", 512) * 1024 * 1024;
	long long fr = fsx_free_bytes(cfg_path(c, "products", path));
	if (fr >= 0)
		check(s, "disk", fr < margin ? 2 : 0, "%lld MB free for products", fr / 1048576);
	int crit = 0, other = 0;
	for (int i = 0; i < s->nalerts; i++) {
		if (!strcmp(s->alerts[i].level, "critical"))
			crit++;
		else if (!s->alerts[i].acked)
			other++;
	}
	check(s, "alerts", crit ? 2 : other ? 1 : 0, "%d critical, %d other active alert%s", crit, other,
	    crit + other == 1 ? "" : "s");
	alert_metrics_free(&ms);
	free(rules);
}

int status_collect(const struct cfg *c, double now, struct status *s)
{
	char path[4096];
	memset(s, 0, sizeof *s);
	s->now = now;
	snprintf(s->home, sizeof s->home, "%s", c->home);
	if (stages_load_cfg(&s->st, c, path, sizeof path) == 0) { /* unreadable: no thumbnail */
		path[0] = 0;
		s->has_flag = flag_report_latest(c->home, &s->st, s->flag_grp, &s->flag, path, sizeof path) == 1;
		if (!s->has_flag && *path)
			log_warn("%s", path);
	}
	snprintf(path, sizeof path, "%s/state/pipeline.sqlite", c->home);
	char lost[160]; /* an emptied database has no tables: its health says so */
	sqlite3 *db = db_history_lost(c->home, lost, sizeof lost) ? NULL : alert_db_open(path, 1);
	if (db) {
		stages(db, s);
		jobs(db, "SELECT target, grp, stage, '', '', started, 0, pid, 0 FROM jobs"
		    " WHERE ended IS NULL AND started <= ?1 ORDER BY started", now, 1, &s->running, &s->nrunning);
		jobs(db, "SELECT j.target, j.grp, j.stage, coalesce(j.class, ''),"
		    " coalesce(t.reason, j.note, ''), j.started, j.ended, j.pid, coalesce(j.status, -1)"
		    " FROM jobs j LEFT JOIN targets t ON t.target = j.target"
		    " WHERE j.ended IS NOT NULL AND j.ended <= ?1 AND coalesce(j.status, 1) != 0"
		    " ORDER BY j.ended DESC LIMIT 10", now, 0, &s->failures, &s->nfailures);
		groups(db, s);
		fail_classes(db, s);
		quarantine(db, s);
		sqlite3_close(db);
	}
	waiting(c->home, s);
	queue(c->home, s);
	s->thr_1h = s->thr[23];
	s->eta = s->thr_1h > 0 ? s->queued / s->thr_1h * 3600 : s->queued ? -1 : 0;
	s->has_cal = alert_cal_age(c->home, now, &s->cal_age, s->cal_grp) == 0;
	alerts(c->home, s);
	health(c, s);
	return 0;
}

void status_free(struct status *s)
{
	for (int i = 0; i < s->nqueue; i++) {
		free(s->queue[i].grp);
		free(s->queue[i].state);
	}
	free(s->queue);
	free(s->thumb);
	struct status_job *lists[] = {s->running, s->failures};
	int ns[] = {s->nrunning, s->nfailures};
	for (int k = 0; k < 2; k++) {
		for (int i = 0; i < ns[k]; i++) {
			free(lists[k][i].target);
			free(lists[k][i].grp);
			free(lists[k][i].stage);
			free(lists[k][i].klass);
			free(lists[k][i].reason);
		}
		free(lists[k]);
	}
	for (int i = 0; i < s->ngroups; i++) {
		free(s->groups[i].grp);
		free(s->groups[i].state);
		free(s->groups[i].logs);
	}
	for (int i = 0; i < s->nquar; i++) {
		free(s->quar[i].original);
		free(s->quar[i].reason);
		free(s->quar[i].target);
	}
	for (int i = 0; i < s->nalerts; i++) {
		free(s->alerts[i].name);
		free(s->alerts[i].level);
		free(s->alerts[i].metric);
	}
	free(s->groups);
	free(s->quar);
	free(s->alerts);
	free(s->stages);
	free(s->fail_class);
	free(s->fail_count);
	free(s->wait_grp);
	free(s->wait_state);
	free(s->wait_missing);
	memset(s, 0, sizeof *s);
}

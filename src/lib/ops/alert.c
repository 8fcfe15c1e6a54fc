/*
 * alert.c: rules, metric inputs and alert episodes (contract in alert.h).
 *
 * The alert database is opened with sqlite3_open_v2 directly, not through
 * db_open_path, which would apply the pipeline's migrations to it; it has
 * its own two tables, created if missing.
 */
#include "ops/alert.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/db.h"
#include "core/fsx.h"
#include "core/json.h"
#include "core/log.h"
#include "core/stages.h"
#include "ops/dbhealth.h"
#include "sci/flag_report.h"

static const char *levels[] = {"info", "warning", "error", "critical", NULL};
static const char *ops[] = {">", ">=", "<", "<=", "==", "!=", NULL};

static int in_list(const char *s, const char **l)
{
	for (; *l; l++)
		if (!strcmp(s, *l))
			return 1;
	return 0;
}

int alert_rules_load(const char *path, struct alert_rule **out)
{
	FILE *f = fopen(path, "re");
	char line[1024];
	int n = 0, cap = 0, ln = 0;
	struct alert_rule *r = NULL;
	if (!f) {
		log_err("cannot open '%s': %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof line, f)) {
		char name[64], metric[256], op[8], thr[64], dur[64], level[16], extra[2], *e1, *e2;
		ln++;
		char *p = line;
		while (isspace((unsigned char)*p))
			p++;
		if (!*p || *p == '#')
			continue;
		int k = sscanf(p, "%63s %255s %7s %63s %63s %15s %1s", name, metric, op, thr, dur, level, extra);
		double t = strtod(thr, &e1), d = strtod(dur, &e2);
		if (k != 6 || !in_list(op, ops) || !in_list(level, levels) || *e1 || *e2 || d < 0 ||
		    !isfinite(t) || !isfinite(d)) {
			log_err("%s:%d: bad rule (want: name metric op threshold duration level)", path, ln);
			free(r);
			fclose(f);
			errno = EINVAL;
			return -1;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 32;
			r = realloc(r, (size_t)cap * sizeof *r);
			if (!r)
				abort();
		}
		memset(&r[n], 0, sizeof r[n]);
		snprintf(r[n].name, sizeof r[n].name, "%s", name);
		snprintf(r[n].metric, sizeof r[n].metric, "%s", metric);
		snprintf(r[n].op, sizeof r[n].op, "%s", op);
		snprintf(r[n].level, sizeof r[n].level, "%s", level);
		r[n].threshold = t;
		r[n].duration = d;
		n++;
	}
	fclose(f);
	*out = r;
	return n;
}

void alert_metrics_set(struct alert_metrics *ms, const char *name, double v, int derived,
    int keep_existing)
{
	for (int i = 0; i < ms->n; i++)
		if (!strcmp(ms->m[i].name, name)) {
			if (!keep_existing) {
				ms->m[i].value = v;
				ms->m[i].derived = derived;
			}
			return;
		}
	if (ms->n == ms->cap) {
		ms->cap = ms->cap ? ms->cap * 2 : 64;
		ms->m = realloc(ms->m, (size_t)ms->cap * sizeof *ms->m);
		if (!ms->m)
			abort();
	}
	ms->m[ms->n].name = strdup(name);
	if (!ms->m[ms->n].name)
		abort();
	ms->m[ms->n].value = v;
	ms->m[ms->n++].derived = derived;
}

void alert_metrics_parse(struct alert_metrics *ms, const char *text)
{
	while (text && *text) {
		const char *eol = strchr(text, '\n');
		size_t len = eol ? (size_t)(eol - text) : strlen(text);
		char line[1024];
		if (len < sizeof line && *text != '#') {
			memcpy(line, text, len);
			line[len] = 0;
			char *end = strchr(line, '{');
			end = end ? strrchr(line, '}') : line;
			if (end) {
				end += strcspn(end, " \t");
				if (*end) {
					*end++ = 0;
					char *e;
					double v = strtod(end, &e);
					if (e != end && *line)
						alert_metrics_set(ms, line, v, 0, 0);
				}
			}
		}
		text = eol ? eol + 1 : NULL;
	}
}

int alert_metrics_get(const struct alert_metrics *ms, const char *name, double *v)
{
	for (int i = 0; i < ms->n; i++)
		if (!strcmp(ms->m[i].name, name)) {
			*v = ms->m[i].value;
			return 0;
		}
	return -1;
}

void alert_metrics_free(struct alert_metrics *ms)
{
	for (int i = 0; i < ms->n; i++)
		free(ms->m[i].name);
	free(ms->m);
	ms->m = NULL;
	ms->n = ms->cap = 0;
}

/* Open an existing database read-only (no WAL change); NULL quietly. */
/* An existing database, read-only; NULL when absent or unreadable. */
static sqlite3 *open_ro(const char *path)
{
	return db_open_schema(path, NULL, 0, DB_RDONLY, NULL);
}

/* First column of a one-row query as a double; 0, or -1 when no row, NULL
 * or an error. */
static int query_num(sqlite3 *db, const char *sql, double bind, double *v)
{
	sqlite3_stmt *st;
	int r = -1;
	if (!db || sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_bind_parameter_count(st) > 0)
		sqlite3_bind_double(st, 1, bind);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
		*v = sqlite3_column_double(st, 0);
		r = 0;
	}
	sqlite3_finalize(st);
	return r;
}

#define MJD_UNIX 40587.0

int alert_cal_age(const char *home, double now, double *age, char grp[32])
{
	char path[4096];
	sqlite3_stmt *st;
	int r = -1;
	snprintf(path, sizeof path, "%s/state/calibration.sqlite", home);
	sqlite3 *db = open_ro(path);
	if (!db)
		return -1;
	double mjd = now / 86400.0 + MJD_UNIX;
	if (sqlite3_prepare_v2(db,
		"SELECT grp, mjd_start, mjd_end FROM caltables WHERE status = 'good'"
		" ORDER BY (mjd_start <= ?1 AND mjd_end >= ?1) DESC, mjd_end DESC LIMIT 1",
		-1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_double(st, 1, mjd);
		if (sqlite3_step(st) == SQLITE_ROW) {
			const char *g = (const char *)sqlite3_column_text(st, 0);
			double s = sqlite3_column_double(st, 1), e = sqlite3_column_double(st, 2);
			snprintf(grp, 32, "%s", g ? g : "");
			*age = (s <= mjd && mjd <= e) ? 0.0 : fmax(0.0, (mjd - e) * 86400.0);
			r = 0;
		}
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	return r;
}

static const struct {
	const char *name, *help;
} derived_help[] = {
	{"uvmake_jobs_finished_1h", "Jobs that ended in the last hour."},
	{"uvmake_failure_ratio_1h", "Share of the jobs ended in the last hour that failed (0 when none ended)."},
	{"uvmake_image_last_success_age_seconds", "Time since the newest successful image job ended."},
	{"uvmake_target_attempts_max", "Most attempts of a target not yet ok."},
	{"uvmake_queue_depth", "Groups not done: ready, partial, waiting or incomplete."},
	{"uvmake_calibration_age_seconds",
	    "0 while a good calibration table is valid, else the time since the newest validity window ended."},
	{"uvmake_tmpfs_used_ratio", "Used fraction of the staging file system (STAGING_DIR)."},
	{"uvmake_watch_up", "1 if uvm-watch's status file names a live process."},
	{"uvmake_flagged_fraction_last",
	    "Flagged fraction of the samples of the newest group with a flag report."},
	{"uvmake_database_ok",
	    "0 if the state database is corrupt or its history lost (restore it), else 1."},
	{NULL, NULL},
};

const char *alert_derived_help(const char *name)
{
	for (int i = 0; derived_help[i].name; i++)
		if (!strcmp(derived_help[i].name, name))
			return derived_help[i].help;
	return NULL;
}

/* The stage of role image in the stage description, "" if none; and the
 * newest group's flag report into *fr (*has 1) when there is one (an
 * unreadable one is a warning: no gauge). */
static void image_stage(const struct cfg *c, char name[STAGES_NAMELEN], struct flag_report *fr, int *has)
{
	struct stages *st = malloc(sizeof *st);
	char err[PATH_MAX + 256], grp[IDS_LEN];
	name[0] = 0;
	*has = 0;
	if (st && stages_load_cfg(st, c, err, sizeof err) == 0) {
		if (st->image >= 0)
			snprintf(name, STAGES_NAMELEN, "%s", st->v[st->image].name);
		err[0] = 0;
		*has = flag_report_latest(c->home, st, grp, fr, err, sizeof err) == 1;
		if (!*has && *err)
			log_warn("%s", err);
	}
	free(st);
}

void alert_derive(const struct cfg *c, double now, struct alert_metrics *ms)
{
	char path[PATH_MAX];
	double v, n;
	sqlite3 *db = open_ro(cfg_path(c, "state/pipeline.sqlite", path));
	if (query_num(db, "SELECT count(*) FROM jobs WHERE ended > ?1", now - 3600, &n) == 0 &&
	    query_num(db, "SELECT count(*) FROM jobs WHERE ended > ?1 AND coalesce(status, 1) != 0",
		now - 3600, &v) == 0) {
		alert_metrics_set(ms, "uvmake_jobs_finished_1h", n, 1, 1);
		alert_metrics_set(ms, "uvmake_failure_ratio_1h", n > 0 ? v / n : 0, 1, 1);
	}
	char img[STAGES_NAMELEN], sql[128]; /* the image stage: a [a-z0-9_] name */
	struct flag_report *fr = malloc(sizeof *fr);
	int has_fr = 0;
	if (fr)
		image_stage(c, img, fr, &has_fr);
	else
		img[0] = 0;
	if (has_fr)
		alert_metrics_set(ms, "uvmake_flagged_fraction_last", fr->fraction, 1, 1);
	free(fr);
	snprintf(sql, sizeof sql, "SELECT max(ended) FROM jobs WHERE stage = '%s' AND status = 0", img);
	if (*img && query_num(db, sql, 0, &v) == 0)
		alert_metrics_set(ms, "uvmake_image_last_success_age_seconds", fmax(0, now - v), 1, 1);
	if (query_num(db, "SELECT max(attempts) FROM targets WHERE state != 'ok'", 0, &v) == 0)
		alert_metrics_set(ms, "uvmake_target_attempts_max", v, 1, 1);
	else if (db)
		alert_metrics_set(ms, "uvmake_target_attempts_max", 0, 1, 1);
	if (query_num(db, "SELECT count(*) FROM groups WHERE state IN ('ready', 'partial', 'waiting', 'incomplete')", 0, &v) == 0)
		alert_metrics_set(ms, "uvmake_queue_depth", v, 1, 1);
	if (db)
		sqlite3_close(db);

	char grp[32];
	if (alert_cal_age(c->home, now, &v, grp) == 0)
		alert_metrics_set(ms, "uvmake_calibration_age_seconds", v, 1, 1);

	const char *stg = cfg_str(c, "STAGING_DIR", "");
	struct statvfs sv;
	if (*stg && statvfs(stg, &sv) == 0 && sv.f_blocks > 0)
		alert_metrics_set(ms, "uvmake_tmpfs_used_ratio",
		    1.0 - (double)sv.f_bavail / (double)sv.f_blocks, 1, 1);

	char *w = fsx_read_file(cfg_path(c, "state/watch.json", path), NULL);
	double pv = 0;
	long pid = w && json_get_number(w, "pid", &pv) == 1 && pv > 0 && pv < 1e9 ? (long)pv : 0;
	alert_metrics_set(ms, "uvmake_watch_up", pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM), 1, 1);
	free(w);

	char why[PATH_MAX];
	alert_metrics_set(ms, "uvmake_database_ok", dbhealth_check(c, why, sizeof why) != DBH_BAD,
	    1, 1);
}

/* The alert state's schema (state/alerts.sqlite), numbered migrations
 * for db_open_schema. The first one is written with IF NOT EXISTS because
 * databases made before migrations were numbered have these tables at
 * user_version 0. */
static const char *const alert_migrations[] = {
    /* 1: the state of each rule's episode, and the history of events */
    "CREATE TABLE IF NOT EXISTS alert_state ("
    " name TEXT PRIMARY KEY, level TEXT NOT NULL, metric TEXT NOT NULL,"
    " value REAL, threshold REAL, pending_since REAL, firing_since REAL,"
    " last_notified REAL, acked REAL, notifications INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS alert_history ("
    " id INTEGER PRIMARY KEY, name TEXT NOT NULL, level TEXT NOT NULL,"
    " event TEXT NOT NULL, metric TEXT, value REAL, threshold REAL, at REAL NOT NULL);"
    "CREATE INDEX IF NOT EXISTS alert_history_at ON alert_history(at);",
};

sqlite3 *alert_db_open(const char *path, int ro)
{
	if (ro)
		return open_ro(path);
	return db_open_schema(path, alert_migrations,
	    (int)(sizeof alert_migrations / sizeof alert_migrations[0]), DB_CREATE, NULL);
}

static void iso_time(char buf[32], double t)
{
	time_t s = (time_t)t;
	struct tm tm;
	gmtime_r(&s, &tm);
	strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The notification as one JSON object (malloc'd, newline-terminated). */
static char *alert_json(const struct alert_rule *r, const char *state, double value, double since,
    size_t *len)
{
	char *buf = NULL, host[256] = "", ts[32];
	FILE *f = open_memstream(&buf, len);
	if (!f)
		abort();
	if (gethostname(host, sizeof host - 1) < 0)
		strcpy(host, "unknown");
	iso_time(ts, since);
	fputs("{\"name\":", f);
	json_str_file(f, r->name);
	fputs(",\"level\":", f);
	json_str_file(f, r->level);
	fprintf(f, ",\"state\":\"%s\",\"metric\":", state);
	json_str_file(f, r->metric);
	fprintf(f, ",\"op\":\"%s\",\"value\":%.17g,\"threshold\":%.17g,\"since\":\"%s\",\"host\":", r->op,
	    isfinite(value) ? value : 0.0, r->threshold, ts);
	json_str_file(f, host);
	fputs("}\n", f);
	if (fclose(f))
		abort();
	return buf;
}

/* Run the hook (no shell) with json on stdin; 0 when it exits 0 within
 * 30 s, else -1 after logging. */
static int run_hook(const char *hook, const char *json, size_t len)
{
	int p[2], st = 0;
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0) {
		log_err("cannot run hook '%s': %s", hook, strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		dup2(p[0], 0);
		char *argv[] = {(char *)hook, NULL};
		execv(hook, argv);
		fprintf(stderr, "%s: cannot run hook '%s': %s\n", log_prog(), hook, strerror(errno));
		_exit(127);
	}
	close(p[0]);
	void (*old)(int) = signal(SIGPIPE, SIG_IGN);
	fsx_write_all(p[1], json, len); /* a hook may ignore its input */
	close(p[1]);
	signal(SIGPIPE, old);
	for (int i = 0; i < 3000; i++) {
		pid_t w = waitpid(pid, &st, WNOHANG);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR)
			return -1;
		if (i == 2999) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			log_err("hook '%s' timed out", hook);
			return -1;
		}
		struct timespec ts = {0, 10000000L};
		nanosleep(&ts, NULL);
	}
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	log_err("hook '%s' failed (%s %d)", hook, WIFEXITED(st) ? "status" : "signal",
	    WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	return -1;
}

void alert_rules_path(const struct cfg *c, char *path)
{
	const char *k = cfg_str(c, "ALERT_RULES", "");
	char exe[PATH_MAX];
	ssize_t n;
	if (*k) {
		cfg_path(c, k, path);
		return;
	}
	const char *root = getenv("UVM_ROOT");
	if (root && *root) {
		snprintf(path, PATH_MAX, "%s/ops/alerts.conf", root);
		if (access(path, R_OK) == 0)
			return;
	}
	n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n > 0) {
		exe[n] = 0;
		const char *d = dirname(exe);
		const char *rel[] = {"/../ops/alerts.conf", "/../share/uvmake/ops/alerts.conf",
		    "/../../../ops/alerts.conf", NULL};
		for (int i = 0; rel[i]; i++) {
			snprintf(path, PATH_MAX, "%s%s", d, rel[i]);
			if (access(path, R_OK) == 0)
				return;
		}
	}
	snprintf(path, PATH_MAX, "ops/alerts.conf");
}

int alert_rule_holds(const struct alert_rule *r, double v)
{
	if (!strcmp(r->op, ">"))
		return v > r->threshold;
	if (!strcmp(r->op, ">="))
		return v >= r->threshold;
	if (!strcmp(r->op, "<"))
		return v < r->threshold;
	if (!strcmp(r->op, "<="))
		return v <= r->threshold;
	if (!strcmp(r->op, "=="))
		return v == r->threshold;
	return v != r->threshold;
}

struct episode {
	int exists;
	double pending, firing, notified, acked; /* NAN when NULL */
	long notifications;
};

static double col_or_nan(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

static int load_episode(sqlite3 *db, const char *name, struct episode *e)
{
	sqlite3_stmt *st;
	memset(e, 0, sizeof *e);
	e->pending = e->firing = e->notified = e->acked = NAN;
	if (sqlite3_prepare_v2(db, "SELECT pending_since, firing_since, last_notified, acked, notifications"
		" FROM alert_state WHERE name = ?1", -1, &st, NULL) != SQLITE_OK) {
		log_err("database error: %s", sqlite3_errmsg(db));
		return -1;
	}
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		e->exists = 1;
		e->pending = col_or_nan(st, 0);
		e->firing = col_or_nan(st, 1);
		e->notified = col_or_nan(st, 2);
		e->acked = col_or_nan(st, 3);
		e->notifications = sqlite3_column_int64(st, 4);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		log_err("database error: %s", sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}

static void bind_opt(sqlite3_stmt *st, int i, double v)
{
	if (isnan(v))
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_double(st, i, v);
}

static int save_episode(sqlite3 *db, const struct alert_rule *r, double value, const struct episode *e)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO alert_state (name, level, metric, value, threshold,"
		" pending_since, firing_since, last_notified, acked, notifications)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)", -1, &st, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_text(st, 1, r->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, r->level, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, r->metric, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 4, value);
	sqlite3_bind_double(st, 5, r->threshold);
	bind_opt(st, 6, e->pending);
	bind_opt(st, 7, e->firing);
	bind_opt(st, 8, e->notified);
	bind_opt(st, 9, e->acked);
	sqlite3_bind_int64(st, 10, e->notifications);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc == SQLITE_DONE)
		return 0;
fail:
	log_err("database error: %s", sqlite3_errmsg(db));
	return -1;
}

static int history(sqlite3 *db, const struct alert_rule *r, const char *event, double value, double now)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "INSERT INTO alert_history (name, level, event, metric, value, threshold, at)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)", -1, &st, NULL) != SQLITE_OK) {
		log_err("database error: %s", sqlite3_errmsg(db));
		return -1;
	}
	sqlite3_bind_text(st, 1, r->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, r->level, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, event, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, r->metric, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 5, value);
	sqlite3_bind_double(st, 6, r->threshold);
	sqlite3_bind_double(st, 7, now);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		log_err("database error: %s", sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}

/* Print and deliver one notification; 0, or -1 when the hook failed. */
static int notify(const struct alert_rule *r, const char *state, double value, double since,
    const struct alert_opts *o)
{
	size_t len;
	char *js = alert_json(r, state, value, since, &len);
	int rc = 0;
	if (o->out)
		fwrite(js, 1, len, o->out);
	if (!o->dry_run && o->hook && *o->hook)
		rc = run_hook(o->hook, js, len);
	free(js);
	return rc;
}

/* Run a statement with one parameter ?1: the text name, or the number
 * num when name is NULL; 0 or -1 after logging. */
static int db_exec1(sqlite3 *db, const char *sql, const char *name, double num)
{
	sqlite3_stmt *st;
	int rc = SQLITE_ERROR;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
		if (name)
			sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		else
			sqlite3_bind_double(st, 1, num);
		rc = sqlite3_step(st);
		sqlite3_finalize(st);
	}
	if (rc != SQLITE_DONE) {
		log_err("database error: %s", sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}

/* Drop the episodes of rules no longer in the rules file (history event
 * "removed"), so they stop showing as active. 0 or -1 after logging. */
static int forget_removed(sqlite3 *db, const struct alert_rule *r, int nr, double now)
{
	sqlite3_stmt *st;
	char gone[64][64];
	int n = 0;
	if (sqlite3_prepare_v2(db, "SELECT name, level FROM alert_state", -1, &st, NULL) != SQLITE_OK) {
		log_err("database error: %s", sqlite3_errmsg(db));
		return -1;
	}
	while (n < 64 && sqlite3_step(st) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		int known = 0;
		for (int i = 0; i < nr && !known; i++)
			known = name && !strcmp(name, r[i].name);
		if (!known)
			snprintf(gone[n++], 64, "%s", name ? name : "");
	}
	sqlite3_finalize(st);
	for (int i = 0; i < n; i++) {
		struct alert_rule x = {0};
		snprintf(x.name, sizeof x.name, "%s", gone[i]);
		snprintf(x.level, sizeof x.level, "info");
		if (history(db, &x, "removed", NAN, now) < 0 ||
		    db_exec1(db, "DELETE FROM alert_state WHERE name = ?1", gone[i], 0) < 0)
			return -1;
	}
	return 0;
}

/* Delete the history events older than days before now (none when
 * days <= 0): 0 or -1 after logging. */
static int prune_history(sqlite3 *db, double now, double days)
{
	if (!(days > 0))
		return 0;
	return db_exec1(db, "DELETE FROM alert_history WHERE at < ?1", NULL, now - days * 86400);
}

int alert_eval(sqlite3 *db, const struct alert_rule *r, int nr, const struct alert_metrics *ms,
    double now, const struct alert_opts *o)
{
	int failed = 0;
	for (int i = 0; i < nr; i++) {
		struct episode e;
		double v;
		if (alert_metrics_get(ms, r[i].metric, &v) < 0)
			continue; /* not evaluable: leave any episode as it is */
		if (load_episode(db, r[i].name, &e) < 0)
			return -1;
		if (!alert_rule_holds(&r[i], v)) {
			if (!isnan(e.firing)) {
				if (notify(&r[i], "resolved", v, e.firing, o) < 0)
					failed = 1;
				if (!o->dry_run && history(db, &r[i], "resolved", v, now) < 0)
					return -1;
			}
			if (e.exists && !o->dry_run &&
			    db_exec1(db, "DELETE FROM alert_state WHERE name = ?1", r[i].name, 0) < 0)
				return -1;
			continue;
		}
		if (isnan(e.pending))
			e.pending = now;
		const char *event = NULL;
		if (isnan(e.firing) && now - e.pending >= r[i].duration) {
			e.firing = now;
			event = "firing";
		} else if (!isnan(e.firing) && isnan(e.acked) &&
		    (isnan(e.notified) || now - e.notified >= o->renotify)) {
			event = "renotify";
		}
		if (event) {
			if (notify(&r[i], "firing", v, e.firing, o) < 0) {
				failed = 1;
			} else {
				e.notified = now;
				e.notifications++;
			}
			if (!o->dry_run && history(db, &r[i], event, v, now) < 0)
				return -1;
		}
		if (!o->dry_run && save_episode(db, &r[i], v, &e) < 0)
			return -1;
	}
	if (o->dry_run)
		return failed;
	if (forget_removed(db, r, nr, now) < 0 || prune_history(db, now, o->keep_days) < 0)
		return -1;
	return failed;
}

int alert_ack(sqlite3 *db, const char *name, double now)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "UPDATE alert_state SET acked = ?2 WHERE name = ?1"
		" AND firing_since IS NOT NULL AND acked IS NULL", -1, &st, NULL) != SQLITE_OK) {
		log_err("database error: %s", sqlite3_errmsg(db));
		return -1;
	}
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 2, now);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		log_err("database error: %s", sqlite3_errmsg(db));
		return -1;
	}
	if (sqlite3_changes(db) == 0)
		return 1;
	struct alert_rule r = {0};
	snprintf(r.name, sizeof r.name, "%s", name);
	snprintf(r.level, sizeof r.level, "%s", "info");
	return history(db, &r, "ack", NAN, now) < 0 ? -1 : 0;
}

/*
 * audit.c: the deployment audit (contract in audit.h).
 *
 * Read-only unless asked to repair. The databases are quick_checked before
 * anything trusts them; a database that fails is reported and every check
 * that needs it is skipped (restoring it is a person's decision). Only
 * names are walked, never followed (lstat), so a hostile link in products/
 * or incoming/ is reported as a file, not entered.
 */
#include "ops/audit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sci/cal_registry.h"
#include "sci/cal_table.h"
#include "core/db.h"
#include "core/fsx.h"
#include "core/log.h"
#include "core/stages.h"
#include "core/uvm.h"
#include "engine/plan.h"
#include "engine/run.h"

const char *const audit_classes[] = {
	"database", "stuck-job", "missing-product", "unrecorded-product", "stale-temp",
	"unplanned-input", "missing-caltable", "unregistered-caltable", "quarantine", NULL,
};

struct ctx {
	struct cfg *c;
	struct audit *a;
	int repair;
	sqlite3 *db;        /* pipeline.sqlite, NULL when unusable */
	sqlite3_stmt *made; /* is a target recorded as made? */
	double oldest_run;  /* start of the oldest running job (0: none) */
	double pruned;      /* products older need no record: retention pruned
	                     * the job history before it (JOBS_KEEP_DAYS; 0) */
	char *retained;     /* logs/retain.log text, or NULL */
	struct stages *st;  /* the stage description (NULL: unreadable) */
};

__attribute__((format(printf, 4, 5)))
static struct audit_finding *add(struct audit *a, const char *cls, const char *subject,
    const char *fmt, ...)
{
	static struct audit_finding none;
	char detail[PATH_MAX + 256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	if (a->n == a->cap) {
		int cap = a->cap ? 2 * a->cap : 32;
		struct audit_finding *v = realloc(a->v, (size_t)cap * sizeof *v);
		if (!v) {
			a->nomem = 1;
			return &none;
		}
		a->v = v;
		a->cap = cap;
	}
	struct audit_finding *f = &a->v[a->n];
	f->cls = strdup(cls);
	f->subject = strdup(subject);
	f->detail = strdup(detail);
	f->repaired = 0;
	if (!f->cls || !f->subject || !f->detail) {
		free(f->cls);
		free(f->subject);
		free(f->detail);
		a->nomem = 1;
		return &none;
	}
	a->n++;
	return f;
}

void audit_free(struct audit *a)
{
	for (int i = 0; i < a->n; i++) {
		free(a->v[i].cls);
		free(a->v[i].subject);
		free(a->v[i].detail);
	}
	free(a->v);
	a->v = NULL;
	a->n = a->cap = 0;
}

static int pid_gone(long pid)
{
	return pid <= 0 || (kill((pid_t)pid, 0) < 0 && errno == ESRCH);
}

/* The graver of two database outcomes: corrupt (restore) over could not
 * check (I/O) over busy, over none. */
static int graver(int a, int b)
{
	static const int order[] = {0, EX_TEMPFAIL, EX_IOERR, EX_DATAERR};
	int ia = 0, ib = 0;
	for (int i = 0; i < 4; i++)
		ia = order[i] == a ? i : ia, ib = order[i] == b ? i : ib;
	return ia >= ib ? a : b;
}

/* A database finding of outcome st for rel, worded for the runbook. */
static void db_finding(struct audit *a, const char *rel, int st, const char *msg)
{
	if (st == EX_DATAERR)
		add(a, "database", rel, "corrupt: %s: restore it from a backup (ops/RECOVERY.md)", msg);
	else if (st == EX_TEMPFAIL)
		add(a, "database", rel, "could not check: %s (busy: transient, run the audit again)",
		    msg);
	else
		add(a, "database", rel, "could not check: %s (disk full or I/O error while checking:"
		    " transient, free space and run the audit again; not a reason to restore)", msg);
	a->dbstatus = graver(a->dbstatus, st);
	a->dbbad = 1;
}

/*
 * PRAGMA quick_check of one database file, findings added: 0 ok,
 * EX_DATAERR corrupt or not a database, EX_IOERR when it could not be
 * checked (disk full, I/O error, cannot open), EX_TEMPFAIL busy.
 */
static int quick_check(struct audit *a, const char *path, const char *rel)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int bad = 0, rc, cls;
	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOFOLLOW, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &st, NULL);
	if (rc == SQLITE_OK) {
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			const char *m = (const char *)sqlite3_column_text(st, 0);
			if (m && strcmp(m, "ok")) {
				db_finding(a, rel, EX_DATAERR, m);
				bad = EX_DATAERR;
			}
		}
	}
	if (rc != SQLITE_OK && rc != SQLITE_DONE && !bad) {
		rc = db ? sqlite3_extended_errcode(db) : rc;
		cls = db_status(db, rc);
		bad = cls == EX_DATAERR || cls == EX_TEMPFAIL ? cls : EX_IOERR;
		db_finding(a, rel, bad, db ? sqlite3_errmsg(db) : "out of memory");
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return bad;
}

static void check_databases(struct ctx *x)
{
	char dir[PATH_MAX], p[PATH_MAX * 2], rel[NAME_MAX + 8], why[160];
	struct dirent **ents;
	int n = scandir(cfg_path(x->c, "state", dir), &ents, NULL, alphasort);
	if (db_history_lost(x->c->home, why, sizeof why)) {
		add(x->a, "database", "state/pipeline.sqlite", "%s: the job, quarantine and"
		    " dead-letter history is lost; restore it from a backup (ops/RECOVERY.md)", why);
		x->a->dbstatus = graver(x->a->dbstatus, EX_DATAERR);
		x->a->dbbad = 1;
	}
	for (int i = 0; i < n; i++) {
		size_t l = strlen(ents[i]->d_name);
		if (l > 7 && !strcmp(ents[i]->d_name + l - 7, ".sqlite")) {
			snprintf(p, sizeof p, "%s/%s", dir, ents[i]->d_name);
			snprintf(rel, sizeof rel, "state/%s", ents[i]->d_name);
			quick_check(x->a, p, rel);
		}
		free(ents[i]);
	}
	if (n >= 0)
		free(ents);
	else
		db_finding(x->a, "state", EX_IOERR, strerror(errno));
}

/* Running jobs whose process is gone; repair closes them and marks their
 * targets for retry. Also notes the oldest live job's start. */
static void check_jobs(struct ctx *x)
{
	sqlite3_stmt *st;
	char me[256] = "";
	gethostname(me, sizeof me - 1);
	if (sqlite3_prepare_v2(x->db, "SELECT id, target, pid, started, host FROM jobs WHERE ended IS NULL"
	    " ORDER BY id", -1, &st, NULL) != SQLITE_OK)
		return;
	while (sqlite3_step(st) == SQLITE_ROW) {
		long long id = sqlite3_column_int64(st, 0);
		const char *t = (const char *)sqlite3_column_text(st, 1);
		long pid = (long)sqlite3_column_int64(st, 2);
		double started = sqlite3_column_double(st, 3);
		const char *host = (const char *)sqlite3_column_text(st, 4);
		/* a job on another host (LAUNCH=srun...): its pid means nothing here */
		int remote = host && *host && me[0] && strcmp(host, me);
		if (remote || !pid_gone(pid)) {
			if (!x->oldest_run || started < x->oldest_run)
				x->oldest_run = started;
			continue;
		}
		/* a job that ended on a full disk left its end in a slot */
		struct run_endslot es;
		char note[RUN_ENDSLOT_LEN + 128];
		int ended = run_endslot_read(x->c->home, id, &es);
		struct audit_finding *f = ended ? add(x->a, "stuck-job", t ? t : "?",
		    "job %lld (pid %ld) recorded as running: it ended (class %s, status %d) but its"
		    " end could not be recorded (%s)", id, pid, es.cls, es.status, es.why)
		    : add(x->a, "stuck-job", t ? t : "?",
		    "job %lld (pid %ld) recorded as running, process gone", id, pid);
		if (!x->repair)
			continue;
		sqlite3_stmt *u;
		if (sqlite3_prepare_v2(x->db, ended ? "UPDATE jobs SET ended = ?2, status = ?3,"
			" signal = nullif(?4, 0), class = ?5, note = ?6 WHERE id = ?1;"
			: "UPDATE jobs SET ended = strftime('%s','now'), class = 'lost' WHERE id = ?1;", -1,
			&u, NULL) != SQLITE_OK)
			continue;
		sqlite3_bind_int64(u, 1, id);
		if (ended) {
			snprintf(note, sizeof note, "its end could not be recorded (%s); closed"
			    " later from its end slot", es.why);
			sqlite3_bind_double(u, 2, es.ended);
			sqlite3_bind_int(u, 3, es.status);
			sqlite3_bind_int(u, 4, es.sig);
			sqlite3_bind_text(u, 5, es.cls, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(u, 6, note, -1, SQLITE_TRANSIENT);
		}
		int ok = sqlite3_step(u) == SQLITE_DONE;
		sqlite3_finalize(u);
		if (ok && t && sqlite3_prepare_v2(x->db,
			"UPDATE targets SET state = 'retry', last_class = 'lost', next_attempt_at = NULL,"
			" updated = strftime('%s','now') WHERE target = ?1 AND state = 'running'"
			" AND NOT EXISTS (SELECT 1 FROM jobs WHERE target = ?1 AND ended IS NULL)",
			-1, &u, NULL) == SQLITE_OK) {
			sqlite3_bind_text(u, 1, t, -1, SQLITE_TRANSIENT);
			ok = sqlite3_step(u) == SQLITE_DONE;
			sqlite3_finalize(u);
		}
		f->repaired = ok;
		if (ok && ended)
			run_endslot_drop(x->c->home, id);
	}
	sqlite3_finalize(st);
}

/* Did uvm-retain log the removal of rel? */
static int retained(const struct ctx *x, const char *rel)
{
	char pat[PATH_MAX + 16];
	if (!x->retained)
		return 0;
	snprintf(pat, sizeof pat, " remove %s ", rel);
	return strstr(x->retained, pat) != NULL;
}

static void check_missing(struct ctx *x)
{
	sqlite3_stmt *st;
	char p[PATH_MAX * 2];
	struct stat sb;
	if (sqlite3_prepare_v2(x->db, "SELECT target FROM targets WHERE state = 'ok' ORDER BY target",
	    -1, &st, NULL) != SQLITE_OK)
		return;
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 0);
		snprintf(p, sizeof p, "%s/%s", x->c->home, t);
		if (lstat(p, &sb) == 0 || errno != ENOENT || retained(x, t))
			continue;
		struct audit_finding *f = add(x->a, "missing-product", t, "recorded as made, file absent");
		if (!x->repair)
			continue;
		sqlite3_stmt *d;
		if (sqlite3_prepare_v2(x->db, "DELETE FROM targets WHERE target = ?1", -1, &d, NULL) ==
		    SQLITE_OK) {
			sqlite3_bind_text(d, 1, t, -1, SQLITE_TRANSIENT);
			f->repaired = sqlite3_step(d) == SQLITE_DONE;
			sqlite3_finalize(d);
		}
	}
	sqlite3_finalize(st);
}

/* One entry of an output directory: a temporary (stale or not) or a product
 * that must have a successful job record. rel is relative to the home. */
static void check_entry(struct ctx *x, const char *path, const char *rel, const char *name,
    int products)
{
	struct stat sb;
	long pid;
	if (lstat(path, &sb) < 0 || S_ISDIR(sb.st_mode))
		return;
	if (fsx_is_temp(name, &pid)) {
		if (!pid_gone(pid) || (x->oldest_run && (double)sb.st_mtime >= x->oldest_run))
			return;
		struct audit_finding *f = add(x->a, "stale-temp", rel, "temporary of a dead process (pid %ld)",
		    pid);
		if (x->repair)
			f->repaired = unlink(path) == 0 || errno == ENOENT;
		return;
	}
	if (!products || !x->made || (double)sb.st_mtime < x->pruned)
		return;
	/* a file a stage writes beside its product (a report) is made with it */
	char target[PATH_MAX];
	const char *t = x->st && stages_also_of(x->st, rel, target) ? target : rel;
	sqlite3_bind_text(x->made, 1, t, -1, SQLITE_STATIC);
	int rc = sqlite3_step(x->made);
	sqlite3_reset(x->made);
	sqlite3_clear_bindings(x->made);
	if (rc == SQLITE_DONE)
		add(x->a, "unrecorded-product", rel, t == rel ? "present, no successful job record" :
		    "present, no successful job record of the product it is written with");
}

/* Every entry of home/sub (and of its subdirectories when depth > 0). */
static void walk(struct ctx *x, const char *sub, int depth, int products)
{
	char dir[PATH_MAX], p[PATH_MAX * 2], rel[PATH_MAX * 2];
	struct dirent **ents;
	struct stat sb;
	int n = scandir(cfg_path(x->c, sub, dir), &ents, NULL, alphasort);
	for (int i = 0; i < n; i++) {
		const char *nm = ents[i]->d_name;
		if (strcmp(nm, ".") && strcmp(nm, "..")) {
			snprintf(p, sizeof p, "%s/%s", dir, nm);
			snprintf(rel, sizeof rel, "%s/%s", sub, nm);
			if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) {
				if (depth > 0)
					walk(x, rel, depth - 1, products);
			} else if (!strcmp(sub, "state") && !fsx_is_temp(nm, NULL)) {
				/* state files are not products */
			} else {
				check_entry(x, p, rel, nm, products);
			}
		}
		free(ents[i]);
	}
	if (n >= 0)
		free(ents);
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return (x > y) - (x < y);
}

/* Epoch of a group id YYYYMMDDTHHMMSS, or -1. */
static long long group_epoch(const char *g)
{
	long long t;
	return ids_parse_group(g, &t) < 0 ? -1 : t;
}

/* Subband files in INCOMING that belong to no group the planner recorded. */
static void check_incoming(struct ctx *x)
{
	long long tol = cfg_int(x->c, "GROUP_TOLERANCE", 60);
	long long grace = cfg_int(x->c, "AUDIT_GRACE", 900);
	const char *inc = cfg_str(x->c, "INCOMING", "incoming");
	char dir[PATH_MAX], p[PATH_MAX * 2], rel[PATH_MAX * 2];
	struct plan_doneidx done;
	long long *ep = NULL;
	int ne = 0, cap = 0;
	sqlite3_stmt *st;
	struct dirent **ents;
	time_t now = time(NULL);

	memset(&done, 0, sizeof done);
	if (plan_done_load(&done, cfg_path(x->c, "state/done.idx", dir), tol) < 0)
		return;
	if (sqlite3_prepare_v2(x->db, "SELECT grp FROM groups", -1, &st, NULL) == SQLITE_OK) {
		while (sqlite3_step(st) == SQLITE_ROW) {
			long long e = group_epoch((const char *)sqlite3_column_text(st, 0));
			if (e < 0)
				continue;
			if (ne == cap) {
				long long *v = realloc(ep, (size_t)(cap = cap ? 2 * cap : 64) * sizeof *v);
				if (!v)
					break;
				ep = v;
			}
			ep[ne++] = e;
		}
		sqlite3_finalize(st);
	}
	if (ne)
		qsort(ep, (size_t)ne, sizeof *ep, cmp_ll);
	if (inc[0] == '/')
		snprintf(dir, sizeof dir, "%s", inc);
	else
		cfg_path(x->c, inc, dir);
	int n = scandir(dir, &ents, NULL, alphasort);
	for (int i = 0; i < n; i++) {
		const char *nm = ents[i]->d_name;
		long long ts;
		int sb;
		struct stat s;
		const struct plan_done *e;
		snprintf(p, sizeof p, "%s/%s", dir, nm);
		if (ids_parse_file(nm, &ts, &sb) == IDS_NAME_OK && lstat(p, &s) == 0 &&
		    S_ISREG(s.st_mode) && s.st_mtime + grace <= now &&
		    plan_done_match(&done, ts, sb, &e) == 0) {
			/* first group id >= ts - tol */
			int lo = 0, hi = ne;
			while (lo < hi) {
				int mid = (lo + hi) / 2;
				if (ep[mid] < ts - tol)
					lo = mid + 1;
				else
					hi = mid;
			}
			if (lo == ne || ep[lo] > ts + tol) {
				snprintf(rel, sizeof rel, "%s/%s", inc, nm);
				add(x->a, "unplanned-input", rel, "in no group of state/done.idx or the groups"
				    " table (run uvm-plan)");
			}
		}
		free(ents[i]);
	}
	if (n >= 0)
		free(ents);
	free(ep);
	plan_done_free(&done);
}

/* Register caltables/<name> again from the figures the table carries. */
static int reregister(struct ctx *x, sqlite3 **reg, const char *path, const char *rel)
{
	struct cal_table t;
	struct cal_entry e;
	char err[CAL_ERRLEN];
	int rc = -1;
	memset(&t, 0, sizeof t);
	if (cal_table_read(path, &t, err) != 0) {
		log_warn("%s", err);
		cal_table_free(&t);
		return -1;
	}
	cal_entry_from_table(&e, &t, rel, t.group, x->c);
	if (!*reg)
		*reg = cal_registry_open(x->c->home);
	/* dated now, as uvm-calsolve dates a table it registers: a group
	 * calibrated while it was unregistered is older, and is re-made */
	if (*reg && cal_registry_put(*reg, &e) == 0) {
		rc = 0;
		if (utimensat(AT_FDCWD, path, NULL, 0) < 0)
			log_warn("cannot date '%s' after its registration: %s", rel, strerror(errno));
	}
	cal_table_free(&t);
	return rc;
}

static void check_caltables(struct ctx *x)
{
	char regp[PATH_MAX], dir[PATH_MAX], p[PATH_MAX * 2], rel[PATH_MAX * 2];
	sqlite3 *reg = NULL;
	sqlite3_stmt *st = NULL;
	struct dirent **ents;
	struct stat sb;

	if (access(cfg_path(x->c, "state/calibration.sqlite", regp), F_OK) == 0) {
		if (!(reg = cal_registry_open(x->c->home)))
			return;
		if (sqlite3_prepare_v2(reg, "SELECT path, grp FROM caltables WHERE status = 'good'"
		    " ORDER BY grp", -1, &st, NULL) == SQLITE_OK) {
			while (sqlite3_step(st) == SQLITE_ROW) {
				const char *tp = (const char *)sqlite3_column_text(st, 0);
				const char *g = (const char *)sqlite3_column_text(st, 1);
				if (!tp)
					continue;
				if (tp[0] == '/')
					snprintf(p, sizeof p, "%s", tp);
				else
					snprintf(p, sizeof p, "%s/%s", x->c->home, tp);
				if (lstat(p, &sb) < 0 && errno == ENOENT)
					add(x->a, "missing-caltable", tp, "registry entry of group %s, table absent",
					    g ? g : "?");
			}
			sqlite3_finalize(st);
			st = NULL;
		}
		if (sqlite3_prepare_v2(reg, "SELECT 1 FROM caltables WHERE grp = ?1 OR path = ?2", -1, &st,
		    NULL) != SQLITE_OK) {
			sqlite3_close(reg);
			return;
		}
	}
	int n = scandir(cfg_path(x->c, "caltables", dir), &ents, NULL, alphasort);
	for (int i = 0; i < n; i++) {
		const char *nm = ents[i]->d_name;
		size_t l = strlen(nm);
		snprintf(p, sizeof p, "%s/%s", dir, nm);
		snprintf(rel, sizeof rel, "caltables/%s", nm);
		if (l > 7 && !strcmp(nm + l - 7, ".cal.h5") && lstat(p, &sb) == 0 && S_ISREG(sb.st_mode)) {
			char g[NAME_MAX + 1];
			int known = 0;
			snprintf(g, sizeof g, "%.*s", (int)(l - 7), nm);
			if (st) {
				sqlite3_bind_text(st, 1, g, -1, SQLITE_STATIC);
				sqlite3_bind_text(st, 2, rel, -1, SQLITE_STATIC);
				known = sqlite3_step(st) == SQLITE_ROW;
				sqlite3_reset(st);
				sqlite3_clear_bindings(st);
			}
			if (!known) {
				struct audit_finding *f = add(x->a, "unregistered-caltable", rel,
				    "table present, no calibration registry entry");
				if (x->repair)
					f->repaired = reregister(x, &reg, p, rel) == 0;
			}
		}
		free(ents[i]);
	}
	if (n >= 0)
		free(ents);
	sqlite3_finalize(st);
	if (reg)
		sqlite3_close(reg);
}

static void check_quarantine(struct ctx *x)
{
	char dir[PATH_MAX], p[PATH_MAX * 2];
	struct dirent **ents;
	struct stat sb;
	sqlite3_stmt *st;
	if (x->db && sqlite3_prepare_v2(x->db, "SELECT path FROM quarantine WHERE released IS NULL"
	    " ORDER BY id", -1, &st, NULL) == SQLITE_OK) {
		while (sqlite3_step(st) == SQLITE_ROW) {
			const char *q = (const char *)sqlite3_column_text(st, 0);
			if (!q)
				continue;
			snprintf(p, sizeof p, "%s%s%s", q[0] == '/' ? "" : x->c->home, q[0] == '/' ? "" : "/", q);
			if (lstat(p, &sb) < 0)
				add(x->a, "quarantine", q, "recorded, file absent");
		}
		sqlite3_finalize(st);
	}
	int n = scandir(cfg_path(x->c, "quarantine", dir), &ents, NULL, alphasort);
	for (int i = 0; i < n; i++) {
		const char *nm = ents[i]->d_name;
		size_t l = strlen(nm);
		if (nm[0] != '.' && !(l > 7 && !strcmp(nm + l - 7, ".reason")) && !fsx_is_temp(nm, NULL)) {
			snprintf(p, sizeof p, "%s/%s.reason", dir, nm);
			if (lstat(p, &sb) < 0) {
				char rel[NAME_MAX + 16];
				snprintf(rel, sizeof rel, "quarantine/%s", nm);
				add(x->a, "quarantine", rel, "no reason file");
			}
		}
		free(ents[i]);
	}
	if (n >= 0)
		free(ents);
}

int audit_run(struct cfg *c, int repair, struct audit *a)
{
	struct ctx x = {.c = c, .a = a, .repair = repair};
	double keep = cfg_double(c, "JOBS_KEEP_DAYS", 30);
	if (keep > 0)
		x.pruned = (double)time(NULL) - keep * 86400;
	char p[PATH_MAX];

	check_databases(&x);
	if (!a->dbbad && !(x.db = db_open(c->home)))
		db_finding(a, "state/pipeline.sqlite", EX_IOERR, "cannot open it read-write");
	x.retained = fsx_read_file(cfg_path(c, "logs/retain.log", p), NULL);
	{
		char err[PATH_MAX + 256];
		x.st = malloc(sizeof *x.st);
		if (x.st && stages_load_cfg(x.st, c, err, sizeof err) < 0) {
			log_warn("%s: reports written beside products are not recognised", err);
			free(x.st);
			x.st = NULL;
		}
	}
	if (x.db) {
		check_jobs(&x);
		check_missing(&x);
		if (sqlite3_prepare_v2(x.db, "SELECT 1 FROM targets WHERE target = ?1 AND state = 'ok'"
		    " UNION ALL SELECT 1 FROM jobs WHERE target = ?1 AND status = 0 LIMIT 1", -1, &x.made,
		    NULL) != SQLITE_OK)
			x.made = NULL;
	}
	walk(&x, "products", 1, 1);
	walk(&x, "caltables", 0, 1);
	walk(&x, "mosaics", 0, 1);
	walk(&x, "state", 0, 0);
	sqlite3_finalize(x.made);
	if (x.db)
		check_incoming(&x);
	if (!a->dbbad)
		check_caltables(&x);
	check_quarantine(&x);
	db_close(x.db);
	free(x.retained);
	free(x.st);

	/* report order: by class, in the order of audit_classes (stable) */
	struct audit_finding *v = malloc((size_t)(a->n ? a->n : 1) * sizeof *v);
	if (!v) {
		a->nomem = 1;
	} else {
		int k = 0;
		for (int ci = 0; audit_classes[ci]; ci++)
			for (int i = 0; i < a->n; i++)
				if (!strcmp(a->v[i].cls, audit_classes[ci]))
					v[k++] = a->v[i];
		if (k && k == a->n)
			memcpy(a->v, v, (size_t)k * sizeof *v);
		free(v);
	}
	return a->nomem ? -1 : 0;
}

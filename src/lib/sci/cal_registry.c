/*
 * cal_registry.c: calibration registry and the fallback chain (contract
 * in cal_registry.h).
 *
 * The registry is a separate SQLite file so that the pipeline database's
 * migrations (db.c) and this schema evolve independently; it is opened
 * by the same function (db_open_schema): WAL, a busy handler long enough
 * for make -j, migrations numbered in code (below, owned here) and applied
 * in one IMMEDIATE transaction.
 */
#include "sci/cal_registry.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "sci/cal_table.h"
#include "core/cfg.h"
#include "core/db.h"
#include "core/log.h"

static const char *const migrations[] = {
    /* 1: one row per calibrator group */
    "CREATE TABLE caltables ("
    " id INTEGER PRIMARY KEY,"
    " path TEXT NOT NULL, grp TEXT NOT NULL UNIQUE, calibrator TEXT NOT NULL,"
    " transit_mjd REAL NOT NULL, mjd_start REAL NOT NULL, mjd_end REAL NOT NULL,"
    " frac_flagged REAL, median_snr REAL, residual_rms REAL,"
    " created REAL NOT NULL,"
    " status TEXT NOT NULL CHECK (status IN ('good', 'rejected')),"
    " reason TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX caltables_status ON caltables(status, transit_mjd);",
};

#define NMIG ((int)(sizeof migrations / sizeof migrations[0]))

const char *cal_level_name(enum cal_level l)
{
	switch (l) {
	case CAL_LEVEL_OK: return "ok";
	case CAL_LEVEL_STALE: return "stale";
	case CAL_LEVEL_LAST: return "last-good";
	default: return "none";
	}
}

/*
 * The exit status for a registry failure of SQLite result rc (db_status):
 * a full disk or an I/O error 74 and busy 75, both retried by the wrapper;
 * a corrupt registry 69, not 65, since the wrapper would quarantine the
 * group's good visibilities for it (the job waits, with the long backoff,
 * until the registry is restored; the audit and the status report it);
 * anything else 70. Logs the error.
 */
static int reg_status(sqlite3 *db, int rc)
{
	int st = db_status(db, rc);
	if (st == EX_DATAERR) {
		log_err("calibration registry is corrupt: %s (restore it: ops/RECOVERY.md)",
		    db ? sqlite3_errmsg(db) : "not a database");
		return EX_UNAVAILABLE;
	}
	if (db)
		log_err("calibration registry: %s", sqlite3_errmsg(db));
	return st ? st : EX_SOFTWARE;
}

static void registry_path(const char *home, char *buf, size_t n)
{
	snprintf(buf, n, "%s/state/calibration.sqlite", home && *home ? home : ".");
}

sqlite3 *cal_registry_open(const char *home)
{
	char path[PATH_MAX + 32];

	registry_path(home, path, sizeof path);
	return db_open_schema(path, migrations, NMIG, DB_CREATE, NULL);
}

int cal_registry_put(sqlite3 *db, const struct cal_entry *e)
{
	static const char sql[] =
	    "INSERT INTO caltables (path, grp, calibrator, transit_mjd, mjd_start, mjd_end,"
	    " frac_flagged, median_snr, residual_rms, created, status, reason)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
	    " ON CONFLICT(grp) DO UPDATE SET path = ?1, calibrator = ?3, transit_mjd = ?4,"
	    " mjd_start = ?5, mjd_end = ?6, frac_flagged = ?7, median_snr = ?8,"
	    " residual_rms = ?9, created = ?10, status = ?11, reason = ?12";
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		log_err("calibration registry: %s", sqlite3_errmsg(db));
		return -1;
	}
	sqlite3_bind_text(st, 1, e->path, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, e->group, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, e->calibrator, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 4, e->transit_mjd);
	sqlite3_bind_double(st, 5, e->mjd_start);
	sqlite3_bind_double(st, 6, e->mjd_end);
	sqlite3_bind_double(st, 7, e->frac_flagged);
	sqlite3_bind_double(st, 8, e->median_snr);
	sqlite3_bind_double(st, 9, e->residual_rms);
	sqlite3_bind_double(st, 10, e->created);
	sqlite3_bind_text(st, 11, e->status, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 12, e->reason, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		log_err("calibration registry: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

enum cal_level cal_level_for(double mjd, double mjd_start, double mjd_end, double transit_mjd,
    double max_age_hours)
{
	if (mjd >= mjd_start && mjd <= mjd_end)
		return CAL_LEVEL_OK;
	if (fabs(transit_mjd - mjd) * 24 <= max_age_hours)
		return CAL_LEVEL_STALE;
	return CAL_LEVEL_LAST;
}

static void copy_text(char *dst, size_t n, const unsigned char *s)
{
	snprintf(dst, n, "%s", s ? (const char *)s : "");
}

/* Does the table file of a row exist (relative paths under base)? */
static int table_exists(const char *base, const char *path)
{
	char full[2 * PATH_MAX];
	struct stat st;

	if (path[0] != '/' && base && *base)
		snprintf(full, sizeof full, "%s/%s", base, path);
	else
		snprintf(full, sizeof full, "%s", path);
	return stat(full, &st) == 0 && S_ISREG(st.st_mode);
}

int cal_choose_db(sqlite3 *db, const char *base, double mjd, double max_age_hours,
    struct cal_choice *out)
{
	static const char sql[] =
	    "SELECT path, grp, calibrator, transit_mjd, mjd_start, mjd_end, frac_flagged,"
	    " median_snr, residual_rms, created FROM caltables WHERE status = 'good'"
	    " ORDER BY abs(transit_mjd - ?1), created DESC";
	sqlite3_stmt *st = NULL;
	struct cal_entry e;
	int rc, have = 0;

	memset(out, 0, sizeof *out);
	out->level = CAL_LEVEL_NONE;
	if ((rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL)) != SQLITE_OK)
		return reg_status(db, sqlite3_extended_errcode(db));
	sqlite3_bind_double(st, 1, mjd);
	/* Rows come nearest first: the first covering row is the level-0
	 * choice; failing that the first row at all decides STALE or LAST. */
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		enum cal_level l;

		memset(&e, 0, sizeof e);
		copy_text(e.path, sizeof e.path, sqlite3_column_text(st, 0));
		copy_text(e.group, sizeof e.group, sqlite3_column_text(st, 1));
		copy_text(e.calibrator, sizeof e.calibrator, sqlite3_column_text(st, 2));
		e.transit_mjd = sqlite3_column_double(st, 3);
		e.mjd_start = sqlite3_column_double(st, 4);
		e.mjd_end = sqlite3_column_double(st, 5);
		e.frac_flagged = sqlite3_column_double(st, 6);
		e.median_snr = sqlite3_column_double(st, 7);
		e.residual_rms = sqlite3_column_double(st, 8);
		e.created = sqlite3_column_double(st, 9);
		strcpy(e.status, "good");
		if (!table_exists(base, e.path))
			continue;
		l = cal_level_for(mjd, e.mjd_start, e.mjd_end, e.transit_mjd, max_age_hours);
		if (!have || l < out->level) {
			out->level = l;
			out->entry = e;
			have = 1;
		}
		if (l == CAL_LEVEL_OK)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		rc = reg_status(db, sqlite3_extended_errcode(db));
		sqlite3_finalize(st);
		return rc;
	}
	sqlite3_finalize(st);
	if (!have)
		return EX_UNAVAILABLE;
	snprintf(out->path, sizeof out->path, "%s", out->entry.path);
	out->age_hours = fabs(out->entry.transit_mjd - mjd) * 24;
	return 0;
}

int cal_choose(const char *home, double mjd, struct cal_choice *out)
{
	struct cfg c = {0};
	char path[PATH_MAX + 32];
	sqlite3 *db;
	int rc;

	memset(out, 0, sizeof *out);
	out->level = CAL_LEVEL_NONE;
	if (cfg_load(&c, home) < 0)
		return EX_NOINPUT;
	registry_path(c.home, path, sizeof path);
	if (access(path, F_OK) < 0) {
		cfg_free(&c);
		return EX_UNAVAILABLE;
	}
	db = db_open_schema(path, migrations, NMIG, 0, &rc);
	if (!db) {
		cfg_free(&c);
		return rc == EX_DATAERR ? reg_status(NULL, SQLITE_CORRUPT) : rc;
	}
	rc = cal_choose_db(db, c.home,  mjd,
	    cfg_double(&c, "CAL_MAX_AGE_HOURS", CAL_DEFAULT_MAX_AGE_HOURS), out);
	sqlite3_close(db);
	cfg_free(&c);
	return rc;
}

int cal_group_entry(const char *home, const char *group, struct cal_entry *e)
{
	static const char sql[] =
	    "SELECT path, grp, calibrator, transit_mjd, mjd_start, mjd_end, frac_flagged,"
	    " median_snr, residual_rms, created, status, reason FROM caltables WHERE grp = ?1";
	char path[PATH_MAX + 32];
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	int rc;

	memset(e, 0, sizeof *e);
	registry_path(home, path, sizeof path);
	if (access(path, F_OK) < 0)
		return EX_UNAVAILABLE;
	if (!(db = db_open_schema(path, migrations, NMIG, 0, &rc)))
		return rc == EX_DATAERR ? reg_status(NULL, SQLITE_CORRUPT) : rc;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		rc = reg_status(db, sqlite3_extended_errcode(db));
		sqlite3_close(db);
		return rc;
	}
	sqlite3_bind_text(st, 1, group, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		copy_text(e->path, sizeof e->path, sqlite3_column_text(st, 0));
		copy_text(e->group, sizeof e->group, sqlite3_column_text(st, 1));
		copy_text(e->calibrator, sizeof e->calibrator, sqlite3_column_text(st, 2));
		e->transit_mjd = sqlite3_column_double(st, 3);
		e->mjd_start = sqlite3_column_double(st, 4);
		e->mjd_end = sqlite3_column_double(st, 5);
		e->frac_flagged = sqlite3_column_double(st, 6);
		e->median_snr = sqlite3_column_double(st, 7);
		e->residual_rms = sqlite3_column_double(st, 8);
		e->created = sqlite3_column_double(st, 9);
		copy_text(e->status, sizeof e->status, sqlite3_column_text(st, 10));
		copy_text(e->reason, sizeof e->reason, sqlite3_column_text(st, 11));
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		rc = EX_UNAVAILABLE;
	} else {
		rc = reg_status(db, sqlite3_extended_errcode(db));
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc;
}

void cal_entry_from_table(struct cal_entry *e, const struct cal_table *t, const char *path,
    const char *group, const struct cfg *c)
{
	double maxf = cfg_double(c, "CAL_MAX_FLAGGED", 0.5);
	double minsnr = cfg_double(c, "CAL_MIN_SNR", 10);
	double mingood = cfg_double(c, "CAL_MIN_GOOD_ANTPOL", 0.9);

	memset(e, 0, sizeof *e);
	snprintf(e->path, sizeof e->path, "%s", path);
	snprintf(e->group, sizeof e->group, "%s", group);
	snprintf(e->calibrator, sizeof e->calibrator, "%s", t->calibrator);
	e->transit_mjd = t->transit_mjd;
	e->mjd_start = t->mjd_start;
	e->mjd_end = t->mjd_end;
	e->frac_flagged = t->frac_flagged;
	e->median_snr = t->median_snr;
	e->residual_rms = t->residual_rms;
	e->created = t->created;
	if (t->frac_flagged > maxf)
		snprintf(e->reason, sizeof e->reason, "%.1f%% of solutions flagged (max %.1f%%)",
		    100 * t->frac_flagged, 100 * maxf);
	else if (!(t->median_snr >= minsnr))
		snprintf(e->reason, sizeof e->reason, "median solution snr %.2f (min %.2f)",
		    t->median_snr, minsnr);
	else if (!isnan(t->frac_good_antpol) && !(t->frac_good_antpol >= mingood)) {
		char why[200];
		cal_antpol_summary(t, why, sizeof why);
		snprintf(e->reason, sizeof e->reason,
		    "%.1f%% of antenna-polarizations good (min %.1f%%): %s",
		    100 * t->frac_good_antpol, 100 * mingood, why);
	}
	snprintf(e->status, sizeof e->status, "%s", e->reason[0] ? "rejected" : "good");
}

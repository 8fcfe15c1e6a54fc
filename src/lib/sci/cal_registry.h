/*
 * cal_registry.h: the calibration registry, state/calibration.sqlite, and
 * the choice of a calibration table for a group (the fallback chain).
 *
 * One row per calibrator group (a re-solve replaces it): the table path
 * (relative to the deployment when inside it), group, calibrator, transit
 * and validity window (MJD), quality figures, creation time and status
 * 'good' (usable) or 'rejected' (solved but failed the quality gate; kept
 * so the operator sees why there is no table, never chosen).
 *
 * The schema has its own numbered migrations (PRAGMA user_version), WAL
 * and a busy timeout, like the pipeline database (db.c).
 *
 * Fallback chain of cal_choose for a group at time mjd, among 'good' rows
 * whose table file still exists:
 *   CAL_LEVEL_OK     a table whose validity window covers mjd (the one
 *                    with the transit nearest mjd);
 *   CAL_LEVEL_STALE  else the table with the transit nearest mjd, if within
 *                    CAL_MAX_AGE_HOURS (config, default 72): use with a
 *                    staleness warning;
 *   CAL_LEVEL_LAST   else the nearest good table at any age (for live data
 *                    the last known good one): use and raise an alert;
 *   CAL_LEVEL_NONE   no good table at all: EX_UNAVAILABLE (69), the
 *                    wrapper defers the group with its long backoff.
 */
#ifndef UVM_CAL_REGISTRY_H
#define UVM_CAL_REGISTRY_H

#include <limits.h>
#include <sqlite3.h>

enum cal_level { CAL_LEVEL_OK = 0, CAL_LEVEL_STALE = 1, CAL_LEVEL_LAST = 2, CAL_LEVEL_NONE = 3 };

#define CAL_DEFAULT_VALIDITY_HOURS 24.0
#define CAL_DEFAULT_MAX_AGE_HOURS 72.0

struct cal_entry {
	char path[PATH_MAX];      /* as stored: relative to home, or absolute */
	char group[32];
	char calibrator[64];
	double transit_mjd, mjd_start, mjd_end;
	double frac_flagged, median_snr, residual_rms;
	double created;           /* Unix seconds */
	char status[16];          /* "good" or "rejected" */
	char reason[256];         /* why rejected, "" when good */
};

struct cal_choice {
	enum cal_level level;
	char path[PATH_MAX];      /* as stored (make runs in home: use as is) */
	double age_hours;         /* |transit - mjd| in hours */
	struct cal_entry entry;   /* the row chosen */
};

/* "ok", "stale", "last-good", "none". */
const char *cal_level_name(enum cal_level l);

/* Open (creating and migrating) home/state/calibration.sqlite; NULL after
 * logging. */
sqlite3 *cal_registry_open(const char *home);
/* Insert or replace the row of e->group; 0 or -1 after logging. */
int cal_registry_put(sqlite3 *db, const struct cal_entry *e);

struct cal_table;  /* cal_table.h */
struct cfg;        /* cfg.h */
/*
 * The registry row of table t, stored at path for group: the table's own
 * figures, judged by the deployment's quality gate (more than
 * CAL_MAX_FLAGGED of the solutions flagged, a median SNR below
 * CAL_MIN_SNR, or fewer than CAL_MIN_GOOD_ANTPOL (default 0.9) of the
 * antenna-polarizations with data good, unless the table predates that
 * figure: "rejected" with the reason, which names the failed
 * antenna-polarizations and why; else "good"). One gate for the
 * solver and for the audit that registers a found table again.
 */
void cal_entry_from_table(struct cal_entry *e, const struct cal_table *t, const char *path,
    const char *group, const struct cfg *c);

/*
 * Choose the table for a group at time mjd (its mid-time) in deployment
 * home (NULL: $UVM_HOME, else "."), following the chain above with
 * CAL_MAX_AGE_HOURS from home/uvmake.conf. Returns 0 with *out filled
 * (level OK, STALE or LAST), EX_UNAVAILABLE with out->level NONE when no
 * good table exists (or the registry does not exist yet), EX_NOINPUT when
 * the config cannot be read. A registry that cannot be opened or read
 * (logged): EX_IOERR for a full disk or an I/O error, EX_TEMPFAIL busy
 * (both retried by the wrapper: never 70, which would dead-letter the
 * group's calibration for a passing condition), EX_UNAVAILABLE corrupt
 * (never 65: the wrapper would quarantine the group's inputs; the job
 * waits for the restore), EX_SOFTWARE anything else. Never creates the
 * registry.
 */
int cal_choose(const char *home, double mjd, struct cal_choice *out);
/* The same on an open registry with an explicit maximum age (hours);
 * base (may be NULL) is the directory relative paths are checked in. */
int cal_choose_db(sqlite3 *db, const char *base, double mjd, double max_age_hours,
    struct cal_choice *out);

/*
 * The registry row of group (a calibrator group's own solve), for the
 * planner: 0 with *e filled, EX_UNAVAILABLE when there is no row (or no
 * registry), and for a registry that cannot be opened or read the classes
 * of cal_choose (logged). Never creates it.
 */
int cal_group_entry(const char *home, const char *group, struct cal_entry *e);

/* Level of a given table for mjd: OK inside [start, end], STALE when
 * |transit - mjd| <= max_age_hours, else LAST. */
enum cal_level cal_level_for(double mjd, double mjd_start, double mjd_end, double transit_mjd,
    double max_age_hours);

#endif

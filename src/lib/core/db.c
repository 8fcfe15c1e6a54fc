/*
 * db.c: SQLite state with WAL, a busy timeout and numbered migrations
 * (contract in db.h).
 *
 * Migrations are an append-only array: migration i brings user_version from
 * i to i+1. Never edit a shipped migration; add a new one.
 */
#include "core/db.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "core/fsx.h"
#include "core/log.h"

static const char *const migrations[] = {
    /* 1: jobs, per-target state, circuit breakers, quarantine, groups */
    "CREATE TABLE jobs ("
    " id INTEGER PRIMARY KEY,"
    " target TEXT NOT NULL, grp TEXT, stage TEXT NOT NULL, command TEXT NOT NULL,"
    " started REAL NOT NULL, ended REAL,"
    " status INTEGER, signal INTEGER, class TEXT, attempt INTEGER NOT NULL,"
    " pid INTEGER, host TEXT, maxrss_kb INTEGER, cpu_s REAL, log TEXT, note TEXT);"
    "CREATE INDEX jobs_target ON jobs(target);"
    "CREATE INDEX jobs_grp ON jobs(grp);"
    "CREATE INDEX jobs_started ON jobs(started);"
    "CREATE TABLE targets ("
    " target TEXT PRIMARY KEY, grp TEXT, stage TEXT NOT NULL,"
    " state TEXT NOT NULL," /* ok running retry deferred dead quarantined */
    " attempts INTEGER NOT NULL DEFAULT 0, last_class TEXT, last_status INTEGER,"
    " next_attempt_at REAL, reason TEXT, updated REAL NOT NULL);"
    "CREATE INDEX targets_state ON targets(state);"
    "CREATE TABLE breakers ("
    " stage TEXT PRIMARY KEY, state TEXT NOT NULL DEFAULT 'closed',"
    " fails INTEGER NOT NULL DEFAULT 0, first_fail_at REAL, opened_at REAL,"
    " trial_pid INTEGER, updated REAL);"
    "CREATE TABLE quarantine ("
    " id INTEGER PRIMARY KEY, path TEXT NOT NULL, original TEXT NOT NULL,"
    " reason TEXT NOT NULL, target TEXT, at REAL NOT NULL, released REAL);"
    "CREATE TABLE groups ("
    " grp TEXT PRIMARY KEY, first_seen REAL NOT NULL, nsub INTEGER NOT NULL,"
    " missing TEXT, state TEXT NOT NULL, priority INTEGER, updated REAL NOT NULL);",
    /* 2 (uvm-run): jobs.alert flags a job for alerting (class software,
     * ioerr, every dead-letter); targets.defers counts consecutive
     * deferrals that do not use up attempts (disk preflight), for backoff;
     * quarantine rows by target, for the re-run check. */
    "ALTER TABLE jobs ADD COLUMN alert INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE targets ADD COLUMN defers INTEGER NOT NULL DEFAULT 0;"
    "CREATE INDEX quarantine_target ON quarantine(target);",
    /* 3 (uvm-run): jobs.provenance, what a successful job made its target
     * from (core/prov.h: inputs with sizes and times, settings, version)
     * and the product's own record; uvm-why reads it. */
    "ALTER TABLE jobs ADD COLUMN provenance TEXT;",
};

#define NMIG ((int)(sizeof migrations / sizeof migrations[0]))

int db_exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		log_err("database error: %s", msg ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

/* Busy handler: back off up to ~60 s in total; the busy timeout alone spins
 * with short sleeps that starve under make -j16 on two cores. */
static int busy(void *arg, int n)
{
	(void)arg;
	if (n > 1200)
		return 0;
	struct timespec ts = {0, (long)(1 + (n < 50 ? n : 50)) * 1000000L};
	nanosleep(&ts, NULL);
	return 1;
}

int db_begin(sqlite3 *db)
{
	return db_exec(db, "BEGIN IMMEDIATE");
}

int db_commit(sqlite3 *db)
{
	return db_exec(db, "COMMIT");
}

void db_rollback(sqlite3 *db)
{
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

int db_status(sqlite3 *db, int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK: case SQLITE_ROW: case SQLITE_DONE:
		return 0;
	case SQLITE_FULL: case SQLITE_IOERR:
		return EX_IOERR;
	case SQLITE_CORRUPT: case SQLITE_NOTADB:
		return EX_DATAERR;
	case SQLITE_BUSY: case SQLITE_LOCKED:
		return EX_TEMPFAIL;
	case SQLITE_READONLY: case SQLITE_PERM: case SQLITE_AUTH:
		return EX_CANTCREAT;
	case SQLITE_CANTOPEN:
		switch (db ? sqlite3_system_errno(db) : 0) {
		case ENOENT: case ENOTDIR:
			return EX_NOINPUT;
		case ENOSPC: case EDQUOT: case EIO:
			return EX_IOERR;
		default:
			return EX_CANTCREAT;
		}
	default:
		return EX_SOFTWARE;
	}
}

static int user_version(sqlite3 *db)
{
	sqlite3_stmt *st;
	int v = -1;
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Bring user_version up to n in one IMMEDIATE transaction: 0, or an exit
 * status after logging. */
static int migrate(sqlite3 *db, const char *path, const char *const *mig, int n)
{
	int v = user_version(db), rc;
	if (v < 0)
		return db_status(db, sqlite3_errcode(db)) ?: EX_SOFTWARE;
	if (v > n) {
		log_err("'%s': schema version %d is newer than this program's %d", path, v, n);
		return EX_SOFTWARE;
	}
	if (v == n)
		return 0;
	if (db_begin(db) < 0)
		return db_status(db, sqlite3_errcode(db)) ?: EX_SOFTWARE;
	v = user_version(db); /* another process may have migrated meanwhile */
	for (; v >= 0 && v < n; v++) {
		char pragma[64];
		snprintf(pragma, sizeof pragma, "PRAGMA user_version=%d", v + 1);
		if (db_exec(db, mig[v]) < 0 || db_exec(db, pragma) < 0)
			goto fail;
	}
	if (v >= 0 && db_commit(db) == 0)
		return 0;
fail:
	rc = db_status(db, sqlite3_errcode(db)) ?: EX_SOFTWARE;
	db_rollback(db);
	return rc;
}

sqlite3 *db_open_schema(const char *path, const char *const *mig, int n, int flags, int *status)
{
	sqlite3 *db = NULL;
	int st = 0, rc;
	int oflags = SQLITE_OPEN_NOFOLLOW | ((flags & DB_RDONLY) ? SQLITE_OPEN_READONLY
	    : SQLITE_OPEN_READWRITE | ((flags & DB_CREATE) ? SQLITE_OPEN_CREATE : 0));
	if ((flags & DB_RDONLY) && access(path, F_OK) < 0) {
		st = errno == ENOENT || errno == ENOTDIR ? EX_NOINPUT : EX_IOERR;
		goto out;
	}
	if ((rc = sqlite3_open_v2(path, &db, oflags, NULL)) != SQLITE_OK) {
		st = db ? db_status(db, rc) : EX_SOFTWARE;
		if (!(flags & DB_RDONLY))
			log_err("cannot open database '%s': %s", path, db ? sqlite3_errmsg(db) : "out of memory");
		goto fail;
	}
	if (flags & DB_RDONLY) {
		sqlite3_busy_timeout(db, 10000);
		goto out;
	}
	sqlite3_busy_handler(db, busy, NULL);
	if (db_exec(db, "PRAGMA journal_mode=WAL") < 0 || db_exec(db, "PRAGMA synchronous=NORMAL") < 0 ||
	    db_exec(db, "PRAGMA foreign_keys=ON") < 0) {
		st = db_status(db, sqlite3_errcode(db)) ?: EX_SOFTWARE;
		goto fail;
	}
	if ((st = migrate(db, path, mig, n)) != 0)
		goto fail;
out:
	if (status)
		*status = st;
	return db;
fail:
	sqlite3_close(db);
	db = NULL;
	goto out;
}

sqlite3 *db_open_path(const char *path)
{
	return db_open_schema(path, migrations, NMIG, DB_CREATE, NULL);
}

int db_history_lost(const char *home, char *why, size_t n)
{
	char path[4096];
	struct stat st;
	int missing;
	snprintf(path, sizeof path, "%s/state/pipeline.sqlite", home);
	if (stat(path, &st) == 0) {
		if (st.st_size > 0)
			return 0;
		missing = 0;
	} else if (errno == ENOENT) {
		missing = 1;
	} else {
		return 0; /* cannot tell: the open says why */
	}
	snprintf(path, sizeof path, "%s/" DB_HISTORY_MARKER, home);
	if (access(path, F_OK) == 0) {
		snprintf(why, n, "%s, but its marker " DB_HISTORY_MARKER " is there",
		    missing ? "missing" : "empty");
		return 1;
	}
	snprintf(path, sizeof path, "%s/state/done.idx", home);
	if (stat(path, &st) == 0 && st.st_size > 0) {
		snprintf(why, n, "%s, but state/done.idx lists finished groups",
		    missing ? "missing" : "empty");
		return 1;
	}
	return 0;
}

/* Leave the marker of a database with a schema, once (best effort: a
 * deployment without it only loses the marker's evidence). */
static void mark_history(const char *home)
{
	char path[4096], text[160], when[32];
	time_t now = time(NULL);
	struct tm tm;
	snprintf(path, sizeof path, "%s/" DB_HISTORY_MARKER, home);
	if (access(path, F_OK) == 0 || errno != ENOENT)
		return;
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
	snprintf(text, sizeof text, "state/pipeline.sqlite has held this deployment's history since"
	    " %s; if it is missing or empty, restore it (ops/RECOVERY.md)\n", when);
	fsx_write_file(path, text, strlen(text), 0644);
}

sqlite3 *db_open(const char *home)
{
	char path[4096], why[160];
	sqlite3 *db;
	if (db_history_lost(home, why, sizeof why)) {
		log_err("'%s/state/pipeline.sqlite' is %s: not re-created empty; restore it from a"
		    " backup (ops/RECOVERY.md, \"Lost or corrupt database\")", home, why);
		return NULL;
	}
	snprintf(path, sizeof path, "%s/state/pipeline.sqlite", home);
	if ((db = db_open_path(path)))
		mark_history(home);
	return db;
}

void db_close(sqlite3 *db)
{
	if (db)
		sqlite3_close(db);
}

/*
 * dbhealth.c: the state database's soundness for status calls (contract
 * in dbhealth.h).
 *
 * The bound is a progress handler that interrupts the check after
 * DBH_STEPS virtual machine instructions: a few milliseconds, whatever the
 * size of the database.
 */
#include "ops/dbhealth.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "core/db.h"
#include "core/fsx.h"
#include "core/json.h"

#define DBH_STEPS 4000000L
#define DBH_EVERY 1000

static int bound(void *arg)
{
	long *left = arg;
	return (*left -= DBH_EVERY) <= 0;
}

/* The outcome of SQLite failure rc on db, in words into why. */
static int failed(sqlite3 *db, int rc, char *why, size_t n)
{
	int st = db_status(db, rc);
	if (st == EX_DATAERR) {
		snprintf(why, n, "state/pipeline.sqlite is corrupt: %s: restore it (ops/RECOVERY.md)",
		    sqlite3_errmsg(db));
		return DBH_BAD;
	}
	snprintf(why, n, "state/pipeline.sqlite could not be checked: %s (transient)",
	    sqlite3_errmsg(db));
	return DBH_UNCHECKED;
}

int dbhealth_check(const struct cfg *c, char *why, size_t n)
{
	char path[4096], lost[160], *audit, state[16];
	sqlite3 *db;
	sqlite3_stmt *st = NULL;
	long left = DBH_STEPS;
	int rc, st_open, res = DBH_OK;

	if (db_history_lost(c->home, lost, sizeof lost)) {
		snprintf(why, n, "state/pipeline.sqlite is %s: its history is lost; restore it"
		    " (ops/RECOVERY.md)", lost);
		return DBH_BAD;
	}
	db = db_open_schema(cfg_path(c, "state/pipeline.sqlite", path), NULL, 0, DB_RDONLY, &st_open);
	if (!db) {
		if (st_open == EX_NOINPUT) {
			snprintf(why, n, "no state database yet");
			return DBH_OK;
		}
		snprintf(why, n, "state/pipeline.sqlite cannot be opened (transient?)");
		return DBH_UNCHECKED;
	}
	rc = sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master", -1, &st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
		rc = SQLITE_OK;
	sqlite3_finalize(st);
	st = NULL;
	if (rc != SQLITE_OK) {
		res = failed(db, sqlite3_extended_errcode(db), why, n);
		goto out;
	}
	audit = fsx_read_file(cfg_path(c, "state/audit.json", path), NULL);
	if (audit && json_get_string(audit, "database", state, sizeof state) == 1 &&
	    !strcmp(state, "corrupt")) {
		snprintf(why, n, "the last audit found a database corrupt or lost (state/audit.json):"
		    " restore it (ops/RECOVERY.md)");
		res = DBH_BAD;
	}
	free(audit);
	if (res)
		goto out;
	sqlite3_progress_handler(db, DBH_EVERY, bound, &left);
	rc = sqlite3_prepare_v2(db, "PRAGMA quick_check(1)", -1, &st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *m = (const char *)sqlite3_column_text(st, 0);
		if (m && strcmp(m, "ok")) {
			snprintf(why, n, "state/pipeline.sqlite is corrupt: %s: restore it"
			    " (ops/RECOVERY.md)", m);
			for (char *p = why; *p; p++) /* SQLite's report has lines */
				if ((unsigned char)*p < 0x20)
					*p = ' ';
			res = DBH_BAD;
		}
		rc = SQLITE_OK;
	}
	if (rc != SQLITE_OK && rc != SQLITE_INTERRUPT &&
	    sqlite3_errcode(db) != SQLITE_INTERRUPT)
		res = failed(db, sqlite3_extended_errcode(db), why, n);
	else if (!res)
		snprintf(why, n, "state/pipeline.sqlite sound%s", left > 0 ? "" :
		    " (its first pages checked)");
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return res;
}

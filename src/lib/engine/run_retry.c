/*
 * run_retry.c: uvm-retry, the way back after a person has looked
 * (contract in run.h).
 *
 * A dead-lettered or deferred target is released by setting its state to
 * 'retry' with its attempts, deferral count and next_attempt_at cleared:
 * the next make run makes it again. A quarantined input is moved back to
 * where it came from (never replacing a file that is there now), its
 * reason file removed, its quarantine row marked released, and its target
 * released as above. The database keeps the history (jobs, quarantine).
 * Names come from the file system and the database: they are printed
 * through term_escape (stdout here, the log lines in log.c), so a hostile
 * name cannot drive the terminal.
 */

#include "engine/run.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/db.h"
#include "core/fsx.h"
#include "core/quar.h"
#include "core/log.h"
#include "core/term.h"
#include "core/uvm.h"

/* Room for a name escaped (4 bytes a byte at worst). */
#define ESC_LEN (4 * PATH_MAX)

static const char release_sql[] =
    "UPDATE targets SET state = 'retry', attempts = 0, defers = 0, next_attempt_at = NULL,"
    " updated = ?2 WHERE target = ?1";

/* Release one target row (state checked by the caller). 0 or -1. */
static int release_target(sqlite3 *db, const char *target)
{
	sqlite3_stmt *s;
	int rc;
	if (sqlite3_prepare_v2(db, release_sql, -1, &s, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(s, 1, target, -1, SQLITE_STATIC);
	sqlite3_bind_double(s, 2, run_now());
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Print and (unless dry) release the target at the current row of s
 * (columns target, state, attempts, last_class). */
static int release_row(sqlite3 *db, sqlite3_stmt *s, int dry)
{
	const char *t = (const char *)sqlite3_column_text(s, 0);
	const char *state = (const char *)sqlite3_column_text(s, 1);
	const char *cls = (const char *)sqlite3_column_text(s, 3);
	int n = sqlite3_column_int(s, 2);
	char et[ESC_LEN], es[64], ec[64];
	term_escape(t, et, sizeof et);
	if (!dry && release_target(db, t) < 0) {
		log_err("cannot release '%s': %s", t, sqlite3_errmsg(db));
		return EX_IOERR;
	}
	printf("%s '%s' (was %s, class %s, %d attempt%s)\n", dry ? "would release" : "released",
	    et, term_escape(state, es, sizeof es), term_escape(cls ? cls : "-", ec, sizeof ec), n,
	    n == 1 ? "" : "s");
	return 0;
}

static const char *strip_home(const struct cfg *c, const char *t)
{
	size_t hl = strlen(c->home);
	if (t[0] == '/' && !strncmp(t, c->home, hl) && t[hl] == '/')
		t += hl + 1;
	while (t[0] == '.' && t[1] == '/')
		t += 2;
	return t;
}

static int targets(sqlite3 *db, const struct cfg *c, char **names, int n, int all, int dry)
{
	sqlite3_stmt *s;
	int rc = 0;
	const char *q = all ? "SELECT target, state, attempts, last_class FROM targets"
			      " WHERE state IN ('dead', 'deferred') ORDER BY target"
			    : "SELECT target, state, attempts, last_class FROM targets"
			      " WHERE target = ?1";
	if (sqlite3_prepare_v2(db, q, -1, &s, NULL) != SQLITE_OK) {
		log_err("database error: %s", sqlite3_errmsg(db));
		return EX_IOERR;
	}
	if (all) {
		while (sqlite3_step(s) == SQLITE_ROW) {
			int r = release_row(db, s, dry);
			if (r && !rc)
				rc = r;
		}
	}
	for (int i = 0; !all && i < n; i++) {
		const char *t = strip_home(c, names[i]);
		sqlite3_reset(s);
		sqlite3_bind_text(s, 1, t, -1, SQLITE_STATIC);
		if (sqlite3_step(s) != SQLITE_ROW) {
			log_err("no record of target '%s'", t);
			if (!rc)
				rc = EX_NOINPUT;
			continue;
		}
		const char *state = (const char *)sqlite3_column_text(s, 1);
		if (strcmp(state, "dead") && strcmp(state, "deferred") && strcmp(state, "quarantined")) {
			log_err("target '%s' is %s: nothing to release", t, state);
			if (!rc)
				rc = EX_NOINPUT;
			continue;
		}
		int r = release_row(db, s, dry);
		if (r && !rc)
			rc = r;
	}
	sqlite3_finalize(s);
	return rc;
}

/* Restore the quarantined file of the current row of s (id, path,
 * original, target). */
static int restore_row(sqlite3 *db, const struct cfg *c, sqlite3_stmt *s, int dry)
{
	const char *path = (const char *)sqlite3_column_text(s, 1);
	const char *orig = (const char *)sqlite3_column_text(s, 2);
	const char *target = (const char *)sqlite3_column_text(s, 3);
	char src[PATH_MAX], dst[PATH_MAX], dir[PATH_MAX], reason[PATH_MAX + 8];
	char ep[ESC_LEN], eo[ESC_LEN];
	sqlite3_stmt *u;
	cfg_path(c, path, src);
	cfg_path(c, orig, dst);
	term_escape(path, ep, sizeof ep);
	term_escape(orig, eo, sizeof eo);
	if (dry) {
		printf("would restore '%s' to '%s'\n", ep, eo);
		return 0;
	}
	snprintf(dir, sizeof dir, "%s", dst);
	if (fsx_mkdirs(dirname(dir), 0755) < 0 || quar_move_noreplace(src, dst) < 0) {
		int e = errno;
		log_err("cannot restore '%s' to '%s': %s", path, orig, strerror(e));
		return e == EEXIST || e == EACCES || e == EROFS ? EX_CANTCREAT
		    : e == ENOENT				   ? EX_NOINPUT
								   : EX_IOERR;
	}
	snprintf(reason, sizeof reason, "%s.reason", src);
	unlink(reason);
	if (db_begin(db) < 0)
		return EX_IOERR;
	if (sqlite3_prepare_v2(db, "UPDATE quarantine SET released = ?2 WHERE id = ?1", -1, &u,
		NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_int64(u, 1, sqlite3_column_int64(s, 0));
	sqlite3_bind_double(u, 2, run_now());
	if (sqlite3_step(u) != SQLITE_DONE) {
		sqlite3_finalize(u);
		goto fail;
	}
	sqlite3_finalize(u);
	if (target && release_target(db, target) < 0)
		goto fail;
	if (db_commit(db) < 0)
		goto fail;
	printf("restored '%s' to '%s'\n", ep, eo);
	return 0;
fail:
	log_err("restored '%s' to '%s' but cannot record it: %s", ep, eo, sqlite3_errmsg(db));
	db_rollback(db);
	return EX_IOERR;
}

static int quarantined(sqlite3 *db, const struct cfg *c, char **names, int n, int all, int dry)
{
	sqlite3_stmt *s;
	int rc = 0;
	const char *q = all ? "SELECT id, path, original, target FROM quarantine"
			      " WHERE released IS NULL ORDER BY id"
			    : "SELECT id, path, original, target FROM quarantine"
			      " WHERE released IS NULL AND path = ?1";
	if (sqlite3_prepare_v2(db, q, -1, &s, NULL) != SQLITE_OK) {
		log_err("database error: %s", sqlite3_errmsg(db));
		return EX_IOERR;
	}
	if (all) {
		while (sqlite3_step(s) == SQLITE_ROW) {
			int r = restore_row(db, c, s, dry);
			if (r && !rc)
				rc = r;
		}
	}
	for (int i = 0; !all && i < n; i++) {
		char p[PATH_MAX + 16], b[PATH_MAX];
		int found = 0;
		snprintf(b, sizeof b, "%s", names[i]);
		snprintf(p, sizeof p, "quarantine/%s", basename(b));
		sqlite3_reset(s);
		sqlite3_bind_text(s, 1, p, -1, SQLITE_STATIC);
		while (sqlite3_step(s) == SQLITE_ROW) {
			int r = restore_row(db, c, s, dry);
			found = 1;
			if (r && !rc)
				rc = r;
		}
		if (!found) {
			log_err("'%s' is not in quarantine", names[i]);
			if (!rc)
				rc = EX_NOINPUT;
		}
	}
	sqlite3_finalize(s);
	return rc;
}

int run_retry_main(const char *home, char **names, int n, int all, int qmode, int dry)
{
	struct cfg c;
	sqlite3 *db;
	int rc;
	if (cfg_load(&c, home) < 0)
		return EX_NOINPUT;
	if (!(db = db_open(c.home))) {
		cfg_free(&c);
		return EX_IOERR;
	}
	rc = qmode ? quarantined(db, &c, names, n, all, dry) : targets(db, &c, names, n, all, dry);
	db_close(db);
	cfg_free(&c);
	return rc;
}

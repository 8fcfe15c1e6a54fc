/*
 * test_db.c: unit tests of core/db's one open (db_open_schema) and its
 * error classes (db_status): migrations numbered by user_version applied
 * once and in one transaction (a failing one leaves the version and the
 * tables as they were), newer schemas refused, read-only opens, and the
 * exit status of each kind of failure: a corrupt file is bad data (65),
 * never I/O (74); a full disk is I/O. TAP output.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "core/db.h"
#include "core/fsx.h"

static int n, failed;

static void ok(int cond, const char *name)
{
	n++;
	if (!cond)
		failed++;
	printf("%s %d - %s\n", cond ? "ok" : "not ok", n, name);
}

static int version(sqlite3 *db)
{
	sqlite3_stmt *st;
	int v = -1;
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

static int count(sqlite3 *db, const char *table)
{
	char sql[128];
	sqlite3_stmt *st;
	int v = -1;
	snprintf(sql, sizeof sql, "SELECT count(*) FROM sqlite_master WHERE name = '%s'", table);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

int main(void)
{
	char dir[] = "/tmp/test_db.XXXXXX", path[256], bad[256], missing[256];
	static const char *const mig[] = {
	    "CREATE TABLE a (x INTEGER);",
	    "CREATE TABLE b (y INTEGER); INSERT INTO a VALUES (1);",
	    "CREATE TABLE c (z INTEGER); THIS IS NOT SQL;",
	};
	sqlite3 *db;
	int st = -1;

	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof path, "%s/x.sqlite", dir);
	snprintf(bad, sizeof bad, "%s/bad.sqlite", dir);
	snprintf(missing, sizeof missing, "%s/none.sqlite", dir);

	db = db_open_schema(path, mig, 1, DB_CREATE, &st);
	ok(db && st == 0 && version(db) == 1 && count(db, "a") == 1, "create: migration 1 applied");
	db_close(db);
	db = db_open_schema(path, mig, 2, 0, &st);
	ok(db && st == 0 && version(db) == 2 && count(db, "b") == 1, "reopen: only migration 2 applied");
	{
		sqlite3_stmt *s;
		int rows = -1;
		if (sqlite3_prepare_v2(db, "SELECT count(*) FROM a", -1, &s, NULL) == SQLITE_OK &&
		    sqlite3_step(s) == SQLITE_ROW)
			rows = sqlite3_column_int(s, 0);
		sqlite3_finalize(s);
		ok(rows == 1, "reopen: migration 1 not run again");
	}
	db_close(db);
	fprintf(stderr, "# a failing migration is logged:\n");
	db = db_open_schema(path, mig, 3, 0, &st);
	ok(!db && st == EX_SOFTWARE, "failing migration: NULL, 70");
	db = db_open_schema(path, mig, 2, 0, &st);
	ok(db && version(db) == 2 && count(db, "c") == 0, "failing migration: rolled back whole, version kept");
	db_close(db);
	db = db_open_schema(path, mig, 1, 0, &st);
	ok(!db && st == EX_SOFTWARE, "a database newer than the program: refused, 70");

	db = db_open_schema(path, NULL, 0, DB_RDONLY, &st);
	ok(db && st == 0 && version(db) == 2, "read-only: opens without migrating");
	ok(sqlite3_exec(db, "INSERT INTO a VALUES (2)", NULL, NULL, NULL) == SQLITE_READONLY,
	    "read-only: writes refused");
	db_close(db);
	db = db_open_schema(missing, NULL, 0, DB_RDONLY, &st);
	ok(!db && st == EX_NOINPUT && access(missing, F_OK) < 0, "read-only, missing: 66, nothing created");
	db = db_open_schema(missing, mig, 1, 0, &st);
	ok(!db && st == EX_NOINPUT && access(missing, F_OK) < 0, "no DB_CREATE, missing: 66, nothing created");

	{
		char junk[8192];
		memset(junk, 'x', sizeof junk);
		fsx_write_file(bad, junk, sizeof junk, 0644);
	}
	db = db_open_schema(bad, mig, 1, 0, &st);
	ok(!db && st == EX_DATAERR, "not a database: 65, not I/O");

	ok(db_status(NULL, SQLITE_FULL) == EX_IOERR && db_status(NULL, SQLITE_IOERR_WRITE) == EX_IOERR &&
	       db_status(NULL, SQLITE_IOERR_FSYNC) == EX_IOERR,
	    "status: full disk and I/O errors are 74");
	ok(db_status(NULL, SQLITE_CORRUPT) == EX_DATAERR && db_status(NULL, SQLITE_NOTADB) == EX_DATAERR &&
	       db_status(NULL, SQLITE_CORRUPT_INDEX) == EX_DATAERR,
	    "status: corrupt is 65");
	ok(db_status(NULL, SQLITE_BUSY) == EX_TEMPFAIL && db_status(NULL, SQLITE_READONLY) == EX_CANTCREAT &&
	       db_status(NULL, SQLITE_MISUSE) == EX_SOFTWARE && db_status(NULL, SQLITE_DONE) == 0,
	    "status: busy 75, read-only 73, misuse 70, done 0");

	{
		char cmd[300];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			return 1;
	}
	printf("1..%d\n", n);
	return failed != 0;
}

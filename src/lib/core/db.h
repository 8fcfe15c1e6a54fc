/*
 * db.h: the deployment's SQLite state, state/pipeline.sqlite.
 *
 * Opened in WAL mode with a busy timeout and a busy handler, so concurrent
 * wrappers under make -j never fail with "database is locked". Schema
 * changes are numbered migrations kept in code (db.c, PRAGMA user_version);
 * db_open applies the missing ones in one transaction.
 */
#ifndef UVM_DB_H
#define UVM_DB_H

#include <sqlite3.h>

/* Open (creating if needed) state/pipeline.sqlite under home. NULL after
 * logging on failure. */
sqlite3 *db_open(const char *home);
/* Open any database file with our pragmas and migrations. */
sqlite3 *db_open_path(const char *path);
void db_close(sqlite3 *db);
/* Run SQL with no result rows; 0 or -1 after logging. */
int db_exec(sqlite3 *db, const char *sql);
/* BEGIN IMMEDIATE with retry; 0 or -1. */
int db_begin(sqlite3 *db);
int db_commit(sqlite3 *db);
void db_rollback(sqlite3 *db);

#endif

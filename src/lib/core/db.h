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
#include <stddef.h>

/*
 * Open (creating if needed) state/pipeline.sqlite under home. NULL after
 * logging on failure, and when db_history_lost: a database that held the
 * jobs, quarantine and dead-letter history is never silently replaced by
 * an empty one. The first successful open leaves DB_HISTORY_MARKER.
 */
sqlite3 *db_open(const char *home);
#define DB_HISTORY_MARKER "state/pipeline.sqlite.history"
/*
 * Has home's state database lost its history? 1 when state/pipeline.sqlite
 * is missing or empty (0 bytes: truncated) while the deployment shows it
 * had one: DB_HISTORY_MARKER exists, or state/done.idx lists finished
 * groups; why (n bytes) then says which. 0 otherwise (a new deployment,
 * or a whole state/ lost, which uvm-init starts again).
 */
int db_history_lost(const char *home, char *why, size_t n);
/* Open any database file with the state database's pragmas and migrations. */
sqlite3 *db_open_path(const char *path);

/*
 * The one SQLite open of every database (state, calibration registry,
 * alert state; each keeps its own schema): mig[0..n-1] are its numbered
 * migrations, migration i bringing PRAGMA user_version from i to i+1; the
 * missing ones run in one IMMEDIATE transaction (a database newer than n
 * is refused). Read-write opens get WAL, synchronous=NORMAL, foreign keys
 * and a backoff busy handler (~60 s); DB_CREATE creates a missing file.
 * DB_RDONLY opens an existing file read-only with a 10 s busy timeout and
 * no pragmas or migrations, and logs nothing (the status says why).
 * Symlinks are never followed. Returns the handle with *status 0, or NULL
 * with *status (status may be NULL) from db_status: failures are logged
 * once, except in DB_RDONLY mode.
 */
enum { DB_CREATE = 1, DB_RDONLY = 2 };
sqlite3 *db_open_schema(const char *path, const char *const *mig, int n, int flags, int *status);
/*
 * The exit status (sysexits) for SQLite result code rc on db: 0 for
 * success; EX_IOERR for a full disk or an I/O error (and a file that cannot
 * be opened for lack of space); EX_DATAERR for a corrupt file or one that
 * is not a database (never "I/O"); EX_TEMPFAIL for busy or locked;
 * EX_NOINPUT for a missing file; EX_CANTCREAT for read-only or permission
 * denied; EX_SOFTWARE for anything else (misuse, out of memory, schema).
 */
int db_status(sqlite3 *db, int rc);
void db_close(sqlite3 *db);
/* Run SQL with no result rows; 0 or -1 after logging. */
int db_exec(sqlite3 *db, const char *sql);
/* BEGIN IMMEDIATE with retry; 0 or -1. */
int db_begin(sqlite3 *db);
int db_commit(sqlite3 *db);
void db_rollback(sqlite3 *db);

#endif

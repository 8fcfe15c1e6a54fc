/*
 * retain_db.c: retention of the job history (contract in retain.h), so
 * that the state database and logs/ stop growing with every group.
 *
 * Every job adds a row to jobs and every product a row to targets; a year
 * of 5-minute groups is a million rows and a file that only grows. The
 * records of a finished group are needed while someone may still ask about
 * it (uvm-why, uvm-status, the audit); after JOBS_KEEP_DAYS they go, with
 * the group's logs/<G>/. What is kept whatever its age: every record of a
 * group with a dead letter or a quarantined target (it stays visible until
 * resolved), the quarantine table, the jobs of a group still planned, and
 * of the other targets (an hour's mosaic, a group kept for one of the
 * above) the last job. The file is then compacted (VACUUM) when a quarter
 * of it is free pages, so it shrinks instead of staying at its peak.
 */
#include "ops/retain.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "core/db.h"
#include "core/log.h"

/* Remove logs/<g>/ (its regular files, then itself); links and
 * subdirectories are left, and so is the directory then. 0 or -1. */
static int remove_logs(const struct cfg *c, const char *g)
{
	char dir[PATH_MAX];
	struct dirent *e;
	int fd, rc = 0;
	DIR *d;

	snprintf(dir, sizeof dir, "%s/logs/%s", c->home, g);
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW)) < 0)
		return errno == ENOENT ? 0 : -1;
	if (!(d = fdopendir(fd))) {
		close(fd);
		return -1;
	}
	while ((e = readdir(d))) {
		struct stat st;
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
		    unlinkat(fd, e->d_name, 0) < 0)
			rc = -1;
	}
	closedir(d);
	if (rmdir(dir) < 0 && errno != ENOENT && errno != ENOTEMPTY)
		rc = -1;
	return rc;
}

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st)
{
	if (sqlite3_prepare_v2(db, sql, -1, st, NULL) == SQLITE_OK)
		return 0;
	log_err("cannot prune the job history: %s", sqlite3_errmsg(db));
	return -1;
}

/* The pruning statements, in one transaction: the finished groups
 * (temp table done) whose last job ended before ?1 and none of whose
 * targets is anything but ok lose every record; then, of the rest, jobs
 * that ended before ?1 go except the last of each target and those of
 * dead or quarantined targets. */
static const char prune_sql[] =
    "CREATE TEMP TABLE old AS SELECT grp FROM jobs WHERE grp IN (SELECT grp FROM done)"
    " GROUP BY grp HAVING max(coalesce(ended, started)) < ?1"
    " AND grp NOT IN (SELECT grp FROM targets WHERE state != 'ok' AND grp IS NOT NULL);"
    "DELETE FROM jobs WHERE grp IN (SELECT grp FROM old);"
    "DELETE FROM targets WHERE grp IN (SELECT grp FROM old);"
    "DELETE FROM groups WHERE grp IN (SELECT grp FROM old);"
    "DELETE FROM jobs WHERE ended IS NOT NULL AND ended < ?1"
    " AND id NOT IN (SELECT max(id) FROM jobs GROUP BY target)"
    " AND target NOT IN (SELECT target FROM targets WHERE state IN ('dead', 'quarantined'));";

/* Run prune_sql statement by statement with the cutoff bound. */
static int prune(sqlite3 *db, double cutoff)
{
	const char *sql = prune_sql;
	while (*sql) {
		sqlite3_stmt *st = NULL;
		const char *tail;
		int rc;
		if (sqlite3_prepare_v2(db, sql, -1, &st, &tail) != SQLITE_OK) {
			log_err("cannot prune the job history: %s", sqlite3_errmsg(db));
			return -1;
		}
		sql = tail;
		if (!st)
			continue;
		if (sqlite3_bind_parameter_count(st) > 0)
			sqlite3_bind_double(st, 1, cutoff);
		rc = sqlite3_step(st);
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE) {
			log_err("cannot prune the job history: %s", sqlite3_errmsg(db));
			return -1;
		}
	}
	return 0;
}

/* Is a quarter or more of the file free pages? */
static int mostly_free(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	long long pages = 0, free_pages = 0;
	if (prepare(db, "SELECT * FROM pragma_page_count, pragma_freelist_count", &st) < 0)
		return 0;
	if (sqlite3_step(st) == SQLITE_ROW) {
		pages = sqlite3_column_int64(st, 0);
		free_pages = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	return pages > 0 && free_pages * 4 >= pages;
}

int retain_jobs(const struct cfg *c, char *const *done, int ndone, const struct retain_opts *o,
    time_t now)
{
	double days = cfg_double(c, "JOBS_KEEP_DAYS", 30);
	double cutoff = (double)now - days * 86400;
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	int rc = 0, n = 0;

	if (!(days > 0))
		return 0; /* 0: kept forever */
	if (!(db = db_open(c->home)))
		return EX_UNAVAILABLE;
	if (db_exec(db, "CREATE TEMP TABLE done (grp TEXT PRIMARY KEY)") < 0 ||
	    prepare(db, "INSERT OR IGNORE INTO done VALUES (?1)", &st) < 0)
		goto fail;
	for (int i = 0; i < ndone; i++) {
		sqlite3_bind_text(st, 1, done[i], -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE) {
			log_err("cannot prune the job history: %s", sqlite3_errmsg(db));
			goto fail;
		}
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	st = NULL;
	if (o->dry) {
		/* what would go: the groups of prune_sql's first statement */
		if (db_exec(db, "BEGIN") < 0 || prune(db, cutoff) < 0) {
			db_rollback(db);
			goto fail;
		}
		if (prepare(db, "SELECT grp FROM old ORDER BY grp", &st) < 0) {
			db_rollback(db);
			goto fail;
		}
		while (sqlite3_step(st) == SQLITE_ROW)
			printf("jobs of %s\n", (const char *)sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
		db_rollback(db);
		db_close(db);
		return 0;
	}
	if (db_begin(db) < 0 || prune(db, cutoff) < 0) {
		db_rollback(db);
		goto fail;
	}
	if (db_commit(db) < 0) {
		db_rollback(db);
		goto fail;
	}
	/* the logs of the groups whose records went, after the commit: a log
	 * left by a failure here is only a file, a record without its log
	 * would point at nothing */
	if (prepare(db, "SELECT grp FROM old", &st) < 0)
		goto fail;
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *g = (const char *)sqlite3_column_text(st, 0);
		n++;
		if (o->verbose)
			printf("jobs of %s\n", g);
		if (remove_logs(c, g) < 0) {
			log_err("cannot remove 'logs/%s': %s", g, strerror(errno));
			rc = EX_IOERR;
		}
	}
	sqlite3_finalize(st);
	if (n)
		log_info("pruned the job records and logs of %d group(s) older than %g days", n, days);
	if (mostly_free(db) && db_exec(db, "VACUUM") < 0)
		rc = EX_IOERR;
	db_close(db);
	return rc;
fail:
	sqlite3_finalize(st);
	db_close(db);
	return EX_IOERR;
}

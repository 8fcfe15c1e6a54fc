/*
 * run_db.c: the wrapper's records in state/pipeline.sqlite (contract in
 * run.h; tables in db.c's migrations).
 *
 * Under make -j16 many wrappers share the database, so every statement is
 * prepared once, reads run outside transactions (WAL readers never block),
 * and each write is one short BEGIN IMMEDIATE transaction: one when an
 * attempt starts, one when it ends. No transaction is ever open while a
 * job runs. Statements are reset right after use so that no reader keeps a
 * snapshot pinned (which would stall WAL checkpoints).
 */
#include "engine/run.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "core/db.h"
#include "core/log.h"

static const char *const sql[RDB_NSTMT] = {
    [RDB_TARGET] = "SELECT state, attempts, last_class, last_status, next_attempt_at, defers"
		   " FROM targets WHERE target = ?1",
    [RDB_BREAKER] = "SELECT state, fails, first_fail_at, opened_at, trial_pid"
		    " FROM breakers WHERE stage = ?1",
    [RDB_OPEN_JOBS] = "SELECT id, pid FROM jobs WHERE target = ?1 AND ended IS NULL",
    [RDB_CLOSE_LOST] = "UPDATE jobs SET ended = ?2, class = 'lost',"
		       " note = 'the wrapper died before the job ended'"
		       " WHERE id = ?1 AND ended IS NULL",
    [RDB_CLOSE_ENDED] = "UPDATE jobs SET ended = ?2, status = ?3, signal = ?4, class = ?5,"
			" note = ?6 WHERE id = ?1 AND ended IS NULL",
    [RDB_INS_JOB] = "INSERT INTO jobs (target, grp, stage, command, started, attempt, pid,"
		    " host, log) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    [RDB_UPS_TARGET] = "INSERT INTO targets (target, grp, stage, state, updated)"
		       " VALUES (?1, ?2, ?3, 'running', ?4) ON CONFLICT (target) DO UPDATE"
		       " SET grp = excluded.grp, stage = excluded.stage, state = 'running',"
		       " updated = excluded.updated",
    [RDB_END_JOB] = "UPDATE jobs SET ended = ?2, status = ?3, signal = ?4, class = ?5,"
		    " maxrss_kb = ?6, cpu_s = ?7, note = ?8, alert = ?9 WHERE id = ?1",
    [RDB_END_TARGET] = "INSERT INTO targets (target, grp, stage, state, attempts, last_class,"
		       " last_status, next_attempt_at, reason, defers, updated)"
		       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
		       " ON CONFLICT (target) DO UPDATE SET grp = excluded.grp,"
		       " stage = excluded.stage, state = excluded.state,"
		       " attempts = excluded.attempts, last_class = excluded.last_class,"
		       " last_status = excluded.last_status,"
		       " next_attempt_at = excluded.next_attempt_at, reason = excluded.reason,"
		       " defers = excluded.defers, updated = excluded.updated",
    [RDB_UPS_BREAKER] = "INSERT INTO breakers (stage, state, fails, first_fail_at, opened_at,"
			" trial_pid, updated) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
			" ON CONFLICT (stage) DO UPDATE SET state = excluded.state,"
			" fails = excluded.fails, first_fail_at = excluded.first_fail_at,"
			" opened_at = excluded.opened_at, trial_pid = excluded.trial_pid,"
			" updated = excluded.updated",
    [RDB_INS_QUAR] = "INSERT INTO quarantine (path, original, reason, target, at)"
		     " VALUES (?1, ?2, ?3, ?4, ?5)",
    [RDB_REFUSAL] = "INSERT INTO jobs (target, grp, stage, command, started, ended, status,"
		    " class, attempt, pid, host, note) VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7,"
		    " ?8, ?9, ?10, ?11)",
    [RDB_QUAR_OF] = "SELECT original FROM quarantine WHERE target = ?1 AND released IS NULL",
    /* the same refusal again (the target's last job is one of its class):
     * that row says when it was last refused, instead of a row per cycle */
    [RDB_REFUSAL_AGAIN] = "UPDATE jobs SET started = ?5, ended = ?5, attempt = ?8, pid = ?9,"
		    " host = ?10, note = ?11 WHERE id = (SELECT max(id) FROM jobs WHERE target = ?1)"
		    " AND class = ?7 AND status = ?6 AND stage = ?3",
};

double run_now(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec + tv.tv_usec / 1e6;
}

int run_pid_alive(long pid)
{
	return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

static int fail(struct run_db *d)
{
	int e = sqlite3_system_errno(d->db);
	snprintf(d->err, sizeof d->err, "%s%s%s%s", sqlite3_errmsg(d->db), e ? " (" : "",
	    e ? strerror(e) : "", e ? ")" : "");
	log_err("database error: %s", d->err);
	return -1;
}

/* The statement k, prepared on first use and reset/unbound for reuse. */
static sqlite3_stmt *stmt(struct run_db *d, int k)
{
	if (!d->st[k]) {
		if (sqlite3_prepare_v3(d->db, sql[k], -1, SQLITE_PREPARE_PERSISTENT, &d->st[k], NULL) !=
		    SQLITE_OK) {
			fail(d);
			return NULL;
		}
	} else {
		sqlite3_reset(d->st[k]);
		sqlite3_clear_bindings(d->st[k]);
	}
	return d->st[k];
}

/* Prepare the statements a transaction will use before taking the write
 * lock, so that compiling SQL never happens while holding it. The list
 * ends with -1. */
static int prepare(struct run_db *d, ...)
{
	va_list ap;
	int k, rc = 0;
	va_start(ap, d);
	while ((k = va_arg(ap, int)) >= 0)
		if (!stmt(d, k))
			rc = -1;
	va_end(ap);
	return rc;
}

/* Step a statement that returns no rows; 0 or -1 after logging. */
static int done(struct run_db *d, sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : fail(d);
}

static void bind_time(sqlite3_stmt *s, int i, double t)
{
	if (t > 0)
		sqlite3_bind_double(s, i, t);
	else
		sqlite3_bind_null(s, i);
}

static void col_text(sqlite3_stmt *s, int i, char *buf, size_t n)
{
	const unsigned char *t = sqlite3_column_text(s, i);
	snprintf(buf, n, "%s", t ? (const char *)t : "");
}

/*
 * Busy handler: short random sleeps (0.2-2 ms, up to 10 ms after many
 * tries), at most ~60 s in all. Transactions here last well under a
 * millisecond, so a waiter that sleeps long leaves the lock idle while
 * others queue behind it; short jittered sleeps keep the lock busy
 * under make -j16 without waiters waking in lock step.
 */
static int busy(void *arg, int n)
{
	static double t0;
	struct timespec ts;
	double now = run_now(), ms;
	(void)arg;
	if (n == 0)
		t0 = now;
	if (now - t0 > 60)
		return 0;
	ms = (n < 50 ? 0.2 + 1.8 * drand48() : 1 + 9 * drand48());
	ts.tv_sec = 0;
	ts.tv_nsec = (long)(ms * 1e6);
	nanosleep(&ts, NULL);
	return 1;
}

int rdb_open(struct run_db *d, const char *home)
{
	memset(d, 0, sizeof *d);
	snprintf(d->home, sizeof d->home, "%s", home);
	d->db = db_open(home);
	if (!d->db)
		return -1;
	/* A wrapper is often the last connection to close: do not checkpoint
	 * (and fsync) on every job's exit; checkpoint every 100 pages instead,
	 * which also keeps the WAL small for the next opener's recovery. */
	sqlite3_db_config(d->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	sqlite3_wal_autocheckpoint(d->db, 100);
	sqlite3_busy_handler(d->db, busy, NULL);
	return 0;
}

void rdb_close(struct run_db *d)
{
	for (int k = 0; k < RDB_NSTMT; k++)
		sqlite3_finalize(d->st[k]);
	db_close(d->db);
	memset(d, 0, sizeof *d);
}

int rdb_target(struct run_db *d, const char *target, struct run_tstate *t)
{
	sqlite3_stmt *s = stmt(d, RDB_TARGET);
	int rc;
	if (!s)
		return -1;
	sqlite3_bind_text(s, 1, target, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		col_text(s, 0, t->state, sizeof t->state);
		t->attempts = sqlite3_column_int(s, 1);
		col_text(s, 2, t->last_class, sizeof t->last_class);
		t->last_status = sqlite3_column_int(s, 3);
		t->next_at = sqlite3_column_double(s, 4);
		t->defers = sqlite3_column_int(s, 5);
		sqlite3_reset(s);
		return 1;
	}
	sqlite3_reset(s);
	memset(t, 0, sizeof *t);
	return rc == SQLITE_DONE ? 0 : fail(d);
}

int rdb_breaker(struct run_db *d, const char *stage, struct run_breaker *b)
{
	sqlite3_stmt *s = stmt(d, RDB_BREAKER);
	int rc;
	memset(b, 0, sizeof *b);
	if (!s)
		return -1;
	sqlite3_bind_text(s, 1, stage, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		b->state = run_brk_parse((const char *)sqlite3_column_text(s, 0));
		b->fails = sqlite3_column_int(s, 1);
		b->first_fail_at = sqlite3_column_double(s, 2);
		b->opened_at = sqlite3_column_double(s, 3);
		b->trial_pid = (long)sqlite3_column_int64(s, 4);
	}
	sqlite3_reset(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : fail(d);
}

static int put_breaker(struct run_db *d, const char *stage, const struct run_breaker *b,
    double now)
{
	sqlite3_stmt *s = stmt(d, RDB_UPS_BREAKER);
	if (!s)
		return -1;
	sqlite3_bind_text(s, 1, stage, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, run_brk_name(b->state), -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 3, b->fails);
	bind_time(s, 4, b->first_fail_at);
	bind_time(s, 5, b->opened_at);
	if (b->trial_pid)
		sqlite3_bind_int64(s, 6, b->trial_pid);
	sqlite3_bind_double(s, 7, now);
	return done(d, s);
}

int rdb_claim_trial(struct run_db *d, const struct run_policy *p, const char *stage, long pid)
{
	struct run_breaker b;
	double now = run_now();
	int r = 0;
	if (db_begin(d->db) < 0)
		return -1;
	if (rdb_breaker(d, stage, &b) < 0)
		goto fail;
	switch (run_breaker_admit(p, &b, now, b.trial_pid != pid && run_pid_alive(b.trial_pid))) {
	case ADMIT_TRIAL:
		b.state = BRK_HALF;
		b.trial_pid = pid;
		if (put_breaker(d, stage, &b, now) < 0)
			goto fail;
		r = 1;
		break;
	case ADMIT_RUN:
		r = 2; /* closed meanwhile: run as an ordinary job */
		break;
	default:
		r = 0;
	}
	if (db_commit(d->db) < 0)
		goto fail;
	return r;
fail:
	db_rollback(d->db);
	return -1;
}

long rdb_running_pid(struct run_db *d, const char *target)
{
	sqlite3_stmt *s = stmt(d, RDB_OPEN_JOBS);
	long alive = 0;
	int rc;
	if (!s)
		return -1;
	sqlite3_bind_text(s, 1, target, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		long pid = (long)sqlite3_column_int64(s, 1);
		if (run_pid_alive(pid)) {
			alive = pid;
			break;
		}
	}
	sqlite3_reset(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? alive : fail(d);
}

/* Close the target's open job rows whose process is gone, as class lost. */
static int close_lost(struct run_db *d, const char *target, double now)
{
	long long ids[64];
	int n = 0, rc;
	sqlite3_stmt *s = stmt(d, RDB_OPEN_JOBS);
	if (!s)
		return -1;
	sqlite3_bind_text(s, 1, target, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW && n < 64)
		if (!run_pid_alive((long)sqlite3_column_int64(s, 1)))
			ids[n++] = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return fail(d);
	for (int i = 0; i < n; i++) {
		struct run_endslot es;
		char note[RUN_ENDSLOT_LEN + 128];
		if (run_endslot_read(d->home, ids[i], &es)) {
			if (!(s = stmt(d, RDB_CLOSE_ENDED)))
				return -1;
			snprintf(note, sizeof note, "its end could not be recorded (%s); closed"
			    " later from its end slot", es.why);
			sqlite3_bind_int64(s, 1, ids[i]);
			sqlite3_bind_double(s, 2, es.ended);
			sqlite3_bind_int(s, 3, es.status);
			sqlite3_bind_int(s, 4, es.sig);
			sqlite3_bind_text(s, 5, es.cls, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(s, 6, note, -1, SQLITE_TRANSIENT);
			if (done(d, s) < 0)
				return -1;
			run_endslot_drop(d->home, ids[i]);
			log_warn("closed the record of job %lld of '%s' as %s: %s", ids[i], target,
			    es.cls, note);
			continue;
		}
		if (!(s = stmt(d, RDB_CLOSE_LOST)))
			return -1;
		sqlite3_bind_int64(s, 1, ids[i]);
		sqlite3_bind_double(s, 2, now);
		if (done(d, s) < 0)
			return -1;
		log_warn("closed the record of job %lld of '%s' as lost: its wrapper died",
		    ids[i], target);
	}
	return 0;
}

int rdb_start(struct run_db *d, const char *target, const char *grp, const char *stage,
    const char *cmd, double started, int attempt, long pid, const char *host,
    const char *log, long long *job_id)
{
	sqlite3_stmt *s;
	if (prepare(d, RDB_OPEN_JOBS, RDB_CLOSE_LOST, RDB_CLOSE_ENDED, RDB_INS_JOB, RDB_UPS_TARGET,
		-1) < 0 ||
	    db_begin(d->db) < 0)
		return -1;
	if (close_lost(d, target, started) < 0 || !(s = stmt(d, RDB_INS_JOB)))
		goto fail;
	sqlite3_bind_text(s, 1, target, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, grp, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, stage, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, cmd, -1, SQLITE_STATIC);
	sqlite3_bind_double(s, 5, started);
	sqlite3_bind_int(s, 6, attempt);
	sqlite3_bind_int64(s, 7, pid);
	sqlite3_bind_text(s, 8, host, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 9, log, -1, SQLITE_STATIC);
	if (done(d, s) < 0)
		goto fail;
	*job_id = sqlite3_last_insert_rowid(d->db);
	if (!(s = stmt(d, RDB_UPS_TARGET)))
		goto fail;
	sqlite3_bind_text(s, 1, target, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, grp, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, stage, -1, SQLITE_STATIC);
	sqlite3_bind_double(s, 4, started);
	if (done(d, s) < 0 || db_commit(d->db) < 0)
		goto fail;
	return 0;
fail:
	db_rollback(d->db);
	return -1;
}

static const char *state_for(enum run_action a)
{
	switch (a) {
	case RA_DONE: return "ok";
	case RA_DEFER: return "deferred";
	case RA_DEAD: return "dead";
	case RA_QUARANTINE: return "quarantined";
	default: return "retry";
	}
}

/* Upsert the target row. */
static int put_target(struct run_db *d, const char *target, const char *grp, const char *stage,
    const char *state, int attempts, enum run_class c, int status, double next_at,
    const char *reason, int defers, double now)
{
	sqlite3_stmt *s = stmt(d, RDB_END_TARGET);
	if (!s)
		return -1;
	sqlite3_bind_text(s, 1, target, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, grp, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, stage, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, state, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 5, attempts);
	sqlite3_bind_text(s, 6, run_class_name(c), -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 7, status);
	bind_time(s, 8, next_at);
	sqlite3_bind_text(s, 9, reason && *reason ? reason : NULL, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 10, defers);
	sqlite3_bind_double(s, 11, now);
	return done(d, s);
}

int rdb_end(struct run_db *d, const struct run_policy *p, const char *target, const char *grp,
    const char *stage, struct run_end *e)
{
	struct run_breaker b;
	sqlite3_stmt *s;
	d->err[0] = 0;
	if (prepare(d, RDB_BREAKER, RDB_UPS_BREAKER, RDB_END_JOB, RDB_END_TARGET,
		e->nq ? RDB_INS_QUAR : -1, -1) < 0 ||
	    db_begin(d->db) < 0)
		goto fail;
	if (rdb_breaker(d, stage, &b) < 0)
		goto fail;
	if (run_breaker_record(p, &b, e->cls, e->is_trial, e->ended) &&
	    put_breaker(d, stage, &b, e->ended) < 0)
		goto fail;
	e->brk_after = b.state;
	if (e->action == RA_RETRY && b.state != BRK_CLOSED)
		e->action = RA_DEFER; /* the breaker opened: no point retrying here */
	e->next_at = e->action == RA_DEFER ? e->ended + e->delay : 0;
	if (!(s = stmt(d, RDB_END_JOB)))
		goto fail;
	sqlite3_bind_int64(s, 1, e->job_id);
	sqlite3_bind_double(s, 2, e->ended);
	if (e->sig > 0) {
		sqlite3_bind_null(s, 3);
		sqlite3_bind_int(s, 4, e->sig);
	} else {
		sqlite3_bind_int(s, 3, e->status);
		sqlite3_bind_null(s, 4);
	}
	sqlite3_bind_text(s, 5, run_class_name(e->cls), -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 6, e->maxrss_kb);
	sqlite3_bind_double(s, 7, e->cpu_s);
	sqlite3_bind_text(s, 8, e->note && *e->note ? e->note : NULL, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 9, e->alert);
	if (done(d, s) < 0)
		goto fail;
	if (put_target(d, target, grp, stage, state_for(e->action),
		e->action == RA_DONE ? 0 : e->attempts, e->cls, e->exit_status, e->next_at,
		e->action == RA_DONE ? NULL : e->note, 0, e->ended) < 0)
		goto fail;
	for (int i = 0; i < e->nq; i++) {
		if (!(s = stmt(d, RDB_INS_QUAR)))
			goto fail;
		sqlite3_bind_text(s, 1, e->q[i].path, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, e->q[i].original, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 3, e->note && *e->note ? e->note : "exit status 65", -1,
		    SQLITE_STATIC);
		sqlite3_bind_text(s, 4, target, -1, SQLITE_STATIC);
		sqlite3_bind_double(s, 5, e->ended);
		if (done(d, s) < 0)
			goto fail;
	}
	if (db_commit(d->db) < 0)
		goto fail;
	return 0;
fail:
	if (!d->err[0]) { /* begin and commit log their own error */
		int en = sqlite3_system_errno(d->db);
		snprintf(d->err, sizeof d->err, "%s%s%s%s", sqlite3_errmsg(d->db), en ? " (" : "",
		    en ? strerror(en) : "", en ? ")" : "");
	}
	db_rollback(d->db);
	return -1;
}

int rdb_refusal(struct run_db *d, const struct run_policy *p, const char *target,
    const char *grp, const char *stage, const char *cmd, enum run_class c, int attempt,
    const char *host, const char *note, double next_at, int defers, int is_trial)
{
	double now = run_now();
	sqlite3_stmt *s;
	if (db_begin(d->db) < 0)
		return -1;
	/* an open breaker refuses every cycle (a watcher's: several a
	 * second) until it cools down: one row per target, kept current
	 * (the refusal just before updated); otherwise, or when there was
	 * none, a row of its own. The two statements bind the same columns. */
	for (int again = c == RC_BREAKER; again >= 0; again--) {
		if (!(s = stmt(d, again ? RDB_REFUSAL_AGAIN : RDB_REFUSAL)))
			goto fail;
		sqlite3_bind_text(s, 1, target, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, grp, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 3, stage, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 4, cmd, -1, SQLITE_STATIC);
		sqlite3_bind_double(s, 5, now);
		sqlite3_bind_int(s, 6, run_class_exit(c, 0));
		sqlite3_bind_text(s, 7, run_class_name(c), -1, SQLITE_STATIC);
		sqlite3_bind_int(s, 8, attempt);
		sqlite3_bind_int64(s, 9, (long long)getpid());
		sqlite3_bind_text(s, 10, host, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 11, note, -1, SQLITE_STATIC);
		if (done(d, s) < 0)
			goto fail;
		if (again && sqlite3_changes(d->db) > 0)
			break;
	}
	if (c == RC_DISK &&
	    put_target(d, target, grp, stage, "deferred", attempt - 1, c, run_class_exit(c, 0),
		next_at, note, defers, now) < 0)
		goto fail;
	if (is_trial) {
		struct run_breaker b;
		if (rdb_breaker(d, stage, &b) < 0)
			goto fail;
		if (run_breaker_record(p, &b, c, 1, now) && put_breaker(d, stage, &b, now) < 0)
			goto fail;
	}
	if (db_commit(d->db) < 0)
		goto fail;
	return 0;
fail:
	db_rollback(d->db);
	return -1;
}

int rdb_quarantined_input(struct run_db *d, const struct cfg *c, const char *target,
    const char **inputs, int n)
{
	sqlite3_stmt *s = stmt(d, RDB_QUAR_OF);
	int found = -1, rc = SQLITE_DONE;
	if (!s)
		return -2;
	sqlite3_bind_text(s, 1, target, -1, SQLITE_STATIC);
	while (found < 0 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *orig = (const char *)sqlite3_column_text(s, 0);
		for (int i = 0; orig && i < n; i++) {
			char rel[PATH_MAX];
			struct stat st;
			if (run_rel_path(c, inputs[i], rel) == 0 && !strcmp(rel, orig) &&
			    lstat(inputs[i], &st) < 0 && errno == ENOENT) {
				found = i;
				break;
			}
		}
	}
	sqlite3_reset(s);
	if (found >= 0)
		return found;
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? -1 : (fail(d), -2);
}

int rdb_provenance(struct run_db *d, long long job_id, const char *json)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(d->db, "UPDATE jobs SET provenance = ?2 WHERE id = ?1", -1, &s,
	    NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(s, 1, job_id);
		sqlite3_bind_text(s, 2, json, -1, SQLITE_STATIC);
		rc = sqlite3_step(s) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
	}
	sqlite3_finalize(s);
	return rc == SQLITE_OK ? 0 : -1;
}

/*
 * run.c: one recipe through the wrapper, attempt by attempt (contract in
 * run.h; the policy is run_policy.c, the records run_db.c, the process
 * handling run_exec.c, quarantine run_quarantine.c).
 *
 * Before an attempt the target's record decides whether it may run at all
 * (dead-lettered, deferred until later, input in quarantine, already
 * running), then the stage's circuit breaker (open: refuse; cooled down:
 * claim the single half-open trial), then the disk preflight. An attempt
 * is one short transaction at the start (job row, target running), the
 * job, one short transaction at the end (outcome, target state, breaker,
 * quarantine rows). Retries whose backoff is short happen here, in place;
 * longer ones are recorded as next_attempt_at and the wrapper exits so
 * make carries on with other work.
 */
#include "engine/run.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/fsx.h"
#include "core/log.h"
#include "core/uvm.h"

struct job {
	const struct run_opts *o;
	struct cfg cfg;
	struct run_policy pol;
	const char *grp;           /* NULL: a job without a group */
	char grpbuf[130];
	char target[PATH_MAX];     /* as recorded: relative to home when inside */
	char logrel[PATH_MAX];     /* logs/G/stage.log */
	char blame[PATH_MAX];      /* $UVM_BLAME_FILE */
	char host[256];
	char **argv;               /* LAUNCH words + the command */
	char **launch;
	char *cmd;                 /* argv rendered for records and logs */
	const char *prog;          /* basename of the command, for stamping */
	int logfd, sfd;
	int stage_failed;          /* the last attempt failed 73/74 staged */
	int nostage;               /* so the next ones write to disk */
	sigset_t oldmask;
	struct run_db db;
};

/* Target as recorded: relative to home when it points inside it. */
static void norm_target(struct job *j)
{
	const char *t = j->o->target;
	size_t hl = strlen(j->cfg.home);
	if (t[0] == '/' && !strncmp(t, j->cfg.home, hl) && t[hl] == '/')
		t += hl + 1;
	while (t[0] == '.' && t[1] == '/')
		t += 2;
	snprintf(j->target, sizeof j->target, "%s", t);
}

/* Free MB on the file system of the target's directory (made if missing),
 * or -1 when it cannot be measured (then the job runs and says why). */
static long long free_mb(const struct job *j, char *dir)
{
	char tmp[PATH_MAX];
	long long b;
	snprintf(tmp, sizeof tmp, "%s", j->o->target);
	snprintf(dir, PATH_MAX, "%s", dirname(tmp));
	if (fsx_mkdirs(dir, 0755) < 0)
		return -1;
	b = fsx_free_bytes(dir);
	return b < 0 ? -1 : b / (1024 * 1024);
}

/* Did TERM/INT/HUP arrive while no job ran? */
static int signal_pending(void)
{
	sigset_t s;
	return sigpending(&s) == 0 &&
	    (sigismember(&s, SIGTERM) || sigismember(&s, SIGINT) || sigismember(&s, SIGHUP));
}

static int same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/*
 * Quarantine the offending inputs of a job that exited 65: the paths in
 * the blame file that are among the -i inputs, else all -i inputs. Returns
 * how many were moved (rows in q, at most o->ninputs).
 */
static int quarantine(struct job *j, const char *last, struct run_qrow *q)
{
	const struct run_opts *o = j->o;
	struct stat *st = calloc((size_t)o->ninputs + 1, sizeof *st);
	char *pick = calloc((size_t)o->ninputs + 1, 1), *blame, reason[2048], when[32];
	int npick = 0, nq = 0;
	if (!st || !pick) {
		free(st);
		free(pick);
		log_err("out of memory");
		return 0;
	}
	for (int i = 0; i < o->ninputs; i++)
		if (lstat(o->inputs[i], &st[i]) < 0)
			st[i].st_ino = 0;
	blame = fsx_read_file(j->blame, NULL);
	for (char *save = NULL, *l = blame ? strtok_r(blame, "\n", &save) : NULL; l;
	     l = strtok_r(NULL, "\n", &save)) {
		struct stat b;
		int hit = 0;
		if (lstat(l, &b) == 0)
			for (int i = 0; i < o->ninputs; i++)
				if (st[i].st_ino && same_file(&b, &st[i]) && !pick[i]) {
					pick[i] = 1;
					npick++;
					hit = 1;
				}
		if (!hit)
			log_warn("ignoring blamed path '%s': not an input of '%s'", l, j->target);
	}
	free(blame);
	if (!npick)
		memset(pick, 1, (size_t)o->ninputs);
	/* the same file twice on the command line is moved once */
	for (int i = 0; i < o->ninputs; i++)
		for (int k = 0; k < i && pick[i]; k++)
			if (pick[k] && st[i].st_ino && same_file(&st[i], &st[k]))
				pick[i] = 0;
	snprintf(reason, sizeof reason,
	    "time: %s\nwho: uvm-run (pid %ld on %s)\ntarget: %s\nstage: %s\ngroup: %s\n"
	    "status: %d\nreason: %s\n",
	    run_fmt_time(run_now(), when, sizeof when), (long)getpid(), j->host, j->target,
	    o->stage, j->grp ? j->grp : "-", EX_DATAERR, *last ? last : "exit status 65");
	for (int i = 0; i < o->ninputs; i++)
		if (pick[i] && run_quarantine_one(&j->cfg, o->inputs[i], reason, &q[nq]) == 0) {
			run_log_line(j->logfd, j->grp, "quarantined '%s' as '%s'", q[nq].original,
			    q[nq].path);
			nq++;
		}
	free(st);
	free(pick);
	return nq;
}

/* What happened, in words: "status 75", "signal 9", "timeout after 5 s". */
static void outcome_text(const struct run_proc *p, const struct job *j, char *buf, size_t n)
{
	if (p->timed_out)
		snprintf(buf, n, "timeout after %g s", j->pol.timeout);
	else if (p->interrupted)
		snprintf(buf, n, "interrupted by signal %d", p->interrupted);
	else if (!p->exited)
		snprintf(buf, n, "signal %d", p->sig);
	else
		snprintf(buf, n, "status %d", p->status);
}

/* The end of an attempt: log lines, summary on stderr. */
static void report(struct job *j, const struct run_proc *p, const struct run_end *e,
    const struct run_breaker *before, int attempt)
{
	char what[64], act[PATH_MAX + 128], when[32];
	outcome_text(p, j, what, sizeof what);
	run_log_line(j->logfd, j->grp, "end: %s class %s rss %ld KB cpu %.3f s", what,
	    run_class_name(e->cls), e->maxrss_kb, e->cpu_s);
	switch (e->action) {
	case RA_DONE:
		act[0] = 0;
		break;
	case RA_RETRY:
		snprintf(act, sizeof act, "retrying in %.3g s", e->delay);
		break;
	case RA_DEFER:
		snprintf(act, sizeof act, "deferred until %s",
		    run_fmt_time(e->next_at, when, sizeof when));
		break;
	case RA_DEAD:
		snprintf(act, sizeof act, "dead-lettered: release it with uvm-retry");
		break;
	case RA_QUARANTINE:
		snprintf(act, sizeof act, "%d input%s quarantined (%s%s)", e->nq,
		    e->nq == 1 ? "" : "s", e->q[0].path, e->nq > 1 ? ", ..." : "");
		break;
	default:
		snprintf(act, sizeof act, "not counted; it runs again next time");
	}
	if (act[0])
		run_log_line(j->logfd, j->grp, "%s", act);
	if (e->action != RA_DONE)
		log_err("'%s' failed (stage %s, class %s, %s, attempt %d/%d): %s; %s", j->target,
		    j->o->stage, run_class_name(e->cls), what, attempt, j->pol.retry_max,
		    p->last_line[0] ? p->last_line : "no message", act);
	if (e->brk_after == BRK_OPEN && (before->state != BRK_OPEN || e->is_trial)) {
		log_err("circuit breaker of stage '%s' opened for %g s", j->o->stage,
		    j->pol.breaker_cooldown);
		run_log_line(j->logfd, j->grp, "circuit breaker of stage '%s' opened", j->o->stage);
	} else if (e->brk_after == BRK_CLOSED && before->state != BRK_CLOSED) {
		log_info("circuit breaker of stage '%s' closed", j->o->stage);
		run_log_line(j->logfd, j->grp, "circuit breaker of stage '%s' closed", j->o->stage);
	}
}

/* Checks before an attempt; returns -1 to go on, else the exit status. */
static int precheck(struct job *j, const struct run_tstate *t, int have, double now)
{
	char when[32];
	if (!have)
		return -1;
	if (!strcmp(t->state, "dead")) {
		log_err("'%s' is dead-lettered (class %s after %d attempt%s): release it with"
			" uvm-retry", j->target, t->last_class, t->attempts, t->attempts == 1 ? "" : "s");
		return t->last_status > 0 ? t->last_status : EX_SOFTWARE;
	}
	if (!strcmp(t->state, "deferred") && t->next_at > now) {
		log_err("'%s' deferred until %s (class %s)", j->target,
		    run_fmt_time(t->next_at, when, sizeof when), t->last_class);
		return EX_TEMPFAIL;
	}
	if (!strcmp(t->state, "quarantined")) {
		int k = rdb_quarantined_input(&j->db, &j->cfg, j->target, j->o->inputs,
		    j->o->ninputs);
		if (k == -2)
			return EX_TEMPFAIL;
		if (k >= 0) {
			log_err("'%s' not made: its input '%s' is in quarantine (uvm-retry -q"
				" releases it)", j->target, j->o->inputs[k]);
			return EX_DATAERR;
		}
	}
	if (!strcmp(t->state, "running")) {
		long pid = rdb_running_pid(&j->db, j->target);
		if (pid < 0)
			return EX_TEMPFAIL;
		if (pid > 0) {
			log_err("'%s' is being made already (job pid %ld)", j->target, pid);
			return EX_TEMPFAIL;
		}
	}
	return -1;
}

/*
 * Whether attempt number `attempt` of the job may start now: the stage's
 * circuit breaker (read into *br for the report; *is_trial set when this
 * job is its half-open trial), the free disk margin, a pending signal.
 * A refusal is recorded and logged. Returns -1 to go on, else the exit
 * status (EX_TEMPFAIL, or EX_IOERR when deferred for disk space).
 */
static int admit_attempt(struct job *j, const struct run_tstate *t, int attempt, double now,
    struct run_breaker *br, int *is_trial)
{
	const struct run_opts *o = j->o;
	struct run_decision d;
	char dir[PATH_MAX], note[PATH_MAX + 128], when[32];
	long long mb;
	enum run_admit admit;
	int rc;

	if (rdb_breaker(&j->db, o->stage, br) < 0)
		return EX_TEMPFAIL;
	admit = run_breaker_admit(&j->pol, br, now,
	    br->trial_pid != (long)getpid() && run_pid_alive(br->trial_pid));
	if (admit == ADMIT_TRIAL) {
		rc = rdb_claim_trial(&j->db, &j->pol, o->stage, (long)getpid());
		if (rc < 0)
			return EX_TEMPFAIL;
		admit = rc == 1 ? ADMIT_TRIAL : rc == 2 ? ADMIT_RUN : ADMIT_REFUSE;
		*is_trial = rc == 1;
	}
	if (admit == ADMIT_REFUSE) {
		if (br->state == BRK_OPEN)
			snprintf(note, sizeof note, "circuit breaker of stage '%s' open until %s",
			    o->stage, run_fmt_time(br->opened_at + j->pol.breaker_cooldown, when,
				sizeof when));
		else
			snprintf(note, sizeof note, "circuit breaker of stage '%s' half-open: its"
			    " trial job is running", o->stage);
		rdb_refusal(&j->db, &j->pol, j->target, j->grp, o->stage, j->cmd, RC_BREAKER,
		    attempt, j->host, note, 0, t->defers, 0);
		log_err("'%s' not started: %s", j->target, note);
		run_log_line(j->logfd, j->grp, "'%s' not started: %s", j->target, note);
		return EX_TEMPFAIL;
	}
	if (*is_trial)
		run_log_line(j->logfd, j->grp, "circuit breaker of stage '%s' half-open: trial",
		    o->stage);

	mb = free_mb(j, dir);
	if (mb >= 0 && mb < j->pol.disk_margin_mb) {
		double next;
		run_decide(&j->pol, RC_DISK, t->defers + 1, drand48(), &d);
		next = now + d.delay;
		snprintf(note, sizeof note, "%lld MB free on '%s', DISK_MARGIN_MB is %lld", mb,
		    dir, j->pol.disk_margin_mb);
		if (rdb_refusal(&j->db, &j->pol, j->target, j->grp, o->stage, j->cmd, RC_DISK,
			attempt, j->host, note, next, t->defers + 1, *is_trial) < 0)
			return EX_TEMPFAIL;
		log_err("'%s' not started: %s; deferred until %s", j->target, note,
		    run_fmt_time(next, when, sizeof when));
		run_log_line(j->logfd, j->grp, "not started: %s; deferred until %s", note, when);
		return EX_IOERR;
	}
	if (signal_pending()) {
		log_err("'%s' not started: interrupted", j->target);
		return EX_TEMPFAIL;
	}
	return -1;
}

/*
 * Run attempt number `attempt` to its end: take the stage's slot and
 * memory, stage the output, spawn the command, record its start (a job
 * that cannot be recorded is killed), wait for it, link the staged output.
 * On return *p holds how it ended and e->job_id its record. Returns -1
 * when it ran, else the exit status (EX_TEMPFAIL) when it could not.
 */
static int run_one(struct job *j, const struct run_tstate *t, int attempt, int is_trial,
    struct run_proc *p, struct run_end *e)
{
	const struct run_opts *o = j->o;
	struct run_res res;
	struct run_stage stg;
	char num[16];
	double started;
	int rc, staged;

	run_res_init(&res);
	run_stage_init(&stg);
	/* the stage's slot and memory: waiting here does not count
	 * towards the job's timeout (run_slots.c) */
	rc = run_res_acquire(&res, &j->cfg, o->stage, j->target, j->sfd, j->logfd, j->grp);
	if (rc == 1)
		rdb_refusal(&j->db, &j->pol, j->target, j->grp, o->stage, j->cmd, RC_RESOURCE,
		    attempt, j->host, res.note, 0, t->defers, is_trial);
	if (rc)
		return EX_TEMPFAIL;
	if (j->nostage)
		run_stage_disk(&stg, &j->cfg, j->target, j->grp, "the staged attempt could not"
		    " write there", j->logfd);
	else
		run_stage_begin(&stg, &j->cfg, o->stage, j->target, o->target, j->grp, o->inputs,
		    o->ninputs, j->argv, j->logfd);
	staged = stg.staged;

	unlink(j->blame);
	snprintf(num, sizeof num, "%d", attempt);
	setenv("UVM_ATTEMPT", num, 1);
	run_log_line(j->logfd, j->grp, "start attempt %d: %s", attempt, j->cmd);
	started = run_now();
	if (run_spawn(p, j->argv, &j->oldmask) < 0) {
		run_stage_finish(&stg, j->argv, 0);
		run_res_release(&res);
		return EX_TEMPFAIL;
	}
	run_res_started(&res, (long)p->pid);
	memset(e, 0, sizeof *e);
	if (rdb_start(&j->db, j->target, j->grp, o->stage, j->cmd, started, attempt,
		(long)p->pid, j->host, j->logrel, &e->job_id) < 0) {
		/* never let a job run unrecorded */
		kill(-p->pid, SIGKILL);
		run_wait(p, j->sfd, j->logfd, 0, 0, j->prog, j->grp);
		run_stage_finish(&stg, j->argv, 0);
		run_res_release(&res);
		log_err("'%s' not started: cannot record it", j->target);
		return EX_TEMPFAIL;
	}
	run_endslot_make(j->cfg.home, e->job_id); /* while there is room */
	run_wait(p, j->sfd, j->logfd, j->pol.timeout, j->pol.kill_grace, j->prog, j->grp);
	j->stage_failed = staged && !p->timed_out && !p->interrupted && p->exited &&
	    (p->status == EX_CANTCREAT || p->status == EX_IOERR);
	if (run_stage_finish(&stg, j->argv, p->exited && p->status == 0) < 0) {
		snprintf(p->last_line, sizeof p->last_line, "cannot link '%s' to '%s': %s",
		    j->target, stg.path, strerror(errno));
		run_log_line(j->logfd, j->grp, "%s", p->last_line);
		p->status = EX_CANTCREAT;
	}
	run_res_release(&res);
	return -1;
}

/*
 * Decide what follows the attempt that ended as *p (retry, quarantine its
 * inputs, dead-letter, ...), fill in *e and record the job's end; an end
 * that cannot be recorded is never retried. Returns the quarantine rows
 * e->q points at (the caller frees them after the report), or NULL.
 */
static struct run_qrow *conclude(struct job *j, struct run_proc *p, struct run_end *e,
    int attempt, int is_trial)
{
	const struct run_opts *o = j->o;
	struct run_decision d;
	struct run_qrow *q = NULL;

	e->cls = run_classify(p->exited, p->status, p->sig, p->timed_out, p->interrupted);
	if (j->stage_failed) {
		/* the staging file system failed, not the job: at once on disk */
		e->cls = RC_STAGING;
		j->nostage = 1;
		j->stage_failed = 0;
	} else if (e->cls == RC_IOERR || e->cls == RC_CANTCREAT) {
		/* a job that failed to write while the disk is below its margin
		 * failed for want of space, as the preflight would have said:
		 * deferred and not counted, so a long fill dead-letters nothing
		 * and the work resumes by itself once space is freed */
		char dir[PATH_MAX];
		long long mb = free_mb(j, dir);
		if (mb >= 0 && mb < j->pol.disk_margin_mb) {
			e->cls = RC_DISK;
			run_log_line(j->logfd, j->grp, "%lld MB free on '%s' (DISK_MARGIN_MB %lld):"
			    " a failure for want of space, not counted", mb, dir, j->pol.disk_margin_mb);
		}
	}
	run_decide(&j->pol, e->cls, attempt, drand48(), &d);
	if (d.action == RA_QUARANTINE) {
		q = calloc((size_t)o->ninputs + 1, sizeof *q);
		e->nq = q ? quarantine(j, p->last_line, q) : 0;
		e->q = q;
		if (e->nq == 0) {
			log_err("'%s': no input could be quarantined: dead-lettering it",
			    j->target);
			d.action = RA_DEAD;
			d.alert = 1;
		}
	}
	e->ended = run_now();
	e->status = p->exited ? p->status : 0;
	e->sig = p->exited ? 0 : (p->sig ? p->sig : p->interrupted ? p->interrupted : SIGKILL);
	e->maxrss_kb = p->maxrss_kb;
	e->cpu_s = p->cpu_s;
	e->note = e->cls == RC_OK ? NULL : p->last_line;
	e->alert = d.alert;
	e->action = d.action;
	e->attempts = d.counted ? attempt : attempt - 1;
	e->exit_status = run_class_exit(e->cls, p->status);
	e->delay = d.delay;
	e->is_trial = is_trial;
	if (rdb_end(&j->db, &j->pol, j->target, j->grp, o->stage, e) < 0) {
		/* the job did end: leave that where no new space is needed, so
		 * whoever closes its row later does not call it lost */
		int kept = run_endslot_write(j->cfg.home, e->job_id, e, j->db.err) == 0;
		log_err("'%s': cannot record the end of its job (%s)%s", j->target, j->db.err,
		    kept ? "; kept in its end slot" : "");
		if (e->action == RA_RETRY)
			e->action = RA_NONE;
	} else {
		run_endslot_drop(j->cfg.home, e->job_id);
		if (e->action == RA_DONE)
			run_record_provenance(&j->db, e->job_id, j->target, o->stage, o->inputs, o->ninputs);
	}
	return q;
}

/*
 * The attempt loop: admit, run, conclude and report one attempt, then
 * sleep and retry while the policy says so. Returns the wrapper's exit
 * status.
 */
static int attempts(struct job *j)
{
	for (;;) {
		struct run_tstate t;
		struct run_breaker br;
		struct run_proc p;
		struct run_end e;
		struct run_qrow *q;
		double now = run_now();
		int have, attempt, is_trial = 0, rc;

		if ((have = rdb_target(&j->db, j->target, &t)) < 0)
			return EX_TEMPFAIL;
		if ((rc = precheck(j, &t, have, now)) >= 0)
			return rc;
		attempt = t.attempts + 1;
		if ((rc = admit_attempt(j, &t, attempt, now, &br, &is_trial)) >= 0)
			return rc;
		if ((rc = run_one(j, &t, attempt, is_trial, &p, &e)) >= 0)
			return rc;
		q = conclude(j, &p, &e, attempt, is_trial);
		report(j, &p, &e, &br, attempt);
		free(q);
		unlink(j->blame);
		if (e.action != RA_RETRY)
			return e.exit_status;
		if (run_sleep(j->sfd, e.delay)) {
			log_err("'%s' interrupted while waiting to retry", j->target);
			return EX_TEMPFAIL;
		}
	}
}

/* Everything before the first attempt; 0 or an exit status. */
static int setup(struct job *j)
{
	const struct run_opts *o = j->o;
	char path[PATH_MAX], dir[PATH_MAX + 8];
	struct stat st;
	struct timeval tv;
	int nl = 0, na = 0;

	if (cfg_load(&j->cfg, o->home) < 0)
		return EX_NOINPUT;
	if (stat(cfg_path(&j->cfg, "state", path), &st) < 0 || !S_ISDIR(st.st_mode)) {
		log_err("cannot use deployment '%s': no state directory (run uvm-init)",
		    j->cfg.home);
		return EX_NOINPUT;
	}
	norm_target(j);
	if (o->group) {
		snprintf(j->grpbuf, sizeof j->grpbuf, "%s", o->group);
		j->grp = j->grpbuf;
	} else if (run_group_from_target(j->target, j->grpbuf, sizeof j->grpbuf) == 0) {
		j->grp = j->grpbuf;
	}
	log_set_group(j->grp);
	run_policy_load(&j->pol, &j->cfg, o->stage);
	if (o->timeout >= 0)
		j->pol.timeout = o->timeout;

	j->launch = run_split_launch(cfg_str(&j->cfg, "LAUNCH", ""), &nl);
	while (o->argv[na])
		na++;
	j->argv = calloc((size_t)(nl + na + 1), sizeof *j->argv);
	if (!j->launch || !j->argv)
		goto nomem;
	for (int i = 0; i < nl; i++)
		j->argv[i] = j->launch[i];
	for (int i = 0; i < na; i++)
		j->argv[nl + i] = o->argv[i];
	if (!(j->cmd = run_render_argv(j->argv)))
		goto nomem;
	j->prog = strrchr(o->argv[0], '/') ? strrchr(o->argv[0], '/') + 1 : o->argv[0];
	if (gethostname(j->host, sizeof j->host - 1) < 0)
		snprintf(j->host, sizeof j->host, "localhost");

	gettimeofday(&tv, NULL);
	srand48((long)getpid() ^ (long)tv.tv_usec ^ (long)tv.tv_sec);

	if ((j->sfd = run_signals(&j->oldmask)) < 0) {
		log_err("cannot set up signals: %s", strerror(errno));
		return EX_OSERR;
	}
	snprintf(j->blame, sizeof j->blame, "%s/state/blame.tmp.%ld", j->cfg.home, (long)getpid());
	if (j->grp)
		snprintf(j->logrel, sizeof j->logrel, "logs/%s/%s.log", j->grp, o->stage);
	else
		snprintf(j->logrel, sizeof j->logrel, "logs/%s.log", o->stage);
	cfg_path(&j->cfg, j->logrel, path);
	snprintf(dir, sizeof dir, "%s", path);
	*strrchr(dir, '/') = 0;
	if (fsx_mkdirs(dir, 0755) < 0 ||
	    (j->logfd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0644)) <
		0) {
		log_err("cannot open '%s': %s", path, strerror(errno));
		return EX_CANTCREAT;
	}

	setenv("UVM_HOME", j->cfg.home, 1);
	if (j->grp)
		setenv("UVM_GROUP", j->grp, 1);
	else
		unsetenv("UVM_GROUP");
	setenv("UVM_LOG_TIME", "1", 1);
	setenv("UVM_STAGE", o->stage, 1);
	setenv("UVM_TARGET", j->target, 1);
	setenv("UVM_BLAME_FILE", j->blame, 1);

	if (rdb_open(&j->db, j->cfg.home) < 0)
		return EX_TEMPFAIL;
	return 0;
nomem:
	log_err("out of memory");
	return EX_OSERR;
}

int run_main(const struct run_opts *o)
{
	struct job j;
	int rc;
	memset(&j, 0, sizeof j);
	j.o = o;
	j.logfd = j.sfd = -1;
	if (!run_valid_name(o->stage) || (o->group && !run_valid_name(o->group))) {
		log_err("invalid %s name '%s': letters, digits, '_', '-', '.' only",
		    !run_valid_name(o->stage) ? "stage" : "group",
		    !run_valid_name(o->stage) ? o->stage : o->group);
		return EX_USAGE;
	}
	rc = setup(&j);
	if (rc == 0)
		rc = attempts(&j);
	rdb_close(&j.db);
	if (j.logfd >= 0)
		close(j.logfd);
	if (j.sfd >= 0)
		close(j.sfd);
	if (j.launch)
		for (int i = 0; j.launch[i]; i++)
			free(j.launch[i]);
	free(j.launch);
	free(j.argv);
	free(j.cmd);
	cfg_free(&j.cfg);
	return rc;
}

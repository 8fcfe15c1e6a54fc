/*
 * run.h: the recipe wrapper (uvm-run) and its release tool (uvm-retry).
 *
 * Every make recipe runs its stage program through run_main(): the wrapper
 * records each attempt in state/pipeline.sqlite, runs the job in its own
 * process group with a timeout, classifies the outcome (exit status, signal,
 * timeout) and applies the policy of that class: retry in place with
 * exponential backoff and jitter, defer to a later make run, dead-letter,
 * quarantine the offending input, or open the stage's circuit breaker.
 *
 * The pieces:
 *   run_policy.c      pure decisions (classes, backoff, breaker transitions,
 *                     argv rendering, group from target), unit-tested
 *   run_db.c          the few SQL statements, each transaction short
 *   run_exec.c        fork/exec, process group, timeout, log piping, rusage
 *   run_quarantine.c  moving inputs to quarantine/ and back
 *   run.c             one job: the attempt loop tying these together
 *   run_retry.c       uvm-retry: release dead/deferred targets and inputs
 *   run_slots.c       per-stage slots and memory admission (flock'd files)
 *   run_stage.c       staging intermediate products on tmpfs
 *
 * Classes (jobs.class, targets.last_class) and their policy:
 *   ok                          record; target ok, breaker closed
 *   usage (64), software (70)   dead at once (70 and every dead-letter alert)
 *   dataerr (65)                quarantine the input(s), never retry
 *   noinput (66)                deferred (inputs may still arrive)
 *   unavailable (69)            deferred, backoff from RETRY_UNAVAILABLE_BASE
 *   cantcreat (73), ioerr (74), tempfail (75), busy (76), other (any other
 *   status), signal, timeout    retry with backoff: in place while the delay
 *                               is <= RETRY_INLINE_MAX, else deferred
 *   lost       a 'running' record whose process is gone (wrapper killed)
 *   disk       preflight found too little free space, or a job failed 73/74
 *              with the disk below DISK_MARGIN_MB after it: deferred, not
 *              counted
 *   breaker    the stage's circuit breaker is open: not run, not counted
 *   interrupted the wrapper got SIGTERM/SIGINT/SIGHUP: not counted
 *   resource   its stage slot or memory did not come free within
 *              RESOURCE_WAIT_MAX: not run, not counted (exit 75)
 *   staging    a staged job failed 73 or 74 (the staging file system full,
 *              out of inodes, unwritable): run again at once on disk in
 *              the same wrapper, not counted, not systemic
 * Counted failures dead-letter the target after RETRY_MAX attempts.
 * The breaker counts the systemic classes only (software, cantcreat, ioerr,
 * tempfail, busy, other, signal, timeout): 64 is a per-target mistake and
 * 65/66/69 are about one input, so they neither trip nor reset it.
 */
#ifndef UVM_RUN_H
#define UVM_RUN_H

#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <sys/types.h>

#include "core/cfg.h"

enum run_class {
	RC_OK,
	RC_USAGE,
	RC_DATAERR,
	RC_NOINPUT,
	RC_UNAVAILABLE,
	RC_SOFTWARE,
	RC_CANTCREAT,
	RC_IOERR,
	RC_TEMPFAIL,
	RC_BUSY,
	RC_OTHER,
	RC_SIGNAL,
	RC_TIMEOUT,
	RC_LOST,
	RC_DISK,
	RC_BREAKER,
	RC_INTERRUPTED,
	RC_RESOURCE,
	RC_OVERFLAGGED, /* 79: the group's data are mostly bad (uvm-flag) */
	RC_STAGING,     /* 73/74 writing to STAGING_DIR: again on disk at once */
	RC_NCLASS
};

/* Policy knobs, from the config (seconds may be fractional). */
struct run_policy {
	int retry_max;          /* RETRY_MAX: counted attempts before dead */
	double base;            /* RETRY_BASE */
	double cap;             /* RETRY_CAP */
	double inline_max;      /* RETRY_INLINE_MAX */
	double unavail_base;    /* RETRY_UNAVAILABLE_BASE */
	double timeout;         /* TIMEOUT_<stage>, else TIMEOUT; 0: none */
	double kill_grace;      /* KILL_GRACE */
	int breaker_fails;      /* BREAKER_FAILS; 0 disables the breaker */
	double breaker_window;  /* BREAKER_WINDOW */
	double breaker_cooldown;/* BREAKER_COOLDOWN */
	long long disk_margin_mb; /* DISK_MARGIN_MB */
};

/* Fill p from the config for one stage. */
void run_policy_load(struct run_policy *p, const struct cfg *c, const char *stage);

/* Class of a finished job: exited (status) or killed (sig); timed_out and
 * interrupted (we sent the signal) take precedence. */
enum run_class run_classify(int exited, int status, int sig, int timed_out, int interrupted);
const char *run_class_name(enum run_class c);
/* Does this class count towards the stage's circuit breaker? */
int run_class_systemic(enum run_class c);
/* The wrapper's exit status for a job outcome (the job's own status when it
 * exited, EX_TEMPFAIL for signal/timeout/interrupted/lost). */
int run_class_exit(enum run_class c, int status);

enum run_action {
	RA_DONE,        /* success */
	RA_RETRY,       /* retry in place after delay */
	RA_DEFER,       /* record next_attempt_at = now + delay and exit */
	RA_DEAD,        /* dead-letter */
	RA_QUARANTINE,  /* move inputs to quarantine/, no retry */
	RA_NONE,        /* not counted, state left for the next run (interrupted) */
};

struct run_decision {
	enum run_action action;
	double delay;   /* seconds, jittered, for RA_RETRY/RA_DEFER */
	int alert;      /* flag the job record for alerting */
	int counted;    /* the attempt counts towards RETRY_MAX */
};

/* Nominal backoff before attempt n+1 after n failures: base*2^(n-1), capped. */
double run_backoff(double base, double cap, int n);
/*
 * Decide what follows attempt number `attempt` (1-based, counted attempts
 * so far including this one) ending in class c. rnd in [0,1) supplies the
 * jitter: the delay is drawn from [d/2, d] for the nominal delay d, and the
 * choice between in place and deferred uses the nominal d.
 */
void run_decide(const struct run_policy *p, enum run_class c, int attempt, double rnd,
    struct run_decision *d);

/* Circuit breaker of one stage (a row of the breakers table). */
enum run_brk_state { BRK_CLOSED, BRK_OPEN, BRK_HALF };
struct run_breaker {
	enum run_brk_state state;
	int fails;
	double first_fail_at;  /* 0: none */
	double opened_at;      /* 0: never */
	long trial_pid;        /* wrapper pid holding the half-open trial; 0 none */
};
enum run_admit { ADMIT_RUN, ADMIT_TRIAL, ADMIT_REFUSE };
const char *run_brk_name(enum run_brk_state s);
enum run_brk_state run_brk_parse(const char *s);
/* May a job of the stage run now? trial_alive: b->trial_pid is a live process.
 * ADMIT_TRIAL means: claim the half-open trial (atomically) and run. */
enum run_admit run_breaker_admit(const struct run_policy *p, const struct run_breaker *b,
    double now, int trial_alive);
/* Apply one finished job of class c (is_trial: it held the trial) at time
 * now. Returns 1 when b changed. */
int run_breaker_record(const struct run_policy *p, struct run_breaker *b, enum run_class c,
    int is_trial, double now);

/* Group id from a target path relative to the deployment:
 * products/G/... or caltables/G.cal.h5. 0 and grp filled, or -1. */
int run_group_from_target(const char *target, char *grp, size_t n);
/* A safe path component (group, stage): [A-Za-z0-9_.-], not starting '.'. */
int run_valid_name(const char *s);
/* argv as one line a shell would read back ('...' and $'...' quoting);
 * malloc'd, NULL on ENOMEM. */
char *run_render_argv(char *const argv[]);
/* Split LAUNCH (words separated by ',': config values cannot hold spaces)
 * into a NULL-terminated malloc'd vector; *n gets the count. NULL on ENOMEM. */
char **run_split_launch(const char *launch, int *n);
/* UTC "YYYY-MM-DDTHH:MM:SSZ" of t into buf (>= 24 bytes). */
char *run_fmt_time(double t, char *buf, size_t n);
/* Does a log line already carry our time stamp (log.h format)? */
int run_line_stamped(const char *line, size_t n);

/* Options of one uvm-run invocation. */
struct run_opts {
	const char *home;     /* -D */
	const char *stage;    /* -s */
	const char *target;   /* -t */
	const char *group;    /* -g, or derived, or NULL */
	const char **inputs;  /* -i ... */
	int ninputs;
	double timeout;       /* -T, < 0: from the config */
	char **argv;          /* command */
};

/* Run one recipe (uvm-run). Returns the wrapper's exit status. */
int run_main(const struct run_opts *o);

/* uvm-retry: release targets (names, or every dead/deferred one with all),
 * or quarantined inputs (qmode: names are quarantine file names or paths).
 * dry: only print. Returns an exit status. */
int run_retry_main(const char *home, char **names, int n, int all, int qmode, int dry);

/* ---- internal to the run_*.c files ---------------------------------- */

#include <sqlite3.h>

double run_now(void);  /* wall clock, seconds since the epoch */
int run_pid_alive(long pid);

/* run_db.c: statements prepared once per process, every write one short
 * BEGIN IMMEDIATE transaction; all return -1 after logging on failure. */
enum { RDB_TARGET, RDB_BREAKER, RDB_OPEN_JOBS, RDB_CLOSE_LOST, RDB_INS_JOB, RDB_UPS_TARGET,
	RDB_END_JOB, RDB_END_TARGET, RDB_UPS_BREAKER, RDB_INS_QUAR, RDB_REFUSAL, RDB_QUAR_OF,
	RDB_CLOSE_ENDED, RDB_REFUSAL_AGAIN, RDB_NSTMT };
struct run_db {
	sqlite3 *db;
	sqlite3_stmt *st[RDB_NSTMT];
	char home[PATH_MAX];     /* for the end slots of lost jobs */
	char err[256];           /* the last database error, in words */
};
struct run_tstate {
	char state[16];
	int attempts, last_status, defers;
	char last_class[16];
	double next_at;
};
/* A quarantined input, for the quarantine table. */
struct run_qrow {
	char path[PATH_MAX];      /* quarantine/<name>, relative to home */
	char original[PATH_MAX];  /* where it was, relative to home if inside */
};
/* Everything the end-of-attempt transaction writes. */
struct run_end {
	long long job_id;
	double ended;
	int status, sig;          /* sig > 0: killed by it; status then unused */
	enum run_class cls;
	long maxrss_kb;
	double cpu_s;
	const char *note;
	int alert;
	enum run_action action;   /* RA_RETRY may turn into RA_DEFER (breaker) */
	int attempts;             /* targets.attempts after this attempt */
	int exit_status;          /* targets.last_status */
	double delay;
	int is_trial;
	const struct run_qrow *q;
	int nq;
	enum run_brk_state brk_after; /* out: the breaker after this job */
	double next_at;               /* out: for RA_DEFER */
};
int rdb_open(struct run_db *d, const char *home);
void rdb_close(struct run_db *d);
/* 1 and *t filled, 0 no row, -1 error. */
int rdb_target(struct run_db *d, const char *target, struct run_tstate *t);
/* Breaker row (closed defaults when absent); 0 or -1. */
int rdb_breaker(struct run_db *d, const char *stage, struct run_breaker *b);
/* Claim the half-open trial for pid atomically: 1 claimed, 0 refused, -1. */
int rdb_claim_trial(struct run_db *d, const struct run_policy *p, const char *stage, long pid);
/* Pid of a live wrapper-run job of target still marked running, else 0. */
long rdb_running_pid(struct run_db *d, const char *target);
/* Start of an attempt: close lost rows of the target (from their end
 * slots when they have one: the end happened, only its record failed),
 * insert the job row, mark the target running. *job_id gets the row id. */
int rdb_start(struct run_db *d, const char *target, const char *grp, const char *stage,
    const char *cmd, double started, int attempt, long pid, const char *host,
    const char *log, long long *job_id);
/* The provenance of job job_id's product (a JSON text): 0 or -1. */
int rdb_provenance(struct run_db *d, long long job_id, const char *json);
/* run_prov.c. Record in job job_id's row what its target was made from:
 * this process's timed record of stage, settings and inputs (core/prov.h)
 * with "target". A failure is logged as a warning only. */
void run_record_provenance(struct run_db *d, long long job_id, const char *target,
    const char *stage, const char **inputs, int ninputs);
/* End of an attempt (job row, target row, breaker, quarantine rows). */
int rdb_end(struct run_db *d, const struct run_policy *p, const char *target, const char *grp,
    const char *stage, struct run_end *e);
/* A job refused before it ran (breaker, disk): one job row with class c;
 * for RC_DISK the target is deferred until next_at with defers recorded;
 * a held trial is given back. */
int rdb_refusal(struct run_db *d, const struct run_policy *p, const char *target,
    const char *grp, const char *stage, const char *cmd, enum run_class c, int attempt,
    const char *host, const char *note, double next_at, int defers, int is_trial);
/* Is one of inputs an unreleased quarantined original of target that is
 * still absent? Its index, -1 when none, -2 on error. */
int rdb_quarantined_input(struct run_db *d, const struct cfg *c, const char *target,
    const char **inputs, int n);

/* run_endslot.c: state/ends/<job id>, the end of a job that could not be
 * recorded (disk full), written without new disk space. */
#define RUN_ENDSLOT_LEN 512
struct run_endslot {
	double ended;
	int status, sig;
	char cls[32];
	char why[RUN_ENDSLOT_LEN];   /* why the end could not be recorded */
};
/* Pre-allocate the slot of job id (at its start, while there is room);
 * 0 or -1 (then there is no evidence if the end fails too). */
int run_endslot_make(const char *home, long long id);
/* Overwrite the slot in place with e's end and why; 0 or -1. */
int run_endslot_write(const char *home, long long id, const struct run_end *e,
    const char *why);
/* 1 and *s filled when job id's slot holds an end, else 0. */
int run_endslot_read(const char *home, long long id, struct run_endslot *s);
void run_endslot_drop(const char *home, long long id);

/* run_exec.c */
struct run_proc {
	pid_t pid;             /* leader, and the process group id */
	int outfd, errfd;      /* read ends of the job's stdout and stderr */
	int exited, status, sig;
	int timed_out, interrupted, killed;
	long maxrss_kb;
	double cpu_s;
	char last_line[512];   /* last line the job wrote (stderr preferred) */
};
/* Block SIGCHLD/TERM/INT/HUP and return a signalfd for them (-1 on error);
 * *old gets the previous mask, restored in the job. */
int run_signals(sigset_t *old);
/* Start argv in its own process group: stdin /dev/null, stdout and stderr
 * through pipes into logfd (lines stamped when they are not), killed if
 * the wrapper dies. 0 or -1 after logging. */
int run_spawn(struct run_proc *p, char *const argv[], const sigset_t *old);
/* Wait for the job: timeout (s, 0 none) then TERM to the group, KILL after
 * grace; forwards TERM/INT/HUP; pumps output into logfd; reaps everything.
 * prog/grp stamp unstamped lines. */
void run_wait(struct run_proc *p, int sfd, int logfd, double timeout, double grace,
    const char *prog, const char *grp);
/* Sleep up to secs unless TERM/INT/HUP arrives on sfd: 0, or the signal. */
int run_sleep(int sfd, double secs);
/* One stamped line into the job log (single write). */
void run_log_line(int fd, const char *grp, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* run_quarantine.c */
/* Express path relative to home when inside it (else absolute, with
 * the directory resolved and no symlink as last component). 0 or -1. */
int run_rel_path(const struct cfg *c, const char *path, char *out);
/* Quarantine one input: strict checks (regular file, no symlink, inside
 * the deployment or INCOMING), then quar_move: <name>.reason written
 * first, then the move to quarantine/ (numeric suffix on a clash). 0 and *q filled, or -1 after logging. */
int run_quarantine_one(const struct cfg *c, const char *input, const char *reason_text,
    struct run_qrow *q);

/* run_slots.c: resources held while a job runs (state/slots/). */
struct run_res {
	int slot_fd, slot;            /* slot.<stage>.<slot> held, -1 none */
	int mem_fd;                   /* mem.<pid> reservation, -1 none */
	char mem_path[PATH_MAX];
	long long mem_mb;             /* MEM_<stage>, 0: no check */
	double waited;                /* seconds the last acquire waited */
	char note[320];               /* why it gave up */
};
/* Admit a job declaring need_mb? avail/total from meminfo, others_mb what
 * nothers other admitted jobs have reserved and not yet used. A need
 * larger than total is admitted only alone. */
int run_mem_admit(long long avail_mb, long long total_mb, long long others_mb, int nothers,
    long long need_mb);
/* MemAvailable and MemTotal in MB from $UVM_MEMINFO or /proc/meminfo. 0/-1. */
int run_meminfo(long long *avail_mb, long long *total_mb);
char *run_slots_dir(const struct cfg *c, char *buf);
/* Take state/slots/lock (blocking); the fd to close, or -1 after logging. */
int run_res_lock(const struct cfg *c);
/* Sum of the live <kind>.<pid> reservations of other wrappers (stale ones
 * are removed); rss_adjust: minus each job's VmRSS (MB amounts); tag: only
 * those naming it. *n gets how many. Call with the lock held. */
long long run_res_sum(const struct cfg *c, const char *kind, int rss_adjust, const char *tag,
    int *n);
/* Create and lock <kind>.<getpid()> holding "amount 0 tag"; its fd (path
 * filled) or -1 after logging. Call with the lock held. */
int run_res_take(const struct cfg *c, const char *kind, long long amount, const char *tag,
    char *path);
void run_res_note_pid(int fd, long long amount, long jobpid);
/* Unlink and unlock a reservation (no-op when *fd < 0). */
void run_res_drop(int *fd, char *path);
void run_res_init(struct run_res *r);
/*
 * Take a slot of the stage (SLOTS_<stage>, unset or 0: no limit) and its
 * memory (MEM_<stage> MB), waiting as long as RESOURCE_WAIT_MAX and logging
 * the wait into logfd. 0 acquired; 1 gave up (r->note says why); 2
 * interrupted by a signal on sfd; -1 error (logged). Nothing held unless 0.
 */
int run_res_acquire(struct run_res *r, const struct cfg *c, const char *stage, const char *target,
    int sfd, int logfd, const char *grp);
/* The job started as jobpid (its RSS then counts against its reservation). */
void run_res_started(struct run_res *r, long jobpid);
void run_res_release(struct run_res *r);

/* run_stage.c: intermediate products on STAGING_DIR (tmpfs). */
struct run_stage {
	int staged;              /* this attempt writes to path */
	char path[PATH_MAX];     /* the staged product, absolute */
	char link[PATH_MAX];     /* the target, absolute */
	int argi;                /* argv element rewritten, -1 none */
	char *orig;              /* its original value */
	long long est;           /* estimated product bytes */
	int res_fd;
	char res_path[PATH_MAX];
};
/* May a product of est bytes go to a file system of size bytes with freeb
 * free, reserved bytes promised to running jobs, used at most pct percent
 * and limit bytes (0: no limit)? Needs 2*est free. */
int run_stage_admit(long long size, long long freeb, long long reserved, long long est,
    double pct, long long limit);
/* Is the stage in STAGING_STAGES? */
int run_stage_wanted(const struct cfg *c, const char *stage);
void run_stage_init(struct run_stage *s);
/*
 * Decide where the job of target (relative to home; target_arg as given
 * on the command line after -o) writes: 1 staged (argv's -o argument now
 * points into STAGING_DIR, room reserved), 0 on disk (a symlink at the
 * target, and the staged file it pointed at, removed). Logged into logfd.
 */
int run_stage_begin(struct run_stage *s, const struct cfg *c, const char *stage,
    const char *target, const char *target_arg, const char *grp, const char **inputs, int ninputs,
    char **argv, int logfd);
/* The job of target writes to disk after all (why: logged into logfd):
 * any link at the target, and the staged file it points at, removed. */
void run_stage_disk(struct run_stage *s, const struct cfg *c, const char *target,
    const char *grp, const char *why, int logfd);
/* After the job: restore argv; when staged and ok, install the link at the
 * target (atomic). Releases the reservation. 0, or -1 with errno. */
int run_stage_finish(struct run_stage *s, char **argv, int ok);
/* Delete staged files nothing needs (orphans, finished groups, dead
 * temporaries) under sdir; bytes freed. Call with the lock held. */
long long run_stage_gc(const struct cfg *c, const char *sdir, int logfd, const char *grp);

#endif

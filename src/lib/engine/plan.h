/*
 * plan.h: the planner (uvm-plan): from the files in incoming/ to
 * state/pipeline.mk, the makefile that make runs.
 *
 * Facts come from the file system: each run scans INCOMING, groups the
 * subband files `YYYY-MM-DDTHH:MM:SS_sbNN.hdf5` whose timestamps lie within
 * GROUP_TOLERANCE of the group's first file, decides each group's state
 * (ready, partial, waiting, incomplete), moves anything that is not a
 * well-named regular file (or whose name is more than CLOCK_SKEW ahead of
 * the clock) to quarantine/ with a reason, and writes the
 * explicit targets of the active groups (ORCH.md). The graph is the stage
 * description RULES_DIR/stages (core/stages.h): every product an explicit
 * target with its inputs as prerequisites; the recipes are the pattern
 * rules in rules/<stage>.mk, which read their inputs from those
 * prerequisites.
 *
 * A file still being written (open for writing by a process we can see in
 * /proc, or modified within PLAN_SETTLE) keeps its group waiting: never
 * planned, verified or quarantined mid-write. Two files claiming one
 * subband of a group are both verified (uvh5/check.h): the valid one is
 * used, the invalid one quarantined with a reason naming its twin.
 *
 * The cost follows the active work, not the history: a group whose final
 * products exist is recorded in state/done.idx (one line per group,
 * `G first last missing`, sorted) and from then on its files are recognised
 * by name alone (timestamp inside a done group's range), without a stat,
 * and it never appears in the makefile again, even after retention removed
 * its products. A subband that arrives after its group was finished
 * without it is moved to quarantine/ as late, so it is seen, not lost.
 *
 * The pieces:
 *   plan_name.c  strict file names, timestamps, group ids, safe names
 *   plan_done.c  the done index
 *   plan.c       the graph per group, grouping and states, makefile and
 *                JSON text
 *   plan_run.c   one planner run: decide, retire, state files, database
 *   plan_scan.c  the scan of INCOMING and the quarantine of what must not
 *                be planned
 *   plan_cal.c   the calibration facts of a group: calibrator transit,
 *                the table chosen for it
 *   plan_mosaic.c  the per-hour stage (the mosaics): which hours, their
 *                inputs, the state/hours.idx of finished hours
 *   plan_run.h   the state of one run the last four share
 */
#ifndef UVM_PLAN_H
#define UVM_PLAN_H

#include <limits.h>
#include <stddef.h>
#include <time.h>

#include "core/cfg.h"
#include "core/ids.h"
#include "core/stages.h"

#define PLAN_MAXSUB 100  /* sbNN: two digits */
#define PLAN_IDLEN IDS_LEN

/* ---- plan_name.c ---- (names and ids themselves: core/ids.h) */

/*
 * A file name safe to keep in quarantine/: bytes outside [A-Za-z0-9._,:+=@-]
 * (and a leading '.') are percent-encoded; over-long results are cut and
 * given a hash suffix. out has room for NAME_MAX+1 bytes; the result leaves
 * room for a ".reason" suffix and a ".NNN" collision suffix.
 */
void plan_safe_name(const char *name, char *out);
/* name with control bytes, backslash and non-ASCII as \n, \\ or \xNN, for
 * reason files and messages; malloc'd (NULL on ENOMEM). */
char *plan_escape(const char *name);
/*
 * Is this absolute path usable in a makefile and a config value: only
 * [A-Za-z0-9._/+,@=-] (no space, ':', '$', '#', '%', quotes...)? The
 * deployment, rules and incoming paths are written into pipeline.mk.
 */
int plan_path_safe(const char *path);
/* The rules/ directory of this installation into buf (PATH_MAX):
 * stages_install_dir (core/stages.h). 0, or -1 when none is found. */
int plan_rules_dir(char *buf);

/* ---- plan_done.c ---- */

struct plan_done {
	char id[PLAN_IDLEN];
	long long first, last;  /* earliest and latest file timestamp */
	char missing[PLAN_MAXSUB / 8 + 1]; /* bit set of subbands it lacked */
};

struct plan_doneidx {
	struct plan_done *v;    /* sorted by first (after load or plan_done_sort) */
	int *order;             /* indexes into v sorted by id */
	int n, cap;
	int nsorted;            /* entries covered by the orders below */
	int dirty;              /* entries added since load */
	long long tol;          /* GROUP_TOLERANCE the ranges are built with */
	/* time index: firsts[i] = v[i].first; bucket[k] = first i with
	 * firsts[i] >= t0 + k*width, k in [0, nbucket] */
	long long *firsts, t0, width;
	int *bucket, nbucket;
	/* one bit per second from cover_t0: inside the range of a done group
	 * that lacked no subband (NULL when the span is too long) */
	unsigned char *cover;
	long long cover_t0, cover_len;
};

/*
 * Load path (missing file: empty index) for groups tol seconds wide.
 * Lines are `G first last missing` (missing: comma-separated sbNN, or '-');
 * malformed lines are skipped with a warning. 0, or -1 with errno (ENOMEM,
 * read errors).
 */
int plan_done_load(struct plan_doneidx *d, const char *path, long long tol);
void plan_done_free(struct plan_doneidx *d);
/*
 * The done group whose range [first, max(last, first+tol)] holds ts, or
 * NULL, among the entries sorted so far (load, plan_done_sort): a bucket
 * of the time index, then a binary search inside it; no allocation.
 */
const struct plan_done *plan_done_find(const struct plan_doneidx *d, long long ts, long long tol);
/*
 * Does a file with timestamp ts and subband sb belong to a done group?
 * 0: no (an active file); 1: yes, nothing to do; 2: yes, but the group was
 * finished without sb (a late arrival), *e gets the group. One memory
 * access (the cover bitmap) for files of complete done groups.
 */
int plan_done_match(const struct plan_doneidx *d, long long ts, int sb, const struct plan_done **e);
/* Is id a done group (among the sorted entries)? */
int plan_done_has(const struct plan_doneidx *d, const char *id);
/* Append an entry; it is searchable after plan_done_sort. 0 or -1 (ENOMEM). */
int plan_done_add(struct plan_doneidx *d, const struct plan_done *e);
/* Sort every entry for searching. 0 or -1 (ENOMEM). */
int plan_done_sort(struct plan_doneidx *d);
/* Rewrite path atomically (fsx), entries sorted by id. 0 or -1 with errno. */
int plan_done_save(struct plan_doneidx *d, const char *path);
static inline int plan_bit(const char *set, int i) { return (set[i / 8] >> (i % 8)) & 1; }
static inline void plan_setbit(char *set, int i) { set[i / 8] |= (char)(1 << (i % 8)); }

/* ---- plan.c ---- */

enum plan_state { PS_READY, PS_PARTIAL, PS_WAITING, PS_INCOMPLETE, PS_DONE };
const char *plan_state_name(enum plan_state s);

struct plan_file {
	char *name;       /* in INCOMING */
	long long ts;     /* from the name */
	int sb;
	long long mtime;
	int unsettled;    /* still being written (open for writing, or mtime
	                   * within PLAN_SETTLE): its group waits for it */
};

struct plan_group {
	char id[PLAN_IDLEN];
	long long first, last;   /* file timestamps */
	long long newest_mtime;
	long long deadline;      /* when a missing subband stops being waited for */
	int file[PLAN_MAXSUB];   /* index into plan.files, -1 when missing */
	int nsub;                /* subbands present */
	int nunsettled;          /* of them still being written: the group
	                          * waits, whatever its deadline */
	enum plan_state state;
	double dec_deg;          /* its pointing declination (plan_cal) */
	int calibrator;          /* a catalogue calibrator transits in it (plan_cal) */
	char cal[256];           /* CAL_<G>: the table chosen for it (the chosen:
	                          * input of rules/stages), "" if none */
	int cal_weak;            /* cal is a fallback (stale or last good), not a
	                          * table whose validity covers the group */
	double cal_transit;      /* Unix time of cal's calibrator transit (0: own
	                          * table or none) */
	int cal_settled;         /* a calibrator group whose solve is registered
	                          * (good or rejected) */
	int retired;             /* finished: final products found in this run */
};

/* ---- plan_mosaic.c ---- */

/* One hour (MOSAIC_HOURS of them) whose per-hour product (the mosaic) is
 * pending. */
struct plan_hour {
	char id[PLAN_IDLEN];   /* "YYYYMMDDTHH" */
	long long start;       /* UTC epoch of its first second */
	int planned;           /* in the makefile (else: not due yet, or a group
	                        * of it still waits for subbands) */
	int ninputs;
	char **inputs;         /* the input stage's products of its groups
	                        * (products/G/qa.json), by group id */
};

/* state/hours.idx: the hours whose mosaic is finished, one id a line,
 * sorted. */
struct plan_hoursidx {
	char (*v)[PLAN_IDLEN];
	int n, cap;
	int dirty;
	int existed;           /* the file was there (else: created this run) */
};

struct plan_mosaic_params {
	int hours;             /* MOSAIC_HOURS, 0: no mosaics */
	long long delay;       /* MOSAIC_DELAY */
};

/*
 * The hour id and start of epoch t for mosaics of hours hours each into
 * id (PLAN_IDLEN bytes). Hours are aligned on UTC midnight.
 */
void plan_hour_of(long long t, int hours, char *id, long long *start);
/* The UTC epoch of a group id "YYYYMMDDTHHMMSS", or -1. */
long long plan_id_epoch(const char *id);
/* Load path (missing: empty, existed 0). 0, or -1 with errno. */
int plan_hours_load(struct plan_hoursidx *h, const char *path);
/* Rewrite path atomically when changed. 0, or -1 with errno. */
int plan_hours_save(struct plan_hoursidx *h, const char *path);
void plan_hours_free(struct plan_hoursidx *h);
int plan_hours_has(const struct plan_hoursidx *h, const char *id);

struct plan;
/*
 * Decide the pending mosaics (the products of the per-hour stage of
 * p->st; none without one) into p->hours, from the groups of this run
 * (p->groups, states set, retired marked) and the done index d (sorted
 * entries plus those retired this run), updating the finished hours h:
 *   candidates: the hours of this run's groups, and of done groups whose
 *     hour is not finished (the cost follows the unfinished hours: one
 *     pass over the done index, one lookup per hour);
 *   due: data exist at or after the hour's end, or now >= end + delay;
 *     and no group of the hour waits for subbands;
 *   inputs: products/G/qa.json of its ready and partial groups (made by
 *     make), and of its done groups whose qa.json exists (retention may
 *     have removed it);
 *   finished (added to h, left out): no ready, partial or waiting group,
 *     and mosaics/H.fits exists and is not older than any input, or there
 *     is no input at all. An unfinished hour leaves h.
 * When h did not exist (a deployment older than mosaics), hours whose
 * groups are all done count as finished: history is not back-filled.
 * homefd is the deployment directory. 0, or -1 on ENOMEM.
 */
int plan_mosaics(struct plan *p, const struct plan_doneidx *d, struct plan_hoursidx *h, int homefd,
    const struct plan_mosaic_params *mp);

struct plan_order_params; /* plan_order.h */

struct plan_params {
	int nsub;            /* SUBBANDS */
	long long tol;       /* GROUP_TOLERANCE */
	long long timeout;   /* PARTIAL_TIMEOUT */
	int pmin;            /* PARTIAL_MIN */
	long long now;
};

struct plan {
	struct plan_params par;
	struct plan_file *files;   /* active files, sorted by (ts, sb, name) */
	int nfiles, capfiles;
	struct plan_group *groups; /* sorted by id */
	int ngroups;
	long long next_wakeup;     /* earliest waiting deadline, 0: none */
	struct plan_hour *hours;   /* pending mosaics (plan_mosaic.c), by id */
	int nhours;
	/* priority of the groups (plan_order.h); NULL: in id order */
	const struct plan_order_params *order;
	const struct stages *st;   /* the graph (core/stages.h) */
};

/*
 * Group p->files (sorted here) into p->groups. Files that repeat a
 * subband already in their group are returned in dup[] (indexes into
 * p->files, *ndup of them, caller frees) for quarantine, and take no part.
 * 0, or -1 on ENOMEM.
 */
int plan_group_files(struct plan *p, int **dup, int *ndup);
/*
 * State of group g at p->par.now: ref is the time its waiting is measured
 * from (newest file mtime, or first-seen time when that is in the future).
 * A group with a file still being written waits.
 */
void plan_classify(const struct plan *p, struct plan_group *g, long long ref);
/* Does stage s of st make a product for group g (per subband or per
 * group, and its `when` holds for g)? */
int plan_stage_applies(const struct stages *st, int s, const struct plan_group *g);
/* Is stage s final for g: it applies, and no other stage applying to g
 * reads its product (a chosen: input does not count; nor does the per-hour
 * stage, whose products are not a group's)? */
int plan_stage_final(const struct stages *st, int s, const struct plan_group *g);
/*
 * Product path of stage s for group g and subband sb (ignored unless per
 * subband) into buf (PATH_MAX).
 */
char *plan_product(const struct stages *st, int s, const struct plan_group *g, int sb, char *buf);
/* Is the stage per subband? */
int plan_stage_per_sub(const struct stages *st, int s);

/*
 * The makefile text for the ready and partial groups of p: header with the
 * home, rules and config includes (rules/<stage>.mk of every stage of
 * p->st, in the description's order), then per group IN_/SB_/MISSING_
 * variables, CAL_ (the chosen table, when the graph has a chosen: input)
 * and the explicit targets with their prerequisites. incoming is the INCOMING value as
 * written into the makefile (relative to home, or absolute). malloc'd, NULL
 * on ENOMEM; *len gets its length.
 */
char *plan_makefile(const struct plan *p, const char *home, const char *rules,
    const char *incoming, size_t *len);
/* state/plan.json text: every group not done with its state, subbands,
 * missing and deadline, and next_wakeup. malloc'd, NULL on ENOMEM. */
char *plan_json(const struct plan *p, size_t *len);
void plan_free(struct plan *p);

/* ---- plan_run.c ---- */

struct plan_opts {
	int dry;      /* -n: change nothing, print the makefile on stdout */
	int verbose;  /* -v: one line per active group on stdout */
};

/* One planner run over the deployment of c. Returns an exit status: 78
 * (EX_CONFIG) for a config or stage description it cannot use. */
int plan_run(struct cfg *c, const struct plan_opts *o);

#endif

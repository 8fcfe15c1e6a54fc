/*
 * audit.h: does a deployment's state agree with its file system? (uvm-audit)
 *
 * One audit run checks, in this order, and reports each disagreement as a
 * finding of one class (the first column of uvm-audit's output):
 *   database          a state/NAME.sqlite is corrupt (fails PRAGMA
 *                     quick_check, is not a database) or was emptied or
 *                     deleted while the deployment has history
 *                     (db_history_lost): restore it; or it could not be
 *                     checked (disk full, I/O error, busy): transient, run
 *                     the audit again. Nothing else is checked in it then;
 *   stuck-job         a job recorded as running on this host whose process
 *                     is gone (jobs of other hosts are left alone);
 *   missing-product   a target recorded as made whose file is absent (and
 *                     that logs/retain.log does not say retention removed);
 *   unrecorded-product a file under products/, caltables/ or mosaics/ with
 *                     no successful job record;
 *   stale-temp        a temporary NAME.tmp.PID of a process that is gone,
 *                     older than every running job;
 *   unplanned-input   a subband file in INCOMING, older than AUDIT_GRACE
 *                     seconds (default 900), that belongs to no group the
 *                     planner recorded (state/done.idx, the groups table);
 *   missing-caltable  a good calibration registry entry whose table is gone;
 *   unregistered-caltable  caltables/G.cal.h5 with no registry entry;
 *   quarantine        a quarantine record whose file is gone, or a file in
 *                     quarantine/ with no reason file.
 * With repair set, what is safe is fixed and the finding is marked
 * repaired: stale temporaries are removed, stuck jobs are closed as class
 * "lost" and their targets set to "retry" (make runs them again), a
 * missing product's record is forgotten (so make re-makes it while its
 * group is active), and an unregistered table is registered again from the
 * validity and quality figures it carries (status by the config's quality
 * gate, CAL_MAX_FLAGGED and CAL_MIN_SNR). Everything else needs a person.
 */
#ifndef UVM_AUDIT_H
#define UVM_AUDIT_H

#include "core/cfg.h"

struct audit_finding {
	char *cls;      /* class, as above */
	char *subject;  /* path (relative to the deployment when inside) or id */
	char *detail;
	int repaired;
};

struct audit {
	struct audit_finding *v;
	int n, cap;
	int dbbad;      /* a database is corrupt, lost or could not be checked */
	int dbstatus;   /* the gravest: EX_DATAERR corrupt or lost (restore),
			 * EX_IOERR could not check (disk full, I/O),
			 * EX_TEMPFAIL busy; 0 all checked and sound */
	int nomem;
};

/*
 * Audit deployment c (repair: fix what is safe). Findings are appended to
 * a (zeroed by the caller) in the order of the list above. Returns 0, or -1
 * when memory ran out (a->nomem set; the findings so far are kept).
 */
int audit_run(struct cfg *c, int repair, struct audit *a);
void audit_free(struct audit *a);

/* The classes, in report order, NULL-terminated. */
extern const char *const audit_classes[];

#endif

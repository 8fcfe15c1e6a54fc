/*
 * retain.h: retention (uvm-retain): keep disks from filling, without
 * losing anything needed.
 *
 * The product classes come from the stage description (core/stages.h):
 * a per-group stage with `retain CLASS:DAYS` has its product removed from a
 * finished group after RETAIN_<CLASS>_DAYS days (default DAYS, 0 keeps
 * forever): with the installation's rules/stages
 *   RETAIN_VIS_DAYS    products/G/vis.uvh5     (default 7)
 *   RETAIN_CAL_DAYS    products/G/cal.uvh5     (default 7)
 *   RETAIN_IMAGE_DAYS  products/G/image.fits   (default 90)
 * and RETAIN_INPUT_DAYS the group's incoming subband files (default 0:
 * kept). Products of `retain keep` stages (mosaics, calibration tables,
 * qa.json, verify reports) are never removed.
 * A product staged on tmpfs (a symlink into STAGING_DIR, written by the
 * wrapper) goes by age with its staged file; it frees no space on the
 * products file system, so disk pressure leaves it alone.
 * Disk pressure: when the products file system has less than
 * RETAIN_MIN_FREE_MB free, the oldest removable files go first, whatever
 * their age, until it is back above.
 *
 * The job history (records in the state database, logs/<G>/) goes after
 * JOBS_KEEP_DAYS (retain_jobs, below). Every *_DAYS key may be a fraction.
 *
 * Only groups listed in state/done.idx (every final product made) are
 * touched, so no input still to be processed and no product a later stage
 * still needs is ever removed; quarantine/ is never touched; and the
 * planner does not rebuild what was removed (finished groups stay out of
 * the generated makefile). With RETAIN_ARCHIVE=DIR the files are first
 * written to a tar archive there (libarchive, atomically), and with
 * RETAIN_ARCHIVE_REMOTE=remote:path copied off-site with rclone, before any
 * is deleted. Every removal is one line in logs/retain.log.
 */
#ifndef UVM_OPS_RETAIN_H
#define UVM_OPS_RETAIN_H

#include <time.h>

#include "core/cfg.h"
#include "core/stages.h"

struct retain_opts {
	int dry;      /* print what would go, change nothing */
	int verbose;  /* print each removal */
};

/*
 * One retention pass over the deployment of c at time now, with the
 * product classes of st (the caller holds state/retain.lock). Returns an
 * exit status: 0; 69 archive copy failed (nothing deleted); 73/74 cannot
 * write the archive, the log or remove a file.
 */
int retain_run(const struct cfg *c, const struct stages *st, const struct retain_opts *o, time_t now);

/*
 * The job history's retention (retain_db.c), run by retain_run: the
 * records (jobs, targets, groups rows) and logs/<G>/ of the finished
 * groups in done[0..ndone) whose last job ended more than JOBS_KEEP_DAYS
 * (default 30, fractions allowed, 0 keeps forever) before now are removed,
 * unless a target of the group is dead-lettered, quarantined or otherwise
 * not ok; of the other records, jobs that old go except the last job of
 * each target and every job of a dead or quarantined target. The
 * quarantine table is never touched. The database is compacted (VACUUM)
 * when a quarter of it is free. With o->dry it prints "jobs of G" for
 * each group that would go and changes nothing; with o->verbose the same
 * for each that went. Returns 0; EX_UNAVAILABLE when the database cannot
 * be opened (history lost, logged); EX_IOERR when a statement, the
 * compaction or a log removal fails.
 */
int retain_jobs(const struct cfg *c, char *const *done, int ndone, const struct retain_opts *o,
    time_t now);

#endif

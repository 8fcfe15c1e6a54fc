/*
 * bak.h: backups of a deployment's state (uvm-backup, uvm-restore).
 *
 * A backup is one archive, backups/uvmake-<UTC>.tar.zst, holding
 *   db/<name>.sqlite    consistent copies of every state/NAME.sqlite taken with the
 *                       SQLite online backup API (never a file copy of a
 *                       live database),
 *   caltables/...       the calibration tables,
 *   state/done.idx      the planner's finished groups (restored only where
 *                       the deployment lost its own, else beside the config),
 *   config/uvmake.conf  and config/rules/NAME.mk,
 *   MANIFEST.sha256     "<sha256>  <member>" for every member, written last.
 * The archive is built at a temporary name and renamed (fsx), so a backup
 * either exists whole or not at all. Restore reads the archive twice: first
 * to check every member's name and checksum against the manifest, then to
 * extract, so nothing is touched unless the whole archive verifies.
 */
#ifndef UVM_BAK_H
#define UVM_BAK_H

#include <stddef.h>
#include <time.h>

/* Copy a live SQLite database to dst (atomically). 0 or -1 after logging. */
int bak_sqlite_copy(const char *src, const char *dst);

/*
 * Write the backup archive of deployment home into dir; *out gets its path
 * (malloc'd). Returns an exit status (0, 73, 74, 70).
 */
int bak_create(const char *home, const char *dir, time_t now, char **out);

/*
 * Verify the archive against its manifest; with dest != NULL then extract it
 * under dest (a deployment): databases into state/, tables into
 * caltables/, config into config-restored/ (never over the live config),
 * done.idx into state/ when it has none, else into config-restored/.
 * Refuses absolute names, "..", links and anything not a regular file or
 * directory. Returns an exit status (0; 65 bad archive; 66; 73; 74).
 */
int bak_restore(const char *archive, const char *dest, int verify_only);

/*
 * Retention: which of the backup names (uvmake-YYYYMMDDTHHMMSSZ.tar.zst)
 * to delete at time now: all are kept for hourly_days; after that the
 * newest of each UTC day is kept up to daily_days; older ones go.
 * keep[i] is set to 1 or 0. Names that don't parse are kept.
 */
void bak_retention(char **names, int n, time_t now, int hourly_days, int daily_days, int *keep);
/* Parse the UTC time out of a backup name; -1 if not one. */
time_t bak_name_time(const char *name);

#endif

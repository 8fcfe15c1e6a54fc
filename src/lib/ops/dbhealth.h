/*
 * dbhealth.h: is the state database sound? A check cheap enough for every
 * uvm-status call and every uvm-metrics run (each minute from cron).
 *
 * The full answer is the audit's PRAGMA quick_check (uvm-audit, nightly),
 * which reads every page: seconds on a year's database. Here, in order:
 * its history lost (db_history_lost: emptied or deleted); the schema not
 * readable (not a database, a corrupt first page); the last audit found it
 * corrupt (state/audit.json); a quick_check bounded to a few million
 * virtual machine steps (the whole check on a small database, the first
 * pages of a large one: an interrupted check finds nothing).
 */
#ifndef UVM_DBHEALTH_H
#define UVM_DBHEALTH_H

#include <stddef.h>

#include "core/cfg.h"

enum { DBH_OK = 0, DBH_UNCHECKED = 1, DBH_BAD = 2 };
/*
 * The state database of deployment c: DBH_OK sound (or none yet in a new
 * deployment); DBH_UNCHECKED it could not be read (disk full, I/O error,
 * busy: transient); DBH_BAD corrupt or its history lost: restore it
 * (ops/RECOVERY.md). why (n bytes) says it in words.
 */
int dbhealth_check(const struct cfg *c, char *why, size_t n);

#endif

/*
 * uvm.h: what every uvmake program shares.
 *
 * Exit statuses come from <sysexits.h> (see DESIGN.md "Exit status"): each
 * program maps its outcome to one of them so the recipe wrapper (uvm-run)
 * can decide to record, retry, quarantine or alert without parsing text.
 * UVM_EX_BUSY is ours: a cron-started program found its lock held;
 * UVM_EX_OVERFLAGGED too: a group flagged beyond the configured fraction.
 */
#ifndef UVM_H
#define UVM_H

#include <stddef.h>
#include <stdint.h>
#include <sysexits.h>

#define UVM_EX_BUSY 76 /* EX_PROTOCOL slot reused: lock held by another run */
/*
 * A group whose data are mostly bad (uvm-flag flagged more than
 * FLAG_MAX_FRACTION): the input is valid (nothing to quarantine) and a
 * retry gives the same answer, so the wrapper dead-letters the target at
 * once, class "overflagged", and alerts; nothing downstream is made.
 */
#define UVM_EX_OVERFLAGGED 79

/* Name of the exit status for logs and job records ("dataerr", ...). */
const char *uvm_exit_name(int status);

#endif

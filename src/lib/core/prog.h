/*
 * prog.h: the one program prologue. Every uvm-* program starts the same
 * way: its name for diagnostics, `-h`/`--help` printing the usage line on
 * stdout (exit 0), `--version` its version, bad usage printing it on stderr (exit 64, log_usage),
 * the deployment's config from -D home or $UVM_HOME, and for programs cron
 * starts, a non-blocking lock whose being held is its own status, 76
 * (UVM_EX_BUSY), so cron's second run never waits or fails noisily.
 */
#ifndef UVM_PROG_H
#define UVM_PROG_H

#include "core/cfg.h"

/*
 * log_init(argv[0]); then, when the first argument is "-h" or "--help"
 * (whatever follows), print "usage: <usage>" on stdout and exit: 0, or
 * EX_IOERR when stdout cannot be written (`uvm-x --help >/dev/full`).
 */
void prog_start(int argc, char **argv, const char *usage);
/* `--version` as the first argument does the same with "<program>
 * <version>". The version is `git describe --always --dirty` of the tree
 * built (else its VERSION file, else "unknown"), fixed at build time: */
const char *prog_version(void);
/* The same help, for an -h met later among the options: its exit status. */
int prog_help(const char *usage);
/* Load the deployment under home (NULL: $UVM_HOME, else ".") and check it
 * is one: 0, or EX_NOINPUT after logging. */
int prog_deployment(struct cfg *c, const char *home);
/*
 * Take the lock file rel (relative to the deployment) without waiting:
 * 0 with *fd open (closing it releases the lock); UVM_EX_BUSY when another
 * process holds it, after logging `held` (a format with one %s, the lock's
 * path; NULL: "another <program> is running ('<path>' is locked)"); any
 * other failure is logged as "cannot lock" with its fsx_exit_for_errno
 * status.
 */
int prog_lock(const struct cfg *c, const char *rel, const char *held, int *fd);

#endif

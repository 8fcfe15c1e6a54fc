/*
 * uvm-retry: release what the recipe wrapper set aside, after a person
 * has looked.
 *
 *   uvm-retry [-D home] [-n] target...     release dead-lettered, deferred
 *                                          or quarantined targets
 *   uvm-retry [-D home] [-n] -a            release every dead-lettered or
 *                                          deferred target
 *   uvm-retry [-D home] [-n] -q file...    move quarantined inputs back to
 *                                          where they came from (incoming/)
 *   uvm-retry [-D home] [-n] -q -a         ... every quarantined input
 *
 * A released target goes to state 'retry' with its attempts and
 * next_attempt_at cleared, so the next make run makes it again. A restored
 * input never replaces a file of the same name; its reason file is removed
 * and its quarantine row marked released (the history stays in the
 * database). Prints one line per action ("released 'T' (was dead, ...)",
 * "restored 'quarantine/x' to 'incoming/x'"); -n prints them as "would
 * ..." and changes nothing.
 *
 * Exit: 0 done (also when -a found nothing), 64 usage, 66 a named target
 * has no record or nothing to release, a named file is not in quarantine,
 * or the deployment cannot be used, 73 a file could not be restored (its
 * original name is taken, or the directory is not writable), 74 database
 * or I/O error, including a failed write of stdout.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/fsx.h"
#include "core/log.h"
#include "core/prog.h"
#include "engine/run.h"
#include "core/uvm.h"

#define USAGE "uvm-retry [-D home] [-n] [-q] (-a | name...)"

int main(int argc, char **argv)
{
	const char *home = NULL;
	int ch, all = 0, dry = 0, qmode = 0, rc, rc2;
	prog_start(argc, argv, USAGE);
	while ((ch = getopt(argc, argv, "D:naq")) != -1) {
		switch (ch) {
		case 'D': home = optarg; break;
		case 'n': dry = 1; break;
		case 'a': all = 1; break;
		case 'q': qmode = 1; break;
		default: return log_usage(USAGE);
		}
	}
	if (all == (optind < argc))
		return log_usage(USAGE);
	rc = run_retry_main(home, argv + optind, argc - optind, all, qmode, dry);
	rc2 = fsx_close_stdout();
	return rc ? rc : rc2;
}

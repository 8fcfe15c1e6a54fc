/*
 * uvm-run: the recipe wrapper. Every make recipe runs its stage program
 * through it (`$(RUN) -s verify -t $@ -i $(IN_$*) -- uvm-verify ...`):
 * it records each attempt in state/pipeline.sqlite, runs the command (argv
 * as given, never through a shell; LAUNCH words from the config, separated
 * by ',', are put in front, e.g. LAUNCH=srun,--exact,-N1,-n1,-c2) in its
 * own process group with the stage's timeout (TIMEOUT_<stage>, TIMEOUT or
 * -T; TERM, then KILL after KILL_GRACE), appends its output to
 * logs/<group>/<stage>.log (logs/<stage>.log without a group), classifies
 * the outcome and applies the policy of its class (see src/lib/run.h):
 * retries in place with backoff, defers to a later make run, dead-letters,
 * quarantines the offending input, and keeps a circuit breaker per stage.
 *
 * Before a job starts it takes a slot of its stage (SLOTS_<stage>) and its
 * declared peak memory (MEM_<stage> MB), waiting for them up to
 * RESOURCE_WAIT_MAX s (flock'd files under state/slots/, freed by the
 * kernel whatever kills the wrapper); a job of a STAGING_STAGES stage
 * writes its product to STAGING_DIR (tmpfs) behind a symlink at the target
 * when there is room for it twice over, else to disk (src/lib/run_slots.c,
 * run_stage.c).
 *
 * The group is -g, else taken from the target (products/G/... or
 * caltables/G.cal.h5). The target and inputs are paths relative to the
 * current directory (make -C home); records and logs live under home
 * (-D, else $UVM_HOME, else "."). The job gets UVM_HOME, UVM_GROUP,
 * UVM_LOG_TIME=1, UVM_STAGE, UVM_TARGET, UVM_ATTEMPT and UVM_BLAME_FILE (a
 * program exiting 65 may write the offending input paths there, one per
 * line; otherwise all -i inputs are the offenders).
 *
 * Exit status (make -k skips the dependents of a non-zero one):
 *   0   the job succeeded (possibly after retries in place)
 *   64  usage error of uvm-run, or the job exited 64 (now dead-lettered)
 *   65  the job exited 65: its input(s) are in quarantine/; also a re-run
 *       whose input is still in quarantine
 *   66  the job's input is missing (deferred); or the deployment or its
 *       config cannot be used
 *   69  a dependency is unavailable (deferred with long backoff), or the
 *       command could not be executed
 *   70  the job exited 70 (dead-lettered, alert)
 *   73  the job exited 73; or the job log cannot be opened
 *   74  the job exited 74; or the disk preflight found less free space than
 *       DISK_MARGIN_MB on the target's file system (deferred, not counted)
 *   75  transient, retry later: the job exited 75, was killed by a signal,
 *       timed out or was interrupted; the target is deferred (not run,
 *       "deferred until <time>"); the stage's circuit breaker is open; the
 *       target is being made by another wrapper; the database is unavailable;
 *       the stage's slot or memory did not come free within RESOURCE_WAIT_MAX
 *   71  the wrapper could not set itself up (signals, memory)
 *   any other status of the job is passed through (class "other", retried).
 * A dead-lettered target fails at once, without running, with the status
 * that dead-lettered it, until uvm-retry releases it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fsx.h"
#include "core/log.h"
#include "core/prog.h"
#include "engine/run.h"
#include "core/uvm.h"

#define USAGE \
	"uvm-run [-D home] -s stage -t target [-g group] [-i input]... [-T timeout] -- command [arg...]"

int main(int argc, char **argv)
{
	struct run_opts o = {.timeout = -1};
	int ch, rc;
	prog_start(argc, argv, USAGE);
	o.inputs = calloc((size_t)argc, sizeof *o.inputs);
	if (!o.inputs)
		return EX_OSERR;
	while ((ch = getopt(argc, argv, "+D:s:t:g:i:T:h")) != -1) {
		char *end;
		switch (ch) {
		case 'D': o.home = optarg; break;
		case 's': o.stage = optarg; break;
		case 't': o.target = optarg; break;
		case 'g': o.group = optarg; break;
		case 'i': o.inputs[o.ninputs++] = optarg; break;
		case 'T':
			errno = 0;
			o.timeout = strtod(optarg, &end);
			if (errno || end == optarg || *end || o.timeout < 0) {
				free(o.inputs);
				return log_usage(USAGE);
			}
			break;
		default:
			free(o.inputs);
			return log_usage(USAGE);
		}
	}
	if (!o.stage || !o.target || !*o.target || optind >= argc) {
		free(o.inputs);
		return log_usage(USAGE);
	}
	o.argv = argv + optind;
	rc = run_main(&o);
	free(o.inputs);
	return rc;
}

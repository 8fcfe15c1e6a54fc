/*
 * uvm-retain: keep disks from filling, without losing anything needed.
 *
 * usage: uvm-retain [-D home] [-n] [-v]
 *
 * Removes the products of finished groups whose stage has a retention
 * class in the stage description (RULES_DIR/stages: RETAIN_VIS_DAYS,
 * RETAIN_CAL_DAYS, RETAIN_IMAGE_DAYS with the installation's), their
 * inputs after RETAIN_INPUT_DAYS, and the oldest removable files under disk
 * pressure (RETAIN_MIN_FREE_MB); archives them first with RETAIN_ARCHIVE.
 * The job history of finished groups (records, logs) goes after
 * JOBS_KEEP_DAYS, dead letters and quarantine records kept.
 * The rules are in ops/retain.h. -n prints what would go and changes
 * nothing; -v prints each removal.
 *
 * Exit status: 0; 64 usage; 66 not a deployment; 69 archive copy failed
 * (nothing deleted); 73/74 cannot write the archive or log; 76 busy; 78 the
 * stage description cannot be used.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/cfg.h"
#include "core/fsx.h"
#include "core/log.h"
#include "core/prog.h"
#include "core/stages.h"
#include "core/uvm.h"
#include "ops/retain.h"

#define USAGE "uvm-retain [-D home] [-n] [-v]"

int main(int argc, char **argv)
{
	const char *home = NULL;
	struct retain_opts o = {0, 0};
	static struct stages st;
	struct cfg c;
	char err[PATH_MAX + 256];
	int opt, lfd, rc;

	prog_start(argc, argv, USAGE);
	while ((opt = getopt(argc, argv, "D:nvh")) != -1) {
		switch (opt) {
		case 'D': home = optarg; break;
		case 'n': o.dry = 1; break;
		case 'v': o.verbose = 1; break;
		case 'h': return prog_help(USAGE);
		default: return log_usage(USAGE);
		}
	}
	if (optind != argc)
		return log_usage(USAGE);
	if (prog_deployment(&c, home))
		return EX_NOINPUT;
	if (stages_load_cfg(&st, &c, err, sizeof err) < 0) {
		log_err("%s", err);
		cfg_free(&c);
		return EX_CONFIG;
	}
	if ((rc = prog_lock(&c, "state/retain.lock", NULL, &lfd)) != 0) {
		cfg_free(&c);
		return rc;
	}
	rc = retain_run(&c, &st, &o, time(NULL));
	close(lfd);
	cfg_free(&c);
	int out = fsx_close_stdout();
	return rc ? rc : out;
}

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
	char path[PATH_MAX], err[PATH_MAX + 256];
	int opt, lfd, rc;

	log_init(argv[0]);
	if (argc == 2 && !strcmp(argv[1], "--help")) {
		printf("usage: %s\n", USAGE);
		return fsx_close_stdout();
	}
	while ((opt = getopt(argc, argv, "D:nvh")) != -1) {
		switch (opt) {
		case 'D': home = optarg; break;
		case 'n': o.dry = 1; break;
		case 'v': o.verbose = 1; break;
		case 'h': printf("usage: %s\n", USAGE); return fsx_close_stdout();
		default: return log_usage(USAGE);
		}
	}
	if (optind != argc)
		return log_usage(USAGE);
	if (cfg_load_deployment(&c, home) < 0)
		return EX_NOINPUT;
	if (stages_load_cfg(&st, &c, err, sizeof err) < 0) {
		log_err("%s", err);
		cfg_free(&c);
		return EX_CONFIG;
	}
	lfd = fsx_lock(cfg_path(&c, "state/retain.lock", path), 1);
	if (lfd < 0) {
		log_err("another uvm-retain is running");
		cfg_free(&c);
		return UVM_EX_BUSY;
	}
	rc = retain_run(&c, &st, &o, time(NULL));
	close(lfd);
	cfg_free(&c);
	int out = fsx_close_stdout();
	return rc ? rc : out;
}

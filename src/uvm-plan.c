/*
 * uvm-plan: turn the files in incoming/ into state/pipeline.mk.
 *
 * usage: uvm-plan [-D home] [-n] [-v]
 *
 * Scans INCOMING, groups the subband files, moves badly named, duplicate,
 * late and non-regular entries to quarantine/ with a reason, records the
 * groups, and writes state/pipeline.mk (only when its content changes: the
 * graph of RULES_DIR/stages over the active groups) and
 * state/plan.json (every group not finished, with its state and the next
 * time a waiting group times out). Finished groups go to state/done.idx
 * and are never planned again. See plan.h.
 *   -n  change nothing: print the makefile on stdout (and the would-be
 *       quarantines on stderr)
 *   -v  print one line per group on stdout: id state present/total missing
 *
 * Exit status: 0 planned; 64 usage; 66 not a deployment, or INCOMING
 * missing; 73/74 cannot write the state files; 78 the config cannot be
 * used (bad values, paths a makefile cannot hold) or the stage description
 * RULES_DIR/stages cannot (one line: "file:line: what").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/cfg.h"
#include "core/fsx.h"
#include "core/log.h"
#include "core/prog.h"
#include "engine/plan.h"
#include "core/uvm.h"

#define USAGE "uvm-plan [-D home] [-n] [-v]"

int main(int argc, char **argv)
{
	struct plan_opts o = {0, 0};
	const char *home = NULL;
	struct cfg c;
	int opt, st;

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
	if (!home)
		home = getenv("UVM_HOME");
	if (access(home && *home ? home : ".", F_OK) < 0) {
		log_err("cannot use deployment '%s': no such directory", home && *home ? home : ".");
		return EX_NOINPUT;
	}
	if (cfg_load(&c, home) < 0)
		return EX_CONFIG;
	st = plan_run(&c, &o);
	cfg_free(&c);
	return st;
}

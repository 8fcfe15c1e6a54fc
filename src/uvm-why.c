/*
 * uvm-why: why a product is or would be re-made, and what it was made
 * from (see ops/why.h and man/uvm-why.1).
 *
 * usage: uvm-why [-D home] [-j] target
 *
 * target is a product path relative to the deployment (or absolute inside
 * it), as in state/pipeline.mk: products/G/image.fits, mosaics/H.fits.
 *   -j  one JSON object instead of one fact a line
 *
 * Exit: 0 up to date (or not planned: make would not touch it); 1 would be
 * re-made; 64 usage; 66 not a deployment, not a product of the stage
 * description, or neither planned nor present; 74 stdout cannot be
 * written; 78 the stage description cannot be used.
 */
#include <stdlib.h>
#include <unistd.h>

#include "core/cfg.h"
#include "core/log.h"
#include "core/prog.h"
#include "core/uvm.h"
#include "ops/why.h"

#define USAGE "uvm-why [-D home] [-j] target"

int main(int argc, char **argv)
{
	const char *home = NULL;
	struct cfg c;
	int opt, json = 0, st;

	prog_start(argc, argv, USAGE);
	while ((opt = getopt(argc, argv, "D:jh")) != -1) {
		switch (opt) {
		case 'D': home = optarg; break;
		case 'j': json = 1; break;
		case 'h': return prog_help(USAGE);
		default: return log_usage(USAGE);
		}
	}
	if (optind != argc - 1)
		return log_usage(USAGE);
	if ((st = prog_deployment(&c, home)) != 0)
		return st;
	st = why_run(&c, argv[optind], json);
	cfg_free(&c);
	return st;
}

/*
 * prog.c: the program prologue (contract in prog.h), so that twenty
 * programs do not each repeat their help handling, config load and busy
 * lock, and cannot drift apart in what they print or return.
 */
#include "core/prog.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "core/fsx.h"
#include "core/log.h"
#include "core/uvm.h"

int prog_help(const char *usage)
{
	printf("usage: %s\n", usage);
	return fsx_close_stdout();
}

void prog_start(int argc, char **argv, const char *usage)
{
	log_init(argv[0]);
	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))
		exit(prog_help(usage));
}

int prog_deployment(struct cfg *c, const char *home)
{
	return cfg_load_deployment(c, home) < 0 ? EX_NOINPUT : 0;
}

int prog_lock(const struct cfg *c, const char *rel, const char *held, int *fd)
{
	char path[PATH_MAX];
	int e;
	*fd = fsx_lock(cfg_path(c, rel, path), 1);
	if (*fd >= 0)
		return 0;
	e = errno;
	if (e == EWOULDBLOCK) {
		if (held)
			log_err(held, path);
		else
			log_err("another %s is running ('%s' is locked)", log_prog(), path);
		return UVM_EX_BUSY;
	}
	log_err("cannot lock '%s': %s", path, strerror(e));
	return fsx_exit_for_errno(e);
}

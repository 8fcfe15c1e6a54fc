/*
 * uvm-metrics: the pipeline's state as a Prometheus textfile.
 *
 * usage: uvm-metrics [-D home] [-o file]
 *
 * Writes, atomically, the file for node_exporter's textfile collector
 * (default METRICS_FILE, else state/uvmake.prom; "-o -" prints it); what it
 * holds is in ops/metrics.h. Run it from cron every minute, before
 * uvm-alert.
 *
 * Cron-safe: a second run while one holds state/metrics.lock exits 76.
 *
 * Exit status: 0; 64 usage; 66 not a deployment; 73/74 cannot write the
 * file or open the database; 76 busy; 78 the stage description cannot be
 * used.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/cfg.h"
#include "core/fsx.h"
#include "core/log.h"
#include "core/prog.h"
#include "core/stages.h"
#include "core/uvm.h"
#include "ops/metrics.h"

#define USAGE "uvm-metrics [-D home] [-o file]"

int main(int argc, char **argv)
{
	const char *home = NULL, *ofile = NULL;
	static struct stages st;
	struct cfg c;
	char path[PATH_MAX], err[PATH_MAX + 256], *text = NULL;
	size_t len = 0;
	int opt, rc;
	struct timespec ts;

	prog_start(argc, argv, USAGE);
	while ((opt = getopt(argc, argv, "D:o:h")) != -1) {
		switch (opt) {
		case 'D': home = optarg; break;
		case 'o': ofile = optarg; break;
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
	int lock;
	if ((rc = prog_lock(&c, "state/metrics.lock", NULL, &lock)) != 0) {
		cfg_free(&c);
		return rc;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	rc = metrics_text(&c, &st, (double)ts.tv_sec + ts.tv_nsec / 1e9, &text, &len);
	if (!rc && ofile && !strcmp(ofile, "-")) {
		fwrite(text, 1, len, stdout);
	} else if (!rc) {
		if (ofile)
			snprintf(path, sizeof path, "%s", ofile);
		else
			cfg_path(&c, cfg_str(&c, "METRICS_FILE", "state/uvmake.prom"), path);
		if (fsx_write_file(path, text, len, 0644) < 0) {
			log_err("cannot write '%s': %s", path, strerror(errno));
			rc = fsx_exit_for_errno(errno);
		}
	}
	free(text);
	close(lock);
	cfg_free(&c);
	int o = fsx_close_stdout();
	return rc ? rc : o;
}

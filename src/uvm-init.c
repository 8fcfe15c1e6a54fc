/*
 * uvm-init: create a deployment.
 *
 * usage: uvm-init [-D home] [dir]
 *
 * Creates dir (else -D home, else $UVM_HOME) with incoming/ products/
 * caltables/ mosaics/ quarantine/ state/ logs/, the database schema, and
 * uvmake.conf: the default config (every key with its meaning) plus
 * RULES_DIR and CALIBRATORS, the absolute paths of this installation's
 * rules/ and ops/calibrators.csv (through LIBDIR/current in a versioned
 * installation, so that an upgrade brings the deployment its rules). An existing uvmake.conf is never
 * touched, even by a concurrent run (the new file is linked into place,
 * which fails if one appeared), so a re-run only creates what is missing.
 * Prints the deployment's absolute path.
 *
 * Exit status: 0 done; 64 usage, or a path a makefile cannot hold
 * (spaces, ':', '$', ...); 69 this installation's rules/ not found;
 * 73/74 cannot create a directory or file.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/cfg.h"
#include "core/db.h"
#include "core/fsx.h"
#include "core/log.h"
#include "core/prog.h"
#include "core/stages.h"
#include "engine/plan.h"
#include "core/uvm.h"

#define USAGE "uvm-init [-D home] [dir]"

static const char *subdirs[] = {"incoming", "products", "caltables", "mosaics", "quarantine",
    "state", "logs"};

/*
 * Write the config to path unless a file is already there: temporary,
 * fsync, link(2) into place (fails on an existing name), unlink the
 * temporary. 0 (written or left alone), or -1 with errno.
 */
static int write_conf(const char *path, const char *text)
{
	struct fsx_out o;
	struct stat st;
	char dir[PATH_MAX];
	if (lstat(path, &st) == 0)
		return 0;
	if (fsx_reserve(&o, path, 0644) < 0)
		return -1;
	if (fsx_write_all(o.fd, text, strlen(text)) < 0 || fsync(o.fd) < 0)
		goto fail;
	if (close(o.fd) < 0) {
		o.fd = -1;
		goto fail;
	}
	o.fd = -1;
	if (link(o.tmp, path) < 0 && errno != EEXIST)
		goto fail;
	unlink(o.tmp);
	snprintf(dir, sizeof dir, "%s", path);
	*strrchr(dir, '/') = 0;
	return fsx_sync_dir(dir);
fail:
	fsx_abort(&o);
	return -1;
}

/* The config text: defaults plus this installation's paths. malloc'd. */
static char *conf_text(const char *rules)
{
	char cal[PATH_MAX + 32], real[PATH_MAX], *t = NULL;
	snprintf(cal, sizeof cal, "%s/../ops/calibrators.csv", rules);
	if (!realpath(cal, real) || !plan_path_safe(real)) {
		log_warn("calibrator catalogue '%s' not found: CALIBRATORS left unset", cal);
		real[0] = 0;
	}
	stages_stable_path(real);
	if (asprintf(&t,
		"%s\n# This installation: make pattern rules (included by state/pipeline.mk)\n"
		"# and the calibrator catalogue.\nRULES_DIR=%s\n%s%s%s",
		cfg_default_text, rules, real[0] ? "CALIBRATORS=" : "", real, real[0] ? "\n" : "") < 0)
		return NULL;
	return t;
}

int main(int argc, char **argv)
{
	const char *dir = NULL;
	char abs[PATH_MAX], rules[PATH_MAX], p[PATH_MAX + 32], *text;
	int opt;
	sqlite3 *db;

	prog_start(argc, argv, USAGE);
	while ((opt = getopt(argc, argv, "D:h")) != -1) {
		switch (opt) {
		case 'D': dir = optarg; break;
		case 'h': return prog_help(USAGE);
		default: return log_usage(USAGE);
		}
	}
	if (argc - optind > 1)
		return log_usage(USAGE);
	if (optind < argc)
		dir = argv[optind];
	if (!dir || !*dir)
		dir = getenv("UVM_HOME");
	if (!dir || !*dir)
		return log_usage(USAGE);
	if (dir[0] != '/' && getcwd(abs, sizeof abs))
		snprintf(p, sizeof p, "%s/%s", abs, dir);
	else
		snprintf(p, sizeof p, "%s", dir);
	if (!plan_path_safe(p)) {
		log_err("cannot use '%s' as a deployment: its path has characters a makefile cannot hold", dir);
		return EX_USAGE;
	}
	if (plan_rules_dir(rules) < 0) {
		log_err("cannot find the rules directory of this installation");
		return EX_UNAVAILABLE;
	}
	stages_stable_path(rules);
	if (!plan_path_safe(rules)) {
		log_err("cannot use rules directory '%s': its path has characters a makefile cannot hold", rules);
		return EX_UNAVAILABLE;
	}
	if (fsx_mkdirs(dir, 0755) < 0 || !realpath(dir, abs)) {
		log_err("cannot create '%s': %s", dir, strerror(errno));
		return fsx_exit_for_errno(errno);
	}
	if (!plan_path_safe(abs)) {
		log_err("cannot use '%s' as a deployment: its path has characters a makefile cannot hold", abs);
		return EX_USAGE;
	}
	for (size_t i = 0; i < sizeof subdirs / sizeof subdirs[0]; i++) {
		snprintf(p, sizeof p, "%s/%s", abs, subdirs[i]);
		if (fsx_mkdirs(p, 0755) < 0) {
			log_err("cannot create '%s': %s", p, strerror(errno));
			return fsx_exit_for_errno(errno);
		}
	}
	text = conf_text(rules);
	if (!text) {
		log_err("out of memory");
		return EX_SOFTWARE;
	}
	snprintf(p, sizeof p, "%s/uvmake.conf", abs);
	if (write_conf(p, text) < 0) {
		int err = errno;
		free(text);
		log_err("cannot write '%s': %s", p, strerror(err));
		return fsx_exit_for_errno(err);
	}
	free(text);
	db = db_open(abs);
	if (!db)
		return EX_CANTCREAT;
	db_close(db);
	printf("%s\n", abs);
	return fsx_close_stdout();
}

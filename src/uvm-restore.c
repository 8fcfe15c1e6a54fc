/*
 * uvm-restore: list, verify and restore backups of a deployment.
 *
 * usage: uvm-restore [-D home] [-l] [-c] [archive]
 *
 *   -l        list the backups, local (BACKUP_DIR) and remote (BACKUP_REMOTE)
 *   -c        verify the archive against its manifest only
 *   archive   a path, or a name in BACKUP_DIR, or remote:name (fetched with
 *             rclone first); restored into the deployment: databases into
 *             state/, tables into caltables/, config into config-restored/
 *
 * Nothing is touched unless every member's name is safe (no absolute path,
 * no "..", no links, known prefixes only) and its SHA-256 matches the
 * manifest. Restoring takes the pipeline's lock (state/make.lock), so no
 * cycle runs meanwhile, and runs `uvm-audit` afterwards when installed.
 *
 * Exit status: 0; 64 usage; 65 archive fails verification; 66 no such
 * archive or deployment; 69 rclone failed; 73/74 cannot write; 76 the
 * pipeline holds the lock (stop uvm-watch first).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ops/bak.h"
#include "core/cfg.h"
#include "core/fsx.h"
#include "core/log.h"
#include "core/prog.h"
#include "core/uvm.h"

#define USAGE "uvm-restore [-D home] [-l] [-c] [archive]"

static int list(const struct cfg *c)
{
	char dir[PATH_MAX];
	struct dirent **ents;
	const char *remote = cfg_str(c, "BACKUP_REMOTE", "");
	int n = scandir(cfg_path(c, cfg_str(c, "BACKUP_DIR", "backups"), dir), &ents, NULL, alphasort);
	for (int i = 0; i < n; i++) {
		if (bak_name_time(ents[i]->d_name) >= 0)
			printf("local\t%s/%s\n", dir, ents[i]->d_name);
		free(ents[i]);
	}
	if (n >= 0)
		free(ents);
	if (*remote) {
		char *out = NULL, *argv[] = {"rclone", "lsf", "--files-only", (char *)remote, NULL};
		if (fsx_run(argv, &out) != 0) {
			free(out);
			log_err("cannot list remote '%s'", remote);
			return EX_UNAVAILABLE;
		}
		for (char *s = NULL, *l = strtok_r(out, "\n", &s); l; l = strtok_r(NULL, "\n", &s))
			if (bak_name_time(l) >= 0)
				printf("remote\t%s/%s\n", remote, l);
		free(out);
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *home = NULL;
	int opt, lflag = 0, cflag = 0, st, lfd = -1;
	char path[PATH_MAX], fetched[PATH_MAX] = "";
	struct cfg c;

	prog_start(argc, argv, USAGE);
	while ((opt = getopt(argc, argv, "D:lch")) != -1) {
		switch (opt) {
		case 'D': home = optarg; break;
		case 'l': lflag = 1; break;
		case 'c': cflag = 1; break;
		case 'h': return prog_help(USAGE);
		default: return log_usage(USAGE);
		}
	}
	if (lflag ? optind != argc : optind != argc - 1)
		return log_usage(USAGE);
	if (prog_deployment(&c, home))
		return EX_NOINPUT;
	if (lflag) {
		st = list(&c);
		cfg_free(&c);
		int o = fsx_close_stdout();
		return st ? st : o;
	}
	const char *arg = argv[optind];
	if (strchr(arg, ':') && arg[0] != '/' && arg[0] != '.') {
		/* remote:name -> fetch into state/ first */
		const char *b = strrchr(arg, '/');
		b = b ? b + 1 : strchr(arg, ':') + 1;
		snprintf(fetched, sizeof fetched, "%s/state/restore-%s", c.home, b);
		char *rargv[] = {"rclone", "copyto", (char *)arg, fetched, NULL};
		if (fsx_run(rargv, NULL) != 0) {
			log_err("cannot fetch '%s' with rclone", arg);
			unlink(fetched);
			cfg_free(&c);
			return EX_UNAVAILABLE;
		}
		snprintf(path, sizeof path, "%s", fetched);
	} else if (!strchr(arg, '/') && access(arg, F_OK) < 0) {
		char dir[PATH_MAX];
		snprintf(path, sizeof path, "%s/%s", cfg_path(&c, cfg_str(&c, "BACKUP_DIR", "backups"), dir), arg);
	} else {
		snprintf(path, sizeof path, "%s", arg);
	}
	if (access(path, R_OK) < 0) {
		log_err("cannot open archive '%s': %s", path, strerror(errno));
		cfg_free(&c);
		return errno == ENOENT ? EX_NOINPUT : EX_IOERR;
	}
	if (!cflag) {
		if ((st = prog_lock(&c, "state/make.lock",
			 "the pipeline is running ('%s' is locked): stop uvm-watch first", &lfd)) != 0) {
			cfg_free(&c);
			return st;
		}
	}
	st = bak_restore(path, c.home, cflag);
	if (!st)
		printf("%s: %s\n", cflag ? "verified" : "restored", path);
	if (lfd >= 0)
		close(lfd);
	if (fetched[0])
		unlink(fetched);
	if (!st && !cflag) {
		char *aargv[] = {"uvm-audit", "-D", c.home, NULL};
		int a = fsx_run(aargv, NULL);
		if (a == 127)
			log_warn("uvm-audit not installed: audit skipped");
		else if (a == 1)
			log_warn("the audit after restore has findings: see uvm-audit -D '%s'", c.home);
		else if (a != 0)
			log_warn("uvm-audit after restore exited %d", a);
	}
	cfg_free(&c);
	int o = fsx_close_stdout();
	return st ? st : o;
}

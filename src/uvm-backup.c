/*
 * uvm-backup: back up a deployment's state, locally and off-site.
 *
 * usage: uvm-backup [-D home] [-o dir]
 *
 * Writes one archive (bak.h: consistent SQLite copies via the online backup
 * API, calibration tables, config and rules, a SHA-256 manifest) into
 * BACKUP_DIR (or -o dir), atomically; copies it to BACKUP_REMOTE with
 * `rclone copyto` when one is configured; then applies retention locally and
 * on the remote (every backup kept BACKUP_HOURLY_DAYS days, then the newest
 * of each day up to BACKUP_DAILY_DAYS). Prints the archive's path.
 * Cron-safe: a non-blocking lock on state/backup.lock.
 *
 * Exit status: 0 done; 64 usage; 66 not a deployment; 69 rclone failed
 * (the local archive exists; retried next run); 73/74 cannot write the
 * archive; 76 another backup is running.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include "ops/bak.h"
#include "core/cfg.h"
#include "core/fsx.h"
#include "core/log.h"
#include "core/prog.h"
#include "core/uvm.h"

#define USAGE "uvm-backup [-D home] [-o dir]"

/* Retention over the names in dir (local) or on remote (rclone). */
static int retain(const char *dir, const char *remote, time_t now, int hd, int dd)
{
	char **names = NULL, *listing = NULL;
	int n = 0, st = 0;
	if (remote) {
		char *argv[] = {"rclone", "lsf", "--files-only", (char *)remote, NULL};
		if (fsx_run(argv, &listing) != 0) {
			free(listing);
			log_err("cannot list remote '%s'", remote);
			return EX_UNAVAILABLE;
		}
		for (char *save = NULL, *l = strtok_r(listing, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
			names = realloc(names, (size_t)(n + 1) * sizeof *names);
			names[n++] = strdup(l);
		}
	} else {
		DIR *d = opendir(dir);
		struct dirent *e;
		if (!d)
			return EX_IOERR;
		while ((e = readdir(d)))
			if (bak_name_time(e->d_name) >= 0) {
				names = realloc(names, (size_t)(n + 1) * sizeof *names);
				names[n++] = strdup(e->d_name);
			}
		closedir(d);
	}
	int *keep = calloc((size_t)n + 1, sizeof *keep);
	bak_retention(names, n, now, hd, dd, keep);
	for (int i = 0; i < n; i++) {
		char p[PATH_MAX];
		if (keep[i])
			continue;
		if (remote) {
			snprintf(p, sizeof p, "%s/%s", remote, names[i]);
			char *argv[] = {"rclone", "deletefile", p, NULL};
			if (fsx_run(argv, NULL) != 0)
				st = EX_UNAVAILABLE;
		} else {
			snprintf(p, sizeof p, "%s/%s", dir, names[i]);
			if (unlink(p) < 0)
				st = EX_IOERR;
		}
		if (!st)
			log_info("retention: removed %s'%s'", remote ? "remote " : "", names[i]);
	}
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(keep);
	free(listing);
	return st;
}

int main(int argc, char **argv)
{
	const char *home = NULL, *odir = NULL;
	char dir[PATH_MAX], *archive = NULL;
	struct cfg c;
	int opt, st, lfd;
	time_t now = time(NULL);

	prog_start(argc, argv, USAGE);
	while ((opt = getopt(argc, argv, "D:o:h")) != -1) {
		switch (opt) {
		case 'D': home = optarg; break;
		case 'o': odir = optarg; break;
		case 'h': return prog_help(USAGE);
		default: return log_usage(USAGE);
		}
	}
	if (optind != argc)
		return log_usage(USAGE);
	if (prog_deployment(&c, home))
		return EX_NOINPUT;
	if ((st = prog_lock(&c, "state/backup.lock", NULL, &lfd)) != 0) {
		cfg_free(&c);
		return st;
	}
	cfg_path(&c, odir ? odir : cfg_str(&c, "BACKUP_DIR", "backups"), dir);
	st = bak_create(c.home, dir, now, &archive);
	if (!st) {
		const char *remote = cfg_str(&c, "BACKUP_REMOTE", "");
		int hd = (int)cfg_int(&c, "BACKUP_HOURLY_DAYS", 7);
		int dd = (int)cfg_int(&c, "BACKUP_DAILY_DAYS", 30);
		printf("%s\n", archive);
		if (*remote) {
			char dst[PATH_MAX];
			snprintf(dst, sizeof dst, "%s/%s", remote, strrchr(archive, '/') + 1);
			char *rargv[] = {"rclone", "copyto", archive, dst, NULL};
			int r = fsx_run(rargv, NULL);
			if (r != 0) {
				log_err("cannot copy '%s' to '%s': rclone exit %d", archive, dst, r);
				st = EX_UNAVAILABLE;
			}
		}
		int r = retain(dir, NULL, now, hd, dd);
		if (!st && *remote)
			r = r ? r : retain(NULL, remote, now, hd, dd);
		if (!st)
			st = r;
	}
	free(archive);
	close(lfd);
	cfg_free(&c);
	int out = fsx_close_stdout();
	return st ? st : out;
}

/*
 * bak.c: backup archives of a deployment's state (contract in bak.h):
 * writing them, their checksums and their retention; reading one back is
 * in bak_restore.c.
 *
 * SQLite copies use the online backup API, page by page with short steps,
 * so a wrapper writing job records meanwhile is delayed a few milliseconds,
 * never blocked for the whole copy. Archives are tar (pax) compressed with
 * zstd through libarchive; checksums are SHA-256 through OpenSSL's EVP.
 */
#include "ops/bak.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fsx.h"
#include "core/ids.h"
#include "core/log.h"
#include "core/uvm.h"

int bak_sqlite_copy(const char *src, const char *dst)
{
	sqlite3 *from = NULL, *to = NULL;
	sqlite3_backup *b;
	struct fsx_out o;
	int rc;

	if (sqlite3_open_v2(src, &from, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		log_err("cannot open database '%s': %s", src, sqlite3_errmsg(from));
		sqlite3_close(from);
		return -1;
	}
	sqlite3_busy_timeout(from, 10000);
	if (fsx_reserve(&o, dst, 0644) < 0) {
		log_err("cannot create '%s': %s", dst, strerror(errno));
		sqlite3_close(from);
		return -1;
	}
	close(o.fd);
	o.fd = -1;
	if (sqlite3_open(o.tmp, &to) != SQLITE_OK) {
		log_err("cannot create '%s': %s", o.tmp, sqlite3_errmsg(to));
		goto fail;
	}
	b = sqlite3_backup_init(to, "main", from, "main");
	if (!b) {
		log_err("cannot back up '%s': %s", src, sqlite3_errmsg(to));
		goto fail;
	}
	do {
		rc = sqlite3_backup_step(b, 256);
		if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
			sqlite3_sleep(20);
	} while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
	sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE) {
		log_err("cannot back up '%s': %s", src, sqlite3_errstr(rc));
		goto fail;
	}
	/* a self-contained copy: no WAL beside it */
	if (sqlite3_exec(to, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_close(to) != SQLITE_OK) {
		to = NULL;
		log_err("cannot write '%s'", o.tmp);
		goto fail;
	}
	to = NULL;
	sqlite3_close(from);
	if (fsx_commit(&o) < 0) {
		log_err("cannot write '%s': %s", dst, strerror(errno));
		return -1;
	}
	return 0;
fail:
	sqlite3_close(to);
	sqlite3_close(from);
	fsx_abort(&o);
	return -1;
}

/* Growing text buffer for the manifest. */
struct text {
	char *s;
	size_t n, cap;
};

static int text_add(struct text *t, const char *a, const char *b)
{
	size_t need = strlen(a) + strlen(b) + 4;
	if (t->n + need > t->cap) {
		size_t nc = (t->cap + need) * 2;
		char *ns = realloc(t->s, nc);
		if (!ns)
			return -1;
		t->s = ns;
		t->cap = nc;
	}
	t->n += (size_t)sprintf(t->s + t->n, "%s  %s\n", a, b);
	return 0;
}

/* Add the file at path to the archive as member name, and to the manifest. */
static int add_file(struct archive *a, const char *path, const char *name, struct text *man)
{
	struct archive_entry *e;
	struct stat st;
	char hex[65], buf[1 << 16];
	int fd;
	ssize_t r;

	if (fsx_sha256_file(path, hex) < 0) {
		log_err("cannot read '%s': %s", path, strerror(errno));
		return EX_IOERR;
	}
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		log_err("cannot read '%s': %s", path, fd < 0 ? strerror(errno) : "not a regular file");
		if (fd >= 0)
			close(fd);
		return EX_IOERR;
	}
	e = archive_entry_new();
	archive_entry_set_pathname(e, name);
	archive_entry_set_size(e, st.st_size);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_mtime(e, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	if (archive_write_header(a, e) != ARCHIVE_OK) {
		log_err("cannot write archive: %s", archive_error_string(a));
		archive_entry_free(e);
		close(fd);
		return EX_IOERR;
	}
	archive_entry_free(e);
	while ((r = read(fd, buf, sizeof buf)) > 0)
		if (archive_write_data(a, buf, (size_t)r) != r) {
			log_err("cannot write archive: %s", archive_error_string(a));
			close(fd);
			return EX_IOERR;
		}
	close(fd);
	if (r < 0) {
		log_err("cannot read '%s': %s", path, strerror(errno));
		return EX_IOERR;
	}
	return text_add(man, hex, name) < 0 ? EX_SOFTWARE : 0;
}

static int add_mem(struct archive *a, const char *name, const char *data, size_t n)
{
	struct archive_entry *e = archive_entry_new();
	int ok;
	archive_entry_set_pathname(e, name);
	archive_entry_set_size(e, (la_int64_t)n);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_mtime(e, time(NULL), 0);
	ok = archive_write_header(a, e) == ARCHIVE_OK &&
	     (n == 0 || archive_write_data(a, data, n) == (la_ssize_t)n);
	archive_entry_free(e);
	if (!ok)
		log_err("cannot write archive: %s", archive_error_string(a));
	return ok ? 0 : EX_IOERR;
}

static int has_suffix(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);
	return a >= b && !strcmp(s + a - b, suf);
}

/* Add regular files of dir whose names end in suffix, as prefix/name. */
static int add_dir(struct archive *a, const char *dir, const char *prefix, const char *suffix,
    struct text *man)
{
	struct dirent **ents;
	int n = scandir(dir, &ents, NULL, alphasort), st = 0;
	if (n < 0)
		return errno == ENOENT ? 0 : EX_IOERR;
	for (int i = 0; i < n; i++) {
		char path[PATH_MAX], name[PATH_MAX];
		struct stat sb;
		const char *nm = ents[i]->d_name;
		if (!st && nm[0] != '.' && has_suffix(nm, suffix) && !fsx_is_temp(nm, NULL)) {
			snprintf(path, sizeof path, "%s/%s", dir, nm);
			snprintf(name, sizeof name, "%s/%s", prefix, nm);
			if (lstat(path, &sb) == 0 && S_ISREG(sb.st_mode))
				st = add_file(a, path, name, man);
		}
		free(ents[i]);
	}
	free(ents);
	return st;
}

/*
 * Snapshot every state/<name>.sqlite database of home into stage with
 * bak_sqlite_copy (consistent while the pipeline writes) and add it to a
 * as db/<name>, recorded in man; each snapshot is removed once added.
 * 0, or the exit status of the first failure (the rest are skipped).
 */
static int add_databases(struct archive *a, const char *home, const char *stage, struct text *man)
{
	char sub[PATH_MAX];
	struct dirent **ents = NULL;
	int n, st = 0;

	snprintf(sub, sizeof sub, "%s/state", home);
	n = scandir(sub, &ents, NULL, alphasort);
	for (int i = 0; i < n; i++) {
		const char *nm = ents[i]->d_name;
		if (!st && has_suffix(nm, ".sqlite") && nm[0] != '.') {
			char src[PATH_MAX], dst[PATH_MAX], name[PATH_MAX];
			snprintf(src, sizeof src, "%s/%s", sub, nm);
			snprintf(dst, sizeof dst, "%s/%s", stage, nm);
			snprintf(name, sizeof name, "db/%s", nm);
			if (bak_sqlite_copy(src, dst) < 0)
				st = EX_IOERR;
			else
				st = add_file(a, dst, name, man);
			unlink(dst);
		}
		free(ents[i]);
	}
	free(ents);
	return st;
}

/*
 * Add the rest of home that a restore needs to a, recorded in man:
 * caltables/<name>.h5, state/done.idx, uvmake.conf and rules/<name>.mk (the last
 * three when present). 0, or the exit status of the first failure.
 */
static int add_config(struct archive *a, const char *home, struct text *man)
{
	char sub[PATH_MAX];
	int st;

	snprintf(sub, sizeof sub, "%s/caltables", home);
	st = add_dir(a, sub, "caltables", ".h5", man);
	if (!st) {
		/* the planner's record of finished groups: without it a restored
		 * deployment would plan every finished group again */
		snprintf(sub, sizeof sub, "%s/state/done.idx", home);
		if (access(sub, F_OK) == 0)
			st = add_file(a, sub, "state/done.idx", man);
	}
	if (!st) {
		snprintf(sub, sizeof sub, "%s/uvmake.conf", home);
		if (access(sub, F_OK) == 0)
			st = add_file(a, sub, "config/uvmake.conf", man);
	}
	if (!st) {
		snprintf(sub, sizeof sub, "%s/rules", home);
		st = add_dir(a, sub, "config/rules", ".mk", man);
	}
	return st;
}

int bak_create(const char *home, const char *dir, time_t now, char **out)
{
	char stage[PATH_MAX], path[PATH_MAX], stamp[32];
	struct text man = {0};
	struct archive *a = NULL;
	struct fsx_out o;
	int st = 0;
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
	snprintf(path, sizeof path, "%s/uvmake-%s.tar.zst", dir, stamp);
	if (fsx_mkdirs(dir, 0755) < 0) {
		log_err("cannot create '%s': %s", dir, strerror(errno));
		return fsx_exit_for_errno(errno);
	}
	/* database snapshots first, into a private staging directory */
	snprintf(stage, sizeof stage, "%s/state/backup.tmp.%ld", home, (long)getpid());
	if (mkdir(stage, 0700) < 0) {
		log_err("cannot create '%s': %s", stage, strerror(errno));
		return fsx_exit_for_errno(errno);
	}
	if (fsx_reserve(&o, path, 0644) < 0) {
		log_err("cannot create '%s': %s", path, strerror(errno));
		st = fsx_exit_for_errno(errno);
		goto out;
	}
	a = archive_write_new();
	if (archive_write_add_filter_zstd(a) != ARCHIVE_OK ||
	    archive_write_set_format_pax(a) != ARCHIVE_OK ||
	    archive_write_open_fd(a, o.fd) != ARCHIVE_OK) {
		log_err("cannot start archive '%s': %s", path, archive_error_string(a));
		st = EX_SOFTWARE;
		goto out;
	}
	st = add_databases(a, home, stage, &man);
	if (!st)
		st = add_config(a, home, &man);
	if (!st)
		st = add_mem(a, "MANIFEST.sha256", man.s ? man.s : "", man.n);
	if (!st && (archive_write_close(a) != ARCHIVE_OK)) {
		log_err("cannot write '%s': %s", path, archive_error_string(a));
		st = EX_IOERR;
	}
	archive_write_free(a);
	a = NULL;
	if (!st) {
		if (fsx_commit(&o) < 0) {
			log_err("cannot write '%s': %s", path, strerror(errno));
			st = fsx_exit_for_errno(errno);
		} else if (out) {
			*out = strdup(path);
		}
	} else {
		fsx_abort(&o);
	}
out:
	if (a) {
		archive_write_free(a);
		fsx_abort(&o);
	}
	free(man.s);
	rmdir(stage);
	return st;
}

time_t bak_name_time(const char *name)
{
	char id[IDS_LEN];
	long long t;
	const char *b = strrchr(name, '/');
	b = b ? b + 1 : name;
	/* uvmake-<group id>Z.tar.zst: the id parsed by the one strict parser */
	if (strncmp(b, "uvmake-", 7) || strlen(b) != 7 + 15 + 1 + 8 || b[7 + 15] != 'Z' ||
	    strcmp(b + 7 + 16, ".tar.zst"))
		return -1;
	memcpy(id, b + 7, 15);
	id[15] = 0;
	if (ids_parse_group(id, &t) < 0)
		return -1;
	return (time_t)t;
}

void bak_retention(char **names, int n, time_t now, int hourly_days, int daily_days, int *keep)
{
	for (int i = 0; i < n; i++) {
		time_t t = bak_name_time(names[i]);
		keep[i] = 1;
		if (t < 0)
			continue;
		double age = difftime(now, t) / 86400.0;
		if (age <= hourly_days)
			continue;
		if (age > daily_days) {
			keep[i] = 0;
			continue;
		}
		/* keep only the newest backup of its UTC day */
		for (int j = 0; j < n; j++) {
			time_t u = bak_name_time(names[j]);
			if (j != i && u > t && u / 86400 == t / 86400) {
				keep[i] = 0;
				break;
			}
		}
	}
}

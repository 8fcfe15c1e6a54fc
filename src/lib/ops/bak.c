/*
 * bak.c: backup archives of a deployment's state (contract in bak.h).
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
#include <openssl/evp.h>
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

static void hex_of(const unsigned char *md, char hex[65])
{
	for (int i = 0; i < 32; i++)
		sprintf(hex + 2 * i, "%02x", md[i]);
	hex[64] = 0;
}

int bak_sha256_file(const char *path, char hex[65])
{
	unsigned char buf[1 << 16], md[32];
	unsigned int mdlen = 0;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	EVP_MD_CTX *ctx;
	ssize_t r;
	if (fd < 0)
		return -1;
	ctx = EVP_MD_CTX_new();
	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		EVP_MD_CTX_free(ctx);
		close(fd);
		errno = ENOMEM;
		return -1;
	}
	while ((r = read(fd, buf, sizeof buf)) > 0)
		EVP_DigestUpdate(ctx, buf, (size_t)r);
	if (r < 0) {
		int e = errno;
		EVP_MD_CTX_free(ctx);
		close(fd);
		errno = e;
		return -1;
	}
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	close(fd);
	hex_of(md, hex);
	return 0;
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

	if (bak_sha256_file(path, hex) < 0) {
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

/* A member name we are willing to restore: relative, no "..", known prefix. */
static int safe_name(const char *n)
{
	if (!*n || n[0] == '/' || strstr(n, "//"))
		return 0;
	for (const char *p = n; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == '\\')
			return 0;
	for (const char *p = n; p; p = strchr(p, '/')) {
		if (*p == '/')
			p++;
		if (!strncmp(p, "..", 2) && (p[2] == '/' || !p[2]))
			return 0;
		if (!strncmp(p, "./", 2) || !strcmp(p, "."))
			return 0;
	}
	return !strcmp(n, "MANIFEST.sha256") || !strcmp(n, "state/done.idx") || !strncmp(n, "db/", 3) ||
	       !strncmp(n, "caltables/", 10) || !strncmp(n, "config/", 7);
}

struct member {
	char *name;
	char hex[65];
};

static struct archive *open_read(const char *archive)
{
	struct archive *a = archive_read_new();
	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	if (archive_read_open_filename(a, archive, 1 << 16) != ARCHIVE_OK) {
		log_err("cannot open archive '%s': %s", archive, archive_error_string(a));
		archive_read_free(a);
		return NULL;
	}
	return a;
}

/* Pass 1: every member safe, regular, and matching the manifest. */
/*
 * Read every member of the open archive a (named archive, for messages):
 * each must be safe, regular and readable; its SHA-256 goes into *mp
 * (*nmp entries, names allocated), the MANIFEST.sha256 text into
 * *manifestp (NULL when absent). 0, or EX_DATAERR (refused or corrupt
 * member, unreadable archive) or EX_SOFTWARE (out of memory); what was
 * collected is returned either way for the caller to free.
 */
static int read_members(struct archive *a, const char *archive, struct member **mp, int *nmp,
    char **manifestp)
{
	struct archive_entry *e;
	struct member *m = NULL;
	int nm = 0, st = 0, r;
	char *manifest = NULL;
	size_t mlen = 0;

	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e);
		unsigned char buf[1 << 16], md[32];
		if (name && archive_entry_filetype(e) == AE_IFDIR && safe_name(name))
			continue; /* directories carry nothing; restore makes its own */
		unsigned int mdlen;
		la_ssize_t k;
		EVP_MD_CTX *ctx;
		if (!name || !safe_name(name) || archive_entry_filetype(e) != AE_IFREG ||
		    archive_entry_hardlink(e) || archive_entry_symlink(e)) {
			log_err("archive '%s': refusing member '%s'", archive, name ? name : "(null)");
			st = EX_DATAERR;
			break;
		}
		ctx = EVP_MD_CTX_new();
		EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
		int is_man = !strcmp(name, "MANIFEST.sha256");
		while ((k = archive_read_data(a, buf, sizeof buf)) > 0) {
			EVP_DigestUpdate(ctx, buf, (size_t)k);
			if (is_man) {
				char *nb = realloc(manifest, mlen + (size_t)k + 1);
				if (!nb) {
					k = -1;
					break;
				}
				manifest = nb;
				memcpy(manifest + mlen, buf, (size_t)k);
				mlen += (size_t)k;
				manifest[mlen] = 0;
			}
		}
		EVP_DigestFinal_ex(ctx, md, &mdlen);
		EVP_MD_CTX_free(ctx);
		if (k < 0) {
			log_err("archive '%s': corrupt member '%s': %s", archive, name, archive_error_string(a));
			st = EX_DATAERR;
			break;
		}
		if (!is_man) {
			struct member *nmv = realloc(m, (size_t)(nm + 1) * sizeof *m);
			if (!nmv) {
				st = EX_SOFTWARE;
				break;
			}
			m = nmv;
			m[nm].name = strdup(name);
			hex_of(md, m[nm].hex);
			nm++;
		}
	}
	if (!st && r != ARCHIVE_EOF) {
		log_err("archive '%s': %s", archive, archive_error_string(a));
		st = EX_DATAERR;
	}
	*mp = m;
	*nmp = nm;
	*manifestp = manifest;
	return st;
}

/*
 * Each manifest line well-formed and naming a member of m (nm entries)
 * with its checksum, and as many lines as members. 0 or EX_DATAERR.
 */
static int check_manifest(const char *archive, char *manifest, const struct member *m, int nm)
{
	int st = 0;
	int lines = 0;
	for (char *save = NULL, *l = strtok_r(manifest, "\n", &save); l && !st;
	     l = strtok_r(NULL, "\n", &save)) {
		int found = 0;
		lines++;
		if (strlen(l) < 67 || l[64] != ' ' || l[65] != ' ') {
			log_err("archive '%s': malformed manifest line %d", archive, lines);
			st = EX_DATAERR;
			break;
		}
		for (int i = 0; i < nm; i++)
			if (!strcmp(m[i].name, l + 66)) {
				found = 1;
				if (strncmp(m[i].hex, l, 64)) {
					log_err("archive '%s': checksum mismatch for '%s'", archive, l + 66);
					st = EX_DATAERR;
				}
			}
		if (!found && !st) {
			log_err("archive '%s': manifest lists missing member '%s'", archive, l + 66);
			st = EX_DATAERR;
		}
	}
	if (!st && lines != nm) {
		log_err("archive '%s': %d members but %d manifest lines", archive, nm, lines);
		st = EX_DATAERR;
	}
	return st;
}

/* Pass 1: every member safe, regular, and matching the manifest. */
static int verify(const char *archive)
{
	struct archive *a = open_read(archive);
	struct member *m = NULL;
	int nm = 0, st;
	char *manifest = NULL;

	if (!a)
		return access(archive, F_OK) < 0 ? EX_NOINPUT : EX_DATAERR;
	st = read_members(a, archive, &m, &nm, &manifest);
	archive_read_free(a);
	if (!st && !manifest) {
		log_err("archive '%s': no manifest", archive);
		st = EX_DATAERR;
	}
	/* each member listed with its checksum, each manifest line present */
	if (!st)
		st = check_manifest(archive, manifest, m, nm);
	for (int i = 0; i < nm; i++)
		free(m[i].name);
	free(m);
	free(manifest);
	return st;
}

/* Where a member goes in a deployment, or NULL for members not restored. */
static int dest_of(const char *dest, const char *name, char *out)
{
	if (!strncmp(name, "db/", 3))
		snprintf(out, PATH_MAX, "%s/state/%s", dest, name + 3);
	else if (!strncmp(name, "caltables/", 10))
		snprintf(out, PATH_MAX, "%s/%s", dest, name);
	else if (!strncmp(name, "config/", 7))
		snprintf(out, PATH_MAX, "%s/config-restored/%s", dest, name + 7);
	else if (!strcmp(name, "state/done.idx")) {
		/* a live index is never older than the backup's: replacing it
		 * would re-plan groups finished since (their intermediates may
		 * be gone to retention); it is restored only when lost */
		snprintf(out, PATH_MAX, "%s/state/done.idx", dest);
		if (access(out, F_OK) == 0)
			snprintf(out, PATH_MAX, "%s/config-restored/done.idx", dest);
	} else
		return -1;
	return 0;
}

int bak_restore(const char *archive, const char *dest, int verify_only)
{
	struct archive *a;
	struct archive_entry *e;
	int st = verify(archive), r;
	if (st || verify_only)
		return st;
	a = open_read(archive);
	if (!a)
		return EX_IOERR;
	while (!st && (r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		char out[PATH_MAX], dir[PATH_MAX], buf[1 << 16];
		const char *name = archive_entry_pathname(e);
		struct fsx_out o;
		la_ssize_t k;
		char *slash;
		if (archive_entry_filetype(e) != AE_IFREG || dest_of(dest, name, out) < 0)
			continue;
		snprintf(dir, sizeof dir, "%s", out);
		slash = strrchr(dir, '/');
		*slash = 0;
		if (fsx_mkdirs(dir, 0755) < 0 || fsx_reserve(&o, out, 0644) < 0) {
			log_err("cannot create '%s': %s", out, strerror(errno));
			st = fsx_exit_for_errno(errno);
			break;
		}
		while ((k = archive_read_data(a, buf, sizeof buf)) > 0)
			if (fsx_write_all(o.fd, buf, (size_t)k) < 0) {
				k = -2;
				break;
			}
		if (k < 0) {
			log_err("cannot write '%s': %s", out, k == -2 ? strerror(errno) : archive_error_string(a));
			st = k == -2 ? fsx_exit_for_errno(errno) : EX_DATAERR;
			fsx_abort(&o);
			break;
		}
		if (!strncmp(name, "db/", 3)) {
			/* a WAL of the old database must not be replayed into the new one */
			char side[PATH_MAX + 8];
			snprintf(side, sizeof side, "%s-wal", out);
			unlink(side);
			snprintf(side, sizeof side, "%s-shm", out);
			unlink(side);
		}
		/* a restored table keeps its time: a newer one would make make
		 * re-make every product that depends on it */
		if (archive_entry_mtime_is_set(e)) {
			struct timespec ts[2];
			ts[0].tv_sec = ts[1].tv_sec = archive_entry_mtime(e);
			ts[0].tv_nsec = ts[1].tv_nsec = archive_entry_mtime_nsec(e);
			if (futimens(o.fd, ts) < 0)
				log_warn("cannot set the time of '%s': %s", out, strerror(errno));
		}
		if (fsx_commit(&o) < 0) {
			log_err("cannot write '%s': %s", out, strerror(errno));
			st = fsx_exit_for_errno(errno);
		}
	}
	archive_read_free(a);
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

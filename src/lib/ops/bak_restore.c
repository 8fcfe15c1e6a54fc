/*
 * bak_restore.c: reading a backup archive back (bak_restore, contract in
 * bak.h). Two passes: the first reads every member, refusing unsafe names,
 * links and anything not a regular file, and checks each against the
 * SHA-256 manifest; only an archive that passes is extracted, member by
 * member through fsx's atomic writes, into places that never overwrite
 * the live configuration. Apart from bak.c, which writes archives,
 * because the two trust different inputs: a restore treats the archive
 * as hostile.
 */
#include "ops/bak.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <openssl/evp.h>
#include <string.h>

#include "core/fsx.h"
#include "core/log.h"
#include "core/uvm.h"

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
			fsx_sha256_hex(md, m[nm].hex);
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

/*
 * retain.c: retention of finished groups' products and inputs (contract
 * in retain.h), the work behind uvm-retain.
 */
#include "ops/retain.h"

#include <archive.h>
#include <archive_entry.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/fsx.h"
#include "core/ids.h"
#include "core/log.h"
#include "core/uvm.h"

/* RETAIN_<CLASS>_DAYS of a retention class ("vis": RETAIN_VIS_DAYS). */
static void class_key(const char *cls, char *key, size_t n)
{
	size_t k = (size_t)snprintf(key, n, "RETAIN_");
	for (const char *p = cls; *p && k + 6 < n; p++)
		key[k++] = (char)toupper((unsigned char)*p);
	snprintf(key + k, n - k, "_DAYS");
}

struct cand {
	char path[PATH_MAX]; /* absolute */
	char rel[PATH_MAX];  /* relative to home, for logs and archive names */
	time_t mtime;
	long long size;
	const char *why;
	char link[PATH_MAX];  /* a staged product: its link in products/ ("" if not) */
};

struct cands {
	struct cand *v;
	int n, cap;
};

static void push(struct cands *c, const char *home, const char *rel, const struct stat *st, const char *why)
{
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 256;
		c->v = realloc(c->v, (size_t)c->cap * sizeof *c->v);
	}
	struct cand *x = &c->v[c->n++];
	snprintf(x->rel, sizeof x->rel, "%s", rel);
	snprintf(x->path, sizeof x->path, "%s/%s", home, rel);
	x->link[0] = 0;
	x->mtime = st->st_mtime;
	x->size = (long long)st->st_size;
	x->why = why;
}

static int by_mtime(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	return (x->mtime > y->mtime) - (x->mtime < y->mtime);
}

/* Set of finished group ids from state/done.idx (first word per line). */
static char **load_done(const char *home, int *n)
{
	char p[PATH_MAX], *text, **v = NULL;
	snprintf(p, sizeof p, "%s/state/done.idx", home);
	*n = 0;
	text = fsx_read_file(p, NULL);
	if (!text)
		return NULL;
	for (char *s = NULL, *l = strtok_r(text, "\n", &s); l; l = strtok_r(NULL, "\n", &s)) {
		char g[64];
		if (sscanf(l, "%63s", g) == 1 && g[0] != '#') {
			v = realloc(v, (size_t)(*n + 1) * sizeof *v);
			v[(*n)++] = strdup(g);
		}
	}
	free(text);
	return v;
}

/* "YYYYMMDDTHHMMSS" -> "YYYY-MM-DDTHH:MM" prefix of its input names. */
static time_t group_time(const char *g)
{
	long long t;
	return ids_parse_group(g, &t) == 0 ? (time_t)t : (time_t)-1;
}

/* Archive the candidates [0,n) into dir (and remote); 0 or an exit status. */
static int archive_them(struct cand *v, int n, const char *dir, const char *remote, time_t now)
{
	char path[PATH_MAX], stamp[32];
	struct tm tm;
	struct fsx_out o;
	struct archive *a;
	int st = 0;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
	snprintf(path, sizeof path, "%s/retained-%s.tar", dir, stamp);
	if (fsx_mkdirs(dir, 0755) < 0 || fsx_reserve(&o, path, 0644) < 0) {
		log_err("cannot create '%s': %s", path, strerror(errno));
		return fsx_exit_for_errno(errno);
	}
	a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	if (archive_write_open_fd(a, o.fd) != ARCHIVE_OK)
		st = EX_SOFTWARE;
	for (int i = 0; i < n && !st; i++) {
		struct archive_entry *e = archive_entry_new();
		char buf[1 << 16];
		ssize_t r;
		int fd = open(v[i].path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		archive_entry_set_pathname(e, v[i].rel);
		archive_entry_set_size(e, v[i].size);
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0644);
		archive_entry_set_mtime(e, v[i].mtime, 0);
		if (fd < 0 || archive_write_header(a, e) != ARCHIVE_OK)
			st = EX_IOERR;
		while (!st && (r = read(fd, buf, sizeof buf)) > 0)
			if (archive_write_data(a, buf, (size_t)r) != r)
				st = EX_IOERR;
		if (fd >= 0)
			close(fd);
		archive_entry_free(e);
		if (st)
			log_err("cannot archive '%s': %s", v[i].rel, archive_error_string(a) ? archive_error_string(a) : strerror(errno));
	}
	if (!st && archive_write_close(a) != ARCHIVE_OK) {
		log_err("cannot write '%s': %s", path, archive_error_string(a));
		st = EX_IOERR;
	}
	archive_write_free(a);
	if (st) {
		fsx_abort(&o);
		return st;
	}
	if (fsx_commit(&o) < 0) {
		log_err("cannot write '%s': %s", path, strerror(errno));
		return fsx_exit_for_errno(errno);
	}
	if (remote && *remote) {
		char dst[PATH_MAX];
		snprintf(dst, sizeof dst, "%s/%s", remote, strrchr(path, '/') + 1);
		char *argv[] = {"rclone", "copyto", path, dst, NULL};
		if (fsx_run(argv, NULL) != 0) {
			log_err("cannot copy '%s' to '%s' with rclone", path, dst);
			return EX_UNAVAILABLE;
		}
	}
	return 0;
}

/*
 * The expired products of finished group g into cs: each per-group stage
 * with a retain class older than its days ("age"), or any of them under
 * disk pressure ("disk"). A link into the staging directory (staging,
 * resolved; staging_ok 0: none) counts for the staged file it points at,
 * which is removed with the link.
 */
static void product_cands(struct cands *cs, const struct cfg *c, const struct stages *st, const char *g,
    time_t now, int pressure, const char *staging, int staging_ok)
{
	char path[PATH_MAX];

	for (int k = 0; k < st->n; k++) {
		char rel[PATH_MAX], key[STAGES_NAMELEN + 16];
		struct stat sb;
		double days;
		if (!st->v[k].retain[0] || st->v[k].scope != STAGE_GROUP)
			continue; /* kept */
		class_key(st->v[k].retain, key, sizeof key);
		days = cfg_double(c, key, (double)st->v[k].retain_days);
		stages_product(st, k, g, 0, rel);
		snprintf(path, sizeof path, "%s/%s", c->home, rel);
		if (lstat(path, &sb) < 0)
			continue;
		if (S_ISLNK(sb.st_mode)) {
			char real[PATH_MAX];
			if (!staging_ok || !realpath(path, real) || strncmp(real, staging, strlen(staging)) ||
			    real[strlen(staging)] != '/' || stat(real, &sb) < 0 || !S_ISREG(sb.st_mode))
				continue;
			if (days > 0 && difftime(now, sb.st_mtime) > days * 86400) {
				push(cs, c->home, rel, &sb, "age");
				snprintf(cs->v[cs->n - 1].link, PATH_MAX, "%s", path);
				snprintf(cs->v[cs->n - 1].path, PATH_MAX, "%s", real);
			}
			continue;
		}
		if (!S_ISREG(sb.st_mode))
			continue;
		if (days > 0 && difftime(now, sb.st_mtime) > days * 86400)
			push(cs, c->home, rel, &sb, "age");
		else if (pressure)
			push(cs, c->home, rel, &sb, "disk");
	}
}

/*
 * The inputs of finished group g into cs: files in incoming whose names
 * fall within the group's minute range and are older than input_days
 * (0: inputs are kept).
 */
static void input_cands(struct cands *cs, const struct cfg *c, const char *incoming, const char *g,
    time_t now, double input_days)
{
	char path[PATH_MAX];
	/* inputs of a finished group: names within the group's minute range */
	time_t gt = group_time(g);
	if (input_days > 0 && gt >= 0) {
		DIR *d = opendir(incoming);
		struct dirent *e;
		while (d && (e = readdir(d))) {
			long long ft;
			int sbn;
			if (ids_parse_file(e->d_name, &ft, &sbn) != IDS_NAME_OK)
				continue;
			if (ft < gt - 5 || ft > gt + cfg_int(c, "GROUP_TOLERANCE", 60))
				continue;
			char rel[PATH_MAX];
			struct stat sb;
			snprintf(path, sizeof path, "%s/%s", incoming, e->d_name);
			if (lstat(path, &sb) < 0 || !S_ISREG(sb.st_mode))
				continue;
			if (difftime(now, sb.st_mtime) > input_days * 86400) {
				snprintf(rel, sizeof rel, "%s/%s", cfg_str(c, "INCOMING", "incoming"), e->d_name);
				push(cs, c->home, rel, &sb, "age");
				if (incoming[0] == '/' && strncmp(incoming, c->home, strlen(c->home)))
					snprintf(cs->v[cs->n - 1].path, PATH_MAX, "%s", path);
			}
		}
		if (d)
			closedir(d);
	}
}

/*
 * Remove the first nsel candidates of cs (their staging links too) and
 * append a line for each to logs/retain.log; with nflag only say what
 * would go, with vflag say what went. Returns 0, or EX_IOERR when a file
 * or the log line could not be written or removed (the rest still go).
 */
static int remove_them(const struct cfg *c, const struct cands *cs, int nsel, time_t now, int nflag, int vflag)
{
	int rc = 0;
	char logp[PATH_MAX];
	int lf = nflag ? -1 : open(cfg_path(c, "logs/retain.log", logp), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	for (int i = 0; i < nsel; i++) {
		char line[PATH_MAX + 128];
		int len = snprintf(line, sizeof line, "%lld remove %s %lld bytes (%s)\n",
		    (long long)now, cs->v[i].rel, cs->v[i].size, cs->v[i].why);
		if (nflag || vflag)
			printf("%s %s (%s, %lld bytes)\n", nflag ? "would remove" : "removed", cs->v[i].rel, cs->v[i].why, cs->v[i].size);
		if (nflag)
			continue;
		if (unlink(cs->v[i].path) < 0 && errno != ENOENT) {
			log_err("cannot remove '%s': %s", cs->v[i].path, strerror(errno));
			rc = EX_IOERR;
			continue;
		}
		if (cs->v[i].link[0] && unlink(cs->v[i].link) < 0 && errno != ENOENT) {
			log_err("cannot remove '%s': %s", cs->v[i].link, strerror(errno));
			rc = EX_IOERR;
			continue;
		}
		if (lf < 0 || fsx_write_all(lf, line, (size_t)len) < 0)
			rc = rc ? rc : EX_IOERR;
	}
	if (lf >= 0)
		close(lf);
	return rc;
}

int retain_run(const struct cfg *c, const struct stages *st, const struct retain_opts *o, time_t now)
{
	int nflag = o->dry, vflag = o->verbose, ndone, rc = 0;
	struct cands cs = {0};
	char path[PATH_MAX], **done;

	double input_days = cfg_double(c, "RETAIN_INPUT_DAYS", 0);
	long long min_free = cfg_int(c, "RETAIN_MIN_FREE_MB", 0) * 1048576LL;
	long long free_b = fsx_free_bytes(cfg_path(c, "products", path));
	int pressure = min_free > 0 && free_b >= 0 && free_b < min_free;
	char incoming[PATH_MAX];
	cfg_path(c, cfg_str(c, "INCOMING", "incoming"), incoming);

	/* the staging directory, resolved, to recognise staged products' links */
	char staging[PATH_MAX];
	const char *stg = cfg_str(c, "STAGING_DIR", "");
	int staging_ok = *stg && realpath(stg, staging) != NULL;
	done = load_done(c->home, &ndone);
	for (int i = 0; i < ndone; i++) {
		product_cands(&cs, c, st, done[i], now, pressure, staging, staging_ok);
		input_cands(&cs, c, incoming, done[i], now, input_days);
	}
	if (cs.n > 1)
		qsort(cs.v, (size_t)cs.n, sizeof *cs.v, by_mtime);
	/* under pressure: only as many of the "disk" ones as needed */
	int nsel = 0;
	long long freed = 0;
	for (int i = 0; i < cs.n; i++) {
		if (!strcmp(cs.v[i].why, "disk") && (!pressure || free_b + freed >= min_free))
			continue;
		cs.v[nsel++] = cs.v[i];
		freed += cs.v[i].size;
	}
	const char *adir = cfg_str(c, "RETAIN_ARCHIVE", "");
	if (nsel && !nflag && *adir) {
		char ad[PATH_MAX];
		rc = archive_them(cs.v, nsel, cfg_path(c, adir, ad), cfg_str(c, "RETAIN_ARCHIVE_REMOTE", ""), now);
	}
	if (!rc) {
		rc = remove_them(c, &cs, nsel, now, nflag, vflag);
		if (!nflag && nsel)
			log_info("removed %d files, %lld bytes%s", nsel, freed, pressure ? " (disk pressure)" : "");
	}
	if (pressure && free_b + freed < min_free)
		log_warn("disk still below RETAIN_MIN_FREE_MB after removing everything removable");
	int jrc = retain_jobs(c, done, ndone, o, now);
	if (!rc)
		rc = jrc;
	for (int i = 0; i < ndone; i++)
		free(done[i]);
	free(done);
	free(cs.v);
	return rc;
}

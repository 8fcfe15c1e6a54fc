/*
 * plan_scan.c: the planner's view of INCOMING (contract in plan_run.h):
 * one readdir, the active files into the plan, and what must not be
 * planned (bad names, non-regular files, subbands out of range, late
 * arrivals, duplicates) queued for quarantine/ with a reason, then moved.
 *
 * Cost: names of finished groups are settled by their timestamp alone
 * (binary search in the done index), so only the active files are
 * lstat'ed. A name is only ever looked at with lstat, never followed, and
 * moved with renameat2(RENAME_NOREPLACE) so nothing in quarantine/ is
 * overwritten.
 */
#include "engine/plan_run.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/fsx.h"
#include "core/log.h"
#include "core/quar.h"
#include "core/uvm.h"
#include "engine/run.h"

int plan_queue(struct plan_ctx *r, const char *name, const char *fmt, ...)
{
	va_list ap;
	char *reason = NULL;
	if (r->nq == r->capq) {
		int nc = r->capq ? 2 * r->capq : 16;
		struct plan_qitem *nv = realloc(r->q, (size_t)nc * sizeof *nv);
		if (!nv)
			return -1;
		r->q = nv;
		r->capq = nc;
	}
	va_start(ap, fmt);
	if (vasprintf(&reason, fmt, ap) < 0)
		reason = NULL;
	va_end(ap);
	r->q[r->nq].name = strdup(name);
	r->q[r->nq].reason = reason;
	if (!r->q[r->nq].name || !reason) {
		free(r->q[r->nq].name);
		free(reason);
		return -1;
	}
	r->nq++;
	return 0;
}

static const char *kind(mode_t m)
{
	if (S_ISLNK(m))
		return "symlink";
	if (S_ISDIR(m))
		return "not a regular file (directory)";
	if (S_ISFIFO(m))
		return "not a regular file (fifo)";
	if (S_ISSOCK(m))
		return "not a regular file (socket)";
	if (S_ISCHR(m) || S_ISBLK(m))
		return "not a regular file (device)";
	return NULL;
}

/*
 * Inodes of INCOMING's file system that some process of this machine has
 * open for writing (Linux: /proc/PID/fd links, the access mode in
 * /proc/PID/fdinfo/N). Only the processes we may look at are seen (all of
 * them as root): PLAN_SETTLE covers the writers we cannot see. Sorted
 * array into *out (caller frees); the count, or -1 on ENOMEM.
 */
struct wino {
	dev_t dev;
	ino_t ino;
};

static int by_wino(const void *a, const void *b)
{
	const struct wino *x = a, *y = b;
	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

static int open_for_write(dev_t dev, struct wino **out)
{
	DIR *pd = opendir("/proc");
	struct dirent *pe;
	struct wino *v = NULL;
	int n = 0, cap = 0;
	pid_t self = getpid();
	*out = NULL;
	if (!pd)
		return 0;
	while ((pe = readdir(pd))) {
		char path[64], line[128];
		DIR *fdd;
		struct dirent *fe;
		if (pe->d_name[0] < '1' || pe->d_name[0] > '9' || atol(pe->d_name) == (long)self)
			continue;
		snprintf(path, sizeof path, "/proc/%s/fd", pe->d_name);
		if (!(fdd = opendir(path)))
			continue;
		while ((fe = readdir(fdd))) {
			struct stat st;
			FILE *fi;
			unsigned long flags = 0;
			int got = 0;
			if (fe->d_name[0] == '.')
				continue;
			snprintf(path, sizeof path, "/proc/%s/fd/%s", pe->d_name, fe->d_name);
			if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) || st.st_dev != dev)
				continue;
			snprintf(path, sizeof path, "/proc/%s/fdinfo/%s", pe->d_name, fe->d_name);
			if (!(fi = fopen(path, "re")))
				continue;
			while (fgets(line, sizeof line, fi))
				if (sscanf(line, "flags: %lo", &flags) == 1) {
					got = 1;
					break;
				}
			fclose(fi);
			if (!got || (flags & O_ACCMODE) == O_RDONLY)
				continue;
			if (n == cap) {
				int nc = cap ? 2 * cap : 16;
				struct wino *nv = realloc(v, (size_t)nc * sizeof *nv);
				if (!nv) {
					closedir(fdd);
					closedir(pd);
					free(v);
					return -1;
				}
				v = nv;
				cap = nc;
			}
			v[n].dev = st.st_dev;
			v[n].ino = st.st_ino;
			n++;
		}
		closedir(fdd);
	}
	closedir(pd);
	if (n)
		qsort(v, (size_t)n, sizeof *v, by_wino);
	*out = v;
	return n;
}

/*
 * Mark in r->p.files the files that are not stable yet: open for writing,
 * or modified less than r->settle seconds ago (a write moves the mtime,
 * so an mtime that old means unchanged for that long). Their groups wait
 * (plan_classify): such a file is neither planned, nor verified, nor
 * quarantined, nor left behind by a partial group; the earliest time one
 * may settle goes to r->settle_wakeup. ino[] holds each file's inode, dev
 * INCOMING's device. 0 or -1 on ENOMEM.
 */
static int settle_filter(struct plan_ctx *r, const ino_t *ino, dev_t dev)
{
	struct plan *p = &r->p;
	struct wino *w = NULL;
	int nw = p->nfiles ? open_for_write(dev, &w) : 0;
	long long now = p->par.now;
	if (nw < 0)
		return -1;
	for (int i = 0; i < p->nfiles; i++) {
		struct plan_file *f = &p->files[i];
		struct wino key = { dev, ino[i] };
		const char *why = NULL;
		if (nw && bsearch(&key, w, (size_t)nw, sizeof *w, by_wino))
			why = "open for writing";
		else if (r->settle > 0 && f->mtime > now - r->settle && f->mtime <= now) {
			why = "modified too recently";
			if (!r->settle_wakeup || f->mtime + r->settle < r->settle_wakeup)
				r->settle_wakeup = f->mtime + r->settle;
		}
		if (why) {
			char *esc = plan_escape(f->name);
			log_info("not planned yet: '%s/%s' is %s", r->inrel, esc ? esc : "?", why);
			free(esc);
			f->unsettled = 1;
			r->nunsettled++;
		}
	}
	free(w);
	return 0;
}

int plan_scan(struct plan_ctx *r)
{
	ino_t *ino = NULL;
	struct stat dst;
	int fd = dup(r->infd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;
	const struct plan_params *par = &r->p.par;
	if (!d) {
		log_err("cannot read '%s': %s", r->incoming, strerror(errno));
		if (fd >= 0)
			close(fd);
		return EX_IOERR;
	}
	while ((errno = 0, e = readdir(d))) {
		const char *nm = e->d_name;
		size_t len;
		long long ts;
		int sb, bad = 0;
		struct stat st;
		enum ids_name_status ns;
		ns = ids_parse_file(nm, &ts, &sb);
		if (ns == IDS_NAME_OK) {
			const struct plan_done *dn = NULL;
			int m = plan_done_match(&r->done, ts, sb, &dn);
			if (m) {
				/* a finished group's file: settled without a stat */
				if (m == 2 &&
				    plan_queue(r, nm, "late subband: group %s finished without sb%02d", dn->id, sb) < 0)
					break;
				continue;
			}
		} else {
			if (nm[0] == '.')
				continue; /* dotfiles, . and .. */
			len = strlen(nm);
			if (len >= 16 && !strcmp(nm + len - 16, "_incomplete.hdf5"))
				continue; /* still being written by the correlator */
			if (fsx_is_temp(nm, NULL))
				continue;
		}
		if (ns == IDS_NAME_PATTERN) {
			bad = plan_queue(r, nm, "name does not match YYYY-MM-DDTHH:MM:SS_sbNN.hdf5");
		} else if (ns == IDS_NAME_DATE) {
			bad = plan_queue(r, nm, "invalid date or time in name");
		} else if (sb >= par->nsub) {
			bad = plan_queue(r, nm, "subband sb%02d out of range (SUBBANDS=%d)", sb, par->nsub);
		} else if (ts > par->now + r->skew) {
			bad = plan_queue(r, nm,
			    "name's time is %lld s ahead of the clock (more than CLOCK_SKEW=%lld)",
			    ts - par->now, r->skew);
		} else {
			if (fstatat(dirfd(d), nm, &st, AT_SYMLINK_NOFOLLOW) < 0) {
				if (errno != ENOENT)
					log_warn("cannot stat '%s/%s': %s", r->incoming, nm, strerror(errno));
				continue;
			}
			if (kind(st.st_mode)) {
				bad = plan_queue(r, nm, "%s", kind(st.st_mode));
			} else if (S_ISREG(st.st_mode)) {
				struct plan *p = &r->p;
				if (p->nfiles == p->capfiles) {
					int nc = p->capfiles ? 2 * p->capfiles : 64;
					struct plan_file *nf = realloc(p->files, (size_t)nc * sizeof *nf);
					ino_t *ni;
					if (!nf) {
						errno = ENOMEM;
						break;
					}
					p->files = nf;
					if (!(ni = realloc(ino, (size_t)nc * sizeof *ni))) {
						errno = ENOMEM;
						break;
					}
					ino = ni;
					p->capfiles = nc;
				}
				ino[p->nfiles] = st.st_ino;
				p->files[p->nfiles].name = strdup(nm);
				if (!p->files[p->nfiles].name)
					break;
				p->files[p->nfiles].ts = ts;
				p->files[p->nfiles].sb = sb;
				p->files[p->nfiles].mtime = (long long)st.st_mtime;
				p->files[p->nfiles].unsettled = 0;
				p->nfiles++;
			}
		}
		if (bad < 0)
			break;
	}
	if (errno) {
		int err = errno;
		closedir(d);
		free(ino);
		log_err("cannot read '%s': %s", r->incoming, strerror(err));
		return err == ENOMEM ? EX_SOFTWARE : EX_IOERR;
	}
	closedir(d);
	if (fstat(r->infd, &dst) < 0 || settle_filter(r, ino, dst.st_dev) < 0) {
		free(ino);
		log_err("out of memory");
		return EX_SOFTWARE;
	}
	free(ino);
	return 0;
}

/* name's path as recorded: relative to the deployment unless INCOMING is
 * absolute (the form uvm-run records), into out (PATH_MAX). */
static void input_path(const struct plan_ctx *r, const char *name, char *out)
{
	snprintf(out, PATH_MAX, "%s/%s", r->inrel, name);
}

/* The head of the reason file (quar_move adds the input and the name it
 * is quarantined as). malloc'd or NULL. */
static char *reason_head(const struct plan_ctx *r, const char *reason)
{
	char when[32], *t = NULL;
	time_t now = (time_t)r->p.par.now;
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (asprintf(&t, "time: %s\nwho: uvm-plan (pid %ld)\ntarget: -\nstatus: -\nreason: %s\n", when,
		(long)getpid(), reason) < 0)
		t = NULL;
	return t;
}

/*
 * Move incoming/name to quarantine/<safe name> with its reason file
 * (core/quar.h: the reason first, then the move, never replacing a file
 * already there; across file systems a copy); record it in the database.
 * 0, or -1 after logging (the file stays where it is, and out of the
 * makefile).
 */
static int quarantine(struct plan_ctx *r, const char *qdir, const struct plan_qitem *it)
{
	char safe[NAME_MAX + 1], qn[NAME_MAX + 1], in[PATH_MAX], src[PATH_MAX * 2];
	char *head, *esc, *shown;
	int rc;
	plan_safe_name(it->name, safe);
	input_path(r, it->name, in);
	esc = plan_escape(it->name);
	shown = plan_escape(in);
	head = reason_head(r, it->reason);
	if (!esc || !shown || !head) {
		log_err("out of memory");
		free(esc);
		free(shown);
		free(head);
		return -1;
	}
	snprintf(src, sizeof src, "%s/%s", r->incoming, it->name);
	rc = quar_move(src, qdir, safe, head, shown, "quarantine", qn);
	free(head);
	free(shown);
	if (rc < 0) {
		log_err("cannot quarantine '%s/%s': %s", r->inrel, esc, strerror(errno));
		free(esc);
		return -1;
	}
	log_info("quarantined '%s/%s' as 'quarantine/%s': %s", r->inrel, esc, qn, it->reason);
	if (plan_db(r)) {
		sqlite3_stmt *st;
		char qpath[PATH_MAX], orig[PATH_MAX];
		snprintf(qpath, sizeof qpath, "quarantine/%s", qn);
		input_path(r, it->name, orig);
		if (sqlite3_prepare_v2(r->db,
			"INSERT INTO quarantine(path, original, reason, target, at) VALUES(?,?,?,NULL,?)",
			-1, &st, NULL) == SQLITE_OK) {
			sqlite3_bind_text(st, 1, qpath, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(st, 2, orig, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(st, 3, it->reason, -1, SQLITE_TRANSIENT);
			sqlite3_bind_double(st, 4, (double)r->p.par.now);
			if (sqlite3_step(st) != SQLITE_DONE)
				log_warn("cannot record quarantine of '%s': %s", esc, sqlite3_errmsg(r->db));
			sqlite3_finalize(st);
		}
	}
	free(esc);
	return 0;
}

void plan_quarantine_all(struct plan_ctx *r)
{
	char path[PATH_MAX];
	if (r->o->dry) {
		for (int i = 0; i < r->nq; i++) {
			char *esc = plan_escape(r->q[i].name);
			log_info("would quarantine '%s/%s': %s", r->inrel, esc ? esc : "?", r->q[i].reason);
			free(esc);
		}
		return;
	}
	if (!r->nq)
		return;
	cfg_path(r->c, "quarantine", path);
	if (fsx_mkdirs(path, 0755) < 0)
		log_err("cannot create '%s': %s", path, strerror(errno));
	else
		for (int i = 0; i < r->nq; i++)
			quarantine(r, path, &r->q[i]);
}

void plan_queue_free(struct plan_ctx *r)
{
	for (int i = 0; i < r->nq; i++) {
		free(r->q[i].name);
		free(r->q[i].reason);
	}
	free(r->q);
	r->q = NULL;
	r->nq = r->capq = 0;
}

/*
 * plan_run.c: one planner run (contract in plan.h): scan INCOMING, move
 * what must not be planned to quarantine/, group and classify, retire
 * finished groups to state/done.idx, record the groups in the database,
 * write state/pipeline.mk and state/plan.json when their content changed,
 * and sweep stale temporaries.
 *
 * Cost: one readdir over INCOMING; names of finished groups are settled by
 * their timestamp alone (binary search in the done index), so only the
 * active files are lstat'ed and only active groups are looked up. In the
 * steady state (nothing new) the run writes nothing and opens no database.
 * A name is only ever looked at with lstat, never followed, and moved with
 * renameat2(RENAME_NOREPLACE) so nothing in quarantine/ is overwritten.
 */
#include "engine/plan.h"
#include "engine/plan_order.h"
#include "sci/cal_catalog.h"
#include "sci/cal_registry.h"
#include "sci/geom.h"

#include <dirent.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/db.h"
#include "core/fsx.h"
#include "core/log.h"
#include "engine/run.h"
#include "core/uvm.h"

struct qitem {
	char *name;
	char *reason;
};

struct run {
	struct cfg *c;
	const struct plan_opts *o;
	char incoming[PATH_MAX];   /* absolute */
	char inrel[PATH_MAX];      /* as written into the makefile */
	char rules[PATH_MAX];
	char state[PATH_MAX];
	int homefd, infd;
	struct plan p;
	struct plan_doneidx done;
	struct plan_hoursidx hours;    /* finished mosaic hours (plan_mosaic.c) */
	struct plan_mosaic_params mos;
	struct qitem *q;
	int nq, capq;
	sqlite3 *db;
	int dbfailed;
};

/* Queue name for quarantine with a printf-style reason; -1 on ENOMEM. */
__attribute__((format(printf, 3, 4))) static int queue(struct run *r, const char *name,
    const char *fmt, ...)
{
	va_list ap;
	char *reason = NULL;
	if (r->nq == r->capq) {
		int nc = r->capq ? 2 * r->capq : 16;
		struct qitem *nv = realloc(r->q, (size_t)nc * sizeof *nv);
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

/* The database, opened on first use; NULL (logged once) when unusable. */
static sqlite3 *db(struct run *r)
{
	if (!r->db && !r->dbfailed && !r->o->dry) {
		r->db = db_open(r->c->home);
		if (!r->db) {
			r->dbfailed = 1;
			log_warn("groups and quarantine records not updated");
		}
	}
	return r->db;
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
 * Read INCOMING: active files into r->p.files, everything that must not be
 * planned into the quarantine queue. Returns 0 or an exit status.
 */
static int scan(struct run *r)
{
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
				    queue(r, nm, "late subband: group %s finished without sb%02d", dn->id, sb) < 0)
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
			bad = queue(r, nm, "name does not match YYYY-MM-DDTHH:MM:SS_sbNN.hdf5");
		} else if (ns == IDS_NAME_DATE) {
			bad = queue(r, nm, "invalid date or time in name");
		} else if (sb >= par->nsub) {
			bad = queue(r, nm, "subband sb%02d out of range (SUBBANDS=%d)", sb, par->nsub);
		} else {
			if (fstatat(dirfd(d), nm, &st, AT_SYMLINK_NOFOLLOW) < 0) {
				if (errno != ENOENT)
					log_warn("cannot stat '%s/%s': %s", r->incoming, nm, strerror(errno));
				continue;
			}
			if (kind(st.st_mode)) {
				bad = queue(r, nm, "%s", kind(st.st_mode));
			} else if (S_ISREG(st.st_mode)) {
				struct plan *p = &r->p;
				if (p->nfiles == p->capfiles) {
					int nc = p->capfiles ? 2 * p->capfiles : 64;
					struct plan_file *nf = realloc(p->files, (size_t)nc * sizeof *nf);
					if (!nf)
						break;
					p->files = nf;
					p->capfiles = nc;
				}
				p->files[p->nfiles].name = strdup(nm);
				if (!p->files[p->nfiles].name)
					break;
				p->files[p->nfiles].ts = ts;
				p->files[p->nfiles].sb = sb;
				p->files[p->nfiles].mtime = (long long)st.st_mtime;
				p->nfiles++;
			}
		}
		if (bad < 0)
			break;
	}
	if (errno) {
		int err = errno;
		closedir(d);
		log_err("cannot read '%s': %s", r->incoming, strerror(err));
		return err == ENOMEM ? EX_SOFTWARE : EX_IOERR;
	}
	closedir(d);
	return 0;
}

/* name's path as recorded: relative to the deployment unless INCOMING is
 * absolute (the form uvm-run records), into out (PATH_MAX). */
static void input_path(const struct run *r, const char *name, char *out)
{
	snprintf(out, PATH_MAX, "%s/%s", r->inrel, name);
}

/* The reason file's text for name, quarantined as qn. malloc'd or NULL. */
static char *reason_text(const struct run *r, const char *name, const char *qn,
    const char *reason)
{
	char when[32], in[PATH_MAX], *esc, *t = NULL;
	time_t now = (time_t)r->p.par.now;
	struct tm tm;
	input_path(r, name, in);
	esc = plan_escape(in);
	if (!esc)
		return NULL;
	gmtime_r(&now, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (asprintf(&t,
		"time: %s\nwho: uvm-plan (pid %ld)\ntarget: -\nstatus: -\nreason: %s\n"
		"input: %s\nquarantined-as: quarantine/%s\n",
		when, (long)getpid(), reason, esc, qn) < 0)
		t = NULL;
	free(esc);
	return t;
}

/*
 * Move incoming/name to quarantine/<safe name> after writing its reason
 * file; record it in the database. 0, or -1 after logging (the file stays
 * where it is, and out of the makefile).
 */
static int quarantine(struct run *r, int qfd, const char *qdir, const struct qitem *it)
{
	char safe[NAME_MAX + 1], qn[NAME_MAX + 1], rpath[PATH_MAX], *text = NULL, *esc;
	int err = EEXIST; /* until a free name is found */
	size_t sl;
	plan_safe_name(it->name, safe);
	sl = strlen(safe);
	esc = plan_escape(it->name);
	if (!esc) {
		log_err("out of memory");
		return -1;
	}
	for (int k = 0; k < 1000; k++) {
		struct stat st;
		char rn[NAME_MAX + 16];
		if (k)
			snprintf(qn, sizeof qn, "%s.%d", safe, k);
		else if (sl > 7 && !strcmp(safe + sl - 7, ".reason"))
			continue; /* would pass for another file's reason */
		else
			snprintf(qn, sizeof qn, "%s", safe);
		snprintf(rn, sizeof rn, "%s.reason", qn);
		if (fstatat(qfd, qn, &st, AT_SYMLINK_NOFOLLOW) == 0 ||
		    fstatat(qfd, rn, &st, AT_SYMLINK_NOFOLLOW) == 0)
			continue;
		snprintf(rpath, sizeof rpath, "%s/%s", qdir, rn);
		free(text);
		text = reason_text(r, it->name, qn, it->reason);
		if (!text) {
			err = ENOMEM;
			break;
		}
		if (fsx_write_file(rpath, text, strlen(text), 0644) < 0) {
			err = errno;
			log_err("cannot write '%s': %s", rpath, strerror(err));
			break;
		}
		if (renameat2(r->infd, it->name, qfd, qn, RENAME_NOREPLACE) == 0 ||
		    /* a file system without RENAME_NOREPLACE: qn was checked free */
		    (errno == EINVAL && renameat(r->infd, it->name, qfd, qn) == 0)) {
			err = 0;
			break;
		}
		err = errno;
		if (err == EXDEV && fstatat(r->infd, it->name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode)) {
			/* INCOMING on another file system: a regular file is copied
			 * (fsync, link into place) then unlinked, as uvm-run does */
			char src[PATH_MAX * 2], dst[PATH_MAX * 2];
			snprintf(src, sizeof src, "%s/%s", r->incoming, it->name);
			snprintf(dst, sizeof dst, "%s/%s", qdir, qn);
			if (run_move_noreplace(src, dst) == 0) {
				err = 0;
				break;
			}
			err = errno;
		}
		unlink(rpath);
		if (err != EEXIST)
			break;
	}
	if (err) {
		log_err("cannot quarantine '%s/%s': %s", r->inrel, esc, strerror(err));
		free(text);
		free(esc);
		return -1;
	}
	fsx_sync_dir(qdir);
	fsx_sync_dir(r->incoming);
	log_info("quarantined '%s/%s' as 'quarantine/%s': %s", r->inrel, esc, qn, it->reason);
	if (db(r)) {
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
	free(text);
	free(esc);
	return 0;
}

/* One value from a groups row (SELECT ... WHERE grp=id): text column col
 * copied into out (n bytes), or the real first_seen into *seen. 1 if found. */
static int group_row(struct run *r, const char *id, double *seen, char *state, char *missing,
    size_t n)
{
	sqlite3_stmt *st;
	int found = 0;
	if (!db(r) || sqlite3_prepare_v2(r->db,
			  "SELECT first_seen, state, missing FROM groups WHERE grp=?", -1, &st,
			  NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		const unsigned char *s = sqlite3_column_text(st, 1), *m = sqlite3_column_text(st, 2);
		found = 1;
		if (seen)
			*seen = sqlite3_column_double(st, 0);
		if (state)
			snprintf(state, n, "%s", s ? (const char *)s : "");
		if (missing)
			snprintf(missing, n, "%s", m ? (const char *)m : "");
	}
	sqlite3_finalize(st);
	return found;
}

/* Do all final products of g exist (lstat, relative to the deployment)? */
static int finished(const struct run *r, const struct plan_group *g)
{
	char prod[PATH_MAX];
	struct stat st;
	int any = 0;
	/* every product of the group, not only the final ones: a product
	 * removed by hand (uvm-remake) keeps its group active until re-made */
	for (int s = 0; s < plan_nstages; s++) {
		int per = plan_stage_per_sub(s);
		if (!plan_stage_applies(s, g))
			continue;
		for (int sb = 0; sb < (per ? r->p.par.nsub : 1); sb++) {
			if (per && g->file[sb] < 0)
				continue;
			if (fstatat(r->homefd, plan_product(s, g, sb, prod), &st, AT_SYMLINK_NOFOLLOW) < 0)
				return 0;
			any = 1;
		}
	}
	return any;
}

/*
 * Retire g (its final products exist): a done-index entry whose missing set
 * is what the product was made without: the list recorded when it was
 * planned as partial, else the subbands absent now. Present files of that
 * set arrived too late for the product: queued for quarantine.
 */
static int retire(struct run *r, struct plan_group *g)
{
	struct plan_done e;
	char state[32], missing[512];
	memset(&e, 0, sizeof e);
	memcpy(e.id, g->id, PLAN_IDLEN);
	e.first = g->first;
	e.last = g->last;
	for (int sb = 0; sb < r->p.par.nsub; sb++)
		if (g->file[sb] < 0)
			plan_setbit(e.missing, sb);
	if (group_row(r, g->id, NULL, state, missing, sizeof missing) && !strcmp(state, "partial") &&
	    *missing) {
		memset(e.missing, 0, sizeof e.missing);
		for (char *t = missing; (t = strstr(t, "sb")) != NULL; t += 2)
			if (t[2] >= '0' && t[2] <= '9' && t[3] >= '0' && t[3] <= '9')
				plan_setbit(e.missing, (t[2] - '0') * 10 + (t[3] - '0'));
	}
	for (int sb = 0; sb < r->p.par.nsub; sb++)
		if (plan_bit(e.missing, sb) && g->file[sb] >= 0 &&
		    queue(r, r->p.files[g->file[sb]].name, "late subband: group %s finished without sb%02d",
			g->id, sb) < 0)
			return -1;
	g->state = PS_DONE;
	g->retired = 1;
	return plan_done_add(&r->done, &e);
}

/* Space-separated missing subbands of g into buf. */
static char *missing_list(const struct run *r, const struct plan_group *g, char *buf)
{
	size_t n = 0;
	buf[0] = 0;
	for (int sb = 0; sb < r->p.par.nsub; sb++)
		if (g->file[sb] < 0)
			n += (size_t)sprintf(buf + n, "%ssb%02d", n ? " " : "", sb);
	return buf;
}

/*
 * Bring the groups table in line with this run: one row per group seen
 * (first_seen kept), state 'done' for retired ones, 'gone' for rows of
 * groups that no longer exist (their files were quarantined, or the id
 * moved to a late sb00). One transaction.
 */
static void record_groups(struct run *r)
{
	sqlite3_stmt *up = NULL, *gone = NULL, *rel = NULL;
	char *ids = NULL, miss[PLAN_MAXSUB * 5 + 1];
	size_t n = 0;
	FILE *f;
	if (!db(r) || db_begin(r->db) < 0)
		return;
	f = open_memstream(&ids, &n);
	if (!f)
		goto fail;
	if (sqlite3_prepare_v2(r->db,
		"INSERT INTO groups(grp, first_seen, nsub, missing, state, priority, updated)"
		" VALUES(?1, ?2, ?3, ?4, ?5, NULL, ?2) ON CONFLICT(grp) DO UPDATE SET"
		" nsub=excluded.nsub, missing=excluded.missing, state=excluded.state,"
		" updated=excluded.updated WHERE nsub IS NOT excluded.nsub"
		" OR missing IS NOT excluded.missing OR state IS NOT excluded.state",
		-1, &up, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(r->db,
		"UPDATE groups SET state='gone', updated=?1 WHERE state IN"
		" ('ready','partial','waiting','incomplete') AND grp NOT IN"
		" (SELECT value FROM json_each(?2))",
		-1, &gone, NULL) != SQLITE_OK ||
	    /* a calapply deferred for want of a table (69) before the table
	     * now named for it existed: released at once, not after the long
	     * backoff (a table that itself gives 69 is not retried in a loop:
	     * its attempt is newer than the file) */
	    sqlite3_prepare_v2(r->db,
		"UPDATE targets SET state='retry', defers=0, next_attempt_at=NULL, updated=?3"
		" WHERE target='products/'||?1||'/cal.uvh5' AND state='deferred'"
		" AND last_status=69 AND updated < ?2",
		-1, &rel, NULL) != SQLITE_OK)
		goto fail;
	fputc('[', f);
	for (int i = 0; i < r->p.ngroups; i++) {
		const struct plan_group *g = &r->p.groups[i];
		if (g->state == PS_DONE && !g->retired)
			continue;
		sqlite3_reset(up);
		sqlite3_bind_text(up, 1, g->id, -1, SQLITE_STATIC);
		sqlite3_bind_double(up, 2, (double)r->p.par.now);
		sqlite3_bind_int(up, 3, g->nsub);
		if (*missing_list(r, g, miss))
			sqlite3_bind_text(up, 4, miss, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(up, 4);
		sqlite3_bind_text(up, 5, plan_state_name(g->state), -1, SQLITE_STATIC);
		if (sqlite3_step(up) != SQLITE_DONE)
			goto fail;
		if (g->state != PS_DONE)
			fprintf(f, "%s\"%s\"", ftell(f) > 1 ? "," : "", g->id);
		struct stat ts;
		if (g->state != PS_DONE && g->cal[0] && fstatat(r->homefd, g->cal, &ts, 0) == 0) {
			sqlite3_reset(rel);
			sqlite3_bind_text(rel, 1, g->id, -1, SQLITE_STATIC);
			sqlite3_bind_double(rel, 2, (double)ts.st_mtim.tv_sec + ts.st_mtim.tv_nsec / 1e9);
			sqlite3_bind_double(rel, 3, (double)r->p.par.now);
			if (sqlite3_step(rel) != SQLITE_DONE)
				goto fail;
		}
	}
	fputc(']', f);
	if (fclose(f) != 0) {
		f = NULL;
		goto fail;
	}
	f = NULL;
	sqlite3_bind_double(gone, 1, (double)r->p.par.now);
	sqlite3_bind_text(gone, 2, ids, -1, SQLITE_STATIC);
	if (sqlite3_step(gone) != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(up);
	sqlite3_finalize(gone);
	sqlite3_finalize(rel);
	free(ids);
	if (db_commit(r->db) < 0)
		db_rollback(r->db);
	return;
fail:
	log_warn("cannot record groups: %s", sqlite3_errmsg(r->db));
	if (f)
		fclose(f);
	free(ids);
	sqlite3_finalize(up);
	sqlite3_finalize(gone);
	sqlite3_finalize(rel);
	db_rollback(r->db);
}

/* Write path only when buf differs from its content; *changed tells.
 * 0, or -1 with errno. */
static int write_if_changed(const char *path, const char *buf, size_t n, int *changed)
{
	size_t olen;
	char *old = fsx_read_file(path, &olen);
	*changed = !(old && olen == n && !memcmp(old, buf, n));
	free(old);
	return *changed ? fsx_write_file(path, buf, n, 0644) : 0;
}

/*
 * Remove temporaries of dead processes where the jobs of the active groups
 * write (products/G of each group seen), in the flat directories
 * (caltables, mosaics) and where the planner itself writes (state,
 * quarantine), so a SIGKILLed job or planner leaves nothing behind. The
 * directories of finished groups are not visited (that would cost the
 * history on every run): uvm-audit covers them.
 */
static void sweep(const struct run *r)
{
	static const char *dirs[] = {"caltables", "mosaics", "state", "quarantine"};
	char p[PATH_MAX];
	int removed = 0, k;
	for (int i = 0; i < r->p.ngroups; i++) {
		const struct plan_group *g = &r->p.groups[i];
		if (g->state == PS_DONE && !g->retired)
			continue;
		snprintf(p, sizeof p, "%s/products/%s", r->c->home, g->id);
		if ((k = fsx_sweep_stale(p)) > 0)
			removed += k;
	}
	for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
		if ((k = fsx_sweep_stale(cfg_path(r->c, dirs[i], p))) > 0)
			removed += k;
	if (removed)
		log_info("removed %d stale temporar%s", removed, removed == 1 ? "y" : "ies");
}

/* Check the config values the plan depends on; 0 or EX_CONFIG. */
static int params(struct run *r)
{
	struct plan_params *par = &r->p.par;
	const char *inc = cfg_str(r->c, "INCOMING", "incoming");
	const char *rules = cfg_str(r->c, "RULES_DIR", "");
	size_t n;
	par->nsub = (int)cfg_int(r->c, "SUBBANDS", 16);
	par->tol = cfg_int(r->c, "GROUP_TOLERANCE", 60);
	par->timeout = cfg_int(r->c, "PARTIAL_TIMEOUT", 900);
	par->pmin = (int)cfg_int(r->c, "PARTIAL_MIN", 12);
	{
		static struct plan_order_params op;
		plan_order_params(&op, r->c);
		r->p.order = &op;
	}
	par->now = (long long)time(NULL);
	r->mos.hours = (int)cfg_int(r->c, "MOSAIC_HOURS", 1);
	r->mos.delay = cfg_int(r->c, "MOSAIC_DELAY", 1800);
	if (r->mos.hours < 0 || r->mos.hours > 24 || (r->mos.hours && 24 % r->mos.hours) ||
	    r->mos.delay < 0) {
		log_err("invalid MOSAIC_HOURS (0 or a divisor of 24) or MOSAIC_DELAY in '%s/uvmake.conf'",
		    r->c->home);
		return EX_CONFIG;
	}
	if (par->nsub < 1 || par->nsub > PLAN_MAXSUB || par->tol < 0 || par->timeout < 0 ||
	    par->pmin < 1) {
		log_err("invalid SUBBANDS, GROUP_TOLERANCE, PARTIAL_TIMEOUT or PARTIAL_MIN in '%s/uvmake.conf'",
		    r->c->home);
		return EX_CONFIG;
	}
	if (par->pmin > par->nsub)
		par->pmin = par->nsub;
	snprintf(r->inrel, sizeof r->inrel, "%s", inc);
	n = strlen(r->inrel);
	while (n > 1 && r->inrel[n - 1] == '/')
		r->inrel[--n] = 0;
	cfg_path(r->c, r->inrel, r->incoming);
	if (*rules)
		cfg_path(r->c, rules, r->rules);
	else if (plan_rules_dir(r->rules) < 0) {
		log_err("cannot find the rules directory (set RULES_DIR in '%s/uvmake.conf')", r->c->home);
		return EX_CONFIG;
	}
	if (!plan_path_safe(r->c->home) || !plan_path_safe(r->rules) || !plan_path_safe(r->inrel)) {
		log_err("'%s', '%s' or '%s' has characters a makefile cannot hold", r->c->home, r->rules,
		    r->inrel);
		return EX_CONFIG;
	}
	snprintf(r->state, sizeof r->state, "%s/state", r->c->home);
	return 0;
}

/* Group, classify and retire; fills r->p.groups and next_wakeup. 0 or -1. */
/*
 * Calibration facts of an active group, decided at plan time so that make
 * sees them: does a catalogue calibrator transit in it (it then gets a
 * calsolve target), and which table its calapply uses (CAL_<G>): its own
 * table if it is a calibrator group whose solve was not rejected, else the
 * registry's fallback chain (cal_choose), else none (calapply asks again at
 * run time and exits 69, and the wrapper defers the group). Because the
 * choice is in the makefile, a better table appearing later re-makes the
 * group. A missing catalogue only means no calibrator groups (logged once).
 */
static void calibration(struct run *r, struct plan_group *g)
{
	static struct cal_catalog cat;
	static int loaded; /* 0 not yet, 1 ok, -1 failed */
	double jd0 = (double)g->first / 86400.0 + 2440587.5;
	/* a file is stamped when its group opens: the data run GROUP_SECONDS on */
	double jd1 = (double)(g->first + cfg_int(r->c, "GROUP_SECONDS", 309)) / 86400.0 + 2440587.5;
	double transit;
	struct cal_entry e;
	struct cal_choice ch;

	if (!loaded) {
		char path[PATH_MAX], err[512];
		cfg_path(r->c, cfg_str(r->c, "CALIBRATORS", "ops/calibrators.csv"), path);
		loaded = cal_catalog_load(path, &cat, err, sizeof err) == 0 ? 1 : -1;
		if (loaded < 0)
			log_warn("no calibrator catalogue, no calibrator groups: %s", err);
	}
	g->calibrator = loaded > 0 &&
	    cal_catalog_transit(&cat, jd0, jd1, GEOM_OVRO_LON_DEG,
		cfg_double(r->c, "POINTING_DEC_DEG", 33.16), 3.0, &transit) != NULL;
	g->cal[0] = 0;
	g->cal_weak = 0;
	if (g->calibrator && (cal_group_entry(r->c->home, g->id, &e) != 0 || !strcmp(e.status, "good"))) {
		snprintf(g->cal, sizeof g->cal, "caltables/%s.cal.h5", g->id);
		return;
	}
	if (cal_choose(r->c->home, (jd0 + jd1) / 2 - GEOM_MJD0, &ch) == 0 && plan_path_safe(ch.path)) {
		snprintf(g->cal, sizeof g->cal, "%s", ch.path);
		g->cal_weak = ch.level != CAL_LEVEL_OK;
	}
}

/* Is the table named for g newer than g's calibrated visibilities (a
 * better table appeared since: make re-makes them, so g is not finished)?
 * The product is looked at as a name (lstat): a staged product's link
 * dates from when it was made. */
static int cal_newer(const struct run *r, const struct plan_group *g)
{
	char prod[PATH_MAX];
	struct stat t, v;
	snprintf(prod, sizeof prod, "products/%s/cal.uvh5", g->id);
	return g->cal[0] && fstatat(r->homefd, g->cal, &t, 0) == 0 &&
	    fstatat(r->homefd, prod, &v, AT_SYMLINK_NOFOLLOW) == 0 &&
	    (t.st_mtim.tv_sec > v.st_mtim.tv_sec ||
		(t.st_mtim.tv_sec == v.st_mtim.tv_sec && t.st_mtim.tv_nsec > v.st_mtim.tv_nsec));
}

/*
 * May a table whose validity covers g still appear? A covering table comes
 * from a calibrator transit within CAL_VALIDITY_HOURS/2 of g's middle, and
 * data arrive in time order, so once the newest data seen (active files and
 * the done index) lie beyond that, none can. Data time, not the clock: a
 * replayed or delayed stream is judged the same way as a live one.
 */
static int cover_possible(const struct run *r, const struct plan_group *g)
{
	long long newest = r->p.nfiles ? r->p.files[r->p.nfiles - 1].ts : 0;
	/* the index is sorted by first time: its tail holds the newest */
	for (int i = r->done.n > 16 ? r->done.n - 16 : 0; i < r->done.n; i++)
		if (r->done.v[i].last > newest)
			newest = r->done.v[i].last;
	double half = cfg_double(r->c, "CAL_VALIDITY_HOURS", CAL_DEFAULT_VALIDITY_HOURS) * 1800.0;
	double mid = (double)g->first + (double)cfg_int(r->c, "GROUP_SECONDS", 309) / 2;
	return (double)newest <= mid + half;
}

static int decide(struct run *r)
{
	struct plan *p = &r->p;
	int *dup, ndup;
	if (plan_group_files(p, &dup, &ndup) < 0)
		return -1;
	for (int k = 0; k < ndup; k++) {
		const struct plan_file *f = &p->files[dup[k]];
		const char *gid = "?", *kept = "?";
		for (int i = 0; i < p->ngroups; i++)
			if (f->ts >= p->groups[i].first && f->ts - p->groups[i].first <= p->par.tol) {
				gid = p->groups[i].id;
				kept = p->files[p->groups[i].file[f->sb]].name;
			}
		if (queue(r, f->name, "duplicate subband sb%02d in group %s (kept '%s')", f->sb, gid,
			kept) < 0) {
			free(dup);
			return -1;
		}
	}
	free(dup);
	p->next_wakeup = 0;
	for (int i = 0; i < p->ngroups; i++) {
		struct plan_group *g = &p->groups[i];
		long long ref = g->newest_mtime;
		if (plan_done_has(&r->done, g->id)) {
			g->state = PS_DONE; /* finished before; its range missed these files */
			continue;
		}
		if (ref > p->par.now) {
			/* mtime from the future (clock skew): wait from when we first saw it */
			double seen = (double)p->par.now;
			group_row(r, g->id, &seen, NULL, NULL, 0);
			ref = (long long)seen;
		}
		plan_classify(p, g, ref);
		calibration(r, g);
		/* finished with a fallback table while a covering one may still
		 * come: kept in the makefile, so that table re-makes it */
		if (finished(r, g) && !cal_newer(r, g) && !(g->cal_weak && cover_possible(r, g))) {
			if (retire(r, g) < 0)
				return -1;
			continue;
		}
		if (g->state == PS_WAITING && (!p->next_wakeup || g->deadline < p->next_wakeup))
			p->next_wakeup = g->deadline;
	}
	return 0;
}

static void cleanup(struct run *r)
{
	for (int i = 0; i < r->nq; i++) {
		free(r->q[i].name);
		free(r->q[i].reason);
	}
	free(r->q);
	plan_free(&r->p);
	plan_done_free(&r->done);
	plan_hours_free(&r->hours);
	db_close(r->db);
	if (r->infd >= 0)
		close(r->infd);
	if (r->homefd >= 0)
		close(r->homefd);
}

/* Print one line per group seen: id state present/total missing. */
static void report(const struct run *r)
{
	char miss[PLAN_MAXSUB * 5 + 1];
	for (int i = 0; i < r->p.ngroups; i++) {
		const struct plan_group *g = &r->p.groups[i];
		if (g->state == PS_DONE && !g->retired)
			continue;
		missing_list(r, g, miss);
		for (char *s = miss; *s; s++)
			if (*s == ' ')
				*s = ',';
		printf("%s %s %d/%d %s\n", g->id, plan_state_name(g->state), g->nsub, r->p.par.nsub,
		    *miss ? miss : "-");
	}
}

/*
 * Write the state files: done.idx when groups retired, pipeline.mk and
 * plan.json when their content changed, the groups table before plan.json
 * (so a crash in between is repaired by the next run). 0 or an exit status.
 */
static int outputs(struct run *r, int nretired)
{
	char path[PATH_MAX], *old;
	size_t n, olen;
	int changed, err;
	char *mk = plan_makefile(&r->p, r->c->home, r->rules, r->inrel, &n), *js = NULL;
	if (!mk)
		goto nomem;
	if (r->o->dry) {
		fwrite(mk, 1, n, stdout);
		free(mk);
		return 0;
	}
	/* the finished hours first: an hour that left them (one of its groups
	 * is active again) must be out before that group can finish */
	snprintf(path, sizeof path, "%s/hours.idx", r->state);
	if (r->mos.hours && plan_hours_save(&r->hours, path) < 0)
		goto fail;
	if (r->done.dirty) {
		snprintf(path, sizeof path, "%s/done.idx", r->state);
		if (plan_done_save(&r->done, path) < 0)
			goto fail;
	}
	snprintf(path, sizeof path, "%s/pipeline.mk", r->state);
	if (write_if_changed(path, mk, n, &changed) < 0)
		goto fail;
	free(mk);
	mk = NULL;
	js = plan_json(&r->p, &n);
	if (!js)
		goto nomem;
	snprintf(path, sizeof path, "%s/plan.json", r->state);
	old = fsx_read_file(path, &olen);
	changed = !(old && olen == n && !memcmp(old, js, n));
	free(old);
	if (changed || nretired)
		record_groups(r);
	if (changed && fsx_write_file(path, js, n, 0644) < 0)
		goto fail;
	free(js);
	return 0;
nomem:
	free(mk);
	log_err("out of memory");
	return EX_SOFTWARE;
fail:
	err = errno;
	free(mk);
	free(js);
	log_err("cannot write '%s': %s", path, strerror(err));
	return fsx_exit_for_errno(err);
}

int plan_run(struct cfg *c, const struct plan_opts *o)
{
	struct run r;
	char path[PATH_MAX];
	struct stat st;
	int status, lockfd = -1, nretired = 0, qfd = -1;
	memset(&r, 0, sizeof r);
	r.c = c;
	r.o = o;
	r.homefd = r.infd = -1;
	if ((status = params(&r)) != 0)
		return status;
	if (stat(r.state, &st) < 0 || !S_ISDIR(st.st_mode)) {
		log_err("'%s' is not a deployment (run uvm-init)", c->home);
		return EX_NOINPUT;
	}
	if (!o->dry) {
		snprintf(path, sizeof path, "%s/plan.lock", r.state);
		lockfd = fsx_lock(path, 0);
		if (lockfd < 0) {
			log_err("cannot lock '%s': %s", path, strerror(errno));
			return EX_CANTCREAT;
		}
	}
	snprintf(path, sizeof path, "%s/done.idx", r.state);
	if (plan_done_load(&r.done, path, r.p.par.tol) < 0) {
		log_err("cannot read '%s': %s", path, strerror(errno));
		status = errno == ENOMEM ? EX_SOFTWARE : EX_IOERR;
		goto out;
	}
	snprintf(path, sizeof path, "%s/hours.idx", r.state);
	if (plan_hours_load(&r.hours, path) < 0) {
		log_err("cannot read '%s': %s", path, strerror(errno));
		status = errno == ENOMEM ? EX_SOFTWARE : EX_IOERR;
		goto out;
	}
	r.homefd = open(c->home, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	r.infd = open(r.incoming, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r.homefd < 0 || r.infd < 0) {
		int err = errno;
		log_err("cannot open '%s': %s", r.homefd < 0 ? c->home : r.incoming, strerror(err));
		status = (err == ENOENT || err == ENOTDIR || err == EACCES) ? EX_NOINPUT : EX_IOERR;
		goto out;
	}
	if ((status = scan(&r)) != 0)
		goto out;
	if (decide(&r) < 0 || plan_mosaics(&r.p, &r.done, &r.hours, r.homefd, &r.mos) < 0) {
		log_err("out of memory");
		status = EX_SOFTWARE;
		goto out;
	}
	if (o->dry) {
		for (int i = 0; i < r.nq; i++) {
			char *esc = plan_escape(r.q[i].name);
			log_info("would quarantine '%s/%s': %s", r.inrel, esc ? esc : "?", r.q[i].reason);
			free(esc);
		}
	} else if (r.nq) {
		cfg_path(c, "quarantine", path);
		if (fsx_mkdirs(path, 0755) < 0 ||
		    (qfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
			log_err("cannot open '%s': %s", path, strerror(errno));
		else
			for (int i = 0; i < r.nq; i++)
				quarantine(&r, qfd, path, &r.q[i]);
		if (qfd >= 0)
			close(qfd);
	}
	for (int i = 0; i < r.p.ngroups; i++)
		nretired += r.p.groups[i].retired;
	if (o->verbose)
		report(&r);
	if ((status = outputs(&r, nretired)) != 0)
		goto out;
	if (!o->dry)
		sweep(&r);
	if (o->dry || o->verbose)
		status = fsx_close_stdout();
out:
	cleanup(&r);
	if (lockfd >= 0)
		close(lockfd);
	return status;
}

/*
 * plan_run.c: one planner run (contract in plan.h): read the stage
 * description, scan INCOMING and quarantine what must not be planned
 * (plan_scan.c), group and classify, decide each group's calibration
 * (plan_cal.c), retire finished groups to state/done.idx, record the groups
 * in the database, write state/pipeline.mk and state/plan.json when their
 * content changed, and sweep stale temporaries.
 *
 * In the steady state (nothing new) the run writes nothing and opens no
 * database; only active groups are looked up.
 */
#include "engine/plan_run.h"

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
#include "core/uvm.h"
#include "uvh5/check.h"

sqlite3 *plan_db(struct plan_ctx *r)
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

/* One value from a groups row (SELECT ... WHERE grp=id): text column col
 * copied into out (n bytes), or the real first_seen into *seen. 1 if found. */
static int group_row(struct plan_ctx *r, const char *id, double *seen, char *state, char *missing,
    size_t n)
{
	sqlite3_stmt *st;
	int found = 0;
	if (!plan_db(r) || sqlite3_prepare_v2(r->db,
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
static int finished(const struct plan_ctx *r, const struct plan_group *g)
{
	char prod[PATH_MAX];
	struct stat st;
	int any = 0;
	/* every product of the group, not only the final ones: a product
	 * removed by hand (uvm-remake) keeps its group active until re-made */
	for (int s = 0; s < r->st.n; s++) {
		int per = plan_stage_per_sub(&r->st, s);
		if (!plan_stage_applies(&r->st, s, g))
			continue;
		for (int sb = 0; sb < (per ? r->p.par.nsub : 1); sb++) {
			if (per && g->file[sb] < 0)
				continue;
			if (fstatat(r->homefd, plan_product(&r->st, s, g, sb, prod), &st, AT_SYMLINK_NOFOLLOW) < 0)
				return 0;
			any = 1;
		}
	}
	return any;
}

/*
 * Is a product of g older than one of its inputs' products (lstat: a
 * staged product's link dates from when it was made)? Then a re-make was
 * cut short (a cycle stopped between a stage and the ones that read it),
 * and make finishes it: g is not finished.
 */
static int inputs_newer(const struct plan_ctx *r, const struct plan_group *g)
{
	char prod[PATH_MAX], dep[PATH_MAX];
	struct stat a, b;
	for (int s = 0; s < r->st.n; s++) {
		int per = plan_stage_per_sub(&r->st, s);
		if (!plan_stage_applies(&r->st, s, g))
			continue;
		for (int sb = 0; sb < (per ? r->p.par.nsub : 1); sb++) {
			if (per && g->file[sb] < 0)
				continue;
			if (fstatat(r->homefd, plan_product(&r->st, s, g, sb, prod), &a, AT_SYMLINK_NOFOLLOW) < 0)
				continue;
			for (int k = 0; k < r->st.v[s].nin; k++) {
				int n = r->st.v[s].in[k].stage, pn = plan_stage_per_sub(&r->st, n);
				if (r->st.v[s].in[k].chosen || !plan_stage_applies(&r->st, n, g))
					continue;
				for (int t = 0; t < (pn ? r->p.par.nsub : 1); t++) {
					if (pn && (g->file[t] < 0 || (per && t != sb)))
						continue;
					if (fstatat(r->homefd, plan_product(&r->st, n, g, t, dep), &b,
						AT_SYMLINK_NOFOLLOW) == 0 &&
					    (b.st_mtim.tv_sec > a.st_mtim.tv_sec ||
						(b.st_mtim.tv_sec == a.st_mtim.tv_sec &&
						    b.st_mtim.tv_nsec > a.st_mtim.tv_nsec)))
						return 1;
				}
			}
		}
	}
	return 0;
}

/*
 * Retire g (its final products exist): a done-index entry whose missing set
 * is what the product was made without: the list recorded when it was
 * planned as partial, else the subbands absent now. Present files of that
 * set arrived too late for the product: queued for quarantine.
 */
static int retire(struct plan_ctx *r, struct plan_group *g)
{
	struct plan_done e;
	char state[32], missing[512], state_rel[PATH_MAX];
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
		    plan_queue(r, r->p.files[g->file[sb]].name, "late subband: group %s finished without sb%02d",
			g->id, sb) < 0)
			return -1;
	g->state = PS_DONE;
	g->retired = 1;
	/* the choice's stamp: a group put back (uvm-remake) gets a new one */
	if (unlinkat(r->homefd, plan_cal_stamp_rel(g, state_rel), 0) < 0 && errno != ENOENT)
		return -1;
	return plan_done_add(&r->done, &e);
}

/* Space-separated missing subbands of g into buf. */
static char *missing_list(const struct plan_ctx *r, const struct plan_group *g, char *buf)
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
static void record_groups(struct plan_ctx *r)
{
	sqlite3_stmt *up = NULL, *gone = NULL, *rel = NULL;
	char *ids = NULL, miss[PLAN_MAXSUB * 5 + 1];
	size_t n = 0;
	FILE *f;
	if (!plan_db(r) || db_begin(r->db) < 0)
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
	    /* a job reading the chosen table (calapply) deferred for want of
	     * a table (69) before the table now named for it existed: released
	     * at once, not after the long backoff (a table that itself gives
	     * 69 is not retried in a loop: its attempt is newer than the file) */
	    sqlite3_prepare_v2(r->db,
		"UPDATE targets SET state='retry', defers=0, next_attempt_at=NULL, updated=?3"
		" WHERE target=?1 AND state='deferred' AND last_status=69 AND updated < ?2",
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
		if (g->state == PS_DONE || !g->cal[0] || fstatat(r->homefd, g->cal, &ts, 0) < 0)
			continue;
		for (int s = 0; s < r->st.n; s++) {
			char prod[PATH_MAX];
			int reads = 0;
			for (int k = 0; k < r->st.v[s].nin; k++)
				reads |= r->st.v[s].in[k].chosen;
			if (!reads || !plan_stage_applies(&r->st, s, g))
				continue;
			sqlite3_reset(rel);
			sqlite3_bind_text(rel, 1, plan_product(&r->st, s, g, 0, prod), -1, SQLITE_TRANSIENT);
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

int plan_write_if_changed(const char *path, const char *buf, size_t n, int *changed)
{
	size_t olen;
	char *old = fsx_read_file(path, &olen);
	*changed = !(old && olen == n && !memcmp(old, buf, n));
	free(old);
	return *changed ? fsx_write_file(path, buf, n, 0644) : 0;
}

/*
 * Remove temporaries of dead processes where the jobs of the active groups
 * write (the per-group directories of the stage description, products/G,
 * of each group seen), in the flat directories of its products
 * (caltables, mosaics) and where the planner itself writes (state,
 * quarantine), so a SIGKILLed job or planner leaves nothing behind. The
 * directories of finished groups are not visited (that would cost the
 * history on every run): uvm-audit covers them.
 */
static void sweep(const struct plan_ctx *r)
{
	static const char *own[] = {"state", "quarantine"};
	char p[PATH_MAX], d[PATH_MAX], dirs[STAGES_MAX][STAGES_TMPLLEN];
	int removed = 0, k, ndirs = 0, stage[STAGES_MAX];
	/* the distinct directories of the product templates */
	for (int s = 0; s < r->st.n; s++) {
		char *slash;
		int i;
		snprintf(d, sizeof d, "%s", r->st.v[s].product);
		if (!(slash = strrchr(d, '/')))
			continue;
		*slash = 0;
		for (i = 0; i < ndirs && strcmp(dirs[i], d); i++)
			;
		if (i < ndirs || strstr(d, "{S}") || strstr(d, "{H}"))
			continue; /* per-subband and per-hour directories: uvm-audit's */
		snprintf(dirs[ndirs], sizeof dirs[ndirs], "%s", d);
		stage[ndirs++] = s;
	}
	for (int j = 0; j < ndirs; j++) {
		if (!strstr(dirs[j], "{G}")) {
			if ((k = fsx_sweep_stale(cfg_path(r->c, dirs[j], p))) > 0)
				removed += k;
			continue;
		}
		for (int i = 0; i < r->p.ngroups; i++) {
			const struct plan_group *g = &r->p.groups[i];
			if (g->state == PS_DONE && !g->retired)
				continue;
			plan_product(&r->st, stage[j], g, 0, d);
			*strrchr(d, '/') = 0;
			if ((k = fsx_sweep_stale(cfg_path(r->c, d, p))) > 0)
				removed += k;
		}
	}
	for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
		if ((k = fsx_sweep_stale(cfg_path(r->c, own[i], p))) > 0)
			removed += k;
	if (removed)
		log_info("removed %d stale temporar%s", removed, removed == 1 ? "y" : "ies");
}

/*
 * After uvm-restore, the backed-up config is in config-restored/ (never
 * over the live one). A rebuild that skips putting it back plans with
 * fresh defaults: groups merged, good inputs quarantined as duplicates,
 * nothing made, exit 0. So while config-restored/uvmake.conf exists, the
 * values the grouping depends on must agree with it. 0 or EX_CONFIG.
 */
static int restored_config(struct plan_ctx *r)
{
	static const char *const keys[] = { "SUBBANDS", "GROUP_TOLERANCE", "PARTIAL_TIMEOUT",
		"PARTIAL_MIN", "INCOMING", "RULES_DIR", "MOSAIC_HOURS" };
	char dir[PATH_MAX], path[PATH_MAX + 16];
	struct cfg rc;
	int st = 0;
	snprintf(dir, sizeof dir, "%s/config-restored", r->c->home);
	snprintf(path, sizeof path, "%s/uvmake.conf", dir);
	if (access(path, F_OK) < 0)
		return 0;
	memset(&rc, 0, sizeof rc);
	if (cfg_load(&rc, dir) < 0) /* said why */
		return EX_CONFIG;
	for (size_t i = 0; i < sizeof keys / sizeof keys[0] && !st; i++) {
		const char *live = cfg_str(r->c, keys[i], ""), *old = cfg_str(&rc, keys[i], "");
		if (strcmp(live, old)) {
			log_err("%s=%s in '%s/uvmake.conf' but %s in the restored config '%s': put the "
			        "site config back (cp it there) or remove config-restored/ (ops/RECOVERY.md)",
			    keys[i], live, r->c->home, old, path);
			st = EX_CONFIG;
		}
	}
	cfg_free(&rc);
	return st;
}

/* Check the config values the plan depends on; 0 or EX_CONFIG. */
static int params(struct plan_ctx *r)
{
	struct plan_params *par = &r->p.par;
	const char *inc = cfg_str(r->c, "INCOMING", "incoming");
	size_t n;
	par->nsub = (int)cfg_int(r->c, "SUBBANDS", 16);
	par->tol = cfg_int(r->c, "GROUP_TOLERANCE", 60);
	par->timeout = cfg_int(r->c, "PARTIAL_TIMEOUT", 900);
	par->pmin = (int)cfg_int(r->c, "PARTIAL_MIN", 12);
	plan_order_params(&r->order, r->c);
	r->p.order = &r->order;
	r->p.st = &r->st;
	par->now = (long long)time(NULL);
	r->settle = cfg_int(r->c, "PLAN_SETTLE", 0);
	r->skew = cfg_int(r->c, "CLOCK_SKEW", 21600);
	if (r->settle < 0 || r->skew < 0) {
		log_err("invalid PLAN_SETTLE or CLOCK_SKEW in '%s/uvmake.conf'", r->c->home);
		return EX_CONFIG;
	}
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
	if (stages_rules_dir(r->c, r->rules) < 0) {
		log_err("cannot find the rules directory (set RULES_DIR in '%s/uvmake.conf')", r->c->home);
		return EX_CONFIG;
	}
	if (!plan_path_safe(r->c->home) || !plan_path_safe(r->rules) || !plan_path_safe(r->inrel)) {
		log_err("'%s', '%s' or '%s' has characters a makefile cannot hold", r->c->home, r->rules,
		    r->inrel);
		return EX_CONFIG;
	}
	snprintf(r->state, sizeof r->state, "%s/state", r->c->home);
	return restored_config(r);
}

/*
 * Does incoming file i of the plan verify (uvh5/check.h, the checks of
 * uvm-verify)? Cached in ok[i] (0 unknown, 1 valid, -1 not); the first
 * error into why (CHK_MSGLEN bytes). Only files that claim an already
 * claimed subband are read, so the cost is that of the duplicates.
 */
static int dup_valid(struct plan_ctx *r, int i, signed char *ok, char *why)
{
	char path[PATH_MAX * 2];
	struct chk_report *rep;
	if (ok[i])
		return ok[i] > 0;
	snprintf(path, sizeof path, "%s/%s", r->incoming, r->p.files[i].name);
	rep = malloc(sizeof *rep);
	if (!rep) {
		snprintf(why, CHK_MSGLEN, "out of memory");
		return 0; /* unknown: treated as not valid, not quarantined for it */
	}
	chk_init(rep);
	ok[i] = chk_file(path, rep) == 0 ? 1 : -1;
	snprintf(why, CHK_MSGLEN, "%s", rep->nerr ? rep->err[0] : "invalid");
	free(rep);
	return ok[i] > 0;
}

/*
 * Files repeating a subband of their group (a re-sent subband, a second
 * copy under another timestamp): the sort order does not choose. While
 * either copy is still being written, the group waits and nothing moves.
 * Otherwise both are verified: a valid copy is used and an invalid one
 * quarantined with a reason naming its valid twin (a good input is never
 * quarantined because of a bad twin); of two valid copies the first is
 * used and the other quarantined as a duplicate; of two invalid ones, the
 * first is left to uvm-verify (which quarantines it with its own reason).
 * 0, or -1 on ENOMEM.
 */
static int resolve_dups(struct plan_ctx *r, const int *dup, int ndup)
{
	struct plan *p = &r->p;
	signed char *ok = ndup ? calloc((size_t)p->nfiles, 1) : NULL;
	char wd[CHK_MSGLEN], wk[CHK_MSGLEN];
	if (ndup && !ok)
		return -1;
	for (int k = 0; k < ndup; k++) {
		int j = dup[k], kept, q;
		const struct plan_file *f = &p->files[j];
		struct plan_group *g = NULL;
		const char *why;
		int vd, vk;
		for (int i = 0; i < p->ngroups; i++)
			if (f->ts >= p->groups[i].first && f->ts - p->groups[i].first <= p->par.tol)
				g = &p->groups[i];
		if (!g)
			continue; /* cannot happen: every file is in a group */
		kept = g->file[f->sb];
		if (f->unsettled || p->files[kept].unsettled) {
			g->nunsettled++; /* decided once both are complete */
			continue;
		}
		vk = dup_valid(r, kept, ok, wk);
		vd = dup_valid(r, j, ok, wd);
		if (!vk && vd) {
			/* the used copy is bad, its twin good: swap */
			g->file[f->sb] = j;
			if (f->sb == 0)
				ids_group_id(f->ts, g->id);
			if (f->mtime > g->newest_mtime)
				g->newest_mtime = f->mtime;
			q = kept;
			why = wk;
		} else {
			q = j;
			why = vd ? NULL : wd;
		}
		if (why)
			vk = plan_queue(r, p->files[q].name,
			    "sb%02d of group %s does not verify (%s); its twin '%s' %s", f->sb, g->id, why,
			    p->files[g->file[f->sb]].name,
			    ok[g->file[f->sb]] > 0 ? "is used" : "does not either, and is left to uvm-verify");
		else
			vk = plan_queue(r, p->files[q].name,
			    "duplicate subband sb%02d in group %s, both valid (kept '%s')", f->sb, g->id,
			    p->files[g->file[f->sb]].name);
		if (vk < 0) {
			free(ok);
			return -1;
		}
	}
	free(ok);
	return 0;
}

static int decide(struct plan_ctx *r)
{
	double since[STAGES_MAX];
	struct plan *p = &r->p;
	int *dup, ndup;
	if (plan_group_files(p, &dup, &ndup) < 0)
		return -1;
	if (resolve_dups(r, dup, ndup) < 0) {
		free(dup);
		return -1;
	}
	free(dup);
	if (plan_settings_since(r, since) < 0)
		return -1;
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
		plan_cal_choose(r, g);
		if (plan_cal_stamp(r, g) < 0)
			return -1;
	}
	for (int i = 0; i < p->ngroups; i++) {
		struct plan_group *g = &p->groups[i];
		if (g->state == PS_DONE)
			continue;
		/* finished while a better table may still come, or before a
		 * setting of one of its stages changed: kept in the makefile,
		 * so that table or setting re-makes it */
		if (finished(r, g) && !inputs_newer(r, g) && !plan_cal_newer(r, g) &&
		    !plan_settings_newer(r, g, since) && !plan_cal_better_possible(r, g)) {
			if (retire(r, g) < 0)
				return -1;
			continue;
		}
		if (g->state == PS_WAITING && (!p->next_wakeup || g->deadline < p->next_wakeup))
			p->next_wakeup = g->deadline;
	}
	/* a file left out as unsettled is looked at again when it may be */
	if (r->settle_wakeup && (!p->next_wakeup || r->settle_wakeup < p->next_wakeup))
		p->next_wakeup = r->settle_wakeup;
	return 0;
}

static void cleanup(struct plan_ctx *r)
{
	plan_queue_free(r);
	plan_cal_free(&r->cal);
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
static void report(const struct plan_ctx *r)
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
static int outputs(struct plan_ctx *r, int nretired)
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
	if (plan_write_settings(r, path) < 0)
		goto fail;
	snprintf(path, sizeof path, "%s/pipeline.mk", r->state);
	if (plan_write_if_changed(path, mk, n, &changed) < 0)
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
	struct plan_ctx r;
	char path[PATH_MAX], err[PATH_MAX + 256];
	struct stat st;
	int status, lockfd = -1, nretired = 0;
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
	/* the graph: a description that cannot be used is a config error */
	snprintf(path, sizeof path, "%s/stages", r.rules);
	if (stages_load(&r.st, path, err, sizeof err) < 0) {
		log_err("%s", err);
		return EX_CONFIG;
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
		int e = errno;
		log_err("cannot open '%s': %s", r.homefd < 0 ? c->home : r.incoming, strerror(e));
		status = (e == ENOENT || e == ENOTDIR || e == EACCES) ? EX_NOINPUT : EX_IOERR;
		goto out;
	}
	if ((status = plan_scan(&r)) != 0)
		goto out;
	if (decide(&r) < 0 || plan_mosaics(&r.p, &r.done, &r.hours, r.homefd, &r.mos) < 0) {
		log_err("out of memory");
		status = EX_SOFTWARE;
		goto out;
	}
	plan_quarantine_all(&r);
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

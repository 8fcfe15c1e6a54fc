/*
 * uvm-audit: does the database agree with the file system?
 *
 * usage: uvm-audit [-D home] [-r] [-j]
 *
 * Checks, in order:
 *   - PRAGMA quick_check of every state/NAME.sqlite;
 *   - job records still "running" whose process is gone (stuck/lost jobs);
 *   - targets recorded as made ("ok") whose file is missing, unless the
 *     retention log says uvm-retain removed it on purpose;
 *   - quarantine records whose file is gone, and files in quarantine/
 *     with no reason file;
 *   - stale temporaries (NAME.tmp.PID of a dead process) under products/,
 *     caltables/, mosaics/ and state/.
 * Every finding is one line on stdout ("kind: subject: detail"); -j prints
 * a JSON report instead; the report is also written to state/audit.json.
 * -r repairs what is safe to repair: lost jobs are closed as class "lost",
 * missing products are forgotten so make re-makes them, stale temporaries
 * are removed. Nothing else is ever changed.
 *
 * Exit status: 0 consistent; 65 findings (listed); 74 a database failed
 * its quick_check or cannot be read; 66 not a deployment; 76 another audit
 * is running.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cfg.h"
#include "db.h"
#include "fsx.h"
#include "log.h"
#include "uvm.h"

#define USAGE "uvm-audit [-D home] [-r] [-j]"

struct report {
	char *json;   /* findings as JSON objects, comma separated */
	size_t n, cap;
	int count;
	int jflag;
};

static void jesc(struct report *r, const char *s);

static void add(struct report *r, const char *kind, const char *subject, const char *detail)
{
	if (!r->jflag)
		printf("%s: %s: %s\n", kind, subject, detail);
	size_t need = strlen(kind) + 2 * strlen(subject) + 2 * strlen(detail) + 64;
	if (r->n + need > r->cap) {
		r->cap = (r->cap + need) * 2;
		r->json = realloc(r->json, r->cap);
	}
	r->n += (size_t)sprintf(r->json + r->n, "%s{\"kind\":\"%s\",\"subject\":\"",
	    r->count ? "," : "", kind);
	jesc(r, subject);
	r->n += (size_t)sprintf(r->json + r->n, "\",\"detail\":\"");
	jesc(r, detail);
	r->n += (size_t)sprintf(r->json + r->n, "\"}");
	r->count++;
}

static void jesc(struct report *r, const char *s)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			r->n += (size_t)sprintf(r->json + r->n, "\\%c", ch);
		else if (ch < 0x20)
			r->n += (size_t)sprintf(r->json + r->n, "\\u%04x", ch);
		else
			r->json[r->n++] = (char)ch;
	}
	r->json[r->n] = 0;
}

static int quick_check(const char *path, struct report *r)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int bad = 0;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &st, NULL) != SQLITE_OK) {
		add(r, "database", path, db ? sqlite3_errmsg(db) : "cannot open");
		bad = 1;
	} else {
		while (sqlite3_step(st) == SQLITE_ROW) {
			const char *m = (const char *)sqlite3_column_text(st, 0);
			if (m && strcmp(m, "ok")) {
				add(r, "database", path, m);
				bad = 1;
			}
		}
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return bad;
}

int main(int argc, char **argv)
{
	const char *home = NULL;
	int opt, rflag = 0, dbbad = 0, lfd;
	struct report r = {0};
	struct cfg c;
	char path[PATH_MAX];
	sqlite3 *db;
	sqlite3_stmt *st;
	struct dirent **ents;
	int n;

	log_init(argv[0]);
	if (argc == 2 && !strcmp(argv[1], "--help")) {
		printf("usage: %s\n", USAGE);
		return fsx_close_stdout();
	}
	while ((opt = getopt(argc, argv, "D:rjh")) != -1) {
		switch (opt) {
		case 'D': home = optarg; break;
		case 'r': rflag = 1; break;
		case 'j': r.jflag = 1; break;
		case 'h': printf("usage: %s\n", USAGE); return fsx_close_stdout();
		default: return log_usage(USAGE);
		}
	}
	if (optind != argc)
		return log_usage(USAGE);
	if (cfg_load_deployment(&c, home) < 0)
		return EX_NOINPUT;
	lfd = fsx_lock(cfg_path(&c, "state/audit.lock", path), 1);
	if (lfd < 0) {
		log_err("another audit is running");
		cfg_free(&c);
		return UVM_EX_BUSY;
	}
	r.cap = 1024;
	r.json = calloc(1, r.cap);

	n = scandir(cfg_path(&c, "state", path), &ents, NULL, alphasort);
	for (int i = 0; i < n; i++) {
		size_t l = strlen(ents[i]->d_name);
		if (l > 7 && !strcmp(ents[i]->d_name + l - 7, ".sqlite")) {
			char p[PATH_MAX];
			snprintf(p, sizeof p, "%s/%s", path, ents[i]->d_name);
			dbbad |= quick_check(p, &r);
		}
		free(ents[i]);
	}
	if (n >= 0)
		free(ents);

	db = dbbad ? NULL : db_open(c.home);
	if (db) {
		/* lost jobs: running rows whose process is gone */
		if (sqlite3_prepare_v2(db, "SELECT id, target, pid FROM jobs WHERE ended IS NULL", -1, &st, NULL) == SQLITE_OK) {
			while (sqlite3_step(st) == SQLITE_ROW) {
				long pid = sqlite3_column_int64(st, 2);
				char d[128];
				if (pid > 0 && (kill((pid_t)pid, 0) == 0 || errno != ESRCH))
					continue;
				long long id = sqlite3_column_int64(st, 0);
				snprintf(d, sizeof d, "job %lld (pid %ld) never ended", id, pid);
				add(&r, "lost-job", (const char *)sqlite3_column_text(st, 1), d);
				if (rflag) {
					char sql[160];
					snprintf(sql, sizeof sql, "UPDATE jobs SET ended = strftime('%%s','now'),"
					    " class = 'lost' WHERE id = %lld", id);
					db_exec(db, sql);
				}
			}
			sqlite3_finalize(st);
		}
		/* made targets whose file is gone */
		if (sqlite3_prepare_v2(db, "SELECT target FROM targets WHERE state = 'ok'", -1, &st, NULL) == SQLITE_OK) {
			while (sqlite3_step(st) == SQLITE_ROW) {
				const char *t = (const char *)sqlite3_column_text(st, 0);
				char p[PATH_MAX];
				struct stat sb;
				snprintf(p, sizeof p, "%s/%s", c.home, t);
				if (stat(p, &sb) < 0 && errno == ENOENT)
					add(&r, "missing-product", t, "recorded as made, file absent");
			}
			sqlite3_finalize(st);
		}
		/* retention deletes the row with the file; a missing one is forgotten
		 * so the next cycle re-makes it if its group is still active */
		if (rflag && r.count)
			do {
				sqlite3_stmt *q;
				if (sqlite3_prepare_v2(db, "SELECT target FROM targets WHERE state = 'ok'", -1, &q, NULL) != SQLITE_OK)
					break;
				while (sqlite3_step(q) == SQLITE_ROW) {
					const char *t = (const char *)sqlite3_column_text(q, 0);
					char p[PATH_MAX];
					struct stat sb;
					snprintf(p, sizeof p, "%s/%s", c.home, t);
					if (stat(p, &sb) < 0 && errno == ENOENT) {
						sqlite3_stmt *del;
						if (sqlite3_prepare_v2(db, "DELETE FROM targets WHERE target = ?", -1, &del, NULL) == SQLITE_OK) {
							sqlite3_bind_text(del, 1, t, -1, SQLITE_TRANSIENT);
							sqlite3_step(del);
							sqlite3_finalize(del);
						}
					}
				}
				sqlite3_finalize(q);
			} while (0);
		/* quarantine rows whose file is gone */
		if (sqlite3_prepare_v2(db, "SELECT path FROM quarantine WHERE released IS NULL", -1, &st, NULL) == SQLITE_OK) {
			while (sqlite3_step(st) == SQLITE_ROW) {
				const char *q = (const char *)sqlite3_column_text(st, 0);
				char p[PATH_MAX];
				struct stat sb;
				snprintf(p, sizeof p, "%s%s%s", q[0] == '/' ? "" : c.home, q[0] == '/' ? "" : "/", q);
				if (lstat(p, &sb) < 0)
					add(&r, "quarantine", q, "recorded, file absent");
			}
			sqlite3_finalize(st);
		}
	}
	/* quarantined files without a reason */
	n = scandir(cfg_path(&c, "quarantine", path), &ents, NULL, alphasort);
	for (int i = 0; i < n; i++) {
		const char *nm = ents[i]->d_name;
		size_t l = strlen(nm);
		if (nm[0] != '.' && !(l > 7 && !strcmp(nm + l - 7, ".reason"))) {
			char p[PATH_MAX];
			struct stat sb;
			snprintf(p, sizeof p, "%s/%s.reason", path, nm);
			if (lstat(p, &sb) < 0)
				add(&r, "quarantine", nm, "no reason file");
		}
		free(ents[i]);
	}
	if (n >= 0)
		free(ents);
	/* stale temporaries (a dry count first; -r removes them) */
	{
		const char *dirs[] = {"products", "caltables", "mosaics", "state", NULL};
		for (int i = 0; dirs[i]; i++) {
			char cmd[PATH_MAX];
			cfg_path(&c, dirs[i], path);
			if (rflag) {
				int k = fsx_sweep_stale(path);
				if (k > 0) {
					snprintf(cmd, sizeof cmd, "%d removed", k);
					add(&r, "stale-temp", dirs[i], cmd);
				}
			} else {
				char *av[] = {"find", path, "-name", "*.tmp.[0-9]*", NULL};
				char *out = NULL;
				if (fsx_run(av, &out) == 0 && out)
					for (char *s = NULL, *l = strtok_r(out, "\n", &s); l; l = strtok_r(NULL, "\n", &s)) {
						long pid;
						const char *b = strrchr(l, '/');
						if (fsx_is_temp(b ? b + 1 : l, &pid) && kill((pid_t)pid, 0) < 0 && errno == ESRCH)
							add(&r, "stale-temp", l, "temporary of a dead process");
					}
				free(out);
			}
		}
	}
	db_close(db);

	{
		char *doc = malloc(r.n + 256);
		int len = sprintf(doc, "{\"time\":%lld,\"findings\":%d,\"database_ok\":%s,\"items\":[%s]}\n",
		    (long long)time(NULL), r.count, dbbad ? "false" : "true", r.json);
		if (r.jflag)
			fputs(doc, stdout);
		if (fsx_write_file(cfg_path(&c, "state/audit.json", path), doc, (size_t)len, 0644) < 0)
			log_warn("cannot write '%s': %s", path, strerror(errno));
		free(doc);
	}
	free(r.json);
	close(lfd);
	cfg_free(&c);
	int o = fsx_close_stdout();
	if (o)
		return o;
	return dbbad ? EX_IOERR : (r.count && !rflag) ? EX_DATAERR : 0;
}

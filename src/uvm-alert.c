/*
 * uvm-alert: threshold alerts on the pipeline's metrics, once per episode.
 *
 * usage: uvm-alert [-D home] [-r rules] [-n] [-a name]
 *
 * Reads the rules (-r, else config ALERT_RULES relative to the deployment,
 * else ops/alerts.conf next to the installed bin/), the metrics of
 * state/uvmake.prom (uvm-metrics, run it first; nothing else is read),
 * updates the episodes in state/alerts.sqlite and notifies through
 * ALERT_HOOK (a program, run without a shell, the alert JSON on stdin).
 * Without a hook, notifications are printed on stdout as JSON lines (cron
 * mails them). -n evaluates and prints without changing anything or running
 * the hook. -a name acknowledges the active episode of rule `name`: no more
 * re-notifications until it resolves. Run it from cron every minute.
 *
 * Exit status: 0; 64 usage; 65 bad rules file; 66 not a deployment, no
 * rules file, or (-a) no active episode of that name; 69 a hook failed
 * (retried next run); 74 database error; 76 another uvm-alert is running.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ops/alert.h"
#include "core/cfg.h"
#include "core/fsx.h"
#include "core/log.h"
#include "core/prog.h"
#include "core/uvm.h"

#define USAGE "uvm-alert [-D home] [-r rules] [-n] [-a name]"

int main(int argc, char **argv)
{
	const char *home = NULL, *rules = NULL, *ack = NULL;
	int opt, dry = 0, rc = 0, lock = -1;
	char path[PATH_MAX], rpath[PATH_MAX], hook[PATH_MAX] = "";
	struct cfg c;
	struct alert_metrics ms = {0};
	struct alert_rule *r = NULL;
	struct timespec ts;
	sqlite3 *db = NULL;

	prog_start(argc, argv, USAGE);
	while ((opt = getopt(argc, argv, "D:r:na:h")) != -1) {
		switch (opt) {
		case 'D': home = optarg; break;
		case 'r': rules = optarg; break;
		case 'n': dry = 1; break;
		case 'a': ack = optarg; break;
		case 'h': return prog_help(USAGE);
		default: return log_usage(USAGE);
		}
	}
	if (optind != argc || (ack && dry))
		return log_usage(USAGE);
	if (prog_deployment(&c, home))
		return EX_NOINPUT;
	clock_gettime(CLOCK_REALTIME, &ts);
	double now = (double)ts.tv_sec + ts.tv_nsec / 1e9;
	if (getenv("UVM_ALERT_NOW")) /* tests: a fixed clock */
		now = strtod(getenv("UVM_ALERT_NOW"), NULL);

	if (!dry) {
		if ((rc = prog_lock(&c, "state/alert.lock", "another uvm-alert is running ('%s' held)",
			 &lock)) != 0)
			goto out;
		db = alert_db_open(cfg_path(&c, "state/alerts.sqlite", path), 0);
		if (!db) {
			rc = EX_IOERR;
			goto out;
		}
	}
	if (ack) {
		int a = alert_ack(db, ack, now);
		if (a > 0)
			log_err("no active alert '%s'", ack);
		rc = a < 0 ? EX_IOERR : a > 0 ? EX_NOINPUT : 0;
		goto out;
	}

	if (rules)
		snprintf(rpath, sizeof rpath, "%s", rules);
	else
		alert_rules_path(&c, rpath);
	int nr = alert_rules_load(rpath, &r);
	if (nr < 0) {
		rc = errno == EINVAL ? EX_DATAERR : EX_NOINPUT;
		goto out;
	}
	char *prom = fsx_read_file(cfg_path(&c, cfg_str(&c, "METRICS_FILE", "state/uvmake.prom"), path), NULL);
	alert_metrics_parse(&ms, prom);
	free(prom);

	const char *h = cfg_str(&c, "ALERT_HOOK", "");
	if (*h)
		cfg_path(&c, h, hook); /* relative to the deployment unless absolute */
	struct alert_opts o = {
		.hook = hook, .renotify = cfg_double(&c, "ALERT_RENOTIFY", 3600),
		.keep_days = cfg_double(&c, "ALERT_HISTORY_DAYS", 365), .dry_run = dry,
		.out = (dry || !*hook) ? stdout : NULL,
	};
	if (dry) {
		db = alert_db_open(cfg_path(&c, "state/alerts.sqlite", path), 1);
		if (!db) /* nothing recorded yet: evaluate against an empty history */
			db = alert_db_open(":memory:", 0);
		if (!db) {
			rc = EX_IOERR;
			goto out;
		}
	}
	int e = alert_eval(db, r, nr, &ms, now, &o);
	rc = e < 0 ? EX_IOERR : e > 0 ? EX_UNAVAILABLE : 0;
out:
	if (db)
		sqlite3_close(db);
	if (lock >= 0)
		close(lock);
	alert_metrics_free(&ms);
	free(r);
	cfg_free(&c);
	int s = fsx_close_stdout();
	return rc ? rc : s;
}

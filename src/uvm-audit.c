/*
 * uvm-audit: does the database agree with the file system?
 *
 * usage: uvm-audit [-D home] [-r] [-j]
 *
 * The checks and the classes of findings are those of audit.h: database
 * quick_check failures, stuck jobs, products recorded but missing, products
 * present but unrecorded, stale temporaries, inputs the planner never saw,
 * calibration registry entries without their table and tables without an
 * entry, quarantine records without their file and files without a reason.
 * Each finding is one line on stdout, `class<TAB>subject<TAB>detail`
 * (subject: a path relative to the deployment, or an id), then one line a
 * class found, `summary<TAB>class<TAB>N found, M repaired`. -j prints one
 * JSON document instead. The report is also written to state/audit.json,
 * for uvm-status and monitoring.
 *
 * -r (--repair) repairs what is safe (audit.h): stale temporaries removed,
 * stuck jobs closed and their targets retried, records of missing products
 * forgotten, unregistered tables registered again. The rest is reported.
 *
 * Exit status, like diff and cmp: 0 consistent (or every finding
 * repaired); 1 findings remain; 64 usage; 65 a database is corrupt (fails
 * quick_check, is not a database) or its history is lost (emptied or
 * deleted: db_history_lost): restore it from a backup (ops/RECOVERY.md);
 * 66 not a deployment; 74 a database could not be checked (disk full or
 * an I/O error while checking: transient, not a reason to restore), or
 * stdout failed; 75 a database was busy: run again; 76 another audit is
 * running (cron-safe: non-blocking lock). The gravest database outcome
 * decides (65 over 74 over 75).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ops/audit.h"
#include "core/cfg.h"
#include "core/fsx.h"
#include "core/json.h"
#include "core/log.h"
#include "core/prog.h"
#include "core/term.h"
#include "core/uvm.h"

#define USAGE "uvm-audit [-D home] [-r] [-j]"

/* The JSON report (malloc'd), or NULL on ENOMEM. */
static char *json(const struct audit *a, int left)
{
	struct buf b = {0};
	buf_printf(&b, "{\"time\":%lld,\"findings\":%d,\"unrepaired\":%d,"
	    "\"database_ok\":%s,\"database\":\"%s\",\"classes\":{", (long long)time(NULL), a->n,
	    left, a->dbbad ? "false" : "true", a->dbstatus == EX_DATAERR ? "corrupt"
	    : a->dbbad ? "unchecked" : "ok");
	for (int c = 0, first = 1; audit_classes[c]; c++) {
		int k = 0, r = 0;
		for (int i = 0; i < a->n; i++)
			if (!strcmp(a->v[i].cls, audit_classes[c]))
				k++, r += a->v[i].repaired;
		buf_printf(&b, "%s\"%s\":{\"found\":%d,\"repaired\":%d}", first ? "" : ",",
		    audit_classes[c], k, r);
		first = 0;
	}
	buf_puts(&b, "},\"items\":[");
	for (int i = 0; i < a->n; i++) {
		buf_puts(&b, i ? ",{\"class\":" : "{\"class\":");
		json_str_buf(&b, a->v[i].cls);
		buf_puts(&b, ",\"subject\":");
		json_str_buf(&b, a->v[i].subject);
		buf_puts(&b, ",\"detail\":");
		json_str_buf(&b, a->v[i].detail);
		buf_puts(&b, a->v[i].repaired ? ",\"repaired\":true}" : ",\"repaired\":false}");
	}
	buf_puts(&b, "]}\n");
	return buf_take(&b);
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{"help", no_argument, NULL, 'h'},
		{"repair", no_argument, NULL, 'r'},
		{"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0},
	};
	const char *home = NULL;
	int opt, rflag = 0, jflag = 0, lfd, left = 0, st;
	struct audit a;
	struct cfg c;
	char path[PATH_MAX], *doc;

	prog_start(argc, argv, USAGE);
	while ((opt = getopt_long(argc, argv, "D:rjh", lopts, NULL)) != -1) {
		switch (opt) {
		case 'D': home = optarg; break;
		case 'r': rflag = 1; break;
		case 'j': jflag = 1; break;
		case 'h': return prog_help(USAGE);
		default: return log_usage(USAGE);
		}
	}
	if (optind != argc)
		return log_usage(USAGE);
	if (prog_deployment(&c, home))
		return EX_NOINPUT;
	if ((st = prog_lock(&c, "state/audit.lock", NULL, &lfd)) != 0) {
		cfg_free(&c);
		return st;
	}
	memset(&a, 0, sizeof a);
	if (audit_run(&c, rflag, &a) < 0) {
		log_err("out of memory");
		audit_free(&a);
		close(lfd);
		cfg_free(&c);
		return EX_SOFTWARE;
	}
	for (int i = 0; i < a.n; i++)
		left += !a.v[i].repaired;
	if (!jflag) {
		for (int i = 0; i < a.n; i++) {
			/* subjects and details hold names found on disk */
			fputs(a.v[i].cls, stdout);
			putchar('\t');
			term_fputs(stdout, a.v[i].subject);
			putchar('\t');
			term_fputs(stdout, a.v[i].detail);
			puts(a.v[i].repaired ? " (repaired)" : "");
		}
		for (int ci = 0; audit_classes[ci]; ci++) {
			int k = 0, r = 0;
			for (int i = 0; i < a.n; i++)
				if (!strcmp(a.v[i].cls, audit_classes[ci]))
					k++, r += a.v[i].repaired;
			if (k)
				printf("summary\t%s\t%d found, %d repaired\n", audit_classes[ci], k, r);
		}
	}
	doc = json(&a, left);
	if (doc) {
		if (jflag)
			fputs(doc, stdout);
		if (fsx_write_file(cfg_path(&c, "state/audit.json", path), doc, strlen(doc), 0644) < 0)
			log_warn("cannot write '%s': %s", path, strerror(errno));
		free(doc);
	}
	st = a.dbbad ? (a.dbstatus ? a.dbstatus : EX_IOERR) : left ? 1 : 0;
	audit_free(&a);
	close(lfd);
	cfg_free(&c);
	int o = fsx_close_stdout();
	return o ? o : st;
}

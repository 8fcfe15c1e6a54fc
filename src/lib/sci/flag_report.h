/*
 * flag_report.h: the summary of uvm-flag's per-group report
 * (products/<G>/flag.json, written by flag_run.c) that QA, the metrics and
 * the dashboard show: the overall flagged fraction and the names of the
 * dead and bad antennas.
 *
 * The report is read with core/json's strict reader: a report that is not
 * valid JSON, lacks a finite "flagged_fraction" in [0, 1], or whose antenna
 * lists are not arrays of objects with a string "name" is refused whole
 * (never half-read); so is a name longer than FLAG_REPORT_NAMELEN - 1
 * bytes (UVH5 antenna names are a few characters). Lists longer than
 * FLAG_REPORT_MAXANT keep their first names and their full count.
 */
#ifndef UVM_FLAG_REPORT_H
#define UVM_FLAG_REPORT_H

#include <stddef.h>

#include "core/ids.h"
#include "core/stages.h"

#define FLAG_REPORT_MAXANT 64
#define FLAG_REPORT_NAMELEN 64

struct flag_report {
	double fraction;                    /* flagged_fraction */
	int ndead, nbad;                    /* all listed antennas */
	int ldead, lbad;                    /* names kept (at most MAXANT) */
	char dead[FLAG_REPORT_MAXANT][FLAG_REPORT_NAMELEN];
	char bad[FLAG_REPORT_MAXANT][FLAG_REPORT_NAMELEN];
};

/*
 * Read the report at path into r. 1 read, 0 no report (ENOENT), -1 with a
 * one-line reason in err (unreadable, not a regular file, invalid).
 */
int flag_report_read(const char *path, struct flag_report *r, char *err, size_t errlen);
/*
 * The report of the newest group of the deployment at home: the greatest
 * group id under products/ whose report exists, the report's path taken
 * from the stage description st (stages_report). 1 with the group in grp
 * and the report in r, 0 when there is none (or st has no report stage),
 * -1 with err when the newest report cannot be read.
 */
int flag_report_latest(const char *home, const struct stages *st, char grp[IDS_LEN],
    struct flag_report *r, char *err, size_t errlen);

#endif

/*
 * flag_report.c: read the summary of a flag report (contract in
 * flag_report.h).
 *
 * The file is read with fsx_read_file (O_NOFOLLOW, regular files only);
 * group directories are recognised by their strict id (ids_parse_group),
 * so nothing else under products/ is looked at.
 */
#include "sci/flag_report.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fsx.h"
#include "core/json.h"

struct names {
	char (*v)[FLAG_REPORT_NAMELEN];
	int n, kept;
};

/* json_get_array callback: an antenna object's "name" into the list. */
static int one_name(const char *elem, size_t len, void *arg)
{
	struct names *l = arg;
	char *o = malloc(len + 1), name[FLAG_REPORT_NAMELEN];
	int r;

	if (!o)
		return -1;
	memcpy(o, elem, len);
	o[len] = 0;
	r = json_get_string(o, "name", name, sizeof name);
	free(o);
	if (r != 1)
		return -1;
	if (l->kept < FLAG_REPORT_MAXANT)
		memcpy(l->v[l->kept++], name, sizeof name);
	l->n++;
	return 0;
}

int flag_report_read(const char *path, struct flag_report *r, char *err, size_t errlen)
{
	struct names dead = {r->dead, 0, 0}, bad = {r->bad, 0, 0};
	char *js = fsx_read_file(path, NULL);
	double f = NAN;
	int ok;

	if (!js) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "cannot read '%s': %s", path, strerror(errno));
		return -1;
	}
	ok = json_get_number(js, "flagged_fraction", &f) == 1 && f >= 0 && f <= 1 &&
	    json_get_array(js, "dead_antennas", one_name, &dead) >= 0 &&
	    json_get_array(js, "bad_antennas", one_name, &bad) >= 0;
	free(js);
	if (!ok) {
		snprintf(err, errlen, "'%s': not a flag report", path);
		return -1;
	}
	r->fraction = f;
	r->ndead = dead.n;
	r->ldead = dead.kept;
	r->nbad = bad.n;
	r->lbad = bad.kept;
	return 1;
}

static int by_id_desc(const void *a, const void *b)
{
	return strcmp(b, a);
}

int flag_report_latest(const char *home, const struct stages *st, char grp[IDS_LEN],
    struct flag_report *r, char *err, size_t errlen)
{
	int s = stages_report(st), rc = 0;
	size_t n = 0, cap = 0;
	char dir[PATH_MAX], rel[PATH_MAX], path[PATH_MAX], (*ids)[IDS_LEN] = NULL;
	struct dirent *e;
	long long ep;
	DIR *d;

	if (s < 0)
		return 0;
	snprintf(dir, sizeof dir, "%s/products", home);
	if (!(d = opendir(dir)))
		return 0;
	while ((e = readdir(d))) {
		if (strlen(e->d_name) != IDS_LEN - 1 || ids_parse_group(e->d_name, &ep) < 0)
			continue;
		if (n == cap) {
			void *p = realloc(ids, (cap = cap ? 2 * cap : 64) * sizeof *ids);
			if (!p) {
				snprintf(err, errlen, "out of memory");
				rc = -1;
				goto out;
			}
			ids = p;
		}
		memcpy(ids[n++], e->d_name, IDS_LEN);
	}
	if (n)
		qsort(ids, n, sizeof *ids, by_id_desc);
	for (size_t i = 0; i < n && rc == 0; i++) {
		snprintf(path, sizeof path, "%s/%s", home, stages_also(st, s, 0, ids[i], 0, rel));
		if ((rc = flag_report_read(path, r, err, errlen)) == 1)
			memcpy(grp, ids[i], IDS_LEN);
	}
out:
	closedir(d);
	free(ids);
	return rc;
}

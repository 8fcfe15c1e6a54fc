/*
 * test_quar.c: unit tests of core/quar (the one quarantine mover): names
 * never reused (numeric suffixes, a stray .reason counts as taken, a name
 * ending in .reason is never used bare), the exact reason file text, and a
 * failed move leaving the source and no reason file. TAP output.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fsx.h"
#include "core/quar.h"

static int n, failed;

static void ok(int cond, const char *name)
{
	n++;
	if (!cond)
		failed++;
	printf("%s %d - %s\n", cond ? "ok" : "not ok", n, name);
}

static char root[] = "/tmp/test_quar.XXXXXX";

static void put(const char *rel, const char *text)
{
	char p[PATH_MAX];
	snprintf(p, sizeof p, "%s/%s", root, rel);
	fsx_write_file(p, text, strlen(text), 0644);
}

/* The contents of root/rel, or "" (static). */
static const char *get(const char *rel)
{
	static char *last;
	char p[PATH_MAX];
	size_t len;
	free(last);
	snprintf(p, sizeof p, "%s/%s", root, rel);
	last = fsx_read_file(p, &len);
	return last ? last : "";
}

static int exists(const char *rel)
{
	char p[PATH_MAX];
	struct stat st;
	snprintf(p, sizeof p, "%s/%s", root, rel);
	return lstat(p, &st) == 0;
}

int main(void)
{
	char src[PATH_MAX], q[PATH_MAX], qn[NAME_MAX + 1];
	if (!mkdtemp(root))
		return 1;
	snprintf(q, sizeof q, "%s/quarantine", root);
	mkdir(strcat(strcpy(src, root), "/in"), 0755);

	put("in/a.hdf5", "AAA");
	snprintf(src, sizeof src, "%s/in/a.hdf5", root);
	ok(quar_move(src, q, "a.hdf5", "reason: bad\n", "incoming/a.hdf5", "quarantine", qn) == 0 &&
	       !strcmp(qn, "a.hdf5") && !exists("in/a.hdf5") && !strcmp(get("quarantine/a.hdf5"), "AAA"),
	    "moved under its own name, directory created");
	ok(!strcmp(get("quarantine/a.hdf5.reason"),
	       "reason: bad\ninput: incoming/a.hdf5\nquarantined-as: quarantine/a.hdf5\n"),
	    "reason file: the caller's lines, input and name");

	put("in/a.hdf5", "BBB");
	put("quarantine/a.hdf5.1.reason", "stray\n");
	ok(quar_move(src, q, "a.hdf5", "", "incoming/a.hdf5", "quarantine", qn) == 0 && !strcmp(qn, "a.hdf5.2") &&
	       !strcmp(get("quarantine/a.hdf5"), "AAA") && !strcmp(get("quarantine/a.hdf5.2"), "BBB") &&
	       !strcmp(get("quarantine/a.hdf5.1.reason"), "stray\n") && !exists("quarantine/a.hdf5.1"),
	    "taken names and names with a stray reason are skipped, nothing overwritten");

	put("in/x.reason", "R");
	snprintf(src, sizeof src, "%s/in/x.reason", root);
	ok(quar_move(src, q, "x.reason", "", "incoming/x.reason", "quarantine", qn) == 0 &&
	       !strcmp(qn, "x.reason.1") && !exists("quarantine/x.reason"),
	    "a name ending in .reason is never used bare");

	snprintf(src, sizeof src, "%s/in/missing.hdf5", root);
	errno = 0;
	ok(quar_move(src, q, "missing.hdf5", "", "incoming/missing.hdf5", "quarantine", qn) == -1 &&
	       errno == ENOENT && !exists("quarantine/missing.hdf5.reason"),
	    "a failed move: -1 ENOENT, its reason file removed");

	{
		char cmd[PATH_MAX + 16];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
		if (system(cmd) != 0)
			return 1;
	}
	printf("1..%d\n", n);
	return failed != 0;
}

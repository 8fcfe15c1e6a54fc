/*
 * test_fsx.c: the atomic output helper's guarantees, checked on the file
 * system: the final name appears only on commit, an abort leaves nothing,
 * a non-regular target (device, directory, FIFO, symlink) is refused, and
 * stale temporaries of dead processes are swept while live ones are kept.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fsx.h"

static int n, fails;

static void ok(int cond, const char *name)
{
	printf("%sok %d - %s\n", cond ? "" : "not ", ++n, name);
	if (!cond)
		fails++;
}

static int exists(const char *p)
{
	struct stat st;
	return lstat(p, &st) == 0;
}

int main(void)
{
	char dir[] = "/tmp/test_fsx.XXXXXX", p[512], q[512];
	struct fsx_out o;
	size_t len;
	char *text;

	if (!mkdtemp(dir))
		return 1;
	snprintf(p, sizeof p, "%s/out.txt", dir);
	ok(fsx_reserve(&o, p, 0644) == 0, "reserve");
	ok(!exists(p) && exists(o.tmp), "only the temporary exists before commit");
	ok(fsx_write_all(o.fd, "hello", 5) == 0, "write");
	ok(fsx_commit(&o) == 0 && exists(p) && !exists(o.tmp), "commit renames into place");
	text = fsx_read_file(p, &len);
	ok(text && len == 5 && !strcmp(text, "hello"), "content whole");
	free(text);

	ok(fsx_reserve(&o, p, 0644) == 0, "reserve over an existing product");
	fsx_write_all(o.fd, "partial", 7);
	fsx_abort(&o);
	text = fsx_read_file(p, NULL);
	ok(text && !strcmp(text, "hello") && !exists(o.tmp), "abort keeps the old product, no temporary");
	free(text);

	ok(fsx_reserve(&o, "/dev/null", 0644) < 0 && errno == EEXIST, "a device is refused");
	ok(fsx_reserve(&o, dir, 0644) < 0 && errno == EISDIR, "a directory is refused");
	snprintf(q, sizeof q, "%s/link", dir);
	ok(symlink(p, q) == 0 && fsx_reserve(&o, q, 0644) < 0, "a symlink is refused");
	snprintf(q, sizeof q, "%s/fifo", dir);
	ok(mkfifo(q, 0644) == 0 && fsx_reserve(&o, q, 0644) < 0, "a FIFO is refused");

	long pid;
	ok(fsx_is_temp("vis.uvh5.tmp.123", &pid) && pid == 123, "temp name recognised");
	ok(!fsx_is_temp("vis.uvh5", NULL) && !fsx_is_temp("a.tmp.x1", NULL), "other names are not temps");
	snprintf(q, sizeof q, "%s/dead.tmp.999999", dir);
	fclose(fopen(q, "w"));
	snprintf(p, sizeof p, "%s/live.tmp.%ld", dir, (long)getpid());
	fclose(fopen(p, "w"));
	ok(fsx_sweep_stale(dir) == 1 && !exists(q) && exists(p), "sweep removes dead temps only");
	unlink(p);

	snprintf(p, sizeof p, "%s/whole.txt", dir);
	ok(fsx_write_file(p, "abc", 3, 0600) == 0, "write_file");
	ok(fsx_write_file("/proc/forbidden/x", "abc", 3, 0600) < 0, "write_file into an unwritable place fails");

	snprintf(q, sizeof q, "rm -rf '%s'", dir);
	if (system(q) != 0)
		fails++;
	printf("1..%d\n", n);
	return fails != 0;
}

/*
 * run_endslot.c: evidence of a job's end that needs no new disk space
 * (contract in run.h).
 *
 * On a full disk the wrapper can run a job to its end and then fail to
 * record that end: SQLite has no room to append to its WAL. The row stays
 * 'running', and whoever sweeps it later (the next attempt's close_lost,
 * the audit) used to close it as "lost: the wrapper died", which is not
 * what happened. So at the start, while there is room, the wrapper
 * writes state/ends/<job id>: RUN_ENDSLOT_LEN bytes of blanks, whose
 * blocks the file system then holds. When the end cannot be recorded the
 * wrapper overwrites them in place with one line (no new block: on tmpfs
 * the page exists, on ext4 and XFS the blocks are allocated or reserved
 * at the first write), and the sweeper closes the row from that line.
 * A recorded end removes the slot.
 */
#include "engine/run.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fsx.h"

static void slot_path(const char *home, long long id, char *p)
{
	snprintf(p, PATH_MAX, "%s/state/ends/%lld", home, id);
}

int run_endslot_make(const char *home, long long id)
{
	char p[PATH_MAX], dir[PATH_MAX], blank[RUN_ENDSLOT_LEN];
	int fd, rc;
	snprintf(dir, sizeof dir, "%s/state/ends", home);
	if (fsx_mkdirs(dir, 0755) < 0)
		return -1;
	slot_path(home, id, p);
	if ((fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644)) < 0)
		return -1;
	memset(blank, ' ', sizeof blank);
	blank[sizeof blank - 1] = '\n';
	rc = fsx_write_all(fd, blank, sizeof blank);
	if (close(fd) < 0 || rc < 0) {
		unlink(p);
		return -1;
	}
	return 0;
}

int run_endslot_write(const char *home, long long id, const struct run_end *e, const char *why)
{
	char p[PATH_MAX], line[RUN_ENDSLOT_LEN];
	int fd, n, rc;
	slot_path(home, id, p);
	memset(line, ' ', sizeof line);
	n = snprintf(line, sizeof line - 1, "%.3f %d %d %s %s", e->ended, e->status, e->sig,
	    run_class_name(e->cls), why);
	if (n < 0)
		return -1;
	for (int i = 0; i < (int)sizeof line - 1; i++)
		if (line[i] == '\n' || line[i] == 0)
			line[i] = ' ';
	line[sizeof line - 1] = '\n';
	if ((fd = open(p, O_WRONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return -1;
	rc = pwrite(fd, line, sizeof line, 0) == (ssize_t)sizeof line ? 0 : -1;
	if (fdatasync(fd) < 0)
		rc = -1;
	if (close(fd) < 0)
		rc = -1;
	return rc;
}

int run_endslot_read(const char *home, long long id, struct run_endslot *s)
{
	char p[PATH_MAX], *text, cls[32];
	int used = 0;
	size_t len;
	slot_path(home, id, p);
	memset(s, 0, sizeof *s);
	if (!(text = fsx_read_file(p, &len)))
		return 0;
	if (len == RUN_ENDSLOT_LEN && sscanf(text, "%lf %d %d %31s %n", &s->ended, &s->status,
		&s->sig, cls, &used) == 4 && used > 0) {
		size_t k = strlen(text + used);
		while (k > 0 && (text[used + k - 1] == ' ' || text[used + k - 1] == '\n'))
			k--;
		snprintf(s->cls, sizeof s->cls, "%s", cls);
		snprintf(s->why, sizeof s->why, "%.*s", (int)k, text + used);
		free(text);
		return 1;
	}
	free(text);
	return 0;
}

void run_endslot_drop(const char *home, long long id)
{
	char p[PATH_MAX];
	slot_path(home, id, p);
	unlink(p);
}

/*
 * run_slots.c: the resources a job holds while it runs (contract in run.h):
 * a per-stage concurrency slot and a declared peak of memory, and the
 * reservation files the staging area (run_stage.c) shares.
 *
 * Everything is an flock(2) on a file under state/slots/, opened
 * O_CLOEXEC so only the wrapper holds it (never the job it execs): the
 * kernel drops the lock when the wrapper exits or is SIGKILLed, so no
 * slot or reservation outlives its holder and nothing has to be cleaned
 * up after a crash.
 *
 *   slot.<stage>.<i>   SLOTS_<stage> files; a job holds one with LOCK_EX
 *                      (the file says who, for people and tests)
 *   mem.<pid>, stg.<pid>  one reservation each (MB of memory, bytes of
 *                      staging), "amount jobpid" inside, LOCK_EX by its
 *                      wrapper; a reader that can lock one finds a dead
 *                      holder and removes it
 *   lock               held (briefly, blocking) around every "measure,
 *                      add up the reservations, reserve" sequence, so two
 *                      wrappers never both take the last of something
 *
 * A job that cannot have its slot or memory yet waits, polling with a
 * growing interval (50 ms to 1 s), logging once that it waits; TERM/INT/HUP
 * end the wait. The wait does not count towards the job's timeout (which
 * guards against a hung job, not a busy machine); RESOURCE_WAIT_MAX bounds
 * it, after which the wrapper gives up with class "resource" and exit 75,
 * not counted, so the next make cycle simply tries again.
 *
 * Memory: a job is admitted when MemAvailable (/proc/meminfo, or the file
 * named by $UVM_MEMINFO for tests) less what the other admitted jobs have
 * reserved and not yet touched (declared peak minus the job's current
 * VmRSS, which MemAvailable already counts) is at least MEM_<stage>. A
 * declared peak larger than MemTotal can never be met: such a job runs
 * alone (no other reservation live) with a warning, so work never stalls.
 */
#include "engine/run.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fsx.h"
#include "core/log.h"
#include "core/uvm.h"

int run_mem_admit(long long avail_mb, long long total_mb, long long others_mb, int nothers,
    long long need_mb)
{
	if (need_mb <= 0)
		return 1;
	if (avail_mb - others_mb >= need_mb)
		return 1;
	return need_mb > total_mb && nothers == 0;
}

int run_meminfo(long long *avail_mb, long long *total_mb)
{
	const char *path = getenv("UVM_MEMINFO");
	char line[256];
	long long av = -1, tot = -1, v;
	FILE *f = fopen(path && *path ? path : "/proc/meminfo", "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f)) {
		if (sscanf(line, "MemAvailable: %lld", &v) == 1)
			av = v;
		else if (sscanf(line, "MemTotal: %lld", &v) == 1)
			tot = v;
	}
	fclose(f);
	if (av < 0 || tot < 0)
		return -1;
	*avail_mb = av / 1024;
	*total_mb = tot / 1024;
	return 0;
}

/* VmRSS of pid in MB, or 0 when unknown. */
static long long rss_mb(long pid)
{
	char path[64], line[256];
	long long kb = 0;
	FILE *f;
	if (pid <= 0)
		return 0;
	snprintf(path, sizeof path, "/proc/%ld/status", pid);
	if (!(f = fopen(path, "re")))
		return 0;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "VmRSS: %lld", &kb) == 1)
			break;
	fclose(f);
	return kb / 1024;
}

char *run_slots_dir(const struct cfg *c, char *buf)
{
	cfg_path(c, "state/slots", buf);
	return buf;
}

int run_res_lock(const struct cfg *c)
{
	char dir[PATH_MAX], path[PATH_MAX + 8];
	int fd;
	run_slots_dir(c, dir);
	if (fsx_mkdirs(dir, 0755) < 0)
		return -1;
	snprintf(path, sizeof path, "%s/lock", dir);
	if ((fd = fsx_lock(path, 0)) < 0)
		log_err("cannot lock '%s': %s", path, strerror(errno));
	return fd;
}

long long run_res_sum(const struct cfg *c, const char *kind, int rss_adjust, const char *tag,
    int *n)
{
	char dir[PATH_MAX], path[PATH_MAX + NAME_MAX + 2], buf[PATH_MAX + 64], t[PATH_MAX];
	size_t kl = strlen(kind);
	long long sum = 0;
	struct dirent *e;
	DIR *d = opendir(run_slots_dir(c, dir));
	*n = 0;
	if (!d)
		return 0;
	while ((e = readdir(d))) {
		long long amount = 0;
		long jobpid = 0, pid;
		char *end;
		ssize_t r;
		int fd;
		if (strncmp(e->d_name, kind, kl) || e->d_name[kl] != '.')
			continue;
		pid = strtol(e->d_name + kl + 1, &end, 10);
		if (*end || pid == (long)getpid())
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
			continue;
		if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
			/* nobody holds it: its wrapper is gone */
			unlink(path);
			close(fd);
			continue;
		}
		r = read(fd, buf, sizeof buf - 1);
		close(fd);
		buf[r > 0 ? r : 0] = 0;
		t[0] = 0;
		if (sscanf(buf, "%lld %ld %4095s", &amount, &jobpid, t) < 1)
			continue;
		if (tag && strcmp(tag, t))
			continue;
		if (rss_adjust) {
			amount -= rss_mb(jobpid);
			if (amount < 0)
				amount = 0;
		}
		sum += amount;
		(*n)++;
	}
	closedir(d);
	return sum;
}

int run_res_take(const struct cfg *c, const char *kind, long long amount, const char *tag,
    char *path)
{
	char dir[PATH_MAX], buf[PATH_MAX + 64];
	int fd, len;
	snprintf(path, PATH_MAX, "%s/%s.%ld", run_slots_dir(c, dir), kind, (long)getpid());
	unlink(path);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0) {
		log_err("cannot reserve '%s': %s", path, strerror(errno));
		if (fd >= 0) {
			unlink(path);
			close(fd);
		}
		return -1;
	}
	len = snprintf(buf, sizeof buf, "%lld 0 %s\n", amount, tag && *tag ? tag : "-");
	if (fsx_write_all(fd, buf, (size_t)len) < 0) {
		log_err("cannot write '%s': %s", path, strerror(errno));
		unlink(path);
		close(fd);
		return -1;
	}
	return fd;
}

void run_res_note_pid(int fd, long long amount, long jobpid)
{
	char buf[64];
	int len = snprintf(buf, sizeof buf, "%lld %ld -\n", amount, jobpid);
	if (fd >= 0 && ftruncate(fd, 0) == 0)
		(void)!pwrite(fd, buf, (size_t)len, 0);
}

void run_res_drop(int *fd, char *path)
{
	if (*fd < 0)
		return;
	unlink(path);
	close(*fd);
	*fd = -1;
	path[0] = 0;
}

/* Try each slot file of the stage without blocking; 1 taken, 0 all busy,
 * -1 error. */
static int try_slot(struct run_res *r, const struct cfg *c, const char *stage, int nslots,
    const char *target)
{
	char dir[PATH_MAX], path[PATH_MAX + 300], buf[PATH_MAX + 64];
	run_slots_dir(c, dir);
	if (fsx_mkdirs(dir, 0755) < 0) {
		log_err("cannot create '%s': %s", dir, strerror(errno));
		return -1;
	}
	for (int i = 0; i < nslots; i++) {
		int fd, len;
		snprintf(path, sizeof path, "%s/slot.%s.%d", dir, stage, i);
		fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd < 0) {
			log_err("cannot open '%s': %s", path, strerror(errno));
			return -1;
		}
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			close(fd);
			continue;
		}
		len = snprintf(buf, sizeof buf, "%ld %s\n", (long)getpid(), target);
		if (ftruncate(fd, 0) == 0)
			(void)!pwrite(fd, buf, (size_t)len, 0);
		r->slot_fd = fd;
		r->slot = i;
		return 1;
	}
	return 0;
}

/* Reserve the stage's memory if admitted now; 1 reserved, 0 not yet, -1
 * error. *why gets the numbers when refused. */
static int try_mem(struct run_res *r, const struct cfg *c, char *why, size_t n)
{
	long long avail, total, others;
	int nothers, lk, ok;
	if (run_meminfo(&avail, &total) < 0) {
		log_warn("cannot read MemAvailable: admitting without a memory check");
		r->mem_mb = 0;
		return 1;
	}
	if ((lk = run_res_lock(c)) < 0)
		return -1;
	others = run_res_sum(c, "mem", 1, NULL, &nothers);
	ok = run_mem_admit(avail, total, others, nothers, r->mem_mb);
	if (ok) {
		if (r->mem_mb > total)
			log_warn("declared peak memory %lld MB exceeds MemTotal %lld MB: running alone",
			    r->mem_mb, total);
		r->mem_fd = run_res_take(c, "mem", r->mem_mb, NULL, r->mem_path);
		if (r->mem_fd < 0)
			ok = -1;
	} else {
		snprintf(why, n, "%lld MB of memory (%lld MB available, %lld MB reserved by %d job%s)",
		    r->mem_mb, avail, others, nothers, nothers == 1 ? "" : "s");
	}
	close(lk);
	return ok;
}

void run_res_init(struct run_res *r)
{
	memset(r, 0, sizeof *r);
	r->slot_fd = r->mem_fd = -1;
	r->slot = -1;
}

int run_res_acquire(struct run_res *r, const struct cfg *c, const char *stage, const char *target,
    int sfd, int logfd, const char *grp)
{
	char key[128], why[256] = "", logged[256] = "";
	long long nslots;
	double maxwait = cfg_double(c, "RESOURCE_WAIT_MAX", 3600), t0 = run_now(), delay = 0.05;
	snprintf(key, sizeof key, "SLOTS_%s", stage);
	nslots = cfg_int(c, key, 0);
	snprintf(key, sizeof key, "MEM_%s", stage);
	r->mem_mb = cfg_int(c, key, 0);
	r->waited = 0;
	for (;;) {
		int rc;
		if (nslots > 0 && r->slot_fd < 0) {
			if ((rc = try_slot(r, c, stage, (int)nslots, target)) < 0)
				return -1;
			if (!rc)
				snprintf(why, sizeof why, "a '%s' slot (SLOTS_%s=%lld)", stage, stage,
				    nslots);
		}
		if ((nslots <= 0 || r->slot_fd >= 0) && r->mem_mb > 0 && r->mem_fd < 0) {
			if ((rc = try_mem(r, c, why, sizeof why)) < 0) {
				run_res_release(r);
				return -1;
			}
		}
		if ((nslots <= 0 || r->slot_fd >= 0) && (r->mem_mb <= 0 || r->mem_fd >= 0))
			break;
		if (strcmp(why, logged)) {
			run_log_line(logfd, grp, "waiting for %s", why);
			snprintf(logged, sizeof logged, "%s", why);
		}
		if (run_now() - t0 >= maxwait) {
			log_err("'%s' not started: waited %.0f s for %s (RESOURCE_WAIT_MAX)", target,
			    run_now() - t0, why);
			run_log_line(logfd, grp, "not started: waited %.0f s for %s", run_now() - t0,
			    why);
			snprintf(r->note, sizeof r->note, "waited %.0f s for %s", run_now() - t0, why);
			run_res_release(r);
			return 1;
		}
		if (run_sleep(sfd, delay)) {
			log_err("'%s' interrupted while waiting for %s", target, why);
			run_res_release(r);
			return 2;
		}
		delay = delay * 2 > 1 ? 1 : delay * 2;
	}
	r->waited = run_now() - t0;
	if (logged[0])
		run_log_line(logfd, grp, "waited %.2f s for resources", r->waited);
	return 0;
}

void run_res_started(struct run_res *r, long jobpid)
{
	run_res_note_pid(r->mem_fd, r->mem_mb, jobpid);
}

void run_res_release(struct run_res *r)
{
	run_res_drop(&r->mem_fd, r->mem_path);
	if (r->slot_fd >= 0) {
		if (ftruncate(r->slot_fd, 0) < 0)
			(void)0;
		close(r->slot_fd);
		r->slot_fd = -1;
		r->slot = -1;
	}
}

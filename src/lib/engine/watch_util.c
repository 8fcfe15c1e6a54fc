/*
 * watch_util.c: the small pure pieces of uvm-watch (contract in watch.h):
 * which incoming names never count, seconds on the command line and the
 * sd_notify datagram (JSON reading and writing is core/json.c). The notification protocol is one datagram of "KEY=value"
 * lines to the unix socket named by $NOTIFY_SOCKET ('@' for the abstract
 * namespace), so it is done here directly rather than through libsystemd.
 */
#include "engine/watch.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/fsx.h"

int watch_ignored(const char *name)
{
	static const char incomplete[] = "_incomplete.hdf5";
	size_t n = strlen(name), k = sizeof incomplete - 1;
	if (n == 0 || name[0] == '.')
		return 1;
	if (fsx_is_temp(name, NULL))
		return 1;
	return n >= k && !strcmp(name + n - k, incomplete);
}

int watch_parse_secs(const char *s, double *out)
{
	char *end;
	double v;
	if (!s || !*s || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !isfinite(v) || v < 0 || v > 1e7)
		return -1;
	*out = v;
	return 0;
}

/* ---- sd_notify ---- */

static struct sockaddr_un notify_addr;
static socklen_t notify_len;
static int notify_fd = -1;
static char *saved_env[3]; /* NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID */
static const char *const env_names[3] = {"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"};

double watch_notify_init(void)
{
	const char *s = getenv("NOTIFY_SOCKET");
	const char *us = getenv("WATCHDOG_USEC");
	const char *wp = getenv("WATCHDOG_PID");
	double interval = 0;
	size_t n;
	notify_len = 0;
	if (s && (s[0] == '/' || s[0] == '@') && (n = strlen(s)) < sizeof notify_addr.sun_path) {
		memset(&notify_addr, 0, sizeof notify_addr);
		notify_addr.sun_family = AF_UNIX;
		memcpy(notify_addr.sun_path, s, n);
		if (s[0] == '@')
			notify_addr.sun_path[0] = 0;
		notify_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	}
	if (us && *us) {
		char *end;
		unsigned long long v = strtoull(us, &end, 10);
		int ours = !wp || !*wp || strtol(wp, NULL, 10) == (long)getpid();
		if (!*end && v > 0 && ours)
			interval = (double)v / 2e6;
	}
	for (int i = 0; i < 3; i++) {
		const char *v = getenv(env_names[i]);
		free(saved_env[i]);
		saved_env[i] = v ? strdup(v) : NULL;
		unsetenv(env_names[i]);
	}
	return interval;
}

int watch_notify(const char *msg)
{
	if (!notify_len)
		return 0;
	if (notify_fd < 0) {
		notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (notify_fd < 0)
			return -1;
	}
	if (sendto(notify_fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&notify_addr,
		notify_len) < 0)
		return -1;
	return 0;
}

void watch_notify_restore_env(void)
{
	for (int i = 0; i < 3; i++)
		if (saved_env[i])
			setenv(env_names[i], saved_env[i], 1);
}

void watch_notify_close(void)
{
	if (notify_fd >= 0)
		close(notify_fd);
	notify_fd = -1;
}

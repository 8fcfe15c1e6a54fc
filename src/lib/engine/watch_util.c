/*
 * watch_util.c: the small pure pieces of uvm-watch (contract in watch.h):
 * which incoming names never count, seconds on the command line, just
 * enough JSON to read one number from state/plan.json and to write
 * state/watch.json with hostile file names in it, and the sd_notify
 * datagram. The notification protocol is one datagram of "KEY=value"
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

/* ---- JSON reading: skip values, find one top-level key ---- */

static const char *ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

/* p at '"': the byte after the closing quote, or NULL if unterminated. */
static const char *skip_str(const char *p)
{
	for (p++; *p; p++) {
		if (*p == '\\') {
			if (!*++p)
				return NULL;
		} else if (*p == '"') {
			return p + 1;
		}
	}
	return NULL;
}

/* p at a value: the byte after it, or NULL if the text ends inside it. */
static const char *skip_val(const char *p)
{
	int depth = 0;
	if (*p == '"')
		return skip_str(p);
	if (*p != '{' && *p != '[') {
		const char *s = p;
		while (*p && !strchr(",}] \t\r\n", *p))
			p++;
		return p == s ? NULL : p;
	}
	do {
		if (!*p)
			return NULL;
		if (*p == '"') {
			p = skip_str(p);
			if (!p)
				return NULL;
			continue;
		}
		if (*p == '{' || *p == '[')
			depth++;
		else if (*p == '}' || *p == ']')
			depth--;
		p++;
	} while (depth > 0);
	return p;
}

int watch_json_number(const char *js, const char *key, double *out)
{
	size_t klen = strlen(key);
	const char *p = ws(js);
	if (*p++ != '{')
		return -1;
	p = ws(p);
	if (*p == '}')
		return 0;
	for (;;) {
		const char *k = p + 1, *q;
		int match;
		if (*p != '"' || !(q = skip_str(p)))
			return -1;
		match = (size_t)(q - 1 - k) == klen && !memcmp(k, key, klen);
		p = ws(q);
		if (*p++ != ':')
			return -1;
		p = ws(p);
		if (match) {
			char *end;
			double v;
			if (!strncmp(p, "null", 4))
				return 0;
			if (!(*p == '-' || (*p >= '0' && *p <= '9')))
				return -1;
			v = strtod(p, &end);
			if (end == p || !isfinite(v))
				return -1;
			*out = v;
			return 1;
		}
		p = skip_val(p);
		if (!p)
			return -1;
		p = ws(p);
		if (*p == '}')
			return 0;
		if (*p++ != ',')
			return -1;
		p = ws(p);
	}
}

/* ---- JSON writing ---- */

void wbuf_add(struct wbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->n + n + 1 > b->cap) {
		size_t nc = b->cap ? b->cap : 1024;
		char *np;
		while (nc < b->n + n + 1)
			nc *= 2;
		np = realloc(b->p, nc);
		if (!np) {
			b->oom = 1;
			return;
		}
		b->p = np;
		b->cap = nc;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = 0;
}

void wbuf_printf(struct wbuf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;
	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->oom = 1;
		return;
	}
	if ((size_t)n < sizeof tmp) {
		wbuf_add(b, tmp, (size_t)n);
		return;
	}
	char *big = malloc((size_t)n + 1);
	if (!big) {
		b->oom = 1;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	wbuf_add(b, big, (size_t)n);
	free(big);
}

/* Length of the valid UTF-8 sequence at s (2..4), or 0. */
static int utf8_len(const unsigned char *s)
{
	unsigned c = s[0];
	int n;
	unsigned lo = 0x80, hi = 0xbf;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0;
		if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		if (c == 0xf0)
			lo = 0x90;
		if (c == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (int i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

void wbuf_json_str(struct wbuf *b, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	wbuf_add(b, "\"", 1);
	while (*s) {
		const unsigned char *run = s;
		while (*s >= 0x20 && *s < 0x7f && *s != '"' && *s != '\\')
			s++;
		wbuf_add(b, (const char *)run, (size_t)(s - run));
		if (!*s)
			break;
		if (*s == '"' || *s == '\\') {
			char e[2] = {'\\', (char)*s};
			wbuf_add(b, e, 2);
			s++;
		} else if (*s < 0x20 || *s == 0x7f) {
			wbuf_printf(b, "\\u%04x", *s);
			s++;
		} else {
			int n = utf8_len(s);
			if (n) {
				wbuf_add(b, (const char *)s, (size_t)n);
				s += n;
			} else {
				wbuf_add(b, "\\ufffd", 6);
				s++;
			}
		}
	}
	wbuf_add(b, "\"", 1);
}

void wbuf_free(struct wbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->n = b->cap = 0;
	b->oom = 0;
}

/* ---- sd_notify ---- */

static struct sockaddr_un notify_addr;
static socklen_t notify_len;
static int notify_fd = -1;

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
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
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

void watch_notify_close(void)
{
	if (notify_fd >= 0)
		close(notify_fd);
	notify_fd = -1;
}

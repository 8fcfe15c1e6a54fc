/*
 * plan_name.c: file names for the planner (contract in plan.h).
 *
 * The correlator's names are parsed by hand, character by character, and
 * converted to epoch seconds with integer date arithmetic: the planner runs
 * this on every name in incoming/ (over a million in a year-old
 * deployment), so it must not allocate, call timegm or touch the time zone.
 * Anything that is not exactly the strict pattern is rejected, which is
 * what makes a parsed name safe to write into a makefile.
 */
#include "engine/plan.h"
#include "core/ids.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int plain(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	    (ch && strchr("._,:+=@-", ch));
}

void plan_safe_name(const char *name, char *out)
{
	/* 214 + "~" + 16 hex digits + ".reason" + ".999" stays under NAME_MAX */
	enum { CUT = 214 };
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;
	int cut = 0;
	unsigned long long h = 1469598103934665603ULL; /* FNV-1a of the whole name */
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		int keep = plain(*p) && !(p == (const unsigned char *)name && *p == '.');
		h = (h ^ *p) * 1099511628211ULL;
		if (cut || n + (keep ? 1 : 3) > CUT) {
			cut = 1;
			continue;
		}
		if (keep) {
			out[n++] = (char)*p;
		} else {
			out[n++] = '%';
			out[n++] = hex[*p >> 4];
			out[n++] = hex[*p & 15];
		}
	}
	if (cut)
		n += (size_t)snprintf(out + n, 18, "~%016llx", h);
	if (n == 0)
		out[n++] = '%';
	out[n] = 0;
}

char *plan_escape(const char *name)
{
	size_t len = strlen(name);
	char *r = malloc(4 * len + 1), *o = r;
	if (!r)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		if (*p == '\\') {
			*o++ = '\\';
			*o++ = '\\';
		} else if (*p == '\n') {
			*o++ = '\\';
			*o++ = 'n';
		} else if (*p == '\t') {
			*o++ = '\\';
			*o++ = 't';
		} else if (*p < 0x20 || *p >= 0x7f) {
			o += sprintf(o, "\\x%02x", *p);
		} else {
			*o++ = (char)*p;
		}
	}
	*o = 0;
	return r;
}

int plan_path_safe(const char *path)
{
	if (!*path)
		return 0;
	for (const unsigned char *p = (const unsigned char *)path; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			(*p >= '0' && *p <= '9') || strchr("._/+,@=-", *p)))
			return 0;
	return 1;
}

int plan_rules_dir(char *buf)
{
	return stages_install_dir(buf);
}

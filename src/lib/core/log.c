/*
 * log.c: one-line, stamped diagnostics on stderr (contract in log.h).
 * Each line is written with a single write(2) so lines from concurrent jobs
 * sharing a log file never interleave mid-line. The message is escaped as
 * term.h says: it names files and targets that came from the file system,
 * and an operator reads logs with tail(1) on a terminal, so a hostile name
 * must neither act on the terminal nor forge a second line.
 */
#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "core/term.h"
#include "core/uvm.h"

static char prog[64] = "uvm";
static char group[64];
static int stamp;

void log_init(const char *argv0)
{
	const char *b = argv0 ? strrchr(argv0, '/') : NULL;
	const char *g = getenv("UVM_GROUP");
	snprintf(prog, sizeof prog, "%s", b ? b + 1 : (argv0 ? argv0 : "uvm"));
	stamp = getenv("UVM_LOG_TIME") && *getenv("UVM_LOG_TIME");
	log_set_group(g && *g ? g : NULL);
}

void log_set_group(const char *g)
{
	snprintf(group, sizeof group, "%s", g ? g : "");
}

const char *log_prog(void) { return prog; }
const char *log_group(void) { return group; }

void log_vmsg(const char *level, const char *fmt, va_list ap)
{
	char line[4096], msg[2048];
	int n = 0;
	if (stamp || group[0]) {
		struct timeval tv;
		struct tm tm;
		gettimeofday(&tv, NULL);
		gmtime_r(&tv.tv_sec, &tm);
		n += (int)strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
		n += snprintf(line + n, sizeof line - (size_t)n, ".%03dZ %s%s%s%s: ",
		    (int)(tv.tv_usec / 1000), prog, group[0] ? "[" : "", group,
		    group[0] ? "]" : "");
	} else {
		n += snprintf(line, sizeof line, "%s: ", prog);
	}
	if (level && *level)
		n += snprintf(line + n, sizeof line - (size_t)n, "%s: ", level);
	if (n > (int)sizeof line - 2)
		n = (int)sizeof line - 2;
	vsnprintf(msg, sizeof msg, fmt, ap);
	term_escape(msg, line + n, sizeof line - 1 - (size_t)n);
	n += (int)strlen(line + n);
	line[n++] = '\n';
	if (write(2, line, (size_t)n) < 0) {
		/* nowhere left to report it */
	}
}

#define LOGFN(name, level)                         \
	void name(const char *fmt, ...)            \
	{                                          \
		va_list ap;                        \
		va_start(ap, fmt);                 \
		log_vmsg(level, fmt, ap);          \
		va_end(ap);                        \
	}
LOGFN(log_err, "")
LOGFN(log_warn, "warning")
LOGFN(log_info, "info")

void log_debug(const char *fmt, ...)
{
	const char *d = getenv("UVM_DEBUG");
	va_list ap;
	if (!d || !*d || *d == '0')
		return;
	va_start(ap, fmt);
	log_vmsg("debug", fmt, ap);
	va_end(ap);
}

int log_usage(const char *usage)
{
	fprintf(stderr, "usage: %s\n", usage);
	return EX_USAGE;
}

const char *uvm_exit_name(int s)
{
	switch (s) {
	case 0: return "ok";
	case EX_USAGE: return "usage";
	case EX_DATAERR: return "dataerr";
	case EX_NOINPUT: return "noinput";
	case EX_UNAVAILABLE: return "unavailable";
	case EX_SOFTWARE: return "software";
	case EX_CANTCREAT: return "cantcreat";
	case EX_IOERR: return "ioerr";
	case EX_TEMPFAIL: return "tempfail";
	case UVM_EX_BUSY: return "busy";
	case UVM_EX_OVERFLAGGED: return "overflagged";
	default: return "other";
	}
}

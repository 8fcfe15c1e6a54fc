/*
 * log.h: one-line diagnostics stamped with program, group and time.
 *
 * Every line goes to stderr as
 *     uvm-x: message                         (interactive use)
 *     2026-11-23T11:40:00.123Z uvm-x[G]: message
 * the second form when a group is set (log_set_group or $UVM_GROUP) or
 * $UVM_LOG_TIME is set, which the recipe wrapper does, so that one grep for a
 * group id follows it through every job log. Messages are lowercase, no full
 * stop, subject quoted: "cannot open 'path': reason" (CONVENTIONS.md 4).
 */
#ifndef UVM_LOG_H
#define UVM_LOG_H

#include <stdarg.h>

/* Set the program name (basename of argv0) and read $UVM_GROUP/$UVM_LOG_TIME. */
void log_init(const char *argv0);
/* Set the group id carried by every following line; NULL clears it. */
void log_set_group(const char *group);
const char *log_prog(void);
const char *log_group(void);

void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Quiet by default; $UVM_DEBUG=1 enables. */
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_vmsg(const char *level, const char *fmt, va_list ap);

/* Print "usage: ..." to stderr and return EX_USAGE, for `return usage(U);`. */
int log_usage(const char *usage);

#endif
